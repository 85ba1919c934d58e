"""Can the S²-KD teacher use privileged information at all, once language is out of the way? The traffic incidents of
each window (begun, or starting in the forecast window) are handed to the multimodal teacher as exact numbers, one
token per incident: kind, grid row and column (with Fourier features of both), radius, magnitude, start and duration
in steps after the last input frame, and which forecast leads it covers. The teacher is built and trained as the
tables' (warm-started from the trained EarthFarseer, `mm_epochs`, early stopping on validation), then scored with its
own tokens, with tokens shuffled between windows, and with none. Session 28 (results/checks/privileged_tokens_traffic.json):

    OMP_NUM_THREADS=1 .venv/bin/python tools/privileged_tokens.py traffic --out results/checks/privileged_tokens_traffic.json
    OMP_NUM_THREADS=1 .venv/bin/python tools/privileged_tokens.py traffic --mm-epochs 0 \\
        --out results/checks/privileged_tokens_traffic_from_scratch.json   # the teacher trained from scratch with the tokens
    # five times the incidents (a scratch dataset file; the same generator, seed and days):
    .venv/bin/python -c "from s2kd.data.traffic import make_traffic; make_traffic(size='quick', \\
        incidents_per_day=(7.5, 0.75, 1.25, 0.75)).to_netcdf('traffic5x.nc')"
    OMP_NUM_THREADS=1 .venv/bin/python tools/privileged_tokens.py traffic5x.nc --out ...

The narrator and encoder are registered for this process only (`StructNarrator`, `StructEncoder`); their texts and
tokens are cached like any narrator's, keyed by their identities.
"""
import argparse, json, math, sys, time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from s2kd.data.traffic import KINDS
from s2kd.narrate.core import Narrator, _check_sample
from s2kd.narrate.encoders import TextEncoder


class StructNarrator(Narrator):
    "One line per incident of the window: `E kind row col radius magnitude start duration` (start: steps after the last input frame)."
    version = 1
    def __init__(self, future:bool=True): self.future = bool(future); self.name = "struct-future" if future else "struct"
    def config(self): return {"future": self.future}
    def narrate_one(self, sample, i=0):
        _, info = _check_sample(sample, i)
        last, out = datetime.fromisoformat(info["time_in"][-1]), []
        for e in info.get("events") or []:
            start = round((datetime.fromisoformat(e["time"]) - last).total_seconds() / 1800)  # 30-minute steps
            if start > 0 and not self.future: continue
            out.append(f"E {e['kind']} {e['y']} {e['x']} {e.get('radius', 1.0):.4g} {e.get('magnitude', 0.0):.4g} {start} {e.get('duration', 1)}")
        return "\n".join(out) if out else "none"


class StructEncoder(TextEncoder):
    "Each `E ...` line as one 384-d token of its numbers; a window without incidents gets one token flagged 'none'."
    name, dim = "struct", 384
    def __init__(self, *, max_length:int=16, batch_size:int=256, H:int=32, W:int=32, t_out:int=12):
        super().__init__(max_length=max_length, batch_size=batch_size); self.H, self.W, self.T = H, W, t_out
    def identity(self): return dict(super().identity(), H=self.H, W=self.W, t_out=self.T, version=1)
    def n_tokens(self, texts): return [max(1, sum(l.startswith("E ") for l in t.split("\n"))) for t in texts]
    def vector(self, line:str) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        if line == "N": v[-1] = 1; return v
        _, kind, y, x, r, mag, start, dur = line.split()
        y, x, r, mag, start, dur = int(y), int(x), float(r), float(mag), int(start), int(dur)
        four = [g(math.pi * f * c) for f in range(1, 9) for c in (y / self.H, x / self.W) for g in (math.sin, math.cos)]
        on = np.array([start <= k < start + dur for k in range(1, self.T + 1)], np.float32)  # the leads it covers
        parts = [np.eye(len(KINDS))[KINDS.index(kind)], [y / self.H, x / self.W], four, [r, mag, start / self.T, dur / self.T], on, on * mag]
        flat = np.concatenate([np.asarray(p, np.float32) for p in parts]); v[:len(flat)] = flat
        return v
    def _encode_batch(self, texts, max_length):
        rows = [[l for l in t.split("\n") if l.startswith("E ")][:max_length] or ["N"] for t in texts]
        L = max(len(r) for r in rows)
        st, m = np.zeros((len(texts), L, self.dim), np.float32), np.zeros((len(texts), L), bool)
        for i, r in enumerate(rows):
            for j, line in enumerate(r): st[i, j], m[i, j] = self.vector(line), True
        return torch.from_numpy(st), torch.from_numpy(m)


