"""One config, written once (issue 11): the methods are defined in one module, and a `RunConfig` reaches the
`Distiller` whole (`Distiller.from_config`), so an option is added in one place."""
import inspect, os
from dataclasses import fields

os.environ.setdefault("OMP_NUM_THREADS", "1")
import pytest
import torch

import s2kd.distill as distill
import s2kd.train.config as config
from s2kd.train.config import RunConfig


def test_methods_defined_once():
    "`METHODS` and the multi-teacher methods are the very objects of `s2kd.distill`, not a second copy."
    assert config.METHODS is distill.METHODS and config.MULTI_TEACHER is distill.MULTI


def _options():
    "Keyword options of `Distiller.__init__`."
    return {n for n, p in inspect.signature(distill.Distiller.__init__).parameters.items() if p.kind is p.KEYWORD_ONLY}


def test_every_distiller_option_of_the_config_is_passed():
    "Each RunConfig field named like a Distiller option reaches it; non-default values show up in the built Distiller."
    shared = {f.name for f in fields(RunConfig)} & _options()
    assert {"method", "w_task", "w_kd_out", "w_kd_feat", "w_spectral", "w_low", "sdkd_cutoff", "sdkd_mask", "sdkd_kind",
            "fitnet_stages", "fitnet_hint_epochs", "mkd_loss", "aekd_solver", "aekd_cap", "ab_margin"} <= shared, shared
    with pytest.warns(UserWarning, match="method 'aekd' does not read w_kd_feat=1.5"):  # options AEKD never reads, set on purpose
        cfg = RunConfig(method="aekd", teacher="simvp,alternet", w_task=0.3, w_kd_out=2.5, w_kd_feat=1.5, w_spectral=0.7, w_low=0.1,
                        sdkd_cutoff=0.6, sdkd_mask="gaussian", sdkd_kind="3d", fitnet_stages=2, fitnet_hint_epochs=0, epochs=8,
                        mkd_loss="mse", aekd_solver="pg", aekd_cap=0.75, ab_margin=2.0)
    opts = distill.config_options(cfg)
    assert set(opts) == shared
    assert opts["fitnet_hint_epochs"] == 4  # 0 -> epochs // 2, as `run` did by hand before
    t1, t2, s = (torch.nn.Conv2d(1, 1, 1) for _ in range(3))
    d = distill.Distiller.from_config(cfg, s, [t1, t2])
    assert d.method == "aekd"
    assert d.w == dict(task=0.3, kd_out=2.5, kd_feat=1.5, spectral=0.7, low=0.1, semantic=1.0)
    assert d.opt == dict(cutoff=0.6, mask="gaussian", kind="3d", branch=False, stages=2, hint_epochs=4, mkd="mse",
                         solver="pg", cap=0.75, margin=2.0)


def test_run_passes_the_config_whole():
    "`run` builds its Distiller from the config, not from a hand-written list of fields."
    from s2kd.train.experiment import run
    src = inspect.getsource(run)
    assert "Distiller.from_config(cfg" in src
    assert "w_kd_feat=cfg." not in src and "sdkd_cutoff=cfg." not in src


def test_fit_gets_its_options_from_the_config_whole():
    "`run` hands `fit` every field named like one of its options (the same hand-written 12 as before, now derived)."
    from s2kd.train.experiment import _loop_kw
    from s2kd.train.loop import fit
    cfg = RunConfig(batch_size=4, lr=3e-4, weight_decay=0.01, patience=3, lr_patience=2, lr_factor=0.5, grad_clip=1.0,
                    amp="bf16", seed=7, device="cpu", num_workers=1)
    kw = _loop_kw(cfg, 5)
    expected = dict(epochs=5, batch_size=4, lr=3e-4, weight_decay=0.01, patience=3, lr_patience=2, lr_factor=0.5,
                    grad_clip=1.0, amp="bf16", seed=7, device="cpu", num_workers=1)  # what `run` listed by hand before
    assert {k: kw[k] for k in expected} == expected
    fit_opts = {n for n, p in inspect.signature(fit).parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert set(kw) == ({f.name for f in fields(RunConfig)} & fit_opts) | {"epochs"}  # a new fit option in RunConfig reaches fit
