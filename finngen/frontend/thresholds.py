"""Integer thresholds that reproduce BinaryTanh(epilogue(s)) exactly for every reachable sum s.

nnabla computes ``BinaryTanh(BN(alpha * s + b))`` in float32. Every float32 step is monotone in
s, so the output is a step function of the integer s. Rather than solve the textbook formula
(which misses by one when a threshold sits near an integer), each channel's step is found by
evaluating nnabla's own float32 arithmetic, by bisection over the reachable range of s.
"""
import numpy as np


def integer_thresholds(epilogue, lo, hi):
    """Return ``(threshold, invert)`` such that for every integer ``lo[c] <= s <= hi[c]``::

        (s >= threshold[c]) != invert[c]   ==   epilogue(s)[c] > 0

    A channel whose output rises with s gets ``invert = False``; one whose output falls
    (negative gamma) gets ``invert = True``; a constant channel gets ``threshold = hi + 1``
    (never reached) with ``invert`` set to its constant value.
    """
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.asarray(hi, dtype=np.int64)

    def fires(s):
        return epilogue(s) > 0

    at_lo = fires(lo)
    changes = fires(hi) != at_lo
    # Bisection keeps fires(a) == at_lo and, where the channel changes, fires(b) != at_lo.
    a, b = lo.copy(), np.where(changes, hi, hi + 1)
    while np.any(changes & (b - a > 1)):
        mid = (a + b) // 2
        same = fires(mid) == at_lo
        a = np.where(changes & same, mid, a)
        b = np.where(changes & ~same, mid, b)
    return b, at_lo
