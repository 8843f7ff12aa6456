# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Variational autoencoders: the concepts
#
# A **variational autoencoder** (VAE, 变分自编码器) {cite}`kingma2013vae` is a generative
# model with a **latent variable** (潜变量) $z$: to make a sample, draw a code $z$ from a
# simple **prior** (先验) $p(z) = \mathcal N(0, I)$ and pass it through a network that
# outputs a distribution over data, $p_\theta(x \mid z)$. Unlike a GAN, a VAE is trained by
# (approximately) maximising the likelihood of the data, and it comes with a second
# network that maps data back to codes. Two networks, then:
#
# * the **decoder** (解码器) $p_\theta(x \mid z)$, the generative model itself;
# * the **encoder** (编码器) $q_\phi(z \mid x)$, an approximation of the **posterior**
#   (后验) $p_\theta(z \mid x)$, the codes that could have produced $x$.
#
# This notebook is framework-neutral: NumPy and Matplotlib only. You will
#
# 1. meet a small latent-variable model whose likelihood $p(x)$ we can compute exactly,
# 2. derive the **evidence lower bound** (ELBO) and **check** $\log p(x) = \text{ELBO} + \mathrm{KL}$,
# 3. derive the closed-form KL term and check it against Monte Carlo,
# 4. see why sampling blocks gradients and how the **reparameterization trick** fixes it,
# 5. see what choosing BCE or MSE says about the likelihood, and what $\beta$-VAE changes,
# 6. tighten the bound with importance weighting (IWAE),
# 7. train a VAE written in NumPy, backpropagation by hand, and run three bugs from
#    common tutorial code.
#
# The labs then train VAEs on MNIST in {doc}`PyTorch <vae_pytorch>` and in
# {doc}`Keras <vae_keras>`.

# %%
# Install the course package if it is missing (on Colab, Kaggle or a fresh Jupyter);
# where it is installed already, this cell does nothing.
import importlib

try:
    importlib.import_module("aigc_course")
except ImportError:
    print("Installing the course package (about a minute) ...")
    # %pip install -q "aigc-course @ git+https://github.com/aigc-course/aigc-course@v0.6.0"

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from aigc_course import is_fast, pick, set_seed
from aigc_course.data import load_mnist, random_subset
from aigc_course.likelihood import (
    bernoulli_nll_np,
    estimate_bounds,
    gaussian_kl_np,
    log_mean_exp,
)
from aigc_course.plotting import show_images

set_seed(0)
print(f"NumPy {np.__version__}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. A latent-variable model you can solve by hand
#
# A VAE's decoder is a neural network, and then nothing can be computed exactly. To
# *check* every formula of this notebook we first use a model in which everything can
# be: a **linear-Gaussian model** with a 2-D latent and 3-D data,
#
# $$
# p(z) = \mathcal N(0, I_2), \qquad p(x \mid z) = \mathcal N(Wz + b,\ \sigma^2 I_3).
# $$
#
# Its "decoder" is the linear map $z \mapsto Wz + b$ plus Gaussian noise. Two Gaussian
# facts give the rest. The **marginal likelihood** (边缘似然, also called the *evidence*)
# integrates $z$ out:
#
# $$
# p(x) = \int p(z)\, p(x \mid z)\, dz = \mathcal N\big(x;\ b,\ WW^\top + \sigma^2 I\big),
# $$
#
# and Bayes' rule gives a Gaussian posterior,
#
# $$
# p(z \mid x) = \mathcal N(m, S), \qquad
# S = \big(I + W^\top W / \sigma^2\big)^{-1}, \qquad m = S W^\top (x - b) / \sigma^2 .
# $$
#
# We check both: $p(x)$ against the Monte Carlo average $\frac1n \sum_i p(x \mid z_i)$ over
# prior samples $z_i \sim p(z)$, and $p(z \mid x)$ against Bayes' rule evaluated on a grid.

# %%
def log_normal(x, mean, cov):
    """log N(x; mean, cov) for a full covariance matrix, over the last axis of x."""
    d = np.atleast_2d(x - mean)
    _, logdet = np.linalg.slogdet(cov)
    maha = np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d)
    return -0.5 * (maha + logdet + cov.shape[0] * np.log(2 * np.pi))


W = np.array([[1.0, 0.8], [0.5, 0.7], [0.3, 0.1]])  # the decoder's weights, (D=3, d=2)
b = np.array([0.5, -0.2, 0.1])
SIGMA = 0.5  # the decoder's noise level
D, d = W.shape


def log_evidence(x):
    """log p(x), exact."""
    return log_normal(x, b, W @ W.T + SIGMA**2 * np.eye(D))


def posterior(x):
    """p(z|x) = N(m, S), exact."""
    S = np.linalg.inv(np.eye(d) + W.T @ W / SIGMA**2)
    return S @ W.T @ (x - b) / SIGMA**2, S


def log_lik(x, z):
    """log p(x|z) for each row z (n, d)."""
    return log_normal(x, z @ W.T + b, SIGMA**2 * np.eye(D))


rng = np.random.default_rng(0)
# one observation
x_obs = W @ np.array([1.0, -0.5]) + b + SIGMA * rng.standard_normal(D)
z_prior = rng.standard_normal((pick(full=2_000_000, fast=400_000), d))
mc = log_mean_exp(log_lik(x_obs, z_prior))
print(
    f"log p(x): exact {log_evidence(x_obs)[0]:.4f}, Monte Carlo over the prior {mc:.4f}"
)
assert abs(mc - log_evidence(x_obs)[0]) < 0.01

# the posterior on a grid: p(z|x) is proportional to p(z) p(x|z)
g = np.linspace(-4, 4, 401)
Z = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, d)
w_grid = np.exp(log_normal(Z, np.zeros(d), np.eye(d)) + log_lik(x_obs, Z))
w_grid /= w_grid.sum()
grid_mean = w_grid @ Z
grid_cov = (Z - grid_mean).T @ ((Z - grid_mean) * w_grid[:, None])
m_exact, S_exact = posterior(x_obs)
print(f"posterior mean: exact {m_exact.round(4)}, grid {grid_mean.round(4)}")
print(
    f"posterior covariance: exact {S_exact.ravel().round(4)}, grid {grid_cov.ravel().round(4)}"
)
assert np.allclose(m_exact, grid_mean, atol=1e-3) and np.allclose(
    S_exact, grid_cov, atol=1e-3
)
rho = S_exact[0, 1] / np.sqrt(S_exact[0, 0] * S_exact[1, 1])
print(f"correlation of z1 and z2 under the posterior: {rho:.3f}")

