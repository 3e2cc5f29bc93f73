"""Small file helpers: atomic writes and refusing to overwrite a user's files."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mim3d.errors import Mim3dError


def check_writable_output(path: str | Path, overwrite: bool = False) -> Path:
    """Return ``path`` as a Path if it may be written; never silently replaces a file."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise Mim3dError(
            f"{path} already exists; mim3d does not overwrite files. Choose another output "
            f"name, move the file away, or pass --overwrite"
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise Mim3dError(f"cannot write to folder {parent}: permission denied; choose another")
    return path


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}",
                               dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes 0600 files; give the result the usual permissions
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod(0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``: a kill leaves no half-written file."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def save_npy(path: str | Path, array: np.ndarray) -> Path:
    """``np.save`` through a temporary file."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, array)
    return atomic_write(path, write)


def load_array(path: str | Path, what: str = "input") -> np.ndarray:
    """Load a ``.npy`` (or the single array of a ``.npz``) with a clear error."""
    path = Path(path)
    if not path.is_file():
        raise Mim3dError(f"{what} file {path} does not exist")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise Mim3dError(f"{what} file {path} is not a readable .npy/.npz array: {err}") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        keys = list(data.keys())
        if len(keys) != 1:
            raise Mim3dError(
                f"{what} file {path} holds arrays {keys}; give a .npy or a .npz with one array"
            )
        data = data[keys[0]]
    return np.asarray(data)
