"""Student copies of the exercises for a course: the four starters, no solutions, no outputs.

``loretta-explore exercises DIR`` calls :func:`write_student_copies`. The starters are the
notebooks of ``notebooks/exercises/`` in the kit's repository (or, in an installed wheel that
ships them, ``loretta_explore/_exercises``); the reference solutions live apart, in the
repository's ``instructor/solutions/``, and are never copied. A copy differs from the starter in
three ways: outputs and execution counts are cleared, cells tagged ``solution`` or
``instructor`` are dropped, and links into the kit's method document become plain text that
names the section (a course folder has no ``docs/method.md`` to link to).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .catalog import COURSE, Exercise
from .feedback import SECTIONS

__all__ = [
    "solutions_dir",
    "starter_path",
    "starters_dir",
    "student_notebook",
    "write_student_copies",
]

_PACKAGE = Path(__file__).resolve().parents[1]  # loretta_explore/
_REPOSITORY = _PACKAGE.parent
_HIDDEN_TAGS = {"solution", "instructor", "hidden"}
_LINK = re.compile(r"\[([^\]]+)\]\((?:\.\./)*docs/method\.md#([\w-]+)\)")


def starters_dir() -> Path:
    """The folder of the starter notebooks (a clone's notebooks/exercises, or the wheel's copy)."""
    for folder in (_PACKAGE / "_exercises", _REPOSITORY / "notebooks" / "exercises"):
        if all((folder / ex.notebook).is_file() for ex in COURSE):
            return folder
    raise FileNotFoundError(
        "the exercise starters are not installed: they live in the kit's repository under "
        "notebooks/exercises/. Run this command from a clone (pip install -e .), or copy that folder."
    )


def starter_path(ex: Exercise) -> Path:
    return starters_dir() / ex.notebook


def solutions_dir() -> Path | None:
    """The instructor's reference solutions (the repository's instructor/solutions/), if present."""
    folder = _REPOSITORY / "instructor" / "solutions"
    return folder if all((folder / ex.solution).is_file() for ex in COURSE) else None


def _plain_link(match: re.Match) -> str:
    text, anchor = match.group(1), match.group(2)
    title = SECTIONS.get(anchor, anchor)
    return f'{text} (section "{title}" of the kit\'s docs/method.md#{anchor})'


def student_notebook(ex: Exercise) -> dict:
    """The starter of `ex` as a student copy (a notebook as plain JSON data)."""
    nb = json.loads(starter_path(ex).read_text())
    cells = []
    for cell in nb["cells"]:
        if _HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        if cell.get("cell_type") == "markdown":
            source = cell["source"]
            text = "".join(source) if isinstance(source, list) else source
            cell["source"] = _LINK.sub(_plain_link, text)
        cells.append(cell)
    nb["cells"] = cells
    return nb


STUDENT_README = """# LoRETTA exercises

Four notebooks; in each you write one function and run the check cell under it.

| notebook | you write |
|---|---|
| `ex1_tt_svd.ipynb` | `tt_svd(x, max_rank)`: a tensor's tensor-train cores |
| `ex2_tt_linear_forward.ipynb` | `tt_linear_forward(x, cores, in_features, out_features)`: `x @ W` |
| `ex3_budget_formula.ipynb` | `rep_budget(model_name, tt_rank)`: LoRETTA_rep's trainable parameters |
| `ex4_rep_merge.ipynb` | `merge_rep(rep_layer)`: the merged weight `W0 + s * (A_W @ B_W).T` |

Each notebook needs the kit: `pip install loretta_explore` (the notebook's first cell does it in
Colab). Open a notebook, read the idea, fill in the function marked `# TODO`, run its cell, then the
check cell.

The check prints PASS or FAIL for each case, what it measured, and a hint per distinct problem
(what to look at and the section of the kit's method document to read). Try the hint first; if you
are still stuck, run `result.show_fix()` for the code-level fix. Each case has a time limit (an
endless loop fails its case); if a cell never finishes, press the kernel's Interrupt button.

Write the function yourself: calling the kit's own implementation (for example `lx.tt_svd` in
exercise 1) fails the check, and so does switching the check off. When grading, each notebook runs
in its own process with a time limit.

**Handing in**: keep the function's name, and hand in the notebook named
`<your name>_<notebook>.ipynb` (for example `alice_ex1_tt_svd.ipynb`), or put your notebooks in a
folder named after you.
"""


def write_student_copies(dest: str | Path, force: bool = False) -> list[Path]:
    """Write the four student notebooks and a README into `dest`; return the paths written.

    Raises ValueError when `dest` is a file, or already holds one of the notebooks and `force` is
    False (nothing is written then).
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ValueError(
            f"{str(dest)!r} is a file; give a folder for the student copies, e.g. "
            f"loretta-explore exercises course/"
        )
    targets = [dest / ex.notebook for ex in COURSE] + [dest / "README.md"]
    existing = [p.name for p in targets if p.exists()]
    if existing and not force:
        raise ValueError(
            f"{dest} already holds {', '.join(existing)}; pass --force to overwrite them, or give "
            f"an empty folder"
        )
    notebooks = [student_notebook(ex) for ex in COURSE]  # read everything before writing anything
    dest.mkdir(parents=True, exist_ok=True)
    for path, nb in zip(targets, notebooks):
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    targets[-1].write_text(STUDENT_README)
    return targets
