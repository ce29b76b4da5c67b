#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Crowded hosts and hostile local users, with real second users (root only):
one uid cannot lock the others out, nor can several colluding uids or one
user's subordinate uids, thousands of client processes of one uid are
served, and only the trusted see the full status."""

import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import seeddtest
from seeddtest import Daemon, check, for_others, target, wait_for
from faultlib import LOADGEN, Users, as_user, need_root, status_as

SEEDCTL = seeddtest.SEEDCTL
SCTOOL = seeddtest.SCTOOL


def setpriv(ids):
    return ["setpriv", "--reuid=%d" % ids[0], "--regid=%d" % ids[1], "--clear-groups", "--"]


class Crowd:
    """Throw-away users, their processes, and a socket directory they can reach."""

    def __init__(self):
        need_root("making users")
        for tool in ("useradd", "setpriv"):
            if subprocess.run(["which", tool], capture_output=True).returncode:
                raise seeddtest.Skip("%s is not installed" % tool)
        self.users = Users()
        self.procs = []
        self.daemons = []
        self.uids = []
        self.dir = tempfile.mkdtemp(prefix="seedd-crowd-")
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "s.sock")

    def user(self, name, group=None):
        ids = self.users.user(name, group)
        self.uids.append(ids[0])
        return ids

    def spawn(self, ids, argv, env):
        """A long-lived process of user ids with pipes for stdin and stdout."""
        p = subprocess.Popen(setpriv(ids) + argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env=env)
        self.procs.append(p)
        return p

    def cleanup(self):
        # userdel refuses a user with processes left, as a failed test may leave.
        for d in self.daemons:
            if d.alive():
                d.proc.kill()
                d.proc.wait()
        for p in self.procs:
            for pid in children(p.pid):
                kill(pid)
            kill(p.pid)
            p.wait()
        for uid in self.uids:
            wait_for(lambda: not pids_of(uid), 30, "the processes of uid %d gone" % uid)
        self.users.remove()
        subprocess.run(["rm", "-rf", self.dir])


def proc_status(pid):
    try:
        with open("/proc/%s/status" % pid) as f:
            return dict(line.split(":", 1) for line in f)
    except OSError:
        return {}


def children(ppid):
    return [int(d) for d in os.listdir("/proc") if d.isdigit() and
            proc_status(d).get("PPid", "").strip() == str(ppid)]


def pids_of(uid):
    return [int(d) for d in os.listdir("/proc") if d.isdigit() and
            proc_status(d).get("Uid", "").split()[:1] == [str(uid)]]


def kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Lines:
    """The stdout lines of a process, read by a thread, taken with a timeout."""

    def __init__(self, proc):
        self.q = queue.Queue()
        threading.Thread(target=self.run, args=(proc.stdout,), daemon=True).start()

    def run(self, f):
        for line in f:
            self.q.put(line.strip())
        self.q.put(None)

    def get(self, timeout, what):
        try:
            line = self.q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no %s within %d s" % (what, timeout))
        check(line is not None, "the process ended before its %s" % what)
        return line

    def take(self, n, timeout, what):
        """n lines, all within timeout seconds."""
        deadline = time.monotonic() + timeout
        return [self.get(max(0, deadline - time.monotonic()), "%s %d of %d" % (what, i + 1, n))
                for i in range(n)]


def ask(proc, lines, what, timeout=60):
    proc.stdin.write("\n")
    proc.stdin.flush()
    return lines.get(timeout, what)


def fields(line):
    return {k: int(v) for k, v in (kv.split("=") for kv in line.split())}


def seeds_as(ids, env, n=3):
    r = as_user(*ids, target(for_others(SCTOOL), "read", "32", str(n)), env)
    out = r.stdout.split()
    check(r.returncode == 0 and len(out) == n and len(set(out)) == n,
          "uid %d not served: %s %s" % (ids[0], r.stdout, r.stderr))
    return out


def users_status_as(ids, sock):
    """The status of a USERS request that a process of ids (uid, gid) sends on sock."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(ids[1])
            os.setuid(ids[0])
            s = seeddtest.connect(sock)
            s.send(seeddtest.wire.users_req(0))
            os.write(w, b"%d" % seeddtest.parse_reply(s.recv(65536))[1])
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read()
    os.waitpid(pid, 0)
    check(out, "the USERS request as uid %d failed" % ids[0])
    return int(out)


