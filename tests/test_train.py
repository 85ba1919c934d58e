"""fit() with the real models and the Distiller: exact resume, determinism, frozen teachers, teacher cache, AMP."""
import math, os, tempfile
from pathlib import Path

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

from s2kd.data.core import toy_dataset, load_windows
from s2kd.distill import Distiller
from s2kd.models.registry import build_model
from s2kd.train.cache import build_teacher_cache
from s2kd.train.loop import fit


@pytest.fixture(scope="module")
def windows():
    return load_windows(toy_dataset(n_member=3, n_time=24, h=16, w=16), 2, 2)


def make(w, method="kd", teacher="simvp", student="unet"):
    torch.manual_seed(0)
    t = build_model(teacher, in_shape=w.train.in_shape, t_out=w.train.t_out, preset="smoke")
    s = build_model(student, in_shape=w.train.in_shape, t_out=w.train.t_out, preset="smoke")
    ex = {"x": torch.stack([w.train[i]["x"] for i in range(2)]), "y": torch.stack([w.train[i]["y"] for i in range(2)])}
    return Distiller(s, t, method=method, example=ex)


KW = dict(epochs=4, batch_size=8, lr=1e-3, device="cpu", progress=False)


def same(a, b): return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_gives_the_uninterrupted_weights(windows):
    d0 = make(windows, "sdkd"); r0 = fit(d0, windows.train, windows.val, **KW)
    with tempfile.TemporaryDirectory() as out:
        def crash(epoch, rec):
            if epoch == 1: raise RuntimeError("power cut")
        d1 = make(windows, "sdkd")
        with pytest.raises(RuntimeError, match="power cut"): fit(d1, windows.train, windows.val, out_dir=out, callback=crash, **KW)
        d2 = make(windows, "sdkd")  # a fresh process would rebuild the same objects
        r2 = fit(d2, windows.train, windows.val, out_dir=out, config={"method": "sdkd"}, **KW)
        assert same(d2.student.state_dict(), d0.student.state_dict())
        assert same(d2.projectors.state_dict(), d0.projectors.state_dict())
        assert [h["val_mse"] for h in r2["history"]] == [h["val_mse"] for h in r0["history"]]
        best = torch.load(Path(out)/"best.pt", weights_only=True)  # plain state dict: student + projectors, no teacher
        assert not any(k.startswith("teachers.") for k in best) and any(k.startswith("projectors.") for k in best)
        assert (Path(out)/"config.json").exists()


def test_same_seed_same_metrics_and_frozen_teacher(windows):
    runs = []
    for _ in range(2):
        d = make(windows, "ab")
        before = {k: v.clone() for k, v in d.teachers.state_dict().items()}
        r = fit(d, windows.train, windows.val, **KW)
        assert same(before, d.teachers.state_dict())  # the teacher never moved
        assert all(p.grad is None for p in d.teachers.parameters())
        runs.append((r["history"], d.student.state_dict()))
    assert runs[0][0] == runs[1][0] and same(runs[0][1], runs[1][1])


def test_cached_teacher_gives_the_live_teachers_loss_and_gradients(windows):
    "Same loss and student gradients from the cache as from a live teacher (float tolerance: cached in other batches)."
    from torch.utils.data import DataLoader
    live, cached = make(windows, "fitnet"), make(windows, "fitnet")
    with tempfile.TemporaryDirectory() as root:
        cached.caches = [build_teacher_cache(cached.teachers[0], windows.train, paths=cached.taps[0], dataset_key="toy",
                                             split="train", root=root)]
        b = next(iter(DataLoader(windows.train, batch_size=8, shuffle=True)))
        (l1, p1), (l2, p2) = live(b), cached(b)
        torch.testing.assert_close(l1, l2, rtol=1e-5, atol=1e-7)
        l1.backward(); l2.backward()
        for (k, a), (_, c) in zip(live.student.named_parameters(), cached.student.named_parameters()):
            torch.testing.assert_close(a.grad, c.grad, rtol=1e-4, atol=1e-6, msg=k)
        r_live = fit(live, windows.train, windows.val, **KW)
        r_cached = fit(cached, windows.train, windows.val, **KW)
    for a, c in zip(r_live["history"], r_cached["history"]):
        assert abs(a["val_mse"] - c["val_mse"]) <= 1e-2 * a["val_mse"], (a, c)


@pytest.mark.parametrize("student", ["resnet", "mixer"])
def test_bf16_autocast_and_clipping_on_cpu(windows, student):
    d = make(windows, "kd", student=student)
    r = fit(d, windows.train, windows.val, **(KW | dict(epochs=2, amp="bf16", grad_clip=1.0)))
    assert math.isfinite(r["best_val_mse"]) and r["epochs_run"] == 2
