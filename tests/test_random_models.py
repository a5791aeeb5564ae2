"""finngen run equals nnabla's forward pass on many seeded random models."""
import numpy as np
import pytest

import modelgen
from finngen import cli, host
from finngen.frontend import nnp
from finngen.frontend.streamline import streamline
from finngen.ir import DataType

def _quick_few(cases, quick=4):
    """The first ``quick`` cases of a group run in the quick tier, the rest are marked slow."""
    def slow(c):
        return pytest.param(*(c if isinstance(c, tuple) else (c,)), marks=pytest.mark.slow)
    return [c if i < quick else slow(c) for i, c in enumerate(cases)]


CASES = [
    # seed, options
    *[(s, modelgen.Options(conv=True, input_bits=1 + s % 8, input_signed=bool(s % 2),
                           parameter_format=(".h5", ".protobuf")[s % 2])) for s in range(16)],
    *[(100 + s, modelgen.Options(conv=False, input_bits=1 + s % 8, input_signed=bool(s % 3 == 0)))
      for s in range(8)],
    *[(200 + s, modelgen.Options(conv=bool(s % 2), binarize_input=True)) for s in range(6)],
    *[(400 + s, modelgen.Options(conv=True, binarize_input=True, pool_input=True)) for s in range(4)],
    # a positive MulScalar before the input's (max pooling and) BinaryTanh changes no sign: exact
    *[(1300 + s, modelgen.Options(conv=bool(s % 2), binarize_input=True, pool_input=s == 1, input_scale=0.5))
      for s in range(2)],
    # MaxPool -> BN -> BinaryTanh next to BN -> MaxPool -> BinaryTanh, gamma of either sign and 0
    *_quick_few([(800 + s, modelgen.Options(conv=True, pool_before_bn=True, input_bits=1 + s % 8,
                                            input_signed=bool(s % 3))) for s in range(16)]),
    # MaxPool -> BN (falling channels) -> BinarySigmoid: the next layer negates and offsets
    *_quick_few([(seed, modelgen.Options(conv=True, pool_before_bn=True, binary_sigmoid=True,
                                         input_bits=1 + seed % 8)) for seed in (1204, 1217, 1233, 1247, 1251, 1255)]),
    # convolution padding up to k - 1 (beyond k // 2)
    *_quick_few([(1000 + s, modelgen.Options(conv=True, wide_pad=True, input_bits=1 + s % 8)) for s in range(8)]),
    # convolution padding k to k + 2: windows wholly in the padding (ResNet's 3x3 padded by 3)
    *_quick_few([(1400 + s, modelgen.Options(conv=True, big_pad=True, binary_sigmoid=s % 2 == 1,
                                             input_bits=1 + s % 8)) for s in range(8)]),
    # convolution padding per axis (rows and columns padded differently, 0 to k + 1)
    *_quick_few([(1500 + s, modelgen.Options(conv=True, axis_pad=True, binary_sigmoid=s % 2 == 1,
                                             input_bits=1 + s % 8)) for s in range(8)]),
    # AveragePooling: BN -> Avg -> activation, Avg -> BN -> activation, Avg of the activations
    *_quick_few([(1100 + s, modelgen.Options(conv=True, average=True, input_bits=1 + s % 8,
                                             binary_sigmoid=s % 3 == 0)) for s in range(24)], quick=6),
    # BinarySigmoid: 729, 752, 774 and 776 feed {0, 1} activations into a zero-padded convolution
    *_quick_few([(700 + s, modelgen.Options(conv=s % 4 != 3, binary_sigmoid=True, input_bits=1 + s % 8))
                 for s in [29, 52, 74, 76] + list(range(12))]),
]


@pytest.mark.parametrize("seed,opts", CASES, ids=[f"seed{c[0] if isinstance(c, tuple) else c.values[0]}"
                                                  for c in CASES])
def test_binary_connect_equals_nnabla_bit_for_bit(tmp_path, seed, opts):
    model = tmp_path / "m.nnp"
    images, expected = modelgen.make(seed, model, opts)
    np.save(tmp_path / "x.npy", images)
    argv = ["run", str(model), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
            "--input-bits", str(opts.input_bits)] + (["--input-signed"] if opts.input_signed else [])
    assert cli.main(argv) == 0
    got = np.load(tmp_path / "y.npy")
    assert got.dtype == np.float32 and got.shape == expected.shape
    mismatch = np.argwhere(got.view(np.uint32) != expected.view(np.uint32))
    assert mismatch.size == 0, f"first mismatch at {mismatch[0]}: {got[tuple(mismatch[0])]} != " \
                               f"{expected[tuple(mismatch[0])]}"


@pytest.mark.parametrize("seed", range(6))
def test_binary_weight_within_float32_rounding(tmp_path, seed):
    opts = modelgen.Options(conv=bool(seed % 2), binary_weight=True, input_bits=4)
    model = tmp_path / "m.nnp"
    images, expected = modelgen.make(300 + seed, model, opts)
    got = host.run_golden(streamline(nnp.read(model), DataType(4)), images)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    assert np.array_equal(got.argmax(axis=1), expected.argmax(axis=1))


