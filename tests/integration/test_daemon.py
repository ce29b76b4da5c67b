#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""seedd start-up, seedfile handling and lifecycle, on the real binary."""

import datetime
import os
import re
import signal
import socket
import stat
import subprocess
import time

from seeddtest import (ConnectWatch, Daemon, Skip, check, connect, get_req, main, need_strace,
                       parse_reply, raw_get, read_file, snapshot, wait_for, write_machine_id,
                       write_seed, SEEDCTL, SEEDD, ST_OK, WRAPPER, target)


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
    expect_refusal(tmp, setup, ["symbolic link"])
    check(len(read_file(target)) == 64)


def test_refuse_not_regular(tmp):
    expect_refusal(tmp, lambda p: os.mkfifo(p, 0o600), ["not a regular file"])


def test_refuse_owner(tmp):
    if os.geteuid() != 0:
        raise Skip("needs root to give the seedfile another owner")

    def setup(p):
        write_seed(p)
        os.chown(p, 65534, 65534)
    expect_refusal(tmp, setup, ["owned by uid 65534"])


def expect_refused_paths(d, words, paths, listed=()):
    """seedd exits 1 with words in its message; each of paths keeps its content, inode,
    mode, owner, links and mtime, and each directory in listed keeps its entries."""
    before = {p: snapshot(p) for p in paths}
    entries = {p: sorted(os.listdir(p)) for p in listed}
    code, log = d.run_to_exit()
    check(code == 1, "exit code %d, expected 1:\n%s" % (code, log))
    for w in words:
        check(w in log, "message lacks %r:\n%s" % (w, log))
    for p in paths:
        check(snapshot(p) == before[p], "%s was touched" % p)
    for p in listed:
        check(sorted(os.listdir(p)) == entries[p], "%s changed: %s -> %s"
              % (p, entries[p], sorted(os.listdir(p))))
    check(not os.path.lexists(d.sock), "socket left behind by a refused start")
    return log


def state_dir(tmp, name, mode=0o700, parent=None):
    """A directory with a seed file in it; returns (dir, seed file)."""
    path = os.path.join(parent or tmp.path, name)
    os.mkdir(path)
    os.chmod(path, mode)
    seed = os.path.join(path, "seedfile")
    write_seed(seed)
    return path, seed


def serves(tmp, seed, name):
    d = Daemon(tmp, seed_file=seed, sock=tmp / (name + ".sock")).start()
    d.sctool("read", 32, 1)
    check(d.stop() == 0, "seedd did not stop cleanly")


def test_refuse_state_dir(tmp):
    """The seed file's directory: not writable by group or others, owned by root or us."""
    for mode in (0o770, 0o720, 0o707, 0o702, 0o777, 0o1777):
        path, seed = state_dir(tmp, "m%o" % mode, mode)
        d = Daemon(tmp, seed_file=seed, sock=tmp / "s.sock")
        expect_refused_paths(d, [seed, "directory %s has mode %04o" % (path, mode),
                                 "group or others can write it"], [seed, path], [path])
    # The control: the same directory, made private, is served.
    os.chmod(path, 0o700)
    serves(tmp, seed, "control")
    if os.geteuid() != 0:
        return
    path, seed = state_dir(tmp, "other-owner")
    os.chown(path, 65534, 65534)
    d = Daemon(tmp, seed_file=seed, sock=tmp / "s.sock")
    expect_refused_paths(d, [seed, "directory %s is owned by uid 65534, not by root or uid 0"
                             % path], [seed, path], [path])
    os.chown(path, 0, 0)
    serves(tmp, seed, "owner-control")


