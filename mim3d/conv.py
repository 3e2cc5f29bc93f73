"""A stride-1 'same' convolution with a faster kernel gradient on CPU.

``tf.nn.convolution`` computes the forward pass; its gradients are written out here:

* input gradient: the same convolution of the output gradient with the kernel flipped in space
  and transposed in channels (exact for odd kernels and 'same' padding);
* kernel gradient: for every kernel offset ``(a, b, c)`` one matrix product
  ``dK[a, b, c] = X_shift(a, b, c)ᵀ · dY`` over all batch × voxel rows.

Measured on the 2-core CPU (TF 2.21, oneDNN on; ``bench/README.md``), forward + backward of
the gate convolutions with TensorFlow's malloc allocator: TensorFlow's own gradients at 35–37
GFLOP/s at 16³ (16→48, 16→64, k3) and 49–117 at the seed's 32³ (32→96, 32→128, k5), this form
at 119–126 and 139–150. Values agree to float32 round-off. With the BFC allocator (mim3d's
default, ``mim3d/__init__.py``) TensorFlow's own gradients win at the widest 5³ shapes (212–218
GFLOP/s at 32→128 against 143), and :func:`conv_same` takes them there
(:func:`tensorflow_gradient_is_faster`); at 32→96 its filter gradient stays ~6× slower.
"""

from __future__ import annotations

import functools
import itertools

import tensorflow as tf


def _kernel_gradient(x: tf.Tensor, dy: tf.Tensor, kernel_shape) -> tf.Tensor:
    spatial = kernel_shape[:-2]
    c_in, c_out = kernel_shape[-2], kernel_shape[-1]
    pad = [[0, 0]] + [[k // 2, k // 2] for k in spatial] + [[0, 0]]
    with tf.control_dependencies([dy]):  # in the backward pass, not as soon as x exists
        xp = tf.pad(x, pad) if any(k > 1 for k in spatial) else tf.identity(x)
    sizes = x.shape[1:-1]
    dy2 = tf.reshape(dy, [-1, c_out])
    blocks = [dy2]
    for offset in itertools.product(*(range(k) for k in spatial)):
        # one shifted copy at a time: each waits for the previous product (and the first for
        # dy), else the executor slices all k³ copies of x at once and holds them (k³ × |x|)
        with tf.control_dependencies([blocks[-1]]):
            window = xp[(slice(None),) + tuple(slice(o, o + n) for o, n in zip(offset, sizes,
                                                                               strict=True))]
        blocks.append(tf.matmul(tf.reshape(window, [-1, c_in]), dy2, transpose_a=True))
    return tf.reshape(tf.stack(blocks[1:]), kernel_shape)


@functools.cache
def bfc_allocator() -> bool:
    """Whether this process's CPU tensors come from TensorFlow's BFC allocator (mim3d asks for
    it on import, see ``mim3d/__init__.py``; it is the only CPU allocator that keeps statistics,
    so this holds even where TensorFlow made its first tensor before mim3d was imported)."""
    try:
        tf.config.experimental.get_memory_info("CPU:0")
    except ValueError:  # "Allocator stats not available"
        return False
    return True


def tensorflow_gradient_is_faster(kernel_shape) -> bool:
    """True where TensorFlow's own Conv3D gradients beat the form below on the 2-core CPU: with
    the BFC allocator, 3D kernels of size ≥ 5 with ≥ 32 input and ≥ 128 output channels
    (32→128 k5: 212–218 vs 143 GFLOP/s; with malloc 117, as oneDNN's scratch buffers are then
    mapped fresh on every call). Elsewhere the matrix-product form wins (``bench/README.md``)."""
    spatial, c_in, c_out = kernel_shape[:-2], kernel_shape[-2], kernel_shape[-1]
    return (bfc_allocator() and len(spatial) == 3 and min(spatial) >= 5 and c_in >= 32
            and c_out >= 128)


def conv_same(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """``[B, *grid, c_in]`` * ``[*k, c_in, c_out]`` → ``[B, *grid, c_out]`` (stride 1, 'same'),
    with the faster gradient for its shape (:func:`tensorflow_gradient_is_faster`)."""
    if tensorflow_gradient_is_faster(tuple(int(n) for n in kernel.shape)):
        return tf.nn.convolution(x, kernel, padding="SAME")
    return conv_same_written_out(x, kernel)


@tf.custom_gradient
def conv_same_written_out(x: tf.Tensor, kernel: tf.Tensor):
    """:func:`conv_same` with the gradients of this module's docstring, for any shape."""
    y = tf.nn.convolution(x, kernel, padding="SAME")

    def grad(dy):
        rank = len(kernel.shape) - 2
        flipped = tf.transpose(tf.reverse(kernel, list(range(rank))),
                               list(range(rank)) + [rank + 1, rank])
        dx = tf.nn.convolution(dy, flipped, padding="SAME")
        return dx, _kernel_gradient(x, dy, kernel.shape)

    return y, grad
