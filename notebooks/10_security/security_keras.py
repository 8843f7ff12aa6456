# ---
# jupyter:
#   aigc_course:
#     edit: security_lab.py, then run make sync
#     generated_from: security_lab.py
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: aigc_course
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lab: membership inference and DP-SGD from scratch in Keras
#
# This lab trains the course's VAE on a small set of digits, measures how much it
# gives away about them, and then trains it with **DP-SGD** (差分隐私随机梯度下降)
# {cite}`abadi2016dpsgd` written from scratch, with no privacy library. You will
#
# 1. attack an overfitted VAE with **membership inference** (成员推断)
#    {cite}`shokri2017membership,hayes2019logan`: was this image in the training set?
# 2. compute the norm of **every example's gradient** without ever forming those
#    gradients (the trick of {cite}`goodfellow2015efficient`), check it against
#    gradients computed one example at a time, and build the DP-SGD step from it:
#    clip, sum, add Gaussian noise, step;
# 3. choose the noise with the course's privacy accountant, {mod}`aigc_course.privacy`,
#    and plot the **privacy/quality trade-off**.
#
# The code runs on TensorFlow and on PyTorch as Keras backends; on TensorFlow the
# training step is traced into a graph. The PyTorch lab ({doc}`security_pytorch`) does
# the same with the Opacus library and adds a fake-image detector; the theory is in
# {doc}`security_concepts`.
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) the VAEs are small, the
# training set has 256 images and two private models are trained, so the notebook
# runs in well under a minute on a CPU. On a Colab GPU, leave it unset: the full run
# trains on 2,048 images and sweeps six privacy budgets.
# ```

# %%
# Install the course package if it is missing (on Colab, Kaggle or a fresh Jupyter);
# where it is installed already, this cell does nothing.
import importlib

try:
    importlib.import_module("aigc_course")
except ImportError:
    print("Installing the course package (about a minute) ...")
    # %pip install -q "aigc-course[keras] @ git+https://github.com/aigc-course/aigc-course@v0.6.0"

# %%
import os

# or "torch"; before importing keras
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# hide TensorFlow's start-up chatter
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import ops

# a text bar: renders the same in Jupyter, Colab and on the website
from tqdm import tqdm

from aigc_course import check_gpu, is_fast, pick, privacy, security, show_source
from aigc_course.data import load_mnist, random_subset
from aigc_course.keras import MODELS, set_seed
from aigc_course.keras.core import apply_gradients, input_gradients
from aigc_course.keras.vae import bernoulli_nll, gaussian_kl, reparameterize
from aigc_course.plotting import plot_history, show_images

check_gpu()  # no GPU and AIGC_COURSE_FAST unset: switches to fast mode, and says so
set_seed(0)
print(
    f"Keras {keras.__version__} on the {keras.backend.backend()} backend; fast mode: {is_fast()}"
)

# %% [markdown]
# ## 1. Members and non-members
#
# Two disjoint sets of real MNIST digits from the same distribution: the **members**
# are the VAE's training set, the **non-members** are never seen by it (they also
# serve as the held-out set for the ELBO).

# %%
N = pick(full=2048, fast=256)
images, _ = load_mnist("train")
(pool,) = random_subset(2 * N, images, seed=0)
members, nonmembers = pool[:N], pool[N:]
print(f"{len(members)} members, {len(nonmembers)} non-members")
show_images(members[:32] / 255.0, title="Some members (training images)", nrow=8);

# %% [markdown]
# ## 2. Membership inference on an overfitted VAE
#
# The model is `MODELS["vae"]`, the MLP VAE of {doc}`../04_vaes/vae_keras` (narrower
# in fast mode). Many epochs on few images make it **overfit** (过拟合).

# %%
HIDDEN = pick(full=(512, 256), fast=(128, 64))
EPOCHS = pick(full=100, fast=30)
BATCH = pick(full=128, fast=64)
set_seed(0)
vae = MODELS["vae"](hidden=HIDDEN)
history = vae.fit(
    members, epochs=EPOCHS, batch_size=BATCH, verbose=pick(full="auto", fast=2)
)
print(
    f"{vae.count_params():,} parameters, {EPOCHS} epochs, "
    f"final training loss {history.history['loss'][-1]:.1f} nats"
)
plot_history(
    history.history, keys=["loss"], title="Non-private VAE: -ELBO on the members"
)
plt.show()

