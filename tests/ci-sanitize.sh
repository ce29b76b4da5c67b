#!/bin/sh
# SPDX-License-Identifier: MIT
# CI variant: a second build dir with ASan + UBSan and --werror, running the
# unit, integration and fuzz (corpus replay) suites. Any sanitizer report
# aborts the process under test, so it fails the suite.
#
#   tests/ci-sanitize.sh [BUILD_DIR]      (default build-sanitize)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-sanitize}

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$top" --werror -Dman=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C "$build"

export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
exec meson test -C "$build" --no-rebuild --print-errorlogs \
	--suite unit --suite integration --suite fuzz
