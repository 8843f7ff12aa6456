"""A Gaussian mixture model fitted by expectation–maximisation (NumPy only).

The simplest *latent-variable* generative model: a hidden component
``k ~ Categorical(weights)`` is drawn first, then ``x ~ N(means[k], covariances[k])``.
Its density is the weighted sum of the component densities::

    p(x) = sum_k weights[k] * N(x | means[k], covariances[k])

and it is fitted by maximum likelihood with the EM algorithm (Dempster, Laird &
Rubin, 1977), which alternates

* **E-step**: the posterior of the hidden component, the *responsibilities*
  ``r[i, k] = p(k | x_i)`` (Bayes' rule), and
* **M-step**: the weighted maximum-likelihood estimates of the weights, means
  and covariances, with ``r`` as the weights.

Each EM iteration never decreases the log-likelihood of the training data;
:meth:`GaussianMixture.fit` returns that log-likelihood at every iteration so
you can check it::

    gmm = GaussianMixture(3, seed=0)
    history = gmm.fit(x)                     # mean log-likelihood per iteration
    assert (np.diff(history) >= -1e-10).all()
    new_points, components = gmm.sample(500, seed=1)
    log_density = gmm.log_prob(x)

Covariances are stored as full ``(K, d, d)`` matrices for both
``covariance="full"`` and ``"diag"`` (the latter with zeros off the diagonal).
``reg_covar`` is added to every diagonal in the M-step to keep the matrices
invertible; it perturbs the exact M-step by ``O(reg_covar)``, so with the
default ``1e-6`` the monotonicity holds up to rounding-sized amounts, and
exactly with ``reg_covar=0``.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_int, check_vectors

__all__ = ["GaussianMixture", "gaussian_log_pdf", "logsumexp"]

COVARIANCE_TYPES = ("full", "diag")
LOG_2PI = math.log(2.0 * math.pi)


def logsumexp(a, axis: int = -1) -> np.ndarray:
    """log(sum(exp(a))) along ``axis``, without overflow."""
    a = np.asarray(a, np.float64)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis)


# --- log density (shown in the book) -------------------------------------------
def gaussian_log_pdf(x, mean, cov) -> np.ndarray:
    """log N(x | mean, cov) for every row of x (N, d), through a Cholesky factor.

    With cov = L L^T:  log N = -1/2 (d log 2 pi + log det cov + |L^{-1} (x - mean)|^2),
    and log det cov = 2 sum log diag(L).
    """
    x, mean, cov = (
        np.asarray(x, np.float64),
        np.asarray(mean, np.float64),
        np.asarray(cov, np.float64),
    )
    d = x.shape[1]
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError("covariance matrix is not positive definite") from None
    sol = np.linalg.solve(chol, (x - mean).T)  # L^{-1} (x - mean), shape (d, N)
    maha = np.sum(sol**2, axis=0)  # squared Mahalanobis distance
    log_det = 2.0 * np.sum(np.log(np.diag(chol)))
    return -0.5 * (d * LOG_2PI + log_det + maha)


# --- end log density -------------------------------------------------------------


class GaussianMixture:
    """A mixture of ``n_components`` Gaussians, fitted by EM.

    Parameters: ``covariance`` ``"full"`` or ``"diag"``; ``reg_covar`` (>= 0) added
    to the covariance diagonals in the M-step; ``seed`` for the initialisation
    (k-means++-style choice of the initial means among the data points).

    After :meth:`fit` (or :meth:`from_params`): ``weights_`` (K,), ``means_``
    (K, d), ``covariances_`` (K, d, d), and ``log_likelihood_``, the mean
    log-likelihood per point at each iteration.
    """

    def __init__(
        self,
        n_components: int,
        covariance: str = "full",
        reg_covar: float = 1e-6,
        seed=0,
    ):
        self.n_components = check_int(n_components, "n_components")
        if covariance not in COVARIANCE_TYPES:
            raise ValueError(
                f"covariance: expected one of {COVARIANCE_TYPES}, got {covariance!r}"
            )
        if not (isinstance(reg_covar, (int, float, np.floating)) and reg_covar >= 0):
            raise ValueError(f"reg_covar: expected a float >= 0, got {reg_covar!r}")
        self.covariance, self.reg_covar, self.seed = covariance, float(reg_covar), seed
        self.weights_ = self.means_ = self.covariances_ = None
        self.log_likelihood_: np.ndarray | None = None
        self.converged_ = False

    # ----- construction from known parameters ------------------------------------
    @classmethod
    def from_params(cls, weights, means, covariances) -> GaussianMixture:
        """A mixture with given parameters (no fitting): weights (K,), means (K, d), covariances (K, d, d)."""
        w = np.asarray(weights, np.float64)
        mu = np.asarray(means, np.float64)
        cov = np.asarray(covariances, np.float64)
        if w.ndim != 1 or len(w) == 0:
            raise ValueError(
                f"weights: expected a non-empty vector (K,), got shape {w.shape}"
            )
        k = len(w)
        if np.any(w < 0) or not np.isclose(w.sum(), 1.0, atol=1e-8):
            raise ValueError(
                f"weights: expected non-negative numbers summing to 1, got {w}"
            )
        if mu.ndim != 2 or mu.shape[0] != k:
            raise ValueError(f"means: expected shape ({k}, d), got {mu.shape}")
        d = mu.shape[1]
        if cov.shape != (k, d, d):
            raise ValueError(
                f"covariances: expected shape ({k}, {d}, {d}), got {cov.shape}"
            )
        if not np.allclose(cov, np.swapaxes(cov, 1, 2)):
            raise ValueError("covariances: expected symmetric matrices")
        for j in range(k):
            if np.any(np.linalg.eigvalsh(cov[j]) <= 0):
                raise ValueError(
                    f"covariances[{j}]: expected a positive definite matrix"
                )
        is_diag = all(np.allclose(c, np.diag(np.diag(c))) for c in cov)
        model = cls(k, covariance="diag" if is_diag else "full")
        model.weights_, model.means_, model.covariances_ = (
            w.copy(),
            mu.copy(),
            cov.copy(),
        )
        return model

    # ----- the model's densities -------------------------------------------------
    def _check_fitted(self):
        if self.means_ is None:
            raise ValueError(
                "this GaussianMixture has no parameters yet: call fit() or use from_params()"
            )

    @property
    def dim(self) -> int:
        self._check_fitted()
        return self.means_.shape[1]

    @property
    def n_parameters(self) -> int:
        """Free parameters: K - 1 weights, K d means, and K d(d+1)/2 (full) or K d (diag) covariances."""
        k, d = self.n_components, self.dim
        cov = k * d * (d + 1) // 2 if self.covariance == "full" else k * d
        return (k - 1) + k * d + cov

    def joint_log_prob(self, x) -> np.ndarray:
        """log p(x, k) = log weights[k] + log N(x | means[k], covariances[k]), shape (N, K)."""
        self._check_fitted()
        x = check_vectors(x, self.dim, dtype=np.float64)
        with np.errstate(divide="ignore"):  # a weight of exactly 0 gives log 0 = -inf
            log_w = np.log(self.weights_)
        return np.stack(
            [
                log_w[k] + gaussian_log_pdf(x, self.means_[k], self.covariances_[k])
                for k in range(self.n_components)
            ],
            axis=1,
        )

    def log_prob(self, x) -> np.ndarray:
        """log p(x) = logsumexp_k log p(x, k) for every point, shape (N,)."""
        return logsumexp(self.joint_log_prob(x), axis=1)

    def score(self, x) -> float:
        """Mean log-likelihood per point, (1/N) sum_i log p(x_i)."""
        return float(np.mean(self.log_prob(x)))

    def predict_proba(self, x) -> np.ndarray:
        """Responsibilities p(k | x) = p(x, k) / p(x) (Bayes' rule), shape (N, K); rows sum to 1."""
        joint = self.joint_log_prob(x)
        return np.exp(joint - logsumexp(joint, axis=1)[:, None])

    def predict(self, x) -> np.ndarray:
        """The most probable component of every point, int64 (N,)."""
        return np.argmax(self.predict_proba(x), axis=1).astype(np.int64)

    # --- sample (shown in the book) ---------------------------------------------
    def sample(self, n: int, seed=None) -> tuple[np.ndarray, np.ndarray]:
        """Ancestral sampling: k ~ Categorical(weights), then x ~ N(means[k], covariances[k]).

        Returns ``(x float64 (n, d), k int64 (n,))``.
        """
        self._check_fitted()
        n = check_int(n, "n")
        rng = np.random.default_rng(seed)
        # 1. the hidden component
        k = rng.choice(self.n_components, size=n, p=self.weights_)
        eps = rng.standard_normal((n, self.dim))
        chol = np.linalg.cholesky(self.covariances_)  # covariance = L L^T
        # 2. x = mean + L eps
        x = self.means_[k] + np.einsum("nij,nj->ni", chol[k], eps)
        return x, k.astype(np.int64)

    # --- end sample ---------------------------------------------------------------

    # ----- fitting ----------------------------------------------------------------
    def _init_means(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """k-means++ seeding: each new mean is a data point drawn with probability ~ squared distance."""
        means = [x[rng.integers(len(x))]]
        for _ in range(1, self.n_components):
            d2 = np.min(((x[:, None, :] - np.array(means)[None]) ** 2).sum(-1), axis=1)
            total = d2.sum()
            p = d2 / total if total > 0 else np.full(len(x), 1.0 / len(x))
            means.append(x[rng.choice(len(x), p=p)])
        return np.array(means)

    # --- EM (shown in the book) ---------------------------------------------------
    def e_step(self, x):
        """Responsibilities r (N, K) = p(k | x_i), and the mean log-likelihood of x."""
        joint = self.joint_log_prob(x)  # log p(x_i, k), (N, K)
        log_px = logsumexp(joint, axis=1)  # log p(x_i)
        return np.exp(joint - log_px[:, None]), float(np.mean(log_px))

    def m_step(self, x, r):
        """Weighted maximum likelihood with weights r: new weights, means, covariances."""
        # effective number of points per component
        nk = r.sum(axis=0) + 10 * np.finfo(float).eps
        self.weights_ = nk / nk.sum()
        self.means_ = (r.T @ x) / nk[:, None]
        d = x.shape[1]
        cov = np.empty((self.n_components, d, d))
        for k in range(self.n_components):
            diff = x - self.means_[k]
            cov[k] = (r[:, k, None] * diff).T @ diff / nk[k]
            if self.covariance == "diag":
                cov[k] = np.diag(np.diag(cov[k]))
            cov[k] += self.reg_covar * np.eye(d)
        self.covariances_ = cov

    # --- end EM -------------------------------------------------------------------

    def fit(
        self, x, max_iter: int = 100, tol: float = 1e-6, init_means=None
    ) -> np.ndarray:
        """Fit by EM; returns the mean log-likelihood per point at every iteration.

        Entry 0 is the log-likelihood of the initial parameters, entry t that
        after t EM iterations. Stops after ``max_iter`` iterations or when an
        iteration gains less than ``tol`` (then ``converged_`` is True).
        ``init_means`` (K, d) replaces the k-means++ initialisation.
        """
        x = check_vectors(x, dtype=np.float64)
        max_iter = check_int(max_iter, "max_iter")
        if not (isinstance(tol, (int, float, np.floating)) and tol >= 0):
            raise ValueError(f"tol: expected a float >= 0, got {tol!r}")
        n, d = x.shape
        if n < self.n_components:
            raise ValueError(
                f"x: expected at least n_components = {self.n_components} points, got {n}"
            )
        rng = np.random.default_rng(self.seed)
        if init_means is None:
            means = self._init_means(x, rng)
        else:
            means = check_vectors(init_means, d, "init_means", dtype=np.float64)
            if len(means) != self.n_components:
                raise ValueError(
                    f"init_means: expected {self.n_components} rows, got {len(means)}"
                )
        cov = np.cov(x, rowvar=False, bias=True).reshape(d, d)
        if self.covariance == "diag":
            cov = np.diag(np.diag(cov))
        cov = cov + max(
            self.reg_covar, 1e-6 * float(np.trace(cov)) / d + 1e-12
        ) * np.eye(d)
        self.weights_ = np.full(self.n_components, 1.0 / self.n_components)
        self.means_ = means.copy()
        self.covariances_ = np.repeat(cov[None], self.n_components, axis=0)

        history = []
        r, ll = self.e_step(x)
        history.append(ll)
        self.converged_ = False
        for _ in range(max_iter):
            self.m_step(x, r)
            r, ll = self.e_step(x)
            history.append(ll)
            if abs(history[-1] - history[-2]) < tol:
                self.converged_ = True
                break
        self.log_likelihood_ = np.array(history)
        return self.log_likelihood_

    def __repr__(self):
        state = "unfitted" if self.means_ is None else f"d={self.dim}"
        return f"GaussianMixture(n_components={self.n_components}, covariance={self.covariance!r}, {state})"
