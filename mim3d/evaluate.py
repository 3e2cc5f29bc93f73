"""Evaluation a referee can check: a trained forecaster against baselines on a held-out split.

``mim3d evaluate --model RUN --data DATA --split test --out results/NAME/`` forecasts every window
of ``input_length + n_future`` frames of the split autoregressively (the original 3D-MIM's test
mode: after the context the model sees only its own output) and scores, per sample (window),
lead time and field:

- every score of :mod:`mim3d.metrics` (MSE, MAE, RMSE, PSNR, SSIM, VRMSE, correlation), in
  physical units (n_H cm^-3, K cm^-3, K, km/s) and in the model's scaled space
  (:mod:`mim3d.normalize`: log10 then standardised), for the model and each baseline:
  persistence (the last context frame repeated, always) and learned baselines such as the
  ConvLSTM of :mod:`mim3d.convlstm`;
- the shell diagnostics of Hirashima et al. (2023, MNRAS 526, 4054) on physical density
  (:func:`mim3d.physics.shell_diagnostics`): radius of the spherically averaged density peak,
  volume-equivalent radius, IoU and Dice of the region whose density differs by more than 10 %
  from the *first frame of the window*, total mass, and the 1-Wasserstein distance of the
  log-density PDFs; the Sedov–Taylor radius (Sedov 1959; Taylor 1950) at each frame's time is the
  analytic baseline of the radii. Out of distribution, as in the paper, run ``--split uniform``
  (explosions in a uniform medium): ``summary.json`` then holds the forecast radius against the
  simulated and Sedov–Taylor radii frame time by frame time (windows start at different times,
  so each row keeps the time of its frame; the time stored in the data is taken as the time
  since the explosion, at the box centre).

Files written to ``OUT`` (a new or empty folder; an earlier result is never overwritten):

- ``metrics.csv``: ``sample, trajectory, start, lead, time_myr, field, metric, model, space,
  value``; one row per sample × lead × field × metric × model × space.
- ``diagnostics.csv``: one row per sample × lead × model (and ``sedov_taylor``, radii only).
- ``summary.json``: settings, mean and spread over samples per lead, each baseline against the
  model (means over leads and the paired win rate), diagnostics per lead and per frame time, and
  ``verdict``: one plain sentence on whether the model beats persistence on the VRMSE of density
  averaged over leads.
- ``forecasts.npz`` (compressed, physical units): ``truth`` ``(N, T, W, H, D, C)`` including the
  context, one ``(N, n_future, W, H, D, C)`` array per model, ``times`` ``(N, T)``,
  ``trajectory``, ``start``, ``channels``, ``input_length``.

Windows of one trajectory overlap (stride 1 by default), so the samples are not independent:
``summary.json`` reports the number of trajectories beside the number of windows.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mim3d.baselines import persistence, sedov_taylor_radius_pc
from mim3d.data import DataConfig, channels_for, load_arrays, open_source, window_index
from mim3d.errors import Mim3dError, expect
from mim3d.metrics import ALL, HIGHER_IS_BETTER, compute_metrics, summarise
from mim3d.normalize import STATS_FILE, Normalizer
from mim3d.physics import shell_diagnostics

log = logging.getLogger(__name__)

MODEL = "model"
"""Label of the evaluated model in every table."""
PERSISTENCE = "persistence"
SEDOV = "sedov_taylor"
SPACES = ("physical", "scaled")
"""``physical``: inverse-normalised units; ``scaled``: the evaluated model's input space."""

METRICS_COLUMNS = ("sample", "trajectory", "start", "lead", "time_myr", "field", "metric",
                   "model", "space", "value")
DIAGNOSTICS_COLUMNS = (
    "sample", "trajectory", "start", "lead", "time_myr", "model",
    "radius_peak_pred", "radius_peak_true", "radius_peak_error",
    "radius_volume_pred", "radius_volume_true", "radius_volume_error",
    "iou", "dice", "mass_pred", "mass_true", "mass_rel_error", "w1_log_density")
DIAGNOSTIC_SUMMARY = ("radius_peak_pred", "radius_peak_true", "radius_peak_error",
                      "radius_volume_pred", "radius_volume_true", "radius_volume_error", "iou",
                      "dice", "mass_rel_error", "w1_log_density")

