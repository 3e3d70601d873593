"""Reference solution of exercise 1: TT-SVD from scratch (docs/method.md#tt-format, Oseledets 2011).

Written without the library: successive truncated SVDs of unfoldings, left to right.
"""

import torch


def tt_svd(x: torch.Tensor, max_rank: int) -> list[torch.Tensor]:
    """Decompose x (n_1, ..., n_d) into cores G_k of shape (r_{k-1}, n_k, r_k), every r_k <= max_rank."""
    shape = x.shape
    cores = []
    rest, r_prev = x, 1
    for n in shape[:-1]:
        unfolding = rest.reshape(r_prev * n, -1)  # (r_{k-1} n_k, n_{k+1} ... n_d)
        u, s, vh = torch.linalg.svd(unfolding, full_matrices=False)  # s sorted, largest first
        r = min(max_rank, s.numel())  # keep the r LARGEST singular values
        cores.append(u[:, :r].reshape(r_prev, n, r))
        rest = s[:r, None] * vh[:r]  # diag(s) @ vh: (r_k, n_{k+1} ... n_d)
        r_prev = r
    cores.append(rest.reshape(r_prev, shape[-1], 1))
    return cores
