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
# # Generative adversarial networks: the concepts
#
# A **generative adversarial network** (GAN, 生成对抗网络) {cite}`goodfellow2014gan` learns
# to produce samples that look like the training data without ever writing down a
# density. Two networks are trained against each other:
#
# * the **generator** (生成器) $G$ turns random noise $z$ into a sample $G(z)$;
# * the **discriminator** (判别器) $D$ looks at a sample and outputs the probability
#   that it is real rather than generated.
#
# This notebook is framework-neutral: only NumPy and Matplotlib. You will
#
# 1. write down the game the two networks play and draw its training loop,
# 2. derive the optimal discriminator and **check it numerically**,
# 3. see that the game minimises the Jensen–Shannon divergence, and why that
#    divergence gives no gradient when real and fake data do not overlap,
# 4. compare the *saturating* and *non-saturating* generator losses,
# 5. train a tiny GAN, backpropagation written by hand, on a ring of 8 Gaussians and
#    watch it **drop modes**.
#
# The labs then train a real GAN on MNIST in {doc}`PyTorch <gan_pytorch>` and in
# {doc}`Keras <gan_keras>`.

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

from aigc_course import is_fast, pick, set_seed, show_source
from aigc_course.data import ring_centers, ring_of_gaussians
from aigc_course.metrics import high_quality_fraction, mode_counts, modes_covered
from aigc_course.toy_gan import ToyGAN

set_seed(0)
print(f"NumPy {np.__version__}; fast mode: {is_fast()}")

# %% [markdown]
# (gan-concepts-minimax)=
# ## 1. The minimax game
#
# Let $p_{\text{data}}$ be the data distribution and $p_z$ a simple noise distribution,
# here $\mathcal N(0, I)$. The generator's samples $G(z)$, $z \sim p_z$, have some
# distribution $p_g$ that we never write down; we can only sample from it. The two
# players share one **value function**
#
# $$
# V(D, G) = \mathbb{E}_{x \sim p_{\text{data}}}\big[\log D(x)\big]
#         + \mathbb{E}_{z \sim p_z}\big[\log\big(1 - D(G(z))\big)\big],
# $$
#
# which is the log-likelihood of a binary classifier that labels real data 1 and
# generated data 0. The discriminator maximises it and the generator minimises it: a
# **minimax game** (极小极大博弈)
#
# $$
# \min_G \max_D V(D, G).
# $$
#
# Its solution is a **Nash equilibrium** (纳什均衡): a pair $(D, G)$ in which neither
# player can do better by changing only its own strategy. We will see below that it
# is reached when $p_g = p_{\text{data}}$ and $D \equiv \tfrac12$: the generator copies the
# data and the discriminator can only guess.
#
# In practice both players are neural networks with parameters $\theta_D$ and
# $\theta_G$, and training alternates stochastic gradient steps:
#
# ```{mermaid}
# flowchart LR
#     Z["noise z ~ p_z"] --> G["generator G"]
#     G --> XF["fake sample x̃ = G(z)"]
#     XR["real sample x ~ p_data"] --> D["discriminator D"]
#     XF --> D
#     D --> P["probability of 'real': D(x), D(x̃)"]
#     P --> LD["D's loss: −log D(x) − log(1 − D(x̃))"]
#     P --> LG["G's loss: −log D(x̃)"]
#     LD -- "gradient step on θ_D" --> D
#     LG -- "gradient step on θ_G, back through D" --> G
# ```
#
# The generator never sees the data: everything it learns arrives as a gradient
# passed back *through* the discriminator. (The generator loss in the diagram,
# $-\log D(\tilde x)$, is the *non-saturating* variant; section 4 explains why it is
# used instead of $\log(1 - D(\tilde x))$.)
#
# (gan-concepts-optimal-d)=
# ## 2. The optimal discriminator
#
# Fix the generator. Writing both expectations as integrals over $x$,
#
# $$
# V(D, G) = \int \Big[ p_{\text{data}}(x) \log D(x) + p_g(x) \log\big(1 - D(x)\big) \Big]\, dx .
# $$
#
# $D$ can choose its value at every $x$ separately, so we maximise the integrand
# pointwise. With $a = p_{\text{data}}(x)$, $b = p_g(x)$ and $y = D(x) \in (0, 1)$:
#
# $$
# f(y) = a \log y + b \log(1 - y), \qquad
# f'(y) = \frac{a}{y} - \frac{b}{1 - y} = 0
# \;\Longrightarrow\; y = \frac{a}{a + b},
# $$
#
# and $f''(y) = -a/y^2 - b/(1-y)^2 < 0$, so this is the maximum. Hence
#
# $$
# D^*(x) = \frac{p_{\text{data}}(x)}{p_{\text{data}}(x) + p_g(x)} .
# $$
#
# **Check it numerically.** Take two 1-D Gaussians, $p_{\text{data}} = \mathcal N(0, 1)$
# and $p_g = \mathcal N(2, 0.7^2)$, draw samples from each, and *train* a discriminator
# by maximising the empirical value function, exactly as a GAN does, just without
# the generator moving. Its logit $\ell(x) = \log D(x) - \log(1 - D(x))$ must be able
# to represent $\log D^* - \log(1 - D^*) = \log p_{\text{data}}(x) - \log p_g(x)$, which
# for two Gaussians is a quadratic in $x$; so our discriminator is a logistic
# regression on the features $(1, x, x^2)$. Its objective is concave, and we
# maximise it with Newton's method.

