#!/usr/bin/python3
"""Resume is bit-exact: 20 iterations straight give the same per-iteration
losses as 10 iterations, a stop, and --resume for the other 10. The first half
saves with a tiny staging budget (many staging rounds), the second half
synchronously, so both save paths feed the comparison."""
import os

from ckpt_common import TempDir, fail, losses, parse_args, run_train


def main():
    args = parse_args()
    common = ["--iters", 20, "--period", 10, "--model-size", "small", "--seed", 5]
    with TempDir() as tmp:
        straight = losses(run_train(args.train, "--output", os.path.join(tmp, "a"), *common).stdout)
        b = os.path.join(tmp, "b")
        first = run_train(args.train, "--output", b, *common, "--stop-after", 10,
                          "--staging-budget", "64K")
        second = run_train(args.train, "--output", b, *common, "--resume", "--sync")
        if "start_iter 10" not in second.stdout:
            fail("resume did not continue at iteration 10:\n" + second.stdout[:2000])
        resumed = {**losses(first.stdout), **losses(second.stdout)}
        if sorted(straight) != list(range(20)) or sorted(resumed) != list(range(20)):
            fail(f"missing iterations: {sorted(straight)} / {sorted(resumed)}")
        diff = [i for i in range(20) if straight[i] != resumed[i]]
        if diff:
            fail("loss curves differ at iterations " + ", ".join(
                f"{i}: {straight[i]} vs {resumed[i]}" for i in diff))
        # No resume without a checkpoint: starts from scratch.
        fresh = run_train(args.train, "--output", os.path.join(tmp, "c"), "--iters", 2,
                          "--period", 10, "--model-size", "tiny", "--resume")
        if "start_iter 0" not in fresh.stdout:
            fail("--resume without a checkpoint should start at 0")
    print("ok")


if __name__ == "__main__":
    main()
