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
# # Lab: a GAN for handwritten digits in PyTorch
#
# In this lab you train the **MLP GAN** (生成对抗网络) from the source articles on
# MNIST, with the bugs of the original code fixed. You will
#
# 1. load MNIST as NumPy arrays,
# 2. read the two losses and the training step (they are short!),
# 3. train with a progress bar, loss curves and a sample grid every few epochs,
# 4. save the weights, reload them into a fresh model and draw new digits,
# 5. see, by running them, four bugs that common tutorial code contains.
#
# The same lab exists in Keras ({doc}`gan_keras`); the model has the same layers and
# the same number of parameters in both. The theory is in {doc}`gan_concepts`.
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) training is cut to a few
# seconds on a CPU, so the digits below are blurry. On a Colab GPU, leave it unset:
# the full run (30 epochs on 60,000 images) takes a few minutes.
# ```

# %%
# On Colab, install the course package (does nothing on your own machine).
import sys
if "google.colab" in sys.modules:
    # %pip install -q "aigc-course[torch,data] @ git+https://github.com/aigc-course/aigc-course"

# %%
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import torch

from aigc_course import is_fast, pick, show_source
from aigc_course.data import load_mnist, random_subset
from aigc_course.plotting import plot_history, show_images
from aigc_course.torch import MODELS, SampleGrid, get_device, set_seed

