"""Exercise 4: merging a LoRETTA_rep layer, ``merge_rep(rep_layer) -> W0 + s * (A_W @ B_W).T`` in
nn.Linear's (out, in) orientation, against :meth:`LorettaRepLinear.merge` (docs/method.md#rep).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from ..layers import LorettaRepLinear
from .harness import CheckResult, Fail, Student, as_tensor, rel_error, run_cases, shape_of

__all__ = ['check_rep_merge']


def _rep_layer(in_f: int, out_f: int, b: int, rank: int, alpha: float, shapes, seed: int) -> LorettaRepLinear:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LorettaRepLinear(nn.Linear(in_f, out_f), bottleneck=b, tt_rank=rank, alpha=alpha, tt_shapes=shapes)


def _merge_hint(got: torch.Tensor, layer: LorettaRepLinear) -> str:
    w0 = layer.base.weight.detach().double()  # (out, in)
    with torch.no_grad():
        delta = (layer.A.dense_matrix() @ layer.B.dense_matrix()).double()  # (in, out)
    s, alpha = layer.scale, layer.alpha
    divisor = "bottleneck" if getattr(layer, "scale_by", "bottleneck") == "bottleneck" else "tt_rank"
    g = got.detach().double()
    candidates = [
        (w0 + delta.T, f"you forgot the scale: the update is s * (A_W @ B_W).T with s = alpha / {divisor} = "
                       f"{alpha:g} / {alpha / s:g} = {s:g} (rep_layer.scale)"),
        (w0 + alpha * delta.T, f"you scaled by alpha = {alpha:g}; the scale is s = alpha / {divisor} = {s:g} "
                               f"(rep_layer.scale)"),
        (s * delta.T, "you returned only the update: the merged weight is the frozen W0 "
                      "(rep_layer.base.weight) PLUS s * (A_W @ B_W).T"),
        (w0, "you returned the frozen weight unchanged: add the update s * (A_W @ B_W).T"),
        (w0 - s * delta.T, "you subtracted the update; merging adds it: W0 + s * (A_W @ B_W).T"),
        ((w0 + s * delta.T).T, "your weight is in (in, out) orientation; nn.Linear stores (out, in), "
                               "so return W0 + s * (A_W @ B_W).T"),
    ]
    rank = max(layer.A.ranks)
    if divisor == "bottleneck" and rank != layer.bottleneck:
        candidates.append((w0 + (alpha / rank) * delta.T,
                           f"you divided alpha by the TT rank ({alpha:g} / {rank} = {alpha / rank:g}); the "
                           f"scale is alpha / bottleneck = {alpha:g} / {layer.bottleneck} = {s:g}, as in "
                           f"LoRA, where r is the update's width (docs/method.md#scale)"))
    if w0.shape[0] == w0.shape[1]:
        candidates.append((w0 + s * delta, "you added the update without transposing it: A_W @ B_W is (in, out) "
                                           "while nn.Linear's weight is (out, in); add s * (A_W @ B_W).T"))
    for w, hint in candidates:
        if g.shape == w.shape and rel_error(g, w) < 1e-5:
            return hint
    ref = w0 + s * delta.T
    return (f"your weight differs from W0 + s * (A_W @ B_W).T (relative error {rel_error(g, ref):.3g}); A_W "
            f"(in, b) = rep_layer.A.dense_matrix(), B_W (b, out) = rep_layer.B.dense_matrix(), s = rep_layer.scale")


def _merge_case(in_f: int, out_f: int, b: int, rank: int, alpha: float, shapes, seed: int):
    def case(student: Student) -> str:
        layer = _rep_layer(in_f, out_f, b, rank, alpha, shapes, seed)
        reference = copy.deepcopy(layer)
        reference.merge()
        expected = reference.base.weight.detach()
        before = layer.base.weight.detach().clone()
        got = as_tensor(student(layer), "your merge_rep's result")
        if layer.merged or not torch.equal(layer.base.weight.detach(), before):
            raise Fail("your merge_rep changed rep_layer's frozen weight in place (did you call rep_layer.merge() "
                        "or write into base.weight?): build and return a NEW tensor, leave the layer as it is")
        if shape_of(got) != shape_of(expected):
            extra = (" (that is (in, out): return W0 + s * (A_W @ B_W).T, which is (out, in))"
                     if shape_of(got) == (in_f, out_f) else "")
            raise Fail(f"your merged weight has shape {shape_of(got)} but nn.Linear({in_f} -> {out_f}) stores its "
                        f"weight as (out, in) = {shape_of(expected)}{extra}")
        err = rel_error(got, expected)
        if err < 1e-5:
            return f"weight {shape_of(expected)}, scale {layer.scale:g}, relative error {err:.2g} vs merge(): match"
        raise Fail(_merge_hint(got, layer))

    return case


def check_rep_merge(student_fn: Callable, *, raise_on_fail: bool = False) -> CheckResult:
    """Check ``student_fn(rep_layer) -> W0 + s * (A_W @ B_W).T`` (nn.Linear's (out, in) orientation).

    The reference is :meth:`loretta_explore.LorettaRepLinear.merge` on a copy of the layer. Cases:
    a rectangular layer (12 -> 6), a square one (where an untransposed update has the right
    shape), the paper's encoder setting (768 -> 768, b = 8, r = 5, s = alpha / b = 2.0) and another alpha
    (alpha = 6, r = 4, s = 1.5). The layer must be left unchanged. Typical mistakes recognised:
    missing scale, alpha for the scale, missing W0, the update subtracted, (in, out) orientation,
    update not transposed. Calling ``merge``, ``get_delta_weight`` inside the answer fails the case.
    """
    cases = [
        ("rectangular layer (12 -> 6, bottleneck 3, tt_rank 2, alpha 16)",
         _merge_case(12, 6, 3, 2, 16.0, ([3, 4, 3], [3, 3, 2]), 11)),
        ("square layer (8 -> 8, bottleneck 4, tt_rank 3, alpha 16)",
         _merge_case(8, 8, 4, 3, 16.0, ([2, 4, 4], [4, 4, 2]), 12)),
        ("the paper's encoder setting (768 -> 768, bottleneck 8, tt_rank 5, scale 16 / 8 = 2.0)",
         _merge_case(768, 768, 8, 5, 16.0, "paper", 13)),
        ("another alpha (16 -> 12, bottleneck 4, tt_rank 2, alpha 6, scale 6 / 4 = 1.5)",
         _merge_case(16, 12, 4, 2, 6.0, ([4, 4, 4], [4, 4, 3]), 14)),
    ]
    forbidden = {LorettaRepLinear.merge.__code__: "rep_layer.merge()",
                 LorettaRepLinear.get_delta_weight.__code__: "rep_layer.get_delta_weight()"}
    return run_cases("merge_rep", student_fn, cases, forbidden, raise_on_fail)


#: The exercises by name: {student function name: check}, for autograders.
