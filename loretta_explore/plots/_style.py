"""What every figure of the kit shares: its size, resolution, fonts and colours.

Why one place: a figure must be readable in a notebook at 100% zoom. JupyterLab and Colab show a
PNG at its pixel size, so a 7.5 in figure at 100 dpi is 750 px wide (a notebook's output area is
about 800-1100 px), and 9 pt text is 12.5 px. Builders set these sizes on their own artists and
never change matplotlib's global style.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.text import Text

WIDTH = 7.5  # inches
DPI = 100
MIN_FONT = 9.0  # points: tick labels, legends, annotations
LABEL_FONT = 10.0  # axis labels
TITLE_FONT = 11.0
LORETTA = "C3"  # LoRETTA in red, every baseline in one calm colour
BASELINE = "C0"
PAPER = "0.55"  # the paper's points, grey
INPUT, OUTPUT = "#1f77b4", "#2ca02c"  # legs that carry the input index, the output index


def new_figure(
    ax=None, nrows: int = 1, ncols: int = 1, height: float = 3.4, width: float = WIDTH, **subplots
):
    """A new figure (released from pyplot, so Jupyter shows it once) or the caller's axes.

    Returns (figure, axes) like ``plt.subplots``.
    """
    if ax is not None:
        return ax.figure, ax
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width, height), dpi=DPI, layout="constrained", **subplots
    )
    plt.close(fig)
    return fig, axes


def finish(fig: Figure) -> Figure:
    """Make every text of `fig` at least MIN_FONT points (tick labels too) and return it.

    Tick labels are set through ``tick_params`` so ticks that matplotlib creates later (on
    zoom or redraw) get the size too.
    """
    for ax in fig.axes:
        ax.tick_params(axis="both", which="both", labelsize=max(MIN_FONT, _size(ax, "x")))
        ax.xaxis.label.set_fontsize(max(LABEL_FONT, ax.xaxis.label.get_fontsize()))
        ax.yaxis.label.set_fontsize(max(LABEL_FONT, ax.yaxis.label.get_fontsize()))
        if ax.get_title():
            ax.title.set_fontsize(max(TITLE_FONT - 0.5, ax.title.get_fontsize()))
    for text in fig.findobj(Text):
        if text.get_fontsize() < MIN_FONT:
            text.set_fontsize(MIN_FONT)
    return fig


def _size(ax, which: str) -> float:
    ticks = ax.get_xticklabels() if which == "x" else ax.get_yticklabels()
    return ticks[0].get_fontsize() if ticks else MIN_FONT


def too_small(fig: Figure, minimum: float = MIN_FONT) -> list[str]:
    """Texts of `fig` (drawn first, so tick labels exist) smaller than `minimum` points.

    The tests use it; a person can too: ``too_small(fig)`` should be empty.
    """
    fig.canvas.draw()
    return [
        f"{t.get_text()!r} at {t.get_fontsize():.1f} pt"
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < minimum
    ]
