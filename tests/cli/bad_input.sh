#!/bin/bash
# 6. Bad input: each case gives a clear message naming the path, a non-zero
# exit (1 runtime error, 2 bad usage), and leaves the store unchanged.
source "$(dirname "$0")/lib.sh" "$@"

# snapshot DIR: every file's relative path, size, mtime and sha256, so that
# any change to meta.db (or its WAL), ckptfs.json or the packs shows. Not
# compared: the lock file, SQLite's shared-memory index meta.db-shm and an
# empty meta.db-wal, which any reader (even read-only) may create.
snapshot() {
  local sel=(-type f ! -name lock ! -name meta.db-shm ! \( -name meta.db-wal -empty \))
  (cd "$1" && find . "${sel[@]}" -printf '%P %s %T@\n' | sort &&
     find . "${sel[@]}" -print0 | sort -z | xargs -0 sha256sum)
}
# unchanged DIR SNAPFILE WHAT
unchanged() { diff "$2" <(snapshot "$1") >&2 || fail "$3 changed the store $1"; }

init_store
mkdir -p "$WORK/src/d"
cp "$DATA/fp32_weights_sample.bin" "$WORK/src/d/w.bin"
echo hello > "$WORK/src/hello.txt"
ck import "$WORK/src" "$STORE:/data" || fail "setup import"
snapshot "$STORE" > "$WORK/snap"

log "init on a non-empty directory that is not a store"
mkdir "$WORK/notastore"
echo keep > "$WORK/notastore/file"
expect_fail 1 "$WORK/notastore.*not empty" ck init "$WORK/notastore"
[ "$(ls -A "$WORK/notastore")" = file ] && [ "$(cat "$WORK/notastore/file")" = keep ] ||
  fail "init touched $WORK/notastore: $(ls -A "$WORK/notastore")"
log "init on an existing store"
expect_fail 1 "$STORE" ck init "$STORE"
unchanged "$STORE" "$WORK/snap" "init on an existing store"

log "import of a missing path"
expect_fail 1 "$WORK/missing.*(no such file|not found)" ck import "$WORK/missing" "$STORE:/x"
unchanged "$STORE" "$WORK/snap" "import of a missing path"
log "import into a path under a file"
expect_fail 1 "/data/hello.txt" ck import "$WORK/src/d" "$STORE:/data/hello.txt/sub"
unchanged "$STORE" "$WORK/snap" "import under a file"
log "export/ls/rm of a missing store path"
expect_fail 1 "/nope" ck export "$STORE:/nope" "$WORK/nope.out"
[ -e "$WORK/nope.out" ] && fail "export of a missing path created its destination"
expect_fail 1 "/nope" ck ls "$STORE:/nope"
expect_fail 1 "/nope" ck rm "$STORE:/nope"
expect_fail 1 "/data" ck rm "$STORE:/data"   # a directory without -r
unchanged "$STORE" "$WORK/snap" "export/ls/rm of missing paths"
log "a directory that is not a store"
for cmd in ls stats fsck gc; do
  expect_fail 1 "$WORK/notastore" ck "$cmd" "$WORK/notastore"
done
expect_fail 1 "$WORK/notastore" ck import "$WORK/src" "$WORK/notastore:/x"
[ "$(ls -A "$WORK/notastore")" = file ] || fail "commands wrote into a non-store: $(ls -A "$WORK/notastore")"

# damaged COPY: every command refuses it, naming the file, and leaves it as is.
refuses_damaged() {
  local st=$1 pattern=$2 what=$3
  snapshot "$st" > "$WORK/snap.$what"
  for cmd in ls stats fsck gc; do
    expect_fail 1 "$pattern" ck "$cmd" "$st"
  done
  expect_fail 1 "$pattern" ck import "$WORK/src" "$st:/more"
  expect_fail 1 "$pattern" ck export "$st:/data" "$WORK/out.$what"
  expect_fail 1 "$pattern" ck rm -r "$st:/data"
  [ -e "$WORK/out.$what" ] && fail "export from a $what store wrote $WORK/out.$what"
  unchanged "$st" "$WORK/snap.$what" "commands on a $what store"
}

log "a store with a newer format version"
cp -a "$STORE" "$WORK/v99"
"$PY" -c '
import json, sys
p = sys.argv[1] + "/ckptfs.json"
d = json.load(open(p)); d["format_version"] = 99
json.dump(d, open(p, "w"), indent=2)' "$WORK/v99"
refuses_damaged "$WORK/v99" "$WORK/v99/ckptfs.json.*(version|newer)" v99

log "a truncated meta.db"
cp -a "$STORE" "$WORK/trunc"
rm -f "$WORK/trunc"/meta.db-wal "$WORK/trunc"/meta.db-shm
truncate -s $(( $(stat -c %s "$WORK/trunc/meta.db") / 2 )) "$WORK/trunc/meta.db"
refuses_damaged "$WORK/trunc" "$WORK/trunc/meta.db" truncated

