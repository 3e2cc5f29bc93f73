"""Helpers the numbered notebooks call (``notebooks/*.ipynb``, run by ``make figures``).

The notebooks hold parameters and calls only; everything longer than a line or two lives here
(STYLE.md §5): making or finding the data set, the run configuration in normal and SMOKE mode,
training with a live loss curve, whole-trajectory forecasts in physical units (simulation,
3D-MIM, persistence baseline) and saving figures with their parameters.

The forecasts follow Hirashima et al. (2023): the model sees the first ``input_length``
snapshots of a run and predicts the rest autoregressively; pictures and metrics compare the
prediction with the simulation in physical units (n_H cm^-3 for density).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mim3d.ensemble import PRESETS, EnsembleConfig, run_ensemble
from mim3d.errors import expect
from mim3d.normalize import Normalizer, fit, stats_path
from mim3d.presets import load_preset

log = logging.getLogger(__name__)

# SMOKE mode's data set: 8 train / 1 valid / 1 test turbulent runs + 1 uniform run at 8³,
# 6 snapshots to 0.2 Myr (about 30 s on one core); every split the notebooks use exists.
SMOKE_ENSEMBLE = EnsembleConfig(n=10, n_uniform=1, grid=8, seed=0, n_snapshots=6, t_end_myr=0.2)
# the smoke preset, adjusted to the 8³ smoke data (no downsampling: 8³ -> 4³ after patching)
SMOKE_OVERRIDES = {"data": {"downsample": 1}}

# the checkout (paths in notebooks are relative to it, whether papermill or JupyterLab runs them)
ROOT = Path(__file__).resolve().parents[1]


def project_path(path: str | Path) -> Path:
    """``path`` itself if absolute, else relative to the checkout (or the working directory
    when mim3d is not run from a checkout)."""
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    base = ROOT if (ROOT / "pyproject.toml").is_file() else Path.cwd()
    return base / path


@dataclass(frozen=True)
class Paths:
    """Where a notebook reads and writes (see :func:`setup`).

    Attributes:
        preset: ``"demo"`` or ``"smoke"`` (SMOKE mode).
        data: the data set folder. run: the training run folder (model, normalizer, CSVs).
        figures: figure folder. evaluation: forecasts and metrics written by 03_evaluation.
    """

    preset: str
    data: Path
    run: Path
    figures: Path
    evaluation: Path

    @property
    def baseline(self) -> Path:
        """The run folder of the learned ConvLSTM baseline: ``<run>_convlstm`` beside ``run``."""
        return self.run.with_name(self.run.name + "_convlstm")


DEFAULTS = {
    "demo": ("data/demo", "runs/demo", "figures", "build/evaluation"),
    "smoke": ("data/smoke", "runs/smoke", "build/smoke/figures", "build/smoke/evaluation"),
}


def setup(smoke: bool = False, data_dir: str | Path | None = None,
          run_dir: str | Path | None = None, fig_dir: str | Path | None = None,
          eval_dir: str | Path | None = None) -> Paths:
    """The notebook's folders: given ones, else the defaults of the mode (:data:`DEFAULTS`).

    Relative paths are taken from the checkout; the figure and evaluation folders are created.
    """
    preset = "smoke" if smoke else "demo"
    given = (data_dir, run_dir, fig_dir, eval_dir)
    data, run, figs, ev = (project_path(g if g is not None else d)
                           for g, d in zip(given, DEFAULTS[preset], strict=True))
    figs.mkdir(parents=True, exist_ok=True)
    ev.mkdir(parents=True, exist_ok=True)
    return Paths(preset, data, run, figs, ev)


def ensemble_for(preset: str) -> EnsembleConfig:
    """The simulation ensemble of a preset: ``demo`` (24 + 4 runs at 32³) or ``smoke`` (tiny)."""
    if preset == "smoke":
        return SMOKE_ENSEMBLE
    expect(preset in PRESETS, f"no data set for preset {preset!r}; use 'smoke' or one of "
           f"{sorted(PRESETS)}")
    return PRESETS[preset]


def run_config(preset: str, data_dir: str | Path, **sections: dict) -> dict:
    """The training configuration of ``preset`` reading ``data_dir``, SMOKE fixes applied.

    ``sections``: overrides per section, e.g. ``train={"max_iterations": 50}``.
    """
    config = load_preset(preset, data_path=str(data_dir))
    extra = dict(SMOKE_OVERRIDES) if preset == "smoke" else {}
    for name, values in {**extra, **sections}.items():
        expect(name in config, f"unknown section {name!r}; the preset has {sorted(config)}")
        config[name] = {**config[name], **values}
    return config


def baseline_config(preset: str, data_dir: str | Path) -> dict:
    """The ConvLSTM baseline's configuration: preset ``<preset>_convlstm`` if shipped, else
    ``preset`` with ``model.architecture: convlstm`` (same data, recipe and budget)."""
    from mim3d.presets import HERE

    if (HERE / f"{preset}_convlstm.yaml").is_file():
        config = load_preset(f"{preset}_convlstm", data_path=str(data_dir))
        if preset == "smoke":
            for name, values in SMOKE_OVERRIDES.items():
                config[name] = {**config[name], **values}
        return config
    return run_config(preset, data_dir, model={"architecture": "convlstm"})


def resolve_baselines(names, paths: Paths) -> list[str]:
    """Baseline specs for :func:`evaluate_split`: ``"convlstm"`` becomes
    ``"convlstm:<paths.baseline>"`` when that run holds a model, and is left out (with a log
    note) otherwise; other entries pass through."""
    out = []
    for name in names:
        if name == "convlstm":
            if (paths.baseline / "model.keras").is_file():
                import mim3d.convlstm  # noqa: F401  registers the keras class for loading

                out.append(f"convlstm:{paths.baseline}")
            else:
                log.warning("no trained ConvLSTM in %s; evaluating without it (train it with "
                            "02_training, TRAIN_BASELINE = True)", paths.baseline)
        else:
            out.append(name)
    return out


def ensure_data(path: str | Path, preset: str = "demo", *, jobs: int = 1,
                progress: bool = True) -> Path:
    """Simulate the data set of ``preset`` into ``path`` unless present; fit its normalizer.

    Resumes a partial set. The normalizer (``<path>/normalizer.json``, training split only) uses
    the fields and block-mean factor of the preset's ``data`` section, as training does.
    Returns ``path``.
    """
    path = Path(path)
    report = run_ensemble(ensemble_for(preset), path, jobs=jobs, progress=progress)
    stats = stats_path(path)
    if report.written or not stats.is_file():
        data = run_config(preset, path)["data"]
        from mim3d.data import channels_for

        norm = fit(path, channels_for(data.get("fields", ["density"])),
                   downsample=int(data.get("downsample", 1)), progress=progress)
        norm.save(stats)
        log.info("wrote %s", stats)
    return path


def figure_dir(path: str | Path = "figures") -> Path:
    """``path`` (relative to the checkout) as a folder that exists."""
    path = project_path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def record_params(**params: Any) -> dict:
    """The notebook's parameters as a plain dict, for :func:`mim3d.viz.save_figure` metadata."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in params.items()}


