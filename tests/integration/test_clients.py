#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""libseedclient and seedctl against the real seedd."""

import errno
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

from seeddtest import (Daemon, Skip, check, closed_by_daemon, connect, get_req, main, msg,
                       need_strace, parse_reply, raw_get, read_file, wait_for, write_machine_id,
                       write_seed, wire, GET_REQ, HDR, MAX_PAYLOAD, OP_GET, OP_PUT, OP_STATUS,
                       OP_USERS,
                       ST_OK, ST_MALFORMED, ST_VERSION, ST_OPCODE, ST_RANGE, ST_BUSY, ST_DENIED,
                       SEEDCTL, SCTOOL, target)

# libseedclient's exports by version node: a node never changes once released.
NODES = {
    "SEEDCLIENT_0": {"seedclient_nv_seed_read", "seedclient_nv_seed_write",
                     "seedclient_entropy_poll", "seedclient_read"},
    "SEEDCLIENT_0.2": {"seedclient_version", "seedclient_last_error"},
}
EXPORTED = set().union(*NODES.values())


def test_concurrent_clients(tmp):
    """100 concurrent clients (50 processes, 50 threads) x 10 reads: all distinct."""
    d = Daemon(tmp)
    old = write_seed(d.seed_file)
    d.start()
    procs = [subprocess.Popen(target(SCTOOL, "read", "64", "10"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=d.client_env())
             for _ in range(50)]
    threads = subprocess.Popen(target(SCTOOL, "threads", "50", "10", "64"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=d.client_env())
    lines = []
    for p in procs + [threads]:
        out, err = p.communicate(timeout=60)
        check(p.returncode == 0, "client failed: %s" % err)
        lines += out.split()
    check(len(lines) == 1000, "got %d results" % len(lines))
    check(all(len(x) == 128 for x in lines), "a result is not 64 bytes")
    check(len(set(lines)) == 1000, "only %d distinct of 1000" % len(set(lines)))
    new = read_file(d.seed_file)
    check(old.hex() not in lines and new.hex() not in lines, "the seedfile was served")
    check(d.status()["requests"] == 1000, d.status())
    check(d.stop() == 0)
    check(read_file(d.seed_file).hex() not in lines)


def test_fork(tmp):
    d = Daemon(tmp).start()
    r = d.sctool("fork", 5, 32)
    lines = r.stdout.split("\n")
    parent = [l.split()[1] for l in lines if l.startswith("parent ")]
    child = [l.split()[1] for l in lines if l.startswith("child ")]
    check(len(parent) == 7 and len(child) == 5, r.stdout)
    check(len(set(parent + child)) == 12, "parent and child got equal bytes")


def test_fd_reuse_file(tmp):
    """The program closes every fd and reuses the socket's number for a log file."""
    d = Daemon(tmp).start()
    log = tmp / "app.log"
    r = d.sctool("reuse-file", 32, log, check_rc=False)
    check(r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr))
    lines = r.stdout.split("\n")
    check(len(lines[0]) == 64 and len(lines[1]) == 64 and lines[0] != lines[1], r.stdout)
    check(lines[2].startswith("log file intact at fd "), r.stdout)
    check(read_file(log) == b"the application's own line\n", "log file: %r" % read_file(log))
    check(d.status()["requests"] == 2, d.status())


def test_fd_reuse_dgram(tmp):
    """The same with a datagram socket that has a datagram waiting at that number."""
    d = Daemon(tmp).start()
    r = d.sctool("reuse-dgram", 32, check_rc=False)
    check(r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr))
    lines = r.stdout.split("\n")
    check(len(lines[0]) == 64 and len(lines[1]) == 64 and lines[0] != lines[1], r.stdout)
    check(lines[2].startswith("datagram socket intact at fd "), r.stdout)
    check(d.status()["requests"] == 2, d.status())


