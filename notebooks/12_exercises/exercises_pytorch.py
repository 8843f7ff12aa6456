# ---
# jupyter:
#   aigc_course:
#     edit: exercises_lab.py, then run make sync
#     generated_from: exercises_lab.py
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
# # Programming exercises in PyTorch: implement a GAN and a VAE
#
# The labs let you *read* the course's models; here you *write* them. Piece by piece
# you implement the losses, the networks and the training step of a GAN (生成对抗网络,
# {doc}`../03_gans/gan_concepts`), train it on MNIST, then do the same for a VAE
# (变分自编码器, {doc}`../04_vaes/vae_concepts`), and finish with the two small pieces
# of an autoregressive sampler ({doc}`../05_autoregressive/ar_concepts`).
#
# Every exercise works the same way:
#
# 1. a cell holds a **stub**: a function whose body is `raise NotImplementedError`.
#    Replace that line with your code and run the cell;
# 2. the same cell calls `check(name, your_function, framework="torch")` from
#    `aigc_course.exercises`. It runs your function on random inputs and on edge cases
#    (a batch of one, logits of $\pm 120$, ties, ...) and compares it with a reference
#    written in NumPy. It prints ✅ and the number of inputs, or ❌ with the first input
#    where you differ, what was expected, what you returned and a **hint** aimed at the
#    typical mistake it recognised. A stub that still raises prints ⏳;
# 3. the next cell is a **worked solution**, checked by the same function. On the
#    website it is folded ("Click to show"); in Colab it is right there, so try first.
#
# The later sections assemble your pieces with `choose(name, yours, solution)`: your
# function if it passes `check`, otherwise the worked solution. The notebook therefore
# runs from top to bottom at every stage, and each piece you finish replaces its
# solution in the GAN and the VAE that you train.
#
# The same exercises exist in Keras ({doc}`exercises_keras`).
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) both models train for a few
# seconds on a CPU. On a Colab GPU, leave it unset: the full runs take a few minutes.
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
import copy

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import aigc_course.torch.gan as zoo_gan
import aigc_course.torch.vae as zoo_vae
from aigc_course import check_gpu, is_fast, pick
from aigc_course.data import load_mnist, random_subset
from aigc_course.evaluator import load_evaluator
from aigc_course.exercises import check, choose, list_exercises
from aigc_course.likelihood import threshold_binarize
from aigc_course.plotting import plot_history, show_images
from aigc_course.torch import get_device, set_seed

check_gpu()  # no GPU and AIGC_COURSE_FAST unset: switches to fast mode, and says so
set_seed(0)
device = get_device()
print(f"PyTorch {torch.__version__} on {device}; fast mode: {is_fast()}")
print("exercises that check() knows:", ", ".join(list_exercises()))

# %% [markdown]
# ## 1. What a check tells you
#
# Here is a classic mistake, the *saturating* generator loss $\log(1 - D(G(z)))$ of the
# original minimax game, written naively. `check` returns `False` and explains:

# %%
def saturating_generator_loss(fake_logits):
    return torch.log(1 - torch.sigmoid(fake_logits)).mean()


assert (
    check("gan_generator_loss", saturating_generator_loss, framework="torch") is False
)


# %% [markdown]
# ## 2. Implement a GAN
#
# The discriminator $D$ outputs one **logit** $\ell$ per image, $D(x) = \sigma(\ell)$.
# Binary cross-entropy from logits is $\mathrm{BCE}(\ell, 1) = -\log\sigma(\ell) =
# \operatorname{softplus}(-\ell)$ and $\mathrm{BCE}(\ell, 0) = -\log(1 - \sigma(\ell)) =
# \operatorname{softplus}(\ell)$: computed this way it never takes the log of 0.
#
# :::{exercise}
# :label: exercises-pytorch-ex-d-loss
# Write `discriminator_loss(real_logits, fake_logits)`: the mean BCE of the real logits
# against the label 1 **plus** the mean BCE of the fake logits against 0, a scalar.
# Use `F.binary_cross_entropy_with_logits` or `F.softplus`.
# :::

# %%
def discriminator_loss(real_logits, fake_logits):
    raise NotImplementedError("your code here")


