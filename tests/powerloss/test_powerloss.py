#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Power loss at every crash point of every save, on forgetfs (crashpoints.py
says what a point is and what must hold), in both cut modes; and the
control: the same check must fail for a seedd whose directory fsyncs do
nothing (the LD_PRELOAD shim nofsyncdir.so)."""

import collections
import json
import os
import subprocess
import sys

import seeddtest
from seeddtest import check
from crashpoints import PROVISION, RIGHT_REFUSALS, World
import powerlib

NOFSYNCDIR = os.environ.get("NOFSYNCDIR", "")
# Random moments per mode in the suite; campaign.py takes more.
SERVING_POINTS = int(os.environ.get("SEEDD_POWERLOSS_SERVING", "4"))


def report(w, phases):
    for phase in phases:
        row = w.outcome.get(phase, {})
        print("%-8s %-18s %s" % (w.mode, phase, ", ".join("%s %d" % kv for kv in sorted(row.items()))))
    for msg, n in sorted(collections.Counter(why for _, why in w.refusals).items()):
        print("%-8s %d refusals, seed file %s: right, as %s"
              % (w.mode, n, msg, RIGHT_REFUSALS[msg]))


def run_phases(tmp, phases, modes=("strict", "reorder"), env=None):
    worlds = []
    for mode in modes:
        w = World(os.path.join(tmp.path, mode), mode, seed=1, env=env)
        worlds.append(w)
        try:
            w.dry_runs()
            for phase in phases:
                if phase == "serving":
                    for i in range(SERVING_POINTS):
                        w.serving_point(i + 1)
                else:
                    for k in range(1, len(w.ops[phase]) + 1):
                        w.point(phase, k)
            report(w, phases)
        finally:
            w.close()
    return worlds


def expect_holds(worlds):
    bad = [v for w in worlds for v in w.violations]
    check(not bad, "%d violations:\n%s" % (len(bad), "\n".join(bad)))


def test_startup(tmp):
    """A cut before each operation of the start-up update."""
    expect_holds(run_phases(tmp, ["startup"]))


def test_saves(tmp):
    """A cut before each operation of a periodic save (--save-interval 1) and of
    the final save at SIGTERM."""
    expect_holds(run_phases(tmp, ["periodic", "final"]))


def test_serving(tmp):
    """Cuts at random moments while seedd serves and saves every second."""
    expect_holds(run_phases(tmp, ["serving"]))


def test_provision(tmp):
    """seedctl provision (single, --force, --stdin, --count 3) cut before each of
    its operations: each file is absent, or complete and valid."""
    worlds = []
    for mode in ("strict", "reorder"):
        w = World(os.path.join(tmp.path, mode), mode, seed=2)
        worlds.append(w)
        try:
            for kind in PROVISION:
                for k in range(1, len(w.provision_dry_run(kind)) + 2):
                    w.provision_point(kind, k)
            report(w, PROVISION)
        finally:
            w.close()
    expect_holds(worlds)


def test_control(tmp):
    """The check can fail: seedd with directory fsyncs turned into no-ops (an
    LD_PRELOAD shim) must show violations in strict mode, at start-up and in
    saves, where the restart reuses a seed whose replacement was forgotten."""
    check(os.path.exists(NOFSYNCDIR), "NOFSYNCDIR not built: %r" % NOFSYNCDIR)
    worlds = run_phases(tmp, ["startup", "final"], modes=("strict",),
                        env={"LD_PRELOAD": NOFSYNCDIR})
    bad = worlds[0].violations
    for v in bad[:5]:
        print("caught: %s" % v)
    check(bad, "no violation with directory fsyncs turned off: the check cannot fail")
    print("%d violations with directory fsyncs turned off" % len(bad))


def test_campaign_smoke(tmp):
    """campaign.py at its smallest, so that the README's table stays reproducible:
    seedd keeps every invariant, and the reference (Mbed TLS's default NV seed
    handling) repeats its output after a strict cut, as it does."""
    out = os.path.join(tmp.path, "campaign.json")
    r = subprocess.run([sys.executable, os.path.join(powerlib.HERE, "campaign.py"),
                        os.environ["BUILD_ROOT"], "--rounds", "1", "--serving", "1", "--json", out],
                       capture_output=True, text=True, timeout=1200)
    print(r.stdout[-3000:], r.stderr[-3000:])
    check(r.returncode == 0, "campaign.py exited %d" % r.returncode)
    with open(out) as f:
        rows = json.load(f)
    bad = ["repeated output", "invalid seed file", "crash, hang or unexplained exit"]
    check(all(r.get(c, 0) == 0 for r in rows if r["system"] == "seedd" for c in bad), rows)
    ref = [r for r in rows if r["system"] != "seedd" and r["mode"] == "strict"]
    check(ref and ref[0].get("repeated output", 0) > 0, "the reference did not repeat: %s" % ref)


if __name__ == "__main__":
    powerlib.private_mounts()
    seeddtest.main(globals())