# %% [markdown]
# **The attack** thresholds the model's own score, the ELBO (a lower bound on
# $\log p(x)$, in nats): an image the model finds likely is declared a member.
# Sweeping the threshold gives the ROC curve; we report its area (AUC, $0.5$ is a coin
# flip), the **membership advantage** $\max(\mathrm{TPR}-\mathrm{FPR})$
# {cite}`yeom2018privacy` and the true-positive rate at a 1 % false-positive rate
# {cite}`carlini2022membership`, all from {mod}`aigc_course.security`. The last one
# matters most: an attack that is sure about a few members is dangerous even when its
# AUC, an average over all thresholds, is modest.

# %%
ELBO_SAMPLES = pick(full=16, fast=4)


def attack(model):
    """ELBO scores of members and non-members, and the attack's metrics."""
    s_in = model.elbo(members, seed=1, samples=ELBO_SAMPLES)
    s_out = model.elbo(nonmembers, seed=2, samples=ELBO_SAMPLES)
    return (
        s_in,
        s_out,
        {
            "AUC": security.roc_auc(s_in, s_out),
            "advantage": security.advantage(s_in, s_out),
            "TPR@1%FPR": security.tpr_at_fpr(s_in, s_out, 0.01),
        },
    )


s_in, s_out, mia = attack(vae)
print(
    f"mean ELBO: members {s_in.mean():.1f}, non-members {s_out.mean():.1f} nats "
    f"(generalisation gap {s_in.mean() - s_out.mean():.1f})"
)
print({k: round(v, 3) for k, v in mia.items()})

