"""The paper preset on a CPU (issue 12: the GPU path cannot run here): every paper-size teacher (ST-AlterNet, SimVP,
SimVP-Deep, EarthFarseer, Triton, the multimodal S²-KD teacher) and student (U-Net, ResNet, MLP-Mixer), built for the
paper shape of the dataset it is used on (`s2kd.efficiency.BENCH_SHAPES`), trains for one optimisation step and is
validated and scored on one batch, through `run(cfg)` with `max_steps=1` — the dry run of
`s2kd reproduce --preset paper --dry-run`. The data are windows of the paper shape made in memory (random values: the
paper-size datasets are not generated here)."""
import json, math, os, time

import numpy as np
import pandas as pd
import pytest
import xarray as xr

os.environ.setdefault("OMP_NUM_THREADS", "1")

from s2kd.efficiency import BENCH_SHAPES
from s2kd.models.registry import param_count
from s2kd.train.config import RunConfig
from s2kd.train.experiment import run

CASES = [  # dataset (its paper shape), teacher, method, student: every teacher and every student at least once
    ("navier_stokes", "alternet", "sdkd", "unet"),
    ("convection", "simvp", "kd", "resnet"),
    ("plume", "simvp_deep", "kd", "mixer"),
    ("traffic", "earthfarseer", "kd", "unet"),
    ("winds", "triton", "kd", "resnet"),
    ("winds", "multimodal", "s2kd", "mixer"),
]


def paper_shaped(name: str) -> xr.Dataset:
    "Random windows of `name`'s paper shape: one member, 5 windows' worth of days (3 train, 1 val, 1 test by time)."
    (t_in, c, h, w), t_out = BENCH_SHAPES[name]["paper"]
    n = 5 * (t_in + t_out); rng = np.random.default_rng(0)
    t = pd.date_range("2000-01-01", periods=n, freq="D"); days = [str(d) for d in t.values.astype("datetime64[D]")]
    dims = ("member", "time", "y", "x")
    ds = xr.Dataset({f"v{i}": (dims, rng.standard_normal((1, n, h, w)).astype("float32"), {"units": "1"}) for i in range(c)},
                    coords={"member": [0], "time": t, "y": np.arange(h), "x": np.arange(w)})
    k = 3 * (t_in + t_out)
    ds.attrs = dict(title=f"{name} (paper shape, random)", source="tests/test_paper_dry_run.py", provenance="random normal",
                    license="CC0", synthetic="yes", t_in=t_in, t_out=t_out, domain="fluid",
                    splits=json.dumps({"kind": "time", "train": [days[0], days[k - 1]], "val": [days[k], days[k + t_in + t_out - 1]],
                                       "test": [days[k + t_in + t_out], days[-1]]}))
    return ds


@pytest.mark.slow
@pytest.mark.parametrize("dataset,teacher,method,student", CASES)
def test_one_step_at_paper_shapes(dataset, teacher, method, student, tmp_path):
    (t_in, c, h, w), t_out = BENCH_SHAPES[dataset]["paper"]
    cfg = RunConfig(dataset=f"memory:{dataset}-paper", size="paper", t_in=t_in, t_out=t_out, teacher=teacher,
                    teacher_preset="paper", student=student, student_preset="paper", method=method, epochs=100,
                    teacher_epochs=100, batch_size=2, max_steps=1, encoder="hashing", device="cpu",
                    cache_dir=str(tmp_path/"cache"), results_dir=str(tmp_path/"results"))
    t0 = time.time()
    r = run(cfg, data=paper_shaped(dataset))
    assert r["data"]["in_shape"] == [t_in, c, h, w] and r["data"]["t_out"] == t_out
    assert r["fit"]["epochs_run"] == 1 and r["fit"]["stopped_early"], r["fit"]      # one step of the 100 epochs, then stop
    assert r["teachers"][0]["trained"] and r["teachers"][0]["epochs_run"] == 1       # the teacher too: one step
    # the paper-size student (as run built it: residual mode and calendar inputs of this data)
    assert r["params"]["student"] == param_count(student, in_shape=(t_in, c, h, w), t_out=t_out, preset="paper", **r["data"]["build"])
    for k in ("student", f"teacher:{teacher}"):
        assert math.isfinite(r["metrics"][k]["test"]["mse"]), (k, r["metrics"][k]["test"])
    print(f"paper shape {dataset} {(t_in, c, h, w)}->{t_out}: {teacher} + {method} {student} "
          f"({r['params']['student'] / 1e6:.1f} M), one step each: {time.time() - t0:.1f} s on 1 thread")