def _pooled_input_model(path):
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from examples.nnp_io import save_nnp
    nn.clear_parameters()
    x = nn.Variable((1, 2, 8, 8))
    h = F.binary_tanh(F.max_pooling(x, (2, 2)))
    return save_nnp(path, "m", x, PF.binary_connect_convolution(h, 3, (3, 3), pad=(1, 1), name="c"))


def test_max_pooling_the_raw_integer_input_before_binary_tanh(tmp_path):
    # Issue 11.5: MaxPooling -> BinaryTanh on uint8 images commutes (BinaryTanh is monotone),
    # so the host binarizes the images and the accelerator pools bits.
    from examples.nnp_files import forward_saved
    model = _pooled_input_model(tmp_path / "m.nnp")
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, size=(32, 2, 8, 8)).astype(np.float32)
    images[rng.random(images.shape) < 0.7] = 0.0     # whole windows of zeros give -1
    np.save(tmp_path / "x.npy", images)
    assert cli.main(["run", str(model), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 0
    expected = forward_saved(model, "m", images)
    assert np.array_equal(np.load(tmp_path / "y.npy").view(np.uint32), expected.view(np.uint32))


RTL_CASES = {
    # what the case exercises: (seed, options, --input-bits)
    "pooled_binarized_input": (None, None, 8),
    "binary_sigmoid_into_padded_conv": (729, modelgen.Options(conv=True, binary_sigmoid=True, input_bits=6), 6),
    "pool_before_negative_gamma": (803, modelgen.Options(conv=True, pool_before_bn=True, input_bits=4), 4),
    "pool_before_negative_gamma_sigmoid": (1204, modelgen.Options(conv=True, pool_before_bn=True, binary_sigmoid=True,
                                                                  input_bits=5), 5),
    "padding_k_minus_1": (1007, modelgen.Options(conv=True, wide_pad=True, input_bits=8), 8),
    # sums of bipolar bits into a convolution's integer mode, then BN -> AveragePooling -> BinaryTanh
    "average_pooling": (1110, modelgen.Options(conv=True, average=True, input_bits=3), 3),
    # the last pooling global (3x3), its sums the classifier's integer input
    "global_average_pooling": (1107, modelgen.Options(conv=True, average=True, input_bits=8), 8),
    # sums of {0, 1} bits, twice
    "average_of_binary_sigmoid": (1103, modelgen.Options(conv=True, average=True, binary_sigmoid=True,
                                                         input_bits=4), 4),
    "padding_per_axis": (1505, modelgen.Options(conv=True, axis_pad=True, binary_sigmoid=True, input_bits=6), 6),
    "padding_k_or_more": (1407, modelgen.Options(conv=True, big_pad=True, binary_sigmoid=True, input_bits=8), 8),
}


@pytest.mark.rtl
@pytest.mark.parametrize("case", sorted(RTL_CASES))
def test_new_rules_build_bit_exact_in_rtl(tmp_path, case):
    seed, opts, bits = RTL_CASES[case]
    model = tmp_path / "m.nnp"
    if seed is None:
        _pooled_input_model(model)
    else:
        modelgen.make(seed, model, opts, count=2)
    assert cli.main(["build", str(model), "--fps", "max", "--board", "pynq-z1", "--out", str(tmp_path / "b"),
                     "--verify", "3", "--input-bits", str(bits)]) == 0


@pytest.mark.parametrize("function", ["softmax", "sigmoid"])
@pytest.mark.parametrize("seed", range(4))
def test_output_function_equals_nnabla_bit_for_bit(tmp_path, seed, function):
    # Softmax/Sigmoid after the last layer run in the host's float32 epilogue, in nnabla's order
    # and with the C library's expf that nnabla's std::exp calls.
    opts = modelgen.Options(conv=bool(seed % 2), input_bits=4, output_function=function)
    model = tmp_path / "m.nnp"
    images, expected = modelgen.make(600 + seed, model, opts, count=256)
    np.save(tmp_path / "x.npy", images)
    assert cli.main(["run", str(model), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
                     "--input-bits", "4"]) == 0
    got = np.load(tmp_path / "y.npy")
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_output_functions_on_wide_scores_equal_nnabla():
    import nnabla as nn
    import nnabla.functions as F
    from finngen.codec import output_function
    rng = np.random.default_rng(0)
    for shape, axis in (((20000, 10), 1), ((50, 3, 4, 5), 1)):
        x = (rng.normal(size=shape) * 20).astype(np.float32)
        for name, spec in (("softmax", {"type": "Softmax", "axis": axis - 1}), ("sigmoid", {"type": "Sigmoid"})):
            y = getattr(F, name)(nn.Variable.from_numpy_array(x), *((axis,) if name == "softmax" else ()))
            y.forward()
            assert np.array_equal(output_function(spec, x).view(np.uint32), y.d.view(np.uint32)), (shape, name)


SCALES = [1 / 255, 0.1, 3.0, -0.5]


@pytest.mark.parametrize("seed", _quick_few(list(range(900, 916))))
def test_input_scaling_within_float32_rounding(tmp_path, seed):
    # MulScalar (image / 255) on the input, folded into the first layer: nnabla sums the scaled
    # floats, finngen scales the exact sum; hidden bits agree unless a sum lands within rounding
    # of its step (never in these seeds), scores are within float32 rounding.
    opts = modelgen.Options(conv=seed % 3 != 2, input_scale=SCALES[seed % 4], binary_weight=seed % 5 == 4)
    model = tmp_path / "m.nnp"
    images, expected = modelgen.make(seed, model, opts, count=256)
    network = streamline(nnp.read(model), DataType(8))
    assert network.input.scale == pytest.approx(SCALES[seed % 4], rel=1e-7)
    got = host.run_golden(network, images)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    assert np.array_equal(got.argmax(axis=1), expected.argmax(axis=1))


def test_input_scaling_is_counted_not_bit_exact(tmp_path):
    # One affine layer on 28x28 uint8 images / 255: the scores are nnabla's float GEMM of
    # non-integer floats, so only some are bit for bit equal; the verify line counts them.
    import nnabla as nn
    import nnabla.parametric_functions as PF
    from examples.nnp_files import forward_saved
    from examples.nnp_io import save_nnp
    from finngen.frontend.exactness import rounding_line
    rng = np.random.default_rng(1)
    nn.clear_parameters()
    x = nn.Variable((1, 1, 28, 28))
    y = PF.binary_connect_affine(x / 255, 10, name="fc")
    for p in nn.get_parameters(grad_only=False).values():
        p.d = rng.normal(size=p.shape)
    model = save_nnp(tmp_path / "m.nnp", "m", x, y)
    images = rng.integers(0, 256, size=(256, 1, 28, 28)).astype(np.float32)
    expected = forward_saved(model, "m", images)
    network = streamline(nnp.read(model), DataType(8))
    got = host.run_golden(network, images)
    equal = int(np.count_nonzero(got.view(np.uint32) == expected.view(np.uint32)))
    assert 0 < equal < got.size
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    assert rounding_line(network, got, expected) == (
        "exactness: within float32 rounding: the input is scaled by 0.00392157 (MulScalar) before "
        f"'@m/BinaryConnectAffine'; {equal} of 2560 outputs bit for bit equal to nnabla, argmax equal in 256 of "
        "256 frames")


@pytest.mark.parametrize("size,function", [(4, "global_average_pooling"), (3, "global_average_pooling"),
                                           (6, "average_pooling")])
def test_global_average_pooling_before_the_classifier(tmp_path, size, function):
    # The window sum of +-1 activations is the classifier's integer input, scaled by 1/k**2:
    # exact for 4x4 (1/16), within float32 rounding for 3x3 and 6x6 (nnabla rounds x/9, x/36).
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from examples.nnp_files import forward_saved
    from examples.nnp_io import save_nnp
    from finngen.frontend.exactness import rounding_reasons
    rng = np.random.default_rng(size)
    nn.clear_parameters()
    x = nn.Variable((1, 2, size, size))
    h = PF.binary_connect_convolution(x, 8, (3, 3), pad=(1, 1), name="c")
    h = F.binary_tanh(PF.batch_normalization(h, batch_stat=False, name="b"))
    h = F.global_average_pooling(h) if function == "global_average_pooling" else F.average_pooling(h, (size, size))
    y = PF.batch_normalization(PF.binary_connect_affine(h, 10, name="fc"), batch_stat=False, name="fb")
    for name, p in nn.get_parameters(grad_only=False).items():
        v = rng.normal(size=p.shape)
        p.d = np.abs(v) if name.endswith("var") else v
    model = save_nnp(tmp_path / "m.nnp", "m", x, y)
    images = rng.integers(0, 256, size=(256, 2, size, size)).astype(np.float32)
    expected = forward_saved(model, "m", images)
    network = streamline(nnp.read(model), DataType(8))
    got = host.run_golden(network, images)
    if size == 4:
        assert not rounding_reasons(network)
        assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))
    else:
        assert rounding_reasons(network) == [f"'@m/{function.title().replace('_', '')}' divides by {size * size}, "
                                             "inexact in float32"]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
        assert np.array_equal(got.argmax(axis=1), expected.argmax(axis=1))
    # built with the window-sum stage (RTL-verified in test_new_rules_build_bit_exact_in_rtl)
    assert cli.main(["build", str(model), "--fps", "max", "--board", "pynq-z1", "--out",
                     str(tmp_path / "b"), "--verify", "0"]) == 0
    assert (tmp_path / "b" / "rtl" / "finngen_accelerator.v").exists()
