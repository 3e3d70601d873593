"""loretta_explore: a notebook-first teaching kit for tensor-train fine-tuning (LoRETTA).

The public API below is what lessons and course assignments import; names stay stable. Nothing is
imported until it is first used (PEP 562), so ``import loretta_explore`` is instant and
``lx.plots`` / ``lx.widgets`` work without an import of their own. The method: Yang et al.,
"LoRETTA", NAACL 2024 (arXiv 2402.11417), retold in docs/method.md.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings

__version__ = "0.2.0"

#: public name -> the submodule that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("factorize", "suggest_shape"), "tensorize"),
    **dict.fromkeys(("TensorTrain", "TTMatrix", "tt_matrix", "tt_svd"), "tt"),
    **dict.fromkeys(("TTLinear", "TTAdapter", "LorettaRepLinear"), "layers"),
    **dict.fromkeys(("LorettaConfig", "get_loretta_model"), "adapt"),
    "LorettaModel": "loretta_model",
    "lesson_mode": "modes",
    "METHODS": "methods",
    "prepare": "baselines",
    **dict.fromkeys(("budget_table", "count_trainable"), "budget"),
    **dict.fromkeys(("Task", "known_tasks", "load_task"), "data"),
    "make_loader": "batching",
    **dict.fromkeys(
        (
            "REFERENCE_MODELS",
            "build_reference_model",
            "load_encoder",
            "load_model",
            "reference_config",
            "tiny_decoder",
        ),
        "models",
    ),
    **dict.fromkeys(("TrainResult", "TrainingDiverged", "evaluate", "train"), "training"),
    **dict.fromkeys(("Comparison", "compare"), "comparison"),
    **dict.fromkeys(("joint_tasks", "overfitting_curve", "sequential_tasks"), "experiments"),
    **dict.fromkeys(("TaskSplits", "task_from"), "user_tasks"),
    **dict.fromkeys(("measured", "measured_names"), "shipped_results"),
}
#: submodules reachable as attributes (``lx.plots.spectra(...)``) without importing them first
_SUBMODULES = frozenset(
    {
        "adapt",
        "adapter_files",
        "architectures",
        "baselines",
        "budget",
        "checks",
        "comparison",
        "data",
        "diagrams",
        "experiments",
        "layers",
        "loretta_model",
        "methods",
        "metrics",
        "models",
        "modes",
        "paper",
        "plots",
        "quizzes",
        "rep_starts",
        "shipped_results",
        "sweeps",
        "tensorize",
        "train_setup",
        "training",
        "tt",
        "units",
        "user_tasks",
        "widgets",
    }
)

__all__ = sorted([*_EXPORTS, "checks", "plots", "widgets", "__version__"])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'loretta_explore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})


class _MovedModule(types.ModuleType):
    """``loretta_explore.train`` became ``loretta_explore.training`` (``lx.train`` is the function);
    the old path keeps working for ``from loretta_explore.train import ...``, with a warning."""

    def __getattr__(self, name: str):
        if name.startswith("__"):  # tools that scan sys.modules ask for __file__ and the like
            raise AttributeError(name)
        warnings.warn(
            "loretta_explore.train was renamed loretta_explore.training; import from there",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(f"{__name__}.training"), name)


sys.modules.setdefault(f"{__name__}.train", _MovedModule(f"{__name__}.train"))
