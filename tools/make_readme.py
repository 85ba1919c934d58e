"""Render nbs/index.ipynb into README.md (nbdev_readme needs quarto; this needs nothing).

Markdown cells are copied; code cells not marked `#| hide` are shown as python blocks; outputs are not.
A markdown line `<!-- skill-gates: results/skill -->` becomes the table of that folder's committed skill results
(`gates_table`), so the README's numbers are the results' and a re-render that changes them makes `--check` fail.
    python tools/make_readme.py          # write README.md
    python tools/make_readme.py --check  # exit 1 when README.md is out of date
"""
import csv, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = re.compile(r"^<!-- skill-gates: (\S+) -->$", re.M)


def _mse(x, sd=None, runs=1):
    "Test MSE to 4 significant digits, ± the seeds' std when there are several runs."
    f = lambda v: f"{v:.4g}"
    return f(x) + (f" ± {float(sd):.2g} ({runs} seeds)" if runs > 1 and sd not in (None, "", "nan") else "")


def gates_table(folder):
    "Markdown table, one row per dataset, of a skill notebook's `table.csv` and `gates.csv`: models, references, gates."
    folder = ROOT / folder
    try:
        rows = list(csv.DictReader(open(folder / "table.csv")))
        gates = list(csv.DictReader(open(folder / "gates.csv")))
    except FileNotFoundError as e:
        raise SystemExit(f"make_readme: {e.filename} is missing; nbs/index.ipynb's skill-gates line needs the skill notebook's results")
    out = ["| dataset | best reference | teacher | multimodal teacher | best student | gate 1: teachers ≥ 10 % over the reference "
           "| gate 2: every student ≥ 3 % | gate 3: best teacher ≥ 10 % over best student |", "|---|---|---|---|---|---|---|---|"]
    mark = lambda ok: "✓" if ok else "✗"
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == ds]; g = [x for x in gates if x["dataset"] == ds]
        role = lambda k: [r for r in mine if r["role"] == k]
        ref = next(r for r in role("reference") if r["model"] == r["best_reference"])
        teacher = next(r for r in role("teacher") if r["model"] != "teacher:multimodal")
        mm = next(r for r in role("teacher") if r["model"] == "teacher:multimodal")
        student = min(role("student"), key=lambda r: float(r["test_mse"]))
        pick = lambda test: [(float(x["value"]), x["pass"] == "True") for x in g if test(x["gate"])]
        g1 = pick(lambda s: s.startswith("teacher:")); g2 = pick(lambda s: not s.startswith(("teacher:", "best ")))
        g3 = pick(lambda s: s.startswith("best teacher"))
        if not (g1 and g2 and len(g3) == 1):
            raise SystemExit(f"make_readme: {folder/'gates.csv'} lacks a gate of {ds!r} (teachers, students, best teacher)")
        worst = lambda gs: f"{min(v for v, _ in gs):+.1%} {mark(all(ok for _, ok in gs))}"
        name = lambda r: r["model"].split(":", 1)[-1]
        out.append(f"| {ds} | {name(ref).replace('_', ' ')} {_mse(float(ref['test_mse']))} "
                   f"| {name(teacher)} {_mse(float(teacher['test_mse']), teacher['test_mse_std'], int(teacher['runs']))} "
                   f"| {_mse(float(mm['test_mse']))} | {name(student)} {_mse(float(student['test_mse']), student['test_mse_std'], int(student['runs']))} "
                   f"| {worst(g1)} | {worst(g2)} | {worst(g3)} |")
    return "\n".join(out) + "\n\nGates 1 and 2 give the smallest skill of the teachers and of the students (✓: every one passes)."


def render(nb_path=ROOT / "nbs" / "index.ipynb"):
    nb = json.loads(Path(nb_path).read_text())
    out = ["<!-- generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file -->"]
    for c in nb["cells"]:
        src = "".join(c["source"]).strip()
        if not src: continue
        if c["cell_type"] == "markdown": out.append(MARK.sub(lambda m: gates_table(m.group(1)), src))
        elif not any(l.strip().startswith("#| hide") for l in src.splitlines()):
            out.append("```python\n" + "\n".join(l for l in src.splitlines() if not l.startswith("#|")) + "\n```")
    return "\n\n".join(out) + "\n"


if __name__ == "__main__":
    text, readme = render(), ROOT / "README.md"
    if "--check" in sys.argv:
        ok = readme.exists() and readme.read_text() == text
        print("README.md is up to date" if ok else "README.md is out of date: run python tools/make_readme.py")
        sys.exit(0 if ok else 1)
    readme.write_text(text)
