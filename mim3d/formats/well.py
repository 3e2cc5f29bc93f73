"""The Well's HDF5 layout: mim3d's native file format, written and read lazily.

The Well (Ohana et al. 2024, NeurIPS Datasets & Benchmarks) publishes the 3D-MIM authors'
supernova runs (Hirashima et al. 2023) as ``supernova_explosion_64`` / ``_128``:
``<dataset>/data/{train,valid,test}/*.hdf5``, each file holding several trajectories of one
parameter set. The schema (root attributes, ``dimensions/``, ``boundary_conditions/``,
``scalars/``, ``t0_fields/``, ``t1_fields/``, ``t2_fields/``) is described in
``shared/formats/THE_WELL.md``; files written here load with ``the_well.data.WellDataset``.

What mim3d adds (root attributes, all prefixed ``mim3d_``; The Well ignores them):

- ``mim3d_units``: the units of the stored arrays (mim3d's own, see :mod:`mim3d.trajectory`:
  density n_H cm^-3, pressure P/k_B K cm^-3, temperature K, velocity km/s, time Myr, x/y/z pc).
- ``mim3d_box_pc``: the box edge in pc. Files without it (The Well's own) are read as 60 pc.
- ``mim3d_param_names`` and one ``mim3d_param_<name>`` per entry of ``Trajectory.params``; a
  parameter that differs between the trajectories of a file (e.g. ``seed``) is listed in
  ``mim3d_varying_params`` and stored as an array with one value per trajectory. Values other
  than str/int/float/bool (None, tuples of numbers) are stored as JSON text and listed in
  ``mim3d_json_params``; JSON arrays come back as tuples.

The four constant parameters of The Well's SN sets are written from ``Trajectory.params``:

- ``rho0``: initial hydrogen number density, cm^-3 (params ``rho0``, else ``n_H``, else 44.5);
- ``T0``: initial temperature, K (params ``T0``, else 100);
- ``Z``: metallicity in solar units (params ``Z``, else 1.0);
- ``Msun``: mass resolution in solar masses. The Well's value is the SPH particle mass; a grid
  run has no particles, so mim3d writes the mean initial gas mass of one cell,
  ``rho0 · m_H / X · dx³`` with X = 0.76 (params ``Msun`` overrides it).

Real Well files are read as stored: their arrays are in the authors' code units, which the
reader notes in ``Trajectory.params['units']``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from mim3d.errors import Mim3dError, expect
from mim3d.io import atomic_path
from mim3d.trajectory import SCALAR_FIELDS, UNITS, VECTOR_FIELDS, Trajectory

log = logging.getLogger(__name__)

DATASET_NAME = "supernova_explosion"
CONSTANT_PARAMETERS = ("Msun", "rho0", "Z", "T0")
DEFAULT_BOX_PC = 60.0
MIM3D_UNITS = (
    "mim3d units: density n_H [cm^-3]; pressure P/k_B [K cm^-3]; temperature [K]; "
    "velocity [km/s]; time [Myr]; x, y, z cell centres [pc]"
)
FOREIGN_UNITS = (
    "as stored in the file, which names no units (The Well's supernova sets use the "
    "3D-MIM authors' code units; time in Myr, box 60 pc)"
)
HDF5_SUFFIXES = (".hdf5", ".h5")
_M_H_G = 1.6735575e-24  # hydrogen atom mass, g
_MSUN_G = 1.98847e33
_PC_CM = 3.0856775814913673e18
_X_H = 0.76  # hydrogen mass fraction


# ----------------------------------------------------------------------------- writing


def _python_value(value, key: str):
    """A parameter value as a plain str/int/float/bool, or an error naming ``key``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (str, np.str_)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode()
    raise Mim3dError(
        f"Trajectory.params[{key!r}] is {type(value).__name__} {value!r}; a Well file stores "
        "str, int, float, bool, None and tuples of those. Convert it before writing."
    )


