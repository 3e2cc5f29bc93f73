"""The ipywidgets explorer: every control redraws the right picture, headless."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest

from mim3d.dummy import dummy_trajectory
from mim3d.errors import Mim3dError
from mim3d.explorer import Explorer, explore

FIELDS = ("density", "temperature")


def stacked(seeds, n_t=3):
    trajectories = [dummy_trajectory(grid=16, n_t=n_t, seed=s) for s in seeds]
    return np.stack([t.stack(FIELDS) for t in trajectories]), trajectories[0].times


@pytest.fixture(scope="module")
def explorer():
    truth, times = stacked([0, 1])
    forecast, _ = stacked([2, 3])
    ex = explore(truth, forecast, times_myr=times, field_names=FIELDS,
                 sample_names=["run A", "run B"], render_3d=True, size_px=200)
    return ex


def test_pictures_are_png(explorer):
    assert isinstance(explorer, Explorer)
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    assert bytes(explorer.image3d.value).startswith(b"\x89PNG")
    assert explorer.image3d in explorer.widget.children[1].children
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()


def test_slice_slider_changes_only_the_slice(explorer):
    before, before_3d = explorer.image.value, explorer.image3d.value
    explorer.slice_slider.value = 3
    assert explorer.image.value != before
    assert explorer.image3d.value == before_3d  # the 3D view does not depend on the slice


def test_lead_time_changes_both_pictures(explorer):
    before, before_3d = explorer.image.value, explorer.image3d.value
    explorer.lead.value = 2
    assert explorer.image.value != before
    assert explorer.image3d.value != before_3d


def test_view_switches_picture(explorer):
    pictures = set()
    for view in ("truth", "forecast", "difference"):
        explorer.view.value = view
        pictures.add(explorer.image.value)
    assert len(pictures) == 3


def test_sample_changes_3d_picture(explorer):
    explorer.view.value = "forecast"
    before_3d = explorer.image3d.value
    explorer.sample.value = 1 - explorer.sample.value
    assert explorer.image3d.value != before_3d


def test_axis_resets_slice_and_field_switches(explorer):
    explorer.slice_slider.value = 1
    before = explorer.image.value
    explorer.axis.value = 0
    assert explorer.slice_slider.value == 8 and explorer.slice_slider.max == 15
    assert explorer.image.value != before
    before = explorer.image.value
    explorer.field.value = "temperature"
    assert explorer.image.value != before


def test_colour_scale_is_shared_over_samples_and_sources(explorer):
    truth, forecast = explorer.truth[..., 0], explorer.forecast[..., 0]
    lo, hi = explorer._clim["density"]
    assert lo == pytest.approx(np.log10(min(truth.min(), forecast.min())))
    assert hi == pytest.approx(np.log10(max(truth.max(), forecast.max())))


def test_without_3d():
    truth, times = stacked([0], n_t=2)
    ex = explore(truth, truth * 1.1, times_myr=times, field_names=FIELDS, render_3d=False)
    assert ex.image3d.value == b""
    assert ex.image3d not in ex.widget.children[1].children
    before = ex.image.value
    ex.view.value = "difference"
    assert ex.image.value != before


def test_shape_errors_are_actionable():
    truth, times = stacked([0], n_t=2)
    with pytest.raises(Mim3dError, match=r"\(B, T, nx, ny, nz, C\)"):
        explore(truth[0], truth[0], times_myr=times, field_names=FIELDS)
    with pytest.raises(Mim3dError, match="one name per channel"):
        explore(truth, truth, times_myr=times, field_names=("density",))
    with pytest.raises(Mim3dError, match="one time per lead"):
        explore(truth, truth, times_myr=times[:1], field_names=FIELDS)
