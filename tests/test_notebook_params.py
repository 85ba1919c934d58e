"""Paper notebooks' `parameters` cells hold what the notebook varies plus `overrides` of `RunConfig` (STYLE §13: an
option is defined in one place, never mirrored field by field). The paper notebooks' smoke runs from an empty folder are in
tests/test_paper.py, tests/test_paper_sdkd.py and tests/test_skill.py."""
import ast, io, json, os, tokenize
from dataclasses import fields
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("HF_HUB_OFFLINE", "1")

from s2kd.train.config import RunConfig

REPO = Path(__file__).resolve().parents[1]
NBS = REPO/"nbs"
FIELDS = {f.name: f.type for f in fields(RunConfig)}  # name -> "str" | "int" | "float" | "bool"
LITERAL = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
           "dict": (dict,), "list": (list,), "Optional[str]": (str, type(None))}  # the last three: paper notebooks' overrides, seeds, data_dir
MAX_NAMED = 3  # RunConfig fields a notebook may name directly (what it varies, e.g. dataset, size); the rest go in `overrides`


def parameters_cell(nb_path):
    "Source of the cell tagged `parameters` in a notebook, or None."
    nb = json.loads(Path(nb_path).read_text())
    for c in nb["cells"]:
        if c["cell_type"] == "code" and "parameters" in c.get("metadata", {}).get("tags", []):
            return "".join(c["source"])
    return None


def check_parameters(src:str, where:str="cell"):  # the source of a parameters cell
    "Problems with a parameters cell, as messages: untyped/uncommented names, types that differ from RunConfig's, bad overrides."
    tree, problems, params = ast.parse(src), [], {}
    comments = {t.start[0] for t in tokenize.generate_tokens(io.StringIO(src).readline) if t.type == tokenize.COMMENT}
    for st in tree.body:
        if not isinstance(st, ast.AnnAssign) or not isinstance(st.target, ast.Name) or st.value is None:
            problems.append(f"{where}:{st.lineno}: not a typed assignment `name: type = value`: {ast.unparse(st)!r}")
            continue
        name, ann = st.target.id, ast.unparse(st.annotation)
        try: value = ast.literal_eval(st.value)
        except ValueError:
            problems.append(f"{where}:{st.lineno}: {name} = {ast.unparse(st.value)} is not a literal (papermill injects literals)")
            continue
        params[name] = value
        if ann not in LITERAL:
            problems.append(f"{where}:{st.lineno}: {name}: type {ann!r}; use one of {sorted(LITERAL)} (RunConfig's primitives)")
        elif not isinstance(value, LITERAL[ann]) or (ann in ("int", "float") and isinstance(value, bool)):
            problems.append(f"{where}:{st.lineno}: {name}: {ann} = {value!r} is a {type(value).__name__}")
        if name in FIELDS and ann != FIELDS[name]:
            problems.append(f"{where}:{st.lineno}: {name}: {ann}, but RunConfig.{name} is {FIELDS[name]}")
        if name not in FIELDS and st.end_lineno not in comments:
            problems.append(f"{where}:{st.lineno}: {name} is not a RunConfig field; document it with a trailing comment")
        if ann == "dict" and name != "overrides":
            problems.append(f"{where}:{st.lineno}: {name}: dict; only `overrides` (RunConfig fields) is a dict")
        if name == "overrides" and isinstance(value, dict):
            for k, v in value.items():
                if k not in FIELDS: problems.append(f"{where}:{st.lineno}: overrides: unknown RunConfig field {k!r}")
                elif not isinstance(v, LITERAL[FIELDS[k]]) or (FIELDS[k] in ("int", "float") and isinstance(v, bool)):
                    problems.append(f"{where}:{st.lineno}: overrides[{k!r}] = {v!r}, but RunConfig.{k} is {FIELDS[k]}")
    return problems, params


NOTEBOOKS = sorted(p for p in NBS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and parameters_cell(p) is not None)


def test_paper_notebooks_are_found():
    for name in ("sdkd_tables", "lmm_comparison", "qualitative", "spectral", "efficiency"):
        assert NBS/f"{name}.ipynb" in NOTEBOOKS, [str(p) for p in NOTEBOOKS]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: str(p.relative_to(NBS)))
def test_parameters_are_config_overrides(nb):
    "A few varied RunConfig fields plus `overrides: dict` of any others; everything typed and commented; defaults valid."
    problems, params = check_parameters(parameters_cell(nb), str(nb.relative_to(REPO)))
    assert not problems, "\n".join(problems)
    assert isinstance(params.get("overrides"), dict), f"{nb}: no `overrides: dict = {{...}}` parameter (RunConfig fields)"
    shared = {k: v for k, v in params.items() if k in FIELDS}
    assert len(shared) <= MAX_NAMED, f"{nb}: names RunConfig fields {sorted(shared)}; put all but what it varies in `overrides`"
    RunConfig(**{**params["overrides"], **shared})  # the defaults themselves pass RunConfig's validation


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: str(p.relative_to(NBS)))
def test_papermill_sees_every_parameter(nb):
    "papermill's own parser finds every name (a `=` inside a comment, for one, hides a parameter from it)."
    import papermill as pm
    _, params = check_parameters(parameters_cell(nb))
    assert sorted(pm.inspect_notebook(str(nb))) == sorted(params)


@pytest.mark.parametrize("src, expect", [
    ("epochs: float = 2.0  # wrong type\n", "RunConfig.epochs is int"),
    ("lr: float = True\n", "is a bool"),
    ("methods: str = 'kd'\n", "trailing comment"),
    ("methods = 'kd'  # untyped\n", "not a typed assignment"),
    ("dataset: str = 'plume'  # a comment\nfresh: bool = False  # ok\nseed: int = 42\n", None),
    ("overrides: dict = {'epoch': 2}  # other fields\n", "unknown RunConfig field 'epoch'"),
    ("overrides: dict = {'epochs': 2.0}  # other fields\n", "RunConfig.epochs is int"),
    ("extra: dict = {}  # a dict\n", "only `overrides`"),
    ("overrides: dict = {'epochs': 2, 'device': 'cpu'}  # other fields\n", None),
])
def test_checker_catches(src, expect):
    "The checker itself: each broken cell is reported, a good one is not."
    problems, _ = check_parameters(src)
    if expect is None: assert problems == []
    else: assert any(expect in p for p in problems), problems
