#!/bin/bash
# POSIX behaviour through a real mount: the tools people run on checkpoint dirs.
source "$(dirname "$0")/lib.sh"
require_fuse
fresh_mount
SRC=$WORK/src
mkdir -p "$SRC/sub/deeper"
random_file "$SRC/big.bin" 8
seq 1 100000 > "$SRC/text.txt"
echo small > "$SRC/sub/small"
: > "$SRC/sub/empty"
ln -s ../text.txt "$SRC/sub/link"
touch -d '2020-01-02 03:04:05.123456789' "$SRC/sub/deeper/dated"

log "cp -r and diff -r"
cp -r "$SRC" "$MNT/cp"
diff -r "$SRC" "$MNT/cp" || fail "cp -r content differs"

log "cp -p keeps times and modes"
chmod 640 "$SRC/text.txt"
touch -d '2021-03-04 05:06:07.123456789' "$SRC/text.txt"
cp -p "$SRC/text.txt" "$MNT/p.txt"  # futimens() comes after the writes, before close()
[ "$(stat -c '%a %y' "$SRC/text.txt")" = "$(stat -c '%a %y' "$MNT/p.txt")" ] ||
  fail "cp -p lost mode/mtime: $(stat -c '%a %y' "$MNT/p.txt")"
cp -rp "$SRC/sub" "$MNT/subp"
[ "$(stat -c %y "$SRC/sub/deeper/dated")" = "$(stat -c %y "$MNT/subp/deeper/dated")" ] ||
  fail "cp -p lost nanosecond mtime: $(stat -c %y "$MNT/subp/deeper/dated")"

log "sha256sum"
(cd "$SRC" && sha256sum big.bin text.txt) > "$WORK/sums"
(cd "$MNT/cp" && sha256sum -c --quiet "$WORK/sums") || fail "sha256 mismatch"

log "mv over an existing file"
echo old > "$MNT/target"
echo new > "$MNT/source"
mv "$MNT/source" "$MNT/target"
[ "$(cat "$MNT/target")" = new ] || fail "mv over existing"
[ ! -e "$MNT/source" ] || fail "mv left the source"

log "rename of an open file keeps the handle working"
exec 7>"$MNT/open-then-renamed"
echo first >&7
mv "$MNT/open-then-renamed" "$MNT/renamed"
echo second >&7
exec 7>&-
[ "$(cat "$MNT/renamed")" = "$(printf 'first\nsecond')" ] || fail "rename of an open file"

log "ls -lR, du, find"
ls -lR "$MNT" > /dev/null
[ "$(du -s "$MNT/cp" | cut -f1)" -gt 0 ] || fail "du reports 0 for a tree with data"
[ "$(find "$MNT/cp" -type f | wc -l)" -eq "$(find "$SRC" -type f | wc -l)" ] || fail "find count"
[ "$(find "$MNT/cp" -type l | wc -l)" -eq 1 ] || fail "find -type l"

log "tar out of and into the mount"
tar -C "$MNT/cp" -cf "$WORK/out.tar" .
mkdir "$WORK/untar" && tar -C "$WORK/untar" -xf "$WORK/out.tar"
diff -r "$SRC" "$WORK/untar" || fail "tar out of the mount"
mkdir "$MNT/untar" && tar -C "$SRC" -cf - . | tar -C "$MNT/untar" -xf -
diff -r "$SRC" "$MNT/untar" || fail "tar into the mount"
[ "$(stat -c %Y "$SRC/sub/deeper/dated")" = "$(stat -c %Y "$MNT/untar/sub/deeper/dated")" ] || fail "tar mtime"

log "rsync -a"
rsync -a "$SRC/" "$MNT/rsync/"
diff -r "$SRC" "$MNT/rsync" || fail "rsync content"
rsync -a "$SRC/" "$MNT/rsync/"  # second run: nothing to do, must not fail
[ "$(stat -c '%a %Y' "$SRC/text.txt")" = "$(stat -c '%a %Y' "$MNT/rsync/text.txt")" ] || fail "rsync -a attrs"

log "truncate grow and shrink, : >, echo >>"
f=$MNT/trunc
printf 'abcdef' > "$f"
truncate -s 3 "$f"; [ "$(cat "$f")" = abc ] || fail "truncate shrink"
truncate -s 10 "$f"; [ "$(stat -c %s "$f")" = 10 ] || fail "truncate grow size"
[ "$(od -An -c "$f" | tr -d ' \n')" = 'abc\0\0\0\0\0\0\0' ] || fail "truncate grow zeros"
: > "$f"; [ "$(stat -c %s "$f")" = 0 ] || fail ": > f"
echo one >> "$f"; echo two >> "$f"
[ "$(cat "$f")" = "$(printf 'one\ntwo')" ] || fail "echo >>"

