"""aigc_course.ar_numpy: n-grams, recurrences, attention, diversity, PixelCNN fields.

NumPy references are compared with naive loops, with finite differences and (where
PyTorch is installed) with the PyTorch layers of aigc_course.torch.autoregressive.
"""

import math
from collections import Counter

import numpy as np
import pytest

from aigc_course import ar_numpy as ar
from aigc_course import text


# ----- n-gram models ------------------------------------------------------------------------
def naive_ngram_prob(ids, n, V, alpha, context, nxt):
    grams = Counter(tuple(ids[i : i + n]) for i in range(len(ids) - n + 1))
    ctx = Counter(tuple(ids[i : i + n - 1]) for i in range(len(ids) - n + 1))
    return (grams[tuple(context) + (nxt,)] + alpha) / (ctx[tuple(context)] + alpha * V)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_ngram_probs_match_naive_counts_and_sum_to_one(n):
    rng = np.random.default_rng(n)
    V = 5
    ids = rng.integers(0, V, 300)
    lm = ar.NGramLM(n, V, alpha=0.5).fit(ids)
    contexts = rng.integers(0, V, (7, n - 1))
    contexts[0] = ids[: n - 1]
    p = lm.probs(contexts)
    assert p.shape == (7, V)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-12)
    for b in range(7):
        for v in range(V):
            assert p[b, v] == pytest.approx(
                naive_ngram_prob(list(ids), n, V, 0.5, contexts[b], v)
            )


def naive_interpolated_prob(ids, n, V, alpha, context, nxt):
    p = 1.0 / V
    for k in range(1, n + 1):
        ctx = tuple(context[len(context) - (k - 1) :]) if k > 1 else ()
        grams = Counter(tuple(ids[i : i + k]) for i in range(len(ids) - k + 1))
        ctxs = Counter(tuple(ids[i : i + k - 1]) for i in range(len(ids) - k + 1))
        p = (grams[ctx + (nxt,)] + alpha * V * p) / (ctxs[ctx] + alpha * V)
    return p


def test_interpolated_ngram_against_naive_recursion():
    rng = np.random.default_rng(3)
    V, n = 4, 3
    ids = rng.integers(0, V, 200)
    lm = ar.NGramLM(n, V, alpha=0.3, interpolate=True).fit(ids)
    contexts = rng.integers(0, V, (6, n - 1))
    p = lm.probs(contexts)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-12)
    for b in range(6):
        for v in range(V):
            assert p[b, v] == pytest.approx(
                naive_interpolated_prob(list(ids), n, V, 0.3, list(contexts[b]), v)
            )
    held = rng.integers(0, V, 30)
    ctx = np.lib.stride_tricks.sliding_window_view(held, n)
    want = np.log(lm.probs(ctx[:, :-1])[np.arange(len(ctx)), ctx[:, -1]])
    np.testing.assert_allclose(lm.log_probs(held), want)
    # without interpolation the prior is uniform: add-alpha smoothing
    plain = ar.NGramLM(n, V, alpha=0.3).fit(ids)
    np.testing.assert_allclose(
        plain.probs(contexts)[0, 1],
        naive_ngram_prob(list(ids), n, V, 0.3, contexts[0], 1),
    )


def test_ngram_log_probs_and_nll():
    tok = text.CharTokenizer("abcab")
    ids = tok.encode("abcabcab")
    lm = ar.NGramLM(2, 3, alpha=1.0).fit(ids)
    # bigrams: ab x3, bc x2, ca x2; context counts: a 3, b 2, c 2
    expected = np.log([(3 + 1) / (3 + 3), (2 + 1) / (2 + 3), (2 + 1) / (2 + 3)])
    np.testing.assert_allclose(lm.log_probs(tok.encode("abca")), expected)
    assert lm.nll(tok.encode("abca")) == pytest.approx(-expected.mean())
    assert lm.num_ngrams == 3
    assert lm.context_seen(np.array([[0], [2]])).tolist() == [True, True]
    unseen = ar.NGramLM(3, 3).fit(ids)
    assert unseen.context_seen(np.array([[0, 0], [0, 1]])).tolist() == [False, True]
    # unseen: uniform
    np.testing.assert_allclose(unseen.probs(np.array([[0, 0]])), 1 / 3)


