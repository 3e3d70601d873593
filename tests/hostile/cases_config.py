"""Hostile inputs to lx.LorettaConfig and lx.get_loretta_model.

Targets, placements, configs of the wrong kind, already adapted and meta models.
"""

from __future__ import annotations

import torch
from torch import nn

import loretta_explore as lx

from .spec import BAD_ARG, Case, correct, either, error
from .tools import adapted, keeps, logits, n_trainable, on_meta, tiny

GROUP = "adapt/adapter files"
SMALL = dict(bottleneck=4, tt_rank=2)


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def cfg(**k):
    return lx.LorettaConfig(**(SMALL | k))


def adapt_fresh(arch="bert", **k):
    """keeps(): get_loretta_model on a fresh tiny model must leave it alone when it fails."""
    return keeps(lambda: tiny(arch), lambda m: lx.get_loretta_model(m, cfg(**k)))


def matches_budget(arch, method, meta=False):
    def run():
        base = on_meta(arch) if meta else tiny(arch)
        expected = lx.count_trainable(base.config, f"loretta_{method}", **SMALL)
        model = lx.get_loretta_model(base, cfg(method=method))
        finite = meta or bool(torch.isfinite(logits(model, arch)).all())
        return n_trainable(model), expected, finite

    return run


def n_rep(model) -> int:
    return sum(isinstance(m, lx.LorettaRepLinear) for m in model.modules())


def llama_cls_head(**k):
    model = lx.get_loretta_model(tiny("llama-cls"), cfg(**k))
    return model.base_model.score.weight.requires_grad


