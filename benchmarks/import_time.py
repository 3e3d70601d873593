"""Start-up time: `import loretta_explore` and the budget command, each against `import torch` alone, every one in a fresh interpreter.

Why against torch: almost everything the kit does needs torch, so torch's import is the floor a
user pays anyway; the aim is that the kit adds at most half of it (ratio <= 1.5) to its import and
to ``python -m loretta_explore budget llama-2-7b``. Each contender is a new ``python`` process (a
warm file cache, a cold interpreter); the contenders run in turn, one of each per round in
rotating order (timing.py says why), and each round's ratio is taken within the round, so a slow
spell of the machine slows both sides of it. Reported: the median over rounds and the spread
(lowest and highest round). Where an aim is missed, ``python -X importtime`` says which module
pulled in what: see :func:`heaviest_imports`.

Run alone: ``python benchmarks/import_time.py [--rounds N]``; ``run_all.py`` runs it with the rest
(``run_all.py --only import_time`` re-measures just this section).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from timing import interleaved_medians

REPO = Path(__file__).resolve().parent.parent
BASELINE = "import torch"
#: name -> the arguments given to a fresh `python`
CASES: dict[str, list[str]] = {
    "python, nothing imported": ["-c", "pass"],
    BASELINE: ["-c", "import torch"],
    "import loretta_explore": ["-c", "import loretta_explore"],
    "import loretta_explore; lx.tt_svd (first use)": [
        "-c",
        "import loretta_explore as lx; lx.tt_svd",
    ],
    "python -m loretta_explore budget llama-2-7b": [
        "-m",
        "loretta_explore",
        "budget",
        "llama-2-7b",
    ],
}
#: name -> the aim for its ratio to BASELINE
AIMS = {"import loretta_explore": 1.5, "python -m loretta_explore budget llama-2-7b": 1.5}


def _env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def run(rounds: int = 5, python: str = sys.executable) -> dict:
    """Time every case ``rounds`` times in fresh interpreters; rows with seconds and ratios."""
    env, times = _env(), {name: [] for name in CASES}

    def contender(name: str):
        def call() -> None:
            start = time.perf_counter()
            subprocess.run(
                [python, *CASES[name]], env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL
            )
            times[name].append(time.perf_counter() - start)

        return call

    interleaved_medians({name: contender(name) for name in CASES}, repeats=rounds, warmup=1)
    timed = {name: values[1:] for name, values in times.items()}  # drop the warm-up call
    rows = []
    for name, values in timed.items():
        ratios = [v / b for v, b in zip(values, timed[BASELINE])]
        aim = AIMS.get(name)
        rows.append(
            dict(
                case=name,
                median_s=statistics.median(values),
                min_s=min(values),
                max_s=max(values),
                ratio=statistics.median(ratios),
                ratio_min=min(ratios),
                ratio_max=max(ratios),
                aim=aim,
                met=None if aim is None else statistics.median(ratios) <= aim,
            )
        )
    return {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rounds": rounds,
        "rows": rows,
    }


def verdict(row: dict) -> str:
    if row["aim"] is None:
        return ""
    return f"<= {row['aim']:g}: {'met' if row['met'] else '**missed**'}"


def markdown(raw: dict) -> str:
    lines = [
        f"Measured {raw['measured']}, {raw['rounds']} rounds; spread = lowest and highest round.",
        "",
        f"| command | median | spread | / {BASELINE} (median) | spread | aim |",
        "|---|---|---|---|---|---|",
    ]
    for r in raw["rows"]:
        lines.append(
            f"| `{r['case']}` | {r['median_s']:.2f} s | {r['min_s']:.2f}-{r['max_s']:.2f} s | "
            f"{r['ratio']:.2f} | {r['ratio_min']:.2f}-{r['ratio_max']:.2f} | {verdict(r)} |"
        )
    return "\n".join(lines)


def aims_line(raw: dict) -> str:
    """One line for RESULTS.md's list of aims."""
    parts = [
        f"`{r['case']}` {r['ratio']:.2f}x ({'met' if r['met'] else 'MISSED'})"
        for r in raw["rows"]
        if r["aim"] is not None
    ]
    return (
        f"- Start-up, ratio to `{BASELINE}` in a fresh interpreter (aim <= 1.5): "
        + "; ".join(parts)
        + "."
    )


def heaviest_imports(
    args: list[str], top: int = 15, python: str = sys.executable
) -> list[tuple[float, str]]:
    """The modules with the largest cumulative import time (seconds) for ``python -X importtime args``."""
    out = subprocess.run(
        [python, "-X", "importtime", *args],
        env=_env(),
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in out.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]) / 1e6, parts[2].rstrip()))
    return sorted(rows, reverse=True)[:top]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--why", action="store_true", help="also list the slowest imports of each aim"
    )
    args = parser.parse_args()
    result = run(args.rounds)
    print(markdown(result))
    if args.why:
        for name in AIMS:
            print(f"\n{name}: slowest imports (cumulative seconds)")
            for seconds, module in heaviest_imports(CASES[name]):
                print(f"  {seconds:7.3f}  {module}")
