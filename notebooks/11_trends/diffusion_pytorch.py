# ---
# jupyter:
#   aigc_course:
#     edit: diffusion_lab.py, then run make sync
#     generated_from: diffusion_lab.py
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
# # Lab: a diffusion model (DDPM) in PyTorch
#
# In this lab you train a **denoising diffusion probabilistic model** (DDPM, 去噪扩散概率模型)
# {cite}`ho2020ddpm`, first on 2-D points, where every step can be seen and compared with
# the *exact* answer, then on handwritten digits. You will
#
# 1. read the training step (one line of mathematics) and the sampler,
# 2. train a small MLP denoiser on a ring of eight Gaussians and watch the reverse
#    process turn noise into the ring,
# 3. follow single points through the reverse process, driven once by the trained
#    network and once by the exact optimal noise predictor, with the same noise,
# 4. measure the loss at each noise level against the lowest loss any network can reach,
# 5. train a small U-Net on MNIST, draw digits, look at what the network "sees" at each
#    noise level, and score the samples with the course's digit classifier,
# 6. run two bugs from common tutorial code, and save and reload a model.
#
# The same lab exists in Keras ({doc}`diffusion_keras`), with the same models and
# parameter counts. The theory, with every formula checked numerically and sampling
# without any training, is in {doc}`diffusion_concepts`.
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) every training run is cut to a
# few seconds on a CPU and the digit sampler takes a shortcut of 10 steps instead of
# 1,000, so the "digits" below are noise-like blobs. On a Colab GPU, leave it unset: the
# full lab (60,000 images, 20 epochs, 1,000 sampling steps) takes about ten minutes.
# With `AIGC_COURSE_PRETRAINED=1` the digit model of section 5 is not trained: the lab
# loads the course checkpoint instead (the small ring model always trains, in seconds).
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

import matplotlib.pyplot as plt
import numpy as np
import torch

from aigc_course import check_gpu, is_fast, pick, pretrained, run_dir
from aigc_course.data import load_mnist, random_subset, ring_centers, ring_of_gaussians
from aigc_course.diffusion import ddpm_sample_numpy, gmm_eps_star
from aigc_course.evaluator import load_evaluator
from aigc_course.metrics import high_quality_fraction, modes_covered
from aigc_course.plotting import compare_samples, plot_history, show_images
from aigc_course.torch import MODELS, get_device, set_seed

