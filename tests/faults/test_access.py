#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""--allow-uid / --allow-gid with real second users, made for the test (root only)."""

import os
import re
import subprocess
import tempfile

import seeddtest
from seeddtest import Daemon, check, for_others, target
from faultlib import Users, as_user, need_root


def test_allow_ids(tmp):
    need_root("making users")
    for tool in ("useradd", "setpriv"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            raise seeddtest.Skip("%s is not installed" % tool)
    users = Users()
    sockdir = tempfile.mkdtemp(prefix="seedd-acl-")
    os.chmod(sockdir, 0o755)
    try:
        allowed = users.user("a")
        refused = users.user("b")
        group = users.group("g")
        member = users.user("c", group=group)
        daemon = Daemon(tmp, "--allow-uid", str(allowed[0]), "--allow-gid", group,
                        sock=os.path.join(sockdir, "s.sock")).start()
        env = daemon.client_env()
        sctool = target(for_others(seeddtest.SCTOOL))

        for who, ids in (("uid", allowed), ("gid", member)):
            r = as_user(*ids, sctool + ["read", "32", "3"], env)
            check(r.returncode == 0 and len(r.stdout.split()) == 3,
                  "allowed by %s but not served: %s %s" % (who, r.stdout, r.stderr))
        r = as_user(*refused, sctool + ["fail", "32"], env)
        check("rc=-1" in r.stdout and "zeroed=1" in r.stdout, "refused user: %s" % r.stdout)
        r = as_user(*refused, target(for_others(seeddtest.SEEDCTL), "--socket", daemon.sock,
                                     "get"), env)
        check(r.returncode != 0 and not r.stdout.strip(), "refused user got bytes: %s" % r.stdout)
        # Root and seedd's own user are always served.
        daemon.sctool("read", 32, 1)

        # A refused user hammering the socket: closed every time, logged once.
        script = "for i in $(seq 150); do %s fail 32; done" % " ".join(sctool)
        r = as_user(*refused, ["/bin/sh", "-c", script], env)
        check(r.stdout.count("rc=-1") == 150, "not every refused attempt failed")
        lines = [l for l in daemon.log().splitlines() if "refused a client" in l]
        check(1 <= len(lines) <= 2, "%d refusal log lines for 152 refusals:\n%s"
              % (len(lines), "\n".join(lines)))
        check(daemon.stop() == 0, "seedd did not stop cleanly")
        # What the rate limit left out is summed up by uid, at the latest when seedd stops.
        told = sum(int(n) for n in re.findall(r"uid %d: (\d+)" % refused[0], daemon.log()))
        check(told + len(lines) == 152, "refusals of uid %d the log tells of: %d + %d lines:\n%s"
              % (refused[0], told, len(lines), daemon.log()))
        print("uid %d (--allow-uid) and uid %d (--allow-gid %s) served; uid %d refused 152 "
              "times, %d log line(s): %s; the rest summed up: %s"
              % (allowed[0], member[0], group, refused[0], len(lines), lines[0],
                 [l for l in daemon.log().splitlines() if "not logged" in l][-1]))
    finally:
        users.remove()
        subprocess.run(["rm", "-rf", sockdir])


if __name__ == "__main__":
    seeddtest.main(globals())
