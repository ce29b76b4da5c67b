# SPDX-License-Identifier: MIT
"""What every part of seeddtest uses: a failed check, a skipped test, and the
wrapper that runs the target's programs in a cross build."""

import os
import shlex

# In a cross build, the target's programs run through qemu-user (the cross
# file's test_wrapper, which tests/meson.build passes on).
WRAPPER = shlex.split(os.environ.get("SEEDD_TEST_WRAPPER", ""))


class Skip(Exception):
    """The test cannot run here; its message says why (exit status 77)."""


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)
