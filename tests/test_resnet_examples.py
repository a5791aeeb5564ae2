"""nnabla-examples' binarized ResNets (issue 14), random with calibrated batch norm: the golden
model against nnabla (argmax and exact values), and the as-written CIFAR-10 graph's refusal."""
import numpy as np
import pytest

from examples.nnp_files import forward_saved
from examples.resnets import CIFAR_PATH, CIFAR_SHAPE, MNIST_PATH, MNIST_SHAPE, MODELS, sample_images
from finngen import cli, host
from finngen.frontend import nnp
from finngen.frontend.exactness import rounding_line
from finngen.frontend.streamline import streamline
from finngen.ir import DataType

pytestmark = pytest.mark.slow


def _golden_vs_nnabla(path, shape, count=64):
    graph = nnp.read(path)
    network = streamline(graph, DataType(8))
    images = sample_images(shape, count)
    got, expected = host.run_golden(network, images), forward_saved(path, graph.network_name, images)
    line = rounding_line(network, got, expected)
    print(line)
    assert np.array_equal(got.argmax(axis=1), expected.argmax(axis=1)), line
    # within float32 rounding by class (image / 255); measured bit for bit on these inputs
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32)), line
    return network


def test_cifar10_resnet23_equals_nnabla():
    network = _golden_vs_nnabla(CIFAR_PATH, CIFAR_SHAPE)
    assert len(network.residuals) == 7


def test_mnist_resnet_equals_nnabla():
    network = _golden_vs_nnabla(MNIST_PATH, MNIST_SHAPE)
    assert len(network.residuals) == 5


def test_cifar10_resnet23_as_written_is_refused_for_its_training_mode_batch_norms(tmp_path, capsys):
    np.save(tmp_path / "x.npy", sample_images(CIFAR_SHAPE, 2))
    argv = ["run", str(MODELS / "cifar10_resnet23_as_written.nnp"), "--input", str(tmp_path / "x.npy"),
            "--output", str(tmp_path / "y.npy")]
    assert cli.main(argv) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "BatchNormalization" in err and "batch_stat is true" in err, err
