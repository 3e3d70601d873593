"""`make notebooks`: write every notebook's setup cell and "Open in Colab" link from pyproject.toml.

Why one generator: the lessons and exercises are opened in three places (JupyterLab from a clone,
Colab, a fresh kernel somewhere else) and each needs the same answer to "where does the kit come
from". That answer lives once, in ``pyproject.toml``::

    [project.urls]
    Repository = "https://github.com/OWNER/loretta_explore"   # the placeholder: "not set"

and this script derives from it, for the 13 notebooks (``notebooks/0*.ipynb`` and
``notebooks/exercises/*.ipynb``) and the README:

- the first code cell (identical everywhere, tagged ``install``): import the kit; where that
  fails, ``%pip install`` it with the ``notebooks`` extra, from the clone the notebook sits in if
  there is one, else from the repository; where the repository is not set, an ImportError that
  says in plain words what to do instead of a failure inside pip;
- the first line of the first Markdown cell: an "Open in Colab" badge (GitHub repositories only:
  Colab opens notebooks from GitHub) or a line saying why there is none;
- in README.md, the text between ``<!-- colab:badge -->`` and ``<!-- /colab:badge -->``, and
  between ``<!-- colab:install -->`` and ``<!-- /colab:install -->``.

Usage: ``python tools/sync_notebooks.py`` (rewrite what is out of date) or ``--check`` (change
nothing; exit 1 and list the files that are out of date). Standard library only, so it runs with
any Python 3.10+. The notebooks are written exactly as nbformat writes them (one-space indent,
sorted keys, ``ensure_ascii=False``), so a run that changes nothing leaves every byte as it was.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: what pyproject.toml holds until the maintainer says where the repository is
PLACEHOLDER_OWNER = "OWNER"
DEFAULT_BRANCH = "main"
CELL_ID = "install-kit"
CELL_TAG = "install"
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
_HEADER = re.compile(r"^(\[!\[Open In Colab\]|\*Open in Colab\*)")
_GITHUB = re.compile(r"^https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")


# ---------------------------------------------------------------------------------------------
# Where the kit comes from
# ---------------------------------------------------------------------------------------------


def read_settings(pyproject: Path = REPO / "pyproject.toml") -> tuple[str | None, str]:
    """``([project.urls] Repository or None when unset or the placeholder, branch)``.

    The branch the Colab links open comes from ``[tool.loretta_explore] colab-branch`` (default
    ``main``).
    """
    text = pyproject.read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python 3.10: the two keys are simple enough for a regular expression
        url = re.search(r'^Repository\s*=\s*"([^"]*)"', text, re.M)
        branch = re.search(r'^colab-branch\s*=\s*"([^"]*)"', text, re.M)
        url, branch = (url and url.group(1)), (branch and branch.group(1))
    else:
        data = tomllib.loads(text)
        url = data.get("project", {}).get("urls", {}).get("Repository")
        branch = data.get("tool", {}).get("loretta_explore", {}).get("colab-branch")
    return normalize_url(url), branch or DEFAULT_BRANCH


def normalize_url(url: str | None) -> str | None:
    """The repository URL, or None where it is missing or still the placeholder."""
    url = (url or "").strip().rstrip("/")
    if not url or PLACEHOLDER_OWNER in url.split("/") or "<" in url:
        return None
    return url


def colab_link(url: str | None, notebook: str, branch: str = DEFAULT_BRANCH) -> str | None:
    """Colab's address for ``notebook`` (a path inside the repository); None off GitHub."""
    match = _GITHUB.match(url or "")
    if not match:
        return None
    owner, name = match.groups()
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/{branch}/{notebook}"


def pip_spec(url: str | None) -> str:
    """What ``pip install`` is given: the kit with the notebooks' extra, from the repository."""
    return f"loretta_explore[notebooks] @ git+{url or '<the repository URL>'}"


# ---------------------------------------------------------------------------------------------
# The generated text
# ---------------------------------------------------------------------------------------------

