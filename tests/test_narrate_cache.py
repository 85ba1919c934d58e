"""Narrators and the narrative/embedding cache on the embedded datasets: determinism, domain phrasing, identities,
cache keying, resume after an interruption, torn-line recovery, embeddings and the `s2kd narrate` CLI."""
import json, os, time, warnings
import pandas as pd

os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("HF_HUB_OFFLINE", "1")
import pytest, torch
from torch.utils.data import DataLoader

from s2kd.core import DataError
from s2kd.data.core import load_windows
import s2kd.narrate.core as core
from s2kd.narrate.core import EventNarrator, StatisticalNarrator, get_narrator, render_prompt, summarize
from s2kd.narrate.cache import (NarrativeCache, TextConditioned, build_embeddings, build_narratives, cli_narrate,
                                data_fingerprint, load_embeddings, window_sample)

torch.set_num_threads(1)

@pytest.fixture(scope="module")
def root(tmp_path_factory): return tmp_path_factory.mktemp("s2kd-cache")

@pytest.fixture(scope="module")
def windows(root):
    "Tiny embedded datasets, generated once into the test's cache."
    out = {}
    for name in ("traffic", "navier_stokes", "plume"):
        try: out[name] = load_windows(name, size="tiny", cache_dir=root)
        except ModuleNotFoundError: pass   # generator not written yet
    if "traffic" not in out: pytest.skip("the traffic generator is not available")
    return out

def key(name): return f"{name}-tiny-seed0"

def test_determinism(windows):
    for name, w in windows.items():
        samples = [window_sample(w.train, i) for i in range(3)]
        for n in ("stat-coarse", "stat-rich", "event"):
            a, b = get_narrator(n)(samples), get_narrator(n)([window_sample(w.train, i) for i in range(3)])
            assert a == b, (name, n)
        rich = get_narrator("stat-rich")(samples)
        assert len(set(rich)) == 3, f"{name}: different windows should read differently: {rich}"
        json.dumps(summarize(samples[0]))

def test_domain_phrasing(windows):
    tr = windows["traffic"].train
    text = StatisticalNarrator("rich")([window_sample(tr, 0)])[0]
    day = pd.Timestamp(tr.info(0)["time_in"][-1]).day_name()  # the weekday of the last input frame
    assert "district" in text and day in text, text
    ev = next(i for i in range(len(tr)) if any(e["phase"] != "forecast" for e in tr.info(i).get("events", [])))
    kind = next(e for e in tr.info(ev)["events"] if e["phase"] != "forecast")["kind"].replace("_", " ")  # one it may tell
    assert kind in EventNarrator()([window_sample(tr, ev)])[0]
    assert "urban traffic analyst" in render_prompt(summarize(window_sample(tr, 0)))
    if "navier_stokes" in windows:
        s = window_sample(windows["navier_stokes"].train, 0)
        assert "coherent vortices" in StatisticalNarrator()([s])[0]
        assert "viscosity ν =" in EventNarrator()([s])[0]
    if "plume" in windows:
        s = window_sample(windows["plume"].train, 0)
        assert "plume rises from" in StatisticalNarrator()([s])[0]
        assert "heat-release rate" in EventNarrator()([s])[0]

def test_event_future_is_privileged(windows):
    ds = windows["traffic"].train
    i = next((i for i in range(len(ds)) if any(e.get("phase") == "forecast" for e in ds.info(i).get("events", []))), None)
    if i is None: pytest.skip("no window with an event that starts in the forecast window")
    now, fut = EventNarrator()([window_sample(ds, i)])[0], EventNarrator(future=True)([window_sample(ds, i, True)])[0]
    assert "In the forecast window" in fut and "In the forecast window" not in now

def test_event_phase_without_tags_matches_the_data_layer(windows):
    "Events without the data layer's `phase` tag get the same phase from their time stamps, in every split: a split's `t0`"
    " counts on its own axis, the events' `time_index` on the whole dataset's, so the two must not be compared."
    n = 0
    for split in ("train", "val", "test"):
        ds = getattr(windows["traffic"], split)
        for i in range(len(ds)):
            info = ds.info(i)
            for e in info.get("events") or []:
                bare = {k: v for k, v in e.items() if k != "phase"}
                assert core.event_phase(bare, info) == ("future" if e["phase"] == "forecast" else "input"), (split, i, e)
                n += 1
    assert n > 0

def test_identity_changes_with_config(monkeypatch):
    ids = {StatisticalNarrator("coarse").identity(), StatisticalNarrator("rich").identity(),
           StatisticalNarrator("rich", max_vars=1).identity(), EventNarrator().identity(), EventNarrator(future=True).identity()}
    assert len(ids) == 5
    assert StatisticalNarrator("rich").identity() == get_narrator("stat-rich").identity()
    before = StatisticalNarrator("rich").identity()
    monkeypatch.setattr(core, "PROMPT_VERSION", "999")
    assert StatisticalNarrator("rich").identity() != before

