"""The S²-KD table notebooks (nbs/table1_weather, table2_traffic, table3_ood, ablation) through papermill at the smoke
preset, 1 thread, the hashing text encoder: every student × method row, finite metrics, the paper's columns, the figure
files, no machine paths in results; the ablation's "L_pred only" and "both" runs are Table 2's U-Net runs, trained once."""
import csv, json, math, os, time
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("HF_HUB_OFFLINE", "1")

from s2kd.paper import ABLATION, ARTEFACTS, DATASETS_DIFFER, S2KD_METHODS, S2KD_STUDENTS, S2KD_TABLES, artefact_paths, find_notebook

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
ORDER = ("ablation", "table2_traffic", "table1_weather", "table3_ood")  # the ablation first: Table 2 must reuse its runs


def _execute(name, root):
    "Run one notebook at smoke into root/out (kernel cache: root/cache); its wall time."
    import papermill as pm
    t0 = time.time()
    pm.execute_notebook(str(REPO/"nbs"/f"{name}.ipynb"), str(root/f"{name}.ipynb"), cwd=str(root), kernel_name="python3",
                        progress_bar=False, parameters=dict(preset="smoke", device="cpu", threads=1, out_dir=str(root/"out"),
                                                            overrides={"encoder": "hashing"}))
    return time.time() - t0


def _last_pts(root, runs_json):
    "Modification times of the checkpoints of the runs a notebook recorded."
    runs = json.loads(Path(runs_json).read_text())
    return {r["name"]: (root/"cache"/"runs"/r["name"]/"last.pt").stat().st_mtime_ns for r in runs}


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    "The four notebooks, ablation first, in one out_dir and one cache; checkpoint times after the ablation."
    root = tmp_path_factory.mktemp("s2kd_tables")
    mp = pytest.MonkeyPatch(); mp.setenv("S2KD_CACHE", str(root/"cache"))  # the kernels inherit it
    walls, after_ablation = {}, None
    for name in ORDER:
        walls[name] = _execute(name, root)
        print(f"smoke {name}: {walls[name]:.0f} s (OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, threads=1, shared CPU)")
        if name == "ablation": after_ablation = _last_pts(root, artefact_paths(root/"out", "ablation")["results"]/"runs.json")
    yield root, walls, after_ablation
    mp.undo()


def _rows(p):
    return list(csv.DictReader(Path(p).open()))


def test_notebooks_are_artefacts():
    for name in ORDER:
        nb = json.loads(find_notebook(name).read_text())
        assert name in ARTEFACTS and find_notebook(name).name == f"{name}.ipynb"
        assert nb["cells"][0]["cell_type"] == "raw" and "skip_exec: true" in "".join(nb["cells"][0]["source"])
        par = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
        src = "".join(par[0]["source"])
        for p in ("preset: str = \"quick\"", "data_dir:", "seeds:", "device:", "out_dir:", "overrides:", "threads:"):
            assert p in src, (name, p)


@pytest.mark.parametrize("name", ["table1_weather", "table2_traffic", "table3_ood"])
def test_table_has_every_row(ran, name):
    root, _, _ = ran
    table, dataset, teacher = S2KD_TABLES[name]
    p = artefact_paths(root/"out", name)
    rows = _rows(p["csv"])
    got = {(r["model"], r["method"]): r for r in rows}
    want = {(s, m) for s in S2KD_STUDENTS for m in S2KD_METHODS}
    assert want <= set(got), want - set(got)
    assert {(teacher, "teacher"), ("multimodal", "teacher"), ("persistence", "reference"), ("climatology", "reference")} <= set(got)
    for k in want | {(teacher, "teacher")}:
        r = got[k]
        for c in ("mse_mean", "mae_mean", "ssim_mean", "params_M", "latency_ms", "skill"):
            assert math.isfinite(float(r[c])), (k, c, r[c])
        assert int(r["n_seeds"]) == (1 if k[1] == "teacher" else 2)  # the teacher is one model, re-evaluated by every run
    for s in S2KD_STUDENTS:  # the paired statistics exist for every distilled student
        for m in ("kd", "fitnet", "s2kd"):
            assert math.isfinite(float(got[(s, m)]["diff_mean"])) and got[(s, m)]["within_noise"] in ("True", "False")
    # the paper's columns: its values for the rows it reports (transcribed in s2kd.paper), empty where it has none
    for c in ("paper: MSE", "paper: MAE", "paper: SSIM", "paper: PARAMS_M", "paper: LATENCY_MS", "paper: change_pct"):
        assert c in rows[0], c
    assert got[("unet", "s2kd")]["paper: MSE"] and got[(teacher, "teacher")]["paper: PARAMS_M"]
    assert got[("unet", "kd")]["paper: MSE"] == "" and got[("multimodal", "teacher")]["paper: MSE"] == ""
    md = p["md"].read_text()
    assert DATASETS_DIFFER in md and "**Verdict**" in md and f"unet + s2kd: S²-KD {table} reports" in md, md
    assert p["png"].read_bytes()[:8] == PNG and p["pdf"].read_bytes()[:4] == b"%PDF"
    for f in p["results"].rglob("*"):  # no machine paths in the aggregated results
        if f.is_file(): assert str(root) not in f.read_text() and '"/' not in f.read_text() and "\n/" not in f.read_text(), f
    run = json.loads((p["results"]/"run.json").read_text())
    assert run["preset"] == "smoke" and run["threads"] == 1 and run["environment"]["threads"] == 1 and run["wall_s"] > 0


