#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""seedd as a systemd service: units, socket activation, sd_notify, install, man pages.

No running systemd manager is needed: the units are checked offline with
systemd-analyze, socket activation is played by systemd-socket-activate, and
NOTIFY_SOCKET, LISTEN_FDS and JOURNAL_STREAM by the test itself.
"""

import glob
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time

from seeddtest import (Daemon, Skip, check, check_exposure, connect, get_req, main, need_strace,
                       parse_reply, raw_get, read_file, target, wait_for, write_seed, OP_GET, ST_OK,
                       SCTOOL, SEEDCTL, SEEDD)

ENV = os.environ
HAVE_SYSTEMD = ENV.get("HAVE_SYSTEMD") == "1"
UNIT_DIR = ENV.get("UNIT_DIR", "")
MAN_SRCDIR = ENV.get("MAN_SRCDIR", "")
MAN_BUILDDIR = ENV.get("MAN_BUILDDIR", "")
MAN_BUILT = ENV.get("MAN_BUILT") == "1"
SEEDFS = ENV.get("SEEDFS", "")
MAN_PAGES = {"seedd": "8", "seedctl": "1", "seedclient": "3"}
if SEEDFS:
    MAN_PAGES["seedfs"] = "8"
LIBFILE = "libseedclient.so." + ENV.get("PROJECT_VERSION", "")
# Keeps $$ (the wrapper's pid, which exec hands to seedd) for sd_* pid checks.
PID_WRAPPER = 'export %s=$$; exec "$0" "$@"'


def need_tool(name):
    path = shutil.which(name)
    if not path:
        raise Skip("%s is not installed (the systemd package provides it)" % name)
    return path


def need_libsystemd():
    if not HAVE_SYSTEMD:
        raise Skip("seedd is built without libsystemd (-Dsystemd=disabled)")


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    return subprocess.run([str(a) for a in argv], **kw)


def man_tree(tmp):
    """The built man pages laid out as a MANPATH, or None when not built."""
    if not MAN_BUILT:
        return None
    root = tmp / "man"
    for page, section in MAN_PAGES.items():
        os.makedirs(os.path.join(root, "man" + section), exist_ok=True)
        shutil.copy(os.path.join(MAN_BUILDDIR, "%s.%s" % (page, section)),
                    os.path.join(root, "man" + section))
    return root


def units_for_build(tmp):
    """The generated units, with ExecStart= pointing at the built seedd."""
    out = tmp / "units"
    os.makedirs(out)
    for unit in ("seedd.service", "seedd.socket"):
        with open(os.path.join(UNIT_DIR, unit)) as f:
            text = f.read()
        text, n = re.subn(r"^ExecStart=\S+/seedd ", "ExecStart=%s " % SEEDD, text, flags=re.M)
        check(unit != "seedd.service" or n == 1, "no ExecStart=.../seedd line in %s" % unit)
        with open(os.path.join(out, unit), "w") as f:
            f.write(text)
    return out


def analyze_verify(units, root=None, manpath=None):
    argv = ["systemd-analyze", "verify"]
    env = dict(ENV)
    if root:
        argv.append("--root=%s" % root)
    if manpath:
        env["MANPATH"] = manpath
    else:
        argv.append("--man=no")
    r = run(argv + units, env=env)
    out = (r.stdout + r.stderr).strip()
    # verify exits 0 on mere warnings (an unparsable value is "ignored"): none allowed.
    check(r.returncode == 0 and not out, "systemd-analyze verify: rc %d\n%s" % (r.returncode, out))


def test_units_verify(tmp):
    need_tool("systemd-analyze")
    units = units_for_build(tmp)
    analyze_verify([os.path.join(units, u) for u in ("seedd.socket", "seedd.service")],
                   manpath=man_tree(tmp))

    with open(os.path.join(units, "seedd.socket")) as f:
        sock = f.read()
    with open(os.path.join(units, "seedd.service")) as f:
        svc = f.read()
    for line in ("ListenSequentialPacket=/", "SocketMode=0666", "DefaultDependencies=no",
                 "Before=sockets.target", "WantedBy=sockets.target"):
        check(line in sock, "seedd.socket lacks %s" % line)
    for line in ("Type=notify", "WatchdogSec=", "StateDirectory=", "StateDirectoryMode=0700",
                 "RequiresMountsFor=/var/lib/", "User=seedd", "ProtectSystem=strict",
                 "PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX",
                 "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service",
                 "MemoryDenyWriteExecute=yes", "NoNewPrivileges=yes", "--seed-file /var/lib/"):
        check(line in svc, "seedd.service lacks %r" % line)

    # The snippets parse: sysusers in dry-run mode, tmpfiles against a scratch root.
    sysusers = os.path.join(UNIT_DIR, "seedd-sysusers.conf")
    if shutil.which("systemd-sysusers"):
        r = run(["systemd-sysusers", "--dry-run", "--root", tmp / "root", sysusers])
        check(r.returncode == 0 and "seedd" in r.stdout + r.stderr,
              "systemd-sysusers: %s%s" % (r.stdout, r.stderr))
    tmpfiles = os.path.join(UNIT_DIR, "seedd-tmpfiles.conf")
    if shutil.which("systemd-tmpfiles"):
        r = run(["systemd-tmpfiles", "--cat-config", "--root", tmp / "root", tmpfiles])
        check(r.returncode == 0 and "Failed" not in r.stderr, "systemd-tmpfiles: %s" % r.stderr)


def test_security_exposure(tmp):
    need_tool("systemd-analyze")
    unit = os.path.join(units_for_build(tmp), "seedd.service")
    r = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", unit])
    check_exposure(r, print)


def need_seedfs():
    if not SEEDFS:
        raise Skip("seedfs is not built (no libfuse3-dev, or -Dfuse=disabled)")


def seedfs_unit_for_build(tmp):
    """seedfs.service beside seedd.socket, its seedfs command lines on the built seedfs."""
    units = units_for_build(tmp)
    with open(os.path.join(UNIT_DIR, "seedfs.service")) as f:
        text = f.read()
    text, n = re.subn(r"^(Exec\w+=[+-]*)\S+/seedfs ", lambda m: m.group(1) + SEEDFS + " ", text,
                      flags=re.M)
    check(n == 3, "seedfs.service has %d seedfs command lines, not 3" % n)
    path = os.path.join(units, "seedfs.service")
    with open(path, "w") as f:
        f.write(text)
    return path, text


def test_seedfs_unit(tmp):
    need_seedfs()
    need_tool("systemd-analyze")
    unit, text = seedfs_unit_for_build(tmp)
    analyze_verify([unit, os.path.join(os.path.dirname(unit), "seedd.socket")],
                   manpath=man_tree(tmp))
    for line in ("Type=notify", "After=seedd.socket", "FileDescriptorStoreMax=1",
                 "ExecStartPre=+%s --fdstore --allow-other" % SEEDFS,
                 "ExecStopPost=+%s --unmount" % SEEDFS,
                 "CapabilityBoundingSet=CAP_SETUID CAP_SETGID\n", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "PrivateDevices=yes", "PrivateNetwork=yes",
                 "RestrictAddressFamilies=AF_UNIX", "SystemCallFilter=@system-service"):
        check(line in text, "seedfs.service lacks %r" % line)
    r = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", unit])
    check_exposure(r, print, unit="seedfs.service")


def socket_bound(path, proc):
    """Whether proc (systemd-socket-activate) has bound its socket at path; it
    must not have exited. A connect would start seedd, so it only looks."""
    check(proc.poll() is None, "systemd-socket-activate exited with %s" % proc.returncode)
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def test_socket_activation(tmp):
    need_tool("systemd-socket-activate")
    need_libsystemd()
    seed_file, sock = tmp / "seedfile", tmp / "activate.sock"
    old = write_seed(seed_file)
    log_path = tmp / "activate.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(["systemd-socket-activate", "--seqpacket", "-l", sock,
                                 *target(SEEDD, "--seed-file", seed_file, "--socket", sock)],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: socket_bound(sock, proc), 30, "a socket at %s" % sock)
        time.sleep(0.2)
        check(read_file(seed_file) == old, "the seed file changed before anyone connected")
        check(not os.path.exists(seed_file + ".lock"), "seedd started before anyone connected")

        # These clients connect while seedd is not even exec'ed yet: the kernel
        # queues them and seedd answers once its seed is updated.
        first = connect(sock, timeout=10)
        first.send(get_req(32))
        early = [subprocess.Popen(target(SCTOOL, "read", "64", "3"), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  env=dict(ENV, SEEDD_SOCKET=sock, SEEDD_TIMEOUT_MS="10000"))
                 for _ in range(8)]
        lines = []
        for p in early:
            out, err = p.communicate(timeout=30)
            check(p.returncode == 0, "an early client failed: %s" % err)
            lines += out.split()
        op, st, payload = parse_reply(first.recv(4096))
        check(op == OP_GET and st == ST_OK and len(payload) == 32, "first client: %d %d" % (op, st))
        lines.append(payload.hex())
        check(len(lines) == 25 and len(set(lines)) == 25, "early clients got %r" % lines)
        first.close()

        new = read_file(seed_file)
        check(new != old, "the seed file was not updated before serving")
        check(old.hex() not in lines and new.hex() not in lines, "a stored seed was served")

        # One at a time: each reply must come without waiting for the next
        # client (a blocking passed socket would stall the accept loop).
        for _ in range(3):
            s = connect(sock, timeout=5)
            check(len(raw_get(s, 32)) == 32)
            s.close()
        r = run(target(SEEDCTL, "--socket", sock, "status", "--json"))
        check(r.returncode == 0 and '"seeded":true' in r.stdout, "status: %s%s"
              % (r.stdout, r.stderr))

        proc.send_signal(signal.SIGTERM)
        check(proc.wait(10) == 0, "seedd exited with %s" % proc.returncode)
        check(os.path.exists(sock), "seedd removed the socket systemd owns")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        with open(log_path, "rb") as f:
            print(f.read().decode(errors="replace"))


class NotifySocket:
    """The manager's side of sd_notify(3): a datagram socket in the temp dir."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(path)

    def recv(self, timeout):
        """One message as a list of (key, value) pairs and its arrival time, or None."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        pairs = [tuple(l.split("=", 1)) for l in data.decode().split("\n") if "=" in l]
        return pairs, time.monotonic()

    def until(self, key, timeout=10):
        """Messages up to and including the first that sets key."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.recv(deadline - time.monotonic())
            if m is None:
                break
            got.append(m)
            if any(k == key for k, _ in m[0]):
                return got
        raise AssertionError("no %s= within %ss; got %r" % (key, timeout, got))

    def drain(self, seconds):
        got = []
        deadline = time.monotonic() + seconds
        while True:
            m = self.recv(deadline - time.monotonic())
            if m is None:
                return got
            got.append(m)


