"""Training UIs: a live fine-tuning dashboard, and LoRETTA_rep's three starts side by side.

The experiments themselves live elsewhere (:func:`~loretta_explore.training.train`,
:func:`~loretta_explore.rep_starts.compare_starts`); these UIs run them and show their results
(docs/method.md#recipe, #starts).
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable

import ipywidgets as widgets

from .. import plots
from ..data import Task, load_task
from ..rep_starts import StartsComparison, compare_starts
from ..training import TrainResult, train
from ..units import human_count
from .base import Explorer, error_html, lines

__all__ = ["init_comparison", "training_dashboard"]


def _metric_of(task) -> str:
    return task.metric if isinstance(task, Task) else load_task(task).metric


def _summary_html(result: TrainResult, model) -> str:
    metrics = (
        ", ".join(f"{k.removeprefix('test_')} {v:.4f}" for k, v in result.metrics.items()) or "none"
    )
    share = f"{result.trainable_params / result.total_params:.3%}" if result.total_params else "?"
    rows = [
        f"test       {metrics}",
        f"trainable  {result.trainable_params:,} of {result.total_params:,} ({share}; "
        f"{human_count(result.trainable_params)})",
        f"speed      {result.seconds_per_step:.3f} s/step, peak memory {result.peak_memory_mb:.0f} MB",
    ]
    if hasattr(model, "parameter_report"):
        kinds: dict[str, int] = {}
        for row in model.parameter_report():
            kinds[row["kind"]] = kinds.get(row["kind"], 0) + row["count"]
        rows.append("by kind    " + ", ".join(f"{k} {n:,}" for k, n in kinds.items()))
    return lines(*rows)


def training_dashboard(
    model, task, tokenizer=None, redraw_every: float = 1.0, **train_kwargs
) -> Explorer:
    """Fine-tune `model` on `task` with a live loss / accuracy figure, a Start and a Stop button.

    Start trains in a background thread (so Stop can be clicked); Stop makes the next training
    callback raise KeyboardInterrupt, which :func:`~loretta_explore.training.train` turns into a
    clean early return with what was done. ``ui.run(**overrides)`` trains synchronously (tests,
    quick notebooks) and returns the TrainResult, also kept in ``ui.result``. `train_kwargs` go to
    :func:`~loretta_explore.training.train` (e.g. max_steps, batch_size, eval_every, max_eval_examples).
    The figure is redrawn at most every `redraw_every` seconds, and once at the end.
    """
    metric = _metric_of(task)
    controls = dict(
        start=widgets.Button(description="Start", button_style="success", icon="play"),
        stop=widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True),
    )
    summary = widgets.HTML()
    history: list[dict] = []

    def compute(ui: Explorer, source):
        state = dict(
            ui.state, history=list(history), steps=max((r["step"] for r in history), default=0)
        )
        state.pop("error", None)
        return ui.readout.value, plots.training_curves(history, metric), state

    ui = Explorer(
        controls, compute, title=f"Fine-tuning on {getattr(task, 'name', task)}", extra=(summary,)
    )
    ui.summary, ui.result, ui.thread, ui.history = summary, None, None, history
    stop, last_draw = threading.Event(), [0.0]

    def on_record(record: dict) -> None:
        history.append(record)
        if "loss" in record:
            ui.readout.value = f"training: step {record['step']}, loss {record['loss']:.4f}"
        if (
            time.monotonic() - last_draw[0] >= redraw_every
        ):  # measured from the end of the last draw
            ui.update()
            last_draw[0] = time.monotonic()
        if stop.is_set():
            raise KeyboardInterrupt  # train() catches it and returns what was done

    def run(_keep_stop: bool = False, **overrides) -> TrainResult:
        kwargs = {"progress": False, **train_kwargs, **overrides}
        kwargs["callbacks"] = [on_record, *kwargs.get("callbacks", ())]
        history.clear()
        if not _keep_stop:  # start() clears the flag itself, before its thread exists
            stop.clear()
        last_draw[0] = time.monotonic()
        controls["start"].disabled, controls["stop"].disabled = True, False
        ui.readout.value, summary.value = "starting...", ""
        try:
            result = train(model, task, tokenizer=tokenizer, **kwargs)
        finally:
            controls["start"].disabled, controls["stop"].disabled = False, True
        ui.result = result
        what = "stopped" if result.interrupted else "done"
        ui.readout.value = f"{what}: {result.steps} steps, {result.seconds_per_step:.3f} s/step"
        ui.update()
        ui.state["result"] = result
        summary.value = _summary_html(result, model)
        return result

    def start(_button=None) -> None:
        if ui.thread is not None and ui.thread.is_alive():
            return
        stop.clear()
        ui.thread = threading.Thread(target=_in_thread, args=(ui, run), daemon=True)
        ui.thread.start()

    controls["start"].on_click(start)
    controls["stop"].on_click(lambda _button: stop.set())
    ui.run, ui.start, ui.stop = run, start, stop.set
    ui.readout.value = "press Start (or call ui.run())"
    ui.update()
    return ui


def _in_thread(ui: Explorer, run: Callable) -> None:
    """A training thread's target: an error has nowhere to go but the page, so it goes there."""
    try:
        run(_keep_stop=True)
    except Exception as err:  # noqa: BLE001
        ui.state["error"] = f"{type(err).__name__}: {err}"
        ui.readout.value = error_html(f"failed: {ui.state['error']}")


