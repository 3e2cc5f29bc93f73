"""Paper figures and animations of blast-wave forecasts (matplotlib, Agg-safe).

Every function builds a fresh :class:`matplotlib.figure.Figure` (never pyplot, so there is no
global state and nothing leaks in loops), returns it, accepts an optional ``ax``/``axes`` to draw
into, and, given ``path``, saves it with :func:`save_figure` (PNG + PDF + a JSON sidecar holding the
git revision and the parameters). In a notebook a returned figure shows when it is the last
expression of a cell.

Volumes are ``(nx, ny, nz)`` arrays in the units of :mod:`mim3d.trajectory` (density n_H cm^-3,
times Myr, box pc). Densities are shown as log10 with one colour scale shared by simulation and
forecast, and the difference (forecast − simulation, in dex for log fields) on a diverging map,
as in the cross-section figures of Hirashima et al. (2023, MNRAS 526, 4054).
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.animation import FFMpegWriter, PillowWriter, writers
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from mim3d.errors import Mim3dError, expect
from mim3d.trajectory import UNITS

logger = logging.getLogger(__name__)

AXIS_NAMES = "xyz"
# field name -> symbol as matplotlib mathtext
SYMBOLS = {
    "density": r"n_\mathrm{H}",
    "pressure": r"P/k_\mathrm{B}",
    "temperature": "T",
    "velocity_x": "v_x",
    "velocity_y": "v_y",
    "velocity_z": "v_z",
}
UNITS_TEX = {
    "cm^-3": r"cm$^{-3}$",
    "K cm^-3": r"K cm$^{-3}$",
    "K": "K",
    "km/s": r"km s$^{-1}$",
}


# ----------------------------------------------------------------------------- helpers


class NotebookFigure(Figure):
    """A figure that shows itself as PNG in a notebook without pyplot's inline backend."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def new_figure(**kwargs) -> Figure:
    """A pyplot-free figure with an Agg canvas (``constrained`` layout unless told otherwise)."""
    kwargs.setdefault("layout", "constrained")
    fig = NotebookFigure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def field_label(field: str, log: bool = True) -> str:
    """Colour-bar label with units, e.g. ``log10 n_H [cm^-3]`` (as mathtext)."""
    symbol = SYMBOLS.get(field, field.replace("_", " "))
    unit = UNITS_TEX.get(UNITS.get(field, ""), UNITS.get(field, ""))
    unit = f" [{unit}]" if unit else ""
    if log:
        return rf"$\log_{{10}}\,{symbol}$" + unit
    return f"${symbol}$" + unit


def diff_label(field: str, log: bool = True) -> str:
    """Colour-bar label of forecast − simulation: dex for log fields, the field unit otherwise."""
    symbol = SYMBOLS.get(field, field)
    if log:
        return rf"$\Delta\log_{{10}}\,{symbol}$ [dex]"
    unit = UNITS_TEX.get(UNITS.get(field, ""), "")
    return rf"$\Delta {symbol}$" + (f" [{unit}]" if unit else "")


def log_floor(*arrays: np.ndarray) -> float:
    """Smallest positive value over ``arrays`` (1e-30 if none): where log10 pictures clip."""
    smallest = [float(a[a > 0].min()) for a in map(np.asarray, arrays) if (a > 0).any()]
    return min(smallest) if smallest else 1e-30


def to_display(values: np.ndarray, log: bool, floor: float | None = None) -> np.ndarray:
    """``log10`` of ``values`` clipped at ``floor`` (default: the smallest positive value), or as is."""
    values = np.asarray(values, dtype=np.float64)
    if not log:
        return values
    if floor is None:
        floor = log_floor(values)
    return np.log10(np.maximum(values, floor))


def _check_volume(name: str, volume: np.ndarray, ndim: int = 3) -> np.ndarray:
    volume = np.asarray(volume)
    expect(volume.ndim == ndim,
           f"{name} must be a {ndim}D array {'(nx, ny, nz)' if ndim == 3 else ''}, got shape "
           f"{volume.shape}; pass one field of one snapshot, e.g. traj.fields['density'][t]")
    return volume


