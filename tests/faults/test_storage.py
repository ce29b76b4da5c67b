#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Storage faults at start-up and during saves, and kill -9 at any moment."""

import errno
import json
import os
import random
import signal
import time

import seeddtest
from seeddtest import ConnectWatch, Daemon, check, connect, raw_get, wait_for
from faultlib import Mount, check_seedfile, fault_env, temp_files

# (call, errno, short write) tried at start-up and during periodic saves.
FAULTS = [
    ("open", "ENOSPC", False),
    ("open", "EACCES", False),
    ("open", "EROFS", False),
    ("write", "ENOSPC", False),
    ("write", "ENOSPC", True),
    ("write", "EIO", False),
    ("write", "EDQUOT", False),
    ("fsync", "EIO", False),
    ("rename", "EIO", False),
    ("rename", "EROFS", False),
    ("fsyncdir", "EIO", False),
]


def fault_kw(call, err, short):
    kw = {"fault": call, "errno": err}
    if short:
        kw["short"] = 1
    return kw


def start_refused(tmp, name, env, old, rename_done=False):
    """seedd under env must exit non-zero, serve nothing, and keep a valid seedfile."""
    d = os.path.join(tmp.path, name)
    os.makedirs(d, mode=0o700)
    seed = os.path.join(d, "seedfile")
    seeddtest.write_seed(seed, old)
    sock = os.path.join(d, "s.sock")
    daemon = Daemon(tmp, seed_file=seed, sock=sock, env=env)
    watch = ConnectWatch(sock)
    code, log = daemon.run_to_exit(timeout=20)
    served = watch.finish()
    check(code not in (0, None) and code > 0, "%s: seedd exited %s:\n%s" % (name, code, log))
    check(not served, "%s: seedd served %d replies before failing" % (name, len(served)))
    check("serving nothing" in log or "cannot" in log, "%s: no reason in the log:\n%s" % (name, log))
    now = check_seedfile(seed)
    if not rename_done:
        check(now == old, "%s: the old seedfile changed" % name)
    check(not temp_files(d), "%s: temp file left: %s" % (name, temp_files(d)))
    # And the next start, with the fault gone, works on what is there.
    daemon = Daemon(tmp, seed_file=seed, sock=sock).start()
    s = connect(sock)
    raw_get(s, 32)
    s.close()
    check(daemon.stop() == 0, "%s: restart did not stop cleanly" % name)
    check(check_seedfile(seed) != now, "%s: restart did not update the seed" % name)
    return log


def test_startup_faults(tmp):
    for i, (call, err, short) in enumerate(FAULTS):
        old = os.urandom(64)
        log = start_refused(tmp, "f%d" % i, fault_env(**fault_kw(call, err, short)), old,
                            rename_done=call == "fsyncdir")
        reason = os.strerror(getattr(errno, err))
        check(reason in log, "%s %s: log does not say '%s':\n%s" % (call, err, reason, log))
        print("start-up %-8s %-6s%s: exit non-zero, nothing served, seedfile valid"
              % (call, err, " (short)" if short else ""))


def test_startup_full_disk(tmp):
    m = Mount(tmp / "mnt", size="64k")
    try:
        d = os.path.join(m.path, "f")
        os.makedirs(d, mode=0o700)
        seed = os.path.join(d, "seedfile")
        old = seeddtest.write_seed(seed, os.urandom(32))
        # The lock file exists from an earlier run, as in real life.
        Daemon(tmp, seed_file=seed, sock=tmp / "full.sock").start().stop()
        old = check_seedfile(seed)
        m.fill()
        daemon = Daemon(tmp, seed_file=seed, sock=tmp / "full.sock")
        watch = ConnectWatch(daemon.sock)
        code, log = daemon.run_to_exit(timeout=20)
        check(not watch.finish(), "served on a full disk")
        check(code > 0, "seedd exited %s on a full disk:\n%s" % (code, log))
        check(os.strerror(errno.ENOSPC) in log, "no ENOSPC in the log:\n%s" % log)
        check(check_seedfile(seed) == old, "the old seedfile changed on a full disk")
        check(not temp_files(d), "temp file left on a full disk")
        os.unlink(os.path.join(m.path, "filler"))
        daemon = Daemon(tmp, seed_file=seed, sock=tmp / "full.sock").start()
        check(daemon.stop() == 0, "no clean restart once space is free")
    finally:
        m.umount()


def test_startup_readonly(tmp):
    m = Mount(tmp / "mnt")
    try:
        seed = os.path.join(m.path, "seedfile")
        seeddtest.write_seed(seed)
        # One clean run first, so that the lock file exists as in real life.
        Daemon(tmp, seed_file=seed, sock=tmp / "ro.sock").start().stop()
        old = check_seedfile(seed)
        m.remount("ro")
        daemon = Daemon(tmp, seed_file=seed, sock=tmp / "ro.sock")
        watch = ConnectWatch(daemon.sock)
        code, log = daemon.run_to_exit(timeout=20)
        check(not watch.finish(), "served from a read-only dir")
        check(code > 0, "seedd exited %s on a read-only dir:\n%s" % (code, log))
        check(check_seedfile(seed) == old, "seedfile changed on a read-only mount")
        print("read-only mount: exit %d: %s" % (code, log.strip().splitlines()[-1]))
    finally:
        m.umount()


