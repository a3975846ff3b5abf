#!/usr/bin/env bash
# Set-up, build, then the quantization demo on the Fashion-MNIST example
# model (or the model given as the first argument: a classifier of
# float32 [N,1,28,28] images scaled to [0, 1], like the example):
#   inspect it; preprocess it; calibrate on 500 training images (MinMax);
#   quantize it to static QDQ int8 per-channel, QOperator, IntegerOps,
#   dynamic, and QDQ with power-of-two scales; lower both QDQ models to
#   integer-only graphs (raw uint8 pixels in) and verify them against their
#   QDQ models; evaluate everything on the 10,000 test images in onnxq and
#   in ONNX Runtime (scripts/ort_eval.js; "n/a" when it is not installed);
#   print one table.
# CALIBRATION_DATA and TEST_DATA override the data (anything `onnxq eval`
# reads: IDX, image folders, .npz with labels; ONNX Runtime needs IDX
# images with a labels file next to them, TEST_LABELS). ONNXQ_CLI and
# DEMO_SKIP_BUILD=1 run an existing build instead of set-up + build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${DEMO_SKIP_BUILD:-0}" != 1 ]; then
  scripts/setup.sh >/dev/null
  scripts/build.sh >/dev/null
fi
MODEL=${1:-examples/fashion_mnist/fashion_mnist_cnn.onnx}
DATA=/usr/share/datasets/fashion-mnist
CALIBRATION_DATA=${CALIBRATION_DATA:-$DATA/train-images-idx3-ubyte.gz}
TEST_DATA=${TEST_DATA:-$DATA/t10k-images-idx3-ubyte.gz}
TEST_LABELS=${TEST_LABELS:-${TEST_DATA/images-idx3/labels-idx1}}
CLI=${ONNXQ_CLI:-build/onnxq}
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

echo "== onnxq quantize --scale-mode pow2: every scale 2^-f (rounded up; same table)"
$CLI quantize "$OUT/preprocessed.onnx" --table "$OUT/table.json" --format qdq --per-channel \
  --scale-mode pow2 -o "$OUT/qdq_pow2.onnx" | tail -n 1
echo

echo "== onnxq lower (raw uint8 pixels in: --mean 0 --std 1), then verify against the QDQ model"
for q in qdq qdq_pow2; do
  i=${q/qdq/integer}
  $CLI lower "$OUT/$q.onnx" -o "$OUT/$i.onnx" --mean 0 --std 1 --require-integer-only \
    --report-json "$OUT/$i.lower.json" | tail -n 1
  $CLI verify "$OUT/$i.onnx" --reference "$OUT/$q.onnx" --data "$TEST_DATA" --batch-size 100 \
    --json >"$OUT/$i.verify.json"
done
echo

ORT=no
if command -v node >/dev/null && [ -d .deps/node/node_modules/onnxruntime-node ] && [ -f "$TEST_LABELS" ]; then
  ORT=yes
fi
echo "== onnxq eval on $(basename "$TEST_DATA")$([ $ORT = yes ] && echo ", and ONNX Runtime (scripts/ort_eval.js)")"
NAMES=(float qdq qoperator integerops dynamic integer qdq_pow2 integer_pow2)
for name in "${NAMES[@]}"; do
  echo "   $name"
  $CLI eval "$OUT/$name.onnx" --data "$TEST_DATA" --batch-size 50 --json -q >"$OUT/$name.eval.json"
  $CLI inspect "$OUT/$name.onnx" --json >"$OUT/$name.inspect.json"
  if [ $ORT = yes ]; then
    node scripts/ort_eval.js "$OUT/$name.onnx" "$TEST_DATA" "$TEST_LABELS" --batch 50 --limit 2000 \
      >"$OUT/$name.ort.json" 2>"$OUT/$name.ort.err" || rm -f "$OUT/$name.ort.json"
  fi
done
echo

# One table from the JSON reports (python3 comes with Debian's python3-numpy).
python3 - "$OUT" "$MODEL" "${NAMES[@]}" <<'EOF'
import json, os, sys
out, model, names = sys.argv[1], sys.argv[2], sys.argv[3:]
def load(path):
    return json.load(open(path)) if os.path.exists(path) else None
labels = {"qdq": "int8 QDQ", "qoperator": "QOperator", "integerops": "IntegerOps",
          "dynamic": "dynamic", "integer": "integer-only", "qdq_pow2": "pow2 QDQ",
          "integer_pow2": "pow2 integer-only"}
rows = []
for name in names:
    ev = load(f"{out}/{name}.eval.json")
    fmt = load(f"{out}/{name}.inspect.json")["quantization"]["format"]
    ort = load(f"{out}/{name}.ort.json")
    ver = load(f"{out}/{name}.verify.json")
    ident = steps = ""
    if ver:
        o = ver["outputs"][0]
        ident, steps = f"{100 * o['bit_identical_share']:.3f} %", f"{o['max_diff_steps']:g}"
        fmt = "integer-only" if ver["integer_only"] else fmt + " (float left!)"
    rows.append((labels.get(name, name), fmt, os.path.getsize(f"{out}/{name}.onnx"),
                 ev["accuracy"]["top1"], ev["samples"], ev["time"]["ms_per_sample"],
                 ort["ms_per_sample"] if ort else None, ident, steps))
base = rows[0][3]
print(f"{os.path.basename(model)} on {rows[0][4]:,} test images (time: wall clock per image, "
      "batches of 50, one thread; ORT: the first 2,000 images; bit-identical / max diff: onnxq "
      "verify against the QDQ model, in output quantization steps)")
header = ("model", "format", "size", "top-1", "vs float", "onnxq/image", "ORT/image",
          "bit-identical", "max diff")
table = [header] + [(n, f, f"{s / 1024:.0f} KiB", f"{100 * a:.2f} %",
                     "" if i == 0 else f"{100 * (a - base):+.2f} pt", f"{t:.3f} ms",
                     "n/a" if o is None else f"{o:.3f} ms", ident, steps)
                    for i, (n, f, s, a, _, t, o, ident, steps) in enumerate(rows)]
widths = [max(len(r[c]) for r in table) for c in range(len(header))]
for r in table:
    print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
EOF
echo
echo "demo finished in $((SECONDS - START)) s (after set-up and build)"
