"""Synthesis of Amaranth components for the tests, through :mod:`finngen.board.yosys`."""
from finngen.board.yosys import LATCHES, synthesize as synthesize_verilog

from .runner import to_verilog, work_dir

__all__ = ["LATCHES", "synthesize"]


def synthesize(components, workdir=None):
    """Synthesize each of ``components`` ({name: component}) in ``workdir`` (default: ``synth``
    in :func:`finngen.sim.runner.work_dir`); return {name: cell counts}."""
    return synthesize_verilog({name: to_verilog(c, name) for name, c in components.items()},
                              workdir or work_dir() / "synth")
