"""LoRETTA's building blocks as torch modules: a TT linear layer, the adp block, the rep layer.

- :class:`TTLinear` holds a weight W (in, out) as tensor-train cores (docs/method.md#tt-format).
- :class:`TTAdapter` is LoRETTA_adp's bottleneck adapter with TT up and down layers
  (docs/method.md#adp).
- :class:`LorettaRepLinear` is LoRETTA_rep: a frozen linear plus s * B(A(x)) with A and B each one
  bias-free TT layer (docs/method.md#rep), with the paper's three ways to start.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ._integers import as_float, as_int, is_integer_like
from .tensorize import (
    as_shape,
    cut_point,
    matrix_to_ttm_tensor,
    resolve_shape,
    suggest_ttm_modes,
    ttm_tensor_to_matrix,
)
from .tt import TensorTrain, chain_cores, tt_svd

__all__ = ["LorettaRepLinear", "TTAdapter", "TTLinear"]

FORWARD_MODES = ("auto", "dense", "contract")
LAYOUTS = ("flat", "ttm")
ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}


def _ranks(tt_rank, order: int, example: str = "TTLinear(768, 64, tt_rank=5)") -> list[int]:
    """tt_rank (one integer-like, or d-1 internal / d+1 full ranks as a sequence, numpy array or
    1-D tensor) as the d+1 ranks with the boundary 1s."""
    if is_integer_like(tt_rank) or _is_flag(tt_rank):
        return [1] + [as_int(tt_rank, "tt_rank", example)] * (order - 1) + [1]
    if isinstance(tt_rank, (str, bytes, float)) or getattr(tt_rank, "ndim", 1) != 1:
        raise TypeError(
            f"tt_rank must be an int or a list of {order - 1} ints, got {tt_rank!r}. "
            f"Example: {example}"
        )
    try:
        given = list(tt_rank)
    except TypeError:
        raise TypeError(
            f"tt_rank must be an int or a list of {order - 1} ints, got {tt_rank!r} "
            f"({type(tt_rank).__name__}). Example: {example}"
        ) from None
    ranks = [as_int(r, "every entry of tt_rank", example, minimum=None) for r in given]
    if len(ranks) == order - 1:
        ranks = [1, *ranks, 1]
    if len(ranks) != order + 1 or ranks[0] != 1 or ranks[-1] != 1 or min(ranks) < 1:
        raise ValueError(
            f"tt_rank {given} does not fit {order} cores: give an int >= 1 or {order - 1} "
            f"internal ranks >= 1, e.g. tt_rank={[5] * (order - 1)}"
        )
    return ranks


def _is_flag(value) -> bool:
    return isinstance(value, bool) or str(getattr(value, "dtype", "")) in ("bool", "torch.bool")


def _choice(value, options, name: str, example: str) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}. Example: {example}")
    return value


class TTLinear(nn.Module):
    """A linear layer y = x @ W + b whose weight W (in, out) is a tensor train.

    Layouts: "flat" (LoRETTA's, docs/method.md#layouts: W flattened row-major and folded into
    `tt_shape`, cores (r, k, r)) and "ttm" (the classic TT-matrix, cores (r, m, n, r)).

    Forward modes: "dense" reconstructs W then does one matmul; "contract" never forms W: the
    train is cut at the mode where the input index ends, so x @ W = (x @ P) @ R with small P and R
    (for LoRETTA shapes that is as cheap as LoRA). "auto" (default) picks the cheaper by a FLOP
    estimate for the batch at hand.

    Init "paper": Gaussian cores scaled so that W's entries have std sqrt(1/(in+out)) and bias
    ~ U(+-1/sqrt(out)) (the authors' code, docs/method.md#adp); "zero": the last core is zero, so
    W = 0 at the start (an identity-at-start option for adapters and rep updates).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        tt_shape=None,
        tt_rank=5,
        bias: bool = True,
        layout: str = "flat",
        forward_mode: str = "auto",
        init: str = "paper",
        device=None,
        dtype=None,
    ):
        super().__init__()
        example = "TTLinear(768, 64, tt_rank=5)"
        in_features = as_int(in_features, "in_features", example)
        out_features = as_int(out_features, "out_features", example)
        _choice(layout, LAYOUTS, "layout", "TTLinear(768, 64, layout='flat')")
        _choice(
            forward_mode, FORWARD_MODES, "forward_mode", "TTLinear(768, 64, forward_mode='auto')"
        )
        _choice(init, ("paper", "zero"), "init", "TTLinear(768, 64, init='paper')")
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(
                f"dtype must be a floating-point torch.dtype, got {dtype!r}: cores are trained "
                "by gradient descent. Example: TTLinear(768, 64, dtype=torch.float32)"
            )
        self.in_features, self.out_features = in_features, out_features
        self.layout, self.forward_mode = layout, forward_mode
        factory = dict(device=device, dtype=dtype or torch.float32)
        if layout == "flat":
            self.tt_shape = resolve_shape(in_features, out_features, tt_shape)
            core_shapes = [(k,) for k in self.tt_shape]
        else:
            good = suggest_ttm_modes(in_features, out_features)
            modes = good if tt_shape is None else tt_shape
            if isinstance(modes, str) or len(modes) != 2:
                raise ValueError(
                    f"for layout='ttm', tt_shape is a pair (in_modes, out_modes), got {modes!r}. "
                    f"Example: tt_shape={good}"
                )
            self.in_modes = as_shape(modes[0], "in_modes", f"tt_shape={good}")
            self.out_modes = as_shape(modes[1], "out_modes", f"tt_shape={good}")
            if (
                len(self.in_modes) != len(self.out_modes)
                or math.prod(self.in_modes) != in_features
                or math.prod(self.out_modes) != out_features
            ):
                raise ValueError(
                    f"TT-matrix modes {modes} must have equal length and multiply to "
                    f"({in_features}, {out_features}); e.g. tt_shape={good}"
                )
            self.tt_shape = tuple(m * n for m, n in zip(self.in_modes, self.out_modes))
            core_shapes = list(zip(self.in_modes, self.out_modes))
        self.ranks = _ranks(tt_rank, len(core_shapes))
        self.cores = nn.ParameterList(
            nn.Parameter(torch.empty(self.ranks[k], *s, self.ranks[k + 1], **factory))
            for k, s in enumerate(core_shapes)
        )
        self.bias = nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        self._plan = self._split_plan() if layout == "flat" else None
        if forward_mode == "contract" and layout == "flat" and self._plan is None:
            raise ValueError(
                f"tt_shape {list(self.tt_shape)} cannot be cut between input ({in_features}) and "
                f"output ({out_features}) indices; use forward_mode='dense' or another shape"
            )
        self.reset_parameters(init)

    def reset_parameters(self, init: str = "paper") -> None:
        """(Re)initialise: "paper" (Gaussian, W entry std sqrt(1/(in+out))) or "zero" (last core
        0)."""
        _choice(init, ("paper", "zero"), "init", "layer.reset_parameters('paper')")
        # W's entry is a sum over prod(internal ranks) paths of products of d core entries.
        paths = math.prod(self.ranks[1:-1])
        std = (1.0 / ((self.in_features + self.out_features) * paths)) ** (
            1 / (2 * len(self.cores))
        )
        with torch.no_grad():
            for core in self.cores:
                core.normal_(0.0, std)
            if init == "zero":
                self.cores[-1].zero_()
            if self.bias is not None:
                bound = 1 / math.sqrt(self.out_features)
                self.bias.uniform_(-bound, bound) if init == "paper" else self.bias.zero_()

    def _split_plan(self):
        """Where the input index ends in the flat train: (p, c, e), mode p = (c in, e out)."""
        return cut_point(self.tt_shape, self.in_features)

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def tensor_train(self) -> TensorTrain:
        """The weight as a :class:`TensorTrain` over `tt_shape` (TT-matrix cores merged)."""
        return TensorTrain([c.reshape(c.shape[0], -1, c.shape[-1]) for c in self.cores])

    def dense_matrix(self) -> torch.Tensor:
        """W (in, out), reconstructed from the cores: y = x @ W + b."""
        if self.layout == "ttm":
            return ttm_tensor_to_matrix(self.tensor_train().full(), self.in_modes, self.out_modes)
        cores = [self.cores[k] for k in range(len(self.cores))]  # no TensorTrain checks per step
        return chain_cores(cores).reshape(self.in_features, self.out_features)

    @property
    def weight(self) -> torch.Tensor:
        """The dense weight in nn.Linear's orientation (out, in)."""
        return self.dense_matrix().T

    def flops(self, tokens: int) -> dict[str, int]:
        """Multiply-adds of each forward mode for `tokens` input rows (used by "auto")."""
        r = self.ranks
        build = sum(
            math.prod(self.tt_shape[: k + 1]) * r[k] * r[k + 1] for k in range(1, len(r) - 1)
        )
        dense = build + tokens * self.in_features * self.out_features
        if self.layout == "ttm":
            contract, n_done = 0, 1
            for k, n in enumerate(self.out_modes):
                m_rest = math.prod(self.in_modes[k:])
                contract += tokens * n_done * r[k] * m_rest * n * r[k + 1]
                n_done *= n
            return {"dense": dense, "contract": contract}
        if self._plan is None:
            return {"dense": dense, "contract": math.inf}
        p, c, e = self._plan
        a, b = self.in_features // c, self.out_features // e
        weights = a * r[p] + self.in_features * r[p] * e * r[p + 1] + b * r[p + 1]
        contract = weights + tokens * (
            self.in_features * e * r[p + 1] + self.out_features * r[p + 1]
        )
        return {"dense": dense, "contract": contract}

    def chosen_mode(self, tokens: int) -> str:
        if self.forward_mode != "auto":
            return self.forward_mode
        cache = self.__dict__.setdefault("_auto_modes", {})  # tokens -> mode, per layer
        if tokens not in cache:
            if len(cache) > 256:  # many different batch shapes: start over
                cache.clear()
            cost = self.flops(tokens)
            cache[tokens] = "contract" if cost["contract"] < cost["dense"] else "dense"
        return cache[tokens]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., in) -> (..., out), computed in the cores' dtype (fp32 beside a bf16 model) and
        returned in x's. Integer input is refused (TypeError), not computed and truncated."""
        _check_input(x, self.in_features, "TTLinear")
        lead, dtype = x.shape[:-1], x.dtype
        x2 = x.reshape(-1, self.in_features).to(self.cores[0].dtype)  # (N, in)
        mode = self.chosen_mode(x2.shape[0])
        if mode == "dense":
            w = self.dense_matrix()  # (in, out)
            y = x2 @ w if self.bias is None else torch.addmm(self.bias, x2, w)  # one kernel
        elif self.layout == "ttm":
            y = self._contract_ttm(x2)
            y = y if self.bias is None else y + self.bias
        else:
            y = self._contract_flat(x2)
        return y.reshape(*lead, self.out_features).to(dtype)

    def _contract_flat(self, x: torch.Tensor) -> torch.Tensor:
        """x @ W + bias without W: W[(a, c), (e, b)] = L[a] G_p[c, e] R[b], summed over the two
        bonds, as (x @ P) @ R with P = L G_p (in, e r) and R (r, b) each one chain_cores."""
        p, c, e = self._plan
        n, r_right, d = x.shape[0], self.ranks[p + 1], len(self.cores)
        cores = [self.cores[k] for k in range(d)]  # (slicing a ParameterList escapes torch.func)
        P = chain_cores(cores[: p + 1]).reshape(self.in_features, e * r_right)  # (in, e r)
        t = x @ P  # (N, e r)
        if p + 1 == d:  # the input ends in the last mode: r = 1 and e = out
            return t if self.bias is None else t + self.bias
        R = chain_cores(cores[p + 1 :]).reshape(r_right, -1)  # (r, b)
        t = t.reshape(n * e, r_right)  # (N e, r)
        if self.bias is not None and e == 1:
            return torch.addmm(self.bias, t, R)  # (N, out) with the bias, one kernel
        y = (t @ R).reshape(n, self.out_features)  # (N e, b) -> (N, out)
        return y if self.bias is None else y + self.bias

    def _contract_ttm(self, x: torch.Tensor) -> torch.Tensor:
        """Classic TT-matrix by vector: sweep the cores, one input mode into one output mode."""
        n_rows = x.shape[0]
        t = x.reshape(n_rows, 1, self.in_modes[0], self.in_features // self.in_modes[0])
        for k, core in enumerate(self.cores):
            t = torch.einsum("brmx,rmns->bnsx", t, core)  # (N n_<k, n_k, r_k, rest)
            if k + 1 < len(self.cores):
                done = n_rows * math.prod(self.out_modes[: k + 1])  # N n_1 .. n_k
                rest = math.prod(self.in_modes[k + 2 :])
                t = t.reshape(done, core.shape[-1], self.in_modes[k + 1], rest)
        return t.reshape(n_rows, self.out_features)

    @classmethod
    def from_linear(
        cls,
        linear: nn.Module,
        tt_shape=None,
        tt_rank=5,
        layout: str = "flat",
        forward_mode: str = "auto",
    ) -> TTLinear:
        """Compress a trained nn.Linear (or GPT-2 Conv1D) with TT-SVD at rank `tt_rank`."""
        w, in_f, out_f = _linear_matrix(linear)
        layer = cls(
            in_f,
            out_f,
            tt_shape,
            tt_rank=1,
            bias=getattr(linear, "bias", None) is not None,
            layout=layout,
            forward_mode=forward_mode,
            device=w.device,
        )
        with torch.no_grad():
            target = (
                w.float()
                if layout == "flat"
                else matrix_to_ttm_tensor(w.float(), layer.in_modes, layer.out_modes)
            )
            tt = tt_svd(target.reshape(layer.tt_shape), max_rank=tt_rank)
            layer.ranks = tt.ranks
            layer.cores = nn.ParameterList(
                nn.Parameter(c.reshape(c.shape[0], *old.shape[1:-1], c.shape[-1]).contiguous())
                for c, old in zip(tt.cores, layer.cores)
            )
            if layer.bias is not None:
                layer.bias.copy_(linear.bias.float())
        return layer

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"layout={self.layout}, "
            f"tt_shape={list(self.tt_shape)}, ranks={self.ranks}, bias={self.bias is not None}, "
            f"forward_mode={self.forward_mode}"
        )


