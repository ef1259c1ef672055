#!/usr/bin/python3
"""Python side of ckpt_test's interop tests (run by ckpt/tests/ckpt_test.cc).

  make_python_state DIR   torch.save()s state dicts of a small model and its
                          optimizers into DIR (as a training script would:
                          OrderedDict with _metadata), plus expected.json with
                          every value, for C++ to load and compare.
  check_cpp_state DIR     torch.load()s what C++ wrote into DIR, compares it
                          with DIR/expected.json (exact values dumped by C++),
                          and loads the states into matching Python objects.
  resave IN OUT           torch.load(IN) then torch.save(OUT) (round trip).
"""
import json
import math
import os
import sys

import torch


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).double().tolist()]


def make_model():
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                               torch.nn.Linear(4, 2))


def make_python_state(d):
    torch.manual_seed(7)
    m = make_model()
    adam = torch.optim.Adam(m.parameters(), lr=0.01, betas=(0.8, 0.9), eps=1e-7,
                            weight_decay=0.1, amsgrad=True)
    sgd = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    for _ in range(3):
        loss = m(torch.randn(5, 3)).pow(2).sum()
        adam.zero_grad(); sgd.zero_grad()
        loss.backward()
        adam.step(); sgd.step()
    sd = m.state_dict()
    torch.save(sd, os.path.join(d, "model.pt"))
    torch.save({"module." + k: v for k, v in sd.items()}, os.path.join(d, "model_ddp.pt"))
    torch.save(adam.state_dict(), os.path.join(d, "adam.pt"))
    torch.save(sgd.state_dict(), os.path.join(d, "sgd.pt"))
    torch.save(sd, os.path.join(d, "legacy.pt"), _use_new_zipfile_serialization=False)
    exp = {"model": {k: flat(v) for k, v in sd.items()},
           "adam": {str(i): {k: flat(v) for k, v in s.items()}
                    for i, s in adam.state_dict()["state"].items()},
           "sgd": {str(i): flat(s["momentum_buffer"]) for i, s in sgd.state_dict()["state"].items()}}
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(exp, f)


def same(a, b, what):
    if len(a) != len(b) or any(x != y and not (math.isnan(x) and math.isnan(y))
                               for x, y in zip(a, b)):
        raise SystemExit(f"value mismatch in {what}: {a[:4]}... vs {b[:4]}...")


def check_cpp_state(d):
    with open(os.path.join(d, "expected.json")) as f:
        exp = json.load(f)
    ck = os.path.join(d, "ckpt")
    model = torch.load(os.path.join(ck, "model"))
    for k, v in exp["model"].items():
        same(flat(model[k]), v, "model " + k)
    m = make_model()
    m.load_state_dict(model)  # strict: keys and shapes match Python's
    opt = torch.load(os.path.join(ck, "optimizer"))
    for i, s in exp["optimizer"].items():
        for k, v in s.items():
            same(flat(opt["state"][int(i)][k]), v, f"optimizer state {i} {k}")
    g = opt["param_groups"][0]
    assert g["betas"] == (0.8, 0.9) and g["amsgrad"] is True, g
    assert g["params"] == [0, 1, 2, 3, 4, 5, 6, 7][: len(g["params"])], g
    adam = torch.optim.Adam(m.parameters())
    adam.load_state_dict(opt)
    assert adam.param_groups[0]["lr"] == exp["lr"], adam.param_groups[0]
    m(torch.randn(5, 3)).sum().backward()
    adam.step()  # the loaded state has the shapes and types Adam needs
    sgd_state = torch.load(os.path.join(ck, "sgd"))
    sgd = torch.optim.SGD(m.parameters(), lr=1.0)
    sgd.load_state_dict(sgd_state)
    assert sgd.param_groups[0]["nesterov"] is True
    sched = torch.load(os.path.join(ck, "lr_scheduler"))
    assert sched["last_epoch"] == exp["last_epoch"] and sched["step_size"] == 3, sched
    extra = torch.load(os.path.join(ck, "extra"))
    assert extra["name"] == "hello" and extra["pi"] == 3.25 and extra["n"] == -7, extra
    assert extra["flag"] is True and extra["none"] is None and extra["tuple"] == (1, "a"), extra
    assert extra["list"] == [1, 2.5, "x"], extra
    for k, v in exp["extra_tensors"].items():
        t = extra["tensors"][k]
        assert str(t.dtype) == v["dtype"], (k, t.dtype, v["dtype"])
        assert list(t.shape) == v["shape"], (k, t.shape)
        same(flat(t), v["values"], "extra tensor " + k)
    assert extra["tensors"]["shared_a"].data_ptr() == extra["tensors"]["shared_b"].data_ptr()
    print("python check ok")


def main():
    cmd = sys.argv[1]
    if cmd == "make_python_state":
        make_python_state(sys.argv[2])
    elif cmd == "check_cpp_state":
        check_cpp_state(sys.argv[2])
    elif cmd == "resave":
        torch.save(torch.load(sys.argv[2]), sys.argv[3])
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
