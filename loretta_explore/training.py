"""A small, explicit training loop, and side-by-side comparisons of fine-tuning methods.

The paper's recipe (METHOD.md section 7): AdamW, plain backpropagation, a linear schedule, the
best checkpoint by validation. :func:`train` is that loop in one screen of code, with what a
notebook needs on top: callbacks for live plots, a tqdm bar, timing and peak memory, and Ctrl-C
that returns what was done instead of losing it. :func:`compare` runs several methods on one task
with the same data, seed and step budget; :func:`sequential_tasks` and :func:`overfitting_curve`
are the paper's two side experiments (section 6).
"""

from __future__ import annotations

import math
import random
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .baselines import prepare, trainable_parameters
from .data import Task, load_task, make_loader

__all__ = ["TrainResult", "compare", "evaluate", "overfitting_curve", "pick_device", "sequential_tasks", "train"]


@dataclass
class TrainResult:
    """What a run produced. ``history`` has one dict per logged step ("step", "loss", "lr",
    and "eval_loss" / "eval_<metric>" on evaluation steps)."""

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

    def summary(self) -> dict:
        return dict(steps=self.steps, trainable_params=self.trainable_params, **self.metrics,
                    seconds_per_step=round(self.seconds_per_step, 4), peak_memory_mb=round(self.peak_memory_mb, 1),
                    interrupted=self.interrupted)


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """"auto": CUDA if present, then Apple's MPS, then the CPU."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class _PeakMemory:
    """Peak memory during a block: max allocated on CUDA, sampled resident set size on the CPU."""

    def __init__(self, device: torch.device):
        self.device, self.peak, self._stop = device, 0.0, threading.Event()

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            import psutil

            process = psutil.Process()

            def sample():
                while not self._stop.is_set():
                    self.peak = max(self.peak, process.memory_info().rss / 2**20)
                    self._stop.wait(0.05)

            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            self._stop.set()
            self._thread.join()
        return False


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass


def _as_task(task: Task | str, split: str) -> Task:
    return load_task(task, split) if isinstance(task, str) else task


def _split(task: Task | str, split: str, limit: int | None = None) -> Task | None:
    """Another split of the same task (None if it has none), its first `limit` rows if given."""
    name = task if isinstance(task, str) else task.name
    try:
        loaded = load_task(name, split)
    except ValueError:
        return None
    return loaded.head(limit) if limit else loaded


def _tokenizer_for(model: nn.Module, tokenizer):
    if tokenizer is not None:
        return tokenizer
    from transformers import AutoTokenizer

    path = getattr(getattr(model, "config", None), "_name_or_path", "")
    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as err:
        raise ValueError("train() needs the model's tokenizer: pass tokenizer=..., e.g. "
                         "model, tok = lx.load_encoder(); lx.train(model, 'sentiment', tokenizer=tok)") from err


def _metric(name: str, predictions: torch.Tensor, labels: torch.Tensor) -> float:
    if name == "f1":
        tp = int(((predictions == 1) & (labels == 1)).sum())
        fp = int(((predictions == 1) & (labels == 0)).sum())
        fn = int(((predictions == 0) & (labels == 1)).sum())
        return 2 * tp / max(2 * tp + fp + fn, 1)
    if name == "matthews":
        tp, tn = float(((predictions == 1) & (labels == 1)).sum()), float(((predictions == 0) & (labels == 0)).sum())
        fp, fn = float(((predictions == 1) & (labels == 0)).sum()), float(((predictions == 0) & (labels == 1)).sum())
        denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return (tp * tn - fp * fn) / denominator if denominator else 0.0
    return float((predictions == labels).float().mean())


@torch.no_grad()
def evaluate(model: nn.Module, loader, metric: str = "accuracy", device=None) -> dict:
    """Mean loss and the task's metric ("accuracy", "f1", "matthews"; "perplexity" for a corpus)."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    losses, weights, predictions, labels = [], [], [], []
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model(**batch)
        losses.append(out.loss.item())
        weights.append(batch["input_ids"].shape[0])
        if metric != "perplexity":
            predictions.append(out.logits.argmax(-1).cpu())
            labels.append(batch["labels"].cpu())
    model.train(was_training)
    loss = sum(value * n for value, n in zip(losses, weights)) / max(sum(weights), 1)
    if metric == "perplexity":
        return {"loss": loss, "perplexity": math.exp(min(loss, 50))}
    return {"loss": loss, metric: _metric(metric, torch.cat(predictions), torch.cat(labels))}


