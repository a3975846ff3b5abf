#!/usr/bin/python3
"""Trains onnxq's example model: a small CNN on Fashion-MNIST, exported to ONNX.

Run with Debian's interpreter (python3-torch, python3-onnx; `scripts/setup.sh
--fixtures` installs them; the first python3 on PATH may lack them):

    /usr/bin/python3 examples/fashion_mnist/train.py [--epochs 12] [--data DIR] [--out FILE]

Reads the IDX files directly (gzip + numpy) from /usr/share/datasets/fashion-mnist
(Debian's dataset-fashion-mnist). Seeded (model init, shuffling, flips),
2 threads, torch.use_deterministic_algorithms: meant to be repeatable with
the same PyTorch build (not verified bit for bit across machines).

Input contract of the exported model (the integer lowering folds it in):
  input  "input"  float32 [N,1,28,28], pixel / 255 (range [0, 1]; no mean/std)
  output "logits" float32 [N,10], class scores before softmax

Architecture (about 1.2 M multiply-adds per image, 207 k parameters; small on
purpose so that onnxq's reference kernels evaluate 10,000 images in seconds):

  Conv 3x3 1->16 pad 1 - BatchNorm - ReLU - MaxPool 2    [N,16,14,14]
  Conv 3x3 16->32 pad 1 - BatchNorm - ReLU - MaxPool 2   [N,32,7,7]
  Flatten - Dropout 0.25 - Linear 1568->128 - ReLU - Dropout 0.25 - Linear 128->10

Training: Adam (lr 1e-3, cosine decay to 0), batch 128, random horizontal
flips. torch.onnx.export in eval mode folds BatchNorm into the convolutions
and drops Dropout.
"""
import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240601


def read_idx(path):
    """An IDX file (optionally .gz) as a numpy array (uint8 images or labels)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    if magic >> 8 != 0x08:  # 0x08: unsigned byte elements
        sys.exit(f"{path}: not an unsigned-byte IDX file (magic 0x{magic:08x})")
    rank = magic & 0xFF
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank)
    if array.size != int(np.prod(dims)):
        sys.exit(f"{path}: {array.size} bytes of data for dimensions {dims}")
    return array.reshape(dims)


def load_split(data_dir, split):
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # [N,1,28,28], x/255
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.25),
            nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--out", default=os.path.join(HERE, "fashion_mnist_cnn.onnx"))
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)

    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")
    print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}", flush=True)

    model = FashionCNN()
    batch = 128
    steps_per_epoch = (len(x_train) + batch - 1) // batch
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(SEED)

    for epoch in range(args.epochs):
        t0 = time.time()
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        total_loss = 0.0
        for i in range(0, len(x_train), batch):
            idx = order[i:i + batch]
            xb, yb = x_train[idx], y_train[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
        acc = accuracy(model, x_test, y_test)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total_loss / len(x_train):.4f}, "
              f"test accuracy {100 * acc:.2f} % ({time.time() - t0:.0f} s)", flush=True)

    model.eval()
    final = accuracy(model, x_test, y_test)
    print(f"float test accuracy (PyTorch, 10,000 images): {100 * final:.2f} %")

    tmp = args.out + ".tmp.onnx"
    torch.onnx.export(
        model, torch.zeros(1, 1, 28, 28), tmp, opset_version=13,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        do_constant_folding=True)
    import onnx  # after training: only the export check needs it
    onnx.checker.check_model(onnx.load(tmp))
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
