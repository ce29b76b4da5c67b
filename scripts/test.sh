#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what the tests need, then builds and runs every suite in three
# builds: the main one (--werror, all suites), an ASan + UBSan one (unit,
# integration, fuzz corpus replay) and seedd against the NV-seed-enabled
# Mbed TLS 3.6 built by the interop suite (unit, integration). The last line
# of output is "N passed, N failed", counted from meson's test logs.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh gcc meson ninja-build pkg-config libmbedtls-dev libevent-dev libsystemd-dev \
	python3 binutils util-linux scdoc systemd make perl ca-certificates build-essential bzip2 strace man-db \
	dpkg-dev valgrind iproute2
top=$PWD
main=build-test
status=0
logs=""

setup() { # setup DIR [MESON OPTIONS]...
	dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure --werror "$@" "$dir" >/dev/null
	else
		meson setup --werror "$@" "$dir"
	fi
	ninja -C "$dir"
}

run() { # run DIR [MESON TEST OPTIONS]...
	dir=$1
	shift
	echo "=== meson test -C $dir $*"
	meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 "$@" || status=1
	logs="$logs $dir/meson-logs/testlog.json"
}

setup "$main"
run "$main"

tests/ci-sanitize.sh build-sanitize || status=1
logs="$logs build-sanitize/meson-logs/testlog.json"

prefix="$top/$main/interop/prefix-3.6-opt3"
if [ -d "$prefix" ]; then
	setup build-test-nv -Dmbedtls_dir="$prefix" -Dman=disabled
	SEEDD_EXPECT_NV_SEED=1 run build-test-nv --suite unit --suite integration
else
	echo "error: $prefix is missing: the interop build failed" >&2
	status=1
fi

# shellcheck disable=SC2086
python3 - $logs <<'PY'
import json, sys
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
PY
exit $status
