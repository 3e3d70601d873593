"""lx.checks with hostile student functions.

Garbage, wrong types, raising, mutating the input, NaN, calling the library, never returning.
"""

from __future__ import annotations

import sys

import torch

import loretta_explore as lx

from .spec import Case, correct, either, error

GROUP = "CLI/widgets/checks"


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def cube(seed=0, n=8):
    return torch.randn(n, n, n, generator=torch.Generator().manual_seed(seed))


def checks():
    return lx.checks


def failed(*words):
    return correct(
        lambda r: (not r.passed) and all(w.lower() in str(r).lower() for w in words),
        f"a failed CheckResult{' mentioning ' + ', '.join(words) if words else ''}",
    )


def my_tt_svd(x, max_rank):
    """A correct student answer (TT-SVD, written out)."""
    shape, cores, rest, r_prev = x.shape, [], x, 1
    for k in range(x.ndim - 1):
        u, s, vh = torch.linalg.svd(rest.reshape(r_prev * shape[k], -1), full_matrices=False)
        r = min(max_rank, s.numel())
        cores.append(u[:, :r].reshape(r_prev, shape[k], r))
        rest, r_prev = s[:r, None] * vh[:r], r
    cores.append(rest.reshape(r_prev, shape[-1], 1))
    return cores


def mutating_tt_svd(x, max_rank):
    cores = my_tt_svd(x.clone(), max_rank)
    x.mul_(2)
    return cores


def nan_tt_svd(x, max_rank):
    return [torch.full_like(c, float("nan")) for c in my_tt_svd(x, max_rank)]


def forever(*args):
    while True:
        pass


def raises(*args):
    raise ValueError("student bug")


def exits(*args):
    sys.exit(3)


def library_tt_svd(x, max_rank):
    return lx.tt_svd(x, max_rank=max_rank).cores


def merge_in_place(layer):
    layer.merge()
    return layer.base.weight


def write_weight(layer):
    with torch.no_grad():
        layer.base.weight.add_(1.0)
    return layer.base.weight.detach().clone()


CASES = [
    # -- exercise checks with hostile student functions --------------------------------------------
    C(
        "check-svd-correct",
        "checks.check_tt_svd",
        lambda: checks().check_tt_svd(my_tt_svd),
        correct(lambda r: r.passed, "a passing CheckResult"),
    ),
    C(
        "check-svd-none",
        "checks.check_tt_svd",
        lambda: checks().check_tt_svd(lambda x, r: None),
        failed("list"),
    ),
    C(
        "check-svd-garbage",
        "checks.check_tt_svd",
        lambda: checks().check_tt_svd(lambda x, r: "garbage"),
        failed("str"),
    ),
    C(
        "check-svd-raises",
        "checks.check_tt_svd",
        lambda: checks().check_tt_svd(raises),
        failed("ValueError"),
    ),
    C(
        "check-svd-nan",
        "checks.check_tt_svd",
        lambda: checks().check_tt_svd(nan_tt_svd),
        failed("nan"),
    ),
    C(
        "check-svd-mutates",
        "checks.check_tt_svd",
        lambda: checks().check_tt_svd(mutating_tt_svd),
        failed("in place"),
    ),
    C(
        "check-svd-library",
        "checks.check_tt_svd",
        lambda: checks().check_tt_svd(library_tt_svd),
        failed("calls lx.tt_svd"),
    ),
    C(
        "check-svd-not-callable",
        "checks.check_tt_svd",
        lambda: checks().check_tt_svd(my_tt_svd(cube(), 2)),
        failed(),
    ),
    C(
        "check-svd-numpy-cores",
        "checks.check_tt_svd",
        lambda: checks().check_tt_svd(lambda x, r: [c.numpy() for c in my_tt_svd(x, r)]),
        correct(lambda r: r.passed, "numpy cores accepted"),
    ),
    C(
        "check-svd-exits",
        "checks.check_tt_svd",
        lambda: checks().check_tt_svd(exits),
        failed("exit"),
    ),
    C(
        "check-svd-forever",
        "checks.check_tt_svd",
        lambda: checks().check_tt_svd(forever, time_limit=1),
        either(error(TimeoutError, ["time"]), failed("time")),
        isolate=True,
    ),
    C(
        "check-svd-raise-on-fail",
        "checks.check_tt_svd",
        lambda: checks().check_tt_svd(lambda x, r: None, raise_on_fail=True),
        error(AssertionError, ["tt_svd"]),
    ),
    C(
        "check-forward-garbage",
        "checks.check_tt_linear_forward",
        lambda: checks().check_tt_linear_forward(lambda x, cores, i, o: "garbage"),
        failed("tensor"),
    ),
    C(
        "check-forward-identity",
        "checks.check_tt_linear_forward",
        lambda: checks().check_tt_linear_forward(lambda x, cores, i, o: x),
        failed("shape"),
    ),
    C(
        "check-forward-nan",
        "checks.check_tt_linear_forward",
        lambda: checks().check_tt_linear_forward(
            lambda x, cores, i, o: torch.full((*x.shape[:-1], o), float("nan"))
        ),
        failed(),
    ),
    C(
        "check-budget-string",
        "checks.check_budget_formula",
        lambda: checks().check_budget_formula(lambda m, r: "12"),
        failed(),
    ),
    C(
        "check-budget-nan",
        "checks.check_budget_formula",
        lambda: checks().check_budget_formula(lambda m, r: float("nan")),
        failed(),
    ),
    C(
        "check-budget-huge",
        "checks.check_budget_formula",
        lambda: checks().check_budget_formula(lambda m, r: 10**100),
        failed(),
    ),
    C(
        "check-budget-bool",
        "checks.check_budget_formula",
        lambda: checks().check_budget_formula(lambda m, r: True),
        failed(),
    ),
    C(
        "check-merge-unchanged",
        "checks.check_rep_merge",
        lambda: checks().check_rep_merge(lambda layer: layer.base.weight),
        failed("unchanged"),
    ),
    C(
        "check-merge-in-place",
        "checks.check_rep_merge",
        lambda: checks().check_rep_merge(merge_in_place),
        failed(),
    ),
    C(
        "check-merge-writes-weight",
        "checks.check_rep_merge",
        lambda: checks().check_rep_merge(write_weight),
        failed("in place"),
    ),
    C(
        "check-merge-nan",
        "checks.check_rep_merge",
        lambda: checks().check_rep_merge(
            lambda layer: torch.full_like(layer.base.weight, float("nan"))
        ),
        failed(),
    ),
]