_CELL_HEAD = """\
# Setup, the same in every notebook (`make notebooks` writes it from pyproject.toml). Where the kit
# is missing (Colab, a fresh kernel) it installs it with what the notebooks use, and keeps the torch
# and transformers already there: it pins them, so no new dependency can make pip replace them.
"""
_CELL_FIND = """\
try:
    import loretta_explore as lx
except ImportError:  # install it: from the clone this notebook sits in, if any
    import re
    from importlib.metadata import PackageNotFoundError, version
    from pathlib import Path

    here = Path.cwd()
    clones = [p for p in (here, *here.parents) if (p / "loretta_explore/__init__.py").is_file()]
    if clones:
        KIT = f"{clones[0]}[notebooks]"
"""
_CELL_UNSET = """\
    if KIT is None:
        raise ImportError(
            "loretta_explore is not installed, and this copy of the lessons does not know where "
            "the kit is published. In Colab: upload the repository as a .zip, `!unzip` it and run "
            "`%pip install '/content/<unzipped folder>[notebooks]'`; or, for a copy on GitHub, "
            "`%pip install 'loretta_explore[notebooks] @ git+https://github.com/<owner>/<repo>'`. "
            "On your own computer: run `make lab` in a clone of the repository."
        ) from None
"""
_CELL_KEEP = """\
    KEEP = ""  # the installed torch and transformers, where new enough for the kit
    for name, oldest in {floors}.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue
        if tuple(map(int, re.match(r"(\\d+)\\.(\\d+)", installed).groups())) >= oldest:
            KEEP += f' "{{name}}=={{installed}}"'
    %pip install -q "{{KIT}}"{{KEEP}}
    import loretta_explore as lx
"""
#: the packages the cell keeps; their oldest usable version comes from pyproject's dependencies
KEPT = ("torch", "transformers")


def read_floors(pyproject: Path = REPO / "pyproject.toml") -> dict[str, tuple[int, int]]:
    """``{"torch": (2, 1), "transformers": (4, 40)}``: the ``>=`` bound of each kept package."""
    text = pyproject.read_text(encoding="utf-8")
    floors = {}
    for name in KEPT:
        match = re.search(rf'^\s*"{name}\s*>=\s*(\d+)\.(\d+)', text, re.M)
        if match is None:
            raise SystemExit(f'pyproject.toml: no "{name}>=X.Y" in the dependencies')
        floors[name] = (int(match.group(1)), int(match.group(2)))
    return floors


def setup_cell(url: str | None, floors: dict[str, tuple[int, int]] | None = None) -> str:
    """The first code cell of every notebook, for the repository at ``url`` (None: not set)."""
    floors = floors or read_floors()
    keep = _CELL_KEEP.format(floors="{" + ", ".join(f'"{k}": {v}' for k, v in floors.items()) + "}")
    if url is None:
        kit = "KIT = None  # not set yet: pyproject.toml, [project.urls] Repository\n"
        return _CELL_HEAD + kit + _CELL_FIND + _CELL_UNSET + keep
    return _CELL_HEAD + f'KIT = "{pip_spec(url)}"\n' + _CELL_FIND + keep


def header_line(url: str | None, notebook: str, branch: str = DEFAULT_BRANCH) -> str:
    """The first line of a notebook's first Markdown cell."""
    link = colab_link(url, notebook, branch)
    if link:
        return f"[![Open In Colab]({BADGE})]({link})"
    if url is None:
        return (
            "*Open in Colab*: not linked yet (set `[project.urls] Repository` in pyproject.toml, "
            "then run `make notebooks`)."
        )
    return (
        "*Open in Colab*: Colab opens notebooks from GitHub only; upload this one "
        "(File > Upload notebook) and run it: its first cell installs the kit."
    )


