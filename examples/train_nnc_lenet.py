"""Train Neural Network Console's binary LeNet on digits upscaled to 28x28; save
examples/models/nnc_lenet.nnp.

    python examples/train_nnc_lenet.py

The layer order is NNC's own (its "LeNet binary" sample), not finngen's favourite: each
convolution is followed by max pooling *before* its batch norm, the activations are
BinarySigmoid ({0, 1}), and the inference graph ends in Softmax:

    (-1,1,28,28) uint8 -> conv5x5/16 -> maxpool 2 -> BN -> BinarySigmoid
                       -> conv5x5/16 -> maxpool 2 -> BN -> BinarySigmoid
                       -> affine 50 -> BN -> BinarySigmoid -> affine 10 -> BN -> Softmax
"""
from pathlib import Path

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF

from .bnn_training import TrainConfig, train_and_save
from .digits_data import load_split_28

MODEL_PATH = Path(__file__).resolve().parent / "models" / "nnc_lenet.nnp"
CONFIG = TrainConfig(seed=0, epochs=15, batch_size=64, lr=1e-2)


def lenet(x, opts):
    """Training graph: the scores (softmax_cross_entropy applies the softmax); inference graph
    (``opts.batch_stat`` False): the probabilities, as NNC saves it."""
    def bn(h):
        return PF.batch_normalization(h, batch_stat=opts.batch_stat, decay_rate=opts.decay_rate)

    h = x
    for name in ("conv1", "conv2"):
        with nn.parameter_scope(name):
            h = PF.binary_connect_convolution(h, 16, (5, 5), rng=opts.rng)
            h = F.binary_sigmoid(bn(F.max_pooling(h, (2, 2))))
    with nn.parameter_scope("fc3"):
        h = F.binary_sigmoid(bn(PF.binary_connect_affine(h, 50, rng=opts.rng)))
    with nn.parameter_scope("fc4"):
        h = bn(PF.binary_connect_affine(h, 10, rng=opts.rng))
    return h if opts.batch_stat else F.softmax(h)


if __name__ == "__main__":
    train_and_save(lenet, "nnc_lenet", MODEL_PATH, CONFIG, data=load_split_28)
