#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Secrets hygiene: no seed bytes in logs, no core dump, locked DRBG memory; valgrind."""

import os
import shutil
import signal
import subprocess

import seeddtest
from seeddtest import (OP_GET, OP_PUT, OP_STATUS, Daemon, check, closed_by_daemon, connect, msg,
                       raw_get, wait_for)
from faultlib import check_seedfile, fault_env

WINDOW = 8


def windows(secret):
    """Every 8-byte window of a secret, raw and as hex in both cases."""
    for i in range(len(secret) - WINDOW + 1):
        w = secret[i:i + WINDOW]
        yield w
        yield w.hex().encode()
        yield w.hex().upper().encode()


def check_no_secret(text, secrets, where):
    for s in secrets:
        for w in windows(s):
            check(w not in text, "%s holds seed bytes %r" % (where, w))


def comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def serve_some(daemon):
    """Serves bytes every way there is; returns them."""
    served = []
    s = connect(daemon.sock)
    for n in (1, 16, 32, 64, 1024):
        served.append(raw_get(s, n))
    s.send(msg(OP_PUT, b"\x42" * 64))
    s.recv(4096)
    s.send(msg(OP_GET, b"\x00"))  # malformed
    s.recv(4096)
    s.close()
    r = daemon.sctool("read", 64, 20)
    served += [bytes.fromhex(l) for l in r.stdout.split()]
    r = daemon.seedctl("get", "--bytes", "64")
    check(r.returncode == 0, "seedctl get failed: %s" % r.stderr)
    served.append(bytes.fromhex(r.stdout.strip()))
    return served


def test_logs(tmp):
    old = seeddtest.write_seed(tmp / "seedfile")
    switch = tmp / "fault-on"
    daemon = Daemon(tmp, "--save-interval", "1",
                    env=fault_env(fault="rename", errno="EIO", switch=switch)).start()
    served = serve_some(daemon)
    # An error path logs too: a failed save, then recovery.
    open(switch, "w").close()
    wait_for(lambda: daemon.seedctl("status").returncode == 1, 10, "degraded")
    os.unlink(switch)
    wait_for(lambda: daemon.seedctl("status").returncode == 0, 10, "healthy")
    status = daemon.seedctl("status", "--json").stdout + daemon.seedctl("status").stdout
    check(daemon.stop() == 0, "seedd did not stop cleanly")
    seeds = [old, check_seedfile(daemon.seed_file)]
    log = daemon.log().encode()
    check(b"cannot save" in log, "the error path was not exercised")
    check_no_secret(log, served + seeds, "the log")
    check_no_secret(status.encode(), served + seeds, "seedctl status")
    print("%d served values, %d seeds: no 8-byte window of any in the log (%d bytes) or in "
          "status" % (len(served), len(seeds), len(log)))


def test_crash(tmp):
    pattern = open("/proc/sys/kernel/core_pattern").read().strip()
    if pattern.startswith("|") or "/" in pattern:
        raise seeddtest.Skip("core_pattern is %r, not a file in the cwd" % pattern)
    cwd = tmp / "cwd"
    os.mkdir(cwd)
    wrap = ["prlimit", "--core=unlimited", "--", "env", "--chdir=" + cwd]
    # Positive control: a dumpable process crashing the same way leaves a core.
    p = subprocess.Popen(wrap + ["sleep", "30"])
    wait_for(lambda: comm(p.pid) == "sleep", 30, "the control process to exec sleep")
    p.send_signal(signal.SIGSEGV)
    p.wait()
    control = os.listdir(cwd)
    check(control, "no core from the control process; cannot tell")
    for name in control:
        os.unlink(os.path.join(cwd, name))

    daemon = Daemon(tmp, wrapper=wrap).start()
    served = serve_some(daemon)
    with open("/proc/%d/status" % daemon.proc.pid) as f:
        st = dict(l.split(":", 1) for l in f if ":" in l)
    locked_kb = int(st["VmLck"].split()[0])
    check(locked_kb > 0, "no memory locked: VmLck %s" % st["VmLck"].strip())
    daemon.proc.send_signal(signal.SIGSEGV)
    daemon.proc.wait(10)
    # The kernel has written any core by the time the parent can reap the process.
    check(daemon.proc.returncode == -signal.SIGSEGV, "seedd exit %d" % daemon.proc.returncode)
    check(not os.listdir(cwd), "seedd left a core dump: %s" % os.listdir(cwd))
    check_no_secret(daemon.log().encode(), served + [check_seedfile(daemon.seed_file)], "the log")
    print("SIGSEGV: control process dumped %s, seedd dumped nothing; VmLck %d kB; log clean"
          % (control, locked_kb))


def test_valgrind(tmp):
    vg = shutil.which("valgrind")
    if not vg:
        raise seeddtest.Skip("valgrind is not installed")
    vlog = tmp / "valgrind.log"
    daemon = Daemon(tmp, "--max-clients", "4", "--idle-timeout", "1", "--save-interval", "1",
                    wrapper=[vg, "--error-exitcode=1", "--leak-check=full",
                             "--errors-for-leak-kinds=definite,indirect,possible",
                             "--log-file=" + vlog]).start(timeout=60)
    serve_some(daemon)
    # Bad input, refusals, an idle timeout and a periodic save, all under valgrind.
    s = connect(daemon.sock)
    for bad in (b"\x01", msg(9), msg(OP_GET, b"\x00\x00\x00\x00"), msg(OP_STATUS, b"x"),
                msg(OP_PUT, b"x" * 1100), msg(OP_GET, b"\x20\0\0\0", version=7)):
        s.send(bad)
        s.recv(4096)
    extra = [connect(daemon.sock) for _ in range(6)]
    # Past --max-clients 4 the oldest are evicted, the idle timeout closes the rest.
    for e in extra + [s]:
        check(closed_by_daemon(e, timeout=60), "a connection outlived the idle timeout")
        e.close()
    wait_for(lambda: daemon.status()["saves"] >= 2, 60, "a periodic save under valgrind")
    daemon.sctool("read", 32, 5, env=daemon.client_env(SEEDD_TIMEOUT_MS=10000))
    rc = daemon.stop(timeout=60)
    report = open(vlog).read()
    summary = [l for l in report.splitlines() if "ERROR SUMMARY" in l or "definitely" in l]
    check(rc == 0, "seedd under valgrind exited %s:\n%s" % (rc, report[-3000:]))
    check("ERROR SUMMARY: 0 errors" in report, "valgrind found errors:\n%s" % report[-3000:])
    print("valgrind: exit 0; %s" % " | ".join(l.split("== ", 1)[-1] for l in summary))


if __name__ == "__main__":
    seeddtest.main(globals())
