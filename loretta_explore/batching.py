"""Token ids and padded batches from a task: what training and evaluation iterate over.

Why apart from data.py: a task (its rows, labels and splits) is one idea, turning it into
tensors for a model is another; training.py, experiments.py and the widgets use both.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from torch.utils.data import DataLoader

from .data import GLUE_TASKS, LOCAL_TASKS, Task, known_tasks, load_task


def task_text_columns(task: Task | str) -> tuple[str, ...]:
    """The columns the tokenizer reads: one for single sentences, two for pairs."""
    if isinstance(task, Task):
        return task.text_columns
    key = task.lower()
    spec = LOCAL_TASKS.get(key) or GLUE_TASKS.get(key)
    if spec is None:
        raise ValueError(f"Unknown task {task!r}. Known tasks: {', '.join(known_tasks())}.")
    return spec.text_columns


def tokenize_task(task: Task, tokenizer: Any, max_length: int = 128) -> list[dict[str, Any]]:
    """Token ids for every example, unpadded (padding happens per batch in :func:`collate`).

    Pairs go to the tokenizer as two texts so that it adds its separator and segment ids; a row
    whose second text is None is tokenized as a single sentence (tasks mixed for multi-task
    training).
    Classification examples get an integer ``labels`` (a float for STS-B); corpus lines get
    ``labels`` equal to their own ``input_ids`` (the model shifts them for next-token loss).
    """
    texts = [task.column(c) for c in task.text_columns]
    if len(texts) == 2 and any(t is None for t in texts[1]):  # mixed singles and pairs (multi-task)
        groups = [
            [i for i, t in enumerate(texts[1]) if (t is None) == single] for single in (True, False)
        ]
        encs = [
            tokenizer(
                *[[col[i] for i in idx] for col in texts[: 1 if g == 0 else 2]],
                truncation=True,
                max_length=max_length,
            )
            if idx
            else None
            for g, idx in enumerate(groups)
        ]
        keys = [
            k
            for k in ("input_ids", "attention_mask", "token_type_ids")
            if k in (encs[0] or encs[1])
        ]
        feats: list[dict[str, Any]] = [{} for _ in range(len(task))]
        for idx, enc in zip(groups, encs):
            for j, i in enumerate(idx):
                feats[i] = {k: list(enc[k][j]) for k in keys}
    else:
        enc = tokenizer(*texts, truncation=True, max_length=max_length)
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
        feats = [{k: list(enc[k][i]) for k in keys} for i in range(len(task))]
    if task.spec.label_column is None:  # causal LM: end each line so the model learns to stop
        eos = getattr(tokenizer, "eos_token_id", None)
        for f in feats:
            if eos is not None and f["input_ids"][-1] != eos and len(f["input_ids"]) < max_length:
                for k in keys:
                    f[k].append(eos if k == "input_ids" else f[k][-1])
            f["labels"] = list(f["input_ids"])
    else:
        for row, (f, y) in enumerate(zip(feats, task.column(task.spec.label_column))):
            f["labels"] = _label_value(task, row, y)
    return feats


def _label_value(task: Task, row: int, y: Any) -> int | float:
    """The number the loss reads: a float for a regression, a class id otherwise (a label given
    as one of ``task.label_names`` is mapped to its position in that list)."""
    if task.regression:
        return float(y)
    if isinstance(y, str):
        if y in task.label_names:
            return task.label_names.index(y)
        raise ValueError(
            f"Task {task.name!r} ({task.split}), row {row}: the label {y!r} is a string that is "
            f"not one of the task's label names {task.label_names}. Give labels as class ids "
            "0..n-1 or as those names; for your own data, lx.task_from(data, text='text', "
            "label='label') maps string labels to ids for you."
        )
    return y


def collate(features: Sequence[dict[str, Any]], pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad a list of tokenized examples to the longest one (dynamic padding), on the right.

    Per-token ``labels`` (causal LM) are padded with -100, the index cross-entropy ignores, so
    padding never counts in the loss even when the pad id equals the end-of-text id.
    """
    n, width = len(features), max(len(f["input_ids"]) for f in features)
    batch = {
        "input_ids": torch.full((n, width), pad_token_id, dtype=torch.long),
        "attention_mask": torch.zeros((n, width), dtype=torch.long),
    }  # (batch, seq)
    if "token_type_ids" in features[0]:
        batch["token_type_ids"] = torch.zeros((n, width), dtype=torch.long)
    per_token = "labels" in features[0] and isinstance(features[0]["labels"], list)
    if per_token:
        batch["labels"] = torch.full((n, width), -100, dtype=torch.long)
    for i, f in enumerate(features):
        k = len(f["input_ids"])
        batch["input_ids"][i, :k] = torch.tensor(f["input_ids"])
        batch["attention_mask"][i, :k] = 1
        if "token_type_ids" in batch:
            batch["token_type_ids"][i, :k] = torch.tensor(f["token_type_ids"])
        if per_token:
            batch["labels"][i, :k] = torch.tensor(f["labels"])
    if "labels" in features[0] and not per_token:
        batch["labels"] = torch.tensor([f["labels"] for f in features])  # (batch,)
    return batch


def _pad_id(tokenizer: Any) -> int:
    for attr in ("pad_token_id", "eos_token_id"):
        value = getattr(tokenizer, attr, None)
        if value is not None:
            return int(value)
    return 0


def make_loader(
    task: Task,
    tokenizer: Any,
    batch_size: int = 16,
    shuffle: bool = False,
    seed: int = 0,
    max_length: int = 128,
) -> DataLoader:
    """A DataLoader of padded batches: ``input_ids``, ``attention_mask`` (and ``token_type_ids``
    when the tokenizer makes them), ``labels``; each tensor is (batch, seq) or (batch,).

    Shuffling draws from its own seeded generator, so the same seed gives the same batches
    without touching the global random state.
    """
    if not isinstance(task, Task):
        raise TypeError(
            f"make_loader needs a Task, got {type(task).__name__} {task!r:.40}. Load one first: "
            f"lx.make_loader(lx.load_task('sentiment', 'train'), tokenizer)"
        )
    if not callable(tokenizer):
        raise TypeError(
            f"make_loader needs the model's tokenizer, got {tokenizer!r:.40}: e.g. model, "
            f"tokenizer = lx.load_encoder(); lx.make_loader(task, tokenizer)"
        )
    for name, value in (("batch_size", batch_size), ("max_length", max_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"{name} must be an integer >= 1, got {value!r}. Example: "
                f"lx.make_loader(task, tokenizer, batch_size=16, max_length=128)"
            )
    features = tokenize_task(task, tokenizer, max_length)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(
        features,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        collate_fn=partial(collate, pad_token_id=_pad_id(tokenizer)),
    )


def corpus_loader(
    tokenizer: Any,
    split: str = "train",
    batch_size: int = 8,
    shuffle: bool = True,
    seed: int = 0,
    max_length: int = 64,
) -> DataLoader:
    """Causal-LM batches of the tiny-stories corpus: ``labels`` = ``input_ids``, padding -100."""
    return make_loader(load_task("corpus", split), tokenizer, batch_size, shuffle, seed, max_length)
