# SPDX-License-Identifier: MIT
"""What every part of seeddtest raises: a failed check, a skipped test."""


class Skip(Exception):
    """The test cannot run here; its message says why (exit status 77)."""


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)
