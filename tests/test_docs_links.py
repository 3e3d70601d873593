"""Every citation in the kit points inside the repository, at a file and a section that exist.

The library, the lessons, the exercises and the checks' feedback cite the method as
``docs/method.md#<anchor>``. A citation that names a file outside the repository (the project's
internal specification) or a section that was renamed is a dead end for a student, and nothing
else would notice it. This test scans the product's text files and checks:

(a) no mention of the internal specification files or of a path outside the repository;
(b) every relative Markdown link (``[text](path#anchor)``, ``![img](path)``, ``<a href>``,
    ``<img src>``, reference definitions) and every plain-text citation of a Markdown file with a
    folder or an anchor (``docs/method.md#rep`` in a docstring) resolves: the file exists and the
    anchor is an ``<a id="...">`` (or a heading) in it.

Markdown links resolve relative to the citing file, as a code host and JupyterLab resolve them.
Plain-text citations in Python files resolve from the repository root; in Markdown and notebooks
either way is accepted (a reader of plain text has no base to resolve against).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: The anchors every citation may use (docs/method.md), in the document's order.
METHOD_ANCHORS = (
    "tt-format",
    "layouts",
    "adp",
    "rep",
    "scale",
    "starts",
    "placement",
    "shapes",
    "counting",
    "paper-results",
    "recipe",
    "authors-code",
)

FORBIDDEN = re.compile(r"METHOD\.md|DESIGN\.md|\.\./shared")

# [text](target "title") and ![alt](target); target may be wrapped in <...>
MD_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'(][^)]*)?\)")
MD_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+[\"'(].*)?$")
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']+)[\"']", re.I)
# a plain-text path to a Markdown file, with an optional #anchor
PLAIN = re.compile(r"(?<![\w/.:@<-])((?:\.\.?/)*[\w-]+(?:/[\w.-]+)*\.md)(#[\w-]+)?")
URL = re.compile(r"[a-zA-Z][\w+.-]*://\S+")
INLINE_CODE = re.compile(r"`[^`\n]*`")
ANCHOR_ATTR = re.compile(r"<a\b[^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.I)
ID_ATTR = re.compile(r"\bid\s*=\s*[\"']([^\"']+)[\"']", re.I)
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Ref:
    """One reference: where it is, what it points at, how to resolve it."""

    where: str  # "path:line" (notebooks: "path:cell N:line M")
    source: Path
    target: str  # path part, may be empty (same file)
    anchor: str  # without '#', may be empty
    kind: str  # "markdown" (relative to the citing file) or "plain"

    def __str__(self) -> str:
        return f"{self.where}: {self.target}{'#' + self.anchor if self.anchor else ''}"


# ------------------------------------------------------------------------------------------
# What is scanned, as (location, line text, is Markdown) triples.
# ------------------------------------------------------------------------------------------


def product_files(root: Path = REPO) -> list[Path]:
    """The files whose text a user reads: library, lessons, exercises, docs, reports."""
    files: set[Path] = set()
    files.update((root / "loretta_explore").rglob("*.py"))
    for pattern in ("*.ipynb", "*.md", "*.py"):
        files.update((root / "notebooks").rglob(pattern))
    files.update((root / "docs").glob("*.md"))
    files.update((root / "benchmarks").glob("*.md"))
    for single in ("README.md", "data/README.md"):
        if (root / single).is_file():
            files.add(root / single)
    skip = (".ipynb_checkpoints", "__pycache__")
    return sorted(f for f in files if f.is_file() and not any(part in skip for part in f.parts))


def _markdown_lines(text: str):
    """(line number, line, inside a fenced code block) for Markdown text."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(r"^\s{0,3}(```|~~~)", line):
            fenced = not fenced
            yield number, line, True
            continue
        yield number, line, fenced


def lines_of(path: Path, root: Path = REPO):
    """Yield (where, line, markdown) for every line of `path` (markdown: Markdown links apply)."""
    rel = path.relative_to(root).as_posix()
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        for index, cell in enumerate(cells):
            source = cell.get("source", "")
            text = "".join(source) if isinstance(source, list) else source
            if cell.get("cell_type") == "markdown":
                for number, line, fenced in _markdown_lines(text):
                    yield f"{rel}:cell {index}:line {number}", line, not fenced
            else:
                for number, line in enumerate(text.splitlines(), 1):
                    yield f"{rel}:cell {index}:line {number}", line, False
    elif path.suffix == ".md":
        for number, line, fenced in _markdown_lines(path.read_text(encoding="utf-8")):
            yield f"{rel}:{number}", line, not fenced
    else:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            yield f"{rel}:{number}", line, False


# ------------------------------------------------------------------------------------------
# (a) citations outside the repository
# ------------------------------------------------------------------------------------------


def forbidden_mentions(files, root: Path = REPO) -> list[str]:
    return [
        f"{where}: {line.strip()[:120]}"
        for path in files
        for where, line, _ in lines_of(path, root)
        if FORBIDDEN.search(line)
    ]


# ------------------------------------------------------------------------------------------
# (b) links and citations
# ------------------------------------------------------------------------------------------


def _split(target: str) -> tuple[str, str]:
    """'path?query#anchor' -> ('path', 'anchor'), percent-decoded."""
    path, _, anchor = target.partition("#")
    return urllib.parse.unquote(path.split("?", 1)[0]), urllib.parse.unquote(anchor)


def _external(target: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][\w+.-]*:", target)) or target.startswith("//")


def references(files, root: Path = REPO) -> list[Ref]:
    """Every relative link and plain-text Markdown citation in `files`."""
    refs: dict[tuple[str, str, str], Ref] = {}
    for path in files:
        for where, line, markdown in lines_of(path, root):
            if FORBIDDEN.search(line):
                continue  # reported by (a)
            if markdown:
                prose = INLINE_CODE.sub(lambda m: " " * len(m.group()), line)
                found = [m.group(1) for m in MD_LINK.finditer(prose)]
                found += [m.group(1) for m in HTML_LINK.finditer(prose)]
                ref_def = MD_REF_DEF.match(prose)
                if ref_def:
                    found.append(ref_def.group(1))
                for target in found:
                    if _external(target):
                        continue
                    target_path, anchor = _split(target)
                    ref = Ref(where, path, target_path, anchor, "markdown")
                    refs.setdefault((where, target_path, anchor), ref)
            for match in PLAIN.finditer(URL.sub(" ", line)):
                target_path, anchor = match.group(1), (match.group(2) or "")[1:]
                if "/" not in target_path and not anchor:
                    continue  # a bare file name in prose ("RESULTS.md says why") is not a link
                refs.setdefault(
                    (where, target_path, anchor), Ref(where, path, target_path, anchor, "plain")
                )
    return list(refs.values())


def slug_github(text: str) -> str:
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def slug_jupyterlab(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text).strip().replace(" ", "-")


def anchors_in(path: Path) -> set[str]:
    """Anchors a link can land on: <a id/name>, any id attribute, heading slugs (both styles)."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        texts = [
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in cells
            if c.get("cell_type") == "markdown"
        ]
    elif path.suffix in (".md", ".html"):
        texts = [path.read_text(encoding="utf-8")]
    else:
        return set()
    found: set[str] = set()
    for text in texts:
        found.update(ANCHOR_ATTR.findall(text))
        found.update(ID_ATTR.findall(text))
        for _, line, fenced in _markdown_lines(text):
            heading = None if fenced else HEADING.match(line)
            if heading:
                found.update({slug_github(heading.group(1)), slug_jupyterlab(heading.group(1))})
    return found


def resolve(ref: Ref, root: Path = REPO) -> tuple[Path | None, list[Path]]:
    """The file a reference lands on (None if none exists) and the candidates tried."""
    if not ref.target:
        return ref.source, [ref.source]
    relative = (ref.source.parent / ref.target).resolve()
    from_root = (root / ref.target).resolve()
    if ref.kind == "markdown":
        candidates = [relative]
    elif ref.source.suffix == ".py":
        candidates = [from_root]
    else:
        candidates = [relative, from_root]
    for candidate in candidates:
        inside = candidate == root.resolve() or root.resolve() in candidate.parents
        if inside and candidate.exists():
            return candidate, candidates
    return None, candidates


def dangling(refs, root: Path = REPO) -> list[str]:
    """Each reference whose file or anchor does not exist, with the reason."""
    problems, cache = [], {}
    for ref in refs:
        target, tried = resolve(ref, root)
        if target is None:
            shown = ", ".join(
                str(c.relative_to(root.resolve())) if root.resolve() in c.parents else str(c)
                for c in tried
            )
            problems.append(f"{ref}: no such file in the repository (tried {shown})")
            continue
        if ref.anchor and target.is_file():
            if target not in cache:
                cache[target] = anchors_in(target)
            if ref.anchor not in cache[target]:
                problems.append(
                    f"{ref}: {target.relative_to(root.resolve())} has no anchor "
                    f"'{ref.anchor}' (add <a id=\"{ref.anchor}\"></a> above its heading)"
                )
    return problems


# ------------------------------------------------------------------------------------------
# The tests
# ------------------------------------------------------------------------------------------


def test_nothing_cites_a_file_outside_the_repository(capsys):
    found = forbidden_mentions(product_files())
    with capsys.disabled():
        print(f"\n[docs links] {len(found)} mention(s) of METHOD.md / DESIGN.md / ../shared")
    assert not found, (
        f"{len(found)} mention(s) of a file outside the repository; cite "
        f"docs/method.md#<anchor> instead:\n" + "\n".join(found)
    )


def test_every_link_and_citation_resolves(capsys):
    files = product_files()
    refs = references(files)
    problems = dangling(refs)
    with capsys.disabled():
        print(
            f"\n[docs links] {len(refs)} reference(s) in {len(files)} file(s), "
            f"{len(problems)} dangling"
        )
    assert refs, "no references found at all: the scanner is broken"
    assert not problems, f"{len(problems)} dangling reference(s):\n" + "\n".join(problems)


def test_method_document_has_every_anchor_the_kit_cites():
    method = REPO / "docs" / "method.md"
    text = method.read_text(encoding="utf-8")
    anchors = re.findall(r'^<a id="([\w-]+)"></a>\n#{1,3} ', text, re.M)
    assert tuple(anchors) == METHOD_ANCHORS, (
        f"docs/method.md sections, each with <a id> directly above its heading, should be "
        f"{METHOD_ANCHORS}; found {tuple(anchors)}"
    )


def test_checker_finds_what_is_wrong(tmp_path):
    """The checker itself: good links pass, each kind of broken one is reported."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "docs" / "method.md").write_text('# Title\n\n<a id="rep"></a>\n## 4. LoRETTA_rep\n')
    (tmp_path / "notebooks" / "lesson.md").write_text(
        "[ok](../docs/method.md#rep) [heading](../docs/method.md#4-loretta_rep)\n"
        "[bad anchor](../docs/method.md#nope) [bad file](../docs/missing.md)\n"
        "[wrong base](docs/method.md#rep) [web](https://example.org/x.md#y)\n"
        "```\n[in a fence](nowhere.md)\n```\n"
        "see METHOD.md section 3\n"
    )
    (tmp_path / "pkg" / "mod.py").write_text(
        '"""See docs/method.md#rep and docs/method.md#gone."""\n'
    )
    files = [tmp_path / "notebooks" / "lesson.md", tmp_path / "pkg" / "mod.py"]
    problems = dangling(references(files, tmp_path), tmp_path)
    text = "\n".join(problems)
    assert len(problems) == 4, text
    for expected in (
        "method.md#nope",
        "missing.md",
        "lesson.md:3: docs/method.md#rep",
        "mod.py:1: docs/method.md#gone",
    ):
        assert expected in text, text
    assert forbidden_mentions(files, tmp_path) == ["notebooks/lesson.md:7: see METHOD.md section 3"]
