"""Figure builders: they draw what the rest of the kit returns, and compute almost nothing.

Each function returns a matplotlib :class:`~matplotlib.figure.Figure`. Figures are made with
``plt.subplots`` and then released from pyplot (``plt.close``), so Jupyter shows a figure once,
when it is a cell's value or passed to ``display``, and a widget can redraw a hundred times
without piling figures up. Functions that draw one panel take ``ax=`` to draw into your axes.
Nothing here changes matplotlib's global style. METHOD.md sections are cited where a figure
illustrates one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from .budget import budget_table
from .paper import PAPER_GLUE_DEBERTA
from .tensorize import suggest_shape
from .training import TrainResult
from .tt import TensorTrain, TTMatrix, TTSVDInfo, tt_svd
from .units import human_count, parse_figure

__all__ = ["PAPER_GLUE_DEBERTA", "accuracy_vs_params", "budget_bars", "error_vs_rank", "init_comparison_plot",
           "rank_sweep", "spectra", "training_curves", "tt_diagram"]

_PAPER_LABELS = {"LoRA r=4": (5, -10, "left"), "BitFit": (5, -10, "left"), "LoRETTA_rep": (-6, -3, "right"),
                 "LoRETTA_adp": (0, 7, "center"), "Prompt": (5, -3, "left"), "FT": (-6, 4, "right")}
_LORETTA = "C3"  # LoRETTA in red, every baseline in one calm colour
_BASELINE = "C0"


def _figure(ax=None, ncols: int = 1, figsize=(6.0, 3.2)):
    """A new figure (released from pyplot) or the caller's axes and their figure."""
    if ax is not None:
        return ax.figure, ax
    fig, axes = plt.subplots(1, ncols, figsize=figsize, layout="constrained")
    plt.close(fig)
    return fig, axes


# ---------------------------------------------------------------------------------------------
# Tensor trains (METHOD.md section 1)
# ---------------------------------------------------------------------------------------------

def tt_diagram(shape, ranks=None, ax=None) -> Figure:
    """Draw a tensor train as a tensor network: cores G_k, legs k_k, bonds r_k.

    Why: the picture is the quickest way to see where parameters live. Core k has
    r_{k-1} * k_k * r_k numbers (METHOD.md section 1), so a large leg or a large bond costs.

    Parameters
    ----------
    shape : sequence, TensorTrain or TTMatrix
        Mode sizes (k_1, ..., k_d). An entry (m, n) draws a TT-matrix core with an input leg m
        (up) and an output leg n (down). A TensorTrain / TTMatrix gives shape and ranks.
    ranks : int or sequence, optional
        One internal rank, the d-1 internal ranks or all d+1; None labels bonds symbolically.

    Artists carry gids for tests: circles are ``Circle`` patches, legs and bonds are lines with
    gid "leg" and "bond".
    """
    if isinstance(shape, (TensorTrain, TTMatrix)):
        tt = shape
        ranks = tt.ranks if ranks is None else ranks
        shape = list(zip(tt.in_modes, tt.out_modes)) if isinstance(tt, TTMatrix) else list(tt.shape)
    modes = [tuple(k) if isinstance(k, (tuple, list)) else (int(k),) for k in shape]
    d = len(modes)
    if ranks is not None:
        ranks = [int(ranks)] * (d - 1) if isinstance(ranks, int) else [int(r) for r in ranks]
        ranks = ranks[1:-1] if len(ranks) == d + 1 else ranks
        if len(ranks) != d - 1:
            raise ValueError(f"{d} cores have {d - 1} internal ranks, got {ranks}")
    fig, ax = _figure(ax, figsize=(1.25 * d + 1.0, 2.7))
    gap, radius = 1.5, 0.36
    for k, legs in enumerate(modes):
        x = k * gap
        ax.add_patch(Circle((x, 0), radius, facecolor="#fde9e7", edgecolor=_LORETTA, lw=1.8, zorder=3))
        ax.text(x, 0, f"$G_{{{k + 1}}}$", ha="center", va="center", fontsize=11, zorder=4)
        directions = [-1] if len(legs) == 1 else [1, -1]  # one leg down; TT-matrix: in up, out down
        names = ["k"] if len(legs) == 1 else ["m", "n"]
        for size, sign, name in zip(legs, directions, names):
            ax.plot([x, x], [sign * radius, sign * 1.05], color="0.2", lw=1.6, gid="leg")
            ax.text(x, sign * 1.15, f"${name}_{{{k + 1}}}$={size}", ha="center", va="top" if sign < 0 else "bottom",
                    fontsize=9)
        if k < d - 1:
            ax.plot([x + radius, x + gap - radius], [0, 0], color="0.2", lw=1.6, gid="bond")
            label = f"$r_{{{k + 1}}}$" if ranks is None else str(ranks[k])
            ax.text(x + gap / 2, 0.12, label, ha="center", va="bottom", fontsize=10, color=_LORETTA)
    top = 1.75 if any(len(m) == 2 for m in modes) else 0.75
    ax.set_xlim(-0.8, (d - 1) * gap + 0.8)
    ax.set_ylim(-1.75, top)
    ax.set_aspect("equal")
    ax.axis("off")
    sizes = [math.prod(m) for m in modes]
    kind = "TT-matrix" if any(len(m) == 2 for m in modes) else "tensor train"
    title = f"{kind}, {d} cores, modes {sizes}"
    if ranks is not None:
        full = [1, *ranks, 1]
        params = sum(full[i] * sizes[i] * full[i + 1] for i in range(d))
        title += f"\n{params:,} parameters vs {math.prod(sizes):,} dense ({math.prod(sizes) / params:.1f}x fewer)"
    ax.set_title(title, fontsize=10)
    return fig


