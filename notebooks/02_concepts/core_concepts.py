# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Core concepts and how they connect
#
# Every model in this course, GAN, VAE or autoregressive, is an answer to the same
# question: *given examples $x_1, \dots, x_N$ drawn from an unknown distribution
# $p_{\text{data}}$, build a model $p_\theta$ from which we can draw new examples that
# look like them.* This chapter sets up the vocabulary for that question with models
# small enough to compute exactly, in NumPy, and checks every formula numerically.
# You will
#
# 1. fit a **generative model** (生成模型) and a **discriminative model** (判别模型) to
#    the same labelled 2-D data and see what each can and cannot do,
# 2. draw the training loop (data → model → loss → optimisation → feedback) and the
#    map of the three model families of chapters 3–5,
# 3. meet **latent variables** (潜变量) and **latent spaces** (潜在空间) in a model with
#    a 1-D latent,
# 4. derive why **maximum likelihood** (最大似然估计) minimises the KL divergence to the
#    data and check it on a die,
# 5. draw samples two ways: **ancestral sampling** (祖先采样) and **inverse-CDF sampling**
#    (逆变换采样).
#
# The generative model of section 1 is a **Gaussian mixture** (高斯混合模型) fitted with
# the **EM algorithm** (期望最大化算法) {cite}`dempster1977em`, implemented in
# `aigc_course.gmm`, a short NumPy module.

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
import math

import matplotlib.pyplot as plt
import numpy as np

from aigc_course import is_fast, pick, set_seed, show_source
from aigc_course.gmm import GaussianMixture, logsumexp
from aigc_course.numpy_nn import softmax
from aigc_course.text import sample_next

set_seed(0)
print(f"NumPy {np.__version__}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Generative and discriminative models
#
# Take labelled data: points $x \in \mathbb R^2$ with a class $y \in \{0, 1\}$.
#
# * A **discriminative** model learns $p(y \mid x)$ directly: given a point, which
#   class? It is a classifier, and nothing more: it never says which $x$ are likely.
# * A **generative** model learns how the data are *produced*, $p(x, y) = p(y)\,p(x \mid y)$.
#   From it we can **sample** new pairs $(x, y)$, evaluate the **density** $p(x)$ of any
#   point, and, by **Bayes' rule** (贝叶斯公式), also classify:
#
# $$
# p(y \mid x) = \frac{p(y)\, p(x \mid y)}{\sum_{y'} p(y')\, p(x \mid y')} .
# $$
#
# The data below come from a known distribution, so that we can compare both models
# with the truth. Each class is itself a mixture of two Gaussian "blobs", which makes
# the whole data-generating process a 4-component Gaussian mixture whose component
# determines the label: components 0 and 1 are class 0, components 2 and 3 class 1.

# %%
P_CLASS1 = 0.4
TRUE = GaussianMixture.from_params(
    weights=[
        0.6 * (1 - P_CLASS1),
        0.4 * (1 - P_CLASS1),
        0.5 * P_CLASS1,
        0.5 * P_CLASS1,
    ],
    means=[[-2.0, -2.0], [2.0, 2.0], [2.0, -1.5], [-1.5, 2.0]],
    covariances=[
        [[1.0, 0.5], [0.5, 1.0]],
        [[0.6, 0.0], [0.0, 0.6]],
        [[0.8, -0.3], [-0.3, 0.6]],
        [[0.7, 0.0], [0.0, 0.7]],
    ],
)


def labelled_data(n, seed):
    x, component = TRUE.sample(n, seed=seed)
    return x, (component >= 2).astype(np.int64)


N_TRAIN = 400
x_train, y_train = labelled_data(N_TRAIN, seed=0)
x_test, y_test = labelled_data(pick(full=20_000, fast=5_000), seed=1)
print(
    f"{len(x_train)} training points ({y_train.mean():.0%} in class 1), {len(x_test):,} test points"
)

COLORS = np.array(["tab:blue", "tab:orange"])
fig, ax = plt.subplots(figsize=(5, 5))
for c in (0, 1):
    ax.scatter(*x_train[y_train == c].T, s=8, color=COLORS[c], label=f"class {c}")
ax.set_title("Labelled training data")
ax.set_xlabel("$x_1$")
ax.set_ylabel("$x_2$")
ax.set_aspect("equal")
ax.legend()
plt.show()

# %% [markdown]
# ### The generative model: one Gaussian mixture per class
#
# For each class $c$ we fit a mixture of $K = 2$ Gaussians to the points of that class,
#
# $$
# p(x \mid y = c) = \sum_{k=1}^{K} \pi_{ck}\, \mathcal N(x \mid \mu_{ck}, \Sigma_{ck}),
# $$
#
# and estimate the class prior $p(y = c)$ by the fraction of training points in class $c$.
# The mixture is itself a latent-variable model: a hidden component $k$ is drawn first,
# then $x$ from that component's Gaussian. EM maximises the log-likelihood
# $\sum_i \log p(x_i)$ by alternating two steps:
#
# * **E-step**: with the current parameters, compute each point's *responsibilities* (响应度)
#   $r_{ik} = p(k \mid x_i) = \pi_k \mathcal N(x_i \mid \mu_k, \Sigma_k) / \sum_j \pi_j \mathcal N(x_i \mid \mu_j, \Sigma_j)$,
#   Bayes' rule again;
# * **M-step**: refit each Gaussian to all points, weighted by $r_{ik}$:
#   $N_k = \sum_i r_{ik}$, $\pi_k = N_k / N$, $\mu_k = \sum_i r_{ik} x_i / N_k$,
#   $\Sigma_k = \sum_i r_{ik} (x_i - \mu_k)(x_i - \mu_k)^\top / N_k$.
#
# In code:

# %%
show_source(GaussianMixture, start="# --- EM", end="# --- end EM")

# %% [markdown]
# EM needs no learning rate, and it comes with a guarantee: **no iteration decreases the
# log-likelihood** of the training data {cite}`dempster1977em` (it can still stop at a
# local maximum, which is why the initialisation has a seed). We record it at every
# iteration and assert it (up to floating-point rounding).

# %%
prior = np.array([np.mean(y_train == c) for c in (0, 1)])
class_gmms, histories = [], []
for c in (0, 1):
    gmm = GaussianMixture(n_components=2, seed=0)
    histories.append(gmm.fit(x_train[y_train == c], max_iter=200, tol=1e-8))
    class_gmms.append(gmm)
    steps = np.diff(histories[-1])
    assert steps.min() >= -1e-10, steps.min()
    print(
        f"class {c}: {len(steps)} EM iterations, mean log-likelihood "
        f"{histories[-1][0]:.4f} -> {histories[-1][-1]:.4f}; smallest change {steps.min():.1e}"
    )

fig, ax = plt.subplots(figsize=(6, 3.5))
for c, h in enumerate(histories):
    ax.plot(h, marker="o", ms=3, color=COLORS[c], label=f"class {c}")
ax.set_title("EM never decreases the log-likelihood")
ax.set_xlabel("EM iteration")
ax.set_ylabel("mean log-likelihood per point")
ax.legend()
plt.show()

# %% [markdown]
# Before trusting the fitted densities, check the formula behind `log_prob` once:
# the log-density of a mixture is $\log \sum_k \pi_k \mathcal N(x \mid \mu_k, \Sigma_k)$, and
# the 2-D Gaussian density is
# $\mathcal N(x \mid \mu, \Sigma) = \exp\!\big(-\tfrac12 (x - \mu)^\top \Sigma^{-1} (x - \mu)\big) / (2\pi \sqrt{\det \Sigma})$.
# Written out with an explicit inverse and determinant:

# %%
def mixture_density_by_hand(x, gmm):
    total = np.zeros(len(x))
    for w, mu, cov in zip(gmm.weights_, gmm.means_, gmm.covariances_):
        diff = x - mu
        maha = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
        total += w * np.exp(-0.5 * maha) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))
    return total


