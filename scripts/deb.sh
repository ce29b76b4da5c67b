#!/bin/sh
# SPDX-License-Identifier: MIT
# deb.sh OUT [BUILD]
#
# The Debian packages, made as a packager makes them from a release: `meson
# dist` (of the committed tree; BUILD, default build, is a configured build
# dir of this checkout) writes the release tarball (outside git: a tarball of
# the tree), which becomes the orig tarball; its contrib/debian is the
# debian/ of the unpacked tree; then
# `dpkg-buildpackage -us -uc` (with dh_auto_test: the plain test setup) and
# lintian run as an unprivileged user without network
# (scripts/offline-user.sh). Any lintian error or warning (E:, W:) that
# contrib/debian's overrides (O:, each with its reason) do not justify fails.
#
# OUT gets what dpkg-buildpackage made (.debs, .changes, .dsc, the tarballs),
# build.log, lintian.log, the test log (meson-logs/testlog.json) and
# steps.json, the build's and lintian's results as lines of a meson test log. DEB_BUILD_OPTIONS=nocheck skips the tests.
# Needs dpkg-dev, debhelper and lintian besides the build dependencies
# (scripts/test.sh installs them).
set -eu
cd "$(dirname "$0")/.."
out=$1
build=${2:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)

rm -rf "$build/meson-dist"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# The tarball holds HEAD: uncommitted changes are left out (meson warns).
	meson dist -C "$build" --no-tests --allow-dirty --formats xztar
else
	# An unpacked release is its own tarball (meson dist needs git).
	version=$(meson introspect --projectinfo "$build" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
	mkdir -p "$build/meson-dist"
	tar -cJf "$build/meson-dist/seedd-$version.tar.xz" --exclude='./build*' \
		--exclude='./obj-*' --transform "s,^\.,seedd-$version," .
	(cd "$build/meson-dist" && sha256sum "seedd-$version.tar.xz" >"seedd-$version.tar.xz.sha256sum")
fi
tarball=$(echo "$build"/meson-dist/seedd-*.tar.xz)
name=$(basename "$tarball" .tar.xz)
version=${name#seedd-}
cp "$tarball" "$build/meson-dist/$name.tar.xz.sha256sum" "$out/"

work=$(mktemp -d "${TMPDIR:-/tmp}/seedd-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP
chmod 0755 "$work"
cp "$tarball" "$work/seedd_$version.orig.tar.xz"
tar -C "$work" -xf "$tarball"
cp -R "$work/$name/contrib/debian" "$work/$name/debian"

options=${DEB_BUILD_OPTIONS:-}
profiles=""
case " $options " in
*" nocheck "*) profiles=nocheck ;;
esac
echo "=== dpkg-buildpackage -us -uc in $work/$name${options:+ (DEB_BUILD_OPTIONS=$options)}"
build=OK lint=SKIP
# shellcheck disable=SC2016 # expanded by the inner shell
scripts/offline-user.sh "$work" sh -c 'cd "$1" &&
	DEB_BUILD_OPTIONS="$2" DEB_BUILD_PROFILES="$3" dpkg-buildpackage -us -uc' \
	sh "$name" "$options" "$profiles" >"$work/build.log" 2>&1 || build=FAIL
if [ "$build" = OK ]; then
	lint=OK
	# shellcheck disable=SC2016
	scripts/offline-user.sh "$work" sh -c 'lintian --info --display-info --show-overrides \
		--fail-on none seedd_*.changes' >"$out/lintian.log" 2>&1 || lint=FAIL
	! grep -q "^[EW]: " "$out/lintian.log" || lint=FAIL
	echo "=== lintian: $lint (E: and W: tags fail; O: are overrides, each with its reason)"
	cat "$out/lintian.log"
else
	# The build's output is long: its end.
	tail -n 80 "$work/build.log"
fi
# The two steps as test results, for scripts/count-tests.py.
{
	printf '{"name": "seedd:package / dpkg-buildpackage", "result": "%s"}\n' "$build"
	printf '{"name": "seedd:package / lintian", "result": "%s"}\n' "$lint"
} >"$out/steps.json"
status=0
[ "$build" = OK ] && [ "$lint" = OK ] || status=1
cp "$work/build.log" "$out/"
for f in "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$work"/*.dsc "$work"/*.tar.xz; do
	[ ! -e "$f" ] || cp "$f" "$out/"
done
logs=$(echo "$work/$name"/obj-*/meson-logs)
[ ! -d "$logs" ] || cp -R "$logs" "$out/"
exit $status
