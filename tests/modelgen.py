"""Seeded random binarized nnabla models that exercise every corner of the semantics.

Each model is built with nnabla's parametric functions, its parameters overwritten with values
chosen to hit the hard cases (negative and zero gamma, exact ties, W == 0, odd channel counts),
saved as a real .nnp file and run by nnabla itself for the expected output.
"""
from dataclasses import dataclass

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import numpy as np

from examples.nnp_files import forward_saved
from examples.nnp_io import save_nnp


@dataclass
class Options:
    conv: bool = True
    binary_weight: bool = False
    binarize_input: bool = False
    pool_input: bool = False        # MaxPooling on the raw input, before its BinaryTanh
    input_bits: int = 8
    input_signed: bool = False
    parameter_format: str = ".h5"
    ties: bool = False              # BinaryWeight: batch norms whose step sits on an exact tie
    output_function: str | None = None   # "softmax" or "sigmoid" after the last layer
    binary_sigmoid: bool = False    # hidden activations are BinarySigmoid ({0, 1}) or BinaryTanh at random
    pool_before_bn: bool = False    # conv -> MaxPooling -> BatchNormalization (NNC's order) at random
    input_scale: float | None = None    # x * input_scale (MulScalar) before the first layer, e.g. 1 / 255
    wide_pad: bool = False          # convolution padding up to k - 1 instead of k // 2
    big_pad: bool = False           # convolution padding k to k + 2: windows wholly in the padding
    axis_pad: bool = False          # convolution padding per axis: columns padded 0 to k + 1, unlike the rows
    average: bool = False           # AveragePooling before the activation or of the activations, at random
    residual: bool = False          # residual units binary_tanh(x + h) (either order) after the convolutions


