"""Figure builders: each returns a Figure whose artists say what was drawn."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Circle, Rectangle  # noqa: E402

import loretta_explore as lx  # noqa: E402
from loretta_explore import plots  # noqa: E402
from loretta_explore.budget import tt_params  # noqa: E402


def gid(ax, name):
    return [a for a in [*ax.lines, *ax.collections, *ax.patches] if a.get_gid() == name]


def texts(ax):
    return [t.get_text() for t in ax.texts]


@pytest.fixture(autouse=True)
def no_leaked_figures():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before, "builders must release their figures from pyplot"


@pytest.mark.parametrize("shape", [(8, 12, 8, 8), (12, 8, 8, 8, 8, 12), (4, 6)])
def test_tt_diagram_draws_one_circle_and_leg_per_core(shape):
    fig = plots.tt_diagram(shape, 5)
    ax = fig.axes[0]
    d = len(shape)
    assert isinstance(fig, Figure)
    assert sum(isinstance(p, Circle) for p in ax.patches) == d
    assert len(gid(ax, "leg")) == d and len(gid(ax, "bond")) == d - 1
    assert [t for t in texts(ax) if t.startswith("$k_")] == [f"$k_{{{i + 1}}}$={k}" for i, k in enumerate(shape)]
    assert f"{tt_params(shape, 5):,} parameters" in ax.get_title()


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
    ax = plots.spectra(tt).axes[0]
    assert len(ax.lines) == x.ndim - 1
    for line, s in zip(ax.lines, tt.info.singular_values):
        assert list(line.get_ydata()) == pytest.approx(s.tolist())
    cuts = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [int(c.get_offsets()[0][0]) for c in cuts] == tt.ranks[1:-1]
    assert ax.get_yscale() == "log"
    # from the info alone, the kept ranks are recovered from the discarded norms
    labels = [t.get_text() for t in plots.spectra(tt.info).axes[0].get_legend().get_texts()]
    assert labels == [f"bond {k + 1}: keep {r} of {len(s)}"
                      for k, (r, s) in enumerate(zip(tt.ranks[1:-1], tt.info.singular_values))]
    with pytest.raises(ValueError, match="tt_svd"):
        plots.spectra(lx.TensorTrain([torch.randn(1, 3, 1)]))


def test_rank_sweep_and_error_vs_rank_agree_with_tt_svd():
    w = torch.randn(24, 32, dtype=torch.float64)
    rows = plots.rank_sweep(w, ranks=[1, 2, 4])
    folded = w.reshape(lx.suggest_shape(24, 32))
    for row in rows:
        tt = lx.tt_svd(folded, max_rank=row["rank"])
        assert row["params"] == tt.num_params
        assert row["rel_error"] == pytest.approx(float((folded - tt.full()).norm() / folded.norm()))
        assert row["rel_error"] <= row["bound"] + 1e-9
    assert [r["rel_error"] for r in rows] == sorted((r["rel_error"] for r in rows), reverse=True)

    low_rank = torch.randn(24, 2, dtype=torch.float64) @ torch.randn(2, 32, dtype=torch.float64)
    fig = plots.error_vs_rank({"random": w, "rank 2": low_rank}, ranks=[1, 2, 4], shape=(24, 32))
    left, right = fig.axes
    assert [line.get_label() for line in left.lines] == ["random", "rank 2"]
    assert len(right.lines) == 3  # two curves and the dense line
    assert list(left.lines[1].get_ydata())[1:] == pytest.approx([0, 0], abs=1e-9)  # rank 2 is exact at rank 2
    assert right.get_yscale() == "log"


def test_budget_bars_one_bar_per_method_and_paper_marks():
    fig = plots.budget_bars("llama-2-7b")
    ax = fig.axes[0]
    rows = lx.budget_table("llama-2-7b")
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid() == "bar"]
    assert len(bars) == len(rows)
    assert sorted(b.get_width() for b in bars) == sorted(r["count"] for r in rows)
    (marks,) = gid(ax, "paper")
    assert len(marks.get_offsets()) == sum(1 for r in rows if r["paper"])
    assert ax.get_xscale() == "log" and "llama-2-7b" in ax.get_title()
    assert "4.19M" in [t.get_text() for t in ax.texts]
    linear = plots.budget_bars(lx.budget_table("all-minilm-l6-v2"), log=False).axes[0]
    assert linear.get_xscale() == "linear" and not gid(linear, "paper")


def test_training_curves_loss_and_eval():
    history = [{"step": s, "loss": 1 / s} for s in range(1, 6)] + [{"step": 5, "eval_accuracy": 0.75}]
    fig = plots.training_curves({"lora": history, "loretta_rep": history[:3]})
    left, right = fig.axes
    assert len(left.lines) == 2 and len(right.lines) == 2
    assert list(left.lines[0].get_ydata()) == pytest.approx([1, 0.5, 1 / 3, 0.25, 0.2])
    assert list(right.lines[0].get_ydata()) == [0.75] and len(right.lines[1].get_ydata()) == 0
    result = lx.TrainResult(history=history[:5])
    assert "no evaluation yet" in texts(plots.training_curves(result).axes[1])


def test_accuracy_vs_params_measured_and_paper_series():
    rows = [dict(method="lora", trainable_params=37_634, test_accuracy=0.81),
            dict(method="loretta_rep", trainable_params=16_176, test_accuracy=0.8)]
    ax = plots.accuracy_vs_params(rows).axes[0]
    (paper,) = gid(ax, "paper")
    (measured,) = gid(ax, "measured")
    assert len(paper.get_offsets()) == len(plots.PAPER_GLUE_DEBERTA) == 10
    assert measured.get_offsets().ravel().tolist() == pytest.approx([37_634, 81.0, 16_176, 80.0])
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "DeBERTa-base" in legend and "other model" in legend
    assert ax.get_xscale() == "log"
    assert not gid(plots.accuracy_vs_params(rows, paper=False).axes[0], "paper")


def test_init_comparison_plot():
    history = [{"step": s, "loss": 1 / s} for s in range(1, 4)]
    results = {"paper": {"output_change": 0.2, "history": history},
               "compensated": {"output_change": 0.0, "history": history},
               "zero": {"output_change": 0.0, "result": lx.TrainResult(history=history)}}
    left, right = plots.init_comparison_plot(results).axes
    assert [p.get_height() for p in left.patches] == [0.2, 0.0, 0.0]
    assert [line.get_label() for line in right.lines] == ["paper", "compensated", "zero"]
    assert math.isclose(left.get_ylim()[1], 0.25)


def test_drawing_into_given_axes():
    fig, ax = plt.subplots()
    try:
        assert plots.tt_diagram([4, 4], 2, ax=ax) is fig
        assert plots.spectra(lx.tt_svd(torch.randn(4, 4, 4), max_rank=2), ax=ax) is fig
    finally:
        plt.close(fig)
