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
# # GANs in practice: the concepts
#
# The GAN of {doc}`gan_concepts` is elegant on paper and hard to train in practice.
# This notebook is about what practitioners changed to make GANs work, and how to
# tell whether a GAN is working at all. You will
#
# 1. see why the original game is hard to optimise, including a two-number game on
#    which gradient descent never converges,
# 2. read the architecture guidelines of the **DCGAN** and check the arithmetic of
#    transposed convolutions,
# 3. condition a GAN on a label (**conditional GAN**),
# 4. compute the **Wasserstein distance** in three ways, check the duality behind the
#    **WGAN**, watch it keep decreasing where the Jensen–Shannon divergence is stuck,
#    and see where the gradient penalty of **WGAN-GP** is applied (and where a common
#    bug applies it instead),
# 5. diagnose **mode collapse** with a number, and try two remedies.
#
# Everything here is NumPy (plus SciPy for one linear program). The labs train the
# DCGAN, the conditional GAN and the WGAN-GP on MNIST and try each training knob, in
# {doc}`PyTorch <practice_pytorch>` and in {doc}`Keras <practice_keras>`.

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
from scipy.optimize import linprog
from scipy.stats import wasserstein_distance

from aigc_course import is_fast, pick, set_seed
from aigc_course.data import ring_centers, ring_of_gaussians
from aigc_course.metrics import mode_coverage
from aigc_course.numpy_nn import MLP
from aigc_course.toy_gan import ToyGAN

