"""The tensor-train container: cores, contraction, the truncation record, and TT rounding.

A d-way tensor X of shape (k_1, ..., k_d) is stored as cores G_i of shape (r_{i-1}, k_i, r_i),
r_0 = r_d = 1, with X[i_1, ..., i_d] = G_1[:, i_1, :] @ ... @ G_d[:, i_d, :]
(docs/method.md#tt-format). It costs sum_i r_{i-1} k_i r_i numbers instead of prod_i k_i.
Rounding lowers the ranks of a train without forming the dense tensor; the SVD helpers here are
shared with TT-SVD (:mod:`loretta_explore.tt`). Plain torch: CPU or GPU, float32 or float64.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ._integers import as_float, as_int, is_integer_like
from ._optional import require
from .tensorize import as_shape

__all__ = ["TTSVDInfo", "TensorTrain", "chain_cores", "ranks_for_budget", "tt_round"]

EXAMPLE = "tt_svd(torch.randn(8, 12, 8), max_rank=4)"


def chain_cores(cores: Sequence[torch.Tensor]) -> torch.Tensor | None:
    """Contract cores (r_0, n_1, r_1), ..., (r_{k-1}, n_k, r_k) into the matrix
    (r_0 n_1 ... n_k, r_k), row-major over the modes; None if there are no cores.

    The one contraction behind :meth:`TensorTrain.full` and the TT layers' forward. It takes
    k - 1 matrix products, one kernel each and no copies (every operand is a view), in the
    cheapest order: contracting the segments [i..m] and [m+1..j] is the product
    (r_{i-1} N_left, r_m) @ (r_m, N_right r_j), whose result read row-major already is the merged
    segment (r_{i-1}, N_left N_right, r_j). Left to right is cheapest when the ranks grow along
    the train; for the usual trains (equal ranks, many modes) a balanced order does about half
    the multiply-adds, and its smaller intermediates halve the backward's too. The order comes
    from the matrix-chain dynamic programme, computed once per shape.
    """
    if not cores:
        return None
    ranks = tuple([cores[0].shape[0]] + [c.shape[-1] for c in cores])
    modes = tuple(c.shape[1] for c in cores)
    # torch.compile traces the plain function (same plan; it warns about the cache otherwise)
    plan = _chain_order.__wrapped__ if torch.compiler.is_compiling() else _chain_order
    return _contract(cores, plan(ranks, modes), 0, len(cores) - 1).reshape(-1, ranks[-1])


@functools.lru_cache(maxsize=1024)
def _chain_order(ranks: tuple[int, ...], modes: tuple[int, ...]) -> dict[tuple[int, int], int]:
    """{(i, j): m}: split segment [i..j] after core m (matrix-chain order over the train)."""
    d = len(modes)
    size = {(i, j): math.prod(modes[i : j + 1]) for i in range(d) for j in range(i, d)}
    cost = {(i, i): 0 for i in range(d)}
    split: dict[tuple[int, int], int] = {}
    for length in range(2, d + 1):
        for i in range(d - length + 1):
            j = i + length - 1
            for m in range(i, j):  # plain loops: torch.compile traces them at compile time
                c = cost[i, m] + cost[m + 1, j]
                c += ranks[i] * size[i, m] * ranks[m + 1] * size[m + 1, j] * ranks[j + 1]
                if (i, j) not in cost or c < cost[i, j]:
                    cost[i, j], split[i, j] = c, m
    return split


def _contract(cores, split, i: int, j: int) -> torch.Tensor:
    """Segment [i..j] as a (r_{i-1}, n_i ... n_j, r_j) tensor (a view of one product)."""
    if i == j:
        return cores[i]
    m = split[i, j]
    left, right = _contract(cores, split, i, m), _contract(cores, split, m + 1, j)
    r_left, r_mid, r_right = left.shape[0], left.shape[-1], right.shape[-1]
    # (r_{i-1} N_left, r_m) @ (r_m, N_right r_j) -> (r_{i-1}, N_left N_right, r_j)
    return (left.reshape(-1, r_mid) @ right.reshape(r_mid, -1)).reshape(r_left, -1, r_right)


@dataclass
class TTSVDInfo:
    """What a truncation threw away, for error bars and spectrum plots.

    Attributes
    ----------
    singular_values : list of Tensor
        The singular values of each unfolding (bond k = between modes k and k+1), before truncation.
    discarded : list of float
        Frobenius norm of the discarded singular values at each bond.
    norm : float
        ||X||_F of what was truncated.
    error_bound : float (derived)
        sqrt(sum of squared discarded singular values): an upper bound on ||X - TT||_F.
    relative_error_bound : float (derived)
        error_bound / ||X||_F.
    requested_ranks : list of int
        The internal ranks that were asked for (before clipping).
    clipped : bool
        True where a requested rank exceeded what the tensor allows and was lowered to it.
    """

    singular_values: list[torch.Tensor] = field(default_factory=list)
    discarded: list[float] = field(default_factory=list)
    norm: float = 0.0
    requested_ranks: list[int] = field(default_factory=list)
    clipped: bool = False

    @property
    def error_bound(self) -> float:
        return math.sqrt(sum(e * e for e in self.discarded))

    @property
    def relative_error_bound(self) -> float:
        return self.error_bound / self.norm if self.norm > 0 else 0.0


def from_numpy_array(x):
    """A numpy array as a tensor sharing its memory; anything else unchanged (checked later)."""
    if type(x).__module__ == "numpy" and hasattr(x, "shape"):
        return torch.from_numpy(x)
    return x


class TensorTrain:
    """A tensor in TT format: a list of cores of shape (r_{k-1}, n_k, r_k) with r_0 = r_d = 1.

    Examples
    --------
    >>> x = torch.randn(4, 5, 6, dtype=torch.float64)
    >>> tt = tt_svd(x)                    # exact at full rank
    >>> tt.ranks, tt.num_params
    ([1, 4, 6, 1], 172)
    """

    def __init__(self, cores: Sequence[torch.Tensor], info: TTSVDInfo | None = None):
        if isinstance(cores, (torch.Tensor, str, bytes)):
            raise TypeError(
                f"cores must be a list of 3-D tensors, got one {type(cores).__name__} "
                f"{tuple(getattr(cores, 'shape', ()))}. "
                "Example: TensorTrain([torch.randn(1, 4, 3), torch.randn(3, 5, 1)])"
            )
        cores = [from_numpy_array(c) for c in cores]  # as tt_svd reads its input
        if not cores:
            raise ValueError("a TensorTrain needs at least one core, e.g. [torch.randn(1, 4, 1)]")
        for i, c in enumerate(cores):
            if not isinstance(c, torch.Tensor) or c.ndim != 3:
                raise ValueError(
                    f"core {i} must be a 3-D tensor (r_prev, n, r_next), got "
                    f"{getattr(c, 'shape', type(c).__name__)}. "
                    "Example: [torch.randn(1, 4, 3), torch.randn(3, 5, 1)]"
                )
            if c.numel() == 0:
                raise ValueError(
                    f"core {i} has shape {tuple(c.shape)}: a rank or mode of size 0 holds nothing. "
                    "Example: [torch.randn(1, 4, 3), torch.randn(3, 5, 1)]"
                )
            if c.dtype != cores[0].dtype or c.device != cores[0].device:
                raise ValueError(
                    f"core {i} is {c.dtype} on device {c.device} but core 0 is {cores[0].dtype} on "
                    f"device {cores[0].device}: a train's cores must share dtype and device, e.g. "
                    "TensorTrain([c.to(torch.float32) for c in cores])"
                )
            if (
                c.device.type != "meta"  # shapes only: no values to check
                and (c.is_floating_point() or c.is_complex())
                and not bool(torch.isfinite(c).all())
            ):
                raise ValueError(
                    f"core {i} contains NaN or inf; a train of such cores is NaN everywhere. Where "
                    "did the cores come from (a diverged training run?); check with "
                    "[bool(c.isfinite().all()) for c in cores]"
                )
        if cores[0].shape[0] != 1 or cores[-1].shape[2] != 1:
            raise ValueError(
                f"boundary ranks must be 1, got r_0={cores[0].shape[0]} and "
                f"r_d={cores[-1].shape[2]}"
            )
        for i in range(len(cores) - 1):
            if cores[i].shape[2] != cores[i + 1].shape[0]:
                raise ValueError(
                    f"core {i} ends with rank {cores[i].shape[2]} but core {i + 1} starts with "
                    "rank "
                    f"{cores[i + 1].shape[0]}: neighbouring ranks must match"
                )
        self.cores = cores
        self.info = info

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(c.shape[1] for c in self.cores)

    @property
    def ranks(self) -> list[int]:
        """All d+1 ranks, including the boundary 1s."""
        return [1] + [c.shape[2] for c in self.cores]

    @property
    def order(self) -> int:
        return len(self.cores)

    @property
    def num_params(self) -> int:
        """sum_k r_{k-1} n_k r_k."""
        return sum(c.numel() for c in self.cores)

    @property
    def dense_size(self) -> int:
        return math.prod(self.shape)

    @property
    def compression(self) -> float:
        """How many times fewer numbers than the dense tensor."""
        return self.dense_size / self.num_params

    def full(self) -> torch.Tensor:
        """Contract the train left to right into the dense tensor (k_1, ..., k_d)."""
        return chain_cores(self.cores).reshape(self.shape)

    def round(self, max_rank=None, rel_error: float | None = None) -> TensorTrain:
        """TT rounding: lower the ranks without forming the dense tensor. See :func:`tt_round`."""
        return tt_round(self, max_rank=max_rank, rel_error=rel_error)

    def to(self, *args, **kwargs) -> TensorTrain:
        return TensorTrain([c.to(*args, **kwargs) for c in self.cores], self.info)

    def norm(self) -> float:
        return float(torch.linalg.vector_norm(self.full()))

    def to_tensorly(self):
        """A tensorly ``TTTensor`` with the same cores (in tensorly's current backend)."""
        tl = require("tensorly", purpose="TensorTrain.to_tensorly")
        from tensorly.tt_tensor import TTTensor

        return TTTensor([to_backend(tl, c) for c in self.cores])

    @classmethod
    def from_tensorly(cls, tt) -> TensorTrain:
        """Build from a tensorly ``TTTensor`` (or any list of (r, n, r) factors)."""
        tl = require("tensorly", purpose="TensorTrain.from_tensorly")

        return cls([torch.as_tensor(tl.to_numpy(f)) for f in tt])

    def __repr__(self) -> str:
        return (
            f"TensorTrain(shape={list(self.shape)}, ranks={self.ranks}, "
            f"params={self.num_params:,}, "
            f"compression={self.compression:.1f}x)"
        )


def to_backend(tl, core: torch.Tensor):
    if tl.get_backend() == "pytorch":
        return tl.tensor(core)
    return tl.tensor(core.detach().cpu().numpy())


_LOW_PRECISION = (torch.float16, torch.bfloat16)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """fp16/bf16 are decomposed in float32: LAPACK/cuSOLVER have no QR or SVD for them, and
    their 3 significant digits would swamp the singular values anyway."""
    return torch.float32 if dtype in _LOW_PRECISION else dtype


def requested_ranks(max_rank, shape: Sequence[int]) -> list[int]:
    """Normalise max_rank to d-1 internal ranks (None means unlimited).

    Accepted: None; a float in (0, 1] (a parameter budget); one integer-like (int, numpy
    integer, 0-d tensor); a sequence, numpy array or 1-D tensor of d-1 or d+1 integer-likes.
    """
    d = len(shape)
    example = f"max_rank=4 or max_rank={[4] * (d - 1)}"
    if max_rank is None:
        return [math.inf] * (d - 1)
    if isinstance(max_rank, float) or (
        getattr(max_rank, "ndim", None) == 0 and getattr(max_rank, "is_floating_point", bool)()
    ):
        if not math.isfinite(float(max_rank)):
            raise ValueError(
                f"max_rank {float(max_rank)} is not a number: give an int, a list of ints or a "
                f"fraction of the dense parameters in (0, 1]. Example: {example} or max_rank=0.1"
            )
        return ranks_for_budget(shape, max_rank)[1:-1]
    if is_integer_like(max_rank) or isinstance(max_rank, bool):
        ranks = [as_int(max_rank, "max_rank", example)] * (d - 1)
    else:
        if isinstance(max_rank, (str, bytes)) or getattr(max_rank, "ndim", 1) != 1:
            raise TypeError(
                f"max_rank must be None, an int, a float in (0, 1] or a list of ints, got "
                f"{max_rank!r}. Example: {example}"
            )
        try:
            given = list(max_rank)
        except TypeError:
            raise TypeError(
                f"max_rank must be None, an int, a float in (0, 1] or a list of ints, got "
                f"{max_rank!r} ({type(max_rank).__name__}). Example: {example}"
            ) from None
        ranks = [as_int(r, "every rank in max_rank", example, minimum=None) for r in given]
        if len(ranks) == d + 1:
            if ranks[0] != 1 or ranks[-1] != 1:
                raise ValueError(
                    f"boundary ranks must be 1, got {ranks}. Example: {[1] + [4] * (d - 1) + [1]}"
                )
            ranks = ranks[1:-1]
        if len(ranks) != d - 1:
            raise ValueError(
                f"a {d}-way tensor has {d - 1} internal ranks; got {len(ranks)}: {ranks}. "
                f"Give one int, {d - 1} internal ranks, or {d + 1} ranks with boundary 1s, "
                f"e.g. max_rank={[4] * (d - 1)}"
            )
    if any(r < 1 for r in ranks):
        raise ValueError(f"ranks must be >= 1, got {max_rank!r}. Example: {EXAMPLE}")
    return ranks


def ranks_for_budget(shape: Sequence[int], fraction: float) -> list[int]:
    """One uniform internal rank whose TT costs at most `fraction` of the dense parameters.

    Like tensorly's ``validate_tt_rank`` with a float rank: handy for a slider. The rank is at
    least 1; each bond is also clipped to what the tensor allows. Returns all d+1 ranks. The
    cost grows with the rank, so the largest fitting rank is found by bisection.
    """
    shape = as_shape(shape, "shape", "ranks_for_budget([8, 12, 8, 8], 0.1)")
    fraction = as_float(fraction, "fraction", "ranks_for_budget([8, 12, 8, 8], 0.1)")
    if not 0 < fraction <= 1:
        raise ValueError(
            f"a rank given as a float is a fraction of the dense parameters in (0, 1], got "
            f"{fraction}. Example: tt_svd(x, max_rank=0.1) keeps at most 10% of the numbers"
        )
    d, dense = len(shape), math.prod(shape)
    caps = max_ranks(shape)

    def cost(r: int) -> int:
        ranks = [1] + [min(r, c) for c in caps] + [1]
        return sum(ranks[i] * shape[i] * ranks[i + 1] for i in range(d))

    low, high = 1, max(caps, default=1)  # cost(low) fits or low is the floor of 1
    while low < high:
        mid = (low + high + 1) // 2
        if cost(mid) <= fraction * dense:
            low = mid
        else:
            high = mid - 1
    return [1] + [min(low, c) for c in caps] + [1]


def max_ranks(shape: Sequence[int]) -> list[int]:
    """The largest rank each bond can have: min(prod of modes left, prod of modes right)."""
    return [
        min(math.prod(shape[: k + 1]), math.prod(shape[k + 1 :])) for k in range(len(shape) - 1)
    ]


def thin_svd(a: torch.Tensor):
    """Thin SVD; a very wide or tall matrix is first squeezed by QR (same result, several times
    faster).

    For a (m, N) matrix with N >> m, a^T = Q R gives a = R^T Q^T, and the SVD of the small
    (m, m) matrix R^T = U S W^T gives a = U S (Q W)^T. LAPACK's own SVD does not take this
    shortcut for wide matrices on every backend, and TT-SVD unfoldings are usually very wide.
    """
    m, n = a.shape
    if n > 2 * m:
        q, r = torch.linalg.qr(a.T)  # (n, m), (m, m)
        u, s, wh = torch.linalg.svd(r.T)
        return u, s, wh @ q.T
    if m > 2 * n:
        q, r = torch.linalg.qr(a)  # (m, n), (n, n)
        u, s, vh = torch.linalg.svd(r)
        return q @ u, s, vh
    return torch.linalg.svd(a, full_matrices=False)


def truncation_rank(s: torch.Tensor, max_rank, delta: float) -> int:
    """Smallest rank whose discarded tail has norm <= delta, capped by max_rank."""
    tail = torch.sqrt(
        torch.flip(torch.cumsum(torch.flip(s.double() ** 2, [0]), 0), [0])
    )  # tail[i] = ||s[i:]||
    keep = int((tail > delta).sum())  # singular values that must stay
    return max(1, min(keep, max_rank, s.numel()))


def check_rel_error(rel_error, example: str) -> float | None:
    if rel_error is None:
        return None
    rel_error = as_float(rel_error, "rel_error", example)
    if rel_error < 0:
        raise ValueError(f"rel_error must be >= 0, got {rel_error}. Example: {example}")
    return rel_error


def tt_round(tt: TensorTrain, max_rank=None, rel_error: float | None = None) -> TensorTrain:
    """TT rounding (Oseledets 2011, Alg. 2): orthogonalise, then truncated SVDs, never dense.

    A left-to-right QR sweep makes every core but the last left-orthogonal, so the whole norm
    sits in the last core; a right-to-left sweep of truncated SVDs then cuts each bond with the
    same error control as :func:`tt_svd`. Costs O(d n r^3), independent of the dense size.
    fp16/bf16 trains are rounded in float32 and come back in their own dtype.
    """
    if not isinstance(tt, TensorTrain):
        raise TypeError(
            f"tt_round needs a TensorTrain, got {type(tt).__name__}. "
            "Example: tt_round(tt_svd(torch.randn(8, 12, 8)), max_rank=2)"
        )
    requested = requested_ranks(max_rank, tt.shape)
    rel_error = check_rel_error(rel_error, "tt.round(rel_error=0.1)")
    out_dtype = tt.cores[0].dtype
    if not out_dtype.is_floating_point:
        raise TypeError(
            f"TT rounding needs floating-point cores, got {out_dtype}; use tt.to(torch.float32)"
        )
    if not all(bool(torch.isfinite(c).all()) for c in tt.cores):
        raise ValueError(
            "the train has NaN or inf in its cores; rounding needs finite numbers. Check where "
            "the cores came from (a diverged training run?), e.g. "
            "[c.isfinite().all() for c in tt.cores]"
        )
    cores = [c.to(compute_dtype(out_dtype), copy=True) for c in tt.cores]
    d = len(cores)
    for k in range(d - 1):  # left-to-right QR
        r, n, r_next = cores[k].shape
        q, rr = torch.linalg.qr(cores[k].reshape(r * n, r_next))
        cores[k] = q.reshape(r, n, q.shape[1])
        cores[k + 1] = torch.einsum("ab,bnc->anc", rr, cores[k + 1])
    norm = float(torch.linalg.vector_norm(cores[-1].double()))
    delta = 0.0 if rel_error is None else rel_error * norm / math.sqrt(max(d - 1, 1))
    info = TTSVDInfo(norm=norm, requested_ranks=[r if r != math.inf else -1 for r in requested])
    spectra, discarded = [], []
    for k in range(d - 1, 0, -1):  # right-to-left truncated SVD
        r, n, r_next = cores[k].shape
        u, s, vh = thin_svd(cores[k].reshape(r, n * r_next))
        keep = truncation_rank(s, requested[k - 1], delta)
        spectra.insert(0, s.detach().cpu())
        discarded.insert(0, float(torch.linalg.vector_norm(s[keep:].double())))
        cores[k] = vh[:keep].reshape(keep, n, r_next)
        cores[k - 1] = torch.einsum("anb,bc->anc", cores[k - 1], u[:, :keep] * s[:keep])
    info.singular_values, info.discarded = spectra, discarded
    return TensorTrain([c.to(out_dtype) for c in cores], info)
