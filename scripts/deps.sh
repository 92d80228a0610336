#!/bin/sh
# deps.sh: install what mcp-proxyd needs on Debian 12, only what is missing.
#   scripts/deps.sh build   build dependencies
#   scripts/deps.sh test    build + test dependencies, and the npm reference
#                           MCP servers into $MCP_PROXYD_NPM_DIR
set -eu

what=${1:-build}
build_pkgs="build-essential autoconf automake pkg-config libevent-dev
	libjson-c-dev libpcre2-dev python3"
test_pkgs="check curl valgrind clang libclang-rt-14-dev wrk groff-base strace
	prometheus python3-mypy systemd systemd-container debootstrap"

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi

missing=""
pkgs=$build_pkgs
if [ "$what" = test ]; then
	pkgs="$build_pkgs $test_pkgs"
fi
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ "$what" = test ] && ! command -v npm >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi
if [ -n "$missing" ]; then
	echo "deps.sh: installing:$missing"
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
	    --no-install-recommends $missing
fi

if [ "$what" = test ]; then
	# The reference MCP servers the integration tests run, and Deno and
	# TypeScript for the sandbox clients' tests (pinned; deno brings its
	# binary through a platform package: node_modules/.bin/deno).
	npm_dir=${MCP_PROXYD_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-proxyd/npm}
	want="@modelcontextprotocol/server-everything@2026.8.31
	      @modelcontextprotocol/server-filesystem@2026.8.31
	      @modelcontextprotocol/server-memory@2026.8.31
	      deno@2.9.6 typescript@7.0.2"
	stamp="$npm_dir/.installed"
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(echo $want)" ]; then
		mkdir -p "$npm_dir"
		echo "deps.sh: installing the npm reference servers into $npm_dir"
		# shellcheck disable=SC2086
		if npm install --no-audit --no-fund --loglevel=error \
		    --prefix "$npm_dir" $want; then
			echo $want > "$stamp"
		else
			echo "deps.sh: npm install failed: tests that need the" \
			    "reference servers, deno or tsc will be skipped" \
			    "(and fail under CI=true)" >&2
		fi
	fi
fi
if [ "$what" = test ] && [ "$(id -u)" -eq 0 ]; then
	# The Debian root that test_systemd.py boots with systemd-nspawn.
	sh "$(dirname "$0")/nspawn-root.sh" >/dev/null
fi
