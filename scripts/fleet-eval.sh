#!/usr/bin/env bash
# Detection quality on a simulated heterogeneous fleet (docs/eval.md):
# DEVICES devices of the five kinds of `iotad sim --fleet`, one sample every
# 10 s, a clean training day and two test days with anomalies and benign
# changes; a model trained the README way on the training day; then `iotad
# eval` with the event scores of the ground truth; then the profile alone
# (zero-config: each device against its own normal, day 1 its history) and
# one SVG per device kind of it (scripts/fleet-plots.py: OUTDIR/img).
# usage: scripts/fleet-eval.sh [SEED [DEVICES [OUTDIR]]]   (1, 50, fleet-SEED)
# Extra `iotad eval` options (e.g. a threshold) come from $EVAL_OPTS.
set -euo pipefail
seed=${1:-1}
devices=${2:-50}
out=${3:-fleet-$seed}
here=$(cd "$(dirname "$0")/.." && pwd)
iotad=${IOTAD:-$here/build/src/iotad}
[ -x "$iotad" ] || { echo "fleet-eval: $iotad not built (meson setup build && ninja -C build)" >&2; exit 1; }
mkdir -p "$out"
start=1700000000 # a Tuesday, 22:13 UTC
day=86400

"$iotad" sim --fleet --devices "$devices" --interval 10 --duration $((3 * day)) \
	--warmup $day --start-ts $start --seed "$seed" \
	--csv "$out/fleet.csv" --truth "$out/truth.csv" --quiet
# day 1 (no anomaly, no benign change: the warm-up) trains, days 2-3 test
awk -F, -v cut=$((start + day)) 'NR == 1 || $1 < cut' "$out/fleet.csv" > "$out/train.csv"
awk -F, -v cut=$((start + day)) 'NR == 1 || $1 >= cut' "$out/fleet.csv" > "$out/test.csv"

"$iotad" train --csv "$out/train.csv" --features temperature,humidity,battery \
	--group device --window 10 --seed "$seed" -o "$out/model.json" > "$out/train.log" 2>&1
# shellcheck disable=SC2086
"$iotad" eval --layout sim --model "$out/model.json" --truth "$out/truth.csv" \
	--predictions "$out/predictions.csv" --no-time -q ${EVAL_OPTS:-} \
	-o "$out/report.txt" "$out/test.csv"
# shellcheck disable=SC2086
"$iotad" eval --layout sim --model "$out/model.json" --truth "$out/truth.csv" \
	--json --no-time -q ${EVAL_OPTS:-} -o "$out/report.json" "$out/test.csv"
# the clean training day itself: every raise there is a false alarm
# shellcheck disable=SC2086
"$iotad" eval --layout sim --model "$out/model.json" --truth "$out/truth.csv" \
	--no-time -q ${EVAL_OPTS:-} -o "$out/report-train.txt" "$out/train.csv"
# the profile alone: the whole file, day 1's rows learned from, not counted
"$iotad" eval --layout sim --detector profile --train-rows $(($(wc -l < "$out/train.csv") - 1)) \
	--truth "$out/truth.csv" --stale-after 300 --predictions "$out/predictions-profile.csv" --no-time -q \
	-o "$out/report-profile.txt" "$out/fleet.csv"
python3 "$here/scripts/fleet-plots.py" "$out/fleet.csv" "$out/truth.csv" \
	"$out/predictions-profile.csv" "$out/img" $((start + day)) > /dev/null
rm "$out/fleet.csv"
cat "$out/report.txt"
echo "training day (clean, in-sample):"
grep '^false alarms' "$out/report-train.txt"
echo "profile alone (zero-config):"
sed -n '/^events/,$p' "$out/report-profile.txt"
echo "plots: $out/img/fleet-{office,server,cold,outdoor,greenhouse}.svg"
