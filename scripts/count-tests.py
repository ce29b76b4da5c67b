#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""count-tests.py TESTLOG.json...: prints "N passed, N failed" over meson's
test logs (and how many were skipped, whose reasons are in the logs). A
missing log counts as one failure."""
import json
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        f = open(path)
    except OSError:
        failed += 1
        print("missing test log %s" % path)
        continue
    with f:
        for line in f:
            r = json.loads(line)["result"]
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
if skipped:
    print("%d skipped (see the log above for the reasons)" % skipped)
print("%d passed, %d failed" % (passed, failed))
