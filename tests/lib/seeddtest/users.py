# SPDX-License-Identifier: MIT
"""Throw-away users for the tests that run programs as somebody else."""

import os
import pwd
import random
import subprocess


class Users:
    """Throw-away system users (and a group), removed afterwards."""

    def __init__(self):
        self.users, self.groups = [], []
        self.tag = "sdt%04d" % random.randrange(10000)

    def group(self, name):
        name = self.tag + name
        subprocess.run(["groupadd", "--system", name], check=True, capture_output=True)
        self.groups.append(name)
        return name

    def user(self, name, group=None):
        name = self.tag + name
        args = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        args += ["--gid", group] if group else ["--user-group"]
        subprocess.run(args + [name], check=True, capture_output=True)
        self.users.append(name)
        return int(subprocess.check_output(["id", "-u", name])), \
            int(subprocess.check_output(["id", "-g", name]))

    def daemon_user(self):
        """The build's daemon user ($DAEMON_USER), whom every client trusts; made if missing
        (and then removed with the rest)."""
        name = os.environ["DAEMON_USER"]
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                            "/usr/sbin/nologin", "--user-group", name], check=True,
                           capture_output=True)
            self.users.append(name)
            pw = pwd.getpwnam(name)
        return pw.pw_uid, pw.pw_gid

    def remove(self):
        for u in self.users:
            subprocess.run(["userdel", u], capture_output=True)
        for g in self.groups + self.users:
            subprocess.run(["groupdel", g], capture_output=True)


def as_user(uid, gid, argv, env, cwd=None):
    """Runs argv as uid:gid (in cwd); a built program in it must be for_others()'s copy."""
    return subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups",
                           "--"] + argv, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=60)