set_seed(0)
print(f"NumPy {np.__version__}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Why the original GAN is hard to train
#
# Training a GAN is not minimising a loss: it is searching for an equilibrium of a
# two-player game with alternating gradient steps. The classic symptoms:
#
# * **Vanishing gradients.** When the discriminator wins, the Jensen–Shannon
#   divergence that the game minimises is stuck at $\log 2$ and gives no gradient
#   ({doc}`gan_concepts`, section 3). For images this is the normal case early on:
#   real and generated images barely overlap {cite}`arjovsky2017wgan`.
# * **No convergence.** Gradient steps on a game can circle around the equilibrium or
#   spiral away from it, even when each player's problem is simple (below).
# * **Mode collapse** (模式崩溃): the generator covers only part of the data (section 5).
# * **Uninformative losses.** The two losses measure each player against the *current*
#   opponent, so they do not go down as samples improve; they cannot tell you when to
#   stop or which run is better.
# * **Sensitivity.** Results swing with learning rates, architectures and seeds; a
#   large study found that most GAN variants perform alike once each gets the same
#   tuning budget {cite}`lucic2018gansequal`.
#
# **Gradient descent on the simplest game.** Take $\min_x \max_y V(x, y) = x\,y$: two
# numbers, one equilibrium at $(0, 0)$. The gradients are $\partial V/\partial x = y$ and
# $\partial V / \partial y = x$. *Simultaneous* steps (both players move from the same
# point) give
#
# $$
# \begin{pmatrix} x_{t+1} \\ y_{t+1} \end{pmatrix}
# = \begin{pmatrix} 1 & -\eta \\ \eta & 1 \end{pmatrix}
#   \begin{pmatrix} x_t \\ y_t \end{pmatrix},
# \qquad x_{t+1}^2 + y_{t+1}^2 = (1 + \eta^2)\,(x_t^2 + y_t^2),
# $$
#
# so the distance to the equilibrium *grows* by $\sqrt{1+\eta^2}$ every step, for every
# learning rate $\eta > 0$. *Alternating* steps, the way GANs are trained (first
# $x_{t+1} = x_t - \eta y_t$, then $y_{t+1} = y_t + \eta x_{t+1}$), conserve
# $H = x^2 + y^2 - \eta\, x y$ instead: they orbit the equilibrium forever
# {cite}`mescheder2018convergence`. Check both claims:

# %%
ETA, STEPS_GAME = 0.1, 200
sim, alt = [np.array([1.0, 0.0])], [np.array([1.0, 0.0])]
for _ in range(STEPS_GAME):
    x, y = sim[-1]
    sim.append(np.array([x - ETA * y, y + ETA * x]))  # both from (x_t, y_t)
    x, y = alt[-1]
    x_new = x - ETA * y
    alt.append(np.array([x_new, y + ETA * x_new]))  # y sees the new x
sim, alt = np.array(sim), np.array(alt)

radius_sq = (sim**2).sum(axis=1)
growth = radius_sq[1:] / radius_sq[:-1]
H = alt[:, 0] ** 2 + alt[:, 1] ** 2 - ETA * alt[:, 0] * alt[:, 1]
print(
    f"simultaneous: x^2 + y^2 grows by {growth.min():.6f} ... {growth.max():.6f} per step "
    f"(1 + eta^2 = {1 + ETA**2}); after {STEPS_GAME} steps the distance is "
    f"{np.sqrt(radius_sq[-1]):.2f}"
)
print(
    f"alternating:  H = x^2 + y^2 - eta*x*y stays in [{H.min():.12f}, {H.max():.12f}]"
)
assert np.allclose(growth, 1 + ETA**2) and np.allclose(H, 1.0)

fig, ax = plt.subplots(figsize=(5, 5))
ax.plot(sim[:, 0], sim[:, 1], lw=1, label="simultaneous steps: spiral out")
ax.plot(alt[:, 0], alt[:, 1], lw=1, label="alternating steps: orbit")
ax.scatter(
    [0], [0], color="black", marker="*", s=120, zorder=3, label="equilibrium (0, 0)"
)
ax.scatter([1], [0], color="tab:red", zorder=3, label="start (1, 0)")
ax.set_title(r"Gradient steps on $\min_x \max_y\, xy$ ($\eta = 0.1$)")
ax.set_xlabel("x (the minimising player)")
ax.set_ylabel("y (the maximising player)")
ax.set_aspect("equal")
ax.legend(fontsize=8, loc="lower left")
plt.show()

# %% [markdown]
# Neither sequence converges. Real GANs have curved losses and noisy gradients, which
# can damp or amplify these rotations; much of "GAN tricks" is about damping them:
# smaller or decaying learning rates, different speeds for the two players, penalties
# on the discriminator's gradients.
#
# ## 2. DCGAN: architecture guidelines
#
# The **deep convolutional GAN** (DCGAN, 深度卷积生成对抗网络) {cite}`radford2016dcgan` made
# convolutional GANs train reliably with a short list of rules. The course's
# `MODELS["dcgan"]` follows them, sized for $28 \times 28$ digits:
#
# | guideline (Radford et al.) | in the course's DCGAN |
# | --- | --- |
# | no pooling: the discriminator downsamples with **strided convolutions**, the generator upsamples with **transposed convolutions** (转置卷积) | D: $28 \to 14 \to 7$ with stride-2 $4 \times 4$ convolutions; G: $7 \to 14 \to 28$ with stride-2 $4 \times 4$ transposed convolutions |
# | **batch normalization** (批归一化) in both networks, but not on the generator's output or the discriminator's input | BN after G's dense layer and first transposed convolution, after D's second convolution |
# | no fully connected hidden layers | one dense layer projects $z$ to $7 \times 7 \times 128$; one reads D's features into a logit |
# | ReLU in the generator, `tanh` on its output | ReLU, then `tanh`: images in $[-1, 1]$ |
# | LeakyReLU (slope 0.2) in the discriminator | LeakyReLU(0.2) |
# | Adam with learning rate $2 \times 10^{-4}$, $\beta_1 = 0.5$; weights $\sim \mathcal N(0, 0.02^2)$ | the defaults of `DCGAN` |
#
# A transposed convolution with kernel size $k$, stride $s$ and padding $p$ turns a
# length $i$ into
#
# $$
# o = (i - 1)\, s - 2p + k ,
# $$
#
# the input length of a strided convolution with the same $k, s, p$ that produces $i$.
# It is exactly the **transpose** (adjoint) of that convolution, seen as a linear map:
# $\langle \mathrm{conv}(x), y \rangle = \langle x, \mathrm{conv}^\top(y) \rangle$ for all $x, y$.
# Below, both operations are written with loops in NumPy, and both facts are checked for
# the sizes of the DCGAN.

# %%
def conv2d(x, w, stride, pad):
    """Strided 2-D convolution (cross-correlation) of one channel: x (H, W), kernel w (k, k)."""
    k = w.shape[0]
    x = np.pad(x, pad)
    out_h, out_w = (x.shape[0] - k) // stride + 1, (x.shape[1] - k) // stride + 1
    out = np.zeros((out_h, out_w))
    for r in range(out_h):
        for c in range(out_w):
            out[r, c] = np.sum(
                x[r * stride : r * stride + k, c * stride : c * stride + k] * w
            )
    return out


def conv_transpose2d(y, w, stride, pad):
    """Transposed convolution: every input pixel adds a scaled copy of the kernel to the output."""
    k = w.shape[0]
    full = np.zeros(((y.shape[0] - 1) * stride + k, (y.shape[1] - 1) * stride + k))
    for r in range(y.shape[0]):
        for c in range(y.shape[1]):
            full[r * stride : r * stride + k, c * stride : c * stride + k] += (
                y[r, c] * w
            )
    return full[
        pad : full.shape[0] - pad, pad : full.shape[1] - pad
    ]  # remove the padding


rng = np.random.default_rng(0)
w = rng.standard_normal((4, 4))
size = 7
for stage in ("7 -> 14", "14 -> 28"):
    y = rng.standard_normal((size, size))
    up = conv_transpose2d(y, w, stride=2, pad=1)
    formula = (size - 1) * 2 - 2 * 1 + 4
    x = rng.standard_normal(up.shape)
    lhs, rhs = np.sum(conv2d(x, w, stride=2, pad=1) * y), np.sum(x * up)
    print(
        f"{stage}: output {up.shape}, formula {formula}; <conv(x), y> = {lhs:.10f}, "
        f"<x, conv^T(y)> = {rhs:.10f}"
    )
    assert up.shape == (formula, formula) and conv2d(x, w, 2, 1).shape == y.shape
    assert np.isclose(lhs, rhs)
    size = formula

# %% [markdown]
# Why $k = 4$ and not $3$ with stride 2? Feed a transposed convolution an image of ones
# and a kernel of ones: each output pixel counts how many kernel copies overlap on it.
# When $k$ is not a multiple of $s$, the overlaps alternate, and the generator has to
# learn to cancel a built-in **checkerboard artifact** (棋盘伪影) {cite}`odena2016deconvolution`:

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
for ax, k in zip(axes, (3, 4)):
    overlap = conv_transpose2d(np.ones((7, 7)), np.ones((k, k)), stride=2, pad=0)
    interior = sorted(set(overlap[k:-k, k:-k].astype(int).ravel().tolist()))
    print(f"k={k}, s=2: overlap counts away from the border: {interior}")
    im = ax.imshow(overlap, cmap="viridis", vmin=0, vmax=4)
    ax.set_title(f"kernel {k}, stride 2: interior {interior}")
    ax.set_xlabel("output column")
    ax.set_ylabel("output row")
fig.colorbar(im, ax=axes, label="kernel copies overlapping")
fig.suptitle("Transposed convolution of ones: uneven overlap makes checkerboards")
plt.show()

# %% [markdown]
# ## 3. Conditional GANs
#
# A **conditional GAN** (cGAN, 条件生成对抗网络) {cite}`mirza2014cgan` gives both players a
# label $y$, so that you can ask for "a 7". The value function becomes
#
# $$
# V(D, G) = \mathbb{E}_{(x, y) \sim p_{\text{data}}}\big[\log D(x \mid y)\big]
#         + \mathbb{E}_{z \sim p_z,\, y \sim p(y)}\big[\log\big(1 - D(G(z \mid y) \mid y)\big)\big],
# $$
#
# which is the GAN of {doc}`gan_concepts` played separately for every label: for a
# fixed $G$ the best discriminator is
# $D^*(x \mid y) = p_{\text{data}}(x \mid y) / \big(p_{\text{data}}(x \mid y) + p_g(x \mid y)\big)$,
# and the game's minimum is reached when $p_g(x \mid y) = p_{\text{data}}(x \mid y)$ for every $y$.
# The discriminator must judge "is this a plausible image *of y*", so a generator that
# ignores $y$ is caught.
#
# ```{mermaid}
# flowchart LR
#     Y["label y"] --> E1["embedding of y"]
#     Z["noise z"] --> C1["concatenate"]
#     E1 --> C1 --> G["generator"] --> XF["G(z | y)"]
#     XF --> C2["concatenate"]
#     XR["real image x of class y"] --> C2
#     Y --> E2["embedding of y"] --> C2
#     C2 --> D["discriminator"] --> P["D(· | y): real or fake, for this y?"]
# ```
#
# The course's `CGAN` feeds the label as a learned **embedding** (嵌入), a vector per
# class, concatenated with $z$ for $G$ and with the flattened image for $D$. Looking up
# row $y$ of the embedding matrix $E$ is the same as multiplying a one-hot vector by $E$,
# so the embedding is a linear layer on the one-hot label:

# %%
num_classes, embed_dim = 10, 4
E = rng.standard_normal((num_classes, embed_dim))
labels = np.array([7, 0, 3])
one_hot = np.eye(num_classes)[labels]
print("E[y] (lookup):\n", E[labels].round(3))
assert np.array_equal(E[labels], one_hot @ E)

# %% [markdown]
# Since labels are drawn from $p(y)$, a generator that matches every class-conditional
# distribution also matches the data's class frequencies: a cGAN cannot drop a whole
# class without the discriminator noticing. It can still collapse *within* a class
# (every 7 written the same way). The labs generate each digit on demand.
#
# ## 4. The Wasserstein GAN
#
# ### 4.1 The earth mover's distance
#
# The **Wasserstein-1 distance** (Wasserstein 距离) $W_1$, also called the **earth mover's
# distance** (推土机距离), between distributions $p$ and $q$ is the least average distance
# that mass has to travel to turn $p$ into $q$:
#
# $$
# W_1(p, q) = \inf_{\gamma \in \Pi(p, q)} \mathbb{E}_{(x, y) \sim \gamma} \lVert x - y \rVert ,
# $$
#
# where $\Pi(p, q)$ is the set of **couplings** (耦合), joint distributions whose marginals are
# $p$ and $q$ (a transport plan: $\gamma(x, y)$ says how much mass goes from $x$ to $y$).
# For two sets of $n$ points on a line, each point of mass $1/n$, this is a linear
# program over the $n \times n$ matrix $\gamma$. In one dimension it also has closed forms:
# with the same number of points, the optimal plan matches the sorted samples in order,
#
# $$
# W_1 = \frac1n \sum_{i=1}^n \big| x_{(i)} - y_{(i)} \big| ,
# $$
#
# and for any two distributions on the line, with cumulative distribution functions
# $F$ and $G$, $W_1 = \int \lvert F(t) - G(t) \rvert\, dt$, the area between the CDFs.
# Compute it all four ways: the linear program, sorted samples, the area between the
# empirical CDFs, and `scipy.stats.wasserstein_distance`.

# %%
def w1_linear_program(x, y):
    """The primal: min sum_ij gamma_ij |x_i - y_j| over couplings gamma of two uniform point sets."""
    n, m = len(x), len(y)
    cost = np.abs(x[:, None] - y[None, :]).ravel()
    rows = np.kron(np.eye(n), np.ones((1, m)))  # sum_j gamma_ij = 1/n
    cols = np.kron(np.ones((1, n)), np.eye(m))  # sum_i gamma_ij = 1/m
    res = linprog(
        cost,
        A_eq=np.vstack([rows, cols]),
        b_eq=np.concatenate([np.full(n, 1 / n), np.full(m, 1 / m)]),
        bounds=(0, None),
    )
    assert res.status == 0, res.message
    return res.fun, res.x.reshape(n, m)


def w1_sorted(x, y):
    """Equal sample sizes: match the sorted samples in order."""
    return np.mean(np.abs(np.sort(x) - np.sort(y)))


def w1_cdf_area(x, y):
    """Any sample sizes: the area between the two empirical CDFs (step functions)."""
    t = np.sort(np.concatenate([x, y]))
    F = np.searchsorted(np.sort(x), t[:-1], side="right") / len(x)
    G = np.searchsorted(np.sort(y), t[:-1], side="right") / len(y)
    return np.sum(np.abs(F - G) * np.diff(t))


rng = np.random.default_rng(1)
x_p = np.concatenate([rng.normal(-2, 0.5, 20), rng.normal(2, 0.5, 20)])  # p: two modes
# q: one blob
x_q = rng.normal(0.0, 0.7, 40)
w_lp, plan = w1_linear_program(x_p, x_q)
values = {
    "linear program": w_lp,
    "sorted samples": w1_sorted(x_p, x_q),
    "CDF area": w1_cdf_area(x_p, x_q),
    "scipy": wasserstein_distance(x_p, x_q),
}
for name, v in values.items():
    print(f"W1 by {name:>15}: {v:.10f}")
assert np.allclose(list(values.values()), w_lp, atol=1e-8)

# larger samples of different sizes: only the CDF area and SciPy apply
big_p = np.concatenate([rng.normal(-2, 0.5, 10_000), rng.normal(2, 0.5, 10_000)])
big_q = rng.normal(0.0, 0.7, 15_000)
print(
    f"20,000 vs 15,000 samples: CDF area {w1_cdf_area(big_p, big_q):.6f}, "
    f"scipy {wasserstein_distance(big_p, big_q):.6f}"
)
assert np.isclose(w1_cdf_area(big_p, big_q), wasserstein_distance(big_p, big_q))

# %% [markdown]
# ### 4.2 The dual: a critic with slope at most 1
#
# The infimum over couplings is not something a neural network can optimise. The
# **Kantorovich–Rubinstein duality** (Kantorovich–Rubinstein 对偶) {cite}`villani2009optimal`
# rewrites it as a supremum over functions:
#
# $$
# W_1(p, q) = \sup_{\lVert f \rVert_L \le 1} \; \mathbb{E}_{x \sim p}\big[f(x)\big] - \mathbb{E}_{x \sim q}\big[f(x)\big],
# $$
#
# where $\lVert f \rVert_L \le 1$ means $f$ is **1-Lipschitz**: $\lvert f(a) - f(b) \rvert \le \lVert a - b \rVert$
# for all $a, b$, a slope of at most 1 everywhere (利普希茨约束). On sample points this is
# again a linear program, over the values of $f$ at the points: on a line it is enough
# to bound the slope between neighbouring points. Solve it and compare with the primal:

# %%
def w1_dual(x, y):
    """max mean f(x) - mean f(y) over the values of f at the sorted points, |slope| <= 1."""
    t = np.sort(np.concatenate([x, y]))
    weights = (np.searchsorted(t, x)[:, None] == np.arange(len(t))).sum(0) / len(x) - (
        np.searchsorted(t, y)[:, None] == np.arange(len(t))
    ).sum(0) / len(y)
    K = len(t)
    diff = np.eye(K, k=1)[:-1] - np.eye(K)[:-1]  # rows: f_{k+1} - f_k
    gaps = np.diff(t)
    res = linprog(
        -weights,
        A_ub=np.vstack([diff, -diff]),
        b_ub=np.concatenate([gaps, gaps]),
        # f(t_1) = 0 fixes the constant
        bounds=[(0, 0)] + [(None, None)] * (K - 1),
    )
    assert res.status == 0, res.message
    return -res.fun, t, res.x


w_dual, t, f_opt = w1_dual(x_p, x_q)
print(f"primal (couplings) {w_lp:.10f}  dual (1-Lipschitz critics) {w_dual:.10f}")
assert np.isclose(w_dual, w_lp, atol=1e-8)

slopes = np.diff(f_opt) / np.diff(t)
F = np.searchsorted(np.sort(x_p), t[:-1], side="right") / len(x_p)
G = np.searchsorted(np.sort(x_q), t[:-1], side="right") / len(x_q)
where_cdfs_differ = ~np.isclose(F, G)
print(
    f"|slope| of the optimal critic where the CDFs differ: "
    f"{np.abs(slopes[where_cdfs_differ]).min():.6f} ... {np.abs(slopes[where_cdfs_differ]).max():.6f}"
)
assert np.allclose(np.abs(slopes[where_cdfs_differ]), 1.0)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].step(
    t,
    np.searchsorted(np.sort(x_p), t, side="right") / len(x_p),
    where="post",
    label="CDF of p",
)
axes[0].step(
    t,
    np.searchsorted(np.sort(x_q), t, side="right") / len(x_q),
    where="post",
    label="CDF of q",
)
axes[0].fill_between(
    t[:-1],
    F,
    G,
    step="post",
    alpha=0.25,
    color="gray",
    label=f"area = $W_1$ = {w_lp:.3f}",
)
axes[0].set_title("$W_1$ is the area between the CDFs")
axes[0].set_xlabel("x")
axes[0].set_ylabel("cumulative probability")
axes[0].legend(fontsize=8)
axes[1].plot(t, f_opt, color="black", lw=2, label="optimal critic $f^*$")
axes[1].plot(
    x_p,
    np.full_like(x_p, f_opt.min() - 0.2),
    "|",
    color="tab:blue",
    ms=12,
    label="samples of p",
)
axes[1].plot(
    x_q,
    np.full_like(x_q, f_opt.min() - 0.2),
    "|",
    color="tab:orange",
    ms=12,
    label="samples of q",
)
axes[1].set_title("Optimal critic: high where p has more mass")
axes[1].set_xlabel("x")
axes[1].set_ylabel("f(x)")
axes[1].legend(fontsize=8)
plt.show()

