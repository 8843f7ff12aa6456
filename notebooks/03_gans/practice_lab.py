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
# # Lab: GANs in practice with PyTorch  # [torch]
# # Lab: GANs in practice with Keras 3  # [keras]
#
# In this lab you train the three classic GAN variants of {doc}`practice_concepts` on  # [torch]
# MNIST, measure whether they cover all ten digits, and then turn the knobs that GAN  # [torch]
# tutorials list, one small experiment each. You will  # [torch]
# The same lab as {doc}`practice_pytorch`, in Keras 3: you train the three classic GAN  # [keras]
# variants of {doc}`practice_concepts` on MNIST, measure whether they cover all ten  # [keras]
# digits, and then turn the knobs that GAN tutorials list, one small experiment each.  # [keras]
# You will  # [keras]
#
# 1. train a **DCGAN** (深度卷积生成对抗网络), a **conditional GAN** (条件生成对抗网络)
#    that draws any digit on demand, and a **WGAN-GP**, reading each training step;
# 2. diagnose **mode collapse** (模式崩溃) with a digit classifier, the course's
#    *evaluator*;
# 3. compare **learning-rate schedules** (学习率调度), **gradient clipping** (梯度裁剪) by
#    the L2 norm and by the ∞-norm, batch sizes, **batch normalization** (批归一化) on and
#    off, one-sided **label smoothing** (标签平滑), and separate learning rates for the two
#    players (TTUR).
#
# The same lab exists in Keras ({doc}`practice_keras`), with the same models, the same  # [torch]
# parameter counts and the same experiments.  # [torch]
# The models have the same layers and parameter counts as the PyTorch ones. The lab  # [keras]
# runs on the TensorFlow backend (Colab's default) and on the PyTorch backend; choose  # [keras]
# with `KERAS_BACKEND` *before* Keras is imported.  # [keras]
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) every model is narrow and
# trains for a few steps on a few hundred images, so the digits below are noise and
# the comparisons between knobs are not meaningful: they only show that the code runs.
# On a Colab GPU leave it unset: the full run takes about 10 minutes
# (An estimate: it has not been timed on a GPU yet.)
# With `AIGC_COURSE_PRETRAINED=1` the DCGAN, the conditional GAN and the WGAN-GP are not
# trained: the lab loads the course checkpoints (trained with the full recipe) instead.
# ```

# %%
# Install the course package if it is missing (on Colab, Kaggle or a fresh Jupyter);
# where it is installed already, this cell does nothing.
import importlib

try:
    importlib.import_module("aigc_course")
except ImportError:
    print("Installing the course package (about a minute) ...")
    # %pip install -q "aigc-course[torch] @ git+https://github.com/aigc-course/aigc-course@v0.6.0"  # [torch]
    # %pip install -q "aigc-course[keras] @ git+https://github.com/aigc-course/aigc-course@v0.6.0"  # [keras]

# %% tags=["torch"]
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

import aigc_course.torch.gan as gan_module
from aigc_course import check_gpu, is_fast, pick, pretrained, show_source
from aigc_course.data import load_mnist, random_subset
from aigc_course.evaluator import load_evaluator
from aigc_course.metrics import frechet_distance, mode_coverage
from aigc_course.plotting import compare_samples, plot_history, show_images
from aigc_course.torch import MODELS, SampleGrid, get_device, set_seed
from aigc_course.torch.clipping import (
    GradientClipper,
    clip_gradients,
    grad_norm,
    step_per_batch,
)

# no GPU and AIGC_COURSE_FAST unset: switches to fast mode, and says so
gpu = check_gpu(pretrained=True)
set_seed(0)
device = get_device()
print(f"PyTorch {torch.__version__} on {device}; fast mode: {is_fast()}")

# %% tags=["keras"]
import os

# or "torch"; before importing keras
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# hide TensorFlow's start-up chatter
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import math
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import ops

import aigc_course.keras.gan as gan_module
from aigc_course import check_gpu, is_fast, pick, pretrained, show_source
from aigc_course.data import load_mnist, random_subset
from aigc_course.evaluator import load_evaluator
from aigc_course.keras import MODELS, SampleGrid, set_seed
from aigc_course.keras.clipping import GradientClipper, clip_gradients, grad_norm
from aigc_course.metrics import frechet_distance, mode_coverage
from aigc_course.plotting import compare_samples, plot_history, show_images

# no GPU and AIGC_COURSE_FAST unset: switches to fast mode, and says so
gpu = check_gpu(pretrained=True)
set_seed(0)
print(
    f"Keras {keras.__version__} on the {keras.backend.backend()} backend; fast mode: {is_fast()}"
)

# %% [markdown]
# ## 1. Data and the evaluator
#
# MNIST images with their labels (the conditional GAN needs them). Offline, the loader
# falls back to a 5,000-image subset and says so.

# %%
images, labels = load_mnist("train")
images, labels = random_subset(pick(full=len(images), fast=256), images, labels, seed=0)
test_images, test_labels = load_mnist("test")
print(
    f"training on {len(images):,} images; {len(test_images):,} test images for reference"
)

# width of the DCGAN and WGAN-GP networks (64 is the default)
CHANNELS = pick(full=64, fast=8)
N_EVAL = pick(full=5000, fast=500)  # generated images per evaluation
# a digit is "hit" if it gets at least 1 % of the samples
MIN_COUNT = N_EVAL // 100

# %% [markdown]
# The losses of a GAN do not tell you whether the samples are good or diverse
# ({doc}`practice_concepts`, section 1), so we measure the samples instead. The
# course's **evaluator** is a small MNIST classifier (an MLP in NumPy, trained once and
# cached) that gives each image  # [torch]
# cached, the same for both labs) that gives each image  # [keras]
#
# * a predicted digit: the class counts of generated samples feed `mode_coverage`
#   (digits hit and $\mathrm{KL}(\hat p \,\|\, \text{uniform})$, {doc}`practice_concepts`, section 5);
# * a 128-dimensional feature vector: the Fréchet distance between the features of
#   generated and real images (the formula of FID, on this classifier's features rather
#   than Inception's, so only comparable within this course) measures quality and
#   diversity together. Lower is better.
#
# Real test images give the floor that a perfect generator would reach.

# %%
ev = load_evaluator("mnist")
print(ev)
(reference,) = random_subset(N_EVAL, test_images, seed=1)
ref_features = ev.features(reference)


def measure(samples):
    """Digits hit, KL to uniform, class counts and classifier Fréchet distance of generated images."""
    cov = mode_coverage(ev.predict(samples), num_classes=10, min_count=MIN_COUNT)
    return {**cov, "fd": frechet_distance(ev.features(samples), ref_features)}


(real_other,) = random_subset(N_EVAL, images, seed=2)
real_scores = measure(real_other)
print(
    f"real training images: {real_scores['modes_hit']}/10 digits, KL {real_scores['kl_to_uniform']:.4f}, "
    f"Fréchet distance {real_scores['fd']:.2f} (the floor)"
)

# %% [markdown]
# ## 2. DCGAN
#
# The DCGAN's generator follows the guidelines of {doc}`practice_concepts` (section 2):
# a dense projection to $7 \times 7$ feature maps, two stride-2 transposed convolutions
# up to $28 \times 28$, batch normalization and ReLU in between, `tanh` at the end.
# (`padding="same"` with stride 2 doubles the size, like PyTorch's `padding=1`.)  # [keras]

# %%
show_source(gan_module.dcgan_generator)

# %% [markdown]
# The discriminator mirrors it with stride-2 convolutions and LeakyReLU. Only the
# networks differ from the MLP GAN of {doc}`gan_pytorch`: the losses, the optimizers  # [torch]
# networks differ from the MLP GAN of {doc}`gan_keras`: the losses, the optimizers  # [keras]
# (Adam, $2 \times 10^{-4}$, $\beta_1 = 0.5$) and the training step are inherited unchanged.

