"""Hostile inputs to lx.tt_svd: dtypes, containers, ranks and error targets."""

from __future__ import annotations

import numpy as np
import torch

import loretta_explore as lx

from .spec import BAD_ARG, Case, correct, either, error
from .tools import rel_error

GROUP = "tensorize/tt/layers"


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def x3(dtype=torch.float32, seed=0):
    return torch.randn(4, 5, 6, generator=torch.Generator().manual_seed(seed)).to(dtype)


def exact(x, tol=1e-5, dtype=None):
    def check(tt) -> bool:
        dtypes = {c.dtype for c in tt.cores}
        return rel_error(tt, x) <= tol and (dtype is None or dtypes == {dtype})

    return correct(
        check, f"cores{' in ' + str(dtype) if dtype else ''} reconstructing x within {tol:g}"
    )


def ranks_at_most(r, x=None):
    return correct(
        lambda tt: max(tt.ranks) <= r and (x is None or rel_error(tt, x) < 1), f"ranks <= {r}"
    )


X = x3()


CASES = [
    # -- tt_svd: dtypes and containers -------------------------------------------------------------
    C("tt_svd-float32", "tt_svd", lambda: lx.tt_svd(X), exact(X, 1e-5, torch.float32)),
    C(
        "tt_svd-float64",
        "tt_svd",
        lambda: lx.tt_svd(X.double()),
        exact(X.double(), 1e-12, torch.float64),
    ),
    C(
        "tt_svd-float16",
        "tt_svd",
        lambda: lx.tt_svd(X.half()),
        exact(X.half(), 1e-2, torch.float16),
    ),
    C(
        "tt_svd-bfloat16",
        "tt_svd",
        lambda: lx.tt_svd(X.bfloat16()),
        exact(X.bfloat16(), 2e-2, torch.bfloat16),
    ),
    C(
        "tt_svd-int64",
        "tt_svd",
        lambda: lx.tt_svd(torch.arange(24).reshape(2, 3, 4)),
        correct(
            lambda tt: (
                rel_error(tt, torch.arange(24.0).reshape(2, 3, 4)) < 1e-5
                and tt.cores[0].is_floating_point()
            ),
            "float cores reconstructing the integers",
        ),
    ),
    C(
        "tt_svd-bool",
        "tt_svd",
        lambda: lx.tt_svd(torch.eye(4, dtype=torch.bool)),
        correct(
            lambda tt: rel_error(tt, torch.eye(4)) < 1e-5,
            "float cores reconstructing the 0/1 matrix",
        ),
    ),
    C("tt_svd-numpy", "tt_svd", lambda: lx.tt_svd(X.numpy()), exact(X, 1e-5)),
    C(
        "tt_svd-noncontiguous",
        "tt_svd",
        lambda: lx.tt_svd(X.permute(2, 0, 1)),
        exact(X.permute(2, 0, 1), 1e-5),
    ),
    C(
        "tt_svd-requires-grad",
        "tt_svd",
        lambda: lx.tt_svd(X.clone().requires_grad_(True)),
        exact(X, 1e-5),
    ),
    C(
        "tt_svd-1d",
        "tt_svd",
        lambda: lx.tt_svd(torch.arange(1.0, 6.0)),
        correct(
            lambda tt: tt.order == 1 and rel_error(tt, torch.arange(1.0, 6.0)) < 1e-6, "one core"
        ),
    ),
    C(
        "tt_svd-all-ones-modes",
        "tt_svd",
        lambda: lx.tt_svd(torch.full((1, 1, 1, 1), 3.0)),
        correct(
            lambda tt: tt.shape == (1, 1, 1, 1) and abs(float(tt.full().sum()) - 3) < 1e-6,
            "the 1x1x1x1 tensor",
        ),
    ),
    C(
        "tt_svd-zeros",
        "tt_svd",
        lambda: lx.tt_svd(torch.zeros(3, 4, 5)),
        correct(
            lambda tt: float(tt.full().abs().max()) == 0 and tt.info.relative_error_bound == 0,
            "the zero train",
        ),
    ),
    C(
        "tt_svd-list",
        "tt_svd",
        lambda: lx.tt_svd([[1.0, 2.0], [3.0, 4.0]]),
        either(error(TypeError, ["list", "tensor"]), exact(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))),
    ),
    C("tt_svd-empty", "tt_svd", lambda: lx.tt_svd(torch.empty(0, 3)), error(ValueError, ["empty"])),
    C("tt_svd-0d", "tt_svd", lambda: lx.tt_svd(torch.tensor(3.0)), error(ValueError, ["0-d"])),
    C(
        "tt_svd-nan",
        "tt_svd",
        lambda: lx.tt_svd(torch.tensor([[1.0, float("nan")], [0.0, 1.0]])),
        error(ValueError, ["nan"]),
    ),
    C(
        "tt_svd-inf",
        "tt_svd",
        lambda: lx.tt_svd(torch.tensor([[1.0, float("inf")], [0.0, 1.0]])),
        error(ValueError, ["inf"]),
    ),
    C(
        "tt_svd-complex",
        "tt_svd",
        lambda: lx.tt_svd(torch.randn(3, 3, dtype=torch.complex64)),
        error(TypeError, ["complex"]),
    ),
    C(
        "tt_svd-meta",
        "tt_svd",
        lambda: lx.tt_svd(torch.empty(4, 5, 6, device="meta")),
        error(BAD_ARG, ["meta"]),
    ),
    C("tt_svd-string", "tt_svd", lambda: lx.tt_svd("tensor"), error(TypeError, ["str"])),
    C(
        "tt_svd-input-unchanged",
        "tt_svd",
        lambda: (lambda x: (lx.tt_svd(x, max_rank=2), torch.equal(x, x3()))[1])(x3()),
        correct(lambda same: same is True, "x itself unchanged"),
    ),
    # -- tt_svd: max_rank and rel_error ------------------------------------------------------------
    C("tt_svd-rank-2", "tt_svd", lambda: lx.tt_svd(X, max_rank=2), ranks_at_most(2, X)),
    C(
        "tt_svd-rank-huge",
        "tt_svd",
        lambda: lx.tt_svd(X, max_rank=10**9),
        correct(lambda tt: rel_error(tt, X) < 1e-5 and tt.info.clipped, "exact, info.clipped set"),
    ),
    C(
        "tt_svd-rank-zero",
        "tt_svd",
        lambda: lx.tt_svd(X, max_rank=0),
        error(ValueError, ["rank", "0"]),
    ),
    C(
        "tt_svd-rank-negative",
        "tt_svd",
        lambda: lx.tt_svd(X, max_rank=-3),
        error(ValueError, ["-3"]),
    ),
    C(
        "tt_svd-rank-numpy",
        "tt_svd",
        lambda: lx.tt_svd(X, max_rank=np.int64(2)),
        ranks_at_most(2, X),
    ),
    C(
        "tt_svd-rank-0d-tensor",
        "tt_svd",
        lambda: lx.tt_svd(X, max_rank=torch.tensor(2)),
        ranks_at_most(2, X),
    ),
    C(
        "tt_svd-rank-bool",
        "tt_svd",
        lambda: lx.tt_svd(X, max_rank=True),
        error(BAD_ARG, ["max_rank", "True"]),
    ),
    C(
        "tt_svd-rank-float-above-1",
        "tt_svd",
        lambda: lx.tt_svd(X, max_rank=2.0),
        error(ValueError, ["max_rank", "2.0"]),
    ),
    C(
        "tt_svd-rank-nan",
        "tt_svd",
        lambda: lx.tt_svd(X, max_rank=float("nan")),
        error(ValueError, ["max_rank", "nan"]),
    ),
    C(
        "tt_svd-rank-fraction",
        "tt_svd",
        lambda: lx.tt_svd(X, max_rank=0.5),
        correct(
            lambda tt: tt.num_params <= 0.5 * X.numel(), "a train of at most half the dense size"
        ),
    ),
    C(
        "tt_svd-rank-list-short",
        "tt_svd",
        lambda: lx.tt_svd(X, max_rank=[2]),
        error(ValueError, ["internal", "2"]),
    ),
    C(
        "tt_svd-rank-list-zero",
        "tt_svd",
        lambda: lx.tt_svd(X, max_rank=[2, 0]),
        error(ValueError, ["0"]),
    ),
    C(
        "tt_svd-rank-bad-boundary",
        "tt_svd",
        lambda: lx.tt_svd(X, max_rank=[2, 3, 2, 2]),
        error(ValueError, ["boundary"]),
    ),
    C(
        "tt_svd-rank-string",
        "tt_svd",
        lambda: lx.tt_svd(torch.randn(6, 6), max_rank="3"),
        error(BAD_ARG, ["max_rank", "3"]),
    ),
    C(
        "tt_svd-rank-list-floats",
        "tt_svd",
        lambda: lx.tt_svd(X, max_rank=[2.7, 2.2]),
        error(BAD_ARG, ["2.7"]),
    ),
    C(
        "tt_svd-rel-error-negative",
        "tt_svd",
        lambda: lx.tt_svd(X, rel_error=-0.1),
        error(ValueError, ["rel_error"]),
    ),
    C(
        "tt_svd-rel-error-nan",
        "tt_svd",
        lambda: lx.tt_svd(X, rel_error=float("nan")),
        error(ValueError, ["rel_error"]),
    ),
    C(
        "tt_svd-rel-error-string",
        "tt_svd",
        lambda: lx.tt_svd(X, rel_error="0.1"),
        error(BAD_ARG, ["rel_error"]),
    ),
    C(
        "tt_svd-rel-error-met",
        "tt_svd",
        lambda: lx.tt_svd(X, rel_error=0.3),
        correct(lambda tt: rel_error(tt, X) <= 0.3 + 1e-6, "relative error <= 0.3"),
    ),
]