DEFAULT_E_ERG = 1e51
DEFAULT_N_H = 44.5


# ---------------------------------------------------------------------------------------------
# forecasters
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Forecaster:
    """A loaded model and what is needed to run it on physical data.

    Attributes:
        name: its label in the tables (``model``, ``convlstm``, ...).
        model: the Keras model (MIM's interface: ``config``, ``forecast``, ``check_inputs``).
        normalizer: its scaling (``None``: the model works in physical units).
        fields: the fields it was trained on, e.g. ``("density",)``.
        input_length: context frames of its training run (``None`` for a bare ``.keras``).
        total_length: window length of its training run (``None`` for a bare ``.keras``).
        downsample: block-mean factor of its training data.
        stride: window stride of its training data.
        source: where it was loaded from.
    """

    name: str
    model: Any
    normalizer: Normalizer | None
    fields: tuple[str, ...]
    input_length: int | None
    total_length: int | None
    downsample: int
    stride: int
    source: str

    @property
    def channels(self) -> tuple[str, ...]:
        return channels_for(self.fields)

    def forecast(self, context: np.ndarray, n_future: int, batch_size: int | None,
                 progress: bool) -> np.ndarray:
        """Physical context ``(N, L, *grid, C)`` → physical forecast ``(N, n_future, *grid, C)``.

        The model sees only the context (the future frames it is given are zeros).
        """
        from mim3d.predict import forecast_future

        x = context if self.normalizer is None else self.normalizer.forward(context)
        out = forecast_future(self.model, x, n_future, batch_size=batch_size, progress=progress)
        return out if self.normalizer is None else self.normalizer.inverse(out)


def _load_normalizer(value: Any) -> Normalizer:
    if isinstance(value, Normalizer):
        return value
    return Normalizer.load(value)


def load_forecaster(
    model: Any,
    *,
    name: str = MODEL,
    fields: Sequence[str] | None = None,
    normalizer: Normalizer | str | Path | None = None,
    downsample: int | None = None,
) -> Forecaster:
    """Load a run folder, a ``.keras`` file or take a model object.

    A run folder (``model.keras``, ``run.yaml``, ``normalizer.json``) supplies the fields,
    lengths, downsampling and statistics itself. A ``.keras`` file or a model object needs
    ``fields`` and ``normalizer`` (a ``Normalizer`` or a path to its JSON); the caller gives the
    input length.
    """
    from mim3d.predict import load_model

    if isinstance(model, str | Path) and Path(model).is_dir():
        run_dir = Path(model)
        run_yaml = run_dir / "run.yaml"
        if not run_yaml.is_file():
            raise Mim3dError(f"{run_dir} is not a training run folder (no run.yaml); give the "
                             f"folder `mim3d train --out` wrote, or a .keras file with --fields, "
                             f"--input-length and --normalizer")
        if not (run_dir / "model.keras").is_file():
            raise Mim3dError(f"{run_dir} holds no model.keras: the run has not finished. Let it "
                             f"finish (mim3d train --resume) before evaluating")
        run = yaml.safe_load(run_yaml.read_text()) or {}
        data = run.get("data") or {}
        train = run.get("train") or {}
        run_fields = tuple(data.get("fields") or ("density",))
        if fields is not None and tuple(fields) != run_fields:
            raise Mim3dError(f"{run_dir} was trained on fields {list(run_fields)}, not "
                             f"{list(fields)}; evaluate it on its own fields")
        if data.get("normalize", True):
            stats = run_dir / STATS_FILE
            if normalizer is None and not stats.is_file():
                raise Mim3dError(
                    f"normalisation statistics missing: {stats} does not exist, but the run was "
                    f"trained on scaled data. Copy the normalizer.json of its training data there "
                    f"or pass --normalizer")
            norm = _load_normalizer(normalizer if normalizer is not None else stats)
        else:
            norm = None
        run_down = int(data.get("downsample", 1))
        if downsample is not None and int(downsample) != run_down:
            raise Mim3dError(f"{run_dir} was trained with downsample={run_down}, not "
                             f"{downsample}; evaluate on the grid it was trained for")
        forecaster = Forecaster(
            name=name, model=load_model(run_dir / "model.keras"), normalizer=norm,
            fields=run_fields, input_length=int(train.get("input_length", 10)),
            total_length=int(train.get("total_length", 20)), downsample=run_down,
            stride=int(data.get("stride", 1)), source=str(run_dir))
    else:
        missing = [flag for flag, value in (("--fields", fields), ("--normalizer", normalizer))
                   if value is None]
        if missing:
            raise Mim3dError(
                f"a bare model ({model if isinstance(model, str | Path) else type(model).__name__})"
                f" carries no training settings: give {' and '.join(missing)} (and "
                f"--input-length), or give the run folder instead")
        keras_model = load_model(model) if isinstance(model, str | Path) else model
        forecaster = Forecaster(
            name=name, model=keras_model, normalizer=_load_normalizer(normalizer),
            fields=tuple(fields), input_length=None, total_length=None,
            downsample=int(downsample or 1), stride=1,
            source=str(model) if isinstance(model, str | Path) else type(model).__name__)
    channels = forecaster.channels
    n_channels = forecaster.model.config.img_channel
    if n_channels != len(channels):
        raise Mim3dError(f"{name}: the model has {n_channels} channel(s) but the fields "
                         f"{list(forecaster.fields)} give {len(channels)} {list(channels)}; "
                         f"give the fields it was trained on")
    if forecaster.normalizer is not None:
        forecaster.normalizer.check_channels(channels, f"{name} ({forecaster.source})")
    return forecaster


