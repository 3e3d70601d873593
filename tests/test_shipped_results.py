"""What the lessons quote ships inside the kit: lx.measured reads it, a wheel carries it (with the
exercise starters), and nothing in a lesson reads the repository's benchmarks/ folder."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import loretta_explore as lx

REPO = Path(__file__).resolve().parent.parent


def test_measured_reads_the_committed_compare_methods():
    saved = lx.measured("compare_methods")
    on_disk = json.loads((REPO / "data" / "results" / "compare_methods.json").read_text())
    assert saved == on_disk and "compare_methods" in lx.measured_names()
    # what lesson 07 reads from each row
    for row in saved["rows"]:
        assert {"method", "variant", "test_accuracy", "trainable_params", "seeds"} <= set(row)
        assert 0 <= row["test_accuracy"] <= 1 and row["seeds"] >= 3


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(FileNotFoundError, match="known: .*'compare_methods'"):
        lx.measured("compare-methods")
    with pytest.raises(TypeError, match="must be a string"):
        lx.measured(7)


def test_no_lesson_reads_the_benchmarks_folder():
    for path in sorted((REPO / "notebooks").rglob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                assert '"benchmarks"' not in source and "../benchmarks" not in source, path.name


@pytest.mark.slow
def test_the_wheel_ships_results_and_exercise_starters(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for result in (REPO / "data" / "results").glob("*.json"):
        assert f"loretta_explore/_data/results/{result.name}" in names
    for starter in (REPO / "notebooks" / "exercises").glob("*.ipynb"):
        assert f"loretta_explore/_exercises/{starter.name}" in names
    assert not any("solution" in n for n in names), "reference solutions must not ship"
