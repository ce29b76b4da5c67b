#!/bin/sh
# SPDX-License-Identifier: MIT
# test-plain.sh [DIR [MESON TEST ARGUMENTS]...]
#
# The test run of a distribution's package build (dh_auto_test under sbuild):
# the source copied to a fresh directory, configured without options, built
# and tested with a plain `meson test` (the default test setup, 'plain') by
# an unprivileged user without network (scripts/offline-user.sh), so any test
# of that setup that needs root or the network fails here.
#
# The copy lives in a temp dir the user can reach (the checkout may be in a
# private home); DIR (default build-plain) keeps its meson-logs, whose
# testlog.json scripts/test.sh counts. Arguments after DIR go to meson test
# (test names, --repeat), to rerun some tests the same way.
set -eu
cd "$(dirname "$0")/.."
out=${1:-build-plain}
[ $# -eq 0 ] || shift
top=$PWD
rm -rf "$out/meson-logs"
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/seedd-plain.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP
chmod 0755 "$work"
mkdir "$work/src"
# The files a release would hold: the tracked ones (as they are in the work
# tree), or everything but build dirs outside a git checkout.
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$top" ls-files -z | (cd "$top" && xargs -0 cp -P --parents -t "$work/src")
else
	tar -C "$top" --exclude='./build*' --exclude=./state -cf - . | tar -C "$work/src" -xf -
fi

echo "=== plain meson test, unprivileged and without network, in $work/src"
status=0
# shellcheck disable=SC2016 # expanded by the inner shell
scripts/offline-user.sh "$work" sh -c 'cd src && meson setup build && ninja -C build &&
	meson test -C build --no-rebuild --print-errorlogs --num-processes 2 "$@"' sh "$@" ||
	status=1
cp -R "$work/src/build/meson-logs" "$out/" 2>/dev/null || :
exit $status
