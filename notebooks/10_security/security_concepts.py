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
# learned from data that belonged to somebody. This chapter looks at these questions,
# and answers the technical ones with code:
#
# 1. **misuse**: what harm do generated media cause, in documented cases? And why does
#    a **content filter** (内容审核) let the clever cases through?
# 2. **privacy**: does a model leak its training data? We build a model that
#    memorises, attack it with **membership inference** (成员推断攻击), and see how
#    generalisation lowers the attack's success at some cost in quality; then we
#    ask what **encryption** (加密) and **anonymisation** (匿名化) of the training
#    data protect, and re-identify people in a pseudonymised table;
# 3. **differential privacy** (差分隐私) in one page: the definition, the Gaussian
#    mechanism with its $(\varepsilon, \delta)$ checked numerically, and DP-SGD;
# 4. **detection and watermarking**: we hide a keyed, invisible **watermark**
#    (数字水印) in Fashion-MNIST images, detect it with a test whose false-positive
#    rate we can compute, and measure what removes it;
# 5. **copyright, law and jobs**: what the rules say (as of their dates), and what
#    the first studies measured;
# 6. **attacks on models**: **adversarial examples** (对抗样本) that fool the course's
#    own digit classifier, and **adversarial training** (对抗训练) against them;
# 7. **explainability** (可解释性): saliency maps of that classifier, two tests of
#    whether they mean anything, and a latent traversal of a generator.
#
# The notebook is framework-neutral: NumPy only, with `aigc_course.security`,
# `aigc_course.moderation`, `aigc_course.anonymity` and `aigc_course.adversarial`
# holding the tested functions. The labs ({doc}`security_pytorch`, {doc}`security_keras`)
# train a variational autoencoder with DP-SGD, attack it, and train a
# real-versus-generated detector.

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
import math

import matplotlib.pyplot as plt
import numpy as np
from scipy import fft, optimize, stats

from aigc_course import (
    adversarial,
    anonymity,
    is_fast,
    moderation,
    pick,
    security,
    set_seed,
    show_source,
)
from aigc_course.data import load_fashion_mnist, load_mnist, ring_of_gaussians
from aigc_course.evaluator import load_evaluator
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
# ### Content moderation, and why filters fail open
#
# The source articles' first answer to malicious generation is **content moderation**
# (内容审核): "在生成模型生成内容前，进行内容审核，过滤掉可能的不良信息" (article 001,
# section 3.10.1: moderate before generating, filtering out harmful content). Deployed
# systems check both sides of the model, the prompt going in and the content coming
# out, with trained classifiers (for example Llama Guard {cite}`inan2023llamaguard`),
# lists of blocked terms, rate limits and human review. We build the oldest of these,
# a **block list**, and attack it. The scenario: a text generator must refuse to write
# scam messages (诈骗信息) that ask for a password, a verification code or gift cards.
#
# Before matching, text is **normalised**, to undo the cheap obfuscations: Unicode
# compatibility forms (full-width letters), case, accents, invisible characters, and
# **homoglyphs** (同形字符), letters of another script that look like Latin ones
# (Cyrillic "р" and "а" in "раssword"):

# %%
show_source(moderation, start="# --- normalise (shown", end="# --- end normalise")

# %%
BLOCKLIST = ["password", "verification code", "gift card", "验证码"]
scams = [
    ("plain", "Your account is locked. Reply with your password to unlock it."),
    (
        "full-width letters",
        "Your account is locked. Reply with your ｐａｓｓｗｏｒｄ to unlock it.",
    ),
    (
        "zero-width space",
        "Your account is locked. Reply with your pass\u200bword to unlock it.",
    ),
    (
        "Cyrillic homoglyphs",
        "Your account is locked. Reply with your раssword to unlock it.",
    ),
    ("accents", "Your account is locked. Reply with your pässwörd to unlock it."),
    ("leetspeak", "Your account is locked. Reply with your p@$$w0rd to unlock it."),
    (
        "spaced letters",
        "Your account is locked. Reply with your p a s s w o r d to unlock it.",
    ),
    (
        "paraphrase",
        "Your account is locked. Reply with the secret word you log in with.",
    ),
    ("gift card", "Pay the fine today with a gift card and send me the code."),
    ("paraphrase", "Pay the fine today with store vouchers and read me the numbers."),
    ("Chinese", "您的账户已冻结，请回复验证码解冻。"),
    ("Chinese, symbols inserted", "您的账户已冻结，请回复验*证*码解冻。"),
    ("Chinese, homophone 正 for 证", "您的账户已冻结，请回复验正码解冻。"),
]
legitimate = [
    (
        "bank's warning",
        "Never share your password with anyone, not even with our staff.",
    ),
    ("one-time code", "Your verification code is 482913. Do not share it."),
    ("one-time code (Chinese)", "您的验证码是482913，请勿告诉他人。"),
    ("birthday", "Happy birthday! I bought you a gift card for the bookshop."),
    ("thanks", "Thanks for the gift, cards and flowers!"),
]
filters = {
    "exact": dict(normalise_text=False),
    "normalised": {},
    "+ leet, squeezed": dict(leet=True, squeeze=True),
}
flags = {
    name: {
        group: moderation.keyword_filter([t for _, t in msgs], BLOCKLIST, **kw)
        for group, msgs in (("scam", scams), ("legit", legitimate))
    }
    for name, kw in filters.items()
}
print(f"{'message':34}" + "".join(f"{name:>18}" for name in filters))
for group, msgs in (("scam", scams), ("legit", legitimate)):
    for i, (what, _) in enumerate(msgs):
        cells = ["flagged" if flags[name][group][i] else "-" for name in filters]
        print(f"{group + ': ' + what:34}" + "".join(f"{c:>18}" for c in cells))
for name in filters:
    print(
        f"{name:>18}: catches {flags[name]['scam'].sum()} of the {len(scams)} scams, "
        f"flags {flags[name]['legit'].sum()} of the {len(legitimate)} legitimate messages"
    )
assert (
    flags["+ leet, squeezed"]["scam"].mean()
    > flags["normalised"]["scam"].mean()
    > flags["exact"]["scam"].mean()
)
# paraphrases, homophone
assert not flags["+ leet, squeezed"]["scam"][[7, 9, 12]].any()

# %% [markdown]
# Each normalisation step closes one hole, and each was added after somebody used the
# hole. Squeezing out separators catches "p a s s w o r d" and "验\*证\*码", and
# immediately flags "the gift, cards and flowers" (the "Scunthorpe problem" of
# substring matching, named after a town whose name contains an obscenity). And
# nothing closes the last holes: a **paraphrase** or a **homophone** (谐音字, here 正
# for 证, both *zhèng*) carries the same request in words the list has never seen. A
# block list **fails open** (失效开放): whatever it does not recognise, it lets through.
# A trained classifier generalises further than a list, but it too fails open on what
# it was not trained on, and it can be attacked like any classifier (section 6); the
# generator behind it can be talked round by "jailbreak" prompts, some of them found
# automatically by optimisation {cite}`zou2023universal`. The other direction
# also fails: the list flags the bank's own warning and a real one-time code, because
# the *words* of a scam and of a warning against it are the same.
#
# The articles' second measure, "限制生成范围" (restricting what the model may generate
# to specific types of content), is the opposite design: an **allow list**, which
# **fails closed**: anything not explicitly allowed is refused. It is safe and
# restrictive: a bank's assistant that may only produce a few approved templates
# cannot be talked into writing a scam, nor into anything else.
#
# **The base-rate problem.** Suppose a much better filter, a classifier, catches 95% of
# scams (true-positive rate, TPR) and flags 1% of legitimate messages (false-positive
# rate, FPR). If one message in a thousand is a scam (the **base rate**, 基础比率
# $\pi$), what share of the flagged messages are scams? Bayes' rule:
#
# $$
# P(\text{scam} \mid \text{flagged}) = \frac{\mathrm{TPR}\,\pi}{\mathrm{TPR}\,\pi + \mathrm{FPR}\,(1 - \pi)} .
# $$

