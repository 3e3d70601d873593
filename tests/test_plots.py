"""Figure builders: each returns a Figure whose artists say what was drawn, readable at notebook width.

Readable means: at most 8 in wide, every text (tick labels included) at 9 pt or more, a legend
entry for every kind of mark, labels that do not overprint. The data drawn is checked against
the result it came from (sweeps, counts, runs), which is itself checked against an independent
reference in tests/test_sweeps.py.
"""

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Circle, Rectangle  # noqa: E402

import loretta_explore as lx  # noqa: E402
from loretta_explore import plots, sweeps  # noqa: E402
from loretta_explore.budget import tt_params  # noqa: E402
from loretta_explore.rep_starts import StartResult, StartsComparison  # noqa: E402


def gid(ax, name):
    return [a for a in [*ax.lines, *ax.collections, *ax.patches, *ax.texts] if a.get_gid() == name]


def texts(ax):
    return [t.get_text() for t in ax.texts]


def assert_readable(fig: Figure, width: float = 8.0):
    """Fits a notebook at 100% zoom: <= `width` inches, no text under 9 pt."""
    assert fig.get_figwidth() <= width, f"figure is {fig.get_figwidth():.1f} in wide"
    assert plots.too_small(fig) == [], plots.too_small(fig)
    for (
        ax
    ) in fig.axes:  # no panel squeezed by a legend or a label (colour bars are narrow by design)
        if ax.get_label() != "<colorbar>" and ax.axison:
            box = ax.get_position()
            assert (
                box.width * fig.get_figwidth() > 1.5 and box.height * fig.get_figheight() > 1.0
            ), ax


def overlaps(artists) -> list[tuple[str, str]]:
    """Pairs of texts whose drawn boxes intersect (the figure must be drawn first)."""
    boxes = [(a.get_text(), a.get_window_extent()) for a in artists]
    return [
        (n1, n2) for i, (n1, b1) in enumerate(boxes) for n2, b2 in boxes[i + 1 :] if b1.overlaps(b2)
    ]


@pytest.fixture(autouse=True)
def no_leaked_figures():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before, "builders must release their figures from pyplot"


def test_the_readability_check_catches_small_text():
    fig, ax = plt.subplots(figsize=(4, 3))
    try:
        ax.set_title("tiny", fontsize=6)
        assert plots.too_small(fig) == ["'tiny' at 6.0 pt"]
    finally:
        plt.close(fig)


# -- tensor trains ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape", [(8, 12, 8, 8), (12, 8, 8, 8, 8, 12), (4, 6), (2, 2, 2, 2, 2, 2, 2, 2)]
)
def test_tt_diagram_draws_one_circle_and_leg_per_core(shape):
    fig = plots.tt_diagram(shape, 5)
    ax = fig.axes[0]
    d = len(shape)
    assert isinstance(fig, Figure)
    assert sum(isinstance(p, Circle) for p in ax.patches) == d
    assert len(gid(ax, "leg")) == d and len(gid(ax, "bond")) == d - 1
    assert [t for t in texts(ax) if t.startswith("$k_")] == [
        f"$k_{{{i + 1}}}$={k}" for i, k in enumerate(shape)
    ]
    assert f"{tt_params(shape, 5):,} parameters" in ax.get_title()
    assert_readable(fig)


def test_tt_diagram_marks_input_and_output_legs():
    """384 x 1536 folded as (12, 8, 8, 8, 8, 12): 12 * 8 = 96 input values, the third mode holds
    the last 384 / 96 = 4 input values and 2 output values, the rest is output."""
    ax = plots.tt_diagram((12, 8, 8, 8, 8, 12), 5, split=(384, 1536)).axes[0]
    legs = gid(ax, "leg")
    colors = [to_hex(line.get_color()) for line in legs]
    blue, green = to_hex(plots._style.INPUT), to_hex(plots._style.OUTPUT)
    assert colors == [blue, blue, blue, green, green, green]  # the mixed leg starts blue ...
    assert sum(to_hex(line.get_color()) == green for line in ax.lines) == 4  # ... and ends green
    assert any("4 in x 2 out" in t for t in texts(ax))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "input index (rows of W)",
        "output index (columns of W)",
    ]
    with pytest.raises(ValueError, match="multiply"):
        plots.tt_diagram((12, 8), 5, split=(384, 1536))


