"""The cocotb test that runs a built accelerator on packed frames (used by :mod:`finngen.rtlsim`).

cocotbext-axi drives ``s_axis`` and drains ``m_axis``, each with a seeded random pause pattern
when back-pressure is asked for. The output words and the cycle at which each frame's last beat
left are written next to the input.
"""
import json
import os
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource


def _pauses(seed, busy, burst):
    """Seeded pause pattern: runs of 1 to ``burst`` cycles, each paused with probability ``busy``."""
    rng = random.Random(seed)
    while True:
        paused = rng.random() < busy
        for _ in range(rng.randint(1, burst)):
            yield paused


@cocotb.test()
async def run_frames(dut):
    work = Path(os.environ["FINNGEN_RTL_WORK"])
    spec = json.loads((work / "spec.json").read_text())
    frames = np.load(work / "input.npy")           # (frames, beats, bytes)
    Clock(dut.clk, 10, unit="ns").start()
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    if spec["stall_in"]:
        source.set_pause_generator(_pauses(spec["seed"], spec["stall_in"], spec["burst"]))
    if spec["stall_out"]:
        sink.set_pause_generator(_pauses(spec["seed"] + 1, spec["stall_out"], spec["burst"]))

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
    cycle = 0
    done = []

    async def count_cycles():
        nonlocal cycle
        while True:
            await RisingEdge(dut.clk)
            cycle += 1
            if dut.m_axis_tvalid.value and dut.m_axis_tready.value and dut.m_axis_tlast.value:
                done.append(cycle)

    cocotb.start_soon(count_cycles())
    for frame in frames:
        await source.send(AxiStreamFrame(frame.tobytes()))
    outputs = []
    for _ in range(len(frames)):
        received = await sink.recv()
        outputs.append(np.frombuffer(bytes(received.tdata), np.uint8))
    np.save(work / "output.npy", np.stack(outputs))
    (work / "result.json").write_text(json.dumps({"last_beat_cycles": done}))