def _kept_ranks(info: TTSVDInfo) -> list[int]:
    """Recover each bond's kept rank from the discarded norm: the cut whose tail norm matches."""
    kept = []
    for s, gone in zip(info.singular_values, info.discarded):
        tails = torch.sqrt(torch.flip(torch.cumsum(torch.flip(s.double() ** 2, [0]), 0), [0])).tolist() + [0.0]
        kept.append(max(1, min(range(len(tails)), key=lambda i: abs(tails[i] - gone))))
    return kept


def spectra(tt_or_info, ax=None, ranks=None) -> Figure:
    """Singular values of every unfolding TT-SVD cut (log scale), with the kept rank marked.

    Why: TT-SVD truncates bond k where the spectrum of unfolding k is cut; a fast decay means a
    small rank loses little, and the error is bounded by the root of the sum of all discarded
    squared values (METHOD.md section 1). One line per bond (d-1 lines); a marker per bond at
    the last kept value.

    Parameters
    ----------
    tt_or_info : TensorTrain (from :func:`~loretta_explore.tt.tt_svd`) or TTSVDInfo
    ranks : sequence of int, optional
        Kept internal ranks; default the train's ranks (or read from the info's discarded norms).
    """
    info = tt_or_info.info if isinstance(tt_or_info, TensorTrain) else tt_or_info
    if not isinstance(info, TTSVDInfo) or not info.singular_values:
        raise ValueError("spectra needs a TensorTrain made by tt_svd (it keeps .info) or its TTSVDInfo; "
                         "e.g. spectra(lx.tt_svd(torch.randn(8, 8, 8), max_rank=3))")
    if ranks is None:
        ranks = tt_or_info.ranks[1:-1] if isinstance(tt_or_info, TensorTrain) else _kept_ranks(info)
    fig, ax = _figure(ax, figsize=(6.0, 3.4))
    floor = max(float(s.max()) for s in info.singular_values) * 1e-13  # exact zeros cannot sit on a log axis
    for k, (s, r) in enumerate(zip(info.singular_values, ranks)):
        values = s.double().clamp_min(floor).tolist()
        index = list(range(1, len(values) + 1))
        (line,) = ax.plot(index, values, marker=".", ms=3, lw=1.2, label=f"bond {k + 1}: keep {r} of {len(values)}")
        ax.scatter([r], [values[r - 1]], s=60, facecolor="none", edgecolor=line.get_color(), lw=1.8, zorder=3)
    ax.set_yscale("log")
    ax.set_xlabel("index of singular value")
    ax.set_ylabel("singular value")
    ax.set_title(f"unfolding spectra; relative error bound {info.relative_error_bound:.3g}", fontsize=10)
    ax.legend(fontsize=8, loc="upper right", ncols=1 if len(ranks) < 5 else 2)
    ax.grid(alpha=0.3)
    return fig