for c, gmm in enumerate(class_gmms):
    err = np.abs(
        np.exp(gmm.log_prob(x_test[:500])) - mixture_density_by_hand(x_test[:500], gmm)
    ).max()
    print(f"class {c}: max |exp(log_prob) - density by hand| = {err:.1e}")
    assert err < 1e-12

# %% [markdown]
# ### What only the generative model can do
#
# **Sample.** Draw a class from the prior, then a point from that class's mixture (which
# itself draws a component first, then a Gaussian point): *ancestral sampling*, made
# precise in section 5.
#
# **Evaluate densities.** $p(x) = \sum_c p(y = c)\, p(x \mid y = c)$ is a proper density:
# it integrates to 1, which we check with a Riemann sum on a grid.

# %%
def sample_joint(n, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prior[1]).astype(np.int64)  # y ~ p(y)
    x = np.empty((n, 2))
    for c in (0, 1):  # x ~ p(x | y)
        if (y == c).any():
            x[y == c] = class_gmms[c].sample(int((y == c).sum()), seed=seed + 1 + c)[0]
    return x, y


def log_p_x(x):
    """log p(x) = log sum_c p(c) p(x | c)."""
    return logsumexp(
        np.stack([np.log(prior[c]) + class_gmms[c].log_prob(x) for c in (0, 1)], 1),
        axis=1,
    )


LIM = 6.0
ticks = np.linspace(-LIM, LIM, 241)
g1, g2 = np.meshgrid(ticks, ticks)
grid = np.stack([g1.ravel(), g2.ravel()], axis=1)
cell = (ticks[1] - ticks[0]) ** 2
density = np.exp(log_p_x(grid)).reshape(g1.shape)
total = density.sum() * cell
print(f"integral of p(x) over [-{LIM:.0f}, {LIM:.0f}]^2 (Riemann sum): {total:.5f}")
assert abs(total - 1) < 0.01

x_new, y_new = sample_joint(N_TRAIN, seed=10)
fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharex=True, sharey=True)
for c in (0, 1):
    axes[0].scatter(*x_train[y_train == c].T, s=8, color=COLORS[c], alpha=0.4)
    axes[0].scatter(
        *x_new[y_new == c].T,
        s=12,
        marker="x",
        color=COLORS[c],
        label=f"generated, class {c}",
    )
axes[0].set_title(
    "New labelled points sampled from the model (x)\nover the training data (dots)"
)
axes[0].legend(loc="lower right")
cs = axes[1].contourf(g1, g2, density, levels=20, cmap="viridis")
fig.colorbar(cs, ax=axes[1], label="$p(x)$")
axes[1].set_title("The model's density $p(x)$")
for ax in axes:
    ax.set_xlabel("$x_1$")
    ax.set_aspect("equal")
axes[0].set_ylabel("$x_2$")
plt.show()

# %% [markdown]
# ### Classifying with Bayes' rule
#
# The generative model classifies too. We compute $p(y = 1 \mid x)$ in log space (a
# log-sum-exp in the denominator, so that tiny densities far from the data do not
# underflow to $0/0$), and check the formula two ways: it must agree with the
# responsibilities of a single 4-component mixture that holds both classes (summing the
# responsibilities of class 1's two components), and it must be *calibrated* on data
# drawn from the model itself: among sampled points with $p(y = 1 \mid x) \approx q$, a
# fraction $\approx q$ must be in class 1.

# %%
def generative_posterior(x):
    """p(y = 1 | x) by Bayes' rule, in log space."""
    log_joint = np.stack(
        [np.log(prior[c]) + class_gmms[c].log_prob(x) for c in (0, 1)], axis=1
    )
    return np.exp(log_joint[:, 1] - logsumexp(log_joint, axis=1))


# check 1: the same posterior from one mixture holding all 4 components
joint_gmm = GaussianMixture.from_params(
    np.concatenate([prior[c] * class_gmms[c].weights_ for c in (0, 1)]),
    np.concatenate([g.means_ for g in class_gmms]),
    np.concatenate([g.covariances_ for g in class_gmms]),
)
err = np.abs(
    joint_gmm.predict_proba(x_test)[:, 2:].sum(1) - generative_posterior(x_test)
).max()
print(
    f"Bayes' rule vs responsibilities of the 4-component mixture: max difference {err:.1e}"
)
assert err < 1e-12

# check 2: calibration on points sampled from the model
x_cal, y_cal = sample_joint(pick(full=100_000, fast=40_000), seed=20)
q = generative_posterior(x_cal)
bins = np.linspace(0, 1, 11)
which = np.clip(np.digitize(q, bins) - 1, 0, 9)
print("predicted p(y=1|x)  fraction in class 1   points")
for b in range(10):
    sel = which == b
    print(
        f"    {q[sel].mean():.3f}            {y_cal[sel].mean():.3f}        {sel.sum():>6}"
    )
    assert abs(q[sel].mean() - y_cal[sel].mean()) < 4 * np.sqrt(0.25 / sel.sum()) + 1e-3

# %% [markdown]
# ### The discriminative model: logistic regression
#
# **Logistic regression** (逻辑回归) models $p(y = 1 \mid x) = \sigma(w^\top \phi(x))$ with the sigmoid
# $\sigma(t) = 1 / (1 + e^{-t})$ and, here, quadratic features
# $\phi(x) = (1, x_1, x_2, x_1^2, x_1 x_2, x_2^2)$, so the decision boundary can curve.
# It is fitted by minimising the average cross-entropy plus a small L2 penalty,
#
# $$
# L(w) = \frac1N \sum_i \Big[\log\big(1 + e^{w^\top \phi_i}\big) - y_i\, w^\top \phi_i\Big] + \frac\lambda2 \lVert w \rVert^2,
# \qquad
# \nabla L = \frac1N \Phi^\top\big(\sigma(\Phi w) - y\big) + \lambda w,
# $$
#
# a convex problem that Newton's method solves in a few steps (Hessian
# $\frac1N \Phi^\top \mathrm{diag}\big(\sigma(1 - \sigma)\big) \Phi + \lambda I$). The gradient
# formula is checked against finite differences first.

# %%
def features(x):
    x1, x2 = x[:, 0], x[:, 1]
    return np.stack([np.ones_like(x1), x1, x2, x1**2, x1 * x2, x2**2], axis=1)


def sigmoid(t):
    return np.exp(-np.logaddexp(0.0, -t))


LAMBDA = 1e-3
PHI, Y = features(x_train), y_train.astype(float)


def logistic_loss(w):
    t = PHI @ w
    return np.mean(np.logaddexp(0.0, t) - Y * t) + 0.5 * LAMBDA * w @ w


def logistic_grad(w):
    return PHI.T @ (sigmoid(PHI @ w) - Y) / len(Y) + LAMBDA * w


w_probe = np.random.default_rng(0).normal(scale=0.3, size=6)
h = 1e-6
finite = np.array(
    [
        (logistic_loss(w_probe + h * e) - logistic_loss(w_probe - h * e)) / (2 * h)
        for e in np.eye(6)
    ]
)
print(
    f"gradient: max |finite differences - formula| = {np.abs(finite - logistic_grad(w_probe)).max():.1e}"
)
assert np.allclose(finite, logistic_grad(w_probe), atol=1e-7)

w = np.zeros(6)
for _ in range(30):
    s = sigmoid(PHI @ w)
    hess = PHI.T @ (PHI * (s * (1 - s))[:, None]) / len(Y) + LAMBDA * np.eye(6)
    w = w - np.linalg.solve(hess, logistic_grad(w))
print(
    f"after Newton: loss {logistic_loss(w):.4f}, |gradient| {np.abs(logistic_grad(w)).max():.1e}"
)
assert np.abs(logistic_grad(w)).max() < 1e-8