# %%
set_seed(0)
dcgan = MODELS["dcgan"](channels=CHANNELS)
print(
    f"DCGAN with {CHANNELS} channels: generator {sum(p.numel() for p in dcgan.generator.parameters()):,} "  # [torch]
    f"parameters, discriminator {sum(p.numel() for p in dcgan.discriminator.parameters()):,}"  # [torch]
    f"DCGAN with {CHANNELS} channels: generator {dcgan.generator.count_params():,} "  # [keras]
    f"parameters, discriminator {dcgan.discriminator.count_params():,}"  # [keras]
)
show_source(type(dcgan).train_step)

# %% [markdown]
# with the two non-saturating losses, computed from logits:

# %%
show_source(gan_module, start="# --- losses", end="# --- end losses")

# %% tags=["torch"]
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    dcgan = pretrained.load("dcgan", "mnist", device=device)
    history_dcgan = pretrained.history("dcgan", "mnist")
else:
    history_dcgan = dcgan.fit(
        images,
        epochs=pick(full=10, fast=2),
        batch_size=pick(full=128, fast=64),
        callbacks=[SampleGrid(every=pick(full=5, fast=2), n=32)],
        seed=0,
        verbose=pick(full=1, fast=2),
    ).history
dcgan_seconds = time.perf_counter() - t0
print(f"{'loaded' if pretrained.use_only() else 'trained'} in {dcgan_seconds:.0f} s")

# %% tags=["keras"]
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    dcgan = pretrained.load("dcgan", "mnist", framework="keras")
    history_dcgan = pretrained.history("dcgan", "mnist")
else:
    history_dcgan = dcgan.fit(
        images,
        epochs=pick(full=10, fast=2),
        batch_size=pick(full=128, fast=64),
        callbacks=[SampleGrid(every=pick(full=5, fast=2), n=32)],
        verbose=pick(full="auto", fast=2),
    ).history
dcgan_seconds = time.perf_counter() - t0
print(f"{'loaded' if pretrained.use_only() else 'trained'} in {dcgan_seconds:.0f} s")

# %%
plot_history(history_dcgan, title="DCGAN losses (PyTorch)")  # [torch]
plot_history(history_dcgan, title=f"DCGAN losses (Keras, {keras.backend.backend()})")  # [keras]
plt.show()
dcgan_scores = measure(dcgan.sample(N_EVAL, seed=0))
print(
    f"DCGAN: {dcgan_scores['modes_hit']}/10 digits, KL {dcgan_scores['kl_to_uniform']:.3f}, "
    f"Fréchet distance {dcgan_scores['fd']:.2f}"
)

# %% [markdown]
# ### Your DCGAN beside the course checkpoint
#
# This page was built in fast mode: a narrow DCGAN, trained for seconds. The course also
# publishes the DCGAN trained with the full recipe (`make pretrain MODEL=dcgan DATASET=mnist`),
# the same file for PyTorch and Keras; its scores are in {doc}`../08_evaluation/results`.
# Both generators below draw from the same noise vectors, and the evaluator scores the
# checkpoint's samples as it scored yours.

# %%
def your_title(history, n_images, seconds):
    """How your model was made: epochs, images, time and hardware of your run (or loaded)."""
    if pretrained.use_only():
        return "loaded, not trained (AIGC_COURSE_PRETRAINED=1)"
    epochs = len(next(iter(history.values())))
    return "your run: " + pretrained.training_summary(
        epochs, n_images, seconds, "GPU" if gpu else "CPU"
    )


if pretrained.is_published("dcgan", "mnist"):
    course_dcgan = pretrained.load("dcgan", "mnist", device=device)  # [torch]
    course_dcgan = pretrained.load("dcgan", "mnist", framework="keras")  # [keras]
    compare_samples(
        dcgan.sample(64, seed=0),
        course_dcgan.sample(64, seed=0),
        your_title(history_dcgan, len(images), dcgan_seconds),
        pretrained.describe("dcgan", "mnist"),
    )
    plt.show()
    s = measure(course_dcgan.sample(N_EVAL, seed=0))
    print(
        f"course checkpoint: {s['modes_hit']}/10 digits, KL {s['kl_to_uniform']:.3f}, "
        f"Fréchet distance {s['fd']:.2f}"
    )
else:
    print(
        "The course checkpoint dcgan/mnist is not published yet: "
        "`make pretrain MODEL=dcgan DATASET=mnist` trains it."
    )

# %% [markdown] tags=["torch"]
# ## 3. Conditional GAN: any digit on demand
#
# `CGAN` concatenates a learned embedding of the label with $z$ for the generator and
# with the flattened image for the discriminator. In the training step the fakes get
# the real batch's labels, so the discriminator learns to judge "is this a plausible
# image *of this digit*":

# %% [markdown] tags=["keras"]
# ## 3. Conditional GAN: any digit on demand
#
# `CGAN` concatenates a learned embedding of the label with $z$ for the generator and
# with the flattened image for the discriminator; both are two-input functional
# models. In the training step the fakes get the real batch's labels, so the
# discriminator learns to judge "is this a plausible image *of this digit*":

# %%
set_seed(0)
cgan = MODELS["cgan"]()
show_source(type(cgan).train_step)

# %% tags=["torch"]
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    cgan = pretrained.load("cgan", "mnist", device=device)
    history_cgan = pretrained.history("cgan", "mnist")
else:
    history_cgan = cgan.fit(
        images,
        labels,
        epochs=pick(full=10, fast=2),
        batch_size=pick(full=128, fast=64),
        seed=0,
        verbose=pick(full=1, fast=2),
    ).history
cgan_seconds = time.perf_counter() - t0
print(f"{'loaded' if pretrained.use_only() else 'trained'} in {cgan_seconds:.0f} s")
plot_history(history_cgan, title="Conditional GAN losses (PyTorch)")
plt.show()

# %% tags=["keras"]
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    cgan = pretrained.load("cgan", "mnist", framework="keras")
    history_cgan = pretrained.history("cgan", "mnist")
else:
    history_cgan = cgan.fit(
        images,
        labels,
        epochs=pick(full=10, fast=2),
        batch_size=pick(full=128, fast=64),
        verbose=pick(full="auto", fast=2),
    ).history
cgan_seconds = time.perf_counter() - t0
print(f"{'loaded' if pretrained.use_only() else 'trained'} in {cgan_seconds:.0f} s")
plot_history(
    history_cgan, title=f"Conditional GAN losses (Keras, {keras.backend.backend()})"
)
plt.show()

# %% [markdown]
# Ask for each digit: row $d$ of the grid holds `N_PER_DIGIT` samples of digit $d$, each
# column one noise vector. The evaluator then checks that the generator drew what it
# was asked for: the **conditional accuracy** is the fraction of samples classified as
# their requested digit.

# %%
N_PER_DIGIT = 8
grid = cgan.sample(
    10 * N_PER_DIGIT, seed=0, labels=np.repeat(np.arange(10), N_PER_DIGIT)
)
show_images(
    grid, title="Conditional GAN: row d shows digit d", nrow=N_PER_DIGIT, figsize=5
)
plt.show()

asked = np.arange(N_EVAL) % 10
cgan_samples = cgan.sample(N_EVAL, seed=0, labels=asked)
cgan_scores = measure(cgan_samples)
print(
    f"conditional accuracy: {ev.accuracy(cgan_samples, asked):.1%} of samples are the digit asked for "
    f"(the evaluator reads real test digits with accuracy {ev.test_accuracy:.1%})"
)
print(
    f"CGAN: {cgan_scores['modes_hit']}/10 digits, KL {cgan_scores['kl_to_uniform']:.3f}, "
    f"Fréchet distance {cgan_scores['fd']:.2f}"
)

# %% [markdown]
# ### Your conditional GAN beside the course checkpoint
#
# The course also publishes the conditional GAN trained with the full recipe
# (`make pretrain MODEL=cgan DATASET=mnist`), the same file for PyTorch and Keras (see
# {doc}`../08_evaluation/results`). Both models are asked for the same digits, one row per
# digit, with the same noise vectors; the evaluator then measures the checkpoint's
# conditional accuracy.

