"""loretta_explore: a notebook-first teaching kit for tensor-train fine-tuning (LoRETTA).

The public API below is what lessons and course assignments import; names stay stable.
See Yang et al., "LoRETTA", NAACL 2024 (arXiv 2402.11417).
"""

from .tensorize import factorize, suggest_shape
from .tt import TensorTrain, TTMatrix, tt_matrix, tt_svd

__version__ = "0.1.0"

__all__ = ["TTMatrix", "TensorTrain", "factorize", "suggest_shape", "tt_matrix", "tt_svd", "__version__"]
