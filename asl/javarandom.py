"""The first draws of ``new java.util.Random(seed)``.

AWS runs Step Functions on the JVM; its seeded random functions are read as this generator
(a 48-bit linear congruential one, Java's documented algorithm): JSONata's ``$random(seed)``
is its first ``nextDouble()`` (unverified), and a seeded ``States.MathRandom(start, end, seed)``
is ``start + nextInt(end - start)`` (one value observed on AWS, see asl.intrinsics).
"""
from __future__ import annotations

_MULTIPLIER = 0x5DEECE66D
_MASK = (1 << 48) - 1


class JavaRandom:
    """``java.util.Random`` seeded with `seed` (a Java long: Python's ints wrap the same way
    under the mask)."""

    __slots__ = ("_state",)

    def __init__(self, seed: int):
        self._state = (seed ^ _MULTIPLIER) & _MASK

    def next(self, bits: int) -> int:
        """``next(bits)``: the top `bits` of the 48-bit state after one step."""
        self._state = (self._state * _MULTIPLIER + 0xB) & _MASK
        return self._state >> (48 - bits)

    def next_int(self, bound: int) -> int:
        """``nextInt(bound)``, 0 <= n < bound (bound below 2**31)."""
        if bound & -bound == bound:                  # a power of two: the high bits
            return (bound * self.next(31)) >> 31
        while True:                                  # reject the values that would bias the modulo
            bits = self.next(31)
            value = bits % bound
            if bits - value + bound - 1 < 2**31:
                return value

    def next_double(self) -> float:
        """``nextDouble()``, 0 <= n < 1, 53 random bits."""
        return ((self.next(26) << 27) + self.next(27)) * 2.0 ** -53
