"""Clean failures, no leftovers (issue 10) and no silent reuse (issue 11): every test here failed before its fix."""
import json, os, subprocess, sys, textwrap
from pathlib import Path

import numpy as np
import pytest
from s2kd.train.config import RunConfig

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
    r = cli("reproduce", "--datasets", "traffic", "--size", "quick", "--no-notebooks", "--out", str(tmp_path), env={"S2KD_CACHE": str(tmp_path / "cache")})
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



def test_teacher_of_other_preset_sizes_is_retrained(toy_run, monkeypatch):
    "A registry preset that changes (here SimVP's translator depth) never serves the teacher stored at the old sizes."
    from s2kd.models import registry as R
    cfg, ds = toy_run
    t0, info = teacher(cfg, ds)
    monkeypatch.setitem(R.PRESETS["simvp"], "smoke", dict(R.PRESETS["simvp"]["smoke"], n_t=3))
    with pytest.warns(UserWarning, match=r"stored teacher was built with .*'n_t': 2.*this run builds .*'n_t': 3.*retraining it"):
        t1, info1 = teacher(cfg, ds)
    assert info1["trained"] and len(t1.state_dict()) > len(t0.state_dict())  # the deeper model, trained
    assert not teacher(cfg, ds)[1]["trained"]  # stored at the new sizes, it loads from now on

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


# ---- a stored result names the weights it was scored with: a folder retrained since is not reused ------------------
def test_result_of_a_retrained_checkpoint_folder_is_not_reused(toy_run, tmp_path, monkeypatch):
    "A run of the same name under other settings retrains the checkpoint folder: the first result is neither reused nor loaded."
    import warnings
    import s2kd.paper as P
    from s2kd.core import DataError
    from s2kd.train.experiment import load_data, run
    cfg, ds = toy_run
    ds.to_netcdf(tmp_path / "toy.nc"); monkeypatch.chdir(tmp_path)  # a relative data path (an absolute one: the test below)
    cfg = cfg.replace(dataset="toy.nc", method="baseline", name="shared")
    r = P._train_run(cfg.to_dict())
    assert P._stored(cfg, {}) is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); run(cfg.replace(lr=1e-2, results_dir=str(tmp_path / "other")), threads=1)
    assert P._stored(cfg, {}) is None  # its folder holds the other run's weights: trained again, not reused
    with pytest.raises(DataError, match=r"lr 0.001 here, 0.01 there"):
        P.run_models(r, load_data(cfg)[0])
    with pytest.warns(UserWarning, match=r"differ in \['lr'\]\); training from scratch"):
        r2 = P._train_run(cfg.to_dict())
    assert P._stored(cfg, {}) is not None and r2["fit"]["history"] == r["fit"]["history"]
    assert set(P.run_models(r2, load_data(cfg)[0])) == {"student"}


def test_stored_run_on_an_absolute_data_path_is_reused(toy_run, tmp_path):
    "A paper run on a data file named by its absolute path (`data_dir`) is reused: its result keeps the path portable, `_stored` compares alike."
    import s2kd.paper as P
    cfg, ds = toy_run
    ds.to_netcdf(tmp_path / "toy.nc")
    cfg = cfg.replace(dataset=str(tmp_path / "toy.nc"), method="baseline", name="abs")
    from s2kd.train.experiment import read_result
    r = P._train_run(cfg.to_dict()); written = read_result(Path(cfg.results_dir) / cfg.name)
    assert r["data"]["key"] == written["data"]["key"] and r["data"]["key"].startswith("<elsewhere>/toy.nc-")  # portable in the key itself
    stored = P._stored(cfg, {})
    assert stored is not None
    # its config names this machine's file, as run() returns it: `qualitative` rebuilds the run from it and loads the data
    assert stored["config"]["dataset"] == str(tmp_path / "toy.nc") and RunConfig.from_dict(stored["config"]).dataset == cfg.dataset


