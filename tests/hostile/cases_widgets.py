"""lx.widgets at their extremes: slider values set programmatically, then ui.update()."""

from __future__ import annotations

import torch

from .spec import Case, correct, either, error
from .tools import widgets

GROUP = "CLI/widgets/checks"


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def slide(make, **values):
    """Build a UI, set its controls (as a person would: each change recomputes the page through the
    control's observer, so no extra ui.update() is needed), and return its state."""

    def run():
        ui = make()
        for name, value in values.items():
            ui.controls[name].value = value
        if not values:
            ui.update()
        return dict(ui.state, _controls={n: c.value for n, c in ui.controls.items()})

    return run


def ok_state(extra=lambda s: True, what="no error in the page"):
    return correct(lambda s: s.get("error") is None and extra(s), what)


def cube(seed=0, n=8):
    return torch.randn(n, n, n, generator=torch.Generator().manual_seed(seed))


def rank_ui(x=None, **k):
    return lambda: widgets().rank_explorer(cube() if x is None else x, **k)


def shape_ui(*a, **k):
    return lambda: widgets().shape_explorer(*a, **k)


def budget_ui(**k):
    return lambda: widgets().budget_explorer(**k)


def page_says(*words):
    return correct(
        lambda s: (
            s.get("error") is not None and all(w.lower() in s["error"].lower() for w in words)
        ),
        f"the page names the problem ({', '.join(words)})",
    )


CASES = [
    # -- widgets at their extremes -----------------------------------------------------------------
    C(
        "rank-ui-max-rank",
        "widgets.rank_explorer",
        slide(rank_ui(), rank=64),
        ok_state(lambda s: s["rel_error"] < 1e-9, "exact at the top rank"),
    ),
    C(
        "rank-ui-rank-beyond",
        "widgets.rank_explorer",
        slide(rank_ui(), rank=10**6),
        ok_state(lambda s: s["rank"] <= 64 and s["rel_error"] < 1e-9, "clamped to the top, exact"),
    ),
    C(
        "rank-ui-rank-negative",
        "widgets.rank_explorer",
        slide(rank_ui(), rank=-5),
        ok_state(lambda s: s["rank"] == 1, "clamped to rank 1"),
    ),
    C(
        "rank-ui-budget-min",
        "widgets.rank_explorer",
        slide(rank_ui(), budget=0.01),
        ok_state(lambda s: s["params"] > 0, "a rank-1 train"),
    ),
    C(
        "rank-ui-budget-full",
        "widgets.rank_explorer",
        slide(rank_ui(), budget=1.0),
        ok_state(lambda s: s["rel_error"] < 0.5, "a good approximation"),
    ),
    C(
        "rank-ui-zeros",
        "widgets.rank_explorer",
        slide(rank_ui(torch.zeros(4, 4, 4)), rank=2),
        ok_state(lambda s: s["rel_error"] == 0, "zero error for the zero tensor"),
    ),
    C(
        "rank-ui-int-tensor",
        "widgets.rank_explorer",
        slide(rank_ui(torch.arange(64).reshape(4, 4, 4)), rank=4),
        ok_state(lambda s: s["rel_error"] < 1e-9, "exact"),
    ),
    C(
        "rank-ui-nan",
        "widgets.rank_explorer",
        slide(rank_ui(torch.full((4, 4, 4), float("nan")))),
        either(error(ValueError, ["nan"]), page_says("nan")),
    ),
    C(
        "rank-ui-vector",
        "widgets.rank_explorer",
        rank_ui(torch.randn(5)),
        error(ValueError, ["modes"]),
    ),
    C(
        "rank-ui-bad-shape",
        "widgets.rank_explorer",
        rank_ui(torch.randn(8, 8), shape=[3, 3]),
        error(ValueError, ["shape"]),
    ),
    C(
        "rank-ui-too-big",
        "widgets.rank_explorer",
        rank_ui(torch.empty(2048, 4096)),
        error(ValueError, ["entries"]),
    ),
    C(
        "rank-ui-max-rank-zero",
        "widgets.rank_explorer",
        rank_ui(max_rank=0),
        error(ValueError, ["max_rank", "0"]),
    ),
    C("shape-ui-primes", "widgets.shape_explorer", slide(shape_ui(7, 13)), ok_state()),
    C(
        "shape-ui-one-by-one",
        "widgets.shape_explorer",
        slide(shape_ui(1, 1)),
        either(error(ValueError, ["1"]), ok_state()),
    ),
    C(
        "shape-ui-top-order",
        "widgets.shape_explorer",
        slide(shape_ui(768, 64), order=8),
        ok_state(lambda s: s["order"] == 8, "an 8-mode shape"),
    ),
    C(
        "shape-ui-ttm-top-order",
        "widgets.shape_explorer",
        slide(shape_ui(768, 64), layout="ttm", order=8),
        ok_state(lambda s: s["layout"] == "ttm", "a TT-matrix shape"),
    ),
    C(
        "shape-ui-weight-top-rank",
        "widgets.shape_explorer",
        slide(shape_ui(24, 32, weight=torch.randn(24, 32)), rank=16),
        ok_state(lambda s: s["rel_error"] < 1, "an error below 1"),
    ),
    C(
        "shape-ui-zero",
        "widgets.shape_explorer",
        shape_ui(0, 64),
        error(ValueError, ["in_features", "0"]),
    ),
    C(
        "shape-ui-weight-transposed",
        "widgets.shape_explorer",
        # the explorer still explores shapes; the readout says why the weight was left out
        slide(shape_ui(768, 64, weight=torch.randn(64, 768))),
        either(error(ValueError, ["768", "64"]), page_says("(768, 64)", "got (64, 768)")),
    ),
    C(
        "shape-ui-4096-square",
        "widgets.shape_explorer",
        slide(shape_ui(4096, 4096)),
        ok_state(),
        isolate=True,
    ),
    # one slider per case: each move recounts every method (a second or two on a busy machine)
    *[
        C(
            f"budget-ui-{name.replace('_', '-')}-{value}",
            "widgets.budget_explorer",
            slide(budget_ui(), **{name: value}),
            ok_state(
                lambda s: all(v >= 0 for v in s["counts"].values()), "counts for every method"
            ),
        )
        for name, value in (
            ("tt_rank", 16),
            ("tt_rank", 1),
            ("bottleneck", 128),
            ("bottleneck", 4),
            ("lora_rank", 64),
            ("lora_rank", 1),
        )
    ],
    *[
        C(
            f"budget-ui-model-{m}",
            "widgets.budget_explorer",
            slide(budget_ui(), model=m),
            ok_state(lambda s: s["counts"]["lora"] > 0, "counts for every method"),
        )
        for m in ("roberta-base", "llama-2-70b", "bert-base-uncased")
    ],
    C(
        "budget-ui-unknown-model",
        "widgets.budget_explorer",
        budget_ui(model="gpt-5"),
        error(ValueError, ["gpt-5"]),
    ),
    C(
        "budget-ui-rank-zero",
        "widgets.budget_explorer",
        budget_ui(tt_rank=0),
        error(ValueError, ["tt_rank", "0"]),
    ),
]
