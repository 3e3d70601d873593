"""Tasks for the lessons: small local data sets, GLUE where a network exists.

Why a module of its own: every lesson and ``training.py`` need the same three things, a task
with labels, token ids, and padded batches (batching.py), and they must work offline on a laptop or in Colab.
So the project ships its own data in the repository's ``data/`` folder (see ``data/README.md``):

- ``"sentiment"``: binary review sentiment with GLUE SST-2 columns (``sentence``, ``label``,
  ``idx``),
  compositional on purpose (contrast, negation, expectations), so that a frozen encoder with a
  linear head falls clearly short of fine-tuning and methods can be told apart.
- ``"paraphrase"``: sentence pairs with GLUE MRPC columns (``sentence1``, ``sentence2``, ``label``,
  ``idx``) and hard negatives (swapped roles, negation, changed numbers).
- ``"corpus"``: one-line tiny stories (column ``text``) for the decoder demonstrations.

GLUE names (``"sst2"``, ``"mrpc"``, ...) are read with ``datasets.load_dataset("glue", name)`` and
wrapped in the same :class:`Task`, so one code path serves both the offline sets and the paper's
benchmarks (LoRETTA reports GLUE with DeBERTa/RoBERTa, paper section 4).

Your own data (a CSV, JSONL, DataFrame or ``datasets.Dataset``) becomes a task of the same
kind with :func:`loretta_explore.user_tasks.task_from`, which returns its splits together.

Where the files are: the environment variable ``LORETTA_EXPLORE_DATA`` if set, otherwise the
copy installed with the package (the wheel ships the repository's ``data/`` as
``loretta_explore/_data``, see pyproject's ``package-dir``, so a plain ``pip install`` works
offline), otherwise the ``data/`` folder beside the package in a repository checkout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch.utils.data import Dataset

from ._optional import require

if TYPE_CHECKING:  # annotations only: this module must load on its own (tests load it so)
    from .user_tasks import TaskSplits

DATA_ENV = "LORETTA_EXPLORE_DATA"


@dataclass(frozen=True)
class TaskSpec:
    """What a task looks like: its text columns, labels, metric and splits.

    ``metric`` chooses checkpoints; ``also`` lists the task's other metrics, reported beside it
    (GLUE reports F1 and accuracy for MRPC, Pearson and Spearman for STS-B). One label name
    means a regression with one output and float labels (STS-B).
    """

    text_columns: tuple[str, ...]
    label_names: tuple[str, ...]
    metric: str
    splits: tuple[str, ...] = ("train", "validation", "test")
    label_column: str | None = "label"
    also: tuple[str, ...] = ()


LOCAL_TASKS: dict[str, TaskSpec] = {
    "sentiment": TaskSpec(("sentence",), ("negative", "positive"), "accuracy"),
    "paraphrase": TaskSpec(
        ("sentence1", "sentence2"), ("not_equivalent", "equivalent"), "f1", also=("accuracy",)
    ),
    "corpus": TaskSpec(("text",), (), "perplexity", ("train", "validation"), None),
}

# GLUE's own metrics (the same as metrics.GLUE_METRICS; a test checks): F1 and accuracy for the
# unbalanced paraphrase sets, Matthews correlation for CoLA, Pearson and Spearman correlation for
# the STS-B regression (one output, float labels).
_MNLI_SPLITS = (
    "train",
    "validation_matched",
    "validation_mismatched",
    "test_matched",
    "test_mismatched",
)
GLUE_TASKS: dict[str, TaskSpec] = {
    "sst2": TaskSpec(("sentence",), ("negative", "positive"), "accuracy"),
    "mrpc": TaskSpec(
        ("sentence1", "sentence2"), ("not_equivalent", "equivalent"), "f1", also=("accuracy",)
    ),
    "qnli": TaskSpec(("question", "sentence"), ("entailment", "not_entailment"), "accuracy"),
    "rte": TaskSpec(("sentence1", "sentence2"), ("entailment", "not_entailment"), "accuracy"),
    "cola": TaskSpec(("sentence",), ("unacceptable", "acceptable"), "matthews"),
    "qqp": TaskSpec(
        ("question1", "question2"), ("not_duplicate", "duplicate"), "f1", also=("accuracy",)
    ),
    "stsb": TaskSpec(("sentence1", "sentence2"), ("similarity",), "pearson", also=("spearman",)),
    "mnli": TaskSpec(
        ("premise", "hypothesis"),
        ("entailment", "neutral", "contradiction"),
        "accuracy",
        _MNLI_SPLITS,
    ),
}
_MNLI_ALIASES = {"validation": "validation_matched", "test": "test_matched"}
CORPUS_VALIDATION_LINES = 40  # the last lines of tiny_stories.txt; the rest is "train"


def known_tasks() -> list[str]:
    """All names :func:`load_task` accepts: the local ones first, then GLUE's."""
    return [*LOCAL_TASKS, *GLUE_TASKS]


