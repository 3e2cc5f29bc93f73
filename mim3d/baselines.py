"""Reference forecasts that any learned model has to beat.

- :func:`persistence`: tomorrow looks like today, the last input frame repeated. Its scores are
  the floor of every table in the evaluation.
- :func:`sedov_taylor_radius_pc`: the analytic blast-wave radius in a uniform medium (Sedov
  1959; Taylor 1950), re-exported from :mod:`mim3d.physics` as the yardstick for shell radii.

Learned baselines (a ConvLSTM3D) live next to the models, not here.
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
