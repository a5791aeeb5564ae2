"""Integer thresholds reproduce nnabla's float32 BatchNormalization + BinaryTanh for every sum."""
import nnabla as nn
import nnabla.functions as F
import numpy as np

from finngen.epilogue import BatchNorm, Epilogue
from finngen.frontend.thresholds import integer_thresholds


def _nnabla_bits(s, bias, bn):
    """nnabla's own BinaryTanh(BN(s + b)) for sums s (R, C), as booleans."""
    x = nn.Variable.from_numpy_array(s.astype(np.float32) + bias)
    params = [nn.Variable.from_numpy_array(p.reshape(1, -1)) for p in (bn.beta, bn.gamma, bn.mean, bn.var)]
    y = F.binary_tanh(F.batch_normalization(x, *params, batch_stat=False, eps=float(bn.eps)))
    y.forward()
    return y.d > 0


def test_thresholds_near_integers_match_nnabla_everywhere():
    # Channels whose real-valued threshold sits within 3e-6 of an integer: where the textbook
    # formula misses by one. Also negative gamma, gamma == 0 and exact ties.
    rng = np.random.default_rng(0)
    c, n = 20000, 60
    gamma = rng.uniform(0.2, 3.0, c).astype(np.float32) * rng.choice([-1, 1], c).astype(np.float32)
    gamma[:200] = 0.0
    var = rng.uniform(0.01, 50.0, c).astype(np.float32)
    beta = rng.normal(size=c).astype(np.float32)
    beta[200:2200] = 0.0
    eps = np.float32(1e-5)
    target = rng.integers(-n, n, c) + rng.uniform(-3e-6, 3e-6, c)
    std = np.sqrt(var.astype(np.float64) + np.float64(eps))
    mean = (target + beta.astype(np.float64) * std / np.where(gamma == 0, 1, gamma)).astype(np.float32)
    mean[200:2200] = np.round(mean[200:2200])   # ties: BN gives exactly 0 at s == mean
    bias = np.zeros(c, np.float32)
    bn = BatchNorm(mean, var, gamma, beta, eps)
    lo, hi = np.full(c, -n), np.full(c, n)
    threshold, invert = integer_thresholds(Epilogue(bias=bias, bn=bn), lo, hi)
    s = np.arange(-n, n + 1)[:, None]
    ours = (s >= threshold) != invert
    expected = _nnabla_bits(np.broadcast_to(s, (2 * n + 1, c)), bias, bn)
    wrong = np.argwhere(ours != expected)
    assert wrong.size == 0, f"{len(np.unique(wrong[:, 1]))} channels differ, e.g. channel {wrong[0][1]}"


def test_tie_at_zero_gives_minus_one():
    # mean = 3, beta = 0: BN(3) == 0 and BinaryTanh(0) == -1, so the rule is s >= 4
    bn = BatchNorm(*(np.array([v], np.float32) for v in (3.0, 1.0, 1.0, 0.0)), np.float32(1e-5))
    threshold, invert = integer_thresholds(Epilogue(bn=bn), np.array([-10]), np.array([10]))
    assert (threshold[0], invert[0]) == (4, False)


def test_negative_gamma_inverts_and_constant_channels_never_switch():
    def one(mean, gamma, beta):
        bn = BatchNorm(*(np.array([v], np.float32) for v in (mean, 1.0, gamma, beta)), np.float32(1e-5))
        t, inv = integer_thresholds(Epilogue(bn=bn), np.array([-8]), np.array([8]))
        return int(t[0]), bool(inv[0])
    assert one(2.5, -1.0, 0.0) == (3, True)       # +1 for s <= 2
    assert one(0.0, 0.0, 0.5) == (9, True)        # gamma == 0, beta > 0: always +1
    assert one(0.0, 0.0, -0.5) == (9, False)      # always -1
    assert one(100.0, 1.0, 0.0) == (9, False)     # threshold beyond the reachable range
