#!/bin/bash
# SPDX-License-Identifier: MIT
#
# build-mbedtls.sh [--prefix-only] BUILDDIR
#
# Builds static Mbed TLS 2.28 and 3.6 with NV seed support, configured with
# Mbed TLS's own config script, plus the interop test programs, all under
# BUILDDIR/interop/. Sources come from fetch-mbedtls.sh. Serialised with
# flock, so parallel tests may all call it; a stamp per build makes a second
# run rebuild nothing.
#
# Environment: LIBDIR, the directory holding libseedclient.so (default
# BUILDDIR/client); SEEDD_INCLUDE, the directory holding seedclient.h
# (default: BUILDDIR/include, where the build makes it); CC (default cc).
# Option 2 builds take include/seedclient_nv_seed.h from the source tree.
#
# Builds, each in BUILDDIR/interop/build-SERIES-CONFIG:
#   opt2    NV seed callbacks named at build time: include/seedclient_nv_seed.h,
#           the installed header, as MBEDTLS_USER_CONFIG_FILE, plus Mbed TLS's
#           unmodified programs/ssl/ssl_server2 and ssl_client2
#   opt3    NV seed callbacks installed at run time (mbedtls_platform_set_nv_seed)
#   sha256  opt3 with MBEDTLS_ENTROPY_FORCE_SHA256 (32-byte entropy blocks)
# All have MBEDTLS_NO_PLATFORM_ENTROPY, so seedd is the only strong source.
# BUILDDIR/interop/prefix-3.6-opt3/{include,lib} is an install-like copy of the
# 3.6 opt3 build for building seedd itself against it (meson
# -Dmbedtls_dir=...). --prefix-only makes just that, without libseedclient.
set -euo pipefail

die() { echo "build-mbedtls: $*" >&2; exit 1; }
# shellcheck source=compile.sh
. "$(dirname "$0")/compile.sh"

build_args "$@"

mkdir -p "$top/bin"
exec 9>"$top/.lock"
flock 9

"$here/fetch-mbedtls.sh" "$builddir"

if [ $prefix_only -eq 0 ]; then
	[ -f "$libdir/libseedclient.so" ] || die "no libseedclient.so in $libdir"
	[ -f "$seedd_include/seedclient.h" ] || die "no seedclient.h in $seedd_include"
	libdir=$(cd "$libdir" && pwd)
	seedd_include=$(cd "$seedd_include" && pwd)
fi

# Mbed TLS settings per configuration, one "NAME [VALUE]" per line.
settings() {
	cat <<-EOF
	MBEDTLS_ENTROPY_NV_SEED
	MBEDTLS_PLATFORM_NV_SEED_ALT
	MBEDTLS_NO_PLATFORM_ENTROPY
	EOF
	case $1 in
	opt2) echo 'MBEDTLS_USER_CONFIG_FILE "seedclient_nv_seed.h"' ;;
	opt3) ;;
	sha256) echo MBEDTLS_ENTROPY_FORCE_SHA256 ;;
	*) die "unknown configuration $1" ;;
	esac
}

# What each build makes: the option-2 builds carry the TLS sample programs,
# the 3.6 option-3 build all three libraries for the prefix, the rest only
# libmbedcrypto, which is all the test programs need.
targets() {
	case $1-$2 in
	*-opt2 | 3.6-opt3) echo lib ;;
	*) echo crypto ;;
	esac
}

config_tool() {
	case $1 in
	2.28) echo "perl scripts/config.pl" ;;
	*) echo "python3 scripts/config.py" ;;
	esac
}

# build SERIES CONFIG: configures and builds one copy of the source tree.
build() {
	local series=$1 config=$2
	local src=$top/src/mbedtls-$series
	local dir=$top/build-$series-$config
	local stamp=$top/stamp-build-$series-$config
	local log=$top/build-$series-$config.log
	local want
	want=$(
		cat "$src/.seedd-version"
		settings "$config"
		targets "$series" "$config"
		if [ "$config" = opt2 ]; then
			echo "$libdir"
			cat "$nv_seed_h"
		fi
	)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		return 0
	fi

	local start=$SECONDS
	rm -rf "$dir" "$stamp"
	cp -a "$src" "$dir"
	[ "$config" != opt2 ] || cp "$nv_seed_h" "$dir/include/"

	local tool name value
	tool=$(config_tool "$series")
	while read -r name value; do
		# shellcheck disable=SC2086 # tool is "interpreter script"
		(cd "$dir" && $tool set "$name" ${value:+"$value"}) ||
			die "$series $config: config script failed to set $name"
	done < <(settings "$config")

	echo "build-mbedtls: building Mbed TLS $series $config (log: $log)" >&2
	{
		case $(targets "$series" "$config") in
		lib) make -C "$dir" -j"$jobs" lib ;;
		crypto) make -C "$dir/library" -j"$jobs" libmbedcrypto.a ;;
		esac &&
			if [ "$config" = opt2 ]; then
				make -C "$dir/programs" -j"$jobs" ssl/ssl_server2 ssl/ssl_client2 \
					LDFLAGS="-L$libdir -lseedclient -Wl,-rpath,$libdir"
			fi
	} >"$log" 2>&1 || {
		tail -n 40 "$log" >&2
		die "Mbed TLS $series $config failed to build"
	}

	local took=$((SECONDS - start))
	echo "build-mbedtls: Mbed TLS $series $config built in ${took}s" >&2
	echo "$(date -u +%FT%TZ) $series $config ${took}s" >>"$top/build-times.txt"
	echo "$want" >"$stamp"
}

# An install-like tree of the 3.6 option-3 build, for building seedd on it.
make_prefix() {
	local dir=$top/build-3.6-opt3 prefix=$top/prefix-3.6-opt3
	if [ -f "$prefix/lib/libmbedcrypto.a" ] && [ "$prefix/lib/libmbedcrypto.a" -nt "$top/stamp-build-3.6-opt3" ]; then
		return 0
	fi
	rm -rf "$prefix"
	mkdir -p "$prefix/include" "$prefix/lib"
	cp -a "$dir/include/mbedtls" "$dir/include/psa" "$prefix/include/"
	cp "$dir/library/libmbedtls.a" "$dir/library/libmbedx509.a" \
		"$dir/library/libmbedcrypto.a" "$prefix/lib/"
}

if [ $prefix_only -eq 1 ]; then
	build 3.6 opt3
	make_prefix
	exit 0
fi

# program NAME SERIES CONFIG: links a test program against one build.
program() {
	local name=$1 series=$2 config=$3 dir=$top/build-$2-$3
	local extra=()
	[ "$config" != opt2 ] || extra=(-DSEEDD_OPTION2)
	compile "$name-$series-$config" "$name.c" "${extra[@]}" -I"$dir/include" -- \
		"$dir/library/libmbedcrypto.a"
}

bin_for_libdir

for series in 2.28 3.6; do
	for config in opt2 opt3 sha256; do
		build "$series" "$config"
		program nvseed-drbg "$series" "$config"
	done
	program fork-drbg "$series" opt3
	ln -sfn "../build-$series-opt2/programs/ssl/ssl_server2" "$top/bin/ssl_server2-$series"
	ln -sfn "../build-$series-opt2/programs/ssl/ssl_client2" "$top/bin/ssl_client2-$series"
done
program psa-random 3.6 opt2
program psa-random 3.6 opt3
make_prefix

# Debian's own libmbedtls-dev (2.28, no NV seed) from the system.
compile stock-poll-2.28 stock-poll.c -- -lmbedcrypto
