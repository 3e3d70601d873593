"""budget.py: analytic counts against really adapted models, the paper's figures, errors, the CLI.

Every analytic count (from a config alone) is compared with the trainable parameters of a model
that was actually adapted on the meta device (no memory, no download): our get_loretta_model for
LoRETTA, PEFT for LoRA, IA3 and prefix tuning (PEFT builds on meta, even LLaMA-2-70B), and small
reference implementations written here for adapters, BitFit and full fine-tuning.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import functools
import re

import pytest
import torch
import transformers as tf
from conftest import ARCHS, tiny_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from loretta_explore import budget as B
from loretta_explore import models as M
from loretta_explore.__main__ import COMMANDS, main
from loretta_explore.adapt import LorettaConfig, get_loretta_model

pytestmark = pytest.mark.filterwarnings("ignore")

NAMES = M.REFERENCE_MODELS
ENCODERS = [n for n in NAMES if not n.startswith("llama")]


@functools.cache
def meta(name):
    """An unmodified meta model, shared by the read-only tests (never adapt it)."""
    return M.build_reference_model(name)


def trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def family(model):
    return model.config.model_type


# Independent of budget.py: the head modules of each encoder, written out by hand.
HEAD_DENSE = {"bert": "bert.pooler.dense", "roberta": "classifier.dense", "deberta": "pooler.dense"}
CLASSIFIER = {"bert": "classifier", "roberta": "classifier.out_proj", "deberta": "classifier"}


def is_norm(module):
    name = type(module).__name__
    return (
        isinstance(module, nn.LayerNorm) or name.endswith("LayerNorm") or name.endswith("RMSNorm")
    )


# ---------------------------------------------------------------------------------------------
# The table of modules built from a config is the model, parameter by parameter.
# ---------------------------------------------------------------------------------------------


def tiny_configs():
    """Variants the reference configs do not exercise: other decoders, heads, DeBERTa options."""
    small = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        vocab_size=101,
        max_position_embeddings=64,
    )
    return {
        "mistral": (tf.MistralForCausalLM, tf.MistralConfig(**small, num_key_value_heads=2)),
        "qwen2": (tf.Qwen2ForCausalLM, tf.Qwen2Config(**small, num_key_value_heads=2)),
        "qwen2-tied": (
            tf.Qwen2ForCausalLM,
            tf.Qwen2Config(**small, num_key_value_heads=1, tie_word_embeddings=True),
        ),
        "llama-biases": (
            tf.LlamaForCausalLM,
            tf.LlamaConfig(**small, attention_bias=True, mlp_bias=True),
        ),
        "llama-seq-cls": (
            tf.LlamaForSequenceClassification,
            tf.LlamaConfig(**small, num_labels=3, pad_token_id=0),
        ),
        "gpt2": (
            tf.GPT2LMHeadModel,
            tf.GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=101, n_positions=64),
        ),
        "gpt2-seq-cls": (
            tf.GPT2ForSequenceClassification,
            tf.GPT2Config(
                n_embd=32, n_layer=2, n_head=4, vocab_size=101, n_positions=64, n_inner=40
            ),
        ),
        "deberta-options": (
            tf.DebertaForSequenceClassification,
            tf.DebertaConfig(
                **small,
                relative_attention=True,
                pos_att_type=["p2c"],
                max_relative_positions=16,
                talking_head=True,
                position_biased_input=True,
                type_vocab_size=2,
                embedding_size=16,
                pooler_hidden_size=32,
                num_labels=5,
            ),
        ),
        "deberta-plain": (tf.DebertaForSequenceClassification, tf.DebertaConfig(**small)),
        "bert-3-labels": (tf.BertForSequenceClassification, tf.BertConfig(**small, num_labels=3)),
    }


def build_tiny(key):
    cls, config = tiny_configs()[key]
    with torch.device("meta"):
        return cls(config)


KINDS = {
    "linear": lambda m: isinstance(m, nn.Linear),
    "conv1d": lambda m: type(m).__name__ == "Conv1D",
    "embedding": lambda m: isinstance(m, nn.Embedding),
    "norm": is_norm,
    "dropout": lambda m: isinstance(m, nn.Dropout),
    "container": lambda m: isinstance(m, nn.Module),
}


def assert_spec_is_model(spec, model):
    assert spec.params == {n: p.numel() for n, p in model.named_parameters()}
    modules = dict(model.named_modules())
    for name, site in spec.modules().items():
        assert name in modules, name
        assert KINDS[site.kind](modules[name]), (name, site.kind, type(modules[name]).__name__)


@pytest.mark.parametrize("name", NAMES)
def test_spec_of_reference_model_is_the_meta_model(name):
    assert_spec_is_model(B.model_spec(name), meta(name))


@pytest.mark.parametrize("key", sorted(tiny_configs()))
def test_spec_of_other_configs_is_the_model(key):
    model = build_tiny(key)
    assert_spec_is_model(B.model_spec(model), model)
    assert B.count_trainable(model, "full") == sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# Every reference model x method: the analytic count equals the really adapted model's.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_full_is_every_parameter(name):
    assert B.count_trainable(name, "full") == sum(p.numel() for p in meta(name).parameters())


@pytest.mark.parametrize("method", ["loretta_adp", "loretta_rep"])
@pytest.mark.parametrize("name", NAMES)
def test_loretta_equals_get_loretta_model(name, method):
    model = get_loretta_model(M.build_reference_model(name), LorettaConfig(method=method[8:]))
    assert B.count_trainable(name, method) == model.num_trainable() == trainable(model)


def peft_model(model, method, **kw):
    import peft

    seq_cls = "ForSequenceClassification" in type(model).__name__
    task = peft.TaskType.SEQ_CLS if seq_cls else peft.TaskType.CAUSAL_LM
    if method == "lora":
        config = peft.LoraConfig(task_type=task, r=kw.get("r", 8))
    elif method == "prefix":
        config = peft.PrefixTuningConfig(
            task_type=task, num_virtual_tokens=kw.get("prefix_tokens", 5)
        )
    else:  # IA3 on k, v and the FFN output (as regexes: PEFT's "output.dense" would also catch attention.output.dense)
        ffn = {"llama": r".*mlp\.down_proj", "gpt2": r".*mlp\.c_proj"}.get(
            family(model), r".*layer\.\d+\.output\.dense"
        )
        kv = {
            "llama": r".*\.(k_proj|v_proj)",
            "gpt2": r".*\.c_attn",
            "deberta": r".*\.in_proj",
        }.get(family(model), r".*\.(key|value)")
        config = peft.IA3Config(
            task_type=task, target_modules=f"{kv}|{ffn}", feedforward_modules=ffn
        )
    return peft.get_peft_model(model, config)


def peft_head(name):
    """PEFT's sequence classification saves the module called `classifier`: RoBERTa's is the whole
    2-layer head, which budget calls head="dense"."""
    return {"head": "dense"} if name.startswith("roberta") else {}


@pytest.mark.parametrize("method", ["lora", "ia3", "prefix"])
@pytest.mark.parametrize("name", NAMES)
def test_peft_methods_equal_peft(name, method):
    model = peft_model(M.build_reference_model(name), method)
    assert B.count_trainable(name, method, **peft_head(name)) == trainable(model)


def reference_adapters(model, bottleneck, bias, norms, head):
    """Dense bottleneck adapters inserted for real (Houlsby for encoders, LoRETTA_adp's three MLP
    places for LLaMA), then the norms and head unfrozen: count what trains."""
    model.requires_grad_(False)
    llama = family(model) == "llama"
    places = []
    for name, module in list(model.named_modules()):
        if llama and re.search(r"mlp\.(gate_proj|up_proj)$", name):
            places.append((module, module.in_features))
        elif llama and name.endswith("mlp.down_proj"):
            places.append((module, module.out_features))
        elif not llama and re.search(
            r"(attention\.output\.dense|layer\.\d+\.output\.dense)$", name
        ):
            places.append((module, module.out_features))
    device = next(model.parameters()).device
    for module, f in places:
        module.add_module(
            "adapter",
            nn.Sequential(
                nn.Linear(f, bottleneck, bias=bias, device=device),
                nn.ReLU(),
                nn.Linear(bottleneck, f, bias=bias, device=device),
            ),
        )
    if norms:
        for module in model.modules():
            if is_norm(module):
                module.requires_grad_(True)
    if not llama:
        if head == "dense":
            model.get_submodule(HEAD_DENSE[family(model)]).requires_grad_(True)
        model.get_submodule(CLASSIFIER[family(model)]).requires_grad_(True)
    return trainable(model)


@pytest.mark.parametrize("name", NAMES)
def test_adapters_equal_a_reference_implementation(name):
    encoder = name in ENCODERS
    expected = reference_adapters(
        M.build_reference_model(name),
        8 if encoder else 64,
        bias=encoder,
        norms=encoder,
        head="dense",
    )
    assert B.count_trainable(name, "adapters") == expected


@pytest.mark.parametrize("name", ["deberta-base", "roberta-base", "llama-2-7b"])
def test_adapters_with_other_settings(name):
    expected = reference_adapters(
        M.build_reference_model(name), 32, bias=True, norms=False, head="frozen"
    )
    assert (
        B.count_trainable(
            name, "adapters", bottleneck=32, adapter_bias=True, train_norms=False, head="frozen"
        )
        == expected
    )


@pytest.mark.parametrize("name", NAMES)
def test_bitfit_equals_a_reference_implementation(name):
    model = meta(name)
    biases = sum(p.numel() for n, p in model.named_parameters() if n.endswith("bias"))
    head = 0
    if name in ENCODERS:  # the classifier's weight (its bias is a bias already)
        head = model.get_submodule(CLASSIFIER[family(model)]).weight.numel()
    assert B.count_trainable(name, "bitfit") == biases + head
    if name.startswith("llama"):
        assert biases == 0 and B.count_trainable(name, "bitfit") == 0  # LLaMA has no bias terms


# ---------------------------------------------------------------------------------------------
# Other hyperparameters and architectures, against real models.
# ---------------------------------------------------------------------------------------------


def tiny_meta(arch):
    with torch.device("meta"):
        return tiny_model(arch)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arch=st.sampled_from(ARCHS),
    method=st.sampled_from(["adp", "rep"]),
    tt_rank=st.integers(1, 6),
    bottleneck=st.sampled_from([2, 4, 8, 16]),
    tt_shapes=st.sampled_from(["paper", "auto"]),
    head=st.sampled_from(["tensorized", "dense", "frozen"]),
    train_norms=st.booleans(),
    train_classifier=st.sampled_from([None, True, False]),
)
def test_loretta_any_settings_equal_get_loretta_model(
    arch, method, tt_rank, bottleneck, tt_shapes, head, train_norms, train_classifier
):
    hp = dict(
        tt_rank=tt_rank,
        bottleneck=bottleneck,
        tt_shapes=tt_shapes,
        head=head,
        train_norms=train_norms,
        train_classifier=train_classifier,
    )
    try:
        expected = get_loretta_model(
            tiny_meta(arch), LorettaConfig(method=method, **hp)
        ).num_trainable()
    except ValueError as refused:  # e.g. a TT rank the bottleneck's cores cannot hold
        expected = refused
    hp = {k: v for k, v in hp.items() if v is not None}
    if isinstance(expected, ValueError):  # the count refuses the same settings, in the same words
        with pytest.raises(ValueError) as counted:
            B.count_trainable(tiny_meta(arch), f"loretta_{method}", **hp)
        # where the words differ: the count names a weight by its shape, the model by its module
        # (the rule of test_registry.py's test_bad_values_raise_the_same_error_on_both_paths)
        said, refused = str(counted.value), str(expected)
        assert said.split(" of ")[0] == refused.split(" of ")[0]
        assert said.split("Example:")[-1] == refused.split("Example:")[-1]
    else:
        assert B.count_trainable(tiny_meta(arch), f"loretta_{method}", **hp) == expected


@pytest.mark.parametrize(
    "key", ["mistral", "qwen2", "llama-seq-cls", "gpt2-seq-cls", "deberta-options"]
)
@pytest.mark.parametrize("method", ["loretta_adp", "loretta_rep", "lora", "prefix"])
def test_other_architectures(key, method):
    if method.startswith("loretta_"):
        expected = get_loretta_model(
            build_tiny(key), LorettaConfig(method=method[8:], bottleneck=4)
        ).num_trainable()
        assert B.count_trainable(build_tiny(key), method, bottleneck=4) == expected
    else:
        assert B.count_trainable(build_tiny(key), method) == trainable(
            peft_model(build_tiny(key), method)
        )


def test_explicit_shapes_and_targets_equal_get_loretta_model():
    shapes = {(768, 8): (4, 4, 6, 8, 8), (8, 2304): (8, 8, 8, 36), (768, 768): (24, 32, 768)}
    config = dict(tt_rank=3, tt_shapes=shapes)
    model = get_loretta_model(
        M.build_reference_model("deberta-base"), LorettaConfig(method="rep", **config)
    )
    assert B.count_trainable("deberta-base", "loretta_rep", **config) == model.num_trainable()
    targets = {"mlp.down_proj": "after"}
    model = get_loretta_model(
        M.build_reference_model("llama-2-7b"), LorettaConfig(method="adp", target_modules=targets)
    )
    assert (
        B.count_trainable("llama-2-7b", "loretta_adp", target_modules=targets)
        == model.num_trainable()
    )


@pytest.mark.parametrize("r, tokens", [(1, 1), (4, 20)])
def test_lora_rank_and_prefix_tokens_follow_peft(r, tokens):
    name = "deberta-base"
    assert B.count_trainable(name, "lora", r=r) == trainable(
        peft_model(M.build_reference_model(name), "lora", r=r)
    )
    assert B.count_trainable(name, "prefix", prefix_tokens=tokens) == trainable(
        peft_model(M.build_reference_model(name), "prefix", prefix_tokens=tokens)
    )


def test_config_and_model_give_the_same_count():
    config = M.reference_config("llama-2-7b")
    assert (
        B.count_trainable(config, "loretta_rep")
        == B.count_trainable("llama-2-7b", "loretta_rep")
        == 507_904
    )
    assert B.count_trainable(meta("deberta-base"), "loretta_adp") == 99_034
    assert B.count_trainable("deberta-base", "loretta_adp", num_labels=3) == 99_034 + 768 + 1
    assert (
        B.count_trainable("llama-2-7b", "lora", task="sequence-classification")
        == 4_194_304 + 2 * 4096
    )


# ---------------------------------------------------------------------------------------------
# The counts of docs/method.md#counting, and the paper's printed ones.
# ---------------------------------------------------------------------------------------------

METHOD_MD = [
    ("deberta-base", "loretta_adp", 99_034),
    ("deberta-base", "loretta_rep", 54_068),
    ("llama-2-7b", "loretta_adp", 876_800),
    ("llama-2-7b", "loretta_rep", 507_904),
    ("llama-2-7b", "lora", 4_194_304),
    ("llama-2-7b", "ia3", 614_400),
    ("llama-2-7b", "full", 6_738_415_616),
    ("llama-2-7b", "adapters", 50_331_648),
    ("llama-2-7b", "prefix", 1_310_720),
    ("deberta-base", "full", 139_193_858),
    ("deberta-base", "lora", 12 * 8 * (768 + 2304) + 2 * 768 + 2),
]


@pytest.mark.parametrize("name, method, expected", METHOD_MD)
def test_method_md_figures(name, method, expected):
    assert B.count_trainable(name, method) == expected


def test_breakdown_follows_method_md_formulas():
    parts = B.count_breakdown("deberta-base", "loretta_adp")
    tt = B.tt_params
    assert parts["tt cores"] == 24 * (tt([8, 8, 12, 8, 8], 5) + tt([8, 8, 12, 8, 8], 5))
    assert parts["adapter biases"] == 24 * (64 + 768) and parts["norms"] == 38_400
    assert (
        parts["tensorized head"] == tt([12, 8, 8, 8, 8, 12], 5) + 768
        and parts["classifier"] == 768 * 2 + 2
    )
    parts = B.count_breakdown("llama-2-7b", "loretta_rep")
    assert parts["tt cores"] == 32 * 2 * (tt([4, 4, 8, 8, 8, 8], 8) + tt([8, 8, 8, 8, 4, 4], 8))
    assert parts["norms"] == 32 * 2 * 4096 + 4096


ROWS = {  # method: (paper's figure, check)
    "llama-2-7b": {
        "full": ("6738.42M", "match"),
        "adapters": ("50.33M", "match"),
        "lora": ("4.19M", "match"),
        "prefix": ("1.31M", "match"),
        "ia3": ("0.60M", "differs"),
        "bitfit": (None, None),
        "loretta_rep": ("0.51M", "match"),
        "loretta_adp": ("0.88M", "match"),
    },
    "deberta-base": {
        "full": ("139.19M", "match"),
        "adapters": ("0.94M", "match"),
        "lora": ("0.30M", "match"),
        "bitfit": ("0.10M", "match"),
        "prefix": ("0.15M", "differs"),
        "ia3": (None, None),
        "loretta_adp": ("0.10M", "match"),
        "loretta_rep": ("0.05M", "match"),
    },
    "roberta-base": {
        "lora": ("0.63M", "differs"),
        "bitfit": ("0.10M", "match"),
        "loretta_adp": ("0.10M", "match"),
        "loretta_rep": ("0.07M", "match"),
    },
}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_table_shows_paper_figures_and_where_they_differ(name):
    table = B.budget_table(name, dtype=torch.bfloat16)
    rows = {row["method"]: row for row in table}
    assert list(rows) == list(B.METHODS)
    lora = rows["lora"]["count"]
    for method, (paper, check) in ROWS[name].items():
        row = rows[method]
        assert (row["paper"], row["check"]) == (paper, check), method
        assert row["count"] == B.count_trainable(name, method)
        assert row["bytes"] == 2 * row["count"] and row["ratio_to_lora"] == pytest.approx(
            row["count"] / lora
        )
        if check == "differs":
            assert row["note"], f"{method}: a differing figure needs a note"
    text = str(table)
    for method, (paper, _) in ROWS[name].items():
        assert method in text and (paper is None or paper in text)


def test_notes_name_settings_that_give_the_printed_figure():
    assert (
        B.compare_figure(B.count_trainable("deberta-base", "prefix", prefix_tokens=8), "0.15M")
        == "match"
    )
    assert (
        B.compare_figure(B.count_trainable("deberta-base", "lora", r=4), "0.15M") == "match"
    )  # LoRA r=4 row
    assert (
        B.count_trainable("deberta-base", "adapters", train_norms=False, head="frozen") == 315_074
    )
    assert B.count_trainable("roberta-base", "lora", head="dense") == 887_042
    assert B.count_trainable("roberta-base", "lora", r=16, train_norms=True) == 629_762
    rows = {r["method"]: r for r in B.budget_table("llama-2-13b")}
    assert "train_norms=True" in rows["adapters"]["note"] and "bias" in rows["bitfit"]["note"]


def test_13b_and_70b_adapter_norms_flag():
    for name, (hidden, layers) in {"llama-2-13b": (5120, 40), "llama-2-70b": (8192, 80)}.items():
        plain = B.count_trainable(name, "adapters")
        assert plain == 3 * layers * 2 * hidden * 64
        assert (
            B.count_trainable(name, "adapters", train_norms=True)
            == plain + layers * 2 * hidden + hidden
        )


@pytest.mark.parametrize(
    "count, printed, expected",
    [
        (876_800, "0.88M", "match"),
        (99_034, "0.10M", "match"),
        (99_034, "0.09M", "truncated"),
        (614_400, "0.60M", "differs"),
        (614_400, "0.61M", "match"),
        (6_738_415_616, "6738.42M", "match"),
        (1_500, "1.5K", "match"),
        (1_449, "1.5K", "differs"),
        (68_976_648_192, "68.97B", "truncated"),
    ],
)
def test_compare_figure(count, printed, expected):
    assert B.compare_figure(count, printed) == expected


def test_changed_settings_are_not_compared_and_per_method_settings():
    rows = {r["method"]: r for r in B.budget_table("llama-2-7b", tt_rank=4, lora={"r": 16})}
    assert rows["loretta_rep"]["check"] == rows["loretta_adp"]["check"] == "not compared"
    assert rows["loretta_rep"]["count"] == B.count_trainable("llama-2-7b", "loretta_rep", tt_rank=4)
    assert rows["lora"]["count"] == 8_388_608 and rows["lora"]["check"] == "not compared"
    assert rows["ia3"]["check"] == "differs" and rows["full"]["check"] == "match"
    assert rows["lora"]["ratio_to_lora"] == 1.0
    same = {
        r["method"]: r for r in B.budget_table("llama-2-7b", ["loretta_rep"], tt_rank=8)
    }  # the paper's rank
    assert same["loretta_rep"]["check"] == "match"


def test_format_table_text_and_markdown():
    table = B.budget_table("deberta-base", ["lora", "loretta_rep"])
    assert (
        B.format_table(table) == str(table) and "54,068" in str(table) and "216.27 kB" in str(table)
    )
    md = table.to_markdown()
    assert md.splitlines()[2].startswith("| method | count") and "| loretta_rep | 54,068 |" in md
    assert (
        B.format_table(list(table)).count("\n") == str(table).count("\n") - 1
    )  # no title without a model


# ---------------------------------------------------------------------------------------------
# Errors teach: known names, what is wrong, an example.
# ---------------------------------------------------------------------------------------------


def test_unknown_model_and_method_list_the_known_ones():
    with pytest.raises(ValueError, match="Example") as err:
        B.count_trainable("llama-3-8b", "lora")
    assert all(n in str(err.value) for n in NAMES)
    with pytest.raises(ValueError, match="Example") as err:
        B.count_trainable("llama-2-7b", "dora")
    assert all(m in str(err.value) for m in B.METHODS)
    with pytest.raises(ValueError, match="lora_rank"):
        B.count_trainable("llama-2-7b", "lora", tt_rank=3)
    with pytest.raises(ValueError, match="known"):
        B.budget_table("nope")
    with pytest.raises(ValueError, match="model_type"):
        B.count_trainable(tf.T5Config(), "lora")


@pytest.mark.parametrize(
    "method, hp, message",
    [
        ("adapters", dict(bottleneck=5000), "larger than"),
        ("loretta_adp", dict(bottleneck=4097), "larger than"),
        ("loretta_rep", dict(bottleneck=5000), "larger than"),
        ("lora", dict(r=5000), "exceeds"),
        ("loretta_rep", dict(tt_rank=0), ">= 1"),
        ("loretta_adp", dict(tt_rank=-2), ">= 1"),
        ("lora", dict(r=0), ">= 1"),
        ("prefix", dict(prefix_tokens=0), ">= 1"),
        ("loretta_rep", dict(tt_shapes={(4096, 16): (4, 4, 8, 8, 8)}), "product"),
        ("loretta_rep", dict(target_modules=["qkv"]), "matches no module"),
        ("lora", dict(head="tensorized"), "LoRETTA"),
        ("loretta_adp", dict(head="pooled"), "head"),
        ("adapters", dict(target_modules={"mlp.down_proj": "inside"}), "before"),
        ("lora", dict(task="token-classification"), "task"),
    ],
)
def test_impossible_hyperparameters_raise(method, hp, message):
    with pytest.raises(ValueError, match=message):
        B.count_trainable("llama-2-7b", method, **hp)


def test_other_errors():
    with pytest.raises(ValueError, match="encoder"):
        B.count_trainable("deberta-base", "lora", task="causal-lm")
    with pytest.raises(ValueError, match="dtype"):
        B.budget_table("deberta-base", dtype="float13")
    with pytest.raises(ValueError, match="takes"):
        B.budget_table("deberta-base", methods=["lora"], tt_rank=3)
    with pytest.raises(ValueError, match="ranks"):
        B.tt_params([8, 8, 8], [2])


# ---------------------------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------------------------


def test_cli_budget_prints_the_table(capsys):
    assert main(["budget", "llama-2-7b"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Trainable parameters: llama-2-7b (float32 storage)")
    for text in (
        "876,800",
        "0.88M",
        "507,904",
        "0.51M",
        "614,400",
        "0.60M",
        "differs",
        "6,738,415,616",
        "26.95 GB",
    ):
        assert text in out


def test_cli_options_change_the_table(capsys):
    argv = [
        "budget",
        "deberta-base",
        "--method",
        "loretta_rep,lora",
        "--tt-rank",
        "8",
        "--lora-rank",
        "4",
        "--dtype",
        "bfloat16",
        "--markdown",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    rep = B.count_trainable("deberta-base", "loretta_rep", tt_rank=8)
    assert (
        f"| loretta_rep | {rep:,} |" in out
        and "| lora | 148,994 |" in out
        and "not compared" in out
    )
    assert "bfloat16" in out and "| adapters" not in out
    assert main(["budget", "llama-2-7b", "--method", "adapters", "--bottleneck", "32"]) == 0
    assert f"{3 * 32 * 2 * 4096 * 32:,}" in capsys.readouterr().out


def test_cli_errors(capsys):
    assert main(["budget", "gpt-5"]) == 2
    err = capsys.readouterr().err
    assert "unknown model" in err and "llama-2-7b" in err
    assert main(["budget", "llama-2-7b", "--method", "dora"]) == 2
    assert "loretta_rep" in capsys.readouterr().err
    assert main([]) == 2
    assert "budget" in capsys.readouterr().out
    assert "budget" in COMMANDS


# --- baselines.prepare against count_trainable: every family and method in tests/test_registry.py


def test_prefix_tuning_of_an_encoder_classifier_says_why_it_cannot_train():
    from loretta_explore.baselines import prepare, trainable_parameters

    with pytest.raises(NotImplementedError, match="past_key_values.*count_trainable"):
        prepare(tiny_model("bert"), "prefix")
    decoder = tiny_model("llama")
    expected = B.count_trainable(decoder.config, "prefix")
    assert trainable_parameters(prepare(decoder, "prefix")) == expected
