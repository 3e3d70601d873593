"""Exercises: the reference solutions (instructor/solutions/) pass `loretta_explore.checks`, the
starter notebooks' stubs fail with "Not implemented yet", typical wrong answers fail with their
specific hint (stated once, the fix only on show_fix()), and the starter notebooks run top to
bottom (as they are, and with the stub replaced by the solution)."""

from __future__ import annotations

import importlib.util
import json
import re
import time
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

import loretta_explore as lx
from loretta_explore import checks
from loretta_explore.checks import ex1_tt_svd as ex1
from loretta_explore.checks import ex2_tt_linear_forward as ex2
from loretta_explore.checks import ex3_budget_formula as ex3
from loretta_explore.checks import ex4_rep_merge as ex4
from loretta_explore.checks.feedback import SECTIONS

ROOT = Path(__file__).resolve().parents[1]
EXERCISE_DIR = ROOT / "notebooks" / "exercises"
SOLUTION_DIR = ROOT / "instructor" / "solutions"  # out of the students' folder

# notebook stem: (solution module, function name, check function, number of cases)
EXERCISES = {
    "ex1_tt_svd": ("ex1_solution", "tt_svd", checks.check_tt_svd, 5),
    "ex2_tt_linear_forward": (
        "ex2_solution",
        "tt_linear_forward",
        checks.check_tt_linear_forward,
        6,
    ),
    "ex3_budget_formula": ("ex3_solution", "rep_budget", checks.check_budget_formula, 6),
    "ex4_rep_merge": ("ex4_solution", "merge_rep", checks.check_rep_merge, 4),
}


