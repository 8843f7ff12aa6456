"""Privacy accounting for DP-SGD in NumPy: how much (epsilon, delta) a training run spends.

DP-SGD (Abadi et al., 2016) runs the **subsampled Gaussian mechanism** once per step:
every example joins the batch independently with probability ``q`` (Poisson
sampling), each per-example gradient is clipped to norm ``C``, and Gaussian noise of
standard deviation ``sigma * C`` is added to their sum. Rényi differential privacy
(RDP, Mironov 2017) composes simply, by adding over steps, so the accountant

1. computes the RDP of one step at integer orders ``alpha`` (Mironov, Talwar and
   Zhang 2019, section 3.3)::

       A_alpha = sum_k  C(alpha, k) (1 - q)^(alpha - k) q^k  exp((k^2 - k) / (2 sigma^2))
       rdp(alpha) = log(A_alpha) / (alpha - 1)

   (for q = 1 this is the plain Gaussian mechanism, rdp = alpha / (2 sigma^2));
2. multiplies by the number of steps;
3. converts to (epsilon, delta)-DP and keeps the best order (Balle et al. 2020,
   Theorem 21, the conversion Opacus and TF Privacy use)::

       epsilon = min_alpha  rdp(alpha) + log((alpha - 1) / alpha)
                            - (log(delta) + log(alpha)) / (alpha - 1)

Only integer orders are used, so the result is a valid upper bound; in the usual DP-SGD
regime (sigma of about 0.5 or more) it agrees with Opacus's ``RDPAccountant`` to well
under 1 %. With very little noise the best order lies below 2, where Opacus also tries
fractional orders, and this bound is looser.
Framework-neutral: the Keras lab reports epsilon without importing PyTorch.

:func:`dp_roc_bound` and :func:`max_auc` turn an (epsilon, delta) guarantee into the
best ROC curve and AUC that any membership-inference attack can reach.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_int, check_number

DEFAULT_ORDERS = tuple(range(2, 257))


def _check_orders(orders) -> np.ndarray:
    a = np.atleast_1d(np.asarray(orders))
    if (
        a.ndim != 1
        or a.size == 0
        or not np.all(np.isfinite(a.astype(float)))
        or np.any(a.astype(float) != np.round(a.astype(float)))
        or np.any(a.astype(float) < 2)
    ):
        raise ValueError(f"orders: expected integers >= 2, got {orders!r}")
    return a.astype(np.int64)


# --- rdp (shown in the book) -------------------------------------------------
def rdp_subsampled_gaussian(
    noise_multiplier: float, sample_rate: float, orders=DEFAULT_ORDERS
) -> np.ndarray:
    """RDP of ONE step of the Poisson-subsampled Gaussian mechanism at integer ``orders``.

    ``noise_multiplier`` is sigma (noise std / clipping norm), ``sample_rate`` is q.
    Returns float64 (len(orders),); inf where sigma = 0 (no noise, no privacy).
    """
    sigma = check_number(noise_multiplier, "noise_multiplier", low=0)
    q = check_number(sample_rate, "sample_rate", 0, 1, low_open=True)
    alphas = _check_orders(orders)
    if sigma == 0:
        return np.full(len(alphas), np.inf)
    if q == 1:  # no subsampling: the Gaussian mechanism itself
        return alphas / (2 * sigma**2)
    log_fact = np.cumsum(np.log(np.maximum(np.arange(alphas.max() + 1), 1)))  # log(j!)
    out = np.empty(len(alphas))
    for i, alpha in enumerate(alphas):
        k = np.arange(alpha + 1)
        # log C(alpha, k)
        log_binom = log_fact[alpha] - log_fact[k] - log_fact[alpha - k]
        log_terms = (
            log_binom
            + k * math.log(q)
            + (alpha - k) * math.log1p(-q)
            + (k * k - k) / (2 * sigma**2)
        )
        top = log_terms.max()
        # log-sum-exp, no overflow
        log_a = top + math.log(np.exp(log_terms - top).sum())
        out[i] = log_a / (alpha - 1)
    return out


def rdp_to_epsilon(orders, rdp, delta: float):
    """(epsilon, best order) from RDP values (Balle et al. 2020, Theorem 21)."""
    alphas = _check_orders(orders).astype(float)
    rdp = np.atleast_1d(np.asarray(rdp, dtype=float))
    if rdp.shape != alphas.shape:
        raise ValueError(
            f"rdp: expected one value per order ({len(alphas)}), got shape {rdp.shape}"
        )
    delta = check_number(delta, "delta", 0, 1, low_open=True, high_open=True)
    eps = (
        rdp
        + np.log((alphas - 1) / alphas)
        - (math.log(delta) + np.log(alphas)) / (alphas - 1)
    )
    best = int(np.argmin(eps))
    return max(float(eps[best]), 0.0), int(alphas[best])


def compute_epsilon(
    noise_multiplier: float,
    sample_rate: float,
    steps: int,
    delta: float,
    orders=DEFAULT_ORDERS,
) -> float:
    """Epsilon of ``steps`` DP-SGD steps with noise sigma and sampling rate q, at ``delta``.

    RDP composes by addition: the total is ``steps`` times the RDP of one step.
    """
    steps = check_int(steps, "steps", minimum=0)
    if steps == 0:
        check_number(delta, "delta", 0, 1, low_open=True, high_open=True)
        return 0.0
    rdp = steps * rdp_subsampled_gaussian(noise_multiplier, sample_rate, orders)
    return rdp_to_epsilon(orders, rdp, delta)[0]


# --- end rdp -------------------------------------------------------------------


def noise_multiplier_for(
    target_epsilon: float,
    sample_rate: float,
    steps: int,
    delta: float,
    orders=DEFAULT_ORDERS,
    tol: float = 1e-3,
    max_sigma: float = 1e4,
) -> float:
    """The smallest sigma (up to ``tol``) whose ``compute_epsilon`` is <= ``target_epsilon``.

    Bisection: epsilon decreases as sigma grows. Raises ValueError if even
    ``max_sigma`` cannot reach the target.
    """
    target = check_number(target_epsilon, "target_epsilon", low=0, low_open=True)

    def eps(sigma):
        return compute_epsilon(sigma, sample_rate, steps, delta, orders)

    low, high = 0.0, 1.0
    while eps(high) > target:
        low, high = high, 2 * high
        if high > max_sigma:
            raise ValueError(
                f"target_epsilon={target}: not reachable with noise_multiplier "
                f"<= {max_sigma} (sample_rate={sample_rate}, steps={steps})"
            )
    while high - low > tol:
        mid = (low + high) / 2
        if eps(mid) > target:
            low = mid
        else:
            high = mid
    return high


def _check_eps_delta(epsilon, delta):
    try:
        eps = float(epsilon)  # inf is allowed: no privacy
    except (TypeError, ValueError):
        raise ValueError(f"epsilon: expected a number >= 0, got {epsilon!r}") from None
    if not eps >= 0:
        raise ValueError(f"epsilon: expected a number >= 0, got {epsilon!r}")
    return eps, check_number(delta, "delta", 0, 1, high_open=True)


def dp_roc_bound(fpr, epsilon: float, delta: float = 0.0) -> np.ndarray:
    """The largest true-positive rate ANY membership test can reach at false-positive rate ``fpr``
    against an (epsilon, delta)-DP training algorithm (Kairouz, Oh and Viswanath 2015)::

        TPR <= min(1, e^eps FPR + delta, 1 - e^-eps (1 - delta - FPR))
    """
    eps, delta = _check_eps_delta(epsilon, delta)
    f = np.asarray(fpr, dtype=float)
    if np.any(f < 0) or np.any(f > 1):
        raise ValueError("fpr: expected values in [0, 1]")
    if math.isinf(eps):
        return np.where(f >= 0, 1.0, 0.0)
    return np.minimum.reduce(
        [
            np.ones_like(f),
            math.exp(eps) * f + delta,
            1 - math.exp(-eps) * (1 - delta - f),
        ]
    )


def max_auc(epsilon: float, delta: float = 0.0) -> float:
    """Area under :func:`dp_roc_bound`: the largest AUC of any membership test, 0.5 at eps = 0."""
    eps, delta = _check_eps_delta(epsilon, delta)
    if math.isinf(eps):
        return 1.0
    # the bound is piecewise linear with kinks at 0, x1, x2, 1: integrate exactly
    e = math.exp(eps)
    x1 = (1 - delta) / (e + 1)  # where the two lines cross
    x2 = 1 - delta  # where the second line reaches 1
    knots = np.unique(np.clip([0.0, x1, x2, 1.0], 0.0, 1.0))
    values = dp_roc_bound(knots, eps, delta)
    return float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(knots)))


def plot_tradeoff(results: dict, baseline: dict, delta: float):
    """The privacy/quality trade-off of chapter 10's labs, as two panels; returns the figure.

    ``results`` maps each target epsilon to ``{"ELBO": held-out ELBO, "AUC": attack AUC}``,
    ``baseline`` holds the same two numbers for non-private training. The right panel
    adds :func:`max_auc`, the bound that (epsilon, delta)-DP puts on *any* attack.
    """
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError(
            "results: expected at least one {epsilon: {'ELBO': ..., 'AUC': ...}} entry"
        )
    for name, r in [*results.items(), ("baseline", baseline)]:
        if not {"ELBO", "AUC"} <= set(r):
            raise ValueError(
                f"results[{name!r}]: expected keys 'ELBO' and 'AUC', got {sorted(r)}"
            )
    eps = sorted(results)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(eps, [results[e]["ELBO"] for e in eps], "o-", label="DP-SGD")
    ax1.axhline(baseline["ELBO"], ls="--", c="k", label="non-private")
    ax1.set(
        xscale="log",
        title="Quality: held-out ELBO",
        xlabel="privacy budget ε (log scale)",
        ylabel="mean ELBO of non-members (nats)",
    )
    ax2.plot(eps, [results[e]["AUC"] for e in eps], "o-", label="DP-SGD, this attack")
    grid = np.geomspace(min(eps) / 2, max(eps) * 1.5, 60)
    ax2.plot(
        grid, [max_auc(e, delta) for e in grid], c="C3", label="bound on any attack"
    )
    ax2.axhline(baseline["AUC"], ls="--", c="k", label="non-private")
    ax2.axhline(0.5, ls=":", c="gray", label="coin flip")
    ax2.set(
        xscale="log",
        title="Privacy: membership-inference AUC",
        xlabel="privacy budget ε (log scale)",
        ylabel="AUC",
    )
    for ax in (ax1, ax2):
        ax.legend()
    fig.tight_layout()
    return fig


__all__ = [
    "DEFAULT_ORDERS",
    "rdp_subsampled_gaussian",
    "rdp_to_epsilon",
    "compute_epsilon",
    "noise_multiplier_for",
    "dp_roc_bound",
    "max_auc",
    "plot_tradeoff",
]
