"""Hostile inputs to tensorize: lx.factorize, lx.suggest_shape, resolve_shape."""

from __future__ import annotations

import math

import numpy as np
import torch

import loretta_explore as lx

from .spec import BAD_ARG, Case, correct, either, error
from .tools import public

GROUP = "tensorize/tt/layers"


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def resolve_shape(*args, **kw):
    return public("resolve_shape")(*args, **kw)


def is_shape_of(n: int, order: int | None = None):
    def check(shape) -> bool:
        shape = tuple(shape)
        return (
            math.prod(shape) == n
            and all(isinstance(k, int) and k >= 1 for k in shape)
            and (order is None or len(shape) == order)
        )

    return check


def factorizations_of(n: int, order: int):
    def check(found) -> bool:
        found = list(found)
        return len(found) == len(set(found)) and all(
            len(f) == order and math.prod(f) == n and min(f) >= 2 for f in found
        )

    return check


def after_int(first, then):
    """Run `first` (the same call with proper ints), then `then`: suggest_shape is cached, and a
    float or bool equal to a cached int must still be refused (hash(768.0) == hash(768))."""

    def run():
        first()
        return then()

    return run


def divisor_pairs(n: int) -> int:
    return sum(1 for k in range(2, math.isqrt(n) + 1) if n % k == 0) * 2 - (math.isqrt(n) ** 2 == n)


