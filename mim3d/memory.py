"""What a training step keeps for its backward pass, read from the traced graph (no run needed).

The time loop's forward pass pushes every tensor its gradient will need onto a list per time
step (``TensorListPushBack`` in the ``tf.while_loop`` body). Their sizes say how a training
step's memory grows with the sequence length, and which tensors it holds, before anything runs:

>>> stored_per_step(MIM(ModelConfig(img_width=32)), batch=1)["bytes"] / 2**20   # MiB per step

``mim3d memory --set model.img_width=64`` prints it for every ``recompute`` mode.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
from pathlib import Path

import numpy as np
import tensorflow as tf


def _loop_bodies(graph) -> list:
    # TensorFlow keeps a traced function's while-loop bodies in its graph's function library
    functions = getattr(graph, "_functions", {})
    return [f.graph for name, f in functions.items()
            if "while_body" in str(name) and "rewritten" not in str(name)
            and "gradient" not in str(name) and hasattr(f, "graph")]


def stored_per_step(model, batch: int = 1) -> dict:
    """Bytes the training step stores per time step (``t >= 1``) for its backward pass.

    Args:
        model: a :class:`mim3d.forecaster.Forecaster`; traced at its own grid, ``T = 3``.
        batch: batch size the sizes are given for.

    Returns:
        ``{"bytes": int, "tensors": int, "by_op": {op type: bytes}, "weights": int}`` where
        ``weights`` counts variable reads stored per step (0 when weights are read once).
    """
    from mim3d.model import l2_loss

    cfg = model.config
    x = tf.zeros((batch, 3, *cfg.grid, cfg.img_channel))

    @tf.function
    def loss_and_grads(x):
        with tf.GradientTape() as tape:
            y = model(x, input_length=1, training=True)
            loss = l2_loss(y, x)
        return tape.gradient(loss, model.trainable_variables)

    graph = loss_and_grads.get_concrete_function(x).graph
    bodies = _loop_bodies(graph)
    if not bodies:
        raise RuntimeError("no while-loop body found in the traced training step")
    best = None
    for body in bodies:
        by_op, total, count, weights = collections.Counter(), 0, 0, 0
        for op in body.get_operations():
            if op.type != "TensorListPushBack":
                continue
            t = op.inputs[1]
            dims = t.shape.as_list() if t.shape.rank is not None else []
            n = int(np.prod([batch if d is None else d for d in dims]))
            size = n * t.dtype.size
            total, count = total + size, count + 1
            by_op[t.op.type] += size
            weights += t.op.type == "ReadVariableOp"
        if best is None or total > best["bytes"]:
            best = {"bytes": total, "tensors": count, "by_op": dict(by_op), "weights": weights}
    return best


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``mim3d memory``."""
    p = subparsers.add_parser(
        "memory", help="memory a training step keeps per time step, for each recompute mode",
        description="Trace (not run) one training step of a run's model and print the bytes its "
                    "time loop keeps per time step for the backward pass, for each "
                    "model.recompute mode (the peak also holds TensorFlow itself, ~0.9 GB, and "
                    "one step's temporaries).")
    p.add_argument("--config", help="run YAML (default: the built-in defaults)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. model.img_width=64 (repeatable)")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from mim3d.config import RECOMPUTE, ModelConfig
    from mim3d.errors import Mim3dError
    from mim3d.model import MIM
    from mim3d.runconfig import load_run_config

    run = load_run_config(args.config, args.set, need_data=False)
    model = dict(run.model)
    if model.pop("architecture", "mim") != "mim":
        raise Mim3dError("mim3d memory measures the 3D-MIM model (model.architecture: mim); "
                         "the recompute modes do not apply to the baselines")
    note = ""
    if "img_width" not in model:  # as the trainer: the grid and channels of the data
        data_path = run.data.get("path")
        if data_path and Path(data_path).exists():
            from mim3d.data import DataConfig, model_grid

            data = DataConfig(**{**run.data, "total_length": run.train.total_length,
                                 "batch_size": run.train.batch_size})
            grid = model_grid(data)
            model = {**dict(zip(("img_width", "img_height", "img_depth"), grid, strict=True)),
                     "img_channel": len(data.channels), **model}
        else:
            note = (" (no model.img_width and no data at data.path: the default grid; "
                    "give --set model.img_width=N)")
    config = ModelConfig.from_dict(model)
    batch, steps = run.train.batch_size, run.train.total_length - 1
    print(f"grid {config.grid}, num_hidden {config.num_hidden}, filter {config.filter_size}, "
          f"batch {batch}, {steps} time steps{note}")
    print(f"{'recompute':10s} {'MiB / step':>11s} {'GiB for all steps':>18s}")
    for mode in RECOMPUTE:
        stored = stored_per_step(MIM(dataclasses.replace(config, recompute=mode)), batch)
        mib = stored["bytes"] / 2**20
        print(f"{mode:10s} {mib:11.1f} {mib * steps / 1024:18.2f}"
              + ("   (default)" if mode == ModelConfig.recompute else ""))
    return 0
