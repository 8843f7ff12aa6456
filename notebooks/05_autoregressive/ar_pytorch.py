# ---
# jupyter:
#   aigc_course:
#     edit: ar_lab.py, then run make sync
#     generated_from: ar_lab.py
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
# # Lab: autoregressive models in PyTorch
#
# Three projects, each trained by maximising the exact likelihood that the chain rule
# gives ({doc}`ar_concepts`):
#
# 1. **Tang poems** (唐诗), character by character, with an LSTM language model;
# 2. **Shakespeare** with a small GPT (a decoder-only Transformer), measured in bits
#    per character and compared, honestly, with nanoGPT's published number;
# 3. **MNIST digits pixel by pixel** with a PixelCNN: exact likelihood in bits per
#    dimension, sampling, and a causality check of the masks.
#
# The same lab exists in Keras ({doc}`ar_keras`). The models have the same layers and
# the same number of parameters in both frameworks, and they decode with the same
# NumPy sampling code, so the same logits and seed give the same text.
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) every model is tiny and trains
# for a few dozen steps on a CPU, so the poems and plays below are gibberish and the
# digits are blobs. On a Colab GPU, leave it unset: the full run takes about ten minutes
# (An estimate: it has not been timed on a GPU yet.)
# With `AIGC_COURSE_PRETRAINED=1` the lab skips training the CharRNN, the GPT and the
# PixelCNN and loads the course checkpoints (trained with the full recipe) instead.
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
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import aigc_course.torch.autoregressive as ar_module
from aigc_course import ar_numpy as ar
from aigc_course import check_gpu, is_fast, pick, pretrained, show_source
from aigc_course.data import (
    load_mnist,
    load_shakespeare,
    load_tang_poems,
    random_subset,
)
from aigc_course.likelihood import (
    bernoulli_nll_np,
    nats_to_bits_per_dim,
    threshold_binarize,
)
from aigc_course.plotting import compare_samples, plot_history, show_images
from aigc_course.text import CharTokenizer, make_windows
from aigc_course.torch import MODELS, Callback, get_device, set_seed

# no GPU and AIGC_COURSE_FAST unset: switches to fast mode, and says so
gpu = check_gpu(pretrained=True)
set_seed(0)
device = get_device()
# mixed precision on a GPU: bfloat16 from compute capability 8.0, else float16 + scaler
AMP = "auto"
print(f"PyTorch {torch.__version__} on {device}; fast mode: {is_fast()}")

# %% [markdown]
# Both text projects report the loss on held-out text after every epoch. The
# framework-neutral `ar.mean_token_nll` does the arithmetic from the model's logits
# (mean cross-entropy per character, in nats); the callback only stores it.


# %%
class ValidationLoss(Callback):
    """After every epoch: the mean cross-entropy (nats per token) on held-out windows."""

    def __init__(self, windows):
        self.windows, self.values = windows, []

    def on_epoch_end(self, model, epoch, logs):
        self.values.append(ar.mean_token_nll(model.logits, self.windows))
        print(f"    validation loss {self.values[-1]:.4f} nats/char")


# %% [markdown]
# ## 1. Tang poems, character by character
#
# ### Data
#
# `load_tang_poems` returns the 313 poems of *Three Hundred Tang Poems* (唐诗三百首)
# with their titles and authors. We keep a random tenth of the poems for validation
# and join each set into one long text, with a blank line after every poem.

# %%
poems = load_tang_poems()
order = np.random.default_rng(0).permutation(len(poems))
n_val = len(poems) // 10
val_poems, train_poems = (
    [poems[i] for i in order[:n_val]],
    [poems[i] for i in order[n_val:]],
)
poem_train_text = "".join(p["text"] + "\n\n" for p in train_poems)
poem_val_text = "".join(p["text"] + "\n\n" for p in val_poems)
print(
    f"{len(poems)} poems: {len(train_poems)} for training ({len(poem_train_text):,} characters), "
    f"{len(val_poems)} for validation ({len(poem_val_text):,} characters)"
)
print(f"《{poems[0]['title']}》 {poems[0]['author']}\n{poems[0]['text']}")

# %% [markdown]
# A character tokenizer is the natural choice for Chinese: each character (汉字) is
# one token, no word segmentation needed. It is built from all the poems, so that the
# validation text can be encoded too. Compare the **vocabulary size** with
# Shakespeare's 65 characters:

# %%
poem_tok = CharTokenizer(poem_train_text + poem_val_text)
poem_train_ids, poem_val_ids = (
    poem_tok.encode(poem_train_text),
    poem_tok.encode(poem_val_text),
)
counts = np.bincount(
    np.concatenate([poem_train_ids, poem_val_ids]), minlength=poem_tok.vocab_size
)
top = np.argsort(-counts)[:12]
print(f"vocabulary: {poem_tok.vocab_size:,} distinct characters")
print(
    f"{(counts == 1).sum()} of them occur only once in the whole corpus; "
    f"{(np.bincount(poem_train_ids, minlength=poem_tok.vocab_size) == 0).sum()} never in the training poems"
)
print("most frequent:", " ".join(f"{poem_tok.chars[i]!r}:{counts[i]}" for i in top))

