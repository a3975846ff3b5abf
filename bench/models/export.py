#!/usr/bin/python3
"""Exports the torch models of the benchmark into bench/models/ (git-ignored).

    /usr/bin/python3 bench/models/export.py [--out DIR]

resnet18.onnx and mobilenet_v2.onnx: torchvision's ResNet-18 and MobileNetV2
with seeded random weights (nothing is downloaded), 1000 classes, input
"input" float32[batch,3,224,224] with a symbolic batch, opset 13. Needs
python3-torch and python3-torchvision (scripts/setup.sh --fixtures).
"""
import argparse
import os

import torch
import torchvision


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=here)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    models = {
        "resnet18": torchvision.models.resnet18(weights=None),
        "mobilenet_v2": torchvision.models.mobilenet_v2(weights=None),
    }
    for name, net in models.items():
        net.eval()
        # Re-initialise BatchNorm statistics so they are not the identity
        # (fresh running_mean 0 / var 1 would make folding trivial).
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.1, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
        path = os.path.join(args.out, name + ".onnx")
        tmp = path + ".tmp"
        torch.onnx.export(net, torch.randn(1, 3, 224, 224), tmp, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=13, do_constant_folding=True)
        os.replace(tmp, path)
        print(path)


if __name__ == "__main__":
    main()
