"""Would traffic whose fluctuations travel open gate 3? Regenerates the quick traffic city with a field that moves
instead of the generator's field that stays where it is, trains the traffic teacher (EarthFarseer) and baseline
students on it exactly as the skill notebook trains them, and reports the teacher's lead over the best student: gate 3
asks for 10 %. A screen of a framing, not the embedded data: nothing in the package changes. Two fields:

- `--field transport` (session 30, results/checks/traffic_transport_*.json): the smooth field carried across the city,
  in towards the business district in the morning rush, out in the evening, round it all day. ξ_{t+1} = memory · ξ_t
  carried `speed` cells a step along the rush-hour velocity + √(1 − memory²) · η_{t+1}, η a smooth innovation (the
  generator's 6×6 lattice, bicubic); one field for both channels.
- `--field commute` (session 31, results/checks/traffic_commute_*.json): 32 commutes, each from a home cell (drawn by
  the residential density) to a work or leisure cell (business and leisure density), with a demand that is AR(1) in
  time (`memory` a step); it raises the outflow round its home now and the inflow round its destination `lag` steps
  later (one step per 4 cells, 1 to 11 steps; Gaussian blobs of 2 cells). Arrivals are thus read off departures
  elsewhere in the city: a position-specific, non-local map that a model of each cell's own past cannot know. The
  record adds `room`: what forecasters that know the rate and the commutes exactly would score (`commute_room`).

Counts = Poisson-like noise on λ₀ · exp(amplitude · ξ), λ₀ the generator's rate without its own field (calendar,
rain, incidents). It runs in its own cache folder (the dataset is keyed there by the unpatched generator's source, so
it must never share a folder with real traffic data). From the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python tools/traffic_transport.py --days 84 --jobs 2 \\
        --out results/checks/traffic_transport_84d.json
    OMP_NUM_THREADS=1 .venv/bin/python tools/traffic_transport.py --field commute --memory .95 --amplitude .3 \\
        --students resnet unet mixer --seeds 42 43 44 --days 28 --jobs 2 --out results/checks/traffic_commute_28d.json
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


def commutes(cfg, memory:float, pairs:int=32, sigma:float=2.0, cells_per_step:float=4.0):
    """The city's commutes: each one's demand `a` `(L + T, pairs)` (AR(1), unit variance; row L + t is step t, L the
    longest lag), its lag in steps, and its origin and destination blobs `(pairs, H, W)`; its own random stream."""
    import s2kd.data.traffic as tr
    (H, W), T = cfg.grid, cfg.days * tr.STEPS_PER_DAY
    rng = np.random.default_rng([cfg.seed, 32])  # not one of the generator's streams
    Z, _ = tr.city_layout(cfg)
    yy, xx = np.meshgrid(np.arange(H) + .5, np.arange(W) + .5, indexing="ij")
    def draw(p):  # `pairs` distinct cells, drawn by the zone density p
        i = rng.choice(H * W, pairs, replace=False, p=(p / p.sum()).ravel()); return np.c_[i // W, i % W] + .5
    src, dst = draw(Z[0]), draw(Z[1] + Z[2])  # homes to work and leisure
    lag = np.clip(np.round(np.hypot(*(src - dst).T) / cells_per_step), 1, 11).astype(int)  # steps on the way
    blobs = lambda cs: np.stack([np.exp(-((yy - y)**2 + (xx - x)**2) / (2 * sigma**2)) for y, x in cs]).astype(np.float32)
    e = rng.standard_normal((T + lag.max(), pairs)).astype(np.float32) * math.sqrt(1 - memory**2)
    a = np.empty_like(e); a[0] = rng.standard_normal(pairs)
    for t in range(1, len(a)): a[t] = memory * a[t - 1] + e[t]
    return a, lag, blobs(src), blobs(dst)


def _commute_maps(arriving, leaving, B_src, B_dst):  # demand (..., pairs) arriving and leaving -> (..., 2 (in, out), H, W)
    return np.stack([np.tensordot(arriving, B_dst, 1), np.tensordot(leaving, B_src, 1)], -3)


def _commute_raw(cfg, memory:float):  # -> the commutes and their unscaled field (T, 2, H, W)
    a, lag, B_src, B_dst = parts = commutes(cfg, memory); L, T = lag.max(), len(a) - lag.max()
    raw = np.zeros((T, 2, *B_src.shape[1:]), np.float32)
    for o in range(len(lag)):  # summed one commute at a time, as the records' data was made (float order)
        raw[:, 1] += a[L:, o, None, None] * B_src[o]                        # leaving home now
        raw[:, 0] += a[L - lag[o]:len(a) - lag[o], o, None, None] * B_dst[o]  # arriving `lag` steps after it left
    return parts, raw


def _commute_scale(raw):  # (T, 2, H, W) -> (1, 2, 1, 1): about unit std where commutes run (the 90th percentile of cells)
    return np.quantile(raw.std(0).reshape(2, -1), .9, axis=1)[None, :, None, None]


def commute_field(cfg, memory:float):
    "`(T, 2, H, W)` float32 fields of inflow and outflow: each commute's demand leaves its origin and arrives at its destination `lag` steps later."
    raw = _commute_raw(cfg, memory)[1]
    return raw / _commute_scale(raw)


def commute_room(cfg, memory:float, amplitude:float, counts, lam0, steps, t_out:int=12):
    """Test MSE (counts) of forecasts that know the rate λ₀ (calendar, rain, incidents) at every lead and every commute's
    demand up to the forecast time exactly: `per_cell` damps each cell's own field (all a model of one cell's past can
    know), `map` reads each arrival off its departure `lag` steps earlier (exact up to that lead), `rate` uses λ₀ alone;
    `rate_and_frame` reads the field off the last input frame's counts (log(count / λ₀), damped per cell)."""
    (a, lag, B_src, B_dst), raw = _commute_raw(cfg, memory); L, P = lag.max(), np.arange(len(lag))
    scale = _commute_scale(raw)[0]
    err = {k: [] for k in ("per_cell", "map", "rate", "rate_and_frame")}
    for s in steps:  # forecast times: the last input step of each test window
        now_in, now_out = a[L + s - lag, P], a[L + s]  # each commute's demand arriving and leaving now
        for k in range(1, t_out + 1):
            arr = np.where(k <= lag, a[L + s + k - lag, P], now_out * memory ** (k - lag))
            truth, lam = counts[s + k], lam0[s + k]
            for name, f in (("per_cell", _commute_maps(now_in * memory**k, now_out * memory**k, B_src, B_dst) / scale),
                            ("map", _commute_maps(arr, now_out * memory**k, B_src, B_dst) / scale), ("rate", 0.)):
                err[name].append(((lam * np.exp(amplitude * f) - truth) ** 2).mean())
            seen = np.log(np.clip(counts[s], 1, None) / np.clip(lam0[s], 1, None)) * memory**k
            err["rate_and_frame"].append(((lam * np.exp(seen) - truth) ** 2).mean())
    return {k: float(np.mean(v)) for k, v in err.items()}


