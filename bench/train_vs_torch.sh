#!/bin/sh
# train_vs_torch.sh - the C trainer against PyTorch on CPU: the same network
# ((W*F)-12-6-12-(W*F)), the same initial weights, windows, epochs, batch
# size and Adam; PyTorch with 1 thread and with 2, the C trainer on one.
# Prints seconds per epoch (wall and CPU), the ratio PyTorch / C and the
# final losses with their difference. Needs Debian's python3-torch
# (/usr/bin/python3); python runs here only, never in the product.
#
#   bench/train_vs_torch.sh                 shapes 10x3 and 16x8
#   SHAPES=10x3 WINDOWS=50000 EPOCHS=5 bench/train_vs_torch.sh
set -eu

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-bench}
SHAPES=${SHAPES:-10x3 16x8}
WINDOWS=${WINDOWS:-20000}
EPOCHS=${EPOCHS:-10}
BATCH=${BATCH:-32}
PY=/usr/bin/python3

if ! "$PY" -c 'import torch' 2>/dev/null; then
	echo "python3-torch is not installed (apt-get install python3-torch)" >&2
	exit 77
fi
if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" --buildtype=release >/dev/null
fi
ninja -C "$BUILD" bench/bench_train >/dev/null
tmp=$(mktemp -d /tmp/iotad-train-torch.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

for shape in $SHAPES; do
	echo "== $shape: $WINDOWS windows, $EPOCHS epochs, batch $BATCH"
	"$BUILD/bench/bench_train" --shape "$shape" --windows "$WINDOWS" --epochs "$EPOCHS" \
		--batch "$BATCH" --out "$tmp" | tee "$tmp/c.txt"
	"$PY" bench/train_torch.py --dir "$tmp" --threads 1 | tee "$tmp/t1.txt"
	"$PY" bench/train_torch.py --dir "$tmp" --threads 2 | tee "$tmp/t2.txt"
	cat "$tmp/c.txt" "$tmp/t1.txt" "$tmp/t2.txt" | awk -v shape="$shape" '
	function val(key,   i, kv) {
		for (i = 3; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == key)
				return kv[2]
		}
		return ""
	}
	$1 == "RESULT" && $2 == "train_c" {
		cw = val("s_per_epoch"); cc = val("cpu_per_epoch"); cl = val("final_loss")
	}
	$1 == "RESULT" && $2 == "train_torch" {
		t = val("threads"); tw[t] = val("s_per_epoch"); tc[t] = val("cpu_per_epoch")
		tl[t] = val("final_loss")
	}
	END {
		for (t = 1; t <= 2; t++)
			printf "RESULT train_vs_torch shape=%s threads=%d ratio_wall=%.2f " \
			       "ratio_cpu=%.2f c_loss=%.6g torch_loss=%.6g loss_diff_pct=%.2f\n",
			       shape, t, tw[t] / cw, tc[t] / cc, cl, tl[t],
			       100 * (cl - tl[t]) / tl[t]
	}'
done