def keys(msgs, key):
    return [v for pairs, _ in msgs for k, v in pairs if k == key]


def test_notify(tmp):
    need_libsystemd()
    notify = NotifySocket(tmp / "notify")
    d = Daemon(tmp, wrapper=["sh", "-c", PID_WRAPPER % "WATCHDOG_PID"],
               env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"})
    old = write_seed(d.seed_file)
    d.start(wait=False)

    msgs = notify.until("READY")
    # The seed file must be durably updated by the time READY=1 is sent.
    check(read_file(d.seed_file) != old, "READY=1 before the seed file was updated")
    check(keys(msgs[:-1], "READY") == [], "READY=1 sent twice")
    check(keys(msgs, "WATCHDOG") == [], "WATCHDOG=1 before READY=1")
    d.wait_ready()
    msgs += notify.drain(1.2)
    status = keys(msgs, "STATUS")
    check(status and all(status), "no STATUS= line: %r" % msgs)
    check(any(d.sock in s for s in status), "STATUS= does not name the socket: %r" % status)
    print("STATUS=%s" % status[-1])

    # WATCHDOG_USEC=400 ms: a ping every 200 ms from the event loop, and never
    # a gap that would let the watchdog fire.
    pings = [t for pairs, t in msgs if ("WATCHDOG", "1") in pairs]
    check(len(pings) >= 3, "%d WATCHDOG=1 pings in 1.2 s at a 400 ms watchdog" % len(pings))
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    check(max(gaps) < 0.4, "watchdog pings %r s apart, the watchdog is 0.4 s" % gaps)

    d.proc.send_signal(signal.SIGTERM)
    msgs = notify.until("STOPPING")
    check(("STOPPING", "1") in msgs[-1][0], "STOPPING=%r" % keys(msgs, "STOPPING"))
    check(d.stop() == 0, "seedd exited with %s" % d.returncode)


def test_notify_watchdog_other_pid(tmp):
    """WATCHDOG_PID naming another process means the watchdog is not ours."""
    need_libsystemd()
    notify = NotifySocket(tmp / "notify")
    d = Daemon(tmp, env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "100000",
                         "WATCHDOG_PID": str(os.getpid())})
    write_seed(d.seed_file)
    d.start(wait=False)
    msgs = notify.until("READY")
    msgs += notify.drain(0.6)
    check(keys(msgs, "WATCHDOG") == [], "pinged a watchdog meant for pid %d" % os.getpid())
    check(d.stop() == 0)


