"""Re-key a dataset's shipped SmolLM2 narratives to new split boundaries, without re-narrating the windows they describe.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python tools/rekey_shipped_narratives.py traffic [--check 3]

A narrative is a function of one window's frames, times and grid (`s2kd.narrate.core.summarize` reads the window in
physical units; no split statistics), and decoding is greedy. When only a dataset's split boundaries move, every
window that existed before keeps its text: this tool finds it by (member, first input time) in the old files of any
split and writes it under its new split and index. Windows that were in no split before (they straddled an old
boundary) are narrated now. `--check K` re-narrates K re-keyed windows per split and stops, changing nothing, unless
the texts are identical. Then `data.json` is rewritten for the new windows (`write_data_signature`).
"""
import argparse, json, os, sys

from s2kd.data.core import load_windows
from s2kd.data.embedded import dataset_key
from s2kd.narrate.cache import _record, window_sample, write_data_signature
from s2kd.narrate.core import get_narrator
from s2kd.narrate.lm import narratives_dir, window_fields

SPLITS = ("train", "val", "test")

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name"); ap.add_argument("--size", default="quick"); ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", type=int, default=3, help="re-narrate this many re-keyed windows per split and compare")
    a = ap.parse_args(argv)
    nar = get_narrator("smollm2", batch_size=8, threads=int(os.environ.get("OMP_NUM_THREADS", "1")))
    key, w = dataset_key(a.name, a.size, a.seed), load_windows(a.name, size=a.size, seed=a.seed)
    root = narratives_dir() / key
    files = {s: root / s / f"{nar.identity()}.jsonl" for s in SPLITS}
    old = {}
    for s, f in files.items():
        for line in f.read_text(encoding="utf-8").splitlines():
            r = json.loads(line); old[(r["member"], r["time_in0"])] = r
    out, new_idx = {}, {}
    for s in SPLITS:
        ds = getattr(w, s); recs, todo = [], []
        for i in range(len(ds)):
            f = window_fields(ds, i)
            r = old.get((f["member"], f["time_in0"]))
            recs.append(dict(r, index=i, split=s, **f) if r else None)
            if r is None: todo.append(i)
        for i in todo:  # windows no old split held
            t = nar([window_sample(ds, i)])[0]
            recs[i] = dict(_record(i, t, nar, key, s), every=1, **window_fields(ds, i))
        step = max(1, len(ds) // max(a.check, 1))
        for i in [i for i in range(0, len(ds), step) if i not in todo][:a.check]:
            t = nar([window_sample(ds, i)])[0]
            if t != recs[i]["text"]:
                sys.exit(f"{files[s]}: window {i} ({recs[i]['time_in0']}) narrated now differs from the shipped text; nothing written")
        out[s], new_idx[s] = recs, todo
        print(f"{key}/{s}: {len(ds)} windows, {len(ds) - len(todo)} re-keyed, {len(todo)} narrated now, "
              f"{min(a.check, len(ds))} re-narrated and identical")
    for s, recs in out.items():
        files[s].write_text("".join(json.dumps(r, default=str, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
        write_data_signature(getattr(w, s), files[s].parent, dataset=key, split=s)

if __name__ == "__main__":
    main()
