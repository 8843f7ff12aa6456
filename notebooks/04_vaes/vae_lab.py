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

# %% [markdown] tags=["torch"]
# # Lab: a VAE for handwritten digits in PyTorch
#
# In this lab you train a **variational autoencoder** (变分自编码器) on MNIST and take it
# apart. You will
#
# 1. read its loss and training step, and train it with loss curves that separate the
#    reconstruction term from the KL term,
# 2. reconstruct digits, draw new ones, and walk through the latent space,
# 3. train a VAE with a 2-D latent space and look at all of it,
# 4. measure the likelihood of test digits with the ELBO and the IWAE bound, in nats
#    and in bits per dimension,
# 5. compare $\beta = 1$ with $\beta = 4$,
# 6. train a **conditional VAE** that draws the digit you ask for,
# 7. save and reload a model, and run two bugs from common tutorial code.
#
# The same lab exists in Keras ({doc}`vae_keras`), with the same models and parameter
# counts. The theory, with every formula checked numerically, is in {doc}`vae_concepts`.
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) every training run is cut to a
# few seconds on a CPU, so the digits below are blurry and the likelihoods poor. On a
# Colab GPU, leave it unset: the full lab (60,000 images, 30 epochs for the main
# model) takes a few minutes. With `AIGC_COURSE_PRETRAINED=1` the lab skips training the
# main VAE and the CVAE and loads the course checkpoints instead (the variants it trains
# for teaching, with a 2-D latent, $\beta = 4$ and pitfall 2's loss, still train).
# ```

# %% [markdown] tags=["keras"]
# # Lab: a VAE for handwritten digits in Keras 3
#
# The same lab as {doc}`vae_pytorch`, in Keras 3: you train a **variational
# autoencoder** (变分自编码器) on MNIST and take it apart. You will
#
# 1. read its loss and training step, and train it with loss curves that separate the
#    reconstruction term from the KL term,
# 2. reconstruct digits, draw new ones, and walk through the latent space,
# 3. train a VAE with a 2-D latent space and look at all of it,
# 4. measure the likelihood of test digits with the ELBO and the IWAE bound, in nats
#    and in bits per dimension,
# 5. compare $\beta = 1$ with $\beta = 4$,
# 6. train a **conditional VAE** that draws the digit you ask for,
# 7. save and reload a model, and run two bugs from common tutorial code and the VAE of
#    the source articles' programming exercise.
#
# The models have the same layers and the same number of parameters as the PyTorch
# ones. The theory, with every formula checked numerically, is in {doc}`vae_concepts`.
#
# Keras 3 runs on several backends. Colab's default is TensorFlow; the course's tests
# also run every Keras model on the PyTorch backend. Choose the backend *before* Keras
# is imported, with the environment variable `KERAS_BACKEND`.
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) every training run is cut to a
# few seconds on a CPU, so the digits below are blurry and the likelihoods poor. On a
# Colab GPU, leave it unset: the full lab (60,000 images, 30 epochs for the main
# model) takes a few minutes. With `AIGC_COURSE_PRETRAINED=1` the lab skips training the
# main VAE and the CVAE and loads the course checkpoints instead (the variants it trains
# for teaching, with a 2-D latent, $\beta = 4$ and pitfall 2's loss, still train).
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
import tempfile
import time
from statistics import NormalDist

import matplotlib.pyplot as plt
import numpy as np
import torch

from aigc_course import check_gpu, is_fast, pick, pretrained, run_dir, show_source
from aigc_course.data import load_mnist, random_subset
from aigc_course.likelihood import nats_to_bits_per_dim
from aigc_course.plotting import compare_samples, plot_history, show_images
from aigc_course.torch import MODELS, SampleGrid, get_device, set_seed

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

import tempfile
import time
from statistics import NormalDist

import keras
import matplotlib.pyplot as plt
import numpy as np

from aigc_course import check_gpu, is_fast, pick, pretrained, run_dir, show_source
from aigc_course.data import load_mnist, random_subset
from aigc_course.keras import MODELS, SampleGrid, set_seed
from aigc_course.likelihood import nats_to_bits_per_dim, threshold_binarize
from aigc_course.plotting import compare_samples, plot_history, show_images

# no GPU and AIGC_COURSE_FAST unset: switches to fast mode, and says so
gpu = check_gpu(pretrained=True)
set_seed(0)
BACKEND = keras.backend.backend()
print(f"Keras {keras.__version__} on the {BACKEND} backend; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Data
#
# `load_mnist` returns `uint8` images shaped `(N, 28, 28)` and `int64` labels, the same  # [torch]
# arrays for PyTorch and Keras. If the full training set cannot be found or downloaded  # [torch]
# `load_mnist` returns `uint8` images shaped `(N, 28, 28)` and `int64` labels, the very  # [keras]
# arrays the PyTorch lab uses. If the full training set cannot be found or downloaded  # [keras]
# (as on the course's offline CI machine), it says so and uses a 5,000-image subset.
# The VAEs take these `uint8` images as they are: they scale them to $[0, 1]$ and
# binarize them, because their decoder models each pixel as a coin flip (a Bernoulli
# variable), which only makes sense for black-or-white pixels.

# %%
images, labels = load_mnist("train")
images, labels = random_subset(
    pick(full=len(images), fast=2048), images, labels, seed=0
)
test_images, test_labels = load_mnist("test")
print(f"training on {len(images):,} images; {len(test_images):,} test images")
show_images(images[:32] / 255.0, title="Real MNIST digits", nrow=8);

# %% [markdown]
# ## 2. The model
#
# The model is an MLP VAE. The encoder maps the 784 pixels through 512 and 256
# units to 32 numbers: the mean $\mu$ and the log-variance $\log\sigma^2$ of
# $q(z \mid x) = \mathcal N(\mu, \operatorname{diag}\sigma^2)$ over a 16-dimensional latent $z$. The
# decoder maps $z$ through 256 and 512 units back to 784 **logits**, one per pixel:
# $p(x_j = 1 \mid z) = \operatorname{sigmoid}(\text{logit}_j)$.

# %% [markdown]
# The networks are written out in the next cell, and the losses and the training step
# after it: this is the code you train. Change a layer or the loss, rerun the cells from
# here, and the rest of the lab uses your version. The cells are the package's own code,
# `aigc_course.torch.vae` (a test checks that they read the same), where the results  # [torch]
# `aigc_course.keras.vae` (a test checks that they read the same), where the results  # [keras]
# page and the later chapters take it from.

# %% tags=["torch"] mirrors="aigc_course.torch.vae"
from torch import nn


def mlp_encoder(latent_dim: int = 16, hidden=(512, 256)) -> nn.Sequential:
    h1, h2 = hidden
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, h1),
        nn.ReLU(),
        nn.Linear(h1, h2),
        nn.ReLU(),
        nn.Linear(h2, 2 * latent_dim),
    )


def mlp_decoder(latent_dim: int = 16, hidden=(512, 256)) -> nn.Sequential:
    h1, h2 = hidden
    return nn.Sequential(
        nn.Linear(latent_dim, h2),
        nn.ReLU(),
        nn.Linear(h2, h1),
        nn.ReLU(),
        nn.Linear(h1, 28 * 28),
        nn.Unflatten(1, (1, 28, 28)),
    )

# %% tags=["keras"] mirrors="aigc_course.keras.vae"
from keras import layers, ops