def _fingerprint(tensors) -> tuple | None:
    """What identifies the values of `tensors` cheaply (storage, version, dtype, device, shape);
    None where there is no storage to look at (torch.compile tracing, torch.func transforms)."""
    if torch.compiler.is_compiling():
        return None
    try:
        return tuple((t.data_ptr(), t._version, t.dtype, t.device, t.shape) for t in tensors)
    except (RuntimeError, NotImplementedError):
        return None


def _check_input(x, in_features: int, owner: str) -> None:
    """Refuse what would fail deep inside (or worse, silently): say what was given and expected."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{owner} expects a torch.Tensor (..., {in_features}), got {type(x).__name__}. "
            f"Example: layer(torch.randn(2, {in_features}))"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{owner} expects floating-point input, got {x.dtype}: integer input would be "
            f"computed in float and truncated back. Convert it first, e.g. layer(x.float())"
        )
    if x.ndim == 0 or x.shape[-1] != in_features:
        raise ValueError(
            f"{owner} expects input (..., in_features={in_features}), got shape "
            f"{tuple(x.shape)}. Example: layer(torch.randn(2, {in_features}))"
        )


def _linear_matrix(linear: nn.Module) -> tuple[torch.Tensor, int, int]:
    """W (in, out) of an nn.Linear (weight (out, in)) or a GPT-2 Conv1D (weight (in, out))."""
    if isinstance(linear, nn.Linear):
        return linear.weight.T, linear.in_features, linear.out_features
    if type(linear).__name__ == "Conv1D" and hasattr(linear, "nf"):
        return linear.weight, linear.weight.shape[0], linear.weight.shape[1]
    raise TypeError(
        f"expected nn.Linear or transformers' Conv1D, got {type(linear).__name__}. "
        "Example: LorettaRepLinear(nn.Linear(768, 768))"
    )


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
        _choice(activation, tuple(ACTIVATIONS), "activation", "TTAdapter(768, activation='relu')")
        _choice(init, ("paper", "identity"), "TTAdapter init", "TTAdapter(768, init='identity')")
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
        and not _is_flag(tt_shapes[0])
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
        _choice(
            init, REP_INITS, "init", "LorettaRepLinear(nn.Linear(768, 768), init='compensated')"
        )
        w, in_f, out_f = _linear_matrix(base_linear)
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
        key = _fingerprint(frozen)
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
        if _is_flag(keep_pretrained) is False:
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
        _check_input(x, self.in_features, "LorettaRepLinear")
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