def test_run_on_a_data_path_without_a_name_stays_in_its_folders(toy_run, tmp_path):
    "A run on a file named by its path and no `name`: its checkpoints and result go to the cache and results_dir, not beside the data."
    from s2kd.train.experiment import run
    cfg, ds = toy_run
    (tmp_path / "data").mkdir(); ds.to_netcdf(tmp_path / "data" / "toy.nc")
    cfg = cfg.replace(dataset=str(tmp_path / "data" / "toy.nc"), method="baseline")  # the run name of an absolute path joined as one
    r = run(cfg)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["toy.nc"]  # before: <data>/toy.nc-tiny_baseline_…/ held both
    assert Path(r["checkpoints"]).parent == tmp_path / "cache" / "runs" and (tmp_path / "results" / cfg.run_name / "result.json").exists()
    assert "/" not in cfg.run_name and cfg.run_name.startswith("toy.nc-")


# ---- a distilled run names the teacher weights it was distilled from: a teacher retrained since is not reused -------
def _kd_on_file(toy_run, tmp_path, monkeypatch):
    "A finished KD run on a data file (`_stored` reads the data), its config and the stored teacher's checkpoint."
    import s2kd.paper as P
    cfg, ds = toy_run
    ds.to_netcdf(tmp_path / "toy.nc"); monkeypatch.chdir(tmp_path)
    cfg = cfg.replace(dataset="toy.nc", name="kd-shared")
    r = P._train_run(cfg.to_dict())
    assert r["fit"]["epochs_this_call"] == 1 and P._stored(cfg, {}) is not None
    return cfg, r, Path(r["teachers"][0]["checkpoint"])


def _retrain_teacher(path):
    "Stand in for a retrained teacher (deleted and trained again on another thread count or CPU): other weights, same key, a new file."
    import torch
    from s2kd.core import atomic_torch_save
    sd = torch.load(path, map_location="cpu", weights_only=True)
    atomic_torch_save({k: v + 1e-3 if v.is_floating_point() else v for k, v in sd.items()}, path)


def test_student_of_a_retrained_teacher_is_distilled_again(toy_run, tmp_path, monkeypatch):
    "`run` does not resume a finished KD run whose teacher the store retrained since: it warns naming the teacher and distils anew."
    import torch
    from s2kd.train.experiment import check_weights, read_result, run
    from s2kd.train.loop import checkpoint_config, weights_hash
    cfg, r, tpath = _kd_on_file(toy_run, tmp_path, monkeypatch)
    w0, h0 = r["teachers"][0].get("weights"), weights_hash(torch.load(tpath, map_location="cpu", weights_only=True))
    recorded = (checkpoint_config(r["checkpoints"])[0] or {}).get("teacher_weights")
    _retrain_teacher(tpath)
    with pytest.warns(UserWarning, match=r"distilled from other weights of teacher 'simvp' \(simvp-smoke-.*\.pt\).*training from scratch"):
        r2 = run(cfg, threads=1)
    assert r2["fit"]["epochs_this_call"] == 1  # distilled again, not resumed from the old teacher's student
    assert w0 == h0 and recorded == {"simvp": w0}  # the result and last.pt recorded the weights the stored file held
    assert r2["teachers"][0]["weights"] not in (None, w0)
    assert read_result(Path(cfg.results_dir) / cfg.name)["teachers"][0]["weights"] == r2["teachers"][0]["weights"]
    assert r2["fit"]["weights"] != r["fit"]["weights"]  # the student of the new teacher
    r3 = run(cfg, threads=1)  # the new teacher unchanged: the finished run resumes
    assert r3["fit"]["epochs_this_call"] == 0 and r3["fit"]["weights"] == r2["fit"]["weights"]
    check_weights(r3, torch.load(Path(r3["checkpoints"]) / "best.pt", weights_only=True), Path(r3["checkpoints"]) / "best.pt")


def test_other_settings_are_named_before_the_teacher_they_change(toy_run, tmp_path, monkeypatch):
    "A KD run whose new settings also name another teacher (lr: the teacher trains with it) says the settings changed, not that the store retrained its teacher."
    from s2kd.train.experiment import run
    cfg, r, tpath = _kd_on_file(toy_run, tmp_path, monkeypatch)
    with pytest.warns(UserWarning, match=r"trained under other settings or data \(differ in \['lr'\]\)") as ws:
        run(cfg.replace(lr=2e-3), threads=1)
    assert not any("retrained since" in str(w.message) for w in ws), [str(w.message) for w in ws]


