"""Physics diagnostics of supernova blast waves on a uniform grid, in physical units.

Fields follow :mod:`mim3d.trajectory`: density as n_H in cm^-3, pressure as P/k_B in K cm^-3,
velocity in km/s, cells are cubes of ``cell_pc`` pc (``Trajectory.cell_pc``), arrays are
``(..., nx, ny, nz)`` with any leading axes (time, batch) and velocity ``(..., nx, ny, nz, 3)``.
Positions are cell centres, ``(i + 1/2) · cell_pc``; the default centre is the box centre.

What is measured, and where it comes from:

- The shell: the radius of the peak of the spherically averaged density, and the region whose
  density differs from the first frame by more than 10 %, the measure Hirashima et al. (2023,
  MNRAS, "3D-spatiotemporal forecasting the expansion of supernova shells using deep learning
  toward high-resolution galaxy simulations") use to compare the forecast shell with the
  simulated one; its volume-equivalent radius ``(3V/4π)^(1/3)``, and IoU / Dice overlaps.
- Conserved-ish totals: gas mass (ρ = 1.4 m_H n_H, hydrogen plus helium), thermal energy
  ``P V / (γ − 1)`` with γ = 5/3, kinetic energy, radial momentum.
- Distribution distances: the 1-Wasserstein distance between log10-density histograms and the
  RMS difference of spherical profiles.
- The Sedov–Taylor radius ``R = ξ (E t² / ρ)^(1/5)``, ξ = 1.15167 for γ = 5/3 (Sedov 1959;
  Taylor 1950), the analytic yardstick for an explosion in a uniform medium.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import scipy.sparse
from scipy.stats import wasserstein_distance

from mim3d.errors import Mim3dError, expect
from mim3d.simulate import sedov as _sedov
from mim3d.simulate import units

log = logging.getLogger(__name__)

# Physical constants (cgs) live in mim3d.simulate.units, shared with the simulator.
M_H_G = units.M_H_G
"""Mass of a hydrogen atom, g."""
MEAN_MASS_PER_H_G = units.RHO_UNIT
"""Gas mass per hydrogen nucleus (hydrogen + helium, 1.4 m_H), g: ρ = MEAN_MASS_PER_H_G · n_H."""
K_B_ERG_PER_K = units.K_B
"""Boltzmann constant, erg/K."""
PC_CM = units.PC_CM
"""One parsec, cm."""
MYR_S = units.MYR_S
"""One megayear (Julian years), s."""
KM_CM = units.KM_CM
"""One km, cm."""
M_SUN_G = 1.98841e33
"""Solar mass, g (IAU 2015 nominal GM_sun over CODATA 2018 G)."""
GAMMA = 5.0 / 3.0
"""Adiabatic index of a monatomic ideal gas."""

CHANGE_MODES = ("change", "drop", "rise")


def _spatial(array: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(array)
    expect(array.ndim >= 3, f"{what} must be (..., nx, ny, nz) with at least 3 axes; got "
           f"shape {array.shape}.")
    return array


def _cell_volume_cm3(cell_pc: float) -> float:
    expect(float(cell_pc) > 0, f"cell_pc must be positive; got {cell_pc!r}.")
    return (float(cell_pc) * PC_CM) ** 3


def _offsets_pc(grid: Sequence[int], cell_pc: float, center) -> list[np.ndarray]:
    """Per axis, cell-centre coordinates minus the centre, shaped to broadcast over the grid."""
    expect(float(cell_pc) > 0, f"cell_pc must be positive; got {cell_pc!r}.")
    grid = tuple(int(n) for n in grid)
    if center is None:
        center = [n * cell_pc / 2.0 for n in grid]
    center = np.asarray(center, dtype=np.float64)
    expect(center.shape == (3,), f"center must be 3 numbers (x, y, z) in pc; got {center!r}.")
    out = []
    for axis, n in enumerate(grid):
        shape = [1, 1, 1]
        shape[axis] = n
        out.append(((np.arange(n) + 0.5) * cell_pc - center[axis]).reshape(shape))
    return out


def radius_grid(grid: Sequence[int], cell_pc: float, center=None) -> np.ndarray:
    """Distance of each cell centre from ``center`` (pc; default the box centre): ``grid``."""
    dx, dy, dz = _offsets_pc(grid, cell_pc, center)
    return np.sqrt(dx**2 + dy**2 + dz**2)


def spherical_profile(
    field: np.ndarray, cell_pc: float, center=None, n_bins: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Spherical average of ``field`` in shells one cell wide.

    Args:
        field: ``(..., nx, ny, nz)``.
        cell_pc: cell edge, pc.
        center: ``(x, y, z)`` in pc from the box corner; default the box centre.
        n_bins: number of shells ``[k, k + 1) · cell_pc``; default ``min(nx, ny, nz) // 2``
            (out to the sphere inscribed in the box). Cells further out are ignored.

    Returns:
        ``r_pc`` ``(n_bins,)`` shell mid-radii and ``profile`` ``(..., n_bins)``; NaN in shells
        that hold no cell centre.
    """
    field = _spatial(field, "field")
    grid = field.shape[-3:]
    if n_bins is None:
        n_bins = min(grid) // 2
    expect(int(n_bins) >= 1, f"n_bins must be at least 1; got {n_bins!r}.")
    n_bins = int(n_bins)
    r = radius_grid(grid, cell_pc, center).ravel()
    idx = np.floor(r / cell_pc).astype(np.int64)
    inside = np.flatnonzero(idx < n_bins)
    counts = np.bincount(idx[inside], minlength=n_bins).astype(np.float64)
    # (n_vox, n_bins) sparse 0/1 matrix: which shell each cell inside the outer shell is in.
    member = scipy.sparse.csr_matrix(
        (np.ones(inside.size), (inside, idx[inside])), shape=(r.size, n_bins))
    flat = field.reshape(-1, r.size).astype(np.float64)  # (L, n_vox)
    sums = np.asarray((member.T @ flat.T).T)  # (L, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = np.where(counts > 0, sums / counts, np.nan)
    r_pc = (np.arange(n_bins) + 0.5) * cell_pc
    return r_pc, profile.reshape(*field.shape[:-3], n_bins)


