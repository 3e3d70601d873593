"""Run every hostile input (tests/hostile_cases.py) and classify what happens: the verdict table.

Usage::

    nice -n 10 python tests/probe_inputs.py [--out FILE] [--jobs 2] [--timeout 10] [-k SUBSTRING]

Each case runs in a worker process with a time limit (10 s) and a memory cap (6 GiB of address
space, so an absurd allocation fails instead of swapping the machine). A worker imports
loretta_explore once (seconds) and then runs cases one after another; after a crash or a hang it
is replaced. Outcomes:

- clear: the expected error type, and its message names every word the case asks for;
- unclear: an error, but of another type, or its message lacks a word, or a result was expected;
- correct: a result, and the case's check holds;
- silent: a result where an error was expected, a wrong result, or the caller's object changed
  by a call that then failed;
- crash: the worker died (a signal or an abnormal exit);
- hang: the time limit passed.

Prints counts per class, per group of files and per entry point, and writes a JSON of per-case
outcomes (default tests/probe_latest.json).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUTCOMES = ("clear", "unclear", "correct", "silent", "crash", "hang")
MEMORY_CAP = 6 * 2**30
START_LIMIT = 300.0  # a worker's import and warm-up, on a busy two-core machine


# ------------------------------------------------------------------------------------------------
# The worker: imports once, then runs case ids read from stdin, one JSON line back per case.
# ------------------------------------------------------------------------------------------------
def worker() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # what cases print (tables, progress bars, warnings) goes nowhere
    os.dup2(devnull, 2)
    sys.path.insert(0, str(HERE))
    import warnings

    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(1)
    import hostile_cases

    hostile_cases.warm_up()
    channel.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        case_id = line.strip()
        if not case_id:
            continue
        result = hostile_cases.judge(hostile_cases.BY_ID[case_id])
        result["missing_public"] = sorted(hostile_cases.MISSING_PUBLIC)
        channel.write(json.dumps(result) + "\n")


# ------------------------------------------------------------------------------------------------
# The parent: a few workers, a shared queue of case ids, time limits, restarts.
# ------------------------------------------------------------------------------------------------
class Worker:
    def __init__(self, tmp: str):
        env = dict(
            os.environ,
            HOSTILE_TMP=tmp,  # the cases' temporary folders, removed by the parent at the end
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            OMP_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            TOKENIZERS_PARALLELISM="false",
            HF_HUB_OFFLINE="1",
            HF_DATASETS_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            MPLBACKEND="Agg",
        )
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            cwd=str(ROOT),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=env,
            start_new_session=True,
        )
        if self.read(START_LIMIT) is None:
            self.kill()
            raise RuntimeError("a worker did not start (import failed or took too long)")

    def read(self, timeout: float) -> dict | None:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else {"eof": True}

    def run(self, case_id: str, timeout: float) -> dict:
        start = time.perf_counter()
        try:
            self.proc.stdin.write(case_id + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return {"outcome": "crash", "detail": "the worker was gone before the case started"}
        got = self.read(timeout)
        seconds = round(time.perf_counter() - start, 3)
        if got is None:
            self.kill()
            return {
                "outcome": "hang",
                "detail": f"no answer within {timeout:g} s",
                "seconds": seconds,
            }
        if got.get("eof"):
            code = self.proc.wait(timeout=10)
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
            return {"outcome": "crash", "detail": f"the worker died: {how}", "seconds": seconds}
        return got

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()


def run_all(case_ids: list[str], jobs: int, timeout: float, progress=True) -> dict[str, dict]:
    todo: queue.Queue[str] = queue.Queue()
    for case_id in case_ids:
        todo.put(case_id)
    results: dict[str, dict] = {}
    lock = threading.Lock()
    tmp = tempfile.mkdtemp(prefix="probe_inputs_")

    def loop() -> None:
        current = Worker(tmp)
        try:
            while True:
                try:
                    case_id = todo.get_nowait()
                except queue.Empty:
                    return
                got = current.run(case_id, timeout)
                with lock:
                    results[case_id] = got
                    if progress:
                        print(
                            f"[{len(results):4d}/{len(case_ids)}] {got['outcome']:8s} {case_id}",
                            flush=True,
                        )
                if got["outcome"] in ("hang", "crash"):
                    current.kill()
                    current = Worker(tmp)
        finally:
            current.kill()

    threads = [threading.Thread(target=loop) for _ in range(max(1, min(jobs, len(case_ids))))]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def table(rows: dict[str, Counter], title: str) -> str:
    width = max(len(title), *(len(k) for k in rows)) + 2
    head = title.ljust(width) + "".join(o.rjust(9) for o in OUTCOMES) + "    total"
    lines = [head, "-" * len(head)]
    for key in sorted(rows):
        c = rows[key]
        lines.append(
            key.ljust(width)
            + "".join(str(c[o]).rjust(9) for o in OUTCOMES)
            + str(sum(c.values())).rjust(9)
        )
    return "\n".join(lines)


def report(records: list[dict]) -> str:
    total = Counter(r["outcome"] for r in records)
    by_group, by_entry = defaultdict(Counter), defaultdict(Counter)
    for r in records:
        by_group[r["group"]][r["outcome"]] += 1
        by_entry[r["entry"]][r["outcome"]] += 1
    good = total["clear"] + total["correct"]
    summary = ", ".join(f"{total[o]} {o}" for o in OUTCOMES)
    return "\n\n".join(
        [
            f"{len(records)} cases: {summary} ({good} as expected, {len(records) - good} not)",
            table({"all": total}, "outcome"),
            table(by_group, "group of files"),
            table(by_entry, "entry point"),
        ]
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", default=str(HERE / "probe_latest.json"), help="where to write per-case outcomes"
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per case (default 10)")
    parser.add_argument("-k", dest="only", default="", help="only case ids containing this text")
    parser.add_argument("--quiet", action="store_true", help="no line per case")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker()
        return 0
    sys.path.insert(0, str(HERE))
    import hostile_cases  # the table itself (ids, entry points, groups, expectations)

    cases = [c for c in hostile_cases.CASES if args.only in c.id]
    start = time.perf_counter()
    results = run_all([c.id for c in cases], args.jobs, args.timeout, progress=not args.quiet)
    missing = sorted({name for r in results.values() for name in r.get("missing_public", [])})
    records = []
    for case in cases:
        got = results[case.id]
        records.append(
            dict(
                id=case.id,
                entry=case.entry,
                group=case.group,
                outcome=got["outcome"],
                detail=got.get("detail", ""),
                expected=case.expect.describe(),
                seconds=got.get("seconds"),
                isolate=case.isolate,
            )
        )
    text = report(records)
    print("\n" + text)
    if missing:
        print(f"\nnames lx does not export (found in a submodule): {', '.join(missing)}")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    library = subprocess.run(
        ["git", "log", "-1", "--format=%h", "--", "loretta_explore"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    out = dict(
        commit=commit,
        library_commit=library,  # the last commit that changed the package itself
        date=datetime.datetime.now().isoformat(timespec="seconds"),
        timeout_s=args.timeout,
        jobs=args.jobs,
        wall_s=round(time.perf_counter() - start, 1),
        counts=dict(Counter(r["outcome"] for r in records)),
        missing_public=missing,
        table=text,
        cases=records,
    )
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
