"""Bring your own data: lx.task_from on every input form, its splits and errors, training on it."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
import torch

import loretta_explore as lx
from loretta_explore import data as lxd

WORDS = {"pos": ["great", "lovely", "superb", "fine"], "neg": ["awful", "dull", "poor", "bad"]}


def reviews(n: int = 40) -> list[dict]:
    """Balanced toy reviews with string labels, in a fixed order."""
    rows = []
    for i in range(n):
        kind = "pos" if i % 2 else "neg"
        rows.append(
            {"review": f"The film was {WORDS[kind][i % 4]} overall, take {i}.", "stars": kind}
        )
    return rows


QUICK = dict(max_steps=2, batch_size=8, max_length=24, progress=False, device="cpu")


def test_records_dataframe_and_columns_dict_agree():
    pd = pytest.importorskip("pandas")
    rows = reviews()
    tasks = [
        lx.task_from(rows, text="review", label="stars", seed=3),
        lx.task_from(pd.DataFrame(rows), text="review", label="stars", seed=3),
        lx.task_from(
            {k: [r[k] for r in rows] for k in rows[0]}, text="review", label="stars", seed=3
        ),
    ]
    for t in tasks:
        assert t.label_names == ["neg", "pos"] and t.num_labels == 2  # sorted, documented order
        assert (len(t.train), len(t.validation), t.test) == (36, 4, None)
        assert t.train.column("review") == tasks[0].train.column("review")
    assert tasks[0].train[0]["label"] == (
        tasks[0].train[0]["review"] in [r["review"] for r in rows if r["stars"] == "pos"]
    )


def test_splits_are_seeded_stratified_and_disjoint():
    rows = reviews(60) + [
        {"review": f"Just fine {i}.", "stars": "meh"} for i in range(20)
    ]  # 3 classes
    t = lx.task_from(rows, text="review", label="stars", validation=0.25, test=0.25, seed=0)
    assert t.label_names == ["meh", "neg", "pos"] and (
        len(t.train),
        len(t.validation),
        len(t.test),
    ) == (40, 20, 20)
    for split in (
        t.validation,
        t.test,
    ):  # each class within one row of its share (20 / 30 / 30 of 80)
        counts = Counter(split.column("label"))
        assert all(abs(counts[c] - 20 * share) < 1 for c, share in enumerate((0.25, 0.375, 0.375)))
    every = [s.column("review") for s in (t.train, t.validation, t.test)]
    assert len(set(sum(every, []))) == 80  # no row in two splits
    again = lx.task_from(rows, text="review", label="stars", validation=0.25, test=0.25, seed=0)
    other = lx.task_from(rows, text="review", label="stars", validation=0.25, test=0.25, seed=1)
    assert again.validation.column("review") == t.validation.column("review")
    assert other.validation.column("review") != t.validation.column("review")
    assert t.train.family is t and t.train.head(5).family is t


def test_label_names_and_given_validation_data():
    rows = [{"text": f"text {i}", "label": i % 3 + 1} for i in range(30)]  # stars 1..3
    t = lx.task_from(rows, validation=[{"text": "x", "label": 3}, {"text": "y", "label": 1}])
    assert t.label_names == ["1", "2", "3"] and t.validation.column("label") == [2, 0]
    named = lx.task_from(reviews(), text="review", label="stars", label_names=["pos", "neg"])
    assert named.label_names == ["pos", "neg"]
    assert all(
        y == (r == "neg") for y, r in zip(named.train.column("label"), named.train.column("stars"))
    )
    with pytest.raises(ValueError, match=r"validation: row 0: the label 7 is not a known class"):
        lx.task_from(rows, validation=[{"text": "x", "label": 7}])


@pytest.mark.parametrize(
    "rows, message",
    [
        ([], r"data: the data is empty"),
        (
            [{"review": "ok", "stars": "pos"}, {"text": "no", "stars": "neg"}],
            r"row 1 has no column 'review'.*task_from\(",
        ),
        (
            [{"review": "ok", "stars": "pos"}, {"review": "no", "stars": None}],
            r"row 1 has no label \(column 'stars'",
        ),
        (
            [{"review": "ok", "stars": "pos"}, {"review": "no", "stars": float("nan")}],
            r"row 1 has no label",
        ),
        (
            [{"review": "ok", "stars": 1}, {"review": "no", "stars": "neg"}],
            r"mix types \(row 0: 1 \(number\); row 1: 'neg' \(string\)\)",
        ),
        (
            [{"review": "ok", "stars": "pos"}, {"review": "no", "stars": "pos"}],
            r"every label in column 'stars' is 'pos'.*two classes",
        ),
        (
            [{"review": "ok", "stars": 0.5}, {"review": "no", "stars": 1.0}],
            r"row 0: the label 0.5 .* regression=True",
        ),
        (
            [{"review": 3, "stars": "pos"}, {"review": "no", "stars": "neg"}],
            r"row 0, column 'review' \(the text\) is 3",
        ),
    ],
)
def test_unusable_data_is_named_by_column_and_row(rows, message):
    with pytest.raises(ValueError, match=message):
        lx.task_from(rows, text="review", label="stars", validation=None)


def test_bad_arguments_are_clear(tmp_path):
    with pytest.raises(ValueError, match=r"validation=0 leaves 0 of 40 rows"):
        lx.task_from(reviews(), text="review", label="stars", validation=0)
    with pytest.raises(TypeError, match="cannot read a int"):
        lx.task_from(5)
    with pytest.raises(FileNotFoundError, match="no file"):
        lx.task_from(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="does not fit a classification"):
        lx.task_from(reviews(), text="review", label="stars", metric="pearson")


@pytest.fixture(scope="module")
def encoder():
    return lx.load_encoder()


def test_train_from_a_csv_file(tmp_path, encoder):
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["review", "stars"])
        writer.writeheader()
        writer.writerows(
            {"review": r["review"], "stars": int(r["stars"] == "pos") + 1} for r in reviews()
        )
    task = lx.task_from(
        path, text="review", label="stars", validation=8, test=8, name="csv_reviews"
    )
    assert task.label_names == ["1", "2"]  # CSV cells "1", "2" read as numbers, numbered in order
    model, tok = lx.load_encoder(num_labels=task.num_labels)
    result = lx.train(lx.prepare(model, "bitfit"), task, tokenizer=tok, eval_every=1, **QUICK)
    assert set(result.metrics) == {"test_loss", "test_accuracy"} and result.steps == 2
    assert [h["step"] for h in result.history if "eval_accuracy" in h] == [1, 2]
    head = lx.train(
        lx.prepare(lx.load_encoder()[0], "bitfit"), task.train.head(16), tokenizer=tok, **QUICK
    )
    assert "test_accuracy" in head.metrics  # a split of a user's task still finds its siblings


def test_train_from_a_datasets_dataset(encoder):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["no", "yes"])}
    )
    rows = reviews()
    ds = datasets.Dataset.from_dict(
        {
            "sentence": [r["review"] for r in rows],
            "label": [int(r["stars"] == "pos") for r in rows],
        },
        features=features,
    )
    task = lx.task_from(ds, text="sentence", validation=0.2, test=0.2)
    assert task.label_names == ["no", "yes"]  # the ClassLabel's names
    model, tok = encoder
    result = lx.train(lx.prepare(lx.load_encoder()[0], "bitfit"), task, tokenizer=tok, **QUICK)
    assert 0 <= result.metrics["test_accuracy"] <= 1 and len(task.test) == 8


# --- hardening of the bundled data path -------------------------------------------------------


def test_a_corrupt_line_names_file_and_line(tmp_path, monkeypatch):
    root = lxd.data_dir()
    shutil.copytree(root / "sentiment", tmp_path / "sentiment")
    path = tmp_path / "sentiment" / "validation.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[6] = lines[6][:-5]  # cut the closing of the 7th record
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv(lxd.DATA_ENV, str(tmp_path))
    with pytest.raises(ValueError, match=r"validation.jsonl, line 7: not valid JSON"):
        lxd.load_task("sentiment", "validation")


def _task(labels, spec=None):
    spec = spec or lxd.LOCAL_TASKS["sentiment"]
    rows = [{"sentence": f"sentence {i}", "label": y, "idx": i} for i, y in enumerate(labels)]
    return lxd.Task("custom", "train", rows, spec, ("sentence", "label", "idx"))


def test_string_labels_are_mapped_or_clearly_refused(encoder):
    _, tok = encoder
    batch = next(iter(lx.make_loader(_task(["positive", "negative"]), tok, 2)))
    assert batch["labels"].tolist() == [1, 0]  # the task's label_names order
    with pytest.raises(
        ValueError, match=r"row 1: the label 'great' .* label names \['negative', 'positive'\]"
    ):
        lx.batching.tokenize_task(_task(["positive", "great"]), tok)


def test_labels_outside_the_head_fail_before_training(encoder):
    model, tok = lx.load_encoder()
    model = lx.prepare(model, "bitfit")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    with pytest.raises(
        ValueError, match=r"labels the model cannot predict: 5 \(row 2\).*num_labels=2.*0\.\.1"
    ):
        lx.train(model, _task([0, 1, 5, 1]), tokenizer=tok, **QUICK)
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
    stsb = lxd.TaskSpec(("sentence",), ("similarity",), "pearson")
    with pytest.raises(
        ValueError, match=r"is a regression .* 2 output\(s\).*load_encoder\(num_labels=1\)"
    ):
        lx.train(model, _task([0.5, 2.5], stsb), tokenizer=tok, **QUICK)


def test_data_docs_say_the_wheel_ships_the_data():
    readme = (Path(lxd.__file__).parent.parent / "data" / "README.md").read_text(encoding="utf-8")
    for text in (readme, lxd.__doc__):
        assert "carries no data" not in text and "_data" in text
    pyproject = (Path(lxd.__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"loretta_explore._data" = "data"' in pyproject
    json.dumps(lx.task_from(reviews(), text="review", label="stars").train[0])  # rows stay plain