# %%
def gaussian_pdf(x, mean, std):
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


def sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


MEAN_DATA, STD_DATA, MEAN_G, STD_G = 0.0, 1.0, 2.0, 0.7
rng = np.random.default_rng(0)
n = pick(full=200_000, fast=50_000)
x_real = rng.normal(MEAN_DATA, STD_DATA, n)
x_fake = rng.normal(MEAN_G, STD_G, n)


def features(x):
    return np.stack([np.ones_like(x), x, x**2], axis=1)


def empirical_value(w):
    """mean log D(x_real) + mean log(1 - D(x_fake)), with D(x) = sigmoid(features(x) @ w)."""
    return np.mean(np.log(sigmoid(features(x_real) @ w))) + np.mean(
        np.log(1 - sigmoid(features(x_fake) @ w))
    )


F_real, F_fake = features(x_real), features(x_fake)
w = np.zeros(3)  # start from D = 1/2 everywhere
for _ in range(25):  # Newton's method: w <- w - H^{-1} grad
    d_real, d_fake = sigmoid(F_real @ w), sigmoid(F_fake @ w)
    grad = ((1 - d_real)[:, None] * F_real).mean(0) - (d_fake[:, None] * F_fake).mean(0)
    hess = (
        -(
            np.einsum("n,ni,nj->ij", d_real * (1 - d_real), F_real, F_real)
            + np.einsum("n,ni,nj->ij", d_fake * (1 - d_fake), F_fake, F_fake)
        )
        / n
    )
    w = w - np.linalg.solve(hess, grad)
print(
    f"empirical V at D = 1/2: {empirical_value(np.zeros(3)):.4f} (= -log 4 = {-np.log(4):.4f}); "
    f"after training: {empirical_value(w):.4f}; |gradient| = {np.abs(grad).max():.1e}"
)

grid = np.linspace(-4, 5, 901)
p_data, p_g = gaussian_pdf(grid, MEAN_DATA, STD_DATA), gaussian_pdf(grid, MEAN_G, STD_G)
d_star = p_data / (p_data + p_g)
d_trained = sigmoid(features(grid) @ w)
max_diff = np.abs(d_trained - d_star).max()
print(f"max |D_trained - D*| on [-4, 5]: {max_diff:.4f}")
assert max_diff < 0.02, max_diff

fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(
    grid,
    p_data,
    color="tab:blue",
    alpha=0.5,
    label=r"$p_{\mathrm{data}} = \mathcal{N}(0, 1)$",
)
ax.plot(
    grid, p_g, color="tab:orange", alpha=0.5, label=r"$p_g = \mathcal{N}(2, 0.7^2)$"
)
ax.plot(grid, d_star, color="black", lw=2, label=r"closed form $D^*(x)$")
ax.plot(
    grid,
    d_trained,
    color="tab:red",
    ls="--",
    lw=2,
    label="discriminator trained on samples",
)
ax.set_title("The trained discriminator matches $D^* = p_{data} / (p_{data} + p_g)$")
ax.set_xlabel("x")
ax.set_ylabel("density  /  probability of 'real'")
ax.legend(loc="center left", fontsize=9)
plt.show()

