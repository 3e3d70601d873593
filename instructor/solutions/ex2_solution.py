"""Reference solution of exercise 2: the forward of a TT linear layer (docs/method.md#layouts).

Written without the library: contract the cores into the full tensor, fold it row-major into
W (in, out), multiply.
"""

import torch


def tt_linear_forward(x: torch.Tensor, cores: list[torch.Tensor], in_features: int,
                      out_features: int) -> torch.Tensor:
    """y = x @ W, W (in, out) the train's full tensor flattened row-major. x (..., in) -> (..., out)."""
    full = cores[0].reshape(cores[0].shape[1], cores[0].shape[2])  # (n_1, r_1), r_0 = 1
    for core in cores[1:]:
        r, n, r_next = core.shape
        full = (full @ core.reshape(r, n * r_next)).reshape(-1, r_next)  # (n_1 ... n_k, r_k)
    w = full.reshape(in_features, out_features)  # row-major fold: W[i, j] = flat[i * out + j]
    y = x.reshape(-1, in_features) @ w  # (N, in) @ (in, out)
    return y.reshape(*x.shape[:-1], out_features)
