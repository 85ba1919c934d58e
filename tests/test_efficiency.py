"""s2kd.efficiency: well-formed numbers (never timing claims) and the `s2kd bench latency` CLI."""
import json, subprocess, sys, textwrap

import pytest
import torch
from torch import nn

from s2kd.efficiency import bench_latency, cli_bench_latency, count_flops, count_params, latency, peak_memory, profile


def test_flops_are_exact_for_linear_and_batched():
    m = nn.Linear(7, 5)
    for b in (1, 3):
        assert count_flops(m, torch.randn(b, 7)) == 2 * 7 * 5 * b
    assert count_params(m) == 7 * 5 + 5


def test_latency_and_profile_are_well_formed():
    m = nn.Sequential(nn.Flatten(), nn.Linear(2 * 8 * 8, 16))
    x = torch.randn(1, 2, 8, 8)
    r = latency(m, x, threads=1, batch=8, min_run_time=0.02)
    assert r["batch"] == 8 and r["threads"] == 1 and r["median_ms"] > 0 and r["iqr_ms"] >= 0
    p = profile(m, (x,), batches=(1, 4), min_run_time=0.02)
    assert p["flops"] == 2 * 128 * 16 and p["params"] == 128 * 16 + 16
    assert p["latency_ms_b1"] > 0 and p["latency_ms_b4"] > 0 and p["peak_bytes"] >= 16 * 4
    assert torch.get_num_threads() >= 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_peak_memory_cuda():
    m = nn.Linear(256, 1024).cuda()
    pm = peak_memory(m, torch.randn(64, 256, device="cuda"))
    assert pm["peak_bytes"] >= 64 * 1024 * 4 and pm["method"].startswith("cuda")


@pytest.fixture
def tiny_registry(tmp_path, monkeypatch):
    (tmp_path / "tiny_registry_s2kd.py").write_text(textwrap.dedent('''
        from torch import nn
        ROLE = {"teach": "teacher", "stud": "student"}
        class Net(nn.Module):
            def __init__(self, *, in_shape, t_out, width):
                super().__init__(); T, C, H, W = in_shape; self.o = (t_out, C)
                self.net = nn.Sequential(nn.Conv2d(T * C, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, t_out * C, 1))
            def forward(self, x):
                B, T, C, H, W = x.shape
                return self.net(x.reshape(B, T * C, H, W)).reshape(B, *self.o, H, W)
        def build_model(name, *, in_shape, t_out, preset):
            return Net(in_shape=in_shape, t_out=t_out, width=32 if name == "teach" else 2)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "tiny_registry_s2kd"


def test_cli_json_is_the_same_figures(tiny_registry, capsys, tmp_path):
    out = tmp_path / "bench.json"
    rc = cli_bench_latency(["--preset", "smoke", "--datasets", "navier_stokes", "traffic", "--json", "--min-run-time", "0.01",
                            "--registry", tiny_registry, "--out", str(out)])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res == json.loads(out.read_text())
    assert res["threads"] == 1 and res["preset"] == "smoke"
    assert [(r["dataset"], r["role"]) for r in res["rows"]] == [("navier_stokes", "teacher"), ("navier_stokes", "student"),
                                                                 ("traffic", "teacher"), ("traffic", "student")]
    stud = res["rows"][1]
    assert stud["ratio"]["teach"] == pytest.approx(stud["median_ms"] / res["rows"][0]["median_ms"])
    assert stud["in_shape"] == [4, 1, 32, 32] and stud["flops"] > 0  # the smoke (tiny) Navier–Stokes data: 4 frames of 32×32


def test_cli_table_states_threads(tiny_registry, capsys):
    assert cli_bench_latency(["--preset", "smoke", "--datasets", "winds", "--threads", "1", "--min-run-time", "0.01",
                              "--registry", tiny_registry]) == 0
    text = capsys.readouterr().out
    assert "threads=1" in text.splitlines()[0] and "s/teach" in text


def test_cli_times_the_models_as_run_builds_them(capsys):
    "The traffic U-Net of every table has a calendar head (and forecasts a residual): the CLI counts it; --bare does not."
    args = ["--preset", "smoke", "--datasets", "traffic", "--models", "unet", "--json", "--min-run-time", "0.01", "--quiet"]
    assert cli_bench_latency(args) == 0; built = json.loads(capsys.readouterr().out)["rows"][0]
    assert cli_bench_latency(args + ["--bare"]) == 0; bare = json.loads(capsys.readouterr().out)["rows"][0]
    from s2kd.models.registry import param_count
    from s2kd.paper import run_builds
    want = param_count("unet", in_shape=tuple(built["in_shape"]), t_out=built["t_out"], preset="smoke", **run_builds(["traffic"], "smoke")["traffic"])
    assert built["params"] == want > bare["params"], (built["params"], want, bare["params"])  # until session 36: the bare count


def test_real_registry_smoke_one_dataset():
    reg = pytest.importorskip("s2kd.models.registry")
    res = bench_latency(["winds"], preset="smoke", min_run_time=0.01, models=["unet", "simvp"], registry=reg)
    ok = [r for r in res["rows"] if "error" not in r]
    assert {r["model"] for r in ok} == {"unet", "simvp"}, res["rows"]
    assert all(r["params"] > 0 and r["median_ms"] > 0 for r in ok)


def test_console_entry_point_help():
    code = "import sys; from s2kd.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", code, "bench", "latency", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--preset" in r.stdout and "--threads" in r.stdout, r.stderr
