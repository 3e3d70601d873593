"""Figures of training results: curves, accuracy against parameters, rep's starts, speed and memory.

They draw what :func:`~loretta_explore.training.train`, :func:`~loretta_explore.training.compare`
and :func:`~loretta_explore.rep_starts.compare_starts` return (docs/method.md#paper-results).
"""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..paper import PAPER_GLUE_DEBERTA
from ..training import TrainResult
from ..units import human_count
from ._style import BASELINE, LORETTA, PAPER, finish, new_figure

__all__ = [
    "PAPER_LABEL_OFFSETS",
    "accuracy_vs_params",
    "init_comparison_plot",
    "speed_memory",
    "training_curves",
]

#: Where each paper point's label goes, in points from the point: (dx, dy, alignment). Chosen so
#: no two labels overlap at the default size; pass ``label_offsets`` to move one.
PAPER_LABEL_OFFSETS: dict[str, tuple[float, float, str]] = {
    "FT": (-7, -3, "right"),
    "Adapters": (7, -3, "left"),
    "LoRA r=8": (7, -3, "left"),
    "LoRA r=4": (7, -12, "left"),
    "BitFit": (0, -15, "center"),
    "Prefix": (7, -3, "left"),
    "Prompt": (7, -3, "left"),
    "P-Tuning": (7, -3, "left"),
    "LoRETTA_adp": (0, 7, "center"),
    "LoRETTA_rep": (-7, -3, "right"),
}


def _runs(history) -> dict[str, list[dict]]:
    """{name: history} from a TrainResult, a history list, or a dict of either."""
    if isinstance(history, TrainResult):
        return {"run": history.history}
    if isinstance(history, Mapping):
        return {
            str(k): (v.history if isinstance(v, TrainResult) else list(v))
            for k, v in history.items()
        }
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
    runs = _runs(history)
    fig, (left, right) = new_figure(ncols=2, height=3.3)
    key = f"eval_{metric}"
    evaluated = False
    for i, (name, records) in enumerate(runs.items()):
        color = f"C{i % 10}"
        train = [r for r in records if "loss" in r]
        left.plot(
            [r["step"] for r in train], [r["loss"] for r in train], lw=1.3, color=color, label=name
        )
        evals = [r for r in records if key in r]
        evaluated |= bool(evals)
        right.plot(
            [r["step"] for r in evals],
            [r[key] for r in evals],
            marker="o",
            ms=4,
            color=color,
            label=name,
        )
    left.set(xlabel="step", ylabel="training loss", title="training loss")
    right.set(xlabel="step", ylabel=f"validation {metric}", title=f"validation {metric}")
    right.set_xlim(left.get_xlim())
    if metric in ("accuracy", "f1"):
        right.set_ylim(0, 1.02)
    if not evaluated:
        right.text(
            0.5,
            0.5,
            "no evaluation yet",
            ha="center",
            va="center",
            transform=right.transAxes,
            color="0.4",
            fontsize=10,
        )
    for ax in (left, right):
        ax.grid(alpha=0.3)
    if len(runs) > 1:
        fig.legend(
            *left.get_legend_handles_labels(),
            loc="outside lower center",
            ncols=min(len(runs), 4),
            fontsize=9,
            frameon=False,
        )
    return finish(fig)


def _score(row: Mapping, metric: str) -> float:
    value = float(row[metric])
    return 100 * value if value <= 1 else value


def _paper_panel(ax, label_offsets) -> None:
    offsets = {**PAPER_LABEL_OFFSETS, **(label_offsets or {})}
    for family, color, label in (
        (True, LORETTA, "LoRETTA (paper)"),
        (False, PAPER, "baselines (paper)"),
    ):
        pts = [(p, a) for n, p, a in PAPER_GLUE_DEBERTA if n.startswith("LoRETTA") == family]
        ax.scatter(
            [p for p, _ in pts],
            [a for _, a in pts],
            marker="s",
            s=42,
            color=color,
            edgecolor="black",
            linewidth=0.4,
            zorder=3,
            gid="paper",
            label=label,
        )
    for name, x, y in PAPER_GLUE_DEBERTA:
        dx, dy, ha = offsets.get(name, (7, -3, "left"))
        ax.annotate(
            name,
            (x, y),
            textcoords="offset points",
            xytext=(dx, dy),
            ha=ha,
            fontsize=9,
            color=LORETTA if name.startswith("LoRETTA") else "0.25",
            gid="paper-label",
        )


