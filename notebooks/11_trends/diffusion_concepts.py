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
# # Diffusion models: the concepts
#
# A **diffusion model** (扩散模型) {cite}`sohldickstein2015diffusion,ho2020ddpm` generates
# data by learning to undo noise. A fixed **forward process** (前向过程) destroys a
# training example in many small steps, adding a little Gaussian noise each time,
# until nothing but noise is left. A neural network learns the **reverse process**
# (逆向过程): given a noisy example, remove a little of the noise. To generate, start
# from pure noise and apply the network a few hundred times.
#
# Since 2021, when they overtook GANs on the standard image benchmarks
# {cite}`dhariwal2021beat`, diffusion models have become the method of choice for
# image generation, and they are widely used for audio and video. This notebook builds the denoising diffusion probabilistic model (DDPM)
# from its mathematics, with NumPy only, and checks every formula numerically. You will
#
# 1. run the forward process and check its closed form $q(x_t \mid x_0)$ by Monte Carlo;
# 2. compare the linear and cosine noise schedules;
# 3. derive the posterior $q(x_{t-1} \mid x_t, x_0)$ and check it;
# 4. go from the evidence lower bound to the simple "predict the noise" loss;
# 5. see that predicting the noise is estimating the **score** $\nabla \log q_t$;
# 6. *sample without training*: for a Gaussian-mixture data set the optimal noise
#    predictor has a closed form, so we can watch the exact reverse process turn
#    noise into data, and ask what a *perfect* model of a finite training set does;
# 7. trade sampling steps for quality.
#
# The labs train a real denoising network, on 2-D points and on 28×28 digits, in
# {doc}`PyTorch <diffusion_pytorch>` and in {doc}`Keras <diffusion_keras>`. All the
# formulas live, tested, in `aigc_course.diffusion`.

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
import time

import matplotlib.pyplot as plt
import numpy as np

from aigc_course import is_fast, pick, set_seed, show_source
from aigc_course.data import load_mnist, random_subset, ring_centers, scale_images
from aigc_course.diffusion import (
    NoiseSchedule,
    cosine_betas,
    ddpm_sample_numpy,
    gmm_eps_star,
    linear_betas,
)

