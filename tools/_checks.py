"""What the checks in tools/ share: scoring a model on a split as every s2kd result scores it, the reference forecasts
beside it (the best chosen on validation), the skill notebook's baseline students, and writing the record."""
from pathlib import Path

import torch

from s2kd.core import atomic_write_json
from s2kd.paper import preset_seeds, s2kd_config
from s2kd.references import fit_references
from s2kd.train.api import load_student
from s2kd.train.experiment import data_range, evaluate_split


def scorer(w):  # `load_windows`-style windows (train, val, test, normalizer, ds)
    "`score(model, split='test')`: its MSE in physical units (`evaluate_split`, latitude-weighted on lat/lon grids)."
    kw = dict(data_range=data_range(w), batch_size=16, device="cpu",
              lat=torch.tensor(w.ds["lat"].values) if "lat" in w.ds.dims else None)
    return lambda m, split="test": evaluate_split(m, getattr(w, split), w.normalizer, **kw)["mse"]


def references(w, score, splits=("test",)) -> tuple[dict, str]:  # windows; a `scorer`; the splits to report
    "`({'ref:<name>' or 'ref:<name> <split>': mse}, 'ref:<best>')`: persistence, climatology, damped persistence fitted on train."
    refs = fit_references(w.train)
    best = min(refs, key=lambda k: score(refs[k], "val"))  # chosen on validation, as every s2kd result chooses it
    name = lambda k, s: f"ref:{k}" if splits == ("test",) else f"ref:{k} {s}"
    return {name(k, s): score(r, s) for k, r in refs.items() for s in splits}, f"ref:{best}"


def baseline_students(dataset:str, teacher:str, students, preset:str):
    "`{student: [model per seed]}`: the skill notebook's baseline runs (seeds of the preset), read from the cache."
    return {s: [load_student(Path((c := s2kd_config(dataset, teacher, s, "baseline", seed, preset=preset)).results_dir) / c.name)
                for seed in preset_seeds(preset)] for s in students}


def write(path, record:dict):  # None: nothing written
    if path: Path(path).parent.mkdir(parents=True, exist_ok=True); atomic_write_json(path, record)
