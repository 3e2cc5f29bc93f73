"""The time loop: initial state -> SSP-RK2 steps (+ cooling) -> snapshots -> Trajectory.

Steps follow the CFL limit and are shortened to land exactly on each snapshot time. The first
snapshot at t = 0 is the initial state with the explosion energy deposited. If the Sedov-Taylor
shell would pass ``max_radius_fraction`` of the half box before ``t_end``, the run ends earlier
(warning logged, actual end in ``params["t_end_myr"]``).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from mim3d.errors import Mim3dError
from mim3d.simulate.config import SimConfig
from mim3d.simulate.cooling import cool
from mim3d.simulate.euler import NG, EulerSolver
from mim3d.simulate.initial import initial_state
from mim3d.simulate.sedov import sedov_taylor_time_myr
from mim3d.simulate.units import (
    P_CODE_TO_K,
    V_CODE_TO_KMS,
    pressure_code_from_temperature,
    temperature_from_code,
)
from mim3d.trajectory import Trajectory

log = logging.getLogger(__name__)

GAMMA = 5.0 / 3.0


def snapshot_times(cfg: SimConfig) -> tuple[np.ndarray, float, bool]:
    """Snapshot times [Myr], the end time and whether the run was shortened."""
    t_max = sedov_taylor_time_myr(cfg.max_radius_fraction * 0.5 * cfg.box_pc, cfg.E_sn_erg, cfg.n_H)
    if cfg.snapshot_times_myr is not None:
        times = np.asarray(cfg.snapshot_times_myr, dtype=np.float64)
        short = bool(times[-1] > t_max)
        times = times[times <= t_max]
        if len(times) == 0:
            raise Mim3dError(
                f"snapshot_times_myr: all times are after {t_max:.4g} Myr, when the "
                "Sedov-Taylor shell leaves the box; give earlier times or a larger box_pc"
            )
        return times, float(times[-1]), short
    t_end = min(cfg.t_end_myr, t_max)
    return np.linspace(0.0, t_end, cfg.n_snapshots), float(t_end), bool(cfg.t_end_myr > t_max)


def _fields(u: np.ndarray, mu: float) -> dict[str, np.ndarray]:
    inner = u[NG:-NG, NG:-NG, NG:-NG]
    rho = inner[..., 0]
    vel = inner[..., 1:4] / rho[..., None]
    p = (GAMMA - 1.0) * (inner[..., 4] - 0.5 * rho * np.sum(vel**2, axis=-1))
    return {
        "density": rho.astype(np.float32),
        "pressure": (p * P_CODE_TO_K).astype(np.float32),
        "temperature": temperature_from_code(rho, p, mu).astype(np.float32),
        "velocity": (vel * V_CODE_TO_KMS).astype(np.float32),
    }


def simulate(cfg: SimConfig, progress: bool = False) -> Trajectory:
    """Run one supernova in the medium of ``cfg``.

    Args:
        cfg: the run (validated here; bad fields raise :class:`Mim3dError`).
        progress: show a tqdm bar over simulated time.

    Returns:
        A :class:`~mim3d.trajectory.Trajectory` with density [cm^-3], pressure [K cm^-3],
        temperature [K] and velocity [km/s], each ``(n_t, n, n, n[, 3])`` float32; params hold
        the configuration, ``t_end_myr`` (actual), ``n_steps`` and ``floor_hits``.
    """
    if not isinstance(cfg, SimConfig):
        raise Mim3dError(
            f"simulate: expected a SimConfig, got {type(cfg).__name__}; "
            "build one with SimConfig(grid=..., ...)"
        )
    cfg.validate()
    times, t_end, short = snapshot_times(cfg)
    if short:
        log.warning(
            "the Sedov-Taylor shell would pass %.0f%% of the half box before the "
            "requested end; the run ends at %.4g Myr",
            100 * cfg.max_radius_fraction,
            t_end,
        )
    n = cfg.grid
    dx = cfg.box_pc / n
    solver = EulerSolver(
        (n, n, n),
        dx,
        GAMMA,
        cfg.boundary,
        cfg.limiter,
        cfg.backend,
        rho_floor=cfg.density_floor,
        p_floor=cfg.pressure_floor / P_CODE_TO_K,
        pt_floor=float(pressure_code_from_temperature(1.0, cfg.temperature_floor_K, cfg.mu)),
    )
    u = initial_state(cfg, GAMMA)
    snaps = {name: [] for name in ("density", "pressure", "temperature", "velocity")}

    def record():
        for name, value in _fields(u, cfg.mu).items():
            snaps[name].append(value)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=t_end,
            unit="Myr",
            desc=f"simulate {n}^3",
            bar_format="{l_bar}{bar}| {n:.4f}/{total:.4f} Myr [{elapsed}<{remaining}]",
        )
    t = 0.0
    steps = 0
    start = time.perf_counter()
    for target in times:
        while target - t > 1e-12 * max(t_end, 1e-30):
            dt = solver.max_dt(u, cfg.cfl)
            if not np.isfinite(dt) or dt <= 0:
                raise Mim3dError(
                    f"simulate: the time step became {dt!r} at t = {t:.4g} Myr; "
                    "the state is unphysical; lower cfl or raise the floors"
                )
            dt = min(dt, target - t)
            solver.step(u, dt)
            if cfg.cooling:
                cool(u, dt, GAMMA, cfg.mu, cfg.cooling_floor_K, cfg.backend)
            t = t + dt if target - (t + dt) > 1e-12 * t_end else float(target)
            steps += 1
            if bar is not None:
                bar.update(dt)
            if steps >= cfg.max_steps:
                raise Mim3dError(
                    f"simulate: reached max_steps = {cfg.max_steps} at "
                    f"t = {t:.4g} of {t_end:.4g} Myr; raise max_steps or use a "
                    "coarser grid"
                )
        record()
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - start
    if solver.floor_hits:
        log.warning(
            "density/pressure floors acted %d times (cell-stage updates)", solver.floor_hits
        )
    log.info("simulated %d^3 to %.4g Myr in %d steps (%.2f s)", n, t_end, steps, wall)
    params = {
        "medium": cfg.medium,
        "seed": int(cfg.seed),
        "E_sn_erg": float(cfg.E_sn_erg),
        "n_H": float(cfg.n_H),
        "T0": float(cfg.T0),
        "mu": float(cfg.mu),
        "sigma_lnrho": float(cfg.sigma_lnrho) if cfg.medium == "turbulent" else 0.0,
        "spectrum": cfg.spectrum,
        "v_turb_kms": float(cfg.v_turb_kms) if cfg.medium == "turbulent" else 0.0,
        "boundary": cfg.boundary,
        "cooling": bool(cfg.cooling),
        "grid": int(n),
        "t_end_myr": float(t_end),
        "t_end_requested_myr": float(
            cfg.t_end_myr if cfg.snapshot_times_myr is None else cfg.snapshot_times_myr[-1]
        ),
        "ended_early": bool(short),
        "floor_hits": int(solver.floor_hits),
        "n_steps": int(steps),
        "wall_s": float(wall),
        "gamma": GAMMA,
        "cfl": float(cfg.cfl),
        "limiter": cfg.limiter,
        "backend": cfg.backend,
        "sn_radius_cells": float(cfg.sn_radius_cells),
        "temperature_floor_K": float(cfg.temperature_floor_K),
        "simulator": "mim3d.simulate (MUSCL-HLLC, SSP-RK2)",
    }
    fields = {name: np.stack(values) for name, values in snaps.items()}
    return Trajectory(
        fields=fields,
        times=np.asarray(times, dtype=np.float64),
        box_pc=float(cfg.box_pc),
        params=params,
    )
