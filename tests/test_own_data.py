"""Your own data, safely (issue 11, data layer): third-party-style files built here — a masked regional netCDF with
_FillValue, cftime 360_day/noleap calendars, an ERA5-style zarr with short names — go through the documented API."""
import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from torch.utils.data import DataLoader

from s2kd.core import DataError
from s2kd.data.core import Normalizer, WindowDataset, load_windows, split_dataset, toy_dataset, validate_dataset
from s2kd.data.files import open_data_file
from s2kd.data.loaders import load_weatherbench2

LAT, LON = np.linspace(60, 30, 7), np.linspace(-20, 10, 9)  # a regional grid, latitudes descending as many files store them
LAND = np.zeros((7, 9), bool); LAND[:3, :4] = True          # 12 land cells: no ocean data there, ever


def _regional(n_time=60, calendar="360_day", seed=0):
    "A regional ocean-model-style dataset as a third party writes it: (time, latitude, longitude), no member, NaN land."
    rng = np.random.default_rng(seed)
    time = xr.date_range("2000-01-01", periods=n_time, freq="D", calendar=calendar, use_cftime=True)
    sst = 285 + 3 * rng.standard_normal((n_time, 7, 9)).astype("float32")
    ws = 5 + rng.standard_normal((n_time, 7, 9)).astype("float32")
    sst[:, LAND] = np.nan; ws[:, LAND] = np.nan
    ds = xr.Dataset({"sst": (("time", "latitude", "longitude"), sst, {"units": "K"}),
                     "wind_speed": (("time", "latitude", "longitude"), ws, {"units": "m s-1"}),
                     "time_bnds": (("time", "bnds"), np.zeros((n_time, 2)))},
                    coords=dict(time=time, latitude=LAT, longitude=LON))
    ds.attrs = dict(title="regional ocean", source="tests", domain="weather")
    return ds


def _write(ds, path, fill=-9999.0):
    enc = {v: {"_FillValue": fill} for v in ("sst", "wind_speed")}
    ds.to_netcdf(path, engine="h5netcdf", encoding=enc)
    return path


def _quiet(f, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); return f(*a, **kw)


# ---- item 1: the normalizer's variables must be the data's, in order
def test_normalizer_variables_checked():
    ds = toy_dataset(n_time=30); w = load_windows(ds, 3, 2)
    with pytest.raises(DataError, match=r"mine.nc: the normalizer was fitted on \['u', 'v'\], the data has \['v', 'u'\]: "
                                        r"the same variables in another order"):
        WindowDataset(ds[["v", "u"]], 3, 2, normalizer=w.normalizer, name="mine.nc")
    with pytest.raises(DataError, match=r"the data has \['u'\]: different variables"):
        WindowDataset(ds[["u"]], 3, 2, normalizer=w.normalizer)
    with pytest.raises(DataError, match="has 1 channels at dim -3, the normalizer 2"):
        w.normalizer.encode(torch.zeros(1, 3, 1, 4, 6))


# ---- item 2: masks end to end (data side)
def test_fill_values_with_mask_and_scale_false_are_masked(tmp_path):
    p = _write(_regional(), tmp_path / "region.nc")
    raw = xr.open_dataset(p, engine="h5netcdf", mask_and_scale=False).load()
    assert float(raw.sst.values[0, 0, 0]) == -9999.0 and raw.sst.attrs["_FillValue"] == -9999.0  # exact: the fill value written, read back raw
    with pytest.warns(UserWarning, match=r"renamed dims.*no 'member' dimension.*12 of 63 cells have no data"):
        w = load_windows(raw, 4, 4, splits={"kind": "time", "train": ["2000-01-01", "2000-02-12"],
                                             "val": ["2000-02-13", "2000-02-21"], "test": ["2000-02-22", "2000-02-30"]})
    valid = xr.open_dataset(p, engine="h5netcdf").load().sst.values[:42][:, ~LAND]  # the 42 training days, ocean only
    # float32 mean/std of ~2000 values near 285 K: round-off ~1e-4 K; the fill value would move the mean by ~2000 K
    np.testing.assert_allclose(w.normalizer.mean[0], valid.mean(), atol=1e-3)
    np.testing.assert_allclose(w.normalizer.std[0], valid.std(), atol=1e-3)
    b = next(iter(DataLoader(w.train, batch_size=3)))
    assert b["mask"].shape == (3, 7, 9) and torch.equal(b["mask"][0], torch.from_numpy(~LAND))  # the grid as stored
    assert float(b["x"][..., ~b["mask"][0]].abs().max()) == 0.0 and float(b["y"][..., ~b["mask"][0]].abs().max()) == 0.0  # exact: masked cells are set to 0, not computed
    assert torch.isfinite(b["x"]).all()


