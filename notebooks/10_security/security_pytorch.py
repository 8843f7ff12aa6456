# ---
# jupyter:
#   aigc_course:
#     edit: security_lab.py, then run make sync
#     generated_from: security_lab.py
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
# # Lab: privacy attacks, DP-SGD and a fake-image detector in PyTorch
#
# A generative model is trained on somebody's data. In this lab you measure how much
# of that data it gives away, train it so that it provably gives away less, and try
# the most common defence against generated media, a detector. You will
#
# 1. train the course's VAE on a small set of digits until it overfits, and attack it
#    with **membership inference** (成员推断): given an image, was it in the training
#    set? {cite}`shokri2017membership,hayes2019logan`;
# 2. write **DP-SGD** (差分隐私随机梯度下降) {cite}`abadi2016dpsgd` by hand (clip every
#    example's gradient, add Gaussian noise), check it against the
#    [Opacus](https://opacus.ai) library {cite}`yousefpour2021opacus`, and train the
#    VAE privately for several privacy budgets $\varepsilon$;
# 3. plot the **privacy/quality trade-off**: $\varepsilon$ against the held-out ELBO
#    and against the attack's success;
# 4. train a **real-versus-generated detector** (生成图像检测器) and watch it fail as
#    soon as the generator or the images change.
#
# The theory (differential privacy, the membership advantage, watermarks) is in
# {doc}`security_concepts`; the same lab in Keras, with DP-SGD written without any
# privacy library, is {doc}`security_keras`.
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) the VAEs are small, the
# training set has 256 images and only two private models are trained, so the whole
# notebook runs in well under a minute on a CPU. On a Colab GPU, leave it unset: the
# full run trains on 2,048 images and sweeps six privacy budgets in a few minutes.
# ```

# %%
# Install the course package if it is missing (on Colab, Kaggle or a fresh Jupyter);
# where it is installed already, this cell does nothing.
import importlib

try:
    importlib.import_module("aigc_course")
except ImportError:
    print("Installing the course package (about a minute) ...")
    # %pip install -q "aigc-course[torch,privacy] @ git+https://github.com/aigc-course/aigc-course@v0.6.0"

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from opacus import PrivacyEngine
from scipy import ndimage
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.utils.data import DataLoader, TensorDataset

# a text bar: renders the same in Jupyter, Colab and on the website
from tqdm import tqdm

from aigc_course import check_gpu, is_fast, pick, privacy, security, show_source
from aigc_course.data import load_mnist, random_subset
from aigc_course.plotting import plot_history, show_images
from aigc_course.torch import MODELS, get_device, set_seed
from aigc_course.torch.vae import bernoulli_nll, gaussian_kl, reparameterize

