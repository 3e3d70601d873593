"""Adapter folders: the kit's own format, old folders, PEFT in both directions, and every check
that runs before anything is built (a failed load leaves the model exactly as it was)."""

import json
import shutil
import warnings

import pytest
import torch
from conftest import tiny_batch, tiny_model
from safetensors.torch import load_file, save_file

import loretta_explore as lx

SMALL = dict(bottleneck=8, tt_rank=3)


def adapted(arch="bert", method="rep", seed=1, steps=2, **kw):
    model = tiny_model(arch)
    torch.manual_seed(seed)
    model = lx.get_loretta_model(model, lx.LorettaConfig(method=method, **{**SMALL, **kw}))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    for _ in range(steps):  # trained values, so that a wrong load cannot pass by luck
        opt.zero_grad()
        model(**tiny_batch(arch)).loss.backward()
        opt.step()
    return model.eval()


def logits(model, arch="bert"):
    batch = {k: v for k, v in tiny_batch(arch).items() if k != "labels"}
    with torch.no_grad():
        return model.eval()(**batch).logits


def snapshot(model):
    return (
        [(n, id(m)) for n, m in model.named_modules()],
        {n: t.clone() for n, t in model.state_dict().items()},
        {n: p.requires_grad for n, p in model.named_parameters()},
    )


def same(a, b):
    return (
        a[0] == b[0]
        and a[2] == b[2]
        and a[1].keys() == b[1].keys()
        and all(torch.equal(a[1][k], b[1][k]) for k in a[1])
    )


def edit_config(folder, change):
    path = folder / "loretta_config.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


@pytest.fixture
def no_build(monkeypatch):
    """Fail the test if the LoRETTA layout is built: these files must be refused before."""

    def boom(*args, **kwargs):
        raise AssertionError("the layout was built before the file was refused")

    from loretta_explore import loretta_model

    monkeypatch.setattr(loretta_model, "inject_loretta", boom)


def test_folder_is_the_kits_own_format_and_records_base_and_version(tmp_path):
    model = adapted(init="compensated")
    model.base_model.config._name_or_path = "someone/tiny-bert"
    model.save_pretrained(tmp_path)
    doc = json.loads((tmp_path / "loretta_config.json").read_text())
    assert doc["format"] == "loretta_explore.adapter" and doc["format_version"] == 1
    assert doc["base_model_name_or_path"] == "someone/tiny-bert"
    assert doc["trainable_params"] == model.num_trainable()
    assert doc["config"]["target_modules"] == [  # exact names, never patterns
        f"bert.encoder.layer.{i}.attention.self.{m}" for i in (0, 1) for m in ("query", "value")
    ]
    note = json.loads((tmp_path / "adapter_config.json").read_text())
    assert note["peft_type"].startswith("LORETTA_EXPLORE (not a PEFT adapter)")
    saved = load_file(str(tmp_path / "loretta_adapter.safetensors"))
    assert saved.keys() == model.trainable_state().keys()
    loaded = lx.LorettaModel.from_pretrained(tiny_model("bert"), tmp_path)
    assert torch.allclose(logits(loaded), logits(model), atol=1e-6)
    assert loaded.num_trainable() == 0
    loaded.save_pretrained(tmp_path / "again")  # frozen, it still saves the whole adapter
    assert load_file(str(tmp_path / "again" / "loretta_adapter.safetensors")).keys() == saved.keys()


