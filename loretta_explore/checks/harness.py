"""The exercise harness: run a student's function on cases, never crash, explain what is wrong.

A check takes the student's function, runs it case by case and compares with the library's
reference (which the student is asked not to call: calling it fails the case, see watch.py). It
never raises because of the student's code (unless ``raise_on_fail=True``): a stub that raises
``NotImplementedError`` gets "Not implemented yet", any other exception is shown with the line of
the student's code it came from, a call that runs past the time limit fails its case
(time_limit.py), and a wrong answer is compared with the typical mistakes to give a hint
(feedback.py: each distinct hint once, the fix only on ``result.show_fix()``). The exercises
themselves are one module each (ex1_tt_svd.py ... ex4_rep_merge.py).
"""

from __future__ import annotations

import linecache
import os
import traceback
from collections.abc import Callable, Sequence

import torch

from .feedback import CheckFailed, CheckItem, CheckResult, Hint
from .time_limit import TimeLimitExceeded, call_with_time_limit
from .watch import Forbidden, Window, verify_baseline

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "CheckFailed",
    "CheckItem",
    "CheckResult",
    "Fail",
    "Forbidden",
    "Hint",
    "Student",
    "as_tensor",
    "contract",
    "rel_error",
    "run_cases",
    "seeded",
    "shape_of",
]

#: Seconds one call of the student's function may take in a notebook (the grader sets its own).
DEFAULT_TIME_LIMIT = 10.0


class Fail(Exception):
    """A case did not pass: ``message`` says what was measured, ``hint`` what to look at.

    ``tampered`` marks answers that switched off or worked around the check (scores 0).
    """

    def __init__(
        self,
        message: str,
        hint: Hint | None = None,
        tampered: bool = False,
        timed_out: bool = False,
    ):
        super().__init__(message)
        self.message, self.hint, self.tampered = message, hint, tampered
        self.timed_out = timed_out


class _NotYet(Exception):
    """The student's function (or a helper of theirs) still raises NotImplementedError."""


_HERE = os.path.abspath(__file__)
_LIBRARY = os.path.dirname(os.path.dirname(_HERE))  # loretta_explore/
_TORCH = os.path.dirname(os.path.abspath(torch.__file__))


def _student_frames(exc: BaseException, fn) -> list[traceback.FrameSummary]:
    """The traceback frames that belong to the student's code (their cell or file)."""
    frames = traceback.extract_tb(exc.__traceback__)
    code = getattr(fn, "__code__", None) or getattr(
        getattr(fn, "func", None), "__code__", None
    )  # or a partial
    if code is not None:
        mine = [f for f in frames if f.filename == code.co_filename]
        if mine:
            return mine
    outside = (_HERE, _LIBRARY, _TORCH, os.path.dirname(os.__file__))
    return [f for f in frames if not os.path.abspath(f.filename).startswith(outside)]


def _where(frame: traceback.FrameSummary) -> str:
    source = frame.line or linecache.getline(frame.filename, frame.lineno).strip()
    name = os.path.basename(frame.filename)
    if frame.filename.startswith("<cell "):  # the grader names the notebook's cells
        place = frame.filename.strip("<>")
    elif "ipykernel" in frame.filename or frame.filename.startswith("<"):
        place = "your cell"
    else:
        place = name
    text = f"line {frame.lineno} of {place}, in {frame.name}"
    return f"{text}: `{source.strip()}`" if source else text


