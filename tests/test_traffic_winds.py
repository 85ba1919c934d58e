"""Integration tests for the embedded traffic generator and the shipped NOAA FNOC winds file."""
import json, os, subprocess, sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from s2kd.data.traffic import make_traffic, traffic_config, city_layout, ZONES
from s2kd.data.winds import WINDS_FILE, regrid_conservative, cell_areas, fnoc_to_wb, load_winds, make_winds, wb_grid

ROOT = Path(__file__).resolve().parents[1]
FNOC = [Path("/usr/share/ferret-vis/data/monthly_navy_winds.cdf"),
        Path("/tmp/deb/x/usr/share/ferret-vis/data/monthly_navy_winds.cdf")]
FNOC = next((p for p in FNOC if p.exists()), None)

# ---------------------------------------------------------------- traffic

@pytest.fixture(scope="module")
def quick():
    return make_traffic(size="quick")

def test_traffic_netcdf_roundtrip(tmp_path):
    ds = make_traffic(size="tiny", seed=4)
    ds.to_netcdf(tmp_path / "t.nc")
    with xr.open_dataset(tmp_path / "t.nc") as r:
        np.testing.assert_array_equal(r.inflow.values, ds.inflow.values)
        assert r.time.dtype.kind == "M" and r.attrs["synthetic"] == "yes"
        assert json.loads(r.attrs["events"]) == json.loads(ds.attrs["events"])
        np.testing.assert_array_equal(r.is_holiday.values, ds.is_holiday.values)
        from s2kd.references import exogenous  # the mark that makes rain and holidays inputs survives the file
        assert exogenous(r) == exogenous(ds) == ["is_holiday", "rain"]

def test_traffic_deterministic_and_seeded():
    a, b, c = make_traffic(size="tiny", seed=7), make_traffic(size="tiny", seed=7), make_traffic(size="tiny", seed=8)
    np.testing.assert_array_equal(a.outflow.values, b.outflow.values)
    assert a.attrs["events"] == b.attrs["events"] and a.attrs["events"] != c.attrs["events"]
    assert not np.array_equal(a.outflow.values, c.outflow.values)

def test_traffic_grid_option():
    ds = make_traffic(size="tiny", grid=(24, 20))
    assert dict(ds.sizes) == dict(member=1, time=336, y=24, x=20)
    assert all(0 <= e["y"] < 24 and 0 <= e["x"] < 20 for e in json.loads(ds.attrs["events"]))

def test_traffic_commute_cycle(quick):
    Z, _ = city_layout(traffic_config("quick"))
    res, bus = Z[ZONES.index("residential")] > .6, Z[ZONES.index("business")] > .6
    t = pd.DatetimeIndex(quick.time.values)
    work = (t.day_of_week < 5) & (quick.is_holiday.values == 0)
    at = lambda v, mask, h, days: quick[v].values[0][(t.hour == h) & (t.minute == 0) & days][:, mask].mean()
    assert at("outflow", res, 8, work) > 1.5 * at("outflow", res, 18, work)   # residential outflow: morning
    assert at("inflow", bus, 8, work) > 1.5 * at("inflow", bus, 3, work)
    assert at("outflow", bus, 18, work) > 1.5 * at("outflow", bus, 8, work)   # business outflow: evening
    assert at("inflow", bus, 8, t.day_of_week >= 5) < .5 * at("inflow", bus, 8, work)  # no commute on weekends

def test_traffic_concert_visible(quick):
    e = next(e for e in json.loads(quick.attrs["events"]) if e["kind"] in ("concert", "sports_match"))
    t, y, x = e["time_index"], e["y"], e["x"]
    peak = t + round(.25 * e["duration"])
    T = quick.sizes["time"]  # the same time of day on the other days (a concert is rarely at the same venue again)
    same_time_other_days = [quick.inflow.values[0, peak + 48 * k, y, x] for k in range(-7, 8) if k and 0 <= peak + 48 * k < T]
    assert quick.inflow.values[0, peak, y, x] > 1.5 * np.median(same_time_other_days), e["description"]
    assert "district (row" in e["description"]

def test_traffic_with_window_loader():
    core = pytest.importorskip("s2kd.data.core")
    ds = make_traffic(size="tiny")
    core.validate_dataset(ds, "make_traffic(tiny)")
    parts = core.split_dataset(ds)
    n = {k: parts[k].sizes["time"] for k in ("train", "val", "test")}
    assert sum(n.values()) == ds.sizes["time"] and n["val"] == n["test"] == 48

