"""Automatic checks for the course's coding exercises (framework-neutral, NumPy only).

A student writes a function in NumPy, PyTorch or Keras/TensorFlow and asks::

    from aigc_course.exercises import check

    def kl(mu, logvar):                      # PyTorch
        return -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=-1)

    check("vae_kl", kl, framework="torch")
    # ✅ vae_kl: correct on 9 inputs

:func:`check` runs the function on random inputs plus edge cases (a batch of
one, logits of magnitude 50 and more, T = 1, ties, ...) and compares it with a
reference written once in NumPy (float64). It prints either "correct" or the
first input where the outputs differ (shapes, a short view of the values, the
largest difference) and a hint aimed at the typical mistake it recognises
(a sign error, a mean instead of a sum, a missing 1/2, a transposed mask,
0 instead of -inf, ...). It returns ``True`` when every input passes, so a
notebook or a test can ``assert`` on it. An exception raised by the function is
caught and reported with the input that caused it; it is never re-raised, and
no output (a string, an object or complex array, ...) makes :func:`check` raise:
it is reported with a hint. A call that runs longer than ``time_limit`` seconds
(10 by default) is stopped and reported. A function that raises
``NotImplementedError`` (an exercise stub) is reported as "not implemented yet",
with the task.

:func:`choose` returns the student's function when it passes (silently) and a
worked solution otherwise, so that an exercise notebook runs from top to bottom
before every stub is filled in.

``framework`` decides what the function receives: NumPy float32 arrays
(``None`` or ``"numpy"``), ``torch.tensor`` (``"torch"``),
``keras.ops.convert_to_tensor`` (``"keras"``, on any Keras backend) or
``tf.constant`` (``"tensorflow"``). Integer arguments (``T`` of
``causal_attention_mask``, ``k`` of ``top_k_filter``) are passed as Python ints. The
output may be any of those tensor types (a tensor that requires grad, one on a
GPU), a NumPy array or a Python number: it is converted to NumPy before the
comparison. No framework is imported unless asked for.

Outputs match when ``np.allclose(received, expected, rtol=1e-4, atol=1e-5)``
(float32 rounding passes, a real mistake does not; ``-inf`` must be ``-inf``);
a loss may come back as a 0-d tensor, a Python float or any size-1 array.

The exercises (:func:`list_exercises`; :func:`reference` returns the NumPy
solution, whose docstring states the exact rule; each calls the package function
the course itself uses):

* ``gan_discriminator_loss(real_logits, fake_logits)``
* ``gan_generator_loss(fake_logits)``
* ``vae_kl(mu, logvar)``
* ``reparameterize(mu, logvar, eps)``
* ``bernoulli_nll(logits, x)``
* ``causal_attention_mask(T)``
* ``top_k_filter(logits, k)``

The package: :mod:`~aigc_course.exercises.references` (the reference solutions),
:mod:`~aigc_course.exercises.catalogue` (the inputs, the tolerance and the
typical mistakes of each exercise) and :mod:`~aigc_course.exercises.checker`
(running, comparing and reporting).
"""

from .checker import check, choose, list_exercises, reference

__all__ = ["check", "choose", "list_exercises", "reference"]
