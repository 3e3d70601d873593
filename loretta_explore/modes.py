"""How big a lesson's runs are: a smoke test, a classroom run or the full runs the text quotes.

Three settings, read from the environment once per call:

- ``quick`` (``LORETTA_QUICK=1``): what the notebook tests run. A few steps on a few examples, about
  a minute per lesson; the numbers only show that the code runs and say nothing about a method.
- ``classroom`` (the default, neither variable set): each lesson in about two minutes on two CPU
  cores, long enough that training visibly learns. The numbers are real but from short runs.
- ``full`` (``LORETTA_FULL=1``): the runs whose results the lesson text quotes (several minutes
  per lesson on a CPU, much less on a GPU).

Why a record and not a bool: a cell picks its sizes with one call,
``STEPS = MODE.pick(quick=5, classroom=120, full=300)``, so all three settings stay visible where
the size is chosen, and :func:`loretta_explore.widgets.mode_banner` says on screen which one ran.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MODES", "LessonMode", "lesson_mode"]

MODES = ("quick", "classroom", "full")

_DESCRIPTIONS = {
    "quick": "LORETTA_QUICK=1 runs a few steps on a few examples to check that the code works; "
    "these numbers say nothing about the methods and may contradict the text",
    "classroom": "short runs sized for about two minutes per lesson on two CPU cores; real numbers, "
    "but noisier and lower than the full runs the text quotes (LORETTA_FULL=1)",
    "full": "LORETTA_FULL=1: the runs whose results the lesson text quotes (several minutes per "
    "lesson on a CPU)",
}


@dataclass(frozen=True)
class LessonMode:
    """The setting a lesson runs in: ``name`` is "quick", "classroom" or "full"."""

    name: str = "classroom"

    def __post_init__(self):
        if self.name not in MODES:
            raise ValueError(
                f"a lesson mode is one of {MODES}, got {self.name!r}. "
                f"Example: LessonMode('classroom')"
            )

    @property
    def quick(self) -> bool:
        return self.name == "quick"

    @property
    def classroom(self) -> bool:
        return self.name == "classroom"

    @property
    def full(self) -> bool:
        return self.name == "full"

    @property
    def description(self) -> str:
        """One sentence that says what the numbers of this setting are worth."""
        return _DESCRIPTIONS[self.name]

    def pick(self, quick: Any, classroom: Any, full: Any) -> Any:
        """The value for this setting: ``MODE.pick(quick=5, classroom=120, full=300)``."""
        return {"quick": quick, "classroom": classroom, "full": full}[self.name]

    def __str__(self) -> str:
        return self.name


def _on(value: str | None) -> bool:
    return (value or "").strip() == "1"  # exactly as the lessons' first cell reads LORETTA_QUICK


def lesson_mode(environ: Mapping[str, str] | None = None) -> LessonMode:
    """The setting the environment asks for (``os.environ`` unless `environ` is given).

    ``LORETTA_QUICK=1`` wins over ``LORETTA_FULL=1``: the tests set the first and must stay quick
    whatever else a machine has set. Neither: the classroom setting.

    >>> lesson_mode({}).name, lesson_mode({"LORETTA_QUICK": "1"}).name
    ('classroom', 'quick')
    """
    env = os.environ if environ is None else environ
    if _on(env.get("LORETTA_QUICK")):
        return LessonMode("quick")
    if _on(env.get("LORETTA_FULL")):
        return LessonMode("full")
    return LessonMode("classroom")
