"""The table of hostile inputs: bad or unusual inputs to every public entry point.

Each case (see hostile/spec.py) names its entry point and the outcome a careful user expects: a
clear error that names the problem, or a correct result, and nothing of the user's changed on
failure. The cases live in hostile/cases_*.py by entry point; this module gathers them:

- cases_tensorize: lx.factorize, lx.suggest_shape, resolve_shape
- cases_tt_svd, cases_tt_ops: lx.tt_svd; lx.TensorTrain, tt_round, lx.tt_matrix, ranks_for_budget
- cases_ttlinear, cases_rep: lx.TTLinear; lx.TTAdapter, lx.LorettaRepLinear (merge, dtypes, meta)
- cases_config, cases_model: lx.LorettaConfig, lx.get_loretta_model; LorettaModel (disable, merge)
- cases_files: LorettaModel.save_pretrained / from_pretrained with hostile adapter folders
- cases_count, cases_prepare: lx.count_trainable, lx.budget_table; lx.prepare
- cases_tasks, cases_train: lx.load_task, lx.make_loader; lx.train
- cases_cli, cases_widgets, cases_checks: the CLI, lx.widgets at their extremes, lx.checks with
  hostile student functions

Run them all with ``python tests/probe_inputs.py`` (a verdict table), or as tests with
``pytest tests/test_hostile_inputs.py``.
"""

from __future__ import annotations

from hostile import (
    cases_checks,
    cases_cli,
    cases_config,
    cases_count,
    cases_files,
    cases_model,
    cases_prepare,
    cases_rep,
    cases_tasks,
    cases_tensorize,
    cases_train,
    cases_tt_ops,
    cases_tt_svd,
    cases_ttlinear,
    cases_widgets,
)
from hostile.spec import GOOD, OUTCOMES, Case, judge
from hostile.tools import MISSING_PUBLIC, warm_up

MODULES = (
    cases_tensorize,
    cases_tt_svd,
    cases_tt_ops,
    cases_ttlinear,
    cases_rep,
    cases_config,
    cases_model,
    cases_files,
    cases_count,
    cases_prepare,
    cases_tasks,
    cases_train,
    cases_cli,
    cases_widgets,
    cases_checks,
)
CASES: list[Case] = [case for module in MODULES for case in module.CASES]
BY_ID: dict[str, Case] = {case.id: case for case in CASES}

_dupes = sorted({c.id for c in CASES if sum(d.id == c.id for d in CASES) > 1})
assert not _dupes, f"duplicate case ids: {_dupes}"

__all__ = ["BY_ID", "CASES", "GOOD", "MISSING_PUBLIC", "OUTCOMES", "judge", "warm_up"]
