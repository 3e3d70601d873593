"""Explorers for shapes and ranks: fold a weight, pick a rank, watch cost and error.

Settings that could freeze a kernel are capped (dense sizes for TT-SVD, ranks, the number of
candidate shapes), and a setting that cannot work says why in the readout
(docs/method.md#tt-format, #layouts, #shapes).
"""

from __future__ import annotations

import itertools
import math

import ipywidgets as widgets
import torch

from .. import plots
from ..methods import positive_int
from ..tensorize import (
    arrange_modes,
    count_prime_factors,
    paper_shape,
    shape_cost,
    sorted_factorizations,
    suggest_shape,
    suggest_ttm_modes,
)
from ..tt import tt_matrix, tt_svd
from ..units import format_ratio
from .base import WIDE, Explorer, lines, slider

__all__ = ["MAX_DENSE", "capped_ranks", "rank_explorer", "shape_candidates", "shape_explorer"]

MAX_DENSE = (
    2**22
)  # entries a slider may TT-SVD on every move (a 2048 x 2048 weight): ~0.1-0.5 s on a laptop


def _as_matrix(weight, in_features: int, out_features: int) -> torch.Tensor:
    w = (
        weight.weight.detach().T
        if isinstance(weight, torch.nn.Linear)
        else torch.as_tensor(weight).detach()
    )
    if tuple(w.shape) != (in_features, out_features):
        raise ValueError(
            f"the weight must be (in, out) = ({in_features}, {out_features}), got {tuple(w.shape)}; "
            f"an nn.Linear's .weight is (out, in): pass linear.weight.T or the nn.Linear itself"
        )
    if w.numel() > MAX_DENSE:
        raise ValueError(
            f"a {in_features}x{out_features} weight is too large to decompose on every slider move "
            f"(limit {MAX_DENSE:,} entries); try a single layer of a small model"
        )
    if not bool(torch.isfinite(w).all()):
        raise ValueError("the weight holds NaN or inf entries; TT-SVD needs finite numbers")
    return (
        w.double() if w.numel() <= 2**18 else w.float()
    )  # float32 for big weights: 2x faster, error to 1e-6


def capped_ranks(modes, rank: int) -> list[int]:
    """The ranks [1, r_1, ..., 1] TT-SVD can reach at max_rank `rank`: bond k is capped by the
    size of its unfolding, min(k_1 * ... * k_k, k_{k+1} * ... * k_d)."""
    d = len(modes)
    return (
        [1]
        + [min(rank, math.prod(modes[: k + 1]), math.prod(modes[k + 1 :])) for k in range(d - 1)]
        + [1]
    )


def _params(modes, ranks) -> int:
    return sum(ranks[i] * k * ranks[i + 1] for i, k in enumerate(modes))


def shape_candidates(
    in_features: int, out_features: int, order: int, layout: str = "flat", limit: int = 30
) -> list[tuple[str, tuple]]:
    """Dropdown options ``(label, shape)``: the suggested shape, the paper's, then the best others.

    "flat": factorizations of in*out into `order` factors, ranked by the same score as
    :func:`~loretta_explore.tensorize.suggest_shape` (factors near 10, no tiny ones). "ttm":
    pairs (in_modes, out_modes), each side factored into `order` factors (1s pad short sides).
    """
    found: dict[tuple, str] = {}
    if layout == "flat":
        found[tuple(suggest_shape(in_features, out_features, order))] = "suggested"
        preset = paper_shape(in_features, out_features)
        if preset and len(preset) == order:
            found.setdefault(tuple(preset), "paper")
        pool = itertools.islice(sorted_factorizations(in_features * out_features, order), 20_000)
        for shape in sorted(pool, key=shape_cost):
            found.setdefault(arrange_modes(shape), "")
        label = lambda s: "×".join(map(str, s))  # noqa: E731
    else:
        found[suggest_ttm_modes(in_features, out_features, order)] = "suggested"

        def side(n: int) -> list[tuple[int, ...]]:
            for d in range(order, 0, -1):
                shapes = list(itertools.islice(sorted_factorizations(n, d), 2_000)) if n > 1 else []
                if shapes:
                    shapes.sort(key=lambda s: max(s) / min(s))
                    return [tuple(sorted(s, reverse=True)) + (1,) * (order - d) for s in shapes[:6]]
            return [(n,) + (1,) * (order - 1)]

        pairs = [(a, b) for a in side(in_features) for b in side(out_features)]
        for pair in sorted(pairs, key=lambda p: shape_cost([m * n for m, n in zip(*p)])):
            found.setdefault(pair, "")
        label = lambda p: ", ".join(f"{m}×{n}" for m, n in zip(*p))  # noqa: E731
    return [(label(s) + (f"  ({tag})" if tag else ""), s) for s, tag in list(found.items())[:limit]]


