"""The README's commands as written: every Python snippet runs when pasted, every command it names exists, and what it
says about downloads matches what the Makefile does."""
import os, re, subprocess, sys
from pathlib import Path

import pytest

from s2kd.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SNIPPETS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_has_python_snippets():
    assert len(SNIPPETS) >= 3


@pytest.mark.parametrize("i", range(len(SNIPPETS)))
def test_python_snippet_runs_alone_when_pasted(i, tmp_path):
    "Each snippet in a fresh interpreter, in an empty folder: no import hidden in an unrendered cell."
    env = {k: v for k, v in os.environ.items()} | {"S2KD_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1",
                                                    "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, "-c", SNIPPETS[i]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"README snippet {i} fails as written:\n{SNIPPETS[i]}\n{r.stderr[-2000:]}"


def test_commands_named_in_the_readme_exist():
    mk = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"`?make (\w[\w-]*)", README)):
        assert re.search(rf"^{target}:", mk, re.M), f"README names `make {target}`, the Makefile has no such target"
    longest = sorted(COMMANDS, key=len, reverse=True)
    bash = "\n".join(re.findall(r"```bash\n(.*?)```", README, re.S))
    for line in re.findall(r"`s2kd ([a-z][a-z ]*)", README) + re.findall(r"^s2kd ([a-z][a-z ]*)", bash, re.M):
        assert any(line.startswith(c) for c in longest), f"README names `s2kd {line.strip()}`, not a command of {sorted(COMMANDS)}"


def test_readme_states_the_one_optional_download():
    "'Offline' and a Makefile that downloads must agree: the README names the download and says maps work without it."
    if "apt-get download" in (ROOT / "Makefile").read_text():
        assert "python-cartopy-data" in README and "without coastlines" in README
        assert "COASTLINES=0" in README


def _make_readme():
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_readme", ROOT / "tools" / "make_readme.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod); return mod


def _skill_results(folder, student_mse=("0.6", "0.7"), gate3=(0.25, "True")):
    "A skill notebook's table.csv and gates.csv for one dataset, in the columns the notebook writes."
    folder.mkdir(parents=True, exist_ok=True)
    rows = [("ref:persistence", "reference", "2.0", "nan", 1), ("ref:damped_persistence", "reference", "1.0", "nan", 1),
            ("teacher:simvp", "teacher", "0.5", "nan", 1), ("teacher:multimodal", "teacher", "0.45", "nan", 1),
            ("unet", "student", student_mse[0], "0.01", 3), ("resnet", "student", student_mse[1], "0.02", 3)]
    (folder / "table.csv").write_text("dataset,model,role,test_mse,test_mse_std,runs,skill,best_reference\n" + "".join(
        f"ds,{m},{r},{v},{s},{n},0.0,ref:damped_persistence\n" for m, r, v, s, n in rows))
    gates = [("teacher:simvp ≥ 10 % over ref:damped_persistence", 0.5, 0.1, "True"),
             ("teacher:multimodal ≥ 10 % over ref:damped_persistence", 0.55, 0.1, "True"),
             ("unet ≥ 3 % over ref:damped_persistence", 0.4, 0.03, "True"),
             ("resnet ≥ 3 % over ref:damped_persistence", 0.3, 0.03, "True"),
             ("best teacher ≥ 10 % over best student", gate3[0], 0.1, gate3[1])]
    (folder / "gates.csv").write_text("dataset,gate,value,need,pass\n" + "".join(f"ds,{g},{v},{n},{p}\n" for g, v, n, p in gates))


def test_readme_skill_table_is_built_from_the_results(tmp_path):
    "The README's gate table is read from results/skill: the best reference, the lowest-mean student, the weakest gate."
    mr = _make_readme()
    _skill_results(tmp_path / "a")
    t = mr.gates_table(tmp_path / "a")
    assert "| ds | damped persistence 1 | simvp 0.5 | 0.45 | unet 0.6 ± 0.01 (3 seeds) | +50.0% ✓ | +30.0% ✓ | +25.0% ✓ |" in t, t
    _skill_results(tmp_path / "b", student_mse=("0.8", "0.55"), gate3=(0.02, "False"))  # the ResNet is best; gate 3 fails
    t = mr.gates_table(tmp_path / "b")
    assert "| resnet 0.55 ± 0.02 (3 seeds) | +50.0% ✓ | +30.0% ✓ | +2.0% ✗ |" in t, t
    with pytest.raises(SystemExit, match="table.csv is missing"):
        mr.gates_table(tmp_path / "none")


def test_readme_skill_table_is_the_committed_one():
    "The table in README.md is what results/skill holds now (a re-render that moves a number must regenerate the README)."
    assert _make_readme().gates_table("results/skill") in README
