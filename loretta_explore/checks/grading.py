"""Grading a class: every submission in its own process, with time limits, into one CSV.

``loretta-explore grade SUBMISSIONS --out grades.csv`` calls :func:`grade`. For each submitted
notebook (layouts: submissions.py) the grader

1. reads the student's code cells and scans them for forbidden names and watch-evading tricks
   (static_check.py; a finding scores the exercise 0),
2. runs them and the exercise's check in a fresh Python process (run_submission.py) with a time
   limit per cell and per check case, under an overall limit per notebook: a process that runs
   past it is killed with its whole process group,
3. turns what came back, or the way the process ended (a crash, a segfault, ``os._exit``, a
   time-out), into rows: one per check case, one for the static check and one "total" per
   student and exercise (columns :data:`COLUMNS`).

A hung, crashing or exiting submission scores 0 with a message and never stalls the run. This
module stays light (no torch): the work happens in the child processes.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import COURSE
from .static_check import Finding, scan
from .submissions import Submission, find_submissions, read_cells

__all__ = ["COLUMNS", "GradeReport", "Row", "grade", "write_csv"]

#: The CSV's columns, one row per student, exercise and check.
COLUMNS = ("student", "exercise", "check", "score", "passed", "feedback")
TOTAL, STATIC, MISSING = "total", "static check", "no submission found"


@dataclass
class Row:
    student: str
    exercise: str
    check: str
    score: float
    passed: bool
    feedback: str

    def as_list(self) -> list:
        return [
            self.student,
            self.exercise,
            self.check,
            f"{self.score:.4g}",
            self.passed,
            self.feedback,
        ]


@dataclass
class GradeReport:
    """What :func:`grade` did: the rows, the problems met on the way, and how long it took."""

    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def totals(self) -> dict[str, dict[str, float]]:
        """{student: {exercise: score}} from the "total" rows."""
        out: dict[str, dict[str, float]] = {}
        for row in self.rows:
            if row.check == TOTAL:
                out.setdefault(row.student, {})[row.exercise] = row.score
        return out

    def summary(self) -> str:
        """A plain-text table: one line per student, the total score of each exercise ("-": not
        handed in)."""
        totals = self.totals()
        missing = {(r.student, r.exercise) for r in self.rows if r.feedback.startswith(MISSING)}
        exercises = [ex.stem for ex in COURSE if any(ex.stem in t for t in totals.values())]
        width = max([len("student")] + [len(s) for s in totals])
        lines = [f"{'student':<{width}}  " + "  ".join(f"{e.split('_')[0]:>5}" for e in exercises)]
        for student, scores in sorted(totals.items()):
            cells = [
                "    -" if (student, e) in missing else f"{scores.get(e, 0.0):>5.2f}"
                for e in exercises
            ]
            lines.append(f"{student:<{width}}  " + "  ".join(cells))
        return "\n".join(lines)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    package_parent = Path(__file__).resolve().parents[2]
    if package_parent.name not in (
        "site-packages",
        "dist-packages",
    ):  # a clone: the child imports this copy
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(package_parent), env.get("PYTHONPATH")) if p
        )
    env.update(
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)  # the student's own subprocesses go too
        else:  # pragma: no cover - Windows
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


def _ended(code: int, output: str) -> str:
    """Why a process ended without a result, in words."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        what = {
            "SIGSEGV": "crashed (segmentation fault)",
            "SIGXFSZ": "wrote more output than the grader allows",
            "SIGKILL": "was killed (out of memory?)",
            "SIGABRT": "aborted",
        }.get(name, f"was ended by {name}")
    else:
        what = f"exited with status {code} before the check finished (os._exit or a crash?)"
    tail = " | ".join(line for line in output.strip().splitlines()[-3:] if line.strip())[-300:]
    return f"the notebook's process {what}" + (f"; its last output: {tail}" if tail else "")


def _run(
    sub: Submission, cells: list, time_limit: float, notebook_limit: float
) -> tuple[dict | None, str]:
    """Run one submission in a child process: (result data, "") or (None, why it failed)."""
    with tempfile.TemporaryDirectory(prefix="loretta-grade-") as tmp:
        result = os.path.join(tmp, "result.json")
        job = {
            "exercise": sub.exercise.stem,
            "time_limit": time_limit,
            "result": result,
            "cells": [{"index": c.index, "source": c.source, "notes": c.notes} for c in cells],
        }
        with open(os.path.join(tmp, "output.txt"), "w+b") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "loretta_explore.checks.run_submission"],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp,
                env=_env(),
                start_new_session=True,
            )
            try:
                proc.communicate(json.dumps(job).encode(), timeout=notebook_limit)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            _kill_group(proc)
            proc.wait()
            log.seek(0)
            output = log.read()[-4000:].decode(errors="replace")
        if timed_out and not os.path.exists(result):
            return None, (
                f"the notebook did not finish within {notebook_limit:g} s (the limit per notebook); "
                f"the grader stopped it. A cell or the function runs forever?"
            )
        try:
            with open(result) as f:
                return json.load(f), ""
        except (OSError, ValueError):
            return None, _ended(proc.returncode, output)


