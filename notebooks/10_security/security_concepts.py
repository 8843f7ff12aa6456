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
# # Security, privacy, ethics and law: the concepts
#
# A model that generates convincing images, voices and text is useful for the same
# reason it is dangerous: its output is hard to tell from the real thing, and it was
# learned from data that belonged to somebody. This chapter looks at four questions,
# and answers the two technical ones with code:
#
# 1. **misuse**: what harm do generated media cause, in documented cases?
# 2. **privacy**: does a model leak its training data? We build a model that
#    memorises, attack it with **membership inference** (成员推断攻击), and see how
#    generalisation lowers the attack's success at some cost in quality;
# 3. **differential privacy** (差分隐私) in one page: the definition, the Gaussian
#    mechanism with its $(\varepsilon, \delta)$ checked numerically, and DP-SGD;
# 4. **detection and watermarking**: we hide a keyed, invisible **watermark**
#    (数字水印) in Fashion-MNIST images, detect it with a test whose false-positive
#    rate we can compute, and measure what removes it;
# 5. **copyright, law and jobs**: what the rules say (as of their dates), and what
#    the first studies measured.
#
# The notebook is framework-neutral: NumPy only, with `aigc_course.security` holding
# the tested functions. The labs ({doc}`security_pytorch`, {doc}`security_keras`)
# train a variational autoencoder with DP-SGD, attack it, and train a
# real-versus-generated detector.

# %%
# On Colab, install the course package (does nothing on your own machine).
import sys
if "google.colab" in sys.modules:
    # %pip install -q "aigc-course @ git+https://github.com/aigc-course/aigc-course"

# %%
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import numpy as np
from scipy import fft, optimize, stats

from aigc_course import is_fast, pick, set_seed, show_source
from aigc_course import security
from aigc_course.data import load_fashion_mnist, ring_of_gaussians
from aigc_course.metrics import psnr
from aigc_course.plotting import show_images

