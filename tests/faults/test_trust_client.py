#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""libseedclient's trust rules, with real second users (root only).

A setuid program ignores $SEEDD_SOCKET; a client sends nothing to a daemon
that runs as neither root, the build's daemon user nor the client's own uid;
$SEEDD_TIMEOUT_MS is clamped. In a user namespace (unshare --user, as
rootless containers make them) the host's daemon, seen there as the overflow
uid, is trusted through the default socket only, unless the program consents
with $SEEDD_TRUST_UNMAPPED=1; the namespace's own users are judged as on the
host.
"""

import ctypes
import errno
import json
import random
import os
import re
import shutil
import socket
import struct
import subprocess
import signal
import sys
import tempfile

import seeddtest
from seeddtest import Daemon, check, for_others, target, wait_for
from faultlib import Users, as_user, need_root, status_as

MAX_TIMEOUT_MS = 60000
CLONE_NEWNS = 0x00020000

# A listener that records what reaches it and never answers. When its stdin
# closes it takes whatever is still queued, prints "accepts=A bytes=B", exits.
LISTENER = r"""
import os, select, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
s.listen(64)
print("listening", flush=True)
accepts = received = 0
conns = []
def take(c):
    global received
    try:
        while True:
            data = c.recv(65536, socket.MSG_DONTWAIT)
            if not data:
                return False
            received += len(data)
    except BlockingIOError:
        return True
    except OSError:
        return False
while True:
    ready = select.select([s, sys.stdin] + conns, [], [])[0]
    if sys.stdin in ready and not sys.stdin.readline():
        break
    if s in ready:
        conns.append(s.accept()[0])
        accepts += 1
    for c in [c for c in conns if c in ready]:
        if not take(c):
            conns.remove(c)
s.setblocking(False)
while True:
    try:
        conns.append(s.accept()[0])
        accepts += 1
    except BlockingIOError:
        break
for c in conns:
    take(c)
