#!/bin/bash
# kill -9 of the daemon during a large write, ten times. Each time `ckptfs
# mount` must clear the dead mount and reopen the store; at the end fsck is
# clean and every file closed before a crash is byte-identical.
source "$(dirname "$0")/lib.sh"
require_fuse
init_store
: > "$WORK/closed.sha"
for i in $(seq 1 10); do
  mount_store || fail "mount after crash $((i - 1))"
  # A file written and closed before the crash must survive it.
  head -c $((1048576 + i * 4099)) /dev/urandom > "$MNT/closed.$i"
  (cd "$MNT" && sha256sum "closed.$i") >> "$WORK/closed.sha"
  pid=$(daemon_pid)
  dd if=/dev/urandom of="$MNT/big.$i" bs=1M count=512 status=none 2>/dev/null &
  writer=$!
  sleep "0.$((RANDOM % 8 + 2))"
  kill -9 "$pid"
  wait "$writer" || true  # it fails with ENOTCONN, as it should
  # The daemon is gone; the mount is dead until someone clears it.
  stat "$MNT" > /dev/null 2>&1 && fail "mount still answers after kill -9"
done
mount_store || fail "final mount"
(cd "$MNT" && sha256sum -c --quiet "$WORK/closed.sha") || fail "closed files changed after crashes"
"$CKPTFS" fsck "$MNT" || fail "fsck not clean after crashes"
"$CKPTFS" gc "$MNT" || fail "gc after crashes"
"$CKPTFS" fsck "$MNT" > /dev/null || fail "fsck not clean after gc"
(cd "$MNT" && sha256sum -c --quiet "$WORK/closed.sha") || fail "closed files changed after gc"
umount_store
echo PASS