def shape_explorer(
    in_features: int = 384, out_features: int = 1536, weight=None, max_rank: int = 16, rank: int = 5
) -> Explorer:
    """Pick a TT shape and rank for an (in, out) weight and see what it costs (and loses).

    Why: LoRETTA folds W row-major into (k_1, ..., k_d) and stores it as a train; the paper found
    that shapes with factors near 8-16 work and tiny factors hurt (docs/method.md#shapes).
    Controls: order, shape (the suggested shape first, the paper preset if any), rank, layout
    ("flat" LoRETTA layout or "ttm" TT-matrix). With `weight` ((in, out) tensor or an nn.Linear)
    the readout adds the relative error of tt_svd at that rank; a weight of the wrong shape is
    left out and the readout says why. The figure is the TT diagram, with the legs that carry
    the input and the output index coloured.
    """
    in_features = positive_int("in_features", in_features, "shape_explorer(384, 1536)")
    out_features = positive_int("out_features", out_features, "shape_explorer(384, 1536)")
    max_rank = positive_int("max_rank", max_rank, "shape_explorer(384, 1536, max_rank=16)")
    dense = in_features * out_features
    if count_prime_factors(dense) < 2:
        raise ValueError(
            f"a {in_features} x {out_features} weight has {dense} entries, which cannot be folded "
            f"into 2 or more modes; e.g. shape_explorer(384, 1536)"
        )
    w, problem = None, None
    if weight is not None:
        try:
            w = _as_matrix(weight, in_features, out_features)
        except ValueError as err:
            problem = f"weight left out: {err}"
    top = max(2, min(8, count_prime_factors(dense)))
    start = min(max(len(suggest_shape(in_features, out_features)), 2), top)
    controls = dict(
        order=slider(widgets.IntSlider, "order d", start, 2, top),
        shape=widgets.Dropdown(
            options=shape_candidates(in_features, out_features, start),
            description="shape",
            style=WIDE,
            layout=widgets.Layout(width="440px"),
        ),
        rank=slider(widgets.IntSlider, "rank r", min(max(rank, 1), max_rank), 1, max_rank),
        layout=widgets.ToggleButtons(options=["flat", "ttm"], description="layout", style=WIDE),
    )

    def compute(ui: Explorer, source):
        c = ui.controls
        if source in (c["order"], c["layout"]):
            options = shape_candidates(
                in_features, out_features, c["order"].value, c["layout"].value
            )
            ui.set_quietly(c["shape"], options=options, value=options[0][1])
        r, ttm = c["rank"].value, c["layout"].value == "ttm"
        shape = c["shape"].value
        modes = [m * n for m, n in zip(*shape)] if ttm else list(shape)
        ranks = capped_ranks(modes, r)
        params = _params(modes, ranks)
        shown = c["shape"].label.split("  (")[0]
        rows = [
            f"shape       {shown}  (d = {len(modes)}, {'TT-matrix' if ttm else 'flattened'} layout)",
            f"TT params   {params:,}  (ranks {ranks})",
            f"dense       {in_features} × {out_features} = {dense:,}",
            f"compression {format_ratio(dense / params)}",
        ]
        if max(ranks[1:-1]) < r:
            rows.insert(
                2, f"            a bond cannot exceed its unfolding's size: ranks capped below {r}"
            )
        state = dict(
            order=len(modes),
            shape=tuple(shape),
            layout=c["layout"].value,
            rank=r,
            ranks=ranks,
            tt_params=params,
            dense_params=dense,
            compression=dense / params,
            rel_error=None,
            error=problem,
        )
        if w is not None:
            tt = (
                tt_matrix(w, shape[0], shape[1], max_rank=r)
                if ttm
                else tt_svd(w.reshape(shape), max_rank=r)
            )
            full = tt.full() if ttm else tt.full().reshape(in_features, out_features)
            error = (
                float(torch.linalg.vector_norm(w - full) / torch.linalg.vector_norm(w))
                if w.any()
                else 0.0
            )
            kept = (
                ""
                if tt.num_params == params
                else (
                    f"; TT-SVD kept ranks {tt.ranks} ({tt.num_params:,} params): this weight's unfoldings have lower rank"
                )
            )
            rows.append(f"tt_svd of the weight: relative error {error:.4f}{kept}")
            state.update(rel_error=error, svd_ranks=tt.ranks, svd_params=tt.num_params)
        elif problem:
            rows.insert(0, f"<span style='color:#b00;white-space:pre-wrap'>{problem}</span>")
        fig = plots.tt_diagram(
            list(zip(*shape)) if ttm else modes,
            ranks,
            split=None if ttm else (in_features, out_features),
        )
        return lines(*rows), fig, state

    ui = Explorer(controls, compute, title=f"TT shapes for a {in_features} x {out_features} weight")
    ui.update()
    return ui