# %% [markdown]
# Averaging $p(x \mid z)$ over the prior works here because $z$ has two dimensions. For
# an image model it fails: almost no $z$ drawn from the prior explains a given image, so
# the average is dominated by draws that never come. The posterior $p(z \mid x)$ says
# which codes matter, but computing it needs $p(x)$ itself. The VAE's way out is to
# *learn* an approximation $q_\phi(z \mid x)$, one network evaluation per $x$
# (**amortized inference**, 摊销推断), and to train both networks on a bound on
# $\log p(x)$ that needs only samples from $q$:
#
# ```{mermaid}
# flowchart LR
#     X["image x"] --> E["encoder q_φ(z | x)"]
#     E --> MS["μ(x), σ(x)"]
#     EPS["ε ~ N(0, I)"] --> Z["z = μ + σ ⊙ ε"]
#     MS --> Z
#     Z --> DEC["decoder p_θ(x | z)"]
#     DEC --> REC["reconstruction term: −log p_θ(x | z)"]
#     MS --> KL["KL term: KL(q_φ(z | x) ‖ N(0, I))"]
#     REC --> L["loss = −ELBO"]
#     KL --> L
#     L -- "one gradient step on φ and θ together" --> E
#     L --> DEC
# ```
#
# ## 2. The evidence lower bound
#
# Take *any* distribution $q(z \mid x)$. Because $\log p(x)$ does not depend on $z$ and
# $q$ integrates to one, and by Bayes' rule $p(x) = p(x, z) / p(z \mid x)$,
#
# $$
# \begin{aligned}
# \log p(x) &= \mathbb E_{q(z \mid x)}\big[\log p(x)\big]
#            = \mathbb E_{q}\Big[\log \frac{p(x, z)}{p(z \mid x)}\Big]
#            = \mathbb E_{q}\Big[\log \frac{p(x, z)}{q(z \mid x)}\,\frac{q(z \mid x)}{p(z \mid x)}\Big] \\
#           &= \underbrace{\mathbb E_{q}\Big[\log \frac{p(x, z)}{q(z \mid x)}\Big]}_{\text{ELBO}}
#            \;+\; \underbrace{\mathbb E_{q}\Big[\log \frac{q(z \mid x)}{p(z \mid x)}\Big]}_{\mathrm{KL}(q(z \mid x)\,\|\,p(z \mid x))\ \ge\ 0} .
# \end{aligned}
# $$
#
# The KL divergence is never negative, so the first term is a lower bound on the
# log-evidence: the **evidence lower bound** (ELBO, 证据下界). Splitting
# $p(x, z) = p(z)\, p(x \mid z)$ gives the form that a VAE computes:
#
# $$
# \text{ELBO}(x) = \underbrace{\mathbb E_{q(z \mid x)}\big[\log p(x \mid z)\big]}_{\text{reconstruction}}
#                 \;-\; \underbrace{\mathrm{KL}\big(q(z \mid x)\,\|\,p(z)\big)}_{\text{regulariser}} \;\le\; \log p(x).
# $$
#
# Two consequences. For fixed $\theta$, $\log p(x)$ is a constant, so raising the ELBO
# with respect to $q$ *is* lowering $\mathrm{KL}(q \,\|\, p(z \mid x))$: the encoder is
# pushed toward the true posterior. And the bound is tight exactly when $q = p(z \mid x)$.
#
# **Check it numerically.** For the linear-Gaussian model every term has a closed
# form. With $q = \mathcal N(\mu_q, \Sigma_q)$,
# $\mathbb E_q[\log p(x \mid z)] = -\tfrac{D}{2}\log(2\pi\sigma^2) - \tfrac{1}{2\sigma^2}\big(\lVert x - W\mu_q - b\rVert^2 + \operatorname{tr}(W \Sigma_q W^\top)\big)$,
# and the KL divergence between two Gaussians is
# $\mathrm{KL}(\mathcal N(\mu_1, \Sigma_1) \,\|\, \mathcal N(\mu_2, \Sigma_2)) = \tfrac12\big[\operatorname{tr}(\Sigma_2^{-1}\Sigma_1) + (\mu_2 - \mu_1)^\top \Sigma_2^{-1} (\mu_2 - \mu_1) - d + \log\tfrac{\det \Sigma_2}{\det \Sigma_1}\big]$.
# We draw random $q$'s and check the identity, and the ELBO against a Monte Carlo
# estimate from samples of $q$.

# %%
def kl_gauss(mu1, cov1, mu2, cov2):
    """KL(N(mu1, cov1) || N(mu2, cov2)), full covariances."""
    inv2 = np.linalg.inv(cov2)
    diff = mu2 - mu1
    return 0.5 * (
        np.trace(inv2 @ cov1)
        + diff @ inv2 @ diff
        - len(mu1)
        + np.linalg.slogdet(cov2)[1]
        - np.linalg.slogdet(cov1)[1]
    )


def elbo_closed_form(x, mu_q, cov_q):
    resid = x - W @ mu_q - b
    expected_log_lik = -0.5 * D * np.log(2 * np.pi * SIGMA**2) - (
        resid @ resid + np.trace(W @ cov_q @ W.T)
    ) / (2 * SIGMA**2)
    return expected_log_lik - kl_gauss(mu_q, cov_q, np.zeros(d), np.eye(d))


def elbo_monte_carlo(x, mu_q, cov_q, n, rng):
    z = rng.multivariate_normal(mu_q, cov_q, size=n)
    log_w = (
        log_lik(x, z)
        + log_normal(z, np.zeros(d), np.eye(d))
        - log_normal(z, mu_q, cov_q)
    )
    return log_w.mean(), log_w.std() / np.sqrt(n)


log_px = log_evidence(x_obs)[0]
rng = np.random.default_rng(1)
print(f"log p(x) = {log_px:.6f}")
for trial in range(4):
    mu_q = rng.normal(size=d)
    A = rng.normal(size=(d, d))
    cov_q = A @ A.T + 0.1 * np.eye(d)
    elbo = elbo_closed_form(x_obs, mu_q, cov_q)
    gap = kl_gauss(mu_q, cov_q, m_exact, S_exact)
    mc, se = elbo_monte_carlo(x_obs, mu_q, cov_q, pick(full=400_000, fast=100_000), rng)
    print(
        f"random q {trial}: ELBO = {elbo:9.4f} (Monte Carlo {mc:9.4f} ± {se:.4f}), "
        f"KL(q || p(z|x)) = {gap:7.4f}, ELBO + KL = {elbo + gap:.6f}"
    )
    assert abs(elbo + gap - log_px) < 1e-10 and abs(mc - elbo) < 5 * se
print(f"q = exact posterior: ELBO = {elbo_closed_form(x_obs, m_exact, S_exact):.6f}")
assert abs(elbo_closed_form(x_obs, m_exact, S_exact) - log_px) < 1e-10

# %% [markdown]
# A VAE's encoder outputs a *diagonal* Gaussian, $q = \mathcal N(\mu, \operatorname{diag}(\sigma^2))$:
# one mean and one variance per latent dimension. Our posterior is correlated, so no
# diagonal $q$ can match it. The best one (the **mean-field** (平均场) solution, which
# minimises $\mathrm{KL}(q \,\|\, p)$ for a Gaussian $p$) keeps the posterior mean and
# takes variances $1 / (S^{-1})_{ii}$, the inverse of the diagonal of the posterior's
# precision matrix. The left plot shows both; the right one moves $q$'s mean along $z_1$:
# the ELBO never rises above $\log p(x)$, and the distance between them is exactly
# $\mathrm{KL}(q \,\|\, p(z \mid x))$.

# %%
precision = np.linalg.inv(S_exact)
cov_mf = np.diag(1.0 / np.diag(precision))  # the best diagonal q
gap_mf = kl_gauss(m_exact, cov_mf, m_exact, S_exact)
print(
    f"best diagonal q: ELBO = {elbo_closed_form(x_obs, m_exact, cov_mf):.4f}, "
    f"gap to log p(x) = {gap_mf:.4f} nats = -1/2 log(1 - rho^2) = {-0.5 * np.log(1 - rho**2):.4f}"
)
# no other diagonal q does better: perturb the mean and the variances
rng = np.random.default_rng(2)
for _ in range(200):
    mu_p = m_exact + 0.1 * rng.normal(size=d)
    cov_p = np.diag(np.diag(cov_mf) * np.exp(0.2 * rng.normal(size=d)))
    assert elbo_closed_form(x_obs, mu_p, cov_p) < elbo_closed_form(
        x_obs, m_exact, cov_mf
    )

fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
G1, G2 = np.meshgrid(
    np.linspace(-1.5, 2.5, 200), np.linspace(-2.5, 1.5, 200), indexing="ij"
)
pts = np.stack([G1, G2], -1).reshape(-1, 2)
for cov, color, name in [
    (S_exact, "black", "posterior p(z|x)"),
    (cov_mf, "tab:red", "best diagonal q"),
]:
    dens = np.exp(log_normal(pts, m_exact, cov)).reshape(G1.shape)
    axes[0].contour(G1, G2, dens, levels=4, colors=color)
    axes[0].plot([], [], color=color, label=name)
axes[0].set_title("A diagonal Gaussian cannot match a correlated posterior")
axes[0].set_xlabel("$z_1$")
axes[0].set_ylabel("$z_2$")
axes[0].set_aspect("equal")
axes[0].legend(loc="lower left")

shifts = np.linspace(-1.5, 1.5, 121)
elbos = np.array(
    [elbo_closed_form(x_obs, m_exact + np.array([s, 0.0]), cov_mf) for s in shifts]
)
axes[1].axhline(log_px, color="black", label=r"$\log p(x)$")
axes[1].plot(shifts, elbos, color="tab:red", label="ELBO of the diagonal q")
axes[1].fill_between(
    shifts,
    elbos,
    log_px,
    color="tab:red",
    alpha=0.15,
    label=r"gap $= \mathrm{KL}(q \,\|\, p(z|x))$",
)
axes[1].set_title("ELBO as q's mean moves along $z_1$")
axes[1].set_xlabel(r"shift of $q$'s mean from the posterior mean")
axes[1].set_ylabel("nats")
axes[1].legend(loc="lower center")
plt.show()

