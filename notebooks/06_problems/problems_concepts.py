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
# # Common problems and their fixes: the concepts
#
# Generative models fail to train in a small number of recurring ways: the loss
# explodes to `nan`, nothing happens for hours, the samples are copies of the training
# set, or the model reproduces the flaws of its data with great fidelity. Each has a
# **symptom** you can measure, a **cause** you can understand on a small example, and
# a **fix**. This notebook works through them in NumPy, small enough to see every
# number; the labs ({doc}`PyTorch <problems_pytorch>`, {doc}`Keras <problems_keras>`)
# meet the same problems in real training, and add the engineering ones: mixed
# precision, input pipelines and training on several devices.
#
# You will
#
# 1. watch gradients **vanish** and **explode** in a deep network and in a recurrent
#    network, and clip them,
# 2. derive the **Glorot** and **He** initialisations from one idea, keeping the variance
#    of the signal constant, and check them numerically,
# 3. tune the **learning rate** with a stability limit you can compute, search
#    hyperparameters at random rather than on a grid, and grow the **batch size**
#    during training instead of decaying the learning rate,
# 4. detect **overfitting** and **memorisation** in a generative model, with held-out
#    likelihood and with each sample's nearest training neighbour,
# 5. see how **duplicates**, **label noise** and **class imbalance** in the data show up
#    in what a model generates,
# 6. collect everything in one table: symptom, cause, fix.

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
import matplotlib.pyplot as plt
import numpy as np

from aigc_course import is_fast, pick, set_seed
from aigc_course.data import load_mnist, random_subset, ring_centers
from aigc_course.metrics import mode_counts, nearest_neighbours
from aigc_course.plotting import show_images
from aigc_course.toy_gan import ToyGAN

set_seed(0)
print(f"NumPy {np.__version__}; fast mode: {is_fast()}")

# %% [markdown]
# ## 1. Vanishing and exploding gradients
#
# A deep network is a composition. With pre-activations $a_l = h_{l-1} W_l$ and
# activations $h_l = \phi(a_l)$, $l = 1, \dots, L$, the chain rule gives the gradient at
# layer $l - 1$ from the one at layer $l$:
#
# $$
# \frac{\partial \mathcal L}{\partial h_{l-1}}
# = \Big(\frac{\partial \mathcal L}{\partial h_l} \odot \phi'(a_l)\Big) W_l^{\top},
# \qquad
# \frac{\partial \mathcal L}{\partial W_l} = h_{l-1}^{\top} \Big(\frac{\partial \mathcal L}{\partial h_l} \odot \phi'(a_l)\Big).
# $$
#
# Going down from the output, the gradient is multiplied by one factor per layer,
# "size of $W$ times size of $\phi'$". If that factor is typically below 1, the gradient
# shrinks geometrically with depth: **vanishing gradients** (梯度消失), and the first
# layers barely learn. Above 1 it grows geometrically: **exploding gradients**
# (梯度爆炸), and one step throws the weights far away (the loss becomes `inf`, then
# `nan`). The sigmoid makes vanishing almost certain, because
# $\sigma'(a) = \sigma(a)(1 - \sigma(a)) \le \tfrac14$ {cite}`glorot2010understanding`.
#
# Here is that network in NumPy, forward and backward. The loss is linear in the output,
# $\mathcal L = \sum_{ij} G_{ij} (h_L)_{ij}$ with a fixed random $G$: its gradient at the
# output has the same size for every network, so whatever happens further down is the
# network's doing. First we check the hand-written backward pass against finite
# differences.

# %%
def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


ACTIVATIONS = {  # name: (phi, phi')
    "sigmoid": (sigmoid, lambda a: sigmoid(a) * (1.0 - sigmoid(a))),
    "tanh": (np.tanh, lambda a: 1.0 - np.tanh(a) ** 2),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a: (a > 0).astype(a.dtype)),
}


def forward(x, weights, act):
    """Activations [h_0 = x, h_1, ..., h_L] and pre-activations [a_1, ..., a_L]."""
    phi, _ = ACTIVATIONS[act]
    hs, pre = [x], []
    for W in weights:
        pre.append(hs[-1] @ W)
        hs.append(phi(pre[-1]))
    return hs, pre


def backward(hs, pre, weights, act, grad_out):
    """dL/dW_l and dL/dh_{l-1} for every layer l, given dL/dh_L = grad_out."""
    _, dphi = ACTIVATIONS[act]
    grad_w, grad_h, g = [None] * len(weights), [None] * len(weights), grad_out
    for l in reversed(range(len(weights))):
        g_pre = g * dphi(pre[l])  # dL/da_l
        # dL/dW_l  (hs[l] is the layer's input h_{l-1})
        grad_w[l] = hs[l].T @ g_pre
        g = g_pre @ weights[l].T  # dL/dh_{l-1}
        grad_h[l] = g
    return grad_w, grad_h


rng = np.random.default_rng(0)
small = [rng.standard_normal((6, 6)) * 0.5 for _ in range(4)]
x_small, G_small = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
for act in ACTIVATIONS:
    hs, pre = forward(x_small, small, act)
    grad_w, _ = backward(hs, pre, small, act, G_small)
    worst = 0.0
    for l, (i, j) in [(0, (1, 2)), (2, (3, 0)), (3, (5, 5))]:
        # bound now: called within this iteration
        def loss_at(delta, l=l, i=i, j=j, act=act):
            ws = [w.copy() for w in small]
            ws[l][i, j] += delta
            return np.sum(G_small * forward(x_small, ws, act)[0][-1])

        finite_diff = (loss_at(1e-6) - loss_at(-1e-6)) / 2e-6
        worst = max(worst, abs(finite_diff - grad_w[l][i, j]))
    print(f"{act:>7}: max |finite difference - backward| = {worst:.1e}")
    assert worst < 1e-6

# %% [markdown]
# Now a deep one: 30 layers of 128 units, fed a batch of standard normal inputs, with
# two activations and several initialisations (the scale of the random weights; section 2
# explains where "Glorot" and "He" come from). For each layer we measure the size of
# the signal going up (the root mean square of $a_l$) and of the gradient with respect
# to the weights, $\lVert \partial \mathcal L / \partial W_l \rVert$.

# %%
DEPTH, WIDTH, BATCH = 30, 128, 256
x = rng.standard_normal((BATCH, WIDTH))
G = rng.standard_normal((BATCH, WIDTH)) / BATCH
CONFIGS = {  # label: (activation, standard deviation of the weights)
    "sigmoid, Glorot": ("sigmoid", np.sqrt(1 / WIDTH)),
    "tanh, Glorot": ("tanh", np.sqrt(1 / WIDTH)),
    "ReLU, N(0, 0.05²)": ("relu", 0.05),
    "ReLU, He": ("relu", np.sqrt(2 / WIDTH)),
    "ReLU, N(0, 1)": ("relu", 1.0),
}
signal, grads = {}, {}
for name, (act, std) in CONFIGS.items():
    weights = [rng.standard_normal((WIDTH, WIDTH)) * std for _ in range(DEPTH)]
    hs, pre = forward(x, weights, act)
    grad_w, _ = backward(hs, pre, weights, act, G)
    signal[name] = np.array([np.sqrt(np.mean(a**2)) for a in pre])
    grads[name] = np.array([np.linalg.norm(g) for g in grad_w])
    print(
        f"{name:>18}: |dL/dW| at layer 1 = {grads[name][0]:8.1e}, at layer {DEPTH} = "
        f"{grads[name][-1]:8.1e}  (ratio {grads[name][0] / grads[name][-1]:.1e})"
    )

