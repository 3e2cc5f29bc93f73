"""A training run's configuration file (YAML): ``model``, ``train`` and ``data`` sections.

Example ``RUN.yaml``::

    model: {num_hidden: [16, 16, 16], filter_size: 3, patch_size: 2}
    train: {batch_size: 4, max_iterations: 2000, input_length: 5, total_length: 10}
    data:  {path: data/demo, fields: [density], downsample: 1}

The model's grid and channel count default to the data's. A flat file of the original
``run.py`` flags (``num_hidden: 32,32,32,32``, ``img_width: 32``, ``train_data_paths: ...``) is
accepted too, so the seed's ``run.sh`` translates one to one. ``--set key=value`` overrides any
entry, as ``train.lr=0.0005`` or, where the name is unambiguous, ``lr=0.0005``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mim3d.config import ModelConfig, TrainConfig
from mim3d.errors import Mim3dError

SECTIONS = ("model", "train", "data")
MODEL_KEYS = tuple(f.name for f in dataclasses.fields(ModelConfig))
TRAIN_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig))
DATA_KEYS = ("path", "fields", "stride", "downsample", "shuffle_buffer", "normalize")
# original run.py flags with no meaning here (paths of outputs, devices, model choice)
IGNORED_ORIGINAL = ("is_training", "dataset_name", "save_dir", "gen_frm_dir", "model_name",
                    "allow_gpu_growth", "n_gpu", "pretrained_model", "valid_data_paths")


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run needs.

    Attributes:
        model: architecture settings (a dict for :class:`ModelConfig`; grid and channels may be
            missing and are then taken from the data).
        train: the training recipe.
        data: settings for :class:`mim3d.data.DataConfig` (``path``, ``fields``, ``stride``,
            ``downsample``, ...); ``total_length``, ``batch_size`` and ``seed`` come from train.
    """

    model: dict
    train: TrainConfig
    data: dict

    def to_dict(self) -> dict:
        data = {k: (str(v) if isinstance(v, Path) else v) for k, v in self.data.items()}
        if not isinstance(data.get("path"), str):  # in-memory data (tests, notebooks)
            data["path"] = f"<in memory: {type(data.get('path')).__name__}>"
        if "fields" in data:
            data["fields"] = list(data["fields"])
        model = dict(self.model)
        if "num_hidden" in model and not isinstance(model["num_hidden"], list):
            model["num_hidden"] = list(ModelConfig(num_hidden=model["num_hidden"]).num_hidden)
        return {"model": model, "train": self.train.to_dict(), "data": data}


def _parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _from_original_flags(flat: dict) -> dict:
    sections = {"model": {}, "train": {}, "data": {}}
    unknown = []
    for key, value in flat.items():
        if key in IGNORED_ORIGINAL or (key == "stride" and int(value) == 1):
            continue
        if key == "train_data_paths":
            sections["data"]["path"] = value
        elif key in MODEL_KEYS:
            sections["model"][key] = value
        elif key in TRAIN_KEYS:
            sections["train"][key] = value
        elif key in DATA_KEYS:
            sections["data"][key] = value
        else:
            unknown.append(key)
    if unknown:
        raise Mim3dError(
            f"unknown setting(s) {sorted(unknown)}. Valid: model {list(MODEL_KEYS)}; train "
            f"{list(TRAIN_KEYS)}; data {list(DATA_KEYS)} (or original run.py flags)"
        )
    if sections["model"].get("img_height") == 0:
        sections["model"].pop("img_height")
    return sections


def apply_set(sections: dict, assignment: str) -> None:
    """Apply one ``key=value`` (``section.key=value`` or an unambiguous ``key=value``)."""
    if "=" not in assignment:
        raise Mim3dError(f"--set takes key=value (e.g. train.lr=0.0005); got {assignment!r}")
    key, text = assignment.split("=", 1)
    value = _parse_value(text)
    if "." in key:
        section, name = key.split(".", 1)
        if section not in SECTIONS:
            raise Mim3dError(f"--set {key}: unknown section {section!r}; use one of {SECTIONS}")
    else:
        owners = [s for s, keys in zip(SECTIONS, (MODEL_KEYS, TRAIN_KEYS, DATA_KEYS),
                                       strict=True) if key in keys]
        if len(owners) != 1:
            raise Mim3dError(
                f"--set {key}: {'ambiguous' if owners else 'unknown'} setting; write it as "
                f"section.{key} with section in {SECTIONS}"
            )
        section, name = owners[0], key
    sections.setdefault(section, {})[name] = value


def load_run_config(path: str | Path | None = None, sets: list[str] = (),
                    base: dict | None = None, need_data: bool = True) -> RunConfig:
    """Read ``path`` (YAML), apply ``--set`` overrides, and validate every section
    (``need_data=False``: ``data.path`` may be missing, for commands that read no data)."""
    raw: dict = dict(base or {})
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise Mim3dError(f"config file {path} does not exist")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise Mim3dError(f"config file {path} is not valid YAML: {err}") from None
        if not isinstance(raw, dict):
            raise Mim3dError(f"config file {path} must hold a mapping with sections {SECTIONS}")
    if raw and not set(raw) & set(SECTIONS):
        raw = _from_original_flags(raw)
    extra = sorted(set(raw) - set(SECTIONS))
    if extra:
        raise Mim3dError(f"unknown section(s) {extra} in the config; valid sections: {SECTIONS}")
    sections = {s: dict(raw.get(s) or {}) for s in SECTIONS}
    for assignment in sets:
        apply_set(sections, assignment)
    bad_data = sorted(set(sections["data"]) - set(DATA_KEYS))
    if bad_data:
        raise Mim3dError(f"unknown data setting(s) {bad_data}; valid: {list(DATA_KEYS)}")
    bad_model = sorted(set(sections["model"]) - set(MODEL_KEYS) - {"architecture"})
    if bad_model:
        raise Mim3dError(f"unknown model setting(s) {bad_model}; valid: {list(MODEL_KEYS)}")
    if need_data and "path" not in sections["data"]:
        raise Mim3dError("the config needs data.path (a data folder, .hdf5, .npy or .npz)")
    train = TrainConfig.from_dict(sections["train"])
    return RunConfig(model=sections["model"], train=train, data=sections["data"])
