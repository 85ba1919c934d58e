"""s2kd's own models compute what their recorded fingerprints say, at the CODE_VERSIONS they were recorded at.

A stored teacher or run is reused when its key matches, and s2kd's own model code enters its key only through
`CODE_VERSIONS` (s2kd.models.registry). So an edit that changes what a model computes must bump that number; this test
fails when it was not, and names the model. After a bump: `python tools/model_fingerprints.py` records the new ones.
"""
import importlib.util, json
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("model_fingerprints", ROOT / "tools" / "model_fingerprints.py")
fp = importlib.util.module_from_spec(spec); spec.loader.exec_module(fp)
RECORDED = json.loads(fp.FILE.read_text())
key = lambda e: (e["model"], e["preset"], json.dumps(e["options"], sort_keys=True))


def test_every_model_has_a_fingerprint():
    want = {(n, p, json.dumps(o, sort_keys=True)) for n, p, o in fp.entries()}
    assert want == {key(e) for e in RECORDED["entries"]}, "run tools/model_fingerprints.py: the models or their entries changed"


@pytest.mark.parametrize("e", RECORDED["entries"], ids=lambda e: f"{e['model']}-{e['preset']}-{'-'.join(map(str, e['options'].values()))}")
def test_model_computes_its_fingerprint(e):
    from s2kd.models.registry import code_versions, model_fingerprint
    now = code_versions(e["model"])
    if now != e["versions"]:
        pytest.fail(f"{e['model']}: CODE_VERSIONS {now}, fingerprint recorded at {e['versions']}: run tools/model_fingerprints.py")
    torch.set_num_threads(1)
    d = fp.differs(e["fingerprint"], model_fingerprint(e["model"], e["preset"], **e["options"]))
    assert not d, (f"{e['model']} ({e['preset']}, {e['options']}) computes something else at the same CODE_VERSIONS {now}: "
                   f"{'; '.join(d)}. Bump its class's number in s2kd.models.registry.CODE_VERSIONS (nbs/15) so its stored "
                   "runs and teachers train anew, then run tools/model_fingerprints.py")


def test_differs_sees_a_small_change_and_not_float_noise():
    a = RECORDED["entries"][0]["fingerprint"]
    scale = (a["output"]["mean"] ** 2 + a["output"]["std"] ** 2) ** 0.5
    b = json.loads(json.dumps(a)); b["output"]["proj"] += 1e-3 * scale      # a change a real edit makes (and more)
    assert fp.differs(a, b) == [f"output proj {a['output']['proj']:.8g} -> {b['output']['proj']:.8g}"]
    c = json.loads(json.dumps(a)); c["output"]["proj"] += 1e-6 * scale      # float summation order across CPUs
    assert fp.differs(a, c) == []
    d = json.loads(json.dumps(a)); d["params"] += 1
    assert fp.differs(a, d) == [f"params {a['params']} -> {a['params'] + 1}"]
