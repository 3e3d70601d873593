"""The command line: --version, --help, errors that say what was wrong (exit status 2), the
``exercises`` command's student copies, and nothing heavy imported for what does not need it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import loretta_explore as lx
from loretta_explore.__main__ import COMMANDS, main
from loretta_explore.checks import COURSE

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_LINES = {
    "ex1_tt_svd": "rest = s[:r, None] * vh[:r]",
    "ex2_tt_linear_forward": "w = full.reshape(in_features, out_features)",
    "ex3_budget_formula": "total += (2 * layers + 1) * 2 * hidden",
    "ex4_rep_merge": "return w0 + s * (a_w @ b_w).T",
}


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"loretta-explore {lx.__version__}"
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("budget", "exercises", "grade")) and set(COMMANDS) >= {
        "exercises",
        "grade",
    }
    assert main(["grade", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--time-limit" in out and "--notebook-limit" in out and "alice_ex1_tt_svd.ipynb" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "choose a command: budget, exercises, grade"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["grade"], "the following arguments are required: SUBMISSIONS"),
        (["grade", "no/such/folder"], "submissions folder 'no/such/folder' does not exist"),
        (
            ["grade", ".", "--time-limit", "0"],
            "argument --time-limit: expected a positive number, got '0'",
        ),
        (["grade", ".", "--jobs", "two"], "argument --jobs: expected a positive number, got 'two'"),
        (
            ["grade", ".", "--out", "no/such/folder/grades.csv"],
            "expected a CSV file in an existing folder",
        ),
        (["exercises"], "the following arguments are required: DIR"),
    ],
)
def test_bad_input_says_what_was_wrong(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_grading_an_empty_folder_is_an_error(tmp_path, capsys):
    (tmp_path / "readme.txt").write_text("no notebooks here")
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "g.csv")]) == 2
    assert "no submissions found" in capsys.readouterr().err and not (tmp_path / "g.csv").exists()


def test_exercises_writes_student_copies_without_solutions(tmp_path, capsys):
    dest = tmp_path / "course"
    assert main(["exercises", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "instructor" in out and "solutions" in out and "loretta-explore grade" in out
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [ex.notebook for ex in COURSE] + ["README.md"]
    )
    for ex in COURSE:
        nb = json.loads((dest / ex.notebook).read_text())
        text = json.dumps(nb)
        solution = (ROOT / "instructor" / "solutions" / ex.solution).read_text()
        key_line = SOLUTION_LINES[ex.stem]  # the line of the solution that is the answer
        assert key_line in solution and key_line not in text, ex.stem
        assert "raise NotImplementedError(" in text
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None
            else:  # links into the repository's method document become section names
                source = "".join(cell["source"])
                assert "](../../docs/method.md" not in source
        assert "of the kit's docs/method.md#" in text
    assert "<your name>_<notebook>.ipynb" in (dest / "README.md").read_text()
    # a second run refuses to overwrite, and changes nothing
    before = (dest / "ex1_tt_svd.ipynb").read_text()
    assert main(["exercises", str(dest)]) == 2
    assert (
        "pass --force" in capsys.readouterr().err
        and (dest / "ex1_tt_svd.ipynb").read_text() == before
    )
    assert main(["exercises", str(dest), "--force"]) == 0
    (tmp_path / "file").write_text("x")
    assert main(["exercises", str(tmp_path / "file")]) == 2


def test_the_command_line_imports_nothing_heavy_for_help_version_and_grading_setup():
    code = (
        "import sys\nimport loretta_explore.__main__ as m\n"
        "assert m.main(['--version']) == 0 and m.main(['--help']) == 0\n"
        "import loretta_explore.checks.grading, loretta_explore.checks.student_copies\n"
        "assert m.main(['exercises', '--help']) == 0\n"
        "heavy = [name for name in ('torch', 'transformers', 'numpy') if name in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout
