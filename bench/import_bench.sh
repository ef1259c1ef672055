#!/usr/bin/env bash
# import_bench.sh: `ckptfs import` of a large file of real fp32 weights vs
# `cp` of the same file to the same disk followed by `sync`, interleaved, 3
# runs each after one discarded warm-up run of each, page cache dropped
# before every run (when allowed: root). Prints
# the medians and cp_time / import_time (target >= 1.0: ckptfs keeps up with
# a plain copy), then stored/logical of fp32 (the tiled file and the real
# source) and of the source as bf16, next to `zstd -1` and `zstd -3` of the
# same bytes, as markdown tables.
#
# usage: bench/import_bench.sh [--size-mib N] [--runs R] [--dir DIR]
#                              [--src WEIGHTS.bin] [--ckptfs PATH]
#   --size-mib  size of the generated weights file (default 2048)
#   --dir       scratch directory on the disk under test (default: a new
#               directory under $TMPDIR or /var/tmp; removed at the end)
#   --src       real fp32 weights to tile (default bench/data/esrgan-thick/x2.bin,
#               fetched by bench/fetch_weights.sh; else tests/data/fp32_weights_sample.bin)
#   --ckptfs    the binary (default: $CKPTFS, build*/bin/ckptfs, or PATH)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

size_mib=2048 runs=3 dir= src= ckptfs=${CKPTFS:-}
while [ $# -gt 0 ]; do
  case $1 in
    --size-mib) size_mib=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --src) src=$2; shift 2 ;;
    --ckptfs) ckptfs=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "import_bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$ckptfs" ]; then
  for c in "$root"/build*/bin/ckptfs /work/build*/bin/ckptfs; do
    [ -x "$c" ] && { ckptfs=$c; break; }
  done
  [ -n "$ckptfs" ] || ckptfs=$(command -v ckptfs || true)
fi
[ -x "$ckptfs" ] || { echo "import_bench.sh: no ckptfs binary (use --ckptfs)" >&2; exit 2; }
if [ -z "$src" ]; then
  src=$here/data/esrgan-thick/x2.bin
  [ -f "$src" ] || src=$root/tests/data/fp32_weights_sample.bin
fi
[ -f "$src" ] || { echo "import_bench.sh: $src: no such file" >&2; exit 2; }
command -v zstd >/dev/null || { echo "import_bench.sh: the zstd CLI is required" >&2; exit 2; }

own_dir=0
if [ -z "$dir" ]; then
  dir=$(mktemp -d "${TMPDIR:-/var/tmp}/ckptfs-bench.XXXXXX")
  own_dir=1
fi
mkdir -p "$dir"
cleanup() {
  rm -rf "$dir/weights.fp32" "$dir/weights.bf16" "$dir/cp.out" "$dir/store" "$dir/store.src" "$dir/store.bf16"
  [ "$own_dir" = 1 ] && rmdir "$dir" 2>/dev/null || true
}
trap cleanup EXIT