def register():
    "Make the narrator and encoder known to RunConfig and the narrative cache, in this process."
    from s2kd.narrate import core, encoders
    from s2kd.train import config
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    core.NARRATORS["struct-future"] = "privileged_tokens:StructNarrator(future=True)"
    encoders.ENCODERS["struct"] = StructEncoder
    if "struct" not in config._CHOICES["encoder"]: config._CHOICES["encoder"] += ("struct",)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", help="traffic, or a .nc file made by s2kd.data.traffic.make_traffic")
    ap.add_argument("--preset", default="quick"); ap.add_argument("--out", default=None)
    ap.add_argument("--mm-epochs", type=int, default=None,
                    help="epochs of the multimodal teacher from the trained EarthFarseer; 0: trained from scratch (default: the preset's)")
    a = ap.parse_args()
    register(); torch.set_num_threads(1); t0 = time.time()
    from _checks import references, scorer, write
    from s2kd.paper import paper_teacher
    mm, info, w = paper_teacher(a.dataset, "earthfarseer", multimodal=True, preset=a.preset,
                                overrides=dict(narrator="struct-future", encoder="struct") | ({} if a.mm_epochs is None else dict(mm_epochs=a.mm_epochs)))
    base, _, wb = paper_teacher(a.dataset, "earthfarseer", preset=a.preset)
    score, score_b = scorer(w), scorer(wb)  # the multimodal teacher reads its windows' tokens; both score the same windows
    out = dict(dataset=a.dataset if not a.dataset.endswith(".nc") else Path(a.dataset).name, preset=a.preset, mse={},
               mm_epochs=a.mm_epochs if a.mm_epochs is not None else "the preset's",
               multimodal=dict(train_wall_s=info.get("train_wall_s")))
    fit = json.loads(Path(info["checkpoint"]).with_suffix(".json").read_text()).get("fit") or {}  # the teacher store's record
    out["multimodal"].update(best_epoch=fit.get("best_epoch"), epochs_run=fit.get("epochs_run"),  # normalized MSE per epoch:
                             history=[dict(epoch=h["epoch"], val_mse=h["val_mse"], train_loss=h.get("train_loss")) for h in fit.get("history", [])])
    for split in ("val", "test"):
        d = getattr(w, split); tok, mask = d.tokens, d.mask
        perm = torch.randperm(len(tok), generator=torch.Generator().manual_seed(0))
        for name, (tt, mm_) in dict(own=(tok, mask), shuffled=(tok[perm], mask[perm]), none=(tok, torch.zeros_like(mask))).items():
            d.tokens, d.mask = tt, mm_
            out["mse"][f"{split} multimodal, {name} tokens"] = score(mm, split)
        d.tokens, d.mask = tok, mask
        out["mse"][f"{split} EarthFarseer"] = score_b(base, split)
    refs, best = references(wb, score_b, splits=("val", "test")); out["mse"].update(refs)
    tests = {k: v for k, v in out["mse"].items() if k.startswith("test ") or k.endswith(" test")}
    out.update(best_reference=best, test_skill={k: 1 - v / out["mse"][f"{best} test"] for k, v in tests.items()})
    for k, v in out["mse"].items(): print(f"{k:40s} {v:10.2f}")
    out.update(threads=1, wall_s=round(time.time() - t0, 1))
    write(a.out, out)


if __name__ == "__main__": main()
