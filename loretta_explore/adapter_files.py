"""A saved LoRETTA adapter: a folder with its config (JSON) and the trained tensors (safetensors).

Only what was trained is written (plus the frozen starting cores a compensated rep start needs),
so an adapter of LLaMA-2-7B is about 2 MB. Loading reads and checks everything before the base
model is touched; when anything fails the base model is left exactly as it was.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, fields
from pathlib import Path

import torch
from torch import nn

from .adapt import LorettaConfig, get_loretta_model, remove_loretta

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "load_adapter", "save_adapter"]

CONFIG_NAME, WEIGHTS_NAME = "adapter_config.json", "adapter_model.safetensors"


def _model_type(model: nn.Module):
    return getattr(getattr(model, "config", None), "model_type", None)


def save_adapter(model, directory) -> Path:
    """Write ``adapter_config.json`` and ``adapter_model.safetensors`` into `directory`."""
    from safetensors.torch import save_file

    if getattr(model, "_unloaded", False):
        raise ValueError("this LorettaModel was merged or unloaded: it holds no LoRETTA layers to "
                         "save. Save before merging: model.save_pretrained(dir); "
                         "model.merge_and_unload()")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = asdict(model.loretta_config)
    if isinstance(config["tt_shapes"], dict):  # JSON keys are strings: {(768, 64): s} -> {"768x64": s}
        config["tt_shapes"] = {f"{k[0]}x{k[1]}": v if isinstance(v, str) else list(v)
                               for k, v in config["tt_shapes"].items()}
    meta = dict(config, base_model_class=type(model.base_model).__name__,
                model_type=_model_type(model.base_model))
    state = {n: p.detach().float().cpu().contiguous() for n, p in model.trainable_state().items()}
    save_file(state, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})
    (directory / CONFIG_NAME).write_text(json.dumps(meta, indent=2, default=list))
    return directory


def _read_config(directory: Path) -> dict:
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no {CONFIG_NAME} in {directory}: is it a folder written by "
                                f"LorettaModel.save_pretrained?")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path} must hold a JSON object of LorettaConfig fields, got "
                         f"{type(meta).__name__}")
    return meta


def _config_from(meta: dict, directory: Path) -> LorettaConfig:
    known = {f.name for f in fields(LorettaConfig)}
    settings = {k: v for k, v in meta.items() if k in known}
    if isinstance(settings.get("tt_shapes"), dict):
        settings["tt_shapes"] = {tuple(int(x) for x in k.split("x")): v
                                 for k, v in settings["tt_shapes"].items()}
    if "scale_by" not in settings and settings.get("method", "rep") == "rep":
        warnings.warn(f"the adapter in {directory} was saved before the rep scale became alpha / "
                      f"bottleneck: it was trained with alpha / tt_rank and loads with that scale "
                      f"(scale_by='tt_rank')", stacklevel=3)
        settings["scale_by"] = "tt_rank"
    try:
        return LorettaConfig(**settings)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{directory / CONFIG_NAME} holds an unusable setting: {err}") from None


def _read_tensors(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = directory / WEIGHTS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no {WEIGHTS_NAME} in {directory}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{path} is not a readable safetensors file ({err}); it may be truncated "
                         f"or corrupt") from None
    bad = [n for n, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise ValueError(f"{path} holds NaN or infinite values in {bad[:5]}: refusing to load them")
    return state


def load_adapter(base_model: nn.Module, directory, is_trainable: bool = False):
    """Rebuild the LoRETTA layout on `base_model` and load the saved tensors into it."""
    directory = Path(directory)
    meta = _read_config(directory)
    saved_type, model_type = meta.get("model_type"), _model_type(base_model)
    if saved_type != model_type:
        raise ValueError(f"the adapter in {directory} was trained on a "
                         f"{meta.get('base_model_class')} (model_type {saved_type!r}); this base "
                         f"model is {type(base_model).__name__} ({model_type!r})")
    config = _config_from(meta, directory)
    state = _read_tensors(directory)
    requires_grad = {n: p.requires_grad for n, p in base_model.named_parameters()}
    model = get_loretta_model(base_model, config)
    try:
        expected = model.trainable_state()
        missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        wrong = [f"{n}: saved {tuple(state[n].shape)}, model {tuple(expected[n].shape)}"
                 for n in set(state) & set(expected) if state[n].shape != expected[n].shape]
        if missing or unexpected or wrong:
            raise ValueError(f"the adapter in {directory} does not fit this "
                             f"{type(base_model).__name__}: missing {missing[:5]}, unexpected "
                             f"{unexpected[:5]}, shape mismatches {wrong[:5]}")
    except Exception:
        remove_loretta(base_model, requires_grad)
        raise
    with torch.no_grad():  # every name and shape matched: this cannot fail half way
        for n, p in expected.items():
            p.copy_(state[n].to(p.dtype))
    if not is_trainable:
        model.requires_grad_(False)
    return model