def test_notify_absent(tmp):
    """Without NOTIFY_SOCKET, sd_notify is a no-op and seedd serves as usual."""
    d = Daemon(tmp, env={"WATCHDOG_USEC": "100000"})
    d.env.pop("NOTIFY_SOCKET", None)
    write_seed(d.seed_file)
    d.start()
    check(len(raw_get(connect(d.sock), 16)) == 16)
    check(d.stop() == 0)


def run_with_listen_fds(tmp, socks):
    """Runs seedd with socks passed as fds 3.. the way systemd passes them."""
    seed_file = tmp / "seedfile"
    old = write_seed(seed_file)
    redirs = " ".join("%d<&%d" % (3 + i, s.fileno()) for i, s in enumerate(socks))
    script = 'export LISTEN_PID=$$ LISTEN_FDS=%d; exec "$0" "$@" %s' % (len(socks), redirs)
    r = run(["sh", "-c", script, *target(SEEDD, "--seed-file", seed_file, "--socket",
                                         tmp / "unused.sock")],
            pass_fds=[s.fileno() for s in socks], timeout=20)
    check(read_file(seed_file) == old, "seedd touched the seed file")
    check(not os.path.exists(tmp / "unused.sock"), "seedd fell back to --socket")
    return r


def test_listen_fds_refused(tmp):
    need_libsystemd()
    cases = []
    for kind, listening in ((socket.SOCK_STREAM, True), (socket.SOCK_DGRAM, False),
                            (socket.SOCK_SEQPACKET, False)):
        s = socket.socket(socket.AF_UNIX, kind)
        s.bind(tmp / ("fd-%d-%d" % (kind, listening)))
        if listening:
            s.listen()
        cases.append(("%s%s" % (kind.name, "" if listening else " (not listening)"), s))
    for name, s in cases:
        r = run_with_listen_fds(tmp, [s])
        check(r.returncode == 1, "%s: seedd exited with %d, not 1: %s" % (name, r.returncode,
                                                                        r.stderr))
        check("not a listening AF_UNIX SOCK_SEQPACKET socket" in r.stderr,
              "%s: unclear error: %r" % (name, r.stderr))
        print("%s: %s" % (name, r.stderr.strip()))
        s.close()

    two = []
    for i in range(2):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.bind(tmp / ("two-%d" % i))
        s.listen()
        two.append(s)
    r = run_with_listen_fds(tmp, two)
    check(r.returncode == 1 and "exactly one" in r.stderr, "two sockets: %d %r"
          % (r.returncode, r.stderr))


def start_activated(tmp, s, path, log_name, env=None, tracer=()):
    """seedd started on the listening socket s (bound to path) as systemd
    passes it: fd 3, LISTEN_PID and LISTEN_FDS=1; optionally under a tracer.
    Closes s, as systemd's copy is not the test's to keep."""
    d = Daemon(tmp, sock=path, env=env,
               wrapper=list(tracer) + ["sh", "-c", 'export LISTEN_PID=$$ LISTEN_FDS=1; '
                                       'exec "$0" "$@" 3<&%d' % s.fileno()])
    write_seed(d.seed_file)
    d.log_path = tmp / log_name
    with open(d.log_path, "wb") as log:
        d.proc = subprocess.Popen(d.argv(), stdout=log, stderr=subprocess.STDOUT, env=d.env,
                                  pass_fds=[s.fileno()])
    s.close()
    return d