class Student:
    """Calls the student's function under the watch and the time limit; turns what goes wrong
    into a :class:`Fail` with a hint.

    Parameters
    ----------
    fn : callable
        The student's function.
    name : str
        Its name, for the feedback.
    forbidden : sequence of Forbidden
        Library functions the answer must not call (the exercise is to write them).
    section : str
        The docs/method.md anchor of the exercise, for hints about crashes and time-outs.
    time_limit : float or None
        Seconds per call (None: no limit).
    """

    def __init__(
        self,
        fn: Callable,
        name: str,
        forbidden: Sequence[Forbidden] = (),
        section: str = "tt-format",
        time_limit: float | None = DEFAULT_TIME_LIMIT,
    ):
        self.fn, self.name, self.forbidden = fn, name, list(forbidden)
        self.section, self.time_limit = section, time_limit

    def __call__(self, *args):
        window = Window(self.forbidden)
        error: BaseException | None = None
        out = None
        try:
            out, _ = window.run(
                self.fn, args, lambda thunk: call_with_time_limit(thunk, self.time_limit)
            )
        except (Exception, SystemExit, TimeLimitExceeded) as exc:  # judged after the window closed
            error = exc
        report = window.report
        if report.tampered:
            seen = list(dict.fromkeys(report.tampered))
            what = ", ".join(seen[:4]) + (f" and {len(seen) - 4} more" if len(seen) > 4 else "")
            raise Fail(
                f"your {self.name} changed the checking environment while it ran: {what}. The check put "
                f"it back",
                Hint(
                    "An answer that switches off the watch or changes the library, torch or "
                    "the checking code scores 0. Write the function with plain torch "
                    "operations and run the check again in a fresh kernel.",
                    self.section,
                ),
                tampered=True,
            )
        if report.used:
            raise Fail(
                f"your {self.name} calls {report.used[0]}",
                Hint(
                    f"{report.used[0]} is the reference this check compares with: the exercise is to "
                    f"write it yourself. Compare with the library in a separate cell instead.",
                    self.section,
                    f"remove the call to {report.used[0]} from {self.name} (and from the "
                    f"helpers it calls) and compute the result with torch operations",
                ),
            )
        if error is None:
            return out
        raise self._explain(error) from None

    def _explain(self, exc: BaseException) -> Exception:
        if isinstance(exc, TimeLimitExceeded):
            extra = (
                (
                    " (it could not be stopped and keeps running in the background; restart the kernel "
                    "if the notebook gets slow)"
                )
                if exc.still_running
                else ""
            )
            return Fail(
                f"your {self.name} did not finish within {exc.seconds:g} s{extra}",
                Hint(
                    f"Does every loop in {self.name} end? A `while` loop whose condition never "
                    f"changes, or a loop over something that keeps growing, runs forever. The "
                    f"reference finishes each case in well under a second.",
                    self.section,
                ),
                timed_out=True,
            )
        if isinstance(exc, NotImplementedError):
            mine = _student_frames(exc, self.fn)
            where = mine[-1].name if mine and mine[-1].name != "<module>" else self.name
            return _NotYet(
                f"Not implemented yet: fill in the body of {where} (the cell marked # TODO), "
                f"then run this cell again."
            )
        if isinstance(exc, SystemExit):
            return Fail(
                f"your {self.name} called sys.exit({exc.code!r})",
                Hint(
                    f"A function returns its answer; sys.exit() would stop the whole program "
                    f"(or the kernel). Return a value from {self.name} instead.",
                    self.section,
                    "delete the sys.exit(...) / exit() / quit() call and `return` the result",
                ),
            )
        mine = _student_frames(exc, self.fn)
        where = _where(mine[-1]) if mine else ""
        return Fail(
            f"your {self.name} raised {type(exc).__name__}: {exc}",
            Hint(
                f"Your code stops with {type(exc).__name__}"
                + (f" at {where}" if where else "")
                + ". Print the shapes of the tensors on that "
                "line for this case's input and compare them with the step of the method they "
                "belong to.",
                self.section,
            ),
        )


