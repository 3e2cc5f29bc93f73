"""Shared test settings: headless plotting, quiet TensorFlow, the reference fixtures' folder."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import pytest  # noqa: E402

import mim3d  # noqa: E402,F401  (before TensorFlow: see mim3d/__init__.py)

ROOT = Path(__file__).resolve().parents[1]
# ../shared sits beside the checkout, on developer machines and in CI alike.
REFERENCE = Path(os.environ.get("MIM3D_REFERENCE",
                                ROOT.parent / "shared" / "reference" / "original-3dmim"))


def reference_sets() -> list[Path]:
    """Every fixture set (a folder with ckpt/ and meta.json) of the original 3D-MIM."""
    return sorted(p for p in REFERENCE.glob("*") if (p / "meta.json").is_file())


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not reference_sets():
        pytest.fail(f"no reference fixtures under {REFERENCE}: the faithfulness tests need "
                    f"../shared/reference/original-3dmim beside the checkout (or set "
                    f"MIM3D_REFERENCE)")
    return REFERENCE
