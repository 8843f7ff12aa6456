"""Framework-neutral weights of a Keras model: the explicit mapping onto PyTorch's layout.

The course stores a model's weights once (:mod:`aigc_course.weightfile`, safetensors)
in the **canonical names and layouts of PyTorch's** ``state_dict`` (see
:mod:`aigc_course.torch.weights`, whose mapping is the identity). This module maps
every canonical tensor onto a weight of the Keras twin and back, model by model,
without importing PyTorch. Same public functions as the PyTorch side::

    arrays = to_arrays(model)          # canonical names and layouts, float32
    from_arrays(model, arrays)         # ValueError naming a missing/extra/misshaped tensor
    mapping(model)                     # the table below, row by row, for this model
    save(model, path); load(model, path)

Layer rules (``W`` is the PyTorch tensor, ``K`` the Keras weight):

==========================  =====================================  =========================================
PyTorch module              canonical tensors                      Keras weight
==========================  =====================================  =========================================
``Linear``                  ``weight`` (out, in), ``bias``         ``Dense``: ``kernel = W.T`` (in, out), ``bias``
``Conv2d``                  ``weight`` (O, I, kh, kw), ``bias``    ``Conv2D``: ``kernel = W.transpose(2, 3, 1, 0)``
                                                                   (kh, kw, I, O), i.e. OIHW -> HWIO
``ConvTranspose2d``         ``weight`` (I, O, kh, kw), ``bias``    ``Conv2DTranspose``: ``kernel =
                                                                   W.transpose(2, 3, 1, 0)`` (kh, kw, O, I); no
                                                                   kernel flip (both are the adjoint of the
                                                                   same correlation)
``MaskedConv2d`` (PixelCNN) ``weight``, ``bias``, ``mask`` (k, k)  ``MaskedConv2D``: as ``Conv2D``; the mask is
                                                                   a constant of the configuration: checked,
                                                                   not loaded
``BatchNorm1d/2d``          ``weight``, ``bias``,                  ``BatchNormalization``: ``gamma``, ``beta``,
                            ``running_mean``, ``running_var``      ``moving_mean``, ``moving_variance``
                                                                   (``num_batches_tracked`` is not stored)
``LayerNorm``               ``weight``, ``bias``                   ``LayerNormalization``: ``gamma``, ``beta``
``GroupNorm``               ``weight``, ``bias``                   ``GroupNormalization``: ``gamma``, ``beta``
                                                                   (both split channels into contiguous groups)
``Embedding``               ``weight`` (V, E)                      ``Embedding``: ``embeddings`` (V, E)
``LSTM`` layer ``k``        ``weight_ih_lk`` (4H, in),             ``LSTM`` number ``k``: ``kernel = W_ih.T``,
                            ``weight_hh_lk`` (4H, H),              ``recurrent_kernel = W_hh.T``,
                            ``bias_ih_lk``, ``bias_hh_lk`` (4H)    ``bias = b_ih + b_hh``; both use the gate
                                                                   order i, f, g (cell candidate), o, so no
                                                                   reordering. Keras -> PyTorch writes
                                                                   ``b_ih = bias``, ``b_hh = 0`` (the zoo's
                                                                   CharRNN keeps ``b_hh`` frozen at 0)
==========================  =====================================  =========================================

Feature-map layouts: PyTorch flattens an image-shaped tensor as (C, H, W), Keras as
(H, W, C). Where a ``Linear`` reads a flattened feature map (the DCGAN discriminator's
and the WGAN-GP critic's last layer, the conv VAE's encoder head) its input rows are
permuted from CHW to HWC order; where it writes one that is then reshaped (the DCGAN
generator's first layer, the conv VAE's decoder input) its output columns and bias,
and the ``BatchNorm1d`` that follows (DCGAN), are permuted the same way. Single-channel
28x28 images flatten alike in both layouts.

Per model (canonical prefix -> Keras layer):

* ``gan``: ``generator.{0,2,5,8,11}`` Dense, ``generator.{3,6,9}`` BatchNorm;
  ``discriminator.{1,3,5}`` Dense.
* ``dcgan`` / ``wgan_gp``: ``generator.0`` Dense (output CHW -> HWC), ``.1`` BatchNorm
  (CHW -> HWC), ``.4`` Conv2DTranspose, ``.5`` BatchNorm, ``.7`` Conv2DTranspose;
  ``discriminator.{0,2}`` Conv2D, ``.3`` BatchNorm, ``.6`` Dense (input CHW -> HWC);
  the critic: ``critic.{0,2}`` Conv2D, ``critic.5`` Dense (input CHW -> HWC).
* ``cgan``: ``generator.embed`` Embedding + ``generator.net.*`` as the GAN's generator;
  ``discriminator.embed`` Embedding, ``discriminator.net.{0,2,4}`` Dense.
* ``vae``: ``encoder.{1,3,5}``, ``decoder.{0,2,4}`` Dense. ``cvae``: ``encoder.net.{0,2,4}``,
  ``decoder.net.{0,2,4}`` Dense (the one-hot label is concatenated after the pixels,
  as in PyTorch). ``conv_vae``: ``encoder.{0,2}`` Conv2D, ``encoder.5`` Dense (input
  CHW -> HWC); ``decoder.0`` Dense (output CHW -> HWC), ``decoder.{3,5}`` Conv2DTranspose.
* ``char_rnn``: ``embedding``, ``lstm`` (one Keras LSTM per layer), ``head`` Dense.
* ``gpt``: ``wte``, ``wpe`` Embedding; ``blocks.i.ln_1``/``ln_2`` LayerNorm,
  ``blocks.i.attn.c_attn`` Dense (C -> 3C: q, k, v side by side, split in that order,
  heads contiguous within each), ``blocks.i.attn.c_proj``, ``blocks.i.mlp.0`` (Keras
  ``fc``), ``blocks.i.mlp.2`` (``proj``) Dense; ``ln_f``; ``lm_head`` Dense without bias.
* ``pixelcnn``: ``net.{0,2,...,2n}`` MaskedConv2D, ``net.{2n+2}`` the 1x1 Conv2D.
* ``ddpm``: the U-Net (``net.time_mlp.{0,2}``, ``net.conv_in``, ``net.res1``, ``net.down1``,
  ``net.res2``, ``net.down2``, ``net.mid``, ``net.up2``, ``net.res_up2``, ``net.up1``,
  ``net.res_up1``, ``net.norm_out``, ``net.conv_out``; each ResBlock ``norm1``, ``conv1``,
  ``time``, ``norm2``, ``conv2`` and ``skip`` where the width changes) or the MLP
  (``net.time_mlp.{0,2}``, ``net.inp``, ``net.layers.i`` (Keras ``hidden_layers``), ``net.out``);
  with ``ema_decay`` > 0 the moving average follows as ``ema_net.*``, in the same layout.

Same function, not just same shapes: both halves use the same epsilons (1e-5), the
exact (erf) GELU, "same" padding equal to PyTorch's ``padding=1`` (k4/s2) and
``k // 2`` (odd k), LeakyReLU slope 0.2, the same sinusoidal time embedding; the
equality tests (``tests/test_weights.py``) check every model's outputs on both Keras
backends. Sampling noise is drawn from NumPy in both halves (``latent_noise`` for the
GANs and VAEs, ``np.random.default_rng`` in the PixelCNN, DDPM and text samplers), so
the same weights and seed give the same samples in both frameworks; only training
draws from the framework's own generator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from .. import weightfile

__all__ = ["to_arrays", "from_arrays", "mapping", "save", "load"]


@dataclass
class _Entry:
    """Canonical tensors ``names`` <-> one Keras ``variable`` (None: a constant, checked only)."""

    names: tuple
    variable: object
    rule: str
    # (*canonical arrays) -> the variable's value (or None for a constant)
    to_keras: Callable
    to_torch: Callable  # (variable value or None) -> tuple of canonical arrays


def _np(v) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float32)


# ----- feature-map layouts: PyTorch flattens (C, H, W), Keras (H, W, C) --------------------
def _to_hwc(a, axis: int, chw) -> np.ndarray:
    """Reorder ``axis`` (a flattened C*H*W feature map in CHW order) into HWC order."""
    c, h, w = chw
    a = np.moveaxis(a, axis, 0)
    rest = a.shape[1:]
    a = (
        a.reshape(c, h, w, *rest)
        .transpose(1, 2, 0, *range(3, 3 + len(rest)))
        .reshape(c * h * w, *rest)
    )
    return np.moveaxis(a, 0, axis)


def _to_chw(a, axis: int, chw) -> np.ndarray:
    """Inverse of :func:`_to_hwc`."""
    c, h, w = chw
    a = np.moveaxis(a, axis, 0)
    rest = a.shape[1:]
    a = (
        a.reshape(h, w, c, *rest)
        .transpose(2, 0, 1, *range(3, 3 + len(rest)))
        .reshape(c * h * w, *rest)
    )
    return np.moveaxis(a, 0, axis)


def _same(a):
    return a


# ----- layer rules -------------------------------------------------------------------------
def _dense(prefix, layer, in_chw=None, out_chw=None) -> list:
    def to_keras(w):
        if in_chw:
            w = _to_hwc(w, 1, in_chw)
        if out_chw:
            w = _to_hwc(w, 0, out_chw)
        return w.T

    def to_torch(k):
        w = k.T
        if out_chw:
            w = _to_chw(w, 0, out_chw)
        if in_chw:
            w = _to_chw(w, 1, in_chw)
        return (w,)

    rule = (
        "kernel = weight.T"
        + (" (input rows CHW -> HWC)" if in_chw else "")
        + (" (output columns CHW -> HWC)" if out_chw else "")
    )
    out = [_Entry((f"{prefix}.weight",), layer.kernel, rule, to_keras, to_torch)]
    if layer.use_bias:
        if out_chw:
            out.append(
                _Entry(
                    (f"{prefix}.bias",),
                    layer.bias,
                    "bias (CHW -> HWC)",
                    lambda b: _to_hwc(b, 0, out_chw),
                    lambda k: (_to_chw(k, 0, out_chw),),
                )
            )
        else:
            out.append(
                _Entry((f"{prefix}.bias",), layer.bias, "bias", _same, lambda k: (k,))
            )
    return out


def _conv(prefix, layer, transposed: bool = False) -> list:
    rule = (
        "kernel = weight.transpose(2, 3, 1, 0) (IOHW -> HWOI)"
        if transposed
        else "kernel = weight.transpose(2, 3, 1, 0) (OIHW -> HWIO)"
    )
    out = [
        _Entry(
            (f"{prefix}.weight",),
            layer.kernel,
            rule,
            lambda w: w.transpose(2, 3, 1, 0),
            lambda k: (k.transpose(3, 2, 0, 1),),
        )
    ]
    if layer.use_bias:
        out.append(
            _Entry((f"{prefix}.bias",), layer.bias, "bias", _same, lambda k: (k,))
        )
    return out


def _masked_conv(prefix, layer) -> list:
    mask = np.asarray(layer.mask[:, :, 0, 0], np.float32)
    name = f"{prefix}.mask"

    def check(m):
        if not np.array_equal(np.asarray(m, np.float32), mask):
            raise ValueError(
                f"these weights do not fit this model: the kernel mask {name} differs "
                "(the file was written for another kernel size or mask type)"
            )
        return None

    return [
        _Entry(
            (f"{prefix}.weight",),
            layer.kernel,
            "kernel = weight.transpose(2, 3, 1, 0) (OIHW -> HWIO)",
            lambda w: w.transpose(2, 3, 1, 0),
            lambda k: (k.transpose(3, 2, 0, 1),),
        ),
        _Entry((f"{prefix}.bias",), layer.bias, "bias", _same, lambda k: (k,)),
        _Entry(
            (name,),
            None,
            "constant of the configuration: checked, not loaded",
            check,
            lambda _: (mask.copy(),),
        ),
    ]


def _batch_norm(prefix, layer, chw=None) -> list:
    fwd = (lambda a: _to_hwc(a, 0, chw)) if chw else _same
    back = (lambda k: (_to_chw(k, 0, chw),)) if chw else (lambda k: (k,))
    note = " (CHW -> HWC)" if chw else ""
    return [
        _Entry((f"{prefix}.{t}",), getattr(layer, k), f"{k}{note}", fwd, back)
        for t, k in (
            ("weight", "gamma"),
            ("bias", "beta"),
            ("running_mean", "moving_mean"),
            ("running_var", "moving_variance"),
        )
    ]


def _norm(prefix, layer) -> list:
    """LayerNorm / GroupNorm: weight -> gamma, bias -> beta."""
    return [
        _Entry((f"{prefix}.weight",), layer.gamma, "gamma", _same, lambda k: (k,)),
        _Entry((f"{prefix}.bias",), layer.beta, "beta", _same, lambda k: (k,)),
    ]


def _embedding(prefix, layer) -> list:
    return [
        _Entry(
            (f"{prefix}.weight",), layer.embeddings, "embeddings", _same, lambda k: (k,)
        )
    ]


def _lstm(prefix, k, layer) -> list:
    cell = layer.cell
    return [
        _Entry(
            (f"{prefix}.weight_ih_l{k}",),
            cell.kernel,
            "kernel = weight_ih.T (gates i, f, g, o)",
            lambda w: w.T,
            lambda v: (v.T,),
        ),
        _Entry(
            (f"{prefix}.weight_hh_l{k}",),
            cell.recurrent_kernel,
            "recurrent_kernel = weight_hh.T (gates i, f, g, o)",
            lambda w: w.T,
            lambda v: (v.T,),
        ),
        _Entry(
            (f"{prefix}.bias_ih_l{k}", f"{prefix}.bias_hh_l{k}"),
            cell.bias,
            "bias = bias_ih + bias_hh (back: bias_ih = bias, bias_hh = 0)",
            lambda b_ih, b_hh: b_ih + b_hh,
            lambda v: (v, np.zeros_like(v)),
        ),
    ]


# ----- finding the layers of each model ------------------------------------------------------
def _weighted(container, where: str, expected: tuple) -> list:
    """The layers of ``container`` that hold weights, in order, checked against ``expected`` types."""
    found = [layer for layer in container.layers if layer.weights]
    names = tuple(type(layer).__name__ for layer in found)
    if names != tuple(expected):
        raise ValueError(
            f"{where}: expected layers {expected}, found {names}: the Keras model "
            "changed and aigc_course.keras.weights must be updated with it"
        )
    return found


def _only(container, cls, where: str):
    found = [layer for layer in container.layers if isinstance(layer, cls)]
    if len(found) != 1:
        raise ValueError(
            f"{where}: expected one {cls.__name__} layer, found {len(found)}"
        )
    return found[0]


def _mlp_generator(prefix, seq) -> list:
    d, bn = "Dense", "BatchNormalization"
    ls = _weighted(seq, prefix, (d, d, bn, d, bn, d, bn, d))
    out = []
    for i, layer in zip((0, 2, 3, 5, 6, 8, 9, 11), ls):
        out += (
            _dense(f"{prefix}.{i}", layer)
            if isinstance(layer, layers.Dense)
            else _batch_norm(f"{prefix}.{i}", layer)
        )
    return out


def _gan(m) -> list:
    ls = _weighted(m.discriminator, "discriminator", ("Dense",) * 3)
    return _mlp_generator("generator", m.generator) + [
        e
        for i, layer in zip((1, 3, 5), ls)
        for e in _dense(f"discriminator.{i}", layer)
    ]


def _dcgan_generator(prefix, seq) -> list:
    dense, bn1, ct1, bn2, ct2 = _weighted(
        seq,
        prefix,
        (
            "Dense",
            "BatchNormalization",
            "Conv2DTranspose",
            "BatchNormalization",
            "Conv2DTranspose",
        ),
    )
    chw = (int(ct1.kernel.shape[3]), 7, 7)  # the (2c, 7, 7) map the first layer writes
    return (
        _dense(f"{prefix}.0", dense, out_chw=chw)
        + _batch_norm(f"{prefix}.1", bn1, chw)
        + _conv(f"{prefix}.4", ct1, transposed=True)
        + _batch_norm(f"{prefix}.5", bn2)
        + _conv(f"{prefix}.7", ct2, transposed=True)
    )


def _dcgan_discriminator(prefix, seq, batch_norm: bool) -> list:
    if batch_norm:
        c1, c2, bn, dense = _weighted(
            seq, prefix, ("Conv2D", "Conv2D", "BatchNormalization", "Dense")
        )
        chw = (int(c2.kernel.shape[3]), 7, 7)
        return (
            _conv(f"{prefix}.0", c1)
            + _conv(f"{prefix}.2", c2)
            + _batch_norm(f"{prefix}.3", bn)
            + _dense(f"{prefix}.6", dense, in_chw=chw)
        )
    c1, c2, dense = _weighted(seq, prefix, ("Conv2D", "Conv2D", "Dense"))
    chw = (int(c2.kernel.shape[3]), 7, 7)
    return (
        _conv(f"{prefix}.0", c1)
        + _conv(f"{prefix}.2", c2)
        + _dense(f"{prefix}.5", dense, in_chw=chw)
    )


def _dcgan(m) -> list:
    return _dcgan_generator("generator", m.generator) + _dcgan_discriminator(
        "discriminator", m.discriminator, batch_norm=True
    )


def _wgan_gp(m) -> list:
    return _dcgan_generator("generator", m.generator) + _dcgan_discriminator(
        "critic", m.critic, batch_norm=False
    )


def _cgan(m) -> list:
    g, d = m.generator, m.discriminator
    dense = _weighted(d, "discriminator", ("Embedding", "Dense", "Dense", "Dense"))[1:]
    return (
        _embedding("generator.embed", _only(g, layers.Embedding, "generator"))
        + _mlp_generator("generator.net", _only(g, keras.Sequential, "generator"))
        + _embedding("discriminator.embed", _only(d, layers.Embedding, "discriminator"))
        + [
            e
            for i, layer in zip((0, 3, 6), dense)
            for e in _dense(f"discriminator.net.{i}", layer)
        ]
    )


def _vae(m) -> list:
    enc = _weighted(m.encoder, "encoder", ("Dense",) * 3)
    dec = _weighted(m.decoder, "decoder", ("Dense",) * 3)
    return [
        e for i, layer in zip((1, 3, 5), enc) for e in _dense(f"encoder.{i}", layer)
    ] + [e for i, layer in zip((0, 2, 4), dec) for e in _dense(f"decoder.{i}", layer)]


def _conv_vae(m) -> list:
    c1, c2, head = _weighted(m.encoder, "encoder", ("Conv2D", "Conv2D", "Dense"))
    dense, t1, t2 = _weighted(
        m.decoder, "decoder", ("Dense", "Conv2DTranspose", "Conv2DTranspose")
    )
    enc_chw = (int(c2.kernel.shape[3]), 7, 7)
    dec_chw = (int(t1.kernel.shape[3]), 7, 7)
    return (
        _conv("encoder.0", c1)
        + _conv("encoder.2", c2)
        + _dense("encoder.5", head, in_chw=enc_chw)
        + _dense("decoder.0", dense, out_chw=dec_chw)
        + _conv("decoder.3", t1, transposed=True)
        + _conv("decoder.5", t2, transposed=True)
    )


def _cvae(m) -> list:
    enc = _weighted(m.encoder, "encoder", ("Dense",) * 3)
    dec = _weighted(m.decoder, "decoder", ("Dense",) * 3)
    return [
        e for i, layer in zip((0, 2, 4), enc) for e in _dense(f"encoder.net.{i}", layer)
    ] + [
        e for i, layer in zip((0, 2, 4), dec) for e in _dense(f"decoder.net.{i}", layer)
    ]


def _char_rnn(m) -> list:
    out = _embedding("embedding", m.embedding)
    for k, lstm in enumerate(m.lstms):
        out += _lstm("lstm", k, lstm)
    return out + _dense("head", m.head)


def _gpt(m) -> list:
    out = _embedding("wte", m.wte) + _embedding("wpe", m.wpe)
    for i, b in enumerate(m.blocks):
        p = f"blocks.{i}"
        out += (
            _norm(f"{p}.ln_1", b.ln_1)
            + _dense(f"{p}.attn.c_attn", b.attn.c_attn)
            + _dense(f"{p}.attn.c_proj", b.attn.c_proj)
            + _norm(f"{p}.ln_2", b.ln_2)
            + _dense(f"{p}.mlp.0", b.fc)
            + _dense(f"{p}.mlp.2", b.proj)
        )
    return out + _norm("ln_f", m.ln_f) + _dense("lm_head", m.lm_head)


def _pixelcnn(m) -> list:
    n = m.n_layers
    ls = _weighted(m.net, "net", ("MaskedConv2D",) * (n + 1) + ("Conv2D",))
    out = []
    for i, layer in enumerate(ls[:-1]):
        out += _masked_conv(f"net.{2 * i}", layer)
    return out + _conv(f"net.{2 * (n + 1)}", ls[-1])


def _res_block(prefix, rb) -> list:
    out = (
        _norm(f"{prefix}.norm1", rb.norm1)
        + _conv(f"{prefix}.conv1", rb.conv1)
        + _dense(f"{prefix}.time", rb.time)
        + _norm(f"{prefix}.norm2", rb.norm2)
        + _conv(f"{prefix}.conv2", rb.conv2)
    )
    return out + (_conv(f"{prefix}.skip", rb.skip) if rb.skip is not None else [])


def _denoiser(p, net, is_image: bool) -> list:
    t0, t1 = _weighted(net.time_mlp, f"{p}.time_mlp", ("Dense", "Dense"))
    out = _dense(f"{p}.time_mlp.0", t0) + _dense(f"{p}.time_mlp.2", t1)
    if not is_image:
        out += _dense(f"{p}.inp", net.inp)
        for i, layer in enumerate(net.hidden_layers):
            out += _dense(f"{p}.layers.{i}", layer)
        return out + _dense(f"{p}.out", net.out)
    out += _conv(f"{p}.conv_in", net.conv_in) + _res_block(f"{p}.res1", net.res1)
    out += _conv(f"{p}.down1", net.down1) + _res_block(f"{p}.res2", net.res2)
    out += _conv(f"{p}.down2", net.down2) + _res_block(f"{p}.mid", net.mid)
    out += _conv(f"{p}.up2", net.up2, transposed=True)
    out += _res_block(f"{p}.res_up2", net.res_up2)
    out += _conv(f"{p}.up1", net.up1, transposed=True)
    out += _res_block(f"{p}.res_up1", net.res_up1)
    return (
        out
        + _norm(f"{p}.norm_out", net.norm_out)
        + _conv(f"{p}.conv_out", net.conv_out)
    )


def _ddpm(m) -> list:
    out = _denoiser("net", m.net, m.is_image)
    if m.ema_net is not None:  # the moving average: the same layout under ema_net.*
        out += _denoiser("ema_net", m.ema_net, m.is_image)
    return out


_SPECS = {
    "GAN": _gan,
    "DCGAN": _dcgan,
    "WGAN_GP": _wgan_gp,
    "CGAN": _cgan,
    "VAE": _vae,
    "ConvVAE": _conv_vae,
    "CVAE": _cvae,
    "CharRNN": _char_rnn,
    "GPT": _gpt,
    "PixelCNN": _pixelcnn,
    "DDPM": _ddpm,
}


def _spec(model) -> list:
    builder = _SPECS.get(type(model).__name__)
    if builder is None:
        raise ValueError(
            f"model: expected a Keras model of the zoo ({', '.join(_SPECS)}), got {type(model).__name__}"
        )
    entries = builder(model)
    covered = {id(e.variable) for e in entries if e.variable is not None}
    left = [v.path for v in model.weights if id(v) not in covered]
    if left or len(covered) != sum(e.variable is not None for e in entries):
        raise ValueError(
            f"{type(model).__name__}: the weight mapping does not cover "
            f"{left or 'each weight exactly once'}; update aigc_course.keras.weights"
        )
    return entries


# ----- public API ----------------------------------------------------------------------------
def to_arrays(model) -> dict[str, np.ndarray]:
    """The model's weights as NumPy float32 arrays in the canonical (PyTorch) names and layouts."""
    out = {}
    for e in _spec(model):
        values = e.to_torch(None if e.variable is None else _np(e.variable))
        for name, value in zip(e.names, values):
            out[name] = np.ascontiguousarray(value, dtype=np.float32)
    return out


