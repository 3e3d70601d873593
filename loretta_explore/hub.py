"""The Hugging Face Hub for LoRETTA adapters: download only the adapter files, upload only them.

``LorettaModel.from_pretrained(base, "owner/name")`` fetches the adapter's two files (not the base
model, not anything else in the repo) with ``huggingface_hub.hf_hub_download``, pinned to one
commit; ``model.push_to_hub("owner/name")`` uploads the adapter folder and a generated model card
(README.md: base model, method, settings, trainable count, how to load it). A few hundred kB
instead of the base model's gigabytes (docs/adapter_format.md).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from .adapter_files import (
    CONFIG_NAME,
    LEGACY_CONFIG_NAME,
    LEGACY_WEIGHTS_NAME,
    TRAINER_WEIGHTS_NAME,
    WEIGHTS_NAME,
    adapter_document,
    save_adapter,
)

__all__ = ["adapter_folder", "model_card", "push_adapter"]

#: what a Hub repo id looks like ("name" or "owner/name"); anything else must be a local folder
REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}(?:/[A-Za-z0-9][\w.-]{0,95})?")
#: (config, weights) of each layout the loader reads, in the order they are tried
LAYOUTS = (
    (CONFIG_NAME, WEIGHTS_NAME),
    (LEGACY_CONFIG_NAME, LEGACY_WEIGHTS_NAME),
    (TRAINER_WEIGHTS_NAME, None),
)


def adapter_folder(
    source,
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    cache_dir=None,
    local_files_only: bool = False,
) -> Path:
    """A local folder holding the adapter `source` names: the folder itself, or the Hub download.

    Only the adapter's files are downloaded (into the Hugging Face cache, or `cache_dir`), all of
    one commit. `revision`, `token`, `cache_dir` and `local_files_only` go to
    ``huggingface_hub.hf_hub_download``.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    text = str(source)
    if path.exists() or not REPO_ID.fullmatch(text) or text.startswith((".", "~")):
        raise FileNotFoundError(
            f"no adapter folder {text!r}. Give the folder written by "
            f"model.save_pretrained(folder), or a Hub repo id such as "
            f"'owner/name'"
        )
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RemoteEntryNotFoundError

    options = dict(
        repo_id=text,
        revision=revision,
        token=token,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
    )
    offline = []

    def fetch(filename: str) -> Path | None:
        try:
            return Path(hf_hub_download(filename=filename, **options))
        except RemoteEntryNotFoundError:
            return None
        except LocalEntryNotFoundError as err:  # offline, and not in the cache
            offline.append(str(err).splitlines()[0])
            return None

    for config_name, weights_name in LAYOUTS:
        first = fetch(config_name)
        if first is None:
            continue
        if re.fullmatch(r"[0-9a-f]{40}", first.parent.name):  # pin the commit for the weights
            options["revision"] = first.parent.name
        if weights_name is not None:
            fetch(weights_name)  # when missing, the loader says which file is
        return first.parent
    where = "in the local cache (offline mode or local_files_only)" if offline else ""
    raise FileNotFoundError(
        f"the Hub repo {text!r} (revision {revision or 'main'}) holds no "
        f"LoRETTA adapter {where}: expected {CONFIG_NAME} and {WEIGHTS_NAME}, "
        f"written by model.push_to_hub({text!r})"
    )


def _hub_name(name: str | None) -> str | None:
    """The base model's name if it is a Hub id (a local path means nothing to a reader)."""
    if not name or Path(name).is_absolute() or name.startswith((".", "~")):
        return None
    return name if REPO_ID.fullmatch(name) else None


def model_card(model, repo_id: str) -> str:
    """README.md for the adapter's repo: what it is, its settings, and how to load it."""
    doc = adapter_document(model)
    config = doc["config"]
    base_class, base = doc["base_model_class"], _hub_name(doc["base_model_name_or_path"])
    method = f"LoRETTA_{config['method']}"
    total = sum(p.numel() for p in model.base_model.parameters())
    trained = doc["trainable_params"]
    front = [
        "---",
        "library_name: loretta_explore",
        f"tags: [loretta, {method.lower()}, tensor-train, parameter-efficient-fine-tuning]",
    ]
    if base:
        front.append(f"base_model: {base}")
    front.append("---")
    settings = {k: v for k, v in config.items() if k not in ("target_modules", "tt_shapes")}
    targets = config["target_modules"]
    labels = getattr(getattr(model.base_model, "config", None), "num_labels", None)
    load_base = (
        f'{base_class}.from_pretrained("{base}"'
        + (f", num_labels={labels}" if "Classification" in base_class else "")
        + ")"
        if base
        else f"...  # the {base_class} this adapter was trained on"
    )
    lines = [
        *front,
        "",
        f"# {method} adapter for {base or base_class}",
        "",
        f"A tensor-train adapter made with [loretta_explore](https://pypi.org/project/"
        f"loretta-explore/) (LoRETTA, Yang et al., NAACL 2024, arXiv 2402.11417): "
        f"**{trained:,} trained numbers** "
        f"({100 * trained / max(total, 1):.4f}% of the {total:,} of the adapted model), in the "
        f"kit's own adapter format {doc['format']!r} version {doc['format_version']}.",
        "",
        "## Load it",
        "",
        "```python",
        "import loretta_explore as lx",
        f"from transformers import {base_class}",
        "",
        f"base = {load_base}",
        f'model = lx.LorettaModel.from_pretrained(base, "{repo_id}")',
        "```",
        "",
        "This is not a PEFT adapter: `PeftModel.from_pretrained` cannot load it (the repo's "
        "`adapter_config.json` only tells PEFT so).",
        "",
        "## Settings",
        "",
        "| setting | value |",
        "|---|---|",
        *[f"| {k} | `{json.dumps(v)}` |" for k, v in settings.items()],
        f"| adapted modules | {len(targets)} (listed in `{CONFIG_NAME}`) |",
        f"| base model class | `{base_class}` (model_type `{doc['model_type']}`) |",
        "",
    ]
    return "\n".join(lines)


def push_adapter(
    model,
    repo_id: str,
    *,
    private: bool | None = None,
    token: str | bool | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    create_pr: bool = False,
):
    """Upload the adapter files and a model card to `repo_id` (created if missing).

    Returns huggingface_hub's CommitInfo. Nothing of the base model is uploaded.
    """
    from huggingface_hub import HfApi

    if not isinstance(repo_id, str) or not REPO_ID.fullmatch(repo_id):
        raise ValueError(f"repo_id must be a Hub repo id such as 'owner/name', got {repo_id!r}")
    api = HfApi(token=token)
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_adapter(model, Path(tmp) / "adapter")  # checks before anything is sent
        (folder / "README.md").write_text(model_card(model, repo_id), encoding="utf-8")
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        if revision is not None:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        return api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            revision=revision,
            create_pr=create_pr,
            commit_message=commit_message
            or f"Upload LoRETTA_{model.loretta_config.method} adapter",
        )