def train(model: nn.Module, task: Task | str, *, tokenizer=None, epochs: float | None = None,
          max_steps: int | None = None, batch_size: int = 16, learning_rate: float = 5e-4,
          weight_decay: float = 0.0, warmup_ratio: float = 0.06, eval_every: int | None = None,
          max_length: int = 128, seed: int = 0, device: str | torch.device = "auto",
          callbacks: Sequence[Callable[[dict], None]] = (), progress: bool = True,
          restore_best: bool = True, evaluate_test: bool = True, log_every: int = 1,
          max_eval_examples: int | None = None) -> TrainResult:
    """Fine-tune the trainable parameters of `model` on `task` and evaluate it.

    Parameters
    ----------
    model : a Hugging Face model, possibly wrapped (LorettaModel, a PEFT model); only parameters
        with ``requires_grad`` are trained.
    task : a task name ("sentiment", "paraphrase", GLUE names) or a loaded train split.
    epochs, max_steps : budget; `max_steps` wins when both are given; neither: one epoch.
    eval_every : evaluate on the validation split every N steps (and at the end); the best
        checkpoint by the validation metric is restored at the end when `restore_best`.
    callbacks : called with every history record as it is made (live plots).
    max_eval_examples : evaluate on the first N validation and test examples only (quick runs).

    Returns
    -------
    TrainResult
        Ctrl-C (KeyboardInterrupt) stops the run and returns what was done (``interrupted``).
    """
    _seed_everything(seed)
    device = pick_device(device)
    tokenizer = _tokenizer_for(model, tokenizer)
    train_task = _as_task(task, "train")
    metric = train_task.metric
    validation = _split(task, "validation", max_eval_examples)
    loader = make_loader(train_task, tokenizer, batch_size, shuffle=True, seed=seed, max_length=max_length)
    val_loader = make_loader(validation, tokenizer, 64, max_length=max_length) if validation is not None else None
    total = max_steps or max(1, math.ceil((epochs or 1) * len(loader)))
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters: set one up first, e.g. "
                         "lx.get_loretta_model(model, lx.LorettaConfig()) or baselines.prepare(model, 'lora')")
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
    warmup = int(warmup_ratio * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / max(warmup, 1) if s < warmup else max(0.0, (total - s) / max(total - warmup, 1)))
    result = TrainResult(trainable_params=trainable_parameters(model),
                         total_params=sum(p.numel() for p in model.parameters()), device=str(device))
    best_score, best_state, step_times = -math.inf, None, []

    def log(record: dict) -> None:
        result.history.append(record)
        for callback in callbacks:
            callback(record)

    def run_eval(step: int) -> None:
        nonlocal best_score, best_state
        scores = evaluate(model, val_loader, metric, device)
        log({"step": step, **{f"eval_{k}": v for k, v in scores.items()}})
        score = -scores["loss"] if metric == "perplexity" else scores[metric]
        if score > best_score:
            best_score, result.best_step = score, step
            best_state = {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}

    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="training", disable=not progress, leave=False)
    step = 0
    try:
        with _PeakMemory(device) as memory:
            while step < total:
                for batch in loader:
                    start = time.perf_counter()
                    batch = {k: v.to(device) for k, v in batch.items()}
                    loss = model(**batch).loss
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(params, 1.0)
                    optimizer.step()
                    schedule.step()
                    step += 1
                    step_times.append(time.perf_counter() - start)
                    result.steps = step
                    if step % log_every == 0 or step == total:
                        log({"step": step, "loss": loss.item(), "lr": schedule.get_last_lr()[0]})
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss.item():.3f}")
                    if val_loader is not None and eval_every and step % eval_every == 0:
                        run_eval(step)
                    if step >= total:
                        break
            if val_loader is not None and (not eval_every or step % eval_every):
                run_eval(step)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        bar.close()
    result.peak_memory_mb = memory.peak if "memory" in locals() else float("nan")
    result.seconds_per_step = statistics.median(step_times) if step_times else float("nan")
    if restore_best and best_state is not None and not result.interrupted:
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in best_state:
                    p.copy_(best_state[n])
    if evaluate_test and not result.interrupted:
        test = _split(task, "test", max_eval_examples)
        if test is not None:
            scores = evaluate(model, make_loader(test, tokenizer, 64, max_length=max_length), metric, device)
            result.metrics = {f"test_{k}": v for k, v in scores.items()}
    return result


