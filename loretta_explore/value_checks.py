"""How one hyperparameter value is checked, and how target patterns and sizes are matched.

The method registry (methods.py) names each method's hyperparameters; the checks behind them live
here, so that every path into the kit (a count from a config, a model set up to train, an
adapter file) refuses a bad value with the same words. Target patterns are matched by one rule
(:func:`matches_name`) and a nested repetition in a regular expression is refused before it can
run for minutes (:func:`check_pattern`).
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
from typing import Any

__all__ = [
    "check_fits",
    "check_pattern",
    "check_rank_fits",
    "matches_name",
    "max_bond_rank",
    "no_match_error",
    "positive_int",
]

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
            raise ValueError(
                f"{name} must be one of {list(options)}, got {value!r}. "
                f"Example: {name}={options[0]!r}"
            )
        return value

    return check


def _number(low: float, high: float, closed_high: bool = False):
    def check(name: str, value: Any, example: str = "") -> float:
        ok = (
            isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        )
        ok = ok and low <= value and (value <= high if closed_high else value < high)
        if not ok:
            bound = "]" if closed_high else ")"
            raise ValueError(
                f"{name} must be a finite number in [{low:g}, {high:g}{bound}, got "
                f"{value!r}. Example: {example or name + '=' + str(low)}"
            )
        return float(value)

    return check


def _patterns(name: str, value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(
            f"{name} must be a module name or a non-empty list of names, got {value!r}: "
            f"an empty list would adapt nothing. Example: {name}=['query', 'value']"
        )
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(
                f"{name} holds {item!r}; every entry must be a module name (a non-empty "
                f"string) such as 'query' or a regex such as r'layer\\.0\\.query'"
            )
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
        raise ValueError(
            f"{name} entry {pattern!r} is not a valid pattern ({err}); use a plain "
            f"module name such as 'query'"
        ) from None

    def nested(items, inside_repeat: bool) -> bool:
        for op, arg in items:
            if op in (
                _sre_constants.MAX_REPEAT,
                _sre_constants.MIN_REPEAT,
                getattr(_sre_constants, "POSSESSIVE_REPEAT", None),
            ):
                if inside_repeat or nested(arg[2], True):
                    return True
            elif op is _sre_constants.BRANCH:
                if inside_repeat or any(nested(b, inside_repeat) for b in arg[1]):
                    return True
            elif op is _sre_constants.SUBPATTERN and nested(arg[-1], inside_repeat):
                return True
        return False

    if nested(parsed, False):
        raise ValueError(
            f"{name} entry {pattern!r} repeats a group that itself repeats or "
            f"alternates, which can take forever to match; write the names out, e.g. "
            f"{name}=['query', 'value'] or r'layer\\.\\d+\\.query'"
        )


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
            raise ValueError(
                f"{name} maps each pattern to {sides[0]!r} or {sides[1]!r}, got {bad}. "
                f"Example: {name}={{'mlp.down_proj': {default!r}}}"
            )
        return placements

    return check


def _tt_shapes(name: str, value: Any, example: str = "") -> str | dict:
    if value in ("paper", "auto"):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(
            f'{name} must be "paper", "auto" or a dict {{(in, out): shape}}, got '
            f"{value!r}. Example: {name}={{(768, 8): [8, 12, 8, 8]}}"
        )
    out = {}
    for key, shape in value.items():
        size = key if isinstance(key, tuple) else tuple(int(k) for k in str(key).split("x"))
        if len(size) != 2 or isinstance(shape, str) and shape not in ("paper", "auto"):
            raise ValueError(
                f"{name} keys are (in, out) sizes or 'INxOUT' strings and values shapes, "
                f"got {key!r}: {shape!r}. Example: {name}={{(768, 8): [8, 12, 8, 8]}}"
            )
        out[tuple(positive_int(f"{name} size", k) for k in size)] = (
            shape
            if isinstance(shape, str)
            else tuple(positive_int(f"{name}[{key!r}] factor", k) for k in shape)
        )
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
    suffixes = sorted(
        {n.split(".")[-1] for n in names} | {".".join(n.split(".")[-2:]) for n in names}
    )
    example = suffixes[0] if suffixes else "query"
    return ValueError(
        f"target {pattern!r} matches no module of {where} for {method}. Candidate "
        f"linear modules (suffixes): {suffixes[:40]}. Example: "
        f"target_modules=['{example}']"
    )


def max_bond_rank(shape) -> int:
    """The largest internal rank any bond of a train over `shape` can use: a bond between modes
    i and i+1 cannot hold more than min(prod(shape[:i+1]), prod(shape[i+1:]))."""
    shape = [int(k) for k in shape]
    left, best = 1, 1
    for i, k in enumerate(shape[:-1]):
        left *= k
        best = max(best, min(left, math.prod(shape[i + 1 :])))
    return best


def check_rank_fits(rank: int, shape, where: str) -> None:
    """A TT rank above what every bond of the train can hold only adds parameters that cannot
    change the function (TT-SVD would clip it); it is almost always a typo, and a huge one would
    try to allocate gigabytes, so it is refused before anything is built."""
    limit = max_bond_rank(shape)
    if rank > limit:
        raise ValueError(
            f"tt_rank {rank} is more than any bond of the {list(shape)} train of {where} "
            f"can hold ({limit}): extra rank adds parameters that cannot change the "
            f"function. Example: tt_rank={min(5, limit)}"
        )


def check_fits(method: str, size: int, limit: int, where: str, what: str = "bottleneck") -> None:
    """A bottleneck (or a LoRA rank) cannot be wider than the width it compresses."""
    if size > limit:
        word = "exceeds" if what == "r" else "is larger than"
        raise ValueError(
            f"{method}: {what} {size} {word} {where} ({limit}): it must be at most the "
            f"width it compresses. Example: {what}={min(8, limit)}"
        )
