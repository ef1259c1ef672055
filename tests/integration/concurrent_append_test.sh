#!/bin/bash
# Four processes appending concurrently (like per-rank training logs) lose no
# line: each to its own log.txt.rankN, and all four to one shared O_APPEND file.
source "$(dirname "$0")/lib.sh"
require_fuse
fresh_mount
N=2000
writer() {
  local rank=$1
  "$PY" - "$MNT" "$rank" "$N" <<'PY'
import os, sys
mnt, rank, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
own = os.open(f"{mnt}/log.txt.rank{rank}", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
shared = os.open(f"{mnt}/log.txt.all", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
for i in range(n):
    line = f"rank {rank} step {i:06d} loss {1.0 / (i + 1):.6f}\n".encode()
    os.write(own, line)
    os.write(shared, line)
    if i % 500 == 0:
        os.fsync(own)
os.close(own)
os.close(shared)
PY
}
for r in 0 1 2 3; do writer $r & done
wait
for r in 0 1 2 3; do
  [ "$(wc -l < "$MNT/log.txt.rank$r")" -eq $N ] || fail "rank $r: $(wc -l < "$MNT/log.txt.rank$r") lines"
  [ "$(sort -u "$MNT/log.txt.rank$r" | wc -l)" -eq $N ] || fail "rank $r has duplicate/torn lines"
  [ "$(grep -c "^rank $r step" "$MNT/log.txt.all")" -eq $N ] || fail "shared log lost rank $r lines"
done
[ "$(wc -l < "$MNT/log.txt.all")" -eq $((4 * N)) ] || fail "shared log line count"
grep -vqE '^rank [0-3] step [0-9]{6} loss [0-9.]+$' "$MNT/log.txt.all" && fail "torn line in shared log"
umount_store
echo PASS
