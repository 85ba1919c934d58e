"""Rewrite committed result files so that they carry no absolute machine path (a one-off repair; numbers untouched).

    python tools/relativize_results.py --root /work/main --cache /root/.cache/s2kd results

`--root` is the repository folder and `--cache` the s2kd cache folder of the machine that wrote the files; every
absolute path string under them becomes relative (`results/...`, `<cache>/runs/...`), any other absolute path
`<elsewhere>/<name>` (s2kd.core.portable_paths, the rule `run` now applies when it writes). Only JSON files change,
and only their path strings: each file is re-serialised exactly as `atomic_write_json` writes it.
"""
import argparse, json, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from s2kd.core import portable_paths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("folders", nargs="+", help="folders whose **/*.json are rewritten")
    p.add_argument("--root", required=True, help="the repository folder on the machine that wrote the files")
    p.add_argument("--cache", required=True, help="the s2kd cache folder on that machine")
    p.add_argument("--check", action="store_true", help="only report files that still carry an absolute path (rc 1)")
    a = p.parse_args(argv); bad = []
    for f in sorted(x for d in a.folders for x in Path(d).rglob("*.json")):
        text = f.read_text(); new = json.dumps(portable_paths(json.loads(text), {"": a.root, "<cache>": a.cache}), indent=2) + "\n"
        if new == text: continue
        bad.append(f)
        if not a.check: f.write_text(new); print(f"rewrote {f}")
    if a.check and bad: print("absolute paths in:\n" + "\n".join(map(str, bad))); return 1
    return 0


if __name__ == "__main__": sys.exit(main())