warnings.filterwarnings("ignore", module="opacus")  # secure-RNG and alpha-range notices
# Opacus's hooks on the inputs
warnings.filterwarnings("ignore", message="Full backward hook")
check_gpu()  # no GPU and AIGC_COURSE_FAST unset: switches to fast mode, and says so
set_seed(0)
device = get_device()
print(f"PyTorch {torch.__version__} on {device}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Members, non-members and outsiders
#
# We take three disjoint sets of real MNIST digits, all from the same distribution:
#
# * **members**: the VAE's training set (the data we want to protect);
# * **non-members**: digits the model never sees; the attack must tell them apart from
#   members, and they serve as the held-out set for the ELBO;
# * **outsiders**: more real digits, used only by the detector in section 4.

# %%
N = pick(full=2048, fast=256)  # members (and as many non-members)
N_DETECT = pick(full=4096, fast=512)  # real images for the detector
images, _ = load_mnist("train")
(pool,) = random_subset(2 * N + N_DETECT, images, seed=0)
members, nonmembers, outsiders = pool[:N], pool[N : 2 * N], pool[2 * N :]
print(
    f"{len(members)} members, {len(nonmembers)} non-members, {len(outsiders)} outsiders"
)
show_images(members[:32] / 255.0, title="Some members (training images)", nrow=8);

# %% [markdown]
# ## 2. Membership inference on an overfitted VAE
#
# The model is `MODELS["vae"]`, the MLP VAE of {doc}`../04_vaes/vae_pytorch`
# (narrower in fast mode, to keep DP-SGD cheap). Many epochs on few images make
# it **overfit** (过拟合): it fits its own training images better than new ones.

# %%
HIDDEN = pick(full=(512, 256), fast=(128, 64))
EPOCHS = pick(full=100, fast=20)
BATCH = pick(full=128, fast=64)
set_seed(0)
vae = MODELS["vae"](hidden=HIDDEN)
history = vae.fit(
    members, epochs=EPOCHS, batch_size=BATCH, seed=0, verbose=pick(full=1, fast=2)
)
print(
    f"{vae.count_params():,} parameters, {EPOCHS} epochs, "
    f"final training loss {history.history['loss'][-1]:.1f} nats"
)
plot_history(
    history.history, keys=["loss"], title="Non-private VAE: -ELBO on the members"
)
plt.show()

# %% [markdown]
# **The attack.** The simplest membership-inference attack on a likelihood model
# thresholds the model's own score: a member is an image the model finds likely. We
# use the ELBO, the VAE's lower bound on $\log p(x)$ (in nats); "member" is declared
# when the ELBO exceeds a threshold $t$. Sweeping $t$ traces the **ROC curve**, the
# true-positive rate (members caught) against the false-positive rate (non-members
# accused). Three numbers summarise it: the **AUC** (area under the curve, $0.5$ is a
# coin flip), the **membership advantage** $\max_t(\mathrm{TPR}-\mathrm{FPR})$
# {cite}`yeom2018privacy`, and the TPR at a 1 % FPR {cite}`carlini2022membership`.
# The last one matters most: an attack that is sure about a few members is dangerous
# even when its AUC, an average over all thresholds, is modest.

# %%
ELBO_SAMPLES = pick(full=16, fast=4)


def attack(model):
    """ELBO scores of members and non-members, and the attack's metrics."""
    s_in = model.elbo(members, seed=1, samples=ELBO_SAMPLES)
    s_out = model.elbo(nonmembers, seed=2, samples=ELBO_SAMPLES)
    return (
        s_in,
        s_out,
        {
            "AUC": security.roc_auc(s_in, s_out),
            "advantage": security.advantage(s_in, s_out),
            "TPR@1%FPR": security.tpr_at_fpr(s_in, s_out, 0.01),
        },
    )


s_in, s_out, mia = attack(vae)
print(
    f"mean ELBO: members {s_in.mean():.1f}, non-members {s_out.mean():.1f} nats "
    f"(generalisation gap {s_in.mean() - s_out.mean():.1f})"
)
print({k: round(v, 3) for k, v in mia.items()})

# AUC = P(member score > non-member score): check against all pairs, and the ROC's area
auc_pairs = (s_in[:, None] > s_out[None, :]).mean() + 0.5 * (
    s_in[:, None] == s_out[None, :]
).mean()
fpr, tpr, _ = security.roc_curve(s_in, s_out)
roc_area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)  # trapezoid rule
assert np.isclose(mia["AUC"], auc_pairs) and np.isclose(mia["AUC"], roc_area)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
bins = np.linspace(min(s_in.min(), s_out.min()), max(s_in.max(), s_out.max()), 40)
ax1.hist(s_in, bins, alpha=0.6, label="members")
ax1.hist(s_out, bins, alpha=0.6, label="non-members")
ax1.set(title="ELBO of the overfitted VAE", xlabel="ELBO (nats)", ylabel="images")
ax1.legend()
ax2.plot(fpr, tpr, label=f"ELBO threshold (AUC {mia['AUC']:.2f})")
ax2.plot([0, 1], [0, 1], "k:", label="coin flip")
ax2.set(
    title="Membership inference: ROC",
    xlabel="false-positive rate",
    ylabel="true-positive rate",
)
ax2.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The two histograms are shifted: the attack works because of the **generalisation
# gap**, the printed difference of mean ELBOs. This is the attack of Yeom et al.
# {cite}`yeom2018privacy`; on GANs, Hayes et al. {cite}`hayes2019logan` use the
# discriminator's output as the score instead, since a GAN has no likelihood.
#
# **Do the samples copy members?** A second, weaker symptom of memorisation: are the
# model's samples closer to its training images than to equally many images it never
# saw? `nearest_neighbour_distance` finds each sample's closest image in a set.