check("gan_discriminator_loss", discriminator_loss, framework="torch");

# %% tags=["hide-input"]
# Worked solution
def solution_discriminator_loss(real_logits, fake_logits):
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


assert check("gan_discriminator_loss", solution_discriminator_loss, framework="torch")

# %% [markdown]
# :::{exercise}
# :label: exercises-pytorch-ex-g-loss
# Write the **non-saturating** generator loss `generator_loss(fake_logits)`
# $= -\operatorname{mean}\log D(G(z))$: the BCE of the fake logits against the label 1.
# :::

# %%
def generator_loss(fake_logits):
    raise NotImplementedError("your code here")


check("gan_generator_loss", generator_loss, framework="torch");

# %% tags=["hide-input"]
# Worked solution
def solution_generator_loss(fake_logits):
    return F.softplus(-fake_logits).mean()


assert check("gan_generator_loss", solution_generator_loss, framework="torch")

# %% [markdown]
# :::{exercise}
# :label: exercises-pytorch-ex-gan-nets
# Write `make_gan(latent_dim)`, returning `(generator, discriminator)` as two
# `nn.Sequential`, on flat images of $28 \cdot 28 = 784$ pixels in $[-1, 1]$:
#
# * generator: `Linear(latent_dim, 256)`, `BatchNorm1d(256)`, `LeakyReLU(0.2)`,
#   `Linear(256, 512)`, `BatchNorm1d(512)`, `LeakyReLU(0.2)`, `Linear(512, 784)`, `Tanh()`;
# * discriminator: `Linear(784, 512)`, `LeakyReLU(0.2)`, `Linear(512, 256)`,
#   `LeakyReLU(0.2)`, `Linear(256, 1)`, and **no** sigmoid: it returns logits.
# :::
#
# The check compares shapes, the output range and the number of parameters with the
# worked solution's.

# %%
LATENT = 64


def make_gan(latent_dim):
    raise NotImplementedError("your code here")


# %% tags=["hide-input"]
# The checker for make_gan (machinery, not part of the exercise)
def check_make_gan(fn, solution=None, latent_dim=LATENT):
    try:
        G, D = fn(latent_dim)
    except NotImplementedError:
        print("⏳ make_gan: not implemented yet")
        return False
    n_params = [sum(p.numel() for p in net.parameters()) for net in (G, D)]
    with torch.no_grad():
        images, logits = G(torch.randn(8, latent_dim)), None
        logits = D(images) if tuple(images.shape) == (8, 784) else None
    problems = []
    if tuple(images.shape) != (8, 784):
        problems.append(
            f"generator output shape {tuple(images.shape)}, expected (8, 784)"
        )
    elif images.abs().max() > 1:
        problems.append("generator outputs outside [-1, 1]: end with Tanh()")
    if logits is not None and tuple(logits.shape) != (8, 1):
        problems.append(
            f"discriminator output shape {tuple(logits.shape)}, expected (8, 1)"
        )
    if any(isinstance(m, nn.Sigmoid) for m in D.modules()):
        problems.append(
            "the discriminator must return logits: remove the final Sigmoid "
            "(the losses apply it)"
        )
    if solution is not None:
        expected = [
            sum(p.numel() for p in net.parameters()) for net in solution(latent_dim)
        ]
        if n_params != expected:
            problems.append(
                f"parameter counts (G, D) = {n_params}, expected {expected}"
            )
    if problems:
        print("❌ make_gan: " + "; ".join(problems))
        return False
    print(
        f"✅ make_gan: shapes, range and parameter counts (G, D) = {n_params} are right"
    )
    return True


# %% tags=["hide-input"]
# Worked solution
def solution_make_gan(latent_dim):
    G = nn.Sequential(
        nn.Linear(latent_dim, 256),
        nn.BatchNorm1d(256),
        nn.LeakyReLU(0.2),
        nn.Linear(256, 512),
        nn.BatchNorm1d(512),
        nn.LeakyReLU(0.2),
        nn.Linear(512, 784),
        nn.Tanh(),
    )
    D = nn.Sequential(
        nn.Linear(784, 512),
        nn.LeakyReLU(0.2),
        nn.Linear(512, 256),
        nn.LeakyReLU(0.2),
        nn.Linear(256, 1),
    )
    return G, D