def solution(stem: str):
    """The reference implementation of one exercise (a plain module under instructor/solutions/)."""
    module_name, fn_name, _, _ = EXERCISES[stem]
    spec = importlib.util.spec_from_file_location(module_name, SOLUTION_DIR / f"{module_name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, getattr(module, fn_name)


def read_notebook(stem: str):
    return nbformat.read(EXERCISE_DIR / f"{stem}.ipynb", as_version=4)


def tagged(nb, tag: str) -> list:
    return [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]


def stub_from_notebook(stem: str):
    """The starter's stub, defined by executing its stub cell (and data cells) as the notebook would."""
    nb = read_notebook(stem)
    namespace = {"torch": torch, "nn": nn, "lx": lx}
    for cell in tagged(nb, "data") + tagged(nb, "stub"):
        exec(compile(cell.source, f"<{stem} cell>", "exec"), namespace)
    return namespace[EXERCISES[stem][1]]


# ---------------------------------------------------------------------------------------------
# Reference solutions pass; stubs fail with "Not implemented yet".
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", EXERCISES)
def test_reference_solution_passes(stem):
    _, fn = solution(stem)
    check, n = EXERCISES[stem][2], EXERCISES[stem][3]
    result = check(fn)
    assert result.passed, str(result)
    assert result.score == 1.0 and result.n_total == n and bool(result)
    text = str(result)
    assert (
        text.startswith(f"PASS  {EXERCISES[stem][1]}: {n}/{n} checks passed") and "FAIL" not in text
    )
    assert all(
        m.startswith("PASS  ") and m.endswith("match") for m in result.messages
    )  # expected vs measured
    assert check(fn, raise_on_fail=True) is not None
    assert "✅" not in text and "❌" not in text  # words, never a symbol alone


@pytest.mark.parametrize("stem", EXERCISES)
def test_notebook_stub_fails_with_not_implemented(stem):
    stub = stub_from_notebook(stem)
    fn_name, check, n = EXERCISES[stem][1], EXERCISES[stem][2], EXERCISES[stem][3]
    result = check(stub)  # never raises
    assert not result.passed and result.score == 0.0 and result.n_total == n
    expected = f"Not implemented yet: fill in the body of {fn_name} (the cell marked # TODO)"
    assert result.messages[0].startswith(expected), result.messages
    assert str(result).startswith(f"FAIL  {fn_name}: 0/{n} checks passed")
    assert expected in result._repr_html_()
    with pytest.raises(checks.CheckFailed, match="Not implemented yet") as info:
        check(stub, raise_on_fail=True)
    assert isinstance(info.value, AssertionError) and info.value.result.score == 0.0


# ---------------------------------------------------------------------------------------------
# Typical wrong answers and their hints.
# ---------------------------------------------------------------------------------------------


def _unfold_svd(x, max_rank, keep="largest", carry_s=True):
    shape, cores, rest, r_prev = x.shape, [], x, 1
    for n in shape[:-1]:
        u, s, vh = torch.linalg.svd(rest.reshape(r_prev * n, -1), full_matrices=False)
        r = min(max_rank, s.numel())
        pick = slice(0, r) if keep == "largest" else slice(s.numel() - r, s.numel())
        cores.append(u[:, pick].reshape(r_prev, n, r))
        rest = (s[pick, None] * vh[pick]) if carry_s else vh[pick]
        r_prev = r
    cores.append(rest.reshape(r_prev, shape[-1], 1))
    return cores


def svd_smallest(x, max_rank):
    return _unfold_svd(x, max_rank, keep="smallest")


def svd_drops_s(x, max_rank):
    return _unfold_svd(x, max_rank, carry_s=False)


def svd_broken_chain(x, max_rank):
    cores = _unfold_svd(x, max_rank)
    cores[1] = cores[1][:-1]
    return cores


def svd_no_truncation(x, max_rank):
    return _unfold_svd(x, 10**6)


def svd_modes_reversed(x, max_rank):
    return _unfold_svd(x.permute(*reversed(range(x.ndim))).contiguous(), max_rank)


def svd_crashes(x, max_rank):
    unfolding = x.reshape(7, -1)  # a typo'd unfolding
    return [unfolding]


def svd_calls_library(x, max_rank):
    return lx.tt_svd(x, max_rank=max_rank).cores


def _full(cores):
    full = cores[0].reshape(cores[0].shape[1], -1)
    for core in cores[1:]:
        r, n, s = core.shape
        full = (full @ core.reshape(r, n * s)).reshape(-1, s)
    return full


def fwd_out_in(x, cores, in_f, out_f):
    return x @ _full(cores).reshape(out_f, in_f).T


def fwd_transposed_when_square(x, cores, in_f, out_f):
    w = _full(cores).reshape(in_f, out_f)
    return x @ (w.T if in_f == out_f else w)


def fwd_column_major(x, cores, in_f, out_f):
    full = _full(cores).reshape([c.shape[1] for c in cores])
    flat = full.permute(*reversed(range(full.ndim))).reshape(-1)
    return x @ flat.reshape(out_f, in_f).T


def fwd_detached(x, cores, in_f, out_f):
    return x @ _full([c.detach() for c in cores]).reshape(in_f, out_f)


def fwd_flattens_batch(x, cores, in_f, out_f):
    return x.reshape(-1, in_f) @ _full(cores).reshape(in_f, out_f)


def _rep_solution():
    return solution("ex3_budget_formula")[0]


def budget_no_norms(model, r):
    s = _rep_solution()
    m = s.MODELS[model]
    return s.rep_budget(model, r) - (2 * m["layers"] + 1) * m["hidden"] * (
        2 if m["family"] == "bert" else 1
    )


def budget_no_pooler(model, r):
    s = _rep_solution()
    m = s.MODELS[model]
    pooler = s.tt_params(s.SHAPES[m["pooler"]], r) + m["pooler"][1] if m["pooler"] else 0
    return s.rep_budget(model, r) - pooler


def budget_with_classifier(model, r):
    s = _rep_solution()
    return s.rep_budget(model, r) + (768 * 2 + 2 if s.MODELS[model]["family"] == "bert" else 0)


def budget_boundary_ranks(model, r):
    s = _rep_solution()
    m, b = s.MODELS[model], s.MODELS[model]["bottleneck"]
    wrong = lambda shape: sum(r * k * r for k in shape)
    cores = lambda tt: (
        m["layers"] * sum(tt(s.SHAPES[(i, b)]) + tt(s.SHAPES[(b, o)]) for i, o in m["targets"])
    )
    return s.rep_budget(model, r) - cores(lambda shape: s.tt_params(shape, r)) + cores(wrong)


def budget_one_layer(model, r):
    s = _rep_solution()
    m, b = s.MODELS[model], s.MODELS[model]["bottleneck"]
    per_layer = sum(
        s.tt_params(s.SHAPES[(i, b)], r) + s.tt_params(s.SHAPES[(b, o)], r) for i, o in m["targets"]
    )
    return s.rep_budget(model, r) - (m["layers"] - 1) * per_layer


def budget_float(model, r):
    return _rep_solution().rep_budget(model, r) + 0.5


def budget_calls_library(model, r):
    return lx.count_trainable(model, "loretta_rep", tt_rank=r)


def merge_no_scale(layer):
    return layer.base.weight + (layer.A.dense_matrix() @ layer.B.dense_matrix()).T


def merge_scale_by_tt_rank(layer):
    """The earlier reading of the paper: alpha / TT rank instead of alpha / bottleneck."""
    rank = max(layer.A.ranks)
    return (
        layer.base.weight
        + (layer.alpha / rank) * (layer.A.dense_matrix() @ layer.B.dense_matrix()).T
    )


def merge_not_transposed(layer):
    delta = layer.A.dense_matrix() @ layer.B.dense_matrix()
    return layer.base.weight + layer.scale * (
        delta if delta.shape == layer.base.weight.shape else delta.T
    )


def merge_only_update(layer):
    return layer.scale * (layer.A.dense_matrix() @ layer.B.dense_matrix()).T


def merge_in_out(layer):
    return (layer.base.weight + layer.scale * (layer.A.dense_matrix() @ layer.B.dense_matrix()).T).T


def merge_in_place(layer):
    with torch.no_grad():
        layer.base.weight += layer.scale * (layer.A.dense_matrix() @ layer.B.dense_matrix()).T
    return layer.base.weight


def merge_calls_library(layer):
    layer.merge()
    return layer.base.weight


MISTAKES = [
    (checks.check_tt_svd, svd_smallest, ex1.H_LARGEST, "relative error"),
    (checks.check_tt_svd, svd_drops_s, ex1.H_DROPPED_S, "relative error"),
    (checks.check_tt_svd, svd_broken_chain, ex1.H_CHAIN, "but core 0 ends with rank 3"),
    (
        checks.check_tt_svd,
        svd_no_truncation,
        ex1.H_TRUNCATE,
        "at max_rank=3 your ranks are [1, 4, 10, 2, 1]",
    ),
    (
        checks.check_tt_svd,
        svd_modes_reversed,
        ex1.H_MODES,
        "a tensor of shape (5, 4, 3), expected (3, 4, 5)",
    ),
    (checks.check_tt_svd, svd_crashes, None, "your svd_crashes raised RuntimeError"),
    (checks.check_tt_svd, svd_calls_library, None, "your svd_calls_library calls lx.tt_svd"),
    (checks.check_tt_linear_forward, fwd_out_in, ex2.H_OUT_IN, "relative error"),
    (checks.check_tt_linear_forward, fwd_transposed_when_square, ex2.H_TRANSPOSE, "relative error"),
    (checks.check_tt_linear_forward, fwd_column_major, ex2.H_COLUMN_MAJOR, "relative error"),
    (checks.check_tt_linear_forward, fwd_detached, ex2.H_DETACHED, "y.requires_grad is False"),
    (
        checks.check_tt_linear_forward,
        fwd_flattens_batch,
        ex2.H_SHAPE,
        "expected (2, 3, 10) = x.shape[:-1]",
    ),
    (checks.check_budget_formula, budget_no_norms, ex3.H_NORMS, "(off by -38,400)"),
    (checks.check_budget_formula, budget_no_pooler, ex3.H_POOLER, "expected 54,068 vs yours"),
    (checks.check_budget_formula, budget_with_classifier, ex3.H_CLASSIFIER, "(off by +1,538)"),
    (checks.check_budget_formula, budget_boundary_ranks, ex3.H_BOUNDARY, "tt_rank=5: expected"),
    (checks.check_budget_formula, budget_one_layer, ex3.H_ONE_LAYER, "tt_rank=5: expected"),
    (checks.check_budget_formula, budget_float, ex3.H_WHOLE, "returned 54068.5"),
    (checks.check_budget_formula, budget_calls_library, None, "calls lx.count_trainable"),
    (checks.check_rep_merge, merge_no_scale, ex4.H_NO_SCALE, "scale 5.33333: relative error"),
    (checks.check_rep_merge, merge_scale_by_tt_rank, ex4.H_TT_RANK, "relative error"),
    (checks.check_rep_merge, merge_not_transposed, ex4.H_NOT_TRANSPOSED, "relative error"),
    (checks.check_rep_merge, merge_only_update, ex4.H_ONLY_UPDATE, "relative error"),
    (checks.check_rep_merge, merge_in_out, ex4.H_IN_OUT, "stores (out, in) = (6, 12)"),
    (
        checks.check_rep_merge,
        merge_in_place,
        ex4.H_IN_PLACE,
        "changed rep_layer's frozen weight in place",
    ),
    (checks.check_rep_merge, merge_calls_library, None, "calls rep_layer.merge()"),
]


@pytest.mark.parametrize(
    "check, wrong, hint, observed", MISTAKES, ids=[m[1].__name__ for m in MISTAKES]
)
def test_typical_mistake_gets_its_hint(check, wrong, hint, observed):
    result = check(wrong)  # never raises
    assert not result.passed and result.score < 1
    failing = [m for m in result.messages if m.startswith("FAIL  ")]
    assert any(observed in m for m in failing), "\n".join(result.messages)
    assert not result.not_implemented and "Not implemented" not in str(result)
    text = str(result)
    for (
        h
    ) in result.hints:  # each distinct hint once, with the section to read; the fix only on demand
        assert text.count(h.pointer) == 1 and h.section in SECTIONS
        assert f"docs/method.md#{h.section}" in text and SECTIONS[h.section] in text
        if h.fix:
            assert h.fix not in text and h.fix in str(result.show_fix())
    if hint is not None:
        assert hint in result.hints, text


def test_cases_that_share_a_hint_are_grouped():
    result = checks.check_budget_formula(budget_no_norms)  # all six models miss their norms
    assert result.n_passed == 0 and result.hints == [ex3.H_NORMS]
    text = str(result)
    assert "Hint 1 (cases 1, 2, 3, 4, 5, 6): Did you count the norms?" in text
    assert text.count("[hint 1]") == 6 and text.count("Did you count the norms?") == 1
    fixes = str(result.show_fix())
    assert "(2 * layers + 1) * 2 * hidden" in fixes and "(2 * layers + 1) * 2 * hidden" not in text
    assert "result.show_fix()" in text


def test_a_repeated_hint_leads_to_the_fix():
    checks.check_rep_merge(merge_only_update)
    first = str(
        checks.check_rep_merge(merge_no_scale)
    )  # a different hint: not "the same as last time"
    assert "Same hint as your last run" not in first
    second = checks.check_rep_merge(merge_no_scale)
    assert "Same hint as your last run: result.show_fix() shows the code-level fix." in str(second)
    assert "alpha / bottleneck" in str(second.show_fix())
    assert second.show_fix()._repr_html_().startswith("<div")


def test_feedback_says_pass_and_fail_in_words():
    result = checks.check_tt_linear_forward(fwd_transposed_when_square)
    html = result._repr_html_()
    assert (
        ">PASS</span>" in html and ">FAIL</span>" in html and "✅" not in html and "❌" not in html
    )
    assert all(line.startswith(("PASS  ", "FAIL  ")) for line in result.messages)


def test_sections_match_the_method_document():
    method = ROOT / "docs" / "method.md"
    if not method.is_file():
        pytest.skip("docs/method.md is not in this checkout")
    text = method.read_text()
    for anchor, title in SECTIONS.items():
        assert f'<a id="{anchor}"></a>' in text, anchor
        assert re.search(rf"^## (\d+\. )?{re.escape(title)}$", text, re.M), title


def test_student_exception_shows_the_student_line():
    result = checks.check_tt_svd(svd_crashes)
    assert any("raised RuntimeError" in m for m in result.messages)
    (hint,) = [
        h for h in result.hints if "RuntimeError" in h.pointer
    ]  # four crashing cases, one hint
    assert "in svd_crashes: `unfolding = x.reshape(7, -1)  # a typo'd unfolding`" in hint.pointer
    assert "test_checks.py" in hint.pointer and "line " in hint.pointer


def test_partial_credit_and_result_api():
    result = checks.check_tt_linear_forward(
        fwd_transposed_when_square
    )  # only the square case fails
    assert (result.n_passed, result.n_total) == (5, 6) and result.score == pytest.approx(5 / 6)
    assert not result.passed and not bool(result)
    assert all(isinstance(m, str) for m in result.messages) and len(result.messages) == 6
    assert str(result).splitlines()[0] == "FAIL  tt_linear_forward: 5/6 checks passed"
    html = result._repr_html_()
    assert html.startswith("<div") and "5/6 checks passed" in html and "transpose left over" in html
    with pytest.raises(checks.CheckFailed):
        result.raise_if_failed()


def test_not_implemented_in_a_helper_names_the_helper():
    def helper(x):
        raise NotImplementedError

    def tt_svd(x, max_rank):
        return helper(x)

    result = checks.check_tt_svd(tt_svd)
    assert result.messages[0].startswith("Not implemented yet: fill in the body of helper")


def test_a_non_function_gets_a_friendly_message():
    result = checks.check_rep_merge(torch.zeros(3))
    assert not result.passed and "Pass your function itself, without calling it" in str(result)


def test_checks_leave_the_random_state_alone():
    _, merge = solution("ex4_rep_merge")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.check_rep_merge(merge)
    checks.check_tt_linear_forward(solution("ex2_tt_linear_forward")[1])
    assert torch.equal(torch.rand(3), expected)


def test_exercise_registry():
    assert {name: fn for name, fn in checks.EXERCISES.items()} == {
        spec[1]: spec[2] for spec in EXERCISES.values()
    }
    assert [ex.stem for ex in checks.COURSE] == list(EXERCISES)
    assert [ex.solution for ex in checks.COURSE] == [f"{spec[0]}.py" for spec in EXERCISES.values()]


# ---------------------------------------------------------------------------------------------
# The notebooks: clean on disk, runnable top to bottom.
# ---------------------------------------------------------------------------------------------


def all_exercise_notebooks() -> list[Path]:
    return sorted(EXERCISE_DIR.rglob("*.ipynb"))


def test_every_exercise_has_a_starter_and_a_solution_kept_apart():
    assert sorted(p.stem for p in EXERCISE_DIR.glob("ex*.ipynb")) == sorted(EXERCISES)
    for module_name, *_ in EXERCISES.values():
        assert (SOLUTION_DIR / f"{module_name}.py").is_file()
    assert not (EXERCISE_DIR / "solutions").exists()  # solutions never sit beside the starters
    assert not list(EXERCISE_DIR.rglob("*solution*"))


@pytest.mark.parametrize("path", all_exercise_notebooks(), ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    raw = json.loads(path.read_text())
    assert raw["nbformat"] == 4
    nb = nbformat.reads(path.read_text(), as_version=4)
    nbformat.validate(nb)
    kernelspec = nb.metadata.get("kernelspec", {})
    assert kernelspec.get("name") == "python3" and kernelspec.get("language") == "python"
    assert kernelspec.get("display_name")
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a code cell has outputs"
            assert cell.execution_count is None, f"{path.name}: a code cell has an execution count"


@pytest.mark.parametrize("stem", EXERCISES)
def test_starter_notebook_structure(stem):
    nb = read_notebook(stem)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    first = code_cells[0].source
    assert "except ImportError" in first and "%pip install" in first
    assert not re.search(r"pip install[^\n]*torch", first), (
        "the setup cell must never (re)install torch"
    )
    assert nb.cells[0].cell_type == "markdown" and "Learning goals" in nb.cells[0].source
    assert "What you learned" in nb.cells[-1].source
    markdown = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "docs/method.md#" in markdown and "METHOD" + ".md" not in markdown  # the kit's own only
    (stub,) = tagged(nb, "stub")
    assert "# TODO" in stub.source and "raise NotImplementedError(" in stub.source
    assert f"def {EXERCISES[stem][1]}(" in stub.source
    (check_cell,) = tagged(nb, "check")
    assert f"lx.checks.{EXERCISES[stem][2].__name__}({EXERCISES[stem][1]})" in check_cell.source


def _execute_starters():
    """Run every starter notebook in one kernel: as committed (stub), then with the stub cell
    replaced by the reference solution. `%reset -f` separates the runs, so no run sees the names
    another defined. Returns ({(stem, variant): (check cell, explore cell)}, seconds)."""
    from nbclient import NotebookClient

    combined = nbformat.v4.new_notebook()
    combined.metadata = read_notebook("ex1_tt_svd").metadata
    where = {}
    for stem in EXERCISES:
        module_name = EXERCISES[stem][0]
        for variant in ("stub", "solution"):
            nb = read_notebook(stem)
            for cell in nb.cells:
                if variant == "solution" and "stub" in cell.metadata.get("tags", []):
                    cell.source = (SOLUTION_DIR / f"{module_name}.py").read_text()
            start = len(combined.cells)
            combined.cells += nb.cells
            check_at = next(
                i for i, c in enumerate(nb.cells) if "check" in c.metadata.get("tags", [])
            )
            explore_at = next(
                i for i, c in enumerate(nb.cells) if "explore" in c.metadata.get("tags", [])
            )
            where[stem, variant] = (start + check_at, start + explore_at)
            combined.cells.append(nbformat.v4.new_code_cell("%reset -f"))
    began = time.perf_counter()
    NotebookClient(
        combined,
        kernel_name="python3",
        timeout=300,
        allow_errors=False,
        resources={"metadata": {"path": str(EXERCISE_DIR)}},
    ).execute()
    seconds = time.perf_counter() - began
    return {key: (combined.cells[c], combined.cells[e]) for key, (c, e) in where.items()}, seconds


def _text(cell) -> str:
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append("\n".join(out.traceback))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed():
    pytest.importorskip("nbclient")
    cells, seconds = _execute_starters()
    print(f"executed {len(EXERCISES)} starter notebooks twice in one kernel in {seconds:.1f} s")
    return cells


@pytest.mark.notebooks
@pytest.mark.parametrize("stem", EXERCISES)
def test_starter_notebook_runs_and_reports_not_implemented(executed, stem):
    check_cell, explore_cell = executed[stem, "stub"]
    fn_name, n = EXERCISES[stem][1], EXERCISES[stem][3]
    text = _text(check_cell)
    assert f"FAIL  {fn_name}: 0/{n} checks passed" in text
    assert f"Not implemented yet: fill in the body of {fn_name} (the cell marked # TODO)" in text
    html = next(
        o.data["text/html"] for o in check_cell.outputs if o.output_type == "execute_result"
    )
    assert "Not implemented yet" in html
    assert "Make the check above pass first" in _text(explore_cell)


@pytest.mark.notebooks
@pytest.mark.parametrize("stem", EXERCISES)
def test_starter_notebook_passes_with_the_solution(executed, stem):
    check_cell, explore_cell = executed[stem, "solution"]
    fn_name, n = EXERCISES[stem][1], EXERCISES[stem][3]
    text = _text(check_cell)
    assert f"PASS  {fn_name}: {n}/{n} checks passed" in text, text
    explored = _text(explore_cell)
    assert (
        "match" in explored
        and "differs" not in explored.lower()
        and "Make the check" not in explored
    )


@pytest.mark.notebooks
def test_in_a_notebook_the_time_limit_stops_an_endless_loop():
    """In a Jupyter kernel (cells run on the main thread) the limit interrupts `while True: pass`,
    so the check cell finishes and the kernel stays usable."""
    pytest.importorskip("nbclient")
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.metadata = read_notebook("ex1_tt_svd").metadata
    nb.cells = [
        nbformat.v4.new_code_cell("import loretta_explore as lx\nimport loretta_explore.checks"),
        nbformat.v4.new_code_cell("def tt_svd(x, max_rank):\n    while True:\n        pass"),
        nbformat.v4.new_code_cell(
            "result = lx.checks.check_tt_svd(tt_svd, time_limit=0.5)\nresult"
        ),
        nbformat.v4.new_code_cell("print('kernel alive', 1 + 1)"),
    ]
    NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=False).execute()
    text = _text(nb.cells[2])
    # the first case hits the limit; the other four are not run (the function would hang again)
    assert (
        "FAIL  tt_svd: 0/5 checks passed" in text and text.count("did not finish within 0.5 s") == 1
    )
    assert text.count("not run: an earlier case did not finish in time") == 4
    assert "kernel alive 2" in _text(nb.cells[3])
