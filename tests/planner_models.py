"""Small .nnp models for the planner's regressions (issues 10.2, 11.2 and 11.3).

Each is a random binarized network with calibrated batch norm (examples/random_bnn.py), saved
as a real .nnp file; ``MODELS[name] = (network, input shape (C, H, W), input bits)``.
"""
import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import numpy as np

from examples.bnn_layers import conv_block, fc_block
from examples.random_bnn import make_random_bnn


def _pool_then_1x1(x, opts):
    """16x32x32 4-bit input -> 2x2 max pooling -> 1x1 convolution (the scores)."""
    with nn.parameter_scope("conv0"):
        h = PF.binary_connect_convolution(F.max_pooling(x, (2, 2)), 8, (1, 1), rng=opts.rng, w_init=opts.w_init)
        h = PF.batch_normalization(h, batch_stat=opts.batch_stat, decay_rate=opts.decay_rate)
    return h, [("conv0", h)]


def _affine_144(x, opts):
    """A 1x12x12 8-bit image straight into a 144 -> 2 affine layer."""
    h = fc_block(x, 2, "fc0", opts, tanh=False)
    return h, [("fc0", h)]


def _conv3_on_1x1_hidden(x, opts):
    """3x3 on 3x3 leaves a 1x1 map; a padded 3x3 convolution on it; then the scores."""
    c0 = conv_block(x, 8, "conv0", opts)
    c1 = conv_block(c0, 8, "conv1", opts, pad=(1, 1))
    return fc_block(c1, 4, "fc0", opts, tanh=False), [("conv0", c0), ("conv1", c1)]


def _conv3_on_1x1_first(x, opts):
    """A padded 3x3 convolution on a 1x1 image."""
    c0 = conv_block(x, 8, "conv0", opts, pad=(1, 1))
    return fc_block(c0, 4, "fc0", opts, tanh=False), [("conv0", c0)]


MODELS = {
    "pool_then_1x1": (_pool_then_1x1, (16, 32, 32), 4),
    "affine_144": (_affine_144, (1, 12, 12), 8),
    "conv3_on_1x1_hidden": (_conv3_on_1x1_hidden, (4, 3, 3), 8),
    "conv3_on_1x1_first": (_conv3_on_1x1_first, (8, 1, 1), 8),
}


def make(name, directory):
    """Save model ``name`` under ``directory``; return its path."""
    network, shape, bits = MODELS[name]
    path = directory / f"{name}.nnp"

    def sample(rng, size):
        return rng.randint(0, 1 << bits, size).astype(np.float32)

    make_random_bnn(network, name, path, shape, sample, seed=len(name))
    return path
