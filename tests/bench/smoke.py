#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The benchmark, tiny: every case runs and measures something (suite bench).

  smoke.py RUN-BENCH [ARGS OF RUN-BENCH]...

Runs run-bench.py with the arguments meson gives `ninja bench`, sizes cut down
so that it takes seconds, and checks what it wrote: every case and every row
is there with real numbers, no call failed, every target was evaluated. It
does not judge a number: a timed test on a shared machine would flake, and
the benchmark's targets are reported, never enforced.
"""
import json
import os
import subprocess
import sys
import tempfile

KNOBS = {
    "SEEDD_BENCH_SECONDS": "0.2",
    "SEEDD_BENCH_WARMUP": "0.05",
    "SEEDD_BENCH_PROCS": "1,4",
    "SEEDD_BENCH_REPEAT": "1",
    "SEEDD_BENCH_RUNS": "20",
    "SEEDD_BENCH_STORM": "40",
    "SEEDD_BENCH_CROWD": "40",
    "SEEDD_BENCH_IDLE": "30",
}

problems = []


def expect(cond, what):
    if not cond:
        problems.append(what)


def positive(row, *keys):
    return all(isinstance(row.get(k), (int, float)) and row[k] > 0 for k in keys)


def main():
    with tempfile.TemporaryDirectory(prefix="seedd-bench-smoke-") as tmp:
        out = os.path.join(tmp, "results.json")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEEDD_BENCH_")}
        env.update(KNOBS, SEEDD_BENCH_DIR=tmp)
        p = subprocess.run([sys.executable] + sys.argv[1:] + ["--out", out], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=600)
        print(p.stdout)
        if p.returncode != 0:
            print(f"FAIL: run-bench.py exited {p.returncode}")
            return 1
        with open(out) as f:
            res = json.load(f)
        # The traced starts' strace logs are kept beside the JSON, on purpose.
        leftovers = [n for n in os.listdir(tmp)
                     if n != "results.json" and not n.endswith(".strace")]

    expect(res["errors"] == [], f"errors: {res['errors']}")
    expect(leftovers == [], f"temp files left behind: {leftovers}")
    cells = {(c["procs"], c["label"]): c for c in res.get("cells", [])}
    for procs in (1, 4):
        for label in ("seedd", "locked file + fsync", "getrandom(2)"):
            c = cells.get((procs, label))
            # Every process of the cell made calls in its window (which grows
            # on a busy machine until each has, up to a bound).
            expect(c and c["errors"] == 0 and c["fewest_calls"] > 0 and
                   positive(c, "per_s", "p50_us", "p99_us", "seconds"),
                   f"table {procs} x {label}: {c}")
    fresh = {f["label"]: f for f in res.get("fresh", [])}
    for label in ("seedd", "minimal server", "getrandom(2)"):
        f = fresh.get(label)
        expect(f and f["errors"] == 0 and f["runs"] == 20 and positive(f, "p50_us"),
               f"fresh {label}: {f}")
    for label in ("seedd", "minimal server"):
        expect("overhead_p50_us" in fresh.get(label, {}), f"fresh {label}: no overhead")
    # The option-1 rows, where seedfs can mount; else the reason it could not.
    if "seedfs, option 1" in fresh:
        for label in ("seedfs, option 1", "file, option 1"):
            f = fresh.get(label)
            expect(f and f["errors"] == 0 and f["runs"] == 20 and positive(f, "p50_us"),
                   f"fresh {label}: {f}")
        expect("over_libseedclient_p50_us" in fresh["seedfs, option 1"],
               "fresh seedfs: no comparison with libseedclient")
    else:
        expect(any(s.startswith("fresh through seedfs: ") for s in res.get("skipped", [])),
               f"fresh: no seedfs rows and no reason: {res.get('skipped')}")
    storm = {s["label"]: s for s in res.get("storm", [])}
    for label in ("seedd", "getrandom(2)"):
        s = storm.get(label)
        expect(s and s["procs"] == 40 and s["failed"] == 0, f"storm {label}: {s}")
    expect(positive(storm.get("seedd", {}), "ready_ms", "drain_ms"), "storm: no READY or drain")
    crowd = {c["label"]: c for c in res.get("crowd", [])}
    c = crowd.get("seedd")
    expect(c and c["failed"] == 0 and c.get("distinct") == 40, f"crowd: {c}")
    idle = {i["label"]: i for i in res.get("idle", [])}
    expect(positive(idle.get("seedd", {}), "idle_kib", "conns_30_kib"), f"idle: {idle}")
    start = {s["label"]: s for s in res.get("start") or []}
    if os.geteuid() == 0:
        expect(positive(start.get("seedd", {}), "ready_ms", "fsyncs", "update_ms"),
               f"start: {start}")
    else:
        expect(res.get("start") is None and any(s.startswith("start: needs root")
                                                for s in res.get("skipped", [])),
               f"start without root: {res.get('start')} {res.get('skipped')}")
    unmeasured = [t["target"] for t in res["targets"]
                  if t["met"] is None and "baseline" not in t["target"]]
    expect(unmeasured == [], f"targets not measured: {unmeasured}")

    for p in problems:
        print(f"FAIL: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
