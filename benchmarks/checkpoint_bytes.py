"""Bytes on disk: the adapter folder, a Trainer checkpoint and ``trainer.save_model()``.

For the bundled encoder (``lx.load_encoder()``) and the tiny LLaMA (``lx.tiny_decoder()``), each
with LoRETTA_rep at the paper's settings: one ``transformers.Trainer`` step with a checkpoint, then
``save_model``; every file's size is summed per folder. Why: a checkpoint should hold what
``save_pretrained`` holds plus the Trainer's own state (optimizer, scheduler, rng, trainer_state),
not the whole base model.
Run: `.venv/bin/python benchmarks/checkpoint_bytes.py` (not part of `make bench`: no timings).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

import loretta_explore as lx

#: the files a checkpoint holds for the model itself (the rest is the Trainer's own state)
TRAINER_STATE = (
    "optimizer.pt",
    "scheduler.pt",
    "rng_state.pth",
    "trainer_state.json",
    "training_args.bin",
    "scaler.pt",
)


def folder_bytes(folder: Path, skip: tuple[str, ...] = ()) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name not in skip)


def _rows(vocab: int, decoder: bool, n: int = 8, seq: int = 12) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    rows = []
    for i in range(n):
        ids = torch.randint(3, vocab, (seq,), generator=g)
        rows.append(
            dict(
                input_ids=ids,
                attention_mask=torch.ones(seq, dtype=torch.long),
                labels=ids if decoder else torch.tensor(i % 2),
            )
        )
    return rows


def measure(name: str, model, decoder: bool) -> dict:
    from transformers import Trainer, TrainingArguments

    model = lx.get_loretta_model(model, lx.LorettaConfig(method="rep"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        adapter = folder_bytes(model.save_pretrained(tmp / "adapter"))
        args = TrainingArguments(
            output_dir=str(tmp / "run"),
            per_device_train_batch_size=4,
            max_steps=1,
            save_steps=1,
            save_strategy="steps",
            report_to=[],
            use_cpu=True,
            disable_tqdm=True,
            logging_strategy="no",
        )
        trainer = Trainer(
            model=model, args=args, train_dataset=_rows(model.config.vocab_size, decoder)
        )
        trainer.train()
        checkpoint = tmp / "run" / "checkpoint-1"
        trainer.save_model(str(tmp / "saved"))
        return dict(
            model=name,
            trainable=model.num_trainable(),
            adapter_bytes=adapter,
            checkpoint_model_bytes=folder_bytes(checkpoint, TRAINER_STATE),
            checkpoint_bytes=folder_bytes(checkpoint),
            save_model_bytes=folder_bytes(tmp / "saved", ("training_args.bin",)),
            checkpoint_files=sorted(p.name for p in checkpoint.iterdir()),
        )


def run() -> list[dict]:
    encoder, _ = lx.load_encoder()
    decoder, _ = lx.tiny_decoder()
    return [
        measure("bundled encoder (MiniLM-L6)", encoder, False),
        measure("tiny LLaMA", decoder, True),
    ]


if __name__ == "__main__":
    print(
        "| model | trainable | adapter folder | checkpoint: model files | checkpoint: all "
        "| save_model (without training_args.bin) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for r in run():
        print(
            f"| {r['model']} | {r['trainable']:,} | {r['adapter_bytes']:,} | "
            f"{r['checkpoint_model_bytes']:,} | {r['checkpoint_bytes']:,} | "
            f"{r['save_model_bytes']:,} |"
        )
        print(f"<!-- checkpoint files: {', '.join(r['checkpoint_files'])} -->")
