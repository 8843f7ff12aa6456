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
# # Autoregressive models: the concepts
#
# An **autoregressive model** (自回归模型) generates data one piece at a time: a
# character, a word, a pixel. Each new piece is drawn from a distribution that depends
# on all the pieces already generated. GPT writes text like this, and PixelCNN draws
# images like this. Unlike a GAN ({doc}`../03_gans/gan_concepts`) or a VAE
# ({doc}`../04_vaes/vae_concepts`), such a model gives the **exact** probability of
# any sequence, so it can be trained by plain maximum likelihood and compared with
# other models on held-out data.
#
# This notebook is framework-neutral: NumPy, Matplotlib and the course's NumPy modules
# `aigc_course.text` and `aigc_course.ar_numpy`. You will
#
# 1. check the **chain rule** of probability, the identity behind every autoregressive
#    model, on a small joint distribution,
# 2. train **n-gram** models on Shakespeare and measure them in **bits per character**,
# 3. see how an RNN replaces the counts, what **teacher forcing** is, and why models
#    trained with it suffer from **exposure bias**,
# 4. write **attention** in NumPy: the causal mask, the $1/\sqrt d$ scaling, several
#    heads, and the Transformer block,
# 5. see what **self-supervised learning** and **generative pre-training** mean,
# 6. compare **sampling** methods (greedy, temperature, top-k, top-p) by the
#    diversity and the quality of what they produce,
# 7. see how **PixelCNN** orders the pixels of an image, and where its blind spot is.
#
# The labs then train a character LSTM on Tang poems, a small GPT on Shakespeare and a
# PixelCNN on MNIST, in {doc}`PyTorch <ar_pytorch>` and in {doc}`Keras <ar_keras>`.

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

import matplotlib.pyplot as plt
import numpy as np

from aigc_course import ar_numpy as ar
from aigc_course import is_fast, pick, set_seed, show_source
from aigc_course.data import load_shakespeare
from aigc_course.numpy_nn import softmax
from aigc_course.text import (
    CharTokenizer,
    generate_tokens,
    make_windows,
    sample_next,
    top_k_filter,
    top_p_filter,
)