def compare(methods: Sequence[str], task: Task | str, *, model_factory: Callable | None = None,
            method_options: dict | None = None, progress: bool = True, **train_kwargs) -> tuple[list[dict], dict]:
    """Fine-tune a fresh model with each method on the same data, seed and step budget.

    `model_factory()` returns ``(model, tokenizer)`` (default: the bundled encoder with as many
    labels as the task). `method_options` maps a method to its hyperparameters, e.g.
    ``{"lora": {"r": 8}, "loretta_rep": {"train_classifier": True}}``. Returns the table (one row per
    method) and the full :class:`TrainResult` of each.
    """
    if model_factory is None:
        from .models import load_encoder

        num_labels = _as_task(task, "train").num_labels
        model_factory = lambda: load_encoder(num_labels=num_labels)  # noqa: E731
    rows, results = [], {}
    for method in methods:
        _seed_everything(train_kwargs.get("seed", 0))  # the same random start (heads, TT cores) per method
        model, tokenizer = model_factory()
        model = prepare(model, method, **(method_options or {}).get(method, {}))
        if progress:
            print(f"{method}: {trainable_parameters(model):,} trainable parameters")
        result = train(model, task, tokenizer=tokenizer, progress=progress, **train_kwargs)
        results[method] = result
        rows.append({"method": method, **result.summary()})
    return rows, results


def sequential_tasks(method: str, tasks: Sequence[str], *, model_factory: Callable | None = None,
                     method_options: dict | None = None, **train_kwargs) -> dict:
    """The paper's sequential multi-task test: train on A, then B, ... then evaluate on all.

    One model (one classifier) learns the tasks in order; forgetting shows as a drop on the
    early tasks. Returns {"after": {task: test metric after the whole sequence}, "test_examples":
    {task: how many test rows that used}, "history": ...}.
    """
    if model_factory is None:
        from .models import load_encoder

        model_factory = lambda: load_encoder(num_labels=2)  # noqa: E731
    model, tokenizer = model_factory()
    model = prepare(model, method, **(method_options or {}))
    histories = {}
    for name in tasks:
        histories[name] = train(model, name, tokenizer=tokenizer, evaluate_test=False, **train_kwargs)
    after, sizes = {}, {}
    device = pick_device(train_kwargs.get("device", "auto"))
    for name in tasks:  # on the first max_eval_examples test rows, as train evaluates, when given
        test = _split(name, "test", train_kwargs.get("max_eval_examples"))
        scores = evaluate(model, make_loader(test, tokenizer, 64, max_length=train_kwargs.get("max_length", 128)),
                          test.metric, device)
        after[name], sizes[name] = scores[test.metric], len(test)
    return {"method": method, "after": after, "test_examples": sizes, "history": histories}


def overfitting_curve(model: nn.Module, task: Task | str, *, epochs: float = 10, eval_every: int = 20,
                      **train_kwargs) -> TrainResult:
    """Long training with frequent validation: the paper's anti-overfitting plot (section 6).

    The best checkpoint is *not* restored, so the final metrics show where long training ends.
    """
    return train(model, task, epochs=epochs, eval_every=eval_every, restore_best=False, **train_kwargs)
