"""Factorizations, shape suggestion and the two matrix <-> tensor layouts."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import loretta_explore as lx
from loretta_explore.tensorize import PAPER_SHAPES, paper_shape, resolve_shape, suggest_ttm_modes
from loretta_explore.weight_layouts import (
    matrix_to_tensor,
    matrix_to_ttm_tensor,
    tensor_to_matrix,
    ttm_tensor_to_matrix,
)


def brute_force(n, order):
    """Independent reference: every tuple of divisors, filtered."""
    if order == 1:
        return [(n,)] if n >= 2 else []
    divisors = [k for k in range(2, n + 1) if n % k == 0]
    return sorted((k, *rest) for k in divisors for rest in brute_force(n // k, order - 1))


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 400), order=st.integers(1, 4))
def test_factorize_matches_brute_force(n, order):
    got = lx.factorize(n, order)
    assert sorted(got) == brute_force(n, order)
    assert len(set(got)) == len(got)
    for f in got:
        assert math.prod(f) == n and len(f) == order and min(f) >= 2


@pytest.mark.parametrize("p", [2, 3, 13, 97, 7919])
def test_primes_and_one_have_no_multi_factorization(p):
    assert lx.factorize(p, 1) == [(p,)]
    assert lx.factorize(p, 2) == []
    assert lx.factorize(1, 1) == []


@pytest.mark.parametrize("bad", [0, -3, 2.5, "8", True])
def test_factorize_rejects_bad_input_with_example(bad):
    with pytest.raises(ValueError, match="Example: factorize"):
        lx.factorize(bad, 2)
    with pytest.raises(ValueError, match="order"):
        lx.factorize(12, bad)


@settings(max_examples=200, deadline=None)
@given(i=st.integers(1, 5000), o=st.integers(1, 5000))
def test_suggest_shape_product_and_balance(i, o):
    shape = lx.suggest_shape(i, o)
    assert math.prod(shape) == i * o
    if i * o > 1:
        assert min(shape) >= 2
    # the two largest factors sit at the two ends (cheapest place for them)
    if len(shape) > 2:
        assert sorted(shape)[-2:] == sorted([shape[0], shape[-1]])


@settings(max_examples=60, deadline=None)
@given(a=st.integers(3, 7), b=st.integers(3, 7))
def test_suggest_shape_avoids_tiny_factors_for_powers_of_two(a, b):
    """Sizes like 2^a x 2^b (the usual widths): factors of 8-16, no 2s or 4s when avoidable."""
    shape = lx.suggest_shape(2**a * 8, 2**b * 8)
    assert all(k >= 8 for k in shape), shape


def test_suggest_shape_on_model_sizes():
    assert sorted(lx.suggest_shape(768, 64)) == sorted(PAPER_SHAPES[(768, 64)])
    assert sorted(lx.suggest_shape(768, 8)) == sorted(PAPER_SHAPES[(768, 8)])
    assert sorted(lx.suggest_shape(768, 768)) == sorted(PAPER_SHAPES[(768, 768)])
    assert lx.suggest_shape(1, 1) == (1,)
    assert lx.suggest_shape(10007, 1) == (10007,)  # a prime has one mode


def test_suggest_shape_with_order():
    assert math.prod(lx.suggest_shape(768, 64, order=3)) == 768 * 64
    assert len(lx.suggest_shape(768, 64, order=3)) == 3
    with pytest.raises(ValueError, match="no factorization into 3 factors"):
        lx.suggest_shape(13, 1, order=3)


def test_paper_presets_have_the_right_products():
    for (i, o), shape in PAPER_SHAPES.items():
        assert math.prod(shape) == i * o, (i, o)
    assert paper_shape(4096, 16) == (4, 4, 8, 8, 8, 8)
    assert paper_shape(123, 45) is None
    assert resolve_shape(768, 64, "paper") == (8, 8, 12, 8, 8)
    assert resolve_shape(384, 64, "paper") == lx.suggest_shape(384, 64)  # no preset: chosen
    assert resolve_shape(768, 64, [8, 8, 8, 8, 12]) == (8, 8, 8, 8, 12)


def test_resolve_shape_teaches_on_bad_product():
    with pytest.raises(ValueError, match=r"product must be in\*out = 49152.*valid example"):
        resolve_shape(768, 64, [8, 8, 8])
    with pytest.raises(ValueError, match="paper"):
        resolve_shape(768, 64, "bogus")


def test_flattened_layout_round_trip_is_row_major():
    w = torch.arange(12.0).reshape(3, 4)
    t = matrix_to_tensor(w, (2, 6))
    assert torch.equal(t.flatten(), w.flatten())  # row-major: the split need not fall on a mode
    assert torch.equal(tensor_to_matrix(t, 3, 4), w)
    with pytest.raises(ValueError, match="valid example"):
        matrix_to_tensor(w, (5, 2))
    with pytest.raises(TypeError, match="2-D torch.Tensor"):
        matrix_to_tensor([[1.0]], (1,))


def test_ttm_layout_interleaves_modes():
    w = torch.randn(12, 6)
    in_modes, out_modes = (3, 4), (2, 3)
    t = matrix_to_ttm_tensor(w, in_modes, out_modes)
    assert t.shape == (6, 12)
    # element (i, j) with i = i1*4 + i2, j = j1*3 + j2 sits at [(i1, j1), (i2, j2)]
    i1, i2, j1, j2 = 2, 1, 1, 2
    assert t[i1 * 2 + j1, i2 * 3 + j2] == w[i1 * 4 + i2, j1 * 3 + j2]
    assert torch.equal(ttm_tensor_to_matrix(t, in_modes, out_modes), w)
    with pytest.raises(ValueError, match="valid example"):
        matrix_to_ttm_tensor(w, (3, 3), (2, 3))


def test_suggest_ttm_modes_products():
    for i, o in [(768, 64), (7, 3), (384, 1536), (1, 10)]:
        m, n = suggest_ttm_modes(i, o)
        assert len(m) == len(n) and math.prod(m) == i and math.prod(n) == o


@settings(max_examples=60, deadline=None)
@given(a=st.integers(3, 7), b=st.integers(3, 7))
def test_suggested_shapes_can_be_cut_between_input_and_output(a, b):
    """The shape chooser orders the middle so that x @ W never needs W (see TTLinear)."""
    from loretta_explore.tensorize import cut_point

    in_f, out_f = 2**a * 3 ** (a % 2), 2**b
    assert cut_point(lx.suggest_shape(in_f, out_f), in_f) is not None


# -- fast, bounded, interruptible shape search (issue "Nothing lost, nothing silent") -----------


def reference_arrangement(factors, in_f):
    """Independent reference for the order of the modes: the two largest factors at the ends
    (either way round), every ordering of the rest in the middle, in lexicographic order; the
    first that cuts exactly between input and output, else the first that cuts inside a mode,
    else the first. Returns (that order, the first candidate)."""
    import itertools

    from loretta_explore.tensorize import cut_point

    f = sorted(factors, reverse=True)
    if len(f) <= 2:
        candidates = [tuple(f), tuple(reversed(f))]
    else:
        middles = sorted(set(itertools.permutations(sorted(f[2:]))))
        candidates = [(a, *m, b) for a, b in ((f[0], f[1]), (f[1], f[0])) for m in middles]
    cuts = [(o, cut_point(o, in_f)) for o in candidates]
    exact = [o for o, c in cuts if c is not None and c[2] == 1]
    inside = [o for o, c in cuts if c is not None]
    return (exact or inside or candidates)[0], candidates[0]


def reference_shape(in_f, out_f, order=None):
    """The shape chooser written the slow, obvious way: score every multiset of factors (found by
    trial division), keep the first best by (cost, -order), then try every ordering of the middle
    modes in lexicographic order. Independent of the kit's branch and bound and greedy ordering."""

    from loretta_explore.tensorize import shape_cost

    n = in_f * out_f
    if n == 1:
        return (1,)

    def multisets(m, d, low):
        if d == 1:
            return [(m,)] if m >= low else []
        return [
            (k, *rest)
            for k in range(low, m + 1)
            if m % k == 0 and k**d <= m
            for rest in multisets(m // k, d - 1, k)
        ]

    guess = max(1, round(math.log(n) / math.log(10)))
    orders = [order] if order else range(1, guess + 2)
    best = min(
        (s for d in orders for s in multisets(n, d, 2)), key=lambda s: (shape_cost(s), -len(s))
    )
    return reference_arrangement(best, in_f)[0]


@settings(max_examples=80, deadline=None)
@given(i=st.integers(1, 3000), o=st.integers(1, 100))
def test_suggest_shape_is_the_exhaustive_search_answer(i, o):
    """Branch and bound and the greedy mode order give exactly what trying everything gives."""
    assert lx.suggest_shape(i, o) == reference_shape(i, o)


# What the shape chooser gave before it was made polynomial (exhaustive search then), for the
# sizes of the models the kit knows; the new search must give the same.
KNOWN_SHAPES = {
    (768, 64): (12, 8, 8, 8, 8),
    (64, 768): (8, 8, 8, 8, 12),
    (4096, 16): (8, 8, 8, 8, 16),
    (16, 4096): (16, 8, 8, 8, 8),
    (384, 1536): (12, 8, 8, 8, 8, 12),
    (768, 768): (12, 8, 8, 8, 8, 12),
    (8, 2304): (16, 8, 12, 12),
    (4096, 11008): (16, 8, 8, 8, 8, 16, 43),
    (11008, 4096): (43, 8, 8, 8, 8, 16, 16),
    (5120, 64): (10, 8, 8, 8, 8, 8),
    (5120, 13824): (12, 8, 8, 8, 8, 10, 12, 12),
    (8192, 28672): (8, 8, 8, 8, 8, 8, 8, 8, 14),
    (4096, 64): (8, 8, 8, 8, 8, 8),
    (32000, 4096): (16, 10, 10, 10, 8, 8, 8, 16),
}


@pytest.mark.parametrize("size", list(KNOWN_SHAPES), ids=lambda s: f"{s[0]}x{s[1]}")
def test_shapes_of_model_sizes_are_kept(size):
    assert lx.suggest_shape(*size) == KNOWN_SHAPES[size]
    if math.prod(size) <= 2**20:
        assert lx.suggest_shape(*size) == reference_shape(*size)


@settings(max_examples=150, deadline=None)
@given(
    factors=st.lists(st.sampled_from([2, 2, 3, 4, 5, 6, 8, 8, 9, 12, 16]), min_size=1, max_size=7),
    data=st.data(),
)
def test_arrange_modes_matches_trying_every_permutation(factors, data):

    from loretta_explore.tensorize import arrange_modes

    n = math.prod(factors)
    in_f = data.draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0] + [7]))
    chosen, first = reference_arrangement(factors, in_f)
    assert arrange_modes(factors, in_f) == chosen
    assert arrange_modes(factors) == first


