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
# # What is AIGC?
#
# **AIGC**, *AI-generated content* (人工智能生成内容), is content (images, text, audio,
# video, code) produced by a computer program that has *learned* how such content
# looks from examples. The programs are **generative models** (生成模型), and the field
# that builds them is **generative AI** (生成式人工智能). "AIGC" is the name common in
# China; "generative AI" is the usual English term for the same field.
#
# What does "generate" mean, precisely? Every generative model in this course does two
# things:
#
# 1. **learn** a probability distribution $p_\theta(x)$ from training examples
#    $x_1, \dots, x_N$, so that $p_\theta$ is close to the unknown distribution of the data;
# 2. **sample** from it: draw new $x \sim p_\theta$ that look like the data without being
#    copies of it.
#
# An $x$ can be an image, a poem or a sound. This notebook shows each of the three
# as the numbers a model sees, with a tiny runnable "generator" for each, then the
# history of the models that made AIGC possible and the plan of the course. It is
# framework-neutral (NumPy and Matplotlib); the two *first taste* labs that follow
# train a real generative model in a minute, in {doc}`PyTorch <first_taste_pytorch>` or in
# {doc}`Keras <first_taste_keras>`.

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
from IPython.display import Audio, display

from aigc_course import is_fast, pick, set_seed
from aigc_course.data import load_mnist, load_tang_poems
from aigc_course.plotting import show_images
from aigc_course.text import CharTokenizer, sample_next