def test_listen_fds_accepted(tmp):
    """A listening SOCK_SEQPACKET socket passed as fd 3 is served."""
    need_libsystemd()
    path = tmp / "passed.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(path)
    s.listen()
    d = start_activated(tmp, s, path, "passed.log")
    d.wait_ready()
    check(len(raw_get(connect(path), 32)) == 32)
    check(d.stop() == 0)
    check(os.path.exists(path), "seedd unlinked a socket it did not create")


def test_queued_requests_answered_at_accept(tmp):
    """Requests already queued when seedd starts, as at boot behind socket
    activation, are answered as their connections are accepted: between a
    connection's accept4() and its reply, no epoll_wait(), as seedd's system
    calls show (independent of timing)."""
    need_libsystemd()
    strace = need_strace("seedd")
    path = tmp / "queued.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(path)
    s.listen()
    clients = []
    for _ in range(3):
        c = connect(path, timeout=30)
        c.send(get_req(32))
        clients.append(c)
    trace = tmp / "strace.out"
    # LeakSanitizer cannot run under ptrace; the other sanitizer builds' tests cover leaks.
    asan = ENV.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    d = start_activated(tmp, s, path, "queued.log", env={"ASAN_OPTIONS": asan},
                        tracer=[strace, "-f", "-qq", "-s", "0", "-o", trace, "-e",
                                "trace=accept4,epoll_wait,recvmsg,sendto"])
    for c in clients:
        _, st, payload = parse_reply(c.recv(65536))
        check(st == ST_OK and len(payload) == 32, "status %d, %d bytes" % (st, len(payload)))
        c.close()
    try:
        os.kill(d.seedd_pid(), signal.SIGTERM)
        check(d.proc.wait(30) == 0, "exit %s:\n%s" % (d.proc.returncode, d.log()))
    finally:
        # Killing strace would leave its tracee running.
        if d.proc.poll() is None:
            os.kill(d.seedd_pid(), signal.SIGKILL)
    calls = [l.split(None, 1)[1].strip() for l in open(trace) if re.match(r"\d+ ", l)]
    accepted = [(i, m.group(1)) for i, m in
                ((i, re.match(r"accept4\(.*\) = (\d+)$", c)) for i, c in enumerate(calls)) if m]
    check(len(accepted) >= 3, "fewer than 3 connections accepted: %s" % calls)
    for i, fd in accepted[:3]:
        reply = next((j for j in range(i + 1, len(calls))
                      if calls[j].startswith("sendto(%s," % fd)), None)
        check(reply is not None, "no reply on fd %s: %s" % (fd, calls[i:]))
        waits = [c for c in calls[i + 1:reply] if c.startswith("epoll_wait(")]
        check(not waits, "an epoll_wait() between accepting fd %s and answering it: %s"
              % (fd, calls[i:reply + 1]))
    print("accept4() to the last reply: %s"
          % " ".join(c.split("(")[0] for c in calls[accepted[0][0]:reply + 1]))


def journal_run(tmp, js):
    """Starts and stops seedd with JOURNAL_STREAM=js(stderr); returns its output."""
    seed_file, sock = tmp / "seedfile", tmp / "journal.sock"
    write_seed(seed_file)
    log_path = tmp / "journal.log"
    with open(log_path, "wb") as log:
        st = os.fstat(log.fileno())
        env = dict(ENV, JOURNAL_STREAM=js(st))
        proc = subprocess.Popen(target(SEEDD, "--seed-file", seed_file, "--socket", sock), env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    d = Daemon(tmp, seed_file=seed_file, sock=sock)
    d.proc = proc
    d.wait_ready()
    check(d.stop() == 0)
    with open(log_path) as f:
        return [l for l in f.read().splitlines() if l]


def test_journal_prefix(tmp):
    lines = journal_run(tmp, lambda st: "%d:%d" % (st.st_dev, st.st_ino))
    check(lines, "seedd logged nothing")
    bad = [l for l in lines if not re.match(r"^<[0-7]>[^<]", l)]
    check(not bad, "lines without a <N> prefix: %r" % bad)
    check(any(l.startswith("<6>") for l in lines), "no info-level line: %r" % lines)

    # A stale JOURNAL_STREAM (stderr is no longer that stream): plain lines, with the time.
    lines = journal_run(tmp, lambda st: "%d:%d" % (st.st_dev, st.st_ino + 1))
    check(lines and all(re.match(r"\d{4}-\d\d-\d\dT[0-9:.]+[+-]\d\d:\d\d seedd: ", l)
                        for l in lines), "prefixed: %r" % lines)


def test_journal_prefix_refusal(tmp):
    """Errors carry <3> so that the journal shows them as errors."""
    seed_file = tmp / "seedfile"
    write_seed(seed_file, bytes(64))
    log_path = tmp / "refuse.log"
    with open(log_path, "wb") as log:
        st = os.fstat(log.fileno())
        r = run(target(SEEDD, "--seed-file", seed_file, "--socket", tmp / "s.sock"),
                env=dict(ENV, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino)), stdout=log,
                stderr=subprocess.STDOUT, capture_output=False)
    with open(log_path) as f:
        out = f.read()
    check(r.returncode == 1, "seedd accepted an all-zero seed file: %d" % r.returncode)
    check(re.search(r"^<3>.*all 64 bytes are equal", out, re.M), "no <3> error: %r" % out)


