"""Hostile adapter folders for LorettaModel.save_pretrained / from_pretrained (built in a temp dir).

Every failed load must leave the caller's base model exactly as it was (compared by
tools.keeps), so that a retry with a good adapter works.
"""

from __future__ import annotations

import torch

import loretta_explore as lx

from .spec import BAD_ARG, Case, correct, error
from .tools import (
    CONFIG_FILE,
    DELETE,
    WEIGHTS_FILE,
    adapted,
    close,
    edit_config,
    edit_weights,
    keeps,
    load_into_fresh,
    logits,
    n_trainable,
    saved,
    tiny,
    tmpdir,
)

GROUP = "adapt/adapter files"
WEIGHTS, CONFIG = WEIGHTS_FILE, CONFIG_FILE
FILE_ERRORS = (ValueError, OSError, TypeError)


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def roundtrip(arch="bert", **config):
    def run():
        settings = dict(bottleneck=4, tt_rank=2) | config
        model = adapted(arch, **settings)
        with torch.no_grad():
            for p in model.parameters():
                if p.requires_grad:
                    p.add_(0.05 * torch.randn_like(p))
        expected = logits(model, arch)
        folder = model.save_pretrained(tmpdir("roundtrip"))
        loaded = lx.LorettaModel.from_pretrained(tiny(arch, 0), folder)
        return close(logits(loaded, arch), expected, 1e-5)

    return run


def bad(**changes):
    """A load of a good bert adapter whose config was edited with `changes`."""
    return lambda: load_into_fresh(edit_config(saved("bert"), **changes))()


def bad_weights(edit):
    return lambda: load_into_fresh(edit_weights(saved("bert"), edit))()


def bad_file(name: str, content: bytes | str):
    def run():
        folder = saved("bert")
        path = folder / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        return load_into_fresh(folder)()

    return run


def truncated(folder):
    path = folder / WEIGHTS
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return folder


def retry_after_truncated():
    good = saved("bert")
    broken = truncated(saved("bert"))
    base = tiny("bert", 0)
    try:
        lx.LorettaModel.from_pretrained(base, broken)
    except Exception:  # noqa: BLE001 (the first load is meant to fail)
        pass
    expected = logits(lx.LorettaModel.from_pretrained(tiny("bert", 0), good))
    return close(logits(lx.LorettaModel.from_pretrained(base, good)), expected, 1e-6)


def first_tensor(edit):
    def change(state):
        name = sorted(state)[0]
        state[name] = edit(state[name])
        return state

    return change


def drop_first(state):
    state.pop(sorted(state)[0])
    return state


def add_extra(state):
    state["base_model.extra.weight"] = torch.zeros(3)
    return state


def fp16_weights():
    folder = saved("bert")
    expected = logits(lx.LorettaModel.from_pretrained(tiny("bert", 0), folder))
    edit_weights(folder, lambda state: {k: v.half() for k, v in state.items()})
    return close(logits(lx.LorettaModel.from_pretrained(tiny("bert", 0), folder)), expected, 1e-2)


