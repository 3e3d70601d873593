"""The notebooks in a real browser: JupyterLab in headless Chromium, as a user sees them.

Each test opens a notebook in a fresh workspace, runs all cells, checks that no error is shown,
moves a slider and checks that its readout and what it drives (text, figure) change. Screenshots
land in test-artifacts/browser/. Needs Debian's chromium (`sudo apt-get install chromium`);
without it these tests skip, under CI (CI=true) they fail. The harness is tests/browser.py.
"""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # the harness lives next to this file

from browser import (  # noqa: E402, F401  (fixture_* register the fixtures with pytest)
    FIXTURES,
    NOTEBOOKS,
    drag_slider,
    exercise_first_slider,
    find_slider,
    fixture_chromium_executable,
    fixture_lab_browser,
    fixture_lab_page,
    fixture_lab_server,
    hover_point,
    hover_texts,
    images,
    move_slider,
    plotly_charts,
    readout,
    text_of,
    wait_for_change,
    wait_for_value,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

DEMO = "fixtures/browser_demo.ipynb"
PLOTLY_DEMO = "fixtures/plotly_demo.ipynb"
LESSONS = ["01_tensor_train_basics.ipynb", "04_parameter_budget.ipynb"]
BROKEN = 'raise RuntimeError("demo callback broken on purpose")'


def params_text(r: int) -> str:
    return f"params = {4 * r * r + 8 * r}"  # the demo notebook's toy count


def test_demo_slider_drives_text_and_figure(lab_page):
    lab = lab_page.open(DEMO).run_all(timeout=120)
    lab.assert_no_errors("after-run")
    lab.screenshot("after-run")

    slider = find_slider(lab, "rank")
    html = lab.page.locator(".widget-html").first
    assert readout(slider) == "2"
    assert text_of(html) == params_text(2)
    figure = images(lab)
    assert len(figure) == 1, f"expected one figure in the Output widget, found {len(figure)}"

    def one_new_figure(before):  # the Output widget redraws: one figure, a different one
        return lambda: len(now := images(lab)) == 1 and now != before and now

    # keyboard: two steps to the right
    move_slider(slider, "ArrowRight", times=2)
    wait_for_value(lambda: readout(slider), "4", "the slider readout", page=lab)
    wait_for_value(lambda: text_of(html), params_text(4), "the params text", page=lab)
    after_keys = wait_until(
        one_new_figure(figure),
        "the figure was not redrawn",
        page=lab,
        describe=lambda: f"{len(images(lab))} figure(s)",
    )
    lab.assert_no_errors("after-keys")
    lab.screenshot("after-keys", around=slider)

    # mouse: drag the handle to the right end
    drag_slider(slider, 1.0)
    wait_for_value(lambda: readout(slider), "8", "the slider readout (mouse drag)", page=lab)
    wait_for_value(lambda: text_of(html), params_text(8), "the params text (mouse drag)", page=lab)
    wait_until(
        one_new_figure(after_keys),
        "the figure was not redrawn (mouse drag)",
        page=lab,
        describe=lambda: f"{len(images(lab))} figure(s)",
    )
    lab.assert_no_errors("after-move")
    lab.screenshot("after-move", around=slider)

    # the lessons' generic check, here from the slider's maximum (it steps back to the left)
    assert exercise_first_slider(lab) == ("8", "7")


def broken_demo(where: str) -> dict:
    """The demo notebook with a callback that raises once the slider moves.

    ``"inside"``: inside ``with out:``, so the traceback shows in the Output widget.
    ``"outside"``: before it, so a user sees no error, only a text that never changes.
    """
    nb = json.loads((FIXTURES / "browser_demo.ipynb").read_text())
    ui = next(c for c in nb["cells"] if "def update" in "".join(c["source"]))
    source = "".join(ui["source"])
    if where == "inside":
        anchor, indent = "        out.clear_output(wait=True)\n", "        "
    else:
        anchor, indent = "    r = rank.value\n", "    "
    patched = source.replace(
        anchor, f"{anchor}{indent}if change is not None:\n{indent}    {BROKEN}\n"
    )
    assert patched != source, "the demo notebook changed: update broken_demo()"
    ui["source"] = patched.splitlines(keepends=True)
    return nb


def test_harness_reports_a_broken_callback(lab_page, lab_server):
    """The failure path: a callback that raises inside the Output widget is reported."""
    path = lab_server.add_notebook("fixtures/broken_demo.ipynb", broken_demo("inside"))
    lab = lab_page.open(path).run_all(timeout=120)
    lab.assert_no_errors("after-run")  # the first draw (change=None) still works

    slider = find_slider(lab, "rank")
    move_slider(slider, "ArrowRight")
    wait_for_value(lambda: readout(slider), "3", "the slider readout", page=lab)
    # the traceback replaces the figure in the Output widget a moment later
    wait_until(lab.shows_errors, "no error was shown", timeout=20)
    with pytest.raises(AssertionError) as failure:
        lab.assert_no_errors("broken-on-purpose")
    assert "cell error" in str(failure.value)
    assert "RuntimeError: demo callback broken on purpose" in str(failure.value)


def test_harness_notices_a_silent_failure(lab_page, lab_server):
    """A callback that fails outside the Output widget shows no error: the text check catches it."""
    path = lab_server.add_notebook("fixtures/silent_demo.ipynb", broken_demo("outside"))
    lab = lab_page.open(path).run_all(timeout=120)
    slider = find_slider(lab, "rank")
    html = lab.page.locator(".widget-html").first
    move_slider(slider, "ArrowRight")
    wait_for_value(lambda: readout(slider), "3", "the slider readout", page=lab)
    with pytest.raises(AssertionError, match="the params text did not change"):
        wait_for_change(
            lambda: text_of(html), params_text(2), "the params text", timeout=4, page=lab
        )


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_in_browser(request, name):
    if not (NOTEBOOKS / name).exists():
        pytest.skip(
            f"notebooks/{name} does not exist yet (written in parallel); "
            "this test runs it in the browser once it does"
        )
    lab = request.getfixturevalue("lab_page").open(f"notebooks/{name}").run_all(timeout=240)
    lab.assert_no_errors("after-run")
    lab.screenshot("after-run")

    exercise_first_slider(lab)  # the first slider moves its readout and some text or figure
    lab.screenshot("after-move", around=find_slider(lab))


def test_plotly_chart_renders_and_hover_shows_the_numbers(lab_page):
    """A kit plotly chart renders in JupyterLab offline (no renderer set) and hovering a point
    shows its method, options, parameters, accuracy and source."""
    lab = lab_page.open(PLOTLY_DEMO).run_all(timeout=120)
    lab.assert_no_errors("after-run")
    charts = plotly_charts(lab)
    wait_until(
        lambda: charts.count() == 1,
        "the plotly chart was not drawn",
        page=lab,
        describe=lambda: f"{charts.count()} chart(s)",
    )
    chart = charts.first
    assert chart.locator(".main-svg").count() >= 1, (
        "the chart has no SVG: plotly.js did not draw it"
    )
    shown = hover_texts(chart)
    assert len(shown) == 12, f"10 paper points and 2 runs, found {len(shown)} markers"
    lora = [t for t in shown if t.startswith("lora")]
    assert lora, f"no hover text for the lora point; hover texts: {shown}"
    for word in ("options: r=8", "trainable: 74,498", "accuracy: 92.00%", "source: the demo rows"):
        assert word in lora[0], (word, lora[0])
    assert any("LoRETTA_rep" in t and "paper: DeBERTa-base" in t for t in shown), shown
    assert hover_point(chart, shown.index(lora[0])) == lora[0]  # hovered again, for the screenshot
    lab.screenshot("hover", around=chart)
    lab.assert_no_errors("after-hover")
