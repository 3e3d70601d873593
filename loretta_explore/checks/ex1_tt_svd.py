"""Exercise 1: TT-SVD, ``tt_svd(x, max_rank) -> list of cores (r_{k-1}, n_k, r_k)``
(docs/method.md#tt-format).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import tt as _tt
from ..tt import tt_svd
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

__all__ = ["FORBIDDEN", "check_tt_svd"]

#: The library functions an answer must not call (they are what the student writes).
FORBIDDEN = (Forbidden(_tt, "tt_svd", "lx.tt_svd"), Forbidden(_tt, "tt_round", "lx.tt_round"))


def _random_train(shape, ranks, gen, dtype=torch.float64) -> torch.Tensor:
    cores = [
        torch.randn(ranks[k], n, ranks[k + 1], generator=gen, dtype=dtype)
        for k, n in enumerate(shape)
    ]
    return contract(cores).to(dtype)


S = "tt-format"  # docs/method.md section of this exercise

H_LIST = Hint(
    "What does a tensor train consist of? tt_svd returns the list of the train's cores, one 3-D "
    "tensor per mode.",
    S,
    "collect the cores in a Python list (cores.append(core)) and `return cores`",
)
H_COUNT = Hint(
    "How many cores does a train of a d-way tensor have? The sweep makes one core per step for the "
    "first d - 1 modes, and what remains becomes the last core.",
    S,
    "loop over x.shape[:-1] (d - 1 steps), then append rest.reshape(r_prev, x.shape[-1], 1)",
)
H_3D = Hint(
    "Every core is 3-D, (r_{k-1}, n_k, r_k), the first and the last too (their outer rank is 1).",
    S,
    "reshape each core: u[:, :r].reshape(r_prev, n_k, r); the last: rest.reshape(r_prev, n_d, 1)",
)
H_BOUNDARY = Hint(
    "Look at the ranks at the two ends of the train: they are the boundary ranks r_0 = r_d = 1.",
    S,
    "start the sweep with r_prev = 1, so core 0 is (1, n_1, r_1), and make the last core "
    "rest.reshape(r_prev, n_d, 1)",
)
H_CHAIN = Hint(
    "Neighbouring cores share a rank: core k ends with r_k and core k + 1 starts with it.",
    S,
    "after each step set r_prev = r, and unfold the next remainder as rest.reshape(r_prev * n_k, -1)",
)
H_MODES = Hint(
    "Core k's middle size is n_k, the size of mode k, in order: the sweep runs over the modes "
    "from the first to the last.",
    S,
    "iterate over x.shape[:-1] in order; don't permute or transpose x",
)
H_FINITE = Hint(
    "A NaN or inf in a core usually comes from a division (by a zero singular value, say).", S
)
H_INPLACE = Hint(
    "The check gives your function its tensor to read, not to change.",
    S,
    "build new tensors (reshape, slicing and s[:r, None] * vh[:r] do); never assign into x or "
    "use in-place methods like x.mul_(...); x.clone() if you must",
)
H_TRUNCATE = Hint(
    "Where does max_rank come in? Every internal rank of the train must be at most max_rank.",
    S,
    "keep r = min(max_rank, len(s)) singular values at each step: u[:, :r], s[:r], vh[:r]",
)
H_DTYPE = Hint(
    "Which dtype are your cores? The check compares at x's precision.",
    S,
    "keep x's dtype: no .float() / .double() / torch.tensor(..., dtype=...) on the way",
)
H_DROPPED_S = Hint(
    "What goes into the next remainder? The singular values carry the tensor's size; a remainder "
    "built from the right singular vectors alone loses them.",
    S,
    "the next remainder is diag(s[:r]) @ vh[:r], i.e. rest = s[:r, None] * vh[:r], not vh[:r]",
)
H_TOO_FEW = Hint(
    "You keep fewer singular values than max_rank allows: count the values you keep (an "
    "off-by-one in the truncation?).",
    S,
    "r = min(max_rank, s.numel()) and slice [:r], not [:r - 1]",
)
H_LARGEST = Hint(
    "Which singular values does your truncation keep? The best rank-r approximation of each "
    "unfolding keeps the largest ones (Eckart-Young).",
    S,
    "torch.linalg.svd sorts s largest first, so keep the first r: u[:, :r], s[:r], vh[:r]",
)
H_EXACT = Hint(
    "Without truncation TT-SVD is exact, so one of the four steps of the sweep is off: the "
    "unfolding, the core, the next remainder or the last core.",
    S,
    "(a) unfolding = rest.reshape(r_prev * n_k, -1), (b) core = u[:, :r].reshape(r_prev, n_k, r), "
    "(c) rest = s[:r, None] * vh[:r], (d) last core = rest.reshape(r_prev, n_d, 1)",
)


def _student_cores(out, x: torch.Tensor) -> list[torch.Tensor]:
    """Validate what tt_svd returned; explain the first thing that does not fit a train for x."""
    if hasattr(out, "cores") and not isinstance(out, torch.Tensor):
        out = out.cores
    if isinstance(out, torch.Tensor) or not isinstance(out, (list, tuple)):
        raise Fail(
            f"tt_svd returned a {type(out).__name__}"
            + (f" of shape {shape_of(out)}" if isinstance(out, torch.Tensor) else "")
            + ", expected a list of cores (3-D tensors)",
            H_LIST,
        )
    cores = [as_tensor(c, f"core {k}") for k, c in enumerate(out)]
    d = x.ndim
    if len(cores) != d:
        raise Fail(
            f"x has {d} modes {shape_of(x)}, so the train needs {d} cores, but you returned {len(cores)}",
            H_COUNT,
        )
    for k, core in enumerate(cores):
        if core.ndim != 3:
            raise Fail(
                f"core {k} has shape {shape_of(core)}, expected 3-D (r_{{k-1}}, n_k, r_k)", H_3D
            )
    if cores[0].shape[0] != 1:
        raise Fail(
            f"core 0 has shape {shape_of(cores[0])}: it starts with rank {cores[0].shape[0]}, expected 1",
            H_BOUNDARY,
        )
    if cores[-1].shape[2] != 1:
        raise Fail(
            f"core {d - 1} has shape {shape_of(cores[-1])}: it ends with rank {cores[-1].shape[2]}, "
            f"expected 1",
            H_BOUNDARY,
        )
    for k in range(1, d):
        if cores[k].shape[0] != cores[k - 1].shape[2]:
            raise Fail(
                f"core {k} has shape {shape_of(cores[k])} but core {k - 1} ends with rank "
                f"{cores[k - 1].shape[2]}",
                H_CHAIN,
            )
    modes = tuple(int(c.shape[1]) for c in cores)
    if modes != shape_of(x):
        raise Fail(
            f"your cores reconstruct a tensor of shape {modes}, expected {shape_of(x)}", H_MODES
        )
    for k, core in enumerate(cores):
        if not bool(torch.isfinite(core).all()):
            raise Fail(f"core {k} contains NaN or inf values", H_FINITE)
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
            raise Fail("your tt_svd changed its input x in place", H_INPLACE)
        ranks = _ranks_of(cores)
        if max(ranks) > max_rank:
            raise Fail(f"at max_rank={max_rank} your ranks are {ranks}", H_TRUNCATE)
        err = rel_error(contract(cores), x)
        ref = tt_svd(x, max_rank=max_rank)
        ref_err = rel_error(ref.full(), x)
        # A right-to-left sweep is TT-SVD too (on the reversed tensor); accept whichever is worse.
        flip = list(range(x.ndim - 1, -1, -1))
        ref_err = max(
            ref_err,
            rel_error(
                tt_svd(x.permute(flip).contiguous(), max_rank=max_rank).full().permute(flip), x
            ),
        )
        bound = tol if exact else ref_err * (1 + (1e-6 if x.dtype == torch.float64 else 1e-4)) + tol
        expected = f"< {tol:.0e}" if exact else f"TT-SVD's {ref_err:.4g}"
        if err <= bound:
            return f"ranks {ranks}, relative error {err:.4g} (expected {expected}): match"
        raise Fail(
            f"ranks {ranks}, relative error {err:.4g}, expected {expected}",
            _tt_svd_hint(x, cores, err, ranks, ref.ranks, exact and not train_ranks),
        )

    return case


def _tt_svd_hint(x, cores, err, ranks, ref_ranks, full_rank: bool) -> Hint:
    """Which typical mistake do these cores look like? (full_rank: nothing was truncated)"""
    norm = float(torch.linalg.vector_norm(x.double()))
    recon = float(torch.linalg.vector_norm(contract(cores)))
    if any(c.dtype != x.dtype for c in cores) and err < 1e-4:
        return H_DTYPE
    if (
        abs(recon - math.sqrt(ranks[-2])) < 1e-6 * max(1.0, recon)
        and abs(norm - recon) > 1e-3 * norm
    ):
        return H_DROPPED_S
    if any(a < b for a, b in zip(ranks, ref_ranks)):
        return H_TOO_FEW
    return H_EXACT if full_rank else H_LARGEST


def check_tt_svd(
    student_fn: Callable,
    *,
    raise_on_fail: bool = False,
    time_limit: float | None = DEFAULT_TIME_LIMIT,
) -> CheckResult:
    """Check a student's TT-SVD: ``student_fn(x, max_rank) -> list of cores (r_{k-1}, n_k, r_k)``.

    Cases: exact at full rank (float64), exact recovery of a low-rank train, truncation of a noisy
    low-rank tensor (error compared with :func:`loretta_explore.tt_svd`'s, within 1e-6 relative),
    a matrix (d = 2, where TT-SVD is the truncated SVD) and a float32 5-way tensor. Every case also
    checks the cores' shapes chain (boundary ranks 1, neighbouring ranks equal, ranks <= max_rank)
    and that x is not modified. Calling ``lx.tt_svd`` inside the answer fails the case.

    Parameters
    ----------
    student_fn : callable
        The student's ``tt_svd``.
    raise_on_fail : bool
        Raise :class:`CheckFailed` (an AssertionError) unless every case passes.
    time_limit : float or None
        Seconds each call of ``student_fn`` may take (a hung call fails its case).

    Returns
    -------
    CheckResult
        ``passed``, ``score``, ``messages``; prints as "PASS  tt_svd: 5/5 checks passed";
        ``result.show_fix()`` shows the code-level fix of each hint.
    """
    gen = seeded(0)
    full_rank = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64)
    low_rank = _random_train((4, 3, 5, 2), (1, 2, 3, 2, 1), gen)
    signal = _random_train((6, 5, 4, 3), (1, 3, 3, 3, 1), gen)
    noise = torch.randn(signal.shape, generator=gen, dtype=torch.float64)
    noisy = signal / signal.norm() + 0.05 * noise / noise.norm()
    matrix = (
        torch.randn(9, 4, generator=gen, dtype=torch.float64)
        * torch.tensor([5.0, 3.0, 1.0, 0.5], dtype=torch.float64)
    ) @ torch.randn(4, 7, generator=gen, dtype=torch.float64)
    five_way = torch.randn(2, 3, 4, 3, 2, generator=gen)
    cases = [
        (
            "exact at full rank (shape (3, 4, 5), float64, max_rank=20)",
            _tt_svd_case(full_rank, 20, True),
        ),
        (
            "recovers a low-rank train exactly (shape (4, 3, 5, 2), TT ranks [1, 2, 3, 2, 1], max_rank=3)",
            _tt_svd_case(low_rank, 3, True, (1, 2, 3, 2, 1)),
        ),
        (
            "truncation keeps the largest singular values (noisy rank-3 train (6, 5, 4, 3), max_rank=3)",
            _tt_svd_case(noisy, 3, False),
        ),
        ("a matrix is a truncated SVD (shape (9, 7), max_rank=2)", _tt_svd_case(matrix, 2, False)),
        ("float32, 5 modes (shape (2, 3, 4, 3, 2), max_rank=2)", _tt_svd_case(five_way, 2, False)),
    ]
    return run_cases(
        "tt_svd", student_fn, cases, FORBIDDEN, raise_on_fail, section=S, time_limit=time_limit
    )


take_baseline()  # remember the kit as imported, to notice a later patch of it (watch.py)
