"""Reference solution of exercise 3: LoRETTA_rep's trainable parameters (docs/method.md#counting).

Written without the library, from the model facts and the paper's TT shapes (docs/method.md#shapes).
"""

# The model facts the count needs. "targets": the (in, out) sizes of the linear layers LoRETTA_rep
# adapts in EACH transformer layer; "pooler": the dense layer encoders replace by a TT layer.
MODELS = {
    "deberta-base": dict(family="bert", hidden=768, layers=12, targets=[(768, 2304)], bottleneck=8,
                         pooler=(768, 768)),
    "roberta-base": dict(family="bert", hidden=768, layers=12, targets=[(768, 768), (768, 768)],
                         bottleneck=8, pooler=(768, 768)),
    "bert-base-uncased": dict(family="bert", hidden=768, layers=12, targets=[(768, 768), (768, 768)],
                              bottleneck=8, pooler=(768, 768)),
    "llama-2-7b": dict(family="llama", hidden=4096, layers=32, targets=[(4096, 4096), (4096, 4096)],
                       bottleneck=16, pooler=None),
    "llama-2-13b": dict(family="llama", hidden=5120, layers=40, targets=[(5120, 5120), (5120, 5120)],
                        bottleneck=16, pooler=None),
    "llama-2-70b": dict(family="llama", hidden=8192, layers=80, targets=[(8192, 8192), (8192, 1024)],
                        bottleneck=16, pooler=None),
}

# The paper's TT shapes for each (in, out) weight (docs/method.md#shapes).
SHAPES = {
    (768, 8): [8, 12, 8, 8], (8, 768): [8, 12, 8, 8], (8, 2304): [8, 8, 8, 4, 9],
    (4096, 16): [4, 4, 8, 8, 8, 8], (16, 4096): [8, 8, 8, 8, 4, 4],
    (5120, 16): [16, 8, 16, 8, 5], (16, 5120): [5, 8, 16, 8, 16],
    (8192, 16): [16, 8, 16, 8, 8], (16, 8192): [8, 8, 16, 8, 16], (16, 1024): [8, 8, 8, 8, 4],
    (768, 768): [12, 8, 8, 8, 8, 12],
}


def tt_params(shape, rank: int) -> int:
    """TT(shape, r) = sum_i r_{i-1} k_i r_i with ranks [1, r, ..., r, 1]."""
    ranks = [1] + [rank] * (len(shape) - 1) + [1]
    return sum(ranks[i] * k * ranks[i + 1] for i, k in enumerate(shape))


def rep_budget(model_name: str, tt_rank: int) -> int:
    """Trainable parameters of LoRETTA_rep on `model_name` at TT rank `tt_rank`."""
    m = MODELS[model_name]
    b, hidden, layers = m["bottleneck"], m["hidden"], m["layers"]
    # A: in -> b and B: b -> out, each one bias-free TT layer, on every target of every layer
    per_layer = sum(tt_params(SHAPES[(i, b)], tt_rank) + tt_params(SHAPES[(b, o)], tt_rank) for i, o in m["targets"])
    total = layers * per_layer
    if m["family"] == "bert":
        total += (2 * layers + 1) * 2 * hidden  # LayerNorms: weight and bias; 2 per layer + embeddings
        total += tt_params(SHAPES[m["pooler"]], tt_rank) + m["pooler"][1]  # tensorized pooler + its bias
    else:
        total += (2 * layers + 1) * hidden  # RMSNorms: weight only; 2 per layer + the final one
    return total
