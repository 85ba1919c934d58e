"The real-format loaders: round trips on files written in exactly those formats, and every bad input named."
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.io import savemat

from s2kd.core import DataError
from s2kd.data.core import load_windows
from s2kd.data.loaders import (load_ns_mat, load_taxibj, load_taxibj_plus, load_weatherbench, load_weatherbench2,
                               write_mat_v73, write_weatherbench_example)


@pytest.fixture
def wb(tmp_path):
    return write_weatherbench_example(tmp_path / "wb", years=(2015, 2016, 2017), hours=48)


def test_weatherbench_round_trip(wb):
    raw = xr.open_dataset(wb / "temperature_850" / "temperature_850hPa_2016_5.625deg.nc")
    ds = load_weatherbench(wb, ["z500", "t850", "t2m"])
    assert dict(ds.sizes) == {"member": 1, "time": 144, "lat": 32, "lon": 64}
    np.testing.assert_array_equal(ds.t850.sel(time=raw.time).values[0], raw.t.values)
    w = load_windows(ds, 12, 12)
    assert w.train[0]["x"].shape == (12, 3, 32, 64)
    assert json.loads(ds.attrs["splits"])["test"][0].startswith("2017")


def test_weatherbench_pressure_level_folder(tmp_path):
    t = pd.date_range("2000-01-01", periods=30, freq="h")
    d = tmp_path / "geopotential"; d.mkdir()
    z = np.random.rand(30, 2, 32, 64).astype("float32")
    xr.Dataset({"z": (("time", "level", "lat", "lon"), z)},
               coords=dict(time=t, level=[500, 850], lat=np.linspace(-87.1875, 87.1875, 32), lon=np.arange(64) * 5.625)
               ).to_netcdf(d / "geopotential_2000_5.625deg.nc")
    ds = load_weatherbench(tmp_path, ["z500"])
    np.testing.assert_allclose(ds.z500.values[0], z[:, 0])


def test_weatherbench_scalar_level_is_checked(tmp_path):
    "A z500 file whose scalar `level` says 850 is refused, not loaded as z500 (a mislabelled file)."
    d = tmp_path / "geopotential_500"; d.mkdir()
    xr.Dataset({"z": (("time", "lat", "lon"), np.random.rand(30, 32, 64).astype("float32"))},
               coords=dict(time=pd.date_range("2000-01-01", periods=30, freq="h"), level=850,
                           lat=np.linspace(-87.1875, 87.1875, 32), lon=np.arange(64) * 5.625)
               ).to_netcdf(d / "geopotential_500hPa_2000_5.625deg.nc")
    with pytest.raises(DataError, match="'z' is at level 850, need 500"):
        load_weatherbench(tmp_path, ["z500"])


def test_weatherbench_inconsistent_grids_across_years(wb):
    f = wb / "2m_temperature" / "2m_temperature_2016_5.625deg.nc"
    ds = xr.open_dataset(f).load(); ds.close()
    ds.isel(lat=slice(0, 16)).to_netcdf(f)
    with pytest.raises(DataError, match=r"grid of 2m_temperature_2016_5.625deg.nc \(16x64\) differs from 2m_temperature_2015"):
        load_weatherbench(wb, ["t2m"])


def test_weatherbench_missing_variable_and_folder(wb, tmp_path):
    with pytest.raises(DataError, match="no files for 'u10'"):
        load_weatherbench(wb, ["u10"])
    with pytest.raises(DataError, match="unknown variable 'q700'"):
        load_weatherbench(wb, ["q700"])
    f = wb / "2m_temperature" / "2m_temperature_2015_5.625deg.nc"
    ds = xr.open_dataset(f).load().rename(t2m="temp"); ds.to_netcdf(tmp_path / "x.nc"); (tmp_path / "x.nc").replace(f)
    with pytest.raises(DataError, match=r"2m_temperature_2015_5.625deg.nc: variable 't2m' missing; has \['temp'\]"):
        load_weatherbench(wb, ["t2m"])


