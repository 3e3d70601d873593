"""From a weight matrix to a tensor: factorizations, shape choice and reshapes.

LoRETTA tensorizes a weight W of shape (in, out) "the simple way" (docs/method.md#layouts):
flatten W row-major to in*out numbers and fold them into a tensor of shape (k_1, ..., k_d)
with prod k_i = in*out. The split between input and output modes need not fall on a mode
boundary. The classic TT-matrix (TTM) layout instead factors in = prod m_i and out = prod n_i
and interleaves the modes, (m_1 n_1, ..., m_d n_d). This file holds both layouts, the
paper's shapes (docs/method.md#shapes) and a shape chooser for sizes without a preset.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from ._integers import (
    MAX_N,
    SEARCH_BUDGET,
    as_int,
    count_ordered_factorizations,
    count_prime_factors,
    least_factorization,
    ordered_factorizations,
    sorted_factorizations,
)

__all__ = [
    "MAX_FACTORIZATIONS",
    "PAPER_SHAPES",
    "SEARCH_BUDGET",
    "arrange_modes",
    "as_shape",
    "count_prime_factors",
    "cut_point",
    "factorize",
    "paper_shape",
    "resolve_shape",
    "shape_cost",
    "sorted_factorizations",
    "suggest_shape",
    "suggest_ttm_modes",
]

#: The tensor shapes the paper used, keyed by the (in, out) size of the weight they fold
#: (docs/method.md#shapes). The paper found them empirically; small factors (4) hurt.
PAPER_SHAPES: dict[tuple[int, int], tuple[int, ...]] = {
    (768, 64): (8, 8, 12, 8, 8),  # adp down, BERT family
    (64, 768): (8, 8, 12, 8, 8),  # adp up, BERT family
    (1024, 64): (4, 8, 8, 8, 8, 4),  # adp, large encoders
    (64, 1024): (4, 8, 8, 8, 8, 4),
    (4096, 64): (16, 16, 16, 4, 4, 4),  # adp down, LLaMA-2-7B
    (64, 4096): (4, 4, 4, 16, 16, 16),  # adp up, LLaMA-2-7B
    (5120, 64): (5, 8, 8, 16, 8, 8),  # adp, LLaMA-2-13B
    (64, 5120): (8, 8, 16, 8, 8, 5),
    (8192, 64): (16, 16, 16, 8, 4, 4),  # adp, LLaMA-2-70B
    (64, 8192): (4, 4, 8, 16, 16, 16),
    (768, 768): (12, 8, 8, 8, 8, 12),  # tensorized pooler
    (768, 8): (8, 12, 8, 8),  # rep A, encoders
    (8, 768): (8, 12, 8, 8),  # rep B, encoders
    (8, 2304): (8, 8, 8, 4, 9),  # rep B, DeBERTa fused in_proj
    (4096, 16): (4, 4, 8, 8, 8, 8),  # rep A, LLaMA-2-7B
    (16, 4096): (8, 8, 8, 8, 4, 4),  # rep B, LLaMA-2-7B
    (5120, 16): (16, 8, 16, 8, 5),  # rep A, LLaMA-2-13B
    (16, 5120): (5, 8, 16, 8, 16),  # rep B, LLaMA-2-13B
    (8192, 16): (16, 8, 16, 8, 8),  # rep A, LLaMA-2-70B q and v
    (16, 8192): (8, 8, 16, 8, 16),  # rep B, LLaMA-2-70B q
    (16, 1024): (8, 8, 8, 8, 4),  # rep B, LLaMA-2-70B v (GQA)
}

_TARGET_FACTOR = 10.0  # the paper's good shapes use factors of about 8-16
_LOG_TARGET = math.log(_TARGET_FACTOR)

#: factorize() refuses to list more factorizations than this (it says how many there are).
MAX_FACTORIZATIONS = 1_000_000


def _size(value, name: str, example: str) -> int:
    """A size or a count: an integer-like >= 1 (see loretta_explore._integers)."""
    return as_int(value, name, example, minimum=1)


def factorize(n: int, order: int) -> list[tuple[int, ...]]:
    """All ordered factorizations of `n` into `order` factors, each factor >= 2.

    A factor of 1 adds a mode that holds nothing, so it is never produced. ``order=1`` gives
    ``[(n,)]`` for ``n >= 2``. A number with fewer prime factors than `order` (a prime, or 1)
    has no factorization: the list is empty. The count is known before listing: more than
    :data:`MAX_FACTORIZATIONS` is refused with the count (use :func:`suggest_shape` for one good
    shape). n is at most 2**64.

    >>> factorize(12, 2)
    [(2, 6), (3, 4), (4, 3), (6, 2)]
    """
    n = _size(n, "n", "factorize(768, 3)")
    order = _size(order, "order", "factorize(768, 3)")
    if n > MAX_N:
        raise ValueError(
            f"n = {n} is larger than 2**64; no weight has that many entries. "
            "Example: factorize(768, 3)"
        )
    if order > count_prime_factors(n):
        return []
    count = count_ordered_factorizations(n, order)
    if count > MAX_FACTORIZATIONS:
        raise ValueError(
            f"{n} has {count:,} ordered factorizations into {order} factors, more than "
            f"{MAX_FACTORIZATIONS:,} to list. Ask for a lower order, count them with "
            f"count_ordered_factorizations({n}, {order}), or get one good shape with "
            "suggest_shape(in_features, out_features, order=...)."
        )
    return list(ordered_factorizations(n, order))


def _factor_penalty(k: int) -> float:
    return math.log(k / _TARGET_FACTOR) ** 2 + (1.0 if k <= 4 else 0.0)


def shape_cost(shape: Sequence[int]) -> float:
    """How far a shape is from the paper's good shapes: factors near 10, no 2s or 4s."""
    penalty = sum((math.log(k / _TARGET_FACTOR)) ** 2 for k in shape)
    penalty += sum(1.0 for k in shape if k <= 4)
    return penalty / len(shape)


