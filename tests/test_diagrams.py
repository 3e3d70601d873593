"""The drawn diagrams follow the kit's records: every adapter and every rep target of an
architecture is drawn where its pattern matches, and a config with other targets moves them."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

import loretta_explore as lx  # noqa: E402
from loretta_explore import diagrams, plots  # noqa: E402
from loretta_explore.architectures import ARCHITECTURES, architecture  # noqa: E402
from loretta_explore.methods import matches_name  # noqa: E402


def boxes(ax, gid):
    return [p for p in ax.patches if p.get_gid() == gid]


def expected(family: str, patterns, linear_only: bool = False) -> int:
    """How many modules of the family's block template the patterns match (the adaptation's rule)."""
    prefix, rows, _ = diagrams.BLOCKS[family]
    return sum(
        1
        for row in rows
        for n in row
        if n.module
        and (n.kind == "linear" or not linear_only)
        and any(matches_name(f"{prefix}.{n.module}", p) for p in patterns)
    )


def test_every_family_has_a_block():
    assert {a.family for a in ARCHITECTURES.values()} <= set(diagrams.BLOCKS)


@pytest.mark.parametrize("family", sorted({a.family for a in ARCHITECTURES.values()}))
def test_block_diagram_marks_what_the_record_says(family):
    arch = architecture(family)
    fig = plots.block_diagram(family)
    adp_ax, rep_ax = fig.axes
    n_adp = expected(family, arch.adp)
    assert n_adp == len(arch.adp), (
        f"every adp pattern of {family} matches one module of the drawing"
    )
    assert len(boxes(adp_ax, "adapter")) == n_adp and not boxes(adp_ax, "rep")
    rep_targets = expected(family, arch.rep, linear_only=True)
    assert (
        rep_targets >= 1
        and len(boxes(rep_ax, "rep")) == rep_targets
        and not boxes(rep_ax, "adapter")
    )
    assert fig.get_figwidth() <= 8 and plots.too_small(fig) == []


def test_block_diagram_counts_for_bert_and_llama():
    bert_adp, bert_rep = plots.block_diagram("bert").axes
    assert (
        len(boxes(bert_adp, "adapter")) == 2 and len(boxes(bert_rep, "rep")) == 2
    )  # query and value
    llama_adp, llama_rep = plots.block_diagram("llama").axes
    assert (
        len(boxes(llama_adp, "adapter")) == 3 and len(boxes(llama_rep, "rep")) == 2
    )  # three MLP adapters; q, v
    assert (
        "before mlp.gate_proj" in llama_adp.get_title()
        and "after mlp.down_proj" in llama_adp.get_title()
    )


def test_block_diagram_follows_a_config():
    config = lx.LorettaConfig(
        method="rep", target_modules=["query", "key", "value", "output.dense"]
    )
    (ax,) = plots.block_diagram("bert", config=config).axes
    assert len(boxes(ax, "rep")) == 5  # q, k, v, attention.output.dense and output.dense
    frozen_norms = lx.LorettaConfig(method="adp", train_norms=False)
    fig = plots.block_diagram("roberta", config=frozen_norms)
    assert len(boxes(fig.axes[0], "adapter")) == 2
    assert "norm (frozen)" in [t.get_text() for t in fig.legends[0].get_texts()]
    with pytest.raises(ValueError, match="known"):
        plots.block_diagram("t5")
    with pytest.raises(ValueError, match="adp"):
        plots.block_diagram("bert", methods=["lora"])


def test_block_diagram_of_a_model():
    model, _ = lx.tiny_decoder()
    adp, rep = plots.block_diagram(model).axes
    assert len(boxes(adp, "adapter")) == 3 and len(boxes(rep, "rep")) == 2


def test_rep_diagram_shows_the_layer_it_is_given():
    torch.manual_seed(0)
    layer = lx.LorettaRepLinear(
        torch.nn.Linear(768, 768), bottleneck=8, tt_rank=5, alpha=16.0, init="compensated"
    )
    fig = plots.rep_diagram(layer)
    ax = fig.axes[0]
    words = " ".join(t.get_text() for t in ax.texts)
    assert f"{layer.A.num_params + layer.B.num_params:,} numbers" in words
    assert f"= 16 / 8 = {layer.scale:g}" in words and layer.scale == 2.0
    assert "- s B0(A0(x))" in ax.get_title()
    assert len(boxes(ax, "trained-core")) == 2 and len(boxes(ax, "frozen-core")) == 2
    assert plots.too_small(fig) == [] and fig.get_figwidth() <= 8
    paper = plots.rep_diagram(in_features=384, out_features=384).axes[0]
    assert not boxes(paper, "frozen-core") and "B0" not in paper.get_title()
    assert "384 -> 8" in " ".join(t.get_text() for t in paper.texts)
    by_rank = plots.rep_diagram(scale_by="tt_rank").axes[0]
    assert "= 16 / 5 = 3.2" in " ".join(t.get_text() for t in by_rank.texts)
