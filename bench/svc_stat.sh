#!/bin/bash
# svc_stat.sh QOS COUNT IOTAD [QUEUE_SIZE] - system calls, context switches,
# CPU time and peak resident memory of `iotad run` (bench/svc_run.sh) while
# the perf tools' mqttload sends COUNT messages of 100 devices flat out at
# QOS through a private mosquitto. PERF_TOOLS: the perf tools' directory
# (built with make); needs perf and permission to trace.
set -u
QOS=$1 COUNT=$2 IOTAD=$3 QS=${4:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${PERF_TOOLS:?set PERF_TOOLS to the perf tools directory}"
. "$PERF_TOOLS/lib.sh"
DIR=$(mktemp -d /tmp/iotad-stat.XXXXXX)
perf_broker_start "$DIR" >/dev/null || exit 1
"$HERE/svc_run.sh" "$IOTAD" "$BROKER_PORT" "$QOS" $QS >"$DIR/iotad.log" 2>&1 &
SVC=$!
sleep 1.5
perf stat -e 'syscalls:sys_enter_futex,context-switches,task-clock' -p "$SVC" -o "$DIR/stat.txt" &
PR=$!
sleep 0.3
"$PERF_TOOLS/mqttload" -p "$BROKER_PORT" -n 100 -c "$COUNT" -q "$QOS" >"$DIR/load.txt" 2>&1
sleep 1.5
kill -INT $PR; wait $PR
grep -E "VmHWM" "/proc/$SVC/status" | tr -s ' \t' ' '
kill -TERM "$SVC"; wait "$SVC"
kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
grep -o "msg_per_s=[0-9]*" "$DIR/load.txt"
grep -E "futex|context|task-clock" "$DIR/stat.txt" |
    awk -v n="$COUNT" '{gsub(",", "", $1)
        if ($2 == "msec") printf "CPU time %.1f ms, %.2f us a message\n", $1, $1 * 1000 / n
        else printf "%-32s %12s  %.3f a message\n", $2, $1, $1 / n }'
rm -rf "$DIR"
