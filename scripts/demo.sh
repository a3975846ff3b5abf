#!/usr/bin/env bash
# Set-up, build, then the quantization demo on the Fashion-MNIST example
# model (or the model given as the first argument: a classifier of
# float32 [N,1,28,28] images scaled to [0, 1], like the example):
#   inspect it; preprocess it; calibrate on 500 training images (MinMax);
#   quantize it to static QDQ int8 per-channel, QOperator, IntegerOps and
#   dynamic; evaluate all of them on the 10,000 test images; print one table.
# CALIBRATION_DATA and TEST_DATA override the data (anything `onnxq eval`
# reads: IDX, image folders, .npz with labels).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
scripts/build.sh >/dev/null
MODEL=${1:-examples/fashion_mnist/fashion_mnist_cnn.onnx}
DATA=/usr/share/datasets/fashion-mnist
CALIBRATION_DATA=${CALIBRATION_DATA:-$DATA/train-images-idx3-ubyte.gz}
TEST_DATA=${TEST_DATA:-$DATA/t10k-images-idx3-ubyte.gz}
CLI=build/onnxq
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -f "$MODEL" ] || { echo "demo: $MODEL: no such model" >&2; exit 1; }
START=$SECONDS

echo "== onnxq inspect $MODEL"
$CLI inspect "$MODEL"
echo

echo "== onnxq preprocess, then calibrate on 500 training images (MinMax)"
cp "$MODEL" "$OUT/float.onnx"
$CLI preprocess "$MODEL" -o "$OUT/preprocessed.onnx" >/dev/null
$CLI calibrate "$OUT/preprocessed.onnx" --data "$CALIBRATION_DATA" --limit 500 --method minmax \
  -o "$OUT/table.json" -q
echo

echo "== onnxq quantize: QDQ int8 per-channel, QOperator, IntegerOps (same table), dynamic"
$CLI quantize "$OUT/preprocessed.onnx" --table "$OUT/table.json" --format qdq --per-channel \
  -o "$OUT/qdq.onnx" | tail -n 1
$CLI quantize "$OUT/preprocessed.onnx" --table "$OUT/table.json" --format qoperator --per-channel \
  -o "$OUT/qoperator.onnx" | tail -n 1
$CLI quantize "$OUT/preprocessed.onnx" --table "$OUT/table.json" --format integerops --per-channel \
  -o "$OUT/integerops.onnx" | tail -n 1
$CLI quantize "$OUT/preprocessed.onnx" --dynamic -o "$OUT/dynamic.onnx" | tail -n 1
echo

echo "== onnxq eval on $(basename "$TEST_DATA")"
NAMES=(float qdq qoperator integerops dynamic)
for name in "${NAMES[@]}"; do
  echo "   $name"
  $CLI eval "$OUT/$name.onnx" --data "$TEST_DATA" --batch-size 50 --json -q >"$OUT/$name.eval.json"
  $CLI inspect "$OUT/$name.onnx" --json >"$OUT/$name.inspect.json"
done
echo

# One table from the JSON reports (python3 comes with Debian's python3-numpy).
python3 - "$OUT" "$MODEL" "${NAMES[@]}" <<'EOF'
import json, os, sys
out, model, names = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = []
for name in names:
    ev = json.load(open(f"{out}/{name}.eval.json"))
    fmt = json.load(open(f"{out}/{name}.inspect.json"))["quantization"]["format"]
    rows.append((name, fmt, os.path.getsize(f"{out}/{name}.onnx"), ev["accuracy"]["top1"],
                 ev["samples"], ev["time"]["ms_per_sample"], ev["time"]["cpu_ms_per_sample"]))
base = rows[0][3]
print(f"{os.path.basename(model)} on {rows[0][4]:,} test images "
      "(time: wall clock per image; CPU: the same in CPU time, steadier on a busy machine)")
header = ("model", "format", "size", "top-1", "vs float", "time/image", "CPU/image")
table = [header] + [(n, f, f"{s / 1024:.0f} KiB", f"{100 * a:.2f} %",
                     "" if n == "float" else f"{100 * (a - base):+.2f} pt", f"{t:.3f} ms",
                     f"{c:.3f} ms")
                    for n, f, s, a, _, t, c in rows]
widths = [max(len(r[c]) for r in table) for c in range(len(header))]
for r in table:
    print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
EOF
echo
echo "demo finished in $((SECONDS - START)) s (after set-up and build)"
