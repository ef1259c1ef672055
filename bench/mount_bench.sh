#!/usr/bin/env bash
# Mount benchmark: ckptfs against the store's own disk and libfuse's
# passthrough_ll, measured in one run, interleaved (every run does disk, then
# passthrough_ll, then ckptfs), medians over --runs.
#
#   write  cp FILE DIR/ && sync         (fresh ckptfs store every run: no dedup)
#   cold   remount, sync, echo 3 > /proc/sys/vm/drop_caches, dd if=DIR/FILE of=/dev/null bs=1M
#   warm   the same dd again
# Then the ckptfs mount options (--settings) on the same three operations, and
# the daemon's peak RSS while writing then reading a --big-mib file that is
# streamed from make_weights.py into the mount (never stored on the disk).
#
# usage: bench/mount_bench.sh --build DIR --workdir DIR --results DIR
#          [--size-mib 2048] [--runs 3] [--settings-runs N (default: --runs)] [--big-mib 10240] [--settings LIST]
#          [--no-settings] [--no-memory]
# LIST is comma-separated; each item is a ckptfs -o string with '+' for ','
# ("default" = no -o), "dd1M" = default options written with dd bs=1M conv=fsync,
# "ra128" = default options with the mount's kernel readahead put back from the
# 1024 KiB the daemon sets to the kernel's 128 KiB (/sys/class/bdi/MAJ:MIN/read_ahead_kb).
# Writes RESULTS/mount.json, RESULTS/settings.json, RESULTS/memory.json.
# Needs root (drop_caches). Unmounts everything it mounted on exit.
set -euo pipefail
PY=/usr/bin/python3; [[ -x $PY ]] || PY=python3  # Debian's python (apt numpy/matplotlib), not a pyenv shim
here="$(cd "$(dirname "$0")" && pwd)"
build="" work="" results="" size_mib=2048 runs=3 big_mib=10240 settings_runs=""
settings="default,no_direct_write,writeback_cache,splice,writeback_cache+splice,dd1M,ra128"
do_settings=1 do_memory=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --workdir) work="$2"; shift 2 ;;
    --results) results="$2"; shift 2 ;;
    --size-mib) size_mib="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --settings-runs) settings_runs="$2"; shift 2 ;;
    --big-mib) big_mib="$2"; shift 2 ;;
    --settings) settings="$2"; shift 2 ;;
    --no-settings) do_settings=0; shift ;;
    --no-memory) do_memory=0; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "mount_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -n "$build" && -n "$work" && -n "$results" ]] || { echo "mount_bench: --build, --workdir and --results are required" >&2; exit 2; }
[[ "$(id -u)" -eq 0 ]] || { echo "mount_bench: needs root (drop_caches)" >&2; exit 1; }
CKPTFS="$build/bin/ckptfs"
[[ -x "$CKPTFS" ]] || { echo "mount_bench: $CKPTFS not built" >&2; exit 1; }
PT="$("$here/passthrough" "$build")"
mkdir -p "$work" "$results"
work="$(cd "$work" && pwd)"; results="$(cd "$results" && pwd)"

SRC_W="$here/data/esrgan-thick/x2.bin"
[[ -f "$SRC_W" ]] || "$here/fetch_weights.sh" >&2
DATA="$work/weights_fp32_${size_mib}M.bin"
STORE="$work/store" CKMNT="$work/ck_mnt" DISK="$work/disk" PTSRC="$work/pt_src" PTMNT="$work/pt_mnt"
SAMPLES="$work/samples.tsv"
poller=""

log() { echo "[mount_bench $(date +%T)] $*" >&2; }

