#!/bin/bash
# 2. Dedup: the same 100 MB file imported twice under two names grows the
# stored bytes by < 1%; a copy with a 4 KiB header in front grows them by
# < 10% of the file size (>= 90% of its content deduplicates).
source "$(dirname "$0")/lib.sh" "$@"

random_file "$WORK/a.bin" 100
SIZE=$(stat -c %s "$WORK/a.bin")
init_store
ck import "$WORK/a.bin" "$STORE:/first.bin" || fail "first import"
s1=$(stored_bytes)
log "after the first import: stored $s1 of $SIZE"
lt "$((SIZE * 9 / 10))" "$s1" || fail "stored bytes $s1 implausibly small for $SIZE random bytes"

ck import "$WORK/a.bin" "$STORE:/other/name.bin" || fail "second import"
s2=$(stored_bytes)
log "after the same file under another name: stored $s2 (+$((s2 - s1)))"
lt "$(( (s2 - s1) * 100 ))" "$s1" || fail "second copy grew stored bytes by $((s2 - s1)) (>= 1% of $s1)"
[ "$(stat_field "$STORE" logical_bytes)" -eq $((2 * SIZE)) ] || fail "logical_bytes is not 2 x $SIZE"

{ head -c 4096 /dev/urandom; cat "$WORK/a.bin"; } > "$WORK/hdr.bin"
ck import "$WORK/hdr.bin" "$STORE:/hdr.bin" || fail "import of the file with a header"
s3=$(stored_bytes)
log "after the 4 KiB-header variant: stored $s3 (+$((s3 - s2)))"
lt "$(( (s3 - s2) * 10 ))" "$SIZE" || fail "header variant grew stored bytes by $((s3 - s2)) (>= 10% of $SIZE)"

log "all three export identical"
ck export "$STORE:/" "$WORK/out" || fail "export"
cmp "$WORK/a.bin" "$WORK/out/first.bin" || fail "first.bin differs"
cmp "$WORK/a.bin" "$WORK/out/other/name.bin" || fail "other/name.bin differs"
cmp "$WORK/hdr.bin" "$WORK/out/hdr.bin" || fail "hdr.bin differs"
ck fsck "$STORE" >/dev/null || fail "fsck"
pass
