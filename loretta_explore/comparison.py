"""Fine-tuning methods side by side, over several seeds, with the statistics to read the result.

Why seeds: on a few hundred test examples one run's accuracy moves by about a point from the
random start and the batch order alone, as much as the gaps between methods. :func:`compare`
runs every method on every seed (the same seed gives every method the same data order and the
same random head), reports each method's mean and standard deviation over seeds, and the
**paired** difference to a baseline: per seed, method minus baseline, with a Student
t-interval over the seeds (``scipy.stats.t``). Pairing removes what the seed does to both.

An aim such as "within 1.5 points of LoRA" is met only when the whole interval says so:
:meth:`Comparison.meets` checks the interval's lower bound, not the mean.
"""

from __future__ import annotations

import inspect
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .baselines import prepare, trainable_parameters
from .data import Task
from .training import TrainingDiverged, TrainResult, _seed_everything, _train_split, train
from .user_tasks import TaskSplits

__all__ = ["Comparison", "Interval", "MethodSummary", "compare", "paired_difference", "t_interval"]


@dataclass
class Interval:
    """A mean with its two-sided confidence interval, in the units of the values given.

    ``method`` says how it was computed. With one value, ``low`` and ``high`` are NaN: one seed
    says nothing about the spread.
    """

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95
    method: str = "Student t-interval over seeds (scipy.stats.t)"

    def __str__(self) -> str:
        bounds = f"[{self.low:+.4g}, {self.high:+.4g}]"
        return f"{self.mean:+.4g} {bounds} ({self.confidence:.0%}, n={self.n})"


def t_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """The Student t confidence interval of the mean of `values` (n - 1 degrees of freedom).

    Assumes the values are independent draws (one per seed) from a roughly normal spread; with
    3 seeds the t quantile is 4.30 for 95%, so the interval is wide, which is honest.
    """
    from scipy import stats

    values = [float(v) for v in values]
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}")
    n, mean = len(values), (statistics.fmean(values) if values else math.nan)
    if n < 2 or any(math.isnan(v) for v in values):
        return Interval(mean, math.nan, math.nan, n, confidence)
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * statistics.stdev(values) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, confidence)


def paired_difference(
    values: Sequence[float], baseline: Sequence[float], confidence: float = 0.95
) -> Interval:
    """Per-seed differences ``values[i] - baseline[i]`` and their t-interval (a paired t-test's)."""
    if len(values) != len(baseline):
        raise ValueError(
            f"paired values need one per seed on both sides, got {len(values)} and {len(baseline)}"
        )
    return t_interval([a - b for a, b in zip(values, baseline)], confidence)


@dataclass
class MethodSummary:
    """One method over the seeds: the per-seed scores and what they add up to."""

    method: str
    values: list[float]
    mean: float
    std: float  # sample standard deviation over seeds (n - 1); NaN for one seed
    validation_mean: float  # mean over seeds of the best validation score (what recipes choose by)
    trainable_params: int
    seconds_per_step: float  # median over seeds
    peak_memory_mb: float  # largest over seeds
    difference: Interval | None = None  # paired: this method minus the baseline, per seed
    stopped: list[str | None] = field(default_factory=list)


