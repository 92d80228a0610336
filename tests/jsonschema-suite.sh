#!/bin/sh
# jsonschema-suite.sh: runs tests/jsonschema-suite over the official JSON
# Schema Test Suite (draft7 and draft2020-12, not optional/) and prints TAP,
# one test per draft with the runner's summary as a diagnostic. The suite is
# read from $JSON_SCHEMA_SUITE_DIR, else from
# $TOP_SRCDIR/../shared/testdata/json-schema-test-suite/tests; when it is not
# there the test fails under CI (CI=true) and is skipped elsewhere. The
# features skipped on purpose are listed by name (see jsonschema-suite.c).

suite="${JSON_SCHEMA_SUITE_DIR:-${TOP_SRCDIR:-.}/../shared/testdata/json-schema-test-suite/tests}"
runner="${TOP_BUILDDIR:-.}/tests/jsonschema-suite"

if [ ! -d "$suite/draft7" ] || [ ! -d "$suite/draft2020-12" ]; then
	case "${CI:-}" in
	true|1|yes)
		echo "1..1"
		echo "not ok 1 - the JSON Schema Test Suite is missing at $suite" \
		    "(under CI=true nothing may be missing; set" \
		    "JSON_SCHEMA_SUITE_DIR)"
		exit 0 ;;
	esac
	echo "1..0 # SKIP the JSON Schema Test Suite is not at $suite" \
	    "(set JSON_SCHEMA_SUITE_DIR)"
	exit 0
fi
if [ ! -x "$runner" ]; then
	echo "Bail out! $runner not built"
	exit 1
fi

echo "1..2"
n=0
for draft in draft7 draft2020-12; do
	n=$((n + 1))
	out=$("$runner" "$suite/$draft" 2>&1)
	rc=$?
	summary=$(printf '%s\n' "$out" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		echo "ok $n - JSON Schema Test Suite $draft"
	else
		echo "not ok $n - JSON Schema Test Suite $draft"
		printf '%s\n' "$out" | grep '^# FAIL' | head -n 50
	fi
	echo "# $draft: $summary; skipped on purpose:" $(printf '%s\n' "$out" |
	    sed -n 's/.*unsupported: \([^(]*[^ (]\).*/\1/p' | sort -u |
	    tr '\n' ',' | sed 's/,$//; s/,/, /g')
done
exit 0