# %% [markdown]
# Where only real data lives, $D^* \to 1$; where only fakes live, $D^* \to 0$; where
# the two densities are equal (the crossing points), $D^* = \tfrac12$. Notice also what
# the discriminator's logit learns: the log density ratio
# $\log p_{\text{data}}(x) - \log p_g(x)$. A discriminator is a *density-ratio estimator*,
# and that is all the information the generator ever receives.
#
# ## 3. The Jensen–Shannon divergence, and when it stops helping
#
# Put $D^*$ back into $V$. With the mixture $m = \tfrac12 (p_{\text{data}} + p_g)$,
#
# $$
# \begin{aligned}
# V(D^*, G) &= \mathbb{E}_{p_{\text{data}}}\Big[\log \frac{p_{\text{data}}}{p_{\text{data}} + p_g}\Big]
#            + \mathbb{E}_{p_g}\Big[\log \frac{p_g}{p_{\text{data}} + p_g}\Big] \\
#           &= \mathbb{E}_{p_{\text{data}}}\Big[\log \frac{p_{\text{data}}}{2m}\Big]
#            + \mathbb{E}_{p_g}\Big[\log \frac{p_g}{2m}\Big]
#            = -\log 4 + \mathrm{KL}(p_{\text{data}} \,\|\, m) + \mathrm{KL}(p_g \,\|\, m) \\
#           &= -\log 4 + 2\,\mathrm{JSD}(p_{\text{data}} \,\|\, p_g),
# \end{aligned}
# $$
#
# where $\mathrm{JSD}(p \,\|\, q) = \tfrac12 \mathrm{KL}(p \,\|\, m) + \tfrac12 \mathrm{KL}(q \,\|\, m)$ is
# the **Jensen–Shannon divergence** (JS 散度). It is symmetric, it lies between $0$
# (when $p = q$) and $\log 2$ (when $p$ and $q$ do not overlap), and so
# $\min_G V(D^*, G) = -\log 4$ exactly when $p_g = p_{\text{data}}$: with a perfect
# discriminator, the generator minimises the JS divergence to the data.
#
# Let us verify the identity on discretised distributions (probability vectors on a
# grid), for a few pairs including a pair with disjoint supports, where $0 \log 0 = 0$.

# %%
def xlogy(x, y):
    """x * log(y), with 0 * log(0) = 0 (the convention of entropies and divergences)."""
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    out = np.zeros_like(x)
    nz = x > 0
    out[nz] = x[nz] * np.log(y[nz])
    return out


def kl(p, q):
    return float(np.sum(xlogy(p, p) - xlogy(p, q)))


def jsd(p, q):
    m = 0.5 * (p + q)
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def value_at_optimal_d(p, q):
    """V(D*, G) = sum_x p log D*(x) + q log(1 - D*(x)), with D* = p / (p + q)."""
    s = p + q
    return float(
        np.sum(
            xlogy(p, p / np.where(s > 0, s, 1)) + xlogy(q, q / np.where(s > 0, s, 1))
        )
    )


def discretise(density):
    return density / density.sum()


x = np.linspace(-10, 10, 2001)
pairs = {
    "N(0,1) vs N(2,0.7²)": (gaussian_pdf(x, 0, 1), gaussian_pdf(x, 2, 0.7)),
    "N(0,1) vs itself": (gaussian_pdf(x, 0, 1), gaussian_pdf(x, 0, 1)),
    "2-mode mixture vs N(0,1)": (
        gaussian_pdf(x, -2, 0.5) + gaussian_pdf(x, 2, 0.5),
        gaussian_pdf(x, 0, 1),
    ),
    "disjoint uniforms": ((x < -1).astype(float), (x > 1).astype(float)),
}
for name, (p, q) in pairs.items():
    p, q = discretise(p), discretise(q)
    lhs, rhs = value_at_optimal_d(p, q), -np.log(4) + 2 * jsd(p, q)
    print(
        f"{name:>26}: V(D*, G) = {lhs:+.8f}   -log 4 + 2 JSD = {rhs:+.8f}   JSD = {jsd(p, q):.6f}"
    )
    assert abs(lhs - rhs) < 1e-6
