"""The top level of an ECP5 bitstream: the board oscillator through an EHXPLLL to the design's
clock, and a core (the serial-link accelerator, or the self-test) in that clock domain.

The PLL's dividers are chosen here rather than by ``ecppll`` so that ``--clock auto`` can list
every frequency the PLL makes. The constraints are Lattice's (ECP5 sysCLOCK PLL usage guide,
TN1263) as ``ecppll`` applies them: phase detector 3.125-400 MHz, VCO 400-800 MHz, output
3.125-400 MHz, feedback from CLKOP, so ``out = in / CLKI_DIV * CLKFB_DIV`` and
``VCO = out * CLKOP_DIV``.
"""
from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import ClockDomain, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from ..errors import UsageError

__all__ = ["Pll", "pll_for", "pll_frequencies", "Ecp5Top"]

PFD_MHZ, VCO_MHZ, OUT_MHZ = (3.125, 400), (400, 800), (3.125, 400)
CLKI_DIVS, CLKFB_DIVS, CLKOP_DIVS = range(1, 129), range(1, 81), range(1, 129)


@dataclass(frozen=True)
class Pll:
    """EHXPLLL dividers for an ``input_mhz`` oscillator."""
    input_mhz: float
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def mhz(self) -> float:
        """The output (design) clock."""
        return self.input_mhz / self.clki_div * self.clkfb_div

    @property
    def vco_mhz(self) -> float:
        return self.mhz * self.clkop_div


def _candidates(input_mhz):
    for clki in CLKI_DIVS:
        pfd = input_mhz / clki
        if not PFD_MHZ[0] <= pfd <= PFD_MHZ[1]:
            continue
        for clkfb in CLKFB_DIVS:
            out = pfd * clkfb
            if not OUT_MHZ[0] <= out <= OUT_MHZ[1]:
                continue
            # the VCO nearest the middle of its range: the usual choice for low jitter
            ops = [op for op in CLKOP_DIVS if VCO_MHZ[0] <= out * op <= VCO_MHZ[1]]
            if ops:
                yield Pll(input_mhz, clki, clkfb, min(ops, key=lambda op: abs(out * op - 600)))


def pll_for(input_mhz: float, mhz: float) -> Pll:
    """The PLL whose output is nearest ``mhz`` (on a tie, the smallest dividers)."""
    if not OUT_MHZ[0] <= mhz <= OUT_MHZ[1]:
        raise UsageError(f"--clock {mhz:g} MHz is outside the ECP5 PLL's output range "
                         f"({OUT_MHZ[0]:g} to {OUT_MHZ[1]:g} MHz)")
    return min(_candidates(input_mhz), key=lambda p: abs(p.mhz - mhz))


def pll_frequencies(input_mhz: float) -> list:
    """Every output frequency the PLL makes from ``input_mhz``, ascending (MHz)."""
    return sorted({round(p.mhz, 6) for p in _candidates(input_mhz)})


class Ecp5Top(Elaboratable):
    """``core`` clocked from the platform's default clock through ``pll``.

    The core's ``sync`` domain is held in reset until the PLL locks; the core requests its own
    pins (UART, LEDs) from the platform.
    """

    def __init__(self, core, pll: Pll):
        if not isinstance(pll, Pll):
            raise TypeError(f"pll must be a Pll, not {pll!r}")
        self.core, self.pll = core, pll

    def elaborate(self, platform):
        m = Module()
        m.submodules.oscillator = oscillator = io.Buffer("i", platform.request(platform.default_clk, dir="-"))
        # nextpnr-ecp5 derives the constraint of the PLL's output from the oscillator's (which
        # the platform declares) and the dividers: the design clock needs none of its own
        m.domains.sync = sync = ClockDomain("sync")
        clock, locked = sync.clk, Signal()
        p = self.pll
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{p.input_mhz:g}", a_FREQUENCY_PIN_CLKOP=f"{p.mhz:.6g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=p.clki_div, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p.clkop_div,
            p_CLKOP_CPHASE=p.clkop_div - 1, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=p.clkfb_div,
            i_RST=0, i_STDBY=0, i_CLKI=oscillator.i, i_CLKFB=clock, i_PHASESEL0=0, i_PHASESEL1=0,
            i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
            o_CLKOP=clock, o_LOCK=locked)
        m.submodules.reset = ResetSynchronizer(~locked, domain="sync")
        m.submodules.core = self.core
        return m
