#!/usr/bin/env bash
# Set-up, build, and every test (unit tests, ONNX conformance, whole-model
# comparisons with ONNX Runtime, CLI error handling).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
