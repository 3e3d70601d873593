"""The tensor-network diagram of a train: cores, legs, bonds (docs/method.md#tt-format).

It draws a shape (or a train) and its ranks; for a flattened weight it colours the legs that
carry the input and the output index (docs/method.md#layouts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle

from ..tt import TensorTrain, TTMatrix
from ..units import format_ratio
from ._style import INPUT, LORETTA, OUTPUT, finish, new_figure

__all__ = ["tt_diagram"]


def _leg_roles(sizes: Sequence[int], split: tuple[int, int]) -> list[tuple[str, str]]:
    """For a flattened (in, out) weight: each mode's role and a label ("in", "out", "4 in x 2 out").

    Row-major flattening numbers W[a, b] as a * out + b, so the first modes hold the input
    index a until their product reaches `in`; the mode where it does may hold both.
    """
    in_features = split[0]
    roles, before = [], 1
    for k in sizes:
        after = before * k
        if after <= in_features and in_features % after == 0:
            roles.append(("in", ""))
        elif before >= in_features and before % in_features == 0:
            roles.append(("out", ""))
        elif in_features % before == 0 and k % (in_features // before) == 0:
            a = in_features // before
            roles.append(("both", f"{a} in x {k // a} out"))
        else:
            roles.append(("both", "in and out"))
        before = after
    return roles


def tt_diagram(shape, ranks=None, ax=None, split: tuple[int, int] | None = None) -> Figure:
    """Draw a tensor train as a tensor network: cores G_k, legs k_k, bonds r_k.

    Why: the picture is the quickest way to see where parameters live. Core k has
    r_{k-1} * k_k * r_k numbers (docs/method.md#tt-format), so a large leg or a large bond costs.

    Parameters
    ----------
    shape : sequence, TensorTrain or TTMatrix
        Mode sizes (k_1, ..., k_d). An entry (m, n) draws a TT-matrix core with an input leg m
        (up) and an output leg n (down). A TensorTrain / TTMatrix gives shape and ranks.
    ranks : int or sequence, optional
        One internal rank, the d-1 internal ranks or all d+1; None labels bonds symbolically.
    split : (in_features, out_features), optional
        The weight a flattened train folds (prod = in * out): legs that carry the input index
        are drawn blue, the output index green, a leg holding both half and half
        (docs/method.md#layouts). A TT-matrix always colours its input and output legs.

    Artists carry gids for tests: circles are ``Circle`` patches, legs and bonds are lines with
    gid "leg" and "bond".
    """
    if isinstance(shape, (TensorTrain, TTMatrix)):
        tt = shape
        ranks = tt.ranks if ranks is None else ranks
        shape = list(zip(tt.in_modes, tt.out_modes)) if isinstance(tt, TTMatrix) else list(tt.shape)
    modes = [tuple(int(v) for v in k) if isinstance(k, (tuple, list)) else (int(k),) for k in shape]
    d = len(modes)
    if ranks is not None:
        ranks = [int(ranks)] * (d - 1) if isinstance(ranks, int) else [int(r) for r in ranks]
        ranks = ranks[1:-1] if len(ranks) == d + 1 else ranks
        if len(ranks) != d - 1:
            raise ValueError(
                f"{d} cores have {d - 1} internal ranks, got {ranks}; "
                f"e.g. tt_diagram({[m[0] for m in modes]}, ranks=5)"
            )
    sizes = [math.prod(m) for m in modes]
    matrix = any(len(m) == 2 for m in modes)
    if split is not None and not matrix and math.prod(sizes) != split[0] * split[1]:
        raise ValueError(
            f"split {tuple(split)} has {split[0] * split[1]:,} entries but the modes "
            f"{sizes} multiply to {math.prod(sizes):,}"
        )
    roles = _leg_roles(sizes, split) if split is not None and not matrix else None
    fig, ax = new_figure(ax, width=min(7.5, 1.05 * d + 1.6), height=3.0)
    gap, radius = 1.5, 0.36
    for k, legs in enumerate(modes):
        x = k * gap
        ax.add_patch(
            Circle((x, 0), radius, facecolor="#fde9e7", edgecolor=LORETTA, lw=1.8, zorder=3)
        )
        ax.text(x, 0, f"$G_{{{k + 1}}}$", ha="center", va="center", fontsize=11, zorder=4)
        if len(legs) == 2:  # TT-matrix: input leg up, output leg down
            for size, sign, name, color in ((legs[0], 1, "m", INPUT), (legs[1], -1, "n", OUTPUT)):
                ax.plot([x, x], [sign * radius, sign * 1.05], color=color, lw=2.2, gid="leg")
                ax.text(
                    x,
                    sign * 1.15,
                    f"${name}_{{{k + 1}}}$={size}",
                    ha="center",
                    va="top" if sign < 0 else "bottom",
                    fontsize=10,
                )
            continue
        role, note = roles[k] if roles else ("", "")
        if role == "both":  # half input (upper), half output (lower)
            ax.plot([x, x], [-radius, -0.7], color=INPUT, lw=2.2, gid="leg")
            ax.plot([x, x], [-0.7, -1.05], color=OUTPUT, lw=2.2)
        else:
            color = {"in": INPUT, "out": OUTPUT}.get(role, "0.2")
            ax.plot([x, x], [-radius, -1.05], color=color, lw=2.2 if role else 1.6, gid="leg")
        ax.text(
            x,
            -1.15,
            f"$k_{{{k + 1}}}$={legs[0]}" + (f"\n{note}" if note else ""),
            ha="center",
            va="top",
            fontsize=10,
        )
    for k in range(d - 1):
        x = k * gap
        ax.plot([x + radius, x + gap - radius], [0, 0], color="0.2", lw=1.6, gid="bond")
        label = f"$r_{{{k + 1}}}$" if ranks is None else str(ranks[k])
        ax.text(x + gap / 2, 0.12, label, ha="center", va="bottom", fontsize=10, color=LORETTA)
    ax.set_xlim(-0.9, (d - 1) * gap + 0.9)
    ax.set_ylim(-2.2, 1.75 if matrix else 0.75)
    ax.set_aspect("equal")
    ax.axis("off")
    kind = "TT-matrix" if matrix else "tensor train"
    title = f"{kind}, {d} cores, modes {sizes}"
    if ranks is not None:
        full = [1, *ranks, 1]
        params = sum(full[i] * sizes[i] * full[i + 1] for i in range(d))
        title += (
            f"\n{params:,} parameters vs {math.prod(sizes):,} dense "
            f"({format_ratio(math.prod(sizes) / params)} fewer)"
        )
    ax.set_title(title, fontsize=10)
    if roles or matrix:
        handles = [
            Line2D([], [], color=INPUT, lw=2.2, label="input index (rows of W)"),
            Line2D([], [], color=OUTPUT, lw=2.2, label="output index (columns of W)"),
        ]
        ax.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, -0.02),
            ncols=2,
            frameon=False,
            fontsize=9,
        )
    return finish(fig)