print(f"{'log 2':>26} = {np.log(2):.6f}")

# %% [markdown]
# Now move a "generator" $p_g = \mathcal N(\mu, 1)$ away from $p_{\text{data}} = \mathcal N(0, 1)$
# and watch the JS divergence and its slope $d\,\mathrm{JSD} / d\mu$, the signal a
# generator following $V(D^*, G)$ would get.

# %%
shifts = np.linspace(0, 12, 241)
p = discretise(gaussian_pdf(x, 0, 1))
jsd_curve = np.array([jsd(p, discretise(gaussian_pdf(x, mu, 1))) for mu in shifts])
slope = np.gradient(jsd_curve, shifts)
print(
    f"JSD at mu = 0, 3, 6, 10: {jsd_curve[[0, 60, 120, 200]].round(5)};  log 2 = {np.log(2):.5f}"
)
print(f"slope at mu = 1, 3, 6, 10: {slope[[20, 60, 120, 200]]}")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].plot(
    shifts, jsd_curve, lw=2, label=r"JSD$(\mathcal{N}(0,1) \,\|\, \mathcal{N}(\mu,1))$"
)
axes[0].axhline(np.log(2), color="gray", ls="--", label=r"$\log 2$")
axes[0].set_title("JS divergence saturates at log 2")
axes[0].set_xlabel(r"separation $\mu$")
axes[0].set_ylabel("JSD (nats)")
axes[0].legend()
axes[1].semilogy(shifts[1:], np.abs(slope[1:]), lw=2, color="tab:red")
axes[1].set_title("... and its gradient vanishes")
axes[1].set_xlabel(r"separation $\mu$")
axes[1].set_ylabel(r"$|d\,\mathrm{JSD} / d\mu|$ (log scale)")
plt.show()

# %% [markdown]
# Once the two distributions barely overlap, moving the generator closer does not
# change the JS divergence: it is stuck at $\log 2$ and its gradient is (numerically)
# zero. For images this is the normal case, not the exception: real images and early
# generated images lie on thin, low-dimensional sets in pixel space that almost never
# intersect, so a well-trained discriminator separates them perfectly, $D^*$ is $1$ on
# the data and $0$ on the fakes, and the game as written gives the generator **no
# gradient** {cite}`arjovsky2017wgan`. Two practical answers follow: change the
# generator's loss (next section), or change the divergence (the Wasserstein GAN,
# which measures *how far* apart the distributions are, not just whether they overlap).
#
# (gan-concepts-losses)=
# ## 4. Saturating and non-saturating generator losses
#
# Write the discriminator's output on a fake through its logit, $D(G(z)) = \sigma(\ell)$.
# The minimax game asks the generator to minimise the **saturating** loss
# $\log(1 - \sigma(\ell))$; practice uses the **non-saturating** loss
# $-\log \sigma(\ell)$ {cite}`goodfellow2014gan`, which has the same fixed point (both
# push $D(G(z))$ up) but very different gradients:
#
# $$
# \frac{d}{d\ell} \log\big(1 - \sigma(\ell)\big) = -\sigma(\ell),
# \qquad
# \frac{d}{d\ell} \big(-\log \sigma(\ell)\big) = -\big(1 - \sigma(\ell)\big).
# $$
#
# Early in training the discriminator easily spots fakes: $D(G(z)) = \sigma(\ell) \approx 0$.
# Then the saturating gradient $-\sigma(\ell)$ is almost zero, exactly when the generator
# most needs a signal, while the non-saturating gradient is almost $-1$. First, check
# the two formulas against finite differences:

# %%
def saturating(logit):
    # log(1 - sigma(l)) = -softplus(l), computed stably
    return -np.logaddexp(0, logit)


def non_saturating(logit):
    return np.logaddexp(0, -logit)  # -log sigma(l) = softplus(-l)


