"""Metrics against scikit-learn / scipy called directly, and a regression head that trains."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn import metrics as skm

import loretta_explore as lx
from loretta_explore import data as lxd
from loretta_explore.metrics import (
    GLUE_METRICS,
    METRICS,
    compute,
    compute_all,
    predictions_from_logits,
)

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("classes", [2, 3])
def test_classification_metrics_match_sklearn(classes):
    for _ in range(5):
        labels, predictions = RNG.integers(0, classes, 200), RNG.integers(0, classes, 200)
        assert compute("accuracy", predictions, labels) == pytest.approx(
            skm.accuracy_score(labels, predictions)
        )
        assert compute(
            "matthews", torch.tensor(predictions), torch.tensor(labels)
        ) == pytest.approx(skm.matthews_corrcoef(labels, predictions))
        if classes == 2:
            assert compute("f1", list(predictions), list(labels)) == pytest.approx(
                skm.f1_score(labels, predictions)
            )


def test_correlations_match_scipy_where_the_old_code_said_zero():
    """STS-B declared "pearson", which had no code path: every run reported 0.0."""
    labels = RNG.uniform(0, 5, 300)
    predictions = labels * 0.05 + RNG.normal(0, 1, 300)
    pearson, spearman = (
        stats.pearsonr(predictions, labels)[0],
        stats.spearmanr(predictions, labels)[0],
    )
    scores = compute_all(("pearson", "spearman"), torch.tensor(predictions), torch.tensor(labels))
    assert scores == {"pearson": pytest.approx(pearson), "spearman": pytest.approx(spearman)}
    assert scores["pearson"] != 0.0
    assert math.isnan(compute("pearson", [1.0, 1.0, 1.0], [0.0, 1.0, 2.0]))  # undefined, not 0


def test_metric_errors_are_clear():
    with pytest.raises(ValueError, match="Unknown metric 'auc'.*accuracy"):
        compute("auc", [1], [1])
    with pytest.raises(ValueError, match="3 predictions for 2 labels"):
        compute("accuracy", [1, 0, 1], [1, 0])


def test_every_glue_task_reports_its_metrics():
    assert set(GLUE_METRICS) == set(lxd.GLUE_TASKS)
    for name, spec in lxd.GLUE_TASKS.items():
        task = lxd.Task(name, "validation", [], spec, spec.text_columns)
        assert task.metrics == GLUE_METRICS[name] and set(task.metrics) <= set(METRICS)
    assert lxd.load_task("paraphrase", "test").metrics == ("f1", "accuracy")


def test_predictions_from_logits():
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]])
    assert predictions_from_logits(logits).tolist() == [1, 0]
    assert predictions_from_logits(torch.tensor([[0.5], [2.5]])).tolist() == [
        0.5,
        2.5,
    ]  # regression


def _regression_task():
    """An STS-B-like toy: the score is how many of the words are 'good' (0-3), as a float."""
    words = ["good", "fine", "nice", "bad", "poor", "awful"]
    rows, rng = [], np.random.default_rng(1)
    for _ in range(48):
        chosen = list(rng.choice(words, 3))
        rows.append(
            {
                "sentence1": " ".join(chosen),
                "sentence2": "a review",
                "score": float(sum(w in ("good", "fine", "nice") for w in chosen)),
            }
        )
    return lx.task_from(
        rows,
        text="sentence1",
        text_pair="sentence2",
        label="score",
        regression=True,
        validation=16,
        name="toy_sts",
    )


def test_a_regression_head_trains_and_reports_correlations():
    task = _regression_task()
    assert (
        task.num_labels == 1
        and task.metric == "pearson"
        and task.metrics == ("pearson", "spearman")
    )
    model, tok = lx.load_encoder(num_labels=1)
    model = lx.prepare(model, "bitfit")
    loader = lx.make_loader(task.validation, tok, 16, max_length=16)
    before = lx.evaluate(model, loader, task.metrics)
    batch = next(iter(loader))
    assert batch["labels"].dtype == torch.float32  # float labels: transformers picks the MSE loss
    result = lx.train(
        model,
        task,
        tokenizer=tok,
        max_steps=20,
        batch_size=16,
        learning_rate=1e-2,
        max_length=16,
        progress=False,
        device="cpu",
        evaluate_test=False,
    )
    after = lx.evaluate(model, loader, task.metrics)
    assert after["loss"] < 0.5 * before["loss"]  # the mean squared error falls
    assert set(after) == {"loss", "pearson", "spearman"} and after["pearson"] > 0.5
    assert "eval_pearson" in result.history[-1] and result.metric == "pearson"