set_seed(0)
print(f"NumPy {np.__version__}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. The chain rule
#
# Any joint distribution of a sequence $x = (x_1, \dots, x_T)$ can be written as a
# product of conditionals, one per position:
#
# $$
# p(x_1, \dots, x_T) = p(x_1)\, p(x_2 \mid x_1)\, p(x_3 \mid x_1, x_2) \cdots
#                    = \prod_{t=1}^{T} p(x_t \mid x_{<t}).
# $$
#
# This is not an approximation. It follows from the definition of a conditional
# probability, $p(a, b) = p(a)\, p(b \mid a)$, applied $T - 1$ times. An autoregressive
# model learns the conditionals $p_\theta(x_t \mid x_{<t})$, which gives two things:
#
# * **exact likelihood**: $\log p_\theta(x) = \sum_t \log p_\theta(x_t \mid x_{<t})$, a sum
#   of $T$ terms, one for each position;
# * **ancestral sampling** (祖先采样): draw $x_1$, then $x_2$ given $x_1$, and so on, one
#   piece after another.
#
# Check both on a random joint distribution of three variables with 4 values each. We
# compute the conditionals from the joint table by summing out variables, multiply
# them, and compare with the joint. Then we draw many sequences one variable at a time
# and compare how often each sequence appears with its probability.

# %%
rng = np.random.default_rng(0)
K = 4
joint = rng.dirichlet(np.full(K**3, 0.5)).reshape(K, K, K)  # p(x1, x2, x3)

p1 = joint.sum(axis=(1, 2))  # p(x1)
p12 = joint.sum(axis=2)  # p(x1, x2)
p2_given_1 = p12 / p1[:, None]  # p(x2 | x1)
p3_given_12 = joint / p12[:, :, None]  # p(x3 | x1, x2)
product = p1[:, None, None] * p2_given_1[:, :, None] * p3_given_12
print(
    f"max |p(x1) p(x2|x1) p(x3|x1,x2) - p(x1,x2,x3)| = {np.abs(product - joint).max():.1e}"
)
assert np.allclose(product, joint, atol=1e-15)

# any order works: here x3 first, then x2, then x1
p3 = joint.sum(axis=(0, 1))
p23 = joint.sum(axis=0)
reverse = p3[None, None, :] * (p23 / p3[None, :])[None] * (joint / p23[None])
assert np.allclose(reverse, joint, atol=1e-15)

# ancestral sampling, one variable at a time
N = pick(full=400_000, fast=100_000)


def draw(probs_rows):
    """One categorical draw per row of probabilities (inverse CDF)."""
    u = rng.random((len(probs_rows), 1))
    return np.minimum((np.cumsum(probs_rows, axis=1) < u).sum(axis=1), K - 1)


x1 = draw(np.broadcast_to(p1, (N, K)))
x2 = draw(p2_given_1[x1])
x3 = draw(p3_given_12[x1, x2])
freq = np.bincount((x1 * K + x2) * K + x3, minlength=K**3) / N
tv = 0.5 * np.abs(freq - joint.ravel()).sum()
print(f"{N:,} ancestral samples: total variation distance to the joint = {tv:.4f}")
assert tv < 0.02

fig, ax = plt.subplots(figsize=(10, 3))
order = np.argsort(-joint.ravel())
ax.bar(np.arange(K**3), joint.ravel()[order], color="lightgray", label="p(x1, x2, x3)")
ax.plot(np.arange(K**3), freq[order], "r.", label="frequency in ancestral samples")
ax.set_title("Sampling one variable at a time reproduces the joint distribution")
ax.set_xlabel("the 64 possible sequences (x1, x2, x3), most probable first")
ax.set_ylabel("probability")
ax.legend()
plt.show()

# %% [markdown]
# What does it cost to store the conditionals as tables? With a vocabulary of $V$
# symbols, $p(x_t \mid x_{<t})$ needs $V - 1$ free numbers for each of the $V^{t-1}$
# possible contexts. For the 65 characters of Shakespeare's plays that is already
# astronomical at $t = 10$:

# %%
V_chars, t = 65, 10
print(
    f"free numbers in the table of p(x_10 | x_<10) over {V_chars} characters: "
    f"{V_chars ** (t - 1) * (V_chars - 1):.2e}"
)

# %% [markdown]
# Every autoregressive model is therefore a way to **share** these numbers across
# contexts. An n-gram model keeps only the last few symbols of the context. An RNN
# compresses the context into a vector. A Transformer lets each position look at all
# earlier positions through attention. All three predict the next symbol with the
# same weights at every position.
#
# ## 2. The simplest autoregressive model: n-grams
#
# An **n-gram model** (n 元语法模型) keeps the last $n - 1$ symbols of the context
# (the *Markov assumption*) and estimates each conditional by counting:
#
# $$
# p(x_t = v \mid x_{<t}) \approx p(v \mid c), \quad c = x_{t-n+1}, \dots, x_{t-1},
# \qquad
# \hat p(v \mid c) = \frac{\operatorname{count}(c, v) + \alpha V q(v)}{\operatorname{count}(c) + \alpha V}.
# $$
#
# With $\alpha = 0$ this is the maximum-likelihood estimate, the relative frequency.
# It gives probability 0 to every continuation it never saw, so a single unseen
# character in the test text makes the test log-likelihood $-\infty$. The **smoothing**
# term adds $\alpha V$ "virtual observations" spread according to a prior $q$:
#
# * $q(v) = 1/V$ (uniform) gives **add-$\alpha$ (Laplace) smoothing**,
#   $(\operatorname{count}(c, v) + \alpha) / (\operatorname{count}(c) + \alpha V)$;
# * $q(v) = \hat p(v \mid \text{shorter context})$, the $(n-1)$-gram model built the
#   same way, gives **interpolated** smoothing: where the long context is rare, the
#   model falls back on the shorter one.
#
# The model is `aigc_course.ar_numpy.NGramLM`. Counting is a few lines of NumPy: each
# n-gram is turned into one integer (its digits in base $V$), and `np.unique` counts them.

# %%
show_source(ar.NGramLM, start="# --- fit", end="# --- end fit")

# %% [markdown]
# The data is **tiny-shakespeare** (1.1 million characters of Shakespeare's plays, from
# char-rnn {cite}`karpathy2015charrnn`), split like nanoGPT {cite}`karpathy2022nanogpt`:
# the first 90 % for training, the last 10 % for validation. A
# character-level **tokenizer** (词元化器) maps each distinct character to an integer id.

# %%
text = load_shakespeare()
tok = CharTokenizer(text)
ids = tok.encode(text)
V = tok.vocab_size
n_train = int(0.9 * len(ids))
train_ids, val_ids = ids[:n_train], ids[n_train:]
train_text = text[:n_train]
train_words = set(re.findall(r"[A-Za-z']+", train_text))


def word_rate(strings):
    """A crude quality measure: the fraction of words in ``strings`` found in the training text."""
    words = [w for s in strings for w in re.findall(r"[A-Za-z']+", s)]
    return np.mean([w in train_words for w in words]) if words else 0.0


print(f"{len(text):,} characters, vocabulary of V = {V}: {tok.chars!r}")
print(f"train: {len(train_ids):,} characters, validation: {len(val_ids):,}")
print(text[:200])

# %% [markdown]
# **Bits per character.** The quality of a language model is its average negative
# log-likelihood on held-out text. In nats (natural log) it is the cross-entropy loss
# that neural models minimise. Divided by $\ln 2$ it is in **bits per character**
# (bpc, 每字符比特数): the average number of bits an ideal compressor driven by the
# model would need per character. The **perplexity** (困惑度) is
# $2^{\text{bpc}} = e^{\text{nats}}$: the model is as uncertain as a uniform choice among
# that many characters. A uniform model over the 65 characters has
# $\log_2 65 \approx 6.02$ bpc and perplexity 65. The unigram model ($n = 1$, the
# frequency of each character, no context) does better:

# %%
unigram = ar.NGramLM(1, V, alpha=1.0).fit(train_ids)
nats = unigram.nll(val_ids)
bpc = nats / np.log(2)
freqs = unigram.probs(np.zeros((1, 0), np.int64))[0]
print(
    f"unigram model: {nats:.4f} nats/char = {bpc:.4f} bits/char (uniform: log2 {V} = {np.log2(V):.4f}); "
    f"perplexity 2^bpc = {2**bpc:.2f} = e^nats = {np.exp(nats):.2f}"
)
# bpc = mean of -log2 p(x_t)
assert abs(bpc + np.mean(np.log2(freqs[val_ids]))) < 1e-9
assert abs(2**bpc - np.exp(nats)) < 1e-9

# %% [markdown]
# Now fit n-gram models for $n = 1, \dots, 8$, with add-$\alpha$ smoothing for three
# values of $\alpha$ and with interpolated smoothing, and measure them on the training
# text and on the validation text.

# %%
ORDERS = range(1, 9)
SETTINGS = {
    "add-α, α = 1": dict(alpha=1.0),
    "add-α, α = 0.1": dict(alpha=0.1),
    "add-α, α = 0.01": dict(alpha=0.01),
    "interpolated, α = 0.5": dict(alpha=0.5, interpolate=True),
}
val_bpc = {name: [] for name in SETTINGS}
train_bpc = {name: [] for name in SETTINGS}
distinct = []
# a training slice as long as the validation set
train_sample = train_ids[: len(val_ids)]
for n in ORDERS:
    # the counts do not depend on alpha:
    counts = {
        False: ar.NGramLM(n, V).fit(train_ids),
        # fit once, vary alpha
        True: ar.NGramLM(n, V, interpolate=True).fit(train_ids),
    }
    for name, kw in SETTINGS.items():
        lm = counts[kw.get("interpolate", False)]
        lm.alpha = kw["alpha"]
        val_bpc[name].append(lm.nll(val_ids) / np.log(2))
        train_bpc[name].append(lm.nll(train_sample) / np.log(2))
    distinct.append(lm.num_ngrams)
print("held-out bits per character")
print("n:".rjust(24) + "".join(f"{n:>7}" for n in ORDERS))
for name in SETTINGS:
    print(f"{name:>23} " + "".join(f"{b:7.3f}" for b in val_bpc[name]))
print("distinct n-grams seen".rjust(23) + " " + "".join(f"{d:>7,}" for d in distinct))
print("possible n-grams V^n".rjust(23) + " " + "".join(f"{V**n:7.0e}" for n in ORDERS))
best = {name: (ORDERS[int(np.argmin(b))], min(b)) for name, b in val_bpc.items()}
for name, (n, b) in best.items():
    print(f"best for {name}: n = {n}, {b:.3f} bits/char")

# %%
fig, ax = plt.subplots(figsize=(8, 4.5))
for (name, vals), color in zip(
    val_bpc.items(), ["tab:blue", "tab:orange", "tab:green", "tab:red"]
):
    ax.plot(ORDERS, vals, "o-", color=color, label=f"{name} (validation)")
    ax.plot(ORDERS, train_bpc[name], ":", color=color, alpha=0.7)
ax.plot([], [], "k:", label="dotted: same model on training text")
ax.axhline(
    np.log2(V), color="gray", ls="--", label=f"uniform: log2 {V} = {np.log2(V):.2f}"
)
ax.set_title(
    "n-gram models of Shakespeare: longer contexts help, until the counts run out"
)
ax.set_xlabel("n (context of n - 1 characters)")
ax.set_ylabel("bits per character")
ax.set_ylim(0, 6.5)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Three things to read in the table and the plot:
#
# * A longer context helps at first. A bigram model already saves more than 2 bits
#   per character over the uniform model, and each further character of context
#   saves less than the one before.
# * With add-$\alpha$ smoothing the validation curve turns back up after $n = 4$ or $5$,
#   while the training curve keeps falling: **overfitting** (过拟合). There are $V^n$
#   possible n-grams but only about a million in the text, so most long contexts of
#   the validation text were never seen, or seen once. The model then gives
#   unreliable, nearly uniform predictions.
# * Interpolated smoothing reaches a lower minimum and turns up much later, because an
#   unseen long context falls back on a shorter one that was seen.

# %%
gains = -np.diff(val_bpc["interpolated, α = 0.5"][:4])
assert np.log2(V) - val_bpc["add-α, α = 0.01"][1] > 2 and np.all(np.diff(gains) < 0)
assert best["add-α, α = 0.01"][0] in (4, 5) and best["add-α, α = 1"][0] in (4, 5)
assert best["interpolated, α = 0.5"][1] < best["add-α, α = 0.01"][1]
assert all(np.diff(train_bpc["add-α, α = 0.01"]) < 0)

# %% [markdown]
# An n-gram model generates text like any autoregressive model: give it a prompt,
# compute $p(\cdot \mid c)$, draw a character, append it, repeat. The course's
# `generate_tokens` runs this loop for any model that returns next-token logits
# (log-probabilities work, since the softmax of $\log p$ is $p$).

# %%
prompt = tok.encode("ROMEO:\nI will ")
rates = []
for n in (2, 4, 7):
    lm = ar.NGramLM(n, V, alpha=0.5, interpolate=True).fit(train_ids)
    out = generate_tokens(
        lm.step, np.tile(prompt, (8, 1)), 300, V, temperature=1.0, seed=1
    )
    rates.append(word_rate([tok.decode(row[len(prompt) :]) for row in out]))
    print(
        f"--- {n}-gram (interpolated): {lm.nll(val_ids) / np.log(2):.2f} bits/char; "
        f"{rates[-1]:.0%} of the words it generates occur in the training text ---"
    )
    print(tok.decode(out[0][: len(prompt) + 160]))
assert rates[0] < rates[1] < rates[2]

# %% [markdown]
# The bigram model gets the letter statistics right, the 4-gram produces word-like
# strings, and the 7-gram produces mostly real words, names and play-like line breaks
# (the printed share of real words rises with $n$). None of them keeps a sentence
# together for long, because they see only a few characters of context.
#
# ## 3. Neural language models, teacher forcing and exposure bias
#
# A **recurrent neural network** (RNN, 循环神经网络) removes the fixed window. It
# carries a hidden state $h_t$ that summarises the whole prefix, updated with the same
# weights at every step, and predicts the next token from it:
#
# $$
# h_t = \tanh\big(e(x_t) W_{xh} + h_{t-1} W_{hh} + b_h\big), \qquad
# p_\theta(x_{t+1} \mid x_{\le t}) = \operatorname{softmax}(h_t W_{hy} + b_y),
# $$
#
# where $e(x_t)$ is the token's **embedding** (嵌入), a learned vector. The number of
# parameters no longer depends on the length of the context. And $h_t$ is computed
# only from $x_1, \dots, x_t$: the model is **causal** by construction. Check this with
# random weights: change the input after position 4, and $h_1, \dots, h_4$ stay the same.

# %%
rng = np.random.default_rng(0)
E, H = 16, 32
embed = rng.normal(0, 1, (V, E))
w_xh, w_hh, b_h = rng.normal(0, 0.3, (E, H)), rng.normal(0, 0.2, (H, H)), np.zeros(H)
x_ids = tok.encode("To be, or not to be")[None]
x_changed = x_ids.copy()
x_changed[0, 5:] = tok.encode("! What a piece")[: x_ids.shape[1] - 5]
h = ar.rnn_forward(embed[x_ids], w_xh, w_hh, b_h)
h_changed = ar.rnn_forward(embed[x_changed], w_xh, w_hh, b_h)
diff = np.abs(h - h_changed).max(axis=2)[0]
print("max |h_t - h_t'| per position:", np.round(diff, 3))
assert np.all(diff[:5] == 0) and np.all(diff[5:] > 0)

# %% [markdown]
# In practice the recurrence is an **LSTM** (长短期记忆网络) {cite}`hochreiter1997lstm`,
# the cell of Karpathy's char-rnn and of the labs' `CharRNN`. It keeps a second state,
# the cell $c_t$, which is updated additively through gates:
#
# $$
# \begin{aligned}
# i, f, o &= \sigma(\cdot), \; g = \tanh(\cdot) \quad\text{of}\quad x_t W + h_{t-1} U + b, \\
# c_t &= f \odot c_{t-1} + i \odot g, \qquad h_t = o \odot \tanh(c_t).
# \end{aligned}
# $$
#
# When the forget gate $f$ is near 1 and the input gate $i$ near 0, $c_t = c_{t-1}$: the
# cell carries information, and gradients, over long spans without decay. The NumPy
# step below is checked against PyTorch's `nn.LSTM` in the course's tests; here we
# check the carry:

# %%
show_source(ar, start="# --- lstm", end="# --- end lstm")

# %%
D = 3
w, u = rng.normal(size=(D, 4 * H)), rng.normal(size=(H, 4 * H))
b = np.zeros(4 * H)
# input gate shut, forget gate open
b[:H], b[H : 2 * H] = -50.0, 50.0
h_prev, c_prev = rng.normal(size=(1, H)), rng.normal(size=(1, H))
h_next, c_next = ar.lstm_step(rng.normal(size=(1, D)), h_prev, c_prev, w, u, b)
print(f"max |c_t - c_(t-1)| with f = 1, i = 0: {np.abs(c_next - c_prev).max():.1e}")
assert np.allclose(c_next, c_prev, atol=1e-15)

# %% [markdown]
# **Teacher forcing** (教师强制). To train, cut the text into windows of $T + 1$
# tokens. The inputs are the first $T$, and the targets are the same window shifted by
# one, so that position $t$ is asked to predict token $t + 1$ from the **true**
# tokens before it. The loss is the mean cross-entropy over all $T$ positions:
#
# $$
# \mathcal L(\theta) = -\frac{1}{T} \sum_{t=1}^{T} \log p_\theta(x_{t+1} \mid x_{\le t}).
# $$

# %%
demo = tok.encode("To be, or not to be")
windows = make_windows(demo, block_size=8, stride=8)
inputs, targets = windows[:, :-1], windows[:, 1:]
for t in range(8):
    print(
        f"input {tok.decode(inputs[0, : t + 1])!r:>12}  ->  target {tok.decode(targets[0, t : t + 1])!r}"
    )

# %% [markdown]
# During training the model always conditions on real text. During generation it
# conditions on **its own samples**, and it never learned what to do after its own
# mistakes. One unlikely character leads the model into a context it has rarely or
# never seen, where its predictions are poor, so more mistakes follow. This mismatch
# between training and generation is called **exposure bias** (暴露偏差)
# {cite}`ranzato2016sequence,bengio2015scheduled`.
#
# The n-gram models show it very clearly, because we can check whether a context was
# ever seen in training. Take the 5-gram model with add-$\alpha$ smoothing
# ($\alpha = 0.01$) and the interpolated 7-gram. We measure the fraction of positions
# whose 4-character context never occurred in the training text, first on real
# validation text (teacher forcing) and then in the models' own samples:

# %%
add5 = ar.NGramLM(5, V, alpha=0.01).fit(train_ids)
interp7 = ar.NGramLM(7, V, alpha=0.5, interpolate=True).fit(train_ids)


def unseen_fraction(seqs):
    """Fraction of positions whose previous 4 characters never occurred in training."""
    ctx = np.lib.stride_tricks.sliding_window_view(
        np.asarray(seqs), 4, axis=-1
    ).reshape(-1, 4)
    return 1.0 - add5.context_seen(ctx).mean()


B, LENGTH = pick(full=16, fast=8), pick(full=400, fast=200)
starts = np.random.default_rng(1).integers(0, len(val_ids) - 8, B)
prompts = np.stack([val_ids[s : s + 8] for s in starts])  # 8 real characters each
samples = {
    name: generate_tokens(lm.step, prompts, LENGTH, V, temperature=1.0, seed=2)[:, 8:]
    for name, lm in [("add-α 5-gram", add5), ("interpolated 7-gram", interp7)]
}
print(
    f"real validation text: {unseen_fraction(val_ids):.1%} of the contexts were never seen in training"
)
for name, s in samples.items():
    lm = add5 if name.startswith("add") else interp7
    print(
        f"{name}: {lm.nll(val_ids) / np.log(2):.2f} bits/char on validation text (teacher forcing); "
        f"{unseen_fraction(s):.1%} unseen contexts in its own samples"
    )
    print("   sample:", repr(tok.decode(s[0][:120])))
assert unseen_fraction(samples["add-α 5-gram"]) > 5 * unseen_fraction(val_ids)

# %% [markdown]
# On real text the two models are not very far apart (the printed bits per character).
# Their samples are very different. Once the add-$\alpha$ model draws an unlikely
# character, its next context is unseen. There its smoothing gives the **uniform**
# distribution, so the next character is random too, and the context stays unseen:
# the model never gets back to real text. The interpolated model falls back on shorter
# contexts and recovers. Neural models are not this brittle, but the mechanism is the
# same. Two lessons follow:
#
# * a good held-out likelihood does not guarantee good samples, because evaluation
#   uses teacher forcing and sampling does not;
# * decoding tricks that avoid unlikely tokens (low temperature, top-k, top-p,
#   section 6) are partly a defence against exposure bias.
#
# ## 4. Attention and the Transformer
#
# An RNN must squeeze the whole prefix into $h_t$ and process the positions one after
# another. **Attention** (注意力机制) lets every position read directly from every
# earlier position, and lets all positions be computed in parallel.
#
# ### Scaled dot-product attention
#
# Each position emits a **query** $q_t$ (what am I looking for?), a **key** $k_s$ (what
# do I contain?) and a **value** $v_s$ (what do I pass on?), all linear maps of its
# input vector. Position $t$ takes a weighted average of the values, with weights
# from query–key similarity {cite}`vaswani2017attention`:
#
# $$
# \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\Big(\frac{Q K^\top}{\sqrt{d}} + M\Big) V,
# $$
#
# where $d$ is the size of the keys and $M$ is a mask (below). In **self-attention**
# (自注意力) the queries, keys and values all come from the same sequence.

# %%
show_source(ar, start="# --- attention", end="# --- end attention")

# %%
rng = np.random.default_rng(0)
T, d = 6, 8
Q, Kmat, Vmat = (
    rng.normal(size=(T, d)),
    rng.normal(size=(T, d)),
    rng.normal(size=(T, d)),
)
out_full, w_full = ar.scaled_dot_product_attention(Q, Kmat, Vmat)
out_causal, w_causal = ar.scaled_dot_product_attention(
    Q, Kmat, Vmat, ar.causal_attention_mask(T)
)
assert np.allclose(w_full.sum(1), 1) and np.allclose(w_causal.sum(1), 1)
# check the formula against a direct computation
s = Q @ Kmat.T / np.sqrt(d)
assert np.allclose(w_full, np.exp(s) / np.exp(s).sum(1, keepdims=True))

fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, wts, title in [
    (axes[0], w_full, "no mask"),
    (axes[1], w_causal, "causal mask"),
]:
    im = ax.imshow(wts, cmap="viridis", vmin=0, vmax=1)
    ax.set_title(f"Attention weights, {title}")
    ax.set_xlabel("key position s")
    ax.set_ylabel("query position t")
fig.colorbar(im, ax=axes, shrink=0.8, label="weight (each row sums to 1)")
plt.show()

# %% [markdown]
# ### The causal mask
#
# A language model trained with teacher forcing must not see the token it is asked to
# predict. The **causal mask** (因果掩码) sets $M_{ts} = -\infty$ for $s > t$, so
# those keys get weight $e^{-\infty} = 0$, and position $t$ sees only positions
# $1, \dots, t$. Check the property that matters: changing the inputs **after** position
# $t$ does not change the output at $t$. Without the mask, it does.

# %%
changed_V = Vmat.copy()
changed_K = Kmat.copy()
changed_V[4:] += rng.normal(size=(2, d))
changed_K[4:] += rng.normal(size=(2, d))
out_causal2, _ = ar.scaled_dot_product_attention(
    Q, changed_K, changed_V, ar.causal_attention_mask(T)
)
out_full2, _ = ar.scaled_dot_product_attention(Q, changed_K, changed_V)
print(
    "causal:  max change of the outputs at positions 0-3:",
    np.abs(out_causal2 - out_causal)[:4].max(),
)
print(
    "no mask: max change of the outputs at positions 0-3:",
    np.abs(out_full2 - out_full)[:4].max().round(3),
)
assert np.abs(out_causal2 - out_causal)[:4].max() == 0
assert np.abs(out_full2 - out_full)[:4].max() > 0.01

# %% [markdown]
# With the mask, one forward pass over a window of $T$ tokens gives all $T$
# next-token predictions at once, each from its own past. This is why Transformers
# train much faster than RNNs on the same hardware. Sampling, however, still produces
# one token per forward pass.
#
# ### Why divide by $\sqrt d$?
#
# If the components of $q$ and $k$ are independent with mean 0 and variance 1, then
# $q \cdot k = \sum_{i=1}^d q_i k_i$ is a sum of $d$ independent terms of variance 1, so
#
# $$
# \mathbb E[q \cdot k] = 0, \qquad \operatorname{Var}(q \cdot k) = d .
# $$
#
# Scores with a standard deviation of $\sqrt d$ put almost all of the softmax's weight
# on the largest one. The softmax **saturates**: attention becomes a hard choice of one
# key, and the gradient of the softmax, $\partial p / \partial s = \operatorname{diag}(p) - p p^\top$,
# goes to zero. Dividing by $\sqrt d$ brings the variance back to 1 for every $d$.
# Check both statements:

# %%
rng = np.random.default_rng(0)
DIMS = [4, 16, 64, 256, 1024]
T_keys, trials = 16, pick(full=1000, fast=500)
stats = {
    "var": [],
    "max_w": {True: [], False: []},
    "entropy": {True: [], False: []},
    "jacobian": {True: [], False: []},
}
for d in DIMS:
    q = rng.normal(size=(trials, 1, d))
    k = rng.normal(size=(trials, T_keys, d))
    dots = (q @ np.swapaxes(k, 1, 2))[:, 0]  # (trials, T_keys)
    stats["var"].append(dots.var())
    for scale in (True, False):
        p = softmax(dots / np.sqrt(d) if scale else dots)
        stats["max_w"][scale].append(p.max(1).mean())
        stats["entropy"][scale].append(ar.entropy_bits(p).mean())
        jac = p[:, :, None] * np.eye(T_keys) - p[:, :, None] * p[:, None, :]
        stats["jacobian"][scale].append(np.linalg.norm(jac, axis=(1, 2)).mean())
for d, var, e1, e0 in zip(
    DIMS, stats["var"], stats["entropy"][True], stats["entropy"][False]
):
    print(
        f"d = {d:5d}: Var(q.k) = {var:8.1f} (d = {d}); attention entropy: scaled {e1:.2f} bits, "
        f"unscaled {e0:.2f} bits (uniform over {T_keys} keys: {np.log2(T_keys):.0f} bits)"
    )
assert all(abs(v / d - 1) < 0.1 for v, d in zip(stats["var"], DIMS))
assert np.ptp(stats["entropy"][True]) < 0.1 and stats["entropy"][False][-1] < 0.5

fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
axes[0].loglog(DIMS, stats["var"], "o-", label="measured Var(q·k)")
axes[0].loglog(DIMS, DIMS, "k--", label="d")
axes[0].set_title("Variance of the dot product grows like d")
axes[0].set_xlabel("key size d")
axes[0].set_ylabel("Var(q·k)")
axes[0].legend()
for ax, key, label in [
    (axes[1], "max_w", "mean largest attention weight"),
    (axes[2], "jacobian", "mean ‖∂softmax/∂scores‖"),
]:
    ax.semilogx(DIMS, stats[key][True], "o-", label=r"scaled: $q \cdot k / \sqrt{d}$")
    ax.semilogx(DIMS, stats[key][False], "s-", label=r"unscaled: $q \cdot k$")
    ax.set_xlabel("key size d")
    ax.set_ylabel(label)
    ax.legend()
axes[1].set_title("Without scaling, softmax picks one key")
axes[2].set_title("... and its gradient vanishes")
plt.show()

# %% [markdown]
# ### Several heads
#
# **Multi-head attention** (多头注意力) runs $h$ attentions side by side, each on its own
# slice of size $C / h$ of the queries, keys and values. The results are put side by
# side again and mixed by an output projection. Different heads can then attend to
# different things (the previous character, the start of the word, the speaker's name)
# at no extra cost: the parameters are the same $4C^2 + 4C$ for any number of heads.
# The course's version follows nanoGPT's layout, one matrix $W_{qkv}$ of shape
# $C \times 3C$ and then a reshape into heads:

# %%
show_source(ar, start="# --- multi-head", end="# --- end multi-head")

# %%
B_, T, C, n_head = 2, 7, 16, 4
params = ar.init_block(C, rng, std=0.3)
w_qkv, b_qkv, w_proj, b_proj = params["attn"]
x = rng.normal(size=(B_, T, C))
y = ar.multi_head_attention(x, w_qkv, b_qkv, w_proj, b_proj, n_head)
# the same thing, one head at a time
q, k, v = np.split(x @ w_qkv + b_qkv, 3, axis=-1)
hs = C // n_head
heads = [
    ar.scaled_dot_product_attention(
        q[..., i * hs : (i + 1) * hs],
        k[..., i * hs : (i + 1) * hs],
        v[..., i * hs : (i + 1) * hs],
        ar.causal_attention_mask(T),
    )[0]
    for i in range(n_head)
]
y_loop = np.concatenate(heads, axis=-1) @ w_proj + b_proj
print(
    f"batched heads vs one head at a time: max difference {np.abs(y - y_loop).max():.1e}; "
    f"parameters {sum(a.size for a in params['attn'])} = 4C^2 + 4C = {4 * C * C + 4 * C}"
)
assert (
    np.allclose(y, y_loop) and sum(a.size for a in params["attn"]) == 4 * C * C + 4 * C
)

# %% [markdown]
# ### Positions
#
# Attention without a mask treats its input as a **set**: permute the input positions
# and the outputs are permuted in the same way, and nothing else changes. Word order
# would be invisible. This is why GPT adds a learned **position embedding** to each
# token embedding before the first block. (The causal mask also breaks the symmetry,
# but it does not tell a position *where* it is.)

# %%
perm = rng.permutation(T)
y_set = ar.multi_head_attention(x, w_qkv, b_qkv, w_proj, b_proj, n_head, causal=False)
y_perm = ar.multi_head_attention(
    x[:, perm], w_qkv, b_qkv, w_proj, b_proj, n_head, causal=False
)
print(
    f"no mask: max |f(x[perm]) - f(x)[perm]| = {np.abs(y_perm - y_set[:, perm]).max():.1e}"
)
assert np.allclose(y_perm, y_set[:, perm])

# %% [markdown]
# ### The Transformer block
#
# A GPT is a stack of identical **blocks** (the decoder of the **Transformer**). Each
# block lets the positions exchange information with attention, then processes each
# position separately with a small MLP (4 times wider, GELU activation). Each sub-layer
# reads a layer-normalised copy of its input and **adds** its result to it (a residual
# connection), the "pre-LN" layout of GPT-2 and nanoGPT:

# %%
show_source(ar, start="# --- block", end="# --- end block")

# %% [markdown]
# A block has $12 C^2 + 13 C$ parameters: $W_{qkv}$ $3C^2 + 3C$, the output projection
# $C^2 + C$, the MLP $4C^2 + 4C$ and $4C^2 + C$, and two layer norms $2C$ each. A GPT
# adds the token embedding $V C$, the position embedding (block size $\times C$), a
# final layer norm $2C$ and the output head $C V$. The course's tests check this count
# against the PyTorch and Keras models and the NumPy block against PyTorch's. Here:
# the count, and causality of a stack of blocks.

# %%
C = 32
params = [ar.init_block(C, rng) for _ in range(2)]
assert ar.count_block_params(params[0]) == 12 * C * C + 13 * C
x = rng.normal(size=(1, 10, C))
x2 = x.copy()
x2[:, 6:] = rng.normal(size=(1, 4, C))
run = lambda h: ar.transformer_block(
    ar.transformer_block(h, params[0], 4), params[1], 4
)
y1, y2 = run(x), run(x2)
print(
    f"one block: {ar.count_block_params(params[0]):,} parameters = 12C^2 + 13C for C = {C}"
)
print(
    f"two causal blocks: max change at positions 0-5 = {np.abs(y1 - y2)[:, :6].max():.1e}, "
    f"at 6-9 = {np.abs(y1 - y2)[:, 6:].max():.2f}"
)
assert np.abs(y1 - y2)[:, :6].max() < 1e-12


def gpt_params(V, block_size, n_layer, C, tied=False):
    """Parameters of a GPT: embeddings, blocks, final layer norm, head (shared if tied)."""
    return (
        V * C
        + block_size * C
        + n_layer * (12 * C * C + 13 * C)
        + 2 * C
        + (0 if tied else C * V)
    )


# nanoGPT's Shakespeare model: no biases (12C^2 + 2C per block), head tied to the token
# embedding, position embeddings not counted in the number it prints
nano = 65 * 384 + 6 * (12 * 384**2 + 2 * 384) + 384
print(
    f"nanoGPT's Shakespeare model (6 layers, C = 384): {nano:,} = {nano / 1e6:.2f} M parameters"
)
print(
    f"the labs' default GPT (4 layers, C = 128, block 128): {gpt_params(65, 128, 4, 128):,}"
)

# %% [markdown]
# ## 5. Self-supervised learning and generative pre-training
#
# Nobody labelled the Shakespeare text, yet we trained a predictor on it: the labels
# (the next characters) come from the data itself. This is **self-supervised
# learning** (自监督学习). The task is supervised in form, an input and a target with
# a cross-entropy loss, but the targets are made from the data. Every position of a
# corpus is one training example, so the 1.1 MB of Shakespeare gives over a million
# of them for free. A labelled dataset of that size would be expensive to build.

# %%
block = 256
# stride = block: consecutive windows share one token
w = make_windows(train_ids, block_size=block)
n_targets = w[:, 1:].size
print(
    f"{len(w):,} windows of {block + 1} characters -> {n_targets:,} (input, next character) "
    f"training pairs, from {len(train_ids):,} characters and no annotation"
)
# every target is just the next character
assert np.array_equal(w[:, 1:].ravel(), train_ids[1 : 1 + n_targets])

# %% [markdown]
# **Generative pre-training** (生成式预训练) is the recipe of GPT
# {cite}`radford2018gpt`: first train a Transformer decoder on a large unlabelled corpus
# to predict the next token. The model becomes a generative model of text, and to
# predict well it must pick up grammar, facts and some reasoning. Then **fine-tune**
# it (微调) on a small labelled dataset for the task you care about, or, as GPT-2
# showed {cite}`radford2019gpt2`, just *prompt* it: phrase the task as text and let it
# continue. Other self-supervised objectives exist, such as BERT's masked language
# model, which fills in hidden words from both sides {cite}`devlin2019bert`. It is
# good for understanding text but is not a left-to-right generator.
#
# ```{mermaid}
# flowchart LR
#     U["large unlabelled corpus"] --> P["pre-training: predict the next token<br/>(self-supervised, the labs' loss)"]
#     P --> M["pre-trained model<br/>(a generative model of text)"]
#     M --> F["fine-tuning on a small labelled set"]
#     M --> Z["prompting: write the task as text<br/>and let the model continue"]
#     F --> T["task model"]
#     Z --> T
# ```
#
# The labs do the first box at the smallest possible scale, with the same loss as GPT.
#
# ## 6. Sampling: greedy, temperature, top-k, top-p
#
# A trained model gives, at each step, logits $\ell \in \mathbb R^V$ for the next token.
# How we turn them into a token changes the output a lot. The generation loop is the
# same for every autoregressive model in the course:
#
# ```{mermaid}
# flowchart LR
#     P["prompt x_1 ... x_t"] --> M["model: logits ℓ for token t+1"]
#     M --> T["divide by the temperature: ℓ / T"]
#     T --> F["filter: keep the top-k tokens,<br/>or the top-p nucleus"]
#     F --> S["softmax, draw x_(t+1)<br/>(greedy: take the argmax)"]
#     S --> A["append x_(t+1) to the sequence"]
#     A -- "until max length or an end token" --> M
# ```
#
# * **greedy decoding** (贪心解码): always take the most likely token. It is
#   deterministic, and it tends to fall into loops.
# * **temperature** (温度) $T$: sample from $p_T(v) \propto \exp(\ell_v / T)$. $T = 1$ is the
#   model's own distribution; $T < 1$ sharpens it (as $T \to 0$ it becomes greedy);
#   $T > 1$ flattens it (as $T \to \infty$ it becomes uniform).
# * **top-k sampling**: keep the $k$ most likely tokens, renormalise, sample.
# * **top-p (nucleus) sampling** (核采样) {cite}`holtzman2020curious`: keep the smallest
#   set of most likely tokens whose total probability reaches $p$, renormalise, sample.
#   The number of tokens kept adapts to how sure the model is.
#
# The functions are `aigc_course.text`'s `top_k_filter`, `top_p_filter`, `softmax` and
# `sample_next`. The labs use the same ones in both frameworks. Look at the effect on a
# real next-character distribution, the interpolated 7-gram's after "...And th":

# %%
context = tok.encode("KING RICHARD II:\nAnd th")
logits = np.log(interp7.probs(context[None, -6:])[0])
settings = {
    "T = 1 (the model)": softmax(logits),
    "T = 0.5": softmax(logits / 0.5),
    "T = 2": softmax(logits / 2),
    "top-k, k = 3": softmax(top_k_filter(logits, 3)),
    "top-p, p = 0.9": softmax(top_p_filter(logits, 0.9)),
}
top = np.argsort(-logits)[:12]
fig, axes = plt.subplots(1, len(settings), figsize=(16, 3.2), sharey=True)
for ax, (name, p) in zip(axes, settings.items()):
    ax.bar(range(len(top)), p[top], color="tab:blue")
    ax.set_xticks(range(len(top)), [repr(tok.chars[i])[1:-1] for i in top], fontsize=8)
    ax.set_title(
        f"{name}\nentropy {ar.entropy_bits(p):.2f} bits, {np.sum(p > 0)} tokens allowed",
        fontsize=10,
    )
    ax.set_xlabel("next character")
axes[0].set_ylabel("probability")
plt.show()

# %% [markdown]
# Check the definitions numerically:
#
# * as $T \to 0$, $p_T$ becomes one-hot on the argmax (greedy); as $T \to \infty$, uniform;
# * the top-p set is the *smallest* prefix of the sorted tokens with mass $\ge p$: its
#   mass reaches $p$, and without its least likely member it would not;
# * `sample_next` draws from $p_T$: the frequencies of many draws match it.

# %%
p_cold, p_hot = softmax(logits / 1e-3), softmax(logits / 1e4)
assert p_cold.argmax() == logits.argmax() and p_cold.max() > 0.999
assert np.allclose(p_hot, 1 / V, atol=1e-3)
p = softmax(logits)
for nucleus in (0.5, 0.9, 0.99):
    kept = np.isfinite(top_p_filter(logits, nucleus))
    mass, smallest = p[kept].sum(), p[kept].min()
    print(
        f"top-p {nucleus}: keeps {kept.sum():2d} tokens with mass {mass:.3f}; without the least "
        f"likely one {mass - smallest:.3f}"
    )
    assert mass >= nucleus and mass - smallest < nucleus
draw_rng = np.random.default_rng(0)
n_draws = pick(full=50_000, fast=20_000)
draws = np.array(
    [sample_next(logits, temperature=0.5, rng=draw_rng) for _ in range(n_draws)]
)
tv = (
    0.5
    * np.abs(np.bincount(draws, minlength=V) / n_draws - softmax(logits / 0.5)).sum()
)
print(f"{n_draws:,} draws at T = 0.5: total variation to p_T = {tv:.4f}")
assert tv < 0.02

temps = np.geomspace(0.05, 20, 60)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogx(temps, [ar.entropy_bits(softmax(logits / t)) for t in temps])
ax.axhline(np.log2(V), color="gray", ls="--", label=f"uniform: log2 {V}")
ax.axvline(1.0, color="black", lw=0.8, label="T = 1")
ax.set_title("Temperature moves the entropy from 0 (greedy) to uniform")
ax.set_xlabel("temperature T")
ax.set_ylabel("entropy of p_T (bits)")
ax.legend()
plt.show()

# %% [markdown]
# **Diversity against quality.** Generate text with the interpolated 7-gram from
# prompts taken from the validation text, under each setting, and measure two things:
#
# * **diversity**: *distinct-4*, the fraction of distinct 4-grams (4 consecutive
#   characters) among all those generated. It is 1 when nothing repeats and near 0
#   for a model stuck in a loop;
# * **quality** (a crude proxy): the fraction of generated words that occur somewhere
#   in the training text.

# %%
def evaluate(**decoding):
    out = generate_tokens(interp7.step, prompts, LENGTH, V, seed=3, **decoding)[:, 8:]
    strings = [tok.decode(row) for row in out]
    return ar.distinct_n(strings, 4), word_rate(strings), strings


TEMPS = [0.0, 0.3, 0.5, 0.8, 1.0, 1.2, 1.5, 2.0]
by_temp = {t: evaluate(temperature=t) for t in TEMPS}
by_k = {k: evaluate(top_k=k) for k in (2, 5, 20)}
by_p = {q: evaluate(top_p=q) for q in (0.5, 0.8, 0.95)}
for label, table in [("T", by_temp), ("top-k", by_k), ("top-p", by_p)]:
    for key, (div, qual, _) in table.items():
        print(
            f"{label} = {key:<4}: distinct-4 {div:.3f}, words found in the training text {qual:.1%}"
        )

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.plot(
    [v[0] for v in by_temp.values()],
    [v[1] for v in by_temp.values()],
    "o-",
    label="temperature",
)
for t, (div, qual, _) in by_temp.items():
    ax.annotate(
        "greedy" if t == 0 else f"T={t}",
        (div, qual),
        textcoords="offset points",
        xytext=(4, 4),
        fontsize=8,
    )
ax.plot(
    [v[0] for v in by_k.values()],
    [v[1] for v in by_k.values()],
    "s",
    label="top-k (T = 1)",
)
for k, (div, qual, _) in by_k.items():
    ax.annotate(
        f"k={k}", (div, qual), textcoords="offset points", xytext=(4, -10), fontsize=8
    )
ax.plot(
    [v[0] for v in by_p.values()],
    [v[1] for v in by_p.values()],
    "^",
    label="top-p (T = 1)",
)
for q, (div, qual, _) in by_p.items():
    ax.annotate(
        f"p={q}", (div, qual), textcoords="offset points", xytext=(4, -10), fontsize=8
    )
ax.set_title("Decoding trades diversity for quality (interpolated 7-gram)")
ax.set_xlabel("diversity: distinct-4")
ax.set_ylabel("quality: fraction of real words")
ax.legend()
plt.show()

for t in (0.0, 0.8, 2.0):
    print(f"--- {'greedy' if t == 0 else f'T = {t}'} ---\n{by_temp[t][2][0][:200]}\n")
assert by_temp[0.0][0] < 0.5 * by_temp[1.0][0]  # greedy repeats itself
assert by_temp[0.5][1] > by_temp[1.0][1] > by_temp[2.0][1]  # hotter: fewer real words
assert by_temp[0.5][0] < by_temp[1.0][0] < by_temp[2.0][0]  # ... and more diversity

# %% [markdown]
# Greedy decoding produces the most "correct" words and almost no diversity: it
# repeats the same phrase again and again. Raising the temperature buys diversity
# with quality. Top-k and top-p keep the model's own distribution ($T = 1$) but cut off
# its unreliable tail, where the slips of section 3 begin. A point above the
# temperature curve is a better trade-off than temperature alone; the numbers below
# give each point's quality minus that of the temperature curve at the same diversity.

# %%
curve = sorted((v[0], v[1]) for v in by_temp.values())
gains = []
for label, table in [("top-k", by_k), ("top-p", by_p)]:
    for key, (div, qual, _) in table.items():
        gains.append(
            qual - np.interp(div, [c[0] for c in curve], [c[1] for c in curve])
        )
        print(
            f"{label} = {key:<4}: {gains[-1]:+.1%} real words compared with temperature "
            f"at distinct-4 {div:.3f}"
        )
assert max(np.abs(gains)) < 0.1

# %% [markdown]
# The differences are a few percentage points at most: for this model, *how much* of
# the tail is cut matters more than the rule that cuts it. There is no single best
# setting: it depends on whether you want variety (stories,
# brainstorming) or precision (code, facts), and it is usually tuned by reading
# samples. The labs run the same settings on neural models.
#
# ## 7. Autoregressive images: PixelCNN
#
# An image is a sequence too, once we fix an order. PixelRNN and PixelCNN
# {cite}`vandenoord2016pixelrnn` read the pixels in **raster order**: row by row, left
# to right. A binarized $28 \times 28$ MNIST digit is then a sequence of 784 bits:
#
# $$
# p(x) = \prod_{i=1}^{28} \prod_{j=1}^{28} p\big(x_{ij} \mid x_{<ij}\big), \qquad
# x_{<ij} = \text{rows above } i, \text{ and row } i \text{ left of } j .
# $$
#
# PixelCNN computes all 784 conditionals in one pass of a convolutional network whose
# kernels are **masked** so that the output at $(i, j)$ never sees $x_{ij}$ or anything
# after it. Two masks are used:
#
# * **type A**, in the first layer: the rows above the centre and the pixels left of
#   the centre. The centre is excluded, because the output there predicts the input
#   there;
# * **type B**, in all later layers: the same, plus the centre. Position $(i, j)$ of a
#   hidden layer already holds only information from $x_{<ij}$, so reading it is safe.

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
order = np.arange(25).reshape(5, 5)
axes[0].imshow(order < 12, cmap="Blues", vmin=0, vmax=1.5)
for (i, j), n in np.ndenumerate(order):
    axes[0].text(
        j, i, str(n), ha="center", va="center", color="red" if n == 12 else "black"
    )
axes[0].set_title("Raster order: pixel 12\nis predicted from 0-11 (blue)")
for ax, (k, t) in zip(axes[1:], [(7, "A"), (3, "B")]):
    m = ar.pixelcnn_mask(k, t)
    ax.imshow(m, cmap="Greens", vmin=0, vmax=1.3)
    ax.add_patch(
        plt.Rectangle((k // 2 - 0.5, k // 2 - 0.5), 1, 1, fill=False, ec="red", lw=3)
    )
    for edge in np.arange(-0.5, k):
        ax.axhline(edge, color="white", lw=1)
        ax.axvline(edge, color="white", lw=1)
    ax.set_title(
        f"mask type {t} ({k}x{k}): green = read;\ncentre (red) {'hidden' if t == 'A' else 'read'}"
    )
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("column")
    ax.set_ylabel("row")
plt.show()

# %% [markdown]
# **Which pixels can an output see?** A masked layer reads its input at the offsets its
# mask keeps, so a stack of layers reads at every sum of one offset per layer. Compute
# that set for the labs' default PixelCNN (one $7 \times 7$ type-A layer, five
# $3 \times 3$ type-B layers) at the centre pixel. Check it against impulse
# responses: run the same stack of masked convolutions, with positive random kernels,
# on 784 images that each have a single pixel switched on, and see which ones reach
# the centre. Then look at the result:

# %%
PIXEL = (14, 14)
layers = [(7, "A")] + [(3, "B")] * 5
field = ar.receptive_field(layers, (28, 28), PIXEL)
impulses = np.eye(784).reshape(784, 28, 28)
h = impulses
conv_rng = np.random.default_rng(0)
for k, t in layers:
    h = ar.masked_conv2d(h, conv_rng.uniform(0.5, 1.0, (k, k)), ar.pixelcnn_mask(k, t))
reaches = h[:, PIXEL[0], PIXEL[1]].reshape(28, 28) > 0
assert np.array_equal(reaches, field)

raster = np.arange(784).reshape(28, 28)
past = raster < raster[PIXEL]
# as deep as it helps
deep = ar.receptive_field([(7, "A")] + [(3, "B")] * 27, (28, 28), PIXEL)
blind = past & ~deep
# causal: nothing at or after the pixel
assert not field[~past].any() and not deep[~past].any()
print(
    f"pixel {PIXEL}: {past.sum()} pixels come before it; 6 layers see {field.sum()} of them; "
    f"{(past & deep & ~field).sum()} more are within reach of a deeper stack; "
    f"{blind.sum()} are never seen (the blind spot)"
)

view = np.zeros((28, 28, 3))
view[past & field] = (0.2, 0.6, 0.2)  # seen
view[past & deep & ~field] = (0.98, 0.75, 0.45)  # past, out of reach of 6 layers
view[blind] = (0.85, 0.15, 0.15)  # past, never seen
view[~past] = (0.85, 0.85, 0.85)  # future
view[PIXEL] = (0.0, 0.0, 0.0)
fig, ax = plt.subplots(figsize=(5, 5))
ax.imshow(view, interpolation="nearest")
ax.set_title(
    f"What pixel {PIXEL} (black) depends on\ngreen: seen; orange: out of reach; "
    "red: blind spot;\ngray: future",
    fontsize=10,
)
ax.set_xlabel("column j")
ax.set_ylabel("row i")
plt.show()

# %% [markdown]
# Two kinds of past pixels are missing. The orange ones are simply out of reach of six
# small kernels; more layers would reach them. The red wedge at the upper right is the
# **blind spot** (盲点): because each mask cuts off the right-hand half of the centre
# row, these pixels are never reached, however many layers are stacked (the map
# `deep` above uses 28 layers, enough to cross the whole image). Gated PixelCNN {cite}`vandenoord2016pixelcnn` removes the blind spot with
# two stacks of convolutions, a vertical one for the rows above and a horizontal one
# for the current row. The labs use the original, simpler design, and check this map
# against the gradients of the trained network.
#
# (ar-concepts-pitfall-type-b)=
# **Pitfall: a type-B mask in the first layer.** If the first layer may read its
# centre, every output sees the very pixel it is supposed to predict. Training then
# drives the loss towards 0, because the network learns to copy its input, and
# sampling is meaningless: the first pixel is drawn from a model that expected to be
# told its value.

# %%
leaky = ar.receptive_field([(7, "B")] + [(3, "B")] * 5, (28, 28), PIXEL)
print(
    f"first layer type A: output {PIXEL} sees its own pixel? {field[PIXEL]}; "
    f"first layer type B: {leaky[PIXEL]}"
)
assert not field[PIXEL] and leaky[PIXEL]

# %% [markdown]
# **Costs.** Training and likelihood evaluation take **one** forward pass, since all
# 784 conditionals come out at once, as with the causal Transformer. Sampling takes
# **784** passes, one per pixel, because pixel $(i, j)$ can only be drawn after all
# pixels before it. This asymmetry (cheap exact likelihood, slow sequential sampling)
# is the basic trade-off of autoregressive models. The labs report the likelihood in
# nats per image and in **bits per dimension**, $\text{NLL} / (784 \ln 2)$, and time
# the sampling.
#
# ## What goes wrong in common code
#
# Autoregressive code can fail silently in ways that make training look *better*:
#
# * **No causal mask, or a type-B first layer**: the model sees the target. The
#   training loss drops towards 0, and generation produces garbage. Always check
#   causality: change the future, and the present must not move (sections 4 and 7,
#   and the labs).
# * **Targets not shifted**: using `x` as both input and target asks the model to copy
#   the current token. The result is the same as above.
# * **Judging samples by the loss**: a lower validation loss usually means better
#   samples, but decoding matters as much (sections 3 and 6).
# * **Comparing likelihoods across setups**: bits per character depend on the
#   tokenizer and on the data split, and bits per dimension on how the images were
#   binarized. Compare only numbers measured the same way.
#
# (ar-concepts-pitfall-unshifted)=
# **Pitfall: targets not shifted.** Fit the simplest model that conditions on one
# character, a table of counts $p(x_{\text{target}} \mid x_{\text{input}})$, twice on the
# Shakespeare of section 2: once with each character's target the *next* character, once
# with the target the character itself (`x` as input and as target). Then sample from each.

# %%
def bigram_table(inputs, targets, alpha=0.01):
    counts = np.full((V, V), alpha)
    np.add.at(counts, (inputs, targets), 1.0)
    return counts / counts.sum(axis=1, keepdims=True)


def bits_per_char(table, inputs, targets):
    return float(-np.log2(table[inputs, targets]).mean())


shifted = bigram_table(train_ids[:-1], train_ids[1:])
# BUG: the target is the input
unshifted = bigram_table(train_ids, train_ids)
print(
    f"shifted targets:   validation loss {bits_per_char(shifted, val_ids[:-1], val_ids[1:]):.3f} bits/char"
)
print(
    f"unshifted targets: validation loss {bits_per_char(unshifted, val_ids, val_ids):.3f} bits/char"
)
sample_rng = np.random.default_rng(0)
for name, table in (("shifted", shifted), ("unshifted", unshifted)):
    out = list(tok.encode("The "))
    for _ in range(60):
        out.append(int(sample_rng.choice(V, p=table[out[-1]])))
    print(f"{name:>9}: {tok.decode(out)!r}")
assert (
    bits_per_char(unshifted, val_ids, val_ids)
    < 0.01
    < 3.0
    < bits_per_char(shifted, val_ids[:-1], val_ids[1:])
)

# %% [markdown]
# The unshifted model reaches a nearly perfect loss, because it has learned to copy,
# and generates the last character of the prompt over and over. A loss that looks too
# good is the symptom. The labs cut the text with `make_windows` into windows of
# `block_size + 1` tokens and use `w[:, :-1]` as the input, `w[:, 1:]` as the target.
#
# ## Exercises
#
# :::{exercise}
# :label: ar-concepts-ex-order
# The chain rule holds for every ordering of the variables. Check numerically that
# $p(x_1, x_2, x_3) = p(x_2)\, p(x_3 \mid x_2)\, p(x_1 \mid x_2, x_3)$ for the `joint` of
# section 1. If every ordering gives the same joint distribution, why does the order
# still matter for a *learned* model, such as a PixelCNN reading pixels in raster order
# versus column by column?
# :::
#
# :::{solution} ar-concepts-ex-order
# :class: dropdown
# ```python
# p2 = joint.sum(axis=(0, 2))
# p23 = joint.sum(axis=0)                                     # (x2, x3)
# prod = p2[None, :, None] * (p23 / p2[:, None])[None] * (joint / p23[None])
# assert np.allclose(prod, joint)
# ```
# With exact conditionals every order is equivalent. A learned model approximates each
# conditional with limited capacity and limited context (a small receptive field, a
# fixed window). Some orders make the conditionals easier to learn. Raster order puts
# the pixels just above and to the left, which are strongly correlated with the
# current one, into the context. Text read left to right has the grammar of the
# language to help. Order is also a choice of which questions the model can answer
# cheaply: a left-to-right model gives $p(\text{end} \mid \text{start})$ directly, but
# not $p(\text{start} \mid \text{end})$.
# :::
#
# :::{exercise}
# :label: ar-concepts-ex-alpha
# For the add-$\alpha$ 5-gram, find the $\alpha$ that minimises the validation bits per
# character on a grid from $10^{-4}$ to $1$. Then fit on only the first 10 % of the
# training text. Does the best $\alpha$ go up or down, and why? Why is choosing
# $\alpha$ on the validation set slightly optimistic, and how would you avoid it?
# :::
#
# :::{solution} ar-concepts-ex-alpha
# :class: dropdown
# ```python
# for frac in (1.0, 0.1):
#     part = train_ids[:int(frac * len(train_ids))]
#     scores = {a: ar.NGramLM(5, V, alpha=a).fit(part).nll(val_ids) / np.log(2)
#               for a in np.geomspace(1e-4, 1, 9)}
#     print(frac, min(scores, key=scores.get), min(scores.values()))
# ```
# With less data the counts are smaller and less reliable, so the prior deserves more
# weight and the best $\alpha$ goes up. With more data the counts speak for
# themselves. Any setting chosen by looking at the validation score is tuned to that
# text, so the score is a little better than it would be on new text. Split off a
# third set: tune on a development split, and report once on a test split.
# :::
#
# :::{exercise}
# :label: ar-concepts-ex-sqrt
# Show that $\operatorname{Var}(q \cdot k) = d$ when all $2d$ components are independent
# with mean 0 and variance 1. What changes if the components have variance
# $\sigma^2$? In a trained model the queries and keys come out of a layer norm and a
# linear map: does the $1/\sqrt d$ factor still make the scores exactly unit-variance?
# :::
#
# :::{solution} ar-concepts-ex-sqrt
# :class: dropdown
# Each term $q_i k_i$ has mean $\mathbb E[q_i]\mathbb E[k_i] = 0$ and variance
# $\mathbb E[q_i^2 k_i^2] = \mathbb E[q_i^2]\mathbb E[k_i^2] = 1$, and the $d$ terms are
# independent, so their variances add: $\operatorname{Var} = d$. With variance
# $\sigma^2$ each term has variance $\sigma^4$ and the sum $d\sigma^4$. In a trained model
# the components are neither independent nor unit-variance, so $1/\sqrt d$ only sets the
# right *scale* at initialisation. Training can then make the attention as sharp as it
# needs (its weights can grow). The point is to start in the region where the softmax
# has useful gradients.
# :::
#
# :::{exercise}
# :label: ar-concepts-ex-greedy
# Show that `top_k=1`, `top_p` close to 0 and `temperature` close to 0 all give greedy
# decoding. (Use `sample_next` on `logits` from section 6 with several seeds.) Is
# greedy decoding the same as finding the most likely *sequence*? Construct a
# two-step example where it is not.
# :::
#
# :::{solution} ar-concepts-ex-greedy
# :class: dropdown
# ```python
# for seed in range(5):
#     r = np.random.default_rng(seed)
#     assert sample_next(logits, top_k=1, rng=r) == sample_next(logits, top_p=1e-9, rng=r) \
#         == sample_next(logits, temperature=1e-6, rng=r) == logits.argmax()
# ```
# No. Greedy decoding maximises each factor separately. Example with tokens A and B:
# $p(A) = 0.6$ and $p(B) = 0.4$ at step 1; after A, the next token is split 0.5/0.5;
# after B, one token has probability 0.9. Greedy picks A, then a 0.5 token:
# $0.6 \times 0.5 = 0.30$. The sequence starting with B has $0.4 \times 0.9 = 0.36$.
# Beam search keeps several candidates to find better sequences, but for open-ended
# generation the most likely sequence is often dull and repetitive anyway
# {cite}`holtzman2020curious`.
# :::
#
# :::{exercise}
# :label: ar-concepts-ex-field
# With `ar.receptive_field`, find how many $3 \times 3$ type-B layers after the $7 \times 7$
# type-A layer are needed before pixel $(27, 27)$ (the last one) can see pixel
# $(0, 0)$. Does the blind spot of pixel $(14, 14)$ shrink as you add layers?
# :::
#
# :::{solution} ar-concepts-ex-field
# :class: dropdown
# ```python
# n = 0
# while not ar.receptive_field([(7, "A")] + [(3, "B")] * n, (28, 28), (27, 27))[0, 0]:
#     n += 1
# print(n)   # 24: each layer reaches one more pixel to the left and up; type A reaches 3
# ```
# Each type-B layer extends the field by one pixel to the left (on the centre row) and
# by one row up. The 7×7 type-A layer reaches 3 pixels, so 24 more layers are needed
# to go 27 pixels to the left. Adding layers pushes the edges of the field outwards,
# but the wedge above and to the right of the pixel stays unseen: its right-hand
# boundary moves one column per row, like the wedge itself. Only a different
# architecture (Gated PixelCNN's vertical and horizontal stacks) removes it.
# :::
#
# :::{exercise}
# :label: ar-concepts-ex-exposure
# **Scheduled sampling** {cite}`bengio2015scheduled` fights exposure bias by sometimes
# feeding the model its own prediction instead of the true previous token during
# training. Why can an n-gram model not benefit from this, and why can an RNN? What
# does scheduled sampling give up?
# :::
#
# :::{solution} ar-concepts-ex-exposure
# :class: dropdown
# An n-gram model has no trainable state between steps. Its parameters are counts of
# real contexts, and counting its own samples would only teach it its own mistakes.
# An RNN's hidden state is shaped by training, so showing it contexts that contain its
# own errors can teach it to recover. The price is that the training signal no longer
# matches maximum likelihood on the data: the targets are still the true next tokens,
# but the inputs are not the true prefix, so the objective is biased and harder to
# parallelise, because the inputs of step $t$ depend on the model's output at step
# $t - 1$. This is one reason large models still train with plain teacher forcing.
# :::