logits = np.linspace(-10, 10, 401)
h = 1e-5
for name, loss, closed_form in [
    ("saturating", saturating, -sigmoid(logits)),
    ("non-saturating", non_saturating, -(1 - sigmoid(logits))),
]:
    finite_diff = (loss(logits + h) - loss(logits - h)) / (2 * h)
    err = np.abs(finite_diff - closed_form).max()
    print(f"{name:>15}: max |finite difference - closed form| = {err:.1e}")
    assert err < 1e-8

# %%
d_fake = sigmoid(logits)  # D(G(z)) from 4.5e-5 to 1 - 4.5e-5
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].plot(d_fake, saturating(logits), lw=2, label=r"saturating: $\log(1 - D(G(z)))$")
axes[0].plot(
    d_fake, non_saturating(logits), lw=2, label=r"non-saturating: $-\log D(G(z))$"
)
axes[0].set_title("Generator losses (both are minimised)")
axes[0].set_ylabel("loss")
axes[1].plot(d_fake, -sigmoid(logits), lw=2, label=r"saturating: $-\sigma(\ell)$")
axes[1].plot(
    d_fake, -(1 - sigmoid(logits)), lw=2, label=r"non-saturating: $-(1 - \sigma(\ell))$"
)
axes[1].set_title(r"Their gradients w.r.t. the logit $\ell$")
axes[1].set_ylabel(r"$d\,\mathrm{loss} / d\ell$")
for ax in axes:
    ax.axvspan(0, 0.1, color="gray", alpha=0.15)
    ax.set_xlabel(r"$D(G(z)) = \sigma(\ell)$  (shaded: early training, D wins)")
    ax.legend(fontsize=9)
plt.show()

# %% [markdown]
# The same effect inside a real (tiny) network: the toy GAN of the next section.
# We shrink its generator's last layer so that its samples form a small blob at the
# origin, far from the data (a ring of radius 2), freeze the generator, and train
# the discriminator alone for 300 steps, so that it wins as it does early in training.
# Then we measure the gradient that each loss sends to the generator's weights.

# %%
data, _ = ring_of_gaussians(4096, modes=8, radius=2.0, std=0.05, seed=0)
probe = ToyGAN(seed=0)
probe.G.params[-2] *= 0.1  # last weight matrix: fakes start near (0, 0)
probe.opt_g.lr = 0.0  # freeze the generator ...
probe.fit(data, steps=300)  # ... and train the discriminator alone
z = probe.noise(1024, np.random.default_rng(2))
d_of_fakes = probe.discriminate(probe.G.forward(z)[0])
print(
    f"after training D alone: mean D(x) on real data = {probe.discriminate(data).mean():.4f}, "
    f"mean D(G(z)) = {d_of_fakes.mean():.4f}"
)
norms = {}
for kind in ("saturating", "non-saturating"):
    probe.g_loss_kind = kind
    _, grads = probe.g_loss_and_grads(z)
    norms[kind] = np.sqrt(sum((g**2).sum() for g in grads))
    print(f"{kind:>15} loss: norm of the gradient on G's weights = {norms[kind]:.3g}")
print(f"ratio: {norms['non-saturating'] / norms['saturating']:.0f}x")
assert norms["non-saturating"] > 10 * norms["saturating"]

# %% [markdown]
# With plain gradient descent the saturating generator would take steps about that many
# times smaller. (Adam partly hides the difference: it divides each step by a running
# average of the gradient's size. {ref}`gan-concepts-ex-saturating` lets you
# see what that means on the toy problem.)
#
# ## 5. A toy GAN in NumPy, and mode collapse
#
# The target distribution is a ring of 8 tight Gaussians (standard deviation 0.05,
# radius 2): easy to plot, and with well-separated **modes**, so we can count how
# many of them the generator reproduces.
#
# The GAN is `aigc_course.toy_gan.ToyGAN`: a generator MLP $z \in \mathbb R^2 \to 64 \to 64 \to 2$
# and a discriminator MLP $2 \to 64 \to 64 \to$ logit (LeakyReLU activations), each
# with its own Adam optimiser, all in NumPy with backpropagation written out by hand.
# The two losses, with the derivative of each loss with respect to the logits that
# starts the backward pass:

# %%
show_source(ToyGAN, start="# --- losses", end="# --- end losses")