@pytest.mark.timeout(
    60
)  # a hang guard, not a speed claim: these used to run for minutes or forever
def test_calls_that_used_to_hang_finish_with_the_right_answer():
    # order 15: the old mode ordering listed 13! = 6.2 billion permutations of the middle modes
    assert lx.suggest_shape(768, 64, order=15) == (3,) + (2,) * 14
    assert lx.factorize(2**31 - 1, 2) == []  # a prime: trial division up to n took minutes
    assert lx.factorize(2**31 - 1, 1) == [(2**31 - 1,)]
    assert lx.suggest_shape(2**31 - 1, 1) == (2**31 - 1,)
    assert lx.suggest_shape(2**24, 1) == (8,) * 8
    assert lx.suggest_shape(2**61 - 1, 7) == (2**61 - 1, 7)
    big = lx.suggest_shape(4294967291, 4294967279)  # two primes near 2**32: Pollard-Brent
    assert sorted(big) == [4294967279, 4294967291]
    highly_composite = lx.suggest_shape(
        2**6 * 3**3 * 5**2 * 7 * 11 * 13, 17 * 19 * 23 * 29 * 31 * 37
    )
    assert (
        math.prod(highly_composite)
        == 2**6 * 3**3 * 5**2 * 7 * 11 * 13 * 17 * 19 * 23 * 29 * 31 * 37
    )
    m, n = suggest_ttm_modes(2**32, 2**32, order=30)
    assert math.prod(m) == 2**32 and len(n) == 30


