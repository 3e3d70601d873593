"""Timing helper shared by the benchmarks: contenders timed in turn, medians compared.

Why: on a shared or virtual machine the speed drifts by tens of percent within seconds. Timing all
of A's repeats and then all of B's lets that drift pass for a difference between A and B; taking
one repeat of each in rotating order exposes both to the same drift, so their ratio is what is
left. (Measured here: timing the same layer twice, 15 repeats each, one after the other, gave
ratios up to 4x on this 2-core VM.)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved_medians(
    contenders: dict[str, Callable[[], object]],
    repeats: int,
    warmup: int = 3,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median seconds of one call of each contender, the calls taken in rotating round-robin order.

    ``clock``: wall time by default; ``time.process_time`` counts only this process's CPU time,
    which on a crowded machine (more runnable processes than cores) leaves out the time spent
    waiting for a core (use it with one torch thread, or spinning worker threads count too).
    """
    names = list(contenders)
    for name in names:
        for _ in range(warmup):
            contenders[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start = clock()
            contenders[name]()
            times[name].append(clock() - start)
    return {name: statistics.median(values) for name, values in times.items()}