# %% [markdown]
# Thousands of symbols and only about 25,000 characters of text: most characters are
# seen a handful of times. Expect the model to learn the frequent characters, the
# punctuation and the line lengths quickly. With this much data it can learn to
# recite poems, but not to write new ones well.
#
# ### The model
#
# `MODELS["char_rnn"]` is Karpathy's char-rnn {cite}`karpathy2015charrnn`: an
# embedding, stacked LSTM layers {cite}`hochreiter1997lstm` and a linear layer that
# outputs one logit per character. With a large vocabulary the embedding and the output
# layer hold most of the parameters. The count below is checked against a hand formula.

# %%
RNN = pick(
    full=dict(embed_dim=128, hidden_size=256, num_layers=2, dropout=0.3),
    # fast: tiny, larger steps
    fast=dict(embed_dim=32, hidden_size=64, num_layers=1, lr=5e-3),
)
set_seed(0)
rnn = MODELS["char_rnn"](poem_tok.vocab_size, **RNN)
V, E, H, L = (
    poem_tok.vocab_size,
    RNN["embed_dim"],
    RNN["hidden_size"],
    RNN["num_layers"],
)
parts = {
    "embedding V*E": V * E,
    "LSTM 4(in*H + H*H + H) per layer": sum(
        4 * ((E if i == 0 else H) * H + H * H + H) for i in range(L)
    ),
    "output layer H*V + V": H * V + V,
}
for name, n in parts.items():
    print(f"{name:>34}: {n:>9,}")
print(
    f"{'total':>34}: {sum(parts.values()):>9,} = count_params() {rnn.count_params():,}"
)
assert sum(parts.values()) == rnn.count_params()

# %% [markdown]
# ### The loss and the training step
#
# The loss is the mean cross-entropy of the next character: teacher forcing, as in
# the concept notebook. PixelCNN's loss, used in project 3, sums one binary
# cross-entropy per pixel.

# %%
show_source(ar_module, start="# --- losses", end="# --- end losses")

# %%
show_source(type(rnn).train_step)

# %% [markdown]
# Before training, the model should be no better than a uniform guess among the $V$
# characters, a loss of $\ln V$ nats. This is a cheap check that the loss and the data
# are wired up correctly:

# %%
BLOCK_POEM = pick(full=64, fast=32)
poem_train_w = make_windows(poem_train_ids, BLOCK_POEM, stride=pick(full=4, fast=32))
poem_val_w = make_windows(poem_val_ids, BLOCK_POEM)
loss0 = ar.mean_token_nll(rnn.logits, poem_val_w)
print(
    f"{len(poem_train_w):,} training windows of {BLOCK_POEM + 1} characters; "
    f"{len(poem_val_w)} validation windows"
)
print(f"initial validation loss {loss0:.3f} nats/char; ln V = ln {V} = {np.log(V):.3f}")
assert abs(loss0 - np.log(V)) < 0.2

# %% [markdown]
# ### Training
#
# `verbose=1` draws a progress bar per epoch (what you see when you run it); this page
# was built in fast mode with `verbose=2`, one line per epoch.

# %%
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    # the same ids
    assert pretrained.tokenizer("char_rnn", "tang300").chars == poem_tok.chars
    rnn = pretrained.load("char_rnn", "tang300", device=device)
    poem_losses = pretrained.history("char_rnn", "tang300")
    # measured by the recipe, on its own validation windows
    poem_val = poem_losses["val_nats"]
else:
    poem_val_cb = ValidationLoss(poem_val_w)
    poem_losses = rnn.fit(
        poem_train_w,
        epochs=pick(full=40, fast=2),
        batch_size=pick(full=64, fast=32),
        callbacks=[poem_val_cb],
        verbose=pick(full=1, fast=2),
        amp=AMP,
        seed=0,
    ).history
    poem_val = poem_val_cb.values
poem_seconds = time.perf_counter() - t0

# %%
ax = plot_history(
    {"training": poem_losses["loss"], "validation": poem_val},
    title="CharRNN on Tang poems (PyTorch)",
)
ax.axhline(np.log(V), color="gray", ls="--", label=f"uniform guess, ln {V}")
ax.set_ylabel("cross-entropy (nats per character)")
ax.legend()
plt.show()
print(
    f"final: training {poem_losses['loss'][-1]:.3f}, validation {poem_val[-1]:.3f} "
    f"nats/char (lowest validation {min(poem_val):.3f})"
)

# %% [markdown]
# The training loss is averaged over each epoch, while the model is still improving;
# the validation loss is measured at the end of the epoch. That is why, early on, the
# validation curve can lie *below* the training curve.

# %% [markdown]
# In a full run, watch the gap between the two curves. When the validation loss stops
# improving while the training loss keeps falling, the model has started to memorise
# the 23,000 characters of training poems: the overfitting of the n-gram models in
# {doc}`ar_concepts`. Dropout (set in full mode) delays it.
#
# ### Writing poems
#
# Give the model a prompt, "明月" ("the bright moon", a favourite image of Tang poets),
# and let it continue under several decoding settings. For each poem we also print
# the fraction of its 4-character sequences that occur in the training poems. Near
# 100 % means the model is reciting lines it has memorised.

