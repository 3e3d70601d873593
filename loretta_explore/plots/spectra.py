"""Spectra of TT-SVD: the singular values of each unfolding, where a rank cuts them, and the
unfoldings themselves (docs/method.md#tt-format)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..tt import TensorTrain, TTSVDInfo
from ._style import finish, new_figure

__all__ = ["spectra", "spectra_limits", "spectra_panels", "unfoldings"]


def _kept_ranks(info: TTSVDInfo) -> list[int]:
    """Recover each bond's kept rank from the discarded norm: the cut whose tail norm matches."""
    kept = []
    for s, gone in zip(info.singular_values, info.discarded):
        tails = torch.sqrt(
            torch.flip(torch.cumsum(torch.flip(s.double() ** 2, [0]), 0), [0])
        ).tolist() + [0.0]
        kept.append(max(1, min(range(len(tails)), key=lambda i: abs(tails[i] - gone))))
    return kept


def _info(tt_or_info) -> TTSVDInfo:
    info = tt_or_info.info if isinstance(tt_or_info, TensorTrain) else tt_or_info
    if not isinstance(info, TTSVDInfo) or not info.singular_values:
        raise ValueError(
            "spectra needs a TensorTrain made by tt_svd (it keeps .info) or its TTSVDInfo; "
            "e.g. spectra(lx.tt_svd(torch.randn(8, 8, 8), max_rank=3))"
        )
    return info


def spectra_limits(*tts_or_infos) -> tuple[tuple[float, float], tuple[float, float]]:
    """(xlim, ylim) that hold every spectrum of the given TT-SVDs, for axes that stay put.

    Why: an explorer redraws the spectra at each rank. A truncation changes the later unfoldings
    (they are of the truncated remainder), so their smallest values depend on the rank; the
    limits of the lowest and the highest rank (``spectra_limits(tt_svd(x, max_rank=1),
    tt_svd(x, max_rank=top))``) hold the ranks in between in practice, and keep the axes still
    while the slider moves.
    """
    infos = [_info(t) for t in tts_or_infos]
    if not infos:
        raise ValueError(
            "spectra_limits needs one or more TT-SVDs; e.g. spectra_limits(lx.tt_svd(x, max_rank=8))"
        )
    values = [s for info in infos for s in info.singular_values]
    top = max(float(s.max()) for s in values)
    floor = top * 1e-13
    low = min(max(float(s.min()), floor) for s in values)
    longest = max(len(s) for s in values)
    return (0.5, longest + 0.5), (low / 3, top * 3)


def spectra(tt_or_info, ax=None, ranks=None, xlim=None, ylim=None, legend: bool = True) -> Figure:
    """Singular values of every unfolding TT-SVD cut (log scale), with the kept rank marked.

    Why: TT-SVD truncates bond k where the spectrum of unfolding k is cut; a fast decay means a
    small rank loses little, and the error is bounded by the root of the sum of all discarded
    squared values (docs/method.md#tt-format). One line per bond (d-1 lines); a circle per bond
    at the last kept value.

    Parameters
    ----------
    tt_or_info : TensorTrain (from :func:`~loretta_explore.tt.tt_svd`) or TTSVDInfo
    ranks : sequence of int, optional
        Kept internal ranks; default the train's ranks (or read from the info's discarded norms).
    xlim, ylim : fixed axis limits (see :func:`spectra_limits`); default: fit the data.
    """
    info = _info(tt_or_info)
    if ranks is None:
        ranks = tt_or_info.ranks[1:-1] if isinstance(tt_or_info, TensorTrain) else _kept_ranks(info)
    fig, ax = new_figure(ax, height=3.3)
    floor = (
        max(float(s.max()) for s in info.singular_values) * 1e-13
    )  # exact zeros cannot sit on a log axis
    for k, (s, r) in enumerate(zip(info.singular_values, ranks)):
        values = s.double().clamp_min(floor).tolist()
        index = list(range(1, len(values) + 1))
        (line,) = ax.plot(
            index,
            values,
            marker=".",
            ms=3,
            lw=1.2,
            color=f"C{k % 10}",
            label=f"bond {k + 1}: keep {r} of {len(values)}",
        )
        ax.scatter(
            [r],
            [values[r - 1]],
            s=60,
            facecolor="none",
            edgecolor=line.get_color(),
            lw=1.8,
            zorder=3,
        )
    ax.set_yscale("log")
    if xlim is not None:
        ax.set_xlim(*xlim)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel("index of singular value")
    ax.set_ylabel("singular value")
    ax.set_title(
        f"unfolding spectra; relative error bound {info.relative_error_bound:.3g}", fontsize=10
    )
    if legend:
        ax.legend(fontsize=9, loc="upper right", ncols=1 if len(ranks) < 5 else 2)
    ax.grid(alpha=0.3)
    return finish(fig)


