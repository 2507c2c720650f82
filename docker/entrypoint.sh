#!/bin/sh
# `run` alone: start the service with /etc/iotad/iotad.yaml (or
# $IOTAD_CONFIG), its broker, model, HTTP address and client id replaced by
# IOTAD_MQTT_URI, IOTAD_MODEL, IOTAD_HTTP_LISTEN, IOTAD_CLIENT_ID and
# IOTAD_STATE_FILE when set. Without a model file it says how to make one
# and exits 2. Anything else is passed to iotad unchanged (`run -c FILE`, `sim`, ...).
set -eu
if [ "$#" -ne 1 ] || [ "$1" != run ]; then
	exec /usr/local/bin/iotad "$@"
fi
conf=${TMPDIR:-/tmp}/iotad.yaml
# A single-quoted YAML scalar ('' for '), escaped for a sed replacement.
val() { printf '%s' "$1" | sed -e "s/'/''/g" -e 's/[\\|&]/\\&/g'; }
set --
[ -z "${IOTAD_MQTT_URI+x}" ] || set -- "$@" -e "s|^  uri: .*|  uri: '$(val "$IOTAD_MQTT_URI")'|"
[ -z "${IOTAD_MODEL+x}" ] || set -- "$@" -e "s|^  path: .*|  path: '$(val "$IOTAD_MODEL")'|"
[ -z "${IOTAD_HTTP_LISTEN+x}" ] || set -- "$@" -e "s|^  listen: .*|  listen: '$(val "$IOTAD_HTTP_LISTEN")'|"
[ -z "${IOTAD_STATE_FILE+x}" ] || set -- "$@" -e "s|^  state_file: .*|  state_file: '$(val "$IOTAD_STATE_FILE")'|"
[ -z "${IOTAD_CLIENT_ID+x}" ] || set -- "$@" -e "s|^  client_id: .*|  client_id: '$(val "$IOTAD_CLIENT_ID")'|"
sed "$@" -e '' "${IOTAD_CONFIG:-/etc/iotad/iotad.yaml}" > "$conf"
model=$(sed -n -e "s/^  path: '\(.*\)'$/\1/p" -e "s/^  path: \([^' ]*\)$/\1/p" "$conf" | head -n 1)
if [ -n "$model" ] && [ ! -e "$model" ]; then
	cat >&2 <<EOF
iotad: no model at $model. Train one on normal telemetry into the volume, e.g.
  docker run --rm -v iotad:/var/lib/iotad IMAGE sim --csv /var/lib/iotad/normal.csv --normal-only --duration 900
  docker run --rm -v iotad:/var/lib/iotad IMAGE train --csv /var/lib/iotad/normal.csv \\
      --features temperature,humidity,battery --group device -o /var/lib/iotad/model.json
then run with -v iotad:/var/lib/iotad (or mount your own model and set IOTAD_MODEL).
docker/docker-compose.yml does this for the demo (its train service).
EOF
	exit 2
fi
exec /usr/local/bin/iotad run -c "$conf"
