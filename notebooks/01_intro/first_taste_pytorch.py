# ---
# jupyter:
#   aigc_course:
#     edit: first_taste_lab.py, then run make sync
#     generated_from: first_taste_lab.py
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
# # First taste: a generative model in a minute (PyTorch)
#
# Before any theory, train a generative model and watch it make new handwritten digits.
# The model is a **variational autoencoder** (VAE, 变分自编码器) {cite}`kingma2013vae` from
# the course's model zoo:
#
# * an **encoder** (编码器) squeezes each $28 \times 28$ image into 16 numbers, a code $z$;
# * a **decoder** (解码器) turns a code back into an image;
# * training makes the codes of real digits look like draws from a standard normal
#   distribution, so that *random* codes decode to new digits.
#
# How and why this works is chapter 4; here we only run it. The same notebook exists in
# Keras ({doc}`first_taste_keras`), with the same model and the same number of parameters.
#
# ```{admonition} About a minute
# :class: tip
# In full mode training takes about 2,500 gradient steps, roughly a minute on a laptop
# CPU and seconds on a GPU. With `AIGC_COURSE_FAST=1` (what the course's CI sets) it is
# cut to 128 small steps, so the digits on this page are blurry. With
# `AIGC_COURSE_PRETRAINED=1` the notebook skips training and loads the course checkpoint.
# ```

# %%
# Install the course package if it is missing (on Colab, Kaggle or a fresh Jupyter);
# where it is installed already, this cell does nothing.
import importlib

try:
    importlib.import_module("aigc_course")
except ImportError:
    print("Installing the course package (about a minute) ...")
    # %pip install -q "aigc-course[torch] @ git+https://github.com/aigc-course/aigc-course@v0.6.0"

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from aigc_course import check_gpu, is_fast, pick, pretrained
from aigc_course.data import load_mnist, random_subset
from aigc_course.plotting import compare_samples, plot_history, show_images
from aigc_course.torch import MODELS, get_device, set_seed