set_seed(0)
print(f"NumPy {np.__version__}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. The forward process
#
# ```{mermaid}
# flowchart LR
#     X0["x_0: a training example"] -- "add noise (q, fixed)" --> X1["x_1"]
#     X1 -- "q" --> XM["· · ·"]
#     XM -- "q" --> XT["x_T: pure noise"]
#     XT -. remove noise, learned p_θ .-> XM2["· · ·"]
#     XM2 -. p_θ .-> X0S["x_0: a new sample"]
# ```
#
# Choose a **noise schedule** (噪声调度) $0 < \beta_1 < \dots < \beta_T < 1$, typically with
# $T = 1000$. One forward step shrinks the example a little and adds noise:
#
# $$
# q(x_t \mid x_{t-1}) = \mathcal N\big(\sqrt{1 - \beta_t}\, x_{t-1},\ \beta_t I\big).
# $$
#
# The shrinking keeps the variance under control: if $x_{t-1}$ has unit variance, so
# does $x_t$. Because a sum of independent Gaussians is Gaussian, $t$ steps
# collapse into one. With $\alpha_t = 1 - \beta_t$ and $\bar\alpha_t = \prod_{s \le t} \alpha_s$,
#
# $$
# q(x_t \mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\, x_0,\ (1 - \bar\alpha_t) I\big),
# \qquad\text{i.e.}\qquad
# x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon,\ \ \epsilon \sim \mathcal N(0, I).
# $$
#
# (Induction: $\sqrt{\alpha_t}\,(\sqrt{\bar\alpha_{t-1}} x_0 + \sqrt{1 - \bar\alpha_{t-1}}\,\epsilon') + \sqrt{\beta_t}\,\epsilon''$
# has mean $\sqrt{\bar\alpha_t} x_0$ and variance $\alpha_t (1 - \bar\alpha_{t-1}) + 1 - \alpha_t = 1 - \bar\alpha_t$.)
# Training never runs the chain: it jumps to a random step $t$ in one line. The code
# uses 0-based steps, `t = 0, ..., T-1`:

# %%
show_source(NoiseSchedule.q_sample)

# %% [markdown]
# **Check by Monte Carlo.** Run the one-step chain from $x_0 = 2$ for many independent
# copies and compare the mean and variance of $x_t$ with the closed form.

# %%
T = 1000
linear = NoiseSchedule(linear_betas(T))
cosine = NoiseSchedule(cosine_betas(T))
print(linear, cosine, sep="\n")

mc_rng = np.random.default_rng(0)
CHAINS = pick(full=100_000, fast=20_000)
x0_value = 2.0
x = np.full(CHAINS, x0_value)
print("   t   mean (chain, closed form)     variance (chain, closed form)")
for t in range(T):
    x = np.sqrt(linear.alphas[t]) * x + np.sqrt(
        linear.betas[t]
    ) * mc_rng.standard_normal(CHAINS)
    if t in (9, 99, 299, 999):
        ab = linear.alpha_bars[t]
        m, v = np.sqrt(ab) * x0_value, 1 - ab
        print(f"{t:4d}   {x.mean():+.4f}  {m:+.4f}              {x.var():.4f}  {v:.4f}")
        assert abs(x.mean() - m) < 5 * np.sqrt(v / CHAINS) + 1e-9
        assert abs(x.var() / v - 1) < 5 * np.sqrt(2 / CHAINS)

# %% [markdown]
# On a 28×28 digit (pixels scaled to $[-1, 1]$) the forward process looks like this.
# Each image is one call of `q_sample`, not a run of the chain.

# %%
digit = scale_images(load_mnist("test")[0][:1]).astype(np.float64)  # (1, 28, 28)
shown_t = [0, 50, 100, 250, 500, 750, 999]
noise = np.random.default_rng(1).standard_normal(digit.shape)
fig, axes = plt.subplots(2, len(shown_t), figsize=(1.6 * len(shown_t), 3.7))
for row, (name, sched) in enumerate((("linear", linear), ("cosine", cosine))):
    for ax, t in zip(axes[row], shown_t):
        xt = sched.q_sample(digit, t, noise)[0]
        ax.imshow(np.clip((xt + 1) / 2, 0, 1), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"t = {t}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[row, 0].set_ylabel(name)
fig.suptitle(
    "Forward process $q(x_t | x_0)$ on a digit, with the same noise $\\epsilon$"
)
plt.show()

# %% [markdown]
# ## 2. Noise schedules
#
# The **signal-to-noise ratio** (信噪比) of $x_t$ is $\mathrm{SNR}(t) = \bar\alpha_t / (1 - \bar\alpha_t)$.
# The **linear schedule** of {cite}`ho2020ddpm` takes $\beta_t$ evenly from $10^{-4}$
# to $0.02$. Nichol and Dhariwal noticed that it destroys the signal too early: for a
# large part of the chain $x_t$ is already almost pure noise, and those steps teach the
# network little. Their **cosine schedule** {cite}`nichol2021improved` prescribes
# $\bar\alpha$ directly,
#
# $$
# \bar\alpha_t = \frac{f(t)}{f(0)}, \qquad f(t) = \cos^2\!\Big(\frac{t / T + s}{1 + s}\cdot\frac{\pi}{2}\Big),\ s = 0.008,
# $$
#
# and sets $\beta_t = 1 - \bar\alpha_t / \bar\alpha_{t-1}$ (clipped at 0.999). Check that
# `cosine_betas` reproduces this $\bar\alpha$, then compare the two.

# %%
s = 0.008
f = lambda t: np.cos((t / T + s) / (1 + s) * np.pi / 2) ** 2
steps = np.arange(1, T + 1)
# the last beta is clipped
err = np.abs(cosine.alpha_bars[:-1] - f(steps)[:-1] / f(0)).max()
print(f"max |alpha_bar(cosine_betas) - f(t)/f(0)| = {err:.1e}")
assert err < 1e-10

for name, sched in (("linear", linear), ("cosine", cosine)):
    low = np.mean(sched.alpha_bars < 0.01)
    print(
        f"{name}: alpha_bar_T = {sched.alpha_bars[-1]:.1e}; {low:.0%} of the steps have "
        f"alpha_bar < 0.01 (less than 1% of the signal's variance left)"
    )

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for name, sched in (("linear", linear), ("cosine", cosine)):
    axes[0].plot(steps, sched.alpha_bars, lw=2, label=name)
    axes[1].plot(steps, np.log(sched.snr(np.arange(T))), lw=2, label=name)
axes[0].set_title(r"$\bar\alpha_t$: the share of the signal left")
axes[0].set_ylabel(r"$\bar\alpha_t$")
axes[1].set_title(
    r"log signal-to-noise ratio $\log(\bar\alpha_t / (1 - \bar\alpha_t))$"
)
axes[1].set_ylabel("log SNR")
for ax in axes:
    ax.set_xlabel("step t")
    ax.legend()
plt.show()

# %% [markdown]
# The cosine schedule removes the signal more evenly (its log-SNR falls almost
# linearly in the middle of the chain) and spends fewer steps on pure noise. Both end
# close enough to noise: the KL divergence from $q(x_T \mid x_0)$ to the standard normal
# prior, $\tfrac12\big[\bar\alpha_T x_0^2 + (1 - \bar\alpha_T) - 1 - \log(1 - \bar\alpha_T)\big]$ per
# dimension, is negligible for $|x_0| \le 1$:

# %%
for name, sched in (("linear", linear), ("cosine", cosine)):
    ab = sched.alpha_bars[-1]
    kl_prior = 0.5 * (ab * 1.0**2 + (1 - ab) - 1 - np.log(1 - ab))
    print(f"{name}: KL(q(x_T | x_0 = 1) || N(0, 1)) = {kl_prior:.1e} nats")

# %% [markdown]
# ## 3. The posterior $q(x_{t-1} \mid x_t, x_0)$
#
# Reversing one step of noise is hard in general: $q(x_{t-1} \mid x_t)$ depends on the
# whole data distribution. But *given the clean example* $x_0$ it is a Gaussian
# (Bayes' rule on two Gaussians) {cite}`ho2020ddpm`:
#
# $$
# q(x_{t-1} \mid x_t, x_0) = \mathcal N\big(\tilde\mu_t(x_t, x_0),\ \tilde\beta_t I\big),\quad
# \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1 - \bar\alpha_t}\, x_0 + \frac{\sqrt{\alpha_t}\,(1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t}\, x_t,\quad
# \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\,\beta_t .
# $$
#
# The reverse process will imitate this Gaussian, with the unknown $x_0$ replaced by a
# prediction. **Check**: for fixed $x_0$, draw $x_{t-1} \sim q(x_{t-1} \mid x_0)$ and then
# $x_t \sim q(x_t \mid x_{t-1})$. The pair is jointly Gaussian, so a least-squares
# regression of $x_{t-1}$ on $x_t$ must find the coefficients of $\tilde\mu_t$, and its
# residual variance must be $\tilde\beta_t$.

# %%
show_source(NoiseSchedule.posterior)

# %%
post_rng = np.random.default_rng(2)
N_POST = pick(full=400_000, fast=100_000)
print(
    "   t   slope on x_t (fit, formula)   intercept (fit, formula)   residual var (fit, formula)"
)
for t in (1, 10, 100, 500):
    x_prev = linear.q_sample(
        np.full(N_POST, x0_value), t - 1, post_rng.standard_normal(N_POST)
    )
    x_t = np.sqrt(linear.alphas[t]) * x_prev + np.sqrt(
        linear.betas[t]
    ) * post_rng.standard_normal(N_POST)
    slope_fit, intercept_fit = np.polyfit(x_t, x_prev, 1)
    resid = np.var(x_prev - (slope_fit * x_t + intercept_fit))
    # the formula: mean is linear in x_t; read its coefficients off posterior() at x_t = 0 and 1
    m0, var = linear.posterior(np.array([x0_value]), np.array([0.0]), t)
    m1, _ = linear.posterior(np.array([x0_value]), np.array([1.0]), t)
    slope, intercept = (m1 - m0)[0], m0[0]
    print(
        f"{t:4d}   {slope_fit:.5f} {slope:.5f}            {intercept_fit:+.5f} {intercept:+.5f}"
        f"         {resid:.3e} {var[0]:.3e}"
    )
    assert abs(slope_fit - slope) < 0.01 and abs(intercept_fit - intercept) < 0.01
    assert abs(resid / var[0] - 1) < 0.02

# %% [markdown]
# ## 4. From the ELBO to "predict the noise"
#
# The reverse process is a Markov chain of Gaussians,
# $p_\theta(x_{t-1} \mid x_t) = \mathcal N(\mu_\theta(x_t, t), \sigma_t^2 I)$ with $\sigma_t^2$ fixed
# ($\beta_t$ or $\tilde\beta_t$), started at $p(x_T) = \mathcal N(0, I)$. Like a VAE
# ({doc}`../04_vaes/vae_concepts`), with $x_{1:T}$ as latent variables and the forward process
# as the (fixed) encoder, it is trained by maximising an **evidence lower bound**
# (证据下界, ELBO). Its negative splits into one term per step
# {cite}`sohldickstein2015diffusion,ho2020ddpm`:
#
# $$
# -\log p_\theta(x_0) \le
# \underbrace{\mathrm{KL}\big(q(x_T \mid x_0) \,\|\, p(x_T)\big)}_{\text{prior: no parameters}}
# + \sum_{t=2}^{T} \underbrace{\mathbb E_q\,\mathrm{KL}\big(q(x_{t-1} \mid x_t, x_0) \,\|\, p_\theta(x_{t-1} \mid x_t)\big)}_{L_{t-1}}
# - \mathbb E_q \log p_\theta(x_0 \mid x_1).
# $$
#
# Each $L_{t-1}$ is a KL divergence between two Gaussians whose variances are both
# fixed, so only the distance of their means is learned: $L_{t-1} = \lVert \tilde\mu_t - \mu_\theta \rVert^2 / (2\sigma_t^2) + \text{const}$.
# Now write $x_0$ through the noise, $x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\,\epsilon) / \sqrt{\bar\alpha_t}$;
# then $\tilde\mu_t = \big(x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\epsilon\big) / \sqrt{\alpha_t}$,
# and Ho et al. give $\mu_\theta$ the same form with a network $\epsilon_\theta(x_t, t)$ in place of
# $\epsilon$:
#
# $$
# \mu_\theta(x_t, t) = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\,\epsilon_\theta(x_t, t)\Big)
# \quad\Longrightarrow\quad
# L_{t-1} = \frac{\beta_t^2}{2\sigma_t^2\,\alpha_t\,(1 - \bar\alpha_t)}\; \mathbb E\,\big\lVert \epsilon - \epsilon_\theta(x_t, t) \big\rVert^2 .
# $$
#
# Dropping the weight in front gives the **simple loss** (简化损失) that everybody uses:
# pick $t$ uniformly, noise $x_0$ in one step, and regress the noise,
#
# $$
# L_{\text{simple}} = \mathbb E_{x_0,\, t,\, \epsilon}\,\big\lVert \epsilon - \epsilon_\theta\big(\sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon,\ t\big) \big\rVert^2 .
# $$
#
# The mean $\mu_\theta$ is `NoiseSchedule.p_mean`:

# %%
show_source(NoiseSchedule.p_mean)

# %% [markdown]
# **Check** the three claims for random $x_0$, $\epsilon$ and a deliberately wrong
# prediction $\hat\epsilon$: `p_mean` with the *true* noise is exactly the posterior mean;
# it equals the posterior mean at the predicted $\hat x_0$; and the Gaussian KL divergence
# equals the weighted squared noise error.

# %%
def kl_gauss(m1, v1, m2, v2):
    """KL(N(m1, v1 I) || N(m2, v2 I)), summed over the last axis."""
    return 0.5 * np.sum(np.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1, axis=-1)


chk_rng = np.random.default_rng(3)
x0 = chk_rng.normal(size=(6, 5))
eps = chk_rng.standard_normal(x0.shape)
# an imperfect "network"
eps_hat = eps + 0.3 * chk_rng.standard_normal(x0.shape)
worst = 0.0
for t in (1, 10, 200, 999):
    xt = linear.q_sample(x0, t, eps)
    mu_tilde, var_tilde = linear.posterior(x0, xt, t)
    assert np.allclose(linear.p_mean(xt, t, eps), mu_tilde)
    assert np.allclose(
        linear.p_mean(xt, t, eps_hat),
        linear.posterior(linear.predict_x0(xt, t, eps_hat), xt, t)[0],
    )
    # the choice sigma_t^2 = beta_t
    sigma2 = linear.betas[t]
    kl = kl_gauss(mu_tilde, var_tilde, linear.p_mean(xt, t, eps_hat), sigma2)
    # the constant (variance) part
    kl_eq = kl_gauss(mu_tilde, var_tilde, mu_tilde, sigma2)
    weight = linear.betas[t] ** 2 / (
        2 * sigma2 * linear.alphas[t] * (1 - linear.alpha_bars[t])
    )
    worst = max(
        worst, np.abs((kl - kl_eq) - weight * np.sum((eps - eps_hat) ** 2, -1)).max()
    )
print(f"max |KL - const - weight * ||eps - eps_hat||^2| = {worst:.1e}")
assert worst < 1e-9

weights_t = linear.betas**2 / (
    2 * linear.betas * linear.alphas * (1 - linear.alpha_bars)
)
print(
    "ELBO weight of the noise error (sigma_t^2 = beta_t): "
    + ", ".join(f"{weights_t[t]:.4f} at t = {t}" for t in (1, 10, 100, 500, 999))
)
assert weights_t[1] > 10 * weights_t[100:].max()

# %% [markdown]
# The true ELBO weights the first, almost noise-free steps far more than the rest
# (the printed weights). $L_{\text{simple}}$ weights all steps equally, which in
# effect shifts the training effort towards the noisy steps where the coarse
# structure of a sample is decided; Ho et al. found it gives better samples, at the
# price of a worse likelihood bound {cite}`ho2020ddpm`.
#
# ## 5. Predicting noise is estimating the score
#
# What does a perfectly trained network output? The minimiser of a squared error is
# a conditional mean, so the optimal predictor is $\epsilon^*(x_t, t) = \mathbb E[\epsilon \mid x_t]$.
# **Tweedie's formula** connects this to the **score** (分数) of the noisy data
# distribution $q_t$:
#
# $$
# \epsilon^*(x_t, t) = -\sqrt{1 - \bar\alpha_t}\; \nabla_{x_t} \log q_t(x_t),
# \qquad
# \mathbb E[x_0 \mid x_t] = \frac{x_t + (1 - \bar\alpha_t)\,\nabla \log q_t(x_t)}{\sqrt{\bar\alpha_t}} .
# $$
#
# So a diffusion model is a **denoiser** (去噪器) and a **score model** at once: learning
# to predict the noise is **denoising score matching** (去噪分数匹配)
# {cite}`vincent2011connection`, and sampling by repeatedly following the score plus
# a little noise is the idea of score-based generative models {cite}`song2019score`;
# the two views were unified by {cite}`song2021sde`.
#
# For data from a **Gaussian mixture** $\sum_k w_k \mathcal N(\mu_k, s^2 I)$ everything is
# explicit: $q_t$ is again a mixture, $\sum_k w_k \mathcal N(\sqrt{\bar\alpha_t}\mu_k, (\bar\alpha_t s^2 + 1 - \bar\alpha_t) I)$,
# and $\mathbb E[\epsilon \mid x_t]$ is a responsibility-weighted sum of per-component
# predictions. `gmm_eps_star` computes it:

# %%
show_source(gmm_eps_star, start="# --- eps* (shown")

# %% [markdown]
# Our data: 8 Gaussians on a circle of radius 2, standard deviation 0.1, with
# **unequal** weights (the largest mode is 8 times as likely as the smallest): a
# harder target than the GAN chapter's ring. Check Tweedie's formula against the
# finite-difference score of the exact $\log q_t$, and check that $\epsilon^*$ beats other
# predictors on the simple loss.

# %%
MEANS = ring_centers(8, 2.0)
WEIGHTS = np.arange(1, 9) / np.arange(1, 9).sum()
STD = 0.1


def log_qt(x, t, sched=linear):
    """log density of the noised mixture q_t at points x (N, 2)."""
    ab = sched.alpha_bars[t]
    v = ab * STD**2 + 1 - ab
    d2 = np.sum((x[:, None, :] - np.sqrt(ab) * MEANS[None]) ** 2, -1)
    return np.log(np.sum(WEIGHTS * np.exp(-0.5 * d2 / v), axis=1)) - np.log(
        2 * np.pi * v
    )


def sample_data(n, rng):
    k = rng.choice(8, size=n, p=WEIGHTS)
    return MEANS[k] + STD * rng.standard_normal((n, 2))


tw_rng = np.random.default_rng(4)
pts, h = tw_rng.normal(0, 1.5, (200, 2)), 1e-5
for t in (10, 300, 900):
    score = np.stack(
        [
            (log_qt(pts + h * e, t) - log_qt(pts - h * e, t)) / (2 * h)
            for e in np.eye(2)
        ],
        1,
    )
    eps_star = gmm_eps_star(pts, t, linear, MEANS, WEIGHTS, STD)
    err = np.abs(eps_star + np.sqrt(1 - linear.alpha_bars[t]) * score).max()
    print(f"t = {t:3d}: max |eps* + sqrt(1 - alpha_bar) * score| = {err:.1e}")
    assert err < 1e-6

x0 = sample_data(pick(full=200_000, fast=50_000), tw_rng)
t = 300
eps = tw_rng.standard_normal(x0.shape)
xt = linear.q_sample(x0, t, eps)
eps_star = gmm_eps_star(xt, t, linear, MEANS, WEIGHTS, STD)
candidates = {
    "eps*": eps_star,
    "1.1 eps*": 1.1 * eps_star,
    "0.9 eps*": 0.9 * eps_star,
    "one Gaussian fitted to the data": gmm_eps_star(
        xt, t, linear, x0.mean(0, keepdims=True), [1.0], x0.std()
    ),
    "as if the data were N(0, I)": np.sqrt(1 - linear.alpha_bars[t]) * xt,
}
print(f"simple loss at t = {t} (Monte Carlo over {len(x0):,} examples):")
losses = {name: np.mean(np.sum((eps - e) ** 2, 1)) for name, e in candidates.items()}
for name, value in losses.items():
    print(f"  {name:>32}: {value:.4f}")
assert min(losses, key=losses.get) == "eps*"

# %% [markdown]
# ## 6. Sampling with the exact noise predictor
#
# DDPM's sampler (Algorithm 2 of {cite}`ho2020ddpm`) starts at $x_T \sim \mathcal N(0, I)$ and
# steps backwards, $x_{t-1} = \mu_\theta(x_t, t) + \sigma_t z$ with fresh noise $z$ at every
# step but the last:

# %%
show_source(ddpm_sample_numpy, start="    snaps = {}", end="    if keep is None")

# %% [markdown]
# Give it $\epsilon^*$ instead of a network: this is what a *perfectly trained* model
# would do, and it needs no training at all. 1,000 steps, 2,000 samples:

# %%
N_SAMPLES = 2000
eps_fn = lambda xt, t: gmm_eps_star(xt, t, linear, MEANS, WEIGHTS, STD)
t0 = time.perf_counter()
samples, snaps = ddpm_sample_numpy(
    eps_fn, linear, (N_SAMPLES, 2), rng=0, keep=[999, 400, 250, 150, 100, 50, -1]
)
print(f"1,000 reverse steps in {time.perf_counter() - t0:.1f} s")


def mode_stats(x):
    """Nearest mode of each point, share within 3 std of it, mode frequencies."""
    d = np.linalg.norm(x[:, None, :] - MEANS[None], axis=-1)
    nearest = d.argmin(1)
    on_mode = d.min(1) < 3 * STD
    freq = np.bincount(nearest[on_mode], minlength=8) / max(on_mode.sum(), 1)
    return on_mode.mean(), freq


fig, axes = plt.subplots(
    1, len(snaps), figsize=(2.6 * len(snaps), 2.9), sharex=True, sharey=True
)
for ax, (t, xs) in zip(axes, snaps.items()):
    ax.scatter(xs[:, 0], xs[:, 1], s=1, alpha=0.4)
    ax.set_title("output $x_0$" if t == -1 else f"$x_t$, t = {t}", fontsize=10)
    ax.set_xlim(-3.5, 3.5)
    ax.set_ylim(-3.5, 3.5)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
axes[0].set_ylabel("$x_2$")
fig.suptitle("Reverse process with the exact optimal noise predictor (no training)")
plt.show()

on_mode, freq = mode_stats(samples)
tv = 0.5 * np.abs(freq - WEIGHTS).sum()
print(
    f"{on_mode:.1%} of the samples lie within 3 std of a mode "
    f"(for the data itself: {1 - np.exp(-4.5):.1%}, the chance that a 2-D Gaussian lands within 3 std)"
)
print("mode frequencies:", freq.round(3))
print("true weights:    ", WEIGHTS.round(3))
print(f"total variation distance between the two: {tv:.3f}")
assert on_mode > 0.95 and tv < 0.05

# %% [markdown]
# For most of the chain the cloud still looks like noise: the signal-to-noise ratio is
# low (section 2), and the predictor can only say "somewhere near the centre". Over
# the last few hundred steps the ring appears, splits into eight clusters, and the
# clusters sharpen into the modes: coarse structure first, details last. Every mode is present with close to
# its true weight. This is the ideal, but it shows a structural difference from a GAN
# ({doc}`../03_gans/gan_concepts`): the diffusion loss averages over *training examples*,
# so every region of the data contributes to training, while a GAN's generator is
# trained only where its own samples land and can abandon a mode. (A trained network
# can still under-represent rare modes, through its own errors.)
#
# ### A common bug: sampling without the noise
#
# Tutorial code sometimes drops the $\sigma_t z$ term of the sampling loop (or sets it to
# zero "to make the samples cleaner"). With a perfect predictor the bug is easy to
# see:

# %%
buggy, bug_snaps = ddpm_sample_numpy(
    eps_fn,
    linear,
    (N_SAMPLES, 2),
    np.random.default_rng(0),
    # the bug: no "+ sigma_t z"
    keep=[500, 200],
    add_noise=False,
)
spread = {t: x.std(0).mean() for t, x in bug_snaps.items()}
on_mode_bug, freq_bug = mode_stats(buggy)
print(
    f"without the noise: {on_mode_bug:.1%} of the samples on a mode, mode frequencies {freq_bug.round(3)}"
)
print(
    f"spread of the samples (std per coordinate) at t = 500: {spread[500]:.4f}, at t = 200: {spread[200]:.4f}"
)
print(f"with the noise (above): mode frequencies {freq.round(3)}")
# (almost) everything on one mode
assert freq_bug.max() > 0.9

fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharex=True, sharey=True)
for ax, xs, title in (
    (axes[0], buggy, "bug: no fresh noise"),
    (axes[1], samples, "fixed: ddpm_sample_numpy"),
):
    ax.scatter(
        MEANS[:, 0],
        MEANS[:, 1],
        s=400,
        facecolors="none",
        edgecolors="gray",
        label="modes",
    )
    ax.scatter(xs[:, 0], xs[:, 1], s=3, alpha=0.4, color="tab:red", label="samples")
    ax.set_title(title)
    ax.legend(loc="center", fontsize=8)
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
axes[0].set_ylabel("$x_2$")
plt.show()

# %% [markdown]
# Every sample ends on the same mode: mode collapse, caused by the *sampler*, with a
# perfect model. The reason: while the noise level is high, $\epsilon^*$ can only see
# that $x_t$ is noise, and the mean step removes a step's worth of it, shrinking $x_t$
# by about $\sqrt{1 - \beta_t}$. DDPM adds fresh noise back to keep the spread at the level
# $q_t$ has (a standard deviation close to 1 at these noise levels); without it, the
# shrinking compounds over hundreds of steps, and all samples are squeezed into one
# tiny cloud (the printed spreads) before the modes become visible. From there they
# travel to one mode together. The fix is the line the
# bug removed; a deterministic sampler must instead be derived as one, like DDIM
# (section 7).
#
# ### A perfect model of a finite training set memorises it
#
# Real training sets are finite. The "data distribution" a network is fitted to is then
# the empirical distribution: a mixture of point masses at the $n$ training examples.
# Its exact optimal predictor is `gmm_eps_star` with the training examples as means and
# a vanishing standard deviation. Sample with it:

# %%
train_rng = np.random.default_rng(5)
train = sample_data(30, train_rng)
eps_memo = lambda xt, t: gmm_eps_star(xt, t, linear, train, np.full(30, 1 / 30), 1e-3)
memo = ddpm_sample_numpy(eps_memo, linear, (500, 2), rng=1)
dist = np.linalg.norm(memo[:, None, :] - train[None], axis=-1).min(1)
print(
    f"median distance of a sample to its nearest training example: {np.median(dist):.1e}; "
    f"largest: {dist.max():.1e} (the modes have std {STD})"
)
assert np.median(dist) < 0.01

fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.scatter(memo[:, 0], memo[:, 1], s=40, alpha=0.2, label="500 samples")
ax.scatter(
    train[:, 0],
    train[:, 1],
    s=10,
    marker="x",
    color="black",
    label="30 training examples",
)
ax.set_title("The optimal model of 30 points copies them")
ax.set_xlabel("$x_1$")
ax.set_ylabel("$x_2$")
ax.set_aspect("equal")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Every sample lands on a training example. The same holds for images: take 100 MNIST
# digits (pixels in $[-1, 1]$, so each is a point in 784 dimensions) as the training set
# and sample with *their* exact optimal predictor. Next to the reverse process of each
# sample we show its nearest training digit.

# %%
x_small, y_small = random_subset(100, *load_mnist("train"), seed=0)
digits = scale_images(x_small).reshape(100, -1).astype(np.float64)
eps_digits = lambda xt, t: gmm_eps_star(xt, t, linear, digits, np.full(100, 0.01), 1e-3)
shown = [999, 500, 300, 200, 100, 50, -1]
gen, dsnaps = ddpm_sample_numpy(eps_digits, linear, (6, 784), rng=2, keep=shown)
d_train = np.linalg.norm(gen[:, None, :] - digits[None], axis=-1)
nearest = d_train.argmin(1)
pairwise = np.linalg.norm(digits[:, None, :] - digits[None], axis=-1)
print(
    f"distance of each sample to its nearest training digit: {d_train.min(1).round(3)}"
)
print(
    f"smallest distance between two different training digits: {pairwise[~np.eye(100, dtype=bool)].min():.1f}"
)
assert d_train.min(1).max() < 0.1 * pairwise[~np.eye(100, dtype=bool)].min()

fig, axes = plt.subplots(
    len(gen), len(shown) + 1, figsize=(1.3 * (len(shown) + 1), 1.4 * len(gen))
)
for r in range(len(gen)):
    for c, t in enumerate(shown):
        axes[r, c].imshow(
            np.clip((dsnaps[t][r].reshape(28, 28) + 1) / 2, 0, 1),
            cmap="gray",
            vmin=0,
            vmax=1,
        )
        if r == 0:
            axes[r, c].set_title("output" if t == -1 else f"t = {t}", fontsize=9)
    axes[r, -1].imshow(
        (digits[nearest[r]].reshape(28, 28) + 1) / 2, cmap="gray", vmin=0, vmax=1
    )
    if r == 0:
        axes[r, -1].set_title("nearest\ntraining digit", fontsize=9)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Exact optimal predictor for 100 training digits: samples are copies")
plt.show()

# %% [markdown]
# The *perfect* minimiser of the diffusion loss on a finite training set reproduces
# the training set: it has nothing to say about digits it has not seen. (Notice also
# *when* each sample commits to its digit: the choice is visible long before the
# pixels are clean, and earlier than the 2-D samples chose their mode, because in 784
# dimensions many weakly informative pixels together identify the digit even when
# each one is mostly noise.) Neural networks generalise
# only because they are imperfect, smooth function approximators that cannot fit this
# spiky predictor, and large image models do sometimes reproduce training images
# {cite}`carlini2023extracting,somepalli2023diffusion` (see {doc}`../06_problems/problems_concepts`).
#
# ## 7. Fewer steps
#
# A thousand network evaluations per sample is slow. Two common remedies:
#
# * **Respacing** {cite}`nichol2021improved`: keep only $S$ evenly spaced steps
#   $\tau_1 < \dots < \tau_S$ with the same $\bar\alpha$, and run DDPM on that shorter chain
#   (`ddpm_sample_numpy(..., steps=S)`); the network is unchanged.
# * **DDIM** {cite}`song2021ddim`: a deterministic sampler with the same training.
#   Predict $\hat x_0$ from $\hat\epsilon$, then move to the previous kept step along the
#   predicted noise direction, $x_{\tau_{i-1}} = \sqrt{\bar\alpha_{\tau_{i-1}}}\,\hat x_0 + \sqrt{1 - \bar\alpha_{\tau_{i-1}}}\,\hat\epsilon$,
#   with no fresh noise. It is a discretisation of an ordinary differential equation,
#   which tolerates large strides better.
#
# DDIM is not in the package; it takes a few lines:

# %%
def ddim_sample(eps_fn, sched, shape, steps, rng):
    """Deterministic DDIM (eta = 0) on `steps` evenly spaced steps of `sched`."""
    ts = np.unique(np.round(np.linspace(0, sched.T - 1, steps)).astype(int))
    x = rng.standard_normal(shape)
    for i in range(len(ts) - 1, -1, -1):
        eps_hat = eps_fn(x, np.full(shape[0], ts[i]))
        x0_hat = sched.predict_x0(x, ts[i], eps_hat)
        ab_prev = sched.alpha_bars[ts[i - 1]] if i > 0 else 1.0
        x = np.sqrt(ab_prev) * x0_hat + np.sqrt(1 - ab_prev) * eps_hat
    return x


step_counts = pick(full=(1000, 250, 100, 50, 20, 10, 5), fast=(1000, 100, 20, 10, 5))
print(" steps   DDPM: on a mode, TV     DDIM: on a mode, TV")
quality, ten_steps = {"DDPM": [], "DDIM": []}, {}
for S in step_counts:
    row = f"{S:6d}"
    for name in quality:
        if name == "DDPM":
            xs = ddpm_sample_numpy(eps_fn, linear, (N_SAMPLES, 2), rng=0, steps=S)
        else:
            xs = ddim_sample(
                eps_fn, linear, (N_SAMPLES, 2), S, np.random.default_rng(0)
            )
        om, fr = mode_stats(xs)
        quality[name].append(om)
        if S == 10:
            ten_steps[name] = xs
        row += f"        {om:6.1%}  {0.5 * np.abs(fr - WEIGHTS).sum():.3f}  "
    print(row)

at10 = step_counts.index(10)
# DDIM tolerates large strides better
assert quality["DDIM"][at10] > quality["DDPM"][at10] + 0.2

fig, axes = plt.subplots(
    1, 3, figsize=(14, 4), gridspec_kw={"width_ratios": [1.4, 1, 1]}
)
for name, values in quality.items():
    axes[0].semilogx(step_counts, values, "o-", label=name)
axes[0].set_title("Fewer sampling steps: share of samples on a mode")
axes[0].set_xlabel("network evaluations per sample (steps)")
axes[0].set_ylabel("share within 3 std of a mode")
axes[0].legend()
for ax, (name, xs) in zip(axes[1:], ten_steps.items()):
    ax.scatter(xs[:, 0], xs[:, 1], s=1, alpha=0.4)
    ax.scatter(MEANS[:, 0], MEANS[:, 1], marker="x", color="black", s=20)
    ax.set_title(f"{name}, 10 steps")
    ax.set_xlim(-3.5, 3.5)
    ax.set_ylim(-3.5, 3.5)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
plt.show()

# %% [markdown]
# With the exact predictor, both samplers are essentially perfect at 1,000 steps;
# the printed table shows where each starts to degrade. With 10 steps the two fail
# differently (right panels). DDPM's samples blur off the modes: every large step
# injects fresh noise, and the few remaining steps cannot remove it again. DDIM's
# samples stay sharp, but some land on the straight segments *between* neighbouring
# modes: a large deterministic step follows the predicted $\hat x_0$, which at high noise
# is an average of several modes, and there are too few later steps to correct it.
# DDIM still degrades much later than DDPM (asserted above). With a trained
# network the errors of the network add to those of the discretisation, and
# practical systems use 20–50 DDIM-like steps, or distil the sampler into a few steps
# {cite}`salimans2022progressive`. Latent diffusion {cite}`rombach2022ldm` saves in
# another place: it runs the whole process on a small latent code of an autoencoder
# instead of on the pixels.
#
# ## 8. Diffusion among the other generative models
#
# | | GAN | VAE | autoregressive | diffusion |
# | --- | --- | --- | --- | --- |
# | training | a two-player game, can be unstable | maximise the ELBO | maximise the exact likelihood | regress the noise: a stable, simple loss |
# | likelihood | none | lower bound | exact | lower bound (ELBO) |
# | sampling cost | one network pass | one network pass | one pass per token / pixel | tens to 1,000 passes |
# | sample quality (images) | sharp, prone to mode dropping | often blurry | good, slow for images | state of the art, covers the modes |
# | latent code | noise $z$, no encoder | encoder $q(z \mid x)$ | none | $x_T$, same size as $x$ (DDIM: a deterministic map) |
#
# Chapters 3–5 cover the first three ({doc}`../03_gans/gan_concepts`,
# {doc}`../04_vaes/vae_concepts`, {doc}`../05_autoregressive/ar_concepts`). The labs of this
# chapter, {doc}`diffusion_pytorch` and {doc}`diffusion_keras`, replace $\epsilon^*$ by a trained
# network and generate digits; {doc}`trends_concepts` shows how text conditions a
# diffusion model (classifier-free guidance).
#
# ## Exercises
#
# :::{exercise}
# :label: diffusion-concepts-ex-schedule
# Sample the mixture of section 6 with the exact predictor under the **cosine**
# schedule (`NoiseSchedule(cosine_betas(1000))`, and pass the same schedule to
# `gmm_eps_star`). Compare the share of samples on a mode with the linear schedule at
# 1,000 and at 10 respaced steps. Which schedule suffers less from few steps?
# :::
#
# :::{solution} diffusion-concepts-ex-schedule
# :class: dropdown
# ```python
# eps_cos = lambda xt, t: gmm_eps_star(xt, t, cosine, MEANS, WEIGHTS, STD)
# for S in (1000, 10):
#     for name, sched, fn in (("linear", linear, eps_fn), ("cosine", cosine, eps_cos)):
#         print(name, S, mode_stats(ddpm_sample_numpy(fn, sched, (2000, 2), rng=0, steps=S))[0])
# ```
# At 1,000 steps both are essentially perfect, since the predictor is exact (about 99 %
# of the samples on a mode in the course's run). With 10 respaced steps the cosine
# schedule keeps about 63 % of the samples on a mode against about 25 % for the linear
# one (20 steps: 90 % against 67 %). The kept steps sit at different noise levels: the
# linear schedule wastes about a third of them where $\bar\alpha_t < 0.01$ (section 2),
# the cosine schedule spends more of them at the low and medium noise levels where the
# modes are separated and sharpened. With a *trained* network the cosine schedule has
# the same advantage during training: fewer training steps are spent on near-pure noise.
# :::
#
# :::{exercise}
# :label: diffusion-concepts-ex-x0
# Instead of the noise, a network can predict $x_0$ directly. Express the optimal
# $\hat x_0$ through $\epsilon^*$ and check with `linear.predict_x0` and `gmm_eps_star`
# that, for large $t$ (say $t = 990$), the optimal $\hat x_0$ is close to the *mean of the
# data* for every $x_t$. Why?
# :::
#
# :::{solution} diffusion-concepts-ex-x0
# :class: dropdown
# $\hat x_0^* = \mathbb E[x_0 \mid x_t] = (x_t - \sqrt{1 - \bar\alpha_t}\,\epsilon^*) / \sqrt{\bar\alpha_t}$, which is
# `linear.predict_x0(xt, t, eps_star)`. At $t = 990$, $\bar\alpha_t \approx 5 \cdot 10^{-5}$: $x_t$ carries
# almost no information about $x_0$, so the best guess of $x_0$ is its prior mean,
# $\sum_k w_k \mu_k$. Check with
# `linear.predict_x0(xt, 990, gmm_eps_star(xt, 990, linear, MEANS, WEIGHTS, STD)).mean(0)`
# against `WEIGHTS @ MEANS` for random `xt`. This is why samples at the start of the
# reverse process look alike: the model first decides the average, then the details.
# :::
#
# :::{exercise}
# :label: diffusion-concepts-ex-memorise
# In the memorisation experiment, replace the tiny standard deviation `1e-3` by `0.1`
# and `0.3`: the exact predictor of a *smoothed* empirical distribution (a kernel
# density estimate). What happens to the distance of samples to the training examples?
# What does this suggest about how a network avoids copying?
# :::
#
# :::{solution} diffusion-concepts-ex-memorise
# :class: dropdown
# The samples become the training examples plus Gaussian noise of that standard
# deviation. In the course's run the median distance to the nearest training example
# was 0.085 for `std=0.1` and 0.28 for `std=0.3`: a little below $1.18 \times$ std, the median
# length of a 2-D Gaussian vector of that std ($\sqrt{2 \ln 2} \approx 1.18$), because a
# sample's nearest training example need not be the one it was drawn around. Smoothing the
# empirical distribution (a kernel density estimate, the model of
# {doc}`../06_problems/problems_concepts` whose memorisation is turned up and down by one
# knob) is one picture of generalisation: a network that cannot
# represent the spiky optimal predictor acts roughly like a smoothed one. Whether the
# smoothing follows the true data distribution (for images: produces new, plausible
# images rather than blurred copies) is the question that separates a good model from
# a memoriser, and it is measured, not assumed ({doc}`../08_evaluation/evaluation_concepts`).
# :::
