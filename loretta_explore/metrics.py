"""Evaluation metrics for every task, computed by scikit-learn and scipy.

Why not hand-written: a metric is where a subtle slip (a swapped label, an unhandled class, a
metric name with no code path) silently changes a reported number. GLUE's metrics are the
standard ones (Wang et al. 2019): accuracy, F1 of the positive class for the unbalanced
paraphrase sets (MRPC, QQP), Matthews correlation for CoLA, Pearson and Spearman correlation for
the STS-B regression, and matched accuracy for MNLI. Here each is one call into scikit-learn or
scipy, so the numbers are the ones everybody else reports.

:func:`predictions_from_logits` turns a model's output into predictions the metrics read: the
class with the largest logit, or the single output itself for a regression head (STS-B,
``num_labels=1``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["GLUE_METRICS", "METRICS", "compute", "compute_all", "predictions_from_logits"]


def _as_array(values: Any) -> np.ndarray:
    """A 1-D numpy array from a tensor (any device), an array or a list."""
    if hasattr(values, "detach"):  # a torch tensor; float() first, numpy has no bfloat16
        values = (
            values.detach().float().cpu().numpy()
            if values.is_floating_point()
            else values.cpu().numpy()
        )
    return np.asarray(values).reshape(-1)


def _accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(labels, predictions))


def _f1(predictions: np.ndarray, labels: np.ndarray) -> float:
    """F1 of class 1 (GLUE's convention for MRPC and QQP); 0.0 when class 1 is never predicted
    nor present, as scikit-learn's ``zero_division=0`` says."""
    from sklearn.metrics import f1_score

    return float(f1_score(labels, predictions, pos_label=1, average="binary", zero_division=0))


def _matthews(predictions: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import matthews_corrcoef

    return float(matthews_corrcoef(labels, predictions))


def _correlation(kind: str) -> Callable[[np.ndarray, np.ndarray], float]:
    def correlation(predictions: np.ndarray, labels: np.ndarray) -> float:
        """NaN when it is undefined (fewer than two examples, or constant predictions or labels):
        a correlation of a constant is not 0, and reporting 0 would hide the cause."""
        from scipy import stats

        if len(labels) < 2 or np.ptp(predictions) == 0 or np.ptp(labels) == 0:
            return math.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = (stats.pearsonr if kind == "pearson" else stats.spearmanr)(predictions, labels)
        return float(result[0])

    correlation.__name__ = kind
    return correlation


#: name -> function(predictions, labels) -> float. Classification metrics read class ids;
#: "pearson" and "spearman" read the regression outputs.
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": _accuracy,
    "f1": _f1,
    "matthews": _matthews,
    "pearson": _correlation("pearson"),
    "spearman": _correlation("spearman"),
}

#: Each GLUE task's metrics, the one used to choose checkpoints first (as GLUE reports them).
GLUE_METRICS: dict[str, tuple[str, ...]] = {
    "sst2": ("accuracy",),
    "mrpc": ("f1", "accuracy"),
    "qqp": ("f1", "accuracy"),
    "qnli": ("accuracy",),
    "rte": ("accuracy",),
    "cola": ("matthews",),
    "stsb": ("pearson", "spearman"),
    "mnli": ("accuracy",),
}


def _check_name(name: str) -> None:
    if name not in METRICS:
        raise ValueError(
            f"Unknown metric {name!r}; known: {', '.join(METRICS)} (and 'perplexity' "
            "for a corpus, computed from the loss). Example: compute('f1', [1, 0], [1, 1])."
        )


def compute(name: str, predictions: Any, labels: Any) -> float:
    """One metric of `predictions` against `labels` (tensors, arrays or lists of equal length).

    Examples
    --------
    >>> compute("f1", [1, 1, 0, 0], [1, 0, 0, 1])
    0.5
    """
    _check_name(name)
    predictions, labels = _as_array(predictions), _as_array(labels)
    if predictions.shape != labels.shape:
        raise ValueError(
            f"{name}: {predictions.size} predictions for {labels.size} labels; "
            "they must pair up one to one."
        )
    if predictions.size == 0:
        raise ValueError(f"{name}: no examples to score (both arrays are empty).")
    return METRICS[name](predictions, labels)


def compute_all(names: str | Sequence[str], predictions: Any, labels: Any) -> dict[str, float]:
    """Several metrics at once: ``{name: value}`` in the order given."""
    names = (names,) if isinstance(names, str) else tuple(names)
    for name in names:
        _check_name(name)
    return {name: compute(name, predictions, labels) for name in names}


def predictions_from_logits(logits: Any) -> Any:
    """Predictions from a classifier's logits: argmax over classes, or the one output of a
    regression head.

    ``(batch, num_labels) -> (batch,)`` class ids; ``(batch, 1) -> (batch,)`` floats (STS-B).
    """
    if logits.shape[-1] == 1:
        return logits[..., 0]
    return logits.argmax(-1)
