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

In a cross build the copy runs under qemu-user with the target's loader and
libraries from its sysroot ($SEEDD_TEST_SYSROOT, the cross file's sys_root),
and that sits in the build tree too: qemu running as another user cannot
open the sysroot's dynamic loader there. for_others() then copies the loader
and the libraries the program needs, at their paths in the sysroot, to a
sysroot beside the copies, and target() runs a copy with the wrapper's
sysroot paths naming that one.
"""

import atexit
import glob
import os
import shutil
import stat
import subprocess
import tempfile

from ._base import WRAPPER, Skip, check

LIBSEEDCLIENT = os.environ.get("LIBSEEDCLIENT", "")
SYSROOT = os.environ.get("SEEDD_TEST_SYSROOT", "")

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


def _private_sysroot():
    """The sysroot the qemu-user wrapper runs programs from, when other users
    cannot reach it."""
    if not WRAPPER or not SYSROOT:
        return None
    return None if _reachable(SYSROOT) else SYSROOT


def _lib_dirs(root):
    """Where the target's loader looks in a Debian (multiarch) sysroot."""
    return (glob.glob(os.path.join(root, "lib", "*-linux-*")) +
            glob.glob(os.path.join(root, "usr", "lib", "*-linux-*")) +
            [os.path.join(root, "lib"), os.path.join(root, "usr", "lib")])


def _copy_to_sysroot(root, path):
    """The file at path in root (a link followed) to the same path in ours."""
    dest = os.path.join(_shared_dir(), "sysroot", os.path.relpath(path, root))
    if not os.path.exists(dest):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(path, dest)
        os.chmod(dest, 0o755)
    return dest


def _sysroot_for(program):
    """Our sysroot, holding program's loader and the libraries it needs."""
    root = _private_sysroot()
    ours = os.path.join(_shared_dir(), "sysroot")
    interp = subprocess.run(["patchelf", "--print-interpreter", program], capture_output=True,
                            text=True)
    if interp.returncode:  # static
        return
    loader = root + interp.stdout.strip()
    if not os.path.exists(loader):
        raise Skip("%s's loader %s is not in the sysroot %s: another user cannot run the "
                   "target's programs" % (program, interp.stdout.strip(), root))
    todo = [_copy_to_sysroot(root, loader), program]
    done = set()
    while todo:
        elf = todo.pop()
        if elf in done:
            continue
        done.add(elf)
        needed = subprocess.check_output(["patchelf", "--print-needed", elf], text=True).split()
        for lib in needed:
            # libseedclient's copy is found through the run path.
            if os.path.exists(os.path.join(_shared_dir(), lib)):
                todo.append(os.path.join(_shared_dir(), lib))
                continue
            found = [os.path.join(d, lib) for d in _lib_dirs(root)
                     if os.path.exists(os.path.join(d, lib))]
            if not found:
                raise Skip("%s needs %s, which is not in the sysroot %s: another user cannot "
                           "run the target's programs" % (elf, lib, root))
            todo.append(_copy_to_sysroot(root, found[0]))
    # Every user can reach the directories made on the way.
    for d, _, _ in os.walk(ours):
        os.chmod(d, 0o755)


def wrapper_for(program):
    """The wrapper target() runs program through: WRAPPER, with our sysroot for a
    copy of for_others() that the private sysroot would not let run."""
    if _dir and os.path.dirname(str(program)) == _dir and _private_sysroot():
        ours = os.path.join(_dir, "sysroot")
        return [w.replace(SYSROOT, ours) for w in WRAPPER]
    return WRAPPER


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
    if _private_sysroot():
        _sysroot_for(path)
    return path
