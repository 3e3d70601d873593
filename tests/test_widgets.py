"""The notebook UIs, driven the way a person would: set a control, read the numbers, see the figure.

Each readout is checked against an independent computation (tt_svd, tt_params, count_trainable),
and each move must change the PNG in the Output widget.
"""

import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import loretta_explore as lx  # noqa: E402
from loretta_explore import widgets as W  # noqa: E402
from loretta_explore.budget import tt_params  # noqa: E402
from loretta_explore.rep_starts import StartsComparison  # noqa: E402


def png(ui) -> str:
    (shown,) = ui.output.outputs
    return shown["data"]["image/png"]


def numbers(text: str) -> list[float]:
    plain = re.sub(r"<[^>]+>", " ", text).replace(",", "")
    return [float(n) for n in re.findall(r"\d+\.?\d*(?:e[-+]\d+)?", plain)]


def first_slider(ui):
    """The first slider on the page, as the browser test finds it."""
    return next(
        c for c in ui.children if isinstance(c, (ipywidgets.IntSlider, ipywidgets.FloatSlider))
    )


def tiny_encoder():
    """A one-layer BERT with the byte tokenizer: same modules as the bundled encoder, trains in ms."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=300,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=300,
        num_labels=2,
    )
    return BertForSequenceClassification(config), lx.models.byte_tokenizer()


def test_every_ui_is_an_explorer_with_the_documented_handles():
    ui = W.rank_explorer(torch.randn(4, 4, 4))
    assert isinstance(ui, ipywidgets.VBox) and isinstance(ui, W.Explorer)
    assert isinstance(ui.readout, ipywidgets.HTML) and isinstance(ui.output, ipywidgets.Output)
    assert (
        set(ui.controls) == {"rank", "budget"} and ui.state["error"] is None and callable(ui.update)
    )


def test_shape_explorer_readout_follows_rank_and_shape():
    ui = W.shape_explorer(384, 1536)
    c = ui.controls
    assert list(c) == ["order", "shape", "rank", "layout"]
    assert c["shape"].value == lx.suggest_shape(384, 1536) and "(suggested)" in c["shape"].label
    first = png(ui)
    c["rank"].value = 3
    assert ui.state["tt_params"] == tt_params(c["shape"].value, 3)
    assert f"{tt_params(c['shape'].value, 3):,}" in ui.readout.value
    assert png(ui) != first
    c["order"].value = 3
    options = [s for _, s in c["shape"].options]
    assert 1 < len(options) <= 30 and all(
        len(s) == 3 and math.prod(s) == 384 * 1536 for s in options
    )
    assert ui.state["shape"] == lx.suggest_shape(384, 1536, order=3)
    assert ui.state["compression"] == pytest.approx(384 * 1536 / tt_params(ui.state["shape"], 3))
    c["layout"].value = "ttm"
    for in_modes, out_modes in (s for _, s in c["shape"].options):
        assert math.prod(in_modes) == 384 and math.prod(out_modes) == 1536 and len(in_modes) == 3
    in_modes, out_modes = ui.state["shape"]
    assert ui.state["tt_params"] == tt_params([m * n for m, n in zip(in_modes, out_modes)], 3)
    assert W.shape_candidates(768, 64, 5)[1] == ("8×8×12×8×8  (paper)", (8, 8, 12, 8, 8))


def test_shape_explorer_error_of_a_weight_matches_tt_svd():
    w = torch.randn(24, 32, dtype=torch.float64)
    ui = W.shape_explorer(24, 32, weight=w, max_rank=8)
    ui.controls["rank"].value = 2
    shape = ui.controls["shape"].value
    tt = lx.tt_svd(w.reshape(shape), max_rank=2)
    expected = float((w.reshape(shape) - tt.full()).norm() / w.norm())
    assert ui.state["rel_error"] == pytest.approx(expected) and ui.state["svd_ranks"] == tt.ranks
    assert f"{expected:.4f}" in ui.readout.value
    ui.controls["layout"].value = "ttm"
    in_modes, out_modes = ui.state["shape"]
    ttm = lx.tt_matrix(w, in_modes, out_modes, max_rank=2)
    assert ui.state["rel_error"] == pytest.approx(float((w - ttm.full()).norm() / w.norm()))


@pytest.mark.parametrize(
    "weight, words",
    [
        (torch.randn(32, 24), ["(in, out) = (24, 32)", "got (32, 24)", "linear.weight.T"]),
        (torch.full((24, 32), float("nan")), ["NaN"]),
    ],
)
def test_shape_explorer_says_why_a_weight_is_left_out(weight, words):
    ui = W.shape_explorer(24, 32, weight=weight)
    assert all(w in ui.state["error"] for w in words) and all(
        w in ui.readout.value for w in words[:1]
    )
    assert ui.state["rel_error"] is None and png(
        ui
    )  # the shapes still work, without the error column
    ui.controls["rank"].value = 4
    assert (
        ui.state["tt_params"] == tt_params(ui.controls["shape"].value, 4)
        and words[0] in ui.state["error"]
    )


def test_shape_explorer_counts_capped_ranks_once():
    """A bond cannot exceed its unfolding: at rank 16 the 24 x 32 weight's end bonds are capped,
    and the one count shown is what TT-SVD of a full-rank weight gives."""
    w = torch.randn(24, 32, dtype=torch.float64)
    ui = W.shape_explorer(24, 32, weight=w, max_rank=16)
    ui.controls["rank"].value = 16
    shape = ui.controls["shape"].value
    tt = lx.tt_svd(w.reshape(shape), max_rank=16)
    assert ui.state["ranks"] == tt.ranks and ui.state["tt_params"] == tt.num_params
    assert "capped" in ui.readout.value and "TT-SVD kept" not in ui.readout.value
    assert W.capped_ranks([4, 6, 8], 100) == [1, 4, 8, 1]


def test_explorers_at_their_extremes():
    """Largest and smallest slider values give numbers, never an error or a hang."""
    ui = W.shape_explorer(768, 64, weight=torch.randn(768, 64))
    for name, value in (("order", 8), ("rank", 16), ("layout", "ttm"), ("order", 2), ("rank", 1)):
        ui.controls[name].value = value
        assert ui.state["error"] is None, (name, value, ui.state["error"])
    assert (
        ui.state["order"] == 2 and ui.state["layout"] == "ttm" and 0 <= ui.state["rel_error"] <= 1
    )
    x = torch.randn(8, 8, 8, dtype=torch.float64)
    ui = W.rank_explorer(x, max_rank=64)
    for name, value in (("rank", 10**6), ("rank", -5), ("budget", 1.0), ("budget", 0.01)):
        ui.controls[name].value = value
        assert ui.state["error"] is None
    ui.controls["rank"].value = ui.controls["rank"].max
    assert (
        ui.controls["rank"].max == 8 and ui.state["rel_error"] < 1e-9
    )  # 8 x 8 x 8: exact at rank 8
    ui = W.budget_explorer("llama-2-70b")
    for name in ("tt_rank", "bottleneck", "lora_rank"):
        for value in (ui.controls[name].max, ui.controls[name].min):
            ui.controls[name].value = value
            assert ui.state["error"] is None and min(ui.state["counts"].values()) >= 0


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: W.shape_explorer(0, 64), ["in_features", "0"]),
        (lambda: W.shape_explorer(1, 1), ["1 x 1"]),
        (lambda: W.rank_explorer(torch.randn(4, 4, 4), max_rank=0), ["max_rank", "0"]),
        (lambda: W.rank_explorer(torch.full((4, 4, 4), float("nan"))), ["NaN"]),
        (lambda: W.rank_explorer(torch.randn(8, 8), shape=[3, 3]), ["shape"]),
        (lambda: W.budget_explorer("gpt-5"), ["gpt-5", "llama-2-7b"]),
        (lambda: W.budget_explorer(tt_rank=0), ["tt_rank", "0"]),
    ],
)
def test_settings_that_cannot_work_say_why(call, words):
    with pytest.raises(ValueError) as err:
        call()
    assert all(w in str(err.value) for w in words), str(err.value)


def test_rank_explorer_axes_stay_put_while_the_slider_moves():
    x = torch.randn(6, 7, 8, 5, dtype=torch.float64)
    ui = W.rank_explorer(x, max_rank=32)
    limits = []
    for r in (1, 2, 5, 12, 32):
        ui.controls["rank"].value = r
        ax = ui.figure.axes[0]
        limits.append((ax.get_xlim(), ax.get_ylim()))
    assert all(lim == limits[0] for lim in limits), limits


def test_zero_tensor_gives_zero_error_without_a_figure():
    ui = W.rank_explorer(torch.zeros(4, 4, 4), rank=2)
    assert ui.state["error"] is None and ui.state["rel_error"] == 0 and "zero" in ui.readout.value


def test_rank_explorer_rank_is_the_first_slider_and_drives_text_and_figure():
    x = torch.randn(6, 7, 8, 5, dtype=torch.float64)
    ui = W.rank_explorer(x, max_rank=32)
    assert first_slider(ui) is ui.controls["rank"]
    assert ui.controls["rank"].max == 32  # max_rank; the largest bond allows min(6*7, 8*5) = 40
    assert W.rank_explorer(x, max_rank=64).controls["rank"].max == 40
    text, figure = ui.readout.value, png(ui)
    ui.controls["rank"].value = 5
    tt = lx.tt_svd(x, max_rank=5)
    error = float((x - tt.full()).norm() / x.norm())
    assert ui.readout.value != text and png(ui) != figure
    assert ui.state["ranks"] == tt.ranks and ui.state["params"] == tt.num_params
    assert ui.state["rel_error"] == pytest.approx(error) and f"{error:.4f}" in ui.readout.value
    assert ui.state["error_bound"] == pytest.approx(tt.info.relative_error_bound)
    assert ui.controls["budget"].value == pytest.approx(round(tt.num_params / x.numel(), 2))


def test_rank_explorer_budget_slider_sets_the_rank():
    x = torch.randn(8, 8, 8, dtype=torch.float64)
    ui = W.rank_explorer(x)
    ui.controls["budget"].value = 0.25
    tt = lx.tt_svd(x, max_rank=0.25)
    assert ui.state["by"] == "budget" and ui.state["ranks"] == tt.ranks
    assert ui.state["params"] <= 0.25 * x.numel()
    assert ui.controls["rank"].value == max(tt.ranks)
    with pytest.raises(ValueError, match="at most"):
        W.rank_explorer(torch.zeros(2**23))


def test_budget_explorer_tt_rank_moves_loretta_not_lora():
    ui = W.budget_explorer("llama-2-7b")
    assert first_slider(ui) is ui.controls["tt_rank"]
    before, figure, table = dict(ui.state["counts"]), png(ui), ui.readout.value
    assert before["loretta_adp"] == 876_800  # the paper's 0.88M at r = 5
    ui.controls["tt_rank"].value = 8
    after = ui.state["counts"]
    assert (
        after["loretta_rep"]
        == lx.count_trainable("llama-2-7b", "loretta_rep", tt_rank=8)
        == 507_904
    )
    assert after["loretta_adp"] == lx.count_trainable("llama-2-7b", "loretta_adp", tt_rank=8)
    assert after["lora"] == before["lora"] and after["full"] == before["full"]
    assert "507,904" in ui.readout.value and ui.readout.value != table and png(ui) != figure
    assert 507_904.0 in numbers(ui.readout.value)
    ui.controls["lora_rank"].value = 16
    assert ui.state["counts"]["lora"] == lx.count_trainable("llama-2-7b", "lora", r=16)
    assert ui.state["counts"]["loretta_rep"] == 507_904
    ui.controls["model"].value = "deberta-base"
    assert ui.state["counts"]["loretta_rep"] == lx.count_trainable(
        "deberta-base", "loretta_rep", tt_rank=8
    )
    assert ui.state["seconds"] < 2.0  # analytic (the rendering is timed by people, not here)


def test_training_dashboard_run_fills_history_figure_and_summary():
    model, tokenizer = tiny_encoder()
    model = lx.get_loretta_model(
        model, lx.LorettaConfig(method="rep", head="dense", train_classifier=True)
    )
    task = lx.load_task("sentiment").head(16)
    ui = W.training_dashboard(
        model, task, tokenizer, max_steps=3, max_eval_examples=8, batch_size=8
    )
    empty = png(ui)
    result = ui.run()
    assert isinstance(result, lx.TrainResult) and ui.result is result and result.steps == 3
    losses = [r for r in ui.state["history"] if "loss" in r]
    assert [r["step"] for r in losses] == [1, 2, 3]
    assert any("eval_accuracy" in r for r in ui.state["history"])
    assert png(ui) != empty and "done: 3 steps" in ui.readout.value
    assert "test" in ui.summary.value and f"{model.num_trainable():,}" in ui.summary.value
    assert "tt core" in ui.summary.value

    ui.start()  # Start trains in a thread; Stop makes the next callback end the run early
    ui.stop()
    ui.thread.join(timeout=60)
    assert ui.result.interrupted and ui.result.steps < 3 and "stopped" in ui.readout.value


def test_init_comparison_compensated_and_zero_start_at_the_pretrained_function():
    ui = W.init_comparison(
        model_factory=tiny_encoder, max_steps=2, train_examples=16, max_eval_examples=8
    )
    assert ui.state["results"] == {} and "press Run" in ui.readout.value
    results = ui.run()
    assert isinstance(results, StartsComparison) and list(results) == [
        "paper",
        "compensated",
        "zero",
    ]
    assert results["paper"].output_change > 1e-3
    assert results["compensated"].output_change < 1e-5 and results["zero"].output_change < 1e-6
    assert (
        results["paper"]["output_change"] == results["paper"].output_change
    )  # the old dict form reads too
    assert all(len([r for r in v.history if "loss" in r]) == 2 for v in results.values())
    assert results.settings["max_steps"] == 2 and results.metric == "accuracy"
    assert [row["init"] for row in results.rows()] == ["paper", "compensated", "zero"]
    assert ui.state["results"] is results and png(ui)
    assert f"{results['paper'].output_change:.3e}" in ui.readout.value


def test_nothing_below_imports_plots_or_widgets():
    package = Path(lx.__file__).parent
    drawing = {"plots", "widgets", "diagrams", "__main__.py"}
    checked = 0
    for path in package.rglob("*.py"):
        if drawing & {path.relative_to(package).parts[0]}:
            continue
        checked += 1
        source = path.read_text()
        assert not re.search(
            r"^\s*from \.+(widgets|plots|diagrams)\b|^\s*from \.+ import .*\b(widgets|plots)\b",
            source,
            re.M,
        ), path
    assert checked > 20
    for path in (package / "plots").glob("*.py"):
        assert not re.search(r"^\s*from \.+widgets", path.read_text(), re.M), path