def save(fig, path_without_suffix: str | Path, **params: Any) -> list[Path]:
    """:func:`mim3d.viz.save_figure` with the notebook's parameters: PNG, PDF and JSON."""
    from mim3d.viz import save_figure

    return save_figure(fig, path_without_suffix, record_params(**params))


def lead_frames(n_frames: int, k: int = 3) -> list[int]:
    """``k`` evenly spaced frame indices from the first to the last of ``n_frames``."""
    expect(n_frames >= 1, f"no frames to choose from (n_frames={n_frames})")
    return sorted({int(round(x)) for x in np.linspace(0, n_frames - 1, min(k, n_frames))})


def write_record(path_without_suffix: str | Path, params: dict, files: list | None = None
                 ) -> Path:
    """``<path>.json`` with the git revision and ``params``, as :func:`~mim3d.viz.save_figure`
    writes beside figures (for outputs it does not save, e.g. the GIF)."""
    from mim3d import __version__
    from mim3d.viz import _jsonable, git_revision

    base = Path(path_without_suffix).with_suffix("")
    record = {"git_revision": git_revision(), "mim3d_version": __version__,
              "parameters": _jsonable(dict(params)),
              "files": [Path(f).name for f in files or []]}
    out = base.with_suffix(".json")
    out.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return out