# no GPU and AIGC_COURSE_FAST unset: switches to fast mode, and says so
gpu = check_gpu(pretrained=True)
set_seed(0)
device = get_device()
print(f"PyTorch {torch.__version__} on {device}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. The method in two functions
#
# A DDPM never learns to generate in one go. It learns to **predict the noise** in a noisy
# example. The forward process (前向过程) mixes data $x_0$ and standard Gaussian noise
# $\varepsilon$ in a proportion set by the step $t$:
#
# $$x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,
#   \qquad \bar\alpha_t = \prod_{s \le t} (1-\beta_s),$$
#
# where the **noise schedule** (噪声调度) $\beta_1, \dots, \beta_T$ grows from $10^{-4}$ to
# $0.02$ over $T = 1000$ steps, so $\bar\alpha_T \approx 0$ and $x_T$ is pure noise. A network
# $\varepsilon_\theta(x_t, t)$ is trained with the **simple loss** (简化损失)
# $\lVert \varepsilon - \varepsilon_\theta(x_t, t) \rVert^2$, averaged here over the batch and
# the dimensions, with $t$ drawn uniformly: one random step per example, and no loop over
# $t$. The model holds the schedule (NumPy constants from `aigc_course.diffusion`,
# shared with Keras) and the denoiser.
# Its training step and its sampler are written out in the cell after the next
# paragraph: change them, rerun, and the rest of the lab uses your version. The cell is
# the package's own code (a test checks that they read the same), which the course
# checkpoint and the results page use.

# %% [markdown]
# To sample, start from $x_T \sim \mathcal N(0, I)$ and step down, $t = T, \dots, 1$:
# subtract the predicted noise, rescale, and add fresh noise $\sigma_t z$ with
# $\sigma_t^2 = \beta_t$, at every step but the last (Algorithm 2 of {cite}`ho2020ddpm`):
#
# $$x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,
#   \varepsilon_\theta(x_t, t)\Big) + \sigma_t z .$$
#
# The step's two `update_ema` lines and the sampler's `sampling_net` serve a moving
# average of the weights, off by default; section 5 shows why the course checkpoint
# uses one.
# The noise comes from NumPy, so a seed gives the same samples in PyTorch and Keras.
# (`steps` switches to a shorter, *respaced* schedule {cite}`nichol2021improved`, used
# below to keep fast mode fast.)

# %% mirrors="aigc_course.torch.diffusion"
import math

import torch.nn.functional as F

import aigc_course.torch.diffusion as ddpm_module
from aigc_course.torch.diffusion import MLPDenoiser, rng_from


class DDPM(ddpm_module.DDPM):
    """The course's DDPM with its training step and sampler written out on this page."""

    def build_denoiser(self, channels, hidden):
        """eps_theta: the U-Net for images, an MLP for vectors."""
        return (
            UNetDenoiser(channels)
            if self.is_image
            else MLPDenoiser(self.data_shape[0], hidden)
        )

    def q_sample(self, x0, t, eps):
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, on tensors (t: int64 (N,))."""
        shape = (-1,) + (1,) * (x0.dim() - 1)
        return self.sqrt_ab[t].view(shape) * x0 + self.sqrt_1m_ab[t].view(shape) * eps

    def train_step(self, x0):
        opt = self.optimizers["ddpm"]
        # uniform step per example
        t = torch.randint(0, self.T, (x0.shape[0],), device=x0.device)
        eps = torch.randn_like(x0)  # the noise to predict
        xt = self.q_sample(x0, t, eps)  # jump straight to step t
        with self.autocast():
            eps_hat = self.net(xt, t)
        loss = F.mse_loss(eps_hat.float(), eps)  # the "simple" DDPM loss
        opt.zero_grad(set_to_none=True)
        self.backward(loss)
        self.optimizer_step(opt)
        if self.ema_net is not None:
            self.update_ema()
        return {"loss": loss.detach()}

    @torch.no_grad()
    def _reverse(self, n, seed, steps, keep):
        sched, ts = (
            (self.schedule, np.arange(self.T))
            if steps is None
            else self.schedule.respace(steps)
        )
        rng = rng_from(seed)  # NumPy noise: same as the Keras twin
        net = self.sampling_net  # the EMA weights, if the model keeps them
        # x_T ~ N(0, I)
        x = self._to_internal(rng.standard_normal(self._public_shape(n)))
        snaps = {}
        for i in reversed(range(sched.T)):
            t = int(ts[i])  # the step the network was trained on
            if t in keep:
                snaps[t] = self._to_public(x)
            eps_hat = net(x, torch.full((n,), t, device=self.device, dtype=torch.long))
            coef = sched.betas[i] / math.sqrt(1.0 - sched.alpha_bars[i])
            # mean of p(x_{t-1} | x_t)
            x = (x - coef * eps_hat.float()) / math.sqrt(sched.alphas[i])
            if i > 0:  # fresh noise at every step but the last
                z = self._to_internal(rng.standard_normal(self._public_shape(n)))
                x = x + math.sqrt(sched.betas[i]) * z
        return self._to_public(x), snaps

# %% [markdown]
# ## 2. Diffusion on 2-D points
#
# The data: 20,000 points from a ring of eight Gaussians (radius 2, standard deviation
# 0.05), the toy distribution on which GANs drop modes in {doc}`../03_gans/gan_pytorch`.
# `DDPM(data_shape=(2,))` gets an MLP denoiser: the step $t$ enters through a
# sinusoidal **time embedding** (时间嵌入) added to every hidden layer. Two hundred steps
# are plenty for points in the plane (the linear schedule is rescaled so that
# $\bar\alpha_T$ stays near 0).

# %%
points, _ = ring_of_gaussians(20_000, seed=0)
centers = ring_centers()
T2 = 200
set_seed(0)
ddpm2 = DDPM(data_shape=(2,), timesteps=T2, lr=2e-3)
print(ddpm2.net)
print(f"{ddpm2.count_params():,} parameters; {ddpm2.schedule}")
loss_at_init = ddpm2.denoising_loss(points[:2000], seed=0).mean()
print(
    f"loss before training: {loss_at_init:.3f} (the last layer starts at 0, so eps_hat = 0 "
    "and the loss is the mean of eps^2)"
)
assert abs(loss_at_init - 1.0) < 0.1

# %%
EPOCHS2 = pick(full=60, fast=8)
VERBOSE = pick(full=1, fast=2)
history2 = ddpm2.fit(points, epochs=EPOCHS2, batch_size=256, seed=0, verbose=VERBOSE)
plot_history(history2.history, keys=["loss"], title="DDPM on the ring: training loss")
plt.show()

# %% [markdown]
# The loss falls fast and then flattens well above zero. It cannot reach zero: from a noisy
# point alone nobody can tell exactly which noise was added (section 4 computes the
# floor). Now the reverse process: 2,000 chains started from $\mathcal N(0, I)$, shown at
# a few steps on their way to $t = 0$. For comparison, the same sampler runs with the
# **exact** optimal noise predictor $\varepsilon^*(x_t, t) = \mathbb E[\varepsilon \mid x_t]$,
# which has a closed form for a Gaussian mixture (`gmm_eps_star`, derived in
# {doc}`diffusion_concepts`): what a perfectly trained network would output. With the
# same seed both start from the same points and add the same noise.

# %%
show_at = [T2 - 1, 150, 100, 50, 20, -1]  # -1: the final output x_0
weights = np.full(len(centers), 1 / len(centers))


def eps_exact(xt, t):
    return gmm_eps_star(xt, t, ddpm2.schedule, centers, weights, 0.05)


x_learned, snaps_learned = ddpm2.reverse_process(2000, seed=1, keep=show_at)
snaps_learned[-1] = x_learned
x_exact, snaps_exact = ddpm_sample_numpy(
    eps_exact, ddpm2.schedule, (2000, 2), rng=1, keep=show_at
)
# same starting noise
assert np.allclose(snaps_learned[T2 - 1], snaps_exact[T2 - 1], atol=1e-5)

fig, axes = plt.subplots(
    2, len(show_at), figsize=(2.3 * len(show_at), 5), sharex=True, sharey=True
)
for row, (name, snaps) in enumerate(
    [("trained network", snaps_learned), ("exact eps*", snaps_exact)]
):
    for ax, t in zip(axes[row], show_at):
        ax.scatter(
            *snaps[t].T, s=1, alpha=0.4, color="tab:blue" if row == 0 else "tab:green"
        )
        ax.set_title(
            f"{name}\n" + ("x_0 (output)" if t == -1 else f"x_t, t = {t + 1}"),
            fontsize=9,
        )
        ax.set_xlim(-3.2, 3.2)
        ax.set_ylim(-3.2, 3.2)
for ax in axes[:, 0]:
    ax.set_ylabel("$x_2$")
for ax in axes[-1]:
    ax.set_xlabel("$x_1$")
fig.suptitle("The reverse process: from Gaussian noise to the ring")
plt.tight_layout()
plt.show()

for name, x in [("trained network", x_learned), ("exact eps*", x_exact)]:
    print(
        f"{name:>16}: modes with >= 20 of 2,000 samples: {modes_covered(x, centers, 0.25, 20)}/8; "
        f"samples within 0.25 of a centre: {high_quality_fraction(x, centers, 0.25):.1%}"
    )
assert modes_covered(x_exact, centers, 0.25, 20) == 8
assert modes_covered(x_learned, centers, 0.25, 20) == 8
assert high_quality_fraction(x_learned, centers, 0.25) < high_quality_fraction(
    x_exact, centers, 0.25
)

# %% [markdown]
# Both rows first keep a featureless cloud, which shrinks and then, in the last tens of
# steps, splits into the eight modes. Unlike the GAN, the trained diffusion model covers
# every mode (the `assert` checks it): its loss rewards predicting the noise well
# *everywhere*, so nothing in it pays for dropping a mode. What it lacks after a short training run is *precision*: the
# printed fraction of samples within 0.25 of a centre is lower than for the exact
# predictor, and its modes are wider. (Fast mode trains for a few seconds; the full run
# comes much closer to the exact row.)
#
# ## 3. Following single points
#
# The same seed gave both samplers the same start and the same noise, so we can follow
# individual chains. Five of them, step by step:

# %%
track = list(range(T2 - 1, -1, -1))
n_chains = 5
end_learned, path_learned = ddpm2.reverse_process(n_chains, seed=2, keep=track)
end_exact, path_exact = ddpm_sample_numpy(
    eps_exact, ddpm2.schedule, (n_chains, 2), rng=2, keep=track
)
path_learned[-1], path_exact[-1] = end_learned, end_exact
# (T+1, chains, 2)
lines_learned = np.stack([path_learned[t] for t in track] + [path_learned[-1]])
lines_exact = np.stack([path_exact[t] for t in track] + [path_exact[-1]])

fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharex=True, sharey=True)
for ax, lines, name in [
    (axes[0], lines_learned, "trained network"),
    (axes[1], lines_exact, "exact eps*"),
]:
    ax.scatter(*centers.T, s=300, color="lightgrey", zorder=0, label="mode centres")
    for k in range(n_chains):
        ax.plot(lines[:, k, 0], lines[:, k, 1], lw=0.7, alpha=0.8)
        ax.plot(*lines[0, k], "o", color="black", ms=3)
        ax.plot(*lines[-1, k], "*", color="red", ms=9)
    ax.set_title(f"{name}: {n_chains} chains (dot: x_T, star: x_0)")
    ax.set_xlabel("$x_1$")
axes[0].set_ylabel("$x_2$")
axes[0].legend(loc="upper right")
plt.show()
gap = np.linalg.norm(lines_learned[-1] - lines_exact[-1], axis=1)
print("distance between the two x_0 of each chain:", np.round(gap, 2))


def nearest_mode(x):
    return np.argmin(np.linalg.norm(x[:, None] - centers[None], axis=-1), axis=1)


same = nearest_mode(lines_learned[-1]) == nearest_mode(lines_exact[-1])
print(
    f"chains that end nearest the same mode under both predictors: {same.sum()}/{n_chains}"
)

# %% [markdown]
# The paths are jagged: at every step the sampler adds fresh noise $\sigma_t z$, and the
# denoiser pulls back towards the data. Chains that end in the same mode under both
# predictors (the last printed line counts them), which means the trained network has
# learned the right *pull* at high noise; where two stars differ, small errors early on
# sent a chain to a neighbouring mode.
#
# ## 4. The loss at each noise level, and its floor
#
# The training loss is an average over $t$. Split by $t$: for each step, the network's
# loss on fresh noise, and the loss of the exact $\varepsilon^*$, the **lowest loss any
# network can reach** (the conditional mean minimises the mean squared error). The gap
# between the curves is what training could still gain.

# %%
t_grid = np.unique(np.linspace(0, T2 - 1, pick(full=25, fast=12)).astype(int))
x_check = points[: pick(full=4000, fast=1000)]
rng = np.random.default_rng(0)
loss_net, loss_floor = [], []
for t in t_grid:
    eps = rng.standard_normal(x_check.shape)
    xt = ddpm2.schedule.q_sample(x_check, t, eps)
    tt = np.full(len(xt), t)
    loss_net.append(np.mean((eps - ddpm2.predict_noise(xt, tt)) ** 2))
    loss_floor.append(np.mean((eps - eps_exact(xt, tt)) ** 2))
loss_net, loss_floor = np.array(loss_net), np.array(loss_floor)

fig, ax = plt.subplots(figsize=(7, 3.8))
ax.plot(t_grid + 1, loss_net, "o-", label="trained network")
ax.plot(t_grid + 1, loss_floor, "s--", label="exact eps* (the floor)")
ax.set_title("Denoising loss per step on the ring")
ax.set_xlabel("step t")
ax.set_ylabel("mean squared error per dimension")
ax.legend()
plt.show()
print(
    f"mean over t: network {loss_net.mean():.3f}, floor {loss_floor.mean():.3f}; "
    f"largest gap at t = {t_grid[np.argmax(loss_net - loss_floor)] + 1}"
)
# nobody beats the conditional mean (up to MC noise)
assert np.all(loss_floor <= loss_net + 0.02)

# %% [markdown]
# At small $t$ the noise is tiny and hard to tell apart from the spread of the data, so
# even the floor is high; at large $t$ the data are drowned and the best guess of
# $\varepsilon$ is almost $x_t$ itself, so the loss is low for everyone. The printed step
# with the largest gap is where more training would pay off most; compare it with the
# figure of section 2, where the modes take their final shape during the last steps.
#
# ## 5. Digits
#
# For images, `DDPM()` (the default, `data_shape=(28, 28, 1)`) uses a small
# **U-Net** (U 形网络): two stride-2 convolutions down to 7×7, transposed convolutions back
# up, skip connections between equal resolutions, and residual blocks with group
# normalisation into which the time embedding is added. Images are scaled to $[-1, 1]$,
# like the GANs' outputs, so that the data and the noise have similar scales.

# %% [markdown]
# Here is the U-Net, written out (the package's `aigc_course.torch.diffusion`, checked
# equal to it by a test). `DDPM.build_denoiser` above builds the `UNetDenoiser` defined
# here for images: change a width or a block and rerun.

# %% mirrors="aigc_course.torch.diffusion"
from torch import nn

from aigc_course.torch.diffusion import SinusoidalEmbedding


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv3x3, + time projection, GroupNorm -> SiLU -> conv3x3, + skip."""

    def __init__(self, c_in: int, c_out: int, time_dim: int, groups: int = 8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in, eps=1e-5)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(time_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out, eps=1e-5)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(e))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class UNetDenoiser(nn.Module):
    """eps_theta for 28x28 images: a two-level U-Net (28 -> 14 -> 7 -> 14 -> 28).

    channels (c1, c2): conv_in 1 -> c1; ResBlock at 28x28 (c1), stride-2 conv to
    14x14 (c2), ResBlock, stride-2 conv to 7x7, middle ResBlock, transposed convs
    back up, each followed by a ResBlock on [upsampled, skip] (concatenated);
    GroupNorm -> SiLU -> zero-initialised conv3x3 to 1 channel.
    """

    def __init__(self, channels=(32, 64)):
        super().__init__()
        c1, c2 = channels
        td = 4 * c1
        self.embed = SinusoidalEmbedding(c1)
        self.time_mlp = nn.Sequential(nn.Linear(c1, td), nn.SiLU(), nn.Linear(td, td))
        self.conv_in = nn.Conv2d(1, c1, 3, padding=1)
        self.res1 = ResBlock(c1, c1, td)
        self.down1 = nn.Conv2d(c1, c2, 4, stride=2, padding=1)  # 28 -> 14
        self.res2 = ResBlock(c2, c2, td)
        self.down2 = nn.Conv2d(c2, c2, 4, stride=2, padding=1)  # 14 -> 7
        self.mid = ResBlock(c2, c2, td)
        self.up2 = nn.ConvTranspose2d(c2, c2, 4, stride=2, padding=1)  # 7 -> 14
        self.res_up2 = ResBlock(2 * c2, c2, td)
        self.up1 = nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)  # 14 -> 28
        self.res_up1 = ResBlock(2 * c1, c1, td)
        self.norm_out = nn.GroupNorm(8, c1, eps=1e-5)
        self.conv_out = nn.Conv2d(c1, 1, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x, t):
        e = self.time_mlp(self.embed(t))
        h1 = self.res1(self.conv_in(x), e)  # c1 @ 28
        h2 = self.res2(self.down1(h1), e)  # c2 @ 14
        h = self.mid(self.down2(h2), e)  # c2 @ 7
        h = self.res_up2(torch.cat([self.up2(h), h2], dim=1), e)  # c2 @ 14
        h = self.res_up1(torch.cat([self.up1(h), h1], dim=1), e)  # c1 @ 28
        return self.conv_out(F.silu(self.norm_out(h)))