def beside_mute_daemon(tmp, d, cmd, action, timeout_ms):
    """Runs sctool cmd, whose one thread calls a mute daemon while the others
    use d; once that thread's request arrived (it now waits for the reply that
    never comes), tells it action on stdin. Its output, after it exited 0."""
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    mute.bind(tmp / "mute.sock")
    mute.listen(4)
    mute.settimeout(30)
    env = dict(os.environ, SEEDD_SOCKET=tmp / "mute.sock", SEEDD_TIMEOUT_MS=str(timeout_ms))
    p = subprocess.Popen(target(SCTOOL, cmd, d.sock, "32"), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        conn, _ = mute.accept()
        conn.settimeout(30)
        check(len(conn.recv(100)) == HDR.size + 4, "no request from the waiting thread")
        p.stdin.write(action + "\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=60)
        conn.close()
    finally:
        p.kill()
        p.wait()
        mute.close()
    check(p.returncode == 0, "exit %d: %s %s" % (p.returncode, out, err))
    return out


def test_fork_while_busy(tmp):
    """fork() while another thread waits for a mute daemon returns at once; the child works."""
    timeout_ms = 5000
    d = Daemon(tmp).start()
    out = beside_mute_daemon(tmp, d, "forkbusy", "fork", timeout_ms)
    f = dict(l.split("=", 1) for l in out.split("\n") if "=" in l)
    child = [l.split()[1] for l in out.split("\n") if l.startswith("child ")]
    fork_ms = float(f["fork_ms"])
    print("fork() took %.3f ms while a thread waited for a mute daemon (timeout %d ms)"
          % (fork_ms, timeout_ms))
    check(fork_ms < timeout_ms / 2, "fork() waited %.1f ms for the busy thread" % fork_ms)
    check(f["child_sockets"] == "0", "the child inherited %s socket(s)" % f["child_sockets"])
    check(len(child) == 1 and len(child[0]) == 64, out)
    check(d.status()["requests"] == 1, d.status())


def test_no_daemon_fails_fast(tmp):
    for sock in (tmp / "nothing-here.sock", None):
        env = dict(os.environ, SEEDD_SOCKET=sock or tmp / "stale.sock")
        if sock is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.bind(tmp / "stale.sock")
            s.close()
        for mode, rc in (("fail", -1), ("failpoll", -0x3C)):
            out = subprocess.run(target(SCTOOL, mode, "64"), capture_output=True, text=True,
                                 env=env, timeout=10).stdout
            f = dict(kv.split("=") for kv in out.split())
            check(int(f["rc"]) == rc, "%s: %s" % (mode, out))
            check(float(f["ms"]) < 100, "%s took %s ms without a daemon" % (mode, f["ms"]))
            check(f["zeroed"] == "1", "%s left bytes in the buffer" % mode)
            if mode == "failpoll":
                check(f["olen"] == "0", out)


def hung_server(path, mode):
    """A listening socket that never answers. mode "accepts" takes the
    connections (and holds them, unanswered), "listens" leaves them queued,
    "full" is a listen queue with no room left: a connect(2) has to wait."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(path)
    held = []
    s.listen(0 if mode == "full" else 16)
    if mode == "full":
        for _ in range(8):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            c.setblocking(False)
            try:
                c.connect(path)
            except BlockingIOError:
                c.close()
                break
            held.append(c)
        else:
            raise AssertionError("the listen queue of %s never filled" % path)
    if mode == "accepts":
        def loop():
            while True:
                try:
                    c, _ = s.accept()
                    held.append(c)
                except OSError:
                    return
        threading.Thread(target=loop, daemon=True).start()
    return s, held


HUNG_MODES = ("accepts", "listens", "full")


def test_hung_daemon_times_out(tmp):
    for mode in HUNG_MODES:
        path = tmp / ("hung-%s.sock" % mode)
        s, held = hung_server(path, mode)
        env = dict(os.environ, SEEDD_SOCKET=path, SEEDD_TIMEOUT_MS="300")
        out = subprocess.run(target(SCTOOL, "fail", "64"), capture_output=True, text=True, env=env,
                             timeout=10).stdout
        f = dict(kv.split("=") for kv in out.split())
        check(f["rc"] == "-1" and f["zeroed"] == "1", out)
        ms = float(f["ms"])
        check(290 <= ms < 1000, "hung daemon (%s): failed after %.1f ms, timeout 300"
              % (mode, ms))
        s.close()
        for c in held:
            c.close()


def test_interrupted_call_times_out(tmp):
    """A signal (SIGALRM every 10 ms, no SA_RESTART) interrupts the call again and
    again, and it still fails at its deadline: a retry after EINTR must not start
    the socket's timeout over. A call that did would never end while no two
    signals are a timeout apart, so the storm must cover the call; how densely
    it does is the machine's (a process that waits for the CPU gets its signals
    late and merged, and qemu-user at load got 6 in 1.3 s). sctool measures the
    longest gap without a signal: while it is not below half the timeout, the
    run proves nothing and the next doubles the timeout. A live daemon still
    answers."""
    for mode in HUNG_MODES:
        timeout_ms = 300
        while True:
            path = tmp / ("intr-%s-%d.sock" % (mode, timeout_ms))
            s, held = hung_server(path, mode)
            env = dict(os.environ, SEEDD_SOCKET=path, SEEDD_TIMEOUT_MS=str(timeout_ms))
            # Ten timeouts: as long as the signals keep coming, a call that
            # starts its timeout over would wait for ever.
            limit = max(10, timeout_ms / 100)
            try:
                r = subprocess.run(target(SCTOOL, "intr", "64", "10"), capture_output=True,
                                   text=True, env=env, timeout=limit)
            except subprocess.TimeoutExpired:
                raise AssertionError("%s: still waiting after %g s with a %d ms timeout: a retry "
                                     "after EINTR starts the timeout over"
                                     % (mode, limit, timeout_ms)) from None
            finally:
                s.close()
                for c in held:
                    c.close()
            f = dict(kv.split("=") for kv in r.stdout.split())
            check(f.get("rc") == "-1" and f["zeroed"] == "1",
                  "%s: %s%s" % (mode, r.stdout, r.stderr))
            ms, signals, gap = float(f["ms"]), int(f["signals"]), float(f["gap_ms"])
            if gap < timeout_ms / 2:
                break
            print("%s: %d signals in %.1f ms, %.1f ms without one: too few for a %d ms timeout"
                  % (mode, signals, ms, gap, timeout_ms))
            check(timeout_ms < 4800, "%s: the signals never came densely enough to interrupt a "
                  "call that starts its timeout over" % mode)
            timeout_ms *= 2
        # It waited for its deadline, and not for a second timeout after it.
        check(timeout_ms * 0.97 <= ms < 2 * timeout_ms,
              "hung daemon (%s), %d signals, at most %.1f ms apart: failed after %.1f ms, "
              "timeout %d" % (mode, signals, gap, ms, timeout_ms))
        print("%s: failed after %.1f ms, timeout %d ms, %d signals, at most %.1f ms apart"
              % (mode, ms, timeout_ms, signals, gap))
    d = Daemon(tmp).start()
    r = d.sctool("intr", "64", "1")
    f = dict(kv.split("=") for kv in r.stdout.split())
    check(f["rc"] == "64" and f["zeroed"] == "0", r.stdout)


def test_cancel_safe(tmp):
    """A thread cancelled while it waits for a mute daemon leaves no list node
    on its dead stack (glibc gives that stack to the next thread, whose 0xAA
    buffer the next request would write into) and no socket behind: the call
    is no cancellation point, so the thread is cancelled once it returns, at
    most its timeout later."""
    timeout_ms = 500
    d = Daemon(tmp).start()
    out = beside_mute_daemon(tmp, d, "cancel", "cancel", timeout_ms)
    print(out.strip())
    f = dict(kv.split("=") for kv in out.split())
    check(f["cancelled"] == "1", "the thread was not cancelled: %s" % out)
    check(f["read"] == "0", "the next request failed: %s" % out)
    check(f["intact"] == "1", "the next request wrote into the cancelled thread's stack, now "
          "the bystander's: %s" % out)
    # The main thread's cached connection to seedd, and nothing of the cancelled call.
    check(f["sockets"] == "1", "%s sockets open, the cancelled call's leaked: %s"
          % (f["sockets"], out))
    check(float(f["cancel_ms"]) < timeout_ms + 1000, "the cancellation waited %s ms"
          % f["cancel_ms"])


def test_one_deadline(tmp):
    """$SEEDD_TIMEOUT_MS bounds the whole call: a wait for room in a full
    listen queue and the wait for the reply share it, and so do a cached
    connection that the daemon reset and the one retry."""
    timeout_ms, stall = 2000, 1.5
    env = dict(os.environ, SEEDD_TIMEOUT_MS=str(timeout_ms))

    # A listen queue full for 1.5 s, then room for one connection that is never answered.
    path = tmp / "full.sock"
    s, held = hung_server(path, "full")
    p = subprocess.Popen(target(SCTOOL, "fail", "64"), stdout=subprocess.PIPE, text=True,
                         env=dict(env, SEEDD_SOCKET=path))
    time.sleep(stall)
    held.append(s.accept()[0])
    out = p.communicate(timeout=30)[0]
    f = dict(kv.split("=") for kv in out.split())
    print("listen queue full for %.1f s: failed after %s ms, timeout %d ms"
          % (stall, f["ms"], timeout_ms))
    check(f["rc"] == "-1" and f["zeroed"] == "1", out)
    check(timeout_ms - 10 <= float(f["ms"]) < timeout_ms + 750,
          "a full listen queue and an unanswered request: %s ms, timeout %d"
          % (f["ms"], timeout_ms))
    s.close()
    for c in held:
        c.close()

    # A daemon that answers once, resets the cached connection 1.5 s into the
    # second request, and never answers the retry.
    path = tmp / "reset.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(path)
    s.listen(4)
    s.settimeout(30)
    retried = []

    def serve():
        c, _ = s.accept()
        c.settimeout(30)
        c.recv(100)
        c.send(msg(OP_GET, b"\x42" * 64))
        c.recv(100)
        time.sleep(stall)
        c.close()
        retried.append(s.accept()[0])
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    out = subprocess.run(target(SCTOOL, "failagain", "64"), capture_output=True, text=True,
                         env=dict(env, SEEDD_SOCKET=path), timeout=30).stdout
    t.join(30)
    lines = out.strip().splitlines()
    check(len(lines) == 2 and len(lines[0]) == 128, "the first read failed: %s" % out)
    f = dict(kv.split("=") for kv in lines[1].split())
    print("cached connection reset after %.1f s: failed after %s ms, timeout %d ms"
          % (stall, f.get("ms"), timeout_ms))
    check(f.get("rc") == "-1" and f["zeroed"] == "1", out)
    check(retried, "the library did not retry on a new connection")
    check(timeout_ms - 10 <= float(f["ms"]) < timeout_ms + 750,
          "a reset cached connection and an unanswered retry: %s ms, timeout %d"
          % (f["ms"], timeout_ms))
    s.close()
    for c in retried:
        c.close()


def test_fork_storm(tmp):
    """4 threads read while the main thread forks 2,000 times: no child
    inherits a library socket that nothing tracks (it would hold a daemon
    slot until the idle timeout), whichever moment of a request the fork
    hits: socket(), connect(), the credential check, the close."""
    d = Daemon(tmp).start()
    r = d.sctool("forkstorm", 4, 2000, 32, timeout=170)
    f = dict(kv.split("=") for kv in r.stdout.split())
    print(r.stdout.strip())
    check(int(f["reads"]) > 0 and f["failed"] == "0", r.stdout)
    check(f["inherited"] == "0", "%s of %s children inherited a socket" % (f["inherited"],
                                                                           f["forks"]))


def test_low_fds(tmp):
    """A program started with stdout (or all of 0-2) closed: the library's
    socket is never one of them, so the program's own output never goes to
    seedd, and its next read works."""
    d = Daemon(tmp).start()
    for closed in ((1,), (0, 1, 2)):
        rfd, wfd = os.pipe()

        def close_std():
            for fd in closed:
                os.close(fd)
        p = subprocess.Popen(target(SCTOOL, "lowfds", "32", str(wfd)), env=d.client_env(),
                             pass_fds=(wfd,), preexec_fn=close_std)
        os.close(wfd)
        with os.fdopen(rfd) as f:
            out = f.read()
        check(p.wait(30) == 0, "sctool lowfds failed: %s" % out)
        print("fds %s closed: %s" % (closed, out.strip()))
        f = dict(kv.split("=") for kv in out.split())
        check(f["first"] == "32" and f["second"] == "32", "with %s closed: %s" % (closed, out))
        check(int(f["socket_fd"]) >= 3 and f["std_taken"] == str(3 - len(closed)),
              "with %s closed the library's socket is fd %s: %s" % (closed, f["socket_fd"], out))
        check(f["write1"] == "failed", "the program's write to fd 1 went somewhere: %s" % out)
    check(d.alive(), "seedd died")


def strace_calls(path):
    """[(name, args, ret)] of an strace -f -qq output file."""
    calls = []
    for line in open(path):
        m = re.match(r"\d+ +(\w+)\((.*)\) += (-?\w+)", line)
        if m:
            calls.append(m.groups())
    return calls


def first_read_window(strace, d, trace):
    """The system calls of one fresh `sctool read` from socket(2) to its reply."""
    # LeakSanitizer cannot run under ptrace; the other sanitizer builds' tests cover leaks.
    asan = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    # -s 0: no data in the trace, the seed least of all.
    r = subprocess.run([strace, "-f", "-qq", "-s", "0", "-o", trace, SCTOOL, "read", "32", "1"],
                       capture_output=True, text=True, env=d.client_env(ASAN_OPTIONS=asan),
                       timeout=60)
    check(r.returncode == 0, "sctool read failed under strace: %s" % r.stderr)
    calls = strace_calls(trace)
    first = next((i for i, c in enumerate(calls) if c[0] == "socket" and "AF_UNIX" in c[1]), None)
    check(first is not None, "no socket(AF_UNIX, ...) in %s" % calls)
    fd = calls[first][2]
    last = next((i for i, c in enumerate(calls) if i > first and c[1].startswith(fd + ",")
                 and c[0] in ("recvfrom", "recvmsg", "recv", "read") and c[2].isdigit()
                 and int(c[2]) > 0), None)
    check(last is not None, "no reply read on fd %s: %s" % (fd, calls[first:]))
    return calls[first:last + 1]


def test_first_read_system_calls(tmp):
    """A process's first read: the socket is blocking from socket(2) on, its
    timeouts set before connect(2), so no fcntl() follows and a full listen
    queue is waited out in connect() itself; the request goes out right after
    the daemon's credentials are checked (and the socket's identity taken).
    The system calls from socket() to the reply show it.

    A connect() that took more than a millisecond of the deadline (under
    strace on a busy machine it may) has the library cut both timeouts to what
    is left: that pair, and nothing else, may come between, and at least one
    of a few runs must go without it."""
    strace = need_strace("sctool")
    d = Daemon(tmp).start()
    lean = None
    for attempt in range(5):
        window = first_read_window(strace, d, tmp / ("client-%d.strace" % attempt))
        names = [c[0] for c in window]
        print("socket() to the reply: %s" % " ".join(names))
        check("SOCK_NONBLOCK" not in window[0][1], "a non-blocking socket: %s" % (window[0],))
        waits = [c for c in window if c[0] in ("fcntl", "fcntl64", "poll", "ppoll", "nanosleep",
                                               "clock_nanosleep")]
        check(not waits, "fcntl, poll or sleep on the way to the first reply: %s" % waits)
        conn = names.index("connect")
        timeouts = [c for c in window[:conn] if c[0] == "setsockopt" and "TIMEO" in c[1]]
        check(len(timeouts) == 2, "not both socket timeouts set before connect(): %s" % window)
        send = next(i for i, c in enumerate(window)
                    if c[0] in ("sendto", "sendmsg", "send", "write"))
        between = window[conn + 1:send]
        check(any(c[0] == "getsockopt" and "SO_PEERCRED" in c[1] for c in between),
              "the request went out before the credentials were checked: %s" % window)
        refit = [c for c in between if c[0] == "setsockopt" and "TIMEO" in c[1]]
        check(len(refit) in (0, 2), "one socket timeout cut, not both: %s" % between)
        # geteuid: a daemon that is not root is compared with the caller's own uid.
        check(all((c[0] == "getsockopt" and "SO_PEERCRED" in c[1]) or "stat" in c[0]
                  or c[0] == "geteuid" or c in refit for c in between),
              "more than the credential check, the identity and a cut of the timeouts "
              "between connect() and the request: %s" % between)
        if not refit:
            lean = attempt
            break
    check(lean is not None, "every run cut the timeouts after connect(): connect() never "
          "took less than a millisecond, or the cut is not conditional")
    print("run %d went from connect() to the request with the credential check alone" % lean)


def test_malformed_datagrams(tmp):
    d = Daemon(tmp).start()
    cases = [
        (b"\x01", ST_MALFORMED),
        (msg(OP_GET, GET_REQ.pack(0), length=0xFFFFFFFF), ST_MALFORMED),
        (msg(OP_PUT, length=0x7FFFFFFF), ST_MALFORMED),
        (msg(OP_PUT, b"\x55" * 70000), ST_MALFORMED),
        (msg(99), ST_OPCODE),
        (msg(OP_STATUS, version=7), ST_VERSION),
        (msg(OP_GET, GET_REQ.pack(0)), ST_RANGE),
        (msg(OP_GET, GET_REQ.pack(MAX_PAYLOAD + 1)), ST_RANGE),
        (msg(OP_GET, b"\1\0"), ST_MALFORMED),
    ]
    for data, status in cases:
        s = connect(d.sock)
        s.send(data)
        _, st, payload = parse_reply(s.recv(65536))
        check(st == status, "%r...: status %d, expected %d" % (data[:12], st, status))
        check(payload == b"")
        # The same connection still works after an error reply.
        raw_get(s, 16)
        s.close()
    # An empty message closes the connection; a peer closing mid-request is harmless.
    s = connect(d.sock)
    s.send(b"")
    check(s.recv(100) == b"", "empty message did not close the connection")
    for _ in range(50):
        s = connect(d.sock)
        s.send(get_req(1024))
        s.close()
    s = connect(d.sock)
    s.send(msg(OP_GET, length=GET_REQ.size))
    s.close()
    check(d.alive(), "seedd died")
    d.sctool("read", 64, 5)
    st = d.status()
    check(st["clients"] == 1, "connections leaked: %s" % st)
    check(d.stop() == 0)


def twin(tmp, name, seed, ident):
    """A seedd whose only entropy is a copy of seed (and the machine id ident)."""
    os.mkdir(tmp / name, 0o700)
    seed_file = os.path.join(tmp / name, "seedfile")
    write_seed(seed_file, seed)
    return Daemon(tmp, "--no-platform-entropy", "--machine-id-file", ident, seed_file=seed_file,
                  sock=os.path.join(tmp / name, "s.sock")).start()


def put_on_psa(tmp, seed, ident):
    """Mbed TLS 4 with its platform source: seedd cannot leave it out, so the
    twins cannot exist, and says so before it touches the seed file; a PUT
    is taken. (What a PUT does to the NV seed PSA reads: tests/unit/test-pool-psa.c.)"""
    os.mkdir(tmp / "refused", 0o700)
    seed_file = os.path.join(tmp / "refused", "seedfile")
    write_seed(seed_file, seed)
    code, log = Daemon(tmp, "--no-platform-entropy", "--machine-id-file", ident,
                       seed_file=seed_file, sock=os.path.join(tmp / "refused", "s.sock")
                       ).run_to_exit()
    check(code == 1 and "--no-platform-entropy cannot be honoured" in log and
          "MBEDTLS_PSA_BUILTIN_GET_ENTROPY" in log, "%d %s" % (code, log))
    check(read_file(seed_file) == seed, "the refusal touched the seed file")
    d = Daemon(tmp, "--machine-id-file", ident).start()
    d.sctool("write", 64)
    d.sctool("write", 3000)
    check(d.status()["requests"] == 1 + 3, d.status())
    check(len(d.sctool("read", 64, 2).stdout.split()) == 2 and d.stop() == 0)
    print("PSA build: --no-platform-entropy refused, seed file untouched; PUTs taken")


def test_put_mixes(tmp):
    """Two daemons from byte-identical seed files without platform entropy: a
    PUT to one makes what it serves and stores next differ from the other's.
    The control, without the PUT, shows they are equal otherwise."""
    seed = os.urandom(64)
    ident = write_machine_id(tmp / "machine-id", "0123456789abcdef" * 2)
    if os.environ.get("SEEDD_MBEDTLS_BACKEND") == "psa":
        return put_on_psa(tmp, seed, ident)
    for put in (False, True):
        a, b = (twin(tmp, "%s-%d" % (n, put), seed, ident) for n in ("a", "b"))
        if put:
            a.sctool("write", 64)
            a.sctool("write", 3000)
            check(a.status()["requests"] == 1 + 3, a.status())
        out_a = a.sctool("read", 64, 2).stdout.split()
        out_b = b.sctool("read", 64, 2).stdout.split()
        check(len(out_a) == len(out_b) == 2, "reads: %s %s" % (out_a, out_b))
        check(a.stop() == 0 and b.stop() == 0, "seedd did not stop cleanly")
        stored_a, stored_b = read_file(a.seed_file), read_file(b.seed_file)
        print("%s: %s / %s" % ("PUT to a" if put else "no PUT", out_a[0][:16], out_b[0][:16]))
        if put:
            check(out_a[0] != out_b[0] and out_a[1] != out_b[1], "a PUT did not change the output")
            check(stored_a != stored_b, "a PUT did not change the next stored seed")
        else:
            check(out_a == out_b, "identical seeds without a PUT served different bytes")
            check(stored_a == stored_b, "identical seeds without a PUT stored different seeds")


def test_entropy_poll_with_path(tmp):
    d = Daemon(tmp).start()
    a = d.sctool("poll", 128).stdout.strip()
    b = d.sctool("poll", 128).stdout.strip()
    check(len(a) == 256 and a != b)


def test_idle_reconnect(tmp):
    """The daemon closes idle connections; the library reconnects transparently."""
    d = Daemon(tmp, "--idle-timeout", "1").start()
    s = connect(d.sock)
    time.sleep(1.6)
    check(s.recv(100) == b"", "idle connection not closed")
    out = d.sctool("read", 32, 3, 1500).stdout.split()
    check(len(out) == 3 and len(set(out)) == 3, out)
    st = d.status()
    # The start-up probe's may have closed idle too, or ended itself first.
    check(st["requests"] == 3 and st["idle_closed"] >= 2 and st["pid"] == d.proc.pid, st)


def listen_queue(name):
    """Connections waiting in the listen queue of the socket bound as name (ss(8)).
    seedd binds the bare name inside its socket directory, so that is the
    address ss shows, and the caller picks a name no other seedd uses. Not by
    pid (ss -p): seedd is not dumpable, so only root sees which process owns it."""
    lines = subprocess.run(["ss", "-xlH"], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    out = [f for f in (l.split() for l in lines) if len(f) > 4 and f[4] == name]
    return int(out[0][2]) if out else 0


def test_max_clients(tmp):
    """At the limit a newcomer takes the place of the least recently used idle
    connection, whose peer sees the end of the stream; libseedclient re-makes
    such a connection on its next call. Only when every connection has a
    request waiting after one is answered (the daemon stopped while they
    queued them) is a newcomer refused with "busy". The test's user is the daemon's, which may use every
    slot and has no per-uid limit."""
    code, log = Daemon(tmp, "--max-clients", "4", "--max-clients-per-uid", "5").run_to_exit()
    check(code == 2 and "--max-clients-per-uid 5 is more than --max-clients 4" in log, log)

    name = "max-clients-%d-%s.sock" % (os.getpid(), os.path.basename(tmp.path))
    d = Daemon(tmp, "--max-clients", "3", sock=tmp / name).start()
    # Only the status query's own connection left: the start-up probe's is gone.
    wait_for(lambda: d.status()["clients"] <= 1, 30, "the start-up probe's connection to close")
    held = [connect(d.sock) for _ in range(3)]
    for s in held + [held[0]]:
        raw_get(s, 8)
    # held[1] is now the least recently used.
    extra = connect(d.sock)
    raw_get(extra, 8)
    check(closed_by_daemon(held[1]), "the least recently used connection was not closed")
    for s in (held[0], held[2], extra):
        raw_get(s, 8)
    lines = [l for l in d.log().splitlines() if "closed the least recently used connection" in l]
    check(len(lines) == 1 and "uid %d (pid %d)" % (os.getuid(), os.getpid()) in lines[0] and
          lines[0].endswith("at --max-clients 3"), "\n".join(lines) or d.log())
    held[1].close()

    # A library client whose cached connection was closed is served again.
    p = subprocess.Popen(target(SCTOOL, "procs", "1", "8"), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=d.client_env())
    first = p.stdout.readline().strip()
    check(len(first) == 16, "no first read: %r" % first)
    check(closed_by_daemon(held[0]), "the client took nobody's place")
    held = [held[2], extra]
    for s in held:
        raw_get(s, 8)
    # The client's connection is now the least recently used: a newcomer closes it.
    held.append(connect(d.sock))
    raw_get(held[-1], 8)
    p.stdin.write("\n")
    p.stdin.flush()
    check(p.stdout.readline().strip() == "alive=1", "the client process died")
    p.stdin.close()
    out = p.stdout.read().split()
    check(p.wait(30) == 0 and len(out) == 3 and out[0] == "again" and out[2] == "failed=0",
          "reading on an evicted connection: %s" % out)
    check(out[1] != first and len(out[1]) == 16, out)
    # Its new connection took the place of held[0], the least recently used.
    check(closed_by_daemon(held[0]), "the client's second connection took nobody's place")
    held = held[1:]
    for s in held:
        raw_get(s, 8)

    # Nothing idle: the daemon stops while each connection queues requests. A
    # newcomer's search answers one request on each candidate (two searches, own
    # uid and all, per newcomer), and the loop one per wakeup: 10 outlast that.
    held.append(connect(d.sock))
    raw_get(held[2], 8)
    d.proc.send_signal(signal.SIGSTOP)
    try:
        for s in held:
            for _ in range(10):
                s.send(get_req(8))
        refused = connect(d.sock)
        refused.send(get_req(8))
        ctl = subprocess.Popen(target(SEEDCTL, "--socket", d.sock, "get"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        wait_for(lambda: listen_queue(name) >= 2, 30, "2 connections queued")
    finally:
        d.proc.send_signal(signal.SIGCONT)
    refused.settimeout(5)
    try:
        reply = refused.recv(100)
    except ConnectionResetError:
        reply = refused.recv(100)  # the refusal is queued behind the reset
    _, st, _ = parse_reply(reply)
    check(st == ST_BUSY, "a newcomer with every connection busy got status %d" % st)
    out, err = ctl.communicate(timeout=30)
    check(ctl.returncode == 1 and "Device or resource busy" in err, err)
    for s in held:
        for _ in range(10):
            _, st, payload = parse_reply(s.recv(100))
            check(st == ST_OK and len(payload) == 8, "a busy connection was not served")
    lines = [l for l in d.log().splitlines() if "refused a client" in l]
    check(len(lines) == 1 and "(uid %d, pid %d): too many clients" % (os.getuid(), os.getpid()) in lines[0],
          "\n".join(lines))
    for s in held:
        raw_get(s, 8)
    # Counted: the two refusals, the four evictions above and the status query's own.
    st = d.status()
    mine = [u for u in st["users"] if u["uid"] == os.getuid()]
    check(st["refused"] == 2 and st["evicted"] == 5 and st["idle_closed"] == 0, st)
    check(mine == [dict(uid=os.getuid(), clients=3, refused=2, evicted=5)], st["users"])


def test_version(tmp):
    """SEEDCLIENT_VERSION_* in the installed header and seedclient_version() at run
    time are the project's version, which meson.build alone writes."""
    want = os.environ["PROJECT_VERSION"]
    out = subprocess.run(target(SCTOOL, "version"), capture_output=True, text=True, timeout=30,
                         check=True).stdout
    f = dict(kv.split("=") for kv in out.split())
    major, minor, patch = (int(x) for x in want.split("."))
    number = "0x%06x" % (major << 16 | minor << 8 | patch)
    print("project %s: %s" % (want, out.strip()))
    check(f["header"] == want and f["number"] == number and f["library"] == number, out)
    check(os.path.basename(os.environ["LIBSEEDCLIENT"]) == "libseedclient.so." + want,
          "the library file is %s" % os.environ["LIBSEEDCLIENT"])


