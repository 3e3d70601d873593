"""What an adapter file may say, checked before anything is built (docs/adapter_format.md).

A saved adapter is read from disk or the Hub, so it is untrusted input: every field of its JSON
is checked for its type and bounds here, target names must be exact module names (a file never
gets a regular expression compiled), and the tensors' header (names, shapes, dtypes: read without
loading a single number) must agree with the config before the LoRETTA layout is allocated, so
that ``"tt_rank": 100000`` is refused instead of allocating hundreds of gigabytes.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Any

from .config import LorettaConfig

__all__ = ["FORMAT", "FORMAT_VERSION", "check_document", "check_header", "parse_json", "read_json"]

FORMAT, FORMAT_VERSION = "loretta_explore.adapter", 1
#: a module name as a file may give it: dotted identifiers, nothing a regex engine would expand
LITERAL_NAME = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
MAX_JSON_BYTES, MAX_NAME = 10_000_000, 500
#: sanity bounds; the exact check is against the tensors in the file (check_header)
BOUNDS = {"tt_rank": 4096, "bottleneck": 1 << 20, "alpha": 1e6, "adapter_scale": 1e6}
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")
TOP_LEVEL = {
    "format": str,
    "format_version": int,
    "config": dict,
    "base_model_name_or_path": str,
    "base_model_class": str,
    "model_type": str,
    "kit_version": str,
    "trainable_params": int,
}
LEGACY_TOP_LEVEL = {"base_model_class", "model_type", "extra"}
#: field -> JSON kinds it may hold (None: null is allowed)
FIELD_KINDS: dict[str, tuple[str, ...]] = {
    "method": ("str",),
    "tt_rank": ("int",),
    "bottleneck": ("int",),
    "target_modules": ("names",),
    "tt_shapes": ("str", "shapes"),
    "alpha": ("number",),
    "scale_by": ("str",),
    "dropout": ("number",),
    "activation": ("str",),
    "adapter_scale": ("number",),
    "init": ("str",),
    "train_norms": ("bool",),
    "head": ("str",),
    "train_classifier": ("bool",),
}
_CORE = re.compile(r"(?P<layer>.+)\.cores\.(?P<k>\d{1,3})")
_REP = re.compile(r"(?P<module>.+)\.(?:A|B|A0|B0)\.cores\.\d{1,3}")
_ADP = re.compile(r"(?P<module>.+)\.adapter\.(?:down|up)\.(?:cores\.\d{1,3}|bias)")


def parse_json(data: bytes | str, where: str) -> Any:
    """Strict JSON (no NaN/Infinity) from `data`, refusing sizes no adapter config has."""
    if len(data) > MAX_JSON_BYTES:
        raise ValueError(
            f"{where} is {len(data):,} bytes: far too large for an adapter config "
            f"(at most {MAX_JSON_BYTES:,}); it is not one"
        )

    def no_constant(name: str):
        raise ValueError(f"{name} is not JSON")

    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, parse_constant=no_constant)
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{where} is not valid JSON ({err})") from None


def read_json(path: Path) -> Any:
    """Parse the JSON file `path` (checked for its size before it is read)."""
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ValueError(
            f"{path} is {path.stat().st_size:,} bytes: far too large for an adapter "
            f"config (at most {MAX_JSON_BYTES:,}); it is not one"
        )
    return parse_json(path.read_bytes(), str(path))


def _kind_ok(kind: str, value: Any) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in ("str", "bool"):
        return isinstance(value, {"str": str, "bool": bool}[kind])
    if kind == "names":  # rep: ["name", ...]; adp: {"name": "before" | "after"}
        items = list(value) if isinstance(value, (list, dict)) else None
        return (
            bool(items)
            and all(isinstance(n, str) for n in items)
            and (not isinstance(value, dict) or all(isinstance(v, str) for v in value.values()))
        )
    if kind == "shapes":  # {"768x8": [8, 12, 8, 8] or "paper" | "auto"}
        return isinstance(value, dict) and all(
            isinstance(k, str)
            and re.fullmatch(r"\d{1,9}x\d{1,9}", k)
            and (
                v in ("paper", "auto")
                or isinstance(v, list)
                and 0 < len(v) <= 32
                and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
            )
            for k, v in value.items()
        )
    raise AssertionError(kind)


def _check_names(value, where: str) -> None:
    for name in value:
        if len(name) > MAX_NAME or not LITERAL_NAME.fullmatch(name):
            raise ValueError(
                f"{where}: target_modules holds {name[:80]!r}, which is not an exact "
                f"module name (such as 'encoder.layer.0.attention.self.query'). "
                f"Adapter files name modules exactly and are never read as patterns; "
                f"this file was not written by LorettaModel.save_pretrained"
            )


def check_fields(settings: dict, where: str, legacy: bool) -> LorettaConfig:
    """Types, presence and bounds of every LorettaConfig field, then LorettaConfig's own checks."""
    known = {f.name for f in fields(LorettaConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(
            f"{where}: unknown setting(s) {unknown}; this kit knows {sorted(known)}. "
            f"Was it written by a newer loretta_explore?"
        )
    settings = dict(settings)
    old_scale = legacy and "scale_by" not in settings and settings.get("method") == "rep"
    if old_scale or settings.get("method") == "adp":
        settings.setdefault("scale_by", "tt_rank" if old_scale else "bottleneck")
    missing = sorted(
        n for n in known if settings.get(n) is None and not (legacy and n == "target_modules")
    )
    if missing:
        raise ValueError(
            f"{where} does not say {missing}: these change what the adapter computes, "
            f"so they are never guessed. Save the adapter again with "
            f"model.save_pretrained(folder)"
        )
    if old_scale:  # said only once the file is known to be complete
        warnings.warn(
            f"{where} was saved before the rep scale became alpha / bottleneck: it was "
            f"trained with alpha / tt_rank and loads with that scale (scale_by='tt_rank')",
            stacklevel=5,
        )
    for name, value in settings.items():
        if value is None:
            continue
        if not any(_kind_ok(kind, value) for kind in FIELD_KINDS[name]):
            raise ValueError(
                f"{where}: {name} = {json.dumps(value)[:80]} has the wrong type; "
                f"expected {' or '.join(FIELD_KINDS[name])}"
            )
        bound = BOUNDS.get(name)
        if bound is not None and not (0 <= value <= bound and math.isfinite(value)):
            raise ValueError(f"{where}: {name} = {value} is outside [0, {bound:g}]")
    if settings.get("target_modules") is not None:
        _check_names(settings["target_modules"], where)
    try:
        return LorettaConfig(**settings)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where} holds an unusable setting: {err}") from None


def check_document(doc: Any, where: str) -> tuple[LorettaConfig, dict, bool]:
    """(config, metadata, legacy) from a parsed config file; legacy: written before format 1."""
    if not isinstance(doc, dict):
        raise ValueError(f"{where} must hold a JSON object, got {type(doc).__name__}")
    if "format" not in doc and "format_version" not in doc:  # an earlier kit's flat config
        extra = doc.get("extra", {})
        if extra != {}:
            raise ValueError(
                f"{where} holds extra settings {json.dumps(extra)[:80]} that this kit "
                f"does not know how to apply"
            )
        meta = {k: doc[k] for k in LEGACY_TOP_LEVEL & set(doc) if k != "extra"}
        for key, value in meta.items():
            if not isinstance(value, str | None):
                raise ValueError(f"{where}: {key} must be a string, got {json.dumps(value)[:80]}")
        settings = {k: v for k, v in doc.items() if k not in LEGACY_TOP_LEVEL}
        return check_fields(settings, where, legacy=True), meta, True
    if doc.get("format") != FORMAT:
        raise ValueError(f"{where} says format {doc.get('format')!r}; this kit reads {FORMAT!r}")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version != FORMAT_VERSION:
        raise ValueError(
            f"{where} is in adapter format version {version!r}; this loretta_explore "
            f"reads version {FORMAT_VERSION}. A newer version was written by a newer "
            f"kit: upgrade it (pip install -U loretta_explore)"
        )
    for key, value in doc.items():
        if key not in TOP_LEVEL:
            raise ValueError(
                f"{where}: unknown key {key!r}; format {FORMAT_VERSION} has {sorted(TOP_LEVEL)}"
            )
        if value is not None and not (
            isinstance(value, TOP_LEVEL[key]) and not isinstance(value, bool)
        ):
            raise ValueError(
                f"{where}: {key} must be {TOP_LEVEL[key].__name__}, got {json.dumps(value)[:80]}"
            )
    if not isinstance(doc.get("config"), dict):
        raise ValueError(f"{where} has no 'config' object with the LorettaConfig settings")
    meta = {k: v for k, v in doc.items() if k != "config"}
    return check_fields(doc["config"], where, legacy=False), meta, False


def _rank_plan(config: LorettaConfig, modes: list[int]) -> int:
    ranks = [1] + [config.tt_rank] * (len(modes) - 1) + [1]
    return sum(ranks[k] * n * ranks[k + 1] for k, n in enumerate(modes))


def check_header(
    config: LorettaConfig,
    header: dict[str, tuple[tuple[int, ...], str]],
    base_model,
    where: str,
    legacy: bool = False,
) -> dict[str, str] | list[str]:
    """Check the tensors' names, dtypes and shapes against `config`; return the exact targets.

    `header` maps tensor name -> (shape, dtype) as the safetensors header gives them. Returns
    the module names the file adapts (rep: a list; adp: {name: side}, sides from the config),
    derived from the tensor names alone. Raises before anything is allocated when the config
    would build layers of other sizes than the file holds.
    """
    from . import methods as M
    from .placement import weight_sizes

    groups: dict[str, dict[int, tuple[int, ...]]] = {}
    for name, (shape, dtype) in header.items():
        if len(name) > 4 * MAX_NAME or not LITERAL_NAME.fullmatch(name):
            raise ValueError(f"{where}: tensor name {name[:80]!r} is not a parameter name")
        if dtype not in FLOAT_DTYPES:
            raise ValueError(f"{where}: tensor {name} has dtype {dtype}; adapters hold floats")
        core = _CORE.fullmatch(name)
        if core:
            groups.setdefault(core["layer"], {})[int(core["k"])] = shape
    if not groups:
        raise ValueError(f"{where} holds no TT cores: it is not a LoRETTA adapter")
    planned = held = 0
    for layer, cores in groups.items():
        if sorted(cores) != list(range(len(cores))) or any(len(s) != 3 for s in cores.values()):
            raise ValueError(
                f"{where}: the cores of {layer} are not a tensor train (numbered "
                f"0..d-1, each of shape (rank, mode, rank))"
            )
        chain = [cores[k] for k in range(len(cores))]
        ranks = [chain[0][0]] + [s[2] for s in chain]
        if any(a[2] != b[0] for a, b in zip(chain, chain[1:])) or ranks[0] != 1 or ranks[-1] != 1:
            raise ValueError(f"{where}: the cores of {layer} do not chain (ranks {ranks})")
        modes = [s[1] for s in chain]
        planned += _rank_plan(config, modes)
        held += sum(math.prod(s) for s in chain)
        if any(r != config.tt_rank for r in ranks[1:-1]):
            raise ValueError(
                f"{where}: the cores of {layer} have TT ranks {ranks}, the config "
                f"says tt_rank={config.tt_rank}. Refusing to build it: the layout "
                f"would allocate {_rank_plan(config, modes):,} numbers for this "
                f"layer where the file holds {sum(math.prod(s) for s in chain):,}"
            )
    if planned != held:
        raise ValueError(
            f"{where}: the config would allocate {planned:,} numbers of TT cores, "
            f"the file holds {held:,}"
        )
    explicit = config.tt_shapes if isinstance(config.tt_shapes, dict) else {}
    file_modes = {tuple(s[1] for s in (c[k] for k in sorted(c))) for c in groups.values()}
    odd = [s for s in explicit.values() if not isinstance(s, str) and tuple(s) not in file_modes]
    if odd:
        raise ValueError(f"{where}: tt_shapes lists {odd[:3]}, which no TT layer in the file has")

    pattern = _REP if config.method == "rep" else _ADP
    modules = sorted({m["module"] for n in header if (m := pattern.fullmatch(n))})
    if not modules:
        raise ValueError(
            f"{where} holds no {config.method} layers although its config says "
            f"method={config.method!r}"
        )
    if config.target_modules is not None:
        targets = list(config.target_modules)
        stray = [m for m in modules if not any(M.matches_name(m, t, literal=True) for t in targets)]
        unused = [] if legacy else [t for t in targets if t not in modules]
        if stray or unused:
            raise ValueError(
                f"{where}: its target_modules and its tensors disagree: tensors for "
                f"{stray[:3]} that no target names, targets {unused[:3]} without "
                f"tensors"
            )
    for module in modules:
        try:
            target = base_model.get_submodule(module)
        except AttributeError:
            raise ValueError(
                f"{where} adapts {module}, which this {type(base_model).__name__} "
                f"does not have: it was trained on another model"
            ) from None
        if config.method == "rep":
            try:
                in_f, out_f = weight_sizes(target)
            except (AttributeError, TypeError, ValueError):
                raise ValueError(
                    f"{where} adapts {module}, which is a {type(target).__name__} "
                    f"here, not a linear layer"
                ) from None
            size_a = math.prod(s[1] for s in groups.get(f"{module}.A", {}).values())
            size_b = math.prod(s[1] for s in groups.get(f"{module}.B", {}).values())
            if size_a != in_f * config.bottleneck or size_b != config.bottleneck * out_f:
                raise ValueError(
                    f"{where}: {module} is {in_f} -> {out_f} here; the file's A and B "
                    f"hold {size_a:,} and {size_b:,} numbers, not those of "
                    f"bottleneck={config.bottleneck}: it was trained on another model "
                    f"or the config was edited"
                )
        else:
            bias = header.get(f"{module}.adapter.down.bias", ((None,), ""))[0]
            if tuple(bias) != (config.bottleneck,):
                raise ValueError(
                    f"{where}: the adapter after {module} is {bias[0]} wide, the "
                    f"config says bottleneck={config.bottleneck}"
                )
    return modules if config.method == "rep" else _sides(config, modules, base_model, where)


def _sides(config: LorettaConfig, modules: list[str], base_model, where: str) -> dict[str, str]:
    """adp: where each adapter goes, from the file's exact names (or, for files of an earlier
    kit without targets, from the architecture's own placements)."""
    from . import methods as M
    from .architectures import find_architecture

    if config.target_modules is not None:
        placements, literal = dict(config.target_modules), True
    else:
        arch = find_architecture(base_model)
        if arch is None:
            raise ValueError(
                f"{where} does not name its targets and this model's family is unknown to the kit"
            )
        placements, literal = dict(arch.adp), False  # the kit's own patterns, not the file's
    sides = {}
    for module in modules:
        found = {side for p, side in placements.items() if M.matches_name(module, p, literal)}
        if len(found) != 1:
            raise ValueError(
                f"{where}: cannot tell whether the adapter at {module} goes before "
                f"or after it (the targets give {sorted(found) or 'nothing'})"
            )
        sides[module] = found.pop()
    return sides