set_seed(0)
device = get_device()
print(f"PyTorch {torch.__version__} on {device}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Data
#
# `load_mnist` returns `uint8` images shaped `(N, 28, 28)` and `int64` labels, the same
# arrays for PyTorch and Keras. If the full training set cannot be found or downloaded
# (as on the course's offline CI machine), it says so and uses a 5,000-image subset.

# %%
images, labels = load_mnist("train")
images, labels = random_subset(pick(full=len(images), fast=2048), images, labels, seed=0)
print(f"training on {len(images):,} images, shape {images.shape[1:]}, dtype {images.dtype}")
show_images(images[:32] / 255.0, title="Real MNIST digits", nrow=8);

# %% [markdown]
# ## 2. The model
#
# The generator maps a 100-dimensional noise vector $z \sim \mathcal N(0, I)$ through
# layers of 128, 256, 512 and 1024 units to $28 \times 28 = 784$ pixels; `tanh` puts
# them in $[-1, 1]$, the range the real images are scaled to. The discriminator maps
# an image to one **logit** $\ell$, with $D(x) = \sigma(\ell)$.

# %%
gan = MODELS["gan"]()
print(gan)
print(f"generator: {sum(p.numel() for p in gan.generator.parameters()):,} parameters; "
      f"discriminator: {sum(p.numel() for p in gan.discriminator.parameters()):,}; "
      f"total: {gan.count_params():,}")

# %% [markdown]
# ## 3. Losses and the training step
#
# With logits, binary cross-entropy (BCE) is computed stably by
# `binary_cross_entropy_with_logits`. The discriminator learns to label real images 1
# and fakes 0; the generator uses the **non-saturating** loss $-\log D(G(z))$, which
# still has a strong gradient when the discriminator easily spots the fakes (see the
# concept notebook for the plot).

# %%
import aigc_course.torch.gan as gan_module

show_source(gan_module, start="# --- losses", end="# --- end losses")

# %% [markdown]
# One training step updates the discriminator, then the generator. Two details
# matter: the fakes are **detached** for the discriminator's update, and each loss
# steps only its own network's optimizer.

# %%
show_source(type(gan).train_step)

# %% [markdown]
# ## 4. Training
#
# `fit` (a small shared trainer, {mod}`aigc_course.torch.core`) keeps the data on the
# device, shows a progress bar, records the mean losses per epoch, calls the
# `SampleGrid` callback and writes a checkpoint after every epoch: if Colab
# disconnects, run the cell again and training resumes where it stopped.
#
# `verbose=1` draws a progress bar per epoch (what you see when you run it);
# this page was built in fast mode with `verbose=2`, one line per epoch.

# %%
EPOCHS = pick(full=30, fast=3)
checkpoint_dir = pick(full="checkpoints/gan_pytorch", fast=tempfile.mkdtemp())
history = gan.fit(images, epochs=EPOCHS, batch_size=pick(full=128, fast=64),
                  callbacks=[SampleGrid(every=pick(full=5, fast=1), n=32)],
                  checkpoint_dir=checkpoint_dir, seed=0, verbose=pick(full=1, fast=2))

# %%
plot_history(history.history, title="GAN losses (PyTorch)")
plt.show()

# %% [markdown]
# The losses of a GAN do not go to zero: the two players push against each other.
# A discriminator loss near $2\log 2 \approx 1.39$ (its value at $D \equiv 1/2$) with a
# stable generator loss is healthy; a discriminator loss collapsing to 0 means it has
# won, and the generator's gradient is gone.
#
# ## 5. Save, reload, generate
#
# `save` writes a state dict; `load` reads it back with `weights_only=True`, so loading
# never runs pickled code.

# %%
path = f"{tempfile.mkdtemp()}/gan_mnist.pt"
gan.save(path)
reloaded = MODELS["gan"]().to(device).load(path)
new_digits = reloaded.sample(64, seed=123)
assert np.array_equal(new_digits, gan.sample(64, seed=123)), "reloaded model differs"
show_images(new_digits, title="New digits from the reloaded generator", nrow=8);

# %% [markdown]
# ## 6. What goes wrong in common tutorial code
#
# The source articles' GAN code (written for Keras, see {doc}`gan_keras`) does not
# train. Each bug has a PyTorch twin, and each one below is *run*, so you can see
# the symptom rather than take it on trust.
#
# **Pitfall 1: fakes made where no gradient can flow.** If the fake images for the
# generator's update come from `torch.no_grad()` (or `.detach()`), the generator's
# loss has no path back to its weights: `backward()` leaves their gradients empty.

# %%
set_seed(0)
demo = MODELS["gan"]()
z = torch.randn(16, demo.latent_dim)
with torch.no_grad():                      # BUG: no graph is recorded
    fake = demo.generator(z)
loss = gan_module.generator_loss(demo.discriminator(fake))
loss.backward()
print("generator gradients after the buggy step:",
      {p.grad is None for p in demo.generator.parameters()})  # {True}: nothing to learn from

# %% [markdown]
# **Pitfall 2: the discriminator is not frozen during the generator's update.** In the
# articles' Keras code the combined model `D(G(z))` is compiled without freezing `D`,
# so training it on "fake = real" labels also teaches `D` to call fakes real. The
# PyTorch twin: one optimizer over *all* parameters for the generator's step.

# %%
set_seed(0)
demo = MODELS["gan"]()
before = [p.detach().clone() for p in demo.discriminator.parameters()]
opt_all = torch.optim.Adam(demo.parameters(), lr=2e-4)  # BUG: includes D's weights
loss = gan_module.generator_loss(demo.discriminator(demo.generator(z)))
opt_all.zero_grad(); loss.backward(); opt_all.step()
changed = any(not torch.equal(a, b) for a, b in zip(before, demo.discriminator.parameters()))
print("discriminator changed by the generator's step:", changed)  # True: D is sabotaged

# %% [markdown]
# The fix is in `train_step` above: a separate optimizer per network, and the
# generator's step only calls `opt_g.step()`.
#
# **Pitfall 3: the generator's output is never reshaped to an image.** The articles'
# generator ends in a 784-unit dense layer, while their discriminator expects
# `28 × 28` images. A convolutional discriminator then fails with a shape error:

# %%
flat_generator = torch.nn.Sequential(torch.nn.Linear(100, 784), torch.nn.Tanh())  # no reshape
conv_discriminator = torch.nn.Conv2d(1, 8, kernel_size=3)
try:
    conv_discriminator(flat_generator(z))
except RuntimeError as err:
    print("RuntimeError:", str(err).splitlines()[0])

# %% [markdown]
# Our generator ends in `nn.Unflatten(1, (1, 28, 28))`; with an MLP discriminator the
# bug is silent (it flattens anyway), which is why it survives in tutorials.
#
# **Pitfall 4: training the generator alone.** `generator.train_on_batch(noise, ones)`
# fits the generator, by itself, to output an image of all ones: no discriminator is
# involved, so this is plain regression to a white square. The PyTorch twin:

# %%
set_seed(0)
g = MODELS["gan"]().generator
opt = torch.optim.Adam(g.parameters(), lr=1e-3)
for _ in range(pick(full=100, fast=30)):
    out = g(torch.randn(64, 100))
    loss = torch.nn.functional.mse_loss(out, torch.ones_like(out))  # BUG: target = ones
    opt.zero_grad(); loss.backward(); opt.step()
g.eval()
white = ((g(torch.randn(16, 100)) + 1) / 2).detach().numpy()
print(f"mean pixel value of the 'generated digits': {white.mean():.3f} (1.0 = white)")
show_images(white, title="Pitfall 4: the generator learned a white square", nrow=8);

# %% [markdown]
# ## Exercises
#
# :::{exercise}
# :label: gan-pytorch-ex-smoothing
# Train with one-sided label smoothing, `MODELS["gan"](label_smoothing=0.1)`, and
# compare the loss curves and samples with the run above. What value does the
# discriminator loss approach now when $D \equiv 1/2$?
# :::
#
# :::{solution} gan-pytorch-ex-smoothing
# :class: dropdown
# With real targets $0.9$, the loss at $D \equiv 1/2$ is still
# $-0.9\log\tfrac12 - 0.1\log\tfrac12 - \log\tfrac12 = 2\log 2$: BCE against a constant
# prediction of $1/2$ does not depend on the target. Smoothing lowers the
# discriminator's confidence on real images, which usually keeps the generator's
# gradients larger early in training.
# :::
#
# :::{exercise}
# :label: gan-pytorch-ex-saturating
# Write a `saturating_generator_loss(fake_logits)` that computes
# $\log(1 - D(G(z)))$ stably from logits, swap it into a copy of `train_step`, and
# compare the samples after the same number of epochs.
# :::
#
# :::{solution} gan-pytorch-ex-saturating
# :class: dropdown
# $\log(1-\sigma(\ell)) = -\operatorname{softplus}(\ell)$, so the loss is
# `-torch.nn.functional.softplus(fake_logits).mean()`. Early on $D(G(z)) \approx 0$, its
# gradient $-\sigma(\ell)$ is close to 0, and the generator learns much more slowly.
# :::
#
# :::{exercise}
# :label: gan-pytorch-ex-check-losses
# Without looking at section 3, write the two losses from logits,
# `my_discriminator_loss(real_logits, fake_logits)` and `my_generator_loss(fake_logits)`,
# in the cell below and run it. `check` (from `aigc_course.exercises`) compares each with
# a reference on random and extreme logits and, where they differ, shows the input and
# gives a hint. The programming exercises {doc}`../12_exercises/exercises_pytorch` build
# a whole GAN this way.
# :::

# %%
# Check your answer: replace the two bodies with your code, then run the cell.
from aigc_course.exercises import check


def my_discriminator_loss(real_logits, fake_logits):
    raise NotImplementedError("your code here")


def my_generator_loss(fake_logits):
    raise NotImplementedError("your code here")


check("gan_discriminator_loss", my_discriminator_loss, framework="torch")
check("gan_generator_loss", my_generator_loss, framework="torch")
# the course's losses, used in this lab, pass the same checks
assert check("gan_discriminator_loss", gan_module.discriminator_loss, framework="torch")
assert check("gan_generator_loss", gan_module.generator_loss, framework="torch")
