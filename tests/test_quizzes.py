"""The recap quizzes: answered without a browser (set a choice, press Check, read the feedback),
and every number a question quotes recomputed with the kit."""

import html
import re

import ipywidgets
import pytest
import torch

import loretta_explore as lx
from loretta_explore import quizzes
from loretta_explore import widgets as W
from loretta_explore.budget import tt_params

LESSONS = [f"{i:02d}" for i in range(9)]


def plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def test_every_lesson_has_a_quiz_of_three_to_five_questions():
    assert list(quizzes.QUIZZES) == LESSONS
    for quiz in quizzes.QUIZZES.values():
        assert 3 <= len(quiz.questions) <= 5
        for q in quiz.questions:
            assert len(q.options) >= 3 and all(reason.strip() for _, reason in q.options)
            assert len({text for text, _ in q.options}) == len(q.options)
    assert (
        quizzes.get_quiz(1) is quizzes.get_quiz("01_tensor_train_basics") is quizzes.QUIZZES["01"]
    )
    with pytest.raises(ValueError, match="01"):
        quizzes.get_quiz("99")


@pytest.mark.parametrize("lesson", LESSONS)
def test_a_quiz_answered_rightly_and_wrongly(lesson):
    ui = W.quiz(lesson)
    data = quizzes.get_quiz(lesson)
    assert isinstance(ui, ipywidgets.VBox) and len(ui.choices) == len(data.questions)
    assert all(c.value is None for c in ui.choices) and ui.feedback[0].value == ""
    # a wrong answer to the first question: checked at once, with that option's reason
    q0 = data.questions[0]
    wrong = (q0.answer + 1) % len(q0.options)
    shown = plain(ui.answer(0, wrong))
    assert shown.startswith("Not quite.") and q0.options[wrong][1] in shown
    # Check all: unanswered questions say so, the wrong one gets the right answer added
    ui.check.click()
    assert ui.state["score"] == 0 and "0 of" in plain(ui.score.value)
    assert f"The answer: {q0.right}" in plain(ui.feedback[0].value)
    assert all("not answered yet" in plain(f.value) for f in ui.feedback[1:])
    # every question answered rightly, by setting the widgets as a click would
    for i, q in enumerate(data.questions):
        ui.choices[i].value = q.answer
        assert plain(ui.feedback[i].value).startswith("Right.") and q.options[q.answer][1] in plain(
            ui.feedback[i].value
        )
    ui.check.click()
    total = len(data.questions)
    assert ui.state["score"] == total and f"{total} of {total} right" in plain(ui.score.value)
    assert ui.state["right"] == [True] * total


# -- the numbers the questions quote ---------------------------------------------------------


def options(lesson: str, question: int) -> list[str]:
    return [text for text, _ in quizzes.get_quiz(lesson).questions[question].options]


def right(lesson: str, question: int) -> str:
    return quizzes.get_quiz(lesson).questions[question].right


def test_lesson_00_numbers():
    assert right("00", 0).startswith(f"{lx.count_trainable('llama-2-7b', 'loretta_rep'):,}")
    assert f"{lx.count_trainable('llama-2-7b', 'lora'):,}" in options("00", 0)
    assert f"{lx.count_trainable('llama-2-7b', 'full'):,}" in options("00", 0)


def test_lesson_01_numbers():
    assert right("01", 0) == f"{tt_params([8, 8, 8, 8], 4)}" == "320"
    assert "4,096" in options("01", 0)


def test_lesson_02_numbers():
    shape = lx.suggest_shape(384, 1536)
    assert str(tuple(shape)).replace(" ", "") in quizzes.get_quiz("02").questions[0].prompt.replace(
        " ", ""
    )
    assert 384 % (shape[0] * shape[1]) == 0 and shape[0] * shape[1] * shape[2] > 384
    assert right("02", 0).startswith(
        f"Inside the third mode, which holds {384 // (shape[0] * shape[1])} input x "
        f"{shape[2] * shape[0] * shape[1] // 384} output"
    )


def test_lesson_04_numbers():
    total = lx.count_trainable("llama-2-7b", "loretta_rep")
    cores = lx.count_trainable("llama-2-7b", "loretta_rep", train_norms=False)
    assert f"{total - cores:,}" in right("04", 0) and total - cores > total / 2
    assert f"{cores:,}" in quizzes.get_quiz("04").questions[0].options[1][1]
    big = lx.count_trainable("llama-2-7b", "loretta_rep", tt_rank=16, train_norms=False)
    assert f"{big / cores:.1f}" in right("04", 1) and f"{cores:,} -> {big:,}" in right("04", 1)
    assert lx.count_trainable("llama-2-7b", "lora", r=16) == 2 * lx.count_trainable(
        "llama-2-7b", "lora", r=8
    )
    ratio = lx.count_trainable("llama-2-7b", "adapters", train_norms=False) / lx.count_trainable(
        "llama-2-7b", "loretta_adp"
    )
    assert f"{ratio:.1f}" == "57.4"
    lora_rep = lx.count_trainable("llama-2-7b", "lora") / total
    assert f"{lora_rep:.1f}x" in quizzes.get_quiz("04").questions[3].options[0][1]


def test_lesson_05_numbers():
    torch.manual_seed(0)
    adapter = lx.TTAdapter(768, bottleneck=64, tt_rank=5)
    count = sum(p.numel() for p in adapter.parameters())
    dense = 768 * 64 + 64 + 64 * 768 + 768
    assert right("05", 2) == f"{count:,}" and f"{dense:,}" in options("05", 2)
    assert (
        f"about {round(dense / count)}x fewer" in quizzes.get_quiz("05").questions[2].options[2][1]
    )


def test_lesson_06_numbers():
    torch.manual_seed(0)
    layer = lx.LorettaRepLinear(torch.nn.Linear(768, 768), bottleneck=8, tt_rank=5, alpha=16.0)
    assert right("06", 1) == f"{layer.scale:g}" == "2"
    old = lx.LorettaRepLinear(
        torch.nn.Linear(768, 768), bottleneck=8, tt_rank=5, alpha=16.0, scale_by="tt_rank"
    )
    assert f"{old.scale:g}" in options("06", 1)
    assert int(torch.linalg.matrix_rank(layer.get_delta_weight())) == 5  # "even has rank 5"


def test_lesson_08_numbers():
    n = lx.count_trainable("llama-2-70b", "loretta_rep")
    assert f"{n:,}" in quizzes.get_quiz("08").questions[2].prompt
    assert right("08", 2) == f"{round(16 * n / 1e6)} MB"
    assert f"{round(2 * n / 1e6)} MB" in options("08", 2)
