#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark seedd against a locked shared seed file and getrandom(2).

Every case starts its own seedd on a private temp dir and measures every
baseline in the same run:

  table   1/8/64 client processes calling seedclient_nv_seed_read in a loop,
          against open + flock + read + write + fsync of one shared file and
          against getrandom(2) (seedd-bench)
  fresh   fork + exec + first seed + exit of a fresh process, against the same
          program using getrandom(2), run by run in turn; and the first
          seedclient_nv_seed_read alone, timed inside the process. A third
          program reads from seedd-bench-floor, a server that does nothing but
          answer: the floor of one connection and round trip on this machine.
          With --seedfs, the same program reads its seed as Mbed TLS's NV
          seed option 1 does (stdio on a seed file) through seedfs, on the
          same seedd, and from a plain file (no daemon): what an option-1
          binary pays for seedfs, beside libseedclient
  storm   1,000 processes queued on a socket this script listens on, as
          systemd's socket activation does, before seedd starts with
          LISTEN_FDS=1: time until the last has its seed, against the same
          1,000 processes using getrandom(2)
  start   one start of seedd under strace (a separate run: tracing slows it
          down), for the durable seed update inside exec -> READY
  crowd   2,000 live processes each fetching one seed: time, failures,
          distinct values, memory
  idle    seedd's VmRSS idle and with 1,000 and 10,000 idle connections

It prints a table and writes JSON. Targets are reported, never enforced: the
exit status is non-zero only when something broke (a failed call where none
may fail, a daemon that died or did not exit 0).

Environment knobs (run_target takes no arguments):
  SEEDD_BENCH_CASES      cases to run, comma-separated (default: all of the above)
  SEEDD_BENCH_SECONDS    measured seconds per table cell (default 3)
  SEEDD_BENCH_MIN_CALLS  calls every process of a table cell makes in its window:
                         the window grows until they have, up to ten times its
                         length, at least 10 s (default 10)
  SEEDD_BENCH_WARMUP     unmeasured warm-up seconds per cell (default 0.5)
  SEEDD_BENCH_PROCS      table process counts (default 1,8,64)
  SEEDD_BENCH_REPEAT     runs of every table cell and storm; medians reported (default 3)
  SEEDD_BENCH_RUNS       fresh-process runs per program (default 500)
  SEEDD_BENCH_STORM      storm processes (default 1000)
  SEEDD_BENCH_CROWD      crowd processes (default 2000)
  SEEDD_BENCH_IDLE       idle connection counts (default 1000,10000)
  SEEDD_BENCH_BASELINE_SEEDD, SEEDD_BENCH_BASELINE_LIB
                         an older build measured side by side (as --baseline-seedd
                         and --baseline-lib; see build-baseline.sh)
  SEEDD_BENCH_DIR        where the temp dirs go (default: beside the JSON, so
                         the fsyncs hit a real disk, not tmpfs)
