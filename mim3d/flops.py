"""Analytic floating-point operation count of 3D-MIM (the convolutions; everything else is small).

A stride-1 'same' convolution over ``V`` voxels makes ``V · k^rank · c_in · c_out`` multiply-adds
per sample, counted as 2 FLOP each. Its backward pass makes two such products (input gradient and
kernel gradient), so one training step costs 3× its forward pass. Gate nonlinearities, layer norms
and the optimizer update are left out: they are O(V · channels) per step, < 1 % at 3D-MIM's shapes.

Per time step (original ``mim.py``; see :mod:`mim3d.model`): the ST-LSTM's three gate convolutions
and 1×1 ``cell_reduce``; per MIM block five gate convolutions (time, spatio, input and MIM-S'
two) and ``cell_reduce``; per MIMN (from the second step on) two; the 1×1 ``back_to_pixel``.
The sequence ``T`` makes ``T − 1`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from mim3d.config import ModelConfig


@dataclass(frozen=True)
class ConvShape:
    """One convolution of the model: ``c_in → c_out`` channels with a ``k^rank`` kernel.

    Attributes:
        name: the layer path, e.g. ``stlstm_2/mims/input_to_state``.
        c_in: input channels.
        c_out: output channels.
        kernel: kernel side ``k``.
        first_step: True when it runs at the first time step too (the MIMNs start at t = 1).
    """

    name: str
    c_in: int
    c_out: int
    kernel: int
    first_step: bool = True


def conv_shapes(config: ModelConfig) -> list[ConvShape]:
    """Every convolution one time step runs, in the order of :meth:`mim3d.model.MIM._step`."""
    nh, k, c = config.num_hidden[0], config.filter_size, config.patched_channels
    shapes = [ConvShape("stlstm_1/input_to_state", c, 4 * nh, k),
              ConvShape("stlstm_1/time_state_to_state", nh, 4 * nh, k),
              ConvShape("stlstm_1/spatio_state_to_state", nh, 4 * nh, k),
              ConvShape("stlstm_1/cell_reduce", 2 * nh, nh, 1)]
    for l in range(1, config.num_layers):
        shapes += [ConvShape(f"stlstm_diff{l}/input_to_state", nh, 4 * nh, k, False),
                   ConvShape(f"stlstm_diff{l}/state_to_state", nh, 4 * nh, k, False)]
        block = f"stlstm_{l + 1}"
        shapes += [ConvShape(f"{block}/spatio_state_to_state", nh, 4 * nh, k),
                   ConvShape(f"{block}/time_state_to_state", nh, 3 * nh, k),
                   ConvShape(f"{block}/input_to_state", nh, 4 * nh, k),
                   ConvShape(f"{block}/mims/state_to_state", nh, 4 * nh, k),
                   ConvShape(f"{block}/mims/input_to_state", nh, 4 * nh, k),
                   ConvShape(f"{block}/cell_reduce", 2 * nh, nh, 1)]
    shapes.append(ConvShape("back_to_pixel", nh, c, 1))
    return shapes


def conv_flops(shape: ConvShape, config: ModelConfig, batch: int = 1) -> int:
    """Forward FLOPs of one call of ``shape`` on ``batch`` samples (2 per multiply-add)."""
    voxels = 1
    for n in config.patched_grid:
        voxels *= n
    return 2 * batch * voxels * shape.kernel**config.rank * shape.c_in * shape.c_out


def forward_flops(config: ModelConfig, batch: int, total_length: int) -> int:
    """FLOPs of one forward pass over ``total_length`` frames (``T − 1`` time steps)."""
    steps = total_length - 1
    total = 0
    for shape in conv_shapes(config):
        calls = steps if shape.first_step else steps - 1
        total += calls * conv_flops(shape, config, batch)
    return total


def train_step_flops(config: ModelConfig, batch: int, total_length: int) -> int:
    """FLOPs of one optimizer step: forward + backward (input and kernel gradients) = 3× forward."""
    return 3 * forward_flops(config, batch, total_length)
