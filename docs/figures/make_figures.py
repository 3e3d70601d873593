"""Render the figures in docs/figures/ with loretta_explore.plots (offline, about a minute on 2 CPU cores).

    python docs/figures/make_figures.py

Real weights come from the bundled all-MiniLM-L6-v2 encoder (``lx.load_encoder()``); the paper's
numbers come from docs/method.md (#shapes, #counting, #paper-results).
"""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import torch  # noqa: E402

import loretta_explore as lx  # noqa: E402
from loretta_explore import plots  # noqa: E402

HERE = Path(__file__).resolve().parent
DPI = 110


def save(fig, name: str) -> None:
    fig.savefig(HERE / name, dpi=DPI)
    print("wrote", HERE / name)


def main() -> None:
    torch.manual_seed(0)
    model, _ = lx.load_encoder()
    layer = model.bert.encoder.layer[0]
    ffn = layer.intermediate.dense.weight.detach().T.double()  # W (in, out) = (384, 1536)
    query = layer.attention.self.query.weight.detach().T.double()  # (384, 384)

    # 1. the paper's adapter shape for a 768 x 64 weight (docs/method.md#shapes), rank 5
    save(plots.tt_diagram(lx.tensorize.paper_shape(768, 64), 5), "tt_diagram.png")

    # 2. spectra of a pretrained query weight folded the LoRETTA way, cut at rank 8
    shape = lx.suggest_shape(384, 384)
    save(plots.spectra(lx.tt_svd(query.reshape(shape), max_rank=8)), "spectra.png")

    # 3. how well TT-SVD compresses a pretrained weight vs a random one of the same size and scale
    random = torch.randn_like(ffn) * ffn.std()
    save(
        plots.error_vs_rank(
            {
                "pretrained MiniLM FFN weight (384 x 1536)": ffn,
                "Gaussian, same size and std": random,
            },
            ranks=[1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128],
        ),
        "error_vs_rank.png",
    )

    # 4. trainable parameters on LLaMA-2-7B, the paper's printed figures marked
    save(plots.budget_bars("llama-2-7b"), "budget_bars_llama-2-7b.png")

    # 5. the paper's accuracy / parameter trade-off (DeBERTa-base GLUE averages)
    save(plots.accuracy_vs_params([], paper=True), "accuracy_vs_params.png")


if __name__ == "__main__":
    main()
