"""Tests of the built-in supernova simulator (mim3d.simulate): physics, backends, config."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mim3d.errors import Mim3dError
from mim3d.simulate import SimConfig, sedov_taylor_radius_pc, shock_radius_pc, simulate
from mim3d.simulate.cooling import cool, lambda_cgs
from mim3d.simulate.euler import NG, EulerSolver
from mim3d.simulate.initial import gaussian_random_field, initial_state, medium
from mim3d.simulate.units import E_UNIT, K_B, M_H_G, MYR_S, PC_CM, pressure_code_from_temperature

GAMMA = 5.0 / 3.0


def _run_state(cfg: SimConfig, n_steps: int, backend: str = "numba") -> tuple[np.ndarray, list]:
    """Float64 state after ``n_steps`` CFL steps, and (mass, energy) after each step."""
    u = initial_state(cfg, GAMMA)
    solver = EulerSolver(
        (cfg.grid,) * 3,
        cfg.box_pc / cfg.grid,
        GAMMA,
        cfg.boundary,
        cfg.limiter,
        backend,
        1e-12,
        1e-12,
    )
    totals = [(u[NG:-NG, NG:-NG, NG:-NG, 0].sum(), u[NG:-NG, NG:-NG, NG:-NG, 4].sum())]
    for _ in range(n_steps):
        solver.step(u, solver.max_dt(u, cfg.cfl))
        totals.append((u[NG:-NG, NG:-NG, NG:-NG, 0].sum(), u[NG:-NG, NG:-NG, NG:-NG, 4].sum()))
    assert solver.floor_hits == 0
    return u[NG:-NG, NG:-NG, NG:-NG], totals


def test_sedov_taylor_radius_formula():
    rho = 1.4 * M_H_G * 44.5
    t = 0.2 * MYR_S
    expected = 1.15167 * (1e51 * t**2 / rho) ** 0.2 / PC_CM
    assert sedov_taylor_radius_pc(0.2) == pytest.approx(expected, rel=1e-12)
    assert 19.0 < expected < 20.0
    radii = sedov_taylor_radius_pc(np.array([0.1, 0.2]), E_erg=2e51, n_H=10.0)
    assert radii.shape == (2,)
    assert radii[1] / radii[0] == pytest.approx(2**0.4)


@pytest.mark.parametrize(
    "change",
    [
        {"grid": 4},
        {"grid": 16.0},
        {"n_H": -1.0},
        {"T0": 0.0},
        {"E_sn_erg": 0.0},
        {"medium": "foam"},
        {"spectrum": "white"},
        {"boundary": "reflecting"},
        {"backend": "cuda"},
        {"limiter": "superbee"},
        {"cfl": 1.5},
        {"n_snapshots": 1},
        {"sn_radius_cells": 9.0},
        {"snapshot_times_myr": (0.1, 0.05)},
    ],
)
def test_bad_config_raises(change):
    cfg = SimConfig(**{"grid": 16, **change})
    with pytest.raises(Mim3dError, match="expected"):
        simulate(cfg)


def test_not_a_config_raises():
    with pytest.raises(Mim3dError, match="SimConfig"):
        simulate({"grid": 16})


@pytest.mark.parametrize("boundary", ["periodic"])
@pytest.mark.parametrize("medium_kind", ["uniform", "turbulent"])
def test_mass_and_energy_conserved_periodic(boundary, medium_kind):
    cfg = SimConfig(grid=16, medium=medium_kind, boundary=boundary, v_turb_kms=5.0, seed=3)
    _, totals = _run_state(cfg, 25)
    totals = np.array(totals)
    mass_err = np.abs(totals[:, 0] / totals[0, 0] - 1).max()
    energy_err = np.abs(totals[:, 1] / totals[0, 1] - 1).max()
    assert mass_err < 1e-13
    assert energy_err < 1e-13


def test_numba_and_numpy_agree():
    for cfg in (
        SimConfig(
            grid=10, medium="turbulent", v_turb_kms=3.0, seed=1, sn_radius_cells=2.0, limiter="mc"
        ),
        SimConfig(
            grid=10, medium="uniform", sn_radius_cells=2.0, limiter="minmod", boundary="periodic"
        ),
    ):
        a, _ = _run_state(cfg, 4, "numba")
        b, _ = _run_state(cfg, 4, "numpy")
        scale = np.abs(a).max(axis=(0, 1, 2))
        assert np.all(np.abs(a - b).max(axis=(0, 1, 2)) <= 1e-12 * scale)
        assert np.abs(a[..., 1]).max() > 0  # something moved


def test_simulate_backends_agree_with_cooling():
    base = dict(
        grid=10,
        box_pc=12.0,
        medium="turbulent",
        sigma_lnrho=0.5,
        sn_radius_cells=2.0,
        cooling=True,
        n_snapshots=3,
        t_end_myr=0.004,
    )
    a = simulate(SimConfig(backend="numba", **base))
    b = simulate(SimConfig(backend="numpy", **base))
    assert a.params["n_steps"] == b.params["n_steps"] >= 10
    assert a.fields["temperature"][-1].max() < 0.5 * a.fields["temperature"][0].max()
    for name in a.fields:
        np.testing.assert_allclose(a.fields[name], b.fields[name], rtol=1e-6, atol=1e-6)


def test_uniform_blast_symmetric():
    cfg = SimConfig(grid=16, medium="uniform")
    u, _ = _run_state(cfg, 12)
    rho = u[..., 0]
    assert rho.max() > 1.05 * rho.min()
    for other in (
        rho[::-1],
        rho[:, ::-1],
        rho[:, :, ::-1],
        rho.transpose(1, 0, 2),
        rho.transpose(2, 1, 0),
        rho.transpose(1, 2, 0),
    ):
        assert np.abs(other - rho).max() <= 1e-10 * rho.max()
    # momentum flips sign under the mirror
    mx = u[..., 1]
    assert np.abs(mx[::-1] + mx).max() <= 1e-10 * np.abs(mx).max()


def test_sedov_taylor_at_32():
    cfg = SimConfig(grid=32, medium="uniform", n_snapshots=3)
    traj = simulate(cfg)
    assert traj.params["floor_hits"] == 0
    for i in (1, 2):
        measured = shock_radius_pc(traj.fields["density"][i], traj.box_pc)
        expected = sedov_taylor_radius_pc(traj.times[i], cfg.E_sn_erg, cfg.n_H)
        assert abs(measured / expected - 1) < 0.05, (traj.times[i], measured, expected)


def test_first_snapshot_holds_the_explosion_and_units():
    cfg = SimConfig(grid=16, medium="uniform", snapshot_times_myr=(0.0, 1e-3))
    traj = simulate(cfg)
    assert traj.fields["density"].shape == (2, 16, 16, 16)
    assert traj.fields["velocity"].shape == (2, 16, 16, 16, 3)
    assert all(v.dtype == np.float32 for v in traj.fields.values())
    p0 = traj.fields["pressure"][0].astype(np.float64)  # P / k_B [K cm^-3]
    ambient = (1.4 / cfg.mu) * cfg.n_H * cfg.T0
    np.testing.assert_allclose(np.median(p0), ambient, rtol=1e-6)
    cell_cm3 = (cfg.box_pc / cfg.grid * PC_CM) ** 3
    e_thermal = ((p0 - ambient) * K_B / (GAMMA - 1)).sum() * cell_cm3
    assert e_thermal == pytest.approx(cfg.E_sn_erg, rel=1e-5)
    np.testing.assert_allclose(traj.fields["velocity"][0], 0.0)
    # T = mu m_H P / (rho k_B) with rho = 1.4 m_H n_H
    t = traj.fields["temperature"].astype(np.float64)
    np.testing.assert_allclose(
        t, cfg.mu / 1.4 * traj.fields["pressure"] / traj.fields["density"], rtol=1e-5
    )
    for key in (
        "medium",
        "seed",
        "E_sn_erg",
        "n_H",
        "T0",
        "sigma_lnrho",
        "spectrum",
        "boundary",
        "cooling",
        "grid",
        "t_end_myr",
        "floor_hits",
        "mu",
    ):
        assert key in traj.params


def test_floors_are_counted_and_logged(caplog):
    cfg = SimConfig(
        grid=12,
        medium="uniform",
        sn_radius_cells=2.0,
        pressure_floor=1e5,
        snapshot_times_myr=(0.0, 1e-4),
    )
    with caplog.at_level(logging.WARNING, logger="mim3d.simulate"):
        traj = simulate(cfg)
    assert traj.params["floor_hits"] > 0
    assert "floor" in caplog.text
    quiet = simulate(
        SimConfig(grid=12, medium="uniform", sn_radius_cells=2.0, snapshot_times_myr=(0.0, 1e-4))
    )
    assert quiet.params["floor_hits"] == 0


def test_run_ends_before_shell_leaves_box(caplog):
    with caplog.at_level(logging.WARNING, logger="mim3d.simulate"):
        traj = simulate(
            SimConfig(grid=8, medium="uniform", box_pc=16.0, n_snapshots=4, sn_radius_cells=2.0)
        )
    t_end = traj.params["t_end_myr"]
    assert t_end < 0.2 and traj.params["ended_early"]
    assert traj.times[-1] == pytest.approx(t_end)
    assert sedov_taylor_radius_pc(t_end) == pytest.approx(0.9 * 8.0, rel=1e-9)
    assert "ends at" in caplog.text


def test_turbulent_medium_statistics():
    cfg = SimConfig(grid=32, medium="turbulent", sigma_lnrho=0.8, seed=7, v_turb_kms=4.0)
    dens, vel = medium(cfg)
    assert dens.mean() == pytest.approx(cfg.n_H, rel=1e-12)
    assert np.log(dens).std() == pytest.approx(0.8, rel=1e-9)
    v_kms = vel * 0.977792221
    assert np.sqrt(np.mean(np.sum(v_kms**2, axis=-1))) == pytest.approx(4.0, rel=1e-3)
    again, _ = medium(cfg)
    np.testing.assert_array_equal(dens, again)
    other, _ = medium(SimConfig(grid=32, seed=8))
    assert not np.allclose(other / other.mean(), dens / dens.mean())


@pytest.mark.parametrize("spectrum,slope", [("burgers", 2.0), ("kolmogorov", 5.0 / 3.0)])
def test_gaussian_field_spectrum_slope(spectrum, slope):
    n = 48
    field = gaussian_random_field(n, slope, np.random.default_rng(0))
    power = np.abs(np.fft.fftn(field)) ** 2
    k1 = np.fft.fftfreq(n) * n
    k = np.sqrt(k1[:, None, None] ** 2 + k1[None, :, None] ** 2 + k1[None, None, :] ** 2)
    shells = np.arange(2, 16)
    e_k = np.array([power[(k >= s - 0.5) & (k < s + 0.5)].sum() for s in shells])
    fitted = np.polyfit(np.log(shells), np.log(e_k), 1)[0]
    assert fitted == pytest.approx(-slope, abs=0.25)


def test_cooling_rate_and_floor():
    assert lambda_cgs(100.0) == 0.0
    assert lambda_cgs(1e6) == pytest.approx(1.67e-18 * 1e6**-0.65)
    n, t_k, mu = 10.0, 1e6, 0.6
    u = np.zeros((5, 5, 5, 5))
    u[..., 0] = n
    p = pressure_code_from_temperature(n, t_k, mu)
    u[..., 4] = p / (GAMMA - 1)
    e0 = u[2, 2, 2, 4]
    dt_myr = 1e-4
    cool(u, dt_myr, GAMMA, mu, 10.0, "numba")
    loss_cgs = n**2 * lambda_cgs(t_k) * dt_myr * MYR_S * PC_CM**3  # erg per pc^3
    assert (e0 - u[2, 2, 2, 4]) * E_UNIT == pytest.approx(loss_cgs, rel=0.02)
    # a long step cools to the floor, never below
    cool(u, 10.0, GAMMA, mu, 5000.0, "numba")
    t_after = (GAMMA - 1) * u[2, 2, 2, 4] / pressure_code_from_temperature(n, 1.0, mu)
    assert t_after == pytest.approx(5000.0, rel=1e-9)


def test_progress_bar_runs(capsys):
    traj = simulate(
        SimConfig(grid=8, medium="uniform", sn_radius_cells=2.0, snapshot_times_myr=(0.0, 1e-4)),
        progress=True,
    )
    assert traj.n_t == 2
    assert "Myr" in capsys.readouterr().err


def test_cooling_run_stays_finite_and_loses_energy():
    base = dict(grid=16, medium="uniform", n_snapshots=3)
    hot = simulate(SimConfig(**base))
    cooled = simulate(SimConfig(cooling=True, **base))
    for traj in (hot, cooled):
        assert all(np.isfinite(v).all() for v in traj.fields.values())
    thermal = [t.fields["pressure"][-1].astype(np.float64).sum() for t in (hot, cooled)]
    assert thermal[1] < 0.7 * thermal[0]
    assert cooled.fields["temperature"].min() >= 0.99 * cooled.params["temperature_floor_K"]
