"""Where its users are: the notebooks' setup cell, and the lessons in a simulated Colab.

Fast tests check the generator (tools/sync_notebooks.py) and what its cell does in each place it
runs: a kernel where the kit is importable (it does nothing), a fresh kernel inside a clone (it
installs that clone), Colab (it installs from the repository URL), a copy that does not know its
repository (it stops with plain words, before pip). They run the cell in IPython with a stand-in
for ``%pip`` that records what it was asked.

The slow test is the README's "In Colab" section done for real: a fresh virtualenv with torch
2.13.0, transformers 4.57.1 and the notebook front end (ipykernel, nbclient, nbformat) stands for
a Colab runtime;
lesson 00 and exercise 1 are copied out of the repository and their first cell is pointed at a
``git+file://`` URL of this checkout's committed HEAD; both run with nbclient in quick mode, lesson
00 first (its first cell installs the kit), and ``pip list`` must show the same torch and
transformers afterwards.
Its packages come from the package index through pip's own cache (~/.cache/pip), so a second
run downloads nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

import sync_notebooks  # noqa: E402

URL = "https://github.com/acme/loretta_explore"


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("https://github.com/OWNER/loretta_explore", None),
        ("", None),
        (None, None),
        ("https://github.com/<owner>/loretta_explore", None),
        (URL + "/", URL),
        ("https://gitlab.com/acme/loretta_explore", "https://gitlab.com/acme/loretta_explore"),
    ],
)
def test_the_placeholder_means_not_set(value, expected):
    assert sync_notebooks.normalize_url(value) == expected


def test_settings_are_read_from_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "x"\n\n[project.urls]\nRepository = "{URL}"\n\n'
        '[tool.loretta_explore]\ncolab-branch = "dev"\n'
    )
    assert sync_notebooks.read_settings(tmp_path / "pyproject.toml") == (URL, "dev")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert sync_notebooks.read_settings(tmp_path / "pyproject.toml") == (None, "main")


def test_the_committed_pyproject_names_a_repository_or_the_placeholder():
    text = (REPO / "pyproject.toml").read_text()
    assert "\n[project.urls]\n" in text and "\nRepository = " in text


def test_colab_links_only_for_github():
    link = sync_notebooks.colab_link(URL + ".git", "notebooks/00_quickstart.ipynb", "main")
    assert link == (
        "https://colab.research.google.com/github/acme/loretta_explore/blob/main/"
        "notebooks/00_quickstart.ipynb"
    )
    assert sync_notebooks.colab_link("https://gitlab.com/a/b", "n.ipynb") is None
    assert sync_notebooks.colab_link(None, "n.ipynb") is None
    header = sync_notebooks.header_line(URL, "notebooks/exercises/ex1_tt_svd.ipynb")
    assert header.startswith("[![Open In Colab](") and header.endswith(
        "/notebooks/exercises/ex1_tt_svd.ipynb)"
    )
    assert "pyproject.toml" in sync_notebooks.header_line(None, "n.ipynb")
    assert "Upload" in sync_notebooks.header_line("https://gitlab.com/a/b", "n.ipynb")


@pytest.mark.parametrize("url", [URL, None])
def test_setup_cell_installs_the_notebooks_extra_and_never_torch(url):
    cell = sync_notebooks.setup_cell(url)
    transform = (
        pytest.importorskip("IPython.core.inputtransformer2").TransformerManager().transform_cell
    )
    compile(transform(cell), "<setup cell>", "exec")  # valid IPython
    installs = [line.strip() for line in cell.splitlines() if line.strip().startswith("%pip")]
    assert installs == ['%pip install -q "{KIT}"{KEEP}']
    assert not any(
        "torch" in line for line in cell.splitlines() if "%pip" in line or line.startswith("KIT")
    )
    assert "--upgrade" not in cell and " -U " not in cell
    assert all(len(line) <= 100 for line in cell.splitlines()), "ruff's line length"
    if url:
        assert f'KIT = "loretta_explore[notebooks] @ git+{url}"' in cell and "raise" not in cell
    else:
        assert "KIT = None" in cell and "does not know where" in cell


def test_a_synced_notebook_keeps_everything_else(tmp_path):
    nb = {
        "cells": [
            {
                "cell_type": "markdown",
                "id": "a",
                "metadata": {},
                "source": ["# Title\n", "\n", "Text"],
            },
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "b",
                "metadata": {},
                "outputs": [],
                "source": ["import os"],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    once = sync_notebooks.synced(json.loads(json.dumps(nb)), URL, "notebooks/x.ipynb")
    twice = sync_notebooks.synced(json.loads(json.dumps(once)), URL, "notebooks/x.ipynb")
    assert once == twice, "syncing twice changes nothing"
    md, setup, rest = once["cells"]
    assert "".join(md["source"]).split("\n")[2:] == ["# Title", "", "Text"]
    assert setup["metadata"]["tags"] == ["install"] and rest == nb["cells"][1]
    unset = sync_notebooks.synced(json.loads(json.dumps(once)), None, "notebooks/x.ipynb")
    assert len(unset["cells"]) == 3 and "KIT = None" in "".join(unset["cells"][1]["source"])
    assert "".join(unset["cells"][0]["source"]).count("# Title") == 1


def test_committed_notebooks_and_readme_are_current():
    stale = sync_notebooks.stale()
    assert not stale, (
        f"{[str(p.relative_to(REPO)) for p in stale]} do not carry the current setup "
        "cell / Colab link: run `make notebooks` (python tools/sync_notebooks.py)"
    )


def test_thirteen_notebooks_carry_the_cell():
    paths = sync_notebooks.notebook_paths()
    assert len(paths) == 13, [p.name for p in paths]


def test_every_subpackage_ships_in_the_wheel():
    """pyproject lists the packages by name: a subpackage left out installs a kit that breaks on
    import in Colab while every test of the checkout passes."""
    try:
        import tomllib
    except ImportError:  # pragma: no cover - Python 3.10
        pytest.skip("tomllib needs Python 3.11")
    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "loretta_explore").rglob("__init__.py")
    }
    assert found - listed == set(), f"add {sorted(found - listed)} to [tool.setuptools] packages"


# ---------------------------------------------------------------------------------------------
# What the cell does, run in IPython with a recording %pip
# ---------------------------------------------------------------------------------------------

_RUNNER = textwrap.dedent("""
    import json, sys, types
    from IPython.core.interactiveshell import InteractiveShell

    source, importable = sys.argv[1], sys.argv[2] == "1"
    calls = []

    def pip(line):
        calls.append(line)
        sys.modules["loretta_explore"] = types.ModuleType("loretta_explore")  # as if installed

    if importable:
        sys.modules["loretta_explore"] = types.ModuleType("loretta_explore")
    else:
        sys.modules["loretta_explore"] = None  # `import loretta_explore` raises ImportError
    shell = InteractiveShell.instance()
    shell.register_magic_function(pip, "line", "pip")
    result = shell.run_cell(open(source).read(), silent=True)
    error = result.error_in_exec
    print(json.dumps({"calls": calls, "error": None if error is None else
                      [type(error).__name__, str(error)], "lx": "lx" in shell.user_ns}))
