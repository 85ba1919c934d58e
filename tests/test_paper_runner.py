"""The runner's record of what a paper notebook put in place (`s2kd.paper.run_artefact`), on tiny fake notebooks: a
deleted or edited output is made again, not skipped."""
import json, os
from pathlib import Path

import nbformat

os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("HF_HUB_OFFLINE", "1")

from s2kd.paper import artefact_paths, run_artefact

PARAMS = 'preset: str = "quick"  # smoke | quick | paper\nseeds: list = []  # student seeds\nout_dir: str = "."  # where artefacts go'


def fake(folder: Path, name: str, cell: str) -> Path:
    "A paper-shaped notebook `<folder>/<name>.ipynb`: a parameters cell, then `cell`."
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    p = nbformat.v4.new_code_cell(PARAMS); p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(cell)]
    for i, c in enumerate(nb.cells): c.id = f"cell{i}"
    folder.mkdir(parents=True, exist_ok=True); nbformat.write(nb, folder/f"{name}.ipynb"); return folder/f"{name}.ipynb"


WRITES = ("from pathlib import Path\nfrom s2kd.paper import artefact_paths\np = artefact_paths(out_dir, 'efficiency')\n"
          "p['png'].parent.mkdir(parents=True, exist_ok=True); p['png'].write_bytes(b'png ' + preset.encode())\n"
          "p['results'].mkdir(parents=True, exist_ok=True); (p['results']/'run.json').write_text(preset)")


def test_missing_or_changed_output_reruns(cache, tmp_path):
    nbs, out = tmp_path/"nbs", tmp_path/"out"; fake(nbs, "efficiency", WRITES)
    run = lambda: run_artefact("efficiency", preset="smoke", out_dir=out, nbs_dir=nbs, device="cpu")["status"]
    p = artefact_paths(out, "efficiency")
    assert run() == "ok"
    m = json.loads((p["results"]/"manifest.json").read_text())
    assert sorted(m["files"]) == ["figures/efficiency.png", "results/efficiency/run.json"], m["files"]  # relative, no manifest
    assert run() == "skipped"
    p["png"].unlink()                                  # deleted by hand: made again
    assert run() == "ok" and p["png"].read_bytes() == b"png smoke"
    (p["results"]/"run.json").write_text("edited")     # changed by hand: made again
    assert run() == "ok" and (p["results"]/"run.json").read_text() == "smoke"
    assert run() == "skipped"
    m.pop("files"); (p["results"]/"manifest.json").write_text(json.dumps(m))  # a manifest from before the list: run again
    assert run() == "ok"


SKILL = ("from pathlib import Path\nsuffix = '' if preset == 'quick' else f'-{preset}'  # as nbs/skill.ipynb names its outputs\n"
         "r = Path(out_dir)/'results'/f'skill{suffix}'; r.mkdir(parents=True, exist_ok=True); (r/'result.json').write_text('{}')\n"
         "f = Path(out_dir)/'figures'; f.mkdir(parents=True, exist_ok=True); (f/f'skill{suffix}.png').write_text(preset)")


def test_each_preset_has_its_own_record(cache, tmp_path):
    "skill writes results/skill-<preset>/ beside results/skill/: a quick render after a smoke one is skipped, and described."
    nbs, out = tmp_path/"nbs", tmp_path/"out"; fake(nbs, "skill", SKILL)
    run = lambda preset: run_artefact("skill", preset=preset, out_dir=out, nbs_dir=nbs, device="cpu")["status"]
    assert [run("quick"), run("smoke"), run("quick"), run("smoke")] == ["ok", "ok", "skipped", "skipped"]
    from s2kd.paper import artefact_manifests, write_gallery
    for d, pre in (("skill", "quick"), ("skill-smoke", "smoke")):  # each manifest beside the outputs it lists
        m = json.loads((out/"results"/d/"manifest.json").read_text())
        assert m["preset"] == pre and sorted(m["files"]) == [f"figures/{d}.png", f"results/{d}/result.json"], m
    assert sorted(m["preset"] for m in artefact_manifests(out, "skill")) == ["quick", "smoke"]
    g = write_gallery(out).read_text()
    assert "--only skill --preset quick" in g and "--preset smoke" not in g, g  # skill.png is the quick run's


