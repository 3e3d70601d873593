"""The architecture registry: one record per model family, read by every part of the kit.

>>> from loretta_explore.architectures import architecture
>>> architecture("deberta-v2").rep
('query_proj', 'value_proj')

Adding a family is one :class:`Architecture` record (in encoders.py or decoders.py: where its
adapters and updates go, its head and IA3 names, and the function that lists its modules from a
config) plus a tiny config in the tests; adaptation, counting, the baselines and model loading
then all know it.
"""

from __future__ import annotations

from .base import (
    CAUSAL_LM,
    SEQUENCE_CLASSIFICATION,
    TASKS,
    Architecture,
    BaselineDefaults,
    ModelSpec,
    Site,
)
from .decoders import DECODERS
from .encoders import ENCODERS

__all__ = [
    "ARCHITECTURES",
    "CAUSAL_LM",
    "SEQUENCE_CLASSIFICATION",
    "TASKS",
    "Architecture",
    "BaselineDefaults",
    "ModelSpec",
    "Site",
    "architecture",
    "find_architecture",
    "known_model_types",
]

#: model_type -> its family's record
ARCHITECTURES: dict[str, Architecture] = {
    t: a for a in (*ENCODERS, *DECODERS) for t in a.model_types
}


def known_model_types() -> list[str]:
    return sorted(ARCHITECTURES)


def _model_type(model_or_config) -> str | None:
    if isinstance(model_or_config, str):
        return model_or_config
    config = getattr(model_or_config, "config", model_or_config)
    return getattr(config, "model_type", None)


def find_architecture(model_or_config) -> Architecture | None:
    """The record of a model, config or ``model_type`` string; None for an unknown family."""
    return ARCHITECTURES.get(_model_type(model_or_config))


def architecture(model_or_config) -> Architecture:
    """The record of a model, config or ``model_type`` string; a clear error for unknown ones."""
    found = find_architecture(model_or_config)
    if found is None:
        raise ValueError(
            f"the kit knows no model family with model_type {_model_type(model_or_config)!r}; known: "
            f"{', '.join(known_model_types())}. To adapt another model, name its layers yourself: "
            "get_loretta_model(model, LorettaConfig(target_modules=['q_proj', 'v_proj']))"
        )
    return found