@dataclass
class Comparison:
    """What :func:`compare` measured.

    ``runs[method]`` holds one :class:`TrainResult` per seed, in the order of ``seeds``;
    ``summaries`` one :class:`MethodSummary` per method. ``score`` names the compared value:
    "test_<metric>" (the test split after training) or "validation_<metric>" (the best
    validation score). For today's single-seed code, ``rows, results = lx.compare(...)`` still
    works: it unpacks :attr:`rows` and :attr:`results`.
    """

    task: str
    score: str
    seeds: tuple[int, ...]
    baseline: str | None
    confidence: float
    runs: dict[str, list[TrainResult]]
    summaries: list[MethodSummary]

    @property
    def results(self) -> dict[str, TrainResult]:
        """{method: the first seed's TrainResult} (what plots of training curves take)."""
        return {method: runs[0] for method, runs in self.runs.items()}

    @property
    def rows(self) -> list[dict]:
        """One dict per method: the first seed's ``summary()``, with the compared score replaced by
        its mean over seeds, plus ``<score>_std``, ``seeds`` and the paired difference to the
        baseline."""
        rows = []
        for s in self.summaries:
            row = {
                "method": s.method,
                **self.runs[s.method][0].summary(),
                self.score: s.mean,
                f"{self.score}_std": s.std,
                "seeds": len(self.seeds),
                "seconds_per_step": round(s.seconds_per_step, 4),
                "peak_memory_mb": round(s.peak_memory_mb, 1),
            }
            if s.difference is not None:
                row |= {
                    f"vs_{self.baseline}": s.difference.mean,
                    f"vs_{self.baseline}_low": s.difference.low,
                    f"vs_{self.baseline}_high": s.difference.high,
                }
            rows.append(row)
        return rows

    def __iter__(self):
        return iter((self.rows, self.results))

    def summary(self, method: str) -> MethodSummary:
        for s in self.summaries:
            if s.method == method:
                return s
        raise KeyError(
            f"{method!r} was not compared; methods: {[s.method for s in self.summaries]}"
        )

    def meets(self, method: str, within: float, *, points: bool = True) -> bool | None:
        """Whether `method` is at worst `within` below the baseline, by the interval's lower bound.

        `within` is in points (100 x the metric) when `points`. None when there is no interval
        (one seed, or no baseline): a single run cannot show that an aim is met.
        """
        d = self.summary(method).difference
        if d is None or math.isnan(d.low):
            return None
        return d.low * (100 if points else 1) > -within

    def to_markdown(self, points: bool = True) -> str:
        """A table: mean +- std per method, and the paired difference to the baseline with its
        interval (in points, 100 x the metric, when `points`)."""
        k = 100 if points else 1
        n = len(self.seeds)
        vs = (
            f"vs {self.baseline} (paired, {self.confidence:.0%} CI)"
            if self.baseline
            else "vs baseline"
        )
        lines = [
            f"| method | {self.score} (mean ± std, {n} seed{'s' * (n > 1)}) | {vs} | "
            "trainable params | "
            "s / step | peak MB |",
            "|---|---|---|---|---|---|",
        ]
        for s in self.summaries:
            d = s.difference
            diff = (
                ""
                if d is None
                else (
                    f"{k * d.mean:+.2f}"
                    + ("" if math.isnan(d.low) else f" [{k * d.low:+.2f}, {k * d.high:+.2f}]")
                )
            )
            spread = "" if math.isnan(s.std) else f" ± {k * s.std:.2f}"
            lines.append(
                f"| {s.method} | {k * s.mean:.2f}{spread} | {diff} | {s.trainable_params:,} | "
                f"{s.seconds_per_step:.3f} | {s.peak_memory_mb:.0f} |"
            )
        return "\n".join(lines)


def _score_of(result: TrainResult, score: str) -> float:
    if score.startswith("validation_"):
        return result.best_validation
    return float(result.metrics.get(score, math.nan))


def summarize(
    method: str,
    runs: list[TrainResult],
    score: str,
    baseline_values: list[float] | None,
    confidence: float = 0.95,
) -> MethodSummary:
    """A :class:`MethodSummary` of one method's runs (one per seed)."""
    values = [_score_of(r, score) for r in runs]
    validation = [r.best_validation for r in runs]
    return MethodSummary(
        method=method,
        values=values,
        mean=statistics.fmean(values),
        std=statistics.stdev(values) if len(values) > 1 else math.nan,
        validation_mean=statistics.fmean(validation),
        trainable_params=runs[0].trainable_params,
        seconds_per_step=statistics.median(r.seconds_per_step for r in runs),
        peak_memory_mb=max(r.peak_memory_mb for r in runs),
        difference=None
        if baseline_values is None
        else paired_difference(values, baseline_values, confidence),
        stopped=[r.stopped for r in runs],
    )