def test_killed_runs_staging_folders_are_swept(cache, tmp_path):
    "A run killed mid-notebook leaves its staging folder: the next run removes it, not those of processes still alive."
    import subprocess, sys
    from s2kd.core import _host
    nbs, out = tmp_path/"nbs", tmp_path/"out"; fake(nbs, "efficiency", WRITES)
    dead = subprocess.Popen([sys.executable, "-c", "pass"]); dead.wait()           # a process that has ended
    gone = [f".stage-efficiency.s2kd-{_host()}-{dead.pid}-abc.tmp", f".stage-efficiency-{dead.pid}"]  # as named now; before
    kept = [f".stage-efficiency.s2kd-{_host()}-{os.getppid()}-abc.tmp", f".stage-efficiency.s2kd-otherhost-{dead.pid}-abc.tmp"]
    for n in gone + kept: (out/n/"figures").mkdir(parents=True)
    assert run_artefact("efficiency", preset="smoke", out_dir=out, nbs_dir=nbs, device="cpu")["status"] == "ok"
    assert sorted(p.name for p in out.glob(".stage-*")) == sorted(kept)              # its own staging folder gone too


def test_results_set_aside_by_a_killed_run_are_put_back(cache, tmp_path):
    "Killed between `_promote`'s two renames, a run leaves results/<name> missing and its last good copy aside: the next run puts it back."
    import subprocess, sys, warnings
    from s2kd.core import _host
    from s2kd.paper import NotebookFailed
    nbs, out = tmp_path/"nbs", tmp_path/"out"; fake(nbs, "efficiency", "raise ValueError('broken')")
    dead = subprocess.Popen([sys.executable, "-c", "pass"]); dead.wait()
    res = out/"results"
    aside = lambda name, pid, host=_host(): res/f".{name}.old-{host}-{pid}"
    for p, text in [(aside("efficiency", dead.pid), "last good"),          # the swap was cut: put back
                    (aside("spectral", dead.pid), "older"), (res/"spectral", "newer"),  # the swap was done: drop the copy
                    (aside("qualitative", os.getppid()), "mid-swap"),      # a live process: leave it alone
                    (aside("ablation", dead.pid, "otherhost"), "remote"),  # another host's process: not ours to judge
                    (res/f".skill.old-{dead.pid}", "no host")]:            # named before hosts were: the pid decides
        p.mkdir(parents=True); (p/"run.json").write_text(text)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try: run_artefact("efficiency", preset="smoke", out_dir=out, nbs_dir=nbs, device="cpu"); raise AssertionError("ran")
        except NotebookFailed: pass                                     # the failed run leaves the last good results too
    assert (res/"efficiency"/"run.json").read_text() == "last good" and (res/"skill"/"run.json").read_text() == "no host"
    assert (res/"spectral"/"run.json").read_text() == "newer"
    assert sorted(p.name for p in res.glob(".*")) == sorted([aside("qualitative", os.getppid()).name,
                                                             aside("ablation", dead.pid, "otherhost").name])
    assert any("put back the last good results" in str(x.message) for x in w)



READS = WRITES + ("\nimport json\nfrom s2kd.core import cache_dir\nfrom s2kd.paper import note_read\n"
                  "f = cache_dir()/'results'/'r1'/'result.json'; note_read(f, json.loads(f.read_text())['fit']['weights'])")


def test_a_shared_run_retrained_since_reruns_the_artefact(cache, tmp_path, monkeypatch):
    "The manifest keeps the weights of the stored runs the notebook read; other weights there now: run again. From a relative --out."
    nbs = tmp_path/"nbs"; fake(nbs, "efficiency", READS)
    res = cache/"results"/"r1"; res.mkdir(parents=True); (res/"result.json").write_text(json.dumps({"fit": {"weights": "aaa"}}))
    monkeypatch.chdir(tmp_path)  # `s2kd reproduce` in a clone: --out is "." (the kernel runs in the stage folder)
    run = lambda: run_artefact("efficiency", preset="smoke", out_dir="out", nbs_dir=nbs, device="cpu")["status"]
    assert run() == "ok"
    m = json.loads((artefact_paths(tmp_path/"out", "efficiency")["results"]/"manifest.json").read_text())
    assert m["reads"] == {"<cache>/results/r1/result.json": "aaa"}, m.get("reads")
    assert run() == "skipped"
    (res/"result.json").write_text(json.dumps({"fit": {"weights": "bbb"}}))  # another notebook retrained the shared run
    assert run() == "ok" and run() == "skipped"
