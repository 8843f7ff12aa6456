"""Autoregressive family: the NumPy text utilities and the PyTorch CharRNN, GPT, PixelCNN."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aigc_course import text
from aigc_course.likelihood import bernoulli_nll_np
from aigc_course.torch import set_seed
from aigc_course.torch.autoregressive import (
    GPT,
    CharRNN,
    MaskedConv2d,
    PixelCNN,
    pixel_nll,
    token_cross_entropy,
)

CORPUS = "hello world! " * 8


# ----- hand counts (the Keras tests use the same formulas and numbers) ------------------
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


def test_parameter_counts_match_hand_counts():
    assert CharRNN(65).count_params() == char_rnn_params(65) == 874_881
    assert GPT(65).count_params() == gpt_params(65) == 826_368
    assert PixelCNN().count_params() == pixelcnn_params() == 187_905


def test_char_rnn_second_bias_is_zero_and_frozen():
    m = CharRNN(11, num_layers=2)
    hh = [p for name, p in m.lstm.named_parameters() if name.startswith("bias_hh")]
    assert len(hh) == 2 and all(
        not p.requires_grad and float(p.abs().sum()) == 0 for p in hh
    )
    ih = m.lstm.bias_ih_l0.detach().numpy()
    # forget gate bias 1, like Keras
    assert np.all(ih[256:512] == 1.0) and np.all(ih[:256] == 0.0)


# ----- NumPy text utilities ------------------------------------------------------------
def test_tokenizer_round_trip_and_sorted_vocab():
    tok = text.CharTokenizer("hello world")
    assert tok.chars == " dehlorw" and tok.vocab_size == 8
    ids = tok.encode("hello")
    assert ids.dtype == np.int64 and ids.tolist() == [3, 2, 4, 4, 5]
    assert tok.decode(ids) == "hello" and tok.decode([]) == ""
    # stable: rebuilt from its vocab
    assert text.CharTokenizer(tok.chars).stoi == tok.stoi
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.encode("hex")
    with pytest.raises(ValueError, match="non-empty"):
        text.CharTokenizer("")
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        tok.decode([8])


def test_make_windows():
    w = text.make_windows(np.arange(10), block_size=3)
    assert w.dtype == np.int64 and w.tolist() == [
        [0, 1, 2, 3],
        [3, 4, 5, 6],
        [6, 7, 8, 9],
    ]
    w = text.make_windows(np.arange(6), block_size=3, stride=1)
    assert w.shape == (3, 4) and w[:, 0].tolist() == [0, 1, 2]
    # targets = inputs shifted by one
    np.testing.assert_array_equal(w[:, 1:], w[:, :-1] + 1)
    with pytest.raises(ValueError, match="at least block_size"):
        text.make_windows(np.arange(3), block_size=3)
    with pytest.raises(ValueError, match="integer"):
        text.make_windows(np.arange(8.0), block_size=3)


def test_top_k_filter_hand_case():
    out = text.top_k_filter([1.0, 3.0, 2.0, 0.0], 2)
    assert out.tolist() == [-np.inf, 3.0, 2.0, -np.inf]
    assert text.top_k_filter([1.0, 2.0, 2.0, 0.0], 2).tolist() == [
        -np.inf,
        2.0,
        2.0,
        -np.inf,
    ]
    assert text.top_k_filter([1.0, 2.0], 5).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="top_k"):
        text.top_k_filter([1.0, 2.0], 0)


def test_top_p_filter_hand_case():
    logits = np.log([0.05, 0.5, 0.15, 0.3])
    # sorted: 0.5 (mass before 0), 0.3 (0.5), 0.15 (0.8), 0.05 (0.95)
    keep = lambda p: np.isfinite(text.top_p_filter(logits, p)).tolist()
    assert keep(0.5) == [False, True, False, False]
    assert keep(0.7) == [False, True, False, True]
    assert keep(0.81) == [False, True, True, True]
    assert keep(1.0) == [True, True, True, True]
    assert keep(1e-9) == [False, True, False, False]  # the top token always stays
    np.testing.assert_allclose(text.top_p_filter(logits, 0.7)[[1, 3]], logits[[1, 3]])
    with pytest.raises(ValueError, match="top_p"):
        text.top_p_filter(logits, 0.0)


def test_sample_next_distribution_greedy_and_determinism():
    logits = np.log([0.1, 0.6, 0.3])
    rng = np.random.default_rng(0)
    draws = np.array([text.sample_next(logits, rng=rng) for _ in range(20000)])
    np.testing.assert_allclose(
        np.bincount(draws, minlength=3) / 20000, [0.1, 0.6, 0.3], atol=0.015
    )
    a = [text.sample_next(logits, rng=np.random.default_rng(5)) for _ in range(3)]
    assert len(set(a)) == 1  # same generator state -> same token
    assert text.sample_next(logits, temperature=0) == 1
    assert text.sample_next(logits, temperature=1e-4, rng=np.random.default_rng(1)) == 1
    rng = np.random.default_rng(0)
    assert {text.sample_next(logits, top_k=2, rng=rng) for _ in range(500)} == {1, 2}
    # high temperature flattens the distribution towards uniform
    rng = np.random.default_rng(0)
    hot = np.bincount(
        [text.sample_next(logits, temperature=100.0, rng=rng) for _ in range(6000)]
    )
    np.testing.assert_allclose(hot / 6000, 1 / 3, atol=0.03)
    with pytest.raises(ValueError, match="temperature"):
        text.sample_next(logits, temperature=-1.0)


def test_generate_tokens_loop_with_a_fake_model():
    V = 5

    def step(seq, state):  # "next = last + 1 (mod V)", counting calls in the state
        logits = np.full((len(seq), V), -10.0)
        logits[np.arange(len(seq)), (seq[:, -1] + 1) % V] = 10.0
        return logits, (0 if state is None else state + 1)

    out = text.generate_tokens(step, [3], 4, V, temperature=0)
    assert out.dtype == np.int64 and out.tolist() == [3, 4, 0, 1, 2]
    out = text.generate_tokens(step, [[0, 1], [2, 2]], 2, V, temperature=0)
    assert out.tolist() == [[0, 1, 2, 3], [2, 2, 3, 4]]
    assert text.generate_tokens(step, [1, 2], 0, V).tolist() == [1, 2]
    for bad, match in [
        ([5], r"\[0, 5\)"),
        ([-1], r"\[0, 5\)"),
        ([1.0], "integer"),
        ([], "at least one"),
        ([[[1]]], "rank"),
    ]:
        with pytest.raises(ValueError, match=match):
            text.generate_tokens(step, bad, 1, V)
    with pytest.raises(ValueError, match="max_new_tokens"):
        text.generate_tokens(step, [1], -1, V)


# ----- losses against NumPy -------------------------------------------------------------
def test_losses_against_numpy():
    rng = np.random.default_rng(0)
    logits, targets = rng.normal(size=(2, 3, 5)), rng.integers(0, 5, size=(2, 3))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ref = -np.take_along_axis(logp, targets[..., None], -1).mean()
    assert float(
        token_cross_entropy(torch.tensor(logits), torch.tensor(targets))
    ) == pytest.approx(ref, rel=1e-6)
    pl, x = (
        rng.normal(size=(3, 28, 28)) * 3,
        (rng.random((3, 28, 28)) < 0.5).astype(float),
    )
    np.testing.assert_allclose(
        pixel_nll(torch.tensor(pl), torch.tensor(x)).numpy(),
        bernoulli_nll_np(pl, x),
        rtol=1e-6,
    )


# ----- models: shapes, causality, errors --------------------------------------------------
def small_models(V=11):
    set_seed(0)
    return [
        CharRNN(V, embed_dim=8, hidden_size=16),
        GPT(V, block_size=16, n_layer=2, n_head=2, n_embd=16),
    ]


def test_text_logits_shapes():
    for m in small_models():
        out = m(torch.zeros(3, 7, dtype=torch.long))
        assert out.shape == (3, 7, 11) and out.dtype == torch.float32
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
        m(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        m(torch.zeros(1, 4))
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
        m.save(tmp_path / "m.pt")
        other = type(m)(
            11,
            **{
                k: getattr(m, k)
                for k in (
                    ("embed_dim", "hidden_size")
                    if isinstance(m, CharRNN)
                    else ("block_size", "n_layer", "n_head", "n_embd")
                )
            },
        )
        other.load(tmp_path / "m.pt")
        ids = np.arange(10)[None] % 11
        np.testing.assert_array_equal(m.logits(ids), other.logits(ids))
        np.testing.assert_array_equal(
            m.generate([1], 8, seed=2), other.generate([1], 8, seed=2)
        )


# ----- PixelCNN ---------------------------------------------------------------------
def test_masks_by_hand():
    def mask(k, t):
        return MaskedConv2d(1, 1, k, t).mask.numpy()

    np.testing.assert_array_equal(mask(3, "A"), [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(mask(3, "B"), [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    assert mask(7, "A").sum() == 24 and mask(7, "B").sum() == 25
    with pytest.raises(ValueError, match="'A' or 'B'"):
        mask(3, "C")


def test_pixelcnn_logits_shape_and_layouts():
    set_seed(0)
    m = PixelCNN(hidden=8, n_layers=1)
    x = torch.zeros(2, 28, 28)
    assert m(x).shape == (2, 28, 28)
    torch.testing.assert_close(m(x), m(x[:, None]))
    with pytest.raises(ValueError, match=r"\(B, 28, 28\)"):
        m(torch.zeros(2, 3, 28, 28))


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
    with torch.no_grad():  # logit +20 everywhere -> every pixel is 1
        m.net[-1].weight.zero_()
        m.net[-1].bias.fill_(20.0)
    assert m.sample(1, seed=1).min() == 1.0
    for n in (0, -1, 2.5):
        with pytest.raises(ValueError, match="positive int"):
            m.sample(n)


def test_pixelcnn_save_load_round_trip(tmp_path, digits):
    set_seed(0)
    m = PixelCNN(hidden=8, n_layers=1)
    m.fit(digits, epochs=1, batch_size=16, verbose=0)
    m.save(tmp_path / "p.pt")
    other = PixelCNN(hidden=8, n_layers=1).load(tmp_path / "p.pt")
    np.testing.assert_array_equal(m.nll(digits), other.nll(digits))


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


def test_pixelcnn_dynamic_binarization_draws_fresh_bits_every_step():
    set_seed(0)
    m = PixelCNN(hidden=8, n_layers=1, binarization="dynamic")
    (grey,) = m.prepare(_grey(8))
    assert 0.2 < grey.min() == grey.max() < 0.3  # the grey level itself, not bits
    seen = []
    m.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    m.fit(_grey(8), epochs=2, batch_size=8, verbose=0)
    assert len(seen) == 2
    for x in seen:
        assert set(np.unique(x.numpy())) == {0.0, 1.0}
    assert not torch.equal(seen[0], seen[1])  # a new draw at each step
    (bits,) = PixelCNN(hidden=8, n_layers=1).prepare(_grey(8))
    assert bits.max() == 0.0  # static: thresholded once, all off
    with pytest.raises(
        ValueError, match="binarization: expected 'static' or 'dynamic'"
    ):
        PixelCNN(binarization="stochastic")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_train_and_sample_on_cuda_with_amp(digits):
    set_seed(0)
    tok = text.CharTokenizer(CORPUS)
    windows = text.make_windows(tok.encode(CORPUS), block_size=16, stride=1)
    m = GPT(tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=32, lr=3e-3)
    hist = m.fit(windows, epochs=3, batch_size=8, verbose=0, amp=True, device="cuda")
    assert m.device.type == "cuda" and np.isfinite(hist.history["loss"]).all()
    assert m.generate([1, 2], 5, seed=0).shape == (7,)
    p = PixelCNN(hidden=8, n_layers=1)
    p.fit(digits, epochs=1, batch_size=16, verbose=0, amp=True, device="cuda")
    assert p.sample(1, seed=0).shape == (1, 28, 28)
