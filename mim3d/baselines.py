"""Reference forecasts that any learned model has to beat.

- :func:`persistence`: tomorrow looks like today, the last input frame repeated. Its scores are
  the floor of every table in the evaluation.
- :func:`sedov_taylor_radius_pc`: the analytic blast-wave radius in a uniform medium (Sedov
  1959; Taylor 1950), re-exported from :mod:`mim3d.physics` as the yardstick for shell radii.

The learned baseline, a stacked ConvLSTM with 3D-MIM's interface, lives next to the models in
:mod:`mim3d.convlstm`; ``ConvLSTMForecaster`` and ``matching_hidden`` are re-exported here on first
use (importing them loads TensorFlow).
"""

from __future__ import annotations

import numpy as np

from mim3d.errors import expect
from mim3d.physics import sedov_taylor_radius_pc

__all__ = ["persistence", "sedov_taylor_radius_pc"]


def persistence(context: np.ndarray, n_future: int) -> np.ndarray:
    """The last context frame repeated: ``(B, T_in, *spatial, C)`` → ``(B, n_future, *spatial, C)``.

    Returns a new (writable) array of the context's dtype.
    """
    context = np.asarray(context)
    expect(context.ndim >= 3,
           f"context must be (B, T_in, *spatial, C); got shape {context.shape}.")
    expect(context.shape[1] >= 1, f"context needs at least one input frame; got shape "
           f"{context.shape}.")
    expect(isinstance(n_future, int | np.integer) and n_future >= 1,
           f"n_future must be a positive integer; got {n_future!r}.")
    return np.repeat(context[:, -1:], int(n_future), axis=1)


def __getattr__(name: str):
    """Lazy re-export of the learned baseline (keeps ``import mim3d.baselines`` TF-free)."""
    if name in ("ConvLSTMForecaster", "matching_hidden"):
        from mim3d import convlstm

        return getattr(convlstm, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
