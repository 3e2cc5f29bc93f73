"""Initial conditions: a uniform or turbulent medium at rest (or stirred) plus the explosion.

Turbulent cloud: ``ln n`` is a Gaussian random field with a power-law spectrum, the usual model
of supersonic isothermal turbulence (log-normal density PDF, Vazquez-Semadeni 1994; Padoan,
Nordlund & Jones 1997). The shell-integrated spectrum is ``E(k) ∝ k^-2`` (Burgers) or
``k^-5/3`` (Kolmogorov), i.e. a 3D power ``P(k) = E(k) / (4 pi k^2)``. The field is periodic,
has standard deviation ``sigma_lnrho`` and the density is rescaled to mean ``n_H``. Optional
velocities are three independent fields of the same spectrum scaled to the 3D rms ``v_turb``.
The gas is isothermal at ``T0``. The explosion adds thermal energy ``E_sn`` uniformly to the
cells whose centres lie within ``sn_radius_cells`` of the box centre (exact total energy).
"""

from __future__ import annotations

import numpy as np

from mim3d.simulate.config import SimConfig
from mim3d.simulate.euler import NG, NVAR
from mim3d.simulate.units import E_UNIT, V_CODE_TO_KMS, pressure_code_from_temperature

SLOPES = {"burgers": 2.0, "kolmogorov": 5.0 / 3.0}


def gaussian_random_field(n: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    """Periodic zero-mean, unit-variance field ``(n, n, n)`` with ``E(k) ∝ k^-slope``."""
    noise = rng.standard_normal((n, n, n))
    fk = np.fft.rfftn(noise)
    k1 = np.fft.fftfreq(n) * n
    kz = np.fft.rfftfreq(n) * n
    k = np.sqrt(k1[:, None, None] ** 2 + k1[None, :, None] ** 2 + kz[None, None, :] ** 2)
    amp = np.zeros_like(k)
    amp[k > 0] = k[k > 0] ** (-(slope + 2.0) / 2.0)  # sqrt of P(k) ∝ k^-(slope+2)
    field = np.fft.irfftn(fk * amp, s=(n, n, n))
    field -= field.mean()
    return field / field.std()


def medium(cfg: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    """Density n_H ``(n, n, n)`` [cm^-3] and velocity ``(n, n, n, 3)`` [code, pc/Myr]."""
    n = cfg.grid
    vel = np.zeros((n, n, n, 3))
    if cfg.medium == "uniform":
        return np.full((n, n, n), float(cfg.n_H)), vel
    rng = np.random.default_rng(cfg.seed)
    slope = SLOPES[cfg.spectrum]
    dens = np.exp(cfg.sigma_lnrho * gaussian_random_field(n, slope, rng))
    dens *= cfg.n_H / dens.mean()
    if cfg.v_turb_kms > 0:
        for axis in range(3):
            vel[..., axis] = gaussian_random_field(n, slope, rng)
        vel *= cfg.v_turb_kms / V_CODE_TO_KMS / np.sqrt(np.mean(np.sum(vel**2, axis=-1)))
    return dens, vel


def explosion_mask(cfg: SimConfig) -> np.ndarray:
    """Boolean ``(n, n, n)``: cells whose centre lies within the deposition radius."""
    n = cfg.grid
    c = np.arange(n) + 0.5 - 0.5 * n  # cell centres in cells from the box centre
    r2 = c[:, None, None] ** 2 + c[None, :, None] ** 2 + c[None, None, :] ** 2
    return r2 < cfg.sn_radius_cells**2


def initial_state(cfg: SimConfig, gamma: float) -> np.ndarray:
    """Padded conserved state ``(n + 4, n + 4, n + 4, 5)`` in code units, explosion included."""
    n = cfg.grid
    dx = cfg.box_pc / n
    dens, vel = medium(cfg)
    p = pressure_code_from_temperature(dens, cfg.T0, cfg.mu)
    u = np.zeros((n + 2 * NG,) * 3 + (NVAR,))
    inner = u[NG:-NG, NG:-NG, NG:-NG]
    inner[..., 0] = dens
    inner[..., 1:4] = dens[..., None] * vel
    inner[..., 4] = p / (gamma - 1.0) + 0.5 * dens * np.sum(vel**2, axis=-1)
    mask = explosion_mask(cfg)
    inner[..., 4][mask] += (cfg.E_sn_erg / E_UNIT) / (mask.sum() * dx**3)
    return u
