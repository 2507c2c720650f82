#!/bin/sh
# `run` alone: start the service with /etc/iotad/iotad.yaml (or
# $IOTAD_CONFIG), its broker, model, HTTP address and client id replaced by
# IOTAD_MQTT_URI, IOTAD_MODEL, IOTAD_HTTP_LISTEN and IOTAD_CLIENT_ID when
# set. Anything else is passed to iotad unchanged (`run -c FILE`, `sim`, ...).
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
[ -z "${IOTAD_CLIENT_ID+x}" ] || set -- "$@" -e "s|^  client_id: .*|  client_id: '$(val "$IOTAD_CLIENT_ID")'|"
sed "$@" -e '' "${IOTAD_CONFIG:-/etc/iotad/iotad.yaml}" > "$conf"
exec /usr/local/bin/iotad run -c "$conf"
