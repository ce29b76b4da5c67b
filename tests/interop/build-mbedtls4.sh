#!/bin/bash
# SPDX-License-Identifier: MIT
#
# build-mbedtls4.sh [--prefix-only] BUILDDIR
#
# Builds Mbed TLS 4 (TF-PSA-Crypto 1.x) in the configurations the interop
# suite tests, with CMake, plus the test programs, all under
# BUILDDIR/interop/. No package registry serves Mbed TLS 4 here: the source
# is the one $SEEDD_MBEDTLS4_SOURCE names, else $SEEDD_MBEDTLS4_SOURCE_OPTION
# (meson -Dmbedtls4_source=): a release tarball, or a source tree with its
# framework and tf-psa-crypto submodules. It is unpacked (or copied: the test
# suites write into their tree) to BUILDDIR/interop/src/mbedtls-4. Without a
# source the script says so and exits 77 (skip). Serialised with
# build-mbedtls.sh by the same flock; a stamp per build makes a second run
# rebuild nothing.
#
# Environment: LIBDIR, the directory holding libseedclient.so and
# libseedclient-entropy.so (default BUILDDIR/client); SEEDD_INCLUDE, the
# directory holding seedclient.h (default: BUILDDIR/include, where the build
# makes it); CC (default cc). Option 2 takes include/seedclient_nv_seed.h
# from the source tree.
#
# Builds, each in BUILDDIR/interop/build-4-CONFIG (a copy of the source,
# configured with its scripts/config.py, built in build/), the first four
# without MBEDTLS_PSA_BUILTIN_GET_ENTROPY, so that seedd is the only source:
#   opt2     the NV seed through include/seedclient_nv_seed.h, the installed
#            header, as TF_PSA_CRYPTO_USER_CONFIG_FILE (MBEDTLS_ENTROPY_NO_SOURCES_OK)
#   opt3     MBEDTLS_ENTROPY_NV_SEED, MBEDTLS_PLATFORM_NV_SEED_ALT and
#            MBEDTLS_ENTROPY_NO_SOURCES_OK, callbacks installed at run time: in
#            the unmodified programs by nv-seed-at-start.c's constructor
#   entropy  MBEDTLS_PSA_DRIVER_GET_ENTROPY, with libseedclient-entropy's hook
#            (the test framework's own mbedtls_platform_get_entropy renamed away)
#   pr       opt3 with MBEDTLS_PSA_RNG_RESEED_INTERVAL 1, library only (fork tests)
#   dist     a distribution's: the defaults (getrandom kept) plus
#            MBEDTLS_ENTROPY_NV_SEED and MBEDTLS_PLATFORM_NV_SEED_ALT, no tests
#            or TLS programs, installed with cmake --install in BUILDDIR/interop/prefix-4
#            for building seedd itself against it (--prefix-only: just this)
# opt2, opt3 and entropy also build ssl_server2, ssl_client2 and the test
# suites entropy, random, ctr_drbg, psa_crypto_init and ssl, nothing else.
set -euo pipefail

die() { echo "build-mbedtls4: $*" >&2; exit 1; }
# shellcheck source=compile.sh
. "$(dirname "$0")/compile.sh"

build_args "$@"
suites="entropy random ctr_drbg psa_crypto_init ssl"

source=${SEEDD_MBEDTLS4_SOURCE:-${SEEDD_MBEDTLS4_SOURCE_OPTION:-}}
if [ -z "$source" ]; then
	echo "build-mbedtls4: no Mbed TLS 4 source: set SEEDD_MBEDTLS4_SOURCE (or meson -Dmbedtls4_source=) to a release tarball or a source tree (skip)" >&2
	exit 77
fi
[ -e "$source" ] || die "SEEDD_MBEDTLS4_SOURCE: $source does not exist"
source=$(cd "$(dirname "$source")" && pwd)/$(basename "$source")
command -v cmake >/dev/null || die "cmake is missing (scripts/deps.sh cmake)"
python3 -c 'import jinja2, jsonschema' 2>/dev/null ||
	die "Mbed TLS 4's code generators need python3-jinja2 and python3-jsonschema"

mkdir -p "$top/bin"
exec 9>"$top/.lock"
flock 9

# What identifies the source: a tarball's checksum, a tree's path and commit.
source_id() {
	if [ -d "$source" ]; then
		echo "tree $source $(git -C "$source" rev-parse HEAD 2>/dev/null || echo unversioned)"
	else
		echo "tarball $(sha256sum <"$source" | cut -d' ' -f1)"
	fi
}

