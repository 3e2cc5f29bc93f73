"""An interactive explorer of forecasts for notebooks (ipywidgets + matplotlib + pyvista).

:func:`explore` returns an :class:`Explorer`: controls for sample, field, slice axis, slice
index, lead time and view (simulation, forecast, difference), a slice picture (an
``ipywidgets.Image`` holding PNG bytes, so it also works headless and can be compared in tests)
and a 3D picture of the shell from :func:`mim3d.render3d.render_shell`. Every field has one
colour scale over all samples, times and both sources, so moving a control never rescales.

Display it by ending a cell with it (``ex``) or with ``display(ex.widget)``. The 3D picture is
redrawn when the sample, field, lead time or source (simulation/forecast) changes; it shows the
simulation for the ``truth`` view and the forecast otherwise.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

import numpy as np

from mim3d.errors import expect
from mim3d.viz import AXIS_NAMES, diff_label, field_label, log_floor, new_figure, slice_volume

logger = logging.getLogger(__name__)

VIEWS = ("truth", "forecast", "difference")


def _default_log(field: str) -> bool:
    return not field.startswith("velocity")


class Explorer:
    """Widgets over ``truth`` and ``forecast`` ``(B, T, nx, ny, nz, C)``; see :func:`explore`.

    Controls (set ``.value`` to drive it from code): ``sample`` (index), ``field`` (name),
    ``axis`` (0, 1, 2), ``slice_slider`` (cell index), ``lead`` (time index), ``view``
    (``"truth"``, ``"forecast"``, ``"difference"``). Pictures: ``image`` (slice, PNG bytes in
    ``image.value``) and ``image3d`` (3D, PNG bytes). The whole layout is ``widget``.
    """

    def __init__(
        self,
        truth: np.ndarray,
        forecast: np.ndarray,
        *,
        times_myr: Sequence[float],
        box_pc: float = 60.0,
        field_names: Sequence[str] = ("density",),
        sample_names: Sequence[str] | None = None,
        render_3d: bool = True,
        log_fields: Sequence[str] | None = None,
        cmap: str = "inferno",
        size_px: int = 420,
        render_kwargs: dict | None = None,
    ):
        import ipywidgets as w

        truth, forecast = np.asarray(truth), np.asarray(forecast)
        expect(truth.ndim == 6,
               f"truth must be (B, T, nx, ny, nz, C), got shape {truth.shape}; add missing axes "
               "with truth[None] (one sample) or truth[..., None] (one field)")
        expect(forecast.shape == truth.shape,
               f"forecast must have the shape of truth {truth.shape}, got {forecast.shape}")
        n_b, n_t, *_, n_c = truth.shape
        times = np.asarray(times_myr, dtype=float)
        expect(times.shape == (n_t,),
               f"times_myr needs one time per lead ({n_t}), got shape {times.shape}")
        expect(len(field_names) == n_c,
               f"field_names needs one name per channel ({n_c}), got {list(field_names)}")
        names = [f"sample {i}" for i in range(n_b)] if sample_names is None else list(sample_names)
        expect(len(names) == n_b, f"sample_names needs {n_b} names, got {len(names)}")

        self.truth, self.forecast, self.times = truth, forecast, times
        self.box_pc, self.cmap, self.size_px = float(box_pc), cmap, size_px
        self.field_names = tuple(field_names)
        log_fields = [f for f in self.field_names if _default_log(f)] if log_fields is None \
            else list(log_fields)
        self.log = {f: f in log_fields for f in self.field_names}
        self.render_3d = render_3d
        self.render_kwargs = dict(render_kwargs or {})
        self._floor, self._clim, self._dlim = {}, {}, {}
        for c, f in enumerate(self.field_names):
            self._scales(c, f)
        self._cache3d: dict[tuple, bytes] = {}
        self._quiet = False

        self.sample = w.Dropdown(options=[(n, i) for i, n in enumerate(names)], value=0,
                                 description="sample")
        self.field = w.Dropdown(options=list(self.field_names), value=self.field_names[0],
                                description="field")
        self.axis = w.ToggleButtons(options=[(a, i) for i, a in enumerate(AXIS_NAMES)], value=2,
                                    description="axis", style={"button_width": "3em"})
        self.slice_slider = w.IntSlider(value=truth.shape[4] // 2, min=0,
                                        max=truth.shape[4] - 1, description="slice",
                                        continuous_update=False)
        self.lead = w.SelectionSlider(options=[(f"{t:.3g} Myr", i) for i, t in enumerate(times)],
                                      value=0, description="time", continuous_update=False)
        self.view = w.ToggleButtons(options=list(VIEWS), value="forecast", description="view",
                                    style={"button_width": "6em"})
        self.image = w.Image(format="png", layout=w.Layout(width=f"{size_px}px"))
        self.image3d = w.Image(format="png", layout=w.Layout(width=f"{size_px}px"))
        controls = w.VBox([self.sample, self.field, self.axis, self.slice_slider, self.lead,
                           self.view])
        pictures = [self.image] + ([self.image3d] if render_3d else [])
        self.widget = w.VBox([controls, w.HBox(pictures)])

        self.axis.observe(self._on_axis, names="value")
        for control in (self.sample, self.field, self.slice_slider, self.lead, self.view):
            control.observe(self._on_change, names="value")
        self.update()

    # ---------------------------------------------------------------- data

    def _scales(self, c: int, f: str) -> None:
        """Fixed colour ranges of field ``f`` over everything: values and differences."""
        both = np.stack([self.truth[..., c], self.forecast[..., c]])
        if self.log[f]:
            self._floor[f] = log_floor(both)
        shown = self._display(both, f)
        self._clim[f] = (float(shown.min()), float(shown.max()))
        self._dlim[f] = float(np.abs(shown[1] - shown[0]).max()) or 1e-12

    def _display(self, values: np.ndarray, f: str) -> np.ndarray:
        if self.log[f]:
            return np.log10(np.maximum(values, self._floor[f]))
        return np.asarray(values, dtype=np.float64)

    def volume(self, source: str) -> np.ndarray:
        """Current ``(nx, ny, nz)`` volume of ``source`` (``truth`` or ``forecast``), physical units."""
        c = self.field_names.index(self.field.value)
        data = self.truth if source == "truth" else self.forecast
        return data[self.sample.value, self.lead.value, ..., c]

    # ---------------------------------------------------------------- pictures

    def slice_png(self) -> bytes:
        """PNG of the current slice and view."""
        f, axis, view = self.field.value, self.axis.value, self.view.value
        t_plane, index = slice_volume(self._display(self.volume("truth"), f), axis,
                                      self.slice_slider.value)
        f_plane, _ = slice_volume(self._display(self.volume("forecast"), f), axis, index)
        if view == "difference":
            plane, lim = f_plane - t_plane, self._dlim[f]
            kwargs, label = {"cmap": "RdBu_r", "vmin": -lim, "vmax": lim}, diff_label(f, self.log[f])
        else:
            plane = t_plane if view == "truth" else f_plane
            lo, hi = self._clim[f]
            kwargs, label = {"cmap": self.cmap, "vmin": lo, "vmax": hi}, field_label(f, self.log[f])
        u, v = [a for a in range(3) if a != axis]
        shape = self.truth.shape[2:5]
        cell = self.box_pc / shape[0]
        fig = new_figure(figsize=(4.4, 4.0), dpi=100)
        ax = fig.add_subplot()
        im = ax.imshow(plane.T, origin="lower", interpolation="nearest",
                       extent=(0, shape[u] * cell, 0, shape[v] * cell), **kwargs)
        ax.set_xlabel(f"{AXIS_NAMES[u]} [pc]")
        ax.set_ylabel(f"{AXIS_NAMES[v]} [pc]")
        fig.colorbar(im, ax=ax, label=label, shrink=0.85)
        ax.set_title(f"{self.sample.label}, {view}, t = {self.times[self.lead.value]:.3g} Myr\n"
                     f"{AXIS_NAMES[axis]} = {(index + 0.5) * cell:.3g} pc", fontsize="medium")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()

    def shell_png(self) -> bytes:
        """PNG of the 3D picture of the current sample, time, field and source (cached)."""
        from mim3d.render3d import render_shell

        source = "truth" if self.view.value == "truth" else "forecast"
        f = self.field.value
        key = (self.sample.value, self.lead.value, f, source)
        if key not in self._cache3d:
            import imageio.v3 as iio

            label = "simulation" if source == "truth" else "forecast"
            options = dict(box_pc=self.box_pc, log=self.log[f], field=f, cmap=self.cmap,
                           clim=self._clim[f], window_size=(self.size_px, self.size_px),
                           title=f"{label}, t = {self.times[self.lead.value]:.3g} Myr")
            image = render_shell(self.volume(source), **{**options, **self.render_kwargs})
            self._cache3d[key] = iio.imwrite("<bytes>", image, extension=".png")
        return self._cache3d[key]

    def update(self, refresh_3d: bool = True) -> None:
        """Redraw the slice picture, and the 3D picture when ``refresh_3d``."""
        self.image.value = self.slice_png()
        if self.render_3d and refresh_3d:
            self.image3d.value = self.shell_png()

    def _on_axis(self, change) -> None:
        n = self.truth.shape[2 + change["new"]]
        self._quiet = True
        try:
            self.slice_slider.max = n - 1
            self.slice_slider.value = n // 2
        finally:
            self._quiet = False
        self.update(refresh_3d=False)

    def _on_change(self, change) -> None:
        if not self._quiet:
            self.update(refresh_3d=change["owner"] is not self.slice_slider)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def explore(
    truth: np.ndarray,
    forecast: np.ndarray,
    *,
    times_myr: Sequence[float],
    box_pc: float = 60.0,
    field_names: Sequence[str] = ("density",),
    sample_names: Sequence[str] | None = None,
    render_3d: bool = True,
    **kwargs,
) -> Explorer:
    """Explore forecasts against simulations slice by slice and in 3D.

    Args:
        truth, forecast: ``(B, T, nx, ny, nz, C)`` in physical units (n_H cm^-3 for density).
        times_myr: ``(T,)`` time of each lead in Myr.
        box_pc: box edge along x in pc.
        field_names: name of each of the ``C`` channels (e.g. ``("density",)``); fields other
            than velocities are shown as log10.
        sample_names: a label per sample (default ``sample 0``, ``sample 1``...).
        render_3d: add the pyvista 3D picture (about a second per new sample/time).
        **kwargs: ``log_fields``, ``cmap``, ``size_px``, ``render_kwargs`` (passed to
            :func:`mim3d.render3d.render_shell`, e.g. ``{"iso_levels": [2.0]}``).

    Returns an :class:`Explorer`; end a notebook cell with it to show it.
    """
    return Explorer(truth, forecast, times_myr=times_myr, box_pc=box_pc, field_names=field_names,
                    sample_names=sample_names, render_3d=render_3d, **kwargs)
