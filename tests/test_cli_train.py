"""The training command (issue 11): `s2kd train CONFIG.yaml [--set key=value]`, `s2kd evaluate RUN_DIR --data FILE`,
`s2kd data show FILE.nc`; bad input is one `error:` line and exit status 2."""
import re, json, os, subprocess, sys
from pathlib import Path

import pytest

from s2kd.cli import main
from s2kd.data.core import toy_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    toy_dataset(n_member=3, n_time=24, h=8, w=8).to_netcdf(d/"mine.nc")
    (d/"run.yaml").write_text(f"# a run of my own data\ndataset: {d/'mine.nc'}\nmethod: kd\nepochs: 1\nbatch_size: 8\n"
                              f"lr: 1e-3\ndevice: cpu\nname: mine-kd\ncache_dir: {d/'cache'}\nresults_dir: {d/'results'}\n")
    return d


def _one_error_line(err:str, *parts):
    assert re.match(r"s2kd [a-z]+: error: ", err) and err.count("\n") == 1, err  # one line, as `s2kd.cli.main` prints
    for p in parts: assert p in err, (p, err)


def test_train_then_evaluate(files, capsys):
    "Train from YAML with an override, then score the student on the file; the numbers are the run's."
    assert main(["train", str(files/"run.yaml"), "--set", "epochs=2", "--set", "teacher_cache=false"]) == 0
    out = capsys.readouterr().out
    assert "student" in out and "results: " in out
    res = json.loads((files/"results"/"mine-kd"/"result.json").read_text())
    assert res["config"]["epochs"] == 2 and res["config"]["teacher_cache"] is False and res["config"]["lr"] == 1e-3  # exact: values parsed from the YAML literals
    assert res["fit"]["epochs_run"] == 2
    assert main(["evaluate", str(files/"results"/"mine-kd"), "--data", str(files/"mine.nc"), "--json", str(files/"m.json"),
                 "--cache", str(files/"cache")]) == 0
    assert capsys.readouterr().out.startswith("student on ")
    m = json.loads((files/"m.json").read_text())["metrics"]
    assert m["mse"] == pytest.approx(res["metrics"]["student"]["test"]["mse"], rel=1e-5)  # same model, same windows
    assert main(["evaluate", str(files/"results"/"mine-kd"), "--model", "teacher", "--cache", str(files/"cache")]) == 2
    assert "recorded as <elsewhere>/mine.nc" in capsys.readouterr().err  # result.json keeps no absolute path: name the data
    assert main(["evaluate", str(files/"results"/"mine-kd"), "--model", "teacher", "--cache", str(files/"cache"),
                 "--data", str(files/"mine.nc")]) == 0


def test_print_config(files, capsys):
    assert main(["train", str(files/"run.yaml"), "--set", "seed=3", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "seed: 3\n" in out and "method: kd\n" in out and "w_kd_feat: 1.0\n" in out


@pytest.mark.parametrize("argv, parts", [
    (["train", "missing.yaml"], ["missing.yaml: no such config file"]),
    (["train", "{d}/bad_key.yaml"], ["bad_key.yaml: unknown key 'epoch'", "did you mean 'epochs'"]),
    (["train", "{d}/run.yaml", "--set", "epochs=two"], ["--set epochs=two: RunConfig.epochs is int; 'two' is not"]),
    (["train", "{d}/run.yaml", "--set", "amp"], ["--set amp: expected key=value"]),
    (["train", "{d}/run.yaml", "--set", "dataset={d}/gone.nc"], ["gone.nc: no such file"]),
    (["evaluate", "{d}/results/never"], ["never/result.json: no such file"]),
    (["data", "show", "{d}/gone.nc"], ["gone.nc: no such file"]),
])
def test_clear_errors(files, capsys, argv, parts):
    (files/"bad_key.yaml").write_text("dataset: plume\nepoch: 3\n")
    assert main([a.format(d=files) for a in argv]) == 2
    c = capsys.readouterr()
    _one_error_line(c.err or c.out, *parts)


def test_data_show_a_file(files, capsys):
    assert main(["data", "show", str(files/"mine.nc")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mine: toy") and "variables  u [m s-1], v [m s-1]" in out and "splits     by time" in out


def test_console_exit_status(files):
    "Through a real process: status 2 and one line on stderr, no traceback."
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-c", "import sys; from s2kd.cli import main; sys.exit(main())", "train",
                        str(files/"run.yaml"), "--set", "lr=fast"], capture_output=True, text=True, env=env, cwd=files)
    assert p.returncode == 2 and p.stderr == "s2kd train: error: --set lr=fast: RunConfig.lr is float; 'fast' is not\n", p.stderr


def test_data_show_a_360_day_file(tmp_path, capsys):
    "A file on a 360-day calendar (cftime dates) is shown with its dates, not a crash."
    import xarray as xr
    ds = toy_dataset(n_time=40).assign_coords(time=xr.date_range("2001-02-25", periods=40, freq="D", calendar="360_day", use_cftime=True))
    ds.attrs = dict(title="cal", t_in=2, t_out=2)
    ds.to_netcdf(tmp_path/"cal.nc")
    assert main(["data", "show", str(tmp_path/"cal.nc")]) == 0
    assert "time       2001-02-25 .. 2001-04-04 (40 steps)" in capsys.readouterr().out  # Feb 30 exists on this calendar
