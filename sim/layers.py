"""Seeded random IR layers and input streams for the hardware testbenches."""
import numpy as np

from finngen import golden, ir
from finngen.epilogue import Epilogue


def matrix_layer(seed, in_shape, out_channels, *, kernel=1, stride=1, pad=0,
                 in_type=ir.BIPOLAR, last=False, name="layer"):
    """A conv (or, on a 1x1 input with kernel 1, FC) layer with random weights and thresholds.

    Thresholds mix values drawn from the sums of a random probe input (so outputs flip) with
    the extremes ``acc_min`` (constant +1) and ``acc_max + 1`` (constant -1); ``invert`` is random.
    ``pad``: on all sides, or (rows, columns) as nnabla's per-axis padding.
    """
    rng = np.random.default_rng(seed)
    h, w, c = in_shape
    ph, pw = (pad, pad) if isinstance(pad, int) else pad
    out_h, out_w = (ir.conv_output_size(n, kernel, stride, p) for n, p in ((h, ph), (w, pw)))
    fan_in = kernel * kernel * c
    weights = rng.random((out_channels, fan_in)) < 0.5
    lo, hi = ir.sum_range(weights, in_type)
    layer = ir.MatrixLayer(
        name=name, op="BinaryConnectConvolution" if kernel > 1 or h * w > 1 else "BinaryConnectAffine",
        in_shape=ir.Shape(h, w, c), out_shape=ir.Shape(out_h, out_w, out_channels),
        kernel=kernel, stride=stride, pad=ph, pad_w=None if pw == ph else pw, in_type=in_type, weights=weights,
        epilogue=Epilogue(), acc_min=int(lo.min()), acc_max=int(hi.max()))
    if not last:
        probe = golden.accumulate(layer, random_stream(rng, layer.in_shape, in_type, 4))
        probe = probe.reshape(-1, out_channels)
        threshold = probe[rng.integers(0, len(probe), out_channels), np.arange(out_channels)]
        threshold = threshold + rng.integers(-1, 2, out_channels)
        extreme = rng.random(out_channels) < 0.2
        threshold[extreme] = rng.choice([layer.acc_min, layer.acc_max + 1], extreme.sum())
        layer.threshold = np.clip(threshold, layer.acc_min, layer.acc_max + 1).astype(np.int64)
        layer.invert = rng.random(out_channels) < 0.5
    return layer


def pool_layer(in_shape, kernel, in_type=ir.BIPOLAR, name="pool"):
    h, w, c = in_shape
    return ir.PoolLayer(name, ir.Shape(h, w, c), ir.Shape(h // kernel, w // kernel, c), kernel, in_type)


def random_stream(rng, shape, dtype, frames):
    """``frames`` random feature maps (N, H, W, C) of ``dtype`` (bits for bipolar)."""
    if isinstance(rng, int):
        rng = np.random.default_rng(rng)
    lo, hi = (0, 1) if dtype.bipolar else (dtype.min, dtype.max)
    return rng.integers(lo, hi + 1, (frames, shape.height, shape.width, shape.channels))


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def random_config(seed, conv=True):
    """A random legal (layer, PE, SIMD): shape, kernel, stride, padding, input type, last-layer
    mode and folding all drawn from ``seed``. SIMD divides the fan-in (a convolution's
    ``k * k * C``)."""
    rng = np.random.default_rng(seed)
    in_type = [ir.BIPOLAR, ir.BIPOLAR, ir.DataType(int(rng.integers(2, 9)), signed=bool(rng.integers(2)))][
        rng.integers(3)]
    last = bool(rng.random() < 0.3)
    out_channels = int(rng.integers(1, 9))
    if conv:
        kernel = int(rng.integers(1, 5))
        pad = int(rng.integers(0, kernel))
        stride = int(rng.integers(1, 3))
        h, w = (int(rng.integers(max(1, kernel - 2 * pad), 7)) for _ in range(2))
        channels = int(rng.integers(1, 5))
        layer = matrix_layer(seed, (h, w, channels), out_channels, kernel=kernel, stride=stride,
                             pad=pad, in_type=in_type, last=last, name=f"conv{seed}")
    else:
        layer = matrix_layer(seed, (1, 1, int(rng.integers(1, 40))), out_channels,
                             in_type=in_type, last=last, name=f"fc{seed}")
    return layer, int(rng.choice(divisors(out_channels))), int(rng.choice(divisors(layer.fan_in)))