@pytest.mark.parametrize("method, extra", [("rep", True), ("adp", False)])
def test_a_folder_of_an_earlier_kit_still_loads(tmp_path, method, extra):
    """Written by hand as earlier kits wrote it: flat fields, no format, no scale_by."""
    scale = dict(scale_by="tt_rank") if method == "rep" else {}
    model = adapted(method=method, **scale)
    model.save_pretrained(tmp_path / "new")
    config = json.loads((tmp_path / "new" / "loretta_config.json").read_text())["config"]
    old = {k: v for k, v in config.items() if k != "scale_by"}
    old.update(
        target_modules=None,
        tt_shapes="paper",
        base_model_class="BertForSequenceClassification",
        model_type="bert",
        **({"extra": {}} if extra else {}),
    )
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "adapter_config.json").write_text(json.dumps(old, indent=2))
    shutil.copy(
        tmp_path / "new" / "loretta_adapter.safetensors",
        tmp_path / "old" / "adapter_model.safetensors",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = lx.LorettaModel.from_pretrained(tiny_model("bert"), tmp_path / "old")
    said = " ".join(str(w.message) for w in caught)
    assert ("alpha / tt_rank" in said) == (method == "rep")
    assert torch.allclose(logits(loaded), logits(model), atol=1e-6)


def test_an_old_folder_without_alpha_is_refused(tmp_path, no_build):
    model = adapted()
    model.save_pretrained(tmp_path / "new")
    old = json.loads((tmp_path / "new" / "loretta_config.json").read_text())["config"]
    del old["alpha"], old["scale_by"]
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "adapter_config.json").write_text(json.dumps(old))
    shutil.copy(
        tmp_path / "new" / "loretta_adapter.safetensors",
        tmp_path / "old" / "adapter_model.safetensors",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused without first promising to load it
        with pytest.raises(ValueError, match=r"does not say \['alpha'\].*never guessed"):
            lx.LorettaModel.from_pretrained(tiny_model("bert"), tmp_path / "old")


BAD = [  # (what is changed, the error says)
    (lambda d: d.update(format_version=2), r"version 2.*reads version 1.*upgrade"),
    (lambda d: d.update(format="peft"), r"format 'peft'"),
    (lambda d: d.update(surprise=1), r"unknown key 'surprise'"),
    (lambda d: d["config"].update(tt_rank=100000), r"tt_rank = 100000 is outside \[0, 4096\]"),
    (lambda d: d["config"].update(tt_rank=1000), r"TT ranks \[1, 3.*tt_rank=1000.*would allocate"),
    (lambda d: d["config"].update(tt_rank="3"), r"tt_rank = \"3\" has the wrong type"),
    (lambda d: d["config"].update(alpha="16"), r"alpha = \"16\" has the wrong type"),
    (lambda d: d["config"].update(alpha=-1.0), r"alpha = -1.0 is outside"),
    (lambda d: d["config"].pop("alpha"), r"does not say \['alpha'\]"),
    (lambda d: d["config"].pop("scale_by"), r"does not say \['scale_by'\]"),
    (lambda d: d["config"].update(train_norms="yes"), r"train_norms = \"yes\" has the wrong type"),
    (lambda d: d["config"].update(dropout=2.0), r"dropout must be a finite number in \[0, 1\)"),
    (lambda d: d["config"].update(bottleneck=9), r"not those of bottleneck=9"),
    (lambda d: d["config"].update(target_modules=["(.|.)*X"]), r"'\(\.\|\.\)\*X'.*not an exact"),
    (lambda d: d["config"].update(target_modules=["a" * 100_000]), r"not an exact module name"),
    (lambda d: d["config"].update(target_modules={"bert": 1}), r"target_modules = .* wrong type"),
    (lambda d: d["config"]["target_modules"].pop(), r"target_modules and its tensors disagree"),
    (lambda d: d["config"].update(tt_shapes={"32x8": [4, 64]}), r"tt_shapes lists"),
    (lambda d: d["config"].update(head="pooled"), r"head for 'loretta_rep' must be one of"),
    (lambda d: d.update(config=[]), r"config must be dict"),
]


@pytest.mark.parametrize("change, message", BAD)
def test_a_bad_config_is_refused_before_anything_is_built(tmp_path, no_build, change, message):
    adapted().save_pretrained(tmp_path)
    edit_config(tmp_path, change)
    base = tiny_model("bert")
    before = snapshot(base)
    with pytest.raises(ValueError, match=message):
        lx.LorettaModel.from_pretrained(base, tmp_path)
    assert same(snapshot(base), before)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1, 2]", "must hold a JSON object, got list"),
        ("{'method': 'rep'}", "is not valid JSON"),
        (
            '{"format": "loretta_explore.adapter", "format_version": 1, "config": {"alpha": NaN}}',
            "NaN is not JSON",
        ),
        ("\xff\xfe", "is not valid JSON"),
    ],
)
def test_a_config_that_is_not_json_is_refused(tmp_path, no_build, text, message):
    adapted().save_pretrained(tmp_path)
    (tmp_path / "loretta_config.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=message):
        lx.LorettaModel.from_pretrained(tiny_model("bert"), tmp_path)


def test_nan_weights_are_refused(tmp_path, no_build):
    adapted().save_pretrained(tmp_path)
    path = tmp_path / "loretta_adapter.safetensors"
    state = load_file(str(path))
    name = sorted(state)[0]
    state[name][0] = float("nan")
    save_file(state, str(path))
    with pytest.raises(ValueError, match=r"NaN or infinite values in \['" + name):
        lx.LorettaModel.from_pretrained(tiny_model("bert"), tmp_path)


def test_failed_loads_leave_the_model_as_it_was_and_a_good_folder_then_loads(tmp_path):
    good = adapted(method="adp")
    good.save_pretrained(tmp_path / "good")
    truncated = tmp_path / "truncated"
    shutil.copytree(tmp_path / "good", truncated)
    data = (truncated / "loretta_adapter.safetensors").read_bytes()
    (truncated / "loretta_adapter.safetensors").write_bytes(data[: len(data) // 2])
    bad_field = tmp_path / "bad_field"
    shutil.copytree(tmp_path / "good", bad_field)
    edit_config(bad_field, lambda d: d["config"].update(activation="softmax"))
    # three labels: the TT layers fit, the classifier (trained by adp) does not; found only after
    # the layout is built, which must then be taken out again
    other = tiny_model("bert", num_labels=3)
    torch.manual_seed(1)
    lx.get_loretta_model(other, lx.LorettaConfig(method="adp", **SMALL)).save_pretrained(
        tmp_path / "mismatched"
    )
    base = tiny_model("bert")
    base.bert.encoder.layer[0].output.dense.weight.requires_grad_(False)  # the user's own choice
    before = snapshot(base)
    for folder, message in [
        (truncated, "not a readable safetensors file.*truncated"),
        (bad_field, "activation must be one of"),
        (tmp_path / "mismatched", r"classifier\.weight: saved \(3, 32\)"),
    ]:
        with pytest.raises(ValueError, match=message):
            lx.LorettaModel.from_pretrained(base, folder)
        assert same(snapshot(base), before), folder.name
    loaded = lx.LorettaModel.from_pretrained(base, tmp_path / "good")
    assert torch.allclose(logits(loaded), logits(good), atol=1e-6)


def test_saving_after_merge_or_unload_is_refused(tmp_path):
    for undo in ("merge_and_unload", "unload"):
        model = adapted()
        getattr(model, undo)()
        with pytest.raises(ValueError, match="merged or unloaded.*Save before merging"):
            model.save_pretrained(tmp_path / undo)
        assert not (tmp_path / undo).exists()


def test_saving_nan_is_refused(tmp_path):
    model = adapted()
    with torch.no_grad():
        next(p for p in model.parameters() if p.requires_grad).fill_(float("inf"))
    with pytest.raises(ValueError, match="NaN or infinite.*refusing to write"):
        model.save_pretrained(tmp_path)


def test_a_peft_lora_folder_handed_to_the_kit_says_what_it_is(tmp_path):
    lx.prepare(tiny_model("bert"), "lora", r=4).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"is a PEFT adapter \(peft_type 'LORA'.*PeftModel\.from"):
        lx.LorettaModel.from_pretrained(tiny_model("bert"), tmp_path)


def test_a_kit_folder_handed_to_peft_or_transformers_says_how_to_load_it(tmp_path):
    from peft import AutoPeftModelForSequenceClassification, PeftConfig, PeftModel

    adapted().save_pretrained(tmp_path)
    folder = str(tmp_path)
    for attempt in (
        lambda: PeftConfig.from_pretrained(folder),
        lambda: PeftModel.from_pretrained(tiny_model("bert"), folder),
        lambda: AutoPeftModelForSequenceClassification.from_pretrained(folder),
        lambda: tiny_model("bert").load_adapter(folder),
    ):
        with pytest.raises(Exception) as caught:  # PEFT raises a KeyError naming the peft_type
            attempt()
        assert "not a PEFT adapter" in str(caught.value)
        assert "LorettaModel.from_pretrained(base_model, folder)" in str(caught.value)
