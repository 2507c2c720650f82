#!/usr/bin/env bash
# docker/entrypoint.sh without Docker: `run` with no model file says how to
# train one and exits 2 (before starting iotad), and IOTAD_STATE_FILE and
# IOTAD_MODEL land in the configuration it writes; docker/docker-compose.yml
# builds the iotad image once (one service builds, the others reuse it).
# usage: check_entrypoint.sh ENTRYPOINT CONFIG COMPOSE
set -euo pipefail
entry=$1 conf=$2 compose=$3
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
python3 - "$compose" <<'EOF'
import sys, yaml
services = yaml.safe_load(open(sys.argv[1]))["services"]
iotad = [n for n, s in services.items() if s.get("image", "").startswith("${IOTAD_IMAGE")]
builds = [n for n in iotad if "build" in services[n]]
assert len(iotad) >= 3 and builds == ["train"], (iotad, builds)
print("compose: %s use the image, only %s builds it" % (", ".join(iotad), builds[0]))
EOF
