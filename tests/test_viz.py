"""Figures (mim3d.viz) and 3D pictures (mim3d.render3d) on small synthetic blast waves."""

from __future__ import annotations

import json
import os
import subprocess

os.environ.setdefault("MPLBACKEND", "Agg")

import imageio.v3 as iio
import numpy as np
import pytest
from matplotlib.animation import writers
from PIL import Image

from mim3d import viz
from mim3d.dummy import dummy_trajectory
from mim3d.errors import Mim3dError


@pytest.fixture(scope="module")
def pair():
    truth = dummy_trajectory(grid=16, n_t=4, seed=0)
    forecast = dummy_trajectory(grid=16, n_t=4, seed=1)
    return truth, forecast


def assert_nonblank_png(path):
    pixels = iio.imread(path).astype(float)
    assert pixels.ndim == 3 and pixels.var() > 0


def all_labels(fig):
    return {label for ax in fig.axes for label in (ax.get_xlabel(), ax.get_ylabel())}


def test_cross_section_single_volume(pair, tmp_path):
    truth, forecast = pair
    d_t, d_f = truth.fields["density"][3], forecast.fields["density"][3]
    fig = viz.cross_section_panels(d_t, d_f, time_myr=0.2, path=tmp_path / "cs")
    assert len(fig.axes) == 3 + 2  # three panels, two colour bars
    labels = all_labels(fig)
    assert viz.field_label("density") in labels
    assert any(label.startswith(viz.diff_label("density")) for label in labels)
    assert {"x [pc]", "y [pc]"} <= labels
    sim, fc, diff = (ax.images[0] for ax in fig.axes[:3])
    assert sim.get_clim() == fc.get_clim()  # one colour scale for simulation and forecast
    lo, hi = diff.get_clim()
    assert lo == -hi and hi > 0
    assert diff.get_cmap().name == "RdBu_r"
    assert "0.2 Myr" in fig.axes[0].get_title()
    assert "z = " in fig.get_suptitle()
    expected = np.log10(d_f[:, :, 8]) - np.log10(d_t[:, :, 8])
    np.testing.assert_allclose(np.asarray(diff.get_array()).T, expected, rtol=1e-5, atol=1e-6)
    for suffix in (".png", ".pdf", ".json"):
        assert (tmp_path / f"cs{suffix}").stat().st_size > 0
    assert_nonblank_png(tmp_path / "cs.png")
    assert (tmp_path / "cs.pdf").read_bytes().startswith(b"%PDF")


def test_cross_section_rows_axis_and_index(pair):
    truth, forecast = pair
    fig = viz.cross_section_panels(truth.fields["density"][1:], forecast.fields["density"][1:],
                                   axis=0, index=3, time_myr=truth.times[1:])
    assert len(fig.axes) == 3 * 3 + 2
    assert "x = 13.1 pc" in fig.get_suptitle()  # (3 + 0.5) * 60 / 16
    assert fig.axes[0].get_ylabel() == "z [pc]"
    clims = {ax.images[0].get_clim() for row in range(3) for ax in fig.axes[3 * row:3 * row + 2]}
    assert len(clims) == 1


def test_cross_section_survives_non_positive_forecast(pair):
    truth, _ = pair
    d = truth.fields["density"][2]
    bad = d.copy()
    bad[::2] = -1.0
    fig = viz.cross_section_panels(d, bad)
    assert all(np.isfinite(ax.images[0].get_array()).all() for ax in fig.axes[:3])


@pytest.mark.parametrize(
    "kwargs",
    [dict(index=16), dict(axis=3)],
)
def test_cross_section_rejects_bad_slices(pair, kwargs):
    d = pair[0].fields["density"][0]
    with pytest.raises(Mim3dError):
        viz.cross_section_panels(d, d, **kwargs)


def test_cross_section_rejects_shape_mismatch(pair):
    d = pair[0].fields["density"]
    with pytest.raises(Mim3dError, match="same shape"):
        viz.cross_section_panels(d[0], d[:2])


def test_save_figure_records_revision_and_parameters(tmp_path):
    fig = viz.plot_loss_curve(np.arange(10), np.linspace(1, 0.1, 10))
    paths = viz.save_figure(fig, tmp_path / "sub" / "loss.png", {"lr": 1e-3, "grid": np.int64(16),
                                                                 "channels": ("density",)})
    assert [p.name for p in paths] == ["loss.png", "loss.pdf", "loss.json"]
    sidecar = json.loads(paths[2].read_text())
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=os.path.dirname(viz.__file__))
    expected = revision.stdout.strip() if revision.returncode == 0 else "unknown"
    assert sidecar["git_revision"] == expected
    assert sidecar["parameters"] == {"lr": 1e-3, "grid": 16, "channels": ["density"]}
    embedded = json.loads(Image.open(paths[0]).text["mim3d"])
    assert embedded["git_revision"] == expected and embedded["parameters"]["grid"] == 16


def test_animation_has_one_frame_per_lead(pair, tmp_path):
    truth, forecast = pair
    written = viz.animate_forecast(truth.fields["density"], forecast.fields["density"],
                                   truth.times, tmp_path / "anim.gif", fps=5)
    assert written[0] == tmp_path / "anim.gif"
    frames = iio.imread(written[0], index=None)
    assert frames.shape[0] == truth.n_t
    assert np.var(frames[-1].astype(float)) > 0
    assert not np.array_equal(frames[0], frames[-1])
    assert (tmp_path / "anim.mp4" in written) == writers.is_available("ffmpeg")


