"""A plain transformers.Trainer with a LorettaModel: adapter-sized checkpoints, resume, best model.

The hook is LorettaModel.state_dict() (the adapter and its config): Trainer writes it into every
checkpoint and save_model folder and loads it back with load_state_dict.
"""

import itertools
import json

import pytest
import torch
from conftest import tiny_batch, tiny_model
from safetensors import safe_open
from safetensors.torch import load_file

import loretta_explore as lx

SMALL = dict(bottleneck=8, tt_rank=3)
#: resuming gives the same per-step losses as one straight run to this (measured: 0.0 on CPU)
RESUME_ATOL = 1e-6


def _rows(arch="bert", n=16, seq=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        ids = torch.randint(3, 100, (seq,), generator=g)
        label = ids if arch == "llama" else torch.tensor(i % 2)
        rows.append(
            dict(input_ids=ids, attention_mask=torch.ones(seq, dtype=torch.long), labels=label)
        )
    return rows


def _model(arch="bert", seed=1, **kw):
    torch.manual_seed(seed)
    return lx.get_loretta_model(
        tiny_model(arch), lx.LorettaConfig(**{"method": "rep", **SMALL, **kw})
    )


def _trainer(model, out, steps, arch="bert", extra=None, **kw):
    from transformers import Trainer, TrainingArguments

    options = dict(
        output_dir=str(out),
        per_device_train_batch_size=4,
        max_steps=steps,
        learning_rate=1e-2,
        report_to=[],
        logging_steps=1,
        use_cpu=True,
        disable_tqdm=True,
        save_strategy="steps",
        save_steps=steps,
        seed=3,
    )
    options.update(kw)
    return Trainer(
        model=model, args=TrainingArguments(**options), train_dataset=_rows(arch), **(extra or {})
    )


def _bytes(folder, skip=()):
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and p.name not in skip)


def _losses(trainer):
    return [(h["step"], h["loss"]) for h in trainer.state.log_history if "loss" in h]


@pytest.mark.parametrize("arch", ["bert", "llama"])
def test_checkpoints_and_save_model_hold_only_the_adapter(tmp_path, arch):
    model = _model(arch, init="compensated")
    adapter = _bytes(model.save_pretrained(tmp_path / "adapter"))
    trainer = _trainer(model, tmp_path / "run", 2, arch, save_steps=1)
    trainer.train()
    checkpoint = tmp_path / "run" / "checkpoint-1"
    own_state = (
        "optimizer.pt",
        "scheduler.pt",
        "rng_state.pth",
        "trainer_state.json",
        "training_args.bin",
    )
    assert sorted(p.name for p in checkpoint.iterdir()) == sorted(["model.safetensors", *own_state])
    assert _bytes(checkpoint, own_state) <= 1.05 * adapter
    full = sum(t.numel() * t.element_size() for t in model.base_model.state_dict().values())
    assert _bytes(checkpoint, own_state) < full / 4  # main wrote the whole model (more than full)
    trainer.save_model(str(tmp_path / "saved"))
    assert _bytes(tmp_path / "saved", ("training_args.bin",)) <= 1.05 * adapter
    with safe_open(str(tmp_path / "saved" / "model.safetensors"), "pt") as f:
        names = set(f.keys())
    assert names == {"base_model." + n for n in model.trainable_state()} | {"_extra_state"}
    # the save_model folder is a LoRETTA adapter the kit loads (its config rides in _extra_state)
    batch = tiny_batch(arch)
    expected = model.eval()(**batch).logits
    reloaded = lx.LorettaModel.from_pretrained(tiny_model(arch), tmp_path / "saved").eval()
    assert torch.allclose(reloaded(**batch).logits, expected, atol=1e-6)