log "O_TRUNC rewrite and write past EOF (sparse)"
echo longer-content > "$MNT/otrunc"; echo x > "$MNT/otrunc"
[ "$(cat "$MNT/otrunc")" = x ] || fail "O_TRUNC"
"$PY" - "$MNT/sparse" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
os.pwrite(fd, b"end", 5 * 1024 * 1024)
os.close(fd)
with open(sys.argv[1], "rb") as f:
    data = f.read()
assert len(data) == 5 * 1024 * 1024 + 3, len(data)
assert data[:5 * 1024 * 1024] == bytes(5 * 1024 * 1024) and data[-3:] == b"end"
with open(sys.argv[1], "r+b") as f:   # overwrite in the middle (random write)
    f.seek(1000); f.write(b"mid")
with open(sys.argv[1], "rb") as f:
    f.seek(1000); assert f.read(3) == b"mid"
PY

log "page cache: write-only opens go around it, and no reader sees a stale page"
f=$MNT/coherent
head -c 3000000 /dev/urandom > "$WORK/coherent"
cp "$WORK/coherent" "$f"
[ "$(fincore -n -b -o RES "$f" | tr -d ' ')" = 0 ] || fail "cp (a write-only open) filled the page cache: $(fincore "$f")"
cat "$f" > /dev/null; cat "$f" > /dev/null  # the second open keeps the cache
[ "$(fincore -n -b -o RES "$f" | tr -d ' ')" -gt 0 ] || fail "reads did not use the page cache"
printf 'XYZ' | dd of="$f" bs=1 seek=70000 conv=notrunc status=none   # direct, in the middle
printf 'XYZ' | dd of="$WORK/coherent" bs=1 seek=70000 conv=notrunc status=none
cmp "$WORK/coherent" "$f" || fail "a cached page survived a direct overwrite"
"$PY" - "$f" <<'PY'
import os, sys
p = sys.argv[1]
# A reader that joins a write-only first open, then the writer appends
# inside the reader's last page.
w = os.open(p, os.O_WRONLY | os.O_TRUNC)
os.write(w, b"a" * 5000)
r = os.open(p, os.O_RDONLY)
assert os.pread(r, 1 << 20, 0) == b"a" * 5000
os.write(w, b"b" * 5000)
got = os.pread(r, 1 << 20, 0)
assert got == b"a" * 5000 + b"b" * 5000, (len(got), got[4990:5010])
os.close(w); os.close(r)
# A writer that joins a reader (cached mode), appending inside its last page.
r = os.open(p, os.O_RDONLY)
assert len(os.pread(r, 1 << 20, 0)) == 10000
w = os.open(p, os.O_WRONLY | os.O_APPEND)
os.write(w, b"c" * 3000)
got = os.pread(r, 1 << 20, 0)
assert got == b"a" * 5000 + b"b" * 5000 + b"c" * 3000, (len(got), got[9990:10010])
os.close(w); os.close(r)
with open(p, "rb") as fh:
    assert fh.read() == b"a" * 5000 + b"b" * 5000 + b"c" * 3000
