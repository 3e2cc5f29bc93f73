"""Built-in supernova simulator: 3D Euler (MUSCL-HLLC, SSP-RK2) blast in a uniform or turbulent cloud.

Files: ``config.py`` (SimConfig), ``units.py`` (constants, code units), ``euler.py`` (solver,
numba + NumPy), ``initial.py`` (media, explosion), ``cooling.py`` (Rosen & Bregman 1995),
``sedov.py`` (Sedov-Taylor radius, shock-radius estimate), ``run.py`` (time loop -> Trajectory).
"""

from mim3d.simulate.config import SimConfig
from mim3d.simulate.run import simulate
from mim3d.simulate.sedov import sedov_taylor_radius_pc, shock_radius_pc

__all__ = ["SimConfig", "simulate", "sedov_taylor_radius_pc", "shock_radius_pc"]
