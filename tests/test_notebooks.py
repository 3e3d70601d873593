"""The lesson notebooks: committed clean, and each runs top to bottom in test mode.

Two kinds of test:

- hygiene (fast, always run): every notebook under notebooks/ (exercises included) is committed without
  outputs and carries kernelspec metadata; all 13 open with the setup cell and Open-in-Colab line
  that `make notebooks` generates; every lesson opens with learning goals, ends with a summary,
  reads QUICK and imports only the public API;
- execution (``-m notebooks``): each lesson runs top to bottom with nbclient in test mode
  (LORETTA_QUICK=1, HF_HUB_OFFLINE=1), executed in memory: outputs are never written back to the
  repository. An error in any cell fails with that cell's source and traceback. The exercises are
  executed by their own tests.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

import sync_notebooks  # noqa: E402  (the setup cell's generator)

NOTEBOOKS = REPO / "notebooks"
EXPECTED_LESSONS = [
    "00_quickstart",
    "01_tensor_train_basics",
    "02_tensorizing_weights",
    "03_rank_selection",
    "04_parameter_budget",
    "05_loretta_adp",
    "06_loretta_rep",
    "07_compare_methods",
    "08_scaling_up",
]
CELL_TIMEOUT = 300  # seconds per cell
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def all_notebooks() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def lessons() -> list[Path]:
    return sorted(NOTEBOOKS.glob("0*.ipynb"))


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


# ---------------------------------------------------------------------------------------------
# Hygiene
# ---------------------------------------------------------------------------------------------


def test_the_nine_lessons_exist():
    found = [p.stem for p in lessons()]
    assert found == EXPECTED_LESSONS, f"expected the lessons {EXPECTED_LESSONS}, found {found}"


def dirty_cells(nb) -> list[int]:
    """Indices of code cells that carry outputs or an execution count."""
    return [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]


def test_the_output_check_catches_outputs():
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# x"), nbformat.v4.new_code_cell("1 + 1")]
    )
    assert dirty_cells(nb) == []
    nb.cells[1].execution_count = 1
    nb.cells[1].outputs = [
        nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)
    ]
    assert dirty_cells(nb) == [1]


@pytest.mark.parametrize("path", all_notebooks(), ids=rel)
def test_committed_without_outputs_and_with_kernelspec(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = dirty_cells(nb)
    assert not dirty, (
        f"{rel(path)}: code cells {dirty} have outputs or execution counts; clear them before "
        "committing (JupyterLab: Edit > Clear Outputs of All Cells, or "
        "`jupyter nbconvert --clear-output --inplace`)"
    )
    spec = nb.metadata.get("kernelspec", {})
    assert {k: spec.get(k) for k in KERNELSPEC} == KERNELSPEC, (
        f"{rel(path)}: kernelspec is {spec}, expected {KERNELSPEC}"
    )
    assert nb.metadata.get("language_info", {}).get("name") == "python", (
        f"{rel(path)}: language_info missing"
    )


@pytest.mark.parametrize("path", lessons(), ids=rel)
def test_lesson_structure(path):
    nb = nbformat.read(path, as_version=4)
    first_md = next(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "learning goals" in first_md.lower(), (
        f"{rel(path)}: the first markdown cell should state the learning goals"
    )
    tail = "\n".join(c.source for c in nb.cells[-3:] if c.cell_type == "markdown")
    assert "## Summary" in tail, f"{rel(path)}: a lesson ends with a '## Summary' section"
    assert any("**Try this.**" in c.source for c in nb.cells if c.cell_type == "markdown"), (
        f"{rel(path)}: no 'Try this' prompt"
    )


@pytest.mark.parametrize("path", sync_notebooks.notebook_paths(), ids=rel)
def test_first_cell_is_the_generated_setup_cell(path):
    """One setup cell for all 13 notebooks, generated from pyproject.toml (tests/test_colab.py tests
    what it does in JupyterLab, a fresh kernel and Colab)."""
    url, branch = sync_notebooks.read_settings()
    nb = nbformat.read(path, as_version=4)
    assert code_cells(nb)[0].source == sync_notebooks.setup_cell(url).rstrip("\n"), (
        f"{rel(path)}: the first code cell is not the current setup cell: run `make notebooks`"
    )
    header = next(c.source for c in nb.cells if c.cell_type == "markdown").splitlines()[0]
    assert header == sync_notebooks.header_line(url, rel(path), branch), (
        f"{rel(path)}: the first Markdown line is not the current Open-in-Colab line: run `make notebooks`"
    )


@pytest.mark.parametrize("path", lessons(), ids=rel)
def test_lesson_setup_reads_quick(path):
    second = code_cells(nbformat.read(path, as_version=4))[1].source
    assert 'os.environ.get("LORETTA_QUICK", "0") == "1"' in second, (
        f"{rel(path)}: the code cell after the setup cell must read QUICK"
    )
    assert "pip install" not in second, f"{rel(path)}: only the generated setup cell installs"


@pytest.mark.parametrize("path", lessons(), ids=rel)
def test_lessons_use_only_the_public_api(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(code_cells(nb)):
        for line in cell.source.splitlines():
            if line.lstrip().startswith("%pip"):
                continue
            private = re.search(
                r"loretta_explore\.(?!plots\b|widgets\b)\w+|\blx\._[a-zA-Z]\w*|from loretta_explore\b",
                line,
            )
            assert not private, (
                f"{rel(path)}, code cell {i}: {line.strip()!r}: lessons import only the public "
                "API (`import loretta_explore as lx`, `lx.plots`, `lx.widgets`)"
            )
            assert "set_backend" not in line, (
                f"{rel(path)}, code cell {i}: use `with tl.backend_context(...)`, "
                "never a global tl.set_backend"
            )


# ---------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------


def _failure(nb, path: Path) -> str | None:
    """The first error output (or traceback on stderr) with its cell's source, or None."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                trace = (
                    ANSI.sub("", "\n".join(out.get("traceback", [])))
                    or f"{out.ename}: {out.evalue}"
                )
            elif out.output_type == "stream" and "Traceback (most recent call last)" in out.get(
                "text", ""
            ):
                trace = ANSI.sub("", out.text)
            else:
                continue
            return (
                f"{rel(path)}: cell {i} failed\n----- source -----\n{cell.source}\n"
                f"----- traceback -----\n{trace}"
            )
    return None


