"""The code stays formatted and lint-free: `make lint`, run inside `make test` so CI enforces it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _lint_paths() -> list[str]:
    """The Makefile's LINT_PATHS: one list for `make lint` and this test."""
    match = re.search(r"^LINT_PATHS := (.+)$", (REPO / "Makefile").read_text(), re.M)
    assert match, "the Makefile defines LINT_PATHS"
    return match.group(1).split()


def _ruff() -> list[str]:
    exe = Path(sys.executable).with_name("ruff")
    if exe.is_file():
        return [str(exe)]
    if shutil.which("ruff"):
        return ["ruff"]
    pytest.skip("ruff is not installed (it comes with the dev extra: pip install -e '.[dev]')")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*_ruff(), *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_ruff_rules_pass():
    out = _run("check", "--output-format", "concise", *_lint_paths(), "notebooks", "instructor")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_is_applied():
    out = _run("format", "--check", *_lint_paths())
    assert out.returncode == 0, (
        "run `ruff format " + " ".join(_lint_paths()) + "`:\n" + out.stdout + out.stderr
    )
