"""Pixel-wise forecast scores: MSE, MAE, RMSE, PSNR, SSIM, VRMSE and Pearson correlation.

Pure NumPy, dimension-generic in the way of The Well (Ohana et al. 2024, "The Well: a
large-scale collection of diverse physics simulations for machine learning"): arrays are
channels-last ``(B, T, *spatial, C)`` and every score reduces over the spatial axes
``range(-n_spatial_dims - 1, -1)``, so one function serves 2D and 3D and each score comes out
per sample, per lead time and per field, ``(B, T, C)``.

VRMSE follows The Well: ``sqrt(mean((ŷ − y)²) / (var(y) + 1e-7))`` with ``var`` the unbiased
(``ddof=1``) spatial variance, as ``torch.std(y) ** 2`` gives in the_well; predicting the
spatial mean of the truth therefore scores ``sqrt((N − 1) / N)`` ≈ 1.

SSIM is scikit-image's ``structural_similarity`` (Wang et al. 2004) on each image or volume with
a uniform window; PSNR and SSIM need a data range, given explicitly or taken per sample and field
from the truth (see :func:`compute_metrics`); the value used is returned under ``"data_range"``.

Two views of the same numbers: :func:`compute_metrics` returns arrays; :func:`metrics_table`
returns tidy rows ``{sample, lead, field, metric, value}`` (one line of ``metrics.csv`` each),
and :func:`summarise` averages them over the samples actually present.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from skimage.metrics import structural_similarity

from mim3d.errors import expect

log = logging.getLogger(__name__)

ALL: tuple[str, ...] = ("mse", "mae", "rmse", "psnr", "ssim", "vrmse", "corr")
"""Every metric name :func:`compute_metrics` knows, in the order of the tables."""

VRMSE_EPS = 1e-7
"""The Well's guard against a constant truth in VRMSE's denominator."""

SSIM_MAX_WINDOW = 7
"""scikit-image's default SSIM window; smaller grids use the largest odd side that fits."""

HIGHER_IS_BETTER = {"mse": False, "mae": False, "rmse": False, "psnr": True, "ssim": True,
                    "vrmse": False, "corr": True}
"""For each metric, whether a larger value means a better forecast."""


def _spatial_axes(n_spatial_dims: int) -> tuple[int, ...]:
    return tuple(range(-n_spatial_dims - 1, -1))


