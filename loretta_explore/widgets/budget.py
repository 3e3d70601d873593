"""The budget explorer: every method's trainable parameters on a reference model, counted live.

Analytic (docs/method.md#counting): a move recounts every method from the model's config in well
under a second (cached afterwards), so the sliders can go to their ends without a wait.
"""

from __future__ import annotations

import functools
import html
import time

import ipywidgets as widgets

from .. import plots
from ..budget import budget_table
from ..methods import positive_int
from ..models import REFERENCE_MODELS
from ..units import format_ratio, human_bytes, human_count
from .base import WIDE, Explorer, slider

__all__ = ["budget_explorer"]


@functools.lru_cache(maxsize=256)
def _budget_rows(model: str, tt_rank: int, bottleneck: int, lora_rank: int) -> tuple:
    rows = budget_table(
        model,
        loretta_adp={"tt_rank": tt_rank, "bottleneck": bottleneck},
        loretta_rep={"tt_rank": tt_rank},
        lora={"r": lora_rank},
    )
    return tuple(rows)


def _budget_html(rows) -> str:
    head = "".join(
        f"<th style='padding:2px 8px'>{h}</th>"
        for h in ("method", "trainable", "", "fp32 storage", "vs LoRA", "paper", "check")
    )
    body = []
    for r in rows:
        cells = (
            r["method"],
            f"{r['count']:,}",
            human_count(r["count"]),
            human_bytes(r["bytes"]),
            format_ratio(r["ratio_to_lora"]),
            r["paper"] or "",
            r["check"] or "",
        )
        body.append(
            "<tr>"
            + "".join(
                f"<td style='padding:2px 8px;text-align:{'left' if i in (0, 6) else 'right'}'>"
                f"{html.escape(str(v))}</td>"
                for i, v in enumerate(cells)
            )
            + "</tr>"
        )
    return f"<table style='font-family:monospace'><tr>{head}</tr>{''.join(body)}</table>"


def budget_explorer(
    model: str = "llama-2-7b", tt_rank: int = 5, bottleneck: int = 64, lora_rank: int = 8
) -> Explorer:
    """Trainable parameters of every method on a reference model, counted from its config.

    Why: the paper's headline is a count (LoRETTA_rep trains 0.51M numbers on LLaMA-2-7B, LoRA
    4.19M; docs/method.md#counting). Controls: tt_rank (the first slider; both LoRETTA methods),
    the model, LoRETTA_adp's bottleneck, LoRA's rank. The paper used r = 5 for adp and r = 8 for
    rep on LLaMA, so one tt_rank matches one of the two printed figures at a time ("not compared"
    marks the other). A setting a model cannot take (a LoRA rank above its width) is named in
    the readout.
    """
    if model not in REFERENCE_MODELS:
        raise ValueError(
            f"unknown reference model {model!r}; known: {', '.join(REFERENCE_MODELS)}. "
            f"Example: budget_explorer('llama-2-7b')"
        )
    tt_rank = positive_int("tt_rank", tt_rank, "budget_explorer(tt_rank=5)")
    bottleneck = positive_int("bottleneck", bottleneck, "budget_explorer(bottleneck=64)")
    lora_rank = positive_int("lora_rank", lora_rank, "budget_explorer(lora_rank=8)")
    controls = dict(
        tt_rank=slider(widgets.IntSlider, "tt_rank (LoRETTA)", min(tt_rank, 16), 1, 16),
        model=widgets.Dropdown(
            options=list(REFERENCE_MODELS), value=model, description="model", style=WIDE
        ),
        bottleneck=slider(widgets.IntSlider, "adp bottleneck b", min(bottleneck, 128), 4, 128, 4),
        lora_rank=slider(widgets.IntSlider, "LoRA rank r", min(lora_rank, 64), 1, 64),
    )

    def compute(ui: Explorer, source):
        c = ui.controls
        start = time.perf_counter()
        rows = [
            dict(r)
            for r in _budget_rows(
                c["model"].value, c["tt_rank"].value, c["bottleneck"].value, c["lora_rank"].value
            )
        ]
        seconds = time.perf_counter() - start
        counts = {r["method"]: r["count"] for r in rows}
        note = (
            f"<br><small>tt_rank sets both LoRETTA methods; the paper used r=5 for adp, and r=5 (encoders) or "
            f"r=8 (LLaMA) for rep. Counted in {seconds * 1000:.0f} ms.</small>"
        )
        state = dict(
            model=c["model"].value,
            tt_rank=c["tt_rank"].value,
            bottleneck=c["bottleneck"].value,
            lora_rank=c["lora_rank"].value,
            counts=counts,
            rows=rows,
            seconds=seconds,
        )
        return _budget_html(rows) + note, plots.budget_bars(rows, title=c["model"].value), state

    ui = Explorer(controls, compute, title="Trainable parameters per method")
    ui.update()
    return ui
