#!/bin/bash
# Bad input gets a clear message naming the path and cause, and the right
# exit code: 2 for usage errors, 1 for runtime errors.
source "$(dirname "$0")/lib.sh"
require_fuse
C=$CKPTFS

log "usage errors exit 2"
expect_fail 2 "required|subcommand" "$C"
expect_fail 2 "" "$C" frobnicate
expect_fail 2 "MOUNTPOINT|required" "$C" mount "$STORE"
expect_fail 2 "unknown mount option 'bogus'" "$C" mount -o bogus "$STORE" "$MNT"
expect_fail 2 "power of two" "$C" init --chunk-avg 300K "$WORK/s2"
expect_fail 2 "invalid size" "$C" init --chunk-avg 12Q "$WORK/s2"
for sub in init mount umount import export ls rm stats fsck gc demo; do
  "$C" "$sub" --help > /dev/null || fail "$sub --help"
done

log "init refuses a non-empty directory that is not a store, changing nothing"
mkdir "$WORK/notastore" && echo precious > "$WORK/notastore/file"
expect_fail 1 "notastore" "$C" init "$WORK/notastore"
[ "$(ls -A "$WORK/notastore")" = file ] && [ "$(cat "$WORK/notastore/file")" = precious ] ||
  fail "init changed a non-empty directory"

log "missing store / mountpoint"
expect_fail 1 "$WORK/nostore.*does not exist" "$C" mount "$WORK/nostore" "$MNT"
init_store
expect_fail 1 "$WORK/nomnt.*does not exist" "$C" mount "$STORE" "$WORK/nomnt"
expect_fail 1 "$WORK/notastore" "$C" mount "$WORK/notastore" "$MNT"
is_mounted "$MNT" && fail "a failed mount left a mount behind"
[ "$(ls -A "$WORK/notastore")" = file ] || fail "a failed mount left files in the directory: $(ls -A "$WORK/notastore")"
[ "$(stat -c %a "$STORE/ckptfs.json")" = 600 ] || fail "ckptfs.json (it holds the hash secret) is not 0600"

log "a mountpoint that is the store, inside it, or above it is refused (the daemon would deadlock on itself)"
expect_fail 1 "the store itself" "$C" mount "$STORE" "$STORE"
expect_fail 1 "inside the store" "$C" mount "$STORE" "$STORE/packs"
mkdir -p "$WORK/outer"
init_store "$WORK/outer/st"
expect_fail 1 "inside mountpoint" "$C" mount "$WORK/outer/st" "$WORK/outer"
expect_fail 1 "inside mountpoint" "$C" mount "$WORK/outer/st" "$WORK/outer/../outer/"
is_mounted "$STORE" || is_mounted "$STORE/packs" || is_mounted "$WORK/outer" &&
  fail "an overlapping mount was left behind"
init_store "$WORK/outer/s"
mkdir -p "$WORK/outer/s2"
"$C" mount "$WORK/outer/s" "$WORK/outer/s2" || fail "mount on a sibling named like the store was refused"
"$C" umount "$WORK/outer/s2"

log "store locked by another process"
(exec 9>"$STORE/lock" && flock -n 9 && sleep 30) &
locker=$!
sleep 0.3
expect_fail 1 "$STORE.*(lock|busy)" "$C" mount "$STORE" "$MNT"
kill "$locker"; wait "$locker" 2>/dev/null || true
is_mounted "$MNT" && fail "mounted a locked store"

log "second mount of a mounted store, second mount on a mountpoint"
mount_store
mkdir "$WORK/mnt2"
EXTRA_MOUNTS+=("$WORK/mnt2")
expect_fail 1 "already mounted at $MNT" "$C" mount "$STORE" "$WORK/mnt2"
init_store "$WORK/store2"
expect_fail 1 "$MNT.*already has a ckptfs mount" "$C" mount "$WORK/store2" "$MNT"
expect_fail 1 "mounted at $MNT" "$C" ls "$STORE"
expect_fail 1 "not a ckptfs mountpoint" "$C" umount "$WORK/mnt2"
umount_store

log "no /dev/fuse"
if unshare --mount true 2>/dev/null; then
  rc=0
  out=$(unshare --mount bash -c "mount -t tmpfs none /dev && '$C' mount '$STORE' '$MNT'" 2>&1) || rc=$?
  [ $rc -eq 1 ] && echo "$out" | grep -q "/dev/fuse" || fail "no /dev/fuse: rc=$rc out=$out"
else
  echo "(unshare unavailable: skipped the no-/dev/fuse case)"
fi
echo PASS
