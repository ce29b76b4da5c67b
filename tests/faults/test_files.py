#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Races against seedd's file handling, made deterministic with the fault injector,
and attacks on its files by other local users (root only, with real users)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import seeddtest
from seeddtest import Daemon, answers, check, connect, raw_get, read_file, wait_for
from faultlib import Sysctls, Users, as_user, fault_env, need_root

SYSTEM_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else "python3"


def setpriv(ids):
    return ["setpriv", "--reuid=%d" % ids[0], "--regid=%d" % ids[1], "--clear-groups", "--"]


def as_him(ids, *argv):
    """argv as user ids; fails the test if it fails."""
    r = subprocess.run(setpriv(ids) + list(argv), capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "%s as uid %d: %s" % (argv, ids[0], r.stderr))
    return r


def sticky_dir(dirs):
    """A root-owned sticky directory every user can write, like /tmp."""
    d = tempfile.mkdtemp(prefix="seedd-sticky-")
    os.chmod(d, 0o1777)
    dirs.append(d)
    return d


def root_dir(dirs, mode=0o700):
    d = tempfile.mkdtemp(prefix="seedd-root-")
    os.chmod(d, mode)
    dirs.append(d)
    return d


def test_socket_rename_race(tmp):
    """The socket directory is renamed and replaced between seedd's stale-socket
    check and its removal (at the liveness probe's connect()): seedd must remove
    and bind only in the directory it checked, never the file now at the path."""
    base = tmp / "race"
    run, decoy = os.path.join(base, "run"), os.path.join(base, "decoy")
    for d in (base, run, decoy):
        os.mkdir(d, 0o755)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    stale.bind(os.path.join(run, "s.sock"))
    stale.close()
    victim = os.path.join(decoy, "s.sock")
    with open(victim, "w") as f:
        f.write("not seedd's\n")

    path = os.path.join(run, "s.sock")
    checked = os.path.join(base, "run.checked", "s.sock")
    d = Daemon(tmp, sock=path, env=fault_env(swap="%s:%s" % (run, decoy)))
    d.start(wait=False)
    # Wherever seedd ends up serving: it must be the checked directory, now run.checked.
    wait_for(lambda: d.proc.poll() is not None or any(answers(p) for p in (path, checked)),
             10, "seedd to serve")
    check(d.alive(), "seedd exited with %s:\n%s" % (d.proc.returncode, d.log()))
    check(os.path.isfile(path) and read_file(path) == b"not seedd's\n",
          "seedd removed or replaced the file swapped in at %s" % path)
    check(answers(checked), "not serving in the checked directory")
    d.sock = checked
    s = connect(checked)
    raw_get(s, 32)
    s.close()
    check(d.stop() == 0, "seedd did not stop cleanly")
    check(not os.path.lexists(checked), "the socket was not removed at exit")
    check(read_file(path) == b"not seedd's\n", "the exit removed the file swapped in")
    print("stale socket removed and bound in the checked directory; %s untouched" % path)


def test_socket_second_daemon(tmp):
    """A second seedd on another seed file but the same socket, started while
    the first still makes its first seed durable (the fault injector slows its
    storage calls), finds the socket in use and exits 1: the first listens from
    its bind on, and serves on the socket once its seed is durable."""
    sock = tmp / "s.sock"
    first = Daemon(tmp, seed_file=tmp / "first", sock=sock, env=fault_env(delay_us=300000))
    first.start(wait=False)
    wait_for(lambda: os.path.exists(sock) or first.proc.poll() is not None, 30,
             "the first seedd to bind")
    second = Daemon(tmp, seed_file=tmp / "second", sock=sock)
    second.start(wait=False)
    wait_for(lambda: second.proc.poll() is not None or answers(sock), 60,
             "the second seedd to exit or serve")
    starting = "serving" not in first.log()
    code = second.stop()
    check(starting, "the first seedd was serving already: no race tested\n" + first.log())
    check(code == 1 and "another daemon is listening" in second.log(),
          "the second seedd took the socket of the first, still starting (exit %s):\n%s"
          % (code, second.log()))
    first.wait_ready(60)
    pid = json.loads(first.seedctl("status", "--json").stdout)["pid"]
    check(pid == first.seedd_pid(), "the socket is not the first seedd's")
    check(first.stop() == 0 and not os.path.lexists(sock), "the first did not stop cleanly")
    print("a second seedd started during the first's start-up: %s" % second.log().strip())


