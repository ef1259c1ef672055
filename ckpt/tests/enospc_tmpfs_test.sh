#!/usr/bin/env bash
# A full disk during saves: ckptfs-train on a 2 MiB tmpfs must fail with exit
# 1 and an error naming the file and "No space left on device", and leave
# last_checkpoint naming a complete, loadable checkpoint. Needs root (mount);
# it fails rather than skips without it, so a green run means it ran.
set -euo pipefail
TRAIN=${1:?usage: enospc_tmpfs_test.sh path/to/ckptfs-train}
PY=/usr/bin/python3
mnt=$(mktemp -d /tmp/ckpt_enospc.XXXXXX)
cleanup() { umount "$mnt" 2>/dev/null || true; rmdir "$mnt" 2>/dev/null || true; }
trap cleanup EXIT
mount -t tmpfs -o size=2m tmpfs "$mnt" || { echo "FAIL: cannot mount tmpfs (needs root)" >&2; exit 1; }

for mode in --sync ""; do
  out="$mnt/run"
  rm -rf "$out"
  set +e
  "$TRAIN" --output "$out" --iters 50 --period 1 --model-size tiny $mode >"$mnt/../enospc.out" 2>"$mnt/../enospc.err"
  rc=$?
  set -e
  err=$(cat "$mnt/../enospc.err")
  if [ $rc -ne 1 ]; then echo "FAIL ($mode): exit $rc, expected 1; stderr: $err" >&2; exit 1; fi
  case "$err" in
    *"No space left on device"*) ;;
    *) echo "FAIL ($mode): error does not say No space left on device: $err" >&2; exit 1 ;;
  esac
  case "$err" in
    *"$out/"*) ;;
    *) echo "FAIL ($mode): error does not name a file under $out: $err" >&2; exit 1 ;;
  esac
  last=$(cat "$out/last_checkpoint")
  $PY - "$out" "$last" <<'PYEOF'
import os, sys, torch
out, last = sys.argv[1], sys.argv[2]
for d in sorted(os.listdir(out)):
    p = os.path.join(out, d)
    if os.path.isdir(p) and not d.startswith("."):
        files = sorted(os.listdir(p))
        assert files == ["graph", "lr_scheduler", "model"], (d, files)
        for f in files:
            torch.load(os.path.join(p, f))
assert os.path.isdir(os.path.join(out, last)), last
print("last checkpoint", last, "intact")
PYEOF
  echo "ok ($mode): $err"
done
rm -f "$mnt/../enospc.out" "$mnt/../enospc.err"
