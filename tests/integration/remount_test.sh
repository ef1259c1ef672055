#!/bin/bash
# Data survives umount + mount byte-identical; deleted files stay deleted.
source "$(dirname "$0")/lib.sh"
require_fuse
fresh_mount
mkdir -p "$MNT/run/model_0000009" "$MNT/run/gone"
random_file "$MNT/run/model_0000009/model" 12
seq 1 200000 > "$MNT/run/model_0000009/optimizer"
echo model_0000009 > "$MNT/run/last_checkpoint"
echo bye > "$MNT/run/gone/file"
echo bye > "$MNT/run/deleted"
ln -s model_0000009 "$MNT/run/latest"
touch -d '2022-02-22 22:22:22' "$MNT/run/last_checkpoint"
chmod 600 "$MNT/run/model_0000009/optimizer"
rm -rf "$MNT/run/gone" "$MNT/run/deleted"
(cd "$MNT" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$WORK/before.sha"
(cd "$MNT" && find . -printf '%p %y %m %s %T@ %l\n' | sort) > "$WORK/before.meta"
umount_store
is_mounted "$MNT" && fail "still mounted after umount"
mount_store
(cd "$MNT" && sha256sum -c --quiet "$WORK/before.sha") || fail "content changed across remount"
(cd "$MNT" && find . -printf '%p %y %m %s %T@ %l\n' | sort) > "$WORK/after.meta"
diff "$WORK/before.meta" "$WORK/after.meta" || fail "metadata changed across remount"
[ ! -e "$MNT/run/deleted" ] && [ ! -e "$MNT/run/gone" ] || fail "deleted entries came back"
# Umount returns only after the daemon released the store: a remount right
# away must not find it locked.
for i in 1 2 3; do umount_store; mount_store; done
"$CKPTFS" fsck "$MNT" > /dev/null || fail "fsck after remounts"
umount_store
echo PASS
