"""The original 3D-MIM Adam (``optimizer.py`` of kyaFUK/3D-MIM), made deterministic.

    m ← β₁ m + (1 − β₁) g          v ← β₂ v + (1 − β₂) g²
    m̂ = m / (1 − β₁ᵗ)              v̂ = v / (1 − β₂ᵗ)
    p ← p − lr · m̂ / sqrt(v̂ + ε)    (ε inside the square root; β₁ = 0.95, β₂ = 0.9995, ε = 1e-8)

with the step counter ``t`` starting at 1. The original reads its shared counter ``t`` in the
same ``tf.group`` that increments it, with no ordering between the two, so each weight's bias
corrections use ``t`` or ``t + 1`` at random: two runs from one checkpoint differ. Here every
weight uses the same ``t`` (the iteration count before the update, plus one), the intended
rule: the first step from fixture A gives the deterministic reference loss (``loss.json`` →
``one_adam_step.deterministic_reference_uniform_t1``).
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mim3d")
class OriginalAdam(keras.optimizers.Optimizer):
    """Adam with ε inside the square root and the original's β defaults."""

    def __init__(self, learning_rate=0.001, beta_1: float = 0.95, beta_2: float = 0.9995,
                 epsilon: float = 1e-8, name: str = "original_adam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._m = [self.add_variable_from_reference(v, "momentum") for v in var_list]
        self._v = [self.add_variable_from_reference(v, "velocity") for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        t = ops.cast(self.iterations + 1, variable.dtype)
        i = self._get_variable_index(variable)
        m, v = self._m[i], self._v[i]
        self.assign(m, self.beta_1 * m + (1.0 - self.beta_1) * g)
        self.assign(v, self.beta_2 * v + (1.0 - self.beta_2) * ops.square(g))
        m_hat = m / (1.0 - ops.power(ops.cast(self.beta_1, variable.dtype), t))
        v_hat = v / (1.0 - ops.power(ops.cast(self.beta_2, variable.dtype), t))
        self.assign_sub(variable, lr * m_hat / ops.sqrt(v_hat + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
