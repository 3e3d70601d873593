"""The training engine on small slices of the bundled task with the bundled encoder."""

import math

import pytest
import torch

import loretta_explore as lx
from loretta_explore.training import _metric, pick_device


@pytest.fixture(scope="module")
def encoder():
    return lx.load_encoder()


def fresh(encoder, method="loretta_rep", seed=0, **options):
    model, tok = lx.load_encoder()
    torch.manual_seed(seed)  # new TT cores are drawn from the global generator
    return lx.prepare(model, method, **options), tok


QUICK = dict(batch_size=8, max_length=32, max_eval_examples=32, progress=False, device="cpu")


def test_loss_falls_and_result_is_complete(encoder):
    model, tok = fresh(encoder, "loretta_rep", train_classifier=True)
    task = lx.load_task("sentiment", "train").head(16)  # memorise 16 sentences
    seen = []
    result = lx.train(model, task, tokenizer=tok, max_steps=20, learning_rate=1e-2, eval_every=10,
                      callbacks=[seen.append], **QUICK)
    losses = [h["loss"] for h in result.history if "loss" in h]
    assert sum(losses[-4:]) / 4 < 0.7 * sum(losses[:4]) / 4
    assert result.steps == 20 and len(losses) == 20
    assert [h["step"] for h in result.history if "eval_loss" in h] == [10, 20]
    assert seen == result.history  # the callback saw every record, in order
    assert set(result.metrics) == {"test_loss", "test_accuracy"} and 0 <= result.metrics["test_accuracy"] <= 1
    assert result.trainable_params == model.num_trainable() and result.total_params > 22_000_000
    assert result.seconds_per_step > 0 and result.peak_memory_mb > 100
    assert result.best_step in (10, 20) and not result.interrupted


def test_a_seed_makes_runs_repeatable(encoder):
    runs = []
    for _ in range(2):
        model, tok = fresh(encoder, "loretta_adp")
        result = lx.train(model, lx.load_task("sentiment").head(24), tokenizer=tok, max_steps=4, seed=3,
                          evaluate_test=False, **QUICK)
        runs.append([h["loss"] for h in result.history if "loss" in h])
    assert runs[0] == runs[1]
    model, tok = fresh(encoder, "loretta_adp")
    other = lx.train(model, lx.load_task("sentiment").head(24), tokenizer=tok, max_steps=4, seed=4,
                     evaluate_test=False, **QUICK)
    assert [h["loss"] for h in other.history if "loss" in h] != runs[0]


def test_interrupt_returns_the_partial_history(encoder):
    model, tok = fresh(encoder, "bitfit")

    def stop_at_three(record):
        if record.get("step") == 3:
            raise KeyboardInterrupt

    result = lx.train(model, "sentiment", tokenizer=tok, max_steps=50, callbacks=[stop_at_three], **QUICK)
    assert result.interrupted and result.steps == 3
    assert [h["step"] for h in result.history] == [1, 2, 3]
    assert result.metrics == {}


def test_best_checkpoint_is_restored(encoder):
    model, tok = fresh(encoder, "loretta_rep", train_classifier=True)
    result = lx.train(model, lx.load_task("sentiment").head(64), tokenizer=tok, max_steps=6, eval_every=2,
                      learning_rate=5e-3, **QUICK)
    evals = {h["step"]: h["eval_accuracy"] for h in result.history if "eval_accuracy" in h}
    assert result.best_step == max(evals, key=lambda s: (evals[s], -s))
    scores = lx.evaluate(model, lx.make_loader(lx.load_task("sentiment", "validation").head(32), tok, 64, max_length=32))
    assert scores["accuracy"] == pytest.approx(evals[result.best_step])


def test_compare_runs_every_method_on_the_same_budget(encoder):
    rows, results = lx.compare(["lora", "loretta_rep"], lx.load_task("sentiment").head(16), max_steps=2,
                               evaluate_test=False, **QUICK)
    assert [r["method"] for r in rows] == ["lora", "loretta_rep"]
    assert all(r["steps"] == 2 for r in rows)
    assert rows[1]["trainable_params"] < rows[0]["trainable_params"] / 3


def test_causal_lm_on_the_corpus():
    model, tok = lx.tiny_decoder()
    model = lx.prepare(model, "loretta_rep")
    result = lx.train(model, "corpus", tokenizer=tok, max_steps=3, batch_size=4, max_length=32, progress=False,
                      device="cpu", max_eval_examples=8)
    assert "eval_perplexity" in result.history[-1] and math.isfinite(result.history[-1]["eval_perplexity"])


def test_sequential_and_overfitting_helpers(encoder):
    out = lx.sequential_tasks("loretta_rep", ["sentiment", "paraphrase"], max_steps=1, batch_size=4, max_length=32,
                              progress=False, device="cpu", max_eval_examples=8,
                              model_factory=lambda: lx.load_encoder())
    assert set(out["after"]) == {"sentiment", "paraphrase"}
    assert out["test_examples"] == {"sentiment": 8, "paraphrase": 8}  # max_eval_examples reaches the final test
    model, tok = fresh(encoder, "bitfit")
    curve = lx.overfitting_curve(model, lx.load_task("sentiment").head(8), tokenizer=tok, epochs=2, eval_every=1,
                                 evaluate_test=False, **QUICK)
    assert len([h for h in curve.history if "eval_loss" in h]) == 2


def test_metrics_and_devices():
    p, y = torch.tensor([1, 1, 0, 0]), torch.tensor([1, 0, 0, 1])
    assert _metric("accuracy", p, y) == 0.5
    assert _metric("f1", p, y) == pytest.approx(0.5)
    assert _metric("matthews", p, p) == pytest.approx(1.0)
    assert pick_device("cpu").type == "cpu" and pick_device("auto").type in ("cpu", "cuda", "mps")


def test_no_trainable_parameters_is_a_clear_error(encoder):
    model, tok = lx.load_encoder()
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        lx.train(model, "sentiment", tokenizer=tok, max_steps=1, **QUICK)