# the advantage is the largest vertical gap between the ROC curve and the diagonal
fpr, tpr, _ = security.roc_curve(s_in, s_out)
assert np.isclose(mia["advantage"], np.max(tpr - fpr))
assert np.isclose(mia["AUC"], np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
bins = np.linspace(min(s_in.min(), s_out.min()), max(s_in.max(), s_out.max()), 40)
ax1.hist(s_in, bins, alpha=0.6, label="members")
ax1.hist(s_out, bins, alpha=0.6, label="non-members")
ax1.set(title="ELBO of the overfitted VAE", xlabel="ELBO (nats)", ylabel="images")
ax1.legend()
ax2.plot(fpr, tpr, label=f"ELBO threshold (AUC {mia['AUC']:.2f})")
ax2.plot([0, 1], [0, 1], "k:", label="coin flip")
ax2.set(
    title="Membership inference: ROC",
    xlabel="false-positive rate",
    ylabel="true-positive rate",
)
ax2.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The attack works because of the **generalisation gap**, the printed difference of
# mean ELBOs: the model fits its own training images better than new ones.
#
# **Do the samples copy members?** Are the model's samples closer to its training
# images than to equally many images it never saw? `nearest_neighbour_distance` finds
# each sample's closest image in a set.

# %%
samples = vae.sample(pick(full=512, fast=128), seed=0)
d_in, i_in = security.nearest_neighbour_distance(samples, members / 255.0)
d_out, _ = security.nearest_neighbour_distance(samples, nonmembers / 255.0)
print(
    f"samples closer to a member than to any non-member: {np.mean(d_in < d_out):.0%} "
    f"(50% = no preference)"
)
pairs = np.stack([samples[:8], members[i_in[:8]] / 255.0], axis=1).reshape(-1, 28, 28)
show_images(pairs, title="Samples (odd) and their nearest member (even)", nrow=8);

# %% [markdown]
# A VAE's samples are blurry averages and rarely exact copies; large diffusion models
# do reproduce training images {cite}`carlini2023extracting`.
#
# ## 3. DP-SGD from scratch
#
# DP-SGD {cite}`abadi2016dpsgd` changes only the gradient of each step:
#
# 1. **Poisson sampling** (泊松采样): each example joins the batch with probability $q$;
# 2. per-example gradients $g_i$, each **clipped** (裁剪) to norm at most $C$:
#    $\bar g_i = g_i \min(1, C/\lVert g_i\rVert)$;
# 3. $\tilde g = \big(\sum_i \bar g_i + \mathcal N(0, \sigma^2 C^2 I)\big) / (qN)$,
#    handed to the optimizer.
#
# The expensive part is step 2: deep-learning frameworks compute the gradient of the
# *sum* of the losses, not each example's gradient. Computing them one example at a
# time (microbatches of size 1) is correct but slow.
#
# ### 3.1 Per-example gradient norms for free
#
# For a dense layer $z = aW + b$ the gradient of example $i$'s loss is the outer
# product $\nabla_W \ell_i = a_i^\top \delta_i$ of the layer's input $a_i$ and
# $\delta_i = \partial \ell_i / \partial z_i$, so its norm is
# $\lVert a_i\rVert\,\lVert\delta_i\rVert$ and $\nabla_b \ell_i = \delta_i$
# {cite}`goodfellow2015efficient`. And the $\delta_i$ of *all* examples come out of one
# ordinary backward pass: $\ell_j$ does not depend on $z_i$ for $j \ne i$, so
# $\partial(\sum_j \ell_j)/\partial z_i = \delta_i$. To get them we add a zero "tap"
# $t$ to every dense layer's pre-activation, $z = aW + b + t$, and differentiate the
# summed loss with respect to $t$ with the course's backend-neutral `input_gradients`.
# The VAE's layers are used as they are (its `Dense` weights, activations, `Flatten`
# and `Reshape`); only the pre-activation gets the tap.

# %%
def dense_layers(vae):
    return [
        layer
        for seq in (vae.encoder, vae.decoder)
        for layer in seq.layers
        if isinstance(layer, keras.layers.Dense)
    ]


def tapped_losses(vae, x, eps, taps, inputs):
    """Per-example -ELBO; ``taps`` (B, total units) is added to every Dense pre-activation
    and each Dense layer's input is appended to ``inputs``."""
    offset = 0

    def run(seq, h):
        nonlocal offset
        for layer in seq.layers:
            if isinstance(layer, keras.layers.Dense):
                inputs.append(h)
                z = (
                    ops.matmul(h, layer.kernel)
                    + layer.bias
                    + taps[:, offset : offset + layer.units]
                )
                h = layer.activation(z)
                offset += layer.units
            else:
                # Flatten, Reshape: no weights
                h = layer(h)
        return h

    mu, logvar = ops.split(run(vae.encoder, x), 2, axis=-1)
    logits = run(vae.decoder, reparameterize(mu, logvar, eps))
    return bernoulli_nll(logits, x) + gaussian_kl(mu, logvar)


def clipped_gradient_sum(vae, x, eps, weights, clip_norm):
    """sum_i weights_i min(1, C / ||g_i||) g_i for each weight of the VAE, and the ||g_i||."""
    layers = dense_layers(vae)
    inputs = []
    taps = ops.zeros((ops.shape(x)[0], sum(layer.units for layer in layers)))
    deltas = ops.stop_gradient(
        input_gradients(lambda t: tapped_losses(vae, x, eps, t, inputs), taps)
    )
    inputs = [ops.stop_gradient(a) for a in inputs[-len(layers) :]]
    squared, parts, offset = 0.0, [], 0
    for layer, a in zip(layers, inputs):
        d = deltas[:, offset : offset + layer.units]  # delta_i of this layer
        offset += layer.units
        parts.append((a, d))
        # ||g_W||^2 + ||g_b||^2
        squared += (ops.sum(a * a, axis=1) + 1.0) * ops.sum(d * d, axis=1)
    norms = ops.sqrt(squared)
    scale = ops.minimum(1.0, clip_norm / (norms + 1e-6)) * weights
    grads = []
    # sum_i scale_i a_i^T delta_i
    for a, d in parts:
        grads += [
            ops.matmul(ops.transpose(a), d * scale[:, None]),
            ops.sum(d * scale[:, None], axis=0),
        ]
    return grads, norms


# %% [markdown]
# **Check against microbatches of size 1.** For a few examples we compute the gradient
# the slow way, one example at a time, with the course's `apply_gradients` and plain
# SGD with learning rate 1 on a copy of the model (the weight change is $-g_i$), and
# compare norms. Without clipping, the sum must also equal the gradient of the whole
# batch.

# %%
CLIP = 1.0
set_seed(0)
probe = MODELS["vae"](hidden=HIDDEN)
rng = np.random.default_rng(0)
x = (rng.random((32, 28, 28, 1)) < members[:32, ..., None] / 255.0).astype("float32")
eps = rng.standard_normal((32, probe.latent_dim)).astype("float32")
x_t, eps_t = ops.convert_to_tensor(x), ops.convert_to_tensor(eps)
grads, norms = clipped_gradient_sum(probe, x_t, eps_t, ops.ones((32,)), clip_norm=1e9)
norms = ops.convert_to_numpy(norms)


def slow_gradient(rows):
    """Gradient of the summed loss of x[rows], via one SGD(lr=1) step on a copy."""
    copy = MODELS["vae"](hidden=HIDDEN)
    copy.set_weights(probe.get_weights())
    before = [ops.convert_to_numpy(v) for v in copy.trainable_variables]

    def loss_fn():
        mu, logvar = copy.posterior(x_t[rows])
        logits = copy.decoder(reparameterize(mu, logvar, eps_t[rows]))
        return ops.sum(bernoulli_nll(logits, x_t[rows]) + gaussian_kl(mu, logvar))

    apply_gradients(keras.optimizers.SGD(1.0), loss_fn, copy.trainable_variables)
    return [
        b - ops.convert_to_numpy(v) for b, v in zip(before, copy.trainable_variables)
    ]


for i in range(3):
    slow = np.sqrt(sum(np.sum(g**2) for g in slow_gradient(slice(i, i + 1))))
    print(f"example {i}: ||g_i|| fast {norms[i]:.4f}, one at a time {slow:.4f}")
    assert np.isclose(norms[i], slow, rtol=1e-3)
batch = slow_gradient(slice(0, 32))
err = max(
    np.abs(b - ops.convert_to_numpy(g)).max() / np.abs(b).max()
    for b, g in zip(batch, grads)
)
print(f"unclipped sum vs batch gradient: max relative difference {err:.1e}")
assert err < 1e-3
print(
    f"per-example norms: median {np.median(norms):.1f} "
    f"-> with C = {CLIP} every example is clipped"
)

# %% [markdown]
# One backward pass gives all norms: the cost is about that of two ordinary training
# steps, whatever the batch size, and no $(B \times \text{parameters})$ array of
# per-example gradients is ever stored. (The trick needs each layer's input to be one
# vector per example; convolutions need more bookkeeping, which Opacus does for you.)
#
# ### 3.2 The DP-SGD step
#
# The trainer is a small `keras.Model` whose `train_step` does one DP-SGD step on the
# VAE's weights; Keras traces it into a TensorFlow graph (on the torch backend it runs
# eagerly). **Poisson sampling** is done exactly: every step sees all $N$ members with
# a random 0/1 `mask`, each entry 1 with probability $q$. Masked-out examples get weight
# 0 in the clipped sum, so the shapes never change and the step is traced once (for
# large $N$ one would gather the selected rows instead).

# %%
class DPSGD(keras.Model):
    """Trains ``vae`` with DP-SGD: clip per-example gradients to ``clip_norm``, add noise."""

    def __init__(self, vae, clip_norm, noise_multiplier, expected_batch_size, seed=0):
        super().__init__()
        self.vae, self.clip_norm, self.noise_multiplier = (
            vae,
            clip_norm,
            noise_multiplier,
        )
        self.expected_batch_size = float(expected_batch_size)
        self.seed_gen = keras.random.SeedGenerator(seed)
        self.built = True

    def train_step(self, data):
        x, mask = ops.convert_to_tensor(data[0]), ops.convert_to_tensor(data[1])
        x = ops.cast(
            keras.random.uniform(ops.shape(x), seed=self.seed_gen) < x, "float32"
        )
        eps = keras.random.normal(
            (ops.shape(x)[0], self.vae.latent_dim), seed=self.seed_gen
        )
        grads, norms = clipped_gradient_sum(self.vae, x, eps, mask, self.clip_norm)
        std = self.noise_multiplier * self.clip_norm  # sigma C
        noisy = [
            (g + std * keras.random.normal(ops.shape(g), seed=self.seed_gen))
            / self.expected_batch_size
            for g in grads
        ]
        self.optimizer.apply(noisy, self.vae.trainable_variables)
        return {"batch_size": ops.sum(mask)}


# %% [markdown]
# The noise multiplier comes from the **accountant** (隐私核算):
# `privacy.noise_multiplier_for` finds the smallest $\sigma$ whose $\varepsilon$ after
# all steps is at most the target, at $\delta = 10^{-5}$. The accountant is the
# Rényi-DP analysis of the subsampled Gaussian mechanism
# {cite}`mironov2017renyi,mironov2019sampled`, in NumPy:

# %%
show_source(privacy, start="# --- rdp", end="# --- end rdp")

# %% [markdown]
# The same recipe as the non-private model (VAE, members, epochs, expected batch size),
# except a larger learning rate, `DP_LR`, since the noisy average of clipped gradients
# makes small, noisy steps.

# %%
DELTA = 1e-5
DP_LR = pick(full=3e-3, fast=1e-2)
TARGETS = pick(full=[0.5, 1.0, 2.0, 4.0, 8.0, 16.0], fast=[1.0, 16.0])
Q = BATCH / N  # sample rate
STEPS = EPOCHS * N // BATCH  # the same expected number of epochs


def train_private(target_epsilon, seed=0):
    """A fresh VAE trained on the members with DP-SGD; returns (vae, sigma, epsilon)."""
    sigma = privacy.noise_multiplier_for(target_epsilon, Q, STEPS, DELTA)
    set_seed(seed)
    model = MODELS["vae"](hidden=HIDDEN)
    trainer = DPSGD(model, CLIP, sigma, expected_batch_size=Q * N, seed=seed)
    trainer.compile(optimizer=keras.optimizers.Adam(DP_LR), jit_compile=False)
    x_all = (members / 255.0).astype("float32")[..., None]
    rng = np.random.default_rng(seed)
    for _ in tqdm(
        range(STEPS), desc=f"DP-SGD, eps = {target_epsilon}", disable=is_fast()
    ):
        mask = (rng.random(N) < Q).astype("float32")  # Poisson sampling
        trainer.train_on_batch(x_all, mask)
    return model, sigma, privacy.compute_epsilon(sigma, Q, STEPS, DELTA)


private = {}
for target in TARGETS:
    model, sigma, spent = train_private(target)
    private[target] = model
    print(
        f"target eps {target:4}: sigma = {sigma:.2f}, {STEPS} steps, eps spent = {spent:.2f}"
    )
    assert spent <= target

# %% [markdown]
# ### 3.3 The trade-off
#
# Quality is the held-out ELBO (higher is better); privacy is measured by the success of
# the attack of section 2 (an AUC of 0.5 is a coin flip). The non-private VAE is the
# point at $\varepsilon = \infty$, the dashed line.

# %%
results = {}
for target, model in private.items():
    s_m, s_n, m = attack(model)
    results[target] = {"ELBO": s_n.mean(), **m}
baseline = {"ELBO": s_out.mean(), **mia}
print(f"{'eps':>8} {'held-out ELBO':>14} {'AUC':>6} {'advantage':>10}")
for target, r in [*results.items(), ("inf", baseline)]:
    print(f"{target:>8} {r['ELBO']:14.1f} {r['AUC']:6.3f} {r['advantage']:10.3f}")

# an attack that guesses at random still scatters: std of its AUC, formula vs simulation
null_std = np.sqrt((2 * N + 1) / (12 * N * N))
rng = np.random.default_rng(0)
simulated = np.std([security.roc_auc(rng.random(N), rng.random(N)) for _ in range(400)])
print(
    f"std of a random attack's AUC with {N} + {N} images: {null_std:.3f} "
    f"(simulated {simulated:.3f})"
)
assert abs(simulated - null_std) < 0.2 * null_std
print(
    "largest AUC of any attack: "
    + ", ".join(
        f"eps = {e}: {privacy.max_auc(e, DELTA):.3f}"
        for e in sorted({1.0, 8.0, *TARGETS})
    )
)

privacy.plot_tradeoff(results, baseline, DELTA)
plt.show()
assert results[TARGETS[0]]["ELBO"] < results[TARGETS[-1]]["ELBO"], (
    "more privacy, worse ELBO"
)
assert all(r["AUC"] <= privacy.max_auc(e, DELTA) for e, r in results.items())

fig, axes = plt.subplots(1, len(private) + 1, figsize=(3 * (len(private) + 1), 3.2))
for ax, (name, model) in zip(
    axes, [*[(f"ε = {e}", m) for e, m in private.items()], ("non-private", vae)]
):
    show_images(model.sample(16, seed=0), title=name, nrow=4, ax=ax)
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the table and the plots together. **Quality**: at the smallest $\varepsilon$
# the model has barely learned anything (look at its samples), and the held-out ELBO
# improves as $\varepsilon$ grows (asserted above). **Privacy**: the red curve is what
# differential privacy promises, the largest AUC that *any* membership test can reach
# at that $\varepsilon$. It follows from the hypothesis-testing view of DP
# {cite}`kairouz2015composition`: every test has
# $\mathrm{TPR} \le e^{\varepsilon}\,\mathrm{FPR} + \delta$ (and the mirror
# inequality), and `privacy.max_auc` integrates that bound. Its printed values show
# that $\varepsilon = 1$ still allows a clearly better-than-chance attack, and that
# $\varepsilon = 8$ promises practically nothing about a single attack's AUC. Our
# simple attack stays below the curve (asserted), and its AUCs, each measured on one
# split of $N + N$ images, scatter by about the printed standard deviation: differences
# of that size between the points are noise. The AUC measures one attack; $\varepsilon$
# bounds all of them, including those not invented yet.
#
# With a few hundred or thousand images there is little signal to share among the
# examples, and the noise $\sigma C$ is large next to the clipped sum, at most
# $qN \cdot C$. DP-SGD pays off on large data sets, where the same noise is spread over
# far more examples: Abadi et al. trained on 60,000 digits {cite}`abadi2016dpsgd`.
#
# ## Exercises
#
# :::{exercise}
# :label: security-keras-ex-microbatch
# Write the naive DP-SGD gradient with microbatches of size 1 (a Python loop over the
# examples, each gradient from `slow_gradient`), clip, sum, and compare its result
# with `clipped_gradient_sum` for `clip_norm=CLIP`. Time both for 32 examples.
# :::
#
# :::{solution} security-keras-ex-microbatch
# :class: dropdown
# For each `i`, `g = slow_gradient(slice(i, i + 1))`, `n = sqrt(sum((w ** 2).sum() for w in g))`
# and add `min(1, CLIP / n) * w` to a running sum for each weight `w`. The result matches
# `clipped_gradient_sum(probe, x_t, eps_t, ops.ones((32,)), CLIP)[0]` to about 1e-5,
# and is tens to hundreds of times slower: 32 separate forward and backward passes
# (plus a model copy each) instead of one.
# :::
#
# :::{exercise}
# :label: security-keras-ex-clip
# Train `train_private(4.0)` with clipping norms `CLIP` of 0.1, 1 and 10. Does the
# held-out ELBO change? Explain with the per-example norms printed in section 3.1 and
# with the way Adam rescales its steps.
# :::
#
# :::{solution} security-keras-ex-clip
# :class: dropdown
# All three norms are far below the per-example gradient norms, so every example is
# clipped and the clipped sum is $C$ times a sum of unit vectors; the noise is
# $\sigma C$ times a Gaussian. Both scale with $C$, and Adam divides its step by the
# gradient's running scale, so the three runs are nearly the same (up to Adam's small
# $\epsilon$). With plain SGD, $C$ would act like a learning rate. $C$ matters when it
# is comparable to the norms: then large-gradient examples are clipped and small ones
# are not.
# :::
#
# :::{exercise}
# :label: security-keras-ex-steps
# With `privacy.compute_epsilon`, plot $\varepsilon$ against the number of steps (10 to
# 10,000) for $\sigma = 1$, $q = 0.01$, $\delta = 10^{-5}$. How does it grow? What does
# that mean for training longer?
# :::
#
# :::{solution} security-keras-ex-steps
# :class: dropdown
# `steps = np.unique(np.logspace(1, 4, 20).astype(int))`,
# `eps = [privacy.compute_epsilon(1.0, 0.01, int(t), 1e-5) for t in steps]`, on log-log
# axes. The Rényi DP adds up linearly over steps, and $\varepsilon$ grows roughly like
# the square root of the number of steps: every extra epoch spends privacy, so
# private training fixes the number of steps in advance and picks $\sigma$ for it.
# :::