def run_cases(
    exercise: str,
    student_fn,
    cases: Sequence[tuple[str, Callable]],
    forbidden: Sequence[Forbidden] = (),
    raise_on_fail: bool = False,
    *,
    section: str = "tt-format",
    time_limit: float | None = DEFAULT_TIME_LIMIT,
) -> CheckResult:
    """Run every case on the student's function; collect a :class:`CheckResult`.

    Each case is ``(name, case)`` with ``case(student) -> message`` on success; it raises
    :class:`Fail` when the answer is wrong. Kit functions rebound before the check started are
    put back first (and the result scores 0 if the forbidden functions themselves were).
    """
    result = CheckResult(exercise)
    rebound = verify_baseline(forbidden)
    if rebound:
        hint = Hint(
            "Code in this session changed the library or the checking code before the check ran "
            f"({', '.join(rebound)}); the check put it back. Restart the kernel and run the notebook "
            "from the top.",
            section,
        )
        result.items = [
            CheckItem(name, False, "not run: the checking environment was changed", hint, True)
            for name, _ in cases
        ]
    elif not callable(student_fn):
        hint = Hint(
            f"Pass your function itself, without calling it: check(..., {exercise}) not "
            f"check(..., {exercise}()).",
            section,
            f"lx.checks.<check>({exercise})",
        )
        result.items = [
            CheckItem(
                name,
                False,
                f"expected your function {exercise}, got {type(student_fn).__name__}",
                hint,
            )
            for name, _ in cases
        ]
    else:
        student = Student(
            student_fn, getattr(student_fn, "__name__", exercise), forbidden, section, time_limit
        )
        for i, (name, case) in enumerate(cases):
            try:
                result.items.append(CheckItem(name, True, case(student)))
            except _NotYet as exc:
                result.not_implemented = str(exc)
                result.items += [
                    CheckItem(n, False, "not reached: " + str(exc)) for n, _ in cases[i:]
                ]
                break
            except Fail as exc:
                result.items.append(CheckItem(name, False, exc.message, exc.hint, exc.tampered))
                if exc.timed_out:  # a function that hung once would hang again: stop here
                    result.items += [
                        CheckItem(
                            n, False, "not run: an earlier case did not finish in time", exc.hint
                        )
                        for n, _ in cases[i + 1 :]
                    ]
                    break
            except Exception as exc:  # the answer is of a kind the check did not expect
                result.items.append(
                    CheckItem(
                        name,
                        False,
                        f"could not check your answer ({type(exc).__name__}: {exc})",
                        Hint(
                            "The check could not read your answer: compare the type and shape you return "
                            "with the exercise's docstring.",
                            section,
                        ),
                    )
                )
    result.remember_hints()
    if raise_on_fail:
        result.raise_if_failed()
    return result


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| in float64."""
    a, b = a.detach().double(), b.detach().double()
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b).clamp_min(1e-300))


_TYPE_HINT = Hint(
    "Return plain torch tensors (the types the exercise's docstring names).",
    "tt-format",
    "return torch.Tensor objects, e.g. torch.stack / reshape results, not numpy arrays, lists "
    "or tensor subclasses",
)


def as_tensor(value, what: str) -> torch.Tensor:
    """The student's tensor as a plain torch.Tensor (a numpy array is converted).

    Tensor subclasses other than nn.Parameter are refused: one can change how comparisons work.
    """
    if type(value) is torch.Tensor:
        return value
    if isinstance(value, torch.nn.Parameter) and type(value) is torch.nn.Parameter:
        return value.detach()
    if type(value).__module__ == "numpy" and hasattr(value, "shape"):
        return torch.from_numpy(value)
    if isinstance(value, torch.Tensor):
        raise Fail(
            f"{what} is a {type(value).__name__}, a subclass of torch.Tensor; expected a plain "
            f"torch.Tensor",
            _TYPE_HINT,
        )
    raise Fail(f"{what} should be a torch.Tensor, got {type(value).__name__}", _TYPE_HINT)


def shape_of(t) -> tuple[int, ...]:
    return tuple(int(s) for s in t.shape)


def contract(cores: Sequence[torch.Tensor]) -> torch.Tensor:
    """The dense tensor of a train (cores (r, n, s), r_0 = r_d = 1), in float64."""
    out = cores[0].detach().double().reshape(cores[0].shape[1], -1)  # (n_1, r_1)
    for core in cores[1:]:
        r, n, s = core.shape
        out = (out @ core.detach().double().reshape(r, n * s)).reshape(-1, s)  # (n_1..n_k, r_k)
    return out.reshape([c.shape[1] for c in cores])
