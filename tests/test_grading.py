"""Grading a class: a fake class of submissions graded by ``loretta-explore grade`` into the expected CSV.

The class (built from the student copies, with the stub cell replaced by each student's answer):
a correct student (all four exercises, folder layout), one typical mistake per exercise, an endless
loop, a loop that swallows the per-case limit (the per-notebook limit ends it), a segfault through ctypes, ``sys.exit`` inside the function, ``os._exit`` in a cell, the
``sys.setprofile`` trick, a cell that patches the check before it runs, and a correct answer
beside a cell that hangs and a cell that raises. Marked slow: one Python process per notebook.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from loretta_explore.checks import COURSE, exercise_named
from loretta_explore.checks.grading import COLUMNS
from loretta_explore.checks.static_check import scan
from loretta_explore.checks.student_copies import student_notebook
from loretta_explore.checks.submissions import find_submissions, read_cells

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "instructor" / "solutions"


def notebook(exercise: str, answer: str, *, before: list[str] = (), after: list[str] = ()) -> dict:
    """A student's notebook: the student copy with the stub cell replaced by `answer`, and extra
    code cells before the stub cell and after it."""
    ex = exercise_named(exercise)
    nb = student_notebook(ex)
    (i,) = [k for k, c in enumerate(nb["cells"]) if "stub" in c.get("metadata", {}).get("tags", [])]

    def code(source: str) -> dict:
        return {
            "cell_type": "code",
            "metadata": {},
            "source": source,
            "outputs": [],
            "execution_count": None,
        }

    nb["cells"][i]["source"] = answer
    nb["cells"][i + 1 : i + 1] = [code(s) for s in after]
    nb["cells"][i:i] = [code(s) for s in before]
    return nb


def solution(exercise: str) -> str:
    return (SOLUTIONS / exercise_named(exercise).solution).read_text()


SMALLEST = (
    solution("ex1")
    .replace("u[:, :r]", "u[:, -r:]")
    .replace("s[:r, None] * vh[:r]", "s[-r:, None] * vh[-r:]")
)
OUT_IN = solution("ex2").replace(
    "w = full.reshape(in_features, out_features)", "w = full.reshape(out_features, in_features).T"
)
NO_NORMS = (
    solution("ex3")
    .replace("total += (2 * layers + 1) * 2 * hidden", "pass")
    .replace("total += (2 * layers + 1) * hidden", "pass")
)
TT_RANK_SCALE = solution("ex4").replace(
    "s = rep_layer.alpha / rep_layer.bottleneck", "s = rep_layer.alpha / max(rep_layer.A.ranks)"
)
LOOP = "def tt_svd(x, max_rank):\n    while True:\n        pass\n"
SEGFAULT = (
    "import ctypes\n\ndef tt_linear_forward(x, cores, in_features, out_features):\n"
    "    ctypes.string_at(0)  # reads address 0: a segmentation fault\n"
)
EXITS = "import sys\n\ndef rep_budget(model_name, tt_rank):\n    sys.exit('giving up')\n"
SETPROFILE = (
    "import sys\n\ndef tt_svd(x, max_rank):\n    sys.setprofile(None)  # switch off the watch\n"
    "    return lx.tt_svd(x, max_rank=max_rank).cores\n"
)
UNSTOPPABLE = (
    "def tt_linear_forward(x, cores, in_features, out_features):\n    while True:\n        try:\n"
    "            while True:\n                pass\n        except BaseException:  # swallows the time limit\n"
    "            pass\n"
)
PATCHES_CHECK = (
    "def tt_svd(x, max_rank):\n    return [torch.zeros(1, n, 1, dtype=x.dtype) for n in x.shape]\n"
)


def make_class(folder: Path) -> None:
    folder.mkdir()
    (folder / "alice").mkdir()
    for ex in COURSE:  # the folder layout, with the starter's own names
        (folder / "alice" / ex.notebook).write_text(
            json.dumps(notebook(ex.stem, solution(ex.stem)))
        )
    files = {
        "bob_ex1_tt_svd.ipynb": notebook("ex1", SMALLEST),
        "carol_ex2_tt_linear_forward.ipynb": notebook("ex2", OUT_IN),
        "erin-ex4.ipynb": notebook("ex4", TT_RANK_SCALE),
        "frank_ex1_tt_svd.ipynb": notebook("ex1", LOOP),
        "grace_ex2_tt_linear_forward.ipynb": notebook("ex2", SEGFAULT),
        "heidi_ex3_budget_formula.ipynb": notebook("ex3", EXITS),
        "ivan_ex1_tt_svd.ipynb": notebook("ex1", SETPROFILE),
        "judy_ex4_rep_merge.ipynb": notebook(
            "ex4", solution("ex4"), after=["import os\nos._exit(3)"]
        ),
        "mallory_ex1_tt_svd.ipynb": notebook(
            "ex1",
            PATCHES_CHECK,
            after=["import loretta_explore.checks.ex1_tt_svd as e\ne.rel_error = lambda a, b: 0.0"],
        ),
        "oscar_ex2_tt_linear_forward.ipynb": notebook("ex2", UNSTOPPABLE),
        "niaj_ex1_tt_svd.ipynb": notebook(
            "ex1",
            solution("ex1"),
            before=["%matplotlib inline\nprint('hi')"],
            after=["while True:\n    pass", "1 / 0"],
        ),
    }
    for name, nb in files.items():
        (folder / name).write_text(json.dumps(nb))
    (folder / "dave").mkdir()
    (folder / "dave" / "ex3.ipynb").write_text(json.dumps(notebook("ex3", NO_NORMS)))


# ---------------------------------------------------------------------------------------------
# Fast: finding submissions, reading cells, the static check.
# ---------------------------------------------------------------------------------------------


def test_submissions_are_found_in_both_layouts(tmp_path):
    make_class(tmp_path / "class")
    (tmp_path / "class" / "notes.txt").write_text("not a submission")
    (tmp_path / "class" / "zed.ipynb").write_text(
        json.dumps(notebook("ex1", "x = 1"))
    )  # no exercise, no function
    subs, problems = find_submissions(tmp_path / "class")
    found = {(s.student, s.exercise.stem) for s in subs}
    assert {("alice", ex.stem) for ex in COURSE} <= found
    assert {
        ("bob", "ex1_tt_svd"),
        ("dave", "ex3_budget_formula"),
        ("erin", "ex4_rep_merge"),
    } <= found
    assert len(subs) == 16 and any("zed.ipynb: cannot tell which exercise" in p for p in problems)


def test_the_starter_cells_are_skipped_and_magics_neutralised(tmp_path):
    path = tmp_path / "niaj_ex1.ipynb"
    path.write_text(
        json.dumps(notebook("ex1", solution("ex1"), before=["%matplotlib inline\nprint('hi')"]))
    )
    cells = read_cells(path, exercise_named("ex1"))
    sources = "\n".join(c.source for c in cells)
    assert (
        "%pip" not in sources
        and "check_tt_svd" not in sources
        and "if result.passed" not in sources
    )
    assert "pass  # skipped by the grader: %matplotlib inline" in sources
    assert [c.student for c in cells] == [True, True]  # the magic cell and the answer


def test_static_check_flags_forbidden_calls_in_functions_and_tricks_anywhere():
    ex1 = exercise_named("ex1")
    assert scan(solution("ex1"), ex1) == []
    assert (
        scan("print(lx.tt_svd(x, 3))", ex1) == []
    )  # top-level scratch code may compare with the library
    (f,) = scan("def tt_svd(x, r):\n    return lx.tt_svd(x, r).cores", ex1, cell=4)
    assert f.kind == "forbidden" and str(f).startswith(
        "cell 4, line 2: `return lx.tt_svd(x, r).cores`: tt_svd reaches"
    )
    assert [f.name for f in scan("from loretta_explore.tt import tt_svd as t", ex1)] == [
        "loretta_explore.tt.tt_svd"
    ]
    assert [f.name for f in scan("def f(x):\n    return getattr(lx, 'tt_svd')(x)", ex1)] == [
        "tt_svd"
    ]
    tricks = {
        "import sys\nsys.setprofile(None)": "sys.setprofile",
        "g = types.FunctionType(lx.tt_svd.__code__, {})": "FunctionType",
        "import ctypes": "ctypes",
        "from importlib import reload": "importlib",
        "lx.checks.harness.rel_error = None": "harness",
        "exec(open('x.py').read())": "exec",
        "sys.modules['loretta_explore.checks.watch']": "sys.modules",
    }
    for source, name in tricks.items():
        assert name in [f.name for f in scan(source, ex1)], source
    ex4 = exercise_named("ex4")
    assert [f.kind for f in scan("def merge_rep(layer):\n    layer.merge()", ex4)] == ["forbidden"]
    assert scan(solution("ex4"), ex4) == []


# ---------------------------------------------------------------------------------------------
# Slow: the whole class through the command line.
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grading")
    make_class(folder / "class")
    out = folder / "grades.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "loretta_explore",
            "grade",
            str(folder / "class"),
            "--out",
            str(out),
            "--time-limit",
            "2",
            "--notebook-limit",
            "60",
            "--jobs",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=folder,
    )
    with out.open() as f:
        rows = list(csv.DictReader(f))
    return proc, rows


def total(rows, student, exercise):
    (row,) = [
        r
        for r in rows
        if r["student"] == student and r["exercise"].startswith(exercise) and r["check"] == "total"
    ]
    return float(row["score"]), row["passed"] == "True", row["feedback"]


@pytest.mark.slow
def test_the_class_is_graded_into_the_expected_csv(graded):
    proc, rows = graded
    assert proc.returncode == 0, proc.stderr  # grading ran, however the students did
    assert "grading" in proc.stderr  # the progress bar
    assert list(rows[0]) == list(COLUMNS)
    students = sorted({r["student"] for r in rows})
    class_list = "alice bob carol dave erin frank grace heidi ivan judy mallory niaj oscar"
    assert students == class_list.split()
    for ex in COURSE:
        assert total(rows, "alice", ex.stem)[:2] == (1.0, True)
        cases = [
            r
            for r in rows
            if r["student"] == "alice"
            and r["exercise"] == ex.stem
            and r["check"] not in ("total", "static check")
        ]
        assert cases and all(
            r["passed"] == "True" and r["feedback"].startswith("PASS: ") for r in cases
        )

    score, passed, feedback = total(rows, "bob", "ex1")
    assert (
        0 < score < 1
        and not passed
        and "Which singular values does your truncation keep?" in feedback
    )
    score, _, feedback = total(rows, "carol", "ex2")
    assert score < 1 and "Which orientation does your W have?" in feedback
    score, _, feedback = total(rows, "dave", "ex3")
    assert (
        score == 0
        and "Did you count the norms?" in feedback
        and feedback.count("Did you count the norms?") == 1
    )
    score, _, feedback = total(rows, "erin", "ex4")
    assert score < 1 and "not the TT rank" in feedback
    score, _, feedback = total(rows, "frank", "ex1")
    assert (
        score == 0
        and "did not finish within 2 s"
        in "".join(r["feedback"] for r in rows if r["student"] == "frank")
        and "Does every loop" in feedback
    )
    score, _, feedback = total(rows, "grace", "ex2")
    assert score == 0 and "segmentation fault" in feedback
    grace_cases = [
        r for r in rows if r["student"] == "grace" and r["check"] not in ("total", "static check")
    ]
    assert len(grace_cases) == 6 and all(r["feedback"].startswith("not run: ") for r in grace_cases)
    score, _, feedback = total(rows, "heidi", "ex3")
    assert score == 0 and "sys.exit" in feedback
    score, _, feedback = total(rows, "ivan", "ex1")
    assert score == 0 and "switched off or worked around the check" in feedback
    static = [r for r in rows if r["student"] == "ivan" and r["check"] == "static check"][0]
    assert static["passed"] == "False" and "sys.setprofile" in static["feedback"]
    score, _, feedback = total(rows, "judy", "ex4")
    assert score == 0 and "exited with status 3" in feedback
    score, _, feedback = total(rows, "mallory", "ex1")
    assert score == 0
    score, _, feedback = total(
        rows, "oscar", "ex2"
    )  # swallows the per-case limit: the process limit ends it
    assert score == 0 and "did not finish within 60 s (the limit per notebook)" in feedback
    score, passed, feedback = total(rows, "niaj", "ex1")
    assert (score, passed) == (
        1.0,
        True,
    )  # a hung scratch cell and a raising one do not cost the answer
    assert "did not finish within 2 s" in feedback and "ZeroDivisionError" in feedback
    # every student has a total row for every exercise anyone handed in (missing ones score 0)
    assert {(r["student"], r["exercise"]) for r in rows if r["check"] == "total"} == {
        (s, ex.stem) for s in students for ex in COURSE
    }
    assert "no submission found for ex2_tt_linear_forward" in total(rows, "bob", "ex2")[2]


@pytest.mark.slow
def test_the_grader_prints_a_summary(graded):
    proc, _ = graded
    assert "student" in proc.stdout and "alice" in proc.stdout and "Wrote" in proc.stdout


def test_summary_marks_missing_exercises():
    from loretta_explore.checks.grading import GradeReport, Row

    report = GradeReport(
        rows=[
            Row("ann", "ex1_tt_svd", "total", 0.8, False, "FAIL  tt_svd: 4/5 checks passed"),
            Row(
                "ann",
                "ex2_tt_linear_forward",
                "total",
                0.0,
                False,
                "no submission found for ex2_tt_linear_forward",
            ),
            Row("ben", "ex1_tt_svd", "total", 0.0, False, "FAIL  tt_svd: score 0: ..."),
            Row(
                "ben",
                "ex2_tt_linear_forward",
                "total",
                1.0,
                True,
                "PASS  tt_linear_forward: 6/6 checks passed",
            ),
        ]
    )
    assert report.summary().splitlines() == [
        "student    ex1    ex2",
        "ann       0.80      -",
        "ben       0.00   1.00",
    ]