"""
import argparse
import errno
import json
import os
import platform
import select
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import (BenchError, Build, Daemon, assignments, env_list, env_num, fs_type,
                      parse_strace, provision, run_json, vm_rss_kib)
from seeddtest import median, pct, proc_cpu_s, wait_for_text

CASES = ["table", "fresh", "storm", "start", "crowd", "idle"]
BYTES = 64
STORM_TIMEOUT_MS = 60000  # the storm's clients wait for a daemon that is not there yet


def us(ns):
    return None if ns is None else ns / 1e3


def ms(ns):
    return None if ns is None else ns / 1e6


def label_of(build):
    return "seedd" if build.name == "current" else "seedd baseline"


# ---------------------------------------------------------------- table

def case_table(ctx):
    cfg = ctx.cfg
    daemons = ctx.load_daemons()
    runs = {}  # (label, procs) -> [cell, ...]
    for r in range(cfg["repeat"]):
        for n in cfg["procs"]:
            variants = [("client", b) for b in ctx.builds] + [("file", None), ("getrandom", None)]
            for method, build in variants:
                cmd = [ctx.tools.bench, method, "--procs", str(n), "--seconds",
                       str(cfg["seconds"]), "--max-seconds", str(cfg["max_s"]), "--min-calls",
                       str(cfg["min_calls"]), "--warmup", str(cfg["warmup_s"]), "--bytes",
                       str(BYTES)]
                if method == "file":
                    cmd += ["--file", ctx.shared_file]
                d = daemons[build.name] if build else None
                env = build.client_env(d.sock) if build else dict(os.environ)
                cpu0, t0 = (proc_cpu_s(d.pid) if d else 0), time.monotonic()
                c = run_json(cmd, env, cfg["max_s"] + cfg["warmup_s"] + 120)
                wall = time.monotonic() - t0
                c["seedd_cpu_pct"] = 100 * (proc_cpu_s(d.pid) - cpu0) / wall if d else None
                c["label"] = {"client": label_of(build) if build else "",
                              "file": "locked file + fsync",
                              "getrandom": "getrandom(2)"}[method]
                c["build"] = build.name if build else None
                if c["exit_status"] != 0 or c["errors"]:
                    ctx.broken(f"{c['label']} x {n}: {c['errors']} errors, exit {c['exit_status']}")
                runs.setdefault((c["label"], n), []).append(c)
                # A window that had to grow: the machine is busy, say so.
                grew = (f" in {c['seconds']:.2f} s, fewest calls of a process "
                        f"{c['fewest_calls']}" if c["seconds"] > cfg["seconds"] * 1.5 else "")
                print(f"  run {r + 1}/{cfg['repeat']}: {n:>3} x {c['label']:<20} "
                      f"{c['per_s']:>11,.0f}/s{grew}", flush=True)
            for d in daemons.values():
                if not d.alive():
                    raise BenchError(f"{d.build.name} seedd died during the table:\n"
                                     f"{d.log()}")
    cells = []
    for (label, n), rs in runs.items():
        cell = {"label": label, "procs": n, "mode": rs[0]["mode"], "build": rs[0]["build"],
                "repeats": len(rs)}
        for k in ("per_s", "mean_us", "p50_us", "p90_us", "p99_us", "p999_us", "max_us",
                  "seedd_cpu_pct", "seconds"):
            cell[k] = median([x.get(k) for x in rs])
        cell["errors"] = sum(x["errors"] for x in rs)
        cell["fewest_calls"] = min(x["fewest_calls"] for x in rs)
        cell["short_procs"] = max(x["short_procs"] for x in rs)
        cell["runs"] = [{k: x[k] for k in ("per_s", "p50_us", "p99_us", "max_us", "errors",
                                           "seconds", "fewest_calls", "short_procs")}
                        for x in rs]
        cells.append(cell)
    ctx.res["cells"] = cells


# ---------------------------------------------------------------- fresh

def floor_server(ctx):
    """seedd-bench-floor on the temp dir, listening; it exits when its stdin closes."""
    sock = os.path.join(ctx.tmp, "floor.sock")
    p = subprocess.Popen([ctx.tools.floor, "--socket", sock], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "listening":
        p.kill()
        p.wait()
        raise BenchError("seedd-bench-floor did not start")
    return p, sock


def seedfs_mount(ctx, sock):
    """seedfs on the current seedd, mounted in the temp dir: (process, mountpoint), or
    None (and why, in "skipped") where it cannot run."""
    def skip(why):
        ctx.res.setdefault("skipped", []).append("fresh through seedfs: " + why)

    if not ctx.tools.seedfs:
        return skip("seedfs is not built (libfuse3)")
    if not os.path.exists("/dev/fuse"):
        return skip("no /dev/fuse")
    mnt = os.path.join(ctx.tmp, "seedfs")
    os.makedirs(mnt)
    log = os.path.join(ctx.tmp, "seedfs.log")
    with open(log, "w") as f:
        p = subprocess.Popen([ctx.tools.seedfs, "--socket", sock, mnt], stdin=subprocess.DEVNULL,
                             stdout=f, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not os.path.ismount(mnt):
        if p.poll() is not None or time.monotonic() > deadline:
            seedfs_unmount(ctx, p, mnt)
            with open(log) as f:
                return skip("seedfs did not mount (%s)" % f.read().strip()[-200:])
        time.sleep(0.01)
    return p, mnt


def seedfs_unmount(ctx, p, mnt):
    if p.poll() is None:
        p.terminate()
        if p.wait(timeout=30) != 0:
            ctx.broken(f"seedfs exited {p.returncode}")
    if os.path.ismount(mnt):
        subprocess.run(["umount", "--lazy", mnt], capture_output=True)


def case_fresh(ctx):
    daemons = ctx.load_daemons()
    once = ctx.tools.once
    floor, floor_sock = floor_server(ctx)
    cmd, labels = [ctx.tools.spawn, "fresh", "--runs", str(ctx.cfg["runs"])], []
    for b in ctx.builds:
        cmd += assignments(b.client_vars(daemons[b.name].sock)) + [once, "seed", "::"]
        labels.append((label_of(b), b.name))
    cmd += assignments(ctx.build("current").client_vars(floor_sock)) + [once, "seed", "::"]
    labels.append(("minimal server", "floor"))
    seedfs = seedfs_mount(ctx, daemons["current"].sock)
    if seedfs:
        cmd += [once, "file", os.path.join(seedfs[1], "seedfile"), "::",
                once, "file", ctx.shared_file, "::"]
        labels += [("seedfs, option 1", "seedfs"), ("file, option 1", "file")]
    cmd += [once, "getrandom"]
    labels.append(("getrandom(2)", None))
    try:
        r = run_json(cmd, timeout=ctx.cfg["runs"] * len(labels) * 0.1 + 120)
    finally:
        floor.stdin.close()
        if floor.wait(timeout=10) != 0:
            ctx.broken(f"seedd-bench-floor exited {floor.returncode}")
        if seedfs:
            seedfs_unmount(ctx, *seedfs)
    out = []
    for (label, build), p in zip(labels, r["programs"]):
        t, rd, mn = p["total_ns"], p["read_ns"], p["main_ns"]
        out.append({"label": label, "build": build, "runs": len(t), "errors": p["errors"],
                    "p50_us": us(pct(t, 50)), "p99_us": us(pct(t, 99)), "max_us": us(pct(t, 100)),
                    "to_main_p50_us": us(pct(mn, 50)),
                    "first_read_p50_us": us(pct(rd, 50)), "first_read_p99_us": us(pct(rd, 99))})
        if p["errors"]:
            ctx.broken(f"fresh process {label}: {p['errors']} of {ctx.cfg['runs']} runs failed")
    base = out[-1]
    for o in out[:-1]:
        if o["p50_us"] is not None and base["p50_us"] is not None:
            o["overhead_p50_us"] = o["p50_us"] - base["p50_us"]
            o["overhead_p99_us"] = o["p99_us"] - base["p99_us"]
    by = {o["build"]: o for o in out}
    if "seedfs" in by and by["seedfs"]["p50_us"] is not None and by["current"]["p50_us"]:
        # What an option-1 binary pays for seedfs over a program linking libseedclient.
        by["seedfs"]["over_libseedclient_p50_us"] = by["seedfs"]["p50_us"] - by["current"]["p50_us"]
        by["seedfs"]["over_libseedclient_p99_us"] = by["seedfs"]["p99_us"] - by["current"]["p99_us"]
    ctx.res["fresh"] = out


def why_failed(errors):
    """{errno name: clients} for the clients whose read failed."""
    why = {}
    for e in errors:
        if e:
            name = "no report" if e < 0 else errno.errorcode.get(e, str(e))
            why[name] = why.get(name, 0) + 1
    return why


# ---------------------------------------------------------------- storm

def booted(ctx, build, name):
    """A directory as an earlier seedd left it (seed file, lock, machine identity)."""
    d = Daemon(build, ctx.tmp, name)
    d.stop()
    return d.dir, d.sock, d.seed_file


def storm_once(ctx, build, procs):
    """One storm; build None is the getrandom(2) baseline."""
    cmd = [ctx.tools.spawn, "storm", "--procs", str(procs), "--timeout", "300"]
    if build is None:
        cmd += [ctx.tools.once, "getrandom"]
    else:
        d, sock, seed_file = booted(ctx, build, f"storm-{build.name}")
        cmd += ["--socket", sock, "--notify", os.path.join(d, "notify.sock"),
                "--log", os.path.join(d, "seedd.log")]
        cmd += assignments(build.client_vars(sock, SEEDD_TIMEOUT_MS=STORM_TIMEOUT_MS))
        cmd += [ctx.tools.once, "read", "::", build.seedd, "--seed-file", seed_file,
                "--socket", sock]
    r = run_json(cmd, timeout=420)
    if r.get("broken") or r["bad_exits"] or r["exit_status"] not in (0, 1):
        log = ""
        if build:
            with open(os.path.join(d, "seedd.log")) as f:
                log = f.read()
        raise BenchError(f"storm ({build.name if build else 'getrandom'}): "
                         f"{r.get('broken', 'failed')}; {r['bad_exits']} clients exited "
                         f"abnormally\n{r.get('stderr', '')}{log}")
    start, seed = r["start_ns"], r["seed_ns"]
    per = [s - t for s, t in zip(seed, start) if s >= 0]
    got = [s for s in seed if s >= 0]
    out = {"procs": procs, "failed": r["failed"], "why": why_failed(r["error"]),
           "spawn_ms": ms(r["spawned_ns"]),
           "proc_p50_ms": ms(pct(per, 50)), "proc_p99_ms": ms(pct(per, 99))}
    if build is None:
        out["wall_ms"] = ms(r["last_exit_ns"])
        return out
    ex = r["daemon_exec_ns"]
    if r["ready_ns"] < 0:
        raise BenchError(f"storm ({build.name}): seedd never sent READY=1 (built without "
                         "libsystemd? the storm needs socket activation)")
    out.update(queued_ms=ms(r["queued_ns"]), ready_ms=ms(r["ready_ns"] - ex),
               first_seed_ms=ms(min(got) - ex) if got else None,
               drain_ms=ms(max(got) - ex) if got else None,
               since_exec_p50_ms=ms(pct([s - ex for s in got], 50)),
               since_exec_p99_ms=ms(pct([s - ex for s in got], 99)),
               total_ms=ms(max(got)) if got else None)
    return out


def case_storm(ctx):
    procs = ctx.cfg["storm"]
    runs = {}
    for r in range(ctx.cfg["repeat"]):
        for build in ctx.builds + [None]:
            s = storm_once(ctx, build, procs)
            runs.setdefault(build.name if build else "getrandom", []).append(s)
            what = f"drain {s['drain_ms']:.1f} ms" if build else f"wall {s['wall_ms']:.1f} ms"
            print(f"  run {r + 1}/{ctx.cfg['repeat']}: storm of {procs} "
                  f"{label_of(build) if build else 'getrandom(2)'}: {what}", flush=True)
    out = []
    for name, rs in runs.items():
        s = {"label": "getrandom(2)" if name == "getrandom" else label_of(ctx.build(name)),
             "build": None if name == "getrandom" else name, "repeats": len(rs)}
        for k in rs[0]:
            if k != "why":
                s[k] = median([x[k] for x in rs])
        s["why"] = {}
        for x in rs:
            for k, v in x["why"].items():
                s["why"][k] = s["why"].get(k, 0) + v
        s["runs"] = rs
        out.append(s)
    ctx.res["storm"] = out


# ---------------------------------------------------------------- start

def start_once(ctx, build):
    """seedd started under strace behind a socket with queued clients: where exec -> READY goes."""
    d, sock, seed_file = booted(ctx, build, f"start-{build.name}")
    trace = os.path.join(ctx.out_dir, f"start-{build.name}.strace")
    if os.path.exists(trace):
        os.unlink(trace)
    cmd = [ctx.tools.spawn, "storm", "--procs", "4", "--timeout", "120", "--socket", sock,
           "--notify", os.path.join(d, "notify.sock"), "--log", os.path.join(d, "seedd.log")]
    cmd += assignments(build.client_vars(sock, SEEDD_TIMEOUT_MS=STORM_TIMEOUT_MS))
    # -D: the traced process is the one the driver forked, so LISTEN_PID stays true.
    cmd += [ctx.tools.once, "read", "::", ctx.strace, "-D", "-f", "-ttt", "-T", "-o", trace,
            build.seedd, "--seed-file", seed_file, "--socket", sock]
    r = run_json(cmd, timeout=300)
    if r["exit_status"] != 0 or r.get("broken"):
        raise BenchError(f"traced start ({build.name}): {r.get('broken', 'failed')}\n"
                         f"{r.get('stderr', '')}")
    try:
        wait_for_text(trace, r"\+\+\+ exited with", 15)
    except AssertionError:
        raise BenchError(f"traced start ({build.name}): strace wrote no exit to {trace}") from None
    calls = parse_strace(trace)
    execve = next((c for c in calls if c["name"] == "execve" and c["ret"] == "0"), None)
    if execve is None:
        raise BenchError(f"traced start ({build.name}): no execve in {trace}")
    t0 = execve["ts"]

    def first(pred, after=0.0):
        return next((c for c in calls if c["ts"] >= after and pred(c)), None)

    def rel(c, end=False):
        return None if c is None else (c["ts"] + (c["dur"] if end else 0) - t0) * 1e3

    base = os.path.basename(seed_file)
    ready = first(lambda c: c["name"] == "sendmsg" and "READY=1" in c["args"])
    before_ready = [c for c in calls if c["ts"] < (ready["ts"] if ready else float("inf"))]
    libs = [c for c in before_ready if c["name"] == "openat" and ".so" in c["args"]
            and c["ret"].isdigit()]
    open_seed = first(lambda c: c["name"] == "openat" and f'"{base}"' in c["args"])
    # Each file replaced atomically: a temp file opened O_EXCL, written, fsynced, renamed.
    tmps = [c for c in before_ready if c["name"] == "openat" and "O_EXCL" in c["args"]]
    fsyncs = [c for c in before_ready if c["name"] in ("fsync", "fdatasync")]
    renames = [c for c in before_ready if c["name"].startswith("rename")]
    accept = first(lambda c: c["name"] == "accept4" and c["ret"].isdigit())
    out = {"label": label_of(build), "build": build.name, "strace_log": trace,
           "libraries": len(libs), "last_library_ms": rel(libs[-1] if libs else None, end=True),
           "open_seed_ms": rel(open_seed),
           "files_replaced": [c["args"].split('"')[1] for c in tmps if '"' in c["args"]],
           "fsyncs": len(fsyncs), "fsync_ms": sum(c["dur"] for c in fsyncs) * 1e3,
           "rename_ms": sum(c["dur"] for c in renames) * 1e3,
           "ready_ms": rel(ready), "first_accept_ms": rel(accept), "traced_calls": len(calls)}
    if tmps and fsyncs:
        out["update_start_ms"] = rel(tmps[0])
        out["update_end_ms"] = rel(fsyncs[-1], end=True)
        out["update_ms"] = out["update_end_ms"] - out["update_start_ms"]
    return out


def case_start(ctx):
    if not ctx.strace:
        ctx.res["start"] = None
        ctx.res.setdefault("skipped", []).append("start: strace is not installed")
        return
    if os.geteuid() != 0:
        ctx.res["start"] = None
        ctx.res.setdefault("skipped", []).append(
            "start: needs root (seedd is not dumpable: strace cannot read its calls' arguments)")
        return
    ctx.res["start"] = [start_once(ctx, b) for b in ctx.builds]


# ---------------------------------------------------------------- crowd

def case_crowd(ctx):
    procs = ctx.cfg["crowd"]
    out = []
    for build in ctx.builds:
        with Daemon(build, ctx.tmp, f"crowd-{build.name}") as d:
            cmd = [ctx.tools.spawn, "crowd", "--procs", str(procs), "--timeout", "300",
                   "--daemon-pid", str(d.pid)]
            cmd += assignments(build.client_vars(d.sock)) + [ctx.tools.once, "read"]
            r = run_json(cmd, timeout=420)
            if r.get("broken") or r["bad_exits"]:
                raise BenchError(f"crowd ({build.name}): {r.get('broken', '')} "
                                 f"{r['bad_exits']} clients exited abnormally\n"
                                 f"{r.get('stderr', '')}")
            why = why_failed(r["error"])
            ok = procs - r["failed"]
            out.append({"label": label_of(build), "build": build.name, "procs": procs,
                        "ok": ok, "failed": r["failed"], "why": why, "distinct": r["distinct"],
                        "spawn_ms": ms(r["spawned_ns"]), "wall_ms": ms(r["all_read_ns"]),
                        "seedd_rss_kib": r["daemon_rss_kib"],
                        "clients_pss_kib": r["clients_pss_kib"],
                        "clients_rss_kib": r["clients_rss_kib"]})
            if r["distinct"] != ok:
                ctx.broken(f"crowd ({build.name}): {ok} seeds but only {r['distinct']} distinct")
            print(f"  crowd of {procs} {label_of(build)}: {ok} ok, {r['failed']} failed "
                  f"{why or ''}", flush=True)
    ctx.res["crowd"] = out


# ---------------------------------------------------------------- idle

def hold(ctx, d, n):
    """VmRSS of d while n idle connections are open."""
    p = subprocess.Popen([ctx.tools.hold, "--conns", str(n), "--socket", d.sock],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        ready, _, _ = select.select([p.stdout], [], [], 300)
        line = p.stdout.readline() if ready else ""
        try:
            r = json.loads(line)
        except ValueError:
            raise BenchError(f"seedd-bench-hold {n} failed: {p.stderr.read()}") from None
        rss = vm_rss_kib(d.pid)
    finally:
        p.stdin.close()
        p.wait(timeout=120)
    if r["ok"] != n:
        raise BenchError(f"{d.build.name} seedd: only {r['ok']} of {n} idle connections "
                         f"were served ({r['first_error']})")
    return rss


def case_idle(ctx):
    counts = ctx.cfg["idle"]
    out = []
    for build in ctx.builds:
        cap = str(max(counts) + 16)
        args = ["--max-clients", cap]
        if build.supports("--max-clients-per-uid"):
            args += ["--max-clients-per-uid", cap]
        with Daemon(build, ctx.tmp, f"idle-{build.name}", args) as d:
            o = {"label": label_of(build), "build": build.name, "args": args,
                 "idle_kib": vm_rss_kib(d.pid)}
            for n in counts:
                o[f"conns_{n}_kib"] = hold(ctx, d, n)
            out.append(o)
    ctx.res["idle"] = out


# ---------------------------------------------------------------- targets

def targets(res, cfg):
    out = []

    def check(name, value, op, limit, unit, note=""):
        if value is None:
            out.append({"target": name, "op": op, "limit": limit, "unit": unit, "value": None,
                        "met": None, "note": note or "not measured"})
            return
        ok = value <= limit if op == "<=" else value >= limit
        out.append({"target": name, "value": round(value, 3), "limit": limit, "op": op,
                    "unit": unit, "met": ok, "note": note})

    cells = res.get("cells", [])

    def cell(label, procs):
        return next((c for c in cells if c["label"] == label and c["procs"] == procs), None)

    c1, c8, c64 = cell("seedd", 1), cell("seedd", 8), cell("seedd", 64)
    f8 = cell("locked file + fsync", 8)
    if c1:
        check("1 client p50", c1["p50_us"], "<=", 60, "us")
        check("1 client p99", c1["p99_us"], "<=", 150, "us")
    if c8:
        check("8 clients seeds/s", c8["per_s"], ">=", 130000, "/s")
        check("8 clients p99", c8["p99_us"], "<=", 200, "us")
    if c64:
        check("64 clients p99", c64["p99_us"], "<=", 1000, "us")
        check("64 clients max", c64["max_us"], "<=", 5000, "us")
    if c8 and f8:
        check("8 clients vs locked file", c8["per_s"] / f8["per_s"] if f8["per_s"] else None,
              ">=", 10, "x")

    fresh = {f["build"]: f for f in res.get("fresh") or []}
    if "current" in fresh:
        floor = fresh.get("floor", {}).get("overhead_p50_us")
        check("fresh process overhead over getrandom(2), p50",
              fresh["current"].get("overhead_p50_us"), "<=", 30, "us",
              f"a minimal server's: {floor:.1f} us" if floor is not None else "")
    storm = {s["build"]: s for s in res.get("storm") or []}
    if "current" in storm and None in storm:
        cur = storm["current"]
        check(f"boot storm of {cfg['storm']}: drain (seedd exec -> last seed) vs getrandom(2) "
              "wall", cur["drain_ms"] / storm[None]["wall_ms"] if cur["drain_ms"] else None,
              "<=", 2, "x", f"{cur['failed']} clients failed" if cur["failed"] else "")
    crowd = {c["build"]: c for c in res.get("crowd") or []}
    if "current" in crowd:
        c = crowd["current"]
        check(f"crowd of {c['procs']}: failures", c["failed"], "<=", 0, "",
              "needs the trust-boundary issue's eviction" if c["failed"] else "")
    idle = {i["build"]: i for i in res.get("idle") or []}
    if "current" in idle and "conns_10000_kib" in idle["current"]:
        check("seedd RSS at 10,000 idle connections", idle["current"]["conns_10000_kib"] / 1024,
              "<=", 16, "MiB")
    if cells:
        base = [cell("seedd baseline", n) for n in cfg["procs"]]
        for n, b in zip(cfg["procs"], base):
            cur = cell("seedd", n)
            note = f"median of {cur['repeats']}" if cur else ""
            if b is None or cur is None:
                check(f"{n} clients seeds/s vs baseline", None, ">=", 0.95, "x",
                      "no baseline build given")
                continue
            check(f"{n} clients seeds/s vs baseline", cur["per_s"] / b["per_s"], ">=", 0.95, "x",
                  note)
            check(f"{n} clients p99 vs baseline", cur["p99_us"] / b["p99_us"], "<=", 1.05, "x",
                  note)
    return out


def before_after(res, cfg):
    """Rows of (metric, unit, baseline, current) for what both builds measured."""
    rows = []

    def add(metric, unit, items, key):
        by = {i["build"]: i for i in items or []}
        if "baseline" in by and "current" in by:
            b, c = by["baseline"].get(key), by["current"].get(key)
            if b is not None and c is not None:
                rows.append({"metric": metric, "unit": unit, "baseline": b, "current": c})

    cells = res.get("cells") or []
    for n in cfg["procs"]:
        cs = [c for c in cells if c["procs"] == n and c["mode"] == "client"]
        add(f"{n} clients seeds/s", "/s", cs, "per_s")
        add(f"{n} clients p50", "us", cs, "p50_us")
        add(f"{n} clients p99", "us", cs, "p99_us")
    add("fresh process p50", "us", res.get("fresh"), "p50_us")
    add("fresh process p99", "us", res.get("fresh"), "p99_us")
    add("fresh overhead over getrandom p50", "us", res.get("fresh"), "overhead_p50_us")
    add("fresh overhead over getrandom p99", "us", res.get("fresh"), "overhead_p99_us")
    add("first read in a fresh process p50", "us", res.get("fresh"), "first_read_p50_us")
    add("first read in a fresh process p99", "us", res.get("fresh"), "first_read_p99_us")
    add("storm: seedd exec -> READY", "ms", res.get("storm"), "ready_ms")
    add("storm: seedd exec -> last seed (drain)", "ms", res.get("storm"), "drain_ms")
    add("storm: per process, start -> seed p99", "ms", res.get("storm"), "proc_p99_ms")
    add("traced start: durable update", "ms", res.get("start"), "update_ms")
    add("traced start: exec -> READY", "ms", res.get("start"), "ready_ms")
    add("crowd: failures", "", res.get("crowd"), "failed")
    add("crowd: time until all have read", "ms", res.get("crowd"), "wall_ms")
    add("crowd: seedd RSS", "KiB", res.get("crowd"), "seedd_rss_kib")
    add("seedd RSS idle", "KiB", res.get("idle"), "idle_kib")
    for n in cfg["idle"]:
        add(f"seedd RSS, {n} idle connections", "KiB", res.get("idle"), f"conns_{n}_kib")
    return rows


# ---------------------------------------------------------------- table output

def f1(v, width, nd=1):
    return f"{'-':>{width}}" if v is None else f"{v:>{width},.{nd}f}"


def fmt_table(res):
    cfg, m = res["config"], res["machine"]
    L = [f"seedd bench: {m['cpus']} CPUs, kernel {m['kernel']}, temp dirs on {m['tmp_fs']}, "
         f"load average {m['loadavg_1min_before']:.2f} before / "
         f"{m['loadavg_1min_after']:.2f} after"]
    for b in res["builds"]:
        L.append(f"  {b['label']:<15} {b['seedd']} ({b['version']}), clients load {b['lib']}")
    if res.get("cells"):
        L += ["", f"clients in a loop, {cfg['bytes']}-byte reads, {cfg['seconds']:g} s per cell "
              f"(longer, up to {cfg['max_s']:g} s, until each process made {cfg['min_calls']} "
              f"calls) after {cfg['warmup_s']:g} s warm-up, median of {cfg['repeat']} runs:",
              f"{'procs':>5}  {'method':<22} {'seeds/s':>11} {'p50 us':>9} {'p99 us':>9} "
              f"{'p99.9 us':>9} {'max us':>10} {'errors':>6} {'seedd cpu':>9}"]
        for c in res["cells"]:
            cpu = f"{c['seedd_cpu_pct']:.0f}%" if c.get("seedd_cpu_pct") is not None else ""
            short = (f"  ({c['short_procs']} of {c['procs']} processes made fewer than "
                     f"{cfg['min_calls']} calls in {c['seconds']:.1f} s)"
                     if c["short_procs"] else "")
            L.append(f"{c['procs']:>5}  {c['label']:<22} {c['per_s']:>11,.0f} "
                     f"{c['p50_us']:>9.1f} {c['p99_us']:>9.1f} {c['p999_us']:>9.1f} "
                     f"{c['max_us']:>10.1f} {c['errors']:>6} {cpu:>9}{short}")
    if res.get("fresh"):
        L += ["", f"fresh process: fork + exec + first {cfg['bytes']}-byte read + exit, "
              f"{cfg['runs']} runs each, programs in turn:",
              f"       {'program':<16} {'p50 us':>9} {'p99 us':>9} {'max us':>10} "
              f"{'over getrandom p50/p99 us':>26} {'first read p50/p99 us':>22} {'errors':>6}"]
        for f in res["fresh"]:
            over = (f"{f['overhead_p50_us']:>12.1f} {f['overhead_p99_us']:>12.1f}"
                    if "overhead_p50_us" in f else f"{'':>25}")
            L.append(f"       {f['label']:<16} {f1(f['p50_us'], 9)} {f1(f['p99_us'], 9)} "
                     f"{f1(f['max_us'], 10)} {over} {f1(f['first_read_p50_us'], 10)} "
                     f"{f1(f['first_read_p99_us'], 11)} {f['errors']:>6}")
        for f in res["fresh"]:
            if "over_libseedclient_p50_us" in f:
                L.append(f"       seedfs: an option-1 process's first seed costs "
                         f"{f['over_libseedclient_p50_us']:.1f} us (p50), "
                         f"{f['over_libseedclient_p99_us']:.1f} us (p99) more than through "
                         f"libseedclient")
    if res.get("storm"):
        n = cfg["storm"]
        L += ["", f"boot storm: {n} processes queued on a listening socket before seedd starts "
              f"(socket activation), median of {cfg['repeat']} runs; times in ms",
              f"       {'':<16} {'spawn':>7} {'exec->READY':>11} {'->1st seed':>10} "
              f"{'->last seed':>11} {'per process start->seed p50/p99':>33} {'failed':>6}"]
        for s in res["storm"]:
            if s["build"] is None:
                L.append(f"       {s['label']:<16} {f1(s['spawn_ms'], 7)} {'':>11} {'':>10} "
                         f"{f1(s['wall_ms'], 11)} {f1(s['proc_p50_ms'], 16)} "
                         f"{f1(s['proc_p99_ms'], 16)} {s['failed']:>6}   (last exit)")
            else:
                L.append(f"       {s['label']:<16} {f1(s['spawn_ms'], 7)} "
                         f"{f1(s['ready_ms'], 11, 2)} {f1(s['first_seed_ms'], 10, 2)} "
                         f"{f1(s['drain_ms'], 11)} {f1(s['proc_p50_ms'], 16)} "
                         f"{f1(s['proc_p99_ms'], 16)} {s['failed']:>6}  "
                         + ", ".join(f"{k} x{v}" for k, v in s["why"].items()))
        L.append("       (seedd rows: times after seedd's exec; spawn and per-process times "
                 "include the wait for the queue to fill)")
    if res.get("start"):
        L += ["", "seedd start under strace -f -ttt -T (a separate run; tracing inflates "
              "everything but the fsyncs); ms after exec:",
              f"       {'':<16} {'libraries':>12} {'open seed':>9} {'durable updates':>15} "
              f"{'files':>5} {'fsyncs':>6} {'fsync ms':>8} {'READY':>7} {'1st accept':>10}"]
        for s in res["start"]:
            upd = (f"{s['update_start_ms']:.2f}-{s['update_end_ms']:.2f}"
                   if s.get("update_ms") is not None else "-")
            libs = f"{s['libraries']} by {f1(s['last_library_ms'], 0, 2).strip()}"
            L.append(f"       {s['label']:<16} {libs:>12} {f1(s['open_seed_ms'], 9, 2)} "
                     f"{upd:>15} {len(s['files_replaced']):>5} {s['fsyncs']:>6} "
                     f"{f1(s['fsync_ms'], 8, 2)} {f1(s['ready_ms'], 7, 2)} "
                     f"{f1(s['first_accept_ms'], 10, 2)}")
        L.append("       (files replaced before READY: " + "; ".join(
            f"{s['label']} {', '.join(s['files_replaced']) or 'none'}" for s in res["start"])
            + "; full traces beside the JSON: "
            + ", ".join(os.path.basename(s["strace_log"]) for s in res["start"]) + ")")
    if res.get("crowd"):
        L += ["", f"crowd: {cfg['crowd']} live processes, one seed each, all alive until all "
              "have read:",
              f"       {'':<16} {'ok':>6} {'failed':>6} {'distinct':>8} {'spawn ms':>9} "
              f"{'all read ms':>11} {'seedd RSS KiB':>13} {'clients Pss KiB':>15}  why"]
        for c in res["crowd"]:
            why = ", ".join(f"{k} x{v}" for k, v in c["why"].items())
            L.append(f"       {c['label']:<16} {c['ok']:>6} {c['failed']:>6} {c['distinct']:>8} "
                     f"{f1(c['spawn_ms'], 9)} {f1(c['wall_ms'], 11)} {c['seedd_rss_kib']:>13,} "
                     f"{c['clients_pss_kib']:>15,}  {why}")
    if res.get("idle"):
        cols = cfg["idle"]
        L += ["", "seedd VmRSS, KiB:",
              f"       {'':<16} {'idle':>8} " + " ".join(f"{f'{n:,} idle conns':>17}"
                                                       for n in cols)]
        for i in res["idle"]:
            L.append(f"       {i['label']:<16} {i['idle_kib']:>8,} " + " ".join(
                f"{i.get(f'conns_{n}_kib', 0):>17,}" for n in cols))
    if res.get("before_after"):
        L += ["", "before/after (baseline build -> this build):",
              f"       {'metric':<42} {'baseline':>12} {'current':>12} {'change':>8}"]
        for r in res["before_after"]:
            b, c = r["baseline"], r["current"]
            ch = f"{100 * (c - b) / b:+.1f}%" if b else "-"
            L.append(f"       {r['metric'] + (' ' + r['unit'] if r['unit'] else ''):<42} "
                     f"{b:>12,.1f} {c:>12,.1f} {ch:>8}")
    if res.get("targets"):
        L += ["", "targets (reported, not enforced):"]
        for t in res["targets"]:
            mark = "n/a " if t["met"] is None else "met " if t["met"] else "MISS"
            val = "-" if t["value"] is None else f"{t['value']:,}"
            note = f" ({t['note']})" if t.get("note") else ""
            L.append(f"  [{mark}] {t['target']} {t['op']} {t['limit']:,} {t['unit']}: "
                     f"{val}{note}")
    for s in res.get("skipped", []):
        L.append(f"  skipped {s}")
    for e in res.get("errors", []):
        L.append(f"  ERROR {e.splitlines()[0]}")
    return "\n".join(L)


# ---------------------------------------------------------------- main

class Ctx:
    def __init__(self, tools, builds, cfg, tmp):
        self.tools, self.builds, self.cfg, self.tmp = tools, builds, cfg, tmp
        self.out_dir = os.path.dirname(cfg["out"])
        self.res = {}
        self.errors = []
        self.daemons = None
        self.strace = shutil.which("strace")
        self.shared_file = os.path.join(tmp, "shared-seedfile")
        provision(self.shared_file, BYTES)

    def build(self, name):
        return next(b for b in self.builds if b.name == name)

    def broken(self, why):
        print(f"run-bench: {why}", file=sys.stderr)
        self.errors.append(why)

    def load_daemons(self):
        """The daemons of the table and the fresh-process case, started once."""
        if self.daemons is None:
            self.daemons = {}
            for b in self.builds:
                self.daemons[b.name] = Daemon(b, self.tmp, f"load-{b.name}")
        return self.daemons

    def stop_daemons(self):
        for d in (self.daemons or {}).values():
            try:
                d.stop()
            except BenchError as e:
                self.broken(str(e))
        self.daemons = None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seedd", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--once", required=True)
    ap.add_argument("--spawn", required=True)
    ap.add_argument("--hold", required=True)
    ap.add_argument("--floor", required=True)
    ap.add_argument("--seedfs", default="", help="seedfs, for the option-1 rows of fresh")
    ap.add_argument("--out", required=True, help="JSON results file")
    ap.add_argument("--baseline-seedd", default=os.environ.get("SEEDD_BENCH_BASELINE_SEEDD"),
                    help="an older seedd to measure side by side")
    ap.add_argument("--baseline-lib", default=os.environ.get("SEEDD_BENCH_BASELINE_LIB"),
                    help="the directory holding that build's libseedclient.so.0")
    args = ap.parse_args()
    if bool(args.baseline_seedd) != bool(args.baseline_lib):
        sys.exit("run-bench: --baseline-seedd and --baseline-lib go together")

    seconds = env_num("SEEDD_BENCH_SECONDS", 3.0)
    cfg = {
        "seconds": seconds,
        "max_s": max(10.0, 10 * seconds),
        "min_calls": env_num("SEEDD_BENCH_MIN_CALLS", 10, int),
        "warmup_s": env_num("SEEDD_BENCH_WARMUP", 0.5),
        "procs": env_list("SEEDD_BENCH_PROCS", [1, 8, 64]),
        "repeat": env_num("SEEDD_BENCH_REPEAT", 3, int),
        "runs": env_num("SEEDD_BENCH_RUNS", 500, int),
        "storm": env_num("SEEDD_BENCH_STORM", 1000, int),
        "crowd": env_num("SEEDD_BENCH_CROWD", 2000, int),
        "idle": env_list("SEEDD_BENCH_IDLE", [1000, 10000]),
        "cases": env_list("SEEDD_BENCH_CASES", CASES, str),
        "bytes": BYTES,
        "out": os.path.abspath(args.out),
    }
    unknown = [c for c in cfg["cases"] if c not in CASES]
    if unknown or cfg["repeat"] < 1:
        sys.exit(f"run-bench: SEEDD_BENCH_CASES takes {','.join(CASES)}; "
                 "SEEDD_BENCH_REPEAT at least 1")

    out = cfg["out"]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    base = os.environ.get("SEEDD_BENCH_DIR") or os.path.dirname(out)
    tools = argparse.Namespace(**{k: os.path.abspath(getattr(args, k))
                                  for k in ("bench", "once", "spawn", "hold", "floor")})
    tools.seedfs = os.path.abspath(args.seedfs) if args.seedfs else ""
    try:
        builds = [Build("current", args.seedd, None, tools.once)]
        if args.baseline_seedd:
            builds.append(Build("baseline", args.baseline_seedd, args.baseline_lib, tools.once))
    except BenchError as e:
        sys.exit(f"run-bench: {e}")

    tmp = tempfile.mkdtemp(prefix="seedd-bench-", dir=base)  # mode 0700
    load_before = os.getloadavg()[0]
    ctx = Ctx(tools, builds, cfg, tmp)
    run = {"table": case_table, "fresh": case_fresh, "storm": case_storm, "start": case_start,
           "crowd": case_crowd, "idle": case_idle}
    try:
        for case in CASES:
            if case not in cfg["cases"]:
                continue
            print(f"{case}:", flush=True)
            try:
                run[case](ctx)
            except BenchError as e:
                ctx.broken(f"{case}: {e}")
            if case == "fresh" or (case == "table" and "fresh" not in cfg["cases"]):
                ctx.stop_daemons()
    finally:
        ctx.stop_daemons()
        shutil.rmtree(tmp, ignore_errors=True)

    res = {
        "machine": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "tmp_fs": fs_type(base),
            "loadavg_1min_before": load_before,
            "loadavg_1min_after": os.getloadavg()[0],
        },
        "config": cfg,
        "time_unix": int(time.time()),
        "builds": [{"name": b.name, "label": label_of(b), "seedd": b.seedd, "version": b.version,
                    "lib": b.lib_loaded} for b in builds],
        **ctx.res,
    }
    res["targets"] = targets(res, cfg)
    res["before_after"] = before_after(res, cfg)
    res["errors"] = ctx.errors
    tmp_out = out + ".tmp"
    with open(tmp_out, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    os.replace(tmp_out, out)

    print()
    print(fmt_table(res))
    print(f"\nJSON: {out}")
    if ctx.errors:
        print("run-bench: errors during the run (see above and the JSON)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
