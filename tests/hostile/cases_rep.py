"""Hostile inputs to lx.TTAdapter and lx.LorettaRepLinear (merge/unmerge in every dtype, meta)."""

from __future__ import annotations

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


def x(*shape, dtype=torch.float32, seed=3):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


def rep(in_f=12, out_f=8, dtype=torch.float32, device=None, **k):
    settings = dict(bottleneck=4, tt_rank=2) | k
    return seeded(
        lambda: lx.LorettaRepLinear(nn.Linear(in_f, out_f, dtype=dtype, device=device), **settings)
    )


def merge_unmerge_keeps(dtype, tol=0.0):
    def run():
        r = rep(dtype=dtype)
        with torch.no_grad():
            for p in (r.A.cores[-1], r.B.cores[-1]):
                p.add_(0.5)  # a sizeable update, as after training
        before = r.base.weight.detach().clone()
        r.merge()
        r.unmerge()
        drift = (r.base.weight.detach().double() - before.double()).abs().max()
        return float(drift) <= tol * float(before.double().abs().max())

    return run


def rep_merged_forward():
    r = rep(init="compensated")
    with torch.no_grad():
        r.B.cores[-1].add_(0.3)
    inp = x(3, 12)
    y = r(inp)
    r.merge()
    return y, r(inp)


def adapter(*a, **k):
    return seeded(lambda: lx.TTAdapter(*a, **k))