# %%
images, labels = load_mnist("train")
images, labels = random_subset(pick(full=len(images), fast=256), images, labels, seed=0)
test_images, _ = load_mnist("test")
set_seed(0)
ddpm = DDPM()
n_net = ddpm.count_params()
print(
    f"U-Net denoiser: {n_net:,} parameters; T = {ddpm.T}; training on {len(images):,} images"
)

# %%
EPOCHS = pick(full=20, fast=1)
BATCH = pick(full=128, fast=64)
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    ddpm = pretrained.load("ddpm", "mnist", device=device)
    losses = pretrained.history("ddpm", "mnist")
else:
    checkpoint_dir = run_dir(
        "ddpm_pytorch", model=ddpm, data=images, epochs=EPOCHS, batch_size=BATCH, seed=0
    )
    losses = ddpm.fit(
        images,
        epochs=EPOCHS,
        batch_size=BATCH,
        checkpoint_dir=checkpoint_dir,
        seed=0,
        verbose=VERBOSE,
    ).history
train_seconds = time.perf_counter() - t0
if len(losses["loss"]) > 1:
    plot_history(losses, keys=["loss"], title="DDPM on MNIST: training loss")
    plt.show()
print(f"last epoch's loss: {losses['loss'][-1]:.4f}")

# %% [markdown]
# `fit` writes a checkpoint after every epoch: if Colab disconnects, run the cell again
# and training resumes. Now sample. With `STEPS = None` the sampler takes all $T$ steps,
# as in the paper; fast mode takes a respaced shortcut.