log "a garbage meta.db"
cp -a "$STORE" "$WORK/garbage"
rm -f "$WORK/garbage"/meta.db-wal "$WORK/garbage"/meta.db-shm
head -c "$(stat -c %s "$WORK/garbage/meta.db")" /dev/urandom > "$WORK/garbage/meta.db"
refuses_damaged "$WORK/garbage" "$WORK/garbage/meta.db" garbage

log "an empty meta.db"
cp -a "$STORE" "$WORK/empty"
rm -f "$WORK/empty"/meta.db-wal "$WORK/empty"/meta.db-shm
: > "$WORK/empty/meta.db"
refuses_damaged "$WORK/empty" "$WORK/empty" empty-db

log "a second process on a locked store (flock held on STORE/lock)"
# One process holds the flock (flock(1) would leave a child holding it too).
"$PY" -c '
import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(60)' "$STORE/lock" &
BG_PIDS+=($!)
for _ in $(seq 50); do flock -n "$STORE/lock" true 2>/dev/null || break; sleep 0.1; done
flock -n "$STORE/lock" true 2>/dev/null && fail "could not take the lock for the test"
expect_fail 1 "$STORE.*lock" timeout 20 "$CKPTFS" import "$WORK/src" "$STORE:/more"
expect_fail 1 "$STORE.*lock" timeout 20 "$CKPTFS" rm "$STORE:/data/hello.txt"
expect_fail 1 "$STORE.*lock" timeout 20 "$CKPTFS" gc "$STORE"
# Read-only commands do not take the lock (documented: they may run beside a
# writer, e.g. a mount daemon).
ck ls "$STORE:/data" | grep -q hello.txt || fail "ls of a locked store"
unchanged "$STORE" "$WORK/snap" "commands on a locked store"
kill "${BG_PIDS[-1]}"; wait "${BG_PIDS[-1]}" 2>/dev/null || true

log "a real import holds the lock"
random_file "$WORK/big.bin" 200
"$CKPTFS" import "$WORK/big.bin" "$STORE:/big.bin" &
imp=$!
BG_PIDS+=($imp)
# Wait until it writes its pack (probing with flock -n would itself take the
# lock for an instant and could make the import fail).
packs0=$(ls "$STORE/packs" | wc -l)
for _ in $(seq 200); do [ "$(ls "$STORE/packs" | wc -l)" -gt "$packs0" ] && break; sleep 0.01; done
if kill -0 "$imp" 2>/dev/null; then
  expect_fail 1 "$STORE.*lock" "$CKPTFS" import "$WORK/src" "$STORE:/second"
else
  echo "    (the import finished before a second one could start; skipped)"
fi
wait "$imp" || fail "the background import failed"
ck ls "$STORE:/" | grep -q second && fail "the refused import left /second"

log "--help on every command exits 0"
ck --help | grep -q import || fail "ckptfs --help"
for cmd in init mount umount import export ls rm stats fsck gc demo; do
  out=$(ck "$cmd" --help) || fail "ckptfs $cmd --help exited $?"
  grep -qi "usage" <<<"$out" || fail "ckptfs $cmd --help prints no usage"
done

log "bad usage exits 2"
expect_fail 2 "." ck
expect_fail 2 "." ck no-such-command
expect_fail 2 "." ck --no-such-flag
for cmd in init import export ls rm stats fsck gc mount umount; do
  expect_fail 2 "required|usage|help" ck "$cmd"
done
expect_fail 2 "required|usage|help" ck import "$WORK/src"
expect_fail 2 "required|usage|help" ck export "$STORE:/data"
expect_fail 2 "." ck fsck --no-such-flag "$STORE"
expect_fail 2 "." ck init --zstd-level 99 "$WORK/newstore"
[ -e "$WORK/newstore" ] && fail "init with a bad level created $WORK/newstore"
expect_fail 2 "." ck init --chunk-avg 3000 "$WORK/newstore"
[ -e "$WORK/newstore" ] && fail "init with a bad chunk size created $WORK/newstore"

log "not a store: init is suggested only for an empty directory"
mkdir -p "$WORK/hint_empty" "$WORK/hint_full" && touch "$WORK/hint_full/x"
expect_fail 1 "create one with .ckptfs init $WORK/hint_empty" ck ls "$WORK/hint_empty"
expect_fail 1 "give the store directory" ck ls "$WORK/hint_full"
grep -q "ckptfs init $WORK/hint_full" <<<"$LAST_ERR" && fail "suggested init on a non-empty directory: $LAST_ERR"

log "parser errors carry the ckptfs: prefix and point at the command's help"
expect_fail 2 "^ckptfs: .*STORE is required.*ckptfs init --help" ck init
expect_fail 2 "^ckptfs: .*zstd-level" ck init --zstd-level abc "$WORK/newstore"
expect_fail 2 "^ckptfs: .*timeout" ck umount "$WORK" --timeout abc

ck fsck "$STORE" >/dev/null || fail "fsck at the end"
pass
