"""s2kd.metrics against independent references: xarray weighted means, numpy FFT loops, scikit-image's SSIM, a
WeatherBench-1-style xarray ACC, closed forms."""
import json, math

import numpy as np
import pytest
import torch
import xarray as xr

from s2kd.metrics import (MetricAccumulator, acc_lat_weighted, evaluate, lat_weights, mae, mse, mse_lat_weighted,
                          mse_openstl, psnr, radial_power_spectrum, rmse, rmse_frame_avg, rmse_lat_weighted,
                          spectral_error_bands, ssim, ssim_openstl)

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
        np.testing.assert_allclose(rmse_lat_weighted(y_hat, y, LAT, kind=kind).numpy(), ref, rtol=1e-12)  # float64, ~1e4 terms


def test_acc_matches_numpy_formula(pair):
    y_hat, y = pair
    clim = y.mean(0)                                     # (T, C, H, W) broadcasts to y
    w = np.cos(np.deg2rad(LAT))[:, None] / np.cos(np.deg2rad(LAT)).mean()
    fa, oa = (y_hat - clim).numpy(), (y - clim).numpy()
    per = (w * fa * oa).mean((-2, -1)) / np.sqrt((w * fa ** 2).mean((-2, -1)) * (w * oa ** 2).mean((-2, -1)))
    np.testing.assert_allclose(acc_lat_weighted(y_hat, y, clim, LAT).numpy(), per.mean((0, 2)), rtol=1e-12)  # float64 sums
    assert 0 < float(acc_lat_weighted(y_hat, y, clim, LAT, reduce="all")) < 1


def test_area_weights_with_pole_rows_equal_cap_fractions():
    lat = np.linspace(90, -90, 37)                       # descending, with pole rows (5 degree spacing)
    w = lat_weights(lat, "area").numpy()
    # the pole row's cell is the cap above 87.5 degrees: fraction (1 - sin 87.5)/2 of the sphere
    np.testing.assert_allclose(w[0] / w.sum(), (1 - math.sin(math.radians(87.5))) / 2, rtol=1e-12)  # closed form, float64
    np.testing.assert_allclose(w.mean(), 1.0, rtol=1e-12)  # normalized in float64


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
    np.testing.assert_allclose(P.numpy(), [ref.get(i, 0.0) for i in range(len(k))], rtol=1e-12, atol=1e-15)  # same FFT, summed in another order


def test_conventions_relate_as_documented(pair):
    y_hat, y = pair
    C, H, W = y.shape[2:]
    assert float(mse_openstl(y_hat, y)) == pytest.approx(float(mse(y_hat, y)) * C * H * W, rel=1e-12)  # float64 sum vs mean·N
    assert float(rmse_frame_avg(y_hat, y)) <= float(rmse(y_hat, y)) + 1e-12          # Jensen
    b = spectral_error_bands(y_hat, y, cutoff=0.5, reduce="lead")
    np.testing.assert_allclose((b["low"] + b["high"]).numpy(), mse(y_hat, y, "lead").numpy(), rtol=1e-12)  # Parseval in float64
    # PSNR per frame from the frame MSEs, by hand
    R = float(y.max() - y.min())
    ref = (10 * torch.log10(R ** 2 / ((y_hat - y) ** 2).mean((-2, -1)))).mean()
    assert float(psnr(y_hat, y, data_range=R)) == pytest.approx(float(ref), abs=1e-9)  # same float64 formula, dB
    assert float(ssim(y, y, data_range=R)) == pytest.approx(1.0, abs=1e-9)  # x vs x: 1 up to float64 rounding


def test_accumulator_over_uneven_batches_equals_evaluate(pair):
    y_hat, y = pair
    acc = MetricAccumulator(data_range=4.0, lat=LAT)
    for sl in (slice(0, 1), slice(1, 3)): acc.update(y_hat[sl], y[sl])
    got, ref = acc.compute(), evaluate(y_hat, y, data_range=4.0, lat=LAT)
    assert set(got) == set(ref)
    for k in ref: np.testing.assert_allclose(got[k], ref[k], rtol=1e-10)  # float64 sums in another order
    json.dumps(got)


