"""A stand-alone self-test of an accelerator on its board: no PS, no driver, just LEDs.

The top level streams a few seeded test images from on-chip ROM into the accelerator and
compares every output word (and its ``last`` flag) with the golden model's, also in ROM. It
runs once after configuration; on the PYNQ boards BTN0 resets the logic and so runs it again.

LEDs: LD0 blinks (heartbeat: the design is clocked), LD1 lights when every word of every
frame matched, LD2 lights at the first mismatch. Neither LD1 nor LD2 lit means the
accelerator stalled. The design runs straight from the board oscillator.

:func:`write_selftest` writes ``DIR/selftest/``, a Vivado tree from Amaranth's platform
(``top.tcl``, ``top.xdc``, ``top.v``, ``build_top.sh``); running ``build_top.sh`` with Vivado
on PATH writes ``DIR/selftest/top.bit``, which ``finngen flash`` loads.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from amaranth.hdl import Cat, Elaboratable, Module, Signal, unsigned
from amaranth.lib import io
from amaranth.lib.memory import Memory

from .. import codec, golden
from ..builddir import BuildDir
from ..frames import random_frames
from . import platforms
from ..errors import UsageError
from ..hw.accelerator import Accelerator

NAME = "top"
LEDS = {"heartbeat": 0, "passed": 1, "failed": 2}


def bitstream(build: BuildDir) -> Path:
    """Where the self-test's bitstream is written."""
    return build.selftest / f"{NAME}.bit"


def build_command(directory) -> str:
    """The shell command that makes the self-test bitstream of build ``directory`` (needs Vivado)."""
    return f"cd {BuildDir(directory).selftest} && bash build_{NAME}.sh"


class SelfTest(Elaboratable):
    """Feeds ``inputs`` (one int per input beat) to ``accelerator`` and checks its output beats
    against ``expected`` (one int per output beat: ``data | last << out_width``).

    ``heartbeat`` toggles every ``2 ** (heartbeat_bits - 1)`` cycles; ``passed`` and ``failed``
    are the verdict. On a platform, the three drive the LEDs of :data:`LEDS`.
    """

    def __init__(self, accelerator: Accelerator, inputs, expected, heartbeat_bits: int):
        self.accelerator = accelerator
        self.inputs, self.expected = list(inputs), list(expected)
        self.heartbeat_bits = heartbeat_bits
        self.heartbeat, self.passed, self.failed = Signal(), Signal(), Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.accelerator = acc = self.accelerator
        # asynchronous read ports: the ROM word at the current count is the stream's payload,
        # so the handshakes need no look-ahead (the test vectors are small enough for LUT ROM)
        m.submodules.inputs = inputs = Memory(shape=unsigned(acc.in_width), depth=len(self.inputs),
                                              init=self.inputs)
        m.submodules.expected = expected = Memory(shape=unsigned(acc.out_width + 1),
                                                  depth=len(self.expected), init=self.expected)
        read_in, read_expected = inputs.read_port(domain="comb"), expected.read_port(domain="comb")

        sent = Signal(range(len(self.inputs) + 1))
        m.d.comb += [read_in.addr.eq(sent), acc.i.payload.eq(read_in.data),
                     acc.i.valid.eq(sent < len(self.inputs))]
        with m.If(acc.i.valid & acc.i.ready):
            m.d.sync += sent.eq(sent + 1)

        checked = Signal(range(len(self.expected) + 1))
        m.d.comb += [read_expected.addr.eq(checked), acc.o.ready.eq(checked < len(self.expected))]
        with m.If(acc.o.valid & acc.o.ready):
            m.d.sync += checked.eq(checked + 1)
            with m.If(Cat(acc.o.payload.data, acc.o.payload.last) != read_expected.data):
                m.d.sync += self.failed.eq(1)
        m.d.comb += self.passed.eq((checked == len(self.expected)) & ~self.failed)

        divider = Signal(self.heartbeat_bits)
        m.d.sync += divider.eq(divider + 1)
        m.d.comb += self.heartbeat.eq(divider[-1])

        if platform is not None:
            for name, number in LEDS.items():
                m.submodules[f"led_{name}"] = led = io.Buffer("o", platform.request("led", number, dir="-"))
                m.d.comb += led.o.eq(getattr(self, name))
        return m