def _check_same(trajectories: Sequence[Trajectory]) -> None:
    first = trajectories[0]
    expect(bool(first.fields), "the trajectory has no fields; expected some of "
           f"{SCALAR_FIELDS + VECTOR_FIELDS}")
    unknown = set(first.fields) - set(SCALAR_FIELDS + VECTOR_FIELDS)
    expect(not unknown, f"unknown field names {sorted(unknown)}; a Well file takes "
           f"{list(SCALAR_FIELDS + VECTOR_FIELDS)}")
    for k, traj in enumerate(trajectories):
        where = f"trajectory {k}"
        expect(set(traj.fields) == set(first.fields),
               f"{where} has fields {sorted(traj.fields)}, trajectory 0 has "
               f"{sorted(first.fields)}; one Well file needs the same fields in every trajectory")
        expect(traj.grid == first.grid, f"{where} has grid {traj.grid}, trajectory 0 has "
               f"{first.grid}; write different grids to different files")
        expect(traj.n_t == first.n_t and np.allclose(traj.times, first.times, rtol=1e-9, atol=0),
               f"{where} has {traj.n_t} snapshot times differing from trajectory 0's "
               f"{first.n_t}; one Well file shares one time axis")
        expect(traj.box_pc == first.box_pc, f"{where} has box {traj.box_pc} pc, trajectory 0 "
               f"has {first.box_pc} pc; write them to different files")
        expect(set(traj.params) == set(first.params),
               f"{where} has parameters {sorted(traj.params)}, trajectory 0 has "
               f"{sorted(first.params)}; one Well file holds one parameter set")
        for name, arr in traj.fields.items():
            want = (traj.n_t, *first.grid) + ((3,) if name in VECTOR_FIELDS else ())
            expect(arr.shape == want, f"{where} field {name!r} has shape {arr.shape}, "
                   f"expected {want} (n_t, nx, ny, nz{', 3' if name in VECTOR_FIELDS else ''})")


def _constant_parameters(traj: Trajectory) -> dict[str, float]:
    p = traj.params
    rho0 = float(p.get("rho0", p.get("n_H", 44.5)))
    dx_cm = traj.cell_pc * _PC_CM
    msun = float(p.get("Msun", rho0 * _M_H_G / _X_H * dx_cm**3 / _MSUN_G))
    return {"Msun": msun, "rho0": rho0, "Z": float(p.get("Z", 1.0)),
            "T0": float(p.get("T0", 100.0))}


def _boundary_type(params: dict) -> str:
    boundary = str(params.get("boundary", "")).lower()
    return "PERIODIC" if boundary == "periodic" or params.get("periodic") is True else "OPEN"


def _storable(value, key: str):
    """``value`` as str/int/float/bool, or (for None, tuples, lists) as JSON text."""
    if value is None or isinstance(value, (tuple, list, dict)):
        try:
            return json.dumps(value, default=_json_number)
        except TypeError as err:
            raise Mim3dError(f"Trajectory.params[{key!r}] = {value!r} cannot be stored: {err}; "
                             "use str, int, float, bool, None or a tuple of those") from err
    return _python_value(value, key)


