"""Encoder families (sequence classification): BERT, RoBERTa, DeBERTa v1 and v2/v3, DistilBERT.

Each family is one :class:`~loretta_explore.architectures.base.Architecture` record with the
function that lists its modules from a config. LoRETTA places adapters the Houlsby way, after the
attention-output and the FFN-output projections, before the residual LayerNorm
(docs/method.md#placement).
"""

from __future__ import annotations

from .base import Architecture, Site, linear, norm

# Houlsby placement: h = LayerNorm(a(dropout(dense(x))) + residual)
_HOULSBY = {r"attention\.output\.dropout": "after", r"layer\.\d+\.output\.dropout": "after"}
_FFN_OUT = r"layer\.\d+\.output\.dense"


def _no_cross_attention(config) -> None:
    if getattr(config, "add_cross_attention", False):
        raise ValueError(
            "the kit counts encoders without cross-attention (add_cross_attention=False)"
        )


def _attention_width(config) -> int:
    return config.num_attention_heads * (config.hidden_size // config.num_attention_heads)


def _encoder_layer(p: str, h: int, f: int, attention: list[Site]) -> list[Site]:
    return [
        *attention,
        linear(f"{p}.attention.output.dense", h, h),
        norm(f"{p}.attention.output.LayerNorm", h),
        Site(f"{p}.attention.output.dropout", "dropout"),
        linear(f"{p}.intermediate.dense", h, f),
        linear(f"{p}.output.dense", f, h),
        norm(f"{p}.output.LayerNorm", h),
        Site(f"{p}.output.dropout", "dropout"),
    ]


def _bert_like(config, task: str, num_labels: int):
    """BERT and RoBERTa: BERT keeps its pooler, RoBERTa has a 2-layer classification head."""
    _no_cross_attention(config)
    h, f, a = config.hidden_size, config.intermediate_size, _attention_width(config)
    base = "bert" if config.model_type == "bert" else "roberta"
    e = f"{base}.embeddings"
    sites = [
        Site(f"{e}.word_embeddings", "embedding", config.vocab_size, h),
        Site(f"{e}.position_embeddings", "embedding", config.max_position_embeddings, h),
        Site(f"{e}.token_type_embeddings", "embedding", config.type_vocab_size, h),
        norm(f"{e}.LayerNorm", h),
    ]
    for i in range(config.num_hidden_layers):
        p = f"{base}.encoder.layer.{i}"
        qkv = [linear(f"{p}.attention.self.{n}", h, a) for n in ("query", "key", "value")]
        sites += _encoder_layer(p, h, f, qkv)
    if base == "bert":
        sites += [linear("bert.pooler.dense", h, h), linear("classifier", h, num_labels)]
    else:
        sites += [
            linear("classifier.dense", h, h),
            Site("classifier.dropout", "dropout"),
            linear("classifier.out_proj", h, num_labels),
        ]
    return sites, h


def _deberta_embeddings(config, h: int) -> list[Site]:
    emb = getattr(config, "embedding_size", h) or h
    e = "deberta.embeddings"
    sites = [Site(f"{e}.word_embeddings", "embedding", config.vocab_size, emb)]
    if getattr(config, "position_biased_input", True):
        sites.append(
            Site(f"{e}.position_embeddings", "embedding", config.max_position_embeddings, emb)
        )
    if config.type_vocab_size > 0:
        sites.append(Site(f"{e}.token_type_embeddings", "embedding", config.type_vocab_size, emb))
    if emb != h:
        sites.append(linear(f"{e}.embed_proj", emb, h, bias=False))
    sites.append(norm(f"{e}.LayerNorm", h))
    return sites


def _deberta_head(config, h: int, num_labels: int) -> list[Site]:
    pooler = getattr(config, "pooler_hidden_size", h) or h
    return [linear("pooler.dense", pooler, pooler), linear("classifier", pooler, num_labels)]


def _relative_positions(config) -> int:
    span = config.max_relative_positions
    span = span if span >= 1 else config.max_position_embeddings
    buckets = getattr(config, "position_buckets", -1)
    return buckets if buckets and buckets > 0 else span


def _deberta(config, task: str, num_labels: int):
    """DeBERTa v1: a fused bias-free ``in_proj`` (h -> 3h) with loose q/v biases."""
    h, f, a = config.hidden_size, config.intermediate_size, _attention_width(config)
    sites = _deberta_embeddings(config, h)
    relative, pos_att = getattr(config, "relative_attention", False), config.pos_att_type or []
    for i in range(config.num_hidden_layers):
        s = f"deberta.encoder.layer.{i}.attention.self"
        attention = [
            linear(f"{s}.in_proj", h, 3 * a, bias=False),
            Site(f"{s}.q_bias", "vector", 0, a),
            Site(f"{s}.v_bias", "vector", 0, a),
        ]
        if getattr(config, "talking_head", False):
            n = config.num_attention_heads
            attention += [
                linear(f"{s}.head_logits_proj", n, n, False),
                linear(f"{s}.head_weights_proj", n, n, False),
            ]
        if relative and "c2p" in pos_att:
            attention.append(linear(f"{s}.pos_proj", h, a, bias=False))
        if relative and "p2c" in pos_att:
            attention.append(linear(f"{s}.pos_q_proj", h, a))
        sites += _encoder_layer(f"deberta.encoder.layer.{i}", h, f, attention)
    if relative:
        sites.append(
            Site("deberta.encoder.rel_embeddings", "embedding", 2 * _relative_positions(config), h)
        )
    return sites + _deberta_head(config, h, num_labels), h


def _deberta_v2(config, task: str, num_labels: int):
    """DeBERTa v2 and v3: separate query/key/value projections with biases, optional conv layer."""
    h, f, a = config.hidden_size, config.intermediate_size, _attention_width(config)
    sites = _deberta_embeddings(config, h)
    relative, pos_att = getattr(config, "relative_attention", False), config.pos_att_type or []
    shared_key = getattr(config, "share_att_key", False)
    for i in range(config.num_hidden_layers):
        s = f"deberta.encoder.layer.{i}.attention.self"
        attention = [linear(f"{s}.{n}_proj", h, a) for n in ("query", "key", "value")]
        if relative and not shared_key:
            if "c2p" in pos_att:
                attention.append(linear(f"{s}.pos_key_proj", h, a))
            if "p2c" in pos_att:
                attention.append(linear(f"{s}.pos_query_proj", h, a))
        sites += _encoder_layer(f"deberta.encoder.layer.{i}", h, f, attention)
    if relative:
        sites.append(
            Site("deberta.encoder.rel_embeddings", "embedding", 2 * _relative_positions(config), h)
        )
        norms = [x.strip() for x in str(getattr(config, "norm_rel_ebd", "none")).lower().split("|")]
        if "layer_norm" in norms:
            sites.append(norm("deberta.encoder.LayerNorm", h))
    kernel = getattr(config, "conv_kernel_size", 0) or 0
    if kernel > 0:  # one grouped Conv1d (h, h / groups, kernel) with a bias, and its LayerNorm
        groups = getattr(config, "conv_groups", 1) or 1
        sites += [
            Site("deberta.encoder.conv.conv.weight", "vector", 0, h * (h // groups) * kernel),
            Site("deberta.encoder.conv.conv.bias", "vector", 0, h),
            norm("deberta.encoder.conv.LayerNorm", h),
        ]
    return sites + _deberta_head(config, h, num_labels), h


def _distilbert(config, task: str, num_labels: int):
    """DistilBERT: six BERT layers with their own module names and a ``pre_classifier``."""
    h, f = config.dim, config.hidden_dim
    e = "distilbert.embeddings"
    sites = [
        Site(f"{e}.word_embeddings", "embedding", config.vocab_size, h),
        Site(f"{e}.position_embeddings", "embedding", config.max_position_embeddings, h),
        norm(f"{e}.LayerNorm", h),
    ]
    for i in range(config.n_layers):
        p = f"distilbert.transformer.layer.{i}"
        sites += [
            *(linear(f"{p}.attention.{n}_lin", h, h) for n in ("q", "k", "v", "out")),
            norm(f"{p}.sa_layer_norm", h),
            linear(f"{p}.ffn.lin1", h, f),
            linear(f"{p}.ffn.lin2", f, h),
            norm(f"{p}.output_layer_norm", h),
        ]
    return sites + [linear("pre_classifier", h, h), linear("classifier", h, num_labels)], h


ENCODERS = (
    Architecture(
        "bert",
        ("bert",),
        False,
        _HOULSBY,
        ("query", "value"),
        "bert.pooler.dense",
        "classifier",
        {"key": "out", "value": "out", _FFN_OUT: "in"},
        _bert_like,
    ),
    Architecture(
        "roberta",
        ("roberta", "xlm-roberta"),
        False,
        _HOULSBY,
        ("query", "value"),
        "classifier.dense",
        "classifier.out_proj",
        {"key": "out", "value": "out", _FFN_OUT: "in"},
        _bert_like,
    ),
    Architecture(
        "deberta",
        ("deberta",),
        False,
        _HOULSBY,
        ("in_proj",),
        "pooler.dense",
        "classifier",
        {"in_proj": "out", _FFN_OUT: "in"},
        _deberta,
    ),
    Architecture(
        "deberta-v2",
        ("deberta-v2",),
        False,
        _HOULSBY,
        ("query_proj", "value_proj"),
        "pooler.dense",
        "classifier",
        {"key_proj": "out", "value_proj": "out", _FFN_OUT: "in"},
        _deberta_v2,
    ),
    # DistilBERT has no dropout module after its output projections: the adapters follow them.
    Architecture(
        "distilbert",
        ("distilbert",),
        False,
        {r"attention\.out_lin": "after", r"ffn\.lin2": "after"},
        ("q_lin", "v_lin"),
        "pre_classifier",
        "classifier",
        {"k_lin": "out", "v_lin": "out", "lin2": "in"},
        _distilbert,
        paper=False,
    ),
)