def mlp_encoder(latent_dim: int = 16, hidden=(512, 256)) -> keras.Sequential:
    h1, h2 = hidden
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Flatten(),
            layers.Dense(h1, activation="relu"),
            layers.Dense(h2, activation="relu"),
            layers.Dense(2 * latent_dim),
        ],
        name="encoder",
    )


def mlp_decoder(latent_dim: int = 16, hidden=(512, 256)) -> keras.Sequential:
    h1, h2 = hidden
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(h2, activation="relu"),
            layers.Dense(h1, activation="relu"),
            layers.Dense(28 * 28),
            layers.Reshape((28, 28, 1)),
        ],
        name="decoder",
    )

# %% tags=["torch"]
encoder, decoder = mlp_encoder(), mlp_decoder()
print(encoder)
print(decoder)
print(
    f"encoder: {sum(p.numel() for p in encoder.parameters()):,} parameters; "
    f"decoder: {sum(p.numel() for p in decoder.parameters()):,}"
)

# %% tags=["keras"]
encoder, decoder = mlp_encoder(), mlp_decoder()
encoder.summary()
decoder.summary()

# %% [markdown]
# ## 3. Losses and the training step
#
# Three functions carry the whole method: the **reparameterization** $z = \mu + \sigma\varepsilon$,
# the closed-form KL divergence to the prior $\mathcal N(0, I)$, and the Bernoulli
# negative log-likelihood, which is binary cross-entropy **summed** over the pixels.  # [torch]
# negative log-likelihood, which is binary cross-entropy **summed** over the pixels. They  # [keras]
# are written with `keras.ops` only, so they run on every backend.  # [keras]

# %% tags=["torch"] mirrors="aigc_course.torch.vae"
import torch.nn.functional as F


def reparameterize(mu, logvar, eps):
    """z = mu + sigma * eps with sigma = exp(logvar / 2): a sample that gradients flow through."""
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu, logvar):
    """KL(N(mu, sigma^2) || N(0, 1)) per example: -1/2 sum(1 + logvar - mu^2 - exp(logvar))."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)


def bernoulli_nll(logits, x):
    """-log p(x|z) per example: BCE with logits, summed over the pixels."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return bce.flatten(1).sum(dim=1)

# %% tags=["keras"] mirrors="aigc_course.keras.vae"
def reparameterize(mu, logvar, eps):
    """z = mu + sigma * eps with sigma = exp(logvar / 2): a sample that gradients flow through."""
    return mu + ops.exp(0.5 * logvar) * eps


def gaussian_kl(mu, logvar):
    """KL(N(mu, sigma^2) || N(0, 1)) per example: -1/2 sum(1 + logvar - mu^2 - exp(logvar))."""
    return -0.5 * ops.sum(1.0 + logvar - ops.square(mu) - ops.exp(logvar), axis=-1)


def bernoulli_nll(logits, x):
    """-log p(x|z) per example: BCE with logits, summed over the pixels.

    softplus(l) - l*x: stable in every backend, and its gradient sigmoid(l) - x is
    right everywhere. (The form max(l, 0) - l*x + log(1 + exp(-|l|)) has the gradient
    0 at l = 0 exactly, where max and |.| have a kink: a network whose logits all
    start at 0 would never learn.)
    """
    bce = ops.softplus(logits) - logits * x
    return ops.sum(bce, axis=tuple(range(1, len(bce.shape))))

# %% [markdown] tags=["torch"]
# One training step: binarize the batch afresh (each pixel is 1 with probability equal
# to its intensity, so every epoch sees new binary images), encode, sample $z$ with the
# reparameterization, decode, and take **one** gradient step on the negative ELBO,
# $\text{recon} + \beta \cdot \text{KL}$, for the encoder and decoder together.

# %% [markdown] tags=["keras"]
# One training step: binarize the batch afresh (each pixel is 1 with probability equal
# to its intensity, so every epoch sees new binary images), encode, sample $z$ with the
# reparameterization, decode, and take **one** gradient step on the negative ELBO,
# $\text{recon} + \beta \cdot \text{KL}$, for the encoder and decoder together. The random
# numbers come from a `keras.random.SeedGenerator`, and the gradient step from the
# course's `apply_gradients` (shown in {doc}`../03_gans/gan_keras`), the one
# backend-specific function in the package.

# %% tags=["torch"] mirrors="aigc_course.torch.vae"
# the package's VAE: fit, save, load, ELBO, IWAE
from aigc_course.torch import vae as reference


class VAE(reference.VAE):
    """The course's VAE with its networks and training step written out on this page."""

    def build_networks(self, hidden):
        return mlp_encoder(self.latent_dim, hidden), mlp_decoder(
            self.latent_dim, hidden
        )

    def posterior(self, x):
        """q(z|x): the encoder's output split into (mu, logvar), each (N, latent_dim)."""
        return self.encoder(x).chunk(2, dim=1)

    def train_step(self, x):
        opt = self.optimizers["vae"]
        x = torch.bernoulli(x)  # dynamic binarization: a fresh binary image every step
        with self.autocast():
            mu, logvar = self.posterior(x)
            z = reparameterize(mu, logvar, torch.randn_like(mu))
            logits = self.decoder(z)
        recon = bernoulli_nll(logits.float(), x).mean()  # -E_q[log p(x|z)]
        kl = gaussian_kl(mu.float(), logvar.float()).mean()  # KL(q(z|x) || p(z))
        loss = recon + self.beta * kl  # -ELBO (beta = 1)
        opt.zero_grad(set_to_none=True)
        self.backward(loss)
        self.optimizer_step(opt)
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}

# %% tags=["keras"] mirrors="aigc_course.keras.vae"
# the package's VAE: fit, save, load, ELBO, IWAE
from aigc_course.keras import vae as reference
from aigc_course.keras.core import apply_gradients


# registered under the lab's own name, so that keras.models.load_model finds it
@keras.saving.register_keras_serializable(package="lab")
class VAE(reference.VAE):
    """The course's VAE with its networks and training step written out on this page."""

    def build_networks(self, hidden):
        return mlp_encoder(self.latent_dim, hidden), mlp_decoder(
            self.latent_dim, hidden
        )

    def posterior(self, x, training=False):
        """q(z|x): the encoder's output split into (mu, logvar), each (N, latent_dim)."""
        mu, logvar = ops.split(self.encoder(x, training=training), 2, axis=-1)
        return mu, logvar

    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        # dynamic binarization: a fresh binary image every step
        x = ops.cast(
            keras.random.uniform(ops.shape(x), seed=self.seed_gen) < x, "float32"
        )
        eps = keras.random.normal(
            (ops.shape(x)[0], self.latent_dim), seed=self.seed_gen
        )
        parts = {}

        def loss_fn():
            mu, logvar = self.posterior(x, training=True)
            logits = self.decoder(reparameterize(mu, logvar, eps), training=True)
            parts["recon"] = ops.mean(bernoulli_nll(logits, x))  # -E_q[log p(x|z)]
            parts["kl"] = ops.mean(gaussian_kl(mu, logvar))  # KL(q(z|x) || p(z))
            return parts["recon"] + self.beta * parts["kl"]  # -ELBO (beta = 1)

        loss = apply_gradients(self.optimizer, loss_fn, self.trainable_weights)

        self.loss_tracker.update_state(ops.stop_gradient(loss))
        self.recon_tracker.update_state(ops.stop_gradient(parts["recon"]))
        self.kl_tracker.update_state(ops.stop_gradient(parts["kl"]))
        return {m.name: m.result() for m in self.metrics}

