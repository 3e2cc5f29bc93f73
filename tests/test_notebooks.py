"""The workbook: every notebook runs under papermill in SMOKE mode and draws real pictures.

One session fixture runs 01_data (simulates the tiny SMOKE data set), 02_training and
03_evaluation once into a temporary folder; the explorer and the figure notebooks reuse that
run. Nothing is written to the checkout's data/, runs/ or figures/.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import time
from pathlib import Path

import imageio.v3 as iio
import nbformat
import numpy as np
import pytest

from mim3d import workbook as wb

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FIRST = ("01_data", "02_training", "03_evaluation")
LATER = [p.stem for p in NOTEBOOKS if p.stem not in FIRST]
CELL_TIMEOUT = 300  # seconds per cell; a SMOKE notebook should take well under a minute
TIMES: dict[str, float] = {}

# what each figure notebook must write into FIG_DIR
FIGURES = {
    "fig1_cross_sections": ["fig1_cross_sections.png", "fig1_cross_sections.pdf"],
    "fig2_animation": ["fig2_animation.gif"],
    "fig3_metrics_vs_lead": ["fig3_metrics_vs_lead.png", "fig3_metrics_vs_lead.pdf"],
    "fig4_shell_radius": ["fig4_shell_radius.png", "fig4_shell_radius.pdf"],
    "fig5_region_overlap": ["fig5_region_overlap.png", "fig5_region_overlap.pdf"],
}


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _run(name: str, folders: dict, **extra) -> nbformat.NotebookNode:
    import papermill as pm

    out = folders["out"] / f"{name}.ipynb"
    params = {"SMOKE": True, "DATA_DIR": str(folders["data"]), "RUN_DIR": str(folders["run"]),
              "FIG_DIR": str(folders["figs"]), "EVAL_DIR": str(folders["eval"]), **extra}
    t0 = time.perf_counter()
    pm.execute_notebook(ROOT / "notebooks" / f"{name}.ipynb", out, parameters=params,
                        kernel_name="python3", execution_timeout=CELL_TIMEOUT,
                        progress_bar=False, cwd=str(folders["out"]))
    TIMES[name] = time.perf_counter() - t0
    print(f"{name}: {TIMES[name]:.1f} s")
    return _read(out)


def _not_blank(image: np.ndarray, what: str) -> None:
    image = np.asarray(image, dtype=np.float64)
    assert image.size > 0 and image.var() > 0, f"{what} is blank (one colour)"


def _outputs(nb, mime: str) -> list:
    return [o["data"][mime] for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if mime in o.get("data", {})]


@pytest.fixture(scope="session")
def smoke(tmp_path_factory) -> dict:
    """Data, a trained run and its evaluation made by running 01, 02 and 03 in SMOKE mode."""
    base = tmp_path_factory.mktemp("workbook")
    folders = {k: base / k for k in ("data", "run", "figs", "eval", "out")}
    folders["out"].mkdir()
    folders["executed"] = {name: _run(name, folders) for name in FIRST}
    return folders


# ----------------------------------------------------------------- committed notebooks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_with_one_parameters_cell(path):
    nb = _read(path)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    dirty = [i for i, c in enumerate(code) if c.outputs or c.execution_count is not None]
    assert not dirty, f"{path.name}: code cells {dirty} hold outputs; clear them before committing"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell must be tagged 'parameters'"
    names = {t.id for node in ast.parse(tagged[0].source).body if isinstance(node, ast.Assign)
             for t in node.targets}
    assert {"SMOKE", "DATA_DIR", "RUN_DIR", "FIG_DIR", "EVAL_DIR"} <= names
    assert "SMOKE = False" in tagged[0].source
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_import_only_mim3d(path):
    """Notebooks hold no logic: they import mim3d (and IPython's display) and call it."""
    for cell in _read(path).cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                roots = set()
            assert roots <= {"mim3d", "IPython"}, f"{path.name} imports {sorted(roots)}"
            assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda)), \
                f"{path.name} defines a function or class: move it into mim3d"


def test_notebook_list_matches_the_figures():
    assert [p.stem for p in NOTEBOOKS][:4] == ["01_data", "02_training", "03_evaluation",
                                               "04_explore"]
    assert set(FIGURES) <= {p.stem for p in NOTEBOOKS}


# ----------------------------------------------------------------- small helpers


def test_setup_defaults_follow_the_mode(tmp_path):
    demo = wb.setup(False, fig_dir=tmp_path / "f", eval_dir=tmp_path / "e")
    smoke = wb.setup(True, fig_dir=tmp_path / "f", eval_dir=tmp_path / "e")
    assert (demo.preset, smoke.preset) == ("demo", "smoke")
    assert demo.data == wb.ROOT / "data" / "demo" and smoke.run == wb.ROOT / "runs" / "smoke"
    assert (tmp_path / "f").is_dir() and (tmp_path / "e").is_dir()
    assert wb.project_path(tmp_path) == tmp_path


