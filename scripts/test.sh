#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test suite (unit, integration).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --browser
scripts/build.sh
# The live page test in headless Chromium must run here, not be skipped.
export IOTAD_REQUIRE_BROWSER=1
meson test -C "${IOTAD_BUILD:-build}" --suite unit --suite integration --print-errorlogs "$@"
