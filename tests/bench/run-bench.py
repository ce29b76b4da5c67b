#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark seedd against a locked shared seed file and getrandom(2).

Starts its own seedd on a private temp dir, runs seedd-bench once per cell
(method x process count), times fresh processes that fetch one seed, prints a
table and writes JSON. Targets are reported, never enforced: the exit status
is non-zero only when something broke (a failed call, a daemon that died).

Environment knobs (run_target takes no arguments):
  SEEDD_BENCH_SECONDS  measured seconds per cell (default 3)
  SEEDD_BENCH_WARMUP   unmeasured warm-up seconds per cell (default 0.5)
  SEEDD_BENCH_PROCS    process counts, comma-separated (default 1,8,64)
  SEEDD_BENCH_RUNS     fresh-process runs (default 200)
  SEEDD_BENCH_DIR      where the temp dir goes (default: beside the JSON, so
                       the locked file's fsync hits a real disk, not tmpfs)
"""
import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

METHODS = [
    ("client", "seedd (libseedclient)"),
    ("file", "locked file + fsync"),
    ("getrandom", "getrandom(2)"),
]


def env_num(name, default, kind=float):
    v = os.environ.get(name)
    if not v:
        return default
    try:
        return kind(v)
    except ValueError:
        sys.exit(f"run-bench: {name}={v!r} is not a number")


def fs_type(path):
    """Filesystem type of the mount holding path, from /proc/self/mounts."""
    path = os.path.realpath(path)
    best, kind = "", "unknown"
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                fields = line.split()
                mnt = fields[1].replace("\\040", " ")
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                    best, kind = mnt, fields[2]
    except OSError:
        pass
    return kind


def proc_cpu_s(pid):
    """User + system CPU seconds a live process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_socket(path, daemon, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            return False
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(path)
            return True
        except OSError:
            time.sleep(0.02)
        finally:
            s.close()
    return False


def run_json(cmd, env, timeout):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    try:
        res = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        sys.exit(f"run-bench: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    res["exit_status"] = p.returncode
    if p.stderr.strip():
        res["stderr"] = p.stderr.strip()
    return res


def targets(cells, n1=1, n8=8, n64=64):
    def cell(method, procs):
        return next((c for c in cells if c["mode"] == method and c["procs"] == procs), None)

    out = []

    def check(name, c, value, op, limit, unit):
        if c is None:
            return
        ok = value <= limit if op == "<=" else value >= limit
        out.append({"target": name, "value": round(value, 3), "limit": limit, "op": op,
                    "unit": unit, "met": ok})

    c1, c8, c64 = cell("client", n1), cell("client", n8), cell("client", n64)
    f8 = cell("file", n8)
    if c1:
        check("1 client p50", c1, c1["p50_us"], "<=", 60, "us")
        check("1 client p99", c1, c1["p99_us"], "<=", 150, "us")
    if c8:
        check("8 clients seeds/s", c8, c8["per_s"], ">=", 130000, "/s")
        check("8 clients p99", c8, c8["p99_us"], "<=", 200, "us")
    if c64:
        check("64 clients p99", c64, c64["p99_us"], "<=", 1000, "us")
        check("64 clients max", c64, c64["max_us"], "<=", 5000, "us")
    if c8 and f8:
        ratio = c8["per_s"] / f8["per_s"] if f8["per_s"] else float("inf")
        check("8 clients vs locked file", c8, ratio, ">=", 10, "x")
    return out


def fmt_table(res):
    cfg = res["config"]
    lines = [
        f"seedd bench: {cfg['seconds']:g} s per cell after {cfg['warmup_s']:g} s warm-up, "
        f"{cfg['bytes']}-byte reads, {res['machine']['cpus']} CPUs, "
        f"temp dir on {res['machine']['tmp_fs']}, load average "
        f"{res['machine']['loadavg_1min_before']:.2f} before / "
        f"{res['machine']['loadavg_1min_after']:.2f} after",
        "",
        f"{'procs':>5}  {'method':<22} {'seeds/s':>11} {'p50 us':>9} {'p99 us':>9} "
        f"{'p99.9 us':>9} {'max us':>10} {'errors':>6} {'seedd cpu':>9}",
    ]
    for c in res["cells"]:
        cpu = f"{c['seedd_cpu_pct']:.0f}%" if c.get("seedd_cpu_pct") is not None else ""
        lines.append(
            f"{c['procs']:>5}  {c['label']:<22} {c['per_s']:>11,.0f} {c['p50_us']:>9.1f} "
            f"{c['p99_us']:>9.1f} {c['p999_us']:>9.1f} {c['max_us']:>10.1f} "
            f"{c['errors']:>6} {cpu:>9}")
    lines += ["", f"fresh process, fork + exec + one 64-byte read + exit "
              f"({cfg['runs']} runs):",
              f"       {'program':<29} {'p50 us':>9} {'p99 us':>9} {'max us':>10} {'errors':>6}"]
    for s in res["spawn"]:
        lines.append(f"       {s['label']:<29} {s['p50_us']:>9.1f} {s['p99_us']:>9.1f} "
                     f"{s['max_us']:>10.1f} {s['errors']:>6}")
    if res["targets"]:
        lines += ["", "targets:"]
        for t in res["targets"]:
            lines.append(f"  [{'met ' if t['met'] else 'MISS'}] {t['target']} {t['op']} "
                         f"{t['limit']:,} {t['unit']}: {t['value']:,}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seedd", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--once", required=True)
    ap.add_argument("--out", required=True, help="JSON results file")
    args = ap.parse_args()

    seconds = env_num("SEEDD_BENCH_SECONDS", 3.0)
    warmup = env_num("SEEDD_BENCH_WARMUP", 0.5)
    runs = env_num("SEEDD_BENCH_RUNS", 200, int)
    try:
        procs = [int(p) for p in os.environ.get("SEEDD_BENCH_PROCS", "1,8,64").split(",")]
    except ValueError:
        sys.exit("run-bench: SEEDD_BENCH_PROCS must be comma-separated numbers")
    nbytes = 64

    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    base = os.environ.get("SEEDD_BENCH_DIR") or os.path.dirname(out)
    tmp = tempfile.mkdtemp(prefix="seedd-bench-", dir=base)  # mode 0700
    seed_file = os.path.join(tmp, "seedfile")
    sock = os.path.join(tmp, "seedd.sock")
    shared_file = os.path.join(tmp, "shared-seedfile")
    fd = os.open(shared_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, os.urandom(nbytes))
    os.fsync(fd)
    os.close(fd)

    env = dict(os.environ, SEEDD_SOCKET=sock)
    # Other work on the machine skews every cell; the getrandom rows show how much.
    load_before = os.getloadavg()[0]
    log = open(os.path.join(tmp, "seedd.log"), "w+")
    daemon = subprocess.Popen([args.seedd, "--seed-file", seed_file, "--socket", sock],
                              stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    broken = False
    cells, spawn = [], []
    try:
        if not wait_for_socket(sock, daemon):
            log.seek(0)
            sys.exit(f"run-bench: seedd did not start:\n{log.read()}")
        cell_timeout = seconds + warmup + 120
        for n in procs:
            for method, label in METHODS:
                cmd = [args.bench, method, "--procs", str(n), "--seconds", str(seconds),
                       "--warmup", str(warmup), "--bytes", str(nbytes)]
                if method == "file":
                    cmd += ["--file", shared_file]
                cpu0, t0 = proc_cpu_s(daemon.pid), time.monotonic()
                c = run_json(cmd, env, cell_timeout)
                wall = time.monotonic() - t0
                c["label"] = label
                c["seedd_cpu_pct"] = (100 * (proc_cpu_s(daemon.pid) - cpu0) / wall
                                      if method == "client" else None)
                cells.append(c)
                broken |= c["exit_status"] != 0
                print(f"  {n:>3} x {label:<22} {c['per_s']:>11,.0f}/s", flush=True)
        for arg, label in (("seed", "seedclient_nv_seed_read"), ("getrandom", "getrandom(2)")):
            s = run_json([args.bench, "spawn", "--runs", str(runs), args.once, arg], env,
                         runs * 5 + 60)
            s["label"] = label
            spawn.append(s)
            broken |= s["exit_status"] != 0
        if daemon.poll() is not None:
            broken = True
            print("run-bench: seedd died during the run", file=sys.stderr)
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                rc = daemon.wait(timeout=10)
            except subprocess.TimeoutExpired:
                daemon.kill()
                rc = daemon.wait()
            if rc != 0:
                broken = True
                print(f"run-bench: seedd exited {rc} on SIGTERM", file=sys.stderr)
        log.seek(0)
        daemon_log = log.read()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)

    res = {
        "machine": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "tmp_fs": fs_type(base),
            "loadavg_1min_before": load_before,
            "loadavg_1min_after": os.getloadavg()[0],
        },
        "config": {"seconds": seconds, "warmup_s": warmup, "procs": procs, "runs": runs,
                   "bytes": nbytes},
        "time_unix": int(time.time()),
        "cells": cells,
        "spawn": spawn,
        "targets": targets(cells),
    }
    if broken:
        res["seedd_log"] = daemon_log
    tmp_out = out + ".tmp"
    with open(tmp_out, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    os.replace(tmp_out, out)

    print()
    print(fmt_table(res))
    print(f"\nJSON: {out}")
    if broken:
        print("run-bench: errors during the run (see JSON)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