def test_metric_vs_lead_lines_and_bands(tmp_path):
    lead = np.array([0.01, 0.02, 0.03])
    summary = {
        "MIM": {"lead": lead, "mean": np.array([0.1, 0.2, 0.3]), "std": np.full(3, 0.02)},
        "persistence": {"lead": lead, "mean": np.array([0.2, 0.4, 0.6]), "std": np.full(3, 0.05)},
        "zero": {"lead": lead, "mean": np.ones(3)},
    }
    fig = viz.plot_metric_vs_lead(summary, metric="VRMSE", path=tmp_path / "m")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == list(summary)
    assert len(ax.collections) == 2  # bands only where std is given
    assert ax.get_ylabel() == "VRMSE (density)"
    assert_nonblank_png(tmp_path / "m.png")
    assert json.loads((tmp_path / "m.json").read_text())["parameters"]["models"] == list(summary)
    with pytest.raises(Mim3dError, match="lacks"):
        viz.plot_metric_vs_lead({"MIM": {"lead": lead}})


def test_shell_radius_with_sedov_taylor(tmp_path):
    t = np.linspace(0.01, 0.2, 5)
    radii = {"simulation": 20 * (t / 0.2) ** 0.4, "forecast": 19 * (t / 0.2) ** 0.4}
    fig = viz.plot_shell_radius(t, radii, sedov_taylor=lambda x: 21 * (x / 0.2) ** 0.4,
                                path=tmp_path / "r")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["simulation", "forecast", "Sedov–Taylor"]
    assert len(ax.lines[-1].get_xdata()) == 200
    assert_nonblank_png(tmp_path / "r.png")
    fig = viz.plot_shell_radius(t, radii, sedov_taylor=21 * (t / 0.2) ** 0.4)
    assert len(fig.axes[0].lines) == 3
    with pytest.raises(Mim3dError):
        viz.plot_shell_radius(t, {"bad": np.ones(3)})


def test_region_overlap_colours_and_iou(tmp_path):
    truth = np.zeros((16, 16, 16), bool)
    forecast = np.zeros_like(truth)
    truth[2:10, 2:10, :] = True  # 64 cells a slice
    forecast[6:14, 2:10, :] = True  # overlaps truth on 32
    fig = viz.plot_region_overlap(truth, forecast, path=tmp_path / "o")
    ax = fig.axes[0]
    assert "IoU = 0.333" in ax.get_title()  # 32 / (64 + 64 - 32)
    category = np.asarray(ax.images[0].get_array()).T
    assert category[3, 3] == 1 and category[12, 3] == 2 and category[7, 3] == 3
    assert category[15, 15] == 0
    assert_nonblank_png(tmp_path / "o.png")
    with pytest.raises(Mim3dError, match="boolean"):
        viz.plot_region_overlap(truth.astype(float), forecast)


def test_loss_curve_into_given_axes():
    fig = viz.new_figure()
    ax = fig.add_subplot()
    out = viz.plot_loss_curve(np.arange(50), np.exp(-np.arange(50) / 10) + 0.1,
                              val_steps=[10, 20, 30], val_losses=[0.5, 0.3, 0.2], ax=ax)
    assert out is fig
    assert [line.get_label() for line in ax.lines] == ["training"]
    right = [a for a in fig.axes if a is not ax]  # validation on its own axis (other units)
    assert len(right) == 1 and [line.get_label() for line in right[0].lines] == ["validation"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation"]
    assert ax.get_yscale() == "log"


# ----------------------------------------------------------------------------- 3D


def test_render_shell_screenshot(pair, tmp_path):
    from mim3d.render3d import render_shell

    d = pair[0].fields["density"]
    image = render_shell(d[3], window_size=(240, 200), path=tmp_path / "shell.png")
    assert image.shape == (200, 240, 3) and image.dtype == np.uint8
    assert image.astype(float).var() > 0
    assert np.array_equal(iio.imread(tmp_path / "shell.png")[..., :3], image)
    other = render_shell(d[1], window_size=(240, 200))
    assert not np.array_equal(image, other)
    bare = render_shell(d[3], window_size=(240, 200), slices=False, iso_levels=[2.0])
    assert not np.array_equal(image, bare)


def test_render_shell_in_child_process(pair):
    from mim3d.render3d import render_shell

    d = pair[0].fields["density"][3]
    here = render_shell(d, window_size=(160, 120))
    child = render_shell(d, window_size=(160, 120), subprocess=True)
    assert child.shape == here.shape
    assert np.abs(child.astype(int) - here.astype(int)).mean() < 2.0


def test_show_shell_returns_a_rendered_plotter():
    from mim3d.render3d import show_shell

    volume = 10.0 ** np.random.default_rng(0).random((8, 8, 8))
    plotter = show_shell(volume, window_size=(120, 100), jupyter_backend="trame")
    try:
        png = plotter._repr_png_()  # what a notebook shows for it
        assert png and iio.imread(png).astype(float).var() > 0
    finally:
        plotter.close()


def test_figures_show_in_notebooks_without_pyplot():
    fig = viz.plot_loss_curve(np.arange(5), np.arange(1, 6))
    png = fig._repr_png_()  # what IPython displays for a returned figure
    assert iio.imread(png).astype(float).var() > 0
