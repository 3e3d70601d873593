"""The benchmark scripts' logic (not their timings): interleaving, aim verdicts, report text.

Timings are never asserted (DEVELOPERS: speed is measured as ratios in benchmarks/, not in tests);
what is checked here is that the scripts judge and report what they measured correctly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import compare_methods  # noqa: E402
import run_all  # noqa: E402
from timing import interleaved_medians  # noqa: E402


def test_interleaving_rotates_the_order_and_counts_every_call():
    calls: list[str] = []
    contenders = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    medians = interleaved_medians(contenders, repeats=4, warmup=2)
    assert set(medians) == {"a", "b", "c"} and all(m >= 0 for m in medians.values())
    warm, timed = calls[:6], calls[6:]
    assert warm == ["a", "a", "b", "b", "c", "c"]
    rounds = [timed[i : i + 3] for i in range(0, 12, 3)]
    assert rounds == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]


def _row(method, accuracy, params, lr=1e-3, steps=1000):
    return dict(
        method=method,
        test_accuracy=accuracy,
        trainable_params=params,
        seconds_per_step=0.2,
        peak_memory_mb=900.0,
        learning_rate=lr,
        best_step=900,
        steps=steps,
    )


@pytest.mark.parametrize(
    "accuracy, params, verdict",
    [
        (
            0.950,
            24_000,
            "not shown (one seed gives no confidence interval; compare_methods.py now runs three)",
        ),
        (0.930, 24_000, "**not met**"),  # 2.5 points behind
        (0.955, 30_000, "**not met**"),  # ahead, but 0.40x LoRA's parameters
    ],
)
def test_compare_report_judges_the_aim(accuracy, params, verdict):
    """The single-seed report: a point estimate inside the margin is no evidence (no interval)."""
    rows = [_row("lora", 0.955, 74_498), _row("loretta_rep", accuracy, params, lr=3e-3)]
    text = compare_methods.markdown(rows, compare_methods.RECIPE, "2026-01-01")
    line = next(x for x in text.splitlines() if x.startswith("- loretta_rep:"))
    assert line.endswith(f": {verdict}.")
    assert "| loretta_rep |" in text and "Measured 2026-01-01" in text


def test_search_variants_are_matched_to_the_recipe_they_repeat():
    options = compare_methods.METHOD_OPTIONS["loretta_rep"]
    row = _row("loretta_rep", 0.95, 22_754, lr=compare_methods.LEARNING_RATES["loretta_rep"])
    same = dict(
        method="loretta_rep", steps=1000, learning_rate=row["learning_rate"], options=dict(options)
    )
    assert compare_methods._same_recipe(same, row)
    assert not compare_methods._same_recipe({**same, "learning_rate": 5e-3}, row)
    assert not compare_methods._same_recipe({**same, "options": {**options, "bottleneck": 8}}, row)


def _steps(rep, adp):
    return {
        m: {"time_vs_lora": t}
        for m, t in (("lora", 1.0), ("loretta_rep", rep), ("loretta_adp", adp), ("norms", 0.98))
    }


def test_results_say_by_how_much_an_aim_is_missed():
    widgets = [
        dict(widget="budget", seconds=0.25, aim=0.2, met=False),
        dict(widget="rank", seconds=0.3, aim=1.0, met=True),
    ]
    notes = run_all._why_missed(_steps(1.07, 1.15), {"widget_latency": widgets})
    assert (
        "loretta_rep missed its step-time aim by 7%" in notes[0] and "What would fix it" in notes[0]
    )
    assert "loretta_adp missed its step-time aim by 10%" in notes[1]  # 1.15 against 1.05
    assert "budget 0.25 s vs 0.2 s" in notes[2] and "rank" not in notes[2]
    assert run_all._why_missed(_steps(0.99, 1.05), {"widget_latency": widgets[1:]}) == []


def test_committed_reports_are_what_the_scripts_make_of_their_committed_numbers():
    """RESULTS.md and compare_methods.md are generated, never edited by hand: re-rendering the saved
    measurements (what `run_all.py --rewrite` and `compare_methods.py --rewrite` do) gives them back."""
    saved = json.loads((BENCHMARKS / "results.json").read_text())
    assert (
        run_all.render(saved["raw"], saved["measured"], saved["machine"])
        == (BENCHMARKS / "RESULTS.md").read_text()
    )
    saved = json.loads(
        (BENCHMARKS.parent / "data" / "results" / "compare_methods.json").read_text()
    )
    assert compare_methods.render(saved) == (BENCHMARKS / "compare_methods.md").read_text()


def _sweep_rows(rep: float, adp: float) -> list[dict]:
    common = dict(
        layers=2,
        memory_vs_lora=1.02,
        storage_vs_lora=0.2,
        params=9e6,
        seconds=0.5,
        peak_mb=900.0,
        trainable=12_345,
        stored_bytes=49_380,
    )
    rows = [
        dict(hidden=h, method=m, time_vs_lora=t, **common)
        for h in (512, 2048)
        for m, t in (("lora", 1.0), ("loretta_rep", rep), ("loretta_adp", adp), ("norms", 1.03))
    ]
    return rows + [dict(hidden=4096, layers=2, method="full", error="does not fit")]


def test_scale_sweep_judges_the_largest_width_that_ran():
    import scale_sweep

    lines = scale_sweep.aims(_sweep_rows(1.04, 1.10))
    assert len(lines) == 2 and all("hidden 2048 (2 layers)" in line for line in lines)
    assert "loretta_rep / LoRA = 1.04 (aim <= 1.05: met" in lines[0]
    assert "loretta_adp / LoRA = 1.10 (aim <= 1.05: missed by 5%" in lines[1]
    assert "norms-only floor: 1.03" in lines[1]
    assert scale_sweep.aims([dict(hidden=512, method="lora", error="oom")]) == []


def test_gpu_report_replaces_only_its_own_section(tmp_path):
    import scale_sweep

    path = tmp_path / "RESULTS_gpu.md"
    path.write_text("# Benchmarks on a GPU\n\nan earlier section, kept\n")
    scale_sweep.write_gpu_report(_sweep_rows(1.2, 1.3), path, "bash gpu_sweep.sh")
    scale_sweep.write_gpu_report(_sweep_rows(1.05, 1.08), path, "bash gpu_sweep.sh")
    text = path.read_text()
    assert "an earlier section, kept" in text and text.count("scale_sweep eager: begin") == 1
    assert "1.05 (aim <= 1.1: met" in text and "1.20" not in text  # the GPU aim is 1.10
