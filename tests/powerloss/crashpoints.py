# SPDX-License-Identifier: MIT
"""Crash points of seedd and seedctl provision on forgetfs, and what a
restart finds: shared by the suite (test_powerloss.py) and the longer
campaign (campaign.py).

A World is one machine's life: a seed file on forgetfs, seedd runs one after
another, power cuts between or inside them. seedd runs with
--no-platform-entropy and a fixed machine id, so its output is a function of
the seed it started from: a seed used twice shows as a repeated read. Every
64-byte read a run answered is recorded, and the invariants are:

  - after every cut, the seed file is valid (seedctl check exits 0);
  - seedd on what survived serves, or exits 1 with a message (a refusal);
    it never crashes, hangs or exits otherwise;
  - no read of any run equals a read of an earlier run of the World.

A point is a phase and the number of the operation a cut lands before
(counted from the phase's start in a run without a cut), or, for "serving",
a random moment while seedd serves and saves every second.
"""

import os
import random
import signal
import subprocess
import time

from seeddtest import SEEDCTL, SEEDD, connect, raw_get, read_file, target, wait_serving
from powerlib import ForgetMount, Gated

READS = 4  # 64-byte reads of each run that serves
MACHINE_ID = "0123456789abcdef0123456789abcdef"
PROVISION = ("provision", "provision --force", "provision --stdin", "provision --count")


# The refusals a restart may make, and why each is right; any other is a violation,
# to be understood before it is added here.
RIGHT_REFUSALS = {
    "does not exist and platform entropy is off":
        "the cut came before the new seed file was durable, so there is none; "
        "without platform entropy seedd must not make one up",
}


class Outcome(dict):
    """Counts by phase: points, what the restart did, what survived, violations."""

    def add(self, phase, key, n=1):
        row = self.setdefault(phase, {})
        row[key] = row.get(key, 0) + n