def test_ngram_step_plugs_into_generate_tokens_and_validates():
    ids = np.array([0, 1, 2] * 20)
    lm = ar.NGramLM(3, 3, alpha=1e-6).fit(ids)
    out = text.generate_tokens(lm.step, [0, 1], 6, 3, temperature=0)
    assert out.tolist() == [0, 1, 2, 0, 1, 2, 0, 1]
    with pytest.raises(ValueError, match="at least 2 tokens"):
        text.generate_tokens(lm.step, [0], 1, 3)
    with pytest.raises(ValueError, match="alpha"):
        ar.NGramLM(2, 3, alpha=0.0)
    with pytest.raises(ValueError, match="overflow"):
        ar.NGramLM(20, 100)
    with pytest.raises(ValueError, match="fit"):
        ar.NGramLM(2, 3).probs(np.array([[0]]))
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        lm.probs(np.array([[0]]))


# ----- cross-entropy of neural models -------------------------------------------------------
def test_token_nll_and_mean_token_nll():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 4))
    targets = rng.integers(0, 4, (2, 3))
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    ref = -np.log(np.take_along_axis(p, targets[..., None], -1))[..., 0]
    np.testing.assert_allclose(ar.token_nll(logits, targets), ref)
    np.testing.assert_allclose(ar.token_nll(logits + 1000.0, targets), ref)  # stable

    table = rng.normal(size=(5, 5))  # a "model": logits depend on the input id
    windows = rng.integers(0, 5, (7, 4))
    got = ar.mean_token_nll(lambda ids: table[ids], windows, batch_size=3)
    want = ar.token_nll(table[windows[:, :-1]], windows[:, 1:]).mean()
    assert got == pytest.approx(want)
    with pytest.raises(ValueError, match="windows"):
        ar.mean_token_nll(lambda ids: table[ids], windows[:, :1])
    with pytest.raises(ValueError, match="targets"):
        ar.token_nll(logits, targets[:, :2])


# ----- recurrences ------------------------------------------------------------------------
def test_rnn_forward_against_loop_and_causality():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 3))
    w_xh, w_hh, b = (
        rng.normal(size=(3, 4)),
        rng.normal(size=(4, 4)) * 0.5,
        rng.normal(size=4),
    )
    hs = ar.rnn_forward(x, w_xh, w_hh, b)
    h = np.zeros((2, 4))
    for t in range(6):
        h = np.tanh(x[:, t] @ w_xh + h @ w_hh + b)
        np.testing.assert_allclose(hs[:, t], h)
    x2 = x.copy()
    x2[:, 4:] += 1.0
    np.testing.assert_array_equal(ar.rnn_forward(x2, w_xh, w_hh, b)[:, :4], hs[:, :4])
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        ar.rnn_forward(x[0], w_xh, w_hh, b)


def test_lstm_step_against_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    D, H = 3, 5
    lstm = torch.nn.LSTM(D, H, batch_first=True).double()
    x = torch.randn(2, 4, D, dtype=torch.float64)
    with torch.no_grad():
        ref, (h_ref, c_ref) = lstm(x)
    w = lstm.weight_ih_l0.detach().numpy().T  # (D, 4H), torch's gate order i, f, g, o
    u = lstm.weight_hh_l0.detach().numpy().T
    b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().numpy()
    h, c = np.zeros((2, H)), np.zeros((2, H))
    for t in range(4):
        h, c = ar.lstm_step(x[:, t].numpy(), h, c, w, u, b)
        np.testing.assert_allclose(h, ref[:, t].numpy(), atol=1e-12)
    np.testing.assert_allclose(c, c_ref[0].numpy(), atol=1e-12)


# ----- attention -----------------------------------------------------------------------------
def test_attention_against_loops_and_mask():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    out, w = ar.scaled_dot_product_attention(q, k, v)
    for t in range(4):
        s = np.array([q[t] @ k[j] for j in range(5)]) / math.sqrt(3)
        a = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
        np.testing.assert_allclose(w[t], a)
        np.testing.assert_allclose(out[t], a @ v)
    mask = np.tril(np.ones((4, 5), bool))
    _, w = ar.scaled_dot_product_attention(q, k, v, mask)
    assert np.all(w[~mask] == 0) and np.allclose(w.sum(-1), 1)
    _, w_unscaled = ar.scaled_dot_product_attention(q, k, v, scale=False)
    s = q @ k.T
    np.testing.assert_allclose(w_unscaled, np.exp(s) / np.exp(s).sum(1, keepdims=True))
    assert ar.causal_attention_mask(3).tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, True],
    ]


