"""Seeded random input frames over a network's whole input range: what ``finngen build`` and
``verify`` simulate, the self-test stores in ROM and ``deploy`` sends to the board."""
from __future__ import annotations

import numpy as np

from . import ir


def random_frames(network: ir.Network, count: int, seed: int = 0) -> np.ndarray:
    """``count`` seeded random input streams, shaped (count, H, W, C)."""
    t = network.input.stream_type
    shape = network.input.stream_shape
    rng = np.random.default_rng(seed)
    return rng.integers(0 if t.bipolar else t.min, 2 if t.bipolar else t.max + 1,
                        (count, shape.height, shape.width, shape.channels))
