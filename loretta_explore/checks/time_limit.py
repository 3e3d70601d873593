"""A time limit for one call of the student's function, so a hung answer fails its case.

Two ways to stop a call, chosen by where the check runs:

- **main thread on Linux/macOS** (a Jupyter kernel runs cells there, and so does the grader): a
  ``SIGALRM`` timer raises :class:`TimeLimitExceeded` inside the student's code. It stops a
  ``while True: pass`` and a ``time.sleep``. It cannot stop one long call into C code (a huge
  matrix product) before that call returns, nor code that catches every exception in a loop
  (a bare ``except:``); the kernel's Interrupt button, or the grader's per-process limit, ends
  those.
- **elsewhere** (Windows, or a check run from a worker thread): the call runs in a daemon thread;
  when the time is up the case fails and the check goes on. The thread is asked to stop with an
  asynchronous exception (stops pure-Python loops); a thread stuck in C code keeps running in the
  background until it ends.

Either way the check itself never stalls on a pure-Python loop. The hard guarantee for grading a
class is the grader's limit per notebook process (``loretta-explore grade``), which kills the
process.
"""

from __future__ import annotations

import ctypes
import signal
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["TimeLimitExceeded", "call_with_time_limit"]

T = TypeVar("T")


class TimeLimitExceeded(BaseException):
    """The student's call ran out of time.

    A BaseException, so that ``except Exception`` in the student's code does not swallow it.
    ``still_running`` is True when the call could not be stopped and runs on in a thread.
    """

    def __init__(self, seconds: float = 0.0, still_running: bool = False):
        super().__init__(f"did not finish within {seconds:g} s")
        self.seconds, self.still_running = seconds, still_running


def _can_use_alarm() -> bool:
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        return False
    if signal.getitimer(signal.ITIMER_REAL) != (0.0, 0.0):  # someone else's timer runs: leave it
        return False
    return signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None)


def _with_alarm(fn: Callable[[], T], seconds: float) -> T:
    state = {"done": False}

    def on_alarm(signum, frame):
        if not state["done"]:
            raise TimeLimitExceeded(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        value = fn()
        state["done"] = True
        return value
    finally:
        state["done"] = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _async_raise(thread: threading.Thread, exc_type: type[BaseException]) -> None:
    """Ask a thread to raise exc_type at its next Python instruction (CPython only)."""
    try:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type)
        )
    except (AttributeError, TypeError):  # pragma: no cover - not CPython
        pass


def _with_thread(fn: Callable[[], T], seconds: float) -> T:
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, name="loretta-check-case", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        _async_raise(thread, TimeLimitExceeded)
        thread.join(0.5)
        raise TimeLimitExceeded(seconds, still_running=thread.is_alive())
    if "error" in box:
        error = box["error"]
        if isinstance(error, TimeLimitExceeded):  # the async exception arrived just as it finished
            raise TimeLimitExceeded(seconds)
        raise error
    return box["value"]


def call_with_time_limit(fn: Callable[[], T], seconds: float | None) -> T:
    """``fn()``, or :class:`TimeLimitExceeded` after `seconds` (None or 0: no limit).

    Examples
    --------
    >>> call_with_time_limit(lambda: 2 + 2, 5.0)
    4
    """
    if not seconds:
        return fn()
    if seconds < 0:
        raise ValueError(
            f"time limit must be positive seconds or None, got {seconds!r}; e.g. time_limit=30"
        )
    return _with_alarm(fn, seconds) if _can_use_alarm() else _with_thread(fn, seconds)