def rss_kb(pid):
    vals = proc_status(pid)
    return int(vals["VmRSS"].split()[0]), int(vals["VmHWM"].split()[0])


def eviction_lines(daemon):
    return [l for l in daemon.log().splitlines() if "for a new one of uid" in l]


def test_one_uid_holds_many(tmp):
    """One unprivileged uid holds 1,100 connections, each used once: with the
    defaults (1024 in all, 256 per uid) it keeps 256, and root and another
    uid are still served, seeds and status alike."""
    crowd = Crowd()
    try:
        hog, other = crowd.user("hog"), crowd.user("other")
        daemon = Daemon(tmp, sock=crowd.sock).start()
        env = daemon.client_env(SEEDD_TIMEOUT_MS=20000)
        t0 = time.monotonic()
        p = crowd.spawn(hog, target(for_others(LOADGEN), "hold", daemon.sock, "1100", "get"),
                        env)
        lines = Lines(p)
        held = fields(lines.get(300, "connections"))
        took = time.monotonic() - t0
        check(held["opened"] == 1100 and held["ok"] == 1100 and held["busy"] == 0,
              "the hog was not served on each of its connections: %s" % held)
        check(held["open"] == 256, "the hog keeps %d connections, not the per-uid 256"
              % held["open"])

        mine = daemon.sctool("read", 32, 3).stdout.split()
        theirs = seeds_as(other, env)
        check(len(set(mine + theirs)) == 6, "repeated bytes")
        # The hog's 256 and the status query's own, once the sctools' are reaped.
        full = wait_for(lambda: (lambda st: st["clients"] == 256 + 1 and st)(daemon.status()),
                        10, "the hog's 256 connections alone")
        check(full["limited"] is False, "root's status: %s" % full)
        limited = status_as(daemon, other, env)
        check(limited["limited"] is True and limited["healthy"] is True, limited)
        still = fields(ask(p, lines, "open count"))["open"]
        check(still == 256, "serving root and uid %d closed %d of the hog's connections"
              % (other[0], 256 - still))

        logged = eviction_lines(daemon)
        check(logged and all("of uid %d" % hog[0] in l and "at the per-uid limit of 256" in l
                             for l in logged), "\n".join(logged) or daemon.log())
        check(len(logged) <= 2 + took / 10, "%d eviction lines in %.0f s" % (len(logged), took))
        p.stdin.close()
        check(p.wait(60) == 0, "loadgen hold failed")
        print("uid %d opened 1100 connections, one request on each, in %.1f s; seedd kept %d "
              "open (per-uid limit 256) and closed %d; root and uid %d were served seeds and "
              "status meanwhile; %d log line(s): %s"
              % (hog[0], took, still, 1100 - still, other[0], len(logged), logged[0]))
    finally:
        crowd.cleanup()


