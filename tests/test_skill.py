"""nbs/skill.ipynb runs under papermill at the smoke preset into a temporary folder: the gate table, the results and the
figures land under `out_dir`, every model and reference is scored, and skill is `1 − MSE/MSE_ref` of the best reference."""
import csv, json, math, os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


def test_skill_notebook_smoke(tmp_path):
    import papermill as pm
    params = dict(preset="smoke", datasets="plume,traffic", teachers="plume:simvp_deep,traffic:alternet", students="unet,mixer",
                  seeds="0,1", multimodal=True, teacher_seed_check="plume", device="cpu", threads=1, encoder="hashing",
                  out_dir=str(tmp_path/"out"), cache_dir=str(tmp_path/"cache"))
    pm.execute_notebook(str(REPO/"nbs"/"skill.ipynb"), str(tmp_path/"skill.ipynb"), parameters=params,
                        cwd=str(tmp_path), kernel_name="python3", progress_bar=False)
    out = tmp_path/"out"/"results"/"skill-smoke"
    rows = list(csv.DictReader((out/"table.csv").open()))
    refs = {"ref:persistence", "ref:climatology", "ref:damped_persistence"}
    for d, teacher in (("plume", "simvp_deep"), ("traffic", "alternet")):
        got = {r["model"]: r for r in rows if r["dataset"] == d}
        assert set(got) == refs | {f"teacher:{teacher}", "teacher:multimodal", "unet", "mixer"}, set(got)
        best = got["unet"]["best_reference"]; ref_mse = float(got[best]["test_mse"])
        for r in got.values():
            assert math.isfinite(float(r["test_mse"])), r
            # skill is recomputed from the table's own numbers (both float64 -> str round trips; 1e-9 is generous)
            assert math.isclose(float(r["skill"]), 1 - float(r["test_mse"]) / ref_mse, rel_tol=1e-9, abs_tol=1e-9), r
        assert int(got["unet"]["runs"]) == 2 and int(got[f"teacher:{teacher}"]["runs"]) == (2 if d == "plume" else 1)
    res = json.loads((out/"result.json").read_text())
    assert res["preset"] == "smoke" and res["seeds"] == [0, 1] and len(res["teacher_seed_check"]["plume teacher:simvp_deep"]) == 2
    assert str(tmp_path) not in (out/"result.json").read_text(), "results must not name machine paths"
    gates = list(csv.DictReader((out/"gates.csv").open()))
    assert len(gates) == 2 * (2 + 2 + 1) and all(g["pass"] in ("True", "False") for g in gates)
    for f in ("skill-smoke.png", "skill_forecasts-smoke.png"):
        assert (tmp_path/"out"/"figures"/f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f
    assert not (REPO/"results"/"skill-smoke").exists(), "the smoke run wrote into the repository"