def test_refuse_parent_dir(tmp):
    """A directory above the seed file's that group or others can write must be
    sticky and root's, like /tmp."""
    top = os.path.realpath(tmp / "open")
    os.mkdir(top)
    mid = os.path.join(top, "mid")
    os.mkdir(mid, 0o755)
    path, seed = state_dir(tmp, "state", parent=mid)
    for mode in (0o777, 0o775, 0o757, 0o2777):
        os.chmod(top, mode)
        d = Daemon(tmp, seed_file=seed, sock=tmp / "s.sock")
        expect_refused_paths(d, [seed, "directory %s above %s has mode %04o" % (top, path, mode),
                                 "not a sticky directory owned by root"], [seed, path], [path])
    os.chmod(top, 0o1777)
    if os.geteuid() != 0:
        # Only root can make a directory root's: sticky and ours, it is refused
        # like anyone else's (/tmp above, sticky and root's, is the control).
        d = Daemon(tmp, seed_file=seed, sock=tmp / "s.sock")
        expect_refused_paths(d, [seed, "directory %s above %s has mode 1777 and owner uid %d"
                                 % (top, path, os.geteuid())], [seed, path], [path])
        return
    serves(tmp, seed, "sticky")
    os.chown(top, 65534, 65534)
    d = Daemon(tmp, seed_file=seed, sock=tmp / "s.sock")
    expect_refused_paths(d, [seed, "directory %s above %s has mode 1777 and owner uid 65534"
                             % (top, path)], [seed, path], [path])
    # Another user's, even unwritable by anybody else: he may rename what is in it.
    os.chmod(top, 0o755)
    d = Daemon(tmp, seed_file=seed, sock=tmp / "s.sock")
    expect_refused_paths(d, [seed, "directory %s above %s is owned by uid 65534, not by root or "
                             "uid 0" % (top, path)], [seed, path], [path])
    os.chown(top, 0, 0)
    serves(tmp, seed, "root-owned")


def test_refuse_symlink_dir(tmp):
    """No component of the seed file's path is followed if it is a symbolic
    link: not the directory itself, not one above it, even one of root's."""
    up = tmp / "up"
    os.mkdir(up)
    real, seed = state_dir(tmp, "real", parent=up)
    link, uplink = tmp / "link", tmp / "uplink"
    os.symlink(real, link)
    os.symlink(up, uplink)
    for via, named in ((os.path.join(link, "seedfile"), link),
                       (os.path.join(uplink, "real", "seedfile"), uplink)):
        d = Daemon(tmp, seed_file=via, sock=tmp / "s.sock")
        expect_refused_paths(d, ["%s is a symbolic link; refusing to follow it" % named],
                             [seed], [real])
    serves(tmp, seed, "real")


def test_refuse_hard_link(tmp):
    d = Daemon(tmp)
    write_seed(d.seed_file)
    os.link(d.seed_file, tmp / "another-name")
    expect_refused_paths(d, [d.seed_file, "2 hard links"], [d.seed_file, tmp / "another-name"])
    os.unlink(tmp / "another-name")
    serves(tmp, d.seed_file, "control")
    # Its own temp name as the second one is a replacement without RENAME_NOREPLACE
    # cut between link and unlink: seedctl check accepts it, seedd removes the temp name.
    temp = tmp / ".seedfile.tmp"
    os.link(d.seed_file, temp)
    r = subprocess.run(target(SEEDCTL, "check", d.seed_file), capture_output=True, text=True)
    check(r.returncode == 0, "check with the temp name as second link: %s" % r.stderr)
    serves(tmp, d.seed_file, "temp name as second link")
    check(not os.path.exists(temp), "seedd left the stale temp name")
    check(os.stat(d.seed_file).st_nlink == 1, "seed file still has two names")