def test_reserved_slots(tmp):
    """--max-clients 64 keeps 4 slots from unprivileged peers: one uid
    without a per-uid limit gets at most 60, another uid is served in place
    of its least recently used connection, and root takes the reserved slots
    without closing anybody's, then closes its own first."""
    crowd = Crowd()
    try:
        hog, other = crowd.user("hog"), crowd.user("other")
        daemon = Daemon(tmp, "--max-clients", "64", "--max-clients-per-uid", "64",
                        sock=crowd.sock).start()
        env = daemon.client_env(SEEDD_TIMEOUT_MS=20000)
        p = crowd.spawn(hog, target(for_others(LOADGEN), "hold", daemon.sock, "100", "get"), env)
        lines = Lines(p)
        held = fields(lines.get(120, "connections"))
        check(held["ok"] == 100 and held["open"] == 60, "64 - 4 reserved: %s" % held)
        seeds_as(other, env, 1)
        check(fields(ask(p, lines, "open count"))["open"] == 59,
              "uid %d did not take the place of the hog's oldest connection" % other[0])
        wait_for(lambda: daemon.status()["clients"] == 59 + 1, 10, "uid %d's exit" % other[0])

        # Root: 59 + 5 = 64 without closing any; the sixth closes root's oldest.
        mine = []
        for _ in range(6):
            mine.append(seeddtest.connect(daemon.sock))
            seeddtest.raw_get(mine[-1], 16)
        mine[0].settimeout(5)
        check(mine[0].recv(100) == b"", "root's sixth connection did not close root's oldest")
        for s in mine[1:]:
            seeddtest.raw_get(s, 16)
        check(fields(ask(p, lines, "open count"))["open"] == 59,
              "root took the place of the hog's connections")
        p.stdin.close()
        check(p.wait(60) == 0, "loadgen hold failed")
        print("max-clients 64: uid %d kept 60 of 100, uid %d took the place of one, root used "
              "the 4 reserved slots and then closed its own oldest" % (hog[0], other[0]))
    finally:
        crowd.cleanup()


def test_many_processes(tmp):
    """2,000 live processes of one uid each read one seed through
    libseedclient and stay alive, with the default limits (1024 in all, 256
    per uid): all are served with distinct bytes, and each reads again once
    released, on a connection that the daemon has mostly closed meanwhile."""
    n = 2000
    crowd = Crowd()
    try:
        workers = crowd.user("w")
        daemon = Daemon(tmp, sock=crowd.sock).start()
        env = daemon.client_env(SEEDD_TIMEOUT_MS=20000)
        rss0 = rss_kb(daemon.proc.pid)[0]
        t0 = time.monotonic()
        p = crowd.spawn(workers, target(for_others(SCTOOL), "procs", str(n), "32"), env)
        lines = Lines(p)
        first = lines.take(n, 240, "seed")
        took = time.monotonic() - t0
        rss, hwm = rss_kb(daemon.proc.pid)
        check(all(len(x) == 64 for x in first), "%d processes failed"
              % sum(1 for x in first if len(x) != 64))
        check(len(set(first)) == n, "only %d distinct of %d" % (len(set(first)), n))
        alive = ask(p, lines, "alive count")
        check(alive == "alive=%d" % n, "processes exited early: %s" % alive)
        st = daemon.status()
        check(st["clients"] <= 256 + 1, "uid %d holds more than 256: %s" % (workers[0], st))
        evicted = n - (st["clients"] - 1)

        t1 = time.monotonic()
        p.stdin.close()
        again = lines.take(n, 240, "second seed")
        took2 = time.monotonic() - t1
        done = lines.get(60, "exit status")
        check(p.wait(60) == 0 and done == "failed=0", "second reads: %s" % done)
        again = [x.split()[1] for x in again if x.startswith("again ")]
        check(len(again) == n and len(set(again + first)) == 2 * n,
              "second reads: %d, %d distinct" % (len(again), len(set(again + first))))
        check(daemon.alive() and daemon.stop() == 0, "seedd did not stop cleanly")
        print("%d live processes of uid %d: all served, all distinct, in %.1f s; seedd RSS %d kB "
              "(%d kB before, peak %d kB); %d of their connections open, %d closed for "
              "newcomers; released, all %d read again in %.1f s, all distinct"
              % (n, workers[0], took, rss, rss0, hwm, st["clients"] - 1, evicted, n, took2))
    finally:
        crowd.cleanup()