def test_weatherbench_corrupt_file_and_nan(wb):
    f = wb / "temperature_850" / "temperature_850hPa_2017_5.625deg.nc"
    ds = xr.open_dataset(f).load(); ds.close()
    ds.t.values[3, 4, 5] = np.nan; ds.to_netcdf(f)
    with pytest.raises(DataError, match="variable 't850' has 1 NaN value "):
        load_weatherbench(wb, ["t850"])
    f.write_bytes(b"\x89HDF garbage")
    with pytest.raises(DataError, match="temperature_850hPa_2017_5.625deg.nc: unreadable or corrupt netCDF"):
        load_weatherbench(wb, ["t850"])


def test_weatherbench_fill_values_declared_when_loading(wb):
    "A file that writes a lost hour as -9999 without a _FillValue: refused by name; `fill_values` makes it a missing frame."
    f = wb / "temperature_850" / "temperature_850hPa_2016_5.625deg.nc"
    ds = xr.open_dataset(f).load(); ds.close()
    ds.t.values[5] = -9999.0; ds.to_netcdf(f)  # one whole hour, 32 x 64 points
    with pytest.raises(DataError, match=r"variable 't850' holds -9999 at 2048 values.*fill_values=\[-9999.0\]"):
        load_weatherbench(wb, ["t850"])
    got = load_weatherbench(wb, ["t850"], fill_values=[-9999.0])
    assert np.isnan(got.t850.values[0, 48 + 5]).all() and not np.isnan(np.delete(got.t850.values[0], 48 + 5, 0)).any()
    with pytest.warns(UserWarning, match=r"1 missing frame\(s\).*2016-01-01T05:00"):
        load_windows(got, 6, 6)


def test_weatherbench2_zarr(tmp_path):
    t = pd.date_range("2017-01-01", periods=40, freq="6h")
    z = np.random.rand(40, 2, 64, 32).astype("float32")
    xr.Dataset({"geopotential": (("time", "level", "longitude", "latitude"), z)},
               coords=dict(time=t, level=[500, 850], longitude=np.arange(64) * 5.625,
                           latitude=np.linspace(-87.1875, 87.1875, 32))).to_zarr(tmp_path / "wb2.zarr")
    ds = load_weatherbench2(tmp_path / "wb2.zarr", ["z500", "geopotential@850"])
    np.testing.assert_allclose(ds.z500.values[0], z[:, 0].transpose(0, 2, 1))
    with pytest.raises(DataError, match=r"variable 't2m' missing \(looked for \['2m_temperature', 't2m'\]\)"):
        load_weatherbench2(tmp_path / "wb2.zarr", ["t2m"])
    with pytest.raises(DataError, match="has no level 700"):
        load_weatherbench2(tmp_path / "wb2.zarr", ["geopotential@700"])
    with pytest.raises(FileNotFoundError, match="no such zarr store"):
        load_weatherbench2(tmp_path / "none.zarr")


def _bj(n, t=4, c=2, h=32, w=32, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, t, c, h, w)).astype("float32")


