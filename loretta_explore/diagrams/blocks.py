"""Where LoRETTA sits in one transformer layer, drawn from the family's record.

:func:`block_diagram` reads the family's :class:`~loretta_explore.architectures.Architecture`
(its ``adp`` placements {pattern: "before" | "after"}, its ``rep`` targets, its head names) and
marks every module of one layer that a pattern matches, by the rule the adaptation uses
(docs/method.md#placement). :data:`BLOCKS` holds the drawing of one layer per family: the modules
in the order data flows through them, bottom to top, and the skip connections.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch, Patch

from ..architectures import architecture
from ..methods import matches_name
from ..plots._style import LORETTA, finish, new_figure

__all__ = ["BLOCKS", "Node", "block_diagram"]

_FROZEN, _TRAINED_NORM, _ADAPTER = "#eeeeee", "#fbd9d5", "#f4a69d"


@dataclass(frozen=True)
class Node:
    """One box of a block: `module` is its name inside the layer (None for an operation)."""

    label: str
    kind: str = "linear"  # linear | norm | op | dropout | add | io | adapter | pass
    module: str | None = None


def _lin(module: str, label: str | None = None) -> Node:
    return Node(label or module, "linear", module)


def _norm(module: str, label: str) -> Node:
    return Node(label, "norm", module)


_IN, _OUT, _ADD = (
    Node("hidden states from the layer below", "io"),
    Node("to the next layer", "io"),
    Node("+", "add"),
)


def _encoder(attention: list[Node]) -> tuple[list[list[Node]], list[tuple[int, int]]]:
    """BERT-style post-LN layer: h = LayerNorm(dropout(dense(x)) + residual), twice."""
    rows = [
        [_IN],
        attention,
        [Node("self-attention", "op")],
        [_lin("attention.output.dense")],
        [Node("dropout", "dropout", "attention.output.dropout")],
        [_ADD],
        [_norm("attention.output.LayerNorm", "LayerNorm")],
        [_lin("intermediate.dense")],
        [Node("GELU", "op")],
        [_lin("output.dense")],
        [Node("dropout", "dropout", "output.dropout")],
        [_ADD],
        [_norm("output.LayerNorm", "LayerNorm")],
        [_OUT],
    ]
    return rows, [(0, 5), (6, 11)]


def _qkv(*names: str) -> list[Node]:
    return [_lin(f"attention.self.{n}", n) for n in names]


def _pre_norm(norm1: Node, attention: list[Node], out: Node, norm2: Node, mlp: list[list[Node]]):
    """Pre-norm decoder layer: x + attn(norm(x)), then + mlp(norm(.))."""
    rows = [
        [_IN],
        [norm1],
        attention,
        [Node("causal self-attention", "op")],
        [out],
        [_ADD],
        [norm2],
        *mlp,
        [_ADD],
        [_OUT],
    ]
    return rows, [(0, 5), (5, len(rows) - 2)]


#: family -> (prefix of layer 0, rows bottom to top, residuals (from row, to the "+" row))
BLOCKS: dict[str, tuple[str, list[list[Node]], list[tuple[int, int]]]] = {
    "bert": ("bert.encoder.layer.0", *_encoder(_qkv("query", "key", "value"))),
    "roberta": ("roberta.encoder.layer.0", *_encoder(_qkv("query", "key", "value"))),
    "deberta": (
        "deberta.encoder.layer.0",
        *_encoder([_lin("attention.self.in_proj", "in_proj (q, k, v fused)")]),
    ),
    "deberta-v2": (
        "deberta.encoder.layer.0",
        *_encoder(_qkv("query_proj", "key_proj", "value_proj")),
    ),
    "distilbert": (
        "distilbert.transformer.layer.0",
        [
            [_IN],
            [_lin(f"attention.{n}_lin", f"{n}_lin") for n in "qkv"],
            [Node("attention", "op")],
            [_lin("attention.out_lin", "out_lin")],
            [_ADD],
            [_norm("sa_layer_norm", "sa_layer_norm")],
            [_lin("ffn.lin1", "lin1")],
            [Node("GELU", "op")],
            [_lin("ffn.lin2", "lin2")],
            [_ADD],
            [_norm("output_layer_norm", "output_layer_norm")],
            [_OUT],
        ],
        [(0, 4), (5, 9)],
    ),
    "llama": (
        "model.layers.0",
        *_pre_norm(
            _norm("input_layernorm", "RMSNorm"),
            [_lin(f"self_attn.{n}", n) for n in ("q_proj", "k_proj", "v_proj")],
            _lin("self_attn.o_proj", "o_proj"),
            _norm("post_attention_layernorm", "RMSNorm"),
            [
                [_lin("mlp.gate_proj", "gate_proj"), _lin("mlp.up_proj", "up_proj")],
                [Node("SiLU(gate) * up", "op")],
                [_lin("mlp.down_proj", "down_proj")],
            ],
        ),
    ),
    "gpt2": (
        "transformer.h.0",
        *_pre_norm(
            _norm("ln_1", "LayerNorm ln_1"),
            [_lin("attn.c_attn", "c_attn (q, k, v fused)")],
            _lin("attn.c_proj", "attn.c_proj"),
            _norm("ln_2", "LayerNorm ln_2"),
            [
                [_lin("mlp.c_fc", "mlp.c_fc")],
                [Node("GELU", "op")],
                [_lin("mlp.c_proj", "mlp.c_proj")],
            ],
        ),
    ),
    "opt": (
        "model.decoder.layers.0",
        *_pre_norm(
            _norm("self_attn_layer_norm", "LayerNorm"),
            [_lin(f"self_attn.{n}", n) for n in ("q_proj", "k_proj", "v_proj")],
            _lin("self_attn.out_proj", "out_proj"),
            _norm("final_layer_norm", "LayerNorm"),
            [[_lin("fc1")], [Node("ReLU", "op")], [_lin("fc2")]],
        ),
    ),
}


def _with_adapters(prefix: str, rows: list[list[Node]], residuals, adp: dict[str, str]):
    """Insert an adapter row before / after every row holding a module an adp pattern matches."""
    out, index = [], {}
    for i, row in enumerate(rows):
        where = [
            next(
                (
                    pos
                    for pat, pos in adp.items()
                    if n.module and matches_name(f"{prefix}.{n.module}", pat)
                ),
                None,
            )
            for n in row
        ]
        if "before" in where:
            out.append(
                [
                    Node("TT adapter", "adapter") if w == "before" else Node("", "pass")
                    for w in where
                ]
            )
        index[i] = len(out)
        out.append(row)
        if "after" in where:
            out.append(
                [Node("TT adapter", "adapter") if w == "after" else Node("", "pass") for w in where]
            )
    return out, [(index[a], index[b]) for a, b in residuals]


_W = 10.0  # panel width in data units
_DY, _BOX = 1.0, 0.62  # row spacing, box height


def _columns(n: int) -> list[tuple[float, float]]:
    width = {1: 6.6, 2: 3.9, 3: 2.95}.get(n, (_W - 0.6) / n - 0.2)
    step = (_W - width) / (n - 1) if n > 1 else 0
    return [(width / 2 + i * step if n > 1 else _W / 2, width) for i in range(n)]


def _box(ax, x, y, width, node: Node, rep: bool, norms: bool):
    face, edge, lw, text = _FROZEN, "0.45", 1.0, node.label
    if node.kind == "adapter":
        face, edge, lw = _ADAPTER, LORETTA, 1.8
    elif node.kind == "norm" and norms:
        face, edge = _TRAINED_NORM, LORETTA
    elif node.kind in ("op", "dropout"):
        face = "white"
    elif node.kind == "io":
        face, edge = "white", "white"
    if rep:
        face, edge, lw, text = "#fde9e7", LORETTA, 2.2, f"{node.label} + sBA"
    if node.kind == "add":
        ax.add_patch(Circle((x, y), 0.26, facecolor="white", edgecolor="0.3", lw=1.2, zorder=3))
        ax.text(x, y, "+", ha="center", va="center", fontsize=12, zorder=4)
        return
    if node.kind == "pass":
        return
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - _BOX / 2),
            width,
            _BOX,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=face,
            edgecolor=edge,
            lw=lw,
            zorder=2,
            gid="rep" if rep else ("adapter" if node.kind == "adapter" else node.kind),
        )
    )
    ax.text(
        x,
        y,
        text,
        ha="center",
        va="center",
        fontsize=9,
        zorder=4,
        color=LORETTA if rep or node.kind == "adapter" else "0.1",
        fontweight="bold" if node.kind == "adapter" else "normal",
    )


def _arrow(ax, x0, y0, x1, y1):
    ax.annotate(
        "",
        (x1, y1),
        (x0, y0),
        arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.0, shrinkA=0, shrinkB=0),
        zorder=1,
    )


def _draw_block(ax, prefix, rows, residuals, adp: dict, rep: list, norms: bool, title: str):
    ys = [i * _DY for i in range(len(rows))]
    places = [_columns(len(r)) for r in rows]
    for i, row in enumerate(rows):
        for node, (x, width) in zip(row, places[i]):
            hit = (
                node.module is not None
                and node.kind == "linear"
                and any(matches_name(f"{prefix}.{node.module}", pat) for pat in rep)
            )
            _box(ax, x, ys[i], width, node, hit, norms)
        if i == 0:
            continue
        below, here = places[i - 1], places[i]
        pairs = (
            list(zip(below, here))
            if len(below) == len(here)
            else [(below[0], h) for h in here]
            if len(below) == 1
            else [(b, here[0]) for b in below]
        )
        for (xb, _), (xh, _) in pairs:
            top_below = ys[i - 1] + (0.26 if rows[i - 1][0].kind == "add" else _BOX / 2)
            _arrow(ax, xb, top_below, xh, ys[i] - (0.26 if row[0].kind == "add" else _BOX / 2))
    for j, (a, b) in enumerate(residuals):  # the skip connections, on the left
        x, width = places[a][0]
        x_from = x - (0.26 if rows[a][0].kind == "add" else width / 2)
        side = -0.3 - 0.3 * (j % 2)
        ax.plot([x_from, side, side], [ys[a], ys[a], ys[b]], color="0.45", lw=1.0, zorder=1)
        _arrow(ax, side, ys[b], _W / 2 - 0.26, ys[b])
    ax.set_xlim(-0.8, _W + 0.2)
    ax.set_ylim(-0.6, ys[-1] + 0.6)
    ax.axis("off")
    ax.set_title(title, fontsize=10)


def _readable(pattern: str) -> str:
    """A target pattern as a person reads it: r"layer\\.\\d+\\.output" -> "layer.N.output"."""
    return pattern.replace(r"\d+", "N").replace("\\", "")


def _marks(arch, method: str, config) -> tuple[dict, list]:
    if config is not None:
        targets = config.targets(arch)
        if config.method == "adp":
            return (
                dict(targets) if isinstance(targets, dict) else dict.fromkeys(targets, "after")
            ), []
        return {}, list(targets)
    return (dict(arch.adp), []) if method == "adp" else ({}, list(arch.rep))


def block_diagram(model_or_type, methods=("adp", "rep"), config=None) -> Figure:
    """One transformer layer of a family, with where LoRETTA_adp and LoRETTA_rep go.

    Why: a printed module tree is 70 lines; the picture shows in one glance that BERT-style
    encoders get an adapter after each residual branch's output projection (before the residual
    LayerNorm), LLaMA three in its MLP, and rep an update on the attention's query and value
    (docs/method.md#placement). Drawn from the family's record: change the record (or pass a
    `config` with other ``target_modules``) and the drawing follows.

    Parameters
    ----------
    model_or_type : a model, a config or a model_type ("bert", "llama", ...)
    methods : which panels to draw, "adp" and/or "rep" (side by side)
    config : LorettaConfig, optional
        Draw its placements (its ``target_modules``, or the family's default) in one panel.

    Boxes carry gids for tests: "adapter" for an inserted adapter, "rep" for a layer with an
    update, "norm" for a norm (trained too when the config trains norms).
    """
    arch = architecture(model_or_type)
    if arch.family not in BLOCKS:
        raise ValueError(
            f"no block drawing for the {arch.family!r} family yet; drawn: {sorted(BLOCKS)}"
        )
    methods = (
        [config.method]
        if config is not None
        else [
            m.removeprefix("loretta_") for m in ([methods] if isinstance(methods, str) else methods)
        ]
    )
    if not methods or any(m not in ("adp", "rep") for m in methods):
        raise ValueError(
            f"methods holds 'adp' and/or 'rep', got {methods!r}; e.g. block_diagram('bert', ['adp'])"
        )
    prefix, rows, residuals = BLOCKS[arch.family]
    norms = config.train_norms if config is not None else True
    tall = max(
        len(_with_adapters(prefix, rows, residuals, _marks(arch, m, config)[0])[0]) for m in methods
    )
    fig, axes = new_figure(
        ncols=len(methods), height=0.36 * tall + 1.7, width=max(5.6, 3.75 * len(methods) + 0.2)
    )
    axes = [axes] if len(methods) == 1 else list(axes)
    for ax, method in zip(axes, methods):
        adp, rep = _marks(arch, method, config)
        drawn, skips = _with_adapters(prefix, rows, residuals, adp)
        where = (
            [f"{pos} {_readable(p)}" for p, pos in adp.items()]
            if method == "adp"
            else [", ".join(_readable(p) for p in rep)]
        )
        what = "adapters" if method == "adp" else "updated layers"
        _draw_block(
            ax,
            prefix,
            drawn,
            skips,
            adp,
            rep,
            norms,
            f"LoRETTA_{method}: {what}\n" + "\n".join(where),
        )
    head = (
        f"classification head: {arch.head_dense} -> {arch.classifier}"
        if arch.head_dense
        else f"head: lm_head (causal LM) or {arch.classifier} (classification)"
    )
    fig.suptitle(
        f"one {arch.family} layer, read bottom to top (every layer is the same)\n{head}",
        fontsize=10,
    )
    handles = [Patch(facecolor=_FROZEN, edgecolor="0.45", label="frozen pretrained module")]
    if "adp" in methods:
        handles.append(
            Patch(facecolor=_ADAPTER, edgecolor=LORETTA, label="LoRETTA_adp: TT adapter (trained)")
        )
    if "rep" in methods:
        handles.append(
            Patch(
                facecolor="#fde9e7",
                edgecolor=LORETTA,
                lw=2,
                label="LoRETTA_rep: + sBA = + s B(A(x))",
            )
        )
    handles += [
        Patch(
            facecolor=_TRAINED_NORM if norms else _FROZEN,
            edgecolor=LORETTA if norms else "0.45",
            label="norm (trained too)" if norms else "norm (frozen)",
        ),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=9, frameon=False)
    return finish(fig)
