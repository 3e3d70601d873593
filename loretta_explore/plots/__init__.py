"""Figure builders: they draw what the rest of the kit returns, and compute almost nothing.

Each static builder returns a matplotlib :class:`~matplotlib.figure.Figure`, sized for a notebook
at 100% zoom (7.5 in at 100 dpi, text at 9 pt or more) and released from pyplot, so Jupyter shows
it once, when it is a cell's value or passed to ``display``, and a widget can redraw a hundred
times without piling figures up. Functions that draw one panel take ``ax=`` to draw into your
axes. Nothing here changes matplotlib's global style. Experiments live elsewhere and return
dataclasses that these functions draw: :mod:`loretta_explore.sweeps` (rank sweeps, layouts,
count grids), :mod:`loretta_explore.rep_starts` (rep's three starts).

- tensors: :func:`tt_diagram`, :func:`unfoldings`, :func:`spectra`, :func:`spectra_panels`,
  :func:`error_vs_rank`, :func:`layouts`;
- budgets: :func:`budget_bars`, :func:`budget_overview`;
- results: :func:`training_curves`, :func:`accuracy_vs_params`, :func:`init_comparison_plot`,
  :func:`speed_memory`;
- diagrams (drawn from the architecture records): :func:`block_diagram`, :func:`rep_diagram`;
- ``lx.plots.interactive``: plotly versions where hover, zoom or 3-D teach better (imported on
  first use, so plotly is only loaded when asked for).
"""

from __future__ import annotations

import importlib

from ..paper import PAPER_GLUE_DEBERTA
from ._style import too_small
from .budgets import budget_bars, budget_overview
from .network import tt_diagram
from .ranks import error_vs_rank, layouts, rank_sweep
from .results import (
    PAPER_LABEL_OFFSETS,
    accuracy_vs_params,
    init_comparison_plot,
    speed_memory,
    training_curves,
)
from .spectra import spectra, spectra_limits, spectra_panels, unfoldings

__all__ = [
    "PAPER_GLUE_DEBERTA",
    "PAPER_LABEL_OFFSETS",
    "accuracy_vs_params",
    "block_diagram",
    "budget_bars",
    "budget_overview",
    "error_vs_rank",
    "init_comparison_plot",
    "interactive",
    "layouts",
    "rank_sweep",
    "rep_diagram",
    "speed_memory",
    "spectra",
    "spectra_limits",
    "spectra_panels",
    "too_small",
    "training_curves",
    "tt_diagram",
    "unfoldings",
]


def __getattr__(name: str):
    if name == "interactive":  # plotly is imported only when an interactive chart is asked for
        return importlib.import_module(f"{__name__}.interactive")
    if name in ("block_diagram", "rep_diagram"):  # diagrams.py uses this package's style
        return getattr(importlib.import_module("..diagrams", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
