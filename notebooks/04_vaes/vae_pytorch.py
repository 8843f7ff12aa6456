# ---
# jupyter:
#   aigc_course:
#     edit: vae_lab.py, then run make sync
#     generated_from: vae_lab.py
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

# %% [markdown]
# ## 1. Data
#
# `load_mnist` returns `uint8` images shaped `(N, 28, 28)` and `int64` labels, the same
# arrays for PyTorch and Keras. If the full training set cannot be found or downloaded
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
# `aigc_course.torch.vae` (a test checks that they read the same), where the results
# page and the later chapters take it from.

# %% mirrors="aigc_course.torch.vae"
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

# %%
encoder, decoder = mlp_encoder(), mlp_decoder()
print(encoder)
print(decoder)
print(
    f"encoder: {sum(p.numel() for p in encoder.parameters()):,} parameters; "
    f"decoder: {sum(p.numel() for p in decoder.parameters()):,}"
)

# %% [markdown]
# ## 3. Losses and the training step
#
# Three functions carry the whole method: the **reparameterization** $z = \mu + \sigma\varepsilon$,
# the closed-form KL divergence to the prior $\mathcal N(0, I)$, and the Bernoulli
# negative log-likelihood, which is binary cross-entropy **summed** over the pixels.

# %% mirrors="aigc_course.torch.vae"
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

# %% [markdown]
# One training step: binarize the batch afresh (each pixel is 1 with probability equal
# to its intensity, so every epoch sees new binary images), encode, sample $z$ with the
# reparameterization, decode, and take **one** gradient step on the negative ELBO,
# $\text{recon} + \beta \cdot \text{KL}$, for the encoder and decoder together.

# %% mirrors="aigc_course.torch.vae"
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

# %%
vae = VAE()
print(f"trainable parameters: {vae.count_params():,} (the same in PyTorch and Keras)")

# %% [markdown]
# ## 4. Training
#
# `fit` (the course's small trainer, shared by every PyTorch model) shows a progress bar,
# records the mean of each logged value per epoch, calls the `SampleGrid` callback and
# writes a checkpoint after every epoch into a run folder named after the settings
# (`run_dir`; on Colab, on your Google Drive): if Colab disconnects, run the cell again
# and training resumes; change a setting and a new run starts. `verbose=1` draws a progress bar per epoch (what you see when you
# run it); this page was built in fast mode with `verbose=2`, one line per epoch.

# %%
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


plot_vae_history(losses, "VAE (PyTorch)")
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
    course = pretrained.load("vae", "mnist", device=device)
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

# %%
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
history_b4 = vae_b4.fit(
    images, epochs=EPOCHS, batch_size=BATCH, seed=0, verbose=VERBOSE
)

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

# %%
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
    course_c = pretrained.load("cvae", "mnist", device=device)
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

# %% [markdown]
# ## 10. Save, reload, generate
#
# `save` writes a state dict; `load` reads it back with `weights_only=True`, so loading
# never runs pickled code.

# %%
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

# %% [markdown]
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

# %%
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

# %% [markdown]
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

# %%
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

# %% [markdown]
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

# %%
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

# %% [markdown]
# The KL term is a sum over the latent dimensions for each example; the loss averages
# it over the batch, like the reconstruction term. The course's `gaussian_kl` returns one
# KL per example and `train_step` takes the mean.
#
# ## Exercises
#
# :::{exercise}
# :label: vae-pytorch-ex-conv
# Train `MODELS["conv_vae"]()` (convolutional encoder and decoder, about a fifth of the
# parameters) with the same settings and compare its IWAE bound on the same test digits
# with the MLP VAE's. Which is better, and by how much in bits per dimension?
# :::
#
# :::{solution} vae-pytorch-ex-conv
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
# :label: vae-pytorch-ex-traversal
# Train a CVAE with a 2-D latent, `MODELS["cvae"](latent_dim=2)`, and decode the grid of
# section 6 with the label 3 for every point, then with the label 7. What do the two
# latent coordinates control now?
# :::
#
# :::{solution} vae-pytorch-ex-traversal
# :class: dropdown
# `cvae2.decode(grid, np.full(len(grid), 3))`. Every cell is now a 3 (or a 7): the class
# comes from the label, so the two coordinates only describe style, typically slant along
# one direction and stroke width or roundness along the other, and the *same* position
# gives the same style for both digits. In the unconditional 2-D VAE the coordinates had
# to encode the class as well.
# :::
#
# :::{exercise}
# :label: vae-pytorch-ex-binarization
# Our bounds threshold the test digits at 0.5. Evaluate `vae.iwae_bound` on test digits
# binarized by sampling instead (`aigc_course.data.binarize(test_images[:n_eval],
# "dynamic", seed=1)`, which returns floats in {0, 1}). Are the numbers higher or lower,
# and why?
# :::
#
# :::{solution} vae-pytorch-ex-binarization
# :class: dropdown
# Sampled binarizations are noisier (grey edge pixels become random speckles), so they
# are *less* likely under the model: $-\log p(x)$ goes up by several nats per image.
# Neither protocol is wrong, but numbers from different protocols cannot be compared,
# which is why papers state how they binarize.
# :::
#
# :::{exercise}
# :label: vae-pytorch-ex-check-losses
# Without looking at section 3, write `my_reparameterize(mu, logvar, eps)` and
# `my_gaussian_kl(mu, logvar)` (one KL per example, shape `(N,)`) with `torch`, in the cell
# below, and run it. `check` (from `aigc_course.exercises`) compares each with a
# reference on random inputs and edge cases and, where they differ, shows the input and
# gives a hint. The programming exercises {doc}`../12_exercises/exercises_pytorch` build and
# train a whole VAE this way.
# :::

# %%
# Check your answer: replace the two bodies with your code, then run the cell.
from aigc_course.exercises import check


def my_reparameterize(mu, logvar, eps):
    raise NotImplementedError("your code here")


def my_gaussian_kl(mu, logvar):
    raise NotImplementedError("your code here")


check("reparameterize", my_reparameterize, framework="torch")
check("vae_kl", my_gaussian_kl, framework="torch")
# the course's functions, used in this lab, pass the same checks
assert check("reparameterize", reference.reparameterize, framework="torch")
assert check("vae_kl", reference.gaussian_kl, framework="torch")
assert check("bernoulli_nll", reference.bernoulli_nll, framework="torch")
