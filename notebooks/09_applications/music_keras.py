# ---
# jupyter:
#   aigc_course:
#     edit: music_lab.py, then run make sync
#     generated_from: music_lab.py
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
# # Lab: generating melodies in Keras 3
#
# Music is one of the oldest applications of generative models, and an
# autoregressive model handles it just like text: turn the music into tokens, learn
# $p(x_t \mid x_{<t})$, sample one token at a time. In this lab you
#
# 1. type-set a small corpus of public-domain melodies as notes and **listen** to
#    them through a tiny synthesiser,
# 2. turn notes into tokens (a pitch token, then a duration token) and augment the
#    data by **transposing** into all 12 keys,
# 3. fit two n-gram baselines and train the small GPT of chapter 5 on the tokens,
# 4. sample new melodies with temperature and top-$k$, plot them as a **piano roll**
#    and a **spectrogram**, and play them,
# 5. judge the melodies without ears: notes in the key, melodic intervals like the
#    training data's, and how much is **copied** from the corpus.
#
# The same lab exists in PyTorch ({doc}`music_pytorch`), with a model of the same
# layers and parameter count; the applications around it are in
# {doc}`applications_concepts`, and the model itself in {doc}`../05_autoregressive/ar_keras`.
# Keras 3 runs on several backends; choose one *before* Keras is imported, with
# `KERAS_BACKEND` (Colab's default is TensorFlow).
#
# ```{admonition} Fast mode
# :class: tip
# With `AIGC_COURSE_FAST=1` (what the course's CI sets) the model is tiny and trains
# for a few seconds on a CPU: its melodies are only a little better than random, and
# the page you are reading was built that way. On a Colab GPU, leave it unset: the
# full run takes a minute or two, and, as you will measure, its melodies stay in key
# far more often and start to copy the training tunes.
# With `AIGC_COURSE_PRETRAINED=1` the lab skips training the GPT and loads the course
# checkpoint (trained with the full recipe) instead.
# ```

# %%
# Install the course package if it is missing (on Colab, Kaggle or a fresh Jupyter);
# where it is installed already, this cell does nothing.
import importlib

try:
    importlib.import_module("aigc_course")
except ImportError:
    print("Installing the course package (about a minute) ...")
    # %pip install -q "aigc-course[keras] @ git+https://github.com/aigc-course/aigc-course@v0.6.0"

# %%
import os
import time

# or "torch"; before importing keras
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# hide TensorFlow's start-up chatter
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Audio, display

from aigc_course import ar_numpy as ar
from aigc_course import audio, check_gpu, is_fast, pick, pretrained, show_source
from aigc_course.keras import MODELS, set_seed
from aigc_course.plotting import plot_history
from aigc_course.text import generate_tokens, make_windows

