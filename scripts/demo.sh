#!/bin/sh
# demo.sh: install the build dependencies, build, and run mcp-proxyd in the
# foreground on the bundled demo configuration (our C demo MCP server).
# Stop it with Ctrl-C (a graceful drain).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/deps.sh" build
cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ] || \
    [ Makefile.am -nt Makefile.in ]; then
	autoreconf -fi
fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure
make -j"$(nproc)"

echo "Starting mcp-proxyd on contrib/demo.json (Ctrl-C to stop)..."
./src/mcp-proxyd -c "$top/contrib/demo.json" | while IFS= read -r line; do
	port=$(printf '%s\n' "$line" | sed -n 's/.*"port":\([0-9]*\).*/\1/p')
	token=$(printf '%s\n' "$line" | sed -n 's/.*"authToken":"\([0-9a-f]*\)".*/\1/p')
	echo "ready: $line"
	echo
	echo "Call a tool:"
	echo "  curl -s -H 'Authorization: Bearer $token' -d '{\"toolName\":\"mcp__demo__echo\",\"params\":{\"message\":\"hello\"}}' http://127.0.0.1:$port/"
	echo "Find tools:"
	echo "  curl -s -H 'Authorization: Bearer $token' 'http://127.0.0.1:$port/mcp/tools?q=echo'"
	echo "Health:"
	echo "  curl -s -H 'Authorization: Bearer $token' http://127.0.0.1:$port/health"
done
