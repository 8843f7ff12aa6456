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
# # Lab: common problems and their fixes in PyTorch  # [torch]
# # Lab: common problems and their fixes in Keras 3  # [keras]
#
# The concept notebook ({doc}`problems_concepts`) explained vanishing and exploding
# gradients, initialisation, overfitting and memorisation on small NumPy examples.
# This lab meets them in real training, and adds the engineering problems of
# training at scale. You will
#
# 1. measure what the initialisation does to a deep network's signal, gradients and
#    training (PyTorch's default, He, and $\mathcal N(0, 1)$),  # [torch]
#    training (Keras's default, He, and $\mathcal N(0, 1)$),  # [keras]
# 2. plot gradient norms during training, and let **gradient clipping** save a run that
#    would otherwise end in `nan`,
# 3. look at **mixed precision** (混合精度): what float16 and bfloat16 can represent, why
#    float16 needs loss scaling, and the `torch.autocast` + `GradScaler` recipe,  # [torch]
#    float16 needs loss scaling, and Keras's dtype policies,  # [keras]
# 4. time the **input pipeline**: data kept on the device against a `DataLoader` that  # [torch]
#    builds every batch item by item in Python,  # [torch]
# 4. time the **input pipeline**: arrays in memory against a `PyDataset` that builds  # [keras]
#    every batch item by item in Python (and, on TensorFlow, `tf.data`),  # [keras]
# 5. train with **data parallelism** (数据并行) on two processes with `torchrun` and  # [torch]
#    `DistributedDataParallel`, and check that it computes exactly what one process does,  # [torch]
# 5. train with **data parallelism** (数据并行) on two devices with TensorFlow's  # [keras]
#    `MirroredStrategy`, and check that it computes what one device does,  # [keras]
# 6. check a trained VAE for **memorisation** by finding the nearest training image of
#    each sample.
#
# The same lab exists in Keras ({doc}`problems_keras`).  # [torch]
# The same lab exists in PyTorch ({doc}`problems_pytorch`). Everything here runs on the  # [keras]
# TensorFlow backend (Colab's default) and on the PyTorch backend  # [keras]
# (`KERAS_BACKEND=torch`); the data-parallel section needs TensorFlow and says so on  # [keras]
# other backends.  # [keras]
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) every training run is cut to a
# few seconds on a CPU. On a Colab GPU, leave it unset; the mixed-precision section
# then also times float16 and bfloat16 on the GPU.  # [torch]
# then also times float16 on the GPU.  # [keras]
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
import copy
import os
import subprocess
import sys
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aigc_course import check_gpu, is_fast, pick, show_source
from aigc_course.data import load_mnist, random_subset
from aigc_course.metrics import nearest_neighbours
from aigc_course.plotting import show_images
from aigc_course.torch import MODELS, get_device, set_seed

check_gpu()  # no GPU and AIGC_COURSE_FAST unset: switches to fast mode, and says so
set_seed(0)
device = get_device()
print(f"PyTorch {torch.__version__} on {device}; fast mode: {is_fast()}")

# %% tags=["keras"]
import os

# or "torch"; before importing keras
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# hide TensorFlow's start-up chatter
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import subprocess
import sys
import tempfile
import time

import keras
import matplotlib.pyplot as plt
import numpy as np

from aigc_course import check_gpu, is_fast, pick, show_source
from aigc_course.data import load_mnist, random_subset
from aigc_course.keras import MODELS, set_seed
from aigc_course.metrics import nearest_neighbours
from aigc_course.plotting import show_images

check_gpu()  # no GPU and AIGC_COURSE_FAST unset: switches to fast mode, and says so
set_seed(0)
BACKEND = keras.backend.backend()
print(f"Keras {keras.__version__} on the {BACKEND} backend; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Data
#
# MNIST digits as pixel intensities in $[0, 1]$, flattened to 784 numbers and moved to  # [torch]
# the device once.  # [torch]
# MNIST digits as pixel intensities in $[0, 1]$, flattened to 784 numbers.  # [keras]

# %%
images, labels = load_mnist("train")
images, labels = random_subset(
    pick(full=len(images), fast=2048), images, labels, seed=0
)
X = torch.as_tensor(  # [torch]
    images.reshape(len(images), -1) / 255.0, dtype=torch.float32, device=device  # [torch]
)  # [torch]
print(f"{len(X):,} training images on {X.device}, shape {tuple(X.shape)}")  # [torch]
X = (images.reshape(len(images), -1) / 255.0).astype("float32")  # [keras]
print(f"{len(X):,} training images, shape {X.shape}")  # [keras]

# %% [markdown]
# (problems-pytorch-init)=  # [torch]
# ## 2. Initialisation in a deep network
#
# Our test subject is a deep **autoencoder** (自编码器): 12 linear layers  # [torch]
# Our test subject is a deep **autoencoder** (自编码器): 12 `Dense` layers  # [keras]
# of 128 units with ReLUs between them, trained to reproduce its input (binary
# cross-entropy on the pixels, as the VAE's decoder). It is deliberately plain: no
# normalisation layers, no residual connections, so that the initialisation alone
# decides what happens. We compare three initialisations of the weights:
#
# * **PyTorch's default** for `nn.Linear`: uniform on $[-1/\sqrt{n_{\text{in}}}, 1/\sqrt{n_{\text{in}}}]$, so  # [torch]
#   $\sigma^2 = 1/(3 n_{\text{in}})$;  # [torch]
# * **He** {cite}`he2015delving`, `nn.init.kaiming_normal_`: $\sigma^2 = 2/n_{\text{in}}$, derived for ReLU;  # [torch]
# * **Keras's default** for `Dense`: Glorot-uniform {cite}`glorot2010understanding`,  # [keras]
#   $\sigma^2 = 2/(n_{\text{in}} + n_{\text{out}})$ (not PyTorch's default, which is $1/(3 n_{\text{in}})$);  # [keras]
# * **He** {cite}`he2015delving`, `"he_normal"`: $\sigma^2 = 2/n_{\text{in}}$, derived for ReLU;  # [keras]
# * $\mathcal N(0, 1)$, a classic mistake.
#
# First, the default's variance, checked against the formula:

# %% tags=["torch"]
layer = nn.Linear(1024, 512)
print(
    f"nn.Linear(1024, 512): weight variance {layer.weight.var().item():.3e}, "
    f"formula 1 / (3 * 1024) = {1 / (3 * 1024):.3e}"
)
assert abs(layer.weight.var().item() * 3 * 1024 - 1) < 0.02


def deep_autoencoder(depth=12, width=128):
    """784 -> width -> ... -> width -> 784 logits: ``depth`` Linear layers, ReLU between them."""
    layers = [nn.Linear(784, width), nn.ReLU()]
    for _ in range(depth - 2):
        layers += [nn.Linear(width, width), nn.ReLU()]
    layers.append(nn.Linear(width, 784))
    return nn.Sequential(*layers)


def initialise(model, scheme):
    """Re-initialise every Linear layer: 'default' (leave PyTorch's), 'He' or 'N(0, 1)'."""
    for m in model.modules():
        if isinstance(m, nn.Linear) and scheme != "default":
            if scheme == "He":
                # std = sqrt(2 / fan_in)
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:
                nn.init.normal_(m.weight, 0.0, 1.0)
            nn.init.zeros_(m.bias)
    return model


def reconstruction_loss(model, xb):
    return F.binary_cross_entropy_with_logits(model(xb), xb)


SCHEMES = ("default", "He", "N(0, 1)")

# %% [markdown] tags=["torch"]
# At initialisation, on one batch: the size of every Linear layer's output (forward
# pass) and of the gradient of its weights (backward pass).

# %% tags=["torch"]
def layer_statistics(model, xb):
    """RMS of each Linear layer's output and norm of each Linear weight's gradient."""
    outputs = []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out: outputs.append(out.detach()))
        for m in model
        if isinstance(m, nn.Linear)
    ]
    model.zero_grad()
    reconstruction_loss(model, xb).backward()
    for h in hooks:
        h.remove()
    rms = [o.pow(2).mean().sqrt().item() for o in outputs]
    grad = [m.weight.grad.norm().item() for m in model if isinstance(m, nn.Linear)]
    return np.array(rms), np.array(grad)


fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for scheme in SCHEMES:
    set_seed(0)
    rms, grad = layer_statistics(
        initialise(deep_autoencoder(), scheme).to(device), X[:256]
    )
    print(
        f"{scheme:>8}: output RMS layer 1 {rms[0]:.2e} -> layer 12 {rms[-1]:.2e}; "
        f"weight-gradient norm layer 1 {grad[0]:.2e}, layer 12 {grad[-1]:.2e}"
    )
    axes[0].semilogy(range(1, 13), rms, marker="o", label=scheme)
    axes[1].semilogy(range(1, 13), grad, marker="o", label=scheme)
axes[0].set_title("Forward: RMS of each Linear layer's output")
axes[1].set_title(r"Backward: $\|\partial \mathcal{L} / \partial W_l\|$")
for ax in axes:
    ax.set_xlabel("layer")
    ax.set_ylabel("log scale")
    ax.grid(alpha=0.3)
    ax.legend()
plt.show()

