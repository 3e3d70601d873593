"""The forbidden-call watch cannot be switched off, and the time limit stops a hung answer.

Each trick below is an answer to exercise 1 that calls the library's ``tt_svd`` (the reference)
while trying to hide it: the check must fail it (score < 1) and name the call or the tampering,
and the kit must be left exactly as it was (the next honest answer passes).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import time
import types
from pathlib import Path

import pytest
import torch

import loretta_explore as lx
import loretta_explore.tt
from loretta_explore import checks
from loretta_explore.checks import harness, watch
from loretta_explore.checks.time_limit import TimeLimitExceeded, call_with_time_limit

ROOT = Path(__file__).resolve().parents[1]


def _solution(number: int):
    ex = checks.COURSE[number - 1]
    spec = importlib.util.spec_from_file_location(
        f"sol{number}", ROOT / "instructor" / "solutions" / ex.solution
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, ex.function)


@pytest.fixture(autouse=True)
def kit_is_left_intact():
    """After every trick: the kit's functions are the originals and an honest answer passes."""
    original, code = loretta_explore.tt.tt_svd, loretta_explore.tt.tt_svd.__code__
    yield
    assert loretta_explore.tt.tt_svd is original and original.__code__ is code
    assert lx.tt_svd is original and sys.getprofile() is None
    assert not watch._ACTIVE and not watch._OPEN
    assert torch._C._len_torch_function_stack() == 0
    assert checks.check_tt_svd(_solution(1)).passed


# ---------------------------------------------------------------------------------------------
# Tricks that call lx.tt_svd while hiding it.
# ---------------------------------------------------------------------------------------------

_stashed = lx.tt_svd  # taken before any check runs, as a notebook cell would
_code_copy = types.FunctionType(
    lx.tt_svd.__code__, vars(loretta_explore.tt), "copy", lx.tt_svd.__defaults__
)


def setprofile_trick(x, max_rank):
    sys.setprofile(None)
    return lx.tt_svd(x, max_rank=max_rank).cores


def setprofile_and_restore(x, max_rank):
    hook = sys.getprofile()
    sys.setprofile(None)
    cores = lx.tt_svd(x, max_rank=max_rank).cores
    sys.setprofile(hook)
    return cores


def via_submodule(x, max_rank):
    return loretta_explore.tt.tt_svd(x, max_rank=max_rank).cores


def via_stashed_reference(x, max_rank):
    return _stashed(x, max_rank=max_rank).cores


def via_wrapped(x, max_rank):
    fn = lx.tt_svd
    while hasattr(fn, "__wrapped__"):
        fn = fn.__wrapped__
    return fn(x, max_rank=max_rank).cores


def via_code_copy_at_call(x, max_rank):
    fn = lx.tt_svd
    copy = types.FunctionType(fn.__code__, fn.__globals__, "copy", fn.__defaults__, fn.__closure__)
    return copy(x, max_rank=max_rank).cores


def via_code_copy_made_before(x, max_rank):
    return _code_copy(x, max_rank).cores


def code_copy_and_setprofile(x, max_rank):
    sys.setprofile(None)
    return _code_copy(x, max_rank).cores


def restores_the_code(x, max_rank):
    _stashed.__code__ = _code_copy.__code__  # put the original code back behind the watch's back
    return _stashed(x, max_rank).cores


def rebinds_the_module_attribute(x, max_rank):
    loretta_explore.tt.tt_svd = _code_copy  # a fresh function the proxies do not know
    return loretta_explore.tt.tt_svd(x, max_rank).cores


def patches_the_reference(x, max_rank):
    """Makes the check's reference useless, so any answer would be within its error."""
    from loretta_explore.checks import ex1_tt_svd

    ex1_tt_svd.tt_svd = lambda t, max_rank: lx.TensorTrain(
        [t.reshape(1, *t.shape[:1], -1)[..., :1]]
    )
    return [x.reshape(1, x.shape[0], -1)[..., :1]]


def patches_the_harness(x, max_rank):
    harness.Student.__call__ = lambda self, *args: None
    harness.rel_error = lambda a, b: 0.0
    return [torch.zeros(1, n, 1, dtype=x.dtype) for n in x.shape]


def patches_torch(x, max_rank):
    torch.linalg.vector_norm = lambda *args, **kwargs: torch.tensor(0.0)
    return [torch.zeros(1, n, 1, dtype=x.dtype) for n in x.shape]


def reloads_the_module(x, max_rank):
    module = importlib.reload(loretta_explore.tt)
    return module.tt_svd(x, max_rank).cores


def clears_the_watch_records(x, max_rank):
    watch._ACTIVE.clear()
    return _stashed(x, max_rank).cores


def from_a_thread(x, max_rank):
    box = {}
    thread = threading.Thread(
        target=lambda: box.setdefault("cores", lx.tt_svd(x, max_rank=max_rank).cores)
    )
    thread.start()
    thread.join()
    return box["cores"]


