"""The training engine on small slices of the bundled task with the bundled encoder."""

import math

import pytest
import torch

import loretta_explore as lx
from loretta_explore.metrics import compute
from loretta_explore.training import pick_device


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
    result = lx.train(
        model,
        task,
        tokenizer=tok,
        max_steps=20,
        learning_rate=1e-2,
        eval_every=10,
        callbacks=[seen.append],
        **QUICK,
    )
    losses = [h["loss"] for h in result.history if "loss" in h]
    assert sum(losses[-4:]) / 4 < 0.7 * sum(losses[:4]) / 4
    assert result.steps == 20 and len(losses) == 20
    assert [h["step"] for h in result.history if "eval_loss" in h] == [10, 20]
    assert seen == result.history  # the callback saw every record, in order
    assert (
        set(result.metrics) == {"test_loss", "test_accuracy"}
        and 0 <= result.metrics["test_accuracy"] <= 1
    )
    assert result.trainable_params == model.num_trainable() and result.total_params > 22_000_000
    assert result.seconds_per_step > 0 and result.peak_memory_mb > 100
    assert result.best_step in (10, 20) and not result.interrupted


def test_a_seed_makes_runs_repeatable(encoder):
    runs = []
    for _ in range(2):
        model, tok = fresh(encoder, "loretta_adp")
        result = lx.train(
            model,
            lx.load_task("sentiment").head(24),
            tokenizer=tok,
            max_steps=4,
            seed=3,
            evaluate_test=False,
            **QUICK,
        )
        runs.append([h["loss"] for h in result.history if "loss" in h])
    assert runs[0] == runs[1]
    model, tok = fresh(encoder, "loretta_adp")
    other = lx.train(
        model,
        lx.load_task("sentiment").head(24),
        tokenizer=tok,
        max_steps=4,
        seed=4,
        evaluate_test=False,
        **QUICK,
    )
    assert [h["loss"] for h in other.history if "loss" in h] != runs[0]


def test_interrupt_returns_the_partial_history(encoder):
    model, tok = fresh(encoder, "bitfit")

    def stop_at_three(record):
        if record.get("step") == 3:
            raise KeyboardInterrupt

    result = lx.train(
        model, "sentiment", tokenizer=tok, max_steps=50, callbacks=[stop_at_three], **QUICK
    )
    assert result.interrupted and result.steps == 3
    assert [h["step"] for h in result.history] == [1, 2, 3]
    assert result.metrics == {}


def test_best_checkpoint_is_restored(encoder):
    model, tok = fresh(encoder, "loretta_rep", train_classifier=True)
    result = lx.train(
        model,
        lx.load_task("sentiment").head(64),
        tokenizer=tok,
        max_steps=6,
        eval_every=2,
        learning_rate=5e-3,
        **QUICK,
    )
    evals = {h["step"]: h["eval_accuracy"] for h in result.history if "eval_accuracy" in h}
    assert result.best_step == max(evals, key=lambda s: (evals[s], -s))
    scores = lx.evaluate(
        model,
        lx.make_loader(lx.load_task("sentiment", "validation").head(32), tok, 64, max_length=32),
    )
    assert scores["accuracy"] == pytest.approx(evals[result.best_step])


def test_compare_runs_every_method_on_the_same_budget(encoder):
    rows, results = lx.compare(
        ["lora", "loretta_rep"],
        lx.load_task("sentiment").head(16),
        max_steps=2,
        evaluate_test=False,
        **QUICK,
    )
    assert [r["method"] for r in rows] == ["lora", "loretta_rep"]
    assert all(r["steps"] == 2 for r in rows)
    assert rows[1]["trainable_params"] < rows[0]["trainable_params"] / 3


def test_causal_lm_on_the_corpus():
    model, tok = lx.tiny_decoder()
    model = lx.prepare(model, "loretta_rep")
    result = lx.train(
        model,
        "corpus",
        tokenizer=tok,
        max_steps=3,
        batch_size=4,
        max_length=32,
        progress=False,
        device="cpu",
        max_eval_examples=8,
    )
    assert "eval_perplexity" in result.history[-1] and math.isfinite(
        result.history[-1]["eval_perplexity"]
    )


def test_sequential_and_overfitting_helpers(encoder):
    out = lx.sequential_tasks(
        "loretta_rep",
        ["sentiment", "paraphrase"],
        max_steps=1,
        batch_size=4,
        max_length=32,
        progress=False,
        device="cpu",
        max_eval_examples=8,
        model_factory=lambda: lx.load_encoder(),
    )
    assert set(out["after"]) == {"sentiment", "paraphrase"}
    assert out["test_examples"] == {
        "sentiment": 8,
        "paraphrase": 8,
    }  # max_eval_examples reaches the final test
    model, tok = fresh(encoder, "bitfit")
    curve = lx.overfitting_curve(
        model,
        lx.load_task("sentiment").head(8),
        tokenizer=tok,
        epochs=2,
        eval_every=1,
        evaluate_test=False,
        **QUICK,
    )
    assert len([h for h in curve.history if "eval_loss" in h]) == 2


def test_metrics_and_devices():
    p, y = torch.tensor([1, 1, 0, 0]), torch.tensor([1, 0, 0, 1])
    assert compute("accuracy", p, y) == 0.5
    assert compute("f1", p, y) == pytest.approx(0.5)
    assert compute("matthews", p, p) == pytest.approx(1.0)
    assert pick_device("cpu").type == "cpu" and pick_device("auto").type in ("cpu", "cuda", "mps")


def test_no_trainable_parameters_is_a_clear_error(encoder):
    model, tok = lx.load_encoder()
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        lx.train(model, "sentiment", tokenizer=tok, max_steps=1, **QUICK)


# --- hardening: divergence, settings, accumulation, mixed precision --------------------------


