#!/usr/bin/env bash
# Kept for old instructions: the benchmark driver is now bench/run.py
# (models x batch x threads, onnxq vs ONNX Runtime; see bench/README.md).
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