def table(rows: list[dict], digits: int = 4) -> str:
    """Rows of equal keys as a fixed-width text table (numbers to ``digits`` significant)."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])

    def cell(v) -> str:
        if isinstance(v, float):
            return f"{v:.{digits}g}"
        return "" if v is None else str(v)

    cells = [[cell(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[j]) for c in cells)) for j, k in enumerate(keys)]
    lines = ["  ".join(k.rjust(w) for k, w in zip(keys, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ training


def _live_loss_plot_class():
    import keras
    from IPython.display import display

    from mim3d.viz import plot_loss_curve

    class LiveLossPlot(keras.callbacks.Callback):
        """Redraws the loss curve in the notebook every ``every`` steps (one output area)."""

        def __init__(self, every: int = 10, validation_csv: str | Path | None = None):
            super().__init__()
            self.every, self.validation_csv = max(1, int(every)), validation_csv
            self.steps: list[int] = []
            self.losses: list[float] = []
            self.handle = None

        def figure(self):
            val = read_validation(self.validation_csv) if self.validation_csv else None
            if val is not None and len(val[0]) == 0:
                val = None
            return plot_loss_curve(self.steps, self.losses,
                                   *(val if val is not None else (None, None)))

        def _draw(self) -> None:
            if not self.steps:
                return
            fig = self.figure()
            if self.handle is None:
                self.handle = display(fig, display_id=True)
            else:
                self.handle.update(fig)

        def on_train_batch_end(self, batch, logs=None):
            self.steps.append(int(batch))
            self.losses.append(float((logs or {}).get("loss", np.nan)))
            if len(self.steps) % self.every == 0:
                self._draw()

        def on_train_end(self, logs=None):
            self._draw()

    return LiveLossPlot


def __getattr__(name: str):
    # LiveLossPlot subclasses a keras class; build it on first use so that importing this
    # module (the data notebook) does not import TensorFlow.
    if name == "LiveLossPlot":
        cls = _live_loss_plot_class()
        globals()["LiveLossPlot"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def read_validation(path: str | Path) -> tuple[np.ndarray, np.ndarray] | None:
    """``validation.csv`` of a run as ``(steps, mse averaged over leads)``, or None if absent."""
    path = Path(path)
    if not path.is_file():
        return None
    rows = np.genfromtxt(path, delimiter=",", names=True, ndmin=1)
    if rows.size == 0:
        return np.array([]), np.array([])
    steps = np.unique(rows["step"])
    return steps, np.array([rows["mse"][rows["step"] == s].mean() for s in steps])


def read_metrics(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``metrics.csv`` of a run as ``(steps, losses)``."""
    path = Path(path)
    expect(path.is_file(), f"{path} does not exist; train first (notebook 02_training)")
    rows = np.genfromtxt(path, delimiter=",", names=True, ndmin=1)
    return rows["step"], rows["loss"]


