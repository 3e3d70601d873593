"""LoRETTA_rep's three starts compared on a real model: the experiment behind lesson 06's widget.

With the paper's Gaussian A and B, the update s * B(A(x)) is not zero before training, so the
adapted model no longer computes the pretrained function; the paper describes subtracting that
initial update ("compensated"), and a zero last core of B ("zero") is LoRA's way
(docs/method.md#starts). :func:`compare_starts` gives each start a fresh model with the same
seed, measures how far step 0 moves the outputs, then trains each for the same steps. It returns
a :class:`StartsComparison`, which :func:`loretta_explore.plots.init_comparison_plot` draws and
:func:`loretta_explore.widgets.init_comparison` shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from .adapt import LorettaConfig, get_loretta_model
from .batching import make_loader
from .data import Task, load_task
from .training import TrainResult, train

__all__ = ["StartResult", "StartsComparison", "compare_starts", "output_change"]


@dataclass
class StartResult:
    """One start of LoRETTA_rep: its effect at step 0 and its short training run.

    Attributes
    ----------
    init : "paper" | "compensated" | "zero"
    output_change : float
        ||h_adapted - h_pretrained|| / ||h_pretrained|| of the last hidden state at step 0, on one
        batch, in eval mode. 0 means the adapted model starts as the pretrained one.
    logit_change : float
        The same for the logits (the classifier is fresh, so this mostly shows the update).
    history : list of dict
        The training records ("step", "loss", "eval_<metric>").
    metrics : dict
        The test metrics at the end ("test_accuracy", ...).
    final_loss : float
        The last training loss (nan when no step ran).
    result : TrainResult
    """

    init: str
    output_change: float
    logit_change: float
    history: list[dict]
    metrics: dict
    final_loss: float
    result: TrainResult | None = None

    def __getitem__(self, key: str) -> Any:  # the dict form the widget used to store
        if key not in self.__dataclass_fields__:
            raise KeyError(f"{key!r}; a StartResult has {list(self.__dataclass_fields__)}")
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __contains__(self, key: str) -> bool:
        return key in self.__dataclass_fields__


@dataclass
class StartsComparison(Mapping):
    """Every start's :class:`StartResult`, in run order; reads like ``{init: StartResult}``.

    task : the task's name; metric : its metric ("accuracy", ...); settings : what was run
    (steps, batch size, examples, seed, learning rate ...).
    """

    starts: dict[str, StartResult] = field(default_factory=dict)
    task: str = ""
    metric: str = "accuracy"
    settings: dict = field(default_factory=dict)

    def __getitem__(self, init: str) -> StartResult:
        return self.starts[init]

    def __iter__(self) -> Iterator[str]:
        return iter(self.starts)

    def __len__(self) -> int:
        return len(self.starts)

    def score(self, init: str) -> float:
        """The test metric of one start (nan when the run did not evaluate)."""
        return float(self.starts[init].metrics.get(f"test_{self.metric}", float("nan")))

    def rows(self) -> list[dict]:
        """One flat dict per start: init, output_change, logit_change, final_loss, test metric."""
        return [
            dict(
                init=name,
                output_change=s.output_change,
                logit_change=s.logit_change,
                final_loss=s.final_loss,
                **{f"test_{self.metric}": self.score(name)},
            )
            for name, s in self.starts.items()
        ]


def _outputs(model, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The last hidden state and the logits on `batch`, in eval mode (no dropout noise)."""
    model.eval()
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    return out.hidden_states[-1], out.logits  # (batch, seq, hidden), (batch, labels)


def output_change(before: torch.Tensor, after: torch.Tensor) -> float:
    """||after - before|| / ||before||: how far an adaptation moved an output."""
    norm = float(before.norm())
    return float((after - before).norm()) / norm if norm else float((after - before).norm())


def compare_starts(
    model_factory: Callable | None = None,
    task: Task | str = "sentiment",
    inits=("paper", "compensated", "zero"),
    train_examples: int = 48,
    max_steps: int = 6,
    batch_size: int = 8,
    seed: int = 0,
    max_eval_examples: int = 16,
    on_start: Callable[[str], None] | None = None,
    config: Mapping | None = None,
    **train_kwargs,
) -> StartsComparison:
    """LoRETTA_rep with each start on a fresh model: output change at step 0, then training.

    Parameters
    ----------
    model_factory : callable returning (model, tokenizer), optional
        Default: the bundled encoder with as many labels as the task.
    task : Task or name; its first `train_examples` training rows are used.
    inits : the starts to compare, in order.
    config : dict, optional
        Other LorettaConfig settings. Default ``head="dense", train_classifier=True``: the
        pretrained pooler and the classifier train, so only the rep update differs between starts.
    on_start : called with each init's name before it runs (a widget shows it).
    train_kwargs : more :func:`~loretta_explore.training.train` arguments (learning_rate, ...).

    Every init gets the same seed before its cores are drawn, so "paper" and "compensated" start
    from the same A and B.
    """
    train_task = load_task(task) if isinstance(task, str) else task
    train_task = train_task.head(train_examples)
    if model_factory is None:
        from .models import load_encoder

        model_factory = lambda: load_encoder(num_labels=train_task.num_labels)  # noqa: E731
    settings = {"head": "dense", "train_classifier": True, **(config or {})}
    run = {
        **dict(
            max_steps=max_steps,
            batch_size=batch_size,
            seed=seed,
            progress=False,
            max_eval_examples=max_eval_examples,
        ),
        **train_kwargs,
    }
    comparison = StartsComparison(
        task=train_task.name,
        metric=train_task.metric,
        settings=dict(train_examples=len(train_task), **run, **settings),
    )
    for init in inits:
        if on_start is not None:
            on_start(init)
        model, tokenizer = model_factory()
        batch = next(iter(make_loader(train_task, tokenizer, batch_size=16)))
        hidden, logits = _outputs(model, batch)
        torch.manual_seed(seed)  # the same cores for every init
        adapted = get_loretta_model(model, LorettaConfig(method="rep", init=init, **settings))
        hidden0, logits0 = _outputs(adapted, batch)
        result = train(adapted, train_task, tokenizer=tokenizer, **run)
        losses = [r["loss"] for r in result.history if "loss" in r]
        comparison.starts[init] = StartResult(
            init=init,
            output_change=output_change(hidden, hidden0),
            logit_change=output_change(logits, logits0),
            history=result.history,
            metrics=dict(result.metrics),
            final_loss=losses[-1] if losses else float("nan"),
            result=result,
        )
    return comparison
