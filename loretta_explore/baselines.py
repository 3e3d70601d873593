"""The methods LoRETTA is compared with, set up on a model: one call, one method.

``prepare(model, method, **hyperparameters)`` freezes what the method freezes and adds what it
adds, so that the training engine and the budget tests treat every method alike: "full", "lora",
"adapters", "prefix", "ia3", "bitfit", "loretta_adp", "loretta_rep", and two floors the
benchmarks use: "probe" (only the classifier) and "norms" (only norms and classifier). LoRA, IA3
and prefix tuning come from PEFT (the reference implementation); adapters and BitFit are a few
lines here. The hyperparameters are checked by the method registry before anything changes, the
same check :func:`~loretta_explore.count_trainable` makes, so the two always agree.
"""

from __future__ import annotations

import inspect
import warnings

from torch import nn

from . import methods as M
from .adapt import (
    LORETTA_MODULES,
    LorettaConfig,
    get_loretta_model,
    is_norm,
    linear_names,
    place_adapters,
    weight_sizes,
)
from .architectures import Architecture, find_architecture
from .layers import DenseAdapter

__all__ = ["METHODS", "prepare", "trainable_parameters"]

METHODS, FLOORS = M.METHODS, M.FLOORS


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _is_classifier(model: nn.Module) -> bool:
    return "ForSequenceClassification" in type(model).__name__


def _head_modules(model: nn.Module, arch: Architecture | None, hp: dict) -> list[str]:
    """The head modules a baseline trains on a classifier: the final classifier (PEFT's
    ``modules_to_save``) and, with head="dense", the dense layer before it."""
    if not _is_classifier(model):
        return []
    if arch is None:  # an unknown family: the usual name of a classifier, if it has one
        return ["classifier"] if hp["train_classifier"] and hasattr(model, "classifier") else []
    names = []
    if hp.get("head") == "dense" and arch.head_dense:
        names.append(arch.head_dense)
    if hp["train_classifier"] and arch.classifier:
        names.append(arch.classifier)
    return names


def _peft_installed():
    try:
        import peft
    except ImportError:
        raise ImportError(
            "LoRA, IA3 and prefix tuning come from the `peft` package, which is not "
            "installed: pip install 'loretta_explore[notebooks]' (or pip install peft)"
        ) from None
    return peft


def _peft(model: nn.Module, method: str, hp: dict) -> nn.Module:
    peft = _peft_installed()
    classifier = _is_classifier(model)
    task_type = "SEQ_CLS" if classifier else "CAUSAL_LM"
    # PEFT's SEQ_CLS always trains the whole module named `classifier` (RoBERTa's is its 2-layer
    # head), so classifiers get a plain PeftModel with exactly this method's head modules. PEFT
    # matches modules_to_save as string suffixes ("classifier" also catches DistilBERT's
    # "pre_classifier"): where that would catch more, the head is unfrozen here instead.
    heads = _head_modules(model, find_architecture(model), hp) if classifier else []
    caught = {n for n, _ in model.named_modules() if any(n.endswith(h) for h in heads)}
    exact = caught == set(heads)
    head = (
        dict(task_type=None, modules_to_save=(heads if exact else None) or None)
        if classifier
        else dict(task_type=task_type)
    )
    if method == "lora":
        names = linear_names(model)
        for pattern in hp["target_modules"]:  # checked as count_trainable checks them
            found = [n for n in names if M.matches_name(n, pattern)]
            if not found:
                raise M.no_match_error(pattern, names, type(model).__name__, "lora")
            for name in found:
                in_f, out_f = weight_sizes(model.get_submodule(name))
                M.check_fits("lora", hp["r"], min(in_f, out_f), f"min(in, out) of {name}", what="r")
        config = peft.LoraConfig(
            r=hp["r"],
            lora_alpha=hp["lora_alpha"],
            lora_dropout=hp["lora_dropout"],
            target_modules=list(hp["target_modules"]),
            **head,
        )
    elif method == "ia3":  # the targets count_trainable counts: k, v and the FFN output's input
        sides = hp["target_modules"]
        names = [n for n, _ in model.named_modules() if any(M.matches_name(n, p) for p in sides)]
        ffn = [
            n
            for n, _ in model.named_modules()
            for p, side in sides.items()
            if side == "in" and M.matches_name(n, p)
        ]
        config = peft.IA3Config(target_modules=names, feedforward_modules=ffn, **head)
    else:  # prefix
        _check_prefix_supported(model, task_type)
        config = peft.PrefixTuningConfig(
            num_virtual_tokens=hp["prefix_tokens"], task_type=task_type
        )
    with warnings.catch_warnings():  # PEFT asks transformers 5 a deprecated question
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
        )
        wrapped = peft.get_peft_model(model, config)
    if not exact:
        for name in heads:
            wrapped.get_base_model().get_submodule(name).requires_grad_(True)
    return wrapped


