"""Self-checks for the exercises in ``notebooks/exercises``: friendly feedback, autograder-ready.

Each exercise has one function that takes the student's function, runs it on several cases and
compares it with the library's reference (which the student is asked not to call):

- :func:`check_tt_svd`: ``tt_svd(x, max_rank) -> list of cores (r_{k-1}, n_k, r_k)`` (METHOD.md section 1);
- :func:`check_tt_linear_forward`: ``tt_linear_forward(x, cores, in_features, out_features) -> x @ W``
  with W (in, out) folded row-major into the train (METHOD.md section 1);
- :func:`check_budget_formula`: ``rep_budget(model_name, tt_rank) -> int``, LoRETTA_rep's trainable
  parameters (METHOD.md section 5), against :func:`loretta_explore.count_trainable`;
- :func:`check_rep_merge`: ``merge_rep(rep_layer) -> W0 + s * (A_W @ B_W).T`` in nn.Linear's (out, in)
  orientation (METHOD.md section 3), against :meth:`LorettaRepLinear.merge`.

A check never raises because of the student's code (unless ``raise_on_fail=True``): a stub that
raises ``NotImplementedError`` gets "Not implemented yet", any other exception is shown with the
line of the student's code it came from, and a wrong answer is compared with the typical mistakes
(smallest singular values kept, transposed weight, forgotten norms, missing scale...) to say which
one it looks like. The result prints as "✅ 5/5 checks passed" or "❌ ..." with one line per case
("expected ... vs yours ...: match", after nanoGPT's sizing notebook) and renders as HTML in Jupyter;
``result.passed`` and ``result.score`` (a fraction) are for autograders.
"""

from __future__ import annotations

import copy
import html
import linecache
import math
import numbers
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .adapt import architecture, matches_name
from .budget import count_breakdown, count_trainable, model_spec
from .layers import LorettaRepLinear, TTLinear
from .tensorize import resolve_shape
from .tt import TensorTrain, tt_svd

__all__ = [
    "EXERCISES",
    "CheckFailed",
    "CheckItem",
    "CheckResult",
    "check_budget_formula",
    "check_rep_merge",
    "check_tt_linear_forward",
    "check_tt_svd",
]

PASS, FAIL = "✅", "❌"

# ---------------------------------------------------------------------------------------------
# The result a check returns.
# ---------------------------------------------------------------------------------------------


@dataclass
class CheckItem:
    """One case of a check: its name, whether it passed and the feedback for it."""

    name: str
    passed: bool
    message: str

    def __str__(self) -> str:
        return f"{PASS if self.passed else FAIL} {self.name}: {self.message}"


class CheckFailed(AssertionError):
    """Raised by a check called with ``raise_on_fail=True`` when the answer is not right yet.

    ``str(error)`` is the whole feedback; ``error.result`` is the :class:`CheckResult`.
    """

    def __init__(self, result: CheckResult):
        super().__init__(str(result))
        self.result = result


@dataclass
class CheckResult:
    """What a check found: one :class:`CheckItem` per case.

    Attributes
    ----------
    exercise : str
        The function being checked, e.g. "tt_svd".
    items : list of CheckItem
    not_implemented : str
        The "Not implemented yet: ..." message when the student's function still raises
        NotImplementedError, else "".
    """

    exercise: str
    items: list[CheckItem] = field(default_factory=list)
    not_implemented: str = ""

    @property
    def n_total(self) -> int:
        return len(self.items)

    @property
    def n_passed(self) -> int:
        return sum(item.passed for item in self.items)

    @property
    def passed(self) -> bool:
        """True when every case passed."""
        return bool(self.items) and self.n_passed == self.n_total

    @property
    def score(self) -> float:
        """The fraction of cases that passed, in [0, 1] (for autograders)."""
        return self.n_passed / self.n_total if self.items else 0.0

    @property
    def messages(self) -> list[str]:
        """The feedback, one string per line of the printed result (after the header)."""
        if self.not_implemented:
            return [self.not_implemented]
        return [str(item) for item in self.items]

    @property
    def header(self) -> str:
        mark = PASS if self.passed else FAIL
        return f"{mark} {self.exercise}: {self.n_passed}/{self.n_total} checks passed"

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [self.header, *("   " + m for m in self.messages)]
        if self.passed:
            lines.append(f"   Well done: your {self.exercise} matches the reference.")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.passed else "#cf222e"
        rows = "".join(f"<li style='white-space: pre-wrap; margin: 2px 0'>{html.escape(m)}</li>"
                       for m in self.messages)
        footer = (f"<div>Well done: your <code>{html.escape(self.exercise)}</code> matches the reference.</div>"
                  if self.passed else "")
        return (f"<div style='font-family: sans-serif; border-left: 4px solid {color}; padding: 4px 10px'>"
                f"<div style='font-weight: bold; color: {color}'>{html.escape(self.header)}</div>"
                f"<ul style='list-style: none; padding-left: 0.5em; margin: 4px 0'>{rows}</ul>{footer}</div>")

    def raise_if_failed(self) -> CheckResult:
        """Raise :class:`CheckFailed` unless every case passed; return self otherwise."""
        if not self.passed:
            raise CheckFailed(self)
        return self


