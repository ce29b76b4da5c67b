#!/bin/sh
# SPDX-License-Identifier: MIT
# test-cross.sh arm64|armhf
#
# Cross-builds seedd for an embedded target with cross/<triplet>.ini
# (--werror, without systemd, as on most embedded boards) against a target
# sysroot from scripts/cross-sysroot.sh, and runs the unit, integration,
# lifecycle and fuzz (corpus replay) suites under qemu-user. The other suites
# need the host itself (systemd, interop builds of Mbed TLS, LD_PRELOAD fault
# injection, valgrind). Installs the cross toolchain
# and qemu-user-static; no other host package changes. Everything lives in
# build-cross/ARCH/ (sysroot cached). The last line is "N passed, N failed".
set -eu
cd "$(dirname "$0")/.."
case ${1:-} in
arm64) triplet=aarch64-linux-gnu ;;
armhf) triplet=arm-linux-gnueabihf ;;
*)
	echo "usage: $0 arm64|armhf" >&2
	exit 2
	;;
esac
arch=$1
scripts/deps.sh meson ninja-build pkg-config python3 apt dpkg scdoc busybox \
	"gcc-$triplet" "libc6-dev-$arch-cross" "binutils-$triplet" qemu-user-static
top=build-cross/$arch
build=$top/build
# A failed build must not leave the last run's results to be counted.
rm -f "$build/meson-logs/testlog.json"
scripts/cross-sysroot.sh "$arch" "$top"
if [ -f "$build/build.ninja" ]; then
	meson setup --reconfigure "$build" >/dev/null
else
	meson setup --werror --cross-file "$top/sysroot.ini" --cross-file "cross/$triplet.ini" \
		-Dsystemd=disabled "$build"
fi
ninja -C "$build"
status=0
echo "=== meson test -C $build (unit, integration, lifecycle, fuzz; $arch under qemu-user)"
meson test -C "$build" --no-rebuild --print-errorlogs --num-processes 2 \
	--suite unit --suite integration --suite lifecycle --suite fuzz || status=1
scripts/count-tests.py "$build/meson-logs/testlog.json"
exit $status
