#!/bin/sh
# SPDX-License-Identifier: MIT
# Long fuzz runs, not part of CI: builds the libFuzzer targets with clang,
# ASan and UBSan in BUILD (default build-fuzz at the top of the tree), then
# runs each target alone for SECONDS (default 600) on a working copy of its
# committed corpus and prints one line per target: runs, exec/s, coverage.
#
#   tests/fuzz/run-fuzzers.sh [SECONDS [TARGET...]]
#
# A crash leaves its input as BUILD/fuzz-out/TARGET/crash-* and the script
# exits 1: minimise it, add it to tests/fuzz/corpus/TARGET/ and fix the bug.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build-fuzz}
secs=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-proto request seedfile}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$top" -Dman=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link -Dc_link_args=-fsanitize=fuzzer-no-link
fi
ninja -C "$build" $(for t in $targets; do printf 'tests/fuzz/fuzz-%s ' "$t"; done)

rc=0
for t in $targets; do
	out=$build/fuzz-out/$t
	mkdir -p "$out/corpus"
	cp -n "$top/tests/fuzz/corpus/$t/"* "$out/corpus/" 2>/dev/null || true
	echo "== fuzz-$t for ${secs}s"
	if (cd "$out" && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$build/tests/fuzz/fuzz-$t" -max_total_time="$secs" -print_final_stats=1 \
		-max_len=2048 -timeout=10 -rss_limit_mb=2048 corpus >log 2>&1); then
		status=ok
	else
		status=FAILED
		rc=1
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/log")
	last=$(grep -E '^#[0-9]+' "$out/log" | tail -n 1)
	cov=$(printf '%s\n' "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s\n' "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(printf '%s\n' "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
	printf 'fuzz-%-9s %-6s runs=%s exec/s=%s cov=%s ft=%s corpus=%s\n' "$t" "$status" \
		"$runs" "$speed" "$cov" "$ft" "$corp" | tee -a "$build/fuzz-out/summary.txt"
	[ "$status" = ok ] || grep -E 'ERROR|invariant|SUMMARY' "$out/log" | head -n 5
done
exit $rc
