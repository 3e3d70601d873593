"""How many parameters does each fine-tuning method train? Counted from a config, never from weights.

Why analytic: LLaMA-2-70B's weights are 140 GB, but its ``config.json`` fixes every size that a
count needs. This file turns a config into a small table of the model's modules (names, sizes,
biases: :func:`model_spec`), then counts each method on that table with one formula per method
(METHOD.md section 5):

- "full": every parameter;
- "lora": r * (in + out) per target (A and B), query/value by default;
- "adapters": dense bottleneck adapters, 2 * f * b (+ b + f with biases) each, where LoRETTA_adp puts them;
- "prefix": tokens * layers * 2 * (key/value width): one key and one value vector per token and layer;
- "ia3": one scaling vector per target: k and v outputs and the FFN-output input;
- "bitfit": every bias;
- "loretta_adp" / "loretta_rep": exactly what :func:`loretta_explore.adapt.get_loretta_model` builds
  (same placement table, same shape choice, TT(shape, r) = sum_i r_{i-1} k_i r_i with ranks
  [1, r, ..., r, 1], never clipped, like :class:`~loretta_explore.layers.TTLinear`).

Encoders are counted with a sequence-classification head (2 labels unless told otherwise) and the
final classifier is trained by every baseline; decoders are counted as causal LMs.
:func:`budget_table` sets the counts beside the figures the paper printed and says where they differ.
The tests check every count against the trainable parameters of a really adapted (meta) model:
ours for LoRETTA, PEFT's for LoRA, IA3 and prefix tuning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import torch
from transformers import PretrainedConfig

from .adapt import LorettaConfig, architecture, matches_name, shape_request
from .models import REFERENCE_MODELS, TASKS, model_family, reference_config
from .tensorize import resolve_shape

__all__ = [
    "METHODS",
    "PAPER_FIGURES",
    "BudgetTable",
    "ModelSpec",
    "Site",
    "budget_table",
    "compare_figure",
    "count_breakdown",
    "count_trainable",
    "format_table",
    "model_spec",
    "tt_params",
]

METHODS: tuple[str, ...] = ("full", "lora", "adapters", "prefix", "ia3", "bitfit", "loretta_adp", "loretta_rep")
_EXAMPLE = 'count_trainable("llama-2-7b", "loretta_rep", tt_rank=8)'
_SEQ_CLS, _CAUSAL_LM = TASKS

# ---------------------------------------------------------------------------------------------
# The paper's printed figures (METHOD.md section 6) and what explains the ones we cannot match.
# ---------------------------------------------------------------------------------------------

#: Trainable-parameter figures as printed in the paper's tables, keyed by reference model and method.
PAPER_FIGURES: dict[str, dict[str, str]] = {
    "llama-2-7b": {"full": "6738.42M", "adapters": "50.33M", "lora": "4.19M", "prefix": "1.31M",
                   "ia3": "0.60M", "loretta_rep": "0.51M", "loretta_adp": "0.88M"},
    "deberta-base": {"full": "139.19M", "adapters": "0.94M", "lora": "0.30M", "bitfit": "0.10M",
                     "prefix": "0.15M", "loretta_adp": "0.10M", "loretta_rep": "0.05M"},
    "roberta-base": {"lora": "0.63M", "bitfit": "0.10M", "loretta_adp": "0.10M", "loretta_rep": "0.07M"},
}

_PAPER_NOTES: dict[tuple[str, str], str] = {
    ("llama-2-7b", "ia3"): "614,400 rounds and truncates to 0.61M; the paper's 0.60M is 0.6M (cut to one "
                           "decimal) printed with two",
    ("llama-2-7b", "adapters"): "printed without norms (train_norms=False); the paper's 13B and 70B "
                                "adapter figures include them",
    ("deberta-base", "prefix"): "the paper does not say how many tokens; 8 tokens give 148,994 = 0.15M "
                                "(prefix_tokens=8)",
    ("deberta-base", "adapters"): "b=8 Houlsby adapters (313,536) + LayerNorms (38,400) + dense pooler and "
                                  "classifier (592,130); with train_norms=False, head='frozen': 315,074",
    ("roberta-base", "lora"): "r=8 on query/value is 294,912 (+1,538 classifier); PEFT's whole RoBERTa "
                              "head (head='dense') gives 887,042. r=16 (or r=8 on q,k,v,o) + LayerNorms "
                              "+ classifier gives 629,762 = 0.63M; the paper does not say",
}

# ---------------------------------------------------------------------------------------------
# The model as a table of modules, from its config alone.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """One module of a model as its config defines it (no weights).

    kind: "linear" (nn.Linear), "conv1d" (GPT-2's Conv1D, same sizes), "embedding", "norm"
    (LayerNorm / RMSNorm: `out_features` wide), "dropout" (no parameters; adp places adapters
    after some), "vector" (a loose parameter such as DeBERTa's ``q_bias``; `name` is the
    parameter's own name) or "container" (a parent module, no parameters of its own).
    """

    name: str
    kind: str
    in_features: int = 0
    out_features: int = 0
    bias: bool = False
    tied: bool = False  # shares its weight with another site (a tied LM head): no own parameters

    @property
    def params(self) -> dict[str, int]:
        """{parameter name: number of entries}, named as ``model.named_parameters()`` names them."""
        if self.tied or self.kind in ("dropout", "container"):
            return {}
        if self.kind == "vector":
            return {self.name: self.out_features}
        if self.kind == "norm":
            out = {f"{self.name}.weight": self.out_features}
        else:  # linear, conv1d, embedding
            out = {f"{self.name}.weight": self.in_features * self.out_features}
        if self.bias:
            out[f"{self.name}.bias"] = self.out_features
        return out

    @property
    def num_params(self) -> int:
        return sum(self.params.values())


@dataclass
class ModelSpec:
    """A model reduced to what parameter counts need: its config, task and table of modules."""

    name: str
    config: PretrainedConfig
    task: str
    num_labels: int
    sites: list[Site]
    classifier: str | None = None  # the final classification linear (sequence classification)
    head_dense: str | None = None  # the pooler / head dense before it, if any
    kv_width: int = 0  # width of one key (= one value) vector per token and layer
    ia3_targets: dict[str, str] = field(default_factory=dict)  # {pattern: "out" | "in"}

    @property
    def family(self) -> str:
        return model_family(self.config)

    @property
    def hidden(self) -> int:
        return self.config.hidden_size

    @property
    def layers(self) -> int:
        return self.config.num_hidden_layers

    @property
    def params(self) -> dict[str, int]:
        """Every parameter {name: count}; equals ``dict(model.named_parameters())`` sizes."""
        return {n: c for s in self.sites for n, c in s.params.items()}

    @property
    def num_params(self) -> int:
        return sum(self.params.values())

    def site(self, name: str) -> Site:
        return next(s for s in self.sites if s.name == name)

    def modules(self) -> dict[str, Site]:
        """Module names as ``model.named_modules()`` gives them, without the root: every module
        with parameters, its parents, and the dropouts adp uses (activations, rotary embeddings
        and other parameter-free modules are left out, so no target can name them)."""
        out: dict[str, Site] = {}
        for s in self.sites:
            if s.kind == "vector":
                continue
            parts = s.name.split(".")
            for i in range(1, len(parts)):
                out.setdefault(".".join(parts[:i]), Site(".".join(parts[:i]), "container"))
            out[s.name] = s
        return out


def _linear(name, i, o, bias=True, kind="linear") -> Site:
    return Site(name, kind, i, o, bias)


def _encoder_layer(p: str, h: int, f: int, attention: list[Site]) -> list[Site]:
    return [*attention,
            _linear(f"{p}.attention.output.dense", h, h), Site(f"{p}.attention.output.LayerNorm", "norm", 0, h, True),
            Site(f"{p}.attention.output.dropout", "dropout"),
            _linear(f"{p}.intermediate.dense", h, f),
            _linear(f"{p}.output.dense", f, h), Site(f"{p}.output.LayerNorm", "norm", 0, h, True),
            Site(f"{p}.output.dropout", "dropout")]


def _bert_like(config, task: str, num_labels: int) -> ModelSpec:
    """BERT and RoBERTa: ``*ForSequenceClassification`` (BERT keeps its pooler, RoBERTa has a 2-layer head)."""
    h, f, mt = config.hidden_size, config.intermediate_size, config.model_type
    a = config.num_attention_heads * (h // config.num_attention_heads)
    if getattr(config, "add_cross_attention", False):
        raise ValueError("budget counts encoders without cross-attention (add_cross_attention=False)")
    base = "bert" if mt == "bert" else "roberta"
    e = f"{base}.embeddings"
    sites = [Site(f"{e}.word_embeddings", "embedding", config.vocab_size, h),
             Site(f"{e}.position_embeddings", "embedding", config.max_position_embeddings, h),
             Site(f"{e}.token_type_embeddings", "embedding", config.type_vocab_size, h),
             Site(f"{e}.LayerNorm", "norm", 0, h, True)]
    for i in range(config.num_hidden_layers):
        p = f"{base}.encoder.layer.{i}"
        sites += _encoder_layer(p, h, f, [_linear(f"{p}.attention.self.{n}", h, a) for n in ("query", "key", "value")])
    if base == "bert":
        sites += [_linear("bert.pooler.dense", h, h), _linear("classifier", h, num_labels)]
        head_dense, classifier = "bert.pooler.dense", "classifier"
    else:
        sites += [_linear("classifier.dense", h, h), Site("classifier.dropout", "dropout"),
                  _linear("classifier.out_proj", h, num_labels)]
        head_dense, classifier = "classifier.dense", "classifier.out_proj"
    ffn_out = r"layer\.\d+\.output\.dense"
    return ModelSpec("", config, task, num_labels, sites, classifier, head_dense, h,
                     {"key": "out", "value": "out", ffn_out: "in"})


def _deberta(config, task: str, num_labels: int) -> ModelSpec:
    """DeBERTa (v1): fused bias-free ``in_proj`` (h -> 3h) with loose q/v biases, relative positions."""
    h, f = config.hidden_size, config.intermediate_size
    a = config.num_attention_heads * (h // config.num_attention_heads)
    emb = getattr(config, "embedding_size", h) or h
    e = "deberta.embeddings"
    sites = [Site(f"{e}.word_embeddings", "embedding", config.vocab_size, emb)]
    if getattr(config, "position_biased_input", True):
        sites.append(Site(f"{e}.position_embeddings", "embedding", config.max_position_embeddings, emb))
    if config.type_vocab_size > 0:
        sites.append(Site(f"{e}.token_type_embeddings", "embedding", config.type_vocab_size, emb))
    if emb != h:
        sites.append(_linear(f"{e}.embed_proj", emb, h, bias=False))
    sites.append(Site(f"{e}.LayerNorm", "norm", 0, h, True))
    relative = getattr(config, "relative_attention", False)
    pos_att = config.pos_att_type or []
    for i in range(config.num_hidden_layers):
        s = f"deberta.encoder.layer.{i}.attention.self"
        attention = [_linear(f"{s}.in_proj", h, 3 * a, bias=False),
                     Site(f"{s}.q_bias", "vector", 0, a), Site(f"{s}.v_bias", "vector", 0, a)]
        if getattr(config, "talking_head", False):
            n = config.num_attention_heads
            attention += [_linear(f"{s}.head_logits_proj", n, n, False), _linear(f"{s}.head_weights_proj", n, n, False)]
        if relative and "c2p" in pos_att:
            attention.append(_linear(f"{s}.pos_proj", h, a, bias=False))
        if relative and "p2c" in pos_att:
            attention.append(_linear(f"{s}.pos_q_proj", h, a))
        sites += _encoder_layer(f"deberta.encoder.layer.{i}", h, f, attention)
    if relative:
        span = config.max_relative_positions if config.max_relative_positions >= 1 else config.max_position_embeddings
        sites.append(Site("deberta.encoder.rel_embeddings", "embedding", 2 * span, h))
    pooler = getattr(config, "pooler_hidden_size", h)
    sites += [_linear("pooler.dense", pooler, pooler), _linear("classifier", h, num_labels)]
    return ModelSpec("", config, task, num_labels, sites, "classifier", "pooler.dense", h,
                     {"in_proj": "out", r"layer\.\d+\.output\.dense": "in"})


def _llama_like(config, task: str, num_labels: int) -> ModelSpec:
    """LLaMA, Mistral, Qwen2: RMSNorm, SwiGLU MLP, grouped-query attention."""
    h, f, mt = config.hidden_size, config.intermediate_size, config.model_type
    hd = getattr(config, "head_dim", None) or h // config.num_attention_heads
    q, kv = config.num_attention_heads * hd, (config.num_key_value_heads or config.num_attention_heads) * hd
    if mt == "llama":
        qkv_bias = o_bias = bool(getattr(config, "attention_bias", False))
        mlp_bias = bool(getattr(config, "mlp_bias", False))
    else:  # mistral: no biases; qwen2: biases on q, k, v only
        qkv_bias, o_bias, mlp_bias = mt == "qwen2", False, False
    sites = [Site("model.embed_tokens", "embedding", config.vocab_size, h)]
    for i in range(config.num_hidden_layers):
        p = f"model.layers.{i}"
        sites += [_linear(f"{p}.self_attn.q_proj", h, q, qkv_bias), _linear(f"{p}.self_attn.k_proj", h, kv, qkv_bias),
                  _linear(f"{p}.self_attn.v_proj", h, kv, qkv_bias), _linear(f"{p}.self_attn.o_proj", q, h, o_bias),
                  _linear(f"{p}.mlp.gate_proj", h, f, mlp_bias), _linear(f"{p}.mlp.up_proj", h, f, mlp_bias),
                  _linear(f"{p}.mlp.down_proj", f, h, mlp_bias),
                  Site(f"{p}.input_layernorm", "norm", 0, h), Site(f"{p}.post_attention_layernorm", "norm", 0, h)]
    sites.append(Site("model.norm", "norm", 0, h))
    sites.append(_head(config, task, num_labels, h))
    return ModelSpec("", config, task, num_labels, sites, "score" if task == _SEQ_CLS else None, None, kv,
                     {"k_proj": "out", "v_proj": "out", "down_proj": "in"})


def _gpt2(config, task: str, num_labels: int) -> ModelSpec:
    """GPT-2: Conv1D layers (weights stored (in, out)), fused c_attn, learned positions, tied LM head."""
    h = config.hidden_size
    inner = config.n_inner or 4 * h
    if getattr(config, "add_cross_attention", False):
        raise ValueError("budget counts GPT-2 without cross-attention (add_cross_attention=False)")
    sites = [Site("transformer.wte", "embedding", config.vocab_size, h),
             Site("transformer.wpe", "embedding", config.max_position_embeddings, h)]
    for i in range(config.num_hidden_layers):
        p = f"transformer.h.{i}"
        sites += [Site(f"{p}.ln_1", "norm", 0, h, True), _linear(f"{p}.attn.c_attn", h, 3 * h, kind="conv1d"),
                  _linear(f"{p}.attn.c_proj", h, h, kind="conv1d"), Site(f"{p}.ln_2", "norm", 0, h, True),
                  _linear(f"{p}.mlp.c_fc", h, inner, kind="conv1d"), _linear(f"{p}.mlp.c_proj", inner, h, kind="conv1d")]
    sites.append(Site("transformer.ln_f", "norm", 0, h, True))
    sites.append(_head(config, task, num_labels, h))
    return ModelSpec("", config, task, num_labels, sites, "score" if task == _SEQ_CLS else None, None, h,
                     {"c_attn": "out", "mlp.c_proj": "in"})


def _head(config, task: str, num_labels: int, h: int) -> Site:
    """A decoder's head: the LM head (tied to the embeddings if the config says so) or ``score``."""
    if task == _SEQ_CLS:
        return _linear("score", h, num_labels, bias=False)
    return Site("lm_head", "linear", h, config.vocab_size, tied=bool(getattr(config, "tie_word_embeddings", False)))


_BUILDERS = {"bert": _bert_like, "roberta": _bert_like, "deberta": _deberta, "llama": _llama_like,
             "mistral": _llama_like, "qwen2": _llama_like, "gpt2": _gpt2}
_ENCODER_TYPES = ("bert", "roberta", "deberta")


def _known_models() -> str:
    return ", ".join(REFERENCE_MODELS)


def model_spec(model, num_labels: int | None = None, task: str | None = None) -> ModelSpec:
    """The table of modules of a reference model, a config, or a model (only its config is read).

    Parameters
    ----------
    model : str, PretrainedConfig or PreTrainedModel
        A name from :data:`loretta_explore.models.REFERENCE_MODELS`, a config, or a model whose
        ``config`` (and class name, for the task) is used. No weight is read.
    num_labels : int, optional
        Labels of the sequence-classification head (default: the config's, 2 for reference names).
    task : "sequence-classification" | "causal-lm", optional
        Default: the model's class if a model is given, else sequence classification for encoders
        and causal LM for decoders (DESIGN.md, "Reference model names").

    Examples
    --------
    >>> spec = model_spec("llama-2-7b")
    >>> spec.num_params
    6738415616
    """
    name, class_name = "", ""
    if isinstance(model, str):
        if model not in REFERENCE_MODELS:
            raise ValueError(f"unknown model {model!r}; known reference models: {_known_models()}. "
                             f"Or pass a transformers config. Example: {_EXAMPLE}")
        name = model
        config = reference_config(model, num_labels=_check_int(num_labels, "num_labels") if num_labels else 2)
    elif isinstance(model, PretrainedConfig):
        config = model
    elif isinstance(getattr(model, "config", None), PretrainedConfig):
        config, class_name = model.config, type(model).__name__
    else:
        raise ValueError(f"model must be a reference name ({_known_models()}), a transformers "
                         f"PretrainedConfig or a model with a .config; got {type(model).__name__}. Example: {_EXAMPLE}")
    mt = getattr(config, "model_type", None)
    if mt not in _BUILDERS:
        raise ValueError(f"budget cannot count model_type {mt!r}; it knows {sorted(_BUILDERS)}. "
                         f"Known reference models: {_known_models()}. Example: {_EXAMPLE}")
    labels = _check_int(num_labels if num_labels is not None else getattr(config, "num_labels", 2), "num_labels")
    if task is None:
        if "ForSequenceClassification" in class_name:
            task = _SEQ_CLS
        elif "ForCausalLM" in class_name or "LMHeadModel" in class_name:
            task = _CAUSAL_LM
        else:
            task = _SEQ_CLS if mt in _ENCODER_TYPES else _CAUSAL_LM
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}. Example: task='causal-lm'")
    if task == _CAUSAL_LM and mt in _ENCODER_TYPES:
        raise ValueError(f"{mt} is an encoder: budget counts it with a sequence-classification head "
                         f"(task='sequence-classification')")
    spec = _BUILDERS[mt](config, task, labels)
    spec.name = name or getattr(config, "_name_or_path", "") or mt
    return spec


# ---------------------------------------------------------------------------------------------
# Hyperparameters: which method takes which, the defaults per family, validation.
# ---------------------------------------------------------------------------------------------

_COMMON = frozenset({"num_labels", "task"})
_HEADS = frozenset({"head", "train_classifier", "train_norms"})
_ACCEPTS: dict[str, frozenset[str]] = {
    "full": _COMMON,
    "lora": _COMMON | _HEADS | {"r", "target_modules"},
    "adapters": _COMMON | _HEADS | {"bottleneck", "adapter_bias", "target_modules"},
    "prefix": _COMMON | _HEADS | {"prefix_tokens"},
    "ia3": _COMMON | _HEADS | {"target_modules", "feedforward_modules"},
    "bitfit": _COMMON | _HEADS,
    "loretta_adp": _COMMON | _HEADS | {"tt_rank", "bottleneck", "target_modules", "tt_shapes"},
    "loretta_rep": _COMMON | _HEADS | {"tt_rank", "bottleneck", "target_modules", "tt_shapes"},
}
#: Other names a method also answers to (its own, so a table can address one method).
_ALIASES: dict[str, dict[str, str]] = {
    "lora": {"lora_rank": "r", "lora_targets": "target_modules"},
    "adapters": {"adapter_bottleneck": "bottleneck", "adapter_targets": "target_modules"},
    "prefix": {"num_virtual_tokens": "prefix_tokens"},
    "ia3": {"ia3_targets": "target_modules"},
}
_BASELINE_HEADS = ("frozen", "dense")
_LORETTA_HEADS = ("tensorized", "dense", "frozen")

# Baseline defaults per family. Encoders: LoRA r=8 and BitFit as in the paper's GLUE table;
# adapters as Houlsby et al. 2019 train them (biases, the LayerNorms and the classification head:
# for DeBERTa the dense pooler and the classifier), with the paper's b=8 (METHOD.md section 5).
# Decoders: adapters b=64 without biases or norms (the 7B figure), prefix 5 tokens.
BASELINE_DEFAULTS = {
    "bert": dict(r=8, bottleneck=8, adapter_bias=True, adapter_norms=True, adapter_head="dense", prefix_tokens=5),
    "llama": dict(r=8, bottleneck=64, adapter_bias=False, adapter_norms=False, adapter_head="frozen", prefix_tokens=5),
    "gpt2": dict(r=8, bottleneck=64, adapter_bias=False, adapter_norms=False, adapter_head="frozen", prefix_tokens=5),
}


def _check_int(value, name: str, example: str = _EXAMPLE) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}. Example: {example}")
    return value


