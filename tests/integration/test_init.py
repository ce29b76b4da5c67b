#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""init/seedd.init, the script for systems without systemd, starting and
stopping the real seedd on a temp dir: with the host's sh and Debian's
start-stop-daemon, and with busybox's sh and start-stop-daemon."""

import os
import shutil
import signal
import stat
import subprocess

from seeddtest import Skip, check, main, read_file, SEEDD, SEEDCTL, SCTOOL, target

INIT = os.environ["SEEDD_INIT"]


def alive(pid):
    """Not exited; a zombie has (whoever inherited it may not have reaped it yet)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def command(program):
    words = target(program)
    check(all(" " not in w for w in words), "the init script splits commands at spaces: %s"
          % words)
    return " ".join(words)


class Init:
    """The init script with its settings pointing into tmp."""

    def __init__(self, tmp, shell, path=None):
        self.tmp = tmp
        self.shell = shell
        self.seed_file = tmp / "data/seedd/seedfile"
        self.sock = tmp / "run/seedd/seedd.sock"
        self.pidfile = tmp / "seedd.pid"
        self.log = tmp / "seedd.log"
        self.env = dict(os.environ, SEEDD_CONFIG="/dev/null", SEEDD=command(SEEDD),
                        SEEDCTL=command(SEEDCTL), SEEDD_SEED_FILE=self.seed_file,
                        SEEDD_SOCKET=self.sock, SEEDD_LOG=self.log, SEEDD_PIDFILE=self.pidfile)
        if path:
            self.env["PATH"] = path + ":" + self.env["PATH"]

    def __call__(self, action):
        return subprocess.run(self.shell + [INIT, action], env=self.env, capture_output=True,
                              text=True, timeout=120)

    def pid(self):
        with open(self.pidfile) as f:
            return int(f.read())

    def kill(self):
        """After a failure: whatever the pid file names, and seedd itself (its lock file)."""
        for path in (self.pidfile, self.seed_file + ".lock"):
            try:
                with open(path) as f:
                    pid = int(f.read())
            except (OSError, ValueError):
                continue
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def lifecycle(tmp, shell, path=None):
    if os.geteuid() != 0:
        raise Skip("the init script runs as root: start chowns the state and socket directories")
    for sh in (shell, ["sh"]):
        r = subprocess.run(sh + ["-n", INIT], capture_output=True, text=True)
        check(r.returncode == 0, "%s -n: %s" % (sh, r.stderr))
    init = Init(tmp, shell, path)
    try:
        r = init("status")
        check(r.returncode == 3 and "not running" in r.stdout, r)
        r = init("start")
        check(r.returncode == 0 and "seedd started" in r.stdout, "start: %s" % (r,))
        pid = init.pid()
        check(alive(pid), "seedd is not running after start")
        # The pid file names seedd itself, not a shell: the lock file holds seedd's own pid.
        with open(init.seed_file + ".lock") as f:
            check(int(f.read()) == pid, "pid file %d, seedd's lock file says otherwise" % pid)
        check(stat.S_IMODE(os.stat(os.path.dirname(init.seed_file)).st_mode) == 0o700)
        check(stat.S_ISSOCK(os.stat(init.sock).st_mode), "no socket at %s" % init.sock)
        after_start = read_file(init.seed_file)
        out = subprocess.run(target(SCTOOL, "read", 32, 2), capture_output=True, text=True,
                             env=dict(os.environ, SEEDD_SOCKET=init.sock), timeout=60)
        check(out.returncode == 0 and len(out.stdout.split()) == 2, out)
        r = init("status")
        check(r.returncode == 0 and str(pid) in r.stdout, r)
        r = init("start")
        check(r.returncode == 0 and "already running" in r.stdout and init.pid() == pid, r)

        r = init("stop")
        check(r.returncode == 0 and "seedd stopped" in r.stdout, "stop: %s" % (r,))
        check(not alive(pid), "seedd still runs after stop")
        check(not os.path.exists(init.pidfile), "pid file left after stop")
        check(read_file(init.seed_file) != after_start, "no final save on stop")
        check("stopping" in read_file(init.log).decode(), "seedd's log is not in %s" % init.log)
        r = init("status")
        check(r.returncode == 3, r)
        r = init("stop")
        check(r.returncode == 0 and "not running" in r.stdout, r)

        # A refused seed file: start fails at once, says why, leaves nothing running.
        os.chmod(init.seed_file, 0o644)
        r = init("start")
        check(r.returncode == 1 and "group or others" in r.stderr, "refused start: %s" % (r,))
        check(not os.path.exists(init.pidfile), "pid file left after a failed start")
        r = init("status")
        check(r.returncode == 3, r)
    finally:
        init.kill()


def test_init_script(tmp):
    if not shutil.which("start-stop-daemon"):
        raise Skip("start-stop-daemon is not installed")
    lifecycle(tmp, ["sh"])


def test_init_script_busybox(tmp):
    busybox = shutil.which("busybox")
    if not busybox:
        raise Skip("busybox is not installed")
    # Busybox's own start-stop-daemon first in PATH.
    applets = tmp / "busybox-bin"
    os.mkdir(applets)
    os.symlink(busybox, os.path.join(applets, "start-stop-daemon"))
    lifecycle(tmp, [busybox, "sh"], path=applets)


if __name__ == "__main__":
    main(globals())
