"""The cocotb test for any one-input, one-output stream component.

:func:`sim.runner.run_stream_test` writes the spec (input beats, expected output beats, traffic)
as JSON and names it in ``FINNGEN_TB_SPEC``; this test drives the DUT, compares every output
beat as it arrives, and writes the beats and their cycles next to the spec.
"""
import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from finngen.sim.cocotb_streams import StreamSink, StreamSource
from finngen.sim.streams import Traffic


@cocotb.test()
async def stream_test(dut):
    spec_path = os.environ["FINNGEN_TB_SPEC"]
    with open(spec_path) as f:
        spec = json.load(f)
    traffic = Traffic(**spec["traffic"])
    in_beats, expected, lane_bits = spec["in_beats"], spec["expected"], spec["lane_bits"]

    Clock(dut.clk, 10, unit="ns").start()
    source = StreamSource(dut, "i", dut.clk, traffic.source_pattern())
    sink = StreamSink(dut, "o", dut.clk, traffic.sink_pattern())
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0

    def check(n, beat):
        if beat != expected[n]:
            lanes = [] if not lane_bits else [
                (lane, (beat >> (lane * lane_bits)) & ((1 << lane_bits) - 1),
                 (expected[n] >> (lane * lane_bits)) & ((1 << lane_bits) - 1))
                for lane in range(spec["out_width"] // lane_bits)]
            wrong = [f"lane {lane}: {g} != {e}" for lane, g, e in lanes if g != e]
            raise AssertionError(f"output beat {n} of {len(expected)}: {beat:#x} != {expected[n]:#x} "
                                 + "; ".join(wrong))

    cocotb.start_soon(source.send(in_beats))
    await sink.receive(len(expected), check, spec["max_cycles"])
    with open(os.path.join(os.path.dirname(spec_path), "result.json"), "w") as f:
        json.dump({"beats": sink.beats, "out_cycles": sink.cycles, "in_cycles": source.cycles}, f)
