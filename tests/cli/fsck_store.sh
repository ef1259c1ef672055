#!/bin/bash
# fsck checks the store itself, not only the chunks: a damaged metadata
# database or sealed pack footer exits 1 with a message naming it, and the
# counts add up (a bad pack header fails every chunk in it, listed or not).
source "$(dirname "$0")/lib.sh" "$@"

S=$WORK/src
mkdir -p "$S"
random_file "$S/a.bin" 3
random_file "$S/b.bin" 3

# patch FILE OFFSET COUNT BYTE: overwrite COUNT bytes at OFFSET with BYTE.
patch() {
  "$PY" - "$@" <<'PY'
import sys
path, off, n, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4], 0)
with open(path, "r+b") as f:
    f.seek(off); f.write(bytes([b]) * n)
PY
}
fsck_json() { rc=0; json=$(ck fsck --json "$1" 2>/dev/null) || rc=$?; }

log "a damaged meta.db page: fsck exits 1 naming meta.db"
init_store "$WORK/m"
ck import "$S" "$WORK/m:/src" || fail "import"
ck fsck "$WORK/m" >/dev/null || fail "fsck before the damage"
patch "$WORK/m/meta.db" 4096 4096 0xA5
rc=0; out=$(ck fsck "$WORK/m" 2>&1) || rc=$?
echo "$out" | tail -n 4
[ "$rc" -eq 1 ] || fail "fsck exited $rc on a damaged meta.db, expected 1"
grep -q "meta.db" <<<"$out" || fail "fsck does not name meta.db: $out"
# every reported line is a listed error, a heading or the summary: a
# multi-line SQLite message must not leak unindented lines
bad=$(grep -vE '^(  |errors:|affected files:|ckptfs: )' <<<"$out" || true)
[ -z "$bad" ] || fail "fsck output has stray lines: $bad"

log "a damaged sealed pack footer: fsck exits 1 naming the pack"
init_store "$WORK/f"
ck import "$S" "$WORK/f:/src" || fail "import"
PACK=$(find "$WORK/f/packs" -type f -name '*.pack' | sort | head -n 1)
patch "$PACK" $(( $(stat -c %s "$PACK") - 30 )) 20 0x5A
fsck_json "$WORK/f"
[ "$rc" -eq 1 ] || fail "fsck exited $rc on a damaged footer, expected 1: $json"
"$PY" -c '
import json, sys
r = json.loads(sys.argv[1]); pack = sys.argv[2].rsplit("/", 1)[1]
assert r["clean"] is False and r["store_problems"] >= 1, r
assert any(pack in e and "footer" in e for e in r["errors"]), r["errors"]
' "$json" "$PACK" || fail "fsck --json does not report the footer: $json"

log "a damaged pack header: every chunk counted, a screenful listed"
init_store "$WORK/h" --chunk-avg 16K
ck import "$S" "$WORK/h:/src" || fail "import"
PACK=$(find "$WORK/h/packs" -type f -name '*.pack' | sort | head -n 1)
patch "$PACK" 0 4 0x00
fsck_json "$WORK/h"
[ "$rc" -eq 1 ] || fail "fsck exited $rc on a damaged header, expected 1"
"$PY" -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["bad_chunks"] == r["chunks_checked"] > 20, r  # one pack holds every chunk
listed = len(r["errors"])
assert listed <= 40 and not any(e.startswith("...") for e in r["errors"]), r["errors"]
assert listed + r["errors_omitted"] == r["bad_chunks"] + r["store_problems"], r
assert sorted(f.rsplit("/", 1)[1] for f in r["affected_files"]) == ["a.bin", "b.bin"], r
' "$json" || fail "fsck counts wrong: $json"
rc=0; out=$(ck fsck "$WORK/h" 2>&1) || rc=$?
n=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["bad_chunks"])' "$json")
grep -q "fsck found $n bad chunk" <<<"$out" || fail "fsck summary does not count $n bad chunks: $(tail -n 2 <<<"$out")"
pass