def test_evaluate_float32_inputs_and_names():
    y = torch.rand(2, 3, 1, 16, 16)
    m = evaluate(y, y, data_range=1.0)
    assert m["mse"] == pytest.approx(0.0, abs=1e-12) and math.isinf(m["psnr"])   # identical inputs: 0 up to rounding
    assert m["ssim"] == pytest.approx(1.0, abs=1e-9)    # float64 filters of float32 data: 1 to ~1e-15
    assert {"mse_per_lead", "rmse_per_lead", "ssim_per_lead", "mse_openstl", "mse_spectral_low"} <= set(m)
    assert "rmse_lat_weighted" not in m


# --- SSIM conventions against scikit-image --------------------------------------------------------------------------
skm = pytest.importorskip("skimage.metrics")   # a dev/test dependency (pyproject [dev]); SSIM references need it


def _frames(y):  # (B, T, C, H, W) -> list of (b, t, c) frames as numpy
    B, T, C = y.shape[:3]
    return [(b, t, c) for b in range(B) for t in range(T) for c in range(C)]


@pytest.mark.parametrize("hw,kernel_size", [((32, 64), None), ((16, 20), 7), ((12, 12), 5), ((3, 3), None),
                                             ((4, 7), None), ((5, 5), None), ((6, 9), 9)])
def test_ssim_skimage_convention_matches_scikit_image(hw, kernel_size):
    g = torch.Generator().manual_seed(1)
    y = torch.rand(2, 2, 2, *hw, generator=g, dtype=torch.float64)
    y_hat = y + 0.2 * torch.randn(y.shape, generator=g, dtype=torch.float64)
    R = [1.5, 3.0]                                        # one range per channel
    win = min(kernel_size or 11, *hw); win -= 1 - win % 2   # the documented shrink: largest odd size that fits
    got = ssim(y_hat, y, data_range=R, reduce="none", kernel_size=kernel_size).numpy()
    for b, t, c in _frames(y):
        ref = skm.structural_similarity(y_hat[b, t, c].numpy(), y[b, t, c].numpy(), data_range=R[c], gaussian_weights=True,
                                        sigma=1.5, use_sample_covariance=False, win_size=win)
        assert got[b, t, c] == pytest.approx(ref, abs=1e-6)   # the bar; float64 both sides agree to ~1e-15


@pytest.mark.parametrize("hw", [(16, 16), (10, 13), (3, 3), (4, 7), (5, 5)])
def test_ssim_openstl_convention_matches_openstl_call(hw):
    # OpenSTL: cal_ssim(pred[b, f].swapaxes(0, 2), true[b, f].swapaxes(0, 2), multichannel=True) on the forecast clipped
    # to [0, 1]; scikit-image <= 0.19 (OpenSTL's pin) then used the float dtype's range 2 and a uniform 7x7 window with
    # sample covariance. Today's scikit-image needs those spelled out (channel_axis, data_range).
    g = torch.Generator().manual_seed(2)
    y = torch.rand(2, 3, 2, *hw, generator=g, dtype=torch.float64)
    y_hat = y + 0.3 * torch.randn(y.shape, generator=g, dtype=torch.float64)   # leaves [0, 1]: the clip matters
    win = min(7, *hw); win -= 1 - win % 2
    pred, true = y_hat.clamp(0, 1).numpy(), y.numpy()
    ref = np.mean([skm.structural_similarity(pred[b, f].swapaxes(0, 2), true[b, f].swapaxes(0, 2), channel_axis=-1,
                                             data_range=2.0, win_size=win) for b in range(2) for f in range(3)])
    assert float(ssim_openstl(y_hat, y)) == pytest.approx(ref, abs=1e-6)   # the bar
    per = ssim(y_hat, y, data_range=1.0, convention="openstl", reduce="none").numpy()
    for b, t, c in _frames(y):
        assert per[b, t, c] == pytest.approx(skm.structural_similarity(y_hat[b, t, c].numpy(), y[b, t, c].numpy(),
                                                                       data_range=1.0, win_size=win), abs=1e-6)  # the bar


