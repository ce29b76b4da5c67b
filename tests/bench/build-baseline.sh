#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds seedd and libseedclient of another commit, for the benchmark's
# before/after table:
#
#   tests/bench/build-baseline.sh REV DIR
#   SEEDD_BENCH_BASELINE_SEEDD=DIR/build/daemon/seedd \
#   SEEDD_BENCH_BASELINE_LIB=DIR/build/client ninja -C build bench
#
# The sources come from `git archive`, so the repository (its worktrees,
# index and refs) is left as it is. An existing DIR is rebuilt in place.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 REV DIR" >&2
	exit 2
fi
rev=$1
dir=$2
top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
rm -rf "$dir/src"
mkdir "$dir/src"
git -C "$top" archive --format=tar "$rev" | tar -x -C "$dir/src"
git -C "$top" rev-parse "$rev" >"$dir/src/REVISION"
if [ -d "$dir/build" ]; then
	meson setup --reconfigure "$dir/build" "$dir/src" >/dev/null
else
	meson setup "$dir/build" "$dir/src" >/dev/null
fi
meson compile -C "$dir/build" seedd seedclient >/dev/null
echo "SEEDD_BENCH_BASELINE_SEEDD=$dir/build/daemon/seedd"
echo "SEEDD_BENCH_BASELINE_LIB=$dir/build/client"
