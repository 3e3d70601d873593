"""Interactive charts (plotly): hover for the numbers behind a point, zoom into a crowded corner,
turn a 3-D surface.

Each function returns a plain ``plotly.graph_objects.Figure``. As a cell's value it renders in
JupyterLab (through the JupyterLab extension that ships inside the ``plotly`` package, offline),
in classic Notebook and in Colab (plotly picks Colab's renderer itself); no renderer has to be
set. No ``FigureWidget``: that needs ``anywidget``. Like the static builders they draw what they
are given: sweeps from :mod:`loretta_explore.sweeps`, rows from ``compare``, a TT-SVD record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

try:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
except ImportError as err:  # pragma: no cover - plotly is in the "notebooks" extra
    raise ImportError(
        "the interactive charts need plotly: pip install plotly "
        "(or pip install 'loretta_explore[notebooks]')"
    ) from err

from ..paper import PAPER_GLUE_DEBERTA
from ..sweeps import LAYOUTS, LayoutSweep, RankSweep, TrainableGrid
from ..tt import TensorTrain
from ..units import human_count
from .spectra import _info, _kept_ranks

__all__ = ["accuracy_vs_params", "error_vs_rank", "layouts", "spectra", "trainable_surface"]

FONT = dict(size=13)  # px: the same as 9-10 pt text in the static figures
HEIGHT = 440
_RED, _GREY = "#d62728", "#8c8c8c"
_LAYOUT_COLORS = dict(zip(LAYOUTS, (_RED, "#1f77b4", "#2ca02c")))
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _base(fig: go.Figure, title: str, height: int = HEIGHT) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, font=dict(size=15)),
        font=FONT,
        height=height,
        template="plotly_white",
        hoverlabel=dict(font_size=13),
        margin=dict(l=70, r=30, t=60, b=60),
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0),
    )
    return fig


def _options(options) -> str:
    if not options:
        return "defaults"
    return ", ".join(f"{k}={v}" for k, v in dict(options).items())


def accuracy_vs_params(
    rows=(),
    paper: bool = True,
    metric: str = "test_accuracy",
    options: Mapping[str, Mapping] | None = None,
    source: str = "your run",
) -> go.Figure:
    """Accuracy against trainable parameters; hover a point for method, options, params, accuracy
    and source.

    Why: in the static figure labels crowd; here each point names itself on hover, and zooming
    into the cluster near 0.1M parameters separates the methods. The paper's DeBERTa-base GLUE
    averages (another model and benchmark) are in the top panel, your runs below, on one x axis.

    Parameters
    ----------
    rows : dicts with "method", "trainable_params" and `metric` (0-1 or percent), as
        :func:`~loretta_explore.training.compare` returns them; a row's "options" (or
        ``options[method]``) is shown on hover.
    source : what your runs were (e.g. "sentiment, 300 steps"), shown on hover.
    """
    rows = [r for r in rows if r.get(metric) is not None]
    both = paper and bool(rows)
    fig = make_subplots(
        rows=2 if both else 1,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1,
        subplot_titles=(
            ("the paper: DeBERTa-base, GLUE dev average", "your runs") if both else None
        ),
    )
    hover = (
        "<b>%{customdata[0]}</b><br>options: %{customdata[1]}<br>trainable: %{customdata[2]}"
        "<br>accuracy: %{y:.2f}%<br>source: %{customdata[3]}<extra></extra>"
    )
    if paper:
        for family, color, name in (
            (True, _RED, "LoRETTA (paper)"),
            (False, _GREY, "baselines (paper)"),
        ):
            pts = [p for p in PAPER_GLUE_DEBERTA if p[0].startswith("LoRETTA") == family]
            fig.add_trace(
                go.Scatter(
                    x=[p for _, p, _ in pts],
                    y=[a for _, _, a in pts],
                    mode="markers",
                    name=name,
                    marker=dict(
                        symbol="square", size=11, color=color, line=dict(width=1, color="black")
                    ),
                    customdata=[
                        [
                            n,
                            "the paper's settings",
                            human_count(p),
                            "paper: DeBERTa-base, GLUE dev average",
                        ]
                        for n, p, _ in pts
                    ],
                    hovertemplate=hover,
                ),
                row=1,
                col=1,
            )
    symbols = ("circle", "triangle-up", "triangle-down", "diamond", "cross", "x", "star", "square")
    for i, r in enumerate(rows):
        score = 100 * float(r[metric]) if float(r[metric]) <= 1 else float(r[metric])
        opts = r.get("options", (options or {}).get(r["method"]))
        color = _RED if r["method"].startswith("loretta") else None
        fig.add_trace(
            go.Scatter(
                x=[r["trainable_params"]],
                y=[score],
                mode="markers",
                name=r["method"],
                marker=dict(
                    size=13,
                    color=color,
                    symbol=symbols[i % len(symbols)],
                    line=dict(width=1, color="black"),
                ),
                customdata=[[r["method"], _options(opts), f"{r['trainable_params']:,}", source]],
                hovertemplate=hover,
            ),
            row=2 if both else 1,
            col=1,
        )
    fig.update_xaxes(
        type="log",
        dtick=1,
        title_text="trainable parameters (log scale)",
        row=2 if both else 1,
        col=1,
    )
    if both:
        fig.update_xaxes(type="log", dtick=1, row=1, col=1)
        fig.update_yaxes(title_text="GLUE avg. (%)", row=1, col=1)
        fig.update_yaxes(title_text=f"{metric.replace('_', ' ')} (%)", row=2, col=1)
    else:
        fig.update_yaxes(title_text="accuracy (%)")
    return _base(
        fig, "accuracy against trainable parameters (hover a point)", 640 if both else HEIGHT
    )


def spectra(tt_or_info, ranks=None) -> go.Figure:
    """The unfolding spectra of a TT-SVD (log scale) with the kept rank marked; zoom to compare
    the tails, hover for each singular value (docs/method.md#tt-format)."""
    info = _info(tt_or_info)
    if ranks is None:
        ranks = tt_or_info.ranks[1:-1] if isinstance(tt_or_info, TensorTrain) else _kept_ranks(info)
    fig = go.Figure()
    floor = max(float(s.max()) for s in info.singular_values) * 1e-13
    for k, (s, r) in enumerate(zip(info.singular_values, ranks)):
        values = s.double().clamp_min(floor).tolist()
        color = _PALETTE[k % len(_PALETTE)]  # the line and its kept-rank circle share a colour
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(values) + 1)),
                y=values,
                mode="lines+markers",
                name=f"bond {k + 1}: keep {r} of {len(values)}",
                line=dict(color=color),
                marker=dict(size=5, color=color),
                hovertemplate=f"bond {k + 1}<br>index %{{x}}<br>singular value %{{y:.3g}}"
                "<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[r],
                y=[values[r - 1]],
                mode="markers",
                showlegend=False,
                marker=dict(
                    size=14, symbol="circle-open", color=color, line=dict(width=2, color=color)
                ),
                hovertemplate=f"bond {k + 1}: last kept value (rank {r})<extra></extra>",
            )
        )
    fig.update_yaxes(type="log", dtick=1, title_text="singular value", exponentformat="power")
    fig.update_xaxes(title_text="index of singular value")
    return _base(fig, f"unfolding spectra (relative error bound {info.relative_error_bound:.3g})")


