"""The recurrent cells of 3D-MIM, written once for any spatial rank (2D MIM comes free).

Equations follow the original 3D-MIM code (kyaFUK/3D-MIM; see ``MAPPING.md`` §2 of the
reference) and MIM (Wang et al. 2019, arXiv:1811.07490):

* :class:`SpatioTemporalLSTMCell`: layer 0, ``(x, H, C, M) → (H', C', M')``.
* :class:`MIMNCell`: the non-stationary module. As ``MIMN`` it carries the difference stream
  ``(u, D, N) → (D', N')``; inside a MIM block, as ``MIM-S``, it replaces the forget gate.
* :class:`MIMBlockCell`: layers >= 1, ``(x, d, H, C, M, S) → (H', C', M', S')``.

Shapes are channels-last, ``[B, *grid, channels]`` with ``grid = (W', H', D')`` for rank 3.
Each gate convolution is followed by :class:`TensorLayerNorm` (statistics over all non-batch
axes, shared by the gate chunks; per-channel scale and offset). Every forget gate adds +1.
Weights carry the original TF1 variable names, so a checkpoint maps onto them one to one
(see :meth:`original_weights`).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from mim3d.conv import conv_same
from mim3d.recompute import recomputed

FORGET_BIAS = 1.0
LN_EPSILON = 1e-5


def _uniform(limit: float) -> keras.initializers.Initializer:
    return keras.initializers.RandomUniform(-limit, limit)


def _channel_glorot(c_in: int, c_out: int) -> keras.initializers.Initializer:
    """The original's ``w_initializer``: U(±sqrt(6 / (c_in + c_out))), channels only."""
    return _uniform(math.sqrt(6.0 / (c_in + c_out)))


@tf.custom_gradient
def tensor_layer_norm(z: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor):
    """``[B, *grid, C]`` → the same shape: ``z · inv + (offset − μ · inv)``, ``inv = scale /
    sqrt(v + 1e-5)``, μ and v per sample over all non-batch axes; ``scale``, ``offset`` ``[C]``.

    The forward pass is the original's operations; the gradient is written out (the textbook
    layer-norm backward pass): a handful of passes over ``z`` instead of the ~15 of automatic
    differentiation through ``tf.nn.moments``, and only ``z`` and two scalars per sample kept.
    """
    axes = list(range(1, len(z.shape)))
    mean, var = tf.nn.moments(z, axes, keepdims=True)
    rstd = tf.math.rsqrt(var + LN_EPSILON)
    inv = scale * rstd
    out = z * inv + (offset - mean * inv)

    def grad(dy):
        n = math.prod(int(d) for d in z.shape[1:])
        per_sample = [-1] + [1] * (len(axes) - 1)
        r = tf.reduce_sum(dy, axes[:-1])                        # Σ dy       [B, C]
        mu, rs = tf.reshape(mean, [-1, 1]), tf.reshape(rstd, [-1, 1])
        q = (tf.reduce_sum(dy * z, axes[:-1]) - mu * r) * rs    # Σ dy · x̂   [B, C]
        m1 = tf.reduce_sum(r * scale, -1, keepdims=True) / n    # mean of dy · scale      [B, 1]
        m2 = tf.reduce_sum(q * scale, -1, keepdims=True) / n    # mean of dy · scale · x̂  [B, 1]
        # dz = rstd · (dy · scale − m1 − x̂ · m2), x̂ = (z − μ) · rstd, as dy · inv + z · a + b
        a = -m2 * rs * rs
        b = (m2 * mu * rs - m1) * rs
        dz = dy * inv + (z * tf.reshape(a, per_sample + [1]) + tf.reshape(b, per_sample + [1]))
        return dz, tf.reduce_sum(q, 0), tf.reduce_sum(r, 0)

    return out, grad


