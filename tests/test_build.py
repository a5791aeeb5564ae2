"""finngen build end to end: RTL simulation equals nnabla bit for bit, at the predicted speed.

Each build compiles a Verilator model (tens of seconds); the runs after the build's own
verification reuse it from DIR/sim/.
"""
from pathlib import Path

import nnabla.functions as F
import numpy as np
import pytest

from examples.bnn_layers import conv_block, fc_block, max_pool
from examples.digits_data import load_split
from examples_models import MODELS
from finngen import cli, codec, host
from finngen.builddir import BuildDir
from finngen.sim.buildsim import BuildSim
from finngen.sim.streams import Traffic
from examples.nnp_files import forward_saved
from examples.random_bnn import make_random_bnn


def _lfc_like(x, opts):
    """LFC's shape in small: binarized input, 64-wide binary FC layers, raw scores."""
    h, hidden = F.binary_tanh(x), []
    for i in range(2):
        h = fc_block(h, 64, f"fc{i}", opts)
        hidden.append((f"fc{i}", h))
    return fc_block(h, 10, "fc2", opts, tanh=False), hidden


def _cnv_like(x, opts):
    """CNV's shape in small: 8-bit input, unpadded 3x3 convolutions, pools after tanh."""
    c0 = conv_block(x, 16, "conv0", opts)
    c1 = conv_block(c0, 16, "conv1", opts)
    c2 = conv_block(max_pool(c1), 32, "conv2", opts)
    f0 = fc_block(c2, 32, "fc0", opts)
    hidden = [("conv0", c0), ("conv1", c1), ("conv2", c2), ("fc0", f0)]
    return fc_block(f0, 10, "fc1", opts, tanh=False), hidden


def _uint8(rng, shape):
    return rng.randint(0, 256, shape).astype(np.float32)


def _signed(rng, shape):
    return rng.normal(size=shape).astype(np.float32)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    make_random_bnn(_lfc_like, "lfc_small", root / "lfc_small.nnp", (1, 8, 8), _signed, seed=5)
    make_random_bnn(_cnv_like, "cnv_small", root / "cnv_small.nnp", (3, 12, 12), _uint8, seed=6)
    return {"digits_mlp": MODELS / "digits_mlp.nnp", "digits_cnn": MODELS / "digits_cnn.nnp",
            "lfc_small": root / "lfc_small.nnp", "cnv_small": root / "cnv_small.nnp"}


CASES = {
    # name: (fps at 100 MHz, images)
    "digits_mlp": ("20000", "digits"),
    "digits_cnn": ("20000", "digits"),
    "lfc_small": ("200000", "signed"),
    "cnv_small": ("5000", "uint8"),
}


def _images(kind, count=6):
    if kind == "digits":
        return load_split()[2][:count]
    rng = np.random.RandomState(3)
    shape = (count,) + ((1, 8, 8) if kind == "signed" else (3, 12, 12))
    return _signed(rng, shape) if kind == "signed" else _uint8(rng, shape)


@pytest.mark.rtl
@pytest.mark.parametrize("name", sorted(CASES))
def test_build_runs_bit_exact_at_predicted_speed(models, tmp_path, capsys, name):
    fps, kind = CASES[name]
    out = tmp_path / name
    assert cli.main(["build", str(models[name]), "--fps", fps, "--board", "pynq-z1", "--out", str(out)]) == 0
    built = BuildDir.open(out)
    report = built.read_report()
    predicted = report["predicted"]["cycles_per_frame"]
    assert predicted <= 100e6 / float(fps), "the folding meets the target"
    verification = report["verification"]
    assert verification["bit_exact"] and verification["frames"] == 2
    assert abs(verification["sim_cycles_per_frame"] - predicted) <= 0.01 * predicted

    # the user's images through the RTL, with seeded random stalls on both streams
    images = _images(kind)
    rtl = BuildSim(out)
    stream = rtl.encode(images)
    result = rtl.run(stream, Traffic(seed=7, valid_prob=0.7, ready_prob=0.6), name="images")
    expected = forward_saved(models[name], built.meta.network, images)
    assert np.array_equal(host.decode_output(rtl.network, result.stream).view(np.uint32), expected.view(np.uint32))
    if name == "cnv_small":
        # reset in the middle of a frame, then long random stalls on both streams: the next
        # whole frames come out right
        beats = codec.pack_frames(rtl.interface, stream).shape[1]
        result = rtl.run(stream, Traffic(seed=11, valid_prob=0.5, ready_prob=0.5, burst=200),
                         name="reset", reset_after=beats // 2)
        assert np.array_equal(host.decode_output(rtl.network, result.stream).view(np.uint32),
                              expected.view(np.uint32))
    for key in ("model", "board", "clock_mhz", "target_fps", "layers", "resources", "verification"):
        assert key in report
    assert {"name", "kind", "pe", "simd", "cycles", "lut", "bram36"} <= set(report["layers"][0])
    assert "<svg" in (out / "report.html").read_text()
