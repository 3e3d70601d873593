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
import numbers
import re

try:  # the regex parser (Python 3.11+ names it re._parser; 3.10 has sre_parse)
    from re import _constants as _sre_constants
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as _sre_constants
    import sre_parse as _sre_parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .architectures import Architecture

__all__ = [
    "FLOORS", "METHODS", "Hyperparameter", "Method", "REGISTRY", "check_fits", "check_pattern",
    "check_rank_fits", "matches_name", "max_bond_rank", "no_match_error", "positive_int", "resolve",
]

METHODS: tuple[str, ...] = (
    "full", "lora", "adapters", "prefix", "ia3", "bitfit", "loretta_adp", "loretta_rep",
)
#: two floors the benchmarks use: only the classifier ("probe"), only norms and classifier ("norms")
FLOORS: tuple[str, ...] = ("probe", "norms")
LORETTA_HEADS = ("tensorized", "dense", "frozen")
BASELINE_HEADS = ("frozen", "dense")
ACTIVATIONS = ("relu", "gelu", "silu", "tanh", "identity")
REP_INITS, ADP_INITS = ("paper", "compensated", "zero"), ("paper", "identity")
SCALE_BY = ("bottleneck", "tt_rank")


# -- checking one value ---------------------------------------------------------------------

def positive_int(name: str, value: Any, example: str = "", minimum: int = 1) -> int:
    """An integer >= `minimum`; numpy integers and 0-d integer tensors count, True/False do not."""
    if hasattr(value, "ndim") and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        if "int" in str(getattr(value, "dtype", "")):
            value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        hint = f" Example: {example}" if example else ""
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.{hint}")
    return int(value)


def _boolean(name: str, value: Any, example: str = "") -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}. Example: {name}=True")
    return value


def _choice(options: Sequence[str]) -> Callable[[str, Any, str], str]:
    def check(name: str, value: Any, example: str = "") -> str:
        if value not in options:
            raise ValueError(f"{name} must be one of {list(options)}, got {value!r}. "
                             f"Example: {name}={options[0]!r}")
        return value

    return check


def _number(low: float, high: float, closed_high: bool = False):
    def check(name: str, value: Any, example: str = "") -> float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and low <= value and (value <= high if closed_high else value < high)
        if not ok:
            bound = "]" if closed_high else ")"
            raise ValueError(f"{name} must be a finite number in [{low:g}, {high:g}{bound}, got "
                             f"{value!r}. Example: {example or name + '=' + str(low)}")
        return float(value)

    return check


def _patterns(name: str, value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(f"{name} must be a module name or a non-empty list of names, got {value!r}: "
                         f"an empty list would adapt nothing. Example: {name}=['query', 'value']")
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"{name} holds {item!r}; every entry must be a module name (a non-empty "
                             f"string) such as 'query' or a regex such as r'layer\\.0\\.query'")
        check_pattern(name, item)
    return list(items)


def check_pattern(name: str, pattern: str) -> None:
    r"""A target pattern must compile and must not nest repetition (``(a|b)*``, ``(a+)+``).

    Why: Python's regex engine backtracks, and a nested repetition such as ``(.|.)*X`` takes time
    exponential in the length of a module name, so matching it would hang. Plain names, dotted
    suffixes and ordinary patterns such as ``layer\.\d+\.output\.dense`` or
    ``(query|value)`` are all fine.
    """
    try:
        parsed = _sre_parse.parse(pattern)
    except re.error as err:
        raise ValueError(f"{name} entry {pattern!r} is not a valid pattern ({err}); use a plain "
                         f"module name such as 'query'") from None

    def nested(items, inside_repeat: bool) -> bool:
        for op, arg in items:
            if op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT,
                      getattr(_sre_constants, "POSSESSIVE_REPEAT", None)):
                if inside_repeat or nested(arg[2], True):
                    return True
            elif op is _sre_constants.BRANCH:
                if inside_repeat or any(nested(b, inside_repeat) for b in arg[1]):
                    return True
            elif op is _sre_constants.SUBPATTERN and nested(arg[-1], inside_repeat):
                return True
        return False

    if nested(parsed, False):
        raise ValueError(f"{name} entry {pattern!r} repeats a group that itself repeats or "
                         f"alternates, which can take forever to match; write the names out, e.g. "
                         f"{name}=['query', 'value'] or r'layer\\.\\d+\\.query'")


