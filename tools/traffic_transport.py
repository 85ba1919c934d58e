"""Would traffic whose fluctuations travel open gate 3? Regenerates the quick traffic city with its smooth field carried
across the city (in towards the business district in the morning rush, out in the evening, round it all day) instead
of the generator's field that stays where it is, trains the traffic teacher (EarthFarseer) and baseline students on it
exactly as the skill notebook trains them, and reports the teacher's lead over the best student: gate 3 asks for 10 %.
A screen of a framing, not the embedded data: nothing in the package changes. Session 30 ran it (records in
results/checks/traffic_transport_*.json). From the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python tools/traffic_transport.py --days 84 --jobs 2 \\
        --out results/checks/traffic_transport_84d.json

The field: ξ_{t+1} = memory · ξ_t carried `speed` cells a step along the rush-hour velocity + √(1 − memory²) · η_{t+1},
η a smooth innovation (the generator's 6×6 lattice, bicubic); counts = Poisson-like noise on λ₀ · exp(amplitude · ξ),
λ₀ the generator's rate without its own field (calendar, rain, incidents). It runs in its own cache folder (the
dataset is keyed there by the unpatched generator's source, so it must never share a folder with real traffic data).
"""
import argparse, dataclasses, json, math, os, sys, tempfile, time
from pathlib import Path

import numpy as np

from _checks import write

MARK = "traffic_transport.json"  # in the cache folder: the framing its data was made with


def transported_field(cfg, memory:float, speed:float):
    "`(T, H, W)` float32: the smooth field carried across the city (unit innovations; its own random stream)."
    import torch, torch.nn.functional as F
    import s2kd.data.traffic as tr
    (H, W), T = cfg.grid, cfg.days * tr.STEPS_PER_DAY
    rng = np.random.default_rng([cfg.seed, 30])  # not one of the generator's streams
    lat = rng.standard_normal((T, 1, tr.AR_LATTICE, tr.AR_LATTICE)).astype(np.float32)
    eta = F.interpolate(torch.from_numpy(lat), size=(H, W), mode="bicubic", align_corners=False)[:, 0]
    eta = eta / eta.std()
    Z, _ = tr.city_layout(cfg); cal = tr.traffic_calendar(cfg)
    yy, xx = torch.meshgrid((torch.arange(H) + .5) / H, (torch.arange(W) + .5) / W, indexing="ij")
    w = torch.from_numpy(Z[1]) / float(Z[1].sum())  # the business zone's centre of mass
    dy, dx = yy - float((w * yy).sum()), xx - float((w * xx).sum())
    r = torch.sqrt(dy**2 + dx**2) + 1e-3; ry, rx = dy / r, dx / r  # outward
    gy, gx = 2 * yy - 1, 2 * xx - 1  # grid_sample's coordinates of the cell centres
    xi, cur = torch.empty(T, H, W), eta[0].clone()
    for t in range(T):
        h = (t % tr.STEPS_PER_DAY) / 2
        vr = speed * (float(tr._bump(h, 18, 1.5)) - float(tr._bump(h, 8, 1.5))) * (1. if cal["workday"][t] else .4)
        uy, ux = vr * ry - .5 * speed * rx, vr * rx + .5 * speed * ry  # radial plus a turn round the centre
        g = torch.stack([gx - 2 * ux / W, gy - 2 * uy / H], -1)[None]  # where each cell's value comes from
        cur = memory * F.grid_sample(cur[None, None], g, mode="bilinear", padding_mode="border", align_corners=False)[0, 0] \
              + math.sqrt(1 - memory**2) * eta[t]
        xi[t] = cur
    return xi.numpy()


def patch(days:int, memory:float, speed:float, amplitude:float):
    "Make this process's quick traffic the transported framing (every worker calls it)."
    import s2kd.data.traffic as tr
    if getattr(tr.simulate_traffic, "transport", None): return
    plain = tr.simulate_traffic
    def simulate(cfg, device="auto"):
        lam, info = plain(dataclasses.replace(cfg, count_noise=False, smooth_noise=0.0), "cpu")
        lam = lam * np.exp(amplitude * transported_field(cfg, memory, speed))[:, None]
        eps = np.random.default_rng([cfg.seed, 31]).standard_normal(lam.shape, dtype=np.float32)
        return np.round(np.clip(lam + np.sqrt(np.clip(lam, 0, None)) * eps, 0, None)).astype(np.float32), info
    simulate.transport = True
    tr.simulate_traffic = simulate; tr.TRAFFIC_SIZES["quick"] = dict(tr.TRAFFIC_SIZES["quick"], days=days)