def from_arrays(model, arrays: dict):
    """Load canonical arrays (float32 or float16) into the Keras ``model`` in place; return it.

    Every canonical tensor of the model must be given, with its shape, and nothing
    else: otherwise a ValueError names the missing, unexpected or wrong-shaped
    tensors. Nothing is assigned unless every tensor converts.
    """
    entries = _spec(model)
    expected = to_arrays(model)
    weightfile.check_arrays(expected, arrays, f"this {type(model).__name__}")
    updates = []
    for e in entries:
        value = e.to_keras(*(np.asarray(arrays[n], np.float32) for n in e.names))
        if e.variable is None:
            continue
        # a bug in a rule, never the file's fault
        if tuple(value.shape) != tuple(e.variable.shape):
            raise ValueError(
                f"{', '.join(e.names)} -> {e.variable.path}: converted shape "
                f"{value.shape}, the weight is {tuple(e.variable.shape)}"
            )
        updates.append((e.variable, value))
    for variable, value in updates:
        variable.assign(value.astype(keras.backend.standardize_dtype(variable.dtype)))
    return model


def mapping(model) -> list[dict]:
    """One row per canonical tensor: ``{"name", "shape", "framework_name", "framework_shape",
    "rule"}`` (``framework_name`` is the Keras weight's path, None for a checked constant)."""
    arrays = to_arrays(model)
    rows = []
    for e in _spec(model):
        for name in e.names:
            rows.append(
                {
                    "name": name,
                    "shape": tuple(arrays[name].shape),
                    "framework_name": None if e.variable is None else e.variable.path,
                    "framework_shape": None
                    if e.variable is None
                    else tuple(e.variable.shape),
                    "rule": e.rule,
                }
            )
    return rows


def save(model, path, dtype: str = "float32", metadata: dict | None = None):
    """Write the model's weights to a safetensors file (see :func:`aigc_course.weightfile.write`)."""
    return weightfile.write(
        path, to_arrays(model), model=model, dtype=dtype, metadata=metadata
    )


def load(model, path):
    """Load a safetensors weight file (written by either framework) into ``model``; return it.

    The file's recorded model class and configuration are checked against ``model``
    first (:func:`aigc_course.weightfile.check_model`).
    """
    arrays, meta = weightfile.read(path)
    weightfile.check_model(meta, model, path)
    return from_arrays(model, arrays)
