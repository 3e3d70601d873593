"""From a weight matrix to a tensor: factorizations, shape choice and reshapes.

LoRETTA tensorizes a weight W of shape (in, out) "the simple way" (METHOD.md section 1):
flatten W row-major to in*out numbers and fold them into a tensor of shape (k_1, ..., k_d)
with prod k_i = in*out. The split between input and output modes need not fall on a mode
boundary. The classic TT-matrix (TTM) layout instead factors in = prod m_i and out = prod n_i
and interleaves the modes, (m_1 n_1, ..., m_d n_d). This file holds both layouts, the
paper's shapes (METHOD.md section 4) and a shape chooser for sizes without a preset.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator, Sequence

import torch

__all__ = [
    "PAPER_SHAPES",
    "cut_point",
    "factorize",
    "matrix_to_tensor",
    "matrix_to_ttm_tensor",
    "paper_shape",
    "resolve_shape",
    "suggest_shape",
    "suggest_ttm_modes",
    "tensor_to_matrix",
    "ttm_tensor_to_matrix",
]

#: The tensor shapes the paper used, keyed by the (in, out) size of the weight they fold
#: (METHOD.md section 4). The paper found them empirically; small factors (4) hurt.
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


def _positive_int(value, name: str, example: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"{name} must be an integer >= {minimum}, got {value!r}. Example: {example}"
        )
    return value


def _ordered(n: int, order: int, smallest: int) -> Iterator[tuple[int, ...]]:
    """Ordered factorizations of n into `order` factors, each >= `smallest`."""
    if order == 1:
        if n >= smallest:
            yield (n,)
        return
    for k in range(smallest, n + 1):
        if n % k == 0 and n // k >= smallest ** (order - 1):
            for rest in _ordered(n // k, order - 1, 2):
                yield (k, *rest)


def sorted_factorizations(n: int, order: int, smallest: int = 2) -> Iterator[tuple[int, ...]]:
    """Non-decreasing factorizations of n into `order` factors (each multiset once)."""
    if order == 1:
        if n >= smallest:
            yield (n,)
        return
    k = smallest
    while k**order <= n:
        if n % k == 0:
            for rest in sorted_factorizations(n // k, order - 1, k):
                yield (k, *rest)
        k += 1


def factorize(n: int, order: int) -> list[tuple[int, ...]]:
    """All ordered factorizations of `n` into `order` factors, each factor >= 2.

    A factor of 1 adds a mode that holds nothing, so it is never produced. ``order=1`` gives
    ``[(n,)]`` for ``n >= 2``. A number with fewer prime factors than `order` (a prime, or 1)
    has no factorization: the list is empty.

    >>> factorize(12, 2)
    [(2, 6), (3, 4), (4, 3), (6, 2)]
    """
    _positive_int(n, "n", "factorize(768, 3)")
    _positive_int(order, "order", "factorize(768, 3)")
    return list(_ordered(n, order, 2))


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


def arrange_modes(factors: Sequence[int], in_features: int | None = None) -> tuple[int, ...]:
    """Order factors: the two largest at the ends (end cores cost r*k, middle ones r*k*r), and
    the middle so that the input/output split falls on a mode boundary where it can (then x @ W
    is computed without forming W), else inside a mode that can be cut, else sorted."""
    f = sorted(factors, reverse=True)
    if len(f) <= 2:
        orders = [tuple(f), tuple(reversed(f))]
    else:
        middles = sorted(set(itertools.permutations(sorted(f[2:]))))
        orders = [(a, *m, b) for a, b in ((f[0], f[1]), (f[1], f[0])) for m in middles]
    if in_features is not None:
        cuts = [(o, cut_point(o, in_features)) for o in orders]
        exact = [o for o, c in cuts if c is not None and c[2] == 1]
        inside = [o for o, c in cuts if c is not None]
        return (exact or inside or orders)[0]
    return orders[0]


@functools.lru_cache(
    maxsize=4096
)  # pure, and called hundreds of times by budget tables and widgets
def suggest_shape(in_features: int, out_features: int, order: int | None = None) -> tuple[int, ...]:
    """A good flattened-TT shape for an (in, out) weight; its product is in*out.

    Why: the paper (METHOD.md section 4) found shapes with factors of about 8-16 work, and
    tiny factors (4, 2) hurt accuracy. We score every factorization by how far its factors
    sit from 10 (log scale), penalise factors <= 4, and put the largest two factors at the
    ends of the train, where a core costs r*k instead of r*k*r parameters.

    Parameters
    ----------
    in_features, out_features : int
        Size of the weight, W has shape (in, out).
    order : int, optional
        Number of modes. None chooses it: about log10(in*out), the best scoring nearby order.

    Examples
    --------
    >>> suggest_shape(768, 64)
    (12, 8, 8, 8, 8)
    """
    example = "suggest_shape(768, 64)"
    n = _positive_int(in_features, "in_features", example) * _positive_int(
        out_features, "out_features", example
    )
    if n == 1:
        return (1,)
    if order is not None:
        _positive_int(order, "order", "suggest_shape(768, 64, order=5)")
        candidates = list(sorted_factorizations(n, order))
        if not candidates:
            raise ValueError(
                f"{in_features}*{out_features} = {n} has no factorization into {order} factors >= 2 "
                f"(it has {count_prime_factors(n)} prime factors). Try order <= "
                f"{count_prime_factors(n)}, or order=None to choose automatically."
            )
    else:
        guess = max(1, round(math.log(n) / math.log(_TARGET_FACTOR)))
        orders = range(1, guess + 2)  # low orders too, for sizes with few prime factors
        candidates = [s for d in orders for s in sorted_factorizations(n, d)]
    best = min(candidates, key=lambda s: (shape_cost(s), -len(s)))
    return arrange_modes(best, in_features)


def count_prime_factors(n: int) -> int:
    count, p = 0, 2
    while p * p <= n:
        while n % p == 0:
            n //= p
            count += 1
        p += 1
    return count + (1 if n > 1 else 0)


def paper_shape(in_features: int, out_features: int) -> tuple[int, ...] | None:
    """The paper's shape for an (in, out) weight, or None where the paper has no preset."""
    return PAPER_SHAPES.get((in_features, out_features))


