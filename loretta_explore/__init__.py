"""loretta_explore: a notebook-first teaching kit for tensor-train fine-tuning (LoRETTA).

The public API below is what lessons and course assignments import; names stay stable.
See Yang et al., "LoRETTA", NAACL 2024 (arXiv 2402.11417).
"""

from . import checks
from .adapt import LorettaConfig, LorettaModel, get_loretta_model
from .baselines import METHODS, prepare
from .budget import budget_table, count_trainable
from .comparison import Comparison, compare
from .data import Task, known_tasks, load_task, make_loader
from .experiments import joint_tasks, overfitting_curve, sequential_tasks
from .layers import LorettaRepLinear, TTAdapter, TTLinear
from .models import (
    REFERENCE_MODELS,
    build_reference_model,
    load_encoder,
    load_model,
    reference_config,
    tiny_decoder,
)
from .tensorize import factorize, suggest_shape
from .training import TrainingDiverged, TrainResult, evaluate, train
from .tt import TensorTrain, TTMatrix, tt_matrix, tt_svd
from .user_tasks import TaskSplits, task_from

__version__ = "0.1.0"

__all__ = [
    "METHODS", "budget_table", "checks", "count_trainable", "Task", "TrainResult", "compare", "evaluate", "known_tasks", "load_task", "make_loader",
    "overfitting_curve", "prepare", "sequential_tasks", "train",
    "Comparison", "TaskSplits", "TrainingDiverged", "joint_tasks", "task_from",
    "REFERENCE_MODELS", "LorettaConfig", "LorettaModel", "LorettaRepLinear", "TTAdapter", "TTLinear",
    "TTMatrix", "TensorTrain", "build_reference_model", "factorize", "get_loretta_model", "load_encoder",
    "load_model", "reference_config", "suggest_shape", "tiny_decoder", "tt_matrix", "tt_svd", "__version__",
]
