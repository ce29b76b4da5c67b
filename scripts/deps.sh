#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages given as arguments when any is missing.
# Runs apt-get as root, through sudo when needed.
set -eu
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
as_root=""
[ "$(id -u)" -eq 0 ] || as_root="sudo"
# Several installs may run at once (CI, a second checkout): wait for the lock.
lock="-o DPkg::Lock::Timeout=600"
# shellcheck disable=SC2086
$as_root apt-get $lock update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $as_root apt-get $lock install -y -qq --no-install-recommends $missing