# %%
STEPS = pick(full=None, fast=10)
print(f"sampling with {ddpm.T if STEPS is None else STEPS} of the {ddpm.T} steps")
visited = np.arange(ddpm.T) if STEPS is None else ddpm.schedule.respace(STEPS)[1]
keep = [int(visited[i]) for i in np.linspace(len(visited) - 1, 0, 7).astype(int)]
x0, snaps = ddpm.reverse_process(8, seed=3, steps=STEPS, keep=keep)
strip = np.concatenate(
    [np.stack([snaps[t][k] for t in keep] + [x0[k]]) for k in range(8)]
)
show_images(
    np.clip((strip + 1) / 2, 0, 1),
    nrow=len(keep) + 1,
    figsize=6,
    title="Reverse process, left to right: t = "
    + ", ".join(str(t + 1) for t in keep)
    + ", output",
)
show_images(
    ddpm.sample(pick(full=64, fast=16), seed=4, steps=STEPS), nrow=8, title="Samples"
);

# %% [markdown]
# Each row is one chain, from pure noise on the left to the sample on the right: after a
# full training run the digit's rough shape typically appears around the middle of the
# chain, and the last steps only sharpen strokes. (Fast mode's model has seen a few batches; its samples are still
# blobs.)
#
# **What the network sees.** Noise a test digit to several levels, ask the network for
# the noise and invert the forward process:
# $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon)/\sqrt{\bar\alpha_t}$
# (`predict_x0`). After a full run, its one-shot guess of the clean digit is sharp at low
# noise and a vague, average-looking digit at high noise: what is left for the later
# steps to decide. (Fast mode's barely trained network mostly returns noise.)