# %%
tpr_f, fpr_f, base = 0.95, 0.01, 0.001
exact_prec = moderation.flag_precision(tpr_f, fpr_f, base)
rng_mod = np.random.default_rng(0)
n_msgs = pick(full=10_000_000, fast=2_000_000)
is_scam = rng_mod.random(n_msgs) < base
flagged = np.where(
    is_scam, rng_mod.random(n_msgs) < tpr_f, rng_mod.random(n_msgs) < fpr_f
)
print(
    f"{n_msgs:,} simulated messages: {flagged.sum():,} flagged, of which "
    f"{is_scam[flagged].mean():.1%} are scams (Bayes' rule: {exact_prec:.1%})"
)
assert abs(is_scam[flagged].mean() - exact_prec) < 0.01

rates = np.geomspace(1e-5, 0.5, 200)
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for fpr_i in (0.01, 0.001, 0.0001):
    ax.plot(
        rates,
        moderation.flag_precision(tpr_f, fpr_i, rates),
        label=f"TPR 95%, FPR {fpr_i:g}",
    )
ax.axvline(base, color="k", ls=":", lw=1)
ax.set(
    xscale="log",
    xlabel=r"base rate $\pi$ (share of harmful items)",
    ylabel="share of flagged items that are harmful",
    title="A good filter on rare harm flags mostly innocent items",
)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# With the scam rate of 1 in 1,000, more than nine in ten flagged messages are
# innocent; only a false-positive rate far below the base rate makes a flag
# trustworthy. The same arithmetic applies to the detectors of generated images in
# section 4 (most images are real) and to the membership attacks of section 2. In
# practice: flags go to review or to a softer action (a warning, a rate limit) rather
# than straight to punishment; and the article's "transparency" measure belongs here too,
# since a user whose legitimate message was blocked needs to be told why
# (section 7).

# %% [markdown]
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
# non-members: same distribution
x_out, _ = ring_of_gaussians(1000, std=0.3, seed=2)
x_val, _ = ring_of_gaussians(2000, std=0.3, seed=3)  # to measure quality


def kde_sample(train, h, n, seed=0):
    """Sample the KDE: a random training point plus N(0, h^2 I) noise."""
    rng = np.random.default_rng(seed)
    return train[rng.integers(0, len(train), n)] + h * rng.standard_normal(
        (n, train.shape[1])
    )


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
    ax.set(
        title=f"KDE samples, h = {h}", xlabel="$x_1$", ylabel="$x_2$", aspect="equal"
    )
    ax.legend(loc="upper right", fontsize=8)
    axes[2].hist(
        d,
        bins=np.geomspace(1e-4, 2, 40),
        alpha=0.5,
        density=True,
        label=f"samples, h = {h}",
    )
    print(
        f"h = {h}: median distance to the nearest training point {np.median(d):.3f}; "
        f"{frac:.0%} of samples are closer than 95% of fresh data"
    )
axes[2].hist(
    d_ref,
    bins=np.geomspace(1e-4, 2, 40),
    histtype="step",
    color="k",
    lw=2,
    density=True,
    label="fresh data",
)
axes[2].set(
    xscale="log",
    title="distance to the nearest training point",
    xlabel="distance",
    ylabel="density",
)
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
show_source(
    security,
    start="# ----- membership inference: evaluation",
    end="# --- end membership",
)

# %%
def attack(train, h, outsiders=x_out):
    """Scores of the likelihood-threshold attack on members and non-members."""
    return (
        security.gaussian_kde_logpdf(train, train, h),
        security.gaussian_kde_logpdf(outsiders, train, h),
    )


fig, ax = plt.subplots(figsize=(5, 4.5))
for h in (0.02, 0.1, 0.3, 1.0):
    s_in, s_out = attack(x_train, h)
    fpr, tpr, _ = security.roc_curve(s_in, s_out)
    print(
        f"h = {h:4}: AUC {security.roc_auc(s_in, s_out):.3f}, "
        f"advantage {security.advantage(s_in, s_out):.3f}, "
        f"TPR at 1% FPR {security.tpr_at_fpr(s_in, s_out, fpr=0.01):.3f}"
    )
    ax.plot(np.maximum(fpr, 1e-3), np.maximum(tpr, 1e-3), label=f"h = {h}")
ax.plot([1e-3, 1], [1e-3, 1], "k:", label="guessing")
ax.set(
    xscale="log",
    yscale="log",
    xlabel="false-positive rate",
    ylabel="true-positive rate",
    title="likelihood-threshold attack on a KDE",
)
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
    floor = np.mean(
        [
            security.advantage(rng_floor.random(n), rng_floor.random(len(x_out)))
            for _ in range(20)
        ]
    )
    floors[n] = floor
    print(
        f"N = {n:4}: best held-out log-likelihood {quality[best]:.3f} at h = {hs[best]:.3f}; "
        f"attack advantage there {adv[best]:.3f} (noise floor of a useless attack {floor:.3f})"
    )

fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for n, (quality, adv) in rows.items():
    best = int(np.argmax(quality))
    (line,) = axes[0].plot(hs, quality, "o-", ms=3, label=f"N = {n}")
    axes[1].plot(hs, adv, "o-", ms=3, label=f"N = {n}")
    wide = slice(best, None)  # from the best bandwidth upwards
    axes[2].plot(
        adv[wide], quality[wide], "o-", ms=3, label=f"N = {n}, h >= {hs[best]:.2f}"
    )
    axes[2].plot(adv[best], quality[best], "*", ms=14, color=line.get_color())
    for ax in axes[:2]:
        ax.axvline(hs[best], color=line.get_color(), ls=":", lw=1)
axes[0].set(
    xscale="log",
    xlabel="bandwidth h",
    ylabel="mean log-likelihood, held-out data",
    title="quality (dotted: best h)",
    ylim=(-6, -2),
)
axes[1].set(
    xscale="log",
    xlabel="bandwidth h",
    ylabel="max(TPR - FPR)",
    title="membership-inference advantage",
)
axes[2].set(
    xlabel="attack advantage (privacy risk)",
    ylabel="held-out log-likelihood (quality)",
    title="the trade-off (star: best quality)",
)
for ax in axes:
    ax.legend()
plt.tight_layout()
plt.show()

