"""`s2kd reproduce`, the main job: the runner on tiny fake notebooks (unchanged artefacts skipped, a failing notebook keeps
the last good figure and is named with its cell, --only validated, --jobs 2 runs two notebooks at once, a notebook edited
while it runs is run again), student runs
shared between notebooks (a finished run is resumed, not retrained; a run being trained is put off, then waited for; a
notebook left alone gets the freed threads), and the whole
job at the smoke preset over every notebook that exists (what CI runs; ≤ 5 minutes on 2 cores)."""
import json, os, threading, time
from pathlib import Path

import nbformat
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("HF_HUB_OFFLINE", "1")

from s2kd.cli import main
from s2kd.paper import ARTEFACTS, artefact_paths, check_artefacts, find_notebook, reproduce_notebooks
from s2kd.reproduce import cli_reproduce

PNG = b"\x89PNG\r\n\x1a\n"
PARAMS = 'preset: str = "quick"  # smoke | quick | paper\nseeds: list = []  # student seeds\nout_dir: str = "."  # where artefacts go'


def fake(folder: Path, name: str, *cells: str) -> Path:
    "A paper-shaped notebook `<folder>/<name>.ipynb`: a parameters cell, then `cells`."
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    p = nbformat.v4.new_code_cell(PARAMS); p.metadata["tags"] = ["parameters"]
    nb.cells = [p] + [nbformat.v4.new_code_cell(c) for c in cells]
    for i, c in enumerate(nb.cells): c.id = f"cell{i}"  # not random: the same cells, the same file (the artefact key hashes it)
    folder.mkdir(parents=True, exist_ok=True); nbformat.write(nb, folder/f"{name}.ipynb"); return folder/f"{name}.ipynb"


def writes(name: str, payload: str = "v1") -> str:
    "A cell that writes the artefact's figure and results as a finished notebook does."
    return (f"import json, os\nfrom pathlib import Path\nfrom s2kd.paper import artefact_paths\np = artefact_paths(out_dir, {name!r})\n"
            f"p['png'].parent.mkdir(parents=True, exist_ok=True); p['png'].write_bytes({PNG!r} + {payload!r}.encode())\n"
            f"p['results'].mkdir(parents=True, exist_ok=True)\n"
            f"(p['results']/'run.json').write_text(json.dumps(dict(preset=preset, seeds=seeds, omp=os.environ.get('OMP_NUM_THREADS'),\n"
            f"                                                   overrides=globals().get('overrides'))))")


def test_unchanged_artefacts_are_skipped(tmp_path):
    nbs, out = tmp_path/"nbs", tmp_path/"out"
    fake(nbs, "skill", writes("skill"))
    first = reproduce_notebooks(preset="smoke", out_dir=out, nbs_dir=nbs, progress=False, jobs=1, threads=1)
    assert [(m["artefact"], m["status"]) for m in first] == [("skill", "ok")], first
    png = artefact_paths(out, "skill")["png"]; before = png.stat().st_mtime_ns
    again = reproduce_notebooks(preset="smoke", out_dir=out, nbs_dir=nbs, progress=False, threads=4)  # threads: not an input
    assert again[0]["status"] == "skipped" and again[0]["key"] == first[0]["key"] and png.stat().st_mtime_ns == before
    assert reproduce_notebooks(preset="quick", out_dir=out, nbs_dir=nbs, progress=False)[0]["status"] == "ok"  # a parameter
    fake(nbs, "skill", writes("skill", "v2"))                                                                    # the notebook
    assert reproduce_notebooks(preset="quick", out_dir=out, nbs_dir=nbs, progress=False)[0]["status"] == "ok"
    assert png.read_bytes().endswith(b"v2")
    run = json.loads((artefact_paths(out, "skill")["results"]/"run.json").read_text())
    assert run["preset"] == "quick" and run["seeds"] == [42, 43, 44]  # the preset's seeds, passed as the list it declares
    assert (out/"executed"/"skill-quick.ipynb").exists() and (out/"executed"/".gitignore").read_text().strip().endswith("*")
    assert not list(out.glob(".stage-*")), "a staging folder was left behind"
    assert "![skill](skill.png)" in (out/"figures"/"README.md").read_text()


