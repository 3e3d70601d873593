"""Finding a class's submissions and reading the student's code out of each.

Two layouts are accepted (both may be mixed in one folder):

- **a folder per student**: ``SUBMISSIONS/<student>/<file>``, where the file's name says the
  exercise (``ex1_tt_svd.ipynb``, ``ex1.ipynb``, ``my_ex1_attempt.ipynb``); subfolders are
  searched too (an unzipped archive), ``.ipynb_checkpoints`` is skipped;
- **files named by student**: ``SUBMISSIONS/<student>_<exercise>.ipynb`` (or ``-`` instead of
  ``_``, either order): ``alice_ex1_tt_svd.ipynb``, ``ex2-bob.ipynb``.

A file whose name names no exercise is graded against every exercise whose function it defines
(``def tt_svd(``). Plain ``.py`` files are accepted as well as notebooks.

From a notebook the grader runs the student's code cells, not the starter's own: the setup cell
(replaced by plain imports, since ``%pip`` is not Python), the check and explore cells (the
grader calls the check itself) are recognised by their tags or by being unchanged from the
starter, and skipped. IPython magics and shell lines in the student's cells are skipped with a
note. Light: no torch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import COURSE, Exercise
from .student_copies import starter_path

__all__ = ["Cell", "Submission", "find_submissions", "read_cells"]

_SKIP_DIRS = {".ipynb_checkpoints", "__pycache__", "__MACOSX", ".git"}
_KEEP_CELL_MAGICS = {"time", "timeit", "capture", "prun"}


@dataclass
class Submission:
    """One student's file for one exercise."""

    student: str
    exercise: Exercise
    path: Path


@dataclass
class Cell:
    """A code cell to run: where it was, its runnable source, whether it is the student's own."""

    index: int | None  # position in the notebook, from 1, markdown cells too (None: a .py file)
    source: str
    student: bool  # False: a starter cell left unchanged (run, but not scanned)
    notes: list[str] = field(default_factory=list)


def _exercise_in_name(name: str) -> Exercise | None:
    low = name.lower()
    for ex in COURSE:
        if ex.stem in low:
            return ex
    match = re.search(r"(?<![a-z0-9])ex(?:ercise)?[_ -]?([1-4])(?![0-9])", low)
    return COURSE[int(match.group(1)) - 1] if match else None


def _student_from_name(stem: str, ex: Exercise | None) -> str:
    low = stem
    if ex is not None:
        low = re.sub(re.escape(ex.stem), " ", low, flags=re.I)
        low = re.sub(
            rf"(?<![A-Za-z0-9])ex(?:ercise)?[_ -]?{ex.number}(?![0-9])", " ", low, flags=re.I
        )
    return re.sub(r"^[\s_.-]+|[\s_.-]+$", "", re.sub(r"\s+", " ", low))


def _defined_functions(path: Path) -> set[str]:
    text = path.read_text(errors="replace")
    if path.suffix == ".ipynb":
        try:
            text = "\n".join(
                "".join(c.get("source", "")) for c in json.loads(text).get("cells", [])
            )
        except (ValueError, AttributeError):
            return set()
    return set(re.findall(r"^\s*def\s+(\w+)\s*\(", text, re.M))


def _files(folder: Path):
    for path in sorted(folder.rglob("*")):
        if (
            path.suffix in (".ipynb", ".py")
            and path.is_file()
            and not (set(path.parts) & _SKIP_DIRS)
        ):
            yield path