def test_ablation_table(ran):
    root, _, _ = ran
    p = artefact_paths(root/"out", "ablation")
    rows = _rows(p["csv"])
    for ds in ("traffic", "winds", "plume"):
        got = {r["method"]: r for r in rows if r["dataset"] == ds and r["model"] == "unet"}
        assert set(got) == set(ABLATION), (ds, set(got))
        assert all(math.isfinite(float(r["mse_mean"])) for r in got.values())
        paper = got["s2kd"].get("paper: MSE", "")
        assert (paper == "0.118") if ds == "traffic" else (paper == ""), (ds, paper)  # exact: transcribed Table 4 value as CSV text
    assert p["png"].read_bytes()[:8] == PNG and p["pdf"].read_bytes()[:4] == b"%PDF"
    assert "ordering both < each alone < L_pred" in p["md"].read_text()


def test_shared_runs_are_trained_once(ran):
    "Table 2's U-Net baseline and S²-KD runs are the ablation's pred and s2kd runs on traffic: read back, not trained."
    root, _, after_ablation = ran
    abl = json.loads((artefact_paths(root/"out", "ablation")["results"]/"runs.json").read_text())
    t2 = json.loads((artefact_paths(root/"out", "table2_traffic")["results"]/"runs.json").read_text())
    shared = {r["name"] for r in abl if r["dataset"] == "traffic" and r["row"] in ("pred", "s2kd")}
    assert len(shared) == 4  # 2 rows × 2 seeds
    t2_unet = {r["name"]: r for r in t2 if r["student"] == "unet" and r["method"] in ("baseline", "s2kd")}
    assert set(t2_unet) == shared
    assert all(r["reused"] for r in t2_unet.values())
    now = _last_pts(root, artefact_paths(root/"out", "table2_traffic")["results"]/"runs.json")
    assert all(now[n] == after_ablation[n] for n in shared)                       # the checkpoints were not rewritten
    assert not any(r["reused"] for r in t2 if r["student"] != "unet" or r["method"] in ("kd", "fitnet"))  # the others were trained
    assert not any(r["reused"] for r in abl if r["row"] in ("spectral", "semantic"))


def test_ablation_weights_do_what_they_say():
    "`w_semantic=0` leaves λβ·L_spectral, `w_spectral=0` leaves λ·L_semantic (the Distiller's kd_feat part)."
    import torch
    from s2kd.distill import Distiller
    from s2kd.models.registry import build_model
    torch.manual_seed(0)
    shape = dict(in_shape=(4, 2, 16, 16), t_out=4)
    student, teacher = build_model("unet", preset="smoke", **shape), build_model("multimodal", preset="smoke", **shape)
    b = dict(x=torch.randn(2, 4, 2, 16, 16), y=torch.randn(2, 4, 2, 16, 16), text=torch.randn(2, 5, 384),
             text_mask=torch.ones(2, 5, dtype=torch.bool))
    parts = {}
    for label, kw in (("both", {}), ("spectral", dict(w_semantic=0.0)), ("semantic", dict(w_spectral=0.0))):
        torch.manual_seed(1)  # the same projector in every variant
        d = Distiller(student, teacher, method="s2kd", example=b, w_kd_feat=2.0, **kw)
        parts[label] = d(b)[1]
    sem, spec = parts["both"]["semantic"], parts["both"]["spectral"]
    # float32 losses of the same tensors summed in another order: 1e-5 relative covers the rounding
    assert math.isclose(parts["both"]["kd_feat"], 2.0 * (sem + 0.5 * spec), rel_tol=1e-5)
    assert math.isclose(parts["spectral"]["kd_feat"], 2.0 * 0.5 * spec, rel_tol=1e-5)
    assert math.isclose(parts["semantic"]["kd_feat"], 2.0 * sem, rel_tol=1e-5)


