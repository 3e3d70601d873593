"""Trainable-parameter budgets, counted from configs: the counts, and the table beside the paper.

- :mod:`.count`: :func:`count_trainable`, :func:`count_breakdown`, :func:`model_spec`,
  :func:`tt_params`;
- :mod:`.report`: :func:`budget_table` and its printable :class:`BudgetTable`.

The paper's printed figures live in :mod:`loretta_explore.paper`, number formatting in
:mod:`loretta_explore.units`, the architectures and methods in their registries.
"""

from ..methods import METHODS
from ..paper import PAPER_FIGURES, PAPER_NOTES
from ..units import compare_figure, human_bytes
from .count import count_breakdown, count_trainable, model_spec, tt_params
from .report import BudgetTable, budget_table, format_table

__all__ = [
    "METHODS",
    "PAPER_FIGURES",
    "PAPER_NOTES",
    "BudgetTable",
    "budget_table",
    "compare_figure",
    "count_breakdown",
    "count_trainable",
    "format_table",
    "human_bytes",
    "model_spec",
    "tt_params",
]
