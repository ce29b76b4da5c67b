#!/bin/bash
# SPDX-License-Identifier: MIT
#
# build-mbedtls-opt1.sh BUILDDIR
#
# Builds Mbed TLS 2.28 and 3.6 with the NV seed guide's option 1, the default
# wiring: MBEDTLS_ENTROPY_NV_SEED through stdio (MBEDTLS_FS_IO, on by
# default) on the default MBEDTLS_PLATFORM_STD_NV_SEED_FILE, "seedfile" in
# the working directory, with MBEDTLS_NO_PLATFORM_ENTROPY, so that the seed
# file is the only strong source. Nothing of seedd goes into them: these are
# the programs seedfs serves. Sources come from fetch-mbedtls.sh; the same
# lock as build-mbedtls.sh serialises the builds, and a stamp per build makes
# a second run rebuild nothing.
#
# In BUILDDIR/interop/bin-opt1 (build-mbedtls.sh empties bin/ when it
# relinks), for SERIES 2.28 and 3.6, Mbed TLS's own unmodified
# programs/random/gen_random_ctr_drbg, programs/ssl/ssl_server2 and
# ssl_client2, linked as Mbed TLS links them (libc shared) and fully static
# (-static, as firmware ships them):
#   gen_random_ctr_drbg-SERIES-opt1  ssl_server2-SERIES-opt1  ssl_client2-SERIES-opt1
#   gen_random_ctr_drbg-SERIES-opt1-static  ...
#
# Environment: CC (default cc).
set -euo pipefail

die() { echo "build-mbedtls-opt1: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 BUILDDIR"
here=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "$1" && pwd)
top=$builddir/interop
cc=${CC:-cc}
jobs=$(nproc 2>/dev/null || echo 2)
programs="random/gen_random_ctr_drbg ssl/ssl_server2 ssl/ssl_client2"

out=$top/bin-opt1
mkdir -p "$out"
exec 9>"$top/.lock"
flock 9

"$here/fetch-mbedtls.sh" "$builddir"

# The settings option 1 changes; MBEDTLS_FS_IO and the seed file's name are
# Mbed TLS's defaults and are checked, not set.
settings() {
	cat <<-EOF
	MBEDTLS_ENTROPY_NV_SEED
	MBEDTLS_NO_PLATFORM_ENTROPY
	EOF
}

config_tool() {
	case $1 in
	2.28) echo "perl scripts/config.pl" ;;
	*) echo "python3 scripts/config.py" ;;
	esac
}

# copy_programs DIR SERIES SUFFIX: the built programs into bin/, renamed.
copy_programs() {
	local dir=$1 series=$2 suffix=$3 p
	for p in $programs; do
		cp "$dir/programs/$p" "$out/$(basename "$p")-$series-opt1$suffix"
	done
}

# build SERIES: configures one copy of the source tree, builds the libraries
# and the programs twice, shared libc then -static.
build() {
	local series=$1
	local src=$top/src/mbedtls-$series
	local dir=$top/build-$series-opt1
	local stamp=$top/stamp-build-$series-opt1
	local log=$top/build-$series-opt1.log
	local want
	want=$(
		cat "$src/.seedd-version"
		settings
		echo "$cc $programs"
		sha256sum "$0" | cut -d' ' -f1
	)
	local p have=1
	for p in $programs; do
		[ -x "$out/$(basename "$p")-$series-opt1-static" ] || have=0
	done
	if [ $have -eq 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		return 0
	fi

	local start=$SECONDS tool name
	rm -rf "$dir" "$stamp"
	cp -a "$src" "$dir"
	tool=$(config_tool "$series")
	while read -r name; do
		# shellcheck disable=SC2086 # tool is "interpreter script"
		(cd "$dir" && $tool set "$name") ||
			die "$series opt1: config script failed to set $name"
	done < <(settings)
	for name in MBEDTLS_FS_IO MBEDTLS_PLATFORM_NV_SEED_ALT MBEDTLS_PLATFORM_STD_NV_SEED_FILE; do
		# shellcheck disable=SC2086
		if (cd "$dir" && $tool get "$name" >/dev/null); then
			[ "$name" = MBEDTLS_FS_IO ] || die "$series opt1: $name is set"
		else
			[ "$name" != MBEDTLS_FS_IO ] || die "$series opt1: $name is not set"
		fi
	done

	echo "build-mbedtls-opt1: building Mbed TLS $series opt1 (log: $log)" >&2
	{
		make -C "$dir" -j"$jobs" CC="$cc" lib &&
			# shellcheck disable=SC2086 # programs is a list
			make -C "$dir/programs" -j"$jobs" CC="$cc" $programs &&
			copy_programs "$dir" "$series" "" &&
			(cd "$dir/programs" && rm -f $programs) &&
			# shellcheck disable=SC2086
			make -C "$dir/programs" -j"$jobs" CC="$cc" LDFLAGS=-static $programs &&
			copy_programs "$dir" "$series" -static
	} >"$log" 2>&1 || {
		tail -n 40 "$log" >&2
		die "Mbed TLS $series opt1 failed to build"
	}
	for p in $programs; do
		p=$out/$(basename "$p")-$series-opt1-static
		if readelf -d "$p" | grep -q NEEDED || readelf -l "$p" | grep -q INTERP; then
			die "$p is not statically linked"
		fi
	done

	local took=$((SECONDS - start))
	echo "build-mbedtls-opt1: Mbed TLS $series opt1 built in ${took}s" >&2
	echo "$(date -u +%FT%TZ) $series opt1 ${took}s" >>"$top/build-times.txt"
	echo "$want" >"$stamp"
}

for series in 2.28 3.6; do
	build "$series"
done
