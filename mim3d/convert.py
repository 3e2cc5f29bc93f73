"""Convert a checkpoint of the original 3D-MIM (TF1, kyaFUK/3D-MIM) into a ``.keras`` model.

The weights are read by variable name with ``tf.train.load_checkpoint`` (no TF1 graph code).
Only the model weights under ``predrnn/`` are used; the ``ExponentialMovingAverage`` shadows and
the optimizer slots (``Variable``, ``Variable_1``, ...) are ignored. Every expected weight must be
present with the expected shape, and no unexpected ``predrnn/`` weight may be left over.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

from mim3d.config import ModelConfig, load_flags
from mim3d.errors import Mim3dError
from mim3d.io import atomic_path, check_writable_output
from mim3d.model import MIM

log = logging.getLogger(__name__)


def _checkpoint_prefix(checkpoint: str | Path) -> str:
    path = Path(checkpoint)
    if path.is_dir():
        prefix = tf.train.latest_checkpoint(str(path))
        if prefix is None:
            indexes = sorted(path.glob("*.index"))
            if not indexes:
                raise Mim3dError(
                    f"no TF checkpoint in folder {path} (expected a 'checkpoint' file or "
                    f"model.ckpt-N.index/.data files); point --checkpoint at the folder the "
                    f"original run.py saved to, or at a prefix such as {path}/model.ckpt-1000"
                )
            prefix = str(indexes[-1].with_suffix(""))
        return prefix
    if Path(f"{path}.index").is_file():
        return str(path)
    raise Mim3dError(
        f"checkpoint {path} not found: expected a folder or a prefix with {path}.index beside it"
    )


def read_original_weights(checkpoint: str | Path) -> dict[str, np.ndarray]:
    """``{name: array}`` of the model weights (``predrnn/…``, no EMA) in an original checkpoint."""
    prefix = _checkpoint_prefix(checkpoint)
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as err:
        raise Mim3dError(f"cannot read checkpoint {prefix}: {err}") from None
    names = [n for n in reader.get_variable_to_shape_map()
             if n.startswith("predrnn/") and "ExponentialMovingAverage" not in n]
    if not names:
        raise Mim3dError(
            f"checkpoint {prefix} holds no 'predrnn/' weights: it is not a 3D-MIM checkpoint "
            f"of the original code"
        )
    return {n: reader.get_tensor(n) for n in names}


def model_from_original(checkpoint: str | Path, flags: dict | str | Path) -> MIM:
    """Build a :class:`MIM` from the original flags and load the checkpoint's weights into it."""
    if not isinstance(flags, dict):
        flags = load_flags(flags)
    config = ModelConfig.from_original_flags(flags)
    model = MIM(config)
    weights = read_original_weights(checkpoint)
    expected = model.original_weights()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise Mim3dError(
            "the checkpoint does not match the flags' architecture "
            f"(num_hidden={config.num_hidden}): missing weights {missing or 'none'}; "
            f"unexpected weights {unexpected or 'none'}. Check num_hidden in the flags."
        )
    wrong = [f"{n}: checkpoint {tuple(weights[n].shape)}, flags imply {tuple(v.shape)}"
             for n, v in expected.items() if tuple(weights[n].shape) != tuple(v.shape)]
    if wrong:
        raise Mim3dError(
            "weight shapes differ between checkpoint and flags (grid, patch_size, "
            "filter_size, img_channel or num_hidden): " + "; ".join(wrong)
        )
    for name, variable in expected.items():
        variable.assign(weights[name])
    log.info("loaded %d weights from %s", len(expected), checkpoint)
    return model


def save_model(model: MIM, output: str | Path, overwrite: bool = False) -> Path:
    """Save ``model`` as ``.keras`` atomically (a kill leaves no half-written file)."""
    output = Path(output)
    if output.suffix != ".keras":
        raise Mim3dError(f"the output model must end in .keras; got {output}")
    check_writable_output(output, overwrite)
    with atomic_path(output) as tmp:
        model.save(tmp)
    return output


def convert_original(checkpoint: str | Path, flags: dict | str | Path, output: str | Path,
                     overwrite: bool = False) -> MIM:
    """Read an original checkpoint and write it as a ``.keras`` model; returns the model."""
    check_writable_output(output, overwrite)
    model = model_from_original(checkpoint, flags)
    save_model(model, output, overwrite)
    return model


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert-original",
        help="convert an original 3D-MIM TF1 checkpoint to a .keras model",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--checkpoint", required=True,
                   help="checkpoint folder (with a 'checkpoint' file) or prefix (model.ckpt-N)")
    p.add_argument("--config", required=True,
                   help="FLAGS.json: the original run.py flags (num_hidden, img_width, ...)")
    p.add_argument("--output", required=True, help="the .keras model to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    def run(args) -> int:
        model = convert_original(args.checkpoint, args.config, args.output, args.overwrite)
        n = sum(int(np.prod(v.shape)) for v in model.weights)
        print(f"wrote {args.output}: {model.config.num_layers} layers, {n} parameters, "
              f"grid {model.config.grid}, patch {model.config.patch_size}")
        return 0

    p.set_defaults(func=run)