def _check_bool(value, name: str):
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def _check_method(method) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known methods: {', '.join(METHODS)}. Example: {_EXAMPLE}")
    return method


def _canonical(method: str, hyperparameters: Mapping) -> dict:
    """Map aliases to canonical names; reject names the method does not take."""
    aliases = _ALIASES.get(method, {})
    out = {}
    for key, value in hyperparameters.items():
        name = aliases.get(key, key)
        if name not in _ACCEPTS[method]:
            accepted = sorted(_ACCEPTS[method] | set(aliases))
            raise ValueError(f"{method!r} takes no hyperparameter {key!r}; it takes: {', '.join(accepted)}. "
                             f"Example: {_EXAMPLE}")
        if name in out:
            raise ValueError(f"{key!r} and another name both set {name!r} for {method!r}; give it once")
        out[name] = value
    return out


def _no_match(pattern, spec: ModelSpec, method: str) -> ValueError:
    names = [n for n, s in spec.modules().items() if s.kind in ("linear", "conv1d")]
    suffixes = sorted({n.split(".")[-1] for n in names} | {".".join(n.split(".")[-2:]) for n in names})
    return ValueError(f"target {pattern!r} matches no module of {spec.name} for {method}. Candidate linear "
                      f"modules (suffixes): {suffixes[:40]}. Example: target_modules=['{suffixes[0]}']")