# %% [markdown] tags=["torch"]
# With the default, each layer passes on about $n \cdot \frac{1}{3n} \cdot \frac12 = \frac16$ of the
# variance it receives. The default's random biases add some back, so the signal
# settles at a low level (left), but the gradient shrinks layer after layer on its
# way down (right): the first layer's is about three orders of magnitude below the
# last one's (the printed norms). With $\mathcal N(0, 1)$ the signal grows by about
# $\sqrt{128/2} = 8$ per layer. He keeps both level. Now train each for the same number of
# steps of SGD with momentum:

# %% tags=["torch"]
def train(model, steps, lr, clip=None, batch_size=128, seed=0):
    """SGD (momentum 0.9) on the reconstruction loss.

    Returns per step: the loss, the total gradient norm *before* clipping, and the
    gradient norm of every Linear layer's weight. Stops early if the loss is inf or nan.
    """
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    g = torch.Generator(device=X.device).manual_seed(seed)
    log = {"loss": [], "norm": [], "layers": []}
    for _ in range(steps):
        xb = X[torch.randint(0, len(X), (batch_size,), generator=g, device=X.device)]
        loss = reconstruction_loss(model, xb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        log["layers"].append([m.weight.grad.norm().item() for m in linears])
        # clip_grad_norm_ returns the norm before clipping; max_norm=inf never clips
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip or float("inf"))
        opt.step()
        log["loss"].append(loss.item())
        log["norm"].append(norm.item())
        if not np.isfinite(log["loss"][-1]):
            break  # inf or nan: the run is over
    return {k: np.array(v) for k, v in log.items()}


STEPS = pick(full=300, fast=60)
runs = {}
for scheme in SCHEMES:
    set_seed(0)
    runs[scheme] = train(
        initialise(deep_autoencoder(), scheme).to(device), STEPS, lr=0.2
    )
    loss = runs[scheme]["loss"]
    print(f"{scheme:>8}: loss {loss[0]:.3g} -> {loss[-1]:.3g} after {len(loss)} steps")

fig, ax = plt.subplots(figsize=(7, 4))
for scheme in ("default", "He"):
    ax.plot(runs[scheme]["loss"], label=scheme)
bad = runs["N(0, 1)"]["loss"]
ax.text(
    0.6,
    0.55,
    f"N(0, 1): loss {bad[0]:.1e} at the first step,\nthen "
    f"{'nan' if not np.isfinite(bad[-1]) else f'{bad[-1]:.1e}'} (off the chart)",
    transform=ax.transAxes,
)
ax.axhline(np.log(2), color="gray", ls=":", label="log 2: predicting 0.5 everywhere")
ax.set_ylim(0.15, 0.8)
ax.set_title("Training the deep autoencoder: three initialisations, same SGD")
ax.set_xlabel("step")
ax.set_ylabel("reconstruction loss")
ax.legend(loc="lower left")
ax.grid(alpha=0.3)
plt.show()
EARLY = min(STEPS, 60) - 1
print(
    f"loss at step {EARLY + 1}: default {runs['default']['loss'][EARLY]:.3f}, He {runs['He']['loss'][EARLY]:.3f}"
)
assert runs["He"]["loss"][EARLY] < runs["default"]["loss"][EARLY] - 0.1
assert not np.isfinite(runs["N(0, 1)"]["loss"][-1])

# %% [markdown] tags=["torch"]
# He starts learning at once. The default sits on a plateau near $\log 2 \approx 0.693$ (the
# loss of predicting 0.5 for every pixel) because almost no gradient reaches the lower
# layers; it takes off only after tens of steps, and in fast mode not at all (the
# printed loss at step 60). $\mathcal N(0, 1)$ produces astronomically large outputs, a huge
# first step, and `nan` (its curve stops where the loss stops being finite). Adam,
# which divides each parameter's step by the size of its recent gradients, rescues
# the default initialisation but not $\mathcal N(0, 1)$: exercise
# {ref}`problems-pytorch-ex-adam`.
#
# ## 3. Exploding gradients and clipping
#
# Now a learning rate 25 times larger, with He initialisation. We log the gradient
# norm at every step and train twice: as is, and with the global gradient norm
# clipped to 0.5 by `torch.nn.utils.clip_grad_norm_`, called between `backward()` and
# `step()` (the `train` function above).

# %% tags=["torch"]
CLIP = 0.5
clip_runs = {}
for clip in (None, CLIP):
    set_seed(0)
    clip_runs[clip] = train(
        initialise(deep_autoencoder(), "He").to(device),
        pick(full=300, fast=100),
        lr=5.0,
        clip=clip,
    )
    log = clip_runs[clip]
    first_bad = np.flatnonzero(~np.isfinite(log["loss"]))
    print(
        f"clip = {clip}: final loss {log['loss'][-1]:.4g}; largest gradient norm "
        f"{np.nanmax(log['norm']):.3g}; first non-finite loss at step "
        f"{first_bad[0] if len(first_bad) else None}"
    )
assert not np.isfinite(clip_runs[None]["loss"][-1]) and np.isfinite(
    clip_runs[CLIP]["loss"][-1]
)

fig, axes = plt.subplots(1, 3, figsize=(16, 4))
for clip, log in clip_runs.items():
    name = "no clipping" if clip is None else f"clipped at {clip}"
    axes[0].semilogy(
        np.where(np.isfinite(log["loss"]), log["loss"], np.nan), label=name
    )
    axes[1].semilogy(
        np.where(np.isfinite(log["norm"]), log["norm"], np.nan), label=name
    )
axes[1].axhline(CLIP, color="gray", ls=":", label="clipping threshold")
axes[0].set_title("Loss (a gap = inf or nan)")
axes[0].set_ylabel("loss (log scale)")
axes[1].set_title("Global gradient norm before clipping")
axes[1].set_ylabel("norm (log scale)")
for ax in axes[:2]:
    ax.set_xlabel("step")
    ax.legend()
    ax.grid(alpha=0.3)
layer_norms = clip_runs[CLIP]["layers"].T
im = axes[2].imshow(
    np.log10(layer_norms + 1e-12),
    aspect="auto",
    cmap="viridis",
    interpolation="nearest",
    origin="lower",
    extent=(0, layer_norms.shape[1], 0.5, 12.5),
)
fig.colorbar(
    im, ax=axes[2], label=r"$\log_{10} \|\partial \mathcal{L} / \partial W_l\|$"
)
axes[2].set_title("Per-layer gradient norms, clipped run")
axes[2].set_xlabel("step")
axes[2].set_ylabel("layer")
plt.show()

# %% tags=["keras"]
layer = keras.layers.Dense(512)
layer.build((None, 1024))
kernel_var = float(np.var(keras.ops.convert_to_numpy(layer.kernel)))
print(
    f"Dense(512) on 1024 inputs: kernel variance {kernel_var:.3e}, "
    f"formula 2 / (1024 + 512) = {2 / 1536:.3e}"
)
assert abs(kernel_var * 1536 / 2 - 1) < 0.02

SCHEMES = {
    "default": "glorot_uniform",
    "He": "he_normal",
    "N(0, 1)": keras.initializers.RandomNormal(stddev=1.0),
}


def deep_autoencoder(depth=12, width=128, init="glorot_uniform", seed=0):
    """784 -> width -> ... -> width -> 784 logits: ``depth`` Dense layers, ReLU between them."""
    keras.utils.set_random_seed(seed)
    layers = [
        keras.Input((784,)),
        keras.layers.Dense(width, kernel_initializer=init),
        keras.layers.ReLU(),
    ]
    for _ in range(depth - 2):
        layers += [
            keras.layers.Dense(width, kernel_initializer=init),
            keras.layers.ReLU(),
        ]
    layers.append(keras.layers.Dense(784, kernel_initializer=init))
    return keras.Sequential(layers)


def reconstruction_loss(model, xb):
    logits = keras.ops.cast(model(xb, training=True), "float32")  # losses in float32
    return keras.ops.mean(
        keras.losses.binary_crossentropy(xb, logits, from_logits=True)
    )


# %% [markdown] tags=["keras"]
# Computing gradients is the one thing Keras 3 leaves to the backend (the package's
# `apply_gradients`, shown in {doc}`../03_gans/gan_keras`, does the same). We need the
# gradients themselves, to measure them:

# %% tags=["keras"]
def gradients(loss_fn, variables):
    """The loss and its gradients with respect to ``variables``, on either backend."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        return loss, tape.gradient(loss, variables)
    if BACKEND == "torch":  # autograd: backward() fills .grad
        for v in variables:
            v.value.grad = None
        loss = loss_fn()
        loss.backward()
        return loss, [v.value.grad for v in variables]
    raise NotImplementedError(
        f"this lab supports the tensorflow and torch backends, not {BACKEND}"
    )


def to_numpy(tensors):
    return [keras.ops.convert_to_numpy(t).astype(np.float64) for t in tensors]


# %% [markdown] tags=["keras"]
# At initialisation, on one batch: the size of every `Dense` layer's output (forward)
# and of the gradient of its kernel (backward).

# %% tags=["keras"]
def layer_statistics(model, xb):
    """RMS of each Dense layer's output and norm of each Dense kernel's gradient."""
    rms, h = [], keras.ops.convert_to_tensor(xb)
    for layer in model.layers:
        h = layer(h)
        if isinstance(layer, keras.layers.Dense):
            rms.append(
                np.sqrt(np.mean(keras.ops.convert_to_numpy(h).astype(np.float64) ** 2))
            )
    variables = model.trainable_variables
    _, grads = gradients(lambda: reconstruction_loss(model, xb), variables)
    grad = [
        np.linalg.norm(g)
        for v, g in zip(variables, to_numpy(grads))
        if v.path.endswith("kernel")
    ]
    return np.array(rms), np.array(grad)


fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for scheme, init in SCHEMES.items():
    rms, grad = layer_statistics(deep_autoencoder(init=init), X[:256])
    print(
        f"{scheme:>8}: output RMS layer 1 {rms[0]:.2e} -> layer 12 {rms[-1]:.2e}; "
        f"kernel-gradient norm layer 1 {grad[0]:.2e}, layer 12 {grad[-1]:.2e}"
    )
    axes[0].semilogy(range(1, 13), rms, marker="o", label=scheme)
    axes[1].semilogy(range(1, 13), grad, marker="o", label=scheme)
axes[0].set_title("Forward: RMS of each Dense layer's output")
axes[1].set_title(r"Backward: $\|\partial \mathcal{L} / \partial W_l\|$")
for ax in axes:
    ax.set_xlabel("layer")
    ax.set_ylabel("log scale")
    ax.grid(alpha=0.3)
    ax.legend()
plt.show()

# %% [markdown] tags=["keras"]
# Glorot keeps $n \cdot \frac1n \cdot \frac12 = \frac12$ of the variance per layer in a ReLU stack of equal
# widths, so the signal shrinks by $\sqrt 2$ per layer; $\mathcal N(0, 1)$ makes it grow by about
# $\sqrt{128/2} = 8$ per layer; He keeps it level. Now train each with the same SGD. The
# training step is written out, so that we can log the gradient norm (before any
# clipping) and every layer's gradient:

# %% tags=["keras"]
def make_train_step(model, opt):
    """One SGD step on a batch; returns the loss, every variable's gradient norm (before
    clipping) and the global norm. On TensorFlow the step is compiled by ``tf.function``:
    step by step, eager TensorFlow spends more time dispatching operations than computing."""
    variables = model.trainable_variables
    opt.build(variables)

    def step(xb):
        loss, grads = gradients(lambda: reconstruction_loss(model, xb), variables)
        norms = keras.ops.stack(
            [keras.ops.sqrt(keras.ops.sum(keras.ops.square(g))) for g in grads]
        )
        opt.apply(grads, variables)  # clips first if the optimizer was asked to
        return loss, norms, keras.ops.sqrt(keras.ops.sum(keras.ops.square(norms)))

    if BACKEND == "tensorflow":
        import tensorflow as tf

        step = tf.function(step)
    return step


def train(model, steps, lr, clip=None, batch_size=128, seed=0):
    """SGD (momentum 0.9) on the reconstruction loss, clipping the global norm at ``clip``.

    Returns per step: the loss, the global gradient norm before clipping, and the
    gradient norm of every Dense kernel. Stops early if the loss is inf or nan.
    """
    # Keras clips in apply()
    opt = keras.optimizers.SGD(lr, momentum=0.9, global_clipnorm=clip)
    step = make_train_step(model, opt)
    kernels = [
        i for i, v in enumerate(model.trainable_variables) if v.path.endswith("kernel")
    ]
    rng = np.random.default_rng(seed)
    log = {"loss": [], "norm": [], "layers": []}
    for _ in range(steps):
        loss, norms, total = step(X[rng.integers(0, len(X), batch_size)])
        log["loss"].append(float(loss))
        log["norm"].append(float(total))
        log["layers"].append(keras.ops.convert_to_numpy(norms)[kernels])
        if not np.isfinite(log["loss"][-1]):
            break  # inf or nan: the run is over
    return {k: np.array(v) for k, v in log.items()}


STEPS = pick(full=300, fast=60)
runs = {}
for scheme, init in SCHEMES.items():
    runs[scheme] = train(deep_autoencoder(init=init), STEPS, lr=0.2)
    loss = runs[scheme]["loss"]
    print(f"{scheme:>8}: loss {loss[0]:.3g} -> {loss[-1]:.3g} after {len(loss)} steps")
EARLY = min(STEPS, 60) - 1
print(
    f"loss at step {EARLY + 1}: default {runs['default']['loss'][EARLY]:.3f}, He {runs['He']['loss'][EARLY]:.3f}"
)

fig, ax = plt.subplots(figsize=(7, 4))
for scheme in ("default", "He"):
    ax.plot(runs[scheme]["loss"], label=scheme)
bad = runs["N(0, 1)"]["loss"]
ax.text(
    0.6,
    0.55,
    f"N(0, 1): loss {bad[0]:.1e} at the first step,\nthen "
    f"{'nan' if not np.isfinite(bad[-1]) else f'{bad[-1]:.1e}'} (off the chart)",
    transform=ax.transAxes,
)
ax.axhline(np.log(2), color="gray", ls=":", label="log 2: predicting 0.5 everywhere")
ax.set_ylim(0.15, 0.8)
ax.set_title(
    f"Training the deep autoencoder: three initialisations, same SGD ({BACKEND})"
)
ax.set_xlabel("step")
ax.set_ylabel("reconstruction loss")
ax.legend(loc="lower left")
ax.grid(alpha=0.3)
plt.show()
assert runs["He"]["loss"][EARLY] < runs["default"]["loss"][EARLY]
assert not np.isfinite(runs["N(0, 1)"]["loss"][-1])

# %% [markdown] tags=["keras"]
# He starts learning at once; Glorot, which loses half the variance per ReLU layer,
# starts more slowly (the printed losses at step 60); with $\mathcal N(0, 1)$ the outputs
# are astronomically large and the first steps end in `nan`. Keras's default is
# better than PyTorch's in a deep ReLU stack (compare the PyTorch lab), and still not
# right for it: ReLU networks want He.
#
# ## 3. Exploding gradients and clipping
#
# Now a learning rate 25 times larger, with He initialisation, trained twice: as is,
# and with the global gradient norm clipped to 0.5. In Keras, clipping is an
# argument of the optimizer: `global_clipnorm` clips the norm of all gradients together
# (what the concept notebook derived); `clipnorm` clips each variable's gradient
# separately, and `clipvalue` each component.

# %% tags=["keras"]
CLIP = 0.5
clip_runs = {}
for clip in (None, CLIP):
    clip_runs[clip] = train(
        deep_autoencoder(init="he_normal"), pick(full=300, fast=100), lr=5.0, clip=clip
    )
    log = clip_runs[clip]
    first_bad = np.flatnonzero(~np.isfinite(log["loss"]))
    print(
        f"clip = {clip}: final loss {log['loss'][-1]:.4g}; largest gradient norm "
        f"{np.nanmax(log['norm']):.3g}; first non-finite loss at step "
        f"{first_bad[0] if len(first_bad) else None}"
    )
assert np.isfinite(clip_runs[CLIP]["loss"][-1])

fig, axes = plt.subplots(1, 3, figsize=(16, 4))
for clip, log in clip_runs.items():
    name = "no clipping" if clip is None else f"clipped at {clip}"
    axes[0].semilogy(
        np.where(np.isfinite(log["loss"]), log["loss"], np.nan), label=name
    )
    axes[1].semilogy(
        np.where(np.isfinite(log["norm"]), log["norm"], np.nan), label=name
    )
axes[1].axhline(CLIP, color="gray", ls=":", label="clipping threshold")
axes[0].set_title("Loss (a gap = inf or nan)")
axes[0].set_ylabel("loss (log scale)")
axes[1].set_title("Global gradient norm before clipping")
axes[1].set_ylabel("norm (log scale)")
for ax in axes[:2]:
    ax.set_xlabel("step")
    ax.legend()
    ax.grid(alpha=0.3)
layer_norms = clip_runs[CLIP]["layers"].T
im = axes[2].imshow(
    np.log10(layer_norms + 1e-12),
    aspect="auto",
    cmap="viridis",
    interpolation="nearest",
    origin="lower",
    extent=(0, layer_norms.shape[1], 0.5, 12.5),
)
fig.colorbar(
    im, ax=axes[2], label=r"$\log_{10} \|\partial \mathcal{L} / \partial W_l\|$"
)
axes[2].set_title("Per-layer gradient norms, clipped run")
axes[2].set_xlabel("step")
axes[2].set_ylabel("layer")
plt.show()

# %% [markdown]
# Without clipping, one large gradient (the weights have entered a steep region of  # [torch]
# the loss) moves the weights by a large step, the next gradient is larger still, and  # [torch]
# the run ends in `nan`. With clipping the same spike produces a step of bounded length,  # [torch]
# and training continues. The per-layer plot shows that spikes hit all layers at  # [torch]
# once: the whole network jumped into a steep region.  # [torch]
# Read the printed lines and the curves: without clipping, a spike in the gradient  # [keras]
# norm produces a huge step, the next gradient is larger still, and the loss becomes  # [keras]
# `inf` or `nan` (whether and when depends on the run; in the course's runs the  # [keras]
# unclipped run blew up on both backends). With clipping the same spike produces a  # [keras]
# step of bounded length, and training continues; the per-layer plot shows that the  # [keras]
# spikes hit all layers at once.  # [keras]
#
# Clipping is a safety net, not a cure: the first remedy for exploding losses is a
# smaller learning rate (or a warm-up). Set the threshold from the logged norms, a
# little above their typical size; a threshold far below it turns every step into a  # [torch]
# fixed-length step.  # [torch]
# little above their typical size.  # [keras]
#
# (problems-pytorch-amp)=  # [torch]
# ## 4. Mixed precision
#
# GPUs compute much faster in 16-bit floating point than in 32-bit (NVIDIA's tensor  # [torch]
# cores), and 16-bit activations take half the memory. **Mixed precision** training  # [torch]
# {cite}`micikevicius2018mixed` computes in 16 bits where that is safe (matrix products,  # [torch]
# convolutions) and keeps 32 bits where it is not (the weights and their updates,  # [torch]
# reductions such as losses and normalisation statistics). Two 16-bit formats exist:  # [torch]
# **Mixed precision** training {cite}`micikevicius2018mixed` computes in 16 bits where that  # [keras]
# is safe (matrix products, convolutions) and keeps float32 for the weights, their  # [keras]
# updates and reductions such as losses. NumPy knows float16 (bfloat16 comes from  # [keras]
# the ML frameworks), enough to see the two formats' limits:  # [keras]

# %% tags=["torch"]
for dtype in (torch.float32, torch.float16, torch.bfloat16):
    fi = torch.finfo(dtype)
    print(
        f"{str(dtype):>15}: {fi.bits} bits, largest {fi.max:.4g}, smallest normal {fi.tiny:.3g}, "
        f"relative precision (eps) {fi.eps:.3g}"
    )
assert (
    torch.finfo(torch.float16).max == 65504 and torch.finfo(torch.float16).eps == 2**-10
)
assert (
    torch.finfo(torch.bfloat16).eps == 2**-7
    and torch.finfo(torch.bfloat16).tiny == torch.finfo(torch.float32).tiny
)
# float16 also has subnormal numbers down to 2^-24; anything much smaller becomes 0
assert torch.tensor(2.0**-24, dtype=torch.float16).item() == 2.0**-24
assert torch.tensor(2.0**-26, dtype=torch.float16).item() == 0.0

# %% [markdown] tags=["torch"]
# **bfloat16** keeps float32's range (8 exponent bits) with less precision; **float16**
# is more precise but its range ends at 65504 above and $2^{-24} \approx 6 \times 10^{-8}$ below.
# Gradients are often smaller than that. Here are the gradients of the autoencoder
# trained above, on one batch, against float16's range:

# %% tags=["keras"]
f16 = np.finfo(np.float16)
print(
    f"float32: largest {np.finfo(np.float32).max:.4g}, smallest normal {np.finfo(np.float32).tiny:.3g}, "
    f"eps {np.finfo(np.float32).eps:.3g}"
)
print(
    f"float16: largest {f16.max:.4g}, smallest normal {f16.tiny:.3g}, eps {f16.eps:.3g}, "
    f"smallest subnormal {2.0**-24:.3g}"
)
print(
    "bfloat16: float32's exponent (same range), 8 significant bits: eps 2^-7 = 0.0078"
)
assert f16.max == 65504 and f16.eps == 2**-10
assert np.float16(2.0**-24) == 2.0**-24 and np.float16(2.0**-26) == 0

# %% [markdown] tags=["keras"]
# Gradients are often smaller than float16's smallest normal number. Here are the
# gradients of a partly trained autoencoder on one batch, against float16's range:

# %%
model = initialise(deep_autoencoder(), "He").to(device)  # [torch]
set_seed(0)  # [torch]
train(model, pick(full=200, fast=50), lr=0.2)  # a partly trained model  # [torch]
model.zero_grad()  # [torch]
reconstruction_loss(model, X[:128]).backward()  # [torch]
grads = torch.cat([p.grad.flatten() for p in model.parameters()]).double().cpu()  # [torch]
grads = grads[grads != 0]  # [torch]
tiny16 = 2.0**-24  # [torch]
# would round to 0 in float16  # [torch]
lost = (grads.abs() < tiny16 / 2).double().mean().item()  # [torch]
subnormal = (grads.abs() < torch.finfo(torch.float16).tiny).double().mean().item()  # [torch]
model = deep_autoencoder(init="he_normal")  # [keras]
train(model, pick(full=200, fast=50), lr=0.2)  # [keras]
_, grads = gradients(  # [keras]
    lambda: reconstruction_loss(model, X[:128]), model.trainable_variables  # [keras]
)  # [keras]
g = np.concatenate([a.ravel() for a in to_numpy(grads)])  # [keras]
g = g[g != 0]  # [keras]
lost = np.mean(np.abs(g) < 2.0**-25)  # rounds to 0 in float16  # [keras]
subnormal = np.mean(np.abs(g) < f16.tiny)  # [keras]
print(
    f"{len(grads):,} non-zero gradient entries; in float16 {lost:.2%} would become 0, "  # [torch]
    f"{len(g):,} non-zero gradient entries; in float16 {lost:.2%} would become 0, "  # [keras]
    f"{subnormal:.1%} would be subnormal (fewer significant bits)"
)
for log2_scale in (8, 16):
    s = 2.0**log2_scale
    as16 = (grads * s).to(torch.float16)  # [torch]
    back = as16.double() / s  # [torch]
    as16 = (g * s).astype(np.float16)  # [keras]
    back = as16.astype(np.float64) / s  # [keras]
    print(
        f"loss scaled by 2^{log2_scale}: {(as16 == 0).double().mean().item():.2%} become 0, "  # [torch]
        f"{(as16.abs() < torch.finfo(torch.float16).tiny).double().mean().item():.1%} subnormal, "  # [torch]
        f"{torch.isinf(as16).double().mean().item():.2%} overflow; median relative error after "  # [torch]
        f"unscaling {((back - grads).abs() / grads.abs()).median().item():.1e}"  # [torch]
        f"loss scaled by 2^{log2_scale}: {np.mean(as16 == 0):.2%} become 0, "  # [keras]
        f"{np.mean(np.abs(as16) < f16.tiny):.1%} subnormal, {np.mean(np.isinf(as16)):.2%} overflow; "  # [keras]
        f"median relative error after unscaling {np.median(np.abs(back - g) / np.abs(g)):.1e}"  # [keras]
    )

fig, ax = plt.subplots(figsize=(8, 3.8))
ax.hist(np.log2(grads.abs().numpy()), bins=80, color="tab:blue", alpha=0.8)  # [torch]
ax.hist(np.log2(np.abs(g)), bins=80, color="tab:blue", alpha=0.8)  # [keras]
for x, text in (
    (-24, "float16: smallest subnormal"),
    (-14, "smallest normal"),
    (np.log2(65504), "largest"),
):
    ax.axvline(x, color="tab:red", ls="--")
    ax.text(
        x + 0.3,
        ax.get_ylim()[1] * 0.9,
        text,
        color="tab:red",
        fontsize=8,
        rotation=90,
        va="top",
    )
ax.set_title("Gradient magnitudes of the autoencoder, against float16's range")
ax.set_xlabel(r"$\log_2 |g|$")
ax.set_ylabel("number of parameters")
plt.show()

# %% [markdown] tags=["torch"]
# The fix is **loss scaling** (损失缩放): multiply the loss by a large factor $s$ before
# `backward()`, so that every gradient is $s$ times larger and stays in float16's range;
# divide by $s$ before the update. By the chain rule the result is the same gradient
# (the printed relative error is float16's rounding), and a scale too large shows up
# as `inf`, which the scaler detects. PyTorch's `GradScaler` chooses $s$ dynamically: it
# skips a step and halves $s$ after an overflow, and doubles it after 2,000 steps without
# one. bfloat16 does not need any of this: its range is float32's.
#
# `torch.autocast` decides per operation which precision to use. Inside it, a Linear
# layer computes in the 16-bit type while the weights stay float32:

# %% tags=["torch"]
model = initialise(deep_autoencoder(), "He").to(device)
xb = X[:256]
with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
    logits16 = model(xb)
    # autocast runs losses in float32
    loss16 = F.binary_cross_entropy_with_logits(logits16, xb)
logits32 = model(xb)
print(
    f"weights: {model[0].weight.dtype}; layer outputs under autocast: {logits16.dtype}; "
    f"loss: {loss16.dtype}"
)
rel = ((logits16.float() - logits32).norm() / logits32.norm()).item()
print(
    f"relative difference of the outputs, bfloat16 vs float32: {rel:.2e} "
    f"(bfloat16's eps is {torch.finfo(torch.bfloat16).eps:.1e})"
)
assert logits16.dtype == torch.bfloat16 and loss16.dtype == torch.float32
assert rel < 0.05

# %% [markdown] tags=["torch"]
# The complete float16 recipe, with the two details that matter: `unscale_` before
# clipping (otherwise the threshold applies to $s$ times the gradient), and
# `scaler.step`, which skips the update when a gradient is `inf` or `nan`:

# %% tags=["torch"]
def amp_step(model, opt, scaler, xb, dtype=torch.float16, clip=1.0):
    """One mixed-precision step: autocast forward, scaled backward, unscale, clip, step."""
    with torch.autocast(device_type=xb.device.type, dtype=dtype):
        loss = reconstruction_loss(model, xb)
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()  # gradients of s * loss
    scaler.unscale_(opt)  # divide them by s, in place
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    scaler.step(opt)  # skipped if a gradient is inf or nan
    scaler.update()  # adjust s
    return loss.item(), norm.item()


set_seed(0)
model = initialise(deep_autoencoder(), "He").to(device)
opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
# works on the CPU too (it is slow there, not wrong)
scaler = torch.amp.GradScaler(device.type)
for step in range(pick(full=50, fast=10)):
    loss, norm = amp_step(model, opt, scaler, X[step * 64 : (step + 1) * 64])
print(
    f"after {step + 1} float16 steps: loss {loss:.4f}, gradient norm {norm:.3f}, scale {scaler.get_scale():g}"
)

# the pitfall: clipping *before* unscale_ measures s times the true norm
with torch.autocast(device_type=device.type, dtype=torch.float16):
    loss = reconstruction_loss(model, X[:64])
opt.zero_grad(set_to_none=True)
scaler.scale(loss).backward()
scaled_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")).item()
scaler.unscale_(opt)
true_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")).item()
print(
    f"norm before unscale_: {scaled_norm:.4g}; after: {true_norm:.4g}; ratio {scaled_norm / true_norm:g} "
    f"= the scale {scaler.get_scale():g}"
)
assert abs(scaled_norm / true_norm / scaler.get_scale() - 1) < 1e-2
opt.zero_grad(set_to_none=True)

# %% [markdown] tags=["torch"]
# Whether 16 bits are *faster* depends on the hardware. On a GPU with tensor cores the
# matrix products run several times faster; on CPUs it depends on the processor (some
# have bfloat16 instructions, elsewhere it is emulated) and on the library. The next
# cell measures a training step of a wider autoencoder in float32 and, on a CUDA GPU,
# in bfloat16 (where supported) and float16 with `GradScaler`; on a CPU it times
# float32 against bfloat16 autocast, for the record.

# %% tags=["torch"]
def time_steps(dtype, steps, width=1024, batch_size=256):
    """Seconds per training step of a 6-layer autoencoder of the given width."""
    set_seed(0)
    model = initialise(deep_autoencoder(depth=6, width=width), "He").to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    xb = X[:batch_size]

    def step():
        with torch.autocast(
            device_type=device.type,
            dtype=dtype or torch.float32,
            enabled=dtype is not None,
        ):
            loss = reconstruction_loss(model, xb)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    # warm-up (kernel selection, caches)
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        # GPU work is asynchronous: wait for it
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


if device.type == "cuda":
    candidates = {"float32": None, "float16 + GradScaler": torch.float16}
    if torch.cuda.is_bf16_supported():
        candidates["bfloat16"] = torch.bfloat16
    width, steps = 4096, pick(full=50, fast=10)
else:
    candidates = {"float32": None, "bfloat16 autocast": torch.bfloat16}
    width, steps = 256, pick(full=20, fast=3)
timings = {name: time_steps(dtype, steps, width) for name, dtype in candidates.items()}
for name, seconds in timings.items():
    print(
        f"{name:>21} on {device.type}: {1000 * seconds:7.2f} ms per step "
        f"({timings['float32'] / seconds:.2f}x float32's speed)"
    )

# %% [markdown] tags=["torch"]
# The course's `fit` does this for you: `model.fit(..., amp="auto")` picks the format
# from the GPU (`aigc_course.training.amp_dtype`): bfloat16 autocast, with no scaler,
# on GPUs with fast bfloat16 (compute capability 8.0 and newer: A100, L4, H100), and
# float16 autocast with a gradient scaler (`torch.amp.GradScaler`) on older ones such as
# Colab's T4 (7.5), where bfloat16 is only emulated; on a CPU it trains in float32.
# The scaler multiplies the loss before `backward`, unscales the gradients before
# clipping and the optimizer step, and skips a step whose gradients overflowed.
#
# ## 5. Feeding the data
#
# A GPU that waits for data is wasted. The most common culprit in small-model
# training is the input pipeline: a `Dataset` whose `__getitem__` converts one image at a
# time in Python, collated into batches by a `DataLoader`. For a dataset that fits in
# memory (MNIST is 47 MB as uint8), keep it on the device as one tensor and slice
# random batches out of it, which is what the course's `fit` does. We time one epoch
# of batches, three ways:

# %% tags=["torch"]
class DigitDataset(torch.utils.data.Dataset):
    """The usual tutorial Dataset: one uint8 image -> one float tensor, per item, in Python."""

    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return torch.from_numpy(self.images[i].reshape(-1).astype(np.float32) / 255.0)


BATCH = 128


def on_device_batches():
    order = torch.randperm(len(X), device=X.device)
    for i in range(len(X) // BATCH):
        yield X[order[i * BATCH : (i + 1) * BATCH]]


def loader_batches(dataset):
    for xb in torch.utils.data.DataLoader(
        dataset, batch_size=BATCH, shuffle=True, drop_last=True
    ):
        yield (xb[0] if isinstance(xb, (list, tuple)) else xb).to(
            device, non_blocking=True
        )


pipelines = {
    "tensor on the device, sliced": on_device_batches,
    "DataLoader(TensorDataset)": lambda: loader_batches(
        torch.utils.data.TensorDataset(X.cpu())
    ),
    "DataLoader(per-item Dataset)": lambda: loader_batches(DigitDataset(images)),
}
model = initialise(deep_autoencoder(), "He").to(device)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
seconds = {}
for name, batches in pipelines.items():
    for with_model in (False, True):
        t0 = time.perf_counter()
        n = 0
        for xb in batches():
            if with_model:
                loss = reconstruction_loss(model, xb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            n += len(xb)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds[name, with_model] = time.perf_counter() - t0
    print(
        f"{name:>29}: {n / seconds[name, False]:>10,.0f} images/s for the data alone, "
        f"{n / seconds[name, True]:>8,.0f} images/s with a training step"
    )

fig, ax = plt.subplots(figsize=(8, 3.5))
names = list(pipelines)
ypos = np.arange(len(names))
ax.barh(ypos + 0.2, [seconds[nm, False] for nm in names], 0.4, label="data only")
ax.barh(
    ypos - 0.2, [seconds[nm, True] for nm in names], 0.4, label="data + training step"
)
ax.set_yticks(ypos, names)
ax.set_xscale("log")
ax.set_xlabel(f"seconds per epoch of {n:,} images (log scale)")
ax.set_title("One epoch, three input pipelines")
ax.legend()
plt.show()

# %% [markdown] tags=["torch"]
# The per-item `Dataset` pays Python's overhead once per *image* (indexing,
# conversion, then `collate` stacking 128 small tensors), the sliced tensor once per
# *batch*. Whether that matters depends on the model: compare each pipeline's data
# time with its time including a training step (printed above). On a GPU, where the
# step itself is fast, the per-item pipeline is often the bottleneck. When the data do
# not fit in memory, or each item needs real work (decoding JPEGs, augmentation),
# use a `DataLoader` with `num_workers > 0` (worker processes prepare batches in
# parallel), `pin_memory=True` and `persistent_workers=True`, and do what you can per
# batch on the GPU.
#
# (problems-pytorch-ddp)=
# ## 6. Data parallelism: several processes, one model
#
# When one device is not enough, **data parallelism** runs one copy of the model per
# device (a *replica*, 副本), gives each replica a different slice of every batch, and
# averages the gradients across replicas before each update, so that all replicas
# take the same step and stay identical. PyTorch's `DistributedDataParallel` (DDP)
# {cite}`li2020pytorch` runs one **process** per device and overlaps the averaging
# (an *all-reduce*, 全归约) with the backward pass. The launcher `torchrun` starts the
# processes and tells each one its rank:
#
# ```bash
# # one machine, 8 GPUs: 8 processes, one GPU each (backend "nccl")
# torchrun --standalone --nproc_per_node 8 train.py
# # two machines with 8 GPUs each: run this on both (node_rank 0 and 1)
# torchrun --nnodes 2 --nproc_per_node 8 --node_rank 0 \
#          --rdzv_backend c10d --rdzv_endpoint HOST_OF_NODE_0:29500 train.py
# ```
#
# The course's demo, `aigc_course.torch.data_parallel`, trains a small classifier on an
# in-memory toy dataset. Its training loop is an ordinary one with three additions:
# the `DDP` wrapper, a `DistributedSampler` that gives each rank its own share of
# the indices, and `set_epoch` to reshuffle every epoch:

# %% [markdown] tags=["keras"]
# The fix is **loss scaling** (损失缩放): multiply the loss by a large factor $s$ before computing
# gradients, so that they stay in float16's range, and divide them by $s$ before the
# update. Keras's `LossScaleOptimizer` wraps an optimizer and does it with a *dynamic*
# $s$: it skips a step and halves $s$ when a gradient overflows, and doubles it after
# 2,000 good steps. bfloat16 needs none of this: its range is float32's.
#
# In Keras, precision is a **dtype policy**: `"mixed_bfloat16"` or `"mixed_float16"` make
# every layer created afterwards compute in 16 bits and keep its variables in float32.
# The policy is global, so we set it back afterwards.

# %% tags=["keras"]
keras.mixed_precision.set_global_policy("mixed_bfloat16")
model16 = deep_autoencoder(init="he_normal")
keras.mixed_precision.set_global_policy("float32")
dense = model16.layers[0]
logits16 = model16(X[:256])
model32 = deep_autoencoder(init="he_normal")  # same seed: the same weights
logits32 = model32(X[:256])
print(
    f"policy {dense.dtype_policy.name}: variables in {dense.variable_dtype}, computation in "
    f"{dense.compute_dtype}; output dtype {keras.backend.standardize_dtype(logits16.dtype)}; "
    f"loss dtype {keras.backend.standardize_dtype(reconstruction_loss(model16, X[:256]).dtype)}"
)
a16 = keras.ops.convert_to_numpy(keras.ops.cast(logits16, "float32"))
a32 = keras.ops.convert_to_numpy(logits32)
rel = np.linalg.norm(a16 - a32) / np.linalg.norm(a32)
print(
    f"relative difference of the outputs, bfloat16 vs float32: {rel:.2e} (bfloat16's eps: {2.0**-7:.1e})"
)
assert dense.variable_dtype == "float32" and dense.compute_dtype == "bfloat16"
assert rel < 0.05

# %% [markdown] tags=["keras"]
# With `model.compile`, Keras wraps the optimizer in a `LossScaleOptimizer` by itself
# under `"mixed_float16"`. In a custom loop you do it: scale the loss before taking
# gradients, and let the wrapper unscale them in `apply`. Clipping belongs to the
# *inner* optimizer, which sees the unscaled gradients; clipping the scaled ones
# yourself would apply the threshold to $s$ times the gradient:

# %% tags=["keras"]
keras.mixed_precision.set_global_policy("mixed_float16")
model = deep_autoencoder(init="he_normal")
keras.mixed_precision.set_global_policy("float32")
opt = keras.optimizers.LossScaleOptimizer(
    keras.optimizers.SGD(0.2, momentum=0.9, global_clipnorm=1.0)
)
variables = model.trainable_variables
# creates the dynamic scale s (initially 2^15)
opt.build(variables)
for step in range(pick(full=50, fast=10)):
    xb = X[step * 64 : (step + 1) * 64]
    # s used for this step
    scale = float(keras.ops.convert_to_numpy(opt.dynamic_scale))
    loss, scaled_grads = gradients(
        lambda xb=xb: opt.scale_loss(reconstruction_loss(model, xb)), variables
    )
    # unscale, skip if not finite, clip, step, adjust s
    opt.apply(scaled_grads, variables)
scaled_norm = np.sqrt(sum(np.sum(a**2) for a in to_numpy(scaled_grads)))
print(
    f"after {step + 1} float16 steps: loss {float(loss) / scale:.4f}, loss scale {scale:g}"
)
print(
    f"norm of the scaled gradients {scaled_norm:.4g} = {scale:g} x the true norm {scaled_norm / scale:.4g}"
)
assert np.isfinite(float(loss))

# %% [markdown] tags=["keras"]
# Whether 16 bits are *faster* depends on the hardware: several times faster on GPUs
# with tensor cores; on CPUs it depends on the processor (some have bfloat16
# instructions, elsewhere 16-bit arithmetic is emulated) and on the library. The
# next cell times `train_on_batch` of a wider autoencoder under each policy: on a GPU,
# float32 against `"mixed_float16"`; on a CPU, float32 against `"mixed_bfloat16"`, for
# the record.

# %% tags=["keras"]
def on_gpu():
    device = str(getattr(keras.ops.convert_to_tensor([0.0]), "device", "")).lower()
    return "gpu" in device or "cuda" in device


def time_steps(policy, steps, width, batch_size=256):
    """Seconds per train_on_batch step of a 6-layer autoencoder under a dtype policy."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = deep_autoencoder(depth=6, width=width, init="he_normal")
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
        )
        xb = X[:batch_size]
        # warm-up: tracing, kernel selection
        model.train_on_batch(xb, xb)
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch(xb, xb)
        # wait for the (asynchronous) result
        float(loss)
        return (time.perf_counter() - t0) / steps
    finally:
        keras.mixed_precision.set_global_policy("float32")