def installed(destdir, path):
    return os.path.join(destdir, path.lstrip("/"))


def test_install(tmp):
    build_root = ENV["BUILD_ROOT"]
    destdir = tmp / "dest"
    r = run(["meson", "install", "-C", build_root, "--destdir", destdir, "--no-rebuild",
             "--quiet"], timeout=120)
    check(r.returncode == 0, "meson install: %s%s" % (r.stdout, r.stderr))

    libdir = ENV["LIBDIR"]
    expect = [
        (ENV["SBINDIR"], "seedd"),
        (ENV["BINDIR"], "seedctl"),
        (libdir, LIBFILE),
        (ENV["INCLUDEDIR"], "seedclient.h"),
        (libdir + "/pkgconfig", "seedclient.pc"),
        # The Mbed TLS wiring: option 2's user config file, Mbed TLS 4's entropy hook.
        (ENV["INCLUDEDIR"], "seedclient_nv_seed.h"),
        (libdir, "libseedclient-entropy.so.0"),
        (libdir + "/pkgconfig", "seedclient-entropy.pc"),
    ]
    if ENV.get("STATIC_LIBRARY") == "1":
        expect += [(libdir, "libseedclient.a"), (libdir, "libseedclient-entropy.a")]
    if ENV.get("INSTALL_INIT_SCRIPT") == "1":
        expect.append((ENV["SYSCONFDIR"] + "/init.d", "seedd"))
    if MAN_BUILT:
        expect += [(ENV["MANDIR"] + "/man" + sec, "%s.%s" % (page, sec))
                   for page, sec in MAN_PAGES.items()]
        # libseedclient(3) and one page per exported function: links to seedclient(3).
        for name in ["libseedclient"] + sorted(exported_functions()):
            p = installed(destdir, ENV["MANDIR"] + "/man3/%s.3" % name)
            check(os.path.islink(p) and os.readlink(p) == "seedclient.3",
                  "%s(3) is not a link to seedclient(3)" % name)
        # seedd(8) names the init script where this build installs it.
        with open(installed(destdir, ENV["MANDIR"] + "/man8/seedd.8")) as f:
            page = re.sub(r"\\f[BIRP]|\\&", "", f.read())
        script = ENV["SYSCONFDIR"] + "/init.d/seedd"
        check(script in page, "seedd(8) does not name the init script %s" % script)
    if ENV["BASH_COMPLETION_DIR"] != "no":
        expect.append((ENV["BASH_COMPLETION_DIR"], "seedctl"))
    if ENV.get("INSTALL_UNITS") == "1":
        expect += [(ENV["UNITDIR"], "seedd.service"), (ENV["UNITDIR"], "seedd.socket"),
                   (ENV["SYSUSERSDIR"], "seedd.conf"), (ENV["TMPFILESDIR"], "seedd.conf")]
        if SEEDFS:
            expect.append((ENV["UNITDIR"], "seedfs.service"))
    else:
        print("units not installed: seedd is built without libsystemd or systemd.pc is absent")
    if SEEDFS:
        expect.append((ENV["SBINDIR"], "seedfs"))
    for d, name in expect:
        p = installed(destdir, d + "/" + name)
        check(os.path.isfile(p), "%s is not installed (in %s)" % (name, d))
        print("installed %s/%s" % (d, name))
    for prog in ("seedd", "seedctl", "seedfs") if SEEDFS else ("seedd", "seedctl"):
        d = ENV["BINDIR"] if prog == "seedctl" else ENV["SBINDIR"]
        check(os.access(installed(destdir, d + "/" + prog), os.X_OK), "%s not executable" % prog)

    # Library: real file plus SONAME and development symlinks.
    lib = installed(destdir, libdir)
    check(os.readlink(os.path.join(lib, "libseedclient.so.0")) == LIBFILE,
          "libseedclient.so.0 is not a symlink to %s" % LIBFILE)
    check(os.readlink(os.path.join(lib, "libseedclient.so")) == "libseedclient.so.0",
          "libseedclient.so is not a symlink to libseedclient.so.0")
    if shutil.which("readelf"):
        r = run(["readelf", "-d", os.path.join(lib, LIBFILE)])
        check("Library soname: [libseedclient.so.0]" in r.stdout, "SONAME: %s" % r.stdout)

    if ENV.get("INSTALL_UNITS") == "1" and shutil.which("systemd-analyze"):
        # The installed units, checked inside the destdir: ExecStart= must name
        # the installed seedd and Documentation= the installed pages.
        units = [installed(destdir, ENV["UNITDIR"] + "/" + u)
                 for u in ("seedd.socket", "seedd.service") + (("seedfs.service",) if SEEDFS
                                                               else ())]
        analyze_verify(units, root=destdir,
                       manpath=installed(destdir, ENV["MANDIR"]) if MAN_BUILT else None)

    # A program built with nothing but pkg-config against the destdir.
    need_tool("pkg-config")
    src = tmp / "app.c"
    with open(src, "w") as f:
        f.write(APP_C)
    pc_env = dict(ENV, PKG_CONFIG_PATH=installed(destdir, libdir + "/pkgconfig"),
                  PKG_CONFIG_SYSROOT_DIR=destdir, PKG_CONFIG_LIBDIR="")
    r = run(["pkg-config", "--cflags", "--libs", "seedclient"], env=pc_env)
    check(r.returncode == 0, "pkg-config: %s" % r.stderr)
    flags = r.stdout.split()
    check(any(f.startswith("-L" + destdir) for f in flags), "pkg-config flags %r" % flags)
    cc = ENV.get("CC_CMD", "cc").split()
    app = tmp / "app"
    r = run(cc + ["-o", app, src] + flags)
    check(r.returncode == 0, "compiling with pkg-config's flags failed: %s" % r.stderr)

    d = Daemon(tmp)
    write_seed(d.seed_file)
    d.start()
    r = run([app], env=d.client_env(LD_LIBRARY_PATH=lib))
    check(r.returncode == 0, "app failed (%d): %s%s" % (r.returncode, r.stdout, r.stderr))
    check(re.fullmatch(r"[0-9a-f]{128}\n[0-9a-f]{64}\n", r.stdout), "app printed %r" % r.stdout)
    if shutil.which("ldd"):
        r = run(["ldd", app], env=dict(ENV, LD_LIBRARY_PATH=lib))
        check(os.path.join(lib, "libseedclient.so.0") in r.stdout, "ldd: %s" % r.stdout)
    check(d.stop() == 0)


