"""What the kit knows about one model family, and a model reduced to a table of its modules.

An :class:`Architecture` record says everything any part of the kit needs about a family: which
``model_type`` values belong to it, where LoRETTA_adp's adapters and LoRETTA_rep's updates go
(docs/method.md#placement), the names of the classification head, IA3's targets, the baselines'
default settings and the paper's defaults. Adaptation (adapt.py), counting (budget/), the
baselines (baselines.py) and model loading (models.py) all read the same record, so they cannot
disagree about a family.

A :class:`ModelSpec` is a model as its config defines it: a list of :class:`Site` (module name,
kind, sizes, bias). Each record carries the function that builds it from a config, without
transformers' model classes and without a single weight, which is how the kit counts the
parameters of LLaMA-2-70B in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

SEQUENCE_CLASSIFICATION, CAUSAL_LM = TASKS = ("sequence-classification", "causal-lm")


@dataclass(frozen=True)
class BaselineDefaults:
    """The baselines' settings on a family, as the paper counts them (docs/method.md#counting).

    Encoders: LoRA r=8 and BitFit as in the paper's GLUE table; adapters as Houlsby et al. train
    them (biases, the LayerNorms and the classification head) with the paper's b=8. Decoders:
    adapters b=64 without biases or norms (the paper's LLaMA-2-7B figure), prefix 5 tokens.
    """

    lora_rank: int = 8
    adapter_bottleneck: int = 64
    adapter_bias: bool = False
    adapter_norms: bool = False
    adapter_head: str = "frozen"
    prefix_tokens: int = 5


ENCODER_BASELINES = BaselineDefaults(
    adapter_bottleneck=8, adapter_bias=True, adapter_norms=True, adapter_head="dense"
)
DECODER_BASELINES = BaselineDefaults()


@dataclass(frozen=True)
class Site:
    """One module of a model as its config defines it (no weights).

    kind: "linear" (nn.Linear), "conv1d" (GPT-2's Conv1D, same sizes), "embedding", "norm"
    (LayerNorm / RMSNorm: `out_features` wide), "dropout" (no parameters; adp places adapters
    after some), "vector" (a loose parameter such as DeBERTa's ``q_bias``; `name` is the
    parameter's own name) or "container" (a parent module, no parameters of its own).
    """

    name: str
    kind: str
    in_features: int = 0
    out_features: int = 0
    bias: bool = False
    tied: bool = False  # shares its weight with another site (a tied LM head): no own parameters

    @property
    def params(self) -> dict[str, int]:
        """{parameter name: number of entries}, named as ``model.named_parameters()`` names them."""
        if self.tied or self.kind in ("dropout", "container"):
            return {}
        if self.kind == "vector":
            return {self.name: self.out_features}
        if self.kind == "norm":
            out = {f"{self.name}.weight": self.out_features}
        else:  # linear, conv1d, embedding
            out = {f"{self.name}.weight": self.in_features * self.out_features}
        if self.bias:
            out[f"{self.name}.bias"] = self.out_features
        return out

    @property
    def num_params(self) -> int:
        return sum(self.params.values())


def linear(
    name: str, in_features: int, out_features: int, bias: bool = True, kind: str = "linear"
) -> Site:
    return Site(name, kind, in_features, out_features, bias)


def norm(name: str, width: int, bias: bool = True) -> Site:
    return Site(name, "norm", 0, width, bias)


@dataclass
class ModelSpec:
    """A model reduced to what parameter counts need: config, task, module table, architecture.

    ``classifier`` and ``head_dense`` are the record's head names when the task is sequence
    classification (None otherwise); ``kv_width`` is the width of one key (= one value) vector
    per token and layer, which prefix tuning stores.
    """

    name: str
    config: object
    task: str
    num_labels: int
    sites: list[Site]
    architecture: Architecture
    kv_width: int = 0

    @property
    def family(self) -> str:
        return self.architecture.family

    @property
    def classifier(self) -> str | None:
        return self.architecture.classifier if self.task == SEQUENCE_CLASSIFICATION else None

    @property
    def head_dense(self) -> str | None:
        return self.architecture.head_dense if self.task == SEQUENCE_CLASSIFICATION else None

    @property
    def ia3_targets(self) -> dict[str, str]:
        return dict(self.architecture.ia3)

    @property
    def hidden(self) -> int:
        return self.config.hidden_size

    @property
    def layers(self) -> int:
        return self.config.num_hidden_layers

    @property
    def params(self) -> dict[str, int]:
        """Every parameter {name: count}; equals ``dict(model.named_parameters())`` sizes."""
        return {n: c for s in self.sites for n, c in s.params.items()}

    @property
    def num_params(self) -> int:
        return sum(self.params.values())

    def site(self, name: str) -> Site:
        return next(s for s in self.sites if s.name == name)

    def modules(self) -> dict[str, Site]:
        """Module names as ``model.named_modules()`` gives them, without the root: every module
        with parameters, its parents, and the dropouts adp uses (activations, rotary embeddings
        and other parameter-free modules are left out, so no target can name them)."""
        out: dict[str, Site] = {}
        for s in self.sites:
            if s.kind == "vector":
                continue
            parts = s.name.split(".")
            for i in range(1, len(parts)):
                out.setdefault(".".join(parts[:i]), Site(".".join(parts[:i]), "container"))
            out[s.name] = s
        return out


#: builds a family's module table: (config, task, num_labels) -> (sites, kv_width)
Builder = Callable[[object, str, int], tuple[list[Site], int]]


@dataclass(frozen=True)
class Architecture:
    """One model family: the one place that says where everything is (docs/method.md#placement).

    Attributes
    ----------
    family : str
        The record's name ("bert", "llama", ...).
    model_types : tuple of str
        ``config.model_type`` values of this family.
    decoder : bool
        Decoders are counted and loaded as causal LMs unless told otherwise; encoders with a
        sequence-classification head.
    adp : dict
        LoRETTA_adp and the adapter baseline: {name suffix or regex: "before" | "after"}, an
        adapter on the input of, or after, each matching module.
    rep : tuple of str
        The linear layers LoRETTA_rep (and LoRA, by default) adapt.
    head_dense, classifier : str or None
        Sequence classification: the dense layer before the final classifier (pooler) and the
        final classifier itself, as module names.
    ia3 : dict
        IA3's targets: {pattern: "out" (scale outputs) | "in" (scale inputs, the FFN output)}.
    build : Builder
        The module table from a config (see :class:`ModelSpec`).
    rep_bottleneck, rep_rank, rep_dropout : the paper's LoRETTA_rep defaults for the family.
    baselines : BaselineDefaults
    paper : bool
        Whether the paper itself placed LoRETTA on this family (False: the kit's own choice).
    """

    family: str
    model_types: tuple[str, ...]
    decoder: bool
    adp: dict[str, str]
    rep: tuple[str, ...]
    head_dense: str | None
    classifier: str | None
    ia3: dict[str, str]
    build: Builder = field(repr=False, compare=False)
    rep_bottleneck: int = 8
    rep_rank: int = 5
    rep_dropout: float = 0.0
    baselines: BaselineDefaults = ENCODER_BASELINES
    paper: bool = True

    @property
    def head(self) -> tuple[str, str] | None:
        """(head dense, classifier) when the family has a dense layer before its classifier."""
        if self.head_dense is None or self.classifier is None:
            return None
        return self.head_dense, self.classifier
