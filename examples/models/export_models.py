#!/usr/bin/python3
"""Exports onnxq's whole-model fixtures with torch.onnx.export.

Run from anywhere with Debian's interpreter (python3-torch, python3-onnx,
python3-torchvision: `scripts/setup.sh --fixtures` installs them):

    /usr/bin/python3 examples/models/export_models.py

Deterministic (fixed seeds, one thread). Writes:

  examples/models/small_cnn.onnx                 opset 13, input [N,1,28,28] (dynamic batch)
  tests/fixtures/models/mobilenetv2_style.onnx   opset 15, input [1,3,224,224]
  tests/fixtures/models/transformer_encoder.onnx opset 17, input [1,16,64]

The MobileNetV2 fixture is torchvision's mobilenet_v2(width_mult=0.3,
num_classes=10) at the standard 224x224 input (about 40 ms per run on
onnxq's reference kernels, fast enough for the tests; width 0.3 keeps the
file under 1.5 MB: the final 1x1 conv to 1280 channels dominates). The opsets differ on purpose to
exercise more paths: opset 13 (Dropout-free eval graph, Gemm), opset 15
(Clip with min/max inputs, Reshape with allowzero), opset 17
(LayerNormalization as one op).
"""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn

torch.set_num_threads(1)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def randomize_bn(model, gen):
    """Gives BatchNorm layers non-trivial running statistics and affine params."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 7 * 7, 64)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(self.flatten(self.features(x)))))


class EncoderClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128,
                                           dropout=0.0, activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(64)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.norm(self.encoder(x)))


def export(model, example, path, opset, input_names, output_names, dynamic_axes=None):
    model.eval()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # Not under torch.no_grad(): with gradients off, nn.TransformerEncoderLayer
    # takes its fused fast path (aten::_transformer_encoder_layer_fwd), which
    # has no ONNX export.
    if True:
        torch.onnx.export(model, example, path, opset_version=opset,
                          input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    hist = {}
    for n in m.graph.node:
        hist[n.op_type] = hist.get(n.op_type, 0) + 1
    size = os.path.getsize(path)
    print(f"{os.path.relpath(path, ROOT)}: opset {opset}, {size} bytes, {len(m.graph.node)} nodes")
    print("  ops: " + ", ".join(f"{k} {v}" for k, v in sorted(hist.items())))
    return m


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)

    cnn = SmallCNN()
    randomize_bn(cnn, gen)
    export(cnn, torch.randn(1, 1, 28, 28), os.path.join(ROOT, "examples/models/small_cnn.onnx"), 13,
           ["input"], ["logits"], {"input": {0: "batch"}, "logits": {0: "batch"}})

    torch.manual_seed(1)
    import torchvision
    mnv2 = torchvision.models.mobilenet_v2(weights=None, width_mult=0.3, num_classes=10)
    randomize_bn(mnv2, gen)
    export(mnv2, torch.randn(1, 3, 224, 224),
           os.path.join(ROOT, "tests/fixtures/models/mobilenetv2_style.onnx"), 15,
           ["input"], ["logits"])

    torch.manual_seed(2)
    enc = EncoderClassifier()
    # TransformerEncoder deep-copies its layer (both layers would share every
    # weight) and LayerNorm starts at weight 1, bias 0: perturb every
    # parameter so layers differ and the norms' affine parts matter.
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.1)
    export(enc, torch.randn(1, 16, 64),
           os.path.join(ROOT, "tests/fixtures/models/transformer_encoder.onnx"), 17,
           ["tokens"], ["logits"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