print("accepts=%d bytes=%d" % (accepts, received), flush=True)
"""


class Listener:
    """LISTENER on path, run as uid:gid (None: as root)."""

    def __init__(self, path, ids=None):
        argv = [sys.executable, "-c", LISTENER, path]
        if ids:
            argv = ["setpriv", "--reuid=%d" % ids[0], "--regid=%d" % ids[1], "--clear-groups",
                    "--"] + argv
        self.path = path
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        check(self.proc.stdout.readline().strip() == "listening", "the listener did not start")

    def finish(self):
        """Returns (accepts, bytes received) once everything queued is taken."""
        out, _ = self.proc.communicate(timeout=30)
        m = re.search(r"accepts=(\d+) bytes=(\d+)", out)
        check(m, "listener: %r" % out)
        return int(m.group(1)), int(m.group(2))


def need_tools():
    need_root("making users")
    for tool in ("useradd", "setpriv"):
        if not shutil.which(tool):
            raise seeddtest.Skip("%s is not installed" % tool)


def shared_dir(owner=None):
    """A temp dir every user can reach (0755), owned by owner (uid, gid) or root."""
    path = tempfile.mkdtemp(prefix="seedd-trust-")
    os.chmod(path, 0o755)
    if owner:
        os.chown(path, *owner)
    return path


def fields(out):
    return dict(kv.split("=", 1) for kv in out.split())


def test_setuid_ignores_env(tmp):
    """A setuid-root client run by a user ignores the $SEEDD_SOCKET he sets."""
    need_tools()
    users = Users()
    dirs = []
    try:
        mallory = users.user("m")
        hisdir, rootdir = shared_dir(mallory), shared_dir()
        dirs += [hisdir, rootdir]
        # A copy of its own: the test sets its setuid bit.
        prog = for_others(seeddtest.SCTOOL, "sctool-setuid")
        # Against his own listener a setuid client (euid 0) would also fail the
        # credential check; root's passes it, so there only the environment
        # rule keeps the setuid client away.
        for owner, path in (("his own", os.path.join(hisdir, "s.sock")),
                            ("root's", os.path.join(rootdir, "s.sock"))):
            env = dict(os.environ, SEEDD_SOCKET=path, SEEDD_TIMEOUT_MS="300")
            for mode in (0o755, 0o4755):
                os.chmod(prog, mode)
                listener = Listener(path, mallory if owner == "his own" else None)
                r = as_user(*mallory, target(prog, "fail", "32"), env)
                accepts, received = listener.finish()
                os.unlink(path)
                print("mode %04o, %s listener: %d connection(s), %d bytes received; %s"
                      % (mode, owner, accepts, received, r.stdout.strip()))
                check(r.stdout.startswith("rc="), "mode %o: %s" % (mode, r.stderr))
                if mode & 0o4000:
                    check(accepts == 0 and received == 0,
                          "the setuid client reached the socket in $SEEDD_SOCKET")
                else:
                    # The control: without the setuid bit the client goes there.
                    check(accepts >= 1 and received > 0, "the plain client sent nothing")
    finally:
        users.remove()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def daemon_as(tmp, ids, sock=None):
    """A seedd running as ids, on a seed file and socket (unless sock) in a dir of its own."""
    d = shared_dir(ids)
    daemon = Daemon(tmp, seed_file=os.path.join(d, "seedfile"),
                    sock=sock or os.path.join(d, "s.sock"),
                    program=for_others(seeddtest.SEEDD), wrapper=["setpriv", "--reuid=%d" % ids[0], "--regid=%d" % ids[1],
                             "--clear-groups", "--"])
    daemon.dir = d
    return daemon.start()


def test_cross_uid_daemon(tmp):
    """A daemon of another, untrusted uid gets nothing, not even a status request from
    seedctl; its own uid and the daemon user work."""
    need_tools()
    users = Users()
    daemons = []
    try:
        alice, bob = users.user("a"), users.user("b")
        daemon = daemon_as(tmp, bob)
        daemons.append(daemon)
        env = daemon.client_env()
        for who, ids in (("uid %d" % alice[0], alice), ("root", None)):
            argv = target(for_others(seeddtest.SEEDCTL), "--socket", daemon.sock, "status")
            r = as_user(*ids, argv, env) if ids else subprocess.run(
                argv, capture_output=True, text=True, env=env, timeout=60)
            check(r.returncode == 4 and "Operation not permitted" in r.stderr,
                  "seedctl status as %s against a daemon of uid %d: %d %s"
                  % (who, bob[0], r.returncode, r.stderr))
        for who, ids in (("uid %d" % alice[0], alice), ("root", None)):
            argv = target(for_others(seeddtest.SCTOOL), "failread", "32")
            r = as_user(*ids, argv, env) if ids else subprocess.run(
                argv, capture_output=True, text=True, env=env, timeout=60)
            f = fields(r.stdout)
            check(f.get("rc") == str(-errno.EPERM) and f.get("zeroed") == "1",
                  "%s against a daemon of uid %d: %s %s" % (who, bob[0], r.stdout, r.stderr))
            check(status_as(daemon, bob, env)["requests"] == 0, "%s sent a request" % who)
            print("%s against seedd of uid %d: %s" % (who, bob[0], r.stdout.strip()))
        r = as_user(*alice, target(for_others(seeddtest.SEEDCTL), "--socket", daemon.sock, "get"),
                    env)
        check(r.returncode == 4 and "Operation not permitted" in r.stderr, r.stderr)
        # The control: the daemon's own uid is served.
        r = as_user(*bob, target(for_others(seeddtest.SCTOOL), "read", "32", "1"), env)
        check(r.returncode == 0 and len(r.stdout.strip()) == 64, r.stderr)
        check(status_as(daemon, bob, env)["requests"] == 1, "not one request")
        check(daemon.stop() == 0)

        # A daemon running as the build's daemon user is trusted by every uid.
        name = os.environ["DAEMON_USER"]
        svc = users.daemon_user()
        daemon = daemon_as(tmp, svc)
        daemons.append(daemon)
        r = as_user(*alice, target(for_others(seeddtest.SCTOOL), "read", "32", "1"),
                    daemon.client_env())
        check(r.returncode == 0 and len(r.stdout.strip()) == 64, r.stderr)
        daemon.sctool("read", 32, 1)
        check(daemon.status()["requests"] == 2, daemon.status())
        print("uid %d and root served by seedd as %s (uid %d)" % (alice[0], name, svc[0]))
        check(daemon.stop() == 0)
    finally:
        for d in daemons:
            d.stop(timeout=10)
            shutil.rmtree(d.dir, ignore_errors=True)
        users.remove()


def own_default_socket():
    """The build's default socket path, its directory on a tmpfs of this process's own
    mount namespace (root's, 0755, as tmpfiles makes it on a host): seedd listens at the
    default path without touching the host's. Call it before any thread starts."""
    path = os.environ["DEFAULT_SOCKET"]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        raise seeddtest.Skip("unshare(CLONE_NEWNS): %s" % os.strerror(ctypes.get_errno()))
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    top = os.path.dirname(path)
    while not os.path.isdir(top):
        top = os.path.dirname(top)
    check(top != "/", "no directory above %s to mount a tmpfs on" % path)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=1m", "tmpfs", top], check=True)
    os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
    return path


def userns(ids, argv, env, maps=()):
    """argv as user ids (uid, gid) in a user namespace of his own, as root there
    (unshare --map-root-user), with more of his subordinate ids mapped by maps."""
    return as_user(*ids, ["unshare", "--user", "--map-root-user"] + list(maps) + ["--"] + argv,
                   env)


def need_userns(ids):
    if not shutil.which("unshare"):
        raise seeddtest.Skip("unshare is not installed")
    r = userns(ids, ["true"], dict(os.environ))
    if r.returncode != 0:
        raise seeddtest.Skip("an unprivileged user cannot make a user namespace here: %s"
                             % r.stderr.strip())


def no_socket_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("SEEDD_SOCKET",
                                                            "SEEDD_TRUST_UNMAPPED")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def test_userns_default_socket(tmp):
    """A user in a user namespace of his own (the host's uids unmapped there: seedd shows
    as the overflow uid) is served by the host's seedd, running as root or as the daemon
    user, through the default socket; through another path the same daemon gets nothing
    from him unless he consents with $SEEDD_TRUST_UNMAPPED=1."""
    need_tools()
    sock = own_default_socket()
    users = Users()
    daemons = []
    try:
        user = users.user("u")
        need_userns(user)
        sctool, seedctl = for_others(seeddtest.SCTOOL), for_others(seeddtest.SEEDCTL)
        for who, ids in (("root", None), (os.environ["DAEMON_USER"], users.daemon_user())):
            if ids:
                os.chown(os.path.dirname(sock), *ids)
                daemon = daemon_as(tmp, ids, sock=sock)
            else:
                daemon = Daemon(tmp, sock=sock).start()
            daemons.append(daemon)
            r = userns(user, target(sctool, "read", "32", "2"), no_socket_env())
            check(r.returncode == 0 and len(r.stdout.split()) == 2,
                  "uid %d in a user namespace, seedd of %s on the default socket %s: %s %s"
                  % (user[0], who, sock, r.stdout, r.stderr))
            r = userns(user, target(seedctl, "get"), no_socket_env())
            check(r.returncode == 0 and len(r.stdout.strip()) == 64, "seedctl get: %s" % r.stderr)
            check(daemon.status()["requests"] == 3, daemon.status())
            print("uid %d in a user namespace: served by seedd of %s on %s" % (user[0], who, sock))
            check(daemon.stop() == 0)

        # The same daemon on a path of its own: no consent, nothing sent.
        d = shared_dir()
        daemon = Daemon(tmp, sock=os.path.join(d, "s.sock")).start()
        daemons.append(daemon)
        daemon.dir = d
        for consent in ({}, {"SEEDD_TRUST_UNMAPPED": "0"}):
            r = userns(user, target(sctool, "failread", "32"),
                       no_socket_env(SEEDD_SOCKET=daemon.sock, **consent))
            f = fields(r.stdout)
            check(f.get("rc") == str(-errno.EPERM) and f.get("zeroed") == "1",
                  "seedd of root on %s, %s: %s %s" % (daemon.sock, consent, r.stdout, r.stderr))
        check(daemon.status()["requests"] == 0, "a request reached seedd: %s" % daemon.status())
        r = userns(user, target(sctool, "read", "32", "1"),
                   no_socket_env(SEEDD_SOCKET=daemon.sock, SEEDD_TRUST_UNMAPPED=1))
        check(r.returncode == 0 and len(r.stdout.strip()) == 64, "with consent: %s" % r.stderr)
        print("on %s: refused without consent, served with SEEDD_TRUST_UNMAPPED=1" % daemon.sock)
    finally:
        for d in daemons:
            d.stop(timeout=10)
            if getattr(d, "dir", None):
                shutil.rmtree(d.dir, ignore_errors=True)
        users.remove()


def test_userns_other_user(tmp):
    """A fake daemon run by another unprivileged host user also shows as the overflow uid
    inside the namespace: reached through $SEEDD_SOCKET or an explicit path it gets no
    byte (the consent is the program's, and lets it through: the control)."""
    need_tools()
    users = Users()
    dirs = []
    try:
        user, mallory = users.user("u"), users.user("m")
        need_userns(user)
        sctool = for_others(seeddtest.SCTOOL)
        d = shared_dir(mallory)
        dirs.append(d)
        path = os.path.join(d, "seedd.sock")
        for how in ("$SEEDD_SOCKET", "argument"):
            for consent in ({}, {"SEEDD_TRUST_UNMAPPED": "1"}):
                listener = Listener(path, mallory)
                if how == "argument":
                    argv, env = target(sctool, "failread", "32", path), no_socket_env()
                else:
                    argv, env = target(sctool, "failread", "32"), no_socket_env(SEEDD_SOCKET=path)
                env.update(consent, SEEDD_TIMEOUT_MS="300")
                r = userns(user, argv, env)
                accepts, received = listener.finish()
                os.unlink(path)
                f = fields(r.stdout)
                print("path by %s, %s: %d connection(s), %d bytes received; %s"
                      % (how, consent or "no consent", accepts, received, r.stdout.strip()))
                check(accepts >= 1 and f.get("zeroed") == "1", "%s: %s" % (how, r.stderr))
                if consent:
                    check(received > 0 and f.get("rc") == str(-errno.ETIMEDOUT),
                          "with consent the client did not send")
                else:
                    check(received == 0 and f.get("rc") == str(-errno.EPERM),
                          "uid %d's fake daemon got %d bytes by %s" % (mallory[0], received, how))
    finally:
        users.remove()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


# Runs as the namespace's root: a listener of ns uid 0 and one of ns uid 2, each asked
# by a client of ns uid 1; then that client reads from the default socket.
IN_NAMESPACE = r"""
import json, os, subprocess, sys
sctool, listener, d = sys.argv[1:4]
def as_ns(uid, argv):
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups", "--"] + argv
out = {}
for owner in (0, 2):
    path = os.path.join(d, "ns%d.sock" % owner)
    l = subprocess.Popen(as_ns(owner, [sys.executable, "-c", listener, path]),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    l.stdout.readline()
    env = dict(os.environ, SEEDD_SOCKET=path, SEEDD_TIMEOUT_MS="300")
    r = subprocess.run(as_ns(1, [sctool, "failread", "32"]), capture_output=True, text=True,
                       env=env)
    out[owner] = [r.stdout.strip(), l.communicate()[0].strip()]
env = {k: v for k, v in os.environ.items() if k != "SEEDD_SOCKET"}
r = subprocess.run(as_ns(1, [sctool, "read", "32", "1"]), capture_output=True, text=True, env=env)
out["default"] = [r.stdout.strip(), r.stderr.strip()]
print(json.dumps(out))
"""


def test_userns_own_root(tmp):
    """In a namespace with more than one uid (newuidmap: ns uid 0 is the user, 1-10 his
    subordinate uids), the namespace's users are judged by the host's rule: a client of
    ns uid 1 trusts a daemon of the namespace's root and refuses one of ns uid 2; and it
    is served by the host's seedd through the default socket."""
    need_tools()
    if not shutil.which("newuidmap"):
        raise seeddtest.Skip("newuidmap is not installed (Debian's uidmap)")
    sock = own_default_socket()
    users = Users()
    dirs = []
    try:
        user = users.user("u")
        first = 3000000000 + random.randrange(100000) * 16
        subprocess.run(["usermod", "--add-subuids", "%d-%d" % (first, first + 9),
                        "--add-subgids", "%d-%d" % (first, first + 9), users.tag + "u"],
                       check=True, capture_output=True)
        need_userns(user)
        daemon = Daemon(tmp, sock=sock).start()
        d = shared_dir()
        dirs.append(d)
        os.chmod(d, 0o1777)
        maps = ["--map-users=%d,1,10" % first, "--map-groups=%d,1,10" % first]
        # The system's Python: the tests' own may sit where the namespace's users cannot go.
        python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
        r = userns(user, [python, "-c", IN_NAMESPACE, for_others(seeddtest.SCTOOL),
                          LISTENER, d], no_socket_env(), maps)
        check(r.returncode == 0, "in the namespace: %s %s" % (r.stdout, r.stderr))
        out = json.loads(r.stdout)
        print("ns uid 1 against ns root's listener: %s / %s" % tuple(out["0"]))
        print("ns uid 1 against ns uid 2's listener: %s / %s" % tuple(out["2"]))
        root_client, root_listener = fields(out["0"][0]), fields(out["0"][1])
        check(root_client.get("rc") == str(-errno.ETIMEDOUT) and int(root_listener["bytes"]) > 0,
              "a client of ns uid 1 did not trust the namespace's root: %s" % out["0"])
        other_client, other_listener = fields(out["2"][0]), fields(out["2"][1])
        check(other_client.get("rc") == str(-errno.EPERM) and other_listener["bytes"] == "0",
              "a client of ns uid 1 sent to ns uid 2: %s" % out["2"])
        check(len(out["default"][0]) == 64, "ns uid 1, the default socket: %s" % out["default"])
        check(daemon.status()["requests"] == 1, daemon.status())
        print("ns uid 1 served by the host's seedd on %s" % sock)
        check(daemon.stop() == 0)
    finally:
        users.remove()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def test_timeout_clamp(tmp):
    """$SEEDD_TIMEOUT_MS above the maximum is clamped; the timeouts the library sets show it."""
    strace = seeddtest.need_strace("sctool")
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    mute.bind(tmp / "mute.sock")
    mute.listen(16)
    # Waiting out the one-minute maximum would make a slow test: read the
    # socket timeouts the library derives from the value, then stop the client.
    # (hung_daemon_times_out in the integration suite shows that a request
    # fails at that timeout.)
    for asked, want in (("1500", (1, 500000)), ("99999999", (MAX_TIMEOUT_MS // 1000, 0)),
                        ("18446744073709551615", (MAX_TIMEOUT_MS // 1000, 0)),
                        ("0", (2, 0)), ("soon", (2, 0))):
        trace = tmp / "strace-%s.out" % asked
        env = dict(os.environ, SEEDD_SOCKET=tmp / "mute.sock", SEEDD_TIMEOUT_MS=asked)
        p = subprocess.Popen([strace, "-f", "-qq", "-xx", "-e", "trace=setsockopt", "-o", trace,
                              seeddtest.SCTOOL, "fail", "32"], stdout=subprocess.PIPE, text=True,
                             env=env)

        def traced():
            text = seeddtest.read_file(trace).decode() if os.path.exists(trace) else ""
            return "SO_SNDTIMEO" in text and text

        try:
            text = wait_for(traced, 30, "the client to set its socket timeouts")
        finally:
            # Killing strace would leave the client waiting: kill the client.
            for pid in set(re.findall(r"^(\d+) ", seeddtest.read_file(trace).decode(), re.M)):
                os.kill(int(pid), signal.SIGKILL)
            p.wait(30)
        # strace shows the struct timeval as raw bytes (SO_RCVTIMEO_OLD). The
        # first pair is set before connect(), with what is left of the one
        # deadline: a millisecond or more less on a busy machine; a connect()
        # that took a millisecond or more is followed by a pair with the rest.
        got = [struct.unpack("=qq", bytes.fromhex(raw.replace("\\x", "")))
               for raw in re.findall(r"SO_(?:RCV|SND)TIMEO\w*, \"((?:\\x[0-9a-f]{2}){16})\"", text)]
        limit = want[0] + want[1] / 1e6
        check(len(got) in (2, 4) and all(limit - 0.1 < sec + usec / 1e6 <= limit
                                         for sec, usec in got[:2]),
              "SEEDD_TIMEOUT_MS=%s: %s" % (asked, text))
        print("SEEDD_TIMEOUT_MS=%s: socket timeouts %d.%06d s" % (asked, want[0], want[1]))
    mute.close()


if __name__ == "__main__":
    seeddtest.main(globals())
