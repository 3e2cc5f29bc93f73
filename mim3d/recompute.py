"""Trading compute for memory in the backward pass: functions whose weights enter as tensors.

3D-MIM's memory is the activations its time loop stores for the backward pass
(``bench/README.md``). Two tools cut it, both exact (same values, gradients to round-off):

* :func:`with_weights`: run a function with Keras variables replaced by tensors read once, so a
  ``tf.while_loop`` captures loop-invariant tensors instead of reading (and storing for the
  backward pass) every weight again at every time step;
* :func:`recomputed`: the same, and the function's activations are recomputed in the backward
  pass (``tf.recompute_grad``); only its inputs are kept. TensorFlow cannot differentiate a
  recomputed block that captures variables inside a while loop, and a captured tensor would
  get no gradient, hence the weights as explicit arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import tensorflow as tf


def _read(variables) -> list[tf.Tensor]:
    return [tf.convert_to_tensor(v.value) for v in variables]


def with_weights(fn: Callable, variables: Sequence) -> Callable:
    """``fn(*tensors)`` with ``variables`` read once, when the returned function is made."""
    variables = list(variables)
    weights = _read(variables)

    def run(*tensors):
        with keras.StatelessScope(state_mapping=list(zip(variables, weights, strict=True))):
            return fn(*tensors)

    return run


def recomputed(fn: Callable, variables: Sequence) -> Callable:
    """``fn(*tensors)`` (tensors in, a tensor or tuple of tensors out) whose activations are
    recomputed in the backward pass; ``variables`` = every Keras variable ``fn`` reads.
    Weights are read at each call of the returned function (cheap outside a loop or in a
    :func:`with_weights` scope, where a read is a captured tensor)."""
    variables = list(variables)

    @tf.recompute_grad
    def pure(*args):
        tensors, weights = args[:len(args) - len(variables)], args[len(args) - len(variables):]
        with keras.StatelessScope(state_mapping=list(zip(variables, weights, strict=True))):
            return fn(*tensors)

    return lambda *tensors: pure(*tensors, *_read(variables))
