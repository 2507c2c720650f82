#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test suite (unit, integration).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --browser
scripts/build.sh
# The live page test in headless Chromium must run here, not be skipped.
export IOTAD_REQUIRE_BROWSER=1
meson test -C "${IOTAD_BUILD:-build}" --suite unit --suite integration --suite quality \
	--print-errorlogs "$@"
# The same suites under AddressSanitizer + UndefinedBehaviorSanitizer, the
# iotad processes the integration tests start included (IOTAD_ASAN=0 skips).
if [ "${IOTAD_ASAN:-1}" != 0 ]; then
	IOTAD_BUILD=build-asan scripts/build.sh -Db_sanitize=address,undefined -Db_lundef=false
	ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-asan --suite unit --suite integration --print-errorlogs "$@"
fi
# libFuzzer smoke run: 10 s per target (codec, config, model, csv, state) on the
# seed corpus; `meson test -C build-fuzz --suite slow` runs 60 s each.
if [ "${IOTAD_FUZZ:-1}" != 0 ]; then
	[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false -Dtests=false >/dev/null
	ninja -C build-fuzz
	meson test -C build-fuzz --suite fuzz --print-errorlogs
fi