def test_ssim_kernel_size_is_honoured_and_old_full_frame_average_differs():
    g = torch.Generator().manual_seed(3)
    y = torch.rand(1, 1, 1, 32, 64, generator=g, dtype=torch.float64)
    y_hat = y.clone(); y_hat[..., :, :5] += 0.5                       # errors on the left border only
    s11, s7 = float(ssim(y_hat, y, data_range=1.0)), float(ssim(y_hat, y, data_range=1.0, kernel_size=7))
    assert s7 < s11 - 0.005                                           # a 3-cell border keeps more of the bad columns (~0.01)
    # the old convention (torchmetrics: the map averaged over the whole reflect-padded frame) is not the reference
    from torchmetrics.functional.image import structural_similarity_index_measure as tm
    old = float(tm(y_hat[0, 0][None].float(), y[0, 0][None].float(), data_range=1.0))
    assert abs(old - s11) > 0.01


def test_evaluate_on_tiny_grids_does_not_crash():
    for hw in ((3, 3), (4, 7), (5, 5), (2, 9)):
        y = torch.rand(2, 2, 1, *hw, dtype=torch.float64)
        m = evaluate(y + 0.1, y, data_range=1.0)
        assert 0 < m["ssim"] < 1 and m["mse"] == pytest.approx(0.01, rel=1e-9)   # constant 0.1 offset, float64


# --- masks ---------------------------------------------------------------------------------------------------------
def test_masked_cells_are_excluded_from_every_metric(pair):
    y_hat, y = (v[:, :2].clone() for v in pair)
    mask = torch.ones(32, 64, dtype=torch.bool); mask[:, 40:] = False; mask[5:9, 3:11] = False   # a "sea" and a "lake"
    ok = mask.expand(y.shape)
    junk_hat, junk = y_hat.clone(), y.clone(); junk_hat[~ok] = 1e6; junk[~ok] = float("nan")
    kw = dict(data_range=[4.0, 4.0], lat=LAT, clim=y.mean(0), mask=mask, variables=["a", "b"], var_train=[1.0, 2.0])
    clean, dirty = evaluate(y_hat, y, **kw), evaluate(junk_hat, junk, **kw)
    for k in clean: np.testing.assert_allclose(dirty[k], clean[k], rtol=1e-12)   # masked values never read (float64)
    # means over valid cells, by hand
    e2 = ((y_hat - y) ** 2).numpy()[..., mask.numpy()]                          # (B, T, C, n_valid)
    assert clean["mse"] == pytest.approx(e2.mean(), rel=1e-12)                  # float64 means of ~7e3 terms
    assert clean["mse/b"] == pytest.approx(e2[:, :, 1].mean(), rel=1e-12)  # float64
    assert clean["mae"] == pytest.approx(np.abs((y_hat - y).numpy()[..., mask.numpy()]).mean(), rel=1e-12)  # float64
    # latitude weights renormalized over valid cells = xarray's weighted mean skipping NaN
    da = xr.DataArray(np.where(mask.numpy(), (y_hat - y).numpy() ** 2, np.nan), dims=("b", "t", "c", "lat", "lon"),
                      coords=dict(lat=LAT, lon=LON))
    ref = da.weighted(xr.DataArray(np.cos(np.deg2rad(LAT)), dims="lat", coords=dict(lat=LAT))).mean(("b", "lat", "lon"))
    np.testing.assert_allclose(mse_lat_weighted(y_hat, y, LAT, kind="coslat", reduce="lead_channel", mask=mask).numpy(),
                               ref.values, rtol=1e-12)                           # float64
    # SSIM: masked cells filled with the frame's valid mean of y in both images, map averaged over valid cropped cells
    R = 4.0
    got = ssim(junk_hat, junk, data_range=R, reduce="none", mask=mask).numpy()
    crop = mask.numpy()[5:-5, 5:-5]
    for b, t, c in _frames(y):
        a, o = y_hat[b, t, c].numpy().copy(), y[b, t, c].numpy().copy()
        fill = o[mask.numpy()].mean(); a[~mask.numpy()] = fill; o[~mask.numpy()] = fill
        _, S = skm.structural_similarity(a, o, data_range=R, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                         full=True)
        assert got[b, t, c] == pytest.approx(S[5:-5, 5:-5][crop].mean(), abs=1e-6)  # the bar; float64 both sides
    # the accumulator with a per-batch mask equals evaluate
    acc = MetricAccumulator(**{k: v for k, v in kw.items() if k != "mask"})
    acc.update(junk_hat[:1], junk[:1], mask=mask); acc.update(junk_hat[1:], junk[1:], mask=mask.numpy())
    for k, v in acc.compute().items(): np.testing.assert_allclose(v, clean[k], rtol=1e-10)   # sums in another order