set_seed(0)
print(f"NumPy {np.__version__}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Three modalities
#
# Each kind of content is a **modality** (模态). We look at three of them.
#
# ### Images
#
# To a model, a grey-scale image is a grid of numbers. The MNIST digits
# {cite}`lecun1998mnist`, the "hello world" of generative models and this course's
# running example, are $28 \times 28 = 784$ grey levels between 0 (black) and 255 (white).
# Generating an image means drawing a new grid of 784 numbers that looks like a
# handwritten digit.

# %%
images, labels = load_mnist("test")
print(
    f"{len(images):,} images of shape {images.shape[1:]}, dtype {images.dtype}, "
    f"values {images.min()}..{images.max()}"
)
print(f"rows 10-17, columns 10-17 of the first image (a {labels[0]}):")
print(images[0, 10:18, 10:18])
show_images(images[:48] / 255.0, title="48 MNIST test digits", nrow=12, figsize=7);

# %% [markdown]
# How hard can it be? Even for black-and-white images there are $2^{784}$ possible
# $28 \times 28$ pictures, and only a vanishing fraction of them look like digits. The
# simplest possible generative model treats every pixel as an independent coin flip,
# pixel $j$ white with probability $p_j$, its mean over the training images. Fitting it is
# one line; sampling from it gives images with exactly the right *average*, and
# nothing else:

# %%
print(f"number of binary 28 x 28 images: 2^784 = 10^{784 * math.log10(2):.1f}")
binary = (images > 127).astype(np.float64)
# "training": one mean per pixel
p_pixel = binary.mean(axis=0)
rng = np.random.default_rng(0)
samples = (rng.random((pick(full=4000, fast=1000), 28, 28)) < p_pixel).astype(
    np.float64
)
err = np.abs(samples.mean(0) - p_pixel).max()
print(f"max |mean of the samples - p_pixel| = {err:.3f}  (the averages match)")
assert err < 5 / math.sqrt(len(samples))

fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
axes[0].imshow(p_pixel, cmap="gray", vmin=0, vmax=1)
axes[0].set_title("$p_j$: probability that pixel $j$ is white")
show_images(binary[:16], title="real digits (binarised)", nrow=4, ax=axes[1])
show_images(samples[:16], title="samples: independent pixels", nrow=4, ax=axes[2])
axes[0].axis("off")
plt.show()

# %% [markdown]
# The independent-pixel samples are noise in the shape of an average digit: the model
# knows where ink tends to be, but not that ink comes in strokes, that a pixel is
# likely white when its neighbours are. Capturing those dependencies between hundreds
# of pixels is the whole problem of image generation; GANs, VAEs and PixelCNN
# (chapters 3–5) are three ways of doing it.
#
# ### Text
#
# To a model, text is a sequence of **tokens** (词元), here single characters, each
# mapped to an integer. Generating text means producing a sequence one token at a
# time, each drawn from a distribution that depends on the tokens before it. The idea is
# old: Claude Shannon generated "approximations to English" in 1948 by sampling each
# letter given the previous few {cite}`shannon1948`. Let us do the same with the 313
# poems of the *Three Hundred Tang Poems* (唐诗三百首).

# %%
poems = load_tang_poems()
# keep the poems themselves: a preface (并序), if any, is separated by an empty line
corpus = "\n\n".join(p["text"].split("\n\n")[-1] for p in poems)
tok = CharTokenizer(corpus)
ids = tok.encode(corpus)
print(
    f"{len(poems)} poems, {len(corpus):,} characters, {tok.vocab_size:,} distinct characters"
)
print(f"《{poems[0]['title']}》 {poems[0]['author']}\n{poems[0]['text']}")

# %% [markdown]
# A **character n-gram model** (字符 n 元语法模型) predicts the next character from the previous $n - 1$ by
# counting: $p(x_t = c \mid \text{context}) = \dfrac{\text{count}(\text{context}, c)}{\text{count}(\text{context})}$.
# Training is counting, in NumPy, in well under a second; generation samples one
# character at a time and appends it, exactly as the Transformers of chapter 5 do, with
# counts in place of a neural network.

# %%
class NGramPoet:
    """Character n-gram model: counts of (previous n-1 characters -> next character)."""

    def __init__(self, ids, n, vocab_size):
        self.n, self.vocab_size = n, vocab_size
        # wrap around, so that every context has a successor
        circular = np.r_[ids, ids[: n - 1]]
        windows = np.lib.stride_tricks.sliding_window_view(circular, n)  # (T, n)
        # one int per context
        keys = self.key(windows[:, :-1])
        pairs, counts = np.unique(
            np.stack([keys, windows[:, -1]], 1), axis=0, return_counts=True
        )
        # pairs sorted by key
        starts = np.flatnonzero(np.r_[True, pairs[1:, 0] != pairs[:-1, 0]])
        self.table = {
            int(pairs[s, 0]): (pairs[s:e, 1], counts[s:e])
            for s, e in zip(starts, np.r_[starts[1:], len(pairs)])
        }

    def key(self, context):
        """A context (..., n-1) of ids as one integer, in base vocab_size."""
        context = np.asarray(context, np.int64)
        return (context * self.vocab_size ** np.arange(context.shape[-1])[::-1]).sum(-1)

    def next_distribution(self, context):
        """(candidate ids, counts) after the last n-1 ids of ``context``."""
        if len(context) < self.n - 1:
            raise ValueError(
                f"context: expected at least n - 1 = {self.n - 1} ids, got {len(context)}"
            )
        return self.table[int(self.key(context[len(context) - (self.n - 1) :]))]

    def generate(self, prompt_ids, max_new=60, lines=4, seed=0):
        """Append characters to the prompt until ``lines`` line breaks or ``max_new`` characters."""
        rng = np.random.default_rng(seed)
        out, breaks = list(prompt_ids), 0
        while len(out) - len(prompt_ids) < max_new and breaks < lines:
            cand, counts = self.next_distribution(out)
            # logits = log counts
            out.append(int(cand[sample_next(np.log(counts), rng=rng)]))
            breaks += out[-1] == tok.stoi["\n"]
        return np.array(out)


# one check of the counting: the probabilities after a frequent context sum to 1, and match
# a direct count with str.count
bigram = NGramPoet(ids, 2, tok.vocab_size)
cand, counts = bigram.next_distribution(tok.encode("月"))
best = cand[counts.argmax()]
print(
    f"after '月' the most frequent next character is '{tok.decode([best])}': "
    f"{counts.max()} of {counts.sum()} times"
)
assert counts.max() == corpus.count("月" + tok.decode([best]))
assert counts.sum() == corpus.count("月")

# %% [markdown]
# Generate a poem starting with the character 春 (spring) with $n = 1$ (every character
# drawn at its overall frequency, ignoring the context), $n = 2$ (one character of context)
# and $n = 3$ (two characters). In the last step, also count how many of the generated
# lines appear *verbatim* in the training poems: a generator that only copies is not
# generating anything new.

# %%
prompt = tok.encode("\n\n春")  # a poem break, then 春: the start of a new poem
all_lines = {line for line in corpus.split("\n") if line}
for n in (1, 2, 3):  # n = 1: no context at all, only frequencies
    gen = NGramPoet(ids, n, tok.vocab_size).generate(prompt, seed=1)
    text = tok.decode(gen)
    lines = [line for line in text.split("\n") if line]
    copied = sum(line in all_lines for line in lines)
    print(
        f"--- n = {n}: {copied} of {len(lines)} lines copied verbatim from the training poems"
    )
    print(text.strip(), "\n")

trigram = NGramPoet(ids, 3, tok.vocab_size)
single = np.mean([len(cand) == 1 for cand, _ in trigram.table.values()])
print(
    f"n = 3: {len(trigram.table):,} distinct two-character contexts, "
    f"{single:.0%} of them always followed by the same character"
)
assert single > 0.5

# %% [markdown]
# With $n = 1$ the characters and punctuation are the right ones but come in random
# order. With one character of context, pairs of characters that belong together
# appear, and some lines end properly with "。", but the lines wander and have random
# lengths. With two characters of context the output reads more like a poem, but look
# at the printed counts of copied lines: with only about 24,000 characters of training
# text, most two-character contexts (the printed percentage) are always followed by the
# same character, so the model can only continue them the way one poem did, and it
# starts to replay its training data. Counting cannot generalise: a context it has not
# seen it cannot continue at all. Neural language models (chapter 5) replace the table
# of counts by a network that shares what it learns across similar contexts.
#
# ### Audio
#
# To a model, a sound is a **waveform** (波形): the air pressure at the microphone, sampled
# thousands of times per second (8,000 here, 16,000 for speech models, 44,100 on a CD).
# A three-second clip is tens of thousands of numbers; generating audio means drawing
# such a long sequence with structure on every time scale, from the shape of one period
# (the timbre) through notes (pitch, duration) to the melody. WaveNet {cite}`vandenoord2016wavenet`
# generated raw speech this way, one sample at a time.
#
# Below, a hand-written generative program: a melody drawn from a small Markov chain on
# the pentatonic scale C D E G A C (each note moves up or down one or two steps of the
# scale at random, staying within it), rendered as plucked-string tones. The pitch of MIDI note $m$ is
# $f = 440 \cdot 2^{(m - 69)/12}$ Hz; we check it by locating the peak of the spectrum of
# the first note.

# %%
RATE = 8000  # samples per second
# C D E G A C: a pentatonic scale (MIDI numbers)
SCALE = np.array([60, 62, 64, 67, 69, 72])


def midi_to_hz(m):
    return 440.0 * 2.0 ** ((np.asarray(m, float) - 69) / 12)


def pluck(freq, seconds):
    """A tone with 4 harmonics and an exponentially decaying envelope."""
    t = np.arange(int(RATE * seconds)) / RATE
    tone = sum(np.sin(2 * np.pi * k * freq * t) / k**1.5 for k in range(1, 5))
    return tone * np.exp(-6.0 * t)


rng = np.random.default_rng(3)
steps = [0]
# Markov chain: move -2, -1, +1 or +2 scale steps,
for _ in range(11):
    move = rng.choice([-2, -1, 1, 2])  # turning back at the ends of the scale
    nxt = steps[-1] + move
    steps.append(int(nxt if 0 <= nxt < len(SCALE) else steps[-1] - move))
notes = SCALE[steps]
NOTE_S = 0.25
wave = np.concatenate([pluck(f, NOTE_S) for f in midi_to_hz(notes)])
wave = 0.9 * wave / np.abs(wave).max()
print(
    f"melody (MIDI): {notes.tolist()}; {len(wave):,} samples = {len(wave) / RATE:.1f} s at {RATE} Hz"
)

first = wave[: int(RATE * NOTE_S)]
spectrum = np.abs(np.fft.rfft(first * np.hanning(len(first)), n=8 * len(first)))
freqs = np.fft.rfftfreq(8 * len(first), d=1 / RATE)
peak, expected = freqs[spectrum.argmax()], float(midi_to_hz(notes[0]))
print(
    f"first note: spectrum peak at {peak:.1f} Hz, 440 * 2^((m - 69)/12) = {expected:.1f} Hz"
)
assert abs(peak - expected) < 2.0

fig, axes = plt.subplots(1, 3, figsize=(15, 3.6), layout="constrained")
t = np.arange(len(wave)) / RATE
axes[0].plot(t, wave, lw=0.5)
axes[0].set_title("The whole waveform")
axes[0].set_xlabel("time (s)")
axes[0].set_ylabel("amplitude")
zoom = (t >= 0.05) & (t < 0.07)
axes[1].plot(1000 * t[zoom], wave[zoom], marker=".", ms=3)
axes[1].set_title("20 ms of it: each dot is one sample")
axes[1].set_xlabel("time (ms)")
axes[1].set_ylabel("amplitude")
axes[2].specgram(wave, NFFT=512, Fs=RATE, noverlap=384, cmap="magma")
axes[2].set_ylim(0, 2000)
axes[2].set_title("Spectrogram: each note is a pitch + harmonics")
axes[2].set_xlabel("time (s)")
axes[2].set_ylabel("frequency (Hz)")
plt.show()
display(Audio(wave, rate=RATE))

# %% [markdown]
# Here a person wrote the rules (the scale, the steps, the timbre); a generative model
# *learns* them from recordings. Whatever the modality, the recipe is the one of this
# course: turn the content into numbers, learn their distribution, sample.
#
# ## 2. Generative and discriminative models
#
# Most machine learning you may have met is **discriminative** (判别模型): a classifier
# learns $p(y \mid x)$, the label of a given input, say "this image is a 7". A
# **generative** model learns the distribution of the inputs themselves, $p(x)$ (or
# $p(x \mid y)$, "what do 7s look like?"), and can therefore produce new ones. The
# difference is more than a formula: a generative model of images must account for every
# pixel, while a classifier can ignore everything that does not help with the label.
# {doc}`../02_concepts/core_concepts` fits both kinds of model to the same data and shows
# what each can do.
#
# ## 3. A short history
#
# Statistical text generation dates back at least to Shannon's letter-by-letter
# "approximations to English" {cite}`shannon1948`. The deep generative models this
# course teaches, and that today's AIGC grew from, appeared within a few years:
#
# * **2013, variational autoencoders** (VAE, 变分自编码器): Kingma and Welling, "Auto-Encoding
#   Variational Bayes" {cite}`kingma2013vae`, a neural latent-variable model trained with
#   a lower bound on the likelihood (chapter 4);
# * **2014, generative adversarial networks** (GAN, 生成对抗网络): Goodfellow et al.
#   {cite}`goodfellow2014gan`, a generator trained against a discriminator (chapter 3),
#   and a few years later StyleGAN's photorealistic faces {cite}`karras2019stylegan`;
# * **2015, diffusion probabilistic models**: Sohl-Dickstein et al. {cite}`sohldickstein2015diffusion`
#   learn to reverse a gradual noising process;
# * **2016, autoregressive models of images and audio**: PixelRNN and PixelCNN
#   {cite}`vandenoord2016pixelrnn,vandenoord2016pixelcnn` generate images pixel by pixel,
#   WaveNet {cite}`vandenoord2016wavenet` raw audio sample by sample (chapter 5);
# * **2017, the Transformer** {cite}`vaswani2017attention`, an architecture built on
#   attention (注意力机制) that became the backbone of language models;
# * **2018, GPT** {cite}`radford2018gpt`: *generative pre-training* of a Transformer language
#   model, scaled up in GPT-3 (2020) {cite}`brown2020gpt3`;
# * **2020, denoising diffusion probabilistic models** (DDPM, 去噪扩散概率模型): Ho, Jain and Abbeel
#   {cite}`ho2020ddpm` made diffusion competitive with GANs on image quality, and latent
#   diffusion {cite}`rombach2022ldm` (released as Stable Diffusion in 2022) made
#   text-to-image generation run on a single consumer GPU;
# * **2022, ChatGPT** (a product, not a paper) brought conversational language models to
#   the general public.
#
# The timeline below is drawn from this table (the date of each paper's first public
# version, usually on arXiv):

# %%
TIMELINE = [  # (year-month, what, family, modality, reference)
    ("2013-12", "VAE", "VAE / latent variable", "image", "kingma2013vae"),
    ("2014-06", "GAN", "GAN", "image", "goodfellow2014gan"),
    (
        "2015-03",
        "diffusion (Sohl-Dickstein)",
        "diffusion",
        "image",
        "sohldickstein2015diffusion",
    ),
    ("2016-01", "PixelRNN", "autoregressive", "image", "vandenoord2016pixelrnn"),
    ("2016-06", "PixelCNN", "autoregressive", "image", "vandenoord2016pixelcnn"),
    ("2016-09", "WaveNet", "autoregressive", "audio", "vandenoord2016wavenet"),
    ("2017-06", "Transformer", "autoregressive", "text", "vaswani2017attention"),
    ("2018-06", "GPT", "autoregressive", "text", "radford2018gpt"),
    ("2018-12", "StyleGAN", "GAN", "image", "karras2019stylegan"),
    ("2020-05", "GPT-3", "autoregressive", "text", "brown2020gpt3"),
    ("2020-06", "DDPM", "diffusion", "image", "ho2020ddpm"),
    ("2021-12", "latent diffusion", "diffusion", "image", "rombach2022ldm"),
    ("2022-11", "ChatGPT (product)", "autoregressive", "text", ""),
]
FAMILIES = ["VAE / latent variable", "GAN", "autoregressive", "diffusion"]
MODALITY_COLORS = {"image": "tab:blue", "text": "tab:orange", "audio": "tab:green"}

dates = np.array([int(d[:4]) + (int(d[5:]) - 1) / 12 for d, *_ in TIMELINE])
assert np.all(np.diff(dates) >= 0), "keep the table in date order"
fig, ax = plt.subplots(figsize=(12, 3.8))
for lane in range(len(FAMILIES)):
    ax.axhline(lane, color="lightgray", lw=1, zorder=0)
for k, (date, (_, name, family, modality, _)) in enumerate(zip(dates, TIMELINE)):
    y = FAMILIES.index(family)
    ax.scatter(
        date, y, s=90, color=MODALITY_COLORS[modality], edgecolors="black", zorder=3
    )
    offset = 0.22 if k % 2 == 0 else -0.32  # alternate labels above and below
    ax.annotate(name, (date, y), xytext=(date, y + offset), ha="center", fontsize=9)
for modality, color in MODALITY_COLORS.items():
    ax.scatter([], [], s=60, color=color, edgecolors="black", label=modality)
ax.set_yticks(range(len(FAMILIES)), FAMILIES)
ax.set_ylim(-0.7, len(FAMILIES) - 0.4)
ax.set_xlim(2013.3, 2023.3)
ax.set_xticks(range(2014, 2024))
ax.set_xlabel("year of first publication")
ax.set_ylabel("model family")
ax.set_title("Milestones of deep generative models")
ax.legend(title="modality", loc="upper left", fontsize=8)
plt.show()

# %% [markdown]
# Two things the figure makes plain. The ideas behind all four families were in place
# by 2016, and much of what followed was *scaling*: larger networks, more data, more
# compute. And the families are not rivals but building blocks: today's image
# generators combine an autoencoder's latent space with a diffusion model guided by a
# Transformer's reading of the prompt.
#
# ## 4. How this course is organised
#
# The course follows the sections of its source articles, in a different order where
# that makes the ideas build on each other, and with their errors corrected (each wrong
# piece of code is kept as a runnable **pitfall** next to the fix):
#
# | chapter | question | source articles' section |
# | --- | --- | --- |
# | 1. What is AIGC (this page, and the *first taste* labs {doc}`PyTorch <first_taste_pytorch>` / {doc}`Keras <first_taste_keras>`) | What is generated, and by what? | background (背景介绍) |
# | 2. {doc}`Core concepts <../02_concepts/core_concepts>` | Generative vs discriminative, latent variables, likelihood, sampling | core concepts and how they connect (核心概念与联系) |
# | 3. {doc}`GANs <../03_gans/gan_concepts>`, {doc}`GANs in practice <../03_gans/practice_concepts>` | How can a game between two networks learn a distribution? | the algorithms and their mathematics (GAN); training practice |
# | 4. {doc}`VAEs <../04_vaes/vae_concepts>` | How do we train a latent-variable model whose likelihood we cannot compute? | the algorithms and their mathematics (VAE) |
# | 5. {doc}`Autoregressive models <../05_autoregressive/ar_concepts>` | How do we generate one token, or one pixel, at a time? | the algorithms and their mathematics (autoregressive models, Transformers) |
# | 6. {doc}`Common problems <../06_problems/problems_concepts>` | Why does training fail, and how do we fix it? | common problems; FAQ |
# | 7. {doc}`Project: handwritten digits <../07_project/project_pytorch>` | How do the pieces fit in one project? | the hands-on project |
# | 8. {doc}`Evaluating generative models <../08_evaluation/evaluation_concepts>` | How good are the samples, and how would we know? | the articles' remarks on evaluation |
# | 9. {doc}`Applications <../09_applications/applications_concepts>` | What is generative AI used for, and what does it take? | practical applications (实际应用场景) |
# | 10. {doc}`Security, privacy, ethics and law <../10_security/security_concepts>` | What can go wrong, and what protects against it? | security and privacy (安全与隐私); ethics and law (伦理与法律) |
# | 11. {doc}`Trends: diffusion models and beyond <../11_trends/diffusion_concepts>` | Where is the field going? | future trends and challenges (未来发展趋势与挑战) |
# | 12. {doc}`Programming exercises <../12_exercises/exercises_pytorch>` | Can you write a GAN and a VAE yourself? | programming exercises (编程题库) |
#
# The appendices answer the articles' FAQ ({doc}`../../book/faq`, 常见问题与解答), their
# interview questions ({doc}`../../book/interview`, 面试题库) and their tools and
# resources ({doc}`../../book/tools`, 工具和资源推荐); the {doc}`../../book/errata` quotes
# each mistake found in the articles, with its correction and the cell that runs it, and
# the {doc}`../../book/source_map` shows where each section of the articles went.
#
# Every chapter has a framework-neutral *concept* notebook and, where there is a network
# to train, two *labs* that train the same model in PyTorch and in Keras 3 with the same
# number of parameters. The {doc}`../../book/glossary` lists every term with its Chinese
# name.
#
# ## Exercises
#
# :::{exercise}
# :label: intro-concepts-ex-class-pixels
# Fit the independent-pixel model separately to each digit class (the mean of the
# binarised images with `labels == k`) and sample 8 images per class. Are the samples
# recognisable now? What is still missing?
# :::
#
# :::{solution} intro-concepts-ex-class-pixels
# :class: dropdown
# ```python
# rows = []
# for k in range(10):
#     p_k = binary[labels == k].mean(0)
#     rows.append((rng.random((8, 28, 28)) < p_k).astype(float))
# show_images(np.concatenate(rows), nrow=8, title="independent pixels, one model per class");
# ```
# The samples now have the outline of the right digit, because a class-conditional
# model $p(x \mid y)$ knows where each digit's ink usually is. They are still grainy
# clouds: within a class the pixels remain independent, so the model cannot tell that
# a thin stroke, tilted one way or the other, is what a 1 looks like. It averages over
# all ways of writing the digit instead of choosing one.
# :::
#
# :::{exercise}
# :label: intro-concepts-ex-ngram
# Generate ten poems with `NGramPoet(ids, n, tok.vocab_size)` for $n = 2, 3, 4$ (seeds
# 0–9) and compute the fraction of generated lines that appear verbatim in the corpus.
# How does it change with $n$, and why is a high fraction a problem?
# :::
#
# :::{solution} intro-concepts-ex-ngram
# :class: dropdown
# ```python
# for n in (2, 3, 4):
#     poet, copied, total = NGramPoet(ids, n, tok.vocab_size), 0, 0
#     for seed in range(10):
#         lines = [l for l in tok.decode(poet.generate(prompt, seed=seed)).split("\n") if l]
#         copied += sum(l in all_lines for l in lines); total += len(lines)
#     print(n, copied / total)
# ```
# In the course's run the fractions were 0 % ($n = 2$), 13 % ($n = 3$) and 74 % ($n = 4$).
# The longer the context, the fewer times each context occurs in 24,000 characters,
# until most contexts have a single continuation and the "model" replays its training
# poems. A generative model that copies its training
# data has *memorised* it (overfitting, 过拟合): it produces nothing new, and for real
# data it can leak private or copyrighted training examples. Chapter 8 measures this
# for image models.
# :::
#
# :::{exercise}
# :label: intro-concepts-ex-sizes
# How many numbers does a model have to generate for (a) one MNIST digit, (b) a
# $1024 \times 1024$ colour image, (c) a 3-minute stereo song at 44.1 kHz, (d) this
# notebook's poem of 4 lines of 5 characters plus punctuation? Compute them in a cell.
# :::
#
# :::{solution} intro-concepts-ex-sizes
# :class: dropdown
# (a) $28 \cdot 28 = 784$; (b) $1024 \cdot 1024 \cdot 3 = 3{,}145{,}728$;
# (c) $3 \cdot 60 \cdot 44{,}100 \cdot 2 = 15{,}876{,}000$; (d) $4 \cdot (5 + 1) + 4 = 28$ tokens
# (5 characters and a punctuation mark per line, plus a line break after each line), but
# each token is chosen among about 2,500 characters. This is why image generators
# often work in a compressed latent space, and audio generators on spectrograms or
# learned audio tokens instead of raw samples.
# :::
#
# :::{exercise}
# :label: intro-concepts-ex-timeline
# Add DCGAN {cite}`radford2016dcgan` (arXiv, November 2015) and the Wasserstein GAN
# {cite}`arjovsky2017wgan` (arXiv, January 2017) to `TIMELINE` and redraw the figure.
# :::
#
# :::{solution} intro-concepts-ex-timeline
# :class: dropdown
# Insert `("2015-11", "DCGAN", "GAN", "image", "radford2016dcgan")` after the diffusion
# entry and `("2017-01", "WGAN", "GAN", "image", "arjovsky2017wgan")` before the
# Transformer, keeping the table in date order (the cell asserts it), and run the cell
# again. Both land on the GAN lane, in the busy years 2015–2017 when most of the GAN
# variants of chapter 3 appeared.
# :::
