"""The plotly charts: plain go.Figure objects (they render in JupyterLab and Colab without
anywidget) whose traces and hover texts carry the numbers they were given."""

import pytest
import torch

go = pytest.importorskip("plotly.graph_objects")

import loretta_explore as lx  # noqa: E402
from loretta_explore import sweeps  # noqa: E402
from loretta_explore.plots import interactive  # noqa: E402

ROWS = [
    dict(method="lora", trainable_params=74_498, test_accuracy=0.92),
    dict(
        method="loretta_rep",
        trainable_params=21_528,
        test_accuracy=0.908,
        options={"init": "compensated", "bottleneck": 16},
    ),
]


def test_reachable_from_lx_without_an_import():
    assert lx.plots.interactive.accuracy_vs_params is interactive.accuracy_vs_params


def test_accuracy_vs_params_hover_names_method_options_params_accuracy_source():
    fig = interactive.accuracy_vs_params(
        ROWS, options={"lora": {"r": 8}}, source="sentiment, 300 steps"
    )
    assert type(fig) is go.Figure  # not a FigureWidget: that needs anywidget
    paper = [t for t in fig.data if "paper" in t.name]
    assert [t.name for t in paper] == ["LoRETTA (paper)", "baselines (paper)"]
    assert sum(len(t.x) for t in paper) == 10
    lora = next(t for t in fig.data if t.name == "lora")
    rep = next(t for t in fig.data if t.name == "loretta_rep")
    assert list(lora.customdata[0]) == ["lora", "r=8", "74,498", "sentiment, 300 steps"]
    assert list(rep.customdata[0]) == [
        "loretta_rep",
        "init=compensated, bottleneck=16",
        "21,528",
        "sentiment, 300 steps",
    ]
    assert rep.y[0] == pytest.approx(90.8) and rep.x[0] == 21_528
    for word in ("options", "trainable", "accuracy", "source"):
        assert word in lora.hovertemplate
    assert fig.layout.xaxis2.type == "log" and fig.layout.xaxis.type == "log"
    assert fig.layout.font.size >= 12
    fig.to_json()  # serialisable, as the notebook renderers need


def test_trainable_surface_is_the_grid():
    adp = sweeps.trainable_grid(
        "llama-2-7b", "loretta_adp", tt_ranks=[2, 5, 8], bottlenecks=[16, 64]
    )
    rep = sweeps.trainable_grid(
        "llama-2-7b", "loretta_rep", tt_ranks=[2, 5, 8], bottlenecks=[16, 64]
    )
    fig = interactive.trainable_surface([adp, rep])
    surfaces = [t for t in fig.data if isinstance(t, go.Surface)]
    assert [t.name for t in surfaces] == [
        "loretta_adp",
        "loretta_rep",
        "lora (default)",
        "adapters (default)",
    ]
    assert [list(row) for row in surfaces[0].z] == adp.counts
    assert surfaces[2].z[0][0] == lx.count_trainable("llama-2-7b", "lora")
    assert surfaces[0].z[1][1] == 876_800  # tt_rank 5, bottleneck 64: the paper's 0.88M
    assert (
        "tt_rank %{y}, bottleneck %{x}" in surfaces[0].hovertemplate
        and "%{z:,} trainable" in surfaces[0].hovertemplate
    )
    assert fig.layout.scene.zaxis.type == "log"


def test_spectra_and_error_vs_rank_with_zoom_and_hover():
    x = torch.randn(6, 7, 8, dtype=torch.float64)
    tt = lx.tt_svd(x, max_rank=3)
    fig = interactive.spectra(tt)
    lines = [t for t in fig.data if t.showlegend is not False]
    assert len(lines) == 2 and list(lines[0].y) == pytest.approx(
        tt.info.singular_values[0].tolist()
    )
    assert fig.layout.yaxis.type == "log"
    assert [fig.data[i].marker.color for i in (1, 3)] == [fig.data[i].line.color for i in (0, 2)]
    named = sweeps.rank_sweeps({"x": x, "2x": 2 * x}, ranks=[1, 2, 3])
    fig = interactive.error_vs_rank(named)
    first = fig.data[0]
    assert list(first.x) == [1, 2, 3] and list(first.y) == pytest.approx(named["x"].rel_errors)
    assert [row[0] for row in first.customdata] == named["x"].params
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"


def test_layouts_hover_shows_the_rank():
    w = torch.randn(24, 32, dtype=torch.float64)
    result = sweeps.layout_sweep(w, ranks=[1, 2, 4], svd_ranks=[1, 8], label="W")
    fig = interactive.layouts(result)
    assert [t.name for t in fig.data] == ["flattened TT, W", "TT-matrix, W", "truncated SVD, W"]
    tt = fig.data[0]
    assert [row[0] for row in tt.customdata] == [1, 2, 4] and "max rank" in tt.hovertemplate
    assert "k (singular triplets)" in fig.data[2].hovertemplate
    assert fig.layout.xaxis.type == "log"
