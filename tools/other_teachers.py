"""Would another teacher architecture open a dataset's gate 3? Trains the named teachers on a dataset at a preset (the
dataset's own data, split, calendar inputs, residual form, schedule and seed, exactly as its paper teacher is
trained), scores them on test beside the paper teacher, the skill notebook's baseline students (seeds 42-44) and the
reference forecasts, and reports each teacher's lead over the best student's mean: gate 3 asks for 10 %.
Session 28 ran it on traffic (results/checks/other_teachers_traffic.json). From the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python tools/other_teachers.py traffic --teachers alternet simvp_deep \\
        --out results/checks/other_teachers_traffic.json

Each teacher comes from the teacher store (`s2kd.paper.paper_teacher`; trained on first use with one thread, as the
skill notebook trains teachers); the students are read from the cache, so run the skill notebook first.
"""
import argparse, time

import torch

from _checks import baseline_students, references, scorer, write
from s2kd.paper import PAPER_TEACHERS, S2KD_STUDENTS, paper_teacher, preset_seeds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset"); ap.add_argument("--teachers", nargs="+", required=True)
    ap.add_argument("--students", nargs="+", default=list(S2KD_STUDENTS)); ap.add_argument("--preset", default="quick")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1); t0 = time.time()
    paper = PAPER_TEACHERS[a.dataset]; names = [paper] + [t for t in a.teachers if t != paper]
    out = dict(dataset=a.dataset, preset=a.preset, paper_teacher=paper, test_mse={}, teachers={})
    mse = out["test_mse"]
    for name in names:
        t, info, w = paper_teacher(a.dataset, name, preset=a.preset); score = scorer(w)  # every teacher: the same windows
        out["teachers"][name] = dict(trained_here=info["trained"], train_wall_s=info.get("train_wall_s"),
                                     params=sum(p.numel() for p in t.parameters()), threads=info.get("threads"))
        mse[f"teacher:{name}"] = score(t)
        print(f"teacher {name}: {'trained' if info['trained'] else 'stored'} test MSE {mse[f'teacher:{name}']:.4f}", flush=True)
    refs, best_ref = references(w, score); mse.update(refs)
    means = {}
    for s, models in baseline_students(a.dataset, paper, a.students, a.preset).items():
        ms = [score(m) for m in models]; means[s] = sum(ms) / len(ms)
        mse.update({f"{s} s{seed}": v for seed, v in zip(preset_seeds(a.preset), ms)})
    best_student = min(means, key=means.get)
    out.update(best_reference=best_ref, student_means=means, best_student=best_student,
               skill={k: 1 - v / mse[best_ref] for k, v in mse.items()},
               lead_over_best_student={n: 1 - mse[f"teacher:{n}"] / means[best_student] for n in names}, gate3_need=0.1)
    for k, v in mse.items(): print(f"{k:32s} {v:10.4f}  skill {out['skill'][k]:+.1%}")
    for n, v in out["lead_over_best_student"].items(): print(f"teacher {n} leads the best student ({best_student}) by {v:+.1%}")
    out.update(threads=1, wall_s=round(time.time() - t0, 1))
    write(a.out, out)


if __name__ == "__main__": main()