def test_stored_student_of_a_retrained_teacher_is_not_reused(toy_run, tmp_path, monkeypatch):
    "The paper runner's `_stored` returns None for a run whose teacher changed since; `load_teacher` and `run_models` refuse it."
    import s2kd.paper as P
    from s2kd.core import DataError
    from s2kd.train.api import load_student, load_teacher
    from s2kd.train.experiment import load_data
    cfg, r, tpath = _kd_on_file(toy_run, tmp_path, monkeypatch)
    _retrain_teacher(tpath)
    assert P._stored(cfg, {}) is None  # trained again by the runner, not reused beside the new teacher's row
    folder = Path(cfg.results_dir) / cfg.name
    with pytest.raises(DataError, match=r"not the weights of teacher 'simvp' that run 'kd-shared' was distilled from"):
        load_teacher(folder, cache=cfg.cache_dir)
    with pytest.raises(DataError, match=r"not the weights of teacher 'simvp'"):
        P.run_models(r, load_data(cfg)[0])
    load_student(folder, cache=cfg.cache_dir)  # the student's own weights are still the ones its result was scored with
    with pytest.warns(UserWarning, match=r"distilled from other weights of teacher 'simvp'"):
        r2 = P._train_run(cfg.to_dict())
    assert r2["fit"]["epochs_this_call"] == 1 and P._stored(cfg, {}) is not None  # distilled anew, then reused
    tpath.unlink()
    assert P._stored(cfg, {}) is None  # its teacher gone: `run` gets it (trained again) and decides


def test_student_recorded_without_teacher_weights_is_reused_as_before(toy_run, tmp_path, monkeypatch):
    "A run stored before teacher weights were recorded (no `teacher_weights` in last.pt, no `weights` in its result) is reused unchecked."
    import warnings
    import torch
    import s2kd.paper as P
    from s2kd.core import atomic_torch_save, atomic_write_json
    from s2kd.train.api import load_teacher
    from s2kd.train.experiment import read_result, run
    from s2kd.train.loop import checkpoint_config
    cfg, r, tpath = _kd_on_file(toy_run, tmp_path, monkeypatch)
    ck, folder = Path(r["checkpoints"]), Path(cfg.results_dir) / cfg.name
    last = torch.load(ck / "last.pt", weights_only=True); last["config"].pop("teacher_weights", None); atomic_torch_save(last, ck / "last.pt")
    atomic_write_json(ck / "config.json", last["config"])
    old = read_result(folder); [t.pop("weights", None) for t in old["teachers"]]; atomic_write_json(folder / "result.json", old)
    _retrain_teacher(tpath)
    assert P._stored(cfg, {}) is not None  # no check, as before
    load_teacher(folder, cache=cfg.cache_dir)  # loads the teacher stored now, as before
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no retraining warning
        r2 = run(cfg, threads=1)
    assert r2["fit"]["epochs_this_call"] == 0 and r2["fit"]["weights"] == r["fit"]["weights"]  # resumed, finished
    assert "weights" not in r2["teachers"][0] and "teacher_weights" not in checkpoint_config(ck)[0]  # still unrecorded


# ---- a SIGKILL at the wrong moment leaves nothing a later run keeps ----------------------------------------------
def py(code, *args, cwd=None):
    "Run python `code` in a fresh process (the worktree's s2kd first on the path)."
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


KILL_ON_SAVE = """
import os, signal, sys, torch
_save = torch.save
def dying_save(obj, f, *a, **k):  # write half a file, then die as a SIGKILL would
    _save(obj, f, *a, **k); open(f, "r+b").truncate(64); os.kill(os.getpid(), signal.SIGKILL)
torch.save = dying_save
"""

