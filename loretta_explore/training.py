"""A small, explicit training loop: :func:`train` and :func:`evaluate`.

The paper's recipe (``docs/method.md#recipe``): AdamW, plain backpropagation, a linear schedule,
the best checkpoint by validation. :func:`train` is that loop in one screen of code, with what a
notebook needs on top: callbacks for live plots, a tqdm bar, timing and peak memory, gradient
accumulation and mixed precision as the Hugging Face Trainer offers them, and two ways a run
stops early without losing what it did: Ctrl-C returns the result so far, and a non-finite loss
or gradient raises :class:`TrainingDiverged` carrying it, with the model put back at its last
good parameters. Every argument is checked before the model is touched.

Several methods and seeds side by side: :mod:`loretta_explore.comparison`; the paper's side
experiments: :mod:`loretta_explore.experiments`.
"""

from __future__ import annotations

import contextlib
import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .baselines import trainable_parameters
from .batching import make_loader
from .data import Task, has_split, load_task
from .metrics import compute_all, predictions_from_logits
from .train_setup import (
    PeakMemory,
    autocast_dtype,
    check_labels,
    check_parameters_finite,
    check_settings,
    pick_device,
)
from .user_tasks import TaskSplits

__all__ = ["TrainResult", "TrainingDiverged", "evaluate", "pick_device", "train"]

_PeakMemory = PeakMemory  # the name benchmarks/train_step.py imports


@dataclass
class TrainResult:
    """What a run produced.

    Attributes
    ----------
    history : one dict per logged step ("step", "loss", "lr", "grad_norm": the gradient's norm
        before clipping) and per evaluation ("step",
        "eval_loss", "eval_<metric>" for each of the task's metrics).
    metrics : the test split's scores at the end, "test_loss" and "test_<metric>" (empty when
        the run was interrupted, diverged, or had no test split).
    metric : the metric that chose the best checkpoint ("accuracy", "f1", "pearson", ...).
    best_step : the step whose validation score was best (None without validation).
    steps : optimizer updates the model's parameters reflect.
    stopped : None for a run that finished, else why it stopped early.
    """

    history: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    trainable_params: int = 0
    total_params: int = 0
    seconds_per_step: float = float("nan")
    peak_memory_mb: float = float("nan")
    best_step: int | None = None
    steps: int = 0
    interrupted: bool = False
    device: str = "cpu"
    metric: str = "accuracy"
    stopped: str | None = None

    @property
    def best_validation(self) -> float:
        """The best validation score of the run (the checkpoint `best_step`), NaN if none.

        For "perplexity" the lowest is best; for every other metric the highest."""
        values = [h[f"eval_{self.metric}"] for h in self.history if f"eval_{self.metric}" in h]
        values = [v for v in values if not math.isnan(v)]
        if not values:
            return math.nan
        return min(values) if self.metric == "perplexity" else max(values)

    def summary(self) -> dict:
        return dict(
            steps=self.steps,
            trainable_params=self.trainable_params,
            **self.metrics,
            seconds_per_step=round(self.seconds_per_step, 4),
            peak_memory_mb=round(self.peak_memory_mb, 1),
            interrupted=self.interrupted,
        )


class TrainingDiverged(RuntimeError):
    """The loss or the gradient stopped being finite (NaN or infinity) during :func:`train`.

    ``.result`` is the :class:`TrainResult` up to that point (its ``stopped`` says where), and
    the model has been put back at the last parameters whose loss and gradient were finite.
    """

    def __init__(self, message: str, result: TrainResult):
        super().__init__(message)
        self.result = result


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass


def _train_split(task: Task | TaskSplits | str) -> Task:
    if isinstance(task, str):
        return load_task(task, "train")
    return task.train if isinstance(task, TaskSplits) else task


def _other_split(
    task: Task | TaskSplits | str, split: str, limit: int | None = None
) -> Task | None:
    """The `split` of the same task, its first `limit` rows if given; None if there is none.

    A user's task carries its splits (TaskSplits, or a Task's ``family``); a bundled or GLUE task
    is loaded by name. A split whose labels are all -1 (GLUE's hidden test labels) counts as none.
    """
    if isinstance(task, TaskSplits):
        found = task.get(split)
    elif isinstance(task, Task) and task.family is not None:
        found = task.family.get(split)
    else:
        name = task if isinstance(task, str) else task.name
        found = load_task(name, split) if has_split(name, split) else None
    if found is None:
        return None
    if found.spec.label_column and all(y == -1 for y in found.column(found.spec.label_column)):
        return None
    return found.head(limit) if limit else found


def _tokenizer_for(model: nn.Module, tokenizer):
    if tokenizer is not None:
        return tokenizer
    from transformers import AutoTokenizer

    path = getattr(getattr(model, "config", None), "_name_or_path", "")
    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as err:
        raise ValueError(
            "train() needs the model's tokenizer: pass tokenizer=..., e.g. "
            "model, tok = lx.load_encoder(); lx.train(model, 'sentiment', tokenizer=tok)"
        ) from err


