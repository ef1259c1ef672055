#!/bin/bash
# 1. Round trip: import a tree, export it; the copy equals the source under
# diff -r, and modes, mtimes (to the second) and symlinks are kept.
source "$(dirname "$0")/lib.sh" "$@"

S=$WORK/src
mkdir -p "$S/l1/l2/l3" "$S/empty_dir"
cp "$DATA/fp32_weights_sample.bin" "$S/l1/l2/l3/weights.bin"
random_file "$S/l1/random.bin" 3
head -c 12345 /dev/urandom >> "$S/l1/random.bin"   # not a multiple of anything
cp /usr/share/common-licenses/GPL-3 "$S/l1/l2/GPL-3"
: > "$S/empty"
ln -s l1/l2/GPL-3 "$S/link_rel"
ln -s /nonexistent/dangling "$S/link_dangling"
echo secret > "$S/l1/private"; chmod 0600 "$S/l1/private"
printf '#!/bin/sh\necho hi\n' > "$S/run.sh"; chmod 0755 "$S/run.sh"
chmod 0750 "$S/l1/l2"
# Old, distinct mtimes, so that "kept" cannot pass by accident (files, dirs,
# symlinks; the directories last, since creating entries changes them).
i=0
while read -r p; do
  i=$((i + 1))
  touch -h -d "@$((1500000000 + i * 86400 + 7))" "$p"
done < <(find "$S" -depth)

log "import"
init_store
ck import "$S" "$STORE:/tree" || fail "import exited $?"
log "export"
ck export "$STORE:/tree" "$WORK/out" || fail "export exited $?"
same_tree "$S" "$WORK/out"

log "export of a single file keeps its mode and mtime"
ck export "$STORE:/tree/l1/private" "$WORK/private.out" || fail "export of one file"
cmp "$S/l1/private" "$WORK/private.out" || fail "single-file export differs"
[ "$(stat -c '%a %Y' "$S/l1/private")" = "$(stat -c '%a %Y' "$WORK/private.out")" ] ||
  fail "single-file export: mode/mtime $(stat -c '%a %Y' "$WORK/private.out") != $(stat -c '%a %Y' "$S/l1/private")"

log "ls shows the tree"
ck ls "$STORE:/tree" | grep -q 'link_rel -> l1/l2/GPL-3' || fail "ls lacks the symlink: $(ck ls "$STORE:/tree")"

ck fsck "$STORE" >/dev/null || fail "fsck after import"
pass
