#!/bin/bash
# After kill -9 of the daemon, `ckptfs mount` on the same mountpoint clears
# the dead mount and mounts again - also when the kernel still holds cached
# attributes of the mountpoint (nothing written to the mount root since the
# first lookup), so stat() on it does not fail with ENOTCONN.
source "$(dirname "$0")/lib.sh"
require_fuse
fresh_mount
mkdir "$MNT/output"
stat "$MNT" > /dev/null
random_file "$MNT/output/f" 20
sha=$(sha256sum < "$MNT/output/f")
pid=$(daemon_pid) || fail "no daemon pid"
kill -9 "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
# Commands that would talk to the daemon, or open the store, name the dead
# mount and the command that clears it.
for cmd in "stats $STORE" "fsck $MNT" "gc $STORE" "ls $STORE"; do
  out=$("$CKPTFS" $cmd 2>&1) && fail "ckptfs $cmd succeeded against a dead mount"
  echo "$out" | grep -q "its daemon is gone.*ckptfs umount $MNT" ||
    fail "ckptfs $cmd did not explain the dead mount: $out"
done
mount_store || fail "mount after kill -9 refused"
[ "$(sha256sum < "$MNT/output/f")" = "$sha" ] || fail "closed file changed after the crash"
"$CKPTFS" fsck "$MNT" > /dev/null || fail "fsck after remount"
umount_store
echo PASS
