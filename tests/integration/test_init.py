#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""init/seedd.init, the script for systems without systemd, starting and
stopping the real seedd on a temp dir: with the host's sh and Debian's
start-stop-daemon, and with busybox's sh and start-stop-daemon."""

import os
import random
import re
import shutil
import signal
import stat
import subprocess
import tempfile

from seeddtest import (Daemon, Skip, check, for_others, main, read_file, SEEDD, SEEDCTL, SCTOOL,
                       target)

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

    def __init__(self, tmp, shell, path=None, seedd=SEEDD, seedctl=SEEDCTL, **settings):
        join = tmp.__truediv__ if hasattr(tmp, "path") else lambda p: os.path.join(tmp, p)
        self.tmp = tmp
        self.shell = shell
        self.seed_file = join("data/seedd/seedfile")
        self.sock = join("run/seedd/seedd.sock")
        self.pidfile = join("seedd.pid")
        self.log = join("seedd.log")
        self.env = dict(os.environ, SEEDD_CONFIG="/dev/null", SEEDD=command(seedd),
                        SEEDCTL=command(seedctl), SEEDD_SEED_FILE=self.seed_file,
                        SEEDD_SOCKET=self.sock, SEEDD_LOG=self.log, SEEDD_PIDFILE=self.pidfile,
                        **settings)
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

        # Debian Policy 9.3.2: no reload (seedd reads its settings at start only), so
        # reload says so and changes nothing, and force-reload restarts.
        r = init("reload")
        check(r.returncode == 3 and "force-reload" in r.stderr and init.pid() == pid and
              alive(pid), "reload: %s" % (r,))
        before = read_file(init.seed_file)
        r = init("force-reload")
        check(r.returncode == 0 and "seedd stopped" in r.stdout and "seedd started" in r.stdout,
              "force-reload: %s" % (r,))
        check(not alive(pid) and init.pid() != pid and alive(init.pid()),
              "force-reload did not replace pid %d" % pid)
        check(read_file(init.seed_file) != before, "no save and update across force-reload")
        pid = init.pid()
        after_start = read_file(init.seed_file)

        r = init("stop")
        check(r.returncode == 0 and "seedd stopped" in r.stdout, "stop: %s" % (r,))
        check(not alive(pid), "seedd still runs after stop")
        check(not os.path.exists(init.pidfile), "pid file left after stop")
        check(read_file(init.seed_file) != after_start, "no final save on stop")
        lines = read_file(init.log).decode().splitlines()
        check("seedd: received SIGTERM, stopping" in "\n".join(lines),
              "seedd's log is not in %s" % init.log)
        stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d seedd: "
        check(all(re.match(stamp, l) for l in lines), "a log line without its time: %s" % lines)
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


DAEMON_USER = os.environ["DAEMON_USER"]


def documented_useradd(name):
    """The useradd command the init script's header gives, for the user name."""
    with open(INIT) as f:
        text = f.read()
    m = re.search(r"^#   (useradd .*?) \\\n#\s+(.*?)\n", text, re.M)
    check(m, "the init script documents no useradd command")
    words = (m.group(1) + " " + m.group(2)).split()
    check(words[-1] == DAEMON_USER, "the documented command does not make %s: %s"
          % (DAEMON_USER, words))
    return words[:-1] + [name]


def user_exists(name):
    return subprocess.run(["id", "-u", name], capture_output=True).returncode == 0