def test_multi_head_equals_heads_one_by_one_and_is_causal():
    rng = np.random.default_rng(1)
    B, T, C, nh = 2, 5, 8, 2
    x = rng.normal(size=(B, T, C))
    w_qkv, b_qkv = rng.normal(size=(C, 3 * C)), rng.normal(size=3 * C)
    w_p, b_p = rng.normal(size=(C, C)), rng.normal(size=C)
    y = ar.multi_head_attention(x, w_qkv, b_qkv, w_p, b_p, nh)
    q, k, v = np.split(x @ w_qkv + b_qkv, 3, axis=-1)
    hs = C // nh
    heads = [
        ar.scaled_dot_product_attention(
            q[..., h * hs : (h + 1) * hs],
            k[..., h * hs : (h + 1) * hs],
            v[..., h * hs : (h + 1) * hs],
            ar.causal_attention_mask(T),
        )[0]
        for h in range(nh)
    ]
    np.testing.assert_allclose(y, np.concatenate(heads, -1) @ w_p + b_p)
    x2 = x.copy()
    x2[:, 3:] = rng.normal(size=(B, 2, C))
    np.testing.assert_allclose(
        ar.multi_head_attention(x2, w_qkv, b_qkv, w_p, b_p, nh)[:, :3],
        y[:, :3],
        atol=1e-12,
    )
    with pytest.raises(ValueError, match="divide"):
        ar.multi_head_attention(x, w_qkv, b_qkv, w_p, b_p, 3)


def test_gelu_and_layer_norm():
    x = np.linspace(-4, 4, 9)
    from scipy.stats import norm

    np.testing.assert_allclose(ar.gelu(x), x * norm.cdf(x), atol=1e-12)
    y = ar.layer_norm(np.array([[1.0, 2.0, 3.0]]), np.ones(3), np.zeros(3), eps=0.0)
    np.testing.assert_allclose(y, [[-math.sqrt(1.5), 0.0, math.sqrt(1.5)]])


def _torch_block_from(params, n_head, T):
    torch = pytest.importorskip("torch")
    from aigc_course.torch.autoregressive import Block

    C = params["ln_1"][0].shape[0]
    blk = Block(C, n_head, block_size=T).double()
    t = lambda a: torch.as_tensor(np.ascontiguousarray(a))
    with torch.no_grad():
        blk.ln_1.weight.copy_(t(params["ln_1"][0]))
        blk.ln_1.bias.copy_(t(params["ln_1"][1]))
        blk.ln_2.weight.copy_(t(params["ln_2"][0]))
        blk.ln_2.bias.copy_(t(params["ln_2"][1]))
        w_qkv, b_qkv, w_p, b_p = params["attn"]
        blk.attn.c_attn.weight.copy_(t(w_qkv.T))
        blk.attn.c_attn.bias.copy_(t(b_qkv))
        blk.attn.c_proj.weight.copy_(t(w_p.T))
        blk.attn.c_proj.bias.copy_(t(b_p))
        w_fc, b_fc, w_out, b_out = params["mlp"]
        blk.mlp[0].weight.copy_(t(w_fc.T))
        blk.mlp[0].bias.copy_(t(b_fc))
        blk.mlp[2].weight.copy_(t(w_out.T))
        blk.mlp[2].bias.copy_(t(b_out))
    return blk.eval(), torch


