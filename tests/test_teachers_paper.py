"S²-KD's own teachers, Triton (WeatherBench, Table 1) and EarthFarseer (TaxiBJ+, Table 2): published sizes, the dataset shapes they are used on, training, determinism and feature taps."
import pytest
import torch

from s2kd.efficiency import BENCH_SHAPES
from s2kd.models.features import FeatureTap
from s2kd.models.registry import ROLE, build_model, param_count

torch.set_num_threads(1)

TEACHERS = ["triton", "earthfarseer"]
# S²-KD's reported sizes, in millions, and the shape of the dataset each teacher is used on
PAPER = {"triton": (150.2, (12, 2, 32, 64), 12), "earthfarseer": (125.8, (12, 2, 128, 128), 12)}
# the quick framings s2kd trains them on: winds (6 -> 6 monthly frames, 32x64) and traffic (12 -> 12, 32x32)
QUICK = {"triton": ((6, 2, 32, 64), 6), "earthfarseer": ((12, 2, 32, 32), 12)}


@pytest.mark.parametrize("name", TEACHERS)
def test_paper_preset_has_the_published_size(name):
    "Counted on the meta device (no memory). The presets sit within 0.5% of the paper; 2% still pins the published size."
    target, shape, t_out = PAPER[name]
    n = param_count(name, in_shape=shape, t_out=t_out, preset="paper") / 1e6
    assert abs(n - target) < 0.02 * target, (name, n, target)
    assert ROLE[name] == "teacher"


@pytest.mark.parametrize("name", TEACHERS)
def test_paper_preset_maps_the_paper_shape(name):
    "The full-size model's forward on the meta device: shapes only, no memory, no time."
    _, shape, t_out = PAPER[name]
    with torch.device("meta"):
        m = build_model(name, in_shape=shape, t_out=t_out, preset="paper")
        y = m(torch.empty(2, *shape))
    assert y.shape == (2, t_out, *shape[1:])


@pytest.mark.parametrize("name", TEACHERS)
def test_quick_preset_sizes_and_bench_shapes(name):
    "Quick presets stay small (0.3-2M parameters) on their quick framing and on every benchmark shape."
    shape, t_out = QUICK[name]
    assert 0.3e6 < param_count(name, in_shape=shape, t_out=t_out, preset="quick") < 2e6
    for ds, presets in BENCH_SHAPES.items():
        (shape, t_out) = presets["smoke"]
        m = build_model(name, in_shape=shape, t_out=t_out, preset="quick")
        assert m(torch.randn(1, *shape)).shape == (1, t_out, *shape[1:]), ds


@pytest.mark.parametrize("name", TEACHERS)
def test_quick_preset_forward_is_deterministic_and_tapped(name):
    shape, t_out = QUICK[name]
    x = torch.randn(2, *shape)
    torch.manual_seed(3); a = build_model(name, in_shape=shape, t_out=t_out, preset="quick").eval()
    torch.manual_seed(3); b = build_model(name, in_shape=shape, t_out=t_out, preset="quick").eval()
    with torch.no_grad(), FeatureTap(a, a.feature_path) as tap:
        ya = a(x)
    with torch.no_grad():
        assert torch.equal(ya, b(x)) and torch.equal(ya, a(x))
    f = tap[a.feature_path]
    H, W = shape[-2:]
    assert f.shape == (2, a.latent_dim, -(-H // a.stride), -(-W // a.stride))


@pytest.mark.parametrize("name", TEACHERS)
def test_quick_preset_learns_a_tiny_problem(name):
    "y is x's last frame, negated and repeated, on a small non-square grid; 30 Adam steps must cut the MSE by 20%."
    torch.manual_seed(0)
    shape, t_out = (4, 2, 16, 24), 3
    x = torch.randn(16, *shape)
    y = -x[:, -1:].repeat(1, t_out, 1, 1, 1)
    m = build_model(name, in_shape=shape, t_out=t_out, preset="quick")
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for step in range(30):
        opt.zero_grad()
        loss = ((m(x) - y) ** 2).mean()
        loss.backward(); opt.step()
        losses.append(loss.item())
    # white-noise frames are the hardest case for models that halve the grid early (EarthFarseer's quick preset reaches
    # ~0.75 of the start after 20 steps, Triton ~0.5); the 0.8 bar is test_models.py's and still fails a model that
    # cannot carry the last frame through (its loss stays at the start, ~1.2)
    assert losses[-1] < 0.8 * losses[0], losses
    assert all(torch.isfinite(p.grad).all() for p in m.parameters())


def test_earthfarseer_rejects_a_patch_that_misses_the_latent_grid():
    with pytest.raises(ValueError, match="multiple of the latent stride"):
        build_model("earthfarseer", in_shape=(2, 1, 16, 16), t_out=1, preset="quick", patch=6)
