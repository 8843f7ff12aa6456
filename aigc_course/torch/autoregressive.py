"""Autoregressive models (PyTorch): a character RNN, a small GPT and a PixelCNN.

All three factorise a joint distribution with the chain rule and model each
conditional with a network that sees only the past::

    p(x) = prod_t p(x_t | x_<t)

* ``CharRNN``:  embedding -> stacked LSTM -> Dense logits (Karpathy's char-rnn).
* ``GPT``:      decoder-only Transformer like nanoGPT (Radford et al., 2018/2019):
  token + learned position embeddings, pre-LN blocks with hand-written causal
  self-attention and a 4x GELU MLP, final LayerNorm, an untied bias-free head.
* ``PixelCNN``: masked convolutions on binarized 28x28 images (van den Oord
  et al., 2016): pixel (i, j) sees only the pixels before it in raster order.

Text models train on int windows (N, T + 1) with teacher forcing (inputs
``x[:, :-1]``, targets ``x[:, 1:]``, mean cross-entropy per token in nats) and
sample with :func:`aigc_course.text.generate_tokens`, shared with Keras.
Mirrors ``aigc_course.keras.autoregressive`` (same trainable parameter counts).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_binarization, check_count, rng_from
from ..ar_numpy import pixelcnn_mask
from ..likelihood import threshold_binarize, unit_images
from ..text import as_token_ids, as_windows, generate_tokens
from .core import GenerativeModel
from .vae import bernoulli_nll


# --- losses (shown in the book) -------------------------------------------
def token_cross_entropy(logits, targets):
    """Mean over (batch, time) of -log softmax(logits)[target], in nats per token."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def pixel_nll(logits, x):
    """-log p(x) per image in nats: the VAE's Bernoulli NLL, the BCE with logits summed
    over the 28x28 pixels (:func:`aigc_course.torch.vae.bernoulli_nll`)."""
    return bernoulli_nll(logits, x)


# --- end losses -------------------------------------------------------------


def check_token_tensor(idx: torch.Tensor, block_size=None):
    """ValueError unless ``idx`` holds integer token ids shaped (B, T), T <= ``block_size``."""
    if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
        raise ValueError(f"idx: expected integer token ids, got dtype {idx.dtype}")
    if idx.dim() != 2:
        raise ValueError(
            f"idx: expected token ids shaped (B, T), got {tuple(idx.shape)}"
        )
    if block_size is not None and idx.shape[1] > block_size:
        raise ValueError(
            f"idx: sequence length {idx.shape[1]} is longer than "
            f"block_size={block_size}; crop the context to the last "
            f"{block_size} tokens"
        )


class _TextModel(GenerativeModel):
    """Shared by CharRNN and GPT: teacher-forced training and sampling."""

    block_size = None  # maximum context (None: unlimited)

    def configure_optimizers(self):
        return {"model": torch.optim.Adam(self.parameters(), lr=self.lr)}

    def prepare(self, x, y=None):
        return (as_windows(x, self.vocab_size, self.block_size),)  # int64 (N, T + 1)

    # --- train_step (shown in the book) --------------------------------------
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

    # --- end train_step ------------------------------------------------------

    def step(self, seq, state):
        """Next-token logits (B, V) for the id sequence ``seq`` (B, t); see ``generate_tokens``."""
        raise NotImplementedError

    @torch.no_grad()
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
        with self.evaluating():
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

    @torch.no_grad()
    def logits(self, ids) -> np.ndarray:
        """NumPy in, NumPy out: float32 logits (B, T, V) for int ids (B, T)."""
        ids = as_token_ids(ids, self.vocab_size, ndim=2)
        with self.evaluating():
            return self(torch.as_tensor(ids, device=self.device)).float().cpu().numpy()


class CharRNN(_TextModel):
    """Character-level LSTM language model.

    embedding (V -> E) -> ``num_layers`` LSTM layers (H units) -> Dense (H -> V).
    PyTorch's LSTM has two bias vectors (b_ih, b_hh) where Keras has one:
    b_hh is zeroed and frozen, so the maths and the trainable count match.
    Initialised like Keras: Glorot-uniform input kernels, orthogonal recurrent
    kernels, bias 0 with the forget gate's bias 1 (gate order i, f, g, o in both).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 64,
        hidden_size: int = 256,
        num_layers: int = 2,
        dropout: float = 0.0,
        lr: float = 2e-3,
    ):
        super().__init__()
        self.vocab_size = check_count(vocab_size, "vocab_size")
        self.embed_dim, self.hidden_size = embed_dim, hidden_size
        self.num_layers, self.dropout, self.lr = num_layers, dropout, lr
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(
            embed_dim,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden_size, vocab_size)
        H = hidden_size
        for name, p in self.lstm.named_parameters():
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(p)
            elif name.startswith("weight_hh"):
                for g in range(4):
                    nn.init.orthogonal_(p.data[g * H : (g + 1) * H])
            elif name.startswith("bias_ih"):
                nn.init.zeros_(p)
                nn.init.ones_(p.data[H : 2 * H])  # forget gate
            else:  # bias_hh: the second bias, frozen at zero
                nn.init.zeros_(p)
                p.requires_grad_(False)

    def forward(self, idx, state=None, return_state: bool = False):
        """Logits (B, T, V) for ids (B, T); optionally carry the LSTM state (h, c)."""
        check_token_tensor(idx)
        out, state = self.lstm(self.embedding(idx), state)
        logits = self.head(out)
        return (logits, state) if return_state else logits

    def step(self, seq, state):
        # first call: read the whole prompt; then feed only the newest token
        x = seq if state is None else seq[:, -1:]
        logits, state = self(
            torch.as_tensor(x, device=self.device), state, return_state=True
        )
        return logits[:, -1].float().cpu().numpy(), state


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


class GPT(_TextModel):
    """A small decoder-only Transformer (nanoGPT's layout).

    h = wte(idx) + wpe(0..T-1); h = Block(h) x n_layer; logits = lm_head(LN(h)).
    The lm head is a separate bias-free Linear (weights NOT tied to wte).
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
    ):
        super().__init__()
        self.vocab_size = check_count(vocab_size, "vocab_size")
        self.block_size = check_count(block_size, "block_size")
        self.n_layer, self.n_head, self.n_embd = n_layer, n_head, n_embd
        self.dropout, self.lr = dropout, lr
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(self.build_block() for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd, eps=1e-5)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)

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

    def step(self, seq, state):
        ctx = torch.as_tensor(seq[:, -self.block_size :], device=self.device)
        return self(ctx)[:, -1].float().cpu().numpy(), None


