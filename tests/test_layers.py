"""TT layers against dense reconstructions, gradients, and the rep layer's init, merge, unmerge."""

import math

import pytest
import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

import loretta_explore as lx
from loretta_explore.layers import LorettaRepLinear, TTAdapter, TTLinear

SIZES = [
    (768, 64, None),
    (64, 768, None),
    (4096, 16, None),
    (8, 2304, None),
    (12, 10, None),
    (6, 4, (4, 6)),
]


@pytest.mark.parametrize("layout", ["flat", "ttm"])
@pytest.mark.parametrize("mode", ["dense", "contract", "auto"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_forward_path_equals_dense_matmul(size, mode, layout):
    in_f, out_f, shape = size
    if mode == "contract" and layout == "flat" and shape == (4, 6):
        with pytest.raises(ValueError, match="cannot be cut"):
            TTLinear(in_f, out_f, shape, forward_mode=mode)
        return
    layer = TTLinear(
        in_f,
        out_f,
        shape if layout == "flat" else None,
        tt_rank=3,
        layout=layout,
        forward_mode=mode,
        dtype=torch.float64,
    )
    x = torch.randn(2, 5, in_f, dtype=torch.float64)
    expected = x @ layer.dense_matrix() + layer.bias
    assert torch.allclose(layer(x), expected, rtol=0, atol=1e-10)
    assert layer.weight.shape == (out_f, in_f)


@pytest.mark.parametrize("layout", ["flat", "ttm"])
@pytest.mark.parametrize("mode", ["dense", "contract"])
def test_gradcheck(layout, mode):
    torch.manual_seed(0)
    layer = TTLinear(12, 10, tt_rank=2, layout=layout, forward_mode=mode, dtype=torch.float64)
    x = torch.randn(3, 12, dtype=torch.float64, requires_grad=True)
    params = tuple(layer.parameters())
    assert torch.autograd.gradcheck(lambda x: layer(x), (x,))
    # gradients of the cores against finite differences through torch.func.functional_call
    names = [n for n, _ in layer.named_parameters()]
    values = tuple(p.detach().clone().requires_grad_(True) for p in params)
    assert torch.autograd.gradcheck(
        lambda *vs: torch.func.functional_call(layer, dict(zip(names, vs)), (x.detach(),)), values
    )


def test_auto_mode_picks_the_cheaper_path():
    layer = TTLinear(768, 64, tt_rank=5)
    cost = layer.flops(tokens=512)
    assert cost["contract"] < cost["dense"] and layer.chosen_mode(512) == "contract"
    tiny = TTLinear(6, 4, (4, 6))  # cannot be cut: dense
    assert tiny.chosen_mode(1000) == "dense"


def test_paper_init_scale_and_zero_init():
    torch.manual_seed(0)
    stds = [TTLinear(768, 64, tt_rank=5).dense_matrix().std().item() for _ in range(20)]
    target = (1 / (768 + 64)) ** 0.5
    assert 0.6 * target < sum(stds) / len(stds) < 1.4 * target
    zero = TTLinear(768, 64, init="zero")
    assert torch.count_nonzero(zero.dense_matrix()) == 0 and torch.count_nonzero(zero.bias) == 0
    with pytest.raises(ValueError, match="init"):
        TTLinear(8, 8, init="bogus")


def test_ranks_and_parameter_count():
    layer = TTLinear(768, 64, tt_rank=5, bias=True)
    assert layer.tt_shape == (8, 8, 12, 8, 8) and layer.ranks == [1, 5, 5, 5, 5, 1]
    assert layer.num_params == 780 + 64
    assert TTLinear(768, 64, tt_rank=[2, 3, 4, 5]).ranks == [1, 2, 3, 4, 5, 1]
    with pytest.raises(ValueError, match="tt_rank"):
        TTLinear(768, 64, tt_rank=0)
    with pytest.raises(ValueError, match="product must be"):
        TTLinear(768, 64, tt_shape=[8, 8])


@pytest.mark.parametrize("layout", ["flat", "ttm"])
def test_from_linear_compresses_with_tt_svd(layout):
    torch.manual_seed(0)
    a, b = torch.randn(96, 3), torch.randn(3, 64)
    linear = nn.Linear(96, 64)
    with torch.no_grad():
        linear.weight.copy_((a @ b).T)
    exact = TTLinear.from_linear(linear, tt_rank=64, layout=layout)
    x = torch.randn(5, 96)
    assert torch.allclose(exact(x), linear(x), atol=1e-4)
    small = TTLinear.from_linear(linear, tt_rank=2, layout=layout)
    assert small.num_params < exact.num_params and max(small.ranks) <= 2


def test_bf16_input_with_fp32_cores():
    layer = TTLinear(64, 32, tt_rank=4)
    x = torch.randn(3, 64, dtype=torch.bfloat16)
    y = layer(x)
    assert y.dtype == torch.bfloat16 and layer.cores[0].dtype == torch.float32
    assert torch.allclose(y.float(), layer(x.float()), atol=0.05, rtol=0.02)


def test_adapter_block_and_identity_init():
    torch.manual_seed(0)
    adapter = TTAdapter(64, bottleneck=16, tt_rank=3)
    h = torch.randn(2, 7, 64)
    manual = h + adapter.up(torch.relu(adapter.down(h)))
    assert torch.allclose(adapter(h), manual)
    assert not torch.allclose(adapter(h), h)  # paper init: not the identity at step 0
    identity = TTAdapter(64, bottleneck=16, tt_rank=3, init="identity")
    assert torch.equal(identity(h), h)
    with pytest.raises(ValueError, match="activation"):
        TTAdapter(64, activation="swish!")


def base_linear(kind, in_f=64, out_f=48):
    torch.manual_seed(0)
    if kind == "linear":
        return nn.Linear(in_f, out_f)
    conv = Conv1D(out_f, in_f)
    nn.init.normal_(conv.weight, std=0.1)
    return conv


@pytest.mark.parametrize("kind", ["linear", "conv1d"])
@pytest.mark.parametrize("init", ["paper", "compensated", "zero"])
def test_rep_init_modes(kind, init):
    base = base_linear(kind)
    x = torch.randn(4, 64)
    before = base(x).detach()
    rep = LorettaRepLinear(base, bottleneck=8, tt_rank=3, init=init)
    unchanged = torch.allclose(rep(x), before, atol=1e-6)
    assert unchanged == (init != "paper")  # paper's Gaussian init moves the output at step 0
    if init == "compensated":
        assert torch.allclose(rep.get_delta_weight(), torch.zeros(64, 48), atol=1e-7)
    assert rep.scale == pytest.approx(16 / 8)  # alpha / bottleneck, the paper's s = alpha / r
    assert LorettaRepLinear(base_linear(kind), 8, 3, scale_by="tt_rank").scale == pytest.approx(
        16 / 3
    )


@pytest.mark.parametrize("kind", ["linear", "conv1d"])
@pytest.mark.parametrize("init", ["paper", "compensated"])
def test_rep_merge_unmerge_exact_fp32(kind, init):
    base = base_linear(kind)
    original = base.weight.detach().clone()
    rep = LorettaRepLinear(base, bottleneck=8, tt_rank=3, init=init)
    with torch.no_grad():  # move away from the start so the update is non-trivial
        for c in rep.B.cores:
            c.add_(0.3 * torch.randn_like(c))
    x = torch.randn(4, 64)
    y = rep(x).detach()
    manual = base(x) + x @ rep.get_delta_weight()
    assert torch.allclose(y, manual, atol=1e-5)
    rep.merge()
    assert torch.allclose(rep(x), y, atol=1e-5)
    rep.unmerge()
    assert torch.allclose(base.weight, original, atol=1e-6)
    assert torch.allclose(rep(x), y, atol=1e-5)


def test_rep_merge_bf16_tolerance():
    """bf16 weights keep ~3 significant digits: merging rounds the sum to bf16 (documented)."""
    base = nn.Linear(64, 48).to(torch.bfloat16)
    rep = LorettaRepLinear(base, bottleneck=8, tt_rank=3)
    x = torch.randn(4, 64, dtype=torch.bfloat16)
    y = rep(x)
    assert y.dtype == torch.bfloat16 and rep.A.cores[0].dtype == torch.float32
    rep.merge()
    assert torch.allclose(rep(x).float(), y.float(), atol=5e-2, rtol=2e-2)


def test_rep_trains_only_tt_cores():
    rep = LorettaRepLinear(nn.Linear(64, 48), bottleneck=8, tt_rank=3, init="compensated")
    trainable = {n for n, p in rep.named_parameters() if p.requires_grad}
    assert trainable == {f"A.cores.{k}" for k in range(len(rep.A.cores))} | {
        f"B.cores.{k}" for k in range(len(rep.B.cores))
    }
    with pytest.raises(TypeError, match="nn.Linear or transformers' Conv1D"):
        LorettaRepLinear(nn.Conv2d(3, 3, 1))


def test_public_names():
    assert (
        lx.TTLinear is TTLinear
        and lx.TTAdapter is TTAdapter
        and lx.LorettaRepLinear is LorettaRepLinear
    )


def _paper_dense(cores, rows, cols):
    """The flattened layout, written out from the method text: entry t of the row-major
    flattened W (rows, cols) is G_1[:, i_1, :] @ G_2[:, i_2, :] @ ... @ G_d[:, i_d, :] where
    (i_1, ..., i_d) is t written in the mixed radix of the mode sizes."""
    modes = [c.shape[1] for c in cores]
    flat = torch.empty(rows * cols, dtype=cores[0].dtype)
    for t in range(rows * cols):
        rest, index = t, []
        for k in reversed(modes):
            index.append(rest % k)
            rest //= k
        product = torch.ones(1, 1, dtype=cores[0].dtype)
        for core, i in zip(cores, reversed(index)):
            product = product @ core[:, i, :]
        flat[t] = product[0, 0]
    return flat.reshape(rows, cols)


@pytest.mark.parametrize("scale_by", ["bottleneck", "tt_rank"])
def test_rep_matches_the_paper_formula_written_out(scale_by):
    """y = W0 x + (alpha / b) * B(A(x)), A and B each one bias-free TT layer over the flattened
    row-major layout (docs/method.md#rep, #scale); the paper's encoder setting 768 -> 768, b = 8,
    r = 5, alpha = 16, shapes [8, 12, 8, 8]: s = 16 / 8 = 2.0 (tt_rank convention: 16 / 5 = 3.2)."""
    torch.manual_seed(0)
    base = nn.Linear(768, 768).double()
    options = {} if scale_by == "bottleneck" else {"scale_by": "tt_rank"}
    rep = LorettaRepLinear(base, bottleneck=8, tt_rank=5, alpha=16.0, **options).double()
    g = torch.Generator().manual_seed(1)
    cores_a = [torch.randn(c.shape, generator=g, dtype=torch.float64) / 3 for c in rep.A.cores]
    cores_b = [torch.randn(c.shape, generator=g, dtype=torch.float64) / 3 for c in rep.B.cores]
    with torch.no_grad():
        for mine, given in zip(list(rep.A.cores) + list(rep.B.cores), cores_a + cores_b):
            mine.copy_(given)
    assert [c.shape[1] for c in cores_a] == [8, 12, 8, 8] == [c.shape[1] for c in cores_b]
    a_w, b_w = _paper_dense(cores_a, 768, 8), _paper_dense(cores_b, 8, 768)  # (in, b), (b, out)
    x = torch.randn(3, 768, generator=g, dtype=torch.float64)
    w0, bias = base.weight.detach(), base.bias.detach()
    paper = x @ w0.T + bias + (16.0 / 8) * ((x @ a_w) @ b_w)
    got = rep(x).detach()
    if scale_by == "bottleneck":
        assert rep.scale == 2.0
        assert torch.allclose(got, paper, rtol=0, atol=1e-6)
    else:
        assert rep.scale == 3.2
        base_out = x @ w0.T + bias
        assert torch.allclose(got - base_out, 1.6 * (paper - base_out), rtol=0, atol=1e-6)
        assert not torch.allclose(got, paper, atol=1e-3)
    assert f"alpha=16 / {scale_by}" in repr(rep)


@pytest.mark.parametrize("bad", ["rank", "alpha", None, 8])
def test_rep_scale_by_is_validated(bad):
    with pytest.raises(
        ValueError, match=r"scale_by must be one of \('bottleneck', 'tt_rank'\).*Example"
    ):
        LorettaRepLinear(nn.Linear(16, 16), bottleneck=4, tt_rank=2, scale_by=bad)


# -- hostile and careless input (issue "Nothing lost, nothing silent") --------------------------


def test_integer_input_is_refused_not_truncated():
    layer = TTLinear(64, 32, tt_rank=4)
    with pytest.raises(
        TypeError, match=r"floating-point input, got dtype torch.int64.*x.float\(\)"
    ):
        layer(torch.ones(3, 64, dtype=torch.long))
    rep = LorettaRepLinear(nn.Linear(64, 32), bottleneck=4, tt_rank=2)
    with pytest.raises(TypeError, match="floating-point input"):
        rep(torch.ones(3, 64, dtype=torch.int32))


@pytest.mark.parametrize("layout", ["flat", "ttm"])
def test_wrong_last_dimension_names_what_was_expected(layout):
    layer = TTLinear(64, 32, tt_rank=4, layout=layout)
    with pytest.raises(ValueError, match=r"in_features=64\), got shape \(3, 63\)"):
        layer(torch.randn(3, 63))
    with pytest.raises(ValueError, match=r"got shape \(\)"):
        layer(torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"in_features=64\), got shape \(2, 5, 48\)"):
        LorettaRepLinear(nn.Linear(64, 32), bottleneck=4, tt_rank=2)(torch.randn(2, 5, 48))


@pytest.mark.parametrize("layout", ["flat", "ttm"])
@pytest.mark.parametrize("mode", ["dense", "contract", "auto"])
def test_an_empty_batch_gives_an_empty_result(layout, mode):
    layer = TTLinear(64, 48, tt_rank=3, layout=layout, forward_mode=mode)
    assert layer(torch.randn(0, 64)).shape == (0, 48)
    assert layer(torch.randn(2, 0, 64)).shape == (2, 0, 48)


def test_integer_likes_for_sizes_and_ranks():
    import numpy as np

    for rank in (
        np.int64(3),
        torch.tensor(3),
        np.array([3, 3, 3, 3]),
        torch.tensor([3, 3, 3, 3]),
        [np.int64(3)] * 4,
    ):
        layer = TTLinear(np.int64(768), torch.tensor(64), tt_rank=rank)
        assert layer.ranks == [1, 3, 3, 3, 3, 1] and layer.in_features == 768
        assert type(layer.in_features) is int
        assert TTAdapter(np.int64(64), np.int64(16), tt_rank=rank if np.ndim(rank) == 0 else 3)
        rep = LorettaRepLinear(
            nn.Linear(64, 48), bottleneck=np.int64(8), tt_rank=rank if np.ndim(rank) == 0 else 3
        )
        assert rep.scale == 2.0


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(tt_rank=True), TypeError, "True/False"),
        (dict(tt_rank=2.5), TypeError, "tt_rank must be an int"),
        (dict(tt_rank=[2, True, 2, 2]), TypeError, "True/False"),
        (dict(tt_rank=0), ValueError, "tt_rank must be an integer >= 1"),
        (
            dict(in_features=0),
            ValueError,
            r"in_features must be an integer >= 1.*Example: TTLinear",
        ),
        (dict(in_features=-768), ValueError, "in_features must be an integer >= 1"),
        (dict(out_features=64.0), TypeError, "out_features must be an integer"),
        (dict(layout="tt"), ValueError, "layout must be one of"),
        (dict(dtype=torch.int64), TypeError, "floating-point torch.dtype"),
        (dict(tt_shape=[8, 8, 12, 8, -8]), ValueError, ">= 1"),
        (dict(layout="ttm", tt_shape=[(4, 4), (4, 4, 4)]), ValueError, "equal length"),
    ],
)
def test_bad_arguments_teach(kwargs, error, message):
    args = dict(in_features=768, out_features=64) | kwargs
    with pytest.raises(error, match=message):
        TTLinear(**args)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(bottleneck=0), ValueError, "bottleneck must be an integer >= 1"),
        (dict(bottleneck=True), TypeError, "True/False"),
        (dict(alpha="16"), TypeError, "alpha must be a real number"),
        (dict(alpha=float("nan")), ValueError, "alpha must be finite"),
        (dict(dropout=1.0), ValueError, r"dropout is a probability in \[0, 1\)"),
        (dict(tt_rank=-1), ValueError, "tt_rank"),
        (dict(tt_shapes=[8, 8]), ValueError, "product must be"),
    ],
)
def test_a_failed_rep_leaves_the_base_layer_untouched(kwargs, error, message):
    base = nn.Linear(64, 48)
    with pytest.raises(error, match=message):
        LorettaRepLinear(base, **{"bottleneck": 4, "tt_rank": 2} | kwargs)
    assert base.weight.requires_grad and base.bias.requires_grad  # validated before freezing