if on_gpu():
    policies, width, steps = ("float32", "mixed_float16"), 4096, pick(full=50, fast=10)
else:
    policies, width, steps = ("float32", "mixed_bfloat16"), 256, pick(full=20, fast=3)
timings = {policy: time_steps(policy, steps, width) for policy in policies}
for policy, seconds in timings.items():
    print(
        f"{policy:>14} on {'GPU' if on_gpu() else 'CPU'}: {1000 * seconds:7.2f} ms per step "
        f"({timings['float32'] / seconds:.2f}x float32's speed)"
    )

# %% [markdown] tags=["keras"]
# ## 5. Feeding the data
#
# A GPU that waits for data is wasted. For a dataset that fits in memory, give
# `fit` the arrays: Keras slices whole batches out of them. The common slow
# alternative builds each batch item by item in Python, as a `keras.utils.PyDataset`
# (or a Python generator) often does. On TensorFlow, `tf.data` is the efficient
# pipeline for data that need work per item. We time one epoch of each, reading the
# data alone and training with them (`fit`, the second epoch, after tracing):

# %% tags=["keras"]
class DigitBatches(keras.utils.PyDataset):
    """The usual tutorial pipeline: each batch assembled from per-item conversions in Python."""

    def __init__(self, images, batch_size, seed=0):
        super().__init__()
        self.images, self.batch_size = images, batch_size
        self.order = np.random.default_rng(seed).permutation(len(images))

    def __len__(self):
        return len(self.images) // self.batch_size

    def __getitem__(self, i):
        rows = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        x = np.stack(
            [self.images[j].reshape(-1).astype("float32") / 255.0 for j in rows]
        )
        return x, x


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.t0  # the last epoch's duration