def parse_baseline(spec: str) -> tuple[str, str | None]:
    """``"persistence"`` → ``("persistence", None)``; ``"NAME=PATH"`` or ``"NAME:PATH"`` →
    ``(NAME, PATH)`` (a learned baseline: a run folder or ``.keras`` file)."""
    spec = str(spec).strip()
    if spec == PERSISTENCE:
        return PERSISTENCE, None
    for sep in ("=", ":"):
        if sep in spec:
            name, path = (s.strip() for s in spec.split(sep, 1))
            if name and path and name.isidentifier():
                if name in (MODEL, PERSISTENCE, SEDOV):
                    raise Mim3dError(f"baseline name {name!r} is reserved; call it e.g. "
                                     f"'convlstm'")
                return name, path
    raise Mim3dError(f"cannot read baseline {spec!r}: give 'persistence' or NAME=PATH, e.g. "
                     f"convlstm=runs/convlstm (a run folder or a .keras file)")


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Windows:
    """The split's windows in physical units, with where and when each comes from.

    Attributes:
        x: ``(N, T, W, H, D, C)`` float32, physical units, block-mean downsampled.
        trajectory, start: ``(N,)`` trajectory index within the split and first frame.
        times: ``(N, T)`` frame times, Myr.
        cell_pc: ``(N,)`` cell edge after downsampling, pc.
        E_erg, n_H: ``(N,)`` explosion energy and ambient density (for Sedov–Taylor).
        channels: names of the last axis.
    """

    x: np.ndarray
    trajectory: np.ndarray
    start: np.ndarray
    times: np.ndarray
    cell_pc: np.ndarray
    E_erg: np.ndarray
    n_H: np.ndarray
    channels: tuple[str, ...]


def _trajectory_meta(src, i: int) -> tuple[np.ndarray, float, dict]:
    store = getattr(src, "store", None)
    if store is not None and hasattr(store, "times"):
        return (np.asarray(store.times(i), np.float64), float(getattr(store, "box_pc", 60.0)),
                store.params(i) if hasattr(store, "params") else {})
    traj = src.trajectories[i]
    return np.asarray(traj.times, np.float64), float(traj.box_pc), dict(traj.params)