def build(rng, opts: Options):
    """Build a random graph in the global parameter scope; return (x, y)."""
    nn.clear_parameters()

    def activation(h):
        return F.binary_sigmoid(h) if opts.binary_sigmoid and rng.integers(2) else F.binary_tanh(h)
    affine = PF.binary_weight_affine if opts.binary_weight else PF.binary_connect_affine
    conv = PF.binary_weight_convolution if opts.binary_weight else PF.binary_connect_convolution
    if opts.conv:
        shape = (int(rng.integers(1, 4)), int(rng.integers(5, 10)), int(rng.integers(5, 10)))
    else:
        shape = (int(rng.integers(5, 40)),)
    x = nn.Variable((1,) + shape)
    h = x * opts.input_scale if opts.input_scale is not None else x
    h = F.max_pooling(h, (2, 2)) if opts.pool_input else h
    h = F.binary_tanh(h) if opts.binarize_input else h
    n = 0
    if opts.conv:
        for i in range(int(rng.integers(1, 3))):
            k = int(rng.choice([1, 2, 3, 5]))
            pad = int(rng.integers(0, (k if opts.wide_pad else k // 2 + 1)))
            pad = int(rng.integers(k, k + 3)) if opts.big_pad else pad
            pads = (pad, int(rng.integers(0, k + 2))) if opts.axis_pad else (pad, pad)
            stride = int(rng.choice([1, 2]))
            if min(n + 2 * p for n, p in zip(h.shape[2:], pads)) < k:
                k, pads = 1, (0, 0)
            h = conv(h, int(rng.choice([3, 5, 7, 8])), (k, k), pad=pads, stride=(stride, stride),
                     with_bias=bool(rng.integers(2)), name=f"conv{i}")
            averaged = opts.average and min(h.shape[2:]) >= 2 and int(rng.integers(4))
            if averaged == 1:
                h = F.average_pooling(h, (2, 2))
            pooled = opts.pool_before_bn and min(h.shape[2:]) >= 2 and rng.integers(2)
            if pooled:
                h = F.max_pooling(h, (2, 2))
            h = PF.batch_normalization(h, batch_stat=False, name=f"bn{i}")
            if averaged == 2:
                h = F.average_pooling(h, (2, 2))
            pool_first = not (pooled or averaged) and rng.integers(3) == 0 and min(h.shape[2:]) >= 2
            if pool_first:
                h = F.max_pooling(h, (2, 2))
            h = activation(h)
            if averaged == 3:   # of the activations: global when the map is square
                h = F.average_pooling(h, h.shape[2:] if h.shape[2] == h.shape[3] else (2, 2))
            elif not (pool_first or pooled or averaged) and rng.integers(2) and min(h.shape[2:]) >= 2:
                h = F.max_pooling(h, (2, 2))
            n += 1
        for i in range(int(rng.integers(1, 3)) if opts.residual else 0):
            h = residual_unit(rng, h, conv, f"res{i}")
            if rng.integers(2) and min(h.shape[2:]) >= 2:
                h = F.max_pooling(h, (2, 2))
    for i in range(int(rng.integers(0, 2))):
        h = affine(h, int(rng.choice([5, 9, 13])), name=f"fc{i}")
        h = PF.batch_normalization(h, batch_stat=False, name=f"fcbn{i}")
        h = activation(h)
    h = affine(h, int(rng.integers(2, 11)), with_bias=bool(rng.integers(2)), name="last")
    if rng.integers(3):
        h = PF.batch_normalization(h, batch_stat=False, name="lastbn")
    if opts.output_function:
        h = getattr(F, opts.output_function)(h)
    _randomize(rng, opts)
    return x, h


def residual_unit(rng, x, conv, name):
    """nnabla-examples' unit: 1x1 -> BN -> tanh -> 3x3 pad 1 -> BN -> tanh -> 1x1 -> BN, joined
    as binary_tanh(x + h) or binary_tanh(h + x), with random widths and biases."""
    c = x.shape[1]
    h = x
    for i, (k, out) in enumerate(((1, int(rng.integers(1, 6))), (3, int(rng.integers(1, 6))), (1, c))):
        h = conv(h, out, (k, k), pad=(k // 2, k // 2), with_bias=bool(rng.integers(2)), name=f"{name}conv{i}")
        h = PF.batch_normalization(h, batch_stat=False, name=f"{name}bn{i}")
        h = F.binary_tanh(h) if i < 2 else h
    return F.binary_tanh(x + h if rng.integers(2) else h + x)


def _randomize(rng, opts):
    """Overwrite parameters with values that hit the hard cases of nnabla's arithmetic."""
    for name, p in nn.get_parameters(grad_only=False).items():
        shape = p.shape
        if name.endswith("/W"):
            w = rng.normal(size=shape).astype(np.float32)
            w[rng.random(shape) < 0.1] = 0.0
            w[rng.random(shape) < 0.05] = -0.0
            p.d = w
        elif name.endswith("/b"):
            b = rng.normal(scale=2.0, size=shape).astype(np.float32)
            b[rng.random(shape) < 0.4] = 0.0
            p.d = b
        elif name.endswith("/mean"):
            m = rng.normal(scale=2.0, size=shape)
            # Exact ties (integer mean, zero bias and beta) are reproducible only for BinaryConnect:
            # BinaryWeight's float GEMM leaves rounding noise where the integer sum is exact.
            # (and averaging, where nnabla's float mean of batch-norm outputs decides a tie)
            ties = rng.random(shape) < (0.0 if opts.binary_weight or opts.average else 0.4)
            m = np.where(ties, np.round(m), m)
            if opts.ties:
                # mean == bias == 0 with beta == 0: a zero sum sits on the step
                m[rng.random(shape) < 0.5] = 0.0
            p.d = m.astype(np.float32)
        elif name.endswith("/var"):
            p.d = rng.uniform(0.1, 30.0, size=shape).astype(np.float32)
        elif name.endswith("/gamma"):
            g = rng.normal(size=shape).astype(np.float32)
            g[rng.random(shape) < 0.1] = 0.0
            p.d = g
        elif name.endswith("/beta"):
            b = rng.normal(scale=0.5, size=shape).astype(np.float32)
            b[rng.random(shape) < 0.5] = 0.0
            p.d = b
        if name.startswith("res") and "bn2/" in name:
            _join_batch_norm(rng, name, p)


def _join_batch_norm(rng, name, p):
    """The batch norm before a residual join: wide enough that x + BN(s) changes sign for both
    skip values, and beta = +-1 with integer means, where x + BN(s) is exactly 0 at s = mean."""
    if name.endswith("/gamma"):
        p.d = (p.d * 4).astype(np.float32)
    elif name.endswith("/beta"):
        p.d = np.where(rng.random(p.shape) < 0.5, rng.choice([-1.0, 1.0], p.shape), p.d).astype(np.float32)


def _input_range(opts):
    if opts.input_signed:
        return -(1 << (opts.input_bits - 1)), (1 << (opts.input_bits - 1)) - 1
    return 0, (1 << opts.input_bits) - 1


def inputs(rng, x_shape, opts, count=64):
    """Random inputs in the model's input range (with exact zeros and -0.0 for binarized ones)."""
    shape = (count,) + tuple(x_shape[1:])
    if opts.binarize_input:
        x = rng.normal(size=shape).astype(np.float32)
        x[rng.random(shape) < 0.2] = 0.0
        x[rng.random(shape) < 0.1] = -0.0
        return x
    lo, hi = _input_range(opts)
    return rng.integers(lo, hi + 1, size=shape).astype(np.float32)


def make(seed, path, opts: Options, count=64):
    """Build and save a random model; return (input images, nnabla's output for them)."""
    rng = np.random.default_rng(seed)
    x, y = build(rng, opts)
    save_nnp(path, "random", x, y, parameter_format=opts.parameter_format)
    images = inputs(rng, x.shape, opts, count)
    return images, forward_saved(path, "random", images)
