"""How long each widget takes to update at its heaviest allowed setting.

Aims: analytic widgets (budget explorer) under 200 ms; a TT-SVD of a 384x1536 weight (shape and
rank explorers on the bundled encoder's FFN weight) under 1 s. Each figure is the median of a few
updates, including drawing the figure, timed in turn with one plain matplotlib figure (the floor
any widget with a plot pays).
Run: ``.venv/bin/python benchmarks/widget_latency.py`` (part of ``make bench``).
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from timing import interleaved_medians  # noqa: E402

import loretta_explore as lx  # noqa: E402
from loretta_explore import widgets  # noqa: E402


def _plain_figure() -> None:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(range(100))
    fig.savefig(io.BytesIO(), format="png", dpi=90)
    plt.close(fig)


def run() -> list[dict]:
    model, _ = lx.load_encoder()
    weight = model.bert.encoder.layer[0].intermediate.dense.weight.detach().T  # (384, 1536)

    def max_rank(ui):
        ui.controls["rank"].value = ui.controls["rank"].max

    def max_budget(ui):
        ui.controls["tt_rank"].value = ui.controls["tt_rank"].max
        ui.controls["model"].value = "llama-2-70b"

    cases = [
        ("budget_explorer (llama-2-70b, max rank)", widgets.budget_explorer(), max_budget, 0.2),
        (
            "shape_explorer (384x1536 weight, max rank)",
            widgets.shape_explorer(384, 1536, weight=weight),
            max_rank,
            1.0,
        ),
        (
            "rank_explorer (384x1536 weight, max rank)",
            widgets.rank_explorer(weight, shape=lx.suggest_shape(384, 1536)),
            max_rank,
            1.0,
        ),
    ]
    for _, ui, heaviest, _ in cases:
        heaviest(ui)
    t = interleaved_medians(
        {"plain figure": _plain_figure, **{name: ui.update for name, ui, _, _ in cases}},
        repeats=5,
        warmup=1,
    )
    return [
        dict(
            widget=name,
            seconds=t[name],
            aim=aim,
            vs_plain_figure=t[name] / t["plain figure"],
            met=t[name] <= aim,
        )
        for name, _, _, aim in cases
    ]


def markdown(rows: list[dict]) -> str:
    lines = [
        "| widget at its heaviest setting | update (s) | aim (s) | met | / one plain matplotlib figure |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['widget']} | {r['seconds']:.3f} | {r['aim']:.1f} | {'yes' if r['met'] else 'NO'} | "
            f"{r['vs_plain_figure']:.1f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    torch.set_num_threads(2)
    print(markdown(run()))
