"""Train LoRETTA with data parallelism (DDP): one process per device, a plain transformers.Trainer.

    torchrun --nproc_per_node 2 examples/ddp_train.py --out runs/ddp   # 2 CPU processes (gloo)
    torchrun --nproc_per_node 8 examples/ddp_train.py --out runs/ddp   # 8 GPUs (nccl)
    python examples/ddp_train.py --out runs/one                        # one process, same batch

Every process holds the whole (frozen) base model and the small LoRETTA tensors; DDP averages
the gradients of the trainable tensors only (frozen weights have none), so each step moves every
rank's TT cores identically and the run equals one process with the same global batch (`--batch`
is global: each of N processes takes batch / N rows). Rank 0 alone writes the adapter
(``save_pretrained(..., is_main_process=...)``) and the Trainer's folder (``save_model``); the
other ranks return without writing. ``--dump`` makes every rank write its trained tensors to
``rank<r>.safetensors``, which is how tests/test_ddp.py checks that the ranks agree.
The model is the kit's tiny LLaMA (random weights, no download), so this runs anywhere in
seconds; put your own model and data in `build` and `rows` for a real run.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

import loretta_explore as lx


def build() -> lx.LorettaModel:
    """The tiny LLaMA with LoRETTA_rep; dropout 0 so that runs are comparable step by step."""
    base, _ = lx.tiny_decoder(seed=0)
    torch.manual_seed(0)  # the same TT start on every rank (DDP also broadcasts rank 0's)
    return lx.get_loretta_model(base, lx.LorettaConfig(method="rep", dropout=0.0))


def rows(n: int, vocab: int, seq: int = 16) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        ids = torch.randint(3, vocab, (seq,), generator=g)
        out.append(
            dict(input_ids=ids, attention_mask=torch.ones(seq, dtype=torch.long), labels=ids)
        )
    return out


def main(argv: list[str] | None = None) -> None:
    from safetensors.torch import save_file
    from transformers import Trainer, TrainingArguments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for everything written")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=8, help="global batch (all ranks together)")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--dump", action="store_true", help="every rank writes its TT tensors")
    args = parser.parse_args(argv)

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if args.batch % world:
        parser.error(f"--batch {args.batch} must be a multiple of the {world} processes")
    cuda = torch.cuda.is_available()
    model = build()
    training = TrainingArguments(
        output_dir=str(args.out / "trainer"),
        per_device_train_batch_size=args.batch // world,
        max_steps=args.steps,
        learning_rate=args.lr,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=not cuda,
        ddp_backend="gloo" if world > 1 and not cuda else None,
        disable_tqdm=True,
        seed=0,
    )
    trainer = Trainer(
        model=model,
        args=training,
        train_dataset=rows(args.steps * args.batch, model.config.vocab_size),
    )
    trainer.train()

    rank, main_process = trainer.args.process_index, trainer.is_world_process_zero()
    if args.dump:
        state = {n: p.detach().cpu().contiguous() for n, p in model.trainable_state().items()}
        save_file(state, str(args.out / f"rank{rank}.safetensors"))
    trainer.save_model(str(args.out / "trainer_model"))  # the Trainer writes on rank 0 only
    model.save_pretrained(args.out / "adapter", is_main_process=main_process)
    if main_process:
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        (args.out / "run.json").write_text(json.dumps(dict(world_size=world, losses=losses)))
        print(f"rank {rank} of {world}: adapter in {args.out / 'adapter'}, losses {losses}")


if __name__ == "__main__":
    main()
