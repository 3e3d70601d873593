"""Put LoRETTA into a Hugging Face model: ``get_loretta_model(model, LorettaConfig())``.

PEFT-like on purpose (config / layer / model split): it freezes the base model, adds TT adapters
(adp) or TT-reparameterised updates (rep) where the paper put them (docs/method.md#placement,
read from the architecture registry), unfreezes the norms and the head the paper trains, and
returns a :class:`~loretta_explore.LorettaModel` that saves only what was trained. Every setting
is checked before the model is touched, and a failure half way puts the model back as it was.

The pieces live below: :mod:`.config` (LorettaConfig), :mod:`.placement` (where and how layers
go in and out), :mod:`.loretta_model` (the wrapped model). Their names stay importable from here.
"""

from __future__ import annotations

from torch import nn

from .config import LorettaConfig
from .loretta_model import LorettaModel
from .placement import (
    LORETTA_MODULES,
    AdapterAround,
    TensorizedHead,
    inject_loretta,
    is_norm,
    linear_names,
    place_adapters,
    remove_loretta,
    weight_sizes,
)

__all__ = [
    "LORETTA_MODULES",
    "AdapterAround",
    "LorettaConfig",
    "TensorizedHead",
    "get_loretta_model",
    "is_norm",
    "linear_names",
    "place_adapters",
    "remove_loretta",
    "weight_sizes",
]


def get_loretta_model(
    model: nn.Module, config: LorettaConfig | None = None, *, literal_targets: bool = False
) -> LorettaModel:
    """Freeze `model`, insert LoRETTA as `config` says, and wrap it in a LorettaModel.

    Raises a ValueError, with `model` left as it was, for a model that is already adapted, a
    target that matches nothing, a bottleneck wider than a layer, or a family the kit does not
    know without ``target_modules``. ``literal_targets`` matches target names exactly (no
    patterns): used when the names come from a saved file.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"get_loretta_model needs a torch model (nn.Module), got "
            f"{type(model).__name__} {model!r:.60}. Load one first, e.g. model, tok = "
            f"lx.load_encoder(); lx.get_loretta_model(model, lx.LorettaConfig())"
        )
    if isinstance(model, LorettaModel):
        raise ValueError(
            "this model is a LorettaModel already: adapting it again would stack a "
            "second set of LoRETTA layers. Adapt the original model, or call "
            "model.unload() first to get it back without LoRETTA"
        )
    config = config or LorettaConfig()
    if not isinstance(config, LorettaConfig):
        raise TypeError(
            f"config must be a LorettaConfig, got {type(config).__name__}. Example: "
            "get_loretta_model(model, LorettaConfig(method='rep'))"
        )
    return LorettaModel(model, inject_loretta(model, config, literal_targets))
