#!/usr/bin/env bash
# Installs iotad's build and test dependencies from Debian when missing.
set -euo pipefail
pkgs=(build-essential meson ninja-build pkg-config libpaho-mqtt-dev libcjson-dev
      libyaml-dev libcunit1-dev libmicrohttpd-dev mosquitto mosquitto-clients
      clang libclang-rt-14-dev openssl nats-server)
# --browser: Chromium for the live page test (integration suite 'browser').
for a in "$@"; do
	if [ "$a" = --browser ]; then
		pkgs+=(chromium python3)
	fi
done
# --docker: also what the Docker test needs (scripts/docker-test.sh).
if [ "${1:-}" = --docker ]; then
	pkgs+=(docker.io docker-compose debootstrap)
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "installing: ${missing[*]}" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q
	$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