# the claims of the text, as checks
# narrow leaks, wide does not
assert rows[100][1][0] > 0.9 and rows[100][1][-1] < 0.2
# more data: less leakage
assert np.all(rows[1000][1] <= rows[100][1] + 0.05)
# the best model still leaks
assert rows[100][1][np.argmax(rows[100][0])] > 2 * floors[100]
# more data: better quality
assert rows[1000][0].max() > rows[100][0].max()
# ... at a smaller h
assert hs[np.argmax(rows[1000][0])] <= hs[np.argmax(rows[100][0])]

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
# ### Encryption and anonymisation: what they protect, and what they do not
#
# For the risk of leaking training data the articles recommend **encryption**
# ("数据加密：对训练数据进行加密，确保数据在传输和存储过程中的安全性", article 001,
# section 3.10.2), **homomorphic encryption** (同态加密, computing on encrypted data)
# and **anonymisation** (数据匿名化, section 3.11.1; 去识别化, section 5.5.4), next to
# differential privacy. They are not alternatives to each other: each protects against
# a different attacker.
#
# | measure | protects against | does not protect against |
# | --- | --- | --- |
# | encryption in transit (TLS) and at rest (disks, databases, backups) | eavesdroppers, stolen disks and leaked backups | whoever holds the key, including the training job; the trained **model**, which is computed from the decrypted data and can leak it (above) |
# | homomorphic encryption, secure multi-party computation, trusted hardware | the party that computes seeing the inputs {cite}`gentry2009fully` | what the **output** (a statistic, a model) reveals; cost: orders of magnitude slower than plain arithmetic for deep networks |
# | **pseudonymisation** (假名化): names replaced by codes or hashes | a casual reader | re-identification through the remaining columns; codes that are hashes of a small space; in EU law pseudonymised data is still personal data (GDPR, Recital 26) |
# | **$k$-anonymity** ($k$-匿名): generalise the **quasi-identifiers** (准标识符) until every record shares them with $k - 1$ others {cite}`sweeney2002kanonymity` | singling out a person through those columns | groups that share one sensitive value {cite}`machanavajjhala2007ldiversity`; other columns or outside knowledge; images and free text, which have no columns to generalise |
# | differential privacy (section 3) | every attacker of the *output* (statistic or model), whatever they know, up to $\varepsilon$ | theft of the raw data itself (encryption's job); it costs accuracy |
#
# **Secure computation hides the inputs, not the output.** The simplest secure
# computation is **additive secret sharing** (秘密共享): three people split their
# salaries into random shares modulo $2^{32}$, one share per party; each share alone is a
# uniformly random number, yet adding everyone's shares gives the total. Nobody saw a
# salary, but the *answer* still leaks: with a second query that leaves one person
# out, the difference is that person's salary (a **differencing attack**). That is
# the attack differential privacy is defined against.

# %%
salaries = np.array([52_000, 61_000, 75_000])
shares = anonymity.secret_shares(salaries, n_parties=3, seed=0)
print("party 1 holds", shares[0], "(uniformly random numbers)")
# each party sums locally
total = anonymity.reconstruct(shares.sum(axis=1, keepdims=True))[0]
without_3 = anonymity.reconstruct(
    anonymity.secret_shares(salaries[:2], 3, seed=1).sum(1, keepdims=True)
)[0]
print(
    f"total of the three: {total:,}; total without person 3: {without_3:,}; "
    f"difference: {total - without_3:,} = person 3's salary"
)
assert total == salaries.sum() and total - without_3 == salaries[2]

# %% [markdown]
# **Pseudonymisation and the linkage attack.** A hospital releases, for research, a
# table of diagnoses in which each name is replaced by its SHA-256 hash, and keeps ZIP
# code, date of birth and sex, which researchers want. An attacker holds a public list
# (an electoral roll, a social-network profile) with names, ZIP codes, birth dates and
# sex of some of the same people, and **links** the two tables on those columns. This
# is how Sweeney re-identified the medical record of the governor of Massachusetts in
# the 1990s; she estimated that 87% of the US population is unique by 5-digit ZIP
# code, sex and date of birth {cite}`sweeney2000simple,sweeney2002kanonymity`, and
# the same kind of linkage re-identified users of the "anonymous" Netflix Prize data
# {cite}`narayanan2008robust`. Our population is invented (`anonymity.synthetic_people`:
# 20 ZIP codes, birth dates over 55 years, a diagnosis drawn independently of
# everything else).

# %%
show_source(anonymity, start="# --- k-anonymity (shown", end="# --- end k-anonymity")

# %%
people = anonymity.synthetic_people(5000, seed=0)
quasi = ["zip", "birth", "sex"]
# unsalted SHA-256 of the name
released = {
    "id": anonymity.pseudonym(people["name"]),
    **{k: people[k] for k in ("zip", "birth", "sex", "diagnosis")},
}
rng_an = np.random.default_rng(1)
# people on the attacker's list
known = rng_an.choice(len(people["name"]), 500, replace=False)
auxiliary = {k: people[k][known] for k in ("name", "zip", "birth", "sex")}
print("released rows:", {k: str(v[0]) for k, v in released.items()})


