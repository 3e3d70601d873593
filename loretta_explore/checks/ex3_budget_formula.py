"""Exercise 3: LoRETTA_rep's trainable parameters, ``rep_budget(model_name, tt_rank) -> int``,
against :func:`loretta_explore.count_trainable` (docs/method.md#counting).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch

from ..budget import count as _count
from ..budget import count_breakdown, count_trainable, model_spec
from ..budget import report as _report
from ..methods import matches_name
from ..tensorize import resolve_shape
from .harness import DEFAULT_TIME_LIMIT, CheckResult, Fail, Forbidden, Hint, Student, run_cases
from .watch import take_baseline

__all__ = ["BUDGET_MODELS", "BUDGET_RANKS", "FORBIDDEN", "check_budget_formula"]

#: The library functions an answer must not call (they compute what the student writes).
FORBIDDEN = (
    Forbidden(_count, "count_trainable", "lx.count_trainable"),
    Forbidden(_count, "count_breakdown", "count_breakdown"),
    Forbidden(_count, "count_loretta", "lx.budget.count.count_loretta"),
    Forbidden(_report, "budget_table", "lx.budget_table"),
)


#: The models and ranks :func:`check_budget_formula` asks about (every shape is a paper preset).
BUDGET_MODELS = (
    "deberta-base",
    "roberta-base",
    "bert-base-uncased",
    "llama-2-7b",
    "llama-2-13b",
    "llama-2-70b",
)
BUDGET_RANKS = (5, 8, 2)


def _tt_count(shape, ranks) -> int:
    return sum(ranks[i] * k * ranks[i + 1] for i, k in enumerate(shape))


def _rep_layers(model: str) -> list[tuple[str, int, tuple[int, ...], tuple[int, ...]]]:
    """(target name, layer index, A's TT shape, B's TT shape) of every adapted linear, in order."""
    spec = model_spec(model)
    arch = spec.architecture
    b = arch.rep_bottleneck
    out = []
    for name, site in spec.modules().items():
        if site.kind in ("linear", "conv1d") and any(matches_name(name, p) for p in arch.rep):
            layer = next((int(p) for p in name.split(".") if p.isdigit()), 0)
            out.append(
                (
                    name.split(".")[-1],
                    layer,
                    resolve_shape(site.in_features, b, "paper"),
                    resolve_shape(b, site.out_features, "paper"),
                )
            )
    return out


S = "counting"  # docs/method.md section of this exercise

H_NORMS = Hint(
    "Did you count the norms? LoRETTA_rep trains every LayerNorm / RMSNorm besides the TT cores. "
    "How many norms does each model have, and which kind has a bias?",
    S,
    "BERT family: + (2 * layers + 1) * 2 * hidden (2 LayerNorms per layer + 1 after the embeddings, "
    "each a weight and a bias); LLaMA: + (2 * layers + 1) * hidden (2 RMSNorms per layer + the final "
    "one, a weight only)",
)
H_NORM_BIAS = Hint(
    "How many parameter vectors does a LayerNorm have?",
    S,
    "count 2 * hidden per LayerNorm: its weight and its bias",
)
H_RMS_BIAS = Hint(
    "Does an RMSNorm have a bias?", S, "count hidden per RMSNorm (a weight only), not 2 * hidden"
)
H_POOLER = Hint(
    "What happens to an encoder's pooler under LoRETTA_rep? It is replaced by a fresh TT layer, "
    "which trains.",
    S,
    "+ TT(SHAPES[pooler], r) + hidden: the pooler's TT cores and its dense bias",
)
H_POOLER_BIAS = Hint(
    "The tensorized pooler keeps a dense bias: did you count it?", S, "+ hidden (the pooler's bias)"
)
H_POOLER_TT = Hint(
    "The tensorized pooler is a TT layer with the same rank: did you count its cores?",
    S,
    "+ TT(SHAPES[(hidden, hidden)], r)",
)
H_POOLER_DENSE = Hint(
    "Is the pooler dense under LoRETTA_rep? It becomes a TT layer (plus its bias).",
    S,
    "count TT(SHAPES[pooler], r) + hidden instead of hidden * hidden + hidden",
)
H_CLASSIFIER = Hint(
    "What stays frozen in the paper's LoRETTA_rep counts? The final classifier does.",
    S,
    "don't add the classifier's weight and bias",
)
H_NORMS_POOLER = Hint(
    "Two parts are missing: the trainable norms and the tensorized pooler (encoders).",
    S,
    "+ the norms ((2 * layers + 1) * 2 * hidden for BERT) + TT(SHAPES[pooler], r) + hidden",
)
H_CORES = Hint(
    "Where are the TT cores of A and B themselves? They are the heart of the count.",
    S,
    "+ layers * sum over targets of TT(SHAPES[(in, b)], r) + TT(SHAPES[(b, out)], r)",
)
H_BOUNDARY = Hint(
    "Look at the ranks at the two ends of each train: the boundary ranks are 1, not r.",
    S,
    "TT(shape, r) = sum_i r_(i-1) k_i r_i with ranks [1, r, ..., r, 1]",
)
H_ONE_LAYER = Hint(
    "Per layer or for the whole model? Every transformer layer gets its own A and B.",
    S,
    "multiply the per-layer TT count by the number of layers",
)
H_A_ONLY = Hint(
    "Each target gets two TT layers, A (in -> b) and B (b -> out): did you count both?",
    S,
    "per target: TT(SHAPES[(in, b)], r) + TT(SHAPES[(b, out)], r)",
)
H_DENSE = Hint(
    "A and B are TT layers, not dense matrices as in LoRA: count their cores.",
    S,
    "TT(shape, r) = sum_i r_(i-1) k_i r_i instead of in * b + b * out",
)
H_ONE_TARGET = Hint(
    "LoRETTA_rep adapts every target of each layer: did you count all of them?",
    S,
    "sum over every (in, out) in MODELS[name]['targets']",
)
H_GENERIC = Hint(
    "The count has separate parts: the TT cores of A and B (every target, every layer), the norms "
    "and, for encoders, the tensorized pooler (TT cores + bias). Compute each part on its own "
    "and compare with the formula.",
    S,
)
H_WHOLE = Hint(
    "A parameter count is a whole number.", S, "return an int, e.g. int(total); no division with /"
)


def _budget_hint(model: str, rank: int, got: int, expected: int) -> Hint:
    parts = count_breakdown(model, "loretta_rep", tt_rank=rank)
    tt, norms, head = (
        parts.get("tt cores", 0),
        parts.get("norms", 0),
        parts.get("tensorized head", 0),
    )
    spec = model_spec(model)
    hidden, encoder = spec.hidden, bool(head)
    rest = expected - tt
    d = got - expected
    known: list[tuple[int, Hint]] = [(-norms, H_NORMS)]
    if encoder:
        cls = count_breakdown(model, "loretta_rep", tt_rank=rank, train_classifier=True)[
            "classifier"
        ]
        known += [
            (-norms // 2, H_NORM_BIAS),
            (-head, H_POOLER),
            (-hidden, H_POOLER_BIAS),
            (-(head - hidden), H_POOLER_TT),
            (hidden * hidden + hidden - head, H_POOLER_DENSE),
            (cls, H_CLASSIFIER),
            (-(norms + head), H_NORMS_POOLER),
        ]
    else:
        known.append((norms, H_RMS_BIAS))
    known.append((-tt, H_CORES))

    def train(shape, boundary: int = 1) -> int:
        return _tt_count(shape, [boundary] + [rank] * (len(shape) - 1) + [boundary])

    try:
        sites = _rep_layers(model)
        if sum(train(a) + train(bs) for _, _, a, bs in sites) != tt:
            sites = []  # our enumeration disagrees with the library's: no per-layer hints
    except Exception:  # pragma: no cover - hints are a bonus
        sites = []
    if sites:
        first = sites[0][0]
        alternatives = [
            (sum(train(a, rank) + train(bs, rank) for _, _, a, bs in sites), H_BOUNDARY),
            (sum(train(a) + train(bs) for _, i, a, bs in sites if i == 0), H_ONE_LAYER),
            (sum(train(a) for _, _, a, _ in sites), H_A_ONLY),
            (sum(train(bs) for _, _, _, bs in sites), H_A_ONLY),
            (sum(math.prod(a) + math.prod(bs) for _, _, a, bs in sites), H_DENSE),
        ]
        if len({t for t, _, _, _ in sites}) > 1:
            alternatives.append(
                (sum(train(a) + train(bs) for t, _, a, bs in sites if t == first), H_ONE_TARGET)
            )
        known += [(alt + rest - expected, hint) for alt, hint in alternatives]
    for diff, hint in known:
        if diff != 0 and d == diff:
            return hint
    return H_GENERIC


def _budget_case(model: str):
    def case(student: Student) -> str:
        lines = []
        for rank in BUDGET_RANKS:
            expected = count_trainable(model, "loretta_rep", tt_rank=rank)
            raw = student(model, rank)
            if isinstance(raw, torch.Tensor) and raw.numel() == 1:
                raw = raw.item()
            whole = isinstance(raw, numbers.Integral) or (
                isinstance(raw, numbers.Real) and float(raw).is_integer()
            )
            if isinstance(raw, bool) or not whole:
                raise Fail(f"rep_budget({model!r}, {rank}) returned {raw!r}", H_WHOLE)
            got = int(raw)
            if got != expected:
                raise Fail(
                    f"tt_rank={rank}: expected {expected:,} vs yours {got:,} (off by {got - expected:+,})",
                    _budget_hint(model, rank, got, expected),
                )
            lines.append(f"r={rank}: {expected:,}")
        return "expected vs yours: " + ", ".join(lines) + ": match"

    return case


def check_budget_formula(
    student_fn: Callable,
    *,
    raise_on_fail: bool = False,
    time_limit: float | None = DEFAULT_TIME_LIMIT,
) -> CheckResult:
    """Check ``student_fn(model_name, tt_rank) -> int``: LoRETTA_rep's trainable parameters.

    Compared with :func:`loretta_explore.count_trainable` (method "loretta_rep", the paper's
    placement and shapes, docs/method.md#counting) on every model of :data:`BUDGET_MODELS` at ranks
    :data:`BUDGET_RANKS`. A wrong count is matched against typical mistakes: forgotten norms
    (or their biases), pooler, classifier counted, boundary ranks r instead of 1, one layer only,
    A or B only, one target only, dense A and B. Calling ``lx.count_trainable`` (or the budget
    table) inside the answer fails the case. ``raise_on_fail`` and ``time_limit`` (seconds per
    call) work as in :func:`check_tt_svd`.
    """
    cases = [
        (f"{m} (LoRETTA_rep, ranks {', '.join(map(str, BUDGET_RANKS))})", _budget_case(m))
        for m in BUDGET_MODELS
    ]
    return run_cases(
        "rep_budget", student_fn, cases, FORBIDDEN, raise_on_fail, section=S, time_limit=time_limit
    )


take_baseline()  # remember the kit as imported, to notice a later patch of it (watch.py)
