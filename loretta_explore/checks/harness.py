"""The exercise harness: run a student's function on cases, never crash, explain what is wrong.

A check takes the student's function, runs it case by case and compares with the library's
reference (which the student is asked not to call: calling it fails the case). It never raises
because of the student's code (unless ``raise_on_fail=True``): a stub that raises
``NotImplementedError`` gets "Not implemented yet", any other exception is shown with the line of
the student's code it came from, and a wrong answer is compared with the typical mistakes to say
which one it looks like. The result prints one line per case ("expected ... vs yours ...:
match", after nanoGPT's sizing notebook) and renders as HTML in Jupyter; ``result.passed`` and
``result.score`` (a fraction) are for autograders. The exercises themselves are one module each
(ex1_tt_svd.py ... ex4_rep_merge.py).
"""

from __future__ import annotations

import html
import linecache
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

__all__ = ["CheckFailed", "CheckItem", "CheckResult", "Fail", "Student", "as_tensor", "contract",
           "rel_error", "run_cases", "seeded", "shape_of"]

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


class Fail(Exception):
    """A case did not pass; the text is the feedback."""


class _NotYet(Exception):
    """The student's function (or a helper of theirs) still raises NotImplementedError."""


_HERE = os.path.abspath(__file__)
_LIBRARY = os.path.dirname(os.path.dirname(_HERE))  # loretta_explore/
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


class Student:
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
            raise Fail(f"your {self.name} raised {type(exc).__name__}: {exc}{where}") from None
        finally:
            if watching:
                sys.setprofile(previous)
        if used:
            raise Fail(f"your {self.name} calls {used[0]}: the exercise is to write it yourself "
                        f"(compare with the library in a separate cell instead).")
        return out


def run_cases(exercise: str, student_fn, cases: Sequence[tuple[str, Callable]], forbidden=None,
         raise_on_fail: bool = False) -> CheckResult:
    result = CheckResult(exercise)
    if not callable(student_fn):
        bad = (f"expected your function {exercise} itself (pass it without calling it: "
               f"check(..., {exercise}) not check(..., {exercise}())), got {type(student_fn).__name__}")
        result.items = [CheckItem(name, False, bad) for name, _ in cases]
    else:
        student = Student(student_fn, getattr(student_fn, "__name__", exercise), forbidden)
        for i, (name, case) in enumerate(cases):
            try:
                result.items.append(CheckItem(name, True, case(student)))
            except _NotYet as exc:
                result.not_implemented = str(exc)
                result.items += [CheckItem(n, False, "not reached: " + str(exc)) for n, _ in cases[i:]]
                break
            except Fail as exc:
                result.items.append(CheckItem(name, False, str(exc)))
            except Exception as exc:  # the answer is of a kind the check did not expect
                result.items.append(CheckItem(name, False, f"could not check your answer "
                                                           f"({type(exc).__name__}: {exc}); see the expected "
                                                           f"types in the exercise's docstring"))
    if raise_on_fail:
        result.raise_if_failed()
    return result


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| in float64."""
    a, b = a.detach().double(), b.detach().double()
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b).clamp_min(1e-300))


def as_tensor(value, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if type(value).__module__ == "numpy" and hasattr(value, "shape"):
        return torch.from_numpy(value)
    raise Fail(f"{what} should be a torch.Tensor, got {type(value).__name__}")


def shape_of(t) -> tuple[int, ...]:
    return tuple(int(s) for s in t.shape)


def contract(cores: Sequence[torch.Tensor]) -> torch.Tensor:
    """The dense tensor of a train (cores (r, n, s), r_0 = r_d = 1), in float64."""
    out = cores[0].detach().double().reshape(cores[0].shape[1], -1)  # (n_1, r_1)
    for core in cores[1:]:
        r, n, s = core.shape
        out = (out @ core.detach().double().reshape(r, n * s)).reshape(-1, s)  # (n_1..n_k, r_k)
    return out.reshape([c.shape[1] for c in cores])

