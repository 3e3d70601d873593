"""Experiments behind the lessons' figures: TT-SVD rank sweeps, layout comparisons, count grids.

Each function runs one small experiment and returns a documented dataclass; the figure builders
(:mod:`loretta_explore.plots`) only draw such results. Why the split: a student can print, test or
tabulate the numbers a figure shows, and a figure never hides a computation.

- :func:`rank_sweep`: ``tt_svd`` at each maximal rank (error, parameters, the TT-SVD bound);
- :func:`layout_sweep`: one weight in three layouts at each rank: the flattened TT LoRETTA uses,
  the TT-matrix, and a plain truncated SVD (docs/method.md#layouts);
- :func:`trainable_grid`: the analytic count of a method over (tt_rank, bottleneck)
  (docs/method.md#counting).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch

from .budget import count_trainable
from .tensorize import suggest_shape
from .tt import tt_matrix, tt_svd

__all__ = [
    "LayoutPoint",
    "LayoutSweep",
    "RankPoint",
    "RankSweep",
    "TrainableGrid",
    "layout_sweep",
    "rank_sweep",
    "rank_sweeps",
    "trainable_grid",
]


# ---------------------------------------------------------------------------------------------
# Rank sweeps (docs/method.md#tt-format)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankPoint:
    """``tt_svd(x, max_rank=rank)``: its cost and error.

    rank : the maximal rank asked for; ranks : the ranks kept (boundary 1s included)
    params : the train's numbers; rel_error : ||X - TT|| / ||X|| measured on the dense tensor
    bound : TT-SVD's bound on rel_error from the discarded singular values
    """

    rank: int
    params: int
    rel_error: float
    bound: float
    ranks: tuple[int, ...]


@dataclass
class RankSweep:
    """One tensor decomposed at several maximal ranks (:func:`rank_sweep`).

    label : what the tensor is (a legend entry); shape : the shape it was decomposed in
    (a matrix is folded first); dense : its number of entries; points : one per rank, ascending.
    """

    label: str
    shape: tuple[int, ...]
    dense: int
    points: list[RankPoint] = field(default_factory=list)

    @property
    def ranks(self) -> list[int]:
        return [p.rank for p in self.points]

    @property
    def params(self) -> list[int]:
        return [p.params for p in self.points]

    @property
    def rel_errors(self) -> list[float]:
        return [p.rel_error for p in self.points]

    @property
    def bounds(self) -> list[float]:
        return [p.bound for p in self.points]

    def rows(self) -> list[dict]:
        """The points as dicts (the format ``plots.rank_sweep`` used to return)."""
        return [
            dict(
                rank=p.rank,
                params=p.params,
                rel_error=p.rel_error,
                bound=p.bound,
                shape=self.shape,
                ranks=list(p.ranks),
            )
            for p in self.points
        ]


def _fold(x, shape) -> torch.Tensor:
    t = torch.as_tensor(x).detach()
    if shape is not None:
        if math.prod(shape) != t.numel():
            raise ValueError(
                f"shape {tuple(shape)} holds {math.prod(shape):,} entries but the tensor "
                f"has {t.numel():,} (shape {tuple(t.shape)}); pass a shape whose product "
                f"is {t.numel():,}, e.g. shape={_example_shape(t)}"
            )
        return t.reshape(tuple(shape))
    return (
        t.reshape(suggest_shape(*t.shape)) if t.ndim == 2 else t
    )  # a weight: fold it as LoRETTA does


def _example_shape(t: torch.Tensor) -> tuple[int, ...]:
    """A valid example shape for an error message (the suggested fold of a matrix)."""
    return tuple(suggest_shape(*t.shape)) if t.ndim == 2 else tuple(t.shape)


def rank_sweep(
    x, ranks: Iterable[int] = range(1, 17), shape=None, label: str = "tensor"
) -> RankSweep:
    """``tt_svd`` of `x` at each maximal rank in `ranks`: error, bound and parameters.

    Why: the curve of error against rank is what decides whether a tensor is "TT-compressible"
    (docs/method.md#tt-format). A 2-D `x` without `shape` is folded with
    :func:`~loretta_explore.tensorize.suggest_shape` (LoRETTA's flattened layout); a matrix left
    2-D would just be a truncated SVD. Computed in float64.
    """
    t = _fold(x, shape).double()
    if t.ndim < 2:
        raise ValueError(
            f"a rank sweep needs a tensor with 2 or more modes, got shape {tuple(t.shape)}; "
            "e.g. rank_sweep(torch.randn(8, 8, 8))"
        )
    ranks = sorted({int(r) for r in ranks})
    if not ranks or ranks[0] < 1:
        raise ValueError(f"ranks must be integers >= 1, got {ranks}; e.g. ranks=range(1, 9)")
    norm = float(torch.linalg.vector_norm(t))
    points = []
    for r in ranks:
        tt = tt_svd(t, max_rank=r)
        error = float(torch.linalg.vector_norm(t - tt.full())) / norm if norm else 0.0
        points.append(
            RankPoint(r, tt.num_params, error, tt.info.relative_error_bound, tuple(tt.ranks))
        )
    return RankSweep(label, tuple(t.shape), t.numel(), points)


def rank_sweeps(
    named: Mapping, ranks: Iterable[int] = range(1, 17), shape=None
) -> dict[str, RankSweep]:
    """:func:`rank_sweep` of each tensor in ``{label: tensor}``, at the same ranks."""
    ranks = list(ranks)
    return {str(label): rank_sweep(x, ranks, shape, label=str(label)) for label, x in named.items()}


# ---------------------------------------------------------------------------------------------
# Layouts (docs/method.md#layouts)
# ---------------------------------------------------------------------------------------------

LAYOUTS = ("flattened TT", "TT-matrix", "truncated SVD")


@dataclass(frozen=True)
class LayoutPoint:
    """One approximation of the weight: its layout, the rank asked for, its cost and its error.

    For "truncated SVD" the rank is the number k of singular triplets, costing k * (in + out).
    """

    layout: str
    rank: int
    params: int
    rel_error: float


@dataclass
class LayoutSweep:
    """One (in, out) weight approximated in three layouts at several ranks (:func:`layout_sweep`).

    label : what the weight is; shape : the flattened TT shape (prod = in * out);
    in_modes, out_modes : the TT-matrix modes; dense : in * out; points : every approximation.
    """

    label: str
    in_features: int
    out_features: int
    shape: tuple[int, ...]
    in_modes: tuple[int, ...]
    out_modes: tuple[int, ...]
    points: list[LayoutPoint] = field(default_factory=list)

    @property
    def dense(self) -> int:
        return self.in_features * self.out_features

    @property
    def layouts(self) -> list[str]:
        return [name for name in LAYOUTS if any(p.layout == name for p in self.points)]

    def curve(self, layout: str) -> list[LayoutPoint]:
        """The points of one layout, by rank."""
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        return sorted((p for p in self.points if p.layout == layout), key=lambda p: p.rank)


def _relative(a: torch.Tensor, b: torch.Tensor, norm: float) -> float:
    return float(torch.linalg.vector_norm(a - b)) / norm if norm else 0.0


def layout_sweep(
    weight,
    ranks: Iterable[int] = (1, 2, 4, 8, 16, 32),
    shape=None,
    svd_ranks: Iterable[int] | None = (1, 2, 4, 8, 16, 32, 64, 128),
    label: str = "weight",
) -> LayoutSweep:
    """Approximate an (in, out) weight as a flattened TT, a TT-matrix and a truncated SVD.

    Why: at equal parameter counts, which layout describes a weight best (docs/method.md#layouts)?
    The flattened TT folds W row-major into `shape` (default :func:`suggest_shape`); the TT-matrix
    uses :func:`~loretta_explore.tt.tt_matrix`'s balanced modes; the truncated SVD keeps k singular
    triplets (``svd_ranks``, capped at min(in, out); None leaves it out). Computed in float32 for
    weights above 2**18 entries (errors to about 1e-6), float64 below.
    """
    w = (
        weight.weight.detach().T
        if isinstance(weight, torch.nn.Linear)
        else torch.as_tensor(weight).detach()
    )
    if w.ndim != 2:
        raise ValueError(
            f"layout_sweep takes an (in, out) matrix, got shape {tuple(w.shape)}; "
            "e.g. layout_sweep(linear.weight.T)"
        )
    w = w.double() if w.numel() <= 2**18 else w.float()
    in_f, out_f = w.shape
    shape = tuple(shape) if shape is not None else tuple(suggest_shape(in_f, out_f))
    if math.prod(shape) != w.numel():
        raise ValueError(
            f"shape {shape} holds {math.prod(shape):,} entries, the weight {w.numel():,}; "
            f"e.g. shape={tuple(suggest_shape(in_f, out_f))}"
        )
    norm = float(torch.linalg.vector_norm(w))
    points, in_modes, out_modes = [], (), ()
    for r in sorted({int(r) for r in ranks}):
        tt = tt_svd(w.reshape(shape), max_rank=r)
        points.append(
            LayoutPoint(
                "flattened TT", r, tt.num_params, _relative(tt.full().reshape(w.shape), w, norm)
            )
        )
        tm = tt_matrix(w, max_rank=r)
        in_modes, out_modes = tuple(tm.in_modes), tuple(tm.out_modes)
        points.append(LayoutPoint("TT-matrix", r, tm.num_params, _relative(tm.full(), w, norm)))
    if svd_ranks is not None:
        s = torch.linalg.svdvals(w)
        total = float(torch.linalg.vector_norm(s))
        for k in sorted({min(int(k), len(s)) for k in svd_ranks}):
            rest = float(torch.linalg.vector_norm(s[k:])) / total if total else 0.0
            points.append(LayoutPoint("truncated SVD", k, k * (in_f + out_f), rest))
    return LayoutSweep(label, in_f, out_f, shape, in_modes, out_modes, points)


# ---------------------------------------------------------------------------------------------
# Analytic counts over a grid (docs/method.md#counting)
# ---------------------------------------------------------------------------------------------


@dataclass
class TrainableGrid:
    """Trainable parameters of one method over (tt_rank, bottleneck), counted from the config.

    counts[i][j] is the count at ``tt_ranks[i]`` and ``bottlenecks[j]``; references holds other
    methods' counts at their default settings ({label: count}), for a plane to compare against.
    """

    model: str
    method: str
    tt_ranks: list[int]
    bottlenecks: list[int]
    counts: list[list[int]]
    references: dict[str, int] = field(default_factory=dict)

    def count(self, tt_rank: int, bottleneck: int) -> int:
        return self.counts[self.tt_ranks.index(tt_rank)][self.bottlenecks.index(bottleneck)]


def trainable_grid(
    model: str = "llama-2-7b",
    method: str = "loretta_adp",
    tt_ranks: Iterable[int] = range(1, 17),
    bottlenecks: Iterable[int] = (8, 16, 32, 64, 128),
    references: Iterable[str] = ("lora", "adapters"),
    **settings,
) -> TrainableGrid:
    """``count_trainable(model, method, tt_rank=r, bottleneck=b, **settings)`` for every (r, b).

    Why: the rank enters quadratically (middle cores cost r * k * r), the bottleneck linearly; a
    surface over both shows it at a glance. `references` are counted at their defaults (LoRA r=8,
    adapters b=64 on LLaMA). Each count is analytic (milliseconds), so 16 x 5 counts take seconds.
    """
    if method not in ("loretta_adp", "loretta_rep"):
        raise ValueError(
            f"trainable_grid sweeps tt_rank and bottleneck, which only LoRETTA methods "
            f"have; got method={method!r}. Example: trainable_grid('llama-2-7b', 'loretta_rep')"
        )
    rs, bs = [int(r) for r in tt_ranks], [int(b) for b in bottlenecks]
    counts = [
        [count_trainable(model, method, tt_rank=r, bottleneck=b, **settings) for b in bs]
        for r in rs
    ]
    refs = {name: count_trainable(model, name) for name in references}
    return TrainableGrid(model, method, rs, bs, counts, refs)