def discriminative_posterior(x):
    return sigmoid(features(x) @ w)

# %% [markdown]
# ### Comparing the two classifiers
#
# On the large test set, compare accuracy and the average negative log-likelihood of the
# labels (cross-entropy, lower is better) with the **Bayes-optimal** classifier, which
# uses the true distribution and is the best any classifier can do.

# %%
def true_posterior(x):
    return TRUE.predict_proba(x)[:, 2:].sum(1)


def report(name, p1):
    acc = np.mean((p1 > 0.5) == y_test)
    nll = -np.mean(np.log(np.where(y_test == 1, p1, 1 - p1) + 1e-300))
    print(f"{name:>30}: accuracy {acc:.3f}, label NLL {nll:.3f}")
    return acc


acc_true = report("Bayes-optimal (true p(y|x))", true_posterior(x_test))
acc_gen = report("generative (GMMs + Bayes)", generative_posterior(x_test))
acc_disc = report("discriminative (logistic reg.)", discriminative_posterior(x_test))
assert acc_true >= max(acc_gen, acc_disc) - 0.01

fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), sharex=True, sharey=True)
for ax, (name, fn) in zip(
    axes,
    [
        ("true $p(y=1 \\mid x)$", true_posterior),
        ("generative: Bayes' rule on the GMMs", generative_posterior),
        ("discriminative: logistic regression", discriminative_posterior),
    ],
):
    # clip rounding (1 + 1e-16) for contourf
    p1 = np.clip(fn(grid), 0, 1).reshape(g1.shape)
    cs = ax.contourf(g1, g2, p1, levels=np.linspace(0, 1, 11), cmap="RdBu_r")
    ax.contour(g1, g2, p1, levels=[0.5], colors="black", linewidths=2)
    for c in (0, 1):
        ax.scatter(
            *x_train[y_train == c].T,
            s=7,
            color=COLORS[c],
            edgecolors="black",
            linewidths=0.3,
        )
    ax.set_title(name)
    ax.set_xlabel("$x_1$")
    ax.set_aspect("equal")
axes[0].set_ylabel("$x_2$")
fig.colorbar(cs, ax=axes, label="$p(y = 1 \\mid x)$", shrink=0.8)
plt.show()

# %% [markdown]
# Where the data are, the two classifiers agree with each other and with the truth (the
# black lines are the decision boundaries $p(y = 1 \mid x) = 0.5$). Away from the data,
# each extrapolates its own way, and neither extrapolation means much. What the
# classifier cannot say is *that* a point lies away from the data: it has no $p(x)$. Ask
# both models about a point far from anything seen in training:

# %%
x_far = np.array([[5.5, -5.5]])
log_px_train = log_p_x(x_train)
print(
    f"x = {x_far[0]}: p(y=1|x) generative {generative_posterior(x_far)[0]:.3f}, "
    f"discriminative {discriminative_posterior(x_far)[0]:.3f}"
)
print(
    f"log p(x) there: {log_p_x(x_far)[0]:.1f}; on the training points: "
    f"min {log_px_train.min():.1f}, median {np.median(log_px_train):.1f}"
)
assert log_p_x(x_far)[0] < log_px_train.min() - 5

# %% [markdown]
# Both models return *some* class probability at this point, but only the generative
# model also reports that its density there is far below that of every training point:
# it can flag the input as unlike the data (this is how density models are used for
# novelty and anomaly detection). That, and sampling, is what a model of $p(x)$ buys.
#
# The price: the generative model must describe *everything* about $x$, including
# details irrelevant to the label, here with 23 parameters (per class: 1 free mixing
# weight, 2 means of 2 numbers, 2 covariances of 3 numbers; plus the class prior)
# against logistic regression's 6. With high-dimensional $x$, such as images, that is the
# whole difficulty of generative modelling, and the subject of chapters 3–5. Which
# classifier wins depends on the amount of data and on how wrong each model's
# assumptions are {cite}`ng2002discriminative`; {ref}`core-concepts-ex-small-data`
# lets you measure it.

# %%
n_gen = sum(g.n_parameters for g in class_gmms) + 1
print(f"parameters: generative {n_gen}, discriminative {w.size}")
assert n_gen == 23

# %% [markdown]
# ## 2. The training loop, and the three families
#
# Every model of this course is trained by the same loop. Two loops, in fact: an
# automatic inner loop that updates the parameters $\theta$ from gradients, thousands of
# times, and an outer loop in which *you* evaluate the trained model and change the
# data, the model or the loss.
#
# ```{mermaid}
# flowchart LR
#     D[("training data x₁ … x_N")] -->|"mini-batch"| M["model with parameters θ: p_θ(x), or a generator G_θ(z)"]
#     M --> L["loss: one number, e.g. the mean of −log p_θ(x) over the batch"]
#     L -->|"backpropagation"| GR["gradient ∇_θ loss"]
#     GR --> O["optimiser step θ ← θ − η ∇_θ loss"]
#     O -->|"updated θ, next mini-batch"| M
#     M -->|"after training"| S["samples x̃ ~ p_θ"]
#     S --> E["evaluation: held-out likelihood, sample quality"]
#     E -.->|"feedback (by you): change data, model, loss, hyper-parameters"| M
# ```
#
# Three points that muddled diagrams of this loop often get wrong:
#
# * the optimiser changes **only the parameters** $\theta$: the data are never modified, and
#   the samples are not fed back into training (a GAN feeds its samples to the
#   *discriminator*, inside the loss, which is still part of "compute the loss");
# * the loss is computed from the model's output **on training data**, and its gradient
#   flows back through the model to $\theta$;
# * evaluation uses data **not** seen in training, and its feedback is a decision made by
#   a person (or a hyper-parameter search), not a gradient.
#
# Here is the inner loop on the smallest possible example: a 1-D Gaussian
# $\mathcal N(\mu, \sigma^2)$ with parameters $\theta = (\mu, s = \log \sigma)$, loss the mean
# negative log-likelihood
#
# $$
# L(\mu, s) = \tfrac12 \log 2\pi + s + \frac{1}{2 e^{2s}} \cdot \frac1N \sum_i (x_i - \mu)^2,
# \qquad
# \frac{\partial L}{\partial \mu} = -\frac{\bar x - \mu}{\sigma^2},
# \qquad
# \frac{\partial L}{\partial s} = 1 - \frac{\frac1N \sum_i (x_i - \mu)^2}{\sigma^2},
# $$
#
# trained by gradient descent. Setting both derivatives to zero gives the closed-form
# maximum-likelihood estimates $\hat\mu = \bar x$ and $\hat\sigma^2 = \frac1N \sum_i (x_i - \bar x)^2$:
# the loop must find them.

# %%
rng = np.random.default_rng(0)
x_1d = rng.normal(3.0, 2.0, size=500)
x_heldout = rng.normal(3.0, 2.0, size=5000)


def nll(x, mu, s):
    return (
        0.5 * math.log(2 * math.pi) + s + np.mean((x - mu) ** 2) / (2 * math.exp(2 * s))
    )


def grads(x, mu, s):
    var = math.exp(2 * s)
    return -(x.mean() - mu) / var, 1 - np.mean((x - mu) ** 2) / var


# the gradient formulas, against finite differences
h, (mu0, s0) = 1e-6, (1.0, 0.2)
fd = (
    (nll(x_1d, mu0 + h, s0) - nll(x_1d, mu0 - h, s0)) / (2 * h),
    (nll(x_1d, mu0, s0 + h) - nll(x_1d, mu0, s0 - h)) / (2 * h),
)
assert np.allclose(fd, grads(x_1d, mu0, s0), atol=1e-6), (fd, grads(x_1d, mu0, s0))