# %%
levels = [50, 200, 400, 600, 800, 999]
# in [-1, 1]
digit = ddpm.prepare(test_images[:4])[0].reshape(-1, 28, 28).astype(np.float64)
rng = np.random.default_rng(5)
rows = []
for k in range(len(digit)):
    eps = rng.standard_normal((len(levels), 28, 28))
    xt = ddpm.schedule.q_sample(
        np.repeat(digit[k : k + 1], len(levels), 0), np.array(levels), eps
    )
    x0_hat = ddpm.schedule.predict_x0(
        xt, np.array(levels), ddpm.predict_noise(xt, np.array(levels))
    )
    assert np.allclose(
        ddpm.schedule.predict_x0(xt, np.array(levels), eps), digit[k], atol=1e-6
    )
    rows += [xt, x0_hat]
show_images(
    np.clip((np.concatenate(rows) + 1) / 2, 0, 1),
    nrow=len(levels),
    figsize=6,
    title="Rows in pairs: x_t at t = "
    + ", ".join(str(t + 1) for t in levels)
    + "; below, the network's guess of x_0",
);

# %% [markdown]
# (The `assert` in the cell checks the formula: with the *true* noise, `predict_x0`
# recovers the digit exactly.)

# %% [markdown]
# ### Your run beside the course checkpoint
#
# This page was built in fast mode, so the digits of this section come from a model
# trained for seconds. The course checkpoint was trained with the full recipe
# (`make pretrain MODEL=ddpm DATASET=mnist`); it is the same file for PyTorch and Keras,
# and {doc}`../08_evaluation/results` scores it. Sampling a DDPM is slow on a CPU, so
# both models draw 16 digits on a respaced schedule of 100 steps (not all 1,000), with
# the same seed.
#
# One difference is not about time. The checkpoint samples with an **exponential moving
# average** of its weights, `DDPM(ema_decay=0.999)`: after every training step
# `ema ← 0.999·ema + 0.001·w` (the two `update_ema` lines of the training step in
# section 1), as Ho et al. did with 0.9999. The average smooths out the jitter of the
# last thousand or so Adam steps, and for this model it halved the classifier FD: 14.5
# for the average against 31.0 for the raw weights of the same step
# (`benchmarks/results/explore_ddpm.log`). Your run keeps the default `ema_decay=0`:
# after $n$ steps the average still holds a share $0.999^n$ of the random
# initialisation (37 % after 1,000 steps), so it only pays off in long runs.

