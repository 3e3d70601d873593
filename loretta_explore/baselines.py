"""The methods LoRETTA is compared with, set up on a model: one call, one method.

``prepare(model, method)`` freezes what the method freezes and adds what it adds, so that the
training engine and the budget tests treat every method alike: "full", "lora", "adapters",
"prefix", "ia3", "bitfit", "loretta_adp", "loretta_rep", and two floors used by the benchmarks:
"probe" (only the classifier) and "norms" (only norms and classifier). LoRA, IA3 and prefix tuning
come from PEFT (the reference implementation); adapters and BitFit are a few lines here.
"""

from __future__ import annotations

import inspect
import warnings

from torch import nn

from .adapt import (
    LorettaConfig,
    architecture,
    get_loretta_model,
    is_norm,
    matches_name,
    place_adapters,
)
from .budget import BASELINE_DEFAULTS, model_spec
from .layers import DenseAdapter

__all__ = ["METHODS", "prepare", "trainable_parameters"]

METHODS = ("full", "lora", "adapters", "prefix", "ia3", "bitfit", "loretta_adp", "loretta_rep")
FLOORS = ("probe", "norms")


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _is_classifier(model: nn.Module) -> bool:
    return "ForSequenceClassification" in type(model).__name__


def _head_names(model: nn.Module) -> list[str]:
    """The final classification layer(s), trained by every baseline (PEFT's modules_to_save)."""
    if not _is_classifier(model):
        return []
    arch = architecture(model)
    return [arch.head[1]] if arch.head else ["classifier"]


def _unfreeze(model: nn.Module, names) -> None:
    for name in names:
        model.get_submodule(name).requires_grad_(True)


def _peft(model: nn.Module, method: str, **hp) -> nn.Module:
    import peft

    task_type = "SEQ_CLS" if _is_classifier(model) else "CAUSAL_LM"
    targets = list(hp.pop("target_modules", architecture(model).rep))
    if method == "lora":
        config = peft.LoraConfig(r=hp.pop("r", 8), lora_alpha=hp.pop("lora_alpha", 16), lora_dropout=hp.pop("dropout", 0.0),
                                 target_modules=targets, task_type=task_type, **hp)
    elif method == "ia3":  # the same targets budget.count_trainable counts: k, v, the FFN output's input
        sides = model_spec(model.config).ia3_targets  # {pattern: "out" | "in"}
        names = [n for n, _ in model.named_modules() for p in sides if matches_name(n, p)]
        ffn = [n for n, _ in model.named_modules() for p, side in sides.items() if side == "in" and matches_name(n, p)]
        config = peft.IA3Config(target_modules=names, feedforward_modules=ffn, task_type=task_type, **hp)
    else:  # prefix
        _check_prefix_supported(model, task_type)
        config = peft.PrefixTuningConfig(num_virtual_tokens=hp.pop("num_virtual_tokens", 5), task_type=task_type, **hp)
    with warnings.catch_warnings():  # PEFT asks transformers 5 a deprecated question; the user can do nothing
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return peft.get_peft_model(model, config)


def _check_prefix_supported(model: nn.Module, task_type: str) -> None:
    """PEFT's prefix tuning of a classifier feeds the prefix to the backbone as ``past_key_values``.

    BERT's encoder in transformers 5 (the bundled MiniLM; we checked no other) no longer takes that
    argument, and PEFT then fails only at the first forward; say so at set-up, with what does work.
    The check reads the signatures, so any other backbone without the argument is caught as well.
    """
    backbone = getattr(model, "base_model", model)
    if task_type != "SEQ_CLS" or any("past_key_values" in inspect.signature(m.forward).parameters
                                     for m in (model, backbone)):
        return
    import transformers

    raise NotImplementedError(
        f"prefix tuning needs a backbone that takes past_key_values, and {type(backbone).__name__}.forward in "
        f"transformers {transformers.__version__} does not (PEFT would fail at the first forward). Its budget is "
        f"still counted: lx.count_trainable(model.config, 'prefix'). To train prefix tuning use a decoder, e.g. "
        f"lx.prepare(lx.tiny_decoder()[0], 'prefix'); for another small baseline here, try 'ia3' or 'bitfit'.")


def prepare(model: nn.Module, method: str, **hyperparameters) -> nn.Module:
    """Set `model` up for fine-tuning with `method`; returns the model to train (maybe wrapped).

    Every method on a classifier trains the final classifier (as PEFT's ``modules_to_save``)
    except where LoRETTA's own config says otherwise (``train_classifier``).

    Examples
    --------
    >>> model, tok = load_encoder()
    >>> model = prepare(model, "lora", r=8)
    """
    known = METHODS + FLOORS
    if method not in known:
        raise ValueError(f"unknown method {method!r}; known: {list(known)}. Example: prepare(model, 'loretta_rep')")
    if method.startswith("loretta_"):
        return get_loretta_model(model, LorettaConfig(method=method.split("_")[1], **hyperparameters))
    if method in ("lora", "ia3", "prefix"):
        return _peft(model, method, **hyperparameters)
    model.requires_grad_(method == "full")
    if method == "bitfit":
        for name, p in model.named_parameters():
            p.requires_grad_(name.endswith("bias"))
    defaults = BASELINE_DEFAULTS[architecture(model).family]
    if method == "adapters":  # the paper's counting conventions per family (see budget.BASELINE_DEFAULTS)
        b = hyperparameters.get("bottleneck", defaults["bottleneck"])
        bias = hyperparameters.get("adapter_bias", defaults["adapter_bias"])
        place_adapters(model, hyperparameters.get("placements", architecture(model).adp),
                       lambda features, device: DenseAdapter(features, b, bias=bias, device=device))
    train_norms = method == "norms" or (method == "adapters" and defaults["adapter_norms"])
    if hyperparameters.get("train_norms", train_norms):
        for m in model.modules():
            if is_norm(m):
                m.requires_grad_(True)
    _unfreeze(model, _head_names(model))
    if method == "adapters" and hyperparameters.get("head", defaults["adapter_head"]) == "dense" and _is_classifier(model):
        _unfreeze(model, [architecture(model).head[0]])
    return model
