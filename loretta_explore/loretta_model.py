"""The adapted model: a base model with LoRETTA inside, that trains, reports, switches and saves.

:class:`LorettaModel` passes ``forward`` and ``generate`` through to the base model (with the base
model's signature, so ``transformers.Trainer`` keeps the dataset's columns), counts and reports
what trains, switches LoRETTA off (:meth:`~LorettaModel.disable_adapter`), folds rep updates into
the weights (:meth:`~LorettaModel.merge_and_unload`) or takes LoRETTA out again
(:meth:`~LorettaModel.unload`), and saves only what was trained (:mod:`.adapter_files`), to a
folder or the Hub (:mod:`.hub`).

Its ``state_dict()`` is the adapter too (plus its config), which is what makes a plain
``transformers.Trainer`` write checkpoints of adapter size, resume from them and load the best one
(docs/adapter_format.md#trainer).
"""

from __future__ import annotations

import contextlib
import functools
import re
from pathlib import Path

import torch
from torch import nn

from .adapter_files import (
    EXTRA_STATE,
    check_extra_state,
    check_fit,
    extra_state,
    read_adapter,
    save_adapter,
)
from .hub import adapter_folder, push_adapter
from .layers import LorettaRepLinear, TTLinear
from .placement import (
    TensorizedHead,
    clean_name,
    inject_loretta,
    is_norm,
    refuse_adapted,
    remove_loretta,
    replace_module,
)

__all__ = ["LorettaModel"]


def _owner(model: nn.Module, parameter_name: str) -> nn.Module:
    return model.get_submodule(parameter_name.rpartition(".")[0])


#: base-model methods that act on transformers/PEFT adapters: wrong for a LorettaModel
NOT_FOR_LORETTA = (
    "load_adapter",
    "add_adapter",
    "set_adapter",
    "enable_adapters",
    "disable_adapters",
    "active_adapters",
    "active_adapter",
    "delete_adapter",
    "get_adapter_state_dict",
    "enable_peft_hotswap",
)


def _parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """named_parameters under the names the model had when it was adapted (wrappers removed)."""
    return {clean_name(n): p for n, p in model.named_parameters()}


def _remember_prefix(module, state_dict, prefix, *args) -> None:
    """load_state_dict pre-hook: where this LorettaModel sits in the dict being loaded."""
    module.__dict__["_load_prefix"] = prefix


