"""Random CNV-W1A1 (BNN-PYNQ's CIFAR-10 network) -> examples/models/cnv_w1a1.nnp.

    python -m examples.make_cnv
"""
from pathlib import Path

import numpy as np

from .bnn_layers import conv_block, fc_block, max_pool
from .random_bnn import make_random_bnn

MODEL_PATH = Path(__file__).resolve().parent / "models" / "cnv_w1a1.nnp"
INPUT_SHAPE = (3, 32, 32)
# (channels, pool after this conv): 32 -> 30, 28, pool 14, 12, 10, pool 5, 3, 1.
CONVS = ((64, False), (64, True), (128, False), (128, True), (256, False), (256, False))


def cnv(x, opts):
    """8-bit unsigned pixels; unpadded 3x3 convolutions; pools follow binary_tanh."""
    h, hidden = x, []
    for i, (channels, pool) in enumerate(CONVS):
        h = conv_block(h, channels, f"conv{i}", opts)
        hidden.append((f"conv{i}", h))
        h = max_pool(h) if pool else h
    for i in range(2):
        h = fc_block(h, 512, f"fc{i}", opts)
        hidden.append((f"fc{i}", h))
    return fc_block(h, 10, "fc2", opts, tanh=False), hidden


def random_pixels(rng, shape):
    """Uniform integers 0..255, as float32: the full 8-bit input range."""
    return rng.randint(0, 256, size=shape).astype(np.float32)


if __name__ == "__main__":
    make_random_bnn(cnv, "cnv_w1a1", MODEL_PATH, INPUT_SHAPE, random_pixels)