def find_submissions(folder: str | Path) -> tuple[list[Submission], list[str]]:
    """Every (student, exercise, file) under `folder`, and the problems found on the way.

    Raises ValueError when `folder` is not a folder (the command line turns it into an error
    message with exit status 2).
    """
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(
            f"submissions folder {str(folder)!r} does not exist or is not a folder; expected a "
            f"folder with one subfolder per student (alice/ex1_tt_svd.ipynb) or files named by "
            f"student (alice_ex1_tt_svd.ipynb), e.g. loretta-explore grade submissions/ --out grades.csv"
        )
    found: dict[tuple[str, int], list[Path]] = {}
    problems: list[str] = []

    def add(student: str, path: Path, named: Exercise | None) -> None:
        exercises = (
            [named] if named else [ex for ex in COURSE if ex.function in _defined_functions(path)]
        )
        if not student:
            problems.append(
                f"{path.relative_to(root)}: cannot tell whose it is; name it <student>_"
                f"{(named or COURSE[0]).stem}{path.suffix} or put it in a folder named after the student"
            )
        elif not exercises:
            problems.append(
                f"{path.relative_to(root)}: cannot tell which exercise it is; put ex1 ... ex4 in its "
                f"name (e.g. {student}_ex1_tt_svd{path.suffix})"
            )
        for ex in exercises if student else []:
            found.setdefault((student, ex.number), []).append(path)

    for entry in sorted(root.iterdir()):
        if entry.name in _SKIP_DIRS or entry.name.startswith("."):
            continue
        if entry.is_dir():
            for path in _files(entry):
                add(entry.name, path, _exercise_in_name(path.stem))
        elif entry.suffix in (".ipynb", ".py"):
            named = _exercise_in_name(entry.stem)
            add(_student_from_name(entry.stem, named), entry, named)
    submissions = []
    for (student, number), paths in sorted(found.items()):
        newest = max(paths, key=lambda p: (p.stat().st_mtime, str(p)))
        if len(paths) > 1:
            others = ", ".join(str(p.relative_to(root)) for p in paths if p != newest)
            problems.append(
                f"{student}: {len(paths)} files for ex{number}; graded the newest, "
                f"{newest.relative_to(root)} (not {others})"
            )
        submissions.append(Submission(student, COURSE[number - 1], newest))
    return submissions, problems


# ---------------------------------------------------------------------------------------------
# Reading the code cells.
# ---------------------------------------------------------------------------------------------


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _starter_roles(ex: Exercise) -> dict[str, str]:
    """Normalised source of each tagged starter cell -> its tag."""
    try:
        nb = json.loads(starter_path(ex).read_text())
    except (OSError, ValueError):
        return {}
    roles = {}
    for cell in nb.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and tags:
            roles[_norm("".join(cell.get("source", "")))] = tags[0]
    return roles


def _without_magics(source: str) -> tuple[str | None, list[str]]:
    """Runnable Python: magic and shell lines become `pass`; None when the whole cell is not Python.

    A cell that already compiles is returned unchanged (so a string holding "%" is never touched).
    """
    try:
        compile(source, "<cell>", "exec")
        return source, []
    except SyntaxError:
        pass
    except ValueError:  # null bytes: reported when the grader runs it
        return source, []
    lines = source.splitlines()
    notes = []
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].strip()[2:].split()[0] if lines[0].strip()[2:] else ""
        if magic not in _KEEP_CELL_MAGICS:
            return None, [f"a %%{magic} cell is not Python; the grader skipped it"]
        lines = lines[1:]
    out = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}pass  # skipped by the grader: {stripped[:60]}")
            notes.append(f"skipped the IPython line `{stripped[:60]}`")
        else:
            out.append(line)
    return "\n".join(out), notes


# starter cells the grader never runs: the install cell (`make notebooks` writes it), the setup's
# imports, the check call and the exploration after it
_GRADER_SKIPS = ("install", "setup", "check", "explore")


def read_cells(path: str | Path, ex: Exercise) -> list[Cell]:
    """The cells of a submission that the grader runs, in order.

    Raises ValueError when a notebook is not valid JSON (the grader reports it as the reason for
    a score of 0).
    """
    path = Path(path)
    text = path.read_text(errors="replace")
    if path.suffix == ".py":
        return [Cell(None, text, True)]
    try:
        nb = json.loads(text)
        raw_cells = nb["cells"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"{path.name} is not a readable notebook ({type(err).__name__}: {err})"
        ) from None
    roles = _starter_roles(ex)
    cells = []
    for index, cell in enumerate(raw_cells):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        tags = cell.get("metadata", {}).get("tags", []) or []
        role = roles.get(_norm(source))
        if {"check", "explore", "install"} & set(tags) or role in _GRADER_SKIPS:
            continue  # the grader calls the check; the install and setup come from the grader
        runnable, notes = _without_magics(source)
        if runnable is None:
            cells.append(Cell(index + 1, "", False, notes))
            continue
        cells.append(Cell(index + 1, runnable, role is None, notes))
    return cells
