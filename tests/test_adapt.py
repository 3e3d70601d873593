"""get_loretta_model on tiny models of every architecture, the paper's counts, save/load, merge."""

import copy

import pytest
import torch
from conftest import ARCHS, tiny_batch, tiny_model

import loretta_explore as lx
from loretta_explore.adapt import AdapterAround, TensorizedHead
from loretta_explore.layers import LorettaRepLinear

SMALL = dict(bottleneck=8, tt_rank=3)
CASES = [(arch, "rep", init) for arch in ARCHS for init in ("paper", "compensated", "zero")] + [
    (arch, "adp", init) for arch in ARCHS for init in ("paper", "identity")
]


def adapted(arch, method, init, **kw):
    model = tiny_model(arch)
    torch.manual_seed(1)
    return lx.get_loretta_model(
        model, lx.LorettaConfig(method=method, init=init, **{**SMALL, **kw})
    )


def logits(model, batch):
    with torch.no_grad():
        return model(**{k: v for k, v in batch.items() if k != "labels"}).logits


@pytest.mark.parametrize("arch, method, init", CASES)
def test_a_few_steps_lower_the_loss_and_keep_base_weights(arch, method, init):
    model = adapted(arch, method, init)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    batch = tiny_batch(arch)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.eval()  # dropout off: the loss curve is deterministic, gradients flow all the same
    losses = []
    for _ in range(8):
        loss = model(**batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    for n, p in model.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]), f"frozen weight {n} changed"


@pytest.mark.parametrize("arch", ARCHS)
def test_placement(arch):
    rep = adapted(arch, "rep", "paper")
    rep_names = [n for n, m in rep.named_modules() if isinstance(m, LorettaRepLinear)]
    expected = {
        "bert": ("query", "value"),
        "roberta": ("query", "value"),
        "deberta": ("in_proj",),
        "llama": ("q_proj", "v_proj"),
        "gpt2": ("c_attn",),
    }[arch]
    assert len(rep_names) == 2 * len(expected)  # two layers
    assert {n.split(".")[-1] for n in rep_names} == set(expected)
    adp = adapted(arch, "adp", "paper")
    wrappers = {n: m.position for n, m in adp.named_modules() if isinstance(m, AdapterAround)}
    per_layer = {"llama": 3}.get(arch, 2)
    assert len(wrappers) == 2 * per_layer
    if arch == "llama":
        assert sorted(wrappers.values()) == ["after"] * 2 + ["before"] * 4
        assert not any("self_attn" in n for n in wrappers)
    if arch in ("bert", "roberta", "deberta"):
        assert all(
            n.endswith("dropout") for n in wrappers
        )  # LayerNorm(a(dropout(dense(x))) + residual)
        heads = [n for n, m in adp.named_modules() if isinstance(m, TensorizedHead)]
        assert len(heads) == 1
    trainable = [n for n, p in adp.named_parameters() if p.requires_grad]
    assert all(
        (
            "adapter" in n
            or "norm" in n.lower()
            or "ln_" in n
            or "tt." in n
            or "classifier" in n
            or "out_proj" in n
        )
        for n in trainable
    ), trainable


@pytest.mark.parametrize("arch", ARCHS)
def test_compensated_and_zero_start_at_the_pretrained_function(arch):
    batch = tiny_batch(arch)
    base = tiny_model(arch).eval()
    reference = logits(base, batch)
    for init in ("compensated", "zero"):
        model = lx.get_loretta_model(
            tiny_model(arch), lx.LorettaConfig(method="rep", init=init, head="dense", **SMALL)
        ).eval()
        assert torch.allclose(logits(model, batch), reference, atol=1e-5), init
    paper = lx.get_loretta_model(
        tiny_model(arch), lx.LorettaConfig(method="rep", init="paper", head="dense", **SMALL)
    ).eval()
    assert not torch.allclose(logits(paper, batch), reference, atol=1e-5)


def _train_a_bit(model, arch, steps=3):
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    batch = tiny_batch(arch)
    for _ in range(steps):
        loss = model(**batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("init", ["paper", "compensated"])
def test_merge_and_unload_keeps_outputs(arch, init):
    model = _train_a_bit(adapted(arch, "rep", init), arch)
    batch = tiny_batch(arch)
    before = logits(model, batch)
    merged = model.merge_and_unload()
    assert not any(isinstance(m, (LorettaRepLinear, TensorizedHead)) for m in merged.modules())
    assert torch.allclose(logits(merged, batch), before, atol=1e-5)


def test_merge_refused_for_adapters():
    with pytest.raises(TypeError, match="non-linear"):
        adapted("bert", "adp", "paper").merge_and_unload()


@pytest.mark.parametrize(
    "arch, method, init",
    [
        ("bert", "rep", "compensated"),
        ("deberta", "adp", "paper"),
        ("llama", "rep", "paper"),
        ("gpt2", "adp", "identity"),
        ("roberta", "rep", "zero"),
    ],
)
def test_save_then_load_gives_identical_outputs(tmp_path, arch, method, init):
    model = _train_a_bit(adapted(arch, method, init), arch)
    batch = tiny_batch(arch)
    expected = logits(model, batch)
    model.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "adapter_config.json",
        "loretta_adapter.safetensors",
        "loretta_config.json",
    ]
    torch.manual_seed(123)  # a different random start must not matter
    loaded = lx.LorettaModel.from_pretrained(tiny_model(arch), tmp_path).eval()
    assert torch.allclose(logits(loaded, batch), expected, atol=1e-6)
    assert loaded.num_trainable() == 0
    trainable = lx.LorettaModel.from_pretrained(tiny_model(arch), tmp_path, is_trainable=True)
    assert trainable.num_trainable() == model.num_trainable()


