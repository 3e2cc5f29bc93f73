"""Properties of the forecast scores in mim3d.metrics, in 2D and 3D, and the persistence baseline."""

from __future__ import annotations

import numpy as np
import pytest

from mim3d.baselines import persistence
from mim3d.errors import Mim3dError
from mim3d.metrics import (
    ALL,
    compute_metrics,
    metrics_table,
    read_metrics_csv,
    ssim_window,
    summarise,
    write_metrics_csv,
)

DIMS = pytest.mark.parametrize("n_dims,side", [(2, 16), (3, 8), (3, 5)])


def _fields(n_dims: int, side: int, B: int = 2, T: int = 3, C: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, T, *([side] * n_dims), C))


@DIMS
def test_field_against_itself_scores_perfectly(n_dims, side):
    y = _fields(n_dims, side)
    m = compute_metrics(y, y, n_spatial_dims=n_dims)
    assert set(m) == set(ALL) | {"data_range"}
    for name in ALL:
        assert m[name].shape == (2, 3, 2), name
    np.testing.assert_array_equal(m["mse"], 0.0)
    np.testing.assert_array_equal(m["mae"], 0.0)
    np.testing.assert_array_equal(m["rmse"], 0.0)
    np.testing.assert_array_equal(m["vrmse"], 0.0)
    assert np.all(np.isposinf(m["psnr"]))
    np.testing.assert_allclose(m["ssim"], 1.0, atol=1e-12)
    np.testing.assert_allclose(m["corr"], 1.0, atol=1e-12)


@DIMS
def test_constant_offset(n_dims, side):
    y = _fields(n_dims, side)
    c = -0.37
    m = compute_metrics(y + c, y, n_spatial_dims=n_dims, metrics=("mse", "mae", "rmse", "corr",
                                                                  "psnr"))
    np.testing.assert_allclose(m["mse"], c**2, rtol=1e-12)
    np.testing.assert_allclose(m["mae"], abs(c), rtol=1e-12)
    np.testing.assert_allclose(m["rmse"], abs(c), rtol=1e-12)
    np.testing.assert_allclose(m["corr"], 1.0, atol=1e-12)  # a shift keeps the pattern
    # PSNR with the truth's own range per sample and field, stated in the result.
    axes = (1, *range(2, 2 + n_dims))
    rng = y.max(axis=axes) - y.min(axis=axes)  # (B, C)
    np.testing.assert_allclose(m["data_range"], np.broadcast_to(rng[:, None], (2, 3, 2)))
    np.testing.assert_allclose(m["psnr"], np.broadcast_to(10 * np.log10(rng[:, None] ** 2 / c**2), (2, 3, 2)))


@DIMS
def test_predicting_the_mean_gives_vrmse_one(n_dims, side):
    y = _fields(n_dims, side)
    axes = tuple(range(2, 2 + n_dims))
    mean = np.broadcast_to(y.mean(axis=axes, keepdims=True), y.shape)
    m = compute_metrics(mean, y, n_spatial_dims=n_dims, metrics=("vrmse",))
    n = side**n_dims
    # The Well normalises by the unbiased variance, so the mean scores sqrt((N-1)/N).
    np.testing.assert_allclose(m["vrmse"], np.sqrt((n - 1) / n), rtol=1e-6)
    assert np.all(np.abs(m["vrmse"] - 1.0) < 0.07)


@DIMS
def test_negated_field_has_correlation_minus_one(n_dims, side):
    y = _fields(n_dims, side)
    m = compute_metrics(-y, y, n_spatial_dims=n_dims, metrics=("corr", "vrmse", "mse"))
    np.testing.assert_allclose(m["corr"], -1.0, atol=1e-12)
    np.testing.assert_allclose(m["mse"], 4 * np.mean(y**2, axis=tuple(range(2, 2 + n_dims))))
    assert np.all(m["vrmse"] > 1.9)


@DIMS
def test_scores_are_per_sample_lead_and_field(n_dims, side):
    """Noise added to one (sample, lead, field) changes only that entry."""
    y = _fields(n_dims, side)
    p = y.copy()
    p[1, 2, ..., 0] += 0.5 * np.random.default_rng(3).standard_normal(p.shape[2:-1])
    m = compute_metrics(p, y, n_spatial_dims=n_dims)
    hit = np.zeros((2, 3, 2), bool)
    hit[1, 2, 0] = True
    assert np.all(m["mse"][hit] > 0) and np.all(m["mse"][~hit] == 0)
    assert m["ssim"][1, 2, 0] < 0.99 and np.allclose(m["ssim"][~hit], 1.0)
    assert m["corr"][1, 2, 0] < 0.99


