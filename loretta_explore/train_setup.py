"""What :func:`loretta_explore.train` checks and sets up before it touches the model.

Why a module of its own: the rule "validate first, then modify" needs every argument, the
device, the precision, the labels and the parameters checked up front, with errors that say what
was wrong and show a valid call. Keeping those checks here keeps the training loop readable.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import torch
from torch import nn

__all__ = [
    "PeakMemory",
    "autocast_dtype",
    "check_labels",
    "check_parameters_finite",
    "check_settings",
    "pick_device",
]

_CALL = (
    "lx.train(model, 'sentiment', tokenizer=tok, max_steps=100, batch_size=16, learning_rate=1e-3)"
)


def _whole(name: str, value: Any, minimum: int, optional: bool = False, hint: str = "") -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        need = "a whole number" + (f" >= {minimum}" if minimum > -math.inf else "")
        raise ValueError(
            f"{name} must be {need}{' or None' if optional else ''}, got {value!r}.{hint} "
            f"Example: {_CALL}"
        )


def check_settings(
    *,
    epochs,
    max_steps,
    batch_size,
    learning_rate,
    weight_decay,
    warmup_ratio,
    eval_every,
    max_length,
    seed,
    log_every,
    max_eval_examples,
    gradient_accumulation_steps,
    callbacks,
    max_grad_norm,
) -> None:
    """Raise a ValueError naming the first bad training argument; nothing is reinterpreted."""
    _whole(
        "max_steps",
        max_steps,
        1,
        optional=True,
        hint=" For a budget in epochs, leave max_steps out and give epochs=...",
    )
    if epochs is not None and (
        isinstance(epochs, bool)
        or not isinstance(epochs, Real)
        or not math.isfinite(epochs)
        or epochs <= 0
    ):
        raise ValueError(
            f"epochs must be a positive number (1, 0.5, 3) or None, got {epochs!r}. "
            f"Example: {_CALL.replace('max_steps=100', 'epochs=2')}"
        )
    _whole("batch_size", batch_size, 1)
    for name, value, low in (
        ("learning_rate", learning_rate, "> 0"),
        ("weight_decay", weight_decay, ">= 0"),
    ):
        bad = isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value)
        if bad or (value <= 0 if low == "> 0" else value < 0):
            raise ValueError(
                f"{name} must be a finite number {low}, got {value!r}. Example: {_CALL}"
            )
    if max_grad_norm is not None and (
        isinstance(max_grad_norm, bool)
        or not isinstance(max_grad_norm, Real)
        or not math.isfinite(max_grad_norm)
        or max_grad_norm <= 0
    ):
        raise ValueError(
            f"max_grad_norm must be a finite number > 0, or None for no clipping; got "
            f"{max_grad_norm!r}. Example: lx.train(..., max_grad_norm=1.0)"
        )
    if (
        isinstance(warmup_ratio, bool)
        or not isinstance(warmup_ratio, Real)
        or not 0 <= warmup_ratio < 1
    ):
        raise ValueError(
            f"warmup_ratio is the share of the steps spent warming up, in [0, 1); got "
            f"{warmup_ratio!r}. Example: lx.train(..., warmup_ratio=0.06)"
        )
    _whole("eval_every", eval_every, 1, optional=True, hint=" None evaluates once, at the end.")
    _whole("max_length", max_length, 2, hint=" It is the longest input in tokens.")
    _whole("seed", seed, -(2**63))
    _whole("log_every", log_every, 1)
    _whole(
        "max_eval_examples",
        max_eval_examples,
        1,
        optional=True,
        hint=" None evaluates on the whole validation and test splits.",
    )
    _whole("gradient_accumulation_steps", gradient_accumulation_steps, 1)
    if (
        isinstance(callbacks, (str, bytes))
        or not isinstance(callbacks, Sequence)
        or not all(map(callable, callbacks))
    ):
        raise ValueError(
            f"callbacks must be a list of functions taking one dict, got {callbacks!r}. "
            "Example: lx.train(..., callbacks=[print])"
        )


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """ "auto": CUDA if present, then Apple's MPS, then the CPU; a named device must exist here."""
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if mps else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"Unknown device {device!r}: use 'auto', 'cpu', 'cuda', 'cuda:1' or 'mps'."
        ) from err
    if chosen.type == "cuda" and (
        not torch.cuda.is_available() or (chosen.index or 0) >= torch.cuda.device_count()
    ):
        raise ValueError(
            f"device={device!r}, but torch sees {torch.cuda.device_count()} CUDA GPU(s) here. "
            "Use device='auto' (the best device present) or 'cpu'."
        )
    if chosen.type == "mps" and not mps:
        raise ValueError(
            "device='mps', but Apple's MPS backend is not available here. Use 'auto' or 'cpu'."
        )
    if chosen.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"device={device!r} is not supported by lx.train; use 'auto', 'cpu', 'cuda' or 'mps'."
        )
    return chosen