assert check_make_gan(solution_make_gan, solution_make_gan)
check_make_gan(make_gan, solution_make_gan);

# %% [markdown]
# :::{exercise}
# :label: exercises-pytorch-ex-gan-step
# Write one training step `gan_step(G, D, opt_g, opt_d, real, z, d_loss_fn, g_loss_fn)`
# that returns the two losses as Python floats `(d_loss, g_loss)`:
#
# 1. **discriminator**: `fake = G(z)`; the loss `d_loss_fn(D(real), D(fake.detach()))`;
#    `opt_d.zero_grad()`, `backward()`, `opt_d.step()`. The `detach()` keeps this step
#    away from $G$;
# 2. **generator**: `g_loss_fn(D(fake))` (with the discriminator just updated);
#    `opt_g.zero_grad()`, `backward()`, `opt_g.step()`. Only $G$'s optimizer steps.
# :::
#
# The check runs your step and the worked solution on identical copies of two small
# networks with the same `real` and `z`, and compares the losses and every weight after
# the step.

# %%
def gan_step(G, D, opt_g, opt_d, real, z, d_loss_fn, g_loss_fn):
    raise NotImplementedError("your code here")


# %% tags=["hide-input"]
# The checker for gan_step (machinery, not part of the exercise)
def check_gan_step(fn, solution):
    torch.manual_seed(0)
    G, D = solution_make_gan(8)
    real, z = torch.rand(16, 784) * 2 - 1, torch.randn(16, 8)
    runs = []
    for step in (fn, solution):
        g, d = copy.deepcopy(G), copy.deepcopy(D)
        opt_g = torch.optim.Adam(g.parameters(), lr=1e-3)
        opt_d = torch.optim.Adam(d.parameters(), lr=1e-3)
        try:
            out = step(
                g,
                d,
                opt_g,
                opt_d,
                real,
                z,
                solution_discriminator_loss,
                solution_generator_loss,
            )
        except NotImplementedError:
            print("⏳ gan_step: not implemented yet")
            return False
        runs.append((out, g, d))
    (mine, g1, d1), (ref, g2, d2) = runs
    same = lambda a, b: all(
        torch.allclose(p, q, atol=1e-6)
        for p, q in zip(a.state_dict().values(), b.state_dict().values())
    )
    problems = []
    if not (isinstance(mine, tuple) and len(mine) == 2):
        problems.append("return the two losses as a tuple (d_loss, g_loss)")
    elif not np.allclose([float(v) for v in mine], [float(v) for v in ref], atol=1e-5):
        problems.append(
            f"losses {tuple(float(v) for v in mine)}, expected "
            f"{tuple(float(v) for v in ref)}"
        )
    if not same(d1, d2):
        problems.append(
            "the discriminator's weights differ after the step (real and "
            "fake.detach() through d_loss_fn, then opt_d.step(); and no update of D "
            "by the generator's loss)"
        )
    if not same(g1, g2):
        problems.append(
            "the generator's weights differ after the step (g_loss_fn on the "
            "UPDATED D(fake); only opt_g steps for it; fake = G(z) once)"
        )
    if problems:
        print("❌ gan_step: " + "\n   ".join(problems))
        return False
    print("✅ gan_step: same losses and same weights as the worked solution")
    return True


# %% tags=["hide-input"]
# Worked solution
def solution_gan_step(G, D, opt_g, opt_d, real, z, d_loss_fn, g_loss_fn):
    fake = G(z)
    d_loss = d_loss_fn(D(real), D(fake.detach()))  # 1) D: real -> 1, fake -> 0
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = g_loss_fn(D(fake))  # 2) G: make D call the fakes real
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


assert check_gan_step(solution_gan_step, solution_gan_step)
check_gan_step(gan_step, solution_gan_step);

# %% [markdown]
# ## 3. Train your GAN
#
# `choose` picks your function wherever it passes its check:

