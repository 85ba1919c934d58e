"Integration tests for s2kd.losses: autograd checks, odd grid sizes, dtypes, and the AEKD solvers on many problems."
import math

import pytest
import torch

from s2kd.core import DataError
from s2kd.losses.kd import (ab_loss, fitnet_hint, freq_split, kd_output_mse, lowpass_mask, s2kd_loss, sdkd_loss,
                            semantic_mse, spectral_l1, task_mse)
from s2kd.losses.multi import (aekd_combine, aekd_weights_pg, aekd_weights_svm, camkd_loss, camkd_weights,
                               output_grads, project_capped_simplex)

torch.set_num_threads(1)


@pytest.mark.parametrize("h,w", [(7, 9), (8, 5), (16, 16), (1, 6)])
@pytest.mark.parametrize("kind", ["radial", "gaussian"])
def test_freq_split_is_exact_and_real_on_odd_grids(h, w, kind):
    f = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(h * w), dtype=torch.float64)
    lo, hi = freq_split(f, cutoff=0.3, kind=kind)
    assert lo.dtype == torch.float64 and lo.shape == f.shape
    torch.testing.assert_close(lo + hi, f)
    m = lowpass_mask(h, w, cutoff=0.3, kind=kind)   # symmetric under k -> -k, so filtering a real field stays real
    torch.testing.assert_close(m, torch.roll(torch.flip(m, (0, 1)), (1, 1), (0, 1)))
    full = torch.fft.ifftn(torch.fft.fftn(f, dim=(-2, -1)) * m, dim=(-2, -1))
    assert float(full.imag.abs().max()) < 1e-12     # nothing was thrown away by `.real`
    torch.testing.assert_close(full.real, lo)


