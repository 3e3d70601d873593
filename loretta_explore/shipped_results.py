"""The measurements the lessons quote, shipped inside the kit.

Lessons must not read ``../benchmarks/``: in Colab, or from an installed wheel, that folder is not
there. The benchmark scripts (``benchmarks/compare_methods.py``, ``benchmarks/claims.py``) write
their saved results to the repository's ``data/results/``, which the wheel carries as
``loretta_explore/_data/results/`` (pyproject's package-dir), so ``lx.measured("compare_methods")``
returns the same numbers wherever the kit is installed. The human-readable reports stay in
``benchmarks/*.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

from .data import data_dir

__all__ = ["measured", "measured_names"]


def _results_dir() -> Path:
    return data_dir() / "results"


def measured_names() -> list[str]:
    """The names :func:`measured` knows (one per committed results file)."""
    folder = _results_dir()
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def measured(name: str) -> dict:
    """The saved results of one benchmark, as the script wrote them (a dict from JSON).

    ``measured("compare_methods")["rows"]`` holds the chosen recipe per method on sentiment (mean
    test accuracy over seeds, trainable parameters, seconds per step, peak memory);
    ``["records"]`` every run. ``measured("claims")`` holds the paper's side claims.
    """
    if not isinstance(name, str):
        raise TypeError(f"measured(name): name must be a string, got {type(name).__name__}")
    path = _results_dir() / f"{name}.json"
    if not path.is_file():
        known = ", ".join(repr(n) for n in measured_names()) or "none"
        raise FileNotFoundError(
            f"No committed measurement named {name!r} (known: {known}); e.g. "
            f"lx.measured('compare_methods'). The scripts in the repository's benchmarks/ write them."
        )
    return json.loads(path.read_text(encoding="utf-8"))
