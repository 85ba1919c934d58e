"""The "Your own data" tutorial (issue 11): it exists, runs under nbdev_test (as the "Your own models" one does) (not skipped, nothing exported), goes
through the documented API, and the README's "Your own data" section links it and lists the tools for own data."""
import json, re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT/"nbs"/"own_data.ipynb"


def _code(nb=NB): return "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("nb", [NB, ROOT/"nbs"/"own_models.ipynb"], ids=lambda p: p.stem)  # both tutorials
def test_tutorial_is_a_tested_docs_notebook(nb):
    "Run by nbdev_test: not in a .notest folder, no skip flag, nothing exported, no default_exp."
    assert nb.exists()
    assert not any((p/".notest").exists() for p in nb.parents if ROOT in p.parents or p == ROOT)
    code = _code(nb)
    assert "#| export" not in code and "default_exp" not in code
    assert not re.search(r"^#\|\s*(slow|eval:\s*false|skip)", code, re.M), "every cell of the tutorial must run under nbdev_test"


def test_tutorial_uses_the_documented_path():
    "A masked, 360-day third-party netCDF made in the notebook -> conform_dataset -> RunConfig -> run -> load_student -> evaluate."
    code = _code()
    for step in ("_FillValue", '"360_day"', "xr.open_dataset(", "conform_dataset(", "RunConfig(", "run(cfg",
                 "load_student(", "evaluate(", "config_from_yaml("):
        assert step in code, step


def test_readme_section_links_the_tutorial_and_lists_the_tools():
    readme = (ROOT/"README.md").read_text()
    sec = readme.split("## Your own data", 1)[1].split("\n## ", 1)[0]
    for needle in ("nbs/own_data.ipynb", "regrid_conservative", "wb_grid", "s2kd.data.loaders", "load_student", "evaluate(",
                   "s2kd train CONFIG.yaml", "s2kd data show"):
        assert needle in sec, needle