def resolve_shape(in_features: int, out_features: int, tt_shape="paper") -> tuple[int, ...]:
    """Turn a shape request into a concrete shape: "paper", "auto" or an explicit sequence.

    "paper" uses the preset of METHOD.md section 4 where one exists and falls back to
    :func:`suggest_shape`; "auto" always uses :func:`suggest_shape`.
    """
    n = in_features * out_features
    if tt_shape is None or tt_shape == "paper":
        return paper_shape(in_features, out_features) or suggest_shape(in_features, out_features)
    if tt_shape == "auto":
        return suggest_shape(in_features, out_features)
    if isinstance(tt_shape, str):
        raise ValueError(
            f'tt_shape must be "paper", "auto" or a sequence of ints, got {tt_shape!r}.'
        )
    shape = tuple(int(k) for k in tt_shape)
    if any(k < 1 for k in shape) or math.prod(shape) != n:
        raise ValueError(
            f"tt_shape {list(shape)} has product {math.prod(shape)}, but a {in_features}x{out_features} "
            f"weight has {n} entries: the product must be in*out = {n}. "
            f"A valid example: {list(suggest_shape(in_features, out_features))}"
        )
    return shape


def suggest_ttm_modes(in_features: int, out_features: int, order: int | None = None):
    """Input and output modes (m_i), (n_i) for the TT-matrix layout, both of length `order`.

    Each side is factored as evenly as possible; sizes with too few prime factors are
    padded with 1s, which TT-matrix cores allow (a mode of size 1 on one side only).
    """
    if order is None:
        order = max(2, min(count_prime_factors(in_features), count_prime_factors(out_features), 4))

    def balanced(n: int) -> tuple[int, ...]:
        for d in range(order, 0, -1):
            found = list(sorted_factorizations(n, d, 2)) if n > 1 else []
            if found:
                best = min(found, key=lambda s: max(s) / min(s))
                return tuple(sorted(best, reverse=True)) + (1,) * (order - d)
        return (n,) + (1,) * (order - 1) if n > 1 else (1,) * order

    return balanced(in_features), balanced(out_features)


def _check_matrix(w, name: str = "w") -> torch.Tensor:
    if not isinstance(w, torch.Tensor) or w.ndim != 2:
        raise TypeError(
            f"{name} must be a 2-D torch.Tensor (in, out), got {type(w).__name__} "
            f"{getattr(w, 'shape', '')}. Example: torch.randn(768, 64)"
        )
    return w


def matrix_to_tensor(w: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Fold W (in, out) row-major into `shape` (the flattened LoRETTA layout)."""
    w = _check_matrix(w)
    if math.prod(shape) != w.numel():
        raise ValueError(
            f"shape {list(shape)} has product {math.prod(shape)}, but W {tuple(w.shape)} has "
            f"{w.numel()} entries. A valid example: {list(suggest_shape(*w.shape))}"
        )
    return w.reshape(tuple(shape))


def tensor_to_matrix(t: torch.Tensor, in_features: int, out_features: int) -> torch.Tensor:
    """Unfold a flattened-layout tensor back to W (in, out)."""
    if t.numel() != in_features * out_features:
        raise ValueError(
            f"a tensor of {t.numel()} entries cannot be a {in_features}x{out_features} matrix"
        )
    return t.reshape(in_features, out_features)


def matrix_to_ttm_tensor(
    w: torch.Tensor, in_modes: Sequence[int], out_modes: Sequence[int]
) -> torch.Tensor:
    """W (in, out) -> tensor (m_1 n_1, ..., m_d n_d), the interleaved TT-matrix layout."""
    w = _check_matrix(w)
    d = len(in_modes)
    if (
        len(out_modes) != d
        or math.prod(in_modes) != w.shape[0]
        or math.prod(out_modes) != w.shape[1]
    ):
        good = suggest_ttm_modes(*w.shape)
        raise ValueError(
            f"in_modes {list(in_modes)} (product {math.prod(in_modes)}) and out_modes {list(out_modes)} "
            f"(product {math.prod(out_modes)}) must have equal length and multiply to W's shape "
            f"{tuple(w.shape)}. A valid example: in_modes={list(good[0])}, out_modes={list(good[1])}"
        )
    t = w.reshape(*in_modes, *out_modes)  # (m_1..m_d, n_1..n_d)
    interleave = [p for i in range(d) for p in (i, d + i)]
    return t.permute(interleave).reshape([m * n for m, n in zip(in_modes, out_modes)])


def ttm_tensor_to_matrix(
    t: torch.Tensor, in_modes: Sequence[int], out_modes: Sequence[int]
) -> torch.Tensor:
    """Inverse of :func:`matrix_to_ttm_tensor`: (m_1 n_1, ..., m_d n_d) -> W (in, out)."""
    d = len(in_modes)
    t = t.reshape(
        [s for m, n in zip(in_modes, out_modes) for s in (m, n)]
    )  # (m_1, n_1, ..., m_d, n_d)
    t = t.permute(list(range(0, 2 * d, 2)) + list(range(1, 2 * d, 2)))
    return t.reshape(math.prod(in_modes), math.prod(out_modes))