def _targets(name: str, value: Any, example: str = "") -> list[str]:
    return _patterns(name, value)


def _sided(sides: tuple[str, str], default: str):
    """Targets that also say a side: {pattern: side}; a plain list takes `default` for every entry."""
    def check(name: str, value: Any, example: str = "") -> dict[str, str]:
        if isinstance(value, Mapping):
            patterns = _patterns(name, list(value))
            placements = dict(zip(patterns, value.values()))
        else:
            placements = dict.fromkeys(_patterns(name, value), default)
        bad = {p: v for p, v in placements.items() if v not in sides}
        if bad:
            raise ValueError(f"{name} maps each pattern to {sides[0]!r} or {sides[1]!r}, got {bad}. "
                             f"Example: {name}={{'mlp.down_proj': {default!r}}}")
        return placements

    return check


def _tt_shapes(name: str, value: Any, example: str = "") -> str | dict:
    if value in ("paper", "auto"):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f'{name} must be "paper", "auto" or a dict {{(in, out): shape}}, got '
                         f'{value!r}. Example: {name}={{(768, 8): [8, 12, 8, 8]}}')
    out = {}
    for key, shape in value.items():
        size = key if isinstance(key, tuple) else tuple(int(k) for k in str(key).split("x"))
        if len(size) != 2 or isinstance(shape, str) and shape not in ("paper", "auto"):
            raise ValueError(f"{name} keys are (in, out) sizes or 'INxOUT' strings and values shapes, "
                             f"got {key!r}: {shape!r}. Example: {name}={{(768, 8): [8, 12, 8, 8]}}")
        out[tuple(positive_int(f"{name} size", k) for k in size)] = (
            shape if isinstance(shape, str)
            else tuple(positive_int(f"{name}[{key!r}] factor", k) for k in shape))
    return out


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
VOCABULARY: dict[str, Hyperparameter] = {h.name: h for h in (
    _H("num_labels", positive_int, "num_labels=3", "labels of an encoder's classifier (counting)"),
    _H("task", _choice(("sequence-classification", "causal-lm")), "task='causal-lm'",
       "how a model is counted: with a classification head or as a causal LM"),
    _H("head", _choice(LORETTA_HEADS), "head='dense'",
       "the dense layer before the classifier: tensorized (LoRETTA), dense (trained) or frozen"),
    _H("train_classifier", _boolean, "train_classifier=True", "train the final classifier"),
    _H("train_norms", _boolean, "train_norms=True", "train every LayerNorm / RMSNorm"),
    _H("r", positive_int, "r=8", "LoRA rank"),
    _H("lora_alpha", _number(0.0, math.inf), "lora_alpha=16", "LoRA scale numerator"),
    _H("lora_dropout", _number(0.0, 1.0), "lora_dropout=0.1", "dropout on LoRA's input"),
    _H("target_modules", _targets, "target_modules=['query', 'value']",
       "module names (suffixes) or regexes; adapters: {name: 'before' | 'after'}; "
       "ia3: {name: 'out' | 'in'}"),
    _H("bottleneck", positive_int, "bottleneck=8", "adapter width; rep: width of A's output"),
    _H("adapter_bias", _boolean, "adapter_bias=False", "biases in the dense adapters"),
    _H("prefix_tokens", positive_int, "prefix_tokens=10", "virtual tokens of prefix tuning"),
    _H("feedforward_modules", _targets, "feedforward_modules=['down_proj']",
       "ia3: the targets whose input (not output) is scaled"),
    _H("tt_rank", positive_int, "tt_rank=5", "internal TT rank of every TT layer"),
    _H("tt_shapes", _tt_shapes, "tt_shapes='auto'", "'paper', 'auto' or {(in, out): shape}"),
    _H("alpha", _number(0.0, math.inf), "alpha=16", "rep: the update is scaled by alpha / scale_by"),
    _H("scale_by", _choice(SCALE_BY), "scale_by='bottleneck'",
       "rep: divide alpha by the bottleneck (LoRA's convention, default) or by the TT rank"),
    _H("dropout", _number(0.0, 1.0), "dropout=0.05", "rep: dropout on the update's input"),
    _H("activation", _choice(ACTIVATIONS), "activation='relu'", "adp non-linearity"),
    _H("adapter_scale", _number(0.0, math.inf), "adapter_scale=1.0", "adp output scale"),
    _H("init", _choice(REP_INITS + ADP_INITS[1:]), "init='compensated'",
       "rep: paper | compensated | zero; adp: paper | identity"),
)}

