"""Hostile inputs to lx.prepare.

Every method on tiny BERT and LLaMA models (checked against count_trainable), bad
hyperparameters, LLaMA sequence classifiers, a model prepared twice.
"""

from __future__ import annotations

import torch
from torch import nn

import loretta_explore as lx

from .spec import BAD_ARG, Case, correct, either, error
from .tools import batch, keeps, n_trainable, tiny

GROUP = "budget/methods/baselines"


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def prepared_matches_count(arch, method):
    hp = (
        {"bottleneck": 8} if method in ("adapters", "loretta_adp") else {}
    )  # the tiny models are 32 wide

    def run():
        expected = lx.count_trainable(tiny(arch), method, **hp)
        model = lx.prepare(tiny(arch), method, **hp)
        return n_trainable(model), expected

    return run


def llama_cls(method):
    # the tiny LLaMA is 32 wide: the adapters' default bottleneck (64) would be refused, rightly
    hp = {"bottleneck": 8} if method in ("adapters", "loretta_adp") else {}

    def run():
        model = lx.prepare(tiny("llama-cls"), method, **hp)
        score = dict(model.named_parameters())
        head = [
            p.requires_grad
            for n, p in score.items()
            if n.endswith("score.weight") or "score.modules_to_save" in n
        ]
        model.eval()
        with torch.no_grad():
            out = model(**batch("llama-cls")).logits
        return any(head), bool(torch.isfinite(out).all()), tuple(out.shape)

    return run


def prepare_fresh(arch, name, **hp):
    return keeps(lambda: tiny(arch), lambda m: lx.prepare(m, name, **hp))


METHODS = ("full", "lora", "adapters", "prefix", "ia3", "bitfit", "loretta_adp", "loretta_rep")


CASES = [
    # -- prepare: every method on a tiny BERT and LLaMA, checked against count_trainable -----------
    *[
        C(
            f"prepare-{arch}-{method}",
            "prepare",
            prepared_matches_count(arch, method),
            correct(lambda r: r[0] == r[1], "trainable == count_trainable"),
        )
        for arch in ("bert", "llama")
        for method in METHODS
        if not (arch == "bert" and method == "prefix") and (arch, method) != ("llama", "bitfit")
    ],
    C(
        "prepare-bert-prefix",
        "prepare",
        prepare_fresh("bert", "prefix"),
        error(NotImplementedError, ["prefix", "decoder"]),
    ),
    *[
        C(
            f"prepare-llama-cls-{method}",
            "prepare",
            llama_cls(method),
            correct(
                lambda r: r[0] and r[1] and r[2] == (4, 2), "the score head trains, logits (4, 2)"
            ),
        )
        for method in ("lora", "ia3", "adapters", "bitfit", "probe", "norms", "loretta_adp", "full")
    ],
    C(
        "prepare-unknown-method",
        "prepare",
        prepare_fresh("bert", "bogus"),
        error(ValueError, ["bogus"]),
    ),
    C(
        "prepare-lora-r-zero",
        "prepare",
        prepare_fresh("bert", "lora", r=0),
        error(ValueError, ["r", "0"]),
    ),
    C(
        "prepare-lora-unknown-hp",
        "prepare",
        prepare_fresh("bert", "lora", bogus_hp=1),
        error(BAD_ARG, ["bogus_hp"]),
    ),
    C(
        "prepare-adapters-bottleneck-zero",
        "prepare",
        prepare_fresh("bert", "adapters", bottleneck=0),
        error(ValueError, ["bottleneck", "0"]),
    ),
    C(
        "prepare-bitfit-unknown-hp",
        "prepare",
        prepare_fresh("bert", "bitfit", foo=1),
        error(BAD_ARG, ["foo"]),
    ),
    C(
        "prepare-full-ignores-r",
        "prepare",
        prepare_fresh("bert", "full", r=8),
        error(BAD_ARG, ["r"]),
    ),
    C(
        "prepare-rep-rank-zero",
        "prepare",
        prepare_fresh("bert", "loretta_rep", tt_rank=0),
        error(ValueError, ["tt_rank", "0"]),
    ),
    C(
        "prepare-rep-method-twice",
        "prepare",
        prepare_fresh("bert", "loretta_rep", method="adp"),
        error(BAD_ARG, ["method"]),
    ),
    C(
        "prepare-llama-bitfit-trains-nothing",
        "prepare",
        prepare_fresh("llama", "bitfit"),
        either(
            error(ValueError, ["bias"]), correct(lambda m: n_trainable(m) > 0, "something to train")
        ),
    ),
    C(
        "prepare-plain-module",
        "prepare",
        keeps(lambda: nn.Sequential(nn.Linear(4, 4)), lambda m: lx.prepare(m, "lora")),
        error(ValueError, ["target_modules"]),
    ),
    C(
        "prepare-twice",
        "prepare",
        keeps(lambda: lx.prepare(tiny("bert"), "lora"), lambda m: lx.prepare(m, "lora")),
        error(ValueError, ["already"]),
    ),
]