FIT = """
import sys, torch
from torch import nn
from s2kd.train.loop import fit
class D(torch.utils.data.Dataset):
    def __len__(self): return 8
    def __getitem__(self, i): return {"x": torch.ones(2, 1, 4, 4) * i, "y": torch.ones(2, 1, 4, 4) * i, "index": i}
class M(nn.Module):
    def __init__(self): super().__init__(); self.w = nn.Parameter(torch.zeros(1))
    def predict(self, b): return b["x"] * self.w
    def forward(self, b): l = ((self.predict(b) - b["y"]) ** 2).mean(); return l, {"task": float(l.detach())}
r = fit(M(), D(), D(), epochs=2, batch_size=4, out_dir=sys.argv[1], progress=False, device="cpu")
"""


def leftovers(folder):
    "Hidden files or folders under `folder`: what an interrupted atomic write leaves (lock files are not hidden)."
    return sorted(p.name for p in Path(folder).rglob(".*"))


def test_killed_checkpoint_write_is_swept_by_the_next_run(tmp_path):
    out = tmp_path / "run"
    r = py(KILL_ON_SAVE + FIT, out)
    assert r.returncode == -9, r.stderr[-2000:]
    assert leftovers(out), "the kill should leave a temporary"  # .best.pt.s2kd-<host>-<pid>-*.tmp
    r = py(FIT, out)
    assert r.returncode == 0, r.stderr[-2000:]
    assert leftovers(out) == [] and sorted(p.name for p in out.iterdir()) == ["best.pt", "last.pt"]


FIT3 = FIT.replace("epochs=2", "epochs=3") + """
import warnings
print("RUN", r["epochs_this_call"], r["weights"], flush=True)
"""

# kill the 2nd epoch's checkpointing where it hurt: between the new best and last.pt (the 4th torch.save: best, last, best,
# last), or after last.pt before the new best replaces best.pt
KILL_AT_LAST = """
import os, signal, torch
_save, _n = torch.save, [0]
def dying_save(obj, f, *a, **k):
    _n[0] += 1; _save(obj, f, *a, **k)
    if _n[0] == 4: open(f, "r+b").truncate(64); os.kill(os.getpid(), signal.SIGKILL)
torch.save = dying_save
"""
KILL_AT_REPLACE = """
import os, signal
_replace, _n = os.replace, [0]
def dying_replace(src, dst, *a, **k):
    if str(src).endswith("best.next.pt"):
        _n[0] += 1
        if _n[0] == 2: os.kill(os.getpid(), signal.SIGKILL)
    return _replace(src, dst, *a, **k)
os.replace = dying_replace
"""


@pytest.mark.parametrize("kill, ran", [(KILL_AT_LAST, 2), (KILL_AT_REPLACE, 1)])
def test_kill_between_best_and_last_resumes(tmp_path, kill, ran):
    "A run killed while checkpointing an improved epoch resumes from its last epoch, with the best weights last.pt names."
    whole = py(FIT3, tmp_path/"whole")
    assert whole.returncode == 0, whole.stderr[-2000:]
    out = tmp_path/"run"
    r = py(kill + FIT3, out)
    assert r.returncode == -9, r.stderr[-2000:]
    r = py(FIT3, out)
    assert r.returncode == 0 and "training from scratch" not in r.stderr, r.stderr[-2000:]
    done, weights = r.stdout.split("RUN ")[1].split()
    assert int(done) == ran, r.stdout                            # the epochs left, not all 3 again (before: 3, best.pt lost)
    assert weights == whole.stdout.split("RUN ")[1].split()[1]   # the best weights of an uninterrupted run
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["best.pt", "last.pt"]


def test_killed_dataset_write_is_swept(tmp_path):
    cache = tmp_path / "cache"
    kill = """
    import os, signal, sys, xarray as xr
    _to = xr.Dataset.to_netcdf
    def dying(self, path, *a, **k): open(path, "wb").write(b"half"); os.kill(os.getpid(), signal.SIGKILL)
    xr.Dataset.to_netcdf = dying
    from s2kd.data.embedded import load_dataset
    load_dataset("traffic", size="tiny", cache_dir=sys.argv[1])
    """
    assert py(kill, cache).returncode == -9
    assert leftovers(cache / "data")
    r = py("import sys; from s2kd.data.embedded import load_dataset; load_dataset('traffic', size='tiny', cache_dir=sys.argv[1])", cache)
    assert r.returncode == 0, r.stderr[-2000:]
    assert leftovers(cache / "data") == []


