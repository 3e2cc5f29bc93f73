"""Model configuration: a frozen dataclass named after the original 3D-MIM flags.

The original (kyaFUK/3D-MIM, ``run.py``) passes ``num_hidden`` as a comma string and derives the
grid from ``img_width`` (``img_height = 0`` meaning "same as width"). Here every field is typed
and validated once, so a wrong value fails before any weight is created.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from mim3d.errors import Mim3dError

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
RECOMPUTE = ("gates", "steps", "off")


def _from_dict(cls, values: dict, what: str):
    """``cls(**values)``, refusing unknown keys with the list of valid ones."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise Mim3dError(f"unknown {what} setting(s) {unknown}; valid settings are "
                         f"{sorted(names)}")
    return cls(**values)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a 3D-MIM network (Hirashima et al. 2023; MIM: Wang et al. 2019).

    Attributes:
        num_hidden: hidden channels per layer, e.g. ``(32, 32, 32, 32)``. Layer 0 is the
            spatiotemporal LSTM, layers >= 1 are MIM blocks. The zig-zag memory is shared by all
            layers, so every entry must be equal (as in the original).
        filter_size: odd convolution kernel size ``k`` (kernels are ``k × k × k``).
        patch_size: space-to-depth factor ``p``; the model runs on a grid ``p`` times coarser
            with ``p³ · img_channel`` channels. Every grid side must be divisible by ``p``.
        img_width: grid size along the first spatial axis (``W``).
        img_height: grid size along the second spatial axis (``H``); 0 means ``img_width``.
        img_depth: grid size along the third spatial axis (``D``); 0 means ``img_width``.
        img_channel: number of physical channels ``C`` (1 for density alone).
        layer_norm: apply the original's tensor layer norm to every gate convolution.
        per_channel_peephole: use peephole weights of shape ``[channels]`` instead of the
            original's per-voxel ``[W', H', D', channels]``; makes the model grid-size
            independent. Off by default, as in the original.
        rank: number of spatial dimensions: 3 for the product, 2 for 2D MIM (tests, teaching).
        recompute: what the backward pass recomputes instead of storing (``tf.recompute_grad``;
            same gradients to round-off; measurements in ``bench/README.md``):
            ``"gates"`` (default) the layer norms and gate arithmetic after each cell's
            convolutions, from the stored convolution outputs: a few per cent of time, ~40 %
            less memory; ``"steps"`` whole time steps from their inputs and states: about one
            more forward pass of time, the least memory; ``"off"`` nothing, as the original.
            ``True``/``False`` (older run files) mean ``"steps"``/``"off"``.
        precision: ``"float32"`` (the original), ``"mixed_bfloat16"`` or ``"mixed_float16"``: the
            Keras dtype policy of the cells (float32 weights, half-precision convolutions;
            layer-norm statistics and the returned frames stay float32). Meant for GPUs; with
            ``mixed_float16`` train with loss scaling (``keras.optimizers.LossScaleOptimizer``).
        residual: beyond the original: the output conv predicts the change of the frame fed in
            at that step, ``Ŷ_t = x̂_t + W_out * H_t``, so an untrained model starts at
            persistence. Off by default (the original predicts ``Ŷ_t`` directly); the demo uses
            it to learn within minutes on a CPU.
    """

    num_hidden: tuple[int, ...] = (32, 32, 32, 32)
    filter_size: int = 5
    patch_size: int = 1
    img_width: int = 32
    img_height: int = 0
    img_depth: int = 0
    img_channel: int = 1
    layer_norm: bool = True
    per_channel_peephole: bool = False
    rank: int = 3
    recompute: str = "gates"
    precision: str = "float32"
    residual: bool = False

    def __post_init__(self) -> None:
        nh = self.num_hidden
        if isinstance(nh, str):  # the original's comma string, e.g. "64,64,64,64"
            try:
                nh = tuple(int(v) for v in nh.split(","))
            except ValueError:
                raise Mim3dError(
                    f"num_hidden must be integers such as (32, 32, 32) or '32,32,32'; got {nh!r}"
                ) from None
        nh = tuple(int(v) for v in nh)
        object.__setattr__(self, "num_hidden", nh)
        if isinstance(self.recompute, bool):  # older run files: recompute: true / false
            object.__setattr__(self, "recompute", "steps" if self.recompute else "off")
        if self.recompute not in RECOMPUTE:
            raise Mim3dError(f"recompute must be one of {RECOMPUTE}; got {self.recompute!r}")
        if self.precision not in PRECISIONS:
            raise Mim3dError(f"precision must be one of {PRECISIONS}; got {self.precision!r}")
        if self.rank not in (2, 3):
            raise Mim3dError(f"rank must be 2 or 3 spatial dimensions; got {self.rank}")
        if not nh or min(nh) < 1:
            raise Mim3dError(f"num_hidden needs at least one positive entry; got {nh}")
        if len(set(nh)) != 1:
            raise Mim3dError(
                f"num_hidden entries must all be equal, because every layer reads and writes the "
                f"shared zig-zag memory; got {nh}. Use e.g. num_hidden={(nh[0],) * len(nh)}."
            )
        if self.filter_size < 1 or self.filter_size % 2 == 0:
            raise Mim3dError(
                f"filter_size must be a positive odd integer (same padding is symmetric only for "
                f"odd kernels); got {self.filter_size}"
            )
        if self.patch_size < 1:
            raise Mim3dError(f"patch_size must be >= 1; got {self.patch_size}")
        if self.img_channel < 1:
            raise Mim3dError(f"img_channel must be >= 1; got {self.img_channel}")
        for name, size in zip(("img_width", "img_height", "img_depth"), self.grid, strict=False):
            if size < 1:
                raise Mim3dError(f"{name} must be >= 1; got {size}")
            if size % self.patch_size:
                raise Mim3dError(
                    f"{name}={size} is not divisible by patch_size={self.patch_size}; choose a "
                    f"patch_size that divides every grid side, or crop/pad the data"
                )

    @property
    def grid(self) -> tuple[int, ...]:
        """Physical grid ``(W, H, D)`` (or ``(W, H)`` for rank 2)."""
        w = self.img_width
        h = self.img_height or w
        d = self.img_depth or w
        return (w, h, d)[: self.rank]

    @property
    def patched_grid(self) -> tuple[int, ...]:
        """Grid the cells run on: ``(W/p, H/p, D/p)``."""
        return tuple(n // self.patch_size for n in self.grid)

    @property
    def patched_channels(self) -> int:
        """Channels the cells see: ``p^rank · C``."""
        return self.patch_size**self.rank * self.img_channel

    @property
    def num_layers(self) -> int:
        return len(self.num_hidden)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["num_hidden"] = list(self.num_hidden)
        return d

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        """Build from a dict; unknown keys raise an error listing the valid ones."""
        return _from_dict(cls, values, "model")

    @classmethod
    def from_original_flags(cls, flags: dict) -> ModelConfig:
        """Translate the original ``run.py`` flags (as in a FLAGS.json) to a config.

        Keys the model does not use (``batch_size``, ``input_length``, ``lr`` ...) are ignored.
        ``img_height = 0`` and missing ``img_depth`` follow the original (same as width).
        """
        if "img_width" not in flags or "num_hidden" not in flags:
            raise Mim3dError(
                "the original flags need at least 'img_width' and 'num_hidden' "
                f"(found keys {sorted(flags)}); copy them from the run.sh that trained the model"
            )
        keys = ("filter_size", "patch_size", "img_height", "img_depth", "img_channel",
                "layer_norm")
        values = {k: flags[k] for k in keys if k in flags}
        defaults = {"filter_size": 5, "patch_size": 2, "img_depth": 32, "img_channel": 1,
                    "layer_norm": True}  # run.py's defaults
        return cls(
            num_hidden=flags["num_hidden"],
            img_width=int(flags["img_width"]),
            **{**defaults, **values},
        )


def load_flags(path: str | Path) -> dict:
    """Read a FLAGS.json (original flag names and values, like the fixture's ``meta.json``)."""
    path = Path(path)
    if not path.is_file():
        raise Mim3dError(f"flags file {path} does not exist; give a JSON file of original flags")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise Mim3dError(f"flags file {path} is not valid JSON: {err}") from None
    if isinstance(data, dict) and "flags" in data and isinstance(data["flags"], dict):
        data = data["flags"]  # a meta.json that wraps the flags
    if not isinstance(data, dict):
        raise Mim3dError(f"flags file {path} must hold a JSON object of flag names to values")
    return data


SCHEDULES = ("constant", "cosine", "exponential")
LOSSES = ("sum", "mean")
STRATEGIES = ("none", "mirrored", "multiworker")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: names and defaults follow the original ``run.py`` flags.

    Attributes:
        lr: base learning rate of Adam.
        batch_size: sequences per optimizer step (global batch, over all replicas).
        max_iterations: number of iterations (each iteration is one batch; with
            ``reverse_input`` it makes two optimizer steps, as the original).
        input_length: context frames ``L``; the model predicts frames ``L … T−1`` from them.
        total_length: frames per training sequence ``T``.
        scheduled_sampling: feed true frames with probability η during training (else the
            model always feeds back its own output after ``input_length``).
        sampling_start_value: η at iteration 0.
        sampling_changing_rate: η decreases by this much every iteration ...
        sampling_stop_iter: ... and is 0 from this iteration on.
        reverse_input: after each step, a second optimizer step on the time-reversed batch.
        reverse_img: an extra step on the batch flipped along depth (the last spatial axis).
        display_interval: iterations between rows of ``metrics.csv`` (and the progress bar's
            loss).
        test_interval: iterations between validations (per-lead MSE on the valid split).
        snapshot_interval: iterations between checkpoints.
        num_save_samples: validation sequences whose forecasts are saved at each validation.
        seed: seeds the weights, the data order and the scheduled-sampling draws.
        loss: ``"sum"``: the original ½ Σ squared error (gradient of the raw sum; the logged loss
            is that sum / batch_size); ``"mean"``: mean squared error over all elements.
        lr_schedule: ``"constant"`` (the original), ``"cosine"`` decay to 0 over
            ``max_iterations``, or ``"exponential"`` (×0.1 over ``max_iterations``).
        warmup_iterations: linear learning-rate warm-up (0 = none, the original).
        clipnorm: clip the global gradient norm to this value (None = no clipping, the original).
        keep_checkpoints: how many of the latest checkpoints to keep.
        validation_batches: cap on validation batches per validation (0 = the whole split).
        strategy: ``"none"``, ``"mirrored"`` (all local GPUs, or CPU devices) or
            ``"multiworker"`` (several machines, from ``TF_CONFIG``).
    """

    lr: float = 0.001
    batch_size: int = 8
    max_iterations: int = 80000
    input_length: int = 10
    total_length: int = 20
    scheduled_sampling: bool = True
    sampling_start_value: float = 1.0
    sampling_changing_rate: float = 0.00002
    sampling_stop_iter: int = 50000
    reverse_input: bool = True
    reverse_img: bool = False
    display_interval: int = 1
    test_interval: int = 1000
    snapshot_interval: int = 1000
    num_save_samples: int = 10
    seed: int = 0
    loss: str = "sum"
    lr_schedule: str = "constant"
    warmup_iterations: int = 0
    clipnorm: float | None = None
    keep_checkpoints: int = 3
    validation_batches: int = 0
    strategy: str = "none"

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_iterations", "input_length", "total_length",
                     "display_interval", "test_interval", "snapshot_interval",
                     "keep_checkpoints"):
            if int(getattr(self, name)) < 1:
                raise Mim3dError(f"{name} must be >= 1; got {getattr(self, name)}")
        if not 1 <= self.input_length < self.total_length:
            raise Mim3dError(
                f"input_length must be at least 1 and less than total_length; got "
                f"input_length={self.input_length}, total_length={self.total_length}"
            )
        if self.lr <= 0:
            raise Mim3dError(f"lr must be positive; got {self.lr}")
        for name, value, allowed in (("loss", self.loss, LOSSES),
                                     ("lr_schedule", self.lr_schedule, SCHEDULES),
                                     ("strategy", self.strategy, STRATEGIES)):
            if value not in allowed:
                raise Mim3dError(f"{name} must be one of {allowed}; got {value!r}")

    def eta(self, iteration: int) -> float:
        """The scheduled-sampling probability η used at ``iteration`` (1-based, as the original).

        The original subtracts ``sampling_changing_rate`` before each iteration below
        ``sampling_stop_iter`` and sets η = 0 from then on.
        """
        if not self.scheduled_sampling or iteration >= self.sampling_stop_iter:
            return 0.0
        return max(self.sampling_start_value - iteration * self.sampling_changing_rate, 0.0)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Build from a dict; unknown keys raise an error listing the valid ones."""
        return _from_dict(cls, values, "training")