def test_mask_errors_are_specific():
    y = torch.zeros(1, 1, 1, 4, 4)
    with pytest.raises(ValueError, match="bool array"): mse(y, y, mask=np.ones((4, 4)))
    with pytest.raises(ValueError, match="does not broadcast"): mse(y, y, mask=np.ones((3, 4), bool))
    bad = y.clone(); bad[..., 0, 0] = float("nan")
    with pytest.raises(ValueError, match="on valid cells"): mae(bad, y, mask=np.ones((4, 4), bool))


# --- WeatherBench conventions ---------------------------------------------------------------------------------------
def test_acc_wb1_matches_weatherbench1_compute_weighted_acc(pair):
    # WeatherBench-1's compute_weighted_acc (src/score.py), re-derived with xarray per lead time and variable:
    # clim = truth's time mean; one unweighted mean anomaly removed over (time, lat, lon); one pooled correlation.
    y_hat, y = pair
    y_hat = y_hat + 0.5 * torch.randn(*y.shape[:3], 1, 1, generator=torch.Generator().manual_seed(4), dtype=y.dtype)  # frame biases
    w = xr.DataArray(np.cos(np.deg2rad(LAT)), dims="lat", coords=dict(lat=LAT)); w = w / w.mean()
    T, C = y.shape[1:3]; ref = np.zeros((T, C))
    for t in range(T):
        for c in range(C):
            fc, tr = (xr.DataArray(v[:, t, c].numpy(), dims=("time", "lat", "lon"), coords=dict(lat=LAT, lon=LON)) for v in (y_hat, y))
            clim = tr.mean("time"); fa, a = fc - clim, tr - clim
            fa, a = fa - fa.mean(), a - a.mean()
            ref[t, c] = float((w * fa * a).sum() / np.sqrt((w * fa ** 2).sum() * (w * a ** 2).sum()))
    got = acc_lat_weighted(y_hat, y, y.mean(0), LAT, kind="coslat", convention="wb1", reduce="lead_channel").numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-10)   # float64; pooled sums expanded algebraically: ~1e-13 apart
    # the per-frame centred ACC (what `centered=True` computed) removes each frame's bias: a different number
    per_frame = acc_lat_weighted(y_hat, y, y.mean(0), LAT, kind="coslat", convention="frame_centered", reduce="lead_channel")
    assert (per_frame.numpy() - ref).min() > 0.01


def test_rmse_orders_match_numpy(pair):
    y_hat, y = pair
    w = np.cos(np.deg2rad(LAT))[:, None]; w = w / w.mean()
    frame = (w * ((y_hat - y).numpy()) ** 2).mean((-2, -1))                     # (B, T, C) weighted frame MSE
    np.testing.assert_allclose(rmse_lat_weighted(y_hat, y, LAT, kind="coslat", order="wb1").numpy(),
                               np.sqrt(frame).mean((0, 2)), rtol=1e-12)         # WB1 paper: mean of roots (float64)
    np.testing.assert_allclose(rmse_lat_weighted(y_hat, y, LAT, kind="coslat", order="wb2").numpy(),
                               np.sqrt(frame.mean((0, 2))), rtol=1e-12)         # WB2: root of the mean
    m = evaluate(y_hat, y, data_range=4.0, lat=LAT)
    assert m["rmse_lat_weighted_wb1"] <= m["rmse_lat_weighted"] + 1e-12         # Jensen; 1e-12 absorbs rounding