# %% [markdown]
# The optimal critic is high where $p$ has more mass (its two modes) and low where $q$
# has more (the blob between them), and it changes at the steepest allowed slope,
# $\pm 1$, wherever the CDFs differ. That is the
# fact the gradient penalty of section 4.5 builds on: the optimal critic has gradient
# norm 1 on the paths that transport mass {cite}`gulrajani2017wgangp`.
#
# (practice-concepts-wgan-objective)=
# ### 4.3 The WGAN objective, stated correctly
#
# The source articles give a "Wasserstein loss" formula that is not the Wasserstein
# distance. The **Wasserstein GAN** (WGAN) {cite}`arjovsky2017wgan` replaces the
# discriminator by a **critic** (评论家) $f_w$ that outputs an unbounded score (no sigmoid,
# no logarithm, no cross-entropy), and plays
#
# $$
# \min_G \; \max_{w:\ \lVert f_w \rVert_L \le 1} \;
# \mathbb{E}_{x \sim p_{\text{data}}}\big[f_w(x)\big] - \mathbb{E}_{z \sim p_z}\big[f_w(G(z))\big].
# $$
#
# The inner maximum is $W_1(p_{\text{data}}, p_g)$ by the duality above. As losses to
# *minimise*, which is how the labs write them:
#
# $$
# L_{\text{critic}} = \mathbb{E}_z\big[f_w(G(z))\big] - \mathbb{E}_x\big[f_w(x)\big]
# \;\;(+\text{ the Lipschitz penalty}), \qquad
# L_G = -\mathbb{E}_z\big[f_w(G(z))\big].
# $$
#
# $-L_{\text{critic}}$ (without the penalty) is the critic's running estimate of $W_1$,
# which the labs log as `w_dist`. Two things make the objective what it is, and
# dropping either is a common mistake.
#
# **The Lipschitz constraint is not optional.** Without it the maximum is infinite:
# multiplying any critic by $c$ multiplies the gap by $c$.

