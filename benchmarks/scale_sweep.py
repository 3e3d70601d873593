"""Step time, peak memory and checkpoint size as LLaMA-style decoders grow, as ratios to LoRA.

Models: ``LlamaForCausalLM`` from a ``LlamaConfig`` with random weights (nothing downloaded):
hidden 512, 1024, 2048 on the CPU (``make bench``; 4096 takes ~10 s a step there, too long for a
few minutes), 4096 on a GPU; intermediate 2.6875 x hidden (LLaMA-2-7B's 11008 / 4096), attention
heads of 64 dims (hidden <= 1024) or 128, vocabulary 4096, sequence 256, batch 1 (CPU) or 2 (GPU).
Two decoder layers on the CPU: a real model repeats the same layer 32 times, so a few layers give
the per-layer step-time ratio. Not one: LoRETTA trains the norms (as the paper does), and the
first layer's norm makes the backward pass go through that layer's q, k, v input projections,
which LoRA skips; with one layer that boundary cost is a large share of the step (the norms-only
floor measured 1.16x LoRA at hidden 2048 with one layer, 1.01-1.06x with two), and with 32 layers
it is 1/32 of one layer's backward.
The embedding and the LM head, the same for every method, are kept small (vocabulary 4096, not
32000) so that they do not dilute the ratios: in a full model they sit closer to 1.
Methods, each set up with ``lx.prepare(model, method)``: LoRA r=8 on q_proj, v_proj (PEFT, the
baseline), loretta_rep and loretta_adp with the paper's LLaMA defaults (rep b=16, TT rank 8,
dropout 0.05; adp b=64, TT rank 5), full fine-tuning (where it fits) and the frozen floor (norms
only). LoRA gets rep's dropout of 0.05 on its input too (PEFT's usual LLaMA setting), so the two
differ only in how the update is computed; without it LoRA saves the dropout mask, about 5% of an
adapted layer's step on the CPU. Per method: median seconds of one step (forward + backward +
AdamW; all models built in one process and stepped in turn, benchmarks/timing.py), peak memory over
three steps in a fresh process (CUDA: the allocator's maximum; CPU: resident set above the process
before the model was built), and checkpoint bytes (the trained tensors written as safetensors).
Run: ``.venv/bin/python benchmarks/scale_sweep.py`` (part of ``make bench``); on a GPU,
``bash benchmarks/gpu_sweep.sh``; a smoke test anywhere: ``--device cpu --tiny``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from timing import interleaved_medians

import loretta_explore as lx

HERE = Path(__file__).parent
METHODS = ["lora", "loretta_rep", "loretta_adp", "full", "norms"]
OPTIONS = {"lora": {"dropout": 0.05}}  # rep's paper dropout (LLaMA), so both drop the same input
CPU_HIDDEN = (512, 1024, 2048)
AIM = 1.05  # step time / LoRA at hidden >= 2048 (CPU); 1.10 and peak memory <= LoRA's on a GPU


def llama_config(hidden: int, layers: int = 1, vocab: int = 4096, seq: int = 256):
    """A LLaMA-2-shaped config of width `hidden` (intermediate 2.6875 x hidden, as 11008 / 4096)."""
    from transformers import LlamaConfig

    head_dim = 64 if hidden <= 1024 else 128
    intermediate = max(8, round(hidden * 11008 / 4096 / 8) * 8)
    return LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // head_dim),
        num_key_value_heads=max(1, hidden // head_dim),
        max_position_embeddings=max(seq, 64),
        tie_word_embeddings=False,
    )


def build(method: str, spec: dict):
    """A prepared model and a function doing one training step on a fixed random batch."""
    from transformers import LlamaForCausalLM

    device, dtype = torch.device(spec["device"]), getattr(torch, spec["dtype"])
    torch.manual_seed(0)
    config = llama_config(spec["hidden"], spec["layers"], spec["vocab"], spec["seq"])
    with device:  # initialised where it runs: a 7B-sized model would take minutes on the CPU
        model = LlamaForCausalLM(config).to(dtype=dtype)
    model = lx.prepare(
        model, method
    ).train()  # adapters in float32 beside a bf16 base, as the paper
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, spec["vocab"], (spec["batch"], spec["seq"]), generator=g).to(device)
    forward = (
        model
        if spec["compile"] == "none"
        else torch.compile(model, mode=None if spec["compile"] == "default" else spec["compile"])
    )

    def step():
        loss = forward(input_ids=ids, labels=ids).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()  # time the work, not its queueing

    return model, params, step


def checkpoint_bytes(model, params) -> int:
    """Bytes of the trained tensors written as safetensors (what a checkpoint of the run holds)."""
    from safetensors.torch import save

    state = model.trainable_state() if hasattr(model, "trainable_state") else None
    if state is None:
        state = {n: p for n, p in model.named_parameters() if p.requires_grad}
    return len(save({n: t.detach().contiguous().cpu() for n, t in state.items()}))


def memory(method: str, spec: dict, steps: int = 3) -> dict:
    """Peak memory over a few steps, trainable count, checkpoint bytes; run in its own process."""
    import psutil

    from loretta_explore.training import _PeakMemory

    device = torch.device(spec["device"])
    before = psutil.Process().memory_info().rss / 2**20
    model, params, step = build(method, spec)
    with _PeakMemory(device) as peak:
        for _ in range(steps):
            step()
    peak_mb = peak.peak if device.type == "cuda" else peak.peak - before
    return dict(
        method=method,
        peak_mb=peak_mb,
        trainable=sum(p.numel() for p in params),
        params=sum(p.numel() for p in model.parameters()),
        stored_bytes=checkpoint_bytes(model, params),
    )


def _in_subprocess(method: str, spec: dict) -> dict:
    """One method's memory in a fresh process, so no other model counts in its peak."""
    out = subprocess.run(
        [sys.executable, __file__, "--memory-worker", json.dumps([method, spec])],
        capture_output=True,
        text=True,
        cwd=HERE,
    )
    if out.returncode:
        return dict(method=method, error=(out.stderr.strip().splitlines() or ["failed"])[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fits(method: str, spec: dict) -> bool:
    """Full fine-tuning keeps weights, gradients and two AdamW moments: skip it where that would
    not fit in half the free memory (the other models share the process while timing)."""
    if method != "full":
        return True
    config = llama_config(spec["hidden"], spec["layers"], spec["vocab"], spec["seq"])
    params = (
        config.num_hidden_layers
        * (4 * config.hidden_size**2 + 3 * config.hidden_size * config.intermediate_size)
        + 2 * config.vocab_size * config.hidden_size
    )
    need = params * getattr(torch, spec["dtype"]).itemsize * 4
    if spec["device"] == "cuda":
        free = torch.cuda.mem_get_info()[0]
    else:
        import psutil

        free = psutil.virtual_memory().available
    return need < free / 2


def run(
    hidden=CPU_HIDDEN,
    layers: int = 2,
    device: str = "cpu",
    dtype: str = "float32",
    batch: int = 1,
    seq: int = 256,
    vocab: int = 4096,
    repeats: int = 7,
    methods=METHODS,
    compile: str = "none",
    clock: str = "wall",
) -> list[dict]:
    """Rows of the sweep: one per (hidden size, method), ratios to LoRA at the same size."""
    clocks = {"wall": time.perf_counter, "process": time.process_time}
    rows = []
    for h in hidden:
        spec = dict(
            hidden=h,
            layers=layers,
            device=device,
            dtype=dtype,
            batch=batch,
            seq=seq,
            vocab=vocab,
            compile=compile,
        )
        chosen = [m for m in methods if _fits(m, spec)]
        print(f"hidden {h}: {', '.join(chosen)}", flush=True)
        found = {m: _in_subprocess(m, spec) for m in chosen}
        steps = {m: build(m, spec)[2] for m in chosen if "error" not in found[m]}
        warmup = 2 if compile == "none" else 3  # compiling takes the first steps
        seconds = interleaved_medians(steps, repeats, warmup=warmup, clock=clocks[clock])
        del steps
        gc.collect()
        lora = found["lora"]
        for m in chosen:
            settings = {k: v for k, v in spec.items() if k != "vocab"}
            r = found[m] | settings | dict(clock=clock)
            if "error" not in r:
                r["seconds"] = seconds[m]
                r["time_vs_lora"] = seconds[m] / seconds["lora"]
                r["memory_vs_lora"] = r["peak_mb"] / lora["peak_mb"]
                r["storage_vs_lora"] = r["stored_bytes"] / lora["stored_bytes"]
            rows.append(r)
        for m in methods:
            if m not in chosen:
                rows.append(dict(method=m, hidden=h, layers=layers, error="does not fit in memory"))
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| hidden | layers | params | method | s / step | time / LoRA | peak MB | memory / LoRA "
        "| trainable | stored bytes | storage / LoRA |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(
                f"| {r['hidden']} | {r['layers']} | | {r['method']} | {r['error']} | | | | | | |"
            )
            continue
        lines.append(
            f"| {r['hidden']} | {r['layers']} | {r['params'] / 1e6:.3g}M | {r['method']} | "
            f"{r['seconds']:.3f} | {r['time_vs_lora']:.2f} | {r['peak_mb']:.0f} | "
            f"{r['memory_vs_lora']:.2f} | {r['trainable']:,} | {r['stored_bytes']:,} | "
            f"{r['storage_vs_lora']:.3f} |"
        )
    first = next((r for r in rows if "error" not in r), None)
    if first is not None:  # how the seconds were taken: a crowded machine is timed in CPU time
        clock = {
            "process": "CPU time of the stepping process (the machine was shared)",
            "wall": "wall-clock time",
        }.get(first.get("clock"), first.get("clock"))
        lines += [
            "",
            f"Seconds per step: median {clock}; {first.get('device', '?')}, "
            f"{first.get('dtype', '?')}, batch {first.get('batch', '?')}, "
            f"{first.get('seq', '?')} tokens, {first.get('measured', 'date not saved')}.",
        ]
    return "\n".join(lines)


def aims(rows: list[dict], aim: float = AIM) -> list[str]:
    """One line per LoRETTA method at the largest width: met or missed, by how much."""
    done = [r for r in rows if "error" not in r]
    if not done:
        return []
    top = max(r["hidden"] for r in done)
    lines = []
    for method in ("loretta_rep", "loretta_adp"):
        r = next((r for r in done if r["hidden"] == top and r["method"] == method), None)
        if r is None:
            continue
        verdict = (
            "met"
            if r["time_vs_lora"] <= aim
            else f"missed by {100 * (r['time_vs_lora'] / aim - 1):.0f}%"
        )
        floor = next((f for f in done if f["hidden"] == top and f["method"] == "norms"), None)
        lines.append(
            f"- Scale sweep, hidden {top} ({r['layers']} layers): {method} / LoRA = "
            f"{r['time_vs_lora']:.2f} (aim <= {aim:g}: {verdict}"
            + (f"; the norms-only floor: {floor['time_vs_lora']:.2f}" if floor else "")
            + f"); peak memory {r['memory_vs_lora']:.2f}x, checkpoint "
            f"{r['storage_vs_lora']:.3f}x LoRA's."
            + (_why_missed(r, floor) if r["time_vs_lora"] > aim else "")
        )
    return lines


def _why_missed(r: dict, floor: dict | None) -> str:
    """Why a LoRETTA step missed its aim in the sweep: how much is the trained norms' cost (the
    floor, which LoRA does not pay) and how much the TT chain above it."""
    if floor is None:
        return ""
    above = r["time_vs_lora"] / floor["time_vs_lora"]
    return (
        f" Why: training the norms alone already costs {floor['time_vs_lora']:.2f}x LoRA's step "
        "(the paper trains every norm, and the first layer's norm makes the backward pass run "
        "through that layer's input projections, which LoRA's backward skips); the TT layers add "
        + (f"{100 * (above - 1):.0f}% above that floor" if above >= 1.005 else "nothing above it")
        + ". What would close it: a model that keeps its "
        "norms frozen (`train_norms=False`) pays no floor; deeper models dilute the first layer's "
        "share (a 32-layer model pays it once); fewer, larger cores shorten the chain."
    )


def write_gpu_report(rows: list[dict], path: Path, command: str, tag: str = "eager") -> None:
    """Put the sweep between markers in RESULTS_gpu.md, leaving the rest of the file alone (one
    section per tag, so an eager and a compiled run can stand side by side)."""
    begin, end = f"<!-- scale_sweep {tag}: begin -->", f"<!-- scale_sweep {tag}: end -->"
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    section = (
        f"{begin}\n## Scale sweep: LLaMA-architecture decoders\n\nMeasured "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {device} (torch "
        f"{torch.__version__}) with `{command}`.\n{(__doc__ or '').splitlines()[0]}\n\n"
        f"{markdown(rows)}\n\n" + "\n".join(aims(rows, 1.10)) + f"\n{end}"
    )
    text = path.read_text() if path.exists() else "# Benchmarks on a GPU\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument(
        "--dtype", default=None, help="float32 (CPU default) or bfloat16 (CUDA default)"
    )
    parser.add_argument("--hidden", type=int, nargs="+", default=None)
    parser.add_argument("--layers", type=int, default=None, help="decoder layers (CPU 2, CUDA 8)")
    parser.add_argument("--batch", type=int, default=None, help="CPU 1, CUDA 2")
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument(
        "--compile",
        default="none",
        choices=["none", "default", "reduce-overhead"],
        help="torch.compile the model (reduce-overhead: CUDA graphs)",
    )
    parser.add_argument(
        "--clock",
        default="wall",
        choices=["wall", "process"],
        help="process: CPU time of this process (a crowded machine; use --threads 1)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--tiny", action="store_true", help="hidden 64 and 128, sequence 32: a smoke test"
    )
    parser.add_argument(
        "--gpu-report", action="store_true", help="write the table into RESULTS_gpu.md"
    )
    parser.add_argument("--json", type=Path, default=None, help="also save the rows here")
    parser.add_argument("--memory-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.memory_worker:
        method, spec = json.loads(args.memory_worker)
        print(json.dumps(memory(method, spec)))
        return
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no GPU")
    rows = run(
        hidden=args.hidden or ((64, 128) if args.tiny else (4096,) if cuda else CPU_HIDDEN),
        layers=args.layers or (8 if cuda and not args.tiny else 2),
        device=args.device,
        dtype=args.dtype or ("bfloat16" if cuda else "float32"),
        batch=args.batch or (2 if cuda else 1),
        seq=32 if args.tiny else args.seq,
        vocab=512 if args.tiny else args.vocab,
        repeats=2 if args.tiny else args.repeats,
        methods=args.methods,
        compile=args.compile,
        clock=args.clock,
    )
    text = markdown(rows) + "\n\n" + "\n".join(aims(rows, 1.10 if cuda else AIM))
    print(text)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    if args.gpu_report:
        write_gpu_report(
            rows,
            HERE / "RESULTS_gpu.md",
            "python benchmarks/scale_sweep.py " + " ".join(sys.argv[1:]),
        )


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
