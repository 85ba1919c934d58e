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
