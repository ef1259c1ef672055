#!/usr/bin/env bash
# `ckptfs demo` tests. Usage: demo_test.sh bad_input|end_to_end|interrupt
#   bad_input   DIR a file, DIR under a file, DIR unwritable (read-only tmpfs as
#               root, chmod 555 otherwise), no /dev/fuse (private mount
#               namespace with an empty /dev; root only): exit 1 with a
#               message, nothing created.
#   end_to_end  the demo exits 0; the store it leaves mounts again and holds
#               exactly the documented run tree; stats --json logical/stored
#               >= 1.8; the demo printed the same verdict.
#   interrupt   SIGINT while ckptfs-train runs: the demo exits non-zero and
#               the mount is gone; the store mounts again.
# Exit 77 (skipped): no /dev/fuse here.
set -euo pipefail
MODE=${1:?usage: demo_test.sh bad_input|end_to_end|interrupt}
CKPTFS=${CKPTFS:?set CKPTFS to the ckptfs binary}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "--- $*"; }
is_mounted() { awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; }

[ -x "$(dirname "$CKPTFS")/ckptfs-train" ] || skip "no ckptfs-train next to $CKPTFS"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ckptfs-demo-test.XXXXXX")
cleanup() {
  local rc=$?
  for m in "$WORK/demo/mnt" "$WORK/ro"; do
    if is_mounted "$m"; then
      "$CKPTFS" umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || fusermount3 -uz "$m" || true
    fi
  done
  if [ $rc -ne 0 ] && [ -f "$WORK/demo/store/daemon.log" ]; then
    echo "--- daemon.log (last 30 lines):" >&2
    tail -n 30 "$WORK/demo/store/daemon.log" >&2 || true
  fi
  chmod -R u+w "$WORK" 2>/dev/null || true
  rm -rf "$WORK" || true
  exit $rc
}
trap cleanup EXIT

# expect_fail PATTERN CMD...: CMD exits 1 and prints PATTERN on stderr.
expect_fail() {
  local pattern=$1 out rc=0
  shift
  out=$("$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq 1 ] || fail "'$*' exited $rc, expected 1 (stderr: $out)"
  echo "$out" | grep -qiE -- "$pattern" || fail "'$*' stderr lacks /$pattern/: $out"
  echo "    ok: $out"
}

# json_u KEY < json: an unsigned top-level field of `ckptfs stats --json`.
json_u() { grep -oE "\"$1\": *[0-9]+" | grep -oE '[0-9]+$'; }

EXPECTED_TREE="config.yaml
last_checkpoint
log.txt
log.txt.rank1
log.txt.rank2
log.txt.rank3
metrics.json
model_0000009
model_0000009/graph
model_0000009/lr_scheduler
model_0000009/model
model_0000019
model_0000019/graph
model_0000019/lr_scheduler
model_0000019/model
model_best
model_best/graph
model_best/lr_scheduler
model_best/model
model_final
model_final/graph
model_final/lr_scheduler
model_final/model"

case $MODE in
bad_input)
  log "DIR is a file"
  touch "$WORK/afile"
  expect_fail "afile is not a directory" "$CKPTFS" demo "$WORK/afile"
  expect_fail "afile is not a directory" "$CKPTFS" demo "$WORK/afile/sub"
  [ -f "$WORK/afile" ] || fail "the file was changed"

  log "DIR not writable"
  mkdir -p "$WORK/ro"
  if [ "$(id -u)" -eq 0 ]; then
    # root ignores mode bits: a read-only tmpfs is unwritable for root too.
    mount -t tmpfs -o ro,size=1m tmpfs "$WORK/ro"
  else
    chmod 555 "$WORK/ro"
  fi
  expect_fail "not writable" "$CKPTFS" demo "$WORK/ro"
  expect_fail "not writable" "$CKPTFS" demo "$WORK/ro/new/dir"
  [ -z "$(ls -A "$WORK/ro")" ] || fail "the demo created something in the read-only dir"

  log "DIR holds a store already"
  mkdir -p "$WORK/used/store" && touch "$WORK/used/store/x"
  expect_fail "already exists and is not empty" "$CKPTFS" demo "$WORK/used"

  log "no /dev/fuse"
  if [ "$(id -u)" -eq 0 ] && unshare -m --propagation private true 2>/dev/null; then
    out=$(unshare -m --propagation private bash -c \
      'mount -t tmpfs -o size=1m tmpfs /dev && exec "$0" demo "$1"' "$CKPTFS" "$WORK/nofuse" \
      2>&1 >/dev/null) && rc=0 || rc=$?
    [ "$rc" -eq 1 ] || fail "demo without /dev/fuse exited $rc, expected 1: $out"
    echo "$out" | grep -q "/dev/fuse" || fail "demo without /dev/fuse: message lacks /dev/fuse: $out"
    [ ! -e "$WORK/nofuse" ] || fail "demo without /dev/fuse created $WORK/nofuse"
    echo "    ok: $out"
  else
    echo "    skipped (needs root and unshare -m)"
  fi

  log "usage"
  "$CKPTFS" demo --help | grep -q "finetune_qqp" || fail "demo --help does not describe the run"
  rc=0; "$CKPTFS" demo --model-size huge "$WORK/x" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 2 ] || fail "bad --model-size exited $rc, expected 2"
  ;;

