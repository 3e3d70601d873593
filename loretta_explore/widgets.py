"""Interactive UIs for the notebooks: each is a function that returns one ipywidgets container.

Every UI is an :class:`Explorer` (a VBox) with the same handles, so tests and lessons can drive
it without a browser: ``ui.controls`` (name -> widget), ``ui.readout`` (HTML with the current
numbers), ``ui.output`` (an Output holding the figure), ``ui.state`` (the latest numbers),
``ui.update()``. Figures are static matplotlib PNGs inside the Output widget, so they render in
JupyterLab, classic Notebook and Colab alike. Settings that could freeze a kernel are capped:
dense sizes for TT-SVD, ranks, the number of candidate shapes.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import itertools
import math
import threading
import time
from collections.abc import Callable, Mapping

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from . import plots
from .adapt import LorettaConfig, get_loretta_model
from .budget import budget_table, tt_params
from .data import Task, load_task, make_loader
from .models import REFERENCE_MODELS, load_encoder
from .tensorize import (
    arrange_modes,
    count_prime_factors,
    paper_shape,
    shape_cost,
    sorted_factorizations,
    suggest_shape,
    suggest_ttm_modes,
)
from .training import TrainResult, train
from .tt import tt_matrix, tt_svd
from .units import human_bytes

__all__ = ["Explorer", "budget_explorer", "init_comparison", "rank_explorer", "shape_explorer", "shape_candidates",
           "show_figure", "training_dashboard"]

MAX_DENSE = 2**22  # entries a slider may TT-SVD on every move (a 2048 x 2048 weight): ~0.1-0.5 s on a laptop
_BUSY = "<span style='color:#888'>computing...</span>"
_WIDE = {"description_width": "initial"}


# ---------------------------------------------------------------------------------------------
# The container every UI returns, and how a figure gets into it.
# ---------------------------------------------------------------------------------------------

def _kernel_main_thread() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    ip = get_ipython()
    return getattr(ip, "kernel", None) is not None and threading.current_thread() is threading.main_thread()


def show_figure(output: widgets.Output, fig, dpi: int = 90) -> bytes:
    """Replace what `output` shows with `fig` as a PNG; close the figure; return the PNG bytes.

    Why two paths: inside a kernel, on its main thread, ``with output: display(...)`` is what
    works everywhere (JupyterLab, Notebook, Colab). Outside a kernel (tests) or from a training
    thread that context does not exist, so the Output's ``outputs`` are set directly, which
    ipywidgets syncs to the page like any other trait.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    png = buffer.getvalue()
    if _kernel_main_thread():
        from IPython.display import Image, display

        with output:
            output.clear_output(wait=True)
            display(Image(data=png, format="png"))
    else:
        data = {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": "<Figure>"}
        output.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)
    return png


