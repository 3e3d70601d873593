"""push_to_hub and from_pretrained("owner/name") through huggingface_hub's real code, against a
tiny Hub on 127.0.0.1 (tests/hub_server.py): no network, nothing mocked inside the kit."""

import json

import pytest
import torch
from conftest import tiny_batch, tiny_model
from hub_server import Hub

import loretta_explore as lx

ADAPTER = {"loretta_config.json", "loretta_adapter.safetensors", "adapter_config.json"}


@pytest.fixture
def hub(monkeypatch):
    """The local Hub, with huggingface_hub pointed at it (what HF_ENDPOINT does) and online."""
    from huggingface_hub import constants

    with Hub() as server:
        monkeypatch.setattr(constants, "ENDPOINT", server.url)
        monkeypatch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            server.url + "/{repo_id}/resolve/{revision}/{filename}",
        )
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        yield server


def adapted(seed=1, steps=2):
    model = tiny_model("bert")
    torch.manual_seed(seed)
    model = lx.get_loretta_model(model, lx.LorettaConfig(method="rep", bottleneck=8, tt_rank=3))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    for _ in range(steps):
        opt.zero_grad()
        model(**tiny_batch("bert")).loss.backward()
        opt.step()
    return model.eval()


def logits(model):
    batch = {k: v for k, v in tiny_batch("bert").items() if k != "labels"}
    with torch.no_grad():
        return model.eval()(**batch).logits


def test_push_uploads_only_the_adapter_and_a_card_and_loads_back(hub, tmp_path):
    model = adapted()
    model.base_model.config._name_or_path = "someone/tiny-bert"
    info = model.push_to_hub("me/tiny-loretta", token="hf_test", private=True)
    assert info.oid == hub.repos["me/tiny-loretta"]["refs"]["main"]
    files = hub.files("me/tiny-loretta")
    assert set(files) == ADAPTER | {"README.md"}
    base_bytes = sum(t.numel() * t.element_size() for t in model.base_model.state_dict().values())
    assert sum(map(len, files.values())) < base_bytes / 4
    assert hub.repos["me/tiny-loretta"]["private"]
    repo_calls = [
        auth for _, path, auth in hub.log if path.startswith(("/api/repos", "/api/models"))
    ]
    assert len(repo_calls) == 3 and set(repo_calls) == {"Bearer hf_test"}  # the token went along
    card = files["README.md"].decode()
    for said in (
        "base_model: someone/tiny-bert",
        "library_name: loretta_explore",
        "LoRETTA_rep",
        f"**{model.num_trained():,} trained numbers**",
        "| alpha | `16.0` |",
        'lx.LorettaModel.from_pretrained(base, "me/tiny-loretta")',
        'BertForSequenceClassification.from_pretrained("someone/tiny-bert", num_labels=2)',
    ):
        assert said in card, said
    hub.log.clear()
    loaded = lx.LorettaModel.from_pretrained(
        tiny_model("bert"), "me/tiny-loretta", token="hf_test", cache_dir=tmp_path / "cache"
    )
    assert torch.allclose(logits(loaded), logits(model), atol=1e-6)
    fetched = {path.rsplit("/", 1)[-1] for method, path, _ in hub.log if method == "GET"}
    assert fetched == {"loretta_config.json", "loretta_adapter.safetensors"}  # nothing else


def test_revisions_and_the_offline_cache(hub, tmp_path, monkeypatch):
    from huggingface_hub import constants

    first, second = adapted(seed=1), adapted(seed=2)
    first.push_to_hub("me/tiny-loretta")
    second.push_to_hub("me/tiny-loretta", revision="v2", commit_message="second try")
    cache = tmp_path / "cache"
    on_main = lx.LorettaModel.from_pretrained(
        tiny_model("bert"), "me/tiny-loretta", cache_dir=cache
    )
    on_v2 = lx.LorettaModel.from_pretrained(
        tiny_model("bert"), "me/tiny-loretta", revision="v2", cache_dir=cache
    )
    assert torch.allclose(logits(on_main), logits(first), atol=1e-6)
    assert torch.allclose(logits(on_v2), logits(second), atol=1e-6)
    assert not torch.allclose(logits(on_main), logits(on_v2), atol=1e-4)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # the cache serves it offline
    again = lx.LorettaModel.from_pretrained(tiny_model("bert"), "me/tiny-loretta", cache_dir=cache)
    assert torch.allclose(logits(again), logits(first), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="holds no LoRETTA adapter in the local cache"):
        lx.LorettaModel.from_pretrained(tiny_model("bert"), "me/elsewhere", cache_dir=cache)


def test_repos_without_a_loretta_adapter_say_what_they_are(hub, tmp_path):
    lora = tmp_path / "lora"
    lx.prepare(tiny_model("bert"), "lora", r=4).save_pretrained(lora)
    hub.repos["me/a-lora"] = {"refs": {"main": "0" * 40}, "commits": {"0" * 40: {}}}
    hub.commit("me/a-lora", "main", {p.name: p.read_bytes() for p in lora.iterdir()})
    with pytest.raises(ValueError, match=r"is a PEFT adapter \(peft_type 'LORA'"):
        lx.LorettaModel.from_pretrained(tiny_model("bert"), "me/a-lora", cache_dir=tmp_path / "c")
    hub.repos["me/a-model"] = {"refs": {"main": "1" * 40}, "commits": {"1" * 40: {}}}
    hub.commit("me/a-model", "main", {"config.json": json.dumps({"model_type": "bert"}).encode()})
    with pytest.raises(FileNotFoundError, match="'me/a-model' .* holds no LoRETTA adapter"):
        lx.LorettaModel.from_pretrained(tiny_model("bert"), "me/a-model", cache_dir=tmp_path / "c")
    from huggingface_hub.errors import RepositoryNotFoundError

    with pytest.raises(RepositoryNotFoundError):
        lx.LorettaModel.from_pretrained(tiny_model("bert"), "me/missing", cache_dir=tmp_path / "c")


def test_local_paths_that_do_not_exist_are_not_sent_to_the_hub(hub):
    for source in ("./no/such/adapter", "/no/such/adapter", "no such adapter"):
        with pytest.raises(FileNotFoundError, match="no adapter folder"):
            lx.LorettaModel.from_pretrained(tiny_model("bert"), source)
    assert hub.log == []
    with pytest.raises(ValueError, match="repo_id must be a Hub repo id"):
        adapted().push_to_hub("not a repo id")
