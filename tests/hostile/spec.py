"""The vocabulary of the hostile-input table: a case, its expected outcome, and the judge.

A :class:`Case` is one bad or unusual input to one public entry point of ``loretta_explore`` with
the outcome a careful user of a well-kept scientific package expects:

- ``error(types, must_mention)``: a clear error, of one of `types`, whose message names the
  problem (every word of `must_mention` appears in it, case-insensitively);
- ``correct(check)``: a right result, ``check(result)`` is True;
- ``either(error(...), correct(...))``: one or the other is fine (e.g. a rank above what a bond
  allows may be refused or clipped).

Nothing of the caller's may change on failure: cases wrap such calls in :func:`keeps`, which
turns "raised, but the caller's model was already rewritten" into a silent failure.

:func:`judge` runs a case in this process and classifies what happened as one of
``clear`` (expected type and every word), ``unclear`` (raised, but another type, the message
lacks a word, or a result was expected), ``correct``, ``silent`` (returned where an error was
expected, the check failed, or the caller's object changed on failure). The runner
(tests/probe_inputs.py) adds ``crash`` (the process died) and ``hang`` (time limit).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

OUTCOMES = ("clear", "unclear", "correct", "silent", "crash", "hang")
GOOD = ("clear", "correct")

#: The file group that owns each entry point (for sorting failures to whoever fixes them).
GROUPS = (
    "tensorize/tt/layers",
    "adapt/adapter files",
    "budget/methods/baselines",
    "data/training",
    "CLI/widgets/checks",
)


@dataclass(frozen=True)
class Expect:
    """What a careful user expects (error_types None: no error is right; check None: no result)."""

    error_types: tuple[type, ...] | None = None
    must_mention: tuple[str, ...] = ()
    check: Callable[[Any], bool] | None = None
    what: str = ""

    def describe(self) -> str:
        parts = []
        if self.error_types is not None:
            names = "/".join(t.__name__ for t in self.error_types)
            parts.append(f"{names} mentioning {list(self.must_mention)}")
        if self.check is not None:
            parts.append(f"a result where {self.what or 'the check holds'}")
        return " or ".join(parts)


def error(types, must_mention=()) -> Expect:
    """A clear error: one of `types`, naming every word of `must_mention`."""
    types = types if isinstance(types, tuple) else (types,)
    words = (must_mention,) if isinstance(must_mention, str) else tuple(must_mention)
    return Expect(error_types=types, must_mention=tuple(str(w) for w in words))


def correct(check: Callable[[Any], bool], what: str = "") -> Expect:
    """A right result: ``check(result)`` returns True."""
    return Expect(check=check, what=what)


def either(err: Expect, ok: Expect) -> Expect:
    """A clear error like `err` or a right result like `ok`."""
    return Expect(err.error_types, err.must_mention, ok.check, ok.what)


BAD_ARG = (
    ValueError,
    TypeError,
)  # either is a fine answer to an argument of the wrong kind or value


@dataclass(frozen=True)
class Case:
    """One hostile input. ``run()`` performs it; `isolate` cases may hang, crash or try to allocate
    absurd memory, so the pytest file runs them in a forked child with a time and memory limit."""

    id: str
    entry: str
    group: str
    run: Callable[[], Any]
    expect: Expect
    isolate: bool = False
    note: str = ""


class StateChanged(Exception):
    """A call failed after it had already changed the caller's object (raised by :func:`keeps`)."""

    def __init__(self, what: str, diff: str, original: BaseException):
        super().__init__(
            f"{type(original).__name__}: {original} -- but the caller's {what} changed: {diff}"
        )
        self.what, self.diff, self.original = what, diff, original


class CliError(Exception):
    """The command line returned a non-zero status; the message is what it printed."""


def message(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = repr(exc.args[0])
    notes = getattr(exc, "__notes__", None) or []
    return "\n".join([text, *map(str, notes)])


def short(value: Any, limit: int = 160) -> str:
    try:
        text = repr(value)
    except Exception as err:  # noqa: BLE001 (a broken repr is itself information)
        text = f"<{type(value).__name__}, repr failed: {err}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _from_library(w) -> bool:
    """Warnings from loretta_explore or PEFT (not torch's or transformers' own chatter)."""
    where = os.path.abspath(w.filename)
    return f"{os.sep}loretta_explore{os.sep}" in where or f"{os.sep}peft{os.sep}" in where


def judge(case: Case) -> dict:
    """Run `case` here and classify the outcome (never raises, except KeyboardInterrupt)."""
    exp = case.expect
    start = time.perf_counter()
    caught: list = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = case.run()
    except KeyboardInterrupt:
        raise
    except StateChanged as exc:
        outcome, detail = (
            "silent",
            f"raised, but changed the caller's {exc.what}: {exc.diff} ({short(exc.original, 200)})",
        )
    except BaseException as exc:  # noqa: BLE001 (a student's SystemExit counts too)
        text = message(exc)
        kind = type(exc).__name__
        if exp.error_types is None:
            outcome, detail = "unclear", f"raised {kind} where a result was expected: {text[:300]}"
        else:
            missing = [w for w in exp.must_mention if w.lower() not in text.lower()]
            right_type = isinstance(exc, exp.error_types)
            if right_type and not missing:
                outcome, detail = "clear", f"{kind}: {text[:300]}"
            else:
                why = (
                    []
                    if right_type
                    else [f"type {kind}, expected {'/'.join(t.__name__ for t in exp.error_types)}"]
                )
                why += [f"lacks {missing}"] if missing else []
                outcome, detail = "unclear", f"{'; '.join(why)}: {text[:300]}"
    else:
        if exp.check is None:
            outcome, detail = (
                "silent",
                f"returned {short(result)} where {exp.describe()} was expected",
            )
        else:
            try:
                ok, why = bool(exp.check(result)), ""
            except Exception as err:  # noqa: BLE001 (a result the check cannot even read is wrong)
                ok, why = False, f" (check raised {type(err).__name__}: {err})"
            outcome = "correct" if ok else "silent"
            detail = (
                ""
                if ok
                else f"wrong result: expected {exp.what or 'the check'}; got {short(result)}{why}"
            )
    said = sorted({f"{w.category.__name__}: {w.message}" for w in caught if _from_library(w)})
    if said and outcome == "silent":  # a warning is not an error, but worth knowing
        detail = f"[warned: {short(said[0], 200)}] {detail}"
    return dict(
        id=case.id,
        entry=case.entry,
        group=case.group,
        outcome=outcome,
        detail=detail[:600],
        expected=exp.describe(),
        seconds=round(time.perf_counter() - start, 3),
    )
