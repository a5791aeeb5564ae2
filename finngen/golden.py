"""The golden model: an exact integer implementation of the layer IR, the reference for all hardware.

Streams are numpy arrays (N, H, W, C) in the IR's stream order, holding bits (1 = +1) for
bipolar data and integers otherwise.

Inside, a layer's input is a float array of the values themselves (a bit is +1.0 or -1.0) and
its integer sums come from one BLAS matrix product of the input windows with the +-1 weights.
That is exact, not approximate: every term and every partial sum is an integer no larger than
``fan_in * max|x|``, and a float holds every integer up to 2**24 (float32) or 2**53 (float64);
:func:`_exact_dtype` picks float32 when the layer's bound allows it. Padding taps are zeros in
the padded input, so they contribute 0 as the IR says. Measured against XNOR-popcount on packed
words in numpy, the product is about ten times faster (docs/benchmarks.md).
"""
import numpy as np

from . import ir

# The largest temporary (a block of images' input windows) stays near this many bytes, so
# memory is bounded however many images a run has; 64 MiB keeps BLAS at full speed.
BLOCK_BYTES = 1 << 26


def forward(network: ir.Network, x):
    """Run every layer on an input stream; return the last layer's output stream."""
    x = np.asarray(x)
    step = block_images(network)
    layers = [_compile(layer) for layer in network.layers]
    blocks = []
    for i in range(0, max(len(x), 1), step):
        values = _encode(network.layers[0], x[i:i + step])
        for layer in layers:
            values = layer(values)
        blocks.append(_decode(network.last, values))
    return np.concatenate(blocks)


def block_images(network: ir.Network) -> int:
    """Images per block of :func:`forward`, so that its temporaries stay near :data:`BLOCK_BYTES`."""
    per_image = max(_bytes_per_image(layer) for layer in network.layers)
    return max(1, BLOCK_BYTES // per_image)


def forward_layer(layer, x):
    """One layer on a stream (N, H, W, C) of its input type; returns its output stream."""
    return _decode(layer, _compile(layer)(_encode(layer, x)))


def accumulate(layer: ir.MatrixLayer, x):
    """The integer sums s, (N, H', W', MH), of a matrix layer."""
    dtype = _exact_dtype(layer)
    return _sums(layer, _encode(layer, x), _signs(layer, dtype)).astype(np.int64)


def max_pool(x, k):
    n, h, w, c = x.shape
    h, w = h // k, w // k
    return x[:, :h * k, :w * k].reshape(n, h, k, w, k, c).max(axis=(2, 4))


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


def _encode(layer, stream):
    """A stream of ``layer``'s input type as float values (N, H, W, C); bits become +-1."""
    stream = np.asarray(stream)
    dtype = _exact_dtype(layer)
    values = _plus_minus(stream != 0, dtype) if layer.in_type.bipolar else stream.astype(dtype)
    return values.reshape((-1,) + _hwc(layer.in_shape))


def _decode(layer, values):
    """Float values back to ``layer``'s output stream: bits, or int64 sums."""
    if layer.out_type.bipolar:
        return (values > 0).astype(np.uint8)
    return values.astype(np.int64)


def _compile(layer):
    """The layer as a function from input values (N, H, W, C) to output values (+-1, or the
    sums), with its weights and thresholds converted once for all blocks."""
    shape = _hwc(layer.in_shape)
    if isinstance(layer, ir.PoolLayer):
        # on +-1, the max is the OR of the bits
        return lambda values: max_pool(values.reshape((-1,) + shape), layer.kernel)
    dtype = _exact_dtype(layer)
    signs = _signs(layer, dtype)
    if layer.threshold is None:
        return lambda values: _sums(layer, values.reshape((-1,) + shape), signs)
    # inverted channels fire below the threshold: s < t is -s >= 1 - t on integers
    flip = np.where(layer.invert, -1, 1)
    signs = signs * flip.astype(dtype)
    threshold = np.where(layer.invert, 1 - layer.threshold, layer.threshold).astype(dtype)
    return lambda values: _plus_minus(_sums(layer, values.reshape((-1,) + shape), signs) >= threshold, dtype)


def _hwc(shape: ir.Shape):
    # a fully connected layer takes the HWC-ordered stream as one 1 x 1 x N pixel
    return (shape.height, shape.width, shape.channels)


def _plus_minus(bits, dtype):
    """+1.0 where ``bits`` is True, -1.0 elsewhere (np.where with scalars is 30 times slower)."""
    values = bits.astype(dtype)
    values *= 2
    values -= 1
    return values


def _sums(layer, values, signs):
    """The sums as floats (N, H', W', MH), exact: see the module docstring."""
    values = values.astype(signs.dtype, copy=False)
    out = layer.out_shape
    columns = _im2col(layer, values).reshape(-1, layer.fan_in)
    return (columns @ signs).reshape((len(values),) + _hwc(out))


def _im2col(layer, values):
    """The windows of every output pixel, (N, H', W', k, k, C): padding taps are 0."""
    k, s, p = layer.kernel, layer.stride, layer.pad
    n, c = len(values), layer.in_shape.channels
    out = layer.out_shape
    if k == 1 and s == 1 and p == 0:
        return values
    if p:
        values = np.pad(values, ((0, 0), (p, p), (p, p), (0, 0)))
    columns = np.empty((n, out.height, out.width, k, k, c), values.dtype)
    for ky in range(k):
        for kx in range(k):
            columns[:, :, :, ky, kx] = values[:, ky:ky + s * out.height:s, kx:kx + s * out.width:s]
    return columns


def _signs(layer, dtype):
    """The weights as a +-1 matrix (fan_in, MH) of ``dtype``."""
    return np.ascontiguousarray(_plus_minus(layer.weights, dtype).T)


def _exact_dtype(layer):
    """float32 when every partial sum of the layer (and its thresholds, up to one more) stays
    below 2**24, float64 otherwise."""
    largest = max(-layer.in_type.min, layer.in_type.max)
    fan_in = layer.fan_in if isinstance(layer, ir.MatrixLayer) else 1
    return np.float32 if fan_in * largest < 1 << 24 else np.float64


def _bytes_per_image(layer):
    if isinstance(layer, ir.PoolLayer):
        return layer.in_shape.size * 8
    itemsize = np.dtype(_exact_dtype(layer)).itemsize
    return (layer.out_shape.pixels * (layer.fan_in + layer.out_channels) + layer.in_shape.size) * itemsize
