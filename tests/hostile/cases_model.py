"""The LorettaModel that get_loretta_model returns: disable_adapter, merge_and_unload, saving."""

from __future__ import annotations

import contextlib

import torch

import loretta_explore as lx

from .spec import Case, correct, either, error
from .tools import adapted, close, logits, tiny, tmpdir

GROUP = "adapt/adapter files"
SMALL = dict(bottleneck=4, tt_rank=2)


def C(id, entry, run, expect, **kw) -> Case:
    return Case(id, entry, GROUP, run, expect, **kw)


def trained(arch="bert", **k):
    model = adapted(arch, **(SMALL | k))
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    return model


def disable_gives_base(nested=False):
    def run():
        base = logits(tiny("bert"))
        model = trained("bert")
        with model.disable_adapter():
            if nested:
                with model.disable_adapter():
                    pass
            inside = logits(model)
        return close(inside, base, 1e-6)

    return run


def exception_inside_disable():
    model = trained("bert")
    before = logits(model)
    with contextlib.suppress(RuntimeError), model.disable_adapter():
        raise RuntimeError("user code fails inside the block")
    return close(logits(model), before, 0)


def merged_equal(arch, twice=False, **k):
    def run():
        model = trained(arch, **k)
        before = logits(model, arch)
        plain = model.merge_and_unload()
        if twice:
            plain = model.merge_and_unload()
        return close(logits(plain, arch), before, 1e-5) and not any(
            isinstance(m, lx.LorettaRepLinear) for m in plain.modules()
        )

    return run


def save_after_merge():
    model = trained("bert")
    model.merge_and_unload()
    merged = logits(model)
    folder = model.save_pretrained(tmpdir("merged"))
    loaded = lx.LorettaModel.from_pretrained(tiny("bert"), folder)
    return close(logits(loaded), merged, 1e-5)


CASES = [
    # -- LorettaModel: switching and merging -------------------------------------------------------
    C(
        "disable-gives-base",
        "LorettaModel",
        disable_gives_base(),
        correct(lambda ok: ok is True, "the base model's logits"),
    ),
    C(
        "disable-nested",
        "LorettaModel",
        disable_gives_base(nested=True),
        correct(lambda ok: ok is True, "still the base model after an inner block ends"),
    ),
    C(
        "disable-exception-restores",
        "LorettaModel",
        exception_inside_disable,
        correct(lambda ok: ok is True, "the adapted model again after an error in the block"),
    ),
    C(
        "merge-adp",
        "LorettaModel",
        lambda: trained("bert", method="adp").merge_and_unload(),
        error(TypeError, ["rep"]),
    ),
    C(
        "merge-equal-bert",
        "LorettaModel",
        merged_equal("bert"),
        correct(lambda ok: ok is True, "the same logits"),
    ),
    C(
        "merge-equal-compensated",
        "LorettaModel",
        merged_equal("llama", init="compensated"),
        correct(lambda ok: ok is True, "the same logits"),
    ),
    C(
        "merge-equal-gpt2",
        "LorettaModel",
        merged_equal("gpt2"),
        correct(lambda ok: ok is True, "the same logits"),
    ),
    C(
        "merge-twice",
        "LorettaModel",
        merged_equal("bert", twice=True),
        correct(lambda ok: ok is True, "the same logits"),
    ),
    C(
        "save-after-merge",
        "LorettaModel",
        save_after_merge,
        either(
            error((ValueError, RuntimeError), ["merge"]),
            correct(lambda ok: ok is True, "an adapter that loads back"),
        ),
    ),
    C(
        "save-to-a-file-path",
        "LorettaModel",
        lambda: adapted("bert", **SMALL).save_pretrained(tmpdir("file") / "adapter_config.json"),
        either(
            error(OSError, ["adapter_config.json"]),
            correct(lambda p: (p / "adapter_config.json").is_file(), "a folder of that name"),
        ),
    ),
    C(
        "parameter-report-sums",
        "LorettaModel",
        lambda: (lambda m: (sum(r["count"] for r in m.parameter_report()), m.num_trainable()))(
            adapted("llama", **SMALL)
        ),
        correct(lambda r: r[0] == r[1] > 0, "report rows add up to num_trainable"),
    ),
]
