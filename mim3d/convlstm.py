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
import tensorflow as tf

from mim3d.config import ModelConfig
from mim3d.errors import Mim3dError
from mim3d.forecaster import Forecaster

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
class ConvLSTMForecaster(Forecaster):
    """Stacked ConvLSTM with :class:`Forecaster`'s (and so MIM's) interface:
    ``call(inputs, input_length, sampling_mask=None)`` → ``(B, T−1, W, H, D, C)``."""

    def __init__(self, config: ModelConfig | dict | None = None, **kwargs):
        super().__init__(config, **kwargs)
        config = self.config
        grid, c = config.patched_grid, config.patched_channels
        rnn = _RNN_LAYERS[config.rank]
        policy = self.cell_policy
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

    def _step(self, x_in, state):
        """One time step: ``state`` = per-layer ``(H, C)`` pairs; returns ``(Ŷ, state)``."""
        new, below = [], x_in
        for cell, (h, c) in zip(self.cells, state, strict=True):
            below, (h, c) = cell(below, [h, c])  # [B, *grid', h]
            new.append((h, c))
        y = self.back_to_pixel(below)  # [B, *grid', C']
        if self.config.residual:  # as MIM: predict the change of the input
            y = y + tf.cast(x_in, y.dtype)
        return y, new

    def initial_state(self, x0):
        state = []
        for h in self.config.num_hidden:
            zeros = tf.zeros(tf.concat([tf.shape(x0)[:-1], [h]], 0), x0.dtype)
            state.append((zeros, zeros))
        return state

    def step_functions(self, state):
        return self._step, self._step
