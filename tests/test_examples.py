"""The shipped example models: finngen's output equals nnabla's, and the digits models are accurate."""
import numpy as np
import pytest

from examples.digits_data import load_split, load_split_28
from examples_models import MODELS
from finngen import host
from finngen.frontend import nnp
from finngen.ir import DataType
from finngen.frontend.streamline import streamline
from examples.nnp_files import forward_saved

EXAMPLES = {
    # model file: (network name, input type, images)
    "digits_mlp.nnp": "digits",
    "digits_cnn.nnp": "digits",
    "lfc_w1a1.nnp": "random_signed",
    "cnv_w1a1.nnp": "random_uint8",
    "nnc_lenet.nnp": "digits28",
    # within float32 rounding by class (image / 255, averaged batch norms); measured bit for bit
    "bnn_lenet.nnp": "digits28",
}


def _images(kind, shape, count):
    if kind == "digits":
        return load_split()[2][:count]
    if kind == "digits28":
        return load_split_28()[2][:count]
    rng = np.random.default_rng(1)
    if kind == "random_signed":   # LFC binarizes its input on the host: any float, zeros included
        x = rng.normal(size=(count,) + shape).astype(np.float32)
        x[rng.random(x.shape) < 0.1] = 0.0
        return x
    return rng.integers(0, 256, (count,) + shape).astype(np.float32)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_equals_nnabla_bit_for_bit(name):
    path = MODELS / name
    graph = nnp.read(path)
    network = streamline(graph, DataType(8))
    count = 8 if name.startswith("cnv") else 64
    images = _images(EXAMPLES[name], graph.shapes[graph.input_name], count)
    got = host.run_golden(network, images)
    expected = forward_saved(path, graph.network_name, images)
    assert got.dtype == expected.dtype == np.float32
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("name", ["digits_mlp.nnp", "digits_cnn.nnp", "nnc_lenet.nnp", "bnn_lenet.nnp"])
def test_digits_models_reach_95_percent(name):
    _, _, images, labels = (load_split_28 if "lenet" in name else load_split)()
    network = streamline(nnp.read(MODELS / name), DataType(8))
    accuracy = (host.run_golden(network, images).argmax(axis=1) == labels).mean()
    assert accuracy >= 0.95


@pytest.mark.rtl
@pytest.mark.parametrize("name", ["nnc_lenet.nnp", "bnn_lenet.nnp"])
def test_lenet_builds_and_runs_in_rtl_as_golden(tmp_path, capsys, name):
    # NNC's order (MaxPool -> BN -> BinarySigmoid) and Softmax; classification_bnn.py's
    # BN -> AveragePooling -> BinaryTanh (the window-sum stage): through the whole flow. At
    # 20,000 FPS the first layer's SIMD still spans kernel taps (SIMD 5 of 1x5x5); `--fps max`
    # builds four times the LUTs and takes five times as long.
    from finngen import cli
    out = tmp_path / "b"
    model = MODELS / name
    assert cli.main(["build", str(model), "--fps", "20000", "--board", "pynq-z1", "--out", str(out),
                     "--verify", "2"]) == 0
    assert "RTL bit exact on 2 frames" in capsys.readouterr().out
    np.save(tmp_path / "x.npy", load_split_28()[2][:4])
    for backend in ("golden", "rtl"):
        assert cli.main(["run", str(out), "--input", str(tmp_path / "x.npy"), "--output",
                         str(tmp_path / f"{backend}.npy"), "--backend", backend]) == 0
    rtl, golden = np.load(tmp_path / "rtl.npy"), np.load(tmp_path / "golden.npy")
    assert np.array_equal(rtl.view(np.uint32), golden.view(np.uint32))