# %%
samples = vae.sample(pick(full=512, fast=128), seed=0)
d_in, i_in = security.nearest_neighbour_distance(samples, members / 255.0)
d_out, _ = security.nearest_neighbour_distance(samples, nonmembers / 255.0)
closer = float(np.mean(d_in < d_out))
print(
    f"samples closer to a member than to any non-member: {closer:.0%} (50% = no preference)"
)
pairs = np.stack([samples[:8], members[i_in[:8]] / 255.0], axis=1).reshape(-1, 28, 28)
show_images(pairs, title="Samples (odd) and their nearest member (even)", nrow=8);

# %% [markdown]
# A VAE's samples are blurry averages, so they are rarely exact copies, and the printed
# fraction is a weak signal: compare it with the 50 % of chance, which it can miss by
# a few percent through sampling noise alone. Large diffusion models do reproduce
# training images exactly {cite}`carlini2023extracting`.
#
# ## 3. DP-SGD
#
# Differential privacy bounds how much any single training example can change what
# the training run outputs ({cite}`dwork2014algorithmic`; the definition is in
# {doc}`security_concepts`). DP-SGD {cite}`abadi2016dpsgd` changes one thing in
# training, the gradient:
#
# 1. sample the batch by **Poisson sampling** (泊松采样): each example joins with probability
#    $q$ (the sample rate);
# 2. compute the gradient $g_i$ of **every example separately**;
# 3. **clip** (裁剪) each to norm at most $C$: $\bar g_i = g_i \min(1, C/\lVert g_i\rVert)$;
# 4. add Gaussian noise to their sum and divide by the expected batch size $qN$:
#    $\tilde g = \big(\sum_i \bar g_i + \mathcal N(0, \sigma^2 C^2 I)\big) / (qN)$;
# 5. hand $\tilde g$ to any optimizer (here Adam).
#
# Clipping bounds each example's influence on the sum by $C$; the noise, with the
# **noise multiplier** $\sigma$, hides that influence. An **accountant** (隐私核算) then adds up
# the privacy spent over all steps and reports $(\varepsilon, \delta)$.
#
# ### 3.1 DP-SGD by hand
#
# The model must return one loss **per example**. We wrap the zoo's VAE in a module
# whose forward pass gives the negative ELBO of each image (the noise $\epsilon$ of the
# reparameterisation is an input, so that two implementations can be compared).

# %%
class NegELBO(nn.Module):
    """Per-example -ELBO of a course VAE: the module DP-SGD trains (its weights are the VAE's)."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, x, eps):  # x: binary images (B, 1, 28, 28)
        mu, logvar = self.vae.posterior(x)
        logits = self.vae.decoder(reparameterize(mu, logvar, eps))
        return bernoulli_nll(logits, x) + gaussian_kl(mu, logvar)  # (B,)


# %% [markdown]
# PyTorch's `torch.func` computes per-example gradients directly: `grad` differentiates
# the loss of *one* example, `vmap` maps it over the batch. The DP-SGD gradient is then
# a few lines.

# %%
def per_example_grads(model, x, eps):
    """{parameter name: (B, *shape)} gradients of each example's loss."""
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_one(p, xi, ei):
        return functional_call(model, p, (xi[None], ei[None]))[0]

    return vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, eps)


def dp_sgd_gradient(grads, clip_norm, noise_multiplier, expected_batch_size):
    """Clip each example's gradient to norm <= C, sum, add N(0, (sigma C)^2), divide by qN."""
    # (B, all parameters)
    flat = torch.cat([g.flatten(1) for g in grads.values()], dim=1)
    # one norm per example
    norms = flat.norm(dim=1)
    # min(1, C / ||g_i||)
    scale = (clip_norm / (norms + 1e-6)).clamp(max=1.0)
    noisy = {}
    for name, g in grads.items():
        clipped_sum = torch.einsum("b,b...->...", scale, g)
        noise = noise_multiplier * clip_norm * torch.randn_like(clipped_sum)
        noisy[name] = (clipped_sum + noise) / expected_batch_size
    return noisy, norms


