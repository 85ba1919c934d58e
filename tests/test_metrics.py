"""s2kd.metrics against independent references (xarray weighted means, numpy FFT loops, skimage-free closed forms)."""
import json, math

import numpy as np
import pytest
import torch
import xarray as xr

from s2kd.metrics import (MetricAccumulator, acc_lat_weighted, evaluate, lat_weights, mse, mse_openstl, psnr,
                          radial_power_spectrum, rmse, rmse_frame_avg, rmse_lat_weighted, spectral_error_bands, ssim)

LAT = np.linspace(-87.1875, 87.1875, 32)   # WeatherBench 5.625 degree grid
LON = np.arange(64) * 5.625


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(0)
    y = torch.randn(3, 4, 2, 32, 64, generator=g, dtype=torch.float64)
    return y + 0.3 * torch.randn(y.shape, generator=g, dtype=torch.float64), y


def test_rmse_lat_weighted_matches_xarray_weighted_mean(pair):
    y_hat, y = pair
    da = xr.DataArray(((y_hat - y) ** 2).numpy(), dims=("b", "t", "c", "lat", "lon"), coords=dict(lat=LAT, lon=LON))
    ref = np.sqrt(da.weighted(xr.DataArray(np.cos(np.deg2rad(LAT)), dims="lat", coords=dict(lat=LAT)))
                  .mean(("lat", "lon")).mean(("b", "c")).values)
    for kind in ("coslat", "area"):   # identical on a grid without pole rows
        np.testing.assert_allclose(rmse_lat_weighted(y_hat, y, LAT, kind=kind).numpy(), ref, rtol=1e-12)


def test_acc_matches_numpy_formula(pair):
    y_hat, y = pair
    clim = y.mean(0)                                     # (T, C, H, W) broadcasts to y
    w = np.cos(np.deg2rad(LAT))[:, None] / np.cos(np.deg2rad(LAT)).mean()
    fa, oa = (y_hat - clim).numpy(), (y - clim).numpy()
    per = (w * fa * oa).mean((-2, -1)) / np.sqrt((w * fa ** 2).mean((-2, -1)) * (w * oa ** 2).mean((-2, -1)))
    np.testing.assert_allclose(acc_lat_weighted(y_hat, y, clim, LAT).numpy(), per.mean((0, 2)), rtol=1e-12)
    assert 0 < float(acc_lat_weighted(y_hat, y, clim, LAT, reduce="all")) < 1


def test_area_weights_with_pole_rows_equal_cap_fractions():
    lat = np.linspace(90, -90, 37)                       # descending, with pole rows (5 degree spacing)
    w = lat_weights(lat, "area").numpy()
    # the pole row's cell is the cap above 87.5 degrees: fraction (1 - sin 87.5)/2 of the sphere
    np.testing.assert_allclose(w[0] / w.sum(), (1 - math.sin(math.radians(87.5))) / 2, rtol=1e-12)
    np.testing.assert_allclose(w.mean(), 1.0, rtol=1e-12)


def test_radial_spectrum_matches_a_numpy_loop():
    f = np.random.default_rng(0).standard_normal((6, 10))
    F = np.abs(np.fft.fft2(f)) ** 2 / f.size ** 2
    ref = {}
    for i in range(6):
        for j in range(10):
            ky, kx = np.fft.fftfreq(6)[i], np.fft.fftfreq(10)[j]
            k = int(round(10 * math.hypot(ky, kx)))
            ref[k] = ref.get(k, 0.0) + F[i, j]
    k, P = radial_power_spectrum(torch.tensor(f))
    np.testing.assert_allclose(P.numpy(), [ref.get(i, 0.0) for i in range(len(k))], rtol=1e-12, atol=1e-15)


def test_conventions_relate_as_documented(pair):
    y_hat, y = pair
    C, H, W = y.shape[2:]
    assert float(mse_openstl(y_hat, y)) == pytest.approx(float(mse(y_hat, y)) * C * H * W, rel=1e-12)
    assert float(rmse_frame_avg(y_hat, y)) <= float(rmse(y_hat, y)) + 1e-12          # Jensen
    b = spectral_error_bands(y_hat, y, cutoff=0.5, reduce="lead")
    np.testing.assert_allclose((b["low"] + b["high"]).numpy(), mse(y_hat, y, "lead").numpy(), rtol=1e-12)
    # PSNR per frame from the frame MSEs, by hand
    R = float(y.max() - y.min())
    ref = (10 * torch.log10(R ** 2 / ((y_hat - y) ** 2).mean((-2, -1)))).mean()
    assert float(psnr(y_hat, y, data_range=R)) == pytest.approx(float(ref), abs=1e-5)
    assert float(ssim(y, y, data_range=R)) == pytest.approx(1.0, abs=1e-9)


def test_accumulator_over_uneven_batches_equals_evaluate(pair):
    y_hat, y = pair
    acc = MetricAccumulator(data_range=4.0, lat=LAT)
    for sl in (slice(0, 1), slice(1, 3)): acc.update(y_hat[sl], y[sl])
    got, ref = acc.compute(), evaluate(y_hat, y, data_range=4.0, lat=LAT)
    assert set(got) == set(ref)
    for k in ref: np.testing.assert_allclose(got[k], ref[k], rtol=1e-10)
    json.dumps(got)


def test_evaluate_float32_inputs_and_names():
    y = torch.rand(2, 3, 1, 16, 16)
    m = evaluate(y, y, data_range=1.0)
    assert m["mse"] == 0.0 and m["ssim"] == pytest.approx(1.0, abs=1e-6) and math.isinf(m["psnr"])  # exact mse 0: identical inputs
    assert {"mse_per_lead", "rmse_per_lead", "ssim_per_lead", "mse_openstl", "mse_spectral_low"} <= set(m)
    assert "rmse_lat_weighted" not in m