def slice_volume(
    volume: np.ndarray, axis: int = 2, index: int | None = None
) -> tuple[np.ndarray, int]:
    """The plane ``index`` (default: the centre) across ``axis`` of ``(nx, ny, nz)``.

    Returns ``(plane, index)`` where ``plane`` is ``(n_u, n_v)`` over the two other axes in order.
    """
    expect(axis in (0, 1, 2), f"axis must be 0, 1 or 2 (x, y, z), got {axis!r}")
    n = volume.shape[axis]
    index = n // 2 if index is None else int(index)
    expect(0 <= index < n, f"slice index must be in [0, {n - 1}] along {AXIS_NAMES[axis]}, got {index}")
    return np.take(volume, index, axis=axis), index


def _plane_geometry(shape: tuple[int, ...], axis: int, box_pc: float):
    """Extent (pc) and axis labels of a slice across ``axis`` of a volume of ``shape``."""
    cell = box_pc / shape[0]
    u, v = [a for a in range(3) if a != axis]
    extent = (0.0, shape[u] * cell, 0.0, shape[v] * cell)
    return extent, f"{AXIS_NAMES[u]} [pc]", f"{AXIS_NAMES[v]} [pc]", cell


def _show_plane(ax: Axes, plane: np.ndarray, extent, xlabel: str, ylabel: str, **kwargs):
    image = ax.imshow(plane.T, origin="lower", extent=extent, interpolation="nearest", **kwargs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_aspect("equal")
    return image


def _as_rows(name: str, array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    expect(array.ndim in (3, 4),
           f"{name} must be (nx, ny, nz) or (n_lead, nx, ny, nz), got shape {array.shape}")
    return array[None] if array.ndim == 3 else array


def _jsonable(value):
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else f"array{value.shape} {value.dtype}"
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def git_revision() -> str:
    """Short git revision of the mim3d checkout (``git rev-parse --short HEAD``), or ``unknown``."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
            capture_output=True, text=True, timeout=10, check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_figure(
    fig: Figure, path_without_suffix: str | Path, metadata: Mapping | None = None, dpi: int = 200
) -> list[Path]:
    """Write ``<path>.png``, ``<path>.pdf`` and ``<path>.json`` (git revision + ``metadata``).

    The PNG also carries the same JSON in a text chunk (key ``mim3d``), the PDF in its ``Subject``.
    Returns the three paths. A suffix on ``path_without_suffix`` (``.png``, ``.pdf``) is dropped.
    """
    base = Path(path_without_suffix)
    if base.suffix.lower() in (".png", ".pdf", ".json", ".svg"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    from mim3d import __version__

    record = {
        "git_revision": git_revision(),
        "mim3d_version": __version__,
        "parameters": _jsonable(dict(metadata or {})),
    }
    text = json.dumps(record, sort_keys=True)
    png, pdf, sidecar = base.with_suffix(".png"), base.with_suffix(".pdf"), base.with_suffix(".json")
    fig.savefig(png, dpi=dpi, metadata={"Software": f"mim3d {__version__}", "mim3d": text})
    fig.savefig(pdf, metadata={"Creator": f"mim3d {__version__}", "Subject": text})
    record["files"] = [png.name, pdf.name]
    sidecar.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    logger.info("wrote %s.{png,pdf,json}", base)
    return [png, pdf, sidecar]


def _finish(fig: Figure, path, metadata: dict) -> Figure:
    if path is not None:
        save_figure(fig, path, metadata)
    return fig


# ----------------------------------------------------------------------------- figures


def cross_section_panels(
    truth: np.ndarray,
    forecast: np.ndarray,
    *,
    axis: int = 2,
    index: int | None = None,
    box_pc: float = 60.0,
    time_myr: float | Sequence[float] | None = None,
    field: str = "density",
    log: bool = True,
    cmap: str = "inferno",
    diff_cmap: str = "RdBu_r",
    axes: np.ndarray | None = None,
    path: str | Path | None = None,
    titles: tuple[str, str, str] = ("simulation", "forecast", "difference"),
) -> Figure:
    """Simulation | forecast | difference on one slice, one row per lead time.

    Args:
        truth, forecast: ``(nx, ny, nz)`` or ``(n_lead, nx, ny, nz)`` in physical units.
        axis, index: slice across ``axis`` (0, 1, 2 = x, y, z) at cell ``index`` (default centre).
        box_pc: box edge along x in pc (cells are cubes).
        time_myr: time of each row in Myr (a number or one per row), shown in the titles.
        field: channel name, for labels and units.
        log: show log10 of the field (density, pressure, temperature); the difference is then
            in dex.
        axes: optional ``(n_lead, 3)`` array of axes to draw into.
        path: save there (PNG, PDF, JSON) via :func:`save_figure`.

    Simulation and forecast share one colour bar over all rows; the difference has its own,
    symmetric about zero. Returns the figure (``3 n_lead`` panels + 2 colour bars).
    """
    truth_rows, forecast_rows = _as_rows("truth", truth), _as_rows("forecast", forecast)
    expect(truth_rows.shape == forecast_rows.shape,
           f"truth and forecast must have the same shape, got {truth_rows.shape} and "
           f"{forecast_rows.shape}")
    n_rows = truth_rows.shape[0]
    times = [None] * n_rows if time_myr is None else np.atleast_1d(time_myr).tolist()
    expect(len(times) == n_rows, f"time_myr needs one value per row ({n_rows}), got {len(times)}")

    floor = log_floor(truth_rows, forecast_rows) if log else None
    planes_t, planes_f = [], []
    for t_vol, f_vol in zip(truth_rows, forecast_rows, strict=True):
        pt, index_used = slice_volume(t_vol, axis, index)
        pf, _ = slice_volume(f_vol, axis, index)
        planes_t.append(to_display(pt, log, floor))
        planes_f.append(to_display(pf, log, floor))
    planes_t, planes_f = np.array(planes_t), np.array(planes_f)
    diffs = planes_f - planes_t
    vmin = float(min(planes_t.min(), planes_f.min()))
    vmax = float(max(planes_t.max(), planes_f.max()))
    dmax = float(np.abs(diffs).max()) or 1e-12

    if axes is None:
        fig = new_figure(figsize=(9.0, 2.9 * n_rows + 1.0))
        axes = np.asarray(fig.subplots(n_rows, 3, squeeze=False, sharex=True, sharey=True))
    else:
        axes = np.asarray(axes).reshape(n_rows, 3)
        fig = axes.flat[0].figure
    extent, xlabel, ylabel, cell = _plane_geometry(truth_rows.shape[1:], axis, box_pc)
    for row in range(n_rows):
        when = "" if times[row] is None else f", t = {times[row]:.3g} Myr"
        ims = [
            _show_plane(axes[row, 0], planes_t[row], extent, xlabel, ylabel, cmap=cmap,
                        vmin=vmin, vmax=vmax),
            _show_plane(axes[row, 1], planes_f[row], extent, xlabel, ylabel, cmap=cmap,
                        vmin=vmin, vmax=vmax),
            _show_plane(axes[row, 2], diffs[row], extent, xlabel, ylabel, cmap=diff_cmap,
                        vmin=-dmax, vmax=dmax),
        ]
        for col in range(3):
            axes[row, col].set_title(titles[col] + when, fontsize="medium")
            if col > 0:
                axes[row, col].set_ylabel("")
            if row < n_rows - 1:
                axes[row, col].set_xlabel("")
    fig.colorbar(ims[0], ax=list(axes[:, :2].flat), label=field_label(field, log),
                 location="bottom", shrink=0.8, aspect=30)
    fig.colorbar(ims[2], ax=list(axes[:, 2].flat),
                 label=diff_label(field, log) + f", {titles[1]} − {titles[0]}",
                 location="bottom", shrink=0.9, aspect=15)
    position = (index_used + 0.5) * cell
    fig.suptitle(f"{field}, slice {AXIS_NAMES[axis]} = {position:.3g} pc", fontsize="medium")
    meta = {"figure": "cross_section_panels", "axis": axis, "index": index_used, "box_pc": box_pc,
            "time_myr": times, "field": field, "log": log}
    return _finish(fig, path, meta)


def animate_forecast(
    truth: np.ndarray,
    forecast: np.ndarray,
    times_myr: Sequence[float],
    path: str | Path,
    *,
    axis: int = 2,
    index: int | None = None,
    box_pc: float = 60.0,
    fps: int = 4,
    field: str = "density",
    log: bool = True,
    cmap: str = "inferno",
    dpi: int = 100,
) -> list[Path]:
    """Simulation beside forecast over the lead times: ``<path>.gif`` and, if ffmpeg, ``.mp4``.

    Args:
        truth, forecast: ``(n_lead, nx, ny, nz)`` in physical units.
        times_myr: ``(n_lead,)`` times in Myr (frame labels).
        path: output path; any suffix is replaced by ``.gif`` / ``.mp4``.

    One shared colour scale over all frames. The MP4 is written only when matplotlib finds
    ffmpeg (``imageio-ffmpeg`` provides one); otherwise it is skipped with a log message.
    Returns the paths written.
    """
    truth, forecast = np.asarray(truth), np.asarray(forecast)
    expect(truth.ndim == 4 and truth.shape == forecast.shape,
           f"truth and forecast must both be (n_lead, nx, ny, nz), got {truth.shape} and "
           f"{forecast.shape}")
    times = np.asarray(times_myr, dtype=float)
    expect(times.shape == (truth.shape[0],),
           f"times_myr needs one time per lead ({truth.shape[0]}), got shape {times.shape}")
    floor = log_floor(truth, forecast) if log else None
    planes = np.array([
        [to_display(slice_volume(vol[i], axis, index)[0], log, floor) for i in range(len(times))]
        for vol in (truth, forecast)
    ])  # (2, n_lead, n_u, n_v)
    vmin, vmax = float(planes.min()), float(planes.max())

    fig = new_figure(figsize=(7.6, 3.6))
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    extent, xlabel, ylabel, _ = _plane_geometry(truth.shape[1:], axis, box_pc)
    ims = [_show_plane(ax, planes[k, 0], extent, xlabel, ylabel, cmap=cmap, vmin=vmin, vmax=vmax)
           for k, ax in enumerate(axes)]
    fig.colorbar(ims[0], ax=list(axes), label=field_label(field, log), shrink=0.9)
    titles = [axes[0].set_title(""), axes[1].set_title("")]

    base = Path(path).with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    targets = [(base.with_suffix(".gif"), PillowWriter(fps=fps))]
    if writers.is_available("ffmpeg"):
        targets.append((base.with_suffix(".mp4"), FFMpegWriter(fps=fps)))
    else:
        logger.info("ffmpeg not found (pip install imageio-ffmpeg); skipping %s.mp4", base)
    written = []
    for target, writer in targets:
        with writer.saving(fig, str(target), dpi):
            for i, t in enumerate(times):
                for k in range(2):
                    ims[k].set_data(planes[k, i].T)
                titles[0].set_text(f"simulation, t = {t:.3g} Myr")
                titles[1].set_text(f"forecast, t = {t:.3g} Myr")
                writer.grab_frame()
        written.append(target)
    logger.info("wrote %s", ", ".join(str(p) for p in written))
    return written


def plot_metric_vs_lead(
    summary: Mapping[str, Mapping[str, np.ndarray]],
    metric: str = "VRMSE",
    field: str = "density",
    *,
    lead_label: str = "lead time [Myr]",
    log_y: bool = False,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """One line per model (the model and its baselines), mean ± std band over samples.

    Args:
        summary: ``{model_name: {"lead": (n,), "mean": (n,), "std": (n,)}}``; ``std`` may be
            omitted (no band). ``lead`` is in the unit of ``lead_label``.
        metric, field: for the y label and title.
    """
    expect(len(summary) > 0, "summary is empty; pass {model_name: {'lead', 'mean', 'std'}}")
    fig, ax = (ax.figure, ax) if ax is not None else _one_axes((5.0, 3.6))
    for name, entry in summary.items():
        missing = {"lead", "mean"} - set(entry)
        expect(not missing, f"summary[{name!r}] lacks {sorted(missing)}; expected keys "
               "'lead', 'mean' and optionally 'std'")
        lead = np.asarray(entry["lead"], dtype=float)
        mean = np.asarray(entry["mean"], dtype=float)
        expect(lead.shape == mean.shape and lead.ndim == 1,
               f"summary[{name!r}]: 'lead' and 'mean' must be 1D of equal length, got "
               f"{lead.shape} and {mean.shape}")
        (line,) = ax.plot(lead, mean, marker="o", markersize=3, label=name)
        if entry.get("std") is not None:
            std = np.asarray(entry["std"], dtype=float)
            expect(std.shape == mean.shape,
                   f"summary[{name!r}]['std'] must match 'mean' {mean.shape}, got {std.shape}")
            ax.fill_between(lead, mean - std, mean + std, color=line.get_color(), alpha=0.2,
                            linewidth=0)
    ax.set_xlabel(lead_label)
    ax.set_ylabel(f"{metric} ({field})")
    if log_y:
        ax.set_yscale("log")
    ax.legend(frameon=False)
    ax.set_title(f"{metric} of {field} against lead time")
    meta = {"figure": "plot_metric_vs_lead", "metric": metric, "field": field,
            "models": list(summary)}
    return _finish(fig, path, meta)


def _one_axes(figsize) -> tuple[Figure, Axes]:
    fig = new_figure(figsize=figsize)
    return fig, fig.add_subplot()


def plot_shell_radius(
    times_myr: np.ndarray,
    radii: Mapping[str, np.ndarray],
    sedov_taylor: np.ndarray | Callable[[np.ndarray], np.ndarray] | None = None,
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Shell radius (pc) against time (Myr), one line per source, with the Sedov–Taylor curve.

    Args:
        times_myr: ``(n_t,)`` times in Myr.
        radii: ``{name: (n_t,) radius in pc}``, e.g. ``{"simulation": ..., "forecast": ...}``.
        sedov_taylor: ``(n_t,)`` radii at ``times_myr``, or a function of time (Myr) -> pc,
            drawn as a dashed black curve (R ∝ t^(2/5); Sedov 1959, Taylor 1950).
    """
    times = np.asarray(times_myr, dtype=float)
    fig, ax = (ax.figure, ax) if ax is not None else _one_axes((4.6, 3.6))
    for name, r in radii.items():
        r = np.asarray(r, dtype=float)
        expect(r.shape == times.shape,
               f"radii[{name!r}] must have one radius per time {times.shape}, got {r.shape}")
        ax.plot(times, r, marker="o", markersize=3, label=name)
    if sedov_taylor is not None:
        if callable(sedov_taylor):
            t_fine = np.linspace(times.min(), times.max(), 200)
            ax.plot(t_fine, sedov_taylor(t_fine), "k--", label="Sedov–Taylor")
        else:
            st = np.asarray(sedov_taylor, dtype=float)
            expect(st.shape == times.shape,
                   f"sedov_taylor must be one radius per time {times.shape}, got {st.shape}")
            ax.plot(times, st, "k--", label="Sedov–Taylor")
    ax.set_xlabel("t [Myr]")
    ax.set_ylabel("shell radius [pc]")
    ax.legend(frameon=False)
    meta = {"figure": "plot_shell_radius", "series": list(radii),
            "sedov_taylor": sedov_taylor is not None}
    return _finish(fig, path, meta)


def iou(truth_mask: np.ndarray, forecast_mask: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(truth_mask, forecast_mask).sum()
    return 1.0 if union == 0 else float(np.logical_and(truth_mask, forecast_mask).sum() / union)


OVERLAP_COLOURS = ("#ffffff", "#1f77b4", "#d62728", "#7b3f99")  # none, truth, forecast, both


def plot_region_overlap(
    truth_mask: np.ndarray,
    forecast_mask: np.ndarray,
    *,
    axis: int = 2,
    index: int | None = None,
    box_pc: float = 60.0,
    labels: tuple[str, str] = ("simulation", "forecast"),
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """A region (e.g. cells above 10 % of the peak) of simulation and forecast on one slice.

    Args:
        truth_mask, forecast_mask: boolean ``(nx, ny, nz)``.

    Cells are coloured by simulation only / forecast only / both; the title gives the IoU over
    the whole volume and over the slice.
    """
    t = _check_volume("truth_mask", truth_mask)
    f = _check_volume("forecast_mask", forecast_mask)
    expect(t.shape == f.shape, f"masks must have the same shape, got {t.shape} and {f.shape}")
    if t.dtype != bool or f.dtype != bool:
        raise Mim3dError(
            f"masks must be boolean, got {t.dtype} and {f.dtype}; threshold first, e.g. "
            "truth > 0.1 * truth.max()")
    pt, index_used = slice_volume(t, axis, index)
    pf, _ = slice_volume(f, axis, index)
    category = pt.astype(int) + 2 * pf.astype(int)  # 0 none, 1 truth, 2 forecast, 3 both
    fig, ax = (ax.figure, ax) if ax is not None else _one_axes((4.2, 4.6))
    extent, xlabel, ylabel, cell = _plane_geometry(t.shape, axis, box_pc)
    _show_plane(ax, category, extent, xlabel, ylabel, cmap=ListedColormap(OVERLAP_COLOURS),
                vmin=-0.5, vmax=3.5)
    names = (f"{labels[0]} only", f"{labels[1]} only", "both")
    ax.legend(handles=[Patch(facecolor=c, edgecolor="k", label=n)
                       for c, n in zip(OVERLAP_COLOURS[1:], names, strict=True)],
              loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize="small",
              frameon=False)
    volume_iou, slice_iou = iou(t, f), iou(pt, pf)
    position = (index_used + 0.5) * cell
    ax.set_title(f"IoU = {volume_iou:.3f} (volume)\n{slice_iou:.3f} on the slice "
                 f"{AXIS_NAMES[axis]} = {position:.3g} pc", fontsize="medium")
    meta = {"figure": "plot_region_overlap", "axis": axis, "index": index_used, "box_pc": box_pc,
            "iou_volume": volume_iou, "iou_slice": slice_iou}
    return _finish(fig, path, meta)


def plot_loss_curve(
    steps: np.ndarray,
    losses: np.ndarray,
    val_steps: np.ndarray | None = None,
    val_losses: np.ndarray | None = None,
    *,
    loss_name: str = "loss",
    val_name: str = "validation MSE (scaled)",
    log_y: bool = True,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Training loss against step; the validation loss, if given, as markers on its own right
    axis (the two are in different units: the trainer logs ½ Σ error² per sequence, the
    validation a per-voxel mean)."""
    steps, losses = np.asarray(steps, dtype=float), np.asarray(losses, dtype=float)
    expect(steps.shape == losses.shape,
           f"steps and losses must have equal length, got {steps.shape} and {losses.shape}")
    fig, ax = (ax.figure, ax) if ax is not None else _one_axes((5.0, 3.4))
    ax.plot(steps, losses, label="training", linewidth=1)
    if val_losses is not None:
        val_losses = np.asarray(val_losses, dtype=float)
        val_steps = (np.arange(1, len(val_losses) + 1) if val_steps is None
                     else np.asarray(val_steps, dtype=float))
        expect(val_steps.shape == val_losses.shape,
               f"val_steps and val_losses must have equal length, got {val_steps.shape} and "
               f"{val_losses.shape}")
        right = ax.twinx()
        right.plot(val_steps, val_losses, "o-", markersize=4, color="C1", label="validation")
        right.set_ylabel(val_name, color="C1")
        right.tick_params(axis="y", colors="C1")
        if log_y and np.all(val_losses > 0):
            right.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(loss_name, color="C0")
    if log_y and np.all(losses > 0):
        ax.set_yscale("log")
    handles = ax.get_lines() + (right.get_lines() if val_losses is not None else [])
    ax.legend(handles, [h.get_label() for h in handles], frameon=False)
    meta = {"figure": "plot_loss_curve", "n_steps": int(steps.size), "loss_name": loss_name,
            "final_loss": float(losses[-1]) if losses.size else None}
    return _finish(fig, path, meta)
