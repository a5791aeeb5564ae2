"""Every unsupported construct is refused with its function type, its name and what is supported."""
import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import numpy as np
import pytest

from finngen import cli
from finngen.errors import ModelError
from examples.nnp_io import save_nnp


def _conv_model(**conv_args):
    def build(x):
        return PF.binary_connect_convolution(x, 4, **conv_args, name="c")
    return build


def _chain(*steps):
    def build(x):
        h = x
        for step in steps:
            h = step(h)
        return h
    return build


def _bc_fc(n, name):
    return lambda h: PF.binary_connect_affine(h, n, name=name)


def _bn(name, **kw):
    return lambda h: PF.batch_normalization(h, batch_stat=False, name=name, **kw)


def _falling_bn(h):
    # gamma < 0: the channel's output falls as its sum rises
    h = PF.batch_normalization(h, batch_stat=False, name="fb")
    nn.get_parameters(grad_only=False)["fb/bn/gamma"].d = -1.0
    return h


def _grouped_conv(x):
    # PF.binary_connect_convolution creates ungrouped weights for group > 1: build it by hand
    w = nn.parameter.get_parameter_or_create("g/W", (4, 1, 3, 3), need_grad=True)
    wb = nn.parameter.get_parameter_or_create("g/Wb", (4, 1, 3, 3), need_grad=False)
    w.d = np.random.default_rng(0).normal(size=w.shape)
    return F.binary_connect_convolution(x, w, wb, group=2)


def _zero_weights(q):
    def build(x):
        h = PF.binary_connect_affine(x, 4, name="z", quantize_zero_to=q)
        nn.get_parameters()["z/bicon_affine/W"].d[0, 0] = 0.0
        return h
    return build


