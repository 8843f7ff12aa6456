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
# # Applications of generative models
#
# The models of this course (GANs, VAEs, autoregressive models, diffusion) are
# research objects, but they are also products: image generators, chat assistants,
# speech synthesisers. This chapter looks at where generative models are used, and
# at three scenarios that articles on AIGC (AI-generated content, 人工智能生成内容)
# like to list: **customer-service replies**, **financial sentiment monitoring** and
# **personalised recommendation**. For each one we ask an honest question: what part
# of it is *generation*, and what would a small, checkable system do?
#
# This notebook is framework-neutral (NumPy and Matplotlib). You will
#
# 1. see a map of applications by modality, each with one real system,
# 2. build a retrieval-based FAQ responder with TF-IDF, measure it, and see why a
#    generative model needs retrieval to stay truthful (retrieval-augmented generation),
# 3. train a tiny sentiment classifier on finance headlines and see where generation
#    helps (and where it is not needed at all),
# 4. fit a matrix factorisation recommender on synthetic ratings and compare it with
#    a popularity baseline, then meet generative recommenders,
# 5. generate a sound wave sample by sample, the idea behind WaveNet,
# 6. look at four more fields the articles name, each with a small experiment: levels
#    for a game generated and then tested for playability, ad variants chosen by a
#    bandit, synthetic "medical" training data validated on real data, and exercises
#    generated from their answers and graded by checking.
#
# The labs {doc}`music_pytorch` and {doc}`music_keras` train a small Transformer to
# write melodies and play them in the notebook.
#
# ```{admonition} All data here is invented
# :class: note
# The FAQ, the headlines, the ratings, the game level and the click-through rates in
# this notebook were written or generated for teaching; the "medical" example of
# section 6 uses MNIST digits as a stand-in. They are small enough to read in full, which is the point: every
# number below can be traced back to them. Real systems are trained and evaluated on
# far larger data.
# ```

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
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np

from aigc_course import adversarial, audio, is_fast, pick, set_seed, show_source
from aigc_course import applications as apps
from aigc_course import ar_numpy as ar
from aigc_course.data import load_mnist
from aigc_course.metrics import nearest_neighbours
from aigc_course.text import generate_tokens

