#!/usr/bin/env bash
# The federated Compose demo for real (docker/docker-compose.fed.yml):
# starts dockerd when it is not running, builds the images (cached after
# test_compose.sh), brings the stack up on a free loopback port with a few
# rounds, and checks that
#   - the aggregator closes every round with the updates of all three
#     gateways and stops after them (exit 0),
#   - each gateway accepted a global model of the aggregator and sent updates,
#   - the aggregator published a threshold for every gateway, which the
#     gateways in global mode took, and gw-1 calibrated its own.
# Then tears the stack down (volumes included). With FED_LOG=FILE the
# aggregator's and gw-1's logs are kept there.
# Exit 0 pass, 1 fail, 77 skip (no docker on this machine).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
compose_file=$src/docker/docker-compose.fed.yml
rounds=${FED_ROUNDS:-5}
log() { echo "docker-fed-test: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

for tool in docker debootstrap; do
	command -v "$tool" >/dev/null || { log "skip: $tool is not installed (scripts/deps.sh --docker)"; exit 77; }
done
if command -v docker-compose >/dev/null; then
	compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
else
	log "skip: neither docker-compose nor docker compose is installed"
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/iotad-docker-fed.XXXXXX")
project=iotadfed$$
dockerd_pid=
stack_up=0
status=1
services="mosquitto train aggregator gw-1 gw-2 gw-3 fleet-1 fleet-2 fleet-3"
cleanup() {
	set +e
	if ((stack_up)); then
		if ((status != 0)); then
			log "compose logs (last 30 lines of each service):"
			for s in $services; do
				"${compose[@]}" -p "$project" -f "$compose_file" logs --no-color --tail 30 "$s" >&2
			done
		fi
		"${compose[@]}" -p "$project" -f "$compose_file" down -v --remove-orphans \
			>"$work/down.log" 2>&1 || cat "$work/down.log" >&2
	fi
	if [ -n "$dockerd_pid" ]; then
		kill "$dockerd_pid" 2>/dev/null
		wait "$dockerd_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap 'status=$?; cleanup' EXIT
trap 'exit 130' INT TERM
t0=$SECONDS
step() { log "[$((SECONDS - t0))s] $*"; }

if ! docker info >/dev/null 2>&1; then
	step "starting dockerd (log: $work/dockerd.log)"
	dockerd >"$work/dockerd.log" 2>&1 &
	dockerd_pid=$!
	for _ in $(seq 120); do
		docker info >/dev/null 2>&1 && break
		kill -0 "$dockerd_pid" 2>/dev/null || { tail -n 20 "$work/dockerd.log" >&2; fail "dockerd exited"; }
		sleep 0.5
	done
	docker info >/dev/null 2>&1 || fail "dockerd did not come up in 60 s"
fi
step "base image debian:12"
"$src/docker/base-image.sh" debian:12 || fail "cannot build the debian:12 base image"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
export IOTAD_MQTT_PORT IOTAD_FL_ROUNDS=$rounds
for _ in $(seq 200); do
	IOTAD_MQTT_PORT=$((20000 + RANDOM % 40000))
	port_free "$IOTAD_MQTT_PORT" && break
done
dc() { "${compose[@]}" -p "$project" -f "$compose_file" "$@"; }

step "building the images (log: $work/build.log)"
dc build >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; fail "image build"; }

step "compose up (mqtt 127.0.0.1:$IOTAD_MQTT_PORT, $rounds rounds)"
stack_up=1
dc up -d --no-build >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "compose up"; }

agg=$(dc ps -a -q aggregator)
[ -n "$agg" ] || fail "no aggregator container"
state=
for _ in $(seq 240); do
	state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$agg")
	[ "$state" = "exited 0" ] && break
	case $state in exited*) fail "the aggregator exited: $state";; esac
	sleep 1
done
[ "$state" = "exited 0" ] || fail "the aggregator did not finish $rounds rounds in 240 s ($state)"
dc logs --no-color aggregator >"$work/agg.log" 2>&1
closed=$(grep -c "closed with 3 of 3 updates" "$work/agg.log" || true)
((closed == rounds)) || fail "$closed of $rounds rounds closed with 3 of 3 updates"
grep -q "$rounds rounds done" "$work/agg.log" || fail "the aggregator did not say it is done"
grep -q "threshold of round [0-9]* for every gateway" "$work/agg.log" ||
	fail "no threshold for every gateway"
grep "threshold of round [0-9]* for every gateway" "$work/agg.log" | grep -qv "of 3 gateways)" &&
	fail "a threshold for every gateway made of fewer than 3 gateways' summaries"
step "$closed rounds closed, each with the updates of 3 gateways"

sleep 2
for gw in gw-1 gw-2 gw-3; do
	dc logs --no-color "$gw" >"$work/$gw.log" 2>&1
	grep -q "global model of round [1-9][0-9]* (hash [0-9a-f]*, parent [0-9a-f]*) accepted" "$work/$gw.log" ||
		fail "$gw accepted no global model of the aggregator"
	grep -q "update for round $rounds sent" "$work/$gw.log" || fail "$gw sent no update for round $rounds"
done
grep -q "threshold of this gateway" "$work/gw-1.log" || fail "gw-1 calibrated no threshold"
grep -q "for every gateway: " "$work/gw-2.log" || fail "gw-2 took no threshold of the aggregator"
grep -q "round [0-9]*: serving the" "$work/gw-3.log" || fail "gw-3 did not personalize"
step "each gateway accepted global models; gw-1 its own threshold, gw-2 the aggregator's"
if [ -n "${FED_LOG:-}" ]; then
	cat "$work/agg.log" "$work/gw-1.log" "$work/gw-3.log" >"$FED_LOG"
fi
step "PASS"
