"""The paper notebooks (nbs/spectral.ipynb, nbs/efficiency.ipynb) through the runner (`s2kd reproduce`, run once per
session at the smoke preset by tests/conftest.py): artefacts written under out_dir only, without machine paths; unchanged inputs skipped; a failing
notebook named with its cell, the last good figure and results kept."""
import json, os, time
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("HF_HUB_OFFLINE", "1")

from s2kd.paper import ARTEFACTS, NotebookFailed, artefact_paths, find_notebook, reproduce_notebooks, run_artefact
from s2kd.reproduce import cli_reproduce

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def smoke(smoke_job):
    "The session's `s2kd reproduce --preset smoke` (tests/conftest.py): every notebook into a fresh out_dir and cache."
    root, rc, ms, wall, text = smoke_job
    ms = [m for m in ms if m["artefact"] in ("spectral", "efficiency")]
    for m in ms: print(f"smoke {m['artefact']}: {m.get('wall_s')} s (threads {m.get('threads')}, shared CPU)")
    return root, ms


def test_notebooks_are_artefacts():
    for name in ("spectral", "efficiency"):
        assert name in ARTEFACTS and find_notebook(name).name == f"{name}.ipynb"


def test_smoke_writes_every_artefact_file(smoke):
    root, ms = smoke
    assert [m["status"] for m in ms] == ["ok", "ok"], ms
    for name in ("spectral", "efficiency"):
        p = artefact_paths(root/"out", name)
        assert p["png"].read_bytes()[:8] == PNG and p["pdf"].read_bytes()[:4] == b"%PDF"
        md, csv = p["md"].read_text(), p["csv"].read_text()
        assert "**Verdict**" in md and "datasets" in md and csv.count("\n") >= 3, md
        mf = json.loads((p["results"]/"manifest.json").read_text())
        assert mf["status"] == "ok" and mf["preset"] == "smoke" and mf["inputs"]["data"].startswith("embedded:")  # the bytes of the tiny datasets it read
        assert not list((root/"out").glob(".stage-*")), "the staging folder was left behind"
        for f in p["results"].rglob("*.json"):  # results carry no machine paths
            assert str(root) not in f.read_text() and '"/' not in f.read_text(), f
    spec = artefact_paths(root/"out", "spectral")
    assert {"baseline", "sdkd", "teacher"} <= set(l.split(",")[1] for l in spec["csv"].read_text().splitlines()[1:])
    gallery = (root/"out"/"figures"/"README.md").read_text()
    assert "![spectral](spectral.png)" in gallery and "--only efficiency --preset smoke" in gallery, gallery
    eff = artefact_paths(root/"out", "efficiency")["csv"].read_text()
    assert "paper: latency (ms, GPU)" in eff and "navier_stokes,unet,student" in eff


def test_unchanged_inputs_are_skipped(smoke, monkeypatch):
    root, ms = smoke
    monkeypatch.setenv("S2KD_CACHE", str(root/"cache"))  # the smoke job's cache: its manifests name it (cache_id)
    png = artefact_paths(root/"out", "efficiency")["png"]; before = png.stat().st_mtime_ns
    again = reproduce_notebooks(["spectral", "efficiency"], preset="smoke", out_dir=root/"out", device="cpu", progress=False)
    assert [m["status"] for m in again] == ["skipped", "skipped"], again
    assert [m["key"] for m in again] == [m["key"] for m in ms]
    assert png.stat().st_mtime_ns == before


