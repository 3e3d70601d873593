"""Shared fixtures: offline hub, tiny Hugging Face models of every supported architecture."""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(min(2, torch.get_num_threads()))

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            vocab_size=100, max_position_embeddings=64)


def tiny_model(arch: str, seed: int = 0):
    """A small randomly initialised model of one architecture (no download)."""
    import transformers as tf

    torch.manual_seed(seed)
    if arch == "bert":
        return tf.BertForSequenceClassification(tf.BertConfig(**TINY, num_labels=2))
    if arch == "roberta":
        return tf.RobertaForSequenceClassification(tf.RobertaConfig(**TINY, num_labels=2, pad_token_id=1))
    if arch == "deberta":
        return tf.DebertaForSequenceClassification(tf.DebertaConfig(
            **TINY, num_labels=2, relative_attention=True, pos_att_type=["c2p", "p2c"],
            max_relative_positions=-1, position_biased_input=False, type_vocab_size=0,
            pooler_hidden_size=32))
    if arch == "llama":
        return tf.LlamaForCausalLM(tf.LlamaConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                  num_key_value_heads=1, intermediate_size=64, vocab_size=100,
                                                  max_position_embeddings=64))
    if arch == "gpt2":
        return tf.GPT2LMHeadModel(tf.GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=100, n_positions=64))
    raise ValueError(arch)


ARCHS = ("bert", "roberta", "deberta", "llama", "gpt2")
DECODERS = ("llama", "gpt2")


def tiny_batch(arch: str, seed: int = 1, batch: int = 4, seq: int = 10):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 100, (batch, seq), generator=g)
    mask = torch.ones_like(ids)
    if arch in DECODERS:
        return dict(input_ids=ids, attention_mask=mask, labels=ids)
    return dict(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1] * (batch // 2)))


@pytest.fixture
def tiny():
    return tiny_model
