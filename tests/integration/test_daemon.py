#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""seedd start-up, seedfile handling and lifecycle, on the real binary."""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

from seeddtest import (Daemon, Skip, check, connect, main, read_file, write_seed, raw_get,
                       SEEDD, WRAPPER, target)


def expect_refusal(tmp, content_setup, words, *args):
    """seedd must exit 1 naming the file and the reason, leaving it untouched."""
    d = Daemon(tmp, *args)
    content_setup(d.seed_file)
    before = read_file(d.seed_file) if os.path.isfile(d.seed_file) else None
    st = os.lstat(d.seed_file)
    code, log = d.run_to_exit()
    check(code == 1, "exit code %d, expected 1:\n%s" % (code, log))
    check(d.seed_file in log, "message does not name %s:\n%s" % (d.seed_file, log))
    for w in words:
        check(w in log, "message lacks %r:\n%s" % (w, log))
    if before is not None:
        check(read_file(d.seed_file) == before, "refused file was modified")
    st2 = os.lstat(d.seed_file)
    check((st.st_ino, st.st_mode, st.st_mtime_ns) == (st2.st_ino, st2.st_mode, st2.st_mtime_ns),
          "refused file was touched")
    check(not os.path.exists(d.sock), "socket left behind by a refused start")
    return log


def test_refuse_mode(tmp):
    expect_refusal(tmp, lambda p: write_seed(p, mode=0o644), ["mode 0644", "group or others"])


def test_refuse_size(tmp):
    expect_refusal(tmp, lambda p: write_seed(p, os.urandom(48)), ["48 bytes", "32 or 64"])


def test_refuse_all_equal(tmp):
    expect_refusal(tmp, lambda p: write_seed(p, b"\x41" * 64), ["all 64 bytes are equal"])


def test_refuse_symlink(tmp):
    target = tmp / "real-seed"

    def setup(p):
        write_seed(target)
        os.symlink(target, p)
    before = read_file(target) if os.path.exists(target) else None
    expect_refusal(tmp, setup, ["symbolic link"])
    check(before is None and len(read_file(target)) == 64)


def test_refuse_not_regular(tmp):
    expect_refusal(tmp, lambda p: os.mkfifo(p, 0o600), ["not a regular file"])


def test_refuse_owner(tmp):
    if os.geteuid() != 0:
        raise Skip("needs root to give the seedfile another owner")

    def setup(p):
        write_seed(p)
        os.chown(p, 65534, 65534)
    expect_refusal(tmp, setup, ["owned by uid 65534"])


def test_no_create(tmp):
    d = Daemon(tmp, "--no-create")
    code, log = d.run_to_exit()
    check(code == 1, "exit %d" % code)
    check("seedctl provision" in log and d.seed_file in log, log)
    check(not os.path.exists(d.seed_file), "--no-create created the file")


def test_create_missing(tmp):
    d = Daemon(tmp).start()
    st = os.stat(d.seed_file)
    check(st.st_mode & 0o777 == 0o600, "created with mode %o" % (st.st_mode & 0o777))
    check(st.st_size == 64, "created with %d bytes" % st.st_size)
    check("created seed file" in d.log(), d.log())
    check(d.stop() == 0)


def test_readonly_dir_fails_closed(tmp):
    """The first update cannot be written: exit non-zero, serve nothing, old file intact."""
    state = tmp / "state"
    os.mkdir(state, 0o700)
    mounted = False
    if os.geteuid() == 0:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "seedd-test", state])
        mounted = r.returncode == 0
    try:
        seed = write_seed(os.path.join(state, "seedfile"))
        d = Daemon(tmp, seed_file=os.path.join(state, "seedfile"))
        # The lock file must exist before the dir turns read-only.
        open(os.path.join(state, "seedfile.lock"), "w").close()
        os.chmod(os.path.join(state, "seedfile.lock"), 0o600)
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", state], check=True)
        elif os.geteuid() == 0:
            raise Skip("cannot mount a tmpfs to make a read-only dir")
        else:
            os.chmod(state, 0o500)
        served = []
        stop = threading.Event()

        def prober():
            while not stop.is_set():
                try:
                    s = connect(d.sock, timeout=0.2)
                    served.append(raw_get(s, 32))
                    s.close()
                except (OSError, AssertionError):
                    time.sleep(0.002)
        t = threading.Thread(target=prober)
        t.start()
        code, log = d.run_to_exit()
        stop.set()
        t.join()
        check(code not in (0, 1, 2), "exit code %d for a storage failure:\n%s" % (code, log))
        check("serving nothing" in log and "seedfile" in log, log)
        check(served == [], "a client was served although the update failed")
        check(read_file(os.path.join(state, "seedfile")) == seed, "old seedfile changed")
        check(os.listdir(state) == ["seedfile", "seedfile.lock"] or
              sorted(os.listdir(state)) == ["seedfile", "seedfile.lock"], os.listdir(state))
    finally:
        if mounted:
            subprocess.run(["umount", state])
        else:
            os.chmod(state, 0o700)