# %%
if pretrained.is_published("cgan", "mnist"):
    course_cgan = pretrained.load("cgan", "mnist", device=device)  # [torch]
    course_cgan = pretrained.load("cgan", "mnist", framework="keras")  # [keras]
    # row d: digit d, for both models
    digits = np.repeat(np.arange(10), N_PER_DIGIT)
    compare_samples(
        cgan.sample(len(digits), seed=0, labels=digits),
        course_cgan.sample(len(digits), seed=0, labels=digits),
        your_title(history_cgan, len(images), cgan_seconds),
        pretrained.describe("cgan", "mnist"),
        nrow=N_PER_DIGIT,
    )
    plt.show()
    print(
        f"course checkpoint: conditional accuracy "
        f"{ev.accuracy(course_cgan.sample(N_EVAL, seed=0, labels=asked), asked):.1%}"
    )
else:
    print(
        "The course checkpoint cgan/mnist is not published yet: "
        "`make pretrain MODEL=cgan DATASET=mnist` trains it."
    )

# %% [markdown] tags=["torch"]
# ## 4. WGAN-GP
#
# The critic scores images instead of classifying them; its loss is the negated
# Wasserstein estimate plus the gradient penalty, computed on interpolates with
# $\alpha \sim U(0, 1)$ ({doc}`practice_concepts`, section 4):

# %% [markdown] tags=["keras"]
# ## 4. WGAN-GP
#
# The critic scores images instead of classifying them; its loss is the negated
# Wasserstein estimate plus the gradient penalty, computed on interpolates with
# $\alpha \sim U(0, 1)$ ({doc}`practice_concepts`, section 4). The gradient of the
# critic with respect to its *input* comes from `input_gradients`, the second
# backend-specific function of the package (a nested `GradientTape` on TensorFlow,
# `torch.autograd.grad(create_graph=True)` on PyTorch):

# %%
show_source(
    gan_module, start="# --- Wasserstein losses", end="# --- end Wasserstein losses"
)

# %% [markdown]
# The training step makes `n_critic = 5` critic steps per generator step. The
# optimizers are Adam with $\beta_1 = 0$, $\beta_2 = 0.9$, as in the paper
# {cite}`gulrajani2017wgangp`; the critic has no batch normalization.

# %%
set_seed(0)
wgan = MODELS["wgan_gp"](channels=CHANNELS)
show_source(type(wgan).train_step)

# %% tags=["torch"]
(wgan_images,) = random_subset(pick(full=len(images), fast=64), images, seed=4)
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    wgan = pretrained.load("wgan_gp", "mnist", device=device)
    history_wgan = pretrained.history("wgan_gp", "mnist")
else:
    history_wgan = wgan.fit(
        wgan_images,
        epochs=pick(full=4, fast=2),
        batch_size=pick(full=64, fast=32),
        seed=0,
        verbose=pick(full=1, fast=2),
    ).history
wgan_seconds = time.perf_counter() - t0
print(f"{'loaded' if pretrained.use_only() else 'trained'} in {wgan_seconds:.0f} s")

# %% tags=["keras"]
(wgan_images,) = random_subset(pick(full=len(images), fast=64), images, seed=4)
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    wgan = pretrained.load("wgan_gp", "mnist", framework="keras")
    history_wgan = pretrained.history("wgan_gp", "mnist")
else:
    history_wgan = wgan.fit(
        wgan_images,
        epochs=pick(full=4, fast=2),
        batch_size=pick(full=64, fast=32),
        verbose=pick(full="auto", fast=2),
    ).history
wgan_seconds = time.perf_counter() - t0
print(f"{'loaded' if pretrained.use_only() else 'trained'} in {wgan_seconds:.0f} s")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
plot_history(
    history_wgan, keys=["critic_loss", "g_loss"], title="WGAN-GP losses", ax=axes[0]
)
plot_history(
    history_wgan,
    keys=["w_dist", "gp"],
    title="Wasserstein estimate and penalty",
    ax=axes[1],
)
axes[1].set_ylabel("value")
plt.show()
show_images(wgan.sample(32, seed=0), title="WGAN-GP samples", nrow=8)
plt.show()
wgan_scores = measure(wgan.sample(N_EVAL, seed=0))
print(
    f"WGAN-GP: {wgan_scores['modes_hit']}/10 digits, KL {wgan_scores['kl_to_uniform']:.3f}, "
    f"Fréchet distance {wgan_scores['fd']:.2f}"
)

# %% [markdown]
# `w_dist` is the critic's estimate of $W_1$ between the real and generated images. Unlike
# the DCGAN's losses, it tends to fall as the samples improve (once the critic has
# caught up in the first epoch), which makes it worth watching. The gradient penalty
# stays small when the critic's slope is held near 1.
#
# ### Your WGAN-GP beside the course checkpoint
#
# The course also publishes the WGAN-GP trained with the full recipe
# (`make pretrain MODEL=wgan_gp DATASET=mnist`), the same file for PyTorch and Keras (see
# {doc}`../08_evaluation/results`). The same noise vectors for both generators, and the
# same evaluator:

# %%
if pretrained.is_published("wgan_gp", "mnist"):
    course_wgan = pretrained.load("wgan_gp", "mnist", device=device)  # [torch]
    course_wgan = pretrained.load("wgan_gp", "mnist", framework="keras")  # [keras]
    compare_samples(
        wgan.sample(64, seed=0),
        course_wgan.sample(64, seed=0),
        your_title(history_wgan, len(wgan_images), wgan_seconds),
        pretrained.describe("wgan_gp", "mnist"),
    )
    plt.show()
    s = measure(course_wgan.sample(N_EVAL, seed=0))
    print(
        f"course checkpoint: {s['modes_hit']}/10 digits, KL {s['kl_to_uniform']:.3f}, "
        f"Fréchet distance {s['fd']:.2f}"
    )
else:
    print(
        "The course checkpoint wgan_gp/mnist is not published yet: "
        "`make pretrain MODEL=wgan_gp DATASET=mnist` trains it."
    )

# %% [markdown]
# ## 5. Diagnosing mode collapse
#
# A collapsed generator can produce beautiful samples, all of a few digits. Count the
# digits that the evaluator reads in each model's samples and compare with real images:

# %%
scores = {
    "real images": real_scores,
    "DCGAN": dcgan_scores,
    "CGAN": cgan_scores,
    "WGAN-GP": wgan_scores,
}
fig, ax = plt.subplots(figsize=(9, 3.5))
width = 0.8 / len(scores)
for i, (name, s) in enumerate(scores.items()):
    ax.bar(
        np.arange(10) + (i - 1.5) * width,
        s["counts"] / s["counts"].sum(),
        width,
        label=f"{name}: {s['modes_hit']}/10 digits, KL {s['kl_to_uniform']:.3f}",
    )
ax.axhline(0.1, color="gray", ls="--", lw=1)
ax.set_xticks(range(10))
ax.set_title("Which digits do the samples show? (evaluator predictions)")
ax.set_xlabel("predicted digit")
ax.set_ylabel("fraction of samples")
ax.legend(fontsize=8)
plt.show()
for name, s in scores.items():
    print(
        f"{name:>12}: digits hit {s['modes_hit']:>2}/10   KL to uniform {s['kl_to_uniform']:.3f}   "
        f"Fréchet distance {s['fd']:7.2f}"
    )