@keras.saving.register_keras_serializable(package="mim3d")
class ConvNorm(keras.layers.Layer):
    """Stride-1 'same' convolution with bias, then the optional tensor layer norm.

    ``LN(z) = z · inv + (b − μ · inv)``, ``inv = s / sqrt(v + 1e-5)``, with μ and the population
    variance v over all non-batch axes of ``z`` (all gate chunks together), ``s`` and ``b`` per
    channel (``TensorLayerNorm.py`` of the original).

    Input ``[B, *grid, c_in]`` → output ``[B, *grid, filters]``.
    """

    def __init__(self, filters: int, kernel_size: int, layer_norm: bool = True,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.layer_norm = bool(layer_norm)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        rank = len(input_shape) - 2
        c_in = int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel", shape=(self.kernel_size,) * rank + (c_in, self.filters),
            initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        if self.layer_norm:
            self.ln_offset = self.add_weight(name="b", shape=(self.filters,),
                                             initializer="zeros")
            self.ln_scale = self.add_weight(name="s", shape=(self.filters,),
                                            initializer="ones")

    def call(self, x):
        return self.normalize(self.convolve(x))

    def convolve(self, x):
        """The convolution with bias alone (before the layer norm)."""
        return tf.nn.bias_add(conv_same(x, tf.convert_to_tensor(self.kernel)), self.bias)

    @property
    def norm_weights(self) -> list:
        """The layer norm's scale and offset ([] without a layer norm)."""
        return [self.ln_scale, self.ln_offset] if self.layer_norm else []

    def normalize(self, z):
        """The layer norm alone, applied to a convolution output ``z`` (identity without it)."""
        if not self.layer_norm:
            return z
        scale, offset = (tf.convert_to_tensor(w.value) for w in self.norm_weights)
        if z.dtype != tf.float32:  # half precision: statistics and normalisation in float32
            out = tensor_layer_norm(tf.cast(z, tf.float32), tf.cast(scale, tf.float32),
                                    tf.cast(offset, tf.float32))
            return tf.cast(out, z.dtype)
        return tensor_layer_norm(z, scale, offset)

    def original_weights(self, prefix: str) -> dict:
        """``{original TF1 name: variable}`` for ``prefix`` = ``<scope>/<conv name>``."""
        names = {f"{prefix}/kernel": self.kernel, f"{prefix}/bias": self.bias}
        if self.layer_norm:
            names[f"{prefix}b"] = self.ln_offset
            names[f"{prefix}s"] = self.ln_scale
        return names

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "layer_norm": self.layer_norm,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


def fused_conv(convs: list[ConvNorm], x: tf.Tensor) -> list[tf.Tensor]:
    """``[conv.convolve(x) for conv in convs]`` as one convolution with the kernels side by side.

    Exactly the same values (each output channel is the same sum); each part then gets its own
    layer norm (:meth:`ConvNorm.normalize`), so the statistics stay per gate convolution as in
    the original. One wide convolution runs faster than several narrow ones on CPU
    (``bench/README.md``).
    """
    kernel = tf.concat([tf.cast(tf.convert_to_tensor(c.kernel.value), x.dtype) for c in convs], -1)
    bias = tf.concat([tf.cast(tf.convert_to_tensor(c.bias.value), x.dtype) for c in convs], -1)
    z = tf.nn.bias_add(conv_same(x, kernel), bias)
    return tf.split(z, [c.filters for c in convs], axis=-1)


class _Cell(keras.layers.Layer):
    """Shared arguments of the three cells."""

    def __init__(self, num_hidden: int, filter_size: int, grid: tuple[int, ...],
                 layer_norm: bool = True, per_channel_peephole: bool = False,
                 recompute_gates: bool = False, **kwargs):
        super().__init__(**kwargs)
        if int(num_hidden) < 1:
            raise ValueError(f"num_hidden must be >= 1; received num_hidden={num_hidden}")
        if int(filter_size) < 1 or int(filter_size) % 2 == 0:
            raise ValueError(f"filter_size must be odd and >= 1; received {filter_size}")
        self.num_hidden = int(num_hidden)
        self.filter_size = int(filter_size)
        self.grid = tuple(int(n) for n in grid)
        self.layer_norm = bool(layer_norm)
        self.per_channel_peephole = bool(per_channel_peephole)
        self.recompute_gates = bool(recompute_gates)

    @property
    def rank(self) -> int:
        return len(self.grid)

    def _conv(self, filters, name, c_in, kernel_size=None, layer_norm=None, init=None):
        conv = ConvNorm(filters, kernel_size or self.filter_size,
                        self.layer_norm if layer_norm is None else layer_norm,
                        kernel_initializer=init or _channel_glorot(c_in, filters), name=name,
                        dtype=self.dtype_policy)
        conv.build((None, *self.grid, c_in))
        return conv

    def _gated(self, gates, variables, *tensors):
        """``gates(*tensors)``: the layer norms and gate arithmetic that follow the cell's
        convolutions. With ``recompute_gates`` only ``tensors`` (convolution outputs and states)
        are stored for the backward pass, which recomputes the rest (``ModelConfig.recompute``)."""
        if self.recompute_gates:
            return recomputed(gates, variables)(*tensors)
        return gates(*tensors)

    def _peephole(self, name: str, channels: int):
        shape = (channels,) if self.per_channel_peephole else (*self.grid, channels)
        return self.add_weight(name=name, shape=shape, initializer="glorot_uniform")

    def get_config(self):
        return {**super().get_config(), "num_hidden": self.num_hidden,
                "filter_size": self.filter_size, "grid": list(self.grid),
                "layer_norm": self.layer_norm,
                "per_channel_peephole": self.per_channel_peephole,
                "recompute_gates": self.recompute_gates}


@keras.saving.register_keras_serializable(package="mim3d")
class SpatioTemporalLSTMCell(_Cell):
    """Layer 0 of 3D-MIM (PredRNN's ST-LSTM; original ``SpatioTemporalLSTMCellv2``).

    ``call(x, h, c, m)``: x ``[B, *grid, c_in]``; h, c, m ``[B, *grid, nh]`` →
    ``(h', c', m')``, each ``[B, *grid, nh]``.
    """

    def build(self, input_shape):
        nh, c_in = self.num_hidden, int(input_shape[-1])
        self.time_state_to_state = self._conv(4 * nh, "time_state_to_state", nh)
        self.spatio_state_to_state = self._conv(4 * nh, "spatio_state_to_state", nh)
        self.input_to_state = self._conv(4 * nh, "input_to_state", c_in)
        self.cell_reduce = self._conv(nh, "cell_reduce", 2 * nh, kernel_size=1,
                                      layer_norm=False, init="glorot_uniform")

    def call(self, x, h, c, m):
        convs = (self.input_to_state, self.time_state_to_state, self.spatio_state_to_state)
        weights = [w for conv in convs for w in conv.norm_weights]
        weights += [self.cell_reduce.kernel, self.cell_reduce.bias]
        return self._gated(self._gates, weights, self.input_to_state.convolve(x),
                           self.time_state_to_state.convolve(h),
                           self.spatio_state_to_state.convolve(m), c, m)

    def _gates(self, z_x, z_t, z_s, c, m):
        i_x, g_x, f_x, o_x = tf.split(self.input_to_state.normalize(z_x), 4, axis=-1)
        i_t, g_t, f_t, o_t = tf.split(self.time_state_to_state.normalize(z_t), 4, axis=-1)
        i_s, g_s, f_s, o_s = tf.split(self.spatio_state_to_state.normalize(z_s), 4, axis=-1)
        i = tf.sigmoid(i_x + i_t)
        i_ = tf.sigmoid(i_x + i_s)
        g = tf.tanh(g_x + g_t)
        g_ = tf.tanh(g_x + g_s)
        f = tf.sigmoid(f_x + f_t + FORGET_BIAS)
        f_ = tf.sigmoid(f_x + f_s + FORGET_BIAS)
        o = tf.sigmoid(o_x + o_t + o_s)
        new_m = f_ * m + i_ * g_
        new_c = f * c + i * g
        new_h = o * tf.tanh(self.cell_reduce(tf.concat([new_c, new_m], axis=-1)))
        return new_h, new_c, new_m

    def original_weights(self, scope: str) -> dict:
        names = {}
        for conv in ("time_state_to_state", "spatio_state_to_state", "input_to_state",
                     "cell_reduce"):
            names.update(getattr(self, conv).original_weights(f"{scope}/{conv}"))
        return names


@keras.saving.register_keras_serializable(package="mim3d")
class MIMNCell(_Cell):
    """The non-stationary module (original ``MIMN``; also ``MIMBlock.MIMS``).

    ``call(x, h, c)``: x ``[B, *grid, c_in]``, h and c ``[B, *grid, nh]`` → ``(h', c')``.
    Peepholes: ``c_t_weight`` ``[*grid, 2nh]`` (first half feeds i, second f) and
    ``oc_weight`` ``[*grid, nh]``; ``[2nh]`` and ``[nh]`` with ``per_channel_peephole``.

    Args:
        conv_init: None for the MIM-S initialiser (U(±sqrt(6/(c_in+c_out)))), or a float
            ``a`` for U(±a) (the original MIMN uses 0.001).
    """

    def __init__(self, *args, conv_init: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.conv_init = conv_init

    def build(self, input_shape):
        nh, c_in = self.num_hidden, int(input_shape[-1])
        init = None if self.conv_init is None else _uniform(self.conv_init)
        self.state_to_state = self._conv(4 * nh, "state_to_state", nh, init=init)
        self.c_t_weight = self._peephole("c_t_weight", 2 * nh)
        self.input_to_state = self._conv(4 * nh, "input_to_state", c_in, init=init)
        self.oc_weight = self._peephole("oc_weight", nh)

    def call(self, x, h, c, x_gates=None):
        """``x_gates``: ``input_to_state.convolve(x)`` when already computed (fused)."""
        z_h = self.state_to_state.convolve(h)
        z_x = self.input_to_state.convolve(x) if x_gates is None else x_gates
        weights = self.state_to_state.norm_weights + self.input_to_state.norm_weights
        return self._gated(self._gates, weights + [self.c_t_weight, self.oc_weight], z_h, z_x, c)

    def _gates(self, z_h, z_x, c):
        i_h, g_h, f_h, o_h = tf.split(self.state_to_state.normalize(z_h), 4, axis=-1)
        # the original's concat([c, c]) · c_t_weight as two products (no 2·nh-channel copy of c
        # to store); weights cast explicitly, as a recomputation runs outside the autocast scope
        w_i, w_f = tf.split(tf.cast(self.c_t_weight, c.dtype), 2, axis=-1)
        i_c, f_c = c * w_i, c * w_f
        i_x, g_x, f_x, o_x = tf.split(self.input_to_state.normalize(z_x), 4, axis=-1)
        i = tf.sigmoid(i_h + i_c + i_x)
        f = tf.sigmoid(f_h + f_c + f_x + FORGET_BIAS)
        g = g_h + g_x
        new_c = f * c + i * tf.tanh(g)
        o = tf.sigmoid(o_h + o_x + new_c * tf.cast(self.oc_weight, new_c.dtype))
        new_h = o * tf.tanh(new_c)
        return new_h, new_c

    def original_weights(self, scope: str) -> dict:
        names = {f"{scope}/c_t_weight": self.c_t_weight, f"{scope}/oc_weight": self.oc_weight}
        names.update(self.state_to_state.original_weights(f"{scope}/state_to_state"))
        names.update(self.input_to_state.original_weights(f"{scope}/input_to_state"))
        return names

    def get_config(self):
        return {**super().get_config(), "conv_init": self.conv_init}


@keras.saving.register_keras_serializable(package="mim3d")
class MIMBlockCell(_Cell):
    """Layers >= 1 of 3D-MIM (original ``MIMBlock``).

    ``call(x, d, h, c, m, s)``: x = H^{l-1}_t, d = D^l_t (difference stream), h = H^l_{t-1},
    c = C^l_{t-1}, m = zig-zag memory, s = MIM-S cell state; all ``[B, *grid, nh]`` →
    ``(h', c', m', s')``. The temporal forget gate is replaced by MIM-S: ``C' = T + i ⊙ g``
    where ``(T, S') = MIMS(x=d, h=c, c=s)``.
    """

    def build(self, input_shape):
        nh, c_in = self.num_hidden, int(input_shape[-1])
        self.time_state_to_state = self._conv(3 * nh, "time_state_to_state", nh)
        self.spatio_state_to_state = self._conv(4 * nh, "spatio_state_to_state", nh)
        self.input_to_state = self._conv(4 * nh, "input_to_state", c_in)
        self.mims = MIMNCell(nh, self.filter_size, self.grid, self.layer_norm,
                             self.per_channel_peephole, self.recompute_gates, name="mims",
                             dtype=self.dtype_policy)
        self.mims.build((None, *self.grid, nh))
        self.cell_reduce = self._conv(nh, "cell_reduce", 2 * nh, kernel_size=1,
                                      layer_norm=False, init="glorot_uniform")

    def call(self, x, d, h, c, m, s, mims_x_gates=None):
        """``mims_x_gates``: ``mims.input_to_state.convolve(d)`` when already computed (fused)."""
        z_s = self.spatio_state_to_state.convolve(m)
        z_t = self.time_state_to_state.convolve(h)
        z_x = self.input_to_state.convolve(x)
        t_out, new_s = self.mims(d, c, s, x_gates=mims_x_gates)
        convs = (self.spatio_state_to_state, self.time_state_to_state, self.input_to_state)
        weights = [w for conv in convs for w in conv.norm_weights]
        weights += [self.cell_reduce.kernel, self.cell_reduce.bias]
        new_h, new_c, new_m = self._gated(self._gates, weights, z_s, z_t, z_x, t_out, m)
        return new_h, new_c, new_m, new_s

    def _gates(self, z_s, z_t, z_x, t_out, m):
        i_s, g_s, f_s, o_s = tf.split(self.spatio_state_to_state.normalize(z_s), 4, axis=-1)
        i_t, g_t, o_t = tf.split(self.time_state_to_state.normalize(z_t), 3, axis=-1)
        i_x, g_x, f_x, o_x = tf.split(self.input_to_state.normalize(z_x), 4, axis=-1)
        i = tf.sigmoid(i_x + i_t)
        i_ = tf.sigmoid(i_x + i_s)
        g = tf.tanh(g_x + g_t)
        g_ = tf.tanh(g_x + g_s)
        f_ = tf.sigmoid(f_x + f_s + FORGET_BIAS)
        o = tf.sigmoid(o_x + o_t + o_s)
        new_m = f_ * m + i_ * g_
        new_c = t_out + i * g
        new_h = o * tf.tanh(self.cell_reduce(tf.concat([new_c, new_m], axis=-1)))
        return new_h, new_c, new_m

    def original_weights(self, scope: str) -> dict:
        names = {}
        for conv in ("time_state_to_state", "spatio_state_to_state", "input_to_state",
                     "cell_reduce"):
            names.update(getattr(self, conv).original_weights(f"{scope}/{conv}"))
        names.update(self.mims.original_weights(f"{scope}/{scope.rsplit('/', 1)[-1]}"))
        return names
