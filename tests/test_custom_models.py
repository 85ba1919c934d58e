"""Models of one's own, registered in `s2kd.models.registry` (MODELS, ROLE, PRESETS): a wrong output shape, a tap that
returns no tensor, another class under a registered name and a run with its own cache folder are each named, never
silently trained, reused or refused with another reason."""
import warnings

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from s2kd.core import DataError
from s2kd.data.core import toy_dataset
from s2kd.distill import Distiller, masked_mse
from s2kd.models import registry as R
from s2kd.train.api import load_student, load_teacher
from s2kd.train.config import RunConfig
from s2kd.train.experiment import _own_models, run
from s2kd.train.loop import val_mse


class Tiny(nn.Module):
    "A student of one's own: (B, T_in, C, H, W) -> (B, T_out, C, H, W), tap `body.1`."
    feature_path = "body.1"
    def __init__(self, in_shape, t_out, dim=4):
        super().__init__(); T, C, H, W = in_shape; self.t_out = t_out
        self.body = nn.Sequential(nn.Conv2d(T * C, dim, 3, padding=1), nn.GELU(), nn.Conv2d(dim, dim, 3, padding=1))
        self.head = nn.Conv2d(dim, t_out * C, 1)
    def forward(self, x):
        B, T, C, H, W = x.shape
        return self.head(self.body(x.reshape(B, T * C, H, W))).reshape(B, self.t_out, C, H, W)

class TinyTanh(Tiny):
    "Another network with the very same parameters."
    def __init__(self, in_shape, t_out, dim=4): super().__init__(in_shape, t_out, dim); self.body[1] = nn.Tanh()

class Seer(Tiny):
    "A privileged teacher of one's own: its forward takes the narrative (token states and mask), added as a shift per lead and channel."
    seen = []  # the text shape of every call, None for a call without text (what the test checks)
    def __init__(self, in_shape, t_out, dim=4, d_text=384):
        super().__init__(in_shape, t_out, dim); self.text = nn.Linear(d_text, t_out * in_shape[1])
    def forward(self, x, text=None, text_mask=None):
        Seer.seen.append(None if text is None else tuple(text.shape)); y = super().forward(x)
        if text is None: return y
        m = text_mask.unsqueeze(-1).to(text.dtype); s = (text * m).sum(1) / m.sum(1).clamp_min(1)  # mean of the real tokens
        return y + self.text(s).reshape(*y.shape[:3], 1, 1)

class OneLead(Tiny):
    "Forecasts one lead time whatever t_out is: a wrong contract."
    def forward(self, x): return super().forward(x)[:, :1]

class GRUTap(Tiny):
    "Its documented tap is a GRU, whose output is a tuple."
    feature_path = "rnn"
    def __init__(self, *a, **k): super().__init__(*a, **k); self.rnn = nn.GRU(2, 2, batch_first=True)
    def forward(self, x): self.rnn(torch.zeros(x.shape[0], 1, 2)); return super().forward(x)


@pytest.fixture
def registered(monkeypatch):
    "Register `Tiny` as student 'tiny' and teacher 'tinyt' for one test."
    def reg(name, cls, role):
        monkeypatch.setitem(R.MODELS, name, cls); monkeypatch.setitem(R.ROLE, name, role)
        monkeypatch.setitem(R.PRESETS, name, {p: dict(dim=4) for p in ("smoke", "quick", "paper")})
    reg("tiny", Tiny, "student"); reg("tinyt", Tiny, "teacher")
    return reg


def _batch(t_out=2):
    return dict(x=torch.randn(2, 2, 2, 6, 6), y=torch.randn(2, t_out, 2, 6, 6), mask=torch.ones(2, 6, 6, dtype=torch.bool))


