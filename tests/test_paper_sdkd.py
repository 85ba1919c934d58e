"""The SDKD-tables, LMM-comparison and qualitative paper notebooks (nbs/sdkd_tables.ipynb, nbs/lmm_comparison.ipynb,
nbs/qualitative.ipynb) under papermill at the smoke preset, one thread, into a temporary out_dir and cache: every row
present with finite metrics, the papers' columns, the figures, no machine paths in the results; skipped narrators
reported with their reason; the qualitative students are the S²-KD tables' runs."""
import csv, json, math, os, time
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("HF_HUB_OFFLINE", "1")

from s2kd.paper import DATASETS_DIFFER, artefact_paths

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
ROWS = ["baseline", "single:alternet", "single:simvp", "aver", "aekd:mse", "aekd:ab", "camkd"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    "One fresh cache for the module's notebooks (the kernels inherit S2KD_CACHE)."
    root = tmp_path_factory.mktemp("sdkd")
    mp = pytest.MonkeyPatch(); mp.setenv("S2KD_CACHE", str(root/"cache"))
    yield root/"cache"
    mp.undo()


def execute(name:str, out:Path, **params) -> float:
    "Run nbs/<name>.ipynb with papermill at the smoke preset, one thread, cwd = out; returns (and prints) its wall time."
    import papermill as pm
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    pm.execute_notebook(str(REPO/"nbs"/f"{name}.ipynb"), str(out/f"{name}.out.ipynb"), cwd=str(out), kernel_name="python3",
                        progress_bar=False, parameters=dict(preset="smoke", device="cpu", threads=1, out_dir=".") | params)
    wall = time.time() - t0
    print(f"smoke {name}: {wall:.0f} s (1 thread, shared CPU)")
    return wall


def rows(out:Path, name:str) -> list:
    return list(csv.DictReader(artefact_paths(out, name)["csv"].open()))


def finite(r:dict, *cols) -> bool:
    return all(math.isfinite(float(r[c])) for c in cols)


def check_artefact(out:Path, name:str, root:Path):
    "Figure (png, pdf) and table (md with the verdict) exist; the results carry no machine path and state threads and wall time."
    p = artefact_paths(out, name)
    assert p["png"].read_bytes()[:8] == PNG and p["pdf"].read_bytes()[:4] == b"%PDF"
    assert "**Verdict**" in p["md"].read_text()
    for f in p["results"].rglob("*.json"):
        t = f.read_text()
        assert str(root) not in t and '"/' not in t, f"{f} names a machine path"
    run = json.loads((p["results"]/"run.json").read_text())
    assert run["threads"] == 1 and run["wall_s"] > 0 and run["environment"]["torch"], run
    return run


def test_sdkd_tables_smoke(cache, tmp_path):
    "RBC (`convection`): Tables 5 (U-Net) and 6 (ResNet) beside every row of both students, over two seeds."
    out = tmp_path/"out"
    execute("sdkd_tables", out, datasets="convection")
    check_artefact(out, "sdkd_tables", tmp_path)
    got = {(r["model"], r["method"]): r for r in rows(out, "sdkd_tables")}
    assert {("persistence", "reference"), ("climatology", "reference"), ("alternet", "teacher"), ("simvp", "teacher")} <= set(got)
    for s in ("unet", "resnet"):
        for m in ROWS:
            r = got[(s, m)]
            assert r["n_seeds"] == "2" and finite(r, "mse_mean", "mae_mean", "ssim_mean", "psnr_mean", "skill"), r
            assert m == "baseline" or finite(r, "diff_mean", "diff_sd", "change_pct"), r
    for c in ("paper: MSE", "paper: MAE", "paper: SSIM", "paper: change_pct"): assert c in got[("unet", "baseline")], c
    paper = {k: r["paper: MSE"] for k, r in got.items()}
    assert float(paper[("unet", "baseline")]) == 0.0267 and float(paper[("resnet", "camkd")]) == 0.0331  # exact: transcribed
    assert float(paper[("unet", "aekd:ab")]) == 0.0281 and paper[("unet", "aekd:mse")] == ""  # exact: Table 5 reports AEKD with the AB loss only
    md = artefact_paths(out, "sdkd_tables")["md"].read_text()
    assert DATASETS_DIFFER in md and "unet + aekd:ab" in md and "SDKD Tables 5–6 (RBC)" in md
    # the table's mean is the mean of the runs' own results (float64 through CSV text: 1e-9 relative is generous)
    res = [json.loads(f.read_text()) for f in (out/"results"/"sdkd_tables"/"runs").glob("*/result.json")]
    assert len(res) == 2 * len(ROWS) * 2
    base = [r["metrics"]["student"]["test"]["mse"] for r in res if r["config"]["student"] == "unet" and r["config"]["method"] == "baseline"]
    assert len(base) == 2 and math.isclose(sum(base) / 2, float(got[("unet", "baseline")]["mse_mean"]), rel_tol=1e-9)
    assert len({r["name"] for r in res if r["config"]["run_method"] == "aekd"}) == 2 * 2 * 2  # the AB and MSE runs never share a folder


def test_lmm_comparison_smoke(cache, tmp_path):
    "plume: none and three narrators over two seeds; SmolLM2, without shipped texts for tiny data, reported as skipped."
    out = tmp_path/"out"
    execute("lmm_comparison", out, datasets="plume", overrides={"encoder": "hashing"})
    run = check_artefact(out, "lmm_comparison", tmp_path)
    got = {(r["model"], r["method"]): r for r in rows(out, "lmm_comparison")}
    for n in ("none", "stat-coarse", "stat-rich", "event"):
        r = got[("unet", n)]
        assert r["n_seeds"] == "2" and finite(r, "mse_mean", "mae_mean", "ssim_mean") and not r["skipped"], r
        assert n == "none" or (finite(r, "diff_mean", "change_pct") and finite(got[(f"multimodal[{n}]", "teacher")], "mse_mean"))
    sk = got[("unet", "smollm2")]
    assert sk["n_seeds"] == "0" and sk["mse_mean"] == "" and "no shipped SmolLM2 narratives for plume-tiny-seed0" in sk["skipped"], sk
    assert run["skipped"] == [dict(dataset="plume", narrator="smollm2", reason=sk["skipped"])]
    assert set(run["narratives"]["plume"]) == {"stat-coarse", "stat-rich", "event"}
    md = artefact_paths(out, "lmm_comparison")["md"].read_text()
    assert "Skipped: plume / smollm2" in md and "the largest step is none → any narrator" in md and "paper: Fig. 4" in md
    from s2kd.paper import s2kd_config  # "none" and "stat-rich" are Table 3's baseline and S²-KD runs (one run each, shared)
    ran = {json.loads(f.read_text())["name"] for f in (out/"results"/"lmm_comparison"/"runs").glob("*/result.json")}
    for m in ("baseline", "s2kd"):
        assert s2kd_config("plume", "simvp_deep", "unet", m, 42, preset="smoke", device="cpu", overrides={"encoder": "hashing"}).name in ran, ran


def test_qualitative_smoke(cache, tmp_path):
    "winds (map), traffic and plume: truth, the S²-KD student, the baseline U-Net, persistence, climatology; the tables' runs."
    import s2kd.paper as P
    out = tmp_path/"out"
    execute("qualitative", out, overrides={"encoder": "hashing"})
    run = check_artefact(out, "qualitative", tmp_path)
    got = rows(out, "qualitative")
    assert [(r["dataset"], r["forecast"]) for r in got] == [(d, f) for d in ("winds", "traffic", "plume")
                                                           for f in ("S²-KD student", "baseline U-Net", "persistence", "climatology")]
    for r in got: assert finite(r, "window_mse", "first_lead_mse", "last_lead_mse", "test_mse"), r
    for d in ("winds", "traffic", "plume"):  # two different forecasts, not one field drawn twice
        ref = {r["forecast"]: float(r["window_mse"]) for r in got if r["dataset"] == d}
        assert abs(ref["persistence"] - ref["climatology"]) > 1e-6 * ref["persistence"], (d, ref)
    teacher = {"winds": "triton", "traffic": "earthfarseer", "plume": "simvp_deep"}
    for d, names in run["runs"].items():  # the S²-KD tables' runs, by their runner's names
        for m in ("baseline", "s2kd"):
            want = P.s2kd_config(d, teacher[d], "unet", m, 42, preset="smoke", device="cpu", overrides={"encoder": "hashing"}).name
            assert names[m] == want, (d, m, names[m], want)
    assert run["coastlines"] in ("GSHHS", "Natural Earth", "none") and run["windows"]["winds"] >= 0
    assert "Coastlines:" in artefact_paths(out, "qualitative")["md"].read_text()


def test_sdkd_tables_reads_a_user_file(cache, tmp_path):
    "`data_dir` holding navier_stokes.nc: that file is RunConfig.dataset for every run, named (never by path) in the results."
    from s2kd.data.embedded import load_dataset
    (tmp_path/"mine").mkdir()
    load_dataset("navier_stokes", size="tiny").to_netcdf(tmp_path/"mine"/"navier_stokes.nc")
    out = tmp_path/"out"
    execute("sdkd_tables", out, datasets="navier_stokes", students="unet", data_dir=str(tmp_path/"mine"))
    run = check_artefact(out, "sdkd_tables", tmp_path)
    assert run["data"] == {"navier_stokes": "navier_stokes.nc"} and run["data_dir"] == "mine"
    got = {(r["model"], r["method"]): r for r in rows(out, "sdkd_tables")}
    assert all(finite(got[("unet", m)], "mse_mean") for m in ROWS)
    assert "(source: navier_stokes.nc)" in artefact_paths(out, "sdkd_tables")["md"].read_text()
    names = [p.name for p in (out/"results"/"sdkd_tables"/"runs").iterdir()]
    assert len(names) == len(ROWS) * 2 and all(n.startswith("navier_stokes.nc-tiny_") for n in names), names  # its name, not its path