def _matching(spec: ModelSpec, pattern: str, kinds, method: str) -> list[Site]:
    found = [s for n, s in spec.modules().items() if s.kind in kinds and matches_name(n, pattern)]
    if not found:
        raise _no_match(pattern, spec, method)
    return found


def _placements(targets, default: Mapping[str, str], method: str) -> dict[str, str]:
    """adp / adapters placements: {pattern: "before" | "after"} (a list means "after")."""
    if targets is None:
        return dict(default)
    if isinstance(targets, str):
        targets = [targets]
    placements = dict(targets) if isinstance(targets, Mapping) else dict.fromkeys(targets, "after")
    bad = {p: v for p, v in placements.items() if v not in ("before", "after")}
    if bad:
        raise ValueError(f"{method} placements must be 'before' or 'after', got {bad}. "
                         f"Example: target_modules={{'mlp.down_proj': 'after'}}")
    return placements


def _features(spec: ModelSpec, site: Site, position: str) -> int:
    """What an adapter on `site` sees, as adapt._place_adp decides it: in (before) or out (after)
    for a module with a 2-D weight, the hidden size otherwise (dropouts, norms, containers)."""
    if site.kind in ("linear", "conv1d", "embedding"):
        return site.in_features if position == "before" else site.out_features
    return spec.hidden


