#!/usr/bin/env bash
# Memory of a federated gateway over many rounds (docs/federated.md): a
# mosquitto on a free loopback port, `iotad aggregate` closing a round on
# every update (K = N = 1), one `iotad run` gateway (64 devices, 1 local
# epoch a round) fed by `iotad sim` in four passes of 600 s of telemetry
# at full speed; prints the gateway's resident memory (VmRSS) at start and
# after every pass with the round reached. FED=false runs the same gateway
# without the federated section: the difference is what federated adds.
# usage: [BUILD=build] [FED=true|false] scripts/fed-memory.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
iotad=$here/${BUILD:-build}/src/iotad
fed=${FED:-true}
dir=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
"$iotad" sim --csv normal.csv --normal-only --devices 64 --duration 900 --interval 1 --seed 11 --quiet
"$iotad" train --csv normal.csv --features temperature,humidity,battery --group device \
	--window 10 --epochs 5 --seed 5 --id mem-model -o model.json --quiet
cp model.json gw-model.json
port=$(free_port)
hport=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > mosq.conf
mosquitto -c mosq.conf > mosq.log 2>&1 & pids+=($!)
sleep 1
cat > agg.yaml <<Y
mqtt:
  uri: tcp://127.0.0.1:$port
  client_id: aggregator
model:
  path: $dir/model.json
federated:
  clients: 1
  min_updates: 1
  round_timeout: 30
  state_file: $dir/fl.bin
Y
cat > gw.yaml <<Y
http:
  listen: 127.0.0.1:$hport
mqtt:
  uri: tcp://127.0.0.1:$port
  client_id: gw-mem
model:
  path: $dir/gw-model.json
federated:
  enabled: $fed
  local_epochs: 1
  max_score_ratio: 1000
Y
"$iotad" aggregate -c agg.yaml > agg.log 2>&1 & pids+=($!)
"$iotad" run -c gw.yaml > gw.log 2>&1 & gw=$!
pids+=("$gw")
sleep 2
rss() { awk '/VmRSS/{print $2}' "/proc/$gw/status"; }
round() {
	python3 -c 'import sys,urllib.request;print(urllib.request.urlopen(sys.argv[1]).read().decode())' \
		"http://127.0.0.1:$hport/metrics" | awk '/^iotad_fl_round /{print $2}'
}
echo "federated $fed: start: rss $(rss) kB"
for pass in 1 2 3 4; do
	"$iotad" sim --broker "tcp://127.0.0.1:$port" --speed 0 --quiet --normal-only --devices 64 \
		--duration 600 --interval 1 --seed $((3 + pass)) > sim.log 2>&1
	sleep 3
	echo "pass $pass: round $(round) rss $(rss) kB"
done
