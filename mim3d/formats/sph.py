"""SPH particles deposited onto a uniform grid with ``yt`` (``mim3d grid-sph``).

The 3D-MIM training data come from the SPH code ASURA-FDPS (Hirashima et al. 2023); models see
them gridded. Here particles are loaded with ``yt.load_particles`` and interpolated onto the
cell centres of ``ds.arbitrary_grid`` with yt's scatter SPH kernel (cubic spline, support radius
= smoothing length ``h``; Monaghan 1992):

- density: ``rho(x) = sum_j m_j W(|x - x_j|, h_j)`` (unnormalised, so the gridded mass equals
  the particles' mass up to the kernel's sampling error and what lies outside the box);
- every other field ``A``: ``sum_j (m_j/rho_j) A_j W / sum_j (m_j/rho_j) W`` (normalised, so a
  constant field stays constant); cells no kernel reaches get 0.

Smoothing lengths (yt's support radius) below two cells are raised to two cells: a kernel
sampled at cell centres must span a few of them to hold its mass (at one cell, 1.5 % of the mass
is lost; at two, 4e-6).

The yt unit pitfall: yt interpolates the *raw numbers* of a field (``chunk[field].d``) while the
weights ``m_j/rho_j`` and ``W`` are in code units, and yt stores a ``density`` particle field in
g cm^-3. Interpolating yt's own ``density`` therefore returns g cm^-3 numbers labelled with code
units. So every field is handed to yt as a dimensionless copy, code units are set explicitly
(``length_unit`` 1 pc, ``mass_unit`` 1 Msun), ``rho_j`` is given in Msun pc^-3, and the result's
units are set here, not read from yt.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from mim3d.errors import Mim3dError, expect

log = logging.getLogger(__name__)

_M_H_G = 1.6735575e-24
_MSUN_G = 1.98847e33
_PC_CM = 3.0856775814913673e18
X_H = 0.76  # hydrogen mass fraction used to turn mass density into n_H
MSUN_PC3_TO_NH = _MSUN_G / _PC_CM**3 * X_H / _M_H_G  # Msun pc^-3 -> n_H cm^-3 (about 23)


def cubic_kernel(r: np.ndarray, h: np.ndarray) -> np.ndarray:
    """The cubic-spline kernel with support radius ``h`` (yt's ``cubic``), 3-D, in 1/h^3."""
    q = np.asarray(r) / h
    w = np.where(q < 0.5, 1 - 6 * q**2 + 6 * q**3, np.where(q < 1, 2 * (1 - q) ** 3, 0.0))
    return 8 / (np.pi * h**3) * w


def sph_density(positions: np.ndarray, masses: np.ndarray,
                smoothing_lengths: np.ndarray) -> np.ndarray:
    """SPH density at each particle, ``sum_j m_j W(r_ij, h_i)``: ``(N,)`` in mass / length^3."""
    from scipy.spatial import cKDTree

    tree = cKDTree(positions)
    pairs = tree.sparse_distance_matrix(tree, float(smoothing_lengths.max()),
                                        output_type="ndarray")  # i, j, r; includes i == j
    i, j, r = pairs["i"], pairs["j"], pairs["v"]
    w = masses[j] * cubic_kernel(r, smoothing_lengths[i])
    return np.bincount(i, weights=w, minlength=len(positions))


def grid_sph(
    positions: np.ndarray,
    masses: np.ndarray,
    smoothing_lengths: np.ndarray,
    fields: dict[str, np.ndarray],
    box_pc: float,
    grid: int,
    densities: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Deposit particles onto a ``grid``³ mesh over ``[0, box_pc]³`` with yt.

    Args:
        positions: ``(N, 3)`` particle positions [pc], inside the box.
        masses: ``(N,)`` particle masses [Msun].
        smoothing_lengths: ``(N,)`` kernel support radii [pc].
        fields: name -> ``(N,)`` per-particle values (any units; returned in the same units).
        box_pc: box edge [pc].
        grid: cells per edge.
        densities: ``(N,)`` SPH densities [Msun pc^-3] used as weights; computed if None.

    Returns:
        ``"density"`` ``(grid, grid, grid)`` in n_H cm^-3, ``"mass_density_msun_pc3"`` the same
        in Msun pc^-3, and each entry of ``fields`` gridded, all float64.
    """
    try:
        import yt
    except ImportError as err:
        raise Mim3dError("grid_sph needs yt: pip install 'mim3d[sph]' (or pip install yt)") \
            from err
    positions = np.asarray(positions, dtype=np.float64)
    masses = np.asarray(masses, dtype=np.float64)
    hsml = np.asarray(smoothing_lengths, dtype=np.float64)
    n = len(positions)
    expect(positions.ndim == 2 and positions.shape[1] == 3 and n > 0,
           f"positions must be (N, 3) with N > 0, got {positions.shape}")
    expect(masses.shape == (n,) and hsml.shape == (n,),
           f"masses {masses.shape} and smoothing_lengths {hsml.shape} must be ({n},)")
    expect(bool((masses > 0).all() and (hsml > 0).all()),
           "masses and smoothing lengths must be positive")
    expect(box_pc > 0 and grid >= 1, f"need box_pc > 0 and grid >= 1, got {box_pc}, {grid}")
    outside = (positions < 0) | (positions > box_pc)
    expect(not outside.any(), f"{int(outside.any(axis=1).sum())} particles lie outside the box "
           f"[0, {box_pc}] pc; shift or cut them first")
    for name, values in fields.items():
        expect(np.shape(values) == (n,), f"field {name!r} has shape {np.shape(values)}, "
               f"expected ({n},), one value per particle")
    dx = box_pc / grid
    hsml = np.maximum(hsml, 2 * dx)
    rho = sph_density(positions, masses, hsml) if densities is None else np.asarray(
        densities, dtype=np.float64)
    expect(rho.shape == (n,) and bool((rho > 0).all()), "densities must be (N,) and positive")

    data = {("io", f"particle_position_{a}"): (positions[:, k], "pc") for k, a in enumerate("xyz")}
    data[("io", "particle_mass")] = (masses, "Msun")
    data[("io", "smoothing_length")] = (hsml, "pc")
    data[("io", "density")] = (rho, "Msun/pc**3")
    data[("io", "mim3d_rho")] = rho  # dimensionless copy in Msun/pc^3: see the pitfall above
    names = {f"mim3d_f{k}": name for k, name in enumerate(fields)}
    for key, name in names.items():
        data[("io", key)] = np.asarray(fields[name], dtype=np.float64)
    yt.set_log_level(40)
    ds = yt.load_particles(data, length_unit=(1.0, "pc"), mass_unit=(1.0, "Msun"),
                           bbox=np.array([[0.0, box_pc]] * 3), periodicity=(False,) * 3)
    check = float(ds.quan(1, "code_length").to("pc")), float(ds.quan(1, "code_mass").to("Msun"))
    expect(np.allclose(check, 1.0), f"yt set code units to {check} (pc, Msun), expected 1, 1")

    def deposit(field: str, normalise: bool) -> np.ndarray:
        ds.use_sph_normalization = normalise  # read by yt at fill time
        ag = ds.arbitrary_grid([0.0, 0.0, 0.0], [box_pc] * 3, dims=[grid] * 3)
        return np.array(ag[("io", field)].d, dtype=np.float64)

    out = {"mass_density_msun_pc3": deposit("mim3d_rho", normalise=False)}
    out["density"] = out["mass_density_msun_pc3"] * MSUN_PC3_TO_NH
    for key, name in names.items():
        out[name] = deposit(key, normalise=True)
    mass = out["mass_density_msun_pc3"].sum() * dx**3
    log.info("gridded %d particles onto %d^3: mass %.6g Msun of %.6g (%.3f %%)", n, grid,
             mass, masses.sum(), 100 * (mass / masses.sum() - 1))
    return out


def _run(args: argparse.Namespace) -> int:
    from mim3d.formats.well import write_well
    from mim3d.trajectory import Trajectory

    try:
        with np.load(args.particles) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as err:
        raise Mim3dError(f"cannot read {args.particles} as .npz: {err}") from err
    required = ("positions", "masses", "smoothing_lengths")
    missing = [k for k in required if k not in data]
    expect(not missing, f"{args.particles} lacks {missing}; expected positions (N,3) pc, "
           "masses (N,) Msun, smoothing_lengths (N,) pc, optional densities (N,) Msun/pc^3 "
           "and fields temperature, pressure, velocity_x/_y/_z, time_myr")
    known = {"temperature", "pressure", "velocity_x", "velocity_y", "velocity_z"}
    unknown = set(data) - known - set(required) - {"densities", "time_myr"}
    expect(not unknown, f"{args.particles} has unknown arrays {sorted(unknown)}; fields "
           f"allowed: {sorted(known)}")
    fields = {k: data[k] for k in known if k in data}
    gridded = grid_sph(data["positions"], data["masses"], data["smoothing_lengths"], fields,
                       box_pc=args.box_pc, grid=args.grid, densities=data.get("densities"))
    out = {"density": gridded["density"][None].astype(np.float32)}
    for name in ("temperature", "pressure"):
        if name in gridded:
            out[name] = gridded[name][None].astype(np.float32)
    if all(f"velocity_{c}" in gridded for c in "xyz"):
        out["velocity"] = np.stack([gridded[f"velocity_{c}"] for c in "xyz"], -1)[None].astype(
            np.float32)
    time_myr = float(data.get("time_myr", 0.0))
    traj = Trajectory(fields=out, times=np.array([time_myr]), box_pc=args.box_pc,
                      params={"source": Path(args.particles).name, "gridded_by": "yt sph"})
    print(write_well(args.out, [traj]))
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "grid-sph", help="deposit SPH particles onto a grid (Well HDF5)",
        description="Deposit SPH particles (an .npz with positions, masses, smoothing_lengths "
                    "and optional temperature/pressure/velocity_x/_y/_z, densities, time_myr) "
                    "onto a uniform grid with yt and write one Well snapshot.")
    p.add_argument("--particles", required=True, help=".npz of particle arrays")
    p.add_argument("--grid", type=int, default=64, help="cells per box edge (default 64)")
    p.add_argument("--box-pc", type=float, default=60.0, help="box edge in pc (default 60)")
    p.add_argument("--out", required=True, help="the .hdf5 to write")
    p.set_defaults(func=_run)