def test_run_config_applies_smoke_fixes_and_overrides():
    config = wb.run_config("smoke", "somewhere", train={"max_iterations": 7})
    assert config["data"]["path"] == "somewhere"
    assert config["data"]["downsample"] == 1 and config["train"]["max_iterations"] == 7
    with pytest.raises(ValueError, match="unknown section"):
        wb.run_config("smoke", "x", nonsense={})


def test_lead_frames_and_table():
    assert wb.lead_frames(6) == [0, 2, 5]
    assert wb.lead_frames(1) == [0] and wb.lead_frames(2, k=3) == [0, 1]
    text = wb.table([{"model": "a", "iou": 0.123456}, {"model": "bb", "iou": None}])
    assert text.splitlines()[1].split() == ["a", "0.1235"] and len(text.splitlines()) == 3


def test_missing_evaluation_is_an_error_that_says_what_to_run(tmp_path):
    with pytest.raises(ValueError, match="run notebook 03_evaluation first"):
        wb.load_summary(tmp_path, "test")
    with pytest.raises(ValueError, match="03_evaluation"):
        wb.load_forecast(tmp_path / "forecast_test.npz")


# ----------------------------------------------------------------- SMOKE runs


def test_data_notebook_wrote_data_and_pictures(smoke):
    assert (smoke["data"] / "normalizer.json").is_file()
    for split in ("train", "valid", "test", "uniform"):
        assert list((smoke["data"] / "data" / split).glob("*.hdf5")), split
    for name in ("data_cross_section", "data_density_pdf"):
        _not_blank(iio.imread(smoke["figs"] / f"{name}.png"), name)
        record = json.loads((smoke["figs"] / f"{name}.json").read_text())
        assert record["git_revision"] and record["parameters"]


def test_training_notebook_trained_and_drew_the_loss(smoke):
    for name in ("model.keras", "normalizer.json", "run.yaml", "metrics.csv"):
        assert (smoke["run"] / name).is_file(), name
    assert (smoke["run"].with_name("run_convlstm") / "model.keras").is_file(), "no ConvLSTM"
    pngs = _outputs(smoke["executed"]["02_training"], "image/png")
    assert pngs, "no loss curve was displayed"
    _not_blank(iio.imread(io.BytesIO(base64.b64decode(pngs[-1]))), "the live loss curve")


def test_evaluation_notebook_wrote_scores_and_a_verdict(smoke):
    for split in ("test", "uniform"):
        summary = json.loads((smoke["eval"] / split / "summary.json").read_text())
        assert "persistence" in summary["verdict"]
        assert set(summary["settings"]["baselines"]) == {"persistence", "convlstm"}
        assert (smoke["eval"] / f"forecast_{split}.npz").is_file()
    text = "".join(o.get("text", "") for c in smoke["executed"]["03_evaluation"].cells
                   if c.cell_type == "code" for o in c.outputs)
    assert "persistence" in text and "abs_radius_peak_error" in text


def test_training_notebook_reuses_a_trained_run(smoke, tmp_path):
    """TRAIN = False with a pretrained run folder loads it instead of training."""
    folders = {**smoke, "run": tmp_path / "unused", "figs": tmp_path / "figs",
               "out": tmp_path}
    nb = _run("02_training", folders, TRAIN=False, PRETRAINED=str(smoke["run"]))
    assert not (tmp_path / "unused").exists()
    assert _outputs(nb, "image/png"), "the pretrained run's loss curve is missing"


@pytest.mark.parametrize("name", LATER)
def test_later_notebooks_run_and_draw(smoke, name):
    nb = _run(name, smoke)
    for fname in FIGURES.get(name, []):
        path = smoke["figs"] / fname
        assert path.is_file() and path.stat().st_size > 0, f"{name} did not write {fname}"
        if path.suffix == ".png":
            _not_blank(iio.imread(path), fname)
        if path.suffix == ".gif":
            frames = iio.imread(path, index=None)
            assert frames.shape[0] >= 2, "the animation has one frame"
            _not_blank(frames, fname)
        record = json.loads(path.with_suffix(".json").read_text())
        assert record["git_revision"] and "run" in record["parameters"]
    if name == "04_explore":  # the 3D picture rendered after TensorFlow predicted
        images = _outputs(nb, "image/png")
        assert images, "the 3D view shows no picture"
        _not_blank(iio.imread(io.BytesIO(base64.b64decode(images[-1]))), "the 3D view")
        assert _outputs(nb, "application/vnd.jupyter.widget-view+json"), "no explorer widget"


def test_a_failing_notebook_fails_loudly(smoke, tmp_path):
    import papermill as pm

    folders = {**smoke, "eval": tmp_path / "empty", "figs": tmp_path, "out": tmp_path}
    with pytest.raises(pm.PapermillExecutionError, match="03_evaluation"):
        _run("fig3_metrics_vs_lead", folders)