def test_transformer_block_against_torch_block():
    rng = np.random.default_rng(2)
    C, nh, T = 16, 4, 6
    params = ar.init_block(C, rng, std=0.3)
    params["ln_1"] = (1 + 0.1 * rng.normal(size=C), 0.1 * rng.normal(size=C))
    params["attn"] = tuple(
        a + 0.1 * rng.normal(size=a.shape) if a.ndim == 1 else a for a in params["attn"]
    )
    assert ar.count_block_params(params) == 12 * C * C + 13 * C
    blk, torch = _torch_block_from(params, nh, T)
    assert sum(p.numel() for p in blk.parameters()) == 12 * C * C + 13 * C
    x = rng.normal(size=(2, T, C))
    with torch.no_grad():
        ref = blk(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(ar.transformer_block(x, params, nh), ref, atol=1e-10)


# ----- diversity ----------------------------------------------------------------------------
def test_distinct_overlap_entropy():
    assert ar.distinct_n(["abab"], 2) == pytest.approx(2 / 3)  # ab, ba, ab
    assert ar.distinct_n(["abc", "abd"], 2) == pytest.approx(3 / 4)
    assert ar.distinct_n([np.array([1, 1, 1, 1])], 1) == 0.25
    assert ar.ngram_overlap("abcd", "xxabcx", 2) == pytest.approx(2 / 3)
    assert ar.ngram_overlap(["ab", "zz"], "ab", 2) == 0.5
    assert ar.ngram_overlap(np.array([1, 2, 3]), np.array([1, 2]), 2) == 0.5
    np.testing.assert_allclose(
        ar.entropy_bits([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]), [1.0, 0.0]
    )
    assert ar.entropy_bits(np.full(8, 1 / 8)) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        ar.distinct_n(["a"], 2)
    with pytest.raises(ValueError):
        ar.entropy_bits([-0.1, 1.1])


# ----- PixelCNN --------------------------------------------------------------------------------
def test_pixelcnn_mask_hand_case_and_against_torch():
    assert ar.pixelcnn_mask(3, "A").tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert ar.pixelcnn_mask(3, "B").tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    with pytest.raises(ValueError):
        ar.pixelcnn_mask(3, "C")
    with pytest.raises(ValueError):
        ar.pixelcnn_mask(4, "A")
    pytest.importorskip("torch")
    from aigc_course.torch.autoregressive import MaskedConv2d

    for k in (3, 5, 7):
        for t in "AB":  # the mask the PyTorch layer holds
            np.testing.assert_array_equal(
                ar.pixelcnn_mask(k, t), MaskedConv2d(1, 1, k, t).mask.numpy()
            )


def test_masked_conv2d_against_direct_sum():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(1, 6, 7)), rng.normal(size=(3, 3))
    m = ar.pixelcnn_mask(3, "B")
    out = ar.masked_conv2d(x, w, m)
    xp = np.pad(x[0], 1)
    for i in range(6):
        for j in range(7):
            assert out[0, i, j] == pytest.approx(
                np.sum(xp[i : i + 3, j : j + 3] * w * m)
            )


def test_receptive_field_is_causal_has_a_blind_spot_and_matches_impulses():
    layers = [(7, "A")] + [(3, "B")] * 3
    field = ar.receptive_field(layers, (16, 16), (8, 8))
    order = np.arange(256).reshape(16, 16)
    assert not field[order >= order[8, 8]].any()  # nothing at or after the pixel
    # 7x7 'A' reads 3 pixels to the left, each 3x3 'B' one more: columns 2..7 of row 8
    assert field[8, 2:8].all() and not field[8, :2].any()
    assert field[7, 2:12].all() and field[6, 2:13].all() and field[2, 2:15].all()
    # the blind spot, up and right
    assert not field[7, 12:].any() and not field[6, 13:].any()
    # impulse responses of the same stack with positive kernels (no cancellation)
    rng = np.random.default_rng(0)
    impulses = np.eye(256).reshape(256, 16, 16)
    h = impulses
    for k, t in layers:
        h = ar.masked_conv2d(h, rng.uniform(0.5, 1.0, (k, k)), ar.pixelcnn_mask(k, t))
    np.testing.assert_array_equal(h[:, 8, 8].reshape(16, 16) > 0, field)
    with pytest.raises(ValueError, match="inside"):
        ar.receptive_field(layers, (16, 16), (16, 0))


def test_receptive_field_matches_torch_pixelcnn_gradients():
    torch = pytest.importorskip("torch")
    from aigc_course.torch.autoregressive import PixelCNN

    torch.manual_seed(0)
    m = PixelCNN(hidden=4, n_layers=2)
    with torch.no_grad():  # positive weights and inputs: every ReLU stays open
        for p in m.parameters():
            p.abs_().add_(0.01)
    x = torch.rand(1, 28, 28, requires_grad=True)
    m(x)[0, 10, 20].backward()
    support = (x.grad[0].abs() > 0).numpy()
    field = ar.receptive_field([(7, "A"), (3, "B"), (3, "B")], (28, 28), (10, 20))
    np.testing.assert_array_equal(support, field)