def test_socket_unlink_ours(tmp):
    """seedd removes its socket at exit only while the name is still that
    socket: another seedd's, bound after the first's was removed, stays."""
    sock = tmp / "s.sock"
    first = Daemon(tmp, seed_file=tmp / "first", sock=sock).start()
    os.unlink(sock)
    second = Daemon(tmp, seed_file=tmp / "second", sock=sock).start()
    check(first.stop() == 0, "the first seedd did not stop cleanly")
    check(os.path.lexists(sock) and answers(sock),
          "the first seedd's exit removed the second's socket:\n" + first.log())
    check("no longer the socket seedd made" in first.log(), first.log())
    st = json.loads(second.seedctl("status", "--json").stdout)
    check(st["pid"] == second.seedd_pid(), st)
    check(second.stop() == 0 and not os.path.lexists(sock), "the second left its socket")
    print("the first seedd's exit left the second's socket: %s" % first.log().splitlines()[-1])


def exit_or_serve(d):
    """Starts seedd d and waits until it exits or serves; then (exit code, log),
    the code None when it served (it is stopped then)."""
    d.start(wait=False)
    wait_for(lambda: d.proc.poll() is not None or answers(d.sock), 60, "seedd to exit or serve")
    served = d.proc.poll() is None
    d.stop()
    return None if served else d.returncode, d.log()


# Run as the squatter: binds a socket at argv[1], listens when argv[2] is "listen",
# says so and waits for the end of stdin.
SQUATTER = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1])
if sys.argv[2] == "listen":
    s.listen(4)
else:
    s.close()