# %% [markdown]
# How to read it: a model whose bars pile onto a few digits, with a KL far above the
# real images', has collapsed, however good its samples look. The conditional GAN is
# balanced by construction (we asked for each digit equally often); what the evaluator
# adds for it is whether the requested digit is *recognisable* (the conditional accuracy
# above). An unconditional generator has no such guarantee, and its class histogram is
# the first thing to check. Two cautions: the evaluator's own mistakes on blurry
# samples look like imbalance (compare its accuracy on real digits), and a balanced
# histogram does not exclude collapse *within* a class; for that, look at the samples
# and at the Fréchet distance, which grows when the variety of the features shrinks.
# The course's own first CGAN checkpoint did exactly that: all ten digits, perfectly
# balanced, and nearly one image per digit, with a recall close to zero. Dropout in its
# discriminator fixed it (the runs that chose it: `benchmarks/explore_cgan.py` and its
# log in `benchmarks/results/`; the model card has the numbers of the checkpoint).
#
# ## 6. The training knobs
#
# Each experiment below changes **one** setting of a small DCGAN and compares it with
# the same baseline: the default DCGAN (Adam $2 \times 10^{-4}$, $\beta_1 = 0.5$, batch 64,
# batch norm in the generator, no label smoothing), trained on a subset for a few
# epochs. No model is edited: we configure its optimizers after construction  # [torch]
# (`model.optimizers = {...}`), and `GradientClipper` (from `aigc_course.torch.clipping`)  # [torch]
# hooks into an optimizer to record the discriminator's gradient norm, the learning  # [torch]
# rate and, when asked, to clip.  # [torch]
# epochs. No model is edited: we pass our own optimizers to `compile(g_optimizer=...,  # [keras]
# d_optimizer=...)`, and `GradientClipper` (from `aigc_course.keras.clipping`) wraps an  # [keras]
# optimizer to record the discriminator's gradient norm, the learning rate and, when  # [keras]
# asked, to clip. It must be passed to `fit`'s callbacks: on TensorFlow the training  # [keras]
# step runs as a compiled graph, and the callback copies the recorded numbers out  # [keras]
# after every batch.  # [keras]
#
# ```{admonition} One run is not an experiment
# :class: warning
# Every comparison here is one seed, one short run. GAN training is noisy: treat the
# differences as what to look at, not as results, and repeat a run with other seeds
# ({ref}`practice-pytorch-ex-seeds`) before you believe one.  # [torch]
# ({ref}`practice-keras-ex-seeds`) before you believe one.  # [keras]
# ```

# %% tags=["torch"]
(KNOB_IMAGES,) = random_subset(pick(full=20_000, fast=128), images, seed=3)
KNOB_EPOCHS = pick(full=3, fast=2)
BATCH = 64
knobs = {}


def train_knob(name, model=None, configure=None, batch_size=BATCH):
    """Train a DCGAN (``model`` or the default one) with one knob changed; keep the results.

    ``configure(model)`` may replace the optimizers and returns callbacks; if none of
    them is a GradientClipper, one that only measures the discriminator's L2 norm is added.
    """
    set_seed(0)
    model = model if model is not None else MODELS["dcgan"](channels=CHANNELS)
    model.to(device)
    # the defaults, unless configure changes them
    model.optimizers = model.configure_optimizers()
    callbacks = configure(model) if configure is not None else []
    if not any(isinstance(c, GradientClipper) for c in callbacks):
        callbacks.append(GradientClipper(model.optimizers["d"]))
    t0 = time.perf_counter()
    history = model.fit(
        KNOB_IMAGES,
        epochs=KNOB_EPOCHS,
        batch_size=batch_size,
        callbacks=callbacks,
        seed=0,
        verbose=0,
    )
    result = {
        "model": model,
        "history": history.history,
        "seconds": time.perf_counter() - t0,
        "clippers": [c for c in callbacks if isinstance(c, GradientClipper)],
        **measure(model.sample(N_EVAL, seed=0)),
    }
    knobs[name] = result
    print(
        f"{name:>24}: {result['seconds']:5.1f} s; last epoch d_loss {history.history['d_loss'][-1]:.3f}, "
        f"g_loss {history.history['g_loss'][-1]:.3f}; digits {result['modes_hit']}/10, "
        f"KL {result['kl_to_uniform']:.3f}, Fréchet distance {result['fd']:.2f}"
    )
    return result


baseline = train_knob(
    "baseline",
    configure=lambda m: [
        # measure only (max_norm=None)
        GradientClipper(m.optimizers["d"], norm_type=2.0),
        GradientClipper(m.optimizers["d"], norm_type=math.inf),
    ],
)

# %% tags=["keras"]
(KNOB_IMAGES,) = random_subset(pick(full=20_000, fast=128), images, seed=3)
KNOB_EPOCHS = pick(full=3, fast=2)
BATCH = 64
knobs = {}


def train_knob(name, model=None, configure=None, batch_size=BATCH):
    """Train a DCGAN (``model`` or the default one) with one knob changed; keep the results.

    ``configure(model)`` may recompile with other optimizers and returns callbacks; if none
    of them is a GradientClipper, one that only measures the discriminator's L2 norm is added.
    """
    set_seed(0)
    model = model if model is not None else MODELS["dcgan"](channels=CHANNELS)
    # the default optimizers, unless configure changes them
    model.compile()
    callbacks = configure(model) if configure is not None else []
    if not any(isinstance(c, GradientClipper) for c in callbacks):
        callbacks.append(GradientClipper(model.d_optimizer))
    t0 = time.perf_counter()
    history = model.fit(
        KNOB_IMAGES,
        epochs=KNOB_EPOCHS,
        batch_size=batch_size,
        callbacks=callbacks,
        verbose=0,
    )
    result = {
        "model": model,
        "history": history.history,
        "seconds": time.perf_counter() - t0,
        "clippers": [c for c in callbacks if isinstance(c, GradientClipper)],
        **measure(model.sample(N_EVAL, seed=0)),
    }
    knobs[name] = result
    print(
        f"{name:>24}: {result['seconds']:5.1f} s; last epoch d_loss {history.history['d_loss'][-1]:.3f}, "
        f"g_loss {history.history['g_loss'][-1]:.3f}; digits {result['modes_hit']}/10, "
        f"KL {result['kl_to_uniform']:.3f}, Fréchet distance {result['fd']:.2f}"
    )
    return result


baseline = train_knob(
    "baseline",
    configure=lambda m: [
        # measure only (max_norm=None)
        GradientClipper(m.d_optimizer, norm_type=2.0),
        GradientClipper(m.d_optimizer, norm_type=math.inf),
    ],
)

# %% [markdown] tags=["torch"]
# ### 6.1 Learning-rate schedules: constant or decaying
#
# A constant learning rate keeps the two players orbiting each other at the same
# amplitude ({doc}`practice_concepts`, section 1); decaying it shrinks the orbits as
# training proceeds. **Cosine decay** goes from $\eta_0$ to 0 over $T$ steps:
# $\eta_t = \eta_0 \cdot \tfrac12\big(1 + \cos(\pi t / T)\big)$. PyTorch's
# `CosineAnnealingLR` computes it; the course's `fit` does not step schedulers, so
# `step_per_batch` advances it after every optimizer step (Keras evaluates its
# schedules per step by itself).

# %% [markdown] tags=["keras"]
# ### 6.1 Learning-rate schedules: constant or decaying
#
# A constant learning rate keeps the two players orbiting each other at the same
# amplitude ({doc}`practice_concepts`, section 1); decaying it shrinks the orbits as
# training proceeds. **Cosine decay** goes from $\eta_0$ to 0 over $T$ steps:
# $\eta_t = \eta_0 \cdot \tfrac12\big(1 + \cos(\pi t / T)\big)$. In Keras a schedule is a
# `keras.optimizers.schedules.LearningRateSchedule`, passed as the optimizer's learning
# rate and evaluated at `optimizer.iterations` on every step (PyTorch needs a scheduler
# object stepped after each batch).

# %% tags=["torch"]
STEPS_PER_EPOCH = len(KNOB_IMAGES) // BATCH
TOTAL_STEPS = KNOB_EPOCHS * STEPS_PER_EPOCH


def cosine_decay(model):
    for opt in model.optimizers.values():
        step_per_batch(
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=TOTAL_STEPS)
        )
    return []


cosine = train_knob("cosine decay", configure=cosine_decay)
t = np.arange(TOTAL_STEPS)
formula = 2e-4 * 0.5 * (1 + np.cos(np.pi * t / TOTAL_STEPS))
assert np.allclose(cosine["clippers"][0].lr, formula), (
    "the recorded learning rates follow the formula"
)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
for name in ("baseline", "cosine decay"):
    axes[0].plot(knobs[name]["clippers"][0].lr, label=name)
    plot_history(
        {
            f"{name}: d_loss": knobs[name]["history"]["d_loss"],
            f"{name}: g_loss": knobs[name]["history"]["g_loss"],
        },
        ax=axes[1],
        title="Losses per epoch",
    )
axes[0].set_title("Learning rate of each step (recorded)")
axes[0].set_xlabel("step")
axes[0].set_ylabel("learning rate")
axes[0].legend()
plt.show()

