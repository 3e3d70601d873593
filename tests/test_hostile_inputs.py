"""Every hostile input of tests/hostile_cases.py as a test: a clear error that names the problem, or
a correct result, and nothing of the caller's changed by a call that fails.

Cases that fail on the current code are in :data:`KNOWN_FAILING` and run as strict xfails, so the
suite passes today and a fix that makes one pass turns it into an XPASS failure: then remove its id
from the set. Cases marked ``isolate`` (they may hang, crash or try to allocate absurd memory) run
in a forked child with a 5 s limit and an address-space cap; the others in this process under
pytest-timeout's 5 s signal timeout. On a heavily loaded machine, HOSTILE_LIMIT_S=10 raises both.
``python tests/probe_inputs.py`` gives the same verdicts as a table.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import time

import pytest
import torch
from hostile_cases import CASES, GOOD, judge, warm_up

LIMIT_S = float(os.environ.get("HOSTILE_LIMIT_S", "5"))  # raise it on a heavily loaded machine
EXTRA_MEMORY = 4 * 2**30  # what an isolated case may add to this process's address space

#: Cases that fail today (see the probe's JSON for what happens now).
KNOWN_FAILING: set[str] = (
    set()
)  # every case passes; list an id here only while its fix is under way


def _address_space() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def in_child(case, limit: float = LIMIT_S) -> dict:
    """Run `case` in a forked child: its verdict, or "hang" past `limit`, or "crash" if it died."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: judge, send the verdict, leave without running any cleanup
        code = 0
        try:
            os.close(read_end)
            torch.set_num_threads(1)  # OpenMP's pool does not survive a fork; one thread needs none
            cap = _address_space() + EXTRA_MEMORY
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            data = json.dumps(judge(case)).encode()
            while data:
                data = data[os.write(write_end, data) :]
        except BaseException:  # noqa: BLE001 (anything here is reported as a crash by the parent)
            code = 70
        finally:
            os._exit(code)
    os.close(write_end)
    chunks, deadline, finished = [], time.monotonic() + limit, False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                finished = True
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
    if not finished:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return dict(
            outcome="hang", detail=f"no answer within {limit:g} s", expected=case.expect.describe()
        )
    _, status = os.waitpid(pid, 0)
    if chunks:
        return json.loads(b"".join(chunks))
    how = (
        f"killed by signal {os.WTERMSIG(status)}"
        if os.WIFSIGNALED(status)
        else f"exit {os.WEXITSTATUS(status)}"
    )
    return dict(outcome="crash", detail=f"the child died: {how}", expected=case.expect.describe())


@pytest.fixture(scope="module", autouse=True)
def _warm():
    warm_up()  # lazy imports (model classes, PEFT, widgets) once, outside any case's time limit
    threads = torch.get_num_threads()
    torch.set_num_threads(
        1
    )  # tiny tensors: one thread is fastest, and the steadiest on a busy machine
    yield
    torch.set_num_threads(threads)


def _param(case):
    marks = [
        pytest.mark.timeout(
            3 * LIMIT_S if case.isolate else LIMIT_S, method="signal", func_only=True
        )
    ]
    if case.id in KNOWN_FAILING:
        marks.append(
            pytest.mark.xfail(
                strict=True,
                reason=f"known failure: fixed? remove {case.id!r} from "
                "KNOWN_FAILING in tests/test_hostile_inputs.py",
            )
        )
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_hostile_input(case):
    verdict = in_child(case) if case.isolate else judge(case)
    assert verdict["outcome"] in GOOD, (
        f"{case.entry}: {verdict['outcome']} -- {verdict['detail']}\n"
        f"  expected: {verdict['expected']}"
    )


def test_known_failing_names_real_cases():
    unknown = KNOWN_FAILING - {c.id for c in CASES}
    assert not unknown, f"KNOWN_FAILING names no case: {sorted(unknown)}"


def test_table_covers_every_public_entry_point():
    entries = {c.entry for c in CASES}
    wanted = {
        "factorize",
        "suggest_shape",
        "resolve_shape",
        "tt_svd",
        "TensorTrain",
        "tt_round",
        "tt_matrix",
        "ranks_for_budget",
        "TTLinear",
        "TTAdapter",
        "LorettaRepLinear",
        "LorettaConfig",
        "get_loretta_model",
        "LorettaModel",
        "from_pretrained",
        "count_trainable",
        "budget_table",
        "prepare",
        "load_task",
        "make_loader",
        "train",
        "cli",
        "widgets.rank_explorer",
        "widgets.shape_explorer",
        "widgets.budget_explorer",
        "checks.check_tt_svd",
        "checks.check_tt_linear_forward",
        "checks.check_budget_formula",
        "checks.check_rep_merge",
    }
    assert wanted <= entries, f"no case for {sorted(wanted - entries)}"
    assert len(CASES) >= 200
