"""The experiments behind the figures return dataclasses whose numbers match an independent computation.

Rank sweeps against tensorly's tensor_train, layouts against a dense reconstruction and numpy's
SVD, count grids against count_trainable, the lesson settings against the environment.
"""

import numpy as np
import pytest
import torch

import loretta_explore as lx
from loretta_explore import sweeps
from loretta_explore.modes import LessonMode, lesson_mode


def test_rank_sweep_matches_tensorly():
    tl = pytest.importorskip("tensorly")
    from tensorly.decomposition import tensor_train

    torch.manual_seed(0)
    x = torch.randn(6, 7, 8, dtype=torch.float64)
    sweep = sweeps.rank_sweep(x, ranks=[4, 1, 2], label="x")
    assert (
        sweep.ranks == [1, 2, 4]
        and sweep.label == "x"
        and sweep.shape == (6, 7, 8)
        and sweep.dense == 336
    )
    for point in sweep.points:
        with tl.backend_context("pytorch"):
            factors = tensor_train(tl.tensor(x), rank=[1, point.rank, point.rank, 1])
            full = tl.tt_to_tensor(factors)
        assert point.params == sum(f.numel() for f in factors)
        assert point.rel_error == pytest.approx(float((x - full).norm() / x.norm()), rel=1e-6)
        assert point.rel_error <= point.bound + 1e-12
    assert sweep.rel_errors == sorted(sweep.rel_errors, reverse=True)
    assert sweep.rows()[0]["rank"] == 1 and sweep.rows()[0]["shape"] == (6, 7, 8)


def test_rank_sweep_folds_a_matrix_and_checks_its_input():
    w = torch.randn(24, 32, dtype=torch.float64)
    assert sweeps.rank_sweep(w, [1]).shape == lx.suggest_shape(24, 32)
    assert sweeps.rank_sweep(w, [1], shape=(24, 32)).shape == (24, 32)
    with pytest.raises(ValueError, match="768"):
        sweeps.rank_sweep(w, [1], shape=(5, 5))
    with pytest.raises(ValueError, match="ranks"):
        sweeps.rank_sweep(w, [0])
    named = sweeps.rank_sweeps({"a": w, "b": 2 * w}, [1, 2], shape=(24, 32))
    assert list(named) == ["a", "b"] and named["a"].rel_errors == pytest.approx(
        named["b"].rel_errors
    )


def test_layout_sweep_against_dense_reconstructions():
    torch.manual_seed(0)
    w = torch.randn(24, 32, dtype=torch.float64)
    result = sweeps.layout_sweep(
        w, ranks=[2, 4], shape=(4, 6, 8, 4), svd_ranks=[1, 3, 100], label="w"
    )
    assert result.layouts == ["flattened TT", "TT-matrix", "truncated SVD"] and result.dense == 768
    for p in result.curve("flattened TT"):
        tt = lx.tt_svd(w.reshape(4, 6, 8, 4), max_rank=p.rank)
        assert p.params == tt.num_params
        assert p.rel_error == pytest.approx(
            float((tt.full().reshape(24, 32) - w).norm() / w.norm())
        )
    for p in result.curve("TT-matrix"):
        tm = lx.tt_matrix(w, max_rank=p.rank)
        assert p.params == tm.num_params and p.rel_error == pytest.approx(
            float((tm.full() - w).norm() / w.norm())
        )
    u, s, vt = np.linalg.svd(w.numpy())
    for p in result.curve("truncated SVD"):
        approx = (u[:, : p.rank] * s[: p.rank]) @ vt[: p.rank]
        assert p.params == p.rank * (24 + 32)
        assert p.rel_error == pytest.approx(
            np.linalg.norm(w.numpy() - approx) / np.linalg.norm(w.numpy()), abs=1e-12
        )
    assert [p.rank for p in result.curve("truncated SVD")] == [1, 3, 24]  # capped at min(in, out)
    with pytest.raises(ValueError, match="layout"):
        result.curve("svd")
    with pytest.raises(ValueError, match=r"\(in, out\)"):
        sweeps.layout_sweep(torch.randn(3, 4, 5))


def test_trainable_grid_is_count_trainable_at_each_point():
    grid = sweeps.trainable_grid(
        "deberta-base", "loretta_adp", tt_ranks=[2, 5], bottlenecks=[16, 64]
    )
    for r in (2, 5):
        for b in (16, 64):
            assert grid.count(r, b) == lx.count_trainable(
                "deberta-base", "loretta_adp", tt_rank=r, bottleneck=b
            )
    assert grid.count(5, 64) == 99_034  # the paper's 0.10M (docs/method.md#counting)
    assert grid.references == {
        "lora": lx.count_trainable("deberta-base", "lora"),
        "adapters": lx.count_trainable("deberta-base", "adapters"),
    }
    with pytest.raises(ValueError, match="LoRETTA"):
        sweeps.trainable_grid("deberta-base", "lora")


def test_lesson_mode_reads_the_environment():
    assert lesson_mode({}).name == "classroom"
    assert lesson_mode({"LORETTA_QUICK": "1"}).quick
    assert lesson_mode({"LORETTA_FULL": "1"}).full
    assert lesson_mode({"LORETTA_QUICK": "1", "LORETTA_FULL": "1"}).quick  # the tests stay quick
    assert lesson_mode({"LORETTA_QUICK": "0"}).classroom
    mode = LessonMode("classroom")
    assert mode.pick(quick=5, classroom=120, full=300) == 120 and str(mode) == "classroom"
    assert "LORETTA_FULL=1" in mode.description
    with pytest.raises(ValueError, match="classroom"):
        LessonMode("fast")
    assert lx.lesson_mode is lesson_mode