def coarsen(table, zip_digits, birth):
    """Generalise the quasi-identifiers: keep the first ZIP digits; birth date, year or decade."""
    out = dict(table, zip=table["zip"] // 10 ** (5 - zip_digits))
    year = table["birth"].astype("datetime64[Y]").astype(int) + 1970
    out["birth"] = {"date": table["birth"], "year": year, "decade": year // 10 * 10}[
        birth
    ]
    return out


print(
    f"{'release (ZIP digits, birth)':30} {'k':>4} {'l':>4} {'singled out':>12} "
    f"{'diagnosis learned for sure':>27}"
)
linkage = {}
for zip_digits, birth in [(5, "date"), (5, "year"), (3, "year"), (3, "decade")]:
    rel, aux = (
        coarsen(released, zip_digits, birth),
        coarsen(auxiliary, zip_digits, birth),
    )
    r = anonymity.linkage_attack(rel, aux, quasi, "diagnosis")
    learned = r["learned"] != None  # noqa: E711
    # never wrong
    assert np.all(r["learned"][learned] == people["diagnosis"][known][learned])
    linkage[zip_digits, birth] = (r["singled_out"].mean(), learned.mean())
    print(
        f"{f'{zip_digits} digits, {birth}':30} {anonymity.k_anonymity(rel, quasi):4d} "
        f"{anonymity.l_diversity(rel, quasi, 'diagnosis'):4d} {r['singled_out'].mean():12.1%} "
        f"{learned.mean():27.1%}"
    )

# the hash hides nothing from someone who can guess the input: hash every candidate
days = np.arange(np.datetime64("1950-01-01"), np.datetime64("2005-01-01"))
lookup = dict(zip(anonymity.pseudonym(days), days))
hashed_births = anonymity.pseudonym(people["birth"][:100])
print(
    f"hashing all {len(days):,} possible birth dates reverses "
    f"{np.mean([lookup[h] == d for h, d in zip(hashed_births, people['birth'][:100])]):.0%} "
    "of hashed birth dates; a secret salt (a key) prevents this, but keeps the records linkable"
)
assert linkage[5, "date"][0] > 0.95 and linkage[3, "decade"] == (0.0, 0.0)

# %% [markdown]
# With exact birth dates almost everyone on the attacker's list is **singled out**, and
# with them their diagnosis; hashing the name changed nothing. Coarsening the
# quasi-identifiers raises $k$, the size of the smallest group of records that look
# alike, and lowers both rates; the column $l$ counts the fewest distinct diagnoses in
# any group. The middle rows show the gap between the two columns of the table:
# an attacker can learn a diagnosis **without** singling anyone out, when every
# record in the group has the same one (the *homogeneity* attack that $l$-diversity
# guards against {cite}`machanavajjhala2007ldiversity`). Note also what the last row
# cost: researchers lost the birth dates and ZIP codes they wanted.
#
# For generative models the release is usually not a table but a **model**, trained on
# text, images or audio: there are no quasi-identifier columns to coarsen, a face or a
# writing style identifies by itself, and a model can memorise a rare record whatever
# was removed from its neighbours (section 2). Encryption protects the data on its way
# to training, not from what training produces. What bounds the leak of the model
# itself is the property of the next section.
#
# A guarantee needs a definition that holds for *every* attacker, not just this one.

# %% [markdown]
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
mu = Delta**2 / (2 * sigma**2)


def delta_of_eps(eps, sigma, Delta):
    """Exact delta(eps) of the Gaussian mechanism (Balle & Wang, 2018)."""
    a, b = Delta / (2 * sigma), eps * sigma / Delta
    return stats.norm.cdf(a - b) - np.exp(eps) * stats.norm.cdf(-a - b)


rng = np.random.default_rng(0)
f_D, f_D1 = 0.5, 0.5 - Delta  # neighbouring datasets' means
o = f_D + sigma * rng.standard_normal(pick(full=4_000_000, fast=1_000_000))
L = stats.norm.logpdf(o, f_D, sigma) - stats.norm.logpdf(o, f_D1, sigma)
print(
    f"sigma = {sigma:.4f}; privacy loss: mean {L.mean():.4f} (formula {mu:.4f}), "
    f"variance {L.var():.4f} (formula {2 * mu:.4f})"
)
assert abs(L.mean() - mu) < 0.01 and abs(L.var() / (2 * mu) - 1) < 0.02

eps_grid = np.linspace(0.0, 0.6, 7)
mc = np.array([np.mean(np.maximum(0, 1 - np.exp(e - L))) for e in eps_grid])
exact = delta_of_eps(eps_grid, sigma, Delta)
for e, m, x in zip(eps_grid, mc, exact):
    print(f"eps = {e:.1f}: delta Monte Carlo {m:.5f}, formula {x:.5f}")
assert np.allclose(mc, exact, atol=3e-3)
actual = delta_of_eps(eps_target, sigma, Delta)
print(
    f"textbook sigma for (eps, delta) = ({eps_target}, {delta_target:g}): exact delta at "
    f"eps = {eps_target} is {actual:.2e} <= {delta_target:g}: the textbook bound is conservative"
)
assert actual <= delta_target
# the smallest sigma that works: solve delta(eps_target; sigma) = delta_target
sig_exact = optimize.brentq(
    lambda s: delta_of_eps(eps_target, s, Delta) - delta_target, 0.1 * sigma, sigma
)
print(
    f"the exact calibration needs sigma of about {sig_exact:.4f}, "
    f"{sig_exact / sigma:.0%} of the textbook value"
)

# %% [markdown]
# **What the attacker sees.** The output $o$ is all the attacker gets. The best test
# of "$D$ or $D'$?" thresholds $o$ (Neyman–Pearson); its ROC curve must lie below the
# line $\mathrm{TPR} = e^\varepsilon\, \mathrm{FPR} + \delta$. We compute it with the same
# `roc_curve` as the membership attack above.

# %%
m = pick(full=400_000, fast=100_000)
o_in = f_D + sigma * rng.standard_normal(m)  # the record is in (D)
o_out = f_D1 + sigma * rng.standard_normal(m)  # it is not (D')
fpr, tpr, _ = security.roc_curve(o_in, o_out)
k = np.linspace(0, len(fpr) - 1, 2000).astype(int)
bound = np.minimum(1, np.exp(eps_target) * fpr + delta_target)
slack = 4 / math.sqrt(m)  # Monte Carlo error
print(
    f"best attack: AUC {security.roc_auc(o_in, o_out):.3f}, "
    f"advantage {security.advantage(o_in, o_out):.3f}; "
    f"largest excess over the DP bound {np.max(tpr - bound):.4f} (sampling error ~{slack:.4f})"
)
assert np.all(tpr <= bound + slack)
fig, ax = plt.subplots(figsize=(4.8, 4.5))
ax.plot(fpr[k], tpr[k], label="best attack on the Gaussian mechanism")
ax.plot(fpr[k], bound[k], "k--", label=r"DP bound $e^\varepsilon$ FPR + $\delta$")
ax.plot([0, 1], [0, 1], "k:", label="guessing")
ax.set(
    xlabel="false-positive rate",
    ylabel="true-positive rate",
    title=f"(ε = {eps_target}, δ = {delta_target:g})-DP caps every attack",
)
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
# some huge gradients
g = rng.standard_normal((64, 50)) * rng.exponential(3.0, (64, 1))
changes = [
    np.linalg.norm(clipped_sum(g, C) - clipped_sum(np.delete(g, i, 0), C))
    for i in range(64)
]
print(
    f"largest change of the clipped sum when one example is removed: {max(changes):.4f} "
    f"(bound C = {C}); without clipping: "
    f"{max(np.linalg.norm(g, axis=1)):.2f}"
)
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
marked = security.embed_watermark(x_img, key)  # default strength a = 0.04
n_band = int(security.watermark_band((28, 28)).sum())
rms = np.sqrt(np.mean((marked - x_img) ** 2))
print(
    f"{n_band} marked DCT coefficients; RMS pixel change {rms:.4f} "
    f"(formula a sqrt(n / 784) = {0.04 * math.sqrt(n_band / 784):.4f} before "
    f"clipping to [0, 1]); PSNR {np.median(psnr(marked, x_img)):.1f} dB"
)
fig, axes = plt.subplots(1, 3, figsize=(12, 4.3))
show_images(x_img[:8], "original", nrow=4, ax=axes[0])
show_images(marked[:8], "watermarked", nrow=4, ax=axes[1])
show_images(
    np.clip(0.5 + 5 * (marked[:8] - x_img[:8]), 0, 1),
    "difference x 5",
    nrow=4,
    ax=axes[2],
)
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
print(
    f"marked, right key:   detected {np.mean(z_marked > tau):.1%}, median z {np.median(z_marked):.1f}"
)
print(
    f"unmarked:            false positives {np.mean(z_clean > tau):.2%} "
    f"(mean z {z_clean.mean():.2f}, sd {z_clean.std():.2f})"
)
print(f"marked, wrong key:   false positives {np.mean(z_wrong > tau):.2%}")
print(f"AUC marked vs unmarked: {security.roc_auc(z_marked, z_clean):.4f}")

# the mark adds a n to the numerator: z is about a n / sqrt(sum c^2 + a^2 n) (before clipping)
c_band = fft.dctn(x_img, axes=(1, 2), norm="ortho")[
    :, security.watermark_band((28, 28))
]
z_pred = 0.04 * n_band / np.sqrt(np.sum(c_band**2, axis=1) + 0.04**2 * n_band)
z_noclip = security.detect_watermark(
    security.embed_watermark(x_img, key, clip=False), key
)
print(
    f"without clipping: median z {np.median(z_noclip):.2f}, formula {np.median(z_pred):.2f}; "
    f"clipping lowers it to {np.median(z_marked):.2f}"
)
assert abs(np.median(z_noclip) / np.median(z_pred) - 1) < 0.05

# the null distribution, for one image and 3,000 keys
z_keys = np.array([security.detect_watermark(x_img[0], k) for k in range(3000)])
fp1 = np.mean(z_keys > stats.norm.ppf(0.99))
tau1 = stats.norm.ppf(0.99)
print(
    f"one unmarked image, 3000 keys: mean z {z_keys.mean():.3f}, variance {z_keys.var():.3f}, "
    f"P(z > {tau1:.2f}) = {fp1:.4f} (normal theory 0.0100, Hoeffding bound "
    f"{math.exp(-(tau1**2) / 2):.4f})"
)
print(
    f"at the same threshold: {np.mean(z_clean > tau1):.2%} of unmarked images, "
    f"{np.mean(z_wrong > tau1):.2%} of marked images with the wrong key"
)
# a fixed pair of keys: their patterns share sum(p p') = overlap, which shifts every z a little
p1, p2 = (
    security.watermark_pattern((28, 28), key),
    security.watermark_pattern((28, 28), wrong_key),
)
overlap = int(np.sum(p1 * p2))
shift = np.median(
    0.04 * overlap / np.sqrt(np.sum(c_band**2, axis=1) + 0.04**2 * n_band)
)
print(
    f"the two patterns agree on {(n_band + overlap) // 2} of {n_band} signs (sum p p' = {overlap}); "
    f"predicted shift of z {shift:+.2f}, measured mean z with the wrong key "
    f"{z_wrong.mean() - z_clean.mean():+.2f} relative to unmarked images"
)
assert abs(z_keys.var() - 1) < 0.1 and fp1 <= math.exp(-(tau1**2) / 2)
assert np.mean(z_clean > tau1) < 0.03 and np.mean(z_wrong > tau1) < 0.03

fig, ax = plt.subplots(figsize=(7, 3.8))
bins = np.linspace(-5, max(12, z_marked.max()), 70)
for z, lab in [
    (z_clean, "unmarked"),
    (z_wrong, "marked, wrong key"),
    (z_marked, "marked, right key"),
]:
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
noisy = [
    np.clip(marked + s * noise_rng.standard_normal(marked.shape), 0, 1) for s in noise
]
r_noise = [detection_rate(x) for x in noisy]
print(
    "PSNR of the noisy images against the marked ones: "
    + ", ".join(
        f"sd {s}: {np.median(psnr(x, marked)):.1f} dB"
        for s, x in zip(noise[1:], noisy[1:])
    )
)
r_bright = [detection_rate(np.clip(marked + b, 0, 1)) for b in bright]
r_contrast = [detection_rate(np.clip(c * marked, 0, 1)) for c in (1.0, 0.8, 0.5)]


def crop(images, k):
    """Cut k rows and columns off the top-left and pad the bottom-right with black."""
    return np.pad(images[:, k:, k:], ((0, 0), (0, k), (0, k)))


r_crop = [detection_rate(crop(marked, k)) for k in crops]
for name, xs, rs in [
    ("noise sd", noise, r_noise),
    ("brightness +", bright, r_bright),
    ("contrast x", (1.0, 0.8, 0.5), r_contrast),
    ("crop px", crops, r_crop),
]:
    print(f"{name:13}" + "  ".join(f"{x:>5}: {r:6.1%}" for x, r in zip(xs, rs)))
assert r_contrast[1] == r_contrast[0] and r_crop[1] < 0.05
# noise that damages the image more than the mark did still leaves most marks detectable
assert r_noise[2] > 0.9 and np.median(psnr(noisy[2], marked)) < np.median(
    psnr(marked, x_img)
)

fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
for ax, xs, rs, lab in [
    (axes[0], noise, r_noise, "Gaussian noise sd"),
    (axes[1], bright, r_bright, "brightness added"),
    (axes[2], crops, r_crop, "pixels cropped"),
]:
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
    return np.max(
        [
            security.detect_watermark(np.roll(images, (dy, dx), axis=(1, 2)), key)
            for dy, dx in shifts
        ],
        axis=0,
    )


zc, zu = z_max(crop(marked, 2)), z_max(x_img)
print(f"{len(shifts)} shifts; tau = {tau:.2f}, corrected tau_m = {tau_m:.2f}")
print(f"cropped by 2 px, search over shifts: detected {np.mean(zc > tau_m):.1%}")
print(
    f"unmarked, search over shifts: false positives {np.mean(zu > tau):.2%} with tau "
    f"(the symptom), {np.mean(zu > tau_m):.2%} with tau_m (the fix)"
)

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

# %% [markdown]
# ## 6. Adversarial examples and adversarial training
#
# Under "model attacks" (模型攻击) the articles write that attackers may use
# adversarial attacks to deceive a generative model, and list three defences:
# "对抗性训练：在模型训练过程中，加入对抗性样本，提高模型对对抗性攻击的鲁棒性"
# (adversarial training: add adversarial examples during training, to make the model
# robust), detection and filtering of adversarial examples, and secure design (article
# 001, section 3.10.3). Around generative models the attacks take several forms: a
# small perturbation that makes a detector of generated images call a fake real
# {cite}`carlini2020evading`, and optimised text suffixes that make an aligned language
# model comply with requests it should refuse {cite}`zou2023universal`. The mechanics are
# clearest on a classifier, so we attack our own: the MNIST classifier that scores the
# course's generators ({doc}`../08_evaluation/evaluation_concepts`), a NumPy MLP.
#
# An **adversarial example** {cite}`szegedy2014intriguing` is an input $x' = x + \delta$
# with a perturbation too small to change what a person sees, $\lVert \delta \rVert_\infty \le
# \varepsilon$ (no pixel moves by more than $\varepsilon$), that changes the model's
# answer. The **fast gradient sign method** (FGSM, 快速梯度符号法)
# {cite}`goodfellow2015explaining` takes one step that maximises the first-order
# approximation of the loss $L$ inside that box:
#
# $$
# x' = \operatorname{clip}_{[0, 1]}\big(x + \varepsilon \operatorname{sign} \nabla_x L(x, y)\big),
# \qquad L(x') - L(x) \approx \varepsilon\, \lVert \nabla_x L(x, y) \rVert_1 .
# $$
#
# The increase is a sum over all 784 pixels: many tiny changes, each aligned with the
# gradient, add up to a large one. That is the explanation of
# {cite}`goodfellow2015explaining`: models that are nearly linear in their input are
# vulnerable because inputs are high-dimensional. **Projected gradient descent** (PGD,
# 投影梯度下降) {cite}`madry2018towards` takes several smaller steps, projecting back
# into the box after each, and is the standard strong attack. The gradient with
# respect to the pixels is backpropagation taken one step further than usual:

# %%
show_source(
    adversarial, start="# --- input gradient (shown", end="# --- end input gradient"
)

# %%
ev = load_evaluator("mnist", verbose=False)
x_mn, y_mn = load_mnist("test")
n_adv = pick(full=2000, fast=500)
x_te, y_te = x_mn[:n_adv].astype(np.float32) / 255.0, y_mn[:n_adv]
print(
    f"{ev!r}\nclean accuracy on {n_adv} test digits: {adversarial.accuracy(ev, x_te, y_te):.1%}"
)

# the gradient against finite differences (float64 copy of the weights), and the first-order formula
ev64 = {k: v.astype(np.float64) for k, v in ev.params.items()}
x64, y4 = x_te[:4].astype(np.float64), y_te[:4]


def ce(params, x, y):
    """Cross-entropy of each image: logsumexp(z) - z_y."""
    z = adversarial.logits(params, x)
    m = z.max(1)
    return m + np.log(np.exp(z - m[:, None]).sum(1)) - z[np.arange(len(y)), y]


grad = adversarial.input_gradient(ev64, x64, y4)
bump = np.zeros_like(x64)
bump[:, 14, 14] = 1e-6
fd = (ce(ev64, x64 + bump, y4) - ce(ev64, x64 - bump, y4)) / 2e-6
print(
    f"d loss / d pixel (14, 14): backprop {np.round(grad[:, 14, 14], 5)}, finite differences {np.round(fd, 5)}"
)
assert np.allclose(grad[:, 14, 14], fd, rtol=1e-4, atol=1e-7)
for small in (1e-3, 1e-4):
    x_small = adversarial.fgsm(ev64, x64, y4, small)
    rise = ce(ev64, x_small, y4) - ce(ev64, x64, y4)
    # first order (with clipping at 0 and 1)
    linear = np.sum(grad * (x_small - x64), axis=(1, 2))
    print(
        f"FGSM with eps = {small:g}: actual rise of the loss / first-order prediction = "
        f"{np.round(rise / linear, 4)}"
    )
assert np.allclose(rise / linear, 1, atol=0.02)
print(
    "without clipping the first-order rise would be eps |grad|_1; clipping at 0 removes "
    f"{1 - linear.sum() / (small * np.abs(grad).sum()):.0%} of it here (the black background)"
)

# %% [markdown]
# Now the attack at increasing $\varepsilon$, against a control: random $\pm\varepsilon$ noise,
# the same size of change in every pixel, in a random direction.

# %%
eps_list = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2]
rng_adv = np.random.default_rng(0)
curves = {"random ±eps noise": [], "FGSM": [], "PGD, 10 steps": []}
for e in eps_list:
    noisy = np.clip(x_te + e * np.sign(rng_adv.standard_normal(x_te.shape)), 0, 1)
    curves["random ±eps noise"].append(adversarial.accuracy(ev, noisy, y_te))
    curves["FGSM"].append(
        adversarial.accuracy(ev, adversarial.fgsm(ev, x_te, y_te, e), y_te)
    )
    curves["PGD, 10 steps"].append(
        adversarial.accuracy(ev, adversarial.pgd(ev, x_te, y_te, e, steps=10), y_te)
    )