def test_nan_cells_are_masked_not_refused(tmp_path):
    p = _write(_regional(), tmp_path / "region.nc")
    a = _quiet(load_windows, xr.open_dataset(p, engine="h5netcdf").load(), 4, 4)
    b = _quiet(load_windows, xr.open_dataset(p, engine="h5netcdf", mask_and_scale=False).load(), 4, 4)
    np.testing.assert_allclose(a.normalizer.mean, b.normalizer.mean, rtol=1e-6)  # same statistics, however it was opened
    assert a.ds.mask.dims == ("lat", "lon") and int(a.ds.mask.sum()) == 63 - 12


@pytest.mark.parametrize("fill", [-9999.0, 9.96921e36, 1e20])
def test_undeclared_fill_value_refused(tmp_path, fill):
    ds = _regional().fillna(fill)
    ds.to_netcdf(tmp_path / "raw.nc", engine="h5netcdf", encoding={v: {"_FillValue": None} for v in ("sst", "wind_speed")})
    raw = xr.open_dataset(tmp_path / "raw.nc", engine="h5netcdf").load()
    assert "_FillValue" not in raw.sst.attrs and not np.isnan(raw.sst.values).any()
    with pytest.raises(DataError, match=re.escape(f"variable 'sst' holds {fill:g} at {12 * 60} values, far outside its other values")):
        _quiet(load_windows, raw, 4, 4)
    with pytest.raises(DataError, match=re.escape(f"holds {fill:g}")):
        Normalizer.fit(raw.rename(latitude="lat", longitude="lon"))


def _z1000(fill, n_time=30):
    "Geopotential at 1000 hPa (m2 s-2, about -6000 .. 5000) as a third party writes it: 6 cells without data hold `fill`."
    z = np.random.default_rng(0).uniform(-6000, 5000, (n_time, 8, 16)).astype("float32")
    z[:, 2:4, 5:8] = fill
    return xr.Dataset({"z": (("time", "lat", "lon"), z, {"units": "m2 s-2"})},
                      coords=dict(time=pd.date_range("2000-01-01", periods=n_time, freq="6h"), lat=np.linspace(-35, 35, 8),
                                  lon=np.arange(16) * 5.0))


@pytest.mark.parametrize("fill", [-9999.0, -999.0])
def test_undeclared_fill_value_within_the_data_range_refused(tmp_path, fill):
    # -9999 lies 4000 below the lowest geopotential, nearer than the field's own range (11000), and -999 inside it: the
    # "far outside" rule let both through, into the normalizer and every metric
    p = tmp_path / "z1000.nc"; _z1000(fill).to_netcdf(p, encoding={"z": {"_FillValue": None}})
    with pytest.raises(DataError, match=re.escape(f"z1000.nc: variable 'z' holds {fill:g} at {30 * 6} values, a common fill value")) as e:
        _quiet(open_data_file, p)
    assert f"fill_values=[{fill!r}]" in str(e.value) and "_FillValue or missing_value" in str(e.value)  # the remedies
    with pytest.raises(DataError, match=re.escape(f"holds {fill:g} at {24 * 6} values")):
        Normalizer.fit(_z1000(fill, 24).expand_dims(member=[0]))  # in memory, and at the normalizer too
    # declared when loading: exactly what the same file with a _FillValue gives
    d = tmp_path / "declared.nc"; _z1000(fill).to_netcdf(d, encoding={"z": {"_FillValue": fill}})
    got, want = _quiet(open_data_file, p, fill_values=[fill]), _quiet(open_data_file, d)
    np.testing.assert_array_equal(got.z.values, want.z.values)  # NaN at the same places, the same data elsewhere
    assert int(got.mask.sum()) == 8 * 16 - 6 and (got.mask.values == want.mask.values).all()
    ok = got.z.values[..., got.mask.values]  # float32 mean of ~3500 values of +-6000: round-off ~1e-3
    np.testing.assert_allclose(Normalizer.fit(got).mean[0], ok.mean(), rtol=1e-5, atol=1e-2)


