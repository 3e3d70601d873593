"""A weight matrix and its tensor, both ways: the flattened layout and the TT-matrix layout.

The flattened layout (docs/method.md#layouts) reads W (in, out) row-major and folds it into one
shape; the TT-matrix layout pairs an input mode with an output mode in every core. Both are exact
reshapes (and a permutation for TT-matrix), so a round trip gives the matrix back bit for bit.
Apart from tensorize.py, which chooses the shapes, because these only move numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .tensorize import _size, as_shape, suggest_shape, suggest_ttm_modes

__all__ = ["matrix_to_tensor", "matrix_to_ttm_tensor", "tensor_to_matrix", "ttm_tensor_to_matrix"]


def _check_matrix(w, name: str = "w") -> torch.Tensor:
    if not isinstance(w, torch.Tensor) or w.ndim != 2:
        raise TypeError(
            f"{name} must be a 2-D torch.Tensor (in, out), got {type(w).__name__} "
            f"{getattr(w, 'shape', '')}. Example: torch.randn(768, 64)"
        )
    return w


def matrix_to_tensor(w: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Fold W (in, out) row-major into `shape` (the flattened LoRETTA layout)."""
    w = _check_matrix(w)
    shape = as_shape(shape, "shape", f"{list(suggest_shape(*w.shape))}" if w.numel() else "[8, 8]")
    if math.prod(shape) != w.numel():
        raise ValueError(
            f"shape {list(shape)} has product {math.prod(shape)}, but W {tuple(w.shape)} has "
            f"{w.numel()} entries. A valid example: {list(suggest_shape(*w.shape))}"
        )
    return w.reshape(tuple(shape))


def tensor_to_matrix(t: torch.Tensor, in_features: int, out_features: int) -> torch.Tensor:
    """Unfold a flattened-layout tensor back to W (in, out)."""
    in_features = _size(in_features, "in_features", "tensor_to_matrix(t, 768, 64)")
    out_features = _size(out_features, "out_features", "tensor_to_matrix(t, 768, 64)")
    if not isinstance(t, torch.Tensor):
        raise TypeError(
            f"t must be a torch.Tensor, got {type(t).__name__}. Example: "
            "tensor_to_matrix(torch.randn(8, 8, 12, 8, 8), 768, 64)"
        )
    if t.numel() != in_features * out_features:
        raise ValueError(
            f"a tensor of {t.numel()} entries cannot be a {in_features}x{out_features} matrix"
        )
    return t.reshape(in_features, out_features)


def matrix_to_ttm_tensor(
    w: torch.Tensor, in_modes: Sequence[int], out_modes: Sequence[int]
) -> torch.Tensor:
    """W (in, out) -> tensor (m_1 n_1, ..., m_d n_d), the interleaved TT-matrix layout."""
    w = _check_matrix(w)
    in_modes = as_shape(in_modes, "in_modes", "in_modes=[4, 4, 4], out_modes=[4, 4, 3]")
    out_modes = as_shape(out_modes, "out_modes", "in_modes=[4, 4, 4], out_modes=[4, 4, 3]")
    d = len(in_modes)
    if (
        len(out_modes) != d
        or math.prod(in_modes) != w.shape[0]
        or math.prod(out_modes) != w.shape[1]
    ):
        good = suggest_ttm_modes(*w.shape)
        raise ValueError(
            f"in_modes {list(in_modes)} (product {math.prod(in_modes)}) and out_modes "
            f"{list(out_modes)} "
            f"(product {math.prod(out_modes)}) must have equal length and multiply to W's shape "
            f"{tuple(w.shape)}. A valid example: in_modes={list(good[0])}, "
            f"out_modes={list(good[1])}"
        )
    t = w.reshape(*in_modes, *out_modes)  # (m_1..m_d, n_1..n_d)
    interleave = [p for i in range(d) for p in (i, d + i)]
    return t.permute(interleave).reshape([m * n for m, n in zip(in_modes, out_modes)])


def ttm_tensor_to_matrix(
    t: torch.Tensor, in_modes: Sequence[int], out_modes: Sequence[int]
) -> torch.Tensor:
    """Inverse of :func:`matrix_to_ttm_tensor`: (m_1 n_1, ..., m_d n_d) -> W (in, out)."""
    in_modes = as_shape(in_modes, "in_modes", "in_modes=[4, 4, 4], out_modes=[4, 4, 3]")
    out_modes = as_shape(out_modes, "out_modes", "in_modes=[4, 4, 4], out_modes=[4, 4, 3]")
    if len(in_modes) != len(out_modes) or t.numel() != math.prod(in_modes) * math.prod(out_modes):
        raise ValueError(
            f"in_modes {list(in_modes)} and out_modes {list(out_modes)} must have equal length and "
            f"multiply to the tensor's {t.numel()} entries. Example: in_modes=[4, 4, 4], "
            "out_modes=[4, 4, 3] for a 64x48 matrix"
        )
    d = len(in_modes)
    t = t.reshape(
        [s for m, n in zip(in_modes, out_modes) for s in (m, n)]
    )  # (m_1, n_1, ..., m_d, n_d)
    t = t.permute(list(range(0, 2 * d, 2)) + list(range(1, 2 * d, 2)))
    return t.reshape(math.prod(in_modes), math.prod(out_modes))
