"""Integers for the shape search: integer-like arguments, prime factors, divisors, counts.

Why a module of its own: a tensor shape is a factorization of in*out, and the obvious ways to
find one (trial division up to n, every permutation of the modes) take minutes for a large
prime or a high order, inside C loops that ignore Ctrl-C. Everything here is polynomial in the
number of digits of n for n <= :data:`MAX_N` (Miller-Rabin and Pollard-Brent, not trial
division up to n) and runs as plain Python loops, so Ctrl-C always works.

Integer-like means what ``operator.index`` accepts: ``int``, ``numpy.int64``, a 0-d integer
numpy array or torch tensor. ``True``/``False`` are refused (they are ints to Python, but never
a size), and so are floats, even 8.0: a shape or a rank is a count.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import operator

__all__ = [
    "MAX_N",
    "SEARCH_BUDGET",
    "Divisors",
    "IntegerExpected",
    "as_float",
    "as_int",
    "count_ordered_factorizations",
    "count_prime_factors",
    "divisors",
    "is_integer_like",
    "least_factorization",
    "ordered_factorizations",
    "prime_factors",
    "sorted_factorizations",
]

#: The largest number the shape search factors: a weight has at most this many entries.
MAX_N = 2**64
#: The most steps one branch-and-bound search takes (it returns the best found by then).
SEARCH_BUDGET = 200_000


class IntegerExpected(TypeError, ValueError):
    """An argument that must be an integer was not one (a TypeError, and a ValueError for
    code that already catches ValueError for bad sizes)."""


def _is_bool(value) -> bool:
    return isinstance(value, bool) or str(getattr(value, "dtype", "")) in ("bool", "torch.bool")


def is_integer_like(value) -> bool:
    """True for int, numpy integers and 0-d integer arrays/tensors; False for bools and floats."""
    if _is_bool(value) or getattr(value, "ndim", 0) != 0:
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def as_int(value, name: str, example: str, minimum: int | None = 1) -> int:
    """`value` as a Python int, or an error that says what was wrong and shows `example`."""
    if _is_bool(value):
        raise IntegerExpected(
            f"{name} must be an integer, got {value!r}: True/False is not a size or a count "
            f"(Python treats it as 1/0, which is never what was meant). Example: {example}"
        )
    if getattr(value, "ndim", 0) != 0:
        raise IntegerExpected(
            f"{name} must be one integer, got an array of shape {tuple(value.shape)}. "
            f"Example: {example}"
        )
    try:
        number = operator.index(value)
    except TypeError:
        raise IntegerExpected(
            f"{name} must be an integer{'' if minimum is None else f' >= {minimum}'}, got "
            f"{value!r} ({type(value).__name__}). Example: {example}"
        ) from None
    if minimum is not None and number < minimum:
        raise ValueError(
            f"{name} must be an integer >= {minimum}, got {number}. Example: {example}"
        )
    return number


def as_float(value, name: str, example: str) -> float:
    """A real number (int, float, numpy scalar, 0-d tensor) as a finite float; bools refused."""
    if _is_bool(value) or getattr(value, "ndim", 0) != 0 or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a real number, got {value!r}. Example: {example}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a real number, got {value!r} ({type(value).__name__}). "
            f"Example: {example}"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}. Example: {example}")
    return number


# -- primes ---------------------------------------------------------------------------------
_SMALL_PRIMES = tuple(p for p in range(2, 1000) if all(p % q for q in range(2, math.isqrt(p) + 1)))
_WITNESSES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)  # exact for n < 3.3e24 > MAX_N


def _is_prime(n: int) -> bool:
    """Miller-Rabin with fixed witnesses: deterministic for every n <= MAX_N."""
    if n < 2:
        return False
    for p in _SMALL_PRIMES[:12]:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in _WITNESSES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _pollard_brent(n: int) -> int:
    """A non-trivial factor of an odd composite n (Brent's cycle finding; about n**(1/4) steps)."""
    for c in itertools.count(1):
        y, r, q, g, x, ys = 2, 1, 1, 1, 2, 2
        while g == 1:
            x = y
            for _ in range(r):
                y = (y * y + c) % n
            k = 0
            while k < r and g == 1:
                ys = y
                for _ in range(min(128, r - k)):
                    y = (y * y + c) % n
                    q = q * abs(x - y) % n
                g, k = math.gcd(q, n), k + 128
            r *= 2
        if g == n:  # the batch overshot: step back one at a time
            g = 1
            while g == 1:
                ys = (ys * ys + c) % n
                g = math.gcd(abs(x - ys), n)
        if g != n:
            return g
    raise AssertionError("unreachable")


@functools.lru_cache(maxsize=4096)
def _prime_factors(n: int) -> tuple[tuple[int, int], ...]:
    counts: dict[int, int] = {}
    for p in _SMALL_PRIMES:
        while n % p == 0:
            counts[p] = counts.get(p, 0) + 1
            n //= p
    pending = [n] if n > 1 else []
    while pending:  # what is left has no factor below 1000
        m = pending.pop()
        if _is_prime(m):
            counts[m] = counts.get(m, 0) + 1
        else:
            f = _pollard_brent(m)
            pending += [f, m // f]
    return tuple(sorted(counts.items()))


def prime_factors(n) -> dict[int, int]:
    """{prime: exponent} of 1 <= n <= MAX_N (1 gives {}), in increasing order of the primes."""
    n = as_int(n, "n", "prime_factors(768)")
    if n > MAX_N:
        raise ValueError(
            f"n = {n} is larger than 2**64, the most entries a weight can have; the shape search "
            "factors numbers up to 2**64. Example: prime_factors(768 * 64)"
        )
    return dict(_prime_factors(n))


def count_prime_factors(n) -> int:
    """Omega(n): prime factors with multiplicity; the most modes (>= 2 each) n can be split into."""
    return sum(prime_factors(n).values())


@functools.lru_cache(maxsize=4096)
def divisors(n: int) -> tuple[int, ...]:
    """Every divisor of n (1 and n included), ascending; built from the prime factors."""
    found = [1]
    for p, e in prime_factors(n).items():
        found = [d * p**k for d in found for k in range(e + 1)]
    return tuple(sorted(found))


def count_ordered_factorizations(n: int, order: int) -> int:
    """How many ordered tuples of `order` factors >= 2 multiply to n, without listing them.

    With factors >= 1 a prime power p**e spreads over `order` slots in C(e + order - 1, order - 1)
    ways; inclusion-exclusion over the slots forced to 1 removes the 1s.
    """
    exponents = list(prime_factors(n).values())

    def with_ones(slots: int) -> int:
        if slots == 0:
            return 1 if n == 1 else 0
        return math.prod(math.comb(e + slots - 1, slots - 1) for e in exponents)

    return sum((-1) ** j * math.comb(order, j) * with_ones(order - j) for j in range(order + 1))


# -- factorizations -------------------------------------------------------------------------
class Divisors:
    """Divisors and prime-factor counts of the divisors m of one number n, from n's primes.

    One instance per search: lists are built from exponent vectors (no trial division), only
    up to the bound asked for, and kept for the search's lifetime. ``work`` counts the numbers
    generated, so a search can bound its total time.
    """

    def __init__(self, n: int):
        self.primes = list(prime_factors(n))
        self.work = 0
        self._exponents: dict[int, tuple[int, ...]] = {}
        self._lists: dict[tuple[int, int], list[int]] = {}

    def exponents(self, m: int) -> tuple[int, ...]:
        if m not in self._exponents:
            out, rest = [], m
            for p in self.primes:
                e = 0
                while rest % p == 0:
                    rest, e = rest // p, e + 1
                out.append(e)
            self._exponents[m] = tuple(out)
        return self._exponents[m]

    def omega(self, m: int) -> int:
        """Prime factors of m with multiplicity: the most factors >= 2 it splits into."""
        return sum(self.exponents(m))

    def upto(self, m: int, limit: int) -> list[int]:
        """The divisors of m (which divides n) that are <= limit, ascending."""
        if (m, limit) not in self._lists:
            found = [1]
            for p, e in zip(self.primes, self.exponents(m)):
                grown = []
                for d in found:
                    for _ in range(e + 1):
                        if d > limit:
                            break
                        grown.append(d)
                        d *= p
                found = grown
            self.work += len(found)
            self._lists[m, limit] = sorted(found)
        return self._lists[m, limit]

    def of(self, m: int) -> list[int]:
        """All divisors of m, ascending."""
        return self.upto(m, m)

    def smallest_factors(self, m: int, j: int, low: int) -> list[int]:
        """Divisors k of m with low <= k and k**j <= m: candidates for the smallest of j
        non-decreasing factors of m, ascending."""
        ks = self.upto(m, _iroot(m, j))
        return ks[bisect.bisect_left(ks, max(low, 2)) :]


def _iroot(m: int, j: int) -> int:
    """floor(m ** (1 / j)), exact for big integers."""
    r = int(round(m ** (1 / j)))
    while r**j > m:
        r -= 1
    while (r + 1) ** j <= m:
        r += 1
    return r


def least_factorization(n: int, orders, key, bound) -> tuple[int, ...] | None:
    """The non-decreasing factorization of n into one of `orders` factors >= 2 with the least
    ``key(shape)`` (a tuple; include the shape in it so ties are broken the same way whatever
    order the search goes in), or None when n has no such factorization.

    Branch and bound, largest candidate factor first: ``bound(prefix, k, rest, j, d)`` is a lower
    bound on ``key(shape)[0]`` for every shape starting with prefix + (k,) whose j other factors
    (each >= k) multiply to rest, d the order. It must not decrease as k decreases, so the loop
    over smaller k stops at the first k whose bound exceeds the best key. At most SEARCH_BUDGET
    candidate factors are tried in all; past that the best found so far is returned.
    """
    div = Divisors(n)
    best: tuple | None = None
    steps = 0

    def search(m: int, j: int, low: int, prefix: tuple[int, ...], d: int) -> None:
        nonlocal best, steps
        for k in reversed(div.smallest_factors(m, j, low)):
            steps += 1
            if steps + div.work > SEARCH_BUDGET:
                raise _OutOfBudget
            rest = m // k
            if div.omega(rest) < j - 1:
                continue
            if best is not None and bound(prefix, k, rest, j - 1, d) > best[0][0] + 1e-9:
                break
            if j == 2:
                shape = (*prefix, k, rest)
                candidate = (key(shape), shape)
                if best is None or candidate[0] < best[0]:
                    best = candidate
            else:
                search(rest, j - 1, k, (*prefix, k), d)

    try:
        for d in orders:
            if d == 1 and n >= 2:
                candidate = (key((n,)), (n,))
                if best is None or candidate[0] < best[0]:
                    best = candidate
            elif 2 <= d <= div.omega(n):
                search(n, d, 2, (), d)
    except _OutOfBudget:
        pass
    return None if best is None else best[1]


class _OutOfBudget(Exception):
    pass


def ordered_factorizations(n: int, order: int):
    """Ordered factorizations of n into `order` factors >= 2, lexicographic, lazily.

    Only divisors of what is left are tried, and only those leaving enough prime factors for
    the other slots, so every branch ends in a result.
    """
    div = Divisors(n)

    def build(m: int, j: int):
        if j == 1:
            yield (m,)
            return
        for k in div.of(m):
            if k >= 2 and div.omega(m // k) >= j - 1:
                for rest in build(m // k, j - 1):
                    yield (k, *rest)

    if n >= 2 and order <= div.omega(n):
        yield from build(n, order)


def sorted_factorizations(n: int, order: int, smallest: int = 2):
    """Non-decreasing factorizations of n into `order` factors >= max(2, smallest) (each
    multiset once), lexicographic, lazily (``itertools.islice`` can take a few)."""
    if order == 1:
        if n >= smallest:
            yield (n,)
        return
    div = Divisors(n)

    def build(m: int, j: int, low: int):
        if j == 1:
            yield (m,)
            return
        for k in div.smallest_factors(m, j, low):
            if div.omega(m // k) >= j - 1:
                for rest in build(m // k, j - 1, k):
                    yield (k, *rest)

    if n >= 2 and order <= div.omega(n):
        yield from build(n, order, smallest)