# ---------------------------------------------------------------- winds

def test_winds_file_found_through_the_package():
    p = resources.files("s2kd.data") / WINDS_FILE
    assert p.is_file()
    print(f"{WINDS_FILE}: {Path(str(p)).stat().st_size / 1e6:.2f} MB")

def test_winds_shipped_grid_and_plausibility():
    ds = load_winds()
    lat, lon = wb_grid()
    assert dict(ds.sizes) == dict(member=1, time=132, lat=32, lon=64)
    np.testing.assert_array_equal(ds.lat.values, lat); np.testing.assert_array_equal(ds.lon.values, lon)
    assert lat[0] == -87.1875 and lat[-1] == 87.1875 and lon[-1] == 354.375  # exact: multiples of 1/64
    assert ds.u.dtype == np.float32 and ds.v.dtype == np.float32
    assert np.isfinite(ds.u.values).all() and np.isfinite(ds.v.values).all()
    assert float(abs(ds.u).max()) < 40 and float(abs(ds.v).max()) < 40
    zonal = ds.u.mean(("member", "time", "lon"))
    assert float(zonal.sel(lat=slice(-20, 20)).mean()) < 0          # easterly trades
    assert float(zonal.sel(lat=slice(-50, -40)).mean()) > 3          # westerlies around 45 S
    assert float(zonal.sel(lat=slice(40, 55)).mean()) > 0            # northern westerlies
    assert ds.attrs["synthetic"] == "no" and "PUBLIC DOMAIN" in ds.attrs["license"]
    sp = json.loads(ds.attrs["splits"]); assert sp["kind"] == "time" and sp["test"] == ["1991-01-01", "1992-12-01"]
    t = pd.DatetimeIndex(ds.time.values)
    assert (t.day == 1).all() and t[0] == pd.Timestamp("1982-01-01") and t[-1] == pd.Timestamp("1992-12-01")

def test_winds_splits_cover_time():
    core = pytest.importorskip("s2kd.data.core")
    for size in ("tiny", "quick"):
        ds = make_winds(size=size)
        parts = core.split_dataset(ds)
        assert sum(parts[k].sizes["time"] for k in ("train", "val", "test")) == ds.sizes["time"]

def test_regridder_constant_and_mean():
    slat, slon = np.linspace(-90, 90, 73), 20 + 2.5 * np.arange(144)
    lat, lon = wb_grid()
    np.testing.assert_allclose(regrid_conservative(np.full((2, 73, 144), -3.5), slat, slon, lat, lon), -3.5, rtol=0, atol=1e-12)
    rng = np.random.default_rng(0)
    LA, LO = np.meshgrid(np.deg2rad(slat), np.deg2rad(slon), indexing="ij")
    f = sum(rng.normal() * np.cos(LA)**a * np.cos(b * LO + rng.uniform(0, 6)) for a in (1, 2) for b in (0, 1, 2, 3))
    g = regrid_conservative(f, slat, slon, lat, lon)
    A, a = cell_areas(slat, slon), cell_areas(lat, lon)
    assert abs((g * a).sum() / a.sum() - (f * A).sum() / A.sum()) < 1e-10

@pytest.mark.skipif(FNOC is None, reason="Debian ferret-datasets file not present")
def test_make_winds_tool_reproduces_shipped_file(tmp_path):
    out = tmp_path / "w.nc"
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_winds.py"), "--src", str(FNOC), "--out", str(out)],
                   check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    new, old = load_winds(out), load_winds()
    # at most one float32 ulp: the regridding is float64 (libm sin, einsum order) cast to float32, so a last-bit float64
    # difference on another machine can flip a rounding; a change of the regridding moves many values far more
    np.testing.assert_array_max_ulp(new.u.values, old.u.values, maxulp=1)
    np.testing.assert_array_max_ulp(new.v.values, old.v.values, maxulp=1)
    with xr.open_dataset(FNOC, decode_times=False) as src:  # the regridded global mean equals the source's
        A = cell_areas(src.FNOCY.values, src.FNOCX.values)
        m_src = (src.UWND.values[0].astype(np.float64) * A).sum() / A.sum()
    a = cell_areas(*wb_grid())
    assert abs((new.u.values[0, 0] * a).sum() / a.sum() - m_src) < 1e-4
