#!/usr/bin/env bash
# Builds ckpt/gpu/cuda_staging_check against a CUDA libtorch and runs it.
# Needs: an NVIDIA GPU + driver, python3 with a CUDA build of torch
# (pip install torch), cmake >= 3.18, a C++17 compiler (and nvcc only if
# your torch's CMake config asks for it; pip wheels need the CUDA toolkit's
# headers for find_package(Torch)).
#   ckpt/gpu/run_cuda_check.sh [BUILD_DIR]      PYTHON=python3.11 to choose python
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
build=${1:-/tmp/ckpt-cuda-check}
$PY -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "torch sees no CUDA device")'
prefix=$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)')
echo "using torch $($PY -c 'import torch; print(torch.__version__)') from $prefix"
cmake -S "$here" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc)"
"$build/cuda_staging_check"