# %% [markdown]
# and the backward pass of an MLP is the chain rule, layer by layer:

# %%
from aigc_course.numpy_nn import MLP

show_source(MLP.backward)

# %% [markdown]
# Every one of these hand-written gradients is checked against finite differences in
# the course's tests. A sample **covers** a mode if it lies within 3 standard deviations
# ($0.15$) of the mode's centre, and we count a mode as covered when at least 1 % of
# 2,000 generated samples (20) cover it; otherwise it has been **dropped**.

# %%
centers = ring_centers(8, 2.0)
RADIUS, MIN_COUNT, N_EVAL = 3 * 0.05, 20, 2000
STEPS = pick(full=6000, fast=3000)  # generator updates per run
EVERY = 250  # measure coverage every EVERY steps
SNAPSHOTS = (0, 500, 1500, STEPS)

fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.scatter(data[:, 0], data[:, 1], s=2, alpha=0.3)
ax.scatter(
    centers[:, 0], centers[:, 1], marker="x", color="black", label="mode centres"
)
ax.set_title("Training data: a ring of 8 Gaussians")
ax.set_xlabel("$x_1$")
ax.set_ylabel("$x_2$")
ax.set_aspect("equal")
ax.legend(loc="center")
plt.show()

print(
    f"real data covers {modes_covered(data[:N_EVAL], centers, RADIUS, MIN_COUNT)} of 8 modes; "
    f"{high_quality_fraction(data[:N_EVAL], centers, RADIUS):.1%} of its points lie within "
    f"{RADIUS:.2f} of a centre"
)

# %%
def train_and_track(seed, steps=STEPS, **config):
    """Train a ToyGAN, measuring mode coverage every EVERY steps on the same 2,000 noise vectors."""
    gan = ToyGAN(seed=seed, **config)
    track = {"step": [], "modes": [], "quality": []}
    snapshots = {}
    while True:
        fake = gan.sample(N_EVAL, seed=123)
        track["step"].append(gan.steps_done)
        track["modes"].append(modes_covered(fake, centers, RADIUS, MIN_COUNT))
        track["quality"].append(high_quality_fraction(fake, centers, RADIUS))
        if gan.steps_done in SNAPSHOTS:
            snapshots[gan.steps_done] = fake
        if gan.steps_done >= steps:
            return gan, track, snapshots
        gan.fit(data, EVERY, log_every=EVERY)


gan, track, snapshots = train_and_track(seed=0, lr_d=1e-3, lr_g=1e-3)

fig, axes = plt.subplots(
    1, len(snapshots), figsize=(3.2 * len(snapshots), 3.4), sharex=True, sharey=True
)
for ax, (step, fake) in zip(axes, snapshots.items()):
    ax.scatter(
        data[:N_EVAL, 0], data[:N_EVAL, 1], s=2, alpha=0.3, color="gray", label="real"
    )
    ax.scatter(
        fake[:, 0], fake[:, 1], s=2, alpha=0.3, color="tab:blue", label="generated"
    )
    k = modes_covered(fake, centers, RADIUS, MIN_COUNT)
    ax.set_title(f"step {step}: {k}/8 modes")
    ax.set_xlabel("$x_1$")
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_aspect("equal")
axes[0].set_ylabel("$x_2$")
axes[0].legend(loc="center", markerscale=4, fontsize=8)
fig.suptitle("Toy GAN (learning rate 1e-3): generated samples during training")
plt.show()

# %% [markdown]
# The generator first produces a blob, then stretches it along the ring, and then
# concentrates mass on the modes. Now train the same GAN, same architecture and
# loss, with learning rates three times larger for both players, and follow the
# number of covered modes over training (three seeds each; one in fast mode).