def init_comparison(
    model_factory: Callable | None = None,
    task="sentiment",
    inits=("paper", "compensated", "zero"),
    train_examples: int = 48,
    max_steps: int = 6,
    batch_size: int = 8,
    seed: int = 0,
    max_eval_examples: int = 16,
    run_now: bool = False,
    **train_kwargs,
) -> Explorer:
    """LoRETTA_rep's three starts side by side: output change at step 0, then a short training run.

    Why (docs/method.md#starts): with the paper's Gaussian A and B, s * B(A(x)) is non-zero before
    any training. The experiment is :func:`~loretta_explore.rep_starts.compare_starts` (each init a
    fresh model from `model_factory()` -> (model, tokenizer), default the bundled encoder, the same
    seed); this UI runs it when Run is pressed (or ``ui.run()``), shows a table and
    :func:`~loretta_explore.plots.init_comparison_plot`. ``ui.run()`` returns the
    :class:`~loretta_explore.rep_starts.StartsComparison`, also in ``ui.state["results"]``.
    """
    controls = dict(run=widgets.Button(description="Run", button_style="success", icon="play"))
    found: list[StartsComparison] = []
    metric = _metric_of(task)

    def compute(ui: Explorer, source):
        if not found:
            return (
                f"press Run (or call ui.run()): {len(inits)} short training runs of {max_steps} steps",
                None,
                {"results": {}},
            )
        results = found[-1]
        rows = [
            f"{'init':<12} {'output change at step 0':>24} {'last loss':>10} {'test ' + metric:>14}"
        ]
        for name, r in results.items():
            rows.append(
                f"{name:<12} {r.output_change:>24.3e} {r.final_loss:>10.4f} {results.score(name):>14.4f}"
            )
        return (
            lines(*map(html.escape, rows)),
            plots.init_comparison_plot(results),
            {"results": results},
        )

    def run(**overrides) -> StartsComparison:
        def starting(init: str) -> None:
            ui.status.value = f"<span style='color:#888'>init {init}: training...</span>"

        settings = dict(
            train_examples=train_examples,
            max_steps=max_steps,
            batch_size=batch_size,
            seed=seed,
            max_eval_examples=max_eval_examples,
            **train_kwargs,
        )
        settings.update(overrides)
        found.clear()
        found.append(compare_starts(model_factory, task, inits, on_start=starting, **settings))
        ui.update()
        return found[-1]

    ui = Explorer(controls, compute, title="LoRETTA_rep: three ways to start")
    controls["run"].on_click(lambda _button: run())
    ui.run = run
    ui.update()
    if run_now:
        run()
    return ui