def test_last_error(tmp):
    """seedclient_last_error(): 0 before any call, the -errno of this thread's last
    failed call, 0 after a success, and another thread's calls leave it alone."""
    d = Daemon(tmp).start()
    env = dict(os.environ, SEEDD_SOCKET=tmp / "nothing-here.sock")
    out = subprocess.run(target(SCTOOL, "lasterror", "32", d.sock), capture_output=True,
                         text=True, timeout=30, env=env).stdout
    print(out.strip())
    f = {k: int(v) for k, v in (kv.split("=") for kv in out.split())}
    check(f == dict(initial=0, failed=-errno.ENOENT, thread=0, after_thread=-errno.ENOENT,
                    null=-errno.EINVAL, ok=0, last=0), out)


def proc_state(pid):
    """The state letter of a process (R, S, T, ...)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_idle_timer_rearmed(tmp):
    """A connection whose requests seedd answers while it looks for one to close
    for a newcomer (outside the connection's own wakeup) was just used: its idle
    timer starts again then, and a timeout that fell due meanwhile does not close
    it with a request unanswered. Made deterministic by stopping seedd while its
    idle timer falls due with requests and a newcomer waiting."""
    idle = 4
    d = Daemon(tmp, "--idle-timeout", str(idle), "--max-clients", "3").start()
    wait_for(lambda: d.status()["clients"] <= 1, 30, "the start-up probe's connection to close")
    # Only the newcomer's search for room may touch c: it is the least recently used.
    c = connect(d.sock)
    raw_get(c, 8)
    due = time.monotonic() + idle
    others = [connect(d.sock) for _ in range(2)]
    for s in others:
        raw_get(s, 8)
    d.proc.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: proc_state(d.proc.pid) == "T", 30, "seedd to stop")
        check(time.monotonic() < due, "the machine is too slow: %d s went by" % idle)
        newcomer = connect(d.sock)
        newcomer.send(get_req(8))
        for _ in range(2):
            c.send(get_req(8))
        # Past c's idle timeout, by the clock seedd's timer runs on.
        while time.monotonic() < due + 0.5:
            time.sleep(due + 0.5 - time.monotonic())
    finally:
        d.proc.send_signal(signal.SIGCONT)
    replies = []
    c.settimeout(10)
    try:
        for _ in range(2):
            _, st, payload = parse_reply(c.recv(100))
            replies.append(st == ST_OK and len(payload) == 8)
    except (ConnectionResetError, AssertionError) as e:
        replies.append("%s" % e)
    raw_get(newcomer, 8)
    check(replies == [True, True], "a connection with requests waiting, used by the search "
          "for room, was closed at its old idle timeout: %s" % replies)
    print("both requests of a connection that the search for room used as its idle timer fell "
          "due were answered")


def test_library_symbols(tmp):
    """Exports, dependencies and constructors of libseedclient.so, read with the
    target's binutils (NM, READELF: the cross file's in a cross build)."""
    lib = os.environ["LIBSEEDCLIENT"]
    nm = os.environ.get("NM", "nm")
    readelf = os.environ.get("READELF", "readelf")
    out = subprocess.run([nm, "-D", "--defined-only", lib], capture_output=True, text=True,
                         check=True).stdout
    versioned = [l.split()[-1].split("@@") for l in out.splitlines() if l.split()[1] in "TDBRW"]
    syms = {s for s, _ in versioned if s not in NODES}
    check(syms == EXPORTED, "exported: %s" % sorted(syms))
    for name, node in versioned:
        check(name in NODES or name in NODES[node], "%s is in version node %s" % (name, node))
    undef = subprocess.run([nm, "-D", "--undefined-only", lib], capture_output=True, text=True,
                           check=True).stdout
    dyn = subprocess.run([readelf, "-d", lib], capture_output=True, text=True, check=True).stdout
    needed = [l.split("[")[1].rstrip("]") for l in dyn.splitlines() if "(NEEDED)" in l]
    # Sanitizer builds add their runtimes and constructors; nothing else may appear.
    runtimes = [n for n in needed if re.match(r"lib(asan|ubsan)\.so", n)]
    needed = [n for n in needed if n not in runtimes]
    # glibc on ARM keeps the stack protector's canary in the dynamic loader
    # (x86 reads it from TLS): there libc's own ld-linux is needed too.
    if re.search(r"\b__stack_chk_guard@", undef):
        needed = [n for n in needed if not re.fullmatch(r"ld-linux-[a-z0-9_-]+\.so\.\d+", n)]
    check(needed == ["libc.so.6"], "libseedclient needs %s" % needed)
    check("Library soname: [libseedclient.so.0]" in dyn, dyn)
    if not runtimes:
        # No global constructors: only the toolchain's own frame_dummy entry, one pointer.
        header = subprocess.run([readelf, "-h", lib], capture_output=True, text=True,
                                check=True).stdout
        pointer = "4" if re.search(r"Class:\s+ELF32", header) else "8"
        sizes = re.findall(r"\(INIT_ARRAYSZ\)\s+(\d+) \(bytes\)", dyn)
        check(sizes in ([], [pointer]), "constructors in the library: INIT_ARRAYSZ %s" % sizes)


def sym_file_names():
    """The global names of client/libseedclient.sym."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "client", "libseedclient.sym")
    with open(path) as f:
        text = f.read()
    names = set()
    for body in text.split("global:")[1:]:
        body = body.split("local:", 1)[0].split("}", 1)[0]
        names |= {w.strip().rstrip(";") for w in body.split() if w.strip().rstrip(";")}
    return names


