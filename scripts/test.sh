#!/usr/bin/env bash
# Runs the whole test suite (installing first when needed). .ci/run calls exactly this.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TATAA_SKIP_DEMO=1 bash scripts/setup.sh
.venv/bin/ruff check tataa tests benchmarks scripts examples
.venv/bin/tataa isa --check
# Two xdist workers on two cores: one BLAS thread each (oversubscribed BLAS is 15-20x slower here).
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
exec .venv/bin/python -m pytest -n 2 --dist loadscope -q "$@"