mu, s, lr, losses = 0.0, 0.0, 0.1, []
for _step in range(2000):  # the inner loop
    losses.append(nll(x_1d, mu, s))  # model + data -> loss
    g_mu, g_s = grads(x_1d, mu, s)  # loss -> gradient
    mu, s = mu - lr * g_mu, s - lr * g_s  # optimiser step on the parameters only
mu_mle, sigma_mle = x_1d.mean(), x_1d.std()  # closed form (np.std divides by N)
print(f"gradient descent: mu = {mu:.5f}, sigma = {math.exp(s):.5f}")
print(f"closed-form MLE:  mu = {mu_mle:.5f}, sigma = {sigma_mle:.5f}")
print(
    f"evaluation (outer loop): training NLL {nll(x_1d, mu, s):.4f}, held-out NLL {nll(x_heldout, mu, s):.4f}"
)
assert abs(mu - mu_mle) < 1e-6 and abs(math.exp(s) - sigma_mle) < 1e-6

fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
axes[0].plot(np.arange(1, len(losses) + 1), losses)
axes[0].set_title("Inner loop: the loss falls")
axes[0].set_xscale("log")
axes[0].set_xlabel("gradient step (log scale)")
axes[0].set_ylabel("mean NLL (nats)")
t = np.linspace(-5, 11, 400)
axes[1].hist(x_1d, bins=30, density=True, alpha=0.4, label="training data")
axes[1].plot(
    t,
    np.exp(-0.5 * ((t - mu) / math.exp(s)) ** 2)
    / (math.exp(s) * math.sqrt(2 * math.pi)),
    lw=2,
    label=r"fitted $\mathcal{N}(\mu, \sigma^2)$",
)
axes[1].set_title("The trained model")
axes[1].set_xlabel("x")
axes[1].set_ylabel("density")
axes[1].legend()
plt.show()

# %% [markdown]
# The three families of chapters 3–5 fill in the loop differently: what loss they
# optimise, and how they turn random numbers into a sample.
#
# ```{mermaid}
# flowchart TB
#     DATA[("training data x ~ p_data")]
#     subgraph GANS["GAN, chapter 3"]
#         G1["optimises a two-player game min_G max_D V(D, G); with the best D, the JS divergence between p_data and p_G"]
#         G2["samples: z ~ N(0, I), then x̃ = G(z), one forward pass"]
#         G1 --> G2
#     end
#     subgraph VAES["VAE, chapter 4"]
#         V1["optimises the ELBO = E_q log p(x ∣ z) − KL(q(z ∣ x) ‖ p(z)), a lower bound on log p(x)"]
#         V2["samples: z ~ N(0, I), then x ~ p(x ∣ z) from the decoder, one forward pass"]
#         V1 --> V2
#     end
#     subgraph ARS["Autoregressive model, chapter 5"]
#         A1["optimises the exact log-likelihood, the sum over t of log p(x_t ∣ x_1 … x_t−1)"]
#         A2["samples one element at a time: x_t from p(x_t ∣ x_1 … x_t−1), T forward passes"]
#         A1 --> A2
#     end
#     DATA --> G1
#     DATA --> V1
#     DATA --> A1
#     LAT["latent variable z with a simple prior (section 3)"] -.-> G2
#     LAT -.-> V2
#     MLE["maximum likelihood = minimum KL(p_data ‖ p_model) (section 4)"] -.-> V1
#     MLE -.-> A1
# ```
#
# * **GANs** {cite}`goodfellow2014gan` never write down $p(x)$: a discriminator compares
#   samples with data, and the generator learns from its gradient. Sampling is one
#   pass through the generator, but there is no likelihood to evaluate.
# * **VAEs** {cite}`kingma2013vae` are latent-variable models like the ones below. Their
#   likelihood is an intractable integral over $z$, so they maximise a lower bound on it
#   with an encoder that approximates the posterior $p(z \mid x)$.
# * **Autoregressive models** {cite}`vandenoord2016pixelrnn,radford2018gpt` factorise
#   $p(x) = \prod_t p(x_t \mid x_{<t})$ with the chain rule of probability: exact likelihood,
#   but sampling takes one step per element (per character, per pixel).
#
# ## 3. Latent variables and latent spaces
#
# A **latent variable model** explains each observation $x$ by an unobserved cause $z$:
# first $z \sim p(z)$, then $x \sim p(x \mid z)$. The Gaussian mixture is one, with a
# discrete $z$ (the component) and **posterior** (后验) $p(z \mid x)$ given by the
# responsibilities. GANs and VAEs use a *continuous* $z$ and a neural network as the
# map from $z$ to $x$.
#
# A small continuous example: a 1-D latent $z \sim \mathcal N(0, 1)$ and
# $x = f(z) + \sigma \varepsilon$ with $\varepsilon \sim \mathcal N(0, I_2)$ and $f$ a spiral,
# $f(z) = r(z)\,(\cos 1.2z, \sin 1.2z)$ with $r(z) = 2 + 0.6 z$, $\sigma = 0.15$. All the
# data lie near a 1-D curve in the 2-D plane, and the latent $z$ is the position along it.

# %%
SIGMA = 0.15


def f(z):
    r = 2.0 + 0.6 * z
    return np.stack([r * np.cos(1.2 * z), r * np.sin(1.2 * z)], axis=-1)


rng = np.random.default_rng(1)
z_s = rng.standard_normal(1500)
x_s = f(z_s) + SIGMA * rng.standard_normal((1500, 2))

fig, ax = plt.subplots(figsize=(5.5, 5))
sc = ax.scatter(*x_s.T, c=z_s, s=5, cmap="coolwarm")
ax.plot(
    *f(np.linspace(-3, 3, 300)).T, color="black", lw=1, label="$f(z)$, $z \\in [-3, 3]$"
)
fig.colorbar(sc, ax=ax, label="latent $z$")
ax.set_title("Samples of a 1-D latent variable model")
ax.set_xlabel("$x_1$")
ax.set_ylabel("$x_2$")
ax.set_aspect("equal")
ax.legend(loc="lower right")
plt.show()

# %% [markdown]
# The density of $x$ is the integral over the latent,
#
# $$
# p(x) = \int p(z)\, p(x \mid z)\, dz = \int \mathcal N(z \mid 0, 1)\, \mathcal N\big(x \mid f(z), \sigma^2 I\big)\, dz .
# $$
#
# With one latent dimension we can compute it by quadrature (a sum over a fine grid of
# $z$). In a VAE, $z$ has 16 or more dimensions and no grid is possible: that is why
# chapter 4 needs the ELBO. Two checks: the quadrature agrees with the Monte Carlo
# estimate $\frac1S \sum_s p(x \mid z_s)$, $z_s \sim p(z)$, and $p(x)$ integrates to 1 over
# the plane.

# %%
Z_GRID = np.linspace(-5, 5, 1201)
DZ = Z_GRID[1] - Z_GRID[0]
LOG_PZ = -0.5 * Z_GRID**2 - 0.5 * math.log(2 * math.pi)
F_GRID = f(Z_GRID)  # (Z, 2)


def log_joint_grid(x):
    """log p(z_j) + log p(x_i | z_j) for every point i and grid value z_j, shape (N, Z)."""
    sq = ((x[:, None, :] - F_GRID[None]) ** 2).sum(-1)
    return LOG_PZ[None] - sq / (2 * SIGMA**2) - math.log(2 * math.pi * SIGMA**2)


def latent_model_log_px(x, chunk=2000):
    return np.concatenate(
        [
            logsumexp(log_joint_grid(x[i : i + chunk]), axis=1) + math.log(DZ)
            for i in range(0, len(x), chunk)
        ]
    )


