#!/bin/bash
# 3. Compression: real fp32 weights store smaller than `zstd -1` of the same
# file; the same weights as bf16 reach >= 1.4x (logical/stored).
source "$(dirname "$0")/lib.sh" "$@"
command -v zstd >/dev/null || fail "the zstd CLI is required"
"$PY" -c 'import numpy' 2>/dev/null || fail "$PY lacks numpy (apt install python3-numpy)"

FILES=("$DATA/fp32_weights_sample.bin")
# A larger real model when bench/fetch_weights.sh has fetched it.
for f in "$SRC_DIR/bench/data/esrgan-thick/x2.bin" "$SRC_DIR/bench/data/esrgan-medium/x2.bin"; do
  if [ -f "$f" ]; then FILES+=("$f"); break; fi
done

# check_one NAME FILE: import into a fresh store; print logical/stored.
n=0
check_one() {
  n=$((n + 1))
  local st=$WORK/store$n
  init_store "$st"
  ck import "$2" "$st:/$1" || fail "import of $2"
  local logical stored
  logical=$(stat_field "$st" logical_bytes)
  stored=$(stored_bytes "$st")
  [ "$logical" -eq "$(stat -c %s "$2")" ] || fail "$1: logical_bytes $logical != file size"
  ck export "$st:/$1" "$WORK/$1.out" || fail "$1: export exited $?"
  cmp "$2" "$WORK/$1.out" || fail "$1: export differs"
  rm -f "$WORK/$1.out"
  RATIO=$(calc "$logical / $stored")
  STORED=$stored
}

for f in "${FILES[@]}"; do
  z1=$(zstd -1 -c -q "$f" | wc -c)
  check_one "fp32-$n.bin" "$f"
  log "fp32 $(basename "$(dirname "$f")")/$(basename "$f"): $(stat -c %s "$f") bytes, ckptfs $STORED (${RATIO}x), zstd -1 $z1"
  lt "$STORED" "$z1" || fail "$f: ckptfs stored $STORED >= zstd -1 $z1"

  "$PY" -c '
import numpy as np, sys
a = np.fromfile(sys.argv[1], dtype=np.uint32)
(a >> 16).astype(np.uint16).tofile(sys.argv[2])' "$f" "$WORK/bf16.bin"
  zb=$(zstd -1 -c -q "$WORK/bf16.bin" | wc -c)
  check_one "bf16-$n.bin" "$WORK/bf16.bin"
  log "bf16 of it: $(stat -c %s "$WORK/bf16.bin") bytes, ckptfs $STORED (${RATIO}x), zstd -1 $zb"
  lt "$RATIO" 1.4 && fail "bf16 of $f: ratio $RATIO < 1.4"
  rm -f "$WORK/bf16.bin"
done
pass