def test_refuse_lock_file(tmp):
    """The lock file must be a regular file of ours; seedd never opens, writes or
    creates through anything else."""
    target = tmp / "target"
    with open(target, "w") as f:
        f.write("someone else's\n")
    cases = [
        ("symlink", lambda p: os.symlink(target, p), "is a symbolic link"),
        ("dangling symlink", lambda p: os.symlink(tmp / "nowhere", p), "is a symbolic link"),
        ("fifo", lambda p: os.mkfifo(p, 0o600), "is not a regular file"),
        ("directory", lambda p: os.mkdir(p, 0o700), "Is a directory"),
    ]
    if os.geteuid() == 0:
        def other(p):
            with open(p, "w") as f:
                f.write("1\n")
            os.chown(p, 65534, 65534)
        cases.append(("other owner", other, "is owned by uid 65534, not by uid 0"))
    for what, setup, words in cases:
        path, seed = state_dir(tmp, what.replace(" ", "-"))
        lock = seed + ".lock"
        setup(lock)
        d = Daemon(tmp, seed_file=seed, sock=tmp / "s.sock")
        expect_refused_paths(d, ["lock file %s" % lock, words], [seed, lock, target], [path])
        check(not os.path.exists(tmp / "nowhere"), "%s: created the symlink's target" % what)


def test_refuse_machine_file(tmp):
    """<seedfile>.machine must be a regular file of ours."""
    target = tmp / "target"
    with open(target, "w") as f:
        f.write("%064x\n" % 7)
    cases = [
        ("symlink", lambda p: os.symlink(target, p), "is a symbolic link"),
        ("fifo", lambda p: os.mkfifo(p, 0o600), "is not a regular file"),
    ]
    if os.geteuid() == 0:
        def other(p):
            with open(p, "w") as f:
                f.write("%064x\n" % 7)
            os.chown(p, 65534, 65534)
        cases.append(("other owner", other, "is owned by uid 65534, not by uid 0"))
    for what, setup, words in cases:
        path, seed = state_dir(tmp, what.replace(" ", "-"))
        machine = seed + ".machine"
        setup(machine)
        d = Daemon(tmp, seed_file=seed, sock=tmp / "s.sock")
        expect_refused_paths(d, [seed, "%s %s" % (machine, words)], [seed, machine, target])


def test_refuse_long_name(tmp):
    """A seed file name whose lock, temp or machine names cannot exist (more
    than 242 bytes: ".NAME.machine.tmp" adds 13 to NAME_MAX's 255) is refused
    at the first start, by seedctl provision and by seedctl check, with a
    message, and nothing is created; 242 bytes work, again and again."""
    for n in (243, 247, 248, 250):
        d = os.path.join(tmp.path, "n%d" % n)
        os.mkdir(d, 0o700)
        seed = os.path.join(d, "s" * n)
        daemon = Daemon(tmp, seed_file=seed, sock=os.path.join(d, "s.sock"))
        code, log = daemon.run_to_exit()
        check(code == 1, "%d-byte name: exit %s, expected 1:\n%s" % (n, code, log))
        check("a file name of %d bytes is too long: at most 242" % n in log, log)
        check(os.listdir(d) == [], "%d-byte name: left %s" % (n, os.listdir(d)))
        r = subprocess.run(target(SEEDCTL, "provision", seed), capture_output=True, text=True)
        check(r.returncode == 1 and "is too long" in r.stderr, "provision: %s" % r.stderr)
        check(os.listdir(d) == [], "%d-byte name: provision left %s" % (n, os.listdir(d)))
        write_seed(seed)
        r = subprocess.run(target(SEEDCTL, "check", seed), capture_output=True, text=True)
        check(r.returncode == 1 and "is too long" in r.stderr, "check: %s" % r.stderr)
        print("%d-byte name: refused by seedd, provision and check" % n)
    d = os.path.join(tmp.path, "n242")
    os.mkdir(d, 0o700)
    seed = os.path.join(d, "s" * 242)
    machine = write_machine_id(tmp / "machine-id", "m" * 32)
    for _ in range(2):
        daemon = Daemon(tmp, "--machine-id-file", machine, seed_file=seed,
                        sock=os.path.join(d, "s.sock")).start()
        check(daemon.stop() == 0, "242-byte name: no clean stop:\n%s" % daemon.log())
        check("cannot" not in daemon.log(), daemon.log())
    check(os.path.isfile(seed + ".machine"), "242-byte name: no machine file")
    r = subprocess.run(target(SEEDCTL, "check", seed), capture_output=True, text=True)
    check(r.returncode == 0, "check of a 242-byte name: %s" % r.stderr)


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
        watch = ConnectWatch(d.sock)
        code, log = d.run_to_exit()
        served = watch.finish()
        check(code not in (0, 1, 2), "exit code %d for a storage failure:\n%s" % (code, log))
        check("serving nothing" in log and "seedfile" in log, log)
        check(served == [], "a client was served although the update failed")
        check(read_file(os.path.join(state, "seedfile")) == seed, "old seedfile changed")
        check(sorted(os.listdir(state)) == ["seedfile", "seedfile.lock"], os.listdir(state))
    finally:
        if mounted:
            subprocess.run(["umount", state])
        else:
            os.chmod(state, 0o700)


