# SPDX-License-Identifier: MIT
"""The built programs as another user can run them.

The build tree may sit in a private (0700) directory, such as root's home or
a CI checkout, that no other user can enter: neither the programs nor the
libseedclient.so.0 they load are reachable there. A test that runs a built
program as another user (setpriv, a setuid bit) runs for_others(PROGRAM)
instead: a copy in a root-owned 0755 directory under the temp dir, made once
per test process and removed at its exit, beside a copy of libseedclient,
with the run path pointing there. The run path is absolute because the
loader ignores $ORIGIN in a setuid program.
"""

import atexit
import os
import shutil
import stat
import subprocess
import tempfile

from ._base import Skip, check

LIBSEEDCLIENT = os.environ.get("LIBSEEDCLIENT", "")

_dir = None


def _reachable(path):
    """Whether every user can enter path and each directory above it."""
    path = os.path.abspath(path)
    while True:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        if path == "/":
            return True
        path = os.path.dirname(path)


def _shared_dir():
    global _dir
    if _dir:
        return _dir
    base = tempfile.gettempdir()
    check(_reachable(base), "the temp dir %s is not reachable by other users: set TMPDIR to "
          "one that is (/tmp)" % base)
    if not shutil.which("patchelf"):
        raise Skip("patchelf is not installed (scripts/deps.sh installs it): another user's "
                   "copy of a built program needs its run path")
    path = tempfile.mkdtemp(prefix="seedd-others-", dir=base)
    atexit.register(shutil.rmtree, path, True)
    os.chmod(path, 0o755)
    # The library under its soname, which the programs' DT_NEEDED names.
    if LIBSEEDCLIENT:
        soname = subprocess.check_output(["patchelf", "--print-soname", LIBSEEDCLIENT],
                                         text=True).strip()
        shutil.copyfile(LIBSEEDCLIENT, os.path.join(path, soname))
        os.chmod(os.path.join(path, soname), 0o755)
    _dir = path
    return path


def for_others(program, name=None):
    """The path of a copy of program (SEEDD, SEEDCTL, SCTOOL, LOADGEN, ...) that every
    user can run, found by libseedclient's copy. name makes a separate copy (one
    whose mode or owner a test changes); by default each program is copied once."""
    path = os.path.join(_shared_dir(), name or os.path.basename(program))
    if os.path.exists(path) and not name:
        return path
    shutil.copyfile(program, path)
    os.chmod(path, 0o755)
    if subprocess.run(["patchelf", "--print-interpreter", path], capture_output=True).returncode:
        return path
    r = subprocess.run(["patchelf", "--set-rpath", os.path.dirname(path), path],
                       capture_output=True, text=True)
    check(r.returncode == 0, "patchelf --set-rpath %s: %s" % (path, r.stderr.strip()))
    return path
