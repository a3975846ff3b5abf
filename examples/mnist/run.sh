#!/usr/bin/env bash
# The MNIST walkthrough (seed 001) with the onnxq CLI, start to end:
# data → float accuracy → MinMax calibration → per-channel QDQ → accuracy →
# lowering pass by pass (stage k = the first k passes of the default chain),
# every stage evaluated (accuracy) and verified against the QDQ model
# (bit-identical share, largest difference in steps, top-1 agreement,
# integer-only or not). Prints one table (also written to $OUT/table.md).
#
#   examples/mnist/run.sh                     # build/onnxq
#   ONNXQ=build-x/onnxq examples/mnist/run.sh
#
# Environment: ONNXQ (the binary), PYTHON (/usr/bin/python3), DATA (the .npz
# folder, made by prepare_data.py when missing), OUT (examples/mnist/out,
# git-ignored), MODEL (mnist_cnn.onnx), CALIB (calibration images, 500),
# LIMIT (test images, all by default).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ONNXQ=${ONNXQ:-$ROOT/build/onnxq}
PYTHON=${PYTHON:-/usr/bin/python3}
DATA=${DATA:-$HERE/data}
OUT=${OUT:-$HERE/out}
MODEL=${MODEL:-$HERE/mnist_cnn.onnx}
CALIB=${CALIB:-500}
LIMIT=${LIMIT:-}
# Seed 001's normalization: x = (pixel / 255 - 0.1307) / 0.3081. add_rescaling
# folds it into the graph so that the lowered model takes raw uint8 pixels.
MEAN=0.1307
STD=0.3081
BATCH=100

[ -x "$ONNXQ" ] || { echo "run.sh: $ONNXQ not found; build it (cmake --build build --target onnxq_cli) or set ONNXQ" >&2; exit 1; }
if [ ! -f "$DATA/test.npz" ] || [ ! -f "$DATA/test_u8.npz" ] || [ ! -f "$DATA/train.npz" ]; then
  "$PYTHON" "$HERE/prepare_data.py" --out "$DATA"
fi
mkdir -p "$OUT"
limit=()
[ -n "$LIMIT" ] && limit=(--limit "$LIMIT")

# A field of a JSON document on stdin, e.g. jget accuracy.top1.
jget() { "$PYTHON" -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$1"; }
jlen() { "$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin).get(sys.argv[1], [])))' "$1"; }
pct() { "$PYTHON" -c 'import sys; print("%.2f %%" % (100 * float(sys.argv[1])))' "$1"; }
pct3() { "$PYTHON" -c 'import sys; print("%.3f %%" % (100 * float(sys.argv[1])))' "$1"; }

# Accuracy of a model on the test set: float data for a float input, the raw
# pixels for a uint8 input (a model after add_rescaling).
accuracy() {
  local type
  type=$("$ONNXQ" inspect "$1" --json | jget inputs.0.type)
  local data=$DATA/test.npz
  [ "$type" = uint8 ] && data=$DATA/test_u8.npz
  "$ONNXQ" eval "$1" --data "$data" --batch-size $BATCH "${limit[@]}" --json -q | jget accuracy.top1
}

echo "== float model: $MODEL"
float_top1=$(accuracy "$MODEL")
echo "float top-1 $(pct "$float_top1")"

echo "== calibrate (MinMax, first $CALIB training images) and quantize (QDQ, per channel)"
"$ONNXQ" preprocess "$MODEL" -o "$OUT/float.onnx" >/dev/null
"$ONNXQ" calibrate "$OUT/float.onnx" --data "$DATA/train.npz" --limit "$CALIB" --method minmax \
  -o "$OUT/table.json" -q >/dev/null
"$ONNXQ" quantize "$OUT/float.onnx" --table "$OUT/table.json" --format qdq --per-channel \
  -o "$OUT/qdq.onnx" >/dev/null
qdq_top1=$(accuracy "$OUT/qdq.onnx")
echo "QDQ top-1 $(pct "$qdq_top1")"

# The default chain, in order (`onnxq lower --list-passes`).
mapfile -t PASSES < <("$ONNXQ" lower --list-passes | awk 'NR > 1 { print $1 }')
echo "== lowering: ${PASSES[*]}"

table="$OUT/table.md"
{
  echo "| stage | passes (last added) | nodes | input | accuracy | vs float | bit-identical | max diff | top-1 agreement | float ops / tensors | integer-only |"
  echo "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---|"
  diff_pt() { "$PYTHON" -c 'import sys; print("%+.2f pt" % (100 * (float(sys.argv[1]) - float(sys.argv[2]))))' "$1" "$2"; }
  nodes=$("$ONNXQ" inspect "$MODEL" --json | jget nodes)
  echo "| – | float | $nodes | float32 | $(pct "$float_top1") | | | | | | no |"
  nodes=$("$ONNXQ" inspect "$OUT/qdq.onnx" --json | jget nodes)
  echo "| 0 | QDQ (per channel) | $nodes | float32 | $(pct "$qdq_top1") | $(diff_pt "$qdq_top1" "$float_top1") | | | | | no |"
  list=""
  for k in "${!PASSES[@]}"; do
    p=${PASSES[$k]}
    list=${list:+$list,}$p
    stage="$OUT/stage_$((k + 1)).onnx"
    if ! "$ONNXQ" lower "$OUT/qdq.onnx" -o "$stage" --passes "$list" --mean $MEAN --std $STD \
        >"$OUT/stage_$((k + 1)).lower.txt" 2>&1; then
      echo "| $((k + 1)) | + \`$p\` | lowering failed: $(tail -1 "$OUT/stage_$((k + 1)).lower.txt") | | | | | | | | |"
      continue
    fi
    info=$("$ONNXQ" inspect "$stage" --json)
    nodes=$(jget nodes <<<"$info")
    in_type=$(jget inputs.0.type <<<"$info")
    if top1=$(accuracy "$stage" 2>"$OUT/stage_$((k + 1)).eval.txt"); then
      acc="$(pct "$top1") | $(diff_pt "$top1" "$float_top1")"
    else
      acc="not evaluable: $(tail -1 "$OUT/stage_$((k + 1)).eval.txt") |"
    fi
    if v=$("$ONNXQ" verify "$stage" --reference "$OUT/qdq.onnx" --data "$DATA/test.npz" \
        --batch-size $BATCH "${limit[@]}" --json 2>"$OUT/stage_$((k + 1)).verify.txt"); then
      ver="$(pct3 "$(jget outputs.0.bit_identical_share <<<"$v")") | $(jget outputs.0.max_diff_steps <<<"$v") | $(pct "$(jget outputs.0.top1_agreement <<<"$v")") | $(jlen float_operators <<<"$v") / $(jlen float_tensors <<<"$v") | $( [ "$(jget integer_only <<<"$v")" = True ] && echo yes || echo no)"
    else
      ver="verify failed: $(tail -1 "$OUT/stage_$((k + 1)).verify.txt") | | | |"
    fi
    echo "| $((k + 1)) | + \`$p\` | $nodes | $in_type | $acc | $ver |"
  done
} | tee "$table"
echo "table written to $table"