# ---------------------------------------------------------------------------------------------
# Running the student's code: never let it crash the check, say where it went wrong.
# ---------------------------------------------------------------------------------------------


class _Fail(Exception):
    """A case did not pass; the text is the feedback."""


class _NotYet(Exception):
    """The student's function (or a helper of theirs) still raises NotImplementedError."""


_HERE = os.path.abspath(__file__)
_LIBRARY = os.path.dirname(_HERE)
_TORCH = os.path.dirname(os.path.abspath(torch.__file__))


def _student_frames(exc: BaseException, fn) -> list[traceback.FrameSummary]:
    """The traceback frames that belong to the student's code (their cell or file)."""
    frames = traceback.extract_tb(exc.__traceback__)
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "func", None), "__code__", None)  # or a partial
    if code is not None:
        mine = [f for f in frames if f.filename == code.co_filename]
        if mine:
            return mine
    outside = (_HERE, _LIBRARY, _TORCH, os.path.dirname(os.__file__))
    return [f for f in frames if not os.path.abspath(f.filename).startswith(outside)]


def _where(frame: traceback.FrameSummary) -> str:
    source = frame.line or linecache.getline(frame.filename, frame.lineno).strip()
    name = os.path.basename(frame.filename)
    place = "your cell" if ("ipykernel" in frame.filename or frame.filename.startswith("<")) else name
    text = f"line {frame.lineno} of {place}, in {frame.name}"
    return f"{text}: `{source.strip()}`" if source else text


class _Student:
    """Calls the student's function; turns what it raises into feedback.

    `forbidden` maps code objects of library functions to their public names: calling one of them
    (directly or through a helper) fails the case, since the exercise is to write it yourself.
    """

    def __init__(self, fn: Callable, name: str, forbidden: dict | None = None):
        self.fn, self.name, self.forbidden = fn, name, forbidden or {}

    def __call__(self, *args):
        used: list[str] = []
        previous = sys.getprofile()

        def watch(frame, event, arg):
            if event == "call" and frame.f_code in self.forbidden:
                used.append(self.forbidden[frame.f_code])

        watching = bool(self.forbidden) and previous is None  # never displace a profiler that runs
        if watching:
            sys.setprofile(watch)
        try:
            out = self.fn(*args)
        except NotImplementedError as exc:
            mine = _student_frames(exc, self.fn)
            where = mine[-1].name if mine and mine[-1].name != "<module>" else self.name
            raise _NotYet(f"Not implemented yet: fill in the body of {where} (the cell marked # TODO), "
                          f"then run this cell again.") from None
        except Exception as exc:  # the student's code crashed: show what and where
            mine = _student_frames(exc, self.fn)
            where = f"\n      at {_where(mine[-1])}" if mine else ""
            raise _Fail(f"your {self.name} raised {type(exc).__name__}: {exc}{where}") from None
        finally:
            if watching:
                sys.setprofile(previous)
        if used:
            raise _Fail(f"your {self.name} calls {used[0]}: the exercise is to write it yourself "
                        f"(compare with the library in a separate cell instead).")
        return out


