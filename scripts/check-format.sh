#!/bin/sh
# SPDX-License-Identifier: MIT
# check-format.sh [SOURCE_ROOT]
#
# Checks every tracked *.c, *.h and *.h.in (a header the build makes) against .clang-format with clang-format 14
# (Debian 12's; other versions format differently): exit 0 when all are
# formatted, 1 listing what clang-format would change, 77 (a skip to meson)
# when clang-format 14 is missing. Fix a file with `clang-format -i FILE`.
set -eu
cd "${1:-$(dirname "$0")/..}"
for cf in "${CLANG_FORMAT:-}" clang-format-14 clang-format; do
	[ -n "$cf" ] && command -v "$cf" >/dev/null 2>&1 && break
	cf=
done
version=$([ -n "$cf" ] && "$cf" --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' || true)
if [ "$version" != 14 ]; then
	echo "clang-format 14 is not installed (found: ${cf:-none} ${version:-})"
	exit 77
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	files=$(git ls-files '*.c' '*.h')
	templates=$(git ls-files '*.h.in')
else
	# Outside git (a release tarball): every source but the build dirs',
	# build* and Debian's obj-*.
	files=$(find . \( -path ./build\* -o -path ./obj-\* \) -prune -o \
		\( -name '*.c' -o -name '*.h' \) -print)
	templates=$(find . \( -path ./build\* -o -path ./obj-\* \) -prune -o -name '*.h.in' -print)
fi
status=0
# shellcheck disable=SC2086
"$cf" --dry-run --Werror $files || status=1
for t in $templates; do
	"$cf" --dry-run --Werror --assume-filename="${t%.in}" <"$t" || status=1
done
if [ $status -ne 0 ]; then
	echo "error: these files are not formatted; run clang-format -i on them" >&2
	exit 1
fi
echo "$(echo $files $templates | wc -w) files formatted"
