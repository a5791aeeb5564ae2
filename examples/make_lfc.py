"""Random LFC-W1A1 (BNN-PYNQ's 784-1024-1024-1024-10) -> examples/models/lfc_w1a1.nnp.

    python -m examples.make_lfc
"""
from pathlib import Path

import nnabla.functions as F
import numpy as np

from .bnn_layers import fc_block
from .random_bnn import make_random_bnn

MODEL_PATH = Path(__file__).resolve().parent / "models" / "lfc_w1a1.nnp"
INPUT_SHAPE = (1, 28, 28)


def lfc(x, opts):
    """Binarized MNIST: the input goes straight through BinaryTanh (1-bit input)."""
    h = F.binary_tanh(x)
    hidden = []
    for i in range(3):
        h = fc_block(h, 1024, f"fc{i}", opts)
        hidden.append((f"fc{i}", h))
    return fc_block(h, 10, "fc3", opts, tanh=False), hidden


def random_pixels(rng, shape):
    """Random +/-1 pixels, i.e. what a binarized image looks like after the input tanh."""
    return rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=shape)


if __name__ == "__main__":
    make_random_bnn(lfc, "lfc_w1a1", MODEL_PATH, INPUT_SHAPE, random_pixels)
