"""Hostile inputs to lx.TensorTrain, tt_round, lx.tt_matrix and ranks_for_budget."""

from __future__ import annotations

import numpy as np
import torch

import loretta_explore as lx

from .spec import BAD_ARG, Case, correct, either, error
from .tools import public, rel_error

GROUP = "tensorize/tt/layers"


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def x3(dtype=torch.float32, seed=0):
    return torch.randn(4, 5, 6, generator=torch.Generator().manual_seed(seed)).to(dtype)


def low_rank(seed=0):
    """A (4, 5, 6) tensor of TT ranks [1, 2, 2, 1]."""
    g = torch.Generator().manual_seed(seed)
    cores = [
        torch.randn(1, 4, 2, generator=g),
        torch.randn(2, 5, 2, generator=g),
        torch.randn(2, 6, 1, generator=g),
    ]
    return lx.TensorTrain(cores)


def ranks_at_most(r, x=None):
    return correct(
        lambda tt: max(tt.ranks) <= r and (x is None or rel_error(tt, x) < 1), f"ranks <= {r}"
    )


def tt_round(*a, **k):
    return public("tt_round")(*a, **k)


def ranks_for_budget(*a, **k):
    return public("ranks_for_budget")(*a, **k)


def costs(shape, ranks):
    return sum(ranks[i] * shape[i] * ranks[i + 1] for i in range(len(shape)))


X = x3()