# %% tags=["keras"]
STEPS_PER_EPOCH = len(KNOB_IMAGES) // BATCH
TOTAL_STEPS = KNOB_EPOCHS * STEPS_PER_EPOCH


def cosine_decay(model):
    def adam():
        return keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(2e-4, decay_steps=TOTAL_STEPS),
            beta_1=0.5,
        )

    model.compile(g_optimizer=adam(), d_optimizer=adam())
    return []


cosine = train_knob("cosine decay", configure=cosine_decay)
t = np.arange(TOTAL_STEPS)
formula = 2e-4 * 0.5 * (1 + np.cos(np.pi * t / TOTAL_STEPS))
assert np.allclose(cosine["clippers"][0].lr, formula, rtol=1e-5), (
    "the recorded learning rates follow the formula"
)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
for name in ("baseline", "cosine decay"):
    axes[0].plot(knobs[name]["clippers"][0].lr, label=name)
    plot_history(
        {
            f"{name}: d_loss": knobs[name]["history"]["d_loss"],
            f"{name}: g_loss": knobs[name]["history"]["g_loss"],
        },
        ax=axes[1],
        title="Losses per epoch",
    )
axes[0].set_title("Learning rate of each step (recorded)")
axes[0].set_xlabel("step")
axes[0].set_ylabel("learning rate")
axes[0].legend()
plt.show()

# %% [markdown] tags=["torch"]
# Towards the end the learning rate approaches 0, so the last steps change the networks
# less and less: decay trades late progress for stability. Whether that is the better trade shows in
# the digits and the Fréchet distance printed above, not in the losses.
#
# (practice-pytorch-clipping)=
# ### 6.2 Gradient clipping: by the L2 norm and by the ∞-norm
#
# Clipping bounds the size of an update when a gradient spikes. Three different
# operations go by that name; on the gradient $g = (3, -4, 12)$ (L2 norm 13, ∞-norm 12)
# with threshold $c$:
#
# * **by the L2 norm** (`clip_grad_norm_(..., norm_type=2)`): if $\lVert g \rVert_2 > c$, rescale
#   all of $g$ by $c / \lVert g \rVert_2$. The direction is kept.
# * **by the ∞-norm** (`clip_grad_norm_(..., norm_type=inf)`): if $\max_i \lvert g_i \rvert > c$,
#   rescale all of $g$ by $c / \max_i \lvert g_i \rvert$. The direction is kept too.
# * **by value** (`clip_grad_value_`): clamp each entry to $[-c, c]$. The largest entries
#   shrink most, so the direction changes.
# * **per parameter**: `clip_grad_norm_` called on each parameter tensor separately. Each
#   tensor's direction is kept, the balance between tensors is not.
#
# `clip_grad_norm_` takes the norm over *all* the parameters it is given together, as if
# they were one long vector. The Keras lab uses the optimizers' built-in options where
# they exist:
#
# | operation | PyTorch | Keras |
# | --- | --- | --- |
# | global L2 norm | `clip_grad_norm_(params, c)` | `Adam(..., global_clipnorm=c)` |
# | global ∞-norm | `clip_grad_norm_(params, c, norm_type=inf)` | no built-in option: the course's `clip_gradients(grads, c, norm_type=math.inf)` |
# | by value | `clip_grad_value_(params, c)` | `Adam(..., clipvalue=c)` |
# | per parameter, L2 | `clip_grad_norm_` on each parameter | `Adam(..., clipnorm=c)` |
#
# Article 001 (section 3.8.2) labels `clip_grad_value_` "无穷范数裁剪", ∞-norm clipping. It is
# clipping by value: the two rows below differ in the result and in its direction.
# On the gradient above:

# %% tags=["torch"]
def params_with_grad():
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)
    a.grad, b.grad = torch.tensor([3.0, -4.0]), torch.tensor([12.0])
    return [a, b]


def as_vector(params):
    return torch.cat([p.grad for p in params]).numpy()


for title, c, clip in [
    ("L2 norm, c = 6.5", 6.5, lambda ps, c: clip_gradients(ps, c, norm_type=2.0)),
    ("inf-norm, c = 3", 3.0, lambda ps, c: clip_gradients(ps, c, norm_type=math.inf)),
    ("value, c = 3", 3.0, lambda ps, c: nn.utils.clip_grad_value_(ps, c)),
]:
    ps = params_with_grad()
    clip(ps, c)
    g = as_vector(ps)
    cosine_sim = g @ np.array([3, -4, 12]) / (np.linalg.norm(g) * 13)
    print(
        f"by {title:>16}: g -> {np.round(g, 3)}, L2 norm {np.linalg.norm(g):.3f}, "
        f"max |g| {np.abs(g).max():.3f}, cosine with the original {cosine_sim:.4f}"
    )
ps = params_with_grad()
assert float(grad_norm(ps)) == 13.0 and float(grad_norm(ps, math.inf)) == 12.0


# %% [markdown] tags=["torch"]
# `clip_gradients` is `clip_grad_norm_` with argument checks; it returns the norm
# *before* clipping, which is what you want to log:

# %% [markdown] tags=["keras"]
# Towards the end the learning rate approaches 0, so the last steps change the networks
# less and less: decay trades late progress for stability. Whether that is the better trade shows in
# the digits and the Fréchet distance printed above, not in the losses.
#
# ### 6.2 Gradient clipping: by the L2 norm and by the ∞-norm
#
# Clipping bounds the size of an update when a gradient spikes. Several different
# operations go by that name; on the gradients $(3, -4)$ and $(12)$ of two variables
# (together: L2 norm 13, ∞-norm 12) with threshold $c$:
#
# * **by the global L2 norm**: if $\lVert g \rVert_2 > c$, rescale all of $g$ by
#   $c / \lVert g \rVert_2$. The direction is kept.
# * **by the ∞-norm**: if $\max_i \lvert g_i \rvert > c$, rescale all of $g$ by
#   $c / \max_i \lvert g_i \rvert$. The direction is kept too.
# * **by value**: clamp each entry to $[-c, c]$. The largest entries shrink most, so the
#   direction changes.
# * **per variable**: rescale each variable's gradient by its own L2 norm. Each
#   variable's direction is kept, the balance between variables is not.
#
# Keras has three of them built into every optimizer; the course's `clipping` module adds the
# ∞-norm and a way to record the norms:
#
# | operation | Keras | PyTorch |
# | --- | --- | --- |
# | global L2 norm | `Adam(..., global_clipnorm=c)`, or `clip_gradients(grads, c)` | `clip_grad_norm_(params, c)` |
# | global ∞-norm | `clip_gradients(grads, c, norm_type=math.inf)` (no built-in option) | `clip_grad_norm_(params, c, norm_type=inf)` |
# | by value | `Adam(..., clipvalue=c)` | `clip_grad_value_(params, c)` |
# | per variable, L2 | `Adam(..., clipnorm=c)` | `clip_grad_norm_` on each parameter |
#
# One SGD step with learning rate 1 moves each variable by minus its (clipped)
# gradient, which shows what each option does:

# %% tags=["keras"]
def grads_by_hand():
    return [
        ops.convert_to_tensor(np.array([3.0, -4.0], "float32")),
        ops.convert_to_tensor(np.array([12.0], "float32")),
    ]


def sgd_step(optimizer):
    """-(the gradient the optimizer applied): one SGD(lr=1) step from zero."""
    variables = [
        keras.Variable(np.zeros(2, "float32")),
        keras.Variable(np.zeros(1, "float32")),
    ]
    optimizer.build(variables)
    optimizer.apply(grads_by_hand(), variables)
    return -np.concatenate([ops.convert_to_numpy(v) for v in variables])


def report(title, g):
    cosine_sim = g @ np.array([3, -4, 12]) / (np.linalg.norm(g) * 13)
    print(
        f"{title:>38}: g -> {np.round(g, 3)}, L2 norm {np.linalg.norm(g):.3f}, "
        f"max |g| {np.abs(g).max():.3f}, cosine with the original {cosine_sim:.4f}"
    )


