#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test (unit tests,
# tests that really mount through /dev/fuse, Python interop tests).
# Usage: scripts/test.sh [BUILD_DIR]      (default: build)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
bash "$ROOT/scripts/install-deps.sh"
JOBS="$(nproc)"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$JOBS"
cd "$BUILD"
# Mount tests and kill -9 loops are I/O bound: two at a time is enough.
ctest --output-on-failure -j 2 --timeout 900