def test_resume_continues_to_the_same_losses(tmp_path):
    straight = _trainer(_model(), tmp_path / "straight", 6)
    straight.train()
    first = _trainer(_model(), tmp_path / "split", 6, save_steps=3)
    first.train()  # runs all 6 steps, leaving checkpoint-3 behind; resume from that one
    resumed = _trainer(_model(seed=99), tmp_path / "split", 6, save_steps=3)  # other start values
    resumed.train(resume_from_checkpoint=str(tmp_path / "split" / "checkpoint-3"))
    a, b = dict(_losses(straight)), dict(_losses(resumed))
    assert sorted(a) == sorted(b) == [1, 2, 3, 4, 5, 6]
    gap = max(abs(a[s] - b[s]) for s in (4, 5, 6))
    print(f"resumed vs straight: largest loss gap {gap:.3g}")
    assert gap <= RESUME_ATOL, f"resumed losses differ by {gap:.3g}"
    assert len({round(a[s], 4) for s in a}) > 1  # the losses moved: the comparison means something
    for n, p in resumed.model.trainable_state().items():
        assert torch.allclose(p, straight.model.trainable_state()[n], atol=1e-6), n


def test_load_best_model_at_end_loads_the_best_checkpoint(tmp_path):
    scores = itertools.chain([0.2, 0.9, 0.4, 0.1], itertools.repeat(0.0))  # step 2 is the best

    def metric(_prediction):
        return {"score": next(scores)}

    model = _model()
    trainer = _trainer(
        model,
        tmp_path / "run",
        4,
        extra=dict(eval_dataset=_rows(n=4, seed=5), compute_metrics=metric),
        save_steps=1,
        eval_strategy="steps",
        eval_steps=1,
        load_best_model_at_end=True,
        metric_for_best_model="score",
        greater_is_better=True,
        save_total_limit=4,
    )
    trainer.train()
    assert trainer.state.best_model_checkpoint.endswith("checkpoint-2")
    assert "eval_loss" in trainer.evaluate()  # Trainer found the labels through LorettaModel
    best = load_file(str(tmp_path / "run" / "checkpoint-2" / "model.safetensors"))
    last = load_file(str(tmp_path / "run" / "checkpoint-4" / "model.safetensors"))
    live = model.state_dict()
    tt = [k for k in best if ".cores." in k]
    assert tt and all(torch.equal(live[k], best[k]) for k in tt)
    assert any(not torch.equal(live[k], last[k]) for k in tt)


def test_resume_refuses_a_model_with_other_settings(tmp_path):
    _trainer(_model(alpha=16.0), tmp_path / "run", 2, save_steps=2).train()
    other = _trainer(_model(alpha=8.0), tmp_path / "run", 4, save_steps=2)
    with pytest.raises(ValueError, match=r"other settings.*alpha"):
        other.train(resume_from_checkpoint=str(tmp_path / "run" / "checkpoint-2"))


def test_state_dict_is_the_adapter_and_loads_strictly():
    model = _model()
    state = model.state_dict()
    assert set(state) == {"base_model." + n for n in model.trainable_state()} | {"_extra_state"}
    config = json.loads(bytes(state["_extra_state"].numpy()))
    assert config["format"] == "loretta_explore.adapter" and config["config"]["alpha"] == 16.0
    assert len(model.state_dict(full=True)) > len(state)
    fresh = _model(seed=7)
    assert fresh.load_state_dict(state).missing_keys == []  # strict, without the frozen weights
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in state.items())
    partial = {k: v for k, v in state.items() if ".A.cores.0" not in k}
    with pytest.raises(RuntimeError, match=r"Missing key.*A\.cores\.0"):
        fresh.load_state_dict(partial)


def test_base_model_adapter_methods_are_not_exposed():
    model = _model()
    for name in (
        "set_adapter",
        "load_adapter",
        "add_adapter",
        "active_adapters",
        "disable_adapters",
        "get_adapter_state_dict",
    ):
        assert not hasattr(model, name)
        with pytest.raises(AttributeError, match="LorettaModel has no .*disable_adapter"):
            getattr(model, name)
    assert model.config is model.base_model.config  # everything else still falls through
