"""Where LoRETTA goes in a model, and how it is put in and taken out again.

The architecture registry names the modules (docs/method.md#placement); this file wraps them:
:class:`AdapterAround` runs an adapter before or after a module (adp, and the dense-adapter
baseline), :class:`~loretta_explore.LorettaRepLinear` replaces a linear layer (rep),
:class:`TensorizedHead` replaces the dense layer before a classifier. :func:`inject_loretta` does
all of it for a :class:`~loretta_explore.LorettaConfig`, planning and checking every layer before
the first one is replaced, and puts the model back as it was when anything fails;
:func:`remove_loretta` takes LoRETTA out again.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from torch import nn

from . import methods as M
from .architectures import Architecture, architecture, find_architecture
from .config import LorettaConfig
from .layers import LorettaRepLinear, TTAdapter, TTLinear
from .tensorize import resolve_shape

__all__ = [
    "LORETTA_MODULES",
    "AdapterAround",
    "TensorizedHead",
    "clean_name",
    "inject_loretta",
    "is_norm",
    "linear_names",
    "place_adapters",
    "refuse_adapted",
    "remove_loretta",
    "replace_module",
    "weight_sizes",
]

#: names wrappers insert into parameter names (FSDP units, activation checkpointing, compile)
_WRAPPER_PARTS = re.compile(r"(?:_fsdp_wrapped_module|_checkpoint_wrapped_module|_orig_mod)\.")


def clean_name(name: str) -> str:
    """A parameter or module name as it was before FSDP/checkpointing/compile wrapped a part."""
    return _WRAPPER_PARTS.sub("", name)


class AdapterAround(nn.Module):
    """Runs an adapter on the input ("before") or the output ("after") of a wrapped module."""

    def __init__(self, module: nn.Module, adapter: nn.Module, position: str):
        super().__init__()
        self.module, self.adapter, self.position = module, adapter, position
        self.disabled = False

    def forward(self, x, *args, **kwargs):
        if self.disabled:
            return self.module(x, *args, **kwargs)
        if self.position == "before":
            return self.module(self.adapter(x), *args, **kwargs)
        return self.adapter(self.module(x, *args, **kwargs))


class TensorizedHead(nn.Module):
    """A fresh TT layer in place of a dense head layer (the paper's tensorized pooler).

    The pretrained layer is kept aside (not a submodule, so it is neither trained nor saved) so
    that disabling or removing LoRETTA gives back the base model's function.
    """

    def __init__(self, original: nn.Linear, tt_shape, tt_rank: int):
        super().__init__()
        self.tt = TTLinear(
            original.in_features,
            original.out_features,
            tt_shape,
            tt_rank,
            device=original.weight.device,
        )
        self._original = [original]
        self.disabled = False

    @property
    def original(self) -> nn.Linear:
        return self._original[0]

    def forward(self, x):
        if self.disabled:
            return self.original.to(x.device)(x)
        return self.tt(x)


#: the modules LoRETTA inserts; a model holding one is already adapted
LORETTA_MODULES = (LorettaRepLinear, AdapterAround, TensorizedHead)


def is_norm(module: nn.Module) -> bool:
    name = type(module).__name__
    return isinstance(module, nn.LayerNorm) or "LayerNorm" in name or "RMSNorm" in name


def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def linear_names(model: nn.Module) -> list[str]:
    return [
        n
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) or type(m).__name__ == "Conv1D"
    ]


def _matching(
    model: nn.Module, pattern: str, names: list[str], method: str, literal: bool = False
) -> list[str]:
    found = [n for n in names if M.matches_name(n, pattern, literal)]
    if not found:
        raise M.no_match_error(pattern, linear_names(model), type(model).__name__, method)
    return found


def weight_sizes(module: nn.Module) -> tuple[int, int]:
    """(in, out) of an nn.Linear or GPT-2's Conv1D (which stores its weight as (in, out))."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    return tuple(module.weight.shape)


def place_adapters(
    model: nn.Module,
    placements: dict,
    make_adapter: Callable,
    method: str,
    bottleneck: int,
    literal: bool = False,
) -> list[str]:
    """Wrap every module matching a placement in ``AdapterAround(module, make_adapter(width, device))``.

    `placements` maps a name pattern to "before" | "after"; the adapter's width is the wrapped
    module's input (before) or output (after) size, or the model's hidden size for modules without
    a weight (dropout), and must be at least `bottleneck`. Every match and width is found and
    checked before anything is wrapped.
    Shared by LoRETTA_adp and the dense-adapter baseline.
    """
    hidden = getattr(getattr(model, "config", None), "hidden_size", None)
    names = [n for n, _ in model.named_modules() if n]
    plan = []
    for pattern, position in placements.items():
        for name in _matching(model, pattern, names, method, literal):
            module = model.get_submodule(name)
            w = getattr(module, "weight", None)
            if w is not None and w.ndim == 2:
                in_f, out_f = weight_sizes(module)
                width = in_f if position == "before" else out_f
            else:
                width = hidden
            M.check_fits(method, bottleneck, width, f"the {width} features of {name}")
            device = w.device if w is not None else next(model.parameters()).device
            plan.append((name, module, position, width, device))
    adapters = [
        make_adapter(width, device) for _, _, _, width, device in plan
    ]  # may raise: nothing placed
    for (name, module, position, _, _), adapter in zip(plan, adapters):
        replace_module(model, name, AdapterAround(module, adapter, position))
    return [name for name, *_ in plan]


def _rep_layers(model: nn.Module, config: LorettaConfig, targets, literal: bool) -> list:
    names = linear_names(model)
    plan = []
    for pattern in targets:
        for name in _matching(model, pattern, names, "loretta_rep", literal):
            base = model.get_submodule(name)
            in_f, out_f = weight_sizes(base)
            M.check_fits(
                "loretta_rep", config.bottleneck, min(in_f, out_f), f"min(in, out) of {name}"
            )
            shapes = (
                config.shape_request(in_f, config.bottleneck),
                config.shape_request(config.bottleneck, out_f),
            )
            _check_rank(config, (in_f, config.bottleneck), (config.bottleneck, out_f), where=name)
            plan.append(
                (
                    name,
                    LorettaRepLinear(
                        base,
                        config.bottleneck,
                        config.tt_rank,
                        config.alpha,
                        config.dropout,
                        config.init,
                        shapes,
                        scale_by=config.scale_by,
                    ),
                )
            )
    return plan


def _check_rank(config: LorettaConfig, *sizes: tuple[int, int], where: str) -> None:
    for in_f, out_f in sizes:
        shape = resolve_shape(in_f, out_f, config.shape_request(in_f, out_f))
        M.check_rank_fits(config.tt_rank, shape, f"{where}'s {in_f}x{out_f} weight")


def _adp_maker(config: LorettaConfig) -> Callable:
    def make(features: int, device) -> TTAdapter:
        _check_rank(
            config, (features, config.bottleneck), (config.bottleneck, features), where="an adapter"
        )
        shapes = (
            config.shape_request(features, config.bottleneck),
            config.shape_request(config.bottleneck, features),
        )
        return TTAdapter(
            features,
            config.bottleneck,
            config.tt_rank,
            config.activation,
            config.adapter_scale,
            shapes,
            config.init,
            device=device,
        )

    return make


def refuse_adapted(model: nn.Module) -> None:
    """A model that holds LoRETTA layers already must not get a second set."""
    if any(isinstance(m, LORETTA_MODULES) for m in model.modules()):
        raise ValueError(
            "this model already holds LoRETTA layers: adapting it again would stack a "
            "second set. Adapt the original model, or call model.unload() first to get "
            "it back without LoRETTA"
        )


def inject_loretta(
    model: nn.Module, config: LorettaConfig, literal_targets: bool = False
) -> LorettaConfig:
    """Freeze `model` and insert LoRETTA as `config` says; returns the config resolved for it.

    Every target is matched and every layer planned and built before the first one is replaced;
    if anything still fails, :func:`remove_loretta` puts the model back (modules and
    ``requires_grad`` as they were). ``literal_targets`` matches names exactly, compiling no
    pattern: for names read from a file.
    """
    refuse_adapted(model)
    arch = find_architecture(model)
    if arch is None and config.target_modules is None:
        architecture(model)  # raises the registry's error, which shows what to pass
    config = config.resolved(arch)
    trainable = {n: p.requires_grad for n, p in model.named_parameters()}
    try:
        if config.method == "rep":
            for name, layer in _rep_layers(model, config, config.targets(arch), literal_targets):
                replace_module(model, name, layer)
        else:
            place_adapters(
                model,
                config.targets(arch),
                _adp_maker(config),
                "loretta_adp",
                config.bottleneck,
                literal_targets,
            )
        model.requires_grad_(False)
        for module in model.modules():
            if isinstance(module, (LorettaRepLinear, TTAdapter, TensorizedHead)):
                for n, p in module.named_parameters():
                    p.requires_grad_(not n.startswith(("A0.", "B0.", "base.")))
        if config.train_norms:
            for m in model.modules():
                if is_norm(m):
                    m.requires_grad_(True)
        if arch is not None and "ForSequenceClassification" in type(model).__name__:
            _set_up_head(model, config, arch)
    except Exception:
        remove_loretta(model, trainable)
        raise
    return config


def _set_up_head(model: nn.Module, config: LorettaConfig, arch: Architecture) -> None:
    if arch.head_dense is not None:
        dense = model.get_submodule(arch.head_dense)
        if config.head == "tensorized":
            _check_rank(config, (dense.in_features, dense.out_features), where=arch.head_dense)
            shape = config.shape_request(dense.in_features, dense.out_features)
            replace_module(model, arch.head_dense, TensorizedHead(dense, shape, config.tt_rank))
        elif config.head == "dense":
            dense.requires_grad_(True)
    if arch.classifier is not None:
        model.get_submodule(arch.classifier).requires_grad_(bool(config.train_classifier))


def remove_loretta(model: nn.Module, requires_grad: dict[str, bool] | None = None) -> nn.Module:
    """Take every LoRETTA module out of `model` (without merging) and give back the originals.

    Rep layers give back their base linear (unmerged first if merged), adapters their wrapped
    module, tensorized heads the pretrained dense layer. `requires_grad` (name -> flag), when
    given, is restored for every parameter still there.
    """
    for name, module in list(model.named_modules()):
        if not name:
            continue
        if isinstance(module, LorettaRepLinear):
            module.unmerge()
            replace_module(model, name, module.base)
        elif isinstance(module, AdapterAround):
            replace_module(model, name, module.module)
        elif isinstance(module, TensorizedHead):
            replace_module(model, name, module.original)
    if requires_grad is not None:
        for n, p in model.named_parameters():
            if n in requires_grad:
                p.requires_grad_(requires_grad[n])
    return model