REFUSALS = {
    "relu": (lambda x: F.relu(PF.binary_connect_affine(x, 4, name="a")),
             ["ReLU", "is a continuous activation", "needs binarized activations", "F.binary_tanh"]),
    "elu_between": (_chain(_bc_fc(4, "a"), _bn("b"), F.elu, _bc_fc(3, "c")),
                    ["ELU", "is a continuous activation", "binarized activations between layers"]),
    "tanh_between": (_chain(_bc_fc(4, "a"), F.tanh, _bc_fc(3, "c")), ["Tanh", "is a continuous activation"]),
    "softmax_between": (_chain(_bc_fc(4, "a"), F.softmax, _bc_fc(3, "c")),
                        ["Softmax", "only on the last layer's scores"]),
    "sigmoid_between": (_chain(_bc_fc(4, "a"), _bn("b"), F.sigmoid, _bc_fc(3, "c")),
                        ["Sigmoid", "is a continuous activation"]),
    "binary_sigmoid_input": (F.binary_sigmoid, ["BinarySigmoid", "only as the activation of a binarized"]),
    "binary_sigmoid_output": (_chain(_bc_fc(4, "a"), F.binary_sigmoid), ["BinarySigmoid as the model's output"]),
    "scale_inside": (_chain(_bc_fc(4, "a"), F.binary_tanh, lambda h: h * 0.5, _bc_fc(3, "c")),
                     ["MulScalar", "only between the model input and the first matrix layer"]),
    "negative_scale_pool": (_chain(lambda h: h * -0.5, lambda h: F.max_pooling(h, (2, 2)), _conv_model(kernel=(1, 1))),
                            ["MaxPooling", "scaled by -0.5", "positive scale"]),
    "negative_scale_binarized": (_chain(lambda h: h * -0.5, F.binary_tanh, _conv_model(kernel=(1, 1))),
                                 ["BinaryTanh", "scaled by -0.5"]),
    "average_at_end": (_chain(_conv_model(kernel=(1, 1)), _bn("b"), F.binary_tanh,
                              lambda h: F.average_pooling(h, (2, 2))),
                       ["AveragePooling", "average pooling as the model's output"]),
    "log_softmax": (_chain(_bc_fc(4, "a"), F.log_softmax), ["LogSoftmax", "is not supported",
                                                            "supported: BinaryConnectAffine"]),
    "plain_affine": (lambda x: PF.affine(x, 4, name="a"), ["Affine", "is not supported"]),
    "kernel_9": (_conv_model(kernel=(9, 9), pad=(2, 2)), ["BinaryConnectConvolution", "kernel (9, 9)", "1 to 7"]),
    "kernel_rect": (_conv_model(kernel=(3, 1)), ["kernel (3, 1)", "square"]),
    "stride_3": (_conv_model(kernel=(3, 3), stride=(3, 3)), ["stride (3, 3)", "1 or 2"]),
    "dilation": (_conv_model(kernel=(3, 3), dilation=(2, 2)), ["dilation (2, 2)"]),
    "group": (lambda x: _grouped_conv(x), ["group 2"]),
    "pool_overlap": (lambda x: F.max_pooling(F.binary_tanh(_conv_model(kernel=(1, 1))(x)), (2, 2), (1, 1)),
                     ["MaxPooling", "kernel (2, 2) with stride (1, 1)"]),
    "pool_pad": (lambda x: F.max_pooling(F.binary_tanh(_conv_model(kernel=(1, 1))(x)), (2, 2), pad=(1, 1)),
                 ["MaxPooling", "padding"]),
    "pool_border": (lambda x: F.max_pooling(F.binary_tanh(_conv_model(kernel=(1, 1))(x)), (2, 2),
                                            ignore_border=False), ["ignore_border=False"]),
    "bn_training": (_chain(_bc_fc(4, "a"), lambda h: PF.batch_normalization(h, batch_stat=True, name="b")),
                    ["BatchNormalization", "batch_stat is true"]),
    "pool_on_scores_before_bn": (_chain(_conv_model(kernel=(1, 1)), lambda h: F.max_pooling(h, (2, 2)), _bn("b")),
                                 ["pooling of the last layer's scores"]),
    "falling_pool_then_pool": (_chain(_conv_model(kernel=(1, 1)), lambda h: F.max_pooling(h, (2, 2)), _falling_bn,
                                      F.binary_tanh, lambda h: F.max_pooling(h, (1, 1)), _bc_fc(3, "f")),
                               ["MaxPooling", "whose batch norm has negative gamma after its max pooling"]),
    "falling_pool_sigmoid_last": (_chain(_conv_model(kernel=(1, 1)), lambda h: F.max_pooling(h, (2, 2)), _falling_bn,
                                         F.binary_sigmoid, _bc_fc(3, "f")),
                                  ["MaxPooling", "needs a hidden layer after it, not the last"]),
    "falling_pool_sigmoid_padded": (_chain(_conv_model(kernel=(1, 1)), lambda h: F.max_pooling(h, (2, 2)), _falling_bn,
                                           F.binary_sigmoid,
                                           lambda h: PF.binary_connect_convolution(h, 3, (3, 3), pad=(1, 1), name="p")),
                                    ["BinaryConnectConvolution", "a padded layer after"]),
    "falling_pool_at_end": (_chain(_conv_model(kernel=(1, 1)), lambda h: F.max_pooling(h, (2, 2)), _falling_bn,
                                   F.binary_tanh),
                            ["MaxPooling", "needs a matrix layer after it"]),
    "no_tanh_between": (_chain(_bc_fc(4, "a"), _bn("b"), _bc_fc(3, "c")),
                        ["BinaryConnectAffine", "is fed the float activations of", "no BinaryTanh between",
                         "needs binarized activations"]),
    "bw_fed_float": (_chain(_bc_fc(4, "a"), lambda h: PF.binary_weight_affine(h, 3, name="w")),
                     ["BinaryWeightAffine", "is fed the float activations of", "F.binary_tanh"]),
    "ternary": (_zero_weights(0.0), ["quantize_zero_to is 0.0", "ternary"]),
    "pool_on_scores": (_chain(_conv_model(kernel=(1, 1)), lambda h: F.max_pooling(h, (2, 2))),
                       ["pooling of the last layer's scores"]),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusal_names_function_and_support(tmp_path, capsys, case):
    build, phrases = REFUSALS[case]
    nn.clear_parameters()
    x = nn.Variable((1, 2, 6, 6))
    path = save_nnp(tmp_path / "m.nnp", "refused", x, build(x))
    np.save(tmp_path / "x.npy", np.zeros((1, 2, 6, 6), np.float32))
    code = cli.main(["run", str(path), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")])
    err = capsys.readouterr().err
    assert code == ModelError.exit_code
    assert err.count("\n") == 1 and err.startswith("finngen: error: ")
    for phrase in phrases:
        assert phrase in err
    assert "'@refused/" in err, "the message names the function in the graph"
    assert not (tmp_path / "y.npy").exists()


def test_inspect_marks_the_unsupported_function(tmp_path, capsys):
    nn.clear_parameters()
    x = nn.Variable((1, 2, 6, 6))
    path = save_nnp(tmp_path / "m.nnp", "refused", x, F.relu(F.binary_tanh(_conv_model(kernel=(3, 3))(x))))
    assert cli.main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ReLU" in out and "no: ReLU is a continuous activation" in out
    assert "BinaryConnectConvolution" in out and "yes" in out


def test_inspect_checks_every_function_past_the_first_refusal(tmp_path, capsys):
    nn.clear_parameters()
    x = nn.Variable((1, 2, 6, 6))
    h = F.relu(PF.batch_normalization(_conv_model(kernel=(3, 3), pad=(1, 1))(x), batch_stat=False, name="b"))
    h = PF.binary_connect_convolution(h, 4, (3, 3), dilation=(2, 2), name="d")
    h = F.binary_tanh(PF.batch_normalization(h, batch_stat=False, name="e"))
    h = F.log_softmax(PF.binary_connect_affine(h, 3, name="f"))
    path = save_nnp(tmp_path / "m.nnp", "refused", x, h)
    assert cli.main(["inspect", str(path)]) == 0
    rows = capsys.readouterr().out.splitlines()
    status = {r.split()[0]: r for r in rows if r.startswith(("ReLU", "LogSoftmax"))}
    assert "no: ReLU is a continuous activation" in status["ReLU"]
    assert "no: function type LogSoftmax" in status["LogSoftmax"]
    (dilated,) = [r for r in rows if "'@refused/" not in r and "dilation (2, 2)" in r]
    assert dilated.startswith("BinaryConnectConvolution")
    assert "not checked" not in "\n".join(rows)
    assert sum(" yes" in r for r in rows) == 5     # the first convolution, both batch norms, BinaryTanh, the affine
    np.save(tmp_path / "x.npy", np.zeros((1, 2, 6, 6), np.float32))
    assert cli.main(["run", str(path), "--input", str(tmp_path / "x.npy"), "--output",
                     str(tmp_path / "y.npy")]) == ModelError.exit_code
    assert "(2 more unsupported: see 'finngen inspect')" in capsys.readouterr().err