PY
"$PY" - "$MNT" <<'PY'
import mmap, os, sys
d = sys.argv[1]
# Save, then map at once (np.save + np.load(mmap_mode='r')): the writer's
# release reaches the daemon after close() returns, so the reader often
# joins a file that still has a direct handle. Its shared mapping must work
# and show the saved bytes.
for i in range(200):
    p = os.path.join(d, "saved")
    payload = os.urandom(65536)
    with open(p, "wb") as f:
        f.write(payload)
    with open(p, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        assert m[:] == payload, i
        m.close()
# A reader that maps the file while a direct writer is still writing, then
# sees what the writer wrote once it has closed.
p = os.path.join(d, "mapped-while-written")
w = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(w, b"x" * 8192)
r = os.open(p, os.O_RDONLY)
m = mmap.mmap(r, 8192, prot=mmap.PROT_READ)
assert m[:8192] == b"x" * 8192
os.pwrite(w, b"y" * 4096, 0)
os.close(w)
assert m[:4096] == b"y" * 4096, m[:16]
m.close(); os.close(r)
PY

log "a reader following a file that two writers append to (tail -f) reads only written bytes"
"$PY" - "$MNT/followed" <<'PY'
import os, sys, threading
p = sys.argv[1]
for round in range(3):
    w1 = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    r = os.open(p, os.O_RDONLY)
    w2 = os.open(p, os.O_WRONLY | os.O_APPEND)
    left = [2]
    def write(fd, tag):
        for i in range(6000):
            os.write(fd, (f"{tag} {i:07d} " + tag * 80 + "\n").encode())
        left[0] -= 1
    ts = [threading.Thread(target=write, args=(w, t)) for w, t in ((w1, "A"), (w2, "B"))]
    for t in ts: t.start()
    got = bytearray()
    while True:
        d = os.read(r, 65536)
        if d:
            got += d
        elif left[0] == 0:
            d = os.read(r, 1 << 20)
            if not d: break
            got += d
    for t in ts: t.join()
    os.close(w1); os.close(w2); os.close(r)
    final = open(p, "rb").read()
    assert len(final) == 2 * 6000 * 91, len(final)
    z = got.find(0)
    assert z < 0, f"round {round}: the follower read {got.count(0)} NUL bytes, first at {z}"
    assert bytes(got) == final, f"round {round}: the follower read other bytes than the file holds"
PY

log "ln, ln -s, touch -d, chmod"
echo data > "$MNT/orig"
ln "$MNT/orig" "$MNT/hard"
[ "$(stat -c %h "$MNT/orig")" = 2 ] || fail "nlink after ln"
[ "$(stat -c %i "$MNT/orig")" = "$(stat -c %i "$MNT/hard")" ] || fail "hard link inode"
ln -s orig "$MNT/soft"
[ "$(readlink "$MNT/soft")" = orig ] && [ "$(cat "$MNT/soft")" = data ] || fail "symlink"
touch -d '2001-02-03 04:05:06' "$MNT/orig"
[ "$(stat -c %Y "$MNT/orig")" = "$(date -d '2001-02-03 04:05:06' +%s)" ] || fail "touch -d"
chmod 600 "$MNT/orig"; [ "$(stat -c %a "$MNT/hard")" = 600 ] || fail "chmod"
rm "$MNT/orig"; [ "$(cat "$MNT/hard")" = data ] && [ "$(stat -c %h "$MNT/hard")" = 1 ] || fail "unlink one link"

log "ENAMETOOLONG for a 256-byte name"
name=$(printf 'n%.0s' $(seq 256))
out=$(touch "$MNT/$name" 2>&1) && fail "256-byte name accepted"
echo "$out" | grep -q "File name too long" || fail "expected ENAMETOOLONG, got: $out"
touch "$MNT/$(printf 'n%.0s' $(seq 255))" || fail "255-byte name refused"

log "xattrs (user.*)"
echo x > "$MNT/xf"
"$PY" - "$MNT/xf" <<'PY'
import errno, os, sys
p = sys.argv[1]
os.setxattr(p, "user.ckpt.step", b"1234")
os.setxattr(p, "user.big", b"v" * 3000)
assert os.getxattr(p, "user.ckpt.step") == b"1234"
assert os.getxattr(p, "user.big") == b"v" * 3000
assert sorted(os.listxattr(p)) == ["user.big", "user.ckpt.step"], os.listxattr(p)
os.removexattr(p, "user.big")
try:
    os.getxattr(p, "user.big"); raise SystemExit("removed xattr still readable")
except OSError as e:
    assert e.errno == errno.ENODATA, e
try:
    os.setxattr(p, "user.ckpt.step", b"x", os.XATTR_CREATE); raise SystemExit("XATTR_CREATE")
except OSError as e:
    assert e.errno == errno.EEXIST, e
PY

log "statfs / df"
df -P "$MNT" | tail -1 | awk '{ if ($2 <= 0) exit 1 }' || fail "df reports no capacity"
[ "$(stat -f -c %l "$MNT")" = 255 ] || fail "statfs namemax"
grep -q " - fuse.ckptfs $STORE " /proc/self/mountinfo || fail "mountinfo lacks 'fuse.ckptfs $STORE'"

log "a directory larger than one readdir reply; ls -l sees current sizes"
mkdir "$MNT/many"
(cd "$MNT/many" && seq -f 'file-%05g' 1 3000 | xargs touch)
[ "$(ls "$MNT/many" | wc -l)" -eq 3000 ] || fail "ls of 3000 entries: $(ls "$MNT/many" | wc -l)"
[ "$(ls -f "$MNT/many" | wc -l)" -eq 3002 ] || fail "readdir with . and .."
exec 8> "$MNT/many/file-01500"
ls -l "$MNT/many" > /dev/null  # readdirplus while the file is open and empty
head -c 70000 /dev/zero >&8
ls -l "$MNT/many" > /dev/null
exec 8>&-
[ "$(stat -c %s "$MNT/many/file-01500")" = 70000 ] || fail "size after readdirplus: $(stat -c %s "$MNT/many/file-01500")"
rm -rf "$MNT/many"
[ ! -e "$MNT/many" ] || fail "rm -rf of 3000 entries"

log "rm -rf"
rm -rf "$MNT/cp" "$MNT/untar"
[ ! -e "$MNT/cp" ] && [ ! -e "$MNT/untar" ] || fail "rm -rf left entries"

umount_store
echo PASS
