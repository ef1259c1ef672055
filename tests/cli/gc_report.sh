#!/bin/bash
# gc's bytes_reclaimed matches what the pack files on disk actually shrank by,
# also when gc compacts a pack (copies its live records to a new pack) rather
# than deleting it whole: the rewritten live bytes are not reclaimed.
source "$(dirname "$0")/lib.sh" "$@"

mkdir -p "$WORK/mix"
random_file "$WORK/mix/big.bin" 20
random_file "$WORK/mix/live.bin" 8    # live ratio 8/28 < 0.5: gc compacts
init_store
ck import "$WORK/mix" "$STORE:/mix" || fail "import"
ck rm "$STORE:/mix/big.bin" || fail "rm"
before=$(pack_bytes_on_disk)
json=$(ck gc --json "$STORE") || fail "gc exited $?"
after=$(pack_bytes_on_disk)
reported=$(json_get bytes_reclaimed <<<"$json")
log "gc: $(tr -d '\n ' <<<"$json"); packs on disk $before -> $after (shrank by $((before - after)))"
[ "$(json_get packs_compacted <<<"$json")" -ge 1 ] || fail "gc did not compact (test premise)"
slack=65536   # pack header/footer of the new pack
[ "$reported" -le $((before - after + slack)) ] && [ "$reported" -ge $((before - after - slack)) ] ||
  fail "gc reports $reported bytes reclaimed, but the packs on disk shrank by $((before - after))"
ck export "$STORE:/mix/live.bin" "$WORK/live.out" && cmp "$WORK/mix/live.bin" "$WORK/live.out" || fail "live.bin after gc"
ck fsck "$STORE" >/dev/null || fail "fsck"
pass
