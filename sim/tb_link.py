"""cocotb testbench of :class:`~finngen.board.link.SerialAccelerator`: plays the host on its
UART lines at the real bit timing.

The spec (JSON, path in ``FINNGEN_TB_SPEC``) gives the clock period, the bit period and the
request frames (hex); like the host, the bench sends a request, then reads its reply of
``reply_size`` bytes, and so on. A request listed in ``lost`` is cut short (bytes lost on the
way): the bench expects no reply and waits ``silence_cycles`` for the board to give it up.
The replies go to ``replies.json`` beside the spec.
"""
import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, Timer, with_timeout


async def send(line, data: bytes, bit_ns: float):
    """Drive ``data`` on ``line`` as 8N1 at ``bit_ns`` per bit, independent of the DUT's clock."""
    for byte in data:
        for bit in [0] + [(byte >> k) & 1 for k in range(8)] + [1]:
            line.value = bit
            await Timer(bit_ns, unit="ns")


async def receive(line, count: int, bit_ns: float) -> bytes:
    """Sample ``count`` 8N1 bytes from ``line`` mid-bit."""
    data = bytearray()
    for _ in range(count):
        while line.value != 1:      # the previous stop bit, then the next start edge
            await Timer(bit_ns / 4, unit="ns")
        await FallingEdge(line)
        await Timer(1.5 * bit_ns, unit="ns")
        byte = 0
        for k in range(8):
            byte |= int(line.value) << k
            await Timer(bit_ns, unit="ns")
        assert line.value == 1, "a reply byte without its stop bit"
        data.append(byte)
    return bytes(data)


@cocotb.test()
async def host_exchange(dut):
    spec_path = Path(os.environ["FINNGEN_TB_SPEC"])
    spec = json.loads(spec_path.read_text())
    bit_ns = spec["bit_ns"]
    cocotb.start_soon(Clock(dut.clk, spec["clock_ns"], unit="ns").start())
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)
    replies = []
    for k, request in enumerate(spec["requests"]):
        if k in spec["lost"]:
            await send(dut.rx, bytes.fromhex(request), bit_ns)
            await ClockCycles(dut.clk, spec["silence_cycles"])
            continue
        listening = cocotb.start_soon(receive(dut.tx, spec["reply_size"], bit_ns))
        await send(dut.rx, bytes.fromhex(request), bit_ns)
        # the reply takes its own transfer time plus the accelerator's latency
        limit = bit_ns * 10 * spec["reply_size"] * 2 + spec["clock_ns"] * spec["latency_cycles"]
        replies.append((await with_timeout(listening, limit, "ns")).hex())
    (spec_path.parent / "replies.json").write_text(json.dumps(replies))
