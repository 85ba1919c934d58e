"""End to end: `run(cfg)` on the tiny embedded Navier–Stokes data for every method at the smoke presets."""
import json, math, os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from s2kd.train.config import RunConfig, METHODS
from s2kd.train.experiment import run, load_data

TEACHER = {"s2kd": "multimodal", "aver": "simvp,alternet", "aekd": "simvp,alternet", "camkd": "simvp,alternet"}
MSE = {}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    d = tmp_path_factory.mktemp("exp")
    return RunConfig(dataset="navier_stokes", size="tiny", epochs=2, teacher_epochs=2, batch_size=8, device="cpu",
                     cache_dir=str(d/"cache"), results_dir=str(d/"results"))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_end_to_end(base, method):
    cfg = base.replace(method=method, teacher=TEACHER.get(method, "simvp"))
    r = run(cfg)
    m = r["metrics"]["student"]
    assert set(r["metrics"]["student"]) == {"val", "test"}
    assert math.isfinite(m["test"]["mse"]) and len(m["test"]["mse_per_lead"]) == 4
    assert r["fit"]["epochs_run"] == 2 and r["fit"]["best_epoch"] in (0, 1)
    folder = Path(cfg.results_dir)/cfg.run_name
    saved = json.loads((folder/"result.json").read_text())
    # result.json records the folders relative to the project (these temp folders lie outside it: "<elsewhere>/...")
    assert RunConfig.from_dict(saved["config"]).replace(results_dir=cfg.results_dir, cache_dir=cfg.cache_dir) == cfg
    assert "\"/" not in json.dumps(saved) and saved["metrics"]  # no string value starts with "/" == json.loads(json.dumps(r["metrics"]))
    assert (folder/"metrics.csv").read_text().startswith("model,split,lead,metric,value\n")
    if method != "baseline": assert len(r["teachers"]) == len(cfg.teachers)
    if method == "s2kd": assert r["narratives"] is not None and 1 < r["data"]["text_tokens"] <= cfg.text_tokens  # its narratives' length
    else: assert "text_tokens" not in r["data"]
    MSE[method] = m["test"]["mse"]
    print(f"\n{method}: test MSE {m['test']['mse']:.5f} (physical units)")


def test_metrics_are_physical_and_model_selection_uses_val(base):
    "The reported test MSE is the best-on-val checkpoint's MSE after decoding to physical units."
    from s2kd.models.registry import build_model
    cfg = base.replace(method="baseline", name="check")
    r = run(cfg)
    w, _ = load_data(cfg)
    ck = Path(r["checkpoints"])
    hist = r["fit"]["history"]
    assert r["fit"]["best_epoch"] == min(range(len(hist)), key=lambda i: hist[i]["val_mse"])
    s = build_model("unet", in_shape=w.train.in_shape, t_out=w.train.t_out, preset="smoke")
    s.load_state_dict({k[len("student."):]: v for k, v in torch.load(ck/"best.pt", weights_only=True).items()})
    s.eval()
    x = torch.stack([w.test[i]["x"] for i in range(len(w.test))]); y = torch.stack([w.test[i]["y"] for i in range(len(w.test))])
    with torch.no_grad(): mse = float(((w.normalizer.decode(s(x)) - w.normalizer.decode(y)) ** 2).mean())
    assert abs(mse - r["metrics"]["student"]["test"]["mse"]) <= 1e-4 * mse
    r2 = run(cfg.replace(name="check2"))  # same seed, same numbers
    assert r2["metrics"] == r["metrics"]


def test_changed_narrator_config_retrains_the_teacher(base, monkeypatch):
    "A narrator whose texts change (here: a new phrasing version) gets a new data key, so no stored teacher is reused."
    from s2kd.narrate import core
    from s2kd.train.experiment import data_key
    cfg = base.replace(method="s2kd", teacher="multimodal", name="narr-key")
    w, narr = load_data(cfg)
    assert narr.startswith(core.get_narrator("stat-rich").identity() + "/")
    monkeypatch.setattr(core.StatisticalNarrator, "version", core.StatisticalNarrator.version + 1)
    w2, narr2 = load_data(cfg)
    assert narr2 != narr and data_key(cfg, w2, narr2) != data_key(cfg, w, narr)


@pytest.mark.parametrize("narrator,attribute", [("event", "events"), ("stat-rich", "units")])
def test_texts_of_other_attributes_key_the_teacher_anew(tmp_path, narrator, attribute):
    "The same values with other events or units are other texts, so another data key (until session 36 the key held the"
    " narrator's identity only, and a teacher trained on the old texts was reused with its scores)."
    import warnings
    from s2kd.data.core import toy_dataset
    from s2kd.train.experiment import data_key
    cfg = RunConfig(dataset="memory:toy", method="s2kd", teacher="multimodal", narrator=narrator, encoder="hashing",
                    cache_dir=str(tmp_path / "cache"))
    events = json.dumps([{"time": "2000-01-02", "kind": "storm", "y": 1, "x": 2, "member": 0}])
    edit = {"events": lambda d: d.assign_attrs(events=events), "units": lambda d: d.assign(u=d.u.assign_attrs(units="km h-1"))}
    keys = []
    for e in (lambda d: d, edit[attribute], lambda d: d):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore"); w, narr = load_data(cfg, e(toy_dataset(n_member=2, n_time=24, seed=0)))
        keys.append(data_key(cfg, w, narr))
    assert keys[0] == keys[2] != keys[1], keys


def test_students_of_every_seed_share_one_teacher(base):
    "The teacher store is keyed by `teacher_seed`, not the student's `seed`: a second student seed reuses the teacher."
    from s2kd.train.experiment import data_key, get_teacher
    cfg = base.replace(method="kd", teacher="simvp", teacher_preset="smoke", teacher_epochs=1)
    w, narr = load_data(cfg); key = data_key(cfg, w, narr)
    _, a = get_teacher("simvp", cfg.replace(seed=0), w, key)
    _, b = get_teacher("simvp", cfg.replace(seed=1), w, key)
    _, c = get_teacher("simvp", cfg.replace(seed=1, teacher_seed=7), w, key)
    assert b["checkpoint"] == a["checkpoint"] and not b["trained"]  # same teacher, loaded from the store
    assert c["checkpoint"] != a["checkpoint"] and c["trained"]      # another teacher seed is another teacher
