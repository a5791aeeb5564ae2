"""Random, untrained W1A1 networks with calibrated batch norm (for LFC and CNV).

Nothing is trained: the weights are seeded normal floats (only their signs matter), batch
norm's gamma and beta are random, and its running mean/var are *calibrated* on one batch of
seeded random inputs. Left at their initial mean 0, var 1, every folded threshold would sit
near 0 whatever the layer, and CNV's first layer, whose sums on 0..255 pixels are offset per
channel by 127.5 times the channel's sum of weight signs, would have about half its channels
(measured) more than 95% +1 or 95% -1. Calibrated, each channel's threshold sits near the
middle of its own integer range and activations are roughly half +1, half -1: a realistic
workload for the compiler's thresholds, with some negative gammas (flipped comparisons).
"""
import nnabla as nn
import nnabla.initializer as I
import numpy as np

from .bnn_layers import BlockOptions, seed_all
from .nnp_files import forward_saved, save_model

NEGATIVE_GAMMA_FRACTION = 0.25
CALIBRATION_BATCH = 128


def randomize_batch_norm(rng):
    """gamma = +/-U(0.5, 1.5) (a quarter negative), beta = N(0, 0.25), for every BN layer.

    |gamma| stays away from 0 and beta is small against the unit-variance normalised input,
    so no channel becomes (nearly) constant and each stays roughly balanced.
    """
    for name, param in nn.get_parameters(grad_only=False).items():
        shape = param.shape
        if name.endswith("/gamma"):
            sign = np.where(rng.uniform(size=shape) < NEGATIVE_GAMMA_FRACTION, -1.0, 1.0)
            param.d = (sign * rng.uniform(0.5, 1.5, size=shape)).astype(np.float32)
        elif name.endswith("/beta"):
            param.d = rng.normal(0.0, 0.25, size=shape).astype(np.float32)


def calibrate(network, input_shape, sample, rng):
    """Create the parameters and set BN running statistics to one random batch's own.

    With batch_stat=True and decay_rate=0.0 a forward pass overwrites each running mean/var
    with that batch's statistics. Layers are calibrated in one pass, each on the outputs of
    the already-calibrated layers before it, because gamma/beta are randomised first.
    """
    x = nn.Variable((CALIBRATION_BATCH,) + input_shape)
    opts = BlockOptions(batch_stat=True, rng=rng,
                        w_init=I.NormalInitializer(sigma=1.0, rng=rng), decay_rate=0.0)
    scores, _ = network(x, opts)  # creates every parameter
    randomize_batch_norm(rng)
    x.d = sample(rng, x.shape)
    scores.forward(clear_buffer=True)


def report_balance(network, input_shape, sample, rng):
    """Run the inference graph on a fresh random batch; print the fraction of +1 per layer."""
    x = nn.Variable((CALIBRATION_BATCH,) + input_shape)
    scores, hidden = network(x, BlockOptions(batch_stat=False))
    x.d = sample(rng, x.shape)
    scores.forward()  # keep the hidden buffers to inspect them
    fractions = [float(np.mean(h.d > 0)) for _, h in hidden]
    for (name, _), fraction in zip(hidden, fractions):
        print(f"  {name}: {fraction:.3f} of activations are +1")
    print(f"hidden activations +1 overall: {np.mean(fractions):.3f} (balanced is 0.5)")
    return x.d.copy(), scores.d.copy()


def make_random_bnn(network, network_name, path, input_shape, sample, seed=0):
    """Build, calibrate, save and check a random BNN.

    network(x, opts) -> (scores, [(layer name, hidden BinaryTanh output), ...]);
    sample(rng, shape) -> a float32 batch of valid inputs.
    """
    nn.clear_parameters()
    rng = seed_all(seed)
    calibrate(network, input_shape, sample, rng)
    x = nn.Variable((1,) + input_shape)  # stored with batch size -1
    save_model(path, network_name, x, network(x, BlockOptions(batch_stat=False))[0])
    print(f"saved {path} ({path.stat().st_size} bytes)")
    inputs, scores = report_balance(network, input_shape, sample, rng)
    loaded = forward_saved(path, network_name, inputs)
    print(f"loaded with NnpLoader: scores {loaded.shape}, "
          f"max |difference| from the in-memory graph {np.max(np.abs(loaded - scores))}")
