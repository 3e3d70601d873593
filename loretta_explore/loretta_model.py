"""The adapted model: a base model with LoRETTA inside, that trains, reports, switches and saves.

:class:`LorettaModel` passes ``forward`` and ``generate`` through to the base model (with the base
model's signature, so ``transformers.Trainer`` keeps the dataset's columns), counts and reports
what trains, switches LoRETTA off (:meth:`~LorettaModel.disable_adapter`), folds rep updates into
the weights (:meth:`~LorettaModel.merge_and_unload`) or takes LoRETTA out again
(:meth:`~LorettaModel.unload`), and saves only what was trained (:mod:`.adapter_files`).
"""

from __future__ import annotations

import contextlib
import functools
import re
from pathlib import Path

import torch
from torch import nn

from .adapt import TensorizedHead, is_norm, remove_loretta
from .layers import LorettaRepLinear, TTLinear

__all__ = ["LorettaModel"]


def _owner(model: nn.Module, parameter_name: str) -> nn.Module:
    return model.get_submodule(parameter_name.rpartition(".")[0])


class LorettaModel(nn.Module):
    """A base model with LoRETTA inside: passes forward/generate through, saves only what trains.

    Examples
    --------
    >>> model = get_loretta_model(hf_model, LorettaConfig(method="rep"))
    >>> model.print_trainable_parameters()
    trainable params: 54,068 || all params: 139,247,938 || trainable%: 0.0388
    """

    def __init__(self, base_model: nn.Module, config):
        super().__init__()
        self.base_model, self.loretta_config = base_model, config
        self._expose_base_signature()
        # pretrained values of the base model's own trainable tensors (norms, classifier, dense
        # head): tiny, and what lets disable_adapter() give back the base model's function
        self._pretrained = {n: p.detach().clone() for n, p in base_model.named_parameters()
                            if p.requires_grad and not isinstance(_owner(base_model, n), TTLinear)}

    def forward(self, *args, **kwargs):
        return self.base_model(*args, **kwargs)

    def __getstate__(self):  # copy/pickle without the per-instance forward (it points at this model)
        state = dict(self.__dict__)
        state.pop("forward", None)
        return state

    def __setstate__(self, state):  # ... and rebuild it for the copy
        super().__setstate__(state)
        self._expose_base_signature()

    def _expose_base_signature(self) -> None:
        """Give this instance's forward the base model's signature (via functools.wraps).

        transformers' Trainer keeps only the dataset columns that `model.forward` names; a bare
        (*args, **kwargs) would make it drop every column.
        """
        base_forward = self.base_model.forward

        @functools.wraps(base_forward)
        def forward(*args, **kwargs):
            return self.base_model(*args, **kwargs)

        object.__setattr__(self, "forward", forward)

    def generate(self, *args, **kwargs):
        return self.base_model.generate(*args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("base_model"), name)

    # -- counting -------------------------------------------------------------------------
    def trainable_state(self) -> dict[str, torch.Tensor]:
        """What :meth:`save_pretrained` writes: trained parameters plus frozen TT starting points."""
        return {n: p for n, p in self.base_model.named_parameters()
                if p.requires_grad or re.search(r"\.(A0|B0)\.cores\.", n)}

    def num_trainable(self) -> int:
        return sum(p.numel() for p in self.base_model.parameters() if p.requires_grad)

    def print_trainable_parameters(self) -> None:
        """PEFT's one-line summary."""
        total = sum(p.numel() for p in self.base_model.parameters())
        trainable = self.num_trainable()
        print(f"trainable params: {trainable:,} || all params: {total:,} || "
              f"trainable%: {100 * trainable / total:.4f}")

    def parameter_report(self) -> list[dict]:
        """One row per trainable tensor: name, kind (tt core, bias, norm, head), layer, shape, count."""
        rows = []
        for name, p in self.base_model.named_parameters():
            if not p.requires_grad:
                continue
            layer = re.search(r"layers?\.(\d+)\.|\bh\.(\d+)\.", name)
            owner = _owner(self.base_model, name)
            kind = ("tt core" if ".cores." in name else "norm" if is_norm(owner)
                    else "adapter bias" if ".adapter." in name else "head")
            rows.append(dict(name=name, kind=kind, shape=tuple(p.shape), count=p.numel(),
                             layer=int(next(g for g in layer.groups() if g)) if layer else None))
        return rows

    # -- switching ------------------------------------------------------------------------
    @contextlib.contextmanager
    def disable_adapter(self):
        """Within the block the model computes the base model's function: adapters, rep updates
        and tensorized heads are off, and trained norms and classifier hold their pretrained values."""
        if getattr(self, "_disabled_depth", 0):  # nested: the outer block switches back
            self._disabled_depth += 1
            try:
                yield self
            finally:
                self._disabled_depth -= 1
            return
        switches = [m for m in self.base_model.modules() if hasattr(m, "disabled")]
        params = dict(self.base_model.named_parameters())
        trained = {n: params[n].detach().clone() for n in self._pretrained}
        self._disabled_depth = 1
        try:
            for m in switches:
                m.disabled = True
            with torch.no_grad():
                for n, value in self._pretrained.items():
                    params[n].copy_(value)
            yield self
        finally:
            self._disabled_depth = 0
            for m in switches:
                m.disabled = False
            with torch.no_grad():
                for n, value in trained.items():
                    params[n].copy_(value)

    def merge_and_unload(self) -> nn.Module:
        """rep: fold every update into its base weight and return the plain base model.

        After this the LorettaModel holds no LoRETTA layers any more: save the adapter before
        merging (saving afterwards raises, since there is nothing left to save).
        """
        if self.loretta_config.method != "rep":
            raise TypeError("merge_and_unload needs method='rep': adapters (adp) are non-linear "
                            "(h + up(relu(down(h)))), so they cannot be folded into a weight. Keep "
                            "the LorettaModel, or use LorettaConfig(method='rep').")
        from .adapt import _replace

        for name, module in list(self.base_model.named_modules()):
            if isinstance(module, LorettaRepLinear):
                module.merge()
                _replace(self.base_model, name, module.base)
            elif isinstance(module, TensorizedHead):
                tt = module.tt
                dense = nn.Linear(tt.in_features, tt.out_features, device=tt.cores[0].device)
                with torch.no_grad():
                    dense.weight.copy_(tt.weight)
                    dense.bias.copy_(tt.bias)
                _replace(self.base_model, name, dense)
        self._unloaded = True
        return self.base_model

    def unload(self) -> nn.Module:
        """Take LoRETTA out without merging: the base model with its pretrained layers back.

        Norms and the classifier keep the values they were trained to (use
        :meth:`disable_adapter` for the pretrained function without removing anything).
        """
        remove_loretta(self.base_model)
        self._unloaded = True
        return self.base_model

    # -- saving ---------------------------------------------------------------------------
    def save_pretrained(self, directory, **kwargs) -> Path:
        """Write the adapter folder: its config and only the trained tensors (safetensors)."""
        from .adapter_files import save_adapter

        return save_adapter(self, directory, **kwargs)

    @classmethod
    def from_pretrained(cls, base_model: nn.Module, directory, is_trainable: bool = False,
                        **kwargs) -> LorettaModel:
        """Rebuild the LoRETTA layout on `base_model` and load the saved tensors into it.

        Everything is read and checked before `base_model` is touched; a failure leaves it as it was.
        """
        from .adapter_files import load_adapter

        return load_adapter(base_model, directory, is_trainable=is_trainable, **kwargs)