def test_failing_notebook_keeps_last_good_figure_and_names_the_cell(tmp_path, capsys):
    nbs, out = tmp_path/"nbs", tmp_path/"out"
    fake(nbs, "efficiency", writes("efficiency"))
    assert cli_reproduce(["--preset", "smoke", "--no-data", "--notebooks", str(nbs), "--out", str(out), "--quiet"]) == 0
    p = artefact_paths(out, "efficiency"); good_png, good_mf = p["png"].read_bytes(), (p["results"]/"manifest.json").read_text()
    fake(nbs, "efficiency", writes("efficiency", "half-written"), "x = 1", "raise RuntimeError('boom in the render cell')")
    capsys.readouterr()
    rc = cli_reproduce(["--preset", "smoke", "--no-data", "--notebooks", str(nbs), "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert rc == 1
    # the 4th cell of the notebook as written (papermill's own index, 4, counts the cell it injects after `parameters`)
    assert "FAILED efficiency: notebook efficiency.ipynb failed in cell 4 (execution count" in text and "boom in the render cell" in text, text
    assert "raise RuntimeError('boom in the render cell')" in text, text                    # the cell's first line
    row = next(l for l in text.splitlines() if l.startswith("efficiency "))                  # the summary table's row
    assert row.split()[1] == "failed" and "failed in cell 4" in row, text
    assert p["png"].read_bytes() == good_png and (p["results"]/"manifest.json").read_text() == good_mf
    assert (out/"executed"/"efficiency-smoke.ipynb").exists()                                  # the executed copy, to look at
    fake(nbs, "efficiency", writes("efficiency"))                                                # fixed again: unchanged inputs
    assert reproduce_notebooks(["efficiency"], preset="smoke", out_dir=out, nbs_dir=nbs, progress=False)[0]["status"] == "skipped"


def test_only_validates_names(tmp_path, capsys):
    assert main(["reproduce", "--only", "tabel1_weather", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "s2kd reproduce: error: unknown artefact(s) ['tabel1_weather']" in err and "table1_weather" in err, err
    assert list(tmp_path.iterdir()) == []                                                        # nothing ran
    fake(tmp_path/"nbs", "spectral", writes("spectral"))
    with pytest.raises(FileNotFoundError, match=r"no notebook for \['ablation'\]"):
        check_artefacts(["spectral", "ablation"], tmp_path/"nbs")
    assert check_artefacts(["spectral"], tmp_path/"nbs") == ["spectral"] and ARTEFACTS[0] == "skill"
    with pytest.raises(ValueError, match="fast"):
        reproduce_notebooks(["spectral"], preset="fast", out_dir=tmp_path, nbs_dir=tmp_path/"nbs", progress=False)


def test_jobs_2_runs_two_notebooks_at_once(tmp_path):
    "Each notebook marks that it started, then waits for the other's mark: only concurrent runs can both finish."
    nbs, out, marks = tmp_path/"nbs", tmp_path/"out", tmp_path/"marks"
    marks.mkdir()
    for me, other in (("spectral", "efficiency"), ("efficiency", "spectral")):
        fake(nbs, me, f"import time\nfrom pathlib import Path\nPath({str(marks/me)!r}).touch()\nt0 = time.time()\n"
                      f"while not Path({str(marks/other)!r}).exists():\n"
                      f"    assert time.time() - t0 < 120, 'the other notebook never started: not run concurrently'\n"
                      f"    time.sleep(0.1)", writes(me))
    ms = reproduce_notebooks(preset="smoke", out_dir=out, nbs_dir=nbs, jobs=2, threads=4, progress=False)
    assert [(m["artefact"], m["status"]) for m in ms] == [("spectral", "ok"), ("efficiency", "ok")], [m.get("error") for m in ms]
    for n in ("spectral", "efficiency"):  # 4 threads shared by 2 notebooks: 2 each
        assert json.loads((artefact_paths(out, n)["results"]/"run.json").read_text())["omp"] == "2"
        assert artefact_paths(out, n)["png"].read_bytes()[:8] == PNG


def test_progress_names_the_running_notebook(tmp_path):
    import io
    fake(tmp_path/"nbs", "skill", "import time; time.sleep(3)", writes("skill"))
    buf = io.StringIO()
    ms = reproduce_notebooks(preset="smoke", out_dir=tmp_path/"out", nbs_dir=tmp_path/"nbs", progress=True, stream=buf)
    text = buf.getvalue()
    assert ms[0]["status"] == "ok" and "start skill" in text and "skill: ok in" in text and "1/1 done (1 ok" in text, text


def test_dry_run_passes_max_steps(tmp_path):
    "`--dry-run`: the notebooks get overrides={'max_steps': 1} (one optimisation step per run), a key of its own."
    nbs, out = tmp_path/"nbs", tmp_path/"out"
    nb = fake(nbs, "table3_ood", writes("table3_ood"))
    nb.write_text(nb.read_text().replace("# where artefacts go", "# where artefacts go\\noverrides: dict = {}  # RunConfig fields"))
    assert cli_reproduce(["--preset", "paper", "--dry-run", "--no-data", "--notebooks", str(nbs), "--out", str(out), "--quiet"]) == 0
    run = json.loads((artefact_paths(out, "table3_ood")["results"]/"run.json").read_text())
    assert run["preset"] == "paper" and run["overrides"] == {"max_steps": 1}, run


# --- student runs shared between notebooks ---------------------------------------------------------------------------

def _toy_cfg(tmp_path, **kw):
    from s2kd.train.config import RunConfig
    return RunConfig(**dict(dataset="memory:toy", epochs=3, batch_size=8, cache_dir=str(tmp_path/"cache"), results_dir=str(tmp_path/"res"),
                            device="cpu", name="shared/unet-s42") | kw)


def test_completed_run_is_not_retrained(tmp_path):
    "run(cfg) again, as a second notebook does: resumed from last.pt, no optimiser step, the same weights and metrics."
    from s2kd.data.core import toy_dataset
    from s2kd.train.experiment import run
    ds = toy_dataset(n_member=3, n_time=24, h=8, w=8)
    for cfg in (_toy_cfg(tmp_path), _toy_cfg(tmp_path/"early", lr=1e-12, patience=1, epochs=50)):  # all epochs / stopped early
        r1 = run(cfg, data=ds)
        last = Path(r1["checkpoints"])/"last.pt"; mtime = last.stat().st_mtime_ns
        r2 = run(cfg.replace(results_dir=str(tmp_path/"other")), data=ds)  # another notebook's results folder: output only
        assert last.stat().st_mtime_ns == mtime, "last.pt rewritten: the finished run was trained again"
        assert r2["fit"]["history"] == r1["fit"]["history"] and r2["fit"]["epochs_run"] == r1["fit"]["epochs_run"]
        # exact: the same best.pt evaluated on the same data by the same CPU kernels
        assert r2["metrics"]["student"]["test"]["mse"] == r1["metrics"]["student"]["test"]["mse"]
    assert r1["fit"]["stopped_early"] and r1["fit"]["epochs_run"] == 2  # lr 1e-12: no improvement after epoch 0, patience 1


def test_a_run_being_trained_is_waited_for(tmp_path, capfd):
    "While another process holds the run's lock, run(cfg) waits (and says so); then it trains once the lock is free."
    from s2kd.core import cache_dir, file_lock
    from s2kd.data.core import toy_dataset
    from s2kd.train.experiment import run
    cfg = _toy_cfg(tmp_path); ck = cache_dir(cfg.cache_dir, "runs", cfg.run_name)
    res = {}
    with file_lock(f"{ck}.lock"):
        t = threading.Thread(target=lambda: res.update(r=run(cfg, data=toy_dataset(n_member=3, n_time=24, h=8, w=8))))
        t.start(); t0 = time.time()
        while "waiting for another process building run shared/unet-s42" not in capfd.readouterr().err:
            assert time.time() - t0 < 120 and t.is_alive(), "run() did not wait for the lock"
            time.sleep(0.2)
        assert not (ck/"last.pt").exists()  # nothing trained while the lock is held
    t.join(300)
    assert res["r"]["fit"]["epochs_run"] == 3 and (ck/"last.pt").exists()



def test_a_busy_run_is_put_off_not_waited_for(cache, tmp_path):
    "s2kd_table_runs trains the runs nobody else holds first; a run another process holds is done last (waited for only then)."
    from s2kd.core import cache_dir, file_lock
    from s2kd.data.embedded import load_dataset
    from s2kd.paper import s2kd_config, s2kd_table_runs
    f = tmp_path/"navier_stokes.nc"; load_dataset("navier_stokes", size="tiny").to_netcdf(f)
    kw, logs, res = dict(preset="smoke", device="cpu"), [], {}
    held = cache_dir(None, "runs", s2kd_config(str(f), "alternet", "unet", "baseline", 42, **kw).name)
    mine = cache_dir(None, "runs", s2kd_config(str(f), "alternet", "unet", "baseline", 43, **kw).name)
    with file_lock(f"{held}.lock"):  # "another notebook" is training the seed-42 run
        t = threading.Thread(target=lambda: res.update(r=s2kd_table_runs(str(f), "alternet", seeds=[42, 43], students=("unet",),
                                                                          methods=("baseline",), log=logs.append, **kw)))
        t.start(); t0 = time.time()
        while not (mine/"last.pt").exists():
            assert time.time() - t0 < 300 and t.is_alive(), f"the free run was not trained while the other was held: {logs}"
            time.sleep(0.2)
        assert not (held/"last.pt").exists() and any("deferred" in l and held.name in l for l in logs), logs
    t.join(300)
    assert [r["config"]["seed"] for r in res["r"]] == [42, 43] and (held/"last.pt").exists()  # results in the asked order


def test_a_notebook_left_alone_gets_the_freed_threads(tmp_path):
    "--jobs 2 --threads 2: one thread each while both run; the one still running then follows its share up to 2."
    nbs, out = tmp_path/"nbs", tmp_path/"out"
    fake(nbs, "spectral", writes("spectral"))
    fake(nbs, "efficiency", "import time, torch\nfrom s2kd.core import follow_thread_share\nt0 = time.time()\n"
                            "while follow_thread_share() != 2:\n"
                            "    assert time.time() - t0 < 120, 'never given the finished notebook\\'s thread'\n"
                            "    time.sleep(0.1)\n"
                            "assert torch.get_num_threads() == 2", writes("efficiency"))
    ms = reproduce_notebooks(preset="smoke", out_dir=out, nbs_dir=nbs, jobs=2, threads=2, progress=False)
    assert [m["status"] for m in ms] == ["ok", "ok"], [m.get("error") for m in ms]
    m = json.loads((artefact_paths(out, "efficiency")["results"]/"manifest.json").read_text())
    assert (m["threads"], m["threads_up_to"]) == (1, 2), m
    assert not list((out/"executed").glob("*.threads"))  # the share files go when their notebooks finish

# --- the whole job at the smoke preset: every notebook that exists (CI) -------------------------------------------------

def test_smoke_job_every_notebook(smoke_job):
    "`s2kd reproduce --preset smoke` over every notebook in nbs/ into a tmp out dir with a tmp cache: all ok."
    root, rc, ms, wall, text = smoke_job
    names = [a for a in ARTEFACTS if find_notebook(a) is not None]
    assert rc == 0 and [m["artefact"] for m in ms] == names, text
    for n in ("navier_stokes", "winds"):
        assert (root/"out"/"figures"/f"data_{n}.png").read_bytes()[:8] == PNG  # the data step ran first
    gallery = (root/"out"/"figures"/"README.md").read_text()
    assert all(f"--only {a} --preset smoke" in gallery for a in names if artefact_paths(root/"out", a)["png"].exists()), gallery
    print(f"smoke job, {len(names)} notebooks ({', '.join(names)}): {wall:.0f} s")


def test_notebook_edited_while_it_runs_is_run_again(tmp_path):
    "The key a finished run records is the notebook and package it ran, not what they became while it ran."
    nbs, out = tmp_path/"nbs", tmp_path/"out"
    path = nbs/"efficiency.ipynb"
    edit = (f"import nbformat\nnb = nbformat.read({str(path)!r}, as_version=4)\n"  # the user saves an edit mid-run
            f"nb.cells.append(nbformat.v4.new_code_cell('x = 2')); nb.cells[-1].id = 'edited'\nnbformat.write(nb, {str(path)!r})")
    fake(nbs, "efficiency", writes("efficiency"), edit)
    first = reproduce_notebooks(["efficiency"], preset="smoke", out_dir=out, nbs_dir=nbs, progress=False, jobs=1, threads=1)
    assert first[0]["status"] == "ok" and "x = 2" in path.read_text()
    again = reproduce_notebooks(["efficiency"], preset="smoke", out_dir=out, nbs_dir=nbs, progress=False, jobs=1, threads=1)
    assert again[0]["status"] == "ok", "results of the notebook as it was were kept as the edited notebook's"
    assert again[0]["key"] != first[0]["key"]


def test_a_relative_cache_is_the_callers(tmp_path, monkeypatch):
    "A relative S2KD_CACHE reaches the kernels (which run in stage folders) as the caller's folder, and is put back after."
    import s2kd.reproduce as R
    seen = []
    monkeypatch.setattr(R, "_job", lambda a, names, datasets: (seen.append(os.environ.get("S2KD_CACHE")), ([], []))[1])
    monkeypatch.chdir(tmp_path); monkeypatch.setenv("S2KD_CACHE", "rel-cache")
    assert cli_reproduce(["--no-notebooks", "--out", str(tmp_path)]) == 0
    assert seen == [str((tmp_path/"rel-cache").resolve())] and os.environ["S2KD_CACHE"] == "rel-cache"  # before: "rel-cache", read from the stage