def _fold(x, shape):
    x = torch.as_tensor(x)
    if shape is not None:
        return x.reshape(tuple(shape))
    return x.reshape(suggest_shape(*x.shape)) if x.ndim == 2 else x  # a weight matrix: fold it as LoRETTA does


def rank_sweep(x, ranks=range(1, 17), shape=None) -> list[dict]:
    """tt_svd at each max_rank: rows of rank, params, relative error, error bound.

    A 2-D `x` without `shape` is folded with :func:`~loretta_explore.tensorize.suggest_shape`
    (the flattened layout of METHOD.md section 1); a matrix left 2-D would just be an SVD.
    """
    t = _fold(x, shape).double()
    norm = float(torch.linalg.vector_norm(t))
    rows = []
    for r in ranks:
        tt = tt_svd(t, max_rank=int(r))
        error = float(torch.linalg.vector_norm(t - tt.full())) / norm if norm else 0.0
        rows.append(dict(rank=int(r), params=tt.num_params, rel_error=error,
                         bound=tt.info.relative_error_bound, shape=tuple(t.shape), ranks=tt.ranks))
    return rows


def error_vs_rank(x, ranks=range(1, 17), shape=None) -> Figure:
    """Relative error (left) and parameter count (right) of tt_svd at each max_rank.

    Why: the shape of this curve is what decides whether a weight is "TT-compressible". Random
    Gaussian weights decay slowly; pretrained weights a little faster; a fine-tuning update is
    the object LoRETTA_rep puts in TT form (METHOD.md section 3). Pass several tensors as
    ``{label: tensor}`` to compare them on one figure (each must fold to `shape`, or is folded
    with its own suggested shape).
    """
    named = dict(x) if isinstance(x, Mapping) else {"tensor": x}
    fig, (left, right) = _figure(ncols=2, figsize=(9.0, 3.4))
    dense = set()
    for label, tensor in named.items():
        rows = rank_sweep(tensor, ranks, shape)
        rs = [row["rank"] for row in rows]
        left.plot(rs, [row["rel_error"] for row in rows], marker="o", ms=3, label=label)
        right.plot(rs, [row["params"] for row in rows], marker="o", ms=3, label=label)
        dense.add(math.prod(rows[0]["shape"]))
    for n in sorted(dense):
        right.axhline(n, color="0.4", ls="--", lw=1)
        right.text(rs[0], n, f" dense {n:,}", va="bottom", fontsize=8, color="0.3")
    left.set(xlabel="max TT rank", ylabel="relative error ||X - TT|| / ||X||", ylim=(0, None))
    right.set(xlabel="max TT rank", ylabel="TT parameters", yscale="log")
    right.set_ylim(top=max(dense) * 4)
    left.set_title("error of TT-SVD", fontsize=10)
    right.set_title("cost of the train", fontsize=10)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    left.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Budgets and results (METHOD.md sections 5 and 6)
# ---------------------------------------------------------------------------------------------