def test_saved_file_holds_only_what_was_trained(tmp_path):
    from safetensors.torch import load_file

    model = adapted("bert", "rep", "paper")
    model.save_pretrained(tmp_path)
    saved = load_file(str(tmp_path / "loretta_adapter.safetensors"))
    assert sum(t.numel() for t in saved.values()) == model.num_trainable()
    assert not any("word_embeddings" in n or n.endswith("query.base.weight") for n in saved)


def test_loading_into_a_mismatched_model_names_the_mismatch(tmp_path):
    adapted("bert", "rep", "paper").save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="trained on a BertForSequenceClassification"):
        lx.LorettaModel.from_pretrained(tiny_model("llama"), tmp_path)
    import transformers as tf

    wider = tf.BertForSequenceClassification(
        tf.BertConfig(
            hidden_size=48,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            vocab_size=100,
        )
    )
    with pytest.raises(ValueError, match="is 48 -> 48 here.*trained on another model"):
        lx.LorettaModel.from_pretrained(wider, tmp_path)


@pytest.mark.parametrize("arch", ["bert", "llama"])
@pytest.mark.parametrize("method", ["rep", "adp"])
def test_disable_adapter_gives_the_base_model(arch, method):
    batch = tiny_batch(arch)
    reference = logits(tiny_model(arch).eval(), batch)
    model = _train_a_bit(adapted(arch, method, "paper"), arch)
    trained = logits(model, batch)
    assert not torch.allclose(trained, reference, atol=1e-4)
    with model.disable_adapter():
        assert torch.allclose(logits(model, batch), reference, atol=1e-5)
    assert torch.allclose(logits(model, batch), trained)


def test_unknown_target_lists_candidates():
    with pytest.raises(ValueError, match=r"matches no module.*Candidate linear modules.*query"):
        lx.get_loretta_model(tiny_model("bert"), lx.LorettaConfig(target_modules=["qproj"]))


def test_config_errors_teach():
    with pytest.raises(ValueError, match='"rep" or "adp"'):
        lx.LorettaConfig(method="lora")
    with pytest.raises(ValueError, match="init for method 'adp'"):
        lx.LorettaConfig(method="adp", init="compensated")


@pytest.mark.parametrize(
    "name, method, expected",
    [
        ("deberta-base", "adp", 99_034),
        ("deberta-base", "rep", 54_068),
        ("llama-2-7b", "adp", 876_800),
        ("llama-2-7b", "rep", 507_904),
    ],
)
def test_paper_counts_on_meta_models(name, method, expected):
    model = lx.build_reference_model(name)
    assert lx.get_loretta_model(model, lx.LorettaConfig(method=method)).num_trainable() == expected


def test_print_and_report(capsys):
    model = adapted("bert", "adp", "paper")
    model.print_trainable_parameters()
    out = capsys.readouterr().out
    assert out.startswith(f"trainable params: {model.num_trainable():,} || all params: ")
    rows = model.parameter_report()
    assert sum(r["count"] for r in rows) == model.num_trainable()
    kinds = {r["kind"] for r in rows}
    assert {"tt core", "norm", "adapter bias", "head"} <= kinds
    assert {r["layer"] for r in rows if r["kind"] == "tt core" and "encoder" in r["name"]} == {0, 1}


def test_bf16_base_with_fp32_tt():
    base = tiny_model("llama").to(torch.bfloat16)
    model = lx.get_loretta_model(base, lx.LorettaConfig(method="rep", **SMALL))
    tt = [p for n, p in model.named_parameters() if ".cores." in n]
    assert tt and all(p.dtype == torch.float32 for p in tt)
    batch = tiny_batch("llama")
    loss = model(**batch).loss
    loss.backward()
    assert all(p.grad is not None for p in tt)
    out = model.generate(batch["input_ids"][:1, :4], max_new_tokens=3, do_sample=False)
    assert out.shape == (1, 7)


def test_to_moves_everything():
    model = adapted("bert", "rep", "compensated").to(torch.float64)
    assert {p.dtype for p in model.parameters()} == {torch.float64}


def test_trainer_trains_saves_and_reloads(tmp_path):
    from transformers import Trainer, TrainingArguments

    arch = "bert"
    model = adapted(arch, "rep", "paper")
    g = torch.Generator().manual_seed(0)
    rows = [
        dict(
            input_ids=torch.randint(3, 100, (10,), generator=g),
            attention_mask=torch.ones(10, dtype=torch.long),
            labels=torch.tensor(i % 2),
        )
        for i in range(16)
    ]
    args = TrainingArguments(
        output_dir=str(tmp_path / "run"),
        per_device_train_batch_size=4,
        max_steps=4,
        learning_rate=1e-2,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
        use_cpu=True,
        disable_tqdm=True,
    )
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    trainer = Trainer(model=model, args=args, train_dataset=rows)
    trainer.train()
    assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters() if n in before)
    model.save_pretrained(tmp_path / "adapter")
    batch = tiny_batch(arch)
    reloaded = lx.LorettaModel.from_pretrained(tiny_model(arch), tmp_path / "adapter").eval()
    assert torch.allclose(logits(reloaded, batch), logits(model.eval(), batch), atol=1e-6)


def test_deepcopy_is_independent_and_keeps_the_signature():
    import inspect

    model = adapted("bert", "rep", "paper")
    twin = copy.deepcopy(model)
    assert "input_ids" in inspect.signature(twin.forward).parameters
    with torch.no_grad():
        for p in twin.parameters():
            p.zero_()
    batch = {k: v for k, v in tiny_batch("bert").items() if k != "labels"}
    assert torch.count_nonzero(twin(**batch).logits) == 0
    assert torch.count_nonzero(model(**batch).logits) > 0