def rank_explorer(x, shape=None, max_rank: int = 32, rank: int = 3) -> Explorer:
    """Truncate a tensor's TT-SVD by rank (first slider) or by budget and watch the error.

    Why: TT-SVD cuts every unfolding's spectrum; the discarded singular values bound the error
    (docs/method.md#tt-format). The budget slider asks for the largest uniform rank whose train
    costs at most that fraction of the dense parameters (``tt_svd(x, max_rank=float)``,
    tensorly's convention). Whichever slider moved last decides; the other follows. The spectra's
    axes are computed once, at the top rank, so they stay put while the sliders move.

    Parameters
    ----------
    x : tensor (any order) or matrix; `shape` folds it (prod must equal x.numel()).
    max_rank : the rank slider's top (also capped by the largest rank any bond allows).
    """
    max_rank = positive_int(
        "max_rank", max_rank, "rank_explorer(torch.randn(8, 8, 8), max_rank=16)"
    )
    t = torch.as_tensor(x).detach()
    if shape is not None:
        if math.prod(shape) != t.numel():
            raise ValueError(
                f"shape {tuple(shape)} holds {math.prod(shape):,} entries, the tensor {t.numel():,}; "
                f"pass a shape whose product is {t.numel():,}"
            )
        t = t.reshape(tuple(shape))
    if t.numel() > MAX_DENSE or t.ndim < 2:
        raise ValueError(
            f"rank_explorer needs a tensor with 2+ modes and at most {MAX_DENSE:,} entries, got shape "
            f"{tuple(t.shape)}; e.g. rank_explorer(torch.randn(8, 8, 8, 8))"
        )
    t = t.double() if t.numel() <= 2**20 else t.float()
    if not bool(torch.isfinite(t).all()):
        raise ValueError("the tensor holds NaN or inf entries; TT-SVD needs finite numbers")
    caps = [
        min(math.prod(t.shape[: k + 1]), math.prod(t.shape[k + 1 :])) for k in range(t.ndim - 1)
    ]
    top, dense, norm = (
        max(1, min(max_rank, max(caps))),
        t.numel(),
        float(torch.linalg.vector_norm(t)),
    )
    controls = dict(
        rank=slider(widgets.IntSlider, "rank", min(max(rank, 1), top), 1, top),
        budget=slider(
            widgets.FloatSlider,
            "budget (fraction of dense)",
            0.1,
            0.01,
            1.0,
            0.01,
            readout_format=".2f",
        ),
    )
    limits = (
        list(plots.spectra_limits(tt_svd(t, max_rank=1), tt_svd(t, max_rank=top)))
        if norm
        else [None, None]
    )

    def compute(ui: Explorer, source):
        by_budget = source is ui.controls["budget"]
        tt = tt_svd(
            t,
            max_rank=float(ui.controls["budget"].value) if by_budget else ui.controls["rank"].value,
        )
        if by_budget:
            ui.set_quietly(ui.controls["rank"], value=min(max(tt.ranks), top))
        else:
            ui.set_quietly(
                ui.controls["budget"], value=min(1.0, max(0.01, round(tt.num_params / dense, 2)))
            )
        error = float(torch.linalg.vector_norm(t - tt.full())) / norm if norm else 0.0
        rows = [
            f"set by     {'budget ' + format(ui.controls['budget'].value, '.2f') if by_budget else 'rank'}"
            f" (rank {ui.controls['rank'].value})",
            f"ranks      {tt.ranks}",
            f"params     {tt.num_params:,} of {dense:,} dense ({tt.num_params / dense:.1%}, "
            f"{format_ratio(dense / tt.num_params)} fewer)",
            f"rel. error {error:.4f}   (TT-SVD bound {tt.info.relative_error_bound:.4f})",
        ]
        state = dict(
            rank=ui.controls["rank"].value,
            budget=ui.controls["budget"].value,
            ranks=tt.ranks,
            params=tt.num_params,
            dense=dense,
            rel_error=error,
            error_bound=tt.info.relative_error_bound,
            by="budget" if by_budget else "rank",
        )
        if not norm:
            rows.append("the tensor is zero: every rank reproduces it exactly")
            return lines(*rows), None, state
        (x0, x1), (y0, y1) = plots.spectra_limits(tt)
        if (
            limits[0] is not None
        ):  # grow (never shrink) the fixed axes if a spectrum ever leaves them
            limits[0] = (min(limits[0][0], x0), max(limits[0][1], x1))
            limits[1] = (min(limits[1][0], y0), max(limits[1][1], y1))
        return lines(*rows), plots.spectra(tt, xlim=limits[0], ylim=limits[1]), state

    ui = Explorer(controls, compute, title=f"TT-SVD of a tensor of shape {list(t.shape)}")
    ui.limits = limits
    ui.update()
    return ui
