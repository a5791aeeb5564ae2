"""Train nnabla-examples' BinaryNet LeNet, as classification_bnn.py writes it, on digits upscaled
to 28x28; save examples/models/bnn_lenet.nnp.

    python examples/train_bnn_lenet.py

``mnist_binary_net_lenet_prediction`` of sony/nnabla-examples
(image-classification/mnist-collection/classification_bnn.py), fed ``image / 255`` as that
script feeds it (nnabla records the division as MulScalar):

    (-1,1,28,28) uint8 / 255 -> conv5x5/16 -> BN -> avgpool 2 -> BinaryTanh
                             -> conv5x5/16 -> BN -> avgpool 2 -> BinaryTanh
                             -> affine 50 -> BN -> BinaryTanh -> affine 10 -> BN
"""
from pathlib import Path

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF

from .bnn_training import TrainConfig, train_and_save
from .digits_data import load_split_28

MODEL_PATH = Path(__file__).resolve().parent / "models" / "bnn_lenet.nnp"
CONFIG = TrainConfig(seed=0, epochs=15, batch_size=64, lr=1e-2)


def lenet(image, opts):
    test = not opts.batch_stat
    h = image / 255
    for name in ("conv1", "conv2"):
        with nn.parameter_scope(name):
            h = PF.binary_connect_convolution(h, 16, (5, 5), rng=opts.rng)
            h = PF.batch_normalization(h, batch_stat=not test)
            h = F.binary_tanh(F.average_pooling(h, (2, 2)))
    with nn.parameter_scope("fc3"):
        h = PF.binary_connect_affine(h, 50, rng=opts.rng)
        h = F.binary_tanh(PF.batch_normalization(h, batch_stat=not test))
    with nn.parameter_scope("fc4"):
        h = PF.binary_connect_affine(h, 10, rng=opts.rng)
        return PF.batch_normalization(h, batch_stat=not test)


if __name__ == "__main__":
    train_and_save(lenet, "bnn_lenet", MODEL_PATH, CONFIG, data=load_split_28)