ck_umount() { mountpoint -q "$CKMNT" 2>/dev/null && "$CKPTFS" umount "$CKMNT" >/dev/null 2>&1 || true; }
pt_umount() {
  if mountpoint -q "$PTMNT" 2>/dev/null; then
    local pid; pid="$(pgrep -n -f "passthrough_ll .*$PTMNT" || true)"
    fusermount3 -u "$PTMNT" 2>/dev/null || umount -l "$PTMNT" 2>/dev/null || true
    [[ -n "$pid" ]] && for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
}
cleanup() {
  [[ -n "$poller" ]] && kill "$poller" 2>/dev/null && wait "$poller" 2>/dev/null
  ck_umount; pt_umount
  # a dead (killed) ckptfs mount: clear it
  for m in "$CKMNT" "$PTMNT"; do grep -q " $m " /proc/self/mountinfo 2>/dev/null && umount -l "$m" 2>/dev/null; done
  rm -rf "$STORE" "$DISK" "$PTSRC"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
ck_mount() {  # ck_mount [OPTS]
  if [[ -n "${1:-}" ]]; then "$CKPTFS" mount "$STORE" "$CKMNT" -o "$1" >/dev/null
  else "$CKPTFS" mount "$STORE" "$CKMNT" >/dev/null; fi
}
ck_fresh() {  # a new, empty store, mounted: writes never dedup against an earlier run
  ck_umount; rm -rf "$STORE"; "$CKPTFS" init "$STORE" >/dev/null; ck_mount "${1:-}"
}
pt_mount() {
  "$PT" -o source="$PTSRC" "$PTMNT"
  for _ in $(seq 200); do mountpoint -q "$PTMNT" && return 0; sleep 0.05; done
  echo "mount_bench: passthrough_ll did not mount" >&2; return 1
}
# SAMPLES columns: group peer op seconds bytes daemon_cpu_s daemon_minflt ("-" for the disk)
sample() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$T" "$BYTES" "$DSTAT" >> "$SAMPLES"; }
dstat() { if [[ -n "$DPID" && -r /proc/$DPID/stat ]]; then awk '{print $14+$15, $10}' "/proc/$DPID/stat"; else echo "- -"; fi; }
timed() {  # timed CMD...: T = seconds it took, DSTAT = the daemon's CPU seconds and minor faults meanwhile
  local t0 t1 c0 f0 c1 f1
  read -r c0 f0 < <(dstat); t0=$(now); "$@"; t1=$(now); read -r c1 f1 < <(dstat)
  T="$("$PY" -c "print(f'{$t1-$t0:.4f}')")"
  if [[ "$c0" == - || "$c1" == - ]]; then DSTAT=$'-\t-'
  else DSTAT="$("$PY" -c "print(f'{($c1-$c0)/$TCK:.2f}\t{$f1-$f0}')")"; fi
}
TCK=$(getconf CLK_TCK) DPID="" T=0 DSTAT=$'-\t-'
ck_pid() { DPID="$(pgrep -n -f "ckptfs mount $STORE $CKMNT" || true)"; }
pt_pid() { DPID="$(pgrep -n -f "passthrough_ll .*$PTMNT" || true)"; }
do_write() { cp "$DATA" "$1/" && sync; }
do_write_dd() { dd if="$DATA" of="$1/$(basename "$DATA")" bs=1M conv=fsync status=none; }
do_read() { dd if="$1/$(basename "$DATA")" of=/dev/null bs=1M status=none; }

# ------------------------------------------------------------------ data
if [[ ! -f "$DATA" || $(stat -c %s "$DATA") -ne $((size_mib << 20)) ]]; then
  log "generating $DATA ($size_mib MiB of tiled real fp32 weights)"
  "$PY" "$here/make_weights.py" "$SRC_W" "$DATA" "$size_mib"
fi
BYTES=$(stat -c %s "$DATA")
: > "$SAMPLES"
mkdir -p "$CKMNT" "$DISK" "$PTSRC" "$PTMNT"
# Every writer reads the source from the page cache: the cold reads drop it,
# so it is re-read (untimed) before each timed write.
warm_source() { cat "$DATA" > /dev/null; }

# ------------------------------------------------------------------ peers
for r in $(seq "$runs"); do
  for peer in disk passthrough_ll ckptfs; do
    case "$peer" in
      disk) dir="$DISK"; rm -f "$DISK"/*; DPID="" ;;
      passthrough_ll) pt_umount; rm -f "$PTSRC"/*; pt_mount; dir="$PTMNT"; pt_pid ;;
      ckptfs) ck_fresh; dir="$CKMNT"; ck_pid ;;
    esac
    warm_source; sync
    timed do_write "$dir"; sample peers "$peer" write
    case "$peer" in
      passthrough_ll) pt_umount; pt_mount; pt_pid ;;
      ckptfs) ck_umount; ck_mount; ck_pid ;;
    esac
    drop
    timed do_read "$dir"; sample peers "$peer" cold
    timed do_read "$dir"; sample peers "$peer" warm
    log "run $r $peer: $(tail -n3 "$SAMPLES" | cut -f3,4,6 | tr '\t\n' '= ')"
    case "$peer" in
      disk) rm -f "$DISK"/* ;;
      passthrough_ll) pt_umount; rm -f "$PTSRC"/* ;;
      ckptfs) ck_umount ;;
    esac
  done
done
cmp_ok=1
# correctness spot check: what ckptfs returns is what was written
ck_fresh; cp "$DATA" "$CKMNT/"; ck_umount; ck_mount; drop
cmp -s "$DATA" "$CKMNT/$(basename "$DATA")" || { cmp_ok=0; log "ERROR: ckptfs read back different bytes"; }
"$CKPTFS" stats "$CKMNT" --json > "$work/peers_stats.json" || echo '{}' > "$work/peers_stats.json"
ck_umount

# ------------------------------------------------------------------ settings
if [[ $do_settings -eq 1 ]]; then
  IFS=',' read -ra SETS <<< "$settings"
  for r in $(seq "${settings_runs:-$runs}"); do
    for s in "${SETS[@]}"; do
      opts="${s//+/,}"; writer=do_write
      [[ "$s" == default ]] && opts=""
      [[ "$s" == dd1M || "$s" == ra128 ]] && opts=""
      [[ "$s" == dd1M ]] && writer=do_write_dd
      ck_fresh "$opts"; warm_source; sync
      ck_pid; timed $writer "$CKMNT"; sample settings "$s" write
      ck_umount; ck_mount "$opts"
      [[ "$s" == ra128 ]] && echo 128 > "/sys/class/bdi/$(mountpoint -d "$CKMNT")/read_ahead_kb"
      drop
      ck_pid; timed do_read "$CKMNT"; sample settings "$s" cold
      timed do_read "$CKMNT"; sample settings "$s" warm
      log "settings run $r $s: $(tail -n3 "$SAMPLES" | cut -f3,4,6 | tr '\t\n' '= ')"
      ck_umount
    done
  done
fi

# ------------------------------------------------------------------ memory
mem_json='{}'
if [[ $do_memory -eq 1 ]]; then
  log "daemon memory: streaming $big_mib MiB into the mount, then reading it"
  ck_fresh
  pid="$(pgrep -n -f "ckptfs mount $STORE $CKMNT" || true)"
  [[ -n "$pid" ]] || { echo "mount_bench: ckptfs daemon pid not found" >&2; exit 1; }
  rssfile="$work/rss.tsv"; : > "$rssfile"
  ( while [[ -r /proc/$pid/status ]]; do
      awk -v t="$(date +%s.%N)" '/^VmRSS:/{r=$2} /^VmHWM:/{h=$2} END{print t"\t"r"\t"h}' /proc/$pid/status 2>/dev/null >> "$rssfile" || true
      sleep 0.2
    done ) &
  poller=$!
  t0=$(now)
  "$PY" "$here/make_weights.py" "$SRC_W" /dev/stdout "$big_mib" | dd of="$CKMNT/big.bin" bs=1M iflag=fullblock conv=fsync status=none
  t1=$(now)
  drop
  dd if="$CKMNT/big.bin" of=/dev/null bs=1M status=none
  t2=$(now)
  hwm=$(awk '/^VmHWM:/{print $2}' /proc/$pid/status)
  big_bytes=$(stat -c %s "$CKMNT/big.bin")
  kill "$poller" 2>/dev/null; wait "$poller" 2>/dev/null || true; poller=""
  ck_umount
  mem_json=$("$PY" - "$rssfile" "$t0" "$t1" "$t2" "$hwm" "$big_bytes" <<'EOF'
import json, sys
f, t0, t1, t2, hwm, nbytes = sys.argv[1], *map(float, sys.argv[2:6]), int(sys.argv[6])
rows = [l.split("\t") for l in open(f) if l.count("\t") == 2 and l.split("\t")[1].strip()]
rows = [(float(a), int(b), int(c)) for a, b, c in rows]
w = [r for t, r, _ in rows if t <= t1]
rd = [r for t, r, _ in rows if t > t1]
print(json.dumps({
    "file_bytes": nbytes, "write_s": round(t1 - t0, 3), "read_s": round(t2 - t1, 3),
    "write_MBps": round(nbytes / 1e6 / (t1 - t0), 1), "read_MBps": round(nbytes / 1e6 / (t2 - t1), 1),
    "peak_rss_write_mib": round(max(w) / 1024, 1) if w else None,
    "peak_rss_read_mib": round(max(rd) / 1024, 1) if rd else None,
    "vmhwm_mib": round(hwm / 1024, 1), "samples": len(rows), "poll_interval_s": 0.2}))
EOF
)
  log "memory: $mem_json"
fi
echo "$mem_json" > "$results/memory.json"

# ------------------------------------------------------------------ JSON
"$PY" - "$SAMPLES" "$results" "$runs" "$cmp_ok" "$work/peers_stats.json" "$size_mib" <<'EOF'
import json, statistics, sys
samples, results, runs, cmp_ok, stats_path, size_mib = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5], int(sys.argv[6])
groups = {}
for line in open(samples):
    g, peer, op, sec, nbytes, cpu, flt = line.rstrip("\n").split("\t")
    o = groups.setdefault(g, {}).setdefault(peer, {}).setdefault(op, {"samples": [], "bytes": int(nbytes), "daemon_cpu_s": [], "daemon_minflt": []})
    o["samples"].append(float(sec))
    if cpu != "-":
        o["daemon_cpu_s"].append(float(cpu)); o["daemon_minflt"].append(int(flt))
for g in groups.values():
    for peer in g.values():
        for op in peer.values():
            op["median_s"] = statistics.median(op["samples"])
            op["MBps"] = round(op["bytes"] / 1e6 / op["median_s"], 1)
            op["runs"] = len(op["samples"])
            op["daemon_cpu_s_median"] = statistics.median(op["daemon_cpu_s"]) if op["daemon_cpu_s"] else None
            op["daemon_minflt_median"] = statistics.median(op["daemon_minflt"]) if op["daemon_minflt"] else None
try:
    stats = json.load(open(stats_path))
except Exception:
    stats = {}
peers = groups.get("peers", {})
out = {"size_mib": size_mib, "runs": runs, "readback_identical": cmp_ok, "ckptfs_stats": stats, "peers": peers}
json.dump(out, open(f"{results}/mount.json", "w"), indent=1)
json.dump({"size_mib": size_mib, "runs": max((o["runs"] for p in groups.get("settings", {}).values() for o in p.values()), default=0), "settings": groups.get("settings", {})}, open(f"{results}/settings.json", "w"), indent=1)
for peer, ops in peers.items():
    print(f"{peer:15s} " + "  ".join(f"{op} {v['median_s']:.2f}s {v['MBps']:.0f}MB/s" for op, v in ops.items()), file=sys.stderr)
EOF
