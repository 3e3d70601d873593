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


def png(ui) -> str:
    (shown,) = ui.output.outputs
    return shown["data"]["image/png"]


def numbers(text: str) -> list[float]:
    plain = re.sub(r"<[^>]+>", " ", text).replace(",", "")
    return [float(n) for n in re.findall(r"\d+\.?\d*(?:e[-+]\d+)?", plain)]


def first_slider(ui):
    """The first slider on the page, as the browser test finds it."""
    return next(c for c in ui.children if isinstance(c, (ipywidgets.IntSlider, ipywidgets.FloatSlider)))


def tiny_encoder():
    """A one-layer BERT with the byte tokenizer: same modules as the bundled encoder, trains in ms."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=300, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=300, num_labels=2)
    return BertForSequenceClassification(config), lx.models.byte_tokenizer()


def test_every_ui_is_an_explorer_with_the_documented_handles():
    ui = W.rank_explorer(torch.randn(4, 4, 4))
    assert isinstance(ui, ipywidgets.VBox) and isinstance(ui, W.Explorer)
    assert isinstance(ui.readout, ipywidgets.HTML) and isinstance(ui.output, ipywidgets.Output)
    assert set(ui.controls) == {"rank", "budget"} and ui.state["error"] is None and callable(ui.update)


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
    assert 1 < len(options) <= 30 and all(len(s) == 3 and math.prod(s) == 384 * 1536 for s in options)
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
    with pytest.raises(ValueError, match=r"\(in, out\)"):
        W.shape_explorer(24, 32, weight=w.T)


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
    assert after["loretta_rep"] == lx.count_trainable("llama-2-7b", "loretta_rep", tt_rank=8) == 507_904
    assert after["loretta_adp"] == lx.count_trainable("llama-2-7b", "loretta_adp", tt_rank=8)
    assert after["lora"] == before["lora"] and after["full"] == before["full"]
    assert "507,904" in ui.readout.value and ui.readout.value != table and png(ui) != figure
    assert 507_904.0 in numbers(ui.readout.value)
    ui.controls["lora_rank"].value = 16
    assert ui.state["counts"]["lora"] == lx.count_trainable("llama-2-7b", "lora", r=16)
    assert ui.state["counts"]["loretta_rep"] == 507_904
    ui.controls["model"].value = "deberta-base"
    assert ui.state["counts"]["loretta_rep"] == lx.count_trainable("deberta-base", "loretta_rep", tt_rank=8)
    assert ui.state["seconds"] < 2.0  # analytic (the rendering is timed by people, not here)


def test_training_dashboard_run_fills_history_figure_and_summary():
    model, tokenizer = tiny_encoder()
    model = lx.get_loretta_model(model, lx.LorettaConfig(method="rep", head="dense", train_classifier=True))
    task = lx.load_task("sentiment").head(16)
    ui = W.training_dashboard(model, task, tokenizer, max_steps=3, max_eval_examples=8, batch_size=8)
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
    ui = W.init_comparison(model_factory=tiny_encoder, max_steps=2, train_examples=16, max_eval_examples=8)
    assert ui.state["results"] == {} and "press Run" in ui.readout.value
    results = ui.run()
    assert list(results) == ["paper", "compensated", "zero"]
    assert results["paper"]["output_change"] > 1e-3
    assert results["compensated"]["output_change"] < 1e-5 and results["zero"]["output_change"] < 1e-6
    assert all(len([r for r in v["history"] if "loss" in r]) == 2 for v in results.values())
    assert ui.state["results"].keys() == results.keys() and png(ui)


def test_nothing_below_imports_plots_or_widgets():
    package = Path(W.__file__).parent
    for path in package.glob("*.py"):
        if path.name in ("widgets.py", "plots.py", "__main__.py"):
            continue
        source = path.read_text()
        assert not re.search(r"^\s*(from \.(widgets|plots)|from \. import .*(widgets|plots))", source, re.M), path
    assert "widgets" not in re.findall(r"^from \.(\w+)", (package / "plots.py").read_text(), re.M)
