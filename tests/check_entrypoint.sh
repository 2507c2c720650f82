#!/usr/bin/env bash
# docker/entrypoint.sh without Docker: `run` with no model file says how to
# train one and exits 2 (before starting iotad), and IOTAD_STATE_FILE and
# IOTAD_MODEL land in the configuration it writes.
# usage: check_entrypoint.sh ENTRYPOINT CONFIG
set -euo pipefail
entry=$1 conf=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
TMPDIR=$tmp IOTAD_CONFIG=$conf IOTAD_MODEL=$tmp/none/model.json \
	IOTAD_STATE_FILE=/var/lib/iotad/state.bin sh "$entry" run > "$tmp/out" 2>&1 || rc=$?
cat "$tmp/out"
[ "$rc" = 2 ] || { echo "exit status $rc, expected 2" >&2; exit 1; }
grep -q "no model at $tmp/none/model.json" "$tmp/out"
grep -q "iotad train\|IMAGE train" "$tmp/out"
grep -qx "  state_file: '/var/lib/iotad/state.bin'" "$tmp/iotad.yaml"
grep -qx "  path: '$tmp/none/model.json'" "$tmp/iotad.yaml"
