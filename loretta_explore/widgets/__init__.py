"""Interactive UIs for the notebooks: each is a function that returns one ipywidgets container.

Every explorer is an :class:`Explorer` (a VBox) with the same handles, so tests and lessons can
drive it without a browser: ``ui.controls`` (name -> widget), ``ui.readout`` (HTML with the
current numbers), ``ui.output`` (an Output holding the figure), ``ui.state`` (the latest numbers),
``ui.update()``. Figures are static matplotlib PNGs inside the Output widget, so they render in
JupyterLab, classic Notebook and Colab alike. Settings that could freeze a kernel are capped, and
a setting that cannot work says why in the readout.

- shapes and ranks: :func:`shape_explorer`, :func:`rank_explorer`, :func:`shape_candidates`;
- budgets: :func:`budget_explorer`;
- training: :func:`training_dashboard`, :func:`init_comparison`;
- lessons: :func:`quiz` (the recap quizzes), :func:`mode_banner` (which setting made a number).
"""

from __future__ import annotations

from .base import Explorer, show_figure
from .budget import budget_explorer
from .notices import ModeBanner, mode_banner
from .quiz import Quiz, quiz
from .tensors import MAX_DENSE, capped_ranks, rank_explorer, shape_candidates, shape_explorer
from .training import init_comparison, training_dashboard

__all__ = [
    "MAX_DENSE",
    "Explorer",
    "ModeBanner",
    "Quiz",
    "budget_explorer",
    "capped_ranks",
    "init_comparison",
    "mode_banner",
    "quiz",
    "rank_explorer",
    "shape_candidates",
    "shape_explorer",
    "show_figure",
    "training_dashboard",
]