def test_wrong_output_shape_is_named_on_masked_data():
    b = _batch()
    with pytest.raises(DataError, match=r"masked_mse: y_hat shape \(2, 1, 2, 6, 6\) != y shape \(2, 2, 2, 6, 6\)"):
        masked_mse(b["y"][:, :1], b["y"], b["mask"])  # broadcast against both leads, it trained before
    with pytest.raises(DataError, match="masked_mse"):
        Distiller(OneLead((2, 2, 6, 6), 2))(b)
    d = Distiller(OneLead((2, 2, 6, 6), 2))
    loader = DataLoader([dict(x=b["x"][i], y=b["y"][i]) for i in range(2)], batch_size=2)
    with pytest.raises(DataError, match=r"val_mse: the forecast has shape \(2, 1, 2, 6, 6\), the targets \(2, 2, 2, 6, 6\)"):
        val_mse(d, loader, torch.device("cpu"))


def test_tap_returning_a_tuple_is_named():
    b = _batch()
    with pytest.raises(DataError, match=r"the student tap 'rnn' \(GRUTap\) returns a tuple, not a tensor"):
        Distiller(GRUTap((2, 2, 6, 6), 2), Tiny((2, 2, 6, 6), 2), method="fitnet", example=b)
    with pytest.raises(DataError, match=r"the teacher 0 tap 'rnn' \(GRUTap\) returns a tuple"):
        Distiller(Tiny((2, 2, 6, 6), 2), GRUTap((2, 2, 6, 6), 2), method="fitnet", example=b)


def test_own_models_key_their_runs_and_s2kd_models_keep_theirs(registered, tmp_path):
    assert R.model_identity("unet", "smoke") is None and R.model_identity("simvp") is None  # s2kd's own: keys as they were
    assert _own_models(RunConfig(method="kd")) == {}
    ident = R.model_identity("tiny", "smoke")
    assert ident["cls"].endswith(".Tiny") and ident["kwargs"] == {"dim": 4} and ident["source"]
    ds = toy_dataset(n_member=3, n_time=24, h=8, w=8)
    cfg = RunConfig(dataset="memory:toy", student="tiny", teacher="tinyt", method="kd", epochs=1, batch_size=8, device="cpu",
                    cache_dir=str(tmp_path/"cache"), results_dir=str(tmp_path/"res"))
    r1 = run(cfg, data=ds, threads=1)
    assert set(r1["models"]) == {"tiny", "tinyt"}
    r_same = run(cfg, data=ds, threads=1)  # the same classes: the run and its teacher are reused
    assert r_same["fit"]["epochs_this_call"] == 0 and not r_same["teachers"][0]["trained"]
    registered("tiny", TinyTanh, "student"); registered("tinyt", TinyTanh, "teacher")  # same name, same weights' shapes
    run_dir = tmp_path/"res"/cfg.run_name  # the old run, read with the new class: refused (until session 38 a warning), or said
    with pytest.raises(DataError, match=r"is registered as .*TinyTanh.*check_code=False \(s2kd evaluate --any-code\)"):
        load_student(run_dir, cache=cfg.cache_dir)
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always"); load_student(run_dir, cache=cfg.cache_dir, check_code=False)
    assert any("is registered as" in str(w.message) and "TinyTanh" in str(w.message) for w in ws)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); r2 = run(cfg, data=ds, threads=1)
    assert r2["teachers"][0]["trained"], "another teacher class under the same name reused the stored teacher"
    assert r2["fit"]["epochs_this_call"] == 1, "another student class under the same name reused the finished run"
    assert r2["models"]["tiny"]["cls"].endswith(".TinyTanh")


