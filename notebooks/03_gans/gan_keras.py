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
# # Lab: a GAN for handwritten digits in Keras 3
#
# The same lab as {doc}`gan_pytorch`, in Keras 3: you train the source articles'
# **MLP GAN** (生成对抗网络) on MNIST, with their bugs fixed. The model has the same
# layers and the same number of parameters as the PyTorch one.
#
# Keras 3 runs on several backends. Colab's default is TensorFlow; the course's tests
# also run every Keras model on the PyTorch backend. Choose the backend *before* Keras
# is imported, with the environment variable `KERAS_BACKEND`.
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) training is cut to a few
# seconds on a CPU, so the digits below are blurry. On a Colab GPU, leave it unset.
# ```

# %%
# On Colab, install the course package (does nothing on your own machine).
import sys
if "google.colab" in sys.modules:
    # %pip install -q "aigc-course[keras,data] @ git+https://github.com/aigc-course/aigc-course"

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # or "torch"; before importing keras
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")    # hide TensorFlow's start-up chatter

import tempfile

import keras
import matplotlib.pyplot as plt
import numpy as np

from aigc_course import is_fast, pick, show_source
from aigc_course.data import load_mnist, random_subset
from aigc_course.keras import MODELS, SampleGrid, set_seed
from aigc_course.plotting import plot_history, show_images