CASES = [
    # -- factorize ---------------------------------------------------------------------------------
    C(
        "factorize-12-2",
        "factorize",
        lambda: lx.factorize(12, 2),
        correct(lambda r: r == [(2, 6), (3, 4), (4, 3), (6, 2)], "the documented example"),
    ),
    C(
        "factorize-768-3",
        "factorize",
        lambda: lx.factorize(768, 3),
        correct(
            lambda r: factorizations_of(768, 3)(r) and (8, 8, 12) in r,
            "ordered triples of product 768",
        ),
    ),
    C("factorize-n-zero", "factorize", lambda: lx.factorize(0, 2), error(BAD_ARG, ["n", "0"])),
    C(
        "factorize-n-negative",
        "factorize",
        lambda: lx.factorize(-12, 2),
        error(BAD_ARG, ["n", "-12"]),
    ),
    C(
        "factorize-order-zero",
        "factorize",
        lambda: lx.factorize(12, 0),
        error(BAD_ARG, ["order", "0"]),
    ),
    C(
        "factorize-order-negative",
        "factorize",
        lambda: lx.factorize(12, -1),
        error(BAD_ARG, ["order", "-1"]),
    ),
    C(
        "factorize-n-float",
        "factorize",
        lambda: lx.factorize(12.0, 2),
        error(BAD_ARG, ["n", "12.0"]),
    ),
    C(
        "factorize-n-string",
        "factorize",
        lambda: lx.factorize("12", 2),
        error(BAD_ARG, ["n", "12"]),
    ),
    C(
        "factorize-n-bool",
        "factorize",
        lambda: lx.factorize(True, 2),
        error(BAD_ARG, ["n", "True"]),
    ),
    C(
        "factorize-n-none",
        "factorize",
        lambda: lx.factorize(None, 2),
        error(BAD_ARG, ["n", "None"]),
    ),
    C(
        "factorize-order-float",
        "factorize",
        lambda: lx.factorize(12, 2.0),
        error(BAD_ARG, ["order", "2.0"]),
    ),
    C(
        "factorize-n-numpy-int",
        "factorize",
        lambda: lx.factorize(np.int64(12), 2),
        correct(
            lambda r: sorted(r) == [(2, 6), (3, 4), (4, 3), (6, 2)],
            "numpy integers accepted like ints",
        ),
    ),
    C(
        "factorize-n-torch-int",
        "factorize",
        lambda: lx.factorize(torch.tensor(12), 2),
        correct(
            lambda r: sorted(r) == [(2, 6), (3, 4), (4, 3), (6, 2)], "a 0-d integer tensor accepted"
        ),
    ),
    C(
        "factorize-prime",
        "factorize",
        lambda: lx.factorize(7, 2),
        correct(lambda r: r == [], "empty (documented)"),
    ),
    C(
        "factorize-one",
        "factorize",
        lambda: lx.factorize(1, 1),
        correct(lambda r: r == [], "empty: no factor >= 2"),
    ),
    C(
        "factorize-order-one",
        "factorize",
        lambda: lx.factorize(97, 1),
        correct(lambda r: r == [(97,)], "[(n,)]"),
    ),
    C(
        "factorize-order-above-primes",
        "factorize",
        lambda: lx.factorize(12, 4),
        correct(lambda r: r == [], "empty"),
    ),
    C(
        "factorize-2pow20-order20",
        "factorize",
        lambda: lx.factorize(2**20, 20),
        correct(lambda r: r == [(2,) * 20], "one factorization, quickly"),
        isolate=True,
    ),
    C(
        "factorize-large-prime",
        "factorize",
        lambda: lx.factorize(2**31 - 1, 2),
        correct(lambda r: r == [], "empty, in well under a second"),
        isolate=True,
    ),
    C(
        "factorize-10pow12",
        "factorize",
        lambda: lx.factorize(10**12, 2),
        correct(
            lambda r: factorizations_of(10**12, 2)(r) and len(r) == divisor_pairs(10**12),
            "all divisor pairs, in well under a second",
        ),
        isolate=True,
    ),
    C(
        "factorize-2pow40-order3",
        "factorize",
        lambda: len(lx.factorize(2**40, 3)),
        correct(lambda r: r == math.comb(39, 2), "741 compositions of 40 into 3 parts, quickly"),
        isolate=True,
    ),
    # -- suggest_shape -----------------------------------------------------------------------------
    C(
        "suggest-768-64",
        "suggest_shape",
        lambda: lx.suggest_shape(768, 64),
        correct(is_shape_of(768 * 64), "a shape of product 768*64"),
    ),
    C(
        "suggest-in-zero",
        "suggest_shape",
        lambda: lx.suggest_shape(0, 64),
        error(BAD_ARG, ["in_features", "0"]),
    ),
    C(
        "suggest-out-negative",
        "suggest_shape",
        lambda: lx.suggest_shape(768, -1),
        error(BAD_ARG, ["out_features", "-1"]),
    ),
    C(
        "suggest-order-zero",
        "suggest_shape",
        lambda: lx.suggest_shape(768, 64, order=0),
        error(BAD_ARG, ["order", "0"]),
    ),
    C(
        "suggest-order-bool",
        "suggest_shape",
        after_int(
            lambda: lx.suggest_shape(768, 64, order=1),
            lambda: lx.suggest_shape(768, 64, order=True),
        ),
        error(BAD_ARG, ["order", "True"]),
    ),
    C(
        "suggest-order-too-high",
        "suggest_shape",
        lambda: lx.suggest_shape(768, 64, order=16),
        error(ValueError, ["order", "15"]),
    ),
    C(
        "suggest-order-15",
        "suggest_shape",
        lambda: lx.suggest_shape(768, 64, order=15),
        correct(is_shape_of(768 * 64, 15), "the one 15-factor shape, quickly"),
        isolate=True,
    ),
    C(
        "suggest-order-12",
        "suggest_shape",
        lambda: lx.suggest_shape(768, 64, order=12),
        correct(is_shape_of(768 * 64, 12), "a 12-factor shape, quickly"),
        isolate=True,
    ),
    C(
        "suggest-order-1",
        "suggest_shape",
        lambda: lx.suggest_shape(768, 64, order=1),
        correct(lambda s: tuple(s) == (768 * 64,), "(in*out,)"),
    ),
    C(
        "suggest-primes-order3",
        "suggest_shape",
        lambda: lx.suggest_shape(7, 13, order=3),
        error(ValueError, ["order", "3"]),
    ),
    C(
        "suggest-one-one",
        "suggest_shape",
        lambda: lx.suggest_shape(1, 1),
        correct(is_shape_of(1), "a shape of product 1"),
    ),
    C(
        "suggest-in-float",
        "suggest_shape",
        after_int(lambda: lx.suggest_shape(768, 64), lambda: lx.suggest_shape(768.0, 64)),
        error(BAD_ARG, ["in_features", "768.0"]),
    ),
    C(
        "suggest-in-list",
        "suggest_shape",
        lambda: lx.suggest_shape([768], 64),
        error(BAD_ARG, ["in_features"]),
    ),
    C(
        "suggest-in-numpy",
        "suggest_shape",
        lambda: lx.suggest_shape(np.int64(776), np.int64(40)),  # sizes no other case asks for
        correct(is_shape_of(776 * 40), "numpy integers accepted"),
    ),
    C(
        "suggest-2pow24",
        "suggest_shape",
        lambda: lx.suggest_shape(2**12, 2**12),
        correct(is_shape_of(2**24), "a shape for a 4096 x 4096 weight, quickly"),
        isolate=True,
    ),
    C(
        "suggest-2pow24-by-1",
        "suggest_shape",
        lambda: lx.suggest_shape(2**24, 1),
        correct(is_shape_of(2**24), "a shape, quickly"),
        isolate=True,
    ),
    C(
        "suggest-large-prime",
        "suggest_shape",
        lambda: lx.suggest_shape(2**31 - 1, 1),
        correct(is_shape_of(2**31 - 1), "(p,) for a prime, quickly"),
        isolate=True,
    ),
    C(
        "suggest-prime-squared",
        "suggest_shape",
        lambda: lx.suggest_shape(65521, 65521),
        correct(is_shape_of(65521**2), "a shape of two primes, quickly"),
        isolate=True,
    ),
    C(
        "suggest-huge",
        "suggest_shape",
        lambda: lx.suggest_shape(2**40, 2**40),
        either(  # no such weight can exist: a refusal that says so is as good as a shape
            error(ValueError, ["2**64", "memory"]),
            correct(is_shape_of(2**80), "a shape, quickly"),
        ),
        isolate=True,
    ),
    # -- resolve_shape -----------------------------------------------------------------------------
    C(
        "resolve-paper",
        "resolve_shape",
        lambda: resolve_shape(768, 64),
        correct(lambda s: tuple(s) == (8, 8, 12, 8, 8), "the paper's preset"),
    ),
    C(
        "resolve-none",
        "resolve_shape",
        lambda: resolve_shape(768, 64, None),
        correct(lambda s: tuple(s) == (8, 8, 12, 8, 8), "None means the paper's preset"),
    ),
    C(
        "resolve-explicit",
        "resolve_shape",
        lambda: resolve_shape(768, 64, (8, 8, 12, 8, 8)),
        correct(lambda s: tuple(s) == (8, 8, 12, 8, 8), "the shape given"),
    ),
    C(
        "resolve-bogus-string",
        "resolve_shape",
        lambda: resolve_shape(768, 64, "bogus"),
        error(ValueError, ["tt_shape", "bogus"]),
    ),
    C(
        "resolve-wrong-product",
        "resolve_shape",
        lambda: resolve_shape(768, 64, [8, 8]),
        error(ValueError, ["product", "49152"]),
    ),
    C(
        "resolve-negative-factors",
        "resolve_shape",
        lambda: resolve_shape(768, 64, [-8, -6144]),
        error(ValueError, ["tt_shape", "-8"]),
    ),
    C(
        "resolve-fractional-factor",
        "resolve_shape",
        lambda: resolve_shape(768, 64, [8.5, 8, 12, 8, 8]),
        error(BAD_ARG, ["8.5"]),
    ),
    C(
        "resolve-int-not-sequence",
        "resolve_shape",
        lambda: resolve_shape(768, 64, 12),
        error(BAD_ARG, ["tt_shape", "12"]),
    ),
    C(
        "resolve-in-zero",
        "resolve_shape",
        lambda: resolve_shape(0, 64),
        error(BAD_ARG, ["in_features", "0"]),
    ),
    C(
        "resolve-auto-prime",
        "resolve_shape",
        lambda: resolve_shape(97, 89, "auto"),
        correct(is_shape_of(97 * 89), "a shape of product 97*89"),
    ),
    C(
        "resolve-tensor-shape",
        "resolve_shape",
        lambda: resolve_shape(768, 64, torch.tensor([8, 8, 12, 8, 8])),
        correct(
            lambda s: tuple(int(k) for k in s) == (8, 8, 12, 8, 8),
            "a tensor of ints read as the shape",
        ),
    ),
]

# factorize and suggest_shape must agree on small sizes (a sweep of usual inputs)
CASES += [
    C(
        f"suggest-agrees-factorize-{n}",
        "suggest_shape",
        (
            lambda n=n: (
                tuple(sorted(lx.suggest_shape(n, 1, order=2)))
                in {tuple(sorted(f)) for f in lx.factorize(n, 2)}
            )
        ),
        correct(lambda ok: ok is True, "a 2-mode suggestion is one of factorize's"),
    )
    for n in (6, 64, 360, 1001, 4096)
]