def patch(days:int, memory:float, speed:float, amplitude:float, field:str="transport"):
    "Make this process's quick traffic the framing `field` (transport | commute) (every worker calls it)."
    import s2kd.data.traffic as tr
    if getattr(tr.simulate_traffic, "framing", None): return
    plain = tr.simulate_traffic
    rate = lambda cfg: plain(dataclasses.replace(cfg, count_noise=False, smooth_noise=0.0), "cpu")  # λ₀ without a field
    def simulate(cfg, device="auto"):
        lam, info = rate(cfg)
        xi = transported_field(cfg, memory, speed)[:, None] if field == "transport" else commute_field(cfg, memory)
        lam = lam * np.exp(amplitude * xi)
        eps = np.random.default_rng([cfg.seed, 31]).standard_normal(lam.shape, dtype=np.float32)
        return np.round(np.clip(lam + np.sqrt(np.clip(lam, 0, None)) * eps, 0, None)).astype(np.float32), info
    simulate.framing, simulate.rate = field, rate
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
    ap.add_argument("--field", choices=("transport", "commute"), default="transport",
                    help="transport: the smooth field carried across the city; commute: demand leaving homes arrives elsewhere later")
    ap.add_argument("--amplitude", type=float, default=.25, help="std of the log-multiplicative field (the generator's: 0.08)")
    ap.add_argument("--students", nargs="+", default=["resnet", "unet"]); ap.add_argument("--seeds", nargs="+", type=int, default=[42])
    ap.add_argument("--jobs", type=int, default=1); ap.add_argument("--cache", default=None, help="its own folder (default: a new temporary one)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    framing = dict(days=a.days, memory=a.memory, speed=a.speed, amplitude=a.amplitude)
    if a.field != "transport": framing["field"] = a.field  # the transport records predate the option
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
    if a.field == "commute":  # what the data leaves to forecasters that know the commutes (and the rate)
        import s2kd.data.traffic as tr
        cfg, t = tr.traffic_config("quick"), ds.time.values
        lo, hi = (np.datetime64(v) for v in json.loads(ds.attrs["splits"])["test"])
        first, last = int(np.searchsorted(t, lo)), int(np.searchsorted(t, hi, side="right")) - 1
        counts = np.stack([ds.inflow.values[0], ds.outflow.values[0]], 1)  # (T, 2, H, W), as the generator's channels
        t_in, t_out = int(ds.attrs["t_in"]), int(ds.attrs["t_out"])
        out["room"] = dict(commute_room(cfg, a.memory, a.amplitude, counts, tr.simulate_traffic.rate(cfg)[0],
                                        range(first + t_in - 1, last - t_out + 1), t_out), knows=commute_room.__doc__.split("\n\n")[0])
        print("forecasts that know the rate and the commutes (test MSE):", {k: round(v, 1) for k, v in out["room"].items() if k != "knows"})
    for r in rows: print(f"{r['model']:24s} seed {r['seed']:3d} test MSE {r['test']:9.2f}  skill {1 - r['test'] / refs[best]['test']:+.1%}")
    print(f"references (test): {out['references']}; best on validation: {best}")
    print(f"teacher leads the best student ({bs}) by {out['teacher_lead_over_best_student']:+.1%} (gate 3: +10 %)")
    write(a.out, out)  # None: nothing written


if __name__ == "__main__": main()
