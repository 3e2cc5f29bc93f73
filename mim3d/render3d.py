"""3D pictures of a blast-wave shell with pyvista (VTK), offscreen.

:func:`render_shell` draws isosurfaces of (log) density, which show the swept-up shell of a
supernova remnant (Sedov 1959; Hirashima et al. 2023, MNRAS 526, 4054, Fig. 1), together with
three orthogonal cross-section planes through the box centre, and returns the screenshot as an
``(H, W, 3)`` uint8 array. :func:`show_shell` does the same for a notebook.

TensorFlow >= 2.20 and VTK's offscreen (Mesa llvmpipe) rendering segfault in one process when
TensorFlow was imported first, because TensorFlow loads its LLVM into the global symbol
namespace. Importing :mod:`mim3d` first prevents that (see ``mim3d/__init__.py``). If TensorFlow
was imported before mim3d, ``subprocess=None`` (the default) notices it and renders in a child
Python process (``python -m mim3d.render3d``) that never imports TensorFlow.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess as _subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mim3d.errors import expect

logger = logging.getLogger(__name__)

PLAIN_LABELS = {
    "density": ("n_H", "cm^-3"),
    "pressure": ("P/k_B", "K cm^-3"),
    "temperature": ("T", "K"),
    "velocity_x": ("v_x", "km/s"),
    "velocity_y": ("v_y", "km/s"),
    "velocity_z": ("v_z", "km/s"),
}
INTERACTIVE_BACKENDS = ("trame", "html", "client", "server")


def plain_label(field: str, log: bool) -> str:
    """Scalar-bar title without mathtext, e.g. ``log10 n_H [cm^-3]``."""
    symbol, unit = PLAIN_LABELS.get(field, (field, ""))
    text = f"log10 {symbol}" if log else symbol
    return f"{text} [{unit}]" if unit else text


def tf_has_global_llvm() -> bool:
    """True when TensorFlow was imported with its global dlopen flags (in-process VTK would crash)."""
    return sys.modules.get("tensorflow.python.pywrap_dlopen_global_flags") is not None


def default_iso_levels(values: np.ndarray) -> list[float]:
    """One level halfway between the median (ambient gas) and the maximum (the shell).

    Clean for a shell in a uniform medium; in a turbulent one dense clumps reach it too, so pass
    ``iso_levels`` explicitly for paper figures.
    """
    median, peak = float(np.median(values)), float(values.max())
    return [median + 0.5 * (peak - median)]


def _import_pyvista():
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    pv.OFF_SCREEN = True
    return pv


def build_plotter(
    volume: np.ndarray,
    *,
    box_pc: float = 60.0,
    iso_levels: Sequence[float] | None = None,
    slices: bool = True,
    log: bool = True,
    field: str = "density",
    cmap: str = "inferno",
    clim: tuple[float, float] | None = None,
    window_size: tuple[int, int] = (600, 500),
    title: str | None = None,
    off_screen: bool = True,
):
    """The pyvista scene of :func:`render_shell` (arguments as there), not yet rendered."""
    pv = _import_pyvista()
    volume = np.asarray(volume, dtype=np.float64)
    expect(volume.ndim == 3, f"volume must be (nx, ny, nz), got shape {volume.shape}; pass one "
           "field of one snapshot, e.g. traj.fields['density'][t]")
    expect(min(volume.shape) >= 2, f"volume needs at least 2 cells per axis, got {volume.shape}")
    if log:
        positive = volume[volume > 0]
        floor = float(positive.min()) if positive.size else 1e-30
        values = np.log10(np.maximum(volume, floor))
    else:
        values = volume
    label = plain_label(field, log)
    cell = box_pc / volume.shape[0]
    # one VTK cell per grid cell, so the box spans exactly [0, box_pc]
    grid = pv.ImageData(dimensions=np.add(volume.shape, 1), spacing=(cell,) * 3)
    grid.cell_data[label] = values.ravel(order="F")  # VTK runs x fastest
    clim = (float(values.min()), float(values.max())) if clim is None else tuple(clim)
    if clim[0] == clim[1]:
        clim = (clim[0] - 0.5, clim[1] + 0.5)

    plotter = pv.Plotter(off_screen=off_screen, window_size=list(window_size))
    plotter.set_background("white")
    bar = {"title": label.replace(" [", "\n["), "color": "black", "vertical": True,
           "position_x": 0.84, "position_y": 0.15, "width": 0.08, "height": 0.65, "fmt": "%.1f",
           "title_font_size": 14, "label_font_size": 12}
    levels = default_iso_levels(values) if iso_levels is None else [float(v) for v in iso_levels]
    surface = grid.cell_data_to_point_data().contour(isosurfaces=levels, scalars=label)
    if surface.n_points and slices:
        # cut away the octant facing the camera so the slices inside stay visible
        c = [n * cell / 2 for n in volume.shape]
        surface = surface.clip_box([c[0], 2 * c[0], c[1], 2 * c[1], c[2], 2 * c[2]])
    if surface.n_points:
        plotter.add_mesh(surface, scalars=label, cmap=cmap, clim=clim, opacity=0.6 if slices else 1.0,
                         smooth_shading=True, show_scalar_bar=not slices, scalar_bar_args=bar)
    else:
        logger.info("no isosurface at levels %s (values span %.3g..%.3g)", levels, *clim)
    if slices:
        plotter.add_mesh(grid.slice_orthogonal(), scalars=label, cmap=cmap, clim=clim,
                         scalar_bar_args=bar)
    plotter.add_mesh(grid.outline(), color="black")
    plotter.show_bounds(xtitle="x [pc]", ytitle="y [pc]", ztitle="z [pc]", color="black",
                        font_size=10, location="outer", ticks="outside")
    if title:
        plotter.add_text(title, font_size=10, color="black", position="upper_left")
    plotter.camera_position = "iso"
    plotter.camera.zoom(0.85)
    return plotter


def render_shell(
    volume: np.ndarray,
    *,
    box_pc: float = 60.0,
    iso_levels: Sequence[float] | None = None,
    slices: bool = True,
    log: bool = True,
    field: str = "density",
    cmap: str = "inferno",
    clim: tuple[float, float] | None = None,
    window_size: tuple[int, int] = (600, 500),
    title: str | None = None,
    path: str | Path | None = None,
    subprocess: bool | None = None,
) -> np.ndarray:
    """Offscreen picture of the shell: isosurfaces plus orthogonal slices, ``(H, W, 3)`` uint8.

    Args:
        volume: ``(nx, ny, nz)`` field in physical units (density n_H cm^-3).
        box_pc: box edge along x in pc (cells are cubes).
        iso_levels: contour levels in displayed units (log10 n_H when ``log``); default one
            level halfway between the median and the maximum.
        slices: add the three central cross-section planes.
        log: show log10 of the field.
        field: channel name, for the scalar-bar title and units.
        clim: colour range in displayed units (default the volume's range); fix it to compare
            pictures.
        window_size: ``(width, height)`` in pixels; the array is ``(height, width, 3)``.
        title: text in the upper left corner.
        path: also write the picture there as PNG.
        subprocess: render in a child process that never imports TensorFlow. ``None`` (default)
            does so only when TensorFlow was imported before mim3d (which would crash VTK).
    """
    kwargs = dict(box_pc=box_pc, iso_levels=None if iso_levels is None else list(iso_levels),
                  slices=slices, log=log, field=field, cmap=cmap,
                  clim=None if clim is None else list(clim), window_size=list(window_size),
                  title=title)
    if subprocess is None:
        subprocess = tf_has_global_llvm()
        if subprocess:
            logger.info("TensorFlow was imported before mim3d; rendering in a child process")
    if subprocess:
        image = _render_in_child(np.asarray(volume, dtype=np.float32), kwargs)
    else:
        plotter = build_plotter(volume, **kwargs)
        try:
            image = np.asarray(plotter.screenshot(return_img=True))[..., :3].copy()
        finally:
            plotter.close()
    if path is not None:
        import imageio.v3 as iio

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(Path(path), image)
    return image


def show_shell(volume: np.ndarray, *, jupyter_backend: str = "static", **kwargs):
    """Show the scene of :func:`render_shell` in a notebook and return the pyvista plotter.

    ``jupyter_backend="static"`` (default; works under papermill) shows a picture; ``"trame"``
    or ``"html"`` an interactive view when trame is installed (else static, with a log note).
    Assign the result (``p = show_shell(v)``) so the notebook does not show it twice.
    """
    if jupyter_backend in INTERACTIVE_BACKENDS and importlib.util.find_spec("trame") is None:
        logger.info("jupyter_backend=%r needs trame (pip install 'pyvista[jupyter]'); "
                    "showing a static picture", jupyter_backend)
        jupyter_backend = "static"
    plotter = build_plotter(volume, **kwargs)
    in_kernel = "ipykernel" in sys.modules
    plotter.show(jupyter_backend=jupyter_backend if in_kernel else None, auto_close=False)
    return plotter


def _render_in_child(volume: np.ndarray, kwargs: dict) -> np.ndarray:
    """Run ``python -m mim3d.render3d`` on ``volume`` and read back its screenshot."""
    with tempfile.TemporaryDirectory(prefix="mim3d-render-") as tmp:
        tmp = Path(tmp)
        np.save(tmp / "volume.npy", volume)
        (tmp / "kwargs.json").write_text(json.dumps(kwargs))
        env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": os.environ.get(
            "VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")}
        done = _subprocess.run(
            [sys.executable, "-m", "mim3d.render3d", str(tmp)],
            capture_output=True, text=True, env=env, timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"rendering in a child process failed with exit code {done.returncode}:\n"
                f"{done.stderr[-2000:]}")
        return np.load(tmp / "image.npy")


def _child_main(folder: str) -> None:
    folder = Path(folder)
    volume = np.load(folder / "volume.npy")
    kwargs = json.loads((folder / "kwargs.json").read_text())
    image = render_shell(volume, subprocess=False, **kwargs)
    np.save(folder / "image.npy", image)


if __name__ == "__main__":
    _child_main(sys.argv[1])