def train_or_load(config: dict, run_dir: str | Path, *, train: bool = True,
                  pretrained: str | Path | None = None, live_every: int = 10,
                  progress: bool = True, resume: bool = True):
    """Train ``config`` into ``run_dir`` with a live loss curve, or use a trained model.

    Args:
        config: from :func:`run_config`.
        run_dir: the run folder (``model.keras``, ``normalizer.json``, ``run.yaml``, CSVs).
        train: train (resuming an unfinished run, skipping a finished one); when False,
            ``pretrained`` (a run folder) is used, or ``run_dir`` if it already holds a model.
        live_every: redraw the loss curve every this many steps.

    Returns ``(model, run_dir_used)``.
    """
    from mim3d.predict import load_model

    run_dir = Path(run_dir)
    if not train:
        source = Path(pretrained) if pretrained else run_dir
        expect((source / "model.keras").is_file(),
               f"TRAIN is False but {source / 'model.keras'} does not exist; set TRAIN = True, "
               f"or point PRETRAINED at a run folder with model.keras, normalizer.json, run.yaml")
        return load_model(source / "model.keras"), source
    from mim3d.train import train as train_model

    done = (run_dir / "model.keras").is_file() and (run_dir / "run.yaml").is_file()
    callback = __getattr__("LiveLossPlot")(live_every, run_dir / "validation.csv")
    model, _ = train_model(config, run_dir, resume=resume and run_dir.exists() and
                           any(run_dir.iterdir()), progress=progress, callbacks=[callback])
    if done and not callback.steps:
        log.info("%s was already trained to the end", run_dir)
    return model, run_dir


def loss_figure(run_dir: str | Path, path: str | Path | None = None):
    """The loss curve of a finished run (training loss, validation MSE), saved to ``path``."""
    from mim3d.viz import plot_loss_curve

    run_dir = Path(run_dir)
    steps, losses = read_metrics(run_dir / "metrics.csv")
    val = read_validation(run_dir / "validation.csv")
    has_val = val is not None and len(val[0]) > 0
    return plot_loss_curve(steps, losses, val[0] if has_val else None,
                           val[1] if has_val else None, path=path)


# ------------------------------------------------------------------------------ forecasts


@dataclass(frozen=True)
class Forecast:
    """Whole-trajectory forecasts of one split, in physical units.

    Attributes:
        truth, model, persistence: ``(B, T_f, nx, ny, nz, C)`` the simulation, the model's
            forecast, and the last context frame repeated, at the forecast times.
        context: ``(B, L, nx, ny, nz, C)`` the frames the model saw.
        times_myr: ``(T_f,)`` times of the forecast frames (Myr since the explosion).
        lead_myr: ``(T_f,)`` time after the last context frame.
        first: ``(B, nx, ny, nz, C)`` each run's first snapshot (for the changed region).
        channels: ``C`` channel names; box_pc: box edge in pc.
        params: per sample, the run's parameters (``n_H``, ``E_sn_erg``, ``medium``...).
        names: a label per sample.
    """

    truth: np.ndarray
    model: np.ndarray
    persistence: np.ndarray
    context: np.ndarray
    times_myr: np.ndarray
    lead_myr: np.ndarray
    first: np.ndarray
    channels: tuple[str, ...]
    box_pc: float
    params: tuple[dict, ...]
    names: tuple[str, ...]

    @property
    def cell_pc(self) -> float:
        return self.box_pc / self.truth.shape[2]

    def channel(self, name: str = "density") -> int:
        expect(name in self.channels, f"no channel {name!r}; the forecast has {self.channels}")
        return self.channels.index(name)


def load_run(run_dir: str | Path) -> tuple[Any, Normalizer, dict]:
    """``(model, normalizer, resolved config)`` of a run folder."""
    import yaml

    from mim3d.predict import load_model

    run_dir = Path(run_dir)
    for name in ("model.keras", "normalizer.json", "run.yaml"):
        expect((run_dir / name).is_file(),
               f"{run_dir / name} is missing; a run folder needs model.keras, normalizer.json "
               f"and run.yaml (train with notebook 02_training or mim3d train)")
    config = yaml.safe_load((run_dir / "run.yaml").read_text())
    return load_model(run_dir / "model.keras"), Normalizer.load(run_dir / "normalizer.json"), config