# %%
PROMPT = "明月"
N_CHARS = pick(full=48, fast=24)
DECODING = {
    "greedy": dict(temperature=0.0),
    "T = 0.7": dict(temperature=0.7),
    "T = 1.0": dict(temperature=1.0),
    "top-k = 10": dict(top_k=10),
    "top-p = 0.9": dict(top_p=0.9),
}
for name, kw in DECODING.items():
    out = rnn.generate(poem_tok.encode(PROMPT), N_CHARS, seed=0, **kw)
    poem = poem_tok.decode(out)
    overlap = ar.ngram_overlap(poem, poem_train_text, 4)
    print(
        f"--- {name} ({overlap:.0%} of its 4-grams are in the training poems) ---\n{poem}\n"
    )

# %% [markdown]
# Greedy decoding tends to fall into a loop (in fast mode, often a loop of line
# breaks). Sampling at $T = 1$ gives the most variety and the most unusual
# characters. With little training (fast mode) the output is mostly frequent
# characters and punctuation. After a full run, look for the 5- or 7-character rhythm
# of the corpus, and use the overlap to judge how much is recited rather than new.

# %% [markdown]
# ### Your run beside the course checkpoint
#
# This page was built in fast mode, so the poems above come from a tiny model trained for
# seconds. The course also publishes this CharRNN with the full configuration, trained with
# the full recipe (`make pretrain MODEL=char_rnn DATASET=tang300`) on the same poems, split
# and tokenizer: one file that the PyTorch and the Keras lab both load, scored with the other
# checkpoints in {doc}`../08_evaluation/results`. Below, both models write from the same
# prompt with the same decoding and seed, and are scored on the same validation windows.

# %%
if pretrained.is_published("char_rnn", "tang300"):
    # the same ids
    assert pretrained.tokenizer("char_rnn", "tang300").chars == poem_tok.chars
    course_rnn = pretrained.load("char_rnn", "tang300", device=device)
    your_title = (
        "loaded, not trained (AIGC_COURSE_PRETRAINED=1)"
        if pretrained.use_only()
        else "your run: "
        + pretrained.training_summary(
            len(poem_losses["loss"]),
            len(poem_train_text),
            poem_seconds,
            "GPU" if gpu else "CPU",
            "characters",
        )
    )
    for title, lm in [
        (your_title, rnn),
        (pretrained.describe("char_rnn", "tang300"), course_rnn),
    ]:
        poem = poem_tok.decode(
            lm.generate(poem_tok.encode(PROMPT), N_CHARS, seed=0, **DECODING["T = 0.7"])
        )
        print(
            f"--- {title}\nvalidation loss {ar.mean_token_nll(lm.logits, poem_val_w):.3f} nats/char; "
            f"T = 0.7:\n{poem}\n"
        )
else:
    print(
        "The course checkpoint char_rnn/tang300 is not published yet: "
        "`make pretrain MODEL=char_rnn DATASET=tang300` trains it."
    )

# %% [markdown]
# ## 2. Shakespeare with a small GPT
#
# ### Data and model
#
# tiny-shakespeare, split like nanoGPT {cite}`karpathy2022nanogpt`: the first 90 % of
# the characters for training, the last 10 % for validation.

# %%
text = load_shakespeare()
tok = CharTokenizer(text)
ids = tok.encode(text)
n_train = int(0.9 * len(ids))
train_ids, val_ids = ids[:n_train], ids[n_train:]
print(
    f"{len(ids):,} characters, vocabulary {tok.vocab_size}; train {len(train_ids):,}, "
    f"validation {len(val_ids):,}"
)

# %% [markdown]
# The model follows nanoGPT's layout (the Transformer block of {doc}`ar_concepts`):
# token and position embeddings, `n_layer` pre-LN blocks of causal self-attention and
# a GELU MLP, a final layer norm, and a linear head. It is written out in the next
# cell: the attention by hand, the block, and the model's forward pass and training
# step; change any of it, rerun, and the training below uses your version. The cell is
# the package's own code, `aigc_course.torch.autoregressive` (a test checks that they
# read the same); the course checkpoint and the results page use the package's.

# %% mirrors="aigc_course.torch.autoregressive"
import math

import torch.nn.functional as F
from torch import nn

from aigc_course.torch.autoregressive import check_token_tensor


def token_cross_entropy(logits, targets):
    """Mean over (batch, time) of -log softmax(logits)[target], in nats per token."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t attends only to positions <= t.

    q, k, v = x W_qkv (one Linear C -> 3C), split into n_head heads of size C/n_head;
    att = softmax(q k^T / sqrt(d) + mask), mask = -inf above the diagonal;
    y = (att v) with the heads concatenated, then the output projection C -> C.
    """

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd={n_embd} must be divisible by n_head={n_head}")
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)
        mask = torch.tril(torch.ones(block_size, block_size, dtype=torch.bool))
        self.register_buffer(
            "mask", mask.view(1, 1, block_size, block_size), persistent=False
        )

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_size)
        q, k, v = (
            t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            for t in (q, k, v)
        )
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.shape[-1])  # (B, nh, T, T)
        # no peeking ahead
        att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
        att = self.attn_dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).reshape(B, T, C)  # heads side by side
        return self.resid_dropout(self.c_proj(y))


