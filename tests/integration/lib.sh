# Shared setup for the mount integration tests (sourced, not run).
#
# Each test gets a fresh temp dir with a store and a mountpoint, and an EXIT
# trap that always unmounts (and, failing that, detaches) whatever it mounted,
# so a failed test never leaves a mount behind. Exit 77 = skipped (ctest
# SKIP_RETURN_CODE): no /dev/fuse or no fusermount3 here.
set -euo pipefail

CKPTFS=${CKPTFS:?set CKPTFS to the ckptfs binary}
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "--- $*"; }

require_fuse() {
  [ -c /dev/fuse ] || skip "no /dev/fuse"
  command -v fusermount3 >/dev/null || skip "no fusermount3"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ckptfs-it.XXXXXX")
STORE=$WORK/store
MNT=$WORK/mnt
mkdir -p "$MNT"
EXTRA_MOUNTS=()

is_mounted() { awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; }

cleanup() {
  local rc=$?
  for m in "${EXTRA_MOUNTS[@]}" "$MNT"; do
    if is_mounted "$m"; then
      "$CKPTFS" umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || fusermount3 -uz "$m" || true
    fi
  done
  if is_mounted "$WORK/tmpfs"; then umount -l "$WORK/tmpfs" || true; fi
  if [ $rc -ne 0 ] && [ -f "$STORE/daemon.log" ]; then
    echo "--- daemon.log (last 30 lines):" >&2
    tail -n 30 "$STORE/daemon.log" >&2 || true
  fi
  rm -rf "$WORK" || true
  exit $rc
}
trap cleanup EXIT

init_store() { "$CKPTFS" init "${1:-$STORE}" >/dev/null; }
mount_store() { "$CKPTFS" mount "${1:-$STORE}" "${2:-$MNT}" "${@:3}"; }
umount_store() { "$CKPTFS" umount "${1:-$MNT}"; }
fresh_mount() { init_store && mount_store "$STORE" "$MNT" "$@"; }

# json_get KEY < json: prints one top-level field.
json_get() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
stored_bytes() { "$CKPTFS" stats --json "${1:-$MNT}" | json_get stored_bytes; }

# expect_fail CODE PATTERN CMD...: CMD must exit with CODE and print PATTERN on stderr.
expect_fail() {
  local code=$1 pattern=$2
  shift 2
  local out rc=0
  out=$("$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, expected $code (stderr: $out)"
  echo "$out" | grep -qiE -- "$pattern" || fail "'$*' stderr lacks /$pattern/: $out"
}

# random_file PATH MiB: incompressible data.
random_file() { head -c "$(($2 * 1048576))" /dev/urandom > "$1"; }

# daemon_pid [STORE]: the pid of the daemon serving STORE, from its control socket.
daemon_pid() {
  "$PY" - "${1:-$STORE}/control.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b'{"op":"pid"}\n')
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(json.loads(data.splitlines()[-1])["result"]["pid"])
PY
}