print("bound", flush=True)
sys.stdin.read()
"""


def test_socket_squatted(tmp):
    """Another user's socket at seedd's path in a sticky directory (/tmp-like),
    listening or stale, is refused with exit 1 and a message naming the path,
    by seedd as root and as the daemon's user, and left as it was: root may
    remove anybody's file there, but it is not seedd's to remove."""
    need_root("making users")
    users = Users()
    sticky = tempfile.mkdtemp(prefix="seedd-sticky-")
    dirs, procs = [sticky], []
    try:
        mallory = users.user("m")
        svc = users.daemon_user()
        os.chmod(sticky, 0o1777)
        python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else "python3"
        for kind in ("stale", "listen"):
            for who, wrapper, seed_dir in (("root", [], tmp.path),
                                           ("seedd's user", ["setpriv", "--reuid=%d" % svc[0],
                                                             "--regid=%d" % svc[1],
                                                             "--clear-groups", "--"], None)):
                sock = os.path.join(sticky, "%s-%d.sock" % (kind, len(wrapper)))
                p = subprocess.Popen(["setpriv", "--reuid=%d" % mallory[0],
                                      "--regid=%d" % mallory[1], "--clear-groups", "--", python,
                                      "-c", SQUATTER, sock, kind],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                procs.append(p)
                check(p.stdout.readline().strip() == "bound", "the squatter did not bind")
                before = seeddtest.snapshot(sock)
                if seed_dir is None:
                    seed_dir = tempfile.mkdtemp(prefix="seedd-svc-")
                    dirs.append(seed_dir)
                    os.chown(seed_dir, *svc)
                    os.chmod(seed_dir, 0o700)
                d = Daemon(tmp, seed_file=os.path.join(seed_dir, "seed-%s" % kind), sock=sock,
                           wrapper=wrapper, program=seeddtest.for_others(seeddtest.SEEDD))
                code, log = exit_or_serve(d)
                check(code == 1 and sock in log, "%s, %s squatted socket: exit %s:\n%s"
                      % (who, kind, code, log))
                check(seeddtest.snapshot(sock) == before, "%s replaced the %s squatted socket"
                      % (who, kind))
                print("%s, a %s socket of uid %d: exit 1: %s" % (who, kind, mallory[0],
                                                                 log.strip().splitlines()[-1]))
                p.stdin.close()
                p.wait(30)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        users.remove()
        subprocess.run(["rm", "-rf"] + dirs)


def test_state_dir_symlink(tmp):
    """Another user plants a symbolic link to a directory of root's where seedd
    (as root) looks for its state directory: in a sticky directory, and in a
    directory of his own where he swaps the real state directory for it. seedd
    refuses (exit 1) and creates nothing in the link's target, with
    fs.protected_symlinks 0 and 1."""
    need_root("making users")
    users = Users()
    dirs = []
    try:
        mallory = users.user("m")
        with Sysctls() as sysctls:
            for value in sysctls.values("protected_symlinks"):
                target = root_dir(dirs)
                sticky = sticky_dir(dirs)
                as_him(mallory, "ln", "-s", target, os.path.join(sticky, "state"))
                his = tempfile.mkdtemp(prefix="seedd-his-")
                dirs.append(his)
                os.chmod(his, 0o755)
                os.chown(his, *mallory)
                state = os.path.join(his, "state")
                os.mkdir(state, 0o700)
                seeddtest.write_seed(os.path.join(state, "seedfile"))
                as_him(mallory, "mv", state, state + ".old")
                as_him(mallory, "ln", "-s", target, state)
                for where, seed in (("a sticky directory", os.path.join(sticky, "state")),
                                    ("a directory of his", state)):
                    d = Daemon(tmp, seed_file=os.path.join(seed, "seedfile"),
                               sock=tmp / "s.sock")
                    code, log = exit_or_serve(d)
                    check(code == 1 and not os.listdir(target),
                          "protected_symlinks=%d, %s: exit %s, %s holds %s:\n%s"
                          % (value, where, code, target, os.listdir(target), log))
                    print("protected_symlinks=%d, a link of uid %d in %s: exit 1: %s"
                          % (value, mallory[0], where, log.strip().splitlines()[-1]))
    finally:
        users.remove()
        subprocess.run(["rm", "-rf"] + dirs)


def test_provision_out_dir_symlink(tmp):
    """seedctl provision --count --out-dir DIR run by root, where another user
    planted DIR in a sticky directory as a symbolic link to a directory of
    root's: refused, nothing written there, with fs.protected_symlinks 0 and 1.
    The same DIR made by root, and a directory it makes itself, are served."""
    need_root("making users")
    users = Users()
    dirs = []
    try:
        mallory = users.user("m")
        with Sysctls() as sysctls:
            for value in sysctls.values("protected_symlinks"):
                target = root_dir(dirs)
                sticky = sticky_dir(dirs)
                out = os.path.join(sticky, "seeds")
                as_him(mallory, "ln", "-s", target, out)
                r = subprocess.run(seeddtest.target(seeddtest.SEEDCTL, "provision", "--count", 3,
                                                    "--out-dir", out),
                                   capture_output=True, text=True, timeout=60)
                check(r.returncode != 0 and not os.listdir(target),
                      "protected_symlinks=%d: exit %d, %s holds %s: %s"
                      % (value, r.returncode, target, os.listdir(target), r.stderr))
                check(os.path.islink(out), "the planted link was removed or replaced")
                print("protected_symlinks=%d, --out-dir a link of uid %d in a sticky "
                      "directory: exit %d: %s" % (value, mallory[0], r.returncode,
                                                  r.stderr.strip()))
                made = os.path.join(sticky, "made")
                r = subprocess.run(seeddtest.target(seeddtest.SEEDCTL, "provision", "--count", 3,
                                                    "--out-dir", made),
                                   capture_output=True, text=True, timeout=60)
                check(r.returncode == 0 and len(os.listdir(made)) == 3, "control: %s" % r.stderr)
    finally:
        users.remove()
        subprocess.run(["rm", "-rf"] + dirs)


# Run as the daemon's account, in its state directory: swaps "seedfile", a file
# of his, and "x", a symbolic link to argv[1], with renameat2(RENAME_EXCHANGE) as
# fast as it can until argv[2] exists; prints how many swaps went through.
SWAPPER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
RENAME_EXCHANGE, AT_FDCWD = 2, -100
victim, stop = sys.argv[1:3]
with open("seedfile", "w") as f:
    f.write("x" * 64)
os.symlink(victim, "x")
print("ready", flush=True)
swaps = 0
while not os.path.exists(stop):
    for _ in range(1000):
        swaps += libc.renameat2(AT_FDCWD, b"seedfile", AT_FDCWD, b"x", RENAME_EXCHANGE) == 0
print(swaps, flush=True)
"""


def init_env(base, user, **extra):
    env = dict(os.environ, SEEDD_CONFIG="/dev/null", SEEDD="/bin/false", SEEDCTL="/bin/false",
               SEEDD_SEED_FILE=os.path.join(base, "data", "seedd", "seedfile"),
               SEEDD_SOCKET=os.path.join(base, "run", "seedd", "seedd.sock"),
               SEEDD_LOG=os.path.join(base, "seedd.log"),
               SEEDD_PIDFILE=os.path.join(base, "seedd.pid"), SEEDD_USER=user)
    env.update(extra)
    return env