class Block(nn.Module):
    """Pre-LN Transformer block: x + attn(LN(x)), then x + MLP(LN(x)) with a 4x GELU MLP."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, eps=1e-5)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size, dropout)
        self.ln_2 = nn.LayerNorm(n_embd, eps=1e-5)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd),
            nn.GELU(),
            nn.Linear(4 * n_embd, n_embd),
            nn.Dropout(dropout),
        )

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(ar_module.GPT):
    """The course's GPT with its block, forward pass and training step written out here."""

    def build_block(self):
        """One Transformer block; ``__init__`` stacks ``n_layer`` of them."""
        return Block(self.n_embd, self.n_head, self.block_size, self.dropout)

    def forward(self, idx):
        """Logits (B, T, V) for int ids (B, T), T <= block_size."""
        check_token_tensor(idx, self.block_size)
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))

    def train_step(self, x):
        opt = self.optimizers["model"]
        inputs, targets = x[:, :-1], x[:, 1:]  # teacher forcing: predict the next token
        with self.autocast():
            logits = self(inputs)
        loss = token_cross_entropy(logits.float(), targets)
        opt.zero_grad(set_to_none=True)
        self.backward(loss)
        self.optimizer_step(opt)
        return {"loss": loss.detach()}

# %%
GPT_CONFIG = pick(
    full=dict(block_size=128, n_layer=4, n_head=4, n_embd=256, dropout=0.1, lr=1e-3),
    fast=dict(block_size=64, n_layer=2, n_head=4, n_embd=64, lr=1e-3),
)
set_seed(0)
gpt = GPT(tok.vocab_size, **GPT_CONFIG)
Vs, C, Lg, Bk = (
    tok.vocab_size,
    GPT_CONFIG["n_embd"],
    GPT_CONFIG["n_layer"],
    GPT_CONFIG["block_size"],
)
formula = Vs * C + Bk * C + Lg * (12 * C * C + 13 * C) + 2 * C + C * Vs
print(
    f"GPT with {Lg} layers, {GPT_CONFIG['n_head']} heads, width {C}, context {Bk}: "
    f"{gpt.count_params():,} parameters (formula: {formula:,})"
)
assert gpt.count_params() == formula

# %% [markdown]
# **Causality check.** Change the characters after position 40 of a window: the
# logits at positions 0 to 40 must not move. The outputs from position 41 on must
# move, since they see the change.

# %%
window = val_ids[None, :Bk]
changed = window.copy()
changed[0, 41:] = np.random.default_rng(0).integers(0, Vs, Bk - 41)
before, after = gpt.logits(window), gpt.logits(changed)
print(
    f"max change of the logits at positions <= 40: {np.abs(after - before)[0, :41].max():.1e}; "
    f"after: {np.abs(after - before)[0, 41:].max():.3f}"
)
assert np.allclose(after[0, :41], before[0, :41], atol=1e-5)
assert np.abs(after - before)[0, 41:].max() > 1e-3

# %% [markdown]
# ### Training
#
# Training windows overlap (stride of a quarter window in full mode), so that each
# character is seen at several positions in the context. Validation uses
# non-overlapping windows of the whole validation text (a subset in fast mode).