def test_killed_teacher_cache_build_is_swept(tmp_path):
    build = """
    import os, signal, sys, torch
    from torch import nn
    import s2kd.train.cache as C
    class T(nn.Module):
        def __init__(self): super().__init__(); torch.manual_seed(0); self.body = nn.Conv2d(2, 2, 1)
        def forward(self, x): return self.body(x.flatten(1, 2)).unflatten(1, (2, 1))
    class D(torch.utils.data.Dataset):
        def __len__(self): return 6
        def __getitem__(self, i): return {"x": torch.ones(2, 1, 4, 4) * i, "y": torch.zeros(2, 1, 4, 4), "index": i}
    if sys.argv[2] == "kill":
        _run = C.run_model
        def dying(*a, **k): y = _run(*a, **k); os.kill(os.getpid(), signal.SIGKILL)
        C.run_model = dying
    C.build_teacher_cache(T(), D(), paths=["body"], dataset_key="toy", split="train", root=sys.argv[1], batch_size=2, device="cpu")
    """
    root = tmp_path / "teachers"
    assert py(build, root, "kill").returncode == -9
    assert leftovers(root)  # .<key>.s2kd-<host>-<pid>-*.tmp/
    r = py(build, root, "ok"); assert r.returncode == 0, r.stderr[-2000:]
    assert leftovers(root) == []


def test_result_pair_is_never_half_new(tmp_path):
    "Killed between the two files of a result: a reader never sees new metrics beside an old result.json (or the reverse)."
    import csv
    write = """
    import os, signal, sys
    import s2kd.core as core
    if sys.argv[2] == "kill":
        _replace, n = core.os.replace, [0]
        def dying(a, b):
            n[0] += 1
            if n[0] == 2: os.kill(os.getpid(), signal.SIGKILL)  # after the first file, before the second
            _replace(a, b)
        core.os.replace = dying
    from s2kd.train.experiment import write_result
    write_result(sys.argv[1], dict(metrics={"student": {"test": {"mse": float(sys.argv[3])}}}))
    """
    folder = tmp_path / "res"
    assert py(write, folder, "ok", 1.0).returncode == 0
    assert py(write, folder, "kill", 2.0).returncode == -9
    rj, mc = folder / "result.json", folder / "metrics.csv"
    if rj.exists():  # the pair must agree
        rows = list(csv.DictReader(mc.open()))
        assert json.loads(rj.read_text())["metrics"]["student"]["test"]["mse"] == float(rows[0]["value"])


@pytest.mark.parametrize("name", [".result.json.s2kd-host-123-abc.tmp", ".metrics.csv.s2kd-host-1-x.tmp", ".last.pt.s2kd-h-9-q.tmp",
                                  "cache/data/.traffic-quick-seed0.nc.s2kd-h-1-z.tmp", "cache/teachers/.0123abcd.s2kd-h-2-k.tmp/0.npy",
                                  "cache/data/traffic-quick-seed0.nc.lock", "sdkd_tables.out.ipynb"])
def test_gitignore_matches_temporaries(name):
    r = subprocess.run(["git", "check-ignore", "-q", f"results/x/{name}"], cwd=ROOT)
    assert r.returncode == 0, f"{name} is not ignored"


# ---- two processes building the same thing: the second waits and reuses -----------------------------------------
def run_two(code, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    ps = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args), str(k)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env) for k in range(2)]
    outs = [p.communicate(timeout=600) for p in ps]
    for p, (o, e) in zip(ps, outs): assert p.returncode == 0, e[-2000:]
    return [o for o, _ in outs]


def test_two_processes_generate_a_dataset_once(tmp_path):
    (tmp_path / "slow_gen.py").write_text(textwrap.dedent("""
        import os, time
        from s2kd.data.core import toy_dataset
        def make(size, seed, device):
            with open(os.environ["GEN_LOG"], "a") as f: f.write("generated\\n")
            time.sleep(2); return toy_dataset(seed=seed)
    """))
    code = """
    import sys; sys.path.insert(0, sys.argv[1])
    from s2kd.data import embedded
    embedded.EMBEDDED["slow"] = "slow_gen:make"
    ds = embedded.load_dataset("slow", cache_dir=sys.argv[2]); print(float(ds.u.sum()))
    """
    os.environ["GEN_LOG"] = str(tmp_path / "log")
    try: outs = run_two(code, tmp_path, tmp_path / "cache")
    finally: del os.environ["GEN_LOG"]
    assert (tmp_path / "log").read_text().count("generated") == 1
    assert outs[0] == outs[1]


