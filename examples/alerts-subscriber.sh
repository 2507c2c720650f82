#!/usr/bin/env bash
# Print iotad's alerts the way a dashboard would: one line per transition.
#   examples/alerts-subscriber.sh [HOST] [PORT] [TOPIC_FILTER]
set -euo pipefail
host=${1:-127.0.0.1}
port=${2:-1883}
filter=${3:-alerts/#}
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",]*\).*/\1/p" <<<"$2"; }
coproc SUB { exec mosquitto_sub -h "$host" -p "$port" -q 1 -t "$filter"; }
trap 'kill "$SUB_PID" 2>/dev/null' EXIT
trap 'exit 0' TERM INT
# what a lifecycle or operator event means (none for raised, cleared, stale)
note() {
	case $1 in
	learning) echo "learning its normal: no alarms yet" ;;
	learned) echo "learned its normal: judged from now on" ;;
	adapted) echo "a lasting change is now its normal" ;;
	muted) echo "muted (maintenance) until $2" ;;
	unmuted) echo "mute over: alarms back on" ;;
	rebaselined) echo "re-baselined by an operator: learning its normal" ;;
	false_alarm) echo "alarm marked false: cleared, the window learned as normal" ;;
	esac
}
while IFS= read -r event <&"${SUB[0]}"; do
	state=$(field state "$event")
	what=$(note "$state" "$(field until_time "$event")")
	if [ -n "$what" ]; then
		printf '%s  %-12s %-8s %s\n' "$(field time "$event")" "$(field device "$event")" \
			"$state" "$what"
		continue
	fi
	# a stuck sensor is what to look at; else the largest shares of the error
	top=$(sed -n 's/.*"stuck":\[\([^]]*\)\].*/\1 (stuck)/p' <<<"$event" | tr -d '"')
	[ -n "$top" ] || top=$(sed -n 's/.*"top":\[\([^]]*\)\].*/\1/p' <<<"$event" | tr -d '"')
	# what judged it: the profile's channels (level, drift, ...) or shape
	by=$(sed -n 's/.*"channels":\[\([^]]*\)\].*/ by \1/p' <<<"$event" | tr -d '"')
	printf '%s  %-12s %-8s score %-10s threshold %-10s look at: %s%s\n' \
		"$(field time "$event")" "$(field device "$event")" "$(field state "$event")" \
		"$(field score "$event")" "$(field threshold "$event")" "${top//,/, }" "$by"
done
