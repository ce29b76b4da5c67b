#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""forgetfs's own tests: what a cut keeps and forgets, holds, reordering.

Each rule is checked in both modes: strict (only what was synced survives)
and reorder (a random prefix of each object's unsynced operations, over many
seeds, so that every outcome the rule allows shows up and no other does)."""

import errno
import os

import seeddtest
from seeddtest import check, read_file
import powerlib
from powerlib import ForgetMount, Gated

SEEDS = range(40)


def put(path, data, sync=True):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, data)
    if sync:
        os.fsync(fd)
    os.close(fd)


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


def state(m):
    """{name: bytes} of the mount's top directory."""
    return {n: read_file(m.path(n)) for n in sorted(os.listdir(m.mnt))}


def outcomes(m, setup, modes=("strict", "reorder")):
    """Runs setup on a durable {"seed": b"old"}, cuts, and collects what each cut
    left; the mount is reset to the durable start between runs."""
    seen = {}
    for mode in modes:
        for seed in (SEEDS if mode == "reorder" else [0]):
            for n in os.listdir(m.mnt):
                os.unlink(m.path(n))
            put(m.path("seed"), b"old")
            m.sync()
            setup(m)
            m.cut(mode, seed)
            got = tuple(sorted(state(m).items()))
            seen.setdefault(mode, set()).add(got)
    return seen


def show(seen):
    return "; ".join("%s: %s" % (mode, " | ".join(str(dict(s)) for s in sorted(v)))
                     for mode, v in seen.items())


def test_model_rules(tmp):
    m = ForgetMount(tmp.path).start()
    try:
        # write + fsync + rename + fsync of the directory: survives, in every mode.
        def durable(m):
            put(m.path(".tmp"), b"new")
            os.rename(m.path(".tmp"), m.path("seed"))
            fsync_dir(m.mnt)
        seen = outcomes(m, durable)
        check(all(v == {(("seed", b"new"),)} for v in seen.values()), show(seen))
        print("write, fsync, rename, fsync dir: %s" % show(seen))

        # The rename made durable, the data not: comes back empty (or, reordered,
        # with a prefix of its writes: here all or nothing of one write).
        def no_file_fsync(m):
            put(m.path(".tmp"), b"new", sync=False)
            os.rename(m.path(".tmp"), m.path("seed"))
            fsync_dir(m.mnt)
        seen = outcomes(m, no_file_fsync)
        check(seen["strict"] == {(("seed", b""),)}, show(seen))
        check(seen["reorder"] == {(("seed", b""),), (("seed", b"new"),)}, show(seen))
        print("rename without the file's fsync: %s" % show(seen))

        # The data durable, the rename not: reverts to the old file (reordered,
        # a prefix of create-then-rename: nothing, the temp file, or the rename).
        def no_dir_fsync(m):
            put(m.path(".tmp"), b"new")
            os.rename(m.path(".tmp"), m.path("seed"))
        seen = outcomes(m, no_dir_fsync)
        check(seen["strict"] == {(("seed", b"old"),)}, show(seen))
        check(seen["reorder"] == {(("seed", b"old"),), ((".tmp", b"new"), ("seed", b"old")),
                                  (("seed", b"new"),)}, show(seen))
        print("rename without the directory's fsync: %s" % show(seen))

        # Overwriting in place without fsync: the old bytes, or a prefix of the writes.
        def in_place(m):
            fd = os.open(m.path("seed"), os.O_WRONLY | os.O_TRUNC)
            os.write(fd, b"ne")
            os.write(fd, b"w")
            os.close(fd)
        seen = outcomes(m, in_place)
        check(seen["strict"] == {(("seed", b"old"),)}, show(seen))
        check(seen["reorder"] == {(("seed", b"old"),), (("seed", b""),), (("seed", b"ne"),),
                                  (("seed", b"new"),)}, show(seen))
        print("rewrite in place (fopen/fwrite, no fsync): %s" % show(seen))

        # A mode change is forgotten like data until the file's fsync.
        os.chmod(m.path("seed"), 0o644)
        m.cut("strict")
        check(os.stat(m.path("seed")).st_mode & 0o777 == 0o600, "chmod survived without fsync")
        fd = os.open(m.path("seed"), os.O_RDONLY)
        os.fchmod(fd, 0o640)
        os.fsync(fd)
        os.close(fd)
        m.cut("strict")
        check(os.stat(m.path("seed")).st_mode & 0o777 == 0o640, "chmod + fsync lost")
        print("mode: forgotten without fsync, kept with it")
    finally:
        m.stop()


