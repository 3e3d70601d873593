"""Shared fixtures: offline hub, tiny Hugging Face models of every supported architecture."""

import json
import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(min(2, torch.get_num_threads()))

TINY_CONFIGS = Path(__file__).parent / "fixtures" / "tiny_configs"
#: every family in the kit's architecture registry has one tiny config here (one JSON per model_type)
FAMILIES = tuple(sorted(p.stem for p in TINY_CONFIGS.glob("*.json")))


def tiny_config(model_type: str, num_labels: int = 2):
    """The tiny config of one model_type (tests/fixtures/tiny_configs/<model_type>.json)."""
    from transformers import AutoConfig

    d = json.loads((TINY_CONFIGS / f"{model_type}.json").read_text())
    return AutoConfig.for_model(d.pop("model_type"), num_labels=num_labels, **d)


def tiny_model(arch: str, seed: int = 0, task: str | None = None, num_labels: int = 2):
    """A small randomly initialised model of one model_type (no download).

    Encoders get a sequence-classification head; decoders are causal LMs unless
    task="sequence-classification".
    """
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from loretta_explore.architectures import architecture

    config = tiny_config(arch, num_labels)
    decoder = architecture(config).decoder
    task = task or ("causal-lm" if decoder else "sequence-classification")
    auto = AutoModelForCausalLM if task == "causal-lm" else AutoModelForSequenceClassification
    torch.manual_seed(seed)
    return auto.from_config(config)


ARCHS = ("bert", "roberta", "deberta", "llama", "gpt2")
DECODERS = ("llama", "gpt2", "opt", "mistral", "qwen2")


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