# %%
gap = np.mean(np.interp(x_p, t, f_opt)) - np.mean(np.interp(x_q, t, f_opt))
for c in (1, 10, 100):
    scaled = c * f_opt  # slope c: allowed only for c = 1
    gap_c = np.mean(np.interp(x_p, t, scaled)) - np.mean(np.interp(x_q, t, scaled))
    print(
        f"critic {c:>3} * f*: largest slope {np.abs(np.diff(scaled) / np.diff(t)).max():6.1f}, "
        f"E_p f - E_q f = {gap_c:8.4f}"
    )
    assert np.isclose(gap_c, c * w_lp)

# %% [markdown]
# **The critic's score is not a probability.** Squashing it with a sigmoid,
# $\sup_f \mathbb{E}_p[\sigma(f)] - \mathbb{E}_q[\sigma(f)]$, gives the total variation
# distance, which, like the JS divergence, stops changing once the distributions stop
# overlapping. The next section shows all three.
#
# (practice-concepts-sigmoid-critic)=
# ### 4.4 Why W₁ helps: a distance that keeps decreasing
#
# Let $p = U[0, 1]$ and $q_\theta = U[\theta, \theta + 1]$, a "generator" with one parameter
# $\theta$ that shifts its samples. Once $\theta \ge 1$ the supports are disjoint: the JS
# divergence is $\log 2$ and the total variation is 1, whatever $\theta$ is, while $W_1 = \theta$
# still says how far to move. The JS divergence and total variation below are computed on
# a fine grid, $W_1$ from samples with sorted matching.

# %%
def discretised_uniform(grid, lo):
    p = ((grid >= lo) & (grid < lo + 1)).astype(float)
    return p / p.sum()


