"""Exercise 4: merging a LoRETTA_rep layer, ``merge_rep(rep_layer) -> W0 + s * (A_W @ B_W).T`` in
nn.Linear's (out, in) orientation, against :meth:`LorettaRepLinear.merge` (docs/method.md#rep).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from ..layers import LorettaRepLinear
from .harness import (
    DEFAULT_TIME_LIMIT,
    CheckResult,
    Fail,
    Forbidden,
    Hint,
    Student,
    as_tensor,
    rel_error,
    run_cases,
    shape_of,
)
from .watch import take_baseline

__all__ = ["FORBIDDEN", "check_rep_merge"]

#: The library functions an answer must not call (they compute what the student writes).
FORBIDDEN = (
    Forbidden(LorettaRepLinear, "merge", "rep_layer.merge()"),
    Forbidden(LorettaRepLinear, "get_delta_weight", "rep_layer.get_delta_weight()"),
)


def _rep_layer(
    in_f: int, out_f: int, b: int, rank: int, alpha: float, shapes, seed: int
) -> LorettaRepLinear:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LorettaRepLinear(
            nn.Linear(in_f, out_f), bottleneck=b, tt_rank=rank, alpha=alpha, tt_shapes=shapes
        )


S = "rep"  # docs/method.md section of this exercise

H_NO_SCALE = Hint(
    "The update is scaled before it is added: where is s in your formula?",
    "scale",
    "W0 + s * (A_W @ B_W).T with s = rep_layer.scale (alpha / bottleneck by default)",
)
H_ALPHA = Hint(
    "Is the scale alpha itself? LoRA's convention divides alpha by the width of the update.",
    "scale",
    "s = alpha / bottleneck (rep_layer.scale), not alpha",
)
H_TT_RANK = Hint(
    "What is the width of the update A_W @ B_W? The scale divides alpha by it, as in LoRA, and "
    "here the width is the bottleneck b, not the TT rank (an earlier reading of the paper).",
    "scale",
    "s = rep_layer.alpha / rep_layer.bottleneck (or just rep_layer.scale), not alpha / tt_rank",
)
H_ONLY_UPDATE = Hint(
    "The merged layer must compute what the frozen weight AND the update computed together.",
    S,
    "return rep_layer.base.weight + s * (A_W @ B_W).T, not the update alone",
)
H_ONLY_W0 = Hint(
    "Your weight is the frozen W0 unchanged: where does the update go?",
    S,
    "add s * (A_W @ B_W).T to rep_layer.base.weight",
)
H_SUBTRACTED = Hint(
    "Check the sign: the layer computes W0 x + s B(A(x)), and merging adds the update.",
    S,
    "W0 + s * (A_W @ B_W).T, with a plus",
)
H_IN_OUT = Hint(
    "Which orientation does nn.Linear store? Its weight is (out, in); A_W @ B_W is (in, out).",
    S,
    "return W0 + s * (A_W @ B_W).T, which is (out, in); don't transpose the sum",
)
H_NOT_TRANSPOSED = Hint(
    "A_W @ B_W is (in, out) but nn.Linear's weight is (out, in): a square layer hides a "
    "missing transpose in the shapes, not in the numbers.",
    S,
    "add s * (A_W @ B_W).T, with the .T",
)
H_GENERIC = Hint(
    "Build it from the parts: A_W (in, b) and B_W (b, out) from the TT layers, the scale s, and the "
    "frozen W0 (out, in). Compare each part's shape with the formula.",
    S,
    "A_W = rep_layer.A.dense_matrix(); B_W = rep_layer.B.dense_matrix(); "
    "return rep_layer.base.weight + rep_layer.scale * (A_W @ B_W).T",
)
H_IN_PLACE = Hint(
    "The check hands your function a layer to read: merging into it changes the model the student "
    "(or the check) still uses.",
    S,
    "build and return a NEW tensor: W0 + s * (A_W @ B_W).T; never call rep_layer.merge() or write "
    "into rep_layer.base.weight",
)
H_SHAPE = Hint(
    "Which shape does nn.Linear(in -> out) store its weight in? (out, in).",
    S,
    "return W0 + s * (A_W @ B_W).T, of shape (out_features, in_features)",
)


def _merge_hint(got: torch.Tensor, layer: LorettaRepLinear) -> Hint:
    w0 = layer.base.weight.detach().double()  # (out, in)
    with torch.no_grad():
        delta = (layer.A.dense_matrix() @ layer.B.dense_matrix()).double()  # (in, out)
    s, alpha = layer.scale, layer.alpha
    g = got.detach().double()
    candidates = [
        (w0 + delta.T, H_NO_SCALE),
        (w0 + alpha * delta.T, H_ALPHA),
        (s * delta.T, H_ONLY_UPDATE),
        (w0, H_ONLY_W0),
        (w0 - s * delta.T, H_SUBTRACTED),
        ((w0 + s * delta.T).T, H_IN_OUT),
    ]
    rank = max(layer.A.ranks)
    if getattr(layer, "scale_by", "bottleneck") == "bottleneck" and rank != layer.bottleneck:
        candidates.append((w0 + (alpha / rank) * delta.T, H_TT_RANK))
    if w0.shape[0] == w0.shape[1]:
        candidates.append((w0 + s * delta, H_NOT_TRANSPOSED))
    for w, hint in candidates:
        if g.shape == w.shape and rel_error(g, w) < 1e-5:
            return hint
    return H_GENERIC


def _merge_case(in_f: int, out_f: int, b: int, rank: int, alpha: float, shapes, seed: int):
    def case(student: Student) -> str:
        layer = _rep_layer(in_f, out_f, b, rank, alpha, shapes, seed)
        reference = copy.deepcopy(layer)
        reference.merge()
        expected = reference.base.weight.detach()
        before = layer.base.weight.detach().clone()
        got = as_tensor(student(layer), "your merge_rep's result")
        if layer.merged or not torch.equal(layer.base.weight.detach(), before):
            raise Fail("your merge_rep changed rep_layer's frozen weight in place", H_IN_PLACE)
        if shape_of(got) != shape_of(expected):
            raise Fail(
                f"your merged weight has shape {shape_of(got)} but nn.Linear({in_f} -> {out_f}) stores "
                f"(out, in) = {shape_of(expected)}",
                H_IN_OUT if shape_of(got) == (in_f, out_f) else H_SHAPE,
            )
        err = rel_error(got, expected)
        if err < 1e-5:
            return f"weight {shape_of(expected)}, scale {layer.scale:g}, relative error {err:.2g} vs merge(): match"
        raise Fail(
            f"weight {shape_of(expected)}, scale {layer.scale:g}: relative error {err:.3g} vs merge() "
            f"(expected < 1e-05)",
            _merge_hint(got, layer),
        )

    return case


def check_rep_merge(
    student_fn: Callable,
    *,
    raise_on_fail: bool = False,
    time_limit: float | None = DEFAULT_TIME_LIMIT,
) -> CheckResult:
    """Check ``student_fn(rep_layer) -> W0 + s * (A_W @ B_W).T`` (nn.Linear's (out, in) orientation).

    The reference is :meth:`loretta_explore.LorettaRepLinear.merge` on a copy of the layer. Cases:
    a rectangular layer (12 -> 6), a square one (where an untransposed update has the right
    shape), the paper's encoder setting (768 -> 768, b = 8, r = 5, s = alpha / b = 2.0) and another alpha
    (alpha = 6, r = 4, s = 1.5). The layer must be left unchanged. Typical mistakes recognised:
    missing scale, alpha for the scale, missing W0, the update subtracted, (in, out) orientation,
    update not transposed, alpha / tt_rank (an earlier reading of the scale, docs/method.md#scale).
    Calling ``merge``, ``get_delta_weight`` inside the answer fails the case. ``raise_on_fail`` and
    ``time_limit`` (seconds per call) work as in :func:`check_tt_svd`.
    """
    cases = [
        (
            "rectangular layer (12 -> 6, bottleneck 3, tt_rank 2, alpha 16)",
            _merge_case(12, 6, 3, 2, 16.0, ([3, 4, 3], [3, 3, 2]), 11),
        ),
        (
            "square layer (8 -> 8, bottleneck 4, tt_rank 3, alpha 16)",
            _merge_case(8, 8, 4, 3, 16.0, ([2, 4, 4], [4, 4, 2]), 12),
        ),
        (
            "the paper's encoder setting (768 -> 768, bottleneck 8, tt_rank 5, scale 16 / 8 = 2.0)",
            _merge_case(768, 768, 8, 5, 16.0, "paper", 13),
        ),
        (
            "another alpha (16 -> 12, bottleneck 4, tt_rank 2, alpha 6, scale 6 / 4 = 1.5)",
            _merge_case(16, 12, 4, 2, 6.0, ([4, 4, 4], [4, 4, 3]), 14),
        ),
    ]
    return run_cases(
        "merge_rep", student_fn, cases, FORBIDDEN, raise_on_fail, section=S, time_limit=time_limit
    )


take_baseline()  # remember the kit as imported, to notice a later patch of it (watch.py)
