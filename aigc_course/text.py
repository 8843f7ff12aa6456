"""Framework-neutral text utilities for the autoregressive models (NumPy only).

An autoregressive language model factorises a sequence with the chain rule::

    p(x_1, ..., x_T) = prod_t p(x_t | x_1, ..., x_{t-1})

and is trained with teacher forcing: from a window of ``T + 1`` token ids the
inputs are ``window[:-1]`` and the targets (the next token at every position)
are ``window[1:]``. Generation repeats "compute logits of the next token,
sample one, append it".

Everything here is shared by :mod:`aigc_course.torch.autoregressive` and
:mod:`aigc_course.keras.autoregressive`:

* :class:`CharTokenizer`: characters <-> int64 ids (sorted vocabulary).
* :func:`make_windows`: a long id sequence -> (N, block_size + 1) training windows.
* :func:`top_k_filter`, :func:`top_p_filter`, :func:`sample_next`: decoding on
  NumPy logits with a NumPy ``Generator``, so that both frameworks pick the
  very same token from the same logits and seed.
* :func:`generate_tokens`: the generation loop; a model only supplies a
  ``step`` function that returns next-token logits.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_int, check_number, rng_from
from .numpy_nn import softmax


# ----- tokenizer -----------------------------------------------------------------
class CharTokenizer:
    """Character-level tokenizer: every distinct character of ``text`` is a token.

    The vocabulary is sorted, so the same text (or the vocabulary string
    ``tok.chars`` itself) always gives the same ids::

        tok = CharTokenizer("hello world")
        ids = tok.encode("hello")          # int64 array
        tok.decode(ids) == "hello"
    """

    def __init__(self, text: str):
        if not isinstance(text, str) or not text:
            raise ValueError(
                f"text: expected a non-empty str, got {type(text).__name__} {text!r:.40}"
            )
        self.chars = "".join(sorted(set(text)))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.itos = dict(enumerate(self.chars))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, s: str) -> np.ndarray:
        """str -> int64 ids (len(s),). Characters outside the vocabulary -> ValueError."""
        unknown = sorted(set(s) - set(self.stoi))
        if unknown:
            raise ValueError(
                f"encode: characters not in the vocabulary: {unknown[:10]!r}"
            )
        return np.array([self.stoi[c] for c in s], dtype=np.int64)

    def decode(self, ids) -> str:
        """int ids (any 1-D sequence) -> str."""
        ids = as_token_ids(ids, self.vocab_size, name="ids", ndim=1, allow_empty=True)
        return "".join(self.itos[int(i)] for i in ids)

    def __repr__(self):
        return f"CharTokenizer(vocab_size={self.vocab_size}, chars={self.chars!r:.60})"


# ----- validation ------------------------------------------------------------------
def as_token_ids(
    ids, vocab_size: int, name: str = "ids", ndim=None, allow_empty: bool = False
) -> np.ndarray:
    """Validate token ids: an integer array with values in [0, vocab_size); int64 out.

    ``ndim`` (an int or a tuple of allowed ranks) checks the rank.
    """
    a = np.asarray(ids)
    if a.size == 0 and not allow_empty:
        raise ValueError(f"{name}: expected at least one token id, got shape {a.shape}")
    if (
        a.dtype == object
        or a.dtype == bool
        or not (np.issubdtype(a.dtype, np.integer) or (a.size == 0 and allow_empty))
    ):
        raise ValueError(f"{name}: expected integer token ids, got dtype {a.dtype}")
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if ranks is not None and a.ndim not in ranks:
        raise ValueError(
            f"{name}: expected an array of rank {' or '.join(map(str, ranks))} "
            f"of token ids, got shape {a.shape}"
        )
    if a.size == 0:
        return a.astype(np.int64)
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi >= vocab_size:
        raise ValueError(
            f"{name}: expected token ids in [0, {vocab_size}) "
            f"(vocab_size={vocab_size}), "
            f"got values in [{lo}, {hi}]"
        )
    return a.astype(np.int64)


def as_windows(x, vocab_size: int, block_size=None, name: str = "x") -> np.ndarray:
    """Training windows: int ids (N, T + 1) with T >= 1 (and T <= block_size if given)."""
    x = as_token_ids(x, vocab_size, name=name, ndim=2)
    t = x.shape[1] - 1
    if t < 1:
        raise ValueError(
            f"{name}: expected windows shaped (N, T + 1) with T >= 1, got {x.shape}"
        )
    if block_size is not None and t > block_size:
        raise ValueError(
            f"{name}: expected windows of at most block_size + 1 = {block_size + 1} tokens, got {x.shape[1]}"
        )
    return x


# ----- training windows --------------------------------------------------------------
def make_windows(ids, block_size: int, stride=None) -> np.ndarray:
    """Cut a 1-D id sequence into overlapping windows of ``block_size + 1`` tokens.

    Window i is ``ids[i*stride : i*stride + block_size + 1]`` (``stride``
    defaults to ``block_size``: consecutive windows share one token), int64
    (N, block_size + 1). Model inputs are ``w[:, :-1]``, targets ``w[:, 1:]``.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"ids: expected a 1-D integer array, got dtype {ids.dtype} shape {ids.shape}"
        )
    block_size = check_int(block_size, "block_size")
    stride = block_size if stride is None else check_int(stride, "stride")
    if len(ids) < block_size + 1:
        raise ValueError(
            f"ids: expected at least block_size + 1 = {block_size + 1} tokens, got {len(ids)}"
        )
    starts = np.arange(0, len(ids) - block_size, stride)
    return ids[starts[:, None] + np.arange(block_size + 1)].astype(np.int64)


