#!/usr/bin/env bash
# The Docker Compose demo for real: starts dockerd when it is not running,
# builds the debian:12 base (docker/base-image.sh, cached), builds the images
# with docker/docker-compose.yml, brings the stack up with host networking on
# free loopback ports, and checks that
#   - the one-shot train service wrote a model and exited 0,
#   - iotad runs as a non-root user and its health check turns healthy,
#   - the health check command fails when nothing answers on the port,
#   - the live page is served on the host's loopback,
#   - raised alerts from the trained model arrive on alerts/# (mosquitto_sub).
# Then tears the stack down (volumes included).
# Exit 0 pass, 1 fail, 77 skip (no docker on this machine).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
compose_file=$src/docker/docker-compose.yml
alerts_wanted=3
log() { echo "docker-test: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

for tool in docker debootstrap mosquitto_sub; do
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

work=$(mktemp -d "${TMPDIR:-/tmp}/iotad-docker.XXXXXX")
project=iotadtest$$
dockerd_pid=
stack_up=0
status=1
cleanup() {
	set +e
	if ((stack_up)); then
		if ((status != 0)); then
			log "compose logs (last 40 lines of each service):"
			for s in mosquitto train iotad sim; do
				"${compose[@]}" -p "$project" -f "$compose_file" logs --no-color --tail 40 "$s" >&2
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

# Seconds since the test started, for the log.
t0=$SECONDS
step() { log "[$((SECONDS - t0))s] $*"; }

# 1. dockerd.
if ! docker info >/dev/null 2>&1; then
	step "starting dockerd (log: $work/dockerd.log)"
	dockerd >"$work/dockerd.log" 2>&1 &
	dockerd_pid=$!
	for _ in $(seq 120); do
		docker info >/dev/null 2>&1 && break
		kill -0 "$dockerd_pid" 2>/dev/null || { tail -n 20 "$work/dockerd.log" >&2; fail "dockerd exited"; }
		sleep 0.5
	done
	docker info >/dev/null 2>&1 || { tail -n 20 "$work/dockerd.log" >&2; fail "dockerd did not come up in 60 s"; }
fi

# 2. The base image and the images of the stack.
step "base image debian:12"
"$src/docker/base-image.sh" debian:12 || fail "cannot build the debian:12 base image"

# Two free ports on 127.0.0.1 (nothing accepts a connection there).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 40000))
		[ "$p" != "${1:-}" ] && port_free "$p" && { echo "$p"; return; }
	done
	fail "no free port on 127.0.0.1"
}
export IOTAD_MQTT_PORT IOTAD_HTTP_PORT
IOTAD_MQTT_PORT=$(pick_port)
IOTAD_HTTP_PORT=$(pick_port "$IOTAD_MQTT_PORT")
dc() { "${compose[@]}" -p "$project" -f "$compose_file" "$@"; }

image=${IOTAD_IMAGE:-iotad:latest}
step "building the images (log: $work/build.log)"
old_image=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
dc build >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; fail "image build"; }
# What an earlier build left behind (its runtime image, build stages but the
# newest, which is the cache of the next build) goes: disk stays flat.
stale=$(docker images -q --no-trunc --filter label=org.iotad.stage=build | tail -n +2)
[ "$old_image" = "$(docker image inspect -f '{{.Id}}' "$image")" ] || stale+=" $old_image"
for id in $stale; do docker image rm "$id" >/dev/null 2>&1 || true; done
size=$(docker image inspect -f '{{.Size}}' "$image") || fail "no image $image after the build"
step "image $image: $((size / 1000000)) MB"
[ "$(docker image inspect -f '{{.Config.User}}' "$image")" = iotad ] ||
	fail "the runtime user of $image is not iotad"

# 3. The stack, on loopback ports chosen above.
step "compose up (mqtt 127.0.0.1:$IOTAD_MQTT_PORT, http 127.0.0.1:$IOTAD_HTTP_PORT)"
stack_up=1
dc up -d --no-build >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "compose up"; }

# Alerts: subscribe now, wait for them at the end.
mosquitto_sub -h 127.0.0.1 -p "$IOTAD_MQTT_PORT" -t 'alerts/#' -v -q 1 \
	-C "$alerts_wanted" -W 180 >"$work/alerts.txt" 2>"$work/sub.err" &
sub=$!

train=$(dc ps -a -q train)
[ -n "$train" ] || fail "no train container"
[ "$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$train")" = "exited 0" ] ||
	fail "the train service did not exit 0"

iotad=$(dc ps -q iotad)
[ -n "$iotad" ] || fail "no iotad container"
health=
for _ in $(seq 90); do
	health=$(docker inspect -f '{{.State.Health.Status}}' "$iotad")
	[ "$health" = healthy ] && break
	[ "$(docker inspect -f '{{.State.Running}}' "$iotad")" = true ] || fail "iotad exited"
	sleep 1
done
[ "$health" = healthy ] || fail "iotad health is '$health' after 90 s"
step "iotad is healthy"
[ "$(docker exec "$iotad" id -un)" = iotad ] || fail "iotad does not run as user iotad"

# The health check command itself must be able to fail.
docker run --rm --network host --entrypoint iotad-healthcheck \
	-e IOTAD_HTTP_LISTEN="127.0.0.1:$(pick_port "$IOTAD_HTTP_PORT")" "$image" 2>/dev/null &&
	fail "the health check passes with nothing listening"
docker run --rm --network host --entrypoint iotad-healthcheck \
	-e IOTAD_HTTP_LISTEN="127.0.0.1:$IOTAD_HTTP_PORT" "$image" ||
	fail "the health check fails against the running iotad"

# The live page, as a browser on this machine would get it.
exec 3<>"/dev/tcp/127.0.0.1/$IOTAD_HTTP_PORT" || fail "no HTTP server on 127.0.0.1:$IOTAD_HTTP_PORT"
printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
page=$(timeout 10 cat <&3) || true
exec 3<&-
grep -q '^HTTP/1\.[01] 200' <<< "$page" || fail "GET / did not answer 200"
grep -qi '<html' <<< "$page" || fail "GET / did not return the page"
step "live page served on http://127.0.0.1:$IOTAD_HTTP_PORT/"

wait "$sub" || { cat "$work/sub.err" >&2; fail "mosquitto_sub: fewer than $alerts_wanted alerts in 180 s"; }
n=$(grep -c '^alerts/sensor-[0-9]* {"device":"sensor-[0-9]*","state":"' "$work/alerts.txt" || true)
((n == alerts_wanted)) || { cat "$work/alerts.txt" >&2; fail "$n of $alerts_wanted lines are alerts"; }
grep -q '"state":"raised"' "$work/alerts.txt" || fail "no raised alert"
grep -q '"model":{"id":"demo-temperature"' "$work/alerts.txt" ||
	fail "alerts do not come from the trained model"
grep -q '^alerts/sensor-005 ' "$work/alerts.txt" && fail "alert from sensor-005, which is never faulty"
step "$n alerts received, e.g.: $(head -c 160 "$work/alerts.txt")"
step "PASS"
