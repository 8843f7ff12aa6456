"""Learning from human feedback in miniature: a reward model and KL-regularised fine-tuning (chapter 11).

The policy is a Markov chain over tokens, the course's bigram model
(:class:`aigc_course.ar_numpy.NGramLM` with ``n=2``) or a fine-tuned copy of it:
``trans[a, b] = p(next = b | previous = a)``, or one such matrix per position,
``trans[t, a, b]``. A sequence of length ``T`` starts after a fixed token
``start``. Rewards here are *additive over transitions*,
``r(y) = sum_t R[y_{t-1}, y_t]``, which is exactly what a linear reward model on
bigram counts (:func:`transition_counts`) gives. Then:

* :func:`fit_bradley_terry` learns the reward model from pairwise preferences,
  ``P(a preferred to b) = sigmoid(r(a) - r(b))`` (Bradley & Terry, 1952);
* :func:`kl_optimum` returns the exact maximiser of the RLHF objective
  ``E_pi[r(y)] - beta * KL(pi || pi_ref)``, which is
  ``pi*(y) = pi_ref(y) exp(r(y) / beta) / Z``: for a Markov reference and an
  additive reward it is again a Markov chain (with position-dependent
  transitions), found by one backward pass, like the backward messages of a
  hidden Markov model;
* :func:`reinforce_kl` reaches for the same optimum the way RLHF does at scale,
  by sampling: REINFORCE (Williams, 1992) on the logits of a bigram policy with
  the KL penalty folded into the reward.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize as _optimize
from scipy import special as _special

from ._checks import check_int

__all__ = [
    "sample_markov",
    "markov_log_prob",
    "transition_counts",
    "fit_bradley_terry",
    "sequence_reward",
    "kl_optimum",
    "reinforce_kl",
]


# ----- input checks ---------------------------------------------------------------------
def _trans(trans, name: str = "trans") -> np.ndarray:
    p = np.asarray(trans, dtype=np.float64)
    if p.ndim not in (2, 3) or p.shape[-1] != p.shape[-2]:
        raise ValueError(
            f"{name}: expected transition probabilities (V, V) or (T, V, V), got {p.shape}"
        )
    if np.any(p < 0) or not np.allclose(p.sum(-1), 1.0, atol=1e-6):
        raise ValueError(f"{name}: expected non-negative rows that sum to 1")
    return p


def _start(start, V: int) -> int:
    return check_int(start, "start", 0, V - 1, expected=f"a token id in [0, {V})")


def _seqs(seqs, V: int) -> np.ndarray:
    s = np.asarray(seqs)
    if s.ndim != 2 or s.shape[1] == 0 or not np.issubdtype(s.dtype, np.integer):
        raise ValueError(
            f"seqs: expected int token ids shaped (N, T), got {s.shape} {s.dtype}"
        )
    if s.size and (s.min() < 0 or s.max() >= V):
        raise ValueError(f"seqs: expected ids in [0, {V})")
    return s.astype(np.int64)


def _previous(seqs: np.ndarray, start: int) -> np.ndarray:
    return np.concatenate([np.full((len(seqs), 1), start), seqs[:, :-1]], axis=1)


# ----- Markov chains ------------------------------------------------------------------------
def sample_markov(
    trans, n: int, start: int, length: int | None = None, seed=0
) -> np.ndarray:
    """``n`` sequences (n, T) sampled after ``start``; ``length`` T is needed for a (V, V) chain."""
    p = _trans(trans)
    V = p.shape[-1]
    T = p.shape[0] if p.ndim == 3 else check_int(length, "length")
    if p.ndim == 3 and length not in (None, T):
        raise ValueError(f"length: the chain has {T} positions, got length={length}")
    n, start = check_int(n, "n"), _start(start, V)
    rng = np.random.default_rng(seed)
    cum = np.cumsum(p, axis=-1)
    out, prev = np.empty((n, T), np.int64), np.full(n, start)
    for t in range(T):
        c = cum[t][prev] if p.ndim == 3 else cum[prev]
        prev = np.minimum((c < rng.random((n, 1)) * c[:, -1:]).sum(axis=1), V - 1)
        out[:, t] = prev
    return out


def markov_log_prob(trans, seqs, start: int) -> np.ndarray:
    """log p(y) of each sequence (N, T) under the chain, in nats."""
    p = _trans(trans)
    s = _seqs(seqs, p.shape[-1])
    prev = _previous(s, _start(start, p.shape[-1]))
    with np.errstate(divide="ignore"):
        if p.ndim == 3:
            if s.shape[1] != p.shape[0]:
                raise ValueError(
                    f"seqs: the chain has {p.shape[0]} positions, got length {s.shape[1]}"
                )
            return np.log(p[np.arange(s.shape[1]), prev, s]).sum(axis=1)
        return np.log(p[prev, s]).sum(axis=1)


def transition_counts(seqs, start: int, vocab_size: int) -> np.ndarray:
    """Features of a linear reward model: counts of each transition (a, b), float (N, V * V)."""
    V = check_int(vocab_size, "vocab_size")
    s = _seqs(seqs, V)
    codes = _previous(s, _start(start, V)) * V + s
    out = np.zeros((len(s), V * V))
    np.add.at(out, (np.repeat(np.arange(len(s)), s.shape[1]), codes.ravel()), 1.0)
    return out


def sequence_reward(reward, seqs, start: int) -> np.ndarray:
    """r(y) = sum_t reward[y_{t-1}, y_t] for each sequence, float (N,)."""
    R = np.asarray(reward, dtype=np.float64)
    if R.ndim != 2 or R.shape[0] != R.shape[1]:
        raise ValueError(f"reward: expected a (V, V) matrix, got {R.shape}")
    s = _seqs(seqs, R.shape[0])
    return R[_previous(s, _start(start, R.shape[0])), s].sum(axis=1)


# ----- the reward model ---------------------------------------------------------------------
def fit_bradley_terry(feats_a, feats_b, prefs, l2: float = 1e-2) -> np.ndarray:
    """Weights ``w`` of a linear reward model ``r(y) = w . phi(y)`` from comparisons.

    ``prefs[i]`` is 1 if item ``a[i]`` was preferred to ``b[i]``, else 0 (or a
    probability). Minimises the mean logistic loss of ``sigmoid(w . (phi_a - phi_b))``
    plus ``l2 / 2 * |w|^2`` (L-BFGS). Only differences of rewards are identified,
    so a constant feature gets weight 0.
    """
    fa, fb = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    y = np.asarray(prefs, np.float64)
    if fa.ndim != 2 or fa.shape != fb.shape or y.shape != (len(fa),) or len(fa) == 0:
        raise ValueError(
            f"feats_a, feats_b, prefs: expected (N, D), (N, D) and (N,), got "
            f"{fa.shape}, {fb.shape}, {y.shape}"
        )
    if np.any((y < 0) | (y > 1)):
        raise ValueError("prefs: expected values in [0, 1]")
    if not l2 >= 0:
        raise ValueError(f"l2: expected a penalty >= 0, got {l2!r}")
    d = fa - fb

    def loss(w):
        z = d @ w
        grad = d.T @ (1.0 / (1.0 + np.exp(-z)) - y) / len(d) + l2 * w
        return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * w @ w, grad

    return _optimize.minimize(loss, np.zeros(d.shape[1]), jac=True, method="L-BFGS-B").x


# --- kl optimum (shown in the book)
def kl_optimum(ref_trans, reward, beta: float, length: int, start: int):
    """The policy that maximises ``E_pi[r] - beta KL(pi || pi_ref)``, and ``log Z``.

    ``pi*(y) = pi_ref(y) exp(r(y) / beta) / Z``. With a Markov ``pi_ref`` and
    ``r(y) = sum_t reward[y_{t-1}, y_t]``, let ``E[a, b] = pi_ref(b | a) exp(reward[a, b] / beta)``
    and the backward messages ``m_T = 1``, ``m_t = E m_{t+1}`` (``m_t[a]``: the total
    weight of all continuations after token ``a`` at step t). Then
    ``pi*(y_t = b | y_{t-1} = a) = E[a, b] m_{t+1}[b] / m_t[a]`` and ``Z = m_0[start]``.
    Returns ``(trans (T, V, V), log Z)``; the optimum's objective value is ``beta log Z``.
    """
    p = _trans(ref_trans, "ref_trans")
    R = np.asarray(reward, dtype=np.float64)
    if p.ndim != 2 or R.shape != p.shape:
        raise ValueError(
            f"ref_trans, reward: expected two (V, V) matrices, got {p.shape}, {R.shape}"
        )
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta: expected a positive KL weight, got {beta!r}")
    T, start = check_int(length, "length"), _start(start, len(p))
    with np.errstate(divide="ignore"):
        log_e = np.log(p) + R / beta  # log E, -inf where pi_ref is 0
    log_m = [np.zeros(len(p))]  # log m_T = 0
    for _ in range(T):  # log m_t = logsumexp_b(log E + log m_{t+1})
        log_m.append(_special.logsumexp(log_e + log_m[-1][None, :], axis=1))
    log_m = log_m[::-1]  # log_m[t] for t = 0..T
    trans = np.stack(
        [np.exp(log_e + log_m[t + 1][None, :] - log_m[t][:, None]) for t in range(T)]
    )
    return trans, float(log_m[0][start])


# --- end kl optimum


def reinforce_kl(
    ref_trans,
    reward,
    beta: float,
    length: int,
    start: int,
    steps: int = 200,
    batch_size: int = 256,
    lr: float = 0.05,
    seed=0,
):
    """Fine-tune a bigram policy by REINFORCE on ``r(y) - beta * log(pi(y) / pi_ref(y))``.

    The policy's logits start at ``log pi_ref``; each step samples ``batch_size``
    sequences, uses the batch mean as the baseline and takes an Adam step on the
    logits. Returns ``(trans (V, V), history)`` where ``history`` holds the batch
    mean of the KL-penalised reward at every step (a Monte Carlo estimate of the
    objective, which cannot exceed ``beta * log Z`` of :func:`kl_optimum`).
    """
    p = _trans(ref_trans, "ref_trans")
    R = np.asarray(reward, dtype=np.float64)
    if p.ndim != 2 or R.shape != p.shape:
        raise ValueError(
            f"ref_trans, reward: expected two (V, V) matrices, got {p.shape}, {R.shape}"
        )
    if not (np.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta: expected a KL weight >= 0, got {beta!r}")
    T, V = check_int(length, "length"), len(p)
    start, steps, B = (
        _start(start, V),
        check_int(steps, "steps"),
        check_int(batch_size, "batch_size"),
    )
    rng = np.random.default_rng(seed)
    log_ref = np.log(np.maximum(p, 1e-300))
    theta = log_ref.copy()
    m1, m2, history = np.zeros_like(theta), np.zeros_like(theta), []
    for step in range(1, steps + 1):
        pol = np.exp(theta - theta.max(axis=1, keepdims=True))
        pol /= pol.sum(axis=1, keepdims=True)
        seqs = sample_markov(pol, B, start, T, seed=rng)
        prev = _previous(seqs, start)
        score = R[prev, seqs].sum(1) - beta * (
            np.log(pol[prev, seqs]) - log_ref[prev, seqs]
        ).sum(1)
        history.append(float(score.mean()))
        adv = np.repeat(score - score.mean(), T)  # REINFORCE with a mean baseline
        grad = np.zeros_like(theta)  # sum_t adv * (onehot(y_t) - pol[y_{t-1}])
        np.add.at(grad, (prev.ravel(), seqs.ravel()), adv)
        weight = np.bincount(prev.ravel(), weights=adv, minlength=V)
        grad = (grad - weight[:, None] * pol) / B
        m1 = 0.9 * m1 + 0.1 * grad  # Adam, ascending
        m2 = 0.999 * m2 + 0.001 * grad**2
        theta += lr * (m1 / (1 - 0.9**step)) / (np.sqrt(m2 / (1 - 0.999**step)) + 1e-8)
    pol = np.exp(theta - theta.max(axis=1, keepdims=True))
    return pol / pol.sum(axis=1, keepdims=True), history