def accuracy_vs_params(
    rows=(),
    paper: bool = True,
    metric: str = "test_accuracy",
    ax=None,
    label_offsets: Mapping[str, tuple[float, float, str]] | None = None,
    title: str | None = None,
) -> Figure:
    """Accuracy against trainable parameters (log x): the paper's points and your runs.

    Why: the paper's claim (docs/method.md#paper-results) is a point far to the left at the same
    height. The paper's series is the DeBERTa-base GLUE dev average, a different model and
    benchmark from what runs here, so it gets its own panel (top) above your runs (bottom), on
    the same x axis. Paper points are labelled (offsets in :data:`PAPER_LABEL_OFFSETS`, or
    `label_offsets`); your runs, which often crowd, are named in a legend instead.

    Parameters
    ----------
    rows : dicts with "method", "trainable_params" and `metric` (0-1 or percent), as
        :func:`~loretta_explore.training.compare` returns them.
    paper : add the paper's points.
    ax : draw everything into one given axes instead (both series on one y axis).
    """
    rows = [r for r in rows if r.get(metric) is not None]
    both = paper and rows and ax is None
    if both:
        fig, (top, bottom) = new_figure(nrows=2, height=6.4, sharex=True)
    else:
        fig, top = new_figure(ax, height=3.8)
        bottom = top
    if paper:
        _paper_panel(top, label_offsets)
        top.set_ylabel("GLUE average (%)")
        scores = [a for _, _, a in PAPER_GLUE_DEBERTA]
        top.set_ylim(
            min(scores) - 1.5, max(scores) + 2.0
        )  # room for the labels above the top points
        top.set_title(
            "the paper: DeBERTa-base, GLUE dev average (another model and benchmark)", fontsize=10
        )
    for i, r in enumerate(rows):
        color = LORETTA if r["method"].startswith("loretta") else f"C{[0, 2, 4, 8, 9, 5][i % 6]}"
        score = _score(r, metric)
        bottom.scatter(
            [r["trainable_params"]],
            [score],
            marker="o^vDPX*"[i % 7],
            s=70,
            color=color,
            edgecolor="black",
            zorder=4,
            gid="measured",
            label=f"{r['method']}: {human_count(r['trainable_params'])}, {score:.1f}%",
        )
    if rows:
        scores = [_score(r, metric) for r in rows]
        spread = max(scores) - min(scores)
        bottom.set_ylim(min(scores) - max(2, 0.15 * spread), max(scores) + max(2, 0.15 * spread))
        bottom.set_ylabel(f"your runs: {metric.replace('_', ' ')} (%)")
        if both:
            bottom.set_title(title or "your runs", fontsize=10)
        bottom.legend(
            fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, frameon=False
        )
    if paper:
        top.legend(fontsize=9, loc="lower right")
    for a in {top, bottom}:
        a.set_xscale("log")
        a.grid(alpha=0.3)
    bottom.set_xlabel("trainable parameters (log scale)")
    lows = [r["trainable_params"] for r in rows] + (
        [p for _, p, _ in PAPER_GLUE_DEBERTA] if paper else []
    )
    if lows:
        bottom.set_xlim(min(lows) / 3, max(lows) * 6)
    return finish(fig)


def init_comparison_plot(results) -> Figure:
    """LoRETTA_rep's starts: how far step 0 moves the model (left), then the loss (right).

    Why: the paper's Gaussian A and B make the update non-zero before training, so the adapted
    model no longer computes the pretrained function; "compensated" subtracts the initial update,
    "zero" starts B at zero (docs/method.md#starts).

    Parameters
    ----------
    results : :class:`~loretta_explore.rep_starts.StartsComparison` (what
        :func:`~loretta_explore.rep_starts.compare_starts` returns), or
        ``{init: {"output_change": float, "history": list (or "result": TrainResult)}}``.
    """
    fig, (left, right) = new_figure(ncols=2, height=3.3)
    names = list(results)
    changes = [float(results[n]["output_change"]) for n in names]
    bars = left.bar(names, changes, color=[f"C{i}" for i in range(len(names))], alpha=0.85)
    for bar, value in zip(bars, changes):
        left.annotate(
            f"{value:.2g}",
            (bar.get_x() + bar.get_width() / 2, value),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            fontsize=9,
        )
    left.set_ylim(0, max(changes + [1e-12]) * 1.25)
    left.set(
        ylabel="relative change of the\nlast hidden state", title="step 0: change vs pretrained"
    )
    for i, name in enumerate(names):
        entry = results[name]
        result = entry.get("result") if hasattr(entry, "get") else None
        records = result.history if result is not None else entry.get("history", [])
        train = [r for r in records if "loss" in r]
        right.plot(
            [r["step"] for r in train],
            [r["loss"] for r in train],
            color=f"C{i}",
            lw=1.4,
            label=name,
        )
    right.set(xlabel="step", ylabel="training loss", title="training loss")
    right.legend(fontsize=9)
    for ax in (left, right):
        ax.grid(alpha=0.3, axis="y")
    return finish(fig)


def speed_memory(rows) -> Figure:
    """Seconds per step (left) and peak memory (right) per method, LoRETTA in red.

    Why: fewer trainable parameters do not make a step proportionally faster (the forward and
    backward passes still go through the whole frozen model); what shrinks is the gradients and
    the optimizer state.

    Parameters
    ----------
    rows : dicts with "method", "seconds_per_step", "peak_memory_mb" (the rows of
        :func:`~loretta_explore.training.compare`).
    """
    rows = list(rows)
    if not rows:
        raise ValueError("speed_memory needs rows with method, seconds_per_step and peak_memory_mb")
    fig, (left, right) = new_figure(ncols=2, height=0.3 * len(rows) + 1.6, sharey=True)
    names = [r["method"] for r in rows]
    colors = [LORETTA if n.startswith("loretta") else BASELINE for n in names]
    left.barh(names, [r["seconds_per_step"] for r in rows], color=colors)
    left.set(xlabel="seconds per step (median)", title="speed")
    right.barh(names, [r["peak_memory_mb"] for r in rows], color=colors)
    right.set(xlabel="peak memory (MB)", title="memory")
    left.invert_yaxis()
    for ax in (left, right):
        ax.grid(axis="x", alpha=0.3)
    handles = [
        Line2D([], [], color=LORETTA, lw=6, label="LoRETTA"),
        Line2D([], [], color=BASELINE, lw=6, label="baselines"),
    ]
    right.legend(handles=handles, fontsize=9, loc="lower right")
    return finish(fig)
