"""Keras CharRNN, GPT, PixelCNN.

`make test` runs this file twice: KERAS_BACKEND=tensorflow and =torch.
"""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")

from aigc_course import text
from aigc_course.keras import set_seed
from aigc_course.keras.autoregressive import (
    GPT,
    CharRNN,
    MaskedConv2D,
    PixelCNN,
    pixel_nll,
    token_cross_entropy,
)
from aigc_course.likelihood import bernoulli_nll_np

CORPUS = "hello world! " * 8


# ----- hand counts (the PyTorch tests use the same formulas and numbers) -----------------
def char_rnn_params(V, E=64, H=256, L=2):
    """Embedding V*E; per LSTM layer 4 gates x (in*H + H*H + H), one bias; Dense H*V + V."""
    lstm = sum(4 * ((E if i == 0 else H) * H + H * H + H) for i in range(L))
    return V * E + lstm + H * V + V


def gpt_params(V, block=128, L=4, C=128):
    """wte V*C + wpe block*C; per block: 2 LN (2C each), qkv C*3C+3C, proj C*C+C,
    MLP C*4C+4C and 4C*C+C (= 12C^2 + 13C); final LN 2C; untied bias-free head C*V."""
    return V * C + block * C + L * (12 * C * C + 13 * C) + 2 * C + C * V


def pixelcnn_params(h=64, n=5, k=7):
    """Masked kxk conv 1->h (full kernel counted), n masked 3x3 convs h->h, 1x1 conv h->1."""
    return (k * k * h + h) + n * (9 * h * h + h) + (h + 1)


def test_backend_is_the_one_requested():
    wanted = os.environ.get("KERAS_BACKEND")
    if wanted:
        assert keras.backend.backend() == wanted


def test_parameter_counts_match_hand_counts_and_pytorch():
    assert CharRNN(65).count_params() == char_rnn_params(65) == 874_881
    assert GPT(65).count_params() == gpt_params(65) == 826_368
    assert PixelCNN().count_params() == pixelcnn_params() == 187_905


def test_losses_against_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 5)).astype("float32")
    targets = rng.integers(0, 5, size=(2, 3))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ref = -np.take_along_axis(logp, targets[..., None], -1).mean()
    got = token_cross_entropy(
        keras.ops.convert_to_tensor(logits), keras.ops.convert_to_tensor(targets)
    )
    assert float(keras.ops.convert_to_numpy(got)) == pytest.approx(ref, rel=1e-5)
    pl = (rng.normal(size=(3, 28, 28)) * 3).astype("float32")
    x = (rng.random((3, 28, 28)) < 0.5).astype("float32")
    got = pixel_nll(keras.ops.convert_to_tensor(pl), keras.ops.convert_to_tensor(x))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(got), bernoulli_nll_np(pl, x), rtol=1e-5
    )


# ----- text models --------------------------------------------------------------------
def small_models(V=11):
    set_seed(0)
    return [
        CharRNN(V, embed_dim=8, hidden_size=16),
        GPT(V, block_size=16, n_layer=2, n_head=2, n_embd=16),
    ]


def test_text_logits_shapes():
    for m in small_models():
        out = m(np.zeros((3, 7), np.int64))
        assert tuple(out.shape) == (3, 7, 11)
        assert m.logits(np.zeros((2, 5), np.int64)).shape == (2, 5, 11)
    assert GPT(65).logits(np.zeros((1, 128), np.int64)).shape == (1, 128, 65)


@pytest.mark.parametrize("idx", [0, 1])
def test_text_models_are_causal(idx):
    m = small_models()[idx]
    ids = np.random.default_rng(0).integers(0, 11, size=(2, 12))
    t = 6
    changed = ids.copy()
    changed[:, t] = (changed[:, t] + 3) % 11
    a, b = m.logits(ids), m.logits(changed)
    # the past ignores the future
    np.testing.assert_allclose(a[:, :t], b[:, :t], atol=1e-6)
    assert np.abs(a[:, t:] - b[:, t:]).max() > 1e-4  # ... but the future sees it


def test_gpt_context_limit_and_bad_ids():
    m = small_models()[1]
    with pytest.raises(ValueError, match="block_size=16"):
        m(np.zeros((1, 17), np.int64))
    with pytest.raises(ValueError, match="integer"):
        m(np.zeros((1, 4), np.float32))
    for bad, match in [
        (np.full((4, 9), 11), r"\[0, 11\)"),
        (np.full((4, 9), -1), r"\[0, 11\)"),
        (np.zeros((4, 9)), "integer"),
        (np.zeros((4, 18), np.int64), "block_size"),
        (np.zeros((4, 1), np.int64), "T >= 1"),
        (np.zeros(9, np.int64), "rank"),
    ]:
        with pytest.raises(ValueError, match=match):
            m.fit(bad, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 11\)"):
        m.generate([3, 11], 2)


