"""Sedov-Taylor blast-wave radius and a shock-radius estimate from a density cube.

The self-similar solution of a point explosion of energy E in gas of density rho (Sedov 1959;
Taylor 1950) has the shock at ``R = xi (E t^2 / rho)^(1/5)``, ``xi = 1.15167`` for gamma = 5/3.
Here ``rho = 1.4 m_H n_H`` as everywhere in :mod:`mim3d.simulate`.
"""

from __future__ import annotations

import numpy as np

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


def shock_radius_pc(density: np.ndarray, box_pc: float, ambient: float | None = None) -> float:
    """Shock radius [pc] of a centred blast from its density cube ``(nx, nx, nx)``.

    Method: take the spherically averaged density profile (bins of half a cell), find its peak
    (the shell), then walk outward to where the profile falls to half-way between the peak and
    the ambient density, interpolating linearly between bins. That point is the middle of the
    numerically smeared shock front, which is what the Sedov-Taylor ``R`` describes (the
    density peak itself lies about a cell behind the front).

    Args:
        density: ``(nx, nx, nx)`` density (any unit).
        box_pc: box edge [pc].
        ambient: undisturbed density; default: the profile's outermost bin.
    """
    r, prof = radial_profile(density, box_pc)
    ambient = float(prof[-1]) if ambient is None else float(ambient)
    i_peak = int(np.argmax(prof))
    half = 0.5 * (prof[i_peak] + ambient)
    for i in range(i_peak, len(prof) - 1):
        if prof[i + 1] <= half:
            f = (prof[i] - half) / (prof[i] - prof[i + 1])
            return float(r[i] + f * (r[i + 1] - r[i]))
    return float(r[-1])