# %%
d_loss_fn = choose(
    "gan_discriminator_loss",
    discriminator_loss,
    solution_discriminator_loss,
    framework="torch",
)
g_loss_fn = choose(
    "gan_generator_loss", generator_loss, solution_generator_loss, framework="torch"
)
with_nets = check_make_gan(make_gan, solution_make_gan)
with_step = check_gan_step(gan_step, solution_gan_step)
step = gan_step if with_step else solution_gan_step
print(
    "networks:",
    "yours" if with_nets else "the worked solution's",
    "| training step:",
    "yours" if with_step else "the worked solution's",
)

# %% [markdown]
# The images are scaled to $[-1, 1]$ (the range of `tanh`) and flattened. Before
# training, we measure the untrained generator with the course's MNIST evaluator
# (`aigc_course.evaluator`, a small classifier): the **classifier Fréchet distance**
# between the features of its samples and of real digits (lower is better; it is
# *not* Inception FID, see {doc}`../08_evaluation/evaluation_concepts`).

# %%
images, labels = load_mnist("train")
images, labels = random_subset(
    pick(full=len(images), fast=5000), images, labels, seed=0
)
real_all = torch.tensor(
    images.reshape(len(images), 784) / 127.5 - 1.0, dtype=torch.float32, device=device
)

set_seed(0)
G, D = (make_gan if with_nets else solution_make_gan)(LATENT)
G, D = G.to(device), D.to(device)
opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
evaluator = load_evaluator("mnist")
N_EVAL = pick(full=2000, fast=500)


@torch.no_grad()
def gan_samples(n, seed=0):
    G.eval()
    z = torch.randn(n, LATENT, generator=torch.Generator().manual_seed(seed)).to(device)
    out = ((G(z) + 1) / 2).reshape(n, 28, 28).cpu().numpy()
    G.train()
    return out


before = evaluator.evaluate(gan_samples(N_EVAL))
print(f"untrained generator: classifier Fréchet distance {before['classifier_fd']:.1f}")

# %%
EPOCHS, BATCH = pick(full=30, fast=6), 64
history = {"d_loss": [], "g_loss": []}
shuffle = torch.Generator().manual_seed(0)
for epoch in range(EPOCHS):
    sums = np.zeros(2)
    order = torch.randperm(len(real_all), generator=shuffle)
    n_batches = len(order) // BATCH
    for i in range(n_batches):
        real = real_all[order[i * BATCH : (i + 1) * BATCH].to(device)]
        sums += step(
            G,
            D,
            opt_g,
            opt_d,
            real,
            torch.randn(BATCH, LATENT, device=device),
            d_loss_fn,
            g_loss_fn,
        )
    history["d_loss"].append(sums[0] / n_batches)
    history["g_loss"].append(sums[1] / n_batches)
    print(
        f"epoch {epoch + 1}/{EPOCHS}: d_loss {history['d_loss'][-1]:.3f}, "
        f"g_loss {history['g_loss'][-1]:.3f}"
    )

# %%
plot_history(history, title="Your GAN's losses")
plt.show()
show_images(gan_samples(64, seed=1), title="Samples from your GAN", nrow=8);

# %% [markdown]
# **End-of-section check.** Two criteria computed by code: your losses agree with the
# course's (`aigc_course.torch.gan`) on the same logits, large ones included, and
# training at least halved the classifier Fréchet distance of the untrained generator.

# %%
logits_r = torch.tensor([[-120.0], [-3.0], [0.0], [2.5], [50.0]])
logits_f = torch.tensor([[80.0], [1.0], [0.0], [-4.0], [-60.0]])
assert torch.allclose(
    d_loss_fn(logits_r, logits_f), zoo_gan.discriminator_loss(logits_r, logits_f)
)
assert torch.allclose(g_loss_fn(logits_f), zoo_gan.generator_loss(logits_f))

after = evaluator.evaluate(gan_samples(N_EVAL))
print(
    f"classifier Fréchet distance: {before['classifier_fd']:.1f} untrained -> "
    f"{after['classifier_fd']:.1f} trained; digit classes hit: {after['modes_hit']} of 10"
)
assert after["classifier_fd"] < 0.5 * before["classifier_fd"], (
    "the GAN did not learn enough"
)
print("✅ your GAN trains")


