"""Put LoRETTA into a Hugging Face model: the config, and placement per architecture.

PEFT-like on purpose (config / layer / model split): ``get_loretta_model(model, LorettaConfig())``
freezes the base model, adds TT adapters (adp) or TT-reparameterised updates (rep) where the paper
put them (docs/method.md#placement, read from the architecture registry), unfreezes the norms and
the head the paper trains, and returns a :class:`~loretta_explore.LorettaModel` that saves only
what was trained. Every setting is checked before the model is touched, and a failure half way
puts the model back as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

from torch import nn

from . import methods as M
from .architectures import Architecture, architecture, find_architecture
from .layers import LorettaRepLinear, TTAdapter, TTLinear
from .tensorize import resolve_shape

__all__ = ["AdapterAround", "LorettaConfig", "TensorizedHead", "get_loretta_model", "is_norm",
           "place_adapters", "remove_loretta"]


@dataclass
class LorettaConfig:
    """Every LoRETTA setting; the defaults reproduce the paper (docs/method.md#adp, #rep).

    Every value is checked when the config is made: a bad one raises a ValueError that names it
    and shows a valid call (nothing is silently replaced).

    Attributes
    ----------
    method : "rep" | "adp"
        rep: frozen W0 plus s * B(A(x)) on the targets; adp: TT bottleneck adapters.
    tt_rank : int or None
        Internal TT rank r. None: the paper's (adp 5; rep 5 for encoders, 8 for LLaMA).
    bottleneck : int or None
        adp: adapter width b (paper 64). rep: width of A's output (paper 8 encoders, 16 LLaMA).
    target_modules : list, dict or None
        rep: names (suffixes) or regexes of the linear layers to adapt. adp: names after which an
        adapter goes, or {name: "before" | "after"}. None: the architecture's default.
    tt_shapes : "paper" | "auto" | dict
        "paper": the presets of docs/method.md#shapes where one exists, chosen automatically
        otherwise; "auto": always chosen; a dict {(in, out): shape} gives explicit shapes.
    alpha : float
        rep: the update is scaled by s = alpha / bottleneck (docs/method.md#scale; paper 16).
    scale_by : "bottleneck" | "tt_rank"
        rep: what alpha is divided by. "bottleneck" (default) is LoRA's convention and the
        authors' code; "tt_rank" is an earlier reading of the paper, kept to compare.
    dropout : float or None
        rep dropout on the update's input. None: the paper's (0 encoders, 0.05 LLaMA).
    activation : str
        adp non-linearity (paper "relu").
    adapter_scale : float
        adp output scale s (paper 1.0).
    init : str
        rep: "paper" | "compensated" | "zero"; adp: "paper" | "identity" (docs/method.md#starts).
    train_norms : bool
        Train every LayerNorm / RMSNorm (paper: yes).
    head : "tensorized" | "dense" | "frozen"
        Sequence classification only: what happens to the dense layer before the classifier
        (BERT/DeBERTa ``pooler.dense``, RoBERTa ``classifier.dense``). "tensorized": a fresh TT
        layer replaces it (the paper); "dense": the pretrained one is trained; "frozen": the
        pretrained one stays as it is.
    train_classifier : bool or None
        Train the final classifier linear. None: the paper's counts (adp yes, rep no).
    """

    method: str = "rep"
    tt_rank: int | None = None
    bottleneck: int | None = None
    target_modules: list | dict | None = None
    tt_shapes: str | dict = "paper"
    alpha: float = 16.0
    scale_by: str = "bottleneck"
    dropout: float | None = None
    activation: str = "relu"
    adapter_scale: float = 1.0
    init: str = "paper"
    train_norms: bool = True
    head: str = "tensorized"
    train_classifier: bool | None = None

    def __post_init__(self):
        if self.method not in ("rep", "adp"):
            raise ValueError(f'method must be "rep" or "adp", got {self.method!r}. '
                             f'Example: LorettaConfig(method="adp")')
        name = f"loretta_{self.method}"
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "method" or (f.name == "target_modules" and value is None):
                continue
            setattr(self, f.name, M.canonical(name, {f.name: value})[f.name])

    def resolved(self, arch: Architecture | None) -> LorettaConfig:
        """A copy with every None replaced by the paper's value for this architecture."""
        rep = self.method == "rep"
        return LorettaConfig(**{**asdict(self), **dict(
            tt_rank=self.tt_rank or ((arch.rep_rank if arch else 5) if rep else 5),
            bottleneck=self.bottleneck or ((arch.rep_bottleneck if arch else 8) if rep else 64),
            dropout=self.dropout if self.dropout is not None
            else (arch.rep_dropout if arch and rep else 0.0),
            train_classifier=(self.train_classifier if self.train_classifier is not None
                              else not rep),
        )})

    def targets(self, arch: Architecture | None):
        """rep: the list of target patterns; adp: {pattern: "before" | "after"}."""
        if self.target_modules is None:
            if arch is None:
                raise ValueError("this model's family is unknown to the kit: name the layers, e.g. "
                                 "LorettaConfig(target_modules=['q_proj', 'v_proj'])")
            return list(arch.rep) if self.method == "rep" else dict(arch.adp)
        return self.target_modules

    def shape_request(self, in_features: int, out_features: int):
        """The TT shape asked for an (in, out) weight: "paper", "auto" or an explicit shape."""
        if isinstance(self.tt_shapes, dict):
            return self.tt_shapes.get((in_features, out_features), "paper")
        return self.tt_shapes


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
        self.tt = TTLinear(original.in_features, original.out_features, tt_shape, tt_rank,
                           device=original.weight.device)
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


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def linear_names(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules()
            if isinstance(m, nn.Linear) or type(m).__name__ == "Conv1D"]


def _matching(model: nn.Module, pattern: str, names: list[str], method: str,
              literal: bool = False) -> list[str]:
    found = [n for n in names if M.matches_name(n, pattern, literal)]
    if not found:
        raise M.no_match_error(pattern, linear_names(model), type(model).__name__, method)
    return found


def weight_sizes(module: nn.Module) -> tuple[int, int]:
    """(in, out) of an nn.Linear or GPT-2's Conv1D (which stores its weight as (in, out))."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    return tuple(module.weight.shape)


def place_adapters(model: nn.Module, placements: dict, make_adapter: Callable, method: str,
                   bottleneck: int, literal: bool = False) -> list[str]:
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
    adapters = [make_adapter(width, device) for _, _, _, width, device in plan]  # may raise: nothing placed
    for (name, module, position, _, _), adapter in zip(plan, adapters):
        _replace(model, name, AdapterAround(module, adapter, position))
    return [name for name, *_ in plan]


def _rep_layers(model: nn.Module, config: LorettaConfig, targets, literal: bool) -> list:
    names = linear_names(model)
    plan = []
    for pattern in targets:
        for name in _matching(model, pattern, names, "loretta_rep", literal):
            base = model.get_submodule(name)
            in_f, out_f = weight_sizes(base)
            M.check_fits("loretta_rep", config.bottleneck, min(in_f, out_f), f"min(in, out) of {name}")
            shapes = (config.shape_request(in_f, config.bottleneck),
                      config.shape_request(config.bottleneck, out_f))
            _check_rank(config, (in_f, config.bottleneck), (config.bottleneck, out_f), where=name)
            plan.append((name, LorettaRepLinear(base, config.bottleneck, config.tt_rank, config.alpha,
                                                config.dropout, config.init, shapes,
                                                scale_by=config.scale_by)))
    return plan


def _check_rank(config: LorettaConfig, *sizes: tuple[int, int], where: str) -> None:
    for in_f, out_f in sizes:
        shape = resolve_shape(in_f, out_f, config.shape_request(in_f, out_f))
        M.check_rank_fits(config.tt_rank, shape, f"{where}'s {in_f}x{out_f} weight")


def _adp_maker(config: LorettaConfig) -> Callable:
    def make(features: int, device) -> TTAdapter:
        _check_rank(config, (features, config.bottleneck), (config.bottleneck, features),
                    where="an adapter")
        shapes = (config.shape_request(features, config.bottleneck),
                  config.shape_request(config.bottleneck, features))
        return TTAdapter(features, config.bottleneck, config.tt_rank, config.activation,
                         config.adapter_scale, shapes, config.init, device=device)

    return make


def get_loretta_model(model: nn.Module, config: LorettaConfig | None = None, *,
                      literal_targets: bool = False):
    """Freeze `model`, insert LoRETTA as `config` says, and wrap it in a LorettaModel.

    Raises a ValueError, with `model` left as it was, for a model that is already adapted, a
    target that matches nothing, a bottleneck wider than a layer, or a family the kit does not
    know without ``target_modules``. ``literal_targets`` matches target names exactly (no
    patterns): used when the names come from a saved file.
    """
    from .loretta_model import LorettaModel

    if not isinstance(model, nn.Module):
        raise TypeError(f"get_loretta_model needs a torch model (nn.Module), got "
                        f"{type(model).__name__} {model!r:.60}. Load one first, e.g. model, tok = "
                        f"lx.load_encoder(); lx.get_loretta_model(model, lx.LorettaConfig())")
    if isinstance(model, LorettaModel) or any(isinstance(m, LORETTA_MODULES) for m in model.modules()):
        raise ValueError("this model already holds LoRETTA layers: adapting it again would stack a "
                         "second set. Adapt the original model, or call model.unload() first to get "
                         "it back without LoRETTA")
    config = config or LorettaConfig()
    if not isinstance(config, LorettaConfig):
        raise TypeError(f"config must be a LorettaConfig, got {type(config).__name__}. Example: "
                        "get_loretta_model(model, LorettaConfig(method='rep'))")
    arch = find_architecture(model)
    if arch is None and config.target_modules is None:
        architecture(model)  # raises the registry's error, which shows what to pass
    config = config.resolved(arch)
    trainable = {n: p.requires_grad for n, p in model.named_parameters()}
    try:
        if config.method == "rep":
            for name, layer in _rep_layers(model, config, config.targets(arch), literal_targets):
                _replace(model, name, layer)
        else:
            place_adapters(model, config.targets(arch), _adp_maker(config), "loretta_adp",
                           config.bottleneck, literal_targets)
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
    return LorettaModel(model, config)


def _set_up_head(model: nn.Module, config: LorettaConfig, arch: Architecture) -> None:
    if arch.head_dense is not None:
        dense = model.get_submodule(arch.head_dense)
        if config.head == "tensorized":
            _check_rank(config, (dense.in_features, dense.out_features), where=arch.head_dense)
            shape = config.shape_request(dense.in_features, dense.out_features)
            _replace(model, arch.head_dense, TensorizedHead(dense, shape, config.tt_rank))
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
            _replace(model, name, module.base)
        elif isinstance(module, AdapterAround):
            _replace(model, name, module.module)
        elif isinstance(module, TensorizedHead):
            _replace(model, name, module.original)
    if requires_grad is not None:
        for n, p in model.named_parameters():
            if n in requires_grad:
                p.requires_grad_(requires_grad[n])
    return model