def _check_prefix_supported(model: nn.Module, task_type: str) -> None:
    """PEFT's prefix tuning of a classifier feeds the prefix to the backbone as ``past_key_values``.

    BERT's encoder in transformers 5 (the bundled MiniLM) no longer takes that argument, and PEFT
    then fails only at the first forward; say so at set-up, with what does work. The check reads
    the signatures, so any other backbone without the argument is caught as well.
    """
    backbone = getattr(model, "base_model", model)
    if task_type != "SEQ_CLS" or any(
        "past_key_values" in inspect.signature(m.forward).parameters for m in (model, backbone)
    ):
        return
    import transformers

    raise NotImplementedError(
        f"prefix tuning needs a backbone that takes past_key_values, and "
        f"{type(backbone).__name__}.forward in transformers {transformers.__version__} does not "
        f"(PEFT would fail at the first forward). Its budget is still counted: "
        f"lx.count_trainable(model.config, 'prefix'). To train prefix tuning use a decoder, e.g. "
        f"lx.prepare(lx.tiny_decoder()[0], 'prefix'); for another small baseline here, try 'ia3' "
        f"or 'bitfit'."
    )


def prepare(model: nn.Module, method: str, **hyperparameters) -> nn.Module:
    """Set `model` up for fine-tuning with `method`; returns the model to train (maybe wrapped).

    The hyperparameters are those :func:`~loretta_explore.count_trainable` takes, with the same
    aliases and defaults (:mod:`loretta_explore.methods`); both check them the same way. Every
    baseline on a classifier trains the final classifier (PEFT's ``modules_to_save``) unless
    ``train_classifier=False``. A bad setting raises before the model is changed.

    Examples
    --------
    >>> model, tok = load_encoder()
    >>> model = prepare(model, "lora", r=8)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"prepare needs a torch model (nn.Module), got {type(model).__name__}. "
            "Example: model, tok = lx.load_encoder(); lx.prepare(model, 'lora')"
        )
    M.check_method(method, (*M.METHODS, *M.FLOORS))
    _refuse_prepared(model)
    if method.startswith("loretta_"):
        hp = M.canonical(method, hyperparameters)
        return get_loretta_model(model, LorettaConfig(method=method.removeprefix("loretta_"), **hp))
    arch = find_architecture(model)
    hp = M.resolve(method, hyperparameters, arch)
    if method in ("lora", "ia3", "prefix"):
        return _peft(model, method, hp)
    plan = [] if method == "full" else _head_modules(model, arch, hp)
    make = None
    if method == "adapters":
        b, bias = hp["bottleneck"], hp["adapter_bias"]

        def make(features: int, device) -> DenseAdapter:
            return DenseAdapter(features, b, bias=bias, device=device)

    requires_grad = {n: p.requires_grad for n, p in model.named_parameters()}
    try:
        if make is not None:
            place_adapters(model, hp["target_modules"], make, "adapters", b)
    except Exception:
        for n, p in model.named_parameters():
            p.requires_grad_(requires_grad.get(n, p.requires_grad))
        raise
    model.requires_grad_(method == "full")
    for m in model.modules():  # the new adapters train
        if isinstance(m, DenseAdapter):
            m.requires_grad_(True)
    if method == "bitfit":
        for name, p in model.named_parameters():
            p.requires_grad_(name.endswith("bias"))
    if hp.get("train_norms"):
        for m in model.modules():
            if is_norm(m):
                m.requires_grad_(True)
    for name in plan:
        model.get_submodule(name).requires_grad_(True)
    if trainable_parameters(model) == 0:
        for n, p in model.named_parameters():
            p.requires_grad_(requires_grad.get(n, p.requires_grad))
        why = {
            "bitfit": "it trains biases, and this model has none (LLaMA's layers carry no bias)",
            "probe": "it trains the classifier, and a causal LM has none",
        }.get(method, "")
        raise ValueError(
            f"{method!r} would train nothing on this {type(model).__name__}"
            f"{': ' + why if why else ''}. Try another method, e.g. "
            f"prepare(model, 'lora') or prepare(model, 'loretta_rep')"
        )
    return model


def _refuse_prepared(model: nn.Module) -> None:
    """A model set up once already (PEFT, LoRETTA or dense adapters) must not get a second set."""
    layered = any(isinstance(m, (*LORETTA_MODULES, DenseAdapter)) for m in model.modules())
    if getattr(model, "peft_config", None) is not None or layered:
        raise ValueError(
            f"this {type(model).__name__} was already prepared for fine-tuning "
            f"(it holds adapter layers): preparing it again would stack a second "
            f"method on the first. Start from a fresh model, e.g. "
            f"model, tok = lx.load_encoder(); lx.prepare(model, 'lora')"
        )
