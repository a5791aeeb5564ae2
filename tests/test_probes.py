"""The harness without a simulator: stage probes against the golden model, stall patterns, usage errors."""
import itertools

import numpy as np
import pytest

from finngen import cli, golden, ir
from finngen.compile import pipeline
from finngen.compile.folding import Fold
from finngen.errors import UsageError
from finngen.sim.layers import matrix_layer, pool_layer, random_stream
from finngen.sim.probes import boundaries, first_difference, layer_streams, output_beats
from finngen.sim.streams import Traffic


@pytest.fixture
def pipeline_and_streams():
    """conv 3x3 pad 1 (PE 2, SIMD 2) -> 2x2 max pool on 2 lanes -> width converter -> FC scores."""
    conv = matrix_layer(1, (6, 6, 2), 4, kernel=3, pad=1, name="conv")
    pool = pool_layer((6, 6, 4), 2, name="pool")
    fc = matrix_layer(2, (1, 1, 36), 3, last=True, name="fc")
    network = ir.Network("n", ir.InputSpec("x", (2, 6, 6), ir.BIPOLAR), [conv, pool, fc], ir.OutputSpec("y", (3,)))
    chain = pipeline.stages(network, {"conv": Fold(2, 2), "fc": Fold(1, 4)})
    stream = random_stream(3, conv.in_shape, ir.BIPOLAR, 2)
    return network, chain, stream, layer_streams(network, stream)


def _recorded(chain, streams):
    """What the probes would record from a correct design: every stage's golden beats as bit strings."""
    return {b.name: [format(v, "b") for v in output_beats(b.stage, streams)] for b in boundaries(chain)}


def test_stage_names_follow_the_pipeline(pipeline_and_streams):
    _, chain, _, _ = pipeline_and_streams
    assert [b.name for b in boundaries(chain)] == ["s0_window_conv", "s1_matrix_conv", "s2_pool_pool",
                                                   "s3_convert_fc", "s4_matrix_fc"]


def test_a_correct_design_has_no_difference(pipeline_and_streams):
    network, chain, stream, streams = pipeline_and_streams
    recorded = _recorded(chain, streams)
    assert first_difference(chain, recorded, streams) is None
    # the last stage's beats are the network's output
    last = np.asarray(output_beats(chain[-1], streams))
    assert len(last) == 2 * 3 and streams["fc"][1].shape == golden.forward(network, stream).shape


def test_the_first_differing_stage_is_named_with_pixel_and_channel(pipeline_and_streams):
    _, chain, _, streams = pipeline_and_streams
    recorded = _recorded(chain, streams)
    # frame 1, pool beat 5 of the frame, lane 1: element 11 of the 3x3x4 map = pixel (0, 2), channel 3
    beats_per_frame = chain[2].beats_out
    n = beats_per_frame + 5
    recorded["s2_pool_pool"][n] = format(int(recorded["s2_pool_pool"][n], 2) ^ 0b10, "b")
    recorded["s4_matrix_fc"][0] = "0"           # a later stage differs too: the earlier one is reported
    expected = "+1" if streams["pool"][1][1, 0, 2, 3] else "-1"
    got = "-1" if expected == "+1" else "+1"
    assert first_difference(chain, recorded, streams) == (
        f"stage s2_pool_pool (max pool of nnabla layer 'pool') differs first at frame 1, pixel (y=0, x=2), "
        f"channel 3: expected {expected}, got {got}")


def test_a_window_difference_names_the_tap(pipeline_and_streams):
    _, chain, _, streams = pipeline_and_streams
    recorded = _recorded(chain, streams)
    # fan-in 18 over SIMD 2: 9 beats per output pixel; beat 13 = pixel (0, 1), elements 8 and 9 of its window
    word = int(recorded["s0_window_conv"][13], 2)
    recorded["s0_window_conv"][13] = format(word ^ 0b01, "b")
    line = first_difference(chain, recorded, streams)
    assert line.startswith("stage s0_window_conv (sliding window of nnabla layer 'conv') differs first at frame 0, "
                           "output pixel (y=0, x=1), window tap (ky=1, kx=1, channel 0): expected "), line


def test_a_stage_that_stops_is_named(pipeline_and_streams):
    _, chain, _, streams = pipeline_and_streams
    recorded = _recorded(chain, streams)
    recorded["s3_convert_fc"] = recorded["s3_convert_fc"][:7]
    total = 2 * chain[3].beats_out
    assert first_difference(chain, recorded, streams) == (
        f"stage s3_convert_fc (width converter of nnabla layer 'fc') stopped after 7 of {total} beats (frame 0)")


def test_fixed_stall_patterns_repeat():
    traffic = Traffic(valid_pattern="110", ready_pattern="10")
    assert list(itertools.islice(traffic.source_pattern(), 7)) == [True, True, False] * 2 + [True]
    assert list(itertools.islice(traffic.sink_pattern(), 4)) == [True, False, True, False]
    assert traffic.rate == pytest.approx(2 / 3 * 1 / 2)


def test_random_stalls_come_in_bursts_and_are_seeded():
    traffic = Traffic(seed=4, valid_prob=0.5, burst=50)
    cycles = list(itertools.islice(traffic.source_pattern(), 2000))
    runs = [len(list(g)) for _, g in itertools.groupby(cycles)]
    assert 0.3 < np.mean(cycles) < 0.7 and np.mean(runs) > 10
    assert cycles == list(itertools.islice(Traffic(seed=4, valid_prob=0.5, burst=50).source_pattern(), 2000))


@pytest.mark.parametrize("kwargs", [{"valid_prob": 0}, {"ready_prob": 1.5}, {"burst": 0},
                                    {"valid_pattern": "000"}, {"ready_pattern": "1x"}])
def test_traffic_rejects(kwargs):
    with pytest.raises(ValueError):
        Traffic(**kwargs)


def test_testbench_needs_a_build_directory(tmp_path, capsys):
    assert cli.main(["testbench", str(tmp_path)]) == UsageError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a finngen build directory" in err