def test_first_gather_before_serving(tmp):
    """The seedfile has changed by the time the first request is answered. The
    socket listens from its bind on: a client that connects during the
    start-up waits in the queue until the seed is durable."""
    d = Daemon(tmp)
    old = write_seed(d.seed_file)
    d.start(wait=False)

    def connected():
        try:
            return connect(d.sock, timeout=30)
        except OSError:
            return None
    s = wait_for(connected, 30, "seedd to listen", step=0.001)
    s.send(get_req(64))
    _, st, got = parse_reply(s.recv(65536))
    new = read_file(d.seed_file)
    check(st == ST_OK and new != old and len(new) == 64,
          "seedfile unchanged when the first request was answered")
    check(got not in (old, new), "served the stored seed")
    check(d.stop() == 0)


def test_first_reply_after_update(tmp):
    """In seedd's own system calls, independent of timing: it listens before
    its first seed update (a second seedd finds it busy, and clients queue),
    and its first reply goes out only after the update's rename and the
    directory's fsync."""
    strace = need_strace("seedd")
    trace = tmp / "strace.out"
    d = Daemon(tmp, wrapper=[strace, "-f", "-qq", "-o", trace, "-e",
                             "trace=listen,rename,renameat,renameat2,fsync,sendto,sendmsg"],
               env={"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"})
    d.start()
    s = connect(d.sock)
    raw_get(s, 32)
    s.close()
    start_and_sigterm_running(d)
    calls = [l.split(None, 1)[1] for l in open(trace).read().splitlines() if re.match(r"\d+ ", l)]
    names = [c.split("(", 1)[0] for c in calls]
    listened = names.index("listen") if "listen" in names else None
    renamed = next((i for i, n in enumerate(names) if n.startswith("rename")), None)
    replied = next((i for i, n in enumerate(names) if n in ("sendto", "sendmsg")), None)
    check(None not in (listened, renamed, replied), "calls missing: %s" % names)
    synced = [i for i in range(renamed, replied) if names[i] == "fsync"]
    check(listened < renamed < replied and synced, "listen %s, rename %s, fsync %s, first "
          "reply %s: %s" % (listened, renamed, synced, replied, names))


def test_sigterm_saves(tmp):
    """SIGTERM and SIGINT: a final save, logged, and the signal named as kill(1) names it."""
    for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
        d = Daemon(tmp).start()
        after_start = read_file(d.seed_file)
        check(d.stop(sig) == 0, "%s exit %s" % (name, d.returncode))
        check(read_file(d.seed_file) != after_start, "no save on %s" % name)
        log = d.log()
        for line in ("seedd: received %s, stopping\n" % name,
                     "seedd: saved a new seed to %s at stop\n" % d.seed_file):
            check(line in log, "no %r in the log:\n%s" % (line, log))
        check(log.index("received") < log.index("at stop"), log)
        check(not os.path.exists(d.sock), "socket file left after a clean stop")


