#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Load and abuse, bounded in count and time: seedd keeps serving the well-behaved."""

import os
import select
import signal
import subprocess
import time

import seeddtest
from seeddtest import (OP_GET, OP_STATUS, ST_OK, Daemon, check, closed_by_daemon, connect,
                       get_req, median, msg, parse_reply, proc_cpu_s, raw_get, target,
                       unpack_status, wait_for)
from faultlib import LOADGEN, loadgen


def refusals_logged(daemon):
    return sum(1 for line in daemon.log().splitlines() if "refused a client" in line)


def test_concurrent(tmp):
    clients = int(os.environ.get("SEEDD_LOAD_CLIENTS", "200"))
    secs = float(os.environ.get("SEEDD_LOAD_SECONDS", "3"))
    daemon = Daemon(tmp, "--max-clients", str(clients + 16)).start()
    rc, r, err = loadgen("concurrent", daemon.sock, clients, secs, timeout=secs + 120)
    print("%d clients for %.0f s: %d requests (%.0f/s), failed %d, repeated %d, "
          "p50 %.0f us, p99 %.0f us, max %.0f us"
          % (clients, secs, r.get("ok", 0), r.get("rate", 0), r.get("failed", -1),
             r.get("dup", -1), r.get("p50_us", 0), r.get("p99_us", 0), r.get("max_us", 0)))
    check(rc == 0 and r["failed"] == 0 and r["dup"] == 0 and r["ok"] > clients,
          "concurrent load failed (%d): %s %s" % (rc, r, err))
    check(daemon.stop() == 0, "seedd did not stop cleanly after the load")


def evictions_logged(daemon):
    return [line for line in daemon.log().splitlines() if "closed the least recently used connection" in line]


def test_max_clients(tmp):
    """At --max-clients 8, each of 40 newcomers takes the place of the least
    recently used idle connection: all are served, the 40 oldest see the end
    of the stream, the 8 newest keep being served, and the evictions are
    logged rate-limited. The refusal when nothing is idle is tested in the
    integration suite (max_clients), which can stop the daemon to make it so."""
    daemon = Daemon(tmp, "--max-clients", "8").start()
    # Only the status query's own connection left, and that one closing.
    wait_for(lambda: daemon.status()["clients"] <= 1, 5, "start-up probe gone")
    conns = [connect(daemon.sock) for _ in range(8)]
    for s in conns:
        raw_get(s, 16)
    for _ in range(40):
        s = connect(daemon.sock)
        raw_get(s, 16)
        conns.append(s)
    closed = sum(1 for s in conns[:40] if closed_by_daemon(s))
    check(closed == 40, "only %d of the 40 least recently used connections were closed" % closed)
    for s in conns[40:]:
        raw_get(s, 32)
    # libseedclient is served at the limit too.
    daemon.sctool("read", 32, 1)
    check(closed_by_daemon(conns[40]), "the library client took nobody's place")
    lines = evictions_logged(daemon)
    check(1 <= len(lines) <= 2, "%d log lines for 41 evictions (rate limit)" % len(lines))
    check(refusals_logged(daemon) == 0, "refusals logged:\n%s" % daemon.log())
    for s in conns:
        s.close()
    print("max-clients 8: 40 newcomers served, each in place of the least recently used "
          "connection, which saw EOF; %d log line(s): %s" % (len(lines), lines[0]))


def open_slow_peers(sock, n):
    """n peers: connect and stay silent, send half a header, or never read their replies."""
    peers = []
    for i in range(n):
        s = connect(sock)
        kind = i % 3
        if kind == 1:
            s.send(get_req(32)[:4])
        elif kind == 2:
            for _ in range(4):
                s.send(get_req(1024))
        peers.append((kind, s))
    return peers


def hung_up(s):
    """Whether the other end closed s, seen without reading from it."""
    p = select.poll()
    p.register(s, select.POLLHUP)
    return any(ev & select.POLLHUP for _, ev in p.poll(0))