_COMMON = ("head", "train_classifier", "train_norms")
_LORETTA = ("tt_rank", "bottleneck", "target_modules", "tt_shapes", "alpha", "scale_by", "dropout",
            "activation", "adapter_scale", "init", *_COMMON)


@dataclass(frozen=True)
class Method:
    """A fine-tuning method: the hyperparameters it takes, their aliases, what it trains."""

    name: str
    takes: tuple[str, ...]
    aliases: Mapping[str, str]
    doc: str


REGISTRY: dict[str, Method] = {m.name: m for m in (
    Method("full", (), {}, "every parameter"),
    Method("lora", ("r", "target_modules", "lora_alpha", "lora_dropout", *_COMMON),
           {"lora_rank": "r", "lora_targets": "target_modules", "alpha": "lora_alpha",
            "dropout": "lora_dropout"}, "rank-r A and B beside each target (PEFT)"),
    Method("adapters", ("bottleneck", "adapter_bias", "target_modules", *_COMMON),
           {"adapter_bottleneck": "bottleneck", "adapter_targets": "target_modules",
            "placements": "target_modules"}, "dense bottleneck adapters (Houlsby)"),
    Method("prefix", ("prefix_tokens", *_COMMON), {"num_virtual_tokens": "prefix_tokens"},
           "trained key and value vectors per layer (PEFT)"),
    Method("ia3", ("target_modules", "feedforward_modules", *_COMMON),
           {"ia3_targets": "target_modules"}, "one scaling vector per target (PEFT)"),
    Method("bitfit", _COMMON, {}, "every bias"),
    Method("loretta_adp", _LORETTA, {}, "TT bottleneck adapters (docs/method.md#adp)"),
    Method("loretta_rep", _LORETTA, {}, "TT-reparameterised update (docs/method.md#rep)"),
    Method("probe", ("train_classifier",), {}, "only the classifier"),
    Method("norms", ("train_classifier",), {}, "only the norms and the classifier"),
)}


def check_method(method: Any, allowed: Sequence[str] = METHODS) -> str:
    if method not in allowed:
        raise ValueError(f"unknown method {method!r}; known methods: {', '.join(allowed)}. "
                         f"Example: count_trainable('llama-2-7b', 'loretta_rep')")
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
            raise ValueError(f"{method!r} takes no hyperparameter {key!r}; it takes: "
                             f"{', '.join(accepted) or 'none'}. Example: "
                             f"{_example(method, accepted)}")
        if name in out:
            raise ValueError(f"{key!r} and another name both set {name!r} for {method!r}; give it once")
        out[name] = _check(method, name, value)
    return out


def _example(method: str, accepted: Sequence[str]) -> str:
    if not accepted:
        return f"prepare(model, {method!r})"
    h = VOCABULARY[accepted[0]] if accepted[0] in VOCABULARY else None
    return f"prepare(model, {method!r}, {h.example if h else accepted[0] + '=...'})"


