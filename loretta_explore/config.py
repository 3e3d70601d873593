"""LorettaConfig: every LoRETTA setting, checked when it is made (docs/method.md#adp, #rep).

The defaults reproduce the paper; ``resolved(arch)`` fills the ones that depend on the model
family (rep's bottleneck, rank and dropout on LLaMA) from the architecture registry. Every value is
checked by the method registry's vocabulary, so a bad one raises a ValueError naming it, and
nothing is silently replaced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from . import methods as M
from .architectures import Architecture

__all__ = ["LorettaConfig"]


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
            raise ValueError(
                f'method must be "rep" or "adp", got {self.method!r}. '
                f'Example: LorettaConfig(method="adp")'
            )
        name = f"loretta_{self.method}"
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "method" or (f.name == "target_modules" and value is None):
                continue
            setattr(self, f.name, M.canonical(name, {f.name: value})[f.name])

    def resolved(self, arch: Architecture | None) -> LorettaConfig:
        """A copy with every None replaced by the paper's value for this architecture."""
        rep = self.method == "rep"
        return LorettaConfig(
            **{
                **asdict(self),
                **dict(
                    tt_rank=self.tt_rank or ((arch.rep_rank if arch else 5) if rep else 5),
                    bottleneck=self.bottleneck
                    or ((arch.rep_bottleneck if arch else 8) if rep else 64),
                    dropout=self.dropout
                    if self.dropout is not None
                    else (arch.rep_dropout if arch and rep else 0.0),
                    train_classifier=(
                        self.train_classifier if self.train_classifier is not None else not rep
                    ),
                ),
            }
        )

    def targets(self, arch: Architecture | None):
        """rep: the list of target patterns; adp: {pattern: "before" | "after"}."""
        if self.target_modules is None:
            if arch is None:
                raise ValueError(
                    "this model's family is unknown to the kit: name the layers, e.g. "
                    "LorettaConfig(target_modules=['q_proj', 'v_proj'])"
                )
            return list(arch.rep) if self.method == "rep" else dict(arch.adp)
        return self.target_modules

    def shape_request(self, in_features: int, out_features: int):
        """The TT shape asked for an (in, out) weight: "paper", "auto" or an explicit shape."""
        if isinstance(self.tt_shapes, dict):
            return self.tt_shapes.get((in_features, out_features), "paper")
        return self.tt_shapes
