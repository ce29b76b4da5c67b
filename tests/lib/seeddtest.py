# SPDX-License-Identifier: MIT
"""Shared helpers for the seedd test suites: real binaries on a temp dir.

Binaries come from the environment that meson sets: SEEDD, SEEDCTL, SCTOOL.
In a cross build they are the target's and run through SEEDD_TEST_WRAPPER
(qemu-user, from the cross file): start every built program with target().
A test file defines functions named test_*; run it as `python3 FILE NAME`.
Exit status: 0 pass, 1 fail, 77 skip (with the reason on stdout).
"""

import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

SEEDD = os.environ.get("SEEDD", "seedd")
SEEDCTL = os.environ.get("SEEDCTL", "seedctl")
SCTOOL = os.environ.get("SCTOOL", "sctool")
WRAPPER = shlex.split(os.environ.get("SEEDD_TEST_WRAPPER", ""))


def target(program, *args):
    """The argv that runs a built program (SEEDD, SEEDCTL, SCTOOL, ...) with args."""
    return WRAPPER + [program] + [str(a) for a in args]

HDR = struct.Struct("=BBHI")
VERSION = 1
OP_GET, OP_PUT, OP_STATUS = 1, 2, 3
ST_OK, ST_MALFORMED, ST_VERSION, ST_OPCODE, ST_RANGE, ST_BUSY, ST_DENIED, ST_INTERNAL = range(8)


class Skip(Exception):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


class TempDir:
    """A private (0700) temp dir, removed at exit unless SEEDD_TEST_KEEP is set."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="seedd-test-")
        os.chmod(self.path, 0o700)

    def __truediv__(self, name):
        return os.path.join(self.path, name)

    def cleanup(self):
        if not os.environ.get("SEEDD_TEST_KEEP"):
            shutil.rmtree(self.path, ignore_errors=True)


def write_seed(path, data=None, mode=0o600):
    data = os.urandom(64) if data is None else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.write(fd, data)
    os.close(fd)
    os.chmod(path, mode)
    return data


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


class Daemon:
    """One seedd process on a seed file and socket in dir."""

    def __init__(self, tmp, *args, seed_file=None, sock=None, wrapper=(), env=None):
        self.tmp = tmp
        self.seed_file = seed_file or tmp / "seedfile"
        self.sock = sock or tmp / "seedd.sock"
        self.args = list(args)
        self.wrapper = list(wrapper)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.log_path = None
        self.returncode = None

    def argv(self):
        return self.wrapper + target(SEEDD, "--seed-file", self.seed_file, "--socket", self.sock,
                                     *self.args)

    def start(self, wait=True, timeout=10):
        self.log_path = self.tmp / "seedd-%d.log" % time.monotonic_ns()
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv(), stdout=self.log_file, stderr=subprocess.STDOUT,
                                     env=self.env)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("seedd exited with %d before serving:\n%s"
                                     % (self.proc.returncode, self.log()))
            try:
                s = connect(self.sock)
                s.close()
                return
            except OSError:
                time.sleep(0.01)
        raise AssertionError("seedd not ready within %ss:\n%s" % (timeout, self.log()))

    def run_to_exit(self, timeout=10):
        """Starts seedd expecting it to exit on its own; returns (code, log)."""
        self.start(wait=False)
        self.returncode = self.proc.wait(timeout)
        return self.returncode, self.log()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        self.returncode = self.proc.returncode if self.proc else None
        return self.returncode

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def log(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def client_env(self, **extra):
        env = dict(os.environ, SEEDD_SOCKET=self.sock)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def sctool(self, *args, timeout=60, check_rc=True, env=None):
        r = subprocess.run(target(SCTOOL, *args), capture_output=True, text=True,
                           timeout=timeout, env=env or self.client_env())
        if check_rc:
            check(r.returncode == 0, "sctool %s failed (%d): %s" % (args, r.returncode, r.stderr))
        return r

    def seedctl(self, *args, timeout=30):
        return subprocess.run(target(SEEDCTL, "--socket", self.sock, *args),
                              capture_output=True, text=True, timeout=timeout)

    def status(self):
        import json
        r = self.seedctl("status", "--json")
        check(r.returncode in (0, 1), "seedctl status failed (%d): %s" % (r.returncode, r.stderr))
        return json.loads(r.stdout)


def connect(path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except OSError:
        s.close()
        raise
    return s


def msg(op, payload=b"", version=VERSION, status=0, length=None):
    return HDR.pack(version, op, status, len(payload) if length is None else length) + payload


def get_req(n):
    return msg(OP_GET, struct.pack("=I", n))


def parse_reply(data):
    check(len(data) >= HDR.size, "reply shorter than a header: %r" % data)
    version, op, status, length = HDR.unpack_from(data)
    check(version == VERSION, "reply version %d" % version)
    check(length == len(data) - HDR.size, "reply length field %d, payload %d"
          % (length, len(data) - HDR.size))
    return op, status, data[HDR.size:]


def raw_get(sock, n):
    sock.send(get_req(n))
    op, status, payload = parse_reply(sock.recv(65536))
    check(op == OP_GET and status == ST_OK, "GET failed: op %d status %d" % (op, status))
    check(len(payload) == n, "GET returned %d bytes, wanted %d" % (len(payload), n))
    return payload


def main(module_globals):
    if len(sys.argv) != 2 or "test_" + sys.argv[1] not in module_globals:
        names = sorted(k[5:] for k in module_globals if k.startswith("test_"))
        print("usage: %s CASE\ncases: %s" % (sys.argv[0], " ".join(names)))
        sys.exit(2)
    tmp = TempDir()
    daemons = []
    real_init = Daemon.__init__

    def tracking_init(self, *a, **kw):
        real_init(self, *a, **kw)
        daemons.append(self)

    Daemon.__init__ = tracking_init
    rc = 0
    try:
        module_globals["test_" + sys.argv[1]](tmp)
        print("PASS", sys.argv[1])
    except Skip as e:
        print("SKIP:", e)
        rc = 77
    except Exception:
        traceback.print_exc()
        for d in daemons:
            if d.log():
                print("--- seedd log (%s) ---\n%s" % (d.log_path, d.log()))
        rc = 1
    finally:
        for d in daemons:
            if d.alive():
                d.proc.kill()
                d.proc.wait()
        tmp.cleanup()
    sys.exit(rc)
