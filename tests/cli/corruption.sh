#!/bin/bash
# 4. Corruption: one flipped byte inside a pack payload. fsck exits 1 and
# names the affected files; export refuses them (naming them, exit != 0 at the
# end) while the other files export correctly; wrong bytes are never written.
source "$(dirname "$0")/lib.sh" "$@"

S=$WORK/src
mkdir -p "$S/good/sub"
random_file "$S/victim.bin" 4
init_store
# Each import writes its own pack: pack 1 holds only the victim's chunks.
ck import "$S/victim.bin" "$STORE:/victim.bin" || fail "import victim"
ck import "$S/victim.bin" "$STORE:/copy/victim_dedup.bin" || fail "import victim again"
PACK=$(find "$STORE/packs" -type f -name '*.pack' | sort | head -n 1)
[ "$(find "$STORE/packs" -type f -name '*.pack' | wc -l)" -eq 1 ] || fail "expected one pack after the victim imports"
random_file "$S/good/a.bin" 3
cp "$DATA/fp32_weights_sample.bin" "$S/good/sub/weights.bin"
cp /usr/share/common-licenses/GPL-3 "$S/good/sub/GPL-3"
ck import "$S/good" "$STORE:/good" || fail "import good"
ck fsck "$STORE" >/dev/null || fail "fsck before the damage"

SIZE=$(stat -c %s "$PACK")
OFF=$((SIZE / 2))
[ "$OFF" -gt 28 ] || fail "pack $PACK too small ($SIZE)"
log "flip the byte at $OFF of $(basename "$PACK") ($SIZE bytes)"
"$PY" - "$PACK" "$OFF" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off); b = f.read(1)
    f.seek(off); f.write(bytes([b[0] ^ 0x5A]))
PY

log "fsck"
rc=0
out=$(ck fsck "$STORE" 2>&1) || rc=$?
echo "$out" | tail -n 8
[ "$rc" -eq 1 ] || fail "fsck exited $rc on a damaged store, expected 1"
grep -q "/victim.bin" <<<"$out" || fail "fsck does not name /victim.bin"
grep -q "/copy/victim_dedup.bin" <<<"$out" || fail "fsck does not name the deduplicated /copy/victim_dedup.bin"
grep -q "/good/" <<<"$out" && fail "fsck names an intact file under /good"
rc=0
json=$(ck fsck --json "$STORE" 2>/dev/null) || rc=$?
[ "$rc" -eq 1 ] || fail "fsck --json exited $rc, expected 1"
"$PY" -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["clean"] is False, r
files = sorted(r["affected_files"])
assert any(f.endswith("/victim.bin") for f in files), files
assert not any("/good/" in f for f in files), files
' "$json" || fail "fsck --json report wrong: $json"

log "export of the damaged file alone"
expect_fail 1 "victim\.bin" ck export "$STORE:/victim.bin" "$WORK/victim.out"
[ -e "$WORK/victim.out" ] && fail "export left $WORK/victim.out behind"
ls -A "$WORK" | grep -q '\.ckptfs-' && fail "export left a temporary file in $WORK"

log "export of the whole store"
expect_fail 1 "victim\.bin" ck export "$STORE:/" "$WORK/out"
grep -q "victim_dedup\.bin" <<<"$LAST_ERR" || fail "export does not name victim_dedup.bin: $LAST_ERR"
grep -q "good" <<<"$LAST_ERR" && fail "export reports an error on an intact file: $LAST_ERR"
diff -r "$S/good" "$WORK/out/good" || fail "intact files did not export identical"
for f in victim.bin copy/victim_dedup.bin; do
  if [ -e "$WORK/out/$f" ]; then
    cmp -s "$S/victim.bin" "$WORK/out/$f" || fail "export wrote wrong bytes to $f"
  fi
done
leftover=$(find "$WORK/out" -name '*.ckptfs-*')
[ -z "$leftover" ] || fail "export left temporary files: $leftover"
pass