# %%
vae = VAE()
print(f"trainable parameters: {vae.count_params():,} (the same in PyTorch and Keras)")

# %% [markdown] tags=["torch"]
# ## 4. Training
#
# `fit` (the course's small trainer, shared by every PyTorch model) shows a progress bar,
# records the mean of each logged value per epoch, calls the `SampleGrid` callback and
# writes a checkpoint after every epoch into a run folder named after the settings
# (`run_dir`; on Colab, on your Google Drive): if Colab disconnects, run the cell again
# and training resumes; change a setting and a new run starts. `verbose=1` draws a progress bar per epoch (what you see when you
# run it); this page was built in fast mode with `verbose=2`, one line per epoch.

# %% [markdown] tags=["keras"]
# ## 4. Training
#
# Keras's own `fit` draws the progress bar and records the history; the course's `fit`
# adds input checks, default optimizers, a guard that stops a diverging run and, with
# `checkpoint_dir`, a verified checkpoint after every epoch, so a disconnected Colab
# session resumes from the last finished epoch when you run the cell again (`run_dir` names the folder after the settings and, on Colab,
# puts it on your Google Drive; changed settings start a new run). `verbose="auto"` draws a progress bar (what you see when you
# run it); this page was built in fast mode with `verbose=2`, one line per epoch.

# %% tags=["torch"]
EPOCHS = pick(full=30, fast=2)
BATCH = pick(full=128, fast=32)
VERBOSE = pick(full=1, fast=2)
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    vae = pretrained.load("vae", "mnist", device=device)
    losses = pretrained.history("vae", "mnist")
else:
    checkpoint_dir = run_dir(
        "vae_pytorch", model=vae, data=images, epochs=EPOCHS, batch_size=BATCH, seed=0
    )
    losses = vae.fit(
        images,
        epochs=EPOCHS,
        batch_size=BATCH,
        callbacks=[SampleGrid(every=pick(full=10, fast=EPOCHS), n=32)],
        checkpoint_dir=checkpoint_dir,
        seed=0,
        verbose=VERBOSE,
    ).history
train_seconds = time.perf_counter() - t0

# %% tags=["keras"]
EPOCHS = pick(full=30, fast=2)
BATCH = pick(full=128, fast=32)
VERBOSE = pick(full="auto", fast=2)
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    vae = pretrained.load("vae", "mnist", framework="keras")
    losses = pretrained.history("vae", "mnist")
else:
    checkpoint_dir = run_dir(
        "vae_keras", model=vae, data=images, epochs=EPOCHS, batch_size=BATCH
    )
    losses = vae.fit(
        images,
        epochs=EPOCHS,
        batch_size=BATCH,
        callbacks=[SampleGrid(every=pick(full=10, fast=EPOCHS), n=32)],
        checkpoint_dir=checkpoint_dir,
        verbose=VERBOSE,
    ).history
train_seconds = time.perf_counter() - t0


