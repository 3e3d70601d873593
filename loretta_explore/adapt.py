"""Put LoRETTA into a Hugging Face model: config, placement per architecture, the wrapped model.

PEFT-like on purpose (config / layer / model split): ``get_loretta_model(model, LorettaConfig())``
freezes the base model, adds TT adapters (adp) or TT-reparameterised updates (rep) where the paper
put them (METHOD.md sections 2-3), unfreezes the norms and the head the paper trains, and returns a
:class:`LorettaModel` that saves only what was trained.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from .layers import LorettaRepLinear, TTAdapter, TTLinear

__all__ = ["ARCHITECTURES", "LorettaConfig", "LorettaModel", "get_loretta_model"]

CONFIG_NAME, WEIGHTS_NAME = "adapter_config.json", "adapter_model.safetensors"


@dataclass
class Architecture:
    """Where LoRETTA goes in one model family (module names are matched as suffixes).

    adp: {suffix regex: "before" | "after"}: an adapter on the input of, or after, that module.
    rep: the linear layers whose update is TT-reparameterised.
    head: (module to tensorize, final classifier) for sequence classification, or None.
    """

    family: str
    adp: dict[str, str]
    rep: tuple[str, ...]
    head: tuple[str, str] | None
    rep_bottleneck: int = 8
    rep_rank: int = 5
    rep_dropout: float = 0.0


_BERT_ADP = {r"attention\.output\.dropout": "after", r"layer\.\d+\.output\.dropout": "after"}
ARCHITECTURES: dict[str, Architecture] = {
    # Houlsby placement (METHOD.md section 2): h = LayerNorm(a(dropout(dense(x))) + residual)
    "bert": Architecture("bert", _BERT_ADP, ("query", "value"), ("bert.pooler.dense", "classifier")),
    "roberta": Architecture("bert", _BERT_ADP, ("query", "value"), ("classifier.dense", "classifier.out_proj")),
    "deberta": Architecture("bert", _BERT_ADP, ("in_proj",), ("pooler.dense", "classifier")),
    "deberta-v2": Architecture("bert", _BERT_ADP, ("query_proj", "value_proj"), ("pooler.dense", "classifier")),
    # Three adapters per decoder layer, all in the MLP; none on attention.
    "llama": Architecture("llama", {r"mlp\.gate_proj": "before", r"mlp\.up_proj": "before",
                                    r"mlp\.down_proj": "after"}, ("q_proj", "v_proj"), None, 16, 8, 0.05),
    # GPT-2 (our choice, not the paper's): Houlsby-style after each residual branch's projection.
    "gpt2": Architecture("gpt2", {r"attn\.c_proj": "after", r"mlp\.c_proj": "after"}, ("c_attn",), None),
}
ARCHITECTURES["mistral"] = ARCHITECTURES["qwen2"] = ARCHITECTURES["llama"]


def architecture(model_or_config) -> Architecture:
    """The placement table for a model (by its config's ``model_type``)."""
    config = getattr(model_or_config, "config", model_or_config)
    model_type = getattr(config, "model_type", None)
    if model_type not in ARCHITECTURES:
        raise ValueError(f"no LoRETTA placement known for model_type {model_type!r}; known: "
                         f"{sorted(ARCHITECTURES)}. Pass target_modules=[...] to place it yourself.")
    return ARCHITECTURES[model_type]


@dataclass
class LorettaConfig:
    """Every LoRETTA setting; the defaults reproduce the paper (METHOD.md sections 2-5).

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
        "paper": the presets of section 4 where one exists, chosen automatically otherwise;
        "auto": always chosen; a dict {(in, out): shape} gives explicit shapes.
    alpha : float
        rep scale s = alpha / tt_rank (paper 16).
    dropout : float or None
        rep dropout on the update's input. None: the paper's (0 encoders, 0.05 LLaMA).
    activation : str
        adp non-linearity (paper "relu").
    adapter_scale : float
        adp output scale s (paper 1.0).
    init : str
        rep: "paper" | "compensated" | "zero"; adp: "paper" | "identity".
    train_norms : bool
        Train every LayerNorm / RMSNorm (paper: yes).
    head : "tensorized" | "dense" | "frozen"
        Sequence classification only: what happens to the dense layer before the classifier
        (DeBERTa/BERT ``pooler.dense``, RoBERTa ``classifier.dense``). "tensorized": a fresh TT
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
    dropout: float | None = None
    activation: str = "relu"
    adapter_scale: float = 1.0
    init: str = "paper"
    train_norms: bool = True
    head: str = "tensorized"
    train_classifier: bool | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.method not in ("rep", "adp"):
            raise ValueError(f'method must be "rep" or "adp", got {self.method!r}. Example: LorettaConfig(method="adp")')
        if self.head not in ("tensorized", "dense", "frozen"):
            raise ValueError(f'head must be "tensorized", "dense" or "frozen", got {self.head!r}')
        allowed = ("paper", "compensated", "zero") if self.method == "rep" else ("paper", "identity")
        if self.init not in allowed:
            raise ValueError(f"init for method {self.method!r} must be one of {allowed}, got {self.init!r}")

    def resolved(self, arch: Architecture) -> LorettaConfig:
        """A copy with every None replaced by the paper's value for this architecture."""
        rep = self.method == "rep"
        return LorettaConfig(**{**asdict(self), **dict(
            tt_rank=self.tt_rank or (arch.rep_rank if rep else 5),
            bottleneck=self.bottleneck or (arch.rep_bottleneck if rep else 64),
            dropout=self.dropout if self.dropout is not None else (arch.rep_dropout if rep else 0.0),
            train_classifier=self.train_classifier if self.train_classifier is not None else not rep,
        )})


def shape_request(config: LorettaConfig, in_f: int, out_f: int):
    if isinstance(config.tt_shapes, dict):
        return config.tt_shapes.get((in_f, out_f), config.tt_shapes.get(f"{in_f}x{out_f}", "paper"))
    return config.tt_shapes


def matches_name(name: str, pattern: str) -> bool:
    """PEFT-style target matching: `pattern` (a name or a regex) matches the end of a dotted name."""
    return re.search(rf"(^|\.)(?:{pattern})$", name) is not None


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def _linear_names(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear) or type(m).__name__ == "Conv1D"]


