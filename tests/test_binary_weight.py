"""BinaryWeight layers: alpha exactly as nnabla computes it, and ties found, warned about and counted."""
import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import numpy as np
import pytest

import modelgen
from finngen import cli, host
from finngen.frontend import nnp
from finngen.frontend.binary_weight import nnabla_alpha, tie_hits, tie_line
from finngen.frontend.streamline import streamline
from finngen.ir import DataType
from examples.nnp_files import forward_saved
from examples.nnp_io import save_nnp


@pytest.mark.parametrize("conv", [False, True])
def test_alpha_equals_nnabla_bit_for_bit(conv):
    rng = np.random.default_rng(3)
    wrong = total = 0
    for fan_in in (1, 2, 3, 5, 7, 8, 9, 17, 31, 64, 100, 255, 576):
        nn.clear_parameters()
        if conv:
            x = nn.Variable((1, fan_in, 3, 3))
            y = PF.binary_weight_convolution(x, 37, (1, 1), name="w")
        else:
            x = nn.Variable((1, fan_in))
            y = PF.binary_weight_affine(x, 37, name="w")
        params = nn.get_parameters(grad_only=False)
        (w,) = [p for k, p in params.items() if k.endswith("/W")]
        w.d = rng.normal(size=w.shape).astype(np.float32)
        y.forward()     # nnabla writes its alpha into the parameter
        (alpha,) = [p.d for k, p in params.items() if k.endswith("/alpha")]
        rows = w.d.reshape(37, -1) if conv else w.d.reshape(fan_in, -1).T
        wrong += int((nnabla_alpha(rows).view(np.uint32) != alpha.view(np.uint32)).sum())
        total += alpha.size
    assert (wrong, total) == (0, 13 * 37)


def _issue_model(path):
    # Issue 11.1's example: W = [0.3, -0.5, -0.9, -1.0], no bias, BinaryTanh, then W = [1, -1].
    nn.clear_parameters()
    x = nn.Variable((1, 4))
    h = F.binary_tanh(PF.binary_weight_affine(x, 1, with_bias=False, name="bw"))
    y = PF.binary_connect_affine(h, 2, with_bias=False, name="bc")
    params = nn.get_parameters(grad_only=False)
    params["bw/bwn_affine/W"].d = np.array([[0.3], [-0.5], [-0.9], [-1.0]])
    params["bc/bicon_affine/W"].d = np.array([[1, -1]])
    return save_nnp(path, "tie", x, y)


def test_issue_example_is_found_warned_and_counted(tmp_path, capsys):
    model = _issue_model(tmp_path / "tie.nnp")
    assert cli.main(["inspect", str(model), "--input-bits", "2"]) == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("warning:")]
    assert "BinaryWeightAffine" in line and "1 of 1 channels can sit on an exact tie" in line
    network = streamline(nnp.read(model), DataType(2))
    assert network.layers[0].ties == {0: 0}
    images = np.array([[3, 0, 1, 2], [3, 3, 3, 3], [0, 0, 0, 0]], np.float32)
    expected = forward_saved(model, "tie", images)
    got = host.run_golden(network, images)
    # nnabla's GEMM leaves +residue at the exact zero of [3, 0, 1, 2]: it says +1, finngen -1;
    # an all-zero image sums to exactly 0 in float too, so both say -1 there.
    assert expected.tolist() == [[1, -1], [-1, 1], [-1, 1]]
    assert got.tolist() == [[-1, 1], [-1, 1], [-1, 1]]
    stream = host.encode_input(network, images)
    assert tie_hits(network, stream).tolist() == [1, 0, 1]
    assert tie_line(network, stream, got, expected) == ("BinaryWeight ties: 2 activations sat exactly on a tie "
                                                        "in 2 of 3 frames; 2 of the 2 outputs that differ from "
                                                        "nnabla are in those frames")


def test_build_warns_about_ties(tmp_path, capsys):
    model = _issue_model(tmp_path / "tie.nnp")
    assert cli.main(["build", str(model), "--fps", "1000", "--board", "pynq-z1", "--out", str(tmp_path / "b"),
                     "--verify", "0", "--input-bits", "2"]) == 0
    err = capsys.readouterr().err
    assert "finngen: warning: BinaryWeightAffine" in err and "exact tie" in err


# Seeds whose models have ties that random 2-bit images hit (505, 509, 517 and 519 also
# change outputs there); every frame that differs from nnabla beyond rounding must hit one.
@pytest.mark.parametrize("seed", [503, 505, 509, 511, 517, 519])
def test_random_models_differ_from_nnabla_only_in_frames_that_hit_a_tie(tmp_path, seed):
    opts = modelgen.Options(conv=bool(seed % 2), binary_weight=True, input_bits=2, ties=True)
    model = tmp_path / "m.nnp"
    images, expected = modelgen.make(seed, model, opts, count=256)
    network = streamline(nnp.read(model), DataType(2))
    got = host.run_golden(network, images)
    hits = tie_hits(network, host.encode_input(network, images))
    assert hits.sum() > 0
    scale = np.abs(expected).max()
    beyond_rounding = ~np.isclose(got, expected, rtol=1e-5, atol=1e-5 * scale).reshape(len(images), -1).all(axis=1)
    assert not (beyond_rounding & (hits == 0)).any()


@pytest.mark.rtl
def test_verify_counts_the_outputs_a_tie_changes(tmp_path, capsys):
    model = _issue_model(tmp_path / "tie.nnp")
    out = tmp_path / "b"
    assert cli.main(["build", str(model), "--fps", "max", "--board", "pynq-z1", "--out", str(out),
                     "--input-bits", "2"]) == 0
    capsys.readouterr()
    # within float32 rounding by class: verify holds the RTL to the golden model and counts
    assert cli.main(["verify", str(out), "--frames", "64"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (exact,) = [x for x in lines if x.startswith("exactness: within float32 rounding")]
    (ties,) = [x for x in lines if x.startswith("BinaryWeight ties: ")]
    assert "RTL == golden model: yes (64 frames)" in lines
    equal = int(exact.split(" of 128 outputs")[0].rsplit(" ", 1)[1])
    assert equal < 128 and ties.endswith(f"{128 - equal} of the {128 - equal} outputs that differ from "
                                             "nnabla are in those frames")