def kl(a, b):
    nz = a > 0
    return float(np.sum(a[nz] * np.log(a[nz] / b[nz])))


def jsd(a, b):
    m = 0.5 * (a + b)
    return 0.5 * kl(a, m) + 0.5 * kl(b, m)


grid = np.linspace(-1, 5, 60_001)
thetas = np.linspace(0, 3, 61)
p_grid = discretised_uniform(grid, 0.0)
js = np.array([jsd(p_grid, discretised_uniform(grid, th)) for th in thetas])
tv = np.array(
    [0.5 * np.abs(p_grid - discretised_uniform(grid, th)).sum() for th in thetas]
)
u = np.random.default_rng(2).uniform(0, 1, 5000)
# samples of q: shifted copies
w1 = np.array([w1_sorted(u, u[::-1] + th) for th in thetas])
far = thetas >= 1
print(
    f"theta >= 1: JSD in [{js[far].min():.6f}, {js[far].max():.6f}] (log 2 = {np.log(2):.6f}), "
    f"TV in [{tv[far].min():.4f}, {tv[far].max():.4f}]"
)
print(f"W1 at theta = 0.5, 1, 2, 3: {w1[[10, 20, 40, 60]].round(6)}")
assert np.allclose(js[far], np.log(2), atol=1e-9) and np.allclose(tv[far], 1.0)
assert np.allclose(w1, thetas)

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(thetas, js, lw=2, label=r"JS divergence (stuck at $\log 2$)")
ax.plot(
    thetas, tv, lw=2, ls="--", label="total variation (a sigmoid critic; stuck at 1)"
)
ax.plot(thetas, w1, lw=2, label=r"Wasserstein $W_1 = \theta$")
ax.axvspan(1, 3, color="gray", alpha=0.12, label="disjoint supports")
ax.set_title(r"$p = U[0, 1]$ vs $q_\theta = U[\theta, \theta + 1]$")
ax.set_xlabel(r"shift $\theta$ of the generator's samples")
ax.set_ylabel("divergence / distance")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Gradient descent on $\theta$ gets a slope of exactly 1 from $W_1$ at every distance, and a
# slope of 0 from the JS divergence as soon as the two stop overlapping. This is the
# WGAN's promise: the critic's estimate of $W_1$ gives the generator a useful gradient
# even when a discriminator would separate real from fake perfectly, and it tends to
# decrease as samples improve, so unlike the original losses it is worth plotting.
#
# (practice-concepts-gp-alpha)=
# ### 4.5 Enforcing the Lipschitz constraint: clipping or penalty
#
# **Weight clipping** (权重裁剪, the original WGAN): after every critic step, clip every weight into
# $[-c, c]$, with $c = 0.01$. A network with bounded weights has a bounded Lipschitz
# constant: for layers $W_1, \dots, W_L$ and 1-Lipschitz activations (ReLU, LeakyReLU),
# $\lVert f \rVert_L \le \prod_l \lVert W_l \rVert_2$, and a matrix with entries in $[-c, c]$ has
# spectral norm at most $\lVert W \rVert_F \le c \sqrt{n_{\text{in}}\, n_{\text{out}}}$. Check the bound
# on a clipped critic (the toy GAN's MLP, $2 \to 64 \to 64 \to 1$):

# %%
critic = MLP([2, 64, 64, 1], np.random.default_rng(3))
CLIP = 0.01
critic.params = [np.clip(p, -CLIP, CLIP) for p in critic.params]
weights = critic.params[0::2]
bound = np.prod([np.linalg.norm(W, 2) for W in weights])
crude = np.prod([CLIP * np.sqrt(W.size) for W in weights])
a, b = np.random.default_rng(4).normal(0, 2, (2, 20_000, 2))
ratios = np.abs(critic.forward(a)[0] - critic.forward(b)[0])[:, 0] / np.linalg.norm(
    a - b, axis=1
)
print(f"largest |f(a) - f(b)| / |a - b| over 20,000 random pairs: {ratios.max():.3e}")
print(
    f"product of spectral norms: {bound:.3e};  c * sqrt(n_in * n_out) per layer: {crude:.3e}"
)
assert ratios.max() <= bound <= crude

# %% [markdown]
# The bound holds, and it shows the trouble: with $c = 0.01$ the critic is far *flatter*
# than 1-Lipschitz, and the $c$ that would be right depends on the architecture. In
# practice clipped critics either have vanishing or exploding gradients, depending on
# $c$, and push most weights to $\pm c$, which wastes the network's capacity
# {cite}`gulrajani2017wgangp`.
#
# **Gradient penalty** (梯度惩罚, WGAN-GP) {cite}`gulrajani2017wgangp`: since the optimal critic has
# gradient norm 1 on the paths that transport mass between $p_{\text{data}}$ and $p_g$
# (section 4.2), penalise the critic's gradient norm for straying from 1 *there*:
#
# $$
# L_{\text{critic}} = \mathbb{E}_z\big[f(G(z))\big] - \mathbb{E}_x\big[f(x)\big]
# + \lambda\, \mathbb{E}_{\hat x}\Big[\big(\lVert \nabla_{\hat x} f(\hat x) \rVert_2 - 1\big)^2\Big],
# \qquad \hat x = \alpha\, x + (1 - \alpha)\, G(z),\;\; \alpha \sim U(0, 1),
# $$
#
# with $\lambda = 10$, one $\alpha$ per example. Straight segments between a real and a
# fake sample are a cheap stand-in for the transport paths. The penalty needs the
# gradient of each example's score with respect to its own input, so the critic must
# not mix the examples of a batch: no batch normalization in the critic.
#
# **A common bug** draws $\alpha$ from a standard *normal* instead of a uniform. Then
# $P(\alpha \notin [0, 1]) = 1 - (\Phi(1) - \Phi(0)) \approx 0.66$: two thirds of the
# "interpolates" are extrapolations, off the segments, beyond the real data or beyond
# the fakes, and the penalty constrains the critic where it does not matter. Here, on
# 2-D data: real samples on a ring, fakes in a blob at the centre (an early generator).

# %%
real, _ = ring_of_gaussians(512, modes=8, radius=2.0, std=0.05, seed=0)
fake = np.random.default_rng(5).normal(0.0, 0.3, (512, 2))
rng = np.random.default_rng(6)
alphas = {
    "alpha ~ Uniform(0, 1)  (correct)": rng.uniform(0, 1, (512, 1)),
    "alpha ~ Normal(0, 1)  (the bug)": rng.standard_normal((512, 1)),
}

fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), sharex=True, sharey=True)
for ax, (name, alpha) in zip(axes, alphas.items()):
    x_hat = alpha * real + (1 - alpha) * fake
    off = np.mean((alpha < 0) | (alpha > 1))
    beyond = np.mean(np.linalg.norm(x_hat, axis=1) > 2.2)
    ax.scatter(
        *x_hat.T, s=4, alpha=0.5, color="tab:green", label=r"interpolates $\hat x$"
    )
    ax.scatter(*real.T, s=4, color="tab:blue", label="real")
    ax.scatter(*fake.T, s=4, color="tab:orange", label="fake")
    ax.set_title(f"{name}\n{off:.0%} off the segments; {beyond:.0%} outside the ring")
    ax.set_xlabel("$x_1$")
    ax.set_xlim(-6, 6)
    ax.set_ylim(-6, 6)
    ax.set_aspect("equal")
axes[0].set_ylabel("$x_2$")
axes[0].legend(loc="lower left", markerscale=3, fontsize=8)
plt.show()

many = np.random.default_rng(7).standard_normal(1_000_000)
phi = lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2)))  # the standard normal CDF
print(
    f"P(alpha outside [0, 1]) for alpha ~ N(0, 1): simulated {np.mean((many < 0) | (many > 1)):.4f}, "
    f"formula 1 - (Phi(1) - Phi(0)) = {1 - (phi(1) - phi(0)):.4f}"
)
assert abs(np.mean((many < 0) | (many > 1)) - (1 - (phi(1) - phi(0)))) < 2e-3

# %% [markdown]
# With uniform weights every $\hat x$ lies between a fake and a real point, where the
# critic's slope matters for moving the fakes. With normal weights they scatter over a
# region several times larger, including far outside the data. Both labs use
# `sample_alpha`, which draws $U(0, 1)$, and test it.
#
# (practice-concepts-mode-collapse)=
# ## 5. Mode collapse: diagnosis and remedies
#
# ### 5.1 Measuring it
#
# Samples that "look good" can still be a collapsed generator: ten perfect 1s. To
# measure **mode coverage** (模式覆盖), give every sample a **mode**: the nearest centre for the ring of
# Gaussians, the class predicted by a classifier for digits (the labs use the course's
# MNIST evaluator). With $K$ modes and the fraction $\hat p_k$ of samples in mode $k$,
# `aigc_course.metrics.mode_coverage` reports
#
# * `modes_hit`: the number of modes with at least `min_count` samples;
# * `kl_to_uniform`: $\mathrm{KL}(\hat p \,\|\, U_K) = \sum_k \hat p_k \log(K \hat p_k) = \log K - H(\hat p)$,
#   0 for perfectly balanced modes and $\log K$ for total collapse onto one mode.
#
# `modes_hit` says *whether* a mode is reached, the KL *how evenly*: a generator that
# puts 90 % of its samples in one mode and a few in each of the others hits every mode
# but has a large KL. Check the identity, and the two extremes:

# %%
K = 8
for counts in (
    [250] * 8,
    [1000, 500, 250, 125, 63, 31, 16, 15],
    [2000, 0, 0, 0, 0, 0, 0, 0],
    [1860, 20, 20, 20, 20, 20, 20, 20],
):
    labels_k = np.repeat(np.arange(K), counts)
    cov = mode_coverage(labels_k, K, min_count=20)
    p_hat = np.array(counts) / sum(counts)
    entropy = -np.sum(p_hat[p_hat > 0] * np.log(p_hat[p_hat > 0]))
    print(
        f"counts {str(counts):>40}: modes_hit {cov['modes_hit']}, KL {cov['kl_to_uniform']:.4f}, "
        f"log K - H = {np.log(K) - entropy:.4f}"
    )
    assert np.isclose(cov["kl_to_uniform"], np.log(K) - entropy)
print(f"log K = {np.log(K):.4f}")

# %% [markdown]
# ### 5.2 Watching a toy GAN collapse
#
# The toy GAN of {doc}`gan_concepts` (NumPy, hand-written backpropagation) on a ring of
# 8 Gaussians, with learning rate $3 \times 10^{-3}$ for both players: the setting that
# dropped modes there. Every 250 steps we assign 2,000 generated samples to their
# nearest mode, keep those within 3 standard deviations (0.15) of it, and compute
# `mode_coverage`. Next to it, the same GAN with the **two time-scale update rule**
# (TTUR, 双时间尺度更新规则) {cite}`heusel2017ttur`: the generator learns 3 times more slowly than the
# discriminator ($10^{-3}$ against $3 \times 10^{-3}$).

# %%
centers = ring_centers(8, 2.0)
data, _ = ring_of_gaussians(4096, modes=8, radius=2.0, std=0.05, seed=0)
RADIUS, MIN_COUNT, N_EVAL, EVERY = 0.15, 20, 2000, 250
STEPS = pick(full=6000, fast=3000)
SEEDS = pick(full=(0, 1, 2), fast=(0,))


def coverage(samples):
    """mode_coverage of the samples that lie within RADIUS of their nearest centre."""
    dist = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)
    on_mode = dist.min(axis=1) <= RADIUS
    return mode_coverage(
        dist.argmin(axis=1)[on_mode], len(centers), min_count=MIN_COUNT
    )


def train_and_track(seed, **config):
    gan = ToyGAN(seed=seed, **config)
    track = {"step": [], "modes_hit": [], "kl": []}
    while True:
        cov = coverage(gan.sample(N_EVAL, seed=123))
        track["step"].append(gan.steps_done)
        track["modes_hit"].append(cov["modes_hit"])
        track["kl"].append(cov["kl_to_uniform"])
        if gan.steps_done >= STEPS:
            return gan, track
        gan.fit(data, EVERY, log_every=EVERY)


CONFIGS = {
    "same learning rate 3e-3": dict(lr_d=3e-3, lr_g=3e-3),
    "TTUR: lr_d 3e-3, lr_g 1e-3": dict(lr_d=3e-3, lr_g=1e-3),
}
runs = {
    (name, seed): train_and_track(seed, **cfg)
    for name, cfg in CONFIGS.items()
    for seed in SEEDS
}
real_cov = coverage(data[:N_EVAL])
print(
    f"real data: {real_cov['modes_hit']}/8 modes, KL to uniform {real_cov['kl_to_uniform']:.4f}"
)
for (name, seed), (g, _tr) in runs.items():
    cov = coverage(g.sample(N_EVAL, seed=123))
    print(
        f"{name}, seed {seed}: {cov['modes_hit']}/8 modes, KL {cov['kl_to_uniform']:.3f}, "
        f"samples per mode {cov['counts']}"
    )

