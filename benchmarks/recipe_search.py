"""Search the fine-tuning recipe: learning rate, steps, rank, norms and placement per method.

Why: the issue asks LoRETTA to come within 1.5 points of LoRA r=8 while training at most a third
of LoRA's parameters, "with a documented default recipe". This script is how that recipe was
chosen, so that the choice can be checked and repeated. Every variant is one ``lx.compare`` run
on the bundled sentiment task (same data, seed, batch and schedule); variants are **ranked by
validation accuracy**, never by test accuracy, and the test figure is only reported.

Variants run in parallel worker processes, each appending one JSON line to ``--out`` as soon as
it finishes, so a run cut short keeps what it measured. On a GPU eight workers share the card;
on 2 CPU cores use ``--workers 1`` and ``--only`` a few names (each 1000-step run takes minutes).

Run: ``python benchmarks/recipe_search.py --device cuda --workers 8`` or
``python benchmarks/recipe_search.py --only rep_r5_lr3e-3_1000 lora_lr1e-3_1000``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

REP = {"init": "compensated", "head": "frozen", "train_classifier": True}
ADP = {"init": "identity", "head": "frozen", "train_classifier": True}
QKVO = ["query", "key", "value", "attention.output.dense"]
FFN_ONLY = {r"layer\.\d+\.output\.dropout": "after"}


def _variants() -> dict[str, tuple[str, dict, float, int]]:
    """name -> (method, options, learning rate, steps), most informative first."""
    v: dict[str, tuple[str, dict, float, int]] = {}
    for steps in (1000, 500):
        for lr in (1e-3, 3e-3, 5e-3):
            v[f"rep_r5_lr{lr:g}_{steps}"] = ("loretta_rep", REP, lr, steps)
            v[f"adp_r3_lr{lr:g}_{steps}"] = ("loretta_adp", {**ADP, "tt_rank": 3}, lr, steps)
        for lr in (5e-4, 1e-3, 2e-3):
            v[f"lora_lr{lr:g}_{steps}"] = (
                "lora",
                {"r": 8, "lora_alpha": 16, "target_modules": ["query", "value"]},
                lr,
                steps,
            )
    for lr in (3e-3, 5e-3):
        v[f"rep_r5_b16_lr{lr:g}_1000"] = ("loretta_rep", {**REP, "bottleneck": 16}, lr, 1000)
        v[f"rep_r5_qkvo_nonorm_lr{lr:g}_1000"] = (
            "loretta_rep",
            {**REP, "target_modules": QKVO, "train_norms": False},
            lr,
            1000,
        )
        v[f"adp_r5_nonorm_lr{lr:g}_1000"] = ("loretta_adp", {**ADP, "train_norms": False}, lr, 1000)
        v[f"adp_r5_ffn_only_lr{lr:g}_1000"] = (
            "loretta_adp",
            {**ADP, "target_modules": FFN_ONLY},
            lr,
            1000,
        )
    v["rep_r5_alpha32_lr3e-3_1000"] = ("loretta_rep", {**REP, "alpha": 32.0}, 3e-3, 1000)
    v["rep_r5_nonorm_lr5e-3_1000"] = ("loretta_rep", {**REP, "train_norms": False}, 5e-3, 1000)
    v["adp_r4_lr3e-3_1000"] = ("loretta_adp", {**ADP, "tt_rank": 4}, 3e-3, 1000)
    v["adp_r5_lr3e-3_1000"] = ("loretta_adp", ADP, 3e-3, 1000)  # the paper's size: over the budget
    v["adp_r3_nonorm_lr1e-2_1000"] = (
        "loretta_adp",
        {**ADP, "tt_rank": 3, "train_norms": False},
        1e-2,
        1000,
    )
    v["full_lr5e-5_1000"] = ("full", {}, 5e-5, 1000)
    v["adapters_lr1e-3_1000"] = ("adapters", {"bottleneck": 64}, 1e-3, 1000)
    v["bitfit_lr3e-3_1000"] = ("bitfit", {}, 3e-3, 1000)
    return v


VARIANTS = _variants()


def run_variant(name: str, device: str, threads: int) -> dict:
    import torch

    import loretta_explore as lx

    torch.set_num_threads(threads)
    method, options, lr, steps = VARIANTS[name]

    start = time.time()
    rows, results = lx.compare(
        [method],
        "sentiment",
        method_options={method: options},
        max_steps=steps,
        batch_size=16,
        max_length=64,
        eval_every=100,
        seed=0,
        learning_rate=lr,
        device=device,
        progress=False,
    )
    result = results[method]
    val = [h["eval_accuracy"] for h in result.history if "eval_accuracy" in h]
    return {
        "name": name,
        "method": method,
        "options": options,
        "learning_rate": lr,
        **rows[0],
        "best_validation_accuracy": max(val),
        "validation_curve": val,
        "best_step": result.best_step,
        "wall_seconds": round(time.time() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", nargs="+", choices=sorted(VARIANTS), help="run these variants (default: all)"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).with_name("recipe_search.jsonl")))
    args = parser.parse_args()
    names = args.only or list(VARIANTS)
    threads = max(1, (os.cpu_count() or 2) // args.workers)
    with (
        ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool,
        open(args.out, "a") as out,
    ):
        jobs = {pool.submit(run_variant, n, args.device, threads): n for n in names}
        for job in as_completed(jobs):
            try:
                row = job.result()
            except Exception as error:  # one broken variant must not lose the others
                row = {"name": jobs[job], "error": repr(error)}
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(
                json.dumps(
                    {
                        k: row.get(k)
                        for k in (
                            "name",
                            "trainable_params",
                            "best_validation_accuracy",
                            "test_accuracy",
                            "wall_seconds",
                            "error",
                        )
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
