"""Ensembles of simulated supernova runs, written as a Well dataset (``mim3d simulate``).

The training data of Hirashima et al. (2023) are many runs of one explosion in different
turbulent clouds; here each run is one :func:`mim3d.simulate.simulate` call with its own seed.

Layout of ``OUT`` (The Well's, so :class:`mim3d.formats.well.WellStore` and
``the_well.data.WellDataset`` read it)::

    OUT/manifest.json                      configuration, seeds, splits (no git, no clock)
    OUT/data/{train,valid,test}/traj_XXXX.hdf5   turbulent media, one trajectory per file
    OUT/data/uniform/traj_XXXX.hdf5        uniform media: the out-of-distribution test

Rules:

- Trajectory ``k`` (``0 .. n + n_uniform - 1``; the first ``n`` turbulent, then the uniform
  ones) gets the seed ``SeedSequence(seed).spawn(n + n_uniform)[k]``, so runs do not depend on
  how the work is sharded or on the number of processes.
- Splits go by trajectory, never by frame: turbulent trajectory ``k`` is ``valid`` when
  ``k % 10 == 8``, ``test`` when ``k % 10 == 9``, else ``train`` (80/10/10; growing ``n`` keeps
  earlier assignments). Uniform-medium runs all go to ``uniform``.
- Resumable: a rerun skips files that exist. Files appear atomically (temporary name, then
  rename), so a killed run leaves no half-written file.
- ``shard=(i, m)`` does trajectories ``k % m == i`` (a cluster job array shares the work).
- A folder is never deleted; writing into a non-empty folder is refused unless it holds a
  ``manifest.json`` of the same configuration.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mim3d.errors import Mim3dError, expect
from mim3d.io import atomic_write

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
UNIFORM_SPLIT = "uniform"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class EnsembleConfig:
    """What an ensemble is made of; two runs with equal configs write identical data.

    Attributes:
        n: number of turbulent-medium trajectories (split into train/valid/test).
        n_uniform: number of uniform-medium trajectories (split ``uniform``).
        grid: cells per box edge.
        seed: the ensemble seed; per-trajectory seeds are spawned from it.
        n_snapshots: snapshots per trajectory, uniformly spaced in ``[0, t_end_myr]``.
        t_end_myr: time of the last snapshot [Myr].
    """

    n: int = 64
    n_uniform: int = 0
    grid: int = 32
    seed: int = 0
    n_snapshots: int = 20
    t_end_myr: float = 0.2

    def validate(self) -> None:
        for name in ("n", "n_uniform", "grid", "seed", "n_snapshots"):
            value = getattr(self, name)
            expect(isinstance(value, int) and value >= 0,
                   f"EnsembleConfig.{name} must be a non-negative integer, got {value!r}")
        expect(self.n + self.n_uniform > 0, "the ensemble is empty: ask for --n or --uniform > 0")
        expect(self.n_snapshots >= 2, f"n_snapshots must be >= 2, got {self.n_snapshots}")
        expect(self.t_end_myr > 0, f"t_end_myr must be positive, got {self.t_end_myr}")


PRESETS: dict[str, EnsembleConfig] = {
    # the small default data set of `make data`: 20 train / 2 valid / 2 test + 4 uniform
    "demo": EnsembleConfig(n=24, n_uniform=4, grid=32, seed=0, n_snapshots=20, t_end_myr=0.2),
}


@dataclass(frozen=True)
class Task:
    """One trajectory of the ensemble."""

    index: int
    seed: int
    medium: str
    split: str

    @property
    def file(self) -> str:
        return f"data/{self.split}/traj_{self.index:04d}.hdf5"


@dataclass(frozen=True)
class EnsembleReport:
    """What a call of :func:`run_ensemble` did: trajectory indices written and skipped."""

    out: Path
    written: tuple[int, ...]
    skipped: tuple[int, ...]


def split_of(index: int) -> str:
    """The split of turbulent trajectory ``index``: 8 of every 10 train, 1 valid, 1 test."""
    return {8: "valid", 9: "test"}.get(index % 10, "train")


def plan(config: EnsembleConfig) -> list[Task]:
    """Every trajectory of the ensemble with its seed, medium and split."""
    config.validate()
    total = config.n + config.n_uniform
    children = np.random.SeedSequence(config.seed).spawn(total)
    tasks = []
    for k, child in enumerate(children):
        seed = int(child.generate_state(1, dtype=np.uint32)[0])
        turbulent = k < config.n
        tasks.append(Task(k, seed, "turbulent" if turbulent else "uniform",
                          split_of(k) if turbulent else UNIFORM_SPLIT))
    return tasks


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/m"`` -> ``(i, m)`` with ``0 <= i < m``."""
    try:
        i, m = (int(v) for v in text.split("/"))
    except ValueError:
        raise Mim3dError(f"--shard expects i/m (e.g. 0/4), got {text!r}") from None
    expect(m >= 1 and 0 <= i < m, f"--shard {text}: need 0 <= i < m, e.g. 0/{max(m, 1)}")
    return i, m


