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
``img_channel``; ``layer_norm`` and ``per_channel_peephole`` do not apply).

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
from mim3d.model import MIM
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

    # The scheduled-sampling mask and the compiled forecast are MIM's, unchanged: they only read
    # ``self.config`` and call ``self.unroll``.
    _mask_flags = MIM._mask_flags
    forecast = MIM.forecast

    def __init__(self, config: ModelConfig | dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if config is None:
            config = ModelConfig()
        elif isinstance(config, dict):
            config = ModelConfig.from_dict(config)
        self.config = config
        grid, c = config.patched_grid, config.patched_channels
        rnn = _RNN_LAYERS[config.rank]
        self.cells = []
        c_in = c
        for layer, h in enumerate(config.num_hidden):
            # keras.layers.ConvLSTM3D's own cell class (the layer itself only loops over a
            # given sequence); named per layer and stepped by hand in unroll
            cell = type(rnn(h, config.filter_size, padding="same").cell)(
                rank=config.rank, filters=h, kernel_size=config.filter_size, padding="same",
                name=f"convlstm_{layer + 1}")
            cell.build((None, *grid, c_in))
            self.cells.append(cell)
            c_in = h
        self.back_to_pixel = keras.layers.Dense(c, name="back_to_pixel")  # 1×1×1 convolution
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

    def call(self, inputs, input_length=None, sampling_mask=None, training=None):
        cfg = self.config
        if input_length is None:
            raise Mim3dError("ConvLSTMForecaster needs input_length, the number of context "
                             "frames")
        self.check_inputs(inputs.shape,
                          input_length if isinstance(input_length, int | np.integer) else None)
        x = patch(tf.convert_to_tensor(inputs, self.compute_dtype), cfg.patch_size, cfg.rank)
        input_length = tf.convert_to_tensor(input_length, tf.int32)
        mask = self._mask_flags(sampling_mask, x, input_length)
        return unpatch(self.unroll(x, mask), cfg.patch_size, cfg.rank)

    def _step(self, x_in, state):
        """One time step: ``state`` = per-layer ``(H, C)`` pairs; returns ``(Ŷ, state)``."""
        new, below = [], x_in
        for cell, (h, c) in zip(self.cells, state, strict=True):
            below, (h, c) = cell(below, [h, c])  # [B, *grid', h]
            new.append((h, c))
        return self.back_to_pixel(below), new  # [B, *grid', C']

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