def _bottleneck_fits(b: int, size: int, what: str, example: str) -> None:
    if b > size:
        raise ValueError(f"bottleneck {b} is larger than {what} ({size}): a bottleneck must be at most "
                         f"the width it compresses. Example: {example}")


# ---------------------------------------------------------------------------------------------
# Counting, one function per method; each returns {part: count}.
# ---------------------------------------------------------------------------------------------


def tt_params(shape: Sequence[int], rank) -> int:
    """TT(shape, r) = sum_i r_{i-1} k_i r_i, ranks [1, r, ..., r, 1] (METHOD.md section 5).

    `rank` is one internal rank or the d-1 internal ranks. Ranks are used as given, never
    clipped to what a bond allows, exactly like :class:`~loretta_explore.layers.TTLinear`.

    >>> tt_params([8, 12, 8, 8], 5)
    580
    """
    shape = [int(k) for k in shape]
    if isinstance(rank, int) and not isinstance(rank, bool):
        internal = [rank] * (len(shape) - 1)
    else:
        internal = [int(r) for r in rank]
        if len(internal) != len(shape) - 1:
            raise ValueError(f"a {len(shape)}-mode train has {len(shape) - 1} internal ranks, got {list(rank)}")
    if any(r < 1 for r in internal):
        raise ValueError(f"TT ranks must be >= 1, got {rank!r}. Example: tt_params([8, 12, 8, 8], 5)")
    ranks = [1, *internal, 1]
    return sum(ranks[i] * k * ranks[i + 1] for i, k in enumerate(shape))