def test_adapter_validates_its_sizes():
    with pytest.raises(ValueError, match=r"features must be an integer >= 1.*Example: TTAdapter"):
        TTAdapter(0)
    with pytest.raises(TypeError, match="scale must be a real number"):
        TTAdapter(64, 16, scale=None)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
@pytest.mark.parametrize("kind", ["linear", "conv1d"])
def test_unmerge_gives_back_the_pretrained_weight_bit_for_bit(dtype, kind):
    base = base_linear(kind, 64, 64).to(dtype)
    original = base.weight.detach().clone()
    rep = LorettaRepLinear(base, bottleneck=8, tt_rank=3, init="compensated")
    with torch.no_grad():
        for c in rep.B.cores:
            c.add_(0.3 * torch.randn_like(c))
    rep.merge()
    assert not torch.equal(base.weight, original)  # the update went in
    rep.unmerge()
    assert torch.equal(base.weight, original)  # was: 1,376 of 4,096 bf16 weights changed
    assert rep._pretrained_weight is None  # the copy is released once unmerged
    assert "_pretrained_weight" not in rep.state_dict()


def test_unmerge_without_a_kept_copy_refuses_in_half_precision():
    base = nn.Linear(64, 64).to(torch.bfloat16)
    rep = LorettaRepLinear(base, bottleneck=8, tt_rank=3)
    rep.merge(keep_pretrained=False)
    with pytest.raises(RuntimeError, match=r"cannot unmerge exactly.*keep_pretrained=True"):
        rep.unmerge()
    assert rep.merged  # nothing changed
    fp32 = LorettaRepLinear(nn.Linear(64, 64), bottleneck=8, tt_rank=3)
    before = fp32.base.weight.detach().clone()
    fp32.merge(keep_pretrained=False)
    fp32.unmerge()  # fp32: subtracting again is exact up to one rounding
    assert torch.allclose(fp32.base.weight, before, atol=1e-6)


