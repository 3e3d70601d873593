"""Helpers the case tables share: public names, tiny models, snapshots, temporary folders, the CLI.

Everything here goes through the public API (``import loretta_explore as lx``) so that the cases
survive a reshaping of the package's modules. :func:`public` is the one place that looks further
for a name the package does not export yet (it records it in :data:`MISSING_PUBLIC`).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

import loretta_explore as lx

from .spec import CliError, StateChanged

#: Names the brief treats as public that ``loretta_explore`` does not export (found elsewhere).
MISSING_PUBLIC: set[str] = set()
_SUBMODULES = (
    "tensorize",
    "tt",
    "layers",
    "adapt",
    "budget",
    "baselines",
    "data",
    "training",
    "train",
)


def public(name: str):
    """``lx.<name>``; if the package does not export it, the same name from a submodule."""
    if hasattr(lx, name):
        return getattr(lx, name)
    MISSING_PUBLIC.add(name)
    for module in _SUBMODULES:
        try:
            found = getattr(importlib.import_module(f"loretta_explore.{module}"), name, None)
        except ImportError:
            continue
        if found is not None and not isinstance(found, type(os)):
            return found
    raise AttributeError(f"loretta_explore has no public name {name!r} (nor any submodule)")


def widgets():
    """``lx.widgets`` (imported on demand: the package does not import it itself)."""
    import matplotlib

    matplotlib.use("Agg")
    return importlib.import_module("loretta_explore.widgets")


# -- temporary folders ---------------------------------------------------------------------------
# under the runner's folder when it gives one (it removes it even after killing a hung worker)
_ROOT = Path(tempfile.mkdtemp(prefix="hostile_", dir=os.environ.get("HOSTILE_TMP")))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


def tmpdir(name: str = "case") -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{name}_", dir=_ROOT))


# -- tiny models ---------------------------------------------------------------------------------
TINY = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    vocab_size=300,
    max_position_embeddings=300,
)


def tiny(arch: str = "bert", seed: int = 0, num_labels: int = 2):
    """A small random model of one architecture (no download); vocab 300 fits the byte tokenizer."""
    import transformers as tf

    torch.manual_seed(seed)
    if arch == "bert":
        return tf.BertForSequenceClassification(tf.BertConfig(**TINY, num_labels=num_labels))
    if arch == "roberta":
        return tf.RobertaForSequenceClassification(
            tf.RobertaConfig(**TINY, num_labels=num_labels, pad_token_id=1)
        )
    if arch == "deberta":
        return tf.DebertaForSequenceClassification(
            tf.DebertaConfig(
                **TINY,
                num_labels=num_labels,
                relative_attention=True,
                pos_att_type=["c2p", "p2c"],
                max_relative_positions=-1,
                position_biased_input=False,
                type_vocab_size=0,
                pooler_hidden_size=32,
            )
        )
    llama = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=64,
        vocab_size=300,
        max_position_embeddings=300,
        pad_token_id=0,
    )
    if arch == "llama":
        return tf.LlamaForCausalLM(tf.LlamaConfig(**llama))
    if arch == "llama-cls":
        return tf.LlamaForSequenceClassification(tf.LlamaConfig(**llama, num_labels=num_labels))
    if arch == "gpt2":
        return tf.GPT2LMHeadModel(
            tf.GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=300, n_positions=300)
        )
    raise ValueError(arch)


def on_meta(arch: str = "llama"):
    with torch.device("meta"):
        return tiny(arch)


def tokenizer():
    """The byte-level tokenizer that comes with lx.tiny_decoder (public, offline, 259 tokens)."""
    if "tok" not in _CACHE:
        _CACHE["tok"] = lx.tiny_decoder()[1]
    return _CACHE["tok"]


_CACHE: dict = {}


def batch(arch: str = "bert", n: int = 4, seq: int = 6, seed: int = 1) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 250, (n, seq), generator=g)
    return dict(input_ids=ids, attention_mask=torch.ones_like(ids))


def logits(model, arch: str = "bert") -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(**batch(arch)).logits


def close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> bool:
    a, b = a.detach().double(), b.detach().double()
    return (
        a.shape == b.shape
        and bool(torch.isfinite(a).all())
        and float(torch.linalg.vector_norm(a - b))
        <= tol * max(float(torch.linalg.vector_norm(b)), 1e-12)
    )


def n_trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def rel_error(tt, x: torch.Tensor) -> float:
    full = tt.full().double().reshape(x.shape)
    return float(torch.linalg.vector_norm(full - x.double()) / torch.linalg.vector_norm(x.double()))


# -- nothing of the caller's changes on failure ----------------------------------------------------
def _bytes(t: torch.Tensor):
    if t.device.type == "meta":
        return (tuple(t.shape), str(t.dtype))
    return t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def snapshot(obj) -> dict:
    """Everything a failed call must leave alone: structure, values, requires_grad, dtypes."""
    if isinstance(obj, nn.Module):
        return dict(
            structure=[(n, type(m).__name__) for n, m in obj.named_modules()],
            values={n: _bytes(t) for n, t in obj.state_dict(keep_vars=True).items()},
            grad={n: p.requires_grad for n, p in obj.named_parameters()},
            training=obj.training,
        )
    if isinstance(obj, torch.Tensor):
        return dict(value=_bytes(obj), shape=tuple(obj.shape), dtype=str(obj.dtype))
    return dict(value=repr(obj))


def difference(before: dict, after: dict) -> str:
    for key in before:
        if before[key] != after.get(key):
            if isinstance(before[key], dict):
                changed = sorted(set(before[key]) ^ set(after[key])) or [
                    k for k in before[key] if before[key][k] != after[key][k]
                ]
                return f"{key} of {changed[:3]}"
            if isinstance(before[key], list):
                new = sorted(set(after[key]) - set(before[key]))[:2]
                return f"{key} ({len(before[key])} -> {len(after[key])} modules; {new})"
            return key
    return ""


def keeps(make, action, what: str = "model"):
    """A case run: ``action(make())``; if it raises, the made object must be exactly as before."""

    def run():
        obj = make()
        before = snapshot(obj)
        try:
            return action(obj)
        except Exception as exc:
            diff = difference(before, snapshot(obj))
            if diff:
                raise StateChanged(what, diff, exc) from exc
            raise

    return run


def same_after(make, action, what: str = "model"):
    """A case run returning True when ``action(make())`` left the object exactly as before."""

    def run():
        obj = make()
        before = snapshot(obj)
        action(obj)
        diff = difference(before, snapshot(obj))
        return diff or True

    return run


# -- adapter folders -----------------------------------------------------------------------------
def adapted(arch: str = "bert", seed: int = 0, **config):
    settings = dict(bottleneck=4, tt_rank=2) | config
    model = tiny(arch, seed)
    torch.manual_seed(seed + 1)
    return lx.get_loretta_model(model, lx.LorettaConfig(**settings))


def saved(arch: str = "bert", **config) -> Path:
    """A good adapter folder (its LorettaModel trained a little so it differs from a fresh one)."""
    model = adapted(arch, **config)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))
    return model.save_pretrained(tmpdir("adapter"))


#: the adapter folder's files (docs/adapter_format.md): the kit's own names, not PEFT's
CONFIG_FILE, WEIGHTS_FILE = "loretta_config.json", "loretta_adapter.safetensors"
#: keys of the config document itself; every other key is a LorettaConfig field under "config"
DOCUMENT_KEYS = {
    "format",
    "format_version",
    "base_model_name_or_path",
    "base_model_class",
    "model_type",
    "kit_version",
    "trainable_params",
    "config",
}


def edit_config(folder: Path, **changes) -> Path:
    path = folder / CONFIG_FILE
    doc = json.loads(path.read_text())
    for key, value in changes.items():
        where = doc if key in DOCUMENT_KEYS else doc["config"]
        if value is _DELETE:
            where.pop(key, None)
        else:
            where[key] = value
    path.write_text(json.dumps(doc))
    return folder


_DELETE = object()
DELETE = _DELETE


def edit_weights(folder: Path, edit) -> Path:
    from safetensors.torch import load_file, save_file

    path = folder / WEIGHTS_FILE
    state = load_file(str(path))
    state = edit(state) or state
    save_file(state, str(path), metadata={"format": "pt"})
    return folder


def load_into_fresh(folder: Path, arch: str = "bert"):
    """A case run: load `folder` into a fresh tiny model; the base must be untouched on failure."""
    return keeps(lambda: tiny(arch, 0), lambda base: lx.LorettaModel.from_pretrained(base, folder))


# -- the command line ----------------------------------------------------------------------------
def cli(*argv: str) -> str:
    """Run ``python -m loretta_explore argv...`` in process; CliError for a non-zero status."""
    from loretta_explore.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code if isinstance(exc.code, int) else 1
    if code:
        raise CliError(f"exit status {code}: {err.getvalue()} {out.getvalue()}".strip())
    return out.getvalue()


# -- task files ----------------------------------------------------------------------------------
@contextlib.contextmanager
def task_files(rows: int = 16, edit=None):
    """A small copy of the project's tasks in a temp folder, pointed to by LORETTA_EXPLORE_DATA.

    `edit(folder)` may then corrupt it. The variable is restored afterwards.
    """
    folder = tmpdir("data")
    for name, cols in (
        ("sentiment", ("sentence", "label", "idx")),
        ("paraphrase", ("sentence1", "sentence2", "label", "idx")),
    ):
        (folder / name).mkdir()
        for split in ("train", "validation", "test"):
            task = lx.load_task(name, split)
            lines = [json.dumps({c: task[i][c] for c in cols}) for i in range(min(rows, len(task)))]
            (folder / name / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "corpus").mkdir()
    corpus = lx.load_task("corpus", "train")
    (folder / "corpus" / "tiny_stories.txt").write_text(
        "\n".join(corpus[i]["text"] for i in range(60)) + "\n"
    )
    if edit is not None:
        edit(folder)
    old = os.environ.get("LORETTA_EXPLORE_DATA")
    os.environ["LORETTA_EXPLORE_DATA"] = str(folder)
    try:
        yield folder
    finally:
        if old is None:
            os.environ.pop("LORETTA_EXPLORE_DATA", None)
        else:
            os.environ["LORETTA_EXPLORE_DATA"] = old


def write_lines(path: Path, lines) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def finite(values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def warm_up() -> None:
    """Import what cases use lazily (model classes, PEFT, widgets) so no case pays for it."""
    for arch in ("bert", "roberta", "deberta", "llama", "llama-cls", "gpt2"):
        tiny(arch)
    import peft  # noqa: F401
    import safetensors.torch  # noqa: F401

    widgets()
    tokenizer()


# -- task files edited before a case reads them (cases_tasks.py, cases_train.py) -----------------


def with_files(action, edit=None, rows=16):
    def run():
        with task_files(rows, edit):
            return action()

    return run


def corrupt_line(split="train", line_no=3, text="{not json"):
    def edit(folder):
        path = folder / "sentiment" / f"{split}.jsonl"
        lines = path.read_text().splitlines()
        lines[line_no - 1] = text
        write_lines(path, lines)

    return edit


def relabel(value, split="train"):
    def edit(folder):
        path = folder / "sentiment" / f"{split}.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:
            row["label"] = value(row["label"])
        write_lines(path, [json.dumps(r) for r in rows])

    return edit


def empty(split="train"):
    return lambda folder: (folder / "sentiment" / f"{split}.jsonl").write_text("")
