#!/bin/bash
# A full backing disk: the writer gets ENOSPC, the daemon keeps serving, and
# existing files stay intact. The store lives on a 64 MiB tmpfs.
source "$(dirname "$0")/lib.sh"
require_fuse
[ "$(id -u)" = 0 ] || skip "needs root to mount a tmpfs"
mkdir "$WORK/tmpfs"
mount -t tmpfs -o size=64m ckptfs-it "$WORK/tmpfs" || skip "cannot mount a tmpfs"
STORE=$WORK/tmpfs/store
fresh_mount
random_file "$MNT/keep" 4
sha=$(sha256sum < "$MNT/keep")
rc=0
out=$(dd if=/dev/urandom of="$MNT/fill" bs=1M count=200 2>&1) || rc=$?
[ $rc -ne 0 ] || fail "writing 200 MiB into a 64 MiB store succeeded"
echo "$out" | grep -q "No space left on device" || fail "writer did not get ENOSPC: $out"
log "daemon still serves"
[ "$(sha256sum < "$MNT/keep")" = "$sha" ] || fail "existing file changed"
ls -l "$MNT" > /dev/null || fail "ls after ENOSPC"
"$CKPTFS" stats "$MNT" > /dev/null || fail "stats after ENOSPC"
rm -f "$MNT/fill"
"$CKPTFS" gc "$MNT" || fail "gc after ENOSPC"
echo "after" > "$MNT/small" && [ "$(cat "$MNT/small")" = after ] || fail "write after freeing space"

log "full of committed files that share keep's pack: deleting them must make room"
i=0
while head -c 1M /dev/urandom > "$MNT/part$i" 2>/dev/null; do i=$((i + 1)); done
[ $i -gt 10 ] || fail "only $i 1 MiB files fit"
for round in 1 2 3; do
  if head -c 3M /dev/urandom >> "$MNT/keep" 2>/dev/null; then fail "append to a full store succeeded"; fi
done
[ "$(sha256sum < "$MNT/keep")" = "$sha" ] || fail "keep changed by failed appends"
rm -f "$MNT"/part* || fail "rm on a full store"
"$CKPTFS" gc "$MNT" || fail "gc on a full store"
free_kib=$(df -k --output=avail "$WORK/tmpfs" | tail -1)
[ "$free_kib" -gt $((24 * 1024)) ] || fail "gc left only $free_kib KiB free after deleting $i MiB"
head -c 16M /dev/urandom > "$MNT/after16" || fail "16 MiB write after gc"
umount_store
mount_store
[ "$(sha256sum < "$MNT/keep")" = "$sha" ] || fail "existing file changed after remount"
[ "$(stat -c %s "$MNT/after16")" = $((16 << 20)) ] || fail "after16 has the wrong size"
"$CKPTFS" fsck "$MNT" > /dev/null || fail "fsck after ENOSPC"
umount_store

log "offline, on a disk filled from outside the store: rm and gc still work"
dd if=/dev/zero of="$WORK/tmpfs/outside" bs=64k 2>/dev/null || true
[ "$(df -k --output=avail "$WORK/tmpfs" | tail -1)" -lt 1024 ] || fail "could not fill the disk"
[ -f "$STORE/reserve" ] || fail "no reserve before the disk filled"
# A read-only command may fail here, but must say why and keep the reserve
# for the rm below.
if ! out=$("$CKPTFS" ls "$STORE:" 2>&1); then
  echo "$out" | grep -q "disk is full" || fail "ls on a full disk: $out"
fi
[ -f "$STORE/reserve" ] || fail "a read-only command spent the reserve"
out=$("$CKPTFS" rm "$STORE:after16" 2>&1) || fail "offline rm on a full disk: $out"
"$CKPTFS" gc "$STORE" > /dev/null || fail "offline gc on a full disk"
rm -f "$WORK/tmpfs/outside"
"$CKPTFS" ls "$STORE:" | grep -q after16 && fail "after16 is still listed"
"$CKPTFS" export "$STORE:keep" "$WORK/keep.out" || fail "export keep"
[ "$(sha256sum < "$WORK/keep.out")" = "$sha" ] || fail "keep changed"
"$CKPTFS" fsck "$STORE" > /dev/null || fail "fsck after the offline full disk"
echo PASS