set_seed(0)
print(f"Keras {keras.__version__} on the {keras.backend.backend()} backend; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Data
#
# `load_mnist` returns `uint8` images shaped `(N, 28, 28)` and `int64` labels, the very
# arrays the PyTorch lab uses. If the full training set cannot be found or downloaded,
# it says so and uses a 5,000-image subset.

# %%
images, labels = load_mnist("train")
images, labels = random_subset(pick(full=len(images), fast=2048), images, labels, seed=0)
print(f"training on {len(images):,} images, shape {images.shape[1:]}, dtype {images.dtype}")
show_images(images[:32] / 255.0, title="Real MNIST digits", nrow=8);

# %% [markdown]
# ## 2. The model
#
# Generator: $z \in \mathbb R^{100} \to 128 \to 256 \to 512 \to 1024 \to 784$ (`tanh`),
# **reshaped** to $28 \times 28 \times 1$. Discriminator: image $\to 512 \to 256 \to$ one
# logit $\ell$, with $D(x) = \sigma(\ell)$.

# %%
gan = MODELS["gan"]()
gan.generator.summary()
gan.discriminator.summary()
print(f"trainable parameters: {gan.count_params():,} (the PyTorch model has the same)")

# %% [markdown]
# ## 3. Losses and the training step
#
# The losses are written with `keras.ops` only, so they run on every backend:

# %%
import aigc_course.keras.gan as gan_module

show_source(gan_module, start="# --- losses", end="# --- end losses")

# %% [markdown]
# A GAN needs two optimizers in one step, so the model overrides `train_step`. The
# discriminator sees the fakes through `stop_gradient`, and each loss updates only
# its own network's weights:

# %%
show_source(type(gan).train_step)

# %% [markdown]
# Computing gradients is the one thing Keras 3 leaves to the backend. The course keeps
# that in a single function: TensorFlow records the forward pass on a `GradientTape`,
# PyTorch uses autograd.

# %%
import aigc_course.keras.core as core_module

show_source(core_module, start="# --- apply_gradients", end="# --- end apply_gradients")

# %% [markdown]
# ## 4. Training
#
# Keras's own `fit` draws the progress bar and records the history. The course's
# `fit` adds what the PyTorch trainer has: input checks, default optimizers, and with
# `checkpoint_dir` a `BackupAndRestore` callback, so a disconnected Colab session
# resumes from the last finished epoch when you run the cell again.
#
# `verbose=1` draws a progress bar per epoch (what you see when you run it);
# this page was built in fast mode with `verbose=2`, one line per epoch.

# %%
EPOCHS = pick(full=30, fast=3)
checkpoint_dir = pick(full="checkpoints/gan_keras", fast=tempfile.mkdtemp())
history = gan.fit(images, epochs=EPOCHS, batch_size=pick(full=128, fast=64),
                  callbacks=[SampleGrid(every=pick(full=5, fast=1), n=32)],
                  checkpoint_dir=checkpoint_dir, verbose=pick(full="auto", fast=2))

# %%
plot_history(history.history, title=f"GAN losses (Keras, {keras.backend.backend()})")
plt.show()

# %% [markdown]
# ## 5. Save, reload, generate
#
# `save("….keras")` writes the architecture and weights; `load` reads the weights back
# into a fresh model.

# %%
path = f"{tempfile.mkdtemp()}/gan_mnist.keras"
gan.save(path)
reloaded = MODELS["gan"]().load(path)
new_digits = reloaded.sample(64, seed=123)
assert np.array_equal(new_digits, gan.sample(64, seed=123)), "reloaded model differs"
show_images(new_digits, title="New digits from the reloaded generator", nrow=8);

# %% [markdown]
# ## 6. What goes wrong in common tutorial code
#
# The source articles' GAN code looks like classic Keras GAN tutorials, and it does
# not train. Each of its four bugs is run below so that you can see the symptom.
#
# **Pitfall 1: fake images produced outside the gradient tape.** TensorFlow only
# differentiates what it recorded. If the fakes are generated *before* the tape opens,
# the generator's loss has no path back to the generator: every gradient is `None`.

# %%
set_seed(0)
demo = MODELS["gan"]()
z = np.random.default_rng(0).standard_normal((16, 100)).astype("float32")
if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    fake = demo.generator(z, training=True)             # BUG: outside the tape
    with tf.GradientTape() as tape:
        loss = gan_module.generator_loss(demo.discriminator(fake))
    grads = tape.gradient(loss, demo.generator.trainable_weights)
    print("generator gradients:", {g is None for g in grads})  # {True}: nothing to learn from
else:
    print("PyTorch records every operation, so this bug is TensorFlow-specific; "
          "see the PyTorch lab for its torch.no_grad() twin.")

# %% [markdown]
# **Pitfall 2: the discriminator not frozen inside the combined model.** The classic
# recipe stacks `D(G(z))` into one model and trains it on "fake = real" labels to
# update the generator. If `D` is not frozen when that model is compiled, the same
# step also teaches `D` to call fakes real.

# %%
def combined_step(freeze_d: bool) -> bool:
    """One train_on_batch of the stacked model; returns whether D's weights changed."""
    set_seed(0)
    g = gan_module.mlp_generator()
    d = gan_module.mlp_discriminator()
    d.trainable = not freeze_d                      # the fix: freeze D *before* compile
    combined = keras.Sequential([g, d])
    combined.compile(optimizer=keras.optimizers.Adam(2e-4),
                     loss=keras.losses.BinaryCrossentropy(from_logits=True))
    before = [w.copy() for w in d.get_weights()]
    combined.train_on_batch(z, np.ones((16, 1), "float32"))
    return any(not np.array_equal(a, b) for a, b in zip(before, d.get_weights()))

print("D changed by the generator's step, D not frozen:", combined_step(freeze_d=False))
print("D changed by the generator's step, D frozen:    ", combined_step(freeze_d=True))

# %% [markdown]
# The course's `train_step` avoids the question: it hands the generator's optimizer
# only `self.generator.trainable_weights`.
#
# **Pitfall 3: the generator's output never reshaped to an image.** The articles'
# generator ends with `Dense(784)` while their discriminator takes `28 × 28 × 1` images.

# %%
flat_generator = keras.Sequential([keras.Input((100,)), keras.layers.Dense(784, activation="tanh")])
try:
    demo.discriminator(flat_generator(z))
except Exception as err:  # Keras raises ValueError (TensorFlow) or an input-shape error
    print(type(err).__name__ + ":", str(err).strip().splitlines()[0][:160])

# %% [markdown]
# Our generator ends with `layers.Reshape((28, 28, 1))`.
#
# **Pitfall 4: `generator.train_on_batch(noise, ones)`.** This trains the generator
# *alone* to output an image of ones. No discriminator is involved: it is regression to
# a white square, not adversarial training.

# %%
set_seed(0)
g = gan_module.mlp_generator()
g.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
noise = np.random.default_rng(1).standard_normal((64, 100)).astype("float32")
for _ in range(pick(full=100, fast=30)):
    g.train_on_batch(noise, np.ones((64, 28, 28, 1), "float32"))   # BUG
white = (keras.ops.convert_to_numpy(g(noise[:16], training=False)) + 1) / 2
print(f"mean pixel value of the 'generated digits': {white.mean():.3f} (1.0 = white)")
show_images(white, title="Pitfall 4: the generator learned a white square", nrow=8);

# %% [markdown]
# ## Exercises
#
# :::{exercise}
# :label: gan-keras-ex-backend
# Restart the kernel, set `os.environ["KERAS_BACKEND"] = "torch"` in the import cell and
# run the lab again. Which cells behave differently, and why?
# :::
#
# :::{solution} gan-keras-ex-backend
# :class: dropdown
# Everything trains the same way: the losses use `keras.ops` and only
# `apply_gradients` differs per backend. Pitfall 1 is skipped, because PyTorch records
# every operation (its twin is `torch.no_grad()`, shown in the PyTorch lab).
# :::
#
# :::{exercise}
# :label: gan-keras-ex-lr
# Give the discriminator a learning rate four times the generator's
# (`gan.compile(d_optimizer=keras.optimizers.Adam(8e-4, beta_1=0.5))`, the "two time-scale"
# rule of Heusel et al., 2017) and compare the loss curves.
# :::
#
# :::{solution} gan-keras-ex-lr
# :class: dropdown
# Call `compile` before `fit` (our `fit` only compiles a model that was not compiled).
# A faster discriminator usually lowers its loss early; whether samples improve depends
# on the run: plot both histories side by side and look at the sample grids.
# :::
#
# :::{exercise}
# :label: gan-keras-ex-check-losses
# Without looking at section 3, write the two losses from logits with `keras.ops`,
# `my_discriminator_loss(real_logits, fake_logits)` and `my_generator_loss(fake_logits)`,
# in the cell below and run it. `check` (from `aigc_course.exercises`) compares each with
# a reference on random and extreme logits and, where they differ, shows the input and
# gives a hint. The programming exercises {doc}`../12_exercises/exercises_keras` build a
# whole GAN this way.
# :::

# %%
# Check your answer: replace the two bodies with your code, then run the cell.
from aigc_course.exercises import check


def my_discriminator_loss(real_logits, fake_logits):
    raise NotImplementedError("your code here")


def my_generator_loss(fake_logits):
    raise NotImplementedError("your code here")


check("gan_discriminator_loss", my_discriminator_loss, framework="keras")
check("gan_generator_loss", my_generator_loss, framework="keras")
# the course's losses, used in this lab, pass the same checks
assert check("gan_discriminator_loss", gan_module.discriminator_loss, framework="keras")
assert check("gan_generator_loss", gan_module.generator_loss, framework="keras")
