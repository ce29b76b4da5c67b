#!/bin/bash
# SPDX-License-Identifier: MIT
#
# fetch-mbedtls.sh BUILDDIR
#
# Fetches the Debian source packages of Mbed TLS 2.28 (bookworm) and 3.6
# (trixie) and unpacks their orig tarballs under BUILDDIR/interop/. apt runs
# with a private configuration whose deb-src entries are derived at run time
# from the machine's own /etc/apt/sources.list.d/debian.sources (or, failing
# that, /etc/apt/sources.list), so the system apt configuration, lists and
# caches are never touched. apt checks every file against the signed Sources
# index. A second run finds the stamps and downloads nothing.
#
# Result: BUILDDIR/interop/src/mbedtls-2.28 and BUILDDIR/interop/src/mbedtls-3.6.
set -euo pipefail

die() { echo "fetch-mbedtls: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 BUILDDIR"
top=$(mkdir -p "$1/interop" && cd "$1/interop" && pwd)
system_sources=/etc/apt/sources.list.d/debian.sources
system_list=/etc/apt/sources.list
# The suite name to replace: this machine's release codename.
# shellcheck source=/dev/null
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"

# Writes the private source entries for release $1 into directory $2: every
# entry becomes deb-src, and this machine's codename becomes $1 in the suite
# names (bookworm-updates -> trixie-updates, ...). deb822 debian.sources is
# preferred; a one-line sources.list is the fallback.
derive_sources() {
	local suite=$1 out=$2
	if [ -r "$system_sources" ]; then
		sed -E \
			-e 's/^Types:.*/Types: deb-src/' \
			-e "/^Suites:/s/\\b$codename\\b/$suite/g" \
			"$system_sources" >"$out/debian.sources"
		grep -q '^Types: deb-src' "$out/debian.sources" ||
			die "no Types: line in $system_sources"
	elif [ -r "$system_list" ]; then
		sed -E -n \
			-e "s/^deb(-src)?[[:space:]]+(.*)\\b$codename\\b/deb-src \\2$suite/p" \
			"$system_list" >"$out/debian.list"
		[ -s "$out/debian.list" ] || die "no $codename entries in $system_list"
	else
		die "neither $system_sources nor $system_list is readable"
	fi
}

# fetch SUITE SERIES: downloads and unpacks mbedtls from SUITE, checks that the
# upstream version is SERIES.x, and moves it to src/mbedtls-SERIES.
fetch() {
	local suite=$1 series=$2
	local dir=$top/apt-$suite
	local stamp=$top/stamp-fetch-$series

	if [ -f "$stamp" ] && [ -d "$top/src/mbedtls-$series/library" ]; then
		return 0
	fi

	if ! command -v apt-get >/dev/null; then
		echo "fetch-mbedtls: no apt-get: cannot fetch Debian source packages (skip)" >&2
		exit 77
	fi

	rm -rf "$dir" "$top/dl-$suite"
	mkdir -p "$dir/sources.list.d" "$dir/lists/partial" "$dir/cache/archives/partial" \
		"$dir/empty" "$top/dl-$suite" "$top/src"
	: >"$dir/sources.list"
	derive_sources "$suite" "$dir/sources.list.d"

	# The system's apt.conf.d hooks (AppStream, PackageKit, ...) refresh
	# system state after an update: clear them for this private run.
	cat >"$dir/apt.conf" <<-EOF
	#clear APT::Update::Pre-Invoke;
	#clear APT::Update::Post-Invoke;
	#clear APT::Update::Post-Invoke-Success;
	#clear DPkg::Pre-Invoke;
	#clear DPkg::Post-Invoke;
	EOF

	local apt=(
		-c "$dir/apt.conf"
		-o "Dir::Etc::SourceList=$dir/sources.list"
		-o "Dir::Etc::SourceParts=$dir/sources.list.d"
		-o "Dir::Etc::Preferences=$dir/empty/preferences"
		-o "Dir::Etc::PreferencesParts=$dir/empty"
		-o "Dir::State::Lists=$dir/lists"
		-o "Dir::Cache=$dir/cache"
		-o "Dir::Cache::pkgcache=$dir/cache/pkgcache.bin"
		-o "Dir::Cache::srcpkgcache=$dir/cache/srcpkgcache.bin"
		-o "Dir::Log=$dir"
		-o "Acquire::Languages=none"
		-o "APT::Get::List-Cleanup=true"
	)

	echo "fetch-mbedtls: apt-get update (private, $suite deb-src)" >&2
	apt-get -qq "${apt[@]}" update ||
		die "apt-get update failed for $suite (private config in $dir)"

	echo "fetch-mbedtls: apt-get source --download-only mbedtls ($suite)" >&2
	# The download lands in a root-owned build dir that apt's _apt sandbox
	# user cannot write: say so up front instead of letting apt warn.
	(cd "$top/dl-$suite" &&
		apt-get -qq "${apt[@]}" -o APT::Sandbox::User=root source --download-only mbedtls) ||
		die "apt-get source failed for $suite"

	local orig="" f
	for f in "$top/dl-$suite"/mbedtls_*.orig.tar.*; do
		case $f in *.asc) ;; *) [ -f "$f" ] && orig=$f ;; esac
	done
	[ -n "$orig" ] || die "no orig tarball downloaded for $suite"

	local unpack=$top/src/unpack-$series
	rm -rf "$unpack" "$top/src/mbedtls-$series"
	mkdir -p "$unpack"
	tar -xf "$orig" -C "$unpack"
	local root
	root=$(find "$unpack" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	if [ -z "$root" ] || [ ! -d "$root/library" ]; then
		die "unexpected layout in $orig"
	fi
	mv "$root" "$top/src/mbedtls-$series"
	rmdir "$unpack"

	# 3.x defines the version in build_info.h, 2.28 in version.h.
	local version="" h
	for h in build_info.h version.h; do
		h=$top/src/mbedtls-$series/include/mbedtls/$h
		[ -f "$h" ] || continue
		version=$(sed -n 's/^#define MBEDTLS_VERSION_STRING *"\(.*\)"/\1/p' "$h")
		[ -z "$version" ] || break
	done
	case "$version" in
	"$series".*) ;;
	*) die "$suite gave Mbed TLS '$version', expected $series.x" ;;
	esac
	echo "$version" >"$top/src/mbedtls-$series/.seedd-version"
	echo "fetch-mbedtls: Mbed TLS $version from $suite ($(basename "$orig"))" >&2
	touch "$stamp"
}

fetch bookworm 2.28
fetch trixie 3.6