@pytest.mark.parametrize("h,w", [(7, 9), (8, 5), (6, 16)])
def test_mask_matches_closed_form_per_axis_normalization(h, w):
    "|k| = √((2·k_y/h)² + (2·k_x/w)²) with signed integer bins; each axis by its own length (odd too)."
    signed = lambda n: torch.tensor([j if j < (n + 1) // 2 else j - n for j in range(n)], dtype=torch.float64)
    k2 = (2 * signed(h) / h)[:, None] ** 2 + (2 * signed(w) / w)[None, :] ** 2
    for c in (0.2, 0.3, 0.5, 1.0):
        torch.testing.assert_close(lowpass_mask(h, w, cutoff=c), (k2 <= c ** 2 + 1e-9).float())
        torch.testing.assert_close(lowpass_mask(h, w, cutoff=c, kind="gaussian").double(),
                                   torch.exp(-k2 * math.log(2) / c ** 2), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("h,w,c", [(52, 104, 0.25), (120, 120, 0.25), (20, 20, 0.1), (60, 60, 0.5)])
def test_mask_keeps_bins_on_the_cutoff(h, w, c):
    "A closed disk in exact arithmetic: integer bins (k, m) with (k/(h/2))² + (m/(w/2))² ≤ c² (float32 dropped some)."
    k, m = torch.fft.fftfreq(h, 1 / h).round().long().tolist(), torch.fft.fftfreq(w, 1 / w).round().long().tolist()  # bin numbers
    num, den = c.as_integer_ratio()                      # c = num/den exactly: the rule in Python integers, no rounding
    exact = torch.tensor([[4 * (a * a * (w * den) ** 2 + b * b * (h * den) ** 2) <= (num * h * w) ** 2 for b in m] for a in k])
    old = ((2 * torch.fft.fftfreq(h))[:, None] ** 2 + (2 * torch.fft.fftfreq(w))[None] ** 2 <= c ** 2)  # the float32 rule before
    assert int(exact.sum()) > int(old.sum())             # these grids have bins on the cutoff
    assert torch.equal(lowpass_mask(h, w, cutoff=c), exact.float())  # exact: a 0/1 mask


@pytest.mark.parametrize("h,w", [(32, 32), (64, 64), (32, 64), (128, 128), (16, 16), (73, 144)])
@pytest.mark.parametrize("t", [None, 6, 10, 12])
def test_mask_unchanged_on_the_presets_grids(h, w, t):
    "The closed disk equals the float32 rule it replaced on the grids the presets use: no committed SDKD number moves."
    ax = [2 * torch.fft.fftfreq(n) for n in ([t] if t else []) + [h, w]]
    old = (sum(g ** 2 for g in torch.meshgrid(*ax, indexing="ij")) <= 0.25 ** 2).float()
    assert torch.equal(lowpass_mask(h, w, cutoff=0.25, t=t), old)  # exact: a 0/1 mask


@pytest.mark.parametrize("fn", [
    lambda a, b: sdkd_loss(a, b, w_low=0.5), lambda a, b: sdkd_loss(a, b, temporal=True, kind="gaussian"),
    lambda a, b: s2kd_loss(a, b)[0], spectral_l1, ab_loss, fitnet_hint, task_mse])
def test_losses_promote_low_precision_inputs(fn):
    "bf16/fp16 features (a model under autocast) give a float32 loss equal to the float32 loss of the same values."
    g = torch.Generator().manual_seed(5)
    a, b = torch.randn(2, 3, 2, 7, 10, generator=g), torch.randn(2, 3, 2, 7, 10, generator=g)
    for dt, amp in [(torch.bfloat16, True), (torch.bfloat16, False), (torch.float16, False)]:
        a16, b16 = a.to(dt).requires_grad_(True), b.to(dt)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):   # FFTs reject bf16/fp16 outside autocast
            loss = fn(a16, b16)
        assert loss.dtype == torch.float32
        torch.testing.assert_close(loss, fn(a16.detach().float(), b16.float()), rtol=1e-6, atol=1e-7)
        loss.backward()
        assert a16.grad.dtype == dt and torch.isfinite(a16.grad).all()


def test_radial_split_is_an_orthogonal_projection():
    f = torch.randn(3, 11, 12, dtype=torch.float64)
    lo, hi = freq_split(f, cutoff=0.4)
    assert abs(float((lo * hi).sum())) < 1e-9                       # Ψ_l f ⟂ Ψ_h f
    lo2, _ = freq_split(lo, cutoff=0.4)
    torch.testing.assert_close(lo2, lo)                             # idempotent


def test_mask_monotone_in_cutoff():
    for kind in ("radial", "gaussian"):
        a, b = lowpass_mask(12, 10, cutoff=0.2, kind=kind), lowpass_mask(12, 10, cutoff=0.6, kind=kind)
        assert bool((b >= a).all()) and float(b.sum()) > float(a.sum())


@pytest.mark.parametrize("fn", [
    lambda a, b: sdkd_loss(a, b, w_low=2.0),
    lambda a, b: sdkd_loss(a, b, kind="gaussian", cutoff=0.4),
    lambda a, b: s2kd_loss(a, b)[0],
    lambda a, b: ab_loss(a, b, margin=0.3),
    fitnet_hint, semantic_mse])
def test_gradcheck(fn):
    g = torch.Generator().manual_seed(0)
    fs = torch.randn(1, 2, 5, 6, dtype=torch.float64, generator=g, requires_grad=True)
    ft = torch.randn(1, 2, 5, 6, dtype=torch.float64, generator=g) + 2.0  # keep |FFT| away from 0 and AB off its kinks
    assert torch.autograd.gradcheck(lambda x: fn(x, ft), (fs,))


def test_sdkd_temporal_on_forecast_shapes():
    ys = torch.randn(2, 4, 3, 8, 8, requires_grad=True)
    yt = torch.randn(2, 4, 3, 8, 8)
    loss = sdkd_loss(ys, yt, temporal=True, w_low=1.0)
    torch.testing.assert_close(loss, kd_output_mse(ys, yt), rtol=1e-5, atol=1e-6)  # orthogonal 3-D split too
    loss.backward()
    assert ys.grad is not None


def test_spectral_l1_is_a_lower_bound_on_l1_of_spectra():
    "| |a| − |b| | ≤ |a − b| per bin: spectral_l1 ≤ mean |FFT(fs − ft)|, equality when the difference is a scaling."
    fs, ft = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    bound = torch.fft.fftn(fs - ft, dim=(-2, -1), norm="ortho").abs().mean()
    assert spectral_l1(fs, ft) <= bound + 1e-6
    torch.testing.assert_close(spectral_l1(3 * ft, ft), torch.fft.fftn(2 * ft, dim=(-2, -1), norm="ortho").abs().mean())


def test_shape_errors_name_the_loss():
    a, b = torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 5)
    for fn, name in [(task_mse, "task_mse"), (sdkd_loss, "sdkd_loss"), (spectral_l1, "spectral_l1"), (ab_loss, "ab_loss")]:
        with pytest.raises(DataError, match=name):
            fn(a, b)


def test_aekd_solvers_agree_on_many_problems():
    g = torch.Generator().manual_seed(123)
    for _ in range(60):
        M = int(torch.randint(2, 7, (1,), generator=g))
        C = float(torch.empty(1).uniform_(1 / M, 1.0, generator=g))
        G = torch.randn(M, 200, generator=g) + 2 * torch.rand(1, generator=g) * torch.randn(1, 200, generator=g)
        G = G * 10 ** float(torch.empty(1).uniform_(-4, 2, generator=g))   # scale-free
        a, b = aekd_weights_svm(G, C=C), aekd_weights_pg(G, C=C)
        torch.testing.assert_close(a, b, atol=1e-3, rtol=0)
        for x in (a, b):
            assert abs(float(x.sum()) - 1) < 1e-5 and float(x.min()) > -1e-6 and float(x.max()) < C + 1e-5


def test_min_norm_direction_is_a_common_descent_direction():
    "With C = 1 (MGDA), d = Σα g satisfies g_m·d ≥ ‖d‖² for every teacher: no teacher's loss goes up to first order."
    g = torch.Generator().manual_seed(7)
    for _ in range(20):
        G = torch.randn(4, 50, generator=g, dtype=torch.float64) + torch.randn(1, 50, generator=g, dtype=torch.float64)
        d = aekd_weights_pg(G, C=1.0).double() @ G
        assert bool((G @ d >= d @ d - 1e-4 * (d @ d + 1e-12)).all())


def test_projection_is_the_nearest_feasible_point():
    g = torch.Generator().manual_seed(3)
    for _ in range(30):
        v, C = torch.randn(5, generator=g, dtype=torch.float64) * 2, 0.35
        p = project_capped_simplex(v, C)
        for _ in range(30):                        # any feasible point q is no closer to v
            q = project_capped_simplex(torch.rand(5, generator=g, dtype=torch.float64) * 4, C)
            assert float((v - p).norm()) <= float((v - q).norm()) + 1e-9


def test_aekd_combine_on_a_tiny_model_step():
    torch.manual_seed(0)
    net = torch.nn.Conv2d(2, 2, 3, padding=1)
    x, teachers = torch.randn(4, 2, 8, 8), [torch.randn(4, 2, 8, 8) for _ in range(3)]
    y_hat = net(x)
    ls = [kd_output_mse(y_hat, t) for t in teachers]
    loss, a = aekd_combine(ls, y_hat, C=0.5, solver="pg")
    _, a_svm = aekd_combine(ls, y_hat, C=0.5, solver="svm")
    torch.testing.assert_close(a, a_svm, atol=1e-3, rtol=0)
    G = output_grads(ls, y_hat)
    assert G.shape == (3, 4 * 2 * 8 * 8)
    torch.testing.assert_close(G[0], (2 * (y_hat - teachers[0]) / y_hat.numel()).detach().reshape(-1))  # ∂MSE/∂y_hat
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    with pytest.raises(DataError, match="solver must be"):
        aekd_combine(ls, y_hat, solver="qp")


def test_camkd_weights_follow_accuracy_per_sample():
    y = torch.zeros(2, 1, 1, 4, 4)
    good_on_0 = torch.cat([y[:1], y[1:] + 3])
    good_on_1 = torch.cat([y[:1] + 3, y[1:]])
    w = camkd_weights([good_on_0, good_on_1], y)
    expected = 1 / (1 + math.exp(-2))                               # errors (0, 9): e/τ = (0, 2) with τ = mean error
    torch.testing.assert_close(w, torch.tensor([[expected, 1 - expected], [1 - expected, expected]]))  # per sample
    torch.testing.assert_close(camkd_weights([good_on_0 * 1000, good_on_1 * 1000], y * 1000), w)  # unit-free default
    w_fixed = camkd_weights([good_on_0, good_on_1], y, temperature=1.0)
    assert w_fixed[0, 0] > 0.999                                     # a fixed τ = 1 on errors of 9 is nearly hard
    ls = torch.rand(2, 2, requires_grad=True)
    camkd_loss(ls, w).backward()
    torch.testing.assert_close(ls.grad, w / 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_losses_match_on_cuda():
    fs, ft = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    for fn in (lambda a, b: sdkd_loss(a, b, w_low=2.0, kind="gaussian"), spectral_l1, lambda a, b: s2kd_loss(a, b)[0]):
        torch.testing.assert_close(fn(fs, ft), fn(fs.cuda(), ft.cuda()).cpu(), rtol=1e-4, atol=1e-5)