def test_prime_factors_and_counts_against_sympy_free_references():
    from loretta_explore._integers import count_ordered_factorizations, prime_factors

    assert prime_factors(2**64 - 59) == {2**64 - 59: 1}  # the largest prime below 2**64
    assert prime_factors(4294967291 * 4294967279) == {4294967279: 1, 4294967291: 1}
    assert prime_factors(768 * 64) == {2: 14, 3: 1}
    for n in range(1, 300):
        assert math.prod(p**e for p, e in prime_factors(n).items()) == n
        for order in range(1, 5):
            assert count_ordered_factorizations(n, order) == len(brute_force(n, order))


def test_factorize_refuses_to_list_millions_and_says_how_many():
    with pytest.raises(
        ValueError, match=r"has [\d,]+ ordered factorizations into 20 factors.*suggest_shape"
    ):
        lx.factorize(2**40, 20)
    with pytest.raises(ValueError, match="larger than 2\\*\\*64"):
        lx.factorize(2**65, 2)
    with pytest.raises(ValueError, match="more than 2\\*\\*64"):
        lx.suggest_shape(2**40, 2**40)


def test_integer_likes_are_accepted_everywhere_an_int_is():
    import numpy as np

    for like in (np.int64(768), torch.tensor(768), np.array(768), np.int32(768)):
        assert lx.suggest_shape(like, 64) == lx.suggest_shape(768, 64)
        assert lx.suggest_shape(768, torch.tensor(64), order=np.int64(3)) == lx.suggest_shape(
            768, 64, order=3
        )
        assert resolve_shape(like, 64, "paper") == (8, 8, 12, 8, 8)
        assert resolve_shape(768, 64, np.array([8, 8, 12, 8, 8])) == (8, 8, 12, 8, 8)
        assert resolve_shape(768, 64, torch.tensor([8, 8, 12, 8, 8])) == (8, 8, 12, 8, 8)
    assert lx.factorize(np.int64(12), torch.tensor(2)) == [(2, 6), (3, 4), (4, 3), (6, 2)]
    assert matrix_to_tensor(torch.ones(4, 3), np.array([2, 6])).shape == (2, 6)
    assert tensor_to_matrix(torch.ones(2, 6), np.int64(4), 3).shape == (4, 3)