@pytest.mark.parametrize("idx", [0, 1])
def test_generate_shapes_determinism_and_greedy(idx):
    m = small_models()[idx]
    prompt = np.array([1, 2, 3])
    out = m.generate(prompt, 20, seed=0)
    assert out.dtype == np.int64 and out.shape == (23,)
    assert out[:3].tolist() == [1, 2, 3] and out.min() >= 0 and out.max() < 11
    np.testing.assert_array_equal(out, m.generate(prompt, 20, seed=0))
    assert not np.array_equal(out, m.generate(prompt, 20, seed=1))
    greedy = m.generate(prompt, 20, temperature=0)
    np.testing.assert_array_equal(
        m.generate(prompt, 20, temperature=1e-6, seed=3), greedy
    )
    # greedy by hand, recomputing the whole (cropped) context each step: checks the
    # CharRNN's carried LSTM state and the GPT's context cropping (23 > block_size 16)
    seq = prompt.copy()
    for _ in range(20):
        ctx = seq[-16:] if idx == 1 else seq
        seq = np.append(seq, m.logits(ctx[None])[0, -1].argmax())
    np.testing.assert_array_equal(greedy, seq)
    assert m.generate([[1, 2], [3, 4]], 5, seed=0, top_k=3).shape == (2, 7)
    assert m.generate(prompt, 5, seed=0, top_p=0.9).shape == (8,)


@pytest.mark.parametrize("kind", ["rnn", "gpt"])
def test_overfits_a_tiny_corpus_and_recites_it(kind):
    set_seed(0)
    tok = text.CharTokenizer(CORPUS)
    windows = text.make_windows(tok.encode(CORPUS), block_size=16, stride=1)
    if kind == "rnn":
        m = CharRNN(tok.vocab_size, embed_dim=16, hidden_size=64, num_layers=1, lr=1e-2)
    else:
        m = GPT(tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=32, lr=3e-3)
    # a multiple of batch_size: every epoch runs 11 full steps
    assert len(windows) == 88
    hist = m.fit(windows, epochs=12, batch_size=8, verbose=0)
    loss = hist.history["loss"]
    assert loss[0] > 0.8 and loss[-1] < 0.1
    out = tok.decode(m.generate(tok.encode("hello"), 13, temperature=0))
    assert out == "hello world! hello"


def test_save_load_round_trip(tmp_path):
    for m in small_models():
        m.fit(
            text.make_windows(np.arange(40) % 11, 8, 2),
            epochs=1,
            batch_size=4,
            verbose=0,
        )
        ids = np.arange(10)[None] % 11
        for name in ("m.keras", "m.weights.h5"):
            path = tmp_path / name
            m.save(path) if name.endswith(".keras") else m.save_weights(path)
            other = type(m).from_config(m.get_config()).load(path)
            np.testing.assert_array_equal(m.logits(ids), other.logits(ids))
            np.testing.assert_array_equal(
                m.generate([1], 8, seed=2), other.generate([1], 8, seed=2)
            )
        other = keras.models.load_model(tmp_path / "m.keras")
        assert type(other) is type(m) and other.get_config() == m.get_config()
        np.testing.assert_array_equal(m.logits(ids), other.logits(ids))


