"""The method registry: one vocabulary of hyperparameters that counting and set-up both go through.

Every fine-tuning method the kit knows is one :class:`Method` record: the hyperparameters it
takes (names, aliases, how a value is checked, the default on a family). Both
:func:`loretta_explore.count_trainable` (an analytic count from a config) and
:func:`loretta_explore.prepare` (a real model set up to train) call :func:`resolve` first, so a
name one of them accepts the other accepts too, a bad value raises the same error on both paths,
and the defaults are the same. Target patterns are matched here too, by one rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .architectures import Architecture
from .value_checks import (  # re-exported: the registry's public checks
    _boolean,
    _choice,
    _number,
    _sided,
    _targets,
    _tt_shapes,
    check_fits,
    check_pattern,
    check_rank_fits,
    matches_name,
    max_bond_rank,
    no_match_error,
    positive_int,
)

__all__ = [
    "FLOORS",
    "METHODS",
    "Hyperparameter",
    "Method",
    "REGISTRY",
    "check_fits",
    "check_pattern",
    "check_rank_fits",
    "matches_name",
    "max_bond_rank",
    "no_match_error",
    "positive_int",
    "resolve",
]

METHODS: tuple[str, ...] = (
    "full",
    "lora",
    "adapters",
    "prefix",
    "ia3",
    "bitfit",
    "loretta_adp",
    "loretta_rep",
)
#: two floors the benchmarks use: only the classifier ("probe"), only norms and classifier ("norms")
FLOORS: tuple[str, ...] = ("probe", "norms")
LORETTA_HEADS = ("tensorized", "dense", "frozen")
BASELINE_HEADS = ("frozen", "dense")
ACTIVATIONS = ("relu", "gelu", "silu", "tanh", "identity")
REP_INITS, ADP_INITS = ("paper", "compensated", "zero"), ("paper", "identity")
SCALE_BY = ("bottleneck", "tt_rank")


@dataclass(frozen=True)
class Hyperparameter:
    """One name of the vocabulary: how a value is checked and an example of a valid call."""

    name: str
    check: Callable[[str, Any, str], Any]
    example: str
    doc: str

    def __call__(self, value: Any) -> Any:
        return self.check(self.name, value, self.example)


_H = Hyperparameter
VOCABULARY: dict[str, Hyperparameter] = {
    h.name: h
    for h in (
        _H(
            "num_labels",
            positive_int,
            "num_labels=3",
            "labels of an encoder's classifier (counting)",
        ),
        _H(
            "task",
            _choice(("sequence-classification", "causal-lm")),
            "task='causal-lm'",
            "how a model is counted: with a classification head or as a causal LM",
        ),
        _H(
            "head",
            _choice(LORETTA_HEADS),
            "head='dense'",
            "the dense layer before the classifier: tensorized (LoRETTA), dense (trained) or frozen",
        ),
        _H("train_classifier", _boolean, "train_classifier=True", "train the final classifier"),
        _H("train_norms", _boolean, "train_norms=True", "train every LayerNorm / RMSNorm"),
        _H("r", positive_int, "r=8", "LoRA rank"),
        _H("lora_alpha", _number(0.0, math.inf), "lora_alpha=16", "LoRA scale numerator"),
        _H("lora_dropout", _number(0.0, 1.0), "lora_dropout=0.1", "dropout on LoRA's input"),
        _H(
            "target_modules",
            _targets,
            "target_modules=['query', 'value']",
            "module names (suffixes) or regexes; adapters: {name: 'before' | 'after'}; "
            "ia3: {name: 'out' | 'in'}",
        ),
        _H("bottleneck", positive_int, "bottleneck=8", "adapter width; rep: width of A's output"),
        _H("adapter_bias", _boolean, "adapter_bias=False", "biases in the dense adapters"),
        _H("prefix_tokens", positive_int, "prefix_tokens=10", "virtual tokens of prefix tuning"),
        _H(
            "feedforward_modules",
            _targets,
            "feedforward_modules=['down_proj']",
            "ia3: the targets whose input (not output) is scaled",
        ),
        _H("tt_rank", positive_int, "tt_rank=5", "internal TT rank of every TT layer"),
        _H("tt_shapes", _tt_shapes, "tt_shapes='auto'", "'paper', 'auto' or {(in, out): shape}"),
        _H(
            "alpha",
            _number(0.0, math.inf),
            "alpha=16",
            "rep: the update is scaled by alpha / scale_by",
        ),
        _H(
            "scale_by",
            _choice(SCALE_BY),
            "scale_by='bottleneck'",
            "rep: divide alpha by the bottleneck (LoRA's convention, default) or by the TT rank",
        ),
        _H("dropout", _number(0.0, 1.0), "dropout=0.05", "rep: dropout on the update's input"),
        _H("activation", _choice(ACTIVATIONS), "activation='relu'", "adp non-linearity"),
        _H("adapter_scale", _number(0.0, math.inf), "adapter_scale=1.0", "adp output scale"),
        _H(
            "init",
            _choice(REP_INITS + ADP_INITS[1:]),
            "init='compensated'",
            "rep: paper | compensated | zero; adp: paper | identity",
        ),
    )
}

_COMMON = ("head", "train_classifier", "train_norms")
_LORETTA = (
    "tt_rank",
    "bottleneck",
    "target_modules",
    "tt_shapes",
    "alpha",
    "scale_by",
    "dropout",
    "activation",
    "adapter_scale",
    "init",
    *_COMMON,
)


@dataclass(frozen=True)
class Method:
    """A fine-tuning method: the hyperparameters it takes, their aliases, what it trains."""

    name: str
    takes: tuple[str, ...]
    aliases: Mapping[str, str]
    doc: str


REGISTRY: dict[str, Method] = {
    m.name: m
    for m in (
        Method("full", (), {}, "every parameter"),
        Method(
            "lora",
            ("r", "target_modules", "lora_alpha", "lora_dropout", *_COMMON),
            {
                "lora_rank": "r",
                "lora_targets": "target_modules",
                "alpha": "lora_alpha",
                "dropout": "lora_dropout",
            },
            "rank-r A and B beside each target (PEFT)",
        ),
        Method(
            "adapters",
            ("bottleneck", "adapter_bias", "target_modules", *_COMMON),
            {
                "adapter_bottleneck": "bottleneck",
                "adapter_targets": "target_modules",
                "placements": "target_modules",
            },
            "dense bottleneck adapters (Houlsby)",
        ),
        Method(
            "prefix",
            ("prefix_tokens", *_COMMON),
            {"num_virtual_tokens": "prefix_tokens"},
            "trained key and value vectors per layer (PEFT)",
        ),
        Method(
            "ia3",
            ("target_modules", "feedforward_modules", *_COMMON),
            {"ia3_targets": "target_modules"},
            "one scaling vector per target (PEFT)",
        ),
        Method("bitfit", _COMMON, {}, "every bias"),
        Method("loretta_adp", _LORETTA, {}, "TT bottleneck adapters (docs/method.md#adp)"),
        Method("loretta_rep", _LORETTA, {}, "TT-reparameterised update (docs/method.md#rep)"),
        Method("probe", ("train_classifier",), {}, "only the classifier"),
        Method("norms", ("train_classifier",), {}, "only the norms and the classifier"),
    )
}


def check_method(method: Any, allowed: Sequence[str] = METHODS) -> str:
    if method not in allowed:
        raise ValueError(
            f"unknown method {method!r}; known methods: {', '.join(allowed)}. "
            f"Example: count_trainable('llama-2-7b', 'loretta_rep')"
        )
    return method


def canonical(method: str, given: Mapping[str, Any], extra: Sequence[str] = ()) -> dict[str, Any]:
    """Aliases to canonical names, every value checked; unknown names raise with the known ones.

    `extra` lists names the caller takes besides the method's own (counting takes ``num_labels``
    and ``task``, which describe the model rather than the method).
    """
    record = REGISTRY[check_method(method, (*METHODS, *FLOORS))]
    out: dict[str, Any] = {}
    for key, value in given.items():
        name = record.aliases.get(key, key)
        if name not in record.takes and name not in extra:
            accepted = sorted({*record.takes, *record.aliases})
            raise ValueError(
                f"{method!r} takes no hyperparameter {key!r}; it takes: "
                f"{', '.join(accepted) or 'none'}. Example: "
                f"{_example(method, accepted)}"
            )
        if name in out:
            raise ValueError(
                f"{key!r} and another name both set {name!r} for {method!r}; give it once"
            )
        out[name] = _check(method, name, value)
    return out


def _example(method: str, accepted: Sequence[str]) -> str:
    if not accepted:
        return f"prepare(model, {method!r})"
    h = VOCABULARY[accepted[0]] if accepted[0] in VOCABULARY else None
    return f"prepare(model, {method!r}, {h.example if h else accepted[0] + '=...'})"


def _check(method: str, name: str, value: Any) -> Any:
    if (
        value is None
        and method.startswith("loretta_")
        and name in ("tt_rank", "bottleneck", "dropout", "train_classifier")
    ):
        return None  # LorettaConfig's "the paper's value for this architecture"
    if name == "target_modules" and method in ("adapters", "loretta_adp"):
        return _sided(("before", "after"), "after")(name, value, "")
    if name == "target_modules" and method == "ia3" and isinstance(value, Mapping):
        return _sided(("out", "in"), "out")(name, value, "")
    if name == "head":
        heads = LORETTA_HEADS if method.startswith("loretta_") else BASELINE_HEADS
        if value not in heads:
            raise ValueError(
                f"head for {method!r} must be one of {list(heads)}"
                + (' ("tensorized" is LoRETTA\'s own)' if value == "tensorized" else "")
                + f", got {value!r}. Example: head='dense'"
            )
        return value
    if name == "init":
        inits = REP_INITS if method == "loretta_rep" else ADP_INITS
        if value not in inits:
            raise ValueError(
                f"init for method {method.removeprefix('loretta_')!r} must be one of "
                f"{list(inits)}, got {value!r}. Example: init={inits[-1]!r}"
            )
        return value
    return VOCABULARY[name](value)


def resolve(
    method: str, given: Mapping[str, Any], arch: Architecture | None, extra: Sequence[str] = ()
) -> dict[str, Any]:
    """Canonical, checked settings with the family's defaults filled in (baselines and floors).

    LoRETTA's own defaults are :class:`~loretta_explore.LorettaConfig`'s (the paper's, resolved
    per architecture there); for those methods this returns only what was given, checked.
    """
    hp = canonical(method, given, extra)
    if method.startswith("loretta_") or method == "full":
        return hp
    base = arch.baselines if arch is not None else None
    adapters = method == "adapters"
    defaults: dict[str, Any] = dict(
        head=base.adapter_head if adapters and base else "frozen",
        train_classifier=True,
        train_norms=bool(base and adapters and base.adapter_norms) or method == "norms",
    )
    if method == "lora":
        defaults.update(r=base.lora_rank if base else 8, lora_alpha=16.0, lora_dropout=0.0)
        if arch is not None:
            defaults["target_modules"] = list(arch.rep)
    elif adapters:
        defaults.update(
            bottleneck=base.adapter_bottleneck if base else 64,
            adapter_bias=base.adapter_bias if base else False,
        )
        if arch is not None:
            defaults["target_modules"] = dict(arch.adp)
    elif method == "prefix":
        defaults["prefix_tokens"] = base.prefix_tokens if base else 5
    elif method == "ia3":
        targets = hp.pop("target_modules", None)
        if targets is None and arch is None:
            targets = None
        elif targets is None:
            targets = dict(arch.ia3)
        elif not isinstance(targets, Mapping):
            ff = set(hp.get("feedforward_modules", ()))
            targets = {t: ("in" if t in ff else "out") for t in targets}
        if targets is not None:
            defaults["target_modules"] = targets
        hp.pop("feedforward_modules", None)
    out = {**defaults, **hp}
    if method in ("lora", "adapters", "ia3") and "target_modules" not in out:
        raise ValueError(
            f"{method!r} on a model family the kit does not know needs "
            f"target_modules, e.g. prepare(model, {method!r}, "
            f"target_modules=['q_proj', 'v_proj'])"
        )
    return out
