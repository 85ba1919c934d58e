"""End to end on EVERY embedded dataset (tiny, smoke presets): a teacher trains once, is frozen, and a student is
distilled with every method through `run(RunConfig(...))`; results are physical, stored atomically, selected on val."""
import csv, hashlib, importlib, json, math, os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from s2kd.data.core import split_dataset
from s2kd.data.embedded import EMBEDDED, load_dataset
from s2kd.models.registry import build_model
from s2kd.train.config import METHODS, RunConfig
from s2kd.distill import run_model
from s2kd.train.experiment import data_range, evaluate_split, load_data, model_build_kw, run

TEACHER = {"s2kd": "multimodal", "aver": "simvp,alternet", "aekd": "simvp,alternet", "camkd": "simvp,alternet"}
ORDER = ("baseline", "kd", "fitnet", "ab", "sdkd", "s2kd", "aver", "aekd", "camkd")  # every method, teachers shared
STRIDE = {"traffic": 4}  # traffic tiny has 217 hourly training windows of 12 -> 12 frames: every 4th keeps it quick
assert set(ORDER) == set(METHODS), f"a method is missing from this test: {set(METHODS) ^ set(ORDER)}"


def _available(name):
    "The dataset's generator module imports (traffic/winds may land later); a missing module is a skip, nothing else."
    mod = EMBEDDED[name].split(":")[0]
    try: importlib.import_module(mod)
    except ModuleNotFoundError as e:
        if e.name == mod: return False
        raise
    return True

DATASETS = [pytest.param(n, marks=pytest.mark.skipif(not _available(n), reason=f"{EMBEDDED[n]} does not exist yet"))
            for n in EMBEDDED]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    "One cache (data, teacher store, runs) and results folder for the whole module: teachers are shared across methods."
    d = tmp_path_factory.mktemp("datasets")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("S2KD_CACHE", str(d/"cache"))
        yield d


def _cfg(root, dataset, method, **kw):
    return RunConfig(dataset=dataset, size="tiny", method=method, teacher=TEACHER.get(method, "simvp"), epochs=2,
                     teacher_epochs=1, batch_size=8, device="cpu", stride=STRIDE.get(dataset, 1),
                     cache_dir=str(root/"cache"), results_dir=str(root/"results")).replace(**kw)


def _sha(path): return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _check_metrics(m, t_out, where):
    "Every scalar finite; per-lead lists of length t_out; the reductions agree with each other."
    for k, v in m.items():
        vs = v if isinstance(v, list) else [v]
        assert all(math.isfinite(x) for x in vs), f"{where}: {k} = {v} is not finite"
        if k.endswith("_per_lead"): assert len(v) == t_out, f"{where}: {k} has {len(v)} leads, expected {t_out}"
    assert m["mse"] > 0 and m["mae"] > 0, where
    assert math.isclose(m["rmse"], math.sqrt(m["mse"]), rel_tol=1e-5), where
    assert math.isclose(float(np.mean(m["mse_per_lead"])), m["mse"], rel_tol=1e-4), where
    assert math.isclose(m["mse_spectral_low"] + m["mse_spectral_high"], m["mse"], rel_tol=1e-3), where
    assert -1 <= m["ssim"] <= 1, where


def _check_files(folder, result, cfg):
    "result.json and metrics.csv exist, nothing else (no torn `.tmp` files), and they read back to what run returned."
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.csv", "result.json"], sorted(folder.iterdir())
    saved = json.loads((folder/"result.json").read_text())
    assert RunConfig.from_dict(saved["config"]).replace(results_dir=cfg.results_dir, cache_dir=cfg.cache_dir) == cfg  # paths: relative
    assert saved["metrics"] == json.loads(json.dumps(result["metrics"]))
    rows = list(csv.DictReader((folder/"metrics.csv").open()))
    assert rows and set(rows[0]) == {"model", "split", "lead", "metric", "value"}
    got = {(r["model"], r["split"], r["metric"]): float(r["value"]) for r in rows if r["lead"] == "0"}
    for model, splits in result["metrics"].items():
        for split, m in splits.items():
            assert math.isclose(got[(model, split, "mse")], m["mse"], rel_tol=1e-12), (model, split)


def _check_selection(fit, epochs):
    "The best epoch is the argmin of the validation history; the history never holds a test number."
    hist = fit["history"]
    assert len(hist) == fit["epochs_run"] == epochs
    assert fit["best_epoch"] == int(np.argmin([h["val_mse"] for h in hist]))
    assert fit["best_val_mse"] == min(h["val_mse"] for h in hist)
    assert not any("test" in k for h in hist for k in h), hist[0].keys()


@torch.no_grad()
def _teacher_test_metrics(cfg, info, result):
    "Reload the stored teacher checkpoint and evaluate it on test: equals what `run` reported after distillation."
    w, _ = load_data(cfg)
    t = build_model(info["name"], in_shape=w.train.in_shape, t_out=w.train.t_out, preset=cfg.teacher_preset, **info["build"])
    t.load_state_dict(torch.load(info["checkpoint"], map_location="cpu", weights_only=True)); t.eval()
    return evaluate_split(t, w.test, w.normalizer, data_range=data_range(w), lat=_lat(w), batch_size=cfg.batch_size)