def _default_factory(task, seed: int) -> Callable:
    from .models import load_encoder

    num_labels = _train_split(task).num_labels
    return lambda: load_encoder(num_labels=num_labels, seed=seed)


def compare(
    methods: Sequence[str],
    task: Task | TaskSplits | str,
    *,
    seeds: Sequence[int] | None = None,
    baseline: str | None = "lora",
    model_factory: Callable | None = None,
    method_options: dict | None = None,
    train_options: dict | None = None,
    score: str = "test",
    confidence: float = 0.95,
    progress: bool = True,
    **train_kwargs,
) -> Comparison:
    """Fine-tune a fresh model with each method on each seed, same data and step budget.

    Parameters
    ----------
    methods : method names for :func:`loretta_explore.prepare` ("lora", "loretta_rep", ...).
    seeds : the seeds; each seeds the model's random start, the batch order and dropout alike for
        every method. None: the one seed in `train_kwargs` (``seed=``, default 0). Use three or
        more to get intervals.
    baseline : the method the others are compared with, seed by seed (skipped if not run).
    model_factory : ``model_factory()`` or ``model_factory(seed=...)`` returns
        ``(model, tokenizer)``;
        default: the bundled encoder with as many outputs as the task needs.
    method_options : {method: hyperparameters for prepare}, e.g. ``{"lora": {"r": 8}}``.
    train_options : {method: train() arguments for that method only}, e.g.
        ``{"lora": {"learning_rate": 1e-3}}``; the rest of `train_kwargs` go to every run.
    score : "test" (the test metric after training) or "validation" (the best validation score).

    Returns
    -------
    Comparison
        ``.summaries``, ``.rows``, ``.runs``, ``.to_markdown()``, ``.meets(method, within)``;
        ``rows, results = compare(...)`` unpacks as before. A run that diverges
        (:class:`~loretta_explore.TrainingDiverged`) is kept with a NaN score and its ``stopped``.
    """
    if score not in ("test", "validation"):
        raise ValueError(f'score must be "test" or "validation", got {score!r}')
    if isinstance(methods, str) or not methods:
        raise ValueError(
            f"methods must be a list of method names, e.g. ['lora', 'loretta_rep']; got {methods!r}"
        )
    seeds = tuple(seeds) if seeds is not None else (train_kwargs.pop("seed", 0),)
    train_kwargs.pop("seed", None)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, e.g. (0, 1, 2); got {seeds!r}")
    metric = _train_split(task).metric
    score_name = f"{score}_{metric}"
    runs: dict[str, list[TrainResult]] = {}
    for method in methods:
        runs[method] = []
        for seed in seeds:
            _seed_everything(seed)  # the same random start (heads, TT cores) per method
            factory = model_factory or _default_factory(task, seed)
            takes_seed = "seed" in inspect.signature(factory).parameters
            model, tokenizer = factory(seed=seed) if takes_seed else factory()
            model = prepare(model, method, **(method_options or {}).get(method, {}))
            if progress:
                print(
                    f"{method}, seed {seed}: {trainable_parameters(model):,} trainable parameters"
                )
            kwargs = {**train_kwargs, **(train_options or {}).get(method, {})}
            try:
                result = train(
                    model, task, tokenizer=tokenizer, progress=progress, seed=seed, **kwargs
                )
            except TrainingDiverged as err:
                if progress:
                    print(f"{method}, seed {seed}: {err}")
                result = err.result
            runs[method].append(result)
    base = None
    if baseline in runs:
        base = [_score_of(r, score_name) for r in runs[baseline]]
    summaries = [
        summarize(m, runs[m], score_name, None if m == baseline else base, confidence)
        for m in methods
    ]
    return Comparison(
        task=_train_split(task).name,
        score=score_name,
        seeds=seeds,
        baseline=baseline if base is not None else None,
        confidence=confidence,
        runs=runs,
        summaries=summaries,
    )
