"""The notice a lesson shows where it prints a number from a run: which setting made it.

Why: in quick mode (the tests' smoke setting) a lesson's accuracies come from a handful of steps
and can contradict the text; a visible banner says so next to the numbers. The setting itself
is :func:`loretta_explore.lesson_mode` (quick, classroom, full).
"""

from __future__ import annotations

import html

from ..modes import LessonMode, lesson_mode

__all__ = ["ModeBanner", "mode_banner"]

_STYLE = {  # background, border, heading
    "quick": ("#fff4ce", "#b8860b", "Smoke test, not a result"),
    "classroom": ("#e8f1fb", "#1f77b4", "Classroom setting (the default)"),
    "full": ("#eaf6ea", "#2ca02c", "Full setting"),
}


class ModeBanner:
    """An HTML notice (renders in JupyterLab, Notebook, Colab and static HTML exports alike)."""

    def __init__(self, mode: LessonMode, note: str = ""):
        self.mode, self.note = mode, note

    @property
    def text(self) -> str:
        head = _STYLE[self.mode.name][2]
        return f"{head}: {self.mode.description}." + (f" {self.note}" if self.note else "")

    def _repr_html_(self) -> str:
        background, border, head = _STYLE[self.mode.name]
        note = f" {html.escape(self.note)}" if self.note else ""
        return (
            f"<div class='loretta-mode-banner' data-mode='{self.mode.name}' style='background:{background};"
            f"border-left:5px solid {border};padding:6px 10px;margin:4px 0;color:#222;font-size:14px'>"
            f"<b>{html.escape(head)}</b>: {html.escape(self.mode.description)}.{note}</div>"
        )

    def __repr__(self) -> str:
        return self.text


def mode_banner(mode: LessonMode | str | None = None, note: str = "") -> ModeBanner:
    """A banner that says which setting produced the numbers around it.

    Parameters
    ----------
    mode : LessonMode, its name, or None for the environment's (:func:`~loretta_explore.lesson_mode`)
    note : one more sentence, e.g. "The text quotes the full setting: 90.6% against 77.9%."

    Show it as a cell's value, or with ``display(lx.widgets.mode_banner(MODE))`` in a cell that
    prints run results.
    """
    if mode is None:
        mode = lesson_mode()
    elif isinstance(mode, str):
        mode = LessonMode(mode)
    return ModeBanner(mode, note)