def test_two_processes_narrate_once(tmp_path):
    code = """
    import sys, time
    from s2kd.data.core import WindowDataset, toy_dataset
    from s2kd.narrate.cache import build_narratives
    from s2kd.narrate.core import StatisticalNarrator
    class Logged(StatisticalNarrator):
        def narrate(self, samples):
            with open(sys.argv[2], "a") as f: f.write("".join(f"{s['info']['t0']}\\n" for s in samples))
            time.sleep(0.2); return super().narrate(samples)
    w = WindowDataset(toy_dataset(n_time=24), 2, 2)
    c = build_narratives(w, Logged(), split="train", dataset_key="toy", root=sys.argv[1], batch_size=4, progress=False)
    print(len(c.path.read_text().splitlines()), len(w))
    """
    outs = run_two(code, tmp_path / "cache", tmp_path / "log")
    n_records, n = map(int, outs[0].split())
    assert n_records == n and outs[0] == outs[1]  # one record per window, not two
    assert len((tmp_path / "log").read_text().splitlines()) == n  # each window narrated once


def test_two_processes_train_and_cache_a_teacher_once(tmp_path):
    code = """
    import sys, torch; torch.set_num_threads(1)
    import s2kd.train.cache as C
    from s2kd.data.core import toy_dataset
    from s2kd.distill import Distiller
    from s2kd.train.config import RunConfig
    from s2kd.train.experiment import data_key, get_teacher, load_data
    cfg = RunConfig(dataset="memory:toy", method="kd", epochs=3, batch_size=8, device="cpu", cache_dir=sys.argv[1])
    w, _ = load_data(cfg, toy_dataset(n_member=3, n_time=24, h=8, w=8))
    t, info = get_teacher("simvp", cfg, w, data_key(cfg, w))
    _run, calls = C.run_model, [0]
    def counted(*a, **k): calls[0] += 1; return _run(*a, **k)
    C.run_model = counted
    C.build_teacher_cache(t, w.train, paths=[t.feature_path], dataset_key="k", split="train", root=sys.argv[1] + "/teachers", batch_size=4)
    print(info["trained"], calls[0])
    """
    outs = [o.split() for o in run_two(code, tmp_path / "cache")]
    assert sorted(o[0] for o in outs) == ["False", "True"]  # one process trained, the other loaded what it stored
    assert sorted(int(o[1]) for o in outs)[0] == 0  # and one of them ran the teacher over the split for the cache


