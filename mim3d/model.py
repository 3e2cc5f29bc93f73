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
import numpy as np
import tensorflow as tf

from mim3d.cells import (
    ConvNorm,
    MIMBlockCell,
    MIMNCell,
    SpatioTemporalLSTMCell,
    _channel_glorot,
    fused_conv_norm,
)
from mim3d.config import ModelConfig
from mim3d.errors import Mim3dError
from mim3d.patching import patch, unpatch

MIMN_CONV_INIT = 0.001  # the original MIMN's kernel initialiser U(±0.001)


@keras.saving.register_keras_serializable(package="mim3d")
class MIM(keras.Model):
    """3D-MIM: ``call(inputs, input_length, sampling_mask=None)``.

    Args (of ``call``):
        inputs: ``(B, T, W, H, D, C)`` float32, physical grid, channels-last.
        input_length: number of context frames ``L`` (1 <= L < T), int or int32 scalar tensor.
        sampling_mask: optional scheduled-sampling mask for steps ``L … T−2``, one of
            ``(B, T−L−1)`` (one flag per sample and step), ``(B, T−L−1, W', H', D', p³C)``
            (the original's ``real_input_flag``, patched) or ``(B, T−L−1, W, H, D, C)``.
            1 feeds the true frame, 0 the model's previous output. None: all zeros.

    Returns:
        ``(B, T−1, W, H, D, C)``: the generated frames; frame ``j`` predicts input frame ``j+1``.
    """

    def __init__(self, config: ModelConfig | dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if config is None:
            config = ModelConfig()
        elif isinstance(config, dict):
            config = ModelConfig.from_dict(config)
        self.config = config
        nh = config.num_hidden[0]
        grid, c = config.patched_grid, config.patched_channels
        policy = keras.DTypePolicy(config.precision)
        self._cell_dtype = policy.compute_dtype
        common = dict(filter_size=config.filter_size, grid=grid, layer_norm=config.layer_norm,
                      per_channel_peephole=config.per_channel_peephole, dtype=policy)
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
        self._forward = None
        self.fuse = True  # fuse convolutions of one input (exact; False: one per gate, tests)

    # ------------------------------------------------------------------ validation
    def check_inputs(self, shape, input_length: int | None = None) -> None:
        """Raise :class:`Mim3dError` unless ``shape`` is ``(B, T, *grid, C)`` for this model."""
        cfg = self.config
        want = (*cfg.grid, cfg.img_channel)
        shape = tuple(shape)
        if len(shape) != cfg.rank + 3:
            raise Mim3dError(
                f"expected inputs of rank {cfg.rank + 3}, (batch, time, {', '.join('WHD'[:cfg.rank])},"
                f" channels) = (B, T, {', '.join(map(str, want))}); got shape {shape}. For one "
                f"sequence add a batch axis (x[None])."
            )
        got = tuple(None if s is None else int(s) for s in shape[2:])
        if any(g is not None and g != w for g, w in zip(got, want, strict=True)):
            raise Mim3dError(
                f"the model expects frames of grid×channels {want}; got {got}. "
                f"Resample the data to the model's grid, select {cfg.img_channel} channel(s), or "
                f"use a model trained for this grid"
                + (" (per-voxel peepholes fix the grid; per_channel_peephole=True does not)"
                   if got[:-1] != want[:-1] and not cfg.per_channel_peephole else "")
            )
        t = shape[1]
        if input_length is not None and t is not None:
            t = int(t)
            if not 1 <= int(input_length) < t:
                raise Mim3dError(
                    f"input_length must be at least 1 and less than the sequence length T={t}; "
                    f"got {input_length}. Give more frames or a shorter input_length."
                )

    def _mask_flags(self, sampling_mask, x_patched, input_length):
        """Full mask ``(B, T−1, …)`` broadcastable to patched frames: ones before L."""
        cfg = self.config
        b = tf.shape(x_patched)[0]
        t = tf.shape(x_patched)[1]
        ones_tail = [1] * (cfg.rank + 1)
        if sampling_mask is None:
            mask = tf.zeros(tf.concat([[b, t - 1 - input_length], ones_tail], 0), x_patched.dtype)
        else:
            mask = tf.cast(tf.convert_to_tensor(sampling_mask), x_patched.dtype)
            if mask.shape.rank == 2:
                mask = tf.reshape(mask, tf.concat([tf.shape(mask), ones_tail], 0))
            elif mask.shape.rank == cfg.rank + 3:
                patched = (*cfg.patched_grid, cfg.patched_channels)
                physical = (*cfg.grid, cfg.img_channel)
                tail = tuple(mask.shape[2:])
                if tail == physical and tail != patched:
                    mask = patch(mask, cfg.patch_size, cfg.rank)
                elif tail != patched:
                    raise Mim3dError(
                        f"sampling_mask frames must be {patched} (patched, as the original's "
                        f"real_input_flag) or {physical}; got {tail}"
                    )
            else:
                raise Mim3dError(
                    f"sampling_mask must have shape (B, T-L-1) or (B, T-L-1, "
                    f"{', '.join(map(str, (*cfg.patched_grid, cfg.patched_channels)))}); "
                    f"got {tuple(mask.shape)}"
                )
            n_in = tf.get_static_value(input_length)
            if mask.shape[1] is not None and x_patched.shape[1] is not None and n_in is not None:
                n_expected = int(x_patched.shape[1]) - 1 - int(n_in)
                if int(mask.shape[1]) != n_expected:
                    raise Mim3dError(
                        f"sampling_mask covers {mask.shape[1]} steps, but T - input_length - 1 "
                        f"= {n_expected}; give one flag per predicted input step"
                    )
        head = tf.ones(tf.concat([[b, input_length], tf.shape(mask)[2:]], 0), mask.dtype)
        return tf.concat([head, mask], axis=1)

    # ------------------------------------------------------------------ forward
    def call(self, inputs, input_length=None, sampling_mask=None, training=None):
        cfg = self.config
        if input_length is None:
            raise Mim3dError("MIM needs input_length, the number of context frames")
        self.check_inputs(inputs.shape,
                          input_length if isinstance(input_length, int | np.integer) else None)
        x = tf.cast(tf.convert_to_tensor(inputs), self._cell_dtype)
        x = patch(x, cfg.patch_size, cfg.rank)
        input_length = tf.convert_to_tensor(input_length, tf.int32)
        mask = self._mask_flags(sampling_mask, x, input_length)
        y = self.unroll(x, mask)
        return tf.cast(unpatch(y, cfg.patch_size, cfg.rank), tf.float32)

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
                mims_gates, diff_gates = fused_conv_norm(
                    [self.blocks[l - 1].mims.input_to_state, self.diffs[l].input_to_state],
                    d[l - 1])
            h[l], c[l], m, s[l - 1] = self.blocks[l - 1](h[l - 1], d[l - 1], h[l], c[l], m,
                                                         s[l - 1], mims_x_gates=mims_gates)
        y = self.back_to_pixel(h[-1])
        if self.config.residual:  # beyond the original: predict the change of the input frame
            y = y + tf.cast(x_in, y.dtype)
        return y, (h, c, s, d, n, m)

    def _step_fn(self, first: bool):
        """``_step`` on flat tensors; with ``config.recompute`` its activations are recomputed
        in the backward pass instead of stored (only the step's inputs are kept)."""

        def step(x_in, *flat):
            state = tf.nest.pack_sequence_as(self._state_structure, list(flat))
            y, new_state = self._step(x_in, state, first=first)
            return (y, *tf.nest.flatten(new_state))

        if not self.config.recompute:
            return step
        # The weights enter as arguments (read once, outside the time loop) and replace the
        # variables through a StatelessScope: a recomputed step must not capture variables
        # inside the while loop's gradient, which TensorFlow cannot differentiate.
        variables = list(self.trainable_variables)
        n_state = len(tf.nest.flatten(self._state_structure))

        @tf.recompute_grad
        def pure_step(x_in, *args):
            flat, weights = args[:n_state], args[n_state:]
            with keras.StatelessScope(state_mapping=list(zip(variables, weights, strict=True))):
                return step(x_in, *flat)

        weights = [tf.convert_to_tensor(v.value) for v in variables]
        return lambda x_in, *flat: pure_step(x_in, *flat, *weights)

    def unroll(self, x, mask):
        """Patched frames ``(B, T, *grid', C')`` and full mask → ``(B, T−1, *grid', C')``."""
        n_layers = self.config.num_layers
        zeros = self._zeros(x[:, 0])
        state = ([zeros] * n_layers, [zeros] * n_layers, [zeros] * (n_layers - 1),
                 [zeros] * (n_layers - 1), [zeros] * (n_layers - 1), zeros)
        self._state_structure = state
        first_step, later_step = self._step_fn(True), self._step_fn(False)

        def run_step(step, x_in, state):
            y, *flat = step(x_in, *tf.nest.flatten(state))
            return y, tf.nest.pack_sequence_as(self._state_structure, flat)

        y, state = run_step(first_step, x[:, 0], state)
        steps = tf.shape(x)[1] - 1
        outputs = tf.TensorArray(x.dtype, size=steps, element_shape=x.shape[:1] + x.shape[2:])
        outputs = outputs.write(0, y)

        def body(t, y_prev, state, outputs):
            m_t = mask[:, t]
            x_in = m_t * x[:, t] + (1 - m_t) * y_prev
            y, state = run_step(later_step, x_in, state)
            return t + 1, y, state, outputs.write(t, y)

        _, _, _, outputs = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(1), y, state, outputs),
            parallel_iterations=1)
        perm = [1, 0] + list(range(2, len(x.shape)))
        return tf.transpose(outputs.stack(), perm)

    # ------------------------------------------------------------------ helpers
    def forecast(self, inputs, input_length, sampling_mask=None) -> tf.Tensor:
        """Compiled forward (one trace for every B and T): same arguments as ``call``."""
        cfg = self.config
        self.check_inputs(inputs.shape, input_length)
        if self._forward is None:
            spec_x = tf.TensorSpec((None, None, *cfg.grid, cfg.img_channel), tf.float32)
            spec_m = tf.TensorSpec([None] * (cfg.rank + 3), tf.float32)

            def forward(x, input_length, mask):
                xp = patch(tf.cast(x, self._cell_dtype), cfg.patch_size, cfg.rank)
                mask = tf.cast(mask, self._cell_dtype)
                head = tf.ones(tf.concat([tf.shape(mask)[:1], [input_length],
                                          tf.shape(mask)[2:]], 0), mask.dtype)
                full = tf.concat([head, mask], axis=1)
                y = unpatch(self.unroll(xp, full), cfg.patch_size, cfg.rank)
                return tf.cast(y, tf.float32)

            self._forward = tf.function(
                forward, input_signature=[spec_x, tf.TensorSpec((), tf.int32), spec_m])
        x = tf.convert_to_tensor(inputs, tf.float32)
        ones_tail = [1] * (cfg.rank + 1)
        if sampling_mask is None:
            n = int(x.shape[1]) - 1 - int(input_length)
            mask = tf.zeros([int(x.shape[0]), n, *ones_tail], tf.float32)
        else:
            mask = self._mask_flags(sampling_mask, patch(x, cfg.patch_size, cfg.rank),
                                    int(input_length))[:, int(input_length):]
        return self._forward(x, tf.constant(int(input_length), tf.int32), mask)

    def original_weights(self) -> dict:
        """``{original TF1 checkpoint name: variable}`` for every model weight."""
        names = self.stlstm.original_weights("predrnn/stlstm_1")
        for l, (block, diff) in enumerate(zip(self.blocks, self.diffs, strict=True), start=1):
            names.update(diff.original_weights(f"predrnn/stlstm_diff{l}"))
            names.update(block.original_weights(f"predrnn/stlstm_{l + 1}"))
        names.update(self.back_to_pixel.original_weights("predrnn/back_to_pixel"))
        return names

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(ModelConfig.from_dict(config.pop("config")), **config)

    def build(self, input_shape=None):  # weights are created in __init__
        self.built = True


def l2_loss(generated: tf.Tensor, inputs: tf.Tensor) -> tf.Tensor:
    """The original's loss: ``½ Σ (Ŷ − X[:, 1:])²`` over all ``T − 1`` frames (``tf.nn.l2_loss``)."""
    return tf.nn.l2_loss(generated - tf.cast(inputs[:, 1:], generated.dtype))
