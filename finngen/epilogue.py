"""nnabla's float32 arithmetic after a binarized layer's integer sum, reproduced step by step.

Hidden layers never run this in hardware: streamlining evaluates it to find integer thresholds.
The last layer runs it on the host, so that the scores equal nnabla's output bit for bit.
The arithmetic itself lives in :func:`finngen.codec.epilogue`, which the board driver carries.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import codec


@dataclass(eq=False)
class BatchNorm:
    """Inference-mode batch normalization: ``((x - mean) * gamma) / sqrt(var + eps) + beta``."""
    mean: np.ndarray
    var: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    eps: np.float32



@dataclass(eq=False)
class Epilogue:
    """``y = BN(alpha * s + bias)`` in float32, each part optional, per output channel.

    ``alpha`` is BinaryWeight's per-channel scale (nnabla folds it into a float GEMM, so its
    outputs can differ from ``alpha * s`` in the last bits; BinaryConnect layers have none).
    """
    alpha: np.ndarray | None = None
    bias: np.ndarray | None = None
    bn: BatchNorm | None = None

    def arrays(self) -> dict:
        """The parameters as :func:`finngen.codec.epilogue` takes them (float32, absent parts left out)."""
        parts = {"alpha": self.alpha, "bias": self.bias}
        if self.bn is not None:
            parts.update(bn_mean=self.bn.mean, bn_var=self.bn.var, bn_gamma=self.bn.gamma, bn_beta=self.bn.beta,
                         bn_eps=self.bn.eps)
        return {k: np.asarray(v, np.float32) for k, v in parts.items() if v is not None}

    def __call__(self, s):
        """Apply to integer sums ``s`` whose last axis is the output channel."""
        return codec.epilogue(self.arrays(), s)