""")


def _run_cell(tmp_path, url, cwd, importable=False, floors=None) -> dict:
    pytest.importorskip("IPython")
    source = tmp_path / "cell.ipy"
    source.write_text(sync_notebooks.setup_cell(url, floors))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(source), "1" if importable else "0"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("url", [URL, None])
def test_where_the_kit_is_importable_the_cell_does_nothing(tmp_path, url):
    result = _run_cell(tmp_path, url, cwd=tmp_path, importable=True)
    assert result == {"calls": [], "error": None, "lx": True}


def _pins() -> str:
    """What the cell adds to pip's command line here: this environment's torch and transformers."""
    from importlib.metadata import version

    return f' "torch=={version("torch")}" "transformers=={version("transformers")}"'


def test_in_colab_it_installs_from_the_repository_keeping_torch_and_transformers(tmp_path):
    result = _run_cell(tmp_path, URL, cwd=tmp_path)
    assert result == {
        "calls": [f'install -q "loretta_explore[notebooks] @ git+{URL}"{_pins()}'],
        "error": None,
        "lx": True,
    }


def test_it_pins_only_what_is_installed_and_new_enough(tmp_path):
    from importlib.metadata import version

    floors = {"torch": (2, 1), "transformers": (99, 0), "no_such_package_h7": (0, 0)}
    result = _run_cell(tmp_path, URL, cwd=tmp_path, floors=floors)
    spec = f"loretta_explore[notebooks] @ git+{URL}"
    assert result["calls"] == [f'install -q "{spec}" "torch=={version("torch")}"']


def test_the_floors_come_from_pyproject():
    assert sync_notebooks.read_floors() == {"torch": (2, 1), "transformers": (4, 40)}


@pytest.mark.parametrize("url", [URL, None])
def test_in_a_fresh_kernel_inside_a_clone_it_installs_that_clone(tmp_path, url):
    result = _run_cell(tmp_path, url, cwd=REPO / "notebooks" / "exercises")
    assert result == {
        "calls": [f'install -q "{REPO}[notebooks]"{_pins()}'],
        "error": None,
        "lx": True,
    }


def test_without_a_repository_url_it_says_what_to_do_before_pip(tmp_path):
    result = _run_cell(tmp_path, None, cwd=tmp_path)
    assert result["calls"] == [] and not result["lx"]
    kind, message = result["error"]
    assert kind == "ImportError"
    assert "does not know where the kit is published" in message
    assert "In Colab" in message and "%pip install" in message and "make lab" in message


# ---------------------------------------------------------------------------------------------
# The simulated Colab
# ---------------------------------------------------------------------------------------------

# Colab's runtime comes with torch and a transformers 4.x; the kit's range allows 4.40 and later,
# and the newest releases of its new dependencies (sentence-transformers, datasets) would pull
# transformers 5 if the setup cell did not pin what is installed
PREINSTALLED = ["torch==2.13.0", "transformers==4.57.1", "ipykernel", "nbclient", "nbformat"]
KEPT = ("torch", "transformers")
COLAB_NOTEBOOKS = ["notebooks/00_quickstart.ipynb", "notebooks/exercises/ex1_tt_svd.ipynb"]

_EXECUTE = textwrap.dedent("""
    import json, sys, time
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = sys.argv[1]
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    error = None
    try:
        NotebookClient(nb, timeout=1800, kernel_name="python3").execute()
    except CellExecutionError as err:
        error = str(err)[-3000:]
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    print(json.dumps({"seconds": seconds, "error": error}))
""")


def _pip_list(python: Path, env: dict) -> dict[str, str]:
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return {row["name"].lower().replace("_", "-"): row["version"] for row in json.loads(out.stdout)}


def _outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", "") or json.dumps(out.get("data", {}))[:500])
        if out.get("output_type") == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
    return "".join(parts)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_lessons_run_in_a_simulated_colab(tmp_path, record_property, capsys):
    import nbformat

    if shutil.which("git") is None:
        pytest.skip("git is needed: pip installs the kit from a git+file:// URL")
    git = ["git", "-C", str(REPO)]
    try:
        sha = subprocess.run(
            git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.strip()
    except subprocess.CalledProcessError:
        pytest.skip(f"{REPO} is not a git checkout with a commit: pip clones committed HEAD")
    dirty = subprocess.run(
        git + ["status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    ).stdout.strip()
    if dirty:
        warnings.warn(
            f"the working tree has uncommitted changes; the simulated Colab installs the "
            f"committed HEAD ({sha[:10]}), as pip clones it: commit to test them",
            stacklevel=1,
        )
    began = time.perf_counter()
    venv, content = tmp_path / "colab-venv", tmp_path / "content"
    content.mkdir()
    # --upgrade-deps: a current pip, as Colab has (the pip 23.2 that Python 3.11.7's venv bundles
    # rejects `name @ git+file:///...` requirements)
    subprocess.run([sys.executable, "-m", "venv", "--upgrade-deps", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "JUPYTER_PATH")
    }
    env.update(
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
        LORETTA_QUICK="1",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
        MPLBACKEND="agg",
    )
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + PREINSTALLED, env=env, check=True)
    subprocess.run(
        [str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
        env=env,
        check=True,
        capture_output=True,
    )
    before = _pip_list(python, env)
    assert "loretta-explore" not in before
    prepared = time.perf_counter()

    url = f"file://{REPO}@{sha}"  # the README's %pip line, with this checkout for the repository
    timings, results = {}, {}
    for rel in COLAB_NOTEBOOKS:
        nb = nbformat.read(REPO / rel, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert first.source == sync_notebooks.setup_cell(sync_notebooks.read_settings()[0]).rstrip(
            "\n"
        )
        first.source = sync_notebooks.setup_cell(url).rstrip("\n")
        target = content / Path(rel).name
        nbformat.write(nb, target)
        out = subprocess.run(
            [str(python), "-c", _EXECUTE, str(target)],
            cwd=content,
            env=env,
            capture_output=True,
            text=True,
            timeout=3000,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        result = json.loads(out.stdout.strip().splitlines()[-1])
        timings[rel], results[rel] = result["seconds"], nbformat.read(target, as_version=4)
        failed = [
            _outputs_text(c)
            for c in results[rel].cells
            if c.cell_type == "code"
            and any(o.get("output_type") == "error" for o in c.get("outputs", []))
        ]
        assert result["error"] is None, (
            f"{rel} failed in the simulated Colab:\n{failed}\n{result['error']}"
        )
        errors = [
            c
            for c in results[rel].cells
            if c.cell_type == "code"
            and any(o.get("output_type") == "error" for o in c.get("outputs", []))
        ]
        assert not errors, f"{rel}: cells with errors: {[_outputs_text(c) for c in errors]}"
    after = _pip_list(python, env)
    total = time.perf_counter() - began

    assert "loretta-explore" in after, "lesson 00's first cell did not install the kit"
    first_ex1 = next(c for c in results[COLAB_NOTEBOOKS[1]].cells if c.cell_type == "code")
    assert _outputs_text(first_ex1) == "", "with the kit installed the setup cell does nothing"
    for name in KEPT:
        assert after[name] == before[name], f"{name} was replaced: {before[name]} -> {after[name]}"
    changed = {
        name: (before[name], after.get(name)) for name in before if after.get(name) != before[name]
    }
    summary = (
        f"simulated Colab ({'HEAD ' + sha[:10]}{', tree dirty' if dirty else ''}): venv and "
        f"preinstalls {prepared - began:.0f} s; "
        + "; ".join(f"{Path(rel).stem} {s:.0f} s" for rel, s in timings.items())
        + f"; total {total:.0f} s; torch {before['torch']} and transformers "
        f"{before['transformers']} before and after; "
        f"preinstalled packages changed: {changed or 'none'}; "
        f"installed: {len(after) - len(before)} packages"
    )
    record_property("simulated_colab", summary)
    with capsys.disabled():  # shown in every run's log, passing or not
        print(f"\n[colab] {summary}")
