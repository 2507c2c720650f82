#!/usr/bin/env bash
# check_nodered.sh IOTAD SRC - examples/node-red/iotad-flow.json in a real
# Node-RED (from npm, cached in $IOTAD_NODERED_DIR, default
# ~/.cache/iotad-node-red) against a real iotad and mosquitto on loopback:
# a device raised before Node-RED starts reaches it as a retained state
# (a late subscriber catches up), a device raised after arrives as a live
# alert, and every line the flow writes is an iotad event as JSON.
# Skipped (77) without node, npm or mosquitto, or when npm cannot install
# Node-RED, unless IOTAD_REQUIRE_NODERED=1.
set -u
IOTAD=$1
SRC=$2
NR_DIR=${IOTAD_NODERED_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/iotad-node-red}
skip() {
	echo "check_nodered: $*"
	[ "${IOTAD_REQUIRE_NODERED:-0}" = 1 ] && exit 1
	exit 77
}
for tool in node npm mosquitto mosquitto_pub python3; do
	command -v "$tool" >/dev/null || skip "no $tool"
done
if [ ! -x "$NR_DIR/node_modules/.bin/node-red" ]; then
	mkdir -p "$NR_DIR" || skip "cannot create $NR_DIR"
	echo "check_nodered: installing node-red into $NR_DIR"
	npm install --prefix "$NR_DIR" --no-audit --no-fund --loglevel=error node-red@4 \
		>"$NR_DIR/npm.log" 2>&1 || skip "npm install node-red failed (see $NR_DIR/npm.log)"
fi

tmp=$(mktemp -d /tmp/iotad-nodered.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "check_nodered: FAIL: $*"
	for f in "$tmp"/*.log; do echo "--- $f"; tail -20 "$f"; done
	exit 1
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() { # seconds command...
	local n=$(($1 * 5))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

mport=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$mport" >"$tmp/mosquitto.conf"
mosquitto -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
pids+=($!)
wait_for 10 bash -c "echo >/dev/tcp/127.0.0.1/$mport" 2>/dev/null || fail "mosquitto did not start"

cat >"$tmp/iotad.yaml" <<YAML
mqtt:
  uri: tcp://127.0.0.1:$mport
  client_id: iotad-nodered
topics:
  telemetry: telemetry/+
model:
  path: $SRC/tests/fixtures/model_small.json
detector:
  threshold: static
YAML
"$IOTAD" run -c "$tmp/iotad.yaml" >"$tmp/iotad.log" 2>&1 &
pids+=($!)
wait_for 10 grep -qs "connected to" "$tmp/iotad.log" || fail "iotad did not connect"

# a device far out of the model's normal: raised after a few windows
raise() { # device first-ts
	for ((i = 0; i < 12; i++)); do
		mosquitto_pub -p "$mport" -h 127.0.0.1 -q 1 -t "telemetry/$1" \
			-m "{\"ts\":$(($2 + i)),\"temperature\":200,\"humidity\":-50,\"battery\":0}"
	done
}
raise d1 1700000000
wait_for 20 grep -qs "alert d1 raised" "$tmp/iotad.log" || fail "d1 did not raise"

# Node-RED starts late: d1's raise is only on the retained state/d1 now
nport=$(free_port)
mkdir -p "$tmp/nr"
cat >"$tmp/nr/settings.js" <<JS
module.exports = {
    uiHost: "127.0.0.1",
    uiPort: $nport,
    flowFile: "$SRC/examples/node-red/iotad-flow.json",
    credentialSecret: false,
    logging: {console: {level: "info", metrics: false, audit: false}},
};
JS
IOTAD_MQTT_HOST=127.0.0.1 IOTAD_MQTT_PORT=$mport IOTAD_EVENTS_FILE="$tmp/events.jsonl" \
	"$NR_DIR/node_modules/.bin/node-red" -u "$tmp/nr" -s "$tmp/nr/settings.js" \
	>"$tmp/node-red.log" 2>&1 &
pids+=($!)
has() { [ -f "$tmp/events.jsonl" ] && grep -q "$1" "$tmp/events.jsonl"; }
wait_for 60 has '"device":"d1"' || fail "the retained state of d1 did not reach Node-RED"

raise d2 1700000100
wait_for 30 has '"kind":"alert","retained":false,"device":"d2","state":"raised"' ||
	fail "the live alert of d2 did not reach Node-RED"

python3 - "$tmp/events.jsonl" <<'PY' || fail "events not as expected"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert lines, "no events"
for e in lines:
    assert set(e) >= {"kind", "retained", "device", "state", "model"}, e
    assert e["model"] == "temperature-ae", e
d1 = [e for e in lines if e["device"] == "d1"]
assert any(e["kind"] == "state" and e["retained"] and e["state"] == "raised" for e in d1), d1
assert not any(e["kind"] == "alert" for e in d1), "d1's alert was before Node-RED subscribed"
d2 = [e for e in lines if e["device"] == "d2"]
assert any(e["kind"] == "alert" and e["state"] == "raised" and isinstance(e["score"], float)
           for e in d2), d2
print("check_nodered: %d events parsed: d1 caught up from its retained state, d2 live" % len(lines))
PY
