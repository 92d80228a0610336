#!/bin/sh
# run.sh: run the libFuzzer targets of mcp-proxyd for a bounded time each.
#
# usage: tests/fuzz/run.sh [SECONDS] [BUILDDIR]
#        tests/fuzz/run.sh BUILDDIR [SECONDS]
#
# Builds nothing. BUILDDIR (or $FUZZ_BUILDDIR, or the current directory)
# is a build tree configured with `CC=clang ../configure --enable-fuzzing`
# in which `make` has built tests/fuzz/fuzz_*. Each target runs for SECONDS
# (default 60) on a copy of its seed corpus (tests/fuzz/corpus/<target>,
# next to this script) in a temporary directory. SECONDS 0 only replays the
# seeds. $FUZZ_TARGETS picks targets (default: all eight). A dictionary
# tests/fuzz/dict/<target>.dict is used when present.
#
# Exits 0 when no target found anything; otherwise 1, after printing for
# each failing target the reproducer, kept in $FUZZ_ARTIFACTS (default
# BUILDDIR/tests/fuzz/artifacts), and the first lines of its report.
# Reproduce with: BUILDDIR/tests/fuzz/<target> <reproducer>

set -u

usage() {
	echo "usage: $0 [SECONDS] [BUILDDIR] | BUILDDIR [SECONDS]" >&2
	exit 2
}

secs=60
builddir=${FUZZ_BUILDDIR:-.}
case $# in
0)	;;
1|2)	if [ -d "$1" ]; then
		builddir=$1
		[ $# -eq 2 ] && secs=$2
	else
		secs=$1
		[ $# -eq 2 ] && builddir=$2
	fi ;;
*)	usage ;;
esac
case $secs in
''|*[!0-9]*)	echo "$0: SECONDS must be a whole number, not '$secs'" >&2
		usage ;;
esac

here=$(cd "$(dirname "$0")" && pwd) || exit 2
builddir=$(cd "$builddir" 2>/dev/null && pwd) || {
	echo "$0: no build directory '$builddir'" >&2
	exit 2
}
targets=${FUZZ_TARGETS:-"fuzz_schema fuzz_query fuzz_rpc fuzz_toolname fuzz_auth fuzz_config fuzz_cache fuzz_http"}
artifacts=${FUZZ_ARTIFACTS:-$builddir/tests/fuzz/artifacts}

for t in $targets; do
	if [ ! -x "$builddir/tests/fuzz/$t" ]; then
		echo "$0: $builddir/tests/fuzz/$t is missing: configure with" \
		    "CC=clang --enable-fuzzing and run make" >&2
		exit 2
	fi
	if [ ! -d "$here/corpus/$t" ]; then
		echo "$0: no seed corpus $here/corpus/$t" >&2
		exit 2
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcp-proxyd-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$artifacts" || exit 2

failed=0
for t in $targets; do
	bin=$builddir/tests/fuzz/$t
	log=$tmp/$t.log
	mkdir -p "$tmp/$t/corpus" "$tmp/$t/artifacts"
	dict=
	[ -f "$here/dict/$t.dict" ] && dict=-dict=$here/dict/$t.dict
	cp "$here/corpus/$t"/* "$tmp/$t/corpus/"
	if [ "$secs" -eq 0 ]; then
		echo "$t: replaying $(ls "$tmp/$t/corpus" | wc -l) seeds"
		set -- "$tmp/$t/corpus"/*
		# libFuzzer stops at the first input that fails
		timeout 600 "$bin" -rss_limit_mb=2048 -timeout=10 \
		    -artifact_prefix="$tmp/$t/artifacts/" "$@" >"$log" 2>&1
	else
		echo "$t: fuzzing for $secs s"
		# A hard stop well past -max_total_time, in case a run wedges.
		timeout $((secs + 120)) "$bin" -max_total_time="$secs" \
		    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		    -close_fd_mask=2 \
		    -artifact_prefix="$tmp/$t/artifacts/" ${dict:+"$dict"} \
		    "$tmp/$t/corpus" >"$log" 2>&1
	fi
	rc=$?
	# slow-unit-* files are notes, not failures
	found=$(ls "$tmp/$t/artifacts" | grep -v '^slow-unit-' | head -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$found" ]; then
		grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' \
		    "$log" | sed "s/^/$t: /"
		continue
	fi
	failed=1
	echo "$t: FAILED (exit status $rc)"
	if [ -n "$found" ]; then
		cp "$tmp/$t/artifacts/$found" "$artifacts/$t-$found"
		echo "$t: reproducer: $artifacts/$t-$found"
		echo "$t: run it with: $bin $artifacts/$t-$found"
	elif [ "$rc" -eq 124 ]; then
		echo "$t: killed after $((secs + 120)) s without a report"
	else
		echo "$t: no reproducer written"
	fi
	cp "$log" "$artifacts/$t.log"
	echo "$t: full log: $artifacts/$t.log; the report begins:"
	start=$(grep -n -m 1 -E '^==[0-9]+==|runtime error|^fuzz_[a-z]+: |ALARM|deadly signal|out-of-memory' \
	    "$log" | cut -d: -f1)
	sed -n "${start:-1},$(( ${start:-1} + 39 ))p" "$log" | sed 's/^/    /'
done
exit $failed
