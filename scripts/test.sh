#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what the tests need, then builds the main build dir and from it
# the Debian packages (scripts/deb.sh: the release tarball from meson dist,
# dpkg-buildpackage, lintian; unprivileged and offline), and runs every suite
# in three builds: the main one (--werror,
# every suite: the test setup 'full', with the clang-format check as suite
# 'style'; the boot suite installs the packages), an ASan + UBSan one (unit,
# integration, fuzz corpus replay) and seedd against the NV-seed-enabled
# Mbed TLS 3.6 and, given its source ($SEEDD_MBEDTLS4_SOURCE, as .ci/run
# passes it), 4.0 built by the interop suite (unit, integration); then a plain
# `meson test` as a distribution's build runs it, unprivileged and offline
# (scripts/test-plain.sh), and the arm64 and armhf cross builds under
# qemu-user (scripts/test-cross.sh: unit, integration, lifecycle, fuzz corpus
# replay). The last line of output is "N passed, N failed", counted from
# meson's test logs.
#
# --under-load: one busy loop per CPU runs for the whole run, as when a
# second run shares the machine with busy builds; every suite must pass so.
set -eu
cd "$(dirname "$0")/.."
under_load=0
case ${1:-} in
--under-load) under_load=1 ;;
"") ;;
*)
	echo "usage: $0 [--under-load]" >&2
	exit 2
	;;
esac
scripts/deps.sh gcc meson ninja-build pkg-config libmbedtls-dev libevent-dev libsystemd-dev \
	python3 binutils util-linux scdoc systemd make perl ca-certificates build-essential bzip2 strace man-db \
	dpkg-dev valgrind iproute2 busybox systemd-container mmdebstrap clang-format patchelf uidmap python3-fusepy \
	bash-completion debhelper lintian
# seedfs (libfuse3), which its interop cases and the benchmark mount.
scripts/deps.sh fuse3 libfuse3-dev
# Mbed TLS 4 builds with CMake and its Python code generators (tests/interop/build-mbedtls4.sh).
scripts/deps.sh cmake python3-jinja2 python3-jsonschema
top=$PWD
main=build-test
status=0
logs=""

hogs=""
# shellcheck disable=SC2317 # called by the trap
stop_hogs() {
	for pid in $hogs; do
		kill "$pid" 2>/dev/null || :
		wait "$pid" 2>/dev/null || :
	done
	hogs=""
}
if [ "$under_load" = 1 ]; then
	# The EXIT trap also runs when set -e stops the script; a signal exits through it.
	trap stop_hogs EXIT
	trap 'exit 130' INT TERM HUP
	for _ in $(seq "$(nproc)"); do
		sh -c 'while :; do :; done' &
		hogs="$hogs $!"
	done
	echo "=== under load: $(nproc) CPU hogs (pids$hogs)"
fi

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
	# meson names the log after a test setup given by name.
	log=testlog prev=""
	for arg in "$@"; do
		[ "$prev" != --setup ] || log=testlog-$arg
		prev=$arg
	done
	# A run that fails to start must not leave an old log to be counted.
	rm -f "$dir/meson-logs/$log.json"
	echo "=== meson test -C $dir $*"
	meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 "$@" || status=1
	logs="$logs $dir/meson-logs/$log.json"
}

setup "$main"
# Without dh_auto_test: its run is the plain setup unprivileged and offline,
# which scripts/test-plain.sh makes below; twice, one flaky test would also
# take the packages and the boot suite's package case down.
DEB_BUILD_OPTIONS=nocheck scripts/deb.sh build-deb "$main" || status=1
logs="$logs build-deb/steps.json"
SEEDD_DEBS="$top/build-deb" run "$main" --setup full

rm -f build-sanitize/meson-logs/testlog.json
tests/ci-sanitize.sh build-sanitize || status=1
logs="$logs build-sanitize/meson-logs/testlog.json"

prefix="$top/$main/interop/prefix-3.6-opt3"
if [ -d "$prefix" ]; then
	setup build-test-nv -Dmbedtls_dir="$prefix" -Dman=disabled
	SEEDD_EXPECT_NV_SEED=1 SEEDD_OTHER_BUILD="$top/$main" run build-test-nv --suite unit --suite integration
else
	echo "error: $prefix is missing: the interop build failed" >&2
	status=1
fi
# Mbed TLS 4 as a distribution would build it with the NV seed (the interop
# suite installs it), when its source was given: seedd's PSA backend. Both
# exchange sealed seed files with the main build (sealed_interchange).
prefix="$top/$main/interop/prefix-4"
if [ -d "$prefix" ]; then
	setup build-test-nv4 -Dmbedtls_dir="$prefix" -Dman=disabled
	SEEDD_EXPECT_NV_SEED=1 SEEDD_OTHER_BUILD="$top/$main" run build-test-nv4 --suite unit --suite integration
elif [ -n "${SEEDD_MBEDTLS4_SOURCE:-}" ]; then
	echo "error: $prefix is missing: the Mbed TLS 4 interop build failed" >&2
	status=1
else
	echo "=== seedd against Mbed TLS 4: skipped, no SEEDD_MBEDTLS4_SOURCE (see tests/interop/build-mbedtls4.sh)"
fi

scripts/test-plain.sh build-plain || status=1
logs="$logs build-plain/meson-logs/testlog.json"

for arch in arm64 armhf; do
	echo "=== scripts/test-cross.sh $arch"
	scripts/test-cross.sh "$arch" || status=1
	logs="$logs build-cross/$arch/build/meson-logs/testlog.json"
done

# shellcheck disable=SC2086
scripts/count-tests.py $logs
exit $status
