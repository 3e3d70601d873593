"""Seeds and evidence: the statistics against scipy, the verdict rule, and compare / experiments
end to end on a few steps."""

from __future__ import annotations

import math

import pytest
from scipy import stats

import loretta_explore as lx
from loretta_explore.comparison import (
    Comparison,
    MethodSummary,
    paired_difference,
    summarize,
    t_interval,
)
from loretta_explore.training import TrainResult


def test_t_interval_matches_scipy():
    values = [0.951, 0.944, 0.962, 0.957]
    low, high = stats.t.interval(
        0.95, len(values) - 1, loc=sum(values) / 4, scale=stats.sem(values)
    )
    interval = t_interval(values)
    assert (interval.low, interval.high) == (pytest.approx(low), pytest.approx(high))
    assert interval.n == 4 and "t-interval" in interval.method
    one = t_interval([0.9])
    assert one.mean == 0.9 and math.isnan(one.low) and math.isnan(one.high)


def test_pairing_removes_what_the_seed_does_to_both():
    baseline = [0.90, 0.95, 0.85]  # the seed moves both methods by 10 points
    method = [b - 0.01 for b in baseline]
    paired = paired_difference(method, baseline)
    assert paired.mean == pytest.approx(-0.01) and paired.high - paired.low < 1e-9
    unpaired = t_interval(method)
    assert unpaired.high - unpaired.low > 0.1
    with pytest.raises(ValueError, match="one per seed"):
        paired_difference([1.0], [1.0, 2.0])


def _result(accuracy, validation=0.9, params=1000):
    return TrainResult(
        metrics={"test_accuracy": accuracy},
        trainable_params=params,
        seconds_per_step=0.1,
        peak_memory_mb=900.0,
        history=[{"step": 10, "eval_accuracy": validation}],
    )


def _comparison(rep_values, lora_values=(0.95, 0.96, 0.94)):
    runs = {
        "lora": [_result(v) for v in lora_values],
        "loretta_rep": [_result(v, params=300) for v in rep_values],
    }
    base = [r.metrics["test_accuracy"] for r in runs["lora"]]
    summaries = [
        summarize("lora", runs["lora"], "test_accuracy", None),
        summarize("loretta_rep", runs["loretta_rep"], "test_accuracy", base),
    ]
    return Comparison(
        "sentiment", "test_accuracy", tuple(range(len(lora_values))), "lora", 0.95, runs, summaries
    )


@pytest.mark.parametrize(
    "rep, met",
    [
        ((0.945, 0.955, 0.935), True),  # -0.5 points every seed: the whole interval is above -1.5
        ((0.950, 0.925, 0.940), False),  # mean -1.17, but the interval reaches below -1.5
        ((0.920, 0.930, 0.910), False),  # -3 points
    ],
)
def test_an_aim_counts_as_met_only_when_the_interval_says_so(rep, met):
    comparison = _comparison(rep)
    d = comparison.summary("loretta_rep").difference
    assert comparison.meets("loretta_rep", 1.5) is met
    assert (d.low * 100 > -1.5) is met
    one_seed = _comparison(rep[:1], (0.95,))
    assert one_seed.meets("loretta_rep", 1.5) is None  # one run cannot show it


def test_rows_table_and_old_unpacking():
    comparison = _comparison((0.945, 0.955, 0.935))
    rows, results = comparison
    assert [r["method"] for r in rows] == ["lora", "loretta_rep"]
    assert rows[1]["test_accuracy"] == pytest.approx(0.945) and rows[1]["seeds"] == 3
    assert (
        rows[1]["vs_lora"] == pytest.approx(-0.005) and rows[1]["vs_lora_low"] < rows[1]["vs_lora"]
    )
    assert results["lora"] is comparison.runs["lora"][0]
    table = comparison.to_markdown()
    assert "| loretta_rep | 94.50 ± 1.00 | -0.50 [-0.50, -0.50] | 300 |" in table
    assert "mean ± std, 3 seeds" in table and "95% CI" in table
    summary = comparison.summary("loretta_rep")
    assert isinstance(summary, MethodSummary) and summary.validation_mean == pytest.approx(0.9)
    with pytest.raises(KeyError, match="not compared"):
        comparison.summary("adapters")


QUICK = dict(batch_size=4, max_length=32, max_eval_examples=8, progress=False, device="cpu")


def test_compare_over_seeds_end_to_end():
    task = lx.load_task("sentiment").head(16)
    comparison = lx.compare(
        ["lora", "bitfit"],
        task,
        seeds=(0, 1),
        max_steps=1,
        **QUICK,
        train_options={"bitfit": {"learning_rate": 1e30}},
    )  # bitfit diverges
    assert comparison.seeds == (0, 1) and [len(r) for r in comparison.runs.values()] == [2, 2]
    lora = comparison.summary("lora")
    assert (
        len(lora.values) == 2 and all(0 <= v <= 1 for v in lora.values) and lora.difference is None
    )
    bitfit = comparison.summary("bitfit")
    assert bitfit.difference is not None and bitfit.difference.n == 2
    first = (
        comparison.runs["lora"][0].history[0]["loss"],
        comparison.runs["lora"][1].history[0]["loss"],
    )
    assert first[0] != first[1]  # the seed changed the start or the batches
    with pytest.raises(ValueError, match="seeds must be distinct"):
        lx.compare(["lora"], task, seeds=(1, 1), max_steps=1, **QUICK)


def test_divergence_inside_compare_is_recorded_not_raised():
    task = lx.load_task("sentiment").head(16)
    comparison = lx.compare(["bitfit"], task, max_steps=3, learning_rate=1e30, **QUICK)
    summary = comparison.summary("bitfit")
    assert math.isnan(summary.mean) and summary.stopped[0].startswith("non-finite")


def test_experiments_return_their_dataclasses():
    model, tok = lx.load_encoder()
    model = lx.prepare(model, "bitfit")
    curve = lx.overfitting_curve(
        model,
        lx.load_task("sentiment").head(8),
        tokenizer=tok,
        epochs=2,
        eval_every=1,
        batch_size=4,
        max_length=32,
        max_eval_examples=8,
        progress=False,
        device="cpu",
    )
    assert isinstance(curve, lx.TrainResult) and [p["step"] for p in curve.points] == [1, 2, 3, 4]
    assert {"eval_loss", "train_accuracy", "test_accuracy"} <= set(curve.points[0])
    assert curve.final_test == curve.metrics["test_accuracy"]  # not restored: the end of training
    assert curve.eval_loss_rise >= 0 and -1 <= curve.final_gap <= 1
    joint = lx.joint_tasks("bitfit", ["sentiment", "paraphrase"], max_steps=1, seed=0, **QUICK)
    assert joint.mode == "joint" and set(joint.after) == {"sentiment", "paraphrase"}
    assert (
        joint.test_examples == {"sentiment": 8, "paraphrase": 8} and joint["after"] is joint.after
    )


def test_a_mixed_task_tokenizes_singles_and_pairs():
    task = lx.experiments.mixed_task(["sentiment", "paraphrase"])
    _, tok = lx.load_encoder()
    rows = task.train.head(40)
    features = lx.batching.tokenize_task(rows, tok, 64)
    for row, f in zip(rows.rows, features):
        assert f["input_ids"].count(tok.sep_token_id) == (1 if row["text_pair"] is None else 2)
    assert {r["task"] for r in rows.rows} == {"sentiment", "paraphrase"}