def pc_dir_without(tmp, name, fake=None):
    """A pkg-config directory with every .pc file of this machine but name.pc, and
    fake as name.pc instead when given."""
    d = tmp / ("pc-" + name + ("-fake" if fake else ""))
    os.mkdir(d)
    path = run(["pkg-config", "--variable", "pc_path", "pkg-config"]).stdout.strip()
    for src in path.split(":") + ENV.get("PKG_CONFIG_PATH", "").split(":"):
        if os.path.isdir(src):
            for f in os.listdir(src):
                if f.endswith(".pc") and f != name + ".pc" and not os.path.exists(d + "/" + f):
                    os.symlink(os.path.join(src, f), os.path.join(d, f))
    if fake:
        with open(os.path.join(d, name + ".pc"), "w") as f:
            f.write(fake)
    return d


def installed_as(tmp, name, pc_dir, *options):
    """Where a fresh setup of the source tree with options installs the completion, or None."""
    build = tmp / ("build-" + name)
    r = run(["meson", "setup", build, ENV["SOURCE_ROOT"], "--prefix=/opt/seedd-test"] +
            list(options), env=dict(ENV, PKG_CONFIG_LIBDIR=pc_dir, PKG_CONFIG_PATH=""),
            timeout=300)
    check(r.returncode == 0, "meson setup %s: %s%s" % (name, r.stdout[-2000:], r.stderr))
    r = run(["meson", "introspect", build, "--installed"])
    check(r.returncode == 0, "meson introspect: %s" % r.stderr)
    dests = [d for s, d in json.loads(r.stdout).items()
             if s.endswith("/client/seedctl-completion.bash")]
    check(len(dests) <= 1, dests)
    return dests[0] if dests else None


FAKE_BASH_COMPLETION_PC = """prefix=/usr
datadir=${prefix}/share
completionsdir=${datadir}/fake-completions
Name: bash-completion
Description: a stand-in
Version: 2.11
"""


def test_completion_dir(tmp):
    """seedctl's bash completion goes where bash-completion.pc says, under the
    build's own prefix; without that .pc in DATADIR/bash-completion/completions,
    which bash-completion also searches; the option bash_completion_dir overrides
    both, and "no" installs none."""
    need_tool("pkg-config")
    r = run(["meson", "introspect", ENV["BUILD_ROOT"], "--installed"])
    here = [d for s, d in json.loads(r.stdout).items() if s.endswith("seedctl-completion.bash")]
    pc = run(["pkg-config", "--define-variable=datadir=%s" % ENV["DATADIR"],
              "--variable=completionsdir", "bash-completion"])
    want = pc.stdout.strip() if pc.returncode == 0 else (
        ENV["DATADIR"] + "/bash-completion/completions")
    check(ENV["BASH_COMPLETION_DIR"] == "no" or here == [want + "/seedctl"],
          "this build installs it as %s, not in %s" % (here, want))
    fake, absent = (pc_dir_without(tmp, "bash-completion", FAKE_BASH_COMPLETION_PC),
                    pc_dir_without(tmp, "bash-completion"))
    cases = [
        ("pc", fake, [], "/opt/seedd-test/share/fake-completions/seedctl"),
        ("no-pc", absent, [], "/opt/seedd-test/share/bash-completion/completions/seedctl"),
        ("option", fake, ["-Dbash_completion_dir=/etc/bc"], "/etc/bc/seedctl"),
        ("none", fake, ["-Dbash_completion_dir=no"], None),
    ]
    for name, pc_dir, options, expect in cases:
        got = installed_as(tmp, name, pc_dir, *options)
        check(got == expect, "%s: installed as %s, want %s" % (name, got, expect))
        print("%-6s -> %s" % (name, got))

    # bash-completion's own loader finds the installed file, as on <TAB> after "seedctl".
    loader = "/usr/share/bash-completion/bash_completion"
    if ENV["BASH_COMPLETION_DIR"] == "no" or not os.path.exists(loader):
        print("bash-completion is not installed: its loader is not tried")
        return
    destdir = tmp / "dest"
    r = run(["meson", "install", "-C", ENV["BUILD_ROOT"], "--destdir", destdir, "--no-rebuild",
             "--quiet"], timeout=120)
    check(r.returncode == 0, "meson install: %s%s" % (r.stdout, r.stderr))
    share = os.path.dirname(os.path.dirname(installed(destdir, ENV["BASH_COMPLETION_DIR"])))
    r = run(["bash", "-c", 'source "$1"; _completion_loader seedctl; complete -p seedctl', "bash",
             loader], env=dict(ENV, XDG_DATA_DIRS=share, BASH_COMPLETION_USER_DIR=tmp / "none"))
    check(r.stdout.strip() == "complete -F _seedctl seedctl",
          "bash-completion's loader did not load it from %s: %r %r" % (share, r.stdout, r.stderr))
    print("bash-completion's loader loads it from %s" % installed(destdir,
                                                                 ENV["BASH_COMPLETION_DIR"]))


