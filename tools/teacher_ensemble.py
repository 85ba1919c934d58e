"""How far averaging several seeds of a dataset's teacher moves it, against its students' seeds and their average:
a check behind the skill notebook's reading of gate 3 (a teacher ≥ 10 % better than the best baseline student).
Session 27 ran it on traffic (results/checks/teacher_ensemble_traffic.json). From the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python tools/teacher_ensemble.py traffic --teacher-seeds 42 43 44 45 46 \\
        --out results/checks/teacher_ensemble_traffic.json

Each teacher seed comes from the teacher store (`s2kd.paper.paper_teacher`, trained on first use with one thread,
as the skill notebook trains it); the students are the skill notebook's baseline runs (seeds 42-44), read from
the cache, so run the skill notebook first. An average of n models is their mean forecast, scored like any model
(`s2kd.train.experiment.evaluate_split`, test split, physical units), beside the reference forecasts (persistence,
climatology, damped persistence, fitted on train) and each entry's skill against the best of them on validation.
"""
import argparse, time

import torch
from torch import nn

from _checks import baseline_students, references, scorer, write
from s2kd.distill import batch_keys
from s2kd.paper import PAPER_TEACHERS, S2KD_STUDENTS, paper_teacher, preset_seeds


class Average(nn.Module):
    "The mean forecast of `models`, each handed the batch entries it reads."
    def __init__(self, models):
        super().__init__(); self.models = nn.ModuleList(models)
        self.batch_keys = tuple(sorted({k for m in models for k in batch_keys(m)}))
    def forward(self, x, **kw):
        return torch.stack([m(x, **{k: kw.get(k) for k in batch_keys(m)}) for m in self.models]).mean(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset"); ap.add_argument("--teacher-seeds", type=int, nargs="+", default=[42, 43, 44])
    ap.add_argument("--students", nargs="+", default=list(S2KD_STUDENTS)); ap.add_argument("--preset", default="quick")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1); t0 = time.time()
    teacher, ts, w, out = PAPER_TEACHERS[a.dataset], [], None, dict(dataset=a.dataset, preset=a.preset, test_mse={})
    for seed in a.teacher_seeds:
        t, info, w = paper_teacher(a.dataset, teacher, preset=a.preset, teacher_seed=seed); ts.append(t)
        print(f"teacher {teacher} seed {seed}: {'trained' if info['trained'] else 'stored'}", flush=True)
    score = scorer(w); mse = out["test_mse"]
    refs, best = references(w, score); mse.update(refs)
    for seed, t in zip(a.teacher_seeds, ts): mse[f"teacher:{teacher} s{seed}"] = score(t)
    for n in range(2, len(ts) + 1): mse[f"teacher:{teacher} average of {n}"] = score(Average(ts[:n]))
    for s, ms in baseline_students(a.dataset, teacher, a.students, a.preset).items():
        for seed, m in zip(preset_seeds(a.preset), ms): mse[f"{s} s{seed}"] = score(m)
        mse[f"{s} average of {len(ms)}"] = score(Average(ms))
    out.update(best_reference=best, skill={k: 1 - v / mse[best] for k, v in mse.items()})
    for k, v in mse.items(): print(f"{k:40s} {v:10.4f}  skill {out['skill'][k]:+.1%}")
    out.update(teacher_seeds=a.teacher_seeds, students=a.students, threads=1, wall_s=round(time.time() - t0, 1))
    write(a.out, out)


if __name__ == "__main__": main()
