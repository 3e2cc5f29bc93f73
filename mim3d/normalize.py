"""Per-channel scaling between physical units and the model's space.

The model sees each channel as ``z = (f(x) - mean) / std`` where ``f`` is ``log10`` for density,
pressure and temperature and the identity for the velocity components. Gas densities in a
supernova remnant span about seven orders of magnitude (hot bubble ~1e-3 cm^-3, cold shell
~1e3 cm^-3) and temperatures five, so the 3D-MIM authors (Hirashima et al. 2023, MNRAS 526,
4054) and The Well's supernova sets train on log-scaled density and temperature; velocity changes
sign and stays linear.

Log floor: before ``log10`` every value is clipped from below to :data:`LOG_FLOOR` (1e-10 in the
field's unit: n_H cm^-3, K cm^-3, K). Physical values in these simulations are many orders of
magnitude above it; the floor only catches zeros and round-off negatives (e.g. empty cells of a
particle-to-grid deposit). ``inverse`` maps clipped values back to the floor, not to the original
zero; everything above the floor round-trips exactly up to float round-off.

``mean``/``std`` come from the training split only (:func:`fit`), over every frame of every
training trajectory once (overlapping windows are not double-counted), accumulated in float64
chunk by chunk with Chan et al.'s (1979) pairwise update, so the data are never loaded at once.
The statistics live beside the data as ``<data>/normalizer.json`` and are copied into each run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mim3d.errors import Mim3dError

log = logging.getLogger(__name__)

LOG_FLOOR = 1e-10
"""Values are clipped to at least this (in the field's own unit) before ``log10``."""

LOG_CHANNELS = frozenset({"density", "pressure", "temperature"})
"""Channels scaled by ``log10``; all others (the velocity components) stay linear."""

STATS_FILE = "normalizer.json"
"""File name of the statistics beside the data (``<data>/normalizer.json``)."""

FIT_CHUNK_FRAMES = 4
"""Frames read at a time while fitting (memory ~ chunk × grid³ × channels × 4 bytes)."""


@dataclass(frozen=True)
class Normalizer:
    """Channel-wise ``z = (f(x) - mean) / std`` with ``f = log10`` where ``log`` is set.

    Attributes:
        channels: channel names in the order of the last axis, e.g. ``("density",)``.
        log: per channel, whether ``log10`` (after clipping to ``floor``) is applied first.
        mean: per channel, the mean of ``f(x)`` over the training split.
        std: per channel, the standard deviation of ``f(x)`` over the training split (> 0).
        floor: the clip value applied before ``log10`` (see :data:`LOG_FLOOR`).
    """

    channels: tuple[str, ...]
    log: tuple[bool, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    floor: float = LOG_FLOOR

    def __post_init__(self) -> None:
        n = len(self.channels)
        for name in ("log", "mean", "std"):
            if len(getattr(self, name)) != n:
                raise Mim3dError(
                    f"Normalizer.{name} has {len(getattr(self, name))} entries but there are "
                    f"{n} channels {self.channels}; give one value per channel."
                )
        if not all(np.isfinite(s) and s > 0 for s in self.std):
            raise Mim3dError(f"Normalizer.std must be finite and > 0, got {self.std}.")
        if not all(np.isfinite(m) for m in self.mean):
            raise Mim3dError(f"Normalizer.mean must be finite, got {self.mean}.")

    # -- transforms ------------------------------------------------------------------------
    def forward(self, x_phys: np.ndarray) -> np.ndarray:
        """Physical ``(..., C)`` -> scaled ``(..., C)``; float32 in -> float32 out (else float64)."""
        x = self._check(x_phys)
        out = np.empty(x.shape, dtype=_out_dtype(x))
        for j in range(len(self.channels)):  # channel by channel: contiguous float64 temporaries
            y = x[..., j].astype(np.float64)
            if self.log[j]:
                np.log10(np.maximum(y, self.floor, out=y), out=y)
            y -= self.mean[j]
            y /= self.std[j]
            out[..., j] = y
        return out

    def inverse(self, x_scaled: np.ndarray) -> np.ndarray:
        """Scaled ``(..., C)`` -> physical ``(..., C)``; the exact inverse of :meth:`forward`."""
        z = self._check(x_scaled)
        out = np.empty(z.shape, dtype=_out_dtype(z))
        for j in range(len(self.channels)):
            y = z[..., j].astype(np.float64)
            y *= self.std[j]
            y += self.mean[j]
            if self.log[j]:
                np.power(10.0, y, out=y)
            out[..., j] = y
        return out

    def select(self, channels: Sequence[str]) -> Normalizer:
        """The statistics of a subset of channels, in the order given."""
        missing = [c for c in channels if c not in self.channels]
        if missing:
            raise Mim3dError(
                f"the normalizer has statistics for {self.channels} but not for {missing}; refit "
                f"it for these channels (`mim3d fit-normalizer DATA --fields ...`)."
            )
        idx = [self.channels.index(c) for c in channels]
        return Normalizer(
            channels=tuple(channels),
            log=tuple(self.log[i] for i in idx),
            mean=tuple(self.mean[i] for i in idx),
            std=tuple(self.std[i] for i in idx),
            floor=self.floor,
        )

    def check_channels(self, channels: Sequence[str], what: str = "the data") -> None:
        """Raise a :class:`Mim3dError` unless ``channels`` equals this normalizer's channels."""
        if tuple(channels) != self.channels:
            raise Mim3dError(
                f"channel mismatch: the normalizer was fitted for {self.channels} but {what} has "
                f"{tuple(channels)}. Use the same `fields` as when fitting, or refit the "
                f"statistics for these fields (`mim3d fit-normalizer DATA --fields ...`)."
            )

    def _check(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == 0 or x.shape[-1] != len(self.channels):
            raise Mim3dError(
                f"expected an array with {len(self.channels)} channel(s) {self.channels} on the "
                f"last axis, got shape {x.shape}."
            )
        return x

    # -- files -----------------------------------------------------------------------------
    def to_json(self) -> str:
        """The statistics as a JSON string (lists in channel order)."""
        d = asdict(self)
        return json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in d.items()},
                          indent=2)

    @classmethod
    def from_json(cls, text: str) -> Normalizer:
        """Parse :meth:`to_json` output."""
        try:
            d = json.loads(text)
            return cls(
                channels=tuple(str(c) for c in d["channels"]),
                log=tuple(bool(v) for v in d["log"]),
                mean=tuple(float(v) for v in d["mean"]),
                std=tuple(float(v) for v in d["std"]),
                floor=float(d.get("floor", LOG_FLOOR)),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise Mim3dError(
                f"not a normalizer JSON ({err}); expected keys channels, log, mean, std."
            ) from err

    def save(self, path: str | os.PathLike) -> Path:
        """Write the JSON atomically (temporary file in the same folder, then rename)."""
        from mim3d.io import atomic_write

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(path, lambda tmp: tmp.write_text(self.to_json() + "\n"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Normalizer:
        """Read a file written by :meth:`save`; a clear error if it does not exist."""
        path = Path(path)
        if path.is_dir():
            path = path / STATS_FILE
        if not path.is_file():
            raise Mim3dError(
                f"no normalisation statistics at {path}. Fit them on the training split first: "
                f"`mim3d fit-normalizer {path.parent} --fields density` (or "
                f"`mim3d.normalize.fit(source, channels).save(path)`), or set normalize=False."
            )
        return cls.from_json(path.read_text())


def _out_dtype(x: np.ndarray) -> type:
    return np.float32 if x.dtype in (np.float16, np.float32) else np.float64


def stats_path(data: str | os.PathLike) -> Path:
    """Where the statistics for a data folder (or file) live: ``<folder>/normalizer.json``."""
    data = Path(data)
    return data / STATS_FILE if data.is_dir() or not data.suffix else data.with_name(STATS_FILE)


class _Moments:
    """Per-channel count/mean/M2 in float64, merged chunk by chunk (Chan, Golub & LeVeque 1979)."""

    def __init__(self, n_channels: int):
        self.count = 0
        self.mean = np.zeros(n_channels)
        self.m2 = np.zeros(n_channels)

    def update(self, y: np.ndarray) -> None:
        y = y.reshape(-1, y.shape[-1]).astype(np.float64)
        n = y.shape[0]
        if n == 0:
            return
        mean = y.mean(axis=0)
        m2 = ((y - mean) ** 2).sum(axis=0)
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * n / total)
        self.count = total

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.count, 1))


def fit(
    source: Any,
    channels: Sequence[str],
    *,
    split: str = "train",
    downsample: int = 1,
    log_channels: Sequence[str] | None = None,
    progress: bool = False,
) -> Normalizer:
    """Fit mean/std of ``f(x)`` per channel over the ``split`` (training) data, streaming.

    Args:
        source: anything :func:`mim3d.data.open_source` accepts: a data folder or ``.hdf5`` file
            (The Well layout), a ``WellStore``, a list of ``Trajectory``, or a dict
            ``split -> list``. Only ``split`` is read.
        channels: channel names, e.g. ``("density", "velocity_x")``.
        split: the split to fit on; keep ``"train"`` so evaluation data never leak in.
        downsample: block-mean factor applied before the log, as in :mod:`mim3d.data`.
        log_channels: channels to log-scale; default :data:`LOG_CHANNELS`.
        progress: show a tqdm bar over trajectories.

    Returns:
        the fitted :class:`Normalizer`. A channel that is constant over the split gets std 1.
    """
    from mim3d import data  # local import: mim3d.data imports this module

    channels = tuple(channels)
    lg = tuple(c in (LOG_CHANNELS if log_channels is None else set(log_channels))
               for c in channels)
    src = data.open_source(source, split)
    if src.model_space:
        raise Mim3dError(
            "this source is an array file already in model space; statistics are fitted on "
            "physical data (a Well folder or Trajectory list)."
        )
    data.check_channels_available(src, channels)
    moments = _Moments(len(channels))
    n_floored = np.zeros(len(channels), dtype=np.int64)
    lgm = np.asarray(lg)
    trajs = range(src.n_trajectories)
    if progress:
        from tqdm.auto import tqdm

        trajs = tqdm(trajs, desc=f"fitting statistics ({split})", unit="traj")
    for i in trajs:
        n_t = src.n_t(i)
        for start in range(0, n_t, FIT_CHUNK_FRAMES):
            x = src.window(i, start, min(FIT_CHUNK_FRAMES, n_t - start), channels)
            data.check_finite(x, channels, f"trajectory {i}, frames {start}..")
            x = data.block_mean(x, downsample, spatial_axes=(1, 2, 3)).astype(np.float64)
            if lgm.any():
                n_floored += (x <= LOG_FLOOR).reshape(-1, len(channels)).sum(axis=0) * lgm
                x[..., lgm] = np.log10(np.maximum(x[..., lgm], LOG_FLOOR))
            moments.update(x)
    if moments.count == 0:
        raise Mim3dError(f"split {split!r} holds no frames to fit statistics on.")
    for c, k in zip(channels, n_floored, strict=True):
        if k:
            log.warning("%s: %d values at or below the log floor %g were clipped", c, k, LOG_FLOOR)
    std = moments.std
    for j, c in enumerate(channels):
        if std[j] == 0:
            log.warning("channel %s is constant over split %r; using std = 1", c, split)
            std[j] = 1.0
    norm = Normalizer(channels, lg, tuple(float(m) for m in moments.mean),
                      tuple(float(s) for s in std))
    log.info("fitted %s on %d values per channel", norm, moments.count)
    return norm


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``mim3d fit-normalizer``."""
    p = subparsers.add_parser(
        "fit-normalizer",
        help="fit per-channel statistics on the training split and save <data>/normalizer.json",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("data", help="data folder in The Well layout (<data>/data/train/*.hdf5)")
    p.add_argument("--fields", nargs="+", default=["density"],
                   help="fields: density pressure temperature velocity (default: density)")
    p.add_argument("--downsample", type=int, default=1, help="block-mean factor (default 1)")
    p.add_argument("--split", default="train", help="split to fit on (default: train)")
    p.add_argument("--out", default=None, help="output file (default: <data>/normalizer.json)")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from mim3d.data import channels_for

    norm = fit(args.data, channels_for(args.fields), split=args.split,
               downsample=args.downsample, progress=True)
    out = norm.save(args.out or stats_path(args.data))
    print(f"wrote {out}")
    for c, lg, m, s in zip(norm.channels, norm.log, norm.mean, norm.std, strict=True):
        print(f"  {c:12s} {'log10' if lg else 'linear':6s} mean {m:+.4g}  std {s:.4g}")
    return 0