layers = np.arange(1, DEPTH + 1)
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for name in CONFIGS:
    axes[0].semilogy(layers, signal[name], marker=".", label=name)
    axes[1].semilogy(layers, grads[name], marker=".", label=name)
axes[0].set_title("Forward: size of the pre-activations")
axes[0].set_ylabel(r"RMS of $a_l$ (log scale)")
axes[1].set_title("Backward: size of the weight gradients")
axes[1].set_ylabel(r"$\|\partial \mathcal{L} / \partial W_l\|$ (log scale)")
for ax in axes:
    ax.set_xlabel("layer $l$ (1 = next to the input)")
    ax.grid(alpha=0.3)
axes[1].legend(fontsize=8)
plt.show()

# vanishes
assert grads["sigmoid, Glorot"][0] < 1e-6 * grads["sigmoid, Glorot"][-1]
# stays put
assert 0.2 < grads["ReLU, He"][0] / grads["ReLU, He"][-1] < 5
# explodes
assert grads["ReLU, N(0, 1)"].min() > 1e20 * grads["ReLU, He"].max()

# %% [markdown]
# Read the right panel from right (output) to left (input):
#
# * **Sigmoid** loses a factor of several per layer: the first layer's gradient is the
#   printed ratio, many orders of magnitude, smaller than the last one's. Those layers
#   do not learn. **tanh** with the same weights loses much less, because
#   $\tanh'(0) = 1$ where $\sigma'(0) = \tfrac14$.
# * **ReLU** behaves differently: its weight gradients have the *same* size at every
#   layer (the signal going up and the gradient coming down change by reciprocal
#   factors), but that common size depends on the initialisation to the power of the
#   depth. Too small a scale, and every gradient is tiny; $\mathcal N(0, 1)$, and
#   every gradient is astronomically large, while the signal going up (left panel)
#   grows by the same factor per layer. With **He** initialisation, signal and gradients
#   keep their size.
#
# ### Recurrent networks
#
# A recurrent network applies the *same* matrix at every time step,
# $h_t = \phi(W h_{t-1} + U x_t)$, so the effect of $h_t$ on $h_T$ is a product of $T - t$
# Jacobians $\partial h_k / \partial h_{k-1} = \operatorname{diag}(\phi'(\cdot))\, W$
# {cite}`bengio1994learning,pascanu2013difficulty`. For a linear network
# ($\phi = $ identity) it is exactly $W^{T-t}$. Take $W = \rho\, Q$ with $Q$ orthogonal:
# then $\lVert W^k \rVert_2 = \rho^k$, which vanishes for $\rho < 1$ and explodes for
# $\rho > 1$. With $\tanh$, $|\phi'| \le 1$, so $\rho^k$ is an upper bound: when the
# largest singular value of $W$ is below 1, gradients through time *must* vanish
# {cite}`pascanu2013difficulty`. We check both statements.

# %%
H, T = 64, 60
Q, _ = np.linalg.qr(rng.standard_normal((H, H)))  # a random orthogonal matrix
steps = np.arange(1, T + 1)
through_time = {}
for rho in (0.9, 1.0, 1.1):
    W = rho * Q
    for kind in ("linear", "tanh"):
        h, J, norms = rng.standard_normal(H), np.eye(H), []
        for _ in range(T):
            h = W @ h + 0.5 * rng.standard_normal(H)  # input U x_t: random drive
            if kind == "tanh":
                h = np.tanh(h)
                # d h_k / d h_0, by the chain rule
                J = np.diag(1 - h**2) @ W @ J
            else:
                J = W @ J
            norms.append(np.linalg.norm(J, 2))  # spectral norm
        through_time[rho, kind] = np.array(norms)
    # exactly rho^k
    assert np.allclose(through_time[rho, "linear"], rho**steps)
    # bounded by rho^k
    assert np.all(through_time[rho, "tanh"] <= rho**steps * (1 + 1e-9))
    print(
        f"rho = {rho}: after {T} steps, linear {through_time[rho, 'linear'][-1]:.2e} "
        f"(rho^{T} = {rho**T:.2e}), tanh {through_time[rho, 'tanh'][-1]:.2e}"
    )

fig, ax = plt.subplots(figsize=(7, 4))
for (rho, kind), norms in through_time.items():
    ax.semilogy(
        steps,
        norms,
        ls="-" if kind == "linear" else "--",
        color={0.9: "tab:blue", 1.0: "tab:gray", 1.1: "tab:red"}[rho],
        label=rf"$\rho = {rho}$, {kind}",
    )
ax.set_title(r"How much $h_0$ still affects $h_k$: $\|\partial h_k / \partial h_0\|_2$")
ax.set_xlabel("time steps $k$")
ax.set_ylabel("spectral norm (log scale)")
ax.legend(fontsize=8, ncol=2)
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# The linear curves follow $\rho^k$ exactly. The tanh curves stay below them, and here
# even $\rho = 1.1$ vanishes: with this random drive many units are saturated, where
# $\tanh' \approx 0$. (Exploding gradients in tanh RNNs come from weights large enough to
# beat the saturation, or from inputs that keep the units in their linear range.)
#
# Vanishing gradients through time are why plain RNNs cannot learn long-range
# dependencies; the gated cells of the LSTM {cite}`hochreiter1997lstm` (used by the
# course's `CharRNN`) were designed to keep a path along which the gradient is not
# multiplied by a shrinking factor. In deep feed-forward networks the same role is
# played by residual connections {cite}`he2016deep` and normalisation layers
# {cite}`ioffe2015batchnorm`.
#
# (problems-concepts-clipping)=
# ### Gradient clipping
#
# Exploding gradients have a blunt and effective fix: if the gradient $g$ (all the
# parameters' gradients, stacked into one vector) is longer than a threshold $c$,
# shrink it to length $c$ before the update {cite}`pascanu2013difficulty`:
#
# $$
# g \;\leftarrow\; g \cdot \min\!\Big(1, \frac{c}{\lVert g \rVert}\Big).
# $$
#
# This is **clipping by the global norm** (梯度裁剪): the direction is kept and only the
# step length is bounded. Clipping each *component* to $[-c, c]$ instead changes the
# direction. And the factor $\min(1, c / \lVert g \rVert)$ is at most 1: clipping only ever
# shrinks a gradient, so it does nothing against *vanishing* gradients, although the
# source articles recommend it for both ({doc}`../../book/errata`); those need the
# initialisation of section 2, normalisation layers, residual connections or gated
# recurrent cells. Both claims, checked:

# %%
def clip_by_global_norm(grads, c):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    return [g * min(1.0, c / norm) for g in grads], norm


def cosine(u, v):
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


# one large, one small
grads_demo = [rng.standard_normal((4, 3)) * 10, rng.standard_normal(3) * 0.1]
flat = np.concatenate([g.ravel() for g in grads_demo])
for c in (1.0, 1e3):
    clipped, norm = clip_by_global_norm(grads_demo, c)
    flat_clipped = np.concatenate([g.ravel() for g in clipped])
    print(
        f"c = {c:g}: |g| = {norm:.2f} -> {np.linalg.norm(flat_clipped):.2f};  "
        f"cosine with the original direction: {cosine(flat, flat_clipped):.6f}"
    )
    assert np.isclose(np.linalg.norm(flat_clipped), min(norm, c))
    assert np.isclose(cosine(flat, flat_clipped), 1.0)
by_value = np.clip(flat, -1.0, 1.0)
print(
    f"clipping each component to [-1, 1] instead: cosine {cosine(flat, by_value):.3f}"
)

