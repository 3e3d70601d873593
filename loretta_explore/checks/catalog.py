"""The four exercises as plain data: notebook, function, check, section, forbidden names.

Light on purpose (no torch): the command line and the grader's parent process read it to find
submissions and scan their source without importing the checks themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COURSE", "Exercise", "exercise_named"]


@dataclass(frozen=True)
class Exercise:
    """One exercise of the course.

    Attributes
    ----------
    number : int
        1 to 4; a submission's file name says ``ex<number>``.
    stem : str
        The starter notebook's name without ``.ipynb`` (also the check's module).
    function : str
        The function the student writes.
    check : str
        The name of its check in :mod:`loretta_explore.checks`.
    section : str
        The anchor of docs/method.md that the exercise practises.
    static_forbidden : tuple of str
        Library names the grader refuses inside the student's functions (as an attribute,
        ``lx.tt_svd``, or an import, ``from loretta_explore import tt_svd``): the static half of
        the forbidden-call watch.
    """

    number: int
    stem: str
    function: str
    check: str
    section: str
    static_forbidden: tuple[str, ...]

    @property
    def notebook(self) -> str:
        return f"{self.stem}.ipynb"

    @property
    def solution(self) -> str:
        """The reference solution's file name (under instructor/solutions/ in the repository)."""
        return f"ex{self.number}_solution.py"


COURSE: tuple[Exercise, ...] = (
    Exercise(
        1,
        "ex1_tt_svd",
        "tt_svd",
        "check_tt_svd",
        "tt-format",
        ("tt_svd", "tt_round", "TensorTrain"),
    ),
    Exercise(
        2,
        "ex2_tt_linear_forward",
        "tt_linear_forward",
        "check_tt_linear_forward",
        "layouts",
        ("TTLinear", "TensorTrain", "dense_matrix", "tt_matrix", "TTMatrix"),
    ),
    Exercise(
        3,
        "ex3_budget_formula",
        "rep_budget",
        "check_budget_formula",
        "counting",
        ("count_trainable", "count_breakdown", "count_loretta", "budget_table", "model_spec"),
    ),
    Exercise(
        4,
        "ex4_rep_merge",
        "merge_rep",
        "check_rep_merge",
        "rep",
        ("merge", "get_delta_weight", "merge_and_unload", "unmerge"),
    ),
)


def exercise_named(name: str) -> Exercise:
    """The exercise for "ex1", "1", "ex1_tt_svd" or "tt_svd"."""
    key = str(name).strip().lower()
    for ex in COURSE:
        if key in (f"ex{ex.number}", str(ex.number), ex.stem, ex.function):
            return ex
    raise ValueError(
        f"unknown exercise {name!r}; expected one of "
        f"{', '.join(ex.stem for ex in COURSE)} (or ex1 ... ex4)"
    )