def test_status_limited(tmp):
    """Root, the daemon's own user and the allow lists get the full status;
    anybody else the version and the health, with the same exit code. The daemon
    runs as the build's daemon user, whom every client trusts enough to ask."""
    crowd = Crowd()
    try:
        svc, other = crowd.users.daemon_user(), crowd.user("other")
        group = crowd.users.group("g")
        member = crowd.user("m", group=group)
        # The daemon runs as its own user, as installed.
        state, run = os.path.join(crowd.dir, "state"), os.path.join(crowd.dir, "run")
        for d, mode in ((state, 0o700), (run, 0o755)):
            os.mkdir(d, mode)
            os.chown(d, *svc)
        seed = os.path.join(state, "seedfile")
        daemon = Daemon(tmp, "--save-interval", "1", seed_file=seed,
                        sock=os.path.join(run, "s.sock"), wrapper=setpriv(svc),
                        program=for_others(seeddtest.SEEDD))
        crowd.daemons.append(daemon)
        daemon.start()
        env = daemon.client_env()
        full = {"root": daemon.status(), "seedd's user": status_as(daemon, svc, env)}
        lim = status_as(daemon, other, env)
        for who, st in full.items():
            check(st["limited"] is False and st["seed_file"] == seed and st["seed_size"] == 64
                  and st["uptime_s"] is not None and st["clients"] >= 1 and
                  st["pid"] == daemon.seedd_pid() and st["refused"] == 0 and
                  isinstance(st["users"], list), "%s: %s" % (who, st))
        # The per-user table is for the trusted only, asked on the wire too.
        check(users_status_as(svc, daemon.sock) == seeddtest.ST_OK, "seedd's user: no table")
        check(users_status_as(other, daemon.sock) == seeddtest.ST_DENIED,
              "uid %d was shown the per-user table" % other[0])
        check(set(lim) == set(full["root"]), "keys differ: %s" % sorted(set(lim) ^ set(full["root"])))
        shown = {"version", "protocol", "socket", "healthy", "seeded", "last_save_ok", "limited"}
        check(lim["limited"] is True and lim["healthy"] is True and lim["seeded"] is True and
              lim["last_save_ok"] is True and lim["version"] == full["root"]["version"],
              "limited status: %s" % lim)
        check(all(v is None for k, v in lim.items() if k not in shown),
              "withheld values are shown: %s" % lim)
        r = as_user(*other, target(for_others(SEEDCTL), "--socket", daemon.sock, "status"), env)
        check(r.returncode == 0 and "healthy" in r.stdout and "withheld" in r.stdout and
              seed not in r.stdout and "requests" not in r.stdout, r.stdout)
        r = subprocess.run(target(SEEDCTL, "--socket", daemon.sock, "status"), capture_output=True,
                           text=True)
        check(r.returncode == 0 and seed in r.stdout and "withheld" not in r.stdout, r.stdout)
        # Degraded (saves fail in a read-only state directory): the same exit code for all.
        os.chmod(state, 0o500)
        wait_for(lambda: not daemon.status()["last_save_ok"], 20, "a failed save")
        r = as_user(*other, target(for_others(SEEDCTL), "--socket", daemon.sock, "status"), env)
        check(r.returncode == 1 and "DEGRADED" in r.stdout and "FAILED" in r.stdout and
              "Permission denied" not in r.stdout, "degraded, limited: %s" % r.stdout)
        st = status_as(daemon, other, env, rc=1)
        check(st["healthy"] is False and st["last_save_ok"] is False and st["limited"] is True and
              st["last_save_error"] is None, st)
        os.chmod(state, 0o700)
        check(daemon.stop() == 0, "seedd did not stop cleanly")

        # The allow lists see everything too.
        daemon = Daemon(tmp, "--allow-uid", str(other[0]), "--allow-gid", group,
                        sock=crowd.sock).start()
        for ids in (other, member):
            st = status_as(daemon, ids, env)
            check(st["limited"] is False and st["seed_file"] == daemon.seed_file,
                  "allowed uid %d: %s" % (ids[0], st))
        check(daemon.stop() == 0, "seedd did not stop cleanly")
        print("full status for root, seedd's uid %d, --allow-uid %d and --allow-gid %s; uid %d "
              "sees: %s" % (svc[0], other[0], group, other[0], json.dumps(lim)))
    finally:
        crowd.cleanup()




