"""Hostile inputs to lx.count_trainable and lx.budget_table.

Unknown models, methods and hyperparameters, absurd values.
"""

from __future__ import annotations

import numpy as np
from torch import nn

import loretta_explore as lx

from .spec import BAD_ARG, Case, correct, either, error
from .tools import n_trainable, tiny

GROUP = "budget/methods/baselines"
LLAMA = "llama-2-7b"


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def count(*a, **k):
    return lambda: lx.count_trainable(*a, **k)


def table(*a, **k):
    return lambda: lx.budget_table(*a, **k)


METHODS = ("full", "lora", "adapters", "prefix", "ia3", "bitfit", "loretta_adp", "loretta_rep")


CASES = [
    # -- count_trainable ---------------------------------------------------------------------------
    C(
        "count-llama-rep",
        "count_trainable",
        count(LLAMA, "loretta_rep"),
        correct(lambda n: n == 507904, "507,904 (docstring)"),
    ),
    C(
        "count-deberta-adp",
        "count_trainable",
        count("deberta-base", "loretta_adp", tt_rank=5),
        correct(lambda n: n == 99034, "99,034 (docstring)"),
    ),
    C(
        "count-unknown-model",
        "count_trainable",
        count("gpt-5", "lora"),
        error(ValueError, ["gpt-5"]),
    ),
    C(
        "count-model-none",
        "count_trainable",
        count(None, "lora"),
        error(BAD_ARG, ["model", "None"]),
    ),
    C("count-model-int", "count_trainable", count(42, "lora"), error(BAD_ARG, ["model", "int"])),
    C(
        "count-unknown-method",
        "count_trainable",
        count(LLAMA, "bogus"),
        error(ValueError, ["bogus"]),
    ),
    C(
        "count-method-none",
        "count_trainable",
        count(LLAMA, None),
        error(BAD_ARG, ["method", "None"]),
    ),
    C(
        "count-lora-r-zero",
        "count_trainable",
        count(LLAMA, "lora", r=0),
        error(ValueError, ["r", "0"]),
    ),
    C(
        "count-lora-r-negative",
        "count_trainable",
        count(LLAMA, "lora", r=-1),
        error(ValueError, ["-1"]),
    ),
    C(
        "count-lora-r-float",
        "count_trainable",
        count(LLAMA, "lora", r=2.5),
        error(BAD_ARG, ["r", "2.5"]),
    ),
    C(
        "count-lora-r-huge",
        "count_trainable",
        count(LLAMA, "lora", r=10**6),
        error(ValueError, ["1000000"]),
    ),
    C(
        "count-rank-zero",
        "count_trainable",
        count(LLAMA, "loretta_rep", tt_rank=0),
        error(ValueError, ["tt_rank", "0"]),
    ),
    C(
        "count-rank-bool",
        "count_trainable",
        count(LLAMA, "loretta_rep", tt_rank=True),
        error(BAD_ARG, ["tt_rank", "True"]),
    ),
    C(
        "count-rank-numpy",
        "count_trainable",
        count(LLAMA, "loretta_rep", tt_rank=np.int64(8)),
        correct(lambda n: n == 507904, "the same as tt_rank=8"),
    ),
    C(
        "count-rank-huge",
        "count_trainable",
        count(LLAMA, "loretta_rep", tt_rank=100_000),
        either(
            error(ValueError, ["tt_rank"]),
            correct(lambda n: n < 6.8e9, "no more than the model's own parameters"),
        ),
    ),
    C(
        "count-bottleneck-zero",
        "count_trainable",
        count(LLAMA, "loretta_adp", bottleneck=0),
        error(ValueError, ["bottleneck", "0"]),
    ),
    C(
        "count-bottleneck-huge",
        "count_trainable",
        count(LLAMA, "adapters", bottleneck=10**6),
        error(ValueError, ["bottleneck", "1000000"]),
    ),
    C(
        "count-unknown-hyperparameter",
        "count_trainable",
        count(LLAMA, "lora", foo=1),
        error(ValueError, ["foo"]),
    ),
    C(
        "count-hp-of-other-method",
        "count_trainable",
        count(LLAMA, "lora", tt_rank=5),
        error(ValueError, ["tt_rank"]),
    ),
    C(
        "count-target-nonexistent",
        "count_trainable",
        count(LLAMA, "loretta_rep", target_modules=["nonexistent"]),
        error(ValueError, ["nonexistent"]),
    ),
    C(
        "count-target-empty",
        "count_trainable",
        count(LLAMA, "loretta_rep", target_modules=[]),
        error(ValueError, ["target_modules"]),
    ),
    C(
        "count-placement-bogus",
        "count_trainable",
        count(LLAMA, "loretta_adp", target_modules={"mlp.down_proj": "sideways"}),
        error(ValueError, ["sideways"]),
    ),
    C(
        "count-tt-shapes-bad",
        "count_trainable",
        count(LLAMA, "loretta_rep", tt_shapes={(4096, 16): [5, 5]}),
        error(ValueError, ["product"]),
    ),
    C(
        "count-head-bogus",
        "count_trainable",
        count("deberta-base", "loretta_rep", head="bogus"),
        error(ValueError, ["head", "bogus"]),
    ),
    C(
        "count-num-labels-zero",
        "count_trainable",
        count("deberta-base", "lora", num_labels=0),
        error(ValueError, ["num_labels", "0"]),
    ),
    C(
        "count-num-labels-negative",
        "count_trainable",
        count("deberta-base", "lora", num_labels=-3),
        error(ValueError, ["num_labels", "-3"]),
    ),
    C(
        "count-task-bogus",
        "count_trainable",
        count(LLAMA, "lora", task="bogus"),
        error(ValueError, ["task", "bogus"]),
    ),
    C(
        "count-encoder-causal",
        "count_trainable",
        count("deberta-base", "lora", task="causal-lm"),
        error(ValueError, ["encoder"]),
    ),
    C(
        "count-prefix-zero",
        "count_trainable",
        count(LLAMA, "prefix", prefix_tokens=0),
        error(ValueError, ["prefix_tokens", "0"]),
    ),
    C(
        "count-train-norms-string",
        "count_trainable",
        count(LLAMA, "lora", train_norms="yes"),
        error(ValueError, ["train_norms"]),
    ),
    C(
        "count-tiny-model-rep",
        "count_trainable",
        lambda: (
            lx.count_trainable(tiny("bert"), "loretta_rep", tt_rank=2, bottleneck=4),
            n_trainable(
                lx.get_loretta_model(tiny("bert"), lx.LorettaConfig(tt_rank=2, bottleneck=4))
            ),
        ),
        correct(lambda r: r[0] == r[1], "the count of the model get_loretta_model builds"),
    ),
    C(
        "count-plain-module",
        "count_trainable",
        count(nn.Linear(4, 4), "lora"),
        error(ValueError, ["Linear"]),
    ),
    # -- budget_table ------------------------------------------------------------------------------
    C(
        "table-llama",
        "budget_table",
        table(LLAMA),
        correct(lambda t: [r["method"] for r in t] == list(METHODS), "8 rows"),
    ),
    C(
        "table-method-string",
        "budget_table",
        table(LLAMA, methods="lora"),
        correct(lambda t: len(t) == 1, "one row"),
    ),
    C(
        "table-unknown-method",
        "budget_table",
        table(LLAMA, methods=["bogus"]),
        error(ValueError, ["bogus"]),
    ),
    C("table-no-methods", "budget_table", table(LLAMA, methods=[]), error(ValueError, ["methods"])),
    C(
        "table-dtype-bogus",
        "budget_table",
        table(LLAMA, dtype="float128"),
        error(ValueError, ["float128"]),
    ),
    C(
        "table-rank-zero",
        "budget_table",
        table(LLAMA, tt_rank=0),
        error(ValueError, ["tt_rank", "0"]),
    ),
    C("table-lora-r-zero", "budget_table", table(LLAMA, r=0), error(ValueError, ["r", "0"])),
    C(
        "table-unknown-hyperparameter",
        "budget_table",
        table(LLAMA, foo=1),
        error(ValueError, ["foo"]),
    ),
    C("table-unknown-model", "budget_table", table("gpt-5"), error(ValueError, ["gpt-5"])),
    C(
        "table-per-method-not-dict",
        "budget_table",
        table(LLAMA, lora="r=16"),
        error(BAD_ARG, ["lora"]),
    ),
    C(
        "table-per-method-bad",
        "budget_table",
        table(LLAMA, lora={"r": 0}),
        error(ValueError, ["r", "0"]),
    ),
    C(
        "table-no-lora-row",
        "budget_table",
        table(LLAMA, methods=["bitfit"]),
        correct(lambda t: len(t) == 1 and t[0]["count"] == 0, "BitFit on LLaMA: 0, with a note"),
    ),
]