class World:
    def __init__(self, dirpath, mode, seed=0, env=None):
        os.makedirs(dirpath, mode=0o700, exist_ok=True)
        self.dir = dirpath
        self.mode = mode
        self.rng = random.Random(seed)
        self.env = dict(os.environ, **(env or {}))
        self.m = ForgetMount(dirpath).start()
        self.seed_file = self.m.path("seedfile")
        self.sock = os.path.join(dirpath, "seedd.sock")
        self.machine = os.path.join(dirpath, "machine-id")
        with open(self.machine, "w") as f:
            f.write(MACHINE_ID + "\n")
        self.reads = {}  # bytes -> (point, run)
        self.repeated = False  # whether the current point repeated an earlier read
        self.violations = []
        self.refusals = []
        self.outcome = Outcome()
        self.runs = 0
        self.ops = {}
        self.phase = None

    def close(self):
        self.m.stop()

    # --- seedd ----------------------------------------------------------------------------

    def reset(self, seed=True):
        """A fresh durable state: the mount emptied, a new random seed file (unless not seed)."""
        for name in os.listdir(self.m.mnt):
            p = self.m.path(name)
            if os.path.isdir(p):
                for n in os.listdir(p):
                    os.unlink(os.path.join(p, n))
                os.rmdir(p)
            else:
                os.unlink(p)
        self.first = os.urandom(64) if seed else None
        if seed:
            fd = os.open(self.seed_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, self.first)
            os.close(fd)
        self.m.sync()

    def seedd(self, *extra, hold=None, env=None):
        """seedd started gated; hold = n holds its nth operation, else its operations are
        only counted (self.m.ops(pid) lists them)."""
        self.runs += 1
        log = open(os.path.join(self.dir, "seedd-%d.log" % self.runs), "wb")
        g = Gated(target(SEEDD, "--seed-file", self.seed_file, "--socket", self.sock,
                         "--no-platform-entropy", "--machine-id-file", self.machine, *extra),
                  env=env or self.env, stdout=log)
        g.log_path = log.name
        log.close()
        self.m.hold(g.pid, hold or 10 ** 9)
        g.go()
        return g

    def read(self, g, point, n=READS, until_held=False):
        """Up to n reads of 64 bytes from g, each checked against every earlier read."""
        got = 0
        deadline = time.monotonic() + 30
        try:
            s = connect(self.sock, timeout=0.5 if until_held else 10)
        except OSError:
            return 0
        with s:
            while got < n or until_held:
                if until_held and (self.m.wait_held(timeout=0) or time.monotonic() > deadline):
                    break
                try:
                    data = raw_get(s, 64)
                except (OSError, AssertionError):
                    if until_held:
                        continue
                    raise
                got += 1
                self.record(data, point)
        return got

    def record(self, data, point):
        """One output of the current run; a repeat of an earlier run's is a violation."""
        if data in self.reads and self.reads[data][1] != self.runs:
            self.violations.append("%s: run %d read what run %d of %s read"
                                   % (point, self.runs, self.reads[data][1], self.reads[data][0]))
            if not self.repeated:
                self.repeated = True
                self.outcome.add(self.phase, "repeated output")
        self.reads[data] = (point, self.runs)

    def stop(self, g, sig=signal.SIGKILL):
        if g.proc.poll() is None:
            g.proc.send_signal(sig)
        return g.proc.wait(30)

    def log(self, g):
        with open(g.log_path, errors="replace") as f:
            return f.read()

    def cut(self, g):
        """Power off while g is held or running: the cut, then g is killed and its held
        operation released (it fails, having done nothing)."""
        seed = self.rng.randrange(1 << 30)
        report = self.m.cut(self.mode, seed, kill=[g.pid])
        if g.proc.poll() is None:
            g.proc.send_signal(signal.SIGKILL)
        self.m.release()
        g.proc.wait(30)
        return report

    def check_file(self, point, required=True):
        if not os.path.exists(self.seed_file):
            if required:
                self.violations.append("%s: no seed file after the cut" % point)
            return None
        r = subprocess.run(target(SEEDCTL, "check", self.seed_file), capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            self.violations.append("%s: seedctl check: %s" % (point, r.stderr.strip()))
            self.outcome.add(self.phase, "invalid seed file")
        return read_file(self.seed_file)

    def restart(self, phase, point):
        """seedd on what survived: serves (and is read) or refuses; anything else is a
        violation."""
        g = self.seedd()
        try:
            wait_serving(self.sock, g.proc, 30)
        except AssertionError:
            code = g.proc.wait(30)
            last = (self.log(g).strip().splitlines()[-1:] or ["(no message)"])[0]
            why = [w for w in RIGHT_REFUSALS if w in last]
            if code == 1 and why:
                self.refusals.append((point, why[0]))
                self.outcome.add(phase, "refused")
            else:
                self.violations.append("%s: seedd exited %s after the cut: %s"
                                       % (point, code, self.log(g)))
                self.outcome.add(phase, "crash, hang or unexplained exit")
            return
        self.read(g, point)
        self.outcome.add(phase, "served")
        self.stop(g)

    def dry_runs(self):
        """The operations of each phase in runs without a cut, as the points count them."""
        self.reset()
        a = self.seedd()
        wait_serving(self.sock, a.proc, 30)
        self.ops["startup-first"] = self.m.ops(a.pid)
        self.stop(a)
        b = self.seedd()
        wait_serving(self.sock, b.proc, 30)
        self.ops["startup"] = self.m.ops(b.pid)
        self.stop(b)
        self.reset()
        a = self.seedd()
        wait_serving(self.sock, a.proc, 30)
        self.m.ops(a.pid)
        self.stop(a, signal.SIGTERM)
        self.ops["final"] = self.m.ops(a.pid)
        # A periodic save is the same save as the final one.
        self.ops["periodic"] = self.ops["final"]
        return self.ops

    def point(self, phase, k):
        """One crash point of seedd: phase and operation number k (1-based)."""
        first = len(self.ops["startup-first"])
        self.phase, self.repeated = phase, False
        point = "%s %s op %d (%s)" % (self.mode, phase, k,
                                      " ".join(self.ops[phase][k - 1]))
        self.reset()
        if phase == "startup":
            a = self.seedd()
            wait_serving(self.sock, a.proc, 30)
            self.read(a, point)
            self.stop(a)
            before = read_file(self.seed_file)
            b = self.seedd(hold=k)
            held = self.m.wait_held()
            if not held:
                self.violations.append("%s: never reached (exit %s)" % (point, b.proc.poll()))
            self.cut(b)
        elif phase == "periodic":
            a = self.seedd("--save-interval", "1", hold=first + k)
            wait_serving(self.sock, a.proc, 30)
            before = read_file(self.seed_file)
            self.read(a, point, until_held=True)
            self.cut(a)
        else:
            a = self.seedd(hold=first + k)
            wait_serving(self.sock, a.proc, 30)
            self.read(a, point)
            before = read_file(self.seed_file)
            a.proc.send_signal(signal.SIGTERM)
            if not self.m.wait_held():
                self.violations.append("%s: never reached (exit %s)" % (point, a.proc.poll()))
            self.cut(a)
        self.survived(phase, point, before)
        self.restart(phase, point)

    def serving_point(self, i):
        """A cut at a random moment while seedd serves and saves every second."""
        point = "%s serving %d" % (self.mode, i)
        self.phase, self.repeated = "serving", False
        self.reset()
        a = self.seedd("--save-interval", "1")
        wait_serving(self.sock, a.proc, 30)
        before = read_file(self.seed_file)
        end = time.monotonic() + self.rng.uniform(0, 2.5)
        while time.monotonic() < end:
            self.read(a, point, n=1)
        os.kill(a.pid, signal.SIGSTOP)
        self.cut(a)
        self.survived("serving", point, before)
        self.restart("serving", point)

    def survived(self, phase, point, before):
        """Which seed the cut left: the one before the phase's save, the save's, or one
        older than both (the reset's, when what the phase read was never durable)."""
        self.outcome.add(phase, "points")
        now = self.check_file(point)
        if now is None:
            return
        if now == before:
            self.outcome.add(phase, "seed before the save")
        elif now == self.first:
            self.outcome.add(phase, "an earlier seed")
        else:
            self.outcome.add(phase, "saved seed")

    # --- seedctl provision ----------------------------------------------------------------

    def provision_argv(self, kind):
        if kind == "provision --count":
            return ["provision", "--count", "3", "--out-dir", self.m.path("batch")]
        if kind == "provision --force":
            return ["provision", "--force", self.seed_file]
        if kind == "provision --stdin":
            return ["provision", "--stdin", self.seed_file]
        return ["provision", self.seed_file]

    def provision_run(self, kind, hold=None):
        stdin = os.urandom(64) if kind == "provision --stdin" else None
        self.reset(seed=kind == "provision --force")
        before = read_file(self.seed_file) if kind == "provision --force" else None
        g = Gated(target(SEEDCTL, *self.provision_argv(kind)), stdin_data=stdin)
        self.m.hold(g.pid, hold or 10 ** 9)
        g.go()
        return g, stdin, before

    def provision_dry_run(self, kind):
        g, _, _ = self.provision_run(kind)
        rc, out = g.finish()
        if rc != 0:
            raise AssertionError("%s: exit %d: %s" % (kind, rc, out))
        self.ops[kind] = self.m.ops(g.pid)
        return self.ops[kind]

    def provision_point(self, kind, k):
        """seedctl provision cut before its kth operation (or, for k past the last, after
        it exited 0): each file it writes is absent (never once it exited 0), or complete
        and valid (the bytes given, for --stdin; old or new, with --force)."""
        ops = self.ops[kind]
        self.phase, self.repeated = kind, False
        done = k > len(ops)  # the cut after it finished: everything must be there
        point = "%s %s %s" % (self.mode, kind, "after it exited 0" if done else
                              "op %d (%s)" % (k, " ".join(ops[k - 1])))
        g, stdin, before = self.provision_run(kind, hold=k)
        if done:
            rc, out = g.finish()
            if rc != 0:
                self.violations.append("%s: exit %d: %s" % (point, rc, out))
        elif not self.m.wait_held():
            self.violations.append("%s: never reached" % point)
        self.cut(g)
        self.outcome.add(kind, "points")
        if kind == "provision --count":
            files = [os.path.join(self.m.path("batch"), "seedfile-%06d" % i) for i in (1, 2, 3)]
        else:
            files = [self.seed_file]
        for path in files:
            if not os.path.exists(path):
                self.outcome.add(kind, "absent")
                if kind == "provision --force" or done:
                    self.violations.append("%s: %s is gone" % (point, os.path.basename(path)))
                continue
            r = subprocess.run(target(SEEDCTL, "check", path), capture_output=True, text=True,
                               timeout=30)
            data = read_file(path)
            if r.returncode != 0:
                self.violations.append("%s: %s: seedctl check: %s"
                                       % (point, os.path.basename(path), r.stderr.strip()))
                self.outcome.add(kind, "invalid seed file")
            elif stdin is not None and data != stdin:
                self.violations.append("%s: not the bytes given on stdin" % point)
            else:
                self.outcome.add(kind, "old" if data == before else "complete")
        if kind != "provision --count":
            self.restart(kind, point)


class RefWorld(World):
    """The reference on the same model: an application on Mbed TLS's default NV
    seed handling (nvseed-ref.c), run in the mount, where its "seedfile" is.
    Its run is seedd's start-up: read the seed, write the next, serve."""

    def __init__(self, dirpath, mode, program, seed=0):
        super().__init__(dirpath, mode, seed)
        self.program = program

    def ref(self, hold=None):
        self.runs += 1
        g = Gated([self.program, str(READS)], cwd=self.m.mnt)
        self.m.hold(g.pid, hold or 10 ** 9)
        g.go()
        return g

    def finish(self, g, point):
        """Waits for g; records what it served; its exit code."""
        rc, out = g.finish()
        for line in out.split():
            if len(line) == 128:
                self.record(bytes.fromhex(line), point)
        return rc

    def dry_run(self):
        self.reset()
        g = self.ref()
        rc, out = g.finish()
        if rc != 0:
            raise AssertionError("nvseed-ref: exit %d: %s" % (rc, out))
        self.ops["startup"] = self.m.ops(g.pid)

    def point(self, k):
        """A run that served, then a cut before the kth operation of the next (or after
        it exited), then a run on what survived."""
        ops = self.ops["startup"]
        done = k > len(ops)
        self.phase, self.repeated = "startup", False
        point = "%s reference %s" % (self.mode, "after it exited" if done else
                                     "op %d (%s)" % (k, " ".join(ops[k - 1])))
        self.reset()
        self.finish(self.ref(), point)
        before = read_file(self.seed_file)
        b = self.ref(hold=k)
        if done:
            self.finish(b, point)
        elif not self.m.wait_held():
            self.violations.append("%s: never reached" % point)
        self.cut(b)
        self.survived("startup", point, before)
        rc = self.finish(self.ref(), point)
        if rc == 0:
            self.outcome.add("startup", "served")
        elif rc == 1:
            self.outcome.add("startup", "refused")
        else:
            self.outcome.add("startup", "crash, hang or unexplained exit")