APP_C = r"""
#include <stdio.h>
#include <seedclient.h>

static void hex(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	putchar('\n');
}

int main(void)
{
	unsigned char buf[64];
	size_t olen = 0;

	if (seedclient_nv_seed_read(buf, sizeof(buf)) != (int)sizeof(buf))
		return 1;
	hex(buf, sizeof(buf));
	if (seedclient_entropy_poll(NULL, buf, 32, &olen) != 0 || olen != 32)
		return 2;
	hex(buf, 32);
	return 0;
}
"""

# Sample values for option arguments, by the name the help and man page give them.
SAMPLE = {"PATH": "/nonexistent/seedd-test", "DIR": "/nonexistent", "KEY": "/nonexistent/key",
          "SEC": "5", "N": "32", "32|64": "32", "UID": "0", "GID": "0"}
OPT_RE = r"--([a-z][a-z-]*)(?:[= ]([A-Z|0-9]+)\b)?"


def help_opts(text):
    return {o: a or None for o, a in re.findall(OPT_RE, text)}


def scd_section(text, title):
    m = re.search(r"^# %s\n(.*?)(?=^# |\Z)" % title, text, re.M | re.S)
    check(m, "no %s section" % title)
    return m.group(1)


def scd_opts(text):
    """Options in scdoc source: *--name* optionally followed by _ARG_."""
    return {o: a or None for o, a in re.findall(r"\*--([a-z][a-z-]*)\*(?: _([^_]+)_)?", text)}


def scd_defined(section):
    """Options a section defines: those on its unindented (term) lines, not in prose."""
    opts = {}
    for line in section.splitlines():
        if line.startswith("*"):
            opts.update(scd_opts(line))
    return opts


def read_scd(page):
    with open(os.path.join(MAN_SRCDIR, "%s.%s.scd" % (page, MAN_PAGES[page]))) as f:
        return f.read()


def accepted(argv):
    """An option is accepted when parsing continues to the --help after it
    (--help and --version themselves stop there, successfully)."""
    r = run(argv + ["--help"], timeout=10)
    return r.returncode == 0 and r.stdout.startswith(("Usage:", "seedd ", "seedctl ", "seedfs "))


def with_arg(opt, arg):
    return ["--" + opt] + ([SAMPLE[arg]] if arg else [])


def test_man_seedd(tmp):
    helptext = run(target(SEEDD, "--help")).stdout
    man = read_scd("seedd")
    in_help = help_opts(helptext)
    in_man = scd_defined(scd_section(man, "OPTIONS"))
    check(in_help == in_man, "seedd --help %r\nseedd(8) OPTIONS %r" % (in_help, in_man))
    # Every option the page mentions anywhere is real.
    for opt in scd_opts(man):
        check(opt in in_help, "seedd(8) mentions --%s, which seedd does not have" % opt)
    for opt, arg in in_man.items():
        check(accepted(target(SEEDD, *with_arg(opt, arg))),
              "seedd refuses --%s from its man page" % opt)
    check(not accepted(target(SEEDD, "--no-such-option")), "the acceptance check cannot fail")


def seedctl_help_commands(text):
    """{command: {option: arg}} from the Commands: block of seedctl --help."""
    block = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    cmds = {}
    cmd = None
    for line in block.splitlines():
        m = re.match(r"^  ([a-z]+)\b(.*)", line)
        if m:
            cmd = m.group(1)
            cmds.setdefault(cmd, {}).update(help_opts(m.group(2).split("   ")[0]))
        elif cmd and re.match(r"^ +\[--", line):
            # The options of a long synopsis continue on the next line.
            cmds[cmd].update(help_opts(line.strip().split("   ")[0]))
    return cmds


def test_man_seedctl(tmp):
    helptext = run(target(SEEDCTL, "--help")).stdout
    man = read_scd("seedctl")
    help_cmds = seedctl_help_commands(helptext)
    help_global = help_opts(helptext.split("Options:\n", 1)[1])
    man_global = scd_defined(scd_section(man, "OPTIONS"))
    check(help_global == man_global, "global options: help %r, man %r"
          % (help_global, man_global))

    man_cmds = {}
    for m in re.finditer(r"^\*([a-z]+)\*(.*)$", scd_section(man, "COMMANDS"), re.M):
        man_cmds.setdefault(m.group(1), {}).update(scd_opts(m.group(2)))
    check(help_cmds == man_cmds, "commands: help %r\nman %r" % (help_cmds, man_cmds))
    synopsis = scd_section(man, "SYNOPSIS")
    for cmd in help_cmds:
        check(f"*{cmd}*" in synopsis, "%s is not in the SYNOPSIS" % cmd)

    for opt, arg in man_global.items():
        check(accepted([SEEDCTL] + with_arg(opt, arg)), "seedctl refuses --%s" % opt)
    for cmd, opts in man_cmds.items():
        for opt, arg in list(opts.items()) + list(man_global.items()):
            check(accepted(target(SEEDCTL, cmd) + with_arg(opt, arg)),
                  "seedctl %s refuses --%s from its man page" % (cmd, opt))
    for opt in scd_opts(man):
        check(opt in help_global or any(opt in o for o in help_cmds.values()),
              "seedctl(1) mentions --%s, which seedctl does not have" % opt)
    check(not accepted(target(SEEDCTL, "status", "--no-such-option")), "the check cannot fail")

    # The documented JSON keys are the ones status --json prints.
    d = Daemon(tmp)
    write_seed(d.seed_file)
    d.start()
    printed = set(d.status())
    documented = set(re.findall(r"^\*([a-z_]+)\* \(", scd_section(man, "JSON OUTPUT"), re.M))
    check(printed == documented, "JSON keys: printed %r, documented %r"
          % (sorted(printed), sorted(documented)))
    check(d.stop() == 0)