# %%
CONFIGS = {"lr 1e-3": dict(lr_d=1e-3, lr_g=1e-3), "lr 3e-3": dict(lr_d=3e-3, lr_g=3e-3)}
SEEDS = pick(full=(0, 1, 2), fast=(0,))
runs = {}
for name, config in CONFIGS.items():
    for seed in SEEDS:
        if name == "lr 1e-3" and seed == 0:
            runs[name, seed] = (gan, track)  # trained above
        else:
            runs[name, seed] = train_and_track(seed=seed, **config)[:2]
        g, t = runs[name, seed]
        counts = mode_counts(g.sample(N_EVAL, seed=123), centers, RADIUS)
        print(
            f"{name}, seed {seed}: {t['modes'][-1]}/8 modes after {STEPS} steps, "
            f"{t['quality'][-1]:.0%} of samples on a mode; samples per mode: {counts}"
        )

# %%
colors = {"lr 1e-3": "tab:blue", "lr 3e-3": "tab:red"}
fig, axes = plt.subplots(
    1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [1.6, 1, 1]}
)
for (name, seed), (_g, t) in runs.items():
    axes[0].plot(
        t["step"],
        np.array(t["modes"]) + 0.05 * seed,
        color=colors[name],
        alpha=0.8,
        label=name if seed == SEEDS[0] else None,
    )
axes[0].set_title(
    "Modes covered during training"
    + (f" ({len(SEEDS)} seeds each)" if len(SEEDS) > 1 else "")
)
axes[0].set_xlabel("generator step")
axes[0].set_ylabel("modes covered (of 8)")
axes[0].set_ylim(-0.2, 8.5)
axes[0].legend()
for ax, name in zip(axes[1:], CONFIGS):
    g, t = runs[name, SEEDS[0]]
    fake = g.sample(N_EVAL, seed=123)
    ax.scatter(
        data[:N_EVAL, 0], data[:N_EVAL, 1], s=2, alpha=0.3, color="gray", label="real"
    )
    ax.scatter(
        fake[:, 0], fake[:, 1], s=2, alpha=0.3, color=colors[name], label="generated"
    )
    ax.legend(loc="center", markerscale=4, fontsize=8)
    ax.set_title(f"{name}, seed {SEEDS[0]}, step {STEPS}: {t['modes'][-1]}/8 modes")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_aspect("equal")
plt.show()

