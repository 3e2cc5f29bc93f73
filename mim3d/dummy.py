"""Tiny synthetic supernova trajectories and files in the real schema, for tests.

Following The Well's ``utils/dummy_data.py`` idea (Ohana et al. 2024): tests of the data
pipeline, metrics and pictures never need the real 268 GB data. The fields are smooth and
physically plausible, not a simulation: a hot, under-dense bubble inside an over-dense shell
whose radius grows as the Sedov–Taylor solution, R ∝ t^(2/5) (Sedov 1959; Taylor 1950), in a
log-normal background (turbulent medium, σ_lnρ ≈ 1) or a uniform one. Units are those of
:mod:`mim3d.trajectory`. Everything here runs in milliseconds for ``grid <= 16``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mim3d.errors import expect
from mim3d.trajectory import Trajectory

N_H0 = 44.5  # initial mean hydrogen number density of the 3D-MIM clouds, cm^-3
T0 = 100.0  # initial temperature, K
BOX_PC = 60.0


def _lognormal_background(grid: int, rng: np.random.Generator, sigma_lnrho: float) -> np.ndarray:
    """Smooth log-normal density with mean ``N_H0``: ``(grid, grid, grid)``."""
    noise = rng.standard_normal((grid, grid, grid))
    k = np.fft.fftfreq(grid)
    k2 = k[:, None, None] ** 2 + k[None, :, None] ** 2 + k[None, None, :] ** 2
    smooth = np.fft.ifftn(np.fft.fftn(noise) * np.exp(-k2 / (2 * 0.15**2))).real
    smooth = (smooth - smooth.mean()) / (smooth.std() + 1e-12)
    lnrho = sigma_lnrho * smooth - 0.5 * sigma_lnrho**2
    return N_H0 * np.exp(lnrho)


def dummy_trajectory(
    grid: int = 8, n_t: int = 6, seed: int = 0, medium: str = "turbulent",
    t_end_myr: float = 0.2,
) -> Trajectory:
    """A synthetic blast wave: fields ``(n_t, grid, grid, grid)`` (velocity ``(..., 3)``).

    Args:
        grid: cells per box edge.
        n_t: snapshots, evenly spaced from 0 to ``t_end_myr``.
        seed: seed of the background density and of the explosion centre offset.
        medium: ``"turbulent"`` (log-normal background) or ``"uniform"``.
    """
    expect(grid >= 2 and n_t >= 1, f"dummy_trajectory needs grid >= 2 and n_t >= 1, got {grid}, {n_t}")
    expect(medium in ("turbulent", "uniform"),
           f"medium must be 'turbulent' or 'uniform', got {medium!r}")
    rng = np.random.default_rng(seed)
    if medium == "turbulent":
        background = _lognormal_background(grid, rng, sigma_lnrho=1.0)
    else:
        background = np.full((grid, grid, grid), N_H0)
    times = np.linspace(0.0, t_end_myr, n_t)
    dx = BOX_PC / grid
    centre = BOX_PC / 2 + rng.uniform(-0.5, 0.5, size=3) * dx
    axis = (np.arange(grid) + 0.5) * dx
    rel = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1) - centre  # (n,n,n,3)
    r = np.linalg.norm(rel, axis=-1)
    unit = rel / np.maximum(r, 1e-6)[..., None]

    density = np.empty((n_t, grid, grid, grid))
    temperature = np.empty_like(density)
    velocity = np.empty((n_t, grid, grid, grid, 3))
    for i, t in enumerate(times):
        radius = max(1.5 * dx, 0.35 * BOX_PC * (t / 0.2) ** 0.4)  # pc, Sedov–Taylor growth
        radius = min(radius, 0.45 * BOX_PC)
        width = max(dx, 0.12 * radius)
        x = r / radius
        shell = np.exp(-0.5 * ((r - radius) / width) ** 2)
        inside = 0.5 * (1 - np.tanh((x - 1) * radius / width))  # ~1 in the bubble, 0 outside
        v_shell = min(3000.0, 0.4 * radius / max(t, 1e-6) * 0.978)  # dR/dt, pc/Myr -> km/s
        density[i] = background * (1 - 0.95 * inside) + 4 * N_H0 * shell
        temperature[i] = T0 + 1e6 * inside * (radius / (0.35 * BOX_PC)) ** -1.5
        speed = v_shell * np.where(x < 1, x, np.exp(-0.5 * ((r - radius) / width) ** 2))
        velocity[i] = speed[..., None] * unit
    pressure = density * temperature  # P/k_B in K cm^-3 for an ideal gas, per hydrogen
    fields = {
        "density": density.astype(np.float32),
        "pressure": pressure.astype(np.float32),
        "temperature": temperature.astype(np.float32),
        "velocity": velocity.astype(np.float32),
    }
    params = {
        "E_sn_erg": 1e51, "n_H": N_H0, "T0": T0, "seed": int(seed),
        "medium": medium, "dummy": True,
    }
    return Trajectory(fields=fields, times=times, box_pc=BOX_PC, params=params)


def dummy_simulate(config, progress: bool = False) -> Trajectory:
    """A stand-in for :func:`mim3d.simulate.simulate` in tests: same call, dummy fields.

    Reads ``grid``, ``n_snapshots``, ``seed``, ``medium`` and ``t_end_myr`` from ``config``.
    """
    traj = dummy_trajectory(grid=config.grid, n_t=config.n_snapshots, seed=config.seed,
                            medium=config.medium, t_end_myr=config.t_end_myr)
    return traj


def write_dummy_well(
    folder: str | Path, n: int = 4, grid: int = 8, n_t: int = 6, split: str = "train"
) -> Path:
    """Write ``n`` dummy trajectories as one Well file ``folder/data/<split>/dummy.hdf5``.

    Returns the dataset folder (pass it to ``WellStore(folder, split=split)``).
    """
    from mim3d.formats.well import write_well

    folder = Path(folder)
    trajectories = [dummy_trajectory(grid=grid, n_t=n_t, seed=s) for s in range(n)]
    write_well(folder / "data" / split / "dummy.hdf5", trajectories)
    return folder