def shell_radius_peak(
    density: np.ndarray, cell_pc: float, center=None, n_bins: int | None = None
) -> np.ndarray:
    """Radius (pc) of the peak of the spherically averaged density: ``(...)`` for ``(..., nx, ny, nz)``.

    Resolution is one shell (one cell): the mid-radius of the densest shell is returned.
    """
    r_pc, profile = spherical_profile(density, cell_pc, center, n_bins)
    filled = np.where(np.isnan(profile), -np.inf, profile)
    return r_pc[np.argmax(filled, axis=-1)]


def changed_region(
    density: np.ndarray, reference: np.ndarray, threshold: float = 0.1, mode: str = "change"
) -> np.ndarray:
    """Cells whose density differs from ``reference`` by more than ``threshold`` (a fraction).

    Args:
        density: ``(..., nx, ny, nz)``.
        reference: broadcastable to ``density``, positive; the paper uses the first frame.
        threshold: relative change, 0.1 for 10 %.
        mode: ``"change"`` (``|ρ/ρ_ref − 1| > threshold``, the default), ``"drop"``
            (``ρ/ρ_ref − 1 < −threshold``: the evacuated interior) or ``"rise"``
            (``ρ/ρ_ref − 1 > threshold``: the swept-up shell).

    Returns:
        boolean mask, the broadcast shape.
    """
    density = _spatial(density, "density").astype(np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    expect(mode in CHANGE_MODES, f"mode must be one of {CHANGE_MODES}; got {mode!r}.")
    expect(float(threshold) >= 0, f"threshold must be ≥ 0 (a fraction, 0.1 = 10 %); got "
           f"{threshold!r}.")
    expect(bool(np.all(reference > 0)), "reference density must be positive everywhere; found "
           f"min {reference.min():.3g}. Pass densities in cm^-3, not their logarithm.")
    rel = density / reference - 1.0
    if mode == "change":
        return np.abs(rel) > threshold
    if mode == "drop":
        return rel < -threshold
    return rel > threshold


def shell_radius_volume(mask: np.ndarray, cell_pc: float) -> np.ndarray:
    """Volume-equivalent radius ``(3V/4π)^(1/3)`` in pc of a mask ``(..., nx, ny, nz)`` → ``(...)``."""
    mask = _spatial(mask, "mask").astype(bool)
    volume_pc3 = mask.sum(axis=(-3, -2, -1)) * float(cell_pc) ** 3
    return np.cbrt(3.0 * volume_pc3 / (4.0 * np.pi))


def _pair(mask_a: np.ndarray, mask_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = _spatial(mask_a, "mask_a").astype(bool)
    b = _spatial(mask_b, "mask_b").astype(bool)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise Mim3dError(f"masks must have broadcastable shapes; got {a.shape} and {b.shape}.") from None
    return np.broadcast_to(a, shape), np.broadcast_to(b, shape)


def iou(mask_a: np.ndarray, mask_b: np.ndarray) -> np.ndarray:
    """Intersection over union over the last three axes: ``(...)``; 1 when both are empty."""
    a, b = _pair(mask_a, mask_b)
    inter = np.sum(a & b, axis=(-3, -2, -1))
    union = np.sum(a | b, axis=(-3, -2, -1))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def dice(mask_a: np.ndarray, mask_b: np.ndarray) -> np.ndarray:
    """Dice coefficient ``2|A∩B| / (|A| + |B|)`` over the last three axes; 1 when both are empty."""
    a, b = _pair(mask_a, mask_b)
    inter = np.sum(a & b, axis=(-3, -2, -1))
    total = np.sum(a, axis=(-3, -2, -1)) + np.sum(b, axis=(-3, -2, -1))
    return np.where(total > 0, 2.0 * inter / np.maximum(total, 1), 1.0)


def total_mass(density: np.ndarray, cell_pc: float) -> np.ndarray:
    """Gas mass in M_sun, ``Σ 1.4 m_H n_H V_cell``: ``(...)`` for ``(..., nx, ny, nz)``."""
    density = _spatial(density, "density")
    n_sum = np.sum(density, axis=(-3, -2, -1), dtype=np.float64)
    return n_sum * MEAN_MASS_PER_H_G * _cell_volume_cm3(cell_pc) / M_SUN_G


def thermal_energy(pressure: np.ndarray, cell_pc: float, gamma: float = GAMMA) -> np.ndarray:
    """Thermal energy in erg, ``Σ P V / (γ − 1)`` (3/2 P V for γ = 5/3), P given as P/k_B in K cm^-3."""
    pressure = _spatial(pressure, "pressure")
    expect(gamma > 1, f"gamma must be > 1; got {gamma!r}.")
    p_sum = np.sum(pressure, axis=(-3, -2, -1), dtype=np.float64) * K_B_ERG_PER_K
    return p_sum * _cell_volume_cm3(cell_pc) / (gamma - 1.0)


def _velocity(density: np.ndarray, velocity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    density = _spatial(density, "density")
    velocity = np.asarray(velocity)
    expect(velocity.shape == density.shape + (3,),
           f"velocity must be density's shape plus a last axis of 3 components, "
           f"{density.shape + (3,)}; got {velocity.shape}.")
    return density.astype(np.float64), velocity.astype(np.float64)


def kinetic_energy(density: np.ndarray, velocity: np.ndarray, cell_pc: float) -> np.ndarray:
    """Kinetic energy in erg, ``Σ ½ ρ |v|² V``; velocity ``(..., nx, ny, nz, 3)`` in km/s."""
    density, velocity = _velocity(density, velocity)
    v2 = np.sum(velocity**2, axis=-1) * KM_CM**2  # (..., nx, ny, nz) cm² s⁻²
    rho_v2 = np.sum(density * v2, axis=(-3, -2, -1)) * MEAN_MASS_PER_H_G
    return 0.5 * rho_v2 * _cell_volume_cm3(cell_pc)


def radial_momentum(
    density: np.ndarray, velocity: np.ndarray, cell_pc: float, center=None
) -> np.ndarray:
    """Radial momentum ``Σ m v·r̂`` in M_sun km/s about ``center`` (pc; default the box centre).

    The cell that holds the centre exactly (odd grids) contributes nothing.
    """
    density, velocity = _velocity(density, velocity)
    dx, dy, dz = _offsets_pc(density.shape[-3:], cell_pc, center)
    r = np.sqrt(dx**2 + dy**2 + dz**2)
    safe = np.where(r > 0, r, 1.0)
    v_r = (velocity[..., 0] * dx + velocity[..., 1] * dy + velocity[..., 2] * dz) / safe
    v_r = np.where(r > 0, v_r, 0.0)
    cell_mass_msun = MEAN_MASS_PER_H_G * _cell_volume_cm3(cell_pc) / M_SUN_G
    return np.sum(density * v_r, axis=(-3, -2, -1)) * cell_mass_msun


def density_pdf_distance(log_rho_a: np.ndarray, log_rho_b: np.ndarray) -> float:
    """1-Wasserstein distance (dex) between the distributions of two sets of log10 densities.

    All values of each array are pooled (volume-weighted PDF); pass one frame for a per-frame
    distance. Same as ``scipy.stats.wasserstein_distance`` on the flattened arrays. The distance between a PDF and itself shifted by ``s`` dex is ``|s|``.
    """
    a = np.asarray(log_rho_a, dtype=np.float64).ravel()
    b = np.asarray(log_rho_b, dtype=np.float64).ravel()
    expect(a.size > 0 and b.size > 0, "density_pdf_distance needs non-empty arrays.")
    expect(bool(np.all(np.isfinite(a)) and np.all(np.isfinite(b))),
           "log densities must be finite; take log10 of densities floored at a small positive "
           "value first.")
    if a.size == b.size:
        # Equal-size samples: W1 is the mean gap between order statistics (what scipy computes
        # through the CDFs, about 10x faster on a 64^3 frame).
        return float(np.mean(np.abs(np.sort(a) - np.sort(b))))
    return float(wasserstein_distance(a, b))


def radial_profile_error(
    pred: np.ndarray, truth: np.ndarray, cell_pc: float, center=None, n_bins: int | None = None
) -> np.ndarray:
    """RMS over shells of the difference of the spherical profiles: ``(...)`` for ``(..., nx, ny, nz)``."""
    pred, truth = _spatial(pred, "pred"), _spatial(truth, "truth")
    expect(pred.shape == truth.shape, f"pred and truth must have the same shape; got "
           f"{pred.shape} and {truth.shape}.")
    _, p = spherical_profile(pred, cell_pc, center, n_bins)
    _, t = spherical_profile(truth, cell_pc, center, n_bins)
    return np.sqrt(np.nanmean((p - t) ** 2, axis=-1))


def sedov_taylor_radius_pc(
    t_myr: float | np.ndarray, E_erg: float = 1e51, n_H: float = 44.5
) -> np.ndarray | float:
    """Sedov–Taylor blast-wave radius in pc, ``R = 1.15167 (E t² / ρ)^(1/5)``, ρ = 1.4 m_H n_H.

    The formula is :func:`mim3d.simulate.sedov.sedov_taylor_radius_pc`; this checks the input.

    Args:
        t_myr: time(s) since the explosion, Myr (≥ 0).
        E_erg: explosion energy, erg (default 1e51, one supernova).
        n_H: ambient hydrogen number density, cm^-3 (default 44.5, the SN-64 cloud mean).

    Returns:
        a float for a scalar time, else an array of the times' shape.
    """
    t = np.asarray(t_myr, dtype=np.float64)
    expect(bool(np.all(np.isfinite(t)) and np.all(t >= 0)),
           f"t_myr must be finite and ≥ 0 (Myr since the explosion); got {t_myr!r}.")
    expect(E_erg > 0 and n_H > 0, f"E_erg and n_H must be positive; got {E_erg!r}, {n_H!r}.")
    return _sedov.sedov_taylor_radius_pc(t_myr, E_erg=E_erg, n_H=n_H)


def shell_diagnostics(
    density_pred: np.ndarray,
    density_true: np.ndarray,
    density_first: np.ndarray,
    cell_pc: float,
    times_myr: Sequence[float] | np.ndarray,
    threshold: float = 0.1,
    mode: str = "change",
    center=None,
    min_density: float = 1e-10,
) -> dict[str, np.ndarray]:
    """Per-frame shell comparison of a density forecast with the truth.

    Args:
        density_pred, density_true: ``(T, nx, ny, nz)``, n_H in cm^-3.
        density_first: ``(nx, ny, nz)``, the reference frame (the run's first snapshot).
        cell_pc: cell edge, pc.
        times_myr: ``(T,)`` snapshot times.
        threshold, mode: the changed region, as :func:`changed_region`.
        center: explosion centre in pc; default the box centre.
        min_density: floor (cm^-3) before taking log10 for the PDF distance.

    Returns:
        ``(T,)`` arrays: ``time_myr``, ``radius_peak_pred`` / ``_true`` (pc),
        ``radius_volume_pred`` / ``_true`` (pc), ``iou``, ``dice``, ``mass_pred`` / ``_true``
        (M_sun), ``w1_log_density`` (dex).
    """
    pred = np.asarray(density_pred, dtype=np.float64)
    true = np.asarray(density_true, dtype=np.float64)
    first = np.asarray(density_first, dtype=np.float64)
    times = np.asarray(times_myr, dtype=np.float64)
    expect(pred.ndim == 4 and pred.shape == true.shape,
           f"density_pred and density_true must both be (T, nx, ny, nz); got {pred.shape} and "
           f"{true.shape}.")
    expect(first.shape == pred.shape[1:], f"density_first must be one frame {pred.shape[1:]}; "
           f"got {first.shape}.")
    expect(times.shape == (pred.shape[0],), f"times_myr must have one time per frame, "
           f"({pred.shape[0]},); got {times.shape}.")
    mask_pred = changed_region(pred, first, threshold, mode)
    mask_true = changed_region(true, first, threshold, mode)
    log_pred = np.log10(np.maximum(pred, min_density))
    log_true = np.log10(np.maximum(true, min_density))
    return {
        "time_myr": times,
        "radius_peak_pred": shell_radius_peak(pred, cell_pc, center),
        "radius_peak_true": shell_radius_peak(true, cell_pc, center),
        "radius_volume_pred": shell_radius_volume(mask_pred, cell_pc),
        "radius_volume_true": shell_radius_volume(mask_true, cell_pc),
        "iou": iou(mask_pred, mask_true),
        "dice": dice(mask_pred, mask_true),
        "mass_pred": total_mass(pred, cell_pc),
        "mass_true": total_mass(true, cell_pc),
        "w1_log_density": np.array(
            [density_pdf_distance(a, b) for a, b in zip(log_pred, log_true, strict=True)]),
    }