queries = np.array([f(np.array(0.5)), f(np.array(-1.0)) + 0.2, [0.15, -0.6]])
z_mc = np.random.default_rng(2).standard_normal(pick(full=400_000, fast=100_000))
for xq, lq in zip(queries, latent_model_log_px(queries)):
    like = np.exp(-((xq - f(z_mc)) ** 2).sum(-1) / (2 * SIGMA**2)) / (
        2 * math.pi * SIGMA**2
    )
    mc, se = like.mean(), like.std() / math.sqrt(len(like))
    print(
        f"x = ({xq[0]:+.2f}, {xq[1]:+.2f}): quadrature p(x) = {math.exp(lq):.5f}, "
        f"Monte Carlo {mc:.5f} ± {se:.5f}"
    )
    assert abs(math.exp(lq) - mc) < 4 * se + 1e-6

ticks_l = np.linspace(-5, 5, pick(full=201, fast=121))
h1, h2 = np.meshgrid(ticks_l, ticks_l)
plane = np.stack([h1.ravel(), h2.ravel()], 1)
p_plane = np.exp(latent_model_log_px(plane)).reshape(h1.shape)
print(
    f"integral of p(x) over the plane: {p_plane.sum() * (ticks_l[1] - ticks_l[0]) ** 2:.4f}"
)
assert abs(p_plane.sum() * (ticks_l[1] - ticks_l[0]) ** 2 - 1) < 0.01

# %% [markdown]
# **Inference** goes the other way: given an observed $x$, which $z$ produced it? Bayes'
# rule gives the posterior $p(z \mid x) = p(z)\,p(x \mid z) / p(x)$, on the grid a
# normalised vector. For a point on or near the curve (queries 0 and 1) the posterior is
# a narrow peak at its position along the spiral. Query 2 lies between two turns of the
# spiral, about equally far from both: its posterior has two peaks, because two quite
# different latent values explain it about equally well. A VAE's **encoder** (编码器)
# learns an approximation $q(z \mid x)$ of exactly this posterior (and a single Gaussian
# $q$, as in chapter 4, cannot represent the two peaks of query 2).

# %%
post = (
    np.exp(
        log_joint_grid(queries) - logsumexp(log_joint_grid(queries), axis=1)[:, None]
    )
    / DZ
)
assert np.allclose(post.sum(1) * DZ, 1.0)
post_mean = (post * Z_GRID).sum(1) * DZ
mass_below = post[2, Z_GRID < -2.6].sum() * DZ
print(f"posterior mean of z for query 0, x = f(0.5): {post_mean[0]:.3f}")
print(
    f"query 2: posterior mass below z = -2.6: {mass_below:.2f}, above: {1 - mass_below:.2f}"
)
assert abs(post_mean[0] - 0.5) < 0.05
assert 0.2 < mass_below < 0.8  # two peaks, both substantial

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].contourf(h1, h2, p_plane, levels=20, cmap="viridis")
for i, xq in enumerate(queries):
    axes[0].scatter(
        *xq, s=80, marker="*", color=f"C{i + 1}", edgecolors="white", label=f"query {i}"
    )
axes[0].set_title("$p(x)$ by quadrature over $z$")
axes[0].set_xlabel("$x_1$")
axes[0].set_ylabel("$x_2$")
axes[0].set_aspect("equal")
axes[0].legend(loc="lower right", fontsize=8)
for i in range(len(queries)):
    axes[1].plot(Z_GRID, post[i], color=f"C{i + 1}", label=f"query {i}")
axes[1].plot(Z_GRID, np.exp(LOG_PZ), color="gray", ls="--", label="prior $p(z)$")
axes[1].set_xlim(-4.5, 3)
axes[1].set_title("Posteriors $p(z \\mid x)$")
axes[1].set_xlabel("$z$")
axes[1].set_ylabel("density")
axes[1].legend()
plt.show()

# %% [markdown]
# **Interpolation.** Because $z$ is the coordinate along the data, walking in latent
# space walks along the data: decoding $z$ from $-1.5$ to $1.5$ stays on the spiral. The
# straight line between the two endpoints in $x$-space cuts across regions where the
# model's density is tiny. This is why generative models interpolate between two images
# in their latent space, not pixel by pixel ({doc}`first_taste_pytorch <../01_intro/first_taste_pytorch>`
# shows it for digits).

# %%
alphas = np.linspace(0, 1, 41)
z_a, z_b = -1.5, 1.5
latent_path = f(z_a + alphas * (z_b - z_a))
straight_path = (1 - alphas)[:, None] * f(np.array(z_a)) + alphas[:, None] * f(
    np.array(z_b)
)
lp_latent, lp_straight = (
    latent_model_log_px(latent_path),
    latent_model_log_px(straight_path),
)
print(
    f"smallest log p(x) along the latent path: {lp_latent.min():.1f}; "
    f"along the straight line: {lp_straight.min():.1f}"
)
assert lp_latent.min() > lp_straight.min() + 10

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].contourf(h1, h2, p_plane, levels=20, cmap="Greys")
axes[0].plot(
    *latent_path.T, "o-", ms=3, color="tab:green", label="decode $z$ from -1.5 to 1.5"
)
axes[0].plot(
    *straight_path.T, "o-", ms=3, color="tab:red", label="straight line in $x$"
)
axes[0].set_title("Two paths between the same endpoints")
axes[0].set_xlabel("$x_1$")
axes[0].set_ylabel("$x_2$")
axes[0].set_aspect("equal")
axes[0].legend(loc="lower right", fontsize=8)
axes[1].plot(alphas, lp_latent, color="tab:green", label="latent path")
axes[1].plot(alphas, lp_straight, color="tab:red", label="straight line")
axes[1].set_title("Model log-density along each path")
axes[1].set_xlabel("position along the path")
axes[1].set_ylabel("$\\log p(x)$")
axes[1].legend()
plt.show()

# %% [markdown]
# ## 4. Likelihood: maximum likelihood minimises a KL divergence
#
# Fitting by **maximum likelihood** chooses the parameters that make the training data
# most probable: maximise $\frac1N \sum_i \log p_\theta(x_i)$, or equivalently minimise the
# average **negative log-likelihood** (NLL, 负对数似然). As $N$ grows this average tends to
# an expectation under the data distribution, and
#
# $$
# \mathbb E_{x \sim p_{\text{data}}}\big[-\log p_\theta(x)\big]
# = \underbrace{\mathbb E_{p_{\text{data}}}\Big[\log \frac{p_{\text{data}}(x)}{p_\theta(x)}\Big]}_{\mathrm{KL}(p_{\text{data}} \,\|\, p_\theta)}
# \; \underbrace{- \; \mathbb E_{p_{\text{data}}}\big[\log p_{\text{data}}(x)\big]}_{H(p_{\text{data}}) \text{, the entropy}} .
# $$
#
# The **entropy** (熵) $H(p_{\text{data}})$ does not depend on $\theta$, so **minimising the expected
# NLL is minimising the KL divergence** (KL 散度) from the data to the model, and
# $\text{expected NLL} - H(p_{\text{data}}) = \mathrm{KL}(p_{\text{data}} \,\|\, p_\theta) \ge 0$.
# The same identity holds exactly, for any sample size, with the **empirical distribution**
# (经验分布) $\hat p$ (the frequencies in the sample) in place of $p_{\text{data}}$:
# average NLL $- H(\hat p) = \mathrm{KL}(\hat p \,\|\, p_\theta)$.
#
# Check both on a discrete example: a loaded die with faces $0, \dots, 5$, and a model
# family with one parameter, the binomial distribution
# $p_\theta(x) = \binom{5}{x} \theta^x (1 - \theta)^{5 - x}$.

# %%
P_DIE = np.array([0.05, 0.10, 0.15, 0.20, 0.25, 0.25])
FACES = np.arange(6)


def binomial_pmf(theta):
    return (
        np.array([math.comb(5, k) for k in FACES])
        * theta**FACES
        * (1 - theta) ** (5 - FACES)
    )


def entropy(p):
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def kl(p, q):
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / q[nz])).sum())