# %% [markdown]
# Clipping treats the symptom; it does not make a vanishing gradient larger, and a
# threshold far below the typical norm turns the optimiser into a fixed-step method.
# A common practice is to log the gradient norm for a while and set $c$ above its
# typical value, so that only the spikes are clipped; the labs log and clip the
# gradients of a real model.
#
# ## 2. Initialisation: keep the variance constant
#
# Section 1's curves depend on the scale of the random initial weights. Glorot and
# Bengio {cite}`glorot2010understanding` chose it so that the signal keeps its variance
# from layer to layer. Take one layer $y = x W$ with $n_{\text{in}}$ inputs, weights
# $W_{ji}$ independent with mean 0 and variance $\sigma^2$, independent of inputs $x_j$ with
# mean 0 and second moment $\mathbb E[x_j^2] = v$. Then every output has
#
# $$
# \operatorname{Var}(y_i) = \sum_{j=1}^{n_{\text{in}}} \mathbb E[W_{ji}^2]\, \mathbb E[x_j^2]
#                       = n_{\text{in}}\, \sigma^2\, v .
# $$
#
# * **Forward**: the variance is kept when $\sigma^2 = 1/n_{\text{in}}$ (for an activation
#   that is close to the identity around 0, such as $\tanh$).
# * **Backward**: the same argument for $\partial \mathcal L / \partial x = (\partial \mathcal L / \partial y) W^\top$
#   gives $\operatorname{Var}(\partial \mathcal L / \partial x_j) = n_{\text{out}} \sigma^2 \operatorname{Var}(\partial \mathcal L / \partial y_i)$,
#   kept when $\sigma^2 = 1/n_{\text{out}}$.
# * **Glorot (Xavier)** initialisation (Glorot 初始化) compromises:
#   $\sigma^2 = 2 / (n_{\text{in}} + n_{\text{out}})$, usually drawn uniformly from $[-a, a]$ with
#   $a = \sqrt{6 / (n_{\text{in}} + n_{\text{out}})}$, since $\operatorname{Var}(U[-a, a]) = a^2/3$.
# * **He (Kaiming)** initialisation (He 初始化) {cite}`he2015delving`: a ReLU zeroes half of a
#   symmetric input, so $\mathbb E[\mathrm{relu}(y)^2] = \tfrac12 \operatorname{Var}(y)$, and the next
#   layer's pre-activation has variance $n_{\text{in}} \sigma^2 \cdot \tfrac12 \operatorname{Var}(y)$: it is
#   kept when $\sigma^2 = 2 / n_{\text{in}}$.
#
# Each of these identities, checked by Monte Carlo:

# %%
n_in, n_out, N = 300, 200, 20000
v = 2.25
x_mc = rng.standard_normal((N, n_in)) * np.sqrt(v)
sigma = 0.07
W = rng.standard_normal((n_in, n_out)) * sigma
y = x_mc @ W
checks = {
    "Var(y) = n_in sigma^2 v": (y.var(axis=0).mean(), n_in * sigma**2 * v),
    "E[relu(y)^2] = Var(y) / 2": (np.mean(np.maximum(y, 0) ** 2), y.var() / 2),
}
# a gradient arriving at y
g_y = rng.standard_normal((N, n_out)) * 1.3
g_x = g_y @ W.T
checks["Var(dL/dx) = n_out sigma^2 Var(dL/dy)"] = (
    g_x.var(axis=0).mean(),
    n_out * sigma**2 * 1.3**2,
)
a = np.sqrt(6 / (n_in + n_out))
checks["Var(U[-a, a]) = 2 / (n_in + n_out)"] = (
    rng.uniform(-a, a, 10**6).var(),
    2 / (n_in + n_out),
)
for name, (measured, formula) in checks.items():
    print(f"{name:>38}: measured {measured:.5f}, formula {formula:.5f}")
    assert abs(measured / formula - 1) < 0.03, name

# %% [markdown]
# And across depth: the variance of the pre-activations through 50 layers of 256
# units. The formulas predict a factor per layer of $n \sigma^2 \cdot \tfrac12 = 1$ for ReLU with He,
# $\tfrac12$ for ReLU with Glorot (which was derived for $\tanh$), and $n/2 = 128$ for ReLU with
# $\mathcal N(0, 1)$.

# %%
def preactivation_variance(act, std, depth=50, width=256, n=512, seed=0):
    r = np.random.default_rng(seed)
    h = r.standard_normal((n, width))
    phi = ACTIVATIONS[act][0]
    out = []
    for _ in range(depth):
        a_l = h @ (r.standard_normal((width, width)) * std)
        out.append(a_l.var())
        h = phi(a_l)
    return np.array(out)


WIDE = 256
depth_runs = {
    "ReLU, He: σ² = 2/n": preactivation_variance("relu", np.sqrt(2 / WIDE)),
    "ReLU, Glorot: σ² = 1/n": preactivation_variance("relu", np.sqrt(1 / WIDE)),
    "tanh, Glorot: σ² = 1/n": preactivation_variance("tanh", np.sqrt(1 / WIDE)),
    "ReLU, N(0, 1)": preactivation_variance("relu", 1.0),
}
for name, var in depth_runs.items():
    # geometric mean ratio per layer
    factor = np.exp(np.mean(np.diff(np.log(var))))
    print(
        f"{name:>24}: variance at layer 1 {var[0]:.3g}, at layer 50 {var[-1]:.3g}; "
        f"mean factor per layer {factor:.3f}"
    )
ratio = lambda name: np.exp(np.mean(np.diff(np.log(depth_runs[name]))))
assert abs(ratio("ReLU, He: σ² = 2/n") - 1) < 0.05
assert abs(ratio("ReLU, Glorot: σ² = 1/n") - 0.5) < 0.03
assert abs(ratio("ReLU, N(0, 1)") / (WIDE / 2) - 1) < 0.1

fig, ax = plt.subplots(figsize=(7, 4))
for name, var in depth_runs.items():
    ax.semilogy(np.arange(1, 51), var, marker=".", label=name)
ax.set_title("Variance of the pre-activations across depth")
ax.set_xlabel("layer")
ax.set_ylabel("Var($a_l$) (log scale)")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# The frameworks' defaults differ: Keras's `Dense` uses Glorot-uniform, PyTorch's
# `nn.Linear` a uniform distribution with $\sigma^2 = 1/(3 n_{\text{in}})$; both lose variance in a deep
# ReLU stack, which is why deep ReLU models ask for He initialisation (or normalisation
# layers). The labs measure this on real networks.
#
# ## 3. Tuning hyperparameters
#
# Of all hyperparameters, the **learning rate** (学习率) matters most, and for
# gradient descent on a quadratic its limit can be computed. With
# $f(w) = \tfrac12 (w - w^*)^\top H (w - w^*)$, one step $w \leftarrow w - \eta \nabla f(w)$ multiplies the
# error along each eigenvector of $H$ (eigenvalue $\lambda$) by $1 - \eta\lambda$, so gradient descent
# converges exactly when
#
# $$
# 0 < \eta < \frac{2}{\lambda_{\max}} .
# $$
#
# Near a minimum every smooth loss looks like a quadratic, so this explains the most
# common symptom of a learning rate that is too high: a loss that decreases at first,
# then oscillates and explodes. We check the limit on a real problem: least-squares
# regression from MNIST pixels to one-hot labels, $H = X^\top X / n$.

# %%
images, labels = load_mnist("train")
images, labels = random_subset(pick(full=5000, fast=2000), images, labels, seed=0)
pixels = images.reshape(len(images), -1) / 255.0
targets = np.eye(10)[labels]


def gd_losses(X, lr, steps=100):
    """Least squares 0.5 * mean ||X w - y||^2 by gradient descent from w = 0; the loss per step.

    The gradient X^T (X w - y) / n is computed from the precomputed X^T X / n and X^T y / n.
    """
    n = len(X)
    gram, xty, yty = X.T @ X / n, X.T @ targets / n, np.sum(targets**2) / n
    w, out = np.zeros((X.shape[1], 10)), []
    for _ in range(steps):
        out.append(0.5 * (np.sum(w * (gram @ w)) - 2 * np.sum(w * xty) + yty))
        w -= lr * (gram @ w - xty)
    return np.array(out)