def _norms(spec: ModelSpec) -> int:
    return sum(s.num_params for s in spec.sites if s.kind == "norm")


def _baseline_head(spec: ModelSpec, hp: dict) -> list[tuple[str, str]]:
    """The head modules a baseline trains, as (part, module name), sequence classification only:
    the final classifier, and with head="dense" also the pooler / head dense (for RoBERTa that
    pair is PEFT's whole ``classifier`` module)."""
    out = []
    if spec.task != _SEQ_CLS:
        return out
    if hp["head"] == "dense" and spec.head_dense:
        out.append(("head dense", spec.head_dense))
    if hp["train_classifier"] and spec.classifier:
        out.append(("classifier", spec.classifier))
    return out


def _resolve_baseline(spec: ModelSpec, method: str, hp: dict) -> dict:
    d = BASELINE_DEFAULTS[spec.family]
    out = dict(head=hp.get("head", d["adapter_head"] if method == "adapters" else "frozen"),
               train_classifier=_check_bool(hp.get("train_classifier", True), "train_classifier"),
               train_norms=_check_bool(hp.get("train_norms", d["adapter_norms"] if method == "adapters" else False),
                                       "train_norms"))
    if out["head"] not in _BASELINE_HEADS:
        raise ValueError(f"head for {method!r} must be one of {_BASELINE_HEADS} (\"tensorized\" is LoRETTA's), "
                         f"got {out['head']!r}. Example: count_trainable('roberta-base', 'lora', head='dense')")
    if method == "lora":
        out["r"] = _check_int(hp.get("r", d["r"]), "r", "count_trainable('llama-2-7b', 'lora', r=16)")
        targets = hp.get("target_modules") or architecture(spec.config).rep
        out["target_modules"] = (targets,) if isinstance(targets, str) else tuple(targets)
    elif method == "adapters":
        out["bottleneck"] = _check_int(hp.get("bottleneck", d["bottleneck"]), "bottleneck",
                                       "count_trainable('llama-2-7b', 'adapters', bottleneck=32)")
        out["adapter_bias"] = _check_bool(hp.get("adapter_bias", d["adapter_bias"]), "adapter_bias")
        out["target_modules"] = _placements(hp.get("target_modules"), architecture(spec.config).adp, method)
    elif method == "prefix":
        out["prefix_tokens"] = _check_int(hp.get("prefix_tokens", d["prefix_tokens"]), "prefix_tokens",
                                          "count_trainable('llama-2-7b', 'prefix', prefix_tokens=10)")
    elif method == "ia3":
        targets, ff = hp.get("target_modules"), hp.get("feedforward_modules") or ()
        if targets is None:
            targets = dict(spec.ia3_targets)
        elif isinstance(targets, Mapping):
            targets = dict(targets)
        else:
            targets = {t: ("in" if t in ff else "out") for t in ([targets] if isinstance(targets, str) else targets)}
        bad = {p: v for p, v in targets.items() if v not in ("in", "out")}
        if bad:
            raise ValueError(f"ia3 targets scale 'out' (outputs) or 'in' (inputs, FFN modules), got {bad}")
        out["target_modules"] = targets
    return out


