"""Exercise 1: TT-SVD, ``tt_svd(x, max_rank) -> list of cores (r_{k-1}, n_k, r_k)`` (docs/method.md#tt-format).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..tt import tt_round, tt_svd
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

__all__ = ['check_tt_svd']


def _random_train(shape, ranks, gen, dtype=torch.float64) -> torch.Tensor:
    cores = [torch.randn(ranks[k], n, ranks[k + 1], generator=gen, dtype=dtype) for k, n in enumerate(shape)]
    return contract(cores).to(dtype)


def _student_cores(out, x: torch.Tensor) -> list[torch.Tensor]:
    """Validate what tt_svd returned; explain the first thing that does not fit a train for x."""
    if hasattr(out, "cores") and not isinstance(out, torch.Tensor):
        out = out.cores
    if isinstance(out, torch.Tensor) or not isinstance(out, (list, tuple)):
        raise Fail(f"tt_svd should return a list of cores (3-D tensors), got {type(out).__name__}"
                    + (f" of shape {shape_of(out)}" if isinstance(out, torch.Tensor) else ""))
    cores = [as_tensor(c, f"core {k}") for k, c in enumerate(out)]
    d = x.ndim
    if len(cores) != d:
        raise Fail(f"x has {d} modes {shape_of(x)}, so the train needs {d} cores (one per mode), "
                    f"but you returned {len(cores)}")
    for k, core in enumerate(cores):
        if core.ndim != 3:
            raise Fail(f"core {k} has shape {shape_of(core)}: every core must be 3-D (r_{{k-1}}, n_k, r_k); "
                        f"reshape it, e.g. u[:, :r].reshape(r_prev, n_k, r)")
    if cores[0].shape[0] != 1:
        raise Fail(f"core 0 has shape {shape_of(cores[0])}: the first core must start with rank r_0 = 1")
    if cores[-1].shape[2] != 1:
        raise Fail(f"core {d - 1} has shape {shape_of(cores[-1])}: the last core must end with rank r_d = 1, "
                    f"(r_prev, n_d, 1)")
    for k in range(1, d):
        if cores[k].shape[0] != cores[k - 1].shape[2]:
            raise Fail(f"core {k} has shape {shape_of(cores[k])} but core {k - 1} ends with rank "
                        f"{cores[k - 1].shape[2]}: neighbouring ranks must match")
    modes = tuple(int(c.shape[1]) for c in cores)
    if modes != shape_of(x):
        raise Fail(f"your cores reconstruct a tensor of shape {modes}, expected {shape_of(x)}: "
                    f"core k's middle size must be n_k, the size of mode k")
    for k, core in enumerate(cores):
        if not bool(torch.isfinite(core).all()):
            raise Fail(f"core {k} contains NaN or inf values")
    return cores


def _ranks_of(cores) -> list[int]:
    return [1] + [int(c.shape[2]) for c in cores]


def _tt_svd_case(x: torch.Tensor, max_rank: int, exact: bool, train_ranks=None):
    """One TT-SVD case: validate, check ranks, compare the error with the reference's.

    exact: the error must be ~0 (full rank, or x is a train whose ranks, `train_ranks`, fit max_rank).
    """
    tol = 1e-9 if x.dtype == torch.float64 else 1e-5

    def case(student: Student) -> str:
        before = x.clone()
        cores = _student_cores(student(x, max_rank), x)
        if not torch.equal(x, before):
            raise Fail("your tt_svd changed its input x in place; work on a copy (x.clone()) or on new tensors")
        ranks = _ranks_of(cores)
        if max(ranks) > max_rank:
            k = next(i for i, r in enumerate(ranks) if r > max_rank)
            raise Fail(f"at max_rank={max_rank} core {k - 1} ends with rank {ranks[k]} (your ranks: {ranks}): "
                        f"every internal rank must be <= max_rank; keep r = min(max_rank, len(s)) singular values")
        err = rel_error(contract(cores), x)
        ref = tt_svd(x, max_rank=max_rank)
        ref_err = rel_error(ref.full(), x)
        # A right-to-left sweep is TT-SVD too (on the reversed tensor); accept whichever is worse.
        flip = list(range(x.ndim - 1, -1, -1))
        ref_err = max(ref_err, rel_error(tt_svd(x.permute(flip).contiguous(), max_rank=max_rank).full().permute(flip), x))
        bound = tol if exact else ref_err * (1 + (1e-6 if x.dtype == torch.float64 else 1e-4)) + tol
        if err <= bound:
            expected = f"< {tol:.0e}" if exact else f"TT-SVD's {ref_err:.4g}"
            return f"ranks {ranks}, relative error {err:.4g} (expected {expected}): match"
        raise Fail(_tt_svd_hint(x, cores, err, ref_err, ranks, ref.ranks, max_rank, exact, tol, train_ranks))

    return case


def _tt_svd_hint(x, cores, err, ref_err, ranks, ref_ranks, max_rank, exact, tol, train_ranks=None) -> str:
    norm = float(torch.linalg.vector_norm(x.double()))
    recon = float(torch.linalg.vector_norm(contract(cores)))
    if any(c.dtype != x.dtype for c in cores) and err < 1e-4:
        dtypes = sorted({str(c.dtype).removeprefix("torch.") for c in cores})
        return (f"relative error {err:.2g}, expected < {tol:.0e}: your cores are {', '.join(dtypes)} but x is "
                f"{str(x.dtype).removeprefix('torch.')}; keep x's dtype (no .float()) so the result is exact")
    if abs(recon - math.sqrt(ranks[-2])) < 1e-6 * max(1.0, recon) and abs(norm - recon) > 1e-3 * norm:
        return (f"your reconstruction has norm {recon:.4g} = sqrt(r_{{d-1}}) instead of ||x|| = {norm:.4g}: it "
                f"looks like the singular values were dropped. The next remainder is diag(s[:r]) @ vh[:r] "
                f"(s[:r, None] * vh[:r]), not vh[:r] alone")
    low = [k for k, (a, b) in enumerate(zip(ranks, ref_ranks)) if a < b]
    if low:
        return (f"your ranks are {ranks} but max_rank={max_rank} allows {ref_ranks}: keep "
                f"r = min(max_rank, len(s)) singular values at every step (an off-by-one in the truncation?)")
    largest = ("did you keep the LARGEST singular values? torch.linalg.svd sorts them largest first, so keep "
               "the first r: u[:, :r], s[:r], vh[:r]")
    if exact and train_ranks:
        return (f"x is a tensor train with ranks {list(train_ranks)}, so at max_rank={max_rank} TT-SVD reproduces it "
                f"exactly, but your relative error is {err:.2g}: {largest}")
    if exact:
        return (f"the relative error is {err:.3g} where it should be exact (< {tol:.0e}). Check that "
                f"(a) each unfolding is rest.reshape(r_prev * n_k, -1), (b) core k is u[:, :r].reshape(r_prev, n_k, r), "
                f"(c) the next remainder is s[:r, None] * vh[:r], (d) the last core is the remainder reshaped to "
                f"(r_prev, n_d, 1)")
    return f"at max_rank={max_rank} your relative error is {err:.2g} but TT-SVD reaches {ref_err:.2g}: {largest}"


def check_tt_svd(student_fn: Callable, *, raise_on_fail: bool = False) -> CheckResult:
    """Check a student's TT-SVD: ``student_fn(x, max_rank) -> list of cores (r_{k-1}, n_k, r_k)``.

    Cases: exact at full rank (float64), exact recovery of a low-rank train, truncation of a noisy
    low-rank tensor (error compared with :func:`loretta_explore.tt_svd`'s, within 1e-6 relative),
    a matrix (d = 2, where TT-SVD is the truncated SVD) and a float32 5-way tensor. Every case also
    checks the cores' shapes chain (boundary ranks 1, neighbouring ranks equal, ranks <= max_rank)
    and that x is not modified. Calling ``lx.tt_svd`` inside the answer fails the case.

    Returns
    -------
    CheckResult
        ``passed``, ``score``, ``messages``; prints as "✅ tt_svd: 5/5 checks passed".
    """
    gen = seeded(0)
    full_rank = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64)
    low_rank = _random_train((4, 3, 5, 2), (1, 2, 3, 2, 1), gen)
    signal = _random_train((6, 5, 4, 3), (1, 3, 3, 3, 1), gen)
    noise = torch.randn(signal.shape, generator=gen, dtype=torch.float64)
    noisy = signal / signal.norm() + 0.05 * noise / noise.norm()
    matrix = (torch.randn(9, 4, generator=gen, dtype=torch.float64) * torch.tensor([5.0, 3.0, 1.0, 0.5], dtype=torch.float64)
              ) @ torch.randn(4, 7, generator=gen, dtype=torch.float64)
    five_way = torch.randn(2, 3, 4, 3, 2, generator=gen)
    cases = [
        ("exact at full rank (shape (3, 4, 5), float64, max_rank=20)", _tt_svd_case(full_rank, 20, True)),
        ("recovers a low-rank train exactly (shape (4, 3, 5, 2), TT ranks [1, 2, 3, 2, 1], max_rank=3)",
         _tt_svd_case(low_rank, 3, True, (1, 2, 3, 2, 1))),
        ("truncation keeps the largest singular values (noisy rank-3 train (6, 5, 4, 3), max_rank=3)",
         _tt_svd_case(noisy, 3, False)),
        ("a matrix is a truncated SVD (shape (9, 7), max_rank=2)", _tt_svd_case(matrix, 2, False)),
        ("float32, 5 modes (shape (2, 3, 4, 3, 2), max_rank=2)", _tt_svd_case(five_way, 2, False)),
    ]
    forbidden = {tt_svd.__code__: "lx.tt_svd", tt_round.__code__: "lx.tt_round"}
    return run_cases("tt_svd", student_fn, cases, forbidden, raise_on_fail)