def forecast_split(run_dir: str | Path, data_dir: str | Path, split: str = "test", *,
                   n_future: int | None = None, max_samples: int | None = None,
                   model=None, batch_size: int = 2) -> Forecast:
    """Forecast every run of ``split`` from its first ``input_length`` snapshots.

    Args:
        run_dir: trained run folder (model, normalizer and config with fields, downsampling
            and input length).
        data_dir: data set folder (The Well layout).
        n_future: frames to forecast (default: to the end of the run).
        max_samples: use only the first runs of the split.
        model: an already loaded model (else loaded from ``run_dir``).
    """
    from mim3d.baselines import persistence
    from mim3d.data import block_mean, channels_for
    from mim3d.formats.well import WellStore
    from mim3d.predict import forecast_future

    loaded, norm, config = load_run(run_dir)
    model = model if model is not None else loaded
    channels = channels_for(config["data"].get("fields", ["density"]))
    factor = int(config["data"].get("downsample", 1))
    n_in = int(config["train"]["input_length"])
    store = WellStore(data_dir, split)
    n = len(store) if max_samples is None else min(len(store), int(max_samples))
    expect(n > 0, f"split {split!r} of {data_dir} holds no runs")
    runs, params, names = [], [], []
    for i in range(n):
        traj = store.trajectory(i)
        runs.append(block_mean(traj.stack(channels), factor))
        params.append(dict(traj.params))
        names.append(f"{split} {traj.params.get('ensemble_index', i)}")
        times = np.asarray(traj.times, dtype=float)
    phys = np.stack(runs)  # (B, n_t, x, y, z, C)
    n_t = phys.shape[1]
    n_future = n_t - n_in if n_future is None else int(n_future)
    expect(1 <= n_future <= n_t - n_in,
           f"n_future must be within 1..{n_t - n_in} (runs have {n_t} snapshots, the model "
           f"reads {n_in}); got {n_future}")
    context = norm.forward(phys[:, :n_in])
    pred = norm.inverse(forecast_future(model, context, n_future, batch_size=batch_size))
    t_f = times[n_in:n_in + n_future]
    return Forecast(
        truth=phys[:, n_in:n_in + n_future], model=pred.astype(np.float32),
        persistence=persistence(phys[:, :n_in], n_future), context=phys[:, :n_in],
        times_myr=t_f, lead_myr=t_f - times[n_in - 1], first=phys[:, 0], channels=channels,
        box_pc=store.box_pc, params=tuple(params), names=tuple(names))


def save_forecast(fc: Forecast, path: str | Path) -> Path:
    """Write a :class:`Forecast` to ``path`` (``.npz``; arrays plus a JSON ``meta`` entry)."""
    from mim3d.io import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps({"channels": list(fc.channels), "box_pc": fc.box_pc,
                       "params": list(fc.params), "names": list(fc.names)}, default=str)
    arrays = {k: getattr(fc, k) for k in ("truth", "model", "persistence", "context",
                                          "times_myr", "lead_myr", "first")}
    atomic_write(path, lambda tmp: np.savez_compressed(open(tmp, "wb"), meta=meta, **arrays))
    return path


def load_forecast(path: str | Path) -> Forecast:
    """Read what :func:`save_forecast` wrote."""
    path = Path(path)
    expect(path.is_file(), f"{path} does not exist; run notebook 03_evaluation first "
           f"(make figures runs it)")
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    return Forecast(**arrays, channels=tuple(meta["channels"]), box_pc=float(meta["box_pc"]),
                    params=tuple(meta["params"]), names=tuple(meta["names"]))


# ------------------------------------------------------------------------------ evaluation

# labels in pictures for the names mim3d.evaluate uses
DISPLAY_NAMES = {"model": "3D-MIM", "convlstm": "ConvLSTM", "sedov_taylor": "Sedov–Taylor"}


