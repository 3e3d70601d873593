"""Self-checks for the exercises in ``notebooks/exercises``: friendly feedback, autograder-ready.

One check per exercise, each in its own module, on the harness of :mod:`.harness`:

- :func:`check_tt_svd`: ``tt_svd(x, max_rank) -> list of cores (r_{k-1}, n_k, r_k)``
  (docs/method.md#tt-format);
- :func:`check_tt_linear_forward`: ``tt_linear_forward(x, cores, in_features, out_features) -> x @ W``
  with W (in, out) folded row-major into the train (docs/method.md#layouts);
- :func:`check_budget_formula`: ``rep_budget(model_name, tt_rank) -> int``, LoRETTA_rep's trainable
  parameters (docs/method.md#counting), against :func:`loretta_explore.count_trainable`;
- :func:`check_rep_merge`: ``merge_rep(rep_layer) -> W0 + s * (A_W @ B_W).T`` in nn.Linear's
  (out, in) orientation (docs/method.md#rep), against :meth:`LorettaRepLinear.merge`.

Feedback says PASS or FAIL in words, states each distinct hint once, and shows the code-level
fix only on ``result.show_fix()``. ``result.passed`` and ``result.score`` (a fraction) are for
autograders; :data:`EXERCISES` maps each student function's name to its check. Grading a class:
``loretta-explore grade`` (:mod:`.grading`). The package is lazy (PEP 562): the checks, and torch,
load on first use, so the command line stays quick.
"""

from __future__ import annotations

import importlib

from .catalog import COURSE, Exercise, exercise_named

__all__ = [
    "COURSE",
    "EXERCISES",
    "CheckFailed",
    "CheckItem",
    "CheckResult",
    "Exercise",
    "Hint",
    "check_budget_formula",
    "check_rep_merge",
    "check_tt_linear_forward",
    "check_tt_svd",
    "exercise_named",
]

_LAZY = {
    "check_tt_svd": "ex1_tt_svd",
    "check_tt_linear_forward": "ex2_tt_linear_forward",
    "check_budget_formula": "ex3_budget_formula",
    "check_rep_merge": "ex4_rep_merge",
    "CheckFailed": "feedback",
    "CheckItem": "feedback",
    "CheckResult": "feedback",
    "Hint": "feedback",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name == "EXERCISES":
        #: The exercises by name: {student function name: check}, for autograders.
        value = {ex.function: __getattr__(ex.check) for ex in COURSE}
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
