"""Optically thin radiative cooling for solar-metallicity gas, operator split.

Cooling function: the piecewise power-law fit of Rosen & Bregman (1995, ApJ 440, 634), which
follows Dalgarno & McCray (1972) below 1e4 K and Raymond, Cox & Smith (1976) above, zero
below 300 K:

==================  =========================
T [K]               Lambda [erg cm^3 s^-1]
==================  =========================
300 - 2e3           2.2380e-32 T^2
2e3 - 8e3           1.0012e-30 T^1.5
8e3 - 1e5           4.6240e-36 T^2.867
1e5 - 4e7           1.6700e-18 T^-0.65
>= 4e7              3.2217e-27 T^0.5
==================  =========================

The internal energy density obeys ``de/dt = -n_H^2 Lambda(T)`` (no heating), integrated cell by
cell with explicit sub-steps that change ``e`` by at most 10 %, and never below the energy of
the temperature floor. Density and velocity are unchanged.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mim3d.simulate.euler import NG
from mim3d.simulate.units import K_B, M_H_G, MYR_S, P_UNIT, RHO_UNIT

MAX_SUBSTEPS = 100_000
FRACTION = 0.1  # largest relative change of e per sub-step


@njit(inline="always")
def _lambda(t):
    if t < 300.0:
        return 0.0
    if t < 2e3:
        return 2.2380e-32 * t**2.0
    if t < 8e3:
        return 1.0012e-30 * t**1.5
    if t < 1e5:
        return 4.6240e-36 * t**2.867
    if t < 4e7:
        return 1.6700e-18 * t**-0.65
    return 3.2217e-27 * t**0.5


def lambda_cgs(t_k: np.ndarray) -> np.ndarray:
    """Rosen & Bregman (1995) cooling function Lambda(T) [erg cm^3 s^-1], any shape."""
    t = np.asarray(t_k, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.select(
            [t < 300.0, t < 2e3, t < 8e3, t < 1e5, t < 4e7],
            [
                0.0 * t,
                2.2380e-32 * t**2.0,
                1.0012e-30 * t**1.5,
                4.6240e-36 * t**2.867,
                1.6700e-18 * t**-0.65,
            ],
            3.2217e-27 * t**0.5,
        )


def _factors(gamma: float, mu: float):
    # T = t_fac * e / rho   (e internal energy density, rho = n_H in code units)
    t_fac = (gamma - 1.0) * mu * M_H_G * P_UNIT / (RHO_UNIT * K_B)
    # de/dt [code] = -n^2 Lambda * l_fac
    l_fac = MYR_S / P_UNIT
    return t_fac, l_fac


@njit(parallel=True, cache=True)
def _cool_nb(u, dt, t_fac, l_fac, t_floor):
    nx, ny, nz = u.shape[0] - 2 * NG, u.shape[1] - 2 * NG, u.shape[2] - 2 * NG
    for a in prange(nx):
        for b in range(ny):
            for c in range(nz):
                i = a + NG
                j = b + NG
                k = c + NG
                rho = u[i, j, k, 0]
                ke = 0.5 * (u[i, j, k, 1] ** 2 + u[i, j, k, 2] ** 2 + u[i, j, k, 3] ** 2) / rho
                e = u[i, j, k, 4] - ke
                e_floor = t_floor * rho / t_fac
                if e <= e_floor:
                    continue
                elapsed = 0.0
                for _ in range(MAX_SUBSTEPS):
                    rate = rho * rho * _lambda(t_fac * e / rho) * l_fac
                    if rate <= 0.0:
                        break
                    h = min(dt - elapsed, FRACTION * e / rate)
                    e = max(e - h * rate, e_floor)
                    elapsed += h
                    if elapsed >= dt or e <= e_floor:
                        break
                u[i, j, k, 4] = ke + e


def _cool_np(u, dt, t_fac, l_fac, t_floor):
    inner = u[NG:-NG, NG:-NG, NG:-NG]
    rho = inner[..., 0]
    ke = 0.5 * (inner[..., 1] ** 2 + inner[..., 2] ** 2 + inner[..., 3] ** 2) / rho
    e = inner[..., 4] - ke
    e_floor = t_floor * rho / t_fac
    elapsed = np.zeros_like(e)
    active = e > e_floor
    for _ in range(MAX_SUBSTEPS):
        if not active.any():
            break
        rate = np.where(active, rho * rho * lambda_cgs(t_fac * e / rho) * l_fac, 0.0)
        active &= rate > 0.0
        safe = np.where(active, rate, 1.0)
        h = np.minimum(dt - elapsed, FRACTION * e / safe)
        e = np.where(active, np.maximum(e - h * rate, e_floor), e)
        elapsed = np.where(active, elapsed + h, elapsed)
        active &= (elapsed < dt) & (e > e_floor)
    inner[..., 4] = np.where(inner[..., 4] - ke > e_floor, ke + e, inner[..., 4])


def cool(
    u: np.ndarray, dt: float, gamma: float, mu: float, t_floor: float, backend: str = "numba"
) -> None:
    """Apply ``dt`` (code time) of radiative cooling to the padded state ``u`` in place."""
    t_fac, l_fac = _factors(gamma, mu)
    (_cool_nb if backend == "numba" else _cool_np)(u, dt, t_fac, l_fac, t_floor)
