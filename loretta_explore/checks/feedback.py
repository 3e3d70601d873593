"""What a check says: PASS or FAIL in words, each distinct hint once, the fix only when asked.

A failing case carries an observation (what was measured: "expected 54,068 vs yours 15,668") and,
usually, a :class:`Hint`. Hints lead to the fix in two steps, like a teaching assistant:

1. the pointer: what to look at, which concept, and the section of the kit's method document
   (``docs/method.md#<anchor>``, named by its title too, since a student's course folder may not
   hold the file). Cases that share a hint are grouped, and the hint is stated once;
2. the fix: the concrete code-level change, shown only when the student asks for it with
   ``result.show_fix()``. When the same hint comes back on the next run of the check, the result
   says so and points at ``show_fix()``.

Pass and fail are words ("PASS", "FAIL"), never a symbol alone: emoji render as empty boxes on
systems without a colour-emoji font (Debian's Chromium in JupyterLab did).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

__all__ = ["SECTIONS", "CheckFailed", "CheckItem", "CheckResult", "Fixes", "Hint", "section_ref"]

#: The sections of the kit's method document, docs/method.md: anchor -> title.
SECTIONS: dict[str, str] = {
    "tt-format": "Tensor-train format",
    "layouts": "Two layouts of a weight",
    "adp": "LoRETTA_adp: tensorized adapters",
    "rep": "LoRETTA_rep: a tensor-train update",
    "scale": "The scale of the rep update",
    "starts": "How the trainable parts start",
    "placement": "Where LoRETTA goes in each architecture",
    "shapes": "Tensor shapes",
    "counting": "Counting trainable parameters",
    "paper-results": "The paper's results",
    "recipe": "Training recipe",
    "authors-code": "Differences from the authors' released code",
}

PASS, FAIL = "PASS", "FAIL"
_GREEN, _RED = "#1a7f37", "#cf222e"

#: exercise -> the hint keys of its last run in this session (to notice a hint that comes back)
_LAST_HINTS: dict[str, set[tuple[str, str]]] = {}


def section_ref(anchor: str) -> str:
    """'"Counting trainable parameters" (docs/method.md#counting)': title and path, no link.

    A notebook copied into a course folder cannot link into the kit's repository, so the text
    names the section as well as the path.
    """
    if anchor not in SECTIONS:
        raise ValueError(f"unknown section {anchor!r}; expected one of {', '.join(SECTIONS)}")
    return f'"{SECTIONS[anchor]}" (docs/method.md#{anchor})'


@dataclass(frozen=True)
class Hint:
    """A hint shared by every case it explains.

    Attributes
    ----------
    pointer : str
        What to look at and which concept: a question or an observation, never the code itself.
    section : str
        The anchor of the section of docs/method.md that explains the concept (see SECTIONS).
    fix : str
        The concrete code-level fix, shown only by ``result.show_fix()``; "" when no single
        change can be named (a crash, say), and then show_fix says so.
    """

    pointer: str
    section: str
    fix: str = ""

    def __post_init__(self):
        if self.section not in SECTIONS:
            raise ValueError(
                f"Hint section {self.section!r} is not an anchor of docs/method.md; "
                f"expected one of {', '.join(SECTIONS)}"
            )

    @property
    def key(self) -> tuple[str, str]:
        return (self.pointer, self.section)

    @property
    def read(self) -> str:
        return f"Read {section_ref(self.section)}."


@dataclass
class CheckItem:
    """One case of a check: its name, whether it passed, what was measured and the hint.

    ``tampered`` marks a case where the student's code switched off or worked around the check
    (changed the library, torch or the checking code while it ran): the exercise then scores 0.
    """

    name: str
    passed: bool
    message: str
    hint: Hint | None = None
    tampered: bool = False

    def __str__(self) -> str:
        return f"{PASS if self.passed else FAIL}  {self.name}: {self.message}"


class CheckFailed(AssertionError):
    """Raised by a check called with ``raise_on_fail=True`` when the answer is not right yet.

    ``str(error)`` is the whole feedback; ``error.result`` is the :class:`CheckResult`.
    """

    def __init__(self, result: CheckResult):
        super().__init__(str(result))
        self.result = result


@dataclass
class Fixes:
    """The code-level fixes of a result's hints; displays itself (``result.show_fix()``)."""

    exercise: str
    hints: list[Hint]

    def lines(self) -> list[str]:
        if not self.hints:
            return [
                f"No hints to fix for {self.exercise}: every case passed or is not implemented yet."
            ]
        out = [f"Fixes for {self.exercise} (try each hint on your own first):"]
        for i, hint in enumerate(self.hints, 1):
            out.append(f"  Hint {i}: {hint.pointer}")
            out.append(
                f"    Fix: {hint.fix}"
                if hint.fix
                else "    Fix: no single change can be named for this one; the hint and the line it "
                "names are the way in."
            )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<div style='white-space: pre-wrap'>{html.escape(line)}</div>" for line in self.lines()
        )
        return f"<div style='font-family: sans-serif; border-left: 4px solid #9a6700; padding: 4px 10px'>{rows}</div>"


