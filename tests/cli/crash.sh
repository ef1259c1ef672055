#!/bin/bash
# 5. Crash: SIGKILL of `ckptfs import` at random moments, 10+ times, into one
# store. After each kill fsck is clean (exit 0) and everything an earlier,
# completed import committed exports byte-identical.
#
# What the tool guarantees (checked below): import writes each file under a
# temporary name (.NAME.ckptfs-import) and renames it when complete, so every
# file under its final name is complete; the file the killed import was
# writing may exist only under its temporary name, holding at most a prefix
# of its data. The next import of that name replaces it.
# A torn pack tail is garbage that fsck tolerates and gc reclaims.
source "$(dirname "$0")/lib.sh" "$@"
KILLS=${CRASH_KILLS:-10}     # kills that must land while the import runs
MAX_ROUNDS=$((KILLS * 2))

# make_tree DIR: files of 20-50 MB of fresh random data (fresh each round, so
# a round cannot finish early by deduplicating against the previous one),
# plus small files and nested directories.
make_tree() {
  mkdir -p "$1/a/b" "$1/c"
  random_file "$1/a/b/big1.bin" 20
  random_file "$1/c/big2.bin" 25
  head -c $((30 * 1048576 + 4321)) /dev/urandom > "$1/big3.bin"
  cp "$DATA/fp32_weights_sample.bin" "$1/a/weights.bin"
  cp /usr/share/common-licenses/GPL-3 "$1/a/b/GPL-3"
  head -c 1000 /dev/urandom > "$1/c/small.bin"
}

init_store
log "one complete import"
make_tree "$WORK/base"
t_start=$("$PY" -c 'import time; print(time.time())')
ck import "$WORK/base" "$STORE:/complete" || fail "the complete import failed"
# Kill moments: uniform in [0.05 s, min(1.5 s, how long an import takes)], so
# that they spread over the whole import rather than land after its end.
t_max=$("$PY" -c 'import sys,time; print(max(0.2, min(1.5, time.time() - float(sys.argv[1]))))' "$t_start")
log "a whole import took up to ${t_max}s here"
ck export "$STORE:/complete" "$WORK/complete.out" || fail "export of /complete"
same_tree "$WORK/base" "$WORK/complete.out"
rm -rf "$WORK/complete.out"

# check_partial ROUND SRC: every file of /round_N is the source's, or an
# empty or shorter prefix of it (a file the kill interrupted).
check_partial() {
  local n=$1 src=$2 out=$WORK/round.out
  rm -rf "$out"
  ck ls "$STORE:/" | grep -q "round_$n" || { echo "    round_$n: nothing committed"; return 0; }
  ck export "$STORE:/round_$n" "$out" || fail "round $n: export after the kill exited $?"
  local f whole=0 partial=0
  while read -r f; do
    local base dir orig
    base=$(basename "$f") dir=$(dirname "$f")
    if [[ $base == .*.ckptfs-import ]]; then
      # The file the kill interrupted: only under its temporary name, and
      # holding at most a prefix of the source.
      orig=${base#.}
      orig=$dir/${orig%.ckptfs-import}
      [ -f "$src/$orig" ] || fail "round $n: $f is not the temp name of a source file"
      local sz
      sz=$(stat -c %s "$out/$f")
      cmp -s -n "$sz" "$src/$orig" "$out/$f" || fail "round $n: $f holds bytes that are not a prefix of the source"
      partial=$((partial + 1))
      continue
    fi
    [ -f "$src/$f" ] || fail "round $n: $f exported but not in the source"
    cmp -s "$src/$f" "$out/$f" || fail "round $n: $f is under its final name but incomplete"
    whole=$((whole + 1))
  done < <(cd "$out" && find . -type f | sed 's|^\./||')
  echo "    round_$n: $whole complete, $partial partial file(s)"
  rm -rf "$out"
}

killed=0
n=0
while [ "$killed" -lt "$KILLS" ] && [ "$n" -lt "$MAX_ROUNDS" ]; do
  n=$((n + 1))
  rm -rf "$WORK/src"
  make_tree "$WORK/src"
  delay=$("$PY" -c 'import random,sys; print(round(random.uniform(0.05, float(sys.argv[1])), 3))' "$t_max")
  # Not through the ck function: $! must be ckptfs itself, not a subshell.
  "$CKPTFS" import "$WORK/src" "$STORE:/round_$n" 2>/dev/null &
  pid=$!
  BG_PIDS+=("$pid")
  sleep "$delay"
  if kill -9 "$pid" 2>/dev/null; then
    killed=$((killed + 1))
    state=killed
  else
    state="had finished"
  fi
  rc=0
  wait "$pid" 2>/dev/null || rc=$?
  log "round $n: SIGKILL after ${delay}s ($state, exit $rc)"
  out=$(ck fsck "$STORE" 2>&1) || fail "round $n: fsck after the kill is not clean: $out"
  check_partial "$n" "$WORK/src"
  # The store still takes writes after the kill.
  ck import "$DATA/fp32_weights_sample.bin" "$STORE:/after_$n.bin" || fail "round $n: import after the kill"
done
[ "$killed" -ge "$KILLS" ] || fail "only $killed of $n imports were killed mid-way"

log "after $killed kills: the complete import, gc, fsck"
ck export "$STORE:/complete" "$WORK/complete.out" || fail "export of /complete after the kills"
same_tree "$WORK/base" "$WORK/complete.out"
rm -rf "$WORK/complete.out"
ck gc "$STORE" >/dev/null || fail "gc after the kills"
ck fsck "$STORE" >/dev/null || fail "fsck after gc"
ck export "$STORE:/complete" "$WORK/complete.out" || fail "export of /complete after gc"
same_tree "$WORK/base" "$WORK/complete.out"
ck export "$STORE:/after_1.bin" "$WORK/after.bin" && cmp "$DATA/fp32_weights_sample.bin" "$WORK/after.bin" ||
  fail "a file imported after a kill did not survive"
pass
