"""Screenshots of each lesson's key figures and widgets, as a student sees them in JupyterLab.

Not a test: a tool that runs the lessons in a real JupyterLab driven by Debian's Chromium (the
harness of tests/browser.py), in quick mode, at a laptop's window size and 100% zoom, and saves
``docs/screenshots/NN_what.png``: one PNG per output named below, plotly charts with a point
hovered, a quiz with one question answered. Look at them before committing.

    PYTHONPATH=$PWD python tests/lesson_screenshots.py            # every lesson
    PYTHONPATH=$PWD python tests/lesson_screenshots.py 01 04      # some
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, os.path.dirname(__file__))

from browser import (  # noqa: E402
    NOTEBOOKS,
    REPO,
    SEL,
    LabPage,
    LabServer,
    hover_point,
    launch_browser,
    require_chromium,
    wait_until,
)

OUT = REPO / "docs" / "screenshots"
VIEWPORT = {
    "width": 1280,
    "height": 2400,
}  # a laptop screen's width at 100% zoom; tall, so a whole output fits
HOVER, QUIZ = "hover", "quiz"

#: lesson -> [(cell id, file name, what to do first)]
SHOTS: dict[str, list[tuple[str, str, str | None]]] = {
    "00_quickstart": [
        ("00-mode", "00_mode_banner", None),
        ("00-004", "00_quickstart_budget", None),
        ("00-013", "00_training_curves", None),
        ("00-016", "00_quickstart_rep_vs_lora", None),
        ("00-018", "00_accuracy_vs_params", None),
        ("00-quiz", "00_quiz", QUIZ),
    ],
    "01_tensor_train_basics": [
        ("01-007", "01_tt_diagram_in_out_legs", None),
        ("01-011", "01_unfoldings", None),
        ("01-016", "01_spectra", None),
        ("01-016b", "01_spectra_interactive", HOVER),
        ("01-018", "01_rank_explorer_jupyterlab", None),
        ("01-021", "01_error_vs_rank", None),
        ("01-021b", "01_error_vs_rank_interactive", HOVER),
        ("01-quiz", "01_quiz", QUIZ),
        ("01-next", "01_next_links", None),
    ],
    "02_tensorizing_weights": [
        ("02-011", "02_ttm_diagram", None),
        ("02-013", "02_layouts", None),
        ("02-013b", "02_layouts_interactive", HOVER),
        ("02-015", "02_shape_explorer", None),
        ("02-quiz", "02_quiz", QUIZ),
    ],
    "03_rank_selection": [
        ("03-003", "03_mode_banner_ft", None),
        ("03-005", "03_spectra_panels", None),
        ("03-009", "03_error_vs_rank", None),
        ("03-014", "03_rank_explorer", None),
    ],
    "04_parameter_budget": [
        ("04-003", "04_counts_table", None),
        ("04-004", "04_budget_overview", None),
        ("04-012", "04_budget_explorer_jupyterlab", None),
        ("04-012c", "04_trainable_surface", HOVER),
        ("04-015", "04_count_vs_rank", None),
        ("04-019", "04_storage", None),
    ],
    "05_loretta_adp": [
        ("05-008c", "05_block_diagram_bert", None),
        ("05-008d", "05_block_diagram_llama", None),
        ("05-014", "05_training_dashboard", None),
        ("05-015", "05_result_banner", None),
    ],
    "06_loretta_rep": [
        ("06-003b", "06_rep_diagram", None),
        ("06-006b", "06_rep_diagram_compensated", None),
        ("06-008", "06_init_comparison", None),
        ("06-quiz", "06_quiz", QUIZ),
    ],
    "07_compare_methods": [
        ("07-004", "07_accuracy_vs_params", None),
        ("07-004b", "07_accuracy_vs_params_interactive", HOVER),
        ("07-007", "07_speed_memory", None),
        ("07-013", "07_overfitting_curves", None),
    ],
    "08_scaling_up": [("08-quiz", "08_quiz", QUIZ), ("08-next", "08_next_links", None)],
}


def cell_index(name: str, cell_id: str) -> int:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    return next(i for i, c in enumerate(nb.cells) if c.get("id") == cell_id)


def shoot(lab: LabPage, name: str) -> list[Path]:
    saved = []
    for cell_id, file, action in SHOTS[name]:
        cell = lab.page.locator(f"{SEL['notebook']} {SEL['cell']}").nth(cell_index(name, cell_id))
        target = cell.locator(".jp-Cell-outputWrapper") if not cell_id.endswith("-next") else cell
        target.scroll_into_view_if_needed()
        if action == HOVER:
            chart = cell.locator(".js-plotly-plot").first
            wait_until(
                lambda chart=chart: chart.count() > 0, f"{cell_id}: no plotly chart", timeout=30
            )
            points = chart.locator(SEL["plotly_point"]).count()
            if points:
                hover_point(chart, points // 2)
            else:  # a 3-D surface: move onto the middle of the scene
                box = chart.bounding_box()
                lab.page.mouse.move(
                    box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=5
                )
            time.sleep(0.6)
        elif action == QUIZ:
            labels = cell.locator(".widget-radio-box label")
            wait_until(lambda labels=labels: labels.count() > 0, f"{cell_id}: no quiz", timeout=30)
            labels.nth(1).click()  # the second option of the first question
            time.sleep(0.4)
        path = OUT / f"{file}.png"
        target.screenshot(path=str(path), timeout=20_000)
        saved.append(path)
    return saved


def main(lessons: list[str]) -> None:
    require_chromium()
    OUT.mkdir(parents=True, exist_ok=True)
    names = [n for n in SHOTS if not lessons or n[:2] in lessons]
    with LabServer() as server, launch_browser() as browser:
        for name in names:
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.set_default_timeout(30_000)
            lab = LabPage(page, server, name=name)
            start = time.monotonic()
            lab.open(f"notebooks/{name}.ipynb").run_all(timeout=1500)
            problems = lab.errors()
            print(
                f"{name}: ran in {time.monotonic() - start:.0f} s; problems: {[str(p) for p in problems]}"
            )
            for path in shoot(lab, name):
                print("  ", path.relative_to(REPO))
            context.close()
            server.shutdown_kernels()


if __name__ == "__main__":
    main(sys.argv[1:])