CASES = [
    # -- TensorTrain -------------------------------------------------------------------------------
    C("TensorTrain-empty", "TensorTrain", lambda: lx.TensorTrain([]), error(ValueError, ["core"])),
    C(
        "TensorTrain-boundary",
        "TensorTrain",
        lambda: lx.TensorTrain([torch.randn(2, 4, 1)]),
        error(ValueError, ["boundary"]),
    ),
    C(
        "TensorTrain-rank-mismatch",
        "TensorTrain",
        lambda: lx.TensorTrain([torch.randn(1, 4, 3), torch.randn(2, 5, 1)]),
        error(ValueError, ["rank", "3", "2"]),
    ),
    C(
        "TensorTrain-2d-core",
        "TensorTrain",
        lambda: lx.TensorTrain([torch.randn(1, 4)]),
        error(ValueError, ["3-D"]),
    ),
    C(
        "TensorTrain-numpy-cores",
        "TensorTrain",
        lambda: lx.TensorTrain([np.ones((1, 4, 1))]),
        either(
            error(BAD_ARG, ["ndarray"]),
            correct(lambda tt: float(tt.full().sum()) == 4.0, "numpy cores read"),
        ),
    ),
    C(
        "TensorTrain-tensor-not-list",
        "TensorTrain",
        lambda: lx.TensorTrain(torch.randn(1, 4, 1)),
        error(BAD_ARG, ["list"]),
    ),
    C(
        "TensorTrain-mixed-dtypes",
        "TensorTrain",
        lambda: lx.TensorTrain([torch.randn(1, 4, 2), torch.randn(2, 5, 1, dtype=torch.float64)]),
        error(BAD_ARG, ["dtype"]),
    ),
    C(
        "TensorTrain-mixed-devices",
        "TensorTrain",
        lambda: lx.TensorTrain([torch.randn(1, 4, 2), torch.randn(2, 5, 1, device="meta")]),
        error(BAD_ARG, ["device"]),
    ),
    C(
        "TensorTrain-zero-mode",
        "TensorTrain",
        lambda: lx.TensorTrain([torch.randn(1, 0, 1)]),
        error(ValueError, ["0"]),
    ),
    C(
        "TensorTrain-full",
        "TensorTrain",
        lambda: low_rank().full(),
        correct(lambda full: tuple(full.shape) == (4, 5, 6), "the dense (4, 5, 6) tensor"),
    ),
    C(
        "TensorTrain-round-zero",
        "TensorTrain",
        lambda: low_rank().round(max_rank=0),
        error(ValueError, ["0"]),
    ),
    # -- tt_round ----------------------------------------------------------------------------------
    C(
        "tt_round-exact",
        "tt_round",
        lambda: (tt_round(low_rank(), max_rank=2), low_rank().full()),
        correct(
            lambda r: rel_error(r[0], r[1]) < 1e-5 and max(r[0].ranks) <= 2,
            "the same tensor at rank 2",
        ),
    ),
    C(
        "tt_round-truncates-like-svd",
        "tt_round",
        lambda: (
            rel_error(tt_round(lx.tt_svd(X), max_rank=2), X),
            rel_error(lx.tt_svd(X, max_rank=2), X),
        ),
        correct(lambda e: e[0] <= 1.5 * e[1] + 1e-6, "an error close to TT-SVD's at the same rank"),
    ),
    C(
        "tt_round-excess-ranks",
        "tt_round",
        lambda: (lambda tt: (tt_round(tt), tt.full()))(
            lx.TensorTrain([torch.randn(1, 2, 5), torch.randn(5, 2, 1)])
        ),
        correct(
            lambda r: max(r[0].ranks) <= 2 and rel_error(r[0], r[1]) < 1e-5,
            "ranks cut to what the bond allows",
        ),
    ),
    C(
        "tt_round-rel-error-negative",
        "tt_round",
        lambda: tt_round(low_rank(), rel_error=-1.0),
        error(ValueError, ["rel_error"]),
    ),
    C(
        "tt_round-rel-error-nan",
        "tt_round",
        lambda: tt_round(low_rank(), rel_error=float("nan")),
        error(ValueError, ["rel_error"]),
    ),
    C(
        "tt_round-not-a-train",
        "tt_round",
        lambda: tt_round(torch.randn(4, 4, 4), max_rank=2),
        error(TypeError, ["TensorTrain"]),
    ),
    C(
        "tt_round-rank-numpy",
        "tt_round",
        lambda: tt_round(low_rank(), max_rank=np.int64(1)),
        ranks_at_most(1),
    ),
    C(
        "tt_round-float16",
        "tt_round",
        lambda: tt_round(low_rank().to(torch.float16), max_rank=2),
        correct(
            lambda tt: (
                tt.cores[0].dtype == torch.float16 and rel_error(tt, low_rank().full()) < 1e-2
            ),
            "float16 cores within 1e-2",
        ),
    ),
    C(
        "tt_round-nan-core",
        "tt_round",
        lambda: tt_round(
            lx.TensorTrain([torch.full((1, 3, 2), float("nan")), torch.randn(2, 3, 1)]), max_rank=1
        ),
        error(ValueError, ["nan"]),
    ),
    # -- tt_matrix ---------------------------------------------------------------------------------
    C(
        "tt_matrix-default",
        "tt_matrix",
        lambda: (lambda w: (lx.tt_matrix(w), w))(torch.randn(12, 6)),
        correct(lambda r: (r[0].full() - r[1]).norm() < 1e-4 * r[1].norm(), "exact at full rank"),
    ),
    C(
        "tt_matrix-modes-wrong-product",
        "tt_matrix",
        lambda: lx.tt_matrix(torch.randn(12, 6), [3, 4], [2, 2]),
        error(ValueError, ["out_modes"]),
    ),
    C(
        "tt_matrix-only-in-modes",
        "tt_matrix",
        lambda: lx.tt_matrix(torch.randn(12, 6), in_modes=[3, 4]),
        either(
            error(ValueError, ["out_modes"]),
            correct(lambda t: tuple(t.in_modes) == (3, 4), "the in_modes given"),
        ),
    ),
    C(
        "tt_matrix-3d",
        "tt_matrix",
        lambda: lx.tt_matrix(torch.randn(2, 3, 4)),
        error(ValueError, ["2-D"]),
    ),
    C(
        "tt_matrix-1d",
        "tt_matrix",
        lambda: lx.tt_matrix(torch.randn(12)),
        error(ValueError, ["2-D"]),
    ),
    C(
        "tt_matrix-nan",
        "tt_matrix",
        lambda: lx.tt_matrix(torch.full((4, 4), float("nan"))),
        error(ValueError, ["nan"]),
    ),
    C(
        "tt_matrix-float16",
        "tt_matrix",
        lambda: (lambda w: (lx.tt_matrix(w), w))(torch.randn(12, 6).half()),
        correct(
            lambda r: (
                r[0].cores[0].dtype == torch.float16
                and (r[0].full().float() - r[1].float()).norm() < 1e-2 * r[1].float().norm()
            ),
            "float16 cores within 1e-2",
        ),
    ),
    C(
        "tt_matrix-primes",
        "tt_matrix",
        lambda: (lambda w: (lx.tt_matrix(w), w))(torch.randn(7, 13)),
        correct(lambda r: (r[0].full() - r[1]).norm() < 1e-4 * r[1].norm(), "exact"),
    ),
    C(
        "tt_matrix-1x1",
        "tt_matrix",
        lambda: lx.tt_matrix(torch.tensor([[2.0]])),
        correct(lambda t: float(t.full().reshape(())) == 2.0, "the 1x1 matrix"),
    ),
    C(
        "tt_matrix-rank-zero",
        "tt_matrix",
        lambda: lx.tt_matrix(torch.randn(12, 6), max_rank=0),
        error(ValueError, ["rank", "0"]),
    ),
    # -- ranks_for_budget --------------------------------------------------------------------------
    C(
        "ranks_for_budget-half",
        "ranks_for_budget",
        lambda: ranks_for_budget([4, 5, 6], 0.5),
        correct(
            lambda r: r[0] == r[-1] == 1 and costs([4, 5, 6], r) <= 60, "a train within half of 120"
        ),
    ),
    C(
        "ranks_for_budget-zero",
        "ranks_for_budget",
        lambda: ranks_for_budget([4, 5, 6], 0),
        error(ValueError, ["0"]),
    ),
    C(
        "ranks_for_budget-above-one",
        "ranks_for_budget",
        lambda: ranks_for_budget([4, 5, 6], 1.5),
        error(ValueError, ["1.5"]),
    ),
    C(
        "ranks_for_budget-nan",
        "ranks_for_budget",
        lambda: ranks_for_budget([4, 5, 6], float("nan")),
        error(ValueError, ["nan"]),
    ),
    C(
        "ranks_for_budget-string",
        "ranks_for_budget",
        lambda: ranks_for_budget([4, 5, 6], "0.5"),
        error(BAD_ARG, ["0.5"]),
    ),
    C(
        "ranks_for_budget-empty-shape",
        "ranks_for_budget",
        lambda: ranks_for_budget([], 0.5),
        error(ValueError, ["shape"]),
    ),
    C(
        "ranks_for_budget-zero-mode",
        "ranks_for_budget",
        lambda: ranks_for_budget([4, 0, 6], 0.5),
        error(ValueError, ["0"]),
    ),
    C(
        "ranks_for_budget-tiny-fraction",
        "ranks_for_budget",
        lambda: ranks_for_budget([4, 5, 6], 0.001),
        correct(lambda r: r == [1, 1, 1, 1], "rank 1 (documented minimum)"),
    ),
    C(
        "ranks_for_budget-wide-bonds",
        "ranks_for_budget",
        lambda: ranks_for_budget([2**20, 2**20], 0.5),
        correct(
            lambda r: len(r) == 3 and costs([2**20, 2**20], r) <= 2**39,
            "a rank within budget, quickly",
        ),
        isolate=True,
    ),
]
