"The repository's promises: two commands, CI runs the README's test command, notebooks stay papermill-ready."
import json, re, subprocess, sys, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_shows_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "make reproduce" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), "CI must call exactly the README's test command"
    assert "OMP_NUM_THREADS=1" in ci


def test_readme_is_rendered_from_index():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "make_readme.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_environment_yml_installs_the_lock_which_pins_every_dependency():
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = (ROOT / "environment.yml").read_text()
    assert "- -r requirements-lock.txt" in env and "- -e .[dev]" in env
    norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
    locked = {norm(l.split("==")[0]) for l in (ROOT / "requirements-lock.txt").read_text().splitlines() if "==" in l}
    names = lambda spec: norm(re.split(r"[<>=!\[ ;]", spec)[0])
    for d in proj["dependencies"] + proj["optional-dependencies"]["dev"]:
        assert names(d) in locked, f"requirements-lock.txt lacks {d}: run 'make lock'"


def test_papermill_parameters_tag_survives_nbdev_clean(tmp_path):
    nb = {"cells": [{"cell_type": "code", "id": "a", "metadata": {"tags": ["parameters"], "scrolled": True},
                     "source": ["epochs: int = 2"], "outputs": [], "execution_count": 3}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    f = tmp_path / "p.ipynb"; f.write_text(json.dumps(nb))
    exe = Path(sys.executable).parent / "nbdev_clean"
    subprocess.run([str(exe), "--fname", str(f)], cwd=ROOT, check=True, capture_output=True)  # reads settings.ini
    cell = json.loads(f.read_text())["cells"][0]
    assert cell["metadata"] == {"tags": ["parameters"]}  # kept for papermill; "scrolled" dropped
    assert cell["execution_count"] is None


def test_console_script_lists_commands():
    exe = Path(sys.executable).parent / "s2kd"
    r = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    for cmd in ("data", "models", "narrate", "bench latency", "bench distill", "bench malloc", "reproduce"):
        assert f"  {cmd} " in r.stdout, cmd
    r = subprocess.run([str(exe), "data", "list"], capture_output=True, text=True, check=True)
    assert "winds" in r.stdout and "REAL" in r.stdout


def test_paper_notebooks_are_skipped_by_nbdev_test():
    "A papermill notebook in nbs/ (a `parameters` cell) runs at its quick preset by default: nbdev_test must skip it."
    root = Path(__file__).resolve().parents[1]
    for f in sorted((root/"nbs").glob("*.ipynb")):
        nb = json.loads(f.read_text())
        if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"]): continue
        first = nb["cells"][0]
        assert first["cell_type"] == "raw" and "skip_exec: true" in "".join(first["source"]), \
            f"{f.name}: a papermill notebook needs a leading raw '---\\nskip_exec: true\\n---' cell (else nbdev_test runs it)"


def test_committed_results_are_strict_json():
    "Every committed results/**/*.json parses as strict JSON (RFC 8259: no NaN or Infinity), so jq, JavaScript and other readers take it."
    def refuse(c): raise ValueError(f"non-standard JSON constant {c}")
    bad = []
    for p in sorted((ROOT / "results").rglob("*.json")):
        try: json.loads(p.read_text(), parse_constant=refuse)
        except ValueError as e: bad.append(f"{p.relative_to(ROOT)}: {e}")
    assert not bad, bad


TOP_LEVEL = {".ci", ".gitignore", "CONTRIBUTING.md", "LICENSE", "Makefile", "README.md", "docs", "environment.yml",
             "figures", "nbs", "pyproject.toml", "requirements-lock.txt", "results", "s2kd", "settings.ini", "tests", "tools"}


def test_repository_root_holds_only_the_project():
    "A scratch file written in the checkout and committed by accident (until session 36: era5.zarr, packed.nc, ...) fails here."
    import pytest
    if not (ROOT / ".git").exists(): pytest.skip("not a git checkout: no tracked files to list")
    r = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    top = {p.split("/")[0] for p in r.stdout.splitlines()}
    assert top <= TOP_LEVEL, f"tracked at the repository root but not part of the project: {sorted(top - TOP_LEVEL)}"
