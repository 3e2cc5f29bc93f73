"""The ConvLSTM baseline: MIM's interface, shapes, weight count, save/load, training."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml

from mim3d.config import ModelConfig
from mim3d.convlstm import ConvLSTMForecaster, convlstm_parameters, matching_hidden
from mim3d.dummy import write_dummy_well
from mim3d.errors import Mim3dError
from mim3d.model import MIM
from mim3d.normalize import fit, stats_path
from mim3d.predict import forecast_future, load_model, predict
from mim3d.train import train

CFG = ModelConfig(num_hidden=(4, 4), filter_size=3, patch_size=2, img_width=8, img_channel=1)


@pytest.fixture(scope="module")
def model():
    import keras

    keras.utils.set_random_seed(0)
    return ConvLSTMForecaster(CFG)


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).standard_normal((2, 6, 8, 8, 8, 1)).astype(np.float32)


@pytest.mark.parametrize("rank,grid,patch_size,channels", [(3, 8, 2, 1), (3, 4, 1, 2),
                                                           (2, 8, 2, 3)])
def test_shapes_and_weight_count(rank, grid, patch_size, channels):
    cfg = ModelConfig(num_hidden=(3, 3, 3), filter_size=3, patch_size=patch_size,
                      img_width=grid, img_channel=channels, rank=rank)
    m = ConvLSTMForecaster(cfg)
    xs = np.zeros((2, 5, *(grid,) * rank, channels), np.float32)
    assert m(xs, input_length=2).shape == (2, 4, *(grid,) * rank, channels)
    assert m.count_params() == convlstm_parameters(cfg)
    assert len(m.trainable_weights) == 3 * 3 + 2


def test_eager_and_compiled_agree_and_inputs_rule(model, x):
    eager = model(x, input_length=3).numpy()
    compiled = model.forecast(x, 3).numpy()
    assert np.abs(eager - compiled).max() <= 1e-6
    # The first frames see only true inputs: changing the last frame changes nothing in test
    # mode (the model feeds back its own output after input_length) ...
    x2 = x.copy()
    x2[:, 3:] += 5.0
    assert np.array_equal(model.forecast(x2, 3).numpy(), compiled)
    # ... but with a mask of ones (teacher forcing) the later outputs do change.
    ones = np.ones((2, 6 - 3 - 1), np.float32)
    forced = model.forecast(x2, 3, ones).numpy()
    assert np.array_equal(forced[:, :3], compiled[:, :3])
    assert np.abs(forced[:, 3:] - compiled[:, 3:]).max() > 1e-4
    # a per-voxel mask on the physical grid is the same as one flag per step
    full = np.ones((2, 2, 8, 8, 8, 1), np.float32)
    assert np.allclose(model(x2, input_length=3, sampling_mask=full).numpy(), forced, atol=1e-5)
    with pytest.raises(Mim3dError, match="sampling_mask"):
        model(x, input_length=3, sampling_mask=np.ones((2, 3), np.float32))
    # a mask of zeros is the test mode
    assert np.allclose(model(x, input_length=3, sampling_mask=np.zeros((2, 2))).numpy(), eager,
                       atol=1e-6)


def test_residual_adds_the_input_frame(model, x):
    if "residual" not in {f.name for f in dataclasses.fields(ModelConfig)}:
        pytest.skip("this ModelConfig has no residual setting")
    res = ConvLSTMForecaster(dataclasses.replace(CFG, residual=True))
    res.set_weights(model.get_weights())
    plain, with_input = model(x, input_length=3).numpy(), res(x, input_length=3).numpy()
    # frames fed from the data (j < input_length): same states, output shifted by the input
    np.testing.assert_allclose(with_input[:, :3], plain[:, :3] + x[:, :3], atol=1e-5)


def test_predict_helpers_and_bad_input(model, x):
    out = predict(model, x, 3, batch_size=1)
    assert out.shape == (2, 5, 8, 8, 8, 1)
    assert forecast_future(model, x[:, :3], 2).shape == (2, 2, 8, 8, 8, 1)
    with pytest.raises(Mim3dError, match="grid×channels"):
        model.check_inputs((1, 6, 8, 8, 4, 1), 3)
    with pytest.raises(Mim3dError, match="input_length"):
        model.check_inputs(x.shape, 6)
    with pytest.raises(Mim3dError, match="needs input_length"):
        model(x)


def test_save_load_identical(model, x, tmp_path):
    path = tmp_path / "c.keras"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, ConvLSTMForecaster)
    assert loaded.config == model.config
    assert [w.path for w in loaded.weights] == [w.path for w in model.weights]
    assert np.array_equal(loaded.forecast(x, 3).numpy(), model.forecast(x, 3).numpy())


def test_matching_hidden_is_closest_in_weights():
    mim_cfg = dataclasses.replace(CFG, num_hidden=(6, 6, 6))
    target = MIM(mim_cfg).count_params()
    (h, *rest) = matching_hidden(mim_cfg)
    assert len(rest) == 2 and all(r == h for r in rest)

    def count(width):
        return convlstm_parameters(dataclasses.replace(mim_cfg, num_hidden=(width,) * 3))

    assert abs(count(h) - target) <= abs(count(h - 1) - target)
    assert abs(count(h) - target) <= abs(count(h + 1) - target)
    assert abs(count(h) - target) / target < 0.1
    assert len(matching_hidden(mim_cfg, num_layers=1)) == 1


def test_trains_with_the_trainer(tmp_path):
    data = write_dummy_well(tmp_path / "data", n=2, grid=8, n_t=6, split="train")
    fit(data, ("density",)).save(stats_path(data))
    config = {"model": {"architecture": "convlstm", "num_hidden": [4], "filter_size": 3,
                        "patch_size": 2},
              "train": {"batch_size": 2, "max_iterations": 2, "input_length": 3,
                        "total_length": 6, "reverse_input": False, "lr": 0.01},
              "data": {"path": str(data), "fields": ["density"]}}
    model, history = train(config, tmp_path / "run", progress=False)
    assert isinstance(model, ConvLSTMForecaster)
    assert history.step == [1, 2] and all(np.isfinite(history.loss))
    saved = yaml.safe_load((tmp_path / "run" / "run.yaml").read_text())
    assert saved["model"]["architecture"] == "convlstm"
    loaded = load_model(tmp_path / "run" / "model.keras")
    assert isinstance(loaded, ConvLSTMForecaster)
    xs = np.random.default_rng(1).standard_normal((1, 6, 8, 8, 8, 1)).astype(np.float32)
    assert np.array_equal(loaded.forecast(xs, 3).numpy(), model.forecast(xs, 3).numpy())
    # one window per trajectory, so both iterations see the same batch: the step helped
    assert history.loss[1] < history.loss[0]