def test_static_library(tmp):
    """libseedclient.a defines exactly the shared library's exports as globals
    (common/'s helpers turned local, so they cannot clash with firmware names),
    and a client linked with it works against seedd."""
    nm = os.environ.get("NM", "nm")
    readelf = os.environ.get("READELF", "readelf")
    archive = os.environ.get("LIBSEEDCLIENT_A")
    if not archive:
        raise Skip("libseedclient.a is not built (-Dstatic_library=false)")
    static_tool = os.environ["SCTOOL_STATIC"]
    check(sym_file_names() == EXPORTED, "libseedclient.sym: %s" % sorted(sym_file_names()))
    out = subprocess.run([nm, "-g", "--defined-only", archive], capture_output=True, text=True,
                         check=True).stdout
    defined = {l.split()[2] for l in out.splitlines() if len(l.split()) == 3}
    check(defined == EXPORTED, "libseedclient.a defines %s" % sorted(defined))
    dyn = subprocess.run([readelf, "-d", static_tool], capture_output=True, text=True,
                         check=True).stdout
    check("libseedclient" not in dyn, "sctool-static loads libseedclient.so:\n%s" % dyn)

    d = Daemon(tmp).start()

    def static(*args):
        r = subprocess.run(target(static_tool, *args), capture_output=True, text=True,
                           timeout=60, env=d.client_env())
        check(r.returncode == 0, "sctool-static %s failed (%d): %s"
              % (args, r.returncode, r.stderr))
        return r.stdout.split()

    reads = static("read", 64, 3) + static("poll", 64)
    check(len(reads) == 4 and len(set(reads)) == 4 and all(len(x) == 128 for x in reads), reads)
    static("write", 64)
    forked = static("fork", 2, 32)
    check(len(forked) == 2 * (4 + 2) and len(set(forked[1::2])) == 6, forked)
    check(d.status()["requests"] == 4 + 1 + 6, d.status())
    check(d.stop() == 0)


