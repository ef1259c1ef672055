#!/usr/bin/python3
"""Turns the JSON results of bench/run into docs/BENCHMARKS.md and docs/benchmarks.png.

usage: bench/report.py --results DIR --md docs/BENCHMARKS.md --png docs/benchmarks.png

Reads (each optional; a missing one shows as "not measured"):
  machine.json commands.txt mount.json settings.json memory.json compression.json
  codec.txt import.json ckpt.json demo.json step_seconds.txt loadavg_end *.error.json
Ratios are peer_time / ckptfs_time (> 1: ckptfs is faster), or sizes logical/stored.
"""
import argparse
import glob
import json
import os
import sys


def load(res, name):
    p = os.path.join(res, name)
    if not os.path.exists(p):
        return None
    try:
        with open(p) as f:
            return json.load(f) if name.endswith(".json") else f.read()
    except (OSError, ValueError):
        return None


def fmt(x, nd=2):
    return "-" if x is None else f"{x:.{nd}f}"


class Row:
    def __init__(self, group, name, value, target, op=">=", source="issue", note="", unit="x"):
        self.group, self.name, self.value, self.target = group, name, value, target
        self.op, self.source, self.note, self.unit = op, source, note, unit

    @property
    def passed(self):
        if self.value is None or self.target is None:
            return None
        return self.value >= self.target if self.op == ">=" else self.value <= self.target

    @property
    def headroom(self):  # >= 1 means the target is met
        if self.value is None or self.target is None or self.value == 0:
            return None
        return self.value / self.target if self.op == ">=" else self.target / self.value

    def md(self):
        v = "not measured" if self.value is None else (f"{self.value:.0f} MiB" if self.unit == "MiB" else f"{self.value:.2f}x")
        t = "-" if self.target is None else (f"{self.op} {self.target:.0f} MiB" if self.unit == "MiB" else f"{self.op} {self.target}x")
        p = {True: "**pass**", False: "**FAIL**", None: "-"}[self.passed]
        return f"| {self.group} | {self.name} | {v} | {t} | {self.source} | {p} | {self.note} |"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--png", required=True)
    a = ap.parse_args()
    res = a.results
    machine = load(res, "machine.json") or {}
    mount = load(res, "mount.json") or {}
    settings = load(res, "settings.json") or {}
    memory = load(res, "memory.json") or {}
    comp = load(res, "compression.json") or {}
    codec = load(res, "codec.txt")
    imp = load(res, "import.json") or {}
    ckpt = load(res, "ckpt.json") or {}
    demo = load(res, "demo.json") or {}
    cmds = load(res, "commands.txt") or ""
    quick = machine.get("quick", False)
    rows = []

    # ---- mount
    peers = mount.get("peers", {})
    def med(peer, op):
        return peers.get(peer, {}).get(op, {}).get("median_s")
    def ratio(peer, op):
        p, c = med(peer, op), med("ckptfs", op)
        return p / c if p and c else None
    rows += [
        Row("mount", "sequential write+sync vs disk", ratio("disk", "write"), 1.0, source="issue, DESIGN"),
        Row("mount", "sequential write+sync vs passthrough_ll", ratio("passthrough_ll", "write"), 1.5),
        Row("mount", "cold read vs passthrough_ll", ratio("passthrough_ll", "cold"), 1.5),
        Row("mount", "cold read vs disk", ratio("disk", "cold"), 0.8, source="DESIGN"),
        Row("mount", "warm read vs disk", ratio("disk", "warm"), 0.5),
        Row("mount", "warm read vs disk", ratio("disk", "warm"), 0.9, source="DESIGN"),
        Row("mount", "warm read vs passthrough_ll", ratio("passthrough_ll", "warm"), None, source="-", note="no target"),
    ]
    peak = None
    if memory:
        peak = max(x for x in (memory.get("vmhwm_mib"), memory.get("peak_rss_write_mib"), memory.get("peak_rss_read_mib")) if x is not None)
    rows.append(Row("mount", f"daemon peak RSS, {memory.get('file_bytes', 0) / 2**30:.0f} GiB write+read", peak, 512, op="<=",
                    source="issue, DESIGN", unit="MiB"))

    # ---- compression
    for kind, tgt in (("fp32", 1.15), ("bf16", 1.45)):
        c = comp.get(kind, {})
        r = c.get("ckptfs_compression_ratio")
        rows.append(Row("compression", f"{kind} real weights, raw/stored", r, tgt, source="DESIGN",
                        note=f"zstd -1 {fmt(c.get('zstd1_ratio'), 3)}, zstd -3 {fmt(c.get('zstd3_ratio'), 3)}" if c else ""))
        for lvl in (1, 3):
            z = c.get(f"zstd{lvl}_ratio")
            rows.append(Row("compression", f"{kind}: ckptfs vs zstd -{lvl} (ratio of ratios)", r / z if r and z else None, None,
                            source="-", note="> 1: smaller than zstd"))

    # ---- demo
    demo_ratio = demo.get("total_ratio")
    rows.append(Row("dedup", "demo checkpoint series, logical/stored", demo_ratio, 1.8,
                    note=demo.get("skipped", "") if demo_ratio is None else
                    f"{demo.get('logical_bytes', 0) / 1e6:.0f} MB logical, {demo.get('stored_bytes', 0) / 1e6:.0f} MB stored"))

    # ---- checkpointer: blocked time of save() over torch::save's call time (to local disk)
    loc = ckpt.get("local", {}).get("rows", {})
    mnt = ckpt.get("mount", {}).get("rows", {})
    tsave = loc.get("torch::save (sync)", {}).get("blocks_s")
    def stall(rows_, name):
        b = rows_.get(name, {}).get("blocks_s")
        return (b / tsave) if b is not None and tsave else None
    # the ratio is "blocked / torch::save", lower is better
    for where, rr in (("local disk", loc), ("through the mount", mnt)):
        for name in ("ckpt async", "ckpt async budget=256M"):
            if name in rr or not rr:
                budgeted = "budget" in name  # a budget below the state blocks for all rounds but the last, by design
                rows.append(Row("checkpointer", f"{name} save() blocks, {where} / torch::save local", stall(rr, name),
                                None if budgeted else 0.1, op="<=", source="-" if budgeted else "issue, DESIGN",
                                note=f"durable {fmt(rr.get(name, {}).get('durable_s'))} s, peak +RSS {fmt(rr.get(name, {}).get('peak_rss_mib'), 0)} MiB (budget {rr.get(name, {}).get('budget_mib', '-')})" if rr.get(name) else ""))

    # Through the mount, also against torch::save into the same mount, and
    # everywhere against a plain parallel memcpy of the state (the floor for
    # any snapshot of CPU tensors).
    mt = mnt.get("torch::save (sync)", {}).get("blocks_s")
    mb = mnt.get("ckpt async", {}).get("blocks_s")
    if mt and mb is not None:
        rows.append(Row("checkpointer", "ckpt async save() blocks, through the mount / torch::save through the mount",
                        mb / mt, 0.1, op="<=", source="DESIGN", note=f"torch::save through the mount {fmt(mt)} s"))
    # A synchronous save is only a checkpoint once fsynced: the stall against
    # torch::save + fsync into the same place (information, not the target).
    for where, rr in (("local disk", loc), ("through the mount", mnt)):
        td = rr.get("torch::save (sync)", {}).get("durable_s")
        b = rr.get("ckpt async", {}).get("blocks_s")
        if td and b is not None:
            rows.append(Row("checkpointer", f"ckpt async save() blocks / torch::save+fsync, {where}", b / td, None,
                            source="-", note=f"torch::save+fsync {fmt(td)} s, save() blocks {fmt(b, 3)} s"))
    for where, rr in (("local disk", loc), ("through the mount", mnt)):
        fl = rr.get(next((k for k in rr if k.startswith("memcpy floor")), ""), {}).get("blocks_s")
        b = rr.get("ckpt async", {}).get("blocks_s")
        if fl and b is not None:
            rows.append(Row("checkpointer", f"ckpt async save() blocks / memcpy floor, {where}", b / fl, None,
                            source="-", note=f"memcpy of the state {fmt(fl, 3)} s, save() blocks {fmt(b, 3)} s"))

    for where, key in (("local disk", "local"), ("through the mount", "mount")):
        for e in ckpt.get(key, {}).get("errors", []):
            rows.append(Row("checkpointer", f"ckpt-bench {where}: ERROR", None, None, source="-", note=e.replace("|", "/")))

    # ---- import
    imp_ratio = None
    for k in ("ratio", "cp_over_import", "speedup", "import_ratio"):
        if isinstance(imp.get(k), (int, float)):
            imp_ratio = imp[k]
            break
    rows.append(Row("import", "ckptfs import vs cp+sync (cp_time / import_time)", imp_ratio, 1.0, source="import_bench.sh",
                    note=imp.get("skipped", "") or (f"cp+sync {fmt(imp.get('cp_s'))} s, import {fmt(imp.get('import_s'))} s"
                                                    if imp_ratio is not None else "see bench/import_bench.sh output")))

    # ---------------------------------------------------------------- markdown
    L = []
    title = "# ckptfs benchmarks" + (" (QUICK RUN: small sizes, 1 run; noisy, not the reference numbers)" if quick else "")
    L += [title, "",
          "Generated by `bench/run` (" + ("`bench/run --quick`" if quick else "`bench/run`") + "); do not edit by hand. "
          "Targets come from issue 3/5 (\"issue\") and `DESIGN.md` section 7a (\"DESIGN\").",
          "Time ratios are peer_time / ckptfs_time, so **> 1 means ckptfs is faster**; size ratios are logical / stored.",
          "", "![ratios against their targets](benchmarks.png)", ""]
    L += ["## Machine", "",
          f"- date: {machine.get('date', '?')}, git `{machine.get('git', '?')}`",
          f"- CPU: {machine.get('cpu', '?')}, nproc {machine.get('nproc', '?')}, memory {machine.get('mem_gib', '?')} GiB, kernel {machine.get('kernel', '?')}",
          f"- disk (work dir, the store and the disk peer; df source fstype size avail): `{machine.get('disk', '?')}` (rotational={machine.get('rotational', '?')})",
          f"- load average at start {' '.join(machine.get('loadavg_start', []))}, at end {(load(res, 'loadavg_end') or '?').strip()}"
          + (" - **the machine was busy; treat the timings as noisy**" if float((machine.get('loadavg_start') or ['0'])[0]) > 1.5 else ""),
          ""]
    L += ["## Results against targets", "",
          "| area | measurement | value | target | from | result | notes |",
          "|---|---|---|---|---|---|---|"]
    L += [r.md() for r in rows]
    n_pass = sum(1 for r in rows if r.passed is True)
    n_fail = sum(1 for r in rows if r.passed is False)
    L += ["", f"{n_pass} targets pass, {n_fail} fail, {sum(1 for r in rows if r.target is not None and r.value is None)} not measured.", ""]

    # mount details
    if peers:
        L += [f"## Mount: {mount.get('size_mib', '?')} MiB of tiled real fp32 weights, medians of {mount.get('runs', '?')} interleaved runs", "",
              "| peer | write+sync s | MB/s | cold read s | MB/s | warm read s | MB/s | runs |", "|---|---|---|---|---|---|---|---|"]
        for p in ("disk", "passthrough_ll", "ckptfs"):
            o = peers.get(p, {})
            cells = []
            for op in ("write", "cold", "warm"):
                v = o.get(op, {})
                cells += [fmt(v.get("median_s")), fmt(v.get("MBps"), 0)]
            L.append(f"| {p} | " + " | ".join(cells) + f" | {o.get('write', {}).get('runs', '-')} |")
        L += ["", "FUSE daemon CPU time (user+sys, from /proc/PID/stat) and minor page faults during each operation (medians):", "",
              "| daemon | write CPU s | cold read CPU s | warm read CPU s | write minflt | cold read minflt |", "|---|---|---|---|---|---|"]
        for p in ("passthrough_ll", "ckptfs"):
            o = peers.get(p, {})
            c = [fmt(o.get(op, {}).get("daemon_cpu_s_median")) for op in ("write", "cold", "warm")]
            f = [fmt(o.get(op, {}).get("daemon_minflt_median"), 0) for op in ("write", "cold")]
            L.append(f"| {p} | " + " | ".join(c + f) + " |")
        st = mount.get("ckptfs_stats", {})
        L += ["", f"MB/s are logical bytes (10^6) per second. Bytes read back from ckptfs identical to the source: "
              f"{'yes' if mount.get('readback_identical') else 'NO'}. Store after one copy: "
              f"{fmt(st.get('stored_bytes', 0) / 1e6, 0)} MB stored for {fmt(st.get('logical_bytes', 0) / 1e6, 0)} MB logical "
              f"(compression {fmt(st.get('compression_ratio'), 3)}x, dedup {fmt(st.get('dedup_ratio'), 3)}x).", ""]
    sets = settings.get("settings", {})
    if sets:
        base = sets.get("default", {})
        L += [f"## Mount options (ckptfs only, {settings.get('size_mib', '?')} MiB, medians of {settings.get('runs', '?')})", "",
              "`dd1M` = default options, written with `dd bs=1M conv=fsync` instead of `cp` (1 MiB write requests instead of cp's; "
              "`max_write` itself is fixed at 1 MiB in `fs/fuse_adapter.cc` and is not a mount option). "
              "`ra128` = default options with the mount's kernel readahead (`/sys/class/bdi/MAJ:MIN/read_ahead_kb`) put back "
              "from the 1024 KiB the daemon sets to the kernel's 128 KiB before the reads: what the larger FUSE read requests buy.", "",
              "| -o | write s | MB/s | cold read s | MB/s | warm read s | MB/s | write vs default |", "|---|---|---|---|---|---|---|---|"]
        for s, o in sets.items():
            cells = []
            for op in ("write", "cold", "warm"):
                v = o.get(op, {})
                cells += [fmt(v.get("median_s")), fmt(v.get("MBps"), 0)]
            bw, sw = base.get("write", {}).get("median_s"), o.get("write", {}).get("median_s")
            L.append(f"| `{s.replace('+', ',')}` | " + " | ".join(cells) + f" | {fmt(bw / sw if bw and sw else None)}x |")
        L.append("")
    if memory:
        L += ["## Daemon memory", "",
              f"A {memory.get('file_bytes', 0) / 2**30:.1f} GiB file streamed from `make_weights.py` into the mount "
              f"(`dd bs=1M conv=fsync`), then read back cold. VmRSS polled every {memory.get('poll_interval_s')} s "
              f"({memory.get('samples')} samples) plus VmHWM at the end.", "",
              f"| phase | peak RSS MiB | MB/s |", "|---|---|---|",
              f"| write | {fmt(memory.get('peak_rss_write_mib'), 0)} | {fmt(memory.get('write_MBps'), 0)} |",
              f"| read | {fmt(memory.get('peak_rss_read_mib'), 0)} | {fmt(memory.get('read_MBps'), 0)} |",
              f"| VmHWM (whole life) | {fmt(memory.get('vmhwm_mib'), 0)} | |", ""]
    if comp:
        L += ["## Compression", "",
              "Tiled real fp32 weights (`make_weights.py`, esrgan-thick) imported into a fresh store; ckptfs ratio = "
              "`unique_raw_bytes / stored_bytes` from `ckptfs stats --json` (dedup excluded). bf16 = the high 16 bits of the "
              "same weights, one tile only (make_weights.py randomizes only the low byte of each fp32 word, so bf16 tiles "
              "repeat exactly and would dedup).", "",
              "| data | MB | ckptfs | zstd -1 | zstd -3 |", "|---|---|---|---|---|"]
        for kind in ("fp32", "bf16"):
            c = comp.get(kind)
            if c:
                L.append(f"| {kind} | {c['bytes'] / 1e6:.0f} | {fmt(c.get('ckptfs_compression_ratio'), 3)} | "
                         f"{fmt(c.get('zstd1_ratio'), 3)} | {fmt(c.get('zstd3_ratio'), 3)} |")
        L.append("")
    if codec:
        L += ["## codec-bench", "", "```", codec.strip(), "```", ""]
    for where in ("local", "mount"):
        c = ckpt.get(where)
        if c:
            L += [f"## Checkpointer ({'local disk' if where == 'local' else 'through the ckptfs mount'})", "",
                  c.get("state", ""), "",
                  "| method | save() blocks s | durable s | peak +RSS MiB | budget MiB | blocks / torch::save (same dir) |",
                  "|---|---|---|---|---|---|"]
            for n, r in c.get("rows", {}).items():
                L.append(f"| {n} | {r['blocks_s']:.3f} | {r['durable_s']:.3f} | {r['peak_rss_mib']:.0f} | {r['budget_mib']} | {r['blocks_over_torch_save']:.3f} |")
            L.append("")
    if demo:
        L += ["## Demo checkpoint series", ""]
        if "skipped" in demo:
            L += [f"Not measured: {demo['skipped']}", ""]
        else:
            L += ["`ckptfs stats --json` of the demo store:", "", "```", json.dumps(demo, indent=1), "```", ""]
    if imp.get("markdown"):
        L += ["## Import (bench/import_bench.sh)", ""] + [l.replace("## ", "### ") for l in imp["markdown"].strip().splitlines()] + [""]
    elif imp:
        L += ["## Import", "", "```", json.dumps(imp, indent=1), "```", ""]
    # ---- notes computed from the numbers above
    notes = []
    ck, pt, dk = peers.get("ckptfs", {}), peers.get("passthrough_ll", {}), peers.get("disk", {})
    gb = mount.get("size_mib", 0) * 2**20 / 1e9
    import re
    put = re.findall(r"put path level \d+\s+(\d+)", codec or "")
    ncpu = machine.get("nproc") or 1
    if ck.get("write", {}).get("daemon_cpu_s_median") and gb:
        cpu_gb = ck["write"]["daemon_cpu_s_median"] / gb
        n = (f"Write: the ckptfs daemon spends {cpu_gb:.2f} CPU-s per GB written "
             f"({1 / cpu_gb * 1000:.0f} MB per CPU-second; passthrough_ll {fmt(pt.get('write', {}).get('daemon_cpu_s_median', 0) / gb)} CPU-s/GB). "
             f"The disk takes {fmt(dk.get('write', {}).get('MBps'), 0)} MB/s")
        if put:
            n += (f"; codec-bench's put path (chunk+hash+compress) is {put[0]} MB/s per core, so {ncpu} cores cap the "
                  f"write near {int(put[0]) * ncpu} MB/s before FUSE and copy overheads")
        notes.append(n + ".")
        wall = ck["write"]["median_s"]
        notes.append(f"Write parallelism: daemon CPU {ck['write']['daemon_cpu_s_median']:.2f} s over {wall:.2f} s wall = "
                     f"{ck['write']['daemon_cpu_s_median'] / wall:.2f} of {ncpu} cores busy.")
    if ck.get("cold", {}).get("daemon_minflt_median") and gb:
        mib = mount.get("size_mib", 1)
        notes.append(f"Cold read: {ck['cold']['daemon_minflt_median'] / (mib * 256):.2f} minor page faults per 4 KiB read "
                     f"({ck['cold']['daemon_minflt_median']:.0f} for {mib} MiB) and {ck['cold'].get('daemon_cpu_s_median', 0) / gb:.2f} CPU-s/GB "
                     f"in the daemon (passthrough_ll {fmt(pt.get('cold', {}).get('daemon_cpu_s_median', 0) / gb)} CPU-s/GB).")
    if sets:
        for op in ("write", "cold", "warm"):
            best = min(sets.items(), key=lambda kv: kv[1].get(op, {}).get("median_s", 1e9))
            b0 = sets.get("default", {}).get(op, {}).get("median_s")
            bs = best[1].get(op, {}).get("median_s")
            if b0 and bs:
                notes.append(f"Options, {op}: fastest is `{best[0].replace('+', ',')}` ({b0 / bs:.2f}x the default's speed).")
    if notes:
        L += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    errs = sorted(glob.glob(os.path.join(res, "*.error.json")))
    if errs:
        L += ["## Steps that failed", ""] + [f"- {os.path.basename(e).split('.')[0]}" for e in errs] + [""]
    L += ["## Commands", "", "Everything above was produced by one command, " + ("`bench/run --quick`" if quick else "`bench/run`") +
          ", which ran:", "", "```", cmds.strip(), "```", "",
          "Mount benchmark operations (bench/mount_bench.sh), per run, interleaved disk -> passthrough_ll -> ckptfs:", "",
          "```",
          "write: sync; t0; cp FILE DIR/ && sync; t1        (ckptfs: fresh store each run: ckptfs init, ckptfs mount)",
          "cold:  remount (ckptfs umount/mount; fusermount3 -u + passthrough_ll -o source=SRC MNT); sync; echo 3 > /proc/sys/vm/drop_caches",
          "       t0; dd if=DIR/FILE of=/dev/null bs=1M; t1",
          "warm:  t0; dd if=DIR/FILE of=/dev/null bs=1M; t1",
          "```", "",
          "passthrough_ll is libfuse 3's example (`/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c`, "
          "built by `bench/passthrough` with `gcc -O2 $(pkg-config fuse3 --cflags --libs)`), default options, "
          "over a directory on the same disk.", ""]
    steps = load(res, "step_seconds.txt")
    if steps:
        L += ["Step durations (s): " + ", ".join(l.replace(" ", " ") for l in steps.strip().splitlines()), ""]
    os.makedirs(os.path.dirname(os.path.abspath(a.md)), exist_ok=True)
    with open(a.md, "w") as f:
        f.write("\n".join(L))

    # ---------------------------------------------------------------- chart
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cr = [r for r in rows if r.headroom is not None]
    fig, ax = plt.subplots(figsize=(10, 0.45 * max(len(cr), 4) + 1.5))
    labels = [f"{r.name} [{r.source}]" for r in cr]
    vals = [r.headroom for r in cr]
    colors = ["#2e8b57" if r.passed else "#c0392b" for r in cr]
    y = range(len(cr))
    ax.barh(y, vals, color=colors)
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
    for i, r in enumerate(cr):
        txt = (f"{r.value:.0f} MiB (<= {r.target:.0f})" if r.unit == "MiB" else f"{r.value:.2f}x ({r.op} {r.target}x)")
        ax.text(vals[i], i, " " + txt, va="center", fontsize=8)
    ax.set_yticks(list(y))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("measured / target (>= 1 meets the target; for <= targets: target / measured)")
    ax.set_xlim(0, max(vals + [1.0]) * 1.45)
    ax.set_title("ckptfs vs targets" + (" (QUICK RUN, noisy)" if quick else "") + f", {machine.get('date', '')}", fontsize=10)
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    print(f"report.py: {n_pass} pass, {n_fail} fail; wrote {a.md} and {a.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
