"""The path of a LoRETTA_rep update through one layer, drawn from the layer itself.

:func:`rep_diagram` reads a :class:`~loretta_explore.layers.LorettaRepLinear` (or builds one from
the settings): A's and B's tensor-train shapes and ranks, the scale s = alpha / bottleneck, and
the frozen starting copies A0, B0 of the compensated start (docs/method.md#rep, #scale, #starts).
"""

from __future__ import annotations

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch

from ..plots._style import LORETTA, finish, new_figure
from .blocks import _arrow

__all__ = ["rep_diagram"]


def _rep_layer(in_features, out_features, bottleneck, tt_rank, alpha, init, scale_by):
    from ..layers import LorettaRepLinear

    torch.manual_seed(0)
    base = torch.nn.Linear(in_features, out_features, bias=False)
    return LorettaRepLinear(
        base, bottleneck=bottleneck, tt_rank=tt_rank, alpha=alpha, init=init, scale_by=scale_by
    )


def _train_glyph(ax, x, y, shape, color, frozen: bool):
    """A tensor train in miniature: one small circle per core, joined by bonds."""
    n = len(shape)
    step = min(0.55, 2.2 / max(n - 1, 1))
    xs = [x - step * (n - 1) / 2 + i * step for i in range(n)]
    ax.plot(xs, [y] * n, color="0.3", lw=1.2, zorder=3)
    for cx, k in zip(xs, shape):
        ax.add_patch(
            Circle(
                (cx, y),
                0.15,
                facecolor="white" if frozen else "#fde9e7",
                edgecolor=color,
                lw=1.5,
                zorder=4,
            )
        )
        ax.text(cx, y - 0.32, str(k), ha="center", va="top", fontsize=9, color="0.2")


def _stage(ax, x, y, width, title, shape, ranks, frozen, gid):
    color = "0.4" if frozen else LORETTA
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - 0.75),
            width,
            1.5,
            boxstyle="round,pad=0.03,rounding_size=0.15",
            facecolor="#f5f5f5" if frozen else "#fff5f4",
            edgecolor=color,
            lw=1.2 if frozen else 2.0,
            zorder=2,
            gid=gid,
        )
    )
    ax.text(
        x,
        y + 0.5,
        title,
        ha="center",
        va="center",
        fontsize=9.5,
        color="0.1" if frozen else LORETTA,
        fontweight="normal" if frozen else "bold",
        zorder=4,
    )
    _train_glyph(ax, x, y + 0.05, shape, color, frozen)
    ax.text(
        x,
        y - 0.58,
        f"TT {list(shape)}, rank {max(ranks)}",
        ha="center",
        va="center",
        fontsize=9,
        color="0.25",
        zorder=4,
    )


