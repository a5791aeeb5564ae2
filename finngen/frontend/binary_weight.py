"""BinaryWeight layers as nnabla computes them: its alpha, and the channels whose sign it leaves to rounding.

nnabla computes a BinaryWeight layer as a float32 GEMM of x with ``alpha * sign(W)``
(``binary_weight_affine.cpp``, ``binary_weight_convolution.cpp``): alpha is Eigen's row sum of
``|W|`` (SSE, in nnabla's weight order) times the float32 reciprocal of the fan-in. Where the
exact pre-activation is 0 at a reachable integer sum, the GEMM's rounding residue (about 1e-7,
either sign) decides the output bit, which no integer threshold can follow: those are *ties*.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

# Eigen's packet of float32 under SSE, and the 16-byte alignment nnabla's buffers start at.
_LANES = 4


def nnabla_alpha(rows) -> np.ndarray:
    """alpha per output channel from ``rows`` (out, fan_in): W in nnabla's own order, row i
    holding output channel i's weights as nnabla's ``scaled_weights_`` buffer lays them out."""
    a = np.abs(np.asarray(rows, np.float32))
    n = a.shape[1]
    sums = np.empty(a.shape[0], np.float32)
    for start in range(_LANES):
        # Eigen sums the unaligned head of a row last: where a row starts depends on i * n.
        rows_here = np.flatnonzero((-(np.arange(a.shape[0]) * n)) % _LANES == start)
        if rows_here.size:
            sums[rows_here] = _eigen_row_sums(a[rows_here], min(start, n))
    return sums * (np.float32(1) / np.float32(n))


def _eigen_row_sums(a, start):
    """Eigen 3's ``redux`` with linear vectorized traversal over each row of ``a``: two packet
    accumulators over the aligned part, a horizontal add, then the head and the tail in order."""
    n = a.shape[1]
    size = (n - start) // _LANES * _LANES
    size2 = (n - start) // (2 * _LANES) * (2 * _LANES)
    if not size:
        res = a[:, 0].copy()
        for i in range(1, n):
            res += a[:, i]
        return res
    p0 = a[:, start:start + _LANES].copy()
    if size > _LANES:
        p1 = a[:, start + _LANES:start + 2 * _LANES].copy()
        for i in range(start + 2 * _LANES, start + size2, 2 * _LANES):
            p0 += a[:, i:i + _LANES]
            p1 += a[:, i + _LANES:i + 2 * _LANES]
        p0 += p1
        if size > size2:
            p0 += a[:, start + size2:start + size2 + _LANES]
    res = (p0[:, 0] + p0[:, 2]) + (p0[:, 1] + p0[:, 3])
    for i in list(range(start)) + list(range(start + size, n)):
        res += a[:, i]
    return res


def tie_sums(epilogue, lo, hi, parity=None) -> dict:
    """The channels of a hidden BinaryWeight layer whose step sits exactly on a reachable sum.

    Returns ``{channel: s}``: at the integer sum ``s`` the exact pre-activation
    ``BN(alpha * s + b)`` is 0, so nnabla's output bit there follows its GEMM's rounding. The step
    point is exact only where it is rational: without batch norm (``alpha * s + b == 0``) or with
    ``beta == 0`` and ``gamma != 0`` (``alpha * s + b == mean``). ``parity`` (0 or 1), if given, is
    that of every reachable sum (bipolar inputs without padding).
    """
    alpha, bias, bn = epilogue.alpha, epilogue.bias, epilogue.bn
    ties = {}
    for c in range(len(alpha)):
        if bn is None:
            target = Fraction(0)
        elif bn.beta[c] == 0 and bn.gamma[c] != 0:
            target = Fraction(float(bn.mean[c]))
        else:
            continue
        if alpha[c] == 0:
            continue
        s = (target - Fraction(float(bias[c]) if bias is not None else 0)) / Fraction(float(alpha[c]))
        if s.denominator == 1 and lo[c] <= s <= hi[c] and (parity is None or int(s) % 2 == parity):
            ties[c] = int(s)
    return ties


def tie_warnings(network) -> list:
    """One line per hidden layer with ties, naming the layer and the word 'tie'."""
    lines = []
    for layer in network.matrix_layers:
        if layer.ties:
            channels = sorted(layer.ties)
            shown = ", ".join(map(str, channels[:8])) + (", ..." if len(channels) > 8 else "")
            lines.append(f"warning: {layer.op} {layer.name!r}: {len(channels)} of {layer.out_channels} channels "
                         f"can sit on an exact tie (channels {shown}): where their integer sum makes the exact "
                         "pre-activation 0, nnabla's float GEMM rounding decides the bit and finngen's may "
                         "differ (retrain with BinaryConnect, or give the channel a bias or beta off the tie)")
    return lines


def tie_hits(network, stream) -> np.ndarray:
    """Per frame of the input ``stream``, how many hidden activations sat exactly on a tie."""
    from .. import golden, ir
    hits = np.zeros(len(stream), np.int64)
    x = stream
    for layer in network.layers:
        if isinstance(layer, ir.MatrixLayer) and layer.ties:
            shape = layer.in_shape
            s = golden.accumulate(layer, np.asarray(x).reshape(-1, shape.height, shape.width, shape.channels))
            for c, tie in layer.ties.items():
                hits += (s[..., c] == tie).reshape(len(stream), -1).sum(axis=1)
        x = golden.forward_layer(layer, x)
    return hits


def tie_line(network, stream, scores, nnabla) -> str | None:
    """``finngen verify``'s account of the outputs that differ from nnabla because of ties
    (None for a network without ties)."""
    if not any(layer.ties for layer in network.matrix_layers):
        return None
    hits = tie_hits(network, stream)
    differ = (np.asarray(scores).view(np.uint32) != np.asarray(nnabla).view(np.uint32)).reshape(len(stream), -1)
    on_tie = differ[hits > 0].sum()
    return (f"BinaryWeight ties: {hits.sum()} activations sat exactly on a tie in {np.count_nonzero(hits)} of "
            f"{len(stream)} frames; {on_tie} of the {differ.sum()} outputs that differ from nnabla are in those frames")
