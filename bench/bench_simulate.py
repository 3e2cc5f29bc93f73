"""Speed and accuracy of the built-in simulator; writes ``bench/results/simulate.json``.

Run: ``.venv/bin/python bench/bench_simulate.py [--quick]``.

Measures (after a small run that compiles the numba kernels):
* a 32³ and a 64³ turbulent run to 0.2 Myr: wall time, steps, ms per step
  (goals: <= 5 s and <= 60 s);
* the Sedov-Taylor radius error of a uniform-medium blast at 32³ and 64³, shell radius from the
  peak of the spherically averaged density (goal: <= 3 % at 64³); the half-height "front"
  radius is reported too.
The machine load average and the process CPU time are stored with the numbers, since wall
times on a shared box vary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numba

from mim3d.simulate import SimConfig, sedov_taylor_radius_pc, shock_radius_pc, simulate

OUT = Path(__file__).parent / "results" / "simulate.json"


def timed_run(cfg: SimConfig) -> tuple[dict, object]:
    start, cpu = time.perf_counter(), time.process_time()
    traj = simulate(cfg)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    steps = traj.params["n_steps"]
    return {
        "grid": cfg.grid,
        "medium": cfg.medium,
        "t_end_myr": traj.params["t_end_myr"],
        "wall_s": round(wall, 3),
        "n_steps": steps,
        "ms_per_step": round(1e3 * wall / steps, 2),
        "cpu_s": round(cpu, 3),  # all threads; about the wall time on one free core
        "cpu_ms_per_step": round(1e3 * cpu / steps, 2),
        "floor_hits": traj.params["floor_hits"],
        "load_avg_1min_after": round(os.getloadavg()[0], 2),
    }, traj


def sedov_errors(traj) -> dict:
    out = {}
    for i in range(1, traj.n_t):
        t = float(traj.times[i])
        exact = sedov_taylor_radius_pc(t, traj.params["E_sn_erg"], traj.params["n_H"])
        dens = traj.fields["density"][i]
        peak = shock_radius_pc(dens, traj.box_pc, "peak")
        front = shock_radius_pc(dens, traj.box_pc, "front")
        out[f"{t:.3f}"] = {
            "R_sedov_pc": round(exact, 4),
            "R_peak_pc": round(peak, 4),
            "err_peak": round(peak / exact - 1, 4),
            "R_front_pc": round(front, 4),
            "err_front": round(front / exact - 1, 4),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32³ only")
    args = parser.parse_args()
    grids = (32,) if args.quick else (32, 64)

    start = time.perf_counter()
    simulate(SimConfig(grid=8, sn_radius_cells=2.0, snapshot_times_myr=(0.0, 1e-3)))
    result = {
        "compile_s": round(time.perf_counter() - start, 2),
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "cpu": platform.processor() or platform.machine(),
        "load_avg_1min_start": round(os.getloadavg()[0], 2),
        "goals": {"turbulent_32_s": 5.0, "turbulent_64_s": 60.0, "sedov_err_64": 0.03},
        "turbulent": {},
        "sedov": {},
    }
    for grid in grids:
        info, _ = timed_run(SimConfig(grid=grid, medium="turbulent", seed=0, n_snapshots=20))
        result["turbulent"][str(grid)] = info
        print("turbulent", info, flush=True)
    for grid in grids:
        info, traj = timed_run(SimConfig(grid=grid, medium="uniform", n_snapshots=5))
        info["radius"] = sedov_errors(traj)
        result["sedov"][str(grid)] = info
        print("sedov", grid, json.dumps(info["radius"]["0.200"]), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