# no GPU and AIGC_COURSE_FAST unset: switches to fast mode, and says so
gpu = check_gpu(pretrained=True)
set_seed(0)
BACKEND = keras.backend.backend()
SR = audio.SAMPLE_RATE
print(f"Keras {keras.__version__} on the {BACKEND} backend; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Melodies as notes, notes as sound
#
# A melody is a list of notes `(pitch, duration)`. The pitch is a **MIDI note
# number** (60 is middle C, each step is a semitone); the duration counts sixteenth
# notes (4 = a quarter note). The corpus is five melodies that are in the public
# domain, typed in by hand in C major:

# %%
show_source(audio, start="# --- corpus", end="# --- end corpus")

# %% [markdown]
# To hear a note we need its frequency. Equal temperament fixes A4 (MIDI 69) at
# 440 Hz and splits the octave (a doubling of frequency) into 12 equal ratios:
#
# $$f(p) = 440\ \text{Hz} \cdot 2^{(p - 69)/12}.$$
#
# The synthesiser adds three harmonics of $f(p)$ under an **envelope**: a quick rise,
# a slow decay and a fade to zero at the end of the note. Without the fade, a note
# would stop in the middle of a wave and the jump would be heard as a click.

# %%
show_source(audio, start="# --- synth", end="# --- end synth")

# %% [markdown]
# Check both, numerically: A4 must be 440 Hz and an octave must double the frequency,
# and the strongest frequency in the synthesised note (the peak of its Fourier
# transform) must be the note's fundamental.

# %%
assert audio.midi_to_hz(69) == 440.0 and audio.midi_to_hz(81) == 2 * audio.midi_to_hz(
    69
)
for pitch in (57, 60, 69, 72):
    f = audio.dominant_frequency(audio.synthesize([(pitch, 8)], sr=SR), SR)
    print(
        f"{audio.note_name(pitch):>3} (MIDI {pitch}): formula {audio.midi_to_hz(pitch):7.2f} Hz, "
        f"FFT peak of the synthesised note {f:7.2f} Hz"
    )
    assert abs(f / audio.midi_to_hz(pitch) - 1) < 2e-3

# %% [markdown]
# Here is "Ode to Joy", as notes (a **piano roll**: time to the right, pitch up) and
# as sound:

# %%
ode = audio.parse_notes(audio.MELODIES["ode_to_joy"])
audio.plot_piano_roll(ode[:20], title="Ode to Joy (first 20 notes), from the corpus")
plt.show()
display(Audio(audio.synthesize(ode[:20], sr=SR), rate=SR))

# %% [markdown]
# ## 2. Tokens, keys and the split
#
# Each note becomes **two tokens**: its pitch, then its duration. A `<bos>` token
# (beginning of sequence) starts each melody, so the model learns where tunes begin,
# and a sample can be cut at the next `<bos>`. The vocabulary has 47 tokens: `<bos>`,
# a rest, 37 pitches (C3 to C6) and 8 durations.
#
# Five melodies are far too little data. A cheap, musically honest **data augmentation**
# (数据增强) is to **transpose** (移调) every melody into all 12 keys: the tune is the
# same, every pitch moves by the same number of semitones.

# %%
tok = audio.NoteTokenizer()
V = tok.vocab_size
corpus = audio.melody_corpus()  # every melody in 12 keys
print(
    f"corpus: {len(audio.MELODIES)} public-domain melodies typed in by hand "
    f"({', '.join(audio.MELODIES)}), each in 12 keys: {len(corpus)} melodies"
)
example = tok.encode(ode[:4])
print(tok, f"\nfirst four notes of Ode to Joy: {ode[:4]}")
print("  tokens:", [tok.tokens[i] for i in example], "\n  ids:   ", example.tolist())
assert tok.decode(example) == ode[:4]
assert V == 1 + 1 + 37 + 8  # <bos>, rest, C3..C6, 8 durations

# %% [markdown]
# We hold out one whole melody, "Au clair de la lune" (in all 12 keys), to measure how
# well a model predicts a tune it has never seen: the validation loss (验证损失).
# Holding out single transpositions instead would leak: the same tune in another key
# is still in the training set.

# %%
HELD_OUT = "au_clair"
train_mel = [m["notes"] for m in corpus if m["name"] != HELD_OUT]
val_mel = [m["notes"] for m in corpus if m["name"] == HELD_OUT]
train_ids, val_ids = tok.encode_corpus(train_mel), tok.encode_corpus(val_mel)
print(
    f"{len(train_mel)} training melodies ({len(train_ids):,} tokens), "
    f"{len(val_mel)} held-out melodies ({len(val_ids):,} tokens)"
)

# %% [markdown]
# ## 3. Baselines: n-gram models
#
# Before any network, the $n$-gram models of {doc}`../05_autoregressive/ar_concepts`
# (counts with add-$\alpha$ smoothing): a **unigram** model draws each token from the
# overall token frequencies, a **bigram** model from the frequencies after the
# previous token. Their held-out loss is the bar the GPT must clear.

# %%
unigram = ar.NGramLM(1, V, alpha=0.1).fit(train_ids)
bigram = ar.NGramLM(2, V, alpha=0.1).fit(train_ids)
baseline_nll = {
    "uniform": np.log(V),
    "unigram": unigram.nll(val_ids),
    "bigram": bigram.nll(val_ids),
}
for name, nll in baseline_nll.items():
    print(f"{name:>8}: held-out {nll:.3f} nats/token")

# %% [markdown]
# ## 4. A small GPT on notes
#
# `MODELS["gpt"]` is the decoder-only Transformer of {doc}`../05_autoregressive/ar_keras`,
# unchanged: it neither knows nor cares that the tokens are notes. Training windows of
# 64 tokens (32 notes) overlap.

# %%
CONFIG = pick(
    full=dict(block_size=64, n_layer=3, n_head=4, n_embd=96, dropout=0.2, lr=1e-3),
    fast=dict(block_size=64, n_layer=2, n_head=2, n_embd=48, lr=3e-3),
)
set_seed(0)
gpt = MODELS["gpt"](V, **CONFIG)
Bk = CONFIG["block_size"]
train_w = make_windows(train_ids, Bk, stride=pick(full=2, fast=8))
val_w = make_windows(val_ids, Bk, stride=Bk // 2)
print(
    f"GPT: {gpt.count_params():,} parameters; {len(train_w):,} training windows, "
    f"{len(val_w)} held-out windows of {Bk + 1} tokens"
)
loss0 = ar.mean_token_nll(gpt.logits, val_w)
print(f"before training: held-out loss {loss0:.3f} nats/token; ln V = {np.log(V):.3f}")
assert abs(loss0 - np.log(V)) < 0.25  # an untrained model is close to a uniform guess


# %%
class ValidationLoss(keras.callbacks.Callback):
    """After every epoch: the mean cross-entropy (nats per token) on the held-out melody."""

    def __init__(self, windows):
        super().__init__()
        self.windows, self.values = windows, []

    def on_epoch_end(self, epoch, logs=None):
        self.values.append(ar.mean_token_nll(self.model.logits, self.windows))


t0 = time.perf_counter()
# AIGC_COURSE_PRETRAINED=1: no training, load the course checkpoint
if pretrained.use_only():
    assert pretrained.tokenizer("gpt", "melodies").tokens == tok.tokens  # the same ids
    gpt = pretrained.load("gpt", "melodies", framework="keras")
    losses = pretrained.history("gpt", "melodies")
    held_out = losses["val_nats"]  # measured by the recipe, on its own held-out windows
else:
    val_cb = ValidationLoss(val_w)
    losses = gpt.fit(
        train_w,
        epochs=pick(full=30, fast=8),
        batch_size=pick(full=64, fast=32),
        callbacks=[val_cb],
        verbose=pick(full="auto", fast=2),
    ).history
    held_out = val_cb.values
train_seconds = time.perf_counter() - t0

# %%
ax = plot_history(
    {"training": losses["loss"], "held-out melody": held_out},
    title=f"GPT on note tokens (Keras, {BACKEND})",
)
for (name, nll), style in zip(baseline_nll.items(), (":", "--", "-.")):
    ax.axhline(nll, color="gray", ls=style, label=f"{name} (held-out)")
ax.set_ylabel("cross-entropy (nats per token)")
ax.legend()
plt.show()
print(
    f"final: training {losses['loss'][-1]:.3f}, held-out {held_out[-1]:.3f} "
    f"(lowest {min(held_out):.3f}) nats/token; bigram {baseline_nll['bigram']:.3f}"
)

# %% [markdown]
# Read the held-out curve against the bigram line. With only four tunes to learn from,
# a model soon predicts the *training* melodies far better than a new one: the gap
# between the two curves is memorisation, the same overfitting as the Tang poems of
# chapter 5. Train for more epochs and watch the held-out curve turn upwards while
# the training loss keeps falling.
#
# ## 5. Sampling, listening, measuring
#
# Every model samples melodies the same way: start from `<bos>`, draw tokens until the
# next `<bos>` (or a length limit), and read the tokens back as notes. The decoder
# drops tokens that break the pattern "pitch, duration" and counts them: a model that
# has not learned the grammar of its own tokens is easy to catch.

# %%
N_MELODIES, MAX_TOKENS = pick(full=32, fast=12), pick(full=128, fast=64)
prompt = np.full((N_MELODIES, 1), tok.bos_id)


def sample_melodies(generate, **decoding):
    """Melodies decoded from ``generate(prompt, MAX_TOKENS, seed=0, **decoding)``,
    and the number of dropped (ungrammatical) tokens per melody."""
    rows = generate(prompt, MAX_TOKENS, seed=0, **decoding)
    decoded = [tok.decode(row, return_errors=True) for row in rows]
    return [m for m, _ in decoded], np.mean([e for _, e in decoded])


def ngram_sampler(lm):
    return lambda p, n, **kw: generate_tokens(lm.step, p, n, V, **kw)


if is_fast():
    print(
        "Fast mode: the GPT trained for seconds on a CPU, so expect melodies only a little "
        "better than random; the full run (a minute or two on a GPU) is the real thing."
    )
samples = {
    "unigram": sample_melodies(ngram_sampler(unigram)),
    "bigram": sample_melodies(ngram_sampler(bigram)),
    "GPT, T = 1": sample_melodies(gpt.generate, temperature=1.0),
    "GPT, T = 0.7": sample_melodies(gpt.generate, temperature=0.7),
    "GPT, top-k = 5": sample_melodies(gpt.generate, top_k=5),
}

# %% [markdown]
# Listen to one GPT melody and look at it. In the **spectrogram** (声谱图) the
# brightest line of each note is its fundamental frequency, with fainter copies at 2
# and 3 times that frequency: the harmonics of the synthesiser.

# %%
melody = max(samples["GPT, T = 0.7"][0], key=len)[:24]
print(
    f"{len(melody)} notes:",
    " ".join(f"{audio.note_name(p)}:{d}" for p, d in melody[:16]),
    "...",
)
wave = audio.synthesize(melody, sr=SR)
freqs, times, db = audio.spectrogram(wave, SR)
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6))
audio.plot_piano_roll(
    melody, ax=ax1, title="A sampled melody (GPT, T = 0.7)", color="C1"
)
ax2.pcolormesh(times, freqs, db, vmin=-80, vmax=0, shading="auto")
ax2.set_ylim(0, 2000)
ax2.set_xlabel("time (s)")
ax2.set_ylabel("frequency (Hz)")
ax2.set_title("its spectrogram (dB)")
fig.tight_layout()
plt.show()
display(Audio(wave, rate=SR))