def _run(exercise: str, student_fn, cases: Sequence[tuple[str, Callable]], forbidden=None,
         raise_on_fail: bool = False) -> CheckResult:
    result = CheckResult(exercise)
    if not callable(student_fn):
        bad = (f"expected your function {exercise} itself (pass it without calling it: "
               f"check(..., {exercise}) not check(..., {exercise}())), got {type(student_fn).__name__}")
        result.items = [CheckItem(name, False, bad) for name, _ in cases]
    else:
        student = _Student(student_fn, getattr(student_fn, "__name__", exercise), forbidden)
        for i, (name, case) in enumerate(cases):
            try:
                result.items.append(CheckItem(name, True, case(student)))
            except _NotYet as exc:
                result.not_implemented = str(exc)
                result.items += [CheckItem(n, False, "not reached: " + str(exc)) for n, _ in cases[i:]]
                break
            except _Fail as exc:
                result.items.append(CheckItem(name, False, str(exc)))
            except Exception as exc:  # the answer is of a kind the check did not expect
                result.items.append(CheckItem(name, False, f"could not check your answer "
                                                           f"({type(exc).__name__}: {exc}); see the expected "
                                                           f"types in the exercise's docstring"))
    if raise_on_fail:
        result.raise_if_failed()
    return result


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| in float64."""
    a, b = a.detach().double(), b.detach().double()
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b).clamp_min(1e-300))


def _as_tensor(value, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if type(value).__module__ == "numpy" and hasattr(value, "shape"):
        return torch.from_numpy(value)
    raise _Fail(f"{what} should be a torch.Tensor, got {type(value).__name__}")


def _shape(t) -> tuple[int, ...]:
    return tuple(int(s) for s in t.shape)


# ---------------------------------------------------------------------------------------------
# Exercise 1: TT-SVD.
# ---------------------------------------------------------------------------------------------


def _contract(cores: Sequence[torch.Tensor]) -> torch.Tensor:
    """The dense tensor of a train (cores (r, n, s), r_0 = r_d = 1), in float64."""
    out = cores[0].detach().double().reshape(cores[0].shape[1], -1)  # (n_1, r_1)
    for core in cores[1:]:
        r, n, s = core.shape
        out = (out @ core.detach().double().reshape(r, n * s)).reshape(-1, s)  # (n_1..n_k, r_k)
    return out.reshape([c.shape[1] for c in cores])


def _random_train(shape, ranks, gen, dtype=torch.float64) -> torch.Tensor:
    cores = [torch.randn(ranks[k], n, ranks[k + 1], generator=gen, dtype=dtype) for k, n in enumerate(shape)]
    return _contract(cores).to(dtype)


def _student_cores(out, x: torch.Tensor) -> list[torch.Tensor]:
    """Validate what tt_svd returned; explain the first thing that does not fit a train for x."""
    if hasattr(out, "cores") and not isinstance(out, torch.Tensor):
        out = out.cores
    if isinstance(out, torch.Tensor) or not isinstance(out, (list, tuple)):
        raise _Fail(f"tt_svd should return a list of cores (3-D tensors), got {type(out).__name__}"
                    + (f" of shape {_shape(out)}" if isinstance(out, torch.Tensor) else ""))
    cores = [_as_tensor(c, f"core {k}") for k, c in enumerate(out)]
    d = x.ndim
    if len(cores) != d:
        raise _Fail(f"x has {d} modes {_shape(x)}, so the train needs {d} cores (one per mode), "
                    f"but you returned {len(cores)}")
    for k, core in enumerate(cores):
        if core.ndim != 3:
            raise _Fail(f"core {k} has shape {_shape(core)}: every core must be 3-D (r_{{k-1}}, n_k, r_k); "
                        f"reshape it, e.g. u[:, :r].reshape(r_prev, n_k, r)")
    if cores[0].shape[0] != 1:
        raise _Fail(f"core 0 has shape {_shape(cores[0])}: the first core must start with rank r_0 = 1")
    if cores[-1].shape[2] != 1:
        raise _Fail(f"core {d - 1} has shape {_shape(cores[-1])}: the last core must end with rank r_d = 1, "
                    f"(r_prev, n_d, 1)")
    for k in range(1, d):
        if cores[k].shape[0] != cores[k - 1].shape[2]:
            raise _Fail(f"core {k} has shape {_shape(cores[k])} but core {k - 1} ends with rank "
                        f"{cores[k - 1].shape[2]}: neighbouring ranks must match")
    modes = tuple(int(c.shape[1]) for c in cores)
    if modes != _shape(x):
        raise _Fail(f"your cores reconstruct a tensor of shape {modes}, expected {_shape(x)}: "
                    f"core k's middle size must be n_k, the size of mode k")
    for k, core in enumerate(cores):
        if not bool(torch.isfinite(core).all()):
            raise _Fail(f"core {k} contains NaN or inf values")
    return cores


def _ranks_of(cores) -> list[int]:
    return [1] + [int(c.shape[2]) for c in cores]


def _tt_svd_case(x: torch.Tensor, max_rank: int, exact: bool, train_ranks=None):
    """One TT-SVD case: validate, check ranks, compare the error with the reference's.

    exact: the error must be ~0 (full rank, or x is a train whose ranks, `train_ranks`, fit max_rank).
    """
    tol = 1e-9 if x.dtype == torch.float64 else 1e-5

    def case(student: _Student) -> str:
        before = x.clone()
        cores = _student_cores(student(x, max_rank), x)
        if not torch.equal(x, before):
            raise _Fail("your tt_svd changed its input x in place; work on a copy (x.clone()) or on new tensors")
        ranks = _ranks_of(cores)
        if max(ranks) > max_rank:
            k = next(i for i, r in enumerate(ranks) if r > max_rank)
            raise _Fail(f"at max_rank={max_rank} core {k - 1} ends with rank {ranks[k]} (your ranks: {ranks}): "
                        f"every internal rank must be <= max_rank; keep r = min(max_rank, len(s)) singular values")
        err = _rel(_contract(cores), x)
        ref = tt_svd(x, max_rank=max_rank)
        ref_err = _rel(ref.full(), x)
        # A right-to-left sweep is TT-SVD too (on the reversed tensor); accept whichever is worse.
        flip = list(range(x.ndim - 1, -1, -1))
        ref_err = max(ref_err, _rel(tt_svd(x.permute(flip).contiguous(), max_rank=max_rank).full().permute(flip), x))
        bound = tol if exact else ref_err * (1 + (1e-6 if x.dtype == torch.float64 else 1e-4)) + tol
        if err <= bound:
            expected = f"< {tol:.0e}" if exact else f"TT-SVD's {ref_err:.4g}"
            return f"ranks {ranks}, relative error {err:.4g} (expected {expected}): match"
        raise _Fail(_tt_svd_hint(x, cores, err, ref_err, ranks, ref.ranks, max_rank, exact, tol, train_ranks))

    return case


def _tt_svd_hint(x, cores, err, ref_err, ranks, ref_ranks, max_rank, exact, tol, train_ranks=None) -> str:
    norm = float(torch.linalg.vector_norm(x.double()))
    recon = float(torch.linalg.vector_norm(_contract(cores)))
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
    gen = _seeded(0)
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
    import loretta_explore.tt as tt_module

    forbidden = {tt_svd.__code__: "lx.tt_svd", tt_module.tt_round.__code__: "lx.tt_round"}
    return _run("tt_svd", student_fn, cases, forbidden, raise_on_fail)


# ---------------------------------------------------------------------------------------------
# Exercise 2: the forward of a TT linear layer (flattened layout).
# ---------------------------------------------------------------------------------------------


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
        if y2.shape[1] == w.shape[1] and _rel(y2, x2 @ w) < 1e-4:
            return hint
    ref = x2 @ full.reshape(in_f, out_f)
    scale = float((y2 * ref).sum() / (ref * ref).sum())
    if abs(scale - 1) > 1e-3 and _rel(y2, scale * ref) < 1e-4:
        return f"your y is {scale:.4g} times x @ W: the shapes are right, look for an extra factor"
    return (f"your y differs from x @ W (relative error {_rel(y2, ref):.3g}). Contract the cores left to right "
            f"into the full tensor (k_1, ..., k_d), fold it row-major into W = full.reshape(in_features, "
            f"out_features) and multiply: y = x @ W")


def _forward_case(in_f: int, out_f: int, shape, rank: int, lead: tuple[int, ...], seed: int):
    def case(student: _Student) -> str:
        layer = _tt_layer(in_f, out_f, shape, rank, seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            x = torch.randn(*lead, in_f)
        cores = [c.detach().clone() for c in layer.cores]
        with torch.no_grad():
            w = layer.dense_matrix()  # (in, out)
        expected = (lead + (out_f,))
        y = _as_tensor(student(x.clone(), cores, in_f, out_f), "your tt_linear_forward's result")
        if _shape(y) != expected:
            more = (" (reshape x to (-1, in_features), multiply, then reshape back to x.shape[:-1] + "
                    "(out_features,))") if len(lead) > 1 else ""
            raise _Fail(f"your y has shape {_shape(y)}, expected {expected} = x.shape[:-1] + (out_features,){more}")
        err = _rel(y, x.double() @ w.double())
        if err < 1e-4:
            return f"y {expected}, relative error {err:.2g} vs lx.TTLinear (expected < 1e-04): match"
        raise _Fail(_forward_hint(x, y, _contract(cores), in_f, out_f))

    return case


def _gradient_case(student: _Student) -> str:
    in_f, out_f, shape = 6, 10, (3, 4, 5)
    layer = _tt_layer(in_f, out_f, shape, 2, 7)
    gen = _seeded(8)
    x, g = torch.randn(5, in_f, generator=gen), torch.randn(5, out_f, generator=gen)
    cores = [c.detach().clone().requires_grad_(True) for c in layer.cores]
    y = _as_tensor(student(x, cores, in_f, out_f), "your tt_linear_forward's result")
    if not y.requires_grad:
        raise _Fail("your y is not connected to the cores, so training could not update them: avoid .detach(), "
                    ".numpy(), .item(), torch.tensor(...) and torch.no_grad() inside the forward")
    if _shape(y) != (5, out_f):
        raise _Fail(f"your y has shape {_shape(y)}, expected (5, {out_f})")
    grads = torch.autograd.grad((y * g).sum(), cores, allow_unused=True)
    ref_cores = [c.detach().clone().requires_grad_(True) for c in layer.cores]
    w = TensorTrain(ref_cores).full().reshape(in_f, out_f)
    ref_grads = torch.autograd.grad(((x @ w) * g).sum(), ref_cores)
    for k, (mine, ref) in enumerate(zip(grads, ref_grads)):
        if mine is None:
            raise _Fail(f"core {k} gets no gradient: every core must take part in computing y")
        if _rel(mine, ref) > 1e-4:
            raise _Fail(f"the gradient for core {k} is off (relative error {_rel(mine, ref):.2g}); "
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
                 TTLinear._contract_flat.__code__: "TTLinear's contraction", TensorTrain.full.__code__: "TensorTrain.full"}
    return _run("tt_linear_forward", student_fn, cases, forbidden, raise_on_fail)


# ---------------------------------------------------------------------------------------------
# Exercise 3: LoRETTA_rep's trainable-parameter budget.
# ---------------------------------------------------------------------------------------------

#: The models and ranks :func:`check_budget_formula` asks about (every shape is a paper preset).
BUDGET_MODELS = ("deberta-base", "roberta-base", "bert-base-uncased", "llama-2-7b", "llama-2-13b", "llama-2-70b")
BUDGET_RANKS = (5, 8, 2)


def _tt_count(shape, ranks) -> int:
    return sum(ranks[i] * k * ranks[i + 1] for i, k in enumerate(shape))


def _rep_layers(model: str) -> list[tuple[str, int, tuple[int, ...], tuple[int, ...]]]:
    """(target name, layer index, A's TT shape, B's TT shape) of every adapted linear, in order."""
    spec = model_spec(model)
    arch = architecture(spec.config)
    b = arch.rep_bottleneck
    out = []
    for name, site in spec.modules().items():
        if site.kind in ("linear", "conv1d") and any(matches_name(name, p) for p in arch.rep):
            layer = next((int(p) for p in name.split(".") if p.isdigit()), 0)
            out.append((name.split(".")[-1], layer, resolve_shape(site.in_features, b, "paper"),
                        resolve_shape(b, site.out_features, "paper")))
    return out


def _budget_hints(model: str, rank: int, got: int, expected: int) -> str:
    parts = count_breakdown(model, "loretta_rep", tt_rank=rank)
    tt, norms, head = parts.get("tt cores", 0), parts.get("norms", 0), parts.get("tensorized head", 0)
    spec = model_spec(model)
    hidden, layers, encoder = spec.hidden, spec.layers, bool(head)
    rest = expected - tt
    d = got - expected
    known: list[tuple[int, str]] = [
        (-norms, "did you forget the norm parameters? LoRETTA trains every LayerNorm / RMSNorm too (METHOD.md "
                 "sections 2-3): " + ("BERT family: 2 LayerNorms per layer + 1 after the embeddings, each with a "
                                      "weight AND a bias of size hidden" if encoder else
                                      "LLaMA: 2 RMSNorms per layer + the final one, each a weight of size hidden")),
    ]
    if encoder:
        cls = count_breakdown(model, "loretta_rep", tt_rank=rank, train_classifier=True)["classifier"]
        pooler_tt = head - hidden
        known += [
            (-norms // 2, "you counted each LayerNorm's weight but not its bias (a LayerNorm has both)"),
            (-head, f"did you forget the tensorized pooler? Encoders train a fresh TT layer in place of the "
                    f"{hidden}x{hidden} pooler dense (shape [12, 8, 8, 8, 8, 12] for 768) plus its bias of "
                    f"{hidden} (METHOD.md section 2)"),
            (-hidden, f"off by exactly {hidden:,}: the tensorized pooler's bias (it keeps a dense bias of size hidden)"),
            (-pooler_tt, "you counted the pooler's bias but not its TT cores: the pooler is a TT layer "
                         "(shape [12, 8, 8, 8, 8, 12] for 768) with the same rank"),
            (hidden * hidden + hidden - head, "you counted the pooler as a dense layer; LoRETTA replaces it by a "
                                              "TT layer (+ bias), TT(pooler shape, r) + hidden"),
            (cls, f"off by exactly {cls:,} = the final classifier: in the paper's counts LoRETTA_rep keeps the "
                  f"classifier frozen (METHOD.md section 3), so don't count it"),
            (-(norms + head), "you forgot both the LayerNorms and the tensorized pooler"),
        ]
    else:
        known.append((norms, "RMSNorm has a weight but no bias: count hidden per norm, not 2 * hidden"))
    known.append((-tt, "you forgot the TT cores of A and B themselves"))

    def train(shape, boundary: int = 1) -> int:
        return _tt_count(shape, [boundary] + [rank] * (len(shape) - 1) + [boundary])

    try:
        sites = _rep_layers(model)
        if sum(train(a) + train(bs) for _, _, a, bs in sites) != tt:
            sites = []  # our enumeration disagrees with the library's: no per-layer hints
    except Exception:  # pragma: no cover - hints are a bonus
        sites = []

    if sites:
        first = sites[0][0]
        alternatives = [
            (sum(train(a, rank) + train(bs, rank) for _, _, a, bs in sites),
             f"you used rank {rank} at the ends of the train too: the boundary ranks are r_0 = r_d = 1, so "
             f"TT(shape, r) = sum_i r_(i-1) k_i r_i with ranks [1, r, ..., r, 1]"),
            (sum(train(a) + train(bs) for _, i, a, bs in sites if i == 0),
             f"you counted one layer only: multiply the per-layer count by the number of layers ({layers})"),
            (sum(train(a) for _, _, a, _ in sites), "you counted A (in -> b) but not B (b -> out): each target "
                                                    "has both, each one TT layer"),
            (sum(train(bs) for _, _, _, bs in sites), "you counted B (b -> out) but not A (in -> b): each target "
                                                      "has both, each one TT layer"),
            (sum(math.prod(a) + math.prod(bs) for _, _, a, bs in sites),
             "you counted A and B as dense matrices (like LoRA); each is a TT layer with "
             "sum_i r_(i-1) k_i r_i parameters"),
        ]
        if len({t for t, _, _, _ in sites}) > 1:
            alternatives.append((sum(train(a) + train(bs) for t, _, a, bs in sites if t == first),
                                 f"you counted only {first}: LoRETTA_rep adapts every target of each layer "
                                 f"({', '.join(dict.fromkeys(t for t, _, _, _ in sites))})"))
        known += [(alt + rest - expected, hint) for alt, hint in alternatives]
    for diff, hint in known:
        if diff != 0 and d == diff:
            return hint
    parts_text = "TT cores of A and B (every target, every layer) + norms" + (" + the tensorized pooler (TT + bias)"
                                                                            if encoder else "")
    return f"the count is {parts_text}; compute each part on its own and compare with the formula in METHOD.md section 5"


def _budget_case(model: str):
    def case(student: _Student) -> str:
        lines = []
        for rank in BUDGET_RANKS:
            expected = count_trainable(model, "loretta_rep", tt_rank=rank)
            raw = student(model, rank)
            if isinstance(raw, torch.Tensor) and raw.numel() == 1:
                raw = raw.item()
            whole = isinstance(raw, numbers.Integral) or (isinstance(raw, numbers.Real) and float(raw).is_integer())
            if isinstance(raw, bool) or not whole:
                raise _Fail(f"rep_budget({model!r}, {rank}) returned {raw!r}; a parameter count is a whole number (int)")
            got = int(raw)
            if got != expected:
                raise _Fail(f"tt_rank={rank}: expected {expected:,} vs yours {got:,} (off by {got - expected:+,}): "
                            + _budget_hints(model, rank, got, expected))
            lines.append(f"r={rank}: {expected:,}")
        return "expected vs yours: " + ", ".join(lines) + ": match"

    return case


def check_budget_formula(student_fn: Callable, *, raise_on_fail: bool = False) -> CheckResult:
    """Check ``student_fn(model_name, tt_rank) -> int``: LoRETTA_rep's trainable parameters.

    Compared with :func:`loretta_explore.count_trainable` (method "loretta_rep", the paper's
    placement and shapes, METHOD.md section 5) on every model of :data:`BUDGET_MODELS` at ranks
    :data:`BUDGET_RANKS`. A wrong count is matched against typical mistakes: forgotten norms
    (or their biases), pooler, classifier counted, boundary ranks r instead of 1, one layer only,
    A or B only, one target only, dense A and B. Calling ``lx.count_trainable`` (or the budget
    table) inside the answer fails the case.
    """
    cases = [(f"{m} (LoRETTA_rep, ranks {', '.join(map(str, BUDGET_RANKS))})", _budget_case(m)) for m in BUDGET_MODELS]
    import loretta_explore.budget as budget_module

    forbidden = {count_trainable.__code__: "lx.count_trainable", count_breakdown.__code__: "count_breakdown",
                 budget_module.budget_table.__code__: "lx.budget_table",
                 budget_module._count_loretta.__code__: "the library's budget"}
    return _run("rep_budget", student_fn, cases, forbidden, raise_on_fail)


# ---------------------------------------------------------------------------------------------
# Exercise 4: merging a LoRETTA_rep layer.
# ---------------------------------------------------------------------------------------------


def _rep_layer(in_f: int, out_f: int, b: int, rank: int, alpha: float, shapes, seed: int) -> LorettaRepLinear:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LorettaRepLinear(nn.Linear(in_f, out_f), bottleneck=b, tt_rank=rank, alpha=alpha, tt_shapes=shapes)


def _merge_hint(got: torch.Tensor, layer: LorettaRepLinear) -> str:
    w0 = layer.base.weight.detach().double()  # (out, in)
    with torch.no_grad():
        delta = (layer.A.dense_matrix() @ layer.B.dense_matrix()).double()  # (in, out)
    s, alpha = layer.scale, layer.alpha
    g = got.detach().double()
    candidates = [
        (w0 + delta.T, f"you forgot the scale: the update is s * (A_W @ B_W).T with s = alpha / tt_rank = "
                       f"{alpha:g} / {alpha / s:g} = {s:g} (rep_layer.scale)"),
        (w0 + alpha * delta.T, f"you scaled by alpha = {alpha:g}; the scale is s = alpha / tt_rank = {s:g} "
                               f"(rep_layer.scale)"),
        (s * delta.T, "you returned only the update: the merged weight is the frozen W0 "
                      "(rep_layer.base.weight) PLUS s * (A_W @ B_W).T"),
        (w0, "you returned the frozen weight unchanged: add the update s * (A_W @ B_W).T"),
        (w0 - s * delta.T, "you subtracted the update; merging adds it: W0 + s * (A_W @ B_W).T"),
        ((w0 + s * delta.T).T, "your weight is in (in, out) orientation; nn.Linear stores (out, in), "
                               "so return W0 + s * (A_W @ B_W).T"),
    ]
    if w0.shape[0] == w0.shape[1]:
        candidates.append((w0 + s * delta, "you added the update without transposing it: A_W @ B_W is (in, out) "
                                           "while nn.Linear's weight is (out, in); add s * (A_W @ B_W).T"))
    for w, hint in candidates:
        if g.shape == w.shape and _rel(g, w) < 1e-5:
            return hint
    ref = w0 + s * delta.T
    return (f"your weight differs from W0 + s * (A_W @ B_W).T (relative error {_rel(g, ref):.3g}); A_W "
            f"(in, b) = rep_layer.A.dense_matrix(), B_W (b, out) = rep_layer.B.dense_matrix(), s = rep_layer.scale")


def _merge_case(in_f: int, out_f: int, b: int, rank: int, alpha: float, shapes, seed: int):
    def case(student: _Student) -> str:
        layer = _rep_layer(in_f, out_f, b, rank, alpha, shapes, seed)
        reference = copy.deepcopy(layer)
        reference.merge()
        expected = reference.base.weight.detach()
        before = layer.base.weight.detach().clone()
        got = _as_tensor(student(layer), "your merge_rep's result")
        if layer.merged or not torch.equal(layer.base.weight.detach(), before):
            raise _Fail("your merge_rep changed rep_layer's frozen weight in place (did you call rep_layer.merge() "
                        "or write into base.weight?): build and return a NEW tensor, leave the layer as it is")
        if _shape(got) != _shape(expected):
            extra = (" (that is (in, out): return W0 + s * (A_W @ B_W).T, which is (out, in))"
                     if _shape(got) == (in_f, out_f) else "")
            raise _Fail(f"your merged weight has shape {_shape(got)} but nn.Linear({in_f} -> {out_f}) stores its "
                        f"weight as (out, in) = {_shape(expected)}{extra}")
        err = _rel(got, expected)
        if err < 1e-5:
            return f"weight {_shape(expected)}, scale {layer.scale:g}, relative error {err:.2g} vs merge(): match"
        raise _Fail(_merge_hint(got, layer))

    return case


def check_rep_merge(student_fn: Callable, *, raise_on_fail: bool = False) -> CheckResult:
    """Check ``student_fn(rep_layer) -> W0 + s * (A_W @ B_W).T`` (nn.Linear's (out, in) orientation).

    The reference is :meth:`loretta_explore.LorettaRepLinear.merge` on a copy of the layer. Cases:
    a rectangular layer (12 -> 6), a square one (where an untransposed update has the right
    shape), the paper's encoder setting (768 -> 768, b = 8, r = 5, s = 3.2) and another alpha
    (alpha = 6, r = 4, s = 1.5). The layer must be left unchanged. Typical mistakes recognised:
    missing scale, alpha for the scale, missing W0, the update subtracted, (in, out) orientation,
    update not transposed. Calling ``merge``, ``get_delta_weight`` inside the answer fails the case.
    """
    cases = [
        ("rectangular layer (12 -> 6, bottleneck 3, tt_rank 2, alpha 16)",
         _merge_case(12, 6, 3, 2, 16.0, ([3, 4, 3], [3, 3, 2]), 11)),
        ("square layer (8 -> 8, bottleneck 4, tt_rank 3, alpha 16)",
         _merge_case(8, 8, 4, 3, 16.0, ([2, 4, 4], [4, 4, 2]), 12)),
        ("the paper's encoder setting (768 -> 768, bottleneck 8, tt_rank 5, scale 3.2)",
         _merge_case(768, 768, 8, 5, 16.0, "paper", 13)),
        ("another alpha (16 -> 12, bottleneck 4, tt_rank 4, alpha 6, scale 1.5)",
         _merge_case(16, 12, 4, 4, 6.0, ([4, 4, 4], [4, 4, 3]), 14)),
    ]
    forbidden = {LorettaRepLinear.merge.__code__: "rep_layer.merge()",
                 LorettaRepLinear.get_delta_weight.__code__: "rep_layer.get_delta_weight()",
                 LorettaRepLinear._apply_delta.__code__: "rep_layer's merge"}
    return _run("merge_rep", student_fn, cases, forbidden, raise_on_fail)


#: The exercises by name: {student function name: check}, for autograders.
EXERCISES: dict[str, Callable[..., CheckResult]] = {
    "tt_svd": check_tt_svd,
    "tt_linear_forward": check_tt_linear_forward,
    "rep_budget": check_budget_formula,
    "merge_rep": check_rep_merge,
}
