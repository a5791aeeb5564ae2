"""The golden model: an exact integer implementation of the layer IR, the reference for all hardware.

Streams are numpy arrays (N, H, W, C) in the IR's stream order, holding bits (1 = +1) for
bipolar data and integers otherwise.

Inside, a layer's input is a float array of its bits (1.0 or 0.0) or integers, and its sums
come from one BLAS matrix product of the input windows with the weights. That is exact, not
approximate: every term and every partial sum is an integer no larger than ``2 * fan_in *
max|x|``, and a float holds every integer up to 2**24 (float32) or 2**53 (float64);
:func:`_exact_dtype` picks float32 when the layer's bound allows it. On bits b the +-1 sum
is ``s = sum w (2b - 1) = g - c`` with ``g = sum 2w b`` the product and ``c = sum w`` over the
taps inside the image, a constant per output pixel: so a layer's output bit is ``g >= t + c``
and needs no conversion to +-1. Padding taps are zeros in the padded input and outside ``c``,
so they contribute 0 as the IR says. Measured against XNOR-popcount on packed words in numpy,
the product runs CNV about seven times faster (docs/benchmarks.md).
"""
import functools

import numpy as np

from . import ir

# The largest temporary (a block of images' input windows) stays near this many bytes, so
# memory is bounded however many images a run has. Blocks that stay in the cache are faster:
# measured, the digits CNN runs 1.7 times faster at 2 MiB than at 64 MiB; CNV is the same.
BLOCK_BYTES = 1 << 21


def forward(network: ir.Network, x):
    """Run every layer on an input stream; return the last layer's output stream."""
    x = np.asarray(x)
    step = block_images(network)
    return np.concatenate(list(forward_blocks(network, (x[i:i + step] for i in range(0, max(len(x), 1), step)))))


def forward_blocks(network: ir.Network, blocks):
    """The last layer's output stream for each input stream of ``blocks`` (an iterable), the
    layers prepared once for all; blocks of :func:`block_images` images keep memory bounded."""
    layers = [_compile(layer) for layer in network.layers]
    for x in blocks:
        values = _encode(network.layers[0], x)
        for layer in layers:
            values = layer(values)
        yield _decode(network.last, values)