def evaluate_split(run_dir: str | Path, data_dir: str | Path, split: str,
                   eval_dir: str | Path, baselines=("persistence",), **kwargs):
    """:func:`mim3d.evaluate.evaluate` of ``split`` into ``<eval_dir>/<split>``.

    That folder is a build output of the notebooks: an earlier evaluation there (a folder with
    ``summary.json``) is replaced; any other non-empty folder is an error (evaluate's own check).
    Returns the :class:`mim3d.evaluate.Evaluation`.
    """
    import shutil

    from mim3d.evaluate import evaluate

    out = Path(eval_dir) / split
    if (out / "summary.json").is_file():
        shutil.rmtree(out)
    return evaluate(str(run_dir), str(data_dir), split, out=out, baselines=tuple(baselines),
                    **kwargs)


def load_summary(eval_dir: str | Path, split: str) -> dict:
    """``<eval_dir>/<split>/summary.json`` written by :func:`evaluate_split`."""
    path = Path(eval_dir) / split / "summary.json"
    expect(path.is_file(), f"{path} does not exist; run notebook 03_evaluation first "
           f"(make figures runs it)")
    return json.loads(path.read_text())


def lead_curves(summary: dict, metric: str = "vrmse", field: str = "density",
                space: str = "physical") -> dict[str, dict[str, np.ndarray]]:
    """``{model name: {"lead" (Myr), "mean", "std"}}`` from an evaluation summary, ready for
    :func:`mim3d.viz.plot_metric_vs_lead`. ``space``: ``physical`` or ``scaled``."""
    scores = summary["scores"]
    expect(space in scores, f"space must be one of {sorted(scores)}; got {space!r}")
    lead_myr = {int(k): float(v) for k, v in summary["settings"]["lead_myr"].items()}
    out = {}
    for name, table in scores[space].items():
        expect(metric in table and field in table[metric],
               f"the summary has no {metric!r} of {field!r}; metrics: {sorted(table)}")
        per_lead = sorted(((int(k), v) for k, v in table[metric][field].items()))
        out[DISPLAY_NAMES.get(name, name)] = {
            "lead": np.array([lead_myr[k] for k, _ in per_lead]),
            "mean": np.array([np.nan if v["mean"] is None else v["mean"] for _, v in per_lead]),
            "std": np.array([np.nan if v["std"] is None else v["std"] for _, v in per_lead])}
    return out


def diagnostics_rows(summary: dict, keys=("abs_radius_peak_error", "iou", "mass_rel_error",
                                          "w1_log_density")) -> list[dict]:
    """The shell diagnostics per model and lead (means over windows) as table rows."""
    rows = []
    for name, per_lead in summary["diagnostics"]["per_lead"].items():
        for lead, entry in sorted(per_lead.items(), key=lambda kv: int(kv[0])):
            row = {"model": name, "lead": int(lead)}
            row.update({k: entry[k]["mean"] for k in keys if k in entry})
            rows.append(row)
    return rows


