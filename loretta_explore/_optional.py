"""Optional packages: import one where it is needed, or say which extra of the kit provides it.

Why: the kit's core (tensor trains, layers, budgets, training) needs torch and transformers only;
figures, widgets, PEFT baselines, tensorly interop and GLUE come from the ``notebooks`` extra. A
bare ``ModuleNotFoundError: No module named 'matplotlib'`` does not tell a student that one
``pip install 'loretta_explore[notebooks]'`` brings everything the lessons use.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from types import ModuleType

#: package -> the extra of loretta_explore that installs it (pyproject.toml)
EXTRAS: dict[str, str] = {
    "ipywidgets": "notebooks",
    "matplotlib": "notebooks",
    "tensorly": "notebooks",
    "peft": "notebooks",
    "datasets": "notebooks",
    "accelerate": "notebooks",
}


def missing_message(package: str, extra: str, purpose: str) -> str:
    """``"<purpose> needs the `<package>` package: pip install 'loretta_explore[<extra>]'"``."""
    return (
        f"{purpose} needs the `{package}` package: pip install 'loretta_explore[{extra}]' "
        f"(or pip install {package})"
    )


def require(
    package: str, extra: str | None = None, purpose: str = "This", module: str | None = None
) -> ModuleType:
    """Import ``module`` (default: ``package``) and return it; if ``package`` is not installed,
    raise an ImportError that names it and the extra that provides it.

    Parameters
    ----------
    package : str
        The distribution's import name, e.g. ``"matplotlib"``.
    extra : str, optional
        The extra of loretta_explore that installs it; default from :data:`EXTRAS`.
    purpose : str
        What needs it, as the sentence's subject: ``"lx.plots (the kit's figures)"``.
    module : str, optional
        The module to import and return, e.g. ``"matplotlib.pyplot"``.

    Examples
    --------
    >>> plt = require("matplotlib", purpose="lx.plots", module="matplotlib.pyplot")  # doctest: +SKIP
    """
    extra = extra or EXTRAS.get(package, "notebooks")
    try:
        return importlib.import_module(module or package)
    except ModuleNotFoundError as err:
        if err.name is None or err.name.split(".")[0] != package.split(".")[0]:
            raise  # the package is there but something it imports is not: its own error says what
        raise ImportError(missing_message(package, extra, purpose), name=package) from None


@contextlib.contextmanager
def optional(package: str, extra: str | None = None, purpose: str = "This") -> Iterator[None]:
    """The same message for a block of imports, for modules that need the package at import time.

    Examples
    --------
    >>> with optional("matplotlib", purpose="lx.plots (the kit's figures)"):  # doctest: +SKIP
    ...     import matplotlib.pyplot as plt
    ...     from matplotlib.figure import Figure
    """
    try:
        yield
    except ModuleNotFoundError as err:
        if err.name is None or err.name.split(".")[0] != package.split(".")[0]:
            raise
        extra = extra or EXTRAS.get(package, "notebooks")
        raise ImportError(missing_message(package, extra, purpose), name=package) from None
