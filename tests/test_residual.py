"""Residual units (issue 14): Add2 joins of a branch forking from BinaryTanh's bits, their two
thresholds per channel chosen by the skip bit, equal to nnabla bit for bit through ``finngen run``;
what a dataflow cannot do is refused in one line naming the function."""
import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import numpy as np
import pytest

import modelgen
from examples.nnp_io import save_nnp
from finngen import cli, ir
from finngen.frontend import nnp
from finngen.frontend.streamline import streamline

SEEDS = [pytest.param(s, marks=pytest.mark.slow) if s >= 1504 else s for s in range(1500, 1524)]


def _run(tmp_path, model, images, bits):
    np.save(tmp_path / "x.npy", images)
    argv = ["run", str(model), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
            "--input-bits", str(bits)]
    assert cli.main(argv) == 0
    return np.load(tmp_path / "y.npy")


@pytest.mark.parametrize("seed", SEEDS)
def test_residual_models_equal_nnabla_bit_for_bit(tmp_path, seed):
    opts = modelgen.Options(conv=True, residual=True, input_bits=1 + seed % 8)
    model = tmp_path / "m.nnp"
    images, expected = modelgen.make(seed, model, opts, count=128)
    network = streamline(nnp.read(model), ir.DataType(opts.input_bits))
    assert network.residuals, "the model has a residual unit"
    got = _run(tmp_path, model, images, opts.input_bits)
    mismatch = np.argwhere(got.view(np.uint32) != expected.view(np.uint32))
    assert mismatch.size == 0, f"first mismatch at {mismatch[0]}"


def test_skip_bit_picks_the_threshold(tmp_path):
    """Both rows of the join's thresholds matter: swapped, the model no longer equals nnabla."""
    from finngen import host
    model = tmp_path / "m.nnp"
    images, expected = modelgen.make(1500, model, modelgen.Options(conv=True, residual=True, input_bits=1), 128)
    network = streamline(nnp.read(model), ir.DataType(1))
    assert np.array_equal(host.run_golden(network, images), expected)
    for unit in network.residuals:
        assert not np.array_equal(unit.join.threshold[0], unit.join.threshold[1])
        unit.join.threshold, unit.join.invert = unit.join.threshold[::-1], unit.join.invert[::-1]
    assert not np.array_equal(host.run_golden(network, images), expected)


def _conv_bn(h, c, name, k=1, tanh=True):
    h = PF.batch_normalization(PF.binary_connect_convolution(h, c, (k, k), pad=(k // 2, k // 2), name=name),
                               batch_stat=False, name=name + "bn")
    return F.binary_tanh(h) if tanh else h


def _stem():
    nn.clear_parameters()
    x = nn.Variable((1, 2, 6, 6))
    return x, _conv_bn(x, 4, "stem", k=3)


def _projection_shortcut(x0):
    return F.binary_tanh(_conv_bn(_conv_bn(x0, 2, "b0"), 4, "b1", tanh=False) + _conv_bn(x0, 4, "skip", tanh=False))


def _float_skip(x0):
    h0 = _conv_bn(x0, 4, "c0", tanh=False)
    return F.binary_tanh(h0 + _conv_bn(F.binary_tanh(h0), 4, "c1", tanh=False))


def _relu_join(x0):
    return F.relu(x0 + _conv_bn(x0, 4, "c0", tanh=False))


def _nested(x0):
    a = _conv_bn(x0, 4, "o0")
    inner = F.binary_tanh(_conv_bn(a, 4, "i0", tanh=False) + a)
    return F.binary_tanh(x0 + _conv_bn(inner, 4, "o1", tanh=False))


def _pooled_branch(x0):
    return F.binary_tanh(x0 + F.max_pooling(_conv_bn(x0, 4, "c0", tanh=False), (1, 1)))


@pytest.mark.parametrize("body,function,reason", [
    (_projection_shortcut, "BinaryConnectConvolution", "forks a stream only into a residual branch and the Add2"),
    (_float_skip, "Add2", "is not BinaryTanh's bits"),
    (_relu_join, "ReLU", "follows the residual join"),
    (_nested, "Add2", "inside the branch of"),
    (_pooled_branch, "Add2", "(no pooling) before the join"),
])
def test_what_a_dataflow_cannot_do_is_refused_in_one_line(tmp_path, capsys, body, function, reason):
    x, h = _stem()
    y = PF.binary_connect_affine(body(h), 3, name="last")
    model = tmp_path / "m.nnp"
    save_nnp(model, "net", x, y)
    np.save(tmp_path / "x.npy", np.zeros((2, 2, 6, 6), np.float32))
    assert cli.main(["run", str(model), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{function} " in err and reason in err, err


def test_build_refuses_a_fork_of_the_accelerator_input_in_one_line(tmp_path, capsys):
    """The host binarizes the input, so streamlining accepts a unit right on it; the hardware
    forks only a stage's output."""
    nn.clear_parameters()
    x = nn.Variable((1, 2, 6, 6))
    b = F.binary_tanh(x)
    y = PF.binary_connect_affine(F.binary_tanh(b + _conv_bn(b, 2, "c0", tanh=False)), 3, name="last")
    model = tmp_path / "m.nnp"
    save_nnp(model, "net", x, y)
    assert cli.main(["build", str(model), "--board", "pynq-z1", "--fps", "max", "--out", str(tmp_path / "b")]) == 3
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "a fork of the accelerator's input" in errors[0], errors
    assert not (tmp_path / "b").exists()