# %% [markdown]
# ## 3. The KL term in closed form
#
# The VAE's prior is $\mathcal N(0, I)$ and its $q$ is a diagonal Gaussian, so the KL
# term splits into one term per latent dimension. For one dimension,
# $q = \mathcal N(\mu, \sigma^2)$ and $p = \mathcal N(0, 1)$:
#
# $$
# \begin{aligned}
# \mathrm{KL}(q \,\|\, p) &= \mathbb E_q\big[\log q(z) - \log p(z)\big]
#   = \mathbb E_q\Big[-\tfrac12 \log(2\pi\sigma^2) - \tfrac{(z-\mu)^2}{2\sigma^2}
#     + \tfrac12 \log(2\pi) + \tfrac{z^2}{2}\Big] \\
#   &= -\tfrac12 \log \sigma^2 - \tfrac12 + \tfrac12(\mu^2 + \sigma^2),
# \end{aligned}
# $$
#
# using $\mathbb E_q[(z-\mu)^2] = \sigma^2$ and $\mathbb E_q[z^2] = \mu^2 + \sigma^2$. Summed over
# the dimensions, and written with $\log\sigma^2$, the encoder's actual output:
#
# $$
# \mathrm{KL}\big(q(z \mid x) \,\|\, \mathcal N(0, I)\big)
#   = -\tfrac12 \sum_j \big(1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2\big).
# $$
#
# It is zero only for $\mu = 0, \sigma = 1$; it charges for moving codes away from the
# origin ($\mu^2$) and for making them too precise ($-\log\sigma^2$). The check:
# `aigc_course.likelihood.gaussian_kl_np` (the formula that both frameworks' VAEs use)
# against a Monte Carlo average of $\log q(z) - \log p(z)$, and against the general
# formula of section 2.

# %%
rng = np.random.default_rng(3)
n_mc = pick(full=1_000_000, fast=200_000)
print(f"{'mu':>16} {'log sigma^2':>18} {'closed form':>12} {'Monte Carlo':>18}")
for mu, logvar in [
    ([0.0], [0.0]),
    ([1.0], [0.0]),
    ([0.0], [np.log(4.0)]),
    ([0.5, -2.0, 0.1], [-3.0, 0.5, -0.2]),
]:
    mu, logvar = np.array(mu), np.array(logvar)
    closed = gaussian_kl_np(mu, logvar)
    z = mu + np.exp(0.5 * logvar) * rng.standard_normal((n_mc, len(mu)))
    log_q = -0.5 * (((z - mu) ** 2) / np.exp(logvar) + logvar + np.log(2 * np.pi)).sum(
        1
    )
    log_p = -0.5 * (z**2 + np.log(2 * np.pi)).sum(1)
    mc, se = (log_q - log_p).mean(), (log_q - log_p).std() / np.sqrt(n_mc)
    general = kl_gauss(mu, np.diag(np.exp(logvar)), np.zeros(len(mu)), np.eye(len(mu)))
    print(
        f"{str(mu):>16} {str(logvar.round(3)):>18} {closed:12.5f} {mc:10.5f} ± {se:.5f}"
    )
    assert abs(closed - mc) < 5 * se + 1e-12 and abs(closed - general) < 1e-12

# %% [markdown]
# ## 4. The reparameterization trick
#
# The ELBO's first term, $\mathbb E_{q_\phi(z \mid x)}[\log p_\theta(x \mid z)]$, is an
# expectation over a distribution that depends on the encoder's parameters $\phi$. We
# estimate it with samples, and we need its gradient with respect to $\phi$. A sample is
# the output of a random number generator, so "how does $z$ change when $\mu$ changes?"
# has no answer: frameworks record no gradient through a sampling operation.
#
# Strip the problem to one dimension: $z \sim \mathcal N(\mu, \sigma^2)$ and
# $f(z) = (z - 2)^2$, whose expectation $\mathbb E[f(z)] = (\mu - 2)^2 + \sigma^2$ has the gradient
# $\partial / \partial \mu = 2(\mu - 2)$. First estimate $\mathbb E[f]$ on a grid of $\mu$
# values, drawing fresh samples at each $\mu$ (what `sample()` does), and then with the
# *same* standard-normal numbers $\varepsilon$ at every $\mu$, writing the sample as
#
# $$
# z = \mu + \sigma\,\varepsilon, \qquad \varepsilon \sim \mathcal N(0, 1).
# $$

# %%
def f(z):
    return (z - 2.0) ** 2


def f_prime(z):
    return 2.0 * (z - 2.0)


SIG, N_EST = 1.0, 100
mus = np.linspace(-1.0, 1.0, 201)
rng = np.random.default_rng(4)
# new samples per mu
fresh = np.array([f(rng.normal(mu, SIG, N_EST)).mean() for mu in mus])
eps = rng.standard_normal(N_EST)
reparam = np.array([f(mu + SIG * eps).mean() for mu in mus])  # one fixed eps

h = mus[1] - mus[0]
i0 = np.argmin(np.abs(mus))  # mu = 0
print(
    f"d E[f] / d mu at mu = 0: exact {2 * (0 - 2):.3f}; finite difference on the "
    f"fresh-sample curve {(fresh[i0 + 1] - fresh[i0 - 1]) / (2 * h):.1f}; on the "
    f"reparameterized curve {(reparam[i0 + 1] - reparam[i0 - 1]) / (2 * h):.3f}; "
    f"mean of f'(mu + sigma eps) {f_prime(0 + SIG * eps).mean():.3f}"
)

fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(
    mus,
    (mus - 2) ** 2 + SIG**2,
    color="black",
    lw=2,
    label=r"exact $(\mu - 2)^2 + \sigma^2$",
)
ax.plot(
    mus, fresh, color="tab:orange", alpha=0.8, label="fresh samples at every $\\mu$"
)
ax.plot(
    mus,
    reparam,
    color="tab:blue",
    lw=2,
    ls="--",
    label=r"$z = \mu + \sigma\varepsilon$, $\varepsilon$ fixed",
)
ax.set_title(f"Monte Carlo estimates of E[f(z)] ({N_EST} samples each)")
ax.set_xlabel(r"$\mu$")
ax.set_ylabel(r"estimate of $\mathbb{E}[f(z)]$")
ax.legend()
plt.show()

# %% [markdown]
# With fresh samples the estimate is a jagged function of $\mu$: its slope between
# neighbouring grid points is noise. With $\varepsilon$ held fixed, $z$ is an ordinary,
# differentiable function of $\mu$ and $\sigma$, the estimate is smooth, and its derivative
# is the average of $f'(\mu + \sigma\varepsilon)$: an unbiased estimate of the true
# gradient, which backpropagation computes. That is the **reparameterization trick**
# (重参数化技巧) {cite}`kingma2013vae`: move the randomness into an input $\varepsilon$ that
# does not depend on the parameters. In a VAE, $\mu$ and $\log\sigma^2$ are the encoder's
# outputs, $z = \mu_\phi(x) + \sigma_\phi(x) \odot \varepsilon$, and
# $\partial z / \partial \mu = 1$, $\partial z / \partial \log\sigma^2 = \tfrac12 \sigma\varepsilon$.
#
# There is another unbiased estimator that needs no derivative of $f$ at all, the
# **score-function estimator** (得分函数估计器, also called REINFORCE), from
# $\nabla_\mu q = q\, \nabla_\mu \log q$:
#
# $$
# \frac{\partial}{\partial\mu}\mathbb E_{q}[f(z)] = \mathbb E_{q}\Big[f(z)\,\frac{\partial \log q(z)}{\partial \mu}\Big]
#   = \mathbb E_{q}\Big[f(z)\,\frac{z - \mu}{\sigma^2}\Big],
# \qquad\text{versus}\qquad
# \frac{\partial}{\partial\mu}\mathbb E_{q}[f(z)] = \mathbb E_{\varepsilon}\big[f'(\mu + \sigma\varepsilon)\big].
# $$
#
# Both are right on average; what differs is their **variance**, which decides how
# noisy each gradient step is. We compare single-sample estimates.

# %%
rng = np.random.default_rng(5)
n_g = pick(full=2_000_000, fast=400_000)
sigmas = np.geomspace(0.05, 3.0, 12)
var_score, var_reparam = [], []
for s in sigmas:
    e = rng.standard_normal(n_g)
    z = 0.0 + s * e  # mu = 0
    g_score = f(z) * (z - 0.0) / s**2
    g_reparam = f_prime(z)
    # both unbiased: mean = 2 (mu - 2) = -4
    for g_hat in (g_score, g_reparam):
        assert abs(g_hat.mean() - (-4.0)) < 5 * g_hat.std() / np.sqrt(n_g)
    var_score.append(g_score.var())
    var_reparam.append(g_reparam.var())
