"""Training-step time of every quick model on real windows, float32 eager against the other ways to run it:
`bf16` (CPU autocast, `RunConfig.amp="bf16"`) and `compile` (torch.compile, inductor). The levers behind the
records in results/timings/ (session 22: bf16; session 23: torch.compile). Run from the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python tools/bench_steps.py --modes fp32 compile --out steps.json

One step = forward, MSE, backward, Adam, on the first batch of the dataset's training windows (batch 16, the quick
preset's). The modes are interleaved step by step so that a change in the machine's speed hits them alike; the
median of `--steps` after `--warmup` is reported. `compile` also reports its first step (tracing and code
generation), which every new model pays once. Timing only: a mode that changes the float results (bf16, compile's
fused kernels) would also change every trained weight, which this does not measure.
"""
import argparse, json, statistics, sys, time
from contextlib import nullcontext

import torch
from torch.utils.data import DataLoader

from s2kd.core import cpu_model
from s2kd.distill import run_model
from s2kd.models.registry import build_model
from s2kd.paper import s2kd_config
from s2kd.train.experiment import init_climatology, load_data, model_build_kw

TEACHERS = dict(navier_stokes="alternet", convection="alternet", plume="simvp_deep", traffic="earthfarseer", winds="triton")
MODES = ("fp32", "bf16", "compile")


def bench(dataset:str, model:str, modes, steps:int, warmup:int):
    cfg = s2kd_config(dataset, TEACHERS[dataset], "unet", "baseline", 42)
    w, _ = load_data(cfg)
    b = next(iter(DataLoader(w.train, batch_size=cfg.batch_size, shuffle=False)))
    torch._dynamo.reset()  # a fresh compile per model: dynamo's recompile limit (8) would fall back to eager unseen
    torch.manual_seed(0)
    m = init_climatology(build_model(model, in_shape=w.train.in_shape, t_out=w.train.t_out, preset="quick",
                                     **model_build_kw(cfg, w)), w)
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    fwd = {"fp32": m, "bf16": m, "compile": torch.compile(m) if "compile" in modes else None}

    def step(mode):
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if mode == "bf16" else nullcontext()
        t0 = time.perf_counter()
        with ctx: y = run_model(fwd[mode], b)
        loss = ((y.float() - b["y"]) ** 2).mean()
        opt.zero_grad(); loss.backward(); opt.step()
        return time.perf_counter() - t0

    first = {k: step(k) for k in modes}  # compile's first step traces and generates code
    ts = {k: [] for k in modes}
    for i in range(warmup + steps):
        for k in modes:
            t = step(k)
            if i >= warmup: ts[k].append(t)
    med = {k: statistics.median(v) for k, v in ts.items()}
    row = dict(dataset=dataset, model=model, params=sum(p.numel() for p in m.parameters()),
               **{f"{k}_ms": round(1e3 * med[k], 2) for k in modes})
    for k in modes:
        if k != "fp32" and "fp32" in modes: row[f"{k}_speedup"] = round(med["fp32"] / med[k], 3)
    if "compile" in modes: row["compile_first_step_s"] = round(first["compile"], 2)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modes", nargs="+", default=["fp32", "bf16", "compile"], choices=MODES)
    p.add_argument("--datasets", nargs="+", default=list(TEACHERS), choices=list(TEACHERS))
    p.add_argument("--models", nargs="+", default=None, help="default: the dataset's teacher, unet, resnet, mixer")
    p.add_argument("--threads", type=int, default=1, help="torch threads (stated in the output)")
    p.add_argument("--steps", type=int, default=6); p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--out", default=None, help="JSON file for the rows (default: print only)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    rows = []
    for ds in a.datasets:
        for model in a.models or (TEACHERS[ds], "unet", "resnet", "mixer"):
            rows.append(bench(ds, model, a.modes, a.steps, a.warmup)); print(json.dumps(rows[-1]), flush=True)
    out = dict(threads=a.threads, torch=torch.__version__, cpu=cpu_model(), cpu_capability=torch.backends.cpu.get_cpu_capability(),
               batch_size=16, steps=a.steps, warmup=a.warmup, rows=rows)
    if a.out: open(a.out, "w").write(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
