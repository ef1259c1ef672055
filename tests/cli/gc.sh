#!/bin/bash
# 7. gc: after `ckptfs rm`, `ckptfs gc` reports bytes reclaimed > 0 and the
# pack bytes on disk shrink; the remaining files export identical; fsck clean.
source "$(dirname "$0")/lib.sh" "$@"

S=$WORK/src
mkdir -p "$S/mix" "$S/keep"
random_file "$S/alone.bin" 24                       # a pack of its own (its own import)
random_file "$S/mix/big.bin" 30                     # shares a pack with small.bin
random_file "$S/mix/small.bin" 4
cp "$DATA/fp32_weights_sample.bin" "$S/mix/weights.bin"
random_file "$S/keep/shared.bin" 8                  # referenced twice (dedup)
cp /usr/share/common-licenses/GPL-3 "$S/keep/GPL-3"

init_store
ck import "$S/alone.bin" "$STORE:/alone.bin" || fail "import alone.bin"
ck import "$S/mix" "$STORE:/mix" || fail "import mix"
ck import "$S/keep" "$STORE:/keep" || fail "import keep"
ck import "$S/keep/shared.bin" "$STORE:/shared_copy.bin" || fail "import shared_copy.bin"

# gc_round WHAT EXPECTED_MIN_RECLAIM: run gc, check its report and the disk.
gc_round() {
  local what=$1 min=$2 before after json reclaimed
  before=$(pack_bytes_on_disk)
  json=$(ck gc --json "$STORE") || fail "gc after $what exited $?"
  reclaimed=$(json_get bytes_reclaimed <<<"$json")
  after=$(pack_bytes_on_disk)
  log "gc after $what: reclaimed $reclaimed; packs on disk $before -> $after; $(tr -d '\n ' <<<"$json")"
  [ "$reclaimed" -ge "$min" ] || fail "gc after $what reclaimed $reclaimed < $min"
  [ "$after" -le $((before - min)) ] || fail "gc after $what: packs on disk $before -> $after, expected to shrink by >= $min"
  ck fsck "$STORE" >/dev/null || fail "fsck after gc ($what)"
}

log "rm of a file that has a pack to itself"
ck rm "$STORE:/alone.bin" || fail "rm /alone.bin"
ck ls "$STORE:/" | grep -q alone.bin && fail "/alone.bin still listed after rm"
gc_round "rm /alone.bin" $((24 * 1048576))

log "rm of a file that shares its pack with live data (compaction)"
ck rm "$STORE:/mix/big.bin" || fail "rm /mix/big.bin"
gc_round "rm /mix/big.bin" $((29 * 1048576))

log "rm of one of two names of deduplicated data reclaims nothing of it"
s0=$(stored_bytes)
ck rm "$STORE:/keep/shared.bin" || fail "rm /keep/shared.bin"
ck gc "$STORE" >/dev/null || fail "gc after rm of a shared file"
[ "$(stored_bytes)" -eq "$s0" ] || fail "gc dropped data still referenced by /shared_copy.bin"

log "rm -r of a directory"
ck rm -r "$STORE:/mix" || fail "rm -r /mix"
gc_round "rm -r /mix" $((4 * 1048576))

log "a second gc has nothing to do"
json=$(ck gc --json "$STORE") || fail "second gc"
[ "$(json_get bytes_reclaimed <<<"$json")" -eq 0 ] || fail "second gc reclaimed more: $json"

log "what remains exports identical"
ck export "$STORE:/" "$WORK/out" || fail "export after gc"
[ "$(cd "$WORK/out" && find . -mindepth 1 | sort | tr '\n' ' ')" = \
  "./keep ./keep/GPL-3 ./shared_copy.bin " ] || fail "unexpected tree after rm: $(cd "$WORK/out" && find . | sort)"
cmp "$S/keep/GPL-3" "$WORK/out/keep/GPL-3" || fail "keep/GPL-3 differs"
cmp "$S/keep/shared.bin" "$WORK/out/shared_copy.bin" || fail "shared_copy.bin differs"
ck fsck "$STORE" >/dev/null || fail "fsck at the end"
pass
