"""What every mim3d forecaster shares: input checks, the input rule, the time loop, compiling.

A forecaster runs in patched (space-to-depth) space and unrolls ``T − 1`` steps. At step ``t``
it is fed ``x̂_t = X_t`` for ``t < input_length`` and ``m_t ⊙ X_t + (1 − m_t) ⊙ Ŷ_{t−1}`` after
(``m`` = scheduled-sampling mask; all zeros = the autoregressive forecast), as the original
3D-MIM's ``mim.py``. Subclasses (:class:`mim3d.model.MIM`, the ConvLSTM baseline) only build
their layers and define one time step (:meth:`Forecaster.step_functions`).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from mim3d.config import ModelConfig
from mim3d.errors import Mim3dError
from mim3d.patching import patch, unpatch


class Forecaster(keras.Model):
    """Base of the forecast models: ``call(inputs, input_length, sampling_mask=None)``.

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
        self.cell_policy = keras.DTypePolicy(config.precision)  # of the recurrent cells
        self._cell_dtype = self.cell_policy.compute_dtype
        self._forward = None

    # ------------------------------------------------------------------ subclasses define
    def initial_state(self, x0: tf.Tensor):
        """Zero recurrent state for first patched frames ``x0`` ``(B, *grid', C')``."""
        raise NotImplementedError

    def step_functions(self, state):
        """``(first, later)``: callables ``(x_in, state) → (Ŷ, state)`` for ``t = 0`` and
        ``t >= 1`` (created once per trace, outside the time loop)."""
        raise NotImplementedError

    def grid_hint(self) -> str:
        """Extra advice when the input grid differs from the model's."""
        return ""

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
                + (self.grid_hint() if got[:-1] != want[:-1] else "")
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
            raise Mim3dError(f"{type(self).__name__} needs input_length, the number of "
                             f"context frames")
        self.check_inputs(inputs.shape,
                          input_length if isinstance(input_length, int | np.integer) else None)
        x = tf.cast(tf.convert_to_tensor(inputs), self._cell_dtype)
        x = patch(x, cfg.patch_size, cfg.rank)
        input_length = tf.convert_to_tensor(input_length, tf.int32)
        mask = self._mask_flags(sampling_mask, x, input_length)
        y = self.unroll(x, mask)
        return tf.cast(unpatch(y, cfg.patch_size, cfg.rank), tf.float32)

    def unroll(self, x, mask):
        """Patched frames ``(B, T, *grid', C')`` and full mask → ``(B, T−1, *grid', C')``.

        A ``tf.while_loop`` over time, so one graph serves every sequence length.
        """
        state = self.initial_state(x[:, 0])
        first_step, later_step = self.step_functions(state)
        y, state = first_step(x[:, 0], state)
        steps = tf.shape(x)[1] - 1
        outputs = tf.TensorArray(x.dtype, size=steps, element_shape=x.shape[:1] + x.shape[2:])
        outputs = outputs.write(0, y)

        def body(t, y_prev, state, outputs):
            m_t = mask[:, t]
            x_in = m_t * x[:, t] + (1 - m_t) * y_prev
            y, state = later_step(x_in, state)
            return t + 1, y, state, outputs.write(t, y)

        _, _, _, outputs = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(1), y, state, outputs),
            parallel_iterations=1)
        perm = [1, 0] + list(range(2, len(x.shape)))
        return tf.transpose(outputs.stack(), perm)

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
            n = int(x.shape[1]) - 1 - int(input_length)
            mask = tf.zeros([int(x.shape[0]), n, *[1] * (cfg.rank + 1)], tf.float32)
        else:
            mask = self._mask_flags(sampling_mask, patch(x, cfg.patch_size, cfg.rank),
                                    int(input_length))[:, int(input_length):]
        return self._forward(x, tf.constant(int(input_length), tf.int32), mask)

    # ------------------------------------------------------------------ saving
    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(ModelConfig.from_dict(config.pop("config")), **config)

    def build(self, input_shape=None):  # weights are created in __init__
        self.built = True
