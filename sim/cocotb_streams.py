"""cocotb stream source and sink for Amaranth stream ports (``<name>__payload/valid/ready``).

Both run one loop iteration per clock cycle: set this cycle's outputs after the rising edge,
sample the handshake in the read-only phase, so a beat moves at the next edge exactly when
valid and ready are both seen high. The patterns come from :class:`finngen.sim.streams.Traffic`,
which the Amaranth-simulator runs and the AXI4-Stream testbench use too.
"""
from cocotb.triggers import ReadOnly, RisingEdge


class _Port:
    def __init__(self, dut, name):
        self.payload = getattr(dut, f"{name}__payload")
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")


class StreamSource(_Port):
    """Offers ``beats`` when ``pattern`` (one bool per cycle) allows; records the cycle each beat moved."""

    def __init__(self, dut, name, clock, pattern):
        super().__init__(dut, name)
        self.clock, self.pattern = clock, pattern
        self.valid.value = 0
        self.cycles = []

    async def send(self, beats):
        sent, offering, cycle = 0, False, 0
        while sent < len(beats):
            offer = next(self.pattern)
            if not offering and offer:
                offering = True
                self.payload.value = beats[sent]
            self.valid.value = int(offering)
            await ReadOnly()
            moved = offering and int(self.ready.value)
            await RisingEdge(self.clock)
            if moved:
                self.cycles.append(cycle)
                sent += 1
                offering = False
            cycle += 1
        self.valid.value = 0


class StreamSink(_Port):
    """Accepts beats when ``pattern`` (one bool per cycle) allows; calls ``check(n, beat)`` on each one."""

    def __init__(self, dut, name, clock, pattern):
        super().__init__(dut, name)
        self.clock, self.pattern = clock, pattern
        self.ready.value = 0
        self.beats, self.cycles = [], []

    async def receive(self, count, check=None, max_cycles=None):
        cycle = 0
        while len(self.beats) < count:
            if max_cycles is not None and cycle >= max_cycles:
                raise AssertionError(f"timeout: {len(self.beats)} of {count} beats after {cycle} cycles")
            ready = next(self.pattern)
            self.ready.value = int(ready)
            await ReadOnly()
            beat = int(self.payload.value) if ready and int(self.valid.value) else None
            await RisingEdge(self.clock)
            if beat is not None:
                if check is not None:
                    check(len(self.beats), beat)
                self.beats.append(beat)
                self.cycles.append(cycle)
            cycle += 1
        self.ready.value = 0
