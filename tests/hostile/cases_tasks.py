"""Hostile inputs to lx.load_task and lx.make_loader (task files copied to a temp folder)."""

from __future__ import annotations

import shutil

import torch

import loretta_explore as lx

from .spec import BAD_ARG, Case, correct, either, error
from .tools import corrupt_line, empty, relabel, tokenizer, with_files

GROUP = "data/training"


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def first_batch(edit=None, **k):
    return with_files(
        lambda: next(iter(lx.make_loader(lx.load_task("sentiment"), tokenizer(), **k))), edit
    )


CASES = [
    # -- load_task ---------------------------------------------------------------------------------
    C(
        "task-sentiment",
        "load_task",
        lambda: len(lx.load_task("sentiment")),
        correct(lambda n: n == 3200, "3200 rows"),
    ),
    C(
        "task-case-insensitive",
        "load_task",
        lambda: lx.load_task("SENTIMENT", "validation").name,
        correct(lambda n: n == "sentiment", "the sentiment task"),
    ),
    C("task-unknown", "load_task", lambda: lx.load_task("bogus"), error(ValueError, ["bogus"])),
    C(
        "task-unknown-split",
        "load_task",
        lambda: lx.load_task("sentiment", "bogus"),
        error(ValueError, ["bogus", "train"]),
    ),
    C("task-none", "load_task", lambda: lx.load_task(None), error(BAD_ARG, ["None"])),
    C("task-int", "load_task", lambda: lx.load_task(42), error(BAD_ARG, ["42"])),
    C(
        "task-glue-offline",
        "load_task",
        lambda: lx.load_task("sst2"),
        error((RuntimeError, OSError), ["network"]),
        isolate=True,
    ),
    C(
        "task-data-env-missing",
        "load_task",
        with_files(
            lambda: lx.load_task("sentiment"), edit=lambda f: shutil.rmtree(f / "sentiment")
        ),
        error(FileNotFoundError, ["LORETTA_EXPLORE_DATA"]),
    ),
    C(
        "task-split-file-missing",
        "load_task",
        with_files(
            lambda: lx.load_task("sentiment", "validation"),
            edit=lambda f: (f / "sentiment" / "validation.jsonl").unlink(),
        ),
        error(FileNotFoundError, ["validation.jsonl"]),
    ),
    C(
        "task-corrupt-line",
        "load_task",
        with_files(lambda: lx.load_task("sentiment"), corrupt_line()),
        error(ValueError, ["train.jsonl", "line 3"]),
    ),
    C(
        "task-line-not-object",
        "load_task",
        with_files(lambda: lx.load_task("sentiment"), corrupt_line(text="[1, 2]")),
        error(ValueError, ["train.jsonl", "line 3"]),
    ),
    C(
        "task-line-missing-label",
        "load_task",
        with_files(
            lambda: lx.load_task("sentiment"), corrupt_line(text='{"sentence": "fine", "idx": 2}')
        ),
        error(ValueError, ["label", "line 3"]),
    ),
    C(
        "task-string-labels",
        "load_task",
        with_files(
            lambda: lx.load_task("sentiment"), relabel(lambda y: ["negative", "positive"][y])
        ),
        either(
            error(ValueError, ["label", "positive"]),
            correct(lambda t: t[0]["label"] in (0, 1), "names mapped to ids"),
        ),
    ),
    C(
        "task-bom",
        "load_task",
        with_files(
            lambda: len(lx.load_task("sentiment")),
            lambda f: (f / "sentiment" / "train.jsonl").write_bytes(
                b"\xef\xbb\xbf" + (f / "sentiment" / "train.jsonl").read_bytes()
            ),
        ),
        correct(lambda n: n == 16, "a UTF-8 BOM is read like any UTF-8 file"),
    ),
    C(
        "task-crlf",
        "load_task",
        with_files(
            lambda: len(lx.load_task("sentiment")),
            lambda f: (f / "sentiment" / "train.jsonl").write_bytes(
                (f / "sentiment" / "train.jsonl").read_bytes().replace(b"\n", b"\r\n")
            ),
        ),
        correct(lambda n: n == 16, "Windows line ends read"),
    ),
    C(
        "task-empty-file",
        "load_task",
        with_files(lambda: lx.load_task("sentiment"), empty()),
        either(
            error(ValueError, ["empty", "train.jsonl"]),
            correct(lambda t: len(t) == 0, "an empty task"),
        ),
    ),
    # -- make_loader -------------------------------------------------------------------------------
    C(
        "loader-batch",
        "make_loader",
        first_batch(batch_size=4),
        correct(
            lambda b: b["input_ids"].shape[0] == 4 and b["labels"].shape == (4,), "a batch of 4"
        ),
    ),
    C(
        "loader-batch-zero",
        "make_loader",
        first_batch(batch_size=0),
        error(ValueError, ["batch_size", "0"]),
    ),
    C(
        "loader-batch-negative",
        "make_loader",
        first_batch(batch_size=-1),
        error(ValueError, ["batch_size", "-1"]),
    ),
    C(
        "loader-batch-float",
        "make_loader",
        first_batch(batch_size=2.5),
        error(BAD_ARG, ["batch_size", "2.5"]),
    ),
    C(
        "loader-max-length-zero",
        "make_loader",
        first_batch(max_length=0),
        error(ValueError, ["max_length", "0"]),
    ),
    C(
        "loader-task-string",
        "make_loader",
        lambda: next(iter(lx.make_loader("sentiment", tokenizer()))),
        either(
            error(TypeError, ["Task"]), correct(lambda b: "input_ids" in b, "the named task loaded")
        ),
    ),
    C(
        "loader-no-tokenizer",
        "make_loader",
        lambda: lx.make_loader(lx.load_task("sentiment"), None),
        error(BAD_ARG, ["tokenizer"]),
    ),
    C(
        "loader-string-labels",
        "make_loader",
        first_batch(relabel(lambda y: ["negative", "positive"][y]), batch_size=4),
        either(
            error(ValueError, ["label", "positive"]),
            correct(lambda b: b["labels"].dtype == torch.long, "ids"),
        ),
    ),
    C(
        "loader-float-labels",
        "make_loader",
        first_batch(relabel(lambda y: y + 0.5), batch_size=4),
        error(ValueError, ["label", ".5 is not a class"]),
    ),
]
