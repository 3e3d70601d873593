"""Decoder families (causal LM, or sequence classification with a ``score`` head).

LLaMA (and Mistral, Qwen2, which share its modules) is the paper's decoder: three adapters in the
MLP, none on attention, rep on q_proj and v_proj (docs/method.md#placement). GPT-2 and OPT are
the kit's own choice, not the paper's: adapters the Houlsby way after each residual branch's
output projection, rep on the attention's query and value.
"""

from __future__ import annotations

from .base import (
    DECODER_BASELINES,
    SEQUENCE_CLASSIFICATION,
    Architecture,
    Site,
    linear,
    norm,
)


def _head(config, task: str, num_labels: int, h: int) -> Site:
    """The LM head (tied to the embeddings if the config says so) or the classifier ``score``."""
    if task == SEQUENCE_CLASSIFICATION:
        return linear("score", h, num_labels, bias=False)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    return Site("lm_head", "linear", h, config.vocab_size, tied=tied)


def _llama_like(config, task: str, num_labels: int):
    """LLaMA, Mistral, Qwen2: RMSNorm, SwiGLU MLP, grouped-query attention."""
    h, f, mt = config.hidden_size, config.intermediate_size, config.model_type
    hd = getattr(config, "head_dim", None) or h // config.num_attention_heads
    q = config.num_attention_heads * hd
    kv = (config.num_key_value_heads or config.num_attention_heads) * hd
    if mt == "llama":
        qkv_bias = o_bias = bool(getattr(config, "attention_bias", False))
        mlp_bias = bool(getattr(config, "mlp_bias", False))
    else:  # mistral: no biases; qwen2: biases on q, k, v only
        qkv_bias, o_bias, mlp_bias = mt == "qwen2", False, False
    sites = [Site("model.embed_tokens", "embedding", config.vocab_size, h)]
    for i in range(config.num_hidden_layers):
        p = f"model.layers.{i}"
        sites += [
            linear(f"{p}.self_attn.q_proj", h, q, qkv_bias),
            linear(f"{p}.self_attn.k_proj", h, kv, qkv_bias),
            linear(f"{p}.self_attn.v_proj", h, kv, qkv_bias),
            linear(f"{p}.self_attn.o_proj", q, h, o_bias),
            linear(f"{p}.mlp.gate_proj", h, f, mlp_bias),
            linear(f"{p}.mlp.up_proj", h, f, mlp_bias),
            linear(f"{p}.mlp.down_proj", f, h, mlp_bias),
            norm(f"{p}.input_layernorm", h, bias=False),
            norm(f"{p}.post_attention_layernorm", h, bias=False),
        ]
    sites += [norm("model.norm", h, bias=False), _head(config, task, num_labels, h)]
    return sites, kv


def _gpt2(config, task: str, num_labels: int):
    """GPT-2: Conv1D layers (weights stored (in, out)), fused c_attn, learned positions."""
    h = config.hidden_size
    inner = config.n_inner or 4 * h
    if getattr(config, "add_cross_attention", False):
        raise ValueError("the kit counts GPT-2 without cross-attention (add_cross_attention=False)")
    sites = [
        Site("transformer.wte", "embedding", config.vocab_size, h),
        Site("transformer.wpe", "embedding", config.max_position_embeddings, h),
    ]
    for i in range(config.num_hidden_layers):
        p = f"transformer.h.{i}"
        sites += [
            norm(f"{p}.ln_1", h),
            linear(f"{p}.attn.c_attn", h, 3 * h, kind="conv1d"),
            linear(f"{p}.attn.c_proj", h, h, kind="conv1d"),
            norm(f"{p}.ln_2", h),
            linear(f"{p}.mlp.c_fc", h, inner, kind="conv1d"),
            linear(f"{p}.mlp.c_proj", inner, h, kind="conv1d"),
        ]
    sites += [norm("transformer.ln_f", h), _head(config, task, num_labels, h)]
    return sites, h


def _opt(config, task: str, num_labels: int):
    """OPT: pre- or post-LayerNorm decoder layers, learned positions (offset 2), fc1/fc2 MLP."""
    h, f, emb = config.hidden_size, config.ffn_dim, config.word_embed_proj_dim
    bias = bool(getattr(config, "enable_bias", True))
    affine = bool(getattr(config, "layer_norm_elementwise_affine", True))

    def ln(name: str) -> Site:
        return norm(name, h, bias=affine) if affine else Site(name, "container")

    d = "model.decoder"
    sites = [
        Site(f"{d}.embed_tokens", "embedding", config.vocab_size, emb),
        Site(f"{d}.embed_positions", "embedding", config.max_position_embeddings + 2, h),
    ]
    if emb != h:
        sites += [
            linear(f"{d}.project_out", h, emb, bias=False),
            linear(f"{d}.project_in", emb, h, bias=False),
        ]
    if config.do_layer_norm_before and not getattr(config, "_remove_final_layer_norm", False):
        sites.append(ln(f"{d}.final_layer_norm"))
    for i in range(config.num_hidden_layers):
        p = f"{d}.layers.{i}"
        sites += [
            *(linear(f"{p}.self_attn.{n}_proj", h, h, bias) for n in ("k", "v", "q", "out")),
            ln(f"{p}.self_attn_layer_norm"),
            linear(f"{p}.fc1", h, f, bias),
            linear(f"{p}.fc2", f, h, bias),
            ln(f"{p}.final_layer_norm"),
        ]
    if task == SEQUENCE_CLASSIFICATION:
        sites.append(linear("score", emb, num_labels, bias=False))
    else:
        tied = bool(getattr(config, "tie_word_embeddings", True))
        sites.append(Site("lm_head", "linear", emb, config.vocab_size, tied=tied))
    return sites, h


_LLAMA_ADP = {r"mlp\.gate_proj": "before", r"mlp\.up_proj": "before", r"mlp\.down_proj": "after"}

DECODERS = (
    Architecture(
        "llama",
        ("llama", "mistral", "qwen2"),
        True,
        _LLAMA_ADP,
        ("q_proj", "v_proj"),
        None,
        "score",
        {"k_proj": "out", "v_proj": "out", "down_proj": "in"},
        _llama_like,
        rep_bottleneck=16,
        rep_rank=8,
        rep_dropout=0.05,
        baselines=DECODER_BASELINES,
    ),
    Architecture(
        "gpt2",
        ("gpt2",),
        True,
        {r"attn\.c_proj": "after", r"mlp\.c_proj": "after"},
        ("c_attn",),
        None,
        "score",
        {"c_attn": "out", "mlp.c_proj": "in"},
        _gpt2,
        baselines=DECODER_BASELINES,
        paper=False,
    ),
    Architecture(
        "opt",
        ("opt",),
        True,
        {r"self_attn\.out_proj": "after", r"layers\.\d+\.fc2": "after"},
        ("q_proj", "v_proj"),
        None,
        "score",
        {"k_proj": "out", "v_proj": "out", "fc2": "in"},
        _opt,
        baselines=DECODER_BASELINES,
        paper=False,
    ),
)
