"""Reference solution of exercise 4: merging a LoRETTA_rep layer (docs/method.md#rep).

Written without the library's merge: rebuild A_W and B_W from their cores, scale by
s = alpha / bottleneck (docs/method.md#scale), transpose, add.
"""

import torch


def _dense(cores, in_features: int, out_features: int) -> torch.Tensor:
    """The (in, out) matrix of a flattened-layout TT layer."""
    full = cores[0].reshape(cores[0].shape[1], -1)
    for core in cores[1:]:
        r, n, r_next = core.shape
        full = (full @ core.reshape(r, n * r_next)).reshape(-1, r_next)
    return full.reshape(in_features, out_features)


def merge_rep(rep_layer) -> torch.Tensor:
    """The merged weight in nn.Linear's orientation (out, in): W0 + s * (A_W @ B_W).T."""
    with torch.no_grad():
        a_w = _dense(
            list(rep_layer.A.cores), rep_layer.A.in_features, rep_layer.A.out_features
        )  # (in, b)
        b_w = _dense(
            list(rep_layer.B.cores), rep_layer.B.in_features, rep_layer.B.out_features
        )  # (b, out)
        # LoRA's alpha / r, with r the update's width: here the bottleneck b, not the TT rank
        s = rep_layer.alpha / rep_layer.bottleneck  # encoders: 16 / 8 = 2.0
        w0 = rep_layer.base.weight  # (out, in), frozen
        return w0 + s * (a_w @ b_w).T
