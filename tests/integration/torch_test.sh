#!/bin/bash
# Debian's python3-torch: torch.save a state_dict into the mount, torch.load it equal.
source "$(dirname "$0")/lib.sh"
require_fuse
/usr/bin/python3 -c 'import torch' 2>/dev/null || skip "python3-torch not installed"
fresh_mount
cat > "$WORK/t.py" <<'PY'
import os, sys, torch
mode, path = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
sd = {"fc.weight": torch.randn(512, 1024), "fc.bias": torch.randn(512),
      "emb": torch.randn(1000, 64).to(torch.bfloat16), "step": torch.tensor(1234)}
if mode == "save":
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        torch.save(sd, f)
        f.flush(); os.fsync(f.fileno())
else:
    got = torch.load(path)
    assert got.keys() == sd.keys(), got.keys()
    for k in sd:
        assert got[k].dtype == sd[k].dtype and torch.equal(got[k], sd[k]), k
PY
/usr/bin/python3 "$WORK/t.py" save "$MNT/run/model_0000001/model"
/usr/bin/python3 "$WORK/t.py" load "$MNT/run/model_0000001/model" || fail "torch.load in the same mount"
umount_store
mount_store
/usr/bin/python3 "$WORK/t.py" load "$MNT/run/model_0000001/model" || fail "torch.load after remount"
umount_store
echo PASS
