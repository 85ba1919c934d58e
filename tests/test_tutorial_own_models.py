"""The "Your own models" tutorial goes through the documented path for models of one's own, and the README's "Your own
data" section links it (that it runs under nbdev_test, not skipped, nothing exported: tests/test_tutorial_own_data.py)."""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT/"nbs"/"own_models.ipynb"


def _code(): return "\n".join("".join(c["source"]) for c in json.loads(NB.read_text())["cells"] if c["cell_type"] == "code")


def test_tutorial_uses_the_documented_path():
    "Models in a .py file with a helper -> register -> RunConfig -> run (baseline, kd, fitnet) -> references -> load back -> an edited helper refused -> Distiller -> --import -> a narrator and a text teacher of one's own, S²-KD."
    code = _code()
    for step in ('register("framenet"', "RunConfig(", "run(base.replace(method=m))", '"ref:"', "load_student(", "load_teacher(",
                 "evaluate(", "model_identity(", "except DataError", "Distiller(", '"--import"', "NARRATORS[", 'method="s2kd"',
                 'text="none"'):
        assert step in code, step


def test_readme_links_the_tutorial():
    readme = (ROOT/"README.md").read_text()
    sec = readme.split("## Your own data", 1)[1].split("\n## ", 1)[0]
    assert "nbs/own_models.ipynb" in sec and "registry.register" in sec