class Explorer(widgets.VBox):
    """Controls, a status line, a readout and a figure, recomputed when a control changes.

    ``compute(ui, source)`` returns ``(readout_html, figure_or_None, state_dict)``; `source` is
    the control that changed (None for a full refresh). A setting that cannot work shows its
    error in the readout (and ``state["error"]``) instead of a traceback in a hidden log.
    """

    def __init__(self, controls: Mapping[str, widgets.Widget], compute: Callable, title: str = "",
                 extra: tuple = ()):
        self.controls = dict(controls)
        self.readout, self.status = widgets.HTML(), widgets.HTML()
        self.output = widgets.Output(layout=widgets.Layout(min_height="60px"))
        self.state: dict = {}
        self.figure, self.png = None, None
        self._compute, self._quiet = compute, 0
        head = [widgets.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        super().__init__(head + list(self.controls.values()) + [self.status, self.readout, *extra, self.output])
        for control in self.controls.values():
            if not isinstance(control, widgets.Button):
                control.observe(self._changed, names="value")

    def _changed(self, change) -> None:
        if not self._quiet:
            self.update(source=change["owner"])

    def set_quietly(self, control, **traits) -> None:
        """Change a control without triggering another update (e.g. a slider that follows another)."""
        self._quiet += 1
        try:
            for name, value in traits.items():
                setattr(control, name, value)
        finally:
            self._quiet -= 1

    def update(self, source=None) -> None:
        """Recompute the numbers and redraw the figure."""
        self.status.value = _BUSY
        try:
            readout, fig, state = self._compute(self, source)
        except Exception as err:  # noqa: BLE001  (a bad setting: say why in the page)
            self.state["error"] = f"{type(err).__name__}: {err}"
            self.readout.value = f"<span style='color:#b00'>{html.escape(self.state['error'])}</span>"
            self.status.value = ""
            return
        self.state = {**state, "error": None}
        self.readout.value = readout
        if fig is not None:
            self.figure = fig
            self.png = show_figure(self.output, fig)
        self.status.value = ""


def _slider(kind, description: str, value, lo, hi, step=1, **kw):
    return kind(value=value, min=lo, max=hi, step=step, description=description, continuous_update=False,
                style=_WIDE, layout=widgets.Layout(width="420px"), **kw)


def _lines(*rows: str) -> str:
    return "<div style='font-family:monospace;line-height:1.5;white-space:pre'>" + "<br>".join(rows) + "</div>"


def _as_matrix(weight, in_features: int, out_features: int) -> torch.Tensor:
    w = weight.weight.detach().T if isinstance(weight, torch.nn.Linear) else torch.as_tensor(weight).detach()
    if tuple(w.shape) != (in_features, out_features):
        raise ValueError(f"weight must be ({in_features}, {out_features}) = (in, out), got {tuple(w.shape)}; "
                         f"an nn.Linear's .weight is (out, in): pass linear.weight.T or the nn.Linear itself")
    if w.numel() > MAX_DENSE:
        raise ValueError(f"a {in_features}x{out_features} weight is too large to decompose on every slider move "
                         f"(limit {MAX_DENSE:,} entries); try a single layer of a small model")
    return w.double() if w.numel() <= 2**18 else w.float()  # float32 for big weights: 2x faster, error to 1e-6


# ---------------------------------------------------------------------------------------------
# Shapes (METHOD.md sections 1 and 4)
# ---------------------------------------------------------------------------------------------

def shape_candidates(in_features: int, out_features: int, order: int, layout: str = "flat",
                     limit: int = 30) -> list[tuple[str, tuple]]:
    """Dropdown options ``(label, shape)``: the suggested shape, the paper's, then the best others.

    "flat": factorizations of in*out into `order` factors, ranked by the same score as
    :func:`~loretta_explore.tensorize.suggest_shape` (factors near 10, no tiny ones). "ttm":
    pairs (in_modes, out_modes), each side factored into `order` factors (1s pad short sides).
    """
    found: dict[tuple, str] = {}
    if layout == "flat":
        found[tuple(suggest_shape(in_features, out_features, order))] = "suggested"
        preset = paper_shape(in_features, out_features)
        if preset and len(preset) == order:
            found.setdefault(tuple(preset), "paper")
        pool = itertools.islice(sorted_factorizations(in_features * out_features, order), 20_000)
        for shape in sorted(pool, key=shape_cost):
            found.setdefault(arrange_modes(shape), "")
        label = lambda s: "×".join(map(str, s))  # noqa: E731
    else:
        found[suggest_ttm_modes(in_features, out_features, order)] = "suggested"

        def side(n: int) -> list[tuple[int, ...]]:
            for d in range(order, 0, -1):
                shapes = list(itertools.islice(sorted_factorizations(n, d), 2_000)) if n > 1 else []
                if shapes:
                    shapes.sort(key=lambda s: max(s) / min(s))
                    return [tuple(sorted(s, reverse=True)) + (1,) * (order - d) for s in shapes[:6]]
            return [(n,) + (1,) * (order - 1)]

        pairs = [(a, b) for a in side(in_features) for b in side(out_features)]
        for pair in sorted(pairs, key=lambda p: shape_cost([m * n for m, n in zip(*p)])):
            found.setdefault(pair, "")
        label = lambda p: ", ".join(f"{m}×{n}" for m, n in zip(*p))  # noqa: E731
    return [(label(s) + (f"  ({tag})" if tag else ""), s) for s, tag in list(found.items())[:limit]]


def shape_explorer(in_features: int = 384, out_features: int = 1536, weight=None, max_rank: int = 16,
                   rank: int = 5) -> Explorer:
    """Pick a TT shape and rank for an (in, out) weight and see what it costs (and loses).

    Why: LoRETTA folds W row-major into (k_1, ..., k_d) and stores it as a train; the paper found
    that shapes with factors near 8-16 work and tiny factors hurt (METHOD.md sections 1 and 4).
    Controls: order, shape (the suggested shape first, the paper preset if any), rank, layout
    ("flat" LoRETTA layout or "ttm" TT-matrix). With `weight` ((in, out) tensor or an nn.Linear)
    the readout adds the relative error of tt_svd at that rank. The figure is the TT diagram.
    """
    w = None if weight is None else _as_matrix(weight, in_features, out_features)
    dense, top = in_features * out_features, max(2, min(8, count_prime_factors(in_features * out_features)))
    start = min(max(len(suggest_shape(in_features, out_features)), 2), top)
    controls = dict(
        order=_slider(widgets.IntSlider, "order d", start, 2, top),
        shape=widgets.Dropdown(options=shape_candidates(in_features, out_features, start), description="shape",
                               style=_WIDE, layout=widgets.Layout(width="420px")),
        rank=_slider(widgets.IntSlider, "rank r", min(rank, max_rank), 1, max_rank),
        layout=widgets.ToggleButtons(options=["flat", "ttm"], description="layout", style=_WIDE),
    )

    def compute(ui: Explorer, source):
        c = ui.controls
        if source in (c["order"], c["layout"]):
            options = shape_candidates(in_features, out_features, c["order"].value, c["layout"].value)
            ui.set_quietly(c["shape"], options=options, value=options[0][1])
        r, ttm = c["rank"].value, c["layout"].value == "ttm"
        shape = c["shape"].value
        modes = [m * n for m, n in zip(*shape)] if ttm else list(shape)
        params = tt_params(modes, r)
        shown = c["shape"].label.split("  (")[0]
        rows = [f"shape      {shown}  (d = {len(modes)}, {'TT-matrix' if ttm else 'flattened'} layout)",
                f"TT params  {params:,}  (ranks {[1] + [r] * (len(modes) - 1) + [1]})",
                f"dense      {in_features} × {out_features} = {dense:,}",
                f"compression {dense / params:.1f}x"]
        state = dict(order=len(modes), shape=tuple(shape), layout=c["layout"].value, rank=r, tt_params=params,
                     dense_params=dense, compression=dense / params, rel_error=None)
        if w is not None:
            tt = tt_matrix(w, shape[0], shape[1], max_rank=r) if ttm else tt_svd(w.reshape(shape), max_rank=r)
            full = tt.full() if ttm else tt.full().reshape(in_features, out_features)
            error = float(torch.linalg.vector_norm(w - full) / torch.linalg.vector_norm(w))
            rows.append(f"tt_svd of the weight: relative error {error:.4f}, ranks {tt.ranks}, {tt.num_params:,} params")
            state.update(rel_error=error, svd_ranks=tt.ranks, svd_params=tt.num_params)
        fig = plots.tt_diagram(list(zip(*shape)) if ttm else modes, r)
        return _lines(*rows), fig, state

    ui = Explorer(controls, compute, title=f"TT shapes for a {in_features} x {out_features} weight")
    ui.update()
    return ui


# ---------------------------------------------------------------------------------------------
# Ranks and spectra (METHOD.md section 1)
# ---------------------------------------------------------------------------------------------

def rank_explorer(x, shape=None, max_rank: int = 32, rank: int = 3) -> Explorer:
    """Truncate a tensor's TT-SVD by rank (first slider) or by budget and watch the error.

    Why: TT-SVD cuts every unfolding's spectrum; the discarded singular values bound the error
    (METHOD.md section 1). The budget slider asks for the largest uniform rank whose train costs
    at most that fraction of the dense parameters (``tt_svd(x, max_rank=float)``, tensorly's
    convention). Whichever slider moved last decides; the other follows.

    Parameters
    ----------
    x : tensor (any order) or matrix; `shape` folds it (prod must equal x.numel()).
    max_rank : the rank slider's top (also capped by the largest rank any bond allows).
    """
    t = torch.as_tensor(x).detach()
    t = t.reshape(tuple(shape)) if shape is not None else t
    if t.numel() > MAX_DENSE or t.ndim < 2:
        raise ValueError(f"rank_explorer needs a tensor with 2+ modes and at most {MAX_DENSE:,} entries, got shape "
                         f"{tuple(t.shape)}; e.g. rank_explorer(torch.randn(8, 8, 8, 8))")
    t = t.double() if t.numel() <= 2**20 else t.float()
    caps = [min(math.prod(t.shape[: k + 1]), math.prod(t.shape[k + 1:])) for k in range(t.ndim - 1)]
    top, dense, norm = max(1, min(max_rank, max(caps))), t.numel(), float(torch.linalg.vector_norm(t))
    controls = dict(rank=_slider(widgets.IntSlider, "rank", min(rank, top), 1, top),
                    budget=_slider(widgets.FloatSlider, "budget (fraction of dense)", 0.1, 0.01, 1.0, 0.01,
                                   readout_format=".2f"))

    def compute(ui: Explorer, source):
        by_budget = source is ui.controls["budget"]
        tt = tt_svd(t, max_rank=float(ui.controls["budget"].value) if by_budget else ui.controls["rank"].value)
        if by_budget:
            ui.set_quietly(ui.controls["rank"], value=min(max(tt.ranks), top))
        else:
            ui.set_quietly(ui.controls["budget"], value=min(1.0, max(0.01, round(tt.num_params / dense, 2))))
        error = float(torch.linalg.vector_norm(t - tt.full())) / norm if norm else 0.0
        rows = [f"set by     {'budget ' + format(ui.controls['budget'].value, '.2f') if by_budget else 'rank'}"
                f" (rank {ui.controls['rank'].value})",
                f"ranks      {tt.ranks}",
                f"params     {tt.num_params:,} of {dense:,} dense ({tt.num_params / dense:.1%}, {dense / tt.num_params:.1f}x fewer)",
                f"rel. error {error:.4f}   (TT-SVD bound {tt.info.relative_error_bound:.4f})"]
        state = dict(rank=ui.controls["rank"].value, budget=ui.controls["budget"].value, ranks=tt.ranks,
                     params=tt.num_params, dense=dense, rel_error=error, error_bound=tt.info.relative_error_bound,
                     by="budget" if by_budget else "rank")
        return _lines(*rows), plots.spectra(tt), state

    ui = Explorer(controls, compute, title=f"TT-SVD of a tensor of shape {list(t.shape)}")
    ui.update()
    return ui


# ---------------------------------------------------------------------------------------------
# Parameter budgets (METHOD.md section 5)
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _budget_rows(model: str, tt_rank: int, bottleneck: int, lora_rank: int) -> tuple:
    rows = budget_table(model, loretta_adp={"tt_rank": tt_rank, "bottleneck": bottleneck},
                        loretta_rep={"tt_rank": tt_rank}, lora={"r": lora_rank})
    return tuple(rows)


def _budget_html(rows) -> str:
    head = "".join(f"<th style='padding:2px 8px'>{h}</th>" for h in
                   ("method", "trainable", "fp32 storage", "vs LoRA", "paper", "check"))
    body = []
    for r in rows:
        ratio = "" if r["ratio_to_lora"] is None else f"{r['ratio_to_lora']:.3g}x"
        cells = (r["method"], f"{r['count']:,}", human_bytes(r["bytes"]), ratio, r["paper"] or "",
                 r["check"] or "")
        body.append("<tr>" + "".join(f"<td style='padding:2px 8px;text-align:{'left' if i in (0, 5) else 'right'}'>"
                                     f"{html.escape(str(v))}</td>" for i, v in enumerate(cells)) + "</tr>")
    return f"<table style='font-family:monospace'><tr>{head}</tr>{''.join(body)}</table>"


def budget_explorer(model: str = "llama-2-7b", tt_rank: int = 5, bottleneck: int = 64, lora_rank: int = 8) -> Explorer:
    """Trainable parameters of every method on a reference model, counted from its config.

    Why: the paper's headline is a count (LoRETTA_rep trains 0.51M numbers on LLaMA-2-7B, LoRA
    4.19M; METHOD.md sections 5-6). Controls: tt_rank (the first slider; both LoRETTA methods),
    the model, LoRETTA_adp's bottleneck, LoRA's rank. The paper used r = 5 for adp and r = 8 for
    rep on LLaMA, so one tt_rank matches one of the two printed figures at a time ("not compared"
    marks the other). Analytic: an update takes well under a second (cached afterwards).
    """
    controls = dict(
        tt_rank=_slider(widgets.IntSlider, "tt_rank (LoRETTA)", tt_rank, 1, 16),
        model=widgets.Dropdown(options=list(REFERENCE_MODELS), value=model, description="model", style=_WIDE),
        bottleneck=_slider(widgets.IntSlider, "adp bottleneck b", bottleneck, 4, 128, 4),
        lora_rank=_slider(widgets.IntSlider, "LoRA rank r", lora_rank, 1, 64),
    )

    def compute(ui: Explorer, source):
        c = ui.controls
        start = time.perf_counter()
        rows = [dict(r) for r in _budget_rows(c["model"].value, c["tt_rank"].value, c["bottleneck"].value,
                                              c["lora_rank"].value)]
        seconds = time.perf_counter() - start
        counts = {r["method"]: r["count"] for r in rows}
        note = (f"<br><small>tt_rank sets both LoRETTA methods; the paper used r=5 for adp, and r=5 (encoders) or "
                f"r=8 (LLaMA) for rep. Counted in {seconds * 1000:.0f} ms.</small>")
        state = dict(model=c["model"].value, tt_rank=c["tt_rank"].value, bottleneck=c["bottleneck"].value,
                     lora_rank=c["lora_rank"].value, counts=counts, rows=rows, seconds=seconds)
        return _budget_html(rows) + note, plots.budget_bars(rows), state

    ui = Explorer(controls, compute, title="Trainable parameters per method")
    ui.update()
    return ui


# ---------------------------------------------------------------------------------------------
# Training (METHOD.md section 7) and LoRETTA_rep's start (section 3)
# ---------------------------------------------------------------------------------------------

def _metric_of(task) -> str:
    return task.metric if isinstance(task, Task) else load_task(task).metric


def _summary_html(result: TrainResult, model) -> str:
    metrics = ", ".join(f"{k.removeprefix('test_')} {v:.4f}" for k, v in result.metrics.items()) or "none"
    share = f"{result.trainable_params / result.total_params:.3%}" if result.total_params else "?"
    rows = [f"test       {metrics}",
            f"trainable  {result.trainable_params:,} of {result.total_params:,} ({share})",
            f"speed      {result.seconds_per_step:.3f} s/step, peak memory {result.peak_memory_mb:.0f} MB"]
    if hasattr(model, "parameter_report"):
        kinds: dict[str, int] = {}
        for row in model.parameter_report():
            kinds[row["kind"]] = kinds.get(row["kind"], 0) + row["count"]
        rows.append("by kind    " + ", ".join(f"{k} {n:,}" for k, n in kinds.items()))
    return _lines(*rows)


def training_dashboard(model, task, tokenizer=None, redraw_every: float = 1.0, **train_kwargs) -> Explorer:
    """Fine-tune `model` on `task` with a live loss / accuracy figure, a Start and a Stop button.

    Start trains in a background thread (so Stop can be clicked); Stop makes the next training
    callback raise KeyboardInterrupt, which :func:`~loretta_explore.training.train` turns into a
    clean early return with what was done. ``ui.run(**overrides)`` trains synchronously (tests,
    quick notebooks) and returns the TrainResult, also kept in ``ui.result``. `train_kwargs` go to
    :func:`~loretta_explore.training.train` (e.g. max_steps, batch_size, eval_every, max_eval_examples).
    The figure is redrawn at most every `redraw_every` seconds, and once at the end.
    """
    metric = _metric_of(task)
    controls = dict(start=widgets.Button(description="Start", button_style="success", icon="play"),
                    stop=widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True))
    summary = widgets.HTML()
    history: list[dict] = []

    def compute(ui: Explorer, source):
        state = dict(ui.state, history=list(history), steps=max((r["step"] for r in history), default=0))
        return ui.readout.value, plots.training_curves(history, metric), state

    ui = Explorer(controls, compute, title=f"Fine-tuning on {getattr(task, 'name', task)}", extra=(summary,))
    ui.summary, ui.result, ui.thread, ui.history = summary, None, None, history
    stop, last_draw = threading.Event(), [0.0]

    def on_record(record: dict) -> None:
        history.append(record)
        if "loss" in record:
            ui.readout.value = f"training: step {record['step']}, loss {record['loss']:.4f}"
        if time.monotonic() - last_draw[0] >= redraw_every:  # measured from the end of the last draw
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
        ui.readout.value = f"<span style='color:#b00'>failed: {html.escape(ui.state['error'])}</span>"