# %%
if pretrained.is_published("ddpm", "mnist"):
    course = pretrained.load("ddpm", "mnist", device=device)
    your_title = (
        "loaded, not trained (AIGC_COURSE_PRETRAINED=1)"
        if pretrained.use_only()
        else "your run: "
        + pretrained.training_summary(
            len(losses["loss"]), len(images), train_seconds, "GPU" if gpu else "CPU"
        )
    )
    # respaced: all 1,000 steps would be slow on a CPU
    steps = 100
    compare_samples(
        ddpm.sample(16, seed=4, steps=steps),
        course.sample(16, seed=4, steps=steps),
        f"{your_title}; {steps} sampling steps",
        f"{pretrained.describe('ddpm', 'mnist')}; {steps} sampling steps",
        nrow=4,
    )
    plt.show()
else:
    print(
        "The course checkpoint ddpm/mnist is not published yet: "
        "`make pretrain MODEL=ddpm DATASET=mnist` trains it."
    )

# %% [markdown]
# ## 6. Scoring the samples
#
# The course's digit classifier (from {doc}`../08_evaluation/evaluation_concepts`) turns
# samples into features; `evaluate` reports the Fréchet distance of those features to
# real training digits (`classifier_fd`, the formula of FID but *not* Inception FID
# {cite}`heusel2017ttur`), precision and recall, and how many digit classes the samples
# cover. Real test digits at the same sample size give the floor.

# %%
ev = load_evaluator("mnist")
n_eval = pick(full=1000, fast=32)
scores = ev.evaluate(ddpm.sample(n_eval, seed=6, steps=STEPS))
floor = ev.real_baseline(n=n_eval)
print(f"{'':>14}  classifier_fd  precision  recall  modes_hit   ({n_eval} samples)")
for name, r in [("DDPM samples", scores), ("real digits", floor)]:
    print(
        f"{name:>14}  {r['classifier_fd']:13.2f}  {r['precision']:9.2f}  {r['recall']:6.2f}  "
        f"{r['modes_hit']:9d}"
    )

