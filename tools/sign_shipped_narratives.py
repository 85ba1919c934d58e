#!/usr/bin/env python
"""Write data.json beside the shipped narratives: the value signature and info hash of the embedded quick data they
describe (texts untouched).

Checks that every record names the window the data has at its index, then writes `<key>/<split>/data.json`
(`s2kd.narrate.cache.write_data_signature`). Usage: `python tools/sign_shipped_narratives.py traffic winds ...`
"""
import json, sys
from pathlib import Path
import s2kd
from s2kd.data.core import load_windows
from s2kd.data.embedded import dataset_key
from s2kd.narrate.cache import write_data_signature
from s2kd.narrate.lm import window_fields
root = Path(s2kd.__file__).parent / "narratives"
for name in sys.argv[1:]:
    key = dataset_key(name, "quick", 0); w = load_windows(name, size="quick", seed=0)
    for split in ("train", "val", "test"):
        ds, folder = getattr(w, split), root / key / split
        for f in folder.glob("*.jsonl"):
            for line in f.read_text().splitlines():
                r = json.loads(line); want = window_fields(ds, r["index"])
                got = {k: r.get(k) for k in want}
                assert got == json.loads(json.dumps(want, default=str)), (f, r["index"], got, want)
        write_data_signature(ds, folder, dataset=key, split=split)
        print(key, split, len(ds), (folder / "data.json").stat().st_size)