def _outputs(model, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The last hidden state and the logits on `batch`, in eval mode (no dropout noise)."""
    model.eval()
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    return out.hidden_states[-1], out.logits


def init_comparison(model_factory: Callable | None = None, task="sentiment", inits=("paper", "compensated", "zero"),
                    train_examples: int = 48, max_steps: int = 6, batch_size: int = 8, seed: int = 0,
                    max_eval_examples: int = 16, run_now: bool = False, **train_kwargs) -> Explorer:
    """LoRETTA_rep's three starts side by side: output change at step 0, then a short training run.

    Why (METHOD.md section 3): with the paper's Gaussian A and B, s * B(A(x)) is non-zero before
    any training, so the adapted model no longer computes the pretrained function; the paper
    describes subtracting that initial update ("compensated"), a zero last core of B ("zero") is
    LoRA's way. Each init gets a fresh model from `model_factory()` -> (model, tokenizer)
    (default: the bundled encoder), the same seed, LorettaConfig(method="rep", init=...) with the
    pretrained pooler and the classifier trained (head="dense"), so only the rep update differs.
    Press Run or call ``ui.run()``; results land in ``ui.state["results"]``.
    """
    train_task = load_task(task) if isinstance(task, str) else task
    train_task = train_task.head(train_examples)
    factory = model_factory or (lambda: load_encoder(num_labels=train_task.num_labels))
    controls = dict(run=widgets.Button(description="Run", button_style="success", icon="play"))
    results: dict[str, dict] = {}

    def compute(ui: Explorer, source):
        if not results:
            return "press Run (or call ui.run()): about 3 short training runs", None, {"results": {}}
        rows = [f"{'init':<12} {'output change at step 0':>24} {'last loss':>10} {'test ' + train_task.metric:>14}"]
        for name, r in results.items():
            score = r["metrics"].get(f"test_{train_task.metric}", float("nan"))
            rows.append(f"{name:<12} {r['output_change']:>24.3e} {r['final_loss']:>10.4f} {score:>14.4f}")
        return _lines(*map(html.escape, rows)), plots.init_comparison_plot(results), {"results": dict(results)}

    def run(**overrides) -> dict:
        results.clear()
        for init in inits:
            ui.status.value = f"<span style='color:#888'>init {init}: training...</span>"
            model, tokenizer = factory()
            batch = next(iter(make_loader(train_task, tokenizer, batch_size=16)))
            hidden, logits = _outputs(model, batch)
            torch.manual_seed(seed)  # the same cores for every init
            adapted = get_loretta_model(model, LorettaConfig(method="rep", init=init, head="dense",
                                                             train_classifier=True))
            hidden0, logits0 = _outputs(adapted, batch)
            kwargs = dict(max_steps=max_steps, batch_size=batch_size, seed=seed, progress=False,
                          max_eval_examples=max_eval_examples)
            result = train(adapted, train_task, tokenizer=tokenizer, **{**kwargs, **train_kwargs, **overrides})
            losses = [r["loss"] for r in result.history if "loss" in r]
            results[init] = dict(output_change=float((hidden0 - hidden).norm() / hidden.norm()),
                                 logit_change=float((logits0 - logits).norm() / logits.norm()),
                                 history=result.history, metrics=result.metrics, result=result,
                                 final_loss=losses[-1] if losses else float("nan"))
        ui.update()
        return dict(results)

    ui = Explorer(controls, compute, title="LoRETTA_rep: three ways to start")
    controls["run"].on_click(lambda _button: run())
    ui.run = run
    ui.update()
    if run_now:
        run()
    return ui
