import os
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
import pytest, torch
torch.set_num_threads(1)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    "An empty s2kd cache directory for one test."
    monkeypatch.setenv("S2KD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def smoke_job(tmp_path_factory):
    "`s2kd reproduce --preset smoke` once per session, every notebook, into a fresh out dir and cache: (root, rc, manifests, wall s, output)."
    import time
    from s2kd.paper import ARTEFACTS, artefact_manifests
    from s2kd.reproduce import cli_reproduce
    root = tmp_path_factory.mktemp("smoke_job")
    import contextlib, io
    t0, buf = time.time(), io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli_reproduce(["--preset", "smoke", "--out", str(root/"out"), "--cache", str(root/"cache"), "--device", "cpu",
                            "--jobs", "2", "--threads", "2", "--quiet"])  # CI: 2 cores, a notebook on each
    wall = time.time() - t0
    print(buf.getvalue())
    ms = [m for a in ARTEFACTS for m in artefact_manifests(root/"out", a)]  # one each: skill's in results/skill-smoke/
    return root, rc, ms, wall, buf.getvalue()
