"""The multi-seed benchmarks' logic, with made-up records and no training: recipe choice by mean
validation, the interval-based aim, one recipe for both tasks, the claims' verdicts, the reports."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import claims  # noqa: E402
import compare_methods as cm  # noqa: E402
import seeded  # noqa: E402


def _records(
    spec: dict[tuple[str, str], tuple[list[float], list[float]]], params=None
) -> list[dict]:
    """{(task, variant): (validation per seed, test per seed)} -> records."""
    params = params or {}
    out = []
    for (task, variant), (val, test) in spec.items():
        method = variant.split(" ")[0]
        for seed, (v, t) in enumerate(zip(val, test)):
            out.append(
                dict(
                    task=task,
                    variant=variant,
                    method=method,
                    seed=seed,
                    validation=v,
                    test=t,
                    metric="accuracy",
                    trainable_params=params.get(method, 1000),
                    seconds_per_step=0.2,
                    peak_memory_mb=900.0,
                    learning_rate=float(variant.split("lr=")[1]),
                    stopped=None,
                    paper="paper" in variant,
                )
            )
    return out


LORA = {"lora": 74_498, "loretta_rep": 22_754}
# the grid's learning rates as the variants name them (the tests follow the grid when it changes)
LR = {m: [f"{lr:g}" for lr in rates] for m, rates in cm.GRID.items()}
L1, L2 = LR["lora"]
R1, R2 = LR["loretta_rep"]


def test_the_recipe_is_the_best_mean_validation_not_the_best_test():
    records = _records(
        {
            ("sentiment", f"lora lr={L1}"): (
                [0.90, 0.92, 0.91],
                [0.99, 0.99, 0.99],
            ),  # best test, worse validation
            ("sentiment", f"lora lr={L2}"): ([0.93, 0.93, 0.93], [0.90, 0.90, 0.90]),
            ("sentiment", "loretta_rep paper defaults lr=0.0005"): (
                [0.99, 0.99, 0.99],
                [0.99, 0.99, 0.99],
            ),
            ("sentiment", f"loretta_rep lr={R1}"): ([0.80, 0.80, 0.80], [0.80, 0.80, 0.80]),
        }
    )
    assert cm.choose(records, "sentiment", "lora") == f"lora lr={L2}"
    assert (
        cm.choose(records, "sentiment", "loretta_rep") == f"loretta_rep lr={R1}"
    )  # paper's not in the grid
    assert cm.choose(records, "paraphrase", "lora") is None


def test_the_aim_is_met_only_by_the_intervals_lower_bound():
    close = seeded.paired_difference([0.945, 0.955, 0.935], [0.95, 0.96, 0.94])
    noisy = seeded.paired_difference([0.950, 0.925, 0.940], [0.95, 0.96, 0.94])
    assert cm.verdict(close, 0.30).startswith("met")
    assert cm.verdict(noisy, 0.30).startswith("**not met** (the interval reaches")
    assert cm.verdict(close, 0.40).startswith("**not met** (0.40x")
    assert cm.verdict(seeded.paired_difference([0.95], [0.95]), 0.30).startswith("not shown")


def test_paired_differences_use_the_seeds_both_sides_have():
    records = _records(
        {
            ("sentiment", "lora lr=0.001"): ([0.9] * 3, [0.90, 0.95, 0.85]),
            ("sentiment", "loretta_rep lr=0.001"): ([0.9] * 2, [0.89, 0.94]),
        }
    )
    d = seeded.paired(records, "sentiment", "loretta_rep lr=0.001", "lora lr=0.001")
    assert d.n == 2 and d.mean == pytest.approx(-0.01)
    assert seeded.ci(d).startswith("-1.00 [") and seeded.pm([0.9, 0.92]) == "91.00 ± 1.41"
    assert seeded.pts(math.nan) == "n/a" and seeded.within(seeded.t_interval([0.1]), 1.5) is None


def test_one_recipe_for_both_tasks_and_its_cost():
    spec = {}
    B_WIN = cm.GRID["bitfit"][-1]
    for task, best in (("sentiment", L1), ("paraphrase", L2)):
        for lr in (L1, L2):
            v = 0.95 if lr == best else 0.93
            spec[(task, f"lora lr={lr}")] = ([v] * 3, [v] * 3)
        for lr in cm.GRID["bitfit"]:  # the last rate wins on both
            spec[(task, f"bitfit lr={lr:g}")] = ([0.9 if lr == B_WIN else 0.8] * 3, [0.9] * 3)
    lines = "\n".join(
        cm.recipe_section(_records(spec), ["sentiment", "paraphrase"], ["lora", "bitfit"])
    )
    assert f"| lora | lora lr={L1} | lora lr={L2} | sentiment: -2.00; paraphrase: -2.00 |" in lines
    b = f"bitfit lr={B_WIN:g}"
    assert f"| bitfit | {b} | {b} | none: one recipe serves both |" in lines


def test_the_multi_seed_report_and_the_legacy_one_render():
    spec = {
        ("sentiment", f"lora lr={L1}"): ([0.95, 0.96, 0.94], [0.95, 0.96, 0.94]),
        ("sentiment", f"loretta_rep lr={R1}"): ([0.95, 0.95, 0.95], [0.945, 0.955, 0.935]),
        ("sentiment", "loretta_rep paper defaults lr=0.0005"): ([0.6] * 3, [0.6] * 3),
    }
    config = dict(
        tasks=["sentiment"],
        methods=["lora", "loretta_rep"],
        seeds=[0, 1, 2],
        steps=100,
        batch_size=16,
        max_length=64,
        eval_every=50,
        quick=False,
        rep_defaults="alpha=16.0",
    )
    saved = {"measured": "2026-01-01 on a test", "config": config, "records": _records(spec, LORA)}
    text = cm.render(saved)
    assert (
        f"| loretta_rep lr={R1} | 95.00 ± 0.00 | 94.50 ± 1.00 | -0.50 [-0.50, -0.50] | 22,754 "
        "| 0.305 |" in text
    )
    assert (
        "The paper's defaults beside them" in text
        and "| loretta_rep paper defaults lr=0.0005 | 60.00" in text
    )
    assert (
        f"- loretta_rep lr={R1}: -0.50 [-0.50, -0.50] points, 0.31x LoRA's parameters: met" in text
    )
    rows = cm.sentiment_rows(saved["records"], ["lora", "loretta_rep"])
    assert [r["method"] for r in rows] == ["lora", "loretta_rep"] and rows[1][
        "test_accuracy"
    ] == pytest.approx(0.945)
    legacy = json.loads(
        (BENCHMARKS.parent / "data" / "results" / "compare_methods.json").read_text()
    )
    if "rows" in legacy and "records" not in legacy:
        assert "| method | test accuracy |" in cm.render(legacy)


def test_every_variant_runs_a_grid_point_or_the_papers_defaults():
    vs = cm.variants(["lora", "loretta_rep"])
    assert [v["variant"] for v in vs] == [
        f"lora lr={L1}",
        f"lora lr={L2}",
        f"loretta_rep lr={R1}",
        f"loretta_rep lr={R2}",
        "loretta_rep paper defaults lr=0.0005",
    ]
    assert vs[-1]["options"] == {} and vs[2]["options"] == cm.KIT_OPTIONS["loretta_rep"]


def _a(rises: dict[str, float]) -> list[dict]:
    return [
        dict(subset=n, method=m, seed=s, rise=r, best_test=0.9, final_test=0.88, gap=0.1)
        for n in (64, 256)
        for m, r in rises.items()
        for s in (0, 1)
    ]


def test_overfitting_verdict():
    yes = _a({"lora": 0.3, "adapters": 0.2, "loretta_adp": 0.01, "loretta_rep": 0.0})
    assert claims.verdict_a(yes).startswith("**Reproduced**")
    no = claims.verdict_a(
        _a({"lora": 0.01, "adapters": 0.2, "loretta_adp": 0.01, "loretta_rep": 0.2})
    )
    assert (
        no.startswith("**Not reproduced**")
        and "lora's validation loss did not rise on 64 rows (+0.010" in no
    )
    assert "loretta_rep's validation loss rose on 256 rows (+0.200)" in no
    assert "| 64 | lora | +0.300 | 90.00 ± 0.00 | 88.00 ± 0.00 | 10.00 ± 0.00 |" in "\n".join(
        claims.section_a(yes)
    )


def test_forgetting_verdict():
    def rows(forgot):
        return [
            dict(
                method=m,
                seed=s,
                forgetting=f,
                right_after=0.9,
                after=0.9 - f,
                paraphrase_after=0.8,
                joint_sentiment=0.9,
                joint_paraphrase=0.8,
                metrics={"sentiment": "accuracy"},
            )
            for m, f in forgot.items()
            for s in (0, 1)
        ]

    assert claims.verdict_b(
        rows({"lora": 0.2, "adapters": 0.1, "loretta_adp": 0.05, "loretta_rep": 0.0})
    ).startswith("**Reproduced**")
    no = claims.verdict_b(
        rows({"lora": 0.02, "adapters": 0.1, "loretta_adp": 0.05, "loretta_rep": 0.0})
    )
    assert no == "**Not reproduced**: loretta_adp forgot 5.00 points, not less than lora (2.00)."


def test_rank_verdict_and_report():
    def rows(scores, params=(10, 20, 30, 40)):
        return [
            dict(method="loretta_rep", rank=k, seed=s, test=t, trainable_params=p, stopped=None)
            for (k, t), p in zip(scores.items(), params)
            for s in (0, 1)
        ]

    good = rows({2: 0.90, 4: 0.945, 8: 0.95, 16: 0.951})
    assert claims.verdict_c(good).startswith("**Reproduced**")
    assert "rank 4 is 2.10 points below rank 16" in claims.verdict_c(
        rows({2: 0.9, 4: 0.93, 8: 0.95, 16: 0.951})
    )
    assert "does not grow" in claims.verdict_c(
        rows({2: 0.9, 4: 0.95, 8: 0.95, 16: 0.95}, (10, 30, 20, 40))
    )
    saved = {
        "measured": "2026-01-01",
        "parts": {"c": good},
        "config": dict(
            seeds=[0, 1], quick=False, learning_rates={"loretta_rep": 3e-3}, eval_rows=200
        ),
    }
    text = claims.render(saved)
    assert "## (c) TT rank ablation" in text and "| loretta_rep | 4 | 94.50 ± 0.00 | 20 |" in text
    assert "## (a)" not in text and "loretta_rep 0.003" in text


def test_committed_claims_report_matches_its_numbers():
    path = BENCHMARKS.parent / "data" / "results" / "claims.json"
    if not path.is_file():
        pytest.skip("claims.json not measured yet: python benchmarks/claims.py")
    assert claims.render(json.loads(path.read_text())) == (BENCHMARKS / "claims.md").read_text()