def readme_blocks(url: str | None, branch: str = DEFAULT_BRANCH) -> dict[str, str]:
    """The README's generated parts, by marker name."""
    first = "notebooks/00_quickstart.ipynb"
    badge = header_line(url, first, branch)
    if colab_link(url, first, branch):
        badge += " (lesson 00; every lesson has its own link at its top)"
    install = f'```python\n%pip install -q "{pip_spec(url)}"\n```'
    if url is None:
        install += "\n\n" + textwrap.fill(
            "This copy does not know its repository's URL yet: its maintainer sets "
            "`[project.urls] Repository` in `pyproject.toml` and runs `make notebooks`, which "
            "writes the URL into every notebook's first cell, its Colab link and this README. "
            "Until then that first cell installs from the clone it sits in, and elsewhere "
            "stops with an ImportError that says what to do.",
            width=100,
            break_on_hyphens=False,
        )
    return {"colab:badge": badge, "colab:install": install}


# ---------------------------------------------------------------------------------------------
# Applying it
# ---------------------------------------------------------------------------------------------


def notebook_paths(repo: Path = REPO) -> list[Path]:
    """The 13 notebooks: the lessons, then the exercises."""
    return sorted((repo / "notebooks").glob("0*.ipynb")) + sorted(
        (repo / "notebooks/exercises").glob("*.ipynb")
    )


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def dumps(nb: dict) -> str:
    """Exactly what ``nbformat.write`` produces."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def synced(nb: dict, url: str | None, notebook: str, branch: str = DEFAULT_BRANCH) -> dict:
    """``nb`` with the current setup cell first among its code cells and the header line on top."""
    cells = nb["cells"]
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": CELL_ID,
        "metadata": {"tags": [CELL_TAG]},
        "outputs": [],
        "source": _lines(setup_cell(url).rstrip("\n")),
    }
    code_at = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), len(cells))
    if code_at < len(cells) and CELL_TAG in cells[code_at].get("metadata", {}).get("tags", []):
        cells[code_at] = cell
    else:
        cells.insert(code_at, cell)
    markdown = next((c for c in cells if c["cell_type"] == "markdown"), None)
    if markdown is not None:
        lines = _lines(_source(markdown))
        if lines and _HEADER.match(lines[0]):
            lines = lines[2:] if len(lines) > 1 and not lines[1].strip() else lines[1:]
        markdown["source"] = _lines(header_line(url, notebook, branch) + "\n\n" + "".join(lines))
    return nb


def sync_readme(text: str, url: str | None, branch: str = DEFAULT_BRANCH) -> str:
    for name, body in readme_blocks(url, branch).items():
        pattern = re.compile(
            rf"(<!-- {re.escape(name)} -->\n)(?:.*?\n)?(<!-- /{re.escape(name)} -->)", re.S
        )
        if not pattern.search(text):
            raise SystemExit(f"README.md has no <!-- {name} --> ... <!-- /{name} --> block to fill")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text


def stale(repo: Path = REPO, write: bool = False) -> list[Path]:
    """Files whose generated parts are not current (rewritten when ``write``)."""
    url, branch = read_settings(repo / "pyproject.toml")
    out = []
    for path in notebook_paths(repo):
        old = path.read_text(encoding="utf-8")
        new = dumps(synced(json.loads(old), url, path.relative_to(repo).as_posix(), branch))
        if new != old:
            out.append(path)
            if write:
                path.write_text(new, encoding="utf-8")
    readme = repo / "README.md"
    old = readme.read_text(encoding="utf-8")
    new = sync_readme(old, url, branch)
    if new != old:
        out.append(readme)
        if write:
            readme.write_text(new, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if out of date"
    )
    args = parser.parse_args(argv)
    url, branch = read_settings()
    changed = stale(write=not args.check)
    where = f"the repository {url} (branch {branch})" if url else "no repository URL (placeholder)"
    names = ", ".join(str(p.relative_to(REPO)) for p in changed) or "nothing"
    if args.check:
        print(f"{'out of date' if changed else 'up to date'} for {where}: {names}")
        if changed:
            print(
                "run `make notebooks` (python tools/sync_notebooks.py) to rewrite them",
                file=sys.stderr,
            )
        return 1 if changed else 0
    print(f"wrote {names} for {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