def test_tt_diagram_of_a_train_and_of_a_tt_matrix():
    tt = lx.tt_svd(torch.randn(4, 5, 6, dtype=torch.float64), max_rank=3)
    ax = plots.tt_diagram(tt).axes[0]
    assert texts(ax).count("3") == 2  # the two bonds carry the train's ranks [1, 3, 3, 1]
    assert f"{tt.num_params:,} parameters" in ax.get_title()
    ttm = lx.tt_matrix(torch.randn(16, 8), [4, 4], [4, 2], max_rank=2)
    ax = plots.tt_diagram(ttm).axes[0]
    assert len(gid(ax, "leg")) == 4  # an input and an output leg per core
    symbolic = plots.tt_diagram([3, 4, 5]).axes[0]
    assert "$r_{1}$" in texts(symbolic) and "parameters" not in symbolic.get_title()


def test_spectra_one_line_per_bond_and_the_cut_marked():
    x = torch.randn(6, 7, 8, 9, dtype=torch.float64)
    tt = lx.tt_svd(x, max_rank=4)
    fig = plots.spectra(tt)
    ax = fig.axes[0]
    assert len(ax.lines) == x.ndim - 1
    for line, s in zip(ax.lines, tt.info.singular_values):
        assert list(line.get_ydata()) == pytest.approx(s.tolist())
    cuts = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [int(c.get_offsets()[0][0]) for c in cuts] == tt.ranks[1:-1]
    assert ax.get_yscale() == "log"
    assert_readable(fig)
    # from the info alone, the kept ranks are recovered from the discarded norms
    labels = [t.get_text() for t in plots.spectra(tt.info).axes[0].get_legend().get_texts()]
    assert labels == [
        f"bond {k + 1}: keep {r} of {len(s)}"
        for k, (r, s) in enumerate(zip(tt.ranks[1:-1], tt.info.singular_values))
    ]
    with pytest.raises(ValueError, match="tt_svd"):
        plots.spectra(lx.TensorTrain([torch.randn(1, 3, 1)]))


def test_spectra_axes_can_be_fixed_and_the_limits_hold_every_rank():
    x = torch.randn(6, 7, 8, 9, dtype=torch.float64)
    xlim, ylim = plots.spectra_limits(lx.tt_svd(x, max_rank=1), lx.tt_svd(x, max_rank=16))
    for r in range(1, 17):
        info = lx.tt_svd(x, max_rank=r).info
        values = torch.cat([s for s in info.singular_values])
        assert ylim[0] < float(values.min()) and float(values.max()) < ylim[1]
        assert max(len(s) for s in info.singular_values) < xlim[1]
        ax = plots.spectra(lx.tt_svd(x, max_rank=r), xlim=xlim, ylim=ylim).axes[0]
        assert ax.get_xlim() == pytest.approx(xlim) and ax.get_ylim() == pytest.approx(ylim)


def test_spectra_panels_share_axes_and_one_legend():
    trains = {
        name: lx.tt_svd(torch.randn(8, 8, 8, dtype=torch.float64) * scale)
        for name, scale in (("a", 1.0), ("b", 10.0), ("c", 0.1))
    }
    fig = plots.spectra_panels(trains, cut=4)
    axes = fig.axes
    assert [ax.get_title(loc="left") for ax in axes] == ["a", "b", "c"]
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[2])
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["bond 1", "bond 2", "cut at rank 4"]
    assert_readable(fig)


