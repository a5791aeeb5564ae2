"""nnabla's float32 arithmetic after a binarized layer's integer sum, reproduced step by step.

Hidden layers never run this in hardware: streamlining evaluates it to find integer thresholds.
The last layer runs it on the host, so that the scores equal nnabla's output bit for bit.
Every step is a single float32 operation in nnabla's order; numpy rounds each one the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)
class BatchNorm:
    """Inference-mode batch normalization: ``((x - mean) * gamma) / sqrt(var + eps) + beta``."""
    mean: np.ndarray
    var: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    eps: np.float32

    def __call__(self, x):
        std = np.sqrt(self.var + self.eps)
        return ((x - self.mean) * self.gamma) / std + self.beta


@dataclass(eq=False)
class Epilogue:
    """``y = BN(alpha * s + bias)`` in float32, each part optional, per output channel.

    ``alpha`` is BinaryWeight's per-channel scale (nnabla folds it into a float GEMM, so its
    outputs can differ from ``alpha * s`` in the last bits; BinaryConnect layers have none).
    """
    alpha: np.ndarray | None = None
    bias: np.ndarray | None = None
    bn: BatchNorm | None = None

    def __call__(self, s):
        """Apply to integer sums ``s`` whose last axis is the output channel."""
        y = np.asarray(s).astype(np.float32)
        if self.alpha is not None:
            y = y * self.alpha
        if self.bias is not None:
            y = y + self.bias
        if self.bn is not None:
            y = self.bn(y)
        return y