# %% [markdown]
# ## 4. Implement a VAE
#
# The encoder maps an image to the mean `mu` and the log-variance `logvar` of a diagonal
# Gaussian $q(z \mid x)$; the decoder maps $z$ to one Bernoulli logit per pixel. The
# loss is the negative ELBO per example,
# $-\log p(x \mid z) + \mathrm{KL}(q(z \mid x) \,\|\, \mathcal N(0, I))$.
#
# :::{exercise}
# :label: exercises-pytorch-ex-reparam
# Write `reparameterize(mu, logvar, eps)` $= \mu + \sigma \odot \varepsilon$ with
# $\sigma = \exp(\tfrac12 \log\sigma^2)$. The noise `eps` is given: do not draw it.
# :::

# %%
def reparameterize(mu, logvar, eps):
    raise NotImplementedError("your code here")


check("reparameterize", reparameterize, framework="torch");

# %% tags=["hide-input"]
# Worked solution
def solution_reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * eps


assert check("reparameterize", solution_reparameterize, framework="torch")

# %% [markdown]
# :::{exercise}
# :label: exercises-pytorch-ex-kl
# Write `vae_kl(mu, logvar)`, the KL divergence of $\mathcal N(\mu, \sigma^2)$ from
# $\mathcal N(0, I)$ **per example**, shape `(N,)`:
# $-\tfrac12 \sum_j (1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2)$.
# :::

# %%
def vae_kl(mu, logvar):
    raise NotImplementedError("your code here")


check("vae_kl", vae_kl, framework="torch");

# %% tags=["hide-input"]
# Worked solution
def solution_vae_kl(mu, logvar):
    return -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=-1)


assert check("vae_kl", solution_vae_kl, framework="torch")

# %% [markdown]
# :::{exercise}
# :label: exercises-pytorch-ex-bnll
# Write `bernoulli_nll(logits, x)` $= -\log p(x \mid z)$ per example, shape `(N,)`: the
# BCE of the logits against the binary pixels `x`, **summed** over every axis but the
# first. (Why a sum and not a mean: the pitfall at the end of
# {doc}`../04_vaes/vae_pytorch`.)
# :::

# %%
def bernoulli_nll(logits, x):
    raise NotImplementedError("your code here")


check("bernoulli_nll", bernoulli_nll, framework="torch");

# %% tags=["hide-input"]
# Worked solution
def solution_bernoulli_nll(logits, x):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return bce.flatten(1).sum(dim=1)


assert check("bernoulli_nll", solution_bernoulli_nll, framework="torch")

# %% [markdown]
# :::{exercise}
# :label: exercises-pytorch-ex-elbo
# Write `make_vae(latent_dim)`, returning `(encoder, decoder)`: the encoder
# `Linear(784, 256)`, `ReLU()`, `Linear(256, 2 * latent_dim)` (its output is split into
# `mu, logvar = out.chunk(2, dim=1)`), the decoder `Linear(latent_dim, 256)`, `ReLU()`,
# `Linear(256, 784)` (logits). Then write `negative_elbo(encoder, decoder, x, eps)`, the
# loss per example, shape `(N,)`, built from your three functions above:
# `bernoulli_nll(decoder(z), x) + vae_kl(mu, logvar)` with `z = reparameterize(mu, logvar, eps)`.
# :::
#
# The check compares parameter counts with the worked solution's, and your negative ELBO
# with one computed from the course's own functions (`aigc_course.torch.vae`) on the
# same networks, images and noise.

# %%
VAE_LATENT = 16


def make_vae(latent_dim):
    raise NotImplementedError("your code here")


def negative_elbo(encoder, decoder, x, eps):
    raise NotImplementedError("your code here")