def vectors(network, interface: dict, frames: int, seed: int = 0):
    """Input beats and expected output beats (see :class:`SelfTest`) of ``frames`` seeded
    random images, packed as the build's stream interface packs them."""
    stream = random_frames(network, frames, seed)
    words_in = codec.pack_frames(interface, stream)
    result = golden.forward(network, stream)
    words_out = codec.pack_words(result.reshape(frames, -1), interface["out_bits"], interface["out_lanes"],
                                 interface["out_width"])
    last = np.arange(interface["out_beats"]) == interface["out_beats"] - 1
    inputs = [_integer(word) for word in words_in.reshape(-1, words_in.shape[-1])]
    expected = [_integer(word) | int(is_last) << interface["out_width"]
                for frame in words_out for word, is_last in zip(frame, last)]
    return inputs, expected


def _integer(word) -> int:
    return int.from_bytes(bytes(word), "little")


def write_selftest(build: BuildDir, network, folds_or_accelerator, board, frames: int = 4) -> Path:
    """Write ``DIR/selftest/`` for ``build``; return that directory. ECP5 boards get the
    bitstream itself, clocked through the PLL at the build's clock."""
    if board.family == "ecp5":
        return _write_ecp5_selftest(build, network, folds_or_accelerator, board, frames)
    platform = platforms.platform_for(board)
    if platform.default_clk is None:
        raise UsageError(f"the self-test needs a PL clock and LEDs, which {board.name} does not wire to the PL",
                         fix="build the self-test for pynq-z1, pynq-z2 or zcu104")
    accelerator = (folds_or_accelerator if isinstance(folds_or_accelerator, Accelerator)
                   else Accelerator(network, folds_or_accelerator))
    inputs, expected = vectors(network, build.meta.interface, frames)
    # the heartbeat's period is about a second at the board clock
    top = SelfTest(accelerator, inputs, expected, heartbeat_bits=int(platform.default_clk_frequency).bit_length())
    out = build.selftest
    platform.build(top, name=NAME, build_dir=str(out), do_build=False).extract(str(out))
    (out / "README.md").write_text(f"""# Self-test of {build.meta.model} on {board.name}

Build the bitstream with Vivado on PATH: `{build_command('BUILD_DIR')}`, then load it over
JTAG with `finngen flash BUILD_DIR`. The design feeds {frames} seeded test images from on-chip
ROM through the accelerator and compares every output word with the golden model's, once
after configuration (on the PYNQ boards BTN0 runs it again).

LD0 blinks: clocked. LD1 lit: every output matched. LD2 lit: a mismatch. Neither: stalled.
""")
    return out


def _write_ecp5_selftest(build, network, folds, board, frames) -> Path:
    from .bitstream import write_bitstream
    inputs, expected = vectors(network, build.interface, frames)
    # the heartbeat's period is one to two seconds at the design clock
    write_bitstream(build.selftest, lambda mhz: SelfTest(Accelerator(network, folds), inputs, expected,
                                                         heartbeat_bits=int(mhz * 1e6).bit_length()),
                    board, build.meta.clock_mhz, progress=lambda text: None)
    out = build.selftest
    (out / "README.md").write_text(f"""# Self-test of {build.meta.model} on {board.name}

`finngen flash BUILD_DIR --selftest` loads `top.bit` into the FPGA. The design feeds {frames}
seeded test images from on-chip ROM through the accelerator at {build.meta.clock_mhz:g} MHz and
compares every output word with the golden model's, once after configuration.

LED 0 blinks: clocked. LED 1 lit: every output matched. LED 2 lit: a mismatch. Neither: stalled.
(ECPIX-5: LED 0 is LD5 blue, LED 1 LD6 green, LED 2 LD7 red.)
""")
    return out