# %% [markdown]
# ### Your run beside the course checkpoint
#
# This page was built in fast mode, so the GPT above trained for seconds. The course also
# publishes this GPT with the full `CONFIG`, trained with the full recipe
# (`make pretrain MODEL=gpt DATASET=melodies`) on the same tokens, with the same tune held
# out: one file that the PyTorch and the Keras lab both load, scored in
# {doc}`../08_evaluation/results`. Below, both are measured on the same held-out windows
# against the n-gram baselines, and both sample from `<bos>` with the same decoding and
# seed; the checkpoint's melodies join the table of measures below as "course, T = 0.7".
# Four training tunes are little data for a full run: compare the checkpoint's held-out loss
# with the bigram's, and with the lowest point of its own held-out curve (printed too).

# %%
if pretrained.is_published("gpt", "melodies"):
    assert pretrained.tokenizer("gpt", "melodies").tokens == tok.tokens  # the same ids
    course_gpt = (
        gpt
        if pretrained.use_only()
        else pretrained.load("gpt", "melodies", framework="keras")
    )
    your_title = (
        "loaded, not trained (AIGC_COURSE_PRETRAINED=1)"
        if pretrained.use_only()
        else "your run: "
        + pretrained.training_summary(
            len(losses["loss"]),
            len(train_ids),
            train_seconds,
            "GPU" if gpu else "CPU",
            "tokens",
        )
    )
    # the lab's held-out windows
    held = {
        **baseline_nll,
        your_title: ar.mean_token_nll(gpt.logits, val_w),
        pretrained.describe("gpt", "melodies"): ar.mean_token_nll(
            course_gpt.logits, val_w
        ),
    }
    for name, nll in held.items():
        print(f"held-out {nll:.3f} nats/token: {name}")
    # the recipe's, one value per epoch
    curve = pretrained.history("gpt", "melodies")["val_nats"]
    print(
        f"the checkpoint's own held-out curve: lowest {min(curve):.3f} after epoch {np.argmin(curve) + 1}, "
        f"{curve[-1]:.3f} after the last, epoch {len(curve)}"
    )
    samples["course, T = 0.7"] = sample_melodies(course_gpt.generate, temperature=0.7)