# %% [markdown]
# The further the DDPM's numbers are from the real digits' row, the worse the samples;
# fast mode's blobs are far from it. After a full run, compare them with the GANs and VAEs
# of the earlier chapters in {doc}`../08_evaluation/results` (at the same sample size:
# all these numbers depend on it).
#
# ## 7. What goes wrong in common tutorial code
#
# (diffusion-pytorch-pitfall-no-noise)=
# **Pitfall 1: no noise in the sampling loop.** Dropping $\sigma_t z$ looks harmless ("the
# network removes noise, why add some?"). Here is the loop of section 1 written out with
# NumPy, with and without it, on the ring model:

# %%
def sample_by_hand(model, n, seed, add_noise=True):
    """The DDPM sampler, written out; add_noise=False is the bug."""
    rng = np.random.default_rng(seed)
    s = model.schedule
    x = rng.standard_normal((n, 2))
    for t in reversed(range(s.T)):
        eps_hat = model.predict_noise(x, np.full(n, t))
        x = (x - s.betas[t] / np.sqrt(1 - s.alpha_bars[t]) * eps_hat) / np.sqrt(
            s.alphas[t]
        )
        if add_noise and t > 0:
            x = x + np.sqrt(s.betas[t]) * rng.standard_normal(x.shape)
    return x


good = sample_by_hand(ddpm2, 2000, seed=1)
# the same as the package's sampler
assert np.allclose(good, x_learned, atol=1e-3)
bad = sample_by_hand(ddpm2, 2000, seed=1, add_noise=False)
fig, axes = plt.subplots(1, 2, figsize=(9, 4.3), sharex=True, sharey=True)
for ax, x, name in [
    (axes[0], good, "with noise (correct)"),
    (axes[1], bad, "without noise (bug)"),
]:
    ax.scatter(*x.T, s=1, alpha=0.4)
    ax.set_title(f"{name}: {modes_covered(x, centers, 0.25, 20)}/8 modes")
    ax.set_xlabel("$x_1$")
axes[0].set_ylabel("$x_2$")
plt.show()
for name, x in [("data", points[:2000]), ("with noise", good), ("without noise", bad)]:
    d = np.linalg.norm(x[:, None] - centers[None], axis=-1).min(1)
    print(
        f"{name:>14}: modes with >= 20 samples {modes_covered(x, centers, 0.25, 20)}/8, "
        f"median distance to the nearest centre {np.median(d):.3f}"
    )
assert modes_covered(bad, centers, 0.25, 20) < modes_covered(good, centers, 0.25, 20)

# %% [markdown]
# Without the noise every chain follows the deterministic mean path, and the mean
# update was derived for a chain that *does* get noise: the samples pile up in a few
# places, and modes are lost (the printed counts). The fix is
# the line `if t > 0: x += sigma_t * z`. (Deterministic sampling is possible, but with a
# different update: DDIM, in {doc}`diffusion_concepts`.)
#
# (diffusion-pytorch-pitfall-alpha-bar)=
# **Pitfall 2: $\alpha_t$ instead of $\bar\alpha_t$ in the forward process.** Writing
# `x_t = sqrt(alpha[t]) * x0 + sqrt(1 - alpha[t]) * eps` (one step's coefficient instead
# of the cumulative product) trains the network on inputs that are never noisy: at
# $t = T$ it still sees the data. The sampler, however, starts from pure noise, which the
# network has never seen.

# %%
s = ddpm2.schedule
eps = np.random.default_rng(7).standard_normal(points[:2000].shape)
tT = np.full(2000, s.T - 1)
x_T_right = s.q_sample(points[:2000], tT, eps)
x_T_bug = np.sqrt(s.alphas[-1]) * points[:2000] + np.sqrt(1 - s.alphas[-1]) * eps
fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
axes[0].plot(
    np.arange(1, s.T + 1),
    np.sqrt(s.alpha_bars),
    label=r"$\sqrt{\bar\alpha_t}$ (correct)",
)
axes[0].plot(np.arange(1, s.T + 1), np.sqrt(s.alphas), label=r"$\sqrt{\alpha_t}$ (bug)")
axes[0].set_title("How much of x_0 is left in x_t")
axes[0].set_xlabel("step t")
axes[0].set_ylabel("coefficient of $x_0$")
axes[0].legend()
for ax, x, name in [
    (axes[1], x_T_right, "x_T, correct: pure noise"),
    (axes[2], x_T_bug, "x_T with the bug"),
]:
    ax.scatter(*x.T, s=1, alpha=0.4)
    ax.set_title(name)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