def own_daemon(crowd, tmp, *args, wrapper_extra=()):
    """seedd as the build's daemon user, as installed, on a state and a socket
    directory of its own in the crowd's directory, wrapped in wrapper_extra
    too; started. Also returns the daemon user's (uid, gid)."""
    svc = crowd.users.daemon_user()
    state, run = os.path.join(crowd.dir, "state"), os.path.join(crowd.dir, "run")
    for d, mode in ((state, 0o700), (run, 0o755)):
        os.mkdir(d, mode)
        os.chown(d, *svc)
    daemon = Daemon(tmp, *args, seed_file=os.path.join(state, "seedfile"),
                    sock=os.path.join(run, "s.sock"), wrapper=list(wrapper_extra) + setpriv(svc),
                    program=for_others(seeddtest.SEEDD))
    crowd.daemons.append(daemon)
    return daemon.start(), svc


def fresh_reads(ids, env, n):
    """How many of n fresh processes of user ids (None: root), each reading one seed
    through libseedclient, were served."""
    script = "for i in $(seq %d); do %s read 32 1 || echo failed; done" % (
        n, " ".join(target(for_others(SCTOOL))))
    argv = (setpriv(ids) if ids else []) + ["/bin/sh", "-c", script]
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    seeds = [l for l in r.stdout.split() if len(l) == 64]
    check(len(set(seeds)) == len(seeds), "repeated seeds")
    return len(seeds)


def served_beside(daemon, svc, honest, env, what, assert_all=True):
    """150 fresh reads of the honest user, 20 of root and 20 of the daemon's user,
    while what goes on; all must be served (when assert_all). The figures, as a line."""
    got = (fresh_reads(honest, env, 150), fresh_reads(None, env, 20),
           fresh_reads(svc, env, 20))
    line = ("beside %s: uid %d got %d/150 reads served, root %d/20, seedd's user %d/20"
            % (what, honest[0], got[0], got[1], got[2]))
    print(line)
    check(not assert_all or got == (150, 20, 20), line + "\n" + daemon.log()[-3000:])
    return line


def test_collusion_uids(tmp):
    """Four colluding uids each keep 256 connections with 3 requests always
    queued on each (more than the 960 slots for unprivileged peers together),
    and take back at once whatever seedd closes: a fifth user doing 150
    fresh-process reads is served every time, and so are root and seedd's
    user. Nobody else's connection gave way: a newcomer who holds fewer
    connections than the largest holder takes that holder's least recently
    used one, after its waiting requests were answered."""
    crowd = Crowd()
    try:
        colluders = [crowd.user("c%d" % k) for k in range(4)]
        honest = crowd.user("h")
        daemon, svc = own_daemon(crowd, tmp)
        env = daemon.client_env(SEEDD_TIMEOUT_MS=10000)
        loadgen = for_others(LOADGEN)
        procs = [crowd.spawn(ids, target(loadgen, "busy", daemon.sock, 256, 3), env)
                 for ids in colluders]
        lines = [Lines(p) for p in procs]
        first = [fields(l.get(300, "the first report")) for l in lines]
        full = wait_for(lambda: (lambda st: st["clients"] >= 960 and st)(daemon.status()), 120,
                        "the colluders to fill the slots for unprivileged peers")
        held = {u["uid"]: u["clients"] for u in full["users"] or ()}
        print("4 colluding uids asked for 4 x 256 connections: %s open after the first dial; "
              "seedd's users: %s" % ([f["open"] for f in first], held))
        line = served_beside(daemon, svc, honest, env, "4 x 256 busy colluding connections")
        st = daemon.status()
        after = [fields(ask(p, l, "a report")) for p, l in zip(procs, lines)]
        mine = [u for u in st["users"] if u["uid"] == honest[0]]
        # Listed only if something was counted for him.
        check(not mine, "the honest user was refused or closed: %s" % st["users"])
        check(all(a["failed"] == 0 if "failed" in a else True for a in after), after)
        for p in procs:
            p.stdin.close()
        for p in procs:
            check(p.wait(60) == 0, "a colluder's loadgen saw a bad reply")
        print("%s; seedd closed %d of the colluders' connections for newcomers and refused "
              "%d; the colluders' view: %s" % (line, st["evicted"], st["refused"], after))
    finally:
        crowd.cleanup()