BATCH = 128
n_used = (len(X) // BATCH) * BATCH
pipelines = {
    "arrays in memory": (
        lambda: (
            lambda order: (X[order[i : i + BATCH]] for i in range(0, n_used, BATCH))
        )(np.random.default_rng(0).permutation(len(X))),
        lambda m, cb: m.fit(
            X[:n_used],
            X[:n_used],
            batch_size=BATCH,
            epochs=2,
            callbacks=[cb],
            verbose=0,
        ),
    ),
    "PyDataset, per item": (
        lambda: (lambda ds: (ds[i][0] for i in range(len(ds))))(
            DigitBatches(images, BATCH)
        ),
        lambda m, cb: m.fit(
            DigitBatches(images, BATCH), epochs=2, callbacks=[cb], verbose=0
        ),
    ),
}
if BACKEND == "tensorflow":
    import tensorflow as tf

    def tf_dataset():
        return (
            tf.data.Dataset.from_tensor_slices(X[:n_used])
            .shuffle(len(X))
            .batch(BATCH)
            .map(lambda x: (x, x))
            .prefetch(tf.data.AUTOTUNE)
        )

    pipelines["tf.data"] = (
        lambda: (b[0] for b in tf_dataset()),
        lambda m, cb: m.fit(
            tf_dataset(),
            epochs=2,
            callbacks=[cb],
            verbose=0,
            # tf.data shuffles itself
            shuffle=False,
        ),
    )

model = deep_autoencoder(init="he_normal")
model.compile(
    optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
)
seconds = {}
for name, (batches, fit) in pipelines.items():
    t0 = time.perf_counter()
    for _xb in batches():
        pass
    seconds[name, False] = time.perf_counter() - t0
    timer = EpochTimer()
    fit(model, timer)
    seconds[name, True] = timer.seconds
    print(
        f"{name:>20}: {n_used / seconds[name, False]:>10,.0f} images/s for the data alone, "
        f"{n_used / seconds[name, True]:>8,.0f} images/s with fit"
    )

fig, ax = plt.subplots(figsize=(8, 3.2))
names = list(pipelines)
ypos = np.arange(len(names))
ax.barh(ypos + 0.2, [seconds[nm, False] for nm in names], 0.4, label="data only")
ax.barh(
    ypos - 0.2, [seconds[nm, True] for nm in names], 0.4, label="data + training (fit)"
)
ax.set_yticks(ypos, names)
ax.set_xscale("log")
ax.set_xlabel(f"seconds per epoch of {n_used:,} images (log scale)")
ax.set_title(f"One epoch, {len(names)} input pipelines ({BACKEND})")
ax.legend()
plt.show()

# %% [markdown] tags=["keras"]
# The per-item pipeline pays Python's overhead once per *image*, the arrays once per
# *batch*: compare the data-only rates above. Whether it matters depends on the
# model: compare each pipeline's data time with its time inside `fit`. On a GPU,
# where the step itself is fast, the per-item pipeline is often the bottleneck.
# When each item needs real work (decoding, augmentation), let it run in parallel
# with training: `tf.data` with `map(..., num_parallel_calls=tf.data.AUTOTUNE)` and
# `prefetch`, or a `PyDataset(workers=4, use_multiprocessing=True)`.
#
# ## 6. Data parallelism on two devices
#
# When one device is not enough, **data parallelism** keeps one copy of the model per
# device (a *replica*, 副本), splits every batch between them, and combines the gradients
# (an *all-reduce*, 全归约) so that every replica takes the same step. On the TensorFlow
# backend Keras uses `tf.distribute` strategies: build and compile the model inside
# `strategy.scope()`, then call `fit` as usual.
#
# ```python
# strategy = tf.distribute.MirroredStrategy()        # all GPUs of this machine
# with strategy.scope():
#     model = build_model()
#     model.compile(optimizer=..., loss=...)
# model.fit(x, y, batch_size=64 * strategy.num_replicas_in_sync)  # the GLOBAL batch
# ```
#
# Several machines use `tf.distribute.MultiWorkerMirroredStrategy`. Keras 3 also has a
# backend-independent API, `keras.distribution` (`DataParallel`, `ModelParallel`), which is
# implemented for the JAX backend; on the PyTorch backend, use PyTorch's own
# DistributedDataParallel ({doc}`problems_pytorch`).
#
# The course's demo, `aigc_course.keras.data_parallel`, trains a small classifier
# on an in-memory toy dataset (the same data and model as the PyTorch lab's DDP demo).
# Its core:

# %%
from aigc_course.torch import data_parallel  # [torch]
from aigc_course.keras import data_parallel  # [keras]

show_source(data_parallel.train, start="# --- ddp", end="# --- end ddp")  # [torch]
show_source(data_parallel.train, start="# --- mirrored", end="# --- end mirrored")  # [keras]

# %% [markdown] tags=["torch"]
# It runs on CPUs too, with the "gloo" backend. Here are two processes on this
# machine, each with batches of 32 (a *global* batch of 64); rank 0 prints every
# rank's loss (different, because each rank sees different data), and at the end the
# largest difference between the replicas' weights:

# %% tags=["torch"]
EPOCHS = pick(full=3, fast=1)
workdir = tempfile.mkdtemp()  # the processes run in a scratch folder and save there
command = [
    "torchrun",
    "--standalone",
    "--nproc_per_node",
    "2",
    "-m",
    "aigc_course.torch.data_parallel",
    "--examples",
    "2048",
    "--batch-size",
    "32",
    "--epochs",
    str(EPOCHS),
    "--save",
    "rank{rank}.pt",
]
print("$", " ".join(command))
result = subprocess.run(
    [sys.executable, "-m", "torch.distributed.run", *command[1:]],
    capture_output=True,
    text=True,
    timeout=600,
    cwd=workdir,
)
print(result.stdout)
assert result.returncode == 0, result.stderr[-3000:]

# %% [markdown] tags=["torch"]
# The replicas are identical, bit for bit. And because DDP averages the gradients,
# two processes with 32 examples each compute the same update as one process with
# the whole batch of 64: the `DistributedSampler` gives rank $r$ the positions
# $r, r + 2, r + 4, \dots$ of one shared permutation, so the two ranks' batches together
# are exactly one process's batch. We check it by training in this notebook with one
# process (world size 1) and a batch of 64:

# %% tags=["torch"]
ranks = [
    torch.load(os.path.join(workdir, f"rank{r}.pt"), weights_only=True) for r in (0, 1)
]
# no torchrun: a group of one
rank, _, world_size, _, backend = data_parallel.setup("gloo")
try:
    single = data_parallel.train(
        rank,
        world_size,
        torch.device("cpu"),
        n=2048,
        batch_size=64,
        epochs=EPOCHS,
        log_every=10**9,
    )
finally:
    torch.distributed.destroy_process_group()
gap = max(
    (w - ranks[0]["state_dict"][k]).abs().max().item()
    for k, w in single["model"].state_dict().items()
)
print(f"max |weights (2 processes x 32) - weights (1 process x 64)|: {gap:.2g}")
assert gap < 1e-4
assert all(
    torch.equal(ranks[0]["state_dict"][k], ranks[1]["state_dict"][k])
    for k in ranks[0]["state_dict"]
)

per_rank = ranks[0]["losses"].numpy()
fig, ax = plt.subplots(figsize=(8, 3.8))
for r in range(per_rank.shape[1]):
    ax.plot(per_rank[:, r], alpha=0.6, label=f"rank {r}: loss on its own 32 examples")
ax.plot(per_rank.mean(axis=1), color="black", lw=2, label="mean of the ranks")
ax.plot(
    single["losses"][:, 0],
    color="tab:red",
    ls="--",
    lw=1.5,
    label="one process, batch 64",
)
ax.set_title("Data parallelism computes the same thing as one big batch")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy")
ax.legend(fontsize=8)
plt.show()

# %% [markdown] tags=["torch"]
# The consequences for practice:
#
# * With $N$ processes the **global batch** is $N$ times the per-process batch. Keep the
#   learning rate tuned for the global batch (the linear scaling rule with warm-up
#   {cite}`goyal2017accurate`, from {doc}`problems_concepts`).
# * Every rank must see *different* data (`DistributedSampler`, and `set_epoch` every
#   epoch), and start from the same weights (DDP broadcasts rank 0's).
# * Layers with batch statistics (batch normalisation) see only their rank's examples
#   unless converted with `nn.SyncBatchNorm.convert_sync_batchnorm`.
# * Print, save checkpoints and evaluate on rank 0 only.
# * `nn.DataParallel` (one process, threads) is older and slower; use DDP, even on one
#   machine.
#
# On a single CPU, as here, the two processes share the same cores: this shows the
# mechanics, not a speed-up. The speed-up comes with one GPU per process.
#
# (problems-pytorch-pitfall-no-average)=
# **Pitfall: splitting the data and training each part separately.** Article 001 describes
# data parallelism as "将数据集分成多个部分，同时在不同的GPU上分别训练" (split the data
# into parts and train on different GPUs *separately*), and suggests training
# "多个生成器和判别器" (several generators and discriminators) in parallel. Without averaging the
# gradients that is not one model trained faster but several models, each trained on
# part of the data. The all-reduce is a mean of the replicas' gradients; here it is
# written by hand, with two replicas in this process:

# %% tags=["torch"]
TWO_REPLICA_STEPS = pick(full=200, fast=60)


def two_replicas(average, steps=TWO_REPLICA_STEPS):
    set_seed(0)
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.standard_normal((512, 20)), dtype=torch.float32)
    y = (x[:, :2].sum(dim=1) > 0).long()
    # one half of the data each
    shards = [(x[0::2], y[0::2]), (x[1::2], y[1::2])]
    base = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 2))
    # the same start, as DDP's broadcast
    replicas = [copy.deepcopy(base) for _ in shards]
    opts = [torch.optim.SGD(r.parameters(), lr=0.1) for r in replicas]
    for step in range(steps):
        for model, opt, (xs, ys) in zip(replicas, opts, shards):
            batch = slice((step * 32) % len(xs), (step * 32) % len(xs) + 32)
            opt.zero_grad()
            F.cross_entropy(model(xs[batch]), ys[batch]).backward()
        # the all-reduce, by hand
        if average:
            for params in zip(*(r.parameters() for r in replicas)):
                mean_grad = torch.stack([p.grad for p in params]).mean(dim=0)
                for p in params:
                    p.grad = mean_grad.clone()
        for opt in opts:
            opt.step()
    return max(
        (a - b).abs().max().item() for a, b in zip(*(r.parameters() for r in replicas))
    )


