#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Where seedd's requests go, in system calls (strace).

For each build (this one, and an older one with --baseline-seedd and
--baseline-lib), on a seedd of its own:

  per request  strace -c of a client making 1 and 1+N reads on one
               connection, and of the daemon (attached with -p) over the
               same two clients: the difference divided by N is what one
               request costs, with start-up and connection set-up cancelled
  first read   strace -c of a fresh process making one read, minus the same
               program using getrandom(2): what the first seed adds to a
               process's life
  timeline     strace -f -ttt -T of one fresh process's first read, from its
               socket() to the reply, merged with the daemon's calls
               (attached with -p) over the same interval

Tracing makes every call slower, so the timeline shows order and relative
cost, not real microseconds; the counts are exact. Prints tables and writes
JSON. Not a test: the exit status is non-zero only when something broke.

Environment: SEEDD_SYSCALLS_READS (N, default 1000), SEEDD_BENCH_BASELINE_SEEDD,
SEEDD_BENCH_BASELINE_LIB, SEEDD_BENCH_DIR (see run-bench.py).
"""
import argparse
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile

from benchlib import BenchError, Build, Daemon, env_num, parse_strace, parse_strace_c

# The calls a cold first read makes, and that the daemon makes meanwhile.
TIMELINE_WINDOW_US = 50000


def strace_count(strace, cmd, env, out):
    p = subprocess.run([strace, "-c", "-o", out, *cmd], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    if p.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} failed under strace ({p.returncode}): {p.stderr}")
    return parse_strace_c(out)


class Attached:
    """strace -p on a running daemon, from attach to detach."""

    def __init__(self, strace, pid, out, opts):
        self.out = out
        self.p = subprocess.Popen([strace, *opts, "-p", str(pid), "-o", out],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # strace says so on stderr once the tracee is stopped and traced.
        ready, _, _ = select.select([self.p.stderr], [], [], 30)
        line = self.p.stderr.readline() if ready else ""
        if "attached" not in line:
            self.p.kill()
            self.p.wait()
            raise BenchError(f"strace -p {pid} did not attach: {line}{self.p.stderr.read()}")

    def detach(self):
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise BenchError("strace did not detach") from None


def per_request(c1, c2, n):
    """{call: calls per request} from counts over 1 and 1+n requests."""
    out = {}
    for name in set(c1) | set(c2):
        d = c2.get(name, (0, 0))[0] - c1.get(name, (0, 0))[0]
        if d:
            out[name] = d / n
    return out


def diff_counts(a, b):
    out = {}
    for name in set(a) | set(b):
        d = a.get(name, (0, 0))[0] - b.get(name, (0, 0))[0]
        if d:
            out[name] = d
    return out


def timeline(ctx, build, d, tmp):
    ctrace, dtrace = os.path.join(tmp, "client.strace"), os.path.join(tmp, "daemon.strace")
    # -s 0: the served bytes stay out of the traces and the printed timeline.
    att = Attached(ctx.strace, d.pid, dtrace, ["-ttt", "-T", "-s", "0"])
    try:
        p = subprocess.run([ctx.strace, "-f", "-ttt", "-T", "-s", "0", "-o", ctrace, ctx.once,
                            "seed"],
                           env=build.client_env(d.sock), stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        att.detach()
    if p.returncode != 0:
        raise BenchError(f"traced fresh read failed: {p.stderr}")
    client = parse_strace(ctrace)
    start = next((c for c in client if c["name"] == "socket" and "AF_UNIX" in c["args"]), None)
    if start is None:
        raise BenchError(f"no socket() in {ctrace}")
    fd = start["ret"]
    end = next((c for c in client if c["ts"] > start["ts"]
                and c["name"] in ("recvfrom", "recvmsg", "recv", "read")
                and c["args"].startswith(fd + ",") and c["ret"].isdigit()
                and int(c["ret"]) > 0), None)
    if end is None:
        raise BenchError(f"no reply on fd {fd} in {ctrace}")
    t0, t1 = start["ts"], end["ts"] + end["dur"]
    if (t1 - t0) * 1e6 > TIMELINE_WINDOW_US:
        raise BenchError(f"the traced first read took {(t1 - t0) * 1e3:.1f} ms: too slow to show")
    events = [dict(c, who="client") for c in client if t0 <= c["ts"] <= t1]
    # A daemon call that was already waiting when the client began counts from when it returns.
    for c in parse_strace(dtrace):
        if c["ts"] <= t1 and c["ts"] + c["dur"] >= t0:
            events.append(dict(c, who="seedd"))
    events.sort(key=lambda c: c["ts"])
    return {"total_us": (t1 - t0) * 1e6,
            "client_calls": sum(1 for e in events if e["who"] == "client"),
            "daemon_calls": sum(1 for e in events if e["who"] == "seedd"),
            "events": [{"t_us": (e["ts"] - t0) * 1e6, "who": e["who"], "name": e["name"],
                        "args": e["args"][:60], "ret": e["ret"],
                        "err": e["err"].split(" ")[0] if e["err"].startswith("E") else "",
                        "dur_us": e["dur"] * 1e6} for e in events]}


def measure(ctx, build):
    n = ctx.reads
    tmp = tempfile.mkdtemp(prefix=f"syscalls-{build.name}-", dir=ctx.tmp)
    with Daemon(build, ctx.tmp, f"syscalls-{build.name}") as d:
        env = build.client_env(d.sock)
        out = {"build": build.name}
        runs = {}
        for count in (1, 1 + n):
            att = Attached(ctx.strace, d.pid, os.path.join(tmp, f"daemon-{count}.c"), ["-c", "-f"])
            try:
                runs[count] = strace_count(ctx.strace, [ctx.once, "seed", str(count)], env,
                                           os.path.join(tmp, f"client-{count}.c"))
            finally:
                att.detach()
            runs[f"d{count}"] = parse_strace_c(att.out)
        out["client_per_request"] = per_request(runs[1], runs[1 + n], n)
        out["daemon_per_request"] = per_request(runs["d1"], runs[f"d{1 + n}"], n)
        out["daemon_per_connection"] = {k: v[0] for k, v in runs["d1"].items()}
        gr = strace_count(ctx.strace, [ctx.once, "getrandom"], env,
                          os.path.join(tmp, "getrandom.c"))
        out["first_read_extra"] = diff_counts(runs[1], gr)
        out["timeline"] = timeline(ctx, build, d, tmp)
    return out


def num(v):
    return f"{v:,.3f}".rstrip("0").rstrip(".") if isinstance(v, float) else f"{v:,}"


def fmt(res):
    builds = [r["build"] for r in res["builds"]]
    L = [f"system calls, strace -c ({res['reads']} reads on one connection; "
         "per request = (calls over 1+N reads - calls over 1 read) / N):"]
    for side, key in (("client", "client_per_request"), ("seedd", "daemon_per_request"),
                      ("seedd, all calls for a client with one read", "daemon_per_connection"),
                      ("fresh process: first read minus getrandom(2)", "first_read_extra")):
        names = sorted(set().union(*(r[key] for r in res["builds"])))
        L += ["", f"  {side}:", f"    {'call':<18}" + "".join(f"{b:>12}" for b in builds)]
        for name in names:
            L.append(f"    {name:<18}" + "".join(f"{num(r[key].get(name, 0)):>12}"
                                                   for r in res["builds"]))
        L.append(f"    {'total':<18}" + "".join(f"{num(sum(r[key].values())):>12}"
                                                for r in res["builds"]))
    for r in res["builds"]:
        t = r["timeline"]
        L += ["", f"first read of a fresh process ({r['build']}), strace -f -ttt -T on both "
              f"sides: {t['total_us']:.0f} us from socket() to the reply, {t['client_calls']} "
              f"client and {t['daemon_calls']} seedd calls (tracing inflates every call):",
              f"    {'+us':>8} {'who':<6} {'call':<52} {'= ret':>10} {'took us':>8}"]
        for e in t["events"]:
            call = f"{e['name']}({e['args']}"
            call = call[:51] + ")" if len(call) <= 51 else call[:50] + "…)"
            ret = f"{e['ret']} {e['err']}".strip()
            L.append(f"    {e['t_us']:>8.1f} {e['who']:<6} {call:<52} {ret:>10} "
                     f"{e['dur_us']:>8.1f}")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seedd", required=True)
    ap.add_argument("--once", required=True)
    ap.add_argument("--out", required=True, help="JSON results file")
    ap.add_argument("--baseline-seedd", default=os.environ.get("SEEDD_BENCH_BASELINE_SEEDD"))
    ap.add_argument("--baseline-lib", default=os.environ.get("SEEDD_BENCH_BASELINE_LIB"))
    # The benchmark's other programs, passed alike to both scripts by meson.
    for extra in ("--bench", "--spawn", "--hold", "--floor", "--seedfs"):
        ap.add_argument(extra, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if bool(args.baseline_seedd) != bool(args.baseline_lib):
        sys.exit("syscalls: --baseline-seedd and --baseline-lib go together")
    strace = shutil.which("strace")
    if not strace:
        sys.exit("syscalls: needs strace (apt-get install strace)")

    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    base = os.environ.get("SEEDD_BENCH_DIR") or os.path.dirname(out)
    ctx = argparse.Namespace(strace=strace, once=os.path.abspath(args.once),
                             reads=env_num("SEEDD_SYSCALLS_READS", 1000, int),
                             tmp=tempfile.mkdtemp(prefix="seedd-syscalls-", dir=base))
    if ctx.reads < 1:
        sys.exit("syscalls: SEEDD_SYSCALLS_READS must be at least 1")
    try:
        builds = [Build("current", args.seedd, None, ctx.once)]
        if args.baseline_seedd:
            builds.append(Build("baseline", args.baseline_seedd, args.baseline_lib, ctx.once))
        res = {"reads": ctx.reads, "builds": [measure(ctx, b) for b in builds]}
    except BenchError as e:
        print(f"syscalls: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    with open(out + ".tmp", "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    os.replace(out + ".tmp", out)
    print(fmt(res))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