# ----- PixelCNN ---------------------------------------------------------------------
def test_masks_by_hand():
    def mask(k, t):
        return MaskedConv2D(1, k, t).mask[:, :, 0, 0]

    np.testing.assert_array_equal(mask(3, "A"), [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(mask(3, "B"), [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="'A' or 'B'"):
        mask(3, "C")


def test_pixelcnn_logits_shape_and_layouts():
    set_seed(0)
    m = PixelCNN(hidden=8, n_layers=1)
    x = np.zeros((2, 28, 28), np.float32)
    a = keras.ops.convert_to_numpy(m(x))
    assert a.shape == (2, 28, 28)
    np.testing.assert_allclose(a, keras.ops.convert_to_numpy(m(x[..., None])))
    with pytest.raises(ValueError, match=r"\(B, 28, 28\)"):
        m(np.zeros((2, 28, 28, 3), np.float32))


@pytest.mark.parametrize("pixel", [(10, 12), (0, 0), (27, 3)])
def test_pixelcnn_is_causal_in_raster_order(pixel):
    set_seed(0)
    m = PixelCNN(hidden=16, n_layers=3)
    x = (np.random.default_rng(1).random((1, 28, 28)) < 0.5).astype(np.float32)
    flipped = x.copy()
    flipped[0, pixel[0], pixel[1]] = 1.0 - flipped[0, pixel[0], pixel[1]]
    a, b = m.logits(x)[0].ravel(), m.logits(flipped)[0].ravel()
    k = pixel[0] * 28 + pixel[1]  # raster index
    # before (i, j) AND (i, j) itself
    np.testing.assert_allclose(a[: k + 1], b[: k + 1], atol=1e-6)
    if k < 783:
        assert np.abs(a[k + 1 :] - b[k + 1 :]).max() > 1e-4  # later pixels do see it


def test_pixelcnn_nll_matches_numpy_and_training_lowers_it(digits):
    set_seed(0)
    m = PixelCNN(hidden=16, n_layers=2, lr=3e-3)
    binary = (digits > 127).astype(np.float32)
    np.testing.assert_allclose(
        m.nll(digits), bernoulli_nll_np(m.logits(digits), binary), rtol=1e-5
    )
    before = m.nll(digits).mean()
    # roughly one coin flip per pixel
    assert before == pytest.approx(784 * np.log(2), rel=0.3)
    hist = m.fit(digits, epochs=8, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert m.nll(digits).mean() < 0.3 * before
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        m.fit(np.zeros((4, 32, 32), np.uint8), epochs=1, verbose=0)


def _grey(n=64, level=64):
    """Images of one grey level, a quarter: thresholding at one half turns every pixel
    off, a Bernoulli draw turns about a quarter of them on."""
    return np.full((n, 28, 28), level, np.uint8)


# an empty image: -log p = 784 ln 2 = 543 nats untrained; about 0 for a model of
# all-off bits (static); 784 ln(4/3) = 226 for bits on with probability 1/4 (dynamic)
@pytest.mark.parametrize(
    "binarization, low, high", [("static", 0, 100), ("dynamic", 160, 300)]
)
def test_pixelcnn_binarization_decides_what_it_learns(binarization, low, high):
    set_seed(0)
    m = PixelCNN(hidden=8, n_layers=1, lr=5e-2, binarization=binarization)
    m.fit(_grey(), epochs=15, batch_size=16, verbose=0)
    # static: every bit is 0, so an empty image is almost certain; dynamic: coin flips
    nll_empty = m.nll(np.zeros((4, 28, 28), np.float32)).mean()
    assert low < nll_empty < high, nll_empty
    assert m.get_config()["binarization"] == binarization
    (x,) = m.prepare(_grey(2))
    assert (x.max() == 0.0) if binarization == "static" else (0.2 < x.min() < 0.3)
    with pytest.raises(
        ValueError, match="binarization: expected 'static' or 'dynamic'"
    ):
        PixelCNN(binarization="stochastic")


def test_pixelcnn_sample_shape_determinism_and_orientation():
    set_seed(0)
    m = PixelCNN(hidden=8, n_layers=1)
    a = m.sample(2, seed=0)
    assert (
        a.shape == (2, 28, 28)
        and a.dtype == np.float32
        and set(np.unique(a)) <= {0.0, 1.0}
    )
    np.testing.assert_array_equal(a, m.sample(2, seed=0))
    last = m.net.layers[-1]  # logit +20 everywhere -> every pixel is 1
    last.set_weights(
        [np.zeros_like(last.get_weights()[0]), np.full((1,), 20.0, np.float32)]
    )
    assert m.sample(1, seed=1).min() == 1.0
    for n in (0, -1, 2.5):
        with pytest.raises(ValueError, match="positive int"):
            m.sample(n)


def test_pixelcnn_save_load_round_trip(tmp_path, digits):
    set_seed(0)
    m = PixelCNN(hidden=8, n_layers=1)
    m.fit(digits, epochs=1, batch_size=16, verbose=0)
    m.save(tmp_path / "p.keras")
    other = keras.models.load_model(tmp_path / "p.keras")
    np.testing.assert_array_equal(m.nll(digits), other.nll(digits))
    m.save_weights(tmp_path / "p.weights.h5")
    other = PixelCNN(hidden=8, n_layers=1).load(tmp_path / "p.weights.h5")
    np.testing.assert_array_equal(m.nll(digits), other.nll(digits))
