# Shared setup for the CLI acceptance tests (sourced, not run). They drive the
# `ckptfs` binary without FUSE (init/import/export/ls/rm/stats/fsck/gc), so they
# run anywhere.
#
# Usage from a test:  source "$(dirname "$0")/lib.sh" "$@"
#   $1 (or $CKPTFS) is the ckptfs binary. Each test gets a fresh temp dir
#   $WORK (removed on exit, whatever happens) and a store path $STORE in it.
set -euo pipefail

CKPTFS=${1:-${CKPTFS:-}}
[ -n "$CKPTFS" ] || { echo "usage: $0 PATH/TO/ckptfs (or set CKPTFS)" >&2; exit 2; }
CKPTFS=$(readlink -f "$CKPTFS")
[ -x "$CKPTFS" ] || { echo "not executable: $CKPTFS" >&2; exit 2; }
# Debian's python3 has numpy (python3-numpy); a pyenv shim may not.
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATA=$SRC_DIR/tests/data

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ckptfs-cli.XXXXXX")
STORE=$WORK/store
BG_PIDS=()
T0=$SECONDS

fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "--- [$((SECONDS - T0))s] $*"; }
pass() { echo "PASS ($((SECONDS - T0))s)"; exit 0; }

cleanup() {
  local rc=$?
  local p
  for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK" || true
  exit $rc
}
trap cleanup EXIT

ck() { "$CKPTFS" "$@"; }
init_store() { ck init "${1:-$STORE}" "${@:2}" >/dev/null; }

# json_get KEY < json: one top-level field.
json_get() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
stat_field() { ck stats --json "$1" | json_get "$2"; }
stored_bytes() { stat_field "${1:-$STORE}" stored_bytes; }
# Sum of the sizes of the pack files on disk.
pack_bytes_on_disk() { find "${1:-$STORE}/packs" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }

# expect_fail CODE PATTERN CMD...: CMD must exit with CODE and print PATTERN
# (an ERE, case-insensitive) on stderr. Its stderr is kept in $LAST_ERR.
LAST_ERR=
expect_fail() {
  local code=$1 pattern=$2
  shift 2
  local rc=0
  LAST_ERR=$("$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, expected $code (stderr: $LAST_ERR)"
  grep -qiE -- "$pattern" <<<"$LAST_ERR" || fail "'$*' stderr lacks /$pattern/: $LAST_ERR"
}

# manifest DIR: one line per entry: path, type, mode, mtime (whole seconds),
# size of regular files, symlink target, and sha256 of regular files. Two trees
# with equal manifests are equal in content, modes, mtimes and symlinks.
manifest() {
  (cd "$1" && find . -printf '%p %y %m %TY%Tm%Td%TH%TM%TS %s %l\n' |
     awk '{ split($4, t, "."); $4 = t[1]; if ($2 != "f") $5 = "-"; print }' | sort) |
  while read -r p y rest; do
    if [ "$y" = f ]; then
      echo "$p $y $rest $(sha256sum < "$1/$p" | cut -c1-64)"
    else
      echo "$p $y $rest"
    fi
  done
}

# same_tree A B: diff -r plus the manifest (modes, mtimes, symlinks).
same_tree() {
  diff -r --no-dereference "$1" "$2" >&2 || fail "diff -r $1 $2 differs"
  diff <(manifest "$1") <(manifest "$2") >&2 || fail "modes/mtimes/symlinks of $1 and $2 differ (< source, > copy)"
}

# random_file PATH MiB: incompressible data.
random_file() { head -c "$(($2 * 1048576))" /dev/urandom > "$1"; }

# lt A B: integer/float A < B (python3 so big numbers and floats both work).
lt() { "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"; }
calc() { "$PY" -c "print($*)"; }
