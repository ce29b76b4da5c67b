#!/bin/sh
# SPDX-License-Identifier: MIT
# offline-user.sh DIR COMMAND [ARGUMENT]...
#
# Runs COMMAND as a distribution's build daemon runs a build: as an
# unprivileged user, without network (a network namespace of its own with
# only loopback), with a clean environment (PATH, LANG, HOME=DIR) and DIR the
# one place it owns. As root it makes a throw-away system user (sdtbuildPID)
# for the run, chowns DIR to it, and afterwards gives DIR back to root and
# removes the user; anyone else runs COMMAND as themselves, with whatever
# network they have. COMMAND runs in DIR; its exit status is this script's.
set -eu
dir=$(cd "$1" && pwd)
shift
# The caller's directory may be one the user cannot enter.
cd "$dir"
env="PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=$dir"
if [ "$(id -u)" -ne 0 ]; then
	echo "offline-user.sh: not root: running as $(id -un), network left as it is" >&2
	# shellcheck disable=SC2086 # env is words
	exec env -i $env "$@"
fi
user=sdtbuild$$
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	chown -R 0:0 "$dir" 2>/dev/null || :
	userdel "$user" 2>/dev/null || :
	groupdel "$user" 2>/dev/null || :
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
useradd --system --no-create-home --home-dir "$dir" --shell /usr/sbin/nologin --user-group "$user"
chown -R "$user:$user" "$dir"
status=0
# shellcheck disable=SC2086 # env is words
unshare --net sh -c 'ip link set lo up && exec "$@"' sh \
	setpriv --reuid="$user" --regid="$user" --clear-groups -- env -i $env "$@" || status=$?
exit $status
