"""The paper's printed figures, in one place (Yang et al., LoRETTA, NAACL 2024).

Counts as the paper's tables print them (docs/method.md#counting), the notes that explain the ones
an exact count cannot reproduce, and the results the lessons plot (docs/method.md#paper-results).
The tensor shapes the paper used live with the shape code (``tensorize.PAPER_SHAPES``).
"""

from __future__ import annotations

__all__ = ["PAPER_FIGURES", "PAPER_GLUE_DEBERTA", "PAPER_NOTES", "PAPER_SEQUENTIAL"]

#: Trainable-parameter figures as printed in the paper's tables: {reference model: {method: figure}}.
PAPER_FIGURES: dict[str, dict[str, str]] = {
    "llama-2-7b": {
        "full": "6738.42M",
        "adapters": "50.33M",
        "lora": "4.19M",
        "prefix": "1.31M",
        "ia3": "0.60M",
        "loretta_rep": "0.51M",
        "loretta_adp": "0.88M",
    },
    "deberta-base": {
        "full": "139.19M",
        "adapters": "0.94M",
        "lora": "0.30M",
        "bitfit": "0.10M",
        "prefix": "0.15M",
        "loretta_adp": "0.10M",
        "loretta_rep": "0.05M",
    },
    "roberta-base": {
        "lora": "0.63M",
        "bitfit": "0.10M",
        "loretta_adp": "0.10M",
        "loretta_rep": "0.07M",
    },
}

#: What explains a printed figure that the exact count does not give: {(model, method): note}.
PAPER_NOTES: dict[tuple[str, str], str] = {
    ("llama-2-7b", "ia3"): "614,400 rounds and truncates to 0.61M; the paper's 0.60M is 0.6M (cut "
    "to one decimal) printed with two",
    (
        "llama-2-7b",
        "adapters",
    ): "printed without norms (train_norms=False); the paper's 13B and 70B "
    "adapter figures include them",
    ("deberta-base", "prefix"): "the paper does not say how many tokens; 8 tokens give 148,994 = "
    "0.15M (prefix_tokens=8)",
    ("deberta-base", "adapters"): "b=8 Houlsby adapters (313,536) + LayerNorms (38,400) + dense "
    "pooler and classifier (592,130); with train_norms=False, "
    "head='frozen': 315,074",
    ("roberta-base", "lora"): "r=8 on query/value is 294,912 (+1,538 classifier); PEFT's whole "
    "RoBERTa head (head='dense') gives 887,042. r=16 (or r=8 on q,k,v,o) "
    "+ LayerNorms + classifier gives 629,762 = 0.63M; the paper does not say",
}

#: The paper's DeBERTa-base GLUE dev averages: (method, trainable parameters, average score).
#: A different model and benchmark from anything the kit trains on a laptop.
PAPER_GLUE_DEBERTA: tuple[tuple[str, float, float], ...] = (
    ("FT", 139.19e6, 84.79),
    ("Adapters", 0.94e6, 81.60),
    ("LoRA r=8", 0.30e6, 85.56),
    ("LoRA r=4", 0.15e6, 84.54),
    ("BitFit", 0.10e6, 83.75),
    ("Prefix", 0.15e6, 73.28),
    ("Prompt", 0.01e6, 70.36),
    ("P-Tuning", 0.23e6, 71.24),
    ("LoRETTA_adp", 0.10e6, 84.96),
    ("LoRETTA_rep", 0.05e6, 84.95),
)

#: Sequential multi-task learning (DeBERTa-base, SST-2 -> MRPC -> QNLI, then all three evaluated):
#: {method: (SST-2, MRPC, QNLI)} after the whole sequence.
PAPER_SEQUENTIAL: dict[str, tuple[float, float, float]] = {
    "adapters": (51.83, 27.21, 90.21),
    "lora": (49.20, 20.15, 87.74),
    "loretta_adp": (52.29, 39.22, 91.52),
    "loretta_rep": (51.26, 52.94, 92.15),
}
