"""The forbidden-call watch: notice when an answer calls the library's own implementation.

An exercise asks the student to write, say, TT-SVD; calling ``lx.tt_svd`` inside the answer
would pass every case without learning anything. A watch built on ``sys.setprofile`` alone can be
switched off by the answer (``sys.setprofile(None)``), so this one does not depend on any single
hook. While the student's function runs (a :class:`Window`):

1. **proxies**: every place in the kit's modules that holds a forbidden function
   (``loretta_explore.tt_svd``, ``loretta_explore.tt.tt_svd``, the exercise module's own
   reference, a class attribute like ``TTLinear.forward``) holds a counting proxy instead;
2. **code swap**: the original function object's ``__code__`` is swapped for a counting
   trampoline, so a reference taken earlier (``from loretta_explore import tt_svd``), the proxy's
   ``__wrapped__`` and ``types.FunctionType(f.__code__, ...)`` copies made during the call count too;
3. **profile hook**: ``sys.setprofile`` counts entries into the original code objects (a copy of
   the code made before the call); switching it off is itself noticed (the hook sees the call to
   ``sys.setprofile``, and checks after the call that it is still installed);
4. **tripwire**: after the call, the proxies and the swapped code must still be in place, and
   nothing in the kit's modules, its classes, ``torch``, ``torch.linalg``, ``torch.Tensor`` or
   ``builtins`` may have been rebound (the checking code included); what was changed is put back.

A forbidden call fails the case; tampering (3, 4) fails it and zeroes the exercise. Before a check
starts, :func:`verify_baseline` also puts back kit functions rebound since they were first seen
(a notebook cell that patched the reference, say). This stops the tricks we know of from plain
Python; it is not a sandbox: code in the same process can in principle forge anything, so the
grader also scans the submitted source for these tricks (static_check.py).
"""

from __future__ import annotations

import builtins
import functools
import math
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .time_limit import TimeLimitExceeded

__all__ = ["Forbidden", "Window", "WatchReport", "take_baseline", "verify_baseline"]

_KIT = "loretta_explore"


@dataclass(frozen=True, eq=False)
class Forbidden:
    """A library function the answer must not call: where it is defined and how to name it.

    ``original`` and ``code`` are captured when the exercise module is imported, so a later
    rebinding of ``owner.name`` cannot hide the real function.
    """

    owner: Any  # the module or class that defines it
    name: str
    label: str  # what the student is told, e.g. "lx.tt_svd"
    original: Callable = field(init=False)
    code: types.CodeType = field(init=False)

    def __post_init__(self):
        fn = vars(self.owner)[self.name]
        object.__setattr__(self, "original", fn)
        object.__setattr__(self, "code", fn.__code__)


@dataclass
class WatchReport:
    """What a window saw: forbidden functions entered, and what was switched off or rebound."""

    used: list[str] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# The code swap: a trampoline with the original's name that reports back here.
# ---------------------------------------------------------------------------------------------

_ACTIVE: dict[int, tuple[Window, str]] = {}  # id(original function) -> (open window, label)
_CLONES: dict[int, types.FunctionType] = {}  # id(original function) -> a copy running the real code


def _clone(fn: types.FunctionType, code: types.CodeType) -> types.FunctionType:
    copy = types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__, copy.__qualname__, copy.__doc__ = (
        fn.__kwdefaults__,
        fn.__qualname__,
        fn.__doc__,
    )
    copy.__module__ = fn.__module__
    return copy


def _enter(key: int, args: tuple, kwargs: dict):
    """Called by a trampoline (a swapped __code__): count the call, run the real code."""
    active = _ACTIVE.get(key)
    if active is not None:
        active[0].report.used.append(active[1])
    return _CLONES[key](*args, **kwargs)