# %%
colors = dict(zip(CONFIGS, ("tab:red", "tab:blue")))
fig, axes = plt.subplots(
    1, 4, figsize=(17, 3.9), gridspec_kw={"width_ratios": [1.2, 1.2, 1, 1]}
)
for (name, seed), (_g, tr) in runs.items():
    kw = dict(color=colors[name], alpha=0.8, label=name if seed == SEEDS[0] else None)
    axes[0].plot(tr["step"], np.array(tr["modes_hit"]) + 0.05 * seed, **kw)
    axes[1].plot(tr["step"], tr["kl"], **kw)
axes[1].axhline(real_cov["kl_to_uniform"], color="gray", ls="--", label="real data")
axes[0].set_title("modes hit (of 8)")
axes[0].set_ylim(-0.2, 8.5)
axes[1].set_title("KL(sample modes || uniform), nats")
for ax in axes[:2]:
    ax.set_xlabel("generator step")
    ax.legend(fontsize=8)
axes[0].set_ylabel("modes hit")
axes[1].set_ylabel("KL (nats)")
for ax, name in zip(axes[2:], CONFIGS):
    fake_pts = runs[name, SEEDS[0]][0].sample(N_EVAL, seed=123)
    ax.scatter(*data[:N_EVAL].T, s=2, alpha=0.3, color="gray", label="real")
    ax.scatter(*fake_pts.T, s=2, alpha=0.3, color=colors[name], label="generated")
    ax.set_title(f"{name}\nseed {SEEDS[0]}, step {STEPS}", fontsize=9)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_aspect("equal")
    ax.legend(loc="center", markerscale=4, fontsize=7)
plt.show()

# %% [markdown]
# Read the printed numbers and the curves together: `modes_hit` jumps between integers
# and saturates at 8, while the KL also ranks runs that hit the same number of modes,
# and shows the imbalance of a generator that favours a few modes. Compare each run
# with the real data's KL (dashed), which is not exactly 0 only because 2,000 samples
# are never perfectly balanced. In the course's full-mode runs (seeds 0–2, 6,000 steps)
# the same learning rate ended with 5, 5 and 5 modes (KL 0.74, 0.65 and 0.38), TTUR with
# 7, 6 and 7 (KL 0.20, 0.22 and 0.15); fast mode (seed 0, 3,000 steps) gives 4 modes
# against 7. The numbers printed above may differ slightly on your machine:
# floating-point details change the trajectory of a run like this one, which is why the
# full mode uses three seeds.
#
# (practice-concepts-remedies)=
# ### 5.3 Remedies
#
# No remedy is a guarantee; these are the ones the literature and the labs use:
#
# | remedy | idea |
# | --- | --- |
# | Wasserstein loss with gradient penalty {cite}`gulrajani2017wgangp` | a critic whose gradient does not vanish keeps pulling samples toward every mode |
# | two time-scale updates (TTUR) {cite}`heusel2017ttur`, more critic steps | let the discriminator keep up with the generator, damping the rotations of section 1 |
# | smaller or decaying learning rates | smaller steps, smaller orbits |
# | conditioning on labels (cGAN) | every class is asked for, so no class can be dropped |
# | minibatch discrimination {cite}`salimans2016improved` | D sees statistics of a whole batch, so a batch of identical samples is easy to reject |
# | unrolled GANs {cite}`metz2017unrolled` | G optimises against D's *future* responses, so it cannot exploit D's current blind spot |
# | one-sided label smoothing (单侧标签平滑) {cite}`salimans2016improved` | D is trained towards 0.9 instead of 1 on real data, so it stays less overconfident |
#
# **Why one-sided?** With real targets $t_r$ and fake targets $t_f$ (instead of 1 and 0),
# the discriminator maximises, at every $x$,
# $\big(p\,t_r + q\,t_f\big)\log D + \big(p\,(1 - t_r) + q\,(1 - t_f)\big)\log(1 - D)$ with
# $p = p_{\text{data}}(x)$, $q = p_g(x)$, whose maximum is at
#
# $$
# D^*(x) = \frac{t_r\, p_{\text{data}}(x) + t_f\, p_g(x)}{p_{\text{data}}(x) + p_g(x)} .
# $$
#
# Smoothing the *real* targets ($t_r = 0.9$) only scales $D^*$ down where there is data.
# Smoothing the *fake* targets ($t_f = 0.1$) puts a floor of $0.1$ under $D^*$ where only
# fakes live, so the discriminator stops pushing fakes out of regions without data
# {cite}`salimans2016improved`. Check the formula by maximising over a grid of $D$ values:

# %%
xs = np.linspace(-4, 6, 401)
p_x = np.exp(-0.5 * xs**2) / np.sqrt(2 * np.pi)  # data: N(0, 1)
# fakes: N(2.5, 0.7^2)
q_x = np.exp(-0.5 * ((xs - 2.5) / 0.7) ** 2) / (0.7 * np.sqrt(2 * np.pi))
d_grid = np.linspace(1e-4, 1 - 1e-4, 20_001)
fig, ax = plt.subplots(figsize=(8, 4))
for t_r, t_f, name in [
    (1.0, 0.0, "no smoothing"),
    (0.9, 0.0, "one-sided (0.9, 0)"),
    (0.9, 0.1, "two-sided (0.9, 0.1)"),
]:
    a = p_x * t_r + q_x * t_f
    b = p_x * (1 - t_r) + q_x * (1 - t_f)
    brute = d_grid[
        np.argmax(a[:, None] * np.log(d_grid) + b[:, None] * np.log(1 - d_grid), axis=1)
    ]
    formula = a / (p_x + q_x)
    assert np.abs(brute - formula).max() < 1e-4
    ax.plot(
        xs,
        formula,
        lw=2,
        label=f"{name}: $D^*$ at x = 5 is {formula[xs.searchsorted(5.0)]:.3f}",
    )
