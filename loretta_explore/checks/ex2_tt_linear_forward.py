"""Exercise 2: the forward of a TT linear layer, ``tt_linear_forward(x, cores, in, out) -> x @ W``
with W (in, out) folded row-major into the train (docs/method.md#layouts).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..layers import TTLinear
from ..tt import TensorTrain
from .harness import (
    CheckResult,
    Fail,
    Student,
    as_tensor,
    contract,
    rel_error,
    run_cases,
    seeded,
    shape_of,
)

__all__ = ['check_tt_linear_forward']


def _tt_layer(in_f: int, out_f: int, shape, rank: int, seed: int) -> TTLinear:
    with torch.random.fork_rng(devices=[]):  # leave the student's random state alone
        torch.manual_seed(seed)
        return TTLinear(in_f, out_f, tt_shape=shape, tt_rank=rank, bias=False, forward_mode="dense")


def _forward_hint(x, y, full, in_f, out_f) -> str:
    """Which typical mistake does y look like? Compares y with x @ W for wrong foldings of W."""
    x2 = x.detach().double().reshape(-1, in_f)
    y2 = y.detach().double().reshape(x2.shape[0], -1)
    flip = list(range(full.ndim - 1, -1, -1))
    column_major = full.permute(flip).reshape(-1)
    candidates = [
        (full.reshape(out_f, in_f).T,
         "your y equals x @ W with W = full.reshape(out_features, in_features).T, nn.Linear's (out, in) "
         "orientation. LoRETTA folds W (in, out) row-major (METHOD.md section 1): W = full.reshape("
         "in_features, out_features), so W[i, j] = full.flatten()[i * out_features + j]"),
        (column_major.reshape(out_f, in_f).T,
         "you flattened column-major (Fortran order, numpy's order='F'): LoRETTA flattens row-major, the LAST "
         "index runs fastest: W[i, j] = full.flatten()[i * out_features + j] with torch's default reshape"),
        (full.permute(flip).reshape(in_f, out_f),
         "you contracted the cores from last to first: core 0 carries the first (slowest) index of the "
         "flattened W, so contract G_1, G_2, ..., G_d left to right"),
    ]
    if in_f == out_f:
        candidates.insert(0, (full.reshape(in_f, out_f).T,
                              "your y equals x @ W.T: the weight here is W (in, out), so y = x @ W, no transpose "
                              "(nn.Linear stores the transpose, (out, in), and computes x @ weight.T)"))
    for w, hint in candidates:
        if y2.shape[1] == w.shape[1] and rel_error(y2, x2 @ w) < 1e-4:
            return hint
    ref = x2 @ full.reshape(in_f, out_f)
    scale = float((y2 * ref).sum() / (ref * ref).sum())
    if abs(scale - 1) > 1e-3 and rel_error(y2, scale * ref) < 1e-4:
        return f"your y is {scale:.4g} times x @ W: the shapes are right, look for an extra factor"
    return (f"your y differs from x @ W (relative error {rel_error(y2, ref):.3g}). Contract the cores left to right "
            f"into the full tensor (k_1, ..., k_d), fold it row-major into W = full.reshape(in_features, "
            f"out_features) and multiply: y = x @ W")


def _forward_case(in_f: int, out_f: int, shape, rank: int, lead: tuple[int, ...], seed: int):
    def case(student: Student) -> str:
        layer = _tt_layer(in_f, out_f, shape, rank, seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            x = torch.randn(*lead, in_f)
        cores = [c.detach().clone() for c in layer.cores]
        with torch.no_grad():
            w = layer.dense_matrix()  # (in, out)
        expected = (lead + (out_f,))
        y = as_tensor(student(x.clone(), cores, in_f, out_f), "your tt_linear_forward's result")
        if shape_of(y) != expected:
            more = (" (reshape x to (-1, in_features), multiply, then reshape back to x.shape[:-1] + "
                    "(out_features,))") if len(lead) > 1 else ""
            raise Fail(f"your y has shape {shape_of(y)}, expected {expected} = x.shape[:-1] + (out_features,){more}")
        err = rel_error(y, x.double() @ w.double())
        if err < 1e-4:
            return f"y {expected}, relative error {err:.2g} vs lx.TTLinear (expected < 1e-04): match"
        raise Fail(_forward_hint(x, y, contract(cores), in_f, out_f))

    return case


def _gradient_case(student: Student) -> str:
    in_f, out_f, shape = 6, 10, (3, 4, 5)
    layer = _tt_layer(in_f, out_f, shape, 2, 7)
    gen = seeded(8)
    x, g = torch.randn(5, in_f, generator=gen), torch.randn(5, out_f, generator=gen)
    cores = [c.detach().clone().requires_grad_(True) for c in layer.cores]
    y = as_tensor(student(x, cores, in_f, out_f), "your tt_linear_forward's result")
    if not y.requires_grad:
        raise Fail("your y is not connected to the cores, so training could not update them: avoid .detach(), "
                    ".numpy(), .item(), torch.tensor(...) and torch.no_grad() inside the forward")
    if shape_of(y) != (5, out_f):
        raise Fail(f"your y has shape {shape_of(y)}, expected (5, {out_f})")
    grads = torch.autograd.grad((y * g).sum(), cores, allow_unused=True)
    ref_cores = [c.detach().clone().requires_grad_(True) for c in layer.cores]
    w = TensorTrain(ref_cores).full().reshape(in_f, out_f)
    ref_grads = torch.autograd.grad(((x @ w) * g).sum(), ref_cores)
    for k, (mine, ref) in enumerate(zip(grads, ref_grads)):
        if mine is None:
            raise Fail(f"core {k} gets no gradient: every core must take part in computing y")
        if rel_error(mine, ref) > 1e-4:
            raise Fail(f"the gradient for core {k} is off (relative error {rel_error(mine, ref):.2g}); "
                        f"is y right in the other cases?")
    return "gradients for all cores equal the reference's: match"


def check_tt_linear_forward(student_fn: Callable, *, raise_on_fail: bool = False) -> CheckResult:
    """Check ``student_fn(x, cores, in_features, out_features) -> y = x @ W`` (flattened layout).

    W (in, out) is the train's full tensor folded row-major (METHOD.md section 1); the reference
    is :meth:`loretta_explore.TTLinear.dense_matrix`. Cases: the input/output split on a mode
    boundary and inside a mode, a square weight (where a transposed W has the right shape), the
    paper's rep A shape 768 -> 8 as [8, 12, 8, 8], a batch of sequences (2, 3, in), and gradients
    reaching every core. Typical mistakes recognised: (out, in) orientation, x @ W.T, column-major
    flattening, cores contracted in reverse. Calling TTLinear's forward or dense_matrix, or
    ``TensorTrain.full``, inside the answer fails the case.
    """
    cases = [
        ("input/output split on a mode boundary (6 -> 4, shape [2, 3, 4], rank 2)",
         _forward_case(6, 4, (2, 3, 4), 2, (5,), 1)),
        ("split inside a mode (4 -> 6, shape [2, 6, 2], rank 3)", _forward_case(4, 6, (2, 6, 2), 3, (5,), 2)),
        ("square weight (6 -> 6, shape [3, 4, 3], rank 2)", _forward_case(6, 6, (3, 4, 3), 2, (5,), 3)),
        ("the paper's rep A (768 -> 8, shape [8, 12, 8, 8], rank 5)",
         _forward_case(768, 8, (8, 12, 8, 8), 5, (4,), 4)),
        ("a batch of sequences, x (2, 3, 12) -> (2, 3, 10) (shape [4, 6, 5], rank 3)",
         _forward_case(12, 10, (4, 6, 5), 3, (2, 3), 5)),
        ("gradients reach every core (6 -> 10, shape [3, 4, 5], rank 2)", _gradient_case),
    ]
    forbidden = {TTLinear.forward.__code__: "TTLinear.forward", TTLinear.dense_matrix.__code__: "TTLinear.dense_matrix",
                 TensorTrain.full.__code__: "TensorTrain.full"}
    return run_cases("tt_linear_forward", student_fn, cases, forbidden, raise_on_fail)
