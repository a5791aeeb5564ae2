"""The golden model's fast path (BLAS products of +-1 floats, in blocks) against a plain
integer computation of what the IR says, on seeded random layers."""
import numpy as np
import pytest

from finngen import golden, ir
from finngen.sim.layers import matrix_layer, pool_layer, random_stream

INT16 = ir.DataType(16, signed=True)
# seed, input (H, W, C), output channels, kernel, stride, pad, input type, last layer
CASES = [
    (1, (7, 7, 3), 5, 3, 1, 1, ir.DataType(8), False),
    (2, (9, 6, 1), 4, 5, 2, 2, ir.DataType(4, signed=True), False),
    (3, (6, 6, 7), 9, 3, 2, 0, ir.BIPOLAR, False),
    (4, (5, 5, 13), 3, 3, 1, 2, ir.BIPOLAR, True),
    (5, (8, 8, 3), 11, 1, 2, 0, ir.BIPOLAR, False),
    (6, (4, 3, 5), 6, 2, 1, 1, ir.DataType(1), False),
    (7, (1, 1, 77), 13, 1, 1, 0, ir.BIPOLAR, False),
    (8, (1, 1, 33), 10, 1, 1, 0, ir.DataType(3, signed=True), True),
    # sums beyond 2**24, which float32 cannot hold exactly
    (9, (4, 4, 129), 7, 3, 1, 1, INT16, True),
    (10, (1, 1, 1500), 5, 1, 1, 0, INT16, False),
]


def reference_sums(layer, x):
    """sum over the taps inside the image of w * x, in int64, one kernel tap at a time."""
    values = np.where(x != 0, 1, -1) if layer.in_type.bipolar else x.astype(np.int64)
    k, c = layer.kernel, layer.in_shape.channels
    signs = np.where(layer.weights, 1, -1).reshape(layer.out_channels, k, k, c)
    out = layer.out_shape
    s = np.zeros((len(x), out.height, out.width, out.channels), np.int64)
    for oy in range(out.height):
        for ox in range(out.width):
            for ky in range(k):
                for kx in range(k):
                    iy, ix = oy * layer.stride + ky - layer.pad, ox * layer.stride + kx - layer.pad
                    if 0 <= iy < layer.in_shape.height and 0 <= ix < layer.in_shape.width:
                        s[:, oy, ox] += values[:, iy, ix] @ signs[:, ky, kx].T
    return s


@pytest.mark.parametrize("seed,shape,channels,kernel,stride,pad,in_type,last", CASES,
                         ids=[f"seed{case[0]}" for case in CASES])
def test_fast_path_equals_plain_integer_sums(seed, shape, channels, kernel, stride, pad, in_type, last):
    layer = matrix_layer(seed, shape, channels, kernel=kernel, stride=stride, pad=pad, in_type=in_type, last=last)
    x = random_stream(seed, layer.in_shape, in_type, 6)
    if in_type == INT16:    # neuron 0 adds up values near the top, so that its sums pass 2**24
        layer.weights[0] = True
        x = in_type.max - x % 3
    s = reference_sums(layer, x)
    assert np.array_equal(golden.accumulate(layer, x), s)
    got = golden.forward_layer(layer, x)
    if last:
        assert got.dtype == np.int64 and np.array_equal(got, s)
    else:
        expected = (s >= layer.threshold) != layer.invert
        assert got.dtype == np.uint8 and np.array_equal(got, expected)
        assert 0 < got.mean() < 1, "a layer whose outputs never change checks little"
    if in_type == INT16:
        assert np.abs(s).max() > 1 << 24


def test_blocks_change_nothing(monkeypatch):
    """A network in many small blocks gives what it gives in one, for any number of images."""
    rng = np.random.default_rng(0)
    conv = matrix_layer(20, (6, 6, 3), 8, kernel=3, pad=1, in_type=ir.DataType(8))
    pool = pool_layer((6, 6, 8), 2)
    fc = matrix_layer(21, (1, 1, 72), 10, last=True)
    network = ir.Network("n", ir.InputSpec("x", (3, 6, 6), ir.DataType(8)), [conv, pool, fc])
    x = random_stream(rng, conv.in_shape, conv.in_type, 37)
    whole = golden.forward(network, x)
    expected = reference_sums(fc, golden.forward_layer(pool, golden.forward_layer(conv, x)).reshape(37, 1, 1, 72))
    assert np.array_equal(whole, expected)
    per_image = golden.BLOCK_BYTES // golden.block_images(network)
    monkeypatch.setattr(golden, "BLOCK_BYTES", 5 * per_image)
    assert golden.block_images(network) == 5
    assert np.array_equal(golden.forward(network, x), whole)
    assert np.array_equal(golden.forward(network, x[:1]), whole[:1])


def test_pool_is_or_of_bits_and_max_of_integers():
    x = random_stream(3, ir.Shape(5, 7, 3), ir.BIPOLAR, 4)
    got = golden.forward_layer(pool_layer((5, 7, 3), 2), x)
    expected = x[:, :4, :6].reshape(4, 2, 2, 3, 2, 3).any(axis=(2, 4))
    assert got.dtype == np.uint8 and np.array_equal(got, expected)
    int4 = ir.DataType(4, signed=True)
    x = -np.abs(random_stream(4, ir.Shape(7, 6, 2), int4, 3))     # mostly negative, so some maxima are
    got = golden.forward_layer(pool_layer((7, 6, 2), 3, int4), x)
    expected = x[:, :6].reshape(3, 2, 3, 2, 3, 2).max(axis=(2, 4))
    assert got.dtype == np.int64 and np.array_equal(got, expected) and got.min() < 0