def load_windows(data: Any, split: str, fields: Sequence[str], total_length: int, *,
                 stride: int = 1, downsample: int = 1, grid: Sequence[int] | None = None,
                 progress: bool = False) -> Windows:
    """Every window of ``total_length`` frames of ``split``, in physical units.

    ``grid``: the model's grid; a data grid (after ``downsample``) that differs is an error.
    """
    channels = channels_for(fields)
    src = open_source(data, split)
    if src.model_space:
        raise Mim3dError(f"{data} is an array file already in model space; evaluation needs "
                         f"physical data with times and box size: give a Well data folder")
    if src.channels is not None:
        missing = [c for c in channels if c not in src.channels]
        if missing:
            raise Mim3dError(f"the model works on {list(channels)} but split {split!r} of {data} "
                             f"has only {list(src.channels)} (missing {missing}); evaluate on "
                             f"data with the model's fields")
    if any(n % downsample for n in src.grid):
        raise Mim3dError(f"downsample={downsample} does not divide the data grid {src.grid}")
    data_grid = tuple(n // downsample for n in src.grid)
    if grid is not None and tuple(grid) != data_grid:
        raise Mim3dError(
            f"the model expects a {tuple(grid)} grid but split {split!r} of {data} gives "
            f"{data_grid} (grid {src.grid}, downsample {downsample}); evaluate on data of the "
            f"model's resolution or with the training run's downsample")
    index = np.asarray(window_index(src, total_length, stride), np.int64).reshape(-1, 2)
    if len(index) == 0:
        raise Mim3dError(f"split {split!r} of {data} holds no window of {total_length} frames")
    config = DataConfig(path=src, fields=tuple(fields), total_length=total_length, stride=stride,
                        downsample=downsample, normalize=False)
    x = load_arrays(config, split, progress=progress)
    metas = {int(i): _trajectory_meta(src, int(i)) for i in np.unique(index[:, 0])}
    times = np.stack([metas[int(i)][0][s:s + total_length] for i, s in index])
    cell_pc = np.array([metas[int(i)][1] / data_grid[0] for i, _ in index])
    params = [metas[int(i)][2] for i, _ in index]
    return Windows(
        x=x, trajectory=index[:, 0].copy(), start=index[:, 1].copy(), times=times,
        cell_pc=cell_pc,
        E_erg=np.array([float(p.get("E_sn_erg", DEFAULT_E_ERG)) for p in params]),
        n_H=np.array([float(p.get("n_H", p.get("rho0", DEFAULT_N_H))) for p in params]),
        channels=channels)


# ---------------------------------------------------------------------------------------------
# output folder
# ---------------------------------------------------------------------------------------------
def _free_name(out: Path) -> Path:
    k = 2
    while Path(f"{out}-{k}").exists():
        k += 1
    return Path(f"{out}-{k}")


def check_out(out: str | Path) -> Path:
    """``out`` as a Path if it is new or an empty folder; else a clear error naming a free one."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise Mim3dError(
            f"{out} already holds {'a file' if not out.is_dir() else 'results'}; mim3d never "
            f"overwrites an earlier result. Choose a new name, e.g. --out {_free_name(out)}")
    return out


# ---------------------------------------------------------------------------------------------
# scoring
# ---------------------------------------------------------------------------------------------
def _metric_rows(preds: dict[str, dict[str, np.ndarray]], truth: dict[str, np.ndarray],
                 win: Windows, input_length: int, metrics: Sequence[str]) -> list[dict]:
    n, n_future = truth["physical"].shape[:2]
    time = win.times[:, input_length:]  # (N, n_future)
    rows = []
    for space in SPACES:
        for name, pred in preds[space].items():
            scores = compute_metrics(pred, truth[space], 3, metrics)
            for metric in metrics:
                values = scores[metric]  # (N, n_future, C)
                for b in range(n):
                    for t in range(n_future):
                        for c, field in enumerate(win.channels):
                            rows.append({
                                "sample": b, "trajectory": int(win.trajectory[b]),
                                "start": int(win.start[b]), "lead": t + 1,
                                "time_myr": float(time[b, t]), "field": field,
                                "metric": metric, "model": name, "space": space,
                                "value": float(values[b, t, c])})
    return rows


def _diagnostic_rows(preds_phys: dict[str, np.ndarray], win: Windows, input_length: int,
                     threshold: float) -> list[dict]:
    if "density" not in win.channels:
        log.warning("no density channel: shell diagnostics skipped")
        return []
    d = win.channels.index("density")
    truth = win.x[..., d].astype(np.float64)  # (N, T, W, H, D)
    rows = []
    for b in range(truth.shape[0]):
        times = win.times[b, input_length:]
        base = {"sample": b, "trajectory": int(win.trajectory[b]), "start": int(win.start[b])}
        true_diag = None
        for name, pred in preds_phys.items():
            diag = shell_diagnostics(pred[b, ..., d], truth[b, input_length:], truth[b, 0],
                                     float(win.cell_pc[b]), times, threshold=threshold)
            true_diag = diag
            for t in range(len(times)):
                rows.append({
                    **base, "lead": t + 1, "time_myr": float(times[t]), "model": name,
                    **{k: float(diag[k][t]) for k in (
                        "radius_peak_pred", "radius_peak_true", "radius_volume_pred",
                        "radius_volume_true", "iou", "dice", "mass_pred", "mass_true",
                        "w1_log_density")},
                    "radius_peak_error": float(diag["radius_peak_pred"][t]
                                               - diag["radius_peak_true"][t]),
                    "radius_volume_error": float(diag["radius_volume_pred"][t]
                                                 - diag["radius_volume_true"][t]),
                    "mass_rel_error": float(diag["mass_pred"][t] / diag["mass_true"][t] - 1.0)})
        radius = np.asarray(sedov_taylor_radius_pc(np.maximum(times, 0.0), float(win.E_erg[b]),
                                                   float(win.n_H[b])))
        for t in range(len(times)):
            rows.append({
                **base, "lead": t + 1, "time_myr": float(times[t]), "model": SEDOV,
                "radius_peak_pred": float(radius[t]),
                "radius_peak_true": float(true_diag["radius_peak_true"][t]),
                "radius_peak_error": float(radius[t] - true_diag["radius_peak_true"][t]),
                "radius_volume_pred": float(radius[t]),
                "radius_volume_true": float(true_diag["radius_volume_true"][t]),
                "radius_volume_error": float(radius[t] - true_diag["radius_volume_true"][t])})
    return rows


def _stats(values: Sequence[float]) -> dict:
    v = np.asarray(values, np.float64)
    kept = v[np.isfinite(v)]
    if not kept.size:
        return {"mean": None, "std": None, "sem": None, "n": 0}
    sem = float(np.std(kept, ddof=1) / math.sqrt(kept.size)) if kept.size > 1 else None
    return {"mean": float(np.mean(kept)), "std": float(np.std(kept)), "sem": sem,
            "n": int(kept.size)}


def _compare(rows: list[dict], names: Sequence[str], metrics: Sequence[str],
             fields: Sequence[str]) -> dict:
    """Model against each baseline: means over leads, leads won and the paired win rate."""
    values: dict[tuple, float] = {}
    for r in rows:
        values[(r["space"], r["model"], r["metric"], r["field"], r["sample"], r["lead"])] = \
            r["value"]
    leads = sorted({r["lead"] for r in rows})
    samples = sorted({r["sample"] for r in rows})
    out: dict = {}
    for space in SPACES:
        for base in names:
            for metric in metrics:
                higher = HIGHER_IS_BETTER[metric]
                for field in fields:
                    m = np.array([[values[(space, MODEL, metric, field, s, t)] for t in leads]
                                  for s in samples])
                    b = np.array([[values[(space, base, metric, field, s, t)] for t in leads]
                                  for s in samples])
                    with np.errstate(invalid="ignore"):
                        m_lead, b_lead = np.nanmean(m, axis=0), np.nanmean(b, axis=0)
                        m_mean, b_mean = float(np.nanmean(m_lead)), float(np.nanmean(b_lead))
                    ok = np.isfinite(m) & np.isfinite(b)
                    better = (m > b) if higher else (m < b)
                    lead_better = (m_lead > b_lead) if higher else (m_lead < b_lead)
                    model_better = (m_mean > b_mean) if higher else (m_mean < b_mean)
                    out.setdefault(space, {}).setdefault(base, {}).setdefault(metric, {})[
                        field] = {
                        "model_mean_over_leads": m_mean, "baseline_mean_over_leads": b_mean,
                        "higher_is_better": higher, "model_better": bool(model_better),
                        "leads_model_better": [int(t) for t, w in zip(leads, lead_better,
                                                                      strict=True) if w],
                        "paired_win_rate": float(better[ok].mean()) if ok.any() else None,
                        "n_pairs": int(ok.sum())}
    return out


def verdict(comparison: dict, fields: Sequence[str], n_leads: int) -> str:
    """One plain sentence: does the model beat persistence on density VRMSE over the leads?"""
    field = "density" if "density" in fields else fields[0]
    note = "" if field == "density" else f"Density is not among the fields; on {field}: "
    try:
        per = {s: comparison[s][PERSISTENCE]["vrmse"][field] for s in SPACES}
    except KeyError:
        return f"{note}No verdict: VRMSE against persistence was not computed."
    label = {"physical": "in physical units", "scaled": "in the model's scaled space"}
    m = {s: per[s]["model_mean_over_leads"] for s in SPACES}
    p = {s: per[s]["baseline_mean_over_leads"] for s in SPACES}
    if not all(np.isfinite(m[s]) and np.isfinite(p[s]) for s in SPACES):
        return f"{note}No verdict: the {field} VRMSE is not finite (see metrics.csv)."
    won = {s: m[s] < p[s] for s in SPACES}
    what = f"persistence on {field} VRMSE averaged over {n_leads} lead time(s)"
    pair = {s: f"{m[s]:.4g} vs persistence {p[s]:.4g} {label[s]}" for s in SPACES}
    if all(won.values()):
        return f"{note}The model beats {what}: {pair['physical']}, {pair['scaled']}."
    if not any(won.values()):
        return f"{note}The model does NOT beat {what}: {pair['physical']}, {pair['scaled']}."
    good = [s for s in SPACES if won[s]][0]
    bad = [s for s in SPACES if not won[s]][0]
    return (f"{note}The model does NOT clearly beat {what}: it is better {label[good]} "
            f"({m[good]:.4g} vs {p[good]:.4g}) but worse {label[bad]} "
            f"({m[bad]:.4g} vs {p[bad]:.4g}).")


def _summarise_diagnostics(rows: list[dict]) -> dict:
    per_lead: dict = {}
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["model"], r["lead"]), []).append(r)
    for (name, lead), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        entry = {}
        for key in DIAGNOSTIC_SUMMARY:
            vals = [g[key] for g in group if g.get(key) is not None]
            if vals:
                entry[key] = _stats(vals)
        for key in ("radius_peak_error", "radius_volume_error"):
            entry[f"abs_{key}"] = _stats([abs(g[key]) for g in group])
        per_lead.setdefault(name, {})[lead] = entry
    # radius against the frame's time (the paper's figure; windows start at different times)
    by_time: dict = {}
    for r in rows:
        t = round(r["time_myr"], 9)
        slot = by_time.setdefault(t, {})
        slot.setdefault(r["model"], {"peak": [], "volume": []})
        slot[r["model"]]["peak"].append(r["radius_peak_pred"])
        slot[r["model"]]["volume"].append(r["radius_volume_pred"])
        slot.setdefault("simulation", {"peak": [], "volume": []})
        if r["model"] == SEDOV:  # one truth per (sample, lead): take it from the Sedov rows
            slot["simulation"]["peak"].append(r["radius_peak_true"])
            slot["simulation"]["volume"].append(r["radius_volume_true"])
    radius_vs_time = {
        t: {name: {"radius_peak_pc": _stats(v["peak"])["mean"],
                   "radius_volume_pc": _stats(v["volume"])["mean"], "n": len(v["peak"])}
            for name, v in slot.items()}
        for t, slot in sorted(by_time.items())}
    return {"per_lead": per_lead, "radius_vs_time_myr": radius_vs_time}


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        value = float(value)
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def _write_csv(path: Path, rows: list[dict], columns: Sequence[str]) -> None:
    from mim3d.io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


# ---------------------------------------------------------------------------------------------
# the evaluation
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` wrote: the folder, the summary (as in ``summary.json``), the verdict."""

    out: Path | None
    summary: dict
    verdict: str


def evaluate(
    model: Any,
    data: Any,
    split: str = "test",
    out: str | Path | None = None,
    baselines: Sequence[str] = (PERSISTENCE,),
    input_length: int | None = None,
    n_future: int | None = None,
    *,
    fields: Sequence[str] | None = None,
    normalizer: Normalizer | str | Path | None = None,
    downsample: int | None = None,
    stride: int | None = None,
    batch_size: int | None = 8,
    metrics: Sequence[str] = ALL,
    threshold: float = 0.1,
    save_forecasts: bool = True,
    progress: bool = False,
) -> Evaluation:
    """Forecast every window of ``split`` and score the model and baselines; write ``out``.

    Args:
        model: a training run folder, a ``.keras`` file or a model object (the last two need
            ``fields``, ``input_length`` and ``normalizer``).
        data: the data (a Well folder, see :class:`mim3d.data.DataConfig`); physical units.
        split: ``test``, ``valid``, ``uniform`` (out of distribution), ...
        out: a new (or empty) folder for the files; ``None`` writes nothing.
        baselines: ``"persistence"`` (always added) and ``"NAME=PATH"`` learned baselines (a run
            folder or ``.keras``), e.g. ``"convlstm=runs/convlstm"``.
        input_length: context frames; default the run's.
        n_future: forecast frames; default the run's ``total_length − input_length``, for a bare
            model every frame after the context of the shortest trajectory.
        fields, normalizer, downsample: for a bare model (a run folder knows its own).
        stride: frames between window starts; default the run's.
        batch_size: windows per forward pass (``None``: all at once).
        metrics: names from :data:`mim3d.metrics.ALL`.
        threshold: the relative density change that marks the shell region (0.1 = 10 %).
        save_forecasts: write ``forecasts.npz``.
        progress: progress bars over batches.

    Returns:
        an :class:`Evaluation`; ``summary["verdict"]`` is the plain sentence.
    """
    out = check_out(out) if out is not None else None
    unknown = [m for m in metrics if m not in ALL]
    expect(not unknown, f"unknown metric(s) {unknown}; choose from {list(ALL)}")
    metrics = list(dict.fromkeys(metrics))
    main = load_forecaster(model, fields=fields, normalizer=normalizer, downsample=downsample)
    L = int(input_length or main.input_length or 0)
    expect(L >= 1, "input_length is needed for a bare model (the run folder would know it); "
                   "pass --input-length")
    stride = int(stride or main.stride)
    specs = [parse_baseline(s) for s in baselines]
    specs = [(PERSISTENCE, None)] + [s for s in specs if s[0] != PERSISTENCE]
    names = [s[0] for s in specs]
    expect(len(set(names)) == len(names), f"baseline names repeat: {names}; give each its own")
    learned = [load_forecaster(path, name=name, fields=main.fields, normalizer=(
        main.normalizer if not Path(path).is_dir() else None), downsample=main.downsample)
        for name, path in specs if path is not None]
    if n_future is None:
        if main.total_length is not None:
            n_future = main.total_length - L
        else:
            src = open_source(data, split)
            n_future = min(src.n_t(i) for i in range(src.n_trajectories)) - L
    expect(int(n_future) >= 1, f"n_future must be >= 1; got {n_future} (input_length {L})")
    n_future = int(n_future)
    grid = main.model.config.grid
    for fc in learned:
        expect(fc.model.config.grid == grid,
               f"baseline {fc.name} ({fc.source}) works on grid {fc.model.config.grid}, the "
               f"model on {grid}; compare models of one resolution")

    win = load_windows(data, split, main.fields, L + n_future, stride=stride,
                       downsample=main.downsample, grid=grid, progress=progress)
    log.info("evaluating %d windows of %d frames (%d context) from %d trajectories",
             len(win.x), L + n_future, L, len(np.unique(win.trajectory)))
    main.model.check_inputs(win.x.shape, L)
    context = win.x[:, :L]
    truth_phys = win.x[:, L:]
    phys = {MODEL: main.forecast(context, n_future, batch_size, progress),
            PERSISTENCE: persistence(context, n_future)}
    for fc in learned:
        phys[fc.name] = fc.forecast(context, n_future, batch_size, progress)

    def scaled(a: np.ndarray) -> np.ndarray:
        return a if main.normalizer is None else main.normalizer.forward(a)

    preds = {"physical": phys, "scaled": {k: scaled(v) for k, v in phys.items()}}
    truth = {"physical": truth_phys, "scaled": scaled(truth_phys)}
    rows = _metric_rows(preds, truth, win, L, metrics)
    diag_rows = _diagnostic_rows(phys, win, L, threshold)

    scores: dict = {}
    for space in SPACES:
        for name in phys:
            subset = [r for r in rows if r["space"] == space and r["model"] == name]
            scores.setdefault(space, {})[name] = summarise(subset)
    baseline_names = [n for n in phys if n != MODEL]
    comparison = _compare(rows, baseline_names, metrics, win.channels)
    sentence = verdict(comparison, win.channels, n_future)
    lead_dt = win.times[:, L:] - win.times[:, L - 1:L]
    summary = {
        "verdict": sentence,
        "settings": {
            "model": main.source, "data": str(data), "split": split, "fields": list(main.fields),
            "channels": list(win.channels), "input_length": L, "n_future": n_future,
            "stride": stride, "downsample": main.downsample, "grid": list(grid),
            "threshold": threshold, "metrics": metrics, "spaces": list(SPACES),
            "baselines": {name: (path or "last context frame repeated")
                          for name, path in specs},
            "parameters": {MODEL: int(main.model.count_params()),
                           **{fc.name: int(fc.model.count_params()) for fc in learned}},
            "architectures": {MODEL: type(main.model).__name__,
                              **{fc.name: type(fc.model).__name__ for fc in learned}},
            "n_samples": int(len(win.x)),
            "n_trajectories": int(len(np.unique(win.trajectory))),
            "lead_myr": {t + 1: _stats(lead_dt[:, t])["mean"] for t in range(n_future)},
            "note": "samples are windows; windows of one trajectory overlap, so spreads "
                    "understate the trajectory-to-trajectory spread",
            "written": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "scores": scores,
        "comparison": comparison,
        "diagnostics": _summarise_diagnostics(diag_rows) if diag_rows else None,
    }
    summary = _json_safe(summary)
    if out is not None:
        _write(out, rows, diag_rows, summary, win, phys, L, save_forecasts, main.normalizer)
    return Evaluation(out=out, summary=summary, verdict=sentence)


def _write(out: Path, rows, diag_rows, summary, win: Windows, phys: dict, L: int,
           save_forecasts: bool, normalizer: Normalizer | None) -> None:
    from mim3d.io import atomic_path

    check_out(out)  # again: another process may have written there meanwhile
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "metrics.csv", rows, METRICS_COLUMNS)
    _write_csv(out / "diagnostics.csv", diag_rows, DIAGNOSTICS_COLUMNS)
    if save_forecasts:
        arrays = {"truth": win.x, **{k: v.astype(np.float32) for k, v in phys.items()},
                  "times": win.times, "trajectory": win.trajectory, "start": win.start,
                  "channels": np.array(win.channels), "input_length": np.array(L),
                  "normalizer": np.array(normalizer.to_json() if normalizer else "")}
        with atomic_path(out / "forecasts.npz") as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1, allow_nan=False) + "\n")


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a model against baselines on a held-out split",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True,
                   help="a training run folder, or a .keras file (then also --fields, "
                        "--input-length and --normalizer)")
    p.add_argument("--data", required=True, help="the data folder (The Well's layout)")
    p.add_argument("--split", default="test", help="split to score: test, valid, uniform, ...")
    p.add_argument("--out", required=True, help="a new folder for the results")
    p.add_argument("--baseline", action="append", default=[], metavar="NAME=PATH",
                   help="a learned baseline, e.g. convlstm=runs/convlstm (repeatable); "
                        "persistence is always included")
    p.add_argument("--batch-size", type=int, default=8,
                   help="windows per forward pass (default 8)")
    p.add_argument("--input-length", type=int, default=None, help="context frames")
    p.add_argument("--n-future", type=int, default=None, help="forecast frames")
    p.add_argument("--fields", nargs="+", default=None, help="fields of a bare .keras model")
    p.add_argument("--normalizer", default=None, help="normalizer.json of a bare .keras model")
    p.add_argument("--downsample", type=int, default=None, help="for a bare .keras model")
    p.add_argument("--stride", type=int, default=None, help="frames between window starts")
    p.add_argument("--no-forecasts", action="store_true", help="do not write forecasts.npz")
    p.add_argument("--quiet", action="store_true", help="no progress bars")

    def run(args) -> int:
        result = evaluate(
            args.model, args.data, args.split, args.out, baselines=args.baseline,
            input_length=args.input_length, n_future=args.n_future, fields=args.fields,
            normalizer=args.normalizer, downsample=args.downsample, stride=args.stride,
            batch_size=args.batch_size, save_forecasts=not args.no_forecasts,
            progress=not args.quiet)
        s = result.summary["settings"]
        print(f"scored {s['n_samples']} windows ({s['n_trajectories']} trajectories) of split "
              f"{s['split']!r}, {s['n_future']} lead time(s); results in {result.out}")
        print(result.verdict)
        return 0

    p.set_defaults(func=run)