set_seed(0)
print(f"NumPy {np.__version__}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Malicious generation and misinformation
#
# The risks are not hypothetical; each of these is documented:
#
# * **Deepfakes** (深度伪造): face-swapped or fully synthetic video. The first
#   deepfakes that spread widely (2017) pasted the faces of real women into
#   pornographic videos without their consent; legal scholars
#   warned early about their use for fraud, extortion and political manipulation
#   {cite}`chesney2019deepfakes`. In May 2024 the engineering firm Arup confirmed
#   that, earlier that year, an employee in its Hong Kong office had transferred about
#   200 million Hong Kong dollars (some 25 million US dollars) after a video call in
#   which the "colleagues" were deepfakes.
# * **Voice clones** (语音克隆): a few seconds of someone's speech are enough for
#   current text-to-speech models to imitate them. In January 2024, robocalls with a
#   cloned voice of the US president told voters in New Hampshire not to vote in the
#   primary; the US Federal Communications Commission then ruled (February 2024) that
#   AI-generated voices in robocalls fall under its existing ban on "artificial"
#   voices.
# * **Synthetic text at scale**: language models make propaganda and spam cheap,
#   fluent and varied, which defeats filters that look for copy-pasted messages
#   {cite}`goldstein2023influence`.
#
# Technical counter-measures (watermarks, provenance, detectors; section 4) help but
# do not solve the problem: a determined attacker can use a model without a
# watermark. The rest is law, platform policy and media literacy (section 5).
#
# ## 2. Memorisation and training-data leakage
#
# A generative model is trained to put high probability on its training data. If it
# does so *too* well it **memorises** (记忆): it reproduces training examples and
# gives them a much higher likelihood than fresh data from the same distribution.
# Both are leaks. Language models have been made to output verbatim training text,
# including names and phone numbers {cite}`carlini2021extracting`, and diffusion
# models to output near-copies of training images
# {cite}`carlini2023extracting,somepalli2023diffusion`; duplicated training examples
# are memorised most {cite}`lee2022deduplicating`.
#
# To see it without a GPU we use the simplest generative model that can memorise, a
# **kernel density estimate** (核密度估计): put a small Gaussian of width $h$ (the
# bandwidth) on every training point $x_i$,
#
# $$
# p_h(x) = \frac1N \sum_{i=1}^N \mathcal N(x;\, x_i,\, h^2 I),
# $$
#
# and sample it by picking a training point and adding $\mathcal N(0, h^2 I)$ noise.
# A tiny $h$ is a lookup table of the training set; a large $h$ blurs everything.
# Our data: 2-D points on a ring of 8 Gaussians, a small training set, and fresh
# points from the same distribution.

# %%
n_train = 100
x_train, _ = ring_of_gaussians(n_train, std=0.3, seed=1)
x_out, _ = ring_of_gaussians(1000, std=0.3, seed=2)      # non-members: same distribution
x_val, _ = ring_of_gaussians(2000, std=0.3, seed=3)      # to measure quality


def kde_sample(train, h, n, seed=0):
    """Sample the KDE: a random training point plus N(0, h^2 I) noise."""
    rng = np.random.default_rng(seed)
    return train[rng.integers(0, len(train), n)] + h * rng.standard_normal((n, train.shape[1]))


# the density is a mixture, so it integrates to 1: check on a grid
g = np.linspace(-4, 4, 401)
xx, yy = np.meshgrid(g, g)
dens = np.exp(security.gaussian_kde_logpdf(np.c_[xx.ravel(), yy.ravel()], x_train, 0.1))
mass = dens.sum() * (g[1] - g[0]) ** 2
print(f"integral of p_h over the plane (h = 0.1, Riemann sum): {mass:.4f}")
assert abs(mass - 1) < 1e-2

# %% [markdown]
# **Copies.** We sample 1,000 points from a narrow KDE ($h = 0.02$) and a wide one
# ($h = 0.3$) and measure, for each sample, the distance to its nearest training
# point, `security.nearest_neighbour_distance`. Fresh data from the true distribution
# gives the reference: how close a *new* point typically falls to the training set.

# %%
d_ref, _ = security.nearest_neighbour_distance(x_out, x_train)
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, h in zip(axes[:2], (0.02, 0.3)):
    s = kde_sample(x_train, h, 1000)
    d, _ = security.nearest_neighbour_distance(s, x_train)
    frac = np.mean(d < np.quantile(d_ref, 0.05))
    ax.scatter(*s.T, s=3, alpha=0.4, label="samples")
    ax.scatter(*x_train.T, s=12, c="k", marker="x", label="training points")
    ax.set(title=f"KDE samples, h = {h}", xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    ax.legend(loc="upper right", fontsize=8)
    axes[2].hist(d, bins=np.geomspace(1e-4, 2, 40), alpha=0.5, density=True,
                 label=f"samples, h = {h}")
    print(f"h = {h}: median distance to the nearest training point {np.median(d):.3f}; "
          f"{frac:.0%} of samples are closer than 95% of fresh data")
axes[2].hist(d_ref, bins=np.geomspace(1e-4, 2, 40), histtype="step", color="k", lw=2,
             density=True, label="fresh data")
axes[2].set(xscale="log", title="distance to the nearest training point",
            xlabel="distance", ylabel="density")
axes[2].legend(fontsize=8)
plt.tight_layout()
plt.show()
print(f"fresh data: median distance {np.median(d_ref):.3f}")

# %% [markdown]
# The narrow model's samples sit on top of training points: almost all of them are
# closer to a training point than nearly any fresh point would be. That is how
# {cite}`carlini2023extracting` found memorised images of Stable Diffusion: generate
# many samples and look for those with a near-duplicate in the training set.
#
# **Membership inference.** The attacker now holds a candidate record $x$ and the
# model, and asks: *was $x$ in the training set?* The simplest attack
# {cite}`yeom2018privacy` thresholds the model's likelihood (equivalently, its loss):
# say "member" when $\log p_h(x) \ge t$. Sweeping $t$ traces a **ROC curve**
# (ROC 曲线), the true-positive rate (members found) against the false-positive rate
# (non-members wrongly accused). We report three numbers, computed by
# `aigc_course.security`:
#
# * the **AUC**, the probability that a random member scores higher than a random
#   non-member (0.5 = guessing);
# * the **membership advantage** (成员推断优势) $\max_t (\mathrm{TPR} - \mathrm{FPR})$
#   {cite}`yeom2018privacy`;
# * the **TPR at 1% FPR**: an attack that is sure about a few people is a privacy
#   breach even if its average is poor, so {cite}`carlini2022membership` recommend
#   reading the ROC curve on log axes at low FPR.

# %%
show_source(security, start="# ----- membership inference: evaluation", end="# --- end membership")

# %%
def attack(train, h, outsiders=x_out):
    """Scores of the likelihood-threshold attack on members and non-members."""
    return (security.gaussian_kde_logpdf(train, train, h),
            security.gaussian_kde_logpdf(outsiders, train, h))


fig, ax = plt.subplots(figsize=(5, 4.5))
for h in (0.02, 0.1, 0.3, 1.0):
    s_in, s_out = attack(x_train, h)
    fpr, tpr, _ = security.roc_curve(s_in, s_out)
    print(f"h = {h:4}: AUC {security.roc_auc(s_in, s_out):.3f}, "
          f"advantage {security.advantage(s_in, s_out):.3f}, "
          f"TPR at 1% FPR {security.tpr_at_fpr(s_in, s_out, fpr=0.01):.3f}")
    ax.plot(np.maximum(fpr, 1e-3), np.maximum(tpr, 1e-3), label=f"h = {h}")
ax.plot([1e-3, 1], [1e-3, 1], "k:", label="guessing")
ax.set(xscale="log", yscale="log", xlabel="false-positive rate", ylabel="true-positive rate",
       title="likelihood-threshold attack on a KDE")
ax.legend()
plt.show()

# %% [markdown]
# **The trade-off.** Which bandwidth would a modeller choose? The one with the best
# held-out log-likelihood, the usual measure of quality for a density model. Below we
# sweep $h$ for two training-set sizes and plot quality (held-out log-likelihood)
# next to the attack's advantage.

# %%
hs = np.geomspace(0.01, 1.5, pick(full=25, fast=12))
rows, floors = {}, {}
rng_floor = np.random.default_rng(0)
for n in (100, 1000):
    tr, _ = ring_of_gaussians(n, std=0.3, seed=1)
    quality = [security.gaussian_kde_logpdf(x_val, tr, h).mean() for h in hs]
    adv = [security.advantage(*attack(tr, h)) for h in hs]
    rows[n] = (np.array(quality), np.array(adv))
    best = int(np.argmax(quality))
    # noise floor: the advantage of a score that carries no information, same sample sizes
    floor = np.mean([security.advantage(rng_floor.random(n), rng_floor.random(len(x_out)))
                     for _ in range(20)])
    floors[n] = floor
    print(f"N = {n:4}: best held-out log-likelihood {quality[best]:.3f} at h = {hs[best]:.3f}; "
          f"attack advantage there {adv[best]:.3f} (noise floor of a useless attack {floor:.3f})")

fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for n, (quality, adv) in rows.items():
    best = int(np.argmax(quality))
    line, = axes[0].plot(hs, quality, "o-", ms=3, label=f"N = {n}")
    axes[1].plot(hs, adv, "o-", ms=3, label=f"N = {n}")
    wide = slice(best, None)                      # from the best bandwidth upwards
    axes[2].plot(adv[wide], quality[wide], "o-", ms=3, label=f"N = {n}, h >= {hs[best]:.2f}")
    axes[2].plot(adv[best], quality[best], "*", ms=14, color=line.get_color())
    for ax in axes[:2]:
        ax.axvline(hs[best], color=line.get_color(), ls=":", lw=1)
axes[0].set(xscale="log", xlabel="bandwidth h", ylabel="mean log-likelihood, held-out data",
            title="quality (dotted: best h)", ylim=(-6, -2))
axes[1].set(xscale="log", xlabel="bandwidth h", ylabel="max(TPR - FPR)",
            title="membership-inference advantage")
axes[2].set(xlabel="attack advantage (privacy risk)", ylabel="held-out log-likelihood (quality)",
            title="the trade-off (star: best quality)")
for ax in axes:
    ax.legend()
plt.tight_layout()
plt.show()

# the claims of the text, as checks
assert rows[100][1][0] > 0.9 and rows[100][1][-1] < 0.2      # narrow leaks, wide does not
assert np.all(rows[1000][1] <= rows[100][1] + 0.05)             # more data: less leakage
assert rows[100][1][np.argmax(rows[100][0])] > 2 * floors[100]  # the best model still leaks
assert rows[1000][0].max() > rows[100][0].max()                 # more data: better quality
assert hs[np.argmax(rows[1000][0])] <= hs[np.argmax(rows[100][0])]   # ... at a smaller h

# %% [markdown]
# Three lessons, all visible in the printed numbers:
#
# * a model that **overfits** (small $h$) leaks almost perfectly: its advantage is close
#   to 1. Membership inference and overfitting are two views of the same gap between
#   training and test behaviour {cite}`yeom2018privacy`;
# * **generalising** (larger $h$) lowers the advantage; past the best bandwidth it keeps
#   falling while quality drops too: privacy is bought with quality;
# * **more data** helps both: with 10 times more training points, the best
#   bandwidth is smaller, the best quality higher, and each point's influence on the
#   model, hence its leak, smaller. But with $N = 100$ even the model with the best
#   held-out likelihood gives the attack an advantage well above the noise floor (what
#   a coin-flip score reaches by chance with these sample sizes): good generalisation is
#   not a privacy guarantee.
#
# A guarantee needs a definition that holds for *every* attacker, not just this one.
#
# ## 3. Differential privacy in one page
#
# A randomised training algorithm $M$ is **$(\varepsilon, \delta)$-differentially
# private** {cite}`dwork2006calibrating,dwork2014algorithmic` if for every pair of
# datasets $D, D'$ that differ in one record and every set $S$ of outputs
#
# $$
# P[M(D) \in S] \;\le\; e^{\varepsilon}\, P[M(D') \in S] + \delta .
# $$
#
# Whatever the attacker does with the output, including a membership-inference test
# with a threshold, its true-positive rate is at most $e^\varepsilon$ times its
# false-positive rate plus $\delta$. Small $\varepsilon$ (around 1) is strong, $\delta$
# must be much smaller than $1/N$.
#
# **The Gaussian mechanism** (高斯机制). To release the mean $f(D)$ of $N$ numbers in $[0, 1]$,
# add noise: $M(D) = f(D) + \mathcal N(0, \sigma^2)$. Changing one record moves the
# mean by at most the **sensitivity** (敏感度) $\Delta = 1/N$. For an output $o$, the
# **privacy loss** (隐私损失) $L(o) = \log \frac{p_{M(D)}(o)}{p_{M(D')}(o)}$ is, for $o \sim M(D)$
# with the worst-case neighbour ($|f(D) - f(D')| = \Delta$), normally distributed,
#
# $$
# L \sim \mathcal N(\mu, 2\mu), \qquad \mu = \frac{\Delta^2}{2\sigma^2},
# $$
#
# and the smallest $\delta$ that makes the mechanism $(\varepsilon, \delta)$-DP is
# $\delta(\varepsilon) = \mathbb E\big[\max(0, 1 - e^{\varepsilon - L})\big]$, which
# for Gaussians has the closed form {cite}`balle2018improving`
#
# $$
# \delta(\varepsilon) = \Phi\!\Big(\frac{\Delta}{2\sigma} - \frac{\varepsilon\sigma}{\Delta}\Big)
#   - e^{\varepsilon}\,\Phi\!\Big(-\frac{\Delta}{2\sigma} - \frac{\varepsilon\sigma}{\Delta}\Big).
# $$
#
# The textbook calibration {cite}`dwork2014algorithmic` is
# $\sigma = \Delta\sqrt{2\ln(1.25/\delta)}/\varepsilon$ (for $\varepsilon < 1$). We check
# all three statements by simulation.

# %%
N, Delta = 100, 1 / 100
eps_target, delta_target = 0.9, 1e-5
sigma = Delta * math.sqrt(2 * math.log(1.25 / delta_target)) / eps_target
mu = Delta ** 2 / (2 * sigma ** 2)


def delta_of_eps(eps, sigma, Delta):
    """Exact delta(eps) of the Gaussian mechanism (Balle & Wang, 2018)."""
    a, b = Delta / (2 * sigma), eps * sigma / Delta
    return stats.norm.cdf(a - b) - np.exp(eps) * stats.norm.cdf(-a - b)


rng = np.random.default_rng(0)
f_D, f_D1 = 0.5, 0.5 - Delta                          # neighbouring datasets' means
o = f_D + sigma * rng.standard_normal(pick(full=4_000_000, fast=1_000_000))
L = stats.norm.logpdf(o, f_D, sigma) - stats.norm.logpdf(o, f_D1, sigma)
print(f"sigma = {sigma:.4f}; privacy loss: mean {L.mean():.4f} (formula {mu:.4f}), "
      f"variance {L.var():.4f} (formula {2 * mu:.4f})")
assert abs(L.mean() - mu) < 0.01 and abs(L.var() / (2 * mu) - 1) < 0.02

eps_grid = np.linspace(0.0, 0.6, 7)
mc = np.array([np.mean(np.maximum(0, 1 - np.exp(e - L))) for e in eps_grid])
exact = delta_of_eps(eps_grid, sigma, Delta)
for e, m, x in zip(eps_grid, mc, exact):
    print(f"eps = {e:.1f}: delta Monte Carlo {m:.5f}, formula {x:.5f}")
assert np.allclose(mc, exact, atol=3e-3)
actual = delta_of_eps(eps_target, sigma, Delta)
print(f"textbook sigma for (eps, delta) = ({eps_target}, {delta_target:g}): exact delta at "
      f"eps = {eps_target} is {actual:.2e} <= {delta_target:g}: the textbook bound is conservative")
assert actual <= delta_target
# the smallest sigma that works: solve delta(eps_target; sigma) = delta_target
sig_exact = optimize.brentq(lambda s: delta_of_eps(eps_target, s, Delta) - delta_target,
                            0.1 * sigma, sigma)
print(f"the exact calibration needs sigma of about {sig_exact:.4f}, "
      f"{sig_exact / sigma:.0%} of the textbook value")

# %% [markdown]
# **What the attacker sees.** The output $o$ is all the attacker gets. The best test
# of "$D$ or $D'$?" thresholds $o$ (Neyman–Pearson); its ROC curve must lie below the
# line $\mathrm{TPR} = e^\varepsilon\, \mathrm{FPR} + \delta$. We compute it with the same
# `roc_curve` as the membership attack above.

# %%
m = pick(full=400_000, fast=100_000)
o_in = f_D + sigma * rng.standard_normal(m)                 # the record is in (D)
o_out = f_D1 + sigma * rng.standard_normal(m)               # it is not (D')
fpr, tpr, _ = security.roc_curve(o_in, o_out)
k = np.linspace(0, len(fpr) - 1, 2000).astype(int)
bound = np.minimum(1, np.exp(eps_target) * fpr + delta_target)
slack = 4 / math.sqrt(m)                                    # Monte Carlo error
print(f"best attack: AUC {security.roc_auc(o_in, o_out):.3f}, "
      f"advantage {security.advantage(o_in, o_out):.3f}; "
      f"largest excess over the DP bound {np.max(tpr - bound):.4f} (sampling error ~{slack:.4f})")
assert np.all(tpr <= bound + slack)
fig, ax = plt.subplots(figsize=(4.8, 4.5))
ax.plot(fpr[k], tpr[k], label="best attack on the Gaussian mechanism")
ax.plot(fpr[k], bound[k], "k--", label=r"DP bound $e^\varepsilon$ FPR + $\delta$")
ax.plot([0, 1], [0, 1], "k:", label="guessing")
ax.set(xlabel="false-positive rate", ylabel="true-positive rate",
       title=f"(ε = {eps_target}, δ = {delta_target:g})-DP caps every attack")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **DP-SGD.** Training a network is a long sequence of noisy queries, the gradients.
# DP-SGD {cite}`abadi2016dpsgd` makes each step a Gaussian mechanism:
#
# 1. compute each example's gradient $g_i$ and **clip** it to norm at most $C$:
#    $\bar g_i = g_i \min(1, C / \lVert g_i \rVert)$, so that adding or removing one
#    example changes the summed gradient by at most $C$ (the sensitivity);
# 2. add noise: $\tilde g = \frac1B\big(\sum_i \bar g_i + \mathcal N(0, \sigma^2 C^2 I)\big)$;
# 3. take the step, and let a **privacy accountant** (隐私核算) add up the privacy loss of all
#    steps (with the bonus from sampling each batch at random).
#
# The clipping bound is what makes the noise scale meaningful; we check it:

# %%
def clipped_sum(grads, C):
    norms = np.linalg.norm(grads, axis=1, keepdims=True)
    return np.sum(grads * np.minimum(1.0, C / np.maximum(norms, 1e-12)), axis=0)


C = 1.0
g = rng.standard_normal((64, 50)) * rng.exponential(3.0, (64, 1))   # some huge gradients
changes = [np.linalg.norm(clipped_sum(g, C) - clipped_sum(np.delete(g, i, 0), C)) for i in range(64)]
print(f"largest change of the clipped sum when one example is removed: {max(changes):.4f} "
      f"(bound C = {C}); without clipping: "
      f"{max(np.linalg.norm(g, axis=1)):.2f}")
assert max(changes) <= C + 1e-9

# %% [markdown]
# The price is noise in every step, hence worse models at small $\varepsilon$. The
# labs ({doc}`security_pytorch`, {doc}`security_keras`) train a VAE with DP-SGD
# ([Opacus](https://opacus.ai) in PyTorch), compare its quality and privacy with a
# model trained without it, and attack both with membership inference.
#
# ## 4. Detection and watermarking
#
# Can we tell whether an image was generated? Two families of answers:
#
# * **post-hoc detectors** (事后检测器) are classifiers trained on real versus generated
#   images. One trained on a single GAN, with blur and compression as data
#   augmentation, generalised surprisingly well to other convolutional generators of
#   its time {cite}`wang2020cnn`; but detectors are brittle: a new family of
#   generators, resizing or compression, or a small adversarial perturbation can
#   change their answer, and the base rate (most images are real) makes false alarms
#   costly. The labs train one;
# * **watermarks** are hidden on purpose by the generator's provider, with a secret
#   key, so that the provider (or anyone with the key) can later test for them.
#
# We implement the classic **spread-spectrum watermark** (扩频水印) {cite}`cox1997secure`. The
# key seeds a pseudo-random pattern $p_k \in \{-1, +1\}$ on $n$ coefficients of the
# image's 2-D discrete cosine transform (DCT, 离散余弦变换), here the high frequencies
# $20 \le u + v < 56$ of a $28 \times 28$ image. Embedding adds $a\, p_k$ to those
# coefficients (strength $a$). Detection correlates the coefficients $c_k$ of a test
# image with the pattern:
#
# $$
# z = \frac{\sum_k c_k\, p_k}{\sqrt{\sum_k c_k^2}} .
# $$
#
# Without the mark the signs $p_k$ are independent of the image, so over the random
# key $z$ has mean 0 and variance exactly 1, and it is nearly normal: a threshold $\tau$
# has false-positive rate close to $1 - \Phi(\tau)$, whatever the image. (A rigorous
# bound also holds: $z$ is a weighted sum of random signs, so Hoeffding's inequality
# gives $P(z > \tau) \le e^{-\tau^2/2}$.) With the mark the numerator gains $a\,n$.

# %%
show_source(security, start="# --- watermark (shown", end="# --- end watermark")

# %%
x_fm, _ = load_fashion_mnist("test")
x_img = x_fm[: pick(full=5000, fast=1000)].astype(np.float64) / 255.0
key, wrong_key = 2026, 7
marked = security.embed_watermark(x_img, key)            # default strength a = 0.04
n_band = int(security.watermark_band((28, 28)).sum())
rms = np.sqrt(np.mean((marked - x_img) ** 2))
print(f"{n_band} marked DCT coefficients; RMS pixel change {rms:.4f} "
      f"(formula a sqrt(n / 784) = {0.04 * math.sqrt(n_band / 784):.4f} before "
      f"clipping to [0, 1]); PSNR {np.median(psnr(marked, x_img)):.1f} dB")
fig, axes = plt.subplots(1, 3, figsize=(12, 4.3))
show_images(x_img[:8], "original", nrow=4, ax=axes[0])
show_images(marked[:8], "watermarked", nrow=4, ax=axes[1])
show_images(np.clip(0.5 + 5 * (marked[:8] - x_img[:8]), 0, 1), "difference x 5", nrow=4,
            ax=axes[2])
plt.tight_layout()
plt.show()

# %% [markdown]
# The mark is hard to see: at most a faint speckle on the black background, and a
# fine texture once the difference is magnified.
# Now the test: marked images, unmarked images, and marked images tested with the
# wrong key. We fix the threshold for a false-positive rate of 0.1%:
# $\tau = \Phi^{-1}(0.999)$.

# %%
tau = stats.norm.ppf(1 - 1e-3)
z_marked = security.detect_watermark(marked, key)
z_clean = security.detect_watermark(x_img, key)
z_wrong = security.detect_watermark(marked, wrong_key)
print(f"threshold tau = {tau:.2f}")
print(f"marked, right key:   detected {np.mean(z_marked > tau):.1%}, median z {np.median(z_marked):.1f}")
print(f"unmarked:            false positives {np.mean(z_clean > tau):.2%} "
      f"(mean z {z_clean.mean():.2f}, sd {z_clean.std():.2f})")
print(f"marked, wrong key:   false positives {np.mean(z_wrong > tau):.2%}")
print(f"AUC marked vs unmarked: {security.roc_auc(z_marked, z_clean):.4f}")

# the mark adds a n to the numerator: z is about a n / sqrt(sum c^2 + a^2 n) (before clipping)
c_band = fft.dctn(x_img, axes=(1, 2), norm="ortho")[:, security.watermark_band((28, 28))]
z_pred = 0.04 * n_band / np.sqrt(np.sum(c_band ** 2, axis=1) + 0.04 ** 2 * n_band)
z_noclip = security.detect_watermark(security.embed_watermark(x_img, key, clip=False), key)
print(f"without clipping: median z {np.median(z_noclip):.2f}, formula {np.median(z_pred):.2f}; "
      f"clipping lowers it to {np.median(z_marked):.2f}")
assert abs(np.median(z_noclip) / np.median(z_pred) - 1) < 0.05

# the null distribution, for one image and 3,000 keys
z_keys = np.array([security.detect_watermark(x_img[0], k) for k in range(3000)])
fp1 = np.mean(z_keys > stats.norm.ppf(0.99))
tau1 = stats.norm.ppf(0.99)
print(f"one unmarked image, 3000 keys: mean z {z_keys.mean():.3f}, variance {z_keys.var():.3f}, "
      f"P(z > {tau1:.2f}) = {fp1:.4f} (normal theory 0.0100, Hoeffding bound "
      f"{math.exp(-tau1 ** 2 / 2):.4f})")
print(f"at the same threshold: {np.mean(z_clean > tau1):.2%} of unmarked images, "
      f"{np.mean(z_wrong > tau1):.2%} of marked images with the wrong key")
# a fixed pair of keys: their patterns share sum(p p') = overlap, which shifts every z a little
p1, p2 = security.watermark_pattern((28, 28), key), security.watermark_pattern((28, 28), wrong_key)
overlap = int(np.sum(p1 * p2))
shift = np.median(0.04 * overlap / np.sqrt(np.sum(c_band ** 2, axis=1) + 0.04 ** 2 * n_band))
print(f"the two patterns agree on {(n_band + overlap) // 2} of {n_band} signs (sum p p' = {overlap}); "
      f"predicted shift of z {shift:+.2f}, measured mean z with the wrong key "
      f"{z_wrong.mean() - z_clean.mean():+.2f} relative to unmarked images")
assert abs(z_keys.var() - 1) < 0.1 and fp1 <= math.exp(-tau1 ** 2 / 2)
assert np.mean(z_clean > tau1) < 0.03 and np.mean(z_wrong > tau1) < 0.03

fig, ax = plt.subplots(figsize=(7, 3.8))
bins = np.linspace(-5, max(12, z_marked.max()), 70)
for z, lab in [(z_clean, "unmarked"), (z_wrong, "marked, wrong key"), (z_marked, "marked, right key")]:
    ax.hist(z, bins=bins, density=True, alpha=0.5, label=lab)
ax.plot(bins, stats.norm.pdf(bins), "k", label="N(0, 1)")
ax.axvline(tau, color="r", ls="--", label=r"threshold $\tau$")
ax.set(xlabel="detection statistic z", ylabel="density", title="watermark detection")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The right key separates marked from unmarked images almost perfectly, and the
# unmarked images follow the normal curve. A wrong key detects nothing, up to a small
# shift: two fixed patterns are not exactly orthogonal, so the wrong key sees a small
# fraction of the mark, as predicted above; averaged over random keys the shift is
# zero.
#
# **Robustness.** A watermark is only useful if ordinary edits keep it and
# deliberate ones cost the attacker image quality. The statistic ignores the DC
# coefficient and is unchanged when the image is multiplied by a constant, so
# brightness and contrast only matter through clipping at 0 and 1. Noise adds to every
# coefficient and dilutes the correlation. Shifting or cropping, however, moves the
# image against the DCT grid.

# %%
def detection_rate(images):
    return float(np.mean(security.detect_watermark(images, key) > tau))


noise_rng = np.random.default_rng(1)
noise = [0.0, 0.02, 0.05, 0.1, 0.2]
bright = [0.0, 0.1, 0.2, 0.4]
crops = [0, 1, 2, 3]
noisy = [np.clip(marked + s * noise_rng.standard_normal(marked.shape), 0, 1) for s in noise]
r_noise = [detection_rate(x) for x in noisy]
print("PSNR of the noisy images against the marked ones: "
      + ", ".join(f"sd {s}: {np.median(psnr(x, marked)):.1f} dB" for s, x in zip(noise[1:], noisy[1:])))
r_bright = [detection_rate(np.clip(marked + b, 0, 1)) for b in bright]
r_contrast = [detection_rate(np.clip(c * marked, 0, 1)) for c in (1.0, 0.8, 0.5)]


def crop(images, k):
    """Cut k rows and columns off the top-left and pad the bottom-right with black."""
    return np.pad(images[:, k:, k:], ((0, 0), (0, k), (0, k)))


r_crop = [detection_rate(crop(marked, k)) for k in crops]
for name, xs, rs in [("noise sd", noise, r_noise), ("brightness +", bright, r_bright),
                     ("contrast x", (1.0, 0.8, 0.5), r_contrast), ("crop px", crops, r_crop)]:
    print(f"{name:13}" + "  ".join(f"{x:>5}: {r:6.1%}" for x, r in zip(xs, rs)))
assert r_contrast[1] == r_contrast[0] and r_crop[1] < 0.05
# noise that damages the image more than the mark did still leaves most marks detectable
assert r_noise[2] > 0.9 and np.median(psnr(noisy[2], marked)) < np.median(psnr(marked, x_img))

fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
for ax, xs, rs, lab in [(axes[0], noise, r_noise, "Gaussian noise sd"),
                        (axes[1], bright, r_bright, "brightness added"),
                        (axes[2], crops, r_crop, "pixels cropped")]:
    ax.plot(xs, rs, "o-")
    ax.set(xlabel=lab, ylabel="detected at FPR 0.1%", ylim=(-0.05, 1.05))
axes[0].set_title("noise")
axes[1].set_title("brightness (clipped to [0, 1])")
axes[2].set_title("cropping")
plt.tight_layout()
plt.show()

# %% [markdown]
# Most of the mark survives noise far stronger than the mark itself: the noisy images'
# PSNR, printed above, falls well below the watermark's own PSNR before detection
# drops substantially. Brightness matters only once pixels saturate. But a crop of
# **one pixel** removes the mark: the
# classic weakness of watermarks tied to a coordinate grid.
#
# **Pitfall and fix: re-synchronise, then correct the threshold.** The detector can
# search over shifts: undo each candidate shift $(d_y, d_x)$ and keep the largest $z$.
# But the maximum of $m$ tests is larger than one test: with the same $\tau$ the
# false-positive rate grows to about $m$ times 0.1%. The Bonferroni correction uses
# $\tau_m = \Phi^{-1}(1 - 10^{-3}/m)$.

# %%
shifts = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)]
tau_m = stats.norm.ppf(1 - 1e-3 / len(shifts))