def radius_vs_time(summary: dict, kind: str = "peak"
                   ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """``(times_myr, {name: radius_pc}, sedov_taylor_pc)`` from an evaluation summary
    (``kind``: ``peak`` or ``volume`` radius), for :func:`mim3d.viz.plot_shell_radius`."""
    table = summary["diagnostics"]["radius_vs_time_myr"]
    times = sorted(table, key=float)
    key = f"radius_{kind}_pc"
    names = [n for n in table[times[0]] if n != "sedov_taylor"]
    radii = {DISPLAY_NAMES.get(n, n): np.array(
        [np.nan if table[t][n][key] is None else table[t][n][key] for t in times])
        for n in names}
    sedov = np.array([table[t]["sedov_taylor"]["radius_peak_pc"] for t in times])
    return np.array([float(t) for t in times]), radii, sedov


def changed_masks(fc: Forecast, sample: int = 0, frame: int = -1,
                  threshold: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Boolean ``(nx, ny, nz)`` changed regions (density vs the first snapshot) of truth, model."""
    from mim3d.physics import changed_region

    c = fc.channel("density")
    first = fc.first[sample, ..., c]
    return (changed_region(fc.truth[sample, frame, ..., c][None], first, threshold)[0],
            changed_region(fc.model[sample, frame, ..., c][None], first, threshold)[0])


def describe(fc: Forecast) -> str:
    """A one-paragraph plain summary of a forecast set (shapes, times)."""
    b, t = fc.truth.shape[:2]
    return (f"{b} run(s), {t} forecast frames at t = {fc.times_myr[0]:.3g}..{fc.times_myr[-1]:.3g}"
            f" Myr after {fc.context.shape[1]} context frames; grid {fc.truth.shape[2:5]}, "
            f"box {fc.box_pc:g} pc, channels {', '.join(fc.channels)}")


# ------------------------------------------------------------------------------ data pictures


def field_statistics(data_dir: str | Path, split: str = "train",
                     channels: tuple[str, ...] = ("density", "pressure", "temperature")
                     ) -> list[dict]:
    """Per split and channel: min, median, max, mean of log10 over all runs and snapshots."""
    from mim3d.formats.well import WellStore

    store = WellStore(data_dir, split)
    rows = []
    for c in channels:
        values = np.concatenate([store.trajectory(i).channel(c).ravel()
                                 for i in range(len(store))])
        rows.append({"split": split, "channel": c, "runs": len(store),
                     "min": float(values.min()), "median": float(np.median(values)),
                     "max": float(values.max()),
                     "mean_log10": float(np.log10(np.maximum(values, 1e-30)).mean())})
    return rows


def density_pdf_figure(data_dir: str | Path, split: str = "train", run: int = 0,
                       frames: tuple[int, ...] | None = None, bins: int = 40,
                       path: str | Path | None = None):
    """Volume-weighted PDF of log10 density of one run at a few snapshot times.

    The blast carves a hot, rarefied bubble (left tail) and sweeps gas into a dense shell
    (right tail); the turbulent medium starts log-normal.
    """
    from mim3d.formats.well import WellStore
    from mim3d.viz import new_figure, save_figure

    traj = WellStore(data_dir, split).trajectory(run)
    rho = np.log10(np.maximum(traj.channel("density"), 1e-10))
    n_t = traj.n_t
    frames = tuple(sorted({0, n_t // 2, n_t - 1})) if frames is None else tuple(frames)
    edges = np.linspace(rho.min(), rho.max(), bins + 1)
    fig = new_figure(figsize=(5.0, 3.6))
    ax = fig.add_subplot()
    for k in frames:
        hist, _ = np.histogram(rho[k], bins=edges, density=True)
        ax.step(0.5 * (edges[1:] + edges[:-1]), hist, where="mid",
                label=f"t = {traj.times[k]:.3g} Myr")
    ax.set_xlabel(r"log$_{10}$ n$_H$ [cm$^{-3}$]")
    ax.set_ylabel("PDF (volume weighted)")
    ax.set_yscale("log")
    ax.legend(frameon=False)
    ax.set_title(f"{split} run {run}: density PDF")
    meta = {"figure": "density_pdf", "data": str(data_dir), "split": split, "run": run,
            "frames": list(frames), "bins": bins}
    if path is not None:
        save_figure(fig, path, meta)
    return fig


def snapshot_panels(data_dir: str | Path, split: str = "train", run: int = 0,
                    frames: tuple[int, ...] | None = None, path: str | Path | None = None):
    """Central density slices of one run at a few times (simulation only), one shared scale."""
    from mim3d.formats.well import WellStore
    from mim3d.viz import cross_section_panels

    traj = WellStore(data_dir, split).trajectory(run)
    n_t = traj.n_t
    frames = tuple(sorted({0, n_t // 2, n_t - 1})) if frames is None else tuple(frames)
    rho = traj.channel("density")
    first = np.broadcast_to(rho[0], (len(frames), *rho.shape[1:]))
    return cross_section_panels(first, rho[list(frames)], box_pc=traj.box_pc,
                                time_myr=[float(traj.times[k]) for k in frames], path=path,
                                titles=("first snapshot", "simulation", "change"))