def _forgive_frozen(module, incompatible_keys) -> None:
    """load_state_dict post-hook: an adapter-only dict (what state_dict() gives) loads strictly.

    The frozen base weights are not in it on purpose; a missing adapter tensor is still an error.
    """
    prefix = module.__dict__.pop("_load_prefix", "")
    adapter = {prefix + "base_model." + n for n in module._saved_names}
    frozen, extra = prefix + "base_model.", prefix + EXTRA_STATE
    incompatible_keys.missing_keys[:] = [
        k
        for k in incompatible_keys.missing_keys
        if k in adapter or not (k.startswith(frozen) or k == extra)
    ]


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
        self._pretrained = {
            n: p.detach().clone()
            for n, p in base_model.named_parameters()
            if p.requires_grad and not isinstance(_owner(base_model, n), TTLinear)
        }
        # what the adapter is, fixed now (later requires_grad changes do not change the format):
        # the trained tensors and the frozen TT starting points of a compensated rep start
        self._trained_names = tuple(n for n, p in base_model.named_parameters() if p.requires_grad)
        self._saved_names = tuple(
            n
            for n, p in base_model.named_parameters()
            if p.requires_grad or re.search(r"\.(A0|B0)\.cores\.", n)
        )
        self.register_load_state_dict_pre_hook(_remember_prefix)
        self.register_load_state_dict_post_hook(_forgive_frozen)

    def forward(self, *args, labels=None, **kwargs):
        """The base model's forward. (Each instance shows the base model's own signature; this
        class-level one names ``labels`` because transformers' Trainer looks for label names in
        the class's signature: without it, evaluation would compute no loss.)"""
        if labels is not None:
            kwargs["labels"] = labels
        return self.base_model(*args, **kwargs)

    def __getstate__(self):
        """Copy/pickle without the per-instance forward (it points at this model)."""
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
            if name in NOT_FOR_LORETTA:
                raise AttributeError(
                    f"LorettaModel has no {name}: the base model's {name} manages transformers/"
                    f"PEFT adapters, not LoRETTA's. A LorettaModel holds one LoRETTA adapter: "
                    f"switch it off with `with model.disable_adapter():`, save it with "
                    f"model.save_pretrained(folder) or model.push_to_hub('owner/name'), load one "
                    f"with lx.LorettaModel.from_pretrained(base_model, folder_or_repo), take it "
                    f"out with model.unload()"
                ) from None
            return getattr(super().__getattr__("base_model"), name)

    # -- counting -------------------------------------------------------------------------
    def trainable_state(self) -> dict[str, torch.Tensor]:
        """What :meth:`save_pretrained` writes: trained parameters plus frozen TT starting points.

        The set is fixed when the model is made, so a model loaded with ``is_trainable=False``
        (everything frozen) still saves its whole adapter.
        """
        params = _parameters(self.base_model)
        return {n: params[n] for n in self._saved_names}

    def num_trainable(self) -> int:
        return sum(p.numel() for p in self.base_model.parameters() if p.requires_grad)

    def num_trained(self) -> int:
        """Numbers the adapter trains (its trainable count when made, whatever is frozen now)."""
        params = _parameters(self.base_model)
        return sum(params[n].numel() for n in self._trained_names)

    # -- state_dict: the adapter, so that Trainer checkpoints are adapter-sized -------------
    def state_dict(
        self, *args, destination=None, prefix: str = "", keep_vars: bool = False, full: bool = False
    ):
        """The adapter's tensors (keys ``base_model.<name>``) and its config (``_extra_state``).

        What ``transformers.Trainer`` writes into every checkpoint and ``save_model`` folder, and
        what it loads back on ``resume_from_checkpoint`` and ``load_best_model_at_end``: the
        frozen base weights are not in it. ``full=True`` gives every tensor, as does a wrapping
        module asking for its children's state (DDP, FSDP or a parent module pass a prefix or a
        destination): FSDP requires every parameter in the dict. ``load_state_dict`` takes either.
        """
        if args or destination is not None or prefix or full or getattr(self, "_unloaded", False):
            return super().state_dict(
                *args, destination=destination, prefix=prefix, keep_vars=keep_vars
            )
        state = super().state_dict(keep_vars=keep_vars)
        keep = {"base_model." + n for n in self._saved_names} | {EXTRA_STATE}
        for key in [k for k in state if k not in keep]:
            del state[key]
        return state

    def get_extra_state(self) -> torch.Tensor:
        """The adapter's config (JSON bytes as uint8: safetensors holds only tensors)."""
        return extra_state(self)

    def set_extra_state(self, state) -> None:
        """Refuse a state_dict of a LorettaModel with other settings (alpha, ranks, targets)."""
        check_extra_state(self, state)

    def print_trainable_parameters(self) -> None:
        """PEFT's one-line summary."""
        total = sum(p.numel() for p in self.base_model.parameters())
        trainable = self.num_trainable()
        print(
            f"trainable params: {trainable:,} || all params: {total:,} || "
            f"trainable%: {100 * trainable / total:.4f}"
        )

    def parameter_report(self) -> list[dict]:
        """One row per trainable tensor: name, kind (tt core, bias, norm, head), layer, shape, count."""
        rows = []
        for name, p in self.base_model.named_parameters():
            if not p.requires_grad:
                continue
            layer = re.search(r"layers?\.(\d+)\.|\bh\.(\d+)\.", name)
            owner = _owner(self.base_model, name)
            kind = (
                "tt core"
                if ".cores." in name
                else "norm"
                if is_norm(owner)
                else "adapter bias"
                if ".adapter." in name
                else "head"
            )
            rows.append(
                dict(
                    name=name,
                    kind=kind,
                    shape=tuple(p.shape),
                    count=p.numel(),
                    layer=int(next(g for g in layer.groups() if g)) if layer else None,
                )
            )
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
            raise TypeError(
                "merge_and_unload needs method='rep': adapters (adp) are non-linear "
                "(h + up(relu(down(h)))), so they cannot be folded into a weight. Keep "
                "the LorettaModel, or use LorettaConfig(method='rep')."
            )
        for name, module in list(self.base_model.named_modules()):
            if isinstance(module, LorettaRepLinear):
                module.merge(keep_pretrained=False)  # the weight is not given back: no copy
                replace_module(self.base_model, name, module.base)
            elif isinstance(module, TensorizedHead):
                tt = module.tt
                dense = nn.Linear(tt.in_features, tt.out_features, device=tt.cores[0].device)
                with torch.no_grad():
                    dense.weight.copy_(tt.weight)
                    dense.bias.copy_(tt.bias)
                replace_module(self.base_model, name, dense)
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
    def save_pretrained(
        self,
        save_directory,
        state_dict: dict | None = None,
        safe_serialization: bool = True,
        is_main_process: bool = True,
    ) -> Path:
        """Write the adapter folder: its config and only the trained tensors (safetensors).

        The signature is transformers' (``state_dict``: tensors to write instead of the live ones;
        ``is_main_process=False`` writes nothing, for the other ranks of a distributed run).
        Files: ``loretta_config.json``, ``loretta_adapter.safetensors`` and a note for PEFT in
        ``adapter_config.json`` (docs/adapter_format.md).
        """
        if not safe_serialization:
            raise ValueError(
                "LoRETTA adapters are written as safetensors only (nothing is pickled):"
                " call save_pretrained(folder) without safe_serialization=False"
            )
        return save_adapter(
            self, save_directory, state_dict=state_dict, is_main_process=is_main_process
        )

    def push_to_hub(
        self,
        repo_id: str,
        *,
        private: bool | None = None,
        token: str | bool | None = None,
        revision: str | None = None,
        commit_message: str | None = None,
        create_pr: bool = False,
    ):
        """Upload the adapter (a few hundred kB, never the base model) and a model card to the Hub.

        Examples
        --------
        >>> model.push_to_hub("me/minilm-sentiment-loretta")  # then, anywhere:
        >>> lx.LorettaModel.from_pretrained(base, "me/minilm-sentiment-loretta")
        """
        return push_adapter(
            self,
            repo_id,
            private=private,
            token=token,
            revision=revision,
            commit_message=commit_message,
            create_pr=create_pr,
        )

    @classmethod
    def from_pretrained(
        cls,
        base_model: nn.Module,
        model_id,
        is_trainable: bool = False,
        *,
        revision: str | None = None,
        token: str | bool | None = None,
        cache_dir=None,
        local_files_only: bool = False,
    ) -> LorettaModel:
        """Rebuild the LoRETTA layout on `base_model` and load a saved adapter into it.

        `model_id` is a folder (written by :meth:`save_pretrained`, a Trainer checkpoint of a
        LorettaModel, or an earlier kit's folder) or a Hub repo id "owner/name", of which only
        the adapter files are downloaded (`revision`, `token`, `cache_dir`, `local_files_only`
        go to huggingface_hub). Everything is read and checked before `base_model` is touched;
        a failure leaves it as it was.
        """
        folder = adapter_folder(
            model_id,
            revision=revision,
            token=token,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
        )
        refuse_adapted(base_model)
        config, state, where = read_adapter(base_model, folder)
        requires_grad = {n: p.requires_grad for n, p in base_model.named_parameters()}
        model = cls(base_model, inject_loretta(base_model, config, literal_targets=True))
        try:
            expected = model.trainable_state()
            check_fit(expected, state, where, type(base_model).__name__)
        except Exception:
            remove_loretta(base_model, requires_grad)
            raise
        with torch.no_grad():  # every name and shape matched: this cannot fail half way
            for n, p in expected.items():
                p.copy_(state[n].to(p.dtype))
        if not is_trainable:
            model.requires_grad_(False)
        return model
