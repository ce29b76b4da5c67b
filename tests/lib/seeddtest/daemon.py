# SPDX-License-Identifier: MIT
"""The built programs, temp dirs and files, and seedd as a test starts it.

Binaries come from the environment that meson sets: SEEDD, SEEDCTL, SCTOOL.
In a cross build they are the target's and run through SEEDD_TEST_WRAPPER
(qemu-user, from the cross file): start every built program with target().
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from ._base import WRAPPER, Skip, check
from .others import wrapper_for
from .probe import wait_serving

SEEDD = os.environ.get("SEEDD", "seedd")
SEEDCTL = os.environ.get("SEEDCTL", "seedctl")
SCTOOL = os.environ.get("SCTOOL", "sctool")


def target(program, *args):
    """The argv that runs a built program (SEEDD, SEEDCTL, SCTOOL, ...) with args."""
    return wrapper_for(program) + [program] + [str(a) for a in args]


def need_strace(traced, arguments=False):
    """strace's path for a test that traces the built program traced; skips when
    strace is missing, or in a cross build, where it would trace qemu-user.
    arguments: the test reads what strace decodes from seedd's memory (paths,
    structs), which only root can read once seedd has made itself non-dumpable."""
    if WRAPPER:
        raise Skip("strace would trace %s, not %s; the host build runs this test"
                   % (WRAPPER[0], traced))
    if arguments and os.geteuid() != 0:
        raise Skip("needs root: %s is not dumpable, so strace cannot read its calls' "
                   "arguments" % traced)
    strace = shutil.which("strace")
    if not strace:
        raise Skip("strace is not installed")
    return strace


class TempDir:
    """A private (0700) temp dir, removed by cleanup() unless SEEDD_TEST_KEEP is set."""

    def __init__(self, prefix="seedd-test-", base=None):
        self.path = tempfile.mkdtemp(prefix=prefix, dir=base)
        os.chmod(self.path, 0o700)

    def __truediv__(self, name):
        return os.path.join(self.path, name)

    def cleanup(self):
        if not os.environ.get("SEEDD_TEST_KEEP"):
            shutil.rmtree(self.path, ignore_errors=True)


def write_seed(path, data=None, mode=0o600):
    """A seed file (64 random bytes unless data) with mode, as provisioning leaves it."""
    data = os.urandom(64) if data is None else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, mode)
    return data


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def write_machine_id(path, ident):
    """A machine-id file (for --machine-id-file) holding ident."""
    with open(path, "w") as f:
        f.write(ident + "\n")
    return path


def snapshot(path):
    """What tells whether a file was touched: content (of a regular file),
    inode, mode, owner, links and mtime."""
    st = os.lstat(path)
    data = read_file(path) if os.path.isfile(path) and not os.path.islink(path) else None
    return data, st.st_ino, st.st_mode, st.st_uid, st.st_nlink, st.st_mtime_ns


class Daemon:
    """One seedd process on a seed file and socket in tmp (a TempDir).

    program is the seedd to run (SEEDD by default), wrapper words go before
    it (strace, prlimit, a shell that sets a umask), env is added to ours.
    """

    def __init__(self, tmp, *args, seed_file=None, sock=None, wrapper=(), env=None,
                 program=None):
        self.tmp = tmp
        self.seed_file = seed_file or tmp / "seedfile"
        self.sock = sock or tmp / "seedd.sock"
        self.args = list(args)
        self.wrapper = list(wrapper)
        self.program = program or SEEDD
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.log_path = None
        self.returncode = None

    def argv(self):
        return self.wrapper + target(self.program, "--seed-file", self.seed_file, "--socket",
                                     self.sock, *self.args)

    def start(self, wait=True, timeout=30):
        self.log_path = self.tmp / "seedd-%d.log" % time.monotonic_ns()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=30):
        """Polls until the socket answers; fails with the log if seedd exits first."""
        try:
            wait_serving(self.sock, self.proc, timeout)
        except AssertionError as e:
            raise AssertionError("%s:\n%s" % (e, self.log())) from None

    def run_to_exit(self, timeout=30):
        """Starts seedd expecting it to exit on its own; returns (code, log)."""
        self.start(wait=False)
        self.returncode = self.proc.wait(timeout)
        return self.returncode, self.log()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        self.returncode = self.proc.returncode if self.proc else None
        return self.returncode

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def seedd_pid(self):
        """seedd's own pid, from its lock file: not a wrapper's (strace, qemu)."""
        with open(self.seed_file + ".lock") as f:
            return int(f.read())

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
        """`seedctl status --json` as a dict."""
        r = self.seedctl("status", "--json")
        check(r.returncode in (0, 1), "seedctl status failed (%d): %s" % (r.returncode, r.stderr))
        return json.loads(r.stdout)