# pixels in [0, 1] and a bias
X_raw = np.hstack([pixels, np.ones((len(pixels), 1))])
# mean pixel subtracted
X_centred = np.hstack([pixels - pixels.mean(0), np.ones((len(pixels), 1))])
limits = {}
for name, X in (("raw pixels", X_raw), ("centred pixels", X_centred)):
    lam_max = np.linalg.eigvalsh(X.T @ X / len(X))[-1]
    limit = limits[name] = 2 / lam_max
    below, above = gd_losses(X, 0.95 * limit), gd_losses(X, 1.05 * limit)
    print(
        f"{name:>14}: lambda_max = {lam_max:8.2f}, largest stable learning rate 2/lambda_max = "
        f"{limit:.4f}; loss after 100 steps at 0.95x: {below[-1]:.3f}, at 1.05x: {above[-1]:.3g}"
    )
    assert below[-1] < below[0] < above[-1]
    if name == "raw pixels":
        lam_raw, factors = lam_max, np.r_[np.geomspace(0.01, 0.95, 12), 1.05, 1.2]
        sweep = np.array([gd_losses(X, f * limit)[-1] for f in factors])
        stable = factors < 1
# the loss computed from the Gram matrix equals the direct formula:
w_check = rng.standard_normal((X_raw.shape[1], 10)) * 0.01
direct = 0.5 * np.mean(np.sum((X_raw @ w_check - targets) ** 2, axis=1))
n_raw = len(X_raw)
via_gram = 0.5 * (
    np.sum(w_check * (X_raw.T @ X_raw / n_raw @ w_check))
    - 2 * np.sum(w_check * (X_raw.T @ targets / n_raw))
    + np.sum(targets**2) / n_raw
)
assert np.isclose(direct, via_gram)
assert np.all(sweep[stable] < sweep[0] * 1.001) and np.all(
    sweep[~stable] > 1e3 * sweep[0]
)
print(
    f"centring allows a learning rate {limits['centred pixels'] / limits['raw pixels']:.1f} times larger"
)

fig, ax = plt.subplots(figsize=(7, 4))
ax.loglog(factors[stable] * 2 / lam_raw, sweep[stable], marker="o", label="converging")
ax.scatter(
    factors[~stable] * 2 / lam_raw,
    np.full((~stable).sum(), 2.5),
    marker="^",
    s=80,
    color="tab:red",
    zorder=3,
    label="diverged (loss off the chart)",
)
ax.axvline(2 / lam_raw, color="tab:red", ls="--", label=r"$2 / \lambda_{\max}$")
ax.set_ylim(top=3)
ax.set_title("A learning-rate sweep: loss after 100 steps of gradient descent")
ax.set_xlabel("learning rate (log scale)")
ax.set_ylabel("training loss (log scale)")
ax.legend()
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# Two practical lessons. First, the loss after a fixed budget keeps improving as the
# learning rate grows, until it falls off a cliff just past the limit: the best learning
# rate is close to the largest stable one, so sweep on a **log scale** and back off a
# little from where training breaks (the "learning-rate range test" {cite}`smith2017cyclical`
# automates this). Second, **centring the inputs** lowered $\lambda_{\max}$ and allowed a much
# larger learning rate (the printed limits): all pixels are non-negative, and their
# common mean adds one large eigenvalue to $H$, along the direction of the mean image.
# This is one reason to normalise data (and, inside networks, activations). Adam and
# momentum change the constant, not the phenomenon (exercise
# {ref}`problems-concepts-ex-momentum`).
#
# When several hyperparameters must be tuned, sample them **at random** (随机搜索)
# rather than on a grid {cite}`bergstra2012random`. Usually only one or two of them matter; a $3 \times 3$
# grid tries only 3 values of each, 9 random trials try 9. A toy objective where only
# the first of two hyperparameters matters:

# %%
def best_of(points, optimum):
    a, b = points[:, 0], points[:, 1]
    return np.min((a - optimum[0]) ** 2 + 0.01 * (b - optimum[1]) ** 2)


grid = np.array([(a, b) for a in (1 / 6, 1 / 2, 5 / 6) for b in (1 / 6, 1 / 2, 5 / 6)])
regret = {"grid": [], "random": []}
for _trial in range(2000):
    optimum = rng.uniform(0, 1, 2)
    regret["grid"].append(best_of(grid, optimum))
    regret["random"].append(best_of(rng.uniform(0, 1, (9, 2)), optimum))
for name, r in regret.items():
    print(f"9 trials, {name:>6} search: mean loss of the best trial {np.mean(r):.4f}")
assert np.mean(regret["random"]) < np.mean(regret["grid"])

# %% [markdown]
# A workable order for a new model: (1) make a tiny run overfit a few batches (it
# tests the code, not the model); (2) sweep the learning rate on a log scale;
# (3) set the batch size by memory and throughput, and when you multiply it by $k$,
# try multiplying the learning rate by $k$ too, with a warm-up (the *linear scaling
# rule*, 线性缩放规则 {cite}`goyal2017accurate`, which matters for the data-parallel training of the
# labs); (4) only then tune the rest, at random, on a log scale where the parameter is
# a scale. GANs add their own: Adam with $\beta_1 = 0.5$, and a discriminator learning
# rate at least the generator's {cite}`heusel2017ttur` (see {doc}`../03_gans/gan_concepts`).
#
# ### Dynamic batch size: grow the batch instead of decaying the learning rate
#
# Among its tuning strategies, article 001 (section 3.8.3) recommends a **dynamic batch
# size** (动态批量大小):
# "在模型收敛初期使用较小的批量大小，以提高模型的泛化能力，在模型收敛后期使用较大的批量大小，以提高训练速度"
# (small batches early in training, for generalisation; large batches late, for speed). There is a precise version of this
# advice {cite}`smith2018dont`. With $N$ training examples, a batch of $B$ drawn without
# replacement and per-example gradients $g_i$ of variance $\sigma^2 = \frac1N \sum_i \lVert g_i - \bar g \rVert^2$
# (summed over the parameters), the minibatch gradient $\hat g_B$ is the full gradient
# $\bar g$ plus noise of total variance
#
# $$
# \mathbb E\,\lVert \hat g_B - \bar g \rVert^2 = \frac{\sigma^2}{B}\,\frac{N - B}{N - 1} .
# $$
#
# An SGD step $-\eta\, \hat g_B$ therefore carries noise whose scale is set by
# $g = \eta\,(N/B - 1) \approx \eta N / B$: dividing the learning rate $\eta$ by $k$ or
# multiplying the batch size by $k$ lowers it by the same factor. Late in training,
# less noise is what lets the loss settle near a minimum, which is what learning-rate
# decay is for; growing the batch does the same with $k$ times fewer updates per epoch.
# We check the variance formula on the least-squares problem's cousin, softmax regression
# on the same MNIST pixels with a small L2 penalty, and then compare three schedules
# with the same number of epochs: constant, learning-rate decay (divide $\eta$ by 5 at
# one and two thirds of training), and batch growth (multiply $B$ by 5 at the same
# points).

# %%
def softmax_grads(W, X, y, lam=1e-3):
    """Mean cross-entropy + lam/2 |W|^2 of softmax regression, and its gradient."""
    z = X @ W
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)) + lam / 2 * np.sum(W * W)
    p[np.arange(len(y)), y] -= 1.0
    return loss, X.T @ p / len(y) + lam * W