def test_failing_notebook_keeps_last_good_artefact(smoke, tmp_path, monkeypatch):
    "A notebook that writes a broken figure into its out_dir and then fails: named with its cell; nothing replaced."
    import nbformat
    root, _ = smoke
    monkeypatch.setenv("S2KD_CACHE", str(root/"cache"))
    p = artefact_paths(root/"out", "efficiency")
    good_png, good_mf = p["png"].read_bytes(), (p["results"]/"manifest.json").read_text()
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    par = nbformat.v4.new_code_cell('preset: str = "quick"  # smoke | quick | paper\nout_dir: str = "."  # where artefacts go'); par.metadata["tags"] = ["parameters"]
    nb.cells = [par, nbformat.v4.new_code_cell(
        "from pathlib import Path\n(Path(out_dir)/'figures').mkdir(exist_ok=True)\n"
        "(Path(out_dir)/'figures'/'efficiency.png').write_bytes(b'half-written')"),
        nbformat.v4.new_code_cell("raise RuntimeError('boom in the render cell')")]
    bad = tmp_path/"efficiency.ipynb"; nbformat.write(nb, bad)
    with pytest.raises(NotebookFailed) as e:
        run_artefact("efficiency", preset="smoke", out_dir=root/"out", device="cpu", notebook=bad)
    msg = str(e.value)
    assert "efficiency: notebook efficiency.ipynb failed in cell" in msg and "boom in the render cell" in msg, msg
    assert p["png"].read_bytes() == good_png and (p["results"]/"manifest.json").read_text() == good_mf
    ms = reproduce_notebooks(["efficiency"], preset="smoke", out_dir=root/"out", device="cpu", progress=False)
    assert ms[0]["status"] == "skipped"  # the real notebook's last good run still stands


def test_cli_reports_each_artefact(smoke, capsys, monkeypatch):
    "`s2kd reproduce --no-data --only ...`: the summary table has a row per artefact, exit 0; unchanged inputs: skipped."
    root, _ = smoke
    monkeypatch.setenv("S2KD_CACHE", str(root/"cache"))  # restored after the test (--cache sets it for the process)
    rc = cli_reproduce(["--preset", "smoke", "--only", "spectral", "efficiency", "--no-data", "--out", str(root/"out"),
                        "--cache", str(root/"cache"), "--device", "cpu", "--quiet"])
    out = capsys.readouterr().out.splitlines()
    rows = [l.split()[:2] for l in out if l.split()[:1] in (["spectral"], ["efficiency"])]
    assert rc == 0 and rows == [["spectral", "skipped"], ["efficiency", "skipped"]], out


def test_unknown_artefact_is_named(tmp_path):
    with pytest.raises(KeyError, match="table9"):  # s2kd.core.UnknownNameError
        reproduce_notebooks(["table9"], preset="smoke", out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="fast"):
        reproduce_notebooks(["spectral"], preset="fast", out_dir=tmp_path, progress=False)


def test_spectral_reads_a_user_file(tmp_path, monkeypatch):
    "`data_dir` with an FNO-format .mat file (v7.3): the spectral notebook trains on it; the key records its fingerprint only."
    import numpy as np
    from s2kd.data.loaders import write_mat_v73
    monkeypatch.setenv("S2KD_CACHE", str(tmp_path/"cache"))
    (tmp_path/"ns").mkdir()
    u = np.random.default_rng(0).standard_normal((6, 16, 16, 24)).astype("float32")  # (N, H, W, T) as FNO stores it
    write_mat_v73(tmp_path/"ns"/"ns_tiny.mat", u=u)
    m = run_artefact("spectral", preset="smoke", out_dir=tmp_path/"out", data_dir=tmp_path/"ns", device="cpu", seeds=[42])
    assert m["status"] == "ok" and m["inputs"]["data"].startswith("files:") and str(tmp_path) not in json.dumps(m)
    p = artefact_paths(tmp_path/"out", "spectral")
    assert "NSE from ns_tiny.mat" in p["md"].read_text() and p["png"].read_bytes()[:8] == PNG
    run = json.loads((p["results"]/"run.json").read_text())
    assert run["data_dir"] == "ns" and run["seeds"] == [42]


def test_results_from_another_cache_are_regenerated(smoke, tmp_path, monkeypatch):
    "A fresh clone: results whose manifest names another cache (the committed ones) are regenerated, not skipped; then skipped."
    import shutil
    root, _ = smoke
    out = tmp_path/"out"; shutil.copytree(root/"out", out)
    monkeypatch.setenv("S2KD_CACHE", str(tmp_path/"fresh-cache"))
    first = reproduce_notebooks(["efficiency"], preset="smoke", out_dir=out, device="cpu", progress=False)
    again = reproduce_notebooks(["efficiency"], preset="smoke", out_dir=out, device="cpu", progress=False)
    assert [first[0]["status"], again[0]["status"]] == ["ok", "skipped"], (first, again)
    assert first[0]["cache_id"] != json.loads((artefact_paths(root/"out", "efficiency")["results"]/"manifest.json").read_text())["cache_id"]