def test_sighup(tmp):
    """SIGHUP (logrotate, init systems) is logged and changes nothing: seedd
    goes on serving, and a stop after it still saves. It is ignored from
    before the seed file is first opened, so one during start-up cannot kill
    seedd either."""
    d = Daemon(tmp).start()
    pid = d.seedd_pid()
    for i in range(1, 4):
        os.kill(pid, signal.SIGHUP)
        wait_for(lambda: d.log().count("received SIGHUP") == i or not d.alive(), 10,
                 "SIGHUP %d logged" % i)
        check(d.alive(), "seedd died of SIGHUP (exit %s):\n%s" % (d.proc.poll(), d.log()))
        d.sctool("read", 32, 1)
    check(d.status()["healthy"], "not healthy after SIGHUP")
    line = [l for l in d.log().splitlines() if "received SIGHUP" in l][0]
    check(line.endswith("seedd: received SIGHUP: nothing to reload (options are read at start "
                        "only; restart seedd to change them); still serving"), line)
    after = read_file(d.seed_file)
    check(d.stop() == 0 and read_file(d.seed_file) != after, "no clean stop after SIGHUP")
    check("at stop" in d.log(), d.log())
    if WRAPPER or os.geteuid() != 0:
        print("SIGHUP x3: logged, still serving; the start-up order is traced on the host, "
              "as root (strace reads the arguments of the non-dumpable seedd's calls)")
        return
    strace = need_strace("seedd")
    trace = tmp / "strace.out"
    d = Daemon(tmp, wrapper=[strace, "-qq", "-o", trace, "-e", "trace=rt_sigaction,openat"],
               env={"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"})
    start_and_sigterm(d)
    calls = open(trace).read().splitlines()
    ignored = [i for i, c in enumerate(calls)
               if c.startswith("rt_sigaction(SIGHUP, {sa_handler=SIG_IGN")]
    opened = [i for i, c in enumerate(calls) if c.startswith("openat(") and "seedfile" in c]
    check(ignored and opened and ignored[0] < opened[0],
          "SIGHUP not ignored before the seed file is opened: %s" % calls)
    print("SIGHUP x3: logged, still serving; ignored from before the seed file is opened")


def test_log_timestamps(tmp):
    """Without the journal every line starts with the local time (RFC 3339, ms, offset)."""
    for tz, offset in (("UTC0", "+00:00"), ("XST-05:30", "+05:30"), ("XST+03", "-03:00")):
        t0 = time.time()
        d = Daemon(tmp, env={"TZ": tz}).start()
        check(d.stop() == 0)
        t1 = time.time()
        lines = d.log().splitlines()
        check(len(lines) >= 3, lines)
        for line in lines:
            m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}([+-]\d\d:\d\d)) seedd: \S",
                         line)
            check(m and m.group(2) == offset, "TZ=%s: %r" % (tz, line))
            when = datetime.datetime.fromisoformat(m.group(1)).timestamp()
            check(t0 - 1 <= when <= t1 + 1, "TZ=%s: %r is not between %.3f and %.3f"
                  % (tz, line, t0, t1))
    print("TZ=UTC0, XST-05:30, XST+03: every line stamped with the time and offset")


def strace_daemon(tmp, calls, *args):
    """A Daemon under strace -f -e trace=calls, and the trace's path. Skips in a
    cross build: there strace would trace qemu-user, not seedd."""
    strace = need_strace("seedd", arguments=True)
    trace = tmp / "strace.out"
    # LeakSanitizer cannot run under ptrace; the other sanitizer builds' tests cover leaks.
    asan = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    d = Daemon(tmp, *args, wrapper=[strace, "-f", "-qq", "-o", trace, "-e", "trace=" + calls],
               env={"ASAN_OPTIONS": asan})
    return d, trace


def start_and_sigterm(d):
    """Starts d, then signals seedd itself (its pid is in the lock file): a
    wrapper (strace, qemu) exits with seedd's status. Killing strace would
    leave its tracee running."""
    d.start()
    pid = d.seedd_pid()
    try:
        os.kill(pid, signal.SIGTERM)
        check(d.proc.wait(30) == 0, "exit %s" % d.proc.returncode)
    finally:
        if d.proc.poll() is None:
            os.kill(pid, signal.SIGKILL)