# the training subset of above
X_sgd = np.hstack([pixels, np.ones((len(pixels), 1))])
n_sgd = len(X_sgd)
x_test_bs, y_test_bs = load_mnist("test")
X_test_bs = np.hstack([x_test_bs[:2000].reshape(2000, -1) / 255.0, np.ones((2000, 1))])
y_test_bs = y_test_bs[:2000]

# the noise of a minibatch gradient, at some point W of training, against the formula
rng_bs = np.random.default_rng(0)
W_at = rng_bs.normal(0, 0.01, (785, 10))
_, g_full = softmax_grads(W_at, X_sgd, labels, lam=0.0)
# |g_i - g_full|^2, per example
resid = np.zeros(n_sgd)
# g_i = x_i (p_i - onehot_i)^T
for s in range(0, n_sgd, 500):
    xb, yb = X_sgd[s : s + 500], labels[s : s + 500]
    z = xb @ W_at
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(yb)), yb] -= 1.0
    gi = xb[:, :, None] * p[:, None, :]
    resid[s : s + 500] = np.sum((gi - g_full) ** 2, axis=(1, 2))
sigma2 = resid.mean()
for B in (10, 100):
    draws = [
        softmax_grads(W_at, X_sgd[idx], labels[idx], lam=0.0)[1]
        for idx in (
            rng_bs.choice(n_sgd, B, replace=False)
            for _ in range(pick(full=4000, fast=1500))
        )
    ]
    measured = np.mean([np.sum((d - g_full) ** 2) for d in draws])
    formula = sigma2 / B * (n_sgd - B) / (n_sgd - 1)
    print(
        f"B = {B:3d}: E|g_B - g|^2 = {measured:.4f} (Monte Carlo), {formula:.4f} (formula)"
    )
    assert abs(measured / formula - 1) < 0.1

# %%
def sgd(epochs, lr_at, batch_at, seed=0):
    """Plain SGD on softmax regression; per epoch: (updates so far, training loss)."""
    rng_run = np.random.default_rng(seed)
    W, updates, out = np.zeros((785, 10)), 0, []
    for epoch in range(epochs):
        lr, B = lr_at(epoch), batch_at(epoch)
        order = rng_run.permutation(n_sgd)
        for s in range(0, n_sgd - B + 1, B):  # full batches only
            idx = order[s : s + B]
            W -= lr * softmax_grads(W, X_sgd[idx], labels[idx])[1]
            updates += 1
        out.append((updates, softmax_grads(W, X_sgd, labels)[0]))
    return np.array(out), float(np.mean(np.argmax(X_test_bs @ W, 1) == y_test_bs))


