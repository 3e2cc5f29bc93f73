"""Analytic checks of the blast-wave diagnostics in mim3d.physics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from mim3d import physics
from mim3d.baselines import sedov_taylor_radius_pc as baseline_sedov
from mim3d.errors import Mim3dError
from mim3d.physics import (
    changed_region,
    density_pdf_distance,
    dice,
    iou,
    kinetic_energy,
    radial_momentum,
    radial_profile_error,
    radius_grid,
    sedov_taylor_radius_pc,
    shell_diagnostics,
    shell_radius_peak,
    shell_radius_volume,
    spherical_profile,
    thermal_energy,
    total_mass,
)

# Constants written out here, independently of mim3d.physics.
M_H = 1.6735575e-24  # g
K_B = 1.380649e-16  # erg/K
PC = 3.0856775814913673e18  # cm
M_SUN = 1.98841e33  # g
MYR = 3.15576e13  # s


def _shell(grid: int, cell: float, radius: float, n0: float = 1.0, amp: float = 10.0):
    r = radius_grid((grid,) * 3, cell)
    return n0 + amp * (np.abs(r - radius) < 0.5 * cell)


def test_radius_grid_is_centred():
    r = radius_grid((4, 4, 4), 2.0)
    # The centre lies between the middle cells: the nearest cell centres are sqrt(3) pc away.
    assert r.min() == pytest.approx(math.sqrt(3.0))
    assert r[0, 0, 0] == pytest.approx(3 * math.sqrt(3.0))
    r = radius_grid((5, 5, 5), 1.0, center=(0.5, 0.5, 0.5))
    assert r[0, 0, 0] == 0.0 and r[4, 0, 0] == 4.0


def test_spherical_profile_of_radius_and_constant():
    grid, cell = 24, 2.5
    r = radius_grid((grid,) * 3, cell)
    r_pc, prof = spherical_profile(r, cell)
    assert r_pc.shape == (12,) and prof.shape == (12,)
    np.testing.assert_allclose(r_pc, (np.arange(12) + 0.5) * cell)
    # Mean radius within a one-cell shell lies inside the shell.
    assert np.all(np.abs(prof - r_pc) <= 0.5 * cell)
    _, const = spherical_profile(np.full((3, grid, grid, grid), 7.0), cell, n_bins=20)
    assert const.shape == (3, 20)
    np.testing.assert_allclose(const, 7.0)


def test_spherical_profile_marks_empty_shells_nan():
    field = np.ones((6, 6, 6))
    _, prof = spherical_profile(field, 1.0, center=(0.5, 0.5, 0.5), n_bins=12)
    # Centred on the corner cell, the farthest cell centre is 5 sqrt(3) = 8.66 pc away:
    # shells 0-8 hold cells, shells 9-11 lie beyond the box and are NaN.
    np.testing.assert_allclose(prof[:9], 1.0, rtol=1e-12)
    assert np.all(np.isnan(prof[9:]))


@pytest.mark.parametrize("radius", [5.0, 9.0, 13.0])
def test_thin_shell_peak_radius(radius):
    grid, cell = 32, 1.0
    rho = _shell(grid, cell, radius)
    assert abs(shell_radius_peak(rho, cell) - radius) <= 0.5 * cell + 1e-9


def test_peak_radius_per_time():
    grid, cell = 24, 2.0
    radii = [4.0, 8.0, 14.0, 20.0]
    rho = np.stack([_shell(grid, cell, R) for R in radii])
    peaks = shell_radius_peak(rho, cell)
    assert peaks.shape == (4,)
    assert np.all(np.abs(peaks - radii) <= 0.5 * cell + 1e-9)
    assert np.all(np.diff(peaks) > 0)


@pytest.mark.parametrize("radius", [4.0, 7.3, 11.0])
def test_uniform_sphere_volume_radius(radius):
    grid, cell = 32, 1.0
    mask = radius_grid((grid,) * 3, cell) < radius
    assert abs(shell_radius_volume(mask, cell) - radius) < cell
    # Same sphere on a grid twice as coarse.
    mask2 = radius_grid((16,) * 3, 2.0) < radius
    assert abs(shell_radius_volume(mask2, 2.0) - radius) < 2.0


def test_volume_radius_of_the_full_box():
    mask = np.ones((2, 4, 4, 4), bool)
    np.testing.assert_allclose(shell_radius_volume(mask, 3.0), (3 * 12.0**3 / (4 * np.pi)) ** (1 / 3))


def test_changed_region_modes():
    ref = np.full((4, 4, 4), 10.0)
    rho = ref.copy()
    rho[0] = 12.0  # +20 %
    rho[1] = 8.5  # -15 %
    rho[2] = 10.5  # +5 %: below the threshold
    change = changed_region(rho, ref)
    assert change[0].all() and change[1].all() and not change[2:].any()
    drop = changed_region(rho, ref, mode="drop")
    assert drop[1].all() and drop.sum() == 16
    rise = changed_region(rho, ref, mode="rise")
    assert rise[0].all() and rise.sum() == 16
    assert changed_region(rho, ref, threshold=0.01).sum() == 48
    # Frames broadcast against one reference frame.
    assert changed_region(np.stack([ref, rho]), ref).sum(axis=(1, 2, 3)).tolist() == [0, 32]
    with pytest.raises(Mim3dError, match="mode"):
        changed_region(rho, ref, mode="grow")
    with pytest.raises(Mim3dError, match="positive"):
        changed_region(rho, ref - 10.0)


def test_iou_and_dice():
    a = np.zeros((8, 8, 8), bool)
    b = np.zeros((8, 8, 8), bool)
    a[:4] = True  # 256 cells
    b[2:] = True  # 384 cells, 128 shared
    assert iou(a, a) == 1.0 and dice(a, a) == 1.0
    assert iou(a, ~a) == 0.0 and dice(a, ~a) == 0.0
    assert iou(a, b) == pytest.approx(128 / 512)
    assert dice(a, b) == pytest.approx(2 * 128 / (256 + 384))
    empty = np.zeros_like(a)
    assert iou(empty, empty) == 1.0 and dice(empty, empty) == 1.0
    assert iou(a, empty) == 0.0
    per_t = iou(np.stack([a, a, empty]), np.stack([a, b, a]))
    np.testing.assert_allclose(per_t, [1.0, 0.25, 0.0])
    with pytest.raises(Mim3dError, match="broadcastable"):
        iou(a, np.zeros((7, 8, 8), bool))


def test_mass_of_a_uniform_box():
    n, grid, cell = 44.5, 16, 2.0
    rho = np.full((2, grid, grid, grid), n, dtype=np.float32)
    expected = n * 1.4 * M_H * (grid * cell * PC) ** 3 / M_SUN
    np.testing.assert_allclose(total_mass(rho, cell), [expected, expected], rtol=1e-6)
    assert expected == pytest.approx(5.04e4, rel=0.01)  # ~5e4 M_sun in a 32 pc box at 44.5 cm^-3


def test_thermal_and_kinetic_energy_of_uniform_fields():
    grid, cell = 8, 1.5
    volume = (grid * cell * PC) ** 3
    p = np.full((grid,) * 3, 4450.0)  # P/k_B = n T for n = 44.5, T = 100 K
    assert thermal_energy(p, cell) == pytest.approx(1.5 * 4450.0 * K_B * volume, rel=1e-12)
    assert thermal_energy(p, cell, gamma=1.4) == pytest.approx(2.5 * 4450.0 * K_B * volume)
    rho = np.full((grid,) * 3, 2.0)
    v = np.zeros((grid,) * 3 + (3,))
    v[..., 0], v[..., 1] = 3.0, 4.0  # |v| = 5 km/s
    expected = 0.5 * 2.0 * 1.4 * M_H * (5e5) ** 2 * volume
    assert kinetic_energy(rho, v, cell) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(kinetic_energy(np.stack([rho, 2 * rho]), np.stack([v, v]), cell),
                               [expected, 2 * expected])
    with pytest.raises(Mim3dError, match="velocity"):
        kinetic_energy(rho, v[..., :2], cell)


def test_radial_momentum_of_outflow_and_rotation():
    grid, cell = 10, 2.0
    axis = (np.arange(grid) + 0.5) * cell - grid * cell / 2
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    r = np.sqrt(x**2 + y**2 + z**2)
    rho = np.full((grid,) * 3, 3.0)
    outflow = 100.0 * np.stack([x / r, y / r, z / r], axis=-1)  # 100 km/s radially
    mass = total_mass(rho, cell)
    assert radial_momentum(rho, outflow, cell) == pytest.approx(100.0 * mass, rel=1e-12)
    assert radial_momentum(rho, -outflow, cell) == pytest.approx(-100.0 * mass, rel=1e-12)
    rotation = np.stack([-y, x, np.zeros_like(x)], axis=-1)  # v = Ω × r, no radial part
    assert abs(radial_momentum(rho, rotation, cell)) < 1e-9 * mass


def test_density_pdf_distance():
    rng = np.random.default_rng(0)
    a = rng.normal(1.5, 0.7, size=(8, 8, 8))
    assert density_pdf_distance(a, a) == 0.0
    assert density_pdf_distance(a, a + 0.3) == pytest.approx(0.3, abs=1e-12)
    assert density_pdf_distance(a + 0.3, a) == pytest.approx(0.3, abs=1e-12)
    b = rng.lognormal(0.0, 1.0, size=(8, 8, 8))
    assert density_pdf_distance(a, b) == pytest.approx(wasserstein_distance(a.ravel(), b.ravel()))
    assert density_pdf_distance(a, b[:5]) == pytest.approx(
        wasserstein_distance(a.ravel(), b[:5].ravel()))
    with pytest.raises(Mim3dError, match="finite"):
        density_pdf_distance(np.full(4, -np.inf), a)


def test_radial_profile_error():
    rho = np.stack([_shell(16, 1.0, 4.0), _shell(16, 1.0, 6.0)])
    np.testing.assert_array_equal(radial_profile_error(rho, rho, 1.0), [0.0, 0.0])
    np.testing.assert_allclose(radial_profile_error(rho + 0.25, rho, 1.0), [0.25, 0.25])
    assert np.all(radial_profile_error(rho[::-1], rho, 1.0) > 1.0)


def test_sedov_taylor_radius_at_0p2_myr_by_hand():
    rho = 1.4 * 1.6735575e-24 * 44.5  # g cm^-3
    t = 0.2 * 1e6 * 365.25 * 86400  # s
    expected_pc = 1.15167 * (1e51 * t**2 / rho) ** 0.2 / 3.0856775814913673e18
    assert sedov_taylor_radius_pc(0.2) == pytest.approx(expected_pc, rel=1e-12)
    assert expected_pc == pytest.approx(19.43, abs=0.01)
    assert baseline_sedov(0.2) == sedov_taylor_radius_pc(0.2)


def test_sedov_taylor_scalings():
    t = np.array([0.0, 0.05, 0.1, 0.2])
    r = sedov_taylor_radius_pc(t)
    assert r.shape == (4,) and r[0] == 0.0
    assert r[3] / r[2] == pytest.approx(2**0.4)
    assert sedov_taylor_radius_pc(0.1, E_erg=32e51) == pytest.approx(2 * r[2])
    assert sedov_taylor_radius_pc(0.1, n_H=44.5 * 32) == pytest.approx(r[2] / 2)
    with pytest.raises(Mim3dError, match="t_myr"):
        sedov_taylor_radius_pc(-0.1)


def test_shell_diagnostics_of_an_expanding_shell():
    grid, cell = 20, 3.0
    times = np.array([0.0, 0.05, 0.1, 0.2])
    radii = [0.0, 8.0, 12.0, 18.0]
    first = np.ones((grid,) * 3)
    true = np.stack([first] + [_shell(grid, cell, R) for R in radii[1:]])
    d = shell_diagnostics(true, true, first, cell, times)
    for key in ("time_myr", "radius_peak_pred", "radius_peak_true", "radius_volume_pred",
                "radius_volume_true", "iou", "dice", "mass_pred", "mass_true", "w1_log_density"):
        assert d[key].shape == (4,), key
    np.testing.assert_array_equal(d["iou"], 1.0)
    np.testing.assert_array_equal(d["w1_log_density"], 0.0)
    np.testing.assert_array_equal(d["radius_peak_pred"], d["radius_peak_true"])
    assert np.all(np.abs(d["radius_peak_true"][1:] - radii[1:]) <= 0.5 * cell + 1e-9)
    assert d["radius_volume_true"][0] == 0.0 and np.all(np.diff(d["radius_volume_true"]) > 0)
    # A forecast that lags: the shell one step behind.
    lag = np.concatenate([true[:1], true[:-1]])
    d_lag = shell_diagnostics(lag, true, first, cell, times)
    assert np.all(d_lag["iou"][1:] < 1.0) and d_lag["iou"][0] == 1.0
    assert np.all(d_lag["radius_peak_pred"][2:] < d_lag["radius_peak_true"][2:])
    assert np.all(d_lag["w1_log_density"][1:] > 0)
    assert d_lag["mass_pred"][3] < d_lag["mass_true"][3]
    with pytest.raises(Mim3dError, match="times_myr"):
        shell_diagnostics(true, true, first, cell, times[:2])


def test_constants_live_in_one_place():
    assert physics.MEAN_MASS_PER_H_G == pytest.approx(1.4 * M_H)
    assert physics.MYR_S == MYR


def test_mass_per_h_is_the_simulators():
    from mim3d.simulate import units

    assert physics.MEAN_MASS_PER_H_G == units.MASS_PER_H * units.M_H_G