def test_unfoldings_heatmaps_have_a_colour_bar_and_the_spectra():
    x = torch.arange(4 * 5 * 6, dtype=torch.float64).reshape(4, 5, 6)
    fig = plots.unfoldings(x)
    images = [im for ax in fig.axes for im in ax.images]
    assert len(images) == 2 and [im.get_array().shape for im in images] == [(4, 30), (20, 6)]
    bars = [ax for ax in fig.axes if ax.get_ylabel() == "entry value"]
    assert len(bars) == 1, "one colour bar, shared by the heatmaps (the same numbers)"
    spectrum = next(ax for ax in fig.axes if ax.get_yscale() == "log")
    assert len(spectrum.lines) == 2
    assert list(spectrum.lines[1].get_ydata())[:2] == pytest.approx(
        torch.linalg.svdvals(x.reshape(20, 6))[:2].tolist()
    )
    assert_readable(fig)


def test_error_vs_rank_draws_the_sweep_on_log_axes():
    w = torch.randn(24, 32, dtype=torch.float64)
    low_rank = torch.randn(24, 2, dtype=torch.float64) @ torch.randn(2, 32, dtype=torch.float64)
    named = sweeps.rank_sweeps({"random": w, "rank 2": low_rank}, ranks=[1, 2, 4], shape=(24, 32))
    fig = plots.error_vs_rank(named)
    left, right = fig.axes
    assert [line.get_label() for line in left.lines] == ["random", "rank 2"]
    assert list(left.lines[0].get_ydata()) == pytest.approx(named["random"].rel_errors)
    assert (
        max(list(left.lines[1].get_ydata())[1:]) < 1e-9
    )  # rank 2 is exact at rank 2 (drawn at the floor)
    assert left.get_yscale() == "log" and right.get_yscale() == "log"
    # same shape, same cost: one curve, named for both, and the dense line, in the legend
    assert [t.get_text() for t in right.get_legend().get_texts()] == [
        "all 2 (same shape, same cost)",
        "dense tensor: 768 entries",
    ]
    assert list(right.lines[0].get_ydata()) == named["random"].params
    assert_readable(fig)
    # errors within one decade: a linear axis, where their differences show
    close = sweeps.rank_sweeps(
        {"a": w, "b": w + 0.1 * torch.randn(24, 32, dtype=torch.float64)}, [1, 2, 4]
    )
    assert plots.error_vs_rank(close).axes[0].get_yscale() == "linear"


def test_error_vs_rank_of_tensors_still_works_with_a_warning():
    w = torch.randn(24, 32, dtype=torch.float64)
    with pytest.warns(DeprecationWarning, match="rank_sweep"):
        fig = plots.error_vs_rank({"w": w}, ranks=[1, 2], shape=(24, 32))
    assert list(fig.axes[0].lines[0].get_ydata()) == pytest.approx(
        sweeps.rank_sweep(w, [1, 2], (24, 32)).rel_errors
    )
    with pytest.warns(DeprecationWarning, match="lx.sweeps.rank_sweep"):
        rows = plots.rank_sweep(w, ranks=[1, 2])
    assert rows == sweeps.rank_sweep(w, [1, 2]).rows()


def test_layouts_fit_the_data_and_name_every_line():
    torch.manual_seed(0)
    w = torch.randn(24, 32, dtype=torch.float64)
    first = sweeps.layout_sweep(w, ranks=[1, 2, 4], svd_ranks=[1, 4, 8], label="W")
    second = sweeps.layout_sweep(
        w * 0.5 + torch.randn(24, 32, dtype=torch.float64),
        ranks=[1, 2, 4],
        svd_ranks=[1, 4, 8],
        label="noisy",
    )
    fig = plots.layouts([first, second])
    ax = fig.axes[0]
    errors = [p.rel_error for s in (first, second) for p in s.points]
    low, high = ax.get_ylim()
    assert (
        low <= min(errors)
        and max(errors) <= high
        and high - low < 1.2 * (max(errors) - min(errors)) + 0.05
    )
    assert len(ax.lines) == 3 * 2 + 1  # three layouts per weight and the dense line
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [
        "flattened TT",
        "TT-matrix",
        "truncated SVD",
        "W",
        "noisy",
        "dense W: 768 numbers",
    ]
    assert ax.get_xscale() == "log"
    assert_readable(fig)


