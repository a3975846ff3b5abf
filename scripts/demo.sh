#!/usr/bin/env bash
# Set-up, build, then the demo on the bundled example model: inspect it,
# check it, and run it on random input.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
scripts/build.sh >/dev/null
MODEL=${1:-examples/models/small_cnn.onnx}
CLI=build/onnxq
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "== onnxq inspect $MODEL"
$CLI inspect "$MODEL"
echo
echo "== onnxq check $MODEL"
$CLI check "$MODEL"
echo
echo "== onnxq run $MODEL --random"
$CLI run "$MODEL" --random --seed 1 --output "$OUT/out.npz"