# Runs in the user namespace as its root (the user himself): four children of
# ns uids 1-4, that is four of his subordinate uids on the host, each a busy
# loadgen; they end with the end of stdin, which they share.
IN_NAMESPACE = """
import os, sys
loadgen, sock = sys.argv[1:3]
for k in range(1, 5):
    if os.fork() == 0:
        # Their reports are not read: the status shows what they hold.
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.setresgid(k, k, k)
        os.setresuid(k, k, k)
        os.execv(loadgen, [loadgen, "busy", sock, "256", "3"])
print("started", flush=True)
for k in range(4):
    os.wait()
"""


def test_collusion_subuids(tmp):
    """One user with subordinate uids (/etc/subuid) runs four busy loadgens as
    four of them in a user namespace of his own: seedd sees four host uids,
    which it counts as him, once /etc/subuid names them his (it changes while
    seedd runs): together they keep at most the 256 connections of one user,
    and an honest user's 150 fresh-process reads beside them, root's and
    seedd's user's are all served."""
    crowd = Crowd()
    for tool in ("unshare", "newuidmap", "usermod"):
        if not shutil.which(tool):
            raise seeddtest.Skip("%s is not installed (newuidmap: Debian's uidmap)" % tool)
    try:
        owner = crowd.user("o")
        honest = crowd.user("h")
        daemon, svc = own_daemon(crowd, tmp)
        first = 3100000000 + random.randrange(100000) * 16
        subprocess.run(["usermod", "--add-subuids", "%d-%d" % (first, first + 9),
                        "--add-subgids", "%d-%d" % (first, first + 9),
                        crowd.users.tag + "o"], check=True, capture_output=True)
        env = daemon.client_env(SEEDD_TIMEOUT_MS=10000, SEEDD_TRUST_UNMAPPED=1)
        # The cleanup waits for the processes of these uids to be gone too.
        crowd.uids += list(range(first + 1, first + 5))
        python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else \
            shutil.which("python3")
        ns = ["unshare", "--user", "--map-root-user", "--map-users=%d,1,10" % first,
              "--map-groups=%d,1,10" % first, "--"]
        p = crowd.spawn(owner, ns + [python, "-c", IN_NAMESPACE, for_others(LOADGEN),
                                     daemon.sock], env)
        started = Lines(p).get(60, "the namespace's start")
        check(started == "started", started)
        subs = set(range(first + 1, first + 5))

        def settled():
            st = daemon.status()
            by = {u["uid"]: u for u in st["users"] or ()}
            # Counted as his, or (a daemon that does not) filling the shared slots.
            grouped = owner[0] in by and by[owner[0]]["clients"] >= 200
            return (grouped or st["clients"] >= 960) and st
        st = wait_for(settled, 120, "the subordinate uids' connections")
        line = served_beside(daemon, svc, honest, env, "4 subordinate uids of uid %d, busy"
                             % owner[0], assert_all=False)
        # The change counts from the subordinate uids' first connection on.
        st = wait_for(lambda: (lambda st: owner[0] in {u["uid"] for u in st["users"] or ()}
                               and st)(daemon.status()), 30,
                      "/etc/subuid's change to count uids %d-%d as uid %d"
                      % (first + 1, first + 4, owner[0]))
        by = {u["uid"]: u for u in st["users"] or ()}
        # Counted on their own, they would hold connections (what they were refused
        # before the change stays theirs).
        check(owner[0] in by and not any(by[u]["clients"] for u in subs & set(by)),
              "subordinate uids counted on their own: %s; %s" % (st["users"], line))
        check(by[owner[0]]["clients"] <= 256, "uid %d with his subordinate uids holds %d "
              "connections, more than one user's 256" % (owner[0], by[owner[0]]["clients"]))
        check("150/150" in line and "20/20, seedd's user 20/20" in line, line)
        st = daemon.status()
        by = {u["uid"]: u for u in st["users"]}
        p.stdin.close()
        check(p.wait(60) == 0, "the namespace's loadgens failed")
        print("%s; uid %d and his subordinate uids %d-%d held %d connections (one user's "
              "limit 256), %d of their newcomers refused" % (
                  line, owner[0], first + 1, first + 4, by[owner[0]]["clients"],
                  by[owner[0]]["refused"]))
    finally:
        crowd.cleanup()


