"""Hostile inputs to lx.train.

Budgets, non-finite learning rates, NaN cores, wrong labels, corrupt files, devices.
"""

from __future__ import annotations

import math

import torch

import loretta_explore as lx

from .spec import BAD_ARG, Case, correct, either, error
from .tools import (
    corrupt_line,
    empty,
    relabel,
    tiny,
    tokenizer,
    with_files,
)

GROUP = "data/training"
QUICK = dict(
    max_steps=2, batch_size=4, max_eval_examples=4, progress=False, device="cpu", max_length=32
)


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def model(**k):
    m = lx.prepare(tiny("bert"), "loretta_rep", tt_rank=2, bottleneck=4, **k)
    return m


def train(edit=None, make=model, **k):
    return with_files(
        lambda: lx.train(make(), "sentiment", tokenizer=tokenizer(), **(QUICK | k)), edit
    )


def finite_run(r) -> bool:
    losses = [h["loss"] for h in r.history if "loss" in h]
    return bool(losses) and all(math.isfinite(v) for v in losses)


def nan_cores():
    m = model()
    with torch.no_grad():
        for n, p in m.named_parameters():
            if ".cores." in n and p.requires_grad:
                p.fill_(float("nan"))
                break
    return m


def ran(steps):
    return correct(
        lambda r: r.steps == steps and finite_run(r), f"{steps} steps with finite losses"
    )


CASES = [
    # -- train: budgets ----------------------------------------------------------------------------
    C("train-two-steps", "train", train(), ran(2)),
    C("train-max-steps-zero", "train", train(max_steps=0), error(ValueError, ["max_steps", "0"])),
    C(
        "train-max-steps-negative",
        "train",
        train(max_steps=-5),
        error(ValueError, ["max_steps", "-5"]),
    ),
    C("train-max-steps-float", "train", train(max_steps=2.5), error(BAD_ARG, ["max_steps", "2.5"])),
    C(
        "train-epochs-zero",
        "train",
        train(max_steps=None, epochs=0),
        error(ValueError, ["epochs", "0"]),
    ),
    C(
        "train-epochs-negative",
        "train",
        train(max_steps=None, epochs=-1),
        error(ValueError, ["epochs", "-1"]),
    ),
    C(
        "train-epochs-nan",
        "train",
        train(max_steps=None, epochs=float("nan")),
        error(ValueError, ["epochs", "nan"]),
    ),
    C("train-epochs-fraction", "train", train(max_steps=None, epochs=0.5, batch_size=4), ran(2)),
    C(
        "train-eval-examples-zero",
        "train",
        train(max_eval_examples=0),
        error(ValueError, ["max_eval_examples", "0"]),
    ),
    C(
        "train-eval-examples-negative",
        "train",
        train(max_eval_examples=-1),
        error(ValueError, ["max_eval_examples", "-1"]),
    ),
    C(
        "train-batch-size-zero",
        "train",
        train(batch_size=0),
        error(ValueError, ["batch_size", "0"]),
    ),
    C("train-log-every-zero", "train", train(log_every=0), error(ValueError, ["log_every", "0"])),
    C(
        "train-eval-every-negative",
        "train",
        train(eval_every=-1),
        error(ValueError, ["eval_every", "-1"]),
    ),
    C(
        "train-warmup-above-one",
        "train",
        train(warmup_ratio=2.0),
        error(ValueError, ["warmup_ratio", "2.0"]),
    ),
    C(
        "train-warmup-negative",
        "train",
        train(warmup_ratio=-0.5),
        error(ValueError, ["warmup_ratio", "-0.5"]),
    ),
    C(
        "train-max-length-zero",
        "train",
        train(max_length=0),
        error(ValueError, ["max_length", "0"]),
    ),
    # -- train: optimisation -----------------------------------------------------------------------
    C(
        "train-lr-inf",
        "train",
        train(learning_rate=float("inf")),
        error(ValueError, ["learning_rate", "inf"]),
    ),
    C(
        "train-lr-nan",
        "train",
        train(learning_rate=float("nan")),
        error(ValueError, ["learning_rate", "nan"]),
    ),
    C(
        "train-lr-negative",
        "train",
        train(learning_rate=-1e-3),
        error(ValueError, ["learning", "-0.001"]),
    ),
    C(
        "train-lr-huge-diverges",
        "train",
        train(learning_rate=1e12, max_steps=4),
        either(error((ValueError, FloatingPointError, RuntimeError), ["nan"]), ran(4)),
    ),
    C(
        "train-weight-decay-negative",
        "train",
        train(weight_decay=-1.0),
        error(ValueError, ["weight_decay", "-1"]),
    ),
    C(
        "train-nan-cores",
        "train",
        train(make=nan_cores),
        error((ValueError, FloatingPointError, RuntimeError), ["nan"]),
    ),
    C(
        "train-nothing-trainable",
        "train",
        train(make=lambda: tiny("bert").requires_grad_(False)),
        error(ValueError, ["trainable"]),
    ),
    C(
        "train-callback-raises",
        "train",
        train(callbacks=[lambda record: (_ for _ in ()).throw(RuntimeError("callback said no"))]),
        error(RuntimeError, ["callback said no"]),
    ),
    # -- train: data and devices -------------------------------------------------------------------
    C(
        "train-labels-out-of-range",
        "train",
        train(relabel(lambda y: 5)),
        error(ValueError, ["label", "5"]),
    ),
    C(
        "train-labels-negative",
        "train",
        train(relabel(lambda y: -1)),
        error(ValueError, ["label", "-1"]),
    ),
    C(
        "train-string-labels",
        "train",
        train(relabel(lambda y: ["negative", "positive"][y])),
        either(error(ValueError, ["label", "positive"]), ran(2)),
    ),
    C(
        "train-empty-train-file",
        "train",
        train(empty()),
        error(ValueError, ["empty"]),
        isolate=True,
    ),
    C(
        "train-corrupt-validation",
        "train",
        train(corrupt_line("validation")),
        error(ValueError, ["validation.jsonl", "line 3"]),
    ),
    C(
        "train-unknown-task",
        "train",
        lambda: lx.train(model(), "bogus", tokenizer=tokenizer(), **QUICK),
        error(ValueError, ["bogus"]),
    ),
    C(
        "train-no-tokenizer",
        "train",
        with_files(lambda: lx.train(model(), "sentiment", **QUICK)),
        error(ValueError, ["tokenizer"]),
    ),
    C(
        "train-device-bogus",
        "train",
        train(device="bogus"),
        error((ValueError, RuntimeError), ["bogus"]),
    ),
    C(
        "train-device-cuda-absent",
        "train",
        train(device="cuda" if not torch.cuda.is_available() else "cuda:99"),
        error((ValueError, RuntimeError), ["cuda"]),
    ),
    C(
        "train-causal-on-sentiment",
        "train",
        train(make=lambda: lx.prepare(tiny("llama"), "loretta_rep", tt_rank=2, bottleneck=4)),
        error(ValueError, ["classif"]),
    ),
    C(
        "train-three-labels-head",
        "train",
        train(
            make=lambda: lx.prepare(
                tiny("bert", num_labels=3), "loretta_rep", tt_rank=2, bottleneck=4
            )
        ),
        either(error(ValueError, ["num_labels", "3"]), ran(2)),
    ),
]