def score(kind:str, seed:int, framing:dict) -> dict:
    "Train (or read) one model in this framing; its test and validation MSE and the reference forecasts'."
    import torch
    patch(**framing); torch.set_num_threads(1); t0 = time.time()
    from s2kd.paper import S2KD_STUDENTS, _stored, _train_run, paper_teacher, s2kd_config, teacher_scores
    if kind == "teacher":
        t, info, w = paper_teacher("traffic", "earthfarseer", preset="quick")
        m = teacher_scores(t, info, w); fit = json.loads(Path(info["checkpoint"]).with_suffix(".json").read_text())["fit"]
        return dict(model="teacher:earthfarseer", seed=info["teacher_seed"], test=m["test"]["mse"], val=m["val"]["mse"],
                    trained=bool(info["trained"]), epochs_run=fit["epochs_run"], best_epoch=fit["best_epoch"],
                    train_wall_s=round(fit["wall_s"], 1), wall_s=round(time.time() - t0, 1))
    cfg = s2kd_config("traffic", "earthfarseer", kind, "baseline", seed, preset="quick")
    r = _stored(cfg, {}) or _train_run(cfg.to_dict(), 1); m = r["metrics"]
    refs = {k: dict(test=v["test"]["mse"], val=v["val"]["mse"]) for k, v in m.items() if k.startswith("ref:")}
    return dict(model=kind, seed=seed, test=m["student"]["test"]["mse"], val=m["student"]["val"]["mse"], refs=refs,
                epochs_run=r["fit"]["epochs_run"], best_epoch=r["fit"]["best_epoch"], train_wall_s=round(r["fit"]["wall_s"], 1),
                wall_s=round(time.time() - t0, 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=28, help="length of the quick series (the embedded quick: 28)")
    ap.add_argument("--memory", type=float, default=.99, help="the field's memory per 30-min step")
    ap.add_argument("--speed", type=float, default=1., help="cells per step at the peak of the rush")
    ap.add_argument("--amplitude", type=float, default=.25, help="std of the log-multiplicative field (the generator's: 0.08)")
    ap.add_argument("--students", nargs="+", default=["resnet", "unet"]); ap.add_argument("--seeds", nargs="+", type=int, default=[42])
    ap.add_argument("--jobs", type=int, default=1); ap.add_argument("--cache", default=None, help="its own folder (default: a new temporary one)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    framing = dict(days=a.days, memory=a.memory, speed=a.speed, amplitude=a.amplitude)
    cache = Path(a.cache or tempfile.mkdtemp(prefix="s2kd-transport-")); cache.mkdir(parents=True, exist_ok=True)
    mark = cache/MARK
    if mark.exists() and json.loads(mark.read_text()) != framing or not mark.exists() and any(cache.iterdir()):
        sys.exit(f"error: {cache} holds other data (its {MARK}: {mark.read_text() if mark.exists() else 'absent'}); "
                 "give this framing a folder of its own")
    mark.write_text(json.dumps(framing)); os.environ["S2KD_CACHE"] = str(cache)
    t0 = time.time(); patch(**framing)
    from s2kd.data.embedded import load_dataset
    ds = load_dataset("traffic", size="quick")  # made once here; the workers read it
    calls = [("teacher", 0)] + [(s, seed) for s in a.students for seed in a.seeds]
    if a.jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(a.jobs, mp_context=multiprocessing.get_context("spawn")) as px:
            rows = list(px.map(score, *zip(*calls), [framing] * len(calls)))
    else: rows = [score(k, s, framing) for k, s in calls]
    refs = rows[1]["refs"]; best = min(refs, key=lambda k: refs[k]["val"])  # chosen on validation, as every s2kd result
    mean = lambda s: float(np.mean([r["test"] for r in rows if r["model"] == s]))
    students = {s: mean(s) for s in a.students}; bs = min(students, key=students.get)
    teacher = rows[0]["test"]
    out = dict(framing=framing, dataset=dict(shape=list(ds.inflow.shape), mean=float(ds.inflow.mean())), runs=rows,
               references={k: v["test"] for k, v in refs.items()}, best_reference=best,
               skill={r["model"] + (f" s{r['seed']}" if r["model"] != rows[0]["model"] else ""): 1 - r["test"] / refs[best]["test"] for r in rows},
               student_means=students, best_student=bs, teacher_lead_over_best_student=1 - teacher / students[bs], gate3_need=.1,
               threads_per_job=1, jobs=a.jobs, wall_s=round(time.time() - t0, 1),
               argv=[v if k != "--cache" else "<its own folder>" for k, v in zip([None] + sys.argv[1:], sys.argv[1:])])  # no machine path
    for r in rows: print(f"{r['model']:24s} seed {r['seed']:3d} test MSE {r['test']:9.2f}  skill {1 - r['test'] / refs[best]['test']:+.1%}")
    print(f"references (test): {out['references']}; best on validation: {best}")
    print(f"teacher leads the best student ({bs}) by {out['teacher_lead_over_best_student']:+.1%} (gate 3: +10 %)")
    write(a.out, out)  # None: nothing written


if __name__ == "__main__": main()
