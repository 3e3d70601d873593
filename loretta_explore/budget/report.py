"""The budget table: every method's count on one model, beside the figure the paper printed.

:func:`budget_table` counts each method with :func:`~loretta_explore.count_trainable`, sets the
paper's printed figure beside it (:mod:`loretta_explore.paper`) and says whether the exact count
gives that figure ("match"), gives it only when cut off ("truncated": the paper truncates some
counts) or not ("differs", with the note that explains it).
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import methods as M
from ..paper import PAPER_FIGURES, PAPER_NOTES
from ..units import compare_figure, format_ratio, human_bytes
from .count import count_trainable, loretta_settings, model_spec

__all__ = ["BudgetTable", "budget_table", "dtype_of", "format_table"]

_DTYPES = {
    "float64": 8,
    "double": 8,
    "fp64": 8,
    "float32": 4,
    "float": 4,
    "fp32": 4,
    "bfloat16": 2,
    "bf16": 2,
    "float16": 2,
    "half": 2,
    "fp16": 2,
    "int8": 1,
    "uint8": 1,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
}


def dtype_of(dtype) -> tuple[str, int]:
    """(name, bytes per number) of a torch dtype or its name ('bfloat16', 'fp16', 'int8', ...)."""
    name = str(dtype).lower().removeprefix("torch.")
    if name not in _DTYPES:
        raise ValueError(
            f"unknown dtype {dtype!r}; use a torch dtype or a name such as "
            f"'float32', 'bfloat16', 'float16', 'int8'"
        )
    canonical = {
        "double": "float64",
        "fp64": "float64",
        "float": "float32",
        "fp32": "float32",
        "bf16": "bfloat16",
        "half": "float16",
        "fp16": "float16",
    }.get(name, name)
    return canonical, _DTYPES[name]


class BudgetTable(list):
    """Rows of :func:`budget_table` (a list of dicts) that print as a text or Markdown table."""

    columns = ("method", "count", "storage", "vs LoRA", "paper", "check", "note")

    def __init__(self, rows=(), model: str = "", dtype: str = "float32"):
        super().__init__(rows)
        self.model, self.dtype = model, dtype

    def cells(self) -> list[list[str]]:
        return [
            [
                row["method"],
                f"{row['count']:,}",
                human_bytes(row["bytes"]),
                format_ratio(row["ratio_to_lora"]),
                row["paper"] or "",
                row["check"] or "",
                row["note"] or "",
            ]
            for row in self
        ]

    def __str__(self) -> str:
        return format_table(self)

    def to_markdown(self) -> str:
        return format_table(self, markdown=True)

    def _repr_markdown_(self) -> str:  # Jupyter shows the Markdown table
        return self.to_markdown()


def format_table(rows, markdown: bool = False) -> str:
    """Rows of :func:`budget_table` as an aligned text table, or a Markdown one."""
    table = rows if isinstance(rows, BudgetTable) else BudgetTable(rows)
    cells, head = table.cells(), list(BudgetTable.columns)
    title = f"Trainable parameters: {table.model} ({table.dtype} storage)" if table.model else ""
    if markdown:
        lines = [f"**{title}**", ""] if title else []
        lines += [
            "| " + " | ".join(head) + " |",
            "|" + "|".join(["---", "---:", "---:", "---:", "---:", "---", "---"]) + "|",
        ]
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
    record = M.REGISTRY[method]
    if key not in record.takes and key not in record.aliases:
        return False
    if key == "head":  # "tensorized" is LoRETTA's only
        heads = M.LORETTA_HEADS if method.startswith("loretta_") else M.BASELINE_HEADS
        return value in heads
    return True


def _settings(model, method: str, hp: dict):
    """The resolved settings of one method (to tell whether they are the paper's)."""
    hp = M.canonical(method, hp, extra=("num_labels", "task"))
    spec = model_spec(model, num_labels=hp.pop("num_labels", None), task=hp.pop("task", None))
    key = (spec.task, spec.num_labels)
    if method == "full":
        return key
    if method.startswith("loretta_"):
        return key, loretta_settings(spec, method, hp)
    return key, M.resolve(method, hp, spec.architecture)


def budget_table(model, methods=None, dtype="float32", **hyperparameters) -> BudgetTable:
    """Every method's trainable parameters on one model, beside the paper's printed figures.

    Parameters
    ----------
    model : str or PretrainedConfig
        As in :func:`~loretta_explore.count_trainable`. Printed figures exist for "llama-2-7b",
        "deberta-base" and "roberta-base" (docs/method.md#counting).
    methods : sequence of str, optional
        Default: all of :data:`loretta_explore.methods.METHODS`.
    dtype : torch.dtype or str
        Storage of the trainable parameters: ``bytes = count * bytes per number``.
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
    if methods is None:
        methods = list(M.METHODS)
    elif isinstance(methods, str):
        methods = [methods]
    methods = [M.check_method(m) for m in methods]
    if not methods:
        raise ValueError(
            "methods is empty: name at least one, e.g. budget_table('llama-2-7b', "
            "methods=['lora', 'loretta_rep']), or leave it out for all of them"
        )
    dtype_name, itemsize = dtype_of(dtype)
    per_method = {
        m: dict(hyperparameters.pop(m))
        for m in M.METHODS
        if isinstance(hyperparameters.get(m), Mapping)
    }
    unused = [
        k
        for k, v in hyperparameters.items()
        if k not in ("num_labels", "task") and not any(_applies(m, k, v) for m in methods)
    ]
    if unused:
        accepted = sorted(
            {k for m in methods for k in (*M.REGISTRY[m].takes, *M.REGISTRY[m].aliases)}
        )
        raise ValueError(
            f"no method in {methods} takes {unused}; accepted: {accepted}. "
            f"Example: budget_table('llama-2-7b', tt_rank=8)"
        )

    def settings_for(m: str) -> dict:
        shared = {
            k: v
            for k, v in hyperparameters.items()
            if k in ("num_labels", "task") or _applies(m, k, v)
        }
        return {**shared, **per_method.get(m, {})}

    lora = count_trainable(model, "lora", **settings_for("lora"))
    name = model if isinstance(model, str) else ""
    rows = BudgetTable(model=model_spec(model).name, dtype=dtype_name)
    for m in methods:
        hp = settings_for(m)
        count = count_trainable(model, m, **hp)
        printed = PAPER_FIGURES.get(name, {}).get(m)
        note = PAPER_NOTES.get((name, m), "")
        if printed is None:
            check = None
        elif _settings(model, m, hp) != _settings(model, m, {}):
            check, note = "not compared", "settings differ from the paper's"
        else:
            check = compare_figure(count, printed)
        if m == "bitfit" and count == 0:
            note = "no bias terms in this model (LLaMA has none): BitFit trains nothing"
        if m == "adapters" and name in ("llama-2-13b", "llama-2-70b") and not hp:
            note = (
                f"the paper's {name[8:].upper()} adapter figure includes the norms: "
                f"train_norms=True gives {count_trainable(model, m, train_norms=True):,}"
            )
        rows.append(
            dict(
                method=m,
                count=count,
                bytes=count * itemsize,
                ratio_to_lora=count / lora if lora else None,
                paper=printed,
                check=check,
                note=note,
            )
        )
    return rows
