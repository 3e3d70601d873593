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

``result.passed`` and ``result.score`` (a fraction) are for autograders; :data:`EXERCISES` maps
each student function's name to its check.
"""

from __future__ import annotations

from collections.abc import Callable

from .ex1_tt_svd import check_tt_svd
from .ex2_tt_linear_forward import check_tt_linear_forward
from .ex3_budget_formula import check_budget_formula
from .ex4_rep_merge import check_rep_merge
from .harness import CheckFailed, CheckItem, CheckResult

__all__ = [
    "EXERCISES", "CheckFailed", "CheckItem", "CheckResult", "check_budget_formula",
    "check_rep_merge", "check_tt_linear_forward", "check_tt_svd",
]

#: The exercises by name: {student function name: check}, for autograders.
EXERCISES: dict[str, Callable[..., CheckResult]] = {
    "tt_svd": check_tt_svd,
    "tt_linear_forward": check_tt_linear_forward,
    "rep_budget": check_budget_formula,
    "merge_rep": check_rep_merge,
}