for average in (False, True):
    print(
        f"gradients averaged: {str(average):5}: largest difference between the replicas' weights "
        f"after training {two_replicas(average):.3g}"
    )
assert two_replicas(True) < 1e-6 < 1e-2 < two_replicas(False)

# %% [markdown] tags=["torch"]
# Without the average the replicas drift apart: two different models, and nothing
# crashes. With it they stay identical. DDP does this average during `backward()`; the
# exercise `problems-pytorch-ex-noddp` below runs the real two-process demo without it.

# %% [markdown] tags=["keras"]
# Without two GPUs, the demo splits the CPU into two *logical* devices. That must
# happen before TensorFlow runs its first operation, so the demo runs in a fresh
# process. With `--compare` it also trains on one device with the same global
# batches, and compares:

# %% tags=["keras"]
EPOCHS = pick(full=3, fast=1)
if BACKEND == "tensorflow":
    # the process runs in a scratch folder and saves there
    workdir = tempfile.mkdtemp()
    saved = os.path.join(workdir, "mirrored.npz")
    command = [
        "python",
        "-m",
        "aigc_course.keras.data_parallel",
        "--replicas",
        "2",
        "--examples",
        "2048",
        "--batch-size",
        "32",
        "--epochs",
        str(EPOCHS),
        "--compare",
        "--save",
        "mirrored.npz",
    ]
    print("$ KERAS_BACKEND=tensorflow", " ".join(command))
    result = subprocess.run(
        [sys.executable, *command[1:]],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=workdir,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )
    print(result.stdout)
    assert result.returncode == 0, result.stderr[-3000:]
    weights = np.load(saved)
    n_vars = sum(k.startswith("replicas_") for k in weights.files)
    for i in range(n_vars):
        copies = weights[f"replicas_{i}"]  # (replicas, ...)
        assert all(np.array_equal(c, copies[0]) for c in copies)
        assert np.allclose(copies[0], weights[f"single_{i}"], atol=1e-4)
    print(
        f"checked: {n_vars} variables, each identical on both replicas and equal "
        f"(to within float32 rounding) to one-device training"
    )
