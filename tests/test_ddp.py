"""DDP in two CPU processes (gloo, torchrun) against one process with the same global batch.

Runs examples/ddp_train.py twice as a user would (``python -m torch.distributed.run
--nproc_per_node 2`` on a free port of 127.0.0.1, then plain ``python``), bounded in time, and
checks what they wrote: identical TT tensors on both ranks, the same run as one process, one
adapter written by rank 0 that the kit loads.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

import loretta_explore as lx

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "ddp_train.py"
#: DDP vs one process, measured on 2 CPU cores: losses 1.0e-6 apart, TT tensors 1.4e-5 (Adam at
#: lr 1e-2 turns the different order of float sums into slightly different steps)
LOSS_ATOL, TENSOR_ATOL = 1e-5, 1e-4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(command: list[str], out: Path) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    done = subprocess.run(
        [*command, str(SCRIPT), "--out", str(out), "--dump"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_two_processes_agree_with_each_other_and_with_one(tmp_path):
    run = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
    ]
    said = _run(run, tmp_path / "ddp")
    _run([sys.executable], tmp_path / "one")

    rank0, rank1 = (load_file(str(tmp_path / "ddp" / f"rank{r}.safetensors")) for r in (0, 1))
    one = load_file(str(tmp_path / "one" / "rank0.safetensors"))
    assert rank0.keys() == rank1.keys() == one.keys() and any(".cores." in k for k in rank0)
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), f"ranks differ in {name}"
        gap = (rank0[name] - one[name]).abs().max().item()
        assert gap <= TENSOR_ATOL, f"{name}: DDP and one process differ by {gap:.3g}"
    ddp, single = (json.loads((tmp_path / d / "run.json").read_text()) for d in ("ddp", "one"))
    assert (ddp["world_size"], single["world_size"]) == (2, 1)
    assert len(ddp["losses"]) == len(single["losses"]) == 6
    assert max(abs(a - b) for a, b in zip(ddp["losses"], single["losses"])) <= LOSS_ATOL
    assert said.count("adapter in") == 1 and "rank 0 of 2" in said  # rank 0 alone wrote

    # rank 0 wrote one adapter folder and the Trainer's, and they hold rank 0's tensors
    adapter = tmp_path / "ddp" / "adapter"
    assert sorted(p.name for p in adapter.iterdir()) == [
        "adapter_config.json",
        "loretta_adapter.safetensors",
        "loretta_config.json",
    ]
    saved = load_file(str(adapter / "loretta_adapter.safetensors"))
    assert all(torch.equal(saved[k], rank0[k]) for k in rank0)
    base, _ = lx.tiny_decoder(seed=0)
    loaded = lx.LorettaModel.from_pretrained(base, tmp_path / "ddp" / "trainer_model")
    assert all(torch.equal(p, rank0[n]) for n, p in loaded.trainable_state().items())


def test_other_ranks_write_nothing(tmp_path):
    base, _ = lx.tiny_decoder(seed=0)
    model = lx.get_loretta_model(base, lx.LorettaConfig(method="rep"))
    model.save_pretrained(tmp_path / "adapter", is_main_process=False)
    assert not (tmp_path / "adapter").exists()