def cpu_ns(pid):
    """The CPU time pid has run, in ns (/proc/PID/schedstat): its own, which the
    load of other processes does not add to."""
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def test_slow_peers(tmp):
    """500 slow peers cost a well-behaved client nothing: beside them seedd spends
    no more than 2x the CPU per request of a twin daemon without them, and the
    client's median latency stays within 2x the twin's. Both comparisons hold
    under any load of the machine: one client takes turns between the two
    daemons request by request (loadgen pair), so a busy moment hits both alike,
    and CPU time is seedd's own. p99 is printed, not judged: on a busy machine
    it sits where preemptions begin, where a few more on one side move it by
    milliseconds (it failed so at load 12, ratio 3.6-5.7). The test, both daemons
    and loadgen share one CPU: where the scheduler puts a daemon moves its
    latency and CPU per request threefold for a round (the same CPU as loadgen's
    or another, whose wakeup costs more), with or without slow peers, and
    the twins must not differ by where they happened to land (it failed so
    idle, ratio 8.5, and in CI, 6.9)."""
    rounds, n = 5, 2000
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    # An idle timeout that outlasts the measurement: the peers must stay connected.
    twin = Daemon(tmp, "--idle-timeout", "300", "--max-clients", "1024",
                  seed_file=tmp / "twin-seed", sock=tmp / "twin.sock").start()
    daemon = Daemon(tmp, "--idle-timeout", "300", "--max-clients", "1024").start()
    peers = open_slow_peers(daemon.sock, 500)
    cpu, p50, p99 = [], [], []
    for r in range(rounds):
        before = cpu_ns(twin.proc.pid), cpu_ns(daemon.proc.pid)
        rc, res, err = loadgen("pair", twin.sock, daemon.sock, n)
        check(rc == 0 and res["ok"] == 2 * n, "pair round failed (%d): %s %s" % (rc, res, err))
        spent = cpu_ns(twin.proc.pid) - before[0], cpu_ns(daemon.proc.pid) - before[1]
        cpu.append((spent[0] / n / 1e3, spent[1] / n / 1e3))
        p50.append((res["a_p50_us"], res["b_p50_us"]))
        p99.append((res["a_p99_us"], res["b_p99_us"]))
        print("round %d: seedd CPU per request %.1f us without, %.1f us with 500 slow peers; "
              "latency p50 %.1f / %.1f us, p99 %.0f / %.0f us"
              % (r + 1, cpu[-1][0], cpu[-1][1], p50[-1][0], p50[-1][1], p99[-1][0], p99[-1][1]))
    cpu_ratio = median([w / b for b, w in cpu])
    p50_ratio = median([w / b for b, w in p50])
    print("median ratios with/without 500 slow peers: CPU per request %.2f, p50 %.2f "
          "(p99 %.2f, not judged)" % (cpu_ratio, p50_ratio, median([w / b for b, w in p99])))
    clients = daemon.status()["clients"]
    check(clients >= 500, "the slow peers left during the measurement: %d clients" % clients)
    check(cpu_ratio <= 2.0, "seedd spends %.2fx the CPU per request beside 500 slow peers"
          % cpu_ratio)
    check(p50_ratio <= 2.0, "median latency beside 500 slow peers is %.2fx the twin's"
          % p50_ratio)
    for _, s in peers:
        s.close()
    check(twin.stop() == 0 and daemon.stop() == 0, "seedd did not stop cleanly")
    os.sched_setaffinity(0, cpus)

    idle = 3
    daemon = Daemon(tmp, "--idle-timeout", str(idle), "--max-clients", "1024",
                    seed_file=tmp / "idle-seed", sock=tmp / "idle.sock").start()
    t0 = time.monotonic()
    peers = open_slow_peers(daemon.sock, 500)
    # A peer that keeps sending without reading is dropped once its queue is full.
    burst = connect(daemon.sock)
    burst.setblocking(False)
    sent = 0
    try:
        while sent < 100000:
            burst.send(get_req(1024))
            sent += 1
    except (BlockingIOError, ConnectionResetError, BrokenPipeError):
        pass
    # Not a byte read until seedd has hung up: reading would make room for its replies.
    wait_for(lambda: hung_up(burst), 30, "seedd to drop the peer that never reads")
    burst.setblocking(True)
    burst.settimeout(5)
    # The reset (seedd hung up with requests unread) comes first, once; then the replies.
    got, reset = 0, False
    while True:
        try:
            if not burst.recv(65536):
                break
            got += 1
        except ConnectionResetError:
            if reset:
                break
            reset = True
    burst.close()
    check(got < sent, "a peer that never reads was served all %d requests" % sent)
    print("a non-reading peer sent %d requests, got %d replies queued, then was dropped"
          % (sent, got))
    # The idle timeout closes every kind of slow peer.
    wait_for(lambda: daemon.status()["clients"] <= 1, idle + 8, "idle peers closed")
    closed = 0
    for kind, s in peers:
        s.setblocking(True)
        s.settimeout(2)
        try:
            while s.recv(65536):
                pass
            closed += 1
        except (ConnectionResetError, BrokenPipeError):
            closed += 1
        s.close()
    check(closed == len(peers), "only %d of %d slow peers were closed" % (closed, len(peers)))
    print("idle timeout %d s closed all %d slow peers within %.1f s"
          % (idle, closed, time.monotonic() - t0))
    daemon.sctool("read", 32, 3)