CASES = [
    # -- round trips (usual inputs) ----------------------------------------------------------------
    C(
        "roundtrip-bert-rep",
        "from_pretrained",
        roundtrip("bert"),
        correct(lambda ok: ok is True, "the saved logits"),
    ),
    C(
        "roundtrip-bert-adp",
        "from_pretrained",
        roundtrip("bert", method="adp"),
        correct(lambda ok: ok is True, "the saved logits"),
    ),
    C(
        "roundtrip-gpt2-rep",
        "from_pretrained",
        roundtrip("gpt2"),
        correct(lambda ok: ok is True, "the saved logits"),
    ),
    C(
        "roundtrip-llama-adp",
        "from_pretrained",
        roundtrip("llama", method="adp"),
        correct(lambda ok: ok is True, "the saved logits"),
    ),
    C(
        "roundtrip-compensated",
        "from_pretrained",
        roundtrip("llama", init="compensated"),
        correct(lambda ok: ok is True, "the saved logits"),
    ),
    C(
        "roundtrip-tt-shapes-dict",
        "from_pretrained",
        roundtrip("bert", tt_shapes={(32, 4): [4, 4, 8]}),
        correct(lambda ok: ok is True, "the saved logits"),
    ),
    C(
        "roundtrip-save-twice",
        "from_pretrained",
        lambda: (
            lambda m, d: (
                m.save_pretrained(d),
                m.save_pretrained(d),
                lx.LorettaModel.from_pretrained(tiny("bert", 0), d),
            )[-1]
        )(adapted("bert", bottleneck=4, tt_rank=2), tmpdir("twice")),
        correct(lambda m: isinstance(m, lx.LorettaModel), "overwriting a folder is fine"),
    ),
    C(
        "load-is-trainable",
        "from_pretrained",
        lambda: n_trainable(
            lx.LorettaModel.from_pretrained(tiny("bert", 0), saved("bert"), is_trainable=True)
        ),
        correct(lambda n: n > 0, "trainable parameters"),
    ),
    C(
        "load-frozen",
        "from_pretrained",
        lambda: n_trainable(lx.LorettaModel.from_pretrained(tiny("bert", 0), saved("bert"))),
        correct(lambda n: n == 0, "nothing trainable"),
    ),
    # -- missing and broken files ------------------------------------------------------------------
    C(
        "load-missing-folder",
        "from_pretrained",
        lambda: load_into_fresh(tmpdir("gone") / "nothing")(),
        error(FILE_ERRORS, ["nothing"]),
    ),
    C(
        "load-empty-folder",
        "from_pretrained",
        lambda: load_into_fresh(tmpdir("empty"))(),
        error(FILE_ERRORS, [CONFIG]),
    ),
    C(
        "load-folder-is-a-file",
        "from_pretrained",
        lambda: load_into_fresh(saved("bert") / CONFIG)(),
        error(FILE_ERRORS, [CONFIG]),
    ),
    C(
        "load-missing-weights",
        "from_pretrained",
        lambda: (lambda d: ((d / WEIGHTS).unlink(), load_into_fresh(d)())[-1])(saved("bert")),
        error(FILE_ERRORS, [WEIGHTS]),
    ),
    C(
        "load-truncated-weights",
        "from_pretrained",
        lambda: load_into_fresh(truncated(saved("bert")))(),
        error(FILE_ERRORS, [WEIGHTS]),
    ),
    C(
        "load-retry-after-truncated",
        "from_pretrained",
        retry_after_truncated,
        correct(
            lambda ok: ok is True, "a good adapter loads into the same base after a failed load"
        ),
    ),
    C(
        "load-weights-random-bytes",
        "from_pretrained",
        bad_file(WEIGHTS, b"\x00\x01garbage" * 10),
        error(FILE_ERRORS, [WEIGHTS]),
    ),
    C(
        "load-config-not-json",
        "from_pretrained",
        bad_file(CONFIG, "{not json"),
        error(FILE_ERRORS, [CONFIG]),
    ),
    C(
        "load-config-list",
        "from_pretrained",
        bad_file(CONFIG, "[1, 2, 3]"),
        error(FILE_ERRORS, [CONFIG]),
    ),
    C(
        "load-config-null",
        "from_pretrained",
        bad_file(CONFIG, "null"),
        error(FILE_ERRORS, [CONFIG]),
    ),
    C("load-config-empty", "from_pretrained", bad_file(CONFIG, ""), error(FILE_ERRORS, [CONFIG])),
    # -- hostile or wrongly typed fields -----------------------------------------------------------
    C(
        "load-rank-string",
        "from_pretrained",
        bad(tt_rank="five"),
        error(BAD_ARG, ["tt_rank", "five"]),
    ),
    C("load-rank-zero", "from_pretrained", bad(tt_rank=0), error(ValueError, ["tt_rank", "0"])),
    C(
        "load-rank-huge",
        "from_pretrained",
        bad(tt_rank=100_000),
        error(ValueError, ["tt_rank"]),
        isolate=True,
    ),
    C("load-rank-mismatch", "from_pretrained", bad(tt_rank=3), error(ValueError, ["tt_rank"])),
    C(
        "load-bottleneck-list",
        "from_pretrained",
        bad(bottleneck=[4]),
        error(BAD_ARG, ["bottleneck"]),
    ),
    C("load-unknown-key", "from_pretrained", bad(foo=1), error(BAD_ARG, ["foo"])),
    C("load-missing-alpha", "from_pretrained", bad(alpha=DELETE), error(ValueError, ["alpha"])),
    C("load-missing-method", "from_pretrained", bad(method=DELETE), error(ValueError, ["method"])),
    C(
        "load-method-bogus",
        "from_pretrained",
        bad(method="bogus"),
        error(ValueError, ["method", "bogus"]),
    ),
    C("load-alpha-string", "from_pretrained", bad(alpha="16"), error(BAD_ARG, ["alpha"])),
    C(
        "load-target-regex-hang",
        "from_pretrained",
        bad(target_modules=["(.|.)*X"]),
        error(ValueError, ["target_modules"]),
        isolate=True,
    ),
    C(
        "load-target-nonexistent",
        "from_pretrained",
        bad(target_modules=["nonexistent"]),
        error(ValueError, ["nonexistent"]),
    ),
    C(
        "load-tt-shapes-bad",
        "from_pretrained",
        bad(tt_shapes={"32x4": [5, 5]}),
        error(ValueError, ["tt_shapes"]),
    ),
    C(
        "load-model-type-mismatch",
        "from_pretrained",
        lambda: keeps(
            lambda: tiny("llama"), lambda b: lx.LorettaModel.from_pretrained(b, saved("bert"))
        )(),
        error(ValueError, ["bert", "llama"]),
    ),
    C(
        "load-into-adapted",
        "from_pretrained",
        lambda: keeps(
            lambda: adapted("bert", bottleneck=4, tt_rank=2).base_model,
            lambda b: lx.LorettaModel.from_pretrained(b, saved("bert")),
        )(),
        error(ValueError, ["already"]),
    ),
    # -- hostile tensors ---------------------------------------------------------------------------
    C(
        "load-nan-weights",
        "from_pretrained",
        bad_weights(first_tensor(lambda t: torch.full_like(t, float("nan")))),
        error(ValueError, ["nan"]),
    ),
    C(
        "load-inf-weights",
        "from_pretrained",
        bad_weights(first_tensor(lambda t: torch.full_like(t, float("inf")))),
        error(ValueError, ["inf"]),
    ),
    C(
        "load-missing-tensor",
        "from_pretrained",
        bad_weights(drop_first),
        error(ValueError, ["missing"]),
    ),
    C(
        "load-extra-tensor",
        "from_pretrained",
        bad_weights(add_extra),
        error(ValueError, ["unexpected"]),
    ),
    C(
        "load-wrong-shape",
        "from_pretrained",
        bad_weights(first_tensor(lambda t: torch.zeros(t.numel() + 1))),
        error(ValueError, ["shape"]),
    ),
    C(
        "load-int-weights",
        "from_pretrained",
        bad_weights(first_tensor(lambda t: torch.ones_like(t, dtype=torch.int64))),
        error(ValueError, ["dtype"]),
    ),
    C(
        "load-fp16-weights",
        "from_pretrained",
        fp16_weights,
        correct(lambda ok: ok is True, "float16 tensors load (within 1e-2)"),
    ),
]