def _manifest(config: EnsembleConfig, tasks: list[Task]) -> dict:
    from mim3d import __version__

    return {
        "mim3d_version": __version__,
        "config": asdict(config),
        "layout": "The Well: data/<split>/traj_XXXX.hdf5, one trajectory per file",
        "split_rule": "turbulent k: valid if k % 10 == 8, test if k % 10 == 9, else train; "
                      "uniform medium: split 'uniform'",
        "seeding": "numpy SeedSequence(config.seed).spawn(n + n_uniform)[k].generate_state(1)",
        "splits": {s: [t.index for t in tasks if t.split == s]
                   for s in (*SPLITS, UNIFORM_SPLIT)},
        "trajectories": [asdict(t) | {"file": t.file} for t in tasks],
    }


def _prepare_folder(out: Path, manifest: dict) -> None:
    """Create ``out`` or check it is a previous run of the same config; write the manifest."""
    expect(not out.exists() or out.is_dir(), f"{out} is a file; --out needs a folder")
    path = out / MANIFEST
    if out.is_dir() and any(out.iterdir()):
        if not path.is_file():
            raise Mim3dError(f"{out} is not empty and holds no {MANIFEST}, so it is not a "
                             "previous mim3d ensemble; choose another --out (nothing was "
                             "written or deleted)")
        try:
            old = json.loads(path.read_text())["config"]
        except (ValueError, KeyError) as err:
            raise Mim3dError(f"{path} is unreadable ({err}); choose another --out") from err
        if old != manifest["config"]:
            diff = ", ".join(f"{k}: {old.get(k)!r} there vs {v!r} now"
                             for k, v in manifest["config"].items() if old.get(k) != v)
            raise Mim3dError(f"{out} holds an ensemble of another configuration ({diff}); "
                             "choose another --out or repeat that configuration to resume")
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise Mim3dError(f"cannot create the data folder {out}: {err.strerror}; choose another "
                         f"--out") from None
    if not os.access(out, os.W_OK):
        raise Mim3dError(f"cannot write to the data folder {out}: permission denied; choose "
                         f"another --out")
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(manifest, indent=1) + "\n"))


def _worker_init(threads: int) -> None:
    # before numba is imported by the simulator: share the cores between the processes
    os.environ["NUMBA_NUM_THREADS"] = str(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))


def _run_task(job: tuple[Task, EnsembleConfig, str, Callable | None]) -> tuple[int, float, str]:
    """Simulate one trajectory and write it; returns ``(index, seconds, error or "")``."""
    from mim3d.formats.well import write_well
    from mim3d.trajectory import Trajectory

    task, config, out, simulator = job
    start = time.perf_counter()
    try:
        sim_config_cls, simulate = _simulator_api()
        simulate = simulator or simulate
        sim_config = sim_config_cls(grid=config.grid, medium=task.medium, seed=task.seed,
                                    n_snapshots=config.n_snapshots, t_end_myr=config.t_end_myr)
        traj = simulate(sim_config, progress=False)
        params = {**traj.params, "ensemble_index": task.index, "ensemble_seed": config.seed}
        traj = Trajectory(fields=traj.fields, times=traj.times, box_pc=traj.box_pc,
                          params=params)
        write_well(Path(out) / task.file, [traj])
    except Exception as err:  # reported by the parent, other trajectories go on
        return task.index, time.perf_counter() - start, f"{type(err).__name__}: {err}"
    return task.index, time.perf_counter() - start, ""


def _simulator_api():
    """``(SimConfig, simulate)`` of :mod:`mim3d.simulate`, imported only where needed."""
    try:
        from mim3d.simulate import SimConfig, simulate
    except ImportError:  # simulator not installed/complete: SimConfig alone still serves fakes
        from mim3d.simulate.config import SimConfig

        simulate = None
    return SimConfig, simulate