rolls = np.random.default_rng(0).choice(
    6, size=pick(full=200_000, fast=50_000), p=P_DIE
)
p_hat = np.bincount(rolls, minlength=6) / len(rolls)
theta = 0.6
q = binomial_pmf(theta)
avg_nll = -np.mean(np.log(q[rolls]))

# exact identity with the empirical distribution
print(f"average NLL - H(p_hat)  = {avg_nll - entropy(p_hat):.10f}")
print(f"KL(p_hat || p_theta)    = {kl(p_hat, q):.10f}")
assert abs(avg_nll - entropy(p_hat) - kl(p_hat, q)) < 1e-10

# in expectation, with the true distribution: equal up to Monte Carlo error
se = np.log(q[rolls]).std() / math.sqrt(len(rolls))
print(
    f"average NLL - H(p_data) = {avg_nll - entropy(P_DIE):.5f} ± {se:.5f} (Monte Carlo)"
)
print(f"KL(p_data || p_theta)   = {kl(P_DIE, q):.5f}")
assert abs(avg_nll - entropy(P_DIE) - kl(P_DIE, q)) < 4 * se

# %% [markdown]
# Now scan $\theta$. The average NLL and $\mathrm{KL}(\hat p \,\|\, p_\theta)$ differ by the constant
# $H(\hat p)$, so they have the same minimiser, and for the binomial it has a closed form:
# setting $\frac{d}{d\theta} \frac1N \sum_i \log p_\theta(x_i) = \frac{\bar x}{\theta} - \frac{5 - \bar x}{1 - \theta} = 0$
# gives $\hat\theta = \bar x / 5$. The best binomial is still not the die, whose
# distribution is not binomial: the minimum KL stays above 0, the model's
# **approximation error**.

# %%
thetas = np.linspace(0.3, 0.9, 601)
nll_curve = np.array([-np.mean(np.log(binomial_pmf(t)[rolls])) for t in thetas])
kl_curve = np.array([kl(p_hat, binomial_pmf(t)) for t in thetas])
theta_mle = rolls.mean() / 5
gap = nll_curve - kl_curve
print(
    f"NLL - KL over the scan: between {gap.min():.10f} and {gap.max():.10f}; H(p_hat) = {entropy(p_hat):.10f}"
)
print(
    f"argmin of the scan: {thetas[nll_curve.argmin()]:.3f}; closed form x̄/5 = {theta_mle:.4f}"
)
print(
    f"minimum KL: {kl(p_hat, binomial_pmf(theta_mle)):.4f} nats (> 0: the model family cannot fit the die)"
)
assert np.allclose(gap, entropy(p_hat), atol=1e-10)
assert abs(thetas[nll_curve.argmin()] - theta_mle) <= 1e-3 + 1e-12

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].plot(thetas, nll_curve, lw=2, label="average NLL")
axes[0].plot(thetas, kl_curve, lw=2, label=r"KL$(\hat p \,\|\, p_\theta)$")
axes[0].axvline(theta_mle, color="gray", ls="--", label=r"$\hat\theta = \bar x / 5$")
axes[0].set_title("Same curve, shifted by the entropy")
axes[0].set_xlabel(r"$\theta$")
axes[0].set_ylabel("nats")
axes[0].legend()
axes[1].bar(FACES - 0.2, p_hat, width=0.4, label="die (empirical)")
axes[1].bar(
    FACES + 0.2,
    binomial_pmf(theta_mle),
    width=0.4,
    label=r"best binomial, $\hat\theta$",
)
axes[1].set_title("The maximum-likelihood fit")
axes[1].set_xlabel("face")
axes[1].set_ylabel("probability")
axes[1].legend()
plt.show()

# %% [markdown]
# Which divergence each family minimises explains much of its behaviour.
# $\mathrm{KL}(p_{\text{data}} \,\|\, p_\theta)$ is large wherever the data have mass that the
# model lacks, so maximum likelihood is **mass-covering**: VAEs and autoregressive models
# rarely drop a mode, but may put mass between modes (blurry samples). A GAN's minimax
# game minimises, with the best discriminator, the Jensen–Shannon divergence
# ({doc}`../03_gans/gan_concepts`, section 3). That divergence is symmetric and does not by
# itself explain why GANs drop modes. The generator loss used in practice is not the
# minimax one but the **non-saturating** $-\log D(G(z))$, and with the optimal
# discriminator $D^* = p_{\text{data}} / (p_{\text{data}} + p_\theta)$ held fixed its gradient
# is the gradient of
#
# $$
# \mathrm{KL}(p_\theta \,\|\, p_{\text{data}}) - 2\, \mathrm{JSD}(p_{\text{data}} \,\|\, p_\theta)
# $$
#
# {cite}`arjovsky2017towards`. Its first term is the *reverse* KL divergence, which is
# mode-seeking: leaving a mode of the data empty costs it almost nothing, putting mass
# where the data have none costs a lot. That term, with the training dynamics, is behind
# the mode dropping of GANs (the mode collapse of {doc}`../03_gans/gan_concepts`).
# The identity checked on a distribution over six values, $p_\theta = \mathrm{softmax}(\theta)$:

# %%
def kl_div(a, b):
    return float(np.sum(a * np.log(a / b)))


def jsd(a, b):
    m = (a + b) / 2
    return 0.5 * kl_div(a, m) + 0.5 * kl_div(b, m)


check_rng = np.random.default_rng(0)
p_data = check_rng.dirichlet(np.ones(6))
theta6 = check_rng.normal(size=6)
softmax6 = lambda t: np.exp(t - t.max()) / np.exp(t - t.max()).sum()
p_model = softmax6(theta6)
# the optimal discriminator, held fixed
d_star = p_data / (p_data + p_model)
jacobian = np.diag(p_model) - np.outer(p_model, p_model)  # d p_theta / d theta
# gradient of E_{x ~ p_theta}[-log D*(x)]
grad_nonsat = jacobian @ -np.log(d_star)
target = lambda t: kl_div(softmax6(t), p_data) - 2 * jsd(p_data, softmax6(t))
h = 1e-6
grad_target = np.array(
    [(target(theta6 + h * e) - target(theta6 - h * e)) / (2 * h) for e in np.eye(6)]
)
print("non-saturating loss gradient:    ", grad_nonsat.round(5))
print("gradient of KL(p_g||p) - 2 JSD:  ", grad_target.round(5))
assert np.allclose(grad_nonsat, grad_target, atol=1e-7)

# %% [markdown]
# {ref}`core-concepts-ex-reverse-kl` compares the two directions of the KL divergence.
#
# ## 5. Sampling
#
# A generative model is only useful if we can draw from it. Two basic tools, which every
# model of the course combines with a neural network:
#
# ### Ancestral sampling
#
# For a model written as a chain of conditional distributions, sample the parents first,
# then each child given its parents: for the mixture, the component $k \sim \mathrm{Cat}(\pi)$,
# then $x \sim \mathcal N(\mu_k, \Sigma_k)$, computed as $x = \mu_k + L_k \varepsilon$ with
# $\Sigma_k = L_k L_k^\top$ (Cholesky) and $\varepsilon \sim \mathcal N(0, I)$.
# A GAN and a VAE sample the same way ($z$ first, then $x$); an autoregressive model
# samples $x_1$, then $x_2$ given $x_1$, and so on.

# %%
show_source(GaussianMixture, start="# --- sample", end="# --- end sample")

# %% [markdown]
# If the sampler is right, the samples' statistics match the model's: the component
# frequencies match $\pi$, the mean is $\sum_k \pi_k \mu_k$, and the covariance of the mixture is
# $\sum_k \pi_k (\Sigma_k + \mu_k \mu_k^\top) - \bar\mu \bar\mu^\top$ (law of total covariance).
# We check this for the class-0 mixture fitted in section 1.

