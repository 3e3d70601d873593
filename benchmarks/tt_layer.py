"""TT layer forward+backward against a dense nn.Linear of the same size, for each forward path.

For every (size, rank) on a grid: the median time of one forward+backward of TTLinear with
forward_mode "dense", "contract" and "auto", each as a ratio to nn.Linear measured in the same
run (the four timed in turn), and whether "auto" picks a path within 10% of the faster one.
Run: ``.venv/bin/python benchmarks/tt_layer.py`` (part of ``make bench``).
"""

from __future__ import annotations

import torch
from timing import interleaved_medians
from torch import nn

from loretta_explore.layers import TTLinear

SIZES = [(384, 64), (64, 384), (768, 768), (1536, 384), (4096, 16)]
RANKS = [2, 5, 16]
TOKENS = [16, 1024]  # a single sentence, and a batch of 16 x 64 tokens


def _step(module: nn.Module, x: torch.Tensor):
    def step():
        module.zero_grad(set_to_none=True)
        module(x).sum().backward()

    return step


def run(repeats: int = 41) -> list[dict]:
    torch.manual_seed(0)
    rows = []
    for in_f, out_f in SIZES:
        dense = nn.Linear(in_f, out_f)
        for tokens in TOKENS:
            x = torch.randn(tokens, in_f, requires_grad=True)
            for rank in RANKS:
                layers = {
                    mode: TTLinear(in_f, out_f, tt_rank=rank, forward_mode=mode)
                    for mode in ("dense", "contract", "auto")
                }
                t = interleaved_medians(
                    {
                        "linear": _step(dense, x),
                        **{m: _step(layer, x) for m, layer in layers.items()},
                    },
                    repeats,
                )
                chosen = layers["auto"].chosen_mode(tokens)
                best = min(t["dense"], t["contract"])
                rows.append(
                    dict(
                        size=f"{in_f}x{out_f}",
                        tokens=tokens,
                        rank=rank,
                        chosen=chosen,
                        dense_ratio=t["dense"] / t["linear"],
                        contract_ratio=t["contract"] / t["linear"],
                        auto_ratio=t["auto"] / t["linear"],
                        auto_vs_best=t["auto"] / best,
                        chosen_vs_best=t[chosen] / best,
                    )
                )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| weight | tokens | rank | path chosen | dense path / nn.Linear | contract path / nn.Linear | "
        "auto / nn.Linear | chosen path / best path | auto / best path |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        flag = "" if r["chosen_vs_best"] <= 1.10 else " (miss)"
        lines.append(
            f"| {r['size']} | {r['tokens']} | {r['rank']} | {r['chosen']} | {r['dense_ratio']:.2f} | "
            f"{r['contract_ratio']:.2f} | {r['auto_ratio']:.2f} | {r['chosen_vs_best']:.2f}{flag} | "
            f"{r['auto_vs_best']:.2f} |"
        )
    within = sum(r["chosen_vs_best"] <= 1.10 for r in rows)
    lines.append(
        f'\n"auto" chose a path within 10% of the best in {within} of {len(rows)} cases ("chosen path / best '
        'path"; "auto / best path" times the auto layer itself, whose choice costs a FLOP count per call).'
    )
    return "\n".join(lines)


if __name__ == "__main__":
    torch.set_num_threads(2)
    print(markdown(run()))
