"""Named run configurations shipped with mim3d (YAML files beside this module).

``demo``: the embedded demo that ``make figures`` trains on the built-in simulator's small data
set (``make data``): 32³ runs downsampled to 16³, 2×2×2 patches, a 3-layer 3D-MIM, sized to
learn in about ten minutes on two CPU cores. ``smoke``: the same pipeline in seconds (CI).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mim3d.errors import Mim3dError

HERE = Path(__file__).parent


def preset_path(name: str) -> Path:
    path = HERE / f"{name}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in HERE.glob("*.yaml"))
        raise Mim3dError(f"unknown preset {name!r}; available: {names}")
    return path


def load_preset(name: str, data_path: str | None = None) -> dict:
    """The preset as a dict with ``model``, ``train`` and ``data`` sections."""
    config = yaml.safe_load(preset_path(name).read_text())
    if data_path is not None:
        config["data"]["path"] = str(data_path)
    return config
