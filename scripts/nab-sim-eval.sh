#!/usr/bin/env bash
# nab-sim-eval.sh SEED [OUTDIR] - generate scripts/nab-sim.py's corpus for
# SEED and score it with `iotad eval --layout nab` for each detector:
# the nab layout's defaults (the profile with its seasonal channel, alert
# quiet an hour, a change lasting a day adopted), the profile alone
# (--no-season), the autoencoder and the rolling z-score (each without the
# profile channels), all with the same lifecycle; then the profile with
# its seasonal channel without the lifecycle rules. Prints one line each:
# standard, reward_low_FP, reward_low_FN scores, windows detected, false
# detections, raises, re-raised within an hour of a clear, longest alarm.
# IOTAD (the binary, default build/src/iotad) and EVAL_OPTS pass through.
set -euo pipefail
seed=${1:?usage: nab-sim-eval.sh SEED [OUTDIR]}
out=${2:-nab-sim-$seed}
here=$(cd "$(dirname "$0")" && pwd)
iotad=${IOTAD:-$here/../build/src/iotad}
python3 "$here/nab-sim.py" --seed "$seed" --out "$out"
run() {
	local name=$1
	shift
	"$iotad" eval --layout nab --labels "$out/combined_windows.json" ${EVAL_OPTS:-} "$@" \
		-q -o "$out/report-$name.txt" "$out/data"
	awk -v n="$name" '
		/^NAB scores/ { w = $5; d = $7; f = $9 }
		/^  standard/ { s = $2 } /^  reward_low_FP/ { p = $2 } /^  reward_low_FN/ { q = $2 }
		/^  alarms:/ { r = $2; rr = $5; h = $(NF - 3) }
		END { printf "%-16s %7s %7s %7s  detected %s/%s  false %s  raises %s  within 1 h %s %%  longest %s h\n",
		      n, s, p, q, d, w, f, r, substr(rr, 2), h }' "$out/report-$name.txt"
}
echo "seed $seed        standard  low_FP  low_FN"
run profile+season
run profile --no-season
run ae --detector ae --profile-channels none
run zscore --detector zscore --profile-channels none
run no-lifecycle --alert-quiet 0 --adapt-after 0