def test_init_script_user(tmp):
    """A SEEDD_USER that does not exist: start refuses at once and says how to make
    it. The command the script documents makes a system user without a home or a
    shell; as the daemon user seedd runs, as another one clients do not trust it
    and the start fails at once, saying so."""
    if not shutil.which("start-stop-daemon"):
        raise Skip("start-stop-daemon is not installed")
    tag = "sdt%04d" % random.randrange(10000)
    init = Init(tmp, ["sh"], SEEDD_USER=tag + "none")
    r = init("start")
    check(r.returncode == 1 and "no user %snone" % tag in r.stderr and
          " ".join(documented_useradd(tag + "none")) in r.stderr, "missing user: %s" % (r,))
    check(not os.path.exists(init.pidfile) and not os.path.exists(init.seed_file),
          "a start for a missing user left %s" % os.listdir(tmp.path))
    if os.geteuid() != 0 or not shutil.which("useradd"):
        print("missing user refused; not root or no useradd: no user is made")
        return
    made = []
    # Where the users can reach seedd, its socket and its state.
    base = tempfile.mkdtemp(prefix="seedd-init-")
    os.chmod(base, 0o755)
    try:
        other = tag + "other"
        for name in [other] + ([] if user_exists(DAEMON_USER) else [DAEMON_USER]):
            r = subprocess.run(documented_useradd(name), capture_output=True, text=True)
            check(r.returncode == 0, "the documented useradd failed: %s" % r.stderr)
            made.append(name)
        pw = subprocess.check_output(["getent", "passwd", other], text=True).strip().split(":")
        check(int(pw[2]) < 1000 and pw[5] == "/nonexistent" and pw[6].endswith("nologin") and
              user_exists(other) and subprocess.run(["getent", "group", other]).returncode == 0,
              "the documented useradd made %s" % pw)
        seedd, seedctl = for_others(SEEDD), for_others(SEEDCTL)
        for i, name in enumerate((DAEMON_USER, other)):
            init = Init(os.path.join(base, str(i)), ["sh"], seedd=seedd, seedctl=seedctl,
                        SEEDD_USER=name)
            os.mkdir(init.tmp, 0o755)
            r = init("start")
            if name == other:
                check(r.returncode == 1 and "Operation not permitted" in r.stderr and
                      not os.path.exists(init.pidfile), "start as %s: %s" % (name, r))
                continue
            check(r.returncode == 0, "start as %s: %s" % (name, r))
            uid = int(subprocess.check_output(["id", "-u", name]))
            with open("/proc/%d/status" % init.pid()) as f:
                ids = dict(l.split(":", 1) for l in f.read().splitlines())["Uid"].split()
            check(ids == [str(uid)] * 4, "seedd runs as uids %s, not %d" % (ids, uid))
            check(os.stat(init.seed_file).st_uid == uid, "the seed file is not %s's" % name)
            r = init("stop")
            check(r.returncode == 0, "stop: %s" % (r,))
        print("documented useradd: system user, no home, nologin; seedd ran as %s (%s); "
              "as %s the start failed at once: not trusted"
              % (DAEMON_USER, "made here" if DAEMON_USER in made else "there already", other))
    finally:
        for i in range(2):
            Init(os.path.join(base, str(i)), ["sh"]).kill()
        for name in made:
            subprocess.run(["userdel", name], capture_output=True)
            subprocess.run(["groupdel", name], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


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


def socket_taken(tmp, name, shell, path=None):
    """Another seedd, not the script's, serves the script's socket. A start
    fails, with the reason of the seedd it started (from its log), and leaves no
    pid file and nothing of its own running; the other seedd serves on. Its
    seedd finds the socket taken, or (on the other's seed file) the seed file in
    use; today's script took the other's answer for its own seedd's."""
    base = tmp / name
    os.mkdir(base, 0o700)
    init = Init(base, shell, path)
    os.makedirs(os.path.dirname(init.sock), 0o755)
    other_dir = os.path.join(base, "other")
    os.mkdir(other_dir, 0o700)
    other = Daemon(tmp, seed_file=os.path.join(other_dir, "seedfile"), sock=init.sock).start()
    try:
        for why, seed_file in (("another daemon is listening on this socket", init.seed_file),
                               ("is in use by another seedd (pid %d)" % other.seedd_pid(),
                                other.seed_file)):
            init.env["SEEDD_SEED_FILE"] = seed_file
            r = init("start")
            check(r.returncode == 1 and "seedd started" not in r.stdout and why in r.stderr,
                  "%s: start beside another seedd on %s (%s): %s" % (name, init.sock, why, r))
            check(not os.path.exists(init.pidfile),
                  "%s: pid file left after a failed start (%s)" % (name, why))
            m = re.search(r"seedd \(pid (\d+)\) exited", r.stderr)
            check(m and not alive(int(m.group(1))), "%s: the seedd started is not said to have "
                  "exited, or still runs: %s" % (name, r.stderr))
            r = init("status")
            check(r.returncode == 3 and "not running" in r.stdout, "%s: status: %s" % (name, r))
            check(other.alive() and other.status()["pid"] == other.seedd_pid(),
                  "%s: the other seedd no longer serves" % name)
        print("%s: each start beside another seedd failed, exit 1, with its seedd's reason; "
              "no pid file" % name)
    finally:
        init.kill()
        other.stop()


def test_init_script_socket_taken(tmp):
    if os.geteuid() != 0:
        raise Skip("the init script runs as root: start chowns the state and socket directories")
    if not shutil.which("start-stop-daemon"):
        raise Skip("start-stop-daemon is not installed")
    socket_taken(tmp, "start-stop-daemon", ["sh"])
    busybox = shutil.which("busybox")
    if not busybox:
        print("busybox is not installed: its sh and start-stop-daemon not tried")
        return
    applets = tmp / "busybox-bin"
    os.mkdir(applets)
    os.symlink(busybox, os.path.join(applets, "start-stop-daemon"))
    socket_taken(tmp, "busybox", [busybox, "sh"], path=applets)


if __name__ == "__main__":
    main(globals())