# -- budgets ----------------------------------------------------------------------------------


def test_budget_bars_one_bar_per_method_and_paper_marks():
    rows = lx.budget_table("llama-2-7b")
    fig = plots.budget_bars(rows)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid() == "bar"]
    assert len(bars) == len(rows)
    assert sorted(b.get_width() for b in bars) == sorted(r["count"] for r in rows)
    (marks,) = gid(ax, "paper")
    assert len(marks.get_offsets()) == sum(1 for r in rows if r["paper"])
    assert ax.get_xscale() == "log" and "llama-2-7b" in ax.get_title()
    assert "4.19M" in texts(ax)
    assert_readable(fig)
    linear = plots.budget_bars(lx.budget_table("all-minilm-l6-v2"), log=False).axes[0]
    assert linear.get_xscale() == "linear" and not gid(linear, "paper")


def test_budget_bars_of_a_model_name_still_works_with_a_warning():
    with pytest.warns(DeprecationWarning, match="budget_table"):
        ax = plots.budget_bars("llama-2-7b").axes[0]
    assert "llama-2-7b" in ax.get_title()


def test_budget_overview_one_marker_per_model_and_method():
    counts = {
        m: {k: lx.count_trainable(m, k) for k in ("lora", "bitfit", "loretta_rep")}
        for m in ("llama-2-7b", "deberta-base")
    }
    fig = plots.budget_overview(counts)
    ax = fig.axes[0]
    llama, deberta = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sorted(llama.get_offsets()[:, 0]) == sorted(
        [counts["llama-2-7b"]["lora"], counts["llama-2-7b"]["loretta_rep"]]
    )  # BitFit 0: left out
    assert len(deberta.get_offsets()) == 3
    assert "bitfit on llama-2-7b" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["llama-2-7b", "deberta-base"]
    assert ax.get_xscale() == "log"
    assert_readable(fig)


# -- results ----------------------------------------------------------------------------------


def test_training_curves_loss_and_eval():
    history = [{"step": s, "loss": 1 / s} for s in range(1, 6)] + [
        {"step": 5, "eval_accuracy": 0.75}
    ]
    fig = plots.training_curves({"lora": history, "loretta_rep": history[:3]})
    left, right = fig.axes
    assert len(left.lines) == 2 and len(right.lines) == 2
    assert list(left.lines[0].get_ydata()) == pytest.approx([1, 0.5, 1 / 3, 0.25, 0.2])
    assert list(right.lines[0].get_ydata()) == [0.75] and len(right.lines[1].get_ydata()) == 0
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["lora", "loretta_rep"]
    assert_readable(fig)
    result = lx.TrainResult(history=history[:5])
    assert "no evaluation yet" in texts(plots.training_curves(result).axes[1])


ROWS = [
    dict(method="full", trainable_params=22_713_986, test_accuracy=0.93),
    dict(method="lora", trainable_params=74_498, test_accuracy=0.92),
    dict(method="adapters", trainable_params=72_578, test_accuracy=0.91),
    dict(method="bitfit", trainable_params=27_650, test_accuracy=0.856),
    dict(method="loretta_adp", trainable_params=24_118, test_accuracy=0.86),
    dict(method="loretta_rep", trainable_params=21_528, test_accuracy=0.908),
]


