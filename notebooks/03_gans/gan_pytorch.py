# ---
# jupyter:
#   aigc_course:
#     edit: gan_lab.py, then run make sync
#     generated_from: gan_lab.py
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
# # Lab: a GAN for handwritten digits in PyTorch
#
# In this lab you train the **MLP GAN** (生成对抗网络) from the source articles on
# MNIST, with the bugs of the original code fixed. You will
#
# 1. load MNIST as NumPy arrays,
# 2. read the networks, the two losses and the training step, written out in this lab's
#    own cells (they are short!), which you can change and rerun,
# 3. train with a progress bar, loss curves and a sample grid every few epochs,
# 4. save the weights, reload them into a fresh model and draw new digits,
# 5. see, by running them, the bugs that common tutorial code contains.
#
# The same lab exists in Keras ({doc}`gan_keras`); the model has the same layers and
# the same number of parameters in both. The theory is in {doc}`gan_concepts`.
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) training is cut to a few
# seconds on a CPU, so the digits below are blurry. On a Colab GPU, leave it unset:
# the full run (30 epochs on 60,000 images) takes a few minutes.
# With `AIGC_COURSE_PRETRAINED=1` the lab skips training and loads the course checkpoint
# (trained with the full recipe) instead.
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
from aigc_course.data import load_mnist, random_subset
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

# %%
images, labels = load_mnist("train")
images, labels = random_subset(
    pick(full=len(images), fast=2048), images, labels, seed=0
)
print(
    f"training on {len(images):,} images, shape {images.shape[1:]}, dtype {images.dtype}"
)
show_images(images[:32] / 255.0, title="Real MNIST digits", nrow=8);

# %% [markdown]
# ## 2. The model
#
# The generator maps a 100-dimensional noise vector $z \sim \mathcal N(0, I)$ through
# layers of 128, 256, 512 and 1024 units to $28 \times 28 = 784$ pixels, reshaped to an
# image of $1 \times 28 \times 28$ (PyTorch puts the channel first); `tanh` puts them in
# $[-1, 1]$, the range the real images are scaled to. The discriminator maps an image
# through 512 and 256 units to one **logit** $\ell$, with $D(x) = \sigma(\ell)$.

# %% [markdown]
# The two networks are written out in the next cell, and the losses and the training
# step after it: this is the code you train. Change a layer or a loss, rerun the cells
# from here, and the rest of the lab (training, saving, sampling) uses your version.
# The cells are the package's own code, `aigc_course.torch.gan` (a test checks that
# they read the same), where the results page and the later chapters take it from.

# %% mirrors="aigc_course.torch.gan"
from torch import nn


def mlp_generator(latent_dim: int = 100) -> nn.Sequential:
    def block(n_in, n_out, norm=True):
        layers = [nn.Linear(n_in, n_out)]
        if norm:
            layers.append(nn.BatchNorm1d(n_out, momentum=0.2, eps=1e-5))
        layers.append(nn.LeakyReLU(0.2))
        return layers

    return nn.Sequential(
        *block(latent_dim, 128, norm=False),
        *block(128, 256),
        *block(256, 512),
        *block(512, 1024),
        nn.Linear(1024, 28 * 28),
        nn.Tanh(),
        nn.Unflatten(1, (1, 28, 28)),
    )


def mlp_discriminator() -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, 512),
        nn.LeakyReLU(0.2),
        nn.Linear(512, 256),
        nn.LeakyReLU(0.2),
        nn.Linear(256, 1),
    )

# %%
g, d = mlp_generator(), mlp_discriminator()
print(g)
print(d)
print(
    f"generator: {sum(p.numel() for p in g.parameters()):,} parameters; "
    f"discriminator: {sum(p.numel() for p in d.parameters()):,}"
)

# %% [markdown]
# ## 3. Losses and the training step
#
# With logits, binary cross-entropy (BCE) is computed stably, here by PyTorch's
# `binary_cross_entropy_with_logits`. The discriminator learns to label real images 1
# and fakes 0; the generator uses the **non-saturating** loss $-\log D(G(z))$, which
# still has a strong gradient when the discriminator easily spots the fakes (see the
# concept notebook for the plot).