# %%
gmm0 = class_gmms[0]
xs, ks = gmm0.sample(pick(full=400_000, fast=100_000), seed=3)
mix_mean = gmm0.weights_ @ gmm0.means_
mix_cov = sum(
    wk * (ck + np.outer(mk, mk))
    for wk, mk, ck in zip(gmm0.weights_, gmm0.means_, gmm0.covariances_)
) - np.outer(mix_mean, mix_mean)
print(
    "component frequencies:",
    np.bincount(ks) / len(ks),
    " weights:",
    gmm0.weights_.round(4),
)
print("sample mean:", xs.mean(0).round(3), " formula:", mix_mean.round(3))
print(
    "sample covariance:\n",
    np.cov(xs, rowvar=False).round(3),
    "\nformula:\n",
    mix_cov.round(3),
)
assert np.allclose(np.bincount(ks) / len(ks), gmm0.weights_, atol=0.01)
assert np.allclose(xs.mean(0), mix_mean, atol=0.03)
assert np.allclose(np.cov(xs, rowvar=False), mix_cov, atol=0.06)

# %% [markdown]
# ### Inverse-CDF sampling
#
# How is a single draw from a 1-D distribution made from uniform random numbers? If $F$
# is a cumulative distribution function (CDF) and $U \sim \mathrm{Uniform}(0, 1)$, then
# $X = F^{-1}(U)$ has CDF $F$, because
# $P(X \le x) = P\big(U \le F(x)\big) = F(x)$. Two examples, checked against their
# histograms and with the Kolmogorov–Smirnov distance $D = \sup_x |F_{\text{samples}}(x) - F(x)|$,
# which for $n$ correct samples stays below $1.63/\sqrt n$ with probability 99 % (for large $n$):
#
# * the exponential distribution, $F(x) = 1 - e^{-\lambda x}$, so $F^{-1}(u) = -\log(1 - u)/\lambda$;
# * a 1-D Gaussian mixture, whose CDF has no closed-form inverse: tabulate $F$ on a
#   fine grid and invert it by linear interpolation.

# %%
def ks_distance(samples, cdf):
    s = np.sort(samples)
    n = len(s)
    c = cdf(s)
    return max(np.max(np.arange(1, n + 1) / n - c), np.max(c - np.arange(n) / n))


n_draws = pick(full=100_000, fast=20_000)
u = np.random.default_rng(4).random(n_draws)

LAM = 1.5
x_exp = -np.log1p(-u) / LAM

W1, M1, S1, W2, M2, S2 = 0.3, -2.0, 0.5, 0.7, 1.5, 1.0
erf = np.vectorize(math.erf)


def mix_pdf(x):
    return W1 * np.exp(-0.5 * ((x - M1) / S1) ** 2) / (
        S1 * math.sqrt(2 * math.pi)
    ) + W2 * np.exp(-0.5 * ((x - M2) / S2) ** 2) / (S2 * math.sqrt(2 * math.pi))


def mix_cdf(x):
    return W1 * 0.5 * (1 + erf((x - M1) / (S1 * math.sqrt(2)))) + W2 * 0.5 * (
        1 + erf((x - M2) / (S2 * math.sqrt(2)))
    )


table = np.linspace(-6, 7, 5001)
pdf_table = mix_pdf(table)
cdf_table = np.concatenate(
    [[0.0], np.cumsum((pdf_table[1:] + pdf_table[:-1]) / 2 * np.diff(table))]
)
print(
    f"tabulated CDF vs closed form (erf): max difference {np.abs(cdf_table - mix_cdf(table)).max():.1e}"
)
assert np.abs(cdf_table - mix_cdf(table)).max() < 1e-5
x_mix = np.interp(u, cdf_table / cdf_table[-1], table)  # F^{-1}(u) by interpolation

bound = 1.63 / math.sqrt(n_draws)
d_exp = ks_distance(x_exp, lambda x: 1 - np.exp(-LAM * x))
d_mix = ks_distance(x_mix, mix_cdf)
print(
    f"KS distance: exponential {d_exp:.4f}, mixture {d_mix:.4f}; 99% bound {bound:.4f}"
)
assert d_exp < bound and d_mix < bound

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
t = np.linspace(0, 5, 300)
axes[0].hist(
    x_exp, bins=80, range=(0, 5), density=True, alpha=0.5, label="inverse-CDF samples"
)
axes[0].plot(
    t,
    LAM * np.exp(-LAM * t),
    lw=2,
    color="black",
    label=r"density $\lambda e^{-\lambda x}$",
)
axes[0].set_title(f"Exponential, $\\lambda = {LAM}$")
t = np.linspace(-5, 5, 400)
axes[1].hist(
    x_mix, bins=80, range=(-5, 5), density=True, alpha=0.5, label="inverse-CDF samples"
)
axes[1].plot(t, mix_pdf(t), lw=2, color="black", label="mixture density")
axes[1].set_title("1-D Gaussian mixture (numerical inverse)")
for ax in axes:
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.legend()
plt.show()

# %% [markdown]
# The discrete case is the one you will use most: to pick the next token, a language
# model turns its scores (logits) into probabilities with a softmax and draws one token
# by inverting the cumulative sum of the probabilities with one uniform number. That
# is `aigc_course.text.sample_next`, used by every text model in chapter 5:

# %%
show_source(sample_next, start="row = top_p_filter(row, top_p)")

# %%
logits = np.array([2.0, 1.0, 0.5, 0.0, -1.0])
rng = np.random.default_rng(5)
draws = np.array(
    [sample_next(logits, rng=rng) for _ in range(pick(full=50_000, fast=20_000))]
)
freq = np.bincount(draws, minlength=len(logits)) / len(draws)
print("softmax probabilities:", softmax(logits).round(4))
print("sampled frequencies:  ", freq.round(4))
assert np.allclose(freq, softmax(logits), atol=0.01)

