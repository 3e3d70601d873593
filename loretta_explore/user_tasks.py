"""Bring your own data: a task from records, a DataFrame, a CSV or JSONL file, or a Dataset.

Why: the lessons train on the bundled sets, but the point of the kit is to try LoRETTA on what
*you* care about. :func:`task_from` turns a table into the same :class:`~loretta_explore.data.Task`
the bundled sets use, split into train / validation (/ test) and bundled as a
:class:`TaskSplits` that :func:`loretta_explore.train` and
:func:`loretta_explore.compare` accept in place of a task name.

Everything is checked before anything is built, and every error names the column and the row
and shows a valid call: a label that is missing (None, NaN), labels of mixed types, a single
class, float labels for a classification task, or a text that is not a string.

Labels become class ids 0..k-1. Without ``label_names``, the distinct values are **sorted**
(numbers numerically, strings in Python's string order) and numbered in that order, and
``label_names`` are the original values as strings: ``["neg", "pos"]`` -> neg = 0, pos = 1; stars
1..5 -> "1" = 0 ... "5" = 4. Give ``label_names`` to fix the order yourself.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

from .data import Task, TaskSpec, read_jsonl

__all__ = ["TaskSplits", "task_from"]

_EXAMPLE = "lx.task_from('reviews.csv', text='review', label='stars', validation=0.1)"


class TaskSplits:
    """A task's splits together: ``.train``, ``.validation`` and ``.test`` (None where absent).

    Why: :func:`loretta_explore.train` evaluates on the validation split while it trains and on
    the test split at the end. For the bundled and GLUE tasks it loads them by name; a user's
    task has no name to load, so its splits travel together, and each split knows its family
    (``splits.train.family is splits``), so ``train(model, splits)`` and
    ``train(model, splits.train.head(100))`` both find the held-out data.
    """

    def __init__(self, train: Task, validation: Task | None = None, test: Task | None = None):
        self.train, self.validation, self.test = train, validation, test
        for task in (train, validation, test):
            if task is not None:
                task.family = self

    def get(self, split: str) -> Task | None:
        """The split called `split` ("train", "validation", "test"), None where there is none."""
        if split not in ("train", "validation", "test"):
            raise ValueError(
                f"A TaskSplits has the splits train, validation and test, not {split!r}."
            )
        return getattr(self, split)

    def __getitem__(self, split: str) -> Task:
        task = self.get(split)
        if task is None:
            raise KeyError(f"{self.name!r} has no {split} split; it has: {', '.join(self.splits)}")
        return task

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(s for s in ("train", "validation", "test") if getattr(self, s) is not None)

    # what train() and compare() read from a task, taken from the train split
    name = property(lambda self: self.train.name)
    metric = property(lambda self: self.train.metric)
    metrics = property(lambda self: self.train.metrics)
    num_labels = property(lambda self: self.train.num_labels)
    label_names = property(lambda self: self.train.label_names)
    regression = property(lambda self: self.train.regression)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(getattr(self, s))}" for s in self.splits)
        return (
            f"TaskSplits(name={self.name!r}, {sizes}, labels={self.label_names}, "
            f"metric={self.metric!r})"
        )


def _records(data: Any, what: str) -> list[dict]:
    """Rows as dicts from any of the accepted forms (see :func:`task_from`)."""
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise FileNotFoundError(f"{what}: no file {str(path)!r}. Example: {_EXAMPLE}")
        if path.suffix.lower() == ".csv":
            with path.open(encoding="utf-8", newline="") as f:
                return [dict(row) for row in csv.DictReader(f)]
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            return read_jsonl(path)
        raise ValueError(
            f"{what}: {path.name} is neither .csv nor .jsonl; read it into a list of "
            f"dicts or a DataFrame first, or save it as CSV. Example: {_EXAMPLE}"
        )
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
        return data.to_dict("records")
    if hasattr(data, "column_names") and hasattr(data, "features"):  # a datasets.Dataset
        return data.to_list()
    if isinstance(data, dict) and data and all(isinstance(v, (list, tuple)) for v in data.values()):
        lengths = {len(v) for v in data.values()}
        if len(lengths) != 1:
            raise ValueError(
                f"{what}: the columns of the dict have different lengths {sorted(lengths)}."
            )
        return [dict(zip(data, values)) for values in zip(*data.values())]
    if isinstance(data, (list, tuple)) and all(isinstance(r, dict) for r in data):
        return [dict(r) for r in data]
    raise TypeError(
        f"{what}: cannot read a {type(data).__name__}. Give a list of dicts, a dict of "
        "columns, a pandas DataFrame, a datasets.Dataset, or a .csv / .jsonl path. "
        f"Example: {_EXAMPLE}"
    )


def _class_label_names(data: Any, label: str) -> list[str] | None:
    """The names a ``datasets.ClassLabel`` column carries (None for anything else)."""
    features = getattr(data, "features", None)
    feature = features.get(label) if hasattr(features, "get") else None
    return list(feature.names) if getattr(feature, "names", None) else None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _check_columns(rows: list[dict], columns: dict[str, str], what: str) -> None:
    if not rows:
        raise ValueError(f"{what}: the data is empty (no rows). Example: {_EXAMPLE}")
    for role, column in columns.items():
        for i, row in enumerate(rows):
            if column not in row:
                raise ValueError(
                    f"{what}: row {i} has no column {column!r} (the {role} column). Columns there: "
                    f"{', '.join(map(repr, row))}. Name the columns with text=..., text_pair=..., "
                    f"label=..., e.g. {_EXAMPLE}"
                )
    for role, column in columns.items():
        if role == "label":
            continue
        for i, row in enumerate(rows):
            if not isinstance(row[column], str) or not row[column].strip():
                raise ValueError(
                    f"{what}: row {i}, column {column!r} (the {role}) is "
                    f"{row[column]!r}; every {role} must be a non-empty string."
                )


def _parse_number(value: Any) -> Any:
    """CSV cells are strings: "3" -> 3, "0.5" -> 0.5, anything else unchanged."""
    if not isinstance(value, str):
        return value
    for kind in (int, float):
        try:
            return kind(value.strip())
        except ValueError:
            pass
    return value


def _label_values(rows: list[dict], label: str, what: str, regression: bool) -> list[Any]:
    values = [_parse_number(row[label]) for row in rows]
    for i, value in enumerate(values):
        if _missing(value):
            raise ValueError(
                f"{what}: row {i} has no label (column {label!r} is {rows[i][label]!r}). "
                "Drop or fill unlabeled rows first, e.g. df.dropna(subset=[...])."
            )
    kinds = {
        "string"
        if isinstance(v, str)
        else "number"
        if isinstance(v, Real) and not isinstance(v, bool)
        else type(v).__name__
        for v in values
    }
    if len(kinds) > 1 or kinds - {"string", "number"}:
        first = {}
        for i, v in enumerate(values):
            kind = (
                "string"
                if isinstance(v, str)
                else "number"
                if isinstance(v, Real)
                else type(v).__name__
            )
            first.setdefault(kind, (i, v))
        shown = "; ".join(f"row {i}: {v!r} ({k})" for k, (i, v) in first.items())
        raise ValueError(
            f"{what}: the labels in column {label!r} mix types ({shown}). Use one kind: "
            "all class names (strings) or all numbers."
        )
    if regression:
        if kinds != {"number"}:
            raise ValueError(
                f"{what}: regression=True needs numeric labels; column {label!r} holds "
                f"strings (row 0: {values[0]!r})."
            )
        bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
        if bad is not None:
            raise ValueError(f"{what}: row {bad}: the label {values[bad]!r} is not finite.")
        return [float(v) for v in values]
    if kinds == {"number"}:
        for i, v in enumerate(values):
            if not isinstance(v, Integral) and not float(v).is_integer():
                raise ValueError(
                    f"{what}: row {i}: the label {v!r} in column {label!r} is not a whole number, "
                    "so it cannot be a class. For a score to predict (like STS-B's similarity) say "
                    f"so: lx.task_from(data, text=..., label={label!r}, regression=True)."
                )
        return [int(v) for v in values]
    return values


def _label_map(
    values: list[Any], label_names: Sequence[str] | None, label: str, what: str
) -> tuple[dict[Any, int], list[str]]:
    """{label value: class id} and the class names, in the documented order (module docstring)."""
    if label_names is not None:
        names = [str(n) for n in label_names]
        if len(set(names)) != len(names) or len(names) < 2:
            raise ValueError(
                f"label_names must be at least two distinct names, got {list(label_names)}."
            )
        if all(isinstance(v, str) for v in values):
            return {n: i for i, n in enumerate(names)}, names
        return {i: i for i in range(len(names))}, names
    distinct = sorted(set(values))
    if len(distinct) < 2:
        raise ValueError(
            f"{what}: every label in column {label!r} is {distinct[0]!r}; a classifier "
            "needs at least two classes. Check the column, or add examples of the others."
        )
    return {v: i for i, v in enumerate(distinct)}, [str(v) for v in distinct]


def _ids(values: list[Any], mapping: dict[Any, int], names: list[str], what: str) -> list[int]:
    for i, v in enumerate(values):
        if v not in mapping:
            known = ", ".join(map(repr, mapping))
            raise ValueError(
                f"{what}: row {i}: the label {v!r} is not a known class (labels: {known}; "
                f"names: {names}). Give label_names=[...] listing every class in id order."
            )
    return [mapping[v] for v in values]


def _split_sizes(size: float | int, n: int, what: str) -> int:
    if isinstance(size, bool) or not isinstance(size, Real):
        raise TypeError(
            f"{what} must be a fraction in (0, 1), a number of rows, or data; got {size!r}."
        )
    count = round(size * n) if isinstance(size, float) and 0 < size < 1 else size
    if not isinstance(count, Integral) or not 1 <= count < n:
        raise ValueError(
            f"{what}={size!r} leaves {count!r} of {n} rows for it; give a fraction in "
            f"(0, 1) or a count in 1..{n - 1}. Example: {_EXAMPLE}"
        )
    return int(count)


def _stratified_take(
    ids: list, indices: list[int], count: int, rng: random.Random, stratify: bool
) -> tuple[list[int], list[int]]:
    """`count` of `indices` for a held-out split, each class in its share (largest remainders)."""
    if not stratify:
        shuffled = rng.sample(indices, len(indices))
        return sorted(shuffled[count:]), sorted(shuffled[:count])
    groups: dict[Any, list[int]] = {}
    for i in indices:
        groups.setdefault(ids[i], []).append(i)
    exact = {c: count * len(g) / len(indices) for c, g in groups.items()}
    take = {c: int(x) for c, x in exact.items()}
    for c in sorted(exact, key=lambda c: exact[c] - take[c], reverse=True)[
        : count - sum(take.values())
    ]:
        take[c] += 1
    held = []
    for c in sorted(groups):
        held += rng.sample(groups[c], len(groups[c]))[: take[c]]
    held_set = set(held)
    return [i for i in indices if i not in held_set], sorted(held)


def task_from(
    data: Any,
    text: str = "text",
    label: str = "label",
    *,
    text_pair: str | None = None,
    label_names: Sequence[str] | None = None,
    regression: bool = False,
    metric: str | None = None,
    validation: Any = 0.1,
    test: Any = None,
    seed: int = 0,
    name: str = "my_task",
) -> TaskSplits:
    """A task from your own table, split and checked, ready for ``lx.train`` and ``lx.compare``.

    Parameters
    ----------
    data : list of dicts, dict of columns, pandas DataFrame, ``datasets.Dataset``, or a path to a
        ``.csv`` / ``.jsonl`` file: the training rows (and the held-out ones unless given below).
    text, text_pair, label : column names: the text, an optional second text (sentence pairs, as
        MRPC), and the label.
    label_names : the classes in id order; string labels are mapped to their position, integer
        labels must be ids 0..k-1. None: sorted distinct values (module docstring).
    regression : float labels and a one-output head (``load_encoder(num_labels=1)``), as STS-B.
    metric : "accuracy", "f1", "matthews" (classification) or "pearson", "spearman"
        (regression). None: accuracy, or Pearson (with Spearman beside it) for a regression.
    validation, test : a fraction of `data` (0.1), a number of rows, or the split's own data
        (any of the forms above). Fractions are drawn with `seed`, stratified by class, test first.
        ``test=None``: no test split.

    Returns
    -------
    TaskSplits
        ``.train``, ``.validation``, ``.test``; ``num_labels`` is what the model head needs.

    Examples
    --------
    >>> rows = [{"review": f"good {i}", "stars": "pos"} for i in range(10)] + \\
    ...        [{"review": f"bad {i}", "stars": "neg"} for i in range(10)]
    >>> task = task_from(rows, text="review", label="stars", validation=0.2)
    >>> task.label_names, len(task.train), len(task.validation)
    (['neg', 'pos'], 16, 4)
    """
    from .metrics import METRICS

    default = ("pearson", "spearman") if regression else ("accuracy",)
    metrics = default if metric is None else (metric,)
    allowed = ("pearson", "spearman") if regression else ("accuracy", "f1", "matthews")
    if metrics[0] not in allowed:
        raise ValueError(
            f"metric {metric!r} does not fit a {'regression' if regression else 'classification'}"
            f" task; use one of {allowed}{'' if metric in METRICS else ' (unknown metric)'}."
        )
    columns = {"text": text, **({"text pair": text_pair} if text_pair else {}), "label": label}
    if len(set(columns.values())) < len(columns):
        raise ValueError(f"The text, text_pair and label columns must differ; got {columns}.")

    def parse(source: Any, what: str) -> tuple[list[dict], list]:
        rows = _records(source, what)
        _check_columns(rows, columns, what)
        return rows, _label_values(rows, label, what, regression)

    rows, values = parse(data, "data")
    if regression:
        ids, names, mapping = values, [label], {}
    else:
        mapping, names = _label_map(
            values, label_names or _class_label_names(data, label), label, "data"
        )
        ids = _ids(values, mapping, names, "data")
    given = {"validation": validation, "test": test}
    held: dict[str, tuple[list[dict], list]] = {}
    rng = random.Random(seed)
    indices = list(range(len(rows)))
    for split in ("test", "validation"):
        size = given[split]
        if size is None:
            continue
        if isinstance(size, Real) and not isinstance(size, bool):
            count = _split_sizes(size, len(rows), split)  # a fraction of all the data
            if count >= len(indices):
                raise ValueError(
                    f"validation and test together take all {len(rows)} rows; leave some "
                    f"for training. Example: {_EXAMPLE}"
                )
            indices, taken = _stratified_take(ids, indices, count, rng, stratify=not regression)
            held[split] = ([rows[i] for i in taken], [ids[i] for i in taken])
        else:  # the split's own data, labelled like the training data
            split_rows, split_values = parse(size, split)
            held[split] = (
                split_rows,
                split_values if regression else _ids(split_values, mapping, names, split),
            )
    if not regression and len({ids[i] for i in indices}) < 2:
        raise ValueError(
            "After holding out validation/test rows, the training rows have one class "
            "left; use smaller validation/test fractions or more data."
        )
    text_columns = (text, text_pair) if text_pair else (text,)
    spec = TaskSpec(
        text_columns,
        tuple(names),
        metrics[0],
        tuple(["train", *held]),
        "label",
        also=tuple(metrics[1:]),
    )

    def build(split: str, split_rows: list[dict], split_ids: list) -> Task:
        clean = [
            {**row, "label": y, "idx": i} for i, (row, y) in enumerate(zip(split_rows, split_ids))
        ]
        return Task(name, split, clean, spec, (*text_columns, "label", "idx"), names)

    train = build("train", [rows[i] for i in indices], [ids[i] for i in indices])
    return TaskSplits(
        train, *(build(s, *held[s]) if s in held else None for s in ("validation", "test"))
    )