def leaves_a_torch_function_mode(x, max_rank):
    class Silent(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    Silent().__enter__()
    return [torch.zeros(1, n, 1, dtype=x.dtype) for n in x.shape]


def returns_a_tensor_subclass(x, max_rank):
    class Liar(torch.Tensor):
        pass

    return [torch.zeros(1, n, 1, dtype=x.dtype).as_subclass(Liar) for n in x.shape]


CALLS = [
    setprofile_trick,
    setprofile_and_restore,
    via_submodule,
    via_stashed_reference,
    via_wrapped,
    via_code_copy_at_call,
    via_code_copy_made_before,
    code_copy_and_setprofile,
    from_a_thread,
]
TAMPERING = [
    setprofile_trick,
    setprofile_and_restore,
    code_copy_and_setprofile,
    restores_the_code,
    rebinds_the_module_attribute,
    patches_the_reference,
    patches_the_harness,
    patches_torch,
    reloads_the_module,
    clears_the_watch_records,
    leaves_a_torch_function_mode,
]


@pytest.mark.parametrize("trick", CALLS, ids=lambda f: f.__name__)
def test_a_hidden_call_of_the_reference_is_seen(trick):
    result = checks.check_tt_svd(trick)
    assert not result.passed and result.score == 0.0, str(result)
    text = str(result)
    assert "lx.tt_svd" in text or "changed the checking environment" in text, text


@pytest.mark.parametrize("trick", TAMPERING, ids=lambda f: f.__name__)
def test_tampering_is_seen_put_back_and_scores_zero(trick):
    original_norm = torch.linalg.vector_norm
    student_call = harness.Student.__call__
    try:
        result = checks.check_tt_svd(trick)
    finally:  # the watch must already have put these back; never leave the test session broken
        torch.linalg.vector_norm = original_norm
        harness.Student.__call__ = student_call
    assert result.tampered and result.score == 0.0 and not result.passed, str(result)
    assert str(result).startswith(
        "FAIL  tt_svd: score 0: your code switched off or worked around the check"
    )
    assert torch.linalg.vector_norm is original_norm and harness.Student.__call__ is student_call


def test_a_tensor_subclass_answer_is_refused():
    result = checks.check_tt_svd(returns_a_tensor_subclass)
    assert result.score == 0.0 and "a subclass of torch.Tensor" in str(result)


def test_a_patch_made_in_a_cell_before_the_check_is_put_back():
    from loretta_explore.checks import ex1_tt_svd

    real = ex1_tt_svd.rel_error
    ex1_tt_svd.rel_error = lambda a, b: 0.0  # a notebook cell run before the check
    try:
        result = checks.check_tt_svd(lambda x, max_rank: [torch.zeros(1, n, 1) for n in x.shape])
    finally:
        ex1_tt_svd.rel_error = real
    assert result.tampered and result.score == 0.0
    assert "loretta_explore.checks.ex1_tt_svd.rel_error" in str(result)


def test_the_watch_never_displaces_a_running_profiler():
    seen = []

    def profiler(frame, event, arg):
        seen.append(event)

    sys.setprofile(profiler)
    try:
        result = checks.check_tt_svd(via_stashed_reference)  # the code swap still sees it
    finally:
        sys.setprofile(None)
    assert seen and "lx.tt_svd" in str(result) and result.score == 0.0


def test_other_exercises_watch_their_reference():
    result = checks.check_budget_formula(
        lambda m, r: lx.count_trainable(m, "loretta_rep", tt_rank=r)
    )
    assert "calls lx.count_trainable" in str(result) and result.score == 0.0
    result = checks.check_rep_merge(lambda layer: layer.base.weight + layer.get_delta_weight().T)
    assert "calls rep_layer.get_delta_weight()" in str(result) and result.score == 0.0
    result = checks.check_tt_linear_forward(
        lambda x, cores, i, o: x @ lx.TensorTrain(cores).full().reshape(i, o)
    )
    assert "calls TensorTrain.full" in str(result) and result.score == 0.0


# ---------------------------------------------------------------------------------------------
# The time limit.
# ---------------------------------------------------------------------------------------------


def hangs(x, max_rank):
    while True:
        pass


def hangs_and_swallows_exceptions(x, max_rank):
    while True:
        try:
            time.sleep(0.01)
        except Exception:  # the time limit is a BaseException: this does not catch it
            pass


@pytest.mark.parametrize("fn", [hangs, hangs_and_swallows_exceptions], ids=lambda f: f.__name__)
def test_a_hung_answer_fails_every_case_and_the_check_returns(fn):
    began = time.perf_counter()
    result = checks.check_tt_svd(fn, time_limit=0.3)
    assert not result.passed and result.n_passed == 0 and result.n_total == 5
    first, *rest = result.items  # the first case hits the limit; the rest are not run
    assert "did not finish within 0.3 s" in first.message, str(result)
    assert all("not run: an earlier case did not finish in time" in i.message for i in rest)
    assert (
        "Does every loop in" in str(result) and str(result).count("Does every loop in") == 1
    )  # once
    assert time.perf_counter() - began < 60  # it returned at all (generous: a shared machine)


def test_time_limit_from_a_worker_thread_stops_a_python_loop():
    box = {}

    def run():
        try:
            call_with_time_limit(lambda: hangs(None, None), 0.3)
        except TimeLimitExceeded as exc:
            box["exc"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive() and isinstance(box.get("exc"), TimeLimitExceeded)
    assert box["exc"].still_running is False  # the loop was stopped, not left running
    assert not [t for t in threading.enumerate() if t.name == "loretta-check-case"]


def test_time_limit_passes_values_and_errors_through():
    assert call_with_time_limit(lambda: 7, 5) == 7
    assert call_with_time_limit(lambda: 7, None) == 7
    with pytest.raises(ZeroDivisionError):
        call_with_time_limit(lambda: 1 / 0, 5)
    with pytest.raises(ValueError, match="time_limit=30"):
        call_with_time_limit(lambda: 7, -1)


def test_sys_exit_in_an_answer_fails_its_cases():
    result = checks.check_tt_svd(lambda x, max_rank: sys.exit("giving up"))
    assert result.score == 0.0 and "called sys.exit('giving up')" in str(result)
