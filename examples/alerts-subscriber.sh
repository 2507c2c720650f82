#!/usr/bin/env bash
# Print iotad's alerts the way a dashboard would: one line per transition.
#   examples/alerts-subscriber.sh [HOST] [PORT]
set -euo pipefail
host=${1:-127.0.0.1}
port=${2:-1883}
mosquitto_sub -h "$host" -p "$port" -q 1 -t 'alerts/#' |
while IFS= read -r event; do
	device=$(sed -n 's/.*"device":"\([^"]*\)".*/\1/p' <<<"$event")
	state=$(sed -n 's/.*"state":"\([^"]*\)".*/\1/p' <<<"$event")
	time=$(sed -n 's/.*"time":"\([^"]*\)".*/\1/p' <<<"$event")
	top=$(sed -n 's/.*"top":\[\([^]]*\)\].*/\1/p' <<<"$event")
	printf '%s  %-12s %-8s look at: %s\n' "$time" "$device" "$state" "$top"
done
