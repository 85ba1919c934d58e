"""Record what the rule-based narrators write, for tests/test_narrator_texts.py.

A narrative cache is keyed by the narrator's identity (`Narrator.identity`: name, `version`, config, prompt version and
the wording revisions that apply to the data), so a change of wording must bump `version` (or a trait's revision), or
cached texts of the old wording are reused. The test holds each narrator's texts on three windows of three tiny
datasets (the winds: a global grid and monthly steps; a toy city: incidents and half-hourly steps; the toy grid) and fails
when the texts change at an unchanged identity. After a bump, from the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python tools/narrator_texts.py            # rewrite tests/narrator_texts.json
    OMP_NUM_THREADS=1 .venv/bin/python tools/narrator_texts.py --check    # only compare, as the test does
"""
import argparse, json, re, sys, tempfile
from pathlib import Path

FILE = Path(__file__).resolve().parents[1] / "tests" / "narrator_texts.json"
NARRATORS = ("stat-coarse", "stat-rich", "event", "event-future")
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
RTOL = 2e-3  # numbers in a text: printed to 3-4 digits from float32 statistics; another CPU can flip the last one


def city():
    "A toy grid as traffic: half-hourly steps from a Monday, and two incidents in its test windows."
    import numpy as np
    from s2kd.data.core import toy_dataset
    ds = toy_dataset(n_member=1, n_time=40, seed=1)
    t = np.datetime64("2016-03-07T00:00") + np.arange(40) * np.timedelta64(30, "m")
    ev = [dict(member=0, time_index=i, time=str(t[i]), kind=k, y=2, x=3, radius=1.5, magnitude=m, duration=4, description=d)
          for i, k, m, d in ((33, "accident", -0.6, "a crash blocks the ring road"), (36, "concert", 0.8, "a concert lets out"))]
    ds = ds.assign_coords(time=t).assign_attrs(domain="traffic", events=json.dumps(ev)); ds.attrs.pop("splits", None)
    return ds  # the default split: the last windows test


def windows(cache):
    "(name, windows) of the three datasets, test split (its first, middle and last windows are narrated). Their values are"
    " the same bits on every machine: the winds are a stored file, the others numpy's seeded generator (a simulated"
    " dataset's last bits follow the CPU, and a word chosen at a threshold could follow them)."
    from s2kd.data.core import load_windows, toy_dataset
    return [("winds", load_windows("winds", size="tiny", cache_dir=cache).test),
            ("city", load_windows(city(), 3, 2).test),
            ("toy", load_windows(toy_dataset(n_member=2, n_time=40, seed=0), 3, 2).test)]


def record(cache) -> list:
    from s2kd.narrate.cache import window_sample
    from s2kd.narrate.core import get_narrator
    out = []
    for d, w in windows(cache):
        idx = sorted({0, len(w) // 2, len(w) - 1})
        for n in NARRATORS:
            nar = get_narrator(n)
            out.append(dict(narrator=n, dataset=d, windows=idx, identity=nar.identity_on(w),
                            texts=nar([window_sample(w, i, future=True) for i in idx])))
    return out


def differs(a: str, b: str, rtol: float = RTOL) -> bool:
    "Whether two texts differ: in their words exactly, in their numbers beyond `rtol` (and 1 in the last printed digit)."
    if NUMBER.sub("#", a) != NUMBER.sub("#", b): return True
    for x, y in zip(NUMBER.findall(a), NUMBER.findall(b)):
        unit = 10.0 ** -(len(x.split(".")[1].split("e")[0]) if "." in x else 0)  # one unit of the last printed digit
        if abs(float(x) - float(y)) > max(rtol * abs(float(x)), 1.01 * unit): return True
    return False


def changed(old: list, new: list) -> list:
    "Texts that changed at an unchanged identity: the narrator's wording moved without a version bump."
    by = {(e["narrator"], e["dataset"]): e for e in old}
    return [f"{e['narrator']} on {e['dataset']}, window {i}: {o!r} -> {t!r}"
            for e in new if (o_ := by.get((e["narrator"], e["dataset"]))) and o_["identity"] == e["identity"]
            for i, o, t in zip(e["windows"], o_["texts"], e["texts"]) if differs(o, t)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the recorded file, write nothing")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache: new = record(cache)
    old = json.loads(FILE.read_text()) if FILE.exists() else []
    if bad := changed(old, new): print("texts changed at the same identity (bump the narrator's version):\n  " + "\n  ".join(bad), file=sys.stderr)
    if a.check or bad: return 1 if bad else 0
    FILE.write_text("[\n" + ",\n".join(" " + json.dumps(e, ensure_ascii=False) for e in new) + "\n]\n")
    print(f"wrote {FILE.relative_to(FILE.parents[1])}: {len(new)} narrator × dataset records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