@pytest.fixture
def test_mode(monkeypatch):
    """Environment the kernel inherits: test mode, offline, quiet tokenizers, one OpenMP thread.

    Why one thread: the kernel shares the machine (2 cores in CI) with pytest and anything else
    running; OpenMP threads that spin-wait for a busy core made the small SVDs and matmuls of the
    lessons 5-10x slower (measured: lesson 02 took 77 s with 2 threads beside another busy process,
    12 s with one). Set OMP_NUM_THREADS yourself to override.
    """
    monkeypatch.setenv("LORETTA_QUICK", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))


@pytest.mark.notebooks
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", lessons(), ids=rel)
def test_lesson_runs_top_to_bottom(path, test_mode, record_property):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)  # a copy in memory: outputs never reach the repository
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    start = time.perf_counter()
    try:
        client.execute()  # stops at the first failing cell; its error output stays in `nb`
    except CellExecutionError as err:
        pytest.fail(_failure(nb, path) or ANSI.sub("", str(err)), pytrace=False)
    seconds = time.perf_counter() - start
    record_property("seconds", round(seconds, 1))
    print(f"{path.name}: {seconds:.1f} s")
    failure = _failure(nb, path)
    if failure:
        pytest.fail(failure, pytrace=False)
    unrun = [i for i, c in enumerate(code_cells(nb)) if c.get("execution_count") is None]
    assert not unrun, f"{rel(path)}: code cells {unrun} did not run"
