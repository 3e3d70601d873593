"""Exercise 2: the forward of a TT linear layer, ``tt_linear_forward(x, cores, in, out) -> x @ W``
with W (in, out) folded row-major into the train (docs/method.md#layouts).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..layers import TTLinear
from ..tt import TensorTrain
from .harness import (
    DEFAULT_TIME_LIMIT,
    CheckResult,
    Fail,
    Forbidden,
    Hint,
    Student,
    as_tensor,
    contract,
    rel_error,
    run_cases,
    seeded,
    shape_of,
)
from .watch import take_baseline

__all__ = ["FORBIDDEN", "check_tt_linear_forward"]

#: The library functions an answer must not call (they are what the student writes).
FORBIDDEN = (
    Forbidden(TTLinear, "forward", "TTLinear.forward"),
    Forbidden(TTLinear, "dense_matrix", "TTLinear.dense_matrix"),
    Forbidden(TensorTrain, "full", "TensorTrain.full"),
)


def _tt_layer(in_f: int, out_f: int, shape, rank: int, seed: int) -> TTLinear:
    with torch.random.fork_rng(devices=[]):  # leave the student's random state alone
        torch.manual_seed(seed)
        return TTLinear(in_f, out_f, tt_shape=shape, tt_rank=rank, bias=False, forward_mode="dense")


S = "layouts"  # docs/method.md section of this exercise

H_OUT_IN = Hint(
    "Which orientation does your W have? LoRETTA's weight is W (in, out), folded row-major from "
    "the train; nn.Linear stores the transpose, (out, in).",
    S,
    "W = full.reshape(in_features, out_features) and y = x @ W (no .T)",
)
H_COLUMN_MAJOR = Hint(
    "In which order do you flatten the train's full tensor? LoRETTA flattens row-major: the "
    "last index runs fastest, so W[i, j] is entry i * out_features + j.",
    S,
    "use torch's default reshape, W = full.reshape(in_features, out_features), with no "
    "permute / transpose of the modes before it",
)
H_REVERSED = Hint(
    "Which core carries the first (slowest) index of the flattened W? Core 0: contract the cores "
    "from the first to the last.",
    S,
    "full = cores[0] as (k_1, r_1); for core in cores[1:]: full = (full @ core.reshape(r, k * s))"
    ".reshape(-1, s)",
)
H_TRANSPOSE = Hint(
    "Here y = x W with W (in, out): is there a transpose left over from nn.Linear's x @ "
    "weight.T? A square weight makes it fit the shapes but not the numbers.",
    S,
    "y = x @ W, not x @ W.T",
)
H_FACTOR = Hint(
    "The shapes and the direction are right, but your y is a multiple of x @ W: look for an extra "
    "factor (a scale, a norm, a division).",
    S,
)
H_GENERIC = Hint(
    "Three steps: contract the cores into the full tensor (k_1, ..., k_d), fold it row-major into "
    "W (in, out), multiply y = x @ W. Check each step's shape on this case.",
    S,
    "full = contraction of the cores; W = full.reshape(in_features, out_features); y = x @ W",
)
H_SHAPE = Hint(
    "y keeps x's leading dimensions: (..., in) -> (..., out), for any number of them.",
    S,
    "y = (x.reshape(-1, in_features) @ W).reshape(*x.shape[:-1], out_features)",
)
H_DETACHED = Hint(
    "Training updates the cores through autograd, so y must stay connected to them.",
    S,
    "avoid .detach(), .numpy(), .item(), torch.tensor(...) and torch.no_grad() inside the forward",
)
H_UNUSED = Hint(
    "Every core must take part in computing y (the full tensor is the product of all of them).",
    S,
    "contract every core: loop over cores[1:] after starting from cores[0]",
)
H_GRADIENT = Hint(
    "The gradients are off although y has the right shape: is y right in the other cases?", S
)


def _forward_hint(x, y, full, in_f, out_f) -> Hint:
    """Which typical mistake does y look like? Compares y with x @ W for wrong foldings of W."""
    x2 = x.detach().double().reshape(-1, in_f)
    y2 = y.detach().double().reshape(x2.shape[0], -1)
    flip = list(range(full.ndim - 1, -1, -1))
    column_major = full.permute(flip).reshape(-1)
    candidates = [
        (full.reshape(out_f, in_f).T, H_OUT_IN),
        (column_major.reshape(out_f, in_f).T, H_COLUMN_MAJOR),
        (full.permute(flip).reshape(in_f, out_f), H_REVERSED),
    ]
    if in_f == out_f:
        candidates.insert(0, (full.reshape(in_f, out_f).T, H_TRANSPOSE))
    for w, hint in candidates:
        if y2.shape[1] == w.shape[1] and rel_error(y2, x2 @ w) < 1e-4:
            return hint
    ref = x2 @ full.reshape(in_f, out_f)
    scale = float((y2 * ref).sum() / (ref * ref).sum())
    if abs(scale - 1) > 1e-3 and rel_error(y2, scale * ref) < 1e-4:
        return H_FACTOR
    return H_GENERIC


def _forward_case(in_f: int, out_f: int, shape, rank: int, lead: tuple[int, ...], seed: int):
    def case(student: Student) -> str:
        layer = _tt_layer(in_f, out_f, shape, rank, seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            x = torch.randn(*lead, in_f)
        cores = [c.detach().clone() for c in layer.cores]
        with torch.no_grad():
            w = layer.dense_matrix()  # (in, out)
        expected = lead + (out_f,)
        y = as_tensor(student(x.clone(), cores, in_f, out_f), "your tt_linear_forward's result")
        if shape_of(y) != expected:
            raise Fail(
                f"x {shape_of(x)}: your y has shape {shape_of(y)}, expected {expected} = x.shape[:-1] + "
                f"(out_features,)",
                H_SHAPE,
            )
        err = rel_error(y, x.double() @ w.double())
        if err < 1e-4:
            return (
                f"y {expected}, relative error {err:.2g} vs lx.TTLinear (expected < 1e-04): match"
            )
        raise Fail(
            f"y {expected}, relative error {err:.3g} vs lx.TTLinear (expected < 1e-04)",
            _forward_hint(x, y, contract(cores), in_f, out_f),
        )

    return case


def _gradient_case(student: Student) -> str:
    in_f, out_f, shape = 6, 10, (3, 4, 5)
    layer = _tt_layer(in_f, out_f, shape, 2, 7)
    gen = seeded(8)
    x, g = torch.randn(5, in_f, generator=gen), torch.randn(5, out_f, generator=gen)
    cores = [c.detach().clone().requires_grad_(True) for c in layer.cores]
    y = as_tensor(student(x, cores, in_f, out_f), "your tt_linear_forward's result")
    if not y.requires_grad:
        raise Fail("your y is not connected to the cores (y.requires_grad is False)", H_DETACHED)
    if shape_of(y) != (5, out_f):
        raise Fail(f"your y has shape {shape_of(y)}, expected (5, {out_f})", H_SHAPE)
    grads = torch.autograd.grad((y * g).sum(), cores, allow_unused=True)
    ref_cores = [c.detach().clone().requires_grad_(True) for c in layer.cores]
    w = TensorTrain(ref_cores).full().reshape(in_f, out_f)
    ref_grads = torch.autograd.grad(((x @ w) * g).sum(), ref_cores)
    for k, (mine, ref) in enumerate(zip(grads, ref_grads)):
        if mine is None:
            raise Fail(f"core {k} gets no gradient", H_UNUSED)
        if rel_error(mine, ref) > 1e-4:
            raise Fail(
                f"the gradient for core {k} has relative error {rel_error(mine, ref):.2g} (expected < 1e-04)",
                H_GRADIENT,
            )
    return "gradients for all cores equal the reference's: match"


def check_tt_linear_forward(
    student_fn: Callable,
    *,
    raise_on_fail: bool = False,
    time_limit: float | None = DEFAULT_TIME_LIMIT,
) -> CheckResult:
    """Check ``student_fn(x, cores, in_features, out_features) -> y = x @ W`` (flattened layout).

    W (in, out) is the train's full tensor folded row-major (docs/method.md#layouts); the reference
    is :meth:`loretta_explore.TTLinear.dense_matrix`. Cases: the input/output split on a mode
    boundary and inside a mode, a square weight (where a transposed W has the right shape), the
    paper's rep A shape 768 -> 8 as [8, 12, 8, 8], a batch of sequences (2, 3, in), and gradients
    reaching every core. Typical mistakes recognised: (out, in) orientation, x @ W.T, column-major
    flattening, cores contracted in reverse. Calling TTLinear's forward or dense_matrix, or
    ``TensorTrain.full``, inside the answer fails the case. ``raise_on_fail`` and ``time_limit``
    (seconds per call) work as in :func:`check_tt_svd`.
    """
    cases = [
        (
            "input/output split on a mode boundary (6 -> 4, shape [2, 3, 4], rank 2)",
            _forward_case(6, 4, (2, 3, 4), 2, (5,), 1),
        ),
        (
            "split inside a mode (4 -> 6, shape [2, 6, 2], rank 3)",
            _forward_case(4, 6, (2, 6, 2), 3, (5,), 2),
        ),
        (
            "square weight (6 -> 6, shape [3, 4, 3], rank 2)",
            _forward_case(6, 6, (3, 4, 3), 2, (5,), 3),
        ),
        (
            "the paper's rep A (768 -> 8, shape [8, 12, 8, 8], rank 5)",
            _forward_case(768, 8, (8, 12, 8, 8), 5, (4,), 4),
        ),
        (
            "a batch of sequences, x (2, 3, 12) -> (2, 3, 10) (shape [4, 6, 5], rank 3)",
            _forward_case(12, 10, (4, 6, 5), 3, (2, 3), 5),
        ),
        ("gradients reach every core (6 -> 10, shape [3, 4, 5], rank 2)", _gradient_case),
    ]
    return run_cases(
        "tt_linear_forward",
        student_fn,
        cases,
        FORBIDDEN,
        raise_on_fail,
        section=S,
        time_limit=time_limit,
    )


take_baseline()  # remember the kit as imported, to notice a later patch of it (watch.py)