# Unpacks or copies the source to src/mbedtls-4 and checks it is a whole 4.x tree.
unpack() {
	local src=$top/src/mbedtls-4 stamp=$top/stamp-src-4 id
	id=$(source_id)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$id" ] && [ -d "$src" ]; then
		return 0
	fi
	rm -rf "$src" "$stamp" "$top/src/unpack-4"
	mkdir -p "$top/src/unpack-4"
	if [ -d "$source" ]; then
		cp -a "$source/." "$top/src/unpack-4/"
		mv "$top/src/unpack-4" "$src"
	else
		tar -xf "$source" -C "$top/src/unpack-4" || die "cannot unpack $source"
		local root
		root=$(find "$top/src/unpack-4" -mindepth 1 -maxdepth 1 -type d | head -n 1)
		[ -n "$root" ] || die "$source holds no directory"
		mv "$root" "$src"
		rmdir "$top/src/unpack-4"
	fi
	local version
	version=$(sed -n 's/^#define MBEDTLS_VERSION_STRING *"\(.*\)"/\1/p' \
		"$src/include/mbedtls/build_info.h" 2>/dev/null || :)
	case "$version" in
	4.*) ;;
	*) die "$source is Mbed TLS '${version:-unknown}', expected 4.x" ;;
	esac
	local sub
	for sub in framework tf-psa-crypto tf-psa-crypto/framework; do
		[ -f "$src/$sub/CMakeLists.txt" ] ||
			die "$source lacks its submodule $sub (git submodule update --init --recursive)"
	done
	local crypto
	crypto=$(sed -n 's/^#define TF_PSA_CRYPTO_VERSION_STRING *"\(.*\)"/\1/p' \
		"$src/tf-psa-crypto/include/tf-psa-crypto/build_info.h")
	echo "$version (TF-PSA-Crypto $crypto)" >"$src/.seedd-version"
	echo "build-mbedtls4: Mbed TLS $version (TF-PSA-Crypto $crypto) from $source" >&2
	echo "$id" >"$stamp"
}

# Mbed TLS settings per configuration, one "set NAME [VALUE]" or "unset NAME" per line.
settings() {
	case $1 in
	opt2 | opt3 | entropy | pr) echo unset MBEDTLS_PSA_BUILTIN_GET_ENTROPY ;;
	esac
	case $1 in
	opt2) echo set MBEDTLS_ENTROPY_NO_SOURCES_OK ;;
	opt3 | pr)
		cat <<-EOF
		set MBEDTLS_ENTROPY_NV_SEED
		set MBEDTLS_PLATFORM_NV_SEED_ALT
		set MBEDTLS_ENTROPY_NO_SOURCES_OK
		EOF
		;;
	entropy) echo set MBEDTLS_PSA_DRIVER_GET_ENTROPY ;;
	dist)
		cat <<-EOF
		set MBEDTLS_ENTROPY_NV_SEED
		set MBEDTLS_PLATFORM_NV_SEED_ALT
		EOF
		;;
	*) die "unknown configuration $1" ;;
	esac
	[ "$1" != pr ] || echo set MBEDTLS_PSA_RNG_RESEED_INTERVAL 1
}

# CMake arguments per configuration: the user config file and the link lines.
cmake_args() {
	local config=$1
	local link="-L$libdir -lseedclient -Wl,-rpath,$libdir"
	case $config in
	opt2)
		echo "-DTF_PSA_CRYPTO_USER_CONFIG_FILE=$nv_seed_h"
		echo "-DCMAKE_C_STANDARD_LIBRARIES=$link"
		;;
	opt3) echo "-DCMAKE_C_STANDARD_LIBRARIES=$link" ;;
	entropy) echo "-DCMAKE_C_STANDARD_LIBRARIES=-L$libdir -lseedclient-entropy -Wl,-rpath,$libdir" ;;
	pr | dist) printf '%s\n' -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF ;;
	esac
}

targets() {
	case $1 in
	pr) echo tfpsacrypto ;;
	dist) echo all ;;
	*)
		echo ssl_server2 ssl_client2
		for s in $suites; do echo "test_suite_$s"; done
		;;
	esac
}

# The headers a program built against a configuration needs, as -I flags.
includes() {
	local dir=$top/build-4-$1
	echo "-I$dir/include -I$dir/tf-psa-crypto/include -I$dir/tf-psa-crypto/drivers/builtin/include"
	[ "$1" != opt2 ] || echo "-DTF_PSA_CRYPTO_USER_CONFIG_FILE=\"$nv_seed_h\""
}

# configure_and_make CONFIG: CMake in the configured copy, only the targets needed.
configure_and_make() {
	local config=$1 dir=$top/build-4-$1 args
	mapfile -t args < <(cmake_args "$config")
	if [ "$config" = opt3 ]; then
		# shellcheck disable=SC2046 # includes() gives one flag per word
		"$cc" -O2 -Wall -Wextra -Werror -c $(includes opt3) -I"$seedd_include" \
			-o "$dir/nv-seed-at-start.o" "$here/nv-seed-at-start.c" || return 1
	fi
	cmake -S "$dir" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release -DMBEDTLS_FATAL_WARNINGS=OFF \
		"${args[@]}" || return 1
	# Only now: CMake's own compiler checks would not link the constructor.
	if [ "$config" = opt3 ]; then
		cmake -S "$dir" -B "$dir/build" -DCMAKE_EXE_LINKER_FLAGS="$dir/nv-seed-at-start.o" ||
			return 1
	fi
	# shellcheck disable=SC2046 # one target per word
	cmake --build "$dir/build" -j"$jobs" --target $(targets "$config")
}

