#!/bin/bash
# svc_run.sh IOTAD PORT QOS [QUEUE_SIZE] - run `iotad run` against the broker
# on 127.0.0.1:PORT, subscribed to telemetry/+ at QOS, with the model in
# $MODEL (default build-bench/bench/model.json), as a subject for the perf
# tools' run_ratio.sh: --service 'bench/svc_run.sh IOTAD {PORT} {QOS}'.
set -eu
IOTAD=$1 PORT=$2 QOS=$3 QS=${4:-}
MODEL=${MODEL:-build-bench/bench/model.json}
DIR=$(mktemp -d /tmp/iotad-svc.XXXXXX)
{
    printf 'mqtt:\n  uri: tcp://127.0.0.1:%s\n  client_id: iotad-perf\n' "$PORT"
    printf 'topics:\n  telemetry: telemetry/+\n  device_level: 1\n  qos_in: %s\n' "$QOS"
    printf 'model:\n  path: %s\n' "$(realpath "$MODEL")"
    printf 'detector:\n  max_devices: 200\n'
    printf 'service:\n  log_level: warn\n'
    if [ -n "$QS" ]; then printf '  queue_size: %s\n' "$QS"; fi
} >"$DIR/iotad.yaml"
# iotad reads its configuration at start: the folder goes a little later
(sleep 10; rm -rf "$DIR") </dev/null >/dev/null 2>&1 &
exec "$IOTAD" run -c "$DIR/iotad.yaml"