CASES = [
    # -- TTAdapter ---------------------------------------------------------------------------------
    C(
        "TTAdapter-forward",
        "TTAdapter",
        lambda: adapter(32, 8)(x(2, 32)),
        correct(lambda y: tuple(y.shape) == (2, 32), "(2, 32)"),
    ),
    C(
        "TTAdapter-bottleneck-zero",
        "TTAdapter",
        lambda: adapter(32, bottleneck=0),
        error(ValueError, ["bottleneck", "0"]),
    ),
    C(
        "TTAdapter-bottleneck-negative",
        "TTAdapter",
        lambda: adapter(32, bottleneck=-5),
        error(ValueError, ["bottleneck"]),
    ),
    C(
        "TTAdapter-bottleneck-float",
        "TTAdapter",
        lambda: adapter(32, bottleneck=2.5),
        error(BAD_ARG, ["bottleneck", "2.5"]),
    ),
    C(
        "TTAdapter-features-zero",
        "TTAdapter",
        lambda: adapter(0, 8),
        error(ValueError, ["features", "0"]),
    ),
    C(
        "TTAdapter-activation-bogus",
        "TTAdapter",
        lambda: adapter(32, 8, activation="bogus"),
        error(ValueError, ["activation", "bogus"]),
    ),
    C(
        "TTAdapter-init-zero",
        "TTAdapter",
        lambda: adapter(32, 8, init="zero"),
        error(ValueError, ["init", "zero"]),
    ),
    C(
        "TTAdapter-identity-start",
        "TTAdapter",
        lambda: (lambda a, h: torch.equal(a(h), h))(adapter(32, 8, init="identity"), x(2, 32)),
        correct(lambda ok: ok is True, "h unchanged at step 0"),
    ),
    C(
        "TTAdapter-scale-nan",
        "TTAdapter",
        lambda: adapter(32, 8, scale=float("nan")),
        error(ValueError, ["scale", "nan"]),
    ),
    C(
        "TTAdapter-scale-string",
        "TTAdapter",
        lambda: adapter(32, 8, scale="1"),
        error(BAD_ARG, ["scale"]),
    ),
    C(
        "TTAdapter-shapes-product",
        "TTAdapter",
        lambda: adapter(32, 8, tt_shapes=([5, 5], [5, 5])),
        error(ValueError, ["product"]),
    ),
    C(
        "TTAdapter-bf16-layer-float-input",
        "TTAdapter",
        lambda: adapter(32, 8, dtype=torch.bfloat16)(x(2, 32)),
        correct(lambda y: y.dtype == torch.float32 and tuple(y.shape) == (2, 32), "float32 out"),
    ),
    C(
        "TTAdapter-meta",
        "TTAdapter",
        lambda: adapter(32, 8, device="meta")(torch.empty(2, 32, device="meta")),
        correct(lambda y: y.device.type == "meta" and tuple(y.shape) == (2, 32), "a meta (2, 32)"),
    ),
    C(
        "TTAdapter-wrong-features",
        "TTAdapter",
        lambda: adapter(32, 8)(x(2, 31)),
        error(BAD_ARG, ["32", "31"]),
    ),
    # -- LorettaRepLinear --------------------------------------------------------------------------
    C(
        "Rep-forward",
        "LorettaRepLinear",
        lambda: rep()(x(2, 12)),
        correct(lambda y: tuple(y.shape) == (2, 8), "(2, 8)"),
    ),
    C(
        "Rep-conv2d",
        "LorettaRepLinear",
        lambda: lx.LorettaRepLinear(nn.Conv2d(3, 3, 1)),
        error(TypeError, ["Conv2d"]),
    ),
    C(
        "Rep-nested",
        "LorettaRepLinear",
        lambda: lx.LorettaRepLinear(rep()),
        error(TypeError, ["LorettaRepLinear"]),
    ),
    C(
        "Rep-bottleneck-zero",
        "LorettaRepLinear",
        lambda: rep(bottleneck=0),
        error(ValueError, ["bottleneck", "0"]),
    ),
    C(
        "Rep-rank-zero",
        "LorettaRepLinear",
        lambda: rep(tt_rank=0),
        error(ValueError, ["tt_rank", "0"]),
    ),
    C(
        "Rep-init-bogus",
        "LorettaRepLinear",
        lambda: rep(init="bogus"),
        error(ValueError, ["init", "bogus"]),
    ),
    C(
        "Rep-dropout-above-one",
        "LorettaRepLinear",
        lambda: rep(dropout=1.5),
        error(ValueError, ["dropout", "1.5"]),
    ),
    C(
        "Rep-dropout-negative",
        "LorettaRepLinear",
        lambda: rep(dropout=-0.1),
        error(ValueError, ["dropout", "-0.1"]),
    ),
    C(
        "Rep-alpha-inf",
        "LorettaRepLinear",
        lambda: rep(alpha=float("inf")),
        error(ValueError, ["alpha", "inf"]),
    ),
    C(
        "Rep-alpha-nan",
        "LorettaRepLinear",
        lambda: rep(alpha=float("nan")),
        error(ValueError, ["alpha", "nan"]),
    ),
    C(
        "Rep-compensated-starts-at-base",
        "LorettaRepLinear",
        lambda: (lambda r, i: close(r(i), r.base(i), 1e-6))(rep(init="compensated"), x(3, 12)),
        correct(lambda ok: ok is True, "the base function at step 0"),
    ),
    C(
        "Rep-int-input",
        "LorettaRepLinear",
        lambda: rep()(torch.arange(24).reshape(2, 12)),
        either(
            error(BAD_ARG + (RuntimeError,), ["dtype"]),
            correct(lambda y: y.is_floating_point(), "a float result"),
        ),
    ),
    C(
        "Rep-wrong-last-dim",
        "LorettaRepLinear",
        lambda: rep()(x(2, 13)),
        error(BAD_ARG + (RuntimeError,), ["12", "13"]),
    ),
    C(
        "Rep-meta",
        "LorettaRepLinear",
        lambda: rep(device="meta")(torch.empty(2, 12, device="meta")),
        correct(lambda y: y.device.type == "meta" and tuple(y.shape) == (2, 8), "a meta (2, 8)"),
    ),
    C(
        "Rep-merge-unmerge-fp32",
        "LorettaRepLinear",
        merge_unmerge_keeps(torch.float32, 1e-6),
        correct(
            lambda same: same is True, "the pretrained weight within 1e-6 after merge(); unmerge()"
        ),
    ),
    C(
        "Rep-merge-unmerge-bf16",
        "LorettaRepLinear",
        merge_unmerge_keeps(torch.bfloat16),
        correct(
            lambda same: same is True, "the pretrained weight bit for bit after merge(); unmerge()"
        ),
    ),
    C(
        "Rep-merge-unmerge-fp16",
        "LorettaRepLinear",
        merge_unmerge_keeps(torch.float16),
        correct(
            lambda same: same is True, "the pretrained weight bit for bit after merge(); unmerge()"
        ),
    ),
    C(
        "Rep-merge-twice",
        "LorettaRepLinear",
        lambda: (
            lambda r: (
                r.merge(),
                w := r.base.weight.detach().clone(),
                r.merge(),
                torch.equal(w, r.base.weight),
            )[-1]
        )(rep()),
        correct(lambda same: same is True, "a second merge() changes nothing"),
    ),
    C(
        "Rep-unmerge-unmerged",
        "LorettaRepLinear",
        lambda: (
            lambda r: (
                w := r.base.weight.detach().clone(),
                r.unmerge(),
                torch.equal(w, r.base.weight),
            )[-1]
        )(rep()),
        correct(lambda same: same is True, "unmerge() of an unmerged layer changes nothing"),
    ),
    C(
        "Rep-merged-forward-equal",
        "LorettaRepLinear",
        rep_merged_forward,
        correct(lambda r: close(r[0], r[1], 1e-5), "the same output merged and unmerged"),
    ),
]