# %% [markdown]
# ## Summary
#
# * A generative model describes $p(x)$ (or $p(x, y)$): it can sample, evaluate densities,
#   and classify through Bayes' rule; a discriminative model only gives $p(y \mid x)$.
# * Training is a loop: data → model → loss → gradient → optimiser step on the parameters,
#   inside an outer loop of evaluation and design changes.
# * Latent variable models generate by decoding a simple latent $z$; inference inverts
#   this with the posterior $p(z \mid x)$; paths in latent space follow the data.
# * Maximum likelihood minimises $\mathrm{KL}(p_{\text{data}} \,\|\, p_\theta)$; the average NLL
#   minus the data entropy is exactly that KL.
# * Sampling combines ancestral sampling (parents first) and inverse-CDF draws.
#
# Chapter 3 starts with the family that needs no likelihood at all: {doc}`../03_gans/gan_concepts`.
#
# ## Exercises
#
# :::{exercise}
# :label: core-concepts-ex-k
# How many components should each class's mixture have? Fit `GaussianMixture(K, seed=0)`
# with $K = 1, \dots, 6$ to the class-0 training points and plot (a) the training mean
# log-likelihood, (b) the mean log-likelihood on the class-0 *test* points, and (c) the
# Bayesian information criterion $\mathrm{BIC} = -2 \sum_i \log p(x_i) + P \log N$, where
# $P$ is `gmm.n_parameters`. Which $K$ does each criterion choose?
# :::
#
# :::{solution} core-concepts-ex-k
# :class: dropdown
# ```python
# x0, x0_test = x_train[y_train == 0], x_test[y_test == 0]
# for k in range(1, 7):
#     gmm = GaussianMixture(k, seed=0)
#     train_ll = gmm.fit(x0, max_iter=500, tol=1e-8)[-1]
#     bic = -2 * train_ll * len(x0) + gmm.n_parameters * np.log(len(x0))
#     print(k, round(train_ll, 4), round(gmm.score(x0_test), 4), round(bic, 1))
# ```
# The *best achievable* training log-likelihood can only grow with $K$ (a mixture with
# more components contains the smaller ones), so it cannot choose $K$: with one component
# per point the likelihood is unbounded. EM only finds a local maximum, so the printed
# training values may even dip for some $K$ (in the course's run, $K = 4$ ended below
# $K = 3$): try other seeds. The held-out log-likelihood and the BIC both penalise
# flexibility; in the course's run both chose $K = 2$, the true number of blobs (BIC
# 1475.7 against 1477.9 for $K = 3$: close, so do not over-read small differences).
# Held-out likelihood is the criterion that carries over to deep generative models.
# :::
#
# :::{exercise}
# :label: core-concepts-ex-small-data
# Repeat the comparison of section 1 with training sets of $N = 20, 50, 100, 400$ and
# $2000$ points (`labelled_data(N, seed=s)` for a few seeds $s$), and compare the mean test
# accuracy of both classifiers. Then do it again with one Gaussian per class ($K = 1$)
# in the generative model. When does each model win, and why?
# :::
#
# :::{solution} core-concepts-ex-small-data
# :class: dropdown
# Wrap section 1 in a function of the training set that returns the two test
# accuracies (for tiny classes, use `min(K, number of points)` components), then loop
# over $N$ and seeds. The course's run (five training sets per $N$, seeds 100–104,
# accuracy on the 5,000 test points of fast mode, mean over the five):
#
# | $N$ | 20 | 50 | 100 | 400 | 2000 |
# | --- | --- | --- | --- | --- | --- |
# | generative, $K = 2$ | 0.911 | 0.950 | 0.970 | 0.972 | 0.974 |
# | generative, $K = 1$ | 0.951 | 0.965 | 0.966 | 0.971 | 0.970 |
# | logistic regression | 0.957 | 0.964 | 0.959 | 0.968 | 0.972 |
#
# against a Bayes-optimal accuracy of about 0.974. Three lessons. (1) With 20 points the
# correctly specified generative model ($K = 2$) is the *worst*: it must estimate 23
# parameters from about 10 points per class, and its fitted densities are poor. (2) From
# about 100 points on it is the best, because its assumptions are true and it uses the
# structure of $p(x \mid y)$; Ng and Jordan {cite}`ng2002discriminative` describe this
# regime, in which a generative classifier approaches its best accuracy with fewer
# examples than the discriminative one. (3) With $K = 1$ the generative model is
# *misspecified*. Its Bayes-rule posterior is then exactly a sigmoid of a quadratic
# function of $x$ (the log-ratio of two Gaussian densities is quadratic): the same family
# as our logistic regression, but fitted by a criterion, the likelihood of $x$, that does
# not target the labels. It does well with little data (few parameters) and falls behind
# logistic regression at $N = 2000$, where fitting $p(y \mid x)$ directly pays off. The
# differences at large $N$ are small: run more seeds before trusting the third decimal.
# :::
#
# :::{exercise}
# :label: core-concepts-ex-reverse-kl
# Let $p = 0.4\,\mathcal N(-2.5, 0.6^2) + 0.6\,\mathcal N(2.5, 0.6^2)$, a two-mode 1-D mixture, and
# $q = \mathcal N(m, s^2)$ a single Gaussian. On a grid of $x$, compute both
# $\mathrm{KL}(p \,\|\, q)$ and $\mathrm{KL}(q \,\|\, p)$ for $m \in [-4, 4]$ and $s \in [0.2, 4]$,
# and find the minimiser of each. Plot $p$ and the two best $q$. Which one covers both
# modes, which one picks one of them, and which of the two does maximum likelihood
# minimise?
# :::
#
# :::{solution} core-concepts-ex-reverse-kl
# :class: dropdown
# ```python
# xs = np.linspace(-10, 10, 4001); dx = xs[1] - xs[0]
# def gauss(m, s): return np.exp(-0.5 * ((xs - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))
# def kl_grid(a, b): return np.sum(a * (np.log(a + 1e-300) - np.log(b + 1e-300))) * dx
# p = 0.4 * gauss(-2.5, 0.6) + 0.6 * gauss(2.5, 0.6)
# candidates = [(m, s) for m in np.linspace(-4, 4, 161) for s in np.linspace(0.2, 4, 77)]
# forward = min(candidates, key=lambda ms: kl_grid(p, gauss(*ms)))   # KL(p || q)
# reverse = min(candidates, key=lambda ms: kl_grid(gauss(*ms), p))   # KL(q || p)
# print(forward, reverse)
# ```
# The forward $\mathrm{KL}(p \,\|\, q)$, which maximum likelihood minimises, is smallest for
# the *moment-matched* Gaussian: $m = 0.4 \cdot (-2.5) + 0.6 \cdot 2.5 = 0.5$ and
# $s^2 = \sum_k w_k (s_k^2 + m_k^2) - m^2 = 0.36 + 6.25 - 0.25$, so $s \approx 2.52$ (the grid
# finds $(0.5, 2.5)$). It covers both modes and puts much of its mass in the empty
# valley between them: the "blurry" failure. The reverse $\mathrm{KL}(q \,\|\, p)$ punishes
# $q$ for putting mass where $p$ has little, so its minimiser sits on one mode, the
# heavier one: $(2.5, 0.6)$. It is *mode-seeking*, the behaviour behind mode collapse.
# (With modes closer together, for instance the mixture of section 5, the reverse KL
# also settles between them: try it.)
# :::
#
# :::{exercise}
# :label: core-concepts-ex-categorical
# (Pen and paper.) Let the model be any distribution $q = (q_0, \dots, q_5)$ on the six
# faces. Show with a Lagrange multiplier that the maximum-likelihood $q$ is the empirical
# distribution $\hat p$, and that its KL divergence $\mathrm{KL}(\hat p \,\|\, q)$ is then 0. Why
# is this "perfect" fit a bad generative model for, say, 28 × 28 binary images?
# :::
#
# :::{solution} core-concepts-ex-categorical
# :class: dropdown
# Maximise $\sum_x n_x \log q_x$ subject to $\sum_x q_x = 1$: the Lagrangian
# $\sum_x n_x \log q_x - \lambda(\sum_x q_x - 1)$ has derivative $n_x / q_x - \lambda = 0$, so
# $q_x = n_x / \lambda$, and the constraint gives $\lambda = N$: $q_x = n_x / N = \hat p_x$. Then
# $\mathrm{KL}(\hat p \,\|\, q) = 0$. For binary images there are $2^{784}$ possible $x$; the
# empirical distribution puts all its mass on the $N$ training images and assigns
# probability 0 to every other image, including every new handwritten digit. It
# *memorises* (overfitting, 过拟合): it can only replay the training set. A useful
# generative model must generalise, which is why we restrict the model family
# (parameter sharing in networks, latent variables) and measure likelihood on held-out
# data.
# :::
#
# :::{exercise}
# :label: core-concepts-ex-inverse-cdf
# Derive the inverse CDF of the logistic distribution, $F(x) = 1 / (1 + e^{-x})$, draw
# 50,000 samples from it with `np.random.default_rng(0).random`, and check them with
# `ks_distance`. Which familiar function is $F^{-1}$?
# :::
#
# :::{solution} core-concepts-ex-inverse-cdf
# :class: dropdown
# Solving $u = 1/(1 + e^{-x})$ for $x$ gives $x = \log\frac{u}{1 - u}$, the **logit**
# function, the inverse of the sigmoid:
# ```python
# u = np.random.default_rng(0).random(50_000)
# x = np.log(u) - np.log1p(-u)
# print(ks_distance(x, lambda t: 1 / (1 + np.exp(-t))), 1.63 / np.sqrt(len(x)))
# ```
# The KS distance is below the 99 % bound. (A classifier's logit is the log-odds for
# the same reason: $\sigma$ maps log-odds to probabilities, and the logit maps back.)
# :::
