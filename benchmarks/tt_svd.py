"""TT-SVD: our torch implementation against tensorly's `tensor_train` (pytorch backend).

Same tensors, same ranks, one run, the two timed in turn; prints time and relative error of both
and their ratios.
Run: `.venv/bin/python benchmarks/tt_svd.py` (also part of `make bench`).
"""

from __future__ import annotations

import statistics

import tensorly as tl
import torch
from tensorly.decomposition import tensor_train
from timing import interleaved_medians

import loretta_explore as lx

CASES = [  # (what it is, tensor shape, rank)
    ("adp 768x64 weight", (8, 8, 12, 8, 8), 5),
    ("MiniLM FFN 384x1536", (12, 8, 8, 8, 8, 12), 8),
    ("pooler 768x768", (12, 8, 8, 8, 8, 12), 16),
    ("cube 64^3", (64, 64, 64), 32),
    ("LLaMA rep A 4096x16", (4, 4, 8, 8, 8, 8), 8),
]


def run(repeats: int = 9, dtype=torch.float32) -> list[dict]:
    rows = []
    g = torch.Generator().manual_seed(0)
    with tl.backend_context("pytorch"):
        for name, shape, rank in CASES:
            x = torch.randn(*shape, generator=g, dtype=dtype)
            ours = lx.tt_svd(x, max_rank=rank)
            ref = tensor_train(x, rank=ours.ranks)
            t = interleaved_medians(
                {
                    "ours": lambda x=x, rank=rank: lx.tt_svd(x, max_rank=rank),
                    "tensorly": lambda x=x, ranks=ours.ranks: tensor_train(x, rank=ranks),
                },
                repeats,
            )
            err_ours = float((ours.full() - x).norm() / x.norm())
            err_tl = float((tl.tt_to_tensor(ref) - x).norm() / x.norm())
            rows.append(
                dict(
                    case=name,
                    shape=list(shape),
                    rank=rank,
                    ours_ms=1e3 * t["ours"],
                    tensorly_ms=1e3 * t["tensorly"],
                    time_ratio=t["ours"] / t["tensorly"],
                    err_ours=err_ours,
                    err_tensorly=err_tl,
                    err_ratio=err_ours / err_tl,
                )
            )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| case | shape | rank | ours ms | tensorly ms | time ratio (ours/tensorly) | rel. error ours | rel. error tensorly |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['shape']} | {r['rank']} | {r['ours_ms']:.2f} | {r['tensorly_ms']:.2f} | "
            f"{r['time_ratio']:.2f} | {r['err_ours']:.4f} | {r['err_tensorly']:.4f} |"
        )
    ratios = [r["time_ratio"] for r in rows]
    lines.append(
        f"\nMedian time ratio ours/tensorly: {statistics.median(ratios):.2f} "
        f"(below 1 means we are faster); error ratios: "
        f"{min(r['err_ratio'] for r in rows):.4f}-{max(r['err_ratio'] for r in rows):.4f}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    torch.set_num_threads(2)
    print(markdown(run()))
