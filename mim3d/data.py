"""The input pipeline: windows of ``total_length`` frames from supernova runs, as tf.data batches.

A training example is one window of ``T = total_length`` consecutive snapshots of one trajectory,
channels last: ``(T, W, H, D, C)`` float32, scaled by :class:`mim3d.normalize.Normalizer`. The
model (3D-MIM, Hirashima et al. 2023, MNRAS 526, 4054) reads the first ``input_length`` frames
as context and predicts the rest. Windows never cross trajectories.

Sources (one small internal interface, :func:`open_source`):

- a data folder in The Well's layout (``<path>/data/<split>/*.hdf5``), a folder of ``.hdf5``
  files or one file, read lazily window by window through :class:`mim3d.formats.well.WellStore`;
- a list of :class:`mim3d.trajectory.Trajectory` (tests, notebooks), or a dict ``split -> list``;
- an array file ``.npy`` / ``.npz`` of shape ``(N, T, W, H, D, C)`` already in model space (an
  ``.npz`` may hold one array per split under the split's name, and optionally ``channels``).

Order and resuming: each epoch visits the windows in ``epoch_order(n, seed, epoch)``, a seeded
permutation, so a run stopped after ``position`` batches of epoch ``epoch`` continues with
exactly the same batches via ``make_dataset(..., start_epoch=epoch, start_position=position)``.
Batches never span two epochs. Sharding (``num_shards``/``shard_index``, e.g. from a
``tf.distribute.InputContext``) deals each epoch's order round-robin to the shards.

Downsampling is a block mean in physical space, before the log transform: a coarse cell holds
the volume average of density, pressure, temperature and velocity of its fine cells, as a
coarser simulation grid would (the log of a mean, not the mean of logs).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mim3d.errors import Mim3dError
from mim3d.normalize import Normalizer, fit, stats_path
from mim3d.trajectory import CHANNELS, Trajectory

log = logging.getLogger(__name__)

FIELDS = ("density", "pressure", "temperature", "velocity")
"""Field names accepted in :attr:`DataConfig.fields` (channel names are accepted too)."""

ARRAY_SUFFIXES = (".npy", ".npz")


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------
def channels_for(fields: Sequence[str]) -> tuple[str, ...]:
    """Field names -> channel names in The Well's order; ``velocity`` becomes three channels.

    >>> channels_for(["velocity", "density"])
    ('density', 'velocity_x', 'velocity_y', 'velocity_z')
    """
    if isinstance(fields, str):
        fields = (fields,)
    wanted: set[str] = set()
    for f in fields:
        if f == "velocity":
            wanted.update(("velocity_x", "velocity_y", "velocity_z"))
        elif f in CHANNELS:
            wanted.add(f)
        else:
            raise Mim3dError(
                f"unknown field {f!r}; valid fields are {', '.join(FIELDS)} "
                f"(or single channels {', '.join(CHANNELS)})."
            )
    if not wanted:
        raise Mim3dError(f"no fields given; choose from {', '.join(FIELDS)}.")
    return tuple(c for c in CHANNELS if c in wanted)


@dataclass(frozen=True)
class DataConfig:
    """What to read and how to cut it into batches.

    Attributes:
        path: the data: a folder in The Well's layout (``<path>/data/{train,valid,test}/*.hdf5``),
            a folder of ``.hdf5`` files or one ``.hdf5`` file; an array file ``.npy``/``.npz``
            ``(N, T, W, H, D, C)`` in model space; a ``WellStore`` (one split); a list of
            ``Trajectory`` (used for every split); or a dict ``split -> list of Trajectory``.
        fields: any of ``density, pressure, temperature, velocity`` (``velocity`` gives the three
            channels ``velocity_x/y/z``); channels are ordered as in The Well whatever the order
            given here. Default: density alone, the seed field.
        total_length: frames per window ``T`` (context + predicted frames).
        stride: frames between the starts of consecutive windows of one trajectory.
        downsample: integer block-mean factor per axis (2: 64³ -> 32³); it must divide the grid.
        batch_size: windows per batch (per replica/shard when sharded).
        shuffle_buffer: 0 shuffles all windows with one permutation per epoch; a positive value
            shuffles blocks of that many consecutive windows, then within each block, which
            keeps reads local on large HDF5 sets (both are deterministic from ``seed``).
        seed: seed of the per-epoch window permutation.
        normalize: scale with the training-split statistics (``<path>/normalizer.json`` for
            folders; fitted on the ``train`` entry for in-memory sources). Array files are
            already in model space and are scaled only when a normalizer is passed explicitly.
    """

    path: Any
    fields: tuple[str, ...] = ("density",)
    total_length: int = 20
    stride: int = 1
    downsample: int = 1
    batch_size: int = 4
    shuffle_buffer: int = 0
    seed: int = 0
    normalize: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.fields, str):
            object.__setattr__(self, "fields", (self.fields,))
        object.__setattr__(self, "fields", tuple(self.fields))
        channels_for(self.fields)  # validates the names
        for name, low in (("total_length", 1), ("stride", 1), ("downsample", 1),
                          ("batch_size", 1), ("shuffle_buffer", 0)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < low:
                raise Mim3dError(f"DataConfig.{name} must be an integer >= {low}, got {value!r}.")

    @property
    def channels(self) -> tuple[str, ...]:
        """The channel names on the last axis, e.g. ``("density",)``."""
        return channels_for(self.fields)


# ---------------------------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------------------------
class Source:
    """The internal interface every data source offers (all reads are one window at a time).

    Attributes:
        n_trajectories: number of trajectories.
        grid: ``(nx, ny, nz)`` of every trajectory.
        channels: channel names available, or ``None`` when unknown (an array file without names).
        model_space: True when the data are already scaled (array files).
        stats: where the normalisation statistics of this data live, or ``None`` (in memory).
    """

    n_trajectories: int
    grid: tuple[int, int, int]
    channels: tuple[str, ...] | None
    model_space: bool = False
    stats: Path | None = None

    def n_t(self, i: int) -> int:
        """Frames in trajectory ``i``."""
        raise NotImplementedError

    def window(self, i: int, start: int, length: int, channels: Sequence[str]) -> np.ndarray:
        """Frames ``start:start+length`` of trajectory ``i``: ``(length, nx, ny, nz, C)`` float32."""
        raise NotImplementedError


class _TrajectorySource(Source):
    def __init__(self, trajectories: Sequence[Trajectory]):
        self.trajectories = list(trajectories)
        self.n_trajectories = len(self.trajectories)
        grids = {t.grid for t in self.trajectories}
        if len(grids) > 1:
            raise Mim3dError(f"trajectories have different grids {sorted(grids)}; use one grid.")
        self.grid = grids.pop() if grids else (0, 0, 0)
        avail = [set(_traj_channels(t)) for t in self.trajectories]
        common = set.intersection(*avail) if avail else set()
        self.channels = tuple(c for c in CHANNELS if c in common)

    def n_t(self, i: int) -> int:
        return self.trajectories[i].n_t

    def window(self, i, start, length, channels):
        t = self.trajectories[i]
        return np.stack([t.channel(c)[start:start + length] for c in channels], axis=-1).astype(
            np.float32, copy=False)


def _traj_channels(t: Trajectory) -> list[str]:
    out = [c for c in t.fields if c != "velocity"]
    if "velocity" in t.fields:
        out += ["velocity_x", "velocity_y", "velocity_z"]
    return out


class _StoreSource(Source):
    """A ``WellStore`` (or anything with its methods), read lazily one window at a time."""

    def __init__(self, store: Any, stats: Path | None = None):
        self.store = store
        self.n_trajectories = int(store.n_trajectories)
        self.grid = tuple(int(n) for n in store.grid)
        self.channels = tuple(store.channels)
        self.stats = stats

    def n_t(self, i: int) -> int:
        return int(self.store.n_t(i))

    def window(self, i, start, length, channels):
        return np.asarray(self.store.window(i, start, length, channels=tuple(channels)),
                          dtype=np.float32)


class _ArraySource(Source):
    """``(N, T, W, H, D, C)`` in model space; each of the N rows is one trajectory."""

    model_space = True

    def __init__(self, array: np.ndarray, channels: tuple[str, ...] | None, where: str):
        if array.ndim != 6:
            raise Mim3dError(
                f"{where}: expected an array (N, T, W, H, D, C) with 6 axes, got shape "
                f"{array.shape}.")
        self.array = array
        self.n_trajectories = int(array.shape[0])
        self.grid = tuple(int(n) for n in array.shape[2:5])
        self.channels = channels
        self.where = where
        if channels is not None and len(channels) != array.shape[-1]:
            raise Mim3dError(f"{where}: {len(channels)} channel names {channels} but the array "
                             f"has {array.shape[-1]} channels.")

    def n_t(self, i: int) -> int:
        return int(self.array.shape[1])

    def window(self, i, start, length, channels):
        channels = tuple(channels)
        if self.channels is None:
            if len(channels) != self.array.shape[-1]:
                raise Mim3dError(
                    f"{self.where} has {self.array.shape[-1]} channels (no names stored) but "
                    f"{len(channels)} were asked for {channels}; set `fields` to match the file.")
            idx = slice(None)
        else:
            idx = [self.channels.index(c) for c in channels]
        return np.asarray(self.array[i, start:start + length][..., idx], dtype=np.float32)


def _open_array(path: Path, split: str) -> Source:
    if not path.is_file():
        raise Mim3dError(f"array file {path} does not exist.")
    if path.suffix == ".npy":
        return _ArraySource(np.load(path, mmap_mode="r"), None, str(path))
    npz = np.load(path)
    names = tuple(str(c) for c in npz["channels"]) if "channels" in npz.files else None
    arrays = [k for k in npz.files if k != "channels"]
    if split in arrays:
        key = split
    elif len(arrays) == 1:
        key = arrays[0]
    else:
        raise Mim3dError(f"{path} holds arrays {arrays} but none named {split!r}; store one "
                         f"array per split under its name (train, valid, test) or a single one.")
    return _ArraySource(npz[key], names, f"{path}[{key}]")


def open_source(source: Any, split: str = "train") -> Source:
    """Wrap any supported data (see :class:`DataConfig`.path) for ``split`` as a :class:`Source`.

    Raises :class:`Mim3dError` for an empty split or a split the source does not have.
    """
    if isinstance(source, Source):
        src = source
    elif isinstance(source, Mapping):
        if split not in source:
            raise Mim3dError(f"no split {split!r} in the given data; it has {sorted(source)}.")
        return open_source(source[split], split)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.suffix in ARRAY_SUFFIXES:
            src = _open_array(path, split)
        else:
            from mim3d.formats.well import WellStore

            if not path.exists():
                raise Mim3dError(f"data path {path} does not exist.")
            # one .hdf5 file holds one split already; folders are split into data/<split>/
            store = WellStore(path, split=None if path.is_file() else split)
            src = _StoreSource(store, stats=stats_path(path))
    elif hasattr(source, "window") and hasattr(source, "n_t"):
        root = getattr(source, "source", None)  # a WellStore remembers its dataset folder
        src = _StoreSource(source, stats_path(root) if isinstance(root, os.PathLike) else None)
    elif isinstance(source, Sequence) and all(isinstance(t, Trajectory) for t in source):
        src = _TrajectorySource(source)
    else:
        raise Mim3dError(
            f"cannot read data from a {type(source).__name__}; give a folder, an .hdf5/.npy/.npz "
            f"file, a WellStore, a list of Trajectory or a dict split -> list.")
    if src.n_trajectories == 0:
        raise Mim3dError(f"split {split!r} of {_describe(source)} holds no trajectories; check "
                         f"the path and that <data>/data/{split}/ contains .hdf5 files.")
    return src


def model_grid(config: DataConfig, split: str = "train") -> tuple[int, ...]:
    """The grid a model trained on this data sees: the source's grid after ``downsample``."""
    return tuple(n // config.downsample for n in open_source(config.path, split).grid)


def _describe(source: Any) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__


def check_channels_available(src: Source, channels: Sequence[str]) -> None:
    """Raise a :class:`Mim3dError` if ``src`` lacks any of ``channels``."""
    if src.channels is None:
        return
    missing = [c for c in channels if c not in src.channels]
    if missing:
        raise Mim3dError(f"the data have channels {src.channels} but {missing} were asked for; "
                         f"choose `fields` among the available ones.")


def check_finite(x: np.ndarray, channels: Sequence[str], where: str) -> None:
    """Raise a :class:`Mim3dError` naming the channel if ``x (..., C)`` holds NaN or inf."""
    if np.isfinite(x).all():
        return
    bad = [c for j, c in enumerate(channels) if not np.isfinite(x[..., j]).all()]
    raise Mim3dError(f"non-finite values (NaN/inf) in channel(s) {bad} at {where}; fix or drop "
                     f"that trajectory before training.")


# ---------------------------------------------------------------------------------------------
# windows, order, downsampling
# ---------------------------------------------------------------------------------------------
def window_index(source: Any, total_length: int, stride: int = 1,
                 split: str = "train") -> list[tuple[int, int]]:
    """All ``(trajectory, start)`` windows of ``total_length`` frames, trajectory by trajectory.

    Trajectory ``i`` gives ``(n_t(i) - total_length) // stride + 1`` windows; none crosses into
    the next trajectory. A trajectory shorter than ``total_length`` is an error.
    """
    src = open_source(source, split)
    out: list[tuple[int, int]] = []
    for i in range(src.n_trajectories):
        n_t = src.n_t(i)
        if n_t < total_length:
            raise Mim3dError(
                f"trajectory {i} has {n_t} frames but a window needs total_length={total_length}; "
                f"lower total_length or drop that trajectory.")
        out.extend((i, s) for s in range(0, n_t - total_length + 1, stride))
    return out


def epoch_order(n_windows: int, seed: int, epoch: int, block: int = 0) -> np.ndarray:
    """The order in which epoch ``epoch`` visits ``n_windows`` windows: ``(n_windows,)`` int64.

    ``block=0``: one seeded permutation of all windows. ``block>0``: the windows (in trajectory
    order) are cut into blocks of ``block``; block order and the order inside each block are
    permuted. Depends only on ``(n_windows, seed, epoch, block)``.
    """
    rng = np.random.default_rng([int(seed), int(epoch), 0x4D494D])
    if block <= 0 or block >= n_windows:
        return rng.permutation(n_windows).astype(np.int64)
    starts = rng.permutation(np.arange(0, n_windows, block))
    return np.concatenate(
        [s + rng.permutation(min(block, n_windows - s)) for s in starts]).astype(np.int64)


def block_mean(x: np.ndarray, factor: int, spatial_axes: tuple[int, int, int] = (1, 2, 3)
               ) -> np.ndarray:
    """Average non-overlapping ``factor³`` blocks over ``spatial_axes`` (exact, no padding).

    ``(T, nx, ny, nz, C) -> (T, nx/f, ny/f, nz/f, C)`` for the default axes.
    """
    if factor == 1:
        return x
    shape = list(x.shape)
    for a in spatial_axes:
        if shape[a] % factor:
            raise Mim3dError(f"downsample={factor} does not divide the grid "
                             f"{tuple(x.shape[a] for a in spatial_axes)}; pick a divisor.")
    y = np.asarray(x, dtype=np.float64)
    for a in spatial_axes:  # one axis at a time: sum pairs of contiguous blocks (fast)
        shape = list(y.shape)
        y = y.reshape(shape[:a] + [shape[a] // factor, factor] + shape[a + 1:]).sum(axis=a + 1)
    y /= factor ** len(spatial_axes)
    return y.astype(x.dtype, copy=False)


# ---------------------------------------------------------------------------------------------
# normalisation, reading
# ---------------------------------------------------------------------------------------------
def resolve_normalizer(config: DataConfig, normalizer: Normalizer | None = None,
                       source: Source | None = None) -> Normalizer | None:
    """The normalizer ``make_dataset`` applies (the trainer saves it with the model).

    An explicit ``normalizer`` must match ``config.channels``. Otherwise, with
    ``config.normalize``: folders read ``<path>/normalizer.json`` (its matching channels are
    selected); in-memory data are fitted on their ``train`` entry; array files get none.
    ``source``: an already opened :class:`Source` of ``config.path`` (any split), to save a read.
    """
    channels = config.channels
    if normalizer is not None:
        normalizer.check_channels(channels, "the data config")
        return normalizer
    if not config.normalize:
        return None
    src = source if source is not None else open_source(config.path, "train")
    if src.model_space:  # array files: already scaled
        return None
    if src.stats is not None:
        return Normalizer.load(src.stats).select(channels)
    log.info("fitting normalisation statistics in memory on the train split")
    train = config.path["train"] if isinstance(config.path, Mapping) else config.path
    return fit(train, channels, downsample=config.downsample)


class _Reader:
    """Reads one window, downsamples, checks and scales it: ``(T, W, H, D, C)`` float32."""

    def __init__(self, src: Source, config: DataConfig, normalizer: Normalizer | None):
        self.src, self.config, self.normalizer = src, config, normalizer
        self.channels = config.channels
        f = config.downsample
        if any(n % f for n in src.grid):
            raise Mim3dError(f"downsample={f} does not divide the grid {src.grid}; pick a divisor.")
        self.shape = (config.total_length, *(n // f for n in src.grid), len(self.channels))

    def __call__(self, i: int, start: int) -> np.ndarray:
        x = self.src.window(int(i), int(start), self.config.total_length, self.channels)
        check_finite(x, self.channels, f"trajectory {int(i)}, frames {int(start)}.."
                                       f"{int(start) + self.config.total_length - 1}")
        x = block_mean(x, self.config.downsample)
        if self.normalizer is not None:
            x = self.normalizer.forward(x)
        return np.asarray(x, dtype=np.float32)


def _prepare(config: DataConfig, split: str, normalizer: Normalizer | None
             ) -> tuple[_Reader, np.ndarray]:
    src = open_source(config.path, split)
    check_channels_available(src, config.channels)
    norm = resolve_normalizer(config, normalizer, src)
    reader = _Reader(src, config, norm)
    index = np.asarray(window_index(src, config.total_length, config.stride),
                       dtype=np.int64).reshape(-1, 2)
    return reader, index


def _shard_order(order: np.ndarray, num_shards: int, shard_index: int, equal: bool) -> np.ndarray:
    if num_shards > 1 and equal:
        order = order[: (len(order) // num_shards) * num_shards]
    return order[shard_index::num_shards]


def _check_shards(num_shards: int, shard_index: int) -> None:
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise Mim3dError(f"need 0 <= shard_index < num_shards, got shard_index={shard_index}, "
                         f"num_shards={num_shards}.")


def n_windows(config: DataConfig, split: str = "train") -> int:
    """Number of windows in ``split`` (before sharding and batching)."""
    return len(window_index(config.path, config.total_length, config.stride, split))


def steps_per_epoch(config: DataConfig, split: str = "train", num_shards: int = 1) -> int:
    """Full batches per epoch and shard, as :func:`make_dataset` yields them with drop_remainder."""
    return n_windows(config, split) // num_shards // config.batch_size


def make_dataset(
    config: DataConfig,
    split: str = "train",
    *,
    shuffle: bool = True,
    repeat: bool = False,
    normalizer: Normalizer | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    start_epoch: int = 0,
    start_position: int = 0,
    drop_remainder: bool | None = None,
):
    """Batches ``(B, T, W, H, D, C)`` float32 (scaled) of windows of ``split``, read lazily.

    Args:
        config: what to read (see :class:`DataConfig`).
        split: ``train``, ``valid`` or ``test``.
        shuffle: visit windows in :func:`epoch_order` (else in trajectory order every epoch).
        repeat: run epochs ``start_epoch, start_epoch + 1, ...`` forever (else just one epoch).
        normalizer: statistics to apply; default :func:`resolve_normalizer`.
        num_shards, shard_index: this worker's share of every epoch (round-robin, disjoint;
            with ``drop_remainder`` all shards get the same number of batches).
        start_epoch, start_position: resume at batch ``start_position`` of epoch
            ``start_epoch`` (batches never span epochs, so this is exact).
        drop_remainder: drop each epoch's last partial batch; default ``shuffle`` (training).

    Returns:
        a ``tf.data.Dataset`` of float32 tensors ``(B, T, W, H, D, C)``.
    """
    import tensorflow as tf

    _check_shards(num_shards, shard_index)
    drop = shuffle if drop_remainder is None else bool(drop_remainder)
    reader, index = _prepare(config, split, normalizer)
    n, batch = len(index), config.batch_size
    per_shard = len(_shard_order(np.arange(n), num_shards, shard_index, drop))
    steps = per_shard // batch if drop else -(-per_shard // batch)
    if drop and steps == 0:
        raise Mim3dError(f"split {split!r} has {n} windows ({per_shard} for this shard), fewer "
                         f"than one batch of {batch}; lower batch_size or add data.")
    if not 0 <= start_position <= steps:
        raise Mim3dError(f"start_position={start_position} is outside epoch of {steps} batches.")

    def epoch_windows(epoch: int) -> np.ndarray:
        order = (epoch_order(n, config.seed, epoch, config.shuffle_buffer) if shuffle
                 else np.arange(n, dtype=np.int64))
        order = _shard_order(order, num_shards, shard_index, drop)
        return order[: steps * batch] if drop else order

    def generate() -> Iterator[np.ndarray]:
        epoch, skip = start_epoch, start_position * batch
        while True:
            for k in epoch_windows(epoch)[skip:]:
                yield index[k]
            if not repeat:
                return
            epoch, skip = epoch + 1, 0

    def read(ij: np.ndarray) -> np.ndarray:
        return reader(ij[0], ij[1])

    ds = tf.data.Dataset.from_generator(
        generate, output_signature=tf.TensorSpec(shape=(2,), dtype=tf.int64))
    ds = ds.map(
        lambda ij: tf.ensure_shape(tf.numpy_function(read, [ij], tf.float32, stateful=False),
                                   reader.shape),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch, drop_remainder=drop).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    if num_shards > 1:  # already sharded here; keep tf.distribute from sharding again
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.OFF)
    return ds.with_options(options)


def load_arrays(config: DataConfig, split: str = "test", *,
                normalizer: Normalizer | None = None, progress: bool = False) -> np.ndarray:
    """Every window of ``split`` in trajectory order, in memory: ``(N, T, W, H, D, C)`` float32.

    For small sets (evaluation); scaled like :func:`make_dataset`.
    """
    reader, index = _prepare(config, split, normalizer)
    out = np.empty((len(index), *reader.shape), dtype=np.float32)
    rows = range(len(index))
    if progress:
        from tqdm.auto import tqdm

        rows = tqdm(rows, desc=f"loading {split}", unit="window")
    for k in rows:
        out[k] = reader(*index[k])
    return out
