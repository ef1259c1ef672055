#!/usr/bin/python3
"""ckptfs-train --iters 20 --period 10 writes exactly LiBai's run tree, and
every checkpoint file loads in Python with the expected structure."""
import json
import os

import torch

from ckpt_common import TempDir, fail, load_checkpoint, losses, parse_args, run_train


def main():
    args = parse_args()
    with TempDir() as tmp:
        out = os.path.join(tmp, "run")
        p = run_train(args.train, "--output", out, "--iters", 20, "--period", 10, "--model-size", "tiny")
        tree = sorted(os.path.relpath(os.path.join(d, f), out)
                      for d, dirs, files in os.walk(out) for f in files)
        expected = sorted(["config.yaml", "last_checkpoint", "log.txt", "log.txt.rank1",
                           "log.txt.rank2", "log.txt.rank3", "metrics.json"] +
                          [f"{c}/{f}" for c in ["model_0000009", "model_0000019", "model_best",
                                                "model_final"]
                           for f in ["graph", "lr_scheduler", "model"]])
        if tree != expected:
            fail(f"tree {tree} != {expected}")
        with open(os.path.join(out, "last_checkpoint")) as f:
            if f.read() != "model_final":
                fail("last_checkpoint should name model_final")
        if len(losses(p.stdout)) != 20:
            fail("expected 20 loss lines")
        if p.stdout.count("saved checkpoint") != 4 + 0 and p.stdout.count("saved checkpoint") < 4:
            fail("expected a line per save")
        with open(os.path.join(out, "metrics.json")) as f:
            rows = [json.loads(line) for line in f]
        if [r["iteration"] for r in rows] != list(range(20)):
            fail("metrics.json iterations")
        for r in rows:
            if not {"iteration", "loss", "lr", "time"} <= r.keys():
                fail(f"metrics.json row {r}")
        for name in ["log.txt", "log.txt.rank1", "log.txt.rank2", "log.txt.rank3"]:
            with open(os.path.join(out, name)) as f:
                if sum("] iter: " in line for line in f) != 20:
                    fail(f"{name} should have a line per iteration")
        for ck in ["model_0000009", "model_0000019", "model_best", "model_final"]:
            mode = os.stat(os.path.join(out, ck)).st_mode & 0o777
            if mode != 0o755:
                fail(f"{ck} has mode {oct(mode)}, want 0o755 like os.makedirs")
            c = load_checkpoint(torch, os.path.join(out, ck))
            g = c["graph"]
            if set(g) != {"model", "optimizer", "step"}:
                fail(f"{ck}/graph keys {set(g)}")
            for k, v in c["model"].items():
                if not torch.equal(v, g["model"][k]):
                    fail(f"{ck}: model and graph disagree on {k}")
            opt = g["optimizer"]
            if set(opt) != {"state", "param_groups"}:
                fail(f"{ck}: optimizer keys {set(opt)}")
            st = opt["state"][0]
            if set(st) != {"step", "exp_avg", "exp_avg_sq"}:
                fail(f"{ck}: adam state keys {set(st)}")
            step = g["step"]
            if ck != "model_best" and float(st["step"]) != step + 1:
                fail(f"{ck}: adam step {st['step']} vs graph step {step}")
            if c["lr_scheduler"]["last_epoch"] != step + 1:
                fail(f"{ck}: scheduler epoch {c['lr_scheduler']['last_epoch']} vs step {step}")
            want = {"model_0000009": 9, "model_0000019": 19, "model_final": 19}.get(ck)
            if want is not None and step != want:
                fail(f"{ck}: step {step} != {want}")
            # The Python model of the same architecture takes the state dict.
            m = torch.nn.ModuleDict({
                "emb": torch.nn.Embedding(256, 16), "fc1": torch.nn.Linear(256, 64),
                "norm": torch.nn.LayerNorm(64), "fc2": torch.nn.Linear(64, 64),
                "head": torch.nn.Linear(64, 256)})
            m.load_state_dict(c["model"])
            o = torch.optim.AdamW(m.parameters())
            o.load_state_dict(opt)
    print("ok")


if __name__ == "__main__":
    main()