def cut_point(shape: Sequence[int], in_features: int) -> tuple[int, int, int] | None:
    """Where the input index ends inside a flattened-layout shape: (p, c, e), or None.

    Mode p holds c input values times e output values (c * e = k_p); the modes before it hold
    the rest of the input. Only then can a TT layer compute x @ W without forming W (see
    layers.TTLinear); e = 1 means the split falls exactly on a mode boundary.
    """
    prefix = 1
    for p, k in enumerate(shape):
        if prefix * k >= in_features:
            if in_features % prefix or k % (in_features // prefix):
                return None
            c = in_features // prefix
            return p, c, k // c
        prefix *= k
    return None


def _cuts(prefix: int, k: int, in_features: int, exact: bool) -> bool:
    """Does the input index end well in mode k, the modes before it multiplying to `prefix`?"""
    if exact:
        return prefix * k == in_features
    return in_features % prefix == 0 and k % (in_features // prefix) == 0


def _first_cut_order(a, middle, b, in_features, exact) -> tuple[int, ...] | None:
    """The lexicographically first (a, *permutation of middle, b) whose input/output split
    falls on a mode boundary (exact) or inside a mode that can be cut; None if there is none.

    Greedy: take the smallest middle factor that still allows a good split, which a memoised
    search over what is left decides (states: the sub-multisets of `middle`, at most
    SEARCH_BUDGET of them; past that we give up and say None). Once the split is passed, the
    rest goes in ascending order. The same answer as trying every permutation in lexicographic
    order, without listing them (13 middle modes have 6 billion orderings).
    """
    values = sorted(set(middle))
    memo: dict[tuple[int, ...], bool] = {}

    def feasible(q: int, counts: tuple[int, ...]) -> bool:  # q < in_features, q | in_features
        if counts not in memo:
            if len(memo) >= SEARCH_BUDGET:
                raise _OutOfBudget
            memo[counts] = (
                _cuts(q, b, in_features, exact)
                if not any(counts)
                else any(
                    _cuts(q, v, in_features, exact)
                    if q * v >= in_features
                    else in_features % (q * v) == 0 and feasible(q * v, _minus(counts, i))
                    for i, v in enumerate(values)
                    if counts[i]
                )
            )
        return memo[counts]

    counts = tuple(middle.count(v) for v in values)
    if a >= in_features:
        return (a, *middle, b) if _cuts(1, a, in_features, exact) else None
    try:
        if in_features % a or not feasible(a, counts):
            return None
        order, q = [a], a
        while any(counts):
            i = next(
                i
                for i, v in enumerate(values)
                if counts[i]
                and (
                    _cuts(q, v, in_features, exact)
                    if q * v >= in_features
                    else in_features % (q * v) == 0 and feasible(q * v, _minus(counts, i))
                )
            )
            order.append(values[i])
            counts, q = _minus(counts, i), q * values[i]
            if q >= in_features:  # the split is behind us: the rest in ascending order
                order += [v for v, c in zip(values, counts) for _ in range(c)]
                break
        return (*order, b)
    except _OutOfBudget:
        return None


class _OutOfBudget(Exception):
    pass


def _minus(counts: tuple[int, ...], i: int) -> tuple[int, ...]:
    return counts[:i] + (counts[i] - 1,) + counts[i + 1 :]


def arrange_modes(factors: Sequence[int], in_features: int | None = None) -> tuple[int, ...]:
    """Order factors: the two largest at the ends (end cores cost r*k, middle ones r*k*r), and
    the middle so that the input/output split falls on a mode boundary where it can (then x @ W
    is computed without forming W), else inside a mode that can be cut, else sorted.

    Among the orders that qualify, the first in the order (largest, ..., second largest) before
    (second largest, ..., largest), middles in lexicographic order. Polynomial in the number of
    modes for every shape this kit suggests (see :func:`_first_cut_order`).
    """
    f = sorted(factors, reverse=True)
    if len(f) <= 2:
        orders = [tuple(f), tuple(reversed(f))]
        if in_features is not None:
            cuts = [(o, cut_point(o, in_features)) for o in orders]
            exact = [o for o, c in cuts if c is not None and c[2] == 1]
            inside = [o for o, c in cuts if c is not None]
            return (exact or inside or orders)[0]
        return orders[0]
    middle = sorted(f[2:])
    if in_features is not None:
        for exact in (True, False):
            for a, b in ((f[0], f[1]), (f[1], f[0])):
                found = _first_cut_order(a, middle, b, in_features, exact)
                if found is not None:
                    return found
    return (f[0], *middle, f[1])


def _shape_key(shape: tuple[int, ...]) -> tuple:
    """Less is better: cost, then more modes, then the first in lexicographic order."""
    return (shape_cost(shape), -len(shape), shape)


def _shape_bound(prefix, k, rest, j, d) -> float:
    """A lower bound on shape_cost of any shape prefix + (k,) + (j factors multiplying to rest):
    the j remaining log distances are smallest when the factors are equal (Jensen)."""
    done = sum(_factor_penalty(f) for f in prefix) + _factor_penalty(k)
    return (done + j * (math.log(rest) / j - _LOG_TARGET) ** 2) / d


def suggest_shape(in_features: int, out_features: int, order: int | None = None) -> tuple[int, ...]:
    """A good flattened-TT shape for an (in, out) weight; its product is in*out.

    Why: the paper (docs/method.md#shapes) found shapes with factors of about 8-16 work, and
    tiny factors (4, 2) hurt accuracy. We score every factorization by how far its factors
    sit from 10 (log scale), penalise factors <= 4, and put the largest two factors at the
    ends of the train, where a core costs r*k instead of r*k*r parameters.

    Cost: the orders searched are 1 to round(log10(in*out)) + 1 (at most 21, since in*out <=
    2**64), the best shape is found by branch and bound (at most SEARCH_BUDGET steps) and the
    modes are ordered without listing permutations, so every call takes milliseconds.

    Parameters
    ----------
    in_features, out_features : int
        Size of the weight, W has shape (in, out); integer-likes (numpy ints, 0-d tensors) too.
    order : int, optional
        Number of modes. None chooses it: about log10(in*out), the best scoring nearby order.

    Examples
    --------
    >>> suggest_shape(768, 64)
    (12, 8, 8, 8, 8)
    """
    example = "suggest_shape(768, 64)"
    in_features = _size(in_features, "in_features", example)
    out_features = _size(out_features, "out_features", example)
    if order is not None:
        order = _size(order, "order", "suggest_shape(768, 64, order=5)")
    return _suggest_shape(in_features, out_features, order)


@functools.lru_cache(maxsize=4096)  # pure, and called hundreds of times by tables and widgets
def _suggest_shape(in_features: int, out_features: int, order: int | None) -> tuple[int, ...]:
    n = in_features * out_features
    if n > MAX_N:
        raise ValueError(
            f"a {in_features}x{out_features} weight has {n} entries, more than 2**64; no such "
            "weight fits in memory. Example: suggest_shape(4096, 11008)"
        )
    if n == 1:
        return (1,)
    if order is not None:
        if order > count_prime_factors(n):
            raise ValueError(
                f"{in_features}*{out_features} = {n} has no factorization into {order} factors "
                f">= 2 (it has {count_prime_factors(n)} prime factors). Try order <= "
                f"{count_prime_factors(n)}, or order=None to choose automatically."
            )
        orders = [order]
    else:
        guess = max(1, round(math.log(n) / _LOG_TARGET))
        # low orders too, for sizes with few prime factors; the likeliest searched first
        orders = sorted(range(1, guess + 2), key=lambda d: (abs(d - guess), d))
    return arrange_modes(least_factorization(n, orders, _shape_key, _shape_bound), in_features)


def paper_shape(in_features: int, out_features: int) -> tuple[int, ...] | None:
    """The paper's shape for an (in, out) weight, or None where the paper has no preset."""
    return PAPER_SHAPES.get((in_features, out_features))


def as_shape(shape, name: str = "shape", example: str = "[8, 8, 12, 8, 8]") -> tuple[int, ...]:
    """A shape given as a sequence, numpy array or 1-D tensor of integer-likes >= 1, as a tuple."""
    if isinstance(shape, (str, bytes)) or getattr(shape, "ndim", 1) != 1:
        raise TypeError(f"{name} must be a sequence of integers, got {shape!r}. Example: {example}")
    try:
        items = list(shape)
    except TypeError:
        raise TypeError(
            f"{name} must be a sequence of integers, got {shape!r} ({type(shape).__name__}). "
            f"Example: {example}"
        ) from None
    if not items:
        raise ValueError(f"{name} is empty; it needs at least one mode. Example: {example}")
    return tuple(as_int(k, f"every entry of {name}", example) for k in items)


def resolve_shape(in_features: int, out_features: int, tt_shape="paper") -> tuple[int, ...]:
    """Turn a shape request into a concrete shape: "paper", "auto" or an explicit sequence.

    "paper" uses the preset of docs/method.md#shapes where one exists and falls back to
    :func:`suggest_shape`; "auto" always uses :func:`suggest_shape`.
    """
    in_features = _size(in_features, "in_features", "resolve_shape(768, 64, 'paper')")
    out_features = _size(out_features, "out_features", "resolve_shape(768, 64, 'paper')")
    n = in_features * out_features
    if tt_shape is None or (isinstance(tt_shape, str) and tt_shape == "paper"):
        return paper_shape(in_features, out_features) or suggest_shape(in_features, out_features)
    if isinstance(tt_shape, str) and tt_shape == "auto":
        return suggest_shape(in_features, out_features)
    good = list(suggest_shape(in_features, out_features))
    if isinstance(tt_shape, str):
        raise ValueError(
            f'tt_shape must be "paper", "auto" or a sequence of ints, got {tt_shape!r}. '
            f"Example: tt_shape={good}"
        )
    shape = as_shape(tt_shape, "tt_shape", f"tt_shape={good}")
    if math.prod(shape) != n:
        raise ValueError(
            f"tt_shape {list(shape)} has product {math.prod(shape)}, but a "
            f"{in_features}x{out_features} weight has {n} entries: the product must be in*out = "
            f"{n}. A valid example: {good}"
        )
    return shape


def suggest_ttm_modes(in_features: int, out_features: int, order: int | None = None):
    """Input and output modes (m_i), (n_i) for the TT-matrix layout, both of length `order`.

    Each side is factored as evenly as possible (the least largest/smallest ratio, found by
    branch and bound); sizes with too few prime factors are padded with 1s, which TT-matrix
    cores allow (a mode of size 1 on one side only).
    """
    example = "suggest_ttm_modes(768, 64)"
    in_features = _size(in_features, "in_features", example)
    out_features = _size(out_features, "out_features", example)
    if max(in_features, out_features) > MAX_N:
        raise ValueError(f"sizes above 2**64 cannot be factored here. Example: {example}")
    if order is None:
        order = max(2, min(count_prime_factors(in_features), count_prime_factors(out_features), 4))
    order = _size(order, "order", "suggest_ttm_modes(768, 64, order=3)")
    return _balanced(in_features, order), _balanced(out_features, order)


def _balanced(n: int, order: int) -> tuple[int, ...]:
    """n as `order` factors, the most even first (descending), padded with 1s."""
    if n == 1:
        return (1,) * order
    d = min(order, count_prime_factors(n))
    best = least_factorization(
        n,
        [d],
        key=lambda s: (s[-1] / s[0], s),  # largest / smallest; s is non-decreasing
        bound=lambda prefix, k, rest, j, _: max(k, rest ** (1 / j)) / (prefix or (k,))[0],
    )
    return tuple(sorted(best, reverse=True)) + (1,) * (order - d)