# ----- decoding ------------------------------------------------------------------------
def top_k_filter(logits, k: int) -> np.ndarray:
    """Keep the ``k`` largest logits, set the rest to -inf (ties with the k-th are kept)."""
    logits = np.asarray(logits, np.float64)
    k = check_int(k, "top_k")
    if k >= logits.shape[-1]:
        return logits.copy()
    kth = np.sort(logits, axis=-1)[..., -k, None]
    return np.where(logits < kth, -np.inf, logits)


def top_p_filter(logits, p: float) -> np.ndarray:
    """Nucleus filter (Holtzman et al., 2019) on a 1-D row of logits.

    Sort the tokens by probability and keep the smallest prefix whose total
    probability reaches ``p`` (at least the most likely token); the rest -> -inf.
    """
    logits = np.asarray(logits, np.float64)
    p = _check_top_p(p)
    if logits.ndim != 1:
        raise ValueError(f"logits: expected one row (V,), got shape {logits.shape}")
    order = np.argsort(-logits, kind="stable")
    probs = softmax(logits)[order]
    before = np.cumsum(probs) - probs  # probability mass of the better tokens
    keep = before < p  # keep while the mass so far is short of p
    keep[0] = True
    out = np.full_like(logits, -np.inf)
    out[order[keep]] = logits[order[keep]]
    return out


def sample_next(
    logits_row, temperature: float = 1.0, top_k=None, top_p=None, rng=None
) -> int:
    """Draw the next token id from one row of logits (V,).

    p = softmax(filter(logits / temperature)); ``temperature == 0`` means
    greedy decoding (argmax; ``rng`` is not used), a negative one is a
    ValueError. ``top_k`` keeps the k most likely tokens, ``top_p`` the
    nucleus of mass p (k first, then p). The draw is one ``rng.random()``
    pushed through the inverse CDF, so the same logits and the same generator
    state give the same token in every framework.
    """
    row = np.asarray(logits_row, np.float64)
    if row.ndim != 1 or row.size == 0:
        raise ValueError(
            f"logits_row: expected a 1-D array (V,), got shape {row.shape}"
        )
    temperature = _check_temperature(temperature)
    if temperature == 0:
        return int(np.argmax(row))
    if top_k is not None:
        row = top_k_filter(row, top_k)
    if top_p is not None:
        row = top_p_filter(row, top_p)
    probs = softmax(row / temperature)
    rng = np.random.default_rng() if rng is None else rng
    cdf = np.cumsum(probs)
    idx = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    return min(idx, len(probs) - 1)


def _check_temperature(temperature) -> float:
    return check_number(
        temperature, "temperature", low=0, expected="a float >= 0 (0 = greedy)"
    )


def _check_top_p(p) -> float:
    return check_number(
        p, "top_p", 0, 1, low_open=True, expected="a probability in (0, 1]"
    )


# ----- the generation loop shared by both frameworks -------------------------------------
def generate_tokens(
    step,
    prompt_ids,
    max_new_tokens: int,
    vocab_size: int,
    temperature: float = 1.0,
    top_k=None,
    top_p=None,
    seed=None,
) -> np.ndarray:
    """Autoregressive sampling: append ``max_new_tokens`` ids to ``prompt_ids``.

    ``step(seq, state) -> (logits, state)``: ``seq`` is the int64 (B, t)
    sequence so far, ``state`` whatever the previous call returned (None at
    first; a recurrent model keeps its hidden state there, a Transformer
    ignores it); ``logits`` are the next-token logits (B, V) as NumPy.

    ``prompt_ids``: (T,) or (B, T) ints; the result has the same rank with
    ``max_new_tokens`` more columns (int64). Rows are sampled in order from one
    ``np.random.default_rng(seed)``.
    """
    seq = as_token_ids(prompt_ids, vocab_size, name="prompt_ids", ndim=(1, 2))
    max_new_tokens = check_int(
        max_new_tokens, "max_new_tokens", minimum=0, expected="a non-negative int"
    )
    temperature = _check_temperature(temperature)
    if top_k is not None:
        check_int(top_k, "top_k")
    if top_p is not None:
        _check_top_p(top_p)
    one_row = seq.ndim == 1
    seq = seq[None] if one_row else seq
    rng = rng_from(seed)
    state = None
    for _ in range(max_new_tokens):
        logits, state = step(seq, state)
        logits = np.asarray(logits, np.float64)
        nxt = [sample_next(row, temperature, top_k, top_p, rng) for row in logits]
        seq = np.concatenate([seq, np.asarray(nxt, np.int64)[:, None]], axis=1)
    return seq[0] if one_row else seq
