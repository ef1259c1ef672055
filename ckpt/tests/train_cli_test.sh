#!/usr/bin/env bash
# ckptfs-train's command line: exit 2 on bad usage, 1 on runtime errors with
# the path and cause, never an abort; a failed load leaves the checkpoint.
set -uo pipefail
TRAIN=${1:?usage: train_cli_test.sh path/to/ckptfs-train}
tmp=$(mktemp -d /tmp/ckpt_cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

expect() {  # expect RC PATTERN -- ARGS...
  local want=$1 pattern=$2; shift 3
  "$TRAIN" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  [ $rc -eq "$want" ] || fail "'$*' exited $rc, expected $want: $(cat "$tmp/err")"
  grep -q -- "$pattern" "$tmp/err" "$tmp/out" || fail "'$*' output lacks '$pattern': $(cat "$tmp/err")"
}

expect 0 "--output" -- --help
expect 2 "output" -- --iters 3
expect 2 "bogus" -- --output "$tmp/x" --bogus
expect 2 "iters" -- --output "$tmp/x" --iters abc
expect 2 "model-size" -- --output "$tmp/x" --model-size huge
expect 2 "staging-budget" -- --output "$tmp/x" --staging-budget lots
# Usage errors are caught before training, with a readable range, and
# every message is prefixed with the program's name.
expect 2 "^ckptfs-train: .*iters.*not in range 1 to" -- --output "$tmp/x" --iters 0
grep -q "000000" "$tmp/err" && fail "a range message prints doubles: $(cat "$tmp/err")"
expect 2 "period" -- --output "$tmp/x" --period -5
expect 2 "output.*must not be empty" -- --output ""
expect 2 "max-to-keep" -- --output "$tmp/x" --max-to-keep 0
expect 2 "positive finite" -- --output "$tmp/x" --lr nan
expect 2 "positive finite" -- --output "$tmp/x" --lr -1
[ -e "$tmp/x" ] && fail "a usage error created the output directory"
touch "$tmp/file"
expect 1 "$tmp/file" -- --output "$tmp/file/run" --iters 2 --model-size tiny
expect 1 "No such file or directory" -- --output "$tmp/y" --iters 2 --data "$tmp/nodata"

# A corrupt checkpoint on --resume: exit 1 naming the file; nothing rewritten.
"$TRAIN" --output "$tmp/run" --iters 4 --period 2 --model-size tiny --stop-after 2 >/dev/null 2>&1 \
  || fail "training run failed"
f="$tmp/run/model_0000001/graph"
size=$(stat -c %s "$f")
truncate -s $((size / 2)) "$f"
sum_before=$(md5sum "$tmp/run/model_0000001/model")
expect 1 "$f" -- --output "$tmp/run" --iters 4 --period 2 --model-size tiny --resume
[ "$(cat "$tmp/run/last_checkpoint")" = model_0000001 ] || fail "last_checkpoint changed"
[ "$(md5sum "$tmp/run/model_0000001/model")" = "$sum_before" ] || fail "checkpoint changed"
echo ok
