"""Autoregressive building blocks in NumPy, for chapter 5's concept notebook and labs.

Everything here is framework-neutral and small enough to read in one sitting:

* :class:`NGramLM`: a character (or any token) n-gram language model with
  add-alpha smoothing, the simplest autoregressive model. Its ``step`` plugs
  into :func:`aigc_course.text.generate_tokens`, like the neural models'.
* :func:`mean_token_nll`: held-out cross-entropy (nats per token) of any model
  that maps int ids (B, T) to logits (B, T, V), e.g. ``model.logits`` of the
  PyTorch and Keras ``CharRNN`` / ``GPT``.
* :func:`rnn_forward`, :func:`lstm_step`: the recurrences of RNN language models
  (gate order i, f, g, o, as in PyTorch and Keras).
* :func:`scaled_dot_product_attention`, :func:`multi_head_attention`,
  :func:`transformer_block`: the Transformer's pieces, laid out like nanoGPT and
  like :mod:`aigc_course.torch.autoregressive` (the tests compare them).
* :func:`distinct_n`, :func:`ngram_overlap`, :func:`entropy_bits`: how diverse,
  and how copied, sampled text is.
* :func:`pixelcnn_mask`, :func:`masked_conv2d`, :func:`receptive_field`: which
  pixels a PixelCNN output can see (and its blind spot).
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_int
from .numpy_nn import sigmoid, softmax
from .text import as_token_ids


# ----- n-gram language models --------------------------------------------------------
def _ngram_keys(ids: np.ndarray, n: int, vocab_size: int) -> np.ndarray:
    """Integer code of every n-gram of ``ids`` (base ``vocab_size``), int64 (len - n + 1,)."""
    keys = np.zeros(len(ids) - n + 1, np.int64)
    for i in range(n):
        keys = keys * vocab_size + ids[i : len(ids) - n + 1 + i]
    return keys


def _lookup(
    sorted_keys: np.ndarray, values: np.ndarray, queries: np.ndarray
) -> np.ndarray:
    """values[k] for each query found in ``sorted_keys``, 0 where it is absent."""
    if len(sorted_keys) == 0:
        return np.zeros(queries.shape, values.dtype)
    i = np.clip(np.searchsorted(sorted_keys, queries), 0, len(sorted_keys) - 1)
    return np.where(sorted_keys[i] == queries, values[i], 0)


class NGramLM:
    """An n-gram language model: p(x_t | the previous n - 1 tokens), from counts.

    With c the context (the n - 1 tokens before x_t), V the vocabulary size and
    q a "prior" distribution over the next token::

        p(x_t = v | c) = (count(c, v) + alpha * V * q(v)) / (count(c) + alpha * V)

    * ``interpolate=False``: q is uniform, q(v) = 1/V, and this is add-alpha
      (Laplace) smoothing, (count(c, v) + alpha) / (count(c) + alpha * V). An
      unseen context gets the uniform distribution.
    * ``interpolate=True``: q is the (n - 1)-gram model's p(v | c without its
      first token), built the same way down to the unigram (whose q is uniform).
      An unseen context falls back on the shorter one.

    Either way the counts dominate where there are many of them, and alpha * V
    is how many "virtual" observations the prior is worth. ``n = 1`` is the
    unigram model (no context), ``n = 2`` a bigram model.

    Counts are stored sparsely (sorted int64 codes of the n-grams that occur),
    so ``n`` up to about ``log(2**63) / log(V)`` works on a megabyte of text.
    """

    def __init__(
        self, n: int, vocab_size: int, alpha: float = 1.0, interpolate: bool = False
    ):
        self.n = check_int(n, "n")
        self.vocab_size = check_int(vocab_size, "vocab_size")
        if not (np.isfinite(alpha) and alpha > 0):
            raise ValueError(
                f"alpha: expected a positive smoothing constant, got {alpha!r}"
            )
        if self.n * math.log(self.vocab_size) >= 63 * math.log(2):
            raise ValueError(
                f"n={n} with vocab_size={vocab_size}: the n-gram codes would overflow int64; use a smaller n"
            )
        self.alpha, self.interpolate = float(alpha), bool(interpolate)
        # order k -> (n-gram codes, counts, context codes, context counts)
        self._tables = None

    # --- fit (shown in the book) ---------------------------------------------------
    def fit(self, ids):
        """Count every k-gram of the 1-D id sequence ``ids`` (k = n, and the shorter
        orders when interpolating); returns ``self``."""
        ids = as_token_ids(ids, self.vocab_size, name="ids", ndim=1)
        if len(ids) < self.n:
            raise ValueError(
                f"ids: expected at least n = {self.n} tokens, got {len(ids)}"
            )
        self._tables = {}
        for k in self._orders():
            codes = _ngram_keys(ids, k, self.vocab_size)  # one code per k-gram
            keys, counts = np.unique(codes, return_counts=True)
            ctx_keys, where = np.unique(keys // self.vocab_size, return_inverse=True)
            ctx_counts = np.bincount(where, weights=counts).astype(np.int64)  # count(c)
            self._tables[k] = (keys, counts, ctx_keys, ctx_counts)
        return self

    def probs(self, contexts) -> np.ndarray:
        """p(next | context) for int contexts (B, n - 1): float64 (B, V), rows sum to 1."""
        codes = self._context_codes(contexts)
        V, beta = self.vocab_size, self.alpha * self.vocab_size
        p = np.full((len(codes), V), 1.0 / V)  # q for the lowest order
        for k in self._orders():
            keys, counts, ctx_keys, ctx_counts = self._tables[k]
            ctx = codes % V ** (k - 1)  # the last k - 1 tokens
            count_cv = _lookup(keys, counts, ctx[:, None] * V + np.arange(V))
            count_c = _lookup(ctx_keys, ctx_counts, ctx)
            p = (count_cv + beta * p) / (count_c + beta)[:, None]
        return p

    # --- end fit -------------------------------------------------------------------

    def _orders(self):
        return range(1, self.n + 1) if self.interpolate else (self.n,)

    def _check_fitted(self):
        if self._tables is None:
            raise ValueError("NGramLM: call fit(ids) first")

    def _context_codes(self, contexts) -> np.ndarray:
        self._check_fitted()
        c = as_token_ids(
            contexts, self.vocab_size, name="contexts", ndim=2, allow_empty=True
        )
        if c.shape[1] != self.n - 1:
            raise ValueError(
                f"contexts: expected shape (B, n - 1) = (B, {self.n - 1}), got {c.shape}"
            )
        codes = np.zeros(len(c), np.int64)
        for i in range(self.n - 1):
            codes = codes * self.vocab_size + c[:, i]
        return codes

    def context_seen(self, contexts) -> np.ndarray:
        """Bool (B,): was each full context (B, n - 1) followed by anything in the training text?"""
        _, _, ctx_keys, ctx_counts = (
            self._tables[self.n] if self._tables else (None,) * 4
        )
        return _lookup(ctx_keys, ctx_counts, self._context_codes(contexts)) > 0

    def log_probs(self, ids) -> np.ndarray:
        """log p(x_t | x_{t-n+1..t-1}) in nats for t = n - 1, ..., len(ids) - 1 (float64).

        The first n - 1 tokens have no full context and are not scored.
        """
        self._check_fitted()
        ids = as_token_ids(ids, self.vocab_size, name="ids", ndim=1)
        if len(ids) < self.n:
            raise ValueError(
                f"ids: expected at least n = {self.n} tokens, got {len(ids)}"
            )
        V, beta = self.vocab_size, self.alpha * self.vocab_size
        p = np.full(len(ids) - self.n + 1, 1.0 / V)
        for k in self._orders():
            keys, counts, ctx_keys, ctx_counts = self._tables[k]
            codes = _ngram_keys(ids[self.n - k :], k, V)  # k-grams ending at t
            p = (_lookup(keys, counts, codes) + beta * p) / (
                _lookup(ctx_keys, ctx_counts, codes // V) + beta
            )
        return np.log(p)

    def nll(self, ids) -> float:
        """Mean negative log-likelihood per scored token of ``ids``, in nats."""
        return float(-np.mean(self.log_probs(ids)))

    def step(self, seq, state):
        """For :func:`aigc_course.text.generate_tokens`: log p(next | last n - 1 ids), (B, V)."""
        seq = np.asarray(seq)
        if seq.shape[1] < self.n - 1:
            raise ValueError(
                f"prompt: an {self.n}-gram model needs at least {self.n - 1} "
                f"tokens of context, got {seq.shape[1]}"
            )
        ctx = seq[:, seq.shape[1] - (self.n - 1) :]
        return np.log(self.probs(ctx)), state

    @property
    def num_ngrams(self) -> int:
        """How many distinct n-grams occurred in the training text."""
        self._check_fitted()
        return len(self._tables[self.n][0])

    def __repr__(self):
        fitted = (
            f", {self.num_ngrams:,} distinct n-grams"
            if self._tables is not None
            else ""
        )
        return (
            f"NGramLM(n={self.n}, vocab_size={self.vocab_size}, alpha={self.alpha}, "
            f"interpolate={self.interpolate}{fitted})"
        )


# ----- held-out cross-entropy of a neural model -----------------------------------------
def log_softmax(logits, axis: int = -1) -> np.ndarray:
    """log softmax in float64, computed stably (max subtracted first)."""
    z = np.asarray(logits, np.float64)
    z = z - np.max(z, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def token_nll(logits, targets) -> np.ndarray:
    """-log softmax(logits)[target] in nats, one per token: logits (..., V), targets (...)."""
    logp = log_softmax(logits)
    targets = np.asarray(targets)
    if logp.shape[:-1] != targets.shape:
        raise ValueError(
            f"targets: expected shape {logp.shape[:-1]} to match the logits {logp.shape}, got {targets.shape}"
        )
    return -np.take_along_axis(logp, targets[..., None].astype(np.int64), axis=-1)[
        ..., 0
    ]


def mean_token_nll(logits_fn, windows, batch_size: int = 64) -> float:
    """Mean cross-entropy in nats per token of a language model on held-out windows.

    ``logits_fn(ids) -> logits``: int ids (B, T) -> logits (B, T, V) as NumPy
    (``model.logits`` of the course's CharRNN and GPT, in both frameworks).
    ``windows``: int (N, T + 1), e.g. from :func:`aigc_course.text.make_windows`;
    inputs are ``windows[:, :-1]``, targets ``windows[:, 1:]`` (teacher forcing).
    """
    windows = np.asarray(windows)
    if windows.ndim != 2 or windows.shape[1] < 2 or len(windows) == 0:
        raise ValueError(
            f"windows: expected int ids shaped (N, T + 1) with N >= 1, T >= 1, got {windows.shape}"
        )
    batch_size = check_int(batch_size, "batch_size")
    total = 0.0
    for i in range(0, len(windows), batch_size):
        w = windows[i : i + batch_size]
        total += float(token_nll(logits_fn(w[:, :-1]), w[:, 1:]).sum())
    return total / (len(windows) * (windows.shape[1] - 1))


# ----- recurrent networks ------------------------------------------------------------------
def rnn_forward(x, w_xh, w_hh, b_h, h0=None) -> np.ndarray:
    """A vanilla (Elman) RNN: h_t = tanh(x_t W_xh + h_{t-1} W_hh + b), h_0 = 0 by default.

    ``x``: (B, T, D) inputs; returns the hidden states (B, T, H).
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 3:
        raise ValueError(f"x: expected inputs shaped (B, T, D), got {x.shape}")
    B, T, _ = x.shape
    h = np.zeros((B, w_hh.shape[0])) if h0 is None else np.asarray(h0, np.float64)
    out = []
    for t in range(T):
        h = np.tanh(x[:, t] @ w_xh + h @ w_hh + b_h)
        out.append(h)
    return np.stack(out, axis=1)


# --- lstm (shown in the book) -------------------------------------------------------------
def lstm_step(x, h, c, w, u, b):
    """One LSTM step. ``w`` (D, 4H), ``u`` (H, 4H), ``b`` (4H,); gate order i, f, g, o.

    i, f, o = sigmoid(...), g = tanh(...) of x W + h U + b;
    c' = f * c + i * g;  h' = o * tanh(c').   Returns (h', c').
    """
    z = np.asarray(x, np.float64) @ w + np.asarray(h, np.float64) @ u + b
    i, f, g, o = np.split(z, 4, axis=-1)
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h_new = sigmoid(o) * np.tanh(c_new)
    return h_new, c_new


# --- end lstm -------------------------------------------------------------------------------


# ----- attention and the Transformer block ---------------------------------------------
def causal_attention_mask(T: int) -> np.ndarray:
    """Bool (T, T): entry (t, s) is True when query t may look at key s, i.e. s <= t."""
    T = check_int(T, "T")
    return np.tril(np.ones((T, T), dtype=bool))


# --- attention (shown in the book) --------------------------------------------------------
def scaled_dot_product_attention(q, k, v, mask=None, scale: bool = True):
    """softmax(q k^T / sqrt(d) + mask) v over the last two axes; returns (output, weights).

    q (..., T, d), k (..., S, d), v (..., S, d_v); ``mask`` bool (T, S), True = may attend
    (False entries get weight exactly 0). ``scale=False`` drops the 1/sqrt(d).
    """
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    scores = q @ np.swapaxes(k, -1, -2)  # (..., T, S) similarities
    if scale:
        scores = scores / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)  # no attention to masked keys
    weights = softmax(scores)  # each row sums to 1
    return weights @ v, weights