# ----- PixelCNN ---------------------------------------------------------------------
# The (k, k) causal mask of a PixelCNN convolution is framework-neutral: one NumPy
# definition (aigc_course.ar_numpy.pixelcnn_mask), shared with the other framework's twin.


class MaskedConv2d(nn.Conv2d):
    """Conv2d whose kernel is multiplied by a fixed causal mask ('same' padding)."""

    def __init__(self, in_channels, out_channels, kernel_size, mask_type: str):
        super().__init__(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2
        )
        self.mask_type = mask_type
        self.register_buffer(
            "mask", torch.from_numpy(pixelcnn_mask(kernel_size, mask_type))
        )

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(GenerativeModel):
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
    0.5 (a no-op for images binarized already). ``forward`` takes (B, 28, 28) or
    (B, 1, 28, 28) floats in {0, 1} and returns logits (B, 28, 28).
    """

    def __init__(
        self,
        hidden: int = 64,
        n_layers: int = 5,
        kernel: int = 7,
        lr: float = 1e-3,
        binarization: str = "static",
    ):
        super().__init__()
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
        layers = [MaskedConv2d(1, hidden, kernel, "A"), nn.ReLU()]
        for _ in range(n_layers):
            layers += [MaskedConv2d(hidden, hidden, 3, "B"), nn.ReLU()]
        layers.append(nn.Conv2d(hidden, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        if x.dim() == 3:
            x = x[:, None]
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(
                f"x: expected images shaped (B, 28, 28) or (B, 1, 28, 28), got {tuple(x.shape)}"
            )
        return self.net(x.float())[:, 0]

    def configure_optimizers(self):
        return {"model": torch.optim.Adam(self.parameters(), lr=self.lr)}

    def prepare(self, x, y=None):
        if self.binarization == "dynamic":
            return (unit_images(x),)  # grey levels; train_step draws the bits
        return (threshold_binarize(x),)  # float32 (N, 28, 28) in {0, 1}

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, x):
        opt = self.optimizers["model"]
        if self.binarization == "dynamic":
            x = torch.bernoulli(x)  # a fresh binary image every step
        with self.autocast():
            logits = self(x)  # logit_ij sees only x_<ij
        loss = pixel_nll(logits.float(), x).mean()  # nats per image
        opt.zero_grad(set_to_none=True)
        self.backward(loss)
        self.optimizer_step(opt)
        return {"loss": loss.detach()}

    # --- end train_step ------------------------------------------------------

    @torch.no_grad()
    def logits(self, x) -> np.ndarray:
        """NumPy in, NumPy out: float32 logits (N, 28, 28) for images in {0, 1} (binarized)."""
        x = torch.as_tensor(threshold_binarize(x), device=self.device)
        with self.evaluating():
            return self(x).float().cpu().numpy()

    @torch.no_grad()
    def nll(self, x, batch_size: int = 256) -> np.ndarray:
        """Exact -log p(x) per image in nats, float64 (N,); images binarized at 0.5."""
        x = threshold_binarize(x)
        out = []
        with self.evaluating():
            for i in range(0, len(x), batch_size):
                xb = torch.as_tensor(x[i : i + batch_size], device=self.device)
                out.append(pixel_nll(self(xb).float(), xb).cpu().numpy())
        return np.concatenate(out).astype(np.float64)

    @torch.no_grad()
    def sample(self, n: int, seed=None) -> np.ndarray:
        """``n`` binary images (n, 28, 28) float32 in {0, 1}, drawn pixel by pixel.

        784 forward passes (each on the rows 0..i only, which is exact for a
        causal net); pixel (i, j) ~ Bernoulli(sigmoid(logit_ij)) with the
        uniform numbers from ``np.random.default_rng(seed)``.
        """
        n = check_count(n)
        rng = rng_from(seed)
        x = torch.zeros(n, 28, 28, device=self.device)
        with self.evaluating():
            for i in range(28):
                for j in range(28):
                    # rows below i cannot influence row i: run the net on rows 0..i only
                    logits = (
                        self.net(x[:, None, : i + 1])[:, 0, i, j].double().cpu().numpy()
                    )
                    p = 1.0 / (1.0 + np.exp(-logits))
                    x[:, i, j] = torch.as_tensor(
                        (rng.random(n) < p).astype(np.float32), device=self.device
                    )
        return x.cpu().numpy().astype(np.float32)
