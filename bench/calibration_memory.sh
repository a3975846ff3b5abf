#!/usr/bin/env bash
# Calibration memory and speed, run on demand (not part of ctest):
#   bench/calibration_memory.sh [BUILD_DIR]      (default: build)
#
# 1. Peak RSS of `onnxq calibrate` on the small CNN with 200 vs 5,000
#    Fashion-MNIST samples, for minmax and entropy. Calibrators keep summary
#    state only, so the two must be within ~10 % of each other.
# 2. Throughput (samples/s) of calibration vs the same loop without
#    observers (`--inference-only`), over 5,000 samples: minmax should reach
#    >= 0.8x and the histogram methods >= 0.5x of inference speed. Two
#    measures: (a) separate runs, calibration and baseline interleaved,
#    best of REPEAT each (the machine may be shared; drift hurts this one);
#    (b) within one calibration run, the loop time with and without the time
#    spent inside calibrators (immune to drift between runs).
# Peak RSS comes from /usr/bin/time -v (whole process, Linux getrusage).
# RSS also carries glibc's retained heap pages: with batch 32 the runtime's
# batch buffers make it wander by ~2 MiB between runs of the same length
# even without calibrators (see the inference-only lines). When heaptrack is
# installed, the peak *heap* of the same runs is printed too: the direct
# measure of what the calibrators hold.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
onnxq="$build/onnxq"
model="$root/examples/models/small_cnn.onnx"
data="${FASHION_MNIST:-/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz}"
batch="${BATCH:-32}"
[ -x "$onnxq" ] || { echo "no onnxq binary at $onnxq (build the onnxq_cli target first)" >&2; exit 1; }
[ -f "$data" ] || { echo "no Fashion-MNIST images at $data (set FASHION_MNIST)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# onnxq_run ARGS...: one run under /usr/bin/time; sets rss (KiB), rate
# (samples/s of the loop: model + calibrators) and alone (same run, model only).
onnxq_run() {
  /usr/bin/time -v "$onnxq" "$@" -q --verbose --batch-size "$batch" >"$tmp/out" 2>"$tmp/time" || {
    cat "$tmp/out" "$tmp/time" >&2
    exit 1
  }
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/time")
  rate=$(awk '/^throughput:/ {print $2}' "$tmp/out")
  alone=$(awk '/^throughput:/ {print $7}' "$tmp/out")
}
mib() { echo "$1 / 1024" | bc -l; }
max() { if [ "$(echo "$2 > $1" | bc)" = 1 ]; then echo "$2"; else echo "$1"; fi; }
repeat="${REPEAT:-3}"

echo "onnxq calibrate, small CNN, Fashion-MNIST t10k, batch $batch, best of $repeat"
echo
echo "memory (peak RSS, largest of $repeat runs)"
for method in minmax entropy; do
  declare -A peak=()
  for n in 200 5000; do
    peak[$n]=0
    for _ in $(seq "$repeat"); do
      onnxq_run calibrate "$model" --data "$data" --limit "$n" --method "$method" -o "$tmp/t.json"
      peak[$n]=$(max "${peak[$n]}" "$rss")
    done
  done
  printf '  %-8s 200 samples %6.1f MiB, 5000 samples %6.1f MiB: %+.1f %%\n' "$method" "$(mib "${peak[200]}")" \
    "$(mib "${peak[5000]}")" "$(echo "(${peak[5000]} - ${peak[200]}) * 100 / ${peak[200]}" | bc -l)"
done
inference_peak=0
for _ in $(seq "$repeat"); do
  onnxq_run calibrate "$model" --data "$data" --limit 200 --inference-only
  inference_peak=$(max "$inference_peak" "$rss")
done
printf '  %-8s 200 samples %6.1f MiB (no calibrators, for reference)\n' "none" "$(mib "$inference_peak")"

echo
echo "speed, 5000 samples (samples/s)"
for method in minmax percentile entropy mse; do
  best_inf=0 best_cal=0 best_ratio=0
  for _ in $(seq "$repeat"); do
    onnxq_run calibrate "$model" --data "$data" --limit 5000 --inference-only
    best_inf=$(max "$best_inf" "$rate")
    onnxq_run calibrate "$model" --data "$data" --limit 5000 --method "$method" -o "$tmp/t.json"
    best_cal=$(max "$best_cal" "$rate")
    best_ratio=$(max "$best_ratio" "$(echo "$rate / $alone" | bc -l)")
  done
  printf '  %-10s %7.1f vs inference-only %7.1f: (a) %.2fx   (b) same run %.2fx\n' "$method" "$best_cal" \
    "$best_inf" "$(echo "$best_cal / $best_inf" | bc -l)" "$best_ratio"
done

if command -v heaptrack >/dev/null && command -v heaptrack_print >/dev/null; then
  echo
  echo "peak heap (heaptrack: what the process allocates, without the allocator's retained pages)"
  for method in minmax entropy; do
    for n in 200 5000; do
      heaptrack -o "$tmp/ht" "$onnxq" calibrate "$model" --data "$data" --limit "$n" --method "$method" \
        --batch-size "$batch" -q -o "$tmp/t.json" >/dev/null 2>&1
      heap=$(heaptrack_print -f "$tmp/ht.zst" 2>/dev/null | awk -F': ' '/peak heap memory consumption/ {print $2}')
      printf '  %-8s %5d samples: %s\n' "$method" "$n" "$heap"
      rm -f "$tmp"/ht*
    done
  done
fi