set_seed(0)
print(f"NumPy {np.__version__}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. A map of applications
#
# Generative models are grouped here by what they produce. Each row names one
# well-documented system; there are many others, and the field moves fast.
#
# | modality | task | what is generated | one real system |
# | --- | --- | --- | --- |
# | image | text-to-image (文生图) | an image from a text prompt | Stable Diffusion, a latent diffusion model {cite}`rombach2022ldm`; DALL·E 2 {cite}`ramesh2022dalle2` |
# | image | editing, inpainting (图像修复) | the missing or edited region | latent diffusion models also inpaint {cite}`rombach2022ldm` |
# | image | super-resolution (超分辨率) | a sharper, larger image | SRGAN {cite}`ledig2017srgan` |
# | image | data augmentation | extra training images | DAGAN {cite}`antoniou2017dagan` |
# | text | chat assistants | replies that follow instructions | InstructGPT {cite}`ouyang2022instructgpt` |
# | text | code | programs from descriptions | Codex {cite}`chen2021codex` |
# | text | summarisation (摘要) | a short version of a text | pointer-generator networks {cite}`see2017pointer` |
# | text | translation (机器翻译) | the text in another language | the Transformer {cite}`vaswani2017attention` |
# | audio | text-to-speech (语音合成) | a waveform of speech | WaveNet {cite}`vandenoord2016wavenet` |
# | audio | music | notes or a waveform | Music Transformer {cite}`huang2019musictransformer` |
# | audio | voice conversion (声音转换) | the same words in another voice | AutoVC {cite}`qian2019autovc` |
# | video | text-to-video | a sequence of frames | video diffusion models {cite}`ho2022video` |
# | 3-D | text-to-3-D | a 3-D scene or object | DreamFusion {cite}`poole2023dreamfusion` |
#
# Two patterns run through the table. First, the same few model families do
# everything: diffusion models dominate images, video and 3-D; autoregressive
# Transformers dominate text and code, and also work for music
# ({doc}`music_pytorch`). Second, most useful systems are **conditional**: they
# generate *given* something (a prompt, a low-resolution image, a voice sample),
# like the conditional VAE and GAN of the earlier chapters.
#
# (applications-concepts-customer-service)=
# ## 2. Customer-service replies: retrieve first, generate second
#
# A company's support questions are repetitive, and its answers must be **correct**:
# a delivery time or a refund rule is a promise. The oldest working solution is not
# generative at all: keep a list of frequently asked questions (FAQ) with approved
# answers, and **retrieve** the entry (question and answer) most similar to the
# customer's question.
#
# Here is the FAQ of an invented online bookshop:

# %%
FAQ = [
    (
        "How long does delivery take?",
        "Standard delivery takes 3 to 5 working days; express delivery takes 1 working day.",
    ),
    (
        "How much does shipping cost?",
        "Shipping is free for orders over 30 euros; otherwise it costs 4 euros.",
    ),
    (
        "How can I return a book?",
        "You can return a book within 14 days of delivery; print the return label from your account page.",
    ),
    (
        "When will I get my refund?",
        "Refunds are paid to your original payment method within 5 working days after we receive the return.",
    ),
    (
        "Can I change my delivery address?",
        "You can change the delivery address on the order page of your account until the order is shipped.",
    ),
    (
        "How do I cancel an order?",
        "Orders can be cancelled free of charge on the order page of your account until they are shipped.",
    ),
    (
        "Which payment methods do you accept?",
        "We accept credit cards, PayPal and bank transfer.",
    ),
    (
        "How do I reset my password?",
        "Click 'Forgot password' on the login page; we email you a reset link that is valid for 24 hours.",
    ),
    (
        "Do you ship abroad?",
        "We ship to all countries of the European Union; delivery abroad takes 5 to 10 working days.",
    ),
    (
        "Do you sell e-books?",
        "Yes, e-books are sold in EPUB format and can be downloaded 5 times after purchase.",
    ),
    (
        "Can I buy a gift card?",
        "Gift cards from 10 to 100 euros can be bought online and are valid for 2 years.",
    ),
    (
        "The book I received is damaged. What do I do?",
        "Send us a photo of the damaged book within 7 days and we send a replacement at no cost.",
    ),
]
# customer questions, written differently from the FAQ on purpose: (question, index of the right FAQ entry)
TEST_QUESTIONS = [
    ("how many days until my parcel arrives", 0),
    ("when will my order be delivered", 0),
    ("is delivery free", 1),
    ("what are the postage costs", 1),
    ("I want to send a book back", 2),
    ("what is your returns policy", 2),
    ("I returned a book, when do I get my money back", 3),
    ("how long do refunds take", 3),
    ("I moved, can I update the shipping address", 4),
    ("the address on my order is wrong", 4),
    ("I want to cancel my order", 5),
    ("can I stop an order I placed yesterday", 5),
    ("can I pay with paypal", 6),
    ("do you take credit cards", 6),
    ("I forgot my password", 7),
    ("I cannot log in to my account", 7),
    ("can you send books to France", 8),
    ("do you deliver outside Germany", 8),
    ("are digital books available", 9),
    ("can I read your books on my e-reader", 9),
    ("I'd like to give a voucher as a present", 10),
    ("how long is a gift card valid", 10),
    ("my book arrived with torn pages", 11),
    ("the cover was broken when it arrived", 11),
]
OUT_OF_SCOPE = [
    "what is the weather tomorrow",
    "who wrote Hamlet",
    "do you have a shop in Berlin",
    "can I sell you my old textbooks",
]
print(
    f"{len(FAQ)} FAQ entries, {len(TEST_QUESTIONS)} test questions, "
    f"{len(OUT_OF_SCOPE)} out-of-scope questions"
)

# %% [markdown]
# ### TF-IDF retrieval
#
# **TF-IDF** (term frequency–inverse document frequency, 词频-逆文档频率)
# {cite}`salton1988termweighting` turns a text into a vector with one entry per word
# of the vocabulary: the word's count in the text (tf) times
#
# $$\mathrm{idf}(w) = \ln\frac{1 + N}{1 + \mathrm{df}(w)} + 1,$$
#
# where $N$ is the number of documents and $\mathrm{df}(w)$ the number containing $w$.
# Rare words ("refund", "password") get large weights, words in every document small
# ones. Each vector is scaled to length 1, so the **cosine similarity** of two texts
# is a dot product. A document here is an FAQ question with its answer.

# %%
STOP = set(
    "a an the i my me to of and or is are do does you your we our can it in on "
    "for with be will how what when which".split()
)


def words(text, stem=False):
    """Lower-case words without stop words (a deliberately simple tokenizer).

    ``stem=True`` keeps only the first 5 letters of each word, a crude stemmer
    (词干提取): deliver, delivery, delivered -> "deliv"; refund, refunds -> "refun".
    """
    ws = [w for w in re.findall(r"[a-z0-9\-']+", text.lower()) if w not in STOP]
    return [w[:5] for w in ws] if stem else ws


class TfIdf:
    """TF-IDF vectors with smoothed idf and unit length; ``transform`` ignores unknown words."""

    def __init__(self, stem=False):
        self.stem = stem

    def fit(self, docs):
        tokenized = [words(d, self.stem) for d in docs]
        self.vocab = {
            w: i for i, w in enumerate(sorted({w for t in tokenized for w in t}))
        }
        df = Counter(w for t in tokenized for w in set(t))
        n = len(docs)
        self.idf = np.array([np.log((1 + n) / (1 + df[w])) + 1 for w in self.vocab])
        return self

    def transform(self, docs):
        x = np.zeros((len(docs), len(self.vocab)))
        for r, d in enumerate(docs):
            for w in words(d, self.stem):
                if w in self.vocab:
                    x[r, self.vocab[w]] += 1
        x *= self.idf
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


docs = [q + " " + a for q, a in FAQ]
tfidf = TfIdf().fit(docs)
D = tfidf.transform(docs)
print(f"vocabulary: {len(tfidf.vocab)} words; document matrix {D.shape}")

# %% [markdown]
# Check the cosine of one question and one document against a direct computation
# from word counts (a dictionary per text, no matrices):

# %%
def cosine_by_hand(text_a, text_b):
    idf = dict(zip(tfidf.vocab, tfidf.idf))
    va = {w: c * idf[w] for w, c in Counter(words(text_a)).items() if w in idf}
    vb = {w: c * idf[w] for w, c in Counter(words(text_b)).items() if w in idf}
    dot = sum(va[w] * vb.get(w, 0.0) for w in va)
    return dot / (
        np.sqrt(sum(v * v for v in va.values()))
        * np.sqrt(sum(v * v for v in vb.values()))
    )


q = "how long do refunds take"
print(
    f"cosine, matrix: {(tfidf.transform([q]) @ D.T)[0, 3]:.6f}; "
    f"by hand: {cosine_by_hand(q, docs[3]):.6f}"
)
assert np.isclose((tfidf.transform([q]) @ D.T)[0, 3], cosine_by_hand(q, docs[3]))

# %% [markdown]
# Now answer every test question with the FAQ entry of highest cosine, and count how
# often it is the right one (**top-1 accuracy**), and how often the right one is among
# the best three (top-3). Exact words miss "delivered" vs "delivery", so we also try
# the crude stemmer:

# %%
truth = np.array([k for _, k in TEST_QUESTIONS])
for stem in (False, True):
    tfidf = TfIdf(stem=stem).fit(docs)
    D, Q = tfidf.transform(docs), tfidf.transform([q for q, _ in TEST_QUESTIONS])
    scores = Q @ D.T
    ranking = np.argsort(-scores, axis=1)
    top1 = (ranking[:, 0] == truth).mean()
    top3 = np.mean([t in r[:3] for t, r in zip(truth, ranking)])
    print(
        f"TF-IDF, {'5-letter stems' if stem else 'exact words   '}: top-1 accuracy {top1:.0%}, "
        f"top-3 {top3:.0%} on {len(truth)} paraphrased questions (chance: {1 / len(FAQ):.0%})"
    )
print("misses of the stemmed version:")
for (question, k), r, s in zip(TEST_QUESTIONS, ranking, scores):
    if r[0] != k:
        print(
            f"  miss: {question!r} -> {FAQ[r[0]][0]!r} (cosine {s[r[0]]:.2f}); "
            f"right: {FAQ[k][0]!r} (cosine {s[k]:.2f})"
        )

# %% [markdown]
# Read the misses: most are paraphrases that share no informative word with the
# right entry ("voucher" vs "gift card", "digital books" vs "e-books"), or share only
# a common word such as "order" or "book" with a wrong one. Word matching cannot know
# that two different words mean the same thing. Real systems replace TF-IDF vectors by
# **embeddings** from a neural network trained so that paraphrases land close
# together; the retrieve-by-cosine step stays the same.
#
# A retrieval system can also say "I don't know": if the best cosine is low, hand
# the customer to a person. The threshold trades wrong answers for hand-overs:

# %%
oos = tfidf.transform(OUT_OF_SCOPE) @ D.T
print(
    f"{'threshold':>9} {'answered':>9} {'right when answered':>20} {'out-of-scope answered':>22}"
)
for tau in (0.0, 0.1, 0.2, 0.3):
    answered = scores.max(1) >= tau
    right = (
        (ranking[:, 0] == truth)[answered].mean() if answered.any() else float("nan")
    )
    print(
        f"{tau:>9.1f} {answered.mean():>9.0%} {right:>20.0%} {(oos.max(1) >= tau).mean():>22.0%}"
    )

# %% [markdown]
# ### What a generative model adds, and what it costs
#
# Retrieval can only return answers someone wrote and approved. A **generative**
# model (a large language model, 大语言模型) writes a fresh reply in the customer's own
# terms, in any language, and can combine several answers. The price is that it
# writes what is *probable*, not what is *true*: a fluent sentence with a wrong
# number in it is a **hallucination** (幻觉).
#
# We can see this mechanism in miniature. Train the smallest language model there is,
# a word-bigram model ({doc}`../05_autoregressive/ar_concepts`), on the twelve approved
# answers, and let it write sentences:

# %%
answer_words = [["<s>"] + re.findall(r"[\w'\-]+|[.;,]", a) for _, a in FAQ]
vocab = sorted({w for s in answer_words for w in s})
wid = {w: i for i, w in enumerate(vocab)}
ids = np.array([wid[w] for s in answer_words for w in s])
bigram = ar.NGramLM(2, len(vocab), alpha=1e-6).fit(ids)
approved = {" ".join(s[1:]) for s in answer_words}

gen = generate_tokens(
    bigram.step,
    np.full((pick(full=200, fast=100), 1), wid["<s>"]),
    30,
    len(vocab),
    seed=0,
)
sentences = []
for row in gen:
    toks = [vocab[i] for i in row[1:]]
    toks = toks[: toks.index(".") + 1] if "." in toks else toks
    toks = toks[: toks.index("<s>")] if "<s>" in toks else toks
    sentences.append(" ".join(toks))
new = [s for s in sentences if s not in approved]
print(
    f"{len(new)} of {len(sentences)} sampled sentences are not approved answers; the first five:"
)
for s in new[:5]:
    print("  *", s)

# %% [markdown]
# Each sampled sentence is locally fluent (every word pair occurs in an approved
# answer), yet most of them state rules the shop never made: read the printed
# examples, where numbers of days and euros get attached to the wrong subject. A large
# language model is vastly better at language than this bigram, but the mechanism,
# "continue with what is likely", is the same, and so is the failure.
#
# The standard remedy is **retrieval-augmented generation** (RAG, 检索增强生成)
# {cite}`lewis2020rag`: retrieve the relevant approved passages first (exactly the
# TF-IDF step above, usually with neural embeddings), put them into the model's
# prompt, and instruct it to answer *from them*. The generator then supplies the
# fluency, the retriever the facts. Retrieval quality caps the whole system (a
# missed FAQ entry cannot be used), which is why the top-$k$ accuracy measured above
# is the first number to look at, and why answers should cite the passage they
# used so that a person can check them.
#
# ```{mermaid}
# flowchart LR
#     Q["customer question"] --> R["retriever: TF-IDF or embeddings"]
#     K[("approved FAQ / documents")] --> R
#     R -->|"top-k passages"| P["prompt: question + passages"]
#     P --> G["language model"]
#     G --> A["reply that cites its passage"]
#     R -->|"best score below threshold"| H["hand over to a person"]
# ```
#
# (applications-concepts-finance)=
# ## 3. Financial sentiment monitoring: mostly classification
#
# "Monitor the market mood from news" is a **classification** (分类) task: given a
# headline, decide whether it is good or bad news for the company. That is a
# discriminative model, $p(y \mid x)$, not a generative one; the classic benchmark,
# the Financial PhraseBank {cite}`malo2014phrasebank`, labels sentences from
# financial news as positive, negative or neutral, and FinBERT
# {cite}`araci2019finbert` fine-tunes BERT {cite}`devlin2019bert` on it.
#
# The smallest honest version: a bag-of-words **logistic regression** (逻辑回归) on
# headlines about invented companies, written and labelled for this notebook
# (1 = positive, 0 = negative):

# %%
HEADLINES = [
    ("Norden Steel profit rises 12% on strong demand", 1),
    ("Acme shares jump after record quarterly sales", 1),
    ("Bluewater Bank raises dividend as earnings beat forecasts", 1),
    ("Kestrel Air wins large order for new aircraft", 1),
    ("Orion Foods beats expectations and lifts full-year outlook", 1),
    ("Analysts upgrade Helix Pharma after successful drug trial", 1),
    ("Solara Energy signs record supply deal, shares rise", 1),
    ("Vantage Retail sales grow for a fifth straight quarter", 1),
    ("Granite Insurance profit doubles, dividend raised", 1),
    ("Pioneer Motors shares surge on strong electric car demand", 1),
    ("Lumen Tech revenue beats forecasts as cloud sales grow", 1),
    ("Harbor Logistics wins contract and raises outlook", 1),
    ("Atlas Mining output hits record, profit rises", 1),
    ("Cedar Telecom shares rise after strong subscriber growth", 1),
    ("Summit Chemicals lifts forecast on higher prices", 1),
    ("Nova Biotech shares jump on approval of new drug", 1),
    ("Redwood Paper returns to profit after cost savings", 1),
    ("Quantum Chips sales beat expectations, outlook raised", 1),
    ("Meridian Hotels reports record bookings and higher profit", 1),
    ("Falcon Shipping raises dividend after strong year", 1),
    ("Norden Steel profit falls as demand weakens", 0),
    ("Acme shares drop after weak quarterly sales", 0),
    ("Bluewater Bank cuts dividend as loan losses mount", 0),
    ("Kestrel Air loses major order, shares slump", 0),
    ("Orion Foods misses expectations and cuts outlook", 0),
    ("Analysts downgrade Helix Pharma after failed drug trial", 0),
    ("Solara Energy warns of loss, shares fall", 0),
    ("Vantage Retail sales decline for a third straight quarter", 0),
    ("Granite Insurance loss widens on storm claims", 0),
    ("Pioneer Motors recalls cars, shares tumble", 0),
    ("Lumen Tech revenue misses forecasts as cloud sales slow", 0),
    ("Harbor Logistics loses contract and lowers outlook", 0),
    ("Atlas Mining output falls, profit drops", 0),
    ("Cedar Telecom shares fall after subscriber losses", 0),
    ("Summit Chemicals cuts forecast on lower prices", 0),
    ("Nova Biotech shares slump as regulator rejects drug", 0),
    ("Redwood Paper swings to loss as costs rise", 0),
    ("Quantum Chips sales miss expectations, outlook cut", 0),
    ("Meridian Hotels reports weak bookings and lower profit", 0),
    ("Falcon Shipping suspends dividend after weak year", 0),
    ("Ironwood Foods profit rises on strong sales", 1),
    ("Polar Airlines shares jump as bookings grow", 1),
    ("Sterling Bank beats forecasts and raises dividend", 1),
    ("Crown Media wins contract, outlook raised", 1),
    ("Apex Devices reports record revenue", 1),
    ("Ironwood Foods profit falls on weak sales", 0),
    ("Polar Airlines shares slump as bookings decline", 0),
    ("Sterling Bank misses forecasts and cuts dividend", 0),
    ("Crown Media loses contract, outlook cut", 0),
    ("Apex Devices reports loss as revenue drops", 0),
]
texts = [h for h, _ in HEADLINES]
y = np.array([label for _, label in HEADLINES], float)
order = np.random.default_rng(0).permutation(len(texts))
test_idx, train_idx = order[:15], order[15:]
print(
    f"{len(texts)} headlines ({int(y.sum())} positive): {len(train_idx)} for training, "
    f"{len(test_idx)} held out"
)


# %% [markdown]
# Each headline becomes a 0/1 vector $x$ (which training-set words it contains), and
# the model is $p(y = 1 \mid x) = \sigma(w^\top x + b)$. Training minimises the
# mean cross-entropy plus an L2 penalty $\tfrac{\lambda}{2}\|w\|^2$, whose gradient is
#
# $$\nabla_w = \tfrac1n X^\top(\sigma(Xw + b) - y) + \lambda w, \qquad
# \nabla_b = \tfrac1n \textstyle\sum_i (\sigma(x_i^\top w + b) - y_i).$$

# %%
def bag_of_words(texts, vocab):
    x = np.zeros((len(texts), len(vocab)))
    for r, t in enumerate(texts):
        for w in re.findall(r"[a-z]+", t.lower()):
            if w in vocab:
                x[r, vocab[w]] = 1.0
    return x


def loss_and_grad(w, b, X, y, lam):
    p = 1 / (1 + np.exp(-(X @ w + b)))
    eps = 1e-12
    loss = (
        -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + lam / 2 * w @ w
    )
    return loss, X.T @ (p - y) / len(y) + lam * w, np.mean(p - y)


train_words = sorted(
    {w for i in train_idx for w in re.findall(r"[a-z]+", texts[i].lower())}
)
bow_vocab = {w: i for i, w in enumerate(train_words)}
X_train, X_test = (
    bag_of_words([texts[i] for i in idx], bow_vocab) for idx in (train_idx, test_idx)
)
y_train, y_test = y[train_idx], y[test_idx]
LAM = 0.01

# the gradient formula against central finite differences
rng = np.random.default_rng(0)
w0, b0 = rng.normal(0, 0.5, len(bow_vocab)), 0.1
_, gw, gb = loss_and_grad(w0, b0, X_train, y_train, LAM)
h = 1e-6
for j in (0, 5, 17):
    e = np.zeros_like(w0)
    e[j] = h
    fd = (
        loss_and_grad(w0 + e, b0, X_train, y_train, LAM)[0]
        - loss_and_grad(w0 - e, b0, X_train, y_train, LAM)[0]
    ) / (2 * h)
    print(f"dL/dw[{j:2d}]: formula {gw[j]:+.6f}, finite difference {fd:+.6f}")
    assert abs(fd - gw[j]) < 1e-6
fd_b = (
    loss_and_grad(w0, b0 + h, X_train, y_train, LAM)[0]
    - loss_and_grad(w0, b0 - h, X_train, y_train, LAM)[0]
) / (2 * h)
assert abs(fd_b - gb) < 1e-6

# %%
w, b = np.zeros(len(bow_vocab)), 0.0
for _step in range(2000):
    loss, gw, gb = loss_and_grad(w, b, X_train, y_train, LAM)
    w, b = w - 1.0 * gw, b - 1.0 * gb


def predict(texts_):
    return 1 / (1 + np.exp(-(bag_of_words(texts_, bow_vocab) @ w + b)))


acc_train = np.mean((X_train @ w + b > 0) == y_train)
acc_test = np.mean((X_test @ w + b > 0) == y_test)
majority = max(y_test.mean(), 1 - y_test.mean())
print(
    f"final training loss {loss:.3f}; accuracy: training {acc_train:.0%}, "
    f"held-out {acc_test:.0%} on {len(y_test)} headlines (majority-class baseline {majority:.0%})"
)
top = np.argsort(w)
print("most negative words:", [train_words[i] for i in top[:6]])
print("most positive words:", [train_words[i] for i in top[-6:][::-1]])

# %% [markdown]
# With 15 held-out headlines, each one is worth almost 7 percentage points: the
# accuracy is a rough estimate, not a benchmark. The learned weights are easy to read
# (the printed "most negative" and "most positive" words), which is one reason such
# models remain popular for monitoring.
#
# **Pitfall: a bag of words cannot read.** It ignores word order, so negation and
# contrast fool it:

# %%
tricky = {
    "Loss narrows as sales grow": 1,  # good news, written with "loss"
    "Analysts no longer expect a loss": 1,  # good news, written with "loss"
    "Shares rise although profit falls sharply": 0,
}
p_tricky = predict(list(tricky))
for (t, label), p in zip(tricky.items(), p_tricky):
    print(f"p(positive) = {p:.2f}  (true label {label})  {t}")
assert p_tricky[0] < 0.5  # "loss" outweighs "narrows", which the model never saw

# %% [markdown]
# Words the model never saw ("narrows", "no longer") count for nothing, and the
# words it knows are added up regardless of what they modify. Models that read the
# whole sentence in context (FinBERT and other fine-tuned
# Transformers) handle such cases far better; they are still classifiers.
#
# **Where generation does help** in this scenario:
#
# * **Summaries.** An analyst reads a generated digest of the day's news, with the
#   classifier's scores attached; the summary is for people, the score for alerts.
# * **Synthetic training data.** A language model can write labelled headlines to
#   enlarge a small training set (the "data augmentation" row of the map).
#
# **Risks.** Synthetic headlines inherit the generator's biases and vocabulary; a
# classifier tested on synthetic data can look far better than it is on real news,
# so held-out sets must stay real. A generated summary can misstate a figure (a
# hallucination again, now about money), and in a trading context a plausible wrong
# number is worse than no summary. Finally, market sentiment is not price
# prediction: a good sentiment classifier does not make a profitable strategy.
#
# (applications-concepts-recommendation)=
# ## 4. Personalised recommendation
#
# A shop has $U$ users, $I$ items and a few ratings: most of the matrix $R$
# ($U \times I$) is missing. **Matrix factorisation** (矩阵分解) {cite}`koren2009matrix`
# assumes that each user $u$ and each item $i$ can be described by $k$ hidden numbers
# (tastes and properties), $p_u, q_i \in \mathbb R^k$, and predicts
# $\hat r_{ui} = \mu + p_u^\top q_i$.
#
# To know the right answer we make **synthetic** ratings with a known rank-3
# structure plus noise, and observe a random 15 % of them; a fifth of the observed
# ratings is held out for testing.

# %%
N_USERS, N_ITEMS, RANK, NOISE = (
    pick(full=600, fast=300),
    pick(full=240, fast=120),
    3,
    0.3,
)
rng = np.random.default_rng(0)
P_true = rng.normal(0, 1, (N_USERS, RANK))
Q_true = rng.normal(0, 1, (N_ITEMS, RANK)) * np.array([1.0, 0.6, 0.4])
popularity = rng.normal(0, 0.5, N_ITEMS)  # some items are liked by everyone
R_true = 3.0 + popularity + P_true @ Q_true.T * 0.5
observed = np.argwhere(rng.random((N_USERS, N_ITEMS)) < 0.15)
ratings = R_true[observed[:, 0], observed[:, 1]] + rng.normal(0, NOISE, len(observed))
split = rng.random(len(observed)) < 0.8
tr_ui, tr_r, te_ui, te_r = (
    observed[split],
    ratings[split],
    observed[~split],
    ratings[~split],
)
print(
    f"{N_USERS} users x {N_ITEMS} items; {len(tr_r):,} training ratings, {len(te_r):,} test ratings "
    f"({len(observed) / (N_USERS * N_ITEMS):.0%} of the matrix observed); noise sd {NOISE}"
)

# %% [markdown]
# **Alternating least squares** (ALS, 交替最小二乘) minimises
# $\sum_{(u,i)} (r_{ui} - \mu - p_u^\top q_i)^2 + \lambda(\|P\|^2 + \|Q\|^2)$ over the
# training ratings. With $Q$ fixed, each user's $p_u$ is a ridge regression with the
# closed form $p_u = (Q_u^\top Q_u + \lambda I)^{-1} Q_u^\top (r_u - \mu)$ ($Q_u$: the
# items user $u$ rated); then swap roles. Each half-step solves its part exactly, so
# the loss never goes up.

# %%
def als(ui, r, n_users, n_items, k, lam=1.0, iters=15, seed=0):
    mu = r.mean()
    rng_ = np.random.default_rng(seed)
    P, Q = rng_.normal(0, 0.1, (n_users, k)), rng_.normal(0, 0.1, (n_items, k))
    by_user = [np.flatnonzero(ui[:, 0] == u) for u in range(n_users)]
    by_item = [np.flatnonzero(ui[:, 1] == i) for i in range(n_items)]
    history = []
    for _ in range(iters):
        for rows, A, B, col in ((by_user, P, Q, 1), (by_item, Q, P, 0)):
            for j, idx in enumerate(rows):
                Bj = B[ui[idx, col]]
                A[j] = np.linalg.solve(
                    Bj.T @ Bj + lam * np.eye(k), Bj.T @ (r[idx] - mu)
                )
        history.append((P.copy(), Q.copy()))
    return mu, P, Q, history


def rmse(mu, P, Q, ui, r):
    return float(np.sqrt(np.mean((mu + np.sum(P[ui[:, 0]] * Q[ui[:, 1]], 1) - r) ** 2)))


def objective(mu, P, Q, lam=1.0):
    err = tr_r - mu - np.sum(P[tr_ui[:, 0]] * Q[tr_ui[:, 1]], 1)
    return float(err @ err + lam * (np.sum(P * P) + np.sum(Q * Q)))


mu, P, Q, hist = als(tr_ui, tr_r, N_USERS, N_ITEMS, k=RANK)
obj = [objective(mu, P_, Q_) for P_, Q_ in hist]
assert all(b <= a + 1e-6 for a, b in zip(obj, obj[1:])), "ALS objective went up"
print(f"objective after each sweep: {obj[0]:.1f} ... {obj[-1]:.1f} (never increases)")
# the closed form for one user against an independent solver: least squares on the
# stacked system [Q_u; sqrt(lam) I] p = [r_u - mu; 0]
idx = np.flatnonzero(tr_ui[:, 0] == 0)
Qu = Q[tr_ui[idx, 1]]
closed = np.linalg.solve(Qu.T @ Qu + 1.0 * np.eye(RANK), Qu.T @ (tr_r[idx] - mu))
stacked = np.linalg.lstsq(
    np.vstack([Qu, np.eye(RANK)]),
    np.concatenate([tr_r[idx] - mu, np.zeros(RANK)]),
    rcond=None,
)[0]
print(
    f"user 0: closed form {np.round(closed, 4)}, least squares {np.round(stacked, 4)}"
)
assert np.allclose(closed, stacked)

# %% [markdown]
# Compare with two baselines that need no factorisation: predict the global mean
# $\mu$, or each item's mean rating (**popularity**, 热门推荐: what everyone likes). The
# noise level is the floor no method can beat.

# %%
item_mean = np.array(
    [
        tr_r[tr_ui[:, 1] == i].mean() if np.any(tr_ui[:, 1] == i) else mu
        for i in range(N_ITEMS)
    ]
)
results = {
    "global mean": float(np.sqrt(np.mean((mu - te_r) ** 2))),
    "item mean (popularity)": float(
        np.sqrt(np.mean((item_mean[te_ui[:, 1]] - te_r) ** 2))
    ),
}
for k in (1, RANK, 10):
    m_, P_, Q_, _ = als(tr_ui, tr_r, N_USERS, N_ITEMS, k=k)
    results[f"ALS, rank {k}"] = rmse(m_, P_, Q_, te_ui, te_r)
results["noise floor"] = NOISE
for name, value in results.items():
    print(f"{name:>24}: test RMSE {value:.3f}")
assert (
    results[f"ALS, rank {RANK}"]
    < results["item mean (popularity)"]
    < results["global mean"]
)

# %%
fig, ax = plt.subplots(figsize=(7, 3))
ax.barh(
    list(results), list(results.values()), color=["gray", "gray", "C0", "C0", "C0", "k"]
)
ax.set_xlabel("RMSE on held-out ratings (lower is better)")
ax.set_title("Matrix factorisation vs popularity on synthetic ratings")
ax.invert_yaxis()
plt.show()

# %% [markdown]
# The popularity baseline captures what everyone likes, and factorisation adds what
# *this* user likes. Compare the printed errors: the true rank closes much of the gap
# between popularity and the noise floor, and rank 1 misses part of the taste
# structure. Rank 10 has more factors than the truth; whether that costs anything
# depends on how many ratings each user has (fast mode has fewer) and on the ridge
# penalty $\lambda$, which holds the extra factors back (try `lam=0.1` in the
# exercises).
#
# **Generative recommendation.** Factorisation scores items one by one. Two
# generative views of the same problem:
#
# * **Mult-VAE** {cite}`liang2018multvae` treats a user's history (a vector of clicked
#   items) as data to be generated: the VAE of {doc}`../04_vaes/vae_concepts` encodes
#   it into a latent $z$ and decodes $z$ into a multinomial distribution over all
#   items, from which the unclicked items with the highest probability are
#   recommended.
# * **LLM-based recommenders** such as P5 {cite}`geng2022p5` write users, items and
#   histories as text and let a language model *generate* the next item's name or id,
#   which also allows explanations in words. The risks are the ones of Section 2:
#   a generated item may not exist (a hallucinated product), and a language model
#   pretrained on the web brings its own popularity biases. Private histories in a
#   prompt or a training set raise privacy questions: a model that memorises can
#   repeat them ({doc}`../06_problems/problems_concepts`).
#
# ## 5. Sound, one sample at a time
#
# Audio is a sequence of numbers: 8,000 to 48,000 samples per second. WaveNet
# {cite}`vandenoord2016wavenet` models it like text: each sample is quantised to one of
# 256 levels and predicted from the samples before it. The quantiser is **μ-law
# companding** (μ律压扩): compress the amplitude logarithmically, then cut into 256
# equal bins, so quiet sounds get finer steps than loud ones:
#
# $$F(x) = \operatorname{sign}(x)\,\frac{\ln(1 + \mu|x|)}{\ln(1 + \mu)}, \quad \mu = 255.$$
#
# The round-trip error is at most half a bin in $F$, which maps back to
# $|x - \hat x| \le (|x| + 1/\mu)\,((1+\mu)^{1/\mu} - 1)$: about 2 % of the amplitude,
# and tiny near silence. Checked on a grid:

# %%
x = np.linspace(-1, 1, 10001)
x_hat = audio.mu_law_decode(audio.mu_law_encode(x))
bound = (np.abs(x) + 1 / 255) * (256 ** (1 / 255) - 1)
print(
    f"max |x - x_hat| = {np.abs(x - x_hat).max():.4f}; max of error / bound = "
    f"{(np.abs(x - x_hat) / bound).max():.3f} (<= 1)"
)
assert np.all(np.abs(x - x_hat) <= bound + 1e-12)
print(
    f"near silence (|x| < 0.01): max error {np.abs(x - x_hat)[np.abs(x) < 0.01].max():.1e}; "
    f"uniform 8-bit steps would give up to {1 / 255:.1e}"
)

# %% [markdown]
# Now the smallest "WaveNet": $n$-gram models over μ-law levels, trained on half a
# second of a 440 Hz tone and asked to continue it for a quarter of a second. The
# question is how much context is needed.

# %%
SR_TONE = 8000
t = np.arange(SR_TONE // 2) / SR_TONE
tone = 0.8 * np.sin(2 * np.pi * 440 * t)
codes = audio.mu_law_encode(tone)
waves = {}
for n in (2, 3):
    lm = ar.NGramLM(n, 256, alpha=1e-6, interpolate=True).fit(codes)
    out = generate_tokens(lm.step, codes[: n - 1], SR_TONE // 4, 256, seed=0)
    waves[n] = audio.mu_law_decode(out)
    print(
        f"{n}-gram ({n - 1} sample{'s' * (n > 2)} of context): training NLL "
        f"{lm.nll(codes):.2f} nats/sample; strongest frequency of its output "
        f"{audio.dominant_frequency(waves[n], SR_TONE):6.1f} Hz (the tone: 440 Hz)"
    )

fig, ax = plt.subplots(figsize=(9, 3))
ax.plot(np.arange(160) / SR_TONE * 1000, tone[:160], "k", lw=2, label="training tone")
for n, wv in waves.items():
    ax.plot(np.arange(160) / SR_TONE * 1000, wv[:160], label=f"{n}-gram sample")
ax.set_xlabel("time (ms)")
ax.set_ylabel("amplitude")
ax.set_title("Generating a waveform sample by sample")
ax.legend(loc="upper right")
plt.show()

# %% [markdown]
# With one sample of context (bigram), the model cannot tell whether the wave is
# going up or down at a given level, so it wanders: its output drifts
# like a random walk, and its strongest frequency (printed) is far from 440 Hz. Two
# samples of context fix that for a pure tone (the 3-gram simply replays its
# training tone: with one tone to learn from, there is nothing else to generate). Speech and music need context over
# tenths of a second, thousands of samples, which WaveNet reaches with stacks of
# dilated causal convolutions. Generating one sample at a time is also slow, which
# is why later speech systems generate spectrograms or use parallel decoders.

# %% [markdown]
# ## 6. Games, advertising, medicine and education
#
# The articles list more fields, a line each: game maps and levels
# ("使用GAN可以自动生成丰富的游戏地图和关卡", article 001, section 5.6.3), advertising images (article 002,
# section 6.1), medical images and virtual surgery (article 004, section 6.4; article
# 000) and educational content (article 004, section 6.4). For each we ask what is
# generated, what can go wrong, and run the smallest experiment that shows it.
#
# ### Games: generate, then test
#
# Games have generated content procedurally for decades, with hand-written rules and
# random seeds: dungeons, terrain, item names {cite}`shaker2016pcg`. **Procedural content
# generation via machine learning** learns the generator from existing levels instead,
# for example Markov chains or LSTMs over the columns of Super Mario Bros. levels
# {cite}`summerville2018pcgml`. The catch: a generator that imitates levels does not
# know the rules of the game, so what it produces may be impossible to finish.
#
# Our level is a side-scroller written as a height map: one number per column, the
# height of the ground (0 is a pit). The player can jump 3 up and across gaps of up to
# 3 columns; `apps.level_playable` checks a level by breadth-first search over the
# columns. We train $n$-gram models on one hand-made level of 111 columns
# (the `NGramLM` of chapter 5, over the tokens 0 to 6), generate 80-column levels and
# test them.

# %%
show_source(apps, start="# --- playable (shown", end="# --- end playable")

# %%
segments = [
    "2222222",
    "2222",
    "00",
    "222",
    "44",
    "2222",
    "000",
    "2222",
    "55",
    "222",
    "3456",
    "6666",
    "00",
    "6",
    "5432",
    "2222",
    "000",
    "22",
    "44",
    "222",
    "00",
    "2222",
    "3",
    "4",
    "222222",
    "00",
    "222",
    "5",
    "55",
    "22222",
    "000",
    "222",
    "34",
    "44",
    "00",
    "444",
    "32",
    "2222",
]
level = np.array([int(c) for c in "".join(segments)])
assert apps.level_playable(level)
n_levels = pick(full=500, fast=200)
generated = {}
for n in (2, 3, 4):
    lm_level = ar.NGramLM(n, 7, alpha=1e-3, interpolate=True).fit(level)
    generated[n] = generate_tokens(
        lm_level.step, np.tile(level[: n - 1], (n_levels, 1)), 80, 7, seed=n
    )
    ok = np.mean([apps.level_playable(lv) for lv in generated[n]])
    copied = ar.ngram_overlap(list(generated[n]), level, 10)
    print(
        f"{n}-gram ({n - 1} column{'s' * (n > 2)} of context): {ok:5.1%} of {n_levels} levels "
        f"playable; {copied:5.1%} of their 10-column stretches appear in the training level"
    )


def draw(ax, heights, title):
    # rows from the top: ground below the height
    img = np.arange(7)[::-1, None] < heights[None, :]
    ax.imshow(
        img, cmap="Greens", aspect="auto", interpolation="nearest", vmin=0, vmax=1.5
    )
    ax.set(title=title, xlabel="column", yticks=[])


fig, axes = plt.subplots(3, 1, figsize=(11, 5.5))
draw(axes[0], level[:80], "training level (first 80 columns)")
bad = next(lv for lv in generated[2] if not apps.level_playable(lv))
good = next(lv for lv in generated[3] if apps.level_playable(lv))
draw(axes[1], bad, "2-gram sample: not playable (a gap or a step too large)")
draw(axes[2], good, "3-gram sample: playable")
plt.tight_layout()
plt.show()

# %% [markdown]
# With one column of context the model cannot tell how wide the pit it is digging
# already is, nor how high it has climbed, and most of its levels cannot be finished.
# More context makes more levels playable, and also copies more of the training level:
# the same trade-off between novelty and copying as in the music labs. The working
# pattern is **generate and test**: a generator for variety, a checker (a search, a
# simulated player) that rejects what breaks the rules, and designers who decide. The
# risks are the ones of this course: copied content (levels, art or voices learned from
# others' work), and generated dialogue or characters that go off-script for players.
#
# ### Advertising: many variants, one budget of attention
#
# Generating ad copy or images is the easy part; article 002 (section 6.1) promises
# "吸引人的广告图片，提高广告效果" (attractive images, better results). Whether a
# variant is better is measured by showing it: each impression is a trial, each click a
# success. Suppose a generator wrote six headlines for a bookshop and their true
# click-through rates (CTR), unknown to us, are as below. An **A/B test** (A/B 测试)
# shows each variant equally often and picks the one with the best observed rate; a
# **multi-armed bandit** (多臂老虎机) shifts impressions to the variants that look best
# while it learns. **Thompson sampling** {cite}`thompson1933likelihood` draws a plausible
# CTR for each variant from its Beta posterior and shows the one with the largest draw;
# it does well on display advertising {cite}`chapelle2011empirical`.

# %%
headlines = [
    "Books for every mood",
    "Your next favourite book is here",
    "20% off all paperbacks this week",
    "Free delivery on every order",
    "Readers who loved it also read...",
    "New arrivals, hand-picked",
]
true_ctr = np.array([0.020, 0.022, 0.025, 0.030, 0.028, 0.018])
impressions, campaigns = 20_000, pick(full=500, fast=100)
results = {
    policy: apps.simulate_ad_test(
        true_ctr, impressions, policy, batch=100, campaigns=campaigns, seed=0
    )
    for policy in ("uniform", "thompson")
}
best = int(np.argmax(true_ctr))
for policy, r in results.items():
    observed = r["clicks"] / np.maximum(r["shows"], 1)
    chosen = observed.argmax(axis=1)
    curse = observed[np.arange(campaigns), chosen] - true_ctr[chosen]
    print(
        f"{policy:9}: {r['clicks'].sum(1).mean():6.1f} clicks per campaign "
        f"(best possible {impressions * true_ctr.max():.0f}); {r['shows'][:, best].mean() / impressions:5.1%} "
        f"of impressions to the best headline; the best is picked in {np.mean(chosen == best):5.1%} "
        f"of campaigns; the picked one's observed CTR exceeds its true CTR by "
        f"{curse.mean() * 100:+.2f} points on average"
    )
assert results["thompson"]["clicks"].sum() > results["uniform"]["clicks"].sum()

fig, ax = plt.subplots(figsize=(8, 3.2))
for i, (policy, r) in enumerate(results.items()):
    ax.bar(
        np.arange(6) + 0.4 * i,
        r["shows"].mean(0) / impressions,
        width=0.4,
        label=policy,
    )
ax.set_xticks(
    np.arange(6) + 0.2,
    [f"{h[:18]}...\nCTR {c:.1%}" for h, c in zip(headlines, true_ctr)],
    fontsize=7,
)
ax.set(ylabel="share of impressions", title="Where the impressions went")
ax.legend()
plt.show()

# %% [markdown]
# The bandit earns more clicks during the test by showing the weak headlines less,
# and picks the best one about as often. Both report, on average, a CTR for the chosen
# headline that is too high (printed; the equal split more so): choosing the largest of
# several noisy estimates selects those that were lucky (the **winner's curse**,
# 赢家诅咒), so the winner's rate must be confirmed on fresh impressions. Generating *more* variants makes this worse, not better. What the
# simulation leaves out is what matters most: the headline that wins on clicks may be
# the most misleading one, and advertising law forbids false or misleading content
# (in China, Article 4 of the Advertising Law, 广告法) whoever or whatever wrote it;
# personalised variants also raise the privacy questions of
# {doc}`../10_security/security_concepts`.
#
# ### Medicine: synthetic data must be validated on real data
#
# Generated medical images are used to enlarge small training sets, for example
# GAN-generated liver lesions for a classifier {cite}`fridadar2018gan`, and to share
# data without sharing patients. Image-to-image models also reconstruct, denoise and
# upscale scans; there the danger is a model that **adds** plausible structures that
# are not in the patient, or removes real ones {cite}`cohen2018distribution`. Two
# checks apply to any synthetic data set: **train on synthetic, test on real** (TSTR)
# {cite}`esteban2017real`, which measures whether the synthetic data carries what the
# task needs; and a **copy check**, since synthetic data that reproduces patients is not
# anonymous ({doc}`../10_security/security_concepts`).
#
# No medical data here: MNIST stands in for a small labelled set of scans. We keep 20
# labelled images per class, fit a simple generator to them (a Gaussian per class in a
# 20-dimensional PCA space), and train the same classifier (the MLP of
# `aigc_course.adversarial`) on real, synthetic and real + synthetic images, testing
# always on real held-out images.

# %%
x_all, y_all = load_mnist("train")
x_hold, y_hold = load_mnist("test")
x_hold, y_hold = x_hold[:2000].astype(np.float32) / 255.0, y_hold[:2000]
rng_med = np.random.default_rng(0)
few = np.concatenate(
    [rng_med.choice(np.flatnonzero(y_all == c), 20, replace=False) for c in range(10)]
)
x_few, y_few = x_all[few].astype(np.float32) / 255.0, y_all[few]
flat_few = x_few.reshape(len(x_few), -1).astype(np.float64)
mean_img = flat_few.mean(0)
# 20 principal axes
basis = np.linalg.svd(flat_few - mean_img, full_matrices=False)[2][:20]
codes = (flat_few - mean_img) @ basis.T
x_syn = (
    np.concatenate(
        [
            np.clip(
                mean_img
                + (
                    codes[y_few == c].mean(0)
                    + codes[y_few == c].std(0) * rng_med.standard_normal((200, 20))
                )
                @ basis,
                0,
                1,
            )
            for c in range(10)
        ]
    )
    .reshape(-1, 28, 28)
    .astype(np.float32)
)
y_syn = np.repeat(np.arange(10), 200)
more = np.concatenate(
    [
        rng_med.choice(
            np.setdiff1d(np.flatnonzero(y_all == c), few), 200, replace=False
        )
        for c in range(10)
    ]
)
training_sets = {
    "real, 200 images": (x_few, y_few),
    "synthetic, 2,000 images": (x_syn, y_syn),
    "real 200 + synthetic 2,000": (
        np.concatenate([x_few, x_syn]),
        np.concatenate([y_few, y_syn]),
    ),
    "real, 2,000 images (more data)": (
        np.concatenate([x_few, x_all[more] / 255.0]).astype(np.float32),
        np.concatenate([y_few, y_all[more]]),
    ),
}
tstr = {}
for name, (xa, ya) in training_sets.items():
    model, _ = adversarial.train_mlp(
        xa, ya, epochs=max(3, 6000 // len(xa)), layers=(784, 128, 10), seed=0
    )
    tstr[name] = adversarial.accuracy(model, x_hold, y_hold)
    print(
        f"trained on {name:32}: accuracy on 2,000 real held-out images {tstr[name]:.1%}"
    )
assert (
    tstr["real, 2,000 images (more data)"]
    > tstr["real, 200 images"]
    > tstr["synthetic, 2,000 images"]
)

# the copy check: distance from each synthetic image to its nearest real training image,
# against the same distance for real held-out images
_, d_syn = nearest_neighbours(x_syn, x_few)
_, d_new = nearest_neighbours(x_hold, x_few)
print(
    f"median distance to the nearest of the 200 real images: synthetic {np.median(d_syn):.2f}, "
    f"real held-out {np.median(d_new):.2f}; synthetic images closer than the closest 1% of "
    f"held-out ones: {np.mean(d_syn < np.quantile(d_new, 0.01)):.1%}"
)

# %% [markdown]
# Training on synthetic images alone works, worse than on the 200 real ones they came
# from, and adding them to the real ones did not help this classifier (compare the
# printed rows): a generator fitted to 200 images contains no information that the 200
# images did not, and a crude one blurs what they did contain. Real data, more of it,
# helped most. Better generators and pretrained ones do help in published studies, but
# only a test on real, held-out data, per subgroup of patients and per hospital, can
# tell. The copy check passes here: no synthetic image is as close to a training image
# as the closest 1% of new real images are (their median distance is a little smaller,
# as expected of smooth images near the class means). For a large generator trained on
# few patients it may well fail ({doc}`../10_security/security_concepts`).
#
# ### Education: generate the answer first, grade by checking
#
# Article 004 expects generated "丰富的教育内容" (rich educational content), and article
# 001 tutoring systems (教育辅导). Language models write exercises, hints and feedback
# fluently, and they also state wrong answers fluently: an exercise generator is only
# as good as its answer key, and a grader only as good as its check. Two habits fix
# both, and the course's own exercises use them ({doc}`../12_exercises/exercises_pytorch`
# checks code by running it against a reference): build the exercise **from its
# answer**, so the key is right by construction; and grade by **verifying** the answer
# (substitute it, run it) instead of comparing strings.

# %%
rng_edu = np.random.default_rng(1)
exercises = [apps.quadratic_exercise(rng_edu) for _ in range(pick(full=2000, fast=500))]
for text, _coeffs, roots in exercises[:3]:
    print(f"{text:32} key: x = {roots[0]}, x = {roots[1]}")
assert all(apps.check_roots(c, f"{r[0]} and {r[1]}") for _, c, r in exercises)

# students write correct answers in many forms (the last one is incomplete unless the root is double)
formats = ["x = {a}, x = {b}", "{b}, {a}", "x={b} or x={a}", "{a} {b}", "x = {a}"]
# [right?, accepted?]
tally = {"string": np.zeros((2, 2), int), "substitution": np.zeros((2, 2), int)}
for _text, coeffs, (r1, r2) in exercises:
    key = f"x = {r1}, x = {r2}"
    for f in formats:
        answer = f.format(a=r1, b=r2)
        right = set(apps.parse_numbers(answer)) == {r1, r2}
        tally["string"][int(right), int(answer == key)] += 1
        tally["substitution"][int(right), int(apps.check_roots(coeffs, answer))] += 1
for grader, t in tally.items():
    print(
        f"grading by {grader:12}: accepts {t[1, 1]} of {t[1].sum()} correct answers and "
        f"{t[0, 1]} of {t[0].sum()} incorrect ones"
    )
assert tally["substitution"][1, 0] == 0 and tally["substitution"][0, 1] == 0
print(
    "grading by substitution:",
    {
        a: apps.check_roots((1, -1, -6), a)
        for a in ["x = 3, x = -2", "-2 and 3", "x = 3", "x = 2, x = -3"]
    },
)

# %% [markdown]
# Substitution accepts every correct form and rejects every incomplete answer ("x = 3"
# for an equation with two roots); string matching rejects most correct answers, which
# a student experiences as the machine being wrong. For open-ended
# tasks (an essay, a proof) no such check exists, and generated feedback needs a
# teacher's review. The other risks are pedagogical and legal: students who let the
# model do the work learn less, and their data (answers, mistakes, conversations)
# is personal data about minors.

# %% [markdown]
# ## Exercises
#
# :::{exercise}
# :label: applications-concepts-ex-tfidf
# Replace TF-IDF by plain word counts (set every idf to 1) and measure the top-1
# accuracy again. Then add the missing words to the FAQ (e.g. "voucher" to the gift
# card question). Which change helps more, and what does that say about where the
# effort in a retrieval system goes?
# :::
#
# :::{solution} applications-concepts-ex-tfidf
# :class: dropdown
# Set `t.idf[:] = 1` on a fitted `TfIdf` `t` and recompute `D`, `Q` and the
# ranking. On this tiny FAQ the top-1 accuracy hardly moves: with twelve short
# documents few words are frequent enough for idf to matter. (With thousands of
# documents, words such as "order" or "account" appear everywhere and idf is what
# stops them from deciding the ranking.) Adding the missing words helps at once:
# the misses came from vocabulary, which no weighting can repair. In practice most
# of the work is in the content (and in embeddings that know synonyms), not in the
# formula.
# :::
#
# :::{exercise}
# :label: applications-concepts-ex-hallucination
# Count how many of the bigram's new sentences contain a number, and how many of those
# numbers are attached to a different subject than in the FAQ (for instance "refunds
# ... 14 days"). Then train a trigram instead (`ar.NGramLM(3, ...)`), with two `<s>`
# tokens before each answer and a prompt of two `<s>`, so that its first context
# occurs in training. Does the rate of new sentences go down? Is the trigram "more
# truthful" or just copying more?
# :::
#
# :::{solution} applications-concepts-ex-hallucination
# :class: dropdown
# With a trigram most contexts of two words occur once in twelve short answers, so
# the model recites long stretches of approved sentences: fewer new sentences and
# fewer wrong numbers, though it still splices answers where they share two words
# ("... the order page of your account ..."). (With a single `<s>` prompt its first
# context is never seen in training and it samples uniformly: garbage.) It is not more truthful, it has less freedom; the same trade-off between
# novelty and copying as the memorisation measured in the music labs. A model that
# generalises (a real LLM) keeps the freedom, which is why grounding with retrieval
# and checking the answer against the passage is needed.
# :::
#
# :::{exercise}
# :label: applications-concepts-ex-als
# Refit ALS with rank 10 and `lam=0.1`, and with rank 10 and `lam=10`. Print the
# training and test RMSE of each. Which one overfits, and which one underfits?
# :::
#
# :::{solution} applications-concepts-ex-als
# :class: dropdown
# Compute the training error with `rmse(m, P, Q, tr_ui, tr_r)`. With `lam=0.1` the
# rank-10 model fits the training ratings better than the noise level allows
# (training RMSE well below 0.3) while the test RMSE rises: it overfits, because
# each user has rated only about 15 % of the items. With `lam=10` the factors are
# shrunk towards 0, leaving little more than the global mean, and both errors grow:
# it underfits. The rank and $\lambda$ are chosen on held-out ratings, never on the
# test set.
# :::
