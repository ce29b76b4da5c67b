#!/bin/bash
# SPDX-License-Identifier: MIT
#
# cross-sysroot.sh ARCH DIR
#
# Makes a target sysroot for cross-building and running seedd: the Debian
# packages of ARCH (arm64 or armhf) that seedd links, plus the target's C
# library for qemu-user, downloaded with a private apt configuration and
# unpacked with dpkg-deb -x into DIR/sysroot. Nothing is installed on the
# host: multiarch -dev packages would replace the host's own (installing
# libevent-dev:arm64 removes libevent-dev:amd64), and no foreign architecture
# is added to dpkg. The apt sources are derived at run time from the machine's
# /etc/apt/sources.list.d/debian.sources (or /etc/apt/sources.list), so no
# mirror is named here; apt checks every package against the signed index.
#
# Also writes DIR/sysroot.ini, a meson machine file that defines the constant
# `sysroot`, to be passed before cross/<triplet>.ini. A second run with the
# same package list finds the stamp and downloads nothing.
set -euo pipefail

die() { echo "cross-sysroot: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 arm64|armhf DIR"
arch=$1
case $arch in
arm64 | armhf) ;;
*) die "unknown architecture '$arch' (arm64 or armhf)" ;;
esac
top=$(mkdir -p "$2" && cd "$2" && pwd)
sysroot=$top/sysroot
apt_dir=$top/apt
stamp=$top/stamp-sysroot

# seedd links libc, Mbed TLS's libmbedcrypto and libevent_core; the -dev
# packages bring the headers, the .so links and libevent's .pc files. The
# compiler's own libc (libc6-dev-*-cross) builds; this libc6 runs under qemu.
packages=(libc6 libgcc-s1 libmbedcrypto7 libmbedtls14 libmbedx509-1 libmbedtls-dev
	libevent-core-2.1-7 libevent-dev)
want="$arch $sysroot ${packages[*]}"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$top/sysroot.ini" ]; then
	exit 0
fi
command -v apt-get >/dev/null || die "no apt-get: cannot fetch the $arch packages"
command -v dpkg-deb >/dev/null || die "no dpkg-deb: cannot unpack the $arch packages"

system_sources=/etc/apt/sources.list.d/debian.sources
system_list=/etc/apt/sources.list
rm -rf "$apt_dir" "$sysroot" "$stamp"
mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" \
	"$apt_dir/empty" "$apt_dir/debs" "$sysroot"
: >"$apt_dir/sources.list"
: >"$apt_dir/status"
# Binary entries only: deb-src lines would make apt fetch source indexes too.
if [ -r "$system_sources" ]; then
	sed -E -e 's/^Types:.*/Types: deb/' "$system_sources" >"$apt_dir/sources.list.d/debian.sources"
	grep -q '^URIs:' "$apt_dir/sources.list.d/debian.sources" || die "no URIs: line in $system_sources"
elif [ -r "$system_list" ]; then
	grep -E '^deb[[:space:]]' "$system_list" >"$apt_dir/sources.list.d/debian.list" ||
		die "no deb lines in $system_list"
else
	die "neither $system_sources nor $system_list is readable"
fi

# The system's apt.conf.d hooks refresh system state after an update: clear
# them for this private run.
cat >"$apt_dir/apt.conf" <<EOF
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
EOF

apt=(
	-c "$apt_dir/apt.conf"
	-o "APT::Architecture=$arch"
	-o "APT::Architectures=$arch"
	-o "Dir::State=$apt_dir"
	-o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::State::status=$apt_dir/status"
	-o "Dir::Etc::SourceList=$apt_dir/sources.list"
	-o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
	-o "Dir::Etc::Preferences=$apt_dir/empty/preferences"
	-o "Dir::Etc::PreferencesParts=$apt_dir/empty"
	-o "Dir::Cache=$apt_dir/cache"
	-o "Dir::Cache::pkgcache=$apt_dir/cache/pkgcache.bin"
	-o "Dir::Cache::srcpkgcache=$apt_dir/cache/srcpkgcache.bin"
	-o "Dir::Log=$apt_dir"
	-o "Acquire::Languages=none"
	-o "APT::Get::List-Cleanup=true"
	# The download lands in a root-owned dir that apt's _apt sandbox user
	# cannot write.
	-o "APT::Sandbox::User=root"
)

echo "cross-sysroot: apt-get update (private, $arch)" >&2
# A mirror in mid-sync can fail one index (seen with bookworm-security): apt
# then ignores that index, verifies the others, and the download below fails
# if a package is missing.
apt-get -qq -o Acquire::Retries=3 "${apt[@]}" update ||
	echo "cross-sysroot: warning: some $arch indexes failed to download; going on without them" >&2
echo "cross-sysroot: apt-get download ${packages[*]} ($arch)" >&2
(cd "$apt_dir/debs" && apt-get -qq "${apt[@]}" download "${packages[@]}") ||
	die "apt-get download failed for $arch"

for deb in "$apt_dir"/debs/*.deb; do
	[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || [ "$(dpkg-deb -f "$deb" Architecture)" = all ] ||
		die "$deb is not for $arch"
	dpkg-deb -x "$deb" "$sysroot"
done
(cd "$apt_dir/debs" && ls) >"$top/packages.txt"
# The indexes are most of the space and a changed package list fetches anew.
rm -rf "$apt_dir/lists" "$apt_dir/cache"

# Absolute links (libmbedcrypto.so -> /usr/lib/...) would point into the host.
find "$sysroot" -type l -lname '/*' | while read -r link; do
	ln -sfn "$sysroot$(readlink "$link")" "$link"
done

printf "# Generated by scripts/cross-sysroot.sh: pass before cross/*.ini.\n[constants]\nsysroot = '%s'\n" \
	"$sysroot" >"$top/sysroot.ini"
echo "$want" >"$stamp"
echo "cross-sysroot: $arch sysroot in $sysroot: $(tr '\n' ' ' <"$top/packages.txt")" >&2