def test_wall_times(ran):
    "Printed, not asserted (a shared machine): each notebook's smoke wall time."
    _, walls, _ = ran
    for k, v in walls.items(): print(f"{k}: {v:.0f} s")
    assert set(walls) == set(ORDER)


def test_table_reads_a_user_file(tmp_path, monkeypatch):
    "`data_dir`: a folder of .nc files; Table 3 picks the one named plume*, trains on it, and names only the file's name."
    import papermill as pm
    from s2kd.data.embedded import load_dataset
    monkeypatch.setenv("S2KD_CACHE", str(tmp_path/"cache"))
    (tmp_path/"data").mkdir()
    ds = load_dataset("plume", size="tiny")
    ds.to_netcdf(tmp_path/"data"/"plume_user.nc", engine="h5netcdf")
    ds.isel(time=slice(0, 4)).to_netcdf(tmp_path/"data"/"winds_other.nc", engine="h5netcdf")  # not this notebook's
    pm.execute_notebook(str(REPO/"nbs"/"table3_ood.ipynb"), str(tmp_path/"t3.ipynb"), cwd=str(tmp_path), kernel_name="python3",
                        progress_bar=False, parameters=dict(preset="smoke", device="cpu", threads=1, out_dir=str(tmp_path/"out"),
                                                            data_dir=str(tmp_path/"data"), seeds=[42], students="unet",
                                                            overrides={"encoder": "hashing"}))
    p = artefact_paths(tmp_path/"out", "table3_ood")
    runs = json.loads((p["results"]/"runs.json").read_text())
    assert {r["method"] for r in runs} == set(S2KD_METHODS) and all(r["dataset"] == "data/plume_user.nc" for r in runs), runs
    assert json.loads((p["results"]/"run.json").read_text())["data"] == "plume_user.nc"
    md = p["md"].read_text()
    assert "on plume_user.nc" in md and "Out of distribution: trained on heat_release" in md, md
    assert str(tmp_path) not in "".join(f.read_text() for f in p["results"].rglob("*.json"))


def test_evaluate_gives_the_multimodal_teacher_its_narratives(ran):
    "`evaluate` of a table's multimodal teacher, loaded from one of its S²-KD runs, is the score the run recorded."
    from s2kd.train.api import evaluate, load_teacher
    root, _, _ = ran
    name = next(r["name"] for r in json.loads((artefact_paths(root/"out", "table2_traffic")["results"]/"runs.json").read_text())
                if r["method"] == "s2kd")
    run_dir = next(p.parent for p in (root/"cache").rglob("result.json") if p.parent.name == name)
    r = json.loads((run_dir/"result.json").read_text())
    want = r["metrics"]["teacher:multimodal"]["test"]["mse"]
    t = load_teacher(run_dir, "multimodal", cache=str(root/"cache"))
    got = evaluate(t, t.trained_on.config.dataset, cache=str(root/"cache"))["mse"]
    assert abs(got - want) <= 1e-5 * want, (got, want)  # the same windows and texts; float32 sums batched otherwise
    assert evaluate(t, t.trained_on.config.dataset, cache=str(root/"cache"), text="none")["mse"] != got  # without: another forecast


LAB = '''
from torch import nn
from s2kd.models.registry import register

class LabNet(nn.Module):
    "A student of one's own: one convolution from the input frames to the output frames."
    feature_path = "body"
    def __init__(self, in_shape, t_out, width=8):
        super().__init__(); T, C, H, W = in_shape; self.t_out, self.C = t_out, C
        self.body = nn.Sequential(nn.Conv2d(T * C, width, 3, padding=1), nn.GELU())
        self.head = nn.Conv2d(width, t_out * C, 1)
    def forward(self, x):
        B, T, C, H, W = x.shape
        return self.head(self.body(x.reshape(B, T * C, H, W))).reshape(B, self.t_out, C, H, W)

class LabSeer(LabNet):
    "A privileged teacher of one's own: LabNet whose latent is shifted by the mean of its narrative's tokens."
    def __init__(self, in_shape, t_out, width=16, d_text=384):
        super().__init__(in_shape, t_out, width); self.film = nn.Linear(d_text, width)
    def forward(self, x, text=None, text_mask=None):
        B, T, C, H, W = x.shape; z = self.body(x.reshape(B, T * C, H, W))
        if text is not None:
            m = text_mask.unsqueeze(-1).to(text.dtype)
            z = z + self.film((text * m).sum(1) / m.sum(1).clamp_min(1))[..., None, None]
        return self.head(z).reshape(B, self.t_out, C, H, W)

register("labnet", LabNet, "student", {p: dict(width=8) for p in ("smoke", "quick", "paper")})
register("labseer", LabSeer, "teacher", {p: dict(width=16) for p in ("smoke", "quick", "paper")})
'''