def rep_diagram(
    layer=None,
    *,
    in_features: int = 768,
    out_features: int = 768,
    bottleneck: int = 8,
    tt_rank: int = 5,
    alpha: float = 16.0,
    init: str = "paper",
    scale_by: str = "bottleneck",
) -> Figure:
    """The path of a LoRETTA_rep layer: y = W0 x + s * B(A(x)), with A and B tensor trains.

    Why: the formula in a picture. The frozen weight W0 and the trained update run side by side;
    A (in -> b) and B (b -> out) are each one small tensor train (their cores drawn as circles,
    mode sizes below); s = alpha / bottleneck scales the update (docs/method.md#scale). With
    ``init="compensated"`` a third path subtracts the frozen starting copies s * B0(A0(x)), so the
    layer starts exactly at W0 (docs/method.md#starts).

    Parameters
    ----------
    layer : LorettaRepLinear, optional
        Draw this layer (its shapes, ranks, scale and start). Otherwise one is built from the
        keyword settings (the paper's encoder defaults: b = 8, rank 5, alpha 16).
    """
    if layer is None:
        layer = _rep_layer(in_features, out_features, bottleneck, tt_rank, alpha, init, scale_by)
    A, B = layer.A, layer.B
    init, scale = getattr(layer, "init", "paper"), float(layer.scale)
    by = getattr(layer, "scale_by", "bottleneck")
    compensated = init == "compensated"
    fig, ax = new_figure(height=4.9 if compensated else 4.0)
    y_top, y_mid, y_low = 2.2, 0.0, -2.1
    ax.text(0, y_mid + 0.6, "x", ha="center", va="center", fontsize=13)
    ax.text(
        0,
        y_mid + 0.1,
        f"(batch, {layer.in_features})",
        ha="center",
        va="top",
        fontsize=9,
        color="0.3",
    )
    ax.add_patch(
        FancyBboxPatch(
            (2.0, y_top - 0.45),
            5.7,
            0.9,
            boxstyle="round,pad=0.03,rounding_size=0.15",
            facecolor="#eeeeee",
            edgecolor="0.45",
            zorder=2,
            gid="frozen",
        )
    )
    ax.text(
        4.85,
        y_top,
        f"W0 x   (pretrained, frozen: {layer.in_features} x {layer.out_features})",
        ha="center",
        va="center",
        fontsize=9.5,
    )
    paths = [
        (
            y_mid,
            A,
            B,
            False,
            f"A: {layer.in_features} -> {layer.bottleneck}",
            f"B: {layer.bottleneck} -> {layer.out_features}",
        )
    ]
    if compensated:
        paths.append((y_low, layer.A0, layer.B0, True, "A0: frozen start", "B0: frozen start"))
    for y, a, b, frozen, na, nb in paths:
        _stage(
            ax,
            3.0,
            y,
            2.6,
            na,
            a.tt_shape,
            a.ranks,
            frozen,
            "frozen-core" if frozen else "trained-core",
        )
        _stage(
            ax,
            6.4,
            y,
            2.6,
            nb,
            b.tt_shape,
            b.ranks,
            frozen,
            "frozen-core" if frozen else "trained-core",
        )
        _arrow(ax, 0.45, y_mid + 0.3, 3.0 - 1.3, y)
        _arrow(ax, 4.3, y, 5.1, y)
        ax.add_patch(
            Circle(
                (8.45, y),
                0.42,
                facecolor="white",
                edgecolor="0.4" if frozen else LORETTA,
                lw=1.5,
                zorder=3,
            )
        )
        ax.text(
            8.45, y, "x (-s)" if frozen else "x s", ha="center", va="center", fontsize=9.5, zorder=4
        )
        _arrow(ax, 7.7, y, 8.03, y)
        _arrow(ax, 8.87, y, 9.66, y_mid + 0.55 if frozen else y_mid + 0.65)
    _arrow(ax, 0.45, y_mid + 0.8, 2.0, y_top)
    _arrow(ax, 7.7, y_top, 9.7, y_mid + 0.95)
    ax.add_patch(
        Circle((9.9, y_mid + 0.75), 0.3, facecolor="white", edgecolor="0.3", lw=1.3, zorder=3)
    )
    ax.text(9.9, y_mid + 0.75, "+", ha="center", va="center", fontsize=13, zorder=4)
    _arrow(ax, 10.2, y_mid + 0.75, 10.75, y_mid + 0.75)
    ax.text(11.0, y_mid + 0.75, "y", ha="center", va="center", fontsize=13)
    divisor = ("b", layer.bottleneck) if by == "bottleneck" else ("r", max(A.ranks))
    ax.text(
        8.45,
        y_mid - 0.6,
        f"s = alpha / {divisor[0]}\n= {layer.alpha:g} / {divisor[1]} = {scale:g}",
        ha="center",
        va="top",
        fontsize=9,
        color=LORETTA,
    )
    trained = A.num_params + B.num_params
    formula = "y = W0 x + s B(A(x))" + (" - s B0(A0(x))" if compensated else "")
    ax.set_title(f"LoRETTA_rep on one layer, init={init!r}:\n{formula}", fontsize=10.5)
    bottom = (y_low if compensated else y_mid) - 1.3
    note = (
        f"trained: the cores of A and B, {trained:,} numbers (W0 has {layer.in_features * layer.out_features:,})"
        + (
            "\nA0, B0: copies of the starting cores, frozen (saved with the adapter)"
            if compensated
            else ""
        )
    )
    ax.text(5.4, bottom, note, ha="center", va="top", fontsize=9, color="0.2")
    ax.set_xlim(-0.7, 11.4)
    ax.set_ylim(bottom - (0.9 if compensated else 0.5), y_top + 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    return finish(fig)
