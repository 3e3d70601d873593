"""Factorizations, shape suggestion and the two matrix <-> tensor layouts."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import loretta_explore as lx
from loretta_explore.tensorize import (
    PAPER_SHAPES,
    matrix_to_tensor,
    matrix_to_ttm_tensor,
    paper_shape,
    resolve_shape,
    suggest_ttm_modes,
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