# %% mirrors="aigc_course.torch.gan"
import torch.nn.functional as F


def discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """BCE from logits: real images labelled 1 (or 1 - smoothing), fakes 0."""
    real_targets = torch.full_like(real_logits, 1.0 - label_smoothing)
    return F.binary_cross_entropy_with_logits(
        real_logits, real_targets
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def generator_loss(fake_logits):
    """Non-saturating loss: -log D(G(z)), i.e. BCE with the fakes labelled 1."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))

# %% [markdown]
# One training step updates the discriminator, then the generator: a GAN needs two
# optimizers in one step, so the model overrides `train_step`. Two details matter: the
# fakes reach the discriminator's update **detached** (`fake.detach()`), and each loss
# steps only its own network's optimizer.

# %% mirrors="aigc_course.torch.gan"
# the package's GAN: fit, save, load, sample
from aigc_course.torch import gan as reference


class GAN(reference.GAN):
    """The course's GAN with its networks and training step written out on this page."""

    def build_networks(self):
        """``(generator, discriminator)``: here the MLPs of the source articles."""
        return mlp_generator(self.latent_dim), mlp_discriminator()

    def train_step(self, real):
        opt_g, opt_d = self.optimizers["g"], self.optimizers["d"]
        z = torch.randn(real.shape[0], self.latent_dim, device=real.device)

        # 1) Discriminator: real -> 1, fake -> 0. detach(): this step must not touch G.
        with self.autocast():
            fake = self.generator(z)
            d_loss = discriminator_loss(
                self.discriminator(real),
                self.discriminator(fake.detach()),
                self.label_smoothing,
            )
        opt_d.zero_grad(set_to_none=True)
        self.backward(d_loss)  # d_loss.backward(), the loss scaled under float16 AMP
        # opt_d.step(), through the GradScaler under float16 AMP
        self.optimizer_step(opt_d)

        # 2) Generator: make D call the fakes real. Only G's optimizer steps.
        with self.autocast():
            g_loss = generator_loss(self.discriminator(fake))
        opt_g.zero_grad(set_to_none=True)
        self.backward(g_loss)
        self.optimizer_step(opt_g)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

# %%
gan = GAN()
print(f"trainable parameters: {gan.count_params():,} (the same in PyTorch and Keras)")

# %% [markdown]
# ## 4. Training
#
# `fit` (a small shared trainer, {mod}`aigc_course.torch.core`) keeps the data on the
# device, shows a progress bar, records the mean losses per epoch, calls the
# `SampleGrid` callback and writes a checkpoint after every epoch into a **run folder**
# that `run_dir` names after the settings (model, data, epochs, batch size, seed). On
# Colab that folder is on your Google Drive (the first call asks to mount it): if Colab
# disconnects, run the cell again and training resumes where it stopped. Change a
# setting and you get a new folder, so a new run starts instead of resuming the old one.

# %% [markdown]
# `verbose=1` draws a progress bar per epoch (what you see when you run it);
# this page was built in fast mode with `verbose=2`, one line per epoch.

# %%
EPOCHS = pick(full=30, fast=3)
BATCH = pick(full=128, fast=64)
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    gan = pretrained.load("gan", "mnist", device=device)
    losses = pretrained.history("gan", "mnist")
else:
    checkpoint_dir = run_dir(
        "gan_pytorch", model=gan, data=images, epochs=EPOCHS, batch_size=BATCH, seed=0
    )
    losses = gan.fit(
        images,
        epochs=EPOCHS,
        batch_size=BATCH,
        callbacks=[SampleGrid(every=pick(full=5, fast=1), n=32)],
        checkpoint_dir=checkpoint_dir,
        seed=0,
        verbose=pick(full=1, fast=2),
    ).history
train_seconds = time.perf_counter() - t0

# %%
plot_history(losses, title="GAN losses (PyTorch)")
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
# ### Your run beside the course checkpoint
#
# This page was built in fast mode, so the digits above come from seconds of training.
# The course also publishes this GAN trained with the full recipe
# (`make pretrain MODEL=gan DATASET=mnist`), the same file for PyTorch and Keras; its
# scores are in {doc}`../08_evaluation/results`. Both generators below draw from the same
# 64 noise vectors.

# %%
if pretrained.is_published("gan", "mnist"):
    course = pretrained.load("gan", "mnist", device=device)
    your_title = (
        "loaded, not trained (AIGC_COURSE_PRETRAINED=1)"
        if pretrained.use_only()
        else "your run: "
        + pretrained.training_summary(
            len(losses["d_loss"]), len(images), train_seconds, "GPU" if gpu else "CPU"
        )
    )
    compare_samples(
        gan.sample(64, seed=123),
        course.sample(64, seed=123),
        your_title,
        pretrained.describe("gan", "mnist"),
    )
    plt.show()
else:
    print(
        "The course checkpoint gan/mnist is not published yet: "
        "`make pretrain MODEL=gan DATASET=mnist` trains it."
    )

# %% [markdown]
# ## 6. What goes wrong in common tutorial code
#
# The source articles' GAN code (written for Keras, see {doc}`gan_keras`) does not
# train. Each bug has a PyTorch twin, and each one below is *run*, so you can see
# the symptom rather than take it on trust. Pitfalls 5 to 7 run the articles' own PyTorch
# code: the pseudo-code of articles 001 and 002 and the GAN program of article 004
# (the {doc}`../../book/errata` numbers the five articles and quotes each original).
#
# (gan-pytorch-pitfall-no-grad)=
# **Pitfall 1: fakes made where no gradient can flow.** If the fake images for the
# generator's update come from `torch.no_grad()` (or `.detach()`), the generator's
# loss has no path back to its weights: `backward()` leaves their gradients empty.

# %%
set_seed(0)
demo = MODELS["gan"]()
z = torch.randn(16, demo.latent_dim)
with torch.no_grad():  # BUG: no graph is recorded
    fake = demo.generator(z)
loss = reference.generator_loss(demo.discriminator(fake))
loss.backward()
print(
    "generator gradients after the buggy step:",
    # {True}: nothing to learn from
    {p.grad is None for p in demo.generator.parameters()},
)

# %% [markdown]
# (gan-pytorch-pitfall-freeze)=
# **Pitfall 2: the discriminator is not frozen during the generator's update.** In the
# articles' Keras code the combined model `D(G(z))` is compiled without freezing `D`,
# so training it on "fake = real" labels also teaches `D` to call fakes real. The
# PyTorch twin: one optimizer over *all* parameters for the generator's step.

# %%
set_seed(0)
demo = MODELS["gan"]()
before = [p.detach().clone() for p in demo.discriminator.parameters()]
opt_all = torch.optim.Adam(demo.parameters(), lr=2e-4)  # BUG: includes D's weights
loss = reference.generator_loss(demo.discriminator(demo.generator(z)))
opt_all.zero_grad()
loss.backward()
opt_all.step()
changed = any(
    not torch.equal(a, b) for a, b in zip(before, demo.discriminator.parameters())
)
print("discriminator changed by the generator's step:", changed)  # True: D is sabotaged

# %% [markdown]
# The fix is in `train_step` above: a separate optimizer per network, and the
# generator's step only calls `opt_g.step()`.
#
# (gan-pytorch-pitfall-reshape)=
# **Pitfall 3: the generator's output is never reshaped to an image.** The articles'
# generator ends in a 784-unit dense layer, while their discriminator expects
# `28 × 28` images. A convolutional discriminator then fails with a shape error:

# %%
# no reshape
flat_generator = torch.nn.Sequential(torch.nn.Linear(100, 784), torch.nn.Tanh())
conv_discriminator = torch.nn.Conv2d(1, 8, kernel_size=3)
try:
    conv_discriminator(flat_generator(z))
except RuntimeError as err:
    print("RuntimeError:", str(err).splitlines()[0])
# The PyTorch article means to reshape, but views the output as its own shape:
img = flat_generator(z)
img = img.view(img.size(0), *img.shape[1:])  # as printed: a no-op
print(
    "after the article's view():",
    tuple(img.shape),
    "; meant:",
    tuple(img.view(-1, 1, 28, 28).shape),
)

# %% [markdown]
# Our generator ends in `nn.Unflatten(1, (1, 28, 28))` (in the article's own class,
# `img.view(img.size(0), *self.img_shape)` with `img_shape = (1, 28, 28)`, PyTorch's
# channels-first order). With an MLP discriminator the bug is silent (it flattens
# anyway), which is why it survives in tutorials.
#
# (gan-pytorch-pitfall-train-alone)=
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
    opt.zero_grad()
    loss.backward()
    opt.step()
g.eval()
white = ((g(torch.randn(16, 100)) + 1) / 2).detach().numpy()
print(f"mean pixel value of the 'generated digits': {white.mean():.3f} (1.0 = white)")
show_images(white, title="Pitfall 4: the generator learned a white square", nrow=8);

# %% [markdown]
# (gan-pytorch-pitfall-fake-label)=
# **Pitfall 5: the generator trained towards the *fake* label.** The pseudo-code of
# article 001 (sections 3.2 to 3.5) computes the generator's loss as
# `loss_function(D_G_x, fake_label)`, and article 002 (section 4.2.2) writes it as
# $L_G = -\log(1 - D(G(z)))$: the same thing,
# since BCE with target 0 is $-\log(1 - D)$. Minimising it pushes $D(G(z))$ *down*: the
# generator helps the discriminator. Start from the GAN trained above, keep $D$ fixed,
# and take the same number of generator steps with each target:

# %%
import copy

logits = torch.linspace(-4, 4, 9)
assert torch.allclose(
    F.binary_cross_entropy_with_logits(logits, torch.zeros(9), reduction="none"),
    # BCE(., 0) = -log(1 - D)
    -torch.log(1 - torch.sigmoid(logits)),
    atol=1e-5,
)

z_eval = torch.randn(512, gan.latent_dim, device=device)


def mean_d_of_fakes(model):
    with torch.no_grad():
        return torch.sigmoid(model.discriminator(model.generator(z_eval))).mean().item()


moved = {}
for target, name in [
    (0.0, "fake_label, as printed"),
    (1.0, "real label (non-saturating)"),
]:
    set_seed(0)
    # the trained GAN; only G is updated
    model = copy.deepcopy(gan)
    opt = torch.optim.Adam(model.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    before = mean_d_of_fakes(model)
    for _ in range(pick(full=50, fast=20)):
        fake_logits = model.discriminator(
            model.generator(torch.randn(64, gan.latent_dim, device=device))
        )
        loss = F.binary_cross_entropy_with_logits(
            fake_logits, torch.full_like(fake_logits, target)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    moved[target] = (before, mean_d_of_fakes(model))
    print(
        f"generator trained towards the {name:28}: mean D(G(z)) {before:.3f} -> {moved[target][1]:.3f}"
    )
assert moved[0.0][1] < moved[0.0][0] and moved[1.0][1] > moved[1.0][0]

# %% [markdown]
# With the fake label the generator makes its samples *more* obviously fake. The
# generator's target is the **real** label, 1 (the course's `generator_loss`).
#
# (gan-pytorch-pitfall-004-dloss)=
# **Pitfall 6: a discriminator loss that rewards nothing.** The PyTorch GAN of
# article 004 (section 5.2) ends its discriminator with `nn.Sigmoid()`
# and trains it on `D_loss = D_real_loss + D_fake_loss`, with
# `D_real_loss = D(D_real_data).mean()` and `D_fake_loss = D(fake_images).mean()`.
# Minimising that pushes $D$ *down on real and fake images alike*: nothing asks for
# $D(\text{real})$ to be large. Train the article's discriminator (784 → 512 → 256 → 1,
# sigmoid) on real digits and fixed fakes, with its loss and with BCE:

# %%
real = torch.as_tensor(gan.prepare(images[:512])[0]).to(device)
with torch.no_grad():
    # untrained G
    fakes = MODELS["gan"]().to(device).generator(torch.randn(512, 100, device=device))


def article_discriminator():
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 512),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Linear(512, 256),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Linear(256, 1),
        torch.nn.Sigmoid(),
    ).to(device)


ones, zeros = torch.ones(512, 1, device=device), torch.zeros(512, 1, device=device)
d_losses = {
    "D(real).mean() + D(fake).mean(), as printed": lambda d: (
        d(real).mean() + d(fakes).mean()
    ),
    "BCE: real -> 1, fake -> 0 (the fix)": lambda d: (
        F.binary_cross_entropy(d(real), ones) + F.binary_cross_entropy(d(fakes), zeros)
    ),
}
accuracy = {}
for name, d_loss_fn in d_losses.items():
    set_seed(0)
    d = article_discriminator()
    opt = torch.optim.Adam(d.parameters(), lr=2e-4)
    for _ in range(pick(full=200, fast=60)):
        loss = d_loss_fn(d)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        d_real, d_fake = d(real), d(fakes)
    accuracy[name] = (
        0.5 * ((d_real > 0.5).float().mean() + (d_fake < 0.5).float().mean()).item()
    )
    print(
        f"{name:46}: mean D(real) {d_real.mean():.3f}, mean D(fake) {d_fake.mean():.3f}, "
        f"accuracy {accuracy[name]:.2f}"
    )
assert (
    accuracy["D(real).mean() + D(fake).mean(), as printed"]
    <= 0.55
    < 0.9
    < accuracy["BCE: real -> 1, fake -> 0 (the fix)"]
)

# %% [markdown]
# With the article's loss both outputs fall towards 0 and the "discriminator" calls
# everything fake: accuracy 0.5, a coin. The same program's generator loss,
# `adversarial_loss(D_fake_label, D(fake_images))` $= -\mathbb E[D(G(z))]$, is a WGAN critic
# loss on a *sigmoid* output, which saturates ({doc}`practice_concepts`, section 4.4).
#
# (gan-pytorch-pitfall-crashes)=
# **Pitfall 7: the articles' PyTorch training loops do not run.** Each snippet below
# repeats the few lines of one loop as printed (with a tiny generator and
# discriminator, so that each runs in a millisecond) and prints the error it stops
# with:
#
# * article 001's loop (sections 3.5.3 and 3.5.4) averages the losses with `np.mean`
#   (NumPy's mean of a tensor), and once that is fixed, steps the discriminator's optimizer *before*
#   `G_loss.backward()`, which needs the discriminator's old weights;
# * article 002's pseudo-code (sections 3.3 and 4.4) stores the loss in `D_loss`, the name
#   of the loss function, and, renamed, calls `backward()` twice through the same fakes `GZ`;
# * article 004's GAN program (section 5.2) calls `G_loss.backward()`
#   and then `D_loss.backward()` through the same `fake_images`, and its step 4 defines a
#   second `train_GAN` that replaces the step function and calls itself.

# %%
def tiny_gan():
    set_seed(0)
    G = nn.Sequential(nn.Linear(8, 16), nn.LeakyReLU(0.2), nn.Linear(16, 4))
    D = nn.Sequential(
        nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Sigmoid()
    )
    return (
        G,
        D,
        torch.optim.Adam(G.parameters(), 2e-4),
        torch.optim.Adam(D.parameters(), 2e-4),
    )


X_real, real_label, fake_label = torch.randn(5, 4), torch.ones(5, 1), torch.zeros(5, 1)
loss_function = nn.BCELoss()


def loop_001(mean):  # article 001, sections 3.5.3 and 3.5.4
    G, D, G_optimizer, D_optimizer = tiny_gan()
    X_fake = G(torch.randn(5, 8))
    D_loss_real = loss_function(D(X_real), real_label)
    D_loss_fake = loss_function(D(X_fake), fake_label)
    D_loss = 0.5 * mean(D_loss_real + D_loss_fake)
    X_fake = G(torch.randn(5, 8))
    G_loss = loss_function(D(X_fake), fake_label)
    D_optimizer.zero_grad()
    D_loss.backward()
    D_optimizer.step()
    G_optimizer.zero_grad()
    G_loss.backward()
    G_optimizer.step()


def loop_002(rename):  # article 002, sections 3.3 and 4.4
    G, D, optimizer_G, optimizer_D = tiny_gan()
    D_loss = nn.BCELoss()
    ones, zeros = real_label, fake_label
    GZ = G(torch.randn(5, 8))
    D_loss_real = D_loss(D(X_real), ones)
    D_loss_fake = D_loss(D(GZ), zeros)
    if rename:
        d_loss = D_loss_real + D_loss_fake
    else:
        D_loss = D_loss_real + D_loss_fake  # as printed
        d_loss = D_loss
    optimizer_D.zero_grad()
    d_loss.backward()
    optimizer_D.step()
    G_loss = D_loss(D(GZ), ones)
    optimizer_G.zero_grad()
    G_loss.backward()
    optimizer_G.step()


def loop_004(step_4):  # article 004, section 5.2
    G, D, G_optimizer, D_optimizer = tiny_gan()
    batch_size, latent_dim, device, data_loader = 5, 8, "cpu", [(X_real, None)]

    def adversarial_loss(D_real, D_fake):
        return D_real.mean() - D_fake.mean()

    def train_GAN(G, D, D_real_data, G_optimizer, D_optimizer, device):  # step 3
        G_optimizer.zero_grad()
        z = torch.randn(batch_size, latent_dim, device=device)
        fake_images = G(z)
        D_fake_label = torch.zeros(batch_size, device=device)
        D_loss = D(D_real_data).mean() + D(fake_images).mean()
        G_loss = adversarial_loss(D_fake_label, D(fake_images))
        G_loss.backward()
        G_optimizer.step()
        D_loss.backward()
        D_optimizer.step()
        return G_loss.item(), D_loss.item()

    if step_4:

        def train_GAN(
            G,
            D,
            D_real_data,
            G_optimizer,
            D_optimizer,
            device,
            epochs=200,
            batch_size=32,
        ):
            for _epoch in range(epochs):
                G_loss = 0
                for _batch_idx, (real_images, _) in enumerate(data_loader):
                    G_loss += train_GAN(
                        G, D, real_images, G_optimizer, D_optimizer, device
                    )[0]

    train_GAN(G, D, X_real, G_optimizer, D_optimizer, device)


for where, run in [
    ("001, np.mean of the losses ", lambda: loop_001(np.mean)),
    ("001, with torch.mean       ", lambda: loop_001(torch.mean)),
    ("002, as printed            ", lambda: loop_002(rename=False)),
    ("002, D_loss renamed        ", lambda: loop_002(rename=True)),
    ("004, step 3 alone          ", lambda: loop_004(step_4=False)),
    ("004, steps 3 and 4         ", lambda: loop_004(step_4=True)),
]:
    try:
        run()
        print(f"{where}: runs")
    except (TypeError, RuntimeError, RecursionError) as err:
        print(
            f"{where}: {type(err).__name__}: {str(err).strip().splitlines()[0][:110]}"
        )

# %% [markdown]
# None of the six gets through one step. The fix is the order of the course's
# `train_step` (section 3): the discriminator's loss on `fake.detach()`, its backward
# pass and its step; then a *new* forward pass through the updated discriminator for the
# generator's loss, its backward pass and its step, each optimizer zeroing its own
# gradients first.

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
# $\log(1 - D(G(z)))$ stably from logits, use it in the `train_step` of section 3 in
# place of `generator_loss`, rerun from there, and compare the samples after the same
# number of epochs.
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
assert check("gan_discriminator_loss", reference.discriminator_loss, framework="torch")
assert check("gan_generator_loss", reference.generator_loss, framework="torch")