def _json_number(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _from_json(value):
    value = json.loads(value)
    return tuple(value) if isinstance(value, list) else value


def _write_params(f: h5py.File, trajectories: Sequence[Trajectory]) -> None:
    names = list(trajectories[0].params)
    varying, as_json = [], []
    for name in names:
        if any(t.params[name] is None or isinstance(t.params[name], (tuple, list, dict))
               for t in trajectories):
            as_json.append(name)
        values = [_storable(t.params[name], name) for t in trajectories]
        kinds = {type(v) for v in values}
        expect(len(kinds) == 1, f"parameter {name!r} has mixed types {sorted(k.__name__ for k in kinds)} "
               "across trajectories; use one type")
        if all(v == values[0] for v in values):
            f.attrs[f"mim3d_param_{name}"] = values[0]
        else:
            varying.append(name)
            if isinstance(values[0], str):
                f.attrs.create(f"mim3d_param_{name}", values, dtype=h5py.string_dtype())
            else:
                f.attrs[f"mim3d_param_{name}"] = np.asarray(values)
    f.attrs["mim3d_param_names"] = names
    f.attrs["mim3d_varying_params"] = varying
    f.attrs["mim3d_json_params"] = as_json


def write_well(
    path: str | Path, trajectories: Sequence[Trajectory], split: str | None = None
) -> Path:
    """Write trajectories of one parameter set, grid and time axis to one Well HDF5 file.

    Args:
        path: the ``.hdf5`` file. With ``split``, the file goes to
            ``<path's folder>/data/<split>/<path's name>`` (The Well's folder layout).
        trajectories: fields ``(n_t, nx, ny, nz)`` / ``(n_t, nx, ny, nz, 3)``, all with the same
            fields, grid, times, box and parameter names.
        split: e.g. ``"train"``, ``"valid"``, ``"test"``; None writes to ``path`` itself.

    Returns:
        The path written. The file appears atomically (temporary name, then rename).
    """
    path = Path(path)
    if split is not None:
        path = path.parent / "data" / split / path.name
    trajectories = list(trajectories)
    expect(len(trajectories) > 0, f"write_well({path}) got no trajectories; pass at least one")
    _check_same(trajectories)
    first = trajectories[0]
    n_traj, n_t, grid = len(trajectories), first.n_t, first.grid
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            constants = _constant_parameters(first)
            f.attrs["dataset_name"] = DATASET_NAME
            f.attrs["grid_type"] = "cartesian"
            f.attrs["n_spatial_dims"] = 3
            f.attrs["n_trajectories"] = n_traj
            f.attrs["simulation_parameters"] = list(CONSTANT_PARAMETERS)
            for name, value in constants.items():
                f.attrs[name] = value
            f.attrs["mim3d_units"] = MIM3D_UNITS
            f.attrs["mim3d_box_pc"] = float(first.box_pc)
            _write_params(f, trajectories)

            dims = f.create_group("dimensions")
            dims.attrs["spatial_dims"] = ["x", "y", "z"]
            dims.create_dataset("time", data=np.asarray(first.times, dtype=np.float64))
            dims["time"].attrs["sample_varying"] = False
            dx = first.cell_pc
            for axis, n in zip("xyz", grid, strict=True):
                dims.create_dataset(axis, data=(np.arange(n) + 0.5) * dx)
                dims[axis].attrs["sample_varying"] = False

            bc_type = _boundary_type(first.params)
            bcs = f.create_group("boundary_conditions")
            for axis, n in zip("xyz", grid, strict=True):
                g = bcs.create_group(f"{axis}_{bc_type.lower()}")
                g.attrs["associated_dims"] = [axis]
                g.attrs["associated_fields"] = []
                g.attrs["bc_type"] = bc_type
                g.attrs["sample_varying"] = False
                g.attrs["time_varying"] = False
                mask = np.zeros(n, dtype=bool)
                mask[[0, -1]] = True
                g.create_dataset("mask", data=mask)

            scalars = f.create_group("scalars")
            scalars.attrs["field_names"] = list(CONSTANT_PARAMETERS)
            for name, value in constants.items():
                scalars.create_dataset(name, data=np.float64(value))
                scalars[name].attrs["time_varying"] = False
                scalars[name].attrs["sample_varying"] = False

            for group_name, names, extra in (
                ("t0_fields", [n for n in SCALAR_FIELDS if n in first.fields], ()),
                ("t1_fields", [n for n in VECTOR_FIELDS if n in first.fields], (3,)),
                ("t2_fields", [], ()),
            ):
                group = f.create_group(group_name)
                group.attrs["field_names"] = names
                for name in names:
                    shape = (n_traj, n_t, *grid, *extra)
                    dset = group.create_dataset(
                        name, shape=shape, dtype=np.float32, chunks=(1, 1, *grid, *extra)
                    )
                    for k, traj in enumerate(trajectories):
                        dset[k] = np.asarray(traj.fields[name], dtype=np.float32)
                    dset.attrs["dim_varying"] = [True, True, True]
                    dset.attrs["sample_varying"] = True
                    dset.attrs["time_varying"] = True
                    dset.attrs["units"] = UNITS[name]
    log.info("wrote %d trajectories %s x %d frames to %s", n_traj, grid, n_t, path)
    return path


# ----------------------------------------------------------------------------- reading


def _names(attr) -> list[str]:
    """A Well ``field_names``-style attribute as a list of str."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(attr)
            if not (isinstance(v, float))]


def _attr_value(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (np.generic, str, bool, int, float)):
        return _python_value(value, "?")
    return value


@dataclass(frozen=True)
class _FileInfo:
    """What :class:`WellStore` knows about one file after indexing it."""

    path: Path
    n_trajectories: int
    n_t: int
    grid: tuple[int, int, int]
    t0: tuple[str, ...]
    t1: tuple[str, ...]
    box_pc: float
    mim3d: bool


def _corrupt(path: Path, err: Exception) -> Mim3dError:
    return Mim3dError(
        f"cannot read {path}: {err}. The file is corrupt or truncated (an interrupted copy or "
        "write?); copy or regenerate it, or move it out of the folder."
    )


def _index_file(path: Path) -> _FileInfo:
    try:
        with h5py.File(path, "r") as f:
            for group in ("dimensions", "t0_fields", "t1_fields"):
                expect(group in f, f"{path} has no group {group!r}: not a file in The Well's "
                       f"layout (groups found: {sorted(f.keys())})")
            ndims = int(f.attrs.get("n_spatial_dims", 3))
            expect(ndims == 3, f"{path} holds {ndims}-D data; mim3d reads 3-D fields only")
            t0, t1 = _names(f["t0_fields"].attrs.get("field_names", [])), _names(
                f["t1_fields"].attrs.get("field_names", []))
            expect(bool(t0 or t1), f"{path} lists no fields in t0_fields or t1_fields; expected "
                   "density, pressure, temperature and velocity")
            n_traj, n_t, grid = None, None, None
            for group, names, rank in (("t0_fields", t0, 5), ("t1_fields", t1, 6)):
                for name in names:
                    expect(name in f[group], f"{path}: {group} lists field {name!r} but has no "
                           f"such dataset (datasets: {sorted(f[group].keys())})")
                    shape = f[group][name].shape
                    want = ("(n_trajectories, n_t, nx, ny, nz" + (", 3)" if rank == 6 else ")"))
                    expect(len(shape) == rank and (rank == 5 or shape[-1] == 3),
                           f"{path}: {group}/{name} has shape {shape}, expected rank {rank} {want}")
                    n_traj = shape[0] if n_traj is None else n_traj
                    n_t = shape[1] if n_t is None else n_t
                    grid = tuple(int(n) for n in shape[2:5]) if grid is None else grid
                    expect(shape[:2] == (n_traj, n_t) and tuple(shape[2:5]) == grid,
                           f"{path}: {group}/{name} has shape {shape}, other fields have "
                           f"({n_traj}, {n_t}, {grid}); the file is inconsistent")
            n_attr = int(f.attrs.get("n_trajectories", n_traj))
            expect(n_attr == n_traj, f"{path}: attribute n_trajectories = {n_attr} but the "
                   f"field arrays hold {n_traj} trajectories")
            time = f["dimensions"].get("time")
            expect(time is not None and time.shape[-1] == n_t,
                   f"{path}: dimensions/time has shape {None if time is None else time.shape}, "
                   f"expected {n_t} times to match the fields")
            mim3d = "mim3d_box_pc" in f.attrs
            box = float(f.attrs["mim3d_box_pc"]) if mim3d else DEFAULT_BOX_PC
    except OSError as err:
        raise _corrupt(path, err) from err
    return _FileInfo(path, int(n_traj), int(n_t), grid, tuple(t0), tuple(t1), box, mim3d)


def _find_files(source: Path, split: str | None) -> list[Path]:
    expect(source.exists(), f"{source} does not exist; pass a Well dataset folder, a folder of "
           ".hdf5 files or one .hdf5 file")
    if source.is_file():
        expect(split is None, f"split={split!r} was given but {source} is one file; drop split")
        return [source]
    if split is not None:
        for folder in (source / "data" / split, source / split):
            if folder.is_dir():
                source = folder
                break
        else:
            found = sorted(p.name for p in (source / "data").glob("*") if p.is_dir()) if (
                source / "data").is_dir() else []
            raise Mim3dError(f"{source} has no split {split!r} (looked for data/{split}/ and "
                             f"{split}/); splits found: {found or 'none'}")
    files = sorted(p for p in source.iterdir() if p.suffix in HDF5_SUFFIXES and p.is_file())
    if not files and split is None and (source / "data").is_dir():
        found = sorted(p.name for p in (source / "data").iterdir() if p.is_dir())
        raise Mim3dError(f"{source} is a Well dataset folder with splits {found}; pass "
                         f"split=..., e.g. split={found[0]!r}" if found else
                         f"{source}/data holds no split folders")
    expect(bool(files), f"{source} holds no .hdf5 files; expected The Well's "
           "<dataset>/data/<split>/*.hdf5 or a folder of .hdf5 files")
    return files


class WellStore:
    """Lazy index of the trajectories in Well HDF5 files; reads only what is asked.

    Args:
        source: a Well dataset folder (with ``split``), a folder of ``.hdf5`` files, or a file.
        split: ``"train"``, ``"valid"``, ``"test"`` or another folder under ``source/data``.

    Trajectories are numbered ``0 .. n_trajectories-1`` over the files in name order.
    """

    def __init__(self, source: str | Path, split: str | None = None):
        self.source = Path(source)
        self.files = [_index_file(p) for p in _find_files(self.source, split)]
        self._entries = [(info, j) for info in self.files for j in range(info.n_trajectories)]
        grids = {info.grid for info in self.files}
        if len(grids) > 1:
            listing = "; ".join(f"{info.path.name}: {info.grid}" for info in self.files)
            raise Mim3dError(f"{self.source} mixes grids ({listing}); keep one resolution per "
                             "folder (e.g. supernova_explosion_64 and _128 apart)")
        fields = {(info.t0, info.t1) for info in self.files}
        if len(fields) > 1:
            listing = "; ".join(f"{info.path.name}: {list(info.t0 + info.t1)}" for info in self.files)
            raise Mim3dError(f"{self.source} mixes field sets ({listing}); keep one set per folder")
        self._times: dict[Path, np.ndarray] = {}
        log.info("indexed %d trajectories in %d files under %s",
                 len(self._entries), len(self.files), self.source)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return (f"WellStore({str(self.source)!r}: {self.n_trajectories} trajectories, "
                f"grid {self.grid}, channels {list(self.channels)})")

    @property
    def n_trajectories(self) -> int:
        return len(self._entries)

    @property
    def grid(self) -> tuple[int, int, int]:
        return self.files[0].grid

    @property
    def fields(self) -> tuple[str, ...]:
        """Field names as in ``Trajectory.fields``: scalars first, then vectors."""
        return self.files[0].t0 + self.files[0].t1

    @property
    def channels(self) -> tuple[str, ...]:
        """Channels in The Well's order: scalar fields, then ``<vector>_x/_y/_z``."""
        info = self.files[0]
        return info.t0 + tuple(f"{v}_{c}" for v in info.t1 for c in "xyz")

    @property
    def box_pc(self) -> float:
        boxes = {info.box_pc for info in self.files}
        expect(len(boxes) == 1, f"{self.source} mixes box sizes {sorted(boxes)} pc")
        return boxes.pop()

    def _entry(self, i: int) -> tuple[_FileInfo, int]:
        n = len(self._entries)
        if not -n <= i < n:
            raise Mim3dError(f"trajectory {i} asked for, but {self.source} holds {n} "
                             f"(valid: 0 .. {n - 1})")
        return self._entries[i]

    def source_of(self, i: int) -> tuple[Path, int]:
        """The file holding trajectory ``i`` and its index in that file."""
        info, j = self._entry(i)
        return info.path, j

    def n_t(self, i: int) -> int:
        return self._entry(i)[0].n_t

    def times(self, i: int) -> np.ndarray:
        """Snapshot times of trajectory ``i``: ``(n_t,)`` (Myr for mim3d files)."""
        info, j = self._entry(i)
        if info.path not in self._times:
            with self._open(info) as f:
                self._times[info.path] = f["dimensions"]["time"][...]
        times = self._times[info.path]
        return np.array(times[j] if times.ndim == 2 else times, dtype=np.float64)

    def params(self, i: int) -> dict:
        """``Trajectory.params`` of trajectory ``i`` (reads attributes only)."""
        info, j = self._entry(i)
        with self._open(info) as f:
            return self._params(f, info, j)

    def _open(self, info: _FileInfo) -> h5py.File:
        try:
            return h5py.File(info.path, "r")
        except OSError as err:
            raise _corrupt(info.path, err) from err

    @staticmethod
    def _params(f: h5py.File, info: _FileInfo, j: int) -> dict:
        attrs = f.attrs
        if "mim3d_param_names" in attrs:
            varying = set(_names(attrs.get("mim3d_varying_params", [])))
            as_json = set(_names(attrs.get("mim3d_json_params", [])))
            params = {}
            for name in _names(attrs["mim3d_param_names"]):
                value = attrs[f"mim3d_param_{name}"]
                value = _attr_value(value[j] if name in varying else value)
                params[name] = _from_json(value) if name in as_json else value
            return params
        params = {name: _attr_value(attrs[name])
                  for name in _names(attrs.get("simulation_parameters", [])) if name in attrs}
        params["units"] = str(attrs["units"]) if "units" in attrs else FOREIGN_UNITS
        params["well_file"] = info.path.name
        params["well_index"] = j
        return params

    def _check_finite(self, data: np.ndarray, info: _FileInfo, j: int, what: str,
                      start: int) -> None:
        bad = ~np.isfinite(data)
        if bad.any():
            frame = start + int(np.argwhere(bad)[0][0])
            raise Mim3dError(
                f"{info.path}: trajectory {j} {what} has {int(bad.sum())} NaN/inf values "
                f"(first in frame {frame}); the file is damaged or the run blew up: exclude it")

    def trajectory(self, i: int, fields: Sequence[str] | None = None) -> Trajectory:
        """Read trajectory ``i`` whole (only the named ``fields``, default all)."""
        info, j = self._entry(i)
        valid = info.t0 + info.t1
        fields = tuple(valid if fields is None else fields)
        unknown = [name for name in fields if name not in valid]
        expect(not unknown, f"unknown fields {unknown} for {info.path}; valid: {list(valid)}")
        out = {}
        with self._open(info) as f:
            try:
                for name in fields:
                    group = "t0_fields" if name in info.t0 else "t1_fields"
                    out[name] = np.asarray(f[group][name][j], dtype=np.float32)
                    self._check_finite(out[name], info, j, name, 0)
                params = self._params(f, info, j)
            except OSError as err:
                raise _corrupt(info.path, err) from err
        return Trajectory(fields=out, times=self.times(i), box_pc=info.box_pc, params=params)

    def window(self, i: int, start: int, length: int,
               channels: Sequence[str] = ("density",)) -> np.ndarray:
        """Frames ``start .. start+length-1`` of trajectory ``i``: ``(length, nx, ny, nz, C)``.

        Reads only that slice from disk. ``channels`` are The Well's names (``density``,
        ``velocity_x``, ...); see :attr:`channels`.
        """
        info, j = self._entry(i)
        valid = self.channels
        unknown = [c for c in channels if c not in valid]
        expect(not unknown, f"unknown channels {unknown} for {info.path}; valid: {list(valid)}")
        expect(len(channels) > 0, "window() needs at least one channel")
        expect(start >= 0 and length >= 1,
               f"window needs start >= 0 and length >= 1, got start={start}, length={length}")
        expect(start + length <= info.n_t,
               f"{info.path}: trajectory {j} has {info.n_t} frames, fewer than frames "
               f"{start}..{start + length - 1} asked for; ask for a shorter window")
        out = np.empty((length, *info.grid, len(channels)), dtype=np.float32)
        frames = slice(start, start + length)
        with self._open(info) as f:
            try:
                for c, name in enumerate(channels):
                    if name in info.t0:
                        out[..., c] = f["t0_fields"][name][j, frames]
                    else:
                        vector, comp = name.rsplit("_", 1)
                        out[..., c] = f["t1_fields"][vector][j, frames, ..., "xyz".index(comp)]
                    self._check_finite(out[..., c], info, j, name, start)
            except OSError as err:
                raise _corrupt(info.path, err) from err
        return out


def read_well(path: str | Path, split: str | None = None) -> list[Trajectory]:
    """Every trajectory under ``path`` in memory. For small files only; use :class:`WellStore`."""
    store = WellStore(path, split=split)
    return [store.trajectory(i) for i in range(store.n_trajectories)]