@dataclass
class CheckResult:
    """What a check found: one :class:`CheckItem` per case.

    Attributes
    ----------
    exercise : str
        The function being checked, e.g. "tt_svd".
    items : list of CheckItem
    not_implemented : str
        The "Not implemented yet: ..." message while the student's function still raises
        NotImplementedError, else "".
    notes : list of str
        Anything else the student should know (the grader adds errors of notebook cells here).
    """

    exercise: str
    items: list[CheckItem] = field(default_factory=list)
    not_implemented: str = ""
    notes: list[str] = field(default_factory=list)
    repeated: set[tuple[str, str]] = field(default_factory=set)

    # -- for autograders --------------------------------------------------------------------

    @property
    def n_total(self) -> int:
        return len(self.items)

    @property
    def n_passed(self) -> int:
        return sum(item.passed for item in self.items)

    @property
    def tampered(self) -> bool:
        """True when the student's code switched off or worked around the check (scores 0)."""
        return any(item.tampered for item in self.items)

    @property
    def passed(self) -> bool:
        """True when every case passed (and nothing was tampered with)."""
        return bool(self.items) and self.n_passed == self.n_total and not self.tampered

    @property
    def score(self) -> float:
        """The fraction of cases that passed, in [0, 1]; 0 when the check was tampered with."""
        if not self.items or self.tampered:
            return 0.0
        return self.n_passed / self.n_total

    @property
    def hints(self) -> list[Hint]:
        """The distinct hints of the failing cases, in the order they first appear."""
        seen: dict[tuple[str, str], Hint] = {}
        for item in self.items:
            if not item.passed and item.hint is not None:
                seen.setdefault(item.hint.key, item.hint)
        return list(seen.values())

    def hint_number(self, item: CheckItem) -> int | None:
        if item.passed or item.hint is None:
            return None
        return 1 + [h.key for h in self.hints].index(item.hint.key)

    @property
    def messages(self) -> list[str]:
        """One line per case ("PASS name: ..." / "FAIL name: ... [hint 1]"), or the
        not-implemented message alone."""
        if self.not_implemented:
            return [self.not_implemented]
        out = []
        for item in self.items:
            n = self.hint_number(item)
            out.append(str(item) + (f"  [hint {n}]" if n else ""))
        return out

    def hint_lines(self, ask_for_fix: bool = True) -> list[str]:
        """Each distinct hint once, with the cases it covers and the section to read.

        ``ask_for_fix``: add the lines that point at ``result.show_fix()`` (not in a grader's CSV,
        where there is no result to ask).
        """
        if self.not_implemented:
            return []
        out = []
        for i, hint in enumerate(self.hints, 1):
            cases = [k + 1 for k, item in enumerate(self.items) if self.hint_number(item) == i]
            which = f"case {cases[0]}" if len(cases) == 1 else f"cases {', '.join(map(str, cases))}"
            out.append(f"Hint {i} ({which}): {hint.pointer}")
            out.append(f"    {hint.read}")
            if hint.key in self.repeated and ask_for_fix:
                out.append(
                    "    Same hint as your last run: result.show_fix() shows the code-level fix."
                )
        if self.hints and ask_for_fix:
            out.append("Stuck after trying the hints? result.show_fix() shows the code-level fix.")
        return out

    @property
    def header(self) -> str:
        if self.tampered:
            return (
                f"{FAIL}  {self.exercise}: score 0: your code switched off or worked around the "
                f"check (see below)"
            )
        return f"{PASS if self.passed else FAIL}  {self.exercise}: {self.n_passed}/{self.n_total} checks passed"

    def show_fix(self) -> Fixes:
        """The concrete code-level fix for each hint. Ask for it after trying the hint itself."""
        return Fixes(self.exercise, self.hints)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [
            self.header,
            *("  " + m for m in self.messages),
            *("  " + h for h in self.hint_lines()),
            *("  Note: " + n for n in self.notes),
        ]
        if self.passed:
            lines.append(f"  Well done: your {self.exercise} matches the reference.")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        color = _GREEN if self.passed else _RED

        def badge(ok: bool) -> str:
            c = _GREEN if ok else _RED
            return (
                f"<span style='display: inline-block; min-width: 3em; text-align: center; font-weight: "
                f"bold; color: white; background: {c}; border-radius: 3px; padding: 0 4px; "
                f"margin-right: 6px'>{PASS if ok else FAIL}</span>"
            )

        if self.not_implemented:
            rows = f"<li>{html.escape(self.not_implemented)}</li>"
        else:
            rows = "".join(
                f"<li style='white-space: pre-wrap; margin: 2px 0'>{badge(item.passed)}"
                f"{html.escape(item.name)}: {html.escape(item.message)}"
                + (f" <b>[hint {self.hint_number(item)}]</b>" if self.hint_number(item) else "")
                + "</li>"
                for item in self.items
            )
        hints = "".join(
            f"<div style='white-space: pre-wrap; margin: 2px 0'>{html.escape(line)}</div>"
            for line in self.hint_lines()
        )
        notes = "".join(f"<div>Note: {html.escape(n)}</div>" for n in self.notes)
        footer = (
            f"<div>Well done: your <code>{html.escape(self.exercise)}</code> matches the reference.</div>"
            if self.passed
            else ""
        )
        return (
            f"<div style='font-family: sans-serif; border-left: 4px solid {color}; padding: 4px 10px'>"
            f"<div style='font-weight: bold; color: {color}'>{html.escape(self.header)}</div>"
            f"<ul style='list-style: none; padding-left: 0.5em; margin: 4px 0'>{rows}</ul>"
            f"{hints}{notes}{footer}</div>"
        )

    def raise_if_failed(self) -> CheckResult:
        """Raise :class:`CheckFailed` unless every case passed; return self otherwise."""
        if not self.passed:
            raise CheckFailed(self)
        return self

    def remember_hints(self) -> None:
        """Mark the hints that the previous run of this exercise gave too (in this session)."""
        keys = {h.key for h in self.hints}
        self.repeated = keys & _LAST_HINTS.get(self.exercise, set())
        _LAST_HINTS[self.exercise] = keys

    def to_dict(self) -> dict:
        """Plain data for the grader: one dict per case, the hints and the totals."""
        return {
            "exercise": self.exercise,
            "passed": self.passed,
            "score": self.score,
            "n_passed": self.n_passed,
            "n_total": self.n_total,
            "tampered": self.tampered,
            "not_implemented": self.not_implemented,
            "notes": list(self.notes),
            "summary": str(self),
            "header": self.header,
            "hint_lines": self.hint_lines(ask_for_fix=False),
            "items": [
                {
                    "name": it.name,
                    "passed": it.passed,
                    "message": it.message,
                    "tampered": it.tampered,
                    "hint": (
                        f"{it.hint.pointer} {it.hint.read}" if it.hint and not it.passed else ""
                    ),
                }
                for it in self.items
            ],
        }
