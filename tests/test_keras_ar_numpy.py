"""The NumPy Transformer block and PixelCNN masks of aigc_course.ar_numpy against Keras's."""

import numpy as np
import pytest

pytestmark = pytest.mark.keras

keras = pytest.importorskip("keras")

from aigc_course import ar_numpy as ar
from aigc_course.keras.autoregressive import GPT, Block, MaskedConv2D, PixelCNN


def test_keras_block_matches_numpy_block():
    rng = np.random.default_rng(0)
    C, nh, T = 16, 4, 5
    params = ar.init_block(C, rng, std=0.3)
    params["ln_2"] = (1 + 0.1 * rng.normal(size=C), 0.1 * rng.normal(size=C))
    params["mlp"] = tuple(
        a + 0.1 * rng.normal(size=a.shape) if a.ndim == 1 else a for a in params["mlp"]
    )
    blk = Block(C, nh)
    x = rng.normal(size=(2, T, C)).astype("float32")
    blk(x)  # build
    blk.ln_1.gamma.assign(params["ln_1"][0])
    blk.ln_1.beta.assign(params["ln_1"][1])
    blk.ln_2.gamma.assign(params["ln_2"][0])
    blk.ln_2.beta.assign(params["ln_2"][1])
    w_qkv, b_qkv, w_p, b_p = params["attn"]
    blk.attn.c_attn.kernel.assign(w_qkv)
    blk.attn.c_attn.bias.assign(b_qkv)
    blk.attn.c_proj.kernel.assign(w_p)
    blk.attn.c_proj.bias.assign(b_p)
    w_fc, b_fc, w_out, b_out = params["mlp"]
    blk.fc.kernel.assign(w_fc)
    blk.fc.bias.assign(b_fc)
    blk.proj.kernel.assign(w_out)
    blk.proj.bias.assign(b_out)
    assert (
        sum(int(np.prod(v.shape)) for v in blk.trainable_weights) == 12 * C * C + 13 * C
    )
    got = keras.ops.convert_to_numpy(blk(x))
    np.testing.assert_allclose(got, ar.transformer_block(x, params, nh), atol=2e-5)


def test_keras_gpt_logits_are_causal():
    m = GPT(11, block_size=8, n_layer=1, n_head=2, n_embd=8)
    ids = np.random.default_rng(0).integers(0, 11, (2, 8))
    changed = ids.copy()
    changed[:, 5:] = (changed[:, 5:] + 3) % 11
    np.testing.assert_allclose(
        m.logits(changed)[:, :5], m.logits(ids)[:, :5], atol=1e-6
    )
    assert not np.allclose(m.logits(changed)[:, 5:], m.logits(ids)[:, 5:])


def test_keras_masks_and_pixelcnn_field():
    for k in (3, 7):
        for t in "AB":
            np.testing.assert_array_equal(
                ar.pixelcnn_mask(k, t), MaskedConv2D(1, k, t).mask[:, :, 0, 0]
            )
    m = PixelCNN(hidden=4, n_layers=1)
    rng = np.random.default_rng(0)
    for v in m.trainable_weights:  # positive weights: every ReLU stays open
        v.assign(np.abs(rng.normal(size=v.shape)) + 0.01)
    # image 0 blank, image 1 + p: pixel p switched on
    x = np.zeros((785, 28, 28), np.float32)
    x[1 + np.arange(784), np.arange(784) // 28, np.arange(784) % 28] = 1.0
    logits = m.logits(x)[:, 12, 3]
    depends = (np.abs(logits[1:] - logits[0]) > 1e-6).reshape(28, 28)
    np.testing.assert_array_equal(
        depends, ar.receptive_field([(7, "A"), (3, "B")], (28, 28), (12, 3))
    )
