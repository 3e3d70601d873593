"""The paper's side experiments (``docs/method.md#paper-results``), each returning a dataclass.

- :func:`overfitting_curve`: long training on a small set with frequent evaluation. The paper
  reports that LoRA's and adapters' validation loss rises with long training while LoRETTA's
  stays flat; the curve records validation, train and test scores at every evaluation, so the
  best and final test scores and the train-test gap can be read off.
- :func:`sequential_tasks`: one model learns task A, then B, ...; forgetting is how much each
  task's test score drops from right after it was learned to the end of the sequence.
- :func:`joint_tasks`: the same tasks mixed into one training set, the multi-task reference.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from torch import nn

from .baselines import prepare
from .batching import make_loader
from .data import Task, TaskSpec, load_task
from .training import (
    TrainResult,
    _other_split,
    _seed_everything,
    _train_split,
    evaluate,
    pick_device,
    train,
)
from .user_tasks import TaskSplits

__all__ = [
    "OverfittingCurve",
    "SequentialResult",
    "joint_tasks",
    "mixed_task",
    "overfitting_curve",
    "sequential_tasks",
]


@dataclass
class OverfittingCurve(TrainResult):
    """A :class:`TrainResult` (so plots take it) plus ``points``: at every evaluation step, the
    validation loss and metric, and the same metric on the training rows and the test split.

    The best checkpoint is not restored: ``metrics`` are where long training ends.
    """

    points: list[dict] = field(default_factory=list)

    def _at(self, step: int | None, key: str) -> float:
        return next((p[key] for p in self.points if p["step"] == step), math.nan)

    @property
    def best_test(self) -> float:
        """Test score at the step the validation score was best (what early stopping keeps)."""
        return self._at(self.best_step, f"test_{self.metric}")

    @property
    def final_test(self) -> float:
        return self.points[-1][f"test_{self.metric}"] if self.points else math.nan

    @property
    def final_gap(self) -> float:
        """Train minus test score at the end: what the model memorised beyond what carries over."""
        return (
            self.points[-1][f"train_{self.metric}"] - self.final_test if self.points else math.nan
        )

    @property
    def eval_loss_rise(self) -> float:
        """Final validation loss minus its lowest value: 0 if it never rose (the paper's claim)."""
        losses = [p["eval_loss"] for p in self.points]
        return losses[-1] - min(losses) if losses else math.nan


def overfitting_curve(
    model: nn.Module,
    task: Task | TaskSplits | str,
    *,
    epochs: float = 10,
    eval_every: int = 20,
    tokenizer=None,
    **train_kwargs,
) -> OverfittingCurve:
    """Long training with frequent validation: the paper's anti-overfitting plot.

    At each evaluation the training rows (up to ``max_eval_examples``) and the test split are
    scored too; the best checkpoint is *not* restored, so the final metrics show where long
    training ends. Other arguments go to :func:`loretta_explore.train`.
    """
    if tokenizer is None:
        from .training import _tokenizer_for

        tokenizer = _tokenizer_for(model, None)
    limit, max_length = train_kwargs.get("max_eval_examples"), train_kwargs.get("max_length", 128)
    train_rows = _train_split(task)
    loaders = {
        "train": make_loader(
            train_rows.head(limit) if limit else train_rows, tokenizer, 64, max_length=max_length
        )
    }
    test = _other_split(task, "test", limit)
    if test is not None:
        loaders["test"] = make_loader(test, tokenizer, 64, max_length=max_length)
    points: list[dict] = []
    metric = train_rows.metric

    def score(record: dict) -> None:
        if "eval_loss" in record:
            point = {
                "step": record["step"],
                "eval_loss": record["eval_loss"],
                f"eval_{metric}": record.get(f"eval_{metric}", math.nan),
            }
            for name, loader in loaders.items():
                scores = evaluate(model, loader, train_rows.metrics)
                point |= {f"{name}_loss": scores["loss"], f"{name}_{metric}": scores[metric]}
            points.append(point)

    callbacks = [score, *train_kwargs.pop("callbacks", ())]
    result = train(
        model,
        task,
        tokenizer=tokenizer,
        epochs=epochs,
        eval_every=eval_every,
        restore_best=False,
        callbacks=callbacks,
        **train_kwargs,
    )
    return OverfittingCurve(**vars(result), points=points)


@dataclass
class SequentialResult:
    """What :func:`sequential_tasks` or :func:`joint_tasks` measured, per task (by name).

    ``right_after[t]``: the test score just after training on task t (sequential runs only);
    ``after[t]``: at the end; ``forgetting[t] = right_after[t] - after[t]`` (positive = forgot).
    ``out["after"]``-style access still works, as for the dict this used to be.
    """

    method: str
    tasks: list[str]
    mode: str  # "sequential" or "joint"
    after: dict[str, float]
    right_after: dict[str, float]
    forgetting: dict[str, float]
    test_examples: dict[str, int]
    metrics: dict[str, str]
    history: dict[str, TrainResult]

    def __getitem__(self, key: str):
        return getattr(self, key)


def _model(method: str, model_factory: Callable | None, method_options: dict | None, seed: int):
    from .models import load_encoder

    _seed_everything(seed)  # the random start (head, TT cores) follows the seed
    model, tokenizer = model_factory() if model_factory else load_encoder(num_labels=2, seed=seed)
    return prepare(model, method, **(method_options or {})), tokenizer


def _test_scores(model, tokenizer, tasks, train_kwargs) -> tuple[dict, dict]:
    scores, sizes = {}, {}
    device = pick_device(train_kwargs.get("device", "auto"))
    for task in tasks:  # on the first max_eval_examples test rows, as train evaluates, when given
        test = _other_split(task, "test", train_kwargs.get("max_eval_examples"))
        loader = make_loader(test, tokenizer, 64, max_length=train_kwargs.get("max_length", 128))
        scores[_name(task)] = evaluate(model, loader, test.metric, device)[test.metric]
        sizes[_name(task)] = len(test)
    return scores, sizes


def _name(task) -> str:
    return task if isinstance(task, str) else task.name


def sequential_tasks(
    method: str,
    tasks: Sequence[str | Task | TaskSplits],
    *,
    model_factory: Callable | None = None,
    method_options: dict | None = None,
    **train_kwargs,
) -> SequentialResult:
    """The paper's sequential multi-task test: train on A, then B, ... then evaluate on all.

    One model (one classifier) learns the tasks in order; forgetting shows as a drop on the
    early tasks. Each stage is a full :func:`loretta_explore.train` run (`train_kwargs` go to
    every stage) that ends with the stage's own test score.
    """
    train_kwargs.pop("evaluate_test", None)  # every stage ends on its test split
    model, tokenizer = _model(method, model_factory, method_options, train_kwargs.get("seed", 0))
    histories, right_after = {}, {}
    for task in tasks:
        result = train(model, task, tokenizer=tokenizer, evaluate_test=True, **train_kwargs)
        histories[_name(task)] = result
        right_after[_name(task)] = result.metrics.get(f"test_{result.metric}", math.nan)
    after, sizes = _test_scores(model, tokenizer, tasks, train_kwargs)
    return SequentialResult(
        method,
        [_name(t) for t in tasks],
        "sequential",
        after,
        right_after,
        {t: right_after[t] - after[t] for t in after},
        sizes,
        {_name(t): _train_split(t).metric for t in tasks},
        histories,
    )


def mixed_task(tasks: Sequence[str], seed: int = 0, name: str = "mixed") -> TaskSplits:
    """Several tasks' splits as one shuffled task (columns ``text``, ``text_pair``, ``label``).

    Single-sentence rows get ``text_pair=None`` and are tokenized alone, pairs as pairs. Every
    task must have the same number of classes: the tasks share one classifier.
    """
    loaded = {t: {s: load_task(t, s) for s in ("train", "validation", "test")} for t in tasks}
    sizes = {loaded[t]["train"].num_labels for t in tasks}
    if len(sizes) != 1:
        raise ValueError(
            f"mixed_task needs tasks with one number of classes; got {sizes} for {list(tasks)}"
        )
    spec = TaskSpec(("text", "text_pair"), tuple(str(i) for i in range(sizes.pop())), "accuracy")
    splits = []
    for split in ("train", "validation", "test"):
        rows = []
        for t in tasks:
            part = loaded[t][split]
            cols = [part.column(c) for c in part.text_columns]
            pairs = cols[1] if len(cols) > 1 else [None] * len(part)
            rows += [
                {"text": a, "text_pair": b, "label": y, "task": t}
                for a, b, y in zip(cols[0], pairs, part.column("label"))
            ]
        random.Random(seed).shuffle(rows)
        splits.append(Task(name, split, rows, spec, ("text", "text_pair", "label")))
    return TaskSplits(*splits)


def joint_tasks(
    method: str,
    tasks: Sequence[str],
    *,
    model_factory: Callable | None = None,
    method_options: dict | None = None,
    **train_kwargs,
) -> SequentialResult:
    """The tasks learned together from one mixed training set (:func:`mixed_task`), then each
    evaluated on its own test split: the reference a sequential run's forgetting is read against."""
    train_kwargs.pop("evaluate_test", None)
    model, tokenizer = _model(method, model_factory, method_options, train_kwargs.get("seed", 0))
    result = train(
        model,
        mixed_task(tasks, train_kwargs.get("seed", 0)),
        tokenizer=tokenizer,
        evaluate_test=False,
        **train_kwargs,
    )
    after, sizes = _test_scores(model, tokenizer, tasks, train_kwargs)
    nan = {t: math.nan for t in tasks}
    return SequentialResult(
        method,
        list(tasks),
        "joint",
        after,
        nan,
        nan,
        sizes,
        {t: load_task(t).metric for t in tasks},
        {"mixed": result},
    )
