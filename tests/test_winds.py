"The shipped real winds: exact WeatherBench grid, plausible physics, loads through the public API."
import numpy as np
import pytest

from s2kd.data.core import load_windows
from s2kd.data.winds import WB_LAT, WB_LON, make_winds, regrid_conservative


def test_grid_and_record():
    ds = make_winds(size="quick")
    assert ds.u.dims == ("member", "time", "lat", "lon") and ds.u.shape == (1, 132, 32, 64)
    np.testing.assert_allclose(ds.lat, np.arange(-87.1875, 87.19, 5.625)); np.testing.assert_allclose(ds.lon, np.arange(64) * 5.625)
    assert str(ds.time.values[0])[:7] == "1982-01" and str(ds.time.values[-1])[:7] == "1992-12"
    assert ds.attrs["synthetic"] == "no" and "public domain" in ds.attrs["license"]


def test_physically_plausible():
    ds = make_winds(size="quick")
    z = ds.u.mean(("member", "time", "lon"))
    assert float(z.sel(lat=slice(-20, 20)).mean()) < 0                      # trades
    assert float(z.sel(lat=slice(-60, -40)).mean()) > 4                     # Southern Ocean westerlies
    assert float(z.sel(lat=slice(35, 60)).mean()) > 0                       # northern westerlies
    speed = np.hypot(ds.u, ds.v)
    assert 2 < float(speed.mean()) < 15 and float(speed.max()) < 40


def test_windows_and_year_splits():
    w = load_windows("winds", size="quick")
    assert (len(w.train), len(w.val), len(w.test)) == (84 - 11, 24 - 11, 24 - 11)
    assert w.train[0]["x"].shape == (6, 2, 32, 64)
    assert w.test.info(0)["time_in"][0].startswith("1991-01")


@pytest.mark.parametrize("seed", [0, 1])
def test_regridder_preserves_constants_and_means(seed):
    rng = np.random.default_rng(seed)
    src_lat, src_lon = np.linspace(-90, 90, 73), 20 + 2.5 * np.arange(144)
    f = rng.standard_normal((73, 144))
    g = regrid_conservative(f, src_lat, src_lon, WB_LAT, WB_LON)
    w_src = np.diff(np.sin(np.deg2rad(np.clip(np.r_[-91.25, src_lat[:-1] + 1.25, 91.25], -90, 90))))
    w_dst = np.cos(np.deg2rad(WB_LAT)) * np.sin(np.deg2rad(5.625 / 2)) * 2
    np.testing.assert_allclose((g * w_dst[:, None]).sum() / (w_dst.sum() * 64), (f * w_src[:, None]).sum() / (w_src.sum() * 144), atol=1e-12)
