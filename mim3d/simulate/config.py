"""Configuration of one simulated supernova run (:class:`SimConfig`).

Defaults follow the set-up of Hirashima et al. (2023): a 60 pc box of gas with mean
n_H = 44.5 cm^-3 at T0 = 100 K, a 1e51 erg thermal explosion at the centre, snapshots from 0 to
0.2 Myr.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from numbers import Integral, Real

from mim3d.errors import Mim3dError

MEDIA = ("uniform", "turbulent")
SPECTRA = ("burgers", "kolmogorov")
BOUNDARIES = ("outflow", "periodic")
BACKENDS = ("numba", "numpy")
LIMITERS = ("minmod", "mc")


@dataclass(frozen=True)
class SimConfig:
    """One supernova run on a ``grid``³ uniform mesh.

    Attributes:
        grid: cells per box edge (>= 8).
        box_pc: box edge [pc].
        medium: ``"uniform"`` or ``"turbulent"`` (log-normal density with a power-law spectrum).
        n_H: mean hydrogen number density [cm^-3]; ``rho = 1.4 m_H n_H``.
        T0: initial gas temperature [K]; pressure ``P/k_B = (1.4/mu) n_H T0`` cell by cell.
        mu: fixed mean molecular weight used for every temperature, ``T = mu m_H P/(rho k_B)``
            (0.6: ionised gas, which dominates the blast).
        sigma_lnrho: standard deviation of ln(density) of the turbulent medium.
        spectrum: ``"burgers"`` (E(k) ∝ k^-2) or ``"kolmogorov"`` (E(k) ∝ k^-5/3) for the
            log-density and velocity fields of the turbulent medium.
        v_turb_kms: 3D rms turbulent velocity [km/s] of the turbulent medium (0: at rest).
        seed: seed of the ``numpy.random.Generator`` that draws the turbulent medium.
        E_sn_erg: thermal energy of the explosion [erg].
        sn_radius_cells: radius of the sphere (in cells, around the box centre) in which the
            energy is deposited uniformly; the total is exact (normalised by the deposited volume).
        t_end_myr: last snapshot time [Myr]; ended earlier if the Sedov-Taylor shell would
            pass ``max_radius_fraction`` of the half box.
        n_snapshots: snapshots uniformly spaced in ``[0, t_end]`` (ignored if
            ``snapshot_times_myr`` is given).
        snapshot_times_myr: explicit increasing snapshot times [Myr] (first >= 0), or None.
        boundary: ``"outflow"`` (zero gradient) or ``"periodic"``.
        cooling: operator-split radiative cooling (Rosen & Bregman 1995 solar curve).
        cooling_floor_K: temperature below which cooling stops [K].
        cfl: Courant number of ``dt = cfl dx / max(sum_d (|v_d| + c))`` (summed over the three
            axes). 0.5 is the positivity bound of each MUSCL forward-Euler stage; 0.8 with the
            MC limiter went unstable in a cooling run.
        limiter: slope limiter on primitive variables, ``"minmod"`` or ``"mc"``.
        backend: ``"numba"`` (compiled, parallel) or ``"numpy"`` (reference, slow).
        density_floor: lowest allowed n_H [cm^-3]; each use is counted in ``floor_hits``.
        pressure_floor: lowest allowed P/k_B [K cm^-3]; each use is counted in ``floor_hits``.
        temperature_floor_K: lowest allowed temperature [K], applied as a pressure floor
            ``P >= P(n, T_floor)`` (cold, fast shells lose their internal energy to truncation
            error otherwise); counted in ``floor_hits`` like the others.
        max_radius_fraction: the run ends before the Sedov-Taylor radius exceeds this fraction
            of the half box edge.
        max_steps: give up (error) after this many time steps.
    """

    grid: int = 64
    box_pc: float = 60.0
    medium: str = "turbulent"
    n_H: float = 44.5
    T0: float = 100.0
    mu: float = 0.6
    sigma_lnrho: float = 1.0
    spectrum: str = "burgers"
    v_turb_kms: float = 0.0
    seed: int = 0
    E_sn_erg: float = 1e51
    sn_radius_cells: float = 2.5
    t_end_myr: float = 0.2
    n_snapshots: int = 20
    snapshot_times_myr: tuple[float, ...] | None = None
    boundary: str = "outflow"
    cooling: bool = False
    cooling_floor_K: float = 10.0
    cfl: float = 0.5
    limiter: str = "mc"
    backend: str = "numba"
    density_floor: float = 1e-6
    pressure_floor: float = 1e-4
    temperature_floor_K: float = 1.0
    max_radius_fraction: float = 0.9
    max_steps: int = 200_000

    def validate(self) -> None:
        """Raise :class:`Mim3dError` naming the first bad field."""

        def need(ok: bool, what: str, value) -> None:
            if not ok:
                raise Mim3dError(
                    f"SimConfig.{what.split()[0]}: expected {what}, got {value!r}; "
                    "fix the value and try again"
                )

        need(isinstance(self.grid, Integral) and self.grid >= 8, "grid an integer >= 8", self.grid)
        for name in (
            "box_pc",
            "n_H",
            "T0",
            "mu",
            "E_sn_erg",
            "sn_radius_cells",
            "t_end_myr",
            "density_floor",
            "pressure_floor",
            "cooling_floor_K",
            "temperature_floor_K",
        ):
            value = getattr(self, name)
            need(isinstance(value, Real) and value > 0, f"{name} a positive number", value)
        need(0 < self.cfl <= 1.0, "cfl in (0, 1]", self.cfl)
        need(
            0 < self.max_radius_fraction <= 1,
            "max_radius_fraction in (0, 1]",
            self.max_radius_fraction,
        )
        need(self.sigma_lnrho >= 0, "sigma_lnrho >= 0", self.sigma_lnrho)
        need(self.v_turb_kms >= 0, "v_turb_kms >= 0", self.v_turb_kms)
        need(self.medium in MEDIA, f"medium one of {MEDIA}", self.medium)
        need(self.spectrum in SPECTRA, f"spectrum one of {SPECTRA}", self.spectrum)
        need(self.boundary in BOUNDARIES, f"boundary one of {BOUNDARIES}", self.boundary)
        need(self.backend in BACKENDS, f"backend one of {BACKENDS}", self.backend)
        need(self.limiter in LIMITERS, f"limiter one of {LIMITERS}", self.limiter)
        need(
            isinstance(self.n_snapshots, Integral) and self.n_snapshots >= 2,
            "n_snapshots an integer >= 2",
            self.n_snapshots,
        )
        need(
            isinstance(self.max_steps, Integral) and self.max_steps >= 1,
            "max_steps a positive integer",
            self.max_steps,
        )
        need(
            isinstance(self.seed, Integral) and self.seed >= 0,
            "seed a non-negative integer",
            self.seed,
        )
        need(
            2 * self.sn_radius_cells < self.grid,
            "sn_radius_cells below grid / 2",
            self.sn_radius_cells,
        )
        if self.snapshot_times_myr is not None:
            times = tuple(self.snapshot_times_myr)
            ok = (
                len(times) >= 1
                and times[0] >= 0
                and all(b > a for a, b in zip(times, times[1:], strict=False))
            )
            need(ok, "snapshot_times_myr increasing times >= 0", self.snapshot_times_myr)

    def to_dict(self) -> dict:
        """Fields as a plain dict (for logs and files)."""
        return asdict(self)
