"""Autoregressive models (Keras 3): a character RNN, a small GPT and a PixelCNN.

All three factorise a joint distribution with the chain rule and model each
conditional with a network that sees only the past::

    p(x) = prod_t p(x_t | x_<t)

* ``CharRNN``:  embedding -> stacked LSTM -> Dense logits (Karpathy's char-rnn).
* ``GPT``:      decoder-only Transformer like nanoGPT (Radford et al., 2018/2019):
  token + learned position embeddings, pre-LN blocks with hand-written causal
  self-attention (Dense layers, not ``MultiHeadAttention``) and a 4x GELU MLP,
  final LayerNorm, an untied bias-free head.
* ``PixelCNN``: masked convolutions on binarized 28x28 images (van den Oord
  et al., 2016): pixel (i, j) sees only the pixels before it in raster order.

Text models train on int windows (N, T + 1) with teacher forcing (inputs
``x[:, :-1]``, targets ``x[:, 1:]``, mean cross-entropy per token in nats) and
sample with :func:`aigc_course.text.generate_tokens`, shared with PyTorch.
Mirrors ``aigc_course.torch.autoregressive`` (same trainable parameter counts).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from .._checks import check_binarization, check_count, rng_from
from ..ar_numpy import pixelcnn_mask
from ..likelihood import threshold_binarize, unit_images
from ..text import as_token_ids, as_windows, generate_tokens
from .core import GenerativeModel, SingleOptimizer, apply_gradients
from .vae import bernoulli_nll


# --- losses (shown in the book) -------------------------------------------
def token_cross_entropy(logits, targets):
    """Mean over (batch, time) of -log softmax(logits)[target], in nats per token."""
    return ops.mean(
        keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    )


def pixel_nll(logits, x):
    """-log p(x) per image in nats: the VAE's Bernoulli NLL, the BCE with logits summed
    over the 28x28 pixels (:func:`aigc_course.keras.vae.bernoulli_nll`)."""
    return bernoulli_nll(logits, x)


# --- end losses -------------------------------------------------------------


def check_token_tensor(idx, block_size=None):
    """ValueError unless ``idx`` holds integer token ids shaped (B, T), T <= ``block_size``."""
    dtype = keras.backend.standardize_dtype(idx.dtype)
    if "int" not in dtype:
        raise ValueError(f"idx: expected integer token ids, got dtype {dtype}")
    if len(idx.shape) != 2:
        raise ValueError(
            f"idx: expected token ids shaped (B, T), got {tuple(idx.shape)}"
        )
    t = idx.shape[1]
    if block_size is not None and t is not None and t > block_size:
        raise ValueError(
            f"idx: sequence length {t} is longer than block_size={block_size}; "
            f"crop the context to the last {block_size} tokens"
        )


class _TextModel(SingleOptimizer, GenerativeModel):
    """Shared by CharRNN and GPT: teacher-forced training and sampling."""

    block_size = None  # maximum context (None: unlimited)

    def _setup(self):
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True
        # create every weight now (load/save need them)
        self(np.zeros((1, 1), np.int64))

    @property
    def metrics(self):
        return [self.loss_tracker]

    def prepare(self, x, y=None):
        return (as_windows(x, self.vocab_size, self.block_size),)  # int64 (N, T + 1)

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        inputs, targets = x[:, :-1], x[:, 1:]  # teacher forcing: predict the next token

        def loss_fn():
            return token_cross_entropy(self(inputs, training=True), targets)

        loss = apply_gradients(self.optimizer, loss_fn, self.trainable_weights)

        self.loss_tracker.update_state(ops.stop_gradient(loss))
        return {m.name: m.result() for m in self.metrics}

    # --- end train_step ------------------------------------------------------

    def step(self, seq, state):
        """Next-token logits (B, V) for the id sequence ``seq`` (B, t); see ``generate_tokens``."""
        raise NotImplementedError

    def generate(
        self,
        prompt_ids,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k=None,
        seed=None,
        top_p=None,
    ) -> np.ndarray:
        """Prompt ids with ``max_new_tokens`` sampled ids appended (int64, same rank).

        ``temperature=0`` is greedy decoding; ``top_k``/``top_p`` filter the
        logits first. Randomness: ``np.random.default_rng(seed)`` only.
        """
        return generate_tokens(
            self.step,
            prompt_ids,
            max_new_tokens,
            self.vocab_size,
            temperature,
            top_k,
            top_p,
            seed,
        )

    def logits(self, ids) -> np.ndarray:
        """NumPy in, NumPy out: float32 logits (B, T, V) for int ids (B, T)."""
        ids = as_token_ids(ids, self.vocab_size, ndim=2)
        return ops.convert_to_numpy(self(ids, training=False)).astype(np.float32)


@keras.saving.register_keras_serializable(package="aigc_course")
class CharRNN(_TextModel):
    """Character-level LSTM language model.

    embedding (V -> E) -> ``num_layers`` LSTM layers (H units) -> Dense (H -> V).
    Keras's LSTM has one bias vector per layer; the PyTorch twin freezes its
    second one at zero, so both count 4H(in + H) + 4H per layer.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 64,
        hidden_size: int = 256,
        num_layers: int = 2,
        dropout: float = 0.0,
        lr: float = 2e-3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = check_count(vocab_size, "vocab_size")
        self.embed_dim, self.hidden_size = embed_dim, hidden_size
        self.num_layers, self.dropout, self.lr = num_layers, dropout, lr
        self.embedding = layers.Embedding(vocab_size, embed_dim)
        self.lstms = [
            layers.LSTM(hidden_size, return_sequences=True, return_state=True)
            for _ in range(num_layers)
        ]
        # between LSTM layers, as in torch's nn.LSTM
        self.drop = layers.Dropout(dropout)
        self.head = layers.Dense(vocab_size)
        self._setup()

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "lr": self.lr,
        }

    def run(self, idx, states=None, training=False):
        """Logits (B, T, V) and the new states [[h, c] per layer] for ids (B, T)."""
        check_token_tensor(idx)
        x = self.embedding(idx)
        new_states = []
        for i, lstm in enumerate(self.lstms):
            if i > 0:
                x = self.drop(x, training=training)
            x, h, c = lstm(
                x,
                initial_state=None if states is None else states[i],
                training=training,
            )
            new_states.append([h, c])
        return self.head(x), new_states

    def call(self, idx, training=False):
        return self.run(idx, training=training)[0]

    def step(self, seq, state):
        # first call: read the whole prompt; then feed only the newest token
        x = seq if state is None else seq[:, -1:]
        logits, state = self.run(x, state, training=False)
        return ops.convert_to_numpy(logits[:, -1]), state