# %% tags=["hide-input"]
# The checker for make_vae and negative_elbo (machinery, not part of the exercise)
def check_vae(make, loss, solution_make):
    try:
        enc, dec = make(VAE_LATENT)
    except NotImplementedError:
        print("⏳ make_vae: not implemented yet")
        return False
    counts = [sum(p.numel() for p in m.parameters()) for m in (enc, dec)]
    expected = [
        sum(p.numel() for p in m.parameters()) for m in solution_make(VAE_LATENT)
    ]
    if counts != expected:
        print(
            f"❌ make_vae: parameter counts (encoder, decoder) = {counts}, expected {expected}"
        )
        return False
    torch.manual_seed(0)
    x = (torch.rand(6, 784) < 0.3).float()
    eps = torch.randn(6, VAE_LATENT)
    with torch.no_grad():
        mu, logvar = enc(x).chunk(2, dim=1)
        z = zoo_vae.reparameterize(mu, logvar, eps)
        want = zoo_vae.bernoulli_nll(dec(z), x) + zoo_vae.gaussian_kl(mu, logvar)
        try:
            got = loss(enc, dec, x, eps)
        except NotImplementedError:
            print(
                "✅ make_vae: parameter counts right\n⏳ negative_elbo: not implemented yet"
            )
            return False
    if tuple(got.shape) != (6,) or not torch.allclose(got, want, rtol=1e-4, atol=1e-3):
        print(
            f"❌ negative_elbo: expected {want.numpy().round(2)}, "
            f"got {got.detach().numpy().round(2)} (shape {tuple(got.shape)})"
        )
        return False
    print(f"✅ make_vae and negative_elbo: counts {counts}, loss equals the course's")
    return True


# %% tags=["hide-input"]
# Worked solution
def solution_make_vae(latent_dim):
    encoder = nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 2 * latent_dim)
    )
    decoder = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 784))
    return encoder, decoder


def solution_negative_elbo(encoder, decoder, x, eps):
    mu, logvar = encoder(x).chunk(2, dim=1)
    z = reparam_fn(mu, logvar, eps)
    return nll_fn(decoder(z), x) + kl_fn(mu, logvar)


reparam_fn = choose("reparameterize", reparameterize, solution_reparameterize, "torch")
kl_fn = choose("vae_kl", vae_kl, solution_vae_kl, "torch")
nll_fn = choose("bernoulli_nll", bernoulli_nll, solution_bernoulli_nll, "torch")
assert check_vae(solution_make_vae, solution_negative_elbo, solution_make_vae)
with_vae = check_vae(make_vae, negative_elbo, solution_make_vae)

# %% [markdown]
# ## 5. Train your VAE
#
# Every step binarizes the images afresh (each pixel is 1 with probability its grey
# level) and minimises the mean negative ELBO over the batch.

# %%
set_seed(0)
encoder, decoder = (make_vae if with_vae else solution_make_vae)(VAE_LATENT)
encoder, decoder = encoder.to(device), decoder.to(device)
loss_fn = negative_elbo if with_vae else solution_negative_elbo
opt = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
grey = torch.tensor(
    images.reshape(len(images), 784) / 255.0, dtype=torch.float32, device=device
)

VAE_EPOCHS = pick(full=30, fast=4)
vae_history = {"loss": []}
for epoch in range(VAE_EPOCHS):
    total, order = 0.0, torch.randperm(len(grey), generator=shuffle)
    n_batches = len(order) // BATCH
    for i in range(n_batches):
        x = torch.bernoulli(grey[order[i * BATCH : (i + 1) * BATCH].to(device)])
        loss = loss_fn(
            encoder, decoder, x, torch.randn(len(x), VAE_LATENT, device=device)
        ).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    vae_history["loss"].append(total / n_batches)
    print(f"epoch {epoch + 1}/{VAE_EPOCHS}: -ELBO {vae_history['loss'][-1]:.1f} nats")

# %% [markdown]
# **End-of-section check.** The test ELBO (on test digits thresholded at 0.5, the
# protocol of {doc}`../04_vaes/vae_pytorch`) must beat a baseline that ignores every
# correlation between pixels: independent Bernoulli pixels with the training set's mean
# grey levels $\bar p_j$, whose exact log-likelihood is
# $\sum_j x_j \log \bar p_j + (1 - x_j) \log(1 - \bar p_j)$. The ELBO is a lower bound
# on $\log p(x)$ (here a one-sample estimate, averaged over 1,000 test digits), so when
# it beats the baseline, the VAE's likelihood does too.