for name, acc in curves.items():
    print(
        f"{name:18}" + "  ".join(f"eps {e:<4}: {a:5.1%}" for e, a in zip(eps_list, acc))
    )
assert (
    curves["FGSM"][3] < 0.5 * curves["FGSM"][0]
    and curves["random ±eps noise"][3] > 0.9 * curves["FGSM"][0]
)
assert all(p <= f + 0.02 for p, f in zip(curves["PGD, 10 steps"], curves["FGSM"]))

x_fgsm = adversarial.fgsm(ev, x_te[:6], y_te[:6], 0.1)
fig, axes = plt.subplots(
    3, 7, figsize=(11, 5), gridspec_kw={"width_ratios": [1] * 6 + [1.3]}
)
for j in range(6):
    for row, (img, title) in enumerate(
        [
            (x_te[j], f"{adversarial.predict(ev, x_te[j])[0]}"),
            (0.5 + 5 * (x_fgsm[j] - x_te[j]), "perturbation"),
            (x_fgsm[j], f"{adversarial.predict(ev, x_fgsm[j])[0]}"),
        ]
    ):
        axes[row, j].imshow(img, cmap="gray", vmin=0, vmax=1)
        axes[row, j].set_title(title if row == 1 else f"predicted {title}", fontsize=8)
        axes[row, j].axis("off")
