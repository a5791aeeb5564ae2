"""The cocotb testbench of a built accelerator (``rtl/finngen_accelerator.v``).

``finngen build`` copies this file into ``DIR/sim/``; ``finngen verify``, ``finngen run
--backend rtl``, ``build --verify`` and the pytest tests in ``DIR/sim/`` all run that copy
through :mod:`finngen.sim.buildsim`, which writes what to do into a JSON spec (named by
``$FINNGEN_TB_SPEC``) and reads the results back:

* ``input``: the frames as AXI4-Stream words, an .npy of shape (frames, beats, bytes);
* ``expected``: the golden model's output words, the same way (or null: just record);
* ``output_words``: (beats, bytes) of one frame's output;
* ``traffic``: the back-pressure (:class:`finngen.sim.streams.Traffic`): seeded random or fixed
  stall patterns on ``s_axis`` (TVALID) and ``m_axis`` (TREADY);
* ``reset_after``: first send that many beats of frame 0 and reset in the middle of it;
* ``max_cycles``: give up after that many cycles (derived from the predicted cycles per frame),
  so a design that stops producing output ends the run instead of hanging it;
* ``probes``: stage outputs to record, each ``{"name": ..., "path": [instance, ...]}`` (the
  ``o__valid``/``o__ready``/``o__payload`` ports of a stage inside the accelerator).

It writes ``output.npy`` (the words received) and ``result.json`` (the cycle at which each
frame's last word left, whether it timed out, and the recorded probe beats).
"""
import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from finngen.sim.streams import Traffic


class Probe:
    """One stage output inside the design: records every beat that moves through it."""

    def __init__(self, dut, name, path):
        handle = dut
        for part in path:
            handle = getattr(handle, part)
        self.name = name
        self.valid, self.ready, self.payload = handle.o__valid, handle.o__ready, handle.o__payload
        self.beats = []

    def sample(self):
        if self.valid.value == 1 and self.ready.value == 1:
            self.beats.append(str(self.payload.value))     # a bit string: wide and X-safe


@cocotb.test()
async def run_frames(dut):
    spec_path = Path(os.environ["FINNGEN_TB_SPEC"])
    spec = json.loads(spec_path.read_text())
    work = spec_path.parent
    frames = np.load(spec["input"])                      # (frames, beats, bytes)
    expected = np.load(spec["expected"]) if spec["expected"] else None
    traffic = Traffic(**spec["traffic"])

    Clock(dut.clk, 10, unit="ns").start()
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    # cocotbext-axi asks its pause generator once per cycle: True holds TVALID (TREADY) low
    source.set_pause_generator(not active for active in traffic.source_pattern())
    sink.set_pause_generator(not active for active in traffic.sink_pattern())

    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    if spec["reset_after"]:
        # Abandon a frame part-way: what the accelerator holds of it must not leak into the next.
        await source.send(AxiStreamFrame(frames[0][:spec["reset_after"]].tobytes()))
        await source.wait()
        await ClockCycles(dut.clk, 13)
        dut.rst.value = 1
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0

    # One monitor samples every cycle after the clock edge has settled: the cycle of each
    # frame's last output word, and the beats through each probed stage output.
    probes = [Probe(dut, p["name"], p["path"]) for p in spec["probes"]]
    cycle, last_beat_cycles = 0, []

    async def monitor():
        nonlocal cycle
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            cycle += 1
            if dut.m_axis_tvalid.value == 1 and dut.m_axis_tready.value == 1 and dut.m_axis_tlast.value == 1:
                last_beat_cycles.append(cycle)
            for probe in probes:
                probe.sample()

    async def receive():
        for _ in range(len(frames)):
            received = await sink.recv()
            outputs.append(np.frombuffer(bytes(received.tdata), np.uint8))

    cocotb.start_soon(monitor())
    for frame in frames:
        await source.send(AxiStreamFrame(frame.tobytes()))
    outputs = []
    await First(cocotb.start_soon(receive()), ClockCycles(dut.clk, spec["max_cycles"]))

    # one packet per input packet: a frame each, or a whole batch sent with one TLAST
    word_bytes = spec["output_words"][1]
    # (no frame at all: a deadlocked pipeline, reported as the timeout below)
    np.save(work / "output.npy", np.array(outputs, np.uint8).reshape(len(outputs), -1, word_bytes) if outputs
            else np.zeros((0, *spec["output_words"]), np.uint8))
    timed_out = len(outputs) < len(frames)
    (work / "result.json").write_text(json.dumps({
        "last_beat_cycles": last_beat_cycles, "cycles": cycle, "frames_received": len(outputs),
        "timed_out": timed_out, "probes": {p.name: p.beats for p in probes}}))
    assert not timed_out, (f"timeout: {len(outputs)} of {len(frames)} frames after {cycle} cycles "
                           f"(limit {spec['max_cycles']})")
    if expected is not None:
        for n, (got, want) in enumerate(zip(outputs, expected)):
            got = got.reshape(want.shape)
            wrong = np.flatnonzero((got != want).any(axis=-1))
            assert not len(wrong), (f"frame {n}, output word {wrong[0]}: got 0x{got[wrong[0]][::-1].tobytes().hex()}, "
                                    f"expected 0x{want[wrong[0]][::-1].tobytes().hex()}")
