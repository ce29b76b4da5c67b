# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2154,SC2034 # the globals are the caller's
#
# Sourced by build-mbedtls.sh and build-mbedtls4.sh: their arguments and
# globals, and how both link their test programs into $top/bin. Expects die.

# build_args [--prefix-only] BUILDDIR: sets prefix_only, here, builddir, top,
# libdir, seedd_include, nv_seed_h, cc and jobs.
build_args() {
	prefix_only=0
	if [ "${1:-}" = --prefix-only ]; then
		prefix_only=1
		shift
	fi
	[ $# -eq 1 ] || die "usage: $0 [--prefix-only] BUILDDIR"
	here=$(cd "$(dirname "$0")" && pwd)
	builddir=$(cd "$1" && pwd)
	top=$builddir/interop
	libdir=${LIBDIR:-$builddir/client}
	seedd_include=${SEEDD_INCLUDE:-$builddir/include}
	nv_seed_h=$here/../../include/seedclient_nv_seed.h
	cc=${CC:-cc}
	jobs=$(nproc 2>/dev/null || echo 2)
}

# compile OUTPUT SOURCE [CFLAGS...] -- [LDFLAGS...]: one test program, rebuilt
# when it is older than its source, the headers or what it links.
compile() {
	local out=$top/bin/$1 source=$here/$2
	shift 2
	local cflags=() ldflags=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		cflags+=("$1")
		shift
	done
	[ $# -eq 0 ] || shift
	ldflags=("$@")

	local dep stale=0
	[ -f "$out" ] || stale=1
	for dep in "$source" "$here/drbg-print.h" "$seedd_include/seedclient.h" "$0" "${ldflags[@]}"; do
		[ -f "$dep" ] || continue
		[ "$dep" -nt "$out" ] && stale=1
	done
	[ $stale -eq 1 ] || return 0
	"$cc" -O2 -Wall -Wextra -Werror "${cflags[@]}" -I"$seedd_include" -o "$out" "$source" \
		"${ldflags[@]}" -L"$libdir" -lseedclient -Wl,-rpath,"$libdir" ||
		die "failed to compile $source"
}

# The test programs carry libdir as their run path: relink them all when it moves.
bin_for_libdir() {
	if [ "$(cat "$top/bin/.libdir" 2>/dev/null)" != "$libdir" ]; then
		rm -f "$top/bin/"*
		echo "$libdir" >"$top/bin/.libdir"
	fi
}
