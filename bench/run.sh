#!/bin/sh
# run.sh - build a release tree, train the benchmark model if needed, run the
# benchmarks and print a summary table.
#
#   bench/run.sh                   everything, default sizes
#   MESSAGES=50000 REPEAT=1 bench/run.sh     a quicker MQTT run
#
# Environment: BUILD (build-bench), MODEL (BUILD/bench/model.json),
# ENSEMBLE_MODEL (BUILD/bench/model-ensemble3.json, the same data, 3 networks),
# MESSAGES (200000), DEVICES (100), SAMPLES (2000000), MEM_DEVICES (100000),
# REPEAT (3), QOS (0, 1 or both), MODE (live, backlog or both).
set -eu

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-bench}
MODEL=${MODEL:-$BUILD/bench/model.json}
ENSEMBLE_MODEL=${ENSEMBLE_MODEL:-$BUILD/bench/model-ensemble3.json}
MESSAGES=${MESSAGES:-200000}
DEVICES=${DEVICES:-100}
SAMPLES=${SAMPLES:-2000000}
MEM_DEVICES=${MEM_DEVICES:-100000}
REPEAT=${REPEAT:-3}
QOS=${QOS:-both}
MODE=${MODE:-both}

if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" --buildtype=release >/dev/null
fi
ninja -C "$BUILD" >/dev/null
IOTAD=$BUILD/src/iotad

if [ ! -f "$MODEL" ] || [ ! -f "$ENSEMBLE_MODEL" ]; then
	echo "== training the benchmark models ($MODEL, $ENSEMBLE_MODEL)"
	tmp=$(mktemp -d /tmp/iotad-bench-train.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	# 256 devices, 15 min each: a fleet wide enough that the model
	# generalizes to devices it never saw (the benchmark's own devices).
	"$IOTAD" sim --csv "$tmp/normal.csv" --normal-only --devices 256 --duration 900 \
		--interval 1 --seed 11 --quiet
	for k in 1 3; do
		dst=$MODEL
		[ "$k" = 1 ] || dst=$ENSEMBLE_MODEL
		"$IOTAD" train --csv "$tmp/normal.csv" --features temperature,humidity,battery \
			--group device --window 10 --epochs 10 --seed 5 --ensemble "$k" \
			--id bench-model -o "$dst" --quiet
	done
fi

out=$BUILD/bench/results.txt
: >"$out"
echo "== core replay (bench_core)"
"$BUILD/bench/bench_core" --model "$MODEL" --samples "$SAMPLES" --devices "$DEVICES" | tee -a "$out"
echo "== core replay, an ensemble of 3 networks (bench_core)"
"$BUILD/bench/bench_core" --model "$ENSEMBLE_MODEL" --samples "$SAMPLES" --devices "$DEVICES" |
	sed 's/^RESULT core /RESULT core_ensemble /' | tee -a "$out"
echo "== core replay over scorer shards, 1 against 2 threads (bench_shards)"
"$BUILD/bench/bench_shards" --model "$MODEL" --samples "$SAMPLES" --devices "$DEVICES" \
	--threads 2 --repeat "$REPEAT" | tee -a "$out"
echo "== memory per device (bench_memory)"
"$BUILD/bench/bench_memory" --model "$MODEL" --devices "$MEM_DEVICES" | tee -a "$out"
echo "== routing a mixed fleet, 10 models (bench_route)"
"$BUILD/bench/bench_route" --model "$MODEL" | tee -a "$out"
echo "== a mixed fleet: one service with 3 models against 3 one-kind services (bench_mixproc)"
"$BUILD/bench/bench_mixproc" --iotad "$IOTAD" --repeat "$REPEAT" | tee -a "$out"
echo "== MQTT throughput (bench_mqtt)"
"$BUILD/bench/bench_mqtt" --iotad "$IOTAD" --model "$MODEL" --messages "$MESSAGES" \
	--devices "$DEVICES" --qos "$QOS" --mode "$MODE" --repeat "$REPEAT" | tee -a "$out"
echo "== telemetry-to-alert latency at 1000 msg/s (bench_latency)"
"$BUILD/bench/bench_latency" --iotad "$IOTAD" --model "$MODEL" --rate 1000 --seconds 20 |
	tee -a "$out"

echo
echo "== summary ($(nproc) CPUs; figures are noisy, see docs/benchmarks.md)"
awk '
function val(key,   i, kv) {
	for (i = 3; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == key)
			return kv[2]
	}
	return ""
}
function row(name, a, b, r) {
	printf "%-30s %-16s %-34s %6.2f\n", name, a, b, r
}
BEGIN {
	printf "%-30s %-16s %-34s %6s\n", "benchmark", "iotad", "baseline (same run)", "ratio"
}
$1 == "RESULT" && $2 == "core" {
	row("core replay, per sample", sprintf("%.0f ns", val("ns_per_sample")),
	    sprintf("nn_forward %.0f ns/window", val("nn_forward_ns")), val("ratio_forward"))
}
$1 == "RESULT" && $2 == "core_ensemble" {
	row("core replay, ensemble of 3", sprintf("%.0f ns", val("ns_per_sample")),
	    sprintf("nn_forward %.0f ns/window", val("nn_forward_ns")), val("ratio_forward"))
}
$1 == "RESULT" && $2 == "shards" {
	row("core replay, " val("threads") " scorer threads", sprintf("%.0f samples/s", val("many_sps")),
	    sprintf("1 thread %.0f samples/s", val("one_sps")), val("ratio"))
}
$1 == "RESULT" && $2 == "latency" {
	row("latency added p50 (1k msg/s)", sprintf("%.0f us", val("through_p50_us")),
	    sprintf("broker floor %.0f us", val("floor_p50_us")), val("added_p50_us"))
	row("latency added p99 (1k msg/s)", sprintf("%.0f us", val("through_p99_us")),
	    sprintf("broker floor %.0f us", val("floor_p99_us")), val("added_p99_us"))
}
$1 == "RESULT" && $2 == "memory" {
	row("memory per device", sprintf("%.0f B (RSS)", val("rss_bytes")),
	    sprintf("det_bytes_per_device %.0f B", val("formula_bytes")), val("ratio"))
}
$1 == "RESULT" && $2 == "route" {
	row("routing, 10 models, worst", sprintf("+%.0f ns/msg", val("added_worst_ns")),
	    sprintf("one model %.0f ns/msg", val("ns_per_message")), val("ratio_worst"))
	row("routing, 10 models, by kind", sprintf("+%.0f ns/msg", val("added_spread_ns")),
	    "ten one-model routers", val("ratio_spread"))
}
$1 == "RESULT" && $2 == "mixproc" {
	row("mixed fleet, cpu/msg", sprintf("%.2f us (3 models)", val("mixed_us_per_msg")),
	    sprintf("3 one-kind services %.2f us", val("separate_us_per_msg")), val("ratio"))
}
$1 == "RESULT" && $2 == "mqtt" {
	name = "mqtt " val("mode") " qos" val("qos")
	row(name " msg/s", sprintf("%.0f", val("iotad_msg_s")),
	    sprintf("no-op subscriber %.0f", val("noop_msg_s")), val("ratio"))
	row(name " cpu/msg", sprintf("%.2f us", val("iotad_cpu_us")),
	    sprintf("no-op subscriber %.2f us", val("noop_cpu_us")), val("cpu_ratio"))
}
' "$out"
