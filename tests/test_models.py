"Integration tests for s2kd.models: shapes on odd grids, determinism, gradients, the multimodal teacher's text handling, feature taps, training steps, the registry and `s2kd models`."
import io
from contextlib import redirect_stdout

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from s2kd.core import DataError
from s2kd.models.features import FeatureTap, ModulePathError, Projector, get_module, make_projector
from s2kd.models.multimodal import MultimodalTeacher
from s2kd.models.registry import MODELS, PRESETS, ROLE, build_model, cli_models, count_params, param_count

torch.set_num_threads(1)

NAMES = list(MODELS)
# (T_in, C, H, W), T_out: non-square, non-power-of-two, a thin strip like RBC's 32×480, a tiny odd grid
SHAPES = [((3, 2, 30, 50), 4), ((2, 1, 16, 120), 3), ((5, 2, 12, 12), 5), ((1, 3, 7, 9), 2)]
D_TEXT = 384


def _build(name, shape, t_out, seed=0, **kw):
    torch.manual_seed(seed)
    return build_model(name, in_shape=shape, t_out=t_out, preset="smoke", **kw)


def _run(model, x, text=None, mask=None):
    return model(x, text, mask) if isinstance(model, MultimodalTeacher) else model(x)


def _text(b, l=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, l, D_TEXT, generator=g)


@pytest.mark.parametrize("shape,t_out", SHAPES)
@pytest.mark.parametrize("name", NAMES)
def test_shapes_on_odd_grids(name, shape, t_out):
    m = _build(name, shape, t_out)
    x = torch.randn(2, *shape)
    y = _run(m, x, _text(2))
    assert y.shape == (2, t_out, *shape[1:])
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", NAMES)
def test_wrong_input_shape_names_the_expected_shape(name):
    m = _build(name, (3, 2, 30, 50), 4)
    with pytest.raises(DataError, match=r"\(B, 3, 2, 30, 50\)"):
        _run(m, torch.randn(2, 3, 2, 32, 64))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output_and_batch_independence(name):
    shape = (3, 2, 30, 50)
    x, text = torch.randn(3, *shape), _text(3)
    a, b, c = _build(name, shape, 4, seed=7), _build(name, shape, 4, seed=7), _build(name, shape, 4, seed=8)
    ya = _run(a, x, text)
    assert torch.equal(ya, _run(b, x, text))
    assert not torch.allclose(ya, _run(c, x, text))
    # GroupNorm/LayerNorm only: a sample's forecast does not depend on the rest of its batch
    torch.testing.assert_close(_run(a, x[:1], text[:1]), ya[:1], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name):
    m = _build(name, (3, 2, 30, 50), 4)
    _run(m, torch.randn(2, 3, 2, 30, 50), _text(2)).square().mean().backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []
    zero = [n for n, p in m.named_parameters() if p.grad.abs().sum() == 0]
    assert zero == []


@pytest.mark.parametrize("backbone", ["simvp", "alternet"])
def test_multimodal_text_effects(backbone):
    shape = (3, 2, 30, 50)
    m = _build("multimodal", shape, 4, backbone=backbone, residual="none")  # compared with its bare backbone below
    x, text = torch.randn(2, *shape), _text(2, l=7)
    mask = torch.tensor([[True] * 4 + [False] * 3, [True] * 7])
    y = m(x, text, mask)
    # the text changes -> the output changes (for each sample)
    y2 = m(x, _text(2, l=7, seed=2), mask)
    assert not torch.allclose(y[0], y2[0]) and not torch.allclose(y[1], y2[1])
    # padding tokens change -> the output does not
    t3 = text.clone(); t3[0, 4:] = torch.randn(3, D_TEXT) * 50
    torch.testing.assert_close(m(x, t3, mask), y)
    # all masked / None: finite, equal to the vision-only backbone
    none, masked = m(x), m(x, text, torch.zeros_like(mask))
    assert torch.isfinite(masked).all()
    torch.testing.assert_close(none, m.backbone(x))
    torch.testing.assert_close(masked, none)
    # a default mask (None) means every token is real
    torch.testing.assert_close(m(x, text), m(x, text, torch.ones_like(mask)))
    # gradients stay finite with all text masked
    m.zero_grad(); m(x, text, torch.zeros_like(mask)).square().mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)


