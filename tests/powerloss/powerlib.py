# SPDX-License-Identifier: MIT
"""What the power-loss suite shares: forgetfs mounted on a temp dir, its
control commands, and programs started so that a hold can name them before
their first operation."""

import json
import os
import socket
import subprocess
import sys

from seeddtest import Skip, check, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
FORGETFS = os.path.join(HERE, "forgetfs.py")


def private_mounts():
    """Re-runs this program in a mount namespace of its own (as root), so that
    its FUSE mounts are nobody else's and go away with it, even when it is
    killed before it can unmount them."""
    if os.geteuid() != 0 or os.environ.get("FORGETFS_PRIVATE_MOUNTS"):
        return
    os.environ["FORGETFS_PRIVATE_MOUNTS"] = "1"
    try:
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private",
                              sys.executable] + sys.argv)
    except OSError:
        pass  # no unshare: mounts are unmounted by stop() as usual


def fs_python():
    """A Python that has fusepy: ours, or Debian's, where python3-fusepy puts it
    (the python3 on PATH may be another installation)."""
    for py in (sys.executable, "/usr/bin/python3"):
        if subprocess.run([py, "-c", "import fusepy"], capture_output=True).returncode == 0:
            return py
    return None


def need_fuse():
    """The interpreter to run forgetfs with; skips without root, /dev/fuse or fusepy."""
    if os.geteuid() != 0:
        raise Skip("forgetfs mounts a FUSE file system: needs root")
    if not os.path.exists("/dev/fuse"):
        raise Skip("no /dev/fuse")
    py = fs_python()
    if not py:
        raise Skip("python3-fusepy is not installed (scripts/deps.sh python3-fusepy)")
    return py


class ForgetMount:
    """forgetfs on DIR/mnt over DIR/backing, controlled through DIR/control.

    Files put in the backing dir before start() are durable; so is whatever
    sync() is called after."""

    def __init__(self, dirpath):
        self.python = need_fuse()
        self.dir = dirpath
        self.backing = os.path.join(dirpath, "backing")
        self.mnt = os.path.join(dirpath, "mnt")
        self.control = os.path.join(dirpath, "control")
        for d in (self.backing, self.mnt):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.proc = None
        self.conn = None

    def start(self):
        self.log_path = os.path.join(self.dir, "forgetfs.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([self.python, FORGETFS, self.backing, self.mnt,
                                          self.control], stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("forgetfs exited with %d:\n%s"
                                     % (self.proc.returncode, self.log()))
            return os.path.ismount(self.mnt) and os.path.exists(self.control)
        wait_for(up, 30, "forgetfs to mount %s" % self.mnt)
        self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.conn.connect(self.control)
        self.file = self.conn.makefile("rwb")
        return self

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def cmd(self, cmd, **kw):
        self.file.write(json.dumps(dict(kw, cmd=cmd)).encode() + b"\n")
        self.file.flush()
        line = self.file.readline()
        check(line, "forgetfs closed its control socket:\n%s" % self.log())
        reply = json.loads(line)
        check(reply.pop("ok"), "forgetfs %s: %s" % (cmd, reply.get("error")))
        return reply

    def sync(self):
        self.cmd("sync")

    def hold(self, pid, n, op=None):
        """Holds pid's nth state-changing operation from now (its nth op named op)."""
        self.cmd("hold", pid=pid, n=n, op=op)

    def wait_held(self, timeout=30):
        return self.cmd("wait_held", timeout=timeout)["held"]

    def release(self):
        self.cmd("release")

    def cut(self, mode="strict", seed=0, kill=()):
        """The power cut; what the processes in kill send afterwards fails with EIO."""
        return self.cmd("cut", mode=mode, seed=seed, kill=list(kill))

    def ops(self, pid):
        return [tuple(op) for op in self.cmd("ops", pid=pid)["ops"]]

    def plant(self, name, data, mode=0o600):
        """Creates the file name (in the mount) as another process would while
        one of ours is held: libfuse keeps the held operation's names locked."""
        self.cmd("plant", path="/" + name, data=data.hex(), mode=mode)

    def path(self, *names):
        return os.path.join(self.mnt, *names)

    def stop(self):
        if self.conn:
            self.file.close()
            self.conn.close()
            self.conn = None
        if self.proc and self.proc.poll() is None:
            subprocess.run(["umount", self.mnt], capture_output=True)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                subprocess.run(["umount", "-l", self.mnt], capture_output=True)
                self.proc.kill()
                self.proc.wait()


class Gated:
    """A program started stopped before exec, so that a hold can name its pid
    before it makes a single call; go() lets it run."""

    def __init__(self, argv, env=None, stdout=subprocess.PIPE, stdin_data=None, cwd=None):
        # sh waits for a line, then execs the program in the same process.
        self.stdin_data = stdin_data
        self.proc = subprocess.Popen(["sh", "-c", 'read _ && exec "$@"', "sh"] + list(argv),
                                     stdin=subprocess.PIPE, stdout=stdout,
                                     stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.pid = self.proc.pid

    def go(self):
        self.proc.stdin.write(b"\n" + (self.stdin_data or b""))
        self.proc.stdin.close()
        return self

    def finish(self, timeout=60):
        """Waits for the exit; (exit code, what it printed)."""
        out = self.proc.stdout.read() if self.proc.stdout else b""
        self.proc.wait(timeout)
        return self.proc.returncode, out.decode(errors="replace")