# no GPU and AIGC_COURSE_FAST unset: switches to fast mode, and says so
gpu = check_gpu(pretrained=True)
set_seed(0)
device = get_device()
print(f"PyTorch {torch.__version__} on {device}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Data and model

# %%
images, _ = load_mnist("train")
images = random_subset(pick(full=len(images), fast=2048), images, seed=0)[0]
x_test, y_test = load_mnist("test")
print(f"training on {len(images):,} images; {len(x_test):,} test images")

vae = MODELS["vae"]()
print(
    f"VAE with a {vae.latent_dim}-dimensional code and {vae.count_params():,} parameters"
)

# %% [markdown]
# ## 2. Train
#
# `fit` shows a progress bar and returns the loss per epoch. The loss is the VAE's
# negative **ELBO** (证据下界): how badly the decoder reconstructs each image (`recon`),
# plus how far the codes are from a standard normal (`kl`), in nats per image.

# %%
BATCH = pick(full=128, fast=32)
STEPS = pick(full=2500, fast=128)  # gradient steps in total
epochs = max(1, round(STEPS / (len(images) // BATCH)))
start = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    vae = pretrained.load("vae", "mnist", device=device)
    losses = pretrained.history("vae", "mnist")
else:
    losses = vae.fit(
        images, epochs=epochs, batch_size=BATCH, seed=0, verbose=pick(full=1, fast=2)
    ).history
seconds = time.perf_counter() - start
print(
    pretrained.describe("vae", "mnist")
    if pretrained.use_only()
    else f"{epochs} epochs, {epochs * (len(images) // BATCH):,} steps in {seconds:.0f} s"
)

plot_history(losses, title="VAE training (PyTorch)")
plt.show()

# %% [markdown]
# The trained model must explain unseen digits better than an untrained one: compare
# the average ELBO (a lower bound on $\log p(x)$; higher is better) on 500 test images.

# %%
elbo_trained = vae.elbo(x_test[:500], seed=0).mean()
elbo_untrained = MODELS["vae"]().elbo(x_test[:500], seed=0).mean()
print(
    f"test ELBO: untrained {elbo_untrained:.1f} nats, trained {elbo_trained:.1f} nats per image"
)
assert elbo_trained > elbo_untrained

# %% [markdown]
# ## 3. Reconstructions
#
# Encode test digits the model has never seen, then decode them: top row the
# originals, bottom row what comes back through the 16-number bottleneck.

# %%
originals = x_test[:12] / 255.0
show_images(
    np.concatenate([originals, vae.reconstruct(x_test[:12])]),
    nrow=12,
    figsize=9,
    title="Test digits (top) and their reconstructions (bottom)",
);

# %% [markdown]
# ## 4. New digits
#
# Now the generative part: draw 64 random codes $z \sim \mathcal N(0, I)$ and decode
# them. None of these images exists in the training set.

# %%
show_images(
    vae.sample(64, seed=0), nrow=16, figsize=9, title="64 samples from the VAE"
);

# %% [markdown]
# ### Your run beside the course checkpoint
#
# This page was built in fast mode: the model above trained for seconds. The course also
# publishes this VAE trained with the full recipe (`make pretrain MODEL=vae DATASET=mnist`),
# one file for PyTorch and Keras ({doc}`../08_evaluation/results` scores it). Left your
# model, right the checkpoint: the same 64 random codes, and the ELBO on the same test digits.

# %%
if pretrained.is_published("vae", "mnist"):
    course = pretrained.load("vae", "mnist", device=device)
    your_title = (
        "loaded, not trained (AIGC_COURSE_PRETRAINED=1)"
        if pretrained.use_only()
        else "your run: "
        + pretrained.training_summary(
            epochs, len(images), seconds, "GPU" if gpu else "CPU"
        )
    )
    compare_samples(
        vae.sample(64, seed=0),
        course.sample(64, seed=0),
        your_title,
        pretrained.describe("vae", "mnist"),
        nrow=8,
    )
    plt.show()
    print(
        f"test ELBO on the same 500 digits (higher is better): yours {elbo_trained:.1f}, "
        f"the checkpoint's {course.elbo(x_test[:500], seed=0).mean():.1f} nats per image"
    )
else:
    print(
        "The course checkpoint vae/mnist is not published yet: "
        "`make pretrain MODEL=vae DATASET=mnist` trains it."
    )

# %% [markdown]
# ## 5. A walk through the latent space
#
# Encode two test digits, then decode the codes on the straight line between them.
# After a full training run the images change gradually from one digit into the other,
# the intermediate ones still made of strokes (if blurry), while cross-fading the
# pixels gives two ghosts on top of each other ({doc}`../02_concepts/core_concepts` explains why, on a small
# example). After the few steps of fast mode the model has not yet learned to tell
# digits apart, and its walk stays a blur.

# %%
i, j = int(np.flatnonzero(y_test == 2)[0]), int(np.flatnonzero(y_test == 7)[0])
mu, _ = vae.encode(x_test[[i, j]])
t = np.linspace(0, 1, 10)[:, None]
latent_walk = vae.decode((1 - t) * mu[0] + t * mu[1])
pixel_fade = (1 - t[:, :, None]) * x_test[i] / 255.0 + t[:, :, None] * x_test[j] / 255.0
show_images(
    np.concatenate([latent_walk, pixel_fade]),
    nrow=10,
    figsize=9,
    title="From a 2 to a 7: in latent space (top), in pixel space (bottom)",
);

# %% [markdown]
# ## What next
#
# You have trained a generative model, sampled from it and walked through its latent
# space. The course now explains what you just did:
# {doc}`../02_concepts/core_concepts` (latent variables, likelihood, sampling), then the
# three families: {doc}`GANs <../03_gans/gan_concepts>` (chapter 3),
# {doc}`VAEs <../04_vaes/vae_concepts>` (chapter 4, this model) and
# {doc}`autoregressive models <../05_autoregressive/ar_concepts>` (chapter 5).
#
# ## Exercises
#
# :::{exercise}
# :label: first-taste-pytorch-ex-longer
# Train for 5 times as many steps (`STEPS = 12_500`, on a GPU). How do the loss curve,
# the test ELBO and the samples change?
# :::
#
# :::{solution} first-taste-pytorch-ex-longer
# :class: dropdown
# The loss keeps falling, ever more slowly, and the test ELBO rises with it; the
# samples become sharper and fewer of them are ambiguous shapes between two digits.
# With the full 60,000 training images, watch for the training loss improving while the
# test ELBO stalls: that gap is overfitting (过拟合), the topic of chapter 6.
# :::
#
# :::{exercise}
# :label: first-taste-pytorch-ex-2d
# Train `MODELS["vae"](latent_dim=2)` and plot the codes `vae.encode(x_test)[0]` of the
# test digits as points coloured by their label. Then decode a regular grid of codes in
# $[-2.5, 2.5]^2$ and show the images in a grid.
# :::
#
# :::{solution} first-taste-pytorch-ex-2d
# :class: dropdown
# ```python
# vae2 = MODELS["vae"](latent_dim=2)
# vae2.fit(images, epochs=epochs, batch_size=BATCH, seed=0, verbose=0)
# codes = vae2.encode(x_test)[0]
# plt.scatter(*codes.T, c=y_test, s=2, cmap="tab10"); plt.colorbar(); plt.show()
# g = np.linspace(-2.5, 2.5, 12)
# grid = np.array([[a, b] for b in g[::-1] for a in g], np.float32)
# show_images(vae2.decode(grid), nrow=12, figsize=8);
# ```
# The codes of each digit form a cloud, and the clouds are arranged around the
# origin; decoding the grid shows digits morphing smoothly into one another. With
# only two numbers per image the reconstructions and samples are blurrier than with 16:
# the code is too small to hold the details.
# :::