# --- end attention ------------------------------------------------------------------------


# --- multi-head (shown in the book) -------------------------------------------------------
def multi_head_attention(
    x, w_qkv, b_qkv, w_proj, b_proj, n_head: int, causal: bool = True
):
    """Self-attention with ``n_head`` heads, nanoGPT's layout; x (B, T, C) -> (B, T, C).

    q, k, v = split(x W_qkv + b_qkv) with W_qkv (C, 3C); each is cut into n_head
    heads of size C / n_head, attended separately, put side by side again and
    mixed by the output projection W_proj (C, C).
    """
    x = np.asarray(x, np.float64)
    B, T, C = x.shape
    if C % n_head:
        raise ValueError(f"n_head={n_head} must divide the width C={C}")
    q, k, v = np.split(x @ w_qkv + b_qkv, 3, axis=-1)
    heads = lambda a: a.reshape(B, T, n_head, C // n_head).transpose(0, 2, 1, 3)
    mask = causal_attention_mask(T) if causal else None
    # (B, nh, T, hs)
    y, _ = scaled_dot_product_attention(heads(q), heads(k), heads(v), mask)
    y = y.transpose(0, 2, 1, 3).reshape(B, T, C)
    return y @ w_proj + b_proj


# --- end multi-head -----------------------------------------------------------------------


def layer_norm(x, gamma, beta, eps: float = 1e-5) -> np.ndarray:
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last axis (biased variance)."""
    x = np.asarray(x, np.float64)
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x) -> np.ndarray:
    """The exact GELU, x * Phi(x) = x/2 (1 + erf(x / sqrt 2)) (PyTorch's default)."""
    x = np.asarray(x, np.float64)
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def init_block(n_embd: int, rng=None, std: float = 0.02) -> dict:
    """Random parameters of one Transformer block (GPT-2 style init), weights as (in, out)."""
    C = check_int(n_embd, "n_embd")
    rng = np.random.default_rng(rng)
    normal = lambda *shape: rng.normal(0.0, std, shape)
    return {
        "ln_1": (np.ones(C), np.zeros(C)),
        "attn": (normal(C, 3 * C), np.zeros(3 * C), normal(C, C), np.zeros(C)),
        "ln_2": (np.ones(C), np.zeros(C)),
        "mlp": (normal(C, 4 * C), np.zeros(4 * C), normal(4 * C, C), np.zeros(C)),
    }


def count_block_params(params: dict) -> int:
    """Number of numbers in a block's parameters (:func:`init_block`'s layout)."""
    return int(sum(np.size(a) for group in params.values() for a in group))


# --- block (shown in the book) ------------------------------------------------------------
def transformer_block(x, params: dict, n_head: int, causal: bool = True) -> np.ndarray:
    """A pre-LN Transformer block: x + attn(LN(x)), then x + MLP(LN(x)); (B, T, C)."""
    x = np.asarray(x, np.float64)
    x = x + multi_head_attention(
        layer_norm(x, *params["ln_1"]), *params["attn"], n_head=n_head, causal=causal
    )
    w_fc, b_fc, w_out, b_out = params["mlp"]
    return x + gelu(layer_norm(x, *params["ln_2"]) @ w_fc + b_fc) @ w_out + b_out


# --- end block ----------------------------------------------------------------------------


# ----- diversity of samples ------------------------------------------------------------------
def _ngrams(seq, n: int) -> list:
    seq = list(seq)
    return [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]


def distinct_n(seqs, n: int) -> float:
    """Distinct-n: unique n-grams / all n-grams over a list of sequences (str or ids).

    1 means no n-gram is repeated anywhere; a model stuck in a loop scores near 0.
    """
    n = check_int(n, "n")
    grams = [g for s in seqs for g in _ngrams(s, n)]
    if not grams:
        raise ValueError(f"seqs: expected sequences with at least n = {n} tokens")
    return len(set(grams)) / len(grams)


def ngram_overlap(generated, reference, n: int) -> float:
    """Fraction of the n-grams of ``generated`` that also occur in ``reference``.

    ``generated``: one str or 1-D id array, or a list of them; ``reference``: one
    sequence (e.g. the training text). Near 1 for long n-grams: the text is copied.
    """
    n = check_int(n, "n")
    one = isinstance(generated, str) or (
        isinstance(generated, np.ndarray) and generated.ndim == 1
    )
    seqs = [generated] if one else list(generated)
    grams = [g for s in seqs for g in _ngrams(s, n)]
    if not grams:
        raise ValueError(f"generated: expected at least n = {n} tokens")
    ref = set(_ngrams(reference, n))
    return sum(g in ref for g in grams) / len(grams)


def entropy_bits(probs, axis: int = -1) -> np.ndarray:
    """Shannon entropy -sum p log2 p along ``axis`` (0 log 0 = 0), in bits."""
    p = np.asarray(probs, np.float64)
    if np.any(p < 0):
        raise ValueError("probs: expected non-negative probabilities")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=axis)


# ----- PixelCNN: masks and receptive fields -----------------------------------------------
def pixelcnn_mask(kernel_size: int, mask_type: str) -> np.ndarray:
    """(k, k) 0/1 float32 mask of a PixelCNN convolution (as in both frameworks' PixelCNN).

    Rows above the centre and, on the centre row, the pixels left of the centre; type
    'B' also keeps the centre itself, type 'A' (first layer) does not.
    """
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type: expected 'A' or 'B', got {mask_type!r}")
    if (
        isinstance(kernel_size, bool)
        or not isinstance(kernel_size, (int, np.integer))
        or kernel_size < 1
        or kernel_size % 2 == 0
    ):
        raise ValueError(
            f"kernel_size: expected an odd positive int, got {kernel_size!r}"
        )
    c = kernel_size // 2
    m = np.zeros((kernel_size, kernel_size), np.float32)
    m[:c, :] = 1.0
    m[c, :c] = 1.0
    if mask_type == "B":
        m[c, c] = 1.0
    return m


def masked_conv2d(x, kernel, mask) -> np.ndarray:
    """Single-channel 'same' cross-correlation with a masked kernel, like a conv layer.

    x (B, H, W); kernel and mask (k, k); out[b, i, j] = sum_{a, c} (kernel * mask)[a, c]
    * x[b, i + a - k//2, j + c - k//2], with zeros outside the image.
    """
    x = np.asarray(x, np.float64)
    w = np.asarray(kernel, np.float64) * mask
    k = w.shape[0]
    r = k // 2
    xp = np.pad(x, ((0, 0), (r, r), (r, r)))
    H, W = x.shape[1:]
    out = np.zeros_like(x)
    for a in range(k):
        for c in range(k):
            if w[a, c] != 0.0:
                out += w[a, c] * xp[:, a : a + H, c : c + W]
    return out


def receptive_field(layers, shape=(28, 28), pixel=(14, 14)) -> np.ndarray:
    """Bool map (H, W) of the input pixels that can influence the output at ``pixel``.

    ``layers``: a list of (kernel_size, mask_type) for a stack of masked convolutions,
    e.g. ``[(7, "A")] + [(3, "B")] * 5``. A layer reads its input at the offsets its
    mask keeps; a stack reads at every sum of one offset per layer (a Minkowski sum).
    1x1 convolutions and pointwise activations do not change the field.
    """
    offsets = {(0, 0)}
    for k, mask_type in layers:
        m = pixelcnn_mask(k, mask_type)
        c = k // 2
        step = [(a - c, b - c) for a, b in zip(*np.nonzero(m))]
        offsets = {(dy + sy, dx + sx) for dy, dx in offsets for sy, sx in step}
    H, W = shape
    i0, j0 = pixel
    if not (0 <= i0 < H and 0 <= j0 < W):
        raise ValueError(f"pixel: expected a position inside {shape}, got {pixel}")
    field = np.zeros(shape, bool)
    for dy, dx in offsets:
        if 0 <= i0 + dy < H and 0 <= j0 + dx < W:
            field[i0 + dy, j0 + dx] = True
    return field