# --- per-variable metrics and the nmse headline, through the experiment's evaluate_split ----------------------------
class _Persistence(torch.nn.Module):
    def __init__(self, t_out): super().__init__(); self.t_out = t_out
    def forward(self, x): return x[:, -1:].repeat(1, self.t_out, 1, 1, 1)


@pytest.mark.parametrize("geo", [False, True])
def test_evaluate_split_reports_per_variable_metrics_and_nmse(geo):
    from s2kd.data.core import load_windows, toy_dataset
    from s2kd.train.experiment import data_range, evaluate_split, metrics_rows
    w = load_windows(toy_dataset(n_time=30, geo=geo), 3, 2)     # a 4 x 6 grid: SSIM's window shrinks to 3
    lat = w.ds["lat"].values if geo else None
    m = evaluate_split(_Persistence(2), w.test, w.normalizer, data_range=data_range(w), lat=lat)
    var = w.normalizer.std.astype("float64") ** 2
    assert {"mse/u", "mse/v", "rmse/u_per_lead", "nmse", "nmse/u", "ssim/v"} <= set(m)
    # v = 2u + 1 in the toy data: the same relative error, four times the MSE in physical units, equal nmse
    assert m["mse/v"] == pytest.approx(4 * m["mse/u"], rel=1e-5)                # float32 data and model
    assert m["nmse"] == pytest.approx((m["mse/u"] / var[0] + m["mse/v"] / var[1]) / 2, rel=1e-9)  # float64 arithmetic on reported floats
    assert m["nmse/u"] == pytest.approx(m["nmse/v"], rel=1e-4)  # float32 data: v = 2u + 1 to ~1e-7 relative
    assert m["mse"] == pytest.approx((m["mse/u"] + m["mse/v"]) / 2, rel=1e-9)   # the old key: pooled, mixed units
    if geo: assert {"rmse_lat_weighted/u", "rmse_lat_weighted/u_per_lead", "nmse_lat_weighted"} <= set(m)
    rows = {(r[2], r[3]) for r in metrics_rows({"persistence": {"test": m}})}
    assert (1, "rmse/u") in rows and (0, "nmse") in rows and (0, "mse/v") in rows


def test_evaluate_split_passes_the_mask_through():
    from s2kd.data.core import load_windows, toy_dataset
    from s2kd.train.experiment import data_range, evaluate_split
    w = load_windows(toy_dataset(n_time=30), 3, 2)
    mask = np.ones((4, 6), bool); mask[:, :2] = False; mask[0, 5] = False          # a masked coast and one cell
    got = evaluate_split(_Persistence(2), w.test, w.normalizer, data_range=data_range(w), mask=mask, batch_size=3)
    x = torch.stack([w.test[i]["x"] for i in range(len(w.test))]); y = torch.stack([w.test[i]["y"] for i in range(len(w.test))])
    dec = w.normalizer.decode
    ref = evaluate(dec(_Persistence(2)(x)), dec(y), data_range=data_range(w), mask=mask, variables=w.normalizer.variables,
                   var_train=(w.normalizer.std.astype("float64") ** 2).tolist())
    assert set(got) == set(ref)
    for k in ref: np.testing.assert_allclose(got[k], ref[k], rtol=1e-9)   # same float32 inputs, float64 sums in batches
    assert got["mse"] != pytest.approx(evaluate_split(_Persistence(2), w.test, w.normalizer, data_range=data_range(w))["mse"],
                                       rel=1e-3)                            # the mask changed what was scored
