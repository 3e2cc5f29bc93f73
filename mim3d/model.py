"""The 3D-MIM network as a Keras 3 model (Hirashima et al. 2023, MNRAS 526, 4054).

One forward pass unrolls ``T − 1`` time steps (original ``mim.py``; reference ``MAPPING.md`` §3):

1. input: ``x̂_t = X_t`` for ``t < input_length``, else ``m_t ⊙ X_t + (1 − m_t) ⊙ Ŷ_{t−1}``
   (``m`` = scheduled-sampling mask; all zeros = autoregressive forecast, the original's test mode);
2. layer 0, ST-LSTM: ``(H⁰, C⁰, M) = STLSTM(x̂_t, H⁰, C⁰, M)``; M arrives from the top layer of
   the previous step (the zig-zag memory);
3. layers ``l = 1 … L−1``: for ``t ≥ 1`` the difference stream
   ``(Dˡ, Nˡ) = MIMN_l(u, Dˡ, Nˡ)`` with ``u = H⁰_t − H⁰_{t−1}`` (l = 1) or ``D^{l−1}_t``;
   then ``(Hˡ, Cˡ, M, Sˡ) = MIMBlock_l(H^{l−1}_t, Dˡ, Hˡ, Cˡ, M, Sˡ)``. At ``t = 0`` D stays 0;
4. output ``Ŷ_t = W_out * H^{L−1}_t + b`` (1×1×1 conv, linear); ``Ŷ_t`` predicts frame ``t + 1``.

The model runs in patched (space-to-depth) space; inputs and outputs are physical-grid tensors
``(B, T, W, H, D, C)``. Batch size and sequence length are dynamic: the time loop is a
``tf.while_loop``, so one compiled graph serves every ``B`` and ``T``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from mim3d.cells import (
    ConvNorm,
    MIMBlockCell,
    MIMNCell,
    SpatioTemporalLSTMCell,
    _channel_glorot,
    fused_conv,
)
from mim3d.config import ModelConfig
from mim3d.forecaster import Forecaster
from mim3d.recompute import recomputed, with_weights

MIMN_CONV_INIT = 0.001  # the original MIMN's kernel initialiser U(±0.001)


@keras.saving.register_keras_serializable(package="mim3d")
class MIM(Forecaster):
    """3D-MIM (Hirashima et al. 2023) with :class:`Forecaster`'s interface:
    ``call(inputs, input_length, sampling_mask=None)`` → ``(B, T−1, W, H, D, C)``."""

    def __init__(self, config: ModelConfig | dict | None = None, **kwargs):
        super().__init__(config, **kwargs)
        config = self.config
        nh = config.num_hidden[0]
        grid, c = config.patched_grid, config.patched_channels
        policy = self.cell_policy
        common = dict(filter_size=config.filter_size, grid=grid, layer_norm=config.layer_norm,
                      per_channel_peephole=config.per_channel_peephole,
                      recompute_gates=config.recompute == "gates", dtype=policy)
        self.stlstm = SpatioTemporalLSTMCell(nh, name="stlstm_1", **common)
        self.blocks = [MIMBlockCell(nh, name=f"stlstm_{l + 1}", **common)
                       for l in range(1, config.num_layers)]
        self.diffs = [MIMNCell(nh, conv_init=MIMN_CONV_INIT, name=f"stlstm_diff{l}", **common)
                      for l in range(1, config.num_layers)]
        self.back_to_pixel = ConvNorm(c, 1, layer_norm=False,
                                      kernel_initializer=_channel_glorot(nh, c),
                                      name="back_to_pixel", dtype=policy)
        self.stlstm.build((None, *grid, c))
        for block, diff in zip(self.blocks, self.diffs, strict=True):
            block.build((None, *grid, nh))
            diff.build((None, *grid, nh))
        self.back_to_pixel.build((None, *grid, nh))
        self.built = True
        self.fuse = True  # fuse convolutions of one input (exact; False: one per gate, tests)

    def grid_hint(self) -> str:
        if self.config.per_channel_peephole:
            return ""
        return " (per-voxel peepholes fix the grid; per_channel_peephole=True does not)"

    # ------------------------------------------------------------------ one time step
    def _zeros(self, x_t):
        nh = self.config.num_hidden[0]
        return tf.zeros(tf.concat([tf.shape(x_t)[:-1], [nh]], 0), x_t.dtype)

    def _step(self, x_in, state, first: bool):
        """One time step. ``state`` = (H, C, S, D, N, M) with per-layer lists."""
        h, c, s, d, n, m = (list(v) if isinstance(v, list | tuple) else v for v in state)
        n_layers = self.config.num_layers
        h0_prev = h[0]
        h[0], c[0], m = self.stlstm(x_in, h[0], c[0], m)
        diff_gates = None
        for l in range(1, n_layers):
            if not first:  # the difference stream starts at t = 1 (D stays 0 at t = 0)
                u = h[0] - h0_prev if l == 1 else d[l - 2]
                d[l - 1], n[l - 1] = self.diffs[l - 1](u, d[l - 1], n[l - 1],
                                                       x_gates=diff_gates)
            mims_gates = diff_gates = None
            if self.fuse and not first and l + 1 < n_layers:
                # Dˡ feeds MIM-S of block l and MIMN l+1: one convolution for both
                mims_gates, diff_gates = fused_conv(
                    [self.blocks[l - 1].mims.input_to_state, self.diffs[l].input_to_state],
                    d[l - 1])
            h[l], c[l], m, s[l - 1] = self.blocks[l - 1](h[l - 1], d[l - 1], h[l], c[l], m,
                                                         s[l - 1], mims_x_gates=mims_gates)
        y = self.back_to_pixel(h[-1])
        if self.config.residual:  # beyond the original: predict the change of the input frame
            y = y + tf.cast(x_in, y.dtype)
        return y, (h, c, s, d, n, m)

    def _step_fn(self, first: bool):
        """``_step`` on flat tensors, with the weights read once (outside the time loop, so the
        loop does not store a copy of every weight per step for the backward pass). With
        ``config.recompute == "steps"`` the whole step is recomputed in the backward pass."""

        def step(x_in, *flat):
            state = tf.nest.pack_sequence_as(self._state_structure, list(flat))
            y, new_state = self._step(x_in, state, first=first)
            return (y, *tf.nest.flatten(new_state))

        variables = list(self.trainable_variables)
        if self.config.recompute == "steps":
            step = recomputed(step, variables)
        return with_weights(step, variables)

    def initial_state(self, x0):
        n_layers = self.config.num_layers
        zeros = self._zeros(x0)
        state = ([zeros] * n_layers, [zeros] * n_layers, [zeros] * (n_layers - 1),
                 [zeros] * (n_layers - 1), [zeros] * (n_layers - 1), zeros)
        self._state_structure = state
        return state

    def step_functions(self, state):
        def wrap(step):
            def run(x_in, state):
                y, *flat = step(x_in, *tf.nest.flatten(state))
                return y, tf.nest.pack_sequence_as(self._state_structure, flat)
            return run

        return wrap(self._step_fn(True)), wrap(self._step_fn(False))

    def original_weights(self) -> dict:
        """``{original TF1 checkpoint name: variable}`` for every model weight."""
        names = self.stlstm.original_weights("predrnn/stlstm_1")
        for l, (block, diff) in enumerate(zip(self.blocks, self.diffs, strict=True), start=1):
            names.update(diff.original_weights(f"predrnn/stlstm_diff{l}"))
            names.update(block.original_weights(f"predrnn/stlstm_{l + 1}"))
        names.update(self.back_to_pixel.original_weights("predrnn/back_to_pixel"))
        return names


def l2_loss(generated: tf.Tensor, inputs: tf.Tensor) -> tf.Tensor:
    """The original's loss: ``½ Σ (Ŷ − X[:, 1:])²`` over all ``T − 1`` frames (``tf.nn.l2_loss``)."""
    return tf.nn.l2_loss(generated - tf.cast(inputs[:, 1:], generated.dtype))