def test_seedctl(tmp):
    d = Daemon(tmp).start()
    r = d.seedctl("get")
    check(r.returncode == 0 and len(r.stdout.strip()) == 64, r)
    r = d.seedctl("get", "--bytes", "3000")
    check(r.returncode == 0 and len(r.stdout.strip()) == 6000, r.stderr)
    r = subprocess.run(target(SEEDCTL, "--socket", d.sock, "get", "--raw", "--bytes", "100"),
                       capture_output=True, timeout=10)
    check(r.returncode == 0 and len(r.stdout) == 100)
    for bad in (["get", "--bytes", "0"], ["get", "--bytes", "x"], ["frobnicate"], [],
                ["status", "extra"], ["provision"], ["provision", tmp / "p", "--bytes", "48"]):
        r = d.seedctl(*bad)
        check(r.returncode == 2 and r.stderr, "%s: exit %d" % (bad, r.returncode))
    r = d.seedctl("status")
    check(r.returncode == 0 and "healthy" in r.stdout and d.seed_file in r.stdout, r.stdout)
    st = d.status()
    for k in ("version", "protocol", "seeded", "seed_file", "seed_size", "last_save_unix",
              "last_save_ok", "uptime_s", "requests", "bytes_served", "clients"):
        check(k in st, "JSON lacks %s" % k)
    check(st["seed_file"] == d.seed_file and st["seed_size"] == 64 and st["seeded"])
    check(st["bytes_served"] == 32 + 3000 + 100, st)
    r = d.seedctl("wait", "--timeout", "2")
    check(r.returncode == 0)
    d.stop()
    r = d.seedctl("status")
    check(r.returncode == 3 and "cannot reach" in r.stderr, r)
    # Unreachable, --json still prints one object: where it asked and why that failed.
    r = d.seedctl("status", "--json")
    st = json.loads(r.stdout)
    check(r.returncode == 3 and st == {"socket": d.sock, "healthy": False, "errno": "ENOENT",
                                       "error": r.stderr.strip().split(": ", 2)[2]}, r)
    r = d.seedctl("get")
    check(r.returncode == 3, r)
    t0 = time.monotonic()
    r = d.seedctl("wait", "--timeout", "1")
    took = time.monotonic() - t0
    check(r.returncode == 3 and 0.9 < took < 3, "wait: exit %d after %.2fs" % (r.returncode, took))
    # wait returns once a daemon starting later answers.
    w = subprocess.Popen(target(SEEDCTL, "--socket", d.sock, "wait", "--timeout", "10"))
    time.sleep(0.3)
    Daemon(tmp).start()
    check(w.wait(10) == 0)


