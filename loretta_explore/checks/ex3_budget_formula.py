"""Exercise 3: LoRETTA_rep's trainable parameters, ``rep_budget(model_name, tt_rank) -> int``,
against :func:`loretta_explore.count_trainable` (docs/method.md#counting).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch

from ..budget import budget_table, count_breakdown, count_trainable, model_spec
from ..methods import matches_name
from ..tensorize import resolve_shape
from .harness import CheckResult, Fail, Student, run_cases

__all__ = ['BUDGET_MODELS', 'BUDGET_RANKS', 'check_budget_formula']


#: The models and ranks :func:`check_budget_formula` asks about (every shape is a paper preset).
BUDGET_MODELS = ("deberta-base", "roberta-base", "bert-base-uncased", "llama-2-7b", "llama-2-13b", "llama-2-70b")
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
            out.append((name.split(".")[-1], layer, resolve_shape(site.in_features, b, "paper"),
                        resolve_shape(b, site.out_features, "paper")))
    return out


def _budget_hints(model: str, rank: int, got: int, expected: int) -> str:
    parts = count_breakdown(model, "loretta_rep", tt_rank=rank)
    tt, norms, head = parts.get("tt cores", 0), parts.get("norms", 0), parts.get("tensorized head", 0)
    spec = model_spec(model)
    hidden, layers, encoder = spec.hidden, spec.layers, bool(head)
    rest = expected - tt
    d = got - expected
    known: list[tuple[int, str]] = [
        (-norms, "did you forget the norm parameters? LoRETTA trains every LayerNorm / RMSNorm too (METHOD.md "
                 "sections 2-3): " + ("BERT family: 2 LayerNorms per layer + 1 after the embeddings, each with a "
                                      "weight AND a bias of size hidden" if encoder else
                                      "LLaMA: 2 RMSNorms per layer + the final one, each a weight of size hidden")),
    ]
    if encoder:
        cls = count_breakdown(model, "loretta_rep", tt_rank=rank, train_classifier=True)["classifier"]
        pooler_tt = head - hidden
        known += [
            (-norms // 2, "you counted each LayerNorm's weight but not its bias (a LayerNorm has both)"),
            (-head, f"did you forget the tensorized pooler? Encoders train a fresh TT layer in place of the "
                    f"{hidden}x{hidden} pooler dense (shape [12, 8, 8, 8, 8, 12] for 768) plus its bias of "
                    f"{hidden} (METHOD.md section 2)"),
            (-hidden, f"off by exactly {hidden:,}: the tensorized pooler's bias (it keeps a dense bias of size hidden)"),
            (-pooler_tt, "you counted the pooler's bias but not its TT cores: the pooler is a TT layer "
                         "(shape [12, 8, 8, 8, 8, 12] for 768) with the same rank"),
            (hidden * hidden + hidden - head, "you counted the pooler as a dense layer; LoRETTA replaces it by a "
                                              "TT layer (+ bias), TT(pooler shape, r) + hidden"),
            (cls, f"off by exactly {cls:,} = the final classifier: in the paper's counts LoRETTA_rep keeps the "
                  f"classifier frozen (METHOD.md section 3), so don't count it"),
            (-(norms + head), "you forgot both the LayerNorms and the tensorized pooler"),
        ]
    else:
        known.append((norms, "RMSNorm has a weight but no bias: count hidden per norm, not 2 * hidden"))
    known.append((-tt, "you forgot the TT cores of A and B themselves"))

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
            (sum(train(a, rank) + train(bs, rank) for _, _, a, bs in sites),
             f"you used rank {rank} at the ends of the train too: the boundary ranks are r_0 = r_d = 1, so "
             f"TT(shape, r) = sum_i r_(i-1) k_i r_i with ranks [1, r, ..., r, 1]"),
            (sum(train(a) + train(bs) for _, i, a, bs in sites if i == 0),
             f"you counted one layer only: multiply the per-layer count by the number of layers ({layers})"),
            (sum(train(a) for _, _, a, _ in sites), "you counted A (in -> b) but not B (b -> out): each target "
                                                    "has both, each one TT layer"),
            (sum(train(bs) for _, _, _, bs in sites), "you counted B (b -> out) but not A (in -> b): each target "
                                                      "has both, each one TT layer"),
            (sum(math.prod(a) + math.prod(bs) for _, _, a, bs in sites),
             "you counted A and B as dense matrices (like LoRA); each is a TT layer with "
             "sum_i r_(i-1) k_i r_i parameters"),
        ]
        if len({t for t, _, _, _ in sites}) > 1:
            alternatives.append((sum(train(a) + train(bs) for t, _, a, bs in sites if t == first),
                                 f"you counted only {first}: LoRETTA_rep adapts every target of each layer "
                                 f"({', '.join(dict.fromkeys(t for t, _, _, _ in sites))})"))
        known += [(alt + rest - expected, hint) for alt, hint in alternatives]
    for diff, hint in known:
        if diff != 0 and d == diff:
            return hint
    parts_text = "TT cores of A and B (every target, every layer) + norms" + (" + the tensorized pooler (TT + bias)"
                                                                            if encoder else "")
    return f"the count is {parts_text}; compute each part on its own and compare with the formula in METHOD.md section 5"


def _budget_case(model: str):
    def case(student: Student) -> str:
        lines = []
        for rank in BUDGET_RANKS:
            expected = count_trainable(model, "loretta_rep", tt_rank=rank)
            raw = student(model, rank)
            if isinstance(raw, torch.Tensor) and raw.numel() == 1:
                raw = raw.item()
            whole = isinstance(raw, numbers.Integral) or (isinstance(raw, numbers.Real) and float(raw).is_integer())
            if isinstance(raw, bool) or not whole:
                raise Fail(f"rep_budget({model!r}, {rank}) returned {raw!r}; a parameter count is a whole number (int)")
            got = int(raw)
            if got != expected:
                raise Fail(f"tt_rank={rank}: expected {expected:,} vs yours {got:,} (off by {got - expected:+,}): "
                            + _budget_hints(model, rank, got, expected))
            lines.append(f"r={rank}: {expected:,}")
        return "expected vs yours: " + ", ".join(lines) + ": match"

    return case


def check_budget_formula(student_fn: Callable, *, raise_on_fail: bool = False) -> CheckResult:
    """Check ``student_fn(model_name, tt_rank) -> int``: LoRETTA_rep's trainable parameters.

    Compared with :func:`loretta_explore.count_trainable` (method "loretta_rep", the paper's
    placement and shapes, METHOD.md section 5) on every model of :data:`BUDGET_MODELS` at ranks
    :data:`BUDGET_RANKS`. A wrong count is matched against typical mistakes: forgotten norms
    (or their biases), pooler, classifier counted, boundary ranks r instead of 1, one layer only,
    A or B only, one target only, dense A and B. Calling ``lx.count_trainable`` (or the budget
    table) inside the answer fails the case.
    """
    cases = [(f"{m} (LoRETTA_rep, ranks {', '.join(map(str, BUDGET_RANKS))})", _budget_case(m)) for m in BUDGET_MODELS]
    forbidden = {count_trainable.__code__: "lx.count_trainable", count_breakdown.__code__: "count_breakdown",
                 budget_table.__code__: "lx.budget_table"}
    return run_cases("rep_budget", student_fn, cases, forbidden, raise_on_fail)
