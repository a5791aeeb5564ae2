"""Amaranth platforms of the shipped boards, for designs that own the whole FPGA (the self-test,
the ECP5 bitstreams).

The ECP5 boards are amaranth-boards' own; on the ECPIX-5, whose LEDs are RGB, ``led`` 0-2 name
the blue of LD5, the green of LD6 and the red of LD7 so that a design asks every board for ``led``.

amaranth-boards has none of finngen's boards; the Zynq-7020 boards share chip, oscillator pin
and user I/O pins with its Arty Z7-20 (``amaranth_boards/arty_z7.py``). Each class names its
part with ``device``/``package``/``speed``, which must spell the board file's ``part``.
"""
from amaranth.build import Attrs, Clock, DiffPairs, Pins, Resource
from amaranth.vendor import XilinxPlatform
from amaranth_boards.ecpix5 import ECPIX585Platform
from amaranth_boards.resources import ButtonResources, LEDResources, SwitchResources
from amaranth_boards.ulx3s import ULX3S_25F_Platform, ULX3S_45F_Platform, ULX3S_85F_Platform

from ..errors import UsageError

__all__ = ["PynqZ1Platform", "PynqZ2Platform", "Ultra96V2Platform", "ZCU104Platform", "KV260Platform",
           "ECPIX5Platform", "platform_for"]


class _PynqPlatform(XilinxPlatform):
    """PYNQ-Z1 (Digilent reference manual, PYNQ-Z1 master XDC) and PYNQ-Z2 (TUL PYNQ-Z2 master
    XDC) place their PL oscillator, LEDs LD0-3, buttons BTN0-3 and switches SW0-1 on the same pins."""
    device, package, speed = "xc7z020", "clg400", "1"
    default_clk = "clk125"
    # BTN0 resets the PL domain, so pressing it reruns the self-test
    default_rst = "button"
    resources = [
        Resource("clk125", 0, Pins("H16", dir="i"), Clock(125e6), Attrs(IOSTANDARD="LVCMOS33")),
        *LEDResources(pins="R14 P14 N16 M14", attrs=Attrs(IOSTANDARD="LVCMOS33")),
        *ButtonResources(pins="D19 D20 L20 L19", attrs=Attrs(IOSTANDARD="LVCMOS33")),
        *SwitchResources(pins="M20 M19", attrs=Attrs(IOSTANDARD="LVCMOS33")),
    ]
    connectors = []


class PynqZ1Platform(_PynqPlatform):
    pass


class PynqZ2Platform(_PynqPlatform):
    pass


class ZCU104Platform(XilinxPlatform):
    """Pins from AMD UG1267 (ZCU104 user guide): the 125 MHz CLK_125 LVDS pair on F23/E23 and
    the user LEDs GPIO_LED_0-3 on D5, D6, A5, B5 (3.3 V bank)."""
    device, package, speed = "xczu7ev", "ffvc1156", "2-e"
    default_clk = "clk125"
    resources = [
        Resource("clk125", 0, DiffPairs("F23", "E23", dir="i"), Clock(125e6), Attrs(IOSTANDARD="LVDS")),
        *LEDResources(pins="D5 D6 A5 B5", attrs=Attrs(IOSTANDARD="LVCMOS33")),
    ]
    connectors = []


class Ultra96V2Platform(XilinxPlatform):
    """The Ultra96-V2 has no PL oscillator and its user LEDs hang off PS MIO (Avnet hardware user
    guide): a PL-only design has no clock here, so the part alone is described."""
    device, package, speed = "xczu3eg", "sbva484", "1-i"
    resources = []
    connectors = []


class KV260Platform(XilinxPlatform):
    """The KV260 carrier clocks the PL only from the PS and drives its user LEDs from PS MIO
    (AMD UG1089): as for the Ultra96-V2, only the part is described."""
    device, package, speed = "xck26", "sfvc784", "2LV-c"
    resources = []
    connectors = []


class ECPIX5Platform(ECPIX585Platform):
    """amaranth-boards' ECPIX-5 85F with ``led`` 0-2 on one colour of three RGB LEDs (active low)."""
    resources = [*ECPIX585Platform.resources,
                 *LEDResources(pins="T22 W21 K21", invert=True, attrs=Attrs(IO_TYPE="LVCMOS33"))]


PLATFORMS = {"pynq-z1": PynqZ1Platform, "pynq-z2": PynqZ2Platform, "ultra96-v2": Ultra96V2Platform,
             "zcu104": ZCU104Platform, "kv260": KV260Platform, "ulx3s-85f": ULX3S_85F_Platform,
             "ulx3s-45f": ULX3S_45F_Platform, "ulx3s-25f": ULX3S_25F_Platform, "ecpix5-85f": ECPIX5Platform}


def platform_for(board) -> XilinxPlatform:
    """An instance of the platform of a finngen :class:`~finngen.board.boards.Board` (by its name)."""
    if board.name not in PLATFORMS:
        raise UsageError(f"finngen has no pin description for board {board.name!r}",
                         fix=f"use one of {', '.join(PLATFORMS)}")
    return PLATFORMS[board.name]()
