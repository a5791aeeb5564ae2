# amaranth: UnusedElaboratable=no
"""Average pooling as window sums (finngen.hw.sumpool) against the golden model, beat by beat, and
its stage kind against the component (nnabla-examples' LeNet is built and run in RTL by
tests/test_examples.py)."""
import numpy as np
import pytest
from amaranth.hdl import Fragment, Shape

from finngen import golden, ir
from finngen.compile import kinds, pipeline, planner
from finngen.hw.sumpool import SumPool
from finngen.sim.beats import pack_beats
from finngen.sim.cases import Case, run_case
from finngen.sim.layers import matrix_layer, random_stream
from finngen.sim.streams import Traffic

U1 = ir.UNIPOLAR


def sum_pool_layer(in_shape, kernel, in_type=ir.BIPOLAR, thresholds=None, activation=ir.BIPOLAR, name="avg"):
    """A SumPoolLayer; ``thresholds`` a seed: random thresholds over the sums (and either end)."""
    h, w, c = in_shape
    layer = ir.SumPoolLayer(name, ir.Shape(h, w, c), ir.Shape(h // kernel, w // kernel, c), kernel, in_type,
                            activation=activation)
    if thresholds is not None:
        rng = np.random.default_rng(thresholds)
        lo, hi = layer.sum_type.min, layer.sum_type.max
        # mostly near the middle of the sums a random input reaches, some 'always' and 'never'
        t = rng.integers(lo // 4, hi // 4 + 2, c)
        ends = rng.random(c) < 0.2
        t[ends] = rng.choice([lo, hi + 1], ends.sum())
        layer.threshold, layer.invert = t.astype(np.int64), rng.random(c) < 0.5
    return layer


def sum_pool_case(layer, lanes, frames=3, seed=0):
    x = random_stream(seed, layer.in_shape, layer.in_type, frames)
    out = layer.out_type
    return Case(SumPool(layer, lanes), pack_beats(x, layer.in_type.bits, lanes),
                pack_beats(golden.forward_layer(layer, x), out.bits, lanes), out.bits, lanes, out)


# (in_shape, kernel, element type, thresholds seed or None, channels per beat)
CONFIGS = {
    "bin-k2-sums": ((4, 4, 4), 2, ir.BIPOLAR, None, 2),
    "bin-k2-drop-sums": ((5, 7, 8), 2, ir.BIPOLAR, None, 8),
    "uni-k3-sums": ((7, 6, 3), 3, U1, None, 1),
    "global-bin-sums": ((4, 4, 6), 4, ir.BIPOLAR, None, 3),
    "acc-k2-thresholds": ((4, 6, 4), 2, ir.DataType(7, signed=True), 1, 2),
    "acc-k2-drop-thresholds": ((5, 5, 6), 2, ir.DataType(5, signed=True), 2, 6),
    "acc-k3-thresholds-1lane": ((6, 6, 4), 3, ir.DataType(6, signed=True), 3, 1),
    "acc-k1-thresholds": ((3, 3, 4), 1, ir.DataType(4, signed=True), 4, 2),
    "global-acc-thresholds": ((3, 3, 8), 3, ir.DataType(6, signed=True), 5, 4),
}


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_sum_pool_matches_golden(key):
    shape, kernel, dtype, thresholds, lanes = CONFIGS[key]
    case = sum_pool_case(sum_pool_layer(shape, kernel, dtype, thresholds), lanes, seed=len(key))
    run_case(case, Traffic(seed=1, valid_prob=0.6, ready_prob=0.5))
    run_case(case, Traffic(seed=2, valid_prob=0.9, ready_prob=0.2))
    result = run_case(case, Traffic())
    # one input beat per cycle without back-pressure: the kind's cycles
    assert set(np.diff(result.in_cycles).tolist()) == {1}
    assert len(case.in_beats) == 3 * kinds.SumPool(case.component.layer, lanes).cycles


@pytest.mark.rtl
@pytest.mark.parametrize("key", ["bin-k2-drop-sums", "acc-k2-drop-thresholds"])
def test_sum_pool_rtl(key):
    shape, kernel, dtype, thresholds, lanes = CONFIGS[key]
    case = sum_pool_case(sum_pool_layer(shape, kernel, dtype, thresholds), lanes, seed=7)
    run_case(case, Traffic(seed=3, valid_prob=0.7, ready_prob=0.6), rtl_name="sumpool_" + key.replace("-", "_"))


@pytest.mark.parametrize("layer, lanes, error, match", [
    (sum_pool_layer((4, 4, 4), 2), 3, ValueError, "channels_per_beat"),
    (sum_pool_layer((1, 4, 4), 2), 2, ValueError, "does not fit"),
    (ir.PoolLayer("p", ir.Shape(4, 4, 4), ir.Shape(2, 2, 4), 2, ir.BIPOLAR), 2, TypeError, "SumPoolLayer"),
])
def test_sum_pool_rejects(layer, lanes, error, match):
    with pytest.raises(error, match=match):
        SumPool(layer, lanes)


@pytest.mark.synth
def test_sum_pool_synthesizes_as_estimated():
    """yosys (synth_xilinx): no latches, and the kind's estimate (the max pool's fitted terms at
    the sums' width, not calibrated on its own) within the model's documented error. Measured:
    LUTs -21% to +28%, FFs within 2 of yosys' on these four."""
    from bench import calibrate_resources as calib
    from finngen.board.yosys import summarize
    from finngen.sim.synth import synthesize
    stages = {"sums_bin_k2": kinds.SumPool(sum_pool_layer((16, 16, 32), 2), 8),
              "thr_acc_k2": kinds.SumPool(sum_pool_layer((24, 24, 16), 2, ir.DataType(9, signed=True), 1), 16),
              "thr_acc_k2_cf": kinds.SumPool(sum_pool_layer((8, 8, 32), 2, ir.DataType(9, signed=True), 2), 4),
              "global_bin_k4": kinds.SumPool(sum_pool_layer((4, 4, 64), 4), 16)}
    cells = synthesize({name: stage.component() for name, stage in stages.items()})
    for name, stage in stages.items():
        got, model = summarize(cells[name]), stage.resources()
        assert got["latches"] == 0, name
        assert abs(calib.rel(model.lut, got["lut"])) <= calib.MAX_LUT_ERROR, (name, model, got)
        assert abs(calib.rel(model.ff, got["ff"])) <= calib.MAX_FF_ERROR, (name, model, got)


def _width(port):
    return Shape.cast(port.payload.shape()).width


def _lenet_like():
    """conv -> sums -> average pool with thresholds (BN -> AveragePooling -> BinaryTanh), conv ->
    {0, 1} -> average pool of the bits -> an affine layer on the integer sums."""
    conv0 = matrix_layer(1, (8, 8, 2), 4, kernel=3, pad=1, last=True, name="conv0")
    avg0 = sum_pool_layer((8, 8, 4), 2, conv0.out_type, thresholds=6, name="avg0")
    conv1 = matrix_layer(2, (4, 4, 4), 6, kernel=3, pad=1, name="conv1")
    conv1.activation = U1
    avg1 = sum_pool_layer((4, 4, 6), 2, U1, name="avg1")
    fc = matrix_layer(3, (1, 1, 24), 10, in_type=avg1.out_type, last=True, name="fc")
    return ir.Network("n", ir.InputSpec("x", (2, 8, 8), ir.BIPOLAR, binarize=True),
                      [conv0, avg0, conv1, avg1, fc], ir.OutputSpec("y", (10,)))


def test_planner_and_kinds_agree_with_the_component():
    """The planner's plans chain the average pools at the lanes of the layer before them; every
    stage's beat widths are its component's ports, consecutive ports connect, each component
    elaborates, and the pool's cycles are those it spends (one per input beat, measured above)."""
    network = _lenet_like()
    seen = set()
    for budget, folds in planner.plans(network):
        chain = pipeline.stages(network, folds)
        assert pipeline.cycles_per_frame(chain) <= budget
        pools = [stage for stage in chain if isinstance(stage, kinds.SumPool)]
        assert len(pools) == 2
        for pool in pools:
            before = chain[chain.index(pool) - 1]
            assert pool.lanes == before.lanes_out and pool.elem_type == before.out_type
            assert pool.cycles == pool.layer.in_shape.size // pool.lanes
            seen.add((pool.layer.name, pool.lanes))
    assert len(seen) > 4    # the plans do vary the pools' lanes
    folds = next(f for _, f in planner.plans(network))
    chain = pipeline.stages(network, folds)
    components = [stage.component() for stage in chain]
    for stage, component in zip(chain, components):
        assert _width(component.o) == stage.payload_bits, stage
    for producer, consumer, fifo in zip(components, components[1:], pipeline.fifos(chain)):
        assert _width(producer.o) == _width(consumer.i) == fifo.width
    for component in components:
        Fragment.get(component, None)
    assert {"avg0", "avg1"} <= set(pipeline.labels(chain))


def test_average_pooling_of_the_input_is_refused_by_build(tmp_path, capsys):
    """No layer before it sets its lanes, so it has no stage: one line naming it, exit code 3,
    no build directory; `finngen run` still computes it."""
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF

    from examples.nnp_io import save_nnp
    from finngen import cli
    nn.clear_parameters()
    x = nn.Variable((1, 2, 6, 6))
    y = PF.binary_connect_affine(F.average_pooling(F.binary_tanh(x), (2, 2)), 4, name="fc")
    save_nnp(tmp_path / "m.nnp", "net", x, y)
    assert cli.main(["build", str(tmp_path / "m.nnp"), "--fps", "1000", "--board", "pynq-z1",
                     "--out", str(tmp_path / "b")]) == 3
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "average pooling of the input" in errors[0] and "finngen run" in errors[0]
    assert not (tmp_path / "b").exists()
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(4, 2, 6, 6)).astype(np.float32))
    assert cli.main(["run", str(tmp_path / "m.nnp"), "--input", str(tmp_path / "x.npy"),
                     "--output", str(tmp_path / "y.npy")]) == 0
