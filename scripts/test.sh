#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test suite (unit, integration).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
meson test -C "${IOTAD_BUILD:-build}" --suite unit --suite integration --print-errorlogs "$@"
