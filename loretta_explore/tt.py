"""TT-SVD and the TT-matrix layout: dense tensors and matrices into tensor trains.

TT-SVD (Oseledets 2011) builds the cores by successive truncated SVDs; its error is bounded by
the root of the sum of all discarded squared singular values (docs/method.md#tt-format). The
TT-matrix layout factors a matrix's rows and columns separately (docs/method.md#layouts). The
container, rounding and the shared SVD helpers are in :mod:`loretta_explore.tensor_train`; their
names stay importable from here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ._optional import require
from .tensor_train import (
    EXAMPLE,
    TensorTrain,
    TTSVDInfo,
    chain_cores,
    check_rel_error,
    compute_dtype,
    from_numpy_array,
    max_ranks,
    ranks_for_budget,
    requested_ranks,
    thin_svd,
    to_backend,
    truncation_rank,
    tt_round,
)
from .tensorize import suggest_ttm_modes
from .weight_layouts import matrix_to_ttm_tensor, ttm_tensor_to_matrix

__all__ = [
    "TTMatrix",
    "TTSVDInfo",
    "TensorTrain",
    "chain_cores",
    "ranks_for_budget",
    "tt_matrix",
    "tt_round",
    "tt_svd",
]


def _check_tensor(x) -> torch.Tensor:
    x = from_numpy_array(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"expected a torch.Tensor (or numpy array), got {type(x).__name__}. Example: {EXAMPLE}"
        )
    if x.device.type == "meta":
        raise ValueError(
            f"cannot decompose a meta tensor (shape {tuple(x.shape)}, no values): TT-SVD needs "
            f"the numbers. Example: {EXAMPLE}"
        )
    if x.numel() == 0:
        raise ValueError(
            f"cannot decompose an empty tensor of shape {tuple(x.shape)}. Example: {EXAMPLE}"
        )
    if x.ndim == 0:
        raise ValueError(f"cannot decompose a 0-d tensor; reshape it first. Example: {EXAMPLE}")
    if x.is_complex():
        raise TypeError("complex tensors are not supported; pass a real float tensor")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if not bool(torch.isfinite(x).all()):
        raise ValueError(
            "the tensor contains NaN or inf values; TT-SVD needs finite numbers. "
            f"Example: {EXAMPLE}"
        )
    return x


def tt_svd(x, max_rank=None, rel_error: float | None = None) -> TensorTrain:
    """Decompose a dense tensor into a tensor train by successive truncated SVDs (TT-SVD).

    Parameters
    ----------
    x : torch.Tensor (or numpy array) of shape (k_1, ..., k_d)
    max_rank : int, sequence of int, float or None
        An int caps every internal rank; a sequence gives d-1 internal ranks (or d+1 with the
        boundary 1s); a float in (0, 1] asks for the largest uniform rank whose TT costs at most
        that fraction of the dense parameters. None: no cap.
    rel_error : float, optional
        Target relative Frobenius error. Each of the d-1 truncations may discard
        rel_error * ||x|| / sqrt(d-1) (Oseledets 2011), so the total meets the target.

    Returns
    -------
    TensorTrain
        With ``info`` (a :class:`TTSVDInfo`): spectra, the error bound, and ``clipped``. A rank
        larger than a bond allows (min(prod of modes left, prod of modes right)) is clipped
        silently to that maximum and ``info.clipped`` is set: asking for "too much" rank is
        not an error, it just gives the exact decomposition.

    Cores come back in x's dtype. fp16 and bf16 tensors are decomposed in float32 (there is no
    half-precision QR or SVD, on CPU or GPU) and the cores rounded back to x's dtype at the end;
    integer tensors are decomposed in the default float dtype and keep it.
    """
    x = _check_tensor(x)
    shape, d, out_dtype = tuple(x.shape), x.ndim, x.dtype
    requested = requested_ranks(max_rank, shape)
    rel_error = check_rel_error(rel_error, "tt_svd(x, rel_error=0.1)")
    x = x.to(compute_dtype(out_dtype))
    norm = float(torch.linalg.vector_norm(x.double()))
    delta = 0.0 if rel_error is None else rel_error * norm / math.sqrt(max(d - 1, 1))
    info = TTSVDInfo(norm=norm, requested_ranks=[r if r != math.inf else -1 for r in requested])
    info.clipped = any(r != math.inf and r > c for r, c in zip(requested, max_ranks(shape)))

    cores, rest, r_prev = [], x, 1
    for k in range(d - 1):
        unfolding = rest.reshape(r_prev * shape[k], -1)  # (r_{k-1} n_k, n_{k+1} ... n_d)
        u, s, vh = thin_svd(unfolding)
        r = truncation_rank(s, requested[k], delta)
        info.singular_values.append(s.detach().cpu())
        info.discarded.append(float(torch.linalg.vector_norm(s[r:].double())))
        cores.append(u[:, :r].reshape(r_prev, shape[k], r))
        rest = s[:r, None] * vh[:r]  # (r_k, n_{k+1} ... n_d)
        r_prev = r
    cores.append(rest.reshape(r_prev, shape[-1], 1))
    return TensorTrain([c.to(out_dtype) for c in cores], info)


class TTMatrix:
    """A matrix W (in, out) in the TT-matrix layout: cores (r_{k-1}, m_k, n_k, r_k).

    in = prod m_k and out = prod n_k. The classic alternative to LoRETTA's flattened layout
    (docs/method.md#tt-format), kept so people can compare the two.
    """

    def __init__(self, cores: Sequence[torch.Tensor], info: TTSVDInfo | None = None):
        cores = list(cores)
        if not cores or any(c.ndim != 4 for c in cores):
            raise ValueError(
                "TT-matrix cores must be 4-D (r_prev, m, n, r_next), e.g. [torch.randn(1, 4, 2, 1)]"
            )
        self.cores, self.info = cores, info
        self._train = TensorTrain(
            [c.reshape(c.shape[0], -1, c.shape[3]) for c in cores]
        )  # validates ranks

    in_modes = property(lambda self: tuple(c.shape[1] for c in self.cores))
    out_modes = property(lambda self: tuple(c.shape[2] for c in self.cores))
    ranks = property(lambda self: self._train.ranks)
    num_params = property(lambda self: self._train.num_params)
    shape = property(lambda self: (math.prod(self.in_modes), math.prod(self.out_modes)))

    @property
    def compression(self) -> float:
        return math.prod(self.shape) / self.num_params

    def full(self) -> torch.Tensor:
        """The dense matrix W (in, out)."""
        return ttm_tensor_to_matrix(self._train.full(), self.in_modes, self.out_modes)

    def to_tensorly(self):
        tl = require("tensorly", purpose="TTMatrix.to_tensorly")
        from tensorly.tt_matrix import TTMatrix as TLTTMatrix

        return TLTTMatrix([to_backend(tl, c) for c in self.cores])

    @classmethod
    def from_tensorly(cls, ttm) -> TTMatrix:
        tl = require("tensorly", purpose="TTMatrix.from_tensorly")

        return cls([torch.as_tensor(tl.to_numpy(f)) for f in ttm])

    def __repr__(self) -> str:
        return (
            f"TTMatrix(in_modes={list(self.in_modes)}, out_modes={list(self.out_modes)}, "
            f"ranks={self.ranks}, params={self.num_params:,})"
        )


def tt_matrix(
    w: torch.Tensor, in_modes=None, out_modes=None, max_rank=None, rel_error=None
) -> TTMatrix:
    """Decompose a matrix W (in, out) into the TT-matrix layout with TT-SVD.

    The modes are interleaved, (m_1 n_1, ..., m_d n_d), then TT-SVD'd; each core is then split
    back into (r, m_k, n_k, r). Modes default to :func:`suggest_ttm_modes`.
    """
    w = _check_tensor(w)
    if w.ndim != 2:
        raise ValueError(f"tt_matrix needs a 2-D matrix (in, out), got shape {tuple(w.shape)}")
    if (in_modes is None) != (out_modes is None):
        given, missing = (
            ("in_modes", "out_modes") if out_modes is None else ("out_modes", "in_modes")
        )
        raise ValueError(
            f"tt_matrix got {given} but no {missing}: give both (their products must be "
            f"{w.shape[0]} and {w.shape[1]}), or neither to have them suggested. Example: "
            f"tt_matrix(w, in_modes={list(suggest_ttm_modes(*w.shape)[0])}, "
            f"out_modes={list(suggest_ttm_modes(*w.shape)[1])})"
        )
    if in_modes is None:
        in_modes, out_modes = suggest_ttm_modes(*w.shape)
    train = tt_svd(
        matrix_to_ttm_tensor(w, in_modes, out_modes), max_rank=max_rank, rel_error=rel_error
    )
    cores = [
        c.reshape(c.shape[0], m, n, c.shape[2]) for c, m, n in zip(train.cores, in_modes, out_modes)
    ]
    return TTMatrix(cores, train.info)