# %% [markdown]
# **Check against Opacus.** Opacus's `PrivacyEngine.make_private` wraps the model, the
# optimizer and the data loader. Its hooks store each parameter's per-example gradients
# in `p.grad_sample`, and its optimizer's `pre_step` clips, adds noise and averages. With
# the noise set to 0, both must give exactly our numbers.

# %%
CLIP = 1.0
set_seed(0)
probe = NegELBO(MODELS["vae"](hidden=HIDDEN)).to(device)
x = torch.bernoulli(
    torch.as_tensor(members[:32] / 255.0, dtype=torch.float32)[:, None]
).to(device)
eps = torch.randn(len(x), probe.vae.latent_dim, device=device)
ours = per_example_grads(probe, x, eps)
ours_dp, norms = dp_sgd_gradient(
    ours, CLIP, noise_multiplier=0.0, expected_batch_size=len(x)
)

engine = PrivacyEngine(accountant="rdp")
gs_model, gs_opt, _ = engine.make_private(
    module=probe,
    optimizer=torch.optim.SGD(probe.parameters(), lr=0.0),
    data_loader=DataLoader(TensorDataset(x), batch_size=len(x)),
    noise_multiplier=0.0,
    max_grad_norm=CLIP,
    poisson_sampling=False,
)
gs_model(x, eps).mean().backward()
gs_opt.pre_step()  # clip + noise (0 here) + average
for name, p in probe.named_parameters():
    torch.testing.assert_close(p.grad_sample, ours[name], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(p.grad, ours_dp[name], rtol=1e-4, atol=1e-6)
print(
    f"per-example gradients and clipped average agree with Opacus on "
    f"{len(ours)} parameter tensors"
)
print(
    f"per-example gradient norms: median {norms.median():.1f}, max {norms.max():.1f} "
    f"-> with C = {CLIP} every example is clipped"
)
gs_model.remove_hooks()  # the probe is a plain module again

# %% [markdown]
# Every example's gradient is much longer than $C = 1$, so every one is clipped: DP-SGD
# then follows the average *direction* of the examples' gradients, which Adam rescales
# anyway. Choosing $C$ is a trade-off of its own: a large $C$ needs more noise
# ($\sigma C$) for the same privacy.
#
# ### 3.2 Training privately with Opacus
#
# For training we let Opacus do all the work, including Poisson sampling and the
# accountant: `make_private_with_epsilon` picks the noise multiplier $\sigma$ that
# spends exactly the target $\varepsilon$ in the given number of epochs, at
# $\delta = 10^{-5}$ (well below $1/N$). Everything else is the non-private recipe
# above (same VAE, members, epochs and batch size) except the learning rate: the noisy
# average of clipped gradients is a small, noisy step, and DP-SGD usually needs a
# larger learning rate than plain training (we use Adam with `DP_LR`).

# %%
DELTA = 1e-5
DP_LR = pick(full=3e-3, fast=1e-2)
TARGETS = pick(full=[0.5, 1.0, 2.0, 4.0, 8.0, 16.0], fast=[1.0, 16.0])


def train_private(target_epsilon, seed=0):
    """Train a fresh VAE on the members with DP-SGD; returns (vae, sigma, epsilon, steps)."""
    set_seed(seed)
    model = MODELS["vae"](hidden=HIDDEN)
    module = NegELBO(model).to(device)
    data = TensorDataset(torch.as_tensor(members / 255.0, dtype=torch.float32)[:, None])
    loader = DataLoader(data, batch_size=BATCH, shuffle=True)
    engine = PrivacyEngine(accountant="rdp")
    module, optimizer, loader = engine.make_private_with_epsilon(
        module=module,
        optimizer=torch.optim.Adam(module.parameters(), lr=DP_LR),
        data_loader=loader,
        target_epsilon=target_epsilon,
        target_delta=DELTA,
        epochs=EPOCHS,
        max_grad_norm=CLIP,
    )
    steps = 0
    for _ in tqdm(
        range(EPOCHS), desc=f"DP-SGD, eps = {target_epsilon}", disable=is_fast()
    ):
        for (xb,) in loader:  # Poisson-sampled: the size varies
            xb = torch.bernoulli(xb.to(device))  # dynamic binarization, as in fit
            loss = module(
                xb, torch.randn(len(xb), model.latent_dim, device=device)
            ).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()  # clip, add noise, Adam step
            steps += 1
    module.remove_hooks()  # leave a plain VAE behind
    return model, optimizer.noise_multiplier, engine.get_epsilon(DELTA), steps


private = {}
for target in TARGETS:
    model, sigma, eps_opacus, steps = train_private(target)
    eps_ours = privacy.compute_epsilon(sigma, BATCH / N, steps, DELTA)
    private[target] = model
    print(
        f"target eps {target:4}: sigma = {sigma:.2f}, {steps} steps, "
        f"Opacus eps = {eps_opacus:.2f}, aigc_course.privacy eps = {eps_ours:.2f}"
    )
    # an upper bound, and close
    assert eps_opacus * 0.999 <= eps_ours <= 1.10 * eps_opacus

# %% [markdown]
# Opacus's accountant and the course's NumPy one ({mod}`aigc_course.privacy`,
# Rényi DP {cite}`mironov2017renyi` of the subsampled Gaussian mechanism
# {cite}`mironov2019sampled`) agree closely. Both bound the Rényi divergence of
# order $\alpha$ for a list of orders and keep the best; ours tries the integer
# orders $2, 3, \dots, 256$ only, so where the best order lies between 1 and 2 (large
# $\varepsilon$, little noise) Opacus, which also tries fractional orders, finds a
# slightly smaller $\varepsilon$. Ours is then a little larger, never smaller: still a
# valid guarantee. The whole accountant is short enough to read:

# %%
show_source(privacy, start="# --- rdp", end="# --- end rdp")

# %% [markdown]
# `privacy.noise_multiplier_for` inverts it by bisection, the way
# `make_private_with_epsilon` does:

# %%
for target in TARGETS:
    sigma = privacy.noise_multiplier_for(target, BATCH / N, steps, DELTA)
    print(f"eps {target}: sigma = {sigma:.3f}")

# %% [markdown]
# ### 3.3 The trade-off
#
# For each model: the held-out ELBO (quality, higher is better) and the success of the
# membership attack of section 2 (privacy, an AUC of 0.5 is perfect). The non-private
# VAE is the point at $\varepsilon = \infty$, drawn as a dashed line.

# %%
results = {}
for target, model in private.items():
    s_m, s_n, m = attack(model)
    results[target] = {"ELBO": s_n.mean(), **m}
baseline = {"ELBO": s_out.mean(), **mia}
print(f"{'eps':>8} {'held-out ELBO':>14} {'AUC':>6} {'advantage':>10}")
for target, r in [*results.items(), ("inf", baseline)]:
    print(f"{target:>8} {r['ELBO']:14.1f} {r['AUC']:6.3f} {r['advantage']:10.3f}")

# an attack that guesses at random still scatters: std of its AUC, formula vs simulation
null_std = np.sqrt((2 * N + 1) / (12 * N * N))
rng = np.random.default_rng(0)
simulated = np.std([security.roc_auc(rng.random(N), rng.random(N)) for _ in range(400)])
print(
    f"std of a random attack's AUC with {N} + {N} images: {null_std:.3f} "
    f"(simulated {simulated:.3f})"
)
assert abs(simulated - null_std) < 0.2 * null_std
print(
    "largest AUC of any attack: "
    + ", ".join(
        f"eps = {e}: {privacy.max_auc(e, DELTA):.3f}"
        for e in sorted({1.0, 8.0, *TARGETS})
    )
)

privacy.plot_tradeoff(results, baseline, DELTA)
plt.show()
assert results[TARGETS[0]]["ELBO"] < results[TARGETS[-1]]["ELBO"], (
    "more privacy, worse ELBO"
)
assert all(r["AUC"] <= privacy.max_auc(e, DELTA) for e, r in results.items())

fig, axes = plt.subplots(1, len(private) + 1, figsize=(3 * (len(private) + 1), 3.2))
for ax, (name, model) in zip(
    axes, [*[(f"ε = {e}", m) for e, m in private.items()], ("non-private", vae)]
):
    show_images(model.sample(16, seed=0), title=name, nrow=4, ax=ax)
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the table and the plots together. **Quality**: at the smallest $\varepsilon$
# the model has barely learned anything (look at its samples), and the held-out ELBO
# improves as $\varepsilon$ grows (asserted above). **Privacy**: the red curve is what
# differential privacy promises, the largest AUC that *any* membership test can reach
# at that $\varepsilon$. It follows from the hypothesis-testing view of DP
# {cite}`kairouz2015composition`: every test has
# $\mathrm{TPR} \le e^{\varepsilon}\,\mathrm{FPR} + \delta$ (and the mirror
# inequality), and `privacy.max_auc` integrates that bound. Its printed values show
# that $\varepsilon = 1$ still allows a clearly better-than-chance attack, and that
# $\varepsilon = 8$ promises practically nothing about a single attack's AUC. Our
# simple attack stays below the curve (asserted), and its AUCs, each measured on one
# split of $N + N$ images, scatter by about the printed standard deviation: differences
# of that size between the points are noise. The AUC measures one attack; $\varepsilon$
# bounds all of them, including those not invented yet.
#
# With a few hundred or thousand images there is little signal to share among the
# examples, and the noise $\sigma C$ is large next to the clipped sum, at most
# $qN \cdot C$. DP-SGD pays off on large data sets, where the same noise is spread over
# far more examples: Abadi et al. trained on 60,000 digits {cite}`abadi2016dpsgd`.
#
# ## 4. A real-versus-generated detector
#
# If we cannot stop generated images, can we at least spot them? We train a small
# convolutional classifier on **outsiders** (real, label 1) against samples of the
# non-private VAE (fake, label 0), and test it on images it has not seen.

# %%
def detector_net():
    # 28 -> 14
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        # 14 -> 7
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.ReLU(),
        # logit of "real"
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 1),
    )