for row, text in enumerate(
    ["original", "5 (x' - x), grey = 0", "adversarial, eps = 0.1"]
):
    axes[row, 6].text(0, 0.5, text, fontsize=9, va="center")
    axes[row, 6].axis("off")
fig.suptitle("FGSM against the course's MNIST classifier")
plt.tight_layout()
plt.show()

fig, ax = plt.subplots(figsize=(6, 3.8))
for name, acc in curves.items():
    ax.plot(eps_list, acc, "o-", label=name)
ax.set(
    xlabel=r"$\varepsilon$ (largest change of a pixel, on a 0–1 scale)",
    ylabel="test accuracy",
    title="Accuracy under attack",
    ylim=(-0.03, 1.0),
)
ax.legend()
plt.show()

# %% [markdown]
# Random noise of size 0.1 in every pixel costs almost nothing; the same budget spent
# along the sign of the gradient takes most of the accuracy, and PGD all of it at
# a slightly larger $\varepsilon$. The perturbation is a faint, structured haze. The
# direction matters, not the size.
#
# **Adversarial training** replaces the training loss by the loss on attacked inputs,
# a min-max problem {cite}`madry2018towards`:
#
# $$
# \min_\theta\; \mathbb E_{(x, y)} \Big[\max_{\lVert \delta \rVert_\infty \le \varepsilon} L_\theta(x + \delta, y)\Big].
# $$
#
# The inner maximum is approximated by an attack on the current weights at every
# step; we use FGSM from a random point of the box, which is cheap and, with the
# random start, about as good as PGD at this scale {cite}`wong2020fast`. Two models
# with the same architecture, data, epochs and seed: one trained as usual, one
# adversarially with $\varepsilon = 0.1$, on at most 20,000 training images (offline, the
# 5,000-image MNIST subset; see the data note of {doc}`../08_evaluation/evaluation_concepts`).

# %%
x_tr, y_tr = load_mnist("train")
# at most 20,000 (all 5,000 of the offline subset)
x_tr, y_tr = x_tr[:20_000], y_tr[:20_000]
epochs_adv = pick(full=20, fast=6)
standard, _ = adversarial.train_mlp(x_tr, y_tr, epochs_adv, seed=0)
robust, hist_rob = adversarial.train_mlp(
    x_tr, y_tr, epochs_adv, attack="fgsm", eps=0.1, seed=0
)
table = {}
for name, model in (("standard", standard), ("adversarially trained", robust)):
    row = {"clean": adversarial.accuracy(model, x_te, y_te)}
    for e in (0.1, 0.2):
        row[f"FGSM {e}"] = adversarial.accuracy(
            model, adversarial.fgsm(model, x_te, y_te, e), y_te
        )
        row[f"PGD {e}"] = adversarial.accuracy(
            model, adversarial.pgd(model, x_te, y_te, e, steps=20, seed=1), y_te
        )
    table[name] = row