def test_first_gather_before_serving(tmp):
    """The seedfile has changed by the time the first connection is accepted."""
    d = Daemon(tmp)
    old = write_seed(d.seed_file)
    d.start(wait=False)
    deadline = time.monotonic() + 10
    s = None
    while time.monotonic() < deadline:
        try:
            s = connect(d.sock)
            break
        except OSError:
            time.sleep(0.001)
    check(s is not None, "never accepted a connection")
    new = read_file(d.seed_file)
    check(new != old and len(new) == 64, "seedfile unchanged when the socket accepted")
    got = raw_get(s, 64)
    check(got not in (old, new), "served the stored seed")
    check(d.stop() == 0)


def test_sigterm_saves(tmp):
    d = Daemon(tmp).start()
    after_start = read_file(d.seed_file)
    check(d.stop(signal.SIGTERM) == 0, "SIGTERM exit %s" % d.returncode)
    check(read_file(d.seed_file) != after_start, "no save on SIGTERM")
    d2 = Daemon(tmp).start()
    after2 = read_file(d2.seed_file)
    check(d2.stop(signal.SIGINT) == 0, "SIGINT exit %s" % d2.returncode)
    check(read_file(d2.seed_file) != after2, "no save on SIGINT")
    check(not os.path.exists(d.sock), "socket file left after a clean stop")


def test_sigterm_at_first_accept(tmp):
    """SIGTERM is handled before the socket listens: a client's first connect and
    an immediate SIGTERM give a clean stop with a save, never the default kill.
    The order of the system calls shows it, independent of timing. Under
    qemu-user, strace would see qemu's own calls (it installs every handler
    at start-up): qemu's guest trace (QEMU_STRACE) shows seedd's instead."""
    if WRAPPER and os.path.basename(WRAPPER[0]).startswith("qemu-"):
        d = Daemon(tmp, env={"QEMU_STRACE": "1"})
        # "PID rt_sigaction(SIGTERM,0x3fffeddc,0x3fffee68) = 0" in seedd's stderr.
        handler = re.compile(r"rt_sigaction\(SIGTERM,0x[0-9a-f]+,")
        trace = None
    elif WRAPPER:
        raise Skip("cannot trace the target's system calls through %s" % WRAPPER[0])
    else:
        strace = shutil.which("strace")
        if not strace:
            raise Skip("strace is not installed")
        trace = tmp / "strace.out"
        # LeakSanitizer cannot run under ptrace; the other sanitizer builds' tests cover leaks.
        asan = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        d = Daemon(tmp, wrapper=[strace, "-f", "-qq", "-e", "trace=listen,rt_sigaction", "-o",
                                 trace], env={"ASAN_OPTIONS": asan})
        handler = re.compile(r"rt_sigaction\(SIGTERM, \{sa_handler=0x")
    d.start()
    # Signal seedd itself (its pid is in the lock file); strace exits with its status.
    with open(d.seed_file + ".lock") as f:
        pid = int(f.read())
    try:
        os.kill(pid, signal.SIGTERM)
        check(d.proc.wait(10) == 0, "exit %s" % d.proc.returncode)
    finally:
        # Killing strace would leave its tracee running.
        if d.proc.poll() is None:
            os.kill(pid, signal.SIGKILL)
    lines = open(trace).read().splitlines() if trace else d.log().splitlines()
    calls = [l.split(None, 1)[1] for l in lines if re.match(r"\d+ ", l)]
    handled = [i for i, c in enumerate(calls) if handler.match(c)]
    listened = [i for i, c in enumerate(calls) if c.startswith("listen(")]
    check(handled and listened, "no SIGTERM handler or listen() in the trace: %s"
          % [c for c in calls if c.startswith(("rt_sigaction", "listen"))])
    check(handled[0] < listened[0], "listen() before the SIGTERM handler: %s" % calls)