def test_seedctl_usage(tmp):
    """One error style, `seedctl: COMMAND: message`, then how to get help, exit 2;
    the hint it gives works, and so does `help`."""
    bad = [(["get", "--bytes", "0"], "get"), (["get", "--bytes"], "get"), (["get", "-x"], "get"),
           (["status", "--foo"], "status"), (["status", "--json=1"], "status"),
           (["status", "extra"], "status"), (["wait", "--timeout", "x"], "wait"),
           (["provision"], "provision"), (["provision", tmp / "p", "--bytes", "48"], "provision"),
           (["check"], "check"), (["help", "frobnicate"], None), (["frobnicate"], None), ([], None),
           (["--foo"], None), (["--socket"], None)]
    for args, cmd in bad:
        r = subprocess.run(target(SEEDCTL, *args), capture_output=True, text=True, timeout=10)
        lines = r.stderr.splitlines()
        prefix = "seedctl: %s: " % cmd if cmd else "seedctl: "
        hint = "Try 'seedctl help %s'." % cmd if cmd else "Try 'seedctl help'."
        check(r.returncode == 2 and not r.stdout, "%s: exit %d, stdout %r" % (args, r.returncode,
                                                                              r.stdout))
        check(len(lines) == 2 and lines[0].startswith(prefix) and lines[1] == hint,
              "%s: not %r + %r:\n%s" % (args, prefix, hint, r.stderr))
        check(len(lines[0]) > len(prefix) + 10 and not lines[0][len(prefix):].startswith(
            ("seedctl", cmd or "seedctl", "/")), "%s: %r" % (args, lines[0]))
        h = subprocess.run(target(SEEDCTL, *hint[5:-2].split()[1:]), capture_output=True,
                           text=True, timeout=10)
        check(h.returncode == 0 and h.stdout.startswith("Usage:") and
              (not cmd or (" %s " % cmd) in h.stdout), "the hint %r: %s" % (hint, h))
    # The option named as it was given, whatever getopt was in the middle of.
    for args, said in ((["status", "--json", "-jx"], "unknown option '-j'"),
                       (["status", "--jso=1"], "option '--jso' takes no argument"),
                       (["provision", "p", "--frob=1"], "unknown option '--frob'"),
                       (["wait", "--timeout"], "option '--timeout' needs an argument"),
                       (["-s"], "option '-s' needs an argument")):
        r = subprocess.run(target(SEEDCTL, *args), capture_output=True, text=True, timeout=10)
        check(r.returncode == 2 and r.stderr.splitlines()[0].endswith(": " + said),
              "%s: %r" % (args, r.stderr))
    full = subprocess.run(target(SEEDCTL, "--help"), capture_output=True, text=True, timeout=10)
    r = subprocess.run(target(SEEDCTL, "help"), capture_output=True, text=True, timeout=10)
    check(r.returncode == 0 and r.stdout == full.stdout and "help [COMMAND]" in r.stdout, r)
    cmds = set(re.findall(r"^  ([a-z]+) ", full.stdout.split("Commands:\n")[1].split("\n\n")[0],
                          re.M))
    check({"status", "get", "provision", "check", "wait", "help"} <= cmds, cmds)
    for cmd in cmds:
        for argv in (["help", cmd], [cmd, "--help"]):
            r = subprocess.run(target(SEEDCTL, *argv), capture_output=True, text=True,
                               timeout=10)
            check(r.returncode == 0 and r.stdout.startswith("Usage: seedctl") and
                  re.search(r"^  %s " % cmd, r.stdout, re.M), "%s: %s" % (argv, r))