def start_and_sigterm_running(d):
    """start_and_sigterm() for a d that is running already."""
    pid = d.seedd_pid()
    try:
        os.kill(pid, signal.SIGTERM)
        check(d.proc.wait(30) == 0, "exit %s" % d.proc.returncode)
    finally:
        if d.proc.poll() is None:
            os.kill(pid, signal.SIGKILL)


def traced_calls(trace):
    """The calls of an strace -f log, without the pids."""
    with open(trace) as f:
        return [l.split(None, 1)[1].strip() for l in f if " " in l]


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
        d, trace = strace_daemon(tmp, "listen,rt_sigaction")
        handler = re.compile(r"rt_sigaction\(SIGTERM, \{sa_handler=0x")
    start_and_sigterm(d)
    lines = open(trace).read().splitlines() if trace else d.log().splitlines()
    calls = [l.split(None, 1)[1] for l in lines if re.match(r"\d+ ", l)]
    handled = [i for i, c in enumerate(calls) if handler.match(c)]
    listened = [i for i, c in enumerate(calls) if c.startswith("listen(")]
    check(handled and listened, "no SIGTERM handler or listen() in the trace: %s"
          % [c for c in calls if c.startswith(("rt_sigaction", "listen"))])
    check(handled[0] < listened[0], "listen() before the SIGTERM handler: %s" % calls)


def test_periodic_save(tmp):
    """With --save-interval 1 the seed file changes every second: polled until
    it has had three states (two periodic saves after the first)."""
    d = Daemon(tmp, "--save-interval", "1").start()
    t0 = time.monotonic()
    states = [read_file(d.seed_file)]

    def three_states():
        data = read_file(d.seed_file)
        if data not in states:
            states.append(data)
        return len(states) >= 3
    wait_for(three_states, 30, "three distinct seedfile states")
    print("three seedfile states in %.2f s at --save-interval 1" % (time.monotonic() - t0))
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


def test_socket_dir_refused(tmp):
    """A socket directory others can write is refused unless sticky and root's."""
    write_seed(tmp / "seedfile")
    for mode in (0o777, 0o770, 0o2777):
        sockdir = tmp / ("run%o" % mode)
        os.mkdir(sockdir)
        os.chmod(sockdir, mode)
        d = Daemon(tmp, sock=os.path.join(sockdir, "s.sock"))
        expect_refused_paths(d, ["socket directory %s has mode %04o" % (sockdir, mode),
                                 "not a sticky directory owned by root"], [sockdir], [sockdir])
    sticky = tmp / "sticky"
    os.mkdir(sticky)
    os.chmod(sticky, 0o1777)
    if os.geteuid() == 0:
        os.chown(sticky, 65534, 65534)
        d = Daemon(tmp, sock=os.path.join(sticky, "s.sock"))
        expect_refused_paths(d, ["socket directory %s has mode 1777 and owner uid 65534"
                                 % sticky], [sticky], [sticky])
        os.chown(sticky, 0, 0)
        # Root's sticky directory, like /tmp, is fine.
        d = Daemon(tmp, sock=os.path.join(sticky, "s.sock")).start()
        d.sctool("read", 32, 1)
        check(d.stop() == 0)