def test_from_linear_keeps_no_dead_svd_info():
    assert not hasattr(TTLinear.from_linear(nn.Linear(96, 64), tt_rank=4), "svd_info")


# -- speed without losing exactness (issue "no slower than LoRA as models grow") ----------------


class _CountOps(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts the aten operators run inside the block (what would be kernels on a GPU)."""

    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func.__name__.split(".")[0])
        return func(*args, **(kwargs or {}))


def _left_to_right(cores):
    out = cores[0]
    for core in cores[1:]:
        out = torch.einsum("anr,rms->anms", out, core).reshape(out.shape[0], -1, core.shape[-1])
    return out.reshape(-1, cores[-1].shape[-1])


@pytest.mark.parametrize(
    "modes, ranks",
    [
        ((4, 4, 8, 8, 8, 8), (1, 8, 8, 8, 8, 8, 1)),
        ((8, 12, 8, 8), (1, 5, 5, 5, 1)),
        ((3, 5, 2, 7), (2, 1, 6, 3, 4)),
        ((16,), (1, 1)),
        ((5, 9), (3, 2, 1)),
    ],
)
def test_chain_cores_is_exact_in_any_order_and_takes_one_product_per_bond(modes, ranks):
    from loretta_explore.tensor_train import _chain_order, chain_cores

    cores = [
        torch.randn(ranks[k], n, ranks[k + 1], dtype=torch.float64) for k, n in enumerate(modes)
    ]
    with _CountOps() as counted:
        got = chain_cores(cores)
    assert torch.allclose(got, _left_to_right(cores), rtol=1e-12, atol=1e-12)
    assert counted.ops.count("mm") == len(modes) - 1  # one kernel per bond ...
    assert not {"clone", "copy_", "cat", "permute", "einsum"} & set(counted.ops)  # ... no copies

    def cost(order_split, i, j):  # multiply-adds of a contraction order
        if i == j:
            return 0
        m = order_split[i, j]
        left, right = math.prod(modes[i : m + 1]), math.prod(modes[m + 1 : j + 1])
        return (
            cost(order_split, i, m)
            + cost(order_split, m + 1, j)
            + (ranks[i] * left * ranks[m + 1] * right * ranks[j + 1])
        )

    chosen = _chain_order(tuple(ranks), tuple(modes))
    sequential = {(0, j): j - 1 for j in range(1, len(modes))}
    assert cost(chosen, 0, len(modes) - 1) <= cost(sequential, 0, len(modes) - 1)


def test_the_balanced_order_halves_the_work_of_a_llama_rep_factor():
    from loretta_explore.tensor_train import _chain_order

    modes, ranks = (4, 4, 8, 8, 8, 8), (1, 8, 8, 8, 8, 8, 1)  # rep A, LLaMA-2-7B, r = 8
    split = _chain_order(ranks, modes)
    assert split[0, 5] not in (0, 4)  # not left to right: a split in the middle


@pytest.mark.parametrize("init", ["paper", "compensated", "zero"])
@pytest.mark.parametrize("base_dtype", [torch.float64, torch.bfloat16])
def test_rep_forward_equals_the_dense_update(init, base_dtype):
    torch.manual_seed(0)
    base = nn.Linear(64, 48).to(base_dtype)
    rep = LorettaRepLinear(base, bottleneck=8, tt_rank=3, init=init)
    if base_dtype == torch.float64:
        rep = rep.double()
    with torch.no_grad():
        for c in rep.B.cores:
            c.add_(0.3 * torch.randn_like(c))
    x = torch.randn(2, 5, 64, dtype=base_dtype)
    delta = rep.get_delta_weight()  # (in, out) in the cores' dtype
    expected = base(x).to(delta.dtype) + x.to(delta.dtype) @ delta
    tolerance = 1e-10 if base_dtype == torch.float64 else 3e-2
    assert torch.allclose(rep(x).to(delta.dtype), expected, atol=tolerance, rtol=tolerance)
    assert rep(x).dtype == base_dtype


@pytest.mark.parametrize("init", ["paper", "compensated"])
def test_rep_gradcheck(init):
    torch.manual_seed(0)
    rep = LorettaRepLinear(nn.Linear(12, 10), bottleneck=4, tt_rank=2, init=init).double()
    with torch.no_grad():
        for c in rep.B.cores:
            c.add_(0.3 * torch.randn_like(c))
    x = torch.randn(3, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rep, (x,))
    names = [n for n, p in rep.named_parameters() if p.requires_grad]
    values = tuple(
        p.detach().clone().requires_grad_(True)
        for n, p in rep.named_parameters()
        if p.requires_grad
    )
    assert torch.autograd.gradcheck(
        lambda *vs: torch.func.functional_call(rep, dict(zip(names, vs)), (x.detach(),)), values
    )


def test_frozen_starting_cores_are_built_once_and_rebuilt_when_they_change():
    torch.manual_seed(0)
    rep = LorettaRepLinear(nn.Linear(64, 48), bottleneck=8, tt_rank=3, init="compensated")
    x = torch.randn(4, 64)
    rep(x)
    with _CountOps() as counted:
        rep(x)  # warm: A0 and B0 are not contracted again
    chains = len(rep.A.cores) - 1 + len(rep.B.cores) - 1
    # the base (1), the trainable chains, h @ [A_W | -s A0_W], one addmm: A0, B0 not contracted
    assert counted.ops.count("mm") + counted.ops.count("addmm") == 1 + chains + 2

    def fresh(module):  # the same layer without any cache: dense reference
        return module.base(x) + x @ module.get_delta_weight()

    # in-place writes (what load_state_dict and LorettaModel.from_pretrained do) bump the version
    state = {k: v.clone() for k, v in rep.state_dict().items()}
    for k in state:
        if k.startswith(("A0.", "B0.")):
            state[k] = 0.5 * torch.randn_like(state[k])
    rep.load_state_dict(state)
    assert torch.allclose(rep(x), fresh(rep), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        rep.B0.cores[0].mul_(2.0)
    assert torch.allclose(rep(x), fresh(rep), rtol=1e-5, atol=1e-5)
    rep = rep.double()  # dtype change: new tensors, rebuilt in float64
    x = x.double()
    assert torch.allclose(rep(x), fresh(rep), atol=1e-10)
    assert rep._a0_dense.dtype == torch.float64
    assert not any("_dense" in k for k in rep.state_dict())  # never saved: the cores are


@pytest.mark.parametrize("make", ["rep_paper", "rep_compensated", "adapter", "ttm"])
def test_torch_compile_traces_each_layer_in_one_graph(make):
    """No graph breaks (torch.compile, and CUDA graphs with it, can fuse the whole forward); the
    frozen-factor cache steps aside while tracing, so the compiled forward stays exact."""
    torch.manual_seed(0)
    layer = {
        "rep_paper": lambda: LorettaRepLinear(nn.Linear(64, 64), 8, 3),
        "rep_compensated": lambda: LorettaRepLinear(nn.Linear(64, 64), 8, 3, init="compensated"),
        "adapter": lambda: TTAdapter(64, 16, tt_rank=3),
        "ttm": lambda: TTLinear(64, 48, tt_rank=3, layout="ttm", forward_mode="contract"),
    }[make]()
    explained = torch._dynamo.explain(layer)(torch.randn(4, 64))
    assert explained.graph_break_count == 0, explained.break_reasons


def test_nan_cores_are_caught_before_they_spread():
    rep = LorettaRepLinear(nn.Linear(64, 48), bottleneck=8, tt_rank=3)
    before = rep.base.weight.detach().clone()
    with torch.no_grad():
        rep.B.cores[0][0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf.*nothing was changed"):
        rep.merge()
    assert (
        torch.equal(rep.base.weight, before) and not rep.merged and rep._pretrained_weight is None
    )
    with pytest.raises(ValueError, match="core 0 contains NaN"):
        rep.B.tensor_train()
