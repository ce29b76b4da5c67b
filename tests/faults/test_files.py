#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Races against seedd's file handling, made deterministic with the fault injector."""

import os
import socket

import seeddtest
from seeddtest import Daemon, answers, check, connect, raw_get, read_file, wait_for
from faultlib import fault_env


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


if __name__ == "__main__":
    seeddtest.main(globals())