class Task(Dataset):
    """A sized, indexable task split; ``task[i]`` is a dict with the task's ``columns``.

    ``rows`` is anything with ``len`` and integer indexing that yields dicts: a list read from
    ``data/`` or a ``datasets.Dataset`` from GLUE. Extra fields in the rows (the sentiment set's
    ``construction`` and ``noisy``) stay out of ``task[i]`` but are reachable by :meth:`column`,
    e.g. to score each construction separately.

    ``family`` is the :class:`~loretta_explore.user_tasks.TaskSplits` the split belongs to,
    when it was made with its siblings (a user's task): the training engine finds the
    validation and test splits there instead of re-loading the task by name.
    """

    def __init__(
        self,
        name: str,
        split: str,
        rows: Any,
        spec: TaskSpec,
        columns: Sequence[str],
        label_names: Sequence[str] | None = None,
        family: TaskSplits | None = None,
    ):
        self.name, self.split, self.rows, self.spec = name, split, rows, spec
        self.columns = tuple(columns)
        self.label_names = list(spec.label_names if label_names is None else label_names)
        self.metric = spec.metric
        self.family = family

    @property
    def num_labels(self) -> int:
        """Outputs a classifier needs: classes, 1 for a regression (STS-B), 0 for a corpus."""
        return len(self.label_names)

    @property
    def regression(self) -> bool:
        """One output and float labels (STS-B): transformers then uses a mean-squared-error loss."""
        return self.num_labels == 1

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every metric the task reports, the checkpoint-choosing ``metric`` first."""
        return (self.metric, *(m for m in self.spec.also if m != self.metric))

    @property
    def text_columns(self) -> tuple[str, ...]:
        return self.spec.text_columns

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = self.rows[i]
        return {c: row[c] for c in self.columns}

    def head(self, n: int) -> Task:
        """The first `n` examples as a task of their own (quick runs, tests, QUICK notebooks)."""
        rows = (
            self.rows.select(range(min(n, len(self))))
            if hasattr(self.rows, "select")
            else self.rows[:n]
        )
        return Task(
            self.name, self.split, rows, self.spec, self.columns, self.label_names, self.family
        )

    def column(self, name: str) -> list[Any]:
        """Every value of one field, including fields outside ``columns``."""
        if hasattr(self.rows, "column_names"):  # a datasets.Dataset
            return list(self.rows[name])
        return [row[name] for row in self.rows]

    def __repr__(self) -> str:
        return (
            f"Task(name={self.name!r}, split={self.split!r}, rows={len(self)}, "
            f"columns={self.columns}, labels={self.label_names}, metric={self.metric!r})"
        )


def data_dir() -> Path:
    """The folder holding ``sentiment/``, ``paraphrase/`` and ``corpus/``.

    The environment variable wins so that people can point at a copy; otherwise the copy inside
    an installed wheel (``loretta_explore/_data``, see pyproject's package-dir) and then the
    repository checkout's ``data/`` next to the package (editable installs, a clone).
    """
    env = os.environ.get(DATA_ENV)
    here = Path(__file__).resolve().parent
    candidates = [Path(env)] if env else [here / "_data", here.parent / "data"]
    path = next((c for c in candidates if (c / "sentiment").is_dir()), candidates[-1])
    if not (path / "sentiment").is_dir():
        raise FileNotFoundError(
            f"No project data under {path}. The local tasks live in the repository's data/ folder; "
            f"clone the repository, or set {DATA_ENV}=/path/to/data (the folder that contains "
            "sentiment/, paraphrase/ and corpus/)."
        )
    return path


def load_task(name: str, split: str = "train") -> Task:
    """Load one split of a task as a :class:`Task`.

    Parameters
    ----------
    name : str
        ``"sentiment"``, ``"paraphrase"`` or ``"corpus"`` (offline, from ``data/``), or a GLUE
        name (``"sst2"``, ``"mrpc"``, ``"qnli"``, ``"rte"``, ``"cola"``, ``"qqp"``, ``"stsb"``,
        ``"mnli"``), read through the ``datasets`` package, which needs a network the first time.
    split : str
        ``"train"``, ``"validation"`` or ``"test"`` (``"corpus"``: train / validation; MNLI also
        takes its matched / mismatched names). GLUE test splits carry no labels (``-1``).

    Examples
    --------
    >>> task = load_task("sentiment", "train")
    >>> task[0]["label"] in (0, 1), task.columns
    (True, ('sentence', 'label', 'idx'))
    """
    key = name.lower().replace("-", "").replace("_", "") if isinstance(name, str) else name
    if key in LOCAL_TASKS:
        return _load_local(key, split)
    if key in GLUE_TASKS:
        return _load_glue(key, split)
    raise ValueError(
        f"Unknown task {name!r}. Known tasks: {', '.join(known_tasks())} "
        "(the first three work offline). Example: load_task('sentiment', 'train')."
    )


def has_split(name: str, split: str) -> bool:
    """Whether :func:`load_task` knows task `name` with split `split` (nothing is loaded)."""
    key = name.lower().replace("-", "").replace("_", "")
    spec = LOCAL_TASKS.get(key) or GLUE_TASKS.get(key)
    if spec is None:
        return False
    return split in spec.splits or (key == "mnli" and split in _MNLI_ALIASES)


def _check_split(name: str, split: str, splits: Sequence[str]) -> None:
    if split not in splits:
        raise ValueError(
            f"Task {name!r} has no split {split!r}. Its splits: {', '.join(splits)}. "
            f"Example: load_task({name!r}, {splits[0]!r})."
        )


def _load_local(name: str, split: str) -> Task:
    spec = LOCAL_TASKS[name]
    _check_split(name, split, spec.splits)
    root = data_dir()
    if name == "corpus":
        lines = (root / "corpus" / "tiny_stories.txt").read_text(encoding="utf-8").splitlines()
        lines = [x for x in lines if x.strip()]
        cut = len(lines) - CORPUS_VALIDATION_LINES
        rows = [{"text": x} for x in (lines[:cut] if split == "train" else lines[cut:])]
        return Task(name, split, rows, spec, ("text",))
    path = root / name / f"{split}.jsonl"
    rows = read_jsonl(path, required=(*spec.text_columns, "label"))
    for number, row in enumerate(rows, 1):  # class names become ids; anything else is refused
        row["label"] = _class_id(row["label"], spec.label_names, f"{path}, row {number}")
    return Task(name, split, rows, spec, (*spec.text_columns, "label", "idx"))


def _class_id(label: Any, names: Sequence[str], where: str) -> int:
    """A bundled task's label as a class id: an id in range, or one of the class names."""
    if isinstance(label, str) and label in names:
        return list(names).index(label)
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(names):
        raise ValueError(
            f"{where}: label {label!r} is not a class of this task: use an id 0..{len(names) - 1} "
            f"or a name in {list(names)}"
        )
    return label


def read_jsonl(path: Path, required: Sequence[str] = ()) -> list[dict]:
    """One dict per non-empty line; a broken line is reported with its file and line number.

    A UTF-8 byte-order mark is read like any UTF-8 file; every line must be a JSON object
    holding the `required` keys.
    """
    rows = []
    example = '{"sentence": "Great film.", "label": 1}'
    with Path(path).open(encoding="utf-8-sig") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"{path}, line {number}: not valid JSON ({err.msg} at column {err.colno}): "
                    f"{line.strip()[:80]!r}. Each line must be one JSON object, e.g. {example}. "
                    "For the bundled files, `python data/make_data.py` rewrites them."
                ) from err
            if not isinstance(row, dict):
                raise ValueError(
                    f"{path}, line {number}: a {type(row).__name__} where a JSON "
                    f"object was expected, e.g. {example}"
                )
            missing = [k for k in required if k not in row]
            if missing:
                raise ValueError(
                    f"{path}, line {number}: no {', '.join(map(repr, missing))} in "
                    f"{line.strip()[:80]!r}; every line needs {list(required)}"
                )
            rows.append(row)
    return rows


def _load_glue(name: str, split: str) -> Task:
    spec = GLUE_TASKS[name]
    if name == "mnli":
        split = _MNLI_ALIASES.get(split, split)
    _check_split(name, split, spec.splits)
    datasets = require("datasets", purpose=f"load_task({name!r}) (GLUE)")
    try:
        rows = datasets.load_dataset("glue", name, split=split)
    except Exception as err:  # no network, a hub error: both mean "not here"
        raise RuntimeError(
            f"Could not load GLUE {name!r} ({type(err).__name__}: {err}). "
            "GLUE needs a network (or a filled Hugging Face cache). The local tasks 'sentiment' "
            "and 'paraphrase' work offline: load_task('sentiment', 'train')."
        ) from err
    feature = rows.features.get("label")
    names = getattr(feature, "names", None)
    return Task(name, split, rows, spec, rows.column_names, names)
