"""One submission, in its own process: run the student's cells, call the check, write the result.

The grader (grading.py) starts ``python -m loretta_explore.checks.run_submission`` once per
notebook and writes the job to its stdin as JSON: ``{"exercise": stem, "cells": [{"index",
"source"}], "time_limit": seconds, "result": path}``. This process

1. caps the size of files it may write (a runaway ``print`` loop cannot fill the disk),
2. imports the kit and the exercise's check and records the kit as it is (watch.py's baseline)
   BEFORE any student code runs, keeping its own references to what it calls later,
3. runs each cell with the per-call time limit (an error, a time-out or a ``sys.exit`` in a cell
   becomes a note and the next cell runs, like a notebook run with errors allowed),
4. calls the check on the student's function with the same time limit, and writes
   ``CheckResult.to_dict()`` (plus the notes) to the result path.

Why a plain subprocess rather than a Jupyter kernel: the grader decides exactly which code runs
(the student's cells, not the starter's check and explore cells, which the student could have
edited), the hard time limit kills one process group, and grading needs neither a kernel nor
ZeroMQ. A crash (a segfault through ctypes, ``os._exit``) ends this process without a result;
the grader reports it and scores 0.
"""

from __future__ import annotations

import json
import linecache
import os
import sys


def _limit_file_size(megabytes: int = 64) -> None:
    try:
        import resource

        cap = megabytes * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))
    except (ImportError, ValueError, OSError):  # pragma: no cover - not POSIX
        pass


def _missing(name: str):
    def missing(*args, **kwargs):
        raise NameError(
            f"the notebook defines no function named {name}; keep the starter's function name"
        )

    missing.__name__ = name
    return missing


def main() -> int:
    job = json.loads(sys.stdin.read())
    result_path, time_limit = job["result"], job.get("time_limit") or None
    _limit_file_size()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    from torch import nn

    torch.set_num_threads(1)
    import loretta_explore as lx
    import loretta_explore.checks as checks
    from loretta_explore.checks import watch
    from loretta_explore.checks.catalog import exercise_named
    from loretta_explore.checks.time_limit import TimeLimitExceeded, call_with_time_limit

    ex = exercise_named(job["exercise"])
    check = getattr(
        checks, ex.check
    )  # imports the exercise module and the parts of the kit it uses
    forbidden = sys.modules[check.__module__].FORBIDDEN
    watch.take_baseline()  # the kit as it is before any student code runs
    # our own references, taken before student code runs (it could rebind the modules' names)
    verify, write, dumps, replace, end = (
        watch.verify_baseline,
        open,
        json.dumps,
        os.replace,
        os._exit,
    )

    namespace: dict = {
        "__name__": "__main__",
        "__builtins__": __builtins__,
        "lx": lx,
        "torch": torch,
        "nn": nn,
    }
    notes: list[str] = []
    for cell in job["cells"]:
        where = f"cell {cell['index']}" if cell.get("index") is not None else "the file"
        notes += [f"{where}: {n}" for n in cell.get("notes", [])]
        if not cell["source"].strip():
            continue
        filename = f"<{where}>"
        linecache.cache[filename] = (
            len(cell["source"]),
            None,
            cell["source"].splitlines(True),
            filename,
        )
        try:
            code = compile(cell["source"], filename, "exec")
            call_with_time_limit(lambda code=code: exec(code, namespace), time_limit)
        except TimeLimitExceeded:
            notes.append(
                f"{where} did not finish within {time_limit:g} s; the grader stopped it and went on"
            )
        except SystemExit as exc:
            notes.append(
                f"{where} called sys.exit({exc.code!r}); the grader went on with the next cell"
            )
        except BaseException as exc:  # noqa: BLE001 - a student's cell may raise anything
            line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
            notes.append(
                f"{where} raised {type(exc).__name__}: {exc}" + (f" (line {line})" if line else "")
            )

    fn = namespace.get(ex.function)
    if not callable(fn):
        fn = _missing(ex.function)
    rebound = verify(forbidden)  # a cell that patched the kit or the checks: put back, score 0
    result = check(fn, time_limit=time_limit)
    if rebound:
        for item in result.items:
            item.tampered = True
        notes.append(
            f"your code changed {', '.join(rebound[:4])} before the check ran; the grader put it back "
            f"and scores the exercise 0"
        )
    result.notes[:0] = notes
    data = result.to_dict()
    with write(result_path + ".part", "w") as f:
        f.write(dumps(data))
    replace(result_path + ".part", result_path)
    sys.stdout.flush()
    sys.stderr.flush()
    end(0)  # no interpreter shutdown: a thread the student left running cannot hold the process


if __name__ == "__main__":
    sys.exit(main())
