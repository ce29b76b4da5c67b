#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The longer power-loss campaign: hundreds of crash points per cut mode for
seedd (the points of the suite, the reordering ones repeated with new random
prefixes, and more random moments), beside the same model applied to Mbed
TLS's own default NV seed file handling (nvseed-ref.c: fopen/fwrite, no
fsync) as the reference. Prints the table the README shows and writes JSON.

    tests/powerloss/campaign.py BUILDDIR [--rounds N] [--serving N] [--json FILE]

BUILDDIR is a meson build dir (its seedd and seedctl are used); the
reference is linked with the Mbed TLS 3.6 that tests/interop/build-mbedtls.sh
makes there (fetched from Debian's source packages on the first run). Needs
root, /dev/fuse and python3-fusepy. Not a test: the exit status is 1 only
when seedd broke an invariant (the reference is expected to).

--rounds N   reordering cuts of every operation point (default 10; strict
             cuts are deterministic, so they run once, and the reference's
             reordering points N x 10, for as many points as seedd's)
--serving N  random moments per mode (default 40)
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "lib")]


def build_reference(builddir):
    prefix = os.path.join(builddir, "interop", "prefix-3.6-opt3")
    if not os.path.exists(os.path.join(prefix, "lib", "libmbedcrypto.a")):
        subprocess.run([os.path.join(HERE, "..", "interop", "build-mbedtls.sh"), "--prefix-only",
                        builddir], check=True)
    out = os.path.join(builddir, "tests", "powerloss", "nvseed-ref")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run([os.environ.get("CC", "cc"), "-O2", "-o", out, os.path.join(HERE, "nvseed-ref.c"),
                    "-I", os.path.join(prefix, "include"),
                    os.path.join(prefix, "lib", "libmbedcrypto.a")], check=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("builddir")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--serving", type=int, default=40)
    ap.add_argument("--json")
    a = ap.parse_args()
    builddir = os.path.abspath(a.builddir)
    os.environ.setdefault("SEEDD", os.path.join(builddir, "daemon", "seedd"))
    os.environ.setdefault("SEEDCTL", os.path.join(builddir, "client", "seedctl"))
    import powerlib
    powerlib.private_mounts()
    from seeddtest import TempDir
    from crashpoints import PROVISION, World, RefWorld

    ref = build_reference(builddir)
    tmp = TempDir(prefix="seedd-campaign-")
    rows, bad = [], []
    t0 = time.monotonic()
    try:
        for mode in ("strict", "reorder"):
            rounds = 1 if mode == "strict" else a.rounds
            w = World(tmp / ("seedd-" + mode), mode, seed=3)
            try:
                w.dry_runs()
                for phase in ("startup", "periodic", "final"):
                    for _ in range(rounds):
                        for k in range(1, len(w.ops[phase]) + 1):
                            w.point(phase, k)
                for i in range(a.serving):
                    w.serving_point(i + 1)
                for kind in PROVISION:
                    w.provision_dry_run(kind)
                    for _ in range(rounds):
                        for k in range(1, len(w.ops[kind]) + 2):
                            w.provision_point(kind, k)
            finally:
                w.close()
            rows += table_rows("seedd", w)
            bad += w.violations
            r = RefWorld(tmp / ("ref-" + mode), mode, ref, seed=4)
            try:
                r.dry_run()
                for _ in range(1 if mode == "strict" else 10 * a.rounds):
                    for k in range(1, len(r.ops["startup"]) + 2):
                        r.point(k)
            finally:
                r.close()
            rows += table_rows("Mbed TLS default", r)
    finally:
        tmp.cleanup()
    print_table(rows)
    print("%d points in %.0f s (--rounds %d, --serving %d)"
          % (sum(r["points"] for r in rows), time.monotonic() - t0, a.rounds, a.serving))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    for v in bad[:20]:
        print("seedd violation: %s" % v)
    return 1 if bad else 0


RUNS = ("points", "served", "refused", "repeated output", "invalid seed file",
        "crash, hang or unexplained exit")
FILES = ("points", "complete", "old", "absent", "invalid seed file", "served", "refused")


def table_rows(system, w):
    return [dict(row, system=system, mode=w.mode, phase=phase) for phase, row in w.outcome.items()]


def print_table(rows):
    """Two tables: runs of seedd and of the reference, then provisioning."""
    runs = [r for r in rows if not r["phase"].startswith("provision")]
    files = [r for r in rows if r["phase"].startswith("provision")]
    for head, cols, group in ((("system", "mode", "phase"), RUNS, runs),
                              (("mode", "command"), FILES, files)):
        print("| " + " | ".join(head + cols) + " |")
        print("|" + "|".join(["---"] * len(head) + ["---:"] * len(cols)) + "|")
        for r in group:
            names = (r["system"], r["mode"], r["phase"]) if len(head) == 3 else \
                (r["mode"], "`seedctl %s`" % r["phase"])
            print("| " + " | ".join(list(names) + [str(r.get(c, 0)) for c in cols]) + " |")
        print()


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
