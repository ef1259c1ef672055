#!/bin/bash
# The FUSE-less commands (import, export, ls, rm, stats, fsck, gc) and the
# mount.ckptfs option translation.
source "$(dirname "$0")/lib.sh"
C=$CKPTFS
SRC=$WORK/src
mkdir -p "$SRC/run/model_0000001" "$SRC/empty-dir"
random_file "$SRC/run/model_0000001/model" 6
seq 1 50000 > "$SRC/run/model_0000001/optimizer"
echo model_0000001 > "$SRC/run/last_checkpoint"
ln -s model_0000001 "$SRC/run/latest"
ln "$SRC/run/last_checkpoint" "$SRC/run/hardlink"
chmod 750 "$SRC/run/model_0000001"
touch -d '2019-09-09 09:09:09.5' "$SRC/run/model_0000001/optimizer"
init_store

log "import a tree, export it back"
"$C" import "$SRC" "$STORE:/imported" || fail "import"
"$C" ls "$STORE:/imported/run" | grep -q "latest -> model_0000001" || fail "ls shows symlink"
"$C" ls "$STORE" | grep -q imported || fail "ls of the root"
"$C" export "$STORE:/imported" "$WORK/out" || fail "export"
diff -r "$SRC" "$WORK/out" || fail "export differs from source"
[ "$(stat -c '%a %y' "$SRC/run/model_0000001/optimizer")" = \
  "$(stat -c '%a %y' "$WORK/out/run/model_0000001/optimizer")" ] || fail "mode/mtime not kept"
[ "$(stat -c %a "$WORK/out/run/model_0000001")" = 750 ] || fail "dir mode not kept"
[ "$(stat -c %i "$WORK/out/run/hardlink")" = "$(stat -c %i "$WORK/out/run/last_checkpoint")" ] ||
  fail "hard link not kept"
[ -z "$(find "$WORK/out" -name '.*ckptfs-*')" ] || fail "export left temporary files"

log "single files: into a directory and to a name"
"$C" import "$SRC/run/last_checkpoint" "$STORE:/imported" || fail "import file into dir"
"$C" import "$SRC/run/last_checkpoint" "$STORE:/renamed" || fail "import file to a name"
"$C" export "$STORE:/renamed" "$WORK/one" && cmp "$WORK/one" "$SRC/run/last_checkpoint" || fail "export one file"
mkdir "$WORK/intodir" && "$C" export "$STORE:/renamed" "$WORK/intodir" && [ -f "$WORK/intodir/renamed" ] ||
  fail "export a file into a directory"

log "stats / fsck / gc on an unmounted store"
"$C" stats --json "$STORE" | json_get logical_bytes | grep -qv '^0$' || fail "stats logical_bytes"
"$C" fsck "$STORE" || fail "fsck of a clean store"
"$C" rm "$STORE:/renamed" || fail "rm file"
expect_fail 1 "is a directory" "$C" rm "$STORE:/imported"
"$C" rm -r "$STORE:/imported" || fail "rm -r"
"$C" ls "$STORE" | grep -q imported && fail "rm -r left the directory"
expect_fail 1 "imported" "$C" ls "$STORE:/imported"
"$C" gc "$STORE" | grep -q reclaimed || fail "gc"

log "a corrupt chunk: export names the file, continues, exits 1; fsck names it"
rm -rf "$STORE" && init_store
mkdir "$WORK/c" && random_file "$WORK/c/victim" 8 && echo fine > "$WORK/c/zz-fine"
"$C" import "$WORK/c/victim" "$STORE:/victim" && "$C" import "$WORK/c/zz-fine" "$STORE:/zz-fine" || fail "import"
pack=$(find "$STORE/packs" -type f | sort | head -1)
[ -n "$pack" ] || fail "no pack file in $STORE/packs"
printf 'CORRUPTCORRUPT' | dd of="$pack" bs=1 seek=$((2 * 1048576)) conv=notrunc status=none
rc=0
out=$("$C" export "$STORE" "$WORK/cout" 2>&1) || rc=$?
[ $rc -eq 1 ] || fail "export of a corrupt store exited $rc"
echo "$out" | grep -q victim || fail "export error does not name the file: $out"
[ "$(cat "$WORK/cout/zz-fine")" = fine ] || fail "export stopped at the corrupt file"
[ ! -e "$WORK/cout/victim" ] || fail "half-written file left under its final name"
rc=0
out=$("$C" fsck "$STORE" 2>&1) || rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "/victim" || fail "fsck: rc=$rc out=$out"

log "mount.ckptfs translates mount(8) arguments"
MOUNT_HELPER=${MOUNT_CKPTFS:-$(dirname "$C")/mount.ckptfs}
fake=$WORK/fake-ckptfs
printf '#!/bin/sh\necho "$@"\n' > "$fake" && chmod +x "$fake"
got=$(CKPTFS_BIN=$fake "$MOUNT_HELPER" /data/ckpt /mnt/output -o defaults,_netdev,rw,noauto,nofail,x-systemd.automount)
[ "$got" = "mount /data/ckpt /mnt/output" ] || fail "defaults: got '$got'"
got=$(CKPTFS_BIN=$fake "$MOUNT_HELPER" -n /data/ckpt /mnt/output -o _netdev,allow_other,ro,cache_size=1G)
[ "$got" = "mount -o allow_other,ro,cache_size=1G /data/ckpt /mnt/output" ] || fail "options: got '$got'"
rc=0; CKPTFS_BIN=$fake "$MOUNT_HELPER" /only-one 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "mount.ckptfs with one argument exited $rc"
"$MOUNT_HELPER" --help | grep -q "usage: mount.ckptfs" || fail "mount.ckptfs --help"
rc=0; err=$(CKPTFS_BIN=$fake "$MOUNT_HELPER" /data/ckpt /mnt/output -o 2>&1) || rc=$?
[ $rc -eq 2 ] && grep -q "needs a value" <<<"$err" || fail "mount.ckptfs -o without a value: rc=$rc $err"
echo PASS
