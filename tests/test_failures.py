"""Clean failures, no leftovers (issue 10) and no silent reuse (issue 11): every test here failed before its fix."""
import json, os, subprocess, sys, textwrap
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd=None, env=None):
    "Run `s2kd ARGS` in a fresh process."
    code = "import sys; from s2kd.cli import main; sys.exit(main(sys.argv[1:]))"
    e = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, env=e, timeout=600)


BAD = [("data", "show", "foo"), ("narrate", "foo", "--no-progress"), ("narrate", "plume", "--size", "tiny", "--narrator", "foo"),
       ("narrate", "plume", "--size", "tiny", "--encoder", "foo", "--no-progress"), ("reproduce", "--datasets", "foo"),
       ("models", "--model", "foo"), ("models", "--shape", "1,2"), ("bench", "latency", "--models", "foo", "--quiet"),
       ("bench", "distill", "--student", "foo"), ("bench", "narrate", "--datasets", "foo"), ("frobnicate",)]


@pytest.mark.parametrize("args", BAD, ids=[" ".join(a) for a in BAD])
def test_every_command_fails_cleanly(args, tmp_path):
    "A bad argument to any command: exit code 2 and a one-line error naming the command, never a traceback."
    r = cli(*args, cwd=tmp_path, env={"S2KD_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    line = lines[0] if args == ("frobnicate",) else lines[-1]  # an unknown command prints the usage after its error
    assert line.startswith("s2kd") and ("error" in line or "unknown" in line or "must be" in line), line
    assert "foo" in r.stderr or "1,2" in r.stderr or "frobnicate" in r.stderr


def test_reproduce_typo_and_subset_keep_the_summary(tmp_path):
    "`s2kd reproduce --datasets foo` leaves the committed summary alone; a subset merges its rows into it."
    d = tmp_path / "results" / "data"; d.mkdir(parents=True)
    shipped = json.loads((ROOT / "results" / "data" / "summary_quick.json").read_text())
    (d / "summary_quick.json").write_text(json.dumps(shipped)); (d / "summary_quick.md").write_text("| the good table |\n")
    r = cli("reproduce", "--datasets", "foo", "--out", str(tmp_path), env={"S2KD_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 2 and "unknown dataset" in r.stderr and "Traceback" not in r.stderr
    assert json.loads((d / "summary_quick.json").read_text()) == shipped
    assert (d / "summary_quick.md").read_text() == "| the good table |\n"
    r = cli("reproduce", "--datasets", "traffic", "--size", "quick", "--out", str(tmp_path), env={"S2KD_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads((d / "summary_quick.json").read_text())["rows"]
    assert [x["name"] for x in rows] == [x["name"] for x in shipped["rows"]]  # nothing lost
    assert all(x["ok"] for x in rows)


# ---- names are validated when the config is built -------------------------------------------------------------------
@pytest.mark.parametrize("kw, msg", [(dict(dataset="navier_stoke"), "RunConfig.dataset='navier_stoke'"),
                                     (dict(student="unte"), "RunConfig.student='unte': unknown model"),
                                     (dict(method="kd", teacher="simpv"), "RunConfig.teacher='simpv': unknown model"),
                                     (dict(method="kd", teacher="unet"), "RunConfig.teacher='unet': is a student model"),
                                     (dict(student="alternet"), "RunConfig.student='alternet': is a teacher model"),
                                     (dict(method="s2kd", teacher="multimodal", narrator="stat-richh"), "RunConfig.narrator='stat-richh'")])
def test_config_rejects_unknown_names_and_roles(kw, msg):
    "A typo or a student-as-teacher fails at construction, before `run` trains and stores anything."
    from s2kd.train.config import ConfigError, RunConfig
    with pytest.raises(ConfigError, match=msg.replace("(", r"\(").replace(")", r"\)")): RunConfig(**kw)


# ---- teacher checkpoints: named, rebuilt; .run-* folders dropped --------------------------------------------------
@pytest.fixture()
def toy_run(tmp_path):
    import torch
    torch.set_num_threads(1)
    from s2kd.data.core import toy_dataset
    from s2kd.train.config import RunConfig
    cfg = RunConfig(dataset="memory:toy", method="kd", epochs=1, batch_size=8, device="cpu", cache_dir=str(tmp_path / "cache"),
                    results_dir=str(tmp_path / "results"))
    return cfg, toy_dataset(n_member=3, n_time=24, h=8, w=8)


def teacher(cfg, ds):
    from s2kd.train.experiment import data_key, get_teacher, load_data
    w, narr = load_data(cfg, ds)
    return get_teacher("simvp", cfg, w, data_key(cfg, w, narr))


def test_teacher_store_keeps_one_copy(toy_run):
    cfg, ds = toy_run
    t, info = teacher(cfg, ds)
    store = Path(info["checkpoint"]).parent
    assert info["trained"] and Path(info["checkpoint"]).exists()
    assert list(store.glob(".run-*")) == []  # the training checkpoints are removed once the teacher is stored


@pytest.mark.parametrize("damage", ["truncated", "other_architecture"])
def test_broken_teacher_checkpoint_is_named_and_rebuilt(toy_run, damage):
    import torch
    from s2kd.models.registry import build_model
    cfg, ds = toy_run
    t0, info = teacher(cfg, ds)
    p = Path(info["checkpoint"])
    if damage == "truncated": p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    else: torch.save(build_model("alternet", in_shape=(3, 2, 8, 8), t_out=2, preset="smoke").state_dict(), p)
    with pytest.warns(UserWarning, match=rf"{p}: stored teacher cannot be loaded .*retraining it"):
        t1, info1 = teacher(cfg, ds)
    assert info1["trained"]  # rebuilt ...
    assert all(torch.equal(a, b) for a, b in zip(t0.state_dict().values(), t1.state_dict().values()))  # ... to the same weights
    t2, info2 = teacher(cfg, ds)
    assert not info2["trained"]  # and loads cleanly from now on


# ---- a run's checkpoints are keyed by its data (issue 11, item 1) -------------------------------------------------
def test_run_on_other_data_retrains_and_output_settings_resume(toy_run):
    from s2kd.train.experiment import run
    cfg, a = toy_run
    cfg = cfg.replace(method="baseline", epochs=2, name="same-name")
    b = a.copy(deep=True); b["u"] = b["u"] * 3 + 1  # other values, same shape and name
    ra = run(cfg, data=a)
    with pytest.warns(UserWarning, match="trained under other settings or data .*data_key.*training from scratch"):
        rb = run(cfg, data=b)
    va, vb = [h["val_mse"] for h in ra["fit"]["history"]], [h["val_mse"] for h in rb["fit"]["history"]]
    assert va != vb  # B's model was trained on B (resuming A's finished checkpoint would return A's history)
    assert rb["data"]["key"] != ra["data"]["key"]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no retraining warning: output-only settings do not block the resume
        rc = run(cfg.replace(results_dir=cfg.results_dir + "-2", num_workers=1, device="auto" if False else "cpu"), data=b)
    assert [h["val_mse"] for h in rc["fit"]["history"]] == vb and rc["fit"]["epochs_run"] == 2
