#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what the tests need, builds with --werror and runs every suite.
# The last line of output is "N passed, N failed", counted from meson's log.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh gcc meson ninja-build pkg-config libmbedtls-dev libevent-dev libsystemd-dev \
	python3 binutils util-linux scdoc systemd make perl ca-certificates build-essential bzip2 \
	dpkg-dev
builddir=build-test
if [ -f "$builddir/build.ninja" ]; then
	meson setup --reconfigure --werror "$builddir" >/dev/null
else
	meson setup --werror "$builddir"
fi
ninja -C "$builddir"
status=0
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@" || status=$?
python3 - "$builddir/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
with open(sys.argv[1]) as f:
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
PY
exit $status