def timed_reads(ids, env, n):
    """n fresh processes of user ids (None: root), one after the other, each
    reading one seed: the wall time of each in ms, None for one that failed."""
    argv = (setpriv(ids) if ids else []) + target(for_others(SCTOOL), "read", 32, 1)
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        ms = (time.monotonic() - t0) * 1000
        out.append(ms if r.returncode == 0 and len(r.stdout.strip()) == 64 else None)
    return out


def listen_queue(pid):
    """Connections waiting in the listen queue of seedd (pid): ss(8) by the socket's
    inode, which its fds show."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    r = subprocess.run(["ss", "-xlnH"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 6 and f[5] in inodes:
            return int(f[2])
    return 0


def summary(ms):
    ok = sorted(x for x in ms if x is not None)
    if not ok:
        return "none served of %d" % len(ms)
    return "%d/%d served, p50 %.1f ms, p90 %.1f ms, max %.1f ms" % (
        len(ok), len(ms), seeddtest.pct(ok, 50), seeddtest.pct(ok, 90), ok[-1])


def cpu_ns(pid):
    """CPU time a process has run, in ns (/proc/PID/schedstat)."""
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def drain_cost(daemon, pid, n):
    """seedd's CPU time per connection, in us, to drain a listen queue of n
    connections whose peers closed before it accepted them."""
    daemon.proc.send_signal(signal.SIGSTOP)
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_NONBLOCK)
            s.connect(daemon.sock)
            s.close()
        check(listen_queue(pid) >= n, "only %d queued" % listen_queue(pid))
        t0 = cpu_ns(pid)
    finally:
        daemon.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: listen_queue(pid) == 0, 60, "seedd to drain its listen queue")
    return (cpu_ns(pid) - t0) / n / 1000


def test_listen_flood(tmp):
    """One uid floods the listen queue (non-blocking connect and close in a
    loop, two processes) while another user's idle connections fill every
    slot for unprivileged peers: root's and that user's fresh processes are
    served every time, with the default 2 s timeout. Printed: seedd's CPU time
    per connection gone before it was accepted (what draining the queue
    costs), the fresh processes' times with and without the flood (measured
    just before), the queue's length and how many of the idle connections a
    flooder's connection, still open when accepted, took the place of."""
    crowd = Crowd()
    try:
        flooder, honest = crowd.user("f"), crowd.user("h")
        daemon, svc = own_daemon(crowd, tmp, "--max-clients", "64", "--max-clients-per-uid", "64")
        env = daemon.client_env()
        pid = daemon.seedd_pid()
        # All 60 slots for unprivileged peers taken by the honest user's idle
        # connections: a flooder's connection that took a slot would close one.
        holder = crowd.spawn(honest, target(for_others(LOADGEN), "hold", daemon.sock, 60, "get"),
                             env)
        holder_lines = Lines(holder)
        held = fields(holder_lines.get(120, "the held connections"))
        check(held["open"] == 60, held)
        cost = drain_cost(daemon, pid, 4000)
        print("seedd's CPU time to drain 4,000 connections gone before they were accepted: "
              "%.2f us each" % cost)
        quiet = {"root": timed_reads(None, env, 50), "uid %d" % honest[0]:
                 timed_reads(honest, env, 50)}
        floods = [crowd.spawn(flooder, target(for_others(LOADGEN), "connflood", daemon.sock,
                                              600), env) for _ in range(2)]
        wait_for(lambda: listen_queue(pid) > 0 or all(p.poll() is not None for p in floods), 30,
                 "the flood to reach the listen queue")
        cpu0, t0 = seeddtest.proc_cpu_s(pid), time.monotonic()
        queue_len = []
        flooded = {}
        for who, ids in (("root", None), ("uid %d" % honest[0], honest)):
            flooded[who] = timed_reads(ids, env, 50)
            queue_len.append(listen_queue(pid))
        cpu, wall = seeddtest.proc_cpu_s(pid) - cpu0, time.monotonic() - t0
        for p in floods:
            p.kill()
            p.wait()
        st = daemon.status()
        for who in quiet:
            print("%s: without the flood %s; with it %s" % (who, summary(quiet[who]),
                                                           summary(flooded[who])))
        print("listen queue during the flood: %s; seedd used %.0f%% of a CPU; %s clients, "
              "%s closed for newcomers, %s refused" % (queue_len, 100 * cpu / wall,
                                                      st["clients"], st["evicted"],
                                                      st["refused"]))
        for who, ms in flooded.items():
            check(None not in ms, "%s not served during the flood: %s" % (who, summary(ms)))
        kept = fields(ask(holder, holder_lines, "the held connections"))["open"]
        # One that was still open when accepted takes its place as any newcomer with fewer.
        print("the honest user's 60 idle connections: %d kept" % kept)
        holder.stdin.close()
        check(holder.wait(60) == 0, "loadgen hold failed")
    finally:
        crowd.cleanup()


