"""TT layer forward+backward against a dense nn.Linear of the same size, for each forward path.

For every (size, rank) on a grid: the median time of one forward+backward of TTLinear with
forward_mode "dense", "contract" and "auto", each as a ratio to nn.Linear measured in the same
run, and whether "auto" is within 10% of the faster explicit path.
Run: ``.venv/bin/python benchmarks/tt_layer.py`` (part of ``make bench``).
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from loretta_explore.layers import TTLinear

SIZES = [(384, 64), (64, 384), (768, 768), (1536, 384), (4096, 16)]
RANKS = [2, 5, 16]
TOKENS = [16, 1024]  # a single sentence, and a batch of 16 x 64 tokens


def _time(module: nn.Module, x: torch.Tensor, repeats: int) -> float:
    def step():
        module.zero_grad(set_to_none=True)
        module(x).sum().backward()

    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(repeats: int = 15) -> list[dict]:
    torch.manual_seed(0)
    rows = []
    for in_f, out_f in SIZES:
        dense = nn.Linear(in_f, out_f)
        for tokens in TOKENS:
            x = torch.randn(tokens, in_f, requires_grad=True)
            t_dense = _time(dense, x, repeats)
            for rank in RANKS:
                times = {}
                for mode in ("dense", "contract", "auto"):
                    layer = TTLinear(in_f, out_f, tt_rank=rank, forward_mode=mode)
                    times[mode] = _time(layer, x, repeats)
                best = min(times["dense"], times["contract"])
                rows.append(dict(size=f"{in_f}x{out_f}", tokens=tokens, rank=rank,
                                 chosen=TTLinear(in_f, out_f, tt_rank=rank).chosen_mode(tokens),
                                 dense_ratio=times["dense"] / t_dense, contract_ratio=times["contract"] / t_dense,
                                 auto_ratio=times["auto"] / t_dense, auto_vs_best=times["auto"] / best))
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| weight | tokens | rank | path chosen | dense path / nn.Linear | contract path / nn.Linear | "
             "auto / nn.Linear | auto / best path |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        flag = "" if r["auto_vs_best"] <= 1.10 else " (miss)"
        lines.append(f"| {r['size']} | {r['tokens']} | {r['rank']} | {r['chosen']} | {r['dense_ratio']:.2f} | "
                     f"{r['contract_ratio']:.2f} | {r['auto_ratio']:.2f} | {r['auto_vs_best']:.2f}{flag} |")
    within = sum(r["auto_vs_best"] <= 1.10 for r in rows)
    lines.append(f"\n\"auto\" within 10% of the best path in {within} of {len(rows)} cases.")
    return "\n".join(lines)


if __name__ == "__main__":
    torch.set_num_threads(2)
    print(markdown(run()))