# %%
test_images, _ = load_mnist("test")
x_test = torch.tensor(
    threshold_binarize(test_images[:1000]).reshape(-1, 784),
    dtype=torch.float32,
    device=device,
)
with torch.no_grad():
    eps = torch.randn(
        len(x_test), VAE_LATENT, generator=torch.Generator().manual_seed(0)
    )
    test_elbo = float(-loss_fn(encoder, decoder, x_test, eps.to(device)).mean())
    p_bar = grey.mean(0).clamp(1e-3, 1 - 1e-3)
    baseline = float(
        (x_test * p_bar.log() + (1 - x_test) * (1 - p_bar).log()).sum(1).mean()
    )
print(
    f"test ELBO {test_elbo:.1f} nats per image; independent-pixel baseline {baseline:.1f}"
)
assert test_elbo > baseline, "the VAE does not beat independent pixels yet"
print("✅ your VAE beats the independent-pixel model")

with torch.no_grad():
    z = torch.randn(64, VAE_LATENT, generator=torch.Generator().manual_seed(1)).to(
        device
    )
    probs = torch.sigmoid(decoder(z)).reshape(-1, 28, 28).cpu().numpy()
show_images(probs, title="Samples from your VAE (pixel probabilities)", nrow=8);


# %% [markdown]
# ## 6. Two pieces of an autoregressive sampler
#
# :::{exercise}
# :label: exercises-pytorch-ex-mask
# Write `causal_attention_mask(T)`: a boolean `(T, T)` tensor, `True` at `[i, j]` where
# position `i` may attend to position `j`, that is $j \le i$.
# :::

# %%
def causal_attention_mask(T):
    raise NotImplementedError("your code here")


check("causal_attention_mask", causal_attention_mask, framework="torch");

# %% tags=["hide-input"]
# Worked solution
def solution_causal_attention_mask(T):
    return torch.tril(torch.ones(T, T, dtype=torch.bool))


assert check("causal_attention_mask", solution_causal_attention_mask, framework="torch")

# %% [markdown]
# :::{exercise}
# :label: exercises-pytorch-ex-topk
# Write `top_k_filter(logits, k)`: keep, along the last axis, every logit at least as
# large as the $k$-th largest (ties with it included), and set the others to `-inf`.
# :::

# %%
def top_k_filter(logits, k):
    raise NotImplementedError("your code here")


check("top_k_filter", top_k_filter, framework="torch");

# %% tags=["hide-input"]
# Worked solution
def solution_top_k_filter(logits, k):
    # the k-th largest of each row
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


assert check("top_k_filter", solution_top_k_filter, framework="torch")

# %% [markdown]
# With both pieces, attention cannot look ahead (the weights above the diagonal are
# exactly 0 after the softmax) and sampling never picks a token outside the top $k$:

# %%
mask_fn = choose(
    "causal_attention_mask",
    causal_attention_mask,
    solution_causal_attention_mask,
    "torch",
)
top_k_fn = choose("top_k_filter", top_k_filter, solution_top_k_filter, "torch")
torch.manual_seed(0)
scores = torch.randn(6, 6).masked_fill(~mask_fn(6), float("-inf"))
weights = torch.softmax(scores, dim=-1)
assert torch.all(weights.triu(diagonal=1) == 0) and torch.allclose(
    weights.sum(-1), torch.ones(6)
)

logits = torch.randn(50)
draws = torch.multinomial(
    torch.softmax(top_k_fn(logits, 5), dim=-1), 2000, replacement=True
)
allowed = set(torch.topk(logits, 5).indices.tolist())
print(
    f"distinct tokens drawn: {len(set(draws.tolist()))}, all among the top 5:",
    set(draws.tolist()) <= allowed,
)
assert set(draws.tolist()) <= allowed

# %% [markdown]
# ## Where to go next
#
# Compare your pieces with the course's: `show_source` (from `aigc_course`) prints the
# losses of `aigc_course.torch.gan` and `aigc_course.torch.vae`, and the labs
# {doc}`../03_gans/gan_pytorch`, {doc}`../04_vaes/vae_pytorch` and
# {doc}`../05_autoregressive/ar_pytorch` train the full-size models. Their exercise
# sections end with a "Check your answer" cell that uses the same `check`.
