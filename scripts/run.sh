#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the build dependencies, builds seedd and runs it in the foreground
# on a local state dir (./state), with no root paths. Extra arguments go to seedd.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh gcc meson ninja-build pkg-config libmbedtls-dev libevent-dev libsystemd-dev
[ -f build/build.ninja ] || meson setup build
# Only what it runs: the tests build with scripts/test.sh.
meson compile -C build seedd seedctl
mkdir -p -m 0700 state
echo "seedd: seed file state/seedfile, socket state/seedd.sock"
echo "try: SEEDD_SOCKET=state/seedd.sock build/client/seedctl status"
exec build/daemon/seedd --seed-file state/seedfile --socket state/seedd.sock "$@"