def test_a_privileged_teacher_of_ones_own_reads_the_narratives(registered, tmp_path):
    "A registered teacher whose forward takes `text` gets the narratives, as the multimodal teacher does, and S²-KD distils it."
    from s2kd.train.api import evaluate
    registered("seer", Seer, "teacher")
    ds = toy_dataset(n_member=3, n_time=24, h=8, w=8)
    cfg = RunConfig(dataset="memory:toy", student="tiny", teacher="seer", method="s2kd", encoder="hashing", epochs=1, batch_size=8,
                    device="cpu", cache_dir=str(tmp_path/"cache"), results_dir=str(tmp_path/"res"))  # until session 39: refused
    Seer.seen.clear(); r = run(cfg, data=ds, threads=1)
    assert r["narratives"] and r["data"]["key"].endswith(f"-text:{r['narratives']}")  # the texts it read key its outputs
    assert Seer.seen and None not in Seer.seen, "a call of the teacher without text"  # training, its cache, its scores
    assert {"semantic", "spectral"} <= {k[len("train_"):] for k in r["fit"]["history"][0] if k.startswith("train_")}
    t = load_teacher(tmp_path/"res"/cfg.run_name, cache=cfg.cache_dir)
    own = evaluate(t, ds, cache=cfg.cache_dir, check_data=False)["mse"]
    bare = evaluate(t, ds, cache=cfg.cache_dir, check_data=False, text="none")["mse"]
    test = r["metrics"]["teacher:seer"]["test"]["mse"]
    assert abs(own - test) <= 1e-6 * test, (own, test)  # scored again with the run's narratives: as `run` scored it (float32 sums)
    assert abs(bare - test) > 1e-3 * test, (bare, test)  # and the text moves its forecast: it was read
    import json  # a run whose teacher read no text (recorded '-text:None', as before session 39): scored as it was, without text
    rp = tmp_path/"res"/cfg.run_name/"result.json"; rj = json.loads(rp.read_text())
    rj["data"]["key"] = rj["data"]["key"].rpartition("-text:")[0] + "-text:None"; rp.write_text(json.dumps(rj))
    assert evaluate(load_teacher(tmp_path/"res"/cfg.run_name, cache=cfg.cache_dir), ds, cache=cfg.cache_dir, check_data=False)["mse"] == bare  # exact: the same windows, weights and code, without text both times
    kd = run(cfg.replace(method="kd"), data=ds, threads=1)  # any method: the teacher still reads its text
    assert kd["narratives"] == r["narratives"] and not kd["teachers"][0]["trained"]
    assert run(cfg.replace(method="baseline"), data=ds, threads=1)["narratives"] is None


def test_bumped_code_version_keys_s2kd_models_runs_anew(monkeypatch, tmp_path):
    "s2kd's own models: a bumped CODE_VERSIONS number retrains their runs and teachers, and an old run's load says so."
    ds = toy_dataset(n_member=3, n_time=24, h=8, w=8)
    cfg = RunConfig(dataset="memory:toy", student="unet", student_preset="smoke", teacher="simvp", teacher_preset="smoke",
                    method="kd", epochs=1, batch_size=8, device="cpu", cache_dir=str(tmp_path/"cache"), results_dir=str(tmp_path/"res"))
    r1 = run(cfg, data=ds, threads=1)
    assert "models" not in r1 or r1["models"] == {}  # all at version 1: the keys of runs trained before versions existed
    monkeypatch.setitem(R.CODE_VERSIONS, R.UNet, 2)
    with pytest.raises(DataError, match="is registered as .*'UNet': 2"):
        load_student(tmp_path/"res"/cfg.run_name, cache=cfg.cache_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); r2 = run(cfg, data=ds, threads=1)
    assert r2["fit"]["epochs_this_call"] == 1, "a student whose code version was bumped reused the run trained before"
    assert not r2["teachers"][0]["trained"], "the teacher's version did not change: it is reused"
    assert r2["models"] == {"unet": {"cls": "s2kd.models.students.UNet", "versions": {"Forecaster": 1, "UNet": 2}}}
    monkeypatch.setitem(R.CODE_VERSIONS, R.SimVP, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); r3 = run(cfg, data=ds, threads=1)
    assert r3["teachers"][0]["trained"], "a teacher whose code version was bumped came from the store"


