#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""seedctl provision without --force on a file system without
renameat2(RENAME_NOREPLACE): forgetfs, as FUSE's libfuse 2 API, answers it
with EINVAL. Provisioning works there and still never replaces a file."""

import os
import subprocess

import seeddtest
from seeddtest import SEEDCTL, check, read_file, snapshot, target
import powerlib
from powerlib import ForgetMount, Gated


def seedctl(*args):
    r = subprocess.run(target(SEEDCTL, *args), capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def names(d):
    return sorted(os.listdir(d))


def test_noreplace_fallback(tmp):
    m = ForgetMount(tmp.path).start()
    try:
        seed = m.path("seedfile")
        rc, out = seedctl("provision", seed)
        check(rc == 0, "provision on a file system without RENAME_NOREPLACE: %d %s" % (rc, out))
        st = os.stat(seed)
        check(st.st_size == 64 and st.st_nlink == 1 and st.st_mode & 0o777 == 0o600,
              "provisioned file: size %d, %d links, mode %o" % (st.st_size, st.st_nlink,
                                                                st.st_mode & 0o777))
        check(names(m.mnt) == ["seedfile", "seedfile.lock"], names(m.mnt))
        rc, out = seedctl("check", seed)
        check(rc == 0, "check: %s" % out)
        before = snapshot(seed)
        rc, out = seedctl("provision", seed)
        check(rc == 1 and "exists; use --force" in out, "second provision: %d %s" % (rc, out))
        check(snapshot(seed) == before, "replaced without --force")
        check(names(m.mnt) == ["seedfile", "seedfile.lock"], names(m.mnt))
        rc, out = seedctl("provision", "--force", seed)
        check(rc == 0 and read_file(seed) != before[0], "--force: %d %s" % (rc, out))
        print("single file: written, kept without --force, replaced with it")

        batch = m.path("batch")
        rc, out = seedctl("provision", "--count", 3, "--out-dir", batch)
        check(rc == 0 and len(names(batch)) == 3, "--count: %d %s %s" % (rc, out, names(batch)))
        print("--count 3: %s" % " ".join(names(batch)))

        # The race no check beforehand can close: the file appears while provision
        # is held just before the step that must not replace it.
        race = m.path("race")
        g = Gated(target(SEEDCTL, "provision", race))
        m.hold(g.pid, 1, op="link")
        g.go()
        held = m.wait_held()
        check(held and held["path"] == "/race", "provision made no link to race: %s" % held)
        planted = os.urandom(64)
        m.plant("race", planted)
        m.release()
        rc, out = g.finish()
        check(rc == 1 and "exists; use --force" in out,
              "provision over a file made meanwhile: %d %s" % (rc, out))
        check(read_file(race) == planted, "the file made meanwhile was replaced")
        check(not [n for n in names(m.mnt) if n.endswith(".tmp")], "temp left: %s"
              % names(m.mnt))
        print("a file made while provision was held before its link(): kept, provision refused")
    finally:
        m.stop()


if __name__ == "__main__":
    powerlib.private_mounts()
    seeddtest.main(globals())