def z_max(images):
    return np.max([security.detect_watermark(np.roll(images, (dy, dx), axis=(1, 2)), key)
                   for dy, dx in shifts], axis=0)


zc, zu = z_max(crop(marked, 2)), z_max(x_img)
print(f"{len(shifts)} shifts; tau = {tau:.2f}, corrected tau_m = {tau_m:.2f}")
print(f"cropped by 2 px, search over shifts: detected {np.mean(zc > tau_m):.1%}")
print(f"unmarked, search over shifts: false positives {np.mean(zu > tau):.2%} with tau "
      f"(the symptom), {np.mean(zu > tau_m):.2%} with tau_m (the fix)")

# %% [markdown]
# Real systems go further. **Learned watermarks** hide the key in the generation
# process instead of adding it afterwards: Tree-Ring watermarks write a key pattern
# into the Fourier transform of a diffusion model's initial noise and detect it by
# inverting the sampler {cite}`wen2023treering`; for text, a keyed "green list" of
# tokens is favoured at each sampling step and detected with a z-test like ours
# {cite}`kirchenbauer2023watermark`, and Google DeepMind's SynthID-Text, deployed
# in Gemini, uses a related keyed sampling scheme {cite}`dathathri2024synthid`. All
# of them trade invisibility against robustness, like the strength $a$ here, and none
# survives an attacker who regenerates or heavily edits the content.
#
# **Provenance** (内容溯源) takes the opposite route: instead of marking fakes, sign what is
# real. The [C2PA](https://c2pa.org) standard ("Content Credentials") attaches a
# cryptographically signed manifest to a file saying which camera or program made it
# and how it was edited. A valid signature is strong evidence; but metadata is easily
# stripped, so a *missing* credential proves nothing.
#
# ## 5. Copyright, law and work
#
# *This section summarises public documents as of 2025; it is not legal advice, and
# the rules change quickly.*
#
# **Training on copyrighted data.** Generative models are trained on text and images
# whose authors were mostly not asked. Whether that is lawful depends on the
# jurisdiction: the EU allows text and data mining of lawfully accessible works unless
# the rights holder has reserved the right (opted out; for works online, by
# machine-readable means) (Directive (EU) 2019/790, Article 4); in the US the question is being litigated as
# "fair use", for example in *The New York Times v. Microsoft and OpenAI* (filed
# December 2023) and *Getty Images v. Stability AI* (2023). Memorisation (section 2)
# matters here: a model that can output a training image near-verbatim is harder to
# defend than one that learned only a style.
#
# **Who owns the output?** The US Copyright Office registers only works of human
# authorship: for the comic *Zarya of the Dawn* (2023) it protected the text and the
# arrangement but not the Midjourney images, and in *Thaler v. Perlmutter* (2025) a
# US appeals court confirmed that a work made by a machine alone cannot be registered.
# In China the Beijing Internet Court held in November 2023 (*Li v. Liu*) that an image
# made with Stable Diffusion was protected, because the user's choice and revision
# of prompts and parameters was an intellectual contribution.
#
# **Transparency duties.** Several jurisdictions now require generated content to be
# labelled, which is where the watermarks of section 4 come in:
#
# * **EU AI Act** (Regulation (EU) 2024/1689, in force since 1 August 2024):
#   Article 50 requires providers of systems that generate synthetic audio, images,
#   video or text to mark the outputs in a machine-readable format so that they can be
#   detected as artificially generated, and deployers of deepfakes to disclose them;
#   these duties apply from 2 August 2026. Providers of general-purpose AI models must,
#   from 2 August 2025, have a policy to comply with EU copyright law and publish a
#   summary of the content used for training.
# * **China**: the *Interim Measures for the Management of Generative Artificial
#   Intelligence Services* (生成式人工智能服务管理暂行办法), in force since 15 August
#   2023, require providers to use training data from lawful sources without
#   infringing intellectual property, and to label generated content. The *Measures
#   for Labelling AI-Generated and Synthetic Content* (人工智能生成合成内容标识办法),
#   issued in March 2025 and in force since 1 September 2025, specify explicit labels
#   that people can see or hear and implicit labels (such as metadata) in the file,
#   together with a mandatory national standard (GB 45438-2025).
#
# **Work.** Generative models change *tasks* before they change jobs. One early
# estimate found that about 80% of US workers have at least 10% of their tasks exposed
# to large language models, and about 19% at least half, with higher exposure for
# higher-paid occupations {cite}`eloundou2023gpts`; exposure means that
# the task could be done faster, not that the job disappears. A field study of 5,172
# customer-support agents found that an AI assistant raised the number of issues
# resolved per hour by 15% on average; less experienced and lower-skilled agents
# gained in both speed and quality, while the most experienced gained a little speed
# and lost a little quality {cite}`brynjolfsson2025generative`. Who gains
# (new workers, firms, consumers) and who loses (those whose output the model
# replaces, those whose work trained it) is an open question of policy, not only of
# technology.
#
# ## Exercises
#
# :::{exercise}
# :label: security-concepts-ex-advantage
# An $(\varepsilon, \delta)$-DP mechanism satisfies $\mathrm{TPR} \le e^\varepsilon
# \mathrm{FPR} + \delta$ and, with the roles of $D$ and $D'$ swapped,
# $1 - \mathrm{FPR} \le e^\varepsilon (1 - \mathrm{TPR}) + \delta$. What is the largest
# membership advantage $\mathrm{TPR} - \mathrm{FPR}$ these allow? Evaluate it for
# $\varepsilon = 0.9$, $\delta = 10^{-5}$ and compare with the advantage printed for the
# best attack on the Gaussian mechanism in section 3.
# :::
#
# :::{solution} security-concepts-ex-advantage
# :class: dropdown
# Write $T$ = TPR, $F$ = FPR. The maximum sits where both lines meet. From the second,
# $T \le 1 - (1 - F - \delta) e^{-\varepsilon}$. At the intersection with
# $T = e^\varepsilon F + \delta$ we get $F = (1 - \delta)/(e^\varepsilon + 1)$ and
# $$
# \max (T - F) = \frac{e^\varepsilon - 1 + 2\delta}{e^\varepsilon + 1}.
# $$
# For $\varepsilon = 0.9$, $\delta = 10^{-5}$ this is about 0.422. The best attack on the
# Gaussian mechanism has a much smaller advantage (printed in section 3), because the
# textbook $\sigma$ is conservative and because the Gaussian's ROC curve does not
# follow the two straight lines of the bound. Check the formula with
# `np.max(np.minimum(np.exp(eps) * F + delta, 1 - (1 - F - delta) * np.exp(-eps)) - F)`
# on a grid of `F`.
# :::
#
# :::{exercise}
# :label: security-concepts-ex-strength
# Use the formula $z \approx a\,n / \sqrt{\sum_k c_k^2 + a^2 n}$ to predict the median
# $z$ of the marked images for strengths $a \in \{0.02, 0.04, 0.08\}$ (compute
# $\sum_k c_k^2$ from the DCT band of the *unmarked* images with `scipy.fft.dctn(...,
# norm="ortho")` and `security.watermark_band`). Compare with `detect_watermark` on
# `embed_watermark(x_img, key, strength=a, clip=False)` and with `clip=True`, and
# report the PSNR of each. What does clipping cost, and why?
# :::
#
# :::{solution} security-concepts-ex-strength
# :class: dropdown
# In the course's run (1,000 test images) the predicted medians for $a = 0.02, 0.04,
# 0.08$ were 4.7, 8.9 and 15.0, and `detect_watermark` without clipping measured the
# same to two digits: the only term the formula drops, $\sum_k c_k p_k$, has mean 0.
# Doubling $a$ less than doubles $z$ once $a^2 n$ becomes comparable to the image's
# energy in the band, and costs $20 \log_{10} 2 \approx 6$ dB of PSNR (36.6, 30.7 and
# 24.8 dB). With clipping the medians were 3.4, 6.6 and 11.9, about a quarter lower:
# Fashion-MNIST has a black background, where every negative part of the pattern is
# cut off at 0, so half of the mark is lost there. (Watermarks for photographs adapt
# the strength to the local content for the same reason.)
# :::
#
# :::{exercise}
# :label: security-concepts-ex-nn
# The likelihood attack of section 2 needs the model's density. Many generators only
# let you *sample*. Write a black-box attack: draw 10,000 samples with `kde_sample`,
# and score each candidate by minus its distance to the nearest sample,
# `-security.nearest_neighbour_distance(candidates, samples)[0]`. Compare its AUC and
# advantage with the likelihood attack for $h = 0.02$ and $h = 0.3$.
# :::
#
# :::{solution} security-concepts-ex-nn
# :class: dropdown
# ```python
# for h in (0.02, 0.3):
#     s = kde_sample(x_train, h, 10_000)
#     a = -security.nearest_neighbour_distance(x_train, s)[0]
#     b = -security.nearest_neighbour_distance(x_out, s)[0]
#     print(h, security.roc_auc(a, b), security.advantage(a, b))
# ```
# In the course's run the sample-based attack reached an AUC of about 0.97 at
# $h = 0.02$ (likelihood attack: 1.00) and about 0.54 at $h = 0.3$ (likelihood: 0.64).
# With less access it is weaker, but against a model that memorises it is almost as
# good: the samples pile up on the members. This is the setting of the attacks on
# diffusion models {cite}`carlini2023extracting`, which needed only generated images.
# :::