@functools.cache
def _trampoline(key: int, name: str, qualname: str, filename: str) -> types.CodeType:
    # No closure and no globals of ours: it runs with the library module's globals.
    source = (
        f"def {name}(*args, **kwargs):\n"
        f"    import sys\n"
        f"    return sys.modules[{__name__!r}]._enter({key}, args, kwargs)\n"
    )
    namespace: dict = {}
    exec(compile(source, filename, "exec"), namespace)
    code = namespace[name].__code__
    try:
        return code.replace(co_qualname=qualname)
    except TypeError:  # pragma: no cover - Python 3.10 has no co_qualname
        return code


def _proxy(window: Window, f: Forbidden, clone: Callable) -> Callable:
    @functools.wraps(f.original)
    def proxy(*args, **kwargs):
        window.report.used.append(f.label)
        return clone(*args, **kwargs)

    return proxy


# ---------------------------------------------------------------------------------------------
# Snapshots: which namespaces may not change while the student's code runs.
# ---------------------------------------------------------------------------------------------

_IGNORED = {"_", "__", "___", "__warningregistry__", "_i", "_ii", "_iii"}


_KIT_CACHE: list = [-1, []]  # [len(sys.modules) when listed, the kit's modules]


def _kit_modules() -> list[types.ModuleType]:
    """The kit's modules (listed again whenever sys.modules grows or shrinks)."""
    if _KIT_CACHE[0] != len(sys.modules):
        _KIT_CACHE[1] = [
            m
            for name, m in list(sys.modules.items())
            if (name == _KIT or name.startswith(_KIT + ".")) and isinstance(m, types.ModuleType)
        ]
        _KIT_CACHE[0] = len(sys.modules)
    return list(_KIT_CACHE[1])


def _namespaces() -> list[tuple[str, Any]]:
    """(label, object) of every namespace the tripwire watches."""
    import torch

    out: list[tuple[str, Any]] = [
        ("builtins", builtins),
        ("math", math),
        ("torch", torch),
        ("torch.linalg", torch.linalg),
        ("torch.Tensor", torch.Tensor),
        ("torch.nn.Module", torch.nn.Module),
    ]
    seen = {id(obj) for _, obj in out}
    for module in _kit_modules():
        if id(module) not in seen:
            out.append((module.__name__, module))
            seen.add(id(module))
        for value in list(vars(module).values()):
            if (
                isinstance(value, type)
                and getattr(value, "__module__", "").startswith(_KIT)
                and id(value) not in seen
            ):
                out.append((f"{value.__module__}.{value.__qualname__}", value))
                seen.add(id(value))
    return out


#: the kinds of value the tripwire watches: code and types, not data (a module's cache may change)
_CODE_LIKE = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
    types.ClassMethodDescriptorType,
    type,
    types.ModuleType,
    property,
    staticmethod,
    classmethod,
    functools.partial,
)


def _entries(obj: Any) -> dict:
    return {k: v for k, v in vars(obj).items() if isinstance(v, _CODE_LIKE) and k not in _IGNORED}


def _snapshot() -> dict[int, tuple[str, Any, dict]]:
    snap = {id(obj): (label, obj, _entries(obj)) for label, obj in _namespaces()}
    snap[id(sys.modules)] = ("sys.modules", sys.modules, {m.__name__: m for m in _kit_modules()})
    return snap


def _put(obj: Any, key: str, value: Any) -> None:
    if obj is sys.modules:
        sys.modules[key] = value
    elif isinstance(obj, type):
        setattr(obj, key, value)
    else:
        vars(obj)[key] = value


def _compare(snap: dict, skip: set[tuple[int, str]], restore: bool) -> list[str]:
    """Entries of `snap` that were rebound or deleted since; put them back when `restore`."""
    changed = []
    missing = object()
    for label, obj, entries in snap.values():
        now = sys.modules if obj is sys.modules else vars(obj)
        for key, value in entries.items():
            if key in _IGNORED or (id(obj), key) in skip:
                continue
            if now.get(key, missing) is not value:
                changed.append(
                    f"{label}.{key}" if obj is not sys.modules else f"sys.modules[{key!r}]"
                )
                if restore:
                    try:
                        _put(obj, key, value)
                    except (AttributeError, TypeError):  # pragma: no cover - read-only slot
                        pass
    return changed


