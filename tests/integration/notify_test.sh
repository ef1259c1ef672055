#!/bin/bash
# systemd Type=notify: `ckptfs mount -f` sends READY=1 only once the mount
# answers, STOPPING=1 on SIGTERM, and SIGTERM unmounts cleanly (exit 0, the
# store is free again). Also mounts through mount.ckptfs.
source "$(dirname "$0")/lib.sh"
require_fuse
init_store
SOCK=$WORK/notify.sock
"$PY" - "$SOCK" "$WORK/notify.log" "$MNT" <<'PY' &
import os, socket, sys
sock, out, mnt = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock)
s.settimeout(60)
with open(out, "w") as f:
    while True:
        msg = s.recv(4096).decode()
        if "READY=1" in msg:
            # The mount must already answer when READY=1 arrives.
            os.stat(mnt); os.listdir(mnt)
            msg += " (mount answered)"
        f.write(msg + "\n"); f.flush()
        if "STOPPING=1" in msg:
            break
PY
listener=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
NOTIFY_SOCKET=$SOCK "$CKPTFS" mount -f "$STORE" "$MNT" 2> "$WORK/daemon.err" &
daemon=$!
for _ in $(seq 200); do grep -q READY=1 "$WORK/notify.log" 2>/dev/null && break; sleep 0.05; done
grep -q "READY=1 (mount answered)" "$WORK/notify.log" || fail "no READY=1 (log: $(cat "$WORK/notify.log" 2>/dev/null))"
echo hello > "$MNT/f"
kill -TERM "$daemon"
rc=0; wait "$daemon" || rc=$?
[ $rc -eq 0 ] || fail "daemon exited $rc after SIGTERM: $(cat "$WORK/daemon.err")"
wait "$listener" || fail "listener"
grep -q STOPPING=1 "$WORK/notify.log" || fail "no STOPPING=1"
is_mounted "$MNT" && fail "still mounted after SIGTERM"

log "mount through mount.ckptfs (what mount -t fuse.ckptfs runs)"
"${MOUNT_CKPTFS:-$(dirname "$CKPTFS")/mount.ckptfs}" "$STORE" "$MNT" -o defaults,_netdev ||
  fail "mount.ckptfs"
[ "$(cat "$MNT/f")" = hello ] || fail "data written before SIGTERM"
umount_store
echo PASS
