#!/usr/bin/env bash
# Configures (once) and builds iotad in build/ (or $IOTAD_BUILD).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${IOTAD_BUILD:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" "$@" >/dev/null
ninja -C "$build"