def init_start(env):
    return subprocess.run(["sh", os.environ["SEEDD_INIT"], "start"], env=env,
                          capture_output=True, text=True, timeout=120)


def test_init_prepare_race(tmp):
    """The init script's start, as root, hands a root-provisioned seed file in
    the state directory to SEEDD_USER. The daemon's account (a user made for
    the test) swaps a file of his there with a symbolic link to a file of
    root's, as fast as renameat2(RENAME_EXCHANGE) goes, while root starts seedd
    up to 2,000 times (45 s at most) for each value of fs.protected_symlinks:
    root's file stays root's. (seedd itself is /bin/false here: each start ends
    once the directories are prepared.)"""
    need_root("making users")
    if not shutil.which("start-stop-daemon"):
        raise seeddtest.Skip("start-stop-daemon is not installed")
    users = Users()
    dirs, procs = [], []
    try:
        svc = users.user("d")
        with Sysctls() as sysctls:
            for value in sysctls.values("protected_symlinks"):
                base = root_dir(dirs, 0o755)
                victim = os.path.join(base, "victim")
                seeddtest.write_seed(victim)
                env = init_env(base, users.tag + "d")
                init_start(env)
                state = os.path.dirname(env["SEEDD_SEED_FILE"])
                check(os.stat(state).st_uid == svc[0], "the first start did not hand %s over"
                      % state)
                stop = os.path.join(base, "stop")
                p = subprocess.Popen(setpriv(svc) + [SYSTEM_PYTHON, "-c", SWAPPER, victim, stop],
                                     cwd=state, stdout=subprocess.PIPE, text=True)
                procs.append(p)
                check(p.stdout.readline().strip() == "ready", "the swapper did not start")
                t0, starts, refused = time.monotonic(), 0, 0
                while starts < 2000 and time.monotonic() - t0 < 45:
                    r = init_start(env)
                    starts += 1
                    refused += "not starting" in r.stderr
                    if os.stat(victim).st_uid != 0:
                        break
                open(stop, "w").close()
                swaps = p.stdout.readline().strip()
                p.wait(30)
                owner = os.stat(victim).st_uid
                line = ("protected_symlinks=%d: %d starts in %.0f s beside %s swaps, %d refused "
                        "by prepare; root's file owned by uid %d"
                        % (value, starts, time.monotonic() - t0, swaps, refused, owner))
                print(line)
                check(owner == 0, "the daemon's account won the race: " + line)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        users.remove()
        subprocess.run(["rm", "-rf"] + dirs)


def test_init_prepare_hardlink(tmp):
    """The daemon's account links a file of root's into the state directory as
    the seed file (possible where fs.protected_hardlinks is 0): the init
    script's start refuses it and hands nothing over, for both values."""
    need_root("making users")
    if not shutil.which("start-stop-daemon"):
        raise seeddtest.Skip("start-stop-daemon is not installed")
    users = Users()
    dirs = []
    try:
        svc = users.user("d")
        with Sysctls() as sysctls:
            for value in sysctls.values("protected_hardlinks"):
                base = root_dir(dirs, 0o755)
                victim = os.path.join(base, "victim")
                seeddtest.write_seed(victim)
                env = init_env(base, users.tag + "d")
                init_start(env)
                seed = env["SEEDD_SEED_FILE"]
                linked = subprocess.run(setpriv(svc) + ["ln", victim, seed],
                                        capture_output=True, text=True)
                r = init_start(env)
                owner = os.stat(victim).st_uid
                line = ("protected_hardlinks=%d: the link %s (%s); start: %s; root's file owned "
                        "by uid %d" % (value, "made" if linked.returncode == 0 else "refused",
                                       linked.stderr.strip() or "ok",
                                       r.stderr.strip().splitlines()[0] if r.stderr.strip()
                                       else r.stdout.strip(), owner))
                print(line)
                check(owner == 0, "the daemon's account got root's file: " + line)
                check(linked.returncode != 0 or "hard links" in r.stderr, line)
                check(os.stat(os.path.dirname(seed)).st_uid == svc[0],
                      "the state directory was not given back: " + line)
    finally:
        users.remove()
        subprocess.run(["rm", "-rf"] + dirs)


if __name__ == "__main__":
    seeddtest.main(globals())
