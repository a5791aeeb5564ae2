"""nnabla-examples' two binarized ResNets, random with calibrated batch norm.

    python -m examples.resnets      # -> examples/models/mnist_resnet.nnp, cifar10_resnet23.nnp

``mnist_binary_net_resnet`` is ``mnist_binary_net_resnet_prediction`` of
image-classification/mnist-collection/classification_bnn.py, fed ``image / 255`` as its
``train()`` does; ``cifar10_binary_net_resnet23`` is ``cifar10_binary_net_resnet23_prediction``
of compression/cifar10/quantization/models.py (which divides by 255 itself). Both are the same
functions in the same order with the same parameter scopes, so the saved graphs are theirs.

As written, the CIFAR-10 model calls ``res_unit(h, "conv3", True)`` where the signature is
``res_unit(x, scope_name, rng, dn=False, test=False)``: the flag lands in ``rng``, so no unit
max-pools and every unit's batch norm keeps ``batch_stat=True`` at inference (``test`` stays
False). ``as_written=True`` recreates that graph exactly (finngen refuses its training-mode batch
norms, as nnabla's output then depends on the batch); the default passes ``dn`` and ``test`` as
the comments in the source intend (32 -> 16 -> 8 -> 4, then the 4x4 average).
"""
from functools import partial
from pathlib import Path

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import numpy as np

from .bnn_layers import BlockOptions
from .make_cnv import random_pixels
from .random_bnn import make_random_bnn

MODELS = Path(__file__).resolve().parent / "models"
MNIST_PATH, MNIST_SHAPE = MODELS / "mnist_resnet.nnp", (1, 28, 28)
CIFAR_PATH, CIFAR_SHAPE = MODELS / "cifar10_resnet23.nnp", (3, 32, 32)


def _bn(h, opts):
    return PF.batch_normalization(h, batch_stat=opts.batch_stat, decay_rate=opts.decay_rate)


def _conv(h, maps, kernel, pad, opts):
    return PF.binary_connect_convolution(h, maps, kernel, pad=pad, with_bias=False, rng=opts.rng,
                                         w_init=opts.w_init)


def residual_unit(x, scope, opts, skip_first):
    """1x1 (C/2) -> BN -> tanh -> 3x3 pad 1 (C/2) -> BN -> tanh -> 1x1 (C) -> BN, then
    ``binary_tanh(x + h)`` (MNIST) or ``binary_tanh(h + x)`` (CIFAR-10)."""
    c = x.shape[1]
    with nn.parameter_scope(scope):
        h = x
        for name, maps, kernel, pad in (("conv1", c / 2, (1, 1), (0, 0)), ("conv2", c / 2, (3, 3), (1, 1)),
                                        ("conv3", c, (1, 1), (0, 0))):
            with nn.parameter_scope(name):
                h = _bn(_conv(h, maps, kernel, pad, opts), opts)
                h = F.binary_tanh(h) if name != "conv3" else h
        return F.binary_tanh(x + h if skip_first else h + x)


def mnist_binary_net_resnet(x, opts):
    """28x28 digits: 3x3 conv pad 3 (64) -> 32x32, units with max pooling to 4x4, average 4x4,
    affine -> BN."""
    image = x / 255
    with nn.parameter_scope("conv1"):
        h = F.binary_tanh(_bn(_conv(image, 64, (3, 3), (3, 3), opts), opts))
    hidden = [("conv1", h)]
    for scope, pool in (("conv2", True), ("conv3", True), ("conv4", False), ("conv5", True), ("conv6", False)):
        h = residual_unit(h, scope, opts, skip_first=True)
        hidden.append((scope, h))
        h = F.max_pooling(h, (2, 2)) if pool else h
    h = F.average_pooling(h, (4, 4))
    with nn.parameter_scope("classifier"):
        y = _bn(PF.binary_connect_affine(h, 10, rng=opts.rng, w_init=opts.w_init), opts)
    return y, hidden


def cifar10_binary_net_resnet23(x, opts, maps=64, as_written=False):
    """32x32x3 images: 3x3 conv pad 1 -> seven units -> average 4x4 -> binary affine, no BN."""
    image = x / 255.0
    with nn.parameter_scope("conv1"):
        h = F.binary_tanh(_bn(_conv(image, maps, (3, 3), (1, 1), opts), opts))
    hidden = [("conv1", h)]
    unit_opts = BlockOptions(True, opts.rng, opts.w_init, opts.decay_rate) if as_written else opts
    for i, dn in enumerate((False, True, False, True, False, True, False)):
        scope = f"conv{i + 2}"
        h = residual_unit(h, scope, unit_opts, skip_first=False)
        hidden.append((scope, h))
        if dn and not as_written:
            h = F.max_pooling(h, kernel=(2, 2), stride=(2, 2))
    h = F.average_pooling(h, kernel=(4, 4))
    return PF.binary_connect_affine(h, 10, rng=opts.rng, w_init=opts.w_init), hidden


def small_resnet(x, opts):
    """One unit of the same shape in small, for RTL simulation: 8-bit 2x8x8 input, a 3x3 pad 1
    convolution (8) -> BN -> tanh, the unit, 2x2 max pooling, an affine (10) -> BN."""
    with nn.parameter_scope("conv1"):
        h = F.binary_tanh(_bn(_conv(x, 8, (3, 3), (1, 1), opts), opts))
    unit = residual_unit(h, "res", opts, skip_first=True)
    with nn.parameter_scope("classifier"):
        y = _bn(PF.binary_connect_affine(F.max_pooling(unit, (2, 2)), 10, rng=opts.rng, w_init=opts.w_init), opts)
    return y, [("conv1", h), ("res", unit)]


SMALL_SHAPE = (2, 8, 8)


def make(which, path, seed=0):
    """Build, calibrate and save one of the two networks ("mnist" or "cifar10")."""
    if which == "mnist":
        make_random_bnn(mnist_binary_net_resnet, "mnist_resnet", path, MNIST_SHAPE, random_pixels, seed)
    else:
        make_random_bnn(cifar10_binary_net_resnet23, "cifar10_resnet23", path, CIFAR_SHAPE, random_pixels, seed)


def sample_images(shape, count, seed=1):
    """Seeded random 8-bit images as float32, the inputs the test compares on."""
    return random_pixels(np.random.RandomState(seed), (count,) + shape)


if __name__ == "__main__":
    make("mnist", MNIST_PATH)
    make("cifar10", CIFAR_PATH)
    make_random_bnn(partial(cifar10_binary_net_resnet23, as_written=True), "cifar10_resnet23",
                    MODELS / "cifar10_resnet23_as_written.nnp", CIFAR_SHAPE, random_pixels)