def test_run_with_its_own_cache_is_looked_for_there(registered, tmp_path, monkeypatch):
    monkeypatch.setenv("S2KD_CACHE", str(tmp_path/"default"))
    ds = toy_dataset(n_member=3, n_time=24, h=8, w=8)
    base = dict(dataset="memory:toy", student="tiny", teacher="tinyt", method="kd", batch_size=8, device="cpu")
    mine = RunConfig(epochs=1, cache_dir=str(tmp_path/"mine"), results_dir=str(tmp_path/"res"), **base)
    run(mine, data=ds, threads=1); run_dir = tmp_path/"res"/mine.run_name
    with pytest.raises(FileNotFoundError, match=r"trained with its own cache_dir .*pass cache="):
        load_student(run_dir)  # the default cache is empty
    with pytest.raises(FileNotFoundError, match=r"is not there: run .* own cache_dir .*pass cache="):
        load_teacher(run_dir)
    run(mine.replace(epochs=2, cache_dir="", results_dir=str(tmp_path/"other")), data=ds, threads=1)  # same name, default cache
    with pytest.raises(DataError, match=r"trained with its own cache_dir .*pass cache=.*holds other weights"):
        load_student(run_dir)  # was: "a run of the same name retrained its folder since", nothing about the cache
    assert not load_student(run_dir, cache=mine.cache_dir).training


def test_cli_imports_the_module_that_registers_a_model(tmp_path, monkeypatch, capsys):
    "`s2kd train/evaluate --import` a .py file that registers one's own student: a fresh process knows only s2kd's models."
    from s2kd.train.api import cli_evaluate, cli_train
    mod = tmp_path/"my_models.py"
    mod.write_text("from torch import nn\nfrom s2kd.models import registry as R\n"
                   "class Mine(nn.Module):\n    feature_path = 'body'\n"
                   "    def __init__(self, in_shape, t_out, dim=4):\n"
                   "        super().__init__(); T, C, H, W = in_shape; self.t_out = t_out\n"
                   "        self.body = nn.Conv2d(T * C, dim, 3, padding=1); self.head = nn.Conv2d(dim, t_out * C, 1)\n"
                   "    def forward(self, x):\n        B, T, C, H, W = x.shape\n"
                   "        return self.head(self.body(x.reshape(B, T * C, H, W))).reshape(B, self.t_out, C, H, W)\n"
                   "R.MODELS['mine'] = Mine; R.ROLE['mine'] = 'student'; R.PRESETS['mine'] = {p: {} for p in ('smoke', 'quick', 'paper')}\n")
    cfg = tmp_path/"run.yaml"
    cfg.write_text(f"dataset: navier_stokes\nsize: tiny\nstudent: mine\nmethod: baseline\nepochs: 1\nmax_steps: 1\n"
                   f"results_dir: {tmp_path/'results'}\ncache_dir: {tmp_path/'cache'}\n")
    saved = {d: dict(getattr(R, d)) for d in ("MODELS", "ROLE", "PRESETS")}
    try:
        assert cli_train([str(cfg)]) == 2                                    # not registered in this process
        assert "--import the module" in capsys.readouterr().err
        assert cli_train([str(cfg), "--import", str(tmp_path/"nope.py")]) == 2
        err = capsys.readouterr().err; assert "--import" in err and "no such file" in err
        monkeypatch.syspath_prepend(str(tmp_path))
        assert cli_train([str(cfg), "--import", str(mod)]) == 0
        run_dir = next((tmp_path/"results").iterdir())
        assert cli_evaluate([str(run_dir), "--import", "my_models", "--cache", str(tmp_path/"cache")]) == 0  # by module name too
    finally:
        for d, v in saved.items(): getattr(R, d).clear(); getattr(R, d).update(v)


