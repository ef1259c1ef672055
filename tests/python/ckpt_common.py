"""Shared helpers of the ckptfs-train tests (tests/python/ckpt_train_*_test.py)."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

CHECKPOINT_FILES = ["graph", "lr_scheduler", "model"]


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True, help="path to ckptfs-train")
    return ap.parse_args()


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run_train(train, *args, check=True):
    p = subprocess.run([train, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=300)
    if check and p.returncode != 0:
        fail(f"{train} {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}")
    return p


def losses(stdout):
    """{iteration: exact loss bits} from ckptfs-train's 'iter N loss X (HEX)' lines."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0] == "iter" and parts[2] == "loss":
            out[int(parts[1])] = parts[4]
    return out


def load_checkpoint(torch, path):
    """torch.load()s every file of a checkpoint directory; fails on a missing one."""
    names = sorted(os.listdir(path))
    if names != CHECKPOINT_FILES:
        fail(f"{path} holds {names}, expected {CHECKPOINT_FILES}")
    return {n: torch.load(os.path.join(path, n)) for n in names}


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="ckpt_py_")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