def budget_bars(rows, log: bool = True, ax=None) -> Figure:
    """Trainable parameters per method as horizontal bars, the paper's printed figures marked.

    Why: counts span five orders of magnitude (6.7B for full fine-tuning of LLaMA-2-7B, 0.5M for
    LoRETTA_rep), so only a log axis shows them side by side (METHOD.md section 5).

    Parameters
    ----------
    rows : rows of :func:`~loretta_explore.budget.budget_table`, or a reference model name
    log : bool
        Log-scale x axis (default).
    """
    title = ""
    if isinstance(rows, str):
        title, rows = rows, budget_table(rows)
    title = title or getattr(rows, "model", "")
    rows = list(rows)
    fig, ax = _figure(ax, figsize=(7.0, 0.42 * len(rows) + 1.2))
    names = [r["method"] for r in rows][::-1]
    counts = [r["count"] for r in rows][::-1]
    smallest = min([c for c in counts if c > 0], default=1)
    colors = [_LORETTA if n.startswith("loretta") else _BASELINE for n in names]
    ax.barh(names, [max(c, 0) for c in counts], color=colors, alpha=0.85, gid="bar")
    printed = [(float(parse_figure(r["paper"])), i) for i, r in enumerate(rows[::-1]) if r.get("paper")]
    if printed:
        ax.scatter([p for p, _ in printed], [i for _, i in printed], marker="D", s=36, color="black", zorder=3,
                   label="paper's printed figure", gid="paper")
        ax.legend(fontsize=8, loc="lower right")
    marks = dict((i, p) for p, i in printed)
    for i, c in enumerate(counts):  # the exact count, right of the bar and of the paper's mark
        ax.annotate(human_count(c) if c else "0 (nothing to train)", (max(c, marks.get(i, 0), smallest / 3), i),
                    textcoords="offset points", xytext=(7, 0), va="center", fontsize=8)
    if log:
        ax.set_xscale("log")
        ax.set_xlim(smallest / 3, max(counts) * 15)
        ax.minorticks_off()  # ~90 minor ticks over 8 decades: half the drawing time of a widget update
    ax.set_xlabel("trainable parameters" + (" (log scale)" if log else ""))
    ax.set_title(f"trainable parameters: {title}" if title else "trainable parameters", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return fig


def _runs(history) -> dict[str, list[dict]]:
    """{name: history} from a TrainResult, a history list, or a dict of either."""
    if isinstance(history, TrainResult):
        return {"run": history.history}
    if isinstance(history, Mapping):
        return {str(k): (v.history if isinstance(v, TrainResult) else list(v)) for k, v in history.items()}
    return {"run": list(history)}


def training_curves(history, metric: str = "accuracy") -> Figure:
    """Training loss (left) and the evaluation metric (right) against the step.

    Parameters
    ----------
    history : TrainResult, its ``history`` list, or ``{name: TrainResult or history}``
        (the second value :func:`~loretta_explore.training.compare` returns).
    metric : str
        Plots ``eval_<metric>`` records ("accuracy", "f1", "matthews", "loss", "perplexity").
    """
    fig, (left, right) = _figure(ncols=2, figsize=(9.0, 3.2))
    key = f"eval_{metric}"
    evaluated = False
    for name, records in _runs(history).items():
        train = [r for r in records if "loss" in r]
        (line,) = left.plot([r["step"] for r in train], [r["loss"] for r in train], lw=1.3, label=name)
        evals = [r for r in records if key in r]
        evaluated |= bool(evals)
        right.plot([r["step"] for r in evals], [r[key] for r in evals], marker="o", ms=4,
                   color=line.get_color(), label=name)
    left.set(xlabel="step", ylabel="training loss", title="training loss")
    right.set(xlabel="step", ylabel=f"validation {metric}", title=f"validation {metric}")
    right.set_xlim(left.get_xlim())
    if metric in ("accuracy", "f1"):
        right.set_ylim(0, 1.02)
    if not evaluated:
        right.text(0.5, 0.5, "no evaluation yet", ha="center", va="center", transform=right.transAxes, color="0.5")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.title.set_fontsize(10)
    if len(_runs(history)) > 1:
        left.legend(fontsize=8)
    return fig


def accuracy_vs_params(rows=(), paper: bool = True, metric: str = "test_accuracy", ax=None) -> Figure:
    """Test accuracy against trainable parameters (log x): your runs, and the paper's averages.

    Why: the paper's claim (METHOD.md section 6) is a point far to the left at the same height.
    The paper's series is the DeBERTa-base GLUE dev average, a different model and benchmark
    from what runs here; it is drawn in grey, labelled so, for the shape of the trade-off only.

    Parameters
    ----------
    rows : list of dicts with "method", "trainable_params" and `metric` (0-1 or percent);
        the rows :func:`~loretta_explore.training.compare` returns.
    paper : bool
        Add the paper's points.
    """
    fig, ax = _figure(ax, figsize=(7.0, 4.2))
    if paper:
        xs, ys = [p for _, p, _ in PAPER_GLUE_DEBERTA], [a for _, _, a in PAPER_GLUE_DEBERTA]
        colors = [_LORETTA if n.startswith("LoRETTA") else "0.55" for n, _, _ in PAPER_GLUE_DEBERTA]
        ax.scatter(xs, ys, marker="s", s=40, c=colors, gid="paper",
                   label="paper: DeBERTa-base, GLUE dev average (other model and benchmark)")
        for name, x, y in PAPER_GLUE_DEBERTA:  # labels placed by hand: several points nearly coincide
            dx, dy, ha = _PAPER_LABELS.get(name, (5, 4, "left"))
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha, fontsize=7, color="0.3")
    rows = list(rows)
    if rows:
        ys = [100 * r[metric] if r[metric] <= 1 else r[metric] for r in rows]
        xs = [r["trainable_params"] for r in rows]
        ax.scatter(xs, ys, marker="o", s=55, color="C2", edgecolor="black", zorder=3, gid="measured",
                   label=f"your runs ({metric.replace('_', ' ')})")
        for r, x, y in zip(rows, xs, ys):
            ax.annotate(r["method"], (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (log scale)")
    ax.set_ylabel("accuracy / score (%)")
    ax.set_title("accuracy vs trainable parameters", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=1, frameon=False)
    return fig


def init_comparison_plot(results: Mapping) -> Figure:
    """LoRETTA_rep's three starts: how far step 0 moves the model (left), then the loss (right).

    Why: the paper's Gaussian A and B make the update non-zero before training, so the adapted
    model no longer computes the pretrained function; "compensated" subtracts the initial update,
    "zero" starts B at zero (METHOD.md section 3).

    Parameters
    ----------
    results : {init: {"output_change": float, "history": list (or "result": TrainResult)}}
        As :func:`loretta_explore.widgets.init_comparison` stores them in ``ui.state["results"]``.
    """
    fig, (left, right) = _figure(ncols=2, figsize=(9.0, 3.2))
    names = list(results)
    changes = [float(results[n]["output_change"]) for n in names]
    bars = left.bar(names, changes, color=[f"C{i}" for i in range(len(names))], alpha=0.85)
    for bar, value in zip(bars, changes):
        left.annotate(f"{value:.2g}", (bar.get_x() + bar.get_width() / 2, value), textcoords="offset points",
                      xytext=(0, 3), ha="center", fontsize=9)
    left.set_ylim(0, max(changes + [1e-12]) * 1.25)
    left.set(ylabel="relative change of the last hidden state", title="step 0: output change vs pretrained")
    for i, name in enumerate(names):
        entry = results[name]
        records = entry["result"].history if "result" in entry else entry.get("history", [])
        train = [r for r in records if "loss" in r]
        right.plot([r["step"] for r in train], [r["loss"] for r in train], color=f"C{i}", lw=1.4, label=name)
    right.set(xlabel="step", ylabel="training loss", title="training loss")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3, axis="y")
        ax.title.set_fontsize(10)
    return fig
