"""`import loretta_explore` is lazy (PEP 562): what it pulls in, and that every public name resolves.

Why: ``import loretta_explore`` used to take 6-8 s and ``loretta-explore budget llama-2-7b`` 8-10 s,
most of it transformers' model classes, matplotlib and ipywidgets, which most uses never touch.
Each check runs in a fresh interpreter (a subprocess), since this test process has long since
imported everything. How long the imports take is measured, as ratios, by
benchmarks/import_time.py; no test asserts a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("transformers.models", "matplotlib", "ipywidgets", "peft")


def _python(code: str, timeout: int = 600) -> dict:
    """Run ``code`` in a fresh interpreter that imports this checkout; it prints one JSON line."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    prelude = f"import json, sys\nHEAVY = {HEAVY!r}\n"
    helper = textwrap.dedent("""
        def loaded(*prefixes):
            return sorted(m for m in sys.modules if any(m == p or m.startswith(p + ".") for p in prefixes))
    """)
    out = subprocess.run(
        [sys.executable, "-c", prelude + helper + textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_checkout_is_what_the_subprocesses_import():
    result = _python(
        "import loretta_explore; print(json.dumps({'file': loretta_explore.__file__}))"
    )
    assert Path(result["file"]).resolve() == REPO / "loretta_explore" / "__init__.py"


def test_import_pulls_in_no_model_classes_plots_widgets_or_peft():
    result = _python(
        """
        import loretta_explore
        print(json.dumps({"heavy": loaded(*HEAVY), "torch": loaded("torch")[:3]}))
    """
    )
    assert result["heavy"] == [], f"`import loretta_explore` imported {result['heavy'][:10]}"
    assert result["torch"] == [], (
        "`import loretta_explore` imported torch: the package docstring "
        "promises that nothing is imported until it is used"
    )


def test_the_check_sees_heavy_modules_once_they_are_used():
    """The test would pass vacuously if the check never saw these modules: show that it does."""
    result = _python(
        """
        import loretta_explore as lx
        lx.plots.tt_diagram
        print(json.dumps({"heavy": loaded(*HEAVY)}))
    """
    )
    assert "matplotlib" in result["heavy"]


def test_the_budget_command_needs_no_transformers():
    result = _python(
        """
        import contextlib, io, runpy
        sys.argv = ["loretta_explore", "budget", "llama-2-7b"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                runpy.run_module("loretta_explore", run_name="__main__")
            except SystemExit as stop:
                assert not stop.code, stop.code
        print(json.dumps({"heavy": loaded("transformers", *HEAVY), "out": out.getvalue()}))
    """
    )
    assert result["heavy"] == [], f"the budget command imported {result['heavy'][:10]}"
    assert "loretta_rep" in result["out"] and "507,904" in result["out"]


def test_plots_and_widgets_work_without_an_import_of_their_own():
    result = _python("""
        import loretta_explore as lx
        fig = lx.plots.tt_diagram([4, 4, 4], ranks=[1, 2, 2, 1])
        ui = lx.widgets.budget_explorer()
        print(json.dumps({"fig": type(fig).__name__, "ui": type(ui).__name__,
                          "modules": [m for m in loaded("loretta_explore.plots", "loretta_explore.widgets")
                                      if m.count(".") == 1],  # the packages (their parts load too)
                          "same": lx.plots is sys.modules["loretta_explore.plots"]}))
    """)
    assert result == {
        "fig": "Figure",
        "ui": "Explorer",
        "same": True,
        "modules": ["loretta_explore.plots", "loretta_explore.widgets"],
    }


@pytest.mark.slow
def test_every_public_name_resolves():
    result = _python("""
        import loretta_explore as lx
        missing = [name for name in lx.__all__ if getattr(lx, name, None) is None]
        not_listed = sorted(set(lx.__all__) - set(dir(lx)))
        namespace = {}
        exec("from loretta_explore import *", namespace)
        starred = sorted(set(lx.__all__) - set(namespace))
        wrong_home = [name for name, module in lx._EXPORTS.items()
                      if getattr(lx, name) is not getattr(getattr(lx, module), name)]
        submodules = [name for name in lx._SUBMODULES if not hasattr(getattr(lx, name), "__file__")]
        try:
            lx.no_such_name
            unknown = "no error"
        except AttributeError as err:
            unknown = str(err)
        print(json.dumps({"missing": missing, "not_listed": not_listed, "starred": starred,
                          "wrong_home": wrong_home, "submodules": submodules, "unknown": unknown,
                          "count": len(lx.__all__)}))
    """)
    assert result["missing"] == [] and result["starred"] == [], result
    assert result["not_listed"] == [] and result["wrong_home"] == [] and result["submodules"] == []
    assert result["unknown"] == "module 'loretta_explore' has no attribute 'no_such_name'"
    assert result["count"] >= 30


# ---------------------------------------------------------------------------------------------
# Optional packages name the extra that provides them
# ---------------------------------------------------------------------------------------------


def test_require_returns_the_module_when_installed():
    from loretta_explore._optional import require

    assert require("json", purpose="x").dumps([1]) == "[1]"
    assert require("os", purpose="x", module="os.path").__name__ == "posixpath"


def test_require_names_the_package_and_the_extra():
    from loretta_explore._optional import require

    with pytest.raises(ImportError) as err:
        require("no_such_package_h7", "notebooks", "lx.plots (the kit's figures)")
    assert str(err.value) == (
        "lx.plots (the kit's figures) needs the `no_such_package_h7` package: "
        "pip install 'loretta_explore[notebooks]' (or pip install no_such_package_h7)"
    )
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_require_keeps_the_error_of_an_installed_but_broken_package(tmp_path, monkeypatch):
    from loretta_explore._optional import require

    (tmp_path / "broken_h7").mkdir()
    (tmp_path / "broken_h7" / "__init__.py").write_text("import no_such_dependency_h7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_h7"):
        require("broken_h7", purpose="x")


def test_the_import_benchmark_judges_its_aims():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import import_time

    def row(case, ratio, aim):
        return dict(
            case=case,
            median_s=ratio,
            min_s=ratio,
            max_s=ratio,
            ratio=ratio,
            ratio_min=ratio,
            ratio_max=ratio,
            aim=aim,
            met=None if aim is None else ratio <= aim,
        )

    raw = {
        "measured": "2026-01-01",
        "rounds": 3,
        "rows": [
            row("import torch", 1.0, None),
            row("import loretta_explore", 1.6, 1.5),
            row("python -m loretta_explore budget llama-2-7b", 1.2, 1.5),
        ],
    }
    text = import_time.markdown(raw)
    assert "| `import loretta_explore` | 1.60 s |" in text and "<= 1.5: **missed**" in text
    assert "<= 1.5: met" in text
    line = import_time.aims_line(raw)
    assert "`import loretta_explore` 1.60x (MISSED)" in line and "1.20x (met)" in line
    assert "import torch`" not in line.split(":", 1)[1]


def test_optional_block_names_the_package_and_the_extra():
    from loretta_explore._optional import optional

    with pytest.raises(
        ImportError, match=r"^lx.plots needs the `no_such_package_h7` package: pip "
    ):
        with optional("no_such_package_h7", purpose="lx.plots"):
            import no_such_package_h7.pyplot  # noqa: F401
    with pytest.raises(ModuleNotFoundError, match="other_missing_h7"):
        with optional("no_such_package_h7", purpose="lx.plots"):
            import other_missing_h7  # noqa: F401
    with optional("json", purpose="x"):
        import json as loaded
    assert loaded.dumps(1) == "1"


def test_the_import_graph_runs_one_way():
    """tools/import_graph.py --check: no module of the kit imports one that imports it back,
    not even inside a function (deferred imports are dependencies too)."""
    import subprocess
    import sys
    from pathlib import Path

    tool = Path(__file__).resolve().parent.parent / "tools" / "import_graph.py"
    run = subprocess.run([sys.executable, str(tool), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "no cycle" in run.stdout
