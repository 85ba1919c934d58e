"""Record what every one of s2kd's models computes, for tests/test_model_fingerprints.py (`s2kd.models.registry.model_fingerprint`).

Run it after bumping a class's `CODE_VERSIONS` number (the test said which), from the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python tools/model_fingerprints.py            # rewrite tests/model_fingerprints.json
    OMP_NUM_THREADS=1 .venv/bin/python tools/model_fingerprints.py --check    # only compare, as the test does

Each entry is a model at the smoke and quick presets as the network alone (`residual="none"`), the `Forecaster` paths
on the U-Net (residual from the last frame and from the climatology, with a calendar head), and the multimodal teacher
on each backbone. Recording without bumping the version of a model whose fingerprint changed would hide the change from
every stored run of it: the tool refuses that, unless `--force` says the old fingerprint was wrong, not the runs.
"""
import argparse, json, sys
from pathlib import Path

import torch

from s2kd.models.multimodal import BACKBONES
from s2kd.models.registry import MODELS, code_versions, model_fingerprint

FILE = Path(__file__).resolve().parents[1] / "tests" / "model_fingerprints.json"
RTOL = 1e-4  # of a tensor's rms: float32 summation order across CPUs and thread counts moves these by ~1e-6


def entries():
    "(model, preset, options) of every fingerprint the test holds."
    own = [n for n, c in MODELS.items() if c.__module__.startswith("s2kd.")]
    out = [(n, p, {}) for p in ("smoke", "quick") for n in own]
    out += [("unet", "smoke", dict(residual=r, calendar=3)) for r in ("last", "climatology")]
    out += [("multimodal", "smoke", dict(backbone=b)) for b in sorted(BACKBONES)]
    return out


def differs(a: dict, b: dict, rtol: float = RTOL) -> list:
    "What differs between two fingerprints: parameter counts and shapes exactly, the summaries to `rtol` of the tensor's rms."
    out = [] if a["params"] == b["params"] else [f"params {a['params']} -> {b['params']}"]
    for part in ("output", "feature"):
        x, y = a[part], b[part]
        if x["shape"] != y["shape"]: out.append(f"{part} shape {x['shape']} -> {y['shape']}"); continue
        scale = (x["mean"] ** 2 + x["std"] ** 2) ** 0.5 or 1.0
        out += [f"{part} {k} {x[k]:.8g} -> {y[k]:.8g}" for k in ("mean", "std", "proj") if abs(x[k] - y[k]) > rtol * scale]
    return out


def record() -> dict:
    return dict(torch=torch.__version__.split("+")[0], shape_note="s2kd.models.registry.FINGERPRINT_SHAPE",
                entries=[dict(model=n, preset=p, options=o, versions=code_versions(n), fingerprint=model_fingerprint(n, p, **o))
                         for n, p, o in entries()])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the recorded file, write nothing")
    ap.add_argument("--force", action="store_true", help="record even where a fingerprint changed at the same version")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    new = record()
    old = {(e["model"], e["preset"], json.dumps(e["options"], sort_keys=True)): e for e in json.loads(FILE.read_text())["entries"]} if FILE.exists() else {}
    stale = []
    for e in new["entries"]:
        o = old.get((e["model"], e["preset"], json.dumps(e["options"], sort_keys=True)))
        if o and o["versions"] == e["versions"] and (d := differs(o["fingerprint"], e["fingerprint"])):
            stale.append(f"{e['model']} {e['preset']} {e['options']}: {'; '.join(d)}")
    if stale: print("changed at the same CODE_VERSIONS (bump the class's number):\n  " + "\n  ".join(stale), file=sys.stderr)
    if a.check: return 1 if stale else 0
    if stale and not a.force: return 1
    rows = ",\n".join("  " + json.dumps(e) for e in new["entries"])  # one line a fingerprint: a bump's diff shows which
    FILE.write_text(f'{{"torch": {json.dumps(new["torch"])}, "shape_note": {json.dumps(new["shape_note"])}, "entries": [\n{rows}\n]}}\n')
    print(f"wrote {FILE.relative_to(FILE.parents[1])}: {len(new['entries'])} fingerprints")
    return 0


if __name__ == "__main__":
    sys.exit(main())
