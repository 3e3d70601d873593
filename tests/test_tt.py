"""TT-SVD, rounding and the TT-matrix layout, checked against dense tensors and tensorly."""

import math
import subprocess
import sys

import numpy as np
import pytest
import tensorly as tl
import torch
from tensorly.decomposition import tensor_train as tl_tensor_train

import loretta_explore as lx
from loretta_explore.tt import TensorTrain, TTMatrix, ranks_for_budget, tt_matrix


def rel(a, b):
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


def low_rank_tensor(shape, rank, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    ranks = [1] + [rank] * (len(shape) - 1) + [1]
    cores = [
        torch.randn(ranks[i], n, ranks[i + 1], generator=g, dtype=dtype)
        for i, n in enumerate(shape)
    ]
    return TensorTrain(cores).full()


@pytest.mark.parametrize("shape", [(7,), (4, 5), (4, 5, 6), (3, 4, 2, 5), (8, 12, 8, 8)])
def test_full_rank_is_exact_in_float64(shape):
    x = torch.randn(*shape, dtype=torch.float64)
    tt = lx.tt_svd(x)
    assert rel(tt.full(), x) < 1e-10
    assert tt.ranks[0] == tt.ranks[-1] == 1 and tt.shape == shape
    assert tt.info.relative_error_bound < 1e-10


@pytest.mark.parametrize("device_dtype", [torch.float32, torch.float64])
def test_dtype_is_kept(device_dtype):
    x = torch.randn(6, 5, 4, dtype=device_dtype)
    tt = lx.tt_svd(x, max_rank=3)
    assert all(c.dtype == device_dtype for c in tt.cores)
    assert tt.full().dtype == device_dtype


@pytest.mark.parametrize("rank", [1, 2, 4, 7])
@pytest.mark.parametrize("shape", [(8, 12, 8, 8), (6, 5, 4, 3, 2)])
def test_truncated_no_worse_than_tensorly_and_within_bound(shape, rank):
    x = torch.randn(*shape, dtype=torch.float64)
    ours = lx.tt_svd(x, max_rank=rank)
    assert max(ours.ranks) <= max(rank, 1)
    err = rel(ours.full(), x)
    with tl.backend_context("pytorch"):
        ref = tl_tensor_train(x, rank=ours.ranks)
        ref_err = rel(tl.tt_to_tensor(ref), x)
    assert err <= ref_err * (1 + 1e-9) + 1e-12
    assert err <= ours.info.relative_error_bound * (1 + 1e-9) + 1e-12
    assert math.isclose(ours.info.error_bound, math.sqrt(sum(d * d for d in ours.info.discarded)))


def test_ranks_never_exceed_request_and_list_ranks():
    x = torch.randn(8, 12, 8, 8, dtype=torch.float64)
    tt = lx.tt_svd(x, max_rank=[2, 5, 3])
    assert tt.ranks == [1, 2, 5, 3, 1]
    assert lx.tt_svd(x, max_rank=[1, 2, 5, 3, 1]).ranks == [1, 2, 5, 3, 1]


def test_too_large_rank_is_clipped_and_reported():
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    tt = lx.tt_svd(x, max_rank=100)
    assert tt.ranks == [1, 3, 5, 1]  # min(prod left, prod right) at each bond
    assert tt.info.clipped and not lx.tt_svd(x, max_rank=2).info.clipped
    assert rel(tt.full(), x) < 1e-10


@pytest.mark.parametrize("target", [0.05, 0.2, 0.5])
def test_rel_error_mode_meets_target(target):
    x = low_rank_tensor((6, 7, 8, 5), 4) + 0.05 * torch.randn(6, 7, 8, 5, dtype=torch.float64)
    tt = lx.tt_svd(x, rel_error=target)
    assert rel(tt.full(), x) <= target
    # and does not keep more than needed: one rank lower everywhere would miss the per-bond target
    assert tt.num_params < lx.tt_svd(x).num_params


def test_low_rank_tensor_is_recovered_with_its_rank():
    x = low_rank_tensor((5, 6, 7, 4), 3)
    tt = lx.tt_svd(x, rel_error=1e-10)
    assert tt.ranks == [1, 3, 3, 3, 1]
    assert rel(tt.full(), x) < 1e-10


def test_float_rank_is_a_parameter_budget():
    shape = (8, 12, 8, 8)
    x = torch.randn(*shape)
    for fraction in (0.01, 0.1, 0.5):
        tt = lx.tt_svd(x, max_rank=fraction)
        assert tt.num_params <= fraction * math.prod(shape) or max(tt.ranks) == 1
    # rank 37 costs 8*8 + 8*12*37 + 37*8*8 + 8*8 = 6,048 <= 6,144 dense; rank 38 would not fit
    assert ranks_for_budget(shape, 1.0) == [1, 8, 37, 8, 1]
    with pytest.raises(ValueError, match="fraction"):
        lx.tt_svd(x, max_rank=1.5)


def test_works_on_numpy_and_integer_input():
    x = np.random.default_rng(0).standard_normal((4, 5, 6))
    tt = lx.tt_svd(x)
    assert rel(tt.full(), torch.from_numpy(x)) < 1e-10
    assert lx.tt_svd(torch.arange(24).reshape(2, 3, 4)).full().is_floating_point()


@pytest.mark.parametrize(
    "bad, error, message",
    [
        ([[1.0, 2.0]], TypeError, "expected a torch.Tensor"),
        (torch.zeros(0, 3), ValueError, "empty"),
        (torch.tensor([[1.0, float("nan")]]), ValueError, "NaN or inf"),
        (torch.tensor([[1.0, float("inf")]]), ValueError, "NaN or inf"),
        (torch.tensor(3.0), ValueError, "0-d"),
    ],
)
def test_bad_input_teaches(bad, error, message):
    with pytest.raises(error, match=message) as info:
        lx.tt_svd(bad)
    assert "Example" in str(info.value) or error is TypeError


@pytest.mark.parametrize("rank", [0, -1, [2, 0, 1], [2, 2]])
def test_bad_ranks(rank):
    with pytest.raises(ValueError, match="rank"):
        lx.tt_svd(torch.randn(3, 4, 5, 6), max_rank=rank)


def test_round_lowers_ranks_close_to_tt_svd():
    x = low_rank_tensor((6, 7, 8, 5), 5) + 0.1 * torch.randn(6, 7, 8, 5, dtype=torch.float64)
    exact = lx.tt_svd(x)
    for r in (1, 2, 4):
        rounded = exact.round(max_rank=r)
        direct = lx.tt_svd(x, max_rank=r)
        assert rounded.ranks == direct.ranks
        # rounding an exact TT is TT-SVD in another order: errors agree closely
        assert rel(rounded.full(), x) <= rel(direct.full(), x) * 1.05 + 1e-12
        assert rel(rounded.full(), x) <= rounded.info.relative_error_bound + 1e-9


def test_round_rel_error_and_sum_of_trains():
    x = low_rank_tensor((5, 6, 7), 2)
    a = lx.tt_svd(x)
    # a redundant train (ranks doubled by concatenating cores) rounds back to rank 2
    padded = TensorTrain(
        [
            torch.cat([a.cores[0], a.cores[0]], dim=2),
            _block(a.cores[1]),
            torch.cat([a.cores[2], a.cores[2]], dim=0) / 2,
        ]
    )
    assert rel(padded.full(), x) < 1e-10
    rounded = padded.round(rel_error=1e-10)
    assert rounded.ranks == [1, 2, 2, 1]  # the true TT rank, though `a` was exact at full rank
    assert rel(rounded.full(), x) < 1e-9


def _block(core):
    """(r, n, s) -> (2r, n, 2s) block diagonal in the rank indices."""
    r, n, s = core.shape
    out = torch.zeros(2 * r, n, 2 * s, dtype=core.dtype)
    out[:r, :, :s] = core
    out[r:, :, s:] = core
    return out


def test_tensor_train_container_checks():
    with pytest.raises(ValueError, match="boundary ranks"):
        TensorTrain([torch.randn(2, 3, 1)])
    with pytest.raises(ValueError, match="must match"):
        TensorTrain([torch.randn(1, 3, 2), torch.randn(3, 3, 1)])
    with pytest.raises(ValueError, match="3-D"):
        TensorTrain([torch.randn(3, 3)])
    tt = lx.tt_svd(torch.randn(4, 5, 6), max_rank=2)
    assert tt.num_params == 4 * 2 + 2 * 5 * 2 + 2 * 6
    assert math.isclose(tt.compression, 120 / tt.num_params)
    assert "TensorTrain(shape=[4, 5, 6]" in repr(tt)


def test_tensorly_interop_both_ways():
    x = torch.randn(4, 5, 6, dtype=torch.float64)
    ours = lx.tt_svd(x, max_rank=3)
    for backend in ("numpy", "pytorch"):
        with tl.backend_context(backend):
            as_tl = ours.to_tensorly()
            dense = torch.as_tensor(tl.to_numpy(tl.tt_to_tensor(as_tl)))
            assert rel(dense, ours.full()) < 1e-12
            back = TensorTrain.from_tensorly(as_tl)
            assert rel(back.full(), ours.full()) < 1e-12


def test_tt_matrix_round_trip_and_tensorly():
    w = torch.randn(64, 48, dtype=torch.float64)
    m = tt_matrix(w, (4, 4, 4), (4, 4, 3))
    assert m.in_modes == (4, 4, 4) and m.out_modes == (4, 4, 3) and m.shape == (64, 48)
    assert rel(m.full(), w) < 1e-10
    small = tt_matrix(w, (4, 4, 4), (4, 4, 3), max_rank=3)
    assert max(small.ranks) == 3 and small.num_params < m.num_params
    with tl.backend_context("pytorch"):
        ref = torch.as_tensor(tl.to_numpy(tl.tt_matrix.tt_matrix_to_matrix(small.to_tensorly())))
    assert rel(ref, small.full()) < 1e-10
    assert rel(TTMatrix.from_tensorly(small.to_tensorly()).full(), small.full()) < 1e-12


def test_no_global_tensorly_backend_change_on_import():
    # in a fresh interpreter: reloading the kit here would rebind its module functions, which the
    # exercise checks' watch (rightly) reports as tampering in later tests
    code = (
        "import tensorly as tl; before = tl.get_backend(); import loretta_explore as lx; "
        "lx.tt_svd; print(before, tl.get_backend())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = out.stdout.split()
    assert after == before


# -- integer-likes, low precision, hostile input (issue "Nothing lost, nothing silent") ---------


@pytest.mark.parametrize(
    "rank",
    [
        np.int64(3),
        torch.tensor(3),
        np.array(3),
        [np.int64(3)] * 3,
        np.array([3, 3, 3]),
        torch.tensor([3, 3, 3]),
        np.array([1, 3, 3, 3, 1]),
    ],
    ids=[
        "np.int64",
        "0-d tensor",
        "0-d array",
        "list of np.int64",
        "array",
        "1-d tensor",
        "d+1 array",
    ],
)
def test_ranks_may_be_any_integer_like(rank):
    x = torch.randn(4, 5, 6, 7, dtype=torch.float64)
    assert lx.tt_svd(x, max_rank=rank).ranks == [1, 3, 3, 3, 1]
    assert lx.tt_svd(x).round(max_rank=rank).ranks == [1, 3, 3, 3, 1]


@pytest.mark.parametrize(
    "rank, error, message",
    [
        (True, TypeError, "True/False"),
        ([2, True, 2], TypeError, "True/False"),
        ([2, 2.5, 2], TypeError, "every rank in max_rank must be an integer"),
        ("3", TypeError, "max_rank must be None, an int"),
        (np.ones((2, 3)), TypeError, "list of ints"),
    ],
)
def test_bad_rank_types_are_refused(rank, error, message):
    with pytest.raises(error, match=message):
        lx.tt_svd(torch.randn(4, 5, 6, 7), max_rank=rank)


def test_rel_error_must_be_a_real_number():
    for bad, error in (
        (True, TypeError),
        ("0.1", TypeError),
        (-0.1, ValueError),
        (float("nan"), ValueError),
    ):
        with pytest.raises(error, match="rel_error"):
            lx.tt_svd(torch.randn(4, 5, 6), rel_error=bad)
    assert lx.tt_svd(torch.randn(4, 5, 6), rel_error=np.float64(0.5)).ranks[1] >= 1


def test_ranks_for_budget_bisection_matches_a_linear_scan():
    def linear(shape, fraction):
        caps = [
            min(math.prod(shape[: k + 1]), math.prod(shape[k + 1 :])) for k in range(len(shape) - 1)
        ]
        best = 1
        for r in range(1, max(caps, default=1) + 1):
            ranks = [1] + [min(r, c) for c in caps] + [1]
            if sum(
                ranks[i] * shape[i] * ranks[i + 1] for i in range(len(shape))
            ) > fraction * math.prod(shape):
                break
            best = r
        return [1] + [min(best, c) for c in caps] + [1]

    for shape in [(8, 12, 8, 8), (4, 5, 6), (2, 3), (16, 16, 16, 4, 4, 4), (7,)]:
        for fraction in (0.001, 0.05, 0.3, 0.77, 1.0):
            assert ranks_for_budget(shape, fraction) == linear(shape, fraction)
    assert ranks_for_budget(np.array([8, 12, 8, 8]), np.float64(1.0)) == [1, 8, 37, 8, 1]
    assert ranks_for_budget((2**20, 2**20), 0.5)[1] == 2**18  # bisection: no million-step loop
    with pytest.raises(TypeError, match="fraction must be a real number"):
        ranks_for_budget((8, 8), True)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_decomposed_in_float32_and_returned_in_its_dtype(dtype):
    x = low_rank_tensor((6, 7, 8), 3, dtype=torch.float32)
    tt = lx.tt_svd(x.to(dtype), max_rank=3)  # used to fail: "geqrf_cpu" not implemented for 'Half'
    assert all(c.dtype == dtype for c in tt.cores)
    reference = lx.tt_svd(x.to(dtype).float(), max_rank=3)
    assert rel(tt.full().float(), reference.full()) < 2e-2  # the cores rounded once to dtype
    assert rel(tt.full().float(), x) < 3e-2
    rounded = tt.round(max_rank=2)
    assert all(c.dtype == dtype for c in rounded.cores) and rounded.ranks == [1, 2, 2, 1]
    m = tt_matrix(torch.randn(16, 12).to(dtype), (4, 4), (4, 3), max_rank=4)
    assert all(c.dtype == dtype for c in m.cores) and m.full().dtype == dtype


def test_train_checks_dtype_device_and_empty_cores():
    with pytest.raises(ValueError, match="share dtype and device"):
        TensorTrain([torch.randn(1, 3, 2), torch.randn(2, 3, 1, dtype=torch.float64)])
    with pytest.raises(ValueError, match="size 0 holds nothing"):
        TensorTrain([torch.randn(1, 0, 1)])


def test_rounding_refuses_nan_cores():
    tt = lx.tt_svd(torch.randn(4, 5, 6), max_rank=2)
    tt.cores[1][0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf in its cores"):
        tt.round(max_rank=1)
    with pytest.raises(TypeError, match="needs a TensorTrain"):
        lx.tt.tt_round(torch.randn(4, 5, 6), max_rank=1)
