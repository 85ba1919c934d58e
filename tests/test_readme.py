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