def test_multimodal_rejects_bad_text():
    m = _build("multimodal", (3, 2, 30, 50), 4)
    x = torch.randn(2, 3, 2, 30, 50)
    with pytest.raises(DataError, match="text: expected"):
        m(x, torch.randn(2, 5, 100))
    with pytest.raises(DataError, match="text_mask: expected bool"):
        m(x, _text(2, l=5), torch.ones(2, 4, dtype=torch.bool))


@pytest.mark.parametrize("name", NAMES)
def test_default_tap_is_a_spatial_map(name):
    shape = (3, 2, 30, 50)
    m = _build(name, shape, 4)
    x = torch.randn(2, *shape)
    with FeatureTap(m, m.feature_path) as tap:
        _run(m, x, _text(2))
    f = tap[m.feature_path]
    stride = getattr(m, "stride", None) or m.backbone.stride
    h, w = -(-30 // stride), -(-50 // stride)            # ceil: the grid after the model's own padding
    assert f.ndim == 4 and f.shape[0] == 2 and tuple(f.shape[-2:]) == (h, w)
    if hasattr(m, "latent_dim"): assert f.shape[1] == m.latent_dim
    assert all(len(mod._forward_hooks) == 0 for mod in m.modules())


@pytest.mark.parametrize("name", NAMES)
def test_runs_under_bf16_autocast_on_cpu(name):
    "AMP on CPU (RunConfig.amp='bf16'): forward and backward run, stay finite and near the float32 forecast."
    m = _build(name, (3, 2, 12, 20), 4)
    x, text = torch.randn(2, 3, 2, 12, 20), _text(2)
    mask = torch.tensor([[True] * 3 + [False] * 3, [False] * 6])      # padding and an all-masked sample
    with torch.no_grad(): ref = _run(m, x, text, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = _run(m, x, text, mask)
    # the network runs in bf16; the residual adds the last input frame in float32 (a bf16 sum would round it to ~3 digits)
    assert y.dtype == torch.float32 and torch.isfinite(y).all()
    assert float((y.detach().float() - ref).abs().max()) < 0.1 * float(ref.abs().max()) + 1e-3
    y.float().square().mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)


def test_alternet_branches_and_fused_latent():
    m = _build("alternet", (3, 2, 30, 50), 4)
    paths = [m.branch_paths["high"], m.branch_paths["low"], m.feature_path]
    with FeatureTap(m, paths) as tap: m(torch.randn(2, 3, 2, 30, 50))
    zh, zl, zf = (tap[p] for p in paths)
    assert zh.shape == zl.shape == zf.shape
    torch.testing.assert_close(zf, torch.nn.functional.layer_norm(
        (zh + zl).permute(0, 2, 3, 1), (zf.shape[1],), get_module(m, "evolve.-1.fuse.norm").weight,
        get_module(m, "evolve.-1.fuse.norm").bias).permute(0, 3, 1, 2))


def test_get_module_error_lists_close_paths():
    m = _build("unet", (3, 2, 30, 50), 4)
    with pytest.raises(ModulePathError, match=r"close paths: \['mid"):
        get_module(m, "mids")


@pytest.mark.parametrize("student", ["unet", "resnet", "mixer"])
@pytest.mark.parametrize("teacher", ["simvp", "alternet", "multimodal"])
def test_projector_maps_student_to_teacher(student, teacher):
    shape, x = (3, 2, 30, 50), torch.randn(2, 3, 2, 30, 50)
    s, t = _build(student, shape, 4), _build(teacher, shape, 4)
    with FeatureTap(s, s.feature_path) as ts: s(x)
    with FeatureTap(t, t.feature_path, detach=True) as tt: _run(t, x, _text(2))
    fs, ft = ts[s.feature_path], tt[t.feature_path]
    P = make_projector(fs, ft)
    out = P(fs)
    assert out.shape == ft.shape
    ((out - ft) ** 2).mean().backward()
    assert P.proj.weight.grad.abs().sum() > 0
    first = next(s.parameters())                       # the loss on the tapped feature trains the student below it
    assert first.grad is not None and first.grad.abs().sum() > 0


def test_projector_tokens_interpolate_over_length():
    P = Projector(4, 6, kind="tokens", size=9)
    t = torch.ones(2, 5, 4)
    out = P(t)
    assert out.shape == (2, 9, 6)
    torch.testing.assert_close(out, P.proj(t[:, :1]).expand(2, 9, 6))   # constant tokens stay constant


@pytest.mark.parametrize("name", NAMES)
def test_a_few_steps_reduce_the_loss(name):
    "A tiny synthetic regression: y is x's last frame, negated and repeated; Adam must make progress."
    torch.manual_seed(0)
    shape, t_out = (2, 1, 8, 12), 2
    x = torch.randn(16, *shape)
    y = -x[:, -1:].repeat(1, t_out, 1, 1, 1)
    text = torch.randn(16, 3, D_TEXT)
    dl = DataLoader(TensorDataset(x, y, text), batch_size=8, shuffle=False)
    m = _build(name, shape, t_out)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    loss_of = lambda: sum(float(((_run(m, xb, tb) - yb) ** 2).mean()) for xb, yb, tb in dl) / len(dl)
    with torch.no_grad(): start = loss_of()
    for _ in range(15):
        for xb, yb, tb in dl:
            opt.zero_grad(); loss = ((_run(m, xb, tb) - yb) ** 2).mean(); loss.backward(); opt.step()
    with torch.no_grad(): end = loss_of()
    assert end < 0.8 * start, (start, end)


def test_registry_contract():
    assert set(MODELS) == set(ROLE) == set(PRESETS) >= {"unet", "resnet", "mixer", "simvp", "alternet", "multimodal"}
    assert {ROLE[n] for n in ("unet", "resnet", "mixer")} == {"student"}
    assert {ROLE[n] for n in ("simvp", "simvp_deep", "alternet", "multimodal")} == {"teacher"}
    for n in MODELS:
        assert set(PRESETS[n]) == {"smoke", "quick", "paper"}
        assert isinstance(MODELS[n].feature_path, str)
    with pytest.raises(KeyError, match="models:"): build_model("nope", in_shape=(1, 1, 4, 4), t_out=1)
    with pytest.raises(KeyError, match="presets:"): build_model("unet", in_shape=(1, 1, 4, 4), t_out=1, preset="big")
    m = build_model("unet", in_shape=(3, 2, 30, 50), t_out=4, preset="smoke", dim=6)
    assert m.stem.conv.out_channels == 6


def test_paper_sizes_at_weatherbench_shape():
    "S²-KD Tables 1-3: U-Net 5.1M, ResNet 4.5M, MLP-Mixer 6.2M, SimVP-Deep 80.5M; students much smaller than teachers."
    n = {k: param_count(k, in_shape=(12, 2, 32, 64), t_out=12, preset="paper") / 1e6 for k in MODELS}
    assert abs(n["unet"] - 5.1) < 0.2 and abs(n["resnet"] - 4.5) < 0.2 and abs(n["mixer"] - 6.2) < 0.2
    assert abs(n["simvp_deep"] - 80.5) < 3 and 80 <= n["multimodal"] <= 150
    assert max(n[s] for s in ("unet", "resnet", "mixer")) < 0.3 * min(n[t] for t in ("simvp", "alternet", "simvp_deep"))
    for p in ("smoke", "quick"):   # presets grow smoke < quick < paper
        for k in MODELS:
            assert param_count(k, in_shape=(12, 2, 32, 64), t_out=12, preset=p) < n[k] * 1e6


def test_meta_count_matches_real_model():
    m = build_model("multimodal", in_shape=(3, 2, 30, 50), t_out=4, preset="smoke", backbone="alternet")
    assert count_params(m) == param_count("multimodal", in_shape=(3, 2, 30, 50), t_out=4, preset="smoke", backbone="alternet")


def test_cli_models_lists_every_model_and_preset():
    buf = io.StringIO()
    with redirect_stdout(buf): rc = cli_models(["--shape", "12,2,32,64", "--t-out", "12"])
    assert rc == 0
    rows = [l.split() for l in buf.getvalue().splitlines()[2:]]
    assert {(r[0], r[2]) for r in rows} == {(n, p) for n in MODELS for p in PRESETS[n]}
    unet_paper = next(r for r in rows if r[0] == "unet" and r[2] == "paper")
    assert int(unet_paper[3].replace(",", "")) == param_count("unet", in_shape=(12, 2, 32, 64), t_out=12, preset="paper")