@torch.no_grad()
def evaluate(
    model: nn.Module, loader, metric: str | Sequence[str] = "accuracy", device=None
) -> dict:
    """Mean loss and the task's metrics on every batch of `loader`.

    `metric` is one name or several (:data:`loretta_explore.metrics.METRICS`: "accuracy", "f1",
    "matthews", "pearson", "spearman"), or "perplexity" for a corpus (exp of the mean loss).
    Predictions are the argmax of the logits, or the single output of a regression head.
    """
    device = device or next(model.parameters()).device
    names = (metric,) if isinstance(metric, str) else tuple(metric)
    was_training = model.training
    model.eval()
    losses, weights, predictions, labels = [], [], [], []
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model(**batch)
        losses.append(out.loss.item())
        weights.append(batch["input_ids"].shape[0])
        if "perplexity" not in names:
            predictions.append(predictions_from_logits(out.logits).cpu())  # (batch,)
            labels.append(batch["labels"].cpu())
    model.train(was_training)
    loss = sum(value * n for value, n in zip(losses, weights)) / max(sum(weights), 1)
    if "perplexity" in names:
        return {"loss": loss, "perplexity": math.exp(min(loss, 50))}
    return {"loss": loss, **compute_all(names, torch.cat(predictions), torch.cat(labels))}


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def train(
    model: nn.Module,
    task: Task | TaskSplits | str,
    *,
    tokenizer=None,
    epochs: float | None = None,
    max_steps: int | None = None,
    batch_size: int = 16,
    learning_rate: float = 5e-4,
    weight_decay: float = 0.0,
    warmup_ratio: float = 0.06,
    eval_every: int | None = None,
    max_length: int = 128,
    seed: int = 0,
    device: str | torch.device = "auto",
    callbacks: Sequence[Callable[[dict], None]] = (),
    progress: bool = True,
    restore_best: bool = True,
    evaluate_test: bool = True,
    log_every: int = 1,
    max_eval_examples: int | None = None,
    gradient_accumulation_steps: int = 1,
    mixed_precision: str | None = None,
    max_grad_norm: float | None = 1.0,
) -> TrainResult:
    """Fine-tune the trainable parameters of `model` on `task` and evaluate it.

    Parameters
    ----------
    model : a Hugging Face model, possibly wrapped (LorettaModel, a PEFT model); only parameters
        with ``requires_grad`` are trained. Its head must fit the task's labels.
    task : a task name ("sentiment", "paraphrase", GLUE names), a loaded split, or your own
        task from :func:`loretta_explore.task_from` (its validation and test splits are used).
    epochs, max_steps : budget in epochs, or in optimizer steps (wins when both are given);
        neither: one epoch. Both must be positive.
    batch_size : examples per forward pass; with ``gradient_accumulation_steps=k`` one optimizer
        step sees k batches (an effective batch of k * batch_size).
    eval_every : evaluate on the validation split every N steps (and at the end); the best
        checkpoint by the validation metric is restored at the end when `restore_best`.
    callbacks : called with every history record as it is made (live plots).
    max_eval_examples : evaluate on the first N validation and test examples only (quick runs).
    mixed_precision : None (float32), "bf16" (CPU and recent GPUs) or "fp16" (CUDA only, with
        loss scaling): the forward pass runs under ``torch.autocast``; parameters stay float32.
    max_grad_norm : clip the gradient's total norm to this (None: no clipping). Each logged
        record carries the norm before clipping as "grad_norm".

    Returns
    -------
    TrainResult
        Ctrl-C (KeyboardInterrupt) stops the run and returns what was done (``interrupted``).

    Raises
    ------
    TrainingDiverged
        A non-finite loss or gradient; ``err.result`` holds the history, and the model is back
        at its last good parameters.
    """
    check_settings(
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        warmup_ratio=warmup_ratio,
        eval_every=eval_every,
        max_length=max_length,
        seed=seed,
        log_every=log_every,
        max_eval_examples=max_eval_examples,
        gradient_accumulation_steps=gradient_accumulation_steps,
        callbacks=callbacks,
        max_grad_norm=max_grad_norm,
    )
    device = pick_device(device)
    dtype = autocast_dtype(mixed_precision, device)
    tokenizer = _tokenizer_for(model, tokenizer)
    train_task = _train_split(task)
    if len(train_task) == 0:
        raise ValueError(
            f"the training split of {train_task.name!r} is empty: there is nothing to "
            f"train on. Check the file or the data given to lx.task_from"
        )
    validation = _other_split(task, "validation", max_eval_examples)
    test = _other_split(task, "test", max_eval_examples) if evaluate_test else None
    for split in (train_task, validation, test):
        check_labels(split, model)
    check_parameters_finite(model)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(
            "the model has no trainable parameters: set one up first, e.g. "
            "lx.get_loretta_model(model, lx.LorettaConfig()) or lx.prepare(model, 'lora')"
        )
    metrics = train_task.metrics
    loader = make_loader(
        train_task, tokenizer, batch_size, shuffle=True, seed=seed, max_length=max_length
    )
    val_loader = (
        make_loader(validation, tokenizer, 64, max_length=max_length)
        if validation is not None
        else None
    )
    accumulate = gradient_accumulation_steps
    total = max_steps or max(1, math.ceil((epochs or 1) * len(loader) / accumulate))
    # -- everything is checked; from here on the model changes --------------------------------
    _seed_everything(seed)
    model.to(device).train()
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
    warmup = int(warmup_ratio * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (
            (s + 1) / max(warmup, 1)
            if s < warmup
            else max(0.0, (total - s) / max(total - warmup, 1))
        ),
    )
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    result = TrainResult(
        trainable_params=trainable_parameters(model),
        metric=metrics[0],
        total_params=sum(p.numel() for p in model.parameters()),
        device=str(device),
    )
    best_score, best_state, step_times = -math.inf, None, []
    last_good = [p.detach().clone() for p in params]  # the parameters before the latest update

    def log(record: dict) -> None:
        result.history.append(record)
        for callback in callbacks:
            callback(record)

    def run_eval(step: int) -> None:
        nonlocal best_score, best_state
        scores = evaluate(model, val_loader, metrics, device)
        log({"step": step, **{f"eval_{k}": v for k, v in scores.items()}})
        score = -scores["loss"] if metrics[0] == "perplexity" else scores[metrics[0]]
        if score > best_score:
            best_score, result.best_step = score, step
            best_state = {
                n: p.detach().to("cpu", copy=True)
                for n, p in model.named_parameters()
                if p.requires_grad
            }

    def diverged(step: int, what: str, value: float) -> TrainingDiverged:
        with torch.no_grad():
            for p, good in zip(params, last_good):
                p.copy_(good)
        result.steps = max(step - 2, 0)
        result.stopped = f"non-finite {what} ({value}) at step {step}"
        return TrainingDiverged(
            f"Training stopped: {result.stopped}. The model is back at its parameters after step "
            f"{result.steps} (the last whose loss and gradient were finite); the history so far "
            "is in "
            "err.result. Usual causes: a learning rate too large (try 10x smaller), NaN/inf in the "
            "inputs or parameters, or fp16 overflow (try mixed_precision='bf16' or None).",
            result,
        )

    def micro_batches():  # endless, reshuffled every epoch
        while True:
            yield from loader

    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="training", disable=not progress, leave=False)
    memory, stream, step = PeakMemory(device), micro_batches(), 0
    try:
        with memory:
            while step < total:
                start = time.perf_counter()
                optimizer.zero_grad(set_to_none=True)
                losses = []
                for _ in range(accumulate):
                    batch = {k: v.to(device) for k, v in next(stream).items()}
                    with _autocast(device, dtype):
                        loss = model(**batch).loss
                    losses.append(loss.item())
                    if not math.isfinite(losses[-1]):
                        log({"step": step + 1, "loss": losses[-1]})
                        raise diverged(step + 1, "loss", losses[-1])
                    (scaler.scale(loss / accumulate) if scaler else loss / accumulate).backward()
                if scaler:
                    scaler.unscale_(optimizer)
                norm = float(torch.nn.utils.clip_grad_norm_(params, max_grad_norm or math.inf))
                if (
                    not math.isfinite(norm) and scaler is None
                ):  # fp16's scaler skips such steps itself
                    raise diverged(step + 1, "gradient norm", norm)
                with torch.no_grad():
                    for good, p in zip(last_good, params):
                        good.copy_(p)
                scaler.step(optimizer) if scaler else optimizer.step()
                if scaler:
                    scaler.update()
                schedule.step()
                step += 1
                step_times.append(time.perf_counter() - start)
                result.steps = step
                loss_value = sum(losses) / len(losses)
                if step % log_every == 0 or step == total:
                    log(
                        {
                            "step": step,
                            "loss": loss_value,
                            "lr": schedule.get_last_lr()[0],
                            "grad_norm": norm,
                        }
                    )
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.3f}")
                if val_loader is not None and eval_every and step % eval_every == 0:
                    run_eval(step)
            if not all(torch.isfinite(p).all() for p in params):  # the last update went bad
                raise diverged(step + 1, "parameters after the last update", math.nan)
            if val_loader is not None and (not eval_every or step % eval_every):
                run_eval(step)
    except KeyboardInterrupt:
        result.interrupted, result.stopped = True, f"interrupted after step {step}"
    finally:
        bar.close()
        result.peak_memory_mb = memory.peak or float("nan")
        result.seconds_per_step = statistics.median(step_times) if step_times else float("nan")
    if restore_best and best_state is not None and not result.interrupted:
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in best_state:
                    p.copy_(best_state[n])
    if test is not None and not result.interrupted:
        scores = evaluate(
            model, make_loader(test, tokenizer, 64, max_length=max_length), metrics, device
        )
        result.metrics = {f"test_{k}": v for k, v in scores.items()}
    return result