var_score, var_reparam = np.array(var_score), np.array(var_reparam)
# Var f'(z) = Var 2(z - 2) = 4 sigma^2
assert np.allclose(var_reparam, 4 * sigmas**2, rtol=0.02)
assert np.all(var_score > var_reparam)
for s, vs, vr in zip(sigmas[::3], var_score[::3], var_reparam[::3]):
    print(
        f"sigma = {s:5.2f}: variance of the single-sample gradient, score function {vs:10.1f}, "
        f"reparameterized {vr:7.3f} (ratio {vs / vr:,.0f})"
    )

fig, ax = plt.subplots(figsize=(7, 4))
ax.loglog(sigmas, var_score, "o-", label="score function (REINFORCE)")
ax.loglog(sigmas, var_reparam, "s-", label=r"reparameterized, $= 4\sigma^2$")
ax.set_title(
    r"Variance of one-sample estimates of $\partial_\mu \mathbb{E}[(z-2)^2]$ at $\mu = 0$"
)
ax.set_xlabel(r"$\sigma$ of $q$")
ax.set_ylabel("variance")
ax.legend()
plt.show()

# %% [markdown]
# The score-function estimator is noisier at every $\sigma$, and as $q$ becomes precise
# ($\sigma \to 0$, which is what a trained encoder does) its variance grows like
# $1/\sigma^2$ while the reparameterized one shrinks like $\sigma^2$. It only knows $f$ at
# the samples and learns the slope from how $f$ co-varies with the noise; the
# reparameterized estimator reads the slope $f'$ directly. (Exercise
# {ref}`vae-concepts-ex-baseline` makes the score function better with a baseline.)
# The score function remains the tool for discrete latents, where $f'$ does not exist.
#
# ## 5. The reconstruction term: BCE or MSE?
#
# $\log p_\theta(x \mid z)$ is a log-likelihood, so the "reconstruction loss" is a choice of
# **distribution** for the pixels, not of a distance:
#
# * **Bernoulli** pixels, $x_j \in \{0, 1\}$ with $p(x_j = 1 \mid z) = \hat x_j$:
#   $-\log p(x \mid z) = -\sum_j \big[x_j \log \hat x_j + (1 - x_j)\log(1 - \hat x_j)\big]$,
#   the **binary cross-entropy** (BCE, 二元交叉熵) summed over pixels.
# * **Gaussian** pixels, $p(x \mid z) = \mathcal N(x;\ \hat x,\ \sigma^2 I)$:
#   $-\log p(x \mid z) = \frac{1}{2\sigma^2}\lVert x - \hat x\rVert^2 + \frac{D}{2}\log(2\pi\sigma^2)$.
#
# So a loss written as $w \cdot \lVert x - \hat x\rVert^2 + \mathrm{KL}$ is the negative ELBO of
# a Gaussian decoder with $\sigma^2 = 1/(2w)$: **the weight on the squared error is a
# statement about the pixel noise.** Check both likelihoods against their densities:

# %%
rng = np.random.default_rng(6)
x_bin = (rng.random((3, 784)) < 0.3).astype(float)
logits = rng.normal(size=(3, 784))
p_hat = 1 / (1 + np.exp(-logits))
# -log of the Bernoulli pmf
direct = -np.log(np.where(x_bin == 1, p_hat, 1 - p_hat)).sum(1)
print(
    "Bernoulli: BCE summed over pixels",
    bernoulli_nll_np(logits, x_bin).round(4),
    "= -log p(x|z)",
    direct.round(4),
)
assert np.allclose(bernoulli_nll_np(logits, x_bin), direct)

x_grey, x_hat = rng.random((3, 784)), rng.random((3, 784))
for w in (1.0, 1 / 784):
    var = 1 / (2 * w)
    # -log N(x; x_hat, var I)
    gauss_nll = -log_normal(x_grey, x_hat, var * np.eye(784))
    weighted = w * ((x_grey - x_hat) ** 2).sum(1) + 0.5 * 784 * np.log(2 * np.pi * var)
    print(
        f"w = {w:.5f} (sigma^2 = {var:g}): -log N(x; x_hat, sigma^2 I) = {gauss_nll.round(3)}, "
        f"w * SSE + const = {weighted.round(3)}"
    )
    assert np.allclose(gauss_nll, weighted)

# %% [markdown]
# Pixel intensities lie in $[0, 1]$. Read the common loss weights as noise levels:
#
# | loss written in the code | weight $w$ on $\lVert x - \hat x\rVert^2$ | implied $\sigma^2$ | implied $\sigma$ |
# | --- | --- | --- | --- |
# | `sum((x - x_hat)**2)` + KL | 1 | 0.5 | 0.71 |
# | `mean((x - x_hat)**2)` + KL (mean over the 784 pixels) | 1/784 | 392 | 19.8 |
# | `784 * mean(...)`, or `sum(...) / (2 * 0.1**2)` | 1, 50 | 0.5, 0.01 | 0.71, 0.1 |
#
# A noise level of 19.8 on intensities between 0 and 1 says that *nothing* in the image
# is signal. The decoder believes it and the KL term wins: no code is worth its KL
# cost, and $q(z \mid x)$ falls back to the prior for every $x$. This is **posterior
# collapse** (后验坍塌). A noise level of 0.71 is milder, but it still declares most fine
# detail to be noise.
#
# For a *linear* decoder this can be computed exactly. With $p(x \mid z) = \mathcal N(Wz + b, \sigma^2 I)$
# and a Gaussian $q$, the encoder can represent the exact posterior (section 1), so the
# best ELBO equals the best likelihood, and that maximum is **probabilistic PCA** (概率主成分分析)
# {cite}`tipping1999ppca,lucas2019dontblame`: with $\lambda_1 \ge \lambda_2 \ge \dots$ the
# eigenvalues of the data covariance and $u_i$ its eigenvectors,
#
# $$
# W = \big[\,u_1 \sqrt{\max(\lambda_1 - \sigma^2, 0)},\ \dots,\ u_d \sqrt{\max(\lambda_d - \sigma^2, 0)}\,\big], \qquad b = \bar x .
# $$
#
# A latent dimension is used only if its direction has more variance than the noise:
# $\lambda_i > \sigma^2$. First a check that this $W$ maximises the log-likelihood
# $\ell(W) = -\frac N2\big[D\log 2\pi + \log\det C + \operatorname{tr}(C^{-1}\hat\Sigma)\big]$,
# $C = WW^\top + \sigma^2 I$, on synthetic data with one direction below the noise level:

# %%
def ppca_W(eigvals, eigvecs, noise_var, latent_dim):
    """Maximum-likelihood W of probabilistic PCA for a fixed noise variance."""
    scale = np.sqrt(np.maximum(eigvals[:latent_dim] - noise_var, 0.0))
    return eigvecs[:, :latent_dim] * scale


def ppca_log_lik(Wm, cov_data, noise_var, n):
    """l(W) = -n/2 [D log 2 pi + log det C + tr(C^-1 cov_data)], with C = W W^T + noise_var I."""
    C = Wm @ Wm.T + noise_var * np.eye(len(cov_data))
    return (
        -0.5
        * n
        * (
            len(C) * np.log(2 * np.pi)
            + np.linalg.slogdet(C)[1]
            + np.trace(np.linalg.solve(C, cov_data))
        )
    )


rng = np.random.default_rng(7)
# 5-D data, noise sigma^2 = 0.5
true_std = np.array([3.0, 2.0, 0.6, 0.3, 0.3])
data = (rng.standard_normal((5000, 5)) * true_std) @ np.linalg.qr(
    rng.normal(size=(5, 5))
)[0]
cov_data = np.cov(data.T, bias=True)
lam, U = np.linalg.eigh(cov_data)
lam, U = lam[::-1], U[:, ::-1]
W_ml = ppca_W(lam, U, 0.5, latent_dim=3)
best = ppca_log_lik(W_ml, cov_data, 0.5, len(data))
print(
    f"eigenvalues {lam.round(3)}; noise variance 0.5: columns in use "
    f"{np.linalg.norm(W_ml, axis=0).round(3)}"
)
worse = [
    ppca_log_lik(W_ml + 0.05 * rng.normal(size=W_ml.shape), cov_data, 0.5, len(data))
    for _ in range(200)
]
print(
    f"log-likelihood at W_ML {best:.2f}; best of 200 random perturbations {max(worse):.2f}"
)
assert max(worse) < best

# %% [markdown]
# Now MNIST. The eigenvalues of the pixel covariance say how many of 16 latent
# dimensions (the course VAE's size) a linear VAE would use for each of the loss weights
# in the table, and what its reconstructions look like.

