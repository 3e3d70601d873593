"""Figures of parameter budgets: one model's methods as bars, every model's methods as dots.

They draw counts they are given (rows of :func:`~loretta_explore.budget.budget_table`, or
``{model: {method: count}}``); counting lives in :mod:`loretta_explore.budget`
(docs/method.md#counting).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from matplotlib.figure import Figure

from ..budget import budget_table
from ..units import human_count, parse_figure
from ._style import BASELINE, LORETTA, finish, new_figure

__all__ = ["budget_bars", "budget_overview"]


def budget_bars(rows, log: bool = True, ax=None, title: str | None = None) -> Figure:
    """Trainable parameters per method as horizontal bars, the paper's printed figures marked.

    Why: counts span five orders of magnitude (6.7B for full fine-tuning of LLaMA-2-7B, 0.5M for
    LoRETTA_rep), so only a log axis shows them side by side (docs/method.md#counting).

    Parameters
    ----------
    rows : rows of :func:`~loretta_explore.budget.budget_table` (dicts with "method", "count",
        optionally "paper"). A model name still works but is deprecated: the figure should draw
        counts, not make them.
    log : bool
        Log-scale x axis (default).
    title : str, optional
        Default: the table's model name.
    """
    if isinstance(rows, str):
        warnings.warn(
            "budget_bars(model_name) counts the model itself; pass the rows instead: "
            f"budget_bars(lx.budget_table({rows!r}))",
            DeprecationWarning,
            stacklevel=2,
        )
        title, rows = title or rows, budget_table(rows)
    title = title if title is not None else getattr(rows, "model", "")
    rows = list(rows)
    if not rows:
        raise ValueError(
            "budget_bars needs rows with 'method' and 'count'; e.g. "
            "budget_bars(lx.budget_table('llama-2-7b'))"
        )
    fig, ax = new_figure(ax, height=0.36 * len(rows) + 1.3)
    names = [r["method"] for r in rows][::-1]
    counts = [r["count"] for r in rows][::-1]
    smallest = min([c for c in counts if c > 0], default=1)
    colors = [LORETTA if n.startswith("loretta") else BASELINE for n in names]
    ax.barh(names, [max(c, 0) for c in counts], color=colors, alpha=0.85, gid="bar")
    printed = [
        (float(parse_figure(r["paper"])), i) for i, r in enumerate(rows[::-1]) if r.get("paper")
    ]
    if printed:
        ax.scatter(
            [p for p, _ in printed],
            [i for _, i in printed],
            marker="D",
            s=30,
            color="black",
            zorder=3,
            label="the paper's printed figure",
            gid="paper",
        )
        ax.legend(fontsize=9, loc="lower right")
    marks = dict((i, p) for p, i in printed)
    for i, c in enumerate(counts):  # the count, right of the bar and of the paper's mark
        ax.annotate(
            human_count(c) if c else "0 (nothing to train)",
            (max(c, marks.get(i, 0), smallest / 3), i),
            textcoords="offset points",
            xytext=(6, 0),
            va="center",
            fontsize=9,
        )
    if log:
        ax.set_xscale("log")
        ax.set_xlim(smallest / 3, max(counts) * 40)
        ax.minorticks_off()  # ~90 minor ticks over 8 decades: half the drawing time of a widget update
    ax.set_xlabel("trainable parameters" + (" (log scale)" if log else ""))
    ax.set_title(f"trainable parameters: {title}" if title else "trainable parameters", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    for label in ax.get_yticklabels():
        if label.get_text().startswith("loretta"):
            label.set_color(LORETTA)
    return finish(fig)


_MARKERS = "osD^v<>Ph*"


def budget_overview(counts: Mapping[str, Mapping[str, int]], ax=None) -> Figure:
    """Every method (rows) on every model (one marker each), trainable parameters on a log axis.

    Why: one readable figure instead of a grid of small bar charts: for each method the markers
    show how its count grows with the model, and the LoRETTA rows sit far to the left of LoRA's
    and the adapters' on every model (docs/method.md#counting). Zero counts (BitFit on LLaMA,
    which has no biases) are left out and named in the title.

    Parameters
    ----------
    counts : {model: {method: count}}, e.g. ``{m: {k: lx.count_trainable(m, k) for k in lx.METHODS}
        for m in lx.REFERENCE_MODELS}``
    """
    models = list(counts)
    methods = list(dict.fromkeys(m for row in counts.values() for m in row))
    if not models or not methods:
        raise ValueError("budget_overview needs {model: {method: count}}")
    fig, ax = new_figure(ax, height=0.42 * len(methods) + 2.2)
    zeros = []
    for j, model in enumerate(models):
        pts = [(counts[model][m], i) for i, m in enumerate(methods) if m in counts[model]]
        zeros += [f"{m} on {model}" for m in methods if counts[model].get(m, 1) == 0]
        pts = [(c, i) for c, i in pts if c > 0]
        ax.scatter(
            [c for c, _ in pts],
            [i + (j - (len(models) - 1) / 2) * 0.07 for _, i in pts],
            marker=_MARKERS[j % len(_MARKERS)],
            s=36,
            color=f"C{j % 10}",
            alpha=0.85,
            edgecolor="black",
            linewidth=0.4,
            label=model,
            zorder=3,
        )
    ax.set_yticks(range(len(methods)), methods)
    for label in ax.get_yticklabels():
        if label.get_text().startswith("loretta"):
            label.set_color(LORETTA)
            label.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (log scale)")
    title = "trainable parameters of every method on every model"
    if zeros:
        title += f"\n(zero, not drawn: {', '.join(zeros[:3])}{' ...' if len(zeros) > 3 else ''})"
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=4, frameon=False)
    return finish(fig)