else:
    print(f"Skipped on the {BACKEND} backend: {data_parallel.BACKEND_NOTE}")

# %% [markdown] tags=["keras"]
# Each replica computed the loss on its half of every global batch (the two losses
# printed differ), yet the copies of every weight are identical, and equal to what
# one device computes on the whole batch. Keras divides each replica's loss by the
# number of replicas, so that the summed gradients are the gradient of the mean over
# the global batch. For practice:
#
# * The batch size you give `fit` is the **global** batch, split between the replicas;
#   scale it with the number of devices, and tune the learning rate for the global
#   batch (the linear scaling rule with warm-up {cite}`goyal2017accurate`).
# * Create the model, its optimizer and metrics inside `strategy.scope()`.
# * Two logical devices on one CPU share the same cores: this shows the mechanics,
#   not a speed-up. The speed-up comes with one GPU per replica.

# %% [markdown]
# ## 7. Memorisation: nearest training neighbours
#
# Section 4 of {doc}`problems_concepts` compared each sample with its nearest training
# example. Here is the same check on the course's VAE, in pixel space. We train two
# VAEs: one on all our training images, and one on only 16 images (repeated) for many
# steps, a setting that invites memorisation. For each, the distance from every sample
# to its nearest training image is compared with the distance from new, held-out digits
# to their nearest training image.