def _as_sweeps(sweeps) -> dict[str, RankSweep]:
    if isinstance(sweeps, RankSweep):
        return {sweeps.label: sweeps}
    if isinstance(sweeps, Mapping):
        return {str(k): v for k, v in sweeps.items()}
    return {s.label: s for s in sweeps}


def error_vs_rank(sweeps) -> go.Figure:
    """Relative error and parameters of TT-SVD at each rank, both on log axes; hover a point for
    rank, parameters, error and the TT-SVD bound.

    Parameters
    ----------
    sweeps : RankSweep, {label: RankSweep} or a list (:func:`loretta_explore.sweeps.rank_sweep`)
    """
    named = _as_sweeps(sweeps)
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("error of TT-SVD", "cost of the train"),
        horizontal_spacing=0.14,
    )
    for i, (label, sweep) in enumerate(named.items()):
        data = [
            [p.params, f"{p.rel_error:.3g}", f"{p.bound:.3g}", str(list(p.ranks))]
            for p in sweep.points
        ]
        hover = (
            f"<b>{label}</b><br>max rank %{{x}}<br>error %{{customdata[1]}} (bound %{{customdata[2]}})"
            "<br>parameters %{customdata[0]:,}<br>ranks %{customdata[3]}<extra></extra>"
        )
        color = _PALETTE[i % len(_PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=sweep.ranks,
                y=[max(e, 1e-16) for e in sweep.rel_errors],
                name=label,
                mode="lines+markers",
                line=dict(color=color),
                customdata=data,
                hovertemplate=hover,
                legendgroup=label,
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=sweep.ranks,
                y=sweep.params,
                name=label,
                mode="lines+markers",
                line=dict(color=color),
                customdata=data,
                hovertemplate=hover,
                legendgroup=label,
                showlegend=False,
            ),
            row=1,
            col=2,
        )
    for dense in sorted({s.dense for s in named.values()}):
        fig.add_hline(
            y=dense,
            line=dict(dash="dash", color="#666"),
            row=1,
            col=2,
            annotation_text=f"dense {dense:,}",
            annotation_position="bottom right",
        )
    fig.update_yaxes(type="log", dtick=1, exponentformat="power")  # a label per decade
    fig.update_yaxes(title_text="relative error (log)", row=1, col=1)
    fig.update_yaxes(title_text="parameters (log)", row=1, col=2)
    fig.update_xaxes(title_text="max TT rank")
    return _base(fig, "TT-SVD: error and cost at each rank (hover, drag to zoom)")