def _check(pred: np.ndarray, truth: np.ndarray, n_spatial_dims: int) -> tuple[np.ndarray, np.ndarray]:
    expect(n_spatial_dims in (1, 2, 3),
           f"n_spatial_dims must be 1, 2 or 3; got {n_spatial_dims!r}.")
    pred = np.asarray(pred, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    want = n_spatial_dims + 3
    expect(pred.shape == truth.shape,
           f"pred and truth must have the same shape (B, T, *spatial, C); got {pred.shape} and "
           f"{truth.shape}. Stack them the same way before scoring.")
    expect(pred.ndim == want,
           f"expected arrays (B, T, {', '.join(['n'] * n_spatial_dims)}, C) with {want} axes for "
           f"n_spatial_dims={n_spatial_dims}; got shape {pred.shape}. Add the missing batch/time/"
           "channel axes (e.g. x[None, ..., None]) or pass the right n_spatial_dims.")
    expect(all(s > 0 for s in pred.shape), f"arrays must not be empty; got shape {pred.shape}.")
    return pred, truth


def _data_range(truth: np.ndarray, data_range, n_spatial_dims: int) -> np.ndarray:
    """Data range broadcast to ``(B, T, C)``."""
    B, T, C = truth.shape[0], truth.shape[1], truth.shape[-1]
    if data_range is None:
        # Per sample and field, over all lead times and space: a sample's score does not depend
        # on which other samples share the batch, and lead times of one sample share a scale.
        axes = (1, *_spatial_axes(n_spatial_dims))
        rng = truth.max(axis=axes) - truth.min(axis=axes)  # (B, C)
        flat = rng == 0
        if flat.any():
            log.warning("truth is constant for %d (sample, field) pairs; using data_range=1 "
                        "there for PSNR and SSIM", int(flat.sum()))
            rng = np.where(flat, 1.0, rng)
        return np.broadcast_to(rng[:, None, :], (B, T, C)).astype(np.float64)
    rng = np.asarray(data_range, dtype=np.float64)
    expect(rng.ndim == 0 or rng.shape == (C,),
           f"data_range must be a number or one value per field, shape ({C},); got shape "
           f"{rng.shape}.")
    expect(bool(np.all(rng > 0)) and bool(np.all(np.isfinite(rng))),
           f"data_range must be positive and finite; got {rng.tolist()}.")
    return np.broadcast_to(rng, (B, T, C)).astype(np.float64)


def ssim_window(spatial_shape: Sequence[int]) -> int:
    """The SSIM window side: 7, or the largest odd number ≤ the smallest side of a small grid."""
    side = min(spatial_shape)
    expect(side >= 3, f"SSIM needs every spatial side ≥ 3; got grid {tuple(spatial_shape)}. "
           "Leave 'ssim' out of metrics for such small grids.")
    win = min(SSIM_MAX_WINDOW, side)
    return win if win % 2 else win - 1


def _ssim(pred: np.ndarray, truth: np.ndarray, rng: np.ndarray, n_spatial_dims: int) -> np.ndarray:
    B, T, C = pred.shape[0], pred.shape[1], pred.shape[-1]
    win = ssim_window(pred.shape[2:-1])
    out = np.empty((B, T, C))
    for b in range(B):
        for t in range(T):
            for c in range(C):
                out[b, t, c] = structural_similarity(
                    pred[b, t, ..., c], truth[b, t, ..., c], win_size=win,
                    data_range=float(rng[b, t, c]), gaussian_weights=False)
    return out


def compute_metrics(
    pred: np.ndarray,
    truth: np.ndarray,
    n_spatial_dims: int = 3,
    metrics: Iterable[str] = ALL,
    data_range: float | Sequence[float] | np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Score a forecast against the truth, per sample, lead time and field.

    Args:
        pred, truth: ``(B, T, *spatial, C)``, the same shape, channels last.
        n_spatial_dims: 2 or 3 (1 works too, except for SSIM on tiny grids).
        metrics: names from :data:`ALL`.
        data_range: for PSNR and SSIM; a number, one value per field ``(C,)``, or ``None``
            to use ``max − min`` of the truth per sample and field over all lead times and
            space (1.0 where the truth is constant).

    Returns:
        metric name -> ``(B, T, C)`` float64, plus ``"data_range"`` ``(B, T, C)`` when PSNR or
        SSIM was asked for. A perfect forecast scores MSE 0, PSNR ``inf``, SSIM 1, VRMSE 0,
        corr 1; ``corr`` is NaN where either field is spatially constant.
    """
    pred, truth = _check(pred, truth, n_spatial_dims)
    names = list(dict.fromkeys(metrics))
    unknown = [m for m in names if m not in ALL]
    expect(not unknown, f"unknown metric(s) {unknown}; choose from {list(ALL)}.")
    axes = _spatial_axes(n_spatial_dims)
    err = pred - truth
    mse = np.mean(err**2, axis=axes)  # (B, T, C)
    out: dict[str, np.ndarray] = {}
    rng = _data_range(truth, data_range, n_spatial_dims) if {"psnr", "ssim"} & set(names) else None
    for name in names:
        if name == "mse":
            out[name] = mse
        elif name == "mae":
            out[name] = np.mean(np.abs(err), axis=axes)
        elif name == "rmse":
            out[name] = np.sqrt(mse)
        elif name == "psnr":
            with np.errstate(divide="ignore"):
                out[name] = 10.0 * np.log10(rng**2 / mse)
        elif name == "ssim":
            out[name] = _ssim(pred, truth, rng, n_spatial_dims)
        elif name == "vrmse":
            n = math.prod(truth.shape[2:-1])
            var = np.var(truth, axis=axes, ddof=1) if n > 1 else np.zeros_like(mse)
            out[name] = np.sqrt(mse / (var + VRMSE_EPS))
        elif name == "corr":
            dp = pred - pred.mean(axis=axes, keepdims=True)
            dt = truth - truth.mean(axis=axes, keepdims=True)
            cov = np.mean(dp * dt, axis=axes)
            denom = np.sqrt(np.mean(dp**2, axis=axes) * np.mean(dt**2, axis=axes))
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name] = np.where(denom > 0, cov / np.where(denom > 0, denom, 1.0), np.nan)
                out[name] = np.clip(out[name], -1.0, 1.0)
    if rng is not None:
        out["data_range"] = np.array(rng)
    return out


def metrics_table(
    pred: np.ndarray,
    truth: np.ndarray,
    field_names: Sequence[str],
    lead_times: Sequence[float] | np.ndarray,
    sample_ids: Sequence | None = None,
    n_spatial_dims: int = 3,
    metrics: Iterable[str] = ALL,
    data_range: float | Sequence[float] | np.ndarray | None = None,
) -> list[dict]:
    """Tidy rows ``{sample, lead, field, metric, value}``, one per sample × lead × field × metric.

    Args:
        pred, truth: ``(B, T, *spatial, C)``.
        field_names: ``C`` names, e.g. ``mim3d.trajectory.CHANNELS``.
        lead_times: ``T`` labels of the forecast steps (e.g. steps ahead, or Myr after the
            last input frame).
        sample_ids: ``B`` labels; default ``0 .. B-1``.
        n_spatial_dims, metrics, data_range: as :func:`compute_metrics`; the data range used is
            written as extra rows with ``metric="data_range"`` when PSNR or SSIM is included.
    """
    pred = np.asarray(pred)
    expect(pred.ndim >= 3, f"expected (B, T, *spatial, C); got shape {pred.shape}.")
    B, T, C = pred.shape[0], pred.shape[1], pred.shape[-1]
    field_names = list(field_names)
    lead_times = list(np.asarray(lead_times).tolist())
    sample_ids = list(range(B)) if sample_ids is None else list(sample_ids)
    expect(len(field_names) == C, f"got {len(field_names)} field names for {C} channels; "
           f"pass one name per channel (last axis).")
    expect(len(lead_times) == T, f"got {len(lead_times)} lead times for {T} forecast steps.")
    expect(len(sample_ids) == B, f"got {len(sample_ids)} sample ids for {B} samples.")
    scores = compute_metrics(pred, truth, n_spatial_dims, metrics, data_range)
    rows = []
    for name, values in scores.items():
        for b in range(B):
            for t in range(T):
                for c in range(C):
                    rows.append({"sample": sample_ids[b], "lead": lead_times[t],
                                 "field": field_names[c], "metric": name,
                                 "value": float(values[b, t, c])})
    return rows


def summarise(rows: Iterable[dict]) -> dict[str, dict[str, dict]]:
    """Mean, std and count over samples: ``{metric: {field: {lead: {"mean", "std", "n"}}}}``.

    Averages divide by the number of samples actually present for that metric, field and lead
    (NaN values, e.g. the correlation of a constant field, are left out and counted in
    ``n_nan``). ``std`` is the population standard deviation (``ddof=0``). Two rows for the
    same sample, lead, field and metric are an error: they would be counted twice.
    """
    groups: dict[tuple, dict] = {}
    for row in rows:
        key = (row["metric"], row["field"], row["lead"])
        per_sample = groups.setdefault(key, {})
        expect(row["sample"] not in per_sample,
               f"two rows for sample {row['sample']!r}, lead {row['lead']!r}, field "
               f"{row['field']!r}, metric {row['metric']!r}; merge tables of disjoint samples "
               "only.")
        per_sample[row["sample"]] = float(row["value"])
    out: dict[str, dict[str, dict]] = {}
    for (metric, field, lead), per_sample in groups.items():
        values = np.array(list(per_sample.values()))
        kept = values[~np.isnan(values)]
        if kept.size:
            with np.errstate(invalid="ignore"):
                mean, std = float(np.mean(kept)), float(np.std(kept))
        else:
            mean = std = float("nan")
        out.setdefault(metric, {}).setdefault(field, {})[lead] = {
            "mean": mean, "std": std, "n": int(kept.size), "n_nan": int(values.size - kept.size)}
    return out


CSV_COLUMNS = ("sample", "lead", "field", "metric", "value")


def write_metrics_csv(rows: Iterable[dict], path: str | Path) -> Path:
    """Write tidy rows to ``path`` (columns ``sample, lead, field, metric, value``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_metrics_csv(path: str | Path) -> list[dict]:
    """Read rows written by :func:`write_metrics_csv` (``value`` as float, others as text)."""
    with Path(path).open(newline="") as fh:
        return [{**row, "value": float(row["value"])} for row in csv.DictReader(fh)]