def fake_daemon(path, status, uid=None):
    """A process listening on path that answers every request with an error
    status (none: hangs up), as uid when given: the credentials a client sees
    are those of whoever called listen(). Returns its pid."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(path)
    pid = os.fork()
    if pid:
        s.close()
        return pid
    try:
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        s.listen(16)
        while True:
            c, _ = s.accept()
            with c:
                while status is not None:
                    m = c.recv(65536)
                    if not m:
                        break
                    c.send(msg(HDR.unpack_from(m)[1], status=status))
    finally:
        os._exit(0)


def test_seedctl_refused(tmp):
    """A refusal is exit 4, for status, get and wait alike, and wait gives up at once;
    an absent daemon stays exit 3."""
    daemons = [("denied", None)]
    if os.geteuid() == 0:
        daemons.append(("untrusted", 54321))
    else:
        print("not root: the untrusted daemon (another uid) is left out")
    for name, uid in daemons:
        path = tmp / name + ".sock"
        pid = fake_daemon(path, ST_DENIED if uid is None else None, uid)
        try:
            wait_for(lambda: answers_connect(path), 10, "the fake daemon listening")
            for args in (["status"], ["status", "--json"], ["get"], ["get", "--raw"]):
                r = subprocess.run(target(SEEDCTL, "--socket", path, *args), capture_output=True,
                                   text=True, timeout=30)
                check(r.returncode == 4, "%s daemon, %s: exit %d, want 4 (refused): %s"
                      % (name, args, r.returncode, r.stderr))
                check(re.match(r"seedctl: %s: \S" % args[0], r.stderr) and
                      (("refuses this user" in r.stderr) if uid is None else
                       ("Operation not permitted" in r.stderr)), "%s, %s: %r"
                      % (name, args, r.stderr))
                if "--json" in args:
                    st = json.loads(r.stdout)
                    check(st["healthy"] is False and st["socket"] == path and
                          st["errno"] == ("EACCES" if uid is None else "EPERM"), st)
                else:
                    check(not r.stdout, "%s: stdout %r" % (args, r.stdout))
            t0 = time.monotonic()
            r = subprocess.run(target(SEEDCTL, "--socket", path, "wait", "--timeout", "60"),
                               capture_output=True, text=True, timeout=90)
            took = time.monotonic() - t0
            check(r.returncode == 4 and took < 30, "%s daemon: wait exit %d after %.1fs, want 4 "
                  "at once: %s" % (name, r.returncode, took, r.stderr))
            print("%s daemon: status, get exit 4; wait exit 4 after %.2fs of its 60" % (name, took))
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def answers_connect(path):
    try:
        connect(path).close()
        return True
    except OSError:
        return False


def test_seedctl_output_errors(tmp):
    """What cannot be written is an error: exit 1 and a message, never exit 0."""
    d = Daemon(tmp).start()
    for args in (["status"], ["status", "--json"], ["get"], ["get", "--raw", "--bytes", "9000"],
                 ["help"], ["--help"], ["--version"], ["status", "--help"]):
        with open("/dev/full", "w") as full:
            r = subprocess.run(target(SEEDCTL, "--socket", d.sock, *args), stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=30)
        cmd = args[0] if not args[0].startswith("--") else None
        want = "seedctl: %scannot write to standard output: %s" % (
            cmd + ": " if cmd else "", os.strerror(errno.ENOSPC))
        check(r.returncode == 1 and r.stderr.strip() == want, "%s > /dev/full: exit %d, %r"
              % (args, r.returncode, r.stderr))
    check(d.stop() == 0)


def fake_status_daemon(path, info, users=()):
    """Answers the STATUS requests on one connection to path with the packed info,
    and USERS requests with pages of users (dicts of wire.USER_FIELDS), from the
    host's Python: the target's seedctl must read the same layouts."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(path)
    s.listen(4)
    users = sorted(users, key=lambda u: u["uid"])

    def serve():
        c, _ = s.accept()
        with c:
            while True:
                req = c.recv(65536)
                if not req:
                    break
                version, op, _, _ = HDR.unpack_from(req)
                check(version == wire.VERSION and op in (OP_STATUS, OP_USERS), req)
                if op == OP_STATUS:
                    c.send(msg(OP_STATUS, info))
                    continue
                (start,) = wire.USERS_REQ.unpack_from(req, HDR.size)
                left = [u for u in users if u["uid"] >= start]
                page = left[:wire.USERS_MAX]
                c.send(msg(OP_USERS, wire.pack_users(page, more=len(left) > len(page))))
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return s, t


def test_status_layout(tmp):
    """Every field of the STATUS payload and of the USERS table, packed by the
    host and read by the built seedctl (the target's in a cross build),
    including 64-bit values beyond 32 bits, a last save after 2038, a table
    of two pages, and the shorter status of a daemon without the connection
    counters."""
    fields = dict(uptime_s=2**40 + 1, requests=2**33 + 2, bytes_served=2**50 + 3,
                  last_save_unix=4102444800, clients=7, seed_size=64, saves=2**35 + 5,
                  save_failures=2**36 + 6, refused=2**41 + 7, evicted=2**42 + 8,
                  idle_closed=2**43 + 9, pid=4000001, users=50)
    users = [dict(uid=1000 + 3 * i, clients=i % 3, refused=(2**40 + i) * (i % 2),
                  evicted=i % 5) for i in range(49)]
    users.append(dict(uid=wire.USERS_OTHERS, clients=0, refused=5, evicted=0))
    seed_file = "/var/lib/seedd/" + "s" * 200
    healthy = wire.STATUS_SEEDED | wire.STATUS_LAST_SAVE_OK
    for flags, error, rc in ((healthy, 0, 0), (wire.STATUS_SEEDED, 28, 1)):
        info = wire.pack_status(flags=flags, last_save_error=error, version="9.8.7",
                                seed_file=seed_file, **fields)
        check(wire.unpack_status(info) == dict(fields, flags=flags, last_save_error=error,
                                               version="9.8.7", seed_file=seed_file),
              "pack_status and unpack_status disagree")
        check(wire.unpack_users(wire.pack_users(users[:3], True)) == (users[:3], True),
              "pack_users and unpack_users disagree")
        for args in (["status", "--json"], ["status"]):
            path = tmp / "fake-%d-%d.sock" % (flags, len(args))
            s, t = fake_status_daemon(path, info, users)
            r = subprocess.run(target(SEEDCTL, "--socket", path, *args), capture_output=True,
                               text=True, timeout=30)
            t.join(10)
            s.close()
            check(r.returncode == rc, "%s: exit %d, expected %d: %s" % (args, r.returncode, rc,
                                                                        r.stderr))
            if "--json" in args:
                st = json.loads(r.stdout)
                for k, v in fields.items():
                    if k != "users":
                        check(st[k] == v, "%s: %r, packed %r" % (k, st[k], v))
                check(st["users"] == users, "users: %r" % st["users"])
                check(st["version"] == "9.8.7" and st["seed_file"] == seed_file, st)
                check(st["seeded"] and st["last_save_ok"] == (error == 0), st)
                check(st["last_save_error"] == (os.strerror(error) if error else ""), st)
                check(st["last_save_errno"] == ("ENOSPC" if error else ""), st)
            else:
                # 2100-01-01: a 32-bit time_t cannot hold it, so the number it is.
                check("2100-01-01 00:00:00 UTC" in r.stdout or
                      "4102444800 (Unix time)" in r.stdout, r.stdout)
                check(str(fields["bytes_served"]) in r.stdout, r.stdout)
                check(not error or "FAILED: %s (ENOSPC)" % os.strerror(error) in r.stdout,
                      r.stdout)
                check("pid:        4000001\n" in r.stdout and
                      "%d refused, %d closed for newcomers, %d closed idle"
                      % (fields["refused"], fields["evicted"], fields["idle_closed"])
                      in r.stdout, r.stdout)
                listed = [u for u in users if u["refused"] or u["evicted"]]
                for u in listed:
                    who = "others:" if u["uid"] == wire.USERS_OTHERS else "uid %d:" % u["uid"]
                    check("  %-11s %d refused, %d closed for newcomers, %d connected\n"
                          % (who, u["refused"], u["evicted"], u["clients"]) in r.stdout,
                          "%s not listed: %s" % (who, r.stdout))
                check(len(re.findall(r"^  (uid \d+|others):", r.stdout, re.M)) == len(listed),
                      r.stdout)

    # A daemon without the connection counters: the older, shorter status.
    old = wire.pack_status(flags=healthy, version="0.9", seed_file=seed_file,
                           **dict(fields, refused=0, evicted=0, idle_closed=0, pid=0,
                                  users=0))[:wire.STATUS_V1_SIZE]
    for args in (["status", "--json"], ["status"]):
        path = tmp / "fake-v1-%d.sock" % len(args)
        s, t = fake_status_daemon(path, old)
        r = subprocess.run(target(SEEDCTL, "--socket", path, *args), capture_output=True,
                           text=True, timeout=30)
        t.join(10)
        s.close()
        check(r.returncode == 0, "%s on an older daemon: exit %d: %s" % (args, r.returncode,
                                                                         r.stderr))
        if "--json" in args:
            st = json.loads(r.stdout)
            check(st["clients"] == 7 and st["requests"] == fields["requests"], st)
            check(all(st[k] is None for k in ("pid", "refused", "evicted", "idle_closed",
                                                "users")), st)
        else:
            check("clients:    7\n" in r.stdout and "pid:" not in r.stdout, r.stdout)


