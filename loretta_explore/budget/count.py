"""How many parameters does each fine-tuning method train? Counted from a config, never from weights.

Why analytic: LLaMA-2-70B's weights are 140 GB, but its ``config.json`` fixes every size a count
needs. The architecture registry turns a config into a table of modules (:func:`model_spec`);
the method registry checks the hyperparameters and fills the defaults (the same call
:func:`~loretta_explore.prepare` makes); then one formula per method counts
(docs/method.md#counting):

- "full": every parameter;
- "lora": r * (in + out) per target (A and B), query/value by default;
- "adapters": dense bottleneck adapters, 2 * f * b (+ b + f with biases) each, where LoRETTA_adp puts them;
- "prefix": tokens * layers * 2 * (key/value width): one key and one value vector per token and layer;
- "ia3": one scaling vector per target: k and v outputs and the FFN output's input;
- "bitfit": every bias;
- "loretta_adp" / "loretta_rep": exactly what :func:`~loretta_explore.get_loretta_model` builds
  (same placement, same shape choice, TT(shape, r) = sum_i r_{i-1} k_i r_i with ranks
  [1, r, ..., r, 1], never clipped, like :class:`~loretta_explore.TTLinear`).

Encoders are counted with a sequence-classification head (2 labels unless told otherwise) whose
final classifier every baseline trains; decoders as causal LMs. The tests check every count
against the trainable parameters of a really adapted (meta) model.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import methods as M
from ..architectures import (
    CAUSAL_LM,
    SEQUENCE_CLASSIFICATION,
    TASKS,
    ModelSpec,
    Site,
    architecture,
    known_model_types,
)
from ..config import LorettaConfig
from ..models import REFERENCE_MODELS, light_reference_config
from ..tensorize import resolve_shape

__all__ = ["count_breakdown", "count_trainable", "loretta_settings", "model_spec", "tt_params"]

EXAMPLE = 'count_trainable("llama-2-7b", "loretta_rep", tt_rank=8)'
_DESCRIBE = ("num_labels", "task")  # describe the model, not the method


def _is_config(obj) -> bool:
    return hasattr(obj, "model_type") and hasattr(obj, "hidden_size")


def model_spec(model, num_labels: int | None = None, task: str | None = None) -> ModelSpec:
    """The table of modules of a reference model, a config, or a model (only its config is read).

    Parameters
    ----------
    model : str, PretrainedConfig or PreTrainedModel
        A name from :data:`loretta_explore.models.REFERENCE_MODELS`, a config, or a model whose
        ``config`` (and class name, for the task) is used. No weight is read.
    num_labels : int, optional
        Labels of the sequence-classification head (default: the config's, 2 for reference names).
    task : "sequence-classification" | "causal-lm", optional
        Default: the model's class if a model is given, else sequence classification for encoders
        and causal LM for decoders.

    Examples
    --------
    >>> model_spec("llama-2-7b").num_params
    6738415616
    """
    name, class_name = "", ""
    if num_labels is not None:
        num_labels = M.positive_int("num_labels", num_labels, "num_labels=3")
    if isinstance(model, str):
        if model not in REFERENCE_MODELS:
            raise ValueError(
                f"unknown model {model!r}; known reference models: "
                f"{', '.join(REFERENCE_MODELS)}. Or pass a transformers config. "
                f"Example: {EXAMPLE}"
            )
        name, config = model, light_reference_config(model)
    elif _is_config(model):
        config = model
    elif _is_config(getattr(model, "config", None)):
        config, class_name = model.config, type(model).__name__
    else:
        raise ValueError(
            f"model must be a reference name ({', '.join(REFERENCE_MODELS)}), a "
            f"transformers PretrainedConfig or a model with a .config; got "
            f"{type(model).__name__}. Example: {EXAMPLE}"
        )
    mt = getattr(config, "model_type", None)
    try:
        arch = architecture(config)
    except ValueError:
        raise ValueError(
            f"the kit cannot count model_type {mt!r}; it knows "
            f"{', '.join(known_model_types())}. Known reference models: "
            f"{', '.join(REFERENCE_MODELS)}. Example: {EXAMPLE}"
        ) from None
    labels = num_labels if num_labels is not None else getattr(config, "num_labels", 2) or 2
    if task is None:
        if "ForSequenceClassification" in class_name:
            task = SEQUENCE_CLASSIFICATION
        elif "ForCausalLM" in class_name or "LMHeadModel" in class_name:
            task = CAUSAL_LM
        else:
            task = CAUSAL_LM if arch.decoder else SEQUENCE_CLASSIFICATION
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}. Example: task='causal-lm'")
    if task == CAUSAL_LM and not arch.decoder:
        raise ValueError(
            f"{mt} is an encoder: the kit counts it with a sequence-classification "
            f"head (task='sequence-classification')"
        )
    sites, kv_width = arch.build(config, task, labels)
    spec_name = name or getattr(config, "_name_or_path", "") or mt
    return ModelSpec(spec_name, config, task, labels, sites, arch, kv_width)


def tt_params(shape: Sequence[int], rank) -> int:
    """TT(shape, r) = sum_i r_{i-1} k_i r_i, ranks [1, r, ..., r, 1] (docs/method.md#counting).

    `rank` is one internal rank or the d-1 internal ranks. Ranks are used as given, never
    clipped to what a bond allows, exactly like :class:`~loretta_explore.TTLinear`.

    >>> tt_params([8, 12, 8, 8], 5)
    580
    """
    shape = [M.positive_int("a tt shape's factor", k) for k in shape]
    if isinstance(rank, (list, tuple)):
        internal = [M.positive_int("a TT rank", r, "tt_params([8, 12, 8, 8], 5)") for r in rank]
        if len(internal) != len(shape) - 1:
            raise ValueError(
                f"a {len(shape)}-mode train has {len(shape) - 1} internal ranks, got "
                f"{list(rank)}. Example: tt_params({shape}, {[5] * (len(shape) - 1)})"
            )
    else:
        internal = [M.positive_int("TT rank", rank, "tt_params([8, 12, 8, 8], 5)")] * (
            len(shape) - 1
        )
    ranks = [1, *internal, 1]
    return sum(ranks[i] * k * ranks[i + 1] for i, k in enumerate(shape))


def _matching(spec: ModelSpec, pattern: str, kinds, method: str) -> list[Site]:
    found = [s for n, s in spec.modules().items() if s.kind in kinds and M.matches_name(n, pattern)]
    if not found:
        names = [n for n, s in spec.modules().items() if s.kind in ("linear", "conv1d")]
        raise M.no_match_error(pattern, names, spec.name, method)
    return found


def _features(spec: ModelSpec, site: Site, position: str) -> int:
    """What an adapter on `site` sees, as the adapters are placed: in (before) or out (after) for a
    module with a 2-D weight, the hidden size otherwise (dropouts, norms, containers)."""
    if site.kind in ("linear", "conv1d", "embedding"):
        return site.in_features if position == "before" else site.out_features
    return spec.hidden


_ADAPTABLE = ("linear", "conv1d", "embedding", "dropout", "norm", "container")


def _norms(spec: ModelSpec) -> list[str]:
    return [n for s in spec.sites if s.kind == "norm" for n in s.params]


def loretta_settings(spec: ModelSpec, method: str, hp: dict):
    """The resolved :class:`~loretta_explore.LorettaConfig` get_loretta_model would use."""
    return LorettaConfig(method=method.removeprefix("loretta_"), **hp).resolved(spec.architecture)


def count_loretta(spec: ModelSpec, method: str, hp: dict) -> dict[str, int]:
    """LoRETTA's parts, mirroring get_loretta_model: same placements, shapes and trainable set."""
    cfg = loretta_settings(spec, method, hp)
    b, r = cfg.bottleneck, cfg.tt_rank

    def tt(in_f: int, out_f: int) -> int:
        shape = resolve_shape(in_f, out_f, cfg.shape_request(in_f, out_f))
        M.check_rank_fits(r, shape, f"a {in_f}x{out_f} weight")
        return tt_params(shape, r)

    parts: dict[str, int] = {}
    if cfg.method == "rep":  # A: in -> b and B: b -> out, each one bias-free TT layer
        total = 0
        for pattern in cfg.targets(spec.architecture):
            for s in _matching(spec, pattern, ("linear", "conv1d"), "loretta_rep"):
                M.check_fits(
                    "loretta_rep",
                    b,
                    min(s.in_features, s.out_features),
                    f"min(in, out) of {s.name}",
                )
                total += tt(s.in_features, b) + tt(b, s.out_features)
        parts["tt cores"] = total
    else:  # TTAdapter: TT down (f -> b) + bias b, TT up (b -> f) + bias f
        cores = biases = 0
        for pattern, position in cfg.targets(spec.architecture).items():
            for s in _matching(spec, pattern, _ADAPTABLE, "loretta_adp"):
                f = _features(spec, s, position)
                M.check_fits("loretta_adp", b, f, f"the {f} features of {s.name}")
                cores += tt(f, b) + tt(b, f)
                biases += b + f
        parts["tt cores"], parts["adapter biases"] = cores, biases
    if cfg.train_norms:
        parts["norms"] = sum(spec.params[n] for n in _norms(spec))
    if spec.task == SEQUENCE_CLASSIFICATION:
        if spec.head_dense is not None:
            dense = spec.site(spec.head_dense)
            if cfg.head == "tensorized":  # a fresh TTLinear (with bias) replaces the dense layer
                parts["tensorized head"] = (
                    tt(dense.in_features, dense.out_features) + dense.out_features
                )
            elif cfg.head == "dense":  # the pretrained dense layer, trained
                parts["head dense"] = dense.num_params
        if cfg.train_classifier and spec.classifier is not None:
            parts["classifier"] = spec.site(spec.classifier).num_params
    return parts


def count_baseline(spec: ModelSpec, method: str, hp: dict) -> dict[str, int]:
    """A baseline's parts; `hp` as :func:`loretta_explore.methods.resolve` returns it."""
    parts: dict[str, int] = {}
    if method == "lora":  # A (r x in) and B (out x r) on every target
        r, total = hp["r"], 0
        for pattern in hp["target_modules"]:
            for s in _matching(spec, pattern, ("linear", "conv1d", "embedding"), "lora"):
                M.check_fits(
                    "lora",
                    r,
                    min(s.in_features, s.out_features),
                    f"min(in, out) of {s.name}",
                    what="r",
                )
                total += r * (s.in_features + s.out_features)
        parts["lora A, B"] = total
    elif method == "adapters":  # dense down (f x b) and up (b x f), biases if asked
        b, weights, biases = hp["bottleneck"], 0, 0
        for pattern, position in hp["target_modules"].items():
            for s in _matching(spec, pattern, _ADAPTABLE, "adapters"):
                f = _features(spec, s, position)
                M.check_fits("adapters", b, f, f"the {f} features of {s.name}")
                weights += 2 * f * b
                biases += (b + f) if hp["adapter_bias"] else 0
        parts["adapter weights"] = weights
        if biases:
            parts["adapter biases"] = biases
    elif method == "prefix":  # one key and one value vector per virtual token and layer
        parts["prefix keys, values"] = hp["prefix_tokens"] * spec.layers * 2 * spec.kv_width
    elif method == "ia3":  # one scaling vector per target: its output, or its input (FFN)
        total = 0
        for pattern, side in hp["target_modules"].items():
            for s in _matching(spec, pattern, ("linear", "conv1d"), "ia3"):
                total += s.out_features if side == "out" else s.in_features
        parts["ia3 vectors"] = total
    # Parameters the model already has that the method trains: a set, so nothing counts twice
    # (BitFit's norm and classifier biases are biases already).
    params, taken = spec.params, set()
    if method == "bitfit":
        taken = {n for n in params if n.endswith("bias")}
        parts["biases"] = sum(params[n] for n in taken)
    existing = [("norms", _norms(spec))] if hp.get("train_norms") else []
    if spec.task == SEQUENCE_CLASSIFICATION:
        if hp.get("head") == "dense" and spec.head_dense:
            existing.append(("head dense", list(spec.site(spec.head_dense).params)))
        if hp.get("train_classifier") and spec.classifier:
            existing.append(("classifier", list(spec.site(spec.classifier).params)))
    for part, names in existing:
        new = [n for n in names if n not in taken]
        taken.update(new)
        if new:
            parts[part] = sum(params[n] for n in new)
    return parts


def count_breakdown(model, method: str, **hyperparameters) -> dict[str, int]:
    """:func:`count_trainable`, split into parts ("tt cores", "norms", "classifier", ...)."""
    M.check_method(method, (*M.METHODS, *M.FLOORS))
    hp = M.canonical(method, hyperparameters, extra=_DESCRIBE)
    describe = {k: hp.pop(k) for k in _DESCRIBE if k in hp}
    spec = model_spec(model, **describe)
    if method == "full":
        return {"all parameters": spec.num_params}
    if method.startswith("loretta_"):
        return count_loretta(spec, method, hp)
    return count_baseline(spec, method, M.resolve(method, hp, spec.architecture))


def count_trainable(model, method: str, **hyperparameters) -> int:
    """Trainable parameters of `method` on `model`, computed from the config alone (no weights).

    Parameters
    ----------
    model : str, PretrainedConfig or PreTrainedModel
        A reference name (``loretta_explore.models.REFERENCE_MODELS``), a config, or a model (its
        config and class are read, nothing else).
    method : str
        "full", "lora", "adapters", "prefix", "ia3", "bitfit", "loretta_adp", "loretta_rep"
        (and the floors "probe", "norms").
    **hyperparameters
        The names :func:`loretta_explore.prepare` takes (one vocabulary,
        :mod:`loretta_explore.methods`), plus ``num_labels`` and ``task`` to describe the model.
        The paper's defaults are used otherwise (docs/method.md#counting):

        - baselines: ``train_classifier`` (True), ``head`` ("frozen", or "dense" to also train the
          pooler / head dense), ``train_norms``.
        - "lora": ``r`` (alias ``lora_rank``, 8), ``target_modules`` (the family's rep targets).
        - "adapters": ``bottleneck`` (64 decoders, 8 encoders), ``adapter_bias``,
          ``target_modules`` (LoRETTA_adp's places). Encoders default to Houlsby's recipe.
        - "prefix": ``prefix_tokens`` (alias ``num_virtual_tokens``, 5).
        - "ia3": ``target_modules`` ({pattern: "out" | "in"}), ``feedforward_modules``.
        - "loretta_adp", "loretta_rep": the :class:`~loretta_explore.LorettaConfig` fields.

    Raises
    ------
    ValueError
        Unknown model, method or hyperparameter (the message lists the known ones), a rank or
        bottleneck below 1 or wider than the layer it compresses, a tt shape with the wrong product.

    Examples
    --------
    >>> count_trainable("llama-2-7b", "loretta_rep")
    507904
    >>> count_trainable("deberta-base", "loretta_adp", tt_rank=5)
    99034
    """
    return sum(count_breakdown(model, method, **hyperparameters).values())