# %%
train_x, train_y = load_mnist("train")
train_x, train_y = random_subset(
    pick(full=20_000, fast=5_000), train_x, train_y, seed=0
)
test_x, test_y = load_mnist("test")
X_tr = train_x.reshape(len(train_x), -1) / 255.0
X_te = test_x.reshape(len(test_x), -1)[:1000] / 255.0
x_bar = X_tr.mean(0)
lam_mnist, U_mnist = np.linalg.eigh(np.cov(X_tr.T, bias=True))
lam_mnist, U_mnist = lam_mnist[::-1], U_mnist[:, ::-1]
print(
    f"largest eigenvalues of the MNIST pixel covariance: {lam_mnist[:5].round(2)}; "
    f"16th: {lam_mnist[15]:.3f}; total variance: {lam_mnist.sum():.1f}"
)


def linear_vae(noise_var, latent_dim=16):
    """The ELBO-optimal linear VAE: W, and the posterior mean and variance as functions of x."""
    Wm = ppca_W(lam_mnist, U_mnist, noise_var, latent_dim)
    M = Wm.T @ Wm + noise_var * np.eye(latent_dim)
    post_mean = lambda x: np.linalg.solve(M, Wm.T @ (x - x_bar).T).T
    post_var = noise_var * np.diag(np.linalg.inv(M))  # diagonal here
    return Wm, post_mean, post_var


rows, names = [X_te[:8]], ["test digits"]
for var, name in [
    (392.0, "MSE mean (sigma^2 = 392)"),
    (0.5, "SSE (sigma^2 = 0.5)"),
    (0.01, "SSE / 0.02 (sigma^2 = 0.01)"),
]:
    Wm, post_mean, _ = linear_vae(var)
    active = int((np.linalg.norm(Wm, axis=0) > 0).sum())
    recon = post_mean(X_te) @ Wm.T + x_bar
    print(
        f"{name:>28}: {active:2d} of 16 latent dimensions in use "
        f"({(lam_mnist > var).sum():3d} of 784 directions above the noise level); "
        f"squared error {((recon - X_te) ** 2).sum(1).mean():5.2f}"
    )
    rows.append(np.clip(recon[:8], 0, 1))
    names.append(f"{name}: {active} dims")
assert int((np.linalg.norm(linear_vae(392.0)[0], axis=0) > 0).sum()) == 0

fig, axes = plt.subplots(len(rows), 1, figsize=(8, 1.3 * len(rows)))
for ax, r, name in zip(axes, rows, names):
    show_images(r.reshape(-1, 28, 28), nrow=8, ax=ax, title=name)
fig.suptitle("Linear VAEs at their optimum: reconstructions of test digits", y=1.02)
plt.show()

# %% [markdown]
# With the MSE *averaged* over pixels, no latent dimension survives: every image is
# reconstructed as the mean digit, the KL term is zero, and every sample has that same
# blur as its mean. Non-linear VAEs fail the same way: the labs train one with the
# reconstruction term averaged over pixels (BCE this time), and it collapses too. The
# remedies: sum over pixels and choose $\sigma$ knowingly (or learn it), or, for nearly
# binary images like MNIST, use a Bernoulli decoder and BCE summed over pixels, which is
# what the course's VAEs do on binarized digits.
# (BCE on grey levels in $[0, 1]$ is *not* a normalised likelihood for continuous
# pixels; the course binarizes to keep the ELBO a true bound.)
#
# ## 6. $\beta$-VAE
#
# The **$\beta$-VAE** {cite}`higgins2017betavae` multiplies the KL term by $\beta$:
#
# $$
# \mathcal L_\beta(x) = \mathbb E_{q}\big[\log p(x \mid z)\big] - \beta\, \mathrm{KL}\big(q(z \mid x) \,\|\, p(z)\big).
# $$
#
# For $\beta > 1$ it is a looser bound, $\mathcal L_\beta \le \text{ELBO} \le \log p(x)$; it buys
# codes closer to the prior (often more "disentangled", each dimension a separate
# factor) at the price of worse reconstructions. For $\beta < 1$ it is not a bound at all.
# With a Gaussian decoder, $\beta$ is the noise level again:
#
# $$
# -\frac{1}{2\sigma^2}\lVert x - \hat x\rVert^2 - \beta\,\mathrm{KL}
#   = \beta\Big[-\frac{1}{2\beta\sigma^2}\lVert x - \hat x\rVert^2 - \mathrm{KL}\Big],
# $$
#
# the ordinary ELBO (up to a constant) of a decoder with $\sigma^2_{\text{eff}} = \beta\sigma^2$,
# times $\beta$: the same optimum. So the linear VAE tells us the trade-off exactly. At its
# optimum, dimension $i$'s posterior is $\mathcal N\big(\tfrac{\sqrt{\lambda_i - \sigma^2_{\text{eff}}}}{\lambda_i} u_i^\top (x - \bar x),\ \tfrac{\sigma^2_{\text{eff}}}{\lambda_i}\big)$,
# and averaging the KL formula of section 3 over the data gives
# $\mathbb E_x[\mathrm{KL}] = \tfrac12 \sum_{i:\, \lambda_i > \sigma^2_{\text{eff}}} \log(\lambda_i / \sigma^2_{\text{eff}})$.
# We check that against the KL of the actual posteriors of 1,000 test digits, and
# plot both terms as $\beta$ grows, for $\sigma^2 = 0.01$.

# %%
rng = np.random.default_rng(8)
sse, kl_terms, a_, b_ = rng.random(5) * 100, rng.random(5) * 10, 0.01, 4.0
lhs = -sse / (2 * a_) - b_ * kl_terms
rhs = b_ * (-sse / (2 * b_ * a_) - kl_terms)
# the beta <-> sigma^2 identity
assert np.allclose(lhs, rhs)

betas = np.geomspace(0.25, 1000, 25)
kl_mean, sse_mean, dims = [], [], []
for beta in betas:
    var_eff = beta * 0.01
    Wm, post_mean, post_var = linear_vae(var_eff)
    mu = post_mean(X_te)
    kl = gaussian_kl_np(mu, np.log(post_var)).mean()
    on = lam_mnist[:16] > var_eff
    formula = 0.5 * np.log(lam_mnist[:16][on] / var_eff).sum()
    # test set vs train statistics
    assert abs(kl - formula) < 0.05 * formula + 0.05, (beta, kl, formula)
    kl_mean.append(kl)
    # E_q ||x - W z - b||^2 = ||x - W mu - b||^2 + tr(W diag(post_var) W^T)
    sse_mean.append(
        ((mu @ Wm.T + x_bar - X_te) ** 2).sum(1).mean() + (Wm**2 * post_var).sum()
    )
    dims.append(int(on.sum()))
i1, i4 = np.argmin(np.abs(betas - 1)), np.argmin(np.abs(betas - 4))
print(
    f"beta ~ {betas[i1]:.2f}: KL {kl_mean[i1]:.1f} nats, squared error {sse_mean[i1]:.1f}, {dims[i1]} dims; "
    f"beta ~ {betas[i4]:.2f}: KL {kl_mean[i4]:.1f} nats, squared error {sse_mean[i4]:.1f}, {dims[i4]} dims"
)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].semilogx(betas, kl_mean, "o-", label="KL term (nats)")
axes[0].semilogx(
    betas,
    sse_mean,
    "s-",
    label=r"expected squared error $\mathbb{E}_q\|x - Wz - b\|^2$",
)
axes[0].set_title(r"$\beta$-VAE trade-off (linear VAE, $\sigma^2 = 0.01$)")
axes[0].set_xlabel(r"$\beta$")
axes[0].set_ylabel("per test image")
axes[0].legend(loc="upper center")
axes[1].semilogx(betas, dims, "o-", color="tab:green")
axes[1].set_title("Latent dimensions in use (of 16)")
axes[1].set_xlabel(r"$\beta$")
axes[1].set_ylabel("dimensions with $\\lambda_i > \\beta\\sigma^2$")
plt.show()

