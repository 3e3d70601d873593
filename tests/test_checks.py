"""Exercises: the reference solutions pass `loretta_explore.checks`, the starter notebooks' stubs fail
with "Not implemented yet", typical wrong answers fail with their specific hint, and the starter
notebooks run top to bottom (as they are, and with the stub replaced by the solution)."""

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

ROOT = Path(__file__).resolve().parents[1]
EXERCISE_DIR = ROOT / "notebooks" / "exercises"
SOLUTION_DIR = EXERCISE_DIR / "solutions"

# notebook stem: (solution module, function name, check function, number of cases)
EXERCISES = {
    "ex1_tt_svd": ("ex1_solution", "tt_svd", checks.check_tt_svd, 5),
    "ex2_tt_linear_forward": ("ex2_solution", "tt_linear_forward", checks.check_tt_linear_forward, 6),
    "ex3_budget_formula": ("ex3_solution", "rep_budget", checks.check_budget_formula, 6),
    "ex4_rep_merge": ("ex4_solution", "merge_rep", checks.check_rep_merge, 4),
}


def solution(stem: str):
    """The reference implementation of one exercise (a plain module under solutions/)."""
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
    assert text.startswith(f"✅ {EXERCISES[stem][1]}: {n}/{n} checks passed") and "❌" not in text
    assert all(m.startswith("✅") and m.endswith("match") for m in result.messages)  # expected vs measured
    assert check(fn, raise_on_fail=True) is not None


@pytest.mark.parametrize("stem", EXERCISES)
def test_notebook_stub_fails_with_not_implemented(stem):
    stub = stub_from_notebook(stem)
    fn_name, check, n = EXERCISES[stem][1], EXERCISES[stem][2], EXERCISES[stem][3]
    result = check(stub)  # never raises
    assert not result.passed and result.score == 0.0 and result.n_total == n
    expected = f"Not implemented yet: fill in the body of {fn_name} (the cell marked # TODO)"
    assert result.messages[0].startswith(expected), result.messages
    assert str(result).startswith(f"❌ {fn_name}: 0/{n} checks passed")
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
    return s.rep_budget(model, r) - (2 * m["layers"] + 1) * m["hidden"] * (2 if m["family"] == "bert" else 1)


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
    cores = lambda tt: m["layers"] * sum(tt(s.SHAPES[(i, b)]) + tt(s.SHAPES[(b, o)]) for i, o in m["targets"])
    return s.rep_budget(model, r) - cores(lambda shape: s.tt_params(shape, r)) + cores(wrong)


def budget_one_layer(model, r):
    s = _rep_solution()
    m, b = s.MODELS[model], s.MODELS[model]["bottleneck"]
    per_layer = sum(s.tt_params(s.SHAPES[(i, b)], r) + s.tt_params(s.SHAPES[(b, o)], r) for i, o in m["targets"])
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
    return layer.base.weight + (layer.alpha / rank) * (layer.A.dense_matrix() @ layer.B.dense_matrix()).T


def merge_not_transposed(layer):
    delta = layer.A.dense_matrix() @ layer.B.dense_matrix()
    return layer.base.weight + layer.scale * (delta if delta.shape == layer.base.weight.shape else delta.T)


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
    (checks.check_tt_svd, svd_smallest, "did you keep the LARGEST singular values?"),
    (checks.check_tt_svd, svd_drops_s, "it looks like the singular values were dropped"),
    (checks.check_tt_svd, svd_broken_chain, "but core 0 ends with rank 3: neighbouring ranks must match"),
    (checks.check_tt_svd, svd_no_truncation, "every internal rank must be <= max_rank"),
    (checks.check_tt_svd, svd_modes_reversed, "your cores reconstruct a tensor of shape (5, 4, 3), expected (3, 4, 5)"),
    (checks.check_tt_svd, svd_crashes, "your svd_crashes raised RuntimeError"),
    (checks.check_tt_svd, svd_calls_library, "calls lx.tt_svd: the exercise is to write it yourself"),
    (checks.check_tt_linear_forward, fwd_out_in, "nn.Linear's (out, in) orientation"),
    (checks.check_tt_linear_forward, fwd_transposed_when_square, "your y equals x @ W.T"),
    (checks.check_tt_linear_forward, fwd_column_major, "you flattened column-major"),
    (checks.check_tt_linear_forward, fwd_detached, "your y is not connected to the cores"),
    (checks.check_tt_linear_forward, fwd_flattens_batch, "expected (2, 3, 10) = x.shape[:-1] + (out_features,)"),
    (checks.check_budget_formula, budget_no_norms, "(off by -38,400): did you forget the norm parameters?"),
    (checks.check_budget_formula, budget_no_pooler, "did you forget the tensorized pooler?"),
    (checks.check_budget_formula, budget_with_classifier, "LoRETTA_rep keeps the classifier frozen"),
    (checks.check_budget_formula, budget_boundary_ranks, "the boundary ranks are r_0 = r_d = 1"),
    (checks.check_budget_formula, budget_one_layer, "you counted one layer only"),
    (checks.check_budget_formula, budget_float, "a parameter count is a whole number"),
    (checks.check_budget_formula, budget_calls_library, "calls lx.count_trainable"),
    (checks.check_rep_merge, merge_no_scale, "you forgot the scale: the update is s * (A_W @ B_W).T with s = alpha / bottleneck"),
    (checks.check_rep_merge, merge_scale_by_tt_rank, "you divided alpha by the TT rank"),
    (checks.check_rep_merge, merge_not_transposed, "you added the update without transposing it"),
    (checks.check_rep_merge, merge_only_update, "you returned only the update"),
    (checks.check_rep_merge, merge_in_out, "stores its weight as (out, in) = (6, 12)"),
    (checks.check_rep_merge, merge_in_place, "changed rep_layer's frozen weight in place"),
    (checks.check_rep_merge, merge_calls_library, "calls rep_layer.merge()"),
]


