"""TTLinear: a linear layer y = x @ W + b whose weight W (in, out) is a tensor train.

The layer behind every LoRETTA variant (docs/method.md#tt-format, #layouts): the flattened layout
(W folded row-major into a tensor, LoRETTA's) and the classic TT-matrix layout, a dense forward
(rebuild W, one matmul) and a contracted one that never forms W, chosen per batch by a FLOP
estimate.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._integers import as_int, is_integer_like
from .tensorize import as_shape, cut_point, resolve_shape, suggest_ttm_modes
from .tt import TensorTrain, chain_cores, tt_svd
from .value_checks import max_bond_rank
from .weight_layouts import matrix_to_ttm_tensor, ttm_tensor_to_matrix

__all__ = ["TTLinear"]

FORWARD_MODES = ("auto", "dense", "contract")
LAYOUTS = ("flat", "ttm")


def full_ranks(tt_rank, order: int, example: str = "TTLinear(768, 64, tt_rank=5)") -> list[int]:
    """tt_rank (one integer-like, or d-1 internal / d+1 full ranks as a sequence, numpy array or
    1-D tensor) as the d+1 ranks with the boundary 1s."""
    if is_integer_like(tt_rank) or is_flag(tt_rank):
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


def is_flag(value) -> bool:
    return isinstance(value, bool) or str(getattr(value, "dtype", "")) in ("bool", "torch.bool")


def check_choice(value, options, name: str, example: str) -> str:
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
        check_choice(layout, LAYOUTS, "layout", "TTLinear(768, 64, layout='flat')")
        check_choice(
            forward_mode, FORWARD_MODES, "forward_mode", "TTLinear(768, 64, forward_mode='auto')"
        )
        check_choice(init, ("paper", "zero"), "init", "TTLinear(768, 64, init='paper')")
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
        # a rank above what any bond can hold adds only parameters that cannot change the function
        # (TT-SVD clips it the same way); clipping keeps a typo such as tt_rank=10**6 from trying
        # to allocate terabytes. Ranks any bond can use are kept as given (the paper's counts).
        limit = max_bond_rank(self.tt_shape)
        self.ranks = [min(r, limit) for r in full_ranks(tt_rank, len(core_shapes))]
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
        check_choice(init, ("paper", "zero"), "init", "layer.reset_parameters('paper')")
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
        check_input(x, self.in_features, "TTLinear")
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
        w, in_f, out_f = linear_matrix(linear)
        if w.device.type == "meta":
            raise ValueError(
                "from_linear compresses the weight's values with TT-SVD, but this linear layer is "
                "on the meta device (shapes only). For a layer of the same shape without values: "
                f"with torch.device('meta'): TTLinear({in_f}, {out_f}, tt_rank=5)"
            )
        if is_integer_like(tt_rank) or is_flag(tt_rank):  # a list is checked against the shape
            as_int(tt_rank, "tt_rank", "TTLinear.from_linear(linear, tt_rank=5)")
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


def fingerprint(tensors) -> tuple | None:
    """What identifies the values of `tensors` cheaply (storage, version, dtype, device, shape);
    None where there is no storage to look at (torch.compile tracing, torch.func transforms)."""
    if torch.compiler.is_compiling():
        return None
    try:
        return tuple((t.data_ptr(), t._version, t.dtype, t.device, t.shape) for t in tensors)
    except (RuntimeError, NotImplementedError):
        return None


def check_input(x, in_features: int, owner: str) -> None:
    """Refuse what would fail deep inside (or worse, silently): say what was given and expected."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{owner} expects a torch.Tensor (..., {in_features}), got {type(x).__name__}. "
            f"Example: layer(torch.randn(2, {in_features}))"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{owner} expects floating-point input, got dtype {x.dtype}: integer input would be "
            f"computed in float and truncated back. Convert it first, e.g. layer(x.float())"
        )
    if x.ndim == 0 or x.shape[-1] != in_features:
        raise ValueError(
            f"{owner} expects input (..., in_features={in_features}), got shape "
            f"{tuple(x.shape)}. Example: layer(torch.randn(2, {in_features}))"
        )


def linear_matrix(linear: nn.Module) -> tuple[torch.Tensor, int, int]:
    """W (in, out) of an nn.Linear (weight (out, in)) or a GPT-2 Conv1D (weight (in, out))."""
    if isinstance(linear, nn.Linear):
        return linear.weight.T, linear.in_features, linear.out_features
    if type(linear).__name__ == "Conv1D" and hasattr(linear, "nf"):
        return linear.weight, linear.weight.shape[0], linear.weight.shape[1]
    raise TypeError(
        f"expected nn.Linear or transformers' Conv1D, got {type(linear).__name__}. "
        "Example: LorettaRepLinear(nn.Linear(768, 768))"
    )
