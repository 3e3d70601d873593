"""The recap quiz at the end of each lesson: radio buttons, checked on the spot.

The questions live in :mod:`loretta_explore.quizzes`; this is only their page. Choosing an option
shows at once whether it is right and the one-line reason for that option; "Check all" adds the
score and the right answer to every question answered wrongly.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from ..quizzes import Quiz as QuizData
from ..quizzes import get_quiz

__all__ = ["Quiz", "quiz"]

_RIGHT, _WRONG = "#1a7f37", "#b00020"


class Quiz(widgets.VBox):
    """A lesson's quiz. Handles for tests and lessons: ``choices`` (one RadioButtons per question),
    ``feedback`` (one HTML per question), ``check`` (the button), ``score`` (HTML), ``state``
    (``{"answers": [...], "right": [...], "score": int}``) and :meth:`answer`."""

    def __init__(self, data: QuizData):
        self.data = data
        self.choices, self.feedback = [], []
        rows: list[widgets.Widget] = [
            widgets.HTML(
                f"<h3 style='margin:4px 0'>Recap quiz: {html.escape(data.title)}"
                "</h3><div>Choose an answer; it is checked at once.</div>"
            )
        ]
        for i, q in enumerate(data.questions):
            choice = widgets.RadioButtons(
                options=[(text, j) for j, (text, _) in enumerate(q.options)],
                value=None,
                layout=widgets.Layout(width="auto"),
            )
            note = widgets.HTML()
            choice.observe(lambda change, i=i: self._show(i), names="value")
            self.choices.append(choice)
            self.feedback.append(note)
            rows += [widgets.HTML(f"<b>{i + 1}. {html.escape(q.prompt)}</b>"), choice, note]
        self.check = widgets.Button(description="Check all", button_style="info", icon="check")
        self.score = widgets.HTML()
        self.check.on_click(lambda _button: self.grade())
        self.state: dict = {
            "answers": [None] * len(data.questions),
            "right": [None] * len(data.questions),
            "score": 0,
        }
        super().__init__(rows + [widgets.HBox([self.check, self.score])])

    def answer(self, question: int, option: int) -> str:
        """Choose `option` (index) for `question` (index), as a click would; the feedback text."""
        self.choices[question].value = option
        return self.feedback[question].value

    def _show(self, i: int, reveal: bool = False) -> None:
        q, chosen = self.data.questions[i], self.choices[i].value
        self.state["answers"][i] = chosen
        if chosen is None:
            self.state["right"][i] = None
            self.feedback[i].value = (
                "<span style='color:#888'>not answered yet</span>" if reveal else ""
            )
            return
        right = chosen == q.answer
        self.state["right"][i] = right
        mark, color = ("Right.", _RIGHT) if right else ("Not quite.", _WRONG)
        text = (
            f"<span style='color:{color}'><b>{mark}</b> {html.escape(q.options[chosen][1])}</span>"
        )
        if reveal and not right:
            text += f"<br><span style='color:#444'>The answer: {html.escape(q.right)}</span>"
        self.feedback[i].value = text

    def grade(self) -> int:
        """Check every question (the button does this); the number answered rightly."""
        for i in range(len(self.choices)):
            self._show(i, reveal=True)
        score = sum(1 for r in self.state["right"] if r)
        self.state["score"] = score
        total = len(self.choices)
        self.score.value = f"<b style='font-size:15px'>{score} of {total} right</b>" + (
            " - well done." if score == total else " - read the reasons above and try again."
        )
        return score


def quiz(lesson) -> Quiz:
    """The recap quiz of a lesson: ``lx.widgets.quiz("01")`` (see :mod:`loretta_explore.quizzes`)."""
    return Quiz(get_quiz(lesson))
