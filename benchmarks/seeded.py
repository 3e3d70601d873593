"""Shared by compare_methods.py and claims.py: runs over seeds, saved as they finish, and the
statistics and table cells built from them.

A *record* is one training run, a flat dict: task, variant, method, options, learning rate,
seed, test score, best validation score, trainable parameters, seconds per step, peak MB, and
``stopped`` (None, or why the run stopped early). Records are appended to a JSON-lines file as
they finish, so a run that is cut short keeps what it measured and ``--resume`` skips it.
Everything below :func:`run_variant` is pure and tested without training.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from collections.abc import Iterable
from pathlib import Path

from loretta_explore.comparison import Interval, paired_difference, t_interval

HERE = Path(__file__).resolve().parent
# the saved results ship inside the kit (the wheel's loretta_explore/_data/results/), so lessons
# read them with lx.measured(name) wherever the kit is installed; the .md reports stay here
RESULTS = HERE.parent / "data" / "results"


def outputs(out: str | None, name: str) -> tuple[Path, Path]:
    """Where a script writes (report .md, saved .json): by default benchmarks/<name>.md and
    data/results/<name>.json; with ``--out STEM``, STEM.md and STEM.json (tests, trial runs)."""
    if out is None:
        return HERE / f"{name}.md", RESULTS / f"{name}.json"
    return Path(out + ".md"), Path(out + ".json")


def partial_path(out: str | None, name: str) -> Path:
    """The JSON-lines file a script appends finished runs to, beside its report."""
    return outputs(out, name)[0].with_suffix(".partial.jsonl")


def machine(device: str) -> str:
    import torch

    where = f"CUDA {torch.cuda.get_device_name()}" if device.startswith("cuda") else "CPU"
    return (
        f"{time.strftime('%Y-%m-%d')} on {platform.machine()} {where}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}"
    )


def config_defaults(config) -> str:
    """A config's scalar fields as one line (what "the defaults" meant when a run was made)."""
    from dataclasses import asdict

    return ", ".join(
        f"{k}={v!r}" for k, v in asdict(config).items() if not isinstance(v, (dict, list))
    )


def run_variant(
    task,
    variant: str,
    method: str,
    options: dict,
    learning_rate: float,
    seeds,
    *,
    device: str,
    **train_kwargs,
) -> list[dict]:
    """One variant on every seed (``lx.compare`` with one method): one record per seed."""
    import loretta_explore as lx

    comparison = lx.compare(
        [method],
        task,
        seeds=seeds,
        baseline=None,
        method_options={method: options},
        learning_rate=learning_rate,
        device=device,
        progress=False,
        **train_kwargs,
    )
    records = []
    for seed, result in zip(comparison.seeds, comparison.runs[method]):
        metric = result.metric
        records.append(
            {
                "task": task if isinstance(task, str) else task.name,
                "variant": variant,
                "method": method,
                "options": options,
                "learning_rate": learning_rate,
                "seed": seed,
                "test": result.metrics.get(f"test_{metric}", math.nan),
                "validation": result.best_validation,
                "metric": metric,
                "trainable_params": result.trainable_params,
                "seconds_per_step": result.seconds_per_step,
                "peak_memory_mb": result.peak_memory_mb,
                "best_step": result.best_step,
                "steps": result.steps,
                "stopped": result.stopped,
            }
        )
    return records


def append(path: Path, records: Iterable[dict]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def load(path: Path) -> list[dict]:
    if not Path(path).is_file():
        return []
    return [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip()]


def done(records: list[dict], task: str, variant: str, seeds) -> bool:
    have = {r["seed"] for r in records if r["task"] == task and r["variant"] == variant}
    return set(seeds) <= have


# --- pure statistics over records ------------------------------------------------------------


def select(records: list[dict], **where) -> list[dict]:
    """Records matching every ``key=value``, sorted by seed."""
    return sorted(
        (r for r in records if all(r.get(k) == v for k, v in where.items())),
        key=lambda r: r["seed"],
    )


def values(records: list[dict], key: str = "test", **where) -> list[float]:
    return [float(r[key]) for r in select(records, **where)]


def mean_std(xs: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN for fewer than two)."""
    if not xs:
        return math.nan, math.nan
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else math.nan)


def paired(
    records: list[dict], task: str, variant: str, baseline: str, key: str = "test"
) -> Interval:
    """Per seed, variant minus baseline on `task` (seeds both have), with its t-interval."""
    a = {r["seed"]: r[key] for r in select(records, task=task, variant=variant)}
    b = {r["seed"]: r[key] for r in select(records, task=task, variant=baseline)}
    seeds = sorted(set(a) & set(b))
    return paired_difference([a[s] for s in seeds], [b[s] for s in seeds])


def interval(xs: list[float]) -> Interval:
    return t_interval(xs)


def pts(x: float, signed: bool = False) -> str:
    """A 0-1 score as points with two decimals ('95.13', '+0.50'); NaN as 'n/a'."""
    if x is None or math.isnan(x):
        return "n/a"
    return f"{100 * x:+.2f}" if signed else f"{100 * x:.2f}"


def pm(xs: list[float]) -> str:
    """'95.13 ± 0.40' in points (the ± part only with two or more values)."""
    m, s = mean_std(xs)
    return pts(m) + ("" if math.isnan(s) else f" ± {100 * s:.2f}")


def ci(d: Interval) -> str:
    """A paired difference in points with its interval: '-0.50 [-1.20, +0.20]'."""
    if math.isnan(d.low):
        return pts(d.mean, signed=True) + " (one seed: no interval)"
    return f"{pts(d.mean, signed=True)} [{pts(d.low, signed=True)}, {pts(d.high, signed=True)}]"


def within(d: Interval, points: float) -> bool | None:
    """Whether the whole interval lies above ``-points`` (None without an interval)."""
    if math.isnan(d.low):
        return None
    return 100 * d.low > -points