ours_l2 = np.concatenate(
    [ops.convert_to_numpy(g) for g in clip_gradients(grads_by_hand(), 6.5)[0]]
)
ours_inf = np.concatenate(
    [
        ops.convert_to_numpy(g)
        for g in clip_gradients(grads_by_hand(), 3.0, norm_type=math.inf)[0]
    ]
)
report("clip_gradients, L2, c = 6.5", ours_l2)
report(
    "SGD(global_clipnorm=6.5)", sgd_step(keras.optimizers.SGD(1.0, global_clipnorm=6.5))
)
report("clip_gradients, inf-norm, c = 3", ours_inf)
report("SGD(clipvalue=3)", sgd_step(keras.optimizers.SGD(1.0, clipvalue=3.0)))
report(
    "SGD(clipnorm=6.5), per variable", sgd_step(keras.optimizers.SGD(1.0, clipnorm=6.5))
)
assert np.allclose(
    ours_l2, sgd_step(keras.optimizers.SGD(1.0, global_clipnorm=6.5)), rtol=1e-5
)
assert (
    float(grad_norm(grads_by_hand())) == 13.0
    and float(grad_norm(grads_by_hand(), math.inf)) == 12.0
)

# %% [markdown] tags=["keras"]
# `clip_gradients` uses PyTorch's formula (the same factor $\min(1, c / (\lVert g \rVert + 10^{-6}))$
# for every gradient) and also returns the norm *before* clipping, which is what you
# want to log:

# %%
import aigc_course.torch.clipping as clipping  # [torch]
import aigc_course.keras.clipping as clipping  # [keras]

show_source(
    clipping, start="# --- gradient clipping", end="# --- end gradient clipping"
)

# %% [markdown] tags=["torch"]
# To make clipping bite, set the threshold from the baseline's own gradient norms: half
# of their median. Then clip the discriminator's gradients by each norm.

# %% tags=["torch"]
base_l2, base_inf = (np.array(c.before) for c in baseline["clippers"])
C_L2, C_INF = 0.5 * np.median(base_l2), 0.5 * np.median(base_inf)
print(
    f"baseline D gradients: median L2 norm {np.median(base_l2):.3f}, median inf-norm "
    f"{np.median(base_inf):.4f}; thresholds {C_L2:.3f} and {C_INF:.4f}"
)

clip_l2 = train_knob(
    "clip L2 norm",
    configure=lambda m: [
        GradientClipper(m.optimizers["d"], max_norm=C_L2, norm_type=2.0)
    ],
)
clip_inf = train_knob(
    "clip inf-norm",
    configure=lambda m: [
        GradientClipper(m.optimizers["d"], max_norm=C_INF, norm_type=math.inf)
    ],
)

fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for ax, run, base, c, label in [
    (axes[0], clip_l2, base_l2, C_L2, "L2 norm"),
    (axes[1], clip_inf, base_inf, C_INF, "inf-norm"),
]:
    clipper = run["clippers"][0]
    ax.plot(base, color="gray", alpha=0.6, label="baseline (no clipping)")
    ax.plot(clipper.before, label="clipped run: before clipping")
    ax.plot(clipper.after, ls="--", label="clipped run: after clipping")
    ax.axhline(c, color="black", lw=0.8, ls=":", label=f"threshold {c:.3g}")
    ax.set_title(f"Discriminator gradient, {label}")
    ax.set_xlabel("step")
    ax.set_ylabel(label)
    ax.set_yscale("log")
    ax.legend(fontsize=8)
plt.show()
assert max(clip_l2["clippers"][0].after) <= C_L2 * (1 + 1e-4)
assert max(clip_inf["clippers"][0].after) <= C_INF * (1 + 1e-4)

# %% [markdown] tags=["keras"]
# To make clipping bite, set the threshold from the baseline's own gradient norms: half
# of their median. For the L2 norm use Keras's own `global_clipnorm`; a measuring
# `GradientClipper` records the norm *before* the optimizer clips, and the norm after is
# $\min(\lVert g \rVert_2, c)$, as the cell above checked. For the ∞-norm, which Keras
# lacks, `GradientClipper(max_norm=c, norm_type=math.inf)` clips and records both.

# %% tags=["keras"]
base_l2, base_inf = (np.array(c.before) for c in baseline["clippers"])
C_L2, C_INF = 0.5 * np.median(base_l2), 0.5 * np.median(base_inf)
print(
    f"baseline D gradients: median L2 norm {np.median(base_l2):.3f}, median inf-norm "
    f"{np.median(base_inf):.4f}; thresholds {C_L2:.3f} and {C_INF:.4f}"
)


def clip_by_global_l2(model):
    model.compile(
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5, global_clipnorm=float(C_L2))
    )
    # measures the norm before Keras clips it
    return [GradientClipper(model.d_optimizer)]


clip_l2 = train_knob("clip L2 norm", configure=clip_by_global_l2)
clip_inf = train_knob(
    "clip inf-norm",
    configure=lambda m: [
        GradientClipper(m.d_optimizer, max_norm=float(C_INF), norm_type=math.inf)
    ],
)

fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for ax, run, base, c, label in [
    (axes[0], clip_l2, base_l2, C_L2, "L2 norm"),
    (axes[1], clip_inf, base_inf, C_INF, "inf-norm"),
]:
    clipper = run["clippers"][0]
    after = np.minimum(clipper.before, C_L2) if run is clip_l2 else clipper.after
    ax.plot(base, color="gray", alpha=0.6, label="baseline (no clipping)")
    ax.plot(clipper.before, label="clipped run: before clipping")
    ax.plot(after, ls="--", label="clipped run: after clipping")
    ax.axhline(c, color="black", lw=0.8, ls=":", label=f"threshold {c:.3g}")
    ax.set_title(f"Discriminator gradient, {label}")
    ax.set_xlabel("step")
    ax.set_ylabel(label)
    ax.set_yscale("log")
    ax.legend(fontsize=8)
plt.show()
assert max(clip_inf["clippers"][0].after) <= C_INF * (1 + 1e-4)

# %% [markdown]
# After clipping, every step's norm is at most the threshold (dashed lines), while the
# norms *before* clipping evolve on their own, because they depend on the trajectory.
# With Adam, clipping mostly matters when one step's gradient is much larger than the
# running average: Adam divides by $\sqrt{\hat v}$, so a gradient that is uniformly
# smaller changes the update little ({ref}`practice-pytorch-ex-adam-clip`).  # [torch]
# smaller changes the update little ({ref}`practice-keras-ex-adam-clip`).  # [keras]
#
# (practice-pytorch-batch-size)=  # [torch]
# ### 6.3 Batch size
#
# With the same number of epochs, a larger batch means fewer, less noisy steps.

# %%
BATCH_SIZES = (32, 128)
for bs in BATCH_SIZES:
    train_knob(f"batch {bs}", batch_size=bs)

sizes = (BATCH_SIZES[0], BATCH, BATCH_SIZES[1])
runs_bs = [knobs[f"batch {BATCH_SIZES[0]}"], baseline, knobs[f"batch {BATCH_SIZES[1]}"]]
fig, axes = plt.subplots(1, 3, figsize=(13, 3.3))
axes[0].plot(sizes, [len(r["clippers"][0].before) for r in runs_bs], marker="o")
axes[0].set_title("Optimizer steps in the run")
axes[1].plot(sizes, [r["fd"] for r in runs_bs], marker="o", color="tab:red")
axes[1].set_title("Fréchet distance (lower is better)")
axes[2].plot(sizes, [r["seconds"] for r in runs_bs], marker="o", color="tab:green")
axes[2].set_title("Training time (s)")
for ax in axes:
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel("batch size")
axes[0].set_ylabel("steps")
axes[1].set_ylabel("Fréchet distance")
axes[2].set_ylabel("seconds")
plt.show()

# %% [markdown] tags=["torch"]
# On a GPU a larger batch costs little more per step, so the time per epoch falls; but
# with fewer steps the GAN also learns less per epoch. The reverse holds too: a *smaller*
# batch means more steps per epoch, so it does not shorten training, although article 001
# (section 5.5.1) recommends it for that (right panel: seconds per run). Batch size also interacts with
# batch normalization (its statistics are noisier in small batches) and with the
# learning rate (larger batches usually tolerate larger ones).
#
# ### 6.4 Batch normalization in the generator, on and off
#
# DCGAN's guidelines put batch normalization in the generator. Remove it: every
# `BatchNorm` layer becomes an identity. (The layers in front of a batch norm have no
# bias, since the normalization would cancel it; without batch norm they stay without
# bias. {ref}`practice-pytorch-ex-bias` adds the biases back.)

