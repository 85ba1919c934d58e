"""Render nbs/index.ipynb into README.md (nbdev_readme needs quarto; this needs nothing).

Markdown cells are copied; code cells not marked `#| hide` are shown as python blocks; outputs are not.
    python tools/make_readme.py          # write README.md
    python tools/make_readme.py --check  # exit 1 when README.md is out of date
"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def render(nb_path=ROOT / "nbs" / "index.ipynb"):
    nb = json.loads(Path(nb_path).read_text())
    out = ["<!-- generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file -->"]
    for c in nb["cells"]:
        src = "".join(c["source"]).strip()
        if not src: continue
        if c["cell_type"] == "markdown": out.append(src)
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