def test_fd_exhaustion(tmp):
    """Out of fds, seedd pauses accepting instead of spinning. It sizes
    --max-clients to its fd limit at start (fd_limit, suite faults+root), so
    the limit is lowered under it once it runs, as an operator's prlimit(1)
    or a leak would."""
    limit = 32
    daemon = Daemon(tmp, "--max-clients", "1024").start()
    subprocess.run(["prlimit", "--pid", str(daemon.seedd_pid()), "--nofile=%d:%d" % (limit, limit)],
                   check=True)
    keeper = connect(daemon.sock)
    raw_get(keeper, 32)
    conns = []
    for _ in range(3 * limit):
        conns.append(connect(daemon.sock))
    wait_for(lambda: refusals_logged(daemon), 30, "seedd to run out of fds")
    cpu0, t0 = proc_cpu_s(daemon.proc.pid), time.monotonic()
    time.sleep(3)  # the window the CPU time is measured over
    # An admitted client is served while no fd is left for new ones.
    raw_get(keeper, 32)
    cpu = proc_cpu_s(daemon.proc.pid) - cpu0
    wall = time.monotonic() - t0
    print("fds exhausted (RLIMIT_NOFILE %d, %d connections queued): seedd used %.3f s CPU in "
          "%.1f s (%.1f%%)" % (limit, len(conns), cpu, wall, 100 * cpu / wall))
    check(cpu < 0.1 * wall, "seedd spins while out of fds: %.2f s CPU in %.1f s" % (cpu, wall))
    n = refusals_logged(daemon)
    check(n <= 2, "%d log lines while out of fds (rate limit)" % n)
    for s in conns:
        s.close()
    # Once fds are free, new clients are served again.
    t0 = time.monotonic()
    daemon.sctool("read", 32, 5, env=daemon.client_env(SEEDD_TIMEOUT_MS=5000))
    print("service resumed %.2f s after the fds were freed; %d log line(s)"
          % (time.monotonic() - t0, n))
    keeper.close()
    check(daemon.stop() == 0, "seedd did not stop cleanly")


def served(sock):
    """The daemon's request total, from a STATUS on sock."""
    sock.send(msg(OP_STATUS))
    op, status, payload = parse_reply(sock.recv(65536))
    check(op == OP_STATUS and status == ST_OK, "STATUS failed: op %d status %d" % (op, status))
    return unpack_status(payload)["requests"]


