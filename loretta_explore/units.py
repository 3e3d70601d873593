"""Numbers as people read them: parameter counts, bytes, ratios, and the paper's printed figures.

One place for every formatter and parser of counts, so a table, a plot and a widget print the
same number the same way ("4.19M", "107.81 GB", "0.121x").
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

__all__ = ["compare_figure", "format_ratio", "human_bytes", "human_count", "parse_figure"]

_UNITS = {"K": 10**3, "M": 10**6, "B": 10**9}


def human_count(n: float) -> str:
    """12 -> "12", 54_068 -> "54.1K", 4_194_304 -> "4.19M": three significant digits."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


def human_bytes(n: float) -> str:
    """Bytes with a decimal unit and two decimals: 107_814_600_000 -> "107.81 GB"."""
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def format_ratio(ratio: float | None) -> str:
    """A ratio to a baseline: "1,234x", "12.3x", "0.121x"; "" for None."""
    if ratio is None:
        return ""
    if ratio >= 100:
        return f"{ratio:,.0f}x"
    return f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.3g}x"


def parse_figure(printed: str) -> Decimal:
    """A figure as the paper prints it ("0.51M", "139.19M") as an exact number of parameters."""
    text = str(printed).strip()
    if not text or text[-1].upper() not in _UNITS:
        raise ValueError(
            f"a printed figure looks like '0.51M' (a number and K, M or B), got {printed!r}"
        )
    try:
        return Decimal(text[:-1]) * _UNITS[text[-1].upper()]
    except ArithmeticError:
        raise ValueError(f"a printed figure looks like '0.51M', got {printed!r}") from None


def compare_figure(count: int, printed: str) -> str:
    """Does `count` give the printed figure (like "0.51M") at the printed precision?

    Returns "match" when rounding gives it, "truncated" when only cutting off digits gives it
    (the paper truncates some counts), "differs" otherwise.

    >>> compare_figure(876_800, "0.88M"), compare_figure(99_034, "0.09M"), compare_figure(614_400, "0.60M")
    ('match', 'truncated', 'differs')
    """
    text = str(printed).strip()
    figure = parse_figure(text) / _UNITS[text[-1].upper()]
    exact = Decimal(count) / _UNITS[text[-1].upper()]
    step = Decimal(1).scaleb(Decimal(text[:-1]).as_tuple().exponent)
    if exact.quantize(step, rounding=ROUND_HALF_UP) == figure:
        return "match"
    if exact.quantize(step, rounding=ROUND_DOWN) == figure:
        return "truncated"
    return "differs"