@pytest.mark.parametrize(
    "bad, message",
    [
        (True, "True/False is not a size"),
        (False, "True/False is not a size"),
        (torch.tensor(True), "True/False"),
        (8.0, "must be an integer"),
        (torch.tensor(8.0), "integer"),
        (torch.tensor([8]), "one integer"),
        ("8", "integer"),
        (None, "integer"),
    ],
)
def test_non_integers_are_refused_with_a_clear_message(bad, message):
    from loretta_explore._integers import IntegerExpected

    with pytest.raises(IntegerExpected, match=message) as info:
        lx.suggest_shape(bad, 64)
    assert "Example: suggest_shape(768, 64)" in str(info.value)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)
    with pytest.raises(TypeError, match=message):
        lx.factorize(bad, 2)


@pytest.mark.parametrize(
    "bad_shape, error, message",
    [
        ([8, 8, 12.5, 8, 8], TypeError, "every entry of tt_shape must be an integer"),
        ([8, 8, True, 96, 8], TypeError, "True/False"),
        ([], ValueError, "tt_shape is empty"),
        ([768, 64, -1, -1], ValueError, ">= 1"),
        (12, TypeError, "sequence of integers"),
    ],
)
def test_explicit_shapes_are_checked_entry_by_entry(bad_shape, error, message):
    with pytest.raises(error, match=message) as info:
        resolve_shape(768, 64, bad_shape)
    assert "8, 8" in str(info.value) or "12" in str(info.value)  # a valid shape is shown


def test_ttm_layout_checks_its_modes():
    with pytest.raises(ValueError, match="equal length"):
        ttm_tensor_to_matrix(torch.randn(6, 12), (3, 4), (2, 3, 1, 1))
    with pytest.raises(TypeError, match="True/False"):
        matrix_to_ttm_tensor(torch.randn(12, 6), (3, True), (2, 3))