def autocast_dtype(mixed_precision: str | None, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``mixed_precision`` on `device`, or a clear error where it cannot run.

    bf16 keeps float32's exponent range, so it needs no loss scaling and works on the CPU; fp16
    needs a GradScaler, which this loop uses on CUDA only (CPU fp16 autocast is slow and
    unscaled fp16 gradients underflow)."""
    if mixed_precision is None:
        return None
    if mixed_precision not in ("bf16", "fp16"):
        raise ValueError(
            f'mixed_precision must be None, "bf16" or "fp16", got {mixed_precision!r}. '
            'Example: lx.train(..., mixed_precision="bf16")'
        )
    if mixed_precision == "fp16" and device.type != "cuda":
        raise ValueError(
            f'mixed_precision="fp16" needs a CUDA GPU (loss scaling); this run is on '
            f'{device.type}. Use mixed_precision="bf16" (the CPU supports it) or None.'
        )
    if mixed_precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(
            'This GPU has no bfloat16 support; use mixed_precision="fp16" (with loss '
            "scaling) or None."
        )
    return torch.bfloat16 if mixed_precision == "bf16" else torch.float16


def _num_outputs(model: nn.Module) -> int | None:
    return getattr(getattr(model, "config", None), "num_labels", None)


def model_kind(model: nn.Module) -> str | None:
    """ "classifier", "causal-lm" or None (unknown): the class name of the model, or of the model
    a wrapper holds (LorettaModel.base_model, PeftModel.base_model.model)."""
    for _ in range(4):
        name = type(model).__name__
        if "ForSequenceClassification" in name:
            return "classifier"
        if "ForCausalLM" in name or "LMHeadModel" in name:
            return "causal-lm"
        children = dict(model.named_children())  # registered modules, not attribute fall-through
        inner = children.get("base_model", children.get("model"))
        if inner is None:
            return None
        model = inner
    return None


def check_labels(task, model: nn.Module) -> None:
    """The task's labels fit the model's head: class ids in 0..num_labels-1, or one output and
    float labels for a regression. Checked on the raw column, before anything is tokenized."""
    if task is None:
        return
    kind = model_kind(model)
    if task.spec.label_column is None:  # a corpus: the labels are the next tokens
        if kind == "classifier":
            raise ValueError(
                f"Task {task.name!r} is a text corpus for a language model, but the "
                f"model is a classifier: use a causal LM, e.g. lx.tiny_decoder()"
            )
        return
    if kind == "causal-lm":
        raise ValueError(
            f"Task {task.name!r} needs a classifier (a sequence-classification head), but the "
            f"model is a causal language model. Load a classifier, e.g. lx.load_encoder("
            f"num_labels={task.num_labels}), or train the causal LM on a corpus ('corpus')."
        )
    outputs = _num_outputs(model)
    if outputs is None:
        return
    fix = (
        f"Load the model with a head that fits: lx.load_encoder(num_labels={task.num_labels}) "
        f"for {task.name!r} ({task.num_labels} {'output' if task.regression else 'classes'})."
    )
    if task.regression != (outputs == 1):
        kind = (
            "a regression (one float label per example)"
            if task.regression
            else f"a {task.num_labels}-class task"
        )
        raise ValueError(
            f"Task {task.name!r} ({task.split}) is {kind}, but the model has {outputs} "
            f"output(s) (config.num_labels={outputs}). {fix}"
        )
    if task.regression:
        return
    bad: dict[Any, int] = {}
    for row, y in enumerate(task.column(task.spec.label_column)):
        value = task.label_names.index(y) if isinstance(y, str) and y in task.label_names else y
        if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= value < outputs:
            bad.setdefault(y, row)
    if bad:
        shown = ", ".join(f"{y!r} (row {row})" for y, row in list(bad.items())[:5])
        raise ValueError(
            f"Task {task.name!r} ({task.split}) has labels the model cannot predict: {shown}. "
            f"Its classifier has num_labels={outputs}, so labels must be class ids 0.."
            f"{outputs - 1} (or the names {task.label_names}). {fix}"
        )


def check_parameters_finite(model: nn.Module) -> None:
    """NaN or infinity in a parameter makes every loss NaN: name it before training starts."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.is_floating_point() and not torch.isfinite(p).all():
                count = int((~torch.isfinite(p)).sum())
                raise ValueError(
                    f"The parameter {name} {tuple(p.shape)} holds {count} NaN or infinite "
                    "value(s) before training starts; every loss would be NaN. Reload or "
                    "re-create the model (e.g. lx.load_encoder()) and set it up again."
                )


class PeakMemory:
    """Peak memory during a block: max allocated on CUDA, sampled resident set size on the CPU."""

    def __init__(self, device: torch.device):
        self.device, self.peak, self._stop, self._thread = device, 0.0, threading.Event(), None

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            import psutil

            process = psutil.Process()

            def sample():
                while not self._stop.is_set():
                    self.peak = max(self.peak, process.memory_info().rss / 2**20)
                    self._stop.wait(0.05)

            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self._thread is not None:
            self._stop.set()
            self._thread.join()
        return False