@keras.saving.register_keras_serializable(package="aigc_course")
class CausalSelfAttention(layers.Layer):
    """Multi-head self-attention where position t attends only to positions <= t.

    q, k, v = x W_qkv (one Dense C -> 3C), split into n_head heads of size C/n_head;
    att = softmax(q k^T / sqrt(d) + mask), mask = -inf above the diagonal;
    y = (att v) with the heads concatenated, then the output projection C -> C.
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if n_embd % n_head:
            raise ValueError(f"n_embd={n_embd} must be divisible by n_head={n_head}")
        self.n_embd, self.n_head, self.dropout = n_embd, n_head, dropout
        init = keras.initializers.RandomNormal(stddev=0.02)
        self.c_attn = layers.Dense(3 * n_embd, kernel_initializer=init)
        self.c_proj = layers.Dense(n_embd, kernel_initializer=init)
        self.attn_dropout = layers.Dropout(dropout)
        self.resid_dropout = layers.Dropout(dropout)

    def get_config(self):
        return {
            **super().get_config(),
            "n_embd": self.n_embd,
            "n_head": self.n_head,
            "dropout": self.dropout,
        }

    def call(self, x, training=False):
        T, C, nh = ops.shape(x)[1], self.n_embd, self.n_head
        q, k, v = ops.split(self.c_attn(x), 3, axis=-1)
        # (B, T, C) -> (B, n_head, T, head_size)
        q, k, v = (
            ops.transpose(ops.reshape(t, (-1, T, nh, C // nh)), (0, 2, 1, 3))
            for t in (q, k, v)
        )
        # (B, nh, T, T)
        att = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(C // nh)
        causal = ops.tril(ops.ones((T, T), "int32")) > 0
        att = ops.where(causal, att, float("-inf"))  # no peeking ahead
        att = ops.exp(att - ops.max(att, axis=-1, keepdims=True))  # softmax over keys
        att = att / ops.sum(att, axis=-1, keepdims=True)
        att = self.attn_dropout(att, training=training)
        y = ops.reshape(ops.transpose(ops.matmul(att, v), (0, 2, 1, 3)), (-1, T, C))
        return self.resid_dropout(self.c_proj(y), training=training)


@keras.saving.register_keras_serializable(package="aigc_course")
class Block(layers.Layer):
    """Pre-LN Transformer block: x + attn(LN(x)), then x + MLP(LN(x)) with a 4x GELU MLP."""

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.n_embd, self.n_head, self.dropout = n_embd, n_head, dropout
        init = keras.initializers.RandomNormal(stddev=0.02)
        self.ln_1 = layers.LayerNormalization(epsilon=1e-5)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln_2 = layers.LayerNormalization(epsilon=1e-5)
        self.fc = layers.Dense(4 * n_embd, kernel_initializer=init)
        self.proj = layers.Dense(n_embd, kernel_initializer=init)
        self.mlp_dropout = layers.Dropout(dropout)

    def get_config(self):
        return {
            **super().get_config(),
            "n_embd": self.n_embd,
            "n_head": self.n_head,
            "dropout": self.dropout,
        }

    def call(self, x, training=False):
        x = x + self.attn(self.ln_1(x), training=training)
        h = self.proj(ops.gelu(self.fc(self.ln_2(x)), approximate=False))
        return x + self.mlp_dropout(h, training=training)


@keras.saving.register_keras_serializable(package="aigc_course")
class GPT(_TextModel):
    """A small decoder-only Transformer (nanoGPT's layout).

    h = wte(idx) + wpe(0..T-1); h = Block(h) x n_layer; logits = lm_head(LN(h)).
    The lm head is a separate bias-free Dense (weights NOT tied to wte).
    Initialisation as in GPT-2: N(0, 0.02) weights, zero biases.
    Inputs longer than ``block_size`` raise ValueError; ``generate`` crops the
    context to the last ``block_size`` tokens.
    """

    def __init__(
        self,
        vocab_size: int,
        block_size: int = 128,
        n_layer: int = 4,
        n_head: int = 4,
        n_embd: int = 128,
        dropout: float = 0.0,
        lr: float = 3e-4,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = check_count(vocab_size, "vocab_size")
        self.block_size = check_count(block_size, "block_size")
        self.n_layer, self.n_head, self.n_embd = n_layer, n_head, n_embd
        self.dropout, self.lr = dropout, lr
        init = keras.initializers.RandomNormal(stddev=0.02)
        self.wte = layers.Embedding(vocab_size, n_embd, embeddings_initializer=init)
        self.wpe = layers.Embedding(block_size, n_embd, embeddings_initializer=init)
        self.drop = layers.Dropout(dropout)
        self.blocks = [self.build_block() for _ in range(n_layer)]
        self.ln_f = layers.LayerNormalization(epsilon=1e-5)
        self.lm_head = layers.Dense(vocab_size, use_bias=False, kernel_initializer=init)
        self._setup()

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "block_size": self.block_size,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_embd": self.n_embd,
            "dropout": self.dropout,
            "lr": self.lr,
        }

    def build_block(self):
        """One Transformer block; ``__init__`` stacks ``n_layer`` of them."""
        return Block(self.n_embd, self.n_head, self.dropout)

    def call(self, idx, training=False):
        """Logits (B, T, V) for int ids (B, T), T <= block_size."""
        check_token_tensor(idx, self.block_size)
        pos = ops.arange(ops.shape(idx)[1])
        x = self.drop(self.wte(idx) + self.wpe(pos)[None], training=training)
        for block in self.blocks:
            x = block(x, training=training)
        return self.lm_head(self.ln_f(x))

    def step(self, seq, state):
        # One fixed input shape, (B, block_size), so that the compiled predict function
        # is traced once (eager calls on a new shape every token are ~20x slower on
        # TensorFlow). Causality makes the right padding harmless: the logits at
        # position t - 1 never see positions >= t.
        ctx = np.asarray(seq[:, -self.block_size :], np.int64)
        t = ctx.shape[1]
        padded = np.zeros((ctx.shape[0], self.block_size), np.int64)
        padded[:, :t] = ctx
        logits = _inference(self, padded)
        return np.asarray(logits[:, t - 1], np.float32), None


def _inference(model, x) -> np.ndarray:
    """``model(x, training=False)`` as NumPy, through one cached ``tf.function`` on TensorFlow.

    Sampling calls the model hundreds of times on inputs of one shape; TensorFlow's
    eager mode pays its per-op dispatch cost on every call, a traced graph does not.
    The PyTorch backend runs eagerly anyway.
    """
    if keras.backend.backend() == "tensorflow":
        fn = model.__dict__.get("_aigc_inference")
        if fn is None:
            import tensorflow as tf

            fn = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
            model.__dict__["_aigc_inference"] = fn
        return ops.convert_to_numpy(fn(x))
    return ops.convert_to_numpy(model(x, training=False))


# ----- PixelCNN ---------------------------------------------------------------------
# The (k, k) causal mask of a PixelCNN convolution is framework-neutral: one NumPy
# definition (aigc_course.ar_numpy.pixelcnn_mask), shared with the other framework's twin.


@keras.saving.register_keras_serializable(package="aigc_course")
class MaskedConv2D(layers.Layer):
    """Conv2D whose kernel is multiplied by a fixed causal mask ('same' padding, NHWC)."""

    def __init__(self, filters: int, kernel_size: int, mask_type: str, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.mask_type = filters, kernel_size, mask_type
        # (k, k, 1, 1)
        self.mask = pixelcnn_mask(kernel_size, mask_type)[:, :, None, None]

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self.add_weight(
            shape=(k, k, input_shape[-1], self.filters),
            initializer="glorot_uniform",
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=(self.filters,), initializer="zeros", name="bias"
        )

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "mask_type": self.mask_type,
        }

    def call(self, x):
        return ops.conv(x, self.kernel * self.mask, padding="same") + self.bias


@keras.saving.register_keras_serializable(package="aigc_course")
class PixelCNN(SingleOptimizer, GenerativeModel):
    """PixelCNN on binarized 28x28 images: one Bernoulli logit per pixel.

    masked 7x7 conv, type A (1 -> hidden), ReLU;
    ``n_layers`` x [masked 3x3 conv, type B (hidden -> hidden), ReLU];
    1x1 conv (hidden -> 1).

    p(x) = prod_{i,j} Bernoulli(x_ij | sigmoid(logit_ij(x_<ij))). This is the
    original 2016 design (it has the well-known "blind spot" above-right).
    ``binarization`` is how ``fit`` turns grey levels into bits: ``"static"``
    thresholds at 0.5 once (the data the lab evaluates on); ``"dynamic"`` draws a
    fresh Bernoulli(grey level) image at every step, as the VAE does, the protocol of
    published likelihoods on MNIST. ``nll`` and ``logits`` threshold their input at
    0.5 (a no-op for images binarized already). ``call`` takes (B, 28, 28) or
    (B, 28, 28, 1) floats in {0, 1} and returns logits (B, 28, 28).
    """

    def __init__(
        self,
        hidden: int = 64,
        n_layers: int = 5,
        kernel: int = 7,
        lr: float = 1e-3,
        binarization: str = "static",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden = check_count(hidden, "hidden")
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 0:
            raise ValueError(f"n_layers: expected a non-negative int, got {n_layers!r}")
        if (
            isinstance(kernel, bool)
            or not isinstance(kernel, int)
            or kernel < 3
            or kernel % 2 == 0
        ):
            raise ValueError(f"kernel: expected an odd int >= 3, got {kernel!r}")
        self.n_layers, self.kernel, self.lr = n_layers, kernel, lr
        self.binarization = check_binarization(binarization)
        self.seed_gen = keras.random.SeedGenerator(0)
        # any height: sampling runs the net on the top rows only
        net = [
            keras.Input((None, 28, 1)),
            MaskedConv2D(hidden, kernel, "A"),
            layers.ReLU(),
        ]
        for _ in range(n_layers):
            net += [MaskedConv2D(hidden, 3, "B"), layers.ReLU()]
        net.append(layers.Conv2D(1, 1))
        self.net = keras.Sequential(net, name="pixelcnn")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    def get_config(self):
        return {
            **super().get_config(),
            "hidden": self.hidden,
            "n_layers": self.n_layers,
            "kernel": self.kernel,
            "lr": self.lr,
            "binarization": self.binarization,
        }

    @property
    def metrics(self):
        return [self.loss_tracker]

    def prepare(self, x, y=None):
        if self.binarization == "dynamic":
            return (unit_images(x),)  # grey levels; train_step draws the bits
        return (threshold_binarize(x),)  # float32 (N, 28, 28) in {0, 1}

    def call(self, x, training=False):
        if len(x.shape) == 3:
            x = x[..., None]
        if len(x.shape) != 4 or tuple(x.shape[1:]) != (28, 28, 1):
            raise ValueError(
                f"x: expected images shaped (B, 28, 28) or (B, 28, 28, 1), got {tuple(x.shape)}"
            )
        return self.net(ops.cast(x, "float32"), training=training)[..., 0]

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        if self.binarization == "dynamic":  # a fresh binary image every step
            x = ops.cast(
                keras.random.uniform(ops.shape(x), seed=self.seed_gen) < x, "float32"
            )

        def loss_fn():
            logits = self(x, training=True)  # logit_ij sees only x_<ij
            return ops.mean(pixel_nll(logits, x))  # nats per image

        loss = apply_gradients(self.optimizer, loss_fn, self.trainable_weights)

        self.loss_tracker.update_state(ops.stop_gradient(loss))
        return {m.name: m.result() for m in self.metrics}

    # --- end train_step ------------------------------------------------------

    def logits(self, x) -> np.ndarray:
        """NumPy in, NumPy out: float32 logits (N, 28, 28) for images in {0, 1} (binarized)."""
        return ops.convert_to_numpy(self(threshold_binarize(x), training=False)).astype(
            np.float32
        )

    def nll(self, x, batch_size: int = 256) -> np.ndarray:
        """Exact -log p(x) per image in nats, float64 (N,); images binarized at 0.5."""
        x = threshold_binarize(x)
        out = [
            ops.convert_to_numpy(
                pixel_nll(
                    self(x[i : i + batch_size], training=False),
                    ops.convert_to_tensor(x[i : i + batch_size]),
                )
            )
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(out).astype(np.float64)

    def sample(self, n: int, seed=None) -> np.ndarray:
        """``n`` binary images (n, 28, 28) float32 in {0, 1}, drawn pixel by pixel.

        784 forward passes of the whole image (exact for a causal net: pixel
        (i, j) sees only the pixels before it); pixel (i, j) ~ Bernoulli(sigmoid(logit_ij)) with the
        uniform numbers from ``np.random.default_rng(seed)``.
        """
        n = check_count(n)
        rng = rng_from(seed)
        x = np.zeros((n, 28, 28), np.float32)
        whole = keras.backend.backend() == "tensorflow"
        for i in range(28):
            for j in range(28):
                # causal: pixels at and after (i, j) cannot change logit_ij. TensorFlow
                # reuses one traced graph on the whole image; eager backends compute
                # only rows 0..i (rows below cannot influence row i)
                if whole:
                    logits = _inference(self, x)[:, i, j]
                else:
                    top = self.net(x[:, : i + 1, :, None], training=False)
                    logits = ops.convert_to_numpy(top[:, i, j, 0])
                logits = np.asarray(logits, np.float64)
                p = 1.0 / (1.0 + np.exp(-logits))
                x[:, i, j] = rng.random(n) < p
        return x