def _count_baseline(spec: ModelSpec, method: str, hp: dict) -> dict[str, int]:
    hp = _resolve_baseline(spec, method, hp)
    parts: dict[str, int] = {}
    if method == "lora":  # A (r x in) and B (out x r) on every target
        r = hp["r"]
        total = 0
        for pattern in hp["target_modules"]:
            for s in _matching(spec, pattern, ("linear", "conv1d", "embedding"), "lora"):
                if r > min(s.in_features, s.out_features):
                    raise ValueError(f"LoRA rank r={r} exceeds min(in, out) = {min(s.in_features, s.out_features)} "
                                     f"of {s.name}: an update of that weight cannot have a higher rank. Example: r=8")
                total += r * (s.in_features + s.out_features)
        parts["lora A, B"] = total
    elif method == "adapters":  # dense down (f x b) and up (b x f), biases if asked
        b, weights, biases = hp["bottleneck"], 0, 0
        for pattern, position in hp["target_modules"].items():
            for s in _matching(spec, pattern, ("linear", "conv1d", "embedding", "dropout", "norm", "container"), "adapters"):
                f = _features(spec, s, position)
                _bottleneck_fits(b, f, f"the {f} features of {s.name}", "bottleneck=64")
                weights += 2 * f * b
                biases += (b + f) if hp["adapter_bias"] else 0
        parts["adapter weights"] = weights
        if biases:
            parts["adapter biases"] = biases
    elif method == "prefix":  # one key and one value vector per virtual token and layer
        parts["prefix keys, values"] = hp["prefix_tokens"] * spec.layers * 2 * spec.kv_width
    elif method == "ia3":  # one scaling vector per target: its output, or its input for FFN modules
        total = 0
        for pattern, side in hp["target_modules"].items():
            for s in _matching(spec, pattern, ("linear", "conv1d"), "ia3"):
                total += s.out_features if side == "out" else s.in_features
        parts["ia3 vectors"] = total
    # Parameters the model already has that the method trains: a set, so nothing counts twice
    # (BitFit's norm and classifier biases are biases already).
    params, taken = spec.params, set()
    if method == "bitfit":  # every bias of the model
        taken = {n for n in params if n.endswith("bias")}
        parts["biases"] = sum(params[n] for n in taken)
    existing = []
    if hp["train_norms"]:
        existing.append(("norms", [n for s in spec.sites if s.kind == "norm" for n in s.params]))
    existing += [(part, list(spec.site(name).params)) for part, name in _baseline_head(spec, hp)]
    for part, names in existing:
        new = [n for n in names if n not in taken]
        taken.update(new)
        if new:
            parts[part] = sum(params[n] for n in new)
    return parts


def _loretta_config(spec: ModelSpec, method: str, hp: dict) -> LorettaConfig:
    """The LorettaConfig get_loretta_model would get, resolved for this architecture."""
    for name in ("tt_rank", "bottleneck"):
        if hp.get(name) is not None:
            _check_int(hp[name], name, f"count_trainable('deberta-base', '{method}', {name}=4)")
    for name in ("train_norms", "train_classifier"):
        _check_bool(hp.get(name), name)
    head = hp.get("head", "tensorized")
    if head not in _LORETTA_HEADS:
        raise ValueError(f'head must be one of {_LORETTA_HEADS}, got {head!r}. Example: head="dense"')
    config = LorettaConfig(method=method.removeprefix("loretta_"), tt_rank=hp.get("tt_rank"),
                           bottleneck=hp.get("bottleneck"), target_modules=hp.get("target_modules"),
                           tt_shapes=hp.get("tt_shapes", "paper"), train_norms=hp.get("train_norms", True),
                           head=head, train_classifier=hp.get("train_classifier"))
    return config.resolved(architecture(spec.config))


def _count_loretta(spec: ModelSpec, method: str, hp: dict) -> dict[str, int]:
    """Mirror of adapt.get_loretta_model: same placements, same shapes, same trainable set."""
    arch = architecture(spec.config)
    cfg = _loretta_config(spec, method, hp)
    b, r = cfg.bottleneck, cfg.tt_rank

    def tt(in_f: int, out_f: int) -> int:
        return tt_params(resolve_shape(in_f, out_f, shape_request(cfg, in_f, out_f)), r)

    parts: dict[str, int] = {}
    if cfg.method == "rep":  # A: in -> b and B: b -> out, each one bias-free TT layer
        targets = cfg.target_modules if cfg.target_modules is not None else arch.rep
        total = 0
        for pattern in ([targets] if isinstance(targets, str) else targets):
            for s in _matching(spec, pattern, ("linear", "conv1d"), "rep"):
                _bottleneck_fits(b, min(s.in_features, s.out_features), f"min(in, out) of {s.name}", "bottleneck=8")
                total += tt(s.in_features, b) + tt(b, s.out_features)
        parts["tt cores"] = total
    else:  # TTAdapter: TT down (f -> b) + bias b, TT up (b -> f) + bias f
        placements = _placements(cfg.target_modules, arch.adp, "adp")
        cores = biases = 0
        for pattern, position in placements.items():
            for s in _matching(spec, pattern, ("linear", "conv1d", "embedding", "dropout", "norm", "container"), "adp"):
                f = _features(spec, s, position)
                _bottleneck_fits(b, f, f"the {f} features of {s.name}", "bottleneck=64")
                cores += tt(f, b) + tt(b, f)
                biases += b + f
        parts["tt cores"], parts["adapter biases"] = cores, biases
    if cfg.train_norms:
        parts["norms"] = _norms(spec)
    if arch.head is not None and spec.task == _SEQ_CLS:
        dense, classifier = spec.site(arch.head[0]), spec.site(arch.head[1])
        if cfg.head == "tensorized":  # a fresh TTLinear (with bias) replaces the dense layer
            parts["tensorized head"] = tt(dense.in_features, dense.out_features) + dense.out_features
        elif cfg.head == "dense":  # the pretrained dense layer, trained
            parts["head dense"] = dense.num_params
        if cfg.train_classifier:
            parts["classifier"] = classifier.num_params
    return parts


