"""The ``.npz`` layout of the original 3D-MIM code (Hirashima et al. 2023, kyaFUK/3D-MIM).

The original data provider (``src/data_provider/sn.py``) loads one ``.npz`` with three arrays:

=================  ==========================  ==============================================
key                shape, dtype                meaning
=================  ==========================  ==============================================
``input_raw_data`` (frames, C, W, H, D) f32    all frames of all sequences, back to back,
                                               channels first
``dims``           (1, 4) int                  ``(C, W, H, D)``, the shape of one frame
``clips``          (2, N, 2) int               for sequence k: ``clips[0, k] = [start, length]``
                                               of its input frames and ``clips[1, k] =
                                               [start, length]`` of its output frames, both
                                               as row ranges into ``input_raw_data``
=================  ==========================  ==============================================

The provider builds each batch as its input frames followed by its output frames, moving the
channel axis last, so a sequence is ``input_raw_data[in_start : in_start+in_len]`` then
``input_raw_data[out_start : out_start+out_len]``. mim3d writes each sequence contiguously
(output starts where input ends) and reads any ``clips``.

mim3d's frames are channels-last: one sequence is ``(T, W, H, D, C)``.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mim3d.errors import Mim3dError, expect

log = logging.getLogger(__name__)

KEYS = ("clips", "dims", "input_raw_data")


def write_npz(path: str | Path, sequences: Sequence[np.ndarray], input_length: int) -> Path:
    """Write sequences ``(T, W, H, D, C)`` in the original 3D-MIM ``.npz`` layout.

    Args:
        path: the ``.npz`` file (written atomically).
        sequences: one array per sequence; all share ``(W, H, D, C)``, lengths may differ.
        input_length: frames of each sequence given to the model as input; the rest are its
            targets. Every sequence needs more than ``input_length`` frames.
    """
    path = Path(path)
    sequences = [np.asarray(s) for s in sequences]
    expect(len(sequences) > 0, "write_npz got no sequences; pass at least one")
    expect(input_length >= 1, f"input_length must be >= 1, got {input_length}")
    frame = sequences[0].shape[1:]
    for k, seq in enumerate(sequences):
        expect(seq.ndim == 5, f"sequence {k} has shape {seq.shape}; expected (T, W, H, D, C)")
        expect(seq.shape[1:] == frame, f"sequence {k} has frames {seq.shape[1:]}, sequence 0 "
               f"has {frame}; all frames must share (W, H, D, C)")
        expect(seq.shape[0] > input_length, f"sequence {k} has {seq.shape[0]} frames; it needs "
               f"more than input_length = {input_length}")
    clips = np.zeros((2, len(sequences), 2), dtype=np.int32)
    start = 0
    for k, seq in enumerate(sequences):
        clips[0, k] = (start, input_length)
        clips[1, k] = (start + input_length, seq.shape[0] - input_length)
        start += seq.shape[0]
    raw = np.concatenate([np.moveaxis(s, -1, 1) for s in sequences]).astype(np.float32)
    dims = np.array([[frame[3], *frame[:3]]], dtype=np.int32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, clips=clips, dims=dims, input_raw_data=raw)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    log.info("wrote %d sequences, %d frames of %s to %s", len(sequences), len(raw), frame, path)
    return path


def read_npz(path: str | Path) -> list[np.ndarray]:
    """Sequences of an original 3D-MIM ``.npz``, each ``(T, W, H, D, C)`` float32 (input then
    output frames)."""
    path = Path(path)
    try:
        data = np.load(path)
    except (OSError, ValueError) as err:
        raise Mim3dError(f"cannot read {path} as .npz: {err}") from err
    with data:
        missing = [k for k in KEYS if k not in data.files]
        expect(not missing, f"{path} lacks keys {missing} (has {data.files}); the original "
               f"3D-MIM layout needs {list(KEYS)}")
        clips, dims, raw = data["clips"], data["dims"], data["input_raw_data"]
    expect(dims.shape == (1, 4), f"{path}: dims has shape {dims.shape}, expected (1, 4) = "
           "(C, W, H, D) for 3-D data")
    expect(raw.ndim == 5 and tuple(raw.shape[1:]) == tuple(int(d) for d in dims[0]),
           f"{path}: input_raw_data has shape {raw.shape}, expected (frames, {tuple(dims[0])})")
    expect(clips.ndim == 3 and clips.shape[0] == 2 and clips.shape[2] == 2,
           f"{path}: clips has shape {clips.shape}, expected (2, N, 2)")
    sequences = []
    for k in range(clips.shape[1]):
        parts = []
        for row, what in ((0, "input"), (1, "output")):
            start, length = (int(v) for v in clips[row, k])
            expect(start >= 0 and length >= 0 and start + length <= len(raw),
                   f"{path}: clip {k} {what} frames {start}..{start + length - 1} lie outside "
                   f"input_raw_data's {len(raw)} frames")
            parts.append(raw[start:start + length])
        sequences.append(np.moveaxis(np.concatenate(parts), 1, -1).astype(np.float32))
    return sequences


def export_npz(data: str | Path, out: str | Path, channels: Sequence[str] = ("density",),
               input_length: int = 1, split: str | None = None,
               total_length: int | None = None) -> Path:
    """Write every trajectory under ``data`` (Well files) as one sequence of an original ``.npz``.

    Args:
        data: a Well dataset folder (with ``split``), a folder of ``.hdf5`` files or one file.
        out: the ``.npz`` to write.
        channels: The Well channel names, e.g. ``("density",)``.
        input_length: input frames per sequence.
        split: split folder under ``data/data/``.
        total_length: frames per sequence (the first ones); default the whole trajectory.
    """
    from mim3d.formats.well import WellStore

    store = WellStore(data, split=split)
    sequences = []
    for i in range(store.n_trajectories):
        length = store.n_t(i) if total_length is None else total_length
        sequences.append(store.window(i, 0, length, channels=tuple(channels)))
    return write_npz(out, sequences, input_length)


def _run(args: argparse.Namespace) -> int:
    path = export_npz(args.data, args.out, channels=args.fields, input_length=args.input_length,
                      split=args.split, total_length=args.total_length)
    print(path)
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "export-npz", help="write Well files as the original 3D-MIM .npz",
        description="Write every trajectory of Well HDF5 files as one sequence of the .npz "
                    "layout the original 3D-MIM code reads (clips, dims, input_raw_data).")
    p.add_argument("--data", required=True, help="Well dataset folder, folder of .hdf5, or file")
    p.add_argument("--split", default=None, help="split under DATA/data/ (train, valid, ...)")
    p.add_argument("--out", required=True, help="the .npz to write")
    p.add_argument("--fields", nargs="+", default=["density"],
                   help="channels, The Well names (default: density)")
    p.add_argument("--input-length", type=int, default=1, help="input frames per sequence")
    p.add_argument("--total-length", type=int, default=None,
                   help="frames per sequence (default: the whole trajectory)")
    p.set_defaults(func=_run)
