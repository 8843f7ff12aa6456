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
# # Trends: multimodal generation and efficiency
#
# The source articles end with a list of "future trends and challenges": models that
# connect text and images, models that are cheaper to run, and open problems of data,
# evaluation, control and regulation. Such lists age quickly, and most of what is
# behind them (models with billions of parameters trained on billions of
# image–caption pairs) cannot run in a classroom. The *ideas* can. This notebook
# takes the two trends that matter most for practice and runs each one at toy scale,
# NumPy only, with every formula checked:
#
# 1. **multimodal** (多模态) learning: a miniature CLIP that aligns MNIST digits with
#    short captions by a contrastive loss, gradients written by hand, then used for
#    retrieval and zero-shot classification;
# 2. **text-conditioned generation** (文本条件生成): classifier-free guidance, the
#    formula behind most text-to-image diffusion models, checked on a 1-D example;
# 3. **efficiency** (效率): counting parameters and floating-point operations,
#    8-bit quantisation of a weight matrix, and the key–value cache of
#    autoregressive sampling;
# 4. **learning from human feedback** (基于人类反馈的强化学习): a reward model learned
#    from comparisons, the exact optimum of the KL-regularised objective, and what
#    happens when a small text model follows the learned reward too far;
# 5. a short, cited account of the open **challenges**.
#
# Diffusion models themselves, the other trend of this chapter, have their own
# notebook: {doc}`diffusion_concepts`.

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
import re
import time

import matplotlib.pyplot as plt
import numpy as np

from aigc_course import is_fast, pick, rlhf, set_seed, show_source
from aigc_course.ar_numpy import (
    NGramLM,
    count_block_params,
    init_block,
    scaled_dot_product_attention,
)
from aigc_course.data import load_mnist, load_shakespeare
from aigc_course.numpy_nn import Adam
from aigc_course.plotting import show_images
from aigc_course.text import CharTokenizer