ax.fill_between(xs, 0, p_x, color="tab:blue", alpha=0.15, label="data density")
ax.fill_between(xs, 0, q_x, color="tab:orange", alpha=0.15, label="fake density")
ax.set_title("Optimal discriminator with label smoothing (formula = grid search)")
ax.set_xlabel("x")
ax.set_ylabel("$D^*(x)$")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Where only fakes live ($x = 5$), the one-sided $D^*$ is still (almost) 0, as without
# smoothing, while the two-sided one is stuck at $0.1$: a floor that rewards fakes for
# staying there.
#
# ## What goes wrong in common tutorial code
#
# Each of these appears above as a cell you can run:
#
# * a "Wasserstein loss" without the Lipschitz constraint (unbounded, section 4.3) or
#   with a sigmoid on the critic (total variation, which saturates, section 4.4);
# * interpolation weights $\alpha$ drawn from a normal instead of $U(0, 1)$ (section 4.5);
# * trusting the loss curves, or a few nice samples, instead of measuring coverage
#   (section 5);
# * smoothing the fake labels as well as the real ones (section 5.3).
#
# The labs ({doc}`practice_pytorch`, {doc}`practice_keras`) add the knobs of practice:
# learning-rate schedules, gradient clipping, batch size, batch normalization, label
# smoothing and separate learning rates, each as a small experiment.
#
# ## Exercises
#
# :::{exercise}
# :label: practice-concepts-ex-gaussians
# For two Gaussians with the same variance, $W_1(\mathcal N(\mu_1, \sigma^2), \mathcal N(\mu_2, \sigma^2)) = \lvert \mu_1 - \mu_2 \rvert$.
# Why? Check it with `w1_sorted` on 100,000 samples each, and compute the JS
# divergence of the same pair as $\mu_2$ grows (reuse `jsd` on a grid). Which of the
# two would you rather follow with gradient descent when $\lvert \mu_1 - \mu_2 \rvert = 20\sigma$?
# :::
#
# :::{solution} practice-concepts-ex-gaussians
# :class: dropdown
# The map $x \mapsto x + (\mu_2 - \mu_1)$ transports the first Gaussian onto the second and
# moves every point by $\lvert \mu_1 - \mu_2 \rvert$, so $W_1 \le \lvert \mu_1 - \mu_2 \rvert$; the
# 1-Lipschitz critic $f(x) = \pm x$ gives $\mathbb{E}_p f - \mathbb{E}_q f = \lvert \mu_1 - \mu_2 \rvert$,
# so $W_1 \ge \lvert \mu_1 - \mu_2 \rvert$. With samples:
#
# ```python
# r = np.random.default_rng(0)
# a, b = r.normal(0, 1, 100_000), r.normal(3, 1, 100_000)
# print(w1_sorted(a, b))          # close to 3
# ```
#
# At $20\sigma$ the JS divergence equals $\log 2$ to many digits and its slope is
# numerically zero, while $W_1$ still has slope 1: follow $W_1$.
# :::
#
# :::{exercise}
# :label: practice-concepts-ex-extragradient
# The **extragradient** method takes a trial step and then steps with the gradient
# measured at the trial point: $\tilde x = x - \eta y$, $\tilde y = y + \eta x$, then
# $x \leftarrow x - \eta \tilde y$, $y \leftarrow y + \eta \tilde x$. Run it on the game
# $\min_x \max_y xy$ of section 1 from $(1, 0)$ with $\eta = 0.1$. Does it converge? By
# what factor does $x^2 + y^2$ change per step?
# :::
#
# :::{solution} practice-concepts-ex-extragradient
# :class: dropdown
# It converges. One step is $x' = (1 - \eta^2)x - \eta y$, $y' = \eta x + (1 - \eta^2) y$, a
# rotation scaled by $\sqrt{(1 - \eta^2)^2 + \eta^2} = \sqrt{1 - \eta^2 + \eta^4}$, so
# $x^2 + y^2$ shrinks by $1 - \eta^2 + \eta^4 = 0.9901$ per step:
#
# ```python
# x, y = 1.0, 0.0
# for _ in range(1000):
#     xt, yt = x - 0.1 * y, y + 0.1 * x
#     x, y = x - 0.1 * yt, y + 0.1 * xt
# print(x * x + y * y, 0.9901 ** 1000)     # equal: about 4.8e-5
# ```
#
# Looking one step ahead cancels the rotation, the idea behind optimistic and
# extragradient methods for GANs, and related to unrolling {cite}`metz2017unrolled`.
# :::
#
# :::{exercise}
# :label: practice-concepts-ex-far
# In section 4.5 the fakes sit in a blob inside the ring. Move them far away,
# `fake = rng.normal(0, 0.3, (512, 2)) + [8, 0]`, and redraw both panels. Where does the
# correct penalty act now, and what fraction of the buggy interpolates lands *behind* the
# fakes (on the side away from the data)?
# :::
#
# :::{solution} practice-concepts-ex-far
# :class: dropdown
# With $\alpha \sim U(0, 1)$ the interpolates fill the band between the ring and the far
# blob: exactly the region the fakes must cross, where the critic's slope of 1 gives the
# generator its gradient. With $\alpha \sim \mathcal N(0, 1)$, $\alpha < 0$ puts $\hat x$ behind the
# fakes, with probability $\Phi(0) = 0.5$, and $\alpha > 1$ beyond the real data, with
# probability $1 - \Phi(1) \approx 0.16$: half of the penalty is spent where no sample will
# ever be.
# :::
#
# :::{exercise}
# :label: practice-concepts-ex-reverse-kl
# Why does `mode_coverage` report $\mathrm{KL}(\hat p \,\|\, U)$ and not $\mathrm{KL}(U \,\|\, \hat p)$?
# Compute both for the counts `[1000, 1000, 0, 0, 0, 0, 0, 0]` and
# `[1998, 2, 0, 0, 0, 0, 0, 0]`.
# :::
#
# :::{solution} practice-concepts-ex-reverse-kl
# :class: dropdown
# $\mathrm{KL}(U \,\|\, \hat p) = \sum_k \tfrac1K \log \tfrac{1/K}{\hat p_k}$ is infinite as soon as one
# mode is empty, so both examples get $+\infty$ and cannot be ranked. $\mathrm{KL}(\hat p \,\|\, U)$
# gives $\log 8 - \log 2 = 1.386$ for the first and $\log 8 - H(0.999, 0.001) = 2.071$ for
# the second (closer to total collapse, $\log 8 = 2.079$).
# :::
