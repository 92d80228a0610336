#!/bin/sh
# test.sh: install what the tests need, build, and run the whole suite.
#   scripts/test.sh            build in build/ with warnings as errors
#   scripts/test.sh --asan     the same with ASan+UBSan, in build-asan/
#   scripts/test.sh --tsan     the same with TSan, in build-tsan/
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-}
case "$flavour" in
"")	dir=build; flags="" ;;
--asan)	dir=build-asan; flags="--enable-asan" ;;
--tsan)	dir=build-tsan; flags="--enable-tsan" ;;
*)	echo "usage: scripts/test.sh [--asan|--tsan]" >&2; exit 2 ;;
esac

sh "$top/scripts/deps.sh" test
export MCP_PROXYD_NPM_DIR="${MCP_PROXYD_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-proxyd/npm}"

cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ] || \
    [ Makefile.am -nt Makefile.in ]; then
	autoreconf -fi
fi
mkdir -p "$dir"
cd "$dir"
# A build directory configured otherwise (by hand, or by an older test.sh)
# is cleaned and configured again: build-asan/ must never run as a plain
# build.
want=$(echo --enable-werror $flags)
if [ -f Makefile ] && [ -x config.status ]; then
	have=$(echo $(./config.status --config | tr -d "'"))
	if [ "$have" != "$want" ]; then
		echo "test.sh: $dir/ was configured with '$have', not '$want':" \
		    "configuring it again"
		make distclean >/dev/null 2>&1 || rm -f Makefile
	fi
fi
# shellcheck disable=SC2086
[ -f Makefile ] || ../configure $want
make -j"$(nproc)"
if ! make -j"$(nproc)" check; then
	for f in $(find tests -name '*.log' ! -name test-suite.log); do
		if grep -q '^not ok\|^ERROR\|^FAIL' "${f%.log}.trs" 2>/dev/null; then
			echo "=== $f"
			tail -n 80 "$f"
		fi
	done
	exit 1
fi

# One closing line with the counts of every TAP point and test program.
awk -F': *' '/^# PASS:/ {p=$2} /^# FAIL:/ {f+=$2} /^# XPASS:/ {f+=$2}
	/^# ERROR:/ {f+=$2} /^# SKIP:/ {s=$2}
	END {printf "%d passed, %d failed, %d skipped\n", p, f, s}' test-suite.log
