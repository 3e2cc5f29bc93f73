"""File formats mim3d reads and writes.

- :mod:`mim3d.formats.well`: The Well's HDF5 layout (Ohana et al. 2024), mim3d's native format;
  :func:`write_well` and the lazy reader :class:`WellStore`.
- :mod:`mim3d.formats.npz`: the ``.npz`` layout of the original 3D-MIM code (Hirashima et al.
  2023), to feed it data made by mim3d.
- :mod:`mim3d.formats.sph`: SPH particles deposited onto a uniform grid with ``yt``.
"""

from mim3d.formats.npz import read_npz, write_npz
from mim3d.formats.well import WellStore, read_well, write_well

__all__ = ["WellStore", "read_npz", "read_well", "write_npz", "write_well"]