# %%
test_images, _ = load_mnist("test")
test_images = random_subset(500, test_images, seed=1)[0]
SMALL = 16
small_set = images[np.random.default_rng(2).choice(len(images), SMALL, replace=False)]
train_unit, small_unit, test_unit = (
    images / 255.0,
    small_set / 255.0,
    test_images / 255.0,
)

set_seed(0)
vae = MODELS["vae"]()
vae.fit(images, epochs=pick(full=10, fast=6), batch_size=64, verbose=0)
set_seed(0)
vae_small = MODELS["vae"](lr=3e-3)
# 16 images x 60 = one epoch of 60 batches of 16
REPEAT = 60
vae_small.fit(
    np.tile(small_set, (REPEAT, 1, 1)),
    epochs=pick(full=10, fast=5),
    batch_size=SMALL,
    verbose=0,
)

checks = {}
for name, model, reference in (
    ("VAE, all images", vae, train_unit),
    (f"VAE, {SMALL} images", vae_small, small_unit),
):
    samples = model.sample(200, seed=1)
    idx, dist = nearest_neighbours(samples, reference)
    _, new_dist = nearest_neighbours(test_unit, reference)
    checks[name] = samples, idx, dist, reference, np.median(dist) / np.median(new_dist)
    print(
        f"{name:>16}: median distance to the nearest training image: samples {np.median(dist):.2f}, "
        f"held-out digits {np.median(new_dist):.2f} (ratio {checks[name][-1]:.2f}); samples closer "
        f"than 99 % of held-out digits: {np.mean(dist < np.percentile(new_dist, 1)):.0%}"
    )

# %%
fig, axes = plt.subplots(2, 1, figsize=(10, 3.6))
for ax, (name, (samples, idx, dist, reference, _)) in zip(axes, checks.items()):
    # a spread from closest to farthest
    show = np.argsort(dist)[::25][:8]
    pairs = np.concatenate([samples[show], reference[idx[show]]])
    show_images(
        pairs,
        nrow=8,
        ax=ax,
        title=f"{name}: samples (top) and their nearest training image (bottom)",
    )
plt.show()
assert checks[f"VAE, {SMALL} images"][-1] < 0.8 < checks["VAE, all images"][-1]

# %% [markdown]
# The VAE trained on all images produces samples about as far from its training set
# as new digits are (a ratio of medians near 1): it generalises, blurrily after a
# short training. The VAE that saw 16 images many times produces samples much closer
# to them than new digits are, and some are near-copies: compare the pairs, and the
# printed shares. (The samples are the decoder's mean probabilities, greyer than the
# training images, so even a copy keeps some distance.) Run this check on every
# generative model you train, against the training set it was trained on, and look
# at the closest pairs; a model that memorises is also one that can leak its training
# data {cite}`carlini2023extracting`.
#
# ## Exercises

# %% [markdown] tags=["torch"]
# :::{exercise}
# :label: problems-pytorch-ex-adam
# Replace SGD by `torch.optim.Adam(model.parameters(), lr=1e-3)` in `train` and rerun
# section 2. Which initialisations train now? Why can Adam rescue one of them and not
# the other?
# :::
#
# :::{solution} problems-pytorch-ex-adam
# :class: dropdown
# In the course's fast-mode run (60 steps) the default initialisation now reaches a
# loss of 0.26, as low as He (0.25), while $\mathcal N(0, 1)$ is still above $10^9$ (and above
# $10^5$ after 300 steps). Adam divides each parameter's step by the running size of its
# gradient, so gradients that are uniformly tiny in the lower layers still produce
# steps of about the learning rate. It cannot fix the *forward* pass: with $\mathcal N(0, 1)$
# the outputs are astronomically large, and steps of size $10^{-3}$ take very long to
# shrink weights of size 1 in twelve layers.
# :::
#
# :::{exercise}
# :label: problems-pytorch-ex-clip
# In section 3, try the thresholds 0.05 and 5. What happens to the loss curve, and to
# the fraction of steps that are clipped (`np.mean(log["norm"] > clip)`)?
# :::
#
# :::{solution} problems-pytorch-ex-clip
# :class: dropdown
# In the course's fast-mode run (100 steps, learning rate 5): with 0.05, 47 % of the
# steps were clipped and the final loss was 0.225, a little *lower* than with 0.5
# (0.244); with 5, 23 % were clipped, one gradient reached a norm of about $4 \times 10^{11}$
# before clipping, and the run survived with a loss of 0.38. Every gradient that
# enters the update is at most $c$ long, so at this (far too large) learning rate a
# smaller threshold acts like a smaller learning rate for the large steps. That is
# the lesson: threshold and learning rate work together. Set the threshold from the logged norms, a little
# above their usual size, and treat frequent clipping as a sign that the learning
# rate is too high.
# :::
#
# :::{exercise}
# :label: problems-pytorch-ex-noddp
# Run the DDP demo with `--no-ddp` added to `command`: each process then trains its own
# copy on its own shard, without averaging gradients (as if the `DDP` wrapper had been
# forgotten). What does the last line print, and why is the training accuracy
# lower?
# :::
#
# :::{solution} problems-pytorch-ex-noddp
# :class: dropdown
# The replicas drift apart: in the course's run (2 epochs, 2,048 examples) the largest
# weight difference was 0.28 instead of 0, and the training accuracy fell from 0.867
# to 0.836. Each replica saw only half of the data, with gradients from 32 examples
# instead of 64, and the run produced two different models instead of one. Nothing
# crashes, which is what makes this bug dangerous: compare the replicas' weights, as
# the demo does.
# :::
#
# :::{exercise}
# :label: problems-pytorch-ex-workers
# Add `num_workers=2` to the `DataLoader` of the per-item pipeline in section 5 and time
# it again. Is it faster? When would it be?
# :::
#
# :::{solution} problems-pytorch-ex-workers
# :class: dropdown
# For MNIST it is *slower*: in the course's run (2,048 images, CPU) two workers
# delivered about 6,000 images per second against about 40,000 without workers.
# Starting the worker processes and sending every batch between processes costs more
# than the tiny per-item work saves. Workers pay off when each item needs real work
# (reading and decoding a JPEG, random crops and flips), which then runs in parallel
# with the training step on the GPU. For data that fit in memory and need no
# per-item work, keep them on the device.
# :::

# %% [markdown] tags=["keras"]
# :::{exercise}
# :label: problems-keras-ex-backend
# Restart the kernel with `os.environ["KERAS_BACKEND"] = "torch"` and run the lab again.
# Which numbers change, which cells behave differently, and why?
# :::
#
# :::{solution} problems-keras-ex-backend
# :class: dropdown
# The numbers are similar but not identical: Keras's random initialisers and
# generators draw different numbers on each backend, and the float rounding differs.
# The `gradients` helper takes its torch branch (autograd instead of a
# `GradientTape`), and `tf.function` is not used. The input-pipeline section has no
# `tf.data` row, and the data-parallel section is skipped with a note:
# `MirroredStrategy` belongs to TensorFlow, and on the torch backend data parallelism
# is PyTorch's DDP ({doc}`problems_pytorch`).
# :::
#
# :::{exercise}
# :label: problems-keras-ex-clipnorm
# Replace `global_clipnorm=clip` by `clipnorm=clip` (each variable's gradient clipped
# separately) in `train` and rerun section 3. Does the clipped run still survive? How
# does the direction of the update change?
# :::
#
# :::{solution} problems-keras-ex-clipnorm
# :class: dropdown
# Per-variable clipping bounds each variable's gradient by $c$, so the whole gradient
# entering the update can be up to $c \sqrt{24}$ long (24 variables: 12 kernels and 12
# biases) instead of $c$: a looser bound, and the run may or may not survive the same
# spike. It also changes
# the direction: variables with large gradients are shrunk more than the others, so
# the update is no longer parallel to the gradient. Global-norm clipping keeps the
# direction, which is why it is the usual choice.
# :::
#
# :::{exercise}
# :label: problems-keras-ex-mirrored
# In the data-parallel demo, each replica gets 32 examples. What global batch size
# must a single device use to take the same steps, and what happens to the
# comparison if you give it 32 instead? Run the demo with
# `python -m aigc_course.keras.data_parallel --help` to see its options.
# :::
#
# :::{solution} problems-keras-ex-mirrored
# :class: dropdown
# 64: `--compare` trains the single device with `replicas * batch_size` rows per step.
# With 32 it would take twice as many steps of half the size, a different
# trajectory: the weights would no longer agree. Data parallelism is exact only
# when the global batch is the same.
# :::
