"""Author notebooks as percent-format text and convert them (a developer convenience; nbs/*.ipynb stay the source).

    python tools/nb.py topy  nbs/00_core.ipynb  /tmp/00_core.py   # notebook -> editable text
    python tools/nb.py tonb  /tmp/00_core.py    nbs/00_core.ipynb # text -> notebook (clean metadata, kernel python3)

Cells start at `# %%` (code) or `# %% [markdown]`; a papermill parameters cell is `# %% tags=["parameters"]`.
Run `nbdev_export && nbdev_clean` afterwards.
"""
import sys, json, jupytext

KERNEL = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}

def tonb(src, dst):
    nb = jupytext.read(src, fmt="py:percent")
    nb.metadata = dict(KERNEL)
    for c in nb.cells:
        c.metadata = {k: v for k, v in c.metadata.items() if k == "tags"}
    jupytext.write(nb, dst, fmt="ipynb")

def topy(src, dst):
    nb = jupytext.read(src)
    nb.metadata = {}
    jupytext.write(nb, dst, fmt="py:percent")

if __name__ == "__main__":
    cmd, src, dst = sys.argv[1:4]
    {"tonb": tonb, "topy": topy}[cmd](src, dst)