def stopped(pid):
    """Every thread of pid stopped by a signal."""
    states = []
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
            states.append(f.read().rsplit(")", 1)[1].split()[0])
    return all(st == "T" for st in states)


def test_fairness(tmp):
    """One request per connection per turn: a request that waits beside two
    connections with 32 requests queued each is answered after at most one of
    each, not after their queues. seedd is stopped (SIGSTOP) while the queues
    and the request are sent, so that all three wait as seedd resumes, and the
    request is a STATUS, whose request total says how many were answered
    before it. That order is seedd's alone: no load of the machine moves it.

    Then rates, printed, not judged: a flooder (FLOOD_DEPTH requests in
    flight) beside three clients that wait for each reply, and one client
    alone on a twin seedd in the same seconds. On a busy machine a client that
    waits needs the CPU for every request and the flooder does not, so the
    flooder's share grows with the load, not with seedd (at load 15: 6.2x the
    others, each of them 5% of the twin's client)."""
    depth = 32
    daemon = Daemon(tmp).start()
    deep = [connect(daemon.sock) for _ in range(2)]
    waiting = connect(daemon.sock)
    for s in deep:
        raw_get(s, 32)
    # What the STATUS itself adds to the total, with nothing else served.
    alone = served(waiting)
    alone = served(waiting) - alone
    before = served(waiting)
    pid = daemon.seedd_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        # The signal is asynchronous: seedd may still answer until it has stopped.
        wait_for(lambda: stopped(pid), 30, "seedd (pid %d) stopped" % pid, step=0.001)
        for s in deep:
            for _ in range(depth):
                s.send(get_req(32))
        waiting.send(msg(OP_STATUS))
    finally:
        os.kill(pid, signal.SIGCONT)
    op, status, payload = parse_reply(waiting.recv(65536))
    check(op == OP_STATUS and status == ST_OK, "STATUS failed: op %d status %d" % (op, status))
    ahead = unpack_status(payload)["requests"] - before - alone
    for s in deep:
        for _ in range(depth):
            op, status, payload = parse_reply(s.recv(65536))
            check(op == OP_GET and status == ST_OK and len(payload) == 32,
                  "a queued GET failed: op %d status %d" % (op, status))
    print("a request beside 2 x %d queued ones was answered after %d of them" % (depth, ahead))
    check(ahead <= len(deep), "a request beside 2 x %d queued ones waited for %d of them: "
          "a connection's queue is served before the others' turn" % (depth, ahead))
    for s in deep + [waiting]:
        s.close()

    secs = 3
    twin = Daemon(tmp, seed_file=tmp / "twin-seed", sock=tmp / "twin.sock").start()
    argvs = [target(LOADGEN, "flood", daemon.sock, secs)]
    argvs += [target(LOADGEN, "concurrent", daemon.sock, 1, secs)] * 3
    argvs += [target(LOADGEN, "concurrent", twin.sock, 1, secs)]
    procs = [subprocess.Popen(a, stdout=subprocess.PIPE, text=True) for a in argvs]
    rates = []
    for p in procs:
        out, _ = p.communicate(timeout=secs + 60)
        check(p.returncode == 0, "load client failed: %s" % out)
        rates.append(float(dict(kv.split("=") for kv in out.split())["rate"]))
    flood, others, single = rates[0], rates[1:4], rates[4]
    print("one client alone on a twin seedd: %.0f req/s; meanwhile a flooding client %.0f "
          "req/s, beside it %s req/s: %.2fx the others' mean, the least %.2fx the twin's client"
          % (single, flood, ", ".join("%.0f" % r for r in others),
             flood / (sum(others) / len(others)), min(others) / single))
    check(twin.stop() == 0 and daemon.stop() == 0, "seedd did not stop cleanly")


if __name__ == "__main__":
    seeddtest.main(globals())