def layouts(sweeps) -> go.Figure:
    """Relative error against parameters for each layout and weight; hover shows the rank.

    Parameters
    ----------
    sweeps : LayoutSweep or a list of them (:func:`loretta_explore.sweeps.layout_sweep`)
    """
    sweeps = [sweeps] if isinstance(sweeps, LayoutSweep) else list(sweeps)
    fig = go.Figure()
    for i, sweep in enumerate(sweeps):
        for layout in sweep.layouts:
            curve = sweep.curve(layout)
            what = "k (singular triplets)" if layout == "truncated SVD" else "max rank"
            fig.add_trace(
                go.Scatter(
                    x=[p.params for p in curve],
                    y=[p.rel_error for p in curve],
                    mode="lines+markers",
                    name=f"{layout}, {sweep.label}",
                    line=dict(color=_LAYOUT_COLORS[layout], dash=("solid", "dash", "dot")[i % 3]),
                    customdata=[[p.rank] for p in curve],
                    hovertemplate=(
                        f"<b>{layout}</b>, {sweep.label}<br>{what} %{{customdata[0]}}"
                        "<br>parameters %{x:,}<br>relative error %{y:.4f}<extra></extra>"
                    ),
                )
            )
    dense = sweeps[0].dense
    fig.add_vline(
        x=dense,
        line=dict(dash="dashdot", color="#666"),
        annotation_text=f"dense W: {dense:,}",
        annotation_position="top left",
    )
    fig.update_xaxes(
        type="log", dtick=1, title_text="parameters (log scale)", exponentformat="power"
    )
    fig.update_yaxes(title_text="relative error")
    return _base(
        fig,
        f"a {sweeps[0].in_features} x {sweeps[0].out_features} weight in three layouts "
        "(hover: the rank)",
        500,
    )


def trainable_surface(grid: TrainableGrid | list[TrainableGrid]) -> go.Figure:
    """Trainable parameters over (tt_rank, bottleneck) as a 3-D surface, other methods as planes.

    Why: turn it to see the rank enter quadratically (middle cores cost r * k * r) and the
    bottleneck linearly, and where the surface crosses LoRA's plane (docs/method.md#counting).
    The z axis is logarithmic.

    Parameters
    ----------
    grid : TrainableGrid (or several, e.g. adp and rep) from :func:`loretta_explore.sweeps.trainable_grid`
    """
    grids = [grid] if isinstance(grid, TrainableGrid) else list(grid)
    fig = go.Figure()
    scales = (
        [[0, "#fcae91"], [1, "#a50f15"]],
        [[0, "#fdd0a2"], [1, "#d94801"]],
        [[0, "#dadaeb"], [1, "#54278f"]],
    )  # no white end: a surface stays visible
    for i, g in enumerate(grids):
        fig.add_trace(
            go.Surface(
                x=g.bottlenecks,
                y=g.tt_ranks,
                z=g.counts,
                name=g.method,
                hovertemplate=(
                    f"<b>{g.method}</b><br>tt_rank %{{y}}, bottleneck %{{x}}"
                    "<br>%{z:,} trainable<extra></extra>"
                ),
                colorscale=scales[i % 3],
                showscale=False,
                opacity=0.95,
                showlegend=True,
            )
        )
    seen = set()
    for g in grids:
        for name, count in g.references.items():
            if name in seen:
                continue
            seen.add(name)
            plane = [[count] * len(g.bottlenecks) for _ in g.tt_ranks]
            fig.add_trace(
                go.Surface(
                    x=g.bottlenecks,
                    y=g.tt_ranks,
                    z=plane,
                    name=f"{name} (default)",
                    hovertemplate=f"{name} at its default settings: {count:,}<extra></extra>",
                    showscale=False,
                    opacity=0.35,
                    colorscale=[[0, "#1f77b4"], [1, "#1f77b4"]],
                    showlegend=True,
                )
            )
    low = min(c for g in grids for row in g.counts for c in row)
    high = max(
        [c for g in grids for row in g.counts for c in row]
        + [c for g in grids for c in g.references.values()]
    )
    fig.update_layout(
        scene=dict(
            xaxis=dict(title="bottleneck b", type="log", tickvals=grids[0].bottlenecks),
            yaxis=dict(title="tt_rank r"),
            zaxis=dict(
                title="trainable (log)",
                type="log",
                dtick=1,  # a label per decade
                range=[math.log10(low) - 0.2, math.log10(high) + 0.2],
            ),
            aspectmode="cube",
            domain=dict(x=[0.05, 0.95], y=[0.02, 1.0]),
            camera=dict(eye=dict(x=1.35, y=-1.35, z=0.75)),
        )
    )
    return _base(
        fig, f"trainable parameters on {grids[0].model}: drag to turn, hover for counts", 640
    )