# %% [markdown]
# Raising $\beta$ first lowers the KL term smoothly: every code becomes less precise (its
# posterior variance $\sigma^2_{\text{eff}} / \lambda_i$ grows) at little cost in reconstruction.
# Further on, it switches latent dimensions off one at a time, smallest-variance
# directions first, and the reconstruction error climbs to that of the mean image. The labs compare $\beta = 1$
# and $\beta = 4$ on real (non-linear) VAEs.
#
# ## 7. A tighter bound: importance weighting
#
# The ELBO's gap is $\mathrm{KL}(q \,\|\, p(z \mid x))$, and section 2 showed that a
# diagonal $q$ cannot close it. The **importance-weighted bound** (重要性加权下界, the
# bound of the IWAE) {cite}`burda2016iwae` uses $k$ samples $z_1, \dots, z_k \sim q(z \mid x)$
# and their importance weights $w_i = p(x, z_i) / q(z_i \mid x)$:
#
# $$
# \mathcal L_k(x) = \mathbb E\Big[\log \frac1k \sum_{i=1}^k w_i\Big].
# $$
#
# Each $w_i$ has mean $\mathbb E_q[p(x, z)/q(z \mid x)] = \int p(x, z)\, dz = p(x)$, so by
# Jensen's inequality ($\log$ is concave) $\mathcal L_k \le \log \mathbb E[\frac1k\sum_i w_i] = \log p(x)$.
# For $k = 1$ it is the ELBO. And it improves with $k$: the average of $k + 1$ weights is
# the mean of the averages of its $k$-element subsets, and Jensen again gives
# $\mathcal L_k \le \mathcal L_{k+1}$. Altogether
#
# $$
# \text{ELBO} = \mathcal L_1 \le \mathcal L_k \le \mathcal L_{k+1} \le \log p(x), \qquad \mathcal L_k \to \log p(x) \text{ as } k \to \infty .
# $$
#
# The labs use `aigc_course.likelihood.estimate_bounds`, which computes the ELBO and
# $\mathcal L_k$ for any encoder and decoder given as two functions. Here we hand it the
# linear-Gaussian model with the best diagonal $q$ of section 2 and repeat each
# estimate on many copies of $x$ to get its expectation and standard error.

# %%
def q_stats(xb):
    """The encoder: the best diagonal q of section 2, as (mu, log sigma^2) for each row."""
    mus = np.array([posterior(xi)[0] for xi in xb])
    return mus, np.tile(np.log(np.diag(cov_mf)), (len(xb), 1))


def decoder_log_lik(x_rows, z_rows):
    """log p(x|z) for paired rows."""
    resid = x_rows - z_rows @ W.T - b
    return -0.5 * ((resid**2).sum(1) / SIGMA**2 + D * np.log(2 * np.pi * SIGMA**2))


copies = np.repeat(x_obs[None], pick(full=2000, fast=500), axis=0)
ks = pick(
    full=[1, 2, 5, 10, 50, 100, 500, 1000, 5000], fast=[1, 2, 5, 10, 50, 100, 500]
)
L_k, L_se = [], []
for k in ks:
    _, iwae = estimate_bounds(q_stats, decoder_log_lik, copies, k, latent_dim=d, seed=k)
    L_k.append(iwae.mean())
    L_se.append(iwae.std() / np.sqrt(len(iwae)))
L_k, L_se = np.array(L_k), np.array(L_se)
elbo_mf = elbo_closed_form(x_obs, m_exact, cov_mf)
for k, v, s in zip(ks, L_k, L_se):
    print(f"k = {k:5d}: L_k = {v:.4f} ± {s:.4f}")
print(f"ELBO (closed form) = {elbo_mf:.4f};  log p(x) = {log_px:.4f}")
assert abs(L_k[0] - elbo_mf) < 5 * L_se[0]  # L_1 is the ELBO
assert np.all(np.diff(L_k) > -3 * (L_se[1:] + L_se[:-1]))  # non-decreasing in k
assert np.all(L_k < log_px + 3 * L_se)  # never above log p(x)
assert log_px - L_k[-1] < 0.25 * (log_px - elbo_mf)  # most of the gap closed

fig, ax = plt.subplots(figsize=(7, 4))
ax.errorbar(
    ks, L_k, yerr=2 * L_se, fmt="o-", label=r"$\mathcal{L}_k$ (± 2 standard errors)"
)
ax.axhline(log_px, color="black", label=r"$\log p(x)$ (exact)")
ax.axhline(elbo_mf, color="tab:red", ls="--", label="ELBO (closed form)")
ax.set_xscale("log")
ax.set_title("The IWAE bound climbs from the ELBO to log p(x)")
ax.set_xlabel("number of importance samples k")
ax.set_ylabel("nats")
ax.legend()
plt.show()

# %% [markdown]
# For a trained VAE, $\log p(x)$ is unknown; $\mathcal L_k$ with large $k$ (the labs use up
# to 5,000) is then the standard estimate of it, reported in nats or in **bits per
# dimension** (每维比特数), $-\mathcal L_k / (784 \ln 2)$.
#
# ## 8. A VAE in NumPy, gradients by hand
#
# Everything above fits in a short NumPy program. The encoder and decoder are MLPs
# (`aigc_course.numpy_nn.MLP`: LeakyReLU hidden layers, its backward pass written out and
# tested) with 128 hidden units and a 16-dimensional latent, the labs' size. To keep
# NumPy training to seconds, the digits are shrunk to $14 \times 14$ by averaging
# $2 \times 2$ blocks, and binarized afresh at every step (each pixel is 1 with probability
# equal to its intensity). The loss is the negative ELBO with a Bernoulli decoder, and
# the backward pass goes through $z = \mu + \sigma\varepsilon$ by the chain rule:
#
# $$
# \frac{\partial L}{\partial \mu} = \frac{\partial L}{\partial z} + \beta\mu, \qquad
# \frac{\partial L}{\partial \log\sigma^2} = \frac{\partial L}{\partial z}\cdot\tfrac12\sigma\varepsilon
#   + \tfrac{\beta}{2}\big(\sigma^2 - 1\big),
# $$
#
# the first term of each from the reconstruction (through the sample), the second from
# the closed-form KL.

# %%
from aigc_course.numpy_nn import MLP, Adam, sigmoid, softplus


class NumpyVAE:
    """Encoder 196 -> hidden -> (mu, log sigma^2); decoder latent -> hidden -> 196 Bernoulli logits."""

    def __init__(self, latent_dim=16, hidden=128, beta=1.0, lr=2e-3, seed=0):
        self.rng = np.random.default_rng(seed)
        self.enc = MLP([196, hidden, 2 * latent_dim], self.rng)
        self.dec = MLP([latent_dim, hidden, 196], self.rng)
        self.latent_dim, self.beta = latent_dim, beta
        self.opt_enc = Adam(self.enc.params, lr, betas=(0.9, 0.999))
        self.opt_dec = Adam(self.dec.params, lr, betas=(0.9, 0.999))

    def loss_and_grads(self, x_in, x, eps):
        """-ELBO per example (mean over the batch), its two parts, and the gradients
        for the encoder's and the decoder's parameters. The encoder reads ``x_in``;
        the reconstruction is scored against ``x`` (for a VAE, x_in is x)."""
        n, k = len(x), self.latent_dim
        h, cache_enc = self.enc.forward(x_in)
        mu, logvar = h[:, :k], h[:, k:]
        sigma = np.exp(0.5 * logvar)
        z = mu + sigma * eps  # reparameterization
        logits, cache_dec = self.dec.forward(z)
        # Bernoulli: BCE summed over pixels
        recon = (softplus(logits) - logits * x).sum(1)
        # closed form, section 3
        kl = 0.5 * (mu**2 + sigma**2 - 1 - logvar).sum(1)
        loss = (recon + self.beta * kl).mean()
        # backward: decoder, then through z = mu + sigma * eps into the encoder
        grads_dec, dz = self.dec.backward(cache_dec, (sigmoid(logits) - x) / n)
        dmu = dz + self.beta * mu / n
        dlogvar = dz * 0.5 * sigma * eps + self.beta * 0.5 * (sigma**2 - 1) / n
        grads_enc, _ = self.enc.backward(
            cache_enc, np.concatenate([dmu, dlogvar], axis=1)
        )
        return loss, recon.mean(), kl.mean(), grads_enc, grads_dec

    def train_step(self, x, update=("enc", "dec"), encoder_input=None):
        x = (self.rng.random(x.shape) < x).astype(float)  # dynamic binarization
        eps = self.rng.standard_normal((len(x), self.latent_dim))
        x_in = x if encoder_input is None else encoder_input(x)
        loss, recon, kl, grads_enc, grads_dec = self.loss_and_grads(x_in, x, eps)
        if "enc" in update:
            self.opt_enc.step(grads_enc)
        if "dec" in update:
            self.opt_dec.step(grads_dec)
        return loss, recon, kl

    def posterior(self, x):
        h = self.enc.forward(x)[0]
        return h[:, : self.latent_dim], h[:, self.latent_dim :]  # (mu, log sigma^2)

    def decode(self, z):
        return sigmoid(self.dec.forward(z)[0])  # pixel probabilities

    def sample(self, n, seed=0):
        return self.decode(
            np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        )