else:
    print(
        "The course checkpoint gpt/melodies is not published yet: "
        "`make pretrain MODEL=gpt DATASET=melodies` trains it."
    )

# %%
if pretrained.is_published("gpt", "melodies"):
    fig, axes = plt.subplots(2, 1, figsize=(10, 5))
    rolls = {
        "your GPT": ("GPT, T = 0.7", "C1"),
        "course checkpoint": ("course, T = 0.7", "C2"),
    }
    for ax, (who, (row, color)) in zip(axes, rolls.items()):
        longest = max(samples[row][0], key=len)[:24]
        audio.plot_piano_roll(
            longest,
            ax=ax,
            color=color,
            title=f"{who}, T = 0.7: its longest melody (24 notes at most)",
        )
    fig.tight_layout()
    plt.show()
    display(Audio(audio.synthesize(longest, sr=SR), rate=SR))  # the checkpoint's melody

# %% [markdown]
# Ears are slow judges. Four numbers compare each sampler with the data:
#
# * **in key**: the share of notes that fall in the best-fitting major scale (1 for
#   every melody of the corpus; random notes score well below 1, though above 7/12,
#   since the best of 12 keys is taken, and more so for short melodies);
# * **interval TV**: the total variation distance between the histogram of melodic
#   steps (in semitones) and the training melodies' histogram (0 = same);
# * **copied 8-grams**: the share of 8-note runs (pitch and duration) that occur
#   somewhere in the training corpus: memorisation (1 = the melody is recited);
# * **dropped tokens** per melody: ungrammatical output.
#
# The first three rows are references: the training melodies themselves, the
# held-out melody measured against the training corpus (how much a *new* real tune
# shares with it by chance), and random notes: the rhythms of training melodies with
# pitches drawn uniformly from the corpus's range.