def test_model_reorder(tmp):
    """Objects are reordered against each other: of two directories' unsynced
    entries, either may survive without the other."""
    m = ForgetMount(tmp.path).start()
    try:
        os.mkdir(m.path("a"), 0o700)
        os.mkdir(m.path("b"), 0o700)
        fsync_dir(m.mnt)
        seen = set()
        for seed in SEEDS:
            for d in ("a", "b"):
                for n in os.listdir(m.path(d)):
                    os.unlink(m.path(d, n))
            m.sync()
            put(m.path("a", "first"), b"1")
            put(m.path("b", "second"), b"2")
            m.cut("reorder", seed)
            seen.add((os.path.exists(m.path("a", "first")), os.path.exists(m.path("b", "second"))))
        check(seen == {(False, False), (True, False), (False, True), (True, True)},
              "outcomes (a/first, b/second): %s" % sorted(seen))
        print("two directories' unsynced creations, %d seeds: %s" % (len(SEEDS), sorted(seen)))
        # A cut with the same seed forgets the same way.
        runs = []
        for _ in range(2):
            for d in ("a", "b"):
                for n in os.listdir(m.path(d)):
                    os.unlink(m.path(d, n))
            m.sync()
            for i in range(6):
                put(m.path("a", "f%d" % i), b"x", sync=False)
            runs.append(m.cut("reorder", 7))
        check(runs[0] == runs[1], "the same seed cut differently: %s" % runs)
    finally:
        m.stop()


def test_model_hold(tmp):
    """A hold stops a process's Nth state-changing operation before it takes
    effect; a cut then lands exactly there, and the operation fails with EIO."""
    m = ForgetMount(tmp.path).start()
    try:
        script = ("import os\n"
                  "for i in range(5):\n"
                  "    fd = os.open(%r + '/f%%d' %% i, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)\n"
                  "    os.fsync(fd)\n"
                  "    os.close(fd)\n"
                  "    d = os.open(%r, os.O_RDONLY | os.O_DIRECTORY)\n"
                  "    try:\n"
                  "        os.fsync(d)\n"
                  "    except OSError as e:\n"
                  "        print(e.errno)\n"
                  "        raise SystemExit(3)\n"
                  "    os.close(d)\n" % (m.mnt, m.mnt))
        # Three operations per file: create, fsync, fsyncdir. Hold the 9th: the
        # third file's fsyncdir, so f0 and f1 are durable and f2 is not.
        g = Gated(["python3", "-c", script])
        m.hold(g.pid, 9)
        g.go()
        held = m.wait_held()
        check(held == {"pid": g.pid, "op": "fsyncdir", "path": "/"}, "held: %s" % held)
        # The backing dir: the kernel keeps the held directory locked.
        check(sorted(os.listdir(m.backing)) == ["f0", "f1", "f2"], os.listdir(m.backing))
        report = m.cut("strict")
        m.release()
        rc, out = g.finish()
        check(rc == 3 and out.strip() == str(errno.EIO), "the held fsync: exit %d, %s" % (rc, out))
        check(sorted(os.listdir(m.mnt)) == ["f0", "f1"], "after the cut: %s" % os.listdir(m.mnt))
        check(report["lost"] == ["add f2"], "lost: %s" % report["lost"])
        print("held the 9th operation (%s %s): after the cut f0 f1 remain, lost %s; the held "
              "call failed with EIO" % (held["op"], held["path"], report["lost"]))
        # A file opened before a cut is gone with it: EIO, not the new state.
        fd = os.open(m.path("f0"), os.O_RDWR)
        m.cut("strict")
        try:
            os.write(fd, b"late")
            check(False, "a write through a file opened before the cut succeeded")
        except OSError as e:
            check(e.errno == errno.EIO, "write after the cut: %s" % e)
        os.close(fd)
        check(read_file(m.path("f0")) == b"", "f0 changed")
        # No RENAME_NOREPLACE here, as with every libfuse 2 file system.
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        r = libc.renameat2(-100, m.path("f0").encode(), -100, m.path("f9").encode(), 1)
        check(r == -1 and ctypes.get_errno() == errno.EINVAL,
              "renameat2(RENAME_NOREPLACE): %d %s" % (r, os.strerror(ctypes.get_errno())))
        print("writes through a file opened before a cut fail with EIO; "
              "renameat2(RENAME_NOREPLACE) fails with EINVAL")
    finally:
        m.stop()


if __name__ == "__main__":
    powerlib.private_mounts()
    seeddtest.main(globals())