def test_cache_roundtrip_and_keying(windows, root):
    ds = windows["traffic"].val
    nar = StatisticalNarrator("rich")
    c = build_narratives(ds, nar, split="val", dataset_key=key("traffic"), root=root, progress=False)
    assert c.path == root / "narratives" / key("traffic") / f"data-{data_fingerprint(ds)}" / "val" / f"{nar.identity()}.jsonl"
    assert c.texts(len(ds)) == nar([window_sample(ds, i) for i in range(len(ds))])
    r = c.load()[0]
    assert {"index", "text", "narrator", "config", "prompt_version", "dataset", "split", "created_at", "s2kd"} <= set(r)
    assert (r["narrator"], r["dataset"], r["split"]) == (nar.identity(), key("traffic"), "val")
    other = build_narratives(windows["traffic"].test, nar, split="test", dataset_key=key("traffic"), root=root, progress=False)
    assert other.path.parent.name == "test" and other.path != c.path
    coarse = build_narratives(ds, "stat-coarse", split="val", dataset_key=key("traffic"), root=root, progress=False)
    assert coarse.path != c.path and coarse.texts() != c.texts()
    # a file moved under another narrator's name is refused, never reused
    stale = NarrativeCache(root, key("traffic"), "val", StatisticalNarrator("rich", max_vars=1).identity(), data=ds)
    stale.path.write_text(c.path.read_text())
    with pytest.raises(DataError, match="stale or moved"): stale.load()
    stale.path.unlink()

class Dies(StatisticalNarrator):
    "Raises on the `die_at`-th call, like a process killed mid-build; records what it narrated."
    def __init__(self, die_at=3, **kw): super().__init__(**kw); self.calls, self.die_at, self.done = 0, die_at, []
    def narrate(self, samples):
        self.calls += 1
        if self.calls == self.die_at: raise KeyboardInterrupt
        self.done += [s["info"]["index"] for s in samples]
        return super().narrate(samples)

def test_resume_after_interruption(windows, tmp_path):
    ds = windows["traffic"].val
    n = len(ds)
    nar = Dies(die_at=3, level="coarse")
    kw = dict(split="val", dataset_key=key("traffic"), root=tmp_path, batch_size=4, progress=False)
    with pytest.raises(KeyboardInterrupt): build_narratives(ds, nar, **kw)
    c = NarrativeCache(tmp_path, key("traffic"), "val", nar.identity(), data=ds)
    assert sorted(c.load()) == list(range(8))
    nar.die_at, nar.done = 0, []
    build_narratives(ds, nar, **kw)
    assert nar.done == list(range(8, n))
    assert c.texts(n) == StatisticalNarrator("coarse")([window_sample(ds, i) for i in range(n)])
    assert len(c.path.read_text().splitlines()) == n       # nothing written twice

def test_torn_line_recovery(windows, tmp_path):
    ds = windows["traffic"].val
    kw = dict(split="val", dataset_key=key("traffic"), root=tmp_path, progress=False)
    c = build_narratives(ds, "stat-rich", **kw)
    good = c.path.read_bytes()
    c.path.write_bytes(good[:-25])                         # the last record cut mid-line
    with pytest.warns(UserWarning, match="torn last line"):
        assert sorted(c.load()) == list(range(len(ds) - 1))
    build_narratives(ds, "stat-rich", **kw)
    assert [json.loads(l)["text"] for l in c.path.read_text().splitlines()] == \
           [json.loads(l)["text"] for l in good.decode().splitlines()]
    c.path.write_bytes(good.replace(b"\n", b"\n{oops\n", 1))  # a damaged middle line is an error, not skipped
    with pytest.raises(DataError, match=r":2: not a JSON record"): c.load()

def test_embeddings_and_text_conditioned(windows, root):
    from s2kd.narrate.encoders import get_encoder
    enc = get_encoder("hashing")
    ds = windows["traffic"].val
    e = build_embeddings(ds, StatisticalNarrator("rich"), enc, split="val", dataset_key=key("traffic"), root=root, progress=False)
    N, L, D = e["tokens"].shape
    assert N == len(ds) and e["mask"].shape == (N, L) and e["pooled"].shape == (N, D) and e["mask"].any(1).all()
    path = NarrativeCache(root, key("traffic"), "val", StatisticalNarrator("rich").identity(), data=ds).embeddings_path(enc.identity())
    again = load_embeddings(path)                          # weights_only=True inside
    assert torch.equal(again["tokens"], e["tokens"])
    b = next(iter(DataLoader(TextConditioned(ds, path), batch_size=5)))
    assert b["x"].shape[0] == 5 and b["text"].shape == (5, L, D) and b["text"].dtype == torch.float32
    assert b["text_mask"].dtype == torch.bool and b["text_mask"].shape == (5, L)
    with pytest.raises(DataError, match="embeddings cover"): TextConditioned(windows["traffic"].train, e)

def test_cli_narrate_resumes(windows, tmp_path, capsys):
    args = ["traffic", "--size", "tiny", "--narrator", "stat-coarse", "--splits", "val,test", "--encoder", "hashing",
            "--cache", str(tmp_path), "--no-progress"]
    assert cli_narrate(args) == 0
    out = capsys.readouterr().out
    assert "val:" in out and "test:" in out and "embeddings" in out
    c = NarrativeCache(tmp_path, key("traffic"), "val", get_narrator("stat-coarse").identity(), data=windows["traffic"].val)
    first = c.path.read_text()
    assert cli_narrate(args) == 0                          # a second run resumes: nothing rewritten
    assert c.path.read_text() == first
    assert cli_narrate(["traffic", "--narrator", "nope", "--cache", str(tmp_path)]) == 2