def _rows(
    sub: Submission, data: dict | None, error: str, findings: list[Finding], case_names: list[str]
) -> list[Row]:
    student, stem = sub.student, sub.exercise.stem
    static_text = (
        "; ".join(map(str, findings)) if findings else "no forbidden names or tricks in the code"
    )
    zero = bool(findings) or data is None or data.get("tampered", False)
    rows = []
    if data is None:
        rows += [Row(student, stem, name, 0.0, False, f"not run: {error}") for name in case_names]
        total = Row(
            student, stem, TOTAL, 0.0, False, f"FAIL  {sub.exercise.function}: score 0: {error}"
        )
    else:
        for item in data["items"]:
            feedback = f"{'PASS' if item['passed'] else 'FAIL'}: {item['message']}"
            if item["hint"]:
                feedback += f" Hint: {item['hint']}"
            passed = item["passed"] and not zero
            rows.append(Row(student, stem, item["name"], 1.0 if passed else 0.0, passed, feedback))
        lines = [data["header"], *data["hint_lines"], *("Note: " + n for n in data["notes"])]
        if findings:
            lines.insert(
                1,
                f"Score 0: the static check found {len(findings)} problem(s) in the code (see its row).",
            )
        passed = data["passed"] and not zero
        total = Row(
            student, stem, TOTAL, 0.0 if zero else float(data["score"]), passed, "\n".join(lines)
        )
    rows.append(Row(student, stem, STATIC, 0.0 if findings else 1.0, not findings, static_text))
    rows.append(total)
    return rows


def grade(
    folder: str | Path,
    *,
    time_limit: float = 10.0,
    notebook_limit: float = 180.0,
    jobs: int | None = None,
    progress: bool = True,
) -> GradeReport:
    """Grade every submission under `folder`; see the module docstring.

    Parameters
    ----------
    folder : path
        The submissions (layouts: :mod:`.submissions`).
    time_limit : float
        Seconds each notebook cell and each call of the student's function may take.
    notebook_limit : float
        Seconds a whole notebook's process may take (then it is killed, and scores 0).
    jobs : int, optional
        Notebooks graded at once (default: the number of CPUs, at most 4).
    progress : bool
        Show a tqdm progress bar on stderr.

    Raises
    ------
    ValueError
        When `folder` does not exist, no submission is found, or a limit is not positive.
    """
    for name, value in (
        ("time limit", time_limit),
        ("notebook limit", notebook_limit),
        ("jobs", jobs or 1),
    ):
        if not value > 0:
            raise ValueError(
                f"the {name} must be positive, got {value!r}; e.g. --time-limit 10 "
                f"--notebook-limit 180 --jobs 2"
            )
    began = time.perf_counter()
    submissions, problems = find_submissions(folder)
    if not submissions:
        raise ValueError(
            f"no submissions found in {str(folder)!r}: expected notebooks (or .py files) in a "
            f"folder per student (alice/ex1_tt_svd.ipynb) or named by student "
            f"(alice_ex1_tt_svd.ipynb)" + (f"; skipped: {'; '.join(problems)}" if problems else "")
        )
    prepared = []
    for sub in submissions:
        try:
            cells = read_cells(sub.path, sub.exercise)
            findings = [
                f for c in cells if c.student for f in scan(c.source, sub.exercise, c.index)
            ]
            prepared.append((sub, cells, findings, ""))
        except (OSError, ValueError) as err:
            prepared.append((sub, [], [], str(err)))

    from tqdm.auto import tqdm

    jobs = jobs or max(1, min(4, os.cpu_count() or 1))
    outcomes: dict[int, tuple[dict | None, str]] = {}
    with (
        ThreadPoolExecutor(max_workers=jobs) as pool,
        tqdm(
            total=len(prepared),
            desc="grading",
            unit="notebook",
            file=sys.stderr,
            disable=not progress,
        ) as bar,
    ):
        futures = {}
        for i, (sub, cells, _, error) in enumerate(prepared):
            if error:
                outcomes[i] = (None, error)
                bar.update()
            else:
                futures[pool.submit(_run, sub, cells, time_limit, notebook_limit)] = i
        for future in as_completed(futures):
            outcomes[futures[future]] = future.result()
            bar.update()

    case_names: dict[
        str, list[str]
    ] = {}  # learnt from any run that came back, for the ones that did not
    for data, _ in outcomes.values():
        if data is not None:
            case_names.setdefault(data["exercise"], [it["name"] for it in data["items"]])
    report = GradeReport(problems=problems)
    graded = {sub.exercise.stem for sub in submissions}
    done = set()
    for i, (sub, _, findings, _) in enumerate(prepared):
        data, error = outcomes[i]
        report.rows += _rows(sub, data, error, findings, case_names.get(sub.exercise.function, []))
        done.add((sub.student, sub.exercise.stem))
    for student in sorted({sub.student for sub in submissions}):
        for ex in COURSE:
            if ex.stem in graded and (student, ex.stem) not in done:
                report.rows.append(
                    Row(
                        student,
                        ex.stem,
                        TOTAL,
                        0.0,
                        False,
                        f"{MISSING} for {ex.stem} (expected {student}_{ex.stem}.ipynb "
                        f"or {student}/{ex.stem}.ipynb)",
                    )
                )
    order = {ex.stem: ex.number for ex in COURSE}
    report.rows.sort(key=lambda r: (r.student, order[r.exercise]))  # stable: cases keep their order
    report.seconds = time.perf_counter() - began
    return report


def write_csv(report: GradeReport, path: str | Path) -> Path:
    """Write the report's rows to `path` (columns :data:`COLUMNS`)."""
    path = Path(path)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(row.as_list() for row in report.rows)
    return path
