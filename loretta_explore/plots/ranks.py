"""Error against rank, and layouts against parameters: the figures of the sweeps in
:mod:`loretta_explore.sweeps` (docs/method.md#tt-format, #layouts)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..sweeps import LAYOUTS, LayoutSweep, RankSweep, rank_sweeps
from ..sweeps import rank_sweep as _run_sweep
from ._style import LORETTA, finish, new_figure

__all__ = ["error_vs_rank", "layouts", "rank_sweep"]

_FLOOR = 1e-16  # an exact zero error cannot sit on a log axis: drawn at machine precision


def _as_sweeps(data, ranks, shape) -> dict[str, RankSweep]:
    if isinstance(data, RankSweep):
        return {data.label: data}
    if isinstance(data, Mapping) and all(isinstance(v, RankSweep) for v in data.values()):
        return {str(k): v for k, v in data.items()}
    if isinstance(data, (list, tuple)) and data and all(isinstance(v, RankSweep) for v in data):
        return {v.label: v for v in data}
    warnings.warn(
        "error_vs_rank(tensor) runs the sweep itself; pass its result instead: "
        "error_vs_rank(lx.sweeps.rank_sweep(x, ranks)) or, for several tensors, "
        "error_vs_rank(lx.sweeps.rank_sweeps({label: x}, ranks))",
        DeprecationWarning,
        stacklevel=3,
    )
    ranks = range(1, 17) if ranks is None else ranks
    named = dict(data) if isinstance(data, Mapping) else {"tensor": data}
    return rank_sweeps(named, ranks, shape)


def error_vs_rank(sweeps, ranks=None, shape=None) -> Figure:
    """Relative error (left) and parameters (right, log scale) of TT-SVD at each rank.

    Why: the shape of this curve decides whether a tensor is "TT-compressible". Errors that span
    decades (a smooth tensor's fall from 1e-1 to 1e-5) get a log axis; errors that stay within
    one decade (a random matrix's 0.93-1.0) a linear one, where their differences show.

    Parameters
    ----------
    sweeps : RankSweep, {label: RankSweep} or a list of them (:func:`loretta_explore.sweeps.rank_sweep`)
        Passing tensors (and `ranks`, `shape`) still works but is deprecated: the figure should
        not run the experiment.

    Tensors of the same shape cost the same at each rank; their cost curves are drawn once.
    """
    named = _as_sweeps(sweeps, ranks, shape)
    fig, (left, right) = new_figure(ncols=2, height=3.6)
    every = [max(e, _FLOOR) for sweep in named.values() for e in sweep.rel_errors]
    log = max(every) / min(every) > 10
    for i, (label, sweep) in enumerate(named.items()):
        errors = [max(e, _FLOOR) for e in sweep.rel_errors] if log else sweep.rel_errors
        left.plot(sweep.ranks, errors, marker="o", ms=3, color=f"C{i}", label=label)
    costs: dict[tuple, list[str]] = {}
    for label, sweep in named.items():
        costs.setdefault((tuple(sweep.ranks), tuple(sweep.params), sweep.dense), []).append(label)
    dense_seen = set()
    for (rs, params, dense), labels in costs.items():
        same = len(labels) > 1
        label = f"all {len(labels)} (same shape, same cost)" if same else labels[0]
        color = "0.2" if same else f"C{list(named).index(labels[0])}"
        right.plot(rs, params, marker="o", ms=3, color=color, label=label)
        if dense not in dense_seen:
            dense_seen.add(dense)
            right.axhline(
                dense, color="0.45", ls="--", lw=1, label=f"dense tensor: {dense:,} entries"
            )
    left.set(
        xlabel="max TT rank",
        ylabel="relative error" + (" (log)" if log else ""),
        yscale="log" if log else "linear",
    )
    right.set(xlabel="max TT rank", ylabel="TT parameters (log)", yscale="log")
    right.set_ylim(top=max(dense_seen) * 6)
    left.set_title("error of TT-SVD", fontsize=10)
    right.set_title("cost of the train", fontsize=10)
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both" if ax is left and log else "major")
    left.legend(fontsize=9)
    right.legend(fontsize=9, loc="upper left")
    return finish(fig)


_LAYOUT_COLORS = dict(zip(LAYOUTS, (LORETTA, "C0", "C2")))
_STYLES = ("-", "--", ":", "-.")


def layouts(sweeps, ax=None) -> Figure:
    """Relative error against parameters for each layout (colour) and each weight (line style).

    Why: at equal parameter counts, which layout describes a weight best? LoRETTA's flattened
    TT, the TT-matrix and a plain truncated SVD, for one or more weights of the same size
    (docs/method.md#layouts). The y axis fits the data; the dense weight's size is a vertical
    line (beyond it no approximation is a bargain).

    Parameters
    ----------
    sweeps : LayoutSweep or a sequence of them (:func:`loretta_explore.sweeps.layout_sweep`)
    """
    sweeps = [sweeps] if isinstance(sweeps, LayoutSweep) else list(sweeps)
    if not sweeps or not all(isinstance(s, LayoutSweep) for s in sweeps):
        raise ValueError(
            "layouts draws lx.sweeps.layout_sweep(...) results; "
            "e.g. layouts([lx.sweeps.layout_sweep(W, label='pretrained W')])"
        )
    fig, ax = new_figure(ax, height=4.2)
    errors = []
    for i, sweep in enumerate(sweeps):
        for layout in sweep.layouts:
            curve = sweep.curve(layout)
            errors += [p.rel_error for p in curve]
            ax.plot(
                [p.params for p in curve],
                [p.rel_error for p in curve],
                ls=_STYLES[i % 4],
                marker="o" if i == 0 else ".",
                ms=4,
                color=_LAYOUT_COLORS[layout],
                alpha=1.0 if i == 0 else 0.7,
                label=f"{layout}, {sweep.label}",
            )
    dense = sweeps[0].dense
    ax.axvline(dense, color="0.4", lw=1.2, ls="-.")
    low, high = min(errors), max(errors)
    pad = 0.08 * (high - low or 0.1)
    ax.set_ylim(max(0.0, low - pad), high + pad)
    ax.set(
        xscale="log",
        xlabel="parameters (log scale)",
        ylabel="relative error ||W - approx|| / ||W||",
        title=f"a {sweeps[0].in_features} x {sweeps[0].out_features} weight in three layouts",
    )
    ax.grid(alpha=0.3)
    handles = [
        Line2D([], [], color=_LAYOUT_COLORS[name], lw=2, label=name) for name in sweeps[0].layouts
    ]
    handles += [
        Line2D([], [], color="0.3", ls=_STYLES[i % 4], label=s.label) for i, s in enumerate(sweeps)
    ]
    handles.append(Line2D([], [], color="0.4", ls="-.", label=f"dense W: {dense:,} numbers"))
    ax.legend(
        handles=handles,
        fontsize=9,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncols=3,
        frameon=False,
    )
    return finish(fig)


def rank_sweep(x, ranks=range(1, 17), shape=None) -> list[dict]:
    """Deprecated: use :func:`loretta_explore.sweeps.rank_sweep` (a dataclass); rows as before."""
    warnings.warn(
        "lx.plots.rank_sweep moved to lx.sweeps.rank_sweep, which returns a RankSweep "
        "(its .rows() gives these dicts)",
        DeprecationWarning,
        stacklevel=2,
    )
    return _run_sweep(x, ranks, shape).rows()
