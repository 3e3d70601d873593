"""One training step of the bundled encoder (batch 16, sequence 64) per method, as ratios to LoRA.

Methods, with the options of the fine-tuning recipe (compare_methods.py): loretta_rep, loretta_adp,
LoRA r=8 on query/value (PEFT), full fine-tuning, and the floor (backbone frozen, only norms and
classifier trained). For each, on the CPU (``--device cuda`` for a GPU): median seconds per step
(forward + backward + AdamW; all five models built in one process and stepped in turn), peak memory
over ten steps (resident set; max allocated on CUDA; each method in its own process), and the
float32 bytes a checkpoint holds (the trained tensors; for rep's compensated start also its frozen
starting cores, which reloading needs).
Aims: rep no slower than LoRA, adp at most 1.1x.
Run: ``.venv/bin/python benchmarks/train_step.py`` (part of ``make bench``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from compare_methods import METHOD_OPTIONS
from timing import interleaved_medians

import loretta_explore as lx
from loretta_explore.training import _PeakMemory

METHODS = ["lora", "loretta_rep", "loretta_adp", "full", "norms"]


def _setup(method: str, device: str = "cpu", batch: int = 16, seq: int = 64, compile: bool = False):
    """A prepared model and a function doing one training step on a fixed random batch.

    ``compile``: the forward (and so its backward) goes through ``torch.compile``, which fuses the
    many small TT products into fewer kernels.
    """
    torch.manual_seed(0)
    model, _ = lx.load_encoder()
    model = lx.prepare(model, method, **METHOD_OPTIONS.get(method, {})).to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    g = torch.Generator().manual_seed(0)
    data = dict(
        input_ids=torch.randint(1000, 20000, (batch, seq), generator=g),
        attention_mask=torch.ones(batch, seq, dtype=torch.long),
        labels=torch.randint(0, 2, (batch,), generator=g),
    )
    data = {k: v.to(device) for k, v in data.items()}

    forward = torch.compile(model) if compile else model

    def step():
        loss = forward(**data).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()  # time the work, not its queueing

    return model, params, step


def memory(method: str, device: str = "cpu", steps: int = 10) -> dict:
    """Peak memory over a few steps (resident set on the CPU, max allocated on CUDA), trainable
    count and checkpoint bytes; run in its own process."""
    model, params, step = _setup(method, device)
    with _PeakMemory(torch.device(device)) as peak:
        for _ in range(steps):
            step()
    # What a checkpoint must hold: the trained tensors, plus rep's frozen starting cores (compensated).
    stored = (
        model.trainable_state() if isinstance(model, lx.LorettaModel) else dict(enumerate(params))
    )
    return dict(
        method=method,
        peak_mb=peak.peak,
        trainable=sum(p.numel() for p in params),
        stored_bytes=sum(t.numel() * t.element_size() for t in stored.values()),
    )


def _in_subprocess(method: str, device: str) -> dict:
    """Each method's memory in a fresh process, so one run's memory never counts in another's peak."""
    code = (
        f"import json, sys, torch; torch.set_num_threads(2); sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"import train_step; print(json.dumps(train_step.memory({method!r}, {device!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(repeats: int = 25, device: str = "cpu") -> list[dict]:
    rows = [_in_subprocess(m, device) for m in METHODS]
    seconds = interleaved_medians(
        {m: _setup(m, device)[2] for m in METHODS}, repeats
    )  # all models, in turn
    lora = next(r for r in rows if r["method"] == "lora")
    for r in rows:
        r["seconds"] = seconds[r["method"]]
        r["time_vs_lora"] = r["seconds"] / seconds["lora"]
        r["memory_vs_lora"] = r["peak_mb"] / lora["peak_mb"]
        r["storage_vs_lora"] = r["stored_bytes"] / lora["stored_bytes"]
    return rows


def compiled(
    repeats: int = 25, device: str = "cpu", methods=("lora", "loretta_rep", "loretta_adp")
) -> list[dict]:
    """Eager and compiled steps of `methods`, all timed in turn: does compiling close the gap to LoRA?"""
    steps = {}
    for m in methods:
        steps[m] = _setup(m, device)[2]
        steps[m + " (compiled)"] = _setup(m, device, compile=True)[2]
    seconds = interleaved_medians(steps, repeats, warmup=3)  # the warm-up steps compile
    return [
        dict(
            method=name,
            seconds=t,
            time_vs_lora=t / seconds["lora"],
            time_vs_compiled_lora=t / seconds["lora (compiled)"],
        )
        for name, t in seconds.items()
    ]


def markdown(rows: list[dict]) -> str:
    lines = [
        "| method | s / step | time / LoRA | peak MB | memory / LoRA | trainable | stored bytes | storage / LoRA |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['seconds']:.3f} | {r['time_vs_lora']:.2f} | {r['peak_mb']:.0f} | "
            f"{r['memory_vs_lora']:.2f} | {r['trainable']:,} | {r['stored_bytes']:,} | {r['storage_vs_lora']:.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu", help="cpu (make bench) or cuda")
    parser.add_argument(
        "--compile", action="store_true", help="time eager against torch.compile instead"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.compile:
        print("| method | s / step | time / eager LoRA | time / compiled LoRA |\n|---|---|---|---|")
        for r in compiled(device=args.device):
            print(
                f"| {r['method']} | {r['seconds']:.4f} | {r['time_vs_lora']:.2f} | {r['time_vs_compiled_lora']:.2f} |"
            )
    else:
        print(markdown(run(device=args.device)))