def test_socket_not_followed(tmp):
    """Whatever is at the socket path and is not a socket stays as it is."""
    write_seed(tmp / "seedfile")
    elsewhere = tmp / "elsewhere"
    os.mkdir(elsewhere, 0o700)
    stale = os.path.join(elsewhere, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(stale)
    s.close()
    regular = os.path.join(elsewhere, "file")
    with open(regular, "w") as f:
        f.write("keep me\n")
    cases = [
        ("symlink to a stale socket", lambda p: os.symlink(stale, p)),
        ("symlink to a file", lambda p: os.symlink(regular, p)),
        ("dangling symlink", lambda p: os.symlink(os.path.join(elsewhere, "none"), p)),
        ("regular file", lambda p: write_seed(p)),
        ("directory", lambda p: os.mkdir(p, 0o700)),
        ("fifo", lambda p: os.mkfifo(p, 0o600)),
    ]
    for i, (what, setup) in enumerate(cases):
        sock = tmp / ("s%d.sock" % i)
        setup(sock)
        d = Daemon(tmp, sock=sock)
        before = {p: snapshot(p) for p in (sock, stale, regular)}
        code, log = d.run_to_exit()
        check(code == 1 and "%s exists and is not a socket" % sock in log, "%s: %d %s"
              % (what, code, log))
        for p, snap in before.items():
            check(snapshot(p) == snap, "%s: %s was touched" % (what, p))
        check(not os.path.exists(os.path.join(elsewhere, "none")), "%s: followed" % what)


def test_socket_mode(tmp):
    """The socket is born 0666 whatever seedd's umask, and the umask is seedd's again
    afterwards: the seed file's temp file still gets exactly 0600."""
    for umask in ("077", "000"):
        d = Daemon(tmp, wrapper=["sh", "-c", 'umask %s; exec "$0" "$@"' % umask])
        d.start()
        mode = stat.S_IMODE(os.lstat(d.sock).st_mode)
        check(mode == 0o666, "umask %s: socket mode %04o" % (umask, mode))
        check(d.stop() == 0)


def test_socket_syscalls(tmp):
    """No chmod by path; the stale socket is checked, probed, removed and bound
    relative to the socket directory's fd, which the exit removes it from too."""
    d, trace = strace_daemon(tmp, "%file,fchdir,bind,connect,umask")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(d.sock)
    s.close()
    start_and_sigterm(d)
    calls = traced_calls(trace)
    name = os.path.basename(d.sock)
    mentions = [c for c in calls if name in c]
    check(not [c for c in mentions if re.match(r"(f?chmod|fchmodat)", c)],
          "a chmod of the socket: %s" % mentions)
    check(not [c for c in mentions if d.sock in c],
          "the socket used by its full path: %s" % mentions)
    fchdirs = [re.match(r"fchdir\((\d+)\)", c) for c in calls]
    fchdirs = [x.group(1) for x in fchdirs if x]
    check(len(fchdirs) == 2, "not one fchdir() into the socket directory and one back: %s"
          % calls)
    dirfd = fchdirs[0]
    check(any(c.startswith('newfstatat(%s, "%s", ' % (dirfd, name)) and
              "AT_SYMLINK_NOFOLLOW" in c for c in calls),
          "no fstatat() on the socket directory's fd: %s" % mentions)
    unlinks = [c for c in mentions if c.startswith("unlinkat(")]
    check(len(unlinks) == 2 and all(c.startswith('unlinkat(%s, "%s", 0)' % (dirfd, name))
                                    for c in unlinks),
          "stale socket and exit removals not both unlinkat() on the directory fd: %s" % mentions)
    binds = [i for i, c in enumerate(calls) if c.startswith("bind(") and name in c]
    check(len(binds) == 1 and 'sun_path="%s"' % name in calls[binds[0]],
          "bind() not on the bare name: %s" % mentions)
    check(calls[binds[0] - 1].startswith("umask(0111)"), "bind() not under umask 0111: %s"
          % calls[binds[0] - 2:binds[0] + 2])
    print("\n".join(c for c in calls if name in c or c.startswith(("fchdir", "umask"))))


def test_state_files_nofollow(tmp):
    """Every file in the state directory is opened relative to its fd with O_NOFOLLOW
    (seed file, lock, .machine, temp files), never by a path."""
    ident = write_machine_id(tmp / "machine-id", "0123456789abcdef0123456789abcdef")
    d, trace = strace_daemon(tmp, "%file,%desc", "--machine-id-file", ident)
    write_seed(d.seed_file)
    # A first run writes seedfile.machine, which the traced run then reads.
    Daemon(tmp, "--machine-id-file", ident).start().stop()
    start_and_sigterm(d)
    calls = traced_calls(trace)
    # openat2(RESOLVE_NO_SYMLINKS), or a walk of O_PATH opens where the kernel lacks it.
    dirs = [c for c in calls
            if c.startswith(('openat(AT_FDCWD, "%s", ' % tmp.path,
                             'openat2(AT_FDCWD, "%s", ' % tmp.path)) and "O_DIRECTORY" in c]
    check(dirs, "the state directory is not opened: %s" % calls)
    check(dirs[0].startswith("openat2(") and "RESOLVE_NO_SYMLINKS" in dirs[0] or
          "O_PATH" in dirs[0], "the state directory opened following symlinks: %s" % dirs[0])
    fd = dirs[0].rsplit("=", 1)[1].strip()
    names = ("seedfile", "seedfile.lock", "seedfile.machine", ".seedfile.tmp",
             ".seedfile.machine.tmp")
    pattern = r'openat\(\S+, "(%s)"' % "|".join(map(re.escape, names))
    files = [c for c in calls if re.match(pattern, c)]
    seen = {re.match(pattern, c).group(1) for c in files}
    check({"seedfile", "seedfile.lock", "seedfile.machine", ".seedfile.tmp",
           ".seedfile.machine.tmp"} == seen, "not all state files were opened: %s" % sorted(seen))
    bad = [c for c in files if not c.startswith("openat(%s, " % fd) or "O_NOFOLLOW" not in c]
    check(not bad, "opened without the directory fd %s or O_NOFOLLOW: %s" % (fd, bad))
    by_path = [c for c in calls if d.seed_file in c]
    check(not by_path, "the seed file used by its path: %s" % by_path)
    print("%d opens of %s, all openat(%s, NAME, ...|O_NOFOLLOW|...)" % (len(files), sorted(seen),
                                                                       fd))


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


def test_sealed_interchange(tmp):
    """A seed file sealed by another build of seedd opens here, and one this
    build sealed opens there, through seedctl check and the daemon itself.
    scripts/test.sh names the main build (Mbed TLS 2.28) when it tests seedd
    against an NV-seed Mbed TLS 3.6, and against 4.0, whose sealed format is
    the PSA backend's."""
    other = os.environ.get("SEEDD_OTHER_BUILD")
    if not other:
        raise Skip("SEEDD_OTHER_BUILD names no other build of seedd to exchange sealed files with")
    other_seedd = os.path.join(other, "daemon", "seedd")
    other_seedctl = os.path.join(other, "client", "seedctl")
    key = tmp / "key"
    write_seed(key, os.urandom(32))
    seed = tmp / "seedfile"

    def check_with(seedctl, who):
        r = subprocess.run([*seedctl, "check", "--key-file", key, seed], capture_output=True,
                           text=True)
        check(r.returncode == 0 and "encrypted" in r.stdout,
              "%s seedctl check: %d %s%s" % (who, r.returncode, r.stdout, r.stderr))

    r = subprocess.run([other_seedctl, "provision", "--key-file", key, seed],
                       capture_output=True, text=True)
    check(r.returncode == 0, "the other build's seedctl provision: %s" % r.stderr)
    check_with(target(SEEDCTL), "this build's")
    for who, program in (("this build's", None), ("the other build's", other_seedd),
                         ("this build's", None)):
        before = read_file(seed)
        d = Daemon(tmp, "--key-file", key, program=program).start()
        check(d.status()["seed_file"] == seed, "%s seedd: %s" % (who, d.status()))
        check(d.stop() == 0, "%s seedd did not stop cleanly" % who)
        check(read_file(seed) != before, "%s seedd did not reseal the seed file" % who)
        check_with([other_seedctl] if program is None else target(SEEDCTL),
                   "the other build's" if program is None else "this build's")
        print("%s seedd opened and resealed it" % who)


def test_mbedtls_flavour(tmp):
    """Built against an NV-seed Mbed TLS, seedd uses Mbed TLS's own NV seed machinery."""
    out = subprocess.run(target(SEEDD, "--version"), capture_output=True, text=True).stdout
    expect_nv = os.environ.get("SEEDD_EXPECT_NV_SEED") == "1"
    check(("NV seed" in out) == expect_nv, "%r, expected NV seed: %s" % (out, expect_nv))


if __name__ == "__main__":
    main(globals())
