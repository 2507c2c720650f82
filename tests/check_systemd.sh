#!/usr/bin/env bash
# config/iotad.service passes `systemd-analyze verify` (with the built binary
# in place of /usr/local/bin/iotad) without a single message, and its
# offline security exposure stays at or below 2.0 ("OK"). It keeps a state
# directory (the state file's default place).
# usage: check_systemd.sh IOTAD UNITFILE
set -euo pipefail
exe=$1 unit=$2
if ! command -v systemd-analyze > /dev/null; then
	echo "systemd-analyze is not installed: the unit is not checked" >&2
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#/usr/local/bin/iotad#$exe#" "$unit" > "$tmp/iotad.service"
grep -q "^ExecStart=$exe run -c " "$tmp/iotad.service"
systemd-analyze verify --man=no "$tmp/iotad.service" > "$tmp/out" 2>&1 || { cat "$tmp/out"; exit 1; }
if [ -s "$tmp/out" ]; then
	cat "$tmp/out" >&2
	exit 1
fi
for key in DynamicUser=yes StateDirectory=iotad ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes \
	PrivateTmp=yes "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"; do
	grep -qx "$key" "$unit" || { echo "missing $key" >&2; exit 1; }
done
systemd-analyze security --offline=true --threshold=20 "$tmp/iotad.service" > "$tmp/sec" 2>&1 ||
	{ tail -5 "$tmp/sec"; echo "exposure above 2.0" >&2; exit 1; }
grep "Overall exposure" "$tmp/sec"
