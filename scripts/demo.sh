#!/usr/bin/env bash
# The iotad demo: a broker (a private mosquitto on a free loopback port, or
# $IOTAD_BROKER), the temperature simulator, and iotad; alerts are printed
# as they arrive.
#
#   scripts/demo.sh [--seconds N]   run for N seconds of real time (default 90; 0 = until Ctrl-C)
#   IOTAD_BROKER=tcp://host:1883 scripts/demo.sh   use an existing broker
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=90
while (($#)); do
	case "$1" in
	--seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
	-h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo: unknown option $1" >&2; exit 2 ;;
	esac
done
[[ $seconds =~ ^[0-9]+$ ]] || { echo "demo: --seconds wants a whole number" >&2; exit 2; }

scripts/deps.sh
scripts/build.sh >/dev/null
iotad=$root/${IOTAD_BUILD:-build}/src/iotad
run=$root/demo-run
mkdir -p "$run"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. A model trained on simulated normal telemetry of 12 devices.
model=$run/demo-model.json
if [ ! -f "$model" ]; then
	echo "== training the demo model on 15 min of normal telemetry from 256 simulated devices"
	"$iotad" sim --csv "$run/normal.csv" --normal-only --devices 256 --duration 900 \
		--interval 1 --seed 1 --quiet
	"$iotad" train --csv "$run/normal.csv" --features temperature,humidity,battery \
		--group device --window 10 --epochs 10 --seed 1 --id demo-temperature -o "$model"
fi

# 2. The broker.
if [ -n "${IOTAD_BROKER:-}" ]; then
	uri=$IOTAD_BROKER
else
	port=18830
	while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
	cat > "$run/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
max_queued_messages 100000
set_tcp_nodelay true
persistence false
CONF
	mosquitto -c "$run/mosquitto.conf" > "$run/mosquitto.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
	uri=tcp://127.0.0.1:$port
	echo "== mosquitto listening on $uri"
fi
host=${uri#*://}; port=${host##*:}; host=${host%:*}

# 3. iotad itself.
sed -e "s|^  uri: .*|  uri: $uri|" -e "s|^  path: .*|  path: $model|" \
	-e "s|^  client_id: .*|  client_id: iotad-demo-$$|" config/iotad.yaml > "$run/iotad.yaml"
"$iotad" run -c "$run/iotad.yaml" > "$run/iotad.log" 2>&1 &
iotad_pid=$!
pids+=($iotad_pid)
echo "== iotad running (log: demo-run/iotad.log); alerts follow as they arrive"

# 4. Print alerts as a dashboard would.
examples/alerts-subscriber.sh "$host" "$port" &
pids+=($!)
sleep 1

# 5. Six devices, one of them never faulty; 1 hour of device time per minute.
sim_args=(--broker "$uri" --devices 6 --clean 1 --interval 1 --speed 60 --seed 2
	--warmup 120 --anomaly-every 600 --anomaly-len 60 --truth "$run/truth.csv" --quiet)
if ((seconds > 0)); then
	sim_args+=(--duration $((seconds * 60)))
else
	sim_args+=(--duration 0)
fi
echo "== simulator: 6 devices (sensor-005 stays healthy), ground truth in demo-run/truth.csv"
"$iotad" sim "${sim_args[@]}" &
sim=$!
pids+=($sim)
wait "$sim" || true
sleep 2
echo "== done: $(($(grep -c . "$run/truth.csv" 2>/dev/null || echo 1) - 1)) anomalies injected; iotad's counters:"
kill "$iotad_pid" 2>/dev/null || true
wait "$iotad_pid" 2>/dev/null || true
grep 'stats (final)' "$run/iotad.log" | sed 's/^.*stats (final): /   /' || true
