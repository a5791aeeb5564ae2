"""The layer blocks every example network is made of, and seeding.

All networks here are BinaryConnect: the stored weights W are float32, and nnabla uses
sign(W) in the forward pass. Each hidden block is affine/conv -> batch norm -> BinaryTanh,
which the compiler folds into an integer threshold; the last block stops after batch norm
so the network outputs float scores.
"""
from dataclasses import dataclass
from typing import Any, Optional

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import numpy as np


def seed_all(seed):
    """Seed numpy and nnabla, and return the RandomState used to initialise parameters.

    Passing this rng to the PF layers makes the initial weights independent of how many
    random numbers anything else has drawn, so reruns write identical files.
    """
    np.random.seed(seed)
    if hasattr(nn, "random") and hasattr(nn.random, "seed"):
        nn.random.seed(seed)
    return np.random.RandomState(seed)


@dataclass(frozen=True)
class BlockOptions:
    """How to build the blocks of one graph.

    batch_stat: True while training or calibrating (batch norm uses the batch's own
        statistics and updates the running ones), False for the inference graph that is
        saved: a graph built again with the same names shares the same parameters.
    rng, w_init: only used when a parameter is first created (None: nnabla's defaults).
    decay_rate: batch norm's running-statistics decay; 0.0 makes the running mean/var
        exactly the statistics of the last batch (used to calibrate random networks).
    """
    batch_stat: bool
    rng: Optional[np.random.RandomState] = None
    w_init: Any = None
    decay_rate: float = 0.9


def _bn_tanh(h, opts, tanh):
    h = PF.batch_normalization(h, batch_stat=opts.batch_stat, decay_rate=opts.decay_rate)
    return F.binary_tanh(h) if tanh else h


def fc_block(x, n_out, name, opts, tanh=True):
    """binary_connect_affine -> batch norm [-> binary_tanh]; flattens x from axis 1."""
    with nn.parameter_scope(name):
        h = PF.binary_connect_affine(x, n_out, base_axis=1, rng=opts.rng, w_init=opts.w_init)
        return _bn_tanh(h, opts, tanh)


def conv_block(x, channels, name, opts, pad=None):
    """3x3 binary_connect_convolution (zero padding ``pad``) -> batch norm -> binary_tanh."""
    with nn.parameter_scope(name):
        h = PF.binary_connect_convolution(x, channels, (3, 3), pad=pad,
                                          rng=opts.rng, w_init=opts.w_init)
        return _bn_tanh(h, opts, tanh=True)


def max_pool(x):
    """2x2 max pooling; on +/-1 activations this is a bitwise OR."""
    return F.max_pooling(x, (2, 2))
