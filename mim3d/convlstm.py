"""A stacked ConvLSTM forecaster: the learned baseline 3D-MIM has to beat.

ConvLSTM (Shi et al. 2015, "Convolutional LSTM network: a machine learning approach for
precipitation nowcasting") is the recurrent convolutional model that PredRNN and MIM (Wang et al.
2019) extend; Hirashima et al. (2023, MNRAS 526, 4054) motivate 3D-MIM against it. Here it is
driven exactly like :class:`mim3d.model.MIM`, so the two differ only in the recurrent cells:

1. input: ``x̂_t = X_t`` for ``t < input_length``, else ``m_t ⊙ X_t + (1 − m_t) ⊙ Ŷ_{t−1}``
   (``m`` = scheduled-sampling mask; all zeros = autoregressive forecast);
2. layers ``l = 0 … L−1``: ``(Hˡ, Cˡ) = ConvLSTM_l(input, Hˡ, Cˡ)``, input ``x̂_t`` for
   ``l = 0`` and ``H^{l−1}_t`` above (the cells of ``keras.layers.ConvLSTM3D``, stepped one
   frame at a time because the input of step ``t`` is the output of step ``t − 1``);
3. output ``Ŷ_t = W_out · H^{L−1}_t + b`` (1×1×1 convolution, linear), predicting frame ``t + 1``.

It runs in the same patched (space-to-depth) space as MIM and reads the same
:class:`mim3d.config.ModelConfig` (``num_hidden``, ``filter_size``, ``patch_size``, grid,
``img_channel``, and ``precision`` and ``residual`` where the config has them;
``layer_norm``, ``per_channel_peephole`` and ``recompute`` do not apply).

Fair size: a ConvLSTM layer has far fewer weights than a MIM block, so the baseline gets the same
number of layers and a wider hidden state. :func:`matching_hidden` picks the width whose
parameter count is closest to a given MIM's (counted by building that MIM), e.g.
``matching_hidden(ModelConfig(num_hidden=(8, 8), filter_size=3, patch_size=2,
img_width=16))``; train the baseline with ``model: {architecture: convlstm, num_hidden: ...}``.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from mim3d.config import ModelConfig
from mim3d.errors import Mim3dError
from mim3d.patching import patch, unpatch

_RNN_LAYERS = {2: keras.layers.ConvLSTM2D, 3: keras.layers.ConvLSTM3D}


def convlstm_parameters(config: ModelConfig) -> int:
    """Number of weights of :class:`ConvLSTMForecaster` for ``config`` (without building it).

    Per layer: input kernel ``k^r · c_in · 4h``, recurrent kernel ``k^r · h · 4h``, bias ``4h``;
    then the 1×1 output ``h · c + c`` (``c`` = patched channels).
    """
    k = config.filter_size**config.rank
    c = config.patched_channels
    total, c_in = 0, c
    for h in config.num_hidden:
        total += k * c_in * 4 * h + k * h * 4 * h + 4 * h
        c_in = h
    return total + c_in * c + c


def matching_hidden(mim_config: ModelConfig, num_layers: int | None = None) -> tuple[int, ...]:
    """``num_hidden`` for a ConvLSTM with about as many weights as the MIM of ``mim_config``.

    Same number of layers as the MIM (or ``num_layers``), all of one width ``h``, with ``h`` the
    integer whose :func:`convlstm_parameters` is closest to the MIM's ``count_params()``.
    """
    from mim3d.model import MIM

    target = MIM(mim_config).count_params()
    n = mim_config.num_layers if num_layers is None else int(num_layers)
    if n < 1:
        raise Mim3dError(f"num_layers must be >= 1; got {num_layers}")

    def count(h: int) -> int:
        return convlstm_parameters(dataclasses.replace(mim_config, num_hidden=(h,) * n))

    h = 1
    while count(h) < target:
        h *= 2
    lo, hi = max(1, h // 2), h
    while hi - lo > 1:  # count() grows with h: bisect for the first h with count(h) >= target
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < target else (lo, mid)
    best = min((lo, hi), key=lambda v: abs(count(v) - target))
    return (best,) * n


@keras.saving.register_keras_serializable(package="mim3d")
class ConvLSTMForecaster(keras.Model):
    """Stacked ConvLSTM with MIM's interface: ``call(inputs, input_length, sampling_mask=None)``.

    Args (of ``call``): as :class:`mim3d.model.MIM`:
        inputs: ``(B, T, W, H, D, C)`` float32, physical grid, channels-last.
        input_length: number of context frames ``L`` (1 <= L < T).
        sampling_mask: optional mask for steps ``L … T−2``, ``(B, T−L−1)``, patched or physical
            frames; 1 feeds the true frame, 0 the model's previous output. None: all zeros.

    Returns:
        ``(B, T−1, W, H, D, C)``: frame ``j`` predicts input frame ``j + 1``.
    """

    def __init__(self, config: ModelConfig | dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if config is None:
            config = ModelConfig()
        elif isinstance(config, dict):
            config = ModelConfig.from_dict(config)
        self.config = config
        grid, c = config.patched_grid, config.patched_channels
        rnn = _RNN_LAYERS[config.rank]
        # a ModelConfig with a ``precision`` setting (mixed_bfloat16, ...) sets the cells' policy
        policy = keras.DTypePolicy(getattr(config, "precision", "float32"))
        self._cell_dtype = policy.compute_dtype
        self.cells = []
        c_in = c
        for layer, h in enumerate(config.num_hidden):
            # keras.layers.ConvLSTM3D's own cell class (the layer itself only loops over a
            # given sequence); named per layer and stepped by hand in unroll
            cell = type(rnn(h, config.filter_size, padding="same").cell)(
                rank=config.rank, filters=h, kernel_size=config.filter_size, padding="same",
                name=f"convlstm_{layer + 1}", dtype=policy)
            cell.build((None, *grid, c_in))
            self.cells.append(cell)
            c_in = h
        self.back_to_pixel = keras.layers.Dense(c, name="back_to_pixel",  # 1×1×1 convolution
                                                dtype=policy)
        self.back_to_pixel.build((None, *grid, c_in))
        self.built = True
        self._forward = None

    def check_inputs(self, shape, input_length: int | None = None) -> None:
        """Raise :class:`Mim3dError` unless ``shape`` is ``(B, T, *grid, C)`` for this model."""
        cfg = self.config
        want = (*cfg.grid, cfg.img_channel)
        shape = tuple(shape)
        if len(shape) != cfg.rank + 3:
            raise Mim3dError(
                f"expected inputs of rank {cfg.rank + 3}, (batch, time, "
                f"{', '.join('WHD'[:cfg.rank])}, channels) = (B, T, {', '.join(map(str, want))});"
                f" got shape {shape}. For one sequence add a batch axis (x[None]).")
        got = tuple(None if s is None else int(s) for s in shape[2:])
        if any(g is not None and g != w for g, w in zip(got, want, strict=True)):
            raise Mim3dError(
                f"the model expects frames of grid×channels {want}; got {got}. Resample the data "
                f"to the model's grid, select {cfg.img_channel} channel(s), or use a model "
                f"trained for this grid.")
        t = shape[1]
        if input_length is not None and t is not None and not 1 <= int(input_length) < int(t):
            raise Mim3dError(
                f"input_length must be at least 1 and less than the sequence length T={int(t)}; "
                f"got {input_length}. Give more frames or a shorter input_length.")

    def _mask_flags(self, sampling_mask, x_patched, input_length):
        """Full mask ``(B, T−1, …)`` broadcastable to patched frames: ones before L."""
        cfg = self.config
        b, t = tf.shape(x_patched)[0], tf.shape(x_patched)[1]
        ones_tail = [1] * (cfg.rank + 1)
        if sampling_mask is None:
            mask = tf.zeros(tf.concat([[b, t - 1 - input_length], ones_tail], 0), x_patched.dtype)
        else:
            mask = tf.cast(tf.convert_to_tensor(sampling_mask), x_patched.dtype)
            patched = (*cfg.patched_grid, cfg.patched_channels)
            physical = (*cfg.grid, cfg.img_channel)
            if mask.shape.rank == 2:
                mask = tf.reshape(mask, tf.concat([tf.shape(mask), ones_tail], 0))
            elif mask.shape.rank == cfg.rank + 3 and tuple(mask.shape[2:]) in (patched, physical):
                if tuple(mask.shape[2:]) != patched:
                    mask = patch(mask, cfg.patch_size, cfg.rank)
            else:
                raise Mim3dError(
                    f"sampling_mask must have shape (B, T-L-1), (B, T-L-1, *{patched}) or (B, "
                    f"T-L-1, *{physical}); got {tuple(mask.shape)}")
            n_in = tf.get_static_value(input_length)
            if None not in (mask.shape[1], x_patched.shape[1], n_in):
                n_expected = int(x_patched.shape[1]) - 1 - int(n_in)
                if int(mask.shape[1]) != n_expected:
                    raise Mim3dError(
                        f"sampling_mask covers {mask.shape[1]} steps, but T - input_length - 1 "
                        f"= {n_expected}; give one flag per predicted input step")
        head = tf.ones(tf.concat([[b, input_length], tf.shape(mask)[2:]], 0), mask.dtype)
        return tf.concat([head, mask], axis=1)

    def call(self, inputs, input_length=None, sampling_mask=None, training=None):
        cfg = self.config
        if input_length is None:
            raise Mim3dError("ConvLSTMForecaster needs input_length, the number of context "
                             "frames")
        self.check_inputs(inputs.shape,
                          input_length if isinstance(input_length, int | np.integer) else None)
        x = patch(tf.cast(tf.convert_to_tensor(inputs), self._cell_dtype), cfg.patch_size,
                  cfg.rank)
        input_length = tf.convert_to_tensor(input_length, tf.int32)
        mask = self._mask_flags(sampling_mask, x, input_length)
        return tf.cast(unpatch(self.unroll(x, mask), cfg.patch_size, cfg.rank), tf.float32)

    def forecast(self, inputs, input_length, sampling_mask=None) -> tf.Tensor:
        """Compiled forward (one trace for every B and T): same arguments as ``call``."""
        cfg = self.config
        self.check_inputs(inputs.shape, input_length)
        if self._forward is None:
            spec_x = tf.TensorSpec((None, None, *cfg.grid, cfg.img_channel), tf.float32)
            spec_m = tf.TensorSpec([None] * (cfg.rank + 3), tf.float32)

            def forward(x, input_length, mask):  # mask: (B, T−L−1, …) after the context
                xp = patch(tf.cast(x, self._cell_dtype), cfg.patch_size, cfg.rank)
                mask = tf.cast(mask, self._cell_dtype)
                head = tf.ones(tf.concat([tf.shape(mask)[:1], [input_length],
                                          tf.shape(mask)[2:]], 0), mask.dtype)
                y = self.unroll(xp, tf.concat([head, mask], axis=1))
                return tf.cast(unpatch(y, cfg.patch_size, cfg.rank), tf.float32)

            self._forward = tf.function(
                forward, input_signature=[spec_x, tf.TensorSpec((), tf.int32), spec_m])
        x = tf.convert_to_tensor(inputs, tf.float32)
        if sampling_mask is None:
            n = int(x.shape[0]), int(x.shape[1]) - 1 - int(input_length)
            mask = tf.zeros([*n, *[1] * (cfg.rank + 1)], tf.float32)
        else:
            xp = patch(x, cfg.patch_size, cfg.rank)
            mask = self._mask_flags(sampling_mask, xp, int(input_length))[:, int(input_length):]
        return self._forward(x, tf.constant(int(input_length), tf.int32), mask)

    def _step(self, x_in, state):
        """One time step: ``state`` = per-layer ``(H, C)`` pairs; returns ``(Ŷ, state)``."""
        new, below = [], x_in
        for cell, (h, c) in zip(self.cells, state, strict=True):
            below, (h, c) = cell(below, [h, c])  # [B, *grid', h]
            new.append((h, c))
        y = self.back_to_pixel(below)  # [B, *grid', C']
        if getattr(self.config, "residual", False):  # as MIM: predict the change of the input
            y = y + tf.cast(x_in, y.dtype)
        return y, new

    def unroll(self, x, mask):
        """Patched frames ``(B, T, *grid', C')`` and full mask → ``(B, T−1, *grid', C')``."""
        x0 = x[:, 0]
        state = []
        for h in self.config.num_hidden:
            zeros = tf.zeros(tf.concat([tf.shape(x0)[:-1], [h]], 0), x.dtype)
            state.append((zeros, zeros))
        y, state = self._step(x0, state)
        steps = tf.shape(x)[1] - 1
        outputs = tf.TensorArray(x.dtype, size=steps, element_shape=x.shape[:1] + x.shape[2:])
        outputs = outputs.write(0, y)

        def body(t, y_prev, state, outputs):
            m_t = mask[:, t]
            y, state = self._step(m_t * x[:, t] + (1 - m_t) * y_prev, state)
            return t + 1, y, state, outputs.write(t, y)

        _, _, _, outputs = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(1), y, state, outputs),
            parallel_iterations=1)
        perm = [1, 0] + list(range(2, len(x.shape)))
        return tf.transpose(outputs.stack(), perm)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(ModelConfig.from_dict(config.pop("config")), **config)

    def build(self, input_shape=None):  # weights are created in __init__
        self.built = True

