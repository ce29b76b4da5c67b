# SPDX-License-Identifier: MIT
"""What the systemd and boot suites both read from systemd's tools."""

import re

from ._base import check

# The most `systemd-analyze security` may rate seedd.service or seedfs.service.
MAX_EXPOSURE = 2.0


def check_exposure(r, say, unit="seedd.service"):
    """Checks the exposure level in the output r (a CompletedProcess) of
    `systemd-analyze security UNIT`; says it, and every setting it counts
    against the service, through say. Returns the level."""
    m = re.search(r"Overall exposure level for %s: (\d+\.\d+) (\S+)" % re.escape(unit),
                  r.stdout)
    check(m, "no exposure figure in:\n%s%s" % (r.stdout, r.stderr))
    say("systemd-analyze security %s: %s %s" % (unit, m.group(1), m.group(2)))
    for line in r.stdout.splitlines():
        if line.startswith("\u2717"):
            print("  " + line.rstrip())
    level = float(m.group(1))
    check(level <= MAX_EXPOSURE, "exposure %s is above %.1f" % (m.group(1), MAX_EXPOSURE))
    return level
