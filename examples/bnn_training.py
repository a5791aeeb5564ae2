"""Training a small BNN on the digits split and saving its inference graph.

The two digits scripts differ only in the network and a few hyper-parameters; the loop,
the save and the final check against the saved file live here.
"""
import math
import time
from dataclasses import dataclass

import nnabla as nn
import nnabla.functions as F
import nnabla.solvers as S
import numpy as np

from .accuracy import format_accuracy
from .bnn_layers import BlockOptions, seed_all
from .digits_data import load_split
from .nnp_files import forward_saved, save_model


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3  # peak Adam learning rate, decayed to 0 on a cosine schedule


def cosine_lr(config, epoch):
    """Cosine decay: large steps early, small ones at the end to settle the signs of W."""
    return 0.5 * config.lr * (1.0 + math.cos(math.pi * epoch / config.epochs))


def train(network, x_train, y_train, config, rng):
    """Minimise softmax cross-entropy with Adam; returns the final epoch's mean loss."""
    x = nn.Variable((config.batch_size,) + x_train.shape[1:])
    t = nn.Variable((config.batch_size, 1))
    loss = F.mean(F.softmax_cross_entropy(network(x, BlockOptions(True, rng=rng)), t))
    solver = S.Adam(config.lr)
    solver.set_parameters(nn.get_parameters())  # W, b, beta, gamma (not running mean/var)
    steps = len(x_train) // config.batch_size  # drop the ragged last batch: fixed shapes
    for epoch in range(config.epochs):
        solver.set_learning_rate(cosine_lr(config, epoch))
        order = rng.permutation(len(x_train))
        losses = []
        for step in range(steps):
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            x.d, t.d = x_train[idx], y_train[idx, np.newaxis]
            loss.forward(clear_no_need_grad=True)
            solver.zero_grad()
            loss.backward(clear_buffer=True)
            solver.update()
            losses.append(float(loss.d))
        if epoch % 10 == 0 or epoch == config.epochs - 1:
            print(f"epoch {epoch:3d}  lr {cosine_lr(config, epoch):.2e}  "
                  f"loss {np.mean(losses):.4f}", flush=True)
    return float(np.mean(losses))


def train_and_save(network, network_name, path, config, data=load_split):
    """Train ``network(x, opts) -> scores`` on digits, save it, report test accuracy.

    The accuracy is measured by loading the saved .nnp and running it on the test set,
    so the number printed is the saved file's, not the training graph's.
    """
    nn.clear_parameters()
    rng = seed_all(config.seed)
    x_train, y_train, x_test, y_test = data()
    start = time.perf_counter()
    train(network, x_train, y_train, config, rng)
    seconds = time.perf_counter() - start
    x = nn.Variable((1,) + x_train.shape[1:])  # stored with batch size -1
    save_model(path, network_name, x, network(x, BlockOptions(False)))
    scores = forward_saved(path, network_name, x_test)
    print(f"training time: {seconds:.1f} s")
    print(f"saved {path} ({path.stat().st_size} bytes)")
    print(f"test {format_accuracy(scores, y_test)} (forward of the saved file)")
    return scores
