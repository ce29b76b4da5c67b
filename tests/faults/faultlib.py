# SPDX-License-Identifier: MIT
"""What only the faults suite needs, on top of seeddtest: the fault injector,
the load generator, tmpfs mounts."""

import fcntl
import json
import os
import subprocess

# Users and as_user moved to seeddtest (the interop suite makes users too); kept here by name.
from seeddtest import SEEDCTL, Skip, Users, as_user, check, for_others, read_file, target  # noqa: F401

FAULTINJECT = os.environ.get("FAULTINJECT", "")
LOADGEN = os.environ.get("LOADGEN", "loadgen")


def fault_env(**kw):
    """LD_PRELOAD of the fault injector with SEEDD_FAULT_* settings."""
    check(os.path.exists(FAULTINJECT), "FAULTINJECT not built: %r" % FAULTINJECT)
    env = {"LD_PRELOAD": FAULTINJECT}
    env.update({"SEEDD_FAULT_" + k.upper() if k != "fault" else "SEEDD_FAULT": str(v)
                for k, v in kw.items()})
    return env


def check_seedfile(path):
    """A seedfile as seedd leaves it: 0600, 32 or 64 bytes, not all equal. Returns the bytes."""
    st = os.lstat(path)
    check(st.st_mode & 0o7777 == 0o600, "%s has mode %o" % (path, st.st_mode & 0o7777))
    data = read_file(path)
    check(len(data) in (32, 64), "%s has %d bytes" % (path, len(data)))
    check(len(set(data)) > 1, "%s: all bytes equal" % path)
    return data


def temp_files(dirpath):
    return [n for n in os.listdir(dirpath) if n.endswith(".tmp")]


def loadgen(*args, timeout=120):
    r = subprocess.run(target(LOADGEN, *args), capture_output=True, text=True,
                       timeout=timeout)
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    vals = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    return r.returncode, {k: float(v) for k, v in vals.items()}, r.stderr


def need_root(what):
    if os.geteuid() != 0:
        raise Skip("%s needs root" % what)


class Mount:
    """A small tmpfs of our own (root only)."""

    def __init__(self, path, size="256k"):
        need_root("a tmpfs mount")
        os.makedirs(path, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs",
                            path], capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip("cannot mount a tmpfs: %s" % r.stderr.strip())
        self.path = path

    def remount(self, opts):
        subprocess.run(["mount", "-o", "remount,%s" % opts, self.path], check=True)

    def fill(self):
        """Fills the file system to ENOSPC; returns the filler's path."""
        filler = os.path.join(self.path, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0"):
                try:
                    while True:
                        os.write(fd, chunk)
                except OSError:
                    pass
        finally:
            os.close(fd)
        return filler

    def umount(self):
        subprocess.run(["umount", "-l", self.path], check=False)


def status_as(daemon, ids, env, rc=0):
    """`seedctl status --json` as ids (uid, gid), which must exit rc; the status."""
    r = as_user(*ids, target(for_others(SEEDCTL), "--socket", daemon.sock, "status", "--json"),
                env)
    check(r.returncode == rc, "seedctl status as uid %d: exit %d: %s" % (ids[0], r.returncode,
                                                                        r.stderr))
    return json.loads(r.stdout)


SYSCTL_LOCK = "/run/seedd-tests-sysctl.lock"


class Sysctls:
    """The fs.protected_* sysctls a file attack depends on, set to each value in turn
    and restored; the lock that every test changing them holds is held throughout.
    Use as a context manager; values(name) yields each value it could set (just the
    host's when the kernel refuses: a container's read-only /proc/sys)."""

    def __enter__(self):
        need_root("setting sysctls")
        self.lock = open(SYSCTL_LOCK, "a")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.saved = {}
        return self

    @staticmethod
    def path(name):
        return "/proc/sys/fs/" + name

    def get(self, name):
        with open(self.path(name)) as f:
            return int(f.read())

    def set(self, name, value):
        """Sets fs.NAME; False when the kernel does not let us."""
        self.saved.setdefault(name, self.get(name))
        try:
            with open(self.path(name), "w") as f:
                f.write("%d\n" % value)
        except OSError:
            return False
        return self.get(name) == value

    def values(self, name, values=(0, 1)):
        """Sets fs.NAME to each of values in turn, yielding it; only the host's value
        when it cannot be changed."""
        host = self.get(name)
        settable = [v for v in values if self.set(name, v)]
        if not settable:
            print("fs.%s cannot be set here: only its value %d is tried" % (name, host))
            yield host
            return
        for v in settable:
            check(self.set(name, v), "cannot set fs.%s to %d" % (name, v))
            yield v

    def __exit__(self, *exc):
        for name, value in self.saved.items():
            with open(self.path(name), "w") as f:
                f.write("%d\n" % value)
        fcntl.flock(self.lock, fcntl.LOCK_UN)
        self.lock.close()
        return False