# %% [markdown] tags=["keras"]
# On a GPU a larger batch costs little more per step, so the time per epoch falls; but
# with fewer steps the GAN also learns less per epoch. Batch size also interacts with
# batch normalization (its statistics are noisier in small batches) and with the
# learning rate (larger batches usually tolerate larger ones). On TensorFlow, the
# training time of each run also includes tracing the training step into a graph, a
# fixed cost that dominates short runs like those of fast mode.
#
# ### 6.4 Batch normalization in the generator, on and off
#
# DCGAN's guidelines put batch normalization in the generator. Remove it: rebuild the
# generator from its own layers, leaving out every `BatchNormalization`. (The layers in
# front of a batch norm have no bias, since the normalization would cancel it; without
# batch norm they stay without bias. {ref}`practice-keras-ex-bias` adds the
# biases back.)

# %% tags=["torch"]
def without_batch_norm(net):
    return nn.Sequential(
        *[
            nn.Identity() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) else m
            for m in net
        ]
    )


set_seed(0)
no_bn_model = MODELS["dcgan"](channels=CHANNELS)
no_bn_model.generator = without_batch_norm(no_bn_model.generator)
print(no_bn_model.generator)
no_bn = train_knob("no batch norm in G", model=no_bn_model)

fig, axes = plt.subplots(1, 2, figsize=(9, 4.6))
for ax, name in zip(axes, ("baseline", "no batch norm in G")):
    show_images(
        knobs[name]["model"].sample(32, seed=0),
        ax=ax,
        nrow=8,
        title=f"{name}: Fréchet distance {knobs[name]['fd']:.1f}",
    )
plt.show()


# %% tags=["keras"]
def without_batch_norm(net):
    kept = [
        layer
        for layer in net.layers
        if not isinstance(layer, keras.layers.BatchNormalization)
    ]
    return keras.Sequential(
        [keras.Input(net.input_shape[1:]), *kept], name="generator_no_bn"
    )


set_seed(0)
no_bn_model = MODELS["dcgan"](channels=CHANNELS)
no_bn_model.generator = without_batch_norm(no_bn_model.generator)
no_bn_model.generator.summary()
no_bn = train_knob("no batch norm in G", model=no_bn_model)

fig, axes = plt.subplots(1, 2, figsize=(9, 4.6))
for ax, name in zip(axes, ("baseline", "no batch norm in G")):
    show_images(
        knobs[name]["model"].sample(32, seed=0),
        ax=ax,
        nrow=8,
        title=f"{name}: Fréchet distance {knobs[name]['fd']:.1f}",
    )
plt.show()

# %% [markdown]
# Batch normalization keeps each layer's activations at a fixed scale, which helps the
# gradient reach the generator's first layers and, in DCGAN's experience, prevents the
# generator from collapsing all samples to a single point early in training
# {cite}`radford2016dcgan`. Compare the two grids and the printed numbers.
#
# ### 6.5 One-sided label smoothing
#
# `label_smoothing=0.1` trains the discriminator towards 0.9 instead of 1 on real
# images (fakes keep target 0). Its optimum on real data then drops from near 1 to
# near 0.9 ({doc}`practice_concepts`, section 5.3). Measure $D(x)$ on real images after
# training, for the baseline and the smoothed model:

# %%
smooth = train_knob(
    "label smoothing 0.1", model=MODELS["dcgan"](channels=CHANNELS, label_smoothing=0.1)
)


@torch.no_grad()  # [torch]
def d_on_real(model, n=512):
    model.eval()  # [torch]
    (x,) = model.prepare(random_subset(n, test_images, seed=5)[0])
    return (  # [torch]
        torch.sigmoid(model.discriminator(torch.as_tensor(x, device=model.device)))  # [torch]
        .cpu()  # [torch]
        .numpy()  # [torch]
        .ravel()  # [torch]
    )  # [torch]
    return ops.convert_to_numpy(  # [keras]
        ops.sigmoid(model.discriminator(x, training=False))  # [keras]
    ).ravel()  # [keras]


fig, ax = plt.subplots(figsize=(7, 3.5))
for name in ("baseline", "label smoothing 0.1"):
    d_real = d_on_real(knobs[name]["model"])
    ax.hist(
        d_real,
        bins=40,
        range=(0, 1),
        alpha=0.6,
        label=f"{name}: mean D(x) = {d_real.mean():.3f}",
    )
ax.set_title("Discriminator's output on real test images")
ax.set_xlabel("D(x)")
ax.set_ylabel("images")
ax.legend()
plt.show()

# %% [markdown]
# A discriminator that is never pushed to certainty keeps moderate logits on real
# images; Salimans et al. {cite}`salimans2016improved` report that this makes it less
# overconfident and training more robust. In a short run, as in fast mode, neither
# discriminator is confident yet and the two histograms overlap.
#
# ### 6.6 Separate learning rates for G and D (TTUR)
#
# The **two time-scale update rule** (双时间尺度更新规则) {cite}`heusel2017ttur` gives the discriminator a
# larger learning rate than the generator, so that it tracks the generator's current
# distribution more closely; Heusel et al. prove convergence to a local equilibrium
# under conditions on the two rates. A common choice, used here: $10^{-4}$ for G and
# $4 \times 10^{-4}$ for D. The model needs no new argument: replace its optimizers.  # [torch]
# $4 \times 10^{-4}$ for D. The model needs no new argument: compile it with two optimizers.  # [keras]

# %%
def ttur(model):
    model.optimizers = {  # [torch]
        "g": torch.optim.Adam(  # [torch]
            model.generator.parameters(), lr=1e-4, betas=(0.5, 0.999)  # [torch]
        ),  # [torch]
        "d": torch.optim.Adam(  # [torch]
            model.discriminator.parameters(), lr=4e-4, betas=(0.5, 0.999)  # [torch]
        ),  # [torch]
    }  # [torch]
    model.compile(  # [keras]
        g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5),  # [keras]
        d_optimizer=keras.optimizers.Adam(4e-4, beta_1=0.5),  # [keras]
    )  # [keras]
    return []


train_knob("TTUR (G 1e-4, D 4e-4)", configure=ttur)
fig, ax = plt.subplots(figsize=(7, 3.5))
for name in ("baseline", "TTUR (G 1e-4, D 4e-4)"):
    h = knobs[name]["history"]
    plot_history(
        {f"{name}: d_loss": h["d_loss"], f"{name}: g_loss": h["g_loss"]},
        ax=ax,
        title="Losses per epoch: baseline vs TTUR",
    )
plt.show()

# %% [markdown]
# ### 6.7 All the knobs side by side

# %%
names = list(knobs)
fig, axes = plt.subplots(1, 2, figsize=(13, 4))
axes[0].barh(names, [knobs[n]["fd"] for n in names], color="tab:red")
axes[0].axvline(real_scores["fd"], color="black", ls="--", lw=1, label="real images")
axes[0].set_title("Fréchet distance to real digits (lower is better)")
axes[0].set_xlabel("classifier Fréchet distance")
axes[0].set_ylabel("run")
axes[1].barh(names, [knobs[n]["kl_to_uniform"] for n in names], color="tab:blue")
axes[1].axvline(
    real_scores["kl_to_uniform"], color="black", ls="--", lw=1, label="real images"
)
axes[1].set_title("KL(predicted digits || uniform) (lower is better)")
axes[1].set_xlabel("nats")
for ax in axes:
    ax.invert_yaxis()
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()
print(f"{'run':>24}  {'digits':>6}  {'KL':>6}  {'Fréchet':>8}  {'seconds':>7}")
for n in names:
    r = knobs[n]
    print(
        f"{n:>24}  {r['modes_hit']:>4}/10  {r['kl_to_uniform']:6.3f}  {r['fd']:8.2f}  {r['seconds']:7.1f}"
    )

