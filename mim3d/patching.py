"""Space-to-depth patching, exactly as the original ``preprocess.reshape_patch`` (3D-MIM).

For patch size ``p`` a voxel block ``p × p × p`` becomes the channel vector of one coarse voxel:

    X'[n, t, w, h, d, ((a·p + b)·p + c)·C + ch] = X[n, t, w·p + a, h·p + b, d·p + c, ch]

The channel index runs fastest, then the depth offset ``c``, then height ``b``, then width ``a``.
Works for any number of leading axes and any spatial rank (2D: ``(a·p + b)·C + ch``).
"""

from __future__ import annotations

import tensorflow as tf


def patch(x: tf.Tensor, p: int, rank: int = 3) -> tf.Tensor:
    """``(..., W, H, D, C)`` → ``(..., W/p, H/p, D/p, p³·C)``."""
    if p == 1:
        return x
    shape = tf.shape(x)
    lead = shape[: -(rank + 1)]
    sizes = [x.shape[-(rank + 1) + i] or shape[-(rank + 1) + i] for i in range(rank)]
    c = x.shape[-1]
    n_lead = len(x.shape) - rank - 1
    split = [s for n in sizes for s in (n // p, p)]
    y = tf.reshape(x, tf.concat([lead, split, [c]], 0))
    # (..., W', a, H', b, D', c, C) → (..., W', H', D', a, b, c, C)
    perm = list(range(n_lead))
    perm += [n_lead + 2 * i for i in range(rank)]
    perm += [n_lead + 2 * i + 1 for i in range(rank)] + [n_lead + 2 * rank]
    y = tf.transpose(y, perm)
    return tf.reshape(y, tf.concat([lead, [n // p for n in sizes], [p**rank * c]], 0))


def unpatch(x: tf.Tensor, p: int, rank: int = 3) -> tf.Tensor:
    """Inverse of :func:`patch`: ``(..., W', H', D', p³·C)`` → ``(..., W'p, H'p, D'p, C)``."""
    if p == 1:
        return x
    shape = tf.shape(x)
    lead = shape[: -(rank + 1)]
    sizes = [x.shape[-(rank + 1) + i] or shape[-(rank + 1) + i] for i in range(rank)]
    c = x.shape[-1] // p**rank
    n_lead = len(x.shape) - rank - 1
    y = tf.reshape(x, tf.concat([lead, sizes, [p] * rank, [c]], 0))
    # (..., W', H', D', a, b, c, C) → (..., W', a, H', b, D', c, C)
    perm = list(range(n_lead))
    for i in range(rank):
        perm += [n_lead + i, n_lead + rank + i]
    perm += [n_lead + 2 * rank]
    y = tf.transpose(y, perm)
    return tf.reshape(y, tf.concat([lead, [n * p for n in sizes], [c]], 0))