def _check(method: str, name: str, value: Any) -> Any:
    if value is None and method.startswith("loretta_") and name in ("tt_rank", "bottleneck",
                                                                    "dropout", "train_classifier"):
        return None  # LorettaConfig's "the paper's value for this architecture"
    if name == "target_modules" and method in ("adapters", "loretta_adp"):
        return _sided(("before", "after"), "after")(name, value, "")
    if name == "target_modules" and method == "ia3" and isinstance(value, Mapping):
        return _sided(("out", "in"), "out")(name, value, "")
    if name == "head":
        heads = LORETTA_HEADS if method.startswith("loretta_") else BASELINE_HEADS
        if value not in heads:
            raise ValueError(f"head for {method!r} must be one of {list(heads)}"
                             + (" (\"tensorized\" is LoRETTA's own)" if value == "tensorized" else "")
                             + f", got {value!r}. Example: head='dense'")
        return value
    if name == "init":
        inits = REP_INITS if method == "loretta_rep" else ADP_INITS
        if value not in inits:
            raise ValueError(f"init for method {method.removeprefix('loretta_')!r} must be one of "
                             f"{list(inits)}, got {value!r}. Example: init={inits[-1]!r}")
        return value
    return VOCABULARY[name](value)


def resolve(method: str, given: Mapping[str, Any], arch: Architecture | None,
            extra: Sequence[str] = ()) -> dict[str, Any]:
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
        train_norms=bool(base and adapters and base.adapter_norms) or method == "norms")
    if method == "lora":
        defaults.update(r=base.lora_rank if base else 8, lora_alpha=16.0, lora_dropout=0.0)
        if arch is not None:
            defaults["target_modules"] = list(arch.rep)
    elif adapters:
        defaults.update(bottleneck=base.adapter_bottleneck if base else 64,
                        adapter_bias=base.adapter_bias if base else False)
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
        raise ValueError(f"{method!r} on a model family the kit does not know needs "
                         f"target_modules, e.g. prepare(model, {method!r}, "
                         f"target_modules=['q_proj', 'v_proj'])")
    return out


# -- targets and sizes, matched and checked the same way everywhere ---------------------------

def matches_name(name: str, pattern: str, literal: bool = False) -> bool:
    """PEFT-style matching: `pattern` matches the end of a dotted module name.

    A plain name ("query") or a dotted suffix ("attention.self.query") matches whole name parts; a
    regex (r"layer\\.\\d+\\.output\\.dense") matches the end of the name. ``literal=True`` escapes
    the pattern first: used for names read from files, which are never compiled as patterns.
    """
    if literal:
        return name == pattern or name.endswith("." + pattern)
    return re.search(rf"(^|\.)(?:{pattern})$", name) is not None


def no_match_error(pattern: str, names: Sequence[str], where: str, method: str) -> ValueError:
    """The error for a target that matches nothing: the candidates (suffixes) and an example."""
    suffixes = sorted({n.split(".")[-1] for n in names} | {".".join(n.split(".")[-2:]) for n in names})
    example = suffixes[0] if suffixes else "query"
    return ValueError(f"target {pattern!r} matches no module of {where} for {method}. Candidate "
                      f"linear modules (suffixes): {suffixes[:40]}. Example: "
                      f"target_modules=['{example}']")


def max_bond_rank(shape) -> int:
    """The largest internal rank any bond of a train over `shape` can use: a bond between modes
    i and i+1 cannot hold more than min(prod(shape[:i+1]), prod(shape[i+1:]))."""
    shape = [int(k) for k in shape]
    left, best = 1, 1
    for i, k in enumerate(shape[:-1]):
        left *= k
        best = max(best, min(left, math.prod(shape[i + 1:])))
    return best


def check_rank_fits(rank: int, shape, where: str) -> None:
    """A TT rank above what every bond of the train can hold only adds parameters that cannot
    change the function (TT-SVD would clip it); it is almost always a typo, and a huge one would
    try to allocate gigabytes, so it is refused before anything is built."""
    limit = max_bond_rank(shape)
    if rank > limit:
        raise ValueError(f"tt_rank {rank} is more than any bond of the {list(shape)} train of {where} "
                         f"can hold ({limit}): extra rank adds parameters that cannot change the "
                         f"function. Example: tt_rank={min(5, limit)}")


def check_fits(method: str, size: int, limit: int, where: str, what: str = "bottleneck") -> None:
    """A bottleneck (or a LoRA rank) cannot be wider than the width it compresses."""
    if size > limit:
        word = "exceeds" if what == "r" else "is larger than"
        raise ValueError(f"{method}: {what} {size} {word} {where} ({limit}): it must be at most the "
                         f"width it compresses. Example: {what}={min(8, limit)}")