CASES = [
    # -- LorettaConfig -----------------------------------------------------------------------------
    C(
        "config-method-bogus",
        "LorettaConfig",
        lambda: lx.LorettaConfig(method="bogus"),
        error(ValueError, ["method", "bogus"]),
    ),
    C(
        "config-rank-zero",
        "LorettaConfig",
        lambda: lx.LorettaConfig(tt_rank=0),
        error(ValueError, ["tt_rank", "0"]),
    ),
    C(
        "config-rank-negative",
        "LorettaConfig",
        lambda: lx.LorettaConfig(tt_rank=-1),
        error(ValueError, ["tt_rank", "-1"]),
    ),
    C(
        "config-rank-float",
        "LorettaConfig",
        lambda: lx.LorettaConfig(tt_rank=2.5),
        error(BAD_ARG, ["tt_rank", "2.5"]),
    ),
    C(
        "config-rank-string",
        "LorettaConfig",
        lambda: lx.LorettaConfig(tt_rank="5"),
        error(BAD_ARG, ["tt_rank"]),
    ),
    C(
        "config-bottleneck-zero",
        "LorettaConfig",
        lambda: lx.LorettaConfig(bottleneck=0),
        error(ValueError, ["bottleneck", "0"]),
    ),
    C(
        "config-alpha-nan",
        "LorettaConfig",
        lambda: lx.LorettaConfig(alpha=float("nan")),
        error(ValueError, ["alpha"]),
    ),
    C(
        "config-dropout-above-one",
        "LorettaConfig",
        lambda: lx.LorettaConfig(dropout=1.5),
        error(ValueError, ["dropout", "1.5"]),
    ),
    C(
        "config-dropout-negative",
        "LorettaConfig",
        lambda: lx.LorettaConfig(dropout=-0.5),
        error(ValueError, ["dropout"]),
    ),
    C(
        "config-activation-bogus",
        "LorettaConfig",
        lambda: lx.LorettaConfig(method="adp", activation="bogus"),
        error(ValueError, ["activation", "bogus"]),
    ),
    C(
        "config-head-bogus",
        "LorettaConfig",
        lambda: lx.LorettaConfig(head="bogus"),
        error(ValueError, ["head", "bogus"]),
    ),
    C(
        "config-init-rep-identity",
        "LorettaConfig",
        lambda: lx.LorettaConfig(init="identity"),
        error(ValueError, ["init", "identity"]),
    ),
    C(
        "config-tt-shapes-bogus",
        "LorettaConfig",
        lambda: lx.LorettaConfig(tt_shapes="bogus"),
        error(ValueError, ["tt_shapes", "bogus"]),
    ),
    C(
        "config-train-norms-string",
        "LorettaConfig",
        lambda: lx.LorettaConfig(train_norms="yes"),
        error(BAD_ARG, ["train_norms"]),
    ),
    # -- get_loretta_model on every architecture: counts agree with lx.count_trainable -------------
    *[
        C(
            f"adapt-{arch}-{method}",
            "get_loretta_model",
            matches_budget(arch, method),
            correct(lambda r: r[0] == r[1] and r[2], "trainable == count_trainable, finite logits"),
        )
        for arch in ("bert", "roberta", "deberta", "llama", "gpt2")
        for method in ("rep", "adp")
    ],
    C(
        "adapt-meta-llama-rep",
        "get_loretta_model",
        matches_budget("llama", "rep", meta=True),
        correct(lambda r: r[0] == r[1], "trainable == count_trainable on the meta device"),
    ),
    C(
        "adapt-meta-bert-adp",
        "get_loretta_model",
        matches_budget("bert", "adp", meta=True),
        correct(lambda r: r[0] == r[1], "trainable == count_trainable on the meta device"),
    ),
    # -- get_loretta_model: bad targets and configs ------------------------------------------------
    C(
        "adapt-already-adapted",
        "get_loretta_model",
        keeps(lambda: adapted("bert"), lambda m: lx.get_loretta_model(m, cfg())),
        error(ValueError, ["already"]),
    ),
    C(
        "adapt-inner-of-adapted",
        "get_loretta_model",
        keeps(lambda: adapted("bert").base_model, lambda m: lx.get_loretta_model(m, cfg())),
        error(ValueError, ["already"]),
    ),
    C(
        "adapt-unknown-architecture",
        "get_loretta_model",
        keeps(lambda: nn.Sequential(nn.Linear(8, 8)), lambda m: lx.get_loretta_model(m, cfg())),
        error(ValueError, ["target_modules"]),
    ),
    C(
        "adapt-custom-targets",
        "get_loretta_model",
        lambda: (lambda m: (n_trainable(m), m(torch.randn(3, 12)).shape))(
            lx.get_loretta_model(nn.Sequential(nn.Linear(12, 8)), cfg(target_modules=["0"]))
        ),
        correct(lambda r: r[0] > 0 and tuple(r[1]) == (3, 8), "a rep layer on module '0'"),
    ),
    C(
        "adapt-target-nonexistent",
        "get_loretta_model",
        adapt_fresh(target_modules=["nonexistent"]),
        error(ValueError, ["nonexistent"]),
    ),
    C(
        "adapt-target-empty",
        "get_loretta_model",
        adapt_fresh(target_modules=[]),
        error(ValueError, ["target_modules"]),
    ),
    C(
        "adapt-target-string",
        "get_loretta_model",
        lambda: n_rep(lx.get_loretta_model(tiny("bert"), cfg(target_modules="query"))),
        correct(lambda n: n == 2, "the two query layers (a string is one pattern, as in PEFT)"),
    ),
    C(
        "adapt-target-invalid-regex",
        "get_loretta_model",
        adapt_fresh(target_modules=["["]),
        error(ValueError, ["["]),
    ),
    C(
        "adapt-target-catastrophic-regex",
        "get_loretta_model",
        adapt_fresh(target_modules=["(.|.)*X"]),
        error(ValueError, ["(.|.)*X"]),
        isolate=True,
    ),
    C(
        "adapt-fails-half-way",
        "get_loretta_model",
        adapt_fresh(target_modules=["query", "nonexistent"]),
        error(ValueError, ["nonexistent"]),
    ),
    C(
        "adapt-bad-shape-after-freezing",
        "get_loretta_model",
        adapt_fresh(tt_shapes={(32, 4): [5, 5]}),
        error(ValueError, ["product"]),
    ),
    C(
        "adapt-placement-bogus",
        "get_loretta_model",
        adapt_fresh(method="adp", target_modules={"attention.output.dropout": "sideways"}),
        error(ValueError, ["sideways"]),
    ),
    C(
        "adapt-rep-bottleneck-wider-than-layer",
        "get_loretta_model",
        adapt_fresh(bottleneck=64),
        error(ValueError, ["bottleneck", "64"]),
    ),
    C(
        "adapt-config-string",
        "get_loretta_model",
        keeps(lambda: tiny("bert"), lambda m: lx.get_loretta_model(m, "rep")),
        error(TypeError, ["LorettaConfig"]),
    ),
    C(
        "adapt-config-dict",
        "get_loretta_model",
        keeps(lambda: tiny("bert"), lambda m: lx.get_loretta_model(m, dict(method="adp"))),
        either(
            error(TypeError, ["LorettaConfig"]),
            correct(lambda m: n_trainable(m) > 0, "read as a LorettaConfig"),
        ),
    ),
    C(
        "adapt-model-string",
        "get_loretta_model",
        lambda: lx.get_loretta_model("bert-base-uncased", cfg()),
        error(TypeError, ["str"]),
    ),
    C(
        "adapt-rank-huge",
        "get_loretta_model",
        adapt_fresh(tt_rank=100_000),
        either(
            error(ValueError, ["tt_rank"]),
            correct(lambda m: n_trainable(m) < 10**6, "ranks clipped"),
        ),
        isolate=True,
    ),
    C(
        "adapt-llama-cls-adp-trains-score",
        "get_loretta_model",
        lambda: llama_cls_head(method="adp"),
        correct(
            lambda g: g is True,
            "the new score head trains (train_classifier defaults to True for adp)",
        ),
    ),
    C(
        "adapt-llama-cls-rep-train-classifier",
        "get_loretta_model",
        lambda: llama_cls_head(train_classifier=True),
        correct(lambda g: g is True, "train_classifier=True trains the score head"),
    ),
]