def test_ssim_matches_skimage_on_a_volume_and_drops_with_noise():
    from skimage.metrics import structural_similarity

    y = _fields(3, 12, B=1, T=1, C=1)
    p = y + 0.3 * np.random.default_rng(1).standard_normal(y.shape)
    m = compute_metrics(p, y, metrics=("ssim",), data_range=4.0)
    ref = structural_similarity(p[0, 0, ..., 0], y[0, 0, ..., 0], win_size=7, data_range=4.0)
    assert m["ssim"][0, 0, 0] == pytest.approx(ref)
    noisier = compute_metrics(y + 1.0 * (p - y) / 0.3, y, metrics=("ssim",), data_range=4.0)
    assert noisier["ssim"][0, 0, 0] < m["ssim"][0, 0, 0] < 1.0


def test_ssim_window_fits_small_grids():
    assert ssim_window((64, 64, 64)) == 7
    assert ssim_window((6, 8, 8)) == 5
    assert ssim_window((5, 5)) == 5
    assert ssim_window((4, 9, 9)) == 3
    with pytest.raises(Mim3dError, match="ssim"):
        ssim_window((2, 8, 8))


def test_explicit_data_range_per_field():
    y = _fields(3, 6, B=1, T=2, C=2)
    m = compute_metrics(y + 0.1, y, metrics=("psnr",), data_range=[1.0, 10.0])
    np.testing.assert_allclose(m["psnr"][..., 0], 10 * np.log10(1 / 0.01))
    np.testing.assert_allclose(m["psnr"][..., 1], 10 * np.log10(100 / 0.01))
    np.testing.assert_array_equal(m["data_range"][0, 0], [1.0, 10.0])


def test_constant_truth_gets_unit_range_and_nan_correlation():
    y = np.full((1, 1, 4, 4, 4, 1), 3.0)
    m = compute_metrics(y + 0.1, y, metrics=("psnr", "corr", "vrmse"))
    assert m["data_range"][0, 0, 0] == 1.0
    assert m["psnr"][0, 0, 0] == pytest.approx(20.0)
    assert np.isnan(m["corr"][0, 0, 0])
    assert m["vrmse"][0, 0, 0] == pytest.approx(np.sqrt(0.01 / 1e-7))


@pytest.mark.parametrize(
    "pred_shape,truth_shape,n_dims",
    [
        ((1, 2, 4, 4, 4, 1), (1, 2, 4, 4, 4, 2), 3),  # mismatch
        ((2, 4, 4, 4, 1), (2, 4, 4, 4, 1), 3),  # missing an axis
        ((1, 2, 4, 4, 1), (1, 2, 4, 4, 1), 3),  # 2D data called as 3D
        ((1, 2, 4, 4, 4, 1), (1, 2, 4, 4, 4, 1), 4),  # unsupported dimension
    ],
)
def test_bad_shapes_raise_user_errors(pred_shape, truth_shape, n_dims):
    with pytest.raises(Mim3dError):
        compute_metrics(np.zeros(pred_shape), np.zeros(truth_shape), n_spatial_dims=n_dims)


def test_bad_arguments_raise_user_errors():
    y = _fields(3, 4, B=1, T=1, C=2)
    with pytest.raises(Mim3dError, match="unknown metric"):
        compute_metrics(y, y, metrics=("mse", "ssmi"))
    with pytest.raises(Mim3dError, match="data_range"):
        compute_metrics(y, y, metrics=("psnr",), data_range=[1.0, 2.0, 3.0])
    with pytest.raises(Mim3dError, match="data_range"):
        compute_metrics(y, y, metrics=("psnr",), data_range=0.0)
    with pytest.raises(Mim3dError, match="field names"):
        metrics_table(y, y, ["density"], [1])