set_seed(0)
print(f"NumPy {np.__version__}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Multimodal learning: a miniature CLIP
#
# **CLIP** {cite}`radford2021clip` learns one **embedding space** (嵌入空间) shared by
# images and text. It has two encoders, one per **modality** (模态): an image encoder
# $f$ and a text encoder $g$, each followed by normalisation to unit length. In a batch
# of $N$ matching pairs $(x_i, c_i)$, the $N \times N$ matrix of cosine similarities,
# divided by a **temperature** $\tau$,
#
# $$
# L_{ij} = \frac{1}{\tau}\, \hat f(x_i)^\top \hat g(c_j), \qquad \hat f = f / \lVert f \rVert,\ \hat g = g / \lVert g \rVert,
# $$
#
# should be large on the diagonal (the true pairs) and small elsewhere. The
# **contrastive loss** (对比损失) is a cross-entropy in both directions, each image
# classifying which caption is its own among the $N$, and each caption its image:
#
# $$
# \mathcal L = \frac{1}{2N} \sum_{i=1}^N \Big[-\log \frac{e^{L_{ii}}}{\sum_j e^{L_{ij}}}
#                                            -\log \frac{e^{L_{ii}}}{\sum_j e^{L_{ji}}}\Big].
# $$
#
# This is the **InfoNCE** loss {cite}`vandenoord2018cpc`; its minimum pulls matching
# pairs together and pushes the other $N - 1$ captions of the batch away. CLIP trained
# image encoders (ResNets and vision Transformers) and a text Transformer on 400 million
# image–text pairs collected from the web. We keep the loss and shrink everything else:
#
# * images: MNIST digits, $784$ pixels, image encoder $f(x) = (x - \bar x) W_I$, a linear map to $d = 32$;
# * captions: short random sentences such as "a handwritten digit seven" or
#   "one small 7", encoded as a **bag of words** (词袋) $b \in \{0, 1\}^V$, text encoder $g(c) = b\, W_T$.
#
# The caption names the digit either as a word or as a numeral, and the remaining
# words carry no information. The model is never told that "seven" and "7" mean the
# same: it has to discover it, because both appear with images of sevens.

# %%
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
NUMERALS = [str(k) for k in range(10)]
ARTICLES, ADJECTIVES, NOUNS = (
    ["a", "the", "one"],
    ["handwritten", "small", "scanned", "blurry", ""],
    ["digit", "number", "figure", ""],
)
VOCAB = sorted(set(NAMES + NUMERALS + ARTICLES + ADJECTIVES + NOUNS) - {""})
WORD_ID = {w: i for i, w in enumerate(VOCAB)}


def caption(label, rng):
    """A random caption for a digit: filler words and the digit as a word or a numeral."""
    digit = NAMES[label] if rng.random() < 0.5 else NUMERALS[label]
    words = [rng.choice(ARTICLES), rng.choice(ADJECTIVES), rng.choice(NOUNS), digit]
    return " ".join(w for w in words if w)


def bag_of_words(captions):
    b = np.zeros((len(captions), len(VOCAB)))
    for i, text in enumerate(captions):
        for w in text.split():
            b[i, WORD_ID[w]] = 1.0
    return b


rng = np.random.default_rng(0)
x_train, y_train = load_mnist("train")
x_test, y_test = load_mnist("test")
x_test, y_test = (
    x_test[: pick(full=10_000, fast=2_000)],
    y_test[: pick(full=10_000, fast=2_000)],
)
pixel_mean = (x_train.reshape(len(x_train), -1) / 255.0).mean(0)


def image_features(images):
    return images.reshape(len(images), -1) / 255.0 - pixel_mean


X_train, X_test = image_features(x_train), image_features(x_test)
captions_train = [caption(int(k), rng) for k in y_train]
B_train = bag_of_words(captions_train)
print(f"{len(X_train)} training pairs, vocabulary of {len(VOCAB)} words:")
print(" ".join(VOCAB))
print(
    "examples:",
    " | ".join(f"{captions_train[i]!r}" for i in range(5)),
    "| labels",
    y_train[:5],
)

# %% [markdown]
# The backward pass, written by hand. With $P^{\text{row}}$ and $P^{\text{col}}$ the
# row-wise and column-wise softmax of $L$, the gradient with respect to the logits is
# $\partial\mathcal L / \partial L = \big[(P^{\text{row}} - I) + (P^{\text{col}} - I)\big] / (2N)$.
# Then $\partial\mathcal L/\partial\hat F = \frac1\tau (\partial\mathcal L/\partial L)\,\hat G$,
# the normalisation $\hat u = u / \lVert u\rVert$ passes a gradient $a$ back as
# $(a - \hat u\, (\hat u^\top a)) / \lVert u \rVert$ (it removes the component along $\hat u$: the
# length of $u$ does not matter), and the linear encoders give
# $\partial\mathcal L/\partial W_I = X^\top (\partial\mathcal L/\partial F)$.

# %%
def softmax_rows(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def normalise(u):
    norm = np.linalg.norm(u, axis=1, keepdims=True)
    return u / norm, norm


def normalise_backward(grad, u_hat, norm):
    return (grad - u_hat * np.sum(u_hat * grad, axis=1, keepdims=True)) / norm


def clip_loss_and_grads(W_img, W_txt, X, B, tau):
    """Symmetric InfoNCE loss of a batch of pairs (X[i], B[i]) and its gradients."""
    n = len(X)
    f_hat, f_norm = normalise(X @ W_img)
    g_hat, g_norm = normalise(B @ W_txt)
    logits = f_hat @ g_hat.T / tau
    p_row, p_col = softmax_rows(logits), softmax_rows(logits.T).T
    diag = np.arange(n)
    loss = -0.5 * (np.log(p_row[diag, diag]).mean() + np.log(p_col[diag, diag]).mean())
    d_logits = ((p_row - np.eye(n)) + (p_col - np.eye(n))) / (2 * n)
    d_f = normalise_backward(d_logits @ g_hat / tau, f_hat, f_norm)
    d_g = normalise_backward(d_logits.T @ f_hat / tau, g_hat, g_norm)
    return loss, (X.T @ d_f, B.T @ d_g)


# gradient check on a small batch, with central finite differences
check_rng = np.random.default_rng(1)
Xs, Bs = X_train[:8], B_train[:8]
Wi, Wt = check_rng.normal(0, 0.1, (784, 5)), check_rng.normal(0, 0.1, (len(VOCAB), 5))
_, (gi, gt) = clip_loss_and_grads(Wi, Wt, Xs, Bs, tau=0.5)
worst, h = 0.0, 1e-6
for W, G in ((Wi, gi), (Wt, gt)):
    for _ in range(20):
        idx = tuple(check_rng.integers(0, s) for s in W.shape)
        old = W[idx]
        W[idx] = old + h
        up = clip_loss_and_grads(Wi, Wt, Xs, Bs, 0.5)[0]
        W[idx] = old - h
        down = clip_loss_and_grads(Wi, Wt, Xs, Bs, 0.5)[0]
        W[idx] = old
        worst = max(worst, abs((up - down) / (2 * h) - G[idx]))
print(
    f"40 random weights: max |finite difference - hand-written gradient| = {worst:.1e}"
)
assert worst < 1e-7

# %% [markdown]
# Train with Adam on random batches of 256 pairs, temperature $\tau = 0.1$ (CLIP learns
# $\tau$; we fix it).

# %%
DIM, TAU, BATCH = 32, 0.1, 256
STEPS = pick(full=2000, fast=400)
init_rng = np.random.default_rng(0)
W_img = init_rng.normal(0, 0.01, (784, DIM))
W_txt = init_rng.normal(0, 0.1, (len(VOCAB), DIM))
opt = Adam([W_img, W_txt], lr=3e-3, betas=(0.9, 0.999))
losses = []
for _step in range(STEPS):
    idx = rng.choice(len(X_train), BATCH, replace=False)
    loss, grads = clip_loss_and_grads(W_img, W_txt, X_train[idx], B_train[idx], TAU)
    opt.step(grads)
    losses.append(loss)
print(
    f"InfoNCE loss: {losses[0]:.3f} at the start, {np.mean(losses[-50:]):.3f} over the last 50 steps; "
    f"a model that cannot tell captions apart scores log {BATCH} = {np.log(BATCH):.3f}"
)
assert losses[0] > np.log(BATCH) and np.mean(losses[-50:]) < np.log(BATCH) - 1

# %% [markdown]
# Random encoders start above $\log N$ (they are confidently wrong: with $\tau = 0.1$ the
# logits range over $[-10, 10]$), and training brings the loss well below it. It cannot
# reach 0, though: a batch of 256 holds about 25 images of each digit, and a caption of a
# seven fits all 25 of them equally well. Web data has the same problem (many images
# share near-identical captions), and the learned embedding is useful anyway, as the
# next cells show.
#
# **Zero-shot classification** (零样本分类): embed one prompt per class, "a handwritten
# digit seven", and label each *test* image by its most similar prompt. No classifier
# was trained; the labels exist only as words.

# %%
def embed_images(X, W):
    return normalise(X @ W)[0]


def embed_text(texts, W):
    return normalise(bag_of_words(texts) @ W)[0]


def zero_shot_accuracy(W_i, W_t, prompts):
    """Label each test image by its most similar prompt (prompt k describes digit k)."""
    pred = np.argmax(embed_images(X_test, W_i) @ embed_text(prompts, W_t).T, axis=1)
    return float(np.mean(pred == y_test))


PROMPTS_WORDS = [f"a handwritten digit {w}" for w in NAMES]
PROMPTS_NUMERALS = [f"a handwritten digit {w}" for w in NUMERALS]
acc_words = zero_shot_accuracy(W_img, W_txt, PROMPTS_WORDS)
acc_numerals = zero_shot_accuracy(W_img, W_txt, PROMPTS_NUMERALS)
acc_untrained = zero_shot_accuracy(
    init_rng.normal(0, 0.01, (784, DIM)),
    init_rng.normal(0, 0.1, (len(VOCAB), DIM)),
    PROMPTS_WORDS,
)
print(
    f"zero-shot accuracy on {len(X_test)} test digits: prompts with words {acc_words:.1%}, "
    f"with numerals {acc_numerals:.1%}; untrained encoders {acc_untrained:.1%} (chance: 10%)"
)
assert acc_words > 0.5 and acc_numerals > 0.5

# %% [markdown]
# And the other direction, **text-to-image retrieval** (跨模态检索): a query sentence,
# embedded by the text encoder, ranks the test images.

# %%
queries = ["the number 3", "a blurry seven", "one scanned figure 0"]
fig, axes = plt.subplots(1, len(queries), figsize=(4 * len(queries), 2.4))
f_test = embed_images(X_test, W_img)
for ax, q in zip(axes, queries):
    top = np.argsort(-(f_test @ embed_text([q], W_txt)[0]))[:8]
    show_images(x_test[top] / 255.0, title=f"query: {q!r}", nrow=8, ax=ax)
    print(f"{q!r}: labels of the 8 best matches {y_test[top]}")
plt.show()

# %% [markdown]
# Where do the words end up? The cosine similarity between the embeddings of single
# words shows that "seven" and "7" were placed together (the diagonal), although no
# caption ever contained both: they met only through the images.

# %%
single = NAMES + NUMERALS
e_words = embed_text(single, W_txt)
sim = e_words[:10] @ e_words[10:].T
print(
    f"mean cosine(name, its numeral) = {np.mean(np.diag(sim)):.2f}; "
    f"mean cosine(name, another numeral) = {sim[~np.eye(10, dtype=bool)].mean():.2f}"
)
assert np.mean(np.diag(sim)) > sim[~np.eye(10, dtype=bool)].mean() + 0.25
fig, ax = plt.subplots(figsize=(5.5, 4.5))
im = ax.imshow(sim, cmap="RdBu_r", vmin=-1, vmax=1)
ax.set_xticks(range(10), NUMERALS)
ax.set_yticks(range(10), NAMES)
ax.set_xlabel("numeral")
ax.set_ylabel("word")
ax.set_title("Cosine similarity of word embeddings")
fig.colorbar(im, ax=ax)
plt.show()

# %% [markdown]
# That is the whole mechanism of CLIP: two encoders, one shared space, a contrastive
# loss. At scale the same recipe gives zero-shot classifiers for thousands of
# categories, and, more important for this course, a **text encoder whose
# embeddings describe images**. Text-to-image systems condition their generator on
# such embeddings: DALL·E 2 generates from CLIP image embeddings
# {cite}`ramesh2022dalle2`, and latent diffusion models {cite}`rombach2022ldm` feed a
# text encoder's output (in Stable Diffusion, CLIP's) to the denoising network through
# cross-attention. How strongly the sample follows the text is then set by
# guidance, the next section.
#
# ## 2. Text-conditioned generation: classifier-free guidance
#
# A conditional diffusion model learns the **score** (分数) $\nabla_x \log p(x \mid c)$ of
# noisy data given the condition $c$ (the caption), usually in the form of a noise
# prediction $\epsilon(x_t, c) = -\sigma_t \nabla \log p_t(x_t \mid c)$ ({doc}`diffusion_concepts`).
# Trained with the caption randomly dropped, the same network also predicts the
# unconditional $\epsilon(x_t)$. **Classifier-free guidance** (无分类器引导)
# {cite}`ho2022cfg` samples with
#
# $$
# \tilde\epsilon = (1 + w)\, \epsilon(x_t, c) - w\, \epsilon(x_t)
# \quad\Longleftrightarrow\quad
# \tilde s(x) = \nabla \log p(x \mid c) + w\, \big(\nabla \log p(x \mid c) - \nabla \log p(x)\big)
#             = \nabla \log p(x \mid c) + w\, \nabla \log p(c \mid x),
# $$
#
# the last step by Bayes' rule, $p(c \mid x) = p(x \mid c)\, p(c) / p(x)$. So at a
# given noise level the guided score is the score of the tilted distribution
#
# $$
# \tilde p_w(x) \propto p(x \mid c)\; p(c \mid x)^{w},
# $$
#
# favouring the $x$ that an *implicit classifier* $p(c \mid x)$ finds most typical of
# $c$. This describes the *samples* only where no noise has been added ($t = 0$, or
# sampling at a single noise level, as in the check below). A diffusion sampler uses the
# tilted scores of every noise level,
# $\tilde p_{w,t}(x_t) \propto p_t(x_t \mid c)\, p_t(c \mid x_t)^w$,
# and these are not the noised versions of one distribution: tilting and adding noise do
# not commute. Its final samples are therefore not exactly distributed as
# $p(x \mid c)\, p(c \mid x)^w$; the formula describes the direction of the effect, not
# the sampler's exact output. $w = 0$ is plain conditional sampling; libraries often call $1 + w$ the
# "guidance scale" (7.5 is a common default in Stable Diffusion). The check: two
# classes on a line, $p(x \mid c{=}0) = \mathcal N(-1.5, 1)$ and
# $p(x \mid c{=}1) = \mathcal N(1.5, 1)$, equally likely; we guide towards $c = 1$.

# %%
def gauss_logpdf(x, mean, std=1.0):
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std * np.sqrt(2 * np.pi))


MU0, MU1 = -1.5, 1.5


def score_cond(x):  # d/dx log p(x | c=1)
    return -(x - MU1)


def score_uncond(x):  # d/dx log p(x), p = mixture of the two classes
    # p(c=1 | x)
    r1 = 1.0 / (1.0 + np.exp(gauss_logpdf(x, MU0) - gauss_logpdf(x, MU1)))
    return -(1 - r1) * (x - MU0) - r1 * (x - MU1)


def guided_score(x, w):
    return (1 + w) * score_cond(x) - w * score_uncond(x)


grid = np.linspace(-8, 8, 4001)
dx = grid[1] - grid[0]
# log p(c=1|x)
log_classifier = -np.logaddexp(0.0, gauss_logpdf(grid, MU0) - gauss_logpdf(grid, MU1))
langevin_rng = np.random.default_rng(0)
CHAINS, LSTEPS, ETA = pick(full=20_000, fast=4_000), pick(full=4000, fast=1500), 0.01
rows = []
fig, ax = plt.subplots(figsize=(8, 4))
for w in (0.0, 1.0, 3.0, 8.0):
    log_tilted = gauss_logpdf(grid, MU1) + w * log_classifier
    density = np.exp(log_tilted - log_tilted.max())
    density /= density.sum() * dx
    # (a) the guided score is the derivative of log p~_w (finite differences on the grid)
    fd = np.gradient(log_tilted, dx)[1:-1]
    score_err = np.abs(fd - guided_score(grid, w)[1:-1]).max()
    # (b) Langevin dynamics with the guided score samples p~_w
    x = langevin_rng.normal(0, 3, CHAINS)
    for _ in range(LSTEPS):
        x = (
            x
            + ETA * guided_score(x, w)
            + np.sqrt(2 * ETA) * langevin_rng.normal(size=CHAINS)
        )
    mean, std = (
        np.sum(grid * density) * dx,
        np.sqrt(np.sum(grid**2 * density) * dx - (np.sum(grid * density) * dx) ** 2),
    )
    p_c = np.sum(np.exp(log_classifier) * density) * dx
    rows.append((w, score_err, mean, x.mean(), std, x.std(), p_c))
    ax.plot(grid, density, lw=2, label=f"w = {w:g}")
    ax.hist(
        x,
        bins=80,
        range=(-4, 6),
        density=True,
        histtype="step",
        color=ax.lines[-1].get_color(),
        alpha=0.6,
    )
ax.plot(
    grid,
    0.5 * np.exp(gauss_logpdf(grid, MU0)) + 0.5 * np.exp(gauss_logpdf(grid, MU1)),
    color="gray",
    ls=":",
    label="p(x), both classes",
)
ax.set_xlim(-5, 6)
ax.set_title(
    "Guided densities $\\propto p(x|c)\\,p(c|x)^w$ (lines) and Langevin samples (steps)"
)
ax.set_xlabel("x")
ax.set_ylabel("density")
ax.legend()
plt.show()
print(
    "   w   max|score error|   mean (exact, Langevin)   std (exact, Langevin)   E[p(c=1|x)]"
)
for w, err, m, m_s, s, s_s, p_c in rows:
    print(
        f"{w:4g}   {err:16.1e}   {m:8.3f} {m_s:8.3f}          {s:7.3f} {s_s:7.3f}          {p_c:.3f}"
    )
    assert err < 1e-4 and abs(m - m_s) < 0.06 and abs(s - s_s) < 0.06
# mean up, std down
assert all(a[2] < b[2] and a[4] > b[4] and a[6] < b[6] for a, b in zip(rows, rows[1:]))

# %% [markdown]
# As $w$ grows, the samples move away from the other class and concentrate: the
# implicit classifier becomes more certain (last column), the spread shrinks. That is
# the trade-off every user of a text-to-image model tunes with the guidance scale:
# more faithful to the prompt and "cleaner", less diverse. Too large a $w$ pushes
# samples to atypical, over-saturated extremes (for $w = 8$ the mean has moved well
# past the class centre 1.5, see the printed means). Guidance costs two network evaluations per step, one
# with and one without the caption.
#
# ## 3. Efficiency
#
# ### Counting parameters
#
# The course's models are small enough to train on a laptop. Language and image
# generators in use today have billions of parameters. For a GPT-style
# Transformer block of width $d$ the count is $12 d^2 + 13 d$: $3d^2 + 3d$ for the
# query/key/value projection, $d^2 + d$ for the output projection, $8 d^2 + 5d$ for the
# MLP with hidden width $4d$, and $4d$ for two layer norms. Check it against the
# NumPy block of {doc}`../05_autoregressive/ar_concepts`, then apply it to GPT-2 small
# {cite}`radford2019gpt2` and GPT-3 {cite}`brown2020gpt3`.

# %%
def block_params(d):
    return 12 * d * d + 13 * d


for d in (8, 64, 768):
    assert count_block_params(init_block(d, rng=0)) == block_params(d)
print("12 d^2 + 13 d matches aigc_course.ar_numpy.init_block for d = 8, 64, 768")


def gpt_params(n_layer, d, vocab, context):
    """Blocks + token and position embeddings + final layer norm (output layer tied to the embedding)."""
    return n_layer * block_params(d) + vocab * d + context * d + 2 * d


gpt2_small = gpt_params(12, 768, 50257, 1024)
gpt3 = gpt_params(96, 12288, 50257, 2048)
print(
    f"GPT-2 small (12 layers, d = 768): {gpt2_small / 1e6:.1f} M parameters (reported: 124 M)"
)
print(
    f"GPT-3 (96 layers, d = 12288):     {gpt3 / 1e9:.1f} B parameters (reported: 175 B)"
)
for name, n in (("GPT-2 small", gpt2_small), ("GPT-3", gpt3)):
    print(
        f"  {name}: weights alone take {4 * n / 2**30:,.1f} GiB in float32, "
        f"{2 * n / 2**30:,.1f} GiB in 16-bit, {n / 2**30:,.1f} GiB in int8"
    )

# %% [markdown]
# ### Counting floating-point operations
#
# A matrix product of $(m \times k)$ by $(k \times n)$ costs $mkn$ multiply–adds, that is
# $2mkn$ floating-point operations (FLOPs, 浮点运算次数). For self-attention over $T$ tokens of
# width $d$ (one head; more heads do not change the count):
# $q, k, v$ projections $3 \cdot 2Td^2$, scores $qk^\top$ $2T^2 d$, weighted sum of values
# $2T^2 d$, output projection $2Td^2$: in total
#
# $$
# \text{FLOPs}_{\text{attention}}(T) = 8 T d^2 + 4 T^2 d .
# $$
#
# We check the formula by *counting*: every matrix product below goes through
# `matmul`, which adds its cost to a counter.

# %%
flops = {"n": 0}


def matmul(a, b):
    flops["n"] += 2 * a.shape[0] * a.shape[1] * b.shape[1]
    return a @ b


def attention(x, Wq, Wk, Wv, Wo):
    """Causal single-head self-attention of a sequence x (T, d), FLOPs counted."""
    q, k, v = matmul(x, Wq), matmul(x, Wk), matmul(x, Wv)
    scores = matmul(q, k.T) / np.sqrt(x.shape[1])
    scores = np.where(np.tril(np.ones(scores.shape, bool)), scores, -np.inf)
    return matmul(matmul(softmax_rows(scores), v), Wo)


d_model = 64
attn_rng = np.random.default_rng(0)
weights = [attn_rng.normal(0, d_model**-0.5, (d_model, d_model)) for _ in range(4)]
for T in (1, 10, 100):
    flops["n"] = 0
    xs = attn_rng.normal(size=(T, d_model))
    out = attention(xs, *weights)
    reference, _ = scaled_dot_product_attention(
        xs @ weights[0],
        xs @ weights[1],
        xs @ weights[2],
        np.tril(np.ones((T, T), bool)),
    )
    assert np.allclose(out, reference @ weights[3])
    assert flops["n"] == 8 * T * d_model**2 + 4 * T**2 * d_model
    print(f"T = {T:3d}: counted {flops['n']:>10,} FLOPs = 8Td² + 4T²d")

# %% [markdown]
# FLOPs predict running time when the hardware is kept busy. Time NumPy's matrix
# product for growing sizes: the achieved rate (FLOPs per second) levels off, so time
# grows in proportion to FLOPs. (Small products are dominated by overheads, and a
# shared machine adds noise; the numbers are those of *your* CPU.)

# %%
sizes = pick(full=(64, 128, 256, 512, 1024), fast=(64, 128, 256, 384))
seconds, counts = [], []
for n in sizes:
    a, b = attn_rng.normal(size=(n, n)), attn_rng.normal(size=(n, n))
    reps = max(1, int(2e8 // (2 * n**3)))
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, (time.perf_counter() - t0) / reps)
    seconds.append(best)
    counts.append(2 * n**3)
    print(
        f"n = {n:5d}: {2 * n**3 / 1e6:8.1f} MFLOP in {best * 1e3:7.2f} ms -> {2 * n**3 / best / 1e9:5.2f} GFLOP/s"
    )
slope = np.polyfit(np.log(counts[1:]), np.log(seconds[1:]), 1)[0]
cpu_rate = counts[-1] / seconds[-1]
print(
    f"slope of log(time) against log(FLOPs) = {slope:.2f} (1 = time proportional to FLOPs)"
)

fig, ax = plt.subplots(figsize=(5.5, 3.8))
ax.loglog(counts, seconds, "o-", label="measured")
ax.loglog(
    counts,
    np.array(counts) / cpu_rate,
    "--",
    color="gray",
    label=f"FLOPs / {cpu_rate / 1e9:.1f} GFLOP/s",
)
ax.set_title("NumPy matrix product: time against FLOPs")
ax.set_xlabel("FLOPs ($2n^3$)")
ax.set_ylabel("seconds")
ax.legend()
plt.show()

# %% [markdown]
# Training a Transformer with $N$ parameters on $D$ tokens costs about $6ND$ FLOPs
# (2 per parameter per token forward, 4 backward) {cite}`kaplan2020scaling`. GPT-3
# has 175 billion parameters and was trained on 300 billion tokens
# {cite}`brown2020gpt3`:

# %%
train_flops = 6 * 175e9 * 300e9
print(f"6 N D = {train_flops:.2e} FLOPs (the GPT-3 paper reports 3.14e23)")
print(
    f"at the {cpu_rate / 1e9:.1f} GFLOP/s measured above: {train_flops / cpu_rate / 3.15e7:,.0f} years on this CPU"
)

# %% [markdown]
# Hence the interest in efficiency: at this scale a factor of two is a great deal of
# money and energy. Three techniques, one for each of memory, arithmetic and
# sampling.
#
# ### Quantisation: 8 bits instead of 32
#
# **Post-training quantisation** (训练后量化) stores each weight as a small integer
# times a shared scale (some schemes add a shared offset, the "zero point")
# {cite}`jacob2018quantization`. Symmetric int8 quantisation of a
# column $w$ of a weight matrix: $s = \max_i |w_i| / 127$, $q_i = \operatorname{round}(w_i / s) \in \{-127, \dots, 127\}$,
# and the layer uses $\hat w_i = s\, q_i$. Rounding moves each weight by at most
# half a step, $|w_i - \hat w_i| \le s / 2$. One scale per column ("per channel") copes
# better with columns of very different size than one scale for the whole matrix.
# We quantise the trained image encoder $W_I$ of section 1 and measure both the
# weight error and what matters, the zero-shot accuracy.

# %%
def quantise(W, bits=8, per_column=True):
    """Symmetric quantisation; returns the integer codes and the scales (W ≈ scale * codes)."""
    levels = 2 ** (bits - 1) - 1
    top = np.abs(W).max(axis=0, keepdims=True) if per_column else np.abs(W).max()
    scale = top / levels
    return np.clip(np.round(W / scale), -levels, levels).astype(np.int8), scale


errors = {}
print(
    f"float32 weights: {W_img.astype(np.float32).nbytes:,} bytes; "
    f"zero-shot accuracy {acc_words:.1%}"
)
for bits in (8, 4, 2):
    for per_column in (True, False):
        codes, scale = quantise(W_img, bits, per_column)
        W_hat = scale * codes
        # the rounding bound
        assert np.all(np.abs(W_img - W_hat) <= scale / 2 + 1e-12)
        rel = np.linalg.norm(W_img - W_hat) / np.linalg.norm(W_img)
        acc = zero_shot_accuracy(W_hat, W_txt, PROMPTS_WORDS)
        size = W_img.size * bits / 8 + np.size(scale) * 4
        print(
            f"int{bits}, {'per column' if per_column else 'per tensor'}: {size:8,.0f} bytes, "
            f"relative weight error {rel:6.1%}, zero-shot accuracy {acc:.1%}"
        )
        errors[bits, per_column] = rel
        if bits == 8:
            assert abs(acc - acc_words) < 0.02  # int8: no loss worth mentioning
        if bits == 2:
            assert acc < acc_words - 0.3  # int2: the model is broken
# per column beats per tensor
assert all(errors[b, True] <= errors[b, False] for b in (8, 4, 2))

# %% [markdown]
# 8 bits change the accuracy by less than two points (asserted above; usually much
# less) and divide memory by four; 4 bits (15 levels) cost a visible part of the
# accuracy (see the printed numbers); 2 bits (three levels, $-s, 0, s$) break the model.
# Per-column scales give the smaller weight error (asserted); they matter most when
# columns differ a lot in size, which in this small matrix they do not. Real systems
# that go below 8 bits quantise in small groups of weights, each with its own scale,
# or train with quantisation in the loop. Large language models are harder to quantise
# because a few features take very large values ("outliers"): LLM.int8()
# {cite}`dettmers2022llmint8` keeps those in 16-bit and the rest in int8.
#
# ### Autoregressive sampling and the key–value cache
#
# A Transformer generates text one token at a time
# ({doc}`../05_autoregressive/ar_concepts`). Naively, step $t$ runs the model on the whole
# prefix of $t$ tokens again. But with causal attention the keys and values of earlier
# tokens never change, so they can be stored: the **KV cache** (键值缓存). Each step
# then projects only the new token and attends over the cached keys. Per layer,
# generating $T$ tokens costs
#
# $$
# \text{without cache: } \sum_{t=1}^{T} \big(8 t d^2 + 4 t^2 d\big), \qquad
# \text{with cache: } \sum_{t=1}^{T} \big(8 d^2 + 4 t d\big) = 8Td^2 + 2T(T+1)d .
# $$
#
# Generate with both, check that the outputs are identical and count.

# %%
def generate(x0, T, weights, cache):
    """Feed each output back in as the next input (a stand-in for sampling a token)."""
    Wq, Wk, Wv, Wo = weights
    flops["n"] = 0
    xs, keys, values, outputs = [x0], [], [], []
    for _t in range(T):
        if cache:  # project only the newest token
            x = xs[-1][None, :]
            keys.append(matmul(x, Wk)[0])
            values.append(matmul(x, Wv)[0])
            q = matmul(x, Wq)
            a = softmax_rows(matmul(q, np.array(keys).T) / np.sqrt(len(x0)))
            y = matmul(matmul(a, np.array(values)), Wo)[0]
        else:  # recompute everything for the prefix
            y = attention(np.array(xs), Wq, Wk, Wv, Wo)[-1]
        outputs.append(y)
        xs.append(np.tanh(y))
    return np.array(outputs), flops["n"]


def flops_no_cache(T, d):
    t = np.arange(1, T + 1)
    return int(np.sum(8 * t * d**2 + 4 * t**2 * d))


def flops_cache(T, d):
    return 8 * T * d**2 + 2 * T * (T + 1) * d


x0 = attn_rng.normal(size=d_model)
T_gen = 64
y_plain, n_plain = generate(x0, T_gen, weights, cache=False)
y_cached, n_cached = generate(x0, T_gen, weights, cache=True)
assert (
    np.allclose(y_plain, y_cached)
    and n_plain == flops_no_cache(T_gen, d_model)
    and n_cached == flops_cache(T_gen, d_model)
)
print(
    f"{T_gen} tokens, d = {d_model}: same outputs; {n_plain:,} FLOPs without cache, "
    f"{n_cached:,} with cache ({n_plain / n_cached:.0f}x fewer)"
)

lengths = np.array([16, 64, 256, 1024, 4096])
fig, ax = plt.subplots(figsize=(5.5, 3.8))
ax.loglog(
    lengths,
    [flops_no_cache(T, 768) for T in lengths],
    "o-",
    label="recompute the prefix",
)
ax.loglog(lengths, [flops_cache(T, 768) for T in lengths], "o-", label="KV cache")
ax.set_title("Generating T tokens, one attention layer, d = 768")
ax.set_xlabel("tokens generated T")
ax.set_ylabel("FLOPs")
ax.legend()
plt.show()
cache_bytes = 2 * 12 * 768 * 1024 * 2
print(
    f"the price is memory: GPT-2 small's cache for 1,024 tokens = 2 (k, v) x 12 layers x 768 x 1024 "
    f"x 2 bytes = {cache_bytes / 2**20:.0f} MiB per sequence"
)

# %% [markdown]
# The cache turns the cost of generation from cubic to quadratic in the length, which
# is why every serving system uses it; its memory, which grows with the length, the
# number of layers and the number of sequences served at once, is what limits how many
# users one accelerator can serve.
#
# For diffusion models the cost is the number of denoising steps: a DDPM sample
# takes hundreds of network evaluations. Samplers that take larger strides
# {cite}`song2021ddim` ({doc}`diffusion_concepts` runs one) and **distillation**
# (蒸馏) of a slow sampler into a fast student {cite}`hinton2015distilling,salimans2022progressive`
# reduce them to tens or a few; latent diffusion {cite}`rombach2022ldm` runs the
# process on a small latent image instead of the pixels.

# %% [markdown]
# ## 4. Learning from human feedback
#
# The articles mention reinforcement learning in one line each:
# "强化学习通过奖励机制指导模型生成内容，使其更符合预期" (reinforcement learning
# guides a model's generation through a reward, so that it matches expectations;
# article 003, section 2), and as a technology that AIGC will merge with (article 001,
# section 7.1). How it is done in practice is **reinforcement learning from human
# feedback** (RLHF, 基于人类反馈的强化学习)
# {cite}`christiano2017deep,ziegler2019fine,stiennon2020learning,ouyang2022instructgpt`:
#
# 1. fine-tune a pretrained model on demonstrations (supervised fine-tuning); this is
#    the **reference policy** $\pi_{\text{ref}}$;
# 2. show people pairs of outputs and ask which is better; fit a **reward model**
#    (奖励模型) $r(y)$ to their choices with the **Bradley–Terry model**
#    {cite}`bradley1952rank`, $P(a \succ b) = \sigma\big(r(a) - r(b)\big)$, by minimising
#    $-\sum \log \sigma\big(r(y_{\text{preferred}}) - r(y_{\text{other}})\big)$;
# 3. fine-tune the policy $\pi$ to maximise the reward while staying close to the
#    reference, with a **KL penalty** (KL 惩罚) of weight $\beta$:
#
# $$
# J(\pi) = \mathbb E_{y \sim \pi}\big[r(y)\big] - \beta\, \mathrm{KL}(\pi \,\Vert\, \pi_{\text{ref}}).
# $$
#
# In practice step 3 runs PPO {cite}`schulman2017ppo`. But the objective has an exact
# maximiser. Write $\pi^*(y) = \pi_{\text{ref}}(y)\, e^{r(y)/\beta} / Z$ with
# $Z = \sum_y \pi_{\text{ref}}(y)\, e^{r(y)/\beta}$; then $\log \frac{\pi(y)}{\pi_{\text{ref}}(y)} - \frac{r(y)}{\beta}
# = \log \frac{\pi(y)}{\pi^*(y)} - \log Z$, and taking the expectation under $\pi$,
#
# $$
# J(\pi) = \beta \log Z - \beta\, \mathrm{KL}(\pi \,\Vert\, \pi^*) \le \beta \log Z,
# $$
#
# with equality exactly at $\pi = \pi^*$. RLHF re-weights the reference model's outputs by
# $e^{r/\beta}$: a small $\beta$ follows the reward, a large one stays with the reference.
# (Direct preference optimisation, DPO {cite}`rafailov2023direct`, solves this for $r$ and
# trains the policy on the comparisons directly, without a separate reward model.)
#
# **In miniature.** The policy is the character bigram model of chapter 5
# ({doc}`../05_autoregressive/ar_concepts`), fitted to tiny-shakespeare (lower-cased); it
# writes 48 characters after a line break. The "human" is simulated: it prefers, with
# Bradley–Terry noise, the text with more **distinct English words** (of two letters or
# more, from the vocabulary of the text). The model never sees that score, only a few
# thousand comparisons (`n_pairs`: 2,000 in fast mode). The reward model is linear in the counts of character pairs, so its
# reward is a sum over transitions, $r(y) = \sum_t R[y_{t-1}, y_t]$, and then $\pi^*$ is
# again a Markov chain, computed exactly by a backward pass:

# %%
show_source(rlhf, start="# --- kl optimum (shown", end="# --- end kl optimum")

# %%
text_lc = load_shakespeare().lower()
tok = CharTokenizer(text_lc)
V_ch = tok.vocab_size
bigram = NGramLM(2, V_ch, alpha=0.01).fit(tok.encode(text_lc))
P_ref = bigram.probs(np.arange(V_ch)[:, None])  # P_ref[a, b] = p(b | a)
T_len, START = 48, tok.stoi["\n"]
english = {w for w in re.findall(r"[a-z]+", text_lc) if len(w) >= 2}


def human_score(seqs):
    """The simulated annotator's hidden score: distinct English words among the complete words."""
    out = []
    for s in seqs:
        # drop the cut-off first and last
        words = re.findall(r"[a-z]+", tok.decode(s))[1:-1]
        out.append(len({w for w in words if w in english}))
    return np.array(out, float)


n_pairs = pick(full=5000, fast=2000)
ya = rlhf.sample_markov(P_ref, n_pairs, START, T_len, seed=1)
yb = rlhf.sample_markov(P_ref, n_pairs, START, T_len, seed=2)
prefer_a = np.random.default_rng(3).random(n_pairs) < 1 / (
    1 + np.exp(-(human_score(ya) - human_score(yb)))
)
w_rm = rlhf.fit_bradley_terry(
    rlhf.transition_counts(ya, START, V_ch),
    rlhf.transition_counts(yb, START, V_ch),
    prefer_a,
    l2=1e-2,
)
# reward of each transition a -> b
R_rm = w_rm.reshape(V_ch, V_ch)

# held-out comparisons: how often do the reward model and the annotator agree with the hidden score?
ta, tb = (rlhf.sample_markov(P_ref, 2000, START, T_len, seed=s) for s in (4, 5))
sa, sb = human_score(ta), human_score(tb)
differ = sa != sb
rm_agree = np.mean(
    (rlhf.sequence_reward(R_rm, ta, START) > rlhf.sequence_reward(R_rm, tb, START))[
        differ
    ]
    == (sa > sb)[differ]
)
annotator_agree = np.mean(1 / (1 + np.exp(-np.abs(sa - sb)[differ])))
print(
    f"reward model from {n_pairs} comparisons: agrees with the hidden score on {rm_agree:.0%} of "
    f"held-out pairs (a simulated annotator: {annotator_agree:.0%}; a coin: 50%)"
)
assert rm_agree > 0.55

# the exact optimum for beta = 0.2: check pi* = pi_ref e^{r/beta} / Z on samples, and J(pi*) = beta log Z
beta = 0.2
trans_opt, log_z = rlhf.kl_optimum(P_ref, R_rm, beta, T_len, START)
y_opt = rlhf.sample_markov(trans_opt, pick(full=20000, fast=5000), START, seed=6)
log_ratio = rlhf.markov_log_prob(trans_opt, y_opt, START) - rlhf.markov_log_prob(
    P_ref, y_opt, START
)
r_opt = rlhf.sequence_reward(R_rm, y_opt, START)
assert np.allclose(log_ratio, r_opt / beta - log_z)
J_mc = r_opt.mean() - beta * log_ratio.mean()
print(
    f"beta = {beta}: J(pi*) by Monte Carlo {J_mc:.3f}, beta log Z = {beta * log_z:.3f}; "
    f"reference model's J = E[r] = {rlhf.sequence_reward(R_rm, ta, START).mean():.3f}"
)
assert abs(J_mc - beta * log_z) < 1e-9 + 0.01 * abs(beta * log_z)

# REINFORCE, the sampling way to the same optimum
pol, hist = rlhf.reinforce_kl(
    P_ref, R_rm, beta, T_len, START, steps=pick(full=400, fast=150), seed=7
)
print(
    f"REINFORCE on the bigram's logits, {len(hist)} steps of 256 samples: J = {np.mean(hist[-20:]):.3f} "
    f"(started at {hist[0]:.3f}; cannot exceed {beta * log_z:.3f})"
)
assert hist[0] < np.mean(hist[-20:]) < beta * log_z + 0.05

# %% [markdown]
# The exact optimum satisfies $\pi^* = \pi_{\text{ref}}\, e^{r/\beta}/Z$ on every sample, its
# objective is $\beta \log Z$, and REINFORCE {cite}`williams1992simple`, which only samples
# and nudges the bigram's logits, climbs to just below it. Now the question RLHF lives
# with: what happens to the **hidden** score, the thing the comparisons were about, as
# the policy follows the learned reward harder (smaller $\beta$)?

# %%
betas = [1.0, 0.5, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05, 0.03, 0.02]
n_eval = pick(full=4000, fast=1000)
y_ref = rlhf.sample_markov(P_ref, n_eval, START, T_len, seed=8)
sweep = [
    (
        0.0,
        rlhf.sequence_reward(R_rm, y_ref, START).mean(),
        human_score(y_ref).mean(),
        y_ref[0],
    )
]
for b in betas:
    trans_b, log_z_b = rlhf.kl_optimum(P_ref, R_rm, b, T_len, START)
    y_b = rlhf.sample_markov(trans_b, n_eval, START, seed=8)
    r_b = rlhf.sequence_reward(R_rm, y_b, START)
    # KL(pi* || pi_ref), exact up to sampling
    kl_b = r_b.mean() / b - log_z_b
    sweep.append((kl_b, r_b.mean(), human_score(y_b).mean(), y_b[0]))
kls, proxy, hidden, examples = zip(*sweep)
for b, kl, pr, hs, ex in zip([np.inf] + betas, kls, proxy, hidden, examples):
    print(
        f"beta {b:>5}: KL {kl:6.1f} nats, learned reward {pr:6.2f}, hidden score {hs:5.2f} | "
        f"{tok.decode(ex)!r:.62}"
    )
best = int(np.argmax(hidden))
assert (
    np.all(np.diff(proxy) > 0)
    and 0 < best < len(hidden) - 1
    and hidden[-1] < 0.7 * hidden[best]
)

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(
    kls, np.array(proxy) - proxy[0], "o-", label="learned reward (what is optimised)"
)
ax.plot(
    kls,
    np.array(hidden) - hidden[0],
    "s-",
    label="hidden score (what the annotator wanted)",
)
ax.set(
    xscale="symlog",
    xlabel=r"KL$(\pi^* \,\Vert\, \pi_{\mathrm{ref}})$ in nats (smaller $\beta$ to the right)",
    ylabel="gain over the reference model",
    title="Optimising a learned reward: first help, then harm",
)
ax.legend()
plt.show()

# %% [markdown]
# At first the learned reward and the hidden score rise together: the reward model has
# learned something true (more spaces, fewer impossible letter pairs). Pushed further,
# the policy finds what the reward model over-values and produces it over and over
# (see the samples for the smallest $\beta$): the learned reward keeps climbing while the
# score it stood in for falls back by half. This is **reward over-optimisation** (奖励过度优化),
# Goodhart's law in RLHF, measured at scale by {cite}`gao2023scaling`; it is why the KL
# penalty, early stopping and fresh comparisons on the new policy's outputs are part of
# every recipe. What the miniature does not show: real annotators disagree and are
# inconsistent, real reward models are large networks that can be fooled in less
# visible ways, and the policy is optimised by PPO on a network, not solved exactly.

# %% [markdown]
# ## 5. Challenges
#
# * **Scale and its cost.** Test loss falls smoothly, as a power law, with
#   parameters, data and compute {cite}`kaplan2020scaling`, and for a fixed compute
#   budget parameters and training tokens should grow together
#   {cite}`hoffmann2022chinchilla`. The consequence shown above: frontier models are
#   trained by few organisations, and their cost and energy use are a research topic
#   of their own.
# * **Data.** Models learn from web-scale collections that contain duplicates, private
#   data and copyrighted works; generators can reproduce training examples
#   {cite}`carlini2023extracting,somepalli2023diffusion`, and deduplication helps
#   {cite}`lee2022deduplicating`. Chapter 6 ({doc}`../06_problems/problems_concepts`)
#   measures memorisation on MNIST.
# * **Evaluation.** There is still no single number for "good samples": FID, precision
#   and recall, likelihood and human judgement disagree, and benchmark scores can be
#   gamed ({doc}`../08_evaluation/evaluation_concepts`).
# * **Control.** Guidance (section 2) trades diversity for faithfulness; making a
#   model follow a complex prompt exactly (counting objects, spatial relations,
#   text inside images) remains hard. Learning from human feedback (section 4) steers
#   a model towards what people prefer, as far as a learned reward can tell.
# * **Misuse and regulation.** Deepfakes, misinformation and copyright disputes have
#   led to law: China's *Interim Measures for the Management of Generative AI
#   Services* (in force since August 2023) {cite}`cac2023genai` and the EU's
#   *Artificial Intelligence Act* (2024) {cite}`euaiact2024` both require, among
#   other things, that AI-generated content be labelled. Watermarking and detection
#   are active research, without a reliable solution yet.
#
# ## Exercises
#
# :::{exercise}
# :label: trends-concepts-ex-temperature
# Retrain the miniature CLIP of section 1 with temperature $\tau = 1$ instead of $0.1$.
# What happens to the loss, and why? (Hint: with unit vectors the logits $L_{ij}$ lie in
# $[-1/\tau, 1/\tau]$.) Does the zero-shot accuracy suffer as much as the loss suggests?
# :::
#
# :::{solution} trends-concepts-ex-temperature
# :class: dropdown
# With $\tau = 1$ the logits lie in $[-1, 1]$, so even a perfect alignment gives the true
# caption a probability of at most $e^{1} / (e^{1} + 255\, e^{-1}) \approx 2.8\,\%$ in a batch of 256,
# a loss of at least $3.57$; with ~25 captions of the same digit in the batch it is higher
# still. In the course's run the loss ends near 4.8 (against about 3 with $\tau = 0.1$),
# barely below $\log 256 = 5.55$. Yet the zero-shot accuracy is about the same (83–85 %
# in the course's runs): classification takes the *most similar* prompt, which depends
# only on the directions of the embeddings, and those still improve. The temperature
# limits how confident the model's probabilities can be, not the ranking. A loss value
# is not the quality measure: compare models by what they are used for. At CLIP's
# scale the temperature does matter for training, because a sharp softmax concentrates
# the gradient on the hardest negatives; CLIP learns $\tau$ (initialised at 0.07 and not
# allowed below 0.01).
# :::
#
# :::{exercise}
# :label: trends-concepts-ex-negative-prompt
# A "negative prompt" in text-to-image tools replaces the unconditional prediction of
# classifier-free guidance by a prediction for an *unwanted* caption $c^-$:
# $\tilde s = \nabla \log p(x \mid c) + w\,(\nabla \log p(x \mid c) - \nabla \log p(x \mid c^-))$.
# Which density does this sample in the 1-D example, with $c = 1$ and $c^- = 0$? Modify
# `guided_score` and check your answer with Langevin dynamics.
# :::
#
# :::{solution} trends-concepts-ex-negative-prompt
# :class: dropdown
# $\tilde s$ is the derivative of $\log\big[p(x \mid c)^{1+w} / p(x \mid c^-)^{w}\big]$. For two unit-variance
# Gaussians the logarithm is $-\tfrac{1+w}{2}(x - 1.5)^2 + \tfrac{w}{2}(x + 1.5)^2 + \text{const}$,
# whose $x^2$ coefficient is $-\tfrac12$: the result is again $\mathcal N(\mu, 1)$ with
# $\mu = (1 + w)\,1.5 + w\,1.5 = 1.5 (1 + 2w)$. The samples keep their spread and are
# pushed away from the negative class without limit, which is why large negative-prompt
# weights produce exaggerated images. Replace `score_uncond(x)` by `-(x - MU0)` in
# `guided_score`, run the Langevin loop, and compare `x.mean()` with $1.5 (1 + 2w)$.
# :::
#
# :::{exercise}
# :label: trends-concepts-ex-cache-memory
# A model has 32 layers of width $d = 4096$ and serves sequences of 4,096 tokens with
# its KV cache in 16-bit numbers. How much memory does the cache of one sequence take,
# and how many sequences fit next to the weights (7 billion parameters, 16-bit) on an
# accelerator with 80 GB?
# :::
#
# :::{solution} trends-concepts-ex-cache-memory
# :class: dropdown
# $2 \times 32 \times 4096 \times 4096 \times 2$ bytes $= 2^{31}$ bytes $= 2$ GiB per sequence
# (about 2.15 GB). The weights take $7 \times 10^9 \times 2 = 14$ GB, leaving 66 GB: about 30
# sequences of full length. The cache, not the arithmetic, limits how many users are
# served at once, which motivates grouped-query attention (fewer key/value heads),
# cache quantisation and paged memory management.
# :::
#
# :::{exercise}
# :label: trends-concepts-ex-reward-data
# Fit the reward model of section 4 on 500 comparisons instead of `n_pairs`, and then
# on 5,000, and redo the sweep over $\beta$ for each. How well does each reward model
# agree with the hidden score on held-out pairs, how high does the hidden score get,
# and at what KL does it peak?
# :::
#
# :::{solution} trends-concepts-ex-reward-data
# :class: dropdown
# In the course's runs: with 500 comparisons the reward model agreed with the hidden
# score on 61% of held-out pairs; the hidden score peaked at about 2.4 (the reference
# model: 1.25) near a KL of 24 nats, and the most optimised policies wrote
# "bumipumpum...", scoring 0. With 2,000 comparisons (fast mode): 65%, a peak of about
# 4.1 near 37 nats. With 5,000 (full mode): 71%, a peak of about 5.7 near 29 nats, and
# still a fall to about 2.5 at the smallest $\beta$. A better reward model can be followed
# further and to a better place, but every one of them is eventually exploited: the
# same pattern {cite}`gao2023scaling` measured with reward models of growing size.
# Comparisons of the *current* policy's outputs (not only of the reference's) are the
# other remedy, which is why preference data is often collected in rounds, each on the
# latest policy.
# :::