can_drop=0
if [ -w /proc/sys/vm/drop_caches ] && (echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null; then can_drop=1; fi
drop_caches() {
  sync
  [ "$can_drop" = 1 ] && echo 3 > /proc/sys/vm/drop_caches || true
}
now() { date +%s.%N; }

w=$dir/weights.fp32
echo "generating $size_mib MiB of fp32 weights from $src ..." >&2
"$PY" "$here/make_weights.py" "$src" "$w" "$size_mib"
# bf16 of the real (untiled) source weights: the upper 2 bytes of each
# float32. Not of the tiled file: make_weights.py varies only each tile's
# lowest fp32 byte, which bf16 drops, so tiled bf16 would dedup tile by tile.
"$PY" - "$src" "$dir/weights.bf16" <<'PY'
import sys, numpy as np
a = np.fromfile(sys.argv[1], dtype=np.uint32)
(a >> 16).astype(np.uint16).tofile(sys.argv[2])
PY
bytes=$(stat -c %s "$w")

# One discarded run of each first: on a fresh VM the first writes into
# memory the guest has not touched yet are slower, and that would land on
# whichever command happened to run first.
for what in cp import; do
  rm -rf "$dir/cp.out" "$dir/store"
  drop_caches
  if [ "$what" = cp ]; then cp "$w" "$dir/cp.out" && sync
  else "$ckptfs" init "$dir/store" >/dev/null && "$ckptfs" import "$w" "$dir/store:/weights.fp32" 2>/dev/null && sync; fi
done

cp_times=() imp_times=()
for r in $(seq 1 "$runs"); do
  # Interleaved, and the order alternates so neither always runs first.
  for what in $( [ $((r % 2)) = 1 ] && echo "cp import" || echo "import cp"); do
    rm -rf "$dir/cp.out" "$dir/store"
    if [ "$what" = import ]; then "$ckptfs" init "$dir/store" >/dev/null; fi
    drop_caches
    t0=$(now)
    if [ "$what" = cp ]; then
      cp "$w" "$dir/cp.out" && sync
    else
      "$ckptfs" import "$w" "$dir/store:/weights.fp32" 2>/dev/null && sync
    fi
    t=$("$PY" -c "print(f'{$(now) - $t0:.3f}')")
    echo "run $r: $what ${t}s" >&2
    if [ "$what" = cp ]; then cp_times+=("$t"); else imp_times+=("$t"); fi
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
cp_med=$(median "${cp_times[@]}")
imp_med=$(median "${imp_times[@]}")
mib=$("$PY" -c "print($bytes / 1048576)")

# Compression: the last import's store (fp32, tiled), fresh stores for the
# untiled source and its bf16.
stat_json() { "$ckptfs" stats --json "$1" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["logical_bytes"], d["stored_bytes"], d["dedup_ratio"])'; }
zsize() { zstd "$1" -T0 -c -q "$2" | wc -c; }
rows=()
row() {  # row NAME FILE STORE
  local st=$3
  if [ ! -d "$st" ]; then
    "$ckptfs" init "$st" >/dev/null
    "$ckptfs" import "$2" "$st:/data" 2>/dev/null
  fi
  rows+=("$1 $(stat_json "$st") $(zsize -1 "$2") $(zsize -3 "$2")")
}
row "fp32-tiled-${size_mib}MiB" "$w" "$dir/store"
row "fp32-source" "$src" "$dir/store.src"
row "bf16-source" "$dir/weights.bf16" "$dir/store.bf16"

load=$(cut -d' ' -f1-3 /proc/loadavg)
"$PY" - "$mib" "$runs" "$cp_med" "$imp_med" "$can_drop" "$load" "$(basename "$(dirname "$src")")/$(basename "$src")" \
  "${cp_times[*]}" "${imp_times[*]}" "${rows[@]}" <<'PY'
import sys
(mib, runs, cp, imp, drop, load, src, cps, imps), rows = sys.argv[1:10], sys.argv[10:]
mib, cp, imp = float(mib), float(cp), float(imp)
print(f"## import vs cp+sync: {mib:.0f} MiB of fp32 weights tiled from {src}")
print(f"{runs} runs each, interleaved; page cache dropped before each run: "
      f"{'yes' if drop == '1' else 'NO (not root?)'}; load average at the end: {load}\n")
print("| | median s | MiB/s | runs (s) |")
print("|---|---:|---:|---|")
print(f"| cp + sync | {cp:.2f} | {mib / cp:.0f} | {cps} |")
print(f"| ckptfs import (+ sync) | {imp:.2f} | {mib / imp:.0f} | {imps} |")
print(f"\n**cp_time / import_time = {cp / imp:.2f}** (target >= 1.0)\n")
print("## stored / logical (lower is better; logical/stored in parentheses)")
print("| data | MiB | ckptfs | ckptfs dedup | zstd -1 | zstd -3 |")
print("|---|---:|---:|---:|---:|---:|")
for r in rows:
    name, n, s, dedup, z1, z3 = r.split()
    n = int(n)
    cell = lambda x: f"{int(x) / n:.3f} ({n / int(x):.2f}x)"
    print(f"| {name} | {n / 1048576:.1f} | {cell(s)} | {float(dedup):.2f}x | {cell(z1)} | {cell(z3)} |")
PY