def count_breakdown(model, method: str, **hyperparameters) -> dict[str, int]:
    """:func:`count_trainable`, split into parts ("tt cores", "norms", "classifier", ...)."""
    method = _check_method(method)
    hp = _canonical(method, hyperparameters)
    spec = model_spec(model, num_labels=hp.pop("num_labels", None), task=hp.pop("task", None))
    if method == "full":
        return {"all parameters": spec.num_params}
    if method.startswith("loretta_"):
        return _count_loretta(spec, method, hp)
    return _count_baseline(spec, method, hp)


def count_trainable(model, method: str, **hyperparameters) -> int:
    """Trainable parameters of `method` on `model`, computed from the config alone (no weights).

    Parameters
    ----------
    model : str, PretrainedConfig or PreTrainedModel
        A reference name (``loretta_explore.models.REFERENCE_MODELS``), a config, or a model (its
        config and class are read, nothing else).
    method : str
        One of :data:`METHODS`: "full", "lora", "adapters", "prefix", "ia3", "bitfit",
        "loretta_adp", "loretta_rep".
    **hyperparameters
        Every default can be changed; the paper's are used otherwise (METHOD.md sections 2-5).

        - all: ``num_labels`` (2), ``task`` ("sequence-classification" for encoders, "causal-lm"
          for decoders).
        - baselines: ``train_classifier`` (True: the final classifier, encoders), ``head``
          ("frozen", or "dense" to also train the pooler / head dense; PEFT's ``classifier``
          module of RoBERTa is that whole head), ``train_norms``.
        - "lora": ``r`` (alias ``lora_rank``, 8), ``target_modules`` (alias ``lora_targets``;
          query/value, DeBERTa's in_proj, LLaMA's q_proj/v_proj).
        - "adapters": ``bottleneck`` (alias ``adapter_bottleneck``; 64 decoders, 8 encoders),
          ``adapter_bias`` (encoders yes, decoders no), ``target_modules`` (LoRETTA_adp's places).
          Encoders default to Houlsby's recipe: LayerNorms and a dense head trained too. The paper
          counts 7B adapters without norms but 13B and 70B with them: ``train_norms=True``.
        - "prefix": ``prefix_tokens`` (alias ``num_virtual_tokens``, 5); GQA models store keys and
          values at the key/value width, as PEFT does.
        - "ia3": ``target_modules`` ({pattern: "out" | "in"}: k, v and the FFN output's input),
          ``feedforward_modules`` (names of a list that scale their input).
        - "loretta_adp", "loretta_rep": the :class:`~loretta_explore.adapt.LorettaConfig` fields
          ``tt_rank``, ``bottleneck``, ``target_modules``, ``tt_shapes``, ``train_norms``,
          ``head`` ("tensorized", "dense", "frozen"), ``train_classifier``.

        Target patterns are matched as :func:`~loretta_explore.adapt.get_loretta_model` matches
        them (a module name, a dotted suffix, or a regex for the end of the name), against the
        modules :func:`model_spec` lists.

    Raises
    ------
    ValueError
        Unknown model, method or hyperparameter (the message lists the known ones), a rank or
        bottleneck below 1 or wider than the layer it compresses, a tt shape with the wrong product.

    Examples
    --------
    >>> count_trainable("llama-2-7b", "loretta_rep")
    507904
    >>> count_trainable("deberta-base", "loretta_adp", tt_rank=5)
    99034
    """
    return sum(count_breakdown(model, method, **hyperparameters).values())


# ---------------------------------------------------------------------------------------------
# Printed figures and the table.
# ---------------------------------------------------------------------------------------------

_UNITS = {"K": 10**3, "M": 10**6, "B": 10**9}


def compare_figure(count: int, printed: str) -> str:
    """Does `count` give the printed figure (like "0.51M") at the printed precision?

    Returns "match" when rounding gives it, "truncated" when only cutting off digits gives it
    (the paper truncates some counts), "differs" otherwise.

    >>> compare_figure(876_800, "0.88M"), compare_figure(99_034, "0.09M"), compare_figure(614_400, "0.60M")
    ('match', 'truncated', 'differs')
    """
    text = printed.strip()
    if not text or text[-1].upper() not in _UNITS:
        raise ValueError(f"a printed figure looks like '0.51M' (a number and K, M or B), got {printed!r}")
    figure, unit = Decimal(text[:-1]), _UNITS[text[-1].upper()]
    exact = Decimal(count) / unit
    step = Decimal(1).scaleb(figure.as_tuple().exponent)
    if exact.quantize(step, rounding=ROUND_HALF_UP) == figure:
        return "match"
    if exact.quantize(step, rounding=ROUND_DOWN) == figure:
        return "truncated"
    return "differs"


def _dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16", "fp64": "float64",
             "double": "float64", "float": "float32"}
    name = names.get(str(dtype).lower().removeprefix("torch."), str(dtype).lower().removeprefix("torch."))
    found = getattr(torch, name, None)
    if not isinstance(found, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}; use a torch dtype or a name such as 'float32', "
                         f"'bfloat16', 'float16', 'int8'")
    return found


def human_bytes(n: int) -> str:
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def _ratio(ratio: float | None) -> str:
    if ratio is None:
        return ""
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.3g}x"