def _lat(w): return torch.tensor(w.ds["lat"].values.tolist()) if "lat" in w.ds.dims else None


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_method_on_dataset(root, dataset):
    "All methods run on the dataset; shared teachers stay bit-identical; metrics finite; files atomic; val selects."
    ckpt_sha, teacher_metrics, table = {}, {}, {}
    for method in ORDER:
        cfg = _cfg(root, dataset, method)
        r = run(cfg)
        where = f"{dataset}/{method}"
        t_out = r["data"]["t_out"]
        for model, splits in r["metrics"].items():
            assert set(splits) == {"val", "test"}, where
            for s, m in splits.items(): _check_metrics(m, t_out, f"{where}/{model}/{s}")
        _check_selection(r["fit"], cfg.epochs)
        _check_files(Path(cfg.results_dir)/cfg.run_name, r, cfg)
        assert [i["name"] for i in r["teachers"]] == ([] if method == "baseline" else cfg.teachers), where
        for info in r["teachers"]:
            name = info["name"]
            # trained exactly once per dataset, then reused from the store by every later method
            assert info["trained"] == (name not in ckpt_sha), f"{where}: teacher {name} trained={info['trained']}"
            sha = _sha(info["checkpoint"])
            assert ckpt_sha.setdefault(name, sha) == sha, f"{where}: the stored {name} checkpoint changed"
            tm = r["metrics"][f"teacher:{name}"]
            # the teacher evaluated AFTER distillation == the same teacher in every other run == its checkpoint
            assert teacher_metrics.setdefault(name, tm) == tm, f"{where}: teacher {name}'s metrics changed between runs"
            if info["trained"]:
                got = _teacher_test_metrics(cfg, info, r)  # `run` adds skill_* scores beside these metrics
                assert got == {k: tm["test"][k] for k in got}, f"{where}: the frozen teacher moved"
        if method == "s2kd": assert r["narratives"] is not None and r["narratives"].startswith(cfg.narrator)
        table[method] = r["metrics"]["student"]["test"]["mse"]
    print(f"\n{dataset}: student test MSE (physical units) " + ", ".join(f"{k} {v:.4g}" for k, v in table.items()))


@pytest.mark.parametrize("dataset", DATASETS)
def test_metrics_are_physical(root, dataset):
    "The reported test MSE is the best-on-val student checkpoint's MSE after decoding to physical units."
    cfg = _cfg(root, dataset, "baseline", name=f"{dataset}-physical")
    r = run(cfg)
    w, _ = load_data(cfg)
    s = build_model(cfg.student, in_shape=w.train.in_shape, t_out=w.train.t_out, preset=cfg.student_preset, **model_build_kw(cfg, w))
    best = torch.load(Path(r["checkpoints"])/"best.pt", weights_only=True)
    s.load_state_dict({k[len("student."):]: v for k, v in best.items() if k.startswith("student.")}); s.eval()
    b = torch.utils.data.default_collate([w.test[i] for i in range(len(w.test))])  # x with its calendar (residual, calendar inputs)
    y_phys = np.stack([w.test.frames(i)[1] for i in range(len(w.test))])  # physical units, straight from the dataset
    with torch.no_grad(): y_hat = w.normalizer.decode(run_model(s, b)).numpy()
    assert y_hat.shape == y_phys.shape, (y_hat.shape, y_phys.shape)
    mse = float(((y_hat.astype("float64") - y_phys) ** 2).mean())
    assert math.isclose(mse, r["metrics"]["student"]["test"]["mse"], rel_tol=1e-4), (mse, r["metrics"]["student"]["test"]["mse"])
    # per-channel MSE lives on each variable's own physical scale: a normalized-unit MSE would be ~1 on every channel
    per_ch = r["metrics"]["student"]["test"]["mse_per_channel"]
    var = y_phys.var(axis=(0, 1, 3, 4))
    assert len(per_ch) == y_phys.shape[2]
    assert all(0.01 * v <= p <= 100 * v for p, v in zip(per_ch, var) if v > 0), (per_ch, var.tolist())


@pytest.mark.parametrize("dataset", DATASETS)
def test_test_split_never_selects(root, dataset):
    "Replacing the test split by garbage changes the test metrics and nothing else: teacher and student training,"
    " the validation history and the chosen epoch are identical (test is never read before the final evaluation)."
    ds = load_dataset(dataset, size="tiny", cache_dir=str(root/"cache"))
    test = split_dataset(ds)["test"]
    bad = ds.copy(deep=True); rng = np.random.default_rng(0)
    for v in bad.data_vars:
        sel = dict(member=test["member"].values, time=test["time"].values)
        scale = 100 * float(ds[v].std())  # on the variable's own scale: test MSE grows ~10^4-fold
        bad[v].loc[sel] = (scale * rng.standard_normal(bad[v].loc[sel].shape)).astype("float32")
    clean = run(_cfg(root, dataset, "kd", name=f"{dataset}-clean", cache_dir=str(root/"cache-clean")), write=False)
    dirty = run(_cfg(root, dataset, "kd", name=f"{dataset}-dirty", cache_dir=str(root/"cache-dirty")), data=bad, write=False)
    assert clean["teachers"][0]["trained"] and dirty["teachers"][0]["trained"]  # separate stores: both trained
    assert dirty["fit"]["history"] == clean["fit"]["history"] and dirty["fit"]["best_epoch"] == clean["fit"]["best_epoch"]
    for model in ("student", "teacher:simvp"):
        assert dirty["metrics"][model]["val"] == clean["metrics"][model]["val"], model
        assert dirty["metrics"][model]["test"]["mse"] > 100 * clean["metrics"][model]["test"]["mse"], model