def status(daemon):
    r = daemon.seedctl("status", "--json")
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}


def degraded_and_back(daemon, switch, reason, seed):
    before = check_seedfile(seed)
    open(switch, "w").close()
    rc, st = wait_for(lambda: (lambda r: r if r[0] == 1 else None)(status(daemon)), 10,
                      "status degraded")
    check(st["last_save_ok"] is False, "status JSON says last_save_ok: %r" % st)
    check(reason in json.dumps(st) or reason in daemon.seedctl("status").stdout,
          "status does not give the reason '%s': %r" % (reason, st))
    human = daemon.seedctl("status")
    check(human.returncode == 1 and reason in human.stdout,
          "seedctl status: exit %d, %r" % (human.returncode, human.stdout))
    # Still serving while degraded, and the seedfile on disk stays valid.
    s = connect(daemon.sock)
    for _ in range(50):
        raw_get(s, 64)
    s.close()
    now = check_seedfile(seed)
    os.unlink(switch)
    wait_for(lambda: status(daemon)[0] == 0, 10, "status healthy again")
    check(check_seedfile(seed) != before or now != before, "no new seed saved after recovery")


def test_save_faults(tmp):
    switch = tmp / "fault-on"
    for i, (call, err, short) in enumerate(FAULTS):
        seeddtest.write_seed(tmp / "seedfile")
        env = fault_env(switch=switch, **fault_kw(call, err, short))
        daemon = Daemon(tmp, "--save-interval", "1", env=env).start()
        degraded_and_back(daemon, switch, os.strerror(getattr(errno, err)), daemon.seed_file)
        check(daemon.stop() == 0, "seedd did not stop cleanly after recovery")
        log = daemon.log()
        check(log.count("cannot save") == 1, "expected one save error line, got:\n%s" % log)
        check("(still serving; retrying every 1s)" in log, "not the real interval:\n%s" % log)
        check("saved %s again" % daemon.seed_file in log, "no recovery line:\n%s" % log)
        print("periodic save %-8s %-6s%s: degraded with reason, served, recovered"
              % (call, err, " (short)" if short else ""))


def test_save_retry_interval(tmp):
    """The retry interval the log gives is the one used: every 10 s after a failure,
    or every --save-interval when that is shorter."""
    switch = tmp / "fault-on"
    for interval, retry in ((2, 2), (11, 10)):
        seeddtest.write_seed(tmp / "seedfile")
        env = fault_env(switch=switch, fault="rename", errno="EIO")
        daemon = Daemon(tmp, "--save-interval", str(interval), env=env).start()
        open(switch, "w").close()
        wait_for(lambda: status(daemon)[1].get("save_failures", 0) >= 1, interval + 20,
                 "a failed save")
        line = [l for l in daemon.log().splitlines() if "cannot save" in l]
        check(len(line) == 1 and line[0].endswith("(still serving; retrying every %ds)" % retry),
              "--save-interval %d: %s" % (interval, line))
        os.unlink(switch)
        check(daemon.stop() == 0, "seedd did not stop cleanly")
        print("--save-interval %d: %s" % (interval, line[0].split("seedd: ", 1)[1]))


def test_save_full_disk(tmp):
    m = Mount(tmp / "mnt", size="128k")
    try:
        seed = os.path.join(m.path, "seedfile")
        seeddtest.write_seed(seed)
        daemon = Daemon(tmp, "--save-interval", "1", seed_file=seed, sock=tmp / "s.sock").start()
        before = check_seedfile(seed)
        filler = m.fill()
        wait_for(lambda: status(daemon)[0] == 1, 10, "status degraded on a full disk")
        check(os.strerror(errno.ENOSPC) in daemon.seedctl("status").stdout, "no ENOSPC in status")
        s = connect(daemon.sock)
        raw_get(s, 1024)
        s.close()
        check_seedfile(seed)
        os.unlink(filler)
        wait_for(lambda: status(daemon)[0] == 0, 10, "status healthy once space is free")
        check(check_seedfile(seed) != before, "no new seed after the disk had space again")
        check(daemon.stop() == 0, "seedd did not stop cleanly")
    finally:
        m.umount()


