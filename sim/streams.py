"""Stream traffic for testbenches, the same in Amaranth's simulator and in cocotb.

LiteX style: a seeded pattern (:class:`Traffic`) decides each cycle whether the source offers its
next beat and whether the sink accepts. A source keeps its beat until it is taken, as the stream
rules require.
"""
import random
from dataclasses import dataclass, field

from amaranth.hdl import ClockDomain, Module, Value
from amaranth.sim import Simulator


@dataclass
class Traffic:
    """Back-pressure of one run, the same in every testbench: the Amaranth simulator, the
    component testbenches in cocotb and the AXI4-Stream testbench of a whole build.

    Each cycle the source offers its next beat only when its pattern says so, and the sink
    accepts only when its pattern says so. The random pattern is decided afresh every 1 to
    ``burst`` cycles, active with probability ``valid_prob`` / ``ready_prob``, from ``seed``; a
    fixed pattern (``valid_pattern``/``ready_pattern``, a string of ``1`` = active and ``0`` =
    stalled, repeated) replaces it. ``Traffic()`` is the no-back-pressure case.
    """
    seed: int = 0
    valid_prob: float = 1.0
    ready_prob: float = 1.0
    burst: int = 1
    valid_pattern: str | None = None
    ready_pattern: str | None = None

    def __post_init__(self):
        for name in ("valid_prob", "ready_prob"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], not {getattr(self, name)!r}")
        if not isinstance(self.burst, int) or self.burst < 1:
            raise ValueError(f"burst must be a positive integer, not {self.burst!r}")
        for name in ("valid_pattern", "ready_pattern"):
            pattern = getattr(self, name)
            if pattern is not None and (not pattern or set(pattern) - {"0", "1"} or "1" not in pattern):
                raise ValueError(f"{name} must be a string of 0 and 1 with at least one 1, not {pattern!r}")

    def source_pattern(self):
        """One bool per cycle: may the source offer a beat."""
        return _pattern(self.valid_pattern, random.Random(self.seed * 2 + 1), self.valid_prob, self.burst)

    def sink_pattern(self):
        """One bool per cycle: does the sink accept a beat."""
        return _pattern(self.ready_pattern, random.Random(self.seed * 2 + 2), self.ready_prob, self.burst)

    @property
    def rate(self) -> float:
        """The fraction of cycles in which a beat can move, for timeouts."""
        def active(pattern, prob):
            return pattern.count("1") / len(pattern) if pattern else prob
        return active(self.valid_pattern, self.valid_prob) * active(self.ready_pattern, self.ready_prob)


def _pattern(fixed, rng, prob, burst):
    if fixed:
        while True:
            yield from (c == "1" for c in fixed)
    while True:
        active = prob >= 1 or rng.random() < prob
        for _ in range(rng.randint(1, burst) if burst > 1 else 1):
            yield active


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
        max_cycles = int((100 + 20 * (len(in_beats) + n_out)) / traffic.rate)
    result = Result()
    i, o = component.i, component.o
    i_payload, o_payload = Value.cast(i.payload), Value.cast(o.payload)
    source, sink = traffic.source_pattern(), traffic.sink_pattern()

    async def testbench(ctx):
        sent, offering = 0, False
        for cycle in range(max_cycles):
            offer = next(source)
            if not offering and sent < len(in_beats) and offer:
                offering = True
                ctx.set(i_payload, in_beats[sent])
            ctx.set(i.valid, offering)
            ready = next(sink)
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
