"""Use what you trained (issue 11): `load_student` / `load_teacher` return ready models rebuilt from the run's stored
config, and `evaluate(model, data)` scores any module on any data (name, xr.Dataset or file) in physical units."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from s2kd.data.core import split_dataset, toy_dataset
from s2kd.train.config import RunConfig
from s2kd.train.experiment import run
import s2kd.train.api as api


class Persistence(nn.Module):
    "Reference forecast: the last input frame, repeated."
    def __init__(self, t_out:int=2): super().__init__(); self.t_out = t_out
    def forward(self, x): return x[:, -1:].expand(-1, self.t_out, -1, -1, -1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    "One kd run (smoke presets, 2 epochs) on a toy dataset given to the config as a netCDF path."
    d = tmp_path_factory.mktemp("api")
    ds = toy_dataset(n_member=3, n_time=24, h=8, w=8); ds.to_netcdf(d/"toy.nc")
    cfg = RunConfig(dataset=str(d/"toy.nc"), method="kd", epochs=2, batch_size=8, cache_dir=str(d/"cache"),
                    results_dir=str(d/"results"), device="cpu", name="toy-kd")
    return dict(d=d, ds=ds, cfg=cfg, result=run(cfg), run_dir=d/"results"/"toy-kd")


def test_load_student_is_ready(trained):
    "Eval mode, frozen, built from the stored config, and holding exactly best.pt's student weights."
    s = api.load_student(trained["run_dir"], cache=trained["cfg"].cache_dir)
    assert isinstance(s, nn.Module) and not s.training and not any(p.requires_grad for p in s.parameters())
    c = trained["cfg"]; paths = dict(dataset=c.dataset, cache_dir=c.cache_dir, results_dir=c.results_dir)  # recorded portably
    assert s.trained_on.config.replace(**paths) == c and s.trained_on.in_shape == (2, 2, 8, 8)
    best = torch.load(Path(trained["result"]["checkpoints"])/"best.pt", weights_only=True)
    own = s.state_dict()
    assert {f"student.{k}" for k in own} == {k for k in best if k.startswith("student.")}
    assert all(torch.equal(v, best[f"student.{k}"]) for k, v in own.items())


def test_checkpoints_load_with_weights_only(trained, monkeypatch):
    "Every torch.load of a run's checkpoints passes weights_only=True."
    calls, real = [], torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **kw: calls.append(kw.get("weights_only")) or real(*a, **kw))
    api.load_student(trained["run_dir"], cache=trained["cfg"].cache_dir); api.load_teacher(trained["run_dir"], cache=trained["cfg"].cache_dir)
    assert calls == [True, True]


@pytest.mark.parametrize("who", ["student", "teacher:simvp"])
def test_loaded_models_reproduce_the_runs_metrics(trained, who):
    "evaluate(loaded model, the run's file) gives the test metrics `run` reported."
    m = api.load_student(trained["run_dir"], cache=trained["cfg"].cache_dir) if who == "student" else api.load_teacher(trained["run_dir"], "simvp", cache=trained["cfg"].cache_dir)
    got, want = api.evaluate(m, trained["d"]/"toy.nc"), trained["result"]["metrics"][who]["test"]
    for k in ("mse", "mae"):  # same model, same windows, same float32 reductions: equal up to rounding (1e-5 relative)
        assert got[k] == pytest.approx(want[k], rel=1e-5), (k, got[k], want[k])
    assert got["mse_per_lead"] == pytest.approx(want["mse_per_lead"], rel=1e-5)
    same = api.evaluate(m, trained["ds"])  # an xr.Dataset gives what its file gives
    assert same["mse"] == pytest.approx(got["mse"], rel=1e-6)


def test_evaluate_any_module_through_run_model(trained, monkeypatch):
    "A reference forecast is scored through s2kd.distill.run_model, in physical units (closed form by numpy)."
    import s2kd.train.experiment as ex
    seen, real = [], ex.run_model
    monkeypatch.setattr(ex, "run_model", lambda m, b: seen.append(type(m).__name__) or real(m, b))
    ds = trained["ds"]
    m = api.evaluate(Persistence(2), ds)
    assert seen and set(seen) == {"Persistence"}
    x = split_dataset(ds)["test"].to_array("var").transpose("member", "time", "var", ...).values  # (M, T, C, H, W)
    n = x.shape[1] - 3   # windows of 2 -> 2 frames
    ref = np.mean([((x[:, i + 2:i + 4] - x[:, i + 1:i + 2]) ** 2).mean() for i in range(n)])
    assert m["mse"] == pytest.approx(ref, rel=1e-5)  # float32 normalise/denormalise round trip: ~1e-6 relative


def test_evaluate_by_embedded_name_and_all_windows(cache):
    "An embedded name works, and split='all' scores every window of the data."
    m = api.evaluate(Persistence(4), "navier_stokes", size="tiny", t_in=4, t_out=4)
    a = api.evaluate(Persistence(4), "navier_stokes", size="tiny", t_in=4, t_out=4, split="all")
    assert np.isfinite(m["mse"]) and np.isfinite(a["mse"]) and len(a["mse_per_lead"]) == 4


def test_evaluate_errors_name_what_does_not_fit(trained):
    s = api.load_student(trained["run_dir"], cache=trained["cfg"].cache_dir)
    with pytest.raises(ValueError, match=r"the data gives \(2, 2, 6, 8\)"):
        api.evaluate(s, toy_dataset(n_member=3, n_time=24, h=6, w=8))
    with pytest.raises(ValueError, match=r"trained on variables \['u', 'v'\]"):
        api.evaluate(s, trained["ds"][["v", "u"]])
    with pytest.raises(FileNotFoundError, match="nope/result.json: no such file"):
        api.load_student(trained["d"]/"results"/"nope")
    with pytest.raises(ValueError, match="has no teacher"):
        base = trained["cfg"].replace(method="baseline", name="toy-base")
        run(base); api.load_teacher(trained["d"]/"results"/"toy-base")


def test_dataset_path_in_config(trained):
    "`dataset` in a RunConfig may be a file path; result.json keeps it as given."
    saved = json.loads((trained["run_dir"]/"result.json").read_text())
    assert saved["config"]["dataset"].endswith("toy.nc")