def test_a_student_loads_without_its_teachers_code_and_a_missing_import_is_named(registered, monkeypatch, tmp_path):
    "A new process that registers only the student loads it; one that registers neither is told which module to import."
    ds = toy_dataset(n_member=3, n_time=24, h=8, w=8)
    cfg = RunConfig(dataset="memory:toy", student="tiny", teacher="tinyt", method="kd", epochs=1, batch_size=8, device="cpu",
                    cache_dir=str(tmp_path/"cache"), results_dir=str(tmp_path/"res"))
    run(cfg, data=ds, threads=1); run_dir = tmp_path/"res"/cfg.run_name
    monkeypatch.delitem(R.MODELS, "tinyt"); monkeypatch.delitem(R.ROLE, "tinyt")  # the teacher's code is not shipped
    assert isinstance(load_student(run_dir, cache=cfg.cache_dir), Tiny)  # until session 38: "not a complete run result"
    with pytest.raises(DataError, match=r"model 'tinyt' \(test_custom_models.Tiny, as its result records it\) is not registered in this "
                                        r"process: import the module that registers it first \(import test_custom_models"):
        load_teacher(run_dir, cache=cfg.cache_dir)
    monkeypatch.delitem(R.MODELS, "tiny"); monkeypatch.delitem(R.ROLE, "tiny")
    with pytest.raises(DataError, match="model 'tiny' .* is not registered in this process"):
        load_student(run_dir, cache=cfg.cache_dir)


def test_import_models_finds_a_package_where_the_command_runs(tmp_path, monkeypatch):
    "`--import mylab.models` from the folder holding mylab/, and `--import mylab/models.py` with its relative imports."
    from s2kd.train.api import import_models
    (tmp_path/"mylab38").mkdir(); (tmp_path/"mylab38"/"__init__.py").write_text("")
    (tmp_path/"mylab38"/"blocks.py").write_text("WIDTH = 3\n")
    (tmp_path/"mylab38"/"models.py").write_text("from .blocks import WIDTH\n")
    import sys
    bare = [p for p in sys.path if p not in ("", str(tmp_path))]  # a console script's path: not the folder it runs in
    monkeypatch.chdir(tmp_path); monkeypatch.setattr(sys, "path", list(bare))
    try:
        assert import_models("mylab38.models").WIDTH == 3  # until session 38: No module named 'mylab38' (a console script's path)
        for m in ("mylab38", "mylab38.models", "mylab38.blocks"): sys.modules.pop(m, None)
        monkeypatch.setattr(sys, "path", list(bare))  # the first import put the folder on the path: the file form finds it alone
        assert import_models("mylab38/models.py").WIDTH == 3  # until session 38: attempted relative import with no known parent package
    finally:
        for m in ("mylab38", "mylab38.models", "mylab38.blocks"): sys.modules.pop(m, None)


NARRATOR_SRC = ("from s2kd.narrate.core import Narrator\n"
                "class Trend(Narrator):\n    name, future = 'trend39', True\n"
                "    def narrate_one(self, sample, i=0):\n"
                "        return 'rising.' if (sample['y'] ** 2).mean() > (sample['x'][-1] ** 2).mean() else 'falling.'\n")