end_to_end)
  [ -c /dev/fuse ] || skip "no /dev/fuse"
  log "ckptfs demo $WORK/demo"
  start=$(date +%s)
  rc=0; "$CKPTFS" demo "$WORK/demo" > "$WORK/demo.out" 2>&1 || rc=$?
  cat "$WORK/demo.out"
  [ "$rc" -eq 0 ] || fail "ckptfs demo exited $rc"
  log "demo took $(( $(date +%s) - start )) s"
  ! is_mounted "$WORK/demo/mnt" || fail "the demo left $WORK/demo/mnt mounted"
  [ -f "$WORK/demo/store/ckptfs.json" ] || fail "no store left in $WORK/demo/store"
  grep -q "run tree OK after the resume" "$WORK/demo.out" || fail "demo did not verify the tree"
  grep -q "start_iter 20" "$WORK/demo.out" || fail "demo did not resume at iteration 20"
  grep -q "model_final/" "$WORK/demo.out" || fail "demo did not print the tree"
  grep -q "apparent-size" "$WORK/demo.out" || fail "demo did not print du"
  ! grep -q "BELOW" "$WORK/demo.out" || fail "demo reports a ratio below target"

  log "mount the store it left again"
  "$CKPTFS" mount "$WORK/demo/store" "$WORK/demo/mnt"
  RUN=$WORK/demo/mnt/output/finetune_qqp
  got=$(cd "$RUN" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort)
  [ "$got" = "$EXPECTED_TREE" ] || fail "run tree differs:
$(diff <(echo "$EXPECTED_TREE") <(echo "$got") || true)"
  [ "$(ls "$WORK/demo/mnt/output")" = finetune_qqp ] || fail "unexpected entries in output/"
  lc=$(cat "$RUN/last_checkpoint")
  [ "$lc" = model_final ] || [ "$lc" = model_0000019 ] || fail "last_checkpoint is '$lc'"
  cmp -s "$RUN/model_final/model" "$RUN/model_0000019/model" \
    || fail "model_final/model differs from model_0000019/model"

  json=$("$CKPTFS" stats --json "$WORK/demo/mnt")
  logical=$(echo "$json" | json_u logical_bytes)
  stored=$(echo "$json" | json_u stored_bytes)
  [ -n "$logical" ] && [ -n "$stored" ] && [ "$stored" -gt 0 ] || fail "bad stats: $json"
  ratio=$(awk -v l="$logical" -v s="$stored" 'BEGIN { printf "%.2f", l / s }')
  log "logical $logical, stored $stored: ${ratio}x"
  awk -v l="$logical" -v s="$stored" 'BEGIN { exit !(l >= 1.8 * s) }' \
    || fail "store only ${ratio}x smaller than logical (need >= 1.8x)"
  # (the resume appended to the logs since the demo measured, so its figure may differ slightly)
  grep -qE "ratio [0-9.]+x >= 1.8x target: OK" "$WORK/demo.out" || fail "demo did not print the ratio verdict"
  "$CKPTFS" fsck "$WORK/demo/mnt" >/dev/null || fail "fsck after the demo"
  "$CKPTFS" umount "$WORK/demo/mnt"
  ;;

interrupt)
  [ -c /dev/fuse ] || skip "no /dev/fuse"
  log "SIGINT during training"
  # setsid: the signal reaches the demo only, which must pass it on.
  setsid "$CKPTFS" demo --model-size tiny "$WORK/demo" > "$WORK/demo.out" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    grep -q "^iter 3 " "$WORK/demo.out" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  grep -q "^iter 3 " "$WORK/demo.out" || { cat "$WORK/demo.out"; fail "training did not start"; }
  kill -INT $pid
  rc=0; wait $pid || rc=$?
  cat "$WORK/demo.out"
  [ "$rc" -ne 0 ] || fail "interrupted demo exited 0"
  grep -q "interrupted" "$WORK/demo.out" || fail "no 'interrupted' message"
  ! is_mounted "$WORK/demo/mnt" || fail "the interrupted demo left the mount"
  ! pgrep -f "ckptfs-train --output $WORK/" >/dev/null || fail "ckptfs-train still running"
  "$CKPTFS" mount "$WORK/demo/store" "$WORK/demo/mnt" || fail "cannot remount after interrupt"
  "$CKPTFS" umount "$WORK/demo/mnt"
  ;;
*) fail "unknown mode $MODE" ;;
esac
echo ok