@pytest.mark.parametrize("check, wrong, hint", MISTAKES, ids=[m[1].__name__ for m in MISTAKES])
def test_typical_mistake_gets_its_hint(check, wrong, hint):
    result = check(wrong)  # never raises
    assert not result.passed and result.score < 1
    failing = [m for m in result.messages if m.startswith("❌")]
    assert any(hint in m for m in failing), "\n".join(result.messages)
    assert not result.not_implemented and "Not implemented" not in str(result)


def test_student_exception_shows_the_student_line():
    result = checks.check_tt_svd(svd_crashes)
    message = next(m for m in result.messages if "raised RuntimeError" in m)
    assert "in svd_crashes: `unfolding = x.reshape(7, -1)  # a typo'd unfolding`" in message
    assert "test_checks.py" in message and "line " in message


def test_partial_credit_and_result_api():
    result = checks.check_tt_linear_forward(fwd_transposed_when_square)  # only the square case fails
    assert (result.n_passed, result.n_total) == (5, 6) and result.score == pytest.approx(5 / 6)
    assert not result.passed and not bool(result)
    assert all(isinstance(m, str) for m in result.messages) and len(result.messages) == 6
    assert str(result).splitlines()[0] == "❌ tt_linear_forward: 5/6 checks passed"
    html = result._repr_html_()
    assert html.startswith("<div") and "5/6 checks passed" in html and "x @ W.T" in html
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
    assert not result.passed and "pass it without calling it" in result.messages[0]


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
        spec[1]: spec[2] for spec in EXERCISES.values()}


# ---------------------------------------------------------------------------------------------
# The notebooks: clean on disk, runnable top to bottom.
# ---------------------------------------------------------------------------------------------


def all_exercise_notebooks() -> list[Path]:
    return sorted(EXERCISE_DIR.rglob("*.ipynb"))


def test_every_exercise_has_a_starter_and_a_solution():
    assert sorted(p.stem for p in EXERCISE_DIR.glob("ex*.ipynb")) == sorted(EXERCISES)
    for module_name, *_ in EXERCISES.values():
        assert (SOLUTION_DIR / f"{module_name}.py").is_file()


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
    assert not re.search(r"pip install[^\n]*torch", first), "the setup cell must never (re)install torch"
    assert nb.cells[0].cell_type == "markdown" and "Learning goals" in nb.cells[0].source
    assert "What you learned" in nb.cells[-1].source
    assert "METHOD.md section" in "".join(c.source for c in nb.cells if c.cell_type == "markdown")
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
            check_at = next(i for i, c in enumerate(nb.cells) if "check" in c.metadata.get("tags", []))
            explore_at = next(i for i, c in enumerate(nb.cells) if "explore" in c.metadata.get("tags", []))
            where[stem, variant] = (start + check_at, start + explore_at)
            combined.cells.append(nbformat.v4.new_code_cell("%reset -f"))
    began = time.perf_counter()
    NotebookClient(combined, kernel_name="python3", timeout=300, allow_errors=False,
                   resources={"metadata": {"path": str(EXERCISE_DIR)}}).execute()
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
    assert f"❌ {fn_name}: 0/{n} checks passed" in text
    assert f"Not implemented yet: fill in the body of {fn_name} (the cell marked # TODO)" in text
    html = next(o.data["text/html"] for o in check_cell.outputs if o.output_type == "execute_result")
    assert "Not implemented yet" in html
    assert "Make the check above pass first" in _text(explore_cell)


@pytest.mark.notebooks
@pytest.mark.parametrize("stem", EXERCISES)
def test_starter_notebook_passes_with_the_solution(executed, stem):
    check_cell, explore_cell = executed[stem, "solution"]
    fn_name, n = EXERCISES[stem][1], EXERCISES[stem][3]
    text = _text(check_cell)
    assert f"✅ {fn_name}: {n}/{n} checks passed" in text, text
    explored = _text(explore_cell)
    assert "match" in explored and "differs" not in explored.lower() and "Make the check" not in explored