def spectra_panels(trains: Mapping[str, TensorTrain], cut: int | None = None) -> Figure:
    """The spectra of several TT-SVDs, one panel each, on shared axes, one legend for the bonds.

    Why: comparing how fast the spectra of different tensors fall (noise, a pretrained weight, a
    fine-tuning update) needs the same axes; stacked panels at notebook width keep each readable.
    `cut` marks a rank on every bond (default: each train's own ranks).
    """
    names = list(trains)
    if not names:
        raise ValueError("spectra_panels needs {label: train}; e.g. {'random': lx.tt_svd(x)}")
    fig, axes = new_figure(
        nrows=len(names), height=1.9 * len(names) + 0.7, sharex=True, sharey=True
    )
    axes = [axes] if len(names) == 1 else list(axes)
    bonds = 0
    for ax, name in zip(axes, names):
        tt = trains[name]
        ranks = None if cut is None else [min(cut, len(s)) for s in _info(tt).singular_values]
        spectra(tt, ax=ax, ranks=ranks, legend=False)
        ax.set_title("")  # spectra's own title (the TT-SVD's bound) would sit beside the name
        ax.set_title(name, fontsize=10, loc="left")
        ax.set_xlabel("")
        bonds = max(bonds, len(_info(tt).singular_values))
    axes[-1].set_xlabel("index of singular value")
    handles = [
        Line2D([], [], color=f"C{k % 10}", marker=".", label=f"bond {k + 1}") for k in range(bonds)
    ]
    if cut is not None:
        handles.append(
            Line2D([], [], ls="", marker="o", mfc="none", mec="0.2", label=f"cut at rank {cut}")
        )
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 5),
        fontsize=9,
        frameon=False,
    )
    return finish(fig)


def unfoldings(x, spectra_up_to: int = 24) -> Figure:
    """Each unfolding X_<k> of a tensor as a heatmap (one colour bar), and their singular values.

    Why: the TT rank at bond k is at most the matrix rank of X_<k> = x.reshape(k_1...k_k, -1)
    (Oseledets 2011, Thm 2.1), so the unfoldings' spectra tell in advance which ranks are cheap
    (docs/method.md#tt-format). The heatmaps show the same numbers rearranged; the colour bar
    gives their values.
    """
    t = torch.as_tensor(x).detach().double()
    if t.ndim < 2 or t.ndim > 6:
        raise ValueError(f"unfoldings draws a tensor with 2 to 6 modes, got shape {tuple(t.shape)}")
    d = t.ndim
    fig, axes = new_figure(
        nrows=2, ncols=d - 1, height=5.6, squeeze=False, gridspec_kw={"height_ratios": [1.2, 1]}
    )
    low, high = float(t.min()), float(t.max())
    image = None
    grid = axes[1][0].get_gridspec()
    for ax in axes[1]:
        ax.remove()
    spectrum_ax = fig.add_subplot(grid[1, :])  # one wide panel under the heatmaps
    for k in range(d - 1):
        unfolding = t.reshape(
            math.prod(t.shape[: k + 1]), -1
        )  # X_<k>: (k_1 ... k_k, k_{k+1} ... k_d)
        ax = axes[0][k]
        image = ax.imshow(
            unfolding.numpy(),
            aspect="auto",
            cmap="viridis",
            vmin=low,
            vmax=high,
            interpolation="nearest",
        )
        ax.set_title(f"$X_{{<{k + 1}>}}$: {unfolding.shape[0]} x {unfolding.shape[1]}", fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
        s = torch.linalg.svdvals(unfolding)
        spectrum_ax.semilogy(
            range(1, len(s) + 1),
            s.clamp_min(float(s.max()) * 1e-16).tolist(),
            marker=".",
            color=f"C{k}",
            label=f"unfolding {k + 1} ({len(s)} values)",
        )
    fig.colorbar(image, ax=[axes[0][k] for k in range(d - 1)], label="entry value", shrink=0.9)
    spectrum_ax.set(
        xlabel="index",
        ylabel="singular value",
        xlim=(0.5, spectra_up_to + 0.5),
        title=f"their singular values (first {spectra_up_to})",
    )
    spectrum_ax.legend(fontsize=9)
    spectrum_ax.grid(alpha=0.3)
    return finish(fig)
