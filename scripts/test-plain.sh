#!/bin/sh
# SPDX-License-Identifier: MIT
# test-plain.sh [DIR [MESON TEST ARGUMENTS]...]
#
# The test run of a distribution's package build (dh_auto_test under sbuild):
# the source copied to a fresh directory, configured without options, built
# and tested with a plain `meson test` (the default test setup, 'plain') by
# an unprivileged user without network (a network namespace of its own with
# only loopback), so any test of that setup that needs root or the network
# fails here. As root it makes that user (sdtplainPID) for the run and removes
# it; anyone else runs it as themselves, with whatever network they have.
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
user=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	rm -rf "$work"
	[ -z "$user" ] || userdel "$user" 2>/dev/null || :
	[ -z "$user" ] || groupdel "$user" 2>/dev/null || :
}
trap cleanup EXIT
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

# shellcheck disable=SC2016 # expanded by the inner shell
script='cd "$1" && shift && meson setup build && ninja -C build &&
	meson test -C build --no-rebuild --print-errorlogs --num-processes 2 "$@"'
env="PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=$work"
status=0
if [ "$(id -u)" -eq 0 ]; then
	user=sdtplain$$
	useradd --system --no-create-home --home-dir "$work" --shell /usr/sbin/nologin \
		--user-group "$user"
	chown -R "$user:$user" "$work"
	echo "=== plain meson test as $user, without network, in $work/src"
	# shellcheck disable=SC2086 # env is words
	unshare --net sh -c 'ip link set lo up && exec "$@"' sh \
		setpriv --reuid="$user" --regid="$user" --clear-groups -- \
		env -i $env sh -c "$script" sh "$work/src" "$@" || status=1
else
	echo "=== plain meson test as $(id -un) (not root: network left as it is), in $work/src"
	# shellcheck disable=SC2086
	env -i $env sh -c "$script" sh "$work/src" "$@" || status=1
fi
cp -R "$work/src/build/meson-logs" "$out/" 2>/dev/null || :
exit $status