# %%
train_w = make_windows(train_ids, Bk, stride=pick(full=Bk // 4, fast=Bk))
train_w = random_subset(pick(full=len(train_w), fast=32 * 16), train_w, seed=0)[0]
val_w = make_windows(val_ids, Bk)
val_w = random_subset(pick(full=len(val_w), fast=64), val_w, seed=0)[0]
print(
    f"{len(train_w):,} training windows, {len(val_w):,} validation windows of {Bk + 1} characters"
)
loss0 = ar.mean_token_nll(gpt.logits, val_w)
print(f"initial validation loss {loss0:.3f} nats/char; ln {Vs} = {np.log(Vs):.3f}")
assert abs(loss0 - np.log(Vs)) < 0.1

# %%
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    assert pretrained.tokenizer("gpt", "shakespeare").chars == tok.chars  # the same ids
    gpt = pretrained.load("gpt", "shakespeare", device=device)
    gpt_losses = pretrained.history("gpt", "shakespeare")
    gpt_val, steps = (
        gpt_losses["val_nats"],
        pretrained.card("gpt", "shakespeare")["steps"],
    )
else:
    gpt_val_cb = ValidationLoss(val_w)
    gpt_losses = gpt.fit(
        train_w,
        epochs=pick(full=6, fast=3),
        batch_size=pick(full=64, fast=32),
        callbacks=[gpt_val_cb],
        verbose=pick(full=1, fast=2),
        amp=AMP,
        seed=0,
    ).history
    gpt_val = gpt_val_cb.values
    steps = len(gpt_losses["loss"]) * (len(train_w) // pick(full=64, fast=32))
train_seconds = time.perf_counter() - t0
print(
    pretrained.describe("gpt", "shakespeare")
    if pretrained.use_only()
    else f"{steps:,} steps in {train_seconds:.0f} s on {device}"
)

# %%
ax = plot_history(
    {"training": gpt_losses["loss"], "validation": gpt_val},
    title="GPT on tiny-shakespeare (PyTorch)",
)
ax.set_ylabel("cross-entropy (nats per character)")
plt.show()

# %% [markdown]
# ### How good is it?
#
# We convert the validation loss into bits per character and compare it with four
# references. The uniform guess and two n-gram models from {doc}`ar_concepts` are
# measured here on the same validation text. The last is nanoGPT's published result:
# **1.4697 nats** validation loss for its character-level Shakespeare model
# (6 layers, 6 heads, width 384, context 256, about 10.7 million parameters), trained
# for about 3 minutes on one A100 GPU.
# Once the course checkpoint of this GPT is published, the table shows it too, its loss
# measured here on the same validation windows.

# %%
gpt_nats = (
    ar.mean_token_nll(gpt.logits, val_w) if pretrained.use_only() else gpt_val[-1]
)
rows = {
    "uniform guess over 65 characters": np.log(Vs),
    "5-gram, add-α smoothing (α = 0.01)": ar.NGramLM(5, Vs, alpha=0.01)
    .fit(train_ids)
    .nll(val_ids),
    "7-gram, interpolated (α = 0.5)": ar.NGramLM(7, Vs, alpha=0.5, interpolate=True)
    .fit(train_ids)
    .nll(val_ids),
    f"this GPT ({gpt.count_params() / 1e6:.2f} M parameters, {steps:,} steps)": gpt_nats,
}
# the course checkpoint, on the same validation windows
if pretrained.is_published("gpt", "shakespeare"):
    course_gpt = (
        gpt
        if pretrained.use_only()
        else pretrained.load("gpt", "shakespeare", device=device)
    )
    course_nats = (
        gpt_nats
        if pretrained.use_only()
        else ar.mean_token_nll(course_gpt.logits, val_w)
    )
    rows[pretrained.describe("gpt", "shakespeare")] = course_nats
rows["nanoGPT (10.7 M parameters, A100, published)"] = 1.4697
width = max(52, *map(len, rows))
print(f"{'model':<{width}} {'nats/char':>9} {'bits/char':>9} {'perplexity':>10}")
for name, nats in rows.items():
    print(f"{name:<{width}} {nats:9.4f} {nats / np.log(2):9.4f} {np.exp(nats):10.2f}")
print(
    f"\nthis GPT is {gpt_nats - 1.4697:+.3f} nats/char ({(gpt_nats - 1.4697) / np.log(2):+.3f} bits) "
    f"from nanoGPT's number"
)
# a fast-mode run; the loaded checkpoint is a full one
if is_fast() and not pretrained.use_only():
    assert gpt_nats > max(rows["7-gram, interpolated (α = 0.5)"], 1.4697)

# %% [markdown]
# Read the gap honestly. nanoGPT's model has about 10.7 million parameters and a
# context of 256 characters, and was trained for 5,000 steps of 64 × 256 characters.
# A fast-mode run is a toy: a tiny model, a few dozen steps on a CPU. Its loss is
# far above nanoGPT's, and above the n-gram models' too. A full run (a few million
# parameters, a few thousand steps) gets much closer; the printed numbers say how
# close, and closing the rest of the gap takes nanoGPT's size and training time.
#
# One difference in how the loss is measured remains. Every window starts with
# positions that have little context, which are harder to predict. nanoGPT's windows
# are 256 characters long, ours 64 or 128, so a larger share of our positions has a
# short context. The comparison is therefore slightly unfair to our model.
# {ref}`ar-pytorch-ex-position` measures by how much.
#
# ### Samples

# %%
for name, kw in {
    "T = 0.8": dict(temperature=0.8),
    "top-p = 0.9": dict(top_p=0.9),
}.items():
    out = gpt.generate(tok.encode("ROMEO:\n"), pick(full=400, fast=80), seed=0, **kw)
    print(f"--- {name} ---\n{tok.decode(out)}\n")

# %% [markdown]
# ### Your run beside the course checkpoint
#
# This page was built in fast mode, so the GPT above is a toy trained for seconds. The
# course also publishes this GPT with the full `GPT_CONFIG`, trained with the full recipe
# (`make pretrain MODEL=gpt DATASET=shakespeare`) on nanoGPT's split: one file that the
# PyTorch and the Keras lab both load, scored in {doc}`../08_evaluation/results`. Its
# validation loss, measured above on the same windows as yours, is a row of the table; here
# both models continue the same prompt with the same decoding and seed.

# %%
if pretrained.is_published("gpt", "shakespeare"):
    # the characters the training windows cover
    n_chars = min(len(train_ids), len(train_w) * Bk)
    your_title = (
        "loaded, not trained (AIGC_COURSE_PRETRAINED=1)"
        if pretrained.use_only()
        else "your run: "
        + pretrained.training_summary(
            len(gpt_losses["loss"]),
            n_chars,
            train_seconds,
            "GPU" if gpu else "CPU",
            "characters",
        )
    )
    for title, lm, nats in [
        (your_title, gpt, gpt_nats),
        (pretrained.describe("gpt", "shakespeare"), course_gpt, course_nats),
    ]:
        # 300 characters also in fast mode: enough verse to judge the checkpoint by
        out = lm.generate(
            tok.encode("ROMEO:\n"), pick(full=400, fast=300), seed=0, temperature=0.8
        )
        print(
            f"--- {title}\nvalidation loss {nats:.4f} nats/char; T = 0.8:\n{tok.decode(out)}\n"
        )
else:
    print(
        "The course checkpoint gpt/shakespeare is not published yet: "
        "`make pretrain MODEL=gpt DATASET=shakespeare` trains it."
    )

# %% [markdown]
# ## 3. PixelCNN on binarized MNIST
#
# ### Data and model
#
# Each pixel is binarized, 1 where the grey level is above one half, and the
# PixelCNN {cite}`vandenoord2016pixelrnn` models the 784 bits in raster order. The
# test set is only used for the likelihood.

# %%
images, _ = load_mnist("train")
test_images, _ = load_mnist("test")
images = random_subset(pick(full=len(images), fast=1024), images, seed=0)[0]
test_images = random_subset(pick(full=len(test_images), fast=500), test_images, seed=1)[
    0
]
x_test = threshold_binarize(test_images)
print(
    f"training on {len(images):,} images, evaluating on {len(test_images):,} test images"
)
show_images(threshold_binarize(images[:32]), title="Binarized MNIST digits", nrow=8);

# %%
PIXEL_CONFIG = pick(
    full=dict(hidden=64, n_layers=5),
    # fast: tiny, larger steps
    fast=dict(hidden=16, n_layers=3, lr=1e-2),
)
set_seed(0)
pcnn = MODELS["pixelcnn"](**PIXEL_CONFIG)
print(
    f"PixelCNN: masked 7x7 type-A layer, {PIXEL_CONFIG['n_layers']} masked 3x3 type-B layers, "
    f"{PIXEL_CONFIG['hidden']} channels: {pcnn.count_params():,} parameters"
)
show_source(type(pcnn).train_step)

# %% [markdown]
# ### Training

# %%
t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    pcnn = pretrained.load("pixelcnn", "mnist", device=device)
    # a smoke-test card records no curves
    pixel_card = pretrained.card("pixelcnn", "mnist")
    pixel_losses = (
        pretrained.history("pixelcnn", "mnist")
        if pixel_card.get("history")
        else {"loss": []}
    )
    pixel_epochs = pixel_card["epochs"]
else:
    pixel_losses = pcnn.fit(
        images,
        epochs=pick(full=5, fast=2),
        batch_size=pick(full=128, fast=64),
        verbose=pick(full=1, fast=2),
        amp=AMP,
        seed=0,
    ).history
    pixel_epochs = len(pixel_losses["loss"])
pixel_seconds = time.perf_counter() - t0
ax = plot_history(
    {"training": pixel_losses["loss"]}, title="PixelCNN on MNIST (PyTorch)"
)
ax.set_ylabel("negative log-likelihood (nats per image)")
plt.show()

# %% [markdown]
# ### Exact likelihood
#
# $-\log p(x) = \sum_{i,j} \mathrm{BCE}\big(\ell_{ij}, x_{ij}\big)$, one binary
# cross-entropy per pixel from one forward pass. Check `nll` against the same sum
# computed in NumPy from the logits. Then compare it with two baselines: a uniform
# guess ($784 \ln 2$ nats) and a model of **independent pixels**, each with its own
# probability of being on, estimated on the training images.

# %%
nll = pcnn.nll(x_test)
check = bernoulli_nll_np(pcnn.logits(x_test[:100]), x_test[:100])
print(
    f"max |nll - NumPy sum of BCEs| on 100 images: {np.abs(nll[:100] - check).max():.1e}"
)
assert np.allclose(nll[:100], check, rtol=1e-4)

x_train = threshold_binarize(images)
# per-pixel frequency, smoothed
p_on = (x_train.sum(0) + 1) / (len(x_train) + 2)
independent = -(x_test * np.log(p_on) + (1 - x_test) * np.log(1 - p_on)).sum((1, 2))
print(f"{'model':<22} {'nats/image':>10} {'bits/dim':>9}")
for name, value in [
    ("uniform", 784 * np.log(2)),
    ("independent pixels", independent.mean()),
    ("PixelCNN", nll.mean()),
]:
    print(f"{name:<22} {value:10.2f} {float(nats_to_bits_per_dim(value)):9.4f}")
assert nll.mean() < 0.85 * independent.mean()

# %% [markdown]
# Even a briefly trained PixelCNN beats the independent-pixel model by a wide margin:
# knowing the pixels above and to the left says a lot about the next one. Do not
# compare these numbers with published ones: papers use *stochastically* binarized
# MNIST, where each pixel is 1 with probability equal to its grey level, and that data
# is harder to model than our thresholded digits.
#
# ### Sampling, pixel by pixel
#
# `sample` runs the network 784 times, once per pixel, on the rows drawn so far, and
# draws each pixel from its Bernoulli distribution. That is slow, and the batch size
# hardly matters: the cost is in the 784 sequential passes.

# %%
n_samples = pick(full=16, fast=2)
t0 = time.perf_counter()
samples = pcnn.sample(n_samples, seed=0)
seconds = time.perf_counter() - t0
print(
    f"{n_samples} samples in {seconds:.1f} s: 784 forward passes, "
    f"{1000 * seconds / 784:.1f} ms per pass"
)
show_images(
    samples,
    title=f"PixelCNN samples (PyTorch, {pixel_epochs} epochs)",
    nrow=min(8, n_samples),
    figsize=3 if is_fast() else 5,
);

# %% [markdown]
# ### Your run beside the course checkpoint
#
# This page was built in fast mode, so the PixelCNN above is tiny and trained for seconds.
# The course also publishes a PixelCNN with the full `PIXEL_CONFIG`, trained with the full
# recipe (`make pretrain MODEL=pixelcnn DATASET=mnist`): one file that the PyTorch and the
# Keras lab both load, scored in {doc}`../08_evaluation/results`. Its title says how it was
# trained, and says so when the file is still a smoke test rather than the recipe's result.
# Both models draw from the same seed (a few images: sampling is slow) and are measured on
# the same test images.

# %%
if pretrained.is_published("pixelcnn", "mnist"):
    course_pcnn = (
        pcnn
        if pretrained.use_only()
        else pretrained.load("pixelcnn", "mnist", device=device)
    )
    n_show = pick(full=16, fast=8)  # at most 16: 784 sequential passes per batch
    your_title = (
        "loaded, not trained (AIGC_COURSE_PRETRAINED=1)"
        if pretrained.use_only()
        else "your run: "
        + pretrained.training_summary(
            pixel_epochs, len(images), pixel_seconds, "GPU" if gpu else "CPU"
        )
    )
    yours = pcnn.sample(n_show, seed=0)
    course = yours if pretrained.use_only() else course_pcnn.sample(n_show, seed=0)
    compare_samples(
        yours, course, your_title, pretrained.describe("pixelcnn", "mnist"), nrow=4
    )
    plt.show()
    for title, m in [
        (your_title, pcnn),
        (pretrained.describe("pixelcnn", "mnist"), course_pcnn),
    ]:
        bpd = float(nats_to_bits_per_dim(m.nll(x_test).mean()))
        print(
            f"{title}\n    {bpd:.4f} bits/dim on the same {len(x_test):,} test images"
        )
else:
    print(
        "The course checkpoint pixelcnn/mnist is not published yet: "
        "`make pretrain MODEL=pixelcnn DATASET=mnist` trains it."
    )

# %% [markdown]
# ### Causality check
#
# The masks promise that the logit of pixel $(i, j)$ depends only on pixels before it
# in raster order. Test it on the trained network: make 784 copies of a test image,
# flip a different pixel in each, and see which logits change. For every flipped
# pixel $p$, the logits of $p$ and of every pixel before it must be unchanged.

# %%
base = x_test[0]
flipped = np.repeat(base[None], 784, axis=0)
rows_, cols_ = np.divmod(np.arange(784), 28)
flipped[np.arange(784), rows_, cols_] = 1 - flipped[np.arange(784), rows_, cols_]
base_logits = pcnn.logits(base[None])[0].ravel()
delta = np.concatenate(
    [
        np.abs(pcnn.logits(flipped[i : i + 196]).reshape(-1, 784) - base_logits)
        # delta[p, q]: flip p, logit q
        for i in range(0, 784, 196)
    ]
)
at_or_before = np.tril(np.ones((784, 784), bool))  # q <= p in raster order
print(
    f"largest change of a logit at or before the flipped pixel: {delta[at_or_before].max():.1e} "
    f"(float32 rounding); after it: {delta[~at_or_before].max():.2f}"
)
assert delta[at_or_before].max() < 1e-4

# %% [markdown]
# Now look from one pixel's side: which flips change the logit of pixel (14, 14)?
# Compare with the receptive field that `ar.receptive_field` predicts for this stack of
# masks, the map of {doc}`ar_concepts`, blind spot included.

# %%
target = 14 * 28 + 14
measured = (delta[:, target] > 1e-4).reshape(28, 28)
# a loaded checkpoint: the full config
layers = [(pcnn.kernel, "A")] + [(3, "B")] * pcnn.n_layers
predicted = ar.receptive_field(layers, (28, 28), (14, 14))
print(
    f"pixels whose flip changed the logit: {measured.sum()}; predicted field: {predicted.sum()}; "
    f"outside the prediction: {(measured & ~predicted).sum()}"
)
assert not (measured & ~predicted).any()

fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, m, title in [
    (axes[0], predicted, "predicted receptive field"),
    (axes[1], measured, "flips that changed the logit"),
]:
    ax.imshow(m, cmap="Greens", vmin=0, vmax=1.2)
    ax.plot(14, 14, "rs")
    ax.set_title(f"{title}\nof pixel (14, 14) (red)")
    ax.set_xlabel("column j")
    ax.set_ylabel("row i")
plt.show()

# %% [markdown]
# A flip can fail to change the logit inside the field, when the ReLUs on its paths
# happen to be inactive for this image, but never outside it.
#
# ## Exercises
#
# :::{exercise}
# :label: ar-pytorch-ex-gpt-poems
# Train `MODELS["gpt"]` on the Tang poems instead of the LSTM: same windows, same
# validation callback, `block_size=BLOCK_POEM`. Which reaches the lower validation
# loss for the same number of epochs, and which overfits sooner? Compare the samples
# and their 4-gram overlap with the training poems.
# :::
#
# :::{solution} ar-pytorch-ex-gpt-poems
# :class: dropdown
# ```python
# set_seed(0)
# poem_gpt = MODELS["gpt"](poem_tok.vocab_size, block_size=BLOCK_POEM, n_layer=4, n_head=4,
#                          n_embd=128, dropout=0.2, lr=1e-3)
# cb = ValidationLoss(poem_val_w)
# h = poem_gpt.fit(poem_train_w, epochs=40, batch_size=64, callbacks=[cb], verbose=2)
# out = poem_gpt.generate(poem_tok.encode("明月"), 48, top_p=0.9, seed=0)
# print(poem_tok.decode(out), ar.ngram_overlap(poem_tok.decode(out), poem_train_text, 4))
# ```
# What to look for: both models fit the training poems far better than the
# validation poems. The Transformer sees its whole window at once, so it can copy
# long stretches of training text very effectively, and its training loss usually
# falls faster. Whether its validation loss ends lower depends on the regularisation
# (dropout, fewer epochs). With 23,000 characters the data, not the architecture, is
# the limit: both models mostly recite.
# :::
#
# :::{exercise}
# :label: ar-pytorch-ex-position
# Compute the validation loss of the GPT separately for each position $t$ of the
# window (use `gpt.logits(val_w[:, :-1])` and `ar.token_nll`) and plot it against $t$.
# Why is position 0 the hardest? What does the curve say about comparing our loss
# with nanoGPT's, measured with 256-character windows?
# :::
#
# :::{solution} ar-pytorch-ex-position
# :class: dropdown
# ```python
# per_pos = ar.token_nll(gpt.logits(val_w[:, :-1]), val_w[:, 1:]).mean(0)
# plt.plot(per_pos); plt.xlabel("position t"); plt.ylabel("nats"); plt.show()
# ```
# Position 0 predicts the second character from the first alone: a bigram
# prediction. The loss falls steeply over the first few positions and then flattens,
# once the context covers the current word and line. Averaged over a window, the short
# contexts at the start cost a little. With 256-character windows a smaller share of
# positions is affected than with 64 or 128, so the same model would score slightly
# better in nanoGPT's setup. The flat part of the curve is the fairer number to compare.
# :::
#
# :::{exercise}
# :label: ar-pytorch-ex-sampling-speed
# Time `pcnn.sample(n)` for n = 1, 4, 16 and 64. Why does the time per image fall as
# n grows? How would you estimate the time to sample one 256 × 256 colour image with
# a PixelCNN?
# :::
#
# :::{solution} ar-pytorch-ex-sampling-speed
# :class: dropdown
# The 784 passes are sequential, but each pass processes the whole batch in
# parallel. Until the hardware is saturated, a batch of 64 costs little more than a
# batch of 1, so the time per image falls almost as $1/n$. A 256 × 256 RGB image has
# $256 \cdot 256 \cdot 3 = 196{,}608$ sub-pixels, 250 times as many sequential passes,
# each on an image 84 times larger. This is why autoregressive image models moved to
# compressed token grids (VQ-VAE, and Transformers over image tokens), and why
# diffusion models, which update every pixel at once, took over image generation.
# :::
#
# :::{exercise}
# :label: ar-pytorch-ex-mask-bug
# Break the PixelCNN on purpose: build one whose first layer uses a type-B mask
# (`pcnn_bug.net[0].mask.copy_(torch.from_numpy(ar.pixelcnn_mask(7, "B")))`), train it
# for a few epochs (six with the fast-mode settings), and compare its training loss and
# its samples with the correct model. Why does the loss look *better*?
# :::
#
# :::{solution} ar-pytorch-ex-mask-bug
# :class: dropdown
# ```python
# set_seed(0)
# pcnn_bug = MODELS["pixelcnn"](**PIXEL_CONFIG)
# pcnn_bug.net[0].mask.copy_(torch.from_numpy(ar.pixelcnn_mask(7, "B")))
# h = pcnn_bug.fit(images, epochs=6, batch_size=64, verbose=2)
# show_images(pcnn_bug.sample(4, seed=0), nrow=4)
# ```
# The first layer now sees the pixel it predicts, so the network learns to copy it:
# the loss falls towards 0 nats (about 0.01 nats per image after six fast-mode epochs
# in the course's run), far below the correct model. This is not a
# likelihood of anything, because the "conditionals" no longer multiply to a
# distribution. When sampling, the pixel is still 0 when its logit is computed, so
# the model predicts "off" and the samples come out (nearly) blank. A loss that is
# too good to be true is the symptom of a broken mask.
# :::
#
# :::{exercise}
# :label: ar-pytorch-ex-check-mask-topk
# Write the two small pieces a Transformer sampler needs, in the cell below, and run it:
# `my_causal_attention_mask(T)`, a boolean `(T, T)` tensor that is `True` where position
# `i` may attend to position `j` ($j \le i$), and `my_top_k_filter(logits, k)`, which sets
# every logit below the $k$-th largest of its row to `-inf`. `check` (from
# `aigc_course.exercises`) compares each with a reference, ties and `k = V` included, and
# gives a hint where they differ. More in {doc}`../12_exercises/exercises_pytorch`.
# :::

# %%
# Check your answer: replace the two bodies with your code, then run the cell.
import aigc_course.text
from aigc_course.exercises import check


def my_causal_attention_mask(T):
    raise NotImplementedError("your code here")


def my_top_k_filter(logits, k):
    raise NotImplementedError("your code here")


check("causal_attention_mask", my_causal_attention_mask, framework="torch")
check("top_k_filter", my_top_k_filter, framework="torch")
# the mask the GPT above builds, and the top-k filter its sampler uses, pass the same checks
assert check(
    "causal_attention_mask",
    lambda T: torch.tril(torch.ones(T, T, dtype=torch.bool)),
    "torch",
)
assert check("top_k_filter", aigc_course.text.top_k_filter)  # NumPy, framework-neutral
