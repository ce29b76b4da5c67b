#!/bin/sh
# SPDX-License-Identifier: MIT
# The long runs, not part of CI: each fuzz target for SECONDS (default 600,
# one at a time) and 1,000 concurrent clients for 30 s against one seedd.
#
#   tests/faults/long-runs.sh [BUILD_DIR [SECONDS]]   (default build)
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
secs=${2:-600}

ninja -C "$build"
SEEDD=$build/daemon/seedd SEEDCTL=$build/client/seedctl SCTOOL=$build/tests/sctool \
LOADGEN=$build/tests/faults/loadgen FAULTINJECT=$build/tests/faults/faultinject.so \
PYTHONPATH=$top/tests/lib SEEDD_LOAD_CLIENTS=1000 SEEDD_LOAD_SECONDS=30 \
	python3 "$top/tests/faults/test_load.py" concurrent

"$top/tests/fuzz/run-fuzzers.sh" "$secs"