print(
    f"{len(x_tr)} training images, {epochs_adv} epochs; test accuracy on {n_adv} digits:"
)
print(f"{'':24}" + "".join(f"{k:>10}" for k in table["standard"]))
for name, row in table.items():
    print(f"{name:24}" + "".join(f"{v:10.1%}" for v in row.values()))
assert table["adversarially trained"]["PGD 0.1"] > table["standard"]["PGD 0.1"] + 0.3
assert table["adversarially trained"]["clean"] < table["standard"]["clean"] + 0.01

fig, ax = plt.subplots(figsize=(7, 3.5))
keys = list(table["standard"])
for i, (name, row) in enumerate(table.items()):
    ax.bar(np.arange(len(keys)) + 0.4 * i, list(row.values()), width=0.4, label=name)
ax.set_xticks(np.arange(len(keys)) + 0.2, keys)
ax.set(
    ylabel="test accuracy",
    title=r"Adversarial training at $\varepsilon$ = 0.1",
    ylim=(0, 1),
)
ax.legend()
plt.show()

# %% [markdown]
# The adversarially trained model keeps a large part of its accuracy under attack at
# the $\varepsilon$ it was trained for, against PGD as well as FGSM, where the standard
# model keeps almost none, and it gives up a little clean accuracy (compare the
# printed rows). What the numbers do **not** show:
#
# * robustness holds for the **threat model** (威胁模型) trained for, here changes of
#   at most 0.1 per pixel: at $\varepsilon = 0.2$ most of it is gone, and a rotation, a
#   patch or a change of a few pixels by a lot is a different threat;
# * a defence is only as good as the strongest attack tried against it. Many
#   published defences, including detectors of adversarial examples (the articles'
#   "对抗性样本检测和过滤"), fell to attacks designed for them
#   {cite}`carlini2017adversarial,athalye2018obfuscated`; evaluate with strong,
#   adaptive attacks {cite}`carlini2019evaluating`, at least PGD with many steps, as here;
# * it costs training time (one extra forward and backward pass per step here, ten
#   or more with PGD) and usually some clean accuracy, a tension that does not go away
#   with more training {cite}`tsipras2019robustness`.
#
# ## 7. Explainability
#
# The articles ask for "透明度与可解释性" (transparency and explainability) three times,
# so that generated content is easier to review and regulate (article 001, sections
# 3.10.1, 3.11.3 and 5.5.4), and list the "black-box" nature of generative models among
# the open challenges (section 7.2). "Explaining" covers different questions:
# *why did a filter or detector decide this* (section 1's blocked user deserves an
# answer), *what do a generator's latent variables control*, and *where does an output
# come from* (provenance, section 4; memorised training data, section 2). We try the
# first two, and test the answers.
#
# A **saliency map** (显著图) {cite}`simonyan2014deep` shows, for each pixel, how strongly
# the class score reacts to it: $S_i = |\partial z_y / \partial x_i|$, the gradient of the
# logit $z_y$ of the predicted class. A variant multiplies by the input: since the
# pixels are 0 on the black background, $x_i\, \partial z_y / \partial x_i$ is the first-order
# estimate of how much $z_y$ drops if pixel $i$ is set to black, $z_y(x) - z_y(x \text{ with } x_i = 0)$.
# Two tests check whether a map means anything:
#
# * **deletion** {cite}`petsiuk2018rise`: set the top-ranked pixels to black and watch the
#   predicted class's probability; a faithful ranking makes it fall faster than a
#   random ranking does;
# * **model randomisation** {cite}`adebayo2018sanity`: compute the map for an
#   *untrained* network. If it looks the same as for the trained one, the map shows the
#   input, not what the model learned.

# %%
n_sal = pick(full=1000, fast=300)
xs_, ys_ = x_te[:n_sal], y_te[:n_sal]
untrained = adversarial.init_mlp(seed=1)
maps = {
    "|gradient|": adversarial.saliency(ev, xs_, ys_),
    "gradient x input": adversarial.input_gradient(ev, xs_, ys_, of="logit") * xs_,
}
maps_untrained = {
    "|gradient|": adversarial.saliency(untrained, xs_, ys_),
    "gradient x input": adversarial.input_gradient(untrained, xs_, ys_, of="logit")
    * xs_,
}

fig, axes = plt.subplots(3, 6, figsize=(10, 5.2))
for j in range(6):
    for row, (img, cmap, title) in enumerate(
        [
            (xs_[j], "gray", f"digit {ys_[j]}"),
            (maps["|gradient|"][j], "magma", "|gradient|"),
            (maps["gradient x input"][j], "RdBu_r", "gradient x input"),
        ]
    ):
        lim = np.abs(img).max() if row == 2 else None
        axes[row, j].imshow(img, cmap=cmap, vmin=-lim if lim else None, vmax=lim)
        axes[row, j].set_title(title, fontsize=8)
        axes[row, j].axis("off")
fig.suptitle(
    "What the classifier's logit reacts to (bottom: red = evidence for the class, blue = against)"
)
plt.tight_layout()
plt.show()


def rank_corr(a, b, images, ink_only=True):
    """Mean Spearman correlation of two |maps|, image by image (on the pixels with ink, or all)."""
    return float(
        np.mean(
            [
                stats.spearmanr(np.abs(u)[m], np.abs(v)[m])[0]
                for u, v, m in zip(
                    a[:100],
                    b[:100],
                    images[:100] > 0 if ink_only else np.ones_like(images[:100], bool),
                )
            ]
        )
    )


fractions = np.linspace(0, 0.1, 6)
deletion = {
    name: adversarial.deletion_curve(ev, xs_, ys_, m, fractions)
    for name, m in maps.items()
}
deletion["random order"] = adversarial.deletion_curve(
    ev, xs_, ys_, rng_adv.random(xs_.shape), fractions
)
for name, curve in deletion.items():
    print(
        f"deleting by {name:17}: p(class) "
        + " ".join(f"{p:.2f}" for p in curve)
        + f"  (0 to {fractions[-1]:.0%} of the pixels)"
    )
corr = {
    name: (
        rank_corr(maps[name], maps_untrained[name], xs_),
        rank_corr(maps[name], maps_untrained[name], xs_, ink_only=False),
    )
    for name in maps
}
for name, (on_ink, on_all) in corr.items():
    print(
        f"{name:17}: rank correlation of the trained and the untrained network's |maps|: "
        f"{on_ink:.2f} on the pixels with ink, {on_all:.2f} on all pixels"
    )
assert (
    deletion["gradient x input"][2]
    < deletion["|gradient|"][2]
    < deletion["random order"][2]
)
assert corr["gradient x input"][0] > corr["|gradient|"][0] + 0.2

fig, ax = plt.subplots(figsize=(6, 3.6))
for name, curve in deletion.items():
    ax.plot(fractions * 100, curve, "o-", label=name)
ax.set(
    xlabel="pixels set to black (%)",
    ylabel="mean probability of the class",
    title="Deletion test",
)
ax.legend()
plt.show()

