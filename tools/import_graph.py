"""Print the package's import graph and check that it runs one way (no cycles).

Usage (from the repository root)::

    python tools/import_graph.py            # the layers, bottom first, and what each module imports
    python tools/import_graph.py --check    # exit 1 on a cycle, listing it

Every ``from . import x`` / ``from .x import y`` inside ``loretta_explore`` counts, at module level
and inside functions alike (only ``if TYPE_CHECKING:`` blocks, which never run, are skipped): an import deferred into a function (done to keep ``import
loretta_explore`` fast) is still a dependency, so a deferred import that points back up the graph
is a cycle too. Imports of other packages (torch, transformers, ...) are not part of the graph.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

PACKAGE = "loretta_explore"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def internal_imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """The package's own modules that `path` (module `name`) imports, resolved to module names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    typing_only = {
        id(n) for node in ast.walk(tree) if _is_type_checking(node) for n in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in modules:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                found.add(candidate)
    return found


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` blocks never run: their imports are for type checkers only."""
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def graph(root: Path) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in (root / PACKAGE).rglob("*.py")}
    modules = set(files)
    edges = {m: internal_imports(p, m, modules) for m, p in files.items()}
    # a package's __init__ re-exporting its submodules is not a dependency of the submodules on it
    for m in edges:
        edges[m] = {d for d in edges[m] if not m.startswith(d + ".")}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def layers(edges: dict[str, set[str]]) -> list[list[str]]:
    """Modules by level: level 0 imports nothing of ours, level k only modules below it."""
    level: dict[str, int] = {}

    def depth(v: str, seen: tuple = ()) -> int:
        if v in level:
            return level[v]
        if v in seen:  # a cycle: reported separately
            return 0
        level[v] = 1 + max((depth(w, (*seen, v)) for w in edges[v]), default=-1)
        return level[v]

    for v in edges:
        depth(v)
    out: list[list[str]] = [[] for _ in range(max(level.values()) + 1)]
    for v, k in level.items():
        out[k].append(v)
    return [sorted(x) for x in out]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the graph has a cycle")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    edges = graph(root)
    found = cycles(edges)
    if not args.check:
        short = lambda m: m.removeprefix(PACKAGE + ".") or PACKAGE  # noqa: E731
        for k, mods in enumerate(layers(edges)):
            print(f"level {k}:")
            for m in mods:
                print(f"  {short(m):<28} <- {', '.join(sorted(map(short, edges[m]))) or '-'}")
    for component in found:
        print("cycle: " + " <-> ".join(component), file=sys.stderr)
    if not found:
        print(f"{len(edges)} modules, no cycle: the imports run one way")
    return 1 if (args.check and found) else 0


if __name__ == "__main__":
    sys.exit(main())
