"""A saved LoRETTA adapter: a folder with its config (JSON) and the trained tensors (safetensors).

Only what was trained is written (plus the frozen starting cores a compensated rep start needs),
so an adapter of LLaMA-2-7B is about 2 MB. The folder is the kit's own format, named so that
nothing mistakes it for a PEFT adapter (docs/adapter_format.md):

- ``loretta_config.json``: format name and version, the base model, the LorettaConfig with exact
  module names and TT shapes;
- ``loretta_adapter.safetensors``: the tensors;
- ``adapter_config.json``: only a note for PEFT and transformers, whose loaders then fail with
  "LORETTA_EXPLORE (not a PEFT adapter): load this folder with ..." instead of a puzzle.

Loading reads and checks everything (adapter_schema.py) before the base model is touched; when
anything fails the base model is left exactly as it was. Folders of earlier kit versions
(``adapter_config.json`` + ``adapter_model.safetensors``) and Trainer checkpoints of a
LorettaModel (``model.safetensors`` with the config inside) load too.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .adapter_schema import (
    FORMAT,
    FORMAT_VERSION,
    MAX_JSON_BYTES,
    check_document,
    check_header,
    parse_json,
    read_json,
)
from .config import LorettaConfig
from .layers import LorettaRepLinear, TTLinear
from .placement import AdapterAround, clean_name

__all__ = [
    "ADAPTER_FILES",
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "adapter_document",
    "check_fit",
    "read_adapter",
    "save_adapter",
]

CONFIG_NAME, WEIGHTS_NAME = "loretta_config.json", "loretta_adapter.safetensors"
PEFT_NOTE_NAME = "adapter_config.json"  # read by PEFT and transformers, never by this kit
LEGACY_CONFIG_NAME, LEGACY_WEIGHTS_NAME = "adapter_config.json", "adapter_model.safetensors"
TRAINER_WEIGHTS_NAME, EXTRA_STATE = "model.safetensors", "_extra_state"
ADAPTER_FILES = (CONFIG_NAME, WEIGHTS_NAME, PEFT_NOTE_NAME)
PEFT_NOTE = (
    "LORETTA_EXPLORE (not a PEFT adapter): load this folder with loretta_explore: "
    "import loretta_explore as lx; lx.LorettaModel.from_pretrained(base_model, folder)"
)


def _model_type(model: nn.Module):
    return getattr(getattr(model, "config", None), "model_type", None)


def adapter_document(model) -> dict:
    """What ``loretta_config.json`` holds for `model` (a LorettaModel): format, base, config.

    Targets are written as the exact names of the adapted modules and TT shapes explicitly per
    (in, out), so that loading compiles no pattern from the file and does not depend on the
    kit's shape presets of the day.
    """
    base = model.base_model
    config = asdict(model.loretta_config)
    if config["method"] == "rep":
        config["target_modules"] = [
            clean_name(n) for n, m in base.named_modules() if isinstance(m, LorettaRepLinear)
        ]
    else:
        config["target_modules"] = {
            clean_name(n): m.position
            for n, m in base.named_modules()
            if isinstance(m, AdapterAround)
        }
    shapes: dict[str, set] = {}
    for m in base.modules():
        if isinstance(m, TTLinear) and m.layout == "flat":
            shapes.setdefault(f"{m.in_features}x{m.out_features}", set()).add(tuple(m.tt_shape))
    if shapes and all(len(s) == 1 for s in shapes.values()):
        config["tt_shapes"] = {k: list(next(iter(s))) for k, s in shapes.items()}
    elif isinstance(config["tt_shapes"], dict):  # JSON keys are strings: (768, 64) -> "768x64"
        config["tt_shapes"] = {
            f"{k[0]}x{k[1]}": v if isinstance(v, str) else list(v)
            for k, v in config["tt_shapes"].items()
        }
    from . import __version__

    name = getattr(getattr(base, "config", None), "_name_or_path", None) or None
    return dict(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        base_model_name_or_path=name,
        base_model_class=type(base).__name__,
        model_type=_model_type(base),
        kit_version=__version__,
        trainable_params=model.num_trained(),
        config=config,
    )


def save_adapter(
    model, directory, state_dict: dict | None = None, is_main_process: bool = True
) -> Path:
    """Write the adapter folder; `state_dict` (optional) gives the tensors to write instead of the
    live ones (as ``transformers.Trainer`` passes a gathered state), keys with or without the
    ``base_model.`` prefix."""
    from safetensors.torch import save_file

    if getattr(model, "_unloaded", False):
        raise ValueError(
            "this LorettaModel was merged or unloaded: it holds no LoRETTA layers to "
            "save. Save before merging: model.save_pretrained(dir); "
            "model.merge_and_unload()"
        )
    directory = Path(directory)
    names = model.trainable_state()
    if state_dict is not None:
        given = {k.removeprefix("base_model."): v for k, v in state_dict.items()}
        missing = sorted(set(names) - set(given))
        if missing:
            raise ValueError(
                f"the state_dict given to save_pretrained lacks the adapter tensors "
                f"{missing[:5]}; call model.save_pretrained(folder) without one"
            )
        names = {n: given[n] for n in names}
    state = {n: t.detach().float().cpu().contiguous() for n, t in names.items()}
    bad = [n for n, t in state.items() if not bool(torch.isfinite(t).all())]
    if bad:
        raise ValueError(
            f"the adapter holds NaN or infinite values in {bad[:5]} (training "
            f"diverged?): refusing to write an adapter that cannot be loaded again"
        )
    if not is_main_process:
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    save_file(
        state,
        str(directory / WEIGHTS_NAME),
        metadata={"format": "pt", "loretta_format": FORMAT, "format_version": str(FORMAT_VERSION)},
    )
    (directory / CONFIG_NAME).write_text(json.dumps(adapter_document(model), indent=2) + "\n")
    (directory / PEFT_NOTE_NAME).write_text(
        json.dumps(
            {
                "peft_type": PEFT_NOTE,
                "loretta_format": FORMAT,
                "format_version": FORMAT_VERSION,
                "see": CONFIG_NAME,
            },
            indent=2,
        )
        + "\n"
    )
    return directory


@dataclass
class _Folder:
    where: str  # what error messages call it
    doc: Any  # the parsed config document
    weights: Path
    prefix: str  # of the tensor names in `weights`


def _locate(directory: Path) -> _Folder:
    """Which kind of folder `directory` is; PEFT folders and strangers are refused here."""
    if not directory.is_dir():
        raise FileNotFoundError(
            f"no folder {directory}. Give the folder written by "
            f"model.save_pretrained(folder), or a Hub repo id 'owner/name'"
        )
    if (directory / CONFIG_NAME).is_file():
        path = directory / CONFIG_NAME
        return _Folder(str(path), read_json(path), directory / WEIGHTS_NAME, "")
    if (directory / LEGACY_CONFIG_NAME).is_file():
        path = directory / LEGACY_CONFIG_NAME
        doc = read_json(path)
        if isinstance(doc, dict) and "peft_type" in doc:
            if str(doc["peft_type"]).startswith("LORETTA_EXPLORE"):
                raise FileNotFoundError(
                    f"{directory} is a LoRETTA adapter folder without its "
                    f"{CONFIG_NAME}: an incomplete copy? Save it again"
                )
            raise ValueError(
                f"{directory} is a PEFT adapter (peft_type {doc['peft_type']!r}, base model "
                f"{doc.get('base_model_name_or_path')!r}), not a LoRETTA one. Load it with PEFT: "
                f"from peft import PeftModel; PeftModel.from_pretrained(base_model, "
                f"'{directory}')"
            )
        return _Folder(str(path), doc, directory / LEGACY_WEIGHTS_NAME, "")
    if (directory / TRAINER_WEIGHTS_NAME).is_file():
        path = directory / TRAINER_WEIGHTS_NAME
        return _Folder(
            f"{path} (a Trainer checkpoint)", _trainer_document(path), path, "base_model."
        )
    present = sorted(p.name for p in directory.iterdir())[:10]
    raise FileNotFoundError(
        f"{directory} holds no LoRETTA adapter: expected {CONFIG_NAME} and "
        f"{WEIGHTS_NAME} (written by model.save_pretrained) or a Trainer "
        f"checkpoint's {TRAINER_WEIGHTS_NAME}; it holds {present}"
    )


def _unreadable(path: Path, err: Exception) -> ValueError:
    return ValueError(
        f"{path} is not a readable safetensors file ({err}); it may be truncated "
        f"or corrupt: save or download it again"
    )


def _trainer_document(path: Path) -> Any:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt") as f:
            if EXTRA_STATE not in f.keys():
                raise ValueError(
                    f"{path} holds no LoRETTA config: it is a whole model, not a "
                    f"LorettaModel's checkpoint. Load it with transformers' "
                    f"from_pretrained"
                )
            config = f.get_slice(EXTRA_STATE)
            shape, dtype = config.get_shape(), config.get_dtype()
            if dtype != "U8" or len(shape) != 1 or shape[0] > MAX_JSON_BYTES:
                raise ValueError(f"{path}: {EXTRA_STATE} is not a LoRETTA config")
            data = f.get_tensor(EXTRA_STATE)
    except (SafetensorError, OSError) as err:
        raise _unreadable(path, err) from None
    return parse_json(bytes(data.numpy()), str(path))


def _read_header(folder: _Folder) -> dict[str, tuple[tuple[int, ...], str]]:
    """Tensor name -> (shape, dtype), from the header alone (no tensor is read)."""
    from safetensors import SafetensorError, safe_open

    if not folder.weights.is_file():
        raise FileNotFoundError(
            f"no {folder.weights.name} beside {folder.where}: an incomplete "
            f"copy? Save or download the adapter again"
        )
    header = {}
    try:
        with safe_open(str(folder.weights), "pt") as f:
            for key in f.keys():
                if key == EXTRA_STATE:
                    continue
                if not key.startswith(folder.prefix):
                    raise ValueError(
                        f"{folder.weights}: tensor {key[:80]!r} is not a LorettaModel parameter"
                    )
                part = f.get_slice(key)
                header[key[len(folder.prefix) :]] = (tuple(part.get_shape()), part.get_dtype())
    except (SafetensorError, OSError) as err:
        raise _unreadable(folder.weights, err) from None
    return header


def _read_tensors(folder: _Folder, names) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(folder.weights), "pt") as f:
            state = {n: f.get_tensor(folder.prefix + n) for n in names}
    except (SafetensorError, OSError) as err:
        raise _unreadable(folder.weights, err) from None
    bad = [n for n, t in state.items() if not bool(torch.isfinite(t).all())]
    if bad:
        raise ValueError(
            f"{folder.weights} holds NaN or infinite values in {bad[:5]}: refusing to load them"
        )
    return state


def _check_base(meta: dict, base_model: nn.Module, where: str) -> None:
    saved_type, model_type = meta.get("model_type"), _model_type(base_model)
    if saved_type != model_type:
        raise ValueError(
            f"the adapter in {where} was trained on a {meta.get('base_model_class')} "
            f"(model_type {saved_type!r}); this base model is "
            f"{type(base_model).__name__} ({model_type!r})"
        )
    saved = meta.get("base_model_name_or_path")
    current = getattr(getattr(base_model, "config", None), "_name_or_path", None)
    if saved and current and Path(saved).name != Path(current).name:
        warnings.warn(
            f"the adapter in {where} was trained on {saved!r}; this base model is "
            f"{current!r}. Loading it anyway: the sizes match",
            stacklevel=4,
        )


def read_adapter(base_model: nn.Module, directory) -> tuple[LorettaConfig, dict, str]:
    """Read and check a saved adapter for `base_model` without touching it.

    Order: the folder's kind, the config's schema, the base model's family, the tensors' header
    against the config (nothing allocated yet), then the tensors' values (NaN refused). Returns
    the config (its targets the exact module names from the file), the tensors, and what error
    messages call the folder. :meth:`LorettaModel.from_pretrained` builds the layout from them.
    """
    folder = _locate(Path(directory))
    config, meta, legacy = check_document(folder.doc, folder.where)
    _check_base(meta, base_model, folder.where)
    header = _read_header(folder)
    targets = check_header(config, header, base_model, folder.where, legacy)
    state = _read_tensors(folder, header)
    return replace(config, target_modules=targets), state, folder.where


def check_fit(
    expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor], where: str, model_name: str
) -> None:
    """Every tensor the built layout expects is in the file with its shape, and nothing else."""
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = [
        f"{n}: saved {tuple(state[n].shape)}, model {tuple(expected[n].shape)}"
        for n in set(state) & set(expected)
        if state[n].shape != expected[n].shape
    ]
    if missing or unexpected or wrong:
        raise ValueError(
            f"the adapter in {where} does not fit this {model_name}: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, shape mismatches {wrong[:5]}"
        )


# -- the config inside a state_dict (what a Trainer checkpoint of a LorettaModel carries) -------


def extra_state(model) -> torch.Tensor:
    """The adapter document as a uint8 tensor: safetensors holds only tensors."""
    if getattr(model, "_unloaded", False):
        return torch.zeros(0, dtype=torch.uint8)
    data = json.dumps(adapter_document(model)).encode()
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def check_extra_state(model, state: torch.Tensor) -> None:
    """Refuse a state_dict written by a LorettaModel with other settings (alpha, rank, targets)."""
    if state.numel() == 0 or getattr(model, "_unloaded", False):
        return
    saved = parse_json(bytes(state.cpu().numpy()), "the state_dict's LoRETTA config")
    ours = adapter_document(model)
    if not isinstance(saved, dict) or saved.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"this state_dict holds a LoRETTA config of another format version "
            f"({saved.get('format_version') if isinstance(saved, dict) else saved!r})"
        )
    diffs = {
        k: (saved.get("config", {}).get(k), v)
        for k, v in ours["config"].items()
        if saved.get("config", {}).get(k) != v
    }
    if diffs or saved.get("model_type") != ours["model_type"]:
        raise ValueError(
            f"this checkpoint was written by a LorettaModel with other settings "
            f"(saved, this model): {dict(list(diffs.items())[:4])}. Build the model "
            f"with the same LorettaConfig before resuming"
        )
