"""Synthesis of Amaranth components for the tests, through :mod:`finngen.board.yosys`."""
from finngen.board.yosys import LATCHES, synthesize as synthesize_verilog

from .runner import BUILD, to_verilog

__all__ = ["LATCHES", "synthesize"]


def synthesize(components, workdir=BUILD / "synth"):
    """Synthesize each of ``components`` ({name: component}); return {name: cell counts}."""
    return synthesize_verilog({name: to_verilog(c, name) for name, c in components.items()}, workdir)