# %%
rng = np.random.default_rng(0)
lo, hi = (
    min(p for m in train_mel for p, _ in m),
    max(p for m in train_mel for p, _ in m),
)
random_mel = [
    [(int(rng.integers(lo, hi + 1)), d) for _, d in m] for m in train_mel[:N_MELODIES]
]
rows = {
    "training melodies": (train_mel, 0.0),
    "held-out melody": (val_mel, 0.0),
    "random notes": (random_mel, 0.0),
    **samples,
}
print(
    f"{'':>18} {'melodies':>8} {'notes':>6} {'in key':>7} {'interval TV':>11} "
    f"{'copied 8-grams':>14} {'dropped tokens':>14}"
)
reports = {}
for name, (mels, dropped) in rows.items():
    r = reports[name] = audio.melody_report(mels, train_mel, n=8)
    print(
        f"{name:>18} {r['melodies']:>8} {r['mean notes']:>6.1f} {r['in key']:>7.2f} "
        f"{r['interval TV']:>11.2f} {r['copied 8-grams']:>14.2f} {dropped:>14.2f}"
    )
assert (
    reports["training melodies"]["in key"] == 1.0
    and reports["training melodies"]["interval TV"] == 0.0
)

# %%
hist = {
    name: audio.interval_histogram(rows[name][0])
    for name in ("training melodies", "bigram", "GPT, T = 0.7")
}
steps = np.arange(-12, 13)
fig, ax = plt.subplots(figsize=(9, 3))
for k, (name, h) in enumerate(hist.items()):
    ax.bar(steps + (k - 1) * 0.28, h, width=0.28, label=name)
ax.set_xlabel("melodic step (semitones, clipped to ±12)")
ax.set_ylabel("fraction of steps")
ax.set_title("Which intervals do the melodies use?")
ax.legend()
plt.show()

