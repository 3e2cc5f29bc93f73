"""One supernova run in memory: fields on a uniform grid at a series of snapshot times.

This is the exchange type between the simulator (`mim3d.simulate`), the file formats
(`mim3d.formats`), the data pipeline (`mim3d.data`), the physics diagnostics and the pictures.

Units (documented once, used everywhere):

=============  ======================  ============================================
field          unit                    shape in ``Trajectory.fields``
=============  ======================  ============================================
density        n_H, hydrogen cm^-3     (n_t, nx, ny, nz)
pressure       P / k_B, K cm^-3        (n_t, nx, ny, nz)
temperature    K                       (n_t, nx, ny, nz)
velocity       km s^-1                 (n_t, nx, ny, nz, 3)   components x, y, z
=============  ======================  ============================================

Times are in Myr, the box edge in pc. Channel order, when fields are stacked, follows The Well:
``density, pressure, temperature, velocity_x, velocity_y, velocity_z``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SCALAR_FIELDS = ("density", "pressure", "temperature")
VECTOR_FIELDS = ("velocity",)
CHANNELS = ("density", "pressure", "temperature", "velocity_x", "velocity_y", "velocity_z")
UNITS = {
    "density": "cm^-3",
    "pressure": "K cm^-3",
    "temperature": "K",
    "velocity": "km/s",
    "velocity_x": "km/s",
    "velocity_y": "km/s",
    "velocity_z": "km/s",
}


@dataclass(frozen=True)
class Trajectory:
    """One run: fields at ``n_t`` snapshot times on an ``nx × ny × nz`` grid.

    Attributes:
        fields: name -> float32 array; scalars ``(n_t, nx, ny, nz)``, ``velocity``
            ``(n_t, nx, ny, nz, 3)``. Any subset of density, pressure, temperature, velocity.
        times: ``(n_t,)`` snapshot times in Myr, increasing.
        box_pc: box edge length in pc (cells are cubes of ``box_pc / nx``).
        params: scalar parameters of the run (e.g. ``E_sn_erg``, ``n_H``, ``T0``, ``seed``,
            ``medium`` = ``"turbulent"`` or ``"uniform"``); values are str, int, float or bool.
    """

    fields: dict[str, np.ndarray]
    times: np.ndarray
    box_pc: float = 60.0
    params: dict = field(default_factory=dict)

    @property
    def n_t(self) -> int:
        return int(len(self.times))

    @property
    def grid(self) -> tuple[int, int, int]:
        first = next(iter(self.fields.values()))
        return tuple(int(n) for n in first.shape[1:4])

    @property
    def cell_pc(self) -> float:
        return self.box_pc / self.grid[0]

    def channel(self, name: str) -> np.ndarray:
        """One channel by The Well name, e.g. ``density`` or ``velocity_y``: ``(n_t, nx, ny, nz)``."""
        if name.startswith("velocity_"):
            return self.fields["velocity"][..., "xyz".index(name[-1])]
        return self.fields[name]

    def stack(self, channels: tuple[str, ...] = ("density",)) -> np.ndarray:
        """Channels stacked last: ``(n_t, nx, ny, nz, len(channels))`` float32."""
        return np.stack([self.channel(c) for c in channels], axis=-1).astype(np.float32)