def test_a_narrator_of_ones_own_is_checked_when_its_teacher_is_scored_again(registered, tmp_path, monkeypatch):
    "An edited narrator (its code keys its texts) is refused when the run's teacher is scored again on the run's own data."
    import importlib, sys
    from s2kd.narrate import core as N
    from s2kd.train.api import evaluate
    registered("seer", Seer, "teacher")
    (tmp_path/"trend39.py").write_text(NARRATOR_SRC); monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("trend39"); monkeypatch.setitem(N.NARRATORS, "trend39", mod.Trend)
    try:
        cfg = RunConfig(dataset="navier_stokes", size="tiny", student="tiny", teacher="seer", method="s2kd", narrator="trend39",
                        encoder="hashing", epochs=1, max_steps=2, batch_size=8, device="cpu", cache_dir=str(tmp_path/"cache"),
                        results_dir=str(tmp_path/"res"))
        r = run(cfg, threads=1); run_dir = tmp_path/"res"/cfg.run_name
        assert r["narratives"].startswith(mod.Trend().identity() + "/")
        t = load_teacher(run_dir, cache=cfg.cache_dir)
        score = evaluate(t, "navier_stokes", cache=cfg.cache_dir)["mse"]  # the same narrator: its texts, its score
        assert abs(score - r["metrics"]["teacher:seer"]["test"]["mse"]) <= 1e-6 * score
        (tmp_path/"trend39.py").write_text(NARRATOR_SRC.replace("'rising.'", "'up.'"))  # edited: other texts, another identity
        monkeypatch.setitem(N.NARRATORS, "trend39", importlib.reload(mod).Trend)
        with pytest.raises(DataError, match=r"the run's teacher read the texts of narrator trend39-\w+ .* changed since; .*check_data=False"):
            evaluate(t, "navier_stokes", cache=cfg.cache_dir)  # until session 39: scored with the new texts, without a word
        with pytest.warns(UserWarning, match="its texts may not be those it learnt from"):  # asked for: scored, and said
            assert evaluate(t, "navier_stokes", cache=cfg.cache_dir, check_data=False)["mse"] > 0
        monkeypatch.delitem(N.NARRATORS, "trend39")  # a process without the narrator's module still loads the run's models
        assert isinstance(load_student(run_dir, cache=cfg.cache_dir), Tiny)  # until session 39: "not a complete run result"
        with pytest.raises(Exception, match=r"unknown narrator 'trend39'.*--import the module that does"):
            evaluate(t, "navier_stokes", cache=cfg.cache_dir)
    finally: sys.modules.pop("trend39", None)


class Declared(Tiny):
    "Reads the narratives through **kw and says so in `batch_keys`."
    batch_keys = ("text", "text_mask")
    def forward(self, x, **kw): return super().forward(x)

class DeclaredCalendar(Tiny):
    "Reads the calendar itself through **kw, and a batch entry of its own."
    batch_keys = ("calendar", "static")
    seen = []
    def forward(self, x, **kw): DeclaredCalendar.seen.append(sorted(k for k, v in kw.items() if v is not None)); return super().forward(x)

class ByProperty(Tiny):
    "Declares its batch entries by a property: known only once built, after a run has chosen what to load."
    @property
    def batch_keys(self): return ("text", "text_mask")
    def forward(self, x, **kw): return super().forward(x)

def test_text_readers_declared_or_by_signature_and_students_that_read_text_refused(registered):
    from s2kd.distill import run_model
    registered("declared", Declared, "teacher"); registered("seers", Seer, "student")
    assert R.model_reads_text("declared") and "text" in R.build_model("declared", in_shape=(2, 2, 6, 6), t_out=2, preset="smoke").batch_keys
    RunConfig(method="s2kd", teacher="declared")  # a privileged teacher: accepted (the mixin hid its batch_keys until session 39)
    registered("declcal", DeclaredCalendar, "teacher")  # declared keys of its own are read, the calendar handed on to it
    m = R.build_model("declcal", in_shape=(2, 2, 6, 6), t_out=2, preset="smoke")
    assert m.batch_keys == ("static", "calendar") and not R.model_reads_text("declcal")
    DeclaredCalendar.seen.clear(); run_model(m, dict(x=torch.randn(1, 2, 2, 6, 6), calendar=torch.randn(1, 4, 3), static=torch.ones(1)))
    assert DeclaredCalendar.seen == [["calendar", "static"]]
    registered("byprop", ByProperty, "teacher")  # what a run loads and what the model is handed would disagree: refused, said how
    with pytest.raises(DataError, match=r"batch_keys is a property: declare it as a tuple class attribute"):
        R.build_model("byprop", in_shape=(2, 2, 6, 6), t_out=2, preset="smoke")
    from s2kd.train.config import text_teachers
    with pytest.raises(DataError, match=r"batch_keys is a property"): text_teachers(RunConfig(method="kd", teacher="byprop"))  # run's first step
    with pytest.raises(Exception, match=r"RunConfig.student='seers': its forward takes `text`; a student forecasts from the frames alone"):
        RunConfig(student="seers", method="s2kd", teacher="multimodal")  # it would be handed the teacher's narratives, future ones included
    RunConfig(student="seers", method="kd", teacher="simvp")  # no teacher reads text: no narratives are loaded, none reach it