# %%
def plot_vae_history(hist, title):
    """-ELBO and its reconstruction term on the left, the KL term on the right."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    plot_history(
        hist,
        keys=["loss", "recon"],
        ax=axes[0],
        title=f"{title}: -ELBO and reconstruction",
    )
    plot_history(hist, keys=["kl"], ax=axes[1], title=f"{title}: KL term")
    axes[0].set_ylabel("nats per image")
    axes[1].set_ylabel("nats per image")
    plt.show()


plot_vae_history(losses, "VAE (PyTorch)")  # [torch]
plot_vae_history(losses, f"VAE (Keras, {BACKEND})")  # [keras]
print(
    f"last epoch: -ELBO {losses['loss'][-1]:.1f} = reconstruction "
    f"{losses['recon'][-1]:.1f} + KL {losses['kl'][-1]:.1f} nats per image"
)

# %% [markdown]
# Both curves are in **nats per image**. The reconstruction term falls as the decoder
# learns to draw digits; the KL term first *rises*: at initialisation every $q(z \mid x)$ is
# close to the prior (KL near 0) and carries no information, and the model buys
# information about each image with KL. The ELBO as a whole goes up (the loss goes down).
#
# ## 5. Reconstructions and samples
#
# `reconstruct` encodes test digits to their posterior means $\mu$ and decodes them;
# `sample` decodes draws $z \sim \mathcal N(0, I)$. Both return pixel *probabilities*, the mean
# of the Bernoulli decoder, which is why they look grey rather than black and white.
# (After fast mode's few seconds of training the model has learned little more than an
# average digit; the full run gives recognisable, if blurry, digits.)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
show_images(test_images[:16] / 255.0, nrow=8, ax=axes[0], title="test digits")
show_images(
    vae.reconstruct(test_images[:16]), nrow=8, ax=axes[1], title="their reconstructions"
)
plt.show()
show_images(
    vae.sample(64, seed=123), title="New digits: decoded from z ~ N(0, I)", nrow=8
);

# %% [markdown]
# ### Your run beside the course checkpoint
#
# This page was built in fast mode, so the VAE above trained for seconds. The course also
# publishes this VAE trained with the full recipe (`make pretrain MODEL=vae DATASET=mnist`),
# one file that the PyTorch and the Keras lab both load; {doc}`../08_evaluation/results`
# scores all the checkpoints. Below, the same 64 codes $z$ (the same seed) decoded by your
# model and by the checkpoint; section 7 measures both on the same test digits.

# %%
if pretrained.is_published("vae", "mnist"):
    course = pretrained.load("vae", "mnist", device=device)  # [torch]
    course = pretrained.load("vae", "mnist", framework="keras")  # [keras]
    your_title = (
        "loaded, not trained (AIGC_COURSE_PRETRAINED=1)"
        if pretrained.use_only()
        else "your run: "
        + pretrained.training_summary(
            EPOCHS, len(images), train_seconds, "GPU" if gpu else "CPU"
        )
    )
    compare_samples(
        vae.sample(64, seed=123),
        course.sample(64, seed=123),
        your_title,
        pretrained.describe("vae", "mnist"),
        nrow=8,
    )
    plt.show()
else:
    print(
        "The course checkpoint vae/mnist is not published yet: "
        "`make pretrain MODEL=vae DATASET=mnist` trains it."
    )

# %% [markdown]
# ## 6. Walking through the latent space
#
# Encode two test digits, go from one code to the other in a straight line, and decode
# the points along the way. Because the KL term packs the codes of all training digits
# into the prior's region, the path stays among codes the decoder knows, and the images
# change gradually.

# %%
pairs = [(0, 1), (2, 3), (4, 7)]
steps = np.linspace(0.0, 1.0, 10)
mu, _ = vae.encode(test_images[[i for pair in pairs for i in pair]])
path = np.concatenate(
    [
        (1 - steps)[:, None] * mu[2 * r] + steps[:, None] * mu[2 * r + 1]
        for r in range(len(pairs))
    ]
)
show_images(
    vae.decode(path),
    nrow=len(steps),
    figsize=8,
    title="Straight lines in latent space between pairs of test digits",
);

# %% [markdown]
# Sixteen dimensions cannot be drawn. A VAE with a **2-D latent** can: train one (the
# same architecture with `latent_dim=2`), scatter the codes of test digits coloured by
# their label, and decode a regular grid of latent points. The grid is placed at the
# quantiles $5\%, \dots, 95\%$ of $\mathcal N(0, 1)$ in each coordinate, so that each cell
# holds about the same prior probability.

# %% tags=["torch"]
set_seed(0)
vae2 = VAE(latent_dim=2)
history2 = vae2.fit(
    images, epochs=pick(full=20, fast=EPOCHS), batch_size=BATCH, seed=0, verbose=VERBOSE
)
codes, _ = vae2.encode(test_images[: pick(full=5000, fast=2000)])

n_grid = 15
q = np.array([NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, n_grid)])
# rows from top (high z2)
grid = np.array([[x, y] for y in q[::-1] for x in q], dtype=np.float32)

fig, axes = plt.subplots(1, 2, figsize=(13, 6))
sc = axes[0].scatter(
    codes[:, 0],
    codes[:, 1],
    c=test_labels[: len(codes)],
    cmap="tab10",
    s=4,
    vmin=-0.5,
    vmax=9.5,
)
fig.colorbar(sc, ax=axes[0], ticks=range(10), label="digit")
box = [q[0], q[-1], q[0], q[-1]]
axes[0].plot(
    [box[0], box[1], box[1], box[0], box[0]],
    [box[2], box[2], box[3], box[3], box[2]],
    color="black",
    ls="--",
    lw=1,
    label="region decoded on the right",
)
axes[0].set_title("Posterior means of test digits")
axes[0].set_xlabel("$z_1$")
axes[0].set_ylabel("$z_2$")
axes[0].legend(loc="upper right")
show_images(
    vae2.decode(grid), nrow=n_grid, ax=axes[1], title="Decoded grid of latent points"
)
plt.show()

# %% tags=["keras"]
set_seed(0)
vae2 = VAE(latent_dim=2)
history2 = vae2.fit(
    images, epochs=pick(full=20, fast=EPOCHS), batch_size=BATCH, verbose=VERBOSE
)
codes, _ = vae2.encode(test_images[: pick(full=5000, fast=2000)])

n_grid = 15
q = np.array([NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, n_grid)])
# rows from top (high z2)
grid = np.array([[x, y] for y in q[::-1] for x in q], dtype=np.float32)

fig, axes = plt.subplots(1, 2, figsize=(13, 6))
sc = axes[0].scatter(
    codes[:, 0],
    codes[:, 1],
    c=test_labels[: len(codes)],
    cmap="tab10",
    s=4,
    vmin=-0.5,
    vmax=9.5,
)
fig.colorbar(sc, ax=axes[0], ticks=range(10), label="digit")
box = [q[0], q[-1], q[0], q[-1]]
axes[0].plot(
    [box[0], box[1], box[1], box[0], box[0]],
    [box[2], box[2], box[3], box[3], box[2]],
    color="black",
    ls="--",
    lw=1,
    label="region decoded on the right",
)
axes[0].set_title("Posterior means of test digits")
axes[0].set_xlabel("$z_1$")
axes[0].set_ylabel("$z_2$")
axes[0].legend(loc="upper right")
show_images(
    vae2.decode(grid), nrow=n_grid, ax=axes[1], title="Decoded grid of latent points"
)
plt.show()

# %% [markdown]
# Each digit class occupies its own region, neighbouring regions hold digits that look
# alike, and the decoded grid morphs smoothly from one class to the next. Fast mode's
# short training leaves some classes on top of each other; the full run separates them
# much better.
#
# ## 7. How likely are the test digits?
#
# A VAE gives a **lower bound** on $\log p(x)$, so it can be evaluated like any
# likelihood model (the concept notebook derives both bounds):
#
# * `elbo(x)`: the ELBO, $\mathbb E_q[\log p(x \mid z)] - \mathrm{KL}$;
# * `iwae_bound(x, k)`: the importance-weighted bound $\mathcal L_k$ {cite}`burda2016iwae`,
#   which grows with $k$ toward $\log p(x)$ (computed in chunks, so $k = 5000$ fits in memory).
#
# Both binarize the test digits by thresholding at 0.5. We report
# $-\log p(x)$ in nats per image and in **bits per dimension** (每维比特数),
# $-\log_2 p(x) / 784$.

# %%
n_eval = pick(full=1000, fast=64)
ks = pick(full=[1, 10, 100, 1000, 5000], fast=[1, 10, 100])
x_eval = test_images[:n_eval]
elbo = vae.elbo(x_eval, seed=0)
bounds = {k: vae.iwae_bound(x_eval, k=k, seed=0) for k in ks}
print(f"{n_eval} test digits      -log p(x) (nats)   bits/dim")
print(
    f"{'ELBO':>18}   <= {-elbo.mean():8.2f}        {nats_to_bits_per_dim(-elbo.mean()):.4f}"
)
for k, b in bounds.items():
    print(
        f"{'IWAE, k = ' + str(k):>18}   <= {-b.mean():8.2f}        {nats_to_bits_per_dim(-b.mean()):.4f}"
    )
means = [bounds[k].mean() for k in ks]
assert all(a <= b + 0.5 for a, b in zip(means, means[1:]))  # grows with k (up to noise)

fig, ax = plt.subplots(figsize=(6.5, 3.8))
ax.plot(ks, [-m for m in means], "o-", label=r"$-\mathcal{L}_k$ (IWAE)")
ax.axhline(-elbo.mean(), color="tab:red", ls="--", label="-ELBO")
ax.set_xscale("log")
ax.set_title("Upper bounds on -log p(x) of test digits")
ax.set_xlabel("number of importance samples k")
ax.set_ylabel("nats per image")
ax.legend()
plt.show()

# %% [markdown]
# Each bound is an *upper* bound on $-\log p(x)$, and a larger $k$ gives a tighter one: the
# distance between the ELBO and $\mathcal L_{k}$ is a lower estimate of how much the ELBO
# underestimates the likelihood, because $q(z \mid x)$ is not the true posterior. For
# comparison, published VAEs of about this size reach around 85–90 nats on binarized
# MNIST test digits with $k = 5000$ {cite}`burda2016iwae`; the binarization protocol must
# match before numbers are compared (we threshold; most papers sample).
#
# The course checkpoint (section 5) on the same test digits, with the same bounds. (Its card,
# `pretrained.card("vae", "mnist")["metrics"]`, reports bounds on other test digits binarized
# by sampling, so its numbers differ from these.)

# %%
if pretrained.is_published("vae", "mnist"):
    course_bounds = {
        "ELBO": course.elbo(x_eval, seed=0),
        f"IWAE, k = {ks[-1]}": course.iwae_bound(x_eval, k=ks[-1], seed=0),
    }
    print(
        f"{str(n_eval) + ' test digits':>28}   {'your VAE':^29}   {'course checkpoint':^29}"
    )
    for (name, theirs), yours in zip(course_bounds.items(), (elbo, bounds[ks[-1]])):
        a, b = -yours.mean(), -theirs.mean()
        print(
            f"{name + ': -log p(x) <=':>28}   {a:7.2f} nats, {nats_to_bits_per_dim(a):.4f} bits/dim"
            f"   {b:7.2f} nats, {nats_to_bits_per_dim(b):.4f} bits/dim"
        )
else:
    print(
        "The course checkpoint vae/mnist is not published yet: "
        "`make pretrain MODEL=vae DATASET=mnist` trains it."
    )

# %% [markdown]
# ## 8. $\beta$-VAE: trading reconstruction for KL
#
# A $\beta$-VAE {cite}`higgins2017betavae` multiplies the KL term by $\beta$. Train the same
# model with $\beta = 4$ and compare both terms with the $\beta = 1$ run above.

# %%
set_seed(0)
vae_b4 = VAE(beta=4.0)
history_b4 = vae_b4.fit(  # [torch]
    images, epochs=EPOCHS, batch_size=BATCH, seed=0, verbose=VERBOSE  # [torch]
)  # [torch]
history_b4 = vae_b4.fit(images, epochs=EPOCHS, batch_size=BATCH, verbose=VERBOSE)  # [keras]

runs = {"beta = 1": (vae, losses), "beta = 4": (vae_b4, history_b4.history)}
fig, axes = plt.subplots(2, 2, figsize=(11, 7), gridspec_kw={"height_ratios": [1, 1.1]})
for ax, part, name in (
    (axes[0, 0], "recon", "reconstruction term"),
    (axes[0, 1], "kl", "KL term"),
):
    ax.bar(
        list(runs),
        [h[part][-1] for _, h in runs.values()],
        color=["tab:blue", "tab:orange"],
    )
    ax.set_title(f"{name} after training")
    ax.set_ylabel("nats per image (last epoch)")
for ax, (name, (model, _h)) in zip(axes[1], runs.items()):
    show_images(model.sample(32, seed=123), nrow=8, ax=ax, title=f"{name}: samples")
plt.show()
test_elbo = {}
for name, (model, h) in runs.items():
    test_elbo[name] = model.elbo(x_eval, seed=0).mean()
    print(
        f"{name}: training recon {h['recon'][-1]:.1f}, KL {h['kl'][-1]:.1f}; "
        f"test ELBO {test_elbo[name]:.1f} nats"
    )
assert history_b4.history["kl"][-1] < losses["kl"][-1]
assert history_b4.history["recon"][-1] > losses["recon"][-1]
assert test_elbo["beta = 4"] < test_elbo["beta = 1"]

# %% [markdown]
# With $\beta = 4$ information in $z$ costs four times as much: the KL term is smaller, the
# reconstruction term larger, and the samples typically smoother and less varied. Measured by the
# ELBO with $\beta = 1$ (the real bound on $\log p(x)$), the $\beta = 4$ model is worse: it
# was trained for something else, codes closer to the prior. (The concept notebook
# computes this trade-off exactly for a linear VAE.)
#
# ## 9. A conditional VAE: the digit you ask for
#
# A VAE's samples come in whatever class the random $z$ happens to decode to. A
# **conditional VAE** (CVAE, 条件变分自编码器) {cite}`sohn2015cvae` gives the label $y$ to both
# networks, $q(z \mid x, y)$ and $p(x \mid z, y)$, as a one-hot vector concatenated to the
# image and to $z$. It maximises a bound on $\log p(x \mid y)$; the label says *which* digit,
# so $z$ only has to describe *how* it is written. `MODELS["cvae"]` has the same
# networks as the VAE, with 10 extra inputs to each.

# %%
show_source(MODELS["cvae"].train_step)

# %% tags=["torch"]
set_seed(0)
cvae = MODELS["cvae"]()
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    cvae = pretrained.load("cvae", "mnist", device=device)
    losses_c = pretrained.history("cvae", "mnist")
else:
    losses_c = cvae.fit(
        images, labels, epochs=EPOCHS, batch_size=BATCH, seed=0, verbose=VERBOSE
    ).history
cvae_seconds = time.perf_counter() - t0
print(f"parameters: CVAE {cvae.count_params():,}, VAE {vae.count_params():,}")
# eight of each digit, one row per digit
digits = np.repeat(np.arange(10), 8)
show_images(
    cvae.sample(80, seed=123, labels=digits),
    nrow=8,
    figsize=5,
    title="CVAE: each row asks for one digit",
);

# %% tags=["keras"]
set_seed(0)
cvae = MODELS["cvae"]()
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    cvae = pretrained.load("cvae", "mnist", framework="keras")
    losses_c = pretrained.history("cvae", "mnist")
else:
    losses_c = cvae.fit(
        images, labels, epochs=EPOCHS, batch_size=BATCH, verbose=VERBOSE
    ).history
cvae_seconds = time.perf_counter() - t0
print(f"parameters: CVAE {cvae.count_params():,}, VAE {vae.count_params():,}")
# eight of each digit, one row per digit
digits = np.repeat(np.arange(10), 8)
show_images(
    cvae.sample(80, seed=123, labels=digits),
    nrow=8,
    figsize=5,
    title="CVAE: each row asks for one digit",
);

# %% [markdown]
# After the full run each row shows the digit it asked for, and since every row uses the
# same eight codes $z$ (the same seed draws the same $z$), each *column* keeps one style,
# slant and thickness, while the label changes the digit. (In fast mode the model is
# still learning what the classes look like; the likelihood check below shows that it
# already uses the label.) The same works for a real handwriting style: encode a test
# digit with its own label, keep its code, and decode it with every label.

# %%
style_ids = [0, 1, 2, 3]  # four test digits
rows = []
for i in style_ids:
    mu_i, _ = cvae.encode(test_images[i : i + 1], test_labels[i : i + 1])
    rows.append(
        np.concatenate(
            [
                test_images[i : i + 1] / 255.0,
                cvae.decode(np.repeat(mu_i, 10, axis=0), np.arange(10)),
            ]
        )
    )
show_images(
    np.concatenate(rows),
    nrow=11,
    figsize=7,
    title="Left: a test digit. Right: its code decoded as 0, 1, ..., 9",
)
K_LABELS = pick(full=1000, fast=100)
test_ll = cvae.iwae_bound(x_eval, test_labels[:n_eval], k=K_LABELS, seed=0)
wrong_ll = cvae.iwae_bound(x_eval, (test_labels[:n_eval] + 1) % 10, k=K_LABELS, seed=0)
print(
    f"IWAE bound (k = {K_LABELS}) on log p(x | y): true labels {test_ll.mean():.1f} nats, "
    f"wrong labels {wrong_ll.mean():.1f} nats"
)
assert test_ll.mean() > wrong_ll.mean()

# %% [markdown]
# With the wrong label the same images are much less likely: the model has learned
# what each class looks like. (A bound on $\log p(x \mid y)$ is not comparable with the
# VAE's bound on $\log p(x)$: $\log p(x) = \log \sum_y p(y)\, p(x \mid y)$.)
#
# ### Your run beside the course checkpoint: the CVAE
#
# The course publishes a CVAE trained with the full recipe too (`make pretrain MODEL=cvae
# DATASET=mnist`), the same file for PyTorch and Keras. The same rows of digits from both
# models (the same seed), and the same bound on $\log p(x \mid y)$ on the same test digits:

# %%
if pretrained.is_published("cvae", "mnist"):
    course_c = pretrained.load("cvae", "mnist", device=device)  # [torch]
    course_c = pretrained.load("cvae", "mnist", framework="keras")  # [keras]
    your_title = (
        "loaded, not trained (AIGC_COURSE_PRETRAINED=1)"
        if pretrained.use_only()
        else "your run: "
        + pretrained.training_summary(
            EPOCHS, len(images), cvae_seconds, "GPU" if gpu else "CPU"
        )
    )
    compare_samples(
        cvae.sample(80, seed=123, labels=digits),
        course_c.sample(80, seed=123, labels=digits),
        your_title,
        pretrained.describe("cvae", "mnist"),
        nrow=8,
    )
    plt.show()
    course_ll = course_c.iwae_bound(x_eval, test_labels[:n_eval], k=K_LABELS, seed=0)
    print(
        f"IWAE bound (k = {K_LABELS}) on log p(x | y), true labels: yours {test_ll.mean():.1f} nats, "
        f"the checkpoint's {course_ll.mean():.1f} nats"
    )
else:
    print(
        "The course checkpoint cvae/mnist is not published yet: "
        "`make pretrain MODEL=cvae DATASET=mnist` trains it."
    )

# %% [markdown] tags=["torch"]
# ## 10. Save, reload, generate
#
# `save` writes a state dict; `load` reads it back with `weights_only=True`, so loading
# never runs pickled code.

# %% tags=["torch"]
folder = tempfile.mkdtemp()
vae.save(f"{folder}/vae_mnist.pt")
cvae.save(f"{folder}/cvae_mnist.pt")
reloaded = MODELS["vae"]().to(device).load(f"{folder}/vae_mnist.pt")
reloaded_c = MODELS["cvae"]().to(device).load(f"{folder}/cvae_mnist.pt")
assert np.array_equal(reloaded.sample(64, seed=7), vae.sample(64, seed=7)), (
    "reloaded VAE differs"
)
assert np.array_equal(reloaded_c.sample(10, seed=7), cvae.sample(10, seed=7)), (
    "reloaded CVAE differs"
)
show_images(
    reloaded_c.sample(10, seed=7),
    nrow=10,
    figsize=6,
    title="Digits 0-9 from the reloaded CVAE",
);

# %% [markdown] tags=["torch"]
# ## 11. What goes wrong in common tutorial code
#
# The concept notebook runs three conceptual bugs (no KL term, a circular encoder,
# alternating updates). Three more are about code; the third is the source articles'.
#
# (vae-pytorch-pitfall-rsample)=
# **Pitfall 1: sampling with `.sample()`.** `torch.distributions.Normal(mu, sigma)` looks
# like the natural way to draw $z$. Its `sample()` method draws *without* recording a
# gradient, so the reconstruction term sends nothing back to the encoder; `rsample()` is
# the reparameterized draw, $\mu + \sigma\varepsilon$.

# %% tags=["torch"]
set_seed(0)
x = torch.as_tensor(vae.prepare(test_images[:8])[0]).to(device)
for method in ("sample", "rsample"):
    vae.zero_grad()
    mu, logvar = vae.posterior(x)
    q_z = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    z = getattr(q_z, method)()  # BUG with "sample"
    recon = reference.bernoulli_nll(vae.decoder(z), x).mean()
    recon.backward()
    grad = vae.encoder[1].weight.grad  # the encoder's first layer
    print(
        f"q_z.{method}(): gradient of the reconstruction term reaching the encoder: "
        f"{'none' if grad is None else f'norm {grad.norm():.3g}'}"
    )

# %% [markdown] tags=["torch"]
# With `sample()` the encoder would be trained by the KL term alone, which pulls every
# $q(z \mid x)$ to the prior: the model collapses. The course's `reparameterize` writes
# $\mu + \sigma\varepsilon$ out, so nothing depends on remembering the `r`.
#
# (vae-pytorch-pitfall-mean-bce)=
# **Pitfall 2: the reconstruction loss averaged over pixels.** Many tutorials write the
# reconstruction term as `binary_cross_entropy(x_hat, x)` with the default `mean`
# reduction, and add the KL term summed over the latent dimensions. The mean divides the
# reconstruction by 784, which is the same as multiplying the KL term by 784:
# `mean_bce + kl = (sum_bce + 784 * kl) / 784`, a $\beta$-VAE with $\beta = 784$. So we can run
# the bug without writing it:

# %% [markdown] tags=["keras"]
# ## 10. Save, reload, generate
#
# `save("….keras")` writes the configuration and the weights. `load` reads the weights
# into a fresh model; `keras.models.load_model` rebuilds the model from the file alone,
# its arguments included (here the CVAE's `num_classes`).

# %% tags=["keras"]
folder = tempfile.mkdtemp()
vae.save(f"{folder}/vae_mnist.keras")
cvae.save(f"{folder}/cvae_mnist.keras")
reloaded = MODELS["vae"]().load(f"{folder}/vae_mnist.keras")
reloaded_c = keras.models.load_model(f"{folder}/cvae_mnist.keras")
print(
    f"rebuilt from the file: {type(reloaded_c).__name__} with {reloaded_c.num_classes} classes"
)
assert np.array_equal(reloaded.sample(64, seed=7), vae.sample(64, seed=7)), (
    "reloaded VAE differs"
)
assert np.array_equal(reloaded_c.sample(10, seed=7), cvae.sample(10, seed=7)), (
    "reloaded CVAE differs"
)
show_images(
    reloaded_c.sample(10, seed=7),
    nrow=10,
    figsize=6,
    title="Digits 0-9 from the reloaded CVAE",
);

# %% [markdown] tags=["keras"]
# ## 11. What goes wrong in common tutorial code
#
# The concept notebook runs three conceptual bugs (no KL term, a circular encoder,
# alternating updates). Two more come from classic Keras VAE code, and a third is the
# VAE of the source articles' programming exercise.
#
# (vae-keras-pitfall-fixed-batch)=
# **Pitfall 1: the noise drawn with a fixed batch size.** Old Keras examples draw
# $\varepsilon$ in the sampling layer as `random_normal(shape=(batch_size, latent_dim))`, with
# the batch size written in. The model then works only on batches of exactly that size:
# the last, smaller batch of an epoch, or `predict` on a few images, fails.

# %% tags=["keras"]
batch_size, latent_dim = 64, vae.latent_dim
mu, logvar = vae.posterior(vae.prepare(test_images[:50])[0])  # a batch of 50
eps_bug = keras.random.normal((batch_size, latent_dim), seed=0)  # BUG: 64 rows, not 50
try:
    reference.reparameterize(mu, logvar, eps_bug)
except Exception as err:  # TensorFlow and PyTorch word the shape error differently
    # drop TensorFlow's op prefix
    message = str(err).split("}}")[-1].strip().splitlines()[0]
    print(type(err).__name__ + ":", message[:150])
# the fix: the batch's own shape
eps = keras.random.normal(keras.ops.shape(mu), seed=0)
print(
    "with eps shaped like mu:", tuple(reference.reparameterize(mu, logvar, eps).shape)
)

# %% [markdown] tags=["keras"]
# The course's `train_step` draws `eps` with shape `(ops.shape(x)[0], latent_dim)`.
#
# (vae-keras-pitfall-mean-bce)=
# **Pitfall 2: the reconstruction loss averaged over pixels.** Classic Keras VAEs compute
# the reconstruction term with `keras.losses.binary_crossentropy(x, x_hat)` on flattened
# images and add the KL term summed over the latent dimensions. That loss **averages**
# over its last axis, the 784 pixels:

# %% tags=["keras"]
# 0/1 pixels
x_flat = threshold_binarize(test_images[:4]).reshape(4, 784)
# probabilities
p_flat = np.clip(vae.reconstruct(test_images[:4]).reshape(4, 784), 1e-6, 1 - 1e-6)
keras_bce = keras.ops.convert_to_numpy(keras.losses.binary_crossentropy(x_flat, p_flat))
summed = -(x_flat * np.log(p_flat) + (1 - x_flat) * np.log(1 - p_flat)).sum(1)
print(
    f"keras.losses.binary_crossentropy: shape {keras_bce.shape}, values {keras_bce.round(4)}"
)
print(f"x 784:                            {(784 * keras_bce).round(2)}")
print(f"-log p(x|z), summed over pixels:  {summed.round(2)}")
assert np.allclose(784 * keras_bce, summed, rtol=1e-3)

# %% [markdown] tags=["keras"]
# The mean divides the reconstruction by 784, which is the same as multiplying the KL
# term by 784: `mean_bce + kl = (sum_bce + 784 * kl) / 784`, a $\beta$-VAE with
# $\beta = 784$. So we can run the bug without writing it:

# %% tags=["torch"]
set_seed(0)
vae_mean = MODELS["vae"](beta=784.0)  # == mean-over-pixels BCE + KL
history_mean = vae_mean.fit(
    images, epochs=pick(full=10, fast=EPOCHS), batch_size=BATCH, seed=0, verbose=VERBOSE
)
print(
    f"KL term after training: {history_mean.history['kl'][-1]:.3f} nats "
    f"(the VAE above: {losses['kl'][-1]:.1f})"
)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
show_images(
    vae_mean.sample(16, seed=123),
    nrow=8,
    ax=axes[0],
    title="mean-over-pixels loss: samples",
)
show_images(
    vae_mean.reconstruct(test_images[:16]),
    nrow=8,
    ax=axes[1],
    title="mean-over-pixels loss: reconstructions",
)
plt.show()
assert history_mean.history["kl"][-1] < 0.1 * losses["kl"][-1]

# %% tags=["keras"]
set_seed(0)
vae_mean = MODELS["vae"](beta=784.0)  # == mean-over-pixels BCE + KL
history_mean = vae_mean.fit(
    images, epochs=pick(full=10, fast=EPOCHS), batch_size=BATCH, verbose=VERBOSE
)
print(
    f"KL term after training: {history_mean.history['kl'][-1]:.3f} nats "
    f"(the VAE above: {losses['kl'][-1]:.1f})"
)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
show_images(
    vae_mean.sample(16, seed=123),
    nrow=8,
    ax=axes[0],
    title="mean-over-pixels loss: samples",
)
show_images(
    vae_mean.reconstruct(test_images[:16]),
    nrow=8,
    ax=axes[1],
    title="mean-over-pixels loss: reconstructions",
)
plt.show()
assert history_mean.history["kl"][-1] < 0.1 * losses["kl"][-1]

# %% [markdown] tags=["torch"]
# The KL term is driven to (nearly) zero: $q(z \mid x)$ is the prior for every image, the
# decoder ignores $z$, and every sample and every "reconstruction" is the same average
# digit. This is **posterior collapse** (后验坍塌), caused here by a loss whose two terms
# are on different scales. The fix: sum the reconstruction term over pixels, as
# `bernoulli_nll` does.
#
# (vae-pytorch-pitfall-kl-sum)=
# **Pitfall 3: the KL term summed with Python's `sum`.** Article 001 (sections 3.6.3 and
# 3.7.4) writes `kl_loss = -0.5 * sum(1 + z_log_var - z_mean**2 - z_log_var.exp())`.
# Python's built-in `sum` iterates over the *first* axis of a tensor, the batch: the
# result is one number per latent dimension, summed over the examples, and adding it to
# a scalar reconstruction loss gives a vector that `backward()` refuses.

# %% tags=["torch"]
mu, logvar = vae.posterior(x)
recon = reference.bernoulli_nll(
    vae.decoder(reference.reparameterize(mu, logvar, torch.randn_like(mu))), x
).mean()
z_mean, z_log_var = mu, logvar
kl_loss = -0.5 * sum(1 + z_log_var - z_mean**2 - z_log_var.exp())  # as printed
print(
    f"mu: {tuple(mu.shape)} (batch, latent); Python's sum gives kl_loss of shape {tuple(kl_loss.shape)}"
)
try:
    (recon + kl_loss).backward()
except RuntimeError as err:
    print("RuntimeError:", str(err).splitlines()[0])
# sum over z, mean over the batch
kl_fixed = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)).mean()
assert torch.allclose(kl_fixed, reference.gaussian_kl(mu, logvar).mean())
print(
    f"fixed: KL per example, averaged over the batch = {kl_fixed.item():.2f} nats (= the course's gaussian_kl)"
)

# %% [markdown] tags=["keras"]
# The KL term is driven to (nearly) zero: $q(z \mid x)$ is the prior for every image, the
# decoder ignores $z$, and every sample and every "reconstruction" is the same average
# digit. This is **posterior collapse** (后验坍塌), caused here by a loss whose two terms
# are on different scales. The fix: sum the reconstruction term over pixels, as
# `bernoulli_nll` does.
#
# (vae-keras-pitfall-exercise)=
# **Pitfall 3: the programming exercise's VAE (article 003).** Its `build_vae` starts with
# `x = Dense(512, activation='relu')(input_img)` on `Input(shape=(28, 28, 1))`, with no
# `Flatten`; ends the "encoder" with `Dense(np.prod(input_shape), activation='sigmoid')` and
# `encoded = Reshape(input_shape)(x)`; takes `z_mean` and `z_log_var` from that same `x`; and
# decodes with `decoded = Reshape(input_shape)(z)`, a reshape of the 20-dimensional code
# into a 28 × 28 × 1 image, with no decoder network at all. Build it layer by layer and
# look at the shapes:

# %% tags=["keras"]
import re


def error_summary(err, width=120):
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    text = re.sub(r"Exception encountered when calling \w+\.call\(\)\.", "", text)
    return (
        f"{type(err).__name__}: {' '.join(text.split()).split(' Received')[0][:width]}"
    )


input_shape = (28, 28, 1)
input_img = keras.Input(shape=input_shape)
x = layers.Dense(512, activation="relu")(input_img)  # as printed: no Flatten
print("Dense(512) on a 28x28x1 image:", tuple(x.shape), "(one 512-vector per pixel)")
x = layers.Dense(1024, activation="relu")(x)
x = layers.Dense(512, activation="relu")(x)
x = layers.Dense(int(np.prod(input_shape)), activation="sigmoid")(x)
print("the encoder's last layer:", tuple(x.shape))
for name, build in [
    ("encoded = Reshape(input_shape)(x)", lambda: layers.Reshape(input_shape)(x)),
    (
        "decoded = Reshape(input_shape)(z), z of 20 numbers",
        lambda: layers.Reshape(input_shape)(keras.Input(shape=(20,))),
    ),
]:
    try:
        build()
        print(f"{name}: builds")
    except Exception as err:
        print(f"{name}:\n    {error_summary(err)}")
z_mean = layers.Dense(20)(x)
print(
    "z_mean = Dense(20)(x):",
    tuple(z_mean.shape),
    "; the sampling function's dim = K.int_shape(z_mean)[1] =",
    z_mean.shape[1],
)
log_var = np.linspace(-30, 30, 7)
print(
    "a sigmoid on the log-variance head confines sigma^2 to",
    f"[{np.exp(1 / (1 + np.exp(-log_var))).min():.2f}, {np.exp(1 / (1 + np.exp(-log_var))).max():.2f}]",
)

# %% [markdown]
# The KL term is a sum over the latent dimensions for each example; the loss averages  # [torch]
# it over the batch, like the reconstruction term. The course's `gaussian_kl` returns one  # [torch]
# KL per example and `train_step` takes the mean.  # [torch]
# With the layers acting on each pixel separately the "encoder" never sees the image as a  # [keras]
# whole; neither reshape can be built (784 numbers per pixel, then 20 numbers, cannot  # [keras]
# become 28 × 28 × 1); the code has the shape of the image, not 20 numbers; and the  # [keras]
# model that composes them puts `Dense(784, activation='sigmoid')` heads for the mean *and*  # [keras]
# the log-variance on the encoder's output, so that $\sigma^2 = e^{\text{sigmoid}(\cdot)}$  # [keras]
# can only lie between 1 and $e$. Finally it is compiled with  # [keras]
# `loss='binary_crossentropy'` alone: no KL term ({doc}`vae_concepts`, section 9, pitfall  # [keras]
# 1). The data do reach the encoder; what is missing is everything else. The model of  # [keras]
# this lab is the repaired version: `Flatten`, an MLP encoder with two heads of  # [keras]
# `latent_dim` numbers (mean and log-variance, no activation), the reparameterized sample,  # [keras]
# a decoder MLP back to 784 logits and a `Reshape`, and the loss $-\text{ELBO}$, the summed  # [keras]
# BCE plus the KL term.  # [keras]
#
# ## Exercises
#
# :::{exercise}
# :label: vae-pytorch-ex-conv  # [torch]
# :label: vae-keras-ex-conv  # [keras]
# Train `MODELS["conv_vae"]()` (convolutional encoder and decoder, about a fifth of the
# parameters) with the same settings and compare its IWAE bound on the same test digits
# with the MLP VAE's. Which is better, and by how much in bits per dimension?
# :::
#
# :::{solution} vae-pytorch-ex-conv  # [torch]
# :::{solution} vae-keras-ex-conv  # [keras]
# :class: dropdown
# `conv = MODELS["conv_vae"](); conv.fit(images, epochs=EPOCHS, batch_size=BATCH)`, then
# `conv.iwae_bound(x_eval, k=ks[-1], seed=0).mean()`. Convolutions share weights across
# positions and know that neighbouring pixels belong together, so with enough training
# the conv VAE usually reaches a better (higher) bound with fewer parameters. Divide the
# difference in nats by $784 \ln 2 \approx 543$ for bits per dimension: one nat per image is
# only 0.0018 bits/dim, which is why bits/dim are quoted with three or four decimals.
# :::
#
# :::{exercise}
# :label: vae-pytorch-ex-traversal  # [torch]
# :label: vae-keras-ex-traversal  # [keras]
# Train a CVAE with a 2-D latent, `MODELS["cvae"](latent_dim=2)`, and decode the grid of
# section 6 with the label 3 for every point, then with the label 7. What do the two
# latent coordinates control now?
# :::
#
# :::{solution} vae-pytorch-ex-traversal  # [torch]
# :::{solution} vae-keras-ex-traversal  # [keras]
# :class: dropdown
# `cvae2.decode(grid, np.full(len(grid), 3))`. Every cell is now a 3 (or a 7): the class
# comes from the label, so the two coordinates only describe style, typically slant along
# one direction and stroke width or roundness along the other, and the *same* position
# gives the same style for both digits. In the unconditional 2-D VAE the coordinates had
# to encode the class as well.
# :::
#
# :::{exercise}
# :label: vae-pytorch-ex-binarization  # [torch]
# Our bounds threshold the test digits at 0.5. Evaluate `vae.iwae_bound` on test digits  # [torch]
# binarized by sampling instead (`aigc_course.data.binarize(test_images[:n_eval],  # [torch]
# "dynamic", seed=1)`, which returns floats in {0, 1}). Are the numbers higher or lower,  # [torch]
# and why?  # [torch]
# :label: vae-keras-ex-backend  # [keras]
# Restart the kernel, set `os.environ["KERAS_BACKEND"] = "torch"` in the import cell and  # [keras]
# run the lab again. Do the parameter counts, the losses and the sampled digits change?  # [keras]
# :::
#
# :::{solution} vae-pytorch-ex-binarization  # [torch]
# :::{solution} vae-keras-ex-backend  # [keras]
# :class: dropdown
# Sampled binarizations are noisier (grey edge pixels become random speckles), so they  # [torch]
# are *less* likely under the model: $-\log p(x)$ goes up by several nats per image.  # [torch]
# Neither protocol is wrong, but numbers from different protocols cannot be compared,  # [torch]
# which is why papers state how they binarize.  # [torch]
# The parameter counts are identical (they do not depend on the backend), and every cell  # [keras]
# runs: the losses use `keras.ops`, and only `apply_gradients` differs per backend. The  # [keras]
# numbers and digits differ slightly, because the two backends initialise the weights  # [keras]
# and draw training noise with different random number generators; `sample(n, seed=s)`  # [keras]
# draws its $z$ with NumPy, so the same weights give the same samples on both.  # [keras]
# Pitfall 1's error message is worded by the backend.  # [keras]
# :::
#
# :::{exercise}
# :label: vae-pytorch-ex-check-losses  # [torch]
# :label: vae-keras-ex-check-losses  # [keras]
# Without looking at section 3, write `my_reparameterize(mu, logvar, eps)` and
# `my_gaussian_kl(mu, logvar)` (one KL per example, shape `(N,)`) with `torch`, in the cell  # [torch]
# `my_gaussian_kl(mu, logvar)` (one KL per example, shape `(N,)`) with `keras.ops`, in the cell  # [keras]
# below, and run it. `check` (from `aigc_course.exercises`) compares each with a
# reference on random inputs and edge cases and, where they differ, shows the input and
# gives a hint. The programming exercises {doc}`../12_exercises/exercises_pytorch` build and  # [torch]
# gives a hint. The programming exercises {doc}`../12_exercises/exercises_keras` build and  # [keras]
# train a whole VAE this way.
# :::

# %%
# Check your answer: replace the two bodies with your code, then run the cell.
from aigc_course.exercises import check


def my_reparameterize(mu, logvar, eps):
    raise NotImplementedError("your code here")


def my_gaussian_kl(mu, logvar):
    raise NotImplementedError("your code here")


check("reparameterize", my_reparameterize, framework="torch")  # [torch]
check("vae_kl", my_gaussian_kl, framework="torch")  # [torch]
check("reparameterize", my_reparameterize, framework="keras")  # [keras]
check("vae_kl", my_gaussian_kl, framework="keras")  # [keras]
# the course's functions, used in this lab, pass the same checks
assert check("reparameterize", reference.reparameterize, framework="torch")  # [torch]
assert check("vae_kl", reference.gaussian_kl, framework="torch")  # [torch]
assert check("bernoulli_nll", reference.bernoulli_nll, framework="torch")  # [torch]
assert check("reparameterize", reference.reparameterize, framework="keras")  # [keras]
assert check("vae_kl", reference.gaussian_kl, framework="keras")  # [keras]
assert check("bernoulli_nll", reference.bernoulli_nll, framework="keras")  # [keras]
