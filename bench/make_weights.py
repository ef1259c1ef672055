#!/usr/bin/python3
"""Writes SIZE bytes of realistic fp32 (or bf16) weights by tiling real trained
weights, with every tile's lowest mantissa byte re-randomized (fp32) or its 4 KiB
blocks permuted (bf16) so that tiles do not deduplicate against each other (a benchmark of the write path must not be
flattered by dedup). The exponent and high mantissa bytes - what compression
exploits - stay exactly those of the real weights.

usage: make_weights.py SRC.bin OUT SIZE_MIB [--bf16]
"""
import sys
import numpy as np


def main():
    if len(sys.argv) < 4 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 2 if len(sys.argv) < 4 else 0
    src, out, size_mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bf16 = "--bf16" in sys.argv[4:]
    base = np.fromfile(src, dtype=np.uint32)
    base = base[: len(base) - len(base) % 2048]
    if base.size == 0:
        print(f"make_weights: {src}: too small", file=sys.stderr)
        return 1
    rng = np.random.default_rng(1234)
    target = size_mib << 20
    written = 0
    with open(out, "wb") as f:
        while written < target:
            tile = base ^ rng.integers(0, 256, size=base.size, dtype=np.uint32)
            if bf16:
                # bf16 drops the randomized low byte, so tiles would dedup:
                # instead permute 4 KiB blocks of each tile. Chunks (>= 64 KiB)
                # then never repeat, and the bytes' statistics are unchanged.
                half = (base >> 16).astype(np.uint16)
                blocks = half.reshape(-1, 2048)
                data = blocks[rng.permutation(blocks.shape[0])].tobytes()
            else:
                data = tile.tobytes()
            data = data[: target - written]
            f.write(data)
            written += len(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