def exported_functions():
    with open(os.path.join(ENV["SOURCE_ROOT"], "client", "libseedclient.sym")) as f:
        return set(re.findall(r"^\s*(seedclient_[a-z_]+);", f.read(), re.M))


def test_man_seedclient(tmp):
    man = read_scd("seedclient")
    synopsis = scd_section(man, "SYNOPSIS")
    name = scd_section(man, "NAME")
    for fn in exported_functions():
        check(re.search(r"^\*(unsigned )?int \*?%s\(" % fn, synopsis, re.M),
              "%s is not in seedclient(3)'s SYNOPSIS" % fn)
        check(re.search(r"\b%s\b" % fn, name), "%s is not in seedclient(3)'s NAME" % fn)
    for text in ("SEEDD_SOCKET", "SEEDD_TIMEOUT_MS", "SEEDCLIENT_ERR_SOURCE_FAILED",
                 "mbedtls_platform_set_nv_seed(seedclient_nv_seed_read, seedclient_nv_seed_write)",
                 "#define MBEDTLS_PLATFORM_STD_NV_SEED_READ   seedclient_nv_seed_read",
                 "mbedtls_entropy_add_source(&entropy, seedclient_entropy_poll, NULL, 32,",
                 "pkg-config --cflags --libs seedclient"):
        check(text in man, "seedclient(3) lacks %r" % text)


def test_man_seedfs(tmp):
    need_seedfs()
    helptext = run(target(SEEDFS, "--help")).stdout
    man = read_scd("seedfs")
    in_help = help_opts(helptext)
    in_man = scd_defined(scd_section(man, "OPTIONS"))
    check(in_help == in_man, "seedfs --help %r\nseedfs(8) OPTIONS %r" % (in_help, in_man))
    for opt in scd_opts(man):
        check(opt in in_help, "seedfs(8) mentions --%s, which seedfs does not have" % opt)
    for opt, arg in in_man.items():
        check(accepted(target(SEEDFS, *with_arg(opt, arg))),
              "seedfs refuses --%s from its man page" % opt)
    check(not accepted(target(SEEDFS, "--no-such-option")), "the acceptance check cannot fail")
    r = run(target(SEEDFS))
    check(r.returncode == 2 and "no MOUNTPOINT" in r.stderr, "seedfs without a mountpoint: "
          "exit %d %s" % (r.returncode, r.stderr))


def environment_read(*sources):
    """The variables the sources (globs below the source root) read, with getenv or
    secure_getenv."""
    names = set()
    for pattern in sources:
        paths = glob.glob(os.path.join(ENV["SOURCE_ROOT"], pattern))
        check(paths, "no source matches %s" % pattern)
        for path in paths:
            with open(path) as f:
                names |= set(re.findall(r"\b(?:secure_)?getenv\(\"([A-Za-z0-9_]+)\"\)", f.read()))
    return names


def test_man_environment(tmp):
    """seedctl(1) and seedclient(3) list in ENVIRONMENT exactly the variables their
    code reads: seedctl's files, libseedclient's and libcommon's (all of common/ for
    seedctl, which links libseal; libcommon_client_sources for the library)."""
    library = ["client/libseedclient.c", "common/client.c", "common/proto.c", "common/util.c"]
    for page, sources in (("seedctl", ["client/seedctl*.c", "client/libseedclient.c",
                                       "common/*.c"]),
                          ("seedclient", library)):
        read = environment_read(*sources)
        section = scd_section(read_scd(page), "ENVIRONMENT")
        listed = set(re.findall(r"^\*([A-Za-z0-9_]+)\*$", section, re.M))
        check(read and listed == read, "%s(%s) ENVIRONMENT lists %s; its code reads %s"
              % (page, MAN_PAGES[page], sorted(listed), sorted(read)))
        print("%s(%s): %s" % (page, MAN_PAGES[page], " ".join(sorted(read))))


def test_man_render(tmp):
    if not MAN_BUILT:
        raise Skip("scdoc is not installed: man pages are not built")
    for page, sec in MAN_PAGES.items():
        path = os.path.join(MAN_BUILDDIR, "%s.%s" % (page, sec))
        with open(path) as f:
            roff = f.read()
        check(roff.startswith(".\\\"") or ".TH" in roff[:2000], "%s is not roff" % path)
        check("@default_" not in roff and "@version@" not in roff, "%s has a raw @token@" % path)
        if shutil.which("man"):
            r = run(["man", "--warnings", "-l", "-Tutf8", path], env=dict(ENV, MANWIDTH="80"))
            check(r.returncode == 0, "man %s: %s" % (path, r.stderr))


if __name__ == "__main__":
    main(globals())