plt.tight_layout()
plt.show()
print(
    f"coefficient of x_0 at t = T: correct {np.sqrt(s.alpha_bars[-1]):.3f}, bug {np.sqrt(s.alphas[-1]):.3f}"
)
assert np.sqrt(s.alpha_bars[-1]) < 0.05 < 0.9 < np.sqrt(s.alphas[-1])

# %% [markdown]
# With the bug $x_T$ is the ring with a little noise, not $\mathcal N(0, I)$; a network
# trained on such inputs is asked, at sampling time, about points it has never seen, and
# produces garbage. The fix is the cumulative product, `alpha_bars`, which
# `NoiseSchedule.q_sample` uses (and which the concept notebook checks against running
# the one-step process $t$ times).
#
# ## 8. Save, reload, generate
#
# `save` writes a state dict; `load` reads it with `weights_only=True`. Sampling is
# seeded, so the reloaded model draws the very same digits.

# %%
folder = tempfile.mkdtemp()
ddpm.save(f"{folder}/ddpm_mnist.pt")
reloaded = MODELS["ddpm"]().to(device).load(f"{folder}/ddpm_mnist.pt")
a = ddpm.sample(8, seed=9, steps=pick(full=100, fast=10))
b = reloaded.sample(8, seed=9, steps=pick(full=100, fast=10))
assert np.allclose(a, b, atol=1e-5), "the reloaded DDPM differs"
show_images(b, nrow=8, figsize=6, title="Samples from the reloaded model");

# %% [markdown]
# ## Exercises
#
# :::{exercise}
# :label: diffusion-pytorch-ex-cosine
# Train the ring model again with `schedule="cosine"` {cite}`nichol2021improved` and the
# same settings. Plot both schedules' $\sqrt{\bar\alpha_t}$ and redo section 4 for the new
# model. Where does the cosine schedule spend its steps, and does it change the sample
# quality printed in section 2?
# :::
#
# :::{solution} diffusion-pytorch-ex-cosine
# :class: dropdown
# `MODELS["ddpm"](data_shape=(2,), timesteps=T2, schedule="cosine", lr=2e-3)`, then the same
# `fit` and the cells of sections 2 and 4 with the new model (and `gmm_eps_star` with its
# schedule). The cosine $\bar\alpha_t$ falls slowly at first and last: fewer steps are
# spent at nearly pure noise, where nothing happens, and more at the noise levels where
# the modes separate. On 2-D data the difference in quality is small; on images it
# matters more, which is why {cite}`nichol2021improved` proposed it.
# :::
#
# :::{exercise}
# :label: diffusion-pytorch-ex-steps
# Sample the ring model with `steps=5, 10, 20, 50` and all 200 steps (the `steps` argument
# of `sample`), and plot the printed fraction of samples within 0.25 of a centre against
# the number of steps. How many network calls does a good ring need?
# :::
#
# :::{solution} diffusion-pytorch-ex-steps
# :class: dropdown
# `[high_quality_fraction(ddpm2.sample(2000, seed=1, steps=k), centers, 0.25) for k in (5, 10, 20, 50, 200)]`.
# The fraction rises with the number of steps and saturates well before 200: the respaced
# schedule keeps each visited step's $\bar\alpha_t$, but with few steps each jump is large and
# the Gaussian step of the reverse process is a poor approximation. Deterministic samplers
# such as DDIM (see {doc}`diffusion_concepts`) degrade more gracefully with few steps.
# :::
#
# :::{exercise}
# :label: diffusion-pytorch-ex-sigma
# Ho et al. report that $\sigma_t^2 = \beta_t$ and $\sigma_t^2 = \tilde\beta_t =
# \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t$ (the variance of the posterior
# $q(x_{t-1} \mid x_t, x_0)$) give similar results. Change `sample_by_hand` to use
# $\tilde\beta_t$ and compare the ring samples. (`ddpm2.schedule.posterior` returns $\tilde\beta_t$
# as its second output.)
# :::
#
# :::{solution} diffusion-pytorch-ex-sigma
# :class: dropdown
# Replace `np.sqrt(s.betas[t])` by
# `np.sqrt(s.betas[t] * (1 - s.alpha_bars_prev[t]) / (1 - s.alpha_bars[t]))`. The two
# differ only at the first few steps of the forward process (small $t$), where
# $\tilde\beta_t$ is smaller; with $T = 200$ the rings look alike, with slightly tighter
# modes for $\tilde\beta_t$. With very few sampling steps the choice matters more.
# :::
