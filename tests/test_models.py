"""models.py: the bundled encoder, the tiny decoder, reference configs on meta, local loading."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported, when run alone

import huggingface_hub.constants
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, LlamaForCausalLM

from loretta_explore import models as M


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Nothing in these tests may reach the network, whatever imported transformers first."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def encoder():
    return M.load_encoder(num_labels=3)


def test_encoder_path_holds_the_checkpoint():
    path = M.encoder_path()
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def test_encoder_dir_variable_loads_a_copy_in_float32(tmp_path, monkeypatch, encoder):
    """LORETTA_ENCODER_DIR serves machines without the package; a half copy still trains in fp32."""
    from safetensors.torch import load_file, save_file

    source = M.encoder_path()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    save_file(
        {k: v.half() for k, v in load_file(source / "model.safetensors").items()},
        tmp_path / "model.safetensors",
    )
    monkeypatch.setenv("LORETTA_ENCODER_DIR", str(tmp_path))
    assert M.encoder_path() == tmp_path
    copy, _ = M.load_encoder(num_labels=3)
    assert all(p.dtype == torch.float32 for p in copy.parameters())
    original = encoder[0].bert.encoder.layer[0].intermediate.dense.weight
    halved = copy.bert.encoder.layer[0].intermediate.dense.weight
    assert not torch.equal(original, halved) and torch.allclose(original, halved, atol=1e-3)
    monkeypatch.setenv("LORETTA_ENCODER_DIR", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="holds no config.json"):
        M.encoder_path()


def test_load_encoder_shapes_params_and_forward(encoder):
    model, tokenizer = encoder
    assert isinstance(model, BertForSequenceClassification)
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (6, 384)
    backbone = sum(p.numel() for p in model.bert.parameters())
    assert 22_500_000 < backbone < 22_900_000  # 22,713,216 with the pooler
    assert tuple(model.classifier.weight.shape) == (3, 384)
    batch = tokenizer(
        ["a wonderful film", "dull and far too long"], padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        assert model.eval()(**batch).logits.shape == (2, 3)


def test_load_encoder_is_deterministic_in_seed(encoder):
    a, _ = encoder
    b, _ = M.load_encoder(num_labels=3)
    c, _ = M.load_encoder(num_labels=3, seed=1)
    assert torch.equal(a.classifier.weight, b.classifier.weight)
    assert not torch.equal(a.classifier.weight, c.classifier.weight)
    assert torch.equal(
        a.bert.pooler.dense.weight, c.bert.pooler.dense.weight
    )  # from the checkpoint


def test_load_encoder_leaves_global_rng_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    M.load_encoder()
    assert torch.equal(torch.rand(3), expected)


TEXTS = ["Hello, world!", "  two  spaces\nand a newline", "café naïve Ünïcode ☃ 🙂", ""]


@pytest.mark.parametrize("text", TEXTS)
def test_byte_tokenizer_round_trip(text):
    tok = M.byte_tokenizer()
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id and max(ids) < len(tok) == 259
    assert tok.decode(ids, skip_special_tokens=True) == text
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)


def test_tiny_decoder_forward_generate_deterministic():
    model, tok = M.tiny_decoder()
    assert isinstance(model, LlamaForCausalLM) and model.config.hidden_size == 64
    batch = tok(["the cat sat", "a dog"], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, batch["input_ids"].shape[1], len(tok))
    prompt = tok("once upon", return_tensors="pt")
    out = model.generate(**prompt, max_new_tokens=6, do_sample=False)
    again, _ = M.tiny_decoder()
    assert torch.equal(again.generate(**prompt, max_new_tokens=6, do_sample=False), out)
    other, _ = M.tiny_decoder(seed=1)
    assert not torch.equal(other.model.embed_tokens.weight, model.model.embed_tokens.weight)
    assert isinstance(tok.decode(out[0], skip_special_tokens=True), str)


EXPECTED = {  # name: (hidden, layers, total parameters on meta)
    "llama-2-7b": (4096, 32, 6_738_415_616),
    "llama-2-13b": (5120, 40, 13_015_864_320),
    "llama-2-70b": (8192, 80, 68_976_648_192),
    "deberta-base": (768, 12, 139_193_858),  # the paper's "FT 139.19M"
    "roberta-base": (768, 12, 124_647_170),
    "roberta-large": (1024, 24, 355_361_794),
    "bert-base-uncased": (768, 12, 109_483_778),
    "all-minilm-l6-v2": (384, 6, 22_713_986),
}


@pytest.mark.parametrize("name", M.REFERENCE_MODELS)
def test_reference_models_build_on_meta(name):
    hidden, layers, total = EXPECTED[name]
    model = M.build_reference_model(name)
    assert (model.config.hidden_size, model.config.num_hidden_layers) == (hidden, layers)
    assert all(p.is_meta for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == total
    assert M.model_family(model) == ("llama" if name.startswith("llama") else "bert")
    released = torch.float16 if name.startswith("llama") else torch.float32
    assert next(model.parameters()).dtype == released


def test_reference_model_dtype_can_be_chosen():
    model = M.build_reference_model("llama-2-7b", dtype=torch.float32)
    assert next(model.parameters()).dtype == torch.float32


def test_module_names_the_adapters_target():
    deberta = dict(M.build_reference_model("deberta-base").named_modules())
    in_proj = deberta["deberta.encoder.layer.0.attention.self.in_proj"]
    assert (in_proj.in_features, in_proj.out_features) == (768, 2304)
    assert deberta["pooler.dense"].out_features == 768 and deberta["classifier"].out_features == 2
    llama = dict(M.build_reference_model("llama-2-70b").named_modules())
    assert llama["model.layers.0.self_attn.v_proj"].out_features == 1024  # GQA, 8 kv heads
    assert llama["model.layers.0.mlp.down_proj"].in_features == 28672


def test_unknown_names_and_tasks_teach():
    with pytest.raises(ValueError, match="llama-2-7b.*all-minilm-l6-v2"):
        M.reference_config("gpt-5")
    with pytest.raises(ValueError, match="causal-lm"):
        M.load_model("whatever", task="translation")


def test_load_model_round_trips_local_folders(tmp_path):
    model, tok = M.tiny_decoder()
    model.save_pretrained(tmp_path / "dec")
    tok.save_pretrained(tmp_path / "dec")
    loaded, loaded_tok = M.load_model(tmp_path / "dec", task="causal-lm")
    ids = tok("round trip", return_tensors="pt")["input_ids"]
    assert loaded_tok(["round trip"], return_tensors="pt")["input_ids"].tolist() == ids.tolist()
    with torch.no_grad():
        assert torch.allclose(loaded.eval()(ids).logits, model(ids).logits)
    torch.manual_seed(0)
    bert = BertForSequenceClassification(
        BertConfig(
            vocab_size=99,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            num_labels=2,
        )
    )
    bert.save_pretrained(tmp_path / "enc")
    loaded, no_tok = M.load_model(tmp_path / "enc", num_labels=2)
    assert no_tok is None and torch.equal(loaded.classifier.weight, bert.classifier.weight)


def test_hub_names_offline_give_a_clear_error():
    with pytest.raises(OSError, match="load_encoder"):
        M.load_model("llama-2-7b", task="causal-lm")


def test_model_family():
    assert [M.model_family(t) for t in ("roberta", "deberta-v2", "mistral", "gpt2", "t5")] == [
        "bert",
        "bert",
        "llama",
        "gpt2",
        "t5",
    ]
    assert M.model_family("llama-2-70b") == "llama"