def test_periodic_save(tmp):
    d = Daemon(tmp, "--save-interval", "1").start()
    states = {read_file(d.seed_file)}
    for _ in range(3):
        time.sleep(1.1)
        states.add(read_file(d.seed_file))
    check(len(states) >= 3, "only %d distinct seedfile states in 3.3 s" % len(states))
    st = d.status()
    check(st["saves"] >= 3 and st["last_save_ok"], st)
    check(d.stop() == 0)


def test_second_daemon_refused(tmp):
    a = Daemon(tmp).start()
    b = Daemon(tmp, sock=tmp / "other.sock")
    code, log = b.run_to_exit()
    check(code == 1, "second seedd exit %d:\n%s" % (code, log))
    check(a.seed_file in log and ("pid %d" % a.proc.pid) in log, log)
    check(a.alive(), "first daemon died")
    a.sctool("read", 32, 3)
    check(a.stop() == 0)


def test_socket_path_errors(tmp):
    d = Daemon(tmp, sock=os.path.join(tmp.path, "missing-dir", "seedd.sock"))
    code, log = d.run_to_exit()
    check(code == 1 and "directory does not exist" in log, log)

    not_sock = tmp / "file.sock"
    open(not_sock, "w").close()
    d = Daemon(tmp, sock=not_sock)
    code, log = d.run_to_exit()
    check(code == 1 and "not a socket" in log, log)

    live = Daemon(tmp).start()
    d = Daemon(tmp, seed_file=tmp / "other-seed", sock=live.sock)
    code, log = d.run_to_exit()
    check(code == 1 and "another daemon is listening" in log, log)
    live.sctool("read", 16, 1)


def test_stale_socket_replaced(tmp):
    d = Daemon(tmp)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(d.sock)
    s.close()
    check(os.path.exists(d.sock))
    d.start()
    d.sctool("read", 32, 2)
    check(d.stop() == 0)


def test_usage_errors(tmp):
    for args in (["--bogus"], ["--save-interval", "0"], ["--save-interval", "x"],
                 ["--max-clients", "0"], ["--idle-timeout", "-1"], ["extra"],
                 ["--allow-uid", "no-such-user-seedd"]):
        r = subprocess.run(target(SEEDD, *args), capture_output=True, text=True, timeout=10)
        check(r.returncode == 2, "%s: exit %d" % (args, r.returncode))
        check(r.stderr.strip() != "", "%s: no message" % args)
    r = subprocess.run(target(SEEDD, "--help"), capture_output=True, text=True)
    check(r.returncode == 0 and "--seed-file" in r.stdout)
    r = subprocess.run(target(SEEDD, "--version"), capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("seedd "))


def test_kill9_cycles(tmp):
    """20 x (start, get, kill -9): every served seed and every seedfile state distinct."""
    served, states = [], [write_seed(tmp / "seedfile")]
    for i in range(20):
        d = Daemon(tmp).start()
        states.append(read_file(d.seed_file))
        out = d.sctool("read", 64, 3).stdout.split()
        check(len(out) == 3)
        served += out
        d.kill9()
        check(d.returncode == -signal.SIGKILL)
    check(len(set(states)) == len(states), "a seedfile state repeated")
    check(len(set(served)) == len(served), "a served seed repeated")
    hexstates = {s.hex() for s in states}
    check(not hexstates & set(served), "a seedfile state was served")


def test_mbedtls_flavour(tmp):
    """Built against an NV-seed Mbed TLS, seedd uses Mbed TLS's own NV seed machinery."""
    out = subprocess.run(target(SEEDD, "--version"), capture_output=True, text=True).stdout
    expect_nv = os.environ.get("SEEDD_EXPECT_NV_SEED") == "1"
    check(("NV seed" in out) == expect_nv, "%r, expected NV seed: %s" % (out, expect_nv))


if __name__ == "__main__":
    main(globals())
