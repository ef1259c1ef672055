#!/usr/bin/python3
"""kill -9 of ckptfs-train while it saves (period 1: it is nearly always
saving), 12 times on one run directory. After every kill:
  * last_checkpoint names a complete checkpoint, and every file of it loads;
  * every directory under a final name is complete and loads;
  * only hidden .<name>.tmp-* / .old-* entries may be partial.
Finally a clean --resume run removes the stale temporaries and continues from
the iteration the last checkpoint recorded."""
import os
import random
import signal
import subprocess
import time

import torch

from ckpt_common import TempDir, fail, load_checkpoint, parse_args, run_train

KILLS = 12


def check_tree(out):
    names = os.listdir(out)
    final_dirs = [n for n in names if os.path.isdir(os.path.join(out, n)) and not n.startswith(".")]
    for n in final_dirs:
        load_checkpoint(torch, os.path.join(out, n))
    stale = [n for n in names if n.startswith(".")]
    for n in stale:
        if ".tmp-" not in n and ".old-" not in n:
            fail(f"unexpected hidden entry {n}")
    last = os.path.join(out, "last_checkpoint")
    if not os.path.exists(last):
        return None, len(stale)
    with open(last) as f:
        name = f.read()
    if name not in final_dirs:
        fail(f"last_checkpoint names {name!r}, which is not a complete checkpoint ({final_dirs})")
    return load_checkpoint(torch, os.path.join(out, name))["graph"]["step"], len(stale)


def main():
    args = parse_args()
    rng = random.Random(1234)
    with TempDir() as tmp:
        out = os.path.join(tmp, "run")
        steps, stale_seen = [], 0
        cmd = [args.train, "--output", out, "--iters", "1000000", "--period", "1",
               "--eval-period", "7", "--model-size", "tiny", "--max-to-keep", "3", "--resume"]
        for k in range(KILLS):
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # Wait for the first save of this run, then kill at a random moment.
            deadline = time.time() + 60
            while time.time() < deadline:
                line = p.stdout.readline()
                if "saving checkpoint" in line or not line:
                    break
            time.sleep(rng.uniform(0.0, 0.4))
            p.send_signal(signal.SIGKILL)
            p.communicate()
            step, stale = check_tree(out)
            stale_seen += stale
            if step is None:
                fail(f"kill {k}: no checkpoint after the first save started")
            if steps and step < steps[-1]:
                fail(f"kill {k}: last checkpoint went back from {steps[-1]} to {step}")
            steps.append(step)
        print(f"steps at the {KILLS} kills: {steps}; stale temporaries seen: {stale_seen}")
        r = run_train(args.train, "--output", out, "--iters", steps[-1] + 3, "--period", 1,
                      "--model-size", "tiny", "--resume")
        if f"start_iter {steps[-1] + 1}" not in r.stdout:
            fail("resume after the kills did not continue from the last checkpoint")
        leftovers = [n for n in os.listdir(out) if n.startswith(".")]
        if leftovers:
            fail(f"stale temporaries not cleaned: {leftovers}")
        check_tree(out)
    print("ok")


if __name__ == "__main__":
    main()