def test_fd_limit(tmp):
    """Under RLIMIT_NOFILE 300 with the default --max-clients 1024, two
    unprivileged uids that hold 150 connections each cannot take the fds of
    the slots kept for root and seedd's user: seedd sizes its limits to the
    fd limit at start, saying so with both numbers, and root's and seedd's
    user's fresh processes are served with the default 2 s timeout."""
    crowd = Crowd()
    try:
        hogs = [crowd.user("a"), crowd.user("b")]
        daemon, svc = own_daemon(crowd, tmp, wrapper_extra=["prlimit", "--nofile=300:300", "--"])
        env = daemon.client_env()
        m = re.search(r"--max-clients 1024 does not fit RLIMIT_NOFILE 300 .*serving at most "
                      r"(\d+) connections", daemon.log())
        procs = [crowd.spawn(ids, target(for_others(LOADGEN), "hold", daemon.sock, 150, "get"),
                             env) for ids in hogs]
        lines = [Lines(p) for p in procs]
        pid = daemon.seedd_pid()
        # Both hold theirs, or (a seedd that does not size its limits) it ran out of fds.
        wait_for(lambda: all(l.q.qsize() for l in lines) or
                 len(os.listdir("/proc/%d/fd" % pid)) >= 300 - 2, 120,
                 "the two uids to hold their connections")
        got = (fresh_reads(None, env, 20), fresh_reads(svc, env, 20))
        held = [fields(l.get(120, "the held connections")) for l in lines]
        line = ("RLIMIT_NOFILE 300: uids %d and %d asked for 150 connections each and keep %s; "
                "root got %d/20 reads served, seedd's user %d/20; the log: %s"
                % (hogs[0][0], hogs[1][0], [h["open"] for h in held], got[0], got[1],
                   m.group(0) if m else "no warning"))
        print(line)
        check(m, "no warning naming --max-clients and RLIMIT_NOFILE:\n" + daemon.log())
        cap = int(m.group(1))
        check(got == (20, 20), line)
        check(all(h["open"] <= max(cap // 4, 1) for h in held), line)
        for p in procs:
            p.stdin.close()
            p.wait(60)
    finally:
        crowd.cleanup()


if __name__ == "__main__":
    seeddtest.main(globals())