def block_images(network: ir.Network) -> int:
    """Images per block of :func:`forward`, so that its temporaries stay near :data:`BLOCK_BYTES`."""
    per_image = max(_bytes_per_image(layer) for layer in network.layers)
    return max(1, BLOCK_BYTES // per_image)


def forward_layer(layer, x):
    """One layer on a stream (N, H, W, C) of its input type; returns its output stream."""
    return _decode(layer, _compile(layer)(_encode(layer, x)))


def accumulate(layer: ir.MatrixLayer, x):
    """The integer sums s, (N, H', W', MH), of a matrix layer."""
    return _compile(layer, sums=True)(_encode(layer, x)).astype(np.int64)


def max_pool(x, k):
    """Max pooling with kernel == stride on (N, H, W, C), dropping what does not fill a window;
    on bits, the OR. One maximum per tap of strided views: faster than a reduction over two axes."""
    n, h, w, c = x.shape
    rows = x[:, :h // k * k].reshape(n, h // k, k, w, c)
    rows = functools.reduce(np.maximum, (rows[:, :, i] for i in range(k)))
    cols = rows[:, :, :w // k * k].reshape(n, h // k, w // k, k, c)
    return functools.reduce(np.maximum, (cols[:, :, :, i] for i in range(k)))


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
    k, s, (ph, pw) = layer.kernel, layer.stride, layer.pads
    padded = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    view = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(1, 2))[:, ::s, ::s]
    # sliding_window_view puts the window axes last: (N, H', W', C, ky, kx)
    vectors = view.transpose(0, 1, 2, 4, 5, 3).reshape(view.shape[:3] + (-1,))
    inside = np.pad(np.ones(layer.in_shape.pixels, bool).reshape(layer.in_shape.height, layer.in_shape.width),
                    ((ph, ph), (pw, pw)))
    valid = np.lib.stride_tricks.sliding_window_view(inside, (k, k))[::s, ::s]
    valid = np.repeat(valid[..., None], layer.in_shape.channels, axis=-1).reshape(valid.shape[:2] + (-1,))
    return vectors, valid


def _encode(layer, stream):
    """A stream of ``layer``'s input type as float values (N, H, W, C): bits or integers."""
    stream = np.asarray(stream)
    values = stream != 0 if layer.in_type.bipolar else stream
    return values.astype(_exact_dtype(layer)).reshape((-1,) + _hwc(layer.in_shape))


def _decode(layer, values):
    """Float values back to ``layer``'s output stream: bits, or int64 sums."""
    if layer.out_type.bipolar:
        return (values > 0).astype(np.uint8)
    return values.astype(np.int64)


def _compile(layer, sums=False):
    """The layer as a function from input values (N, H, W, C) to output values (bits, or the
    sums if ``sums`` or it is the last layer), with its weights and thresholds prepared once
    for all blocks."""
    shape = _hwc(layer.in_shape)
    if isinstance(layer, ir.Residual):
        return _residual(layer)
    if isinstance(layer, ir.PoolLayer):
        return lambda values: max_pool(values.reshape((-1,) + shape), layer.kernel)
    if isinstance(layer, ir.SumPoolLayer):
        return lambda values: sum_pool(layer, values.reshape((-1,) + shape))
    dtype = _exact_dtype(layer)
    out = layer.out_shape
    if sums or layer.threshold is None:
        flip, threshold = np.ones(layer.out_channels), np.zeros(layer.out_channels)
    else:
        # inverted channels fire below the threshold: s < t is -s >= 1 - t on integers
        flip = np.where(layer.invert, -1, 1)
        threshold = np.where(layer.invert, 1 - layer.threshold, layer.threshold)
    weights = np.where(layer.weights, 1, -1).T * flip     # (fan_in, MH), in {-1, +1}
    if layer.in_type.bipolar:
        _, valid = windows(layer, np.zeros((1,) + shape, bool))
        offset = valid.reshape(out.pixels, -1).astype(float) @ weights     # c per output pixel and channel
        weights = 2 * weights
    else:
        offset = np.zeros((1, layer.out_channels))
    weights = weights.astype(dtype)
    # as (pixels, MH) or (1, MH) tables, broadcast over the images
    offset, level = offset.astype(dtype), (threshold + offset).astype(dtype)

    def run(values):
        g = _product(layer, values.reshape((-1,) + shape), weights).reshape(-1, len(offset), out.channels)
        if sums or layer.threshold is None:
            return (g - offset).reshape((-1,) + _hwc(out))
        return np.greater_equal(g, level, out=np.empty(g.shape, dtype)).reshape((-1,) + _hwc(out))
    return run


def _residual(unit: ir.Residual):
    """The branch on the fork's bits, then the join: each channel's threshold and inversion
    picked by the skip bit."""
    branch = [_compile(layer) for layer in unit.branch[:-1]]
    join = unit.join
    shape = _hwc(join.shape)

    def run(values):
        skip = values.reshape((-1,) + shape) > 0
        for layer in branch:
            values = layer(values)
        sums = values.reshape((-1,) + shape)
        fires = sums >= np.where(skip, join.threshold[1], join.threshold[0])
        return (fires != np.where(skip, join.invert[1], join.invert[0])).astype(sums.dtype)
    return run


def _hwc(shape: ir.Shape):
    # a fully connected layer takes the HWC-ordered stream as one 1 x 1 x N pixel
    return (shape.height, shape.width, shape.channels)


def _product(layer, values, weights):
    """The windows of every output pixel times ``weights``: (N * H' * W', MH)."""
    columns = _im2col(layer, values.astype(weights.dtype, copy=False)).reshape(-1, layer.fan_in)
    return columns @ weights


def _im2col(layer, values):
    """The windows of every output pixel, (N, H', W', k, k, C): padding taps are 0."""
    k, s, (ph, pw) = layer.kernel, layer.stride, layer.pads
    n, c = len(values), layer.in_shape.channels
    out = layer.out_shape
    if k == 1 and s == 1 and not layer.has_padding:
        return values
    if layer.has_padding:
        values = np.pad(values, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    columns = np.empty((n, out.height, out.width, k, k, c), values.dtype)
    for ky in range(k):
        for kx in range(k):
            columns[:, :, :, ky, kx] = values[:, ky:ky + s * out.height:s, kx:kx + s * out.width:s]
    return columns


def _exact_dtype(layer):
    """float32 when every partial sum of the layer (and its thresholds and offsets, up to one
    more) stays below 2**24, float64 otherwise."""
    largest = 2 if layer.in_type.bipolar else max(-layer.in_type.min, layer.in_type.max)
    fan_in = layer.fan_in if isinstance(layer, ir.MatrixLayer) else 1
    return np.float32 if fan_in * largest < 1 << 24 else np.float64


def _bytes_per_image(layer):
    if isinstance(layer, ir.Residual):
        return max(_bytes_per_image(inner) for inner in layer.branch[:-1])
    if isinstance(layer, (ir.PoolLayer, ir.SumPoolLayer)):
        return layer.in_shape.size * 8
    itemsize = np.dtype(_exact_dtype(layer)).itemsize
    return (layer.out_shape.pixels * (layer.fan_in + layer.out_channels) + layer.in_shape.size) * itemsize
