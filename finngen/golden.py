"""The golden model: an exact integer implementation of the layer IR, the reference for all hardware.

Streams are numpy arrays (N, H, W, C) in the IR's stream order, holding bits (1 = +1) for
bipolar data and integers otherwise. Binary layers compute XNOR-popcount on bit-packed words,
as the hardware does; padding taps are masked out, so they contribute 0.
"""
import numpy as np

from . import ir

# Memory per block of the XNOR-popcount: bounds the (pixels, neurons, words) temporaries.
_BLOCK_ELEMENTS = 1 << 22


def forward(network: ir.Network, x):
    """Run every layer on an input stream; return the last layer's output stream."""
    for layer in network.layers:
        x = forward_layer(layer, x)
    return x


def forward_layer(layer, x):
    """One layer on a stream (N, H, W, C) of its input type; returns its output stream."""
    shape = layer.in_shape
    # a fully connected layer takes the HWC-ordered stream as one 1 x 1 x N pixel
    x = np.asarray(x).reshape(-1, shape.height, shape.width, shape.channels)
    if isinstance(layer, ir.PoolLayer):
        return max_pool(x, layer.kernel)
    if isinstance(layer, ir.SumPoolLayer):
        return sum_pool(layer, x)
    s = accumulate(layer, x)
    if layer.threshold is None:
        return s
    return ((s >= layer.threshold) != layer.invert).astype(np.uint8)


def max_pool(x, k):
    n, h, w, c = x.shape
    h, w = h // k, w // k
    return x[:, :h * k, :w * k].reshape(n, h, k, w, k, c).max(axis=(2, 4))


def sum_pool(layer: ir.SumPoolLayer, x):
    """Window sums of the values (a bipolar bit is +-1), thresholded when the layer has thresholds."""
    values = 2 * x.astype(np.int64) - 1 if layer.in_type.bipolar else x.astype(np.int64)
    n, h, w, c = values.shape
    k = layer.kernel
    h, w = h // k, w // k
    sums = values[:, :h * k, :w * k].reshape(n, h, k, w, k, c).sum(axis=(2, 4))
    if layer.threshold is None:
        return sums
    return ((sums >= layer.threshold) != layer.invert).astype(np.uint8)


def windows(layer: ir.MatrixLayer, x):
    """The input vectors of every output pixel, (N, H', W', k*k*C) in (ky, kx, c) order, and the
    valid-tap mask (H', W', k*k*C) that is False on padding."""
    k, s, p = layer.kernel, layer.stride, layer.pad
    padded = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    view = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(1, 2))[:, ::s, ::s]
    # sliding_window_view puts the window axes last: (N, H', W', C, ky, kx)
    vectors = view.transpose(0, 1, 2, 4, 5, 3).reshape(view.shape[:3] + (-1,))
    inside = np.pad(np.ones(layer.in_shape.pixels, bool).reshape(layer.in_shape.height, layer.in_shape.width),
                    p)
    valid = np.lib.stride_tricks.sliding_window_view(inside, (k, k))[::s, ::s]
    valid = np.repeat(valid[..., None], layer.in_shape.channels, axis=-1).reshape(valid.shape[:2] + (-1,))
    return vectors, valid


def accumulate(layer: ir.MatrixLayer, x):
    """The integer sums s, (N, H', W', MH), of a matrix layer."""
    vectors, valid = windows(layer, x)
    n, h, w, fan_in = vectors.shape
    if not layer.in_type.bipolar:
        signs = np.where(layer.weights, 1, -1).astype(np.int64)
        return (vectors.reshape(-1, fan_in).astype(np.int64) @ signs.T).reshape(n, h, w, -1)
    a = _pack(vectors.reshape(-1, fan_in).astype(bool))
    m = np.broadcast_to(_pack(valid.reshape(-1, fan_in))[None], (n,) + (h * w, a.shape[-1])).reshape(a.shape)
    wp = _pack(layer.weights)
    n_valid = valid.reshape(h * w, fan_in).sum(axis=1)
    n_valid = np.broadcast_to(n_valid[None], (n, h * w)).reshape(-1)
    block = max(1, _BLOCK_ELEMENTS // max(1, wp.shape[0] * wp.shape[1]))
    s = np.empty((a.shape[0], wp.shape[0]), np.int64)
    for i in range(0, a.shape[0], block):
        agree = ~(a[i:i + block, None, :] ^ wp[None]) & m[i:i + block, None, :]
        s[i:i + block] = 2 * _popcount(agree).sum(axis=-1) - n_valid[i:i + block, None]
    return s.reshape(n, h, w, -1)


def _pack(bits):
    """Pack the last axis into little-endian uint64 words (zero-filled at the end)."""
    packed = np.packbits(bits, axis=-1, bitorder="little")
    pad = (-packed.shape[-1]) % 8
    packed = np.pad(packed, [(0, 0)] * (packed.ndim - 1) + [(0, pad)])
    return np.ascontiguousarray(packed).view(np.uint64)


def _popcount(v):
    """Bits set in each uint64 (numpy 1.26 has no bitwise_count)."""
    v = v - ((v >> np.uint64(1)) & np.uint64(0x5555555555555555))
    v = (v & np.uint64(0x3333333333333333)) + ((v >> np.uint64(2)) & np.uint64(0x3333333333333333))
    v = (v + (v >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((v * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)
