#!/usr/bin/python3
"""Cross-checks an entropy calibration table against an independent numpy
re-implementation of ONNX Runtime's get_entropy_threshold (calibrate.py),
with the two documented differences of src/quant/calibration/entropy.cc
(Q kept in floating point; the leftover bins belong to the last group).

    onnxq calibrate MODEL --data DATA --method entropy -o table.json
    bench/entropy_reference_check.py table.json

Exits 1 if any tensor's range differs from the reference by more than a
float32 rounding. Needs numpy only (no scipy: KL is written out here).
"""
import json
import math
import sys

import numpy as np


def smooth(p, eps=1e-4):
    # ORT's smooth_distribution: zeros get eps, taken evenly from the non-zeros.
    zeros = p == 0
    nonzeros = (~zeros).sum()
    if nonzeros == 0:
        return None
    eps1 = eps * zeros.sum() / nonzeros
    out = p + eps * zeros - eps1 * (~zeros)
    return None if (out <= 0).any() else out


def kl(p, q):
    p = p / p.sum()
    q = q / q.sum()
    return float((p * np.log(p / q)).sum())


def bin_index(x, k):
    m = math.floor(abs(x) / 2.0**k)
    return -m - 1 if x < 0 else m


def reference_range(hist, options):
    k, first = hist["k"], hist["first_bin"]
    counts = np.array(hist["counts"], dtype=np.float64)
    lo, hi = hist["min"], hist["max"]
    half_limit = max(options["histogram_bins"] // 2, options["num_quantized_bins"] // 2)
    half_quantized = options["num_quantized_bins"] // 2
    index = np.arange(first, first + len(counts))
    while max(-bin_index(lo, k), bin_index(hi, k) + 1) > half_limit:
        k += 1
        index = index >> 1
    covering = max(-bin_index(lo, k), bin_index(hi, k) + 1)
    if covering <= half_quantized:
        return lo, hi
    dense = np.zeros(2 * covering)
    np.add.at(dense, index + covering, counts)
    groups = options["num_quantized_bins"]
    best_kl, best_i = math.inf, covering
    for i in range(half_quantized, covering + 1):
        start, end = covering - i, covering + i
        sliced = dense[start:end]
        p = sliced.copy()
        p[0] += dense[:start].sum()
        p[-1] += dense[end:].sum()
        nonzero = p != 0
        merged = len(sliced) // groups
        q = np.zeros(len(p))
        for g in range(groups):
            a = g * merged
            b = len(p) if g == groups - 1 else a + merged
            norm = nonzero[a:b].sum()
            if norm:
                q[a:b] = sliced[a:b].sum() / norm
        ps, qs = smooth(p), smooth(q)
        if ps is None or qs is None:
            continue
        d = kl(ps, qs)
        if d < best_kl:
            best_kl, best_i = d, i
    t = best_i * 2.0**k
    return max(-t, lo), min(t, hi)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    table = json.load(open(sys.argv[1]))
    options = table["options"]
    if options["method"] != "entropy" or options["symmetric"]:
        sys.exit("expected a table made with --method entropy (not --symmetric)")
    bad = 0
    for name, entry in table["tensors"].items():
        hist = entry["state"]["histogram"]
        if hist["count"] == 0:
            continue
        lo, hi = reference_range(hist, options)
        same = np.float32(lo) == np.float32(entry["min"]) and np.float32(hi) == np.float32(entry["max"])
        # Constant data falls back to [min(c,0), max(c,0)] in onnxq; skip those.
        if hist["min"] == hist["max"]:
            same = True
        bad += not same
        print(f"{'ok ' if same else 'BAD'} {name}: reference [{lo:.7g}, {hi:.7g}]  onnxq [{entry['min']:.7g}, {entry['max']:.7g}]")
    print(f"{len(table['tensors']) - bad} of {len(table['tensors'])} tensors agree")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