def test_taxibj_round_trip_and_errors(tmp_path):
    X, Y = _bj(30), _bj(30, seed=1)
    np.savez(tmp_path / "dataset.npz", X_train=X, Y_train=Y, X_test=_bj(6), Y_test=_bj(6))
    with pytest.warns(UserWarning, match="do not slide by one frame"):  # random windows: the gaps cannot be checked
        ds = load_taxibj(tmp_path / "dataset.npz")
    w = load_windows(ds, 4, 4)
    assert (len(w.train), len(w.val), len(w.test)) == (13, 3, 6)  # 30 - 3 val - 2 × 7 dropped (t_in + t_out - 1 on each side of val)
    x, y = w.train.frames(5)
    np.testing.assert_allclose(x, X[5], atol=1e-5); np.testing.assert_allclose(y, Y[5], atol=1e-5)
    np.savez(tmp_path / "bad.npz", X_train=X, Y_train=Y, X_test=_bj(6))
    with pytest.raises(DataError, match=r"missing arrays \['Y_test'\]"):
        load_taxibj(tmp_path / "bad.npz")
    np.savez(tmp_path / "rank.npz", X_train=X[:, 0], Y_train=Y, X_test=_bj(6), Y_test=_bj(6))
    with pytest.raises(DataError, match=r"rank.npz:train: X has shape \(30, 2, 32, 32\), expected \(N, T, 2, H, W\)"):
        load_taxibj(tmp_path / "rank.npz")
    (tmp_path / "torn.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DataError, match="torn.npz: unreadable npz"):
        load_taxibj(tmp_path / "torn.npz")
    with pytest.raises(FileNotFoundError, match="nothere.npz: no such file"):
        load_taxibj(tmp_path / "nothere.npz")


def test_taxibj_plus_round_trip_and_missing_file(tmp_path):
    for i, s in enumerate(("train", "val", "test")):
        for io in ("input", "output"):
            np.save(tmp_path / f"{s}_{io}_data_reshaped.npy", _bj(3 + i, t=12, h=16, w=16, seed=i))
    ds = load_taxibj_plus(tmp_path)
    assert dict(ds.sizes) == {"member": 12, "time": 24, "y": 16, "x": 16}
    assert json.loads(ds.attrs["splits"])["test"] == [7, 8, 9, 10, 11]
    (tmp_path / "val_output_data_reshaped.npy").unlink()
    with pytest.raises(FileNotFoundError, match="val_output_data_reshaped.npy: no such file"):
        load_taxibj_plus(tmp_path)


@pytest.mark.parametrize("fmt", ["v5", "v7.3"])
def test_ns_mat_round_trip(tmp_path, fmt):
    u = np.random.default_rng(0).standard_normal((10, 24, 28, 20))  # (N, H, W, T), non-square on purpose
    p = tmp_path / "ns.mat"
    savemat(p, {"u": u}) if fmt == "v5" else write_mat_v73(p, u=u)
    ds = load_ns_mat(p, viscosity=1e-4)
    assert ds.vorticity.dims == ("member", "time", "y", "x") and ds.vorticity.shape == (10, 20, 24, 28)
    np.testing.assert_allclose(ds.vorticity.values[3, 11], u[3, :, :, 11], rtol=1e-6)
    assert float(ds.viscosity[0]) == 1e-4  # exact: a float64 constant written and read back
    w = load_windows(ds, 10, 10)
    assert (len(w.train), len(w.val), len(w.test)) == (8, 1, 1)


def test_ns_mat_errors(tmp_path):
    savemat(tmp_path / "a.mat", {"a": np.zeros((3, 4, 4))})
    with pytest.raises(DataError, match="variable 'u' missing"):
        load_ns_mat(tmp_path / "a.mat")
    write_mat_v73(tmp_path / "b.mat", a=np.zeros((3, 4, 4)))
    with pytest.raises(DataError, match=r"b.mat: variable 'u' missing; has \['a'\]"):
        load_ns_mat(tmp_path / "b.mat")
    savemat(tmp_path / "c.mat", {"u": np.zeros((3, 4, 4))})
    with pytest.raises(DataError, match=r"c.mat: 'u' has shape \(3, 4, 4\), expected \(N, H, W, T\)"):
        load_ns_mat(tmp_path / "c.mat")
    (tmp_path / "d.mat").write_bytes(b"hello, not matlab" * 20)
    with pytest.raises(DataError, match="d.mat"):
        load_ns_mat(tmp_path / "d.mat")
    u = np.zeros((4, 6, 6, 4)); u[1, 2, 2, 3] = np.inf  # T < H: no layout warning
    savemat(tmp_path / "e.mat", {"u": u})
    with pytest.raises(DataError, match=r"e.mat: variable 'vorticity' has 1 infinite values \(first: member 1, time 3, y=2, x=2\)"):
        load_ns_mat(tmp_path / "e.mat")