def shrink(images):
    """(N, 28, 28) uint8 -> (N, 196) intensities in [0, 1], averaging 2 x 2 blocks."""
    return (
        images.reshape(len(images), 14, 2, 14, 2)
        .mean(axis=(2, 4))
        .reshape(len(images), -1)
        / 255.0
    )


small_train, small_test = shrink(train_x), shrink(test_x[:1000])
print(f"training images: {small_train.shape}, test images: {small_test.shape}")

# %% [markdown]
# Before training anything, check the hand-written gradients against central finite
# differences $\big(L(\vartheta + h) - L(\vartheta - h)\big)/2h$ on a few parameters of each network,
# with the noise $\varepsilon$ held fixed (the reparameterization is what makes the loss a
# smooth function of the parameters).

# %%
probe = NumpyVAE(latent_dim=3, hidden=16, seed=1)
xb = (np.random.default_rng(0).random((8, 196)) < small_train[:8]).astype(float)
eps = np.random.default_rng(1).standard_normal((8, 3))
_, _, _, g_enc, g_dec = probe.loss_and_grads(xb, xb, eps)
worst = 0.0
for net, grads in ((probe.enc, g_enc), (probe.dec, g_dec)):
    for p, g in zip(net.params, grads):
        for idx in zip(*[np.random.default_rng(2).integers(0, s, 3) for s in p.shape]):
            old = p[idx]
            p[idx] = old + 1e-6
            up = probe.loss_and_grads(xb, xb, eps)[0]
            p[idx] = old - 1e-6
            down = probe.loss_and_grads(xb, xb, eps)[0]
            p[idx] = old
            worst = max(
                worst, abs((up - down) / 2e-6 - g[idx]) / max(1e-3, abs(g[idx]))
            )
print(f"largest relative error, backprop vs finite differences: {worst:.1e}")
assert worst < 1e-4

# %% [markdown]
# Now train. One step draws a batch, computes the loss and **both** networks'
# gradients in one backward pass, and updates both.

# %%
STEPS = pick(full=6000, fast=1000)
BATCH = 100


def train(model, steps=STEPS, **step_kwargs):
    """Train on random batches; return the per-step (loss, recon, kl) as an array."""
    rng = np.random.default_rng(123)
    return np.array(
        [
            model.train_step(
                small_train[rng.integers(0, len(small_train), BATCH)], **step_kwargs
            )
            for _ in range(steps)
        ]
    )


vae = NumpyVAE(seed=0)
log_vae = train(vae)
last = log_vae[-100:].mean(0)
print(
    f"after {STEPS} steps: -ELBO {last[0]:.1f} = reconstruction {last[1]:.1f} + KL {last[2]:.1f} nats "
    f"(means of the last 100 steps)"
)
mu_test = vae.posterior(small_test)[0]
show_images(
    np.concatenate([small_test[:8], vae.decode(mu_test[:8]), vae.sample(16)]).reshape(
        -1, 14, 14
    ),
    nrow=8,
    figsize=6,
    title="test digits / their reconstructions / samples from z ~ N(0, I)",
)
plt.show()

# %% [markdown]
# Blurry but recognisable digits, from a few hundred lines of NumPy counting the
# MLP. The labs train the same kind of model on full-size digits, look at its latent
# space and measure its likelihood.
#
# ## 9. What goes wrong in common tutorial code
#
# Three mistakes, each run with the NumPy VAE. Pitfalls 1 and 3 are the source articles'
# (the VAE of article 003's programming exercise has no KL term; article 001 trains the
# encoder and the decoder alternately, see the {doc}`../../book/errata`); pitfall 2 is a
# mistake of tutorial code in general.
#
# (vae-concepts-pitfall-no-kl)=
# **Pitfall 1: a "VAE" without the KL term.** Drop the KL term from the loss ($\beta = 0$) and
# keep everything else, the sampling layer included. Nothing ties the codes to the prior
# any more: the model is an ordinary **autoencoder** (自编码器), free to put its codes
# anywhere. It reconstructs well, but $\mathcal N(0, I)$ is no longer where its codes are,
# so decoding draws from it means decoding codes the decoder never saw: the latent space
# has *holes*. To measure how digit-like samples are, we use the distance (in pixels) from
# each sample to the closest training digit, next to the same distance for real test digits.

# %%
ae = NumpyVAE(beta=0.0, seed=0)
log_ae = train(ae)


def distance_to_closest_training_digit(images):
    """Median over images of the Euclidean distance to the nearest training image."""
    sq = (
        (images**2).sum(1)[:, None]
        - 2 * images @ small_train.T
        + (small_train**2).sum(1)[None]
    )
    return float(np.median(np.sqrt(np.maximum(sq.min(1), 0.0))))


real = distance_to_closest_training_digit(small_test[:500])
print(f"test digits: distance to the closest training digit {real:.2f}")
dist = {}
for name, model, log in (("VAE", vae, log_vae), ("no KL term", ae, log_ae)):
    mu, logvar = model.posterior(small_test)
    dist[name] = distance_to_closest_training_digit(model.sample(500))
    print(
        f"{name:>10}: reconstruction {log[-100:, 1].mean():5.1f} nats; KL(q(z|x) || N(0, I)) "
        f"{gaussian_kl_np(mu, logvar).mean():6.1f} nats; mean log sigma^2 {logvar.mean():6.2f}; "
        f"samples' distance to the closest training digit {dist[name]:.2f}"
    )
assert (
    log_ae[-100:, 1].mean() < log_vae[-100:, 1].mean()
    and dist["no KL term"] > dist["VAE"]
)

fig, axes = plt.subplots(1, 2, figsize=(10, 5))
show_images(
    vae.sample(64).reshape(-1, 14, 14), nrow=8, ax=axes[0], title="VAE: z ~ N(0, I)"
)
show_images(
    ae.sample(64).reshape(-1, 14, 14),
    nrow=8,
    ax=axes[1],
    title="no KL term: z ~ N(0, I)",
)
fig.suptitle("Pitfall 1: without the KL term it is just an autoencoder")
plt.show()

# %% [markdown]
# Without the KL term the reconstruction term is lower: the model spends nothing on
# keeping its codes near the prior. The printed KL divergence between its $q(z \mid x)$ and
# $\mathcal N(0, I)$ shows how far its codes have gone (its noise has also shrunk, the very
# negative $\log\sigma^2$: a deterministic autoencoder). Its samples are not digits: they
# are farther from every training digit than the VAE's samples are. The fix is the KL term,
# which is half of the ELBO, not an optional regulariser.
#
# (vae-concepts-pitfall-circular)=
# **Pitfall 2: an encoder that reads the decoder's output.** Tutorial code sometimes wires
# the encoder to the *decoded* image: noise goes through the decoder, the encoder reads its
# output, and the reconstruction is compared with $x$. (The source articles' exercise VAE
# has different bugs, run in {doc}`vae_keras`, section 11.) The data never enters the forward
# pass, so $q$ cannot depend on $x$: whatever the weights, every image gets the same
# "reconstruction".

# %%
circular = NumpyVAE(seed=0)
noise_rng = np.random.default_rng(7)


def decoded_noise(x):
    """BUG: the encoder's input is the decoder's output for random codes, not the image x."""
    return circular.decode(noise_rng.standard_normal((len(x), circular.latent_dim)))


def circular_reconstruction(x, seed=0):
    global noise_rng
    noise_rng = np.random.default_rng(seed)
    return circular.decode(circular.posterior(decoded_noise(x))[0])


log_circ = train(circular, steps=pick(full=2000, fast=400), encoder_input=decoded_noise)
same = np.array_equal(
    circular_reconstruction(small_test[:1]), circular_reconstruction(small_test[1:2])
)
print("the same 'reconstruction' for two different digits:", same)
assert same
# the best that a model which ignores x can do: predict every pixel's mean intensity
p_mean = np.clip(small_train.mean(0), 1e-6, 1 - 1e-6)
floor = (
    -(small_train * np.log(p_mean) + (1 - small_train) * np.log(1 - p_mean))
    .sum(1)
    .mean()
)
print(
    f"reconstruction term: circular model {log_circ[-100:, 1].mean():.1f} nats (it cannot go below "
    f"{floor:.1f}, the mean image's); the VAE {log_vae[-100:, 1].mean():.1f}"
)
show_images(
    np.concatenate(
        [
            small_test[:8],
            vae.decode(mu_test[:8]),
            circular_reconstruction(small_test[:8]),
        ]
    ).reshape(-1, 14, 14),
    nrow=8,
    figsize=6,
    title="test digits / VAE reconstructions / circular 'reconstructions'",
)
plt.show()