epochs_bs, lr0, b0, k = pick(full=30, fast=15), 1.0, 10, 5
stage = lambda e: (e >= epochs_bs // 3) + (e >= 2 * epochs_bs // 3)  # 0, 1, 2
schedules = {
    "constant": (lambda e: lr0, lambda e: b0),
    "learning rate / 5, twice": (lambda e: lr0 / k ** stage(e), lambda e: b0),
    "batch size x 5, twice": (lambda e: lr0, lambda e: b0 * k ** stage(e)),
}
runs = {name: sgd(epochs_bs, *sch) for name, sch in schedules.items()}
for name, (hist, acc) in runs.items():
    print(
        f"{name:26}: final training loss {hist[-1, 1]:.4f}, test accuracy {acc:.1%}, "
        f"{int(hist[-1, 0]):5d} updates"
    )
(h_c, _), (h_lr, _), (h_bs, _) = runs.values()
assert h_lr[-1, 1] < 0.7 * h_c[-1, 1] and abs(h_bs[-1, 1] / h_lr[-1, 1] - 1) < 0.1
assert h_bs[-1, 0] < 0.5 * h_lr[-1, 0]

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for name, (hist, _) in runs.items():
    axes[0].plot(np.arange(1, epochs_bs + 1), hist[:, 1], "o-", ms=3, label=name)
    axes[1].plot(hist[:, 0], hist[:, 1], "o-", ms=3, label=name)
axes[0].set(
    xlabel="epoch",
    ylabel="training loss (full batch)",
    yscale="log",
    title="Same epochs: decay and growth coincide",
)
axes[1].set(
    xlabel="parameter updates",
    ylabel="training loss (full batch)",
    xscale="log",
    yscale="log",
    title="...but growth needs fewer updates",
)
axes[1].xaxis.set_minor_formatter(plt.NullFormatter())
for ax in axes:
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# With a constant learning rate the loss stalls at a noise floor (and jumps around it);
# dividing the learning rate or multiplying the batch by 5 at the same epochs gives
# curves that lie on top of each other, as the noise scale predicts, but the second
# takes well under half the parameter updates (printed). That is the real argument for
# a growing batch: with hardware that processes a large batch in about the time of a
# small one (a GPU, or many of them), fewer updates mean less wall-clock time; on one
# CPU thread an epoch costs about the same either way. Two cautions about the article's
# version: the small batches early do not help "generalisation" by themselves; what
# matters is the noise scale $\eta N / B$, which a larger learning rate can supply
# just as well (up to a point: beyond a *critical* batch size, larger batches stop
# reducing the number of updates needed {cite}`mccandlish2018empirical`). And the
# equivalence is for plain SGD: with momentum $m$ the scale becomes
# $\eta N / (B (1 - m))$, and adaptive optimisers such as Adam rescale the step by
# the gradient's own size, so there the rule holds only roughly.

# %% [markdown]
# ## 4. Overfitting and memorisation in generative models
#
# A generative model **overfits** (过拟合) when it fits its training examples better than
# new examples from the same distribution; its extreme form is **memorisation**
# (记忆): the model reproduces training examples. For an image model the two questions
# are: is the likelihood of *held-out* data still improving, and are the samples
# *copies*?
#
# A model where we can turn memorisation up and down with one knob is the **kernel
# density estimate** (KDE, 核密度估计): put a small Gaussian of width $h$ on every
# training point $x_i$,
#
# $$
# p_h(x) = \frac1N \sum_{i=1}^N \mathcal N(x;\, x_i,\, h^2 I), \qquad
# \log p_h(x) = \log \sum_i e^{-\lVert x - x_i \rVert^2 / 2h^2} - \log N - \frac d2 \log(2\pi h^2),
# $$
#
# and sample by picking a training point at random and adding $\mathcal N(0, h^2 I)$
# noise. As $h \to 0$ it becomes the training set itself. We fit it to MNIST digits
# projected on their first 30 principal components (a KDE in 784 dimensions needs far
# more data than MNIST has). First, the formula: in one dimension the density must
# integrate to 1.

# %%
def sq_distances(a, b):
    """Squared Euclidean distances between the rows of a (M, d) and b (N, d): (M, N)."""
    return np.maximum(
        (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T, 0.0
    )


def logsumexp(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.exp(a - m).sum(axis=axis))


def kde_log_density(d2, h, dim):
    """log p_h for each query, from its squared distances d2 (M, N) to the N training points."""
    return (
        logsumexp(-d2 / (2 * h * h), axis=1)
        - np.log(d2.shape[1])
        - 0.5 * dim * np.log(2 * np.pi * h * h)
    )


centres = rng.standard_normal((7, 1))
grid_1d = np.linspace(-8, 8, 16001)[:, None]
density = np.exp(kde_log_density(sq_distances(grid_1d, centres), 0.3, dim=1))
integral = density.sum() * (grid_1d[1, 0] - grid_1d[0, 0])
print(f"integral of a 1-D KDE over [-8, 8]: {integral:.6f}")
assert abs(integral - 1) < 1e-4

# %%
test_images, test_labels = load_mnist("test")
test_images, test_labels = random_subset(
    pick(full=2000, fast=1000), test_images, test_labels, seed=1
)
test_pixels = test_images.reshape(len(test_images), -1) / 255.0

DIM = 30
mean_pixel = pixels.mean(axis=0)
_, _, Vt = np.linalg.svd(pixels - mean_pixel, full_matrices=False)
# (30, 784): the principal directions
basis = Vt[:DIM]
z_train = (pixels - mean_pixel) @ basis.T  # codes of the training digits
z_test = (test_pixels - mean_pixel) @ basis.T
to_pixels = lambda z: np.clip(z @ basis + mean_pixel, 0, 1)

d2_train, d2_test = sq_distances(z_train, z_train), sq_distances(z_test, z_train)
bandwidths = np.geomspace(0.05, 2.0, 15)
ll_train = np.array([kde_log_density(d2_train, h, DIM).mean() for h in bandwidths])
ll_test = np.array([kde_log_density(d2_test, h, DIM).mean() for h in bandwidths])
h_best = bandwidths[np.argmax(ll_test)]
print(
    f"{len(z_train)} training and {len(z_test)} test digits, {DIM} dimensions; "
    f"best bandwidth on the test digits h = {h_best:.2f}"
)

fig, ax = plt.subplots(figsize=(7, 4))
ax.semilogx(bandwidths, ll_train, marker="o", label="training digits")
ax.semilogx(bandwidths, ll_test, marker="o", label="held-out digits")
ax.axvline(h_best, color="gray", ls="--", label=f"best held-out, h = {h_best:.2f}")
ax.set_ylim(ll_test.max() - 150, ll_train.max() + 10)
ax.set_title("KDE on MNIST (30 principal components): overfitting as h → 0")
ax.set_xlabel("bandwidth h (log scale)")
ax.set_ylabel("mean log-likelihood (nats)")
ax.legend()
ax.grid(alpha=0.3)
plt.show()
# the training likelihood only improves as h -> 0 ...
assert np.all(np.diff(ll_train) < 0)
# ... the held-out one peaks in between
assert 0 < np.argmax(ll_test) < len(bandwidths) - 1

# %% [markdown]
# The training log-likelihood grows without bound as $h \to 0$ (each training digit
# sits on its own spike), while the held-out log-likelihood peaks and then collapses.
# **Only held-out data can tell overfitting from learning**: report likelihoods (and
# every other metric) on data the model never saw, and use them to choose
# hyperparameters and to stop training early.
#
# Likelihood is not available for a GAN, and a good test likelihood does not rule out
# that *some* samples are copies. A direct check, used on real image models
# {cite}`carlini2023extracting,somepalli2023diffusion`: for each sample, find its
# **nearest training neighbour** and compare that distance with the distance from
# genuinely new images (held-out test digits) to their nearest training neighbours.
# A model that generalises produces samples about as far from the training set as new
# data is; a memorising model produces samples much closer. We compare three models:
# the KDE with a tiny bandwidth (a memoriser), the KDE at the best held-out bandwidth,
# and a parametric model, one Gaussian per digit class fitted in the same 30
# dimensions.

# %%
def sample_kde(n, h, seed):
    r = np.random.default_rng(seed)
    return z_train[r.integers(0, len(z_train), n)] + h * r.standard_normal((n, DIM))


def fit_class_gaussians(z, y):
    return {
        c: (z[y == c].mean(0), np.cov(z[y == c].T) + 1e-6 * np.eye(DIM))
        for c in range(10)
    }


def sample_class_gaussians(params, n_per_class, seed):
    r = np.random.default_rng(seed)
    return np.concatenate(
        [r.multivariate_normal(m, C, n_per_class) for m, C in params.values()]
    )


N_SAMPLES = 500
H_TINY = 0.05
models = {
    f"KDE, h = {H_TINY}": sample_kde(N_SAMPLES, H_TINY, seed=1),
    f"KDE, h = {h_best:.2f}": sample_kde(N_SAMPLES, h_best, seed=1),
    "Gaussian per class": sample_class_gaussians(
        fit_class_gaussians(z_train, labels), N_SAMPLES // 10, seed=1
    ),
}
_, test_nn = nearest_neighbours(z_test, z_train)
# closer than 99 % of new digits are: a near-copy
threshold = np.percentile(test_nn, 1)
print(
    f"held-out digits: median distance to the nearest training digit {np.median(test_nn):.2f}; "
    f"1st percentile {threshold:.2f}"
)
nn_dist = {}
for name, z in models.items():
    _, nn_dist[name] = nearest_neighbours(z, z_train)
    print(
        f"{name:>20}: median distance {np.median(nn_dist[name]):.2f}; "
        f"near-copies (closer than the 1st percentile): {np.mean(nn_dist[name] < threshold):.1%}"
    )

fig, ax = plt.subplots(figsize=(8, 4))
bins = np.linspace(0, max(test_nn.max(), max(d.max() for d in nn_dist.values())), 60)
ax.hist(
    test_nn, bins=bins, alpha=0.5, color="black", label="held-out digits (new data)"
)
for name, d in nn_dist.items():
    ax.hist(d, bins=bins, histtype="step", lw=2, label=f"samples: {name}")
ax.axvline(threshold, color="gray", ls=":", label="1st percentile of new data")
ax.set_title("Distance to the nearest training digit (30-dim PCA space)")
ax.set_xlabel("Euclidean distance")
ax.set_ylabel("count")
ax.legend(fontsize=8)
plt.show()
assert np.mean(nn_dist[f"KDE, h = {H_TINY}"] < threshold) > 0.9
assert np.mean(nn_dist["Gaussian per class"] < threshold) < 0.05

# %% [markdown]
# Look at the pairs: each sample (top row) above its nearest training digit (bottom
# row), for the memoriser and for the per-class Gaussian.

# %%
fig, axes = plt.subplots(2, 1, figsize=(10, 3.4))
for ax, name in zip(axes, [f"KDE, h = {H_TINY}", "Gaussian per class"]):
    z = models[name][:: N_SAMPLES // 10][:10]
    idx, dist = nearest_neighbours(z, z_train)
    pairs = np.concatenate([to_pixels(z), to_pixels(z_train[idx])]).reshape(-1, 28, 28)
    show_images(
        pairs,
        nrow=10,
        ax=ax,
        title=f"{name}: samples (top), nearest training digit (bottom); "
        f"median distance {np.median(dist):.2f}",
    )
plt.show()

# %% [markdown]
# The memoriser's samples are its training digits; the Gaussian's are new (and
# blurry: a single Gaussian per class is a crude model). The KDE at the best held-out
# bandwidth sits in between: its samples are training digits with noise added, far
# enough to pass the distance test. That is the limit of the test: it catches
# copies, not "training image plus a little noise". Published tests therefore also
# compare distances *relative* to the neighbourhood (the nearest versus the second
# nearest training image {cite}`carlini2023extracting`), and look at the pairs.
#
# ## 5. Data quality
#
# A generative model learns the distribution of its training data, flaws included.
#
# ### Duplicates
#
# Web-scale datasets contain many exact and near **duplicates** (重复数据). A model sees
# a duplicated example many times per epoch, and memorisation studies found that
# duplicated training images and texts are the ones most likely to be reproduced
# verbatim {cite}`carlini2023extracting,lee2022deduplicating`. For a KDE the effect is
# arithmetic: an example repeated $k$ times among $N$ is the source of a fraction $k/N$ of
# the samples. Plant one digit 50 times, and some near-duplicates (a digit plus faint
# noise), then find them again from the nearest-neighbour distances *within* the
# training set.

# %%
K_DUP, N_NEAR = 50, 40
r = np.random.default_rng(3)
star = 17  # the digit we duplicate
near_src = r.choice(
    np.setdiff1d(np.arange(len(z_train)), [star]), N_NEAR, replace=False
)
z_dirty = np.concatenate(
    [
        z_train,
        np.repeat(z_train[star : star + 1], K_DUP, axis=0),
        z_train[near_src] + 0.02 * r.standard_normal((N_NEAR, DIM)),
    ]
)
is_planted = np.r_[np.zeros(len(z_train), bool), np.ones(K_DUP + N_NEAR, bool)]

d2 = sq_distances(z_dirty, z_dirty)
np.fill_diagonal(d2, np.inf)
# has a neighbour far closer than new data does
flagged = np.sqrt(d2.min(axis=1)) < threshold / 2
print(
    f"flagged {flagged.sum()} examples as duplicates; {np.sum(flagged & is_planted)} of the "
    f"{is_planted.sum()} planted copies found, plus their {np.sum(flagged & ~is_planted)} originals"
)
assert np.all(flagged[is_planted])

samples = z_dirty[r.integers(0, len(z_dirty), 20000)] + H_TINY * r.standard_normal(
    (20000, DIM)
)
share = np.mean(nearest_neighbours(samples, z_train[star : star + 1])[1] < threshold)
print(
    f"samples that copy the duplicated digit: {share:.2%} (formula (k+1)/N = "
    f"{(K_DUP + 1) / len(z_dirty):.2%}; an ordinary digit: {1 / len(z_dirty):.3%})"
)
assert abs(share - (K_DUP + 1) / len(z_dirty)) < 0.006

# %% [markdown]
# The fix is **deduplication** before training: exact duplicates by hashing, near
# duplicates by nearest-neighbour distances in a good feature space (as here), then
# keep one of each group. Lee et al. {cite}`lee2022deduplicating` found that it also
# reduced verbatim copying by language models, and helped their quality.
#
# ### Label noise
#
# Conditional models (a conditional GAN, a class-conditional VAE, a text-to-image
# model) learn $p(x \mid y)$ from pairs $(x, y)$. With **label noise** (标签噪声) some pairs are
# wrong, and the model learns that a "3" sometimes looks like a 7. Fit the per-class
# Gaussian with a fraction of the labels replaced by random wrong ones, sample each
# class, and let a judge (a 5-nearest-neighbour classifier on the clean held-out
# digits) say which digit each sample shows.

# %%
def judge(z, k=5):
    """The majority label of the k nearest held-out digits (clean labels)."""
    idx = np.argsort(sq_distances(z, z_test), axis=1)[:, :k]
    return np.array(
        [np.bincount(row, minlength=10).argmax() for row in test_labels[idx]]
    )


print(
    f"the judge's accuracy on the (clean) training digits: {np.mean(judge(z_train) == labels):.1%}"
)
noise_rates = (0.0, 0.2, 0.4, 0.6)
agreement, class_samples = [], {}
for rate in noise_rates:
    r = np.random.default_rng(4)
    noisy = labels.copy()
    flip = r.random(len(noisy)) < rate
    # a different, random class
    noisy[flip] = (noisy[flip] + r.integers(1, 10, flip.sum())) % 10
    z_gen = sample_class_gaussians(fit_class_gaussians(z_train, noisy), 100, seed=5)
    asked = np.repeat(np.arange(10), 100)
    agreement.append(np.mean(judge(z_gen) == asked))
    class_samples[rate] = z_gen
    print(
        f"label noise {rate:.0%}: samples judged to show the requested digit: {agreement[-1]:.1%}"
    )
assert agreement[0] > agreement[-1] + 0.2

fig, axes = plt.subplots(1, 2, figsize=(11, 3))
for ax, rate in zip(axes, (0.0, 0.4)):
    pick_rows = (
        class_samples[rate]
        .reshape(10, 100, DIM)[:, :6]
        .transpose(1, 0, 2)
        .reshape(-1, DIM)
    )
    show_images(
        to_pixels(pick_rows).reshape(-1, 28, 28),
        nrow=10,
        ax=ax,
        title=f"label noise {rate:.0%}: columns = requested digit 0-9",
    )
plt.show()

# %% [markdown]
# With noisy labels each class's Gaussian is fitted to a mixture of digits, and its
# samples drift towards blends of several digits: the judged agreement falls with the
# noise rate. Fixes: clean the labels (a model trained on the data can flag examples
# whose label disagrees with its prediction, for a human to check), or use losses
# that are robust to label noise. Note that a big network can fit even random labels
# perfectly {cite}`zhang2017understanding`, so a low *training* loss does not reveal
# label noise.
#
# ### Class imbalance
#
# With **class imbalance** (类别不平衡) a model sees its rare modes rarely. A GAN's
# generator is not even rewarded for covering them (see the mode collapse of
# {doc}`../03_gans/gan_concepts`). We train the NumPy toy GAN of that chapter on a
# ring of 8 Gaussians with unequal weights, from 25 % down to 2 %.

# %%
centers = ring_centers(8, 2.0)
weights = np.array([0.25, 0.25, 0.2, 0.15, 0.07, 0.04, 0.02, 0.02])
r = np.random.default_rng(0)
mode = r.choice(8, size=4096, p=weights)
ring = centers[mode] + 0.05 * r.standard_normal((4096, 2))
RADIUS, N_EVAL = 0.15, 2000
STEPS = pick(full=4000, fast=2000)  # generator updates
SEEDS = pick(full=(0, 1, 2), fast=(0,))

# rebalancing: resample the data so that every mode is equally frequent (weight 1 / frequency)
resample_p = 1 / weights[mode]
balanced = ring[r.choice(len(ring), size=len(ring), p=resample_p / resample_p.sum())]
shares, covered = {}, {}
for name, data in (("imbalanced data", ring), ("rebalanced data", balanced)):
    for seed in SEEDS:
        gan = ToyGAN(seed=seed)
        gan.fit(data, STEPS, log_every=STEPS)
        counts = mode_counts(gan.sample(N_EVAL, seed=123), centers, RADIUS)
        # among the samples that land on a mode
        shares[name, seed] = counts / counts.sum()
        covered[name, seed] = int(np.sum(counts >= 0.005 * N_EVAL))
        print(
            f"{name}, seed {seed}: {counts.sum() / N_EVAL:.0%} of the samples land on a mode; "
            f"their shares {np.round(shares[name, seed], 3)}; modes with >= 0.5 % of the "
            f"samples: {covered[name, seed]}"
        )
print(f"share of the training data per mode: {weights}")

fig, ax = plt.subplots(figsize=(8, 3.8))
width = 0.8 / (1 + 2 * len(SEEDS))
ax.bar(
    np.arange(8) - 0.4 + width / 2, weights, width, color="black", label="training data"
)
for k, ((name, seed), s) in enumerate(shares.items()):
    ax.bar(
        np.arange(8) - 0.4 + (k + 1.5) * width,
        s,
        width,
        color="tab:red" if name.startswith("imb") else "tab:green",
        alpha=0.9,
        label=f"GAN, {name}" if seed == SEEDS[0] else None,
    )
ax.axhline(1 / 8, color="gray", ls=":", label="balanced: 1/8")
ax.set_title(
    f"Toy GAN after {STEPS} steps: samples per mode"
    + (f" ({len(SEEDS)} seeds)" if len(SEEDS) > 1 else "")
)
ax.set_xlabel("mode (most frequent in the data first)")
ax.set_ylabel("share of the on-mode samples")
ax.set_xticks(range(8))
ax.legend(fontsize=8)
plt.show()
assert np.mean([covered["rebalanced data", sd] for sd in SEEDS]) > np.mean(
    [covered["imbalanced data", sd] for sd in SEEDS]
)

# %% [markdown]
# On imbalanced data the rare modes are the first to go. In the course's full-mode runs
# (4,000 steps, seeds 0–2) the four modes of 7 % or less got under 0.5 % of the
# samples in every seed (seed 0 also lost two frequent ones), while on rebalanced data
# 7, 7 and 8 of the 8 modes were covered; fast mode (one seed, 2,000 steps) shows the
# same contrast in the printed counts. Rebalancing gives every mode a chance to be
# learned, at a price: the model now learns the *balanced* distribution, not the real
# one, so the frequency of each class must be restored at sampling time (for a
# conditional model: sample the class label with its true frequency). Alternatives
# are weighting the loss per example and conditioning on the class. Mode coverage
# stays a matter of training dynamics as well: compare several seeds before
# concluding anything.
#
# ## 6. Symptoms and fixes
#
# | symptom | likely cause | check | fixes |
# | --- | --- | --- | --- |
# | loss becomes `inf` or `nan`; loss spikes | learning rate too high; exploding gradients; overflow in float16 | log the gradient norm; lower the learning rate 10× and rerun | lower the learning rate, warm-up; gradient clipping; He/Glorot initialisation; loss scaling or bfloat16 (labs) |
# | loss stays flat from the first step | vanishing gradients; learning rate far too low; bug (no gradient reaches the weights) | per-layer gradient norms; overfit one batch | ReLU-family activations, He initialisation, residual connections, normalisation; learning-rate sweep; check `requires_grad`/`trainable` and the optimiser's parameter list |
# | first layers' gradients orders of magnitude below the last ones' | vanishing gradients (sigmoid/tanh, deep stacks, long RNN unrolls) | per-layer gradient-norm plot (section 1) | as above; LSTM/GRU or attention instead of a plain RNN |
# | training loss falls, held-out loss rises | overfitting | held-out likelihood or loss (section 4) | more data, augmentation, weight decay, dropout, smaller model, early stopping |
# | samples look like training images | memorisation; duplicated training data | nearest training neighbours of samples (section 4; labs) | deduplicate; more data; smaller model or fewer epochs; stop early |
# | conditional samples show the wrong class | label noise | a judge classifier on samples; inspect disagreements | clean the labels; robust losses |
# | rare classes or modes never generated | class imbalance; mode collapse | per-class (per-mode) sample counts (section 5) | rebalance or reweight; condition on the class; GAN remedies ({doc}`../03_gans/gan_concepts`) |
# | training much slower than expected | input pipeline, float32 where bfloat16/float16 would do, one device | time the data loading alone; profile | data on the device, vectorised batching; mixed precision; data parallelism (labs) |
#
# The labs take the engineering half of this table into real training:
# {doc}`problems_pytorch` and {doc}`problems_keras`.
#
# ## Exercises
#
# :::{exercise}
# :label: problems-concepts-ex-leaky
# He et al. {cite}`he2015delving` also derive the initialisation for a leaky ReLU with
# negative slope $\alpha$: $\sigma^2 = 2 / \big((1 + \alpha^2)\, n_{\text{in}}\big)$. Derive it (what is
# $\mathbb E[\mathrm{leaky}(y)^2]$ for a symmetric $y$?) and check it with
# `preactivation_variance` after adding a `"leaky"` entry to `ACTIVATIONS`.
# :::
#
# :::{solution} problems-concepts-ex-leaky
# :class: dropdown
# For symmetric $y$, half of the mass is multiplied by 1 and half by $\alpha$, so
# $\mathbb E[\mathrm{leaky}(y)^2] = \tfrac12 (1 + \alpha^2) \operatorname{Var}(y)$, and the next layer's
# variance is $n_{\text{in}} \sigma^2 \tfrac12 (1 + \alpha^2) \operatorname{Var}(y)$: kept for the stated $\sigma^2$.
# With `ACTIVATIONS["leaky"] = (lambda a: np.where(a > 0, a, 0.2 * a), lambda a: np.where(a > 0, 1.0, 0.2))`
# and `std = np.sqrt(2 / (1.04 * 256))` the mean factor per layer is within 1 % of 1
# (1.008 in the course's run); with He's ReLU value $\sigma^2 = 2/n$ it is about $1.04$ (1.048
# measured), which compounds to a factor of about 10 over 50 layers.
# :::
#
# :::{exercise}
# :label: problems-concepts-ex-momentum
# Gradient descent with (heavy-ball) momentum, $v \leftarrow \beta v - \eta \nabla f(w)$,
# $w \leftarrow w + v$, converges on a quadratic exactly when $0 < \eta \lambda < 2(1 + \beta)$ for every
# eigenvalue $\lambda$. Modify `gd_losses` to use momentum $\beta = 0.9$ and check the new limit
# $2(1+\beta)/\lambda_{\max}$ as in section 3.
# :::
#
# :::{solution} problems-concepts-ex-momentum
# :class: dropdown
# Keep a velocity `v = np.zeros_like(w)` and update `v = beta * v - lr * X.T @ residual / len(X)`,
# `w += v`. Along an eigenvector the error $e_t$ obeys $e_{t+1} = (1 + \beta - \eta\lambda) e_t - \beta e_{t-1}$,
# whose characteristic roots lie inside the unit circle exactly when
# $0 < \eta\lambda < 2(1 + \beta)$. With $\beta = 0.9$ the limit is $3.8/\lambda_{\max}$: in the course's
# fast-mode run (2,000 digits), 100 steps at 0.95 times it brought the loss from 0.5 to 0.156, while 1.05 times
# it diverged (above $10^{33}$). Momentum raises the stable learning rate by a factor $1 + \beta$.
# :::
#
# :::{exercise}
# :label: problems-concepts-ex-ratio
# Implement the relative memorisation test: a sample is a copy if its distance to the
# nearest training point is less than a third of its distance to the *second*
# nearest one. Which of the three models of section 4 does it flag, and how does the
# answer change with the bandwidth of the KDE?
# :::
#
# :::{solution} problems-concepts-ex-ratio
# :class: dropdown
# `d2 = np.sort(sq_distances(z, z_train), axis=1)`, then
# `np.mean(np.sqrt(d2[:, 0] / d2[:, 1]) < 1 / 3)`. In the course's fast-mode run it
# flagged 99 % of the tiny-bandwidth KDE's samples (they sit on a training digit, far
# closer to it than to any other) and none of the best-bandwidth KDE's or the
# per-class Gaussian's. In between, the flagged share fell with the bandwidth: 92 %
# at $h = 0.1$, 58 % at 0.2, 12 % at 0.3 and 0 at 0.5, as the added noise comes to
# dominate both distances and the ratio approaches 1. A relative test adapts to how
# dense the training data are around each sample, which one absolute threshold
# cannot do.
# :::
#
# :::{exercise}
# :label: problems-concepts-ex-imbalance
# Instead of resampling the data, keep the imbalanced ring and give the toy GAN more
# capacity (`ToyGAN(hidden=(128, 128))`) or a slower generator (`lr_g=5e-4`). Do the rare
# modes come back? Use three seeds.
# :::
#
# :::{solution} problems-concepts-ex-imbalance
# :class: dropdown
# In the course's runs (4,000 steps, seeds 0–2) neither brought them back: the larger
# networks covered 4, 2 and 4 modes, the slower generator 4, 4 and 4, always among
# the four most frequent ones, and the rare modes held at most 9 of 2,000 samples.
# The rare modes contribute only 2–7 % of the discriminator's real examples, so the
# discriminator hardly penalises a generator that ignores them, whatever the
# capacity or the speed of the players. What restores coverage is changing what the
# models see (resampling, as above) or what the generator is asked for
# (conditioning on the mode).
# :::