# ---- narratives are keyed by the values they describe (issue 11, item 2) -----------------------------------------
def test_shipped_narratives_only_for_the_values_they_describe(tmp_path):
    import warnings
    from s2kd.data.core import load_windows
    from s2kd.narrate.cache import build_narratives
    from s2kd.narrate.core import Narrator
    w = load_windows("traffic", size="quick", seed=0, cache_dir=str(tmp_path))
    shipped = sorted((ROOT / "s2kd" / "narratives" / "traffic-quick-seed0" / "val").glob("*.jsonl"))[0]
    calls = []

    class Fresh(Narrator):  # stands in for the language model that wrote the shipped file (same identity)
        name = "fresh"
        def identity(self): return shipped.stem
        def narrate_one(self, sample, i=0): calls.append(i); return f"fresh text {sample['x'].mean():.3f}"

    kw = dict(split="val", dataset_key="traffic-quick-seed0", root=tmp_path, progress=False)
    c = build_narratives(w.val, Fresh(), **kw)
    assert c.texts(len(w.val)) == [json.loads(x)["text"] for x in shipped.read_text().splitlines()] and calls == []
    v = list(w.ds.data_vars)[0]
    changed = w.ds.assign({v: w.ds[v] * 3.6})  # e.g. m/s -> km/h: same dataset name, other values
    w2 = load_windows(changed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c2 = build_narratives(w2.val, Fresh(), **kw)
    assert c2.path != c.path and len(calls) == len(w2.val)  # narrated afresh, into a file keyed by the new values
    assert c2.texts(len(w2.val))[0].startswith("fresh text")


def test_shipped_narratives_for_the_windows_whose_frames_they_describe(tmp_path):
    "Some frames with other values (a simulation that parted on another CPU): their windows are narrated again, the rest shipped."
    from s2kd.data.core import load_windows
    from s2kd.narrate.cache import build_narratives
    from s2kd.narrate.core import Narrator
    w = load_windows("traffic", size="quick", seed=0, cache_dir=str(tmp_path))
    shipped = sorted((ROOT / "s2kd" / "narratives" / "traffic-quick-seed0" / "val").glob("*.jsonl"))[0]
    texts = [json.loads(x)["text"] for x in shipped.read_text().splitlines()]
    calls = []

    class Fresh(Narrator):  # the language model that wrote the shipped file (same identity)
        name = "fresh"
        def identity(self): return shipped.stem
        def narrate_one(self, sample, i=0): calls.append(i); return "fresh text"

    late = w.val.ds.time.values[150:]  # the last 42 frames of the validation day(s)
    v = list(w.ds.data_vars)[0]
    changed = w.ds.assign({v: w.ds[v].where(~w.ds.time.isin(late), w.ds[v] * 1.5)})
    w2 = load_windows(changed)
    need = w2.val.t_in + w2.val.t_out
    touched = [i for i, (m, t0) in enumerate(w2.val.windows) if t0 + need > 150]
    with pytest.warns(UserWarning, match=f"{len(touched)} of {len(w2.val)} windows touch frames whose values differ"):
        c = build_narratives(w2.val, Fresh(), split="val", dataset_key="traffic-quick-seed0", root=tmp_path, progress=False)
    assert 0 < len(touched) < len(w2.val) and len(calls) == len(touched)  # only those narrated again
    got = c.texts(len(w2.val))
    assert all(got[i] == ("fresh text" if i in touched else texts[i]) for i in range(len(w2.val)))


@pytest.mark.parametrize("name, change", [
    ("traffic", lambda ds: ds.assign(inflow=ds.inflow.assign_attrs(units="vehicles per hour"))),
    ("winds", lambda ds: ds.assign_coords(time=ds.time + np.timedelta64(12, "h"))),  # the same days: the same splits
    ("traffic", lambda ds: ds.assign_attrs(events="[]"))], ids=["units", "times", "events"])  # 89 of 169 val windows had one
def test_shipped_narratives_only_for_the_info_they_describe(tmp_path, name, change):
    "The same values with other units, time stamps or events: a narrator reads them (`info(i)`), so it writes anew."
    from s2kd.data.core import load_windows
    from s2kd.narrate.cache import build_narratives, data_signature, same_values
    from s2kd.narrate.core import Narrator

    def narrate(val):
        "Narrate `val` with a stand-in for the shipped language model (same identity): (windows narrated, cache path)."
        shipped, calls = sorted((ROOT / "s2kd" / "narratives" / f"{name}-quick-seed0" / "val").glob("*.jsonl"))[0], []
        class Fresh(Narrator):
            name = "fresh"
            def identity(self): return shipped.stem
            def narrate_one(self, sample, i=0): calls.append(i); return "fresh text"
        c = build_narratives(val, Fresh(), split="val", dataset_key=f"{name}-quick-seed0", root=tmp_path, progress=False)
        return len(calls), c.path

    w = load_windows(name, size="quick", seed=0, cache_dir=str(tmp_path))
    w2 = load_windows(change(w.ds))
    assert len(w2.val) == len(w.val) and same_values(data_signature(w2.val), data_signature(w.val))  # the very values
    n, path = narrate(w.val)
    assert n == 0  # the shipped texts
    with pytest.warns(UserWarning, match="other names, units, time stamps"):
        n2, path2 = narrate(w2.val)
    assert n2 == len(w2.val) and path2 != path  # narrated afresh, into its own file


# ---- fit.wall_s after a resume is the total -----------------------------------------------------------------------
def test_fit_wall_s_counts_every_process(tmp_path):
    import time, torch
    from torch import nn
    from s2kd.train.loop import fit

    class D(torch.utils.data.Dataset):
        def __len__(self): return 8
        def __getitem__(self, i): return {"x": torch.ones(2, 1, 4, 4) * i, "y": torch.ones(2, 1, 4, 4) * i, "index": i}

    class M(nn.Module):
        def __init__(self): super().__init__(); self.w = nn.Parameter(torch.zeros(1))
        def predict(self, b): return b["x"] * self.w
        def forward(self, b): l = ((self.predict(b) - b["y"]) ** 2).mean(); return l, {"task": float(l.detach())}

    def crash(epoch, rec):
        time.sleep(1.0)  # the first process spends at least 1 s after epoch 0's checkpoint, counted in epoch 1's
        if epoch == 1: raise RuntimeError("killed")
    kw = dict(epochs=3, batch_size=4, out_dir=tmp_path, progress=False, device="cpu")
    with pytest.raises(RuntimeError, match="killed"): fit(M(), D(), D(), callback=crash, **kw)
    r = fit(M(), D(), D(), **kw)  # resumes for the last epoch only
    assert r["epochs_run"] == 3 and r["wall_s"] >= 1.0, r["wall_s"]  # the total, not only this process's share


# ---- `s2kd notebooks run`: a notebook that fails half way leaves the last good results and figures -----------------
def test_notebooks_run_failing_half_way_keeps_the_last_good_results(tmp_path, monkeypatch):
    "Before: papermill ran in --out itself, so a failure after the results cell left new numbers beside the old figure."
    import nbformat, papermill
    import s2kd.notebooks as N
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    params = nbformat.v4.new_code_cell('out_dir = "."\nvalue = "new"\nfail = False'); params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "from pathlib import Path\n(Path(out_dir)/'results'/'toy').mkdir(parents=True, exist_ok=True)\n"
        "(Path(out_dir)/'results'/'toy'/'table.csv').write_text(value)"),
        nbformat.v4.new_code_cell("assert not fail, 'the figure cell failed'\n(Path(out_dir)/'figures').mkdir(exist_ok=True)\n"
                                  "(Path(out_dir)/'figures'/'toy.png').write_text(value)")]
    src = tmp_path / "toy.ipynb"; nbformat.write(nb, src)
    monkeypatch.setattr(N, "get_notebook", lambda name: src)
    out = tmp_path / "out"
    N.run_notebook("toy", out, {"value": "good"}, progress=False)
    assert (out / "results/toy/table.csv").read_text() == "good" and (out / "figures/toy.png").read_text() == "good"
    with pytest.raises(papermill.PapermillExecutionError):
        N.run_notebook("toy", out, {"value": "half", "fail": "true"}, progress=False)
    assert (out / "results/toy/table.csv").read_text() == "good", "a failed run replaced the last good results"
    assert (out / "figures/toy.png").read_text() == "good" and leftovers(out) == []


def test_multimodal_teacher_of_a_retrained_vision_teacher_is_trained_again(toy_run):
    "A stored multimodal teacher started from a vision teacher that the store retrained since is trained again, not reused."
    from s2kd.train.experiment import data_key, get_teacher, load_data
    cfg, ds = toy_run
    cfg = cfg.replace(method="s2kd", teacher="multimodal", mm_backbone="simvp_deep", mm_epochs=1, encoder="hashing")
    w, narr = load_data(cfg, ds)
    _, info = get_teacher("multimodal", cfg, w, data_key(cfg, w, narr))
    assert info["trained"] and info["init"]["teacher"] == "simvp_deep"
    assert get_teacher("multimodal", cfg, w, data_key(cfg, w, narr))[1]["trained"] is False  # the same start: reused
    vision = Path(info["checkpoint"]).parent / info["init"]["checkpoint"]
    _retrain_teacher(vision)
    with pytest.warns(UserWarning, match="started from other weights of its vision teacher"):
        _, again = get_teacher("multimodal", cfg, w, data_key(cfg, w, narr))
    assert again["trained"], "the multimodal teacher of the old vision weights was reused"
