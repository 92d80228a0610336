#!/bin/sh
# nspawn-root.sh: the Debian 12 root that tests/integration/test_systemd.py
# boots with systemd-nspawn, made once with debootstrap (a few minutes,
# from the Debian archive) and kept in the user's cache directory.
# Prints its path. scripts/deps.sh test runs it, so the test suite does
# not download while timing tests run.
#   $MCP_PROXYD_NSPAWN_DIR     where roots are kept
#                              (default ~/.cache/mcp-proxyd/nspawn)
#   $MCP_PROXYD_DEBIAN_MIRROR  (default http://deb.debian.org/debian)
set -eu

packages="systemd,systemd-sysv,dbus,libevent-2.1-7,libevent-pthreads-2.1-7,libjson-c5,libpcre2-8-0,python3,procps"
mirror=${MCP_PROXYD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${MCP_PROXYD_NSPAWN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-proxyd/nspawn}
key=$(printf '%s' "$packages$mirror" | sha256sum | cut -c1-12)
root=$cache/bookworm-$key

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ ! -x "$root/usr/bin/python3" ]; then
	rm -rf "$root.tmp"
	echo "nspawn-root.sh: debootstrap into $root" >&2
	if ! debootstrap --variant=minbase --include="$packages" bookworm \
	    "$root.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1; then
		echo "nspawn-root.sh: debootstrap failed; see" \
		    "$cache/debootstrap.log" >&2
		tail -n 20 "$cache/debootstrap.log" >&2
		exit 1
	fi
	chroot "$root.tmp" apt-get clean
	mv "$root.tmp" "$root"
fi
echo "$root"