# %% [markdown]
# With the larger learning rate the generator piles its samples onto a few modes and
# never comes back for the others: **mode collapse** (模式崩溃), here in its partial
# form, *mode dropping*. In the course's full-mode runs (seeds 0–2, 6,000 steps) the
# learning rate $10^{-3}$ ended with 7, 8 and 7 of the 8 modes, the two "missing" ones
# still holding 5 and 17 samples (under-represented rather than empty), while
# $3 \times 10^{-3}$ ended with 5, 5 and 5, seed 0 with three modes completely
# empty. Fast mode (seed 0, 3,000 steps) gives 7 against 4. The numbers printed
# above may differ slightly on your machine: floating-point details change the
# trajectory of a training run like this one.
#
# Why does the game allow this? The generator's loss, $-\mathbb{E}_z[\log D(G(z))]$, is
# evaluated only *at the generator's own samples*. A dropped mode is a region where
# $D$ says "real" but where no fake lands, so no gradient pulls the generator there:
# each step rewards making the current samples more convincing, not covering the
# data. The global minimum of the game, $p_g = p_{\text{data}}$, does cover every mode;
# the trouble is that alternating gradient steps search for it locally. With large
# steps the generator overshoots toward whichever regions currently fool $D$, and the
# discriminator, one step at a time, lags behind. Remedies studied in the literature
# include unrolling the discriminator {cite}`metz2017unrolled`, minibatch
# discrimination {cite}`salimans2016improved`, gradient penalties
# {cite}`mescheder2018convergence`,
# and the Wasserstein GAN {cite}`arjovsky2017wgan`; exercise
# {ref}`gan-concepts-ex-remedy` tries two simple ones.
#
# ## What goes wrong in common tutorial code
#
# Much GAN code copied between tutorials runs without errors and still does not
# train: fakes produced where no gradient can flow back to the generator, a
# discriminator that is not frozen (or not excluded from the optimiser) during the
# generator's update, a flat generator output fed to an image discriminator, or a
# generator "trained" alone against a constant target. The labs
# ({doc}`gan_pytorch`, {doc}`gan_keras`) run each of these bugs so you can see its
# symptom, next to the fixed code.
#
# ## Exercises
#
# :::{exercise}
# :label: gan-concepts-ex-dstar
# At the Nash equilibrium $p_g = p_{\text{data}}$. What is $D^*$ there, what is
# $V(D^*, G)$, and what value of the discriminator's loss
# $L_D = -\mathbb{E}[\log D(x)] - \mathbb{E}[\log(1 - D(G(z)))]$ (the BCE loss that the
# labs print) corresponds to it?
# :::
#
# :::{solution} gan-concepts-ex-dstar
# :class: dropdown
# $D^*(x) = p/(p + p) = \tfrac12$ everywhere, so
# $V(D^*, G) = \log\tfrac12 + \log\tfrac12 = -\log 4 \approx -1.386$, in agreement with
# $-\log 4 + 2\,\mathrm{JSD}(p \,\|\, p) = -\log 4$. The discriminator's loss is
# $L_D = -V = \log 4 = 2 \log 2 \approx 1.386$. A discriminator loss that stays near
# 1.39 means $D$ cannot tell real from fake; one that falls to 0 means $D$ has won and
# (with the saturating loss) the generator's gradient is gone.
# :::
#
# :::{exercise}
# :label: gan-concepts-ex-saturating
# Train the toy GAN of section 5 with the saturating generator loss,
# `train_and_track(seed=0, g_loss="saturating")`, and compare its mode curve with the
# non-saturating run. Does the vanishing gradient of section 4 stop it from learning?
# If not, why not? (Hint: look at what `Adam.step` in `aigc_course/numpy_nn.py` does to
# a gradient that is uniformly 100 times too small.)
# :::
#
# :::{solution} gan-concepts-ex-saturating
# :class: dropdown
# In the course's runs (seeds 0–2, 6,000 steps) the saturating loss also reached all
# 8 modes: on this toy problem it is not worse, for two reasons. First, the
# discriminator never wins decisively here: the generator's first samples already
# overlap the ring, and the mean of $D(G(z))$ stays between about 0.3 and 0.5 during
# training, where $-\sigma(\ell)$ is not small (compare the probe above, where we
# *made* $D$ win and measured a gradient over 100 times smaller). Second, Adam's step
# $\hat m / (\sqrt{\hat v} + \epsilon)$ does not change when every gradient is multiplied
# by the same constant, so a gradient that is uniformly small is scaled back up. With
# plain SGD, or in image GANs where $D$ separates real from fake early and for a
# long time, the vanishing gradient does slow the generator down, and the
# non-saturating loss remains the standard choice.
# :::
#
# :::{exercise}
# :label: gan-concepts-ex-remedy
# Keep the collapsing learning rate $3 \times 10^{-3}$ and try two remedies:
# (a) five discriminator steps per generator step, `d_steps=5`;
# (b) a slower generator, `lr_g=1e-3` with `lr_d=3e-3` (two time-scale updates,
# {cite}`heusel2017ttur`). For example, `train_and_track(seed=1, lr_d=3e-3, lr_g=3e-3,
# d_steps=5)` returns the GAN and its coverage curve. Which remedy brings back the
# dropped modes? Use two or three seeds before you conclude anything.
# :::
#
# :::{solution} gan-concepts-ex-remedy
# :class: dropdown
# In the course's runs (seeds 0–2, 6,000 steps, coverage measured as in section 5;
# compare 5, 5 and 5 modes for `lr_d = lr_g = 3e-3` with one D step):
#
# * (a) `d_steps=5` with both learning rates at $3 \times 10^{-3}$ ended with 6, 6 and 5 of
#   the 8 modes: barely better. A discriminator that takes more steps does not stop a
#   generator that takes steps too large.
# * (b) `lr_d=3e-3, lr_g=1e-3` ended with 7, 6 and 7 modes, and covered all 8 for most
#   of training in seeds 1 and 2: slowing the *generator* down helps more, because
#   the discriminator can then keep up with it and punish the regions it piles onto.
#
# In both, the modes that count as missing at the end still hold 5–19 of the 2,000
# samples: under-represented rather than empty (print `mode_counts` to see), unlike
# the three empty modes of the collapsed run above. Neither fix is a guarantee: mode
# collapse is a property of the training *dynamics*, which is why the literature
# has so many remedies.
# :::
