"""Stream traffic for testbenches, the same in Amaranth's simulator and in cocotb.

LiteX style: a seeded :class:`random.Random` decides each cycle whether the source offers its
next beat (``valid_prob``) and whether the sink accepts (``ready_prob``). A source keeps its beat
until it is taken, as the stream rules require.
"""
import random
from dataclasses import dataclass, field

from amaranth.hdl import ClockDomain, Module, Value
from amaranth.sim import Simulator


@dataclass
class Traffic:
    """Seeds and probabilities of one run; ``1.0`` and ``1.0`` is the no-back-pressure case."""
    seed: int = 0
    valid_prob: float = 1.0
    ready_prob: float = 1.0

    def source_rng(self):
        return random.Random(self.seed * 2 + 1)

    def sink_rng(self):
        return random.Random(self.seed * 2 + 2)


@dataclass
class Result:
    """What a sink saw: the beats, and the cycle on which each input and output beat moved."""
    beats: list = field(default_factory=list)
    out_cycles: list = field(default_factory=list)
    in_cycles: list = field(default_factory=list)


class Mismatch(AssertionError):
    pass


def check_beats(got, expected, decode=None):
    """Raise :class:`Mismatch` at the first beat that differs, decoded when ``decode`` is given."""
    if len(got) != len(expected):
        raise Mismatch(f"{len(got)} output beats, expected {len(expected)}")
    for n, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            detail = f": {decode(g)} != {decode(e)}" if decode else ""
            raise Mismatch(f"beat {n} of {len(expected)}: {g:#x} != {e:#x}{detail}")


def simulate(component, in_beats, n_out, traffic=Traffic(), max_cycles=None, vcd=None):
    """Run ``component`` (input ``i``, output ``o``) in Amaranth's simulator: send ``in_beats``,
    collect ``n_out`` beats; returns a :class:`Result`."""
    in_beats = list(in_beats)
    if max_cycles is None:
        max_cycles = 100 + 20 * (len(in_beats) + n_out)
        max_cycles = int(max_cycles / min(traffic.valid_prob, traffic.ready_prob))
    result = Result()
    i, o = component.i, component.o
    i_payload, o_payload = Value.cast(i.payload), Value.cast(o.payload)
    source, sink = traffic.source_rng(), traffic.sink_rng()

    async def testbench(ctx):
        sent, offering = 0, False
        for cycle in range(max_cycles):
            if not offering and sent < len(in_beats) and source.random() < traffic.valid_prob:
                offering = True
                ctx.set(i_payload, in_beats[sent])
            ctx.set(i.valid, offering)
            ready = sink.random() < traffic.ready_prob
            ctx.set(o.ready, ready)
            if offering and ctx.get(i.ready):
                result.in_cycles.append(cycle)
                sent += 1
                offering = False
            if ready and ctx.get(o.valid):
                result.beats.append(ctx.get(o_payload))
                result.out_cycles.append(cycle)
                if len(result.beats) == n_out:
                    break
            await ctx.tick()

    # Define the clock domain here: a component that is pure wiring (an equal-width converter)
    # has none of its own.
    top = Module()
    top.domains.sync = ClockDomain()
    top.submodules.dut = component
    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return result