def test_fill_sentinels_as_data_pass():
    "Sentinels that are data: a big rounded field repeats -999 and -9999 as often as their neighbours; counts reach 9999."
    rng = np.random.default_rng(1)
    z = np.round(rng.normal(0, 6000, (1, 400, 32, 64))).astype("float32")  # 819k geopotentials in whole m2 s-2
    assert (z == -999).sum() >= 5 and (z == -9999).sum() >= 5  # exact: integers, stored exactly in float32
    counts = np.round(rng.uniform(0, 12000, (1, 200, 16, 16))).astype("float32")  # vehicles per step
    counts[0, :, 0, 0] = 9999  # a busy cell at 9999 every step: within the counts' range, never a sentinel there
    for a in (z, counts):
        validate_dataset(xr.Dataset({"f": (("member", "time", "y", "x"), a)},
                                    coords=dict(time=np.arange(a.shape[1]), y=np.arange(a.shape[2]), x=np.arange(a.shape[3]))))

def test_missing_frames_reported_and_skipped(tmp_path):
    ds = _regional(n_time=40)
    ds["sst"][[10, 11]] = np.nan  # two whole days lost
    raw = xr.open_dataset(_write(ds, tmp_path / "gaps.nc"), engine="h5netcdf").load()
    spec = {"kind": "time", "train": ["2000-01-01", "2000-01-30"], "val": ["2000-02-01", "2000-02-05"],
            "test": ["2000-02-06", "2000-02-10"]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always"); w = load_windows(raw, 2, 2, splits=spec)
    said = " ".join(str(c.message) for c in caught)
    assert "2 missing frame(s) (no data in any valid cell): member 0 at 2000-01-11T00:00, member 0 at 2000-01-12T00:00" in said
    assert w.train.missing_frames == [(0, "2000-01-11T00:00"), (0, "2000-01-12T00:00")]
    starts = [t0 for _, t0 in w.train.windows]
    assert len(starts) == 27 - 5 and not any(t0 <= 11 and t0 + 3 >= 10 for t0 in starts)  # no window touches day 10 or 11
    assert all(torch.isfinite(w.train[i]["x"]).all() for i in range(len(w.train)))


def test_masked_task_loss_and_metric_mask(tmp_path, monkeypatch):
    from s2kd.distill import Distiller, masked_mse
    from s2kd.losses.kd import task_mse
    import s2kd.metrics
    from s2kd.train.experiment import evaluate_split
    w = _quiet(load_windows, xr.open_dataset(_write(_regional(), tmp_path / "r.nc"), engine="h5netcdf").load(), 4, 4)
    b = next(iter(DataLoader(w.train, batch_size=4)))
    model = torch.nn.Sequential()  # identity stand-in: "forecast" = inputs
    model.forward = lambda x: x + 7.0 * (~w.train.mask).float()  # wild predictions on land only
    loss, parts = Distiller(model, method="baseline")(b)
    ok = w.train.mask
    torch.testing.assert_close(loss, task_mse(b["x"][..., ok], b["y"][..., ok]))  # land cells change nothing
    assert float(masked_mse(b["y"], b["y"], b["mask"])) == 0.0  # exact: identical inputs: every difference is 0
    from s2kd.train.loop import val_mse
    class Exact(torch.nn.Module):  # predicts y on valid cells, nonsense on land: model selection must not see the land
        def predict(self, batch): return batch["y"] + 100.0 * (~batch["mask"][:, None, None]).float()
    assert val_mse(Exact(), DataLoader(w.val, batch_size=4), "cpu") == 0.0  # exact: a forecast equal to the target: every difference is 0
    seen = []
    class Recorder:  # stands in for s2kd.metrics.MetricAccumulator: records the mask each batch is scored with
        def __init__(self, **kw): pass
        def update(self, y_hat, y, mask=None): seen.append(mask)
        def compute(self): return {}
    monkeypatch.setattr(s2kd.metrics, "MetricAccumulator", Recorder)
    evaluate_split(model, w.test, w.normalizer, data_range=[1.0, 1.0], batch_size=4)
    assert seen and all(m is not None and torch.equal(m, w.test.mask) for m in seen)


# ---- item 3: non-standard calendars everywhere, irregular steps reported
@pytest.mark.parametrize("calendar", ["360_day", "noleap"])
def test_calendars_everywhere(tmp_path, calendar):
    from s2kd.narrate.core import get_narrator, summarize
    raw = xr.open_dataset(_write(_regional(n_time=80, calendar=calendar), tmp_path / "c.nc"), engine="h5netcdf").load()
    assert raw.time.values[0].calendar == calendar
    with pytest.warns(UserWarning, match=r"no 'splits' attribute: a default time split \(0.7, 0.15, 0.15\)"):
        w = load_windows(raw, 3, 3)
    assert [len(w.train), len(w.val), len(w.test)] == [56 - 5, 12 - 5, 12 - 5]
    info = w.train.info(len(w.train) - 1)
    assert all(isinstance(t, str) for t in info["time_in"] + info["time_out"])
    assert info["time_out"][-1] == ("2000-02-26T00:00" if calendar == "360_day" else "2000-02-25T00:00")  # day 56 of the year
    assert json.loads(w.ds.attrs.get("splits", "null")) is None  # the inferred split is said, not written into the data
    sp = split_dataset(w.ds, {"kind": "time", "train": ["2000-01-01", "2000-02-28"], "val": ["2000-03-01", "2000-03-05"],
                              "test": ["2000-03-06", "2000-03-10"]})
    assert sp["train"].sizes["time"] == (30 + 28 if calendar == "360_day" else 31 + 28)  # bounds read in the file's calendar
    x, _ = w.train.frames(0)
    sample = {"x": x, "info": w.train.info(0)}
    assert summarize(sample)["time"]["month"] == "January"
    for name in ("stat-rich", "stat-coarse", "event"):
        assert get_narrator(name)([sample])[0]
    if calendar == "360_day":  # 30 February exists in this calendar, and a narrator still says which month it is
        i = next(i for i in range(len(w.val)) if w.val.info(i)["time_in"][-1] == "2000-02-30T00:00")
        x, _ = w.val.frames(i)
        assert summarize({"x": x, "info": w.val.info(i)})["time"]["month"] == "February"


def test_irregular_time_steps_reported(tmp_path):
    raw = _regional(n_time=60, calendar="noleap")
    raw = raw.isel(time=[i for i in range(60) if i not in (20, 21, 22)])  # a three-day hole
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always"); w = load_windows(raw, 2, 2)
    said = " ".join(str(c.message) for c in caught)
    assert "irregular time steps (usual step 1 day): gaps 2000-01-20T00:00 -> 2000-01-24T00:00" in said, said
    assert not any(t0 <= 19 < t0 + 3 for _, t0 in w.train.windows)  # no window spans the hole


def test_time_going_backwards_refused():
    ds = toy_dataset(n_time=20); ds = ds.isel(time=[0, 1, 2, 4, 3] + list(range(5, 20)))
    with pytest.raises(DataError, match="mine: time is not increasing at 2000-01-05"):
        WindowDataset(ds, 2, 2, name="mine")


# ---- item 4: member and time combined
def test_member_time_split():
    ds = toy_dataset(n_member=3, n_time=40)
    spec = {"kind": "member_time", "train": {"members": [0, 1], "time": ["2000-01-01", "2000-01-25"]},
            "val": {"members": [0, 1], "time": ["2000-01-26", "2000-01-31"]},
            "test": {"members": [2], "time": ["2000-02-01", "2000-02-09"]}}
    w = load_windows(ds, 3, 2, splits=spec)
    assert w.train.ds.member.values.tolist() == [0, 1] and w.test.ds.member.values.tolist() == [2]
    assert str(w.test.ds.time.values[0])[:10] == "2000-02-01" and w.train.ds.sizes["time"] == 25
    assert [len(w.train), len(w.val), len(w.test)] == [2 * 21, 2 * 2, 5]
    with pytest.raises(DataError, match=r"member id\(s\) \[5\] of the 'test' split are not in toy"):
        split_dataset(ds, {**spec, "test": {"members": [5]}})
    with pytest.raises(DataError, match="must be a dict"):
        split_dataset(ds, {**spec, "val": [0]})


# ---- item 5: regional grids get regional phrasing
def test_regional_grid_narrated_regionally(tmp_path):
    from s2kd.narrate.core import get_narrator
    w = _quiet(load_windows, xr.open_dataset(_write(_regional(), tmp_path / "r.nc"), engine="h5netcdf").load(), 4, 4)
    x, _ = w.train.frames(0)
    text = get_narrator("stat-rich")([{"x": x, "info": w.train.info(0)}])[0]
    assert "Hemisphere" not in text and "half of the region (30°N to 60°N)" in text, text


# ---- item 6: clear errors (or inferred layouts, said) in the order a user meets them
def test_no_member_no_splits_inferred_and_said():
    ds = toy_dataset(n_time=40).isel(member=0, drop=True); del ds.attrs["splits"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always"); w = load_windows(ds, 3, 2)
    said = [str(c.message) for c in caught]
    assert any("no 'member' dimension: one member (member=0)" in s for s in said), said
    assert any("no 'splits' attribute: a default time split (0.7, 0.15, 0.15)" in s for s in said), said
    assert w.ds.member.values.tolist() == [0] and len(w.test) == 2
    with pytest.warns(UserWarning, match="no 'member' dimension"):
        assert len(WindowDataset(ds, 3, 2)) == 36


def test_rotated_pole_regional_grid(tmp_path):
    "A CORDEX-style file: dims (time, rlat, rlon), 2-D lat/lon coordinates, a noleap calendar, land as _FillValue."
    ds = _regional(n_time=40, calendar="noleap").rename(latitude="rlat", longitude="rlon")
    la, lo = np.meshgrid(np.linspace(40, 55, 7), np.linspace(-5, 15, 9), indexing="ij")
    ds = ds.assign_coords(lat=(("rlat", "rlon"), la), lon=(("rlat", "rlon"), lo))
    raw = xr.open_dataset(_write(ds, tmp_path / "cordex.nc"), engine="h5netcdf", mask_and_scale=False).load()
    with pytest.warns(UserWarning, match=r"renamed dims \{'rlat': 'y', 'rlon': 'x'\}"):
        w = load_windows(raw, 2, 2)
    assert w.train[0]["x"].shape == (2, 2, 7, 9) and int(w.train.mask.sum()) == 63 - 12
    assert w.train.info(0)["time_in"][0] == "2000-01-01T00:00"


def test_unknown_member_and_missing_window_named():
    ds = toy_dataset()
    with pytest.raises(DataError, match=r"member id\(s\) \[2, 3\] of the 'val' split are not in toy \(members: \[0, 1\]\); "
                                        r"fix attrs\['splits'\]"):
        load_windows(ds, 2, 2, splits={"kind": "member", "train": [0], "val": [2, 3], "test": [1]})
    with pytest.raises(DataError, match="splits: a 'member' spec needs 'train', 'val' and 'test'"):
        split_dataset(ds, {"kind": "member", "train": [0], "test": [1]})
    del ds.attrs["t_in"]
    with pytest.raises(DataError, match="toy: no window length: pass t_in and t_out"):
        load_windows(ds)
    with pytest.raises(DataError, match=r"no 'time' dimension"):
        load_windows(ds.rename(time="step"), 2, 2)
    levels = ds.isel(member=0, drop=True).expand_dims(level=[500, 850]).transpose("time", "level", ...)
    with pytest.raises(DataError, match=r"select the extra dims \['level'\] \(e.g. ds.sel\(level=...\)\)"):
        load_windows(levels, 2, 2)


# ---- item 7: real store layouts (ERA5 short names, valid_time, descending latitudes, window vs store length)
def _era5_zarr(path, n_time=120):
    rng = np.random.default_rng(0)
    t = pd.date_range("2018-01-01", periods=n_time, freq="6h")
    lat, lon = np.linspace(90, -90, 19), np.arange(0, 360, 10.0)
    f = lambda *s: rng.standard_normal((n_time, *s, 19, 36)).astype("float32")
    xr.Dataset({"t2m": (("valid_time", "latitude", "longitude"), 280 + f()),
                "u10": (("valid_time", "latitude", "longitude"), f()), "v10": (("valid_time", "latitude", "longitude"), f()),
                "msl": (("valid_time", "latitude", "longitude"), 1e5 + 100 * f()),
                "tp": (("valid_time", "latitude", "longitude"), np.abs(f())),
                "z": (("valid_time", "pressure_level", "latitude", "longitude"), 5e4 + f(2))},
               coords=dict(valid_time=t, pressure_level=[500, 850], latitude=lat, longitude=lon)).to_zarr(path)
    return path


def test_era5_store_short_names(tmp_path):
    p = _era5_zarr(tmp_path / "era5.zarr")
    z = xr.open_zarr(p)
    ds = load_weatherbench2(p, ["t2m", "u10", "v10", "msl", "tp", "z500"], t_in=4, t_out=4)
    assert list(ds.data_vars) == ["t2m", "u10", "v10", "msl", "tp", "z500"]
    assert ds.t2m.dims == ("member", "time", "lat", "lon") and float(ds.lat[0]) == -90.0  # exact: the latitude written, ascending after the flip
    np.testing.assert_array_equal(ds.msl.values[0], z.msl.values[:, ::-1])
    np.testing.assert_array_equal(ds.z500.values[0], z.z.sel(pressure_level=500).values[:, ::-1])
    w = load_windows(ds)
    assert w.train.in_shape == (4, 6, 19, 36)
    ds = load_weatherbench2(p, ["2m_temperature", "geopotential@850"], t_in=4, t_out=4)  # WB2 long names map too
    np.testing.assert_array_equal(ds["geopotential@850"].values[0], z.z.sel(pressure_level=850).values[:, ::-1])


def test_wb2_window_derived_or_refused(tmp_path):
    p = _era5_zarr(tmp_path / "short.zarr", n_time=60)  # 70/15/15 %: the val and test splits hold 9 steps
    with pytest.warns(UserWarning, match=r"window 4->4 \(12->12 needs 24 steps; the 'val' split has 9\)"):
        ds = load_weatherbench2(p, ["t2m"])
    assert (ds.attrs["t_in"], ds.attrs["t_out"]) == (4, 4)
    assert len(load_windows(ds).val) == 2
    with pytest.raises(DataError, match=r"60 time steps .* the 'val' split is shorter than t_in \+ t_out = 12\+12"):
        load_weatherbench2(p, ["t2m"], t_in=12, t_out=12)
    with pytest.raises(DataError, match=r"variable 'sea_surface_temperature' missing"):
        load_weatherbench2(p, ["sea_surface_temperature"])


def _sample(lat, time_in):
    "A narrator's sample on a hand-made grid: a zonal wind stronger towards the north."
    x = np.broadcast_to(np.linspace(1, 10, len(lat))[:, None], (2, 1, len(lat), 12)).copy()
    return {"x": x, "info": {"dataset": "mine", "domain": "weather", "variables": ["u"], "units": {"u": "m s-1"},
                             "coords": {"lat": list(lat), "lon": list(np.arange(12) * 30.0)}, "time_in": time_in}}


def test_narrators_on_regional_grids_and_360_day_dates():
    from s2kd.narrate.core import get_narrator, summarize, summary_lines
    rich = get_narrator("stat-rich")
    regional = rich([_sample(np.linspace(30, 60, 7), ["2000-01-01T00:00", "2000-01-02T00:00"])])[0]
    assert "Hemisphere" not in regional and "stronger in the northern half of the region (30°N to 60°N)" in regional, regional
    south = rich([_sample(np.linspace(-60, -30, 7), ["2000-01-01T00:00", "2000-01-02T00:00"])])[0]
    assert "Hemisphere" not in south and "half of the region (60°S to 30°S)" in south, south
    world = rich([_sample(np.linspace(-80, 80, 9), ["2000-01-01T00:00", "2000-01-02T00:00"])])[0]
    assert "stronger in the Northern Hemisphere extratropics than in the Southern" in world, world  # global grids unchanged
    s = summarize(_sample(np.linspace(30, 60, 7), ["2000-02-30T06:00", "2000-02-30T12:00"]))  # 30 February: 360-day year
    assert s["time"]["month"] == "February" and s["time"]["hour"] == 12.0 and "weekday" not in s["time"]  # exact: the hour of the written date
    assert "- last frame: February, hour 12" in summary_lines(s)
    daily = summarize(_sample(np.linspace(30, 60, 7), ["2000-02-29T00:00", "2000-02-30T00:00"]))  # daily frames: no hour
    assert daily["time"] == {"start": "2000-02-29T00:00", "end": "2000-02-30T00:00", "month": "February"}, daily["time"]
