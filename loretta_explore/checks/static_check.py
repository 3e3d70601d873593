"""The grader's static check: read the submitted source for forbidden calls and watch-evading tricks.

The runtime watch (watch.py) notices a forbidden call while the answer runs; this scan reads the
code before it runs, so what the runtime cannot see from inside the process is still caught:

- **forbidden library names** inside the student's functions: the exercise's reference reached
  as an attribute (``lx.tt_svd``, ``layer.merge()``), by ``getattr(obj, "tt_svd")``, or imported
  from the kit (``from loretta_explore import tt_svd``, anywhere in the code). Mentions in
  top-level scratch code (a comparison cell, say) are allowed: they never run inside the check;
- **tricks** anywhere in the code: switching off profiling or tracing, reading or swapping code
  objects and frames (``__code__``, ``FunctionType``, ``sys._getframe``), ctypes, gc,
  importlib/inspect/exec (loading a second copy of the kit), torch function modes, the signal
  module, and reaching into the checking code (``loretta_explore.checks.harness`` and friends).

A finding scores the exercise 0 and is reported with its cell and line, so an instructor can
look at it. Nothing here imports torch or runs the submission.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .catalog import Exercise

__all__ = ["Finding", "scan"]

#: Attribute names that no answer to these exercises needs (a.name anywhere).
TRICK_ATTRIBUTES = frozenset(
    {
        "setprofile",
        "settrace",
        "_getframe",
        "f_locals",
        "f_globals",
        "f_back",
        "f_code",
        "__code__",
        "__globals__",
        "__closure__",
        "__wrapped__",
        "__builtins__",
        "FunctionType",
        "CodeType",
        "pythonapi",
        "PyThreadState_SetAsyncExc",
        "get_referrers",
        "get_referents",
        "reload",
        "getsource",
        "spec_from_file_location",
        "module_from_spec",
        "exec_module",
        "setitimer",
        "alarm",
        "TorchFunctionMode",
        "TorchDispatchMode",
        "__torch_function__",
        "__torch_dispatch__",
        "_push_mode",
        "_pop_torch_function_stack",
        "monitoring",
        # the checking code itself
        "harness",
        "watch",
        "feedback",
        "time_limit",
        "grading",
        "run_submission",
        "static_check",
        "catalog",
        "ex1_tt_svd",
        "ex2_tt_linear_forward",
        "ex3_budget_formula",
        "ex4_rep_merge",
    }
)
#: Modules an answer must not import.
TRICK_MODULES = frozenset(
    {
        "ctypes",
        "gc",
        "inspect",
        "importlib",
        "signal",
        "builtins",
        "subprocess",
        "multiprocessing",
        "dis",
        "marshal",
        "code",
        "codeop",
    }
)
#: Plain names (builtins) that run or build code.
TRICK_NAMES = frozenset(
    {"exec", "eval", "compile", "__import__", "FunctionType", "CodeType", "breakpoint"}
)
#: sys attributes (sys.modules is how the checking code would be reached).
TRICK_SYS = frozenset(
    {"modules", "setprofile", "settrace", "_getframe", "monitoring", "addaudithook"}
)


@dataclass(frozen=True)
class Finding:
    """One suspicious use: where (cell, line), the code, and why."""

    cell: int | None  # index of the notebook cell (None for a plain .py file)
    line: int
    code: str
    name: str
    kind: str  # "forbidden" (the exercise's reference) or "trick" (evades the watch)

    def __str__(self) -> str:
        where = (
            f"cell {self.cell}, line {self.line}" if self.cell is not None else f"line {self.line}"
        )
        why = (
            "reaches the library's own implementation, which the exercise asks you to write"
            if self.kind == "forbidden"
            else "is a way around the check that no answer to this exercise needs"
        )
        return f"{where}: `{self.code}`: {self.name} {why}"


def _root_module(name: str | None) -> str:
    return (name or "").split(".")[0]


class _Scanner(ast.NodeVisitor):
    def __init__(self, source: str, exercise: Exercise, cell: int | None):
        self.lines = source.splitlines()
        self.forbidden = set(exercise.static_forbidden)
        self.cell, self.depth = cell, 0
        self.found: list[Finding] = []

    def _add(self, node: ast.AST, name: str, kind: str) -> None:
        line = getattr(node, "lineno", 1)
        code = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        self.found.append(Finding(self.cell, line, code, name, kind))

    def _function(self, node) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name) and node.value.id == "sys" and node.attr in TRICK_SYS:
            self._add(node, f"sys.{node.attr}", "trick")
        elif node.attr in TRICK_ATTRIBUTES:
            self._add(node, node.attr, "trick")
        elif node.attr in self.forbidden and self.depth:
            self._add(node, node.attr, "forbidden")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in TRICK_NAMES:
            self._add(node, node.id, "trick")

    def visit_Call(self, node: ast.Call) -> None:
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
        ):
            name = str(node.args[1].value)
            if name in TRICK_ATTRIBUTES:
                self._add(node, name, "trick")
            elif name in self.forbidden and self.depth:
                self._add(node, name, "forbidden")
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            root = _root_module(alias.name)
            if root in TRICK_MODULES:
                self._add(node, alias.name, "trick")
            elif any(part in TRICK_ATTRIBUTES for part in alias.name.split(".")[1:]):
                self._add(node, alias.name, "trick")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if _root_module(module) in TRICK_MODULES or any(
            p in TRICK_ATTRIBUTES for p in module.split(".")[1:]
        ):
            self._add(node, module, "trick")
            return
        for alias in node.names:
            if alias.name in TRICK_ATTRIBUTES or alias.name in TRICK_NAMES:
                self._add(node, f"{module}.{alias.name}", "trick")
            elif _root_module(module) == "loretta_explore" and (
                alias.name in self.forbidden or alias.name == "*"
            ):
                self._add(node, f"{module}.{alias.name}", "forbidden")


def scan(source: str, exercise: Exercise, cell: int | None = None) -> list[Finding]:
    """Findings in one cell (or file) of a submission; [] when it is clean or does not parse
    (a syntax error is reported when the code runs)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    scanner = _Scanner(source, exercise, cell)
    scanner.visit(tree)
    return scanner.found