def test_import_a_file_whose_helper_lies_beside_it(tmp_path, monkeypatch):
    "`--import lab/models.py` imports `helpers` beside it, as `python lab/models.py` would (until session 39: No module named 'helpers')."
    import sys
    from s2kd.train.api import import_models
    (tmp_path/"lab").mkdir(); (tmp_path/"lab"/"helpers39.py").write_text("N = 7\n")
    (tmp_path/"lab"/"models39.py").write_text("from helpers39 import N\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    try: assert import_models(str(tmp_path/"lab"/"models39.py")).N == 7
    finally:
        for m in ("helpers39", "models39"): sys.modules.pop(m, None)


def test_spawned_workers_register_ones_own_models_again(tmp_path, monkeypatch):
    "`s2kd.paper.map_jobs(jobs=2)` (the paper tables' worker processes) knows a model registered by a module of one's own."
    import sys
    from s2kd.paper import map_jobs
    (tmp_path/"lab39").mkdir(); (tmp_path/"lab39"/"__init__.py").write_text("")
    (tmp_path/"lab39"/"nets.py").write_text(
        "from torch import nn\nclass Net39(nn.Module):\n    def __init__(self, in_shape, t_out, dim=3):\n"
        "        super().__init__(); self.c = nn.Conv2d(in_shape[0] * in_shape[1], t_out * in_shape[1], 3, padding=1)\n"
        "    def forward(self, x): return x\n")
    (tmp_path/"reg39.py").write_text("from s2kd.models.registry import register\nfrom lab39.nets import Net39\n"
                                     "register('net39', Net39, 'student', {'smoke': {'dim': 3}})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    saved = {d: dict(getattr(R, d)) for d in ("MODELS", "ROLE", "PRESETS", "REGISTERED_BY")}
    try:
        import reg39  # noqa: F401  registers 'net39'
        assert ("reg39", str(tmp_path.resolve())) in R.own_imports()
        call = dict(name="net39", in_shape=(2, 2, 6, 6), t_out=2, preset="smoke")
        here = R.param_count(**call)
        monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])  # the workers find it by the folder it names
        assert map_jobs(R.param_count, [call, call], jobs=2) == [here, here]  # until session 39: "unknown model 'net39'" in the workers
    finally:
        for d, v in saved.items(): getattr(R, d).clear(); getattr(R, d).update(v)
        for m in ("reg39", "lab39", "lab39.nets"): sys.modules.pop(m, None)


def test_a_teacher_that_reads_no_text_is_keyed_by_the_data_alone(registered, tmp_path):
    "Beside a text teacher (multi-teacher), a vision teacher is one stored teacher for every narrator and for runs without text."
    registered("seer", Seer, "teacher")
    ds = toy_dataset(n_member=3, n_time=24, h=8, w=8)
    cfg = RunConfig(dataset="memory:toy", student="tiny", teacher="seer,tinyt", method="aver", narrator="stat-coarse", encoder="hashing",
                    epochs=1, batch_size=8, device="cpu", cache_dir=str(tmp_path/"cache"), results_dir=str(tmp_path/"res"))
    r1 = run(cfg, data=ds, threads=1)
    assert [t["trained"] for t in r1["teachers"]] == [True, True]
    r2 = run(cfg.replace(narrator="stat-rich", name="rich"), data=ds, threads=1)  # other texts: the text teacher anew, the vision teacher reused
    assert [t["trained"] for t in r2["teachers"]] == [True, False]  # until session 39: retrained for every narrator
    assert r2["metrics"]["teacher:tinyt"] == r1["metrics"]["teacher:tinyt"]  # its stored scores, as they were
    kd = run(cfg.replace(method="kd", teacher="tinyt"), data=ds, threads=1)  # no text at all: the same stored teacher
    assert not kd["teachers"][0]["trained"] and kd["teachers"][0]["checkpoint"] == r1["teachers"][1]["checkpoint"]