def _mode_depths() -> tuple[int, int]:
    """How many torch function / dispatch modes are pushed (an answer must not leave one behind)."""
    import torch

    fn = getattr(torch._C, "_len_torch_function_stack", lambda: 0)
    dispatch = getattr(torch._C, "_len_torch_dispatch_stack", lambda: 0)
    return fn(), dispatch()


def _pop_modes(depths: tuple[int, int]) -> None:
    """Pop torch modes pushed since `depths` was measured (an answer left them on)."""
    import torch

    for length, pop, keep in (
        (
            getattr(torch._C, "_len_torch_function_stack", None),
            getattr(torch._C, "_pop_torch_function_stack", None),
            depths[0],
        ),
        (
            getattr(torch._C, "_len_torch_dispatch_stack", None),
            getattr(torch._C, "_pop_torch_dispatch_stack", None),
            depths[1],
        ),
    ):
        while length is not None and pop is not None and length() > keep:
            pop()


# ---------------------------------------------------------------------------------------------
# The window around one call of the student's function.
# ---------------------------------------------------------------------------------------------

_OPEN: list[Window] = []


class Window:
    """Watch one call of the student's function for forbidden calls and tampering.

    Use ``report = window.run(fn, args, call)`` where ``call(thunk)`` runs ``thunk()`` (under a
    time limit, say); or open(), profiled(fn, args) and close() by hand. The window always puts
    everything back, also when the call raises or times out.
    """

    def __init__(self, forbidden: Sequence[Forbidden]):
        self.forbidden = list(forbidden)
        self.report = WatchReport()
        self._places: list[
            tuple[Any, str, Callable, Callable]
        ] = []  # (namespace, key, proxy, original)
        self._trampolines: dict[int, types.CodeType] = {}
        self._snap: dict = {}
        self._modes = (0, 0)
        self.nested = False
        self._hook = None

    def open(self) -> Window:
        if _OPEN:  # a check run from inside an answer: the outer window watches
            self.nested = True
            return self
        _OPEN.append(self)
        self._modes = _mode_depths()
        self._snap = _snapshot()
        modules = _kit_modules()
        for f in self.forbidden:
            key = id(f.original)
            clone = _CLONES.setdefault(key, _clone(f.original, f.code))
            proxy = _proxy(self, f, clone)
            for ns in [f.owner, *modules]:
                for name, value in list(vars(ns).items()):
                    if value is f.original:
                        _put(ns, name, proxy)
                        self._places.append((ns, name, proxy, f.original))
            _ACTIVE[key] = (self, f.label)
            self._trampolines[key] = _trampoline(
                key, f.code.co_name, f.code.co_qualname, f.code.co_filename
            )
            f.original.__code__ = self._trampolines[key]
        return self

    def profiled(self, fn: Callable, args: tuple):
        """Call fn(*args) with the profile hook on in this thread (unless a profiler already runs)."""
        if self.nested or sys.getprofile() is not None:  # never displace someone's profiler
            return fn(*args)
        codes = {f.code: f.label for f in self.forbidden}
        used, tampered, switch = self.report.used, self.report.tampered, sys.setprofile
        closing = []

        def hook(frame, event, arg):
            if event == "call":
                label = codes.get(frame.f_code)
                if label is not None:
                    used.append(label)
            elif event == "c_call" and arg is switch and not closing:
                tampered.append("sys.setprofile (switches the watch off)")

        self._hook = hook
        sys.setprofile(hook)
        try:
            return fn(*args)
        except TimeLimitExceeded:
            # the time limit's exception may land inside the hook, and Python then drops the hook:
            # that is the limit's doing, not the answer's
            closing.append(True)
            raise
        finally:
            if sys.getprofile() is not hook and not closing:
                tampered.append("sys.setprofile (the watch was switched off)")
            closing.append(True)
            sys.setprofile(None)

    def close(self) -> WatchReport:
        if self.nested:
            return self.report
        if (
            self._hook is not None and sys.getprofile() is self._hook
        ):  # a time-out landed mid-cleanup
            sys.setprofile(None)
        try:
            tampered = self.report.tampered
            skip = set()
            for ns, name, proxy, _ in self._places:
                skip.add((id(ns), name))
                if vars(ns).get(name) is not proxy:
                    tampered.append(
                        f"{getattr(ns, '__name__', ns)}.{name} (replaced during the check)"
                    )
            for f in self.forbidden:
                if f.original.__code__ is not self._trampolines.get(id(f.original)):
                    tampered.append(f"{f.label}.__code__ (replaced during the check)")
                if _ACTIVE.get(id(f.original), (None,))[0] is not self:
                    tampered.append("the watch's own records (changed during the check)")
            tampered += _compare(self._snap, skip, restore=True)
            if _mode_depths() != self._modes:
                tampered.append("a torch function or dispatch mode left switched on")
                _pop_modes(self._modes)
        finally:
            self._restore()
        return self.report

    def _restore(self) -> None:
        for f in self.forbidden:
            f.original.__code__ = f.code
            _ACTIVE.pop(id(f.original), None)
        originals = {id(proxy): original for _, _, proxy, original in self._places}
        for ns, name, _, original in self._places:
            _put(ns, name, original)
        for module in _kit_modules():  # names cached while the window was open (lazy exports)
            for name, value in list(vars(module).items()):
                if id(value) in originals:
                    vars(module)[name] = originals[id(value)]
        self._places.clear()
        self._trampolines.clear()
        if _OPEN and _OPEN[-1] is self:
            _OPEN.pop()

    def run(
        self, fn: Callable, args: tuple, call: Callable[[Callable], Any] = lambda thunk: thunk()
    ):
        """``call(lambda: fn(*args))`` inside the window; returns (value, report); re-raises what
        the call raised, after the window closed (the report is then on ``self.report``)."""
        self.open()
        try:
            value = call(lambda: self.profiled(fn, args))
        finally:
            self.close()
        return value, self.report


