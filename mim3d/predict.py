"""Forecast with a saved model: load, validate the input, predict in batches.

``predict`` returns all ``T − 1`` generated frames in the layout of the original's
``gen_images`` after un-patching: frame ``j`` predicts input frame ``j + 1``. Without a mask the
run is autoregressive after ``input_length`` (the original's test mode); with a mask it mixes
truth and prediction as the original's train mode.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import keras
import numpy as np
from tqdm.auto import tqdm

from mim3d.errors import Mim3dError
from mim3d.io import check_writable_output, load_array, save_npy
from mim3d.model import MIM


def load_model(path: str | Path) -> MIM:
    """Load a ``.keras`` 3D-MIM model with a clear error for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise Mim3dError(
            f"model file {path} does not exist; train one (mim3d train) or convert an original "
            f"checkpoint (mim3d convert-original)"
        )
    if not zipfile.is_zipfile(path):
        raise Mim3dError(
            f"{path} is not a .keras model archive. An original TF1 checkpoint must first be "
            f"converted: mim3d convert-original --checkpoint DIR --config FLAGS.json --output M.keras"
        )
    import mim3d.convlstm  # noqa: F401  registers the baseline's class for deserialisation

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as err:  # keras raises many types for foreign archives
        raise Mim3dError(f"cannot load {path} as a mim3d model: {err}") from None
    if not (isinstance(model, MIM) or hasattr(model, "forecast")):
        raise Mim3dError(f"{path} holds a {type(model).__name__}, not a mim3d forecast model")
    return model


def _as_batch(x: np.ndarray, rank: int, what: str) -> tuple[np.ndarray, bool]:
    x = np.asarray(x)
    single = x.ndim == rank + 2
    if single:
        x = x[None]
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise Mim3dError(f"{what} must hold numbers; got dtype {x.dtype}")
    return x.astype(np.float32, copy=False), single


def predict(model: MIM, x: np.ndarray, input_length: int, mask: np.ndarray | None = None,
            batch_size: int | None = None, progress: bool = False) -> np.ndarray:
    """Generated frames for ``x``.

    Args:
        x: ``(B, T, W, H, D, C)`` or one sequence ``(T, W, H, D, C)``, in the model's space.
        input_length: context frames ``L`` (1 <= L < T).
        mask: optional scheduled-sampling mask (see :class:`mim3d.model.MIM`), batch first.
        batch_size: sequences per forward pass (default: all at once).

    Returns:
        float32 ``(B, T−1, W, H, D, C)`` (or ``(T−1, …)`` for one sequence).
    """
    rank = model.config.rank
    x, single = _as_batch(x, rank, "the input")
    model.check_inputs(x.shape, input_length)
    if not np.all(np.isfinite(x[:, :input_length] if mask is None else x)):
        bad = np.argwhere(~np.isfinite(x))[0]
        raise Mim3dError(
            f"the input holds NaN or inf values (first at index {tuple(int(i) for i in bad)}); "
            f"clean or mask the data before forecasting"
        )
    if mask is not None:
        mask = np.asarray(mask, dtype=np.float32)
        if single:
            mask = mask[None]
        if mask.shape[0] != x.shape[0]:
            raise Mim3dError(f"the mask has {mask.shape[0]} sequences, the input {x.shape[0]}")
    if mask is None:  # future frames have no influence in test mode; keep NaN out of 0 * x
        x = x.copy()
        x[:, input_length:] = np.nan_to_num(x[:, input_length:], nan=0.0, posinf=0.0,
                                            neginf=0.0)
    batch_size = batch_size or x.shape[0]
    outputs = []
    starts = range(0, x.shape[0], batch_size)
    for start in tqdm(starts, desc="forecast", unit="batch", disable=not progress):
        sl = slice(start, start + batch_size)
        out = model.forecast(x[sl], input_length, None if mask is None else mask[sl])
        outputs.append(out.numpy())
    result = np.concatenate(outputs, axis=0).astype(np.float32)
    return result[0] if single else result


def forecast_future(model: MIM, context: np.ndarray, n_future: int,
                    batch_size: int | None = None, progress: bool = False) -> np.ndarray:
    """Forecast ``n_future`` frames after ``context`` ``(B, L, …)``: returns ``(B, n_future, …)``."""
    rank = model.config.rank
    context, single = _as_batch(context, rank, "the context")
    if n_future < 1:
        raise Mim3dError(f"n_future must be >= 1; got {n_future}")
    n_in = context.shape[1]
    pad = np.zeros((context.shape[0], n_future, *context.shape[2:]), np.float32)
    out = predict(model, np.concatenate([context, pad], axis=1), n_in, batch_size=batch_size,
                  progress=progress)[:, n_in - 1:]
    return out[0] if single else out


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="forecast with a .keras model",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="the .keras model")
    p.add_argument("--input", required=True,
                   help=".npy of (B, T, W, H, D, C) or one sequence (T, W, H, D, C)")
    p.add_argument("--input-length", type=int, required=True, help="number of context frames")
    p.add_argument("--output", required=True, help=".npy to write: all T-1 generated frames")
    p.add_argument("--mask", help="optional scheduled-sampling mask .npy (original layout)")
    p.add_argument("--batch-size", type=int, default=None, help="sequences per forward pass")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    def run(args) -> int:
        check_writable_output(args.output, args.overwrite)
        model = load_model(args.model)
        x = load_array(args.input, "input")
        mask = load_array(args.mask, "mask") if args.mask else None
        out = predict(model, x, args.input_length, mask, args.batch_size, progress=True)
        save_npy(args.output, out)
        print(f"wrote {args.output}: {out.shape} float32")
        return 0

    p.set_defaults(func=run)
