#!/bin/bash
# `cp -r model_0000009 model_best` inside the mount grows the store < 1%.
source "$(dirname "$0")/lib.sh"
require_fuse
fresh_mount
mkdir "$MNT/model_0000009"
random_file "$MNT/model_0000009/model" 24
random_file "$MNT/model_0000009/optimizer" 8
echo '{"iteration": 9}' > "$MNT/model_0000009/extra"
sync
before=$(stored_bytes)
cp -r "$MNT/model_0000009" "$MNT/model_best"
sync
after=$(stored_bytes)
echo "stored bytes: before=$before after=$after"
[ "$before" -gt $((30 * 1048576)) ] || fail "store holds less than the data written ($before)"
[ $(( (after - before) * 100 )) -lt "$before" ] || fail "store grew by $((after - before)) bytes (>= 1%)"
diff -r "$MNT/model_0000009" "$MNT/model_best" || fail "copy differs"
"$CKPTFS" stats "$MNT" | grep -q "dedup ratio" || fail "human stats table"
"$CKPTFS" stats --json "$MNT" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
for k in ("logical_bytes", "stored_bytes", "files", "chunks", "unique_chunks", "dedup_ratio", "compression_ratio"):
    assert k in s, k
assert s["dedup_ratio"] > 1.8, s' || fail "stats --json"
umount_store
echo PASS
