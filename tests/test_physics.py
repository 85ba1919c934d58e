"""Physics and contract checks of the embedded fluid solvers and datasets (`s2kd.data.fluids`)."""
import json, math

import numpy as np
import pytest
import torch
import xarray as xr

from s2kd.data.core import split_dataset, validate_dataset
from s2kd.data.fluids import (energy, enstrophy, grf_vorticity, make_convection, make_navier_stokes, make_plume,
                              rbc_run, simulate_ns, spectral_grid, to_phys, to_spec)

torch.set_num_threads(1)
G = spectral_grid(32, 32)


def _w0(batch=2, seed=1):
    "A dealiased FNO initial vorticity on 32×32 (what the solver integrates)."
    w = grf_vorticity(32, batch, torch.Generator().manual_seed(seed))
    return to_phys(G.mask*to_spec(w, G), G)


def test_unforced_viscous_energy_decays_monotonically():
    fr = simulate_ns(_w0(), viscosity=1e-3, n_frames=8, frame_dt=0.5, forcing=None)
    E, Z = energy(to_spec(fr, G), G), enstrophy(to_spec(fr, G), G)
    assert (E[:, 1:] < E[:, :-1]).all(), E
    # dE/dt = −2νZ: the energy lost over a frame matches the enstrophy dissipated (trapezoid rule)
    loss = (E[:, :-1] - E[:, 1:]).sum(1)
    predicted = 2e-3*0.5*((Z[:, :-1] + Z[:, 1:])/2).sum(1)
    assert torch.allclose(loss, predicted, rtol=0.05), (loss, predicted)


def test_inviscid_unforced_conserves_energy_and_enstrophy():
    w0 = _w0()
    fr = simulate_ns(w0, viscosity=0.0, n_frames=4, frame_dt=0.25, forcing=None)
    for f in (energy, enstrophy):
        q0, q1 = f(to_spec(w0, G), G), f(to_spec(fr[:, -1], G), G)
        assert ((q1/q0 - 1).abs() < 1e-6).all(), (f.__name__, q0, q1)
    assert (fr[:, -1] - w0).abs().max() > 0.05          # not trivially steady


def test_taylor_green_decays_exactly():
    x = torch.arange(16, dtype=torch.float64)/16
    w = (torch.sin(2*math.pi*x)[:, None]*torch.sin(4*math.pi*x)[None, :])[None]    # |k|² = (4 + 16)π²·... one shell
    fr = simulate_ns(w, viscosity=5e-3, n_frames=3, forcing=None)
    k2 = (2*math.pi)**2*(1 + 4)
    assert torch.allclose(fr[0, -1], w[0]*math.exp(-5e-3*k2*3), atol=1e-10)


def test_time_step_halving_converges_at_fourth_order():
    w0 = _w0(seed=3)
    run = lambda dt: simulate_ns(w0, viscosity=1e-4, n_frames=1, frame_dt=0.5, dt=dt)[:, -1]
    ref = run(0.5/160)
    errs = [(run(0.5/n) - ref).abs().max().item() for n in (8, 16, 32)]
    ratios = [errs[0]/errs[1], errs[1]/errs[2]]
    print("IF-RK4 errors", errs, "ratios", ratios)
    assert all(10 < r < 24 for r in ratios), ratios    # 2⁴ = 16 for a 4th-order scheme


def test_convection_subcritical_stays_at_rest_supercritical_does_not():
    kw = dict(ny=8, nx=24, aspect=2*math.sqrt(2), amplitude=0.01, n_frames=3, frame_dt=8.0, batch=2)
    th, u, v = rbc_run(400.0, **kw)                    # Ra_c = 27π⁴/4 ≈ 657.5 for free-slip walls
    amp = th.abs().amax((0, 2, 3))
    assert (amp[1:] < amp[:-1]).all() and amp[-1] < 0.01 and u.abs().max() < 1e-3, amp
    th, u, v = rbc_run(4000.0, **kw)
    assert th[:, -1].abs().max() > 0.1 and u[:, -1].abs().max() > 0.01