def test_stop_save_faults(tmp):
    """A failed final save at SIGTERM is a warning, not a failed stop: exit 0."""
    switch = tmp / "fault-on"
    seed = tmp / "seedfile"
    for call, err, short in FAULTS:
        seeddtest.write_seed(seed)
        daemon = Daemon(tmp, env=fault_env(switch=switch, **fault_kw(call, err, short))).start()
        s = connect(daemon.sock)
        raw_get(s, 32)
        s.close()
        before = check_seedfile(seed)
        open(switch, "w").close()
        code = daemon.stop()
        os.unlink(switch)
        log = daemon.log()
        what = "%s %s%s" % (call, err, " (short)" if short else "")
        check(code == 0, "%s: the stop exited %s:\n%s" % (what, code, log))
        line = "seedd: warning: cannot save a new seed to %s at stop: %s; the next start derives " \
            "a fresh seed before serving" % (seed, os.strerror(getattr(errno, err)))
        check(line in log, "%s: no warning %r in:\n%s" % (what, line, log))
        check("still serving" not in log, "%s: the stop says it is still serving:\n%s"
              % (what, log))
        # The rename is done when only the directory's fsync fails.
        check(call == "fsyncdir" or check_seedfile(seed) == before,
              "%s: the seed file changed" % what)
        check(not temp_files(tmp.path), "%s: temp file left: %s" % (what, temp_files(tmp.path)))
        daemon = Daemon(tmp).start()
        s = connect(daemon.sock)
        raw_get(s, 32)
        s.close()
        check(check_seedfile(seed) != before, "%s: the next start kept the old seed" % what)
        check(daemon.stop() == 0, "%s: the next start did not stop cleanly" % what)
        print("final save %-8s %-6s%s: warning, exit 0, next start derives a fresh seed"
              % (call, err, " (short)" if short else ""))


def storage_calls(tmp):
    """Storage calls seedd makes: (at start-up, in total with one SIGTERM save)."""
    trace = tmp / "trace"
    seeddtest.write_seed(tmp / "seedfile")
    daemon = Daemon(tmp, "--no-platform-entropy", env=fault_env(trace=trace)).start()
    at_start = len(open(trace).readlines())
    daemon.stop()
    return at_start, len(open(trace).readlines())


def temp_ids(dirpath):
    """The temp files in dirpath by identity: a save makes each one anew (O_EXCL)."""
    ids = set()
    for name in temp_files(dirpath):
        try:
            st = os.lstat(os.path.join(dirpath, name))
        except FileNotFoundError:
            continue  # renamed by the save that made it
        ids.add((name, st.st_ino, st.st_ctime_ns))
    return ids


def test_kill9(tmp):
    iterations = int(os.environ.get("SEEDD_KILL9_ITERATIONS", "200"))
    rng = random.Random(os.environ.get("SEEDD_KILL9_SEED", str(time.time_ns())))
    at_start, total = storage_calls(tmp)
    check(at_start >= 4, "only %d storage calls at start-up?" % at_start)
    seed = tmp / "seedfile"
    seeddtest.write_seed(seed)
    seeds = [check_seedfile(seed)]
    served = set()
    n_served = 0
    kinds = {}
    for i in range(iterations):
        kind = ["point", "start", "stop", "point", "start", "stop", "point", "periodic"][i % 8]
        kinds[kind] = kinds.get(kind, 0) + 1
        env = {}
        if kind == "point":
            env = fault_env(kill=1 + (i // 8) % (total + 1))
        elif kind in ("start", "periodic"):
            env = fault_env(delay_us=rng.randrange(0, 3000))
        daemon = Daemon(tmp, "--no-platform-entropy", "--save-interval", "1", env=env)
        stale = temp_ids(tmp.path)
        daemon.start(wait=False)
        if kind == "start":
            time.sleep(rng.uniform(0, 0.06))
            daemon.kill9()
        else:
            try:
                daemon.wait_ready(10)
            except AssertionError:
                check(daemon.proc.returncode == -signal.SIGKILL,
                      "iteration %d: seedd failed to start:\n%s" % (i, daemon.log()))
            if daemon.alive():
                # A periodic save may be under way: its temp file is a new one.
                left = stale & temp_ids(tmp.path)
                check(not left, "iteration %d: temp file while serving: %s" % (i, sorted(left)))
                s = connect(daemon.sock)
                for _ in range(4):
                    b = raw_get(s, 32)
                    check(b not in served, "iteration %d: served bytes repeated" % i)
                    served.add(b)
                    n_served += 1
                s.close()
                if kind == "periodic":
                    time.sleep(rng.uniform(0.9, 1.3))
                else:
                    daemon.proc.send_signal(signal.SIGTERM)
                    time.sleep(rng.uniform(0, 0.02) if kind == "stop" else 0)
                if kind != "point":
                    daemon.kill9()
                daemon.proc.wait(10)
        now = check_seedfile(seed)
        if now != seeds[-1]:
            check(now not in seeds, "iteration %d: an old seed came back" % i)
            seeds.append(now)
    # The last word: a clean start after all that.
    daemon = Daemon(tmp, "--no-platform-entropy").start()
    check(not temp_files(tmp.path), "temp file after the final start")
    s = connect(daemon.sock)
    b = raw_get(s, 32)
    check(b not in served, "final start served a repeat")
    s.close()
    check(daemon.stop() == 0, "final stop failed")
    print("kill -9: %d iterations %s, %d storage calls per start + stop, %d distinct seeds, "
          "%d served replies, all distinct" % (iterations, kinds, total, len(seeds), n_served))


if __name__ == "__main__":
    seeddtest.main(globals())
