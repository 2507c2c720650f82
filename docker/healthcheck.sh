#!/bin/bash
# HEALTHCHECK of the iotad image: GET /healthz on $IOTAD_HTTP_LISTEN
# (HOST:PORT or [V6]:PORT) must answer 200. Plain bash, no HTTP client needed.
# Healthy means the process is up and serving, not that the broker is
# connected (iotad keeps retrying a broker that is down); /readyz says that.
set -u
addr=${IOTAD_HTTP_LISTEN:-127.0.0.1:8080}
host=${addr%:*}
port=${addr##*:}
host=${host#[}
host=${host%]}
case $host in 0.0.0.0|'') host=127.0.0.1 ;; ::) host=::1 ;; esac
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$addr" >&3
read -r proto code _ <&3 || exit 1
[[ $proto == HTTP/1.* && $code == 200 ]]