@DIMS
def test_table_rows_and_summary_over_identical_samples(n_dims, side):
    """Averaging N identical samples gives the one-sample value with n = N and std 0."""
    one_p = _fields(n_dims, side, B=1, seed=1)
    one_t = _fields(n_dims, side, B=1, seed=2)
    N = 3
    rows = metrics_table(np.repeat(one_p, N, axis=0), np.repeat(one_t, N, axis=0),
                         ["density", "pressure"], [0.01, 0.02, 0.03], sample_ids=["a", "b", "c"],
                         n_spatial_dims=n_dims, metrics=("mse", "ssim", "vrmse"))
    # 3 samples x 3 leads x 2 fields x (3 metrics + data_range)
    assert len(rows) == 3 * 3 * 2 * 4
    assert set(rows[0]) == {"sample", "lead", "field", "metric", "value"}
    single = compute_metrics(one_p, one_t, n_spatial_dims=n_dims, metrics=("mse", "ssim", "vrmse"))
    summary = summarise(rows)
    for name in ("mse", "ssim", "vrmse"):
        for c, field in enumerate(["density", "pressure"]):
            for t, lead in enumerate([0.01, 0.02, 0.03]):
                s = summary[name][field][lead]
                assert s["n"] == N and s["n_nan"] == 0
                assert s["mean"] == pytest.approx(single[name][0, t, c], rel=1e-12)
                assert s["std"] == pytest.approx(0.0, abs=1e-12)


def test_summary_divides_by_the_samples_present():
    rows = [
        {"sample": 0, "lead": 1, "field": "density", "metric": "mse", "value": 1.0},
        {"sample": 1, "lead": 1, "field": "density", "metric": "mse", "value": 3.0},
        {"sample": 2, "lead": 1, "field": "density", "metric": "mse", "value": 8.0},
        {"sample": 0, "lead": 2, "field": "density", "metric": "mse", "value": 5.0},
        {"sample": 0, "lead": 1, "field": "density", "metric": "corr", "value": 0.5},
        {"sample": 1, "lead": 1, "field": "density", "metric": "corr", "value": float("nan")},
    ]
    s = summarise(rows)
    assert s["mse"]["density"][1] == {"mean": 4.0, "std": pytest.approx(np.std([1, 3, 8])),
                                      "n": 3, "n_nan": 0}
    assert s["mse"]["density"][2]["mean"] == 5.0 and s["mse"]["density"][2]["n"] == 1
    assert s["corr"]["density"][1]["mean"] == 0.5 and s["corr"]["density"][1]["n_nan"] == 1
    with pytest.raises(Mim3dError, match="two rows"):
        summarise(rows + [rows[0]])


def test_csv_round_trip(tmp_path):
    y = _fields(3, 4, B=2, T=1, C=1)
    rows = metrics_table(y + 1, y, ["density"], [0.1], metrics=("mse", "mae"))
    path = write_metrics_csv(rows, tmp_path / "out" / "metrics.csv")
    back = read_metrics_csv(path)
    assert path.read_text().splitlines()[0] == "sample,lead,field,metric,value"
    assert [r["value"] for r in back] == pytest.approx([r["value"] for r in rows])
    assert [r["metric"] for r in back] == [r["metric"] for r in rows]


@DIMS
def test_persistence_repeats_the_last_frame(n_dims, side):
    ctx = _fields(n_dims, side, B=2, T=3, C=2).astype(np.float32)
    out = persistence(ctx, 4)
    assert out.shape == (2, 4, *([side] * n_dims), 2) and out.dtype == np.float32
    for t in range(4):
        np.testing.assert_array_equal(out[:, t], ctx[:, -1])
    out[0, 0] = 0.0  # a new array: the context is untouched
    assert np.all(ctx[0, -1] != 0.0)
    # A static truth is predicted perfectly by persistence.
    truth = np.repeat(ctx[:, -1:], 4, axis=1)
    m = compute_metrics(out[1:], truth[1:], n_spatial_dims=n_dims, metrics=("mse",))
    np.testing.assert_array_equal(m["mse"], 0.0)


def test_persistence_rejects_bad_input():
    with pytest.raises(Mim3dError, match="n_future"):
        persistence(np.zeros((1, 2, 4, 4, 4, 1)), 0)
    with pytest.raises(Mim3dError, match="input frame"):
        persistence(np.zeros((1, 0, 4, 4, 4, 1)), 2)
    with pytest.raises(Mim3dError, match="context"):
        persistence(np.zeros((4, 4)), 2)