def test_table_distils_a_teacher_of_ones_own(tmp_path, monkeypatch):
    """`teacher` and `imports`: Table 1 distils a text-reading teacher of one's own into a student of one's own, in two worker
    processes (which import the file again); the records name the teacher and the code hashes, and no machine path."""
    import papermill as pm
    monkeypatch.setenv("S2KD_CACHE", str(tmp_path/"cache"))
    (tmp_path/"lab").mkdir(); (tmp_path/"lab"/"mylab.py").write_text(LAB)
    pm.execute_notebook(str(REPO/"nbs"/"table1_weather.ipynb"), str(tmp_path/"t1.ipynb"), cwd=str(tmp_path), kernel_name="python3",
                        progress_bar=False, parameters=dict(preset="smoke", device="cpu", threads=2, jobs=2, out_dir=str(tmp_path/"out"),
                                                            seeds=[42], students="labnet,unet", teacher="labseer",
                                                            imports=[str(tmp_path/"lab"/"mylab.py")], overrides={"encoder": "hashing"}))
    p = artefact_paths(tmp_path/"out", "table1_weather")
    runs = json.loads((p["results"]/"runs.json").read_text())
    assert {r["method"]: r["teachers"] for r in runs} == dict(baseline="", kd="labseer", fitnet="labseer", s2kd="labseer"), runs
    assert len(runs) == 8
    assert all(r["student"] in ("labnet", "unet") and not r["reused"] for r in runs)
    got = {(r["model"], r["method"]) for r in _rows(p["csv"])}
    assert {("labseer", "teacher"), ("labnet", "s2kd"), ("labnet", "fitnet")} <= got and ("multimodal", "teacher") not in got, got
    assert ("triton", "teacher") not in got  # the paper's teacher is not trained for nothing
    run = json.loads((p["results"]/"run.json").read_text())
    assert run["teacher"] == "labseer" and run["imports"] == ["lab/mylab.py"], run  # outside out_dir: its last two parts
    assert {"model:labnet", "model:labseer"} <= set(run["own_code"]) and all(len(h) == 16 for h in run["own_code"].values())
    md = p["md"].read_text()
    assert "S²-KD distils labseer (it reads the narratives)" in md and "its own teacher (triton), not labseer" in md, md
    assert "unet + s2kd: S²-KD Table 1 (with its teacher, triton; ours distil labseer) reports" in md, md  # whose numbers they are
    for f in p["results"].rglob("*"):
        if f.is_file(): assert str(tmp_path) not in f.read_text(), f


NARR = '''
from s2kd.narrate.core import NARRATORS, Narrator

class LabTrend(Narrator):
    "Whether the last input frame is stronger than the first (a narrator of one's own, from the inputs only)."
    name = "lab-trend"
    def narrate_one(self, sample, i=0):
        a, b = (sample["x"][0] ** 2).mean(), (sample["x"][-1] ** 2).mean()
        return "The winds strengthen." if b > a else "The winds weaken."

NARRATORS["lab-trend"] = LabTrend
'''


def test_narrator_comparison_takes_a_narrator_of_ones_own(tmp_path, monkeypatch):
    "`imports` in lmm_comparison: a narrator of one's own is a row (its S²-KD run reads its texts), recorded with its code hash."
    import papermill as pm
    monkeypatch.setenv("S2KD_CACHE", str(tmp_path/"cache"))
    (tmp_path/"lab_narr.py").write_text(NARR)
    pm.execute_notebook(str(REPO/"nbs"/"lmm_comparison.ipynb"), str(tmp_path/"lmm.ipynb"), cwd=str(tmp_path), kernel_name="python3",
                        progress_bar=False, parameters=dict(preset="smoke", device="cpu", threads=1, out_dir=str(tmp_path/"out"),
                                                            seeds=[42], datasets="winds", narrators="lab-trend",
                                                            imports=[str(tmp_path/"lab_narr.py")], overrides={"encoder": "hashing"}))
    p = artefact_paths(tmp_path/"out", "lmm_comparison")
    run = json.loads((p["results"]/"run.json").read_text())
    assert run["narrators"] == ["lab-trend"] and run["imports"] == [f"{tmp_path.name}/lab_narr.py"], run
    assert list(run["own_code"]) == ["narrator:lab-trend"] and len(run["own_code"]["narrator:lab-trend"]) == 16
    assert run["narratives"]["winds"]["lab-trend"].startswith("lab-trend-"), run["narratives"]  # its teacher read these texts
    assert any(r["method"] == "lab-trend" for r in _rows(p["csv"])), _rows(p["csv"])