# %% [markdown]
# How to read the table:
#
# * The unigram sampler ignores order, so it breaks the pitch-duration grammar (the
#   dropped tokens) and its intervals are far from the data's. Its melodies are
#   short, which flatters its "in key" score: a few random notes fit some major
#   scale easily. Compare it with the random-notes row.
# * The bigram sampler nearly always follows a pitch with a duration (the grammar is
#   a one-token rule; smoothing leaves a little probability for wrong tokens), but it
#   has no idea which key it is in: each step only looks at the previous token.
# * A trained GPT sees the last 32 notes, so it can stay in one key and reuse
#   rhythmic figures. Lower temperature and top-$k$ usually raise "in key" and lower
#   variety. In fast mode (this page) the model trained for seconds: compare its rows
#   with the bigram's to see how far it got.
# * **Memorisation.** Compare the GPT's copy rate with the held-out melody's. A
#   real new tune shares some 8-note runs with the corpus (scales, repeated notes),
#   but a copy rate that climbs towards 1 means the model is reciting "Twinkle,
#   Twinkle" in some key. With four tunes of training data, longer training drives
#   the copy rate up while the held-out loss rises: a generative model trained on
#   little data reproduces its training set, the memorisation of
#   {doc}`../06_problems/problems_concepts`.
#
# ```{admonition} What real music models do differently
# :class: note
# Symbolic music models are trained on thousands of pieces (e.g. MIDI collections)
# with richer tokens: bars, several voices, velocity, chords. Audio models such as
# WaveNet {cite}`vandenoord2016wavenet` skip the notes entirely and generate the
# waveform itself, one sample at a time, each sample one of 256 μ-law levels; the
# concept notebook {doc}`applications_concepts` shows that idea on a short tone.
# ```
#
# ## Exercises
#
# :::{exercise}
# :label: music-keras-ex-augment
# Train the same GPT on the corpus **without** transposition: the training melodies
# of `audio.melody_corpus(keys=1)` except "au_clair", with the same 12-key held-out
# windows `val_w` as above. Compare the held-out loss, the "in key" score and the
# copy rate with the run above.
# :::
#
# :::{solution} music-keras-ex-augment
# :class: dropdown
# With one key the training set has 12 times fewer tokens and the held-out melody
# (in 12 keys) uses pitches and steps the model rarely saw in C, so the held-out loss
# is much higher. Samples stay in C major (they score "in key" very well), and with
# twelve times less variety to fit, longer training makes the model recite its
# tunes sooner: augmentation adds variety the model must generalise over, not new
# tunes.
# :::
#
# :::{exercise}
# :label: music-keras-ex-trigram
# Add a 4-gram model to the table: `ar.NGramLM(4, V, alpha=0.1, interpolate=True)`
# (unseen contexts fall back on shorter ones), sampled from a prompt of three
# `<bos>` tokens (drop the first two columns before decoding). Where does it land
# between the bigram and the GPT on held-out loss, "in key", interval TV and copy
# rate?
# :::
#
# :::{solution} music-keras-ex-trigram
# :class: dropdown
# A 4-gram sees the last three tokens, one and a half notes: enough to learn which
# steps follow which (its interval TV falls far below the bigram's), not enough to
# remember the key, so its "in key" score stays near the bigram's. Whole 8-note runs
# are still rarely copied: it knows local statistics but has no long memory. Its
# held-out loss is close to the bigram's, since most 3-token contexts of the
# held-out tune occur rarely in training. The GPT's advantage is its long context.
# :::
#
# :::{exercise}
# :label: music-keras-ex-interval
# Transposition invariance could also be built into the tokens: encode each pitch as
# the **interval** from the previous one (first note: its pitch). Write the encoder
# and decoder for this representation. What does the model no longer need to learn,
# and what can now go wrong when sampling?
# :::
#
# :::{solution} music-keras-ex-interval
# :class: dropdown
# With intervals, all 12 transpositions of a tune are the same token sequence apart
# from the first note, so the model need not learn each key separately (and
# transposition augmentation adds almost nothing). The price: absolute pitch is a
# running sum of sampled intervals, so errors accumulate: a sampled melody can
# drift out of its key (one wrong semitone shifts everything after it) or out of
# the instrument's range, which a decoder must clip.
# :::