def status_of(tmp, name, *args, **fields):
    """seedctl status ARGS against a fake daemon answering with fields: the result."""
    path = tmp / name + ".sock"
    s, t = fake_status_daemon(path, wire.pack_status(**fields))
    r = subprocess.run(target(SEEDCTL, "--socket", path, "status", *args), capture_output=True,
                       timeout=30)
    t.join(10)
    s.close()
    return r


# Strings that are not UTF-8, and some that are, by the rule each tests.
NOT_UTF8 = [b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf",
            b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf0\x80\x80\xaf", b"\xf4\x90\x80\x80",
            b"\xf5\x80\x80\x80", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc3"]
UTF8 = [b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xed\x9f\xbf", b"\xee\x80\x80",
        b"\xf4\x8f\xbf\xbf", b"\x7f", b"\"", b"\\", b"\n", b"\x1b[31m", b"\t"]


def test_status_json_any_bytes(tmp):
    """status --json is valid JSON (strict UTF-8, RFC 8259) whatever bytes the seed
    file's path holds: each maximal ill-formed part is one U+FFFD, as Python's own
    decoder replaces it; the human output shows those bytes and controls as \\xNN."""
    for i, b in enumerate(NOT_UTF8 + UTF8):
        path = b"/var/lib/seedd/a" + b + b"z" + b
        healthy = wire.STATUS_SEEDED | wire.STATUS_LAST_SAVE_OK
        r = status_of(tmp, "json%d" % i, "--json", flags=healthy, seed_file=path, version="1")
        check(r.returncode == 0, "%r: exit %d: %s" % (b, r.returncode, r.stderr))
        try:
            text = r.stdout.decode("utf-8")
        except UnicodeDecodeError as e:
            raise AssertionError("%r: the output is not UTF-8: %s: %r" % (b, e, r.stdout))
        check(not re.search(r"\\ud[89a-f]", text, re.I), "%r: a surrogate escape: %s" % (b, text))
        st = json.loads(text)
        want = path.decode("utf-8", "replace")
        check(st["seed_file"] == want, "%r: seed_file %r, want %r" % (b, st["seed_file"], want))
        check(("\ufffd" in want) == (b in NOT_UTF8), "%r: the test's own list is wrong" % b)
        r = status_of(tmp, "human%d" % i, flags=healthy, seed_file=path, version="1")
        line = [l for l in r.stdout.split(b"\n") if l.startswith(b"  seed file:  ")]
        check(r.returncode == 0 and len(line) == 1, "%r: %r" % (b, r.stdout))
        if b in NOT_UTF8 or b[0] < 0x20 or b == b"\x7f":
            check(b"\\x%02x" % b[0] in line[0] and b not in line[0], "%r: %r" % (b, line[0]))
        else:
            check(b"/a" + b + b"z" + b + b" (" in line[0], "%r: %r" % (b, line[0]))
    print("%d ill-formed and %d well-formed byte strings: valid JSON, shown escaped"
          % (len(NOT_UTF8), len(UTF8)))
    # And from the real daemon, on a state directory whose name is not UTF-8.
    name = b"state-\xff\xc3(\xed\xa0\x80-\n"
    state = os.path.join(os.fsencode(tmp.path), name)
    os.mkdir(state, 0o700)
    d = Daemon(tmp, seed_file=os.fsdecode(os.path.join(state, b"seedfile"))).start()
    r = subprocess.run(target(SEEDCTL, "--socket", d.sock, "status", "--json"),
                       capture_output=True, timeout=30)
    st = json.loads(r.stdout.decode("utf-8"))
    want = os.path.join(os.fsencode(tmp.path), name, b"seedfile").decode("utf-8", "replace")
    check(r.returncode == 0 and st["seed_file"] == want, "%r, want %r" % (r.stdout, want))
    r = subprocess.run(target(SEEDCTL, "--socket", d.sock, "status"), capture_output=True,
                       timeout=30)
    check(b"/state-\\xff\\xc3(\\xed\\xa0\\x80-\\x0a/seedfile (64 bytes)\n" in r.stdout, r.stdout)
    check(d.stop() == 0)


def test_status_human(tmp):
    """status names the socket it asked, also to a caller the daemon tells little,
    and the uptime in days, hours, minutes and seconds."""
    healthy = wire.STATUS_SEEDED | wire.STATUS_LAST_SAVE_OK
    for secs, words in ((0, "0s"), (59, "59s"), (3600, "1h"), (90061, "1d 1h 1min 1s"),
                        (86400 * 400 + 120, "400d 2min")):
        r = status_of(tmp, "up%d" % secs, flags=healthy, uptime_s=secs, version="1")
        out = r.stdout.decode()
        check(r.returncode == 0 and "\n  uptime:     %s\n" % words in out, "%d s: %s" % (secs, out))
        check("\n  socket:     %s\n" % (tmp / "up%d.sock" % secs) in out, out)
    r = status_of(tmp, "limited", flags=healthy | wire.STATUS_LIMITED, version="1")
    out = r.stdout.decode()
    check("\n  socket:     %s\n" % (tmp / "limited.sock") in out and "withheld" in out, out)
    r = status_of(tmp, "limited-json", "--json", flags=healthy | wire.STATUS_LIMITED, version="1")
    st = json.loads(r.stdout)
    check(st["socket"] == tmp / "limited-json.sock" and st["limited"] and
          st["last_save_errno"] is None, st)


def test_provision(tmp):
    p = tmp / "new-seed"
    r = subprocess.run(target(SEEDCTL, "provision", p), capture_output=True, text=True)
    check(r.returncode == 0, r.stderr)
    first = read_file(p)
    check(len(first) == 64 and os.stat(p).st_mode & 0o777 == 0o600)
    r = subprocess.run(target(SEEDCTL, "provision", p), capture_output=True, text=True)
    check(r.returncode == 1 and "--force" in r.stderr, r)
    check(read_file(p) == first, "overwritten without --force")
    r = subprocess.run(target(SEEDCTL, "provision", p, "--force", "--bytes", "32"),
                       capture_output=True, text=True)
    check(r.returncode == 0 and len(read_file(p)) == 32, r.stderr)
    check(sorted(os.listdir(tmp.path)) == ["new-seed", "new-seed.lock"], os.listdir(tmp.path))
    # The daemon accepts what provision wrote, and provision refuses a file in use.
    d = Daemon(tmp, "--no-create", seed_file=p).start()
    r = subprocess.run(target(SEEDCTL, "provision", p, "--force"), capture_output=True, text=True)
    check(r.returncode == 1 and "in use" in r.stderr, r)
    check(d.stop() == 0, "seedd did not stop cleanly")
    r = subprocess.run(target(SEEDCTL, "provision", os.path.join(tmp.path, "no-dir", "seed")),
                       capture_output=True, text=True)
    check(r.returncode == 1 and "no-dir" in r.stderr, r)


if __name__ == "__main__":
    main(globals())