# ---------------------------------------------------------------------------------------------
# Between checks: put back kit functions that were rebound since they were first seen.
# ---------------------------------------------------------------------------------------------

_BASELINE: dict[int, tuple[str, Any, dict]] = {}


def take_baseline() -> None:
    """Remember the kit's namespaces as they are now (the grader calls this before any student
    code runs; otherwise each namespace is remembered the first time a check sees it)."""
    for label, obj in [(m.__name__, m) for m in _kit_modules()] + [
        (n, o) for n, o in _namespaces() if isinstance(o, type) and o.__module__.startswith(_KIT)
    ]:
        entry = _BASELINE.setdefault(id(obj), (label, obj, {}))
        for key, value in _entries(obj).items():
            entry[2].setdefault(key, value)


def verify_baseline(forbidden: Sequence[Forbidden] = ()) -> list[str]:
    """What was rebound since the baseline (and the forbidden functions' code), put back.

    Returns the labels of what had changed ([] when nothing had); then extends the baseline with
    namespaces and names seen for the first time.
    """
    changed = _compare(_BASELINE, set(), restore=True)
    for f in forbidden:
        if f.original.__code__ is not f.code:
            changed.append(f"{f.label}.__code__")
            f.original.__code__ = f.code
        if vars(f.owner).get(f.name) is not f.original:
            changed.append(f"{getattr(f.owner, '__name__', f.owner)}.{f.name}")
            _put(f.owner, f.name, f.original)
    take_baseline()
    return changed