def test_convection_respects_maximum_principle_and_is_hot_below():
    ds = make_convection(size="tiny", n_frames=6)
    T = ds.temperature
    assert -0.05 < float(T.min()) and float(T.max()) < 1.05
    profile = T.mean(("member", "time", "x")).values
    assert profile[0] > 0.5 > profile[-1]


def test_plume_heat_and_sponge():
    ds = make_plume(size="tiny", n_frames=8)
    heat = ds.temperature.isel(time=-1).mean(("y", "x")).groupby("heat_release").mean().values
    assert (np.diff(heat) > 0).all() and heat[0] > 0, heat     # more heat release, more heat in the box
    top = float(abs(ds.temperature.isel(time=-1, y=slice(-3, None))).max())
    assert top < 0.1*float(ds.temperature.max()), top          # the sponge stops the plume wrapping around
    assert float(ds.v.isel(time=-1).max()) > 0.1                # it rises


GENERATORS = dict(navier_stokes=(make_navier_stokes, ("vorticity",), dict(n_frames=5)),
                  convection=(make_convection, ("u", "v", "temperature"), dict(n_frames=5, spinup=2.0)),
                  plume=(make_plume, ("u", "v", "temperature"), dict(n_frames=5)))


@pytest.mark.parametrize("name", list(GENERATORS))
def test_generator_deterministic_and_follows_the_convention(name, tmp_path):
    make, variables, kw = GENERATORS[name]
    a, b = make(size="tiny", seed=3, device="cpu", **kw), make(size="tiny", seed=3, device="cpu", **kw)
    xr.testing.assert_identical(a, b)
    c = make(size="tiny", seed=4, device="cpu", **kw)
    assert not np.array_equal(a[variables[0]].values, c[variables[0]].values)
    validate_dataset(a, name)
    assert tuple(a.data_vars) == variables
    for v in variables:
        assert a[v].dims == ("member", "time", "y", "x") and a[v].dtype == np.float32
    assert a.sizes["time"] == 5 and np.all(np.diff(a.time.values) > 0)
    for key in ("title", "source", "provenance", "license", "synthetic", "seed", "generator", "t_in", "t_out", "splits"):
        assert key in a.attrs, key
    assert a.attrs["synthetic"] == "yes" and a.attrs["license"] == "CC0 (generated by s2kd)" and a.attrs["seed"] == 3
    assert json.loads(a.attrs["generator"])["size"] == "tiny"
    parts = split_dataset(a)
    ids = {k: set(d.member.values.tolist()) for k, d in parts.items()}
    assert not (ids["train"] & ids["val"]) and not (ids["train"] & ids["test"]) and not (ids["val"] & ids["test"])
    if name == "plume":   # out of distribution: test rates are never seen in train/val
        seen = set(parts["train"].heat_release.values) | set(parts["val"].heat_release.values)
        assert not seen & set(parts["test"].heat_release.values)
        assert set(parts["val"].heat_release.values) <= set(parts["train"].heat_release.values)
    path = tmp_path/f"{name}.nc"
    a.to_netcdf(path, engine="h5netcdf", encoding={v: dict(zlib=True, complevel=4) for v in variables})
    with xr.open_dataset(path, engine="h5netcdf") as back:
        xr.testing.assert_identical(back.load(), a)


def test_navier_stokes_per_member_viscosity_and_errors():
    ds = make_navier_stokes(size="tiny", viscosity=[1e-3, 1e-4], n_frames=2)
    assert ds.viscosity.values.tolist()[:4] == [1e-3, 1e-4, 1e-3, 1e-4]  # exact: stored constants
    with pytest.raises(ValueError, match="unknown size"): make_navier_stokes(size="huge")
    with pytest.raises(ValueError, match="split"): make_navier_stokes(size="tiny", members=3)
