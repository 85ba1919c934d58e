"""No exact equality on computed floats: the same pinned stack gives a different last bit on another CPU.

Scans the notebooks' code cells and `tests/*.py` for `test_eq(a, b)` and `a == b` / `a != b` where one side is a
float literal (`0.5`, `-87.1875`, `2 ** 0.5`, `torch.tensor(1.)`, `[.25, .25]`). Such a comparison must use a
tolerance (`test_close`, `math.isclose`, `pytest.approx`), or say on its line, in a comment containing `exact`, why
the value is exact by construction (a stored constant, a dyadic grid, a sum of ones, an identical-input zero).
Determinism and bit-identity checks (`test_eq(a, b)` between two computed values) are not float literals and are
reviewed by hand; they carry a comment saying they are the point of the test.
"""
import ast, json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOSE = {"approx", "isclose", "allclose", "test_close", "assert_allclose"}
# nbs/50_metrics.ipynb is being fixed on another branch (helper h-metrics); drop this exclusion once both are merged
OWNED_ELSEWHERE = set()  # every notebook is checked


def _floaty(n) -> bool:
    "A float literal, or an expression / container built from one."
    if isinstance(n, ast.Constant): return isinstance(n.value, float)
    if isinstance(n, ast.UnaryOp): return _floaty(n.operand)
    if isinstance(n, ast.BinOp): return _floaty(n.left) or _floaty(n.right)
    if isinstance(n, (ast.List, ast.Tuple)): return any(_floaty(e) for e in n.elts)
    if isinstance(n, ast.Call):
        name = getattr(n.func, "attr", getattr(n.func, "id", ""))
        return name in ("tensor", "full", "array", "float") and any(_floaty(a) for a in n.args)
    return False


def _is_close_call(n) -> bool:
    return isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(n.func, "id", "")) in CLOSE


def exact_float_comparisons(src: str) -> list[int]:
    "Line numbers (1-based) of float-literal equalities without an `exact` comment on the line."
    lines = src.splitlines(); bad = []
    for n in ast.walk(ast.parse(src)):
        sides = []
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "test_eq": sides = n.args[:2]
        elif isinstance(n, ast.Compare) and any(isinstance(o, (ast.Eq, ast.NotEq)) for o in n.ops):
            sides = [n.left, *n.comparators]
            if any(_is_close_call(s) for s in sides): continue
        if any(_floaty(s) for s in sides):
            line = lines[n.lineno - 1]
            if "#" not in line or "exact" not in line.split("#", 1)[1].lower(): bad.append(n.lineno)
    return sorted(set(bad))


def _cells(nb: Path):
    for i, c in enumerate(json.loads(nb.read_text())["cells"]):
        if c["cell_type"] != "code": continue
        src = "".join(c["source"])
        src = "\n".join("" if l.lstrip().startswith(("!", "%")) else l for l in src.splitlines())  # shell/magics
        yield i, src


def _sources():
    for nb in sorted((ROOT / "nbs").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in nb.parts or str(nb.relative_to(ROOT)) in OWNED_ELSEWHERE: continue
        for i, src in _cells(nb): yield f"{nb.relative_to(ROOT)} cell {i}", src
    for f in sorted((ROOT / "tests").glob("*.py")): yield str(f.relative_to(ROOT)), f.read_text()


def test_the_lint_catches_exact_float_equality():
    assert exact_float_comparisons("test_eq(rmse(a, b), 2 ** 0.5)") == [1]
    assert exact_float_comparisons("assert float(x) == 1e-4") == [1]
    assert exact_float_comparisons("test_eq(loss(z, z), torch.tensor(0.))") == [1]
    assert exact_float_comparisons("test_eq(w, [.25, .25])  # exact: 1/4 is dyadic") == []
    assert exact_float_comparisons("assert x == pytest.approx(0.5, rel=1e-6)") == []
    assert exact_float_comparisons("test_eq(n, 3); assert s == 'a'") == []


def test_no_exact_equality_on_computed_floats():
    bad = [f"{where} line {n}: {src.splitlines()[n - 1].strip()}"
           for where, src in _sources() for n in exact_float_comparisons(src)]
    assert not bad, ("exact equality on a float: use a tolerance (and say why it has that size) or add "
                     "'# exact: <why>' on the line:\n" + "\n".join(bad))
