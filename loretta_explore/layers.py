"""LoRETTA's building blocks as torch modules: a TT linear layer, the adp block, the rep layer.

- :class:`TTLinear` holds a weight W (in, out) as tensor-train cores (docs/method.md#tt-format).
- :class:`TTAdapter` is LoRETTA_adp's bottleneck adapter with TT up and down layers
  (docs/method.md#adp).
- :class:`LorettaRepLinear` is LoRETTA_rep: a frozen linear plus s * B(A(x)) with A and B each one
  bias-free TT layer (docs/method.md#rep), with the paper's three ways to start.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ._integers import as_float, as_int, is_integer_like
from .tt_linear import (
    TTLinear,
    check_choice,
    check_input,
    fingerprint,
    is_flag,
    linear_matrix,
)

__all__ = ["LorettaRepLinear", "TTAdapter", "TTLinear"]

ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}


class TTAdapter(nn.Module):
    """LoRETTA_adp's block (docs/method.md#adp): a(h) = h + s * up(act(down(h))).

    down: features -> bottleneck and up: bottleneck -> features are :class:`TTLinear` layers with
    a dense bias. With init "paper" both are Gaussian, so the block is *not* the identity at step 0
    (as in the authors' code); init "identity" zeroes up's last core and bias so it starts as one.
    """

    def __init__(
        self,
        features: int,
        bottleneck: int = 64,
        tt_rank=5,
        activation: str = "relu",
        scale: float = 1.0,
        tt_shapes="paper",
        init: str = "paper",
        device=None,
        dtype=None,
    ):
        super().__init__()
        example = "TTAdapter(768, bottleneck=64, tt_rank=5)"
        check_choice(
            activation, tuple(ACTIVATIONS), "activation", "TTAdapter(768, activation='relu')"
        )
        check_choice(
            init, ("paper", "identity"), "TTAdapter init", "TTAdapter(768, init='identity')"
        )
        features = as_int(features, "features", example)
        bottleneck = as_int(bottleneck, "bottleneck", example)
        scale = as_float(scale, "scale", "TTAdapter(768, scale=1.0)")
        down_shape, up_shape = _pair(tt_shapes)
        self.features, self.bottleneck, self.scale = features, bottleneck, scale
        self.down = TTLinear(features, bottleneck, down_shape, tt_rank, device=device, dtype=dtype)
        self.act = ACTIVATIONS[activation]()
        self.up = TTLinear(
            bottleneck,
            features,
            up_shape,
            tt_rank,
            device=device,
            dtype=dtype,
            init="zero" if init == "identity" else "paper",
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        # (..., features) -> (..., features); h + s * u in one kernel (add with alpha)
        return torch.add(h, self.up(self.act(self.down(h))), alpha=self.scale)


def _pair(tt_shapes):
    """tt_shapes for a (first, second) pair of TT layers: one request for both, or two."""
    if (
        isinstance(tt_shapes, (tuple, list))
        and len(tt_shapes) == 2
        and not is_integer_like(tt_shapes[0])
        and not is_flag(tt_shapes[0])
    ):
        return tt_shapes[0], tt_shapes[1]
    return tt_shapes, tt_shapes


REP_INITS = ("paper", "compensated", "zero")
SCALE_BY = ("bottleneck", "tt_rank")


class LorettaRepLinear(nn.Module):
    """LoRETTA_rep (docs/method.md#rep): y = W0 x + s * B(A(dropout(x))), W0 frozen.

    A: in -> bottleneck and B: bottleneck -> out are each ONE bias-free :class:`TTLinear`.
    Wraps an nn.Linear or GPT-2's Conv1D.

    Scale (docs/method.md#scale): the paper writes s = alpha / r in LoRA's notation, where LoRA's
    r is the width of the update, i.e. our bottleneck b; the authors' released code computes
    alpha / b (16 / 8 = 2.0 on encoders). That is the default, ``scale_by="bottleneck"``.
    ``scale_by="tt_rank"`` divides by the largest internal TT rank instead (16 / 5 = 3.2), an
    earlier reading kept so the two can be compared.

    Three ways to start (docs/method.md#starts):

    - "paper": Gaussian A and B, so the update is non-zero at step 0 (the authors' code);
    - "compensated": the paper's described noise mitigation, which its code never implemented:
      the initial update s * B0 A0 is subtracted from the frozen weight, so the model starts exactly
      at the pretrained function. We keep the initial cores as frozen copies A0, B0 (saved with
      the adapter) and subtract their update in the forward (W0 - dW0 is never written into the
      pretrained weight, so disabling the adapter and reloading stay exact; merging folds both in);
    - "zero": B's last core is zero, so the update starts at zero (like LoRA's B = 0).
    """

    def __init__(
        self,
        base_linear: nn.Module,
        bottleneck: int = 8,
        tt_rank=5,
        alpha: float = 16.0,
        dropout: float = 0.0,
        init: str = "paper",
        tt_shapes="paper",
        scale_by: str = "bottleneck",
    ):
        super().__init__()
        example = "LorettaRepLinear(nn.Linear(768, 768), bottleneck=8, tt_rank=5, alpha=16.0)"
        if not isinstance(scale_by, str) or scale_by not in SCALE_BY:
            raise ValueError(
                f"scale_by must be one of {SCALE_BY}, got {scale_by!r}: the scale is s = alpha / b "
                "(the paper's and the authors' code, default) or alpha / tt_rank (an earlier "
                "reading). "
                "Example: LorettaRepLinear(nn.Linear(768, 768), scale_by='bottleneck')"
            )
        check_choice(
            init, REP_INITS, "init", "LorettaRepLinear(nn.Linear(768, 768), init='compensated')"
        )
        w, in_f, out_f = linear_matrix(base_linear)
        bottleneck = as_int(bottleneck, "bottleneck", example)
        alpha = as_float(alpha, "alpha", example)
        dropout = as_float(
            dropout, "dropout", "LorettaRepLinear(nn.Linear(768, 768), dropout=0.05)"
        )
        if not 0 <= dropout < 1:
            raise ValueError(
                f"dropout is a probability in [0, 1), got {dropout}. "
                "Example: LorettaRepLinear(nn.Linear(768, 768), dropout=0.05)"
            )
        a_shape, b_shape = _pair(tt_shapes)
        # everything that can fail is built before the user's layer is touched (frozen below)
        self.A = TTLinear(in_f, bottleneck, a_shape, tt_rank, bias=False, device=w.device)
        self.B = TTLinear(
            bottleneck,
            out_f,
            b_shape,
            tt_rank,
            bias=False,
            device=w.device,
            init="zero" if init == "zero" else "paper",
        )
        self.in_features, self.out_features, self.bottleneck = in_f, out_f, bottleneck
        self.init, self.alpha, self.scale_by = init, alpha, scale_by
        divisor = bottleneck if scale_by == "bottleneck" else max(self.A.ranks + self.B.ranks)
        self.scale = alpha / divisor
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        if init == "compensated":  # frozen copies of the starting point, saved with the adapter
            self.A0 = copy.deepcopy(self.A).requires_grad_(False)
            self.B0 = copy.deepcopy(self.B).requires_grad_(False)
        # W0's exact value while merged with keep_pretrained=True (not saved: see merge)
        self.register_buffer("_pretrained_weight", None, persistent=False)
        # -s * A0_W and B0_W, built once (not saved: see frozen_factors)
        self.register_buffer("_a0_dense", None, persistent=False)
        self.register_buffer("_b0_dense", None, persistent=False)
        self.merged = False
        self.disabled = False
        self.base = base_linear
        self.base.requires_grad_(False)

    def get_delta_weight(self) -> torch.Tensor:
        """The update as W (in, out): s * (A_W @ B_W - A0_W @ B0_W), the last term if
        compensated."""
        delta = self.A.dense_matrix() @ self.B.dense_matrix()  # (in, b) @ (b, out)
        if self.init == "compensated":
            delta = delta - self.A0.dense_matrix() @ self.B0.dense_matrix()
        return self.scale * delta

    def frozen_factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(-s * A0_W (in, b), B0_W (b, out)): the compensation's dense factors, built once.

        A0 and B0 never train, so rebuilding them from their cores every forward is waste.
        They are kept as non-persistent buffers (never saved: the cores are) and rebuilt only
        when a frozen core changed: another tensor, device or dtype (``.to()``, ``.half()``),
        or an in-place write (``load_state_dict``, ``copy_``), which bumps its version counter.
        Under torch.compile or torch.func transforms, or if someone unfroze A0/B0, they are
        computed in the graph instead (exact either way).
        """
        frozen = [*self.A0.cores, *self.B0.cores]
        key = fingerprint(frozen)
        if key is None or any(c.requires_grad for c in frozen):
            return -self.scale * self.A0.dense_matrix(), self.B0.dense_matrix()
        if key != self.__dict__.get("_frozen_key") or self._a0_dense is None:
            with torch.no_grad():
                self._a0_dense = -self.scale * self.A0.dense_matrix()  # (in, b)
                self._b0_dense = self.B0.dense_matrix()  # (b, out)
            self.__dict__["_frozen_key"] = key
        return self._a0_dense, self._b0_dense

    def _apply_delta(self, sign: float) -> None:
        with torch.no_grad():
            delta = sign * self.get_delta_weight()  # float32
            if not bool(torch.isfinite(delta).all()):  # checked before the weight is touched
                raise ValueError(
                    "the update contains NaN or inf (did training diverge?); merging it would "
                    "destroy the pretrained weight, so nothing was changed. Check the cores: "
                    "[bool(c.isfinite().all()) for c in rep.A.cores + rep.B.cores]"
                )
            w = self.base.weight
            update = delta.T if isinstance(self.base, nn.Linear) else delta
            w.copy_((w.float() + update.to(w.device)).to(w.dtype))

    def merge(self, keep_pretrained: bool = True) -> None:
        """Fold the update into the base weight: W0 + s * dW, summed in float32 and rounded once
        to the weight's dtype (bf16 keeps about 3 significant digits, so the merged layer differs
        from the unmerged one by that rounding).

        keep_pretrained: keep W0's exact value aside while merged, so that :meth:`unmerge` gives
        it back bit for bit in every dtype. Memory cost: one copy of the base weight, in its own
        dtype and device, for as long as the layer stays merged (LLaMA-2-7B, q and v in bf16:
        64 weights of 32 MiB, 2 GiB). With False nothing is kept; unmerge then subtracts the
        update again, exact up to one rounding in fp32/fp64, and refuses in fp16/bf16, where
        that rounding changes about a third of the weights. Merging for good (merge_and_unload,
        which never unmerges) should pass False.
        """
        if is_flag(keep_pretrained) is False:
            raise TypeError(f"keep_pretrained must be True or False, got {keep_pretrained!r}")
        if not self.merged:
            kept = self.base.weight.detach().clone() if keep_pretrained else None
            self._apply_delta(+1.0)  # raises before touching the weight if the update is not finite
            self._pretrained_weight, self.merged = kept, True

    def unmerge(self) -> None:
        """Take the update back out of the base weight: W0 exactly as it was before merge()."""
        if not self.merged:
            return
        w = self.base.weight
        if self._pretrained_weight is not None:
            with torch.no_grad():
                w.copy_(self._pretrained_weight)
            self._pretrained_weight = None
        elif w.dtype in (torch.float16, torch.bfloat16):
            raise RuntimeError(
                f"cannot unmerge exactly: this layer was merged with keep_pretrained=False into a "
                f"{w.dtype} weight, and subtracting the update again would not give back the "
                "pretrained weight (the merged sum was rounded to 3 significant digits). Reload "
                "the base model, or merge with rep.merge(keep_pretrained=True) next time."
            )
        else:
            self._apply_delta(-1.0)
        self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., in) -> (..., out): y = W0 x + s B(A(x)) [- s B0(A0(x)) if compensated].

        The update never forms its (in, out) matrix: x goes through A's and B's dense factors
        (in, b) and (b, out), each one chain_cores, and the scale and the sum ride on one addmm
        (y + s (h A_W) B_W in one kernel). Compensated: [A_W | -s A0_W] and [s B_W ; B0_W] in
        one product each, the frozen halves built once (:meth:`frozen_factors`); on the CPU that
        beat two thinner products (2 x 16 columns) by 3-8% in a step of the encoder's layers.
        Computed in the cores' dtype (fp32 beside a bf16 model, as the paper trains LLaMA) and
        added to the base output in its dtype.
        """
        check_input(x, self.in_features, "LorettaRepLinear")
        y = self.base(x)
        if self.merged or self.disabled:
            return y
        a, b = self.A.dense_matrix(), self.B.dense_matrix()  # (in, bottleneck), (bottleneck, out)
        alpha = self.scale
        if self.init == "compensated":  # B A h - B0 A0 h = [s B ; B0] ([A | -s A0] h)
            a0, b0 = self.frozen_factors()  # -s A0_W (in, b), B0_W (b, out): built once
            a = torch.cat([a, a0], dim=1)  # (in, 2 bottleneck)
            b = torch.cat([b * alpha, b0], dim=0)  # (2 bottleneck, out)
            alpha = 1.0
        h = self.dropout(x).reshape(-1, self.in_features).to(a.dtype)  # (N, in)
        y2 = y.reshape(-1, self.out_features)  # (N, out)
        if y2.dtype == a.dtype:
            return torch.addmm(y2, h @ a, b, alpha=alpha).reshape(y.shape)  # y + s (h A) B
        update = torch.mm(h @ a, b)  # (N, out) in the cores' dtype
        update = update if alpha == 1.0 else update.mul_(alpha)
        return (y2 + update.to(y2.dtype)).reshape(y.shape)

    def extra_repr(self) -> str:
        return (
            f"bottleneck={self.bottleneck}, scale={self.scale:g} (alpha={self.alpha:g} / "
            f"{self.scale_by}), init={self.init}, merged={self.merged}"
        )


class DenseAdapter(nn.Module):
    """The dense bottleneck adapter LoRETTA_adp tensorizes (Houlsby et al. 2019), as a baseline.

    a(h) = h + up(act(down(h))) with ordinary nn.Linear layers; `up` starts at zero, so the block
    starts as the identity (the usual adapter init).
    """

    def __init__(
        self,
        features: int,
        bottleneck: int = 64,
        activation: str = "relu",
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.down = nn.Linear(features, bottleneck, bias=bias, device=device, dtype=dtype)
        self.act = ACTIVATIONS[activation]()
        self.up = nn.Linear(bottleneck, features, bias=bias, device=device, dtype=dtype)
        nn.init.zeros_(self.up.weight)
        if bias:
            nn.init.zeros_(self.up.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        # (..., features) -> (..., features)
        return h + self.up(self.act(self.down(h.to(self.down.weight.dtype)))).to(h.dtype)
