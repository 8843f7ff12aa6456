# ---
# jupyter:
#   aigc_course:
#     edit: problems_lab.py, then run make sync
#     generated_from: problems_lab.py
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
# # Lab: common problems and their fixes in Keras 3
#
# The concept notebook ({doc}`problems_concepts`) explained vanishing and exploding
# gradients, initialisation, overfitting and memorisation on small NumPy examples.
# This lab meets them in real training, and adds the engineering problems of
# training at scale. You will
#
# 1. measure what the initialisation does to a deep network's signal, gradients and
#    training (Keras's default, He, and $\mathcal N(0, 1)$),
# 2. plot gradient norms during training, and let **gradient clipping** save a run that
#    would otherwise end in `nan`,
# 3. look at **mixed precision** (混合精度): what float16 and bfloat16 can represent, why
#    float16 needs loss scaling, and Keras's dtype policies,
# 4. time the **input pipeline**: arrays in memory against a `PyDataset` that builds
#    every batch item by item in Python (and, on TensorFlow, `tf.data`),
# 5. train with **data parallelism** (数据并行) on two devices with TensorFlow's
#    `MirroredStrategy`, and check that it computes what one device does,
# 6. check a trained VAE for **memorisation** by finding the nearest training image of
#    each sample.
#
# The same lab exists in PyTorch ({doc}`problems_pytorch`). Everything here runs on the
# TensorFlow backend (Colab's default) and on the PyTorch backend
# (`KERAS_BACKEND=torch`); the data-parallel section needs TensorFlow and says so on
# other backends.
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) every training run is cut to a
# few seconds on a CPU. On a Colab GPU, leave it unset; the mixed-precision section
# then also times float16 on the GPU.
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
# MNIST digits as pixel intensities in $[0, 1]$, flattened to 784 numbers.

# %%
images, labels = load_mnist("train")
images, labels = random_subset(
    pick(full=len(images), fast=2048), images, labels, seed=0
)
X = (images.reshape(len(images), -1) / 255.0).astype("float32")
print(f"{len(X):,} training images, shape {X.shape}")

# %% [markdown]
# ## 2. Initialisation in a deep network
#
# Our test subject is a deep **autoencoder** (自编码器): 12 `Dense` layers
# of 128 units with ReLUs between them, trained to reproduce its input (binary
# cross-entropy on the pixels, as the VAE's decoder). It is deliberately plain: no
# normalisation layers, no residual connections, so that the initialisation alone
# decides what happens. We compare three initialisations of the weights:
#
# * **Keras's default** for `Dense`: Glorot-uniform {cite}`glorot2010understanding`,
#   $\sigma^2 = 2/(n_{\text{in}} + n_{\text{out}})$ (not PyTorch's default, which is $1/(3 n_{\text{in}})$);
# * **He** {cite}`he2015delving`, `"he_normal"`: $\sigma^2 = 2/n_{\text{in}}$, derived for ReLU;
# * $\mathcal N(0, 1)$, a classic mistake.
#
# First, the default's variance, checked against the formula:

# %%
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


# %% [markdown]
# Computing gradients is the one thing Keras 3 leaves to the backend (the package's
# `apply_gradients`, shown in {doc}`../03_gans/gan_keras`, does the same). We need the
# gradients themselves, to measure them:

# %%
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


# %% [markdown]
# At initialisation, on one batch: the size of every `Dense` layer's output (forward)
# and of the gradient of its kernel (backward).

# %%
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

# %% [markdown]
# Glorot keeps $n \cdot \frac1n \cdot \frac12 = \frac12$ of the variance per layer in a ReLU stack of equal
# widths, so the signal shrinks by $\sqrt 2$ per layer; $\mathcal N(0, 1)$ makes it grow by about
# $\sqrt{128/2} = 8$ per layer; He keeps it level. Now train each with the same SGD. The
# training step is written out, so that we can log the gradient norm (before any
# clipping) and every layer's gradient:

# %%
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

# %% [markdown]
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

# %%
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
# Read the printed lines and the curves: without clipping, a spike in the gradient
# norm produces a huge step, the next gradient is larger still, and the loss becomes
# `inf` or `nan` (whether and when depends on the run; in the course's runs the
# unclipped run blew up on both backends). With clipping the same spike produces a
# step of bounded length, and training continues; the per-layer plot shows that the
# spikes hit all layers at once.
#
# Clipping is a safety net, not a cure: the first remedy for exploding losses is a
# smaller learning rate (or a warm-up). Set the threshold from the logged norms, a
# little above their typical size.
#
# ## 4. Mixed precision
#
# **Mixed precision** training {cite}`micikevicius2018mixed` computes in 16 bits where that
# is safe (matrix products, convolutions) and keeps float32 for the weights, their
# updates and reductions such as losses. NumPy knows float16 (bfloat16 comes from
# the ML frameworks), enough to see the two formats' limits:

# %%
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

# %% [markdown]
# Gradients are often smaller than float16's smallest normal number. Here are the
# gradients of a partly trained autoencoder on one batch, against float16's range:

# %%
model = deep_autoencoder(init="he_normal")
train(model, pick(full=200, fast=50), lr=0.2)
_, grads = gradients(
    lambda: reconstruction_loss(model, X[:128]), model.trainable_variables
)
g = np.concatenate([a.ravel() for a in to_numpy(grads)])
g = g[g != 0]
lost = np.mean(np.abs(g) < 2.0**-25)  # rounds to 0 in float16
subnormal = np.mean(np.abs(g) < f16.tiny)
print(
    f"{len(g):,} non-zero gradient entries; in float16 {lost:.2%} would become 0, "
    f"{subnormal:.1%} would be subnormal (fewer significant bits)"
)
for log2_scale in (8, 16):
    s = 2.0**log2_scale
    as16 = (g * s).astype(np.float16)
    back = as16.astype(np.float64) / s
    print(
        f"loss scaled by 2^{log2_scale}: {np.mean(as16 == 0):.2%} become 0, "
        f"{np.mean(np.abs(as16) < f16.tiny):.1%} subnormal, {np.mean(np.isinf(as16)):.2%} overflow; "
        f"median relative error after unscaling {np.median(np.abs(back - g) / np.abs(g)):.1e}"
    )

fig, ax = plt.subplots(figsize=(8, 3.8))
ax.hist(np.log2(np.abs(g)), bins=80, color="tab:blue", alpha=0.8)
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

# %% [markdown]
# The fix is **loss scaling** (损失缩放): multiply the loss by a large factor $s$ before computing
# gradients, so that they stay in float16's range, and divide them by $s$ before the
# update. Keras's `LossScaleOptimizer` wraps an optimizer and does it with a *dynamic*
# $s$: it skips a step and halves $s$ when a gradient overflows, and doubles it after
# 2,000 good steps. bfloat16 needs none of this: its range is float32's.
#
# In Keras, precision is a **dtype policy**: `"mixed_bfloat16"` or `"mixed_float16"` make
# every layer created afterwards compute in 16 bits and keep its variables in float32.
# The policy is global, so we set it back afterwards.

# %%
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

# %% [markdown]
# With `model.compile`, Keras wraps the optimizer in a `LossScaleOptimizer` by itself
# under `"mixed_float16"`. In a custom loop you do it: scale the loss before taking
# gradients, and let the wrapper unscale them in `apply`. Clipping belongs to the
# *inner* optimizer, which sees the unscaled gradients; clipping the scaled ones
# yourself would apply the threshold to $s$ times the gradient:

# %%
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

# %% [markdown]
# Whether 16 bits are *faster* depends on the hardware: several times faster on GPUs
# with tensor cores; on CPUs it depends on the processor (some have bfloat16
# instructions, elsewhere 16-bit arithmetic is emulated) and on the library. The
# next cell times `train_on_batch` of a wider autoencoder under each policy: on a GPU,
# float32 against `"mixed_float16"`; on a CPU, float32 against `"mixed_bfloat16"`, for
# the record.

# %%
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

# %% [markdown]
# ## 5. Feeding the data
#
# A GPU that waits for data is wasted. For a dataset that fits in memory, give
# `fit` the arrays: Keras slices whole batches out of them. The common slow
# alternative builds each batch item by item in Python, as a `keras.utils.PyDataset`
# (or a Python generator) often does. On TensorFlow, `tf.data` is the efficient
# pipeline for data that need work per item. We time one epoch of each, reading the
# data alone and training with them (`fit`, the second epoch, after tracing):

# %%
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

# %% [markdown]
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
from aigc_course.keras import data_parallel

show_source(data_parallel.train, start="# --- mirrored", end="# --- end mirrored")

# %% [markdown]
# Without two GPUs, the demo splits the CPU into two *logical* devices. That must
# happen before TensorFlow runs its first operation, so the demo runs in a fresh
# process. With `--compare` it also trains on one device with the same global
# batches, and compares:

# %%
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

# %% [markdown]
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

# %% [markdown]
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