# build CONFIG: configures and builds one copy of the source tree.
build() {
	local config=$1
	local src=$top/src/mbedtls-4
	local dir=$top/build-4-$config
	local stamp=$top/stamp-build-4-$config
	local log=$top/build-4-$config.log
	local want
	want=$(
		cat "$top/stamp-src-4"
		settings "$config"
		targets "$config"
		cmake_args "$config"
		case $config in
		opt2) cat "$nv_seed_h" ;;
		opt3) cat "$here/nv-seed-at-start.c" "$seedd_include/seedclient.h" ;;
		esac
	)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		return 0
	fi

	local start=$SECONDS
	rm -rf "$dir" "$stamp"
	cp -a "$src" "$dir"
	local verb name value
	while read -r verb name value; do
		# shellcheck disable=SC2086 # value is empty or one word
		(cd "$dir" && python3 scripts/config.py "$verb" "$name" $value) ||
			die "4 $config: scripts/config.py failed to $verb $name"
	done < <(settings "$config")
	if [ "$config" = entropy ]; then
		# The test framework links its own mbedtls_platform_get_entropy() into
		# every program and test suite, where it would shadow the library's.
		local fake
		for fake in "$dir/framework/tests/src/fake_external_rng_for_test.c" \
			"$dir/tf-psa-crypto/framework/tests/src/fake_external_rng_for_test.c"; do
			sed -i 's/^int mbedtls_platform_get_entropy(/int seedd_test_framework_get_entropy(/' "$fake"
			grep -q seedd_test_framework_get_entropy "$fake" ||
				die "4 entropy: no mbedtls_platform_get_entropy() to rename in $fake"
		done
	fi

	echo "build-mbedtls4: building Mbed TLS 4 $config (log: $log)" >&2
	configure_and_make "$config" >"$log" 2>&1 || {
		tail -n 40 "$log" >&2
		die "Mbed TLS 4 $config failed to build"
	}
	if [ "$config" = entropy ]; then
		local exe
		for exe in $(programs_of entropy); do
			if nm "$exe" | grep -q ' T mbedtls_platform_get_entropy$'; then
				die "4 entropy: $exe defines its own mbedtls_platform_get_entropy()"
			fi
		done
	fi

	local took=$((SECONDS - start))
	echo "build-mbedtls4: Mbed TLS 4 $config built in ${took}s" >&2
	echo "$(date -u +%FT%TZ) 4 $config ${took}s" >>"$top/build-times.txt"
	echo "$want" >"$stamp"
}

# The Mbed TLS programs and test suites a configuration built, one path per line.
programs_of() {
	local b=$top/build-4-$1/build s
	echo "$b/programs/ssl/ssl_server2"
	echo "$b/programs/ssl/ssl_client2"
	for s in $suites; do
		case $s in
		ssl) echo "$b/tests/test_suite_$s" ;;
		*) echo "$b/tf-psa-crypto/tests/test_suite_$s" ;;
		esac
	done
}

# The distribution-like build, installed, for building seedd on it.
make_prefix() {
	local prefix=$top/prefix-4
	if [ -f "$prefix/lib/libtfpsacrypto.a" ] &&
		[ "$prefix/lib/libtfpsacrypto.a" -nt "$top/stamp-build-4-dist" ]; then
		return 0
	fi
	rm -rf "$prefix"
	cmake --install "$top/build-4-dist/build" --prefix "$prefix" >>"$top/build-4-dist.log" 2>&1 ||
		die "cmake --install of Mbed TLS 4 dist failed (log: $top/build-4-dist.log)"
}

unpack
build dist
make_prefix
[ $prefix_only -eq 0 ] || exit 0

for f in "$libdir/libseedclient.so" "$libdir/libseedclient-entropy.so"; do
	[ -f "$f" ] || die "no $f"
done
[ -f "$seedd_include/seedclient.h" ] || die "no seedclient.h in $seedd_include"
libdir=$(cd "$libdir" && pwd)
seedd_include=$(cd "$seedd_include" && pwd)

# program NAME CONFIG [CFLAGS...]: links a test program against one build.
program() {
	local name=$1 config=$2 lib=$top/build-4-$2/build/tf-psa-crypto/core/libtfpsacrypto.a
	shift 2
	local extra=()
	[ "$config" != entropy ] || extra=(-lseedclient-entropy)
	# shellcheck disable=SC2046 # includes() gives one flag per word
	compile "$name-4-$config" "$name.c" "$@" $(includes "$config") -- "$lib" "${extra[@]}"
}

bin_for_libdir
for config in opt2 opt3 entropy pr; do
	build "$config"
done
for config in opt2 opt3 entropy; do
	ln -sfn "../build-4-$config/build/programs/ssl/ssl_server2" "$top/bin/ssl_server2-4-$config"
	ln -sfn "../build-4-$config/build/programs/ssl/ssl_client2" "$top/bin/ssl_client2-4-$config"
done
program psa-random opt2 -DSEEDD_OPTION2
program psa-random opt3
program psa-random entropy -DSEEDD_ENTROPY_HOOK
program fork-psa opt3
program fork-psa pr