# %% [markdown]
# The circular model learns the only thing it can: average digits that do not depend on
# the input, at a reconstruction cost no better than predicting every pixel's mean. In
# a VAE the encoder reads the data, $q_\phi(z \mid x)$, and the decoder reads the
# encoder's sample.
#
# (vae-concepts-pitfall-alternate)=
# **Pitfall 3: "train the encoder and the decoder alternately".** A VAE is sometimes
# described as trained like a GAN, one network at a time. But there is no game: both
# networks *maximise the same objective*, the ELBO, and one backward pass gives the
# gradients of both (the decoder's gradient flows on into the encoder through $z$).
# Alternating throws half of each computed gradient away. Compare, for the same
# number of steps (each computes both gradients), updating both networks at every
# step with updating the encoder on even steps and the decoder on odd ones:

# %%
alternating = NumpyVAE(seed=0)
rng_alt = np.random.default_rng(123)  # the same batches as the VAE's
log_alt = np.array(
    [
        alternating.train_step(
            small_train[rng_alt.integers(0, len(small_train), BATCH)],
            update=("enc",) if t % 2 == 0 else ("dec",),
        )
        for t in range(STEPS)
    ]
)


def smooth(v, w=50):
    return np.convolve(v, np.ones(w) / w, mode="valid")


fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(
    np.arange(len(smooth(log_vae[:, 0]))) + 50,
    smooth(log_vae[:, 0]),
    label="joint: both networks every step (a VAE)",
)
ax.plot(
    np.arange(len(smooth(log_alt[:, 0]))) + 50,
    smooth(log_alt[:, 0]),
    label="alternating: encoder, then decoder",
)
ax.set_title("-ELBO during training (moving average of 50 steps)")
ax.set_xlabel("step (one forward and backward pass each)")
ax.set_ylabel("-ELBO (nats per image)")
ax.set_ylim(top=100)
ax.legend()
plt.show()
print(
    f"-ELBO, mean of the last 100 steps: joint {log_vae[-100:, 0].mean():.1f}, "
    f"alternating {log_alt[-100:, 0].mean():.1f}"
)
assert log_vae[-100:, 0].mean() < log_alt[-100:, 0].mean()

# %% [markdown]
# Same computation, slower progress: the alternating run trails the joint one. The
# labs' `train_step` computes one loss, `recon + beta * kl`, and takes one optimizer
# step on all the parameters.
#
# ## Exercises
#
# :::{exercise}
# :label: vae-concepts-ex-kl
# Derive $\mathrm{KL}\big(\mathcal N(\mu_1, \sigma_1^2) \,\|\, \mathcal N(\mu_2, \sigma_2^2)\big)$ for
# one dimension, following section 3, and check your formula with `kl_gauss` and with
# a Monte Carlo estimate. Is it symmetric in the two distributions?
# :::
#
# :::{solution} vae-concepts-ex-kl
# :class: dropdown
# $\mathbb E_{q}\big[\log q - \log p\big] = \log\frac{\sigma_2}{\sigma_1} + \frac{\sigma_1^2 + (\mu_1 - \mu_2)^2}{2\sigma_2^2} - \frac12$,
# using $\mathbb E_q[(z - \mu_2)^2] = \sigma_1^2 + (\mu_1 - \mu_2)^2$. With $\mu_2 = 0, \sigma_2 = 1$ it is
# section 3's formula. It is not symmetric: for $\mathcal N(0, 1)$ and $\mathcal N(0, 4)$ the two
# orders give $\log 2 + \tfrac18 - \tfrac12 \approx 0.318$ and $-\log 2 + 2 - \tfrac12 \approx 0.807$.
# Check: `kl_gauss(np.zeros(1), np.eye(1), np.zeros(1), 4 * np.eye(1))`.
# :::
#
# :::{exercise}
# :label: vae-concepts-ex-baseline
# The score-function estimator stays unbiased if $f(z)$ is replaced by $f(z) - c$ for
# any constant $c$ (a **baseline**), because $\mathbb E_q[\partial_\mu \log q] = 0$. Use
# $c = \mathbb E[f(z)] = \mu^2 - 4\mu + 4 + \sigma^2$ in section 4's experiment. How much
# does the variance drop, and does it beat the reparameterized estimator?
# :::
#
# :::{solution} vae-concepts-ex-baseline
# :class: dropdown
# Replace `g_score = f(z) * (z - 0.0) / s**2` by `(f(z) - (4 + s**2)) * z / s**2` (at $\mu = 0$).
# With $z = \sigma\varepsilon$, $f(z) - c = \sigma^2(\varepsilon^2 - 1) - 4\sigma\varepsilon$, and the
# score is $\varepsilon / \sigma$, so the estimator is $\sigma(\varepsilon^3 - \varepsilon) - 4\varepsilon^2$. Its two
# terms are uncorrelated, with variances $\sigma^2(15 - 6 + 1) = 10\sigma^2$ and $16 \cdot 2 = 32$
# (from $\mathbb E[\varepsilon^4] = 3$, $\mathbb E[\varepsilon^6] = 15$): $10\sigma^2 + 32$ in all. The $1/\sigma^2$
# blow-up is gone, but it still exceeds the reparameterized $4\sigma^2$ at every
# $\sigma$, by at least 32. Baselines help a lot; they do not make the score function as
# good as a gradient that reads $f'$.
# :::
#
# :::{exercise}
# :label: vae-concepts-ex-iwae
# Section 7's $q$ could not be exact because the posterior is correlated. Make a model
# with a 1-D latent, `W = np.array([[1.0], [0.5], [0.3]])` and `D, d = W.shape` (then
# re-run the cells that define `log_evidence`, `posterior` and `log_lik`), and give
# `estimate_bounds` the exact posterior as $q$: a `q_stats` that returns, for each row,
# `posterior(xi)[0]` and `np.log(np.diag(posterior(xi)[1]))`. What are $\mathcal L_1$ and
# $\mathcal L_{100}$ now, and what is the standard error of each estimate? Why?
# :::
#
# :::{solution} vae-concepts-ex-iwae
# :class: dropdown
# With one latent dimension the posterior is a 1-D Gaussian, so the diagonal $q$
# can be exact. Then every importance weight equals $p(x, z)/p(z \mid x) = p(x)$, for
# every sample: $\mathcal L_k = \log p(x)$ for every $k$, with zero variance (up to
# rounding). A perfect encoder makes the bound tight and the estimator noiseless;
# the spread of the weights measures how far $q$ is from the posterior.
# :::
#
# :::{exercise}
# :label: vae-concepts-ex-sigma
# Instead of fixing $\sigma^2$, a Gaussian decoder can learn it. For fixed
# reconstructions, which $\sigma^2$ maximises
# $-\frac{1}{2\sigma^2}\sum_j (x_j - \hat x_j)^2 - \frac{D}{2}\log(2\pi\sigma^2)$? Use section
# 5's `linear_vae(0.01)` to compute it for the test digits, and count how many latent
# dimensions are in use at that noise level.
# :::
#
# :::{solution} vae-concepts-ex-sigma
# :class: dropdown
# Setting the derivative in $\sigma^2$ to zero gives $\sigma^2 = \frac1D \sum_j (x_j - \hat x_j)^2$,
# the mean squared error per pixel. With `Wm, post_mean, _ = linear_vae(0.01)` and
# `recon = post_mean(X_te) @ Wm.T + x_bar`, `((recon - X_te)**2).mean()` is about 0.03,
# far below 0.5 or 392: a decoder that learns its noise level keeps its latent
# dimensions (all 16 here). Learning $\sigma$ is the principled fix for pitfall-prone
# MSE weights.
# :::
#
# :::{exercise}
# :label: vae-concepts-ex-active
# A latent dimension is *active* if its KL term, averaged over the data, is not close to
# zero. For the NumPy VAE of section 8, compute
# `0.5 * (mu**2 + np.exp(logvar) - 1 - logvar).mean(0)` with
# `mu, logvar = vae.posterior(small_test)`: how many of the 16 dimensions carry more than
# 0.1 nats? Train `NumpyVAE(beta=4.0)` with `train` and count again. Compare with
# section 6.
# :::
#
# :::{solution} vae-concepts-ex-active
# :class: dropdown
# In a 1,000-step run (fast mode) all 16 dimensions of the $\beta = 1$ VAE carry more than
# 0.1 nats, while with $\beta = 4$ only one does: its total KL falls to below one nat
# and its reconstruction term rises from about 32 to about 49 nats. Quadrupling the
# price of information made most dimensions not worth using, as raising $\beta$ switches
# dimensions off in the linear VAE of section 6.
# :::