# %% [markdown]
# Read the table with the warning of section 6 in mind: one seed, a few epochs. Before
# crediting a knob, compare its difference from the baseline with the difference
# between two seeds of the baseline itself ({ref}`practice-pytorch-ex-seeds`).  # [torch]
# between two seeds of the baseline itself ({ref}`practice-keras-ex-seeds`).  # [keras]
# Large GAN studies draw the same lesson {cite}`lucic2018gansequal`: with the same
# tuning budget, most variants end up close to each other, and a claim about a knob
# needs several seeds.
#
# ## Exercises
#
# :::{exercise}
# :label: practice-pytorch-ex-seeds  # [torch]
# :label: practice-keras-ex-seeds  # [keras]
# Run `train_knob` for the baseline and for one knob with three seeds each (pass the
# seed on to `set_seed` and `fit`), and plot the mean and spread of the Fréchet  # [torch]
# seed on to `set_seed` and to `sample`), and plot the mean and spread of the Fréchet  # [keras]
# distance. Is the knob's effect larger than the spread between seeds?
# :::
#
# :::{solution} practice-pytorch-ex-seeds  # [torch]
# :::{solution} practice-keras-ex-seeds  # [keras]
# :class: dropdown
# Add a `seed` argument to `train_knob`, use it in `set_seed(seed)`, in  # [torch]
# `fit(..., seed=seed)` and in `model.sample(N_EVAL, seed=seed)`, and store the results  # [torch]
# under `(name, seed)`. With short runs the spread between seeds is often as large as  # [torch]
# the difference between knobs; only a difference that exceeds the spread of both  # [torch]
# groups is worth reporting.  # [torch]
# Add a `seed` argument to `train_knob`, use it in `set_seed(seed)` (which seeds  # [keras]
# Keras's initialisers and noise) and in `model.sample(N_EVAL, seed=seed)`, and store  # [keras]
# the results under `(name, seed)`. With short runs the spread between seeds is often as  # [keras]
# large as the difference between knobs; only a difference that exceeds the spread of  # [keras]
# both groups is worth reporting.  # [keras]
# :::
#
# :::{exercise}
# :label: practice-pytorch-ex-adam-clip  # [torch]
# :label: practice-keras-ex-adam-clip  # [keras]
# Clip *all* the discriminator's gradients at a tenth of their median L2 norm, so that
# every step is clipped, and compare with the baseline. Then repeat with plain SGD
# (learning rate 0.01) for both networks. Why does clipping change Adam's updates so
# much less than SGD's?
# :::
#
# :::{solution} practice-pytorch-ex-adam-clip  # [torch]
# :::{solution} practice-keras-ex-adam-clip  # [keras]
# :class: dropdown
# ```python
# c = 0.1 * np.median(base_l2)  # [torch]
# c = float(0.1 * np.median(base_l2))  # [keras]
# train_knob("clip every step (Adam)", configure=lambda m: [
#     GradientClipper(m.optimizers["d"], max_norm=c)])  # [torch]
#     GradientClipper(m.d_optimizer, max_norm=c)])  # [keras]
#
# def sgd(model):
#     model.optimizers = {"g": torch.optim.SGD(model.generator.parameters(), lr=0.01),  # [torch]
#                         "d": torch.optim.SGD(model.discriminator.parameters(), lr=0.01)}  # [torch]
#     return [GradientClipper(model.optimizers["d"], max_norm=c)]  # [torch]
#     model.compile(g_optimizer=keras.optimizers.SGD(0.01),  # [keras]
#                   d_optimizer=keras.optimizers.SGD(0.01, global_clipnorm=c))  # [keras]
#     return []  # [keras]
# train_knob("clip every step (SGD)", configure=sgd)
# ```
# SGD's update is the learning rate times the gradient, so clipping every step to a
# tenth of its size makes the discriminator's steps about ten times smaller: it learns
# far more slowly. Adam's update is $\hat m / (\sqrt{\hat v} + \epsilon)$: multiplying all
# gradients by the same factor multiplies $\hat m$ and $\sqrt{\hat v}$ by that factor, and
# the update does not change. Clipping every step is then close to normalising each
# gradient to norm $c$, which changes only how much each step weighs relative to the
# others.
# :::
#
# :::{exercise}
# :label: practice-pytorch-ex-bias  # [torch]
# :label: practice-keras-ex-bias  # [keras]
# The generator without batch norm in section 6.4 also lost two biases. Build a fair
# version: copy `gan_module.dcgan_generator`'s layers with `bias=True` in the dense layer  # [torch]
# and the first transposed convolution and no batch norm, assign it to  # [torch]
# version: a `keras.Sequential` like `gan_module.dcgan_generator` with `use_bias=True` in  # [keras]
# the dense layer and the first transposed convolution and no batch norm, assign it to  # [keras]
# `model.generator`, and train it with `train_knob`. Does the bias change the outcome?
# :::
#
# :::{solution} practice-pytorch-ex-bias  # [torch]
# :::{solution} practice-keras-ex-bias  # [keras]
# :class: dropdown
# ```python
# c, latent = CHANNELS, 100  # [torch]
# generator = gan_module.dcgan_init_(nn.Sequential(  # [torch]
#     nn.Linear(latent, 7 * 7 * 2 * c), nn.ReLU(), nn.Unflatten(1, (2 * c, 7, 7)),  # [torch]
#     nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), nn.ReLU(),  # [torch]
#     nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1), nn.Tanh()))  # [torch]
# c, init = CHANNELS, gan_module.dcgan_init  # [keras]
# generator = keras.Sequential([  # [keras]
#     keras.Input((100,)),  # [keras]
#     keras.layers.Dense(7 * 7 * 2 * c, kernel_initializer=init()), keras.layers.ReLU(),  # [keras]
#     keras.layers.Reshape((7, 7, 2 * c)),  # [keras]
#     keras.layers.Conv2DTranspose(c, 4, strides=2, padding="same", kernel_initializer=init()),  # [keras]
#     keras.layers.ReLU(),  # [keras]
#     keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh",  # [keras]
#                                  kernel_initializer=init())])  # [keras]
# model = MODELS["dcgan"](channels=CHANNELS)
# model.generator = generator
# train_knob("no batch norm, with biases", model=model)
# ```
# The biases start at 0 and add few parameters; in the course's runs they change the
# numbers less than batch normalization itself does. The main effect of removing batch
# norm is the loss of normalization, not of the biases.
# :::
#
# :::{exercise}
# :label: practice-pytorch-ex-wgan-ncritic  # [torch]
# Train the WGAN-GP with `n_critic=1` and with `gp_weight=0` (no penalty), each for  # [torch]
# the same epochs as above, and compare `w_dist` and the samples. What goes wrong  # [torch]
# without the penalty?  # [torch]
# :label: practice-keras-ex-backend  # [keras]
# Restart the kernel with `os.environ["KERAS_BACKEND"] = "torch"` and run the lab again.  # [keras]
# Which numbers change, and why is the clipping cell unaffected?  # [keras]
# :::
#
# :::{solution} practice-pytorch-ex-wgan-ncritic  # [torch]
# :::{solution} practice-keras-ex-backend  # [keras]
# :class: dropdown
# Without the penalty the critic is not Lipschitz-constrained: its scores grow without  # [torch]
# bound, `w_dist` climbs instead of settling, and the generator follows a meaningless  # [torch]
# signal, so the samples degrade. With `n_critic=1` the critic lags behind the  # [torch]
# generator: its estimate of $W_1$ is poor and training is noisier. The paper's  # [torch]
# `n_critic=5` lets the critic approximately solve its inner maximisation before each  # [torch]
# generator step.  # [torch]
# The training runs differ slightly (each backend draws its own random numbers and  # [keras]
# sums in its own order), so losses, samples and scores change a little. The clipping  # [keras]
# cell only uses `keras.ops` and the optimizers' own code, which are the same on every  # [keras]
# backend, so its numbers are identical. `GradientClipper` also works on both: on  # [keras]
# PyTorch the training step runs eagerly and on TensorFlow as a graph, and in both  # [keras]
# cases it records the norms in Keras variables that the callback reads after each batch.  # [keras]
# :::
