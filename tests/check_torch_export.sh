#!/usr/bin/env bash
# examples/torch_export.py trains and exports a model in PyTorch, and the
# torchrt suite (run on its fresh output instead of the committed fixtures)
# loads it and finds PyTorch's scores. Skipped (77) without python3-torch.
# usage: check_torch_export.sh TEST_UNIT SRCDIR
set -euo pipefail
unit=$1 src=$2
py=/usr/bin/python3
if ! "$py" -c 'import torch' 2> /dev/null; then
	echo "python3-torch is not installed: example not run" >&2
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" "$src/examples/torch_export.py" --out "$tmp/torch_model.json" \
	--scores "$tmp/torch_scores.json"
IOTAD_FIXTURES=$tmp "$unit" torchrt