def test_accuracy_vs_params_paper_and_runs_in_two_panels():
    fig = plots.accuracy_vs_params(ROWS)
    top, bottom = fig.axes
    paper = gid(top, "paper")
    assert sum(len(p.get_offsets()) for p in paper) == len(plots.PAPER_GLUE_DEBERTA) == 10
    red = next(p for p in paper if p.get_label() == "LoRETTA (paper)")
    assert to_hex(red.get_facecolor()[0]) == to_hex("C3") and len(red.get_offsets()) == 2
    assert [t.get_text() for t in top.get_legend().get_texts()] == [
        "LoRETTA (paper)",
        "baselines (paper)",
    ]
    measured = gid(bottom, "measured")
    assert [m.get_offsets().ravel().tolist() for m in measured] == [
        pytest.approx([r["trainable_params"], 100 * r["test_accuracy"]]) for r in ROWS
    ]
    legend = [t.get_text() for t in bottom.get_legend().get_texts()]
    assert legend[1] == "lora: 74.5K, 92.0%" and len(legend) == len(ROWS)
    assert top.get_xscale() == "log" and bottom.get_xscale() == "log"
    fig.canvas.draw()
    assert overlaps(gid(top, "paper-label")) == [], "paper labels overprint"
    assert_readable(fig)


def test_accuracy_vs_params_alone_and_into_given_axes():
    only_paper = plots.accuracy_vs_params([]).axes
    assert len(only_paper) == 1 and gid(only_paper[0], "paper")
    mine = plots.accuracy_vs_params(ROWS[:2], paper=False).axes
    assert len(mine) == 1 and not gid(mine[0], "paper") and len(gid(mine[0], "measured")) == 2
    fig, ax = plt.subplots()
    try:
        assert plots.accuracy_vs_params(ROWS[:2], ax=ax) is fig
        assert gid(ax, "paper") and gid(ax, "measured")
    finally:
        plt.close(fig)


def test_init_comparison_plot_of_a_comparison_and_of_a_dict():
    history = [{"step": s, "loss": 1 / s} for s in range(1, 4)]
    comparison = StartsComparison(
        {
            name: StartResult(
                name, change, change, history, {}, 1 / 3, lx.TrainResult(history=history)
            )
            for name, change in (("paper", 0.2), ("compensated", 0.0), ("zero", 0.0))
        }
    )
    fig = plots.init_comparison_plot(comparison)
    left, right = fig.axes
    assert [p.get_height() for p in left.patches] == [0.2, 0.0, 0.0]
    assert [line.get_label() for line in right.lines] == ["paper", "compensated", "zero"]
    assert math.isclose(left.get_ylim()[1], 0.25)
    assert_readable(fig)
    old = {
        "paper": {"output_change": 0.2, "history": history},
        "zero": {"output_change": 0.0, "history": history},
    }
    assert [p.get_height() for p in plots.init_comparison_plot(old).axes[0].patches] == [0.2, 0.0]


def test_speed_memory_bars():
    rows = [
        dict(method=m, seconds_per_step=0.1 * (i + 1), peak_memory_mb=100.0 + i)
        for i, m in enumerate(["full", "lora", "loretta_rep"])
    ]
    fig = plots.speed_memory(rows)
    left, right = fig.axes
    assert [p.get_width() for p in left.patches] == pytest.approx([0.1, 0.2, 0.3])
    assert to_hex(right.patches[2].get_facecolor()) == to_hex("C3")
    assert_readable(fig)


def test_drawing_into_given_axes():
    fig, ax = plt.subplots()
    try:
        assert plots.tt_diagram([4, 4], 2, ax=ax) is fig
        assert plots.spectra(lx.tt_svd(torch.randn(4, 4, 4), max_rank=2), ax=ax) is fig
    finally:
        plt.close(fig)


def test_builders_do_not_change_global_style():
    before = dict(matplotlib.rcParams)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        plots.budget_bars(lx.budget_table("llama-2-7b"))
        plots.accuracy_vs_params(ROWS)
    assert dict(matplotlib.rcParams) == before