def run_ensemble(
    config: EnsembleConfig,
    out: str | Path,
    jobs: int = 1,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    simulator: Callable | None = None,
) -> EnsembleReport:
    """Simulate the ensemble (or one shard of it) into ``out``; resumes a previous run.

    Args:
        config: what to simulate.
        out: dataset folder (created; see the module docstring for the layout).
        jobs: processes in parallel (spawned; 1 runs in this process).
        shard: ``(i, m)``: do only trajectories ``k % m == i``.
        progress: show a tqdm bar over trajectories.
        simulator: replaces :func:`mim3d.simulate.simulate` (same call); for tests. With
            ``jobs > 1`` it must be importable by name (a module-level function).

    Raises:
        Mim3dError: bad config or folder, or some trajectories failed (the others are kept;
            rerun to retry the failed ones).
    """
    from tqdm.auto import tqdm

    out = Path(out)
    expect(jobs >= 1, f"--jobs must be >= 1, got {jobs}")
    tasks = plan(config)
    _prepare_folder(out, _manifest(config, tasks))
    i, m = shard
    mine = [t for t in tasks if t.index % m == i]
    skipped = tuple(t.index for t in mine if (out / t.file).exists())
    todo = [t for t in mine if not (out / t.file).exists()]
    log.info("ensemble %s: %d trajectories in this shard, %d done before, %d to run",
             out, len(mine), len(skipped), len(todo))
    jobs_args = [(t, config, str(out), simulator) for t in todo]
    written, failed = [], []
    expect(simulator is not None or _simulator_api()[1] is not None,
           "mim3d.simulate.simulate could not be imported; reinstall mim3d (pip install -e .)")
    pool = None
    bar = tqdm(total=len(mine), initial=len(skipped), unit="traj", disable=not progress,
               desc=f"simulate {config.grid}^3")
    try:
        if jobs == 1 or len(todo) <= 1:
            results = map(_run_task, jobs_args)
        else:
            threads = max(1, (os.cpu_count() or 1) // jobs)
            pool = multiprocessing.get_context("spawn").Pool(
                min(jobs, len(todo)), initializer=_worker_init, initargs=(threads,))
            results = pool.imap_unordered(_run_task, jobs_args)
        for index, seconds, error in results:
            if error:
                failed.append((index, error))
                log.error("trajectory %d failed: %s", index, error)
            else:
                written.append(index)
                log.info("trajectory %d done in %.1f s", index, seconds)
            bar.update(1)
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    if failed:
        listing = "; ".join(f"{k}: {e}" for k, e in failed[:3])
        raise Mim3dError(f"{len(failed)} of {len(todo)} trajectories failed ({listing}"
                         f"{'; ...' if len(failed) > 3 else ''}); the others are written, rerun "
                         "the same command to retry")
    return EnsembleReport(out, tuple(sorted(written)), skipped)


def _run(args: argparse.Namespace) -> int:
    base = PRESETS[args.preset] if args.preset else EnsembleConfig()
    overrides = {name: value for name, value in (
        ("n", args.n), ("n_uniform", args.uniform), ("grid", args.grid), ("seed", args.seed),
        ("n_snapshots", args.n_snapshots), ("t_end_myr", args.t_end_myr)) if value is not None}
    config = dataclasses.replace(base, **overrides)
    report = run_ensemble(config, args.out, jobs=args.jobs, shard=parse_shard(args.shard),
                          progress=not args.quiet)
    print(f"{report.out}: {len(report.written)} trajectories written, "
          f"{len(report.skipped)} already there")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate", help="simulate an ensemble of supernova runs into a Well dataset",
        description="Simulate supernova runs in turbulent (and uniform) media and write them as "
                    "OUT/data/<split>/traj_XXXX.hdf5 with OUT/manifest.json. Reruns resume.")
    p.add_argument("--out", required=True, help="dataset folder")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="named configuration (demo: 24 turbulent + 4 uniform at 32^3); "
                        "other options override it")
    p.add_argument("--n", type=int, default=None, help="turbulent trajectories (default 64)")
    p.add_argument("--uniform", type=int, default=None,
                   help="uniform-medium trajectories, split 'uniform' (default 0)")
    p.add_argument("--grid", type=int, default=None, help="cells per box edge (default 32)")
    p.add_argument("--seed", type=int, default=None, help="ensemble seed (default 0)")
    p.add_argument("--n-snapshots", type=int, default=None, help="snapshots (default 20)")
    p.add_argument("--t-end-myr", type=float, default=None, help="last snapshot [Myr] (0.2)")
    p.add_argument("--jobs", type=int, default=1, help="processes in parallel (default 1)")
    p.add_argument("--shard", default="0/1", help="i/m: only trajectories k %% m == i")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)
