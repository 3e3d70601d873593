"""Drawn diagrams: where LoRETTA sits in a transformer block, and the path of a rep update.

Both are drawn from the kit's own records, so they follow them: :func:`block_diagram` reads the
family's :class:`~loretta_explore.architectures.Architecture` (its ``adp`` placements
{pattern: "before" | "after"}, its ``rep`` targets, its head names) and marks every module of
one layer that a pattern matches, by the same matching rule the adaptation uses
(docs/method.md#placement). :func:`rep_diagram` reads a :class:`~loretta_explore.layers.LorettaRepLinear`
(or builds one from the settings): A's and B's tensor-train shapes and ranks, the scale
s = alpha / bottleneck, and the frozen starting copies A0, B0 of the compensated start
(docs/method.md#rep, #scale, #starts).
"""

from .blocks import BLOCKS, Node, block_diagram
from .rep import rep_diagram

__all__ = ["BLOCKS", "Node", "block_diagram", "rep_diagram"]