def _trainable(model):
    return [p.detach().clone() for p in model.parameters() if p.requires_grad]


def test_a_huge_learning_rate_stops_with_the_history_and_the_last_good_parameters(encoder):
    model, tok = fresh(encoder, "loretta_rep", train_classifier=True)
    start = _trainable(model)
    with pytest.raises(
        lx.TrainingDiverged, match=r"non-finite loss \(nan\) at step 2.*after step 0"
    ) as err:
        lx.train(
            model,
            lx.load_task("sentiment").head(32),
            tokenizer=tok,
            max_steps=4,
            learning_rate=1e30,
            **QUICK,
        )  # finite, so allowed; the first update overflows
    result = err.value.result
    losses = [h["loss"] for h in result.history]
    assert len(losses) == 2 and math.isfinite(losses[0]) and math.isnan(losses[1])
    assert (
        result.stopped == "non-finite loss (nan) at step 2"
        and result.steps == 0
        and result.metrics == {}
    )
    assert all(
        torch.equal(a, b) for a, b in zip(_trainable(model), start)
    )  # back before the bad update


def test_a_nan_in_a_core_is_named_before_training(encoder):
    model, tok = fresh(encoder, "loretta_rep")
    name, core = next(
        (n, p) for n, p in model.named_parameters() if p.requires_grad and "core" in n
    )
    with torch.no_grad():
        core[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=rf"The parameter {name} .* holds 1 NaN"):
        lx.train(model, "sentiment", tokenizer=tok, max_steps=2, **QUICK)


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"max_steps": 0}, r"max_steps must be a whole number >= 1 or None, got 0"),
        ({"max_steps": -3}, r"max_steps must be"),
        ({"max_steps": 2.5}, r"max_steps must be"),
        ({"epochs": -1}, r"epochs must be a positive number"),
        ({"epochs": 0}, r"epochs must be a positive number"),
        ({"max_eval_examples": 0}, r"max_eval_examples must be .* got 0"),
        ({"batch_size": 0}, r"batch_size must be"),
        ({"learning_rate": 0}, r"learning_rate must be a finite number > 0"),
        ({"learning_rate": float("nan")}, r"learning_rate must be a finite number > 0"),
        ({"learning_rate": float("inf")}, r"learning_rate must be a finite number > 0, got inf"),
        ({"warmup_ratio": 1.0}, r"warmup_ratio .* \[0, 1\)"),
        ({"eval_every": 0}, r"eval_every must be"),
        ({"max_length": 0}, r"max_length must be"),
        ({"log_every": 0}, r"log_every must be"),
        ({"gradient_accumulation_steps": 0}, r"gradient_accumulation_steps must be"),
        ({"max_grad_norm": -1.0}, r"max_grad_norm must be"),
        ({"device": "gpu"}, r"Unknown device 'gpu'"),
        (
            {"device": "cuda:7"} if not torch.cuda.is_available() else {"device": "cuda:99"},
            r"CUDA GPU\(s\) here",
        ),
        ({"mixed_precision": "fp8"}, r'mixed_precision must be None, "bf16" or "fp16"'),
        ({"mixed_precision": "fp16", "device": "cpu"}, r'"fp16" needs a CUDA GPU.*"bf16"'),
        ({"callbacks": print}, r"callbacks must be a list"),
    ],
)
def test_bad_settings_are_refused_before_anything_changes(encoder, setting, message):
    model, tok = fresh(encoder, "bitfit")
    model.eval()
    start, rng = _trainable(model), torch.get_rng_state()
    with pytest.raises(ValueError, match=message):
        lx.train(model, "sentiment", tokenizer=tok, **{**QUICK, "max_steps": 1, **setting})
    assert not model.training and torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(a, b) for a, b in zip(_trainable(model), start))


def _no_dropout(model):
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    return model


def test_accumulating_k_batches_equals_one_k_times_larger_batch(encoder):
    """Measured: parameters agree to 2e-7 after two steps that moved them by 5e-4 (float32 sums in
    another order, and different padding); losses and gradient norms to 1e-6 relative."""
    runs = []
    for batch_size, k in ((4, 2), (8, 1)):
        model, tok = fresh(encoder, "loretta_rep", train_classifier=True)
        result = lx.train(
            _no_dropout(model),
            lx.load_task("sentiment").head(32),
            tokenizer=tok,
            max_steps=2,
            gradient_accumulation_steps=k,
            max_grad_norm=None,
            learning_rate=1e-3,
            warmup_ratio=0,
            evaluate_test=False,
            **{**QUICK, "batch_size": batch_size, "max_eval_examples": 8},
        )
        runs.append((result, _trainable(model)))
    (a, pa), (b, pb) = runs
    logged = [[(h["loss"], h["grad_norm"]) for h in r.history if "loss" in h] for r in (a, b)]
    assert len(logged[0]) == 2 and a.steps == b.steps == 2
    for (la, ga), (lb, gb) in zip(*logged):
        assert la == pytest.approx(lb, rel=1e-5) and ga == pytest.approx(gb, rel=1e-5)
    assert max((x - y).abs().max().item() for x, y in zip(pa, pb)) < 1e-5


def test_bf16_autocast_trains_on_the_cpu(encoder):
    model, tok = fresh(encoder, "loretta_rep", train_classifier=True)
    result = lx.train(
        model,
        lx.load_task("sentiment", "train").head(16),
        tokenizer=tok,
        max_steps=20,
        learning_rate=1e-2,
        mixed_precision="bf16",
        evaluate_test=False,
        **QUICK,
    )
    losses = [h["loss"] for h in result.history if "loss" in h]
    assert sum(losses[-4:]) / 4 < 0.7 * sum(losses[:4]) / 4
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast, not a cast
