"""Hostile inputs to lx.TTLinear: construction, inputs (dtypes, shapes, meta), from_linear."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import loretta_explore as lx

from .spec import BAD_ARG, Case, correct, either, error
from .tools import close

GROUP = "tensorize/tt/layers"


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def seeded(make, seed=0):
    torch.manual_seed(seed)
    return make()


def layer(*a, **k):
    return seeded(lambda: lx.TTLinear(*a, **k))


def x(*shape, dtype=torch.float32, seed=3):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


def matches_dense(tol=1e-5):
    """(layer, x, y): y == x @ W + b from the layer's own dense matrix."""

    def check(r) -> bool:
        lay, inp, out = r
        w = lay.dense_matrix().detach().double()
        ref = inp.double() @ w + (lay.bias.detach().double() if lay.bias is not None else 0)
        return close(out, ref, tol)

    return correct(check, f"y = x @ W + b within {tol:g}")


def forward(lay, inp):
    return lay, inp, lay(inp)


def nan_linear() -> nn.Linear:
    lin = nn.Linear(12, 8)
    with torch.no_grad():
        lin.weight.fill_(float("nan"))
    return lin


CASES = [
    # -- TTLinear: construction --------------------------------------------------------------------
    C("TTLinear-paper", "TTLinear", lambda: forward(layer(768, 64), x(2, 768)), matches_dense()),
    C(
        "TTLinear-rank-zero",
        "TTLinear",
        lambda: layer(12, 8, tt_rank=0),
        error(ValueError, ["tt_rank", "0"]),
    ),
    C(
        "TTLinear-rank-negative",
        "TTLinear",
        lambda: layer(12, 8, tt_rank=-1),
        error(ValueError, ["tt_rank", "-1"]),
    ),
    C(
        "TTLinear-rank-numpy",
        "TTLinear",
        lambda: layer(12, 8, tt_rank=np.int64(3)),
        correct(lambda m: max(m.ranks) == 3 and m.ranks[0] == 1, "internal ranks 3"),
    ),
    C(
        "TTLinear-rank-0d-tensor",
        "TTLinear",
        lambda: layer(12, 8, tt_rank=torch.tensor(3)),
        correct(lambda m: max(m.ranks) == 3, "internal ranks 3"),
    ),
    C(
        "TTLinear-rank-bool",
        "TTLinear",
        lambda: layer(12, 8, tt_rank=True),
        error(BAD_ARG, ["tt_rank", "True"]),
    ),
    C(
        "TTLinear-rank-float",
        "TTLinear",
        lambda: layer(12, 8, tt_rank=2.5),
        error(BAD_ARG, ["tt_rank", "2.5"]),
    ),
    C(
        "TTLinear-rank-list-wrong-length",
        "TTLinear",
        lambda: layer(12, 8, tt_shape=(2, 6, 8), tt_rank=[2]),
        error(ValueError, ["tt_rank"]),
    ),
    C(
        "TTLinear-rank-huge",
        "TTLinear",
        lambda: layer(12, 8, tt_rank=10**6),
        either(
            error(ValueError, ["tt_rank"]),
            correct(lambda m: m.num_params < 10**5, "ranks clipped to the bonds"),
        ),
        isolate=True,
    ),
    C("TTLinear-in-zero", "TTLinear", lambda: layer(0, 8), error(ValueError, ["in_features", "0"])),
    C(
        "TTLinear-out-float",
        "TTLinear",
        lambda: (layer(12, 8), layer(12, 8.0))[1],  # after a (12, 8) layer, as in a real session
        error(BAD_ARG, ["out_features", "8.0"]),
    ),
    C(
        "TTLinear-layout-bogus",
        "TTLinear",
        lambda: layer(12, 8, layout="bogus"),
        error(ValueError, ["layout", "bogus"]),
    ),
    C(
        "TTLinear-forward-mode-bogus",
        "TTLinear",
        lambda: layer(12, 8, forward_mode="x"),
        error(ValueError, ["forward_mode"]),
    ),
    C(
        "TTLinear-init-bogus",
        "TTLinear",
        lambda: layer(12, 8, init="bogus"),
        error(ValueError, ["init", "bogus"]),
    ),
    C(
        "TTLinear-shape-product",
        "TTLinear",
        lambda: layer(12, 8, tt_shape=[5, 5]),
        error(ValueError, ["product"]),
    ),
    C(
        "TTLinear-contract-uncuttable",
        "TTLinear",
        lambda: layer(12, 8, tt_shape=(32, 3), forward_mode="contract"),
        error(ValueError, ["cut"]),
    ),
    C(
        "TTLinear-dtype-int",
        "TTLinear",
        lambda: layer(12, 8, dtype=torch.int64),
        error(BAD_ARG, ["dtype"]),
    ),
    C(
        "TTLinear-ttm-modes-lengths",
        "TTLinear",
        lambda: layer(12, 8, layout="ttm", tt_shape=([3, 4], [2, 2, 2])),
        error(ValueError, ["modes"]),
    ),
    C(
        "TTLinear-ttm-modes-product",
        "TTLinear",
        lambda: layer(12, 8, layout="ttm", tt_shape=([3, 4], [2, 2])),
        error(ValueError, ["modes"]),
    ),
    C(
        "TTLinear-custom-shape",
        "TTLinear",
        lambda: forward(layer(12, 8, tt_shape=(2, 6, 8)), x(5, 12)),
        matches_dense(),
    ),
    C(
        "TTLinear-ttm",
        "TTLinear",
        lambda: forward(layer(12, 8, layout="ttm", tt_shape=([3, 4], [2, 4])), x(5, 12)),
        matches_dense(),
    ),
    C(
        "TTLinear-no-bias",
        "TTLinear",
        lambda: forward(layer(12, 8, bias=False), x(5, 12)),
        matches_dense(),
    ),
    # -- TTLinear: inputs --------------------------------------------------------------------------
    C(
        "TTLinear-int-input",
        "TTLinear",
        lambda: (lambda m: (m, m(torch.arange(24).reshape(2, 12))))(layer(12, 8)),
        either(
            error(BAD_ARG, ["dtype"]),
            correct(
                lambda r: (
                    r[1].is_floating_point()
                    and close(r[1], r[0](torch.arange(24.0).reshape(2, 12)))
                ),
                "a float result equal to the float input's",
            ),
        ),
    ),
    C(
        "TTLinear-wrong-last-dim",
        "TTLinear",
        lambda: layer(12, 8)(x(2, 13)),
        error(BAD_ARG, ["12", "13"]),
    ),
    C(
        "TTLinear-wrong-last-dim-divisible",
        "TTLinear",
        lambda: layer(12, 8)(x(4, 6)),
        error(BAD_ARG, ["12", "6"]),
    ),
    C(
        "TTLinear-empty-batch",
        "TTLinear",
        lambda: layer(12, 8)(x(0, 12)),
        correct(lambda y: tuple(y.shape) == (0, 8), "an empty (0, 8) result"),
    ),
    C(
        "TTLinear-ttm-empty-batch",
        "TTLinear",
        lambda: layer(12, 8, layout="ttm")(x(0, 12)),
        correct(lambda y: tuple(y.shape) == (0, 8), "an empty (0, 8) result"),
    ),
    C(
        "TTLinear-1d-input",
        "TTLinear",
        lambda: layer(12, 8)(x(12)),
        correct(lambda y: tuple(y.shape) == (8,), "shape (8,)"),
    ),
    C("TTLinear-3d-input", "TTLinear", lambda: forward(layer(12, 8), x(2, 3, 12)), matches_dense()),
    C(
        "TTLinear-contract-equals-dense",
        "TTLinear",
        lambda: (lambda m, d, i: close(m(i), d(i), 1e-5))(
            layer(768, 64, forward_mode="contract"), layer(768, 64, forward_mode="dense"), x(3, 768)
        ),
        correct(lambda ok: ok is True, "contract and dense agree"),
    ),
    C(
        "TTLinear-float16-input",
        "TTLinear",
        lambda: (lambda m, i: (m(i), m(i.float())))(layer(12, 8), x(3, 12).half()),
        correct(
            lambda r: r[0].dtype == torch.float16 and close(r[0], r[1], 1e-2),
            "float16 out, within 1e-2",
        ),
    ),
    C(
        "TTLinear-bf16-layer-float-input",
        "TTLinear",
        lambda: layer(12, 8, dtype=torch.bfloat16)(x(3, 12)),
        correct(
            lambda y: y.dtype == torch.float32 and tuple(y.shape) == (3, 8),
            "float32 out, shape (3, 8)",
        ),
    ),
    C(
        "TTLinear-meta",
        "TTLinear",
        lambda: layer(12, 8, device="meta")(torch.empty(3, 12, device="meta")),
        correct(
            lambda y: y.device.type == "meta" and tuple(y.shape) == (3, 8), "a (3, 8) meta tensor"
        ),
    ),
    C(
        "TTLinear-nan-input-propagates",
        "TTLinear",
        lambda: layer(12, 8)(torch.full((2, 12), float("nan"))),
        correct(lambda y: bool(torch.isnan(y).all()), "NaN in, NaN out (not hidden)"),
    ),
    C(
        "TTLinear-grad-reaches-cores",
        "TTLinear",
        lambda: (
            lambda m: (m(x(4, 12)).sum().backward(), [c.grad is not None for c in m.cores])[1]
        )(layer(12, 8)),
        correct(lambda g: all(g), "every core gets a gradient"),
    ),
    # -- TTLinear.from_linear ----------------------------------------------------------------------
    C(
        "from_linear-full-rank",
        "TTLinear",
        lambda: (lambda lin: (lx.TTLinear.from_linear(lin, tt_rank=100), lin))(
            seeded(lambda: nn.Linear(12, 8))
        ),
        correct(lambda r: close(r[0].weight, r[1].weight, 1e-4), "the same weight at full rank"),
    ),
    C(
        "from_linear-conv2d",
        "TTLinear",
        lambda: lx.TTLinear.from_linear(nn.Conv2d(3, 3, 1)),
        error(TypeError, ["Conv2d"]),
    ),
    C(
        "from_linear-nan-weight",
        "TTLinear",
        lambda: lx.TTLinear.from_linear(nan_linear()),
        error(ValueError, ["nan"]),
    ),
    C(
        "from_linear-meta",
        "TTLinear",
        lambda: lx.TTLinear.from_linear(nn.Linear(12, 8, device="meta")),
        either(
            error(BAD_ARG, ["meta"]),
            correct(lambda m: m.cores[0].device.type == "meta", "a meta layer"),
        ),
    ),
    C(
        "from_linear-rank-zero",
        "TTLinear",
        lambda: lx.TTLinear.from_linear(nn.Linear(12, 8), tt_rank=0),
        error(ValueError, ["tt_rank", "0"]),
    ),
]