def test_cli_narrate_other_windows_are_what_training_reads(tmp_path):
    "`s2kd narrate --stride/--t-in/--t-out` files its narratives and embeddings where training (`load_data`) looks for them."
    from pathlib import Path
    from s2kd.train.config import RunConfig
    from s2kd.train.experiment import load_data
    assert cli_narrate(["traffic", "--size", "tiny", "--narrator", "stat-coarse", "--stride", "2", "--t-in", "4", "--t-out", "3",
                        "--encoder", "hashing", "--cache", str(tmp_path), "--no-progress"]) == 0
    files = lambda ext: sorted(Path(tmp_path, "narratives").rglob(f"*.{ext}"))
    built = files("jsonl"), files("pt")
    assert len(built[0]) == 3 and len(built[1]) == 3
    w, _ = load_data(RunConfig(dataset="traffic", size="tiny", teacher="multimodal", method="s2kd", narrator="stat-coarse",
                               encoder="hashing", text_tokens=256, stride=2, t_in=4, t_out=3, cache_dir=str(tmp_path)))
    assert (files("jsonl"), files("pt")) == built   # nothing narrated or encoded again
    assert all("traffic-tiny-seed0-4to3-stride2" in str(f) for f in built[0])

def test_shipped_narratives_match_the_quick_data(tmp_path):
    """The shipped SmolLM2 texts are used on the embedded quick data they were written about: same values, same `info_hash`.
    The plume is chaotic: on a CPU whose float rounding differs from the shipping machine's, its simulation parts after some
    steps (an AVX-512 Xeon: 81 of 900 frames), and the texts are used for the windows before that, the rest narrated again."""
    from s2kd.narrate.lm import narratives_dir
    for name in ("traffic", "winds", "plume", "navier_stokes", "convection"):  # every shipped dataset
        w = load_windows(name, size="quick")
        for split in ("train", "val", "test"):
            f, = (narratives_dir() / f"{name}-quick-seed0" / split).glob("*.jsonl")
            c = NarrativeCache(tmp_path, f"{name}-quick-seed0", split, f.stem, data=getattr(w, split))
            with warnings.catch_warnings(record=True) as ws:
                warnings.simplefilter("always")  # a refusal or a partial use says why in a warning
                keep = c.shipped_windows()
            said = [str(x.message) for x in ws]
            if name == "plume" and keep is not None and len(keep) < len(c.windows):
                print(f"plume {split}: shipped texts for {len(keep)} of {len(c.windows)} windows on this CPU")
                assert len(keep) >= len(c.windows) // 3 and len(said) == 1 and "diverged on this CPU" in said[0], said
            else:
                assert keep is not None and len(keep) == len(c.windows) and not said, (name, split, said)

def test_shipped_narratives_refuse_moved_fields_and_old_signatures(tmp_path, monkeypatch):
    "A field rolled one cell keeps every frame's mean and std: the spatial moments refuse it (until session 36 its texts"
    " were used, naming the old places); a data.json signed with the mean and std alone asks to be signed again."
    import json
    from s2kd.data.core import WindowDataset, toy_dataset
    from s2kd.narrate.cache import write_data_signature
    ds = toy_dataset(n_time=12, seed=0); w = WindowDataset(ds, 2, 2)
    shipped = tmp_path / "ship" / "toy" / "train"; shipped.mkdir(parents=True)
    monkeypatch.setattr(NarrativeCache, "shipped_path", lambda self: shipped / self.path.name)
    c = lambda d: NarrativeCache(tmp_path / "cache", "toy", "train", "stat-coarse", data=d)
    (shipped / c(w).path.name).write_text("")
    write_data_signature(w, shipped, dataset="toy", split="train")
    assert c(w).shipped_windows() == set(range(len(w)))
    with pytest.warns(UserWarning, match="describe other data values"):
        assert c(WindowDataset(ds.roll(x=1, roll_coords=False), 2, 2)).shipped_windows() is None
    rec = json.loads((shipped / "data.json").read_text())
    rec["signature"]["stats"] = [s[:2] for s in rec["signature"]["stats"]]  # as signed before session 36
    (shipped / "data.json").write_text(json.dumps(rec))
    with pytest.warns(UserWarning, match="re-sign them"):
        assert c(w).shipped_windows() is None


def test_throughput_report(windows):
    "Narratives per second with one thread (printed, not asserted)."
    for name, w in windows.items():
        samples = [window_sample(w.train, i, True) for i in range(min(len(w.train), 40))]
        for n in ("stat-coarse", "stat-rich", "event", "event-future"):
            nar = get_narrator(n); t = time.perf_counter(); nar(samples)
            print(f"{name:14s} {n:13s} {len(samples) / (time.perf_counter() - t):8.1f} narratives/s")