def _no_match_error(pattern, model: nn.Module, method: str) -> ValueError:
    names = _linear_names(model)
    suffixes = sorted({n.split(".")[-1] for n in names} | {".".join(n.split(".")[-2:]) for n in names})
    return ValueError(f"target {pattern!r} matches no module of {type(model).__name__} for {method}. "
                      f"Candidate linear modules (suffixes): {suffixes[:40]}. Example: target_modules=['{suffixes[0]}']")


class AdapterAround(nn.Module):
    """Runs an adapter on the input ("before") or the output ("after") of a wrapped module."""

    def __init__(self, module: nn.Module, adapter: TTAdapter, position: str):
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
    that :meth:`LorettaModel.disable_adapter` can give back the base model's function.
    """

    def __init__(self, original: nn.Linear, tt_shape, tt_rank: int):
        super().__init__()
        self.tt = TTLinear(original.in_features, original.out_features, tt_shape, tt_rank,
                           device=original.weight.device)
        self._original = [original]
        self.disabled = False

    def forward(self, x):
        if self.disabled:
            return self._original[0].to(x.device)(x)
        return self.tt(x)


def _owner(model: nn.Module, parameter_name: str) -> nn.Module:
    return model.get_submodule(parameter_name.rpartition(".")[0])


def is_norm(module: nn.Module) -> bool:
    name = type(module).__name__
    return isinstance(module, nn.LayerNorm) or "LayerNorm" in name or "RMSNorm" in name


def get_loretta_model(model: nn.Module, config: LorettaConfig | None = None) -> LorettaModel:
    """Freeze `model`, insert LoRETTA as `config` says, and wrap it in a :class:`LorettaModel`."""
    config = config or LorettaConfig()
    try:
        arch = architecture(model)
    except ValueError:
        if config.target_modules is None:
            raise
        arch = Architecture("custom", {}, (), None)
    config = config.resolved(arch)
    model.requires_grad_(False)
    targets = config.target_modules
    if config.method == "rep":
        _place_rep(model, config, targets if targets is not None else arch.rep)
    else:
        placements = arch.adp if targets is None else (targets if isinstance(targets, dict) else dict.fromkeys(targets, "after"))
        _place_adp(model, config, placements)
    if config.train_norms:
        for m in model.modules():
            if is_norm(m):
                m.requires_grad_(True)
    if arch.head is not None and hasattr(model, "num_labels") and "ForSequenceClassification" in type(model).__name__:
        _set_up_head(model, config, arch.head)
    return LorettaModel(model, config)


def _place_rep(model: nn.Module, config: LorettaConfig, targets) -> None:
    for pattern in targets:
        names = [n for n in _linear_names(model) if matches_name(n, pattern)]
        if not names:
            raise _no_match_error(pattern, model, "rep")
        for name in names:
            base = model.get_submodule(name)
            in_f, out_f = (base.in_features, base.out_features) if isinstance(base, nn.Linear) else base.weight.shape
            shapes = (shape_request(config, in_f, config.bottleneck), shape_request(config, config.bottleneck, out_f))
            _replace(model, name, LorettaRepLinear(base, config.bottleneck, config.tt_rank, config.alpha,
                                                   config.dropout, config.init, shapes))


def place_adapters(model: nn.Module, placements: dict, make_adapter) -> list[str]:
    """Wrap every module matching a placement with ``AdapterAround(module, make_adapter(features, device))``.

    `placements` maps a name pattern to "before" | "after"; the adapter's width is the wrapped
    module's input (before) or output (after) size, or the model's hidden size for modules without
    a weight (dropout). Shared by LoRETTA_adp and the dense-adapter baseline.
    """
    hidden = getattr(getattr(model, "config", None), "hidden_size", None)
    placed = []
    for pattern, position in placements.items():
        names = [n for n, _ in model.named_modules() if matches_name(n, pattern)]
        if not names:
            raise _no_match_error(pattern, model, "adapters")
        for name in names:
            module = model.get_submodule(name)
            w = getattr(module, "weight", None)
            if isinstance(module, nn.Linear):
                features = module.in_features if position == "before" else module.out_features
            elif w is not None and w.ndim == 2:  # GPT-2 Conv1D keeps W as (in, out)
                features = w.shape[0] if position == "before" else w.shape[1]
            else:
                features = hidden
            device = w.device if w is not None else next(model.parameters()).device
            _replace(model, name, AdapterAround(module, make_adapter(features, device), position))
            placed.append(name)
    return placed


def _place_adp(model: nn.Module, config: LorettaConfig, placements: dict) -> None:
    def make(features: int, device) -> TTAdapter:
        shapes = (shape_request(config, features, config.bottleneck), shape_request(config, config.bottleneck, features))
        return TTAdapter(features, config.bottleneck, config.tt_rank, config.activation,
                         config.adapter_scale, shapes, config.init, device=device)

    place_adapters(model, placements, make)


def _set_up_head(model: nn.Module, config: LorettaConfig, head: tuple[str, str]) -> None:
    dense_name, classifier_name = head
    dense = model.get_submodule(dense_name)
    if config.head == "tensorized":
        shape = shape_request(config, dense.in_features, dense.out_features)
        _replace(model, dense_name, TensorizedHead(dense, shape, config.tt_rank))
    elif config.head == "dense":
        dense.requires_grad_(True)
    model.get_submodule(classifier_name).requires_grad_(bool(config.train_classifier))


class LorettaModel(nn.Module):
    """A base model with LoRETTA inside: passes forward/generate through, saves only what trains.

    Examples
    --------
    >>> model = get_loretta_model(hf_model, LorettaConfig(method="rep"))
    >>> model.print_trainable_parameters()
    trainable params: 54,068 || all params: 139,247,938 || trainable%: 0.0388
    """

    def __init__(self, base_model: nn.Module, config: LorettaConfig):
        super().__init__()
        self.base_model, self.loretta_config = base_model, config
        self._expose_base_signature()
        # pretrained values of the base model's own trainable tensors (norms, classifier, dense
        # head): tiny, and what lets disable_adapter() give back the base model's function
        self._pretrained = {n: p.detach().clone() for n, p in base_model.named_parameters()
                            if p.requires_grad and not isinstance(_owner(base_model, n), TTLinear)}

    def forward(self, *args, **kwargs):
        return self.base_model(*args, **kwargs)

    def __getstate__(self):  # copy/pickle without the per-instance forward (it points at this model)
        state = dict(self.__dict__)
        state.pop("forward", None)
        return state

    def __setstate__(self, state):  # ... and rebuild it for the copy
        super().__setstate__(state)
        self._expose_base_signature()

    def _expose_base_signature(self) -> None:
        """Give this instance's forward the base model's signature (via functools.wraps).

        transformers' Trainer keeps only the dataset columns that `model.forward` names; a bare
        (*args, **kwargs) would make it drop every column.
        """
        base_forward = self.base_model.forward

        @functools.wraps(base_forward)
        def forward(*args, **kwargs):
            return self.base_model(*args, **kwargs)

        object.__setattr__(self, "forward", forward)

    def generate(self, *args, **kwargs):
        return self.base_model.generate(*args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("base_model"), name)

    # -- counting -------------------------------------------------------------------------
    def trainable_state(self) -> dict[str, torch.Tensor]:
        """What :meth:`save_pretrained` writes: trained parameters plus frozen TT starting points."""
        return {n: p for n, p in self.base_model.named_parameters()
                if p.requires_grad or re.search(r"\.(A0|B0)\.cores\.", n)}

    def num_trainable(self) -> int:
        return sum(p.numel() for p in self.base_model.parameters() if p.requires_grad)

    def print_trainable_parameters(self) -> None:
        """PEFT's one-line summary."""
        total = sum(p.numel() for p in self.base_model.parameters())
        trainable = self.num_trainable()
        print(f"trainable params: {trainable:,} || all params: {total:,} || trainable%: {100 * trainable / total:.4f}")

    def parameter_report(self) -> list[dict]:
        """One row per trainable tensor: name, kind (tt core, bias, norm, head), layer, shape, count."""
        rows = []
        for name, p in self.base_model.named_parameters():
            if not p.requires_grad:
                continue
            layer = re.search(r"layers?\.(\d+)\.|\bh\.(\d+)\.", name)
            owner = _owner(self.base_model, name)
            kind = ("tt core" if ".cores." in name else "norm" if is_norm(owner)
                    else "adapter bias" if ".adapter." in name else "head")
            rows.append(dict(name=name, kind=kind, layer=int(next(g for g in layer.groups() if g)) if layer else None,
                             shape=tuple(p.shape), count=p.numel()))
        return rows

    # -- switching ------------------------------------------------------------------------
    @contextlib.contextmanager
    def disable_adapter(self):
        """Within the block the model computes the base model's function: adapters, rep updates
        and tensorized heads are off, and trained norms and classifier hold their pretrained values."""
        switches = [m for m in self.base_model.modules() if hasattr(m, "disabled")]
        params = dict(self.base_model.named_parameters())
        trained = {n: params[n].detach().clone() for n in self._pretrained}
        try:
            for m in switches:
                m.disabled = True
            with torch.no_grad():
                for n, value in self._pretrained.items():
                    params[n].copy_(value)
            yield self
        finally:
            for m in switches:
                m.disabled = False
            with torch.no_grad():
                for n, value in trained.items():
                    params[n].copy_(value)

    def merge_and_unload(self) -> nn.Module:
        """rep: fold every update into its base weight and return the plain base model."""
        if self.loretta_config.method != "rep":
            raise TypeError("merge_and_unload needs method='rep': adapters (adp) are non-linear "
                            "(h + up(relu(down(h)))), so they cannot be folded into a weight. Keep the "
                            "LorettaModel, or use LorettaConfig(method='rep').")
        for name, module in list(self.base_model.named_modules()):
            if isinstance(module, LorettaRepLinear):
                module.merge()
                _replace(self.base_model, name, module.base)
            elif isinstance(module, TensorizedHead):
                tt = module.tt
                dense = nn.Linear(tt.in_features, tt.out_features, device=tt.cores[0].device)
                with torch.no_grad():
                    dense.weight.copy_(tt.weight)
                    dense.bias.copy_(tt.bias)
                _replace(self.base_model, name, dense)
        return self.base_model

    # -- saving ---------------------------------------------------------------------------
    def save_pretrained(self, directory) -> Path:
        """Write adapter_config.json and adapter_model.safetensors (only what was trained)."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = asdict(self.loretta_config)
        if isinstance(config["tt_shapes"], dict):  # JSON keys are strings: {(768, 64): s} -> {"768x64": s}
            config["tt_shapes"] = {k if isinstance(k, str) else f"{k[0]}x{k[1]}": list(v)
                                   for k, v in config["tt_shapes"].items()}
        meta = dict(config, base_model_class=type(self.base_model).__name__,
                    model_type=getattr(getattr(self.base_model, "config", None), "model_type", None))
        state = {n: p.detach().float().cpu().contiguous() for n, p in self.trainable_state().items()}
        save_file(state, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})
        (directory / CONFIG_NAME).write_text(json.dumps(meta, indent=2, default=list))
        return directory

    @classmethod
    def from_pretrained(cls, base_model: nn.Module, directory, is_trainable: bool = False) -> LorettaModel:
        """Rebuild the LoRETTA layout on `base_model` and load the saved tensors into it."""
        from safetensors.torch import load_file

        directory = Path(directory)
        meta = json.loads((directory / CONFIG_NAME).read_text())
        saved_type, model_type = meta.pop("model_type", None), getattr(getattr(base_model, "config", None), "model_type", None)
        saved_class = meta.pop("base_model_class", None)
        if saved_type != model_type:
            raise ValueError(f"the adapter in {directory} was trained on a {saved_class} (model_type "
                             f"{saved_type!r}); this base model is {type(base_model).__name__} ({model_type!r})")
        model = get_loretta_model(base_model, LorettaConfig(**meta))
        state = load_file(str(directory / WEIGHTS_NAME))
        expected = model.trainable_state()
        missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        wrong = [f"{n}: saved {tuple(state[n].shape)}, model {tuple(expected[n].shape)}"
                 for n in set(state) & set(expected) if state[n].shape != expected[n].shape]
        if missing or unexpected or wrong:
            raise ValueError(f"the adapter in {directory} does not fit this {type(base_model).__name__}: "
                             f"missing {missing[:5]}, unexpected {unexpected[:5]}, shape mismatches {wrong[:5]}")
        with torch.no_grad():
            for n, p in expected.items():
                p.copy_(state[n].to(p.dtype))
        if not is_trainable:
            model.requires_grad_(False)
        return model
