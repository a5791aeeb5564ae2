"""A residual unit in RTL (issue 14): fork, skip FIFO and join built by ``finngen build``,
bit exact against nnabla under random stalls at the predicted speed, and a skip FIFO clearly
smaller than the compiler's deadlocks, which is why its depth is derived.

Each build compiles a Verilator model (about a minute).
"""
import dataclasses

import numpy as np
import pytest

from examples.make_cnv import random_pixels
from examples.nnp_files import forward_saved
from examples.random_bnn import make_random_bnn
from examples.resnets import SMALL_SHAPE, small_resnet
from finngen import cli, host
from finngen.builddir import BuildDir
from finngen.compile.kinds import residual
from finngen.sim.buildsim import BuildSim
from finngen.sim.streams import Traffic

pytestmark = pytest.mark.rtl


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("resnet") / "small_resnet.nnp"
    make_random_bnn(small_resnet, "small_resnet", path, SMALL_SHAPE, random_pixels, seed=3)
    return path


def _build(model, out, fps="max"):
    return cli.main(["build", str(model), "--fps", fps, "--board", "pynq-z1", "--verify", "2", "--out", str(out)])


@pytest.mark.parametrize("fps", ["max", "60000"])
def test_residual_unit_runs_bit_exact_at_predicted_speed(model, tmp_path, capsys, fps):
    out = tmp_path / "build"
    assert _build(model, out, fps) == 0
    report = BuildDir.open(out).read_report()
    predicted = report["predicted"]["cycles_per_frame"]
    verification = report["verification"]
    assert verification["bit_exact"] and verification["frames"] == 2
    assert abs(verification["sim_cycles_per_frame"] - predicted) <= 0.01 * predicted
    kinds = [stage["kind"] for stage in report["layers"]]
    assert kinds.count("fork") == kinds.count("join") == 1
    join = report["layers"][kinds.index("join")]
    assert join["skip_fifo_depth"] > 0 and join["skip_fifo_bits"] >= join["skip_fifo_depth"]

    images = random_pixels(np.random.RandomState(4), (6,) + SMALL_SHAPE)
    rtl = BuildSim(out)
    stream = rtl.encode(images)
    result = rtl.run(stream, Traffic(seed=7, valid_prob=0.7, ready_prob=0.6), name="stalls")
    expected = forward_saved(model, "small_resnet", images)
    assert np.array_equal(host.decode_output(rtl.network, result.stream).view(np.uint32), expected.view(np.uint32))

    # every stage's output, the branch's, the fork's and the join's, equals the golden model's
    capsys.readouterr()
    assert cli.main(["verify", str(out), "--layers", "--frames", "2"]) == 0
    assert f"stages: all {len(kinds)} stage outputs equal the golden model's" in capsys.readouterr().out


def test_a_much_smaller_skip_fifo_deadlocks(model, tmp_path, capsys, monkeypatch):
    """Half a row of skip beats: the branch's 3x3 window needs the next row before its first
    output, so the fork stops with the skip FIFO full, the window starves, and output stops."""
    behind = residual.Join.behind.__func__

    def smaller(cls, layer, lanes, before):
        join = behind(cls, layer, lanes, before)
        half_row = layer.shape.width // 2 * (layer.shape.channels // join.skip.width)
        if join.skip.depth < 4 * half_row:     # the planner judging the join alone: no branch
            return join
        return dataclasses.replace(join, skip=dataclasses.replace(join.skip, depth=half_row))
    monkeypatch.setattr(residual.Join, "behind", classmethod(smaller))
    assert _build(model, tmp_path / "small", "max") == 7
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "stopped producing output: 0 of 2 frames" in errors[0], errors