# %% [markdown]
# Both maps pass the deletion test, gradient × input by a wide margin: removing the few
# pixels it ranks first destroys the prediction. But gradient × input fails the
# randomisation test: the **untrained** network's map agrees with the trained one's
# (printed: clearly on the pixels with ink, almost perfectly over all pixels, since both
# are zero wherever the digit is black), while the plain gradient's maps do not agree at
# all. Multiplying by the input paints the digit into any map, whatever the model has
# learned, which is what the test is meant to catch {cite}`adebayo2018sanity`. And the deletion test has its own bias: the
# images with holes are unlike anything the classifier was trained on, and gradient ×
# input wins partly because it *is* a first-order estimate of what deletion does
# {cite}`hooker2019benchmark`. An explanation is a claim to be tested, not a picture
# to be admired; and a saliency map explains one decision of one model, not the data.
#
# **Latent traversal** (潜空间遍历). For a generator, a common explanation is to vary one
# latent coordinate and look at what changes. We use the linear-Gaussian generator of
# {doc}`../04_vaes/vae_concepts`, probabilistic PCA {cite}`tipping1999ppca`, whose
# maximum-likelihood fit is an eigendecomposition: $x = \mu + W z + \text{noise}$,
# $z \sim \mathcal N(0, I_k)$, with $W = U_k (\Lambda_k - \sigma^2 I)^{1/2}$. A VAE's decoder is
# a nonlinear version of the same map ({doc}`../04_vaes/vae_pytorch` traverses one).
# We decode $z = t\, e_i$ for $t$ from $-2.5$ to $2.5$ along the first three axes, and let
# the classifier say what it sees.

# %%
k_lat = 10
# at most 10,000 digits
flat = x_tr[:10_000].reshape(-1, 784).astype(np.float64) / 255.0
mu_px = flat.mean(0)
lam_px, vec_px = np.linalg.eigh(np.cov(flat - mu_px, rowvar=False))
lam_px, vec_px = lam_px[::-1], vec_px[:, ::-1]
noise_var = lam_px[k_lat:].mean()
W_lat = vec_px[:, :k_lat] * np.sqrt(lam_px[:k_lat] - noise_var)
steps_t = np.linspace(-2.5, 2.5, 7)


def traverse(W, axis):
    return np.clip(mu_px + np.outer(steps_t, W[:, axis]), 0, 1).reshape(-1, 28, 28)


rot, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((k_lat, k_lat)))
W_rot = W_lat @ rot  # a rotated but equally good fit
cov_gap = np.abs(W_lat @ W_lat.T - W_rot @ W_rot.T).max()
print(
    f"PPCA with k = {k_lat} on {len(flat)} training digits; noise variance {noise_var:.4f}; "
    f"largest difference between the model covariances W W^T before and after a random "
    f"rotation of z: {cov_gap:.1e}"
)
assert cov_gap < 1e-10

fig, axes = plt.subplots(6, 7, figsize=(8, 7.4))
for r, (W, axis, name) in enumerate(
    [(W_lat, a, f"axis {a + 1}") for a in range(3)]
    + [(W_rot, a, f"rotated axis {a + 1}") for a in range(3)]
):
    frames = traverse(W, axis)
    labels = ev.predict(frames)
    for j in range(7):
        axes[r, j].imshow(frames[j], cmap="gray", vmin=0, vmax=1)
        axes[r, j].set_xticks([])
        axes[r, j].set_yticks([])
        axes[r, j].set_title(f"{labels[j]}", fontsize=8)
    axes[r, 0].set_ylabel(name, fontsize=8)
    print(
        f"{name:16}: classifier reads {labels.tolist()}; ink {np.round(frames.mean((1, 2)), 3).tolist()}"
    )
for j in range(7):
    axes[-1, j].set_xlabel(f"t = {steps_t[j]:+.1f}", fontsize=8)
fig.suptitle(
    "Latent traversals of a linear generator (titles: the classifier's reading)"
)
plt.tight_layout()
plt.show()

# %% [markdown]
# The first axis runs between a round, heavily inked 0 and a thin stroke (a 1): it is
# mostly the amount of ink (printed); the next ones morph one digit shape into another.
# (The sign of each axis is arbitrary: another run may traverse it the other way.) That
# reads like an explanation, but the last three rows are a warning: rotating the latent space gives
# a model with **exactly** the same distribution of images, hence the same likelihood
# (printed), and different "meanings" of its axes. Here the axes are pinned down only
# by the convention of ordering them by variance; in a VAE, whose prior
# $\mathcal N(0, I)$ is unchanged by rotations, nothing in the objective pins them down
# at all. Without assumptions beyond the data, which factor an axis encodes is not
# identifiable {cite}`locatello2019challenging`. A traversal describes one trained
# model; it is worth showing, and not evidence of what the data "consists of".

# %% [markdown]
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
#
# :::{exercise}
# :label: security-concepts-ex-robust-eps
# Train a model adversarially for $\varepsilon = 0.2$ instead of 0.1
# (`adversarial.train_mlp(x_tr, y_tr, epochs_adv, attack="fgsm", eps=0.2, seed=0)`) and
# measure its clean accuracy and its accuracy under 20-step PGD at $\varepsilon = 0.1$ and
# 0.2. Does training for the larger threat buy robustness against it? What does it cost?
# :::
#
# :::{solution} security-concepts-ex-robust-eps
# :class: dropdown
# In the course's run (fast mode: 6 epochs on the 5,000-image subset, 500 test digits)
# the clean accuracy fell to 75% (89% when trained for 0.1), the accuracy under PGD at
# 0.1 to 45% (54%), and under PGD at 0.2 it stayed below 10%: no gain at all. Two
# causes: single-step FGSM training becomes unreliable as $\varepsilon$ grows (the model
# learns to resist FGSM but not stronger attacks, "catastrophic overfitting"
# {cite}`wong2020fast`; `attack="pgd"` is the usual remedy, at several times the cost),
# and robustness needs capacity: {cite}`madry2018towards` reached it at
# $\varepsilon = 0.3$ on MNIST with a larger convolutional network trained much longer. A
# threat model is chosen, and paid for; a bigger $\varepsilon$ is not automatically safer.
# :::
#
# :::{exercise}
# :label: security-concepts-ex-kanon
# Extend `coarsen` with a birth *month* (`table["birth"].astype("datetime64[M]")`) and
# ZIP codes cut to 4 digits. Of the releases with 5, 4 or 3 ZIP digits and birth date,
# month, year or decade, which are 5-anonymous? For those, what are $l$, and the share
# of the attacker's 500 people singled out or with their diagnosis learned for sure?
# :::
#
# :::{solution} security-concepts-ex-kanon
# :class: dropdown
# Only the releases with the decade of birth are 5-anonymous: with 5 or 4 ZIP digits
# $k = 5$ and $l = 2$, with 3 digits $k = 13$ and $l = 4$ (in the course's run). Every
# release with months or years still has groups of one person, and with months the
# attacker singles out 34% to 84% of the people on the list, depending on the ZIP
# digits. In the 5-anonymous releases nobody on the list is singled out or has a
# diagnosis learned for sure, but $l = 2$ means that some group holds only two
# diagnoses: knowing that a person is in it narrows theirs down to two. The price is
# visible too: a birth decade is nearly useless for most medical research. This is the
# utility/privacy trade-off that differential privacy (section 3) makes explicit.
# :::