def prob_real(net, imgs):
    with torch.no_grad():
        t = torch.as_tensor(np.asarray(imgs, np.float32)[:, None], device=device)
        return torch.sigmoid(net(t)).squeeze(1).cpu().numpy()


half = N_DETECT // 2
fakes = vae.sample(N_DETECT, seed=10)
real = outsiders / 255.0
x_train = np.concatenate([real[:half], fakes[:half]]).astype(np.float32)
y_train = np.concatenate([np.ones(half), np.zeros(half)]).astype(np.float32)

set_seed(0)
detector = detector_net().to(device)
opt = torch.optim.Adam(detector.parameters(), lr=1e-3)
data = TensorDataset(torch.as_tensor(x_train[:, None]), torch.as_tensor(y_train))
for _epoch in range(pick(full=5, fast=3)):
    for xb, yb in DataLoader(data, batch_size=64, shuffle=True):
        loss = nn.functional.binary_cross_entropy_with_logits(
            detector(xb.to(device)).squeeze(1), yb.to(device)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
detector.eval()

acc_real = np.mean(prob_real(detector, real[half:]) > 0.5)
acc_fake = np.mean(prob_real(detector, fakes[half:]) < 0.5)
print(
    f"held-out accuracy: real called real {acc_real:.1%}, VAE samples called fake {acc_fake:.1%}"
)

# %% [markdown]
# On its own test set the detector looks good (the printed accuracies): VAE samples are
# smooth and grey, real digits have sharp strokes. Now change the images a little, without changing
# what they are:
#
# * samples of a **different generator**: the DP-SGD VAE of section 3;
# * the same VAE samples, **sharpened** by thresholding at 0.5 (a one-line
#   post-processing any forger can apply);
# * **real** digits, **blurred** with a Gaussian filter (what a resized or compressed
#   photo looks like).

# %%
other = private[TARGETS[-1]].sample(half, seed=11)
sharpened = (fakes[half:] > 0.5).astype(np.float32)
blurred = ndimage.gaussian_filter(real[half:], sigma=(0, 1.5, 1.5))
tests = {
    "VAE samples\n(trained on)": (fakes[half:], 0),
    f"DP-VAE samples\n(ε = {TARGETS[-1]})": (other, 0),
    "VAE samples,\nsharpened": (sharpened, 0),
    "real digits": (real[half:], 1),
    "real digits,\nblurred": (blurred, 1),
}
accuracy = {
    name: float(np.mean((prob_real(detector, imgs) > 0.5) == label))
    for name, (imgs, label) in tests.items()
}
for name, acc in accuracy.items():
    print(f"{name.replace(chr(10), ' '):32s} accuracy {acc:.1%}")

fig, ax = plt.subplots(figsize=(9, 3.5))
ax.bar(list(accuracy), list(accuracy.values()), color=["C0", "C1", "C1", "C2", "C2"])
ax.axhline(0.5, ls=":", c="gray")
ax.set(title="Detector accuracy when the images change", ylabel="accuracy", ylim=(0, 1))
plt.tight_layout()
plt.show()
show_images(
    np.concatenate([sharpened[:8], blurred[:8]]),
    title="Sharpened fakes (top) and blurred real digits (bottom)",
    nrow=8,
);

# %% [markdown]
# The detector's own test set promised the accuracy printed first. The other bars show what
# that promise is worth once the images change while staying what they are (a sample
# is still generated, a digit is still real): every bar below the first is a failure
# the test set did not reveal, and each change is one line of code. The detector
# learned whatever separated its two training sets most easily, such as the smooth
# grey texture of these VAE samples, not what makes an image generated. Detectors of
# real GAN and diffusion images generalise better when trained on many generators with
# blur and compression augmentations {cite}`wang2020cnn`, but the arms race never
# ends: a detector is one more model to fool. That is why {doc}`security_concepts`
# turns to **watermarks** (水印), which the generator adds on purpose and a key detects.
#
# ## Exercises
#
# :::{exercise}
# :label: security-pytorch-ex-recon
# Replace the attack's score by the reconstruction error: $-\lVert x -
# \mathrm{reconstruct}(x)\rVert^2$ (use `vae.reconstruct`). Is its AUC on the
# non-private VAE higher or lower than the ELBO's?
# :::
#
# :::{solution} security-pytorch-ex-recon
# :class: dropdown
# `score = lambda imgs: -((vae.reconstruct(imgs) - imgs / 255.0) ** 2).sum(axis=(1, 2))`,
# then `security.roc_auc(score(members), score(nonmembers))`. The reconstruction is the
# part of the ELBO that overfits most (the KL term regularises), so its AUC is usually
# close to the ELBO's; the ELBO is the better-founded score because it is the model's
# own estimate of $\log p(x)$.
# :::
#
# :::{exercise}
# :label: security-pytorch-ex-budget
# Keep $\sigma$ fixed at the value printed for the largest target and double the
# number of epochs. Predict the new $\varepsilon$ with `privacy.compute_epsilon`,
# then check it with a training run. How does $\varepsilon$ grow with the number of
# steps?
# :::
#
# :::{solution} security-pytorch-ex-budget
# :class: dropdown
# `privacy.compute_epsilon(sigma, BATCH / N, 2 * steps, DELTA)`. RDP adds up over steps,
# so the RDP doubles; after the conversion to $(\varepsilon, \delta)$, $\varepsilon$
# grows roughly like the square root of the number of steps when $\varepsilon$ is
# small, and faster than that when it is large. Train with `make_private`
# (not `_with_epsilon`) and `noise_multiplier=sigma` to check with Opacus's
# `engine.get_epsilon(DELTA)`.
# :::
#
# :::{exercise}
# :label: security-pytorch-ex-augment
# Retrain the detector with half of its real training images blurred and half of its
# fakes sharpened (keep the labels). Which bars of the plot improve, and does it now
# detect a GAN's samples (train `MODELS["gan"]` for a few epochs)?
# :::
#
# :::{solution} security-pytorch-ex-augment
# :class: dropdown
# The augmented detector can no longer rely on sharpness alone, so the blurred-real and
# sharpened-fake bars rise, usually at a small cost on the clean test. A GAN's samples
# have other artefacts than a VAE's, and a detector trained on one generator often
# misses them: augmentations help, but only training on many generators (and still
# expecting failures on new ones) makes post-hoc detection somewhat robust.
# :::
