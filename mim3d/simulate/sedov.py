"""Sedov-Taylor blast-wave radius and a shock-radius estimate from a density cube.

The self-similar solution of a point explosion of energy E in gas of density rho (Sedov 1959;
Taylor 1950) has the shock at ``R = xi (E t^2 / rho)^(1/5)``, ``xi = 1.15167`` for gamma = 5/3.
Here ``rho = 1.4 m_H n_H`` as everywhere in :mod:`mim3d.simulate`.
"""

from __future__ import annotations

import numpy as np

from mim3d.errors import Mim3dError
from mim3d.simulate.units import MYR_S, PC_CM, RHO_UNIT, SEDOV_XI


def sedov_taylor_radius_pc(t_myr, E_erg: float = 1e51, n_H: float = 44.5):
    """Sedov-Taylor shock radius [pc] at ``t_myr`` [Myr] (float for a scalar, else ndarray)."""
    t_s = np.asarray(t_myr, dtype=np.float64) * MYR_S
    r = SEDOV_XI * (E_erg * t_s**2 / (RHO_UNIT * n_H)) ** 0.2 / PC_CM
    return float(r) if np.ndim(r) == 0 else r


def sedov_taylor_time_myr(r_pc: float, E_erg: float = 1e51, n_H: float = 44.5) -> float:
    """Inverse of :func:`sedov_taylor_radius_pc`: time [Myr] at which the shock reaches ``r_pc``."""
    t_s = ((r_pc * PC_CM / SEDOV_XI) ** 5 * RHO_UNIT * n_H / E_erg) ** 0.5
    return float(t_s / MYR_S)


def radial_profile(density: np.ndarray, box_pc: float, bin_cells: float = 0.5):
    """Spherically averaged profile about the box centre.

    Args:
        density: ``(nx, nx, nx)`` cube.
        box_pc: box edge [pc].
        bin_cells: radial bin width in cells.

    Returns:
        ``(r_pc, mean)``: bin centres [pc] and the mean value in each bin ``(n_bins,)``; bins
        up to half the box edge, empty bins dropped.
    """
    n = density.shape[0]
    dx = box_pc / n
    c = (np.arange(n) + 0.5) * dx - 0.5 * box_pc
    r = np.sqrt(c[:, None, None] ** 2 + c[None, :, None] ** 2 + c[None, None, :] ** 2)
    width = bin_cells * dx
    idx = (r / width).astype(np.int64).ravel()
    n_bins = int(0.5 * box_pc / width)
    keep = idx < n_bins
    total = np.bincount(idx[keep], weights=density.ravel()[keep], minlength=n_bins)
    count = np.bincount(idx[keep], minlength=n_bins)
    ok = count > 0
    return ((np.arange(n_bins) + 0.5) * width)[ok], total[ok] / count[ok]


def shock_radius_pc(
    density: np.ndarray, box_pc: float, method: str = "peak", ambient: float | None = None
) -> float:
    """Shell radius [pc] of a centred blast from its density cube ``(nx, nx, nx)``.

    Methods (both use the spherically averaged profile, bins of half a cell):

    * ``"peak"`` (default): radius of the profile's maximum, refined by a parabola through
      the maximum bin and its neighbours. The numerical density peak sits about one cell
      behind the true shock, so this slightly underestimates ``R`` (about -2 % at 64³).
    * ``"front"``: walking outward from the peak, where the profile falls half-way from the
      peak to ``ambient`` (default: the outermost bin). The smeared front extends ahead of
      the shock, so this overestimates ``R`` (about +3 % at 64³).

    Args:
        density: ``(nx, nx, nx)`` density (any unit).
        box_pc: box edge [pc].
        method: ``"peak"`` or ``"front"``.
        ambient: undisturbed density for ``"front"``.
    """
    r, prof = radial_profile(density, box_pc)
    i = int(np.argmax(prof))
    if method == "peak":
        if 0 < i < len(prof) - 1:
            y0, y1, y2 = prof[i - 1], prof[i], prof[i + 1]
            curv = y0 - 2.0 * y1 + y2
            shift = 0.5 * (y0 - y2) / curv if curv < 0 else 0.0
            return float(r[i] + shift * (r[i + 1] - r[i]))
        return float(r[i])
    if method != "front":
        raise Mim3dError(f"shock_radius_pc: method must be 'peak' or 'front', got {method!r}")
    ambient = float(prof[-1]) if ambient is None else float(ambient)
    half = 0.5 * (prof[i] + ambient)
    for j in range(i, len(prof) - 1):
        if prof[j + 1] <= half:
            f = (prof[j] - half) / (prof[j] - prof[j + 1])
            return float(r[j] + f * (r[j + 1] - r[j]))
    return float(r[-1])