class BudgetTable(list):
    """Rows of :func:`budget_table` (a list of dicts) that print as a text or Markdown table."""

    columns = ("method", "count", "storage", "vs LoRA", "paper", "check", "note")

    def __init__(self, rows=(), model: str = "", dtype: torch.dtype = torch.float32):
        super().__init__(rows)
        self.model, self.dtype = model, dtype

    def _cells(self) -> list[list[str]]:
        out = []
        for row in self:
            ratio = row["ratio_to_lora"]
            out.append([row["method"], f"{row['count']:,}", human_bytes(row["bytes"]),
                        _ratio(ratio), row["paper"] or "", row["check"] or "",
                        row["note"] or ""])
        return out

    def __str__(self) -> str:
        return format_table(self)

    def to_markdown(self) -> str:
        return format_table(self, markdown=True)

    def _repr_markdown_(self) -> str:  # Jupyter shows the Markdown table
        return self.to_markdown()


def format_table(rows, markdown: bool = False) -> str:
    """Rows of :func:`budget_table` as an aligned text table, or a Markdown one."""
    table = rows if isinstance(rows, BudgetTable) else BudgetTable(rows)
    cells, head = table._cells(), list(BudgetTable.columns)
    title = f"Trainable parameters: {table.model} ({str(table.dtype).removeprefix('torch.')} storage)" \
        if table.model else ""
    if markdown:
        lines = [f"**{title}**", ""] if title else []
        lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---", "---:", "---:", "---:", "---:", "---", "---"]) + "|"]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [head, *cells]) for i in range(len(head) - 1)]
    right = (False, True, True, True, True, False)

    def line(cols: list[str]) -> str:
        parts = [c.rjust(w) if rj else c.ljust(w) for c, w, rj in zip(cols, widths, right)]
        return "  ".join(parts + [cols[-1]]).rstrip()

    lines = [title] if title else []
    lines += [line(head), line(["-" * w for w in widths] + ["-" * 4])]
    lines += [line(c) for c in cells]
    return "\n".join(lines)


def _applies(method: str, key: str, value) -> bool:
    if key not in _ACCEPTS[method] and key not in _ALIASES.get(method, {}):
        return False
    if key == "head":  # "tensorized" is LoRETTA's only
        return value in (_LORETTA_HEADS if method.startswith("loretta_") else _BASELINE_HEADS)
    return True


def _settings(model, method: str, hp: dict):
    """The resolved settings of one method (to tell whether they are the paper's)."""
    hp = _canonical(method, hp)
    spec = model_spec(model, num_labels=hp.pop("num_labels", None), task=hp.pop("task", None))
    key = (spec.task, spec.num_labels)
    if method == "full":
        return key
    if method.startswith("loretta_"):
        return key, _loretta_config(spec, method, hp)
    return key, _resolve_baseline(spec, method, hp)


def budget_table(model, methods=None, dtype=torch.float32, **hyperparameters) -> BudgetTable:
    """Every method's trainable parameters on one model, beside the paper's printed figures.

    Parameters
    ----------
    model : str or PretrainedConfig
        As in :func:`count_trainable`. Printed figures exist for "llama-2-7b", "deberta-base"
        and "roberta-base" (METHOD.md section 6).
    methods : sequence of str, optional
        Default: all of :data:`METHODS`.
    dtype : torch.dtype or str
        Storage of the trainable parameters: ``bytes = count * dtype.itemsize``.
    **hyperparameters
        Each goes to every listed method that takes it (``tt_rank`` to LoRETTA; ``bottleneck`` to
        adapters and both LoRETTA methods; ``r`` / ``lora_rank`` to LoRA; ``head="tensorized"``
        only to LoRETTA). A method name with a dict sets that method alone:
        ``budget_table("llama-2-7b", lora={"r": 16})``.

    Returns
    -------
    BudgetTable
        A list of dicts with keys method, count, bytes, ratio_to_lora (count / LoRA's count),
        paper (the printed figure or None), check ("match", "truncated" where the paper's cut-off
        explains its figure, "differs", "not compared" when the settings are not the paper's, or
        None), note. ``print(table)`` shows it; in Jupyter it renders as Markdown.
    """
    methods = list(METHODS if methods is None else ([methods] if isinstance(methods, str) else methods))
    for m in methods:
        _check_method(m)
    dtype = _dtype(dtype)
    per_method = {m: dict(hyperparameters.pop(m)) for m in METHODS if isinstance(hyperparameters.get(m), Mapping)}
    unused = [k for k, v in hyperparameters.items() if not any(_applies(m, k, v) for m in methods)]
    if unused:
        raise ValueError(f"no method in {methods} takes {unused}; accepted: "
                         f"{sorted(set().union(*(_ACCEPTS[m] | set(_ALIASES.get(m, {})) for m in methods)))}")

    def settings_for(m: str) -> dict:
        return {**{k: v for k, v in hyperparameters.items() if _applies(m, k, v)}, **per_method.get(m, {})}

    lora = count_trainable(model, "lora", **settings_for("lora"))
    name = model if isinstance(model, str) else ""
    rows = BudgetTable(model=model_spec(model).name, dtype=dtype)
    for m in methods:
        hp = settings_for(m)
        count = count_trainable(model, m, **hp)
        printed = PAPER_FIGURES.get(name, {}).get(m)
        note = _PAPER_NOTES.get((name, m), "")
        if printed is None:
            check = None
        elif _settings(model, m, hp) != _settings(model, m, {}):
            check, note = "not compared", "settings differ from the paper's"
        else:
            check = compare_figure(count, printed)
        if m == "bitfit" and count == 0:
            note = "no bias terms in this model (LLaMA has none): BitFit trains nothing"
        if m == "adapters" and name in ("llama-2-13b", "llama-2-70b") and not hp:
            note = (f"the paper's {name[8:].upper()} adapter figure includes the norms: "
                    f"train_norms=True gives {count_trainable(model, m, train_norms=True):,}")
        rows.append(dict(method=m, count=count, bytes=count * dtype.itemsize,
                         ratio_to_lora=count / lora if lora else None, paper=printed, check=check, note=note))
    return rows
